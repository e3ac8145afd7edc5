import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stream, subscribe } from './stream.svelte';

/** Stands in for the browser's EventSource: the test opens, fails and feeds it. */
class FakeEventSource {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSED = 2;
  static all: FakeEventSource[] = [];
  readyState = FakeEventSource.CONNECTING;
  onopen: (() => void) | null = null;
  onerror: (() => void) | null = null;
  listeners = new Map<string, ((e: MessageEvent) => void)[]>();
  constructor(readonly url: string) {
    FakeEventSource.all.push(this);
  }
  addEventListener(type: string, fn: (e: MessageEvent) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }
  close() {
    this.readyState = FakeEventSource.CLOSED;
  }
  open() {
    this.readyState = FakeEventSource.OPEN;
    this.onopen?.();
  }
  emit(type: string, data: unknown, id: string) {
    for (const fn of this.listeners.get(type) ?? [])
      fn({ type, data: JSON.stringify(data), lastEventId: id } as MessageEvent);
  }
  fail(giveUp: boolean) {
    this.readyState = giveUp ? FakeEventSource.CLOSED : FakeEventSource.CONNECTING;
    this.onerror?.();
  }
}

let fetchStatus = 404;
const fetched: string[] = [];

beforeEach(() => {
  FakeEventSource.all = [];
  fetched.length = 0;
  vi.useFakeTimers();
  vi.stubGlobal('EventSource', FakeEventSource);
  vi.stubGlobal(
    'fetch',
    vi.fn(async (url: string) => {
      fetched.push(url);
      return { status: fetchStatus, ok: fetchStatus < 300, json: async () => ({ events: [] }) };
    })
  );
});
afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('subscribe', () => {
  it('delivers parsed events, and resumes after the last id when the stream must be reopened', async () => {
    const got: [string, unknown, string | null][] = [];
    fetchStatus = 503;
    const off = subscribe('/api/projects/p/stream', { onEvent: (t, d, id) => got.push([t, d, id]) }, { types: ['run'] });
    const first = FakeEventSource.all[0];
    expect(first.url).toBe('/api/projects/p/stream');
    expect(stream.status).toBe('connecting');
    first.open();
    expect(stream.status).toBe('live');
    first.emit('run', { id: 'r1', status: 'running' }, 'c1');
    expect(got).toEqual([['run', { id: 'r1', status: 'running' }, 'c1']]);
    // A dropped connection the browser retries itself: no new EventSource.
    first.fail(false);
    expect(stream.status).toBe('reconnecting');
    expect(FakeEventSource.all.length).toBe(1);
    // The server ended it for good (503): a new one after a pause, after the last id.
    first.fail(true);
    await vi.advanceTimersByTimeAsync(1000);
    expect(FakeEventSource.all.length).toBe(2);
    expect(FakeEventSource.all[1].url).toBe('/api/projects/p/stream?after=c1');
    off();
    expect(stream.status).toBe('closed');
  });

  it('polls with the page\'s poll where the server has no stream (404)', async () => {
    fetchStatus = 404;
    const poll = vi.fn();
    const off = subscribe('/api/projects/p/stream', { onEvent: () => {} }, { types: ['run'], poll, pollMs: 5000 });
    FakeEventSource.all[0].fail(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(stream.status).toBe('polling');
    expect(poll).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(poll).toHaveBeenCalledTimes(3);
    expect(FakeEventSource.all.length).toBe(1);
    off();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(poll).toHaveBeenCalledTimes(3);
  });

  it("reads a run's events after the last seq where the server has no run stream", async () => {
    fetchStatus = 404;
    const off = subscribe('/api/projects/p/runs/r/stream', { onEvent: () => {} }, { after: 7 });
    expect(FakeEventSource.all[0].url).toBe('/api/projects/p/runs/r/stream?after_seq=7');
    FakeEventSource.all[0].fail(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(stream.status).toBe('polling');
    expect(fetched.at(-1)).toBe('/api/projects/p/runs/r/events?limit=1000&after_seq=7');
    off();
  });
});
