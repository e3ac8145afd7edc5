import { describe, expect, it } from 'vitest';
import type { Run } from '$lib/api/types';
import { applyRun, belongs, filterFromQuery, filterQuery, type RunFilter } from './liveRuns';

const none: RunFilter = { workflow: '', status: '', test: '', endpoint: '', delivery: '', since: '', until: '' };

function run(id: string, at: string, more: Partial<Run> = {}): Run {
  return {
    id,
    workflow_id: 'w1',
    version: 1,
    status: 'queued',
    is_test: false,
    parent_run_id: null,
    created_at: at,
    started_at: null,
    finished_at: null,
    error: null,
    ...more
  };
}

describe('filterFromQuery', () => {
  it('reads every filter and resolves a preset range against now', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    const f = filterFromQuery(new URLSearchParams('workflow=w&status=failed&test=only&endpoint=e&range=24h&until=x'), now);
    expect(f).toEqual({ ...none, workflow: 'w', status: 'failed', test: 'only', endpoint: 'e', since: '2026-01-01T00:00:00.000Z' });
    expect(filterQuery(f)).toEqual({
      workflow_id: 'w',
      status: 'failed',
      test: 'only',
      endpoint_id: 'e',
      delivery_id: undefined,
      since: '2026-01-01T00:00:00.000Z',
      until: undefined
    });
  });
  it('ignores an unknown test value and keeps custom times', () => {
    const f = filterFromQuery(new URLSearchParams('test=maybe&since=2026-01-01T00:00:00Z&until=2026-01-03T00:00:00Z'), 0);
    expect(f.test).toBe('');
    expect(f.since).toBe('2026-01-01T00:00:00Z');
    expect(f.until).toBe('2026-01-03T00:00:00Z');
  });
});

describe('belongs', () => {
  const r = run('b', '2026-01-01T12:00:00Z', { status: 'failed', is_test: true });
  it('matches workflow, status, test and time', () => {
    expect(belongs(r, none)).toBe(true);
    expect(belongs(r, { ...none, workflow: 'w2' })).toBe(false);
    expect(belongs(r, { ...none, status: 'succeeded' })).toBe(false);
    expect(belongs(r, { ...none, test: 'exclude' })).toBe(false);
    expect(belongs(r, { ...none, test: 'only' })).toBe(true);
    expect(belongs(r, { ...none, since: '2026-01-01T13:00:00Z' })).toBe(false);
    expect(belongs(r, { ...none, until: '2026-01-01T12:00:00Z' })).toBe(false);
  });
  it('never judges endpoint or delivery filters', () => {
    expect(belongs(r, { ...none, endpoint: 'e' })).toBe(false);
    expect(belongs(r, { ...none, delivery: 'd' })).toBe(false);
  });
});

describe('applyRun', () => {
  const list = [run('c', '2026-01-01T12:00:03Z'), run('a', '2026-01-01T12:00:01Z')];
  it('replaces a listed run in place, even when it leaves the status filter', () => {
    const { list: next, change } = applyRun(list, { ...list[1], status: 'succeeded' }, { ...none, status: 'queued' }, false);
    expect(change).toBe('updated');
    expect(next.map((x) => [x.id, x.status])).toEqual([
      ['c', 'queued'],
      ['a', 'succeeded']
    ]);
    expect(list[1].status).toBe('queued');
  });
  it('ignores a repeat of what is shown', () => {
    expect(applyRun(list, { ...list[0] }, none, false)).toEqual({ list, change: null });
  });
  it('puts a new run in its place by time', () => {
    expect(applyRun(list, run('d', '2026-01-01T12:00:04Z'), none, false).list.map((x) => x.id)).toEqual(['d', 'c', 'a']);
    expect(applyRun(list, run('b', '2026-01-01T12:00:02Z'), none, false).list.map((x) => x.id)).toEqual(['c', 'b', 'a']);
  });
  it('leaves an older run to a later page, and a run outside the filter out', () => {
    expect(applyRun(list, run('0', '2026-01-01T12:00:00Z'), none, true).change).toBe(null);
    expect(applyRun(list, run('0', '2026-01-01T12:00:00Z'), none, false).change).toBe('added');
    expect(applyRun(list, run('d', '2026-01-01T12:00:04Z', { is_test: true }), { ...none, test: 'exclude' }, false).change).toBe(null);
  });
});
