import { describe, expect, it } from 'vitest';
import { byteOffsetToIndex, formatPointer, mapErrors, parsePointer } from './errors';
import type { Definition } from './types';

const def: Definition = {
  nodes: [
    { id: 'a', type: 'transform', config: { expression: 'foo.[' } },
    { id: 'call', type: 'http_call', config: { url: 'x', headers: { 'X/Y': '{{ a' } } },
    { id: 'lost', type: 'transform', config: { expression: 'b' } }
  ],
  edges: [{ from: 'a', to: 'call' }, { from: 'a', to: 'ghost' }]
};

describe('JSON pointers', () => {
  it('parse and format with ~0 and ~1', () => {
    expect(parsePointer('/nodes/1/config/headers/X~1Y')).toEqual(['nodes', '1', 'config', 'headers', 'X/Y']);
    expect(parsePointer('/a~0b')).toEqual(['a~b']);
    expect(parsePointer('')).toEqual([]);
    expect(formatPointer(['headers', 'X/Y', 'a~b'])).toBe('/headers/X~1Y/a~0b');
  });
});

describe('validation errors on the canvas', () => {
  const m = mapErrors(
    [
      { path: '/nodes/0/config/expression', code: 'jmespath_syntax', message: 'bad', offset: 4, node: 'a' },
      { path: '/nodes/1/config/headers/X~1Y', code: 'template_syntax', message: 'unterminated', offset: 2, node: 'call' },
      { path: '/nodes/2', code: 'unreachable', message: 'never runs', node: 'lost' },
      { path: '/edges/1/to', code: 'dangling_edge', message: 'no node ghost' },
      { path: '/nodes', code: 'no_entry', message: 'no entry node' },
      { path: '', code: 'cycle', message: 'a loop', node: 'a' }
    ],
    def
  );
  it('attach node errors to the node and its config field', () => {
    expect(m.byNode.get('a')!.map((e) => e.field)).toEqual(['/expression', '']);
    expect(m.byNode.get('a')![0].offset).toBe(4);
    expect(m.byNode.get('call')![0].field).toBe('/headers/X~1Y');
    expect(m.byNode.get('lost')![0].field).toBe('');
  });
  it('attach edge errors to the edge, the rest to the workflow', () => {
    expect(m.byEdge.get(1)![0].code).toBe('dangling_edge');
    expect(m.general.map((e) => e.code)).toEqual(['no_entry']);
  });
  it('fall back to the node member when the index is out of range', () => {
    const r = mapErrors([{ path: '/nodes/9/config/x', code: 'invalid_config', message: 'm', node: 'lost' }], def);
    expect(r.byNode.get('lost')![0].field).toBe('/x');
  });
});

describe('byte offsets', () => {
  it('become string indexes past multi-byte characters', () => {
    expect(byteOffsetToIndex('abc', 2)).toBe(2);
    expect(byteOffsetToIndex("'é'.[x", 5)).toBe(4); // é is two bytes
    expect(byteOffsetToIndex("'😀'.[", 7)).toBe(5); // four bytes, two UTF-16 units
    expect(byteOffsetToIndex('ab', 99)).toBe(2);
  });
});
