// The delivery log in the browser (issue #17): a delivery refused by the endpoint's JSON Schema is
// listed with its reason and keeps its body; replayed before the fix it is refused again with
// the failing field; the schema is fixed in the settings (checked by the server, tried on a
// recorded delivery); the refusal is then replayed into a run; a forged delivery keeps nothing
// and its Replay is disabled with the reason; the sender's retry is accepted; "Send test
// webhook" answers inline with a link to its run; accepted deliveries are replayed, one from its
// page and a selection from the log, each after a confirmation; the project log's filters live
// in the URL (docs/webhooks.md, "Refused deliveries and replay").
import { createHmac } from 'node:crypto';
import { test, expect, signIn, screenshots, expectAccessible, seedWorkflow, userWithProject } from './fixtures';

const BASE = process.env.MH_BASE_URL ?? 'http://127.0.0.1:8080';

async function hmacPost(url: string, secret: string, body: string): Promise<number> {
  const sig = createHmac('sha256', secret).update(body).digest('hex');
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Signature': sig }, body });
  return r.status;
}

test('a refusal, the schema fixed, the retry accepted and replayed; a test webhook inline', async ({ page }) => {
  test.setTimeout(120_000); // the whole flow, through several pages, with screenshots
  const { user, api, pid } = await userWithProject('deliveries');
  const wid = await seedWorkflow(api, pid, 'Orders to ERP', { publish: true });
  const ep = await api.post<{ id: string; path: string; key: { secret: string } }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'Shop orders',
    verification: { scheme: 'hmac' },
    json_schema: { type: 'object', required: ['order_id'], properties: { order_id: { type: 'string' } } }
  });
  const hook = `${BASE}${ep.path}`;
  const order = '{"order_id": 1042, "total": 19.90}';
  expect(await hmacPost(hook, ep.key.secret, order)).toBe(422);

  await signIn(page, user, `/login?next=/p/${pid}/deliveries`);
  const rows = page.getByTestId('deliveries').locator('tbody tr');
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-outcome', 'refused');
  await expect(rows.first()).toContainText('422');
  await expect(rows.first()).toContainText('JSON Schema');
  await rows.first().locator('a').first().click();
  await expect(page).toHaveURL(/\/deliveries\/[0-9a-f-]{36}/);
  const refusedUrl = page.url();
  await expect(page.getByTestId('reason')).toContainText('JSON Schema');
  await expect(page.getByTestId('fix-hint')).toBeVisible();
  await expect(page.getByTestId('body')).toContainText('"order_id": 1042');
  await screenshots(page, 'delivery-refused-kept');

  // Replayed before the fix: the server judges it on the current schema and refuses it, naming the field.
  await page.getByTestId('replay').click();
  const replayDialog = page.getByRole('dialog', { name: 'Replay this delivery?' });
  await replayDialog.getByRole('button', { name: 'Replay' }).click();
  await expect(replayDialog.getByRole('alert')).toContainText('/order_id');
  await replayDialog.getByRole('button', { name: 'Cancel' }).click();

  // Fix the schema: a bad one is refused by the server with the keyword's path; the good one saved.
  await page.getByRole('link', { name: 'Shop orders' }).click();
  await page.getByRole('navigation', { name: 'Endpoint sections' }).getByRole('link', { name: 'Settings' }).click();
  const schema = page.locator('#st-schema');
  await schema.fill('{"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": "strnig"}}}');
  await page.getByTestId('check-schema').click();
  await expect(page.getByRole('alert')).toContainText('/json_schema/properties/order_id/type');
  await schema.fill('{"type": "object", "required": ["order_id"], "properties": {"order_id": {"type": ["string", "integer"]}}}');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved')).toBeVisible();
  const settingsUrl = page.url();

  // The refusal replayed now: a run starts, linked from the delivery's page.
  await page.goto(refusedUrl);
  await page.getByTestId('replay').click();
  await replayDialog.getByRole('button', { name: 'Replay' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Replayed' })).toBeVisible();
  await expect(page.getByTestId('replays')).toContainText('run');
  await screenshots(page, 'delivery-refused-replayed');
  await page.getByTestId('replayed-run').click();
  await expect(page).toHaveURL(/\/runs\//);
  await expect(page.getByText('succeeded').first()).toBeVisible();

  // A forged delivery keeps nothing: its Replay is disabled, with the reason.
  expect(await hmacPost(hook, 'not-the-secret', order)).toBe(401);
  await page.goto(`/p/${pid}/deliveries?status=401`);
  await expect(rows).toHaveCount(1);
  await rows.first().locator('a').first().click();
  await expect(page.getByTestId('replay')).toBeDisabled();
  await expect(page.getByTestId('replay-why')).toContainText('before its signature was verified');
  await expect(page.getByTestId('no-body')).toBeVisible();
  await screenshots(page, 'delivery-refused-forged');
  await page.goto(settingsUrl);

  // The sender retries: accepted. A test webhook is sent from the page, its result inline.
  expect(await hmacPost(hook, ep.key.secret, order)).toBe(202);
  await page.getByTestId('send-test').click();
  await expect(page.getByTestId('test-result')).toContainText('Test webhook: 422');
  await schema.fill('');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved').first()).toBeVisible();
  await page.getByTestId('send-test').click();
  await expect(page.getByTestId('test-result')).toContainText('Test webhook: 202');
  await expect(page.getByTestId('test-run-link')).toBeVisible();

  // The schema tried on the recorded retry before saving: refused with the failing path.
  await page.reload();
  await schema.fill('{"required": ["customer"]}');
  await page.getByTestId('check-schema').click();
  await expect(page.getByTestId('schema-result')).toContainText('does not pass');
  await expect(page.getByTestId('schema-result')).toContainText('customer');
  await expectAccessible(page, 'endpoint settings');
  await screenshots(page, 'endpoint-settings');

  // Replay one from its page.
  await page.goto(`/p/${pid}/deliveries?outcome=accepted`);
  await expect(rows).toHaveCount(3);
  await expect(page.getByLabel('Outcome')).toHaveValue('accepted');
  await rows.last().locator('a').first().click();
  await page.getByTestId('replay').click();
  await page.getByRole('dialog', { name: 'Replay this delivery?' }).getByRole('button', { name: 'Replay' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Replayed' })).toBeVisible();

  // Replay a selection from the log.
  await page.goto(`/p/${pid}/deliveries?outcome=accepted`);
  await expect(rows).toHaveCount(4);
  await rows.nth(1).getByRole('checkbox').check();
  await rows.nth(2).getByRole('checkbox').check();
  await expect(page.getByText('2 selected')).toBeVisible();
  await page.getByRole('button', { name: 'Replay selected' }).click();
  await page.getByRole('dialog', { name: 'Replay 2 deliveries?' }).getByRole('button', { name: 'Replay' }).click();
  await expect(rows).toHaveCount(6);
  await expect(page.getByTestId('deliveries').getByText('replay', { exact: true })).toHaveCount(4);

  // Filters are in the URL: a pasted link opens the same view.
  await page.goto(`/p/${pid}/deliveries?status=4xx`);
  await expect(page.getByLabel('Status')).toHaveValue('4xx');
  await expect(rows).toHaveCount(3);
  await page.getByLabel('From').fill('2999-01-01T00:00');
  await expect(page).toHaveURL(/since=2999/);
  await expect(page.getByText('No deliveries match these filters')).toBeVisible();
  await page.goto(`/p/${pid}/deliveries`);
  await expect(rows).toHaveCount(9);
  await expectAccessible(page, 'delivery log');
  await screenshots(page, 'deliveries');
  await api.dispose();
});
