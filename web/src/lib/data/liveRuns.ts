// The runs list's filters as the URL carries them, and how a run arriving live (from the project
// feed, or a poll) changes a newest-first list. Pure, so the rules are unit-tested.
import type { Run } from '$lib/api/types';

export interface RunFilter {
  workflow: string;
  status: string;
  test: '' | 'only' | 'exclude';
  endpoint: string;
  delivery: string;
  /** ISO times, already resolved from a preset range. */
  since: string;
  until: string;
}

export const RANGES: { value: string; label: string; ms: number }[] = [
  { value: '1h', label: 'Last hour', ms: 3600_000 },
  { value: '24h', label: 'Last 24 hours', ms: 24 * 3600_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 24 * 3600_000 },
  { value: '30d', label: 'Last 30 days', ms: 30 * 24 * 3600_000 }
];

/** The filter a URL's query asks for; `now` resolves a preset range (?range=24h). */
export function filterFromQuery(q: URLSearchParams, now: number): RunFilter {
  const test = q.get('test');
  const range = RANGES.find((r) => r.value === q.get('range'));
  return {
    workflow: q.get('workflow') ?? '',
    status: q.get('status') ?? '',
    test: test === 'only' || test === 'exclude' ? test : '',
    endpoint: q.get('endpoint') ?? '',
    delivery: q.get('delivery') ?? '',
    since: range ? new Date(now - range.ms).toISOString() : (q.get('since') ?? ''),
    until: range ? '' : (q.get('until') ?? '')
  };
}

/** The list request's query for a filter (GET /api/projects/:pid/runs). */
export function filterQuery(f: RunFilter): Record<string, string | undefined> {
  return {
    workflow_id: f.workflow || undefined,
    status: f.status || undefined,
    test: f.test || undefined,
    endpoint_id: f.endpoint || undefined,
    delivery_id: f.delivery || undefined,
    since: f.since || undefined,
    until: f.until || undefined
  };
}

/**
 * Whether a run the list has not shown belongs in it. Runs by endpoint or delivery are not
 * judged here (a run names its delivery, not the endpoint): the list's next load shows them.
 */
export function belongs(r: Run, f: RunFilter): boolean {
  if (f.endpoint || f.delivery) return false;
  if (f.workflow && r.workflow_id !== f.workflow) return false;
  if (f.status && r.status !== f.status) return false;
  if (f.test === 'only' && !r.is_test) return false;
  if (f.test === 'exclude' && r.is_test) return false;
  const at = Date.parse(r.created_at);
  if (f.since && at < Date.parse(f.since)) return false;
  if (f.until && at >= Date.parse(f.until)) return false;
  return true;
}

function newer(a: Run, b: Run): boolean {
  const ta = Date.parse(a.created_at);
  const tb = Date.parse(b.created_at);
  return ta !== tb ? ta > tb : a.id > b.id;
}

export type Change = 'updated' | 'added' | null;

/**
 * Applies a run to the list (newest first): a listed run is replaced where it is, even when its
 * new status no longer matches the filter (rows do not vanish under the reader); a new one that
 * belongs is inserted in order, unless it sorts after the last row while more pages remain (it
 * belongs to a later page). Returns the new list and what changed.
 */
export function applyRun(list: Run[], r: Run, f: RunFilter, hasMore: boolean): { list: Run[]; change: Change } {
  const i = list.findIndex((x) => x.id === r.id);
  if (i >= 0) {
    const old = list[i];
    if (old.status === r.status && old.finished_at === r.finished_at && old.started_at === r.started_at)
      return { list, change: null };
    const next = list.slice();
    next[i] = { ...old, ...r };
    return { list: next, change: 'updated' };
  }
  if (!belongs(r, f)) return { list, change: null };
  const at = list.findIndex((x) => newer(r, x));
  if (at < 0 && hasMore) return { list, change: null };
  const next = list.slice();
  next.splice(at < 0 ? list.length : at, 0, r);
  return { list: next, change: 'added' };
}
