import { describe, expect, it } from 'vitest';
import type { Run } from '$lib/api/types';
import { runTrigger } from './trigger';

const base: Run = {
  id: 'r1',
  workflow_id: 'w1',
  version: 1,
  status: 'succeeded',
  is_test: false,
  parent_run_id: null,
  delivery_id: null,
  schedule_id: null,
  created_at: '2026-12-07T00:00:00Z',
  started_at: null,
  finished_at: null,
  error: null
};

describe('what started a run', () => {
  it('names a schedule, a webhook, a resumption, a test run and the API apart', () => {
    expect(runTrigger({ ...base, schedule_id: 's1' })).toBe('schedule');
    expect(runTrigger({ ...base, delivery_id: 'd1' })).toBe('webhook');
    expect(runTrigger({ ...base, parent_run_id: 'r0', delivery_id: 'd1' })).toBe('resumed');
    expect(runTrigger({ ...base, parent_run_id: 'r0', schedule_id: 's1' })).toBe('resumed');
    expect(runTrigger({ ...base, is_test: true })).toBe('test');
    expect(runTrigger(base)).toBe('API');
    // A server without the member (older than the schedules) still reads.
    const { schedule_id: _, ...old } = base;
    expect(runTrigger(old as Run)).toBe('API');
  });
});
