// Failure alerts: an owner adds an alert webhook to a receiver this test starts, copies the secret
// shown once, sends a test alert, adds a rule, makes a workflow fail, and sees the alert fire in
// the history; the receiver checks every signature itself. A viewer reads and sees no write
// control.
import { createServer, type Server } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test, expect, signIn, userWithProject, createUser, Api, expectAccessible, screenshots } from './fixtures';

interface Received {
  type: string;
  valid: boolean;
}

/** A receiver on 127.0.0.1 that verifies Standard Webhooks signatures with node:crypto. */
async function startReceiver() {
  const got: Received[] = [];
  let secret = '';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const id = String(req.headers['webhook-id'] ?? '');
      const ts = String(req.headers['webhook-timestamp'] ?? '');
      const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
      const expected = createHmac('sha256', key).update(`${id}.${ts}.`).update(body).digest();
      const valid = String(req.headers['webhook-signature'] ?? '')
        .split(' ')
        .filter((s) => s.startsWith('v1,'))
        .some((s) => {
          const given = Buffer.from(s.slice(3), 'base64');
          return given.length === expected.length && timingSafeEqual(given, expected);
        });
      let type = '';
      try {
        type = JSON.parse(body.toString('utf8')).type;
      } catch {
        /* counted as invalid below */
      }
      got.push({ type, valid });
      res.writeHead(valid ? 204 : 401).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/alerts`,
    got,
    setSecret: (s: string) => (secret = s),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  };
}

const FAILING = {
  nodes: [{ id: 'end', type: 'terminate', config: { status: 'failed' }, position: { x: 0, y: 0 } }],
  edges: []
};

test('an owner wires an alert webhook, sends a test alert and sees a rule fire', async ({ page }) => {
  test.setTimeout(90_000);
  const receiver = await startReceiver();
  const { user, api, pid } = await userWithProject('alerts', 'Alerting');
  // The receiver is on loopback, which outbound requests refuse unless an allow-list names it.
  await api.call('PUT', `/api/projects/${pid}/outbound`, { allowlist: ['127.0.0.1'] });
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Payments', definition: FAILING });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);

  await signIn(page, user, `/login?next=/p/${pid}/settings/alerts`);
  await expect(page.getByRole('heading', { name: 'Alerts', level: 1 })).toBeVisible();
  await expect(page.getByText('No channels yet')).toBeVisible();

  // A bad URL: the server's message, in place, and nothing added.
  await page.getByLabel('Channel name').fill('Pager');
  await page.getByLabel('Webhook URL').fill('ftp://example.com/hook');
  await page.getByRole('button', { name: 'Add channel' }).click();
  await expect(page.getByRole('form', { name: 'Add a channel' }).getByRole('alert')).toContainText(/http/);

  await page.getByLabel('Webhook URL').fill(receiver.url);
  await page.getByRole('button', { name: 'Add channel' }).click();
  const secretBox = page.getByRole('status', { name: 'Signing secret' });
  await expect(secretBox).toContainText('shown this once');
  const secret = (await secretBox.getByText(/^whsec_/).textContent())!.trim();
  expect(secret).toMatch(/^whsec_/);
  receiver.setSecret(secret);

  await page.getByRole('button', { name: 'Send a test alert to Pager' }).click();
  await expect.poll(() => receiver.got.filter((g) => g.type === 'alert.test').length, { timeout: 20_000 }).toBe(1);
  expect(receiver.got.every((g) => g.valid)).toBe(true);
  // The log is in the URL, and shows the delivery once refreshed.
  await expect(page).toHaveURL(/[?&]channel=/);
  await expect
    .poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return page.getByRole('region', { name: 'Delivery log' }).getByText('delivered').count();
    }, { timeout: 20_000 })
    .toBeGreaterThan(0);

  await page.getByLabel('Rule name').fill('Payments failing');
  await page.getByLabel('When').selectOption('run_failed');
  await page.getByLabel('Window (seconds)').fill('600');
  await page.getByLabel('Workflow').selectOption({ label: 'Payments' });
  await page.getByRole('checkbox', { name: 'Pager' }).check();
  await page.getByRole('button', { name: 'Add rule' }).click();
  const ruleRow = page.getByRole('region', { name: 'Rules' }).getByRole('row').filter({ hasText: 'Payments failing' });
  await expect(ruleRow).toContainText('a run failed in 10 min');

  await api.post(`/api/projects/${pid}/workflows/${wf.id}/runs`, { payload: {} });
  await expect.poll(() => receiver.got.filter((g) => g.type === 'alert.firing').length, { timeout: 30_000 }).toBe(1);
  expect(receiver.got.every((g) => g.valid)).toBe(true);
  await expect
    .poll(async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      return page.getByRole('table', { name: 'Alert history' }).getByRole('row').filter({ hasText: 'Payments failing' }).count();
    }, { timeout: 20_000 })
    .toBe(1);
  await expect(ruleRow).toContainText('firing');
  await expectAccessible(page, 'alerts');
  await screenshots(page, 'alerts');

  // A pasted link opens the same view: the delivery log of the channel.
  await page.goto(page.url());
  await expect(page.getByRole('region', { name: 'Delivery log' })).toBeVisible();
  await api.dispose();
  await receiver.close();
});

test('a viewer reads alerts and sees no write controls', async ({ page }) => {
  const { api, pid } = await userWithProject('aowner', 'Alerts read only');
  await api.post(`/api/projects/${pid}/alerts/channels`, { name: 'Relay', type: 'webhook', url: 'https://alerts.example.com/hook' });
  await api.post(`/api/projects/${pid}/alerts/rules`, { name: 'Any failure', kind: 'run_failed', window_s: 300 });
  const viewer = await createUser('aviewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });

  await signIn(page, viewer, `/login?next=/p/${pid}/settings/alerts`);
  await expect(page.getByRole('row').filter({ hasText: 'Relay' })).toBeVisible();
  await expect(page.getByRole('row').filter({ hasText: 'Any failure' })).toBeVisible();
  await expect(page.getByRole('form', { name: 'Add a channel' })).toHaveCount(0);
  await expect(page.getByRole('form', { name: 'Add a rule' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Send a test alert|Remove|Pause/ })).toHaveCount(0);
  await expectAccessible(page, 'alerts as a viewer');
  await screenshots(page, 'alerts-viewer');

  const asViewer = await Api.as(viewer);
  await asViewer.call('POST', `/api/projects/${pid}/alerts/rules`, { name: 'x', kind: 'run_failed', window_s: 60 }, 403);
  await asViewer.dispose();
  await api.dispose();
});
