import { describe, expect, it } from 'vitest';
import { explainReplay, type ReplayReport } from './replay';
import type { RunEvent } from './fold';

const at = '2026-01-01T00:00:00Z';
const events: RunEvent[] = [
  { seq: 1, type: 'run_started', node_id: null, attempt: null, payload: {}, at },
  { seq: 2, type: 'step_succeeded', node_id: 'prep', attempt: 1, payload: {}, at },
  { seq: 3, type: 'step_started', node_id: 'call', attempt: 1, payload: {}, at },
  { seq: 4, type: 'http_attempt', node_id: 'call', attempt: 1, payload: {}, at },
  { seq: 5, type: 'step_started', node_id: 'call', attempt: 2, payload: {}, at },
  { seq: 6, type: 'timer_set', node_id: 'wait', attempt: 1, payload: {}, at }
];
const types = { prep: 'transform', call: 'http_call', wait: 'delay' };
const clean: ReplayReport = { ok: true, events: 6, chain_breaks: [], divergences: [], errors: [], truncated: false };

describe('explainReplay', () => {
  it('says what matched on a clean log', () => {
    const x = explainReplay(clean, events, types);
    expect(x.ok).toBe(true);
    expect(x.headline).toMatch(/^Verified/);
    expect(x.matched).toEqual([
      'The hash chain of all 6 events verifies: no event was edited, inserted or removed inside the log.',
      'The log ends at the hash recorded on the run: nothing was cut from its end.',
      'Recomputed from the recorded inputs, 1 transform, branch or terminate output and 1 http_call request match byte for byte.'
    ]);
    expect(x.problems).toEqual([]);
  });

  it('names each divergence, break and truncation', () => {
    const x = explainReplay(
      {
        ...clean,
        ok: false,
        chain_breaks: [{ seq: 2, reason: 'hash mismatch' }],
        divergences: [{ seq: 2, node: 'prep', field: 'output', recorded: { x: 2 }, recomputed: { x: 1 } }],
        truncated: true
      },
      events,
      types
    );
    expect(x.ok).toBe(false);
    expect(x.headline).toBe('Not verified: the log was altered.');
    expect(x.problems).toContain('The hash chain breaks at event 2: hash mismatch.');
    expect(x.problems).toContain(
      'Event 2 (prep): the recorded output is {"x":2}, recomputing gives {"x":1}.'
    );
    expect(x.problems.some((p) => p.includes('removed from its end'))).toBe(true);
    expect(x.matched.some((m) => m.includes('1 event differed'))).toBe(true);
  });

  it('reports a log that does not fold', () => {
    const x = explainReplay({ ...clean, ok: false, errors: [{ seq: 3, message: 'no such node' }] }, events, types);
    expect(x.headline).toBe('Not verified: replay diverged from the log.');
    expect(x.problems).toEqual(['Event 3: the log does not fold against the workflow: no such node.']);
  });
});
