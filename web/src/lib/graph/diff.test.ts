import { describe, expect, it } from 'vitest';
import { canonical, diffDefinitions } from './diff';
import type { Definition } from './types';

const v1: Definition = {
  nodes: [
    { id: 'a', type: 'transform', config: { expression: 'x' }, position: { x: 0, y: 0 } },
    { id: 'b', type: 'terminate', config: { output: 'y' }, position: { x: 0, y: 100 } },
    { id: 'c', type: 'terminate', config: {}, position: { x: 200, y: 100 } }
  ],
  edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }]
};

describe('version diff', () => {
  it('finds added, removed, changed and moved nodes and edge changes', () => {
    const draft: Definition = {
      nodes: [
        { id: 'a', type: 'transform', config: { expression: 'x' }, position: { x: 50, y: 0 } },
        { id: 'b', type: 'terminate', config: { output: 'z' }, position: { x: 0, y: 100 } },
        { id: 'd', type: 'delay', config: { duration: '1s' } }
      ],
      edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'd' }]
    };
    const d = diffDefinitions(v1, draft);
    expect(Object.fromEntries(d.nodes)).toEqual({ a: 'moved', b: 'changed', c: 'removed', d: 'added' });
    expect(d.edgesAdded).toEqual(['a->d']);
    expect(d.edgesRemoved).toEqual(['a->c']);
    expect(d.hasChanges).toBe(true);
  });
  it('does not count key order or moves as changes', () => {
    const same: Definition = JSON.parse(JSON.stringify(v1));
    same.nodes[0] = { config: { expression: 'x' }, type: 'transform', id: 'a', position: { x: 9, y: 9 } };
    expect(diffDefinitions(v1, same).hasChanges).toBe(false);
    expect(canonical({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
  });
});
