// Workflow names by id for pages that list runs or endpoints (which carry only the id), and the
// project's workflows for pickers (the builder's call_workflow form).
import { api } from '$lib/api/client';
import type { WorkflowSummary } from '$lib/api/types';

/** The project's live workflows and its archived ones. */
export async function projectWorkflows(pid: string): Promise<{ live: WorkflowSummary[]; archived: WorkflowSummary[] }> {
  const base = `/api/projects/${encodeURIComponent(pid)}/workflows`;
  const [live, archived] = await Promise.all([
    api.all<WorkflowSummary>(base, {}, 400),
    api.all<WorkflowSummary>(base, { query: { archived: 'true' } }, 400)
  ]);
  return { live, archived };
}

export async function workflowNames(pid: string): Promise<Map<string, string>> {
  const { live, archived } = await projectWorkflows(pid);
  return new Map([...live, ...archived].map((w) => [w.id, w.name]));
}
