// The builder's calls to the API (docs/api.md "Workflows", "Mapping preview", "Expression
// check", "Starter templates"), typed. Errors are the client's ApiError.
import { api, seg } from '$lib/api/client';
import type { Definition, ValidationError } from '$lib/graph/types';
import type { Syntax } from '$lib/graph/form';

export interface NodeType {
  type: string;
  title: string;
  description: string;
  config_schema: Record<string, unknown>;
}

export interface VersionRef {
  id: string;
  version: number;
  published_at: string;
  created_by: string | null;
}

export interface WorkflowFull {
  id: string;
  project_id: string;
  name: string;
  description: string;
  latest_version: number | null;
  draft: { id: string; definition: Definition; saved_by: string | null; revision: number } | null;
  versions: VersionRef[];
}

export interface Validation {
  valid: boolean;
  errors: ValidationError[];
}

export interface PreviewStep {
  type: string;
  status: string;
  attempts: number;
  stand_in: boolean;
  output?: unknown;
  port?: 'true' | 'false';
  request?: Record<string, unknown>;
  fire_at?: string;
  error?: { kind?: string; message?: string; path?: string; offset?: number };
}

export interface Preview {
  status: 'succeeded' | 'failed' | 'stopped' | string;
  steps: Record<string, PreviewStep>;
  order: string[];
  stopped_at: string[];
  output?: unknown;
  error?: { message?: string };
  redacted: boolean;
}

/** One entry of a definition's `schedules` (docs/workflows.md#schedules). */
export interface Schedule {
  cron: string;
  timezone?: string;
  catch_up?: 'skip' | 'run';
  max_catch_up?: number;
  name?: string;
  [other: string]: unknown;
}

const wf = (pid: string, wid: string) => `/api/projects/${seg(pid)}/workflows/${seg(wid)}`;

export const builderApi = {
  nodeTypes: () => api.get<{ types: NodeType[] }>('/api/node-types').then((r) => r.types),
  workflow: (pid: string, wid: string) => api.get<WorkflowFull>(wf(pid, wid)),
  /** Saves the draft; with `revision`, only if it is still the current one (412 otherwise). */
  saveDraft: (pid: string, wid: string, definition: Definition, revision: number | null) =>
    api.put<{ definition: Definition; revision: number; validation: Validation }>(
      `${wf(pid, wid)}/draft`,
      { definition },
      revision === null ? {} : { headers: { 'If-Match': `"${revision}"` } }
    ),
  validate: (pid: string, wid: string, definition: Definition) =>
    api.post<Validation>(`${wf(pid, wid)}/validate`, { definition }),
  publish: (pid: string, wid: string, revision: number | null) =>
    api.post<{ version: number; draft_revision: number }>(
      `${wf(pid, wid)}/publish`,
      {},
      revision === null ? {} : { headers: { 'If-Match': `"${revision}"` } }
    ),
  version: (pid: string, wid: string, n: number) =>
    api.get<VersionRef & { definition: Definition }>(`${wf(pid, wid)}/versions/${n}`),
  preview: (pid: string, wid: string, body: Record<string, unknown>) =>
    api.post<Preview>(`${wf(pid, wid)}/preview`, body),
  testRun: (pid: string, wid: string, sample: { payload?: unknown; headers?: unknown }) =>
    api.post<{ run_id: string }>(`${wf(pid, wid)}/test-runs`, sample),
  endpoints: (pid: string, wid: string) =>
    api
      .get<{ items: { id: string; name: string; public_id: string }[] }>(
        `/api/projects/${seg(pid)}/workflows/${seg(wid)}/endpoints`
      )
      .then((r) => r.items),
  deliveries: (pid: string, eid: string) =>
    api
      .get<{ items: { id: string; received_at: string }[] }>(
        `/api/projects/${seg(pid)}/endpoints/${seg(eid)}/deliveries`,
        { query: { outcome: 'accepted', limit: 10 } }
      )
      .then((r) => r.items),
  exportDoc: (pid: string, wid: string) => api.get<Record<string, unknown>>(`${wf(pid, wid)}/export`),
  checkExpression: (expression: string, syntax: Syntax, signal?: AbortSignal) =>
    api.post<{ ok: boolean; error?: { code: string; message: string; offset?: number } }>(
      '/api/expressions/check',
      { expression, syntax },
      { signal }
    )
};
