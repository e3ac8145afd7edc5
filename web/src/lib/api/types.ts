// The shapes the JSON API answers with (docs/api.md). Timestamps are ISO 8601 strings.

export type Role = 'owner' | 'admin' | 'editor' | 'viewer';
export const ROLES: Role[] = ['viewer', 'editor', 'admin', 'owner'];

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface User {
  id: string;
  email: string;
  display_name: string;
  created_at?: string;
}

export interface ProjectRef {
  id: string;
  name: string;
  role: Role;
}

export interface Me {
  user: User;
  projects: ProjectRef[];
  auth: 'session' | 'api_token';
  csrf_token?: string;
}

export interface Project extends ProjectRef {
  created_at: string;
  updated_at?: string;
}

export interface Member {
  user_id: string;
  email: string;
  display_name: string;
  role: Role;
  created_at: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at?: string | null;
  revoked_at?: string | null;
  /** Only in the answer to POST /api/tokens. */
  token?: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';

export interface LastRun {
  id: string;
  status: RunStatus;
  is_test: boolean;
  created_at: string;
  finished_at: string | null;
}

export interface WorkflowSummary {
  id: string;
  name: string;
  description: string;
  latest_version: number | null;
  has_draft: boolean;
  created_at: string;
  updated_at: string;
  archived_at?: string | null;
  last_run?: LastRun | null;
}

export interface Run {
  id: string;
  workflow_id: string;
  version: number | null;
  status: RunStatus;
  is_test: boolean;
  parent_run_id: string | null;
  /** The webhook delivery that started it (or the run it resumes), if any. */
  delivery_id?: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
}

/** A run whose http_call failed for good, or whose job gave up (docs/api.md "Dead letters"). */
export interface DeadLetter {
  id: string;
  run_id: string | null;
  workflow_id: string | null;
  kind: 'step' | 'advance';
  node: string | null;
  payload: unknown;
  attempts: number;
  last_error: string | null;
  failed_at: string;
  replayed_at: string | null;
  replayed_run_id: string | null;
  dismissed_at: string | null;
}

/** One item's outcome in a bulk dead-letter request. */
export interface BulkResult {
  id: string;
  status: number;
  run_id?: string;
  error?: { code: string; message: string };
}

export interface BulkAnswer {
  results: BulkResult[];
  succeeded: number;
  failed: number;
}

export interface Endpoint {
  id: string;
  workflow_id: string;
  public_id: string;
  path: string;
  name: string;
  is_enabled: boolean;
}
