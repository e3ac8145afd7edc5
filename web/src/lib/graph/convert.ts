// Definition ⇄ canvas. Pure: the builder keeps the canvas as the source of truth while editing
// and turns it back into a definition to save, validate, preview and export. A round trip keeps
// every member it does not understand, so nothing a newer server adds is lost.

import type { DefEdge, DefNode, Definition, FlowEdge, FlowNode, Port } from './types';
import { isTrigger, isTriggerEdge } from './trigger';

/** The canvas node type that renders every MeshHook node. */
export const CANVAS_NODE_TYPE = 'mh';

const KNOWN_NODE_KEYS = new Set(['id', 'type', 'name', 'config', 'position']);
/** The top-level members the builder edits: the canvas, and the schedules (its own form, which
 * adds them back to the definition it saves). Every other member is kept as loaded. */
const EDITED_TOP_KEYS = new Set(['nodes', 'edges', 'schedules']);
const KNOWN_EDGE_KEYS = new Set(['from', 'to', 'port']);

/** The class that draws an edge out of an error handle apart from the others (app.css). */
export const ERROR_EDGE_CLASS = 'mh-error-edge';

export function edgeId(from: string, to: string, port?: Port | null): string {
  return port ? `${from}->${to}:${port}` : `${from}->${to}`;
}

/** A definition (as stored) to canvas nodes and edges. Missing positions stay at 0,0: lay the
 * graph out (layout.ts) when `needsLayout` says so. */
export function toFlow(def: Definition): { nodes: FlowNode[]; edges: FlowEdge[] } {
  // The definition's other top-level members (a newer server's, or written through the API)
  // ride on every node, so that the canvas alone gives them back whatever nodes are removed or
  // added; only a canvas emptied of every node loses them.
  const definitionExtra: Record<string, unknown> = {};
  if (isObject(def))
    for (const [k, v] of Object.entries(def)) if (!EDITED_TOP_KEYS.has(k)) definitionExtra[k] = structuredClone(v);
  const nodes = (Array.isArray(def?.nodes) ? def.nodes : []).map((n): FlowNode => {
    const extra: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) if (!KNOWN_NODE_KEYS.has(k)) extra[k] = v;
    const p = n.position;
    return {
      id: String(n.id),
      type: CANVAS_NODE_TYPE,
      position: {
        x: typeof p?.x === 'number' ? p.x : 0,
        y: typeof p?.y === 'number' ? p.y : 0
      },
      data: {
        nodeType: String(n.type ?? ''),
        name: typeof n.name === 'string' ? n.name : '',
        config: isObject(n.config) ? structuredClone(n.config) : {},
        extra,
        definitionExtra
      }
    };
  });
  const edges = (Array.isArray(def?.edges) ? def.edges : []).map(
    (e): FlowEdge => ({
      id: edgeId(e.from, e.to, e.port),
      source: String(e.from),
      target: String(e.to),
      sourceHandle: e.port ?? null,
      label: e.port,
      ...(e.port === 'error' ? { class: ERROR_EDGE_CLASS } : {})
    })
  );
  return { nodes, edges };
}

/** Canvas nodes and edges back to a definition, positions rounded to whole pixels, with the
 * top-level members the nodes were loaded with (toFlow). The trigger node and its edges
 * (trigger.ts) are drawn only: they are left out. */
export function toDefinition(nodes: FlowNode[], edges: FlowEdge[]): Definition {
  const carried = nodes.find((n) => n.data.definitionExtra)?.data.definitionExtra ?? {};
  return {
    ...structuredClone(carried),
    nodes: nodes.filter((n) => !isTrigger(n)).map((n): DefNode => {
      const out: DefNode = { id: n.id, type: n.data.nodeType };
      if (n.data.name) out.name = n.data.name;
      out.config = structuredClone(n.data.config ?? {});
      out.position = { x: Math.round(n.position.x), y: Math.round(n.position.y) };
      for (const [k, v] of Object.entries(n.data.extra ?? {})) out[k] = v;
      return out;
    }),
    edges: edges.filter((e) => !isTriggerEdge(e)).map((e): DefEdge => {
      const out: DefEdge = { from: e.source, to: e.target };
      if (e.sourceHandle === 'true' || e.sourceHandle === 'false' || e.sourceHandle === 'error')
        out.port = e.sourceHandle;
      return out;
    })
  };
}

/** Unknown members of edges are not kept by the canvas; this says whether a definition has any,
 * so the builder can warn before an import loses them. */
export function edgesHaveExtras(def: Definition): boolean {
  return (def.edges ?? []).some((e) => Object.keys(e).some((k) => !KNOWN_EDGE_KEYS.has(k)));
}

/** A fresh node id for `type` ("transform_1", "transform_2"…) that `taken` does not hold and
 * that JMESPath can name without quotes (docs/workflows.md). */
export function newNodeId(type: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const base = type.replace(/[^A-Za-z0-9_]/g, '_').replace(/^([^A-Za-z_])/, '_$1') || 'node';
  for (let i = 1; ; i++) {
    const id = `${base}_${i}`;
    if (!used.has(id)) return id;
  }
}

/** Whether the nodes need an automatic layout: all at one spot (an API-made workflow). */
export function needsLayout(nodes: FlowNode[]): boolean {
  if (nodes.length < 2) return false;
  const first = nodes[0].position;
  return nodes.every((n) => n.position.x === first.x && n.position.y === first.y);
}

/** Whether an edge may be added: no self-loop, no duplicate, nothing out of a terminate, a
 * branch's edges carry a port while others do not, and at most one error edge per node (not on
 * a node that continues on failure). Returns a reason when not. */
export function edgeProblem(
  nodes: FlowNode[],
  edges: FlowEdge[],
  source: string,
  target: string,
  handle: string | null | undefined
): string | null {
  if (source === target) return 'a node cannot connect to itself';
  const from = nodes.find((n) => n.id === source);
  if (!from || !nodes.some((n) => n.id === target)) return 'both ends must be nodes';
  if (from.data.nodeType === 'terminate') return 'a terminate node ends the run: it has no outgoing edges';
  const port = handle === 'true' || handle === 'false' || handle === 'error' ? handle : null;
  if (port === 'error') {
    if (edges.some((e) => e.source === source && e.sourceHandle === 'error'))
      return 'a node has one error edge: fan out after its first node';
    if (from.data.extra?.on_error === 'continue')
      return 'this node continues on failure: set "On failure" to "fail the run" to give it an error edge';
  } else {
    if (from.data.nodeType === 'branch' && !port) return "a branch's edge leaves its true or false handle";
    if (from.data.nodeType !== 'branch' && port) return 'only a branch has true and false handles';
  }
  if (edges.some((e) => e.source === source && e.target === target && (e.sourceHandle ?? null) === port))
    return 'these nodes are already connected';
  if (reaches(edges, target, source)) return 'this edge would make a cycle';
  return null;
}

function reaches(edges: FlowEdge[], from: string, to: string): boolean {
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const n = stack.pop()!;
    if (n === to) return true;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of edges) if (e.source === n) stack.push(e.target);
  }
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
