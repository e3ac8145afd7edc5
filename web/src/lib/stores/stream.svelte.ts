// Live streams of the API (docs/api.md, "Streams"): Server-Sent Events with resumable ids, so a
// page sees every event once and in order across reconnects. One interface for every page:
// subscribe(url, {onEvent(type, data, id)}, {after}) → unsubscribe, and `stream.status`.
//
// A server without the stream routes (404 at once, before any event) is read by polling instead:
// a run's stream `…/runs/:rid/stream` becomes `…/runs/:rid/events?after_seq=N` every second,
// delivered through the same onEvent as `run_event` items, so a page cannot tell the two apart.

export type StreamStatus = 'connecting' | 'live' | 'polling' | 'reconnecting' | 'closed';

export interface StreamHandlers {
  onEvent(type: string, data: unknown, id: string | null): void;
  /** Called when a reconnect or a poll fails (the stream keeps trying). */
  onError?(e: unknown): void;
}

export interface StreamOptions {
  /** Resume after this id (a run stream: the last seq the page has). */
  after?: string | number | null;
  /** Poll interval when polling (ms). */
  pollMs?: number;
}

class StreamState {
  status = $state<StreamStatus>('closed');
}

/** The status of the most recent subscription (what a page shows as "live"). */
export const stream = new StreamState();

const RUN_STREAM = /^(.*\/runs\/[^/]+)\/stream$/;

export function subscribe(url: string, handlers: StreamHandlers, opts: StreamOptions = {}): () => void {
  let closed = false;
  let after = opts.after == null ? null : String(opts.after);
  let es: EventSource | null = null;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let opened = false;
  const pollMs = opts.pollMs ?? 1000;

  const deliver = (type: string, data: unknown, id: string | null) => {
    if (closed) return;
    if (id !== null) after = id;
    handlers.onEvent(type, data, id);
  };

  function startPolling() {
    const m = RUN_STREAM.exec(url.split('?')[0]);
    if (!m) {
      stream.status = 'closed';
      handlers.onError?.(new Error('this server has no live stream for this page'));
      return;
    }
    stream.status = 'polling';
    const events = `${m[1]}/events`;
    const tick = async () => {
      if (closed) return;
      try {
        const qs = new URLSearchParams({ limit: '1000' });
        if (after !== null) qs.set('after_seq', after);
        const res = await fetch(`${events}?${qs}`, {
          credentials: 'same-origin',
          cache: 'no-store',
          headers: { Accept: 'application/json' }
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const body = (await res.json()) as { events?: { seq: number }[] };
        for (const item of body.events ?? []) deliver('run_event', item, String(item.seq));
        if (!closed) stream.status = 'polling';
        // A full page means more are waiting: read on at once.
        if (!closed) timer = setTimeout(tick, (body.events?.length ?? 0) >= 1000 ? 0 : pollMs);
        return;
      } catch (e) {
        handlers.onError?.(e);
      }
      if (!closed) timer = setTimeout(tick, pollMs * 2);
    };
    tick();
  }

  function connect() {
    if (closed) return;
    if (typeof EventSource === 'undefined') return startPolling();
    stream.status = opened ? 'reconnecting' : 'connecting';
    const u = new URL(url, location.href);
    // EventSource sends Last-Event-ID itself on its own reconnects; a new one says where to
    // resume with ?after_seq.
    if (after !== null) u.searchParams.set('after_seq', after);
    es = new EventSource(u.toString(), { withCredentials: true });
    es.onopen = () => {
      opened = true;
      stream.status = 'live';
    };
    es.onerror = () => {
      if (closed) return;
      if (!opened) {
        // No stream here (an older server, or none for this page): poll instead.
        es?.close();
        es = null;
        startPolling();
      } else if (es?.readyState === EventSource.CLOSED) {
        es = null;
        stream.status = 'reconnecting';
        timer = setTimeout(connect, pollMs);
      } else {
        stream.status = 'reconnecting';
      }
    };
    const onMessage = (e: MessageEvent) => {
      let data: unknown = e.data;
      try {
        data = JSON.parse(e.data);
      } catch {
        // not JSON: handed over as text
      }
      stream.status = 'live';
      deliver(e.type, data, e.lastEventId || null);
    };
    es.addEventListener('run_event', onMessage);
    es.addEventListener('message', onMessage);
  }

  connect();
  return () => {
    closed = true;
    es?.close();
    if (timer) clearTimeout(timer);
    stream.status = 'closed';
  };
}
