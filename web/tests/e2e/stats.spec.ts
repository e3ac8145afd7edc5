// Run statistics in the web app (issue #16): known webhooks (three accepted, one refused for a
// bad signature) are sent to a fresh project, and the workflow's statistics page and the project
// overview show exactly those counts in their summaries; the window picker changes the URL, and a
// pasted URL opens the same window. The server under test folds statistics every 300 ms with a
// lag of one second (tests/browser.sh).
import { test, expect, userWithProject, signIn, seedWorkflow, runsSettled, expectAccessible, screenshots } from './fixtures';

test('statistics show the counts of known webhooks, per workflow and per project', async ({ page }) => {
  const { user, api, pid } = await userWithProject('stats', 'Stats project');
  const wid = await seedWorkflow(api, pid, 'Order events', { publish: true });
  const open = await api.post<{ path: string }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'open',
    verification: { scheme: 'none' }
  });
  const signed = await api.post<{ path: string }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'signed',
    verification: { scheme: 'hmac' }
  });
  for (let i = 0; i < 3; i++) {
    const r = await page.request.post(open.path, { data: { id: i }, headers: { 'Content-Type': 'application/json' } });
    expect(r.status()).toBe(202);
  }
  const bad = await page.request.post(signed.path, {
    data: { id: 9 },
    headers: { 'Content-Type': 'application/json', 'X-Signature': 'deadbeef' }
  });
  expect(bad.status()).toBe(401);
  await runsSettled(api, pid);

  await signIn(page, user);
  await page.goto(`/p/${pid}/workflows/${wid}/stats?window=1h&grain=minute`);
  await expect(page.getByRole('heading', { name: 'Order events' })).toBeVisible();
  // The rollup runs in the background: reload until it has counted everything.
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('stat-succeeded')).toHaveText('3', { timeout: 1_000 });
    await expect(page.getByTestId('stat-deliveries')).toHaveText('3 · 0 · 1', { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await expect(page.getByTestId('stat-started')).toHaveText('3');
  await expect(page.getByTestId('stat-failed')).toHaveText('0');
  await expect(page.getByTestId('stat-canceled')).toHaveText('0');
  await expect(page.getByTestId('stat-error-rate')).toHaveText('0 %');
  await expect(page.getByTestId('stat-durations')).toHaveText(/\d+(\.\d)? m?s · /);
  await expect(page.getByRole('button', { name: '1 h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByLabel('Grain')).toHaveValue('minute');
  await expect(page.getByRole('figure', { name: 'Runs by outcome' })).toBeVisible();
  await expect(page.getByRole('figure', { name: 'Runs by outcome' }).locator('canvas')).toBeVisible();
  await expectAccessible(page, 'workflow statistics');
  await screenshots(page, 'stats');

  // The window picker keeps its state in the URL.
  await page.getByRole('button', { name: '7 d' }).click();
  await expect(page).toHaveURL(/window=7d&grain=hour/);
  await expect(page.getByTestId('stat-started')).toHaveText('3');
  await page.getByLabel('Grain').selectOption('day');
  await expect(page).toHaveURL(/window=7d&grain=day/);
  await expect(page.getByTestId('stat-succeeded')).toHaveText('3');

  // The project overview: the same figures for the whole project, with the window from its URL.
  await page.goto(`/p/${pid}?window=24h&grain=hour`);
  await expect(page.getByRole('button', { name: '24 h' })).toHaveAttribute('aria-pressed', 'true');
  await expect(page.getByTestId('stat-started')).toHaveText('3');
  await expect(page.getByTestId('stat-deliveries')).toHaveText('3 · 0 · 1');
  await expect(page.getByRole('figure', { name: 'Duration' })).toBeVisible();
  await expectAccessible(page, 'overview with statistics');
  await screenshots(page, 'overview-stats');

  // Reached from the workflows list.
  await page.goto(`/p/${pid}/workflows`);
  const row = page.getByRole('table').getByRole('row').filter({ hasText: 'Order events' });
  await row.getByRole('link', { name: 'Stats', exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows/${wid}/stats`));
  await expect(page.getByTestId('stat-started')).toHaveText('3');
  await api.dispose();
});
