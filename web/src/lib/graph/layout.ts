// Automatic layout of the canvas with dagre: ranks from the entry node downwards, branches
// side by side. Pure apart from dagre itself; positions are the nodes' top-left corners, as
// @xyflow/svelte expects.

import dagre from '@dagrejs/dagre';
import type { FlowEdge, FlowNode, Position } from './types';

export interface LayoutOptions {
  nodeWidth?: number;
  nodeHeight?: number;
  rankSep?: number;
  nodeSep?: number;
  direction?: 'TB' | 'LR';
}

/** Above this many nodes the layered layout below replaces dagre, whose crossing reduction
 * takes over a second on 300 nodes (docs/BENCHMARKS.md, "The web app"). */
export const DAGRE_MAX_NODES = 120;

/** New positions for every node (by id). The input is not changed. */
export function layout(
  nodes: FlowNode[],
  edges: FlowEdge[],
  opts: LayoutOptions = {}
): Map<string, Position> {
  if (nodes.length > DAGRE_MAX_NODES) return layered(nodes, edges, opts);
  const width = opts.nodeWidth ?? 220;
  const height = opts.nodeHeight ?? 72;
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({
    rankdir: opts.direction ?? 'TB',
    ranksep: opts.rankSep ?? 56,
    nodesep: opts.nodeSep ?? 40,
    marginx: 0,
    marginy: 0
  });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width, height });
  const ids = new Set(nodes.map((n) => n.id));
  for (const e of edges)
    if (ids.has(e.source) && ids.has(e.target))
      // The false edge of a branch is drawn to the right of its true edge.
      g.setEdge(e.source, e.target, { weight: e.sourceHandle === 'false' ? 1 : 2 }, e.id);
  dagre.layout(g);
  const out = new Map<string, Position>();
  for (const n of nodes) {
    const p = g.node(n.id) as { x: number; y: number };
    out.set(n.id, { x: Math.round(p.x - width / 2), y: Math.round(p.y - height / 2) });
  }
  return out;
}

/** `nodes` with the positions of `layout` applied (new array, new node objects). */
export function withLayout(nodes: FlowNode[], edges: FlowEdge[], opts?: LayoutOptions): FlowNode[] {
  const pos = layout(nodes, edges, opts);
  return nodes.map((n) => ({ ...n, position: pos.get(n.id) ?? n.position }));
}

/**
 * A linear-time layered layout for large graphs: each node's rank is its longest distance from
 * an entry (so every edge points down), and the nodes of a rank are ordered once by the mean
 * position of their predecessors (a false edge counts a little to the right of a true one), then
 * centred. No crossing minimisation beyond that single sweep.
 */
export function layered(nodes: FlowNode[], edges: FlowEdge[], opts: LayoutOptions = {}): Map<string, Position> {
  const width = opts.nodeWidth ?? 220;
  const height = opts.nodeHeight ?? 72;
  const rankSep = opts.rankSep ?? 56;
  const nodeSep = opts.nodeSep ?? 40;
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  const preds: { from: number; bias: number }[][] = nodes.map(() => []);
  const succs: number[][] = nodes.map(() => []);
  const indeg = new Array<number>(nodes.length).fill(0);
  for (const e of edges) {
    const a = index.get(e.source);
    const b = index.get(e.target);
    if (a === undefined || b === undefined || a === b) continue;
    succs[a].push(b);
    preds[b].push({ from: a, bias: e.sourceHandle === 'false' ? 0.5 : e.sourceHandle === 'true' ? -0.5 : 0 });
    indeg[b]++;
  }
  const rank = new Array<number>(nodes.length).fill(0);
  const queue: number[] = [];
  indeg.forEach((d, i) => d === 0 && queue.push(i));
  for (let q = 0; q < queue.length; q++) {
    const a = queue[q];
    for (const b of succs[a]) {
      rank[b] = Math.max(rank[b], rank[a] + 1);
      if (--indeg[b] === 0) queue.push(b);
    }
  }
  const ranks: number[][] = [];
  nodes.forEach((_, i) => (ranks[rank[i]] ??= []).push(i));
  const slot = new Array<number>(nodes.length).fill(0);
  const out = new Map<string, Position>();
  ranks.forEach((members, r) => {
    if (!members) return;
    const key = (i: number) =>
      preds[i].length ? preds[i].reduce((s, p) => s + slot[p.from] + p.bias, 0) / preds[i].length : i;
    const ordered = r === 0 ? members : [...members].sort((x, y) => key(x) - key(y) || x - y);
    const mid = (ordered.length - 1) / 2;
    ordered.forEach((i, k) => {
      slot[i] = k - mid;
      out.set(nodes[i].id, {
        x: Math.round(slot[i] * (width + nodeSep)),
        y: r * (height + rankSep)
      });
    });
  });
  return out;
}
