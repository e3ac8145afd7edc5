// The verification schemes (docs/webhooks.md "Verification schemes"): their names for people,
// what each needs, and the safe defaults the create form starts from.
import type { Scheme, Verification } from '$lib/api/types';

export const SCHEMES: Scheme[] = ['stripe', 'github', 'standard_webhooks', 'hmac', 'jwt', 'none'];

export const SCHEME_LABELS: Record<Scheme, string> = {
  none: 'None',
  hmac: 'HMAC',
  github: 'GitHub',
  stripe: 'Stripe',
  standard_webhooks: 'Standard Webhooks (Svix)',
  jwt: 'JWT bearer token'
};

export const SCHEME_HELP: Record<Scheme, string> = {
  stripe: 'Stripe-Signature with a signed timestamp; stale deliveries are refused as replays.',
  github: 'X-Hub-Signature-256: an HMAC-SHA256 of the body. Set the GitHub content type to application/json.',
  standard_webhooks: 'webhook-id, webhook-timestamp and webhook-signature (Svix and other Standard Webhooks senders).',
  hmac: 'A generic HMAC of the body in a header you choose (algorithm, encoding and prefix below).',
  jwt: 'Authorization: Bearer <JWT>, checked against issuer, audience and expiry. A JWT does not sign the body.',
  none: 'No verification: anyone who knows the URL can deliver. Prefer a signature.'
};

/** What the create form starts with for each scheme. */
export function defaultVerification(scheme: Scheme): Verification {
  switch (scheme) {
    case 'hmac':
      return { scheme, algorithm: 'sha256', header: 'X-Signature', encoding: 'hex', prefix: '' };
    case 'stripe':
    case 'standard_webhooks':
      return { scheme, tolerance_s: 300 };
    case 'jwt':
      return { scheme, issuer: '', audience: '', leeway_s: 60, require_exp: true };
    default:
      return { scheme };
  }
}

/** The verification object to send: only the scheme's own settings (the server refuses others),
 * and empty JWT claim checks left out (not checked). */
export function cleanVerification(v: Verification): Verification {
  const pick = (...names: (keyof Verification)[]) => {
    const out: Record<string, unknown> = { scheme: v.scheme };
    for (const n of names) if (v[n] !== undefined && v[n] !== null && v[n] !== '') out[n] = v[n];
    return out as unknown as Verification;
  };
  switch (v.scheme) {
    case 'hmac':
      return pick('algorithm', 'header', 'encoding', 'prefix');
    case 'stripe':
    case 'standard_webhooks':
      return pick('tolerance_s');
    case 'jwt':
      return pick('issuer', 'audience', 'leeway_s', 'require_exp');
    default:
      return { scheme: v.scheme };
  }
}
