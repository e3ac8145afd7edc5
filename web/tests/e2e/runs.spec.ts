// The runs list: its filters (status, workflow, test runs, endpoint, time) carried by the URL,
// the lookup by run id and by delivery id, a row arriving by itself when a webhook is sent, the
// builder's link to its workflow's runs, and the overview's recent runs updating live.
import { test, expect, signIn, userWithProject, runsSettled, expectAccessible, screenshots, SIMPLE_DEFINITION, type Api } from './fixtures';
import type { Page } from '@playwright/test';

const FAILING = { nodes: [{ id: 'stop', type: 'terminate', config: { status: 'failed' }, position: { x: 0, y: 0 } }], edges: [] };

async function workflow(api: Api, pid: string, name: string, definition: unknown) {
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name, definition });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  return wf.id;
}

async function sendHook(page: Page, path: string, body: unknown) {
  const r = await page.request.post(path, { data: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
  expect(r.status()).toBe(202);
  return (await r.json()) as { run_id: string; delivery_id: string };
}

test('filters, lookup by run or delivery id, and a row arriving live', async ({ page }) => {
  const { user, api, pid } = await userWithProject('runs', 'Runs');
  const orders = await workflow(api, pid, 'Orders', SIMPLE_DEFINITION);
  const fails = await workflow(api, pid, 'Always fails', FAILING);
  const ep = await api.post<{ id: string; path: string }>(`/api/projects/${pid}/workflows/${orders}/endpoints`, {
    name: 'shop',
    verification: { scheme: 'none' }
  });
  const api1 = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${orders}/runs`, { payload: { id: 1 } });
  const failed = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${fails}/runs`, { payload: {} });
  const testRun = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${orders}/test-runs`, { payload: { id: 2 } });
  const hooked = await sendHook(page, ep.path, { id: 3 });
  await runsSettled(api, pid);

  await signIn(page, user, `/login?next=/p/${pid}/runs`);
  const rows = page.locator('table tbody tr');
  const row = (id: string) => page.locator(`tr[data-run-id="${id}"]`);
  await expect(rows).toHaveCount(4);
  await expect(row(hooked.run_id).locator('td[data-label="Trigger"]')).toHaveText('webhook');
  // Live from the project feed (a server without one is polled: stream.test.ts).
  await expect(page.getByTestId('live-indicator')).toHaveAttribute('data-status', 'live');
  await expect(page.getByTestId('live-indicator')).toHaveText('Live');

  // Status: in the URL, and still there after a reload.
  await page.getByLabel('Status').selectOption('failed');
  await expect(page).toHaveURL(/status=failed/);
  await expect(rows).toHaveCount(1);
  await expect(row(failed.run_id)).toBeVisible();
  await page.reload();
  await expect(page.getByLabel('Status')).toHaveValue('failed');
  await expect(rows).toHaveCount(1);
  await page.getByRole('button', { name: 'Clear filters' }).first().click();
  await expect(rows).toHaveCount(4);

  // Workflow, test runs, endpoint.
  await page.getByLabel('Workflow').selectOption({ label: 'Always fails' });
  await expect(rows).toHaveCount(1);
  await expect(page.getByRole('heading', { name: 'Runs of Always fails' })).toBeVisible();
  await page.getByLabel('Workflow').selectOption({ label: 'Orders' });
  await expect(rows).toHaveCount(3);
  await page.getByLabel('Test runs').selectOption('only');
  await expect(page).toHaveURL(/test=only/);
  await expect(rows).toHaveCount(1);
  await expect(row(testRun.run_id)).toBeVisible();
  await page.getByLabel('Test runs').selectOption('exclude');
  await expect(rows).toHaveCount(2);
  await page.getByLabel('Endpoint').selectOption(ep.id);
  await expect(page).toHaveURL(new RegExp(`endpoint=${ep.id}`));
  await expect(rows).toHaveCount(1);
  await expect(row(hooked.run_id)).toBeVisible();
  await expectAccessible(page, 'runs filtered');
  await page.getByRole('button', { name: 'Clear filters' }).first().click();

  // Time: the last hour holds all four; a range in the future none.
  await page.getByLabel('Time').selectOption('1h');
  await expect(page).toHaveURL(/range=1h/);
  await expect(rows).toHaveCount(4);
  await page.getByLabel('Time').selectOption('custom');
  await expect(page).toHaveURL(/since=/);
  await page.getByLabel('From').fill('2099-01-01T00:00');
  await page.getByLabel('From').dispatchEvent('change');
  await expect(page.getByRole('heading', { name: 'No runs match these filters' })).toBeVisible();
  await page.getByRole('button', { name: 'Clear filters' }).first().click();
  await expect(rows).toHaveCount(4);

  // Lookup: not an id; a delivery's id filters to its run; a run's id opens the run.
  const lookup = page.getByLabel('Find by run id or delivery id');
  await lookup.fill('order 42');
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.getByText('Paste a run id or a delivery id')).toBeVisible();
  await lookup.fill('00000000-0000-4000-8000-000000000000');
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page.getByText('No run or delivery of this project has this id.')).toBeVisible();
  await lookup.fill(hooked.delivery_id);
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page).toHaveURL(new RegExp(`delivery=${hooked.delivery_id}`));
  await expect(rows).toHaveCount(1);
  await expect(row(hooked.run_id)).toBeVisible();
  await page.getByRole('button', { name: 'Show all runs' }).click();
  await expect(rows).toHaveCount(4);

  // A webhook sent now appears on top by itself, and its status follows the run.
  await expect(page.getByTestId('live-indicator')).toHaveAttribute('data-status', 'live');
  const fresh = await sendHook(page, ep.path, { id: 4 });
  await expect(rows.first()).toHaveAttribute('data-run-id', fresh.run_id, { timeout: 20_000 });
  await expect(rows).toHaveCount(5);
  await expect(row(fresh.run_id).locator('.badge')).toHaveText(/succeeded/, { timeout: 20_000 });
  await screenshots(page, 'runs');

  await lookup.fill(api1.run_id);
  await page.getByRole('button', { name: 'Find' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs/${api1.run_id}$`));

  // The builder links its workflow's runs.
  await page.goto(`/p/${pid}/workflows/${orders}`);
  await page.getByTestId('workflow-runs').click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs\\?workflow=${orders}$`));
  await expect(page.getByRole('heading', { name: 'Runs of Orders' })).toBeVisible();
  await expect(rows).toHaveCount(4);
  await api.dispose();
});

test('the overview shows a new run without a reload', async ({ page }) => {
  const { user, api, pid } = await userWithProject('overview', 'Live overview');
  const orders = await workflow(api, pid, 'Orders', SIMPLE_DEFINITION);
  await api.post(`/api/projects/${pid}/workflows/${orders}/runs`, { payload: { id: 1 } });
  await runsSettled(api, pid);
  await signIn(page, user, `/login?next=/p/${pid}`);
  const rows = page.locator('section.recent table tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(page.getByTestId('live-indicator')).toHaveAttribute('data-status', 'live');
  const r = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${orders}/runs`, { payload: { id: 2 } });
  await expect(rows.first()).toHaveAttribute('data-run-id', r.run_id, { timeout: 20_000 });
  await expect(rows.first().locator('.badge')).toHaveText(/succeeded/, { timeout: 20_000 });
  await api.dispose();
});
