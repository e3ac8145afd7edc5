// The workflow as the server has it, for the builder: loading it, saving the draft (Ctrl/⌘+S,
// and automatically a moment after the last edit) with its revision in If-Match so an edit made
// meanwhile elsewhere shows as a conflict and is never overwritten silently, validating it,
// publishing, comparing a version with the draft, export and import. The canvas is the
// editor's (editor.svelte.ts); this object reads it and shows the server's verdicts on it.

import { page } from '$app/state';
import { ApiError } from '$lib/api/errors';
import { toasts } from '$lib/stores/toasts.svelte';
import { diffDefinitions } from '$lib/graph/diff';
import type { Definition } from '$lib/graph/types';
import { builderApi, type VersionRef, type WorkflowFull } from './api';
import { importedDefinition } from './draft';
import type { Editor } from './editor.svelte';
import { view } from './view.svelte';

const AUTOSAVE_MS = 1500;
const VALIDATE_MS = 300;

export interface Conflict {
  message: string;
  /** The revision saved elsewhere, if it could be read. */
  theirs: number | null;
  requestId: string | null;
}

export class WorkflowDoc {
  loaded = $state(false);
  loadError = $state<unknown>(null);
  workflow = $state<WorkflowFull | null>(null);
  revision = $state<number | null>(null);
  dirty = $state(false);
  saving = $state(false);
  savedAt = $state<Date | null>(null);
  saveError = $state<unknown>(null);
  publishError = $state<unknown>(null);
  conflict = $state<Conflict | null>(null);
  /** The version compared with the draft (its changes marked on the canvas), and the nodes the
   * draft no longer has. */
  comparing = $state<number | null>(null);
  removedInDraft = $state<string[]>([]);
  importError = $state('');

  readonly status = $derived(
    this.conflict
      ? 'Conflict'
      : this.saving
        ? 'Saving…'
        : this.dirty
          ? 'Unsaved changes'
          : this.savedAt
            ? 'Saved'
            : this.revision
              ? `Saved (revision ${this.revision})`
              : 'No draft yet'
  );

  private readonly pid: string;
  private readonly wid: string;
  private readonly ed: Editor;
  private autosaveTimer: ReturnType<typeof setTimeout> | undefined;
  private validateTimer: ReturnType<typeof setTimeout> | undefined;
  private versionDef: Definition | null = null;

  /** Follows every edit of `ed` with a validation and, a moment later, a save. */
  constructor(pid: string, wid: string, ed: Editor) {
    this.pid = pid;
    this.wid = wid;
    this.ed = ed;
    ed.onedit = () => this.edited();
  }

  /** Stops the timers (the builder is closed). */
  dispose() {
    clearTimeout(this.autosaveTimer);
    clearTimeout(this.validateTimer);
  }

  load = async () => {
    this.loadError = null;
    try {
      const [t, w] = await Promise.all([builderApi.nodeTypes(), builderApi.workflow(this.pid, this.wid)]);
      this.ed.types = t;
      this.workflow = w;
      this.ed.open(w.draft?.definition ?? { nodes: [], edges: [] });
      this.revision = w.draft?.revision ?? null;
      this.dirty = false;
      this.conflict = null;
      this.loaded = true;
      const wanted = page.url.searchParams.get('loop');
      if (wanted) this.ed.enterBody(wanted);
      this.validateNow();
    } catch (e) {
      this.loadError = e;
    }
  };

  private edited() {
    this.dirty = true;
    this.savedAt = null;
    clearTimeout(this.autosaveTimer);
    this.autosaveTimer = setTimeout(() => this.save(false), AUTOSAVE_MS);
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validateNow(), VALIDATE_MS);
  }

  /** Saves the draft: when `explicit`, even unchanged; else only when there is a change. */
  save = async (explicit: boolean) => {
    clearTimeout(this.autosaveTimer);
    if (this.ed.readOnly || this.conflict || this.saving) return;
    if (!this.dirty && !explicit) return;
    const def = this.ed.definition();
    this.saving = true;
    this.saveError = null;
    try {
      const r = await builderApi.saveDraft(this.pid, this.wid, def, this.revision);
      this.revision = r.revision;
      this.ed.showErrors(r.validation.errors, def);
      this.dirty = JSON.stringify(this.ed.definition()) !== JSON.stringify(def);
      this.savedAt = new Date();
      if (this.dirty) this.autosaveTimer = setTimeout(() => this.save(false), AUTOSAVE_MS);
    } catch (e) {
      if (!(await this.isConflict(e))) this.saveError = e;
    } finally {
      this.saving = false;
    }
  };

  saveIfDirty = async () => {
    if (this.dirty) await this.save(true);
  };

  /** Whether `e` is a refusal for an outdated revision, which is then the conflict shown. */
  private async isConflict(e: unknown): Promise<boolean> {
    if (!(e instanceof ApiError && e.status === 412)) return false;
    const w = await builderApi.workflow(this.pid, this.wid).catch(() => null);
    this.conflict = { message: e.message, theirs: w?.draft?.revision ?? null, requestId: e.requestId };
    return true;
  }

  /** The other edit wins: load the saved draft, dropping the canvas's changes. */
  takeTheirs = async () => {
    // The banner stays until the saved draft is on the canvas (load() clears it), so nothing
    // can be clicked on the discarded canvas in between.
    await this.load();
    if (!this.conflict) toasts.push('info', 'Loaded the draft as saved elsewhere.');
  };

  /** This edit wins, knowingly: save on top of the revision that is there now. */
  keepMine = async () => {
    if (!this.conflict) return;
    this.revision = this.conflict.theirs;
    this.conflict = null;
    await this.save(true);
  };

  private async validateNow() {
    const def = this.ed.definition();
    try {
      const r = await builderApi.validate(this.pid, this.wid, def);
      this.ed.showErrors(r.errors, def);
    } catch {
      /* shown on the next save */
    }
  }

  publish = async () => {
    this.publishError = null;
    if (this.dirty) await this.save(true);
    if (this.conflict || this.dirty) return;
    try {
      const v = await builderApi.publish(this.pid, this.wid, this.revision);
      toasts.ok(`Published version ${v.version}`);
      this.workflow = await builderApi.workflow(this.pid, this.wid);
    } catch (e) {
      if (!(await this.isConflict(e))) this.publishError = e;
    }
  };

  // ---- Versions ------------------------------------------------------------------------------

  compare = async (v: VersionRef) => {
    const r = await builderApi.version(this.pid, this.wid, v.version);
    this.versionDef = r.definition;
    this.comparing = v.version;
    const d = diffDefinitions(r.definition, this.ed.definition());
    view.diff = Object.fromEntries(d.nodes);
    this.removedInDraft = [...d.nodes].filter(([, c]) => c === 'removed').map(([id]) => id);
  };

  stopComparing = () => {
    this.comparing = null;
    view.diff = {};
    this.removedInDraft = [];
  };

  copyVersionIntoDraft = () => {
    if (!this.versionDef || this.ed.readOnly) return;
    this.ed.replaceWith(this.versionDef);
    this.stopComparing();
    toasts.push('info', 'The version is in the draft; it is saved in a moment.');
  };

  // ---- Import and export ---------------------------------------------------------------------

  /** Downloads the workflow's export with the canvas's definition (saved or not). */
  exportJson = async () => {
    const doc = await builderApi.exportDoc(this.pid, this.wid);
    doc.definition = this.ed.definition();
    const blob = new Blob([JSON.stringify(doc, null, 2)], { type: 'application/json' });
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${this.workflow?.name ?? 'workflow'}.json`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  importJson = async (file: File) => {
    this.importError = '';
    try {
      this.ed.replaceWith(importedDefinition(await file.text()));
      this.ed.fitAll();
    } catch (e) {
      this.importError = (e as Error).message;
    }
  };
}
