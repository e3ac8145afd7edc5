// The builder's edits of a canvas: add, change, rename, connect, copy and paste nodes, lay out,
// and pick the neighbour an arrow key selects. Pure: a canvas in, a new canvas out, so each
// edit is tested on its own and the builder records the result as one step of undo.

import { edgeId, newNodeId, CANVAS_NODE_TYPE, ERROR_EDGE_CLASS } from './convert';
import { isTrigger, isTriggerEdge } from './trigger';
import { withLayout } from './layout';
import type { FlowEdge, FlowNode, Port, Position } from './types';

export interface Canvas {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export interface NodePatch {
  name?: string;
  config?: Record<string, unknown>;
  extra?: Record<string, unknown>;
}

/** How far below the node it follows a node added from the palette lands. */
export const FOLLOW_GAP = 120;

/** The node a node added from the palette follows: the selected one, unless it ends the run. */
export function followed(current: FlowNode | null): FlowNode | null {
  return current && current.data.nodeType !== 'terminate' ? current : null;
}

/** A new node of `type`, selected, at `position`. */
export function newNode(id: string, type: string, config: Record<string, unknown>, position: Position): FlowNode {
  return { id, type: CANVAS_NODE_TYPE, position, data: { nodeType: type, name: '', config, extra: {} }, selected: true };
}

/** Where a node added after `after` goes: right below it. */
export function below(after: FlowNode): Position {
  return { x: after.position.x, y: after.position.y + FOLLOW_GAP };
}

/** `node` added to the canvas as the only selected node; with `after`, connected after it (a
 * branch's first edge leaves its true handle, the next one its false handle). */
export function addNode(c: Canvas, node: FlowNode, after: FlowNode | null): Canvas {
  let edges = c.edges;
  if (after) {
    let port: 'true' | 'false' | null = null;
    if (after.data.nodeType === 'branch')
      port = c.edges.some((e) => e.source === after.id && e.sourceHandle === 'true') ? 'false' : 'true';
    edges = [...c.edges, { id: edgeId(after.id, node.id, port), source: after.id, target: node.id, sourceHandle: port, label: port ?? undefined }];
  }
  return { nodes: [...c.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node], edges };
}

/** `nodes` with node `id`'s name, config or extra members replaced by those of `patch`. */
export function patchNode(nodes: FlowNode[], id: string, patch: NodePatch): FlowNode[] {
  return nodes.map((n) =>
    n.id === id
      ? {
          ...n,
          data: {
            ...n.data,
            ...(patch.name !== undefined ? { name: patch.name } : {}),
            ...(patch.config ? { config: patch.config } : {}),
            ...(patch.extra ? { extra: patch.extra } : {})
          }
        }
      : n
  );
}

/** Why `newId` cannot be a node's id (`taken`: every id of the definition), or null. */
export function renameProblem(newId: string, taken: string[]): string | null {
  if (!/^[A-Za-z_][A-Za-z0-9_-]{0,63}$/.test(newId)) return 'An id is 1–64 letters, digits, _ or -, starting with a letter or _';
  if (taken.includes(newId)) return `There is already a node ${newId}`;
  return null;
}

/** The canvas with node `oldId` called `newId`, its edges following it. */
export function renameNode(c: Canvas, oldId: string, newId: string): Canvas {
  return {
    nodes: c.nodes.map((n) => (n.id === oldId ? { ...n, id: newId } : n)),
    edges: c.edges.map((e) => {
      const s = e.source === oldId ? newId : e.source;
      const t = e.target === oldId ? newId : e.target;
      return { ...e, source: s, target: t, id: edgeId(s, t, (e.sourceHandle as Port | null) ?? null) };
    })
  };
}

/** `edges` with the edge the canvas has just added for a connection given the id and label the
 * definition will have (an error edge also its class). */
export function labelConnection(
  edges: FlowEdge[],
  c: { source: string; target: string; sourceHandle?: string | null }
): FlowEdge[] {
  return edges.map((e) =>
    e.source === c.source && e.target === c.target && (e.sourceHandle ?? null) === (c.sourceHandle ?? null)
      ? {
          ...e,
          id: edgeId(c.source, c.target, (c.sourceHandle as Port | null) ?? null),
          label: c.sourceHandle ?? undefined,
          ...(c.sourceHandle === 'error' ? { class: ERROR_EDGE_CLASS } : {})
        }
      : e
  );
}

/** A copy of `selected` and of the edges between them, to paste later. */
export function copyNodes(c: Canvas, selected: FlowNode[]): Canvas {
  const ids = new Set(selected.map((n) => n.id));
  return {
    nodes: structuredClone(selected.map((n) => ({ ...n, selected: false }))),
    edges: structuredClone(c.edges.filter((e) => ids.has(e.source) && ids.has(e.target)))
  };
}

/** The canvas with `clip` pasted: fresh ids that `taken` does not hold, shifted by 40 px, the
 * pasted nodes the selection. */
export function pasteNodes(c: Canvas, clip: Canvas, taken: string[]): Canvas {
  const rename = new Map<string, string>();
  for (const n of clip.nodes) rename.set(n.id, newNodeId(n.data.nodeType, [...taken, ...rename.values()]));
  const pasted = clip.nodes.map((n) => ({
    ...structuredClone(n),
    id: rename.get(n.id)!,
    position: { x: n.position.x + 40, y: n.position.y + 40 },
    selected: true
  }));
  const pastedEdges = clip.edges.map((e) => {
    const s = rename.get(e.source)!;
    const t = rename.get(e.target)!;
    return { ...e, id: edgeId(s, t, (e.sourceHandle as Port | null) ?? null), source: s, target: t, selected: false };
  });
  return { nodes: [...c.nodes.map((n) => ({ ...n, selected: false })), ...pasted], edges: [...c.edges, ...pastedEdges] };
}

/** The canvas laid out automatically (layout.ts), without the trigger (drawn again after). */
export function laidOut(c: Canvas): Canvas {
  const edges = c.edges.filter((e) => !isTriggerEdge(e));
  return { nodes: withLayout(c.nodes.filter((n) => !isTrigger(n)), edges), edges };
}

/** The node an arrow key (dx, dy) selects from `from`: the nearest in that direction, a node
 * straight ahead preferred to one aside; with nothing selected, the first node. */
export function nearest(nodes: FlowNode[], from: FlowNode | null, dx: number, dy: number): FlowNode | null {
  if (nodes.length === 0) return null;
  if (!from) return nodes[0];
  let best: FlowNode | null = null;
  let bestScore = Infinity;
  for (const n of nodes) {
    if (n.id === from.id) continue;
    const vx = n.position.x - from.position.x;
    const vy = n.position.y - from.position.y;
    const along = vx * dx + vy * dy;
    if (along <= 0) continue;
    const score = along + 2 * Math.abs(vx * dy - vy * dx);
    if (score < bestScore) {
      bestScore = score;
      best = n;
    }
  }
  return best;
}

/** `nodes` with `id` the only one selected. */
export function selectOnly(nodes: FlowNode[], id: string): FlowNode[] {
  return nodes.map((n) => ({ ...n, selected: n.id === id }));
}

/** The `count` nodes a large graph opens on: the top ones, left to right. */
export function firstNodes(nodes: FlowNode[], count = 12): { id: string }[] {
  return [...nodes]
    .sort((a, b) => a.position.y - b.position.y || a.position.x - b.position.x)
    .slice(0, count)
    .map((n) => ({ id: n.id }));
}
