// Webhook endpoints in the browser (issue #17): create a Stripe endpoint, copy its secret shown
// once, RUN the server-produced sender example (sh + openssl + curl, from the page) and see the
// delivery accepted in the log; rotate a key and see a delivery signed with the old key still
// accepted during the grace period and refused after revocation; a viewer sees no write control
// and the server refuses the writes anyway.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { test, expect, signIn, screenshots, expectAccessible, seedWorkflow, userWithProject, createUser, Api } from './fixtures';

const BASE = process.env.MH_BASE_URL ?? 'http://127.0.0.1:8080';

/** A Stripe-signed POST of `body` with `secret`, as Stripe's own libraries sign. */
async function stripePost(url: string, secret: string, body: string): Promise<number> {
  const t = Math.floor(Date.now() / 1000);
  const v1 = createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Stripe-Signature': `t=${t},v1=${v1}` },
    body
  });
  return r.status;
}

test('create a Stripe endpoint, copy the secret, run the server-made example and see it accepted', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const { user, api, pid } = await userWithProject('endpoints');
  const wid = await seedWorkflow(api, pid, 'Stripe payment to ERP', { publish: true });
  await signIn(page, user, `/login?next=/p/${pid}/workflows/${wid}`);
  // From the builder to this workflow's endpoints, then the form.
  await page.getByTestId('workflow-endpoints').click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/endpoints\\?workflow=${wid}`));
  await expect(page.getByText('This workflow has no endpoints yet')).toBeVisible();
  await page.getByTestId('new-endpoint').click();
  await expect(page.getByLabel('Workflow', { exact: true })).toHaveValue(wid);
  await page.getByLabel('Name').fill('Stripe payments');
  await expect(page.getByRole('radio', { name: 'Stripe', exact: true })).toBeChecked();
  await expect(page.getByLabel('Timestamp tolerance (seconds)')).toHaveValue('300');
  await expectAccessible(page, 'new endpoint form');
  await screenshots(page, 'endpoint-new');
  await page.getByRole('button', { name: 'Create endpoint' }).click();

  const once = page.getByTestId('secret-once');
  await expect(once).toContainText('You will not see this secret again');
  const secret = (await page.getByTestId('once-secret').textContent())!.trim();
  expect(secret).toMatch(/^whsec_/);
  await page.getByRole('button', { name: 'Copy the signing secret' }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
  const url = (await page.getByTestId('once-url').textContent())!.trim();
  expect(url.startsWith(`${BASE}/hooks/`)).toBe(true);
  await expect(page.getByTestId('sender-examples')).toContainText('In Stripe');
  await expect(page.getByTestId('sender-examples')).toContainText('Endpoint URL');
  await expectAccessible(page, 'endpoint created');
  await screenshots(page, 'endpoint-created');

  // The example, exactly as the page shows it, run by a shell: Stripe-signed with openssl.
  const script = (await page.getByTestId('example-script').textContent())!;
  expect(script).toContain(secret);
  const out = execFileSync('sh', ['-c', script], { encoding: 'utf8' });
  const answer = JSON.parse(out);
  expect(answer.delivery_id).toBeTruthy();

  await page.getByRole('button', { name: 'Open the endpoint' }).click();
  await expect(page.getByRole('heading', { name: 'Stripe payments' })).toBeVisible();
  const row = page.getByTestId('deliveries').locator('tbody tr').first();
  await expect(row).toHaveAttribute('data-outcome', 'accepted');
  await expect(row).toContainText('202');
  // The secret is gone for good: the endpoint page and its sender setup never show it.
  await expect(page.locator('body')).not.toContainText(secret);
  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Sender setup' }).click();
  await expect(page).toHaveURL(/tab=send/);
  await expect(page.getByTestId('example-script')).toContainText('set SECRET');
  await expect(page.locator('body')).not.toContainText(secret);
  // ... and the placeholder script, given the copied secret, is accepted too.
  const later = (await page.getByTestId('example-script').textContent())!;
  const out2 = execFileSync('sh', ['-c', later], { encoding: 'utf8', env: { ...process.env, SECRET: secret } });
  expect(JSON.parse(out2).delivery_id).toBeTruthy();
  await screenshots(page, 'endpoint-sender-setup');

  // The delivery's detail: the body exactly as sent, verified by the endpoint's key.
  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Deliveries' }).click();
  await page.getByTestId('deliveries').locator(`a[aria-label="Delivery ${answer.delivery_id}"]`).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/deliveries/${answer.delivery_id}`));
  await expect(page.getByTestId('outcome')).toContainText('accepted');
  await expect(page.getByTestId('verification')).toContainText('Verified by key');
  await expect(page.getByTestId('headers')).toContainText('[redacted]');
  await expect(page.getByTestId('headers')).not.toContainText('v1=');
  await page.getByRole('link', { name: 'Raw' }).click();
  await expect(page).toHaveURL(/view=raw/);
  const sent = script.match(/^BODY='(.*)'$/m)![1];
  await expect(page.getByTestId('body')).toHaveText(sent);
  await page.getByRole('link', { name: 'Pretty' }).click();
  await expect(page.getByTestId('body')).toHaveText(JSON.stringify(JSON.parse(sent), null, 2));
  await expect(page.getByTestId('run-link')).toBeVisible();
  await expectAccessible(page, 'delivery detail');
  await screenshots(page, 'delivery-detail');
  await api.dispose();
});

test('rotation: the old key verifies during the grace period, and not after its revocation', async ({ page }) => {
  const { user, api, pid } = await userWithProject('rotate');
  const wid = await seedWorkflow(api, pid, 'Stripe refunds', { publish: true });
  const oldSecret = 'whsec_' + 'old-secret-of-the-sender-0123456789';
  const ep = await api.post<{ id: string; path: string; key: { id: string } }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'Refunds',
    verification: { scheme: 'stripe' },
    key: { secret: oldSecret, label: 'original' }
  });
  const hook = `${BASE}${ep.path}`;
  await signIn(page, user, `/login?next=/p/${pid}/endpoints/${ep.id}?tab=keys`);
  const keys = page.getByTestId('keys');
  const oldRow = keys.locator(`tr[data-key="${ep.key.id}"]`);
  await expect(oldRow).toHaveAttribute('data-state', 'active');
  await expect(oldRow.getByTestId('last-used')).toHaveText('never');

  await page.getByLabel('Grace for rotation (hours)').fill('1');
  await page.getByRole('button', { name: 'Rotate…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Rotate the signing key?' });
  await expect(dialog).toContainText('keep verifying for 1 hour');
  await dialog.getByRole('button', { name: 'Rotate' }).click();
  await expect(page.getByTestId('secret-once')).toContainText('You will not see this secret again');
  const newSecret = (await page.getByTestId('once-secret').textContent())!.trim();
  await expect(oldRow).toHaveAttribute('data-state', 'expiring');
  await expect(keys.locator('tbody tr')).toHaveCount(2);

  // Within the grace period the sender's old key still verifies; the new one does too.
  expect(await stripePost(hook, oldSecret, '{"id": "re_1"}')).toBe(202);
  expect(await stripePost(hook, newSecret, '{"id": "re_2"}')).toBe(202);
  await page.getByRole('button', { name: 'I have copied the secret' }).click();
  await page.reload();
  await expect(oldRow.getByTestId('last-used')).not.toHaveText('never');
  await expectAccessible(page, 'endpoint keys');
  await screenshots(page, 'endpoint-keys');

  // Revoked, it is refused at once.
  await oldRow.getByRole('button', { name: 'Revoke' }).click();
  await page.getByRole('dialog', { name: 'Revoke this key?' }).getByRole('button', { name: 'Revoke' }).click();
  await expect(oldRow).toHaveAttribute('data-state', 'revoked');
  expect(await stripePost(hook, oldSecret, '{"id": "re_3"}')).toBe(401);
  expect(await stripePost(hook, newSecret, '{"id": "re_4"}')).toBe(202);

  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Deliveries' }).click();
  const rows = page.getByTestId('deliveries').locator('tbody tr');
  await expect(rows).toHaveCount(4);
  await expect(rows.nth(1)).toHaveAttribute('data-outcome', 'refused');
  await expect(rows.nth(1)).toContainText('401');
  await page.getByLabel('Outcome').selectOption('refused');
  await expect(page).toHaveURL(/outcome=refused/);
  await expect(rows).toHaveCount(1);
  await api.dispose();
});

test('a viewer sees no write control, and the server refuses the writes anyway', async ({ page }) => {
  const { api, pid } = await userWithProject('ep-owner');
  const wid = await seedWorkflow(api, pid, 'GitHub push', { publish: true });
  const ep = await api.post<{ id: string; path: string; key: { id: string } }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'GitHub',
    verification: { scheme: 'github' }
  });
  await api.post(`/api/projects/${pid}/endpoints/${ep.id}/test`, {});
  const viewer = await createUser('ep-viewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });

  await signIn(page, viewer, `/login?next=/p/${pid}/endpoints`);
  await expect(page.getByRole('link', { name: 'GitHub', exact: true })).toBeVisible();
  await expect(page.getByTestId('new-endpoint')).toHaveCount(0);
  await page.getByRole('link', { name: 'GitHub', exact: true }).click();
  await expect(page.getByRole('heading', { name: 'GitHub', exact: true })).toBeVisible();
  await expect(page.getByTestId('send-test')).toHaveCount(0);
  await expect(page.getByTestId('deliveries').locator('tbody tr')).toHaveCount(1);
  await expect(page.getByRole('button', { name: 'Replay selected' })).toHaveCount(0);
  await expect(page.getByTestId('deliveries').locator('input[type="checkbox"]')).toHaveCount(0);
  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Keys' }).click();
  await expect(page.getByTestId('keys')).toBeVisible();
  await expect(page.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Rotate…' })).toHaveCount(0);
  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByText('Read-only: only editors change endpoints.')).toBeVisible();
  await expect(page.getByLabel('Name')).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save settings' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'Delete endpoint…' })).toHaveCount(0);
  await expectAccessible(page, 'endpoint settings, viewer');
  await screenshots(page, 'endpoint-settings-viewer');

  const v = await Api.as(viewer);
  const base = `/api/projects/${pid}/endpoints/${ep.id}`;
  await v.call('PATCH', base, { is_enabled: false }, 403);
  await v.call('POST', `${base}/keys`, {}, 403);
  await v.call('POST', `${base}/keys/rotate`, {}, 403);
  await v.call('DELETE', `${base}/keys/${ep.key.id}`, undefined, 403);
  await v.call('POST', `${base}/test`, {}, 403);
  await v.call('DELETE', base, undefined, 403);
  const log = await v.get<{ items: { id: string }[] }>(`/api/projects/${pid}/deliveries`);
  await v.call('POST', `${base}/deliveries/${log.items[0].id}/replay`, {}, 403);
  await v.call('POST', `/api/projects/${pid}/workflows/${wid}/endpoints`, { verification: { scheme: 'none' } }, 403);
  // Reads still work, and the examples never carry a secret.
  const ex = await v.get<{ script: string; secret_included: boolean }>(`${base}/examples`);
  expect(ex.secret_included).toBe(false);
  await v.dispose();
  await api.dispose();
});
