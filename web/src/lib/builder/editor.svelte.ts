// The canvas the builder edits (docs/ui.md, "The builder's code"): its nodes and edges, the
// schedules, the for_each body open on it, the side panel's tab, undo and redo, and every edit
// (graph/edit.ts does each one, draft.ts maps the canvas to the definition and back). One per
// open builder, handed to its parts as a prop; each edit is a step of undo, after which `onedit`
// (the document's save and validation, document.svelte.ts) follows.

import { goto } from '$app/navigation';
import { page } from '$app/state';
import { session } from '$lib/stores/session.svelte';
import { toasts } from '$lib/stores/toasts.svelte';
import { edgeProblem, newNodeId } from '$lib/graph/convert';
import { allIds, NOT_IN_BODY } from '$lib/graph/body';
import { isTrigger } from '$lib/graph/trigger';
import { defaultConfig } from '$lib/graph/form';
import { placeErrors } from '$lib/graph/placement';
import * as edit from '$lib/graph/edit';
import type { Canvas, NodePatch } from '$lib/graph/edit';
import type { Definition, FlowEdge, FlowNode, Position, ValidationError } from '$lib/graph/types';
import type { NodeType, Schedule } from './api';
import { decorated, definitionOf, draftOf, enteredBody, leftBody, restored, type Draft } from './draft';
import { History } from './history';
import { view } from './view.svelte';

export type Tab = 'node' | 'schedules' | 'preview' | 'versions' | 'workflow';

/** The drag-and-drop type of a node type dragged from the palette onto the canvas. */
export const DND_TYPE = 'application/x-meshhook-node-type';

/** A large graph opens at a readable zoom on its first nodes, and only the nodes in view are
 * drawn (docs/BENCHMARKS.md, "The web app: the builder"). */
const LARGE_GRAPH = 120;

/** What the editor needs of the canvas component (@xyflow/svelte's useSvelteFlow). */
export interface FlowView {
  fitView: (options?: { padding?: number; maxZoom?: number }) => unknown;
  screenToFlowPosition: (p: Position) => Position;
}

export class Editor {
  types = $state<NodeType[]>([]);
  nodes = $state.raw<FlowNode[]>([]);
  edges = $state.raw<FlowEdge[]>([]);
  schedules = $state.raw<Schedule[]>([]);
  loop = $state<string | null>(null);
  outer = $state.raw<Canvas | null>(null);
  tab = $state<Tab>('node');
  canUndo = $state(false);
  canRedo = $state(false);
  /** The validation's errors listed under the node form (graph/placement.ts), and how many
   * errors the draft has in all. */
  generalErrors = $state<ValidationError[]>([]);
  errorCount = $state(0);
  /** How the canvas opens: fitted to an existing graph (an empty one keeps zoom 1, so the first
   * node dropped does not zoom in), a large graph on its first nodes. */
  fitOnOpen = $state(false);
  isLarge = $state(false);
  fitNodes = $state.raw<{ id: string }[] | undefined>(undefined);
  /** The canvas's element (set by Canvas.svelte): focused by the arrow keys. */
  canvasEl = $state<HTMLElement | null>(null);
  /** Called after every edit and every undo or redo. */
  onedit: () => void = () => {};

  readonly pid: string;
  readonly readOnly = $derived((session.projects.find((p) => p.id === this.pid)?.role ?? 'viewer') === 'viewer');
  readonly selected = $derived(this.nodes.filter((n) => n.selected && !isTrigger(n)));
  readonly current = $derived(this.selected.length === 1 ? this.selected[0] : null);
  readonly paletteTypes = $derived(this.loop ? this.types.filter((t) => !NOT_IN_BODY.has(t.type)) : this.types);
  readonly loopNode = $derived(this.loop ? this.outer?.nodes.find((n) => n.id === this.loop) : undefined);
  readonly scheduleErrors = $derived(this.generalErrors.filter((e) => e.path.startsWith('/schedules')));

  private readonly flow: FlowView;
  private history = new History<Definition>({ nodes: [], edges: [] });
  private clipboard: Canvas | null = null;
  private lastErrors: ValidationError[] = [];

  constructor(pid: string, flow: FlowView) {
    this.pid = pid;
    this.flow = flow;
    view.openBody = (id) => this.enterBody(id);
  }

  typeOf(type: string): NodeType | undefined {
    return this.types.find((x) => x.type === type);
  }

  /** The definition the canvas stands for now (saved, validated, previewed, exported). */
  definition(): Definition {
    return definitionOf(this.draft);
  }

  private get draft(): Draft {
    return { nodes: this.nodes, edges: this.edges, schedules: this.schedules, loop: this.loop, outer: this.outer };
  }

  private get canvas(): Canvas {
    return { nodes: this.nodes, edges: this.edges };
  }

  private set(d: Draft | Canvas) {
    if ('loop' in d) {
      if (d.loop !== this.loop) this.setLoopUrl(d.loop);
      this.loop = d.loop;
      this.outer = d.outer;
      this.schedules = d.schedules;
    }
    this.nodes = d.nodes;
    this.edges = d.edges;
  }

  private setLoopUrl(id: string | null) {
    const u = new URL(page.url);
    if (id) u.searchParams.set('loop', id);
    else u.searchParams.delete('loop');
    goto(u, { replaceState: true, keepFocus: true, noScroll: true });
  }

  /** Draws the trigger node before the entry node(s) of the workflow's canvas. */
  private decorate() {
    this.set(decorated(this.draft, view.triggerInvalid));
  }

  private fit(options: { padding: number; maxZoom?: number } = { padding: 0.2, maxZoom: 1 }) {
    queueMicrotask(() => this.flow.fitView(options));
  }

  private syncHistory() {
    this.canUndo = this.history.canUndo;
    this.canRedo = this.history.canRedo;
  }

  // ---- Opening, undo and redo --------------------------------------------------------------

  /** Opens a loaded draft: undo starts from it, the canvas's view is chosen by its size. */
  open(def: Definition) {
    view.reset();
    this.set(draftOf(def, true, view.triggerInvalid));
    this.fitOnOpen = this.nodes.length > 0;
    this.isLarge = this.nodes.length > LARGE_GRAPH;
    this.fitNodes = this.isLarge ? edit.firstNodes(this.nodes) : undefined;
    this.history.reset(this.definition());
    this.syncHistory();
  }

  /** Puts `def` (an import, a version copied) in place of the draft, as one step of undo. */
  replaceWith(def: Definition) {
    this.set(draftOf(def, true, view.triggerInvalid));
    this.changed();
  }

  /** Records the canvas as a new step. */
  changed() {
    if (this.readOnly) return;
    this.decorate();
    if (!this.history.push(this.definition())) return;
    this.syncHistory();
    this.onedit();
  }

  private restore(def: Definition | null) {
    if (!def) return;
    this.set(restored(def, this.loop, new Set(this.selected.map((n) => n.id)), view.triggerInvalid));
    this.syncHistory();
    this.onedit();
  }

  undo = () => {
    if (!this.readOnly) this.restore(this.history.undo());
  };
  redo = () => {
    if (!this.readOnly) this.restore(this.history.redo());
  };

  // ---- A for_each's body ---------------------------------------------------------------------

  /** Opens the body of for_each `id` on the canvas, with the same palette, handles and undo. */
  enterBody(id: string) {
    const d = enteredBody(this.draft, id);
    if (!d) return;
    this.set(d);
    this.tab = 'node';
    this.showErrors(this.lastErrors, this.definition());
    this.fit();
  }

  /** Back to the workflow's canvas, the for_each selected. */
  leaveBody = () => {
    const d = leftBody(this.draft, view.triggerInvalid);
    if (!d) return;
    this.set(d);
    this.showErrors(this.lastErrors, this.definition());
    this.fit();
  };

  // ---- Validation --------------------------------------------------------------------------

  /** Marks the nodes the server's `errors` (computed on `def`) name, and lists the others. */
  showErrors(errors: ValidationError[], def: Definition) {
    this.lastErrors = errors;
    const p = placeErrors(errors, def, this.loop);
    view.errors = p.byNode;
    this.generalErrors = p.general;
    this.errorCount = errors.length;
    if (p.triggerInvalid !== view.triggerInvalid) {
      view.triggerInvalid = p.triggerInvalid;
      this.decorate();
    }
  }

  // ---- Edits -------------------------------------------------------------------------------

  /** Adds a node of `type`: dropped at `position`, or from the palette after the selected node
   * (connected to it), or else in the middle of the view. */
  addNode(type: string, position?: Position) {
    if (this.readOnly) return;
    const id = newNodeId(type, allIds(this.definition()));
    const after = position ? null : edit.followed(this.current);
    const at = position ?? (after ? edit.below(after) : this.centerPosition());
    this.set(edit.addNode(this.canvas, edit.newNode(id, type, defaultConfig(this.typeOf(type)?.config_schema ?? {}), at), after));
    this.tab = 'node';
    this.changed();
  }

  /** A node type dropped from the palette at the screen point (x, y). */
  drop(type: string, x: number, y: number) {
    const p = this.flow.screenToFlowPosition({ x, y });
    this.addNode(type, { x: Math.round(p.x - 110), y: Math.round(p.y - 30) });
  }

  private centerPosition(): Position {
    const r = this.canvasEl?.getBoundingClientRect();
    if (!r) return { x: 0, y: 0 };
    const p = this.flow.screenToFlowPosition({ x: r.left + r.width / 2, y: r.top + r.height / 3 });
    return { x: Math.round(p.x - 110 + this.nodes.length * 8), y: Math.round(p.y + this.nodes.length * 8) };
  }

  updateNode(id: string, patch: NodePatch) {
    this.nodes = edit.patchNode(this.nodes, id, patch);
    this.changed();
  }

  /** Renames node `oldId`; returns why not, or null. */
  renameNode(oldId: string, newId: string): string | null {
    const problem = edit.renameProblem(newId, allIds(this.definition()));
    if (problem) return problem;
    this.set(edit.renameNode(this.canvas, oldId, newId));
    this.changed();
    return null;
  }

  isValidConnection = (c: { source: string; target: string; sourceHandle?: string | null }) =>
    edgeProblem(this.nodes, this.edges, c.source, c.target, c.sourceHandle) === null;

  /** The canvas has added the edge of connection `c`: it gets the id and label the definition
   * will have. */
  connected(c: { source: string; target: string; sourceHandle?: string | null }) {
    this.edges = edit.labelConnection(this.edges, c);
    this.changed();
  }

  setSchedules(next: Schedule[]) {
    this.schedules = next;
    this.changed();
  }

  copySelected() {
    const n = this.selected.length;
    if (n === 0) return;
    this.clipboard = edit.copyNodes(this.canvas, this.selected);
    toasts.push('info', `Copied ${n} node${n === 1 ? '' : 's'}`);
  }

  paste() {
    if (this.readOnly || !this.clipboard) return;
    this.set(edit.pasteNodes(this.canvas, this.clipboard, allIds(this.definition())));
    this.changed();
  }

  autoLayout = () => {
    if (this.readOnly) return;
    this.set(edit.laidOut(this.canvas));
    this.changed();
    this.fit();
  };

  fitView = () => this.flow.fitView({ padding: 0.2 });

  /** Arrow keys: selects the nearest node in direction (dx, dy); the trigger opens the
   * Schedules tab. */
  moveSelection(dx: number, dy: number) {
    const best = edit.nearest(this.nodes, this.current, dx, dy);
    if (!best) return;
    if (isTrigger(best)) this.tab = 'schedules';
    this.nodes = edit.selectOnly(this.nodes, best.id);
    this.canvasEl?.focus();
  }

  /** After an import: the whole graph in view. */
  fitAll() {
    this.fit({ padding: 0.2 });
  }
}
