// A step parked by an open circuit breaker (docs/observability.md, "Breakers"): the run console
// shows it waiting — parked by a breaker, until when — on the graph, and the step inspector
// names the host and lists the park under its attempt. The server runs with the default breaker
// (5 failures open it for 30 s), so the parked attempt stays parked for the whole test.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect, signIn, userWithProject, expectAccessible, screenshots } from './fixtures';

test('a step parked by an open breaker shows as waiting until the probe, with its host', async ({ page }) => {
  let hits = 0;
  const target: Server = createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'maintenance' }));
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const port = (target.address() as AddressInfo).port;
  try {
    const { user, api, pid } = await userWithProject('parked', 'Parked calls');
    await api.call('PUT', `/api/projects/${pid}/outbound`, { allowlist: ['127.0.0.1'] });
    const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
      name: 'Sync to CRM',
      definition: {
        nodes: [
          {
            id: 'call',
            type: 'http_call',
            config: {
              method: 'POST',
              url: `http://127.0.0.1:${port}/contacts`,
              body: { expression: 'trigger.body' },
              timeout_ms: 5000,
              retry: { max_attempts: 10, base_delay_ms: 20, max_delay_ms: 40 }
            }
          }
        ],
        edges: []
      }
    });
    await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
    const { run_id: rid } = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/runs`, {
      payload: { contact: 1 }
    });
    await signIn(page, user, `/login?next=/p/${pid}/runs/${rid}`);

    // Five failures open the breaker; the sixth attempt is parked, not sent and not spent.
    const node = page.getByTestId('run-node-call');
    await expect(node).toHaveAttribute('data-state', 'waiting', { timeout: 20_000 });
    await expect(node).toContainText('parked by a breaker');
    await expect(node.getByTestId('parked-until')).toContainText(new RegExp(`until \\d\\d:\\d\\d:\\d\\d · 127.0.0.1:${port}`));
    await expect(page.getByTestId('run-status')).toContainText('running');
    expect(hits).toBe(5);

    await page.getByTestId('step-call').click();
    await expect(page).toHaveURL(/node=call/);
    const inspector = page.getByTestId('step-inspector');
    await expect(inspector.getByTestId('parked-by')).toContainText(`http://127.0.0.1:${port}`);
    await expect(inspector).toContainText('Parked until');
    await expect(inspector.getByTestId('attempt-6').getByTestId('attempt-parked')).toHaveText('parked');
    const park = inspector.getByTestId('attempt-6').getByTestId('attempt-park');
    await expect(park).toContainText('Not sent: the circuit breaker of');
    await expect(park).toContainText('No attempt was spent');
    // The timeline lists the park as an event of the step.
    await expect(page.getByText('step_parked').first()).toBeVisible();
    await expectAccessible(page, 'parked step');
    await screenshots(page, 'run-detail-parked');
    expect(hits).toBe(5);
    await api.dispose();
  } finally {
    target.close();
  }
});

test('an owner adds a "breaker opened" rule for one host; a bad host is refused with its reason', async ({ page }) => {
  const { user, api, pid } = await userWithProject('breakerrule', 'Breaker rules');
  await signIn(page, user, `/login?next=/p/${pid}/settings/alerts`);
  await page.getByLabel('Rule name').fill('CRM down');
  await page.getByLabel('When').selectOption('breaker_opened');
  // This kind has no window and no threshold: a host filter instead.
  await expect(page.getByLabel('Window (seconds)')).toHaveCount(0);
  await page.getByLabel('Host (empty: any)').fill('https://crm.example.com/path');
  await page.getByRole('button', { name: 'Add rule' }).click();
  await expect(page.getByRole('form', { name: 'Add a rule' }).getByRole('alert')).toContainText('without a path');
  await page.getByLabel('Host (empty: any)').fill('CRM.example.com');
  await page.getByRole('button', { name: 'Add rule' }).click();
  const row = page.getByRole('region', { name: 'Rules' }).getByRole('row').filter({ hasText: 'CRM down' });
  await expect(row).toContainText('a breaker of crm.example.com opened');
  const rules = await api.get<{ items: { kind: string; host: string | null }[] }>(`/api/projects/${pid}/alerts/rules`);
  expect(rules.items).toEqual([expect.objectContaining({ kind: 'breaker_opened', host: 'crm.example.com' })]);
  await expectAccessible(page, 'alerts with a breaker rule');
  await api.dispose();
});
