// The app as served by the binary: the page boots under its strict CSP, client routes get the
// SPA fallback, and the API keeps its JSON 404s.
import { test, expect, expectAccessible, screenshots } from './fixtures';

test('the sign-in page loads under the strict Content-Security-Policy', async ({ page }) => {
  const res = await page.goto('/');
  expect(res?.headers()['content-security-policy']).toContain("default-src 'self'");
  expect(res?.headers()['content-security-policy']).not.toContain("script-src 'self' 'unsafe-inline'");
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  await expectAccessible(page, 'sign-in');
  await screenshots(page, 'login');
});

test('a deep client route gets the app, an unknown API path its JSON 404', async ({ page, request }) => {
  const res = await page.goto('/p/00000000-0000-0000-0000-000000000000/workflows');
  expect(res?.status()).toBe(200);
  expect(res?.headers()['content-type']).toContain('text/html');
  await expect(page).toHaveURL(/\/login\?next=/);
  const api = await request.get('/api/no-such-thing');
  expect(api.status()).toBe(404);
  expect((await api.json()).error.code).toBe('not_found');
});
