// Workflow names by id for pages that list runs or endpoints (which carry only the id).
import { api } from '$lib/api/client';
import type { WorkflowSummary } from '$lib/api/types';

export async function workflowNames(pid: string): Promise<Map<string, string>> {
  const base = `/api/projects/${encodeURIComponent(pid)}/workflows`;
  const [live, archived] = await Promise.all([
    api.all<WorkflowSummary>(base, {}, 400),
    api.all<WorkflowSummary>(base, { query: { archived: 'true' } }, 400)
  ]);
  return new Map([...live, ...archived].map((w) => [w.id, w.name]));
}
