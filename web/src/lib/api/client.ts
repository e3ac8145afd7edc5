// The one client for MeshHook's JSON API. It sends the session cookie, adds the CSRF token that
// cookie-authenticated writes need (api.md "Authentication"), turns every failure into an
// ApiError (errors.ts), and reports a 401 once to whoever registered with onUnauthenticated, so
// the app can send the user to sign in and back. The CSRF token comes from login and
// GET /api/auth/me; a 403 "csrf" (a token from an older session) refreshes it and retries once.
import { ApiError, errorFromResponse, networkError } from './errors';
import type { Me, Page } from './types';

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestOptions {
  /** Query parameters; undefined, null and '' values are left out. */
  query?: Record<string, string | number | boolean | null | undefined>;
  /** A 401 is returned to the caller without notifying onUnauthenticated (sign-in, probes). */
  quiet401?: boolean;
  signal?: AbortSignal;
  /** Extra request headers, such as If-Match for a draft save (api.md "Draft revisions"). */
  headers?: Record<string, string>;
}

let csrfToken: string | null = null;
let unauthenticatedHandler: ((e: ApiError) => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Registers the one handler called when a request finds the session gone (HTTP 401). */
export function onUnauthenticated(fn: ((e: ApiError) => void) | null): void {
  unauthenticatedHandler = fn;
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === '') continue;
    qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

async function parseBody(res: Response): Promise<unknown> {
  if (res.status === 204 || res.status === 304) return null;
  const text = await res.text();
  if (text === '') return null;
  const ct = res.headers.get('content-type') ?? '';
  if (ct.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

async function send(method: Method, path: string, body: unknown, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...opts.headers };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  try {
    return await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: opts.signal
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw networkError(e);
  }
}

export async function request<T>(
  method: Method,
  path: string,
  body?: unknown,
  opts: RequestOptions = {}
): Promise<T> {
  let res = await send(method, path, body, opts);
  let parsed = await parseBody(res);
  if (res.status === 403 && method !== 'GET' && isCsrfError(parsed)) {
    // The page may hold the token of an older session (signed in again in another tab).
    const me = await send('GET', '/api/auth/me', undefined, opts);
    const meBody = (await parseBody(me)) as Partial<Me> | null;
    if (me.ok && meBody?.csrf_token) {
      csrfToken = meBody.csrf_token;
      res = await send(method, path, body, opts);
      parsed = await parseBody(res);
    }
  }
  if (!res.ok) {
    const err = errorFromResponse(res.status, parsed, res.headers);
    if (err.status === 401 && !opts.quiet401 && unauthenticatedHandler) unauthenticatedHandler(err);
    throw err;
  }
  return parsed as T;
}

function isCsrfError(body: unknown): boolean {
  return (
    typeof body === 'object' &&
    body !== null &&
    (body as { error?: { code?: unknown } }).error?.code === 'csrf'
  );
}

export const api = {
  get: <T>(path: string, opts?: RequestOptions) => request<T>('GET', path, undefined, opts),
  post: <T>(path: string, body?: unknown, opts?: RequestOptions) =>
    request<T>('POST', path, body ?? {}, opts),
  put: <T>(path: string, body: unknown, opts?: RequestOptions) => request<T>('PUT', path, body, opts),
  patch: <T>(path: string, body: unknown, opts?: RequestOptions) =>
    request<T>('PATCH', path, body, opts),
  del: <T = null>(path: string, opts?: RequestOptions) =>
    request<T>('DELETE', path, undefined, opts),

  /** Every item of a paged list (api.md "Paging"), following next_cursor up to `max` items. */
  async all<T>(path: string, opts: RequestOptions = {}, max = 1000): Promise<T[]> {
    const items: T[] = [];
    let cursor: string | null = null;
    do {
      const page: Page<T> = await request<Page<T>>('GET', path, undefined, {
        ...opts,
        query: { ...opts.query, limit: 200, cursor }
      });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < max);
    return items;
  }
};

/** Path segment encoding for ids in URLs. */
export const seg = (s: string) => encodeURIComponent(s);

export { ApiError };
