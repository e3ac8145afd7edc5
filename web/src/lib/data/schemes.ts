// The verification schemes as the server describes them (GET /api/schemes, docs/webhooks.md
// "Verification schemes"): fetched once per page load, and the forms' defaults and request bodies
// derived from each scheme's fields, so a scheme added on the server needs nothing here.
import { api } from '$lib/api/client';
import type { SchemeInfo, Verification } from '$lib/api/types';

let cached: Promise<SchemeInfo[]> | null = null;

/** The schemes in the order a form offers them (the server's). */
export function loadSchemes(): Promise<SchemeInfo[]> {
  cached ??= api.get<{ schemes: SchemeInfo[] }>('/api/schemes').then(
    (r) => r.schemes,
    (e) => {
      cached = null; // a failed load is tried again next time
      throw e;
    }
  );
  return cached;
}

/** What a form starts with for `info`: each setting's default ('' for a claim not checked). */
export function defaultVerification(info: SchemeInfo): Verification {
  const v: Verification = { scheme: info.name };
  for (const f of info.fields) v[f.name] = f.default ?? '';
  return v;
}

/** The verification object to send: only the scheme's own settings (the server refuses others;
 * without a description, the settings as they are), with empty text left out (the server's
 * default: not checked, or no prefix). */
export function cleanVerification(v: Verification, info: SchemeInfo | undefined): Verification {
  const out: Verification = { scheme: v.scheme };
  const names = info ? info.fields.map((f) => f.name) : Object.keys(v).filter((n) => n !== 'scheme');
  for (const n of names) {
    const x = v[n];
    if (x !== undefined && x !== null && x !== '') out[n] = x;
  }
  return out;
}

/** The description of scheme `name` in `list`. */
export function schemeInfo(list: SchemeInfo[], name: string): SchemeInfo | undefined {
  return list.find((s) => s.name === name);
}

/** An endpoint's stored settings as a form edits them: a claim not checked (null) is ''. */
export function editableVerification(v: Verification, info: SchemeInfo | undefined): Verification {
  const out: Verification = { ...v };
  for (const f of info?.fields ?? []) out[f.name] = v[f.name] ?? f.default ?? '';
  return out;
}
