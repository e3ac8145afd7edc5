import { describe, expect, it } from 'vitest';
import { nameWorkflows, versionChoices, versionValue, withRefChoice, workflowChoices, type WorkflowRef } from './refs';

const SELF = '00000000-0000-7000-8000-000000000001';
const PRICING: WorkflowRef = { id: '00000000-0000-7000-8000-00000000000a', name: 'pricing', latest_version: 3 };
const AUDIT: WorkflowRef = { id: '00000000-0000-7000-8000-00000000000b', name: 'Audit trail', latest_version: null };
const THIS: WorkflowRef = { id: SELF, name: 'Orders', latest_version: 1 };
const OLD: WorkflowRef = { id: '00000000-0000-7000-8000-00000000000c', name: 'Legacy', latest_version: 2, archived_at: '2026-01-01T00:00:00Z' };

describe('workflow picker', () => {
  it('offers the live workflows by name with their latest version, never the workflow itself', () => {
    const c = workflowChoices([THIS, PRICING, AUDIT], [OLD], SELF, undefined);
    expect(c.options).toEqual([
      { value: AUDIT.id, label: 'Audit trail — not published yet' },
      { value: PRICING.id, label: 'pricing — v3' }
    ]);
    expect(c.selected).toBe('');
    expect(c.problem).toBeNull();
  });

  it('selects the current value, whatever its case, and warns when it has nothing published', () => {
    expect(workflowChoices([PRICING], [], SELF, PRICING.id.toUpperCase())).toMatchObject({ selected: PRICING.id, problem: null });
    expect(workflowChoices([AUDIT], [], SELF, AUDIT.id).problem).toMatch(/Audit trail has no published version yet/);
  });

  it('keeps an unknown, archived or cyclic value with its raw id instead of dropping it', () => {
    const gone = '00000000-0000-7000-8000-0000000000ff';
    const unknown = workflowChoices([PRICING], [], SELF, gone);
    expect(unknown.selected).toBe(gone);
    expect(unknown.options[0]).toEqual({ value: gone, label: `Unknown workflow — ${gone}` });
    expect(unknown.options).toHaveLength(2);
    expect(unknown.problem).toMatch(/No workflow of this project has the id .*deleted/);

    const archived = workflowChoices([PRICING], [OLD], SELF, OLD.id);
    expect(archived.options[0]).toEqual({ value: OLD.id, label: `Legacy (archived) — ${OLD.id}` });
    expect(archived.problem).toMatch(/Legacy is archived/);

    const self = workflowChoices([THIS, PRICING], [], SELF, SELF);
    expect(self.options[0]).toEqual({ value: SELF, label: `This workflow (${SELF})` });
    expect(self.options.filter((o) => o.value === SELF)).toHaveLength(1);
    expect(self.problem).toMatch(/cycle/);

    expect(workflowChoices([PRICING], [], SELF, 'not-an-id').options[0].label).toBe('Unknown workflow — not-an-id');
  });
});

describe('version picker', () => {
  it('offers "latest" and every published version, newest first; the default selects latest', () => {
    const c = versionChoices(PRICING, undefined, 'latest');
    expect(c.options.map((o) => o.label)).toEqual(['Latest published (now v3)', 'v3', 'v2', 'v1']);
    expect(c.selected).toBe('latest');
    expect(versionChoices(PRICING, 2, 'latest')).toMatchObject({ selected: '2', problem: null });
    expect(versionChoices(AUDIT, 'latest', 'latest').options).toEqual([{ value: 'latest', label: 'Latest published (none yet)' }]);
    expect(versionChoices(undefined, undefined, 'latest').options).toEqual([{ value: 'latest', label: 'Latest published' }]);
  });

  it('keeps a pinned version that is not published, and says so', () => {
    const c = versionChoices(PRICING, 7, 'latest');
    expect(c.selected).toBe('7');
    expect(c.options.at(-1)).toEqual({ value: '7', label: 'v7 (not published)' });
    expect(c.problem).toMatch(/pricing has no version 7 \(its latest is v3\)/);
    expect(versionChoices(AUDIT, 1, 'latest').problem).toMatch(/not published yet/);
    // The workflow is unknown: the pin is shown, nothing claimed about it.
    expect(versionChoices(undefined, 4, 'latest')).toMatchObject({ selected: '4', problem: null });
    expect(versionChoices(PRICING, 'newest', 'latest').problem).toMatch(/not a version/);
  });

  it('lists the newest versions only, yet shows an older pinned one as published', () => {
    const big = { ...PRICING, latest_version: 250 };
    const c = versionChoices(big, 3, 'latest');
    expect(c.options).toHaveLength(1 + 100 + 1);
    expect(c.options[1].label).toBe('v250');
    expect(c.options.at(-1)).toEqual({ value: '3', label: 'v3' });
    expect(c.problem).toBeNull();
  });

  it('turns an option back into the config value', () => {
    expect(versionValue('latest')).toBe('latest');
    expect(versionValue('2')).toBe(2);
    expect(versionValue('')).toBeUndefined();
  });
});

describe('choosing', () => {
  it('a new workflow sets its field and resets the version that depended on the old one', () => {
    const deps = [{ key: 'version', default: 'latest' }];
    expect(withRefChoice({ workflow_id: 'a', version: 2, input: 'x' }, 'workflow_id', 'b', deps)).toEqual({
      workflow_id: 'b',
      version: 'latest',
      input: 'x'
    });
    expect(withRefChoice({ workflow_id: 'a', version: 2 }, 'workflow_id', undefined, [{ key: 'version' }])).toEqual({});
    expect(withRefChoice(undefined, 'workflow_id', 'b')).toEqual({ workflow_id: 'b' });
  });

  it('names the workflows of a server message instead of their ids', () => {
    const msg = `node 'price' makes a call cycle: this workflow -> ${PRICING.id} -> ${SELF.toUpperCase()} (each through its pinned or latest published version)`;
    expect(nameWorkflows(msg, [PRICING, THIS], SELF)).toBe(
      "node 'price' makes a call cycle: this workflow -> “pricing” -> this workflow (each through its pinned or latest published version)"
    );
    const other = '00000000-0000-7000-8000-0000000000ee';
    expect(nameWorkflows(`calls ${other}`, [PRICING], SELF)).toBe(`calls ${other}`);
  });
});
