// API tokens: created and shown once with a copy button, listed by prefix, revoked.
import { test, expect, signIn, createUser, expectAccessible, screenshots } from './fixtures';

test('create a token, see it once, use it, revoke it', async ({ page, context, request }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  const user = await createUser('tokens');
  await signIn(page, user, '/login?next=/account/tokens');
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  await expect(page.getByRole('heading', { name: 'No tokens yet' })).toBeVisible();

  await page.getByLabel('Name').fill('CI deploys');
  await page.getByLabel('Expires').selectOption('30');
  await page.getByRole('button', { name: 'Create token' }).click();
  const secret = page.getByTestId('new-token');
  await expect(secret).toHaveText(/^mh_[A-Za-z0-9_-]{43}$/);
  const token = (await secret.textContent())!.trim();
  await page.getByRole('button', { name: 'Copy the token' }).click();
  await expect(page.getByRole('button', { name: 'Copy the token' })).toHaveText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  await expectAccessible(page, 'tokens with a new token');
  await screenshots(page, 'tokens');

  // The token works, and the list shows only its prefix.
  const ok = await request.get('/api/auth/me', { headers: { Authorization: `Bearer ${token}` } });
  expect(ok.status()).toBe(200);
  const row = page.getByRole('row').filter({ hasText: 'CI deploys' });
  await expect(row).toContainText(token.slice(0, 10));
  await expect(page.getByText(token.slice(10))).toHaveCount(1);

  // Shown once: after leaving the page, only the prefix remains.
  await page.reload();
  await expect(page.getByTestId('new-token')).toHaveCount(0);
  await expect(page.getByText(token)).toHaveCount(0);

  await row.getByRole('button', { name: 'Revoke CI deploys' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  await expect(row.getByRole('button', { name: /Revoke/ })).toHaveCount(0);
  const gone = await request.get('/api/auth/me', { headers: { Authorization: `Bearer ${token}` } });
  expect(gone.status()).toBe(401);
});
