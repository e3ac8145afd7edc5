import { describe, expect, it } from 'vitest';
import { eventDurations, foldRun, inputContext, itemProgress, stepKind, type RunEvent } from './fold';

let seq = 0;
function ev(type: string, node: string | null, payload: unknown = {}, attempt: number | null = null, at?: string): RunEvent {
  seq++;
  return { seq, type, node_id: node, attempt, payload, at: at ?? new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString() };
}

function started(extra: Record<string, unknown> = {}): RunEvent {
  seq = 0;
  return ev('run_started', null, {
    run_id: 'r1',
    workflow_id: 'w1',
    version: 3,
    is_test: false,
    trigger: { body: { n: 1 }, headers: {}, query: {}, received_at: 'x' },
    ...extra
  });
}

describe('foldRun', () => {
  it('walks a delay workflow: queued, running, waiting, succeeded', () => {
    const nodes = ['a', 'wait', 'b'];
    const log = [started()];
    expect(foldRun(nodes, log).status).toBe('queued');
    log.push(ev('step_succeeded', 'a', { output: { x: 1 } }, 1));
    let v = foldRun(nodes, log);
    expect(v.status).toBe('running');
    expect(v.steps.a.status).toBe('succeeded');
    expect(v.steps.wait.status).toBe('pending');
    log.push(ev('timer_set', 'wait', { fire_at: 1767225600000 }, 1));
    v = foldRun(nodes, log);
    expect(v.steps.wait.status).toBe('waiting_timer');
    expect(stepKind(v.steps.wait.status)).toBe('waiting');
    expect(v.steps.wait.fireAt).toBe(1767225600000);
    log.push(ev('timer_fired', 'wait', {}, 1));
    expect(foldRun(nodes, log).steps.wait.status).toBe('waiting_timer');
    log.push(ev('step_succeeded', 'wait', { output: null }, 1));
    log.push(ev('step_succeeded', 'b', { output: { y: 2 } }, 1));
    log.push(ev('run_succeeded', null, { output: { b: { y: 2 } } }));
    v = foldRun(nodes, log);
    expect(v.status).toBe('succeeded');
    expect(v.output).toEqual({ b: { y: 2 } });
    expect(v.steps.wait.status).toBe('succeeded');
    expect(v.steps.wait.firstSeq).toBe(3);
    expect(v.steps.wait.lastSeq).toBe(5);
    expect(v.finishedAt).toBe(log.at(-1)!.at);
  });

  it('shows a wait_callback step its URL and when it waits since (callbacks_issued, timer_set)', () => {
    const url = 'https://hooks.example.com/callbacks/r1.approve.MAC';
    const log = [started(), ev('callbacks_issued', null, { callbacks: { approve: { url } } })];
    log.push(ev('timer_set', 'approve', { fire_at: 1767229200000, wait: 'callback' }, 1));
    let v = foldRun(['approve'], log);
    expect(v.callbacks).toEqual({ approve: url });
    expect(v.steps.approve.status).toBe('waiting_timer');
    expect(v.steps.approve.callbackUrl).toBe(url);
    expect(v.steps.approve.waitingSince).toBe(log.at(-1)!.at);
    expect(v.steps.approve.fireAt).toBe(1767229200000);
    log.push(ev('callback_received', 'approve', { body: { ok: true } }, 1));
    log.push(ev('step_succeeded', 'approve', { output: { ok: true } }, 1));
    v = foldRun(['approve'], log);
    expect(v.steps.approve.status).toBe('succeeded');
    expect(v.steps.approve.output).toEqual({ ok: true });
  });

  it('records every http_call attempt, the retry it scheduled and the failure', () => {
    const req = { method: 'POST', url: 'http://t/x', headers: { authorization: 'Bearer {{secrets.TOKEN}}' } };
    const log = [
      started(),
      ev('step_started', 'call', { request: req, idempotency_key: 'k1', timeout_ms: 1000 }, 1),
      ev('http_attempt', 'call', { response: { status: 500, headers: {}, body: 'no' }, duration_ms: 12 }, 1),
      ev('retry_scheduled', 'call', { fire_at: 5000, delay_ms: 40, error: { kind: 'http_status' } }, 2),
      ev('step_started', 'call', { idempotency_key: 'k1' }, 2),
      // A duplicate report of the same outcome is ignored, as the engine ignores it.
      ev('http_attempt', 'call', { error: { kind: 'connection', message: 'refused' }, duration_ms: 3 }, 2),
      ev('http_attempt', 'call', { response: { status: 200, headers: {}, body: 'dup' }, duration_ms: 1 }, 2),
      ev('step_failed', 'call', { error: { kind: 'connection', message: 'connection: refused (after 2 attempts)' } }, 2),
      ev('run_failed', null, { error: { kind: 'step_failed', node: 'call' } })
    ];
    const v = foldRun(['call'], log);
    const s = v.steps.call;
    expect(s.status).toBe('failed');
    expect(s.attempts).toBe(2);
    expect(s.httpAttempts).toHaveLength(2);
    expect(s.httpAttempts[0].response?.status).toBe(500);
    expect(s.httpAttempts[0].durationMs).toBe(12);
    expect(s.httpAttempts[0].retry).toEqual({ fireAt: 5000, delayMs: 40, retryAfterMs: null });
    // The second attempt resent the first one's request.
    expect(s.httpAttempts[1].request).toEqual(req);
    expect(s.httpAttempts[1].error).toEqual({ kind: 'connection', message: 'refused' });
    expect(s.httpAttempts[1].response).toBeNull();
    expect(s.error).toEqual({ kind: 'connection', message: 'connection: refused (after 2 attempts)' });
    expect(v.status).toBe('failed');
    expect(v.error).toEqual({ kind: 'step_failed', node: 'call' });
  });

  it('shows a retry wait as waiting, then running again', () => {
    const log = [
      started(),
      ev('step_started', 'call', { request: {} }, 1),
      ev('http_attempt', 'call', { response: { status: 503, headers: {} } }, 1),
      ev('retry_scheduled', 'call', { fire_at: 9, retry_after_ms: 2000, delay_ms: 2000 }, 2)
    ];
    let v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('waiting_retry');
    expect(stepKind(v.steps.call.status)).toBe('waiting');
    expect(v.steps.call.fireAt).toBe(9);
    log.push(ev('step_started', 'call', {}, 2));
    v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('running');
    expect(v.steps.call.fireAt).toBeNull();
  });

  it('shows a step parked by an open breaker as waiting until when, then running when resumed', () => {
    const log = [
      started(),
      ev('step_started', 'call', { request: { method: 'POST' } }, 1),
      ev('step_parked', 'call', { reason: 'breaker_open', host: 'https://api.test:443', until: 5000 }, 1)
    ];
    let v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('waiting_breaker');
    expect(stepKind(v.steps.call.status)).toBe('waiting');
    expect(v.steps.call.fireAt).toBe(5000);
    expect(v.steps.call.parkedHost).toBe('https://api.test:443');
    expect(v.steps.call.attempts).toBe(1);
    expect(v.steps.call.httpAttempts[0].parks).toHaveLength(1);
    // A second park report of the same parked attempt changes nothing (the engine ignores it).
    log.push(ev('step_parked', 'call', { reason: 'breaker_open', host: 'x', until: 9999 }, 1));
    v = foldRun(['call'], log);
    expect(v.steps.call.fireAt).toBe(5000);
    expect(v.steps.call.httpAttempts[0].parks).toHaveLength(1);
    log.push(ev('step_resumed', 'call', { until: 5000 }, 1));
    v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('running');
    expect(v.steps.call.fireAt).toBeNull();
    expect(v.steps.call.parkedHost).toBeNull();
    expect(v.steps.call.httpAttempts[0].parks[0].resumedSeq).toBe(5);
    log.push(ev('http_attempt', 'call', { response: { status: 200, headers: {} } }, 1));
    log.push(ev('step_succeeded', 'call', { output: {} }, 1));
    v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('succeeded');
    expect(v.steps.call.attempts).toBe(1);
    expect(v.steps.call.httpAttempts).toHaveLength(1);
    expect(v.steps.call.httpAttempts[0].response?.status).toBe(200);
  });

  it('ignores a resume of a step that is not parked', () => {
    const log = [started(), ev('step_started', 'call', { request: {} }, 1), ev('step_resumed', 'call', {}, 1)];
    const v = foldRun(['call'], log);
    expect(v.steps.call.status).toBe('running');
    expect(v.steps.call.lastSeq).toBe(2);
  });

  it('parses a webhook body from its recorded bytes, skips repeats and keeps unknown nodes', () => {
    const first = started({
      trigger: { headers: { 'x-sig': '[redacted]' }, query: {} },
      delivery: { raw_body: '{"order": 7}', body_from_raw: true, key_id: 'k' },
      rerun_of: 'r0'
    });
    const skipped = ev('step_skipped', 'gone', {}, null);
    const v = foldRun([], [first, skipped, skipped]);
    expect(v.trigger).toEqual({ headers: { 'x-sig': '[redacted]' }, query: {}, body: { order: 7 } });
    expect(v.delivery?.key_id).toBe('k');
    expect(v.rerunOf).toBe('r0');
    expect(v.schedule).toBeNull();
    expect(v.steps.gone.status).toBe('skipped');
    expect(v.lastSeq).toBe(2);
  });

  it('records the schedule tick that started a run', () => {
    const v = foldRun([], [started({ schedule: { id: 's1', scheduled_at: '2026-12-07T07:30:00.000Z' } })]);
    expect(v.schedule).toEqual({ id: 's1', scheduledAt: '2026-12-07T07:30:00.000Z' });
  });

  it("keeps the schedule's cron, zone and name from the trigger it recorded", () => {
    const body = { schedule_id: 's1', name: 'nightly', cron: '30 7 * * *', timezone: 'Europe/Paris', scheduled_at: 'x' };
    const v = foldRun([], [started({ schedule: { id: 's1', scheduled_at: 'x' }, trigger: { body, headers: {}, query: {} } })]);
    expect(v.schedule).toEqual({ id: 's1', scheduledAt: 'x', cron: '30 7 * * *', timezone: 'Europe/Paris', name: 'nightly' });
  });

  it('takes a branch port, a cancellation and ignores steps after the end', () => {
    const log = [
      started(),
      ev('step_succeeded', 'br', { output: true, port: 'true' }, 1),
      ev('run_canceled', null, { reason: 'canceled through the API' }),
      ev('step_succeeded', 'late', { output: 1 }, 1)
    ];
    const v = foldRun(['br', 'late'], log);
    expect(v.steps.br.port).toBe('true');
    expect(v.status).toBe('canceled');
    expect(v.error).toEqual({ kind: 'canceled', message: 'canceled through the API' });
    expect(v.steps.late.status).toBe('pending');
  });
});

describe('inputContext', () => {
  it('holds the trigger, the run and only the succeeded ancestors', () => {
    const log = [
      started(),
      ev('step_succeeded', 'a', { output: 1 }, 1),
      ev('step_succeeded', 'side', { output: 2 }, 1),
      ev('step_failed', 'b', { error: {} }, 1)
    ];
    const v = foldRun(['a', 'side', 'b', 'c'], log);
    const edges = [
      { from: 'a', to: 'b' },
      { from: 'b', to: 'c' },
      { from: 'side', to: 'x' }
    ];
    const ctx = inputContext(v, edges, 'c');
    expect(ctx.steps).toEqual({ a: { output: 1 } });
    expect(ctx.trigger).toEqual({ body: { n: 1 }, headers: {}, query: {}, received_at: 'x' });
    expect(ctx.run).toEqual({ id: 'r1', workflow: 'w1', version: 3, is_test: false });
  });
});

describe('error paths', () => {
  it('folds where a handled failure went and shows it to the steps after it as {error}', () => {
    const log = [
      started(),
      ev('step_failed', 'lookup', { error: { kind: 'http_status', status: 404 }, handled: 'continue' }, 1),
      ev('step_failed', 'charge', { error: { kind: 'http_status', status: 503 }, handled: 'error_edge' }, 2),
      ev('step_skipped', 'receipt', {}, 0),
      ev('step_succeeded', 'alert', { output: 1 }, 1),
      ev('run_succeeded', null, { output: {} })
    ];
    const v = foldRun(['lookup', 'charge', 'receipt', 'alert'], log);
    expect(v.status).toBe('succeeded');
    expect(v.steps.lookup.status).toBe('failed');
    expect(v.steps.lookup.handled).toBe('continue');
    expect(v.steps.charge.handled).toBe('error_edge');
    const edges = [
      { from: 'lookup', to: 'charge' },
      { from: 'charge', to: 'receipt' },
      { from: 'charge', to: 'alert' }
    ];
    expect(inputContext(v, edges, 'alert').steps).toEqual({
      lookup: { error: { kind: 'http_status', status: 404 } },
      charge: { error: { kind: 'http_status', status: 503 } }
    });
  });
});

describe('eventDurations', () => {
  it('measures each event from the previous one of its node, run events from the start', () => {
    const t = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();
    seq = 0;
    const log = [
      ev('run_started', null, {}, null, t(0)),
      ev('step_started', 'c', {}, 1, t(1)),
      ev('http_attempt', 'c', {}, 1, t(4)),
      ev('run_succeeded', null, {}, null, t(10))
    ];
    const d = eventDurations(log);
    expect(d.get(1)).toBeUndefined();
    expect(d.get(2)).toBeUndefined();
    expect(d.get(3)).toBe(3000);
    expect(d.get(4)).toBe(10000);
  });
});

describe('itemProgress', () => {
  it('counts a for_each\'s items from their body steps, as the engine derives them', () => {
    const nodes = ['start', 'loop'];
    const log = [started()];
    log.push(ev('step_succeeded', 'start', { output: {} }, 1));
    expect(itemProgress(foldRun(nodes, log).steps, 'loop')).toBeNull();
    log.push(ev('step_started', 'loop', { items: ['a', 'b', 'c', 'd'], count: 4 }, 1));
    log.push(ev('step_started', 'loop[0].call', { request: {}, idempotency_key: 'k0' }, 1));
    log.push(ev('step_started', 'loop[1].call', { request: {}, idempotency_key: 'k1' }, 1));
    log.push(ev('step_succeeded', 'loop[1].call', { output: { status: 200 } }, 1));
    log.push(ev('step_succeeded', 'loop[1].name', { output: 'Bee' }, 1));
    log.push(ev('step_started', 'loop[2].call', { request: {}, idempotency_key: 'k2' }, 1));
    log.push(ev('step_failed', 'loop[2].call', { error: { kind: 'http_status', message: 'HTTP status 404' } }, 1));
    const v = foldRun(nodes, log);
    const p = itemProgress(v.steps, 'loop');
    expect(p).not.toBeNull();
    expect(p!.total).toBe(4);
    // Item 1's call succeeded but its "name" step is known only once recorded: both are there.
    expect(p!.items.map((i) => i.status)).toEqual(['running', 'succeeded', 'failed', 'pending']);
    expect([p!.succeeded, p!.running, p!.failed]).toEqual([1, 1, 1]);
    expect(p!.items[1].steps.map((s) => s.id)).toEqual(['loop[1].call', 'loop[1].name']);
    // Another node's prefix is not taken for an item ("loop2[0].x" is not loop's).
    log.push(ev('step_succeeded', 'loop2[0].x', { output: 1 }, 1));
    expect(itemProgress(foldRun(nodes, log).steps, 'loop')!.items[0].steps.length).toBe(1);
  });
});
