import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { edgeProblem, needsLayout, newNodeId, toDefinition, toFlow } from './convert';
import { canonical } from './diff';
import type { Definition } from './types';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const templates: { id: string; definition: Definition }[] = readdirSync(repo + 'templates')
  .filter((f: string) => f.endsWith('.json'))
  .map((f: string) => JSON.parse(readFileSync(repo + 'templates/' + f, 'utf8')));

// docs/getting-started.md's workflow.
const gettingStarted: Definition = {
  nodes: [
    { id: 'total', type: 'transform', config: { expression: '{order: trigger.body.order_id, total: sum(trigger.body.items[].price)}' } },
    { id: 'done', type: 'terminate', config: { status: 'succeeded', output: 'steps.total.output' } }
  ],
  edges: [{ from: 'total', to: 'done' }]
};

describe('definition ⇄ canvas', () => {
  it('round-trips every shipped template unchanged', () => {
    expect(templates.length).toBeGreaterThanOrEqual(3);
    for (const t of templates) {
      const f = toFlow(t.definition);
      expect(canonical(toDefinition(f.nodes, f.edges))).toBe(canonical(t.definition));
    }
  });

  it('keeps an error edge, its port and the node settings on_error and retry', () => {
    const def: Definition = {
      nodes: [
        { id: 'call', type: 'http_call', config: { url: 'https://x.example.com/' }, retry: { max_attempts: 2 }, position: { x: 0, y: 0 } },
        { id: 'alert', type: 'transform', config: { expression: 'steps.call.error' }, on_error: 'continue', position: { x: 0, y: 100 } },
        { id: 'ok', type: 'transform', config: { expression: '@' }, position: { x: 200, y: 100 } }
      ],
      edges: [
        { from: 'call', to: 'ok' },
        { from: 'call', to: 'alert', port: 'error' }
      ]
    };
    const f = toFlow(def);
    const err = f.edges.find((e) => e.target === 'alert')!;
    expect(err.sourceHandle).toBe('error');
    expect(err.class).toBe('mh-error-edge');
    expect(f.edges.find((e) => e.target === 'ok')!.class).toBeUndefined();
    expect(canonical(toDefinition(f.nodes, f.edges))).toBe(canonical(def));
  });

  it('allows one error edge per node, from any node but a terminate or one that continues', () => {
    const f = toFlow({
      nodes: [
        { id: 'a', type: 'transform', config: {} },
        { id: 'b', type: 'transform', config: {} },
        { id: 'c', type: 'branch', config: {} },
        { id: 'd', type: 'terminate', config: {} },
        { id: 'e', type: 'transform', config: {}, on_error: 'continue' }
      ],
      edges: [{ from: 'a', to: 'b', port: 'error' }]
    });
    expect(edgeProblem(f.nodes, f.edges, 'a', 'c', 'error')).toMatch(/one error edge/);
    expect(edgeProblem(f.nodes, f.edges, 'c', 'd', 'error')).toBeNull();
    expect(edgeProblem(f.nodes, f.edges, 'b', 'c', 'error')).toBeNull();
    expect(edgeProblem(f.nodes, f.edges, 'd', 'a', 'error')).toMatch(/terminate/);
    expect(edgeProblem(f.nodes, f.edges, 'e', 'd', 'error')).toMatch(/continues on failure/);
  });

  it('gives a branch its true and false handles and takes them back as ports', () => {
    const gh = templates.find((t) => t.id === 'github-push-to-chat')!.definition;
    const f = toFlow(gh);
    const out = f.edges.filter((e) => e.source === 'has_commits');
    expect(out.map((e) => e.sourceHandle).sort()).toEqual(['false', 'true']);
    expect(new Set(f.edges.map((e) => e.id)).size).toBe(f.edges.length);
    const back = toDefinition(f.nodes, f.edges);
    expect(back.edges.find((e) => e.to === 'no_commits')?.port).toBe('false');
    expect(back.edges.find((e) => e.to === 'post')?.port).toBeUndefined();
  });

  it('keeps unknown node members and adds positions the definition lacked', () => {
    const def = { ...gettingStarted, nodes: gettingStarted.nodes.map((n) => ({ ...n, note: { by: 'api' } })) };
    const f = toFlow(def);
    expect(needsLayout(f.nodes)).toBe(true);
    const back = toDefinition(f.nodes, f.edges);
    expect(back.nodes[0].note).toEqual({ by: 'api' });
    expect(back.nodes[0].position).toEqual({ x: 0, y: 0 });
    expect(back.nodes[1].config).toEqual(gettingStarted.nodes[1].config);
  });

  it('keeps unknown top-level members through edits, but not the schedules the builder edits itself', () => {
    const def: Definition = {
      ...gettingStarted,
      x_future: { mode: 'strict', limits: [1, 2] },
      description: 'written through the API',
      schedules: [{ id: 'nightly', cron: '0 3 * * *' }]
    };
    const f = toFlow(def);
    const back = toDefinition(f.nodes, f.edges);
    expect(back.x_future).toEqual({ mode: 'strict', limits: [1, 2] });
    expect(back.description).toBe('written through the API');
    expect(back.schedules).toBeUndefined();
    // As the builder edits: a node's config replaced, the first node deleted, one added from
    // the palette (it carries nothing of the definition); the members stay.
    let nodes = f.nodes.map((n) => (n.id === 'done' ? { ...n, data: { ...n.data, config: { status: 'failed' } } } : n));
    nodes = nodes.filter((n) => n.id !== 'total');
    nodes = [{ id: 'transform_1', type: 'mh', position: { x: 5, y: 5 }, data: { nodeType: 'transform', name: '', config: {}, extra: {} } }, ...nodes];
    const edited = toDefinition(nodes, []);
    expect(edited.x_future).toEqual({ mode: 'strict', limits: [1, 2] });
    expect(edited.description).toBe('written through the API');
    expect(edited.nodes.map((n) => n.id)).toEqual(['transform_1', 'done']);
    // Undo and redo go through a definition: a second round trip keeps them too, unshared.
    const again = toFlow(edited);
    const twice = toDefinition(again.nodes, again.edges);
    expect(canonical(twice)).toBe(canonical(edited));
    (twice.x_future as { mode: string }).mode = 'changed';
    expect((def.x_future as { mode: string }).mode).toBe('strict');
  });

  it('does not share config objects between the definition and the canvas', () => {
    const f = toFlow(gettingStarted);
    (f.nodes[0].data.config as Record<string, unknown>).expression = 'changed';
    expect(gettingStarted.nodes[0].config?.expression).not.toBe('changed');
  });

  it('tolerates a definition that is not one (an empty or broken import)', () => {
    expect(toFlow({} as Definition)).toEqual({ nodes: [], edges: [] });
  });
});

describe('new node ids', () => {
  it('are unique and JMESPath-friendly', () => {
    expect(newNodeId('transform', [])).toBe('transform_1');
    expect(newNodeId('transform', ['transform_1', 'transform_2'])).toBe('transform_3');
    expect(newNodeId('http_call', ['x'])).toBe('http_call_1');
    expect(newNodeId('9lives', [])).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });
});

describe('edge rules', () => {
  const f = toFlow(templates.find((t) => t.id === 'stripe-payment-to-api')!.definition);
  it('accepts a legal edge', () => {
    expect(edgeProblem(f.nodes, f.edges, 'payment', 'ignored', null)).toBeNull();
  });
  it('refuses self-loops, cycles, duplicates and edges out of a terminate', () => {
    expect(edgeProblem(f.nodes, f.edges, 'payment', 'payment', null)).toMatch(/itself/);
    expect(edgeProblem(f.nodes, f.edges, 'record', 'payment', null)).toMatch(/cycle/);
    expect(edgeProblem(f.nodes, f.edges, 'payment', 'is_large', null)).toMatch(/already/);
    expect(edgeProblem(f.nodes, f.edges, 'done', 'record', null)).toMatch(/terminate/);
  });
  it('requires a port out of a branch and refuses one elsewhere', () => {
    expect(edgeProblem(f.nodes, f.edges, 'is_large', 'ignored', null)).toMatch(/true or false/);
    expect(edgeProblem(f.nodes, f.edges, 'is_large', 'ignored', 'false')).toBeNull();
    expect(edgeProblem(f.nodes, f.edges, 'payment', 'ignored', 'true')).toMatch(/only a branch/);
  });
});
