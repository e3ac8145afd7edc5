import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { toFlow } from './convert';
import { DAGRE_MAX_NODES, layered, layout, withLayout } from './layout';
import type { FlowEdge, FlowNode } from './types';

const repo = fileURLToPath(new URL('../../../../', import.meta.url));
const stripe = JSON.parse(readFileSync(repo + 'templates/stripe-payment-to-api.json', 'utf8'));

function overlaps(a: { x: number; y: number }, b: { x: number; y: number }, w: number, h: number) {
  return Math.abs(a.x - b.x) < w && Math.abs(a.y - b.y) < h;
}

describe('layout', () => {
  it('puts every edge downwards and no two nodes on top of each other', () => {
    const f = toFlow(stripe.definition);
    const pos = layout(f.nodes, f.edges, { nodeWidth: 200, nodeHeight: 60 });
    expect(pos.size).toBe(f.nodes.length);
    for (const e of f.edges) expect(pos.get(e.target)!.y).toBeGreaterThan(pos.get(e.source)!.y);
    const list = [...pos.values()];
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) expect(overlaps(list[i], list[j], 200, 60)).toBe(false);
    // A branch's two successors sit side by side on one rank.
    expect(pos.get('review')!.y).toBe(pos.get('record')!.y);
  });

  it('lays out a 300-node workflow with every node placed', () => {
    const nodes: FlowNode[] = [];
    const edges: FlowEdge[] = [];
    for (let i = 0; i < 300; i++) {
      nodes.push({ id: `n${i}`, type: 'mh', position: { x: 0, y: 0 }, data: { nodeType: 'transform', name: '', config: {}, extra: {} } });
      if (i > 0) {
        const parent = `n${Math.floor((i - 1) / 2)}`;
        edges.push({ id: `${parent}->n${i}`, source: parent, target: `n${i}` });
      }
    }
    const out = withLayout(nodes, edges);
    expect(new Set(out.map((n) => `${n.position.x},${n.position.y}`)).size).toBe(300);
    expect(nodes[5].position).toEqual({ x: 0, y: 0 }); // the input is not changed
  });

  it('lays large graphs out in layers: edges down, no overlap, false to the right of true', () => {
    const f = toFlow(stripe.definition);
    const pos = layered(f.nodes, f.edges, { nodeWidth: 200, nodeHeight: 60 });
    for (const e of f.edges) expect(pos.get(e.target)!.y).toBeGreaterThan(pos.get(e.source)!.y);
    const list = [...pos.values()];
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) expect(overlaps(list[i], list[j], 200, 60)).toBe(false);
    expect(pos.get('review')!.x).toBeLessThan(pos.get('record')!.x);
    expect(pos.get('payment')!.x).toBeLessThan(pos.get('ignored')!.x);
    expect(DAGRE_MAX_NODES).toBeLessThan(300);
  });

  it('ignores edges to nodes that are gone', () => {
    const f = toFlow(stripe.definition);
    const pos = layout(f.nodes.slice(0, 2), f.edges);
    expect(pos.size).toBe(2);
  });
});
