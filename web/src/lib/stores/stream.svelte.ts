// Live data from the server's Server-Sent Events streams (docs/api.md "Streams"): the project
// feed (GET /api/projects/:pid/stream) and a run's events (GET .../runs/:rid/stream).
//
// subscribe() opens one EventSource and keeps it going: the browser reconnects by itself after
// a dropped connection, sending the last id it saw (Last-Event-ID), so nothing is missed or seen
// twice; when the server ends the stream for good (an error status, or a slow subscriber cut
// off), it opens a new one after a pause, resuming after the last id through `afterParam`.
// Where the server has no stream (404, 405, 501: an older server, or a proxy that does not
// pass it), it falls back to calling `poll` every `pollMs`, so the page still updates.
//
// `connection.status` is the state of the newest open subscription, for a "live" indicator.
import { buildUrl } from '$lib/api/client';

export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'polling' | 'closed';

export interface StreamHandlers {
  /** One event: its type (`run`, `delivery`, `run_event`...), its parsed data and its id. */
  onEvent(type: string, data: unknown, id: string | null): void;
}

export interface StreamOptions {
  /** The event types to receive. */
  types: string[];
  /** Resume after this id: the last event the page has already seen. */
  after?: string | null;
  /** The query parameter that carries the id to resume after ('after'; 'after_seq' for a run). */
  afterParam?: string;
  /** Called every `pollMs` instead when the server has no stream here. */
  poll?: () => unknown;
  pollMs?: number;
}

export const connection = $state<{ status: StreamStatus }>({ status: 'closed' });

/** Statuses that mean "this server has no such stream": poll instead. */
const NO_STREAM = new Set([404, 405, 501]);
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
export function subscribe(url: string, handlers: StreamHandlers, opts: StreamOptions): () => void {
  const mine = ++newest;
  const afterParam = opts.afterParam ?? 'after';
  const pollMs = opts.pollMs ?? 5000;
  let lastId: string | null = opts.after ?? null;
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let pollTimer: ReturnType<typeof setInterval> | null = null;
  let retryMs = RETRY_MIN_MS;
  let closed = false;

  const setStatus = (s: StreamStatus) => {
    if (mine === newest && !closed) connection.status = s;
  };
  const target = () => buildUrl(url, lastId ? { [afterParam]: lastId } : undefined);

  function deliver(type: string, ev: MessageEvent) {
    if (ev.lastEventId) lastId = ev.lastEventId;
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch {
      return; // not JSON: nothing a page could use
    }
    handlers.onEvent(type, data, ev.lastEventId || null);
  }

  function startPolling() {
    if (!opts.poll) {
      setStatus('closed');
      return;
    }
    setStatus('polling');
    pollTimer = setInterval(() => void opts.poll?.(), pollMs);
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
    void opts.poll?.();
    timer = setTimeout(open, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  }

  function open() {
    timer = null;
    if (closed) return;
    setStatus(es === null && retryMs === RETRY_MIN_MS ? 'connecting' : 'reconnecting');
    const source = new EventSource(target(), { withCredentials: true });
    es = source;
    source.onopen = () => {
      retryMs = RETRY_MIN_MS;
      setStatus('live');
    };
    source.onerror = () => {
      if (closed || es !== source) return;
      // CONNECTING: the browser reconnects by itself with Last-Event-ID. CLOSED: it gave up.
      if (source.readyState === EventSource.CLOSED) void failed();
      else setStatus('reconnecting');
    };
    for (const t of opts.types) source.addEventListener(t, (ev) => deliver(t, ev as MessageEvent));
  }

  if (typeof EventSource === 'undefined') startPolling();
  else open();

  return () => {
    if (mine === newest) connection.status = 'closed';
    closed = true;
    es?.close();
    es = null;
    if (timer) clearTimeout(timer);
    if (pollTimer) clearInterval(pollTimer);
  };
}
