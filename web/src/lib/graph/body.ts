// A for_each's body (docs/workflows.md#for_each) drawn as a canvas of its own: the builder opens
// the body of one for_each node, edits its nodes and edges with the same palette, handles and
// undo, and puts them back into the node's `config.body`. Pure, so the round trip is tested.

import { toDefinition, toFlow } from './convert';
import { formatPointer, parsePointer } from './errors';
import type { Definition, FlowEdge, FlowNode, ValidationError } from './types';

export const LOOP_TYPE = 'for_each';

/** Node types a body may not hold (the server refuses them there). */
export const NOT_IN_BODY = new Set(['terminate', LOOP_TYPE]);

/** The body definition of a for_each canvas node (an empty one when it has none yet). */
export function bodyOf(node: FlowNode | undefined): Definition {
  const b = node?.data.config?.body as Definition | undefined;
  return {
    nodes: Array.isArray(b?.nodes) ? b.nodes : [],
    edges: Array.isArray(b?.edges) ? b.edges : []
  };
}

/** The canvas of the body of `loopId`, one of `nodes`. */
export function openBody(nodes: FlowNode[], loopId: string): { nodes: FlowNode[]; edges: FlowEdge[] } {
  return toFlow(bodyOf(nodes.find((n) => n.id === loopId)));
}

/** `nodes` with the body of `loopId` replaced by the body canvas. Every other member of the
 * body object and of the node's config keeps its place. */
export function closeBody(nodes: FlowNode[], loopId: string, bodyNodes: FlowNode[], bodyEdges: FlowEdge[]): FlowNode[] {
  return nodes.map((n) => {
    if (n.id !== loopId) return n;
    const old = n.data.config?.body;
    const inner = toDefinition(bodyNodes, bodyEdges);
    const body = typeof old === 'object' && old !== null && !Array.isArray(old) ? { ...old, nodes: inner.nodes, edges: inner.edges } : inner;
    return { ...n, data: { ...n.data, config: { ...n.data.config, body } } };
  });
}

/** Every node id of a definition, bodies included: ids of body nodes differ from the workflow's. */
export function allIds(def: Definition): string[] {
  const ids: string[] = [];
  for (const n of def.nodes ?? []) {
    ids.push(String(n.id));
    const b = (n.config as Record<string, unknown> | undefined)?.body as Definition | undefined;
    if (n.type === LOOP_TYPE && Array.isArray(b?.nodes)) for (const m of b.nodes) ids.push(String(m.id));
  }
  return ids;
}

/** The validation errors that concern the body of the node at `index`, with their paths made
 * relative to the body ("/nodes/3/config/body/nodes/1/config/url" → "/nodes/1/config/url"). */
export function bodyErrors(errors: ValidationError[], index: number): ValidationError[] {
  const out: ValidationError[] = [];
  for (const e of errors ?? []) {
    const t = parsePointer(e.path ?? '');
    if (t[0] === 'nodes' && t[1] === String(index) && t[2] === 'config' && t[3] === 'body')
      out.push({ ...e, path: formatPointer(t.slice(4)) });
  }
  return out;
}
