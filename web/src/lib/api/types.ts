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
  /** The schedule whose tick started it, if any (docs/workflows.md#schedules). */
  schedule_id?: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  error: unknown;
}

export type AlertKind =
  | 'run_failed'
  | 'failure_count'
  | 'failure_rate'
  | 'dead_letter'
  | 'queue_age'
  | 'refusals'
  | 'breaker_opened';

export interface AlertRule {
  id: string;
  name: string;
  kind: AlertKind;
  window_s: number;
  threshold: number;
  workflow_ids: string[] | null;
  channel_ids: string[];
  /** breaker_opened: the host (or origin) watched; null: any host. */
  host: string | null;
  enabled: boolean;
  state: 'ok' | 'firing';
  alert_id: string | null;
  created_at: string;
  updated_at: string;
}

export interface AlertChannel {
  id: string;
  name: string;
  type: 'webhook' | 'workflow';
  url: string | null;
  workflow_id: string | null;
  created_at: string;
  last_delivery: { status: string; last_status: number | null; at: string } | null;
  /** Only in the creation's answer: the Standard Webhooks secret, shown once. */
  secret?: string;
}

export interface AlertDelivery {
  id: string;
  alert_id: string;
  event: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  run_id: string | null;
  created_at: string;
  finished_at: string | null;
  attempt_log: { attempt: number; at: string; status: number | null; error: string | null; duration_ms: number }[];
}

export interface AlertEntry {
  id: string;
  rule_id: string | null;
  rule_name: string;
  kind: string;
  state: 'firing' | 'resolved' | 'test';
  value: number;
  threshold: number;
  window_s: number;
  count: number;
  started_at: string;
  notified_at: string;
  resolved_at: string | null;
  /** What the alert is about, when it is about one thing (a breaker_opened alert: the host). */
  detail?: { host?: string; origin?: string; opened_at?: string; closed_at?: string; failures?: number };
  deliveries: { id: string; channel_id: string; event: string; status: string; attempts: number; run_id: string | null }[];
}

/** A verification scheme's name: one of GET /api/schemes (src/schemes/schemes.c). */
export type Scheme = string;

/** An endpoint's `verification` (docs/webhooks.md "Verification schemes"): the scheme and its
 * settings, as GET /api/schemes describes them. */
export interface Verification {
  scheme: Scheme;
  [setting: string]: string | number | boolean | null | undefined;
}

/** One setting of a scheme (GET /api/schemes). */
export interface SchemeField {
  name: string;
  type: 'string' | 'integer' | 'boolean';
  label: string;
  help?: string;
  placeholder?: string;
  default: string | number | boolean | null;
  max_length?: number;
  minimum?: number;
  maximum?: number;
  choices?: { value: string; label: string }[];
  format?: 'header-name' | 'printable';
}

/** GET /api/schemes: a verification scheme as the server's table describes it. */
export interface SchemeInfo {
  name: Scheme;
  label: string;
  summary: string;
  headers: string[];
  idempotency_headers: string[];
  keys: { kind: 'none' | 'secret' | 'jwt'; algorithms: string[]; own_secret?: string };
  fields: SchemeField[];
}

export interface EndpointKey {
  id: string;
  algorithm: string;
  kid: string | null;
  label: string;
  public_key_pem: string | null;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
  last_used_at: string | null;
  is_active: boolean;
  /** Only in the answer that creates the key: shown once. */
  secret?: string;
}

export interface EndpointSummary {
  id: string;
  workflow_id: string;
  public_id: string;
  path: string;
  name: string;
  is_enabled: boolean;
  scheme: Scheme;
  methods: string[];
  pinned_version: number | null;
  created_at: string;
  active_keys: number;
}

export interface Endpoint {
  id: string;
  workflow_id: string;
  public_id: string;
  path: string;
  name: string;
  is_enabled: boolean;
  methods: string[];
  pinned_version: number | null;
  verification: Verification;
  max_body_bytes: number;
  rate_capacity: number;
  rate_per_second: number;
  json_schema: unknown;
  idempotency_retention_s: number;
  /** accept: 202 once recorded; respond: the run's respond node answers (docs/webhooks.md). */
  response_mode: 'accept' | 'respond';
  response_timeout_ms: number;
  created_at: string;
  updated_at: string;
  keys: EndpointKey[];
}

/** GET .../endpoints/:id/examples, and the answers that create a key. */
export interface SenderExamples {
  scheme: Scheme;
  url: string;
  method: string;
  content_type: string;
  body: string;
  secret_included: boolean;
  script: string;
  provider: { name: string; where: string; settings: { name: string; value: string; note?: string }[] } | null;
  notes: string[];
}

export interface EndpointCreated extends Endpoint {
  key?: EndpointKey;
  examples: SenderExamples;
}

export interface KeyCreated {
  key: EndpointKey;
  keys: EndpointKey[];
  examples: SenderExamples;
}

export type Outcome = 'accepted' | 'refused' | 'duplicate';

export interface Delivery {
  id: string;
  received_at: string;
  method: string;
  status: number;
  outcome: Outcome;
  reason: string | null;
  headers: Record<string, string>;
  content_type: string | null;
  body_size: number;
  body_sha256: string | null;
  key_id: string | null;
  run_id: string | null;
  replay_of: string | null;
  is_test: boolean;
  endpoint_id: string;
  endpoint_name?: string;
  /** Only in a delivery's detail: the bytes received, as text, for a delivery that started a run
   * or a refusal that kept its body (a JSON Schema refusal, or nothing published). */
  body?: string;
  redacted?: boolean;
  /** Only in a delivery's detail: whether it can be replayed, and if not, why. */
  replayable?: boolean;
  not_replayable_reason?: string;
  /** Only in a delivery's detail: the deliveries replaying it, newest first (at most 20). */
  replays?: { id: string; run_id: string | null; received_at: string }[];
}

export interface TestWebhookResult {
  request: { content_type: string; headers: Record<string, string> };
  response: { status: number; body: unknown };
  run: { id: string; status: RunStatus; is_test: boolean } | null;
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

/** GET /api/projects/{id}/limits (docs/operations.md, "Resource limits per project"). */
export type LimitField = 'runs_in_flight' | 'http_calls_in_flight' | 'stored_bytes';
export interface ProjectLimits extends Record<LimitField, number | null> {
  updated_at: string | null;
  defaults: Record<LimitField, number>;
  effective: Record<LimitField, number>;
  usage: { runs_in_flight: number; stored_bytes: number; stored_bytes_measured_at: string | null };
}
