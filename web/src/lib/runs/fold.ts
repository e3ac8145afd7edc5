// A run's state, folded from its events (docs/internals/engine.md, the event types), for the run
// console: each step's status, attempts, request and responses, output or error; the run's status,
// trigger, output and error. Pure: the page folds the log it has each time an event arrives, so
// what it shows is always a function of the events alone, as the engine's own fold is
// (src/engine/fold.c). Events the engine would ignore (a second report of one HTTP outcome) are
// ignored here too.

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'canceled';
export type StepStatus =
  | 'pending'
  | 'running'
  | 'waiting_timer'
  | 'waiting_retry'
  | 'waiting_breaker'
  | 'succeeded'
  | 'failed'
  | 'skipped';

/** One item of GET …/runs/:rid/events (and of the run stream). */
export interface RunEvent {
  seq: number;
  type: string;
  node_id: string | null;
  attempt: number | null;
  payload: unknown;
  at: string;
  hash?: string;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, unknown>;
  body?: string;
  body_b64?: string;
  json?: unknown;
}

/** One attempt of an http_call: what was sent, what came back, and the retry it led to. */
export interface Attempt {
  attempt: number;
  startedSeq: number;
  startedAt: string;
  /** The request as recorded: `{{secrets.NAME}}` placeholders, never values. */
  request: unknown;
  idempotencyKey: string | null;
  response: HttpResponse | null;
  error: { kind?: string; message?: string } | null;
  durationMs: number | null;
  resultSeq: number | null;
  resultAt: string | null;
  /** The retry this attempt's failure scheduled: when the next attempt is due (epoch ms). */
  retry: { fireAt: number; delayMs: number | null; retryAfterMs: number | null } | null;
  /** Each time this attempt was kept from being sent by its host's open circuit breaker
   * (step_parked), and whether it was sent again afterwards (step_resumed). */
  parks: Park[];
}

/** A park: the attempt waited for the breaker of `host` until `until` (epoch ms). */
export interface Park {
  seq: number;
  at: string;
  reason: string;
  host: string | null;
  until: number | null;
  resumedSeq: number | null;
  resumedAt: string | null;
}

export interface StepView {
  id: string;
  status: StepStatus;
  attempts: number;
  /** Seq and time of the step's first and last event (null before it started). */
  firstSeq: number | null;
  lastSeq: number | null;
  startedAt: string | null;
  finishedAt: string | null;
  output?: unknown;
  error?: unknown;
  port?: 'true' | 'false';
  /** Where a failure went when it did not fail the run: the error edge, or on along the normal
   * edges ("failed, continued"). */
  handled?: 'error_edge' | 'continue';
  /** A delay's timer, a retry, or the end of a park by a breaker: when it fires (epoch ms). */
  fireAt: number | null;
  /** While parked by a breaker (waiting_breaker): the host whose breaker is open. */
  parkedHost: string | null;
  /** A wait_callback step: its one-time URL (callbacks_issued) and when it began to wait;
   * fireAt is then its timeout. */
  callbackUrl: string | null;
  waitingSince: string | null;
  httpAttempts: Attempt[];
  /** A for_each: how many items it started with (its step_started's count), else null. Its
   * items' steps are steps of their own, `<id>[<index>].<body node>` (itemProgress). */
  items: number | null;
}

/** One item of a for_each: its status (derived from its body steps as the engine does) and
 * those steps. */
export interface ItemView {
  index: number;
  status: 'pending' | 'running' | 'succeeded' | 'failed';
  steps: StepView[];
}

export interface ItemProgress {
  total: number;
  succeeded: number;
  failed: number;
  running: number;
  items: ItemView[];
}

/** The per-item progress of for_each step `id` ("17/40"), or null before it started. */
export function itemProgress(steps: Record<string, StepView>, id: string): ItemProgress | null {
  const total = steps[id]?.items;
  if (total === null || total === undefined) return null;
  const items: ItemView[] = Array.from({ length: total }, (_, index) => ({ index, status: 'pending', steps: [] }));
  const prefix = id + '[';
  for (const [sid, st] of Object.entries(steps)) {
    if (!sid.startsWith(prefix)) continue;
    const m = /^\[(\d+)\]\./.exec(sid.slice(id.length));
    const k = m ? Number(m[1]) : -1;
    if (k >= 0 && k < total) items[k].steps.push(st);
  }
  const p: ItemProgress = { total, succeeded: 0, failed: 0, running: 0, items };
  for (const it of items) {
    it.steps.sort((a, b) => (a.firstSeq ?? 0) - (b.firstSeq ?? 0));
    if (it.steps.some((s) => s.status === 'failed')) it.status = 'failed';
    else if (it.steps.length === 0) it.status = 'pending';
    else if (it.steps.every((s) => TERMINAL_STEP.has(s.status))) it.status = 'succeeded';
    else it.status = 'running';
    if (it.status !== 'pending') p[it.status]++;
  }
  return p;
}

export interface RunView {
  status: RunStatus;
  steps: Record<string, StepView>;
  /** What the nodes see as `trigger` (a webhook's JSON body parsed from its recorded bytes). */
  trigger: unknown;
  /** run_started's record of the delivery (bytes, key id, scheme), when a webhook started it. */
  delivery: Record<string, unknown> | null;
  run: { id: string; workflow: unknown; version: unknown; is_test: boolean } | null;
  rerunOf: string | null;
  /** run_started's record of the schedule tick that started it (docs/workflows.md#schedules). */
  schedule: { id: string; scheduledAt: string; cron?: string; timezone?: string; name?: string } | null;
  /** wait_callback URLs by node id (the run-level callbacks_issued). */
  callbacks: Record<string, string>;
  output?: unknown;
  error?: unknown;
  lastSeq: number;
  startedAt: string | null;
  finishedAt: string | null;
}

/** How a step state reads in the console: waiting covers a delay's timer, a retry's wait and a
 * park by an open circuit breaker. */
export type StepKind = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped';

export function stepKind(s: StepStatus): StepKind {
  return s === 'waiting_timer' || s === 'waiting_retry' || s === 'waiting_breaker' ? 'waiting' : s;
}

const TERMINAL_STEP = new Set<StepStatus>(['succeeded', 'failed', 'skipped']);
const RUN_END = new Set(['run_succeeded', 'run_failed', 'run_canceled', 'run_timed_out']);
const STEP_EVENTS = new Set([
  'step_started',
  'http_attempt',
  'retry_scheduled',
  'timer_set',
  'timer_fired',
  'step_succeeded',
  'step_failed',
  'step_skipped',
  'step_parked',
  'step_resumed'
]);

function obj(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function emptyStep(id: string): StepView {
  return {
    id,
    status: 'pending',
    attempts: 0,
    firstSeq: null,
    lastSeq: null,
    startedAt: null,
    finishedAt: null,
    fireAt: null,
    parkedHost: null,
    callbackUrl: null,
    waitingSince: null,
    httpAttempts: [],
    items: null
  };
}

/** The trigger as the nodes saw it: a JSON webhook records its bytes once (delivery.raw_body) and
 * the body is those bytes parsed (src/engine/fold.c, trigger_of). */
/** The schedule's cron, zone and name as its tick's trigger body recorded them (the schedule may
 * have changed since). */
function scheduleOf(body: Record<string, unknown>): { cron?: string; timezone?: string; name?: string } {
  const out: { cron?: string; timezone?: string; name?: string } = {};
  if (typeof body.cron === 'string') out.cron = body.cron;
  if (typeof body.timezone === 'string') out.timezone = body.timezone;
  if (typeof body.name === 'string') out.name = body.name;
  return out;
}

function triggerOf(p: Record<string, unknown>): unknown {
  const trigger = obj(p.trigger);
  const delivery = obj(p.delivery);
  if ('body' in trigger || delivery.body_from_raw !== true || typeof delivery.raw_body !== 'string')
    return p.trigger ?? {};
  let body: unknown = delivery.raw_body;
  try {
    body = JSON.parse(delivery.raw_body);
  } catch {
    // Shown through a redaction rule, the bytes may no longer parse: the text is shown.
  }
  return { ...trigger, body };
}

/**
 * Folds `events` (in seq order; gaps and repeats are skipped) over the workflow's `nodeIds`.
 * Steps of unknown nodes are added as they appear, so a log never disappears from view.
 */
export function foldRun(nodeIds: string[], events: RunEvent[]): RunView {
  const v: RunView = {
    status: 'queued',
    steps: {},
    trigger: null,
    delivery: null,
    run: null,
    rerunOf: null,
    schedule: null,
    callbacks: {},
    lastSeq: 0,
    startedAt: null,
    finishedAt: null
  };
  for (const id of nodeIds) v.steps[id] = emptyStep(id);
  for (const ev of events) {
    if (ev.seq <= v.lastSeq) continue;
    v.lastSeq = ev.seq;
    apply(v, ev);
  }
  return v;
}

function finished(v: RunView): boolean {
  return v.status === 'succeeded' || v.status === 'failed' || v.status === 'canceled';
}

function apply(v: RunView, ev: RunEvent): void {
  const p = obj(ev.payload);
  const t = ev.type;
  if (t === 'run_started') {
    v.trigger = triggerOf(p);
    v.delivery = p.delivery ? obj(p.delivery) : null;
    v.rerunOf = typeof p.rerun_of === 'string' ? p.rerun_of : null;
    const sc = p.schedule ? obj(p.schedule) : null;
    v.schedule =
      sc && typeof sc.id === 'string' && typeof sc.scheduled_at === 'string'
        ? { id: sc.id, scheduledAt: sc.scheduled_at, ...scheduleOf(obj(obj(v.trigger).body)) }
        : null;
    v.run = {
      id: String(p.run_id ?? ''),
      workflow: p.workflow_id ?? null,
      version: p.version ?? null,
      is_test: p.is_test === true
    };
    v.startedAt = ev.at;
    return;
  }
  if (t === 'callbacks_issued') {
    for (const [node, c] of Object.entries(obj(p.callbacks))) {
      const url = obj(c).url;
      if (typeof url === 'string') v.callbacks[node] = url;
    }
    return;
  }
  const isStep = STEP_EVENTS.has(t);
  const isEnd = RUN_END.has(t);
  if (finished(v) && (isStep || isEnd)) return; // the engine refuses these; nothing to show
  if (isStep && ev.node_id) {
    const s = (v.steps[ev.node_id] ??= emptyStep(ev.node_id));
    if (!applyStep(s, ev, p)) return;
    if (t === 'timer_set' && p.wait === 'callback') {
      s.callbackUrl = v.callbacks[ev.node_id] ?? null;
      s.waitingSince = ev.at;
    }
    s.firstSeq ??= ev.seq;
    s.startedAt ??= ev.at;
    s.lastSeq = ev.seq;
    if (TERMINAL_STEP.has(s.status)) s.finishedAt = ev.at;
  } else if (t === 'run_succeeded') {
    v.status = 'succeeded';
    v.output = p.output;
  } else if (t === 'run_failed' || t === 'run_timed_out') {
    v.status = 'failed';
    v.output = p.output;
    v.error = p.error;
  } else if (t === 'run_canceled') {
    v.status = 'canceled';
    v.error = {
      kind: 'canceled',
      message: typeof p.reason === 'string' ? p.reason : 'the run was canceled'
    };
  }
  if (isEnd) v.finishedAt = ev.at;
  if (v.status === 'queued' && (isStep || isEnd)) v.status = 'running';
}

/** Applies one step event; false when the engine would have ignored it. */
function applyStep(s: StepView, ev: RunEvent, p: Record<string, unknown>): boolean {
  const attempt = ev.attempt ?? 0;
  switch (ev.type) {
    case 'step_started': {
      s.status = 'running';
      s.attempts = attempt;
      if (typeof p.count === 'number' && Array.isArray(p.items)) s.items = p.count;
      const first = s.httpAttempts[0];
      s.httpAttempts.push({
        attempt,
        startedSeq: ev.seq,
        startedAt: ev.at,
        // Later attempts resend the first one's request (src/engine/decide.c, start_http).
        request: attempt <= 1 || !first ? (p.request ?? null) : first.request,
        idempotencyKey: typeof p.idempotency_key === 'string' ? p.idempotency_key : null,
        response: null,
        error: null,
        durationMs: null,
        resultSeq: null,
        resultAt: null,
        retry: null,
        parks: []
      });
      s.fireAt = null;
      return true;
    }
    case 'step_parked': {
      // A report, like http_attempt: it applies to the current attempt while it runs.
      const a = s.httpAttempts.at(-1);
      if (s.status !== 'running' || !a || a.attempt !== attempt || a.resultSeq !== null) return false;
      s.status = 'waiting_breaker';
      s.fireAt = num(p.until);
      s.parkedHost = typeof p.host === 'string' ? p.host : null;
      a.parks.push({
        seq: ev.seq,
        at: ev.at,
        reason: typeof p.reason === 'string' ? p.reason : 'breaker_open',
        host: s.parkedHost,
        until: num(p.until),
        resumedSeq: null,
        resumedAt: null
      });
      return true;
    }
    case 'step_resumed': {
      if (s.status !== 'waiting_breaker') return false;
      s.status = 'running';
      s.fireAt = null;
      s.parkedHost = null;
      const park = s.httpAttempts.at(-1)?.parks.at(-1);
      if (park) {
        park.resumedSeq = ev.seq;
        park.resumedAt = ev.at;
      }
      return true;
    }
    case 'http_attempt': {
      const a = s.httpAttempts.at(-1);
      // A parked attempt still takes its outcome (another server may have sent it meanwhile).
      if ((s.status !== 'running' && s.status !== 'waiting_breaker') || !a || a.attempt !== attempt || a.resultSeq !== null)
        return false;
      s.status = 'running';
      s.fireAt = null;
      s.parkedHost = null;
      a.response = p.response ? (obj(p.response) as unknown as HttpResponse) : null;
      a.error = p.error ? (obj(p.error) as Attempt['error']) : null;
      a.durationMs = num(p.duration_ms);
      a.resultSeq = ev.seq;
      a.resultAt = ev.at;
      if (!a.request && p.request) a.request = p.request;
      return true;
    }
    case 'retry_scheduled': {
      s.status = 'waiting_retry';
      s.fireAt = num(p.fire_at);
      const a = s.httpAttempts.at(-1);
      if (a)
        a.retry = {
          fireAt: num(p.fire_at) ?? 0,
          delayMs: num(p.delay_ms),
          retryAfterMs: num(p.retry_after_ms)
        };
      return true;
    }
    case 'timer_set':
      s.status = 'waiting_timer';
      s.attempts = 1;
      s.fireAt = num(p.fire_at);
      return true;
    case 'timer_fired':
      return true;
    case 'step_succeeded':
      s.status = 'succeeded';
      if (s.attempts === 0) s.attempts = 1;
      s.output = p.output;
      if (p.port === 'true' || p.port === 'false') s.port = p.port;
      s.fireAt = null;
      return true;
    case 'step_failed':
      s.status = 'failed';
      if (attempt > s.attempts) s.attempts = attempt;
      s.error = p.error;
      if (p.handled === 'error_edge' || p.handled === 'continue') s.handled = p.handled;
      s.fireAt = null;
      return true;
    case 'step_skipped':
      s.status = 'skipped';
      return true;
  }
  return false;
}

/** The nodes whose outputs `node` sees: its ancestors along `edges` ({from, to}). */
export function ancestors(edges: { from: string; to: string }[], node: string): Set<string> {
  const out = new Set<string>();
  const stack = [node];
  while (stack.length) {
    const n = stack.pop()!;
    for (const e of edges)
      if (e.to === n && !out.has(e.from)) {
        out.add(e.from);
        stack.push(e.from);
      }
  }
  return out;
}

/** The context `node` evaluated against, rebuilt from the fold: the trigger, the outputs of its
 * succeeded ancestors, the errors of its failed ones whose failure the run went on from, and the
 * run (docs/workflows.md, "What a node sees"). */
export function inputContext(
  v: RunView,
  edges: { from: string; to: string }[],
  node: string
): { trigger: unknown; steps: Record<string, { output: unknown } | { error: unknown }>; run: unknown } {
  const steps: Record<string, { output: unknown } | { error: unknown }> = {};
  const up = ancestors(edges, node);
  for (const id of Object.keys(v.steps).sort()) {
    const s = v.steps[id];
    if (!up.has(id)) continue;
    if (s.status === 'succeeded') steps[id] = { output: s.output };
    else if (s.status === 'failed' && s.handled) steps[id] = { error: s.error };
  }
  return { trigger: v.trigger, steps, run: v.run };
}

/** Milliseconds from one event to the next of the same node (or run), for the timeline. */
export function eventDurations(events: RunEvent[]): Map<number, number> {
  const out = new Map<number, number>();
  const lastByNode = new Map<string, RunEvent>();
  for (const ev of events) {
    const key = ev.node_id ?? '';
    const prev = lastByNode.get(key);
    if (prev) out.set(ev.seq, Date.parse(ev.at) - Date.parse(prev.at));
    lastByNode.set(key, ev);
  }
  return out;
}
