// Dead letters: an http_call to a target that fails until it is fixed exhausts its retries; the
// dead letter is re-driven from the page and its new run succeeds; another is dismissed and
// restored in bulk; a viewer sees no write controls and the server refuses the writes anyway.
import { test, expect, signIn, userWithProject, createUser, expectAccessible, screenshots, Api } from './fixtures';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A target on loopback answering 503 until `fixed`, then 200. */
async function flakyTarget() {
  const state = { fixed: false, hits: 0 };
  const server: Server = createServer((req, res) => {
    state.hits += 1;
    req.resume();
    res.writeHead(state.fixed ? 200 : 503, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(state.fixed ? { ok: true } : { error: 'maintenance' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { state, url: `http://127.0.0.1:${port}/orders`, close: () => new Promise((r) => server.close(r)) };
}

/** A published workflow calling `url` once (no retries), and `n` runs of it dead-lettered. */
async function deadLetters(api: Api, pid: string, url: string, n: number) {
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Sync orders',
    definition: {
      nodes: [
        { id: 'push', type: 'http_call', config: { url, method: 'POST', retry: { max_attempts: 1 } }, position: { x: 0, y: 0 } },
        { id: 'done', type: 'terminate', config: { output: 'steps.push.output.body' }, position: { x: 0, y: 120 } }
      ],
      edges: [{ from: 'push', to: 'done' }]
    }
  });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  for (let i = 0; i < n; i++) await api.post(`/api/projects/${pid}/workflows/${wf.id}/runs`, { payload: { order: `A-${i}` } });
  await expect
    .poll(async () => (await api.get<{ items: unknown[] }>(`/api/projects/${pid}/dead-letters`)).items.length, { timeout: 30_000 })
    .toBe(n);
  return wf.id;
}

test('a dead letter is re-driven from the page; another is dismissed and restored', async ({ page }) => {
  const target = await flakyTarget();
  try {
    const { user, api, pid } = await userWithProject('deadletters', 'Dead letters');
    await deadLetters(api, pid, target.url, 2);
    await signIn(page, user, `/login?next=/p/${pid}/dead-letters`);
    const rows = page.locator('table tbody tr');
    await expect(rows).toHaveCount(2);
    await expect(rows.first()).toContainText('Sync orders');
    await expect(rows.first()).toContainText('push');
    await expect(rows.first()).toContainText('open');
    await expect(page.getByTestId('live-indicator')).toHaveAttribute('data-status', 'live');
    await expectAccessible(page, 'dead letters');
    await screenshots(page, 'dead-letters');

    // The detail, in the URL: the last error, the payload, the run.
    await rows.first().getByRole('button', { name: 'Details' }).click();
    await expect(page).toHaveURL(/dl=/);
    const detail = page.getByRole('dialog', { name: 'Dead letter', exact: true });
    await expect(detail).toContainText('503');
    await expect(detail.getByRole('link', { name: /^…/ }).first()).toBeVisible();
    await expectAccessible(page, 'dead letter detail');
    await screenshots(page, 'dead-letter-detail');
    await page.reload();
    await expect(detail).toBeVisible();

    // The target is fixed; re-driven from the detail, the step runs again in a new run.
    target.state.fixed = true;
    await detail.getByRole('button', { name: 'Re-drive' }).click();
    const confirm = page.getByRole('dialog', { name: /Re-drive this dead letter/ });
    await confirm.getByRole('button', { name: 'Re-drive' }).click();
    await expect(page.getByText('1 dead letter re-driven')).toBeVisible();
    const redriven = detail.getByRole('link', { name: /^run …/ });
    await expect(redriven).toBeVisible();
    const newRun = (await redriven.getAttribute('href'))!.split('/').pop()!;
    await expect
      .poll(async () => (await api.get<{ status: string }>(`/api/projects/${pid}/runs/${newRun}`)).status, { timeout: 30_000 })
      .toBe('succeeded');
    await detail.getByRole('button', { name: 'Close' }).click();
    await expect(page).not.toHaveURL(/dl=/);
    await expect(rows).toHaveCount(1);
    await page.getByLabel('State').selectOption('replayed');
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).toContainText('re-driven');

    // The other one: dismissed through the selection, then restored.
    await page.getByLabel('State').selectOption('open');
    // The list of the new filter, not the re-driven one still shown until it has loaded.
    await expect(rows).toHaveCount(1);
    await expect(rows.first()).not.toContainText('re-driven');
    await rows.first().getByRole('checkbox').check();
    await page.getByRole('region', { name: 'Selected dead letters' }).getByRole('button', { name: 'Dismiss' }).click();
    await page.getByRole('dialog', { name: /Dismiss this dead letter/ }).getByRole('button', { name: 'Dismiss' }).click();
    await expect(page.getByRole('heading', { name: 'No open dead letters' })).toBeVisible();
    await page.getByLabel('State').selectOption('dismissed');
    await expect(page).toHaveURL(/state=dismissed/);
    await expect(rows).toHaveCount(1);
    await page.getByLabel('Select all').check();
    await page.getByRole('region', { name: 'Selected dead letters' }).getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('dialog', { name: /Restore this dead letter/ }).getByRole('button', { name: 'Restore' }).click();
    await expect(page.getByRole('heading', { name: 'No dead letters match these filters' })).toBeVisible();
    const open = await api.get<{ items: { id: string }[] }>(`/api/projects/${pid}/dead-letters?state=open`);
    expect(open.items.length).toBe(1);
    expect(target.state.hits).toBe(3);
    await api.dispose();
  } finally {
    await target.close();
  }
});

test('a viewer sees no write controls, and the server refuses the writes', async ({ page }) => {
  const target = await flakyTarget();
  try {
    const { api, pid } = await userWithProject('dlowner', 'Watched');
    await deadLetters(api, pid, target.url, 1);
    const viewer = await createUser('dlviewer');
    await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
    await signIn(page, viewer, `/login?next=/p/${pid}/dead-letters`);
    const rows = page.locator('table tbody tr');
    await expect(rows).toHaveCount(1);
    await expect(page.getByRole('checkbox')).toHaveCount(0);
    await rows.first().getByRole('button', { name: 'Details' }).click();
    const detail = page.getByRole('dialog', { name: 'Dead letter', exact: true });
    await expect(detail).toContainText('503');
    await expect(detail.getByRole('button', { name: 'Re-drive' })).toHaveCount(0);
    await expect(detail.getByRole('button', { name: 'Dismiss' })).toHaveCount(0);
    await expectAccessible(page, 'dead letters as a viewer');

    const id = (await api.get<{ items: { id: string }[] }>(`/api/projects/${pid}/dead-letters`)).items[0].id;
    const as = await Api.as(viewer);
    for (const action of ['replay', 'dismiss', 'undismiss'])
      await as.call('POST', `/api/projects/${pid}/dead-letters/${action}`, { ids: [id] }, 403);
    await as.call('POST', `/api/projects/${pid}/dead-letters/${id}/replay`, {}, 403);
    await as.dispose();
    expect(target.state.hits).toBe(1);
    await api.dispose();
  } finally {
    await target.close();
  }
});
