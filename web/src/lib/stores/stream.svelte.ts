// Live data from the server's Server-Sent Events streams (docs/api.md "Streams"): the project
// feed (GET /api/projects/:pid/stream: `run`, `delivery`, `dead_letter` events) and a run's
// events (GET .../runs/:rid/stream: `run_event`). One interface for every page:
// subscribe(url, {onEvent(type, data, id)}, {after}) → unsubscribe, and `stream.status`.
//
// subscribe() opens one EventSource and keeps it going: the browser reconnects by itself after
// a dropped connection, sending the last id it saw (Last-Event-ID), so nothing is missed or seen
// twice; when the server ends the stream for good (an error status, a slow subscriber cut off,
// a restart), a new one opens after a pause, resuming after the last id through ?after= (a
// run's: ?after_seq=). Where the server has no stream (404, 405, 501: an older server, or a
// proxy that does not pass it) the page is read by polling instead: `poll` every `pollMs`, or,
// for a run's stream without one, `.../runs/:rid/events?after_seq=N` delivered as `run_event`
// items through the same onEvent, so a page cannot tell the two apart.

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'closed';

export interface StreamHandlers {
  /** One event: its type (`run`, `delivery`, `dead_letter`, `run_event`), its data and its id. */
  onEvent(type: string, data: unknown, id: string | null): void;
  /** Called when a reconnect or a poll fails (the subscription keeps trying). */
  onError?(e: unknown): void;
}

export interface StreamOptions {
  /** Resume after this id: the last event the page already has (a run's: its last seq). */
  after?: string | number | null;
  /** The event types to receive; by default every type the two streams send. */
  types?: string[];
  /** Called every `pollMs` instead when the server has no stream here. */
  poll?: () => unknown;
  /** Poll interval (ms): 5 s with `poll`, 1 s for a run's events. */
  pollMs?: number;
}

class StreamState {
  status = $state<StreamStatus>('closed');
}

/** The state of the newest open subscription, for a "live" indicator. */
export const stream = new StreamState();

const TYPES = ['run', 'delivery', 'dead_letter', 'run_event', 'message'];
/** Statuses that mean "this server has no such stream": poll instead. */
const NO_STREAM = new Set([404, 405, 501]);
const RUN_STREAM = /^(.*\/runs\/[^/]+)\/stream$/;
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

let newest = 0;

/** What answers `url`, without waiting for a stream's body: its status, or 0 on a network error. */
async function probe(url: string): Promise<number> {
  const ctl = new AbortController();
  try {
    const r = await fetch(url, {
      headers: { Accept: 'text/event-stream' },
      credentials: 'same-origin',
      cache: 'no-store',
      signal: ctl.signal
    });
    return r.status;
  } catch {
    return 0;
  } finally {
    ctl.abort();
  }
}

/** Subscribes to the stream at `url` (a path); returns the function that ends the subscription. */
export function subscribe(url: string, handlers: StreamHandlers, opts: StreamOptions = {}): () => void {
  const mine = ++newest;
  const runBase = RUN_STREAM.exec(url.split('?')[0])?.[1] ?? null;
  const afterParam = runBase ? 'after_seq' : 'after';
  const pollMs = opts.pollMs ?? (opts.poll ? 5000 : 1000);
  let lastId: string | null = opts.after == null ? null : String(opts.after);
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let retryMs = RETRY_MIN_MS;
  let opened = false;
  let closed = false;

  const setStatus = (s: StreamStatus) => {
    if (mine === newest && !closed) stream.status = s;
  };
  const target = () => {
    if (!lastId) return url;
    return `${url}${url.includes('?') ? '&' : '?'}${afterParam}=${encodeURIComponent(lastId)}`;
  };

  function deliver(type: string, data: unknown, id: string | null) {
    if (closed) return;
    if (id) lastId = id;
    handlers.onEvent(type, data, id);
  }

  /** A run's events since the last seq, for a run stream without a `poll` of the page's own. */
  async function pollRunEvents(): Promise<number> {
    const qs = new URLSearchParams({ limit: '1000' });
    if (lastId !== null) qs.set('after_seq', lastId);
    const res = await fetch(`${runBase}/events?${qs}`, {
      credentials: 'same-origin',
      cache: 'no-store',
      headers: { Accept: 'application/json' }
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as { events?: { seq: number }[] };
    for (const item of body.events ?? []) deliver('run_event', item, String(item.seq));
    return body.events?.length ?? 0;
  }

  function startPolling() {
    if (!opts.poll && !runBase) {
      setStatus('closed');
      handlers.onError?.(new Error('this server has no live stream for this page'));
      return;
    }
    setStatus('polling');
    const tick = async () => {
      if (closed) return;
      let next = pollMs;
      try {
        if (opts.poll) await opts.poll();
        // A full page means more are waiting: read on at once.
        else if ((await pollRunEvents()) >= 1000) next = 0;
      } catch (e) {
        handlers.onError?.(e);
        next = pollMs * 2;
      }
      if (!closed) timer = setTimeout(tick, next);
    };
    void tick();
  }

  async function failed() {
    es?.close();
    es = null;
    const status = await probe(target());
    if (closed) return;
    if (NO_STREAM.has(status)) {
      startPolling();
      return;
    }
    // Anything else (a restart, 503 over a limit, a network error): try again, slower each time,
    // catching up meanwhile where the page can.
    setStatus('reconnecting');
    handlers.onError?.(new Error(status ? `the stream answered HTTP ${status}` : 'the stream is unreachable'));
    void opts.poll?.();
    timer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function open() {
    timer = null;
    if (closed) return;
    setStatus(opened ? 'reconnecting' : 'connecting');
    const source = new EventSource(target(), { withCredentials: true });
    es = source;
    source.onopen = () => {
      opened = true;
      retryMs = RETRY_MIN_MS;
      setStatus('live');
    };
    source.onerror = () => {
      if (closed || es !== source) return;
      // CONNECTING: the browser reconnects by itself with Last-Event-ID. CLOSED: it gave up.
      if (source.readyState === EventSource.CLOSED) void failed();
      else setStatus('reconnecting');
    };
    const onMessage = (ev: Event) => {
      const e = ev as MessageEvent;
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        // not JSON: handed over as text
      }
      deliver(e.type, data, e.lastEventId || null);
    };
    for (const t of opts.types ?? TYPES) source.addEventListener(t, onMessage);
  }

  if (typeof EventSource === 'undefined') startPolling();
  else open();

  return () => {
    if (mine === newest) stream.status = 'closed';
    closed = true;
    es?.close();
    es = null;
    if (timer) clearTimeout(timer);
  };
}
