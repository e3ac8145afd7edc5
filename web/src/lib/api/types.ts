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
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
}

/** One bucket of GET /api/projects/:pid/stats (docs/observability.md "Statistics"). */
export interface StatsPoint {
  t: string;
  started: number;
  succeeded: number;
  failed: number;
  canceled: number;
  error_rate: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  deliveries_accepted: number;
  deliveries_duplicate: number;
  deliveries_refused: number;
  queue_due: number;
  queue_leased: number;
  queue_scheduled: number;
}

export interface Stats {
  window: string;
  grain: 'minute' | 'hour' | 'day';
  workflow_id: string | null;
  from: string;
  to: string;
  as_of: string | null;
  percentile_relative_error: number;
  summary: {
    started: number;
    succeeded: number;
    failed: number;
    canceled: number;
    error_rate: number | null;
    p50_ms: number | null;
    p95_ms: number | null;
    p99_ms: number | null;
    deliveries: { accepted: number; duplicate: number; refused: number };
    queue_due_max: number;
    queue_scheduled_max: number;
  };
  points: StatsPoint[];
}
