import { describe, expect, it } from 'vitest';
import { cleanVerification, defaultVerification, SCHEMES } from './schemes';

describe('verification settings sent to the server', () => {
  it('keeps only the scheme’s own settings (the server refuses others)', () => {
    const v = { ...defaultVerification('hmac'), issuer: '', audience: '', tolerance_s: 300 };
    expect(cleanVerification(v)).toEqual({ scheme: 'hmac', algorithm: 'sha256', header: 'X-Signature', encoding: 'hex' });
    expect(cleanVerification({ scheme: 'github', prefix: 'x' })).toEqual({ scheme: 'github' });
  });
  it('leaves out empty JWT claim checks, which the server then does not check', () => {
    const v = { ...defaultVerification('jwt'), audience: 'meshhook' };
    expect(cleanVerification(v)).toEqual({ scheme: 'jwt', audience: 'meshhook', leeway_s: 60, require_exp: true });
  });
  it('starts every scheme from the providers’ safe defaults', () => {
    for (const s of SCHEMES) expect(defaultVerification(s).scheme).toBe(s);
    expect(defaultVerification('stripe').tolerance_s).toBe(300);
    expect(defaultVerification('jwt').require_exp).toBe(true);
  });
});
