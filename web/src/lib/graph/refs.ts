// What a reference field (form.ts, `x-meshhook-ref`) offers and shows: the choices of a
// `workflow` picker (the project's workflows by name with their published versions, never the
// workflow being edited) and of a `workflow_version` picker ("latest" or a published version),
// and what to say about a value that names nothing the project has. Pure, so the picker only
// draws it.

/** A workflow as the project's list gives it (GET …/workflows). */
export interface WorkflowRef {
  id: string;
  name: string;
  latest_version: number | null;
  archived_at?: string | null;
}

export interface RefOption {
  value: string;
  label: string;
}

export interface RefChoices {
  options: RefOption[];
  /** The option of the current value ('' when there is none yet). */
  selected: string;
  /** What is wrong with the current value, for the line under the field; null when nothing. */
  problem: string | null;
}

/** A version list stops here: a pinned version beyond it can still be shown, and typed. */
export const VERSIONS_LISTED = 100;

const byName = (a: WorkflowRef, b: WorkflowRef) =>
  a.name.localeCompare(b.name, undefined, { sensitivity: 'base' }) || a.id.localeCompare(b.id);

export function workflowLabel(w: WorkflowRef): string {
  return w.latest_version ? `${w.name} — v${w.latest_version}` : `${w.name} — not published yet`;
}

/** The choices of a workflow picker: the live workflows but `self` by name, and the current
 * value even when it is not one of them (archived, deleted, this workflow, not a workflow id),
 * shown with its raw id, never dropped. */
export function workflowChoices(live: WorkflowRef[], archived: WorkflowRef[], self: string, value: unknown): RefChoices {
  const options = live
    .filter((w) => w.id !== self)
    .sort(byName)
    .map((w) => ({ value: w.id, label: workflowLabel(w) }));
  if (value === undefined || value === null || value === '') return { options, selected: '', problem: null };
  const id = String(value);
  const key = id.toLowerCase();
  const same = (w: WorkflowRef) => w.id.toLowerCase() === key;
  const found = options.find((o) => o.value.toLowerCase() === key);
  if (found) {
    const w = live.find(same)!;
    return {
      options,
      selected: found.value,
      problem: w.latest_version ? null : `${w.name} has no published version yet: publish it, or the call fails when it starts.`
    };
  }
  let label: string;
  let problem: string;
  const gone = archived.find(same);
  if (key === self.toLowerCase()) {
    label = `This workflow (${id})`;
    problem = 'A workflow cannot call itself: that is a cycle. Choose another workflow.';
  } else if (gone) {
    label = `${gone.name} (archived) — ${id}`;
    problem = `${gone.name} is archived: a call to it fails. Restore it, or choose another workflow.`;
  } else {
    label = `Unknown workflow — ${id}`;
    problem = `No workflow of this project has the id ${id}: it was deleted, or belongs to another project.`;
  }
  return { options: [{ value: id, label }, ...options], selected: id, problem };
}

/** The choices of a version picker for the workflow `target` (undefined: not chosen, or not
 * known): "latest" (the schema's default when `dflt` is "latest") and every published version,
 * newest first; a pinned version that is not published is kept, and said so. */
export function versionChoices(target: WorkflowRef | undefined, value: unknown, dflt: unknown): RefChoices {
  const latest = target?.latest_version ?? 0;
  const options: RefOption[] = [
    {
      value: 'latest',
      label: !target ? 'Latest published' : latest ? `Latest published (now v${latest})` : 'Latest published (none yet)'
    }
  ];
  for (let v = latest; v >= 1 && v > latest - VERSIONS_LISTED; v--) options.push({ value: String(v), label: `v${v}` });
  const current = value === undefined ? dflt : value;
  if (current === undefined || current === 'latest') return { options, selected: current === 'latest' ? 'latest' : '', problem: null };
  const s = String(current);
  if (!options.some((o) => o.value === s)) {
    const pinned = typeof current === 'number' && Number.isInteger(current) && current >= 1;
    let label = `v${s}`;
    let problem: string | null = null;
    if (!pinned) {
      label = `${s} (not a version)`;
      problem = `“${s}” is not a version: choose “latest” or a published version.`;
    } else if (target && current > latest) {
      label = `v${s} (not published)`;
      problem = `${target.name} has no version ${s}${latest ? ` (its latest is v${latest})` : ' (it is not published yet)'}: the call fails when it starts.`;
    }
    options.push({ value: s, label });
    return { options, selected: s, problem };
  }
  return { options, selected: s, problem: null };
}

/** The config value of a version option: "latest", or a pinned version's number. */
export function versionValue(option: string): unknown {
  if (option === '') return undefined;
  if (option === 'latest') return 'latest';
  const n = Number(option);
  return Number.isInteger(n) && n >= 1 ? n : option;
}

/** The config of the object holding a ref field after choosing `value` for it: the field set
 * (or removed for undefined) and its dependents back to their defaults (a pinned version of one
 * workflow means nothing for another). One change, so one step of undo. */
export function withRefChoice(
  obj: Record<string, unknown> | undefined,
  key: string,
  value: unknown,
  dependents: { key: string; default?: unknown }[] = []
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(obj ?? {}) };
  if (value === undefined) delete out[key];
  else out[key] = value;
  for (const d of dependents) {
    if (d.default === undefined || (typeof d.default === 'object' && d.default !== null)) delete out[d.key];
    else out[d.key] = d.default;
  }
  return out;
}

/** A server message naming workflows by id (a call cycle's path) with their names instead:
 * `self` reads "this workflow". */
export function nameWorkflows(message: string, workflows: WorkflowRef[], self: string): string {
  return message.replace(/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/g, (id) => {
    if (id.toLowerCase() === self.toLowerCase()) return 'this workflow';
    const w = workflows.find((x) => x.id.toLowerCase() === id.toLowerCase());
    return w ? `“${w.name}”` : id;
  });
}
