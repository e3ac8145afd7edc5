import { describe, expect, it } from 'vitest';
import { allIds, bodyErrors, closeBody, openBody } from './body';
import { toDefinition, toFlow } from './convert';
import { mapErrors } from './errors';
import { TRIGGER_ID, withTrigger } from './trigger';
import type { Definition } from './types';
import { FOR_EACH_EXAMPLE } from './fixtures/foreach';

const def = FOR_EACH_EXAMPLE;

function roundTrip(d: Definition, edit?: (n: ReturnType<typeof toFlow>) => ReturnType<typeof toFlow>): Definition {
  const top = toFlow(d);
  const body = openBody(top.nodes, 'lines');
  const edited = edit ? edit(body) : body;
  const out = toDefinition(closeBody(top.nodes, 'lines', edited.nodes, edited.edges), top.edges);
  out.schedules = d.schedules;
  return out;
}

describe("a for_each's body on its own canvas", () => {
  it('opens and closes the body without changing the definition, member order included', () => {
    expect(JSON.stringify(roundTrip(def))).toBe(JSON.stringify(def));
  });

  it('draws the body nodes with their ports and settings', () => {
    const b = openBody(toFlow(def).nodes, 'lines');
    expect(b.nodes.map((n) => n.id)).toEqual(['reserve', 'fallback', 'ok']);
    expect(b.edges.find((e) => e.target === 'fallback')?.sourceHandle).toBe('error');
    expect(b.nodes[0].data.extra).toEqual({ retry: { max_attempts: 3 } });
  });

  it('puts an edit of the body back into the node, and only there', () => {
    const out = roundTrip(def, (b) => ({
      nodes: [...b.nodes, { id: 'log', type: 'mh', position: { x: 5, y: 300 }, data: { nodeType: 'transform', name: '', config: { expression: 'index' }, extra: {} } }],
      edges: [...b.edges, { id: 'ok->log', source: 'ok', target: 'log' }]
    }));
    const body = (out.nodes[1].config as { body: Definition }).body;
    expect(body.nodes.map((n) => n.id)).toEqual(['reserve', 'fallback', 'ok', 'log']);
    expect(body.edges).toContainEqual({ from: 'ok', to: 'log' });
    expect(Object.keys(out.nodes[1].config!)).toEqual(['items', 'concurrency', 'body', 'output']);
    expect(out.nodes[0]).toEqual(def.nodes[0]);
    expect(out.edges).toEqual(def.edges);
  });

  it('gives a for_each without a body an empty one to draw', () => {
    const d: Definition = { nodes: [{ id: 'l', type: 'for_each', config: { items: '@' }, position: { x: 0, y: 0 } }], edges: [] };
    const top = toFlow(d);
    expect(openBody(top.nodes, 'l')).toEqual({ nodes: [], edges: [] });
    const out = toDefinition(closeBody(top.nodes, 'l', [], []), []);
    expect(out.nodes[0].config).toEqual({ items: '@', body: { nodes: [], edges: [] } });
  });

  it('lists body ids with the workflow ids, so a new id is unique across both', () => {
    expect(allIds(def)).toEqual(['order', 'lines', 'reserve', 'fallback', 'ok', 'summary']);
  });

  it("lands the server's errors on the body node and field they name", () => {
    const errors = [
      { path: '/nodes/1/config/body/nodes/2/config/expression', code: 'jmespath', message: 'bad', offset: 3 },
      { path: '/nodes/1/config/body/edges/0', code: 'edge', message: 'dup' },
      { path: '/nodes/1/config/body', code: 'body', message: 'no entry node' },
      { path: '/nodes/2/config/expression', code: 'jmespath', message: 'top' }
    ];
    const inner = bodyErrors(errors, 1);
    expect(inner.map((e) => e.path)).toEqual(['/nodes/2/config/expression', '/edges/0', '']);
    const m = mapErrors(inner, openBodyDef());
    expect(m.byNode.get('ok')).toEqual([{ ...errors[0], path: '/nodes/2/config/expression', field: '/expression' }]);
    expect(m.byEdge.get(0)?.[0].message).toBe('dup');
    expect(m.general.map((e) => e.message)).toEqual(['no entry node']);
    expect(bodyErrors(errors, 2)).toEqual([]);
  });
});

function openBodyDef(): Definition {
  return (def.nodes[1].config as { body: Definition }).body;
}

describe('the trigger node', () => {
  it('is drawn before every entry node and never saved', () => {
    const f = toFlow({
      nodes: [
        { id: 'a', type: 'transform', config: { expression: '@' }, position: { x: 0, y: 100 } },
        { id: 'b', type: 'transform', config: { expression: '@' }, position: { x: 200, y: 100 } },
        { id: 'c', type: 'transform', config: { expression: '@' }, position: { x: 0, y: 300 } }
      ],
      edges: [{ from: 'a', to: 'c' }]
    });
    const t = withTrigger(f.nodes, f.edges, { schedules: [] });
    expect(t.nodes[0].id).toBe(TRIGGER_ID);
    expect(t.nodes[0].position).toEqual({ x: 100, y: -30 });
    expect(t.edges.filter((e) => e.source === TRIGGER_ID).map((e) => e.target)).toEqual(['a', 'b']);
    const again = withTrigger(t.nodes, [...t.edges, { id: 'b->c', source: 'b', target: 'c' }], {});
    expect(again.nodes.filter((n) => n.id === TRIGGER_ID)).toHaveLength(1);
    expect(again.edges.filter((e) => e.source === TRIGGER_ID).map((e) => e.target)).toEqual(['a', 'b']);
    expect(toDefinition(t.nodes, t.edges)).toEqual(toDefinition(f.nodes, f.edges));
  });
});
