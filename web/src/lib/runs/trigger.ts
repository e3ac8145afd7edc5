// What started a run, in the words of the runs tables (RunsTable): its list item says.

import type { Run } from '$lib/api/types';

export type RunTrigger = 'resumed' | 'webhook' | 'schedule' | 'test' | 'API';

export function runTrigger(r: Run): RunTrigger {
  if (r.parent_run_id) return 'resumed';
  if (r.delivery_id) return 'webhook';
  if (r.schedule_id) return 'schedule';
  return r.is_test ? 'test' : 'API';
}
