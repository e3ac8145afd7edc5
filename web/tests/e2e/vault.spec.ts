// Secrets, privacy and the audit log in the browser (issue #17): a secret created on the page,
// used by a workflow's http_call, shown with where it is used and when a run last decrypted it,
// and never shown again; a custom PII rule changing the live tester's output before and after
// saving; the audit log filtered and its chain verified; a viewer sees no write control and the
// server refuses the writes anyway.
import { test, expect, signIn, userWithProject, createUser, Api, expectAccessible, screenshots } from './fixtures';

const VALUE = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

test('a secret is created on the page, used by an http_call, and its value never shown again', async ({ page }) => {
  const { user, api, pid } = await userWithProject('secrets', 'Vault');
  await signIn(page, user, `/login?next=/p/${pid}/settings/secrets`);
  await expect(page.getByRole('heading', { name: 'Secrets', exact: true })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No secrets yet' })).toBeVisible();

  // A bad name is explained before anything is sent.
  await page.getByLabel('Name').fill('9LIVES');
  await expect(page.getByText('A name starts with a letter or _')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add secret' })).toBeDisabled();

  await page.getByLabel('Name').fill('STRIPE_KEY');
  await page.getByLabel('Value', { exact: true }).fill(VALUE);
  await page.getByLabel('Description (optional)').fill('Stripe restricted key for refunds');
  await page.getByRole('button', { name: 'Add secret' }).click();
  const row = page.getByTestId('secret-STRIPE_KEY');
  await expect(row).toBeVisible();
  await expect(row).toContainText('no workflow');
  await expect(row).toContainText('never');
  await expect(page.getByLabel('Value', { exact: true })).toHaveValue('');

  // A workflow sends it in a header; a run decrypts it (the target itself is refused: loopback).
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Refunds',
    definition: {
      nodes: [
        {
          id: 'refund',
          type: 'http_call',
          config: { url: 'http://127.0.0.1:9/refund', headers: { Authorization: 'Bearer {{secrets.STRIPE_KEY}}' } },
          position: { x: 0, y: 0 }
        }
      ],
      edges: []
    }
  });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/runs`, { payload: { id: 1 } });
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId('secret-STRIPE_KEY')).not.toContainText('never', { timeout: 1000 });
  }).toPass({ timeout: 30_000 });
  await expect(row.getByRole('link', { name: 'Refunds' })).toBeVisible();
  await expect(row).toContainText('v1: refund');
  expect(await page.content()).not.toContain(VALUE);
  await expectAccessible(page, 'secrets');
  await screenshots(page, 'secrets');

  // Replacing the value: the dialog never shows the old one.
  await row.getByRole('button', { name: 'Edit STRIPE_KEY' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog.getByLabel(/New value/)).toHaveValue('');
  await dialog.getByLabel(/New value/).fill(`${VALUE}-rotated`);
  await dialog.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'was replaced' })).toBeVisible();
  expect(await page.content()).not.toContain(VALUE);

  // Deleting warns that a workflow uses it.
  await row.getByRole('button', { name: 'Delete STRIPE_KEY' }).click();
  await expect(page.getByRole('dialog')).toContainText('1 workflow uses it');
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await expect(row).toHaveCount(0);
  const left = await api.get<{ items: unknown[] }>(`/api/projects/${pid}/secrets`);
  expect(left.items).toHaveLength(0);
  await api.dispose();
});

test('a custom PII rule changes the tester output, and is saved', async ({ page }) => {
  const { user, api, pid } = await userWithProject('privacy', 'Private');
  await signIn(page, user, `/login?next=/p/${pid}/settings/privacy`);
  await expect(page.getByRole('heading', { name: 'Privacy', exact: true })).toBeVisible();
  const out = page.getByTestId('tester-output');
  // The defaults redact the e-mail address but not the order pin.
  await expect(out).toContainText('[redacted:email]');
  await expect(out).not.toContainText('jane.doe@example.com');
  await expect(out).toContainText('order-pin=4821');

  await page.getByRole('button', { name: 'Add a pattern' }).click();
  await page.getByLabel('Name', { exact: true }).fill('order_pin');
  await page.getByLabel('Pattern', { exact: true }).fill('order-pin=(?<redact>\\d+');
  await expect(page.getByRole('alert').filter({ hasText: /pattern|compile|missing/i })).toBeVisible();
  await page.getByLabel('Pattern', { exact: true }).fill('order-pin=(?<redact>\\d+)');
  await page.getByLabel('order_pin in events').check();
  await expect(out).toContainText('order-pin=[redacted:order_pin]');
  await expect(page.getByText('(not saved yet)')).toBeVisible();
  await expectAccessible(page, 'privacy');
  await screenshots(page, 'privacy');

  await page.getByRole('button', { name: 'Save rules' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Privacy settings saved' })).toBeVisible();
  const saved = await api.get<{ events: string[]; custom: { name: string }[] }>(`/api/projects/${pid}/privacy`);
  expect(saved.custom.map((c) => c.name)).toEqual(['order_pin']);
  expect(saved.events).toContain('order_pin');
  await api.dispose();
});

test('the audit log filters by action and verifies its chain', async ({ page }) => {
  const { user, api, pid } = await userWithProject('audit', 'Audited');
  await api.post(`/api/projects/${pid}/secrets`, { name: 'ONE', value: 'value-number-one-123' });
  await api.post(`/api/projects/${pid}/secrets`, { name: 'TWO', value: 'value-number-two-456' });
  await api.call('PUT', `/api/projects/${pid}/privacy`, { pii_read_role: 'owner' });
  await signIn(page, user, `/login?next=/p/${pid}/settings/audit`);
  await expect(page.getByRole('heading', { name: 'Audit log', exact: true })).toBeVisible();
  await expect(page.getByTestId('audit-row').filter({ hasText: 'privacy.update' })).toBeVisible();

  await page.getByLabel('Action').fill('secret.');
  await page.getByLabel('Action').press('Enter');
  await page.getByLabel('Action').blur();
  await expect(page).toHaveURL(/action=secret\./);
  await expect(page.getByTestId('audit-row')).toHaveCount(2);
  await expect(page.getByTestId('audit-row').filter({ hasText: 'privacy.update' })).toHaveCount(0);
  await page.getByTestId('audit-row').first().getByRole('button', { name: 'Details' }).click();
  await expect(page.getByText('Entry')).toBeVisible();

  await page.getByRole('button', { name: 'Verify the chain' }).click();
  await expect(page.getByTestId('verdict')).toContainText('The chain is intact.');
  await expectAccessible(page, 'audit');
  await screenshots(page, 'audit');

  // A link carries the filters.
  await page.goto(`/p/${pid}/settings/audit?action=privacy.update`);
  await expect(page.getByTestId('audit-row')).toHaveCount(1);
  await api.dispose();
});

test('a viewer sees no secret, privacy or audit controls, and the server refuses the writes', async ({ page }) => {
  const { api, pid } = await userWithProject('vaultowner', 'Shared');
  await api.post(`/api/projects/${pid}/secrets`, { name: 'HIDDEN', value: 'value-the-viewer-never-sees' });
  const viewer = await createUser('vaultviewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
  await signIn(page, viewer, `/login?next=/p/${pid}/settings/secrets`);
  await expect(page.getByRole('heading', { name: 'Secrets are managed by editors' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Add secret' })).toHaveCount(0);
  await expect(page.getByText('HIDDEN')).toHaveCount(0);
  await page.goto(`/p/${pid}/settings/privacy`);
  await expect(page.getByRole('heading', { name: 'Privacy rules are managed by admins' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Save rules' })).toHaveCount(0);
  await page.goto(`/p/${pid}/settings/audit`);
  await expect(page.getByRole('heading', { name: 'The audit log is for admins' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Verify the chain' })).toHaveCount(0);
  await screenshots(page, 'secrets-viewer');

  const as = await Api.as(viewer);
  for (const [method, path, body] of [
    ['POST', `/api/projects/${pid}/secrets`, { name: 'MINE', value: 'a-long-enough-value' }],
    ['PATCH', `/api/projects/${pid}/secrets/HIDDEN`, { value: 'another-long-value' }],
    ['DELETE', `/api/projects/${pid}/secrets/HIDDEN`, undefined],
    ['PUT', `/api/projects/${pid}/privacy`, { pii_read_role: 'viewer' }],
    ['POST', `/api/projects/${pid}/privacy/test`, { data: 1 }]
  ] as const) {
    const r = await as.ctx.fetch(path, { method, data: body, headers: { 'X-CSRF-Token': as.csrf } });
    expect([403, 404], `${method} ${path}`).toContain(r.status());
  }
  const still = await api.get<{ items: { name: string }[] }>(`/api/projects/${pid}/secrets`);
  expect(still.items.map((s) => s.name)).toEqual(['HIDDEN']);
  await as.dispose();
  await api.dispose();
});
