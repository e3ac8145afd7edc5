import { describe, expect, it } from 'vitest';
import { ApiError, errorFromResponse, networkError, toApiError } from './errors';

const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] ?? null });

describe('errorFromResponse', () => {
  it("takes message, code, path and request id from MeshHook's error body", () => {
    const e = errorFromResponse(
      422,
      { error: { code: 'invalid', message: "'name' must be 1 to 200 characters long", path: '/name' }, request_id: 'abc123' },
      headers({ 'x-request-id': 'other' })
    );
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(422);
    expect(e.code).toBe('invalid');
    expect(e.message).toBe("'name' must be 1 to 200 characters long");
    expect(e.path).toBe('/name');
    expect(e.requestId).toBe('abc123');
  });

  it('keeps every error of an invalid definition, dropping malformed entries', () => {
    const e = errorFromResponse(
      422,
      {
        error: {
          code: 'invalid_definition',
          message: 'the draft is not a valid workflow (2 errors)',
          path: '/nodes/0/config/expression',
          errors: [
            { path: '/nodes/0/config/expression', code: 'jmespath_syntax', message: 'bad', offset: 3, node: 'a' },
            { path: '', code: 'no_entry', message: 'no entry node' },
            { nonsense: true },
            'text'
          ]
        },
        request_id: 'r1'
      },
      headers({})
    );
    expect(e.errors).toEqual([
      { path: '/nodes/0/config/expression', code: 'jmespath_syntax', message: 'bad', offset: 3, node: 'a' },
      { path: '', code: 'no_entry', message: 'no entry node' }
    ]);
  });

  it('falls back to the X-Request-Id header and a readable message for a foreign body', () => {
    const e = errorFromResponse(502, '<html>Bad Gateway</html>', headers({ 'x-request-id': 'hdr1' }));
    expect(e.code).toBe('http_502');
    expect(e.message).toMatch(/could not be reached/);
    expect(e.requestId).toBe('hdr1');
    expect(e.path).toBeNull();
  });

  it('reads Retry-After seconds and ignores a date', () => {
    expect(errorFromResponse(429, null, headers({ 'retry-after': '30' })).retryAfter).toBe(30);
    expect(errorFromResponse(503, null, headers({ 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' })).retryAfter).toBeNull();
  });

  it('names an unknown status', () => {
    expect(errorFromResponse(418, {}, headers({})).message).toBe('The server answered with status 418');
  });

  it('marks 401 as unauthenticated', () => {
    expect(errorFromResponse(401, null, headers({})).isUnauthenticated).toBe(true);
    expect(errorFromResponse(403, null, headers({})).isUnauthenticated).toBe(false);
  });
});

describe('networkError and toApiError', () => {
  it('describes a request that got no answer', () => {
    const e = networkError(new TypeError('Failed to fetch'));
    expect(e.status).toBe(0);
    expect(e.code).toBe('network');
    expect(e.message).toContain('Failed to fetch');
    expect(e.requestId).toBeNull();
  });

  it('wraps anything thrown, keeping an ApiError as it is', () => {
    const api = new ApiError({ status: 404, code: 'not_found', message: 'x' });
    expect(toApiError(api)).toBe(api);
    expect(toApiError(new Error('boom')).message).toBe('boom');
    expect(toApiError('plain').message).toBe('plain');
  });
});
