// The draft as the builder edits it, and back: the canvas drawn (the workflow's, with its trigger
// node, or a for_each's body with the workflow's own canvas set aside), the schedules, and the
// definition all of it stands for, which is what is saved, validated, previewed and exported.
// Pure, so every way in and out (a load, undo, opening and closing a body, an import) is tested.

import { toDefinition, toFlow, needsLayout } from '$lib/graph/convert';
import { closeBody, openBody, LOOP_TYPE } from '$lib/graph/body';
import { isTrigger, isTriggerEdge, withTrigger } from '$lib/graph/trigger';
import { withLayout } from '$lib/graph/layout';
import type { Canvas } from '$lib/graph/edit';
import type { Definition } from '$lib/graph/types';
import type { Schedule } from './api';

export interface Draft extends Canvas {
  /** The definition's schedules (drawn on the trigger node, edited in the Schedules tab). */
  schedules: Schedule[];
  /** The for_each whose body is on the canvas (in the URL as ?loop=<id>), or null. */
  loop: string | null;
  /** With a body open, the workflow's own nodes and edges. */
  outer: Canvas | null;
}

export function schedulesOf(def: Definition): Schedule[] {
  return Array.isArray(def?.schedules) ? (def.schedules as Schedule[]) : [];
}

/** The definition the draft stands for: an open body put back into its for_each, the trigger
 * left out, the schedules added. */
export function definitionOf(d: Draft): Definition {
  const def =
    d.loop && d.outer ? toDefinition(closeBody(d.outer.nodes, d.loop, d.nodes, d.edges), d.outer.edges) : toDefinition(d.nodes, d.edges);
  if (d.schedules.length > 0) def.schedules = d.schedules;
  return def;
}

/** The canvas with the trigger node drawn before the entry node(s), marked `invalid` when a
 * schedule has an error; a body's canvas has no trigger and is returned as it is. */
export function decorated(d: Draft, invalid: boolean): Canvas {
  if (d.loop) return { nodes: d.nodes, edges: d.edges };
  return withTrigger(d.nodes, d.edges, { schedules: d.schedules, invalid });
}

function onTop(nodes: Canvas['nodes'], edges: Canvas['edges'], schedules: Schedule[], invalid: boolean): Draft {
  const d: Draft = { nodes, edges, schedules, loop: null, outer: null };
  return { ...d, ...decorated(d, invalid) };
}

/** `def` on the workflow's canvas; with `layoutIfNeeded`, laid out when its nodes have no
 * positions (a workflow made through the API). */
export function draftOf(def: Definition, layoutIfNeeded: boolean, invalid: boolean): Draft {
  const f = toFlow(def);
  const nodes = layoutIfNeeded && needsLayout(f.nodes) ? withLayout(f.nodes, f.edges) : f.nodes;
  return onTop(nodes, f.edges, schedulesOf(def), invalid);
}

/** A step of undo or redo: `def` with the nodes `selectedIds` selected again, and the body of
 * `loop` still open while that for_each is still there. */
export function restored(def: Definition, loop: string | null, selectedIds: Set<string>, invalid: boolean): Draft {
  const f = toFlow(def);
  const schedules = schedulesOf(def);
  const select = (c: Canvas) => c.nodes.map((n) => ({ ...n, selected: selectedIds.has(n.id) }));
  if (loop && f.nodes.some((n) => n.id === loop && n.data.nodeType === LOOP_TYPE)) {
    const b = openBody(f.nodes, loop);
    return { nodes: select(b), edges: b.edges, schedules, loop, outer: f };
  }
  return onTop(select(f), f.edges, schedules, invalid);
}

/** The draft with the body of for_each `id` on the canvas (laid out if it has no positions), or
 * null when a body is open already or `id` is no for_each of the canvas. */
export function enteredBody(d: Draft, id: string): Draft | null {
  if (d.loop || !d.nodes.some((n) => n.id === id && n.data.nodeType === LOOP_TYPE)) return null;
  const outer = {
    nodes: d.nodes.filter((n) => !isTrigger(n)).map((n) => ({ ...n, selected: false })),
    edges: d.edges.filter((e) => !isTriggerEdge(e))
  };
  const b = openBody(outer.nodes, id);
  return { nodes: needsLayout(b.nodes) ? withLayout(b.nodes, b.edges) : b.nodes, edges: b.edges, schedules: d.schedules, loop: id, outer };
}

/** The workflow's canvas again with the body put back, its for_each selected; null when no body
 * is open. */
export function leftBody(d: Draft, invalid: boolean): Draft | null {
  if (!d.loop || !d.outer) return null;
  const id = d.loop;
  const top = closeBody(d.outer.nodes, id, d.nodes, d.edges);
  return onTop(
    top.map((n) => ({ ...n, selected: n.id === id })),
    d.outer.edges,
    d.schedules,
    invalid
  );
}

/** The definition in an imported file: a MeshHook export's, or a bare definition. Throws an
 * Error that says what is wrong. */
export function importedDefinition(text: string): Definition {
  const doc = JSON.parse(text);
  const def = doc?.meshhook_export ? doc.definition : doc;
  if (!def || !Array.isArray(def.nodes) || !Array.isArray(def.edges))
    throw new Error('not a MeshHook export or a definition {"nodes": [...], "edges": [...]}');
  return def;
}
