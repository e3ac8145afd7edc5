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

/** New positions for every node (by id). The input is not changed. */
export function layout(
  nodes: FlowNode[],
  edges: FlowEdge[],
  opts: LayoutOptions = {}
): Map<string, Position> {
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
