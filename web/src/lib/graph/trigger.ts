// The workflow's trigger drawn as a node of the canvas, before the entry node(s): webhooks always,
// and each schedule of the definition (docs/workflows.md#schedules). It is not part of the
// definition: toDefinition leaves it out, and it cannot be deleted, moved or connected by hand.

import type { FlowEdge, FlowNode } from './types';

/** The canvas node type and id of the trigger (":" is never in a node id, so no clash). */
export const TRIGGER_NODE_TYPE = 'mhtrigger';
export const TRIGGER_ID = 'trigger:';

export interface TriggerSchedule {
  cron: string;
  timezone?: string;
  name?: string;
}

export function isTrigger(n: { id: string }): boolean {
  return n.id === TRIGGER_ID;
}

/** Whether an edge is one the trigger node draws to an entry node. */
export function isTriggerEdge(e: { source: string }): boolean {
  return e.source === TRIGGER_ID;
}

/** `nodes` and `edges` with the trigger node (placed above the entry nodes) and its edges to
 * every node without an incoming edge; any previous trigger node and edges are replaced. */
export function withTrigger(
  nodes: FlowNode[],
  edges: FlowEdge[],
  data: Record<string, unknown>
): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const graph = nodes.filter((n) => !isTrigger(n));
  const graphEdges = edges.filter((e) => !isTriggerEdge(e));
  const entered = new Set(graphEdges.map((e) => e.target));
  const entries = graph.filter((n) => !entered.has(n.id));
  const old = nodes.find(isTrigger);
  let position = { x: 0, y: 0 };
  if (entries.length > 0) {
    const x = entries.reduce((s, n) => s + n.position.x, 0) / entries.length;
    const y = Math.min(...entries.map((n) => n.position.y));
    position = { x: Math.round(x), y: Math.round(y - 130) };
  }
  const trigger = {
    id: TRIGGER_ID,
    type: TRIGGER_NODE_TYPE,
    position,
    data: { nodeType: 'trigger', name: 'Trigger', config: {}, extra: {}, ...data },
    selected: old?.selected ?? false,
    deletable: false,
    draggable: false,
    connectable: false
  } as FlowNode;
  const triggerEdges = entries.map(
    (n) =>
      ({
        id: `${TRIGGER_ID}->${n.id}`,
        source: TRIGGER_ID,
        target: n.id,
        class: 'mh-trigger-edge',
        deletable: false,
        selectable: false,
        focusable: false,
        // Never in the way of a handle it passes over (an edge of a selected node is drawn on top).
        interactionWidth: 0
      }) as FlowEdge
  );
  return { nodes: [trigger, ...graph], edges: [...triggerEdges, ...graphEdges] };
}
