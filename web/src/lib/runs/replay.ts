// The replay report of POST …/runs/:rid/replay (docs/api.md, "Replay report") in words: what
// was checked and matched, and what diverged, for the run console. Pure.
import type { RunEvent } from './fold';

export interface ReplayReport {
  ok: boolean;
  run_id?: string;
  events: number;
  chain_breaks: { seq: number; reason: string }[];
  divergences: { seq: number; node: string; field: string; recorded: unknown; recomputed: unknown }[];
  errors: { seq?: number; message: string }[];
  truncated: boolean;
  redacted?: boolean;
}

export interface ReplayExplained {
  ok: boolean;
  headline: string;
  /** Sentences about what matched. */
  matched: string[];
  /** Sentences about what did not, each naming the event (seq) and node. */
  problems: string[];
}

const PURE = new Set(['transform', 'branch', 'terminate']);

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return 'nothing';
  return s.length > 120 ? `${s.slice(0, 117)}…` : s;
}

/**
 * `nodeTypes` maps node ids to their types (from the definition the run executed) so the checks
 * replay made can be counted from the log: every recorded output of a pure step, and the first
 * request of every http_call.
 */
export function explainReplay(r: ReplayReport, events: RunEvent[], nodeTypes: Record<string, string>): ReplayExplained {
  let pure = 0;
  let requests = 0;
  for (const e of events) {
    const type = e.node_id ? nodeTypes[e.node_id] : undefined;
    if (!type) continue;
    if (PURE.has(type) && e.type === 'step_succeeded') pure++;
    else if (type === 'http_call' && e.type === 'step_started' && e.attempt === 1) requests++;
  }
  const matched: string[] = [];
  const problems: string[] = [];
  if (r.chain_breaks.length === 0)
    matched.push(`The hash chain of all ${plural(r.events, 'event')} verifies: no event was edited, inserted or removed inside the log.`);
  for (const b of r.chain_breaks) problems.push(`The hash chain breaks at event ${b.seq}: ${b.reason}.`);
  if (!r.truncated) matched.push('The log ends at the hash recorded on the run: nothing was cut from its end.');
  else problems.push('The log no longer ends at the hash recorded on the run: events were removed from its end.');
  const diverged = new Set(r.divergences.map((d) => `${d.seq}`));
  if (r.errors.length === 0) {
    const parts: string[] = [];
    if (pure) parts.push(`${plural(pure, 'transform, branch or terminate output')}`);
    if (requests) parts.push(`${plural(requests, 'http_call request')}`);
    if (parts.length && diverged.size === 0)
      matched.push(`Recomputed from the recorded inputs, ${parts.join(' and ')} ${pure + requests === 1 ? 'matches' : 'match'} byte for byte.`);
    else if (parts.length)
      matched.push(`Recomputed ${parts.join(' and ')} from the recorded inputs; ${plural(diverged.size, 'event')} differed.`);
    else matched.push('No step of this run is recomputable (delays and responses are recorded facts).');
  }
  for (const d of r.divergences)
    problems.push(
      `Event ${d.seq} (${d.node}): the recorded ${d.field} is ${short(d.recorded)}, recomputing gives ${short(d.recomputed)}.`
    );
  for (const e of r.errors)
    problems.push(`${e.seq ? `Event ${e.seq}: ` : ''}the log does not fold against the workflow: ${e.message}.`);
  const headline = r.ok
    ? 'Verified: the log is intact and replays exactly.'
    : r.chain_breaks.length || r.truncated
      ? 'Not verified: the log was altered.'
      : 'Not verified: replay diverged from the log.';
  return { ok: r.ok, headline, matched, problems };
}
