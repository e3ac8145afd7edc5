// Every failure of an API call becomes one ApiError, whatever went wrong: an error body in
// MeshHook's shape ({"error": {"code", "message", "path"?, "errors"?}, "request_id"}), a body in
// another shape (a proxy's HTML page), no body, or no answer at all. Pages show `message` and
// `requestId`, so a user can quote the id when asking for help.

export interface FieldError {
  path?: string;
  code?: string;
  message: string;
  offset?: number;
  node?: string;
}

export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached. */
  readonly status: number;
  /** MeshHook's error code ("invalid", "forbidden", "csrf"...), or "network" / "http_<status>". */
  readonly code: string;
  /** The JSON pointer (or "?param") of the offending field, when the server named one. */
  readonly path: string | null;
  /** The server's X-Request-Id, when it answered. */
  readonly requestId: string | null;
  /** Every error of a rejected workflow definition (code "invalid_definition"). */
  readonly errors: FieldError[];
  /** Seconds to wait, from Retry-After (429, 503). */
  readonly retryAfter: number | null;

  constructor(init: {
    status: number;
    code: string;
    message: string;
    path?: string | null;
    requestId?: string | null;
    errors?: FieldError[];
    retryAfter?: number | null;
  }) {
    super(init.message);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.path = init.path ?? null;
    this.requestId = init.requestId ?? null;
    this.errors = init.errors ?? [];
    this.retryAfter = init.retryAfter ?? null;
  }

  /** True for an expired, revoked or missing session. */
  get isUnauthenticated(): boolean {
    return this.status === 401;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'The request was not understood',
  401: 'You are signed out',
  403: 'You are not allowed to do this',
  404: 'Not found',
  405: 'This action is not available here',
  409: 'This conflicts with the current state',
  413: 'The request is too large',
  415: 'The request has the wrong content type',
  422: 'Some input is invalid',
  429: 'Too many requests: wait a moment and try again',
  500: 'The server failed to answer',
  502: 'The server could not be reached (bad gateway)',
  503: 'The service is temporarily unavailable',
  504: 'The server took too long to answer'
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}

function fieldErrors(v: unknown): FieldError[] {
  if (!Array.isArray(v)) return [];
  const out: FieldError[] = [];
  for (const e of v) {
    if (!isRecord(e)) continue;
    const message = str(e.message);
    if (!message) continue;
    const fe: FieldError = { message };
    if (str(e.path) !== null || e.path === '') fe.path = e.path as string;
    if (str(e.code)) fe.code = e.code as string;
    if (typeof e.offset === 'number') fe.offset = e.offset;
    if (str(e.node)) fe.node = e.node as string;
    out.push(fe);
  }
  return out;
}

/**
 * Builds the ApiError for an HTTP answer with a failing status. `body` is the parsed JSON body
 * (or the raw text, or null); `headers` gives X-Request-Id and Retry-After.
 */
export function errorFromResponse(
  status: number,
  body: unknown,
  headers: { get(name: string): string | null }
): ApiError {
  const headerId = headers.get('x-request-id');
  const ra = headers.get('retry-after');
  const retryAfter = ra !== null && /^\d+$/.test(ra) ? Number(ra) : null;
  const fallback = STATUS_TEXT[status] ?? `The server answered with status ${status}`;
  if (isRecord(body) && isRecord(body.error)) {
    const e = body.error;
    return new ApiError({
      status,
      code: str(e.code) ?? `http_${status}`,
      message: str(e.message) ?? fallback,
      path: typeof e.path === 'string' ? e.path : null,
      requestId: str(body.request_id) ?? headerId,
      errors: fieldErrors(e.errors),
      retryAfter
    });
  }
  return new ApiError({
    status,
    code: `http_${status}`,
    message: fallback,
    requestId: headerId,
    retryAfter
  });
}

/** The ApiError for a request that got no HTTP answer (offline, refused, aborted). */
export function networkError(cause: unknown): ApiError {
  const detail = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
  return new ApiError({
    status: 0,
    code: 'network',
    message: `Could not reach the MeshHook server${detail}. Check your connection and retry.`
  });
}

/** Any thrown value as an ApiError, for code that catches broadly. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof Error) return new ApiError({ status: 0, code: 'client', message: e.message });
  return new ApiError({ status: 0, code: 'client', message: String(e) });
}
