import { describe, expect, it } from 'vitest';
import { toFlow } from './convert';
import {
  addNode,
  below,
  copyNodes,
  firstNodes,
  followed,
  labelConnection,
  laidOut,
  nearest,
  newNode,
  pasteNodes,
  patchNode,
  renameNode,
  renameProblem,
  selectOnly,
  type Canvas
} from './edit';
import { TRIGGER_ID, withTrigger } from './trigger';
import type { Definition } from './types';

const def: Definition = {
  nodes: [
    { id: 'check', type: 'branch', config: { condition: 'trigger.body.ok' }, position: { x: 0, y: 0 } },
    { id: 'yes', type: 'transform', config: { expression: '`1`' }, position: { x: -100, y: 120 } },
    { id: 'no', type: 'terminate', config: { status: 'failed' }, position: { x: 100, y: 120 } }
  ],
  edges: [
    { from: 'check', to: 'yes', port: 'true' },
    { from: 'check', to: 'no', port: 'false' }
  ]
};
const canvas = (): Canvas => toFlow(def);
const node = (c: Canvas, id: string) => c.nodes.find((n) => n.id === id)!;

describe('adding a node', () => {
  it('selects only the new node and, dropped, connects it to nothing', () => {
    const c = canvas();
    c.nodes[0].selected = true;
    const out = addNode(c, newNode('t_1', 'transform', { expression: '' }, { x: 5, y: 6 }), null);
    expect(out.nodes.filter((n) => n.selected).map((n) => n.id)).toEqual(['t_1']);
    expect(node(out, 't_1')).toMatchObject({ type: 'mh', position: { x: 5, y: 6 }, data: { nodeType: 'transform', name: '', config: { expression: '' }, extra: {} } });
    expect(out.edges).toEqual(c.edges);
  });

  it("after a node, goes below it and is connected; a branch's first edge is true, then false", () => {
    const c = toFlow({ nodes: [{ id: 'b', type: 'branch', config: {}, position: { x: 10, y: 20 } }], edges: [] });
    const b = node(c, 'b');
    expect(below(b)).toEqual({ x: 10, y: 140 });
    const one = addNode(c, newNode('x', 'transform', {}, below(b)), b);
    expect(one.edges).toEqual([{ id: 'b->x:true', source: 'b', target: 'x', sourceHandle: 'true', label: 'true' }]);
    const two = addNode(one, newNode('y', 'transform', {}, below(b)), b);
    expect(two.edges[1]).toEqual({ id: 'b->y:false', source: 'b', target: 'y', sourceHandle: 'false', label: 'false' });
    const t = toFlow({ nodes: [{ id: 'a', type: 'transform', config: {} }], edges: [] });
    expect(addNode(t, newNode('z', 'delay', {}, { x: 0, y: 0 }), node(t, 'a')).edges).toEqual([
      { id: 'a->z', source: 'a', target: 'z', sourceHandle: null, label: undefined }
    ]);
  });

  it('follows the selected node unless it is a terminate', () => {
    const c = canvas();
    expect(followed(node(c, 'yes'))?.id).toBe('yes');
    expect(followed(node(c, 'no'))).toBeNull();
    expect(followed(null)).toBeNull();
  });
});

describe('changing and renaming a node', () => {
  it('patches only the members given', () => {
    const c = canvas();
    const out = patchNode(c.nodes, 'yes', { name: 'Yes', extra: { on_error: 'continue' } });
    expect(node({ nodes: out, edges: [] }, 'yes').data).toMatchObject({ name: 'Yes', config: { expression: '`1`' }, extra: { on_error: 'continue' } });
    expect(patchNode(out, 'yes', { name: '' }).find((n) => n.id === 'yes')!.data.name).toBe('');
    expect(out.find((n) => n.id === 'no')).toBe(c.nodes.find((n) => n.id === 'no'));
  });

  it('refuses an id that is malformed or taken', () => {
    expect(renameProblem('9lives', [])).toMatch(/starting with a letter/);
    expect(renameProblem('a'.repeat(65), [])).toMatch(/1–64/);
    expect(renameProblem('yes', ['check', 'yes'])).toBe('There is already a node yes');
    expect(renameProblem('_ok-2', ['yes'])).toBeNull();
  });

  it('carries the edges along, ports and ids included', () => {
    const out = renameNode(canvas(), 'check', 'gate');
    expect(out.nodes.map((n) => n.id)).toEqual(['gate', 'yes', 'no']);
    expect(out.edges.map((e) => [e.id, e.source, e.target])).toEqual([
      ['gate->yes:true', 'gate', 'yes'],
      ['gate->no:false', 'gate', 'no']
    ]);
  });
});

describe('connecting', () => {
  it("gives the canvas's new edge the definition's id and label, an error edge its class", () => {
    const edges = [
      { id: 'xy-edge__yes-no', source: 'yes', target: 'no', sourceHandle: 'error' },
      { id: 'xy-edge__check-yes', source: 'check', target: 'yes', sourceHandle: 'true' }
    ];
    const out = labelConnection(edges, { source: 'yes', target: 'no', sourceHandle: 'error' });
    expect(out[0]).toEqual({ id: 'yes->no:error', source: 'yes', target: 'no', sourceHandle: 'error', label: 'error', class: 'mh-error-edge' });
    expect(out[1]).toBe(edges[1]);
    const plain = labelConnection([{ id: 'e', source: 'a', target: 'b' }], { source: 'a', target: 'b', sourceHandle: null });
    expect(plain).toEqual([{ id: 'a->b', source: 'a', target: 'b', label: undefined }]);
  });
});

describe('copy and paste', () => {
  it('copies the selected nodes with the edges between them only', () => {
    const c = canvas();
    const clip = copyNodes(c, [node(c, 'check'), node(c, 'yes')]);
    expect(clip.nodes.map((n) => [n.id, n.selected])).toEqual([
      ['check', false],
      ['yes', false]
    ]);
    expect(clip.edges.map((e) => e.id)).toEqual(['check->yes:true']);
    clip.nodes[0].data.config.condition = 'changed';
    expect(node(c, 'check').data.config.condition).toBe('trigger.body.ok');
  });

  it('pastes under fresh ids, shifted, selected, with their edges renamed', () => {
    const c = canvas();
    const clip = copyNodes(c, [node(c, 'check'), node(c, 'yes')]);
    const out = pasteNodes(c, clip, ['check', 'yes', 'no', 'branch_1']);
    const pasted = out.nodes.slice(3);
    expect(pasted.map((n) => [n.id, n.position, n.selected])).toEqual([
      ['branch_2', { x: 40, y: 40 }, true],
      ['transform_1', { x: -60, y: 160 }, true]
    ]);
    expect(out.nodes.slice(0, 3).every((n) => !n.selected)).toBe(true);
    expect(out.edges.slice(2)).toEqual([
      { id: 'branch_2->transform_1:true', source: 'branch_2', target: 'transform_1', sourceHandle: 'true', label: 'true', selected: false }
    ]);
    const again = pasteNodes(out, clip, out.nodes.map((n) => n.id));
    expect(again.nodes.slice(5).map((n) => n.id)).toEqual(['branch_1', 'transform_2']);
  });
});

describe('layout and moving the selection', () => {
  it('lays out without the trigger', () => {
    const c = canvas();
    const t = withTrigger(c.nodes, c.edges, {});
    const out = laidOut(t);
    expect(out.nodes.map((n) => n.id).sort()).toEqual(['check', 'no', 'yes']);
    expect(out.edges).toHaveLength(2);
    expect(node(out, 'yes').position.y).toBeGreaterThan(node(out, 'check').position.y);
  });

  it('picks the nearest node in the direction, straight ahead first', () => {
    const c = canvas();
    expect(nearest(c.nodes, node(c, 'check'), 0, 1)?.id).toBe('yes');
    expect(nearest(c.nodes, node(c, 'yes'), 1, 0)?.id).toBe('no');
    expect(nearest(c.nodes, node(c, 'no'), -1, 0)?.id).toBe('yes');
    expect(nearest(c.nodes, node(c, 'yes'), 0, -1)?.id).toBe('check');
    expect(nearest(c.nodes, node(c, 'check'), 0, -1)).toBeNull();
    expect(nearest(c.nodes, null, 1, 0)?.id).toBe('check');
    expect(nearest([], null, 1, 0)).toBeNull();
    const t = withTrigger(c.nodes, c.edges, {});
    expect(nearest(t.nodes, node(t, 'check'), 0, -1)?.id).toBe(TRIGGER_ID);
  });

  it('selects one node', () => {
    expect(selectOnly(canvas().nodes, 'no').map((n) => n.selected)).toEqual([false, false, true]);
  });

  it('opens a large graph on its top nodes, left to right', () => {
    expect(firstNodes(canvas().nodes, 2)).toEqual([{ id: 'check' }, { id: 'yes' }]);
    expect(firstNodes(canvas().nodes)).toHaveLength(3);
  });
});
