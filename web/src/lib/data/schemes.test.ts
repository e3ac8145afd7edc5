import { describe, expect, it } from 'vitest';
import type { SchemeInfo } from '$lib/api/types';
import { cleanVerification, defaultVerification, editableVerification, schemeInfo } from './schemes';
import answer from './fixtures/schemes.json';

// The answer of GET /api/schemes (fixtures/README.md says how to refresh it).
const schemes = answer.schemes as SchemeInfo[];
const of = (name: string) => schemeInfo(schemes, name)!;

describe('verification settings sent to the server', () => {
  it('keeps only the scheme’s own settings (the server refuses others)', () => {
    const v = { ...defaultVerification(of('hmac')), issuer: '', audience: '', tolerance_s: 300 };
    expect(cleanVerification(v, of('hmac'))).toEqual({ scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex' });
    expect(cleanVerification({ scheme: 'github', prefix: 'x' }, of('github'))).toEqual({ scheme: 'github' });
  });
  it('leaves out empty JWT claim checks, which the server then does not check', () => {
    const v = { ...defaultVerification(of('jwt')), audience: 'meshhook' };
    expect(cleanVerification(v, of('jwt'))).toEqual({ scheme: 'jwt', audience: 'meshhook', leeway_s: 60, require_exp: true });
  });
  it('starts every scheme from the providers’ safe defaults, Stripe first', () => {
    expect(schemes[0].name).toBe('stripe');
    for (const s of schemes) expect(defaultVerification(s).scheme).toBe(s.name);
    expect(defaultVerification(of('stripe')).tolerance_s).toBe(300);
    expect(defaultVerification(of('standard_webhooks')).tolerance_s).toBe(300);
    expect(defaultVerification(of('jwt')).require_exp).toBe(true);
    expect(defaultVerification(of('none'))).toEqual({ scheme: 'none' });
  });
  it('edits a stored unchecked claim (null) as empty text, and sends it back left out', () => {
    const stored = { scheme: 'jwt', issuer: null, audience: 'a', leeway_s: 5, require_exp: false };
    const v = editableVerification(stored, of('jwt'));
    expect(v.issuer).toBe('');
    expect(cleanVerification(v, of('jwt'))).toEqual({ scheme: 'jwt', audience: 'a', leeway_s: 5, require_exp: false });
  });
});
