// Pure helpers for client URLs.

/**
 * Where the project switcher goes: the same section of the other project (its workflows list
 * for a workflow of the old one, since that row does not exist in the new project).
 */
export function switchProjectPath(pathname: string, oldPid: string | undefined, newPid: string): string {
  const base = `/p/${encodeURIComponent(newPid)}`;
  if (!oldPid) return base;
  const prefix = `/p/${oldPid}`;
  if (!pathname.startsWith(prefix)) return base;
  const parts = pathname.slice(prefix.length).split('/').filter(Boolean);
  const keep = parts[0] === 'settings' ? parts.slice(0, 2) : parts.slice(0, 1);
  return keep.length ? `${base}/${keep.join('/')}` : base;
}

/**
 * The page to return to after signing in: only a path of this app (never another origin, which
 * would make the sign-in page an open redirect), and never the sign-in page itself.
 */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next === '/login' || next.startsWith('/login?') || next.startsWith('/signup')) return '/';
  return next;
}
