// Signing in and out, sign-up, and a session that ends while the user works: back to sign-in,
// then back to the page they were on.
import { test, expect, createUser, signIn, userWithProject, Api, uniqueEmail, expectAccessible, screenshots } from './fixtures';

test('sign in, see the projects, sign out', async ({ page }) => {
  const { user, pid } = await userWithProject('signin', 'Sign-in project');
  await signIn(page, user);
  // The start page opens the (only) project.
  await expect(page).toHaveURL(new RegExp(`/p/${pid}$`));
  await expect(page.getByRole('heading', { name: 'Sign-in project' })).toBeVisible();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  // Signed out for real: the app goes back to sign-in, and the API says 401.
  await page.goto(`/p/${pid}`);
  await expect(page).toHaveURL(/\/login\?next=/);
  const me = await page.request.get('/api/auth/me');
  expect(me.status()).toBe(401);
});

test('a wrong password shows the server message and its request id', async ({ page }) => {
  const user = await createUser('wrongpw');
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('invalid e-mail or password');
  await expect(alert).toContainText(/Request id:? [0-9a-f]{16}/);
  await expectAccessible(page, 'sign-in with an error');
});

test('sign up, then create the first project', async ({ page }) => {
  const email = uniqueEmail('signup');
  await page.goto('/login');
  await page.getByRole('link', { name: 'Create one' }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await expectAccessible(page, 'sign-up');
  await screenshots(page, 'signup');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Your name').fill('Ada');
  await page.getByLabel('Password').fill('short');
  await expect(page.getByRole('button', { name: 'Create account' })).toBeDisabled();
  await page.getByLabel('Password').fill('long enough password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page).toHaveURL(/\/projects\/new$/);
  await expect(page.getByRole('heading', { name: 'Create your first project' })).toBeVisible();
  await expectAccessible(page, 'first project');
  await screenshots(page, 'project-new');
  await page.getByLabel('Project name').fill('Payments');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/workflows$/);
  await expect(page.getByLabel('Project', { exact: true })).toHaveValue(/[0-9a-f-]{36}/);
  await expect(page.getByRole('option', { name: 'Payments' })).toHaveCount(1);
});

test('an ended session sends the user to sign in and back to where they were', async ({ page, context }) => {
  const { user, pid } = await userWithProject('expiry', 'Expiry project');
  await signIn(page, user);
  await page.goto(`/p/${pid}/workflows`);
  await expect(page.getByRole('heading', { name: 'Workflows', exact: true })).toBeVisible();

  // The session ends behind the page's back: it is revoked with the browser's own cookie.
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'mh_session');
  expect(session).toBeTruthy();
  const me = await page.request.get('/api/auth/me');
  const csrf = (await me.json()).csrf_token;
  const out = await page.request.post('/api/auth/logout', { headers: { 'X-CSRF-Token': csrf } });
  expect(out.status()).toBe(204);

  // The next request the app makes meets a 401.
  await page.getByRole('link', { name: 'Members' }).click();
  await expect(page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(`/p/${pid}/settings/members`)}`));
  await expect(page.getByRole('status').filter({ hasText: 'Your session has ended' })).toBeVisible();
  await screenshots(page, 'session-ended');

  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/settings/members$`));
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();
});

test('the sign-in page never redirects to another site', async ({ page }) => {
  const user = await createUser('redirect');
  await page.goto('/login?next=https://evil.example/');
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/projects\/new$/);
});

test('an API token works for the API but is not a browser session', async () => {
  const { user } = await userWithProject('tokenauth');
  const api = await Api.as(user);
  const t = await api.post<{ token: string }>('/api/tokens', { name: 'x' });
  const r = await api.ctx.get('/api/auth/me', { headers: { Authorization: `Bearer ${t.token}` } });
  expect((await r.json()).auth).toBe('api_token');
  await api.dispose();
});

test('signing in again in another tab does not break the first tab (CSRF token refreshed)', async ({ page, context }) => {
  const user = await createUser('twotabs');
  await signIn(page, user, '/login?next=/account/tokens');
  await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();
  // A second sign-in (another tab, or a script sharing the browser's cookies) replaces the
  // session cookie: the page's CSRF token belongs to the old session now.
  const again = await context.request.post('/api/auth/login', { data: { email: user.email, password: user.password } });
  expect(again.status()).toBe(200);
  await page.getByLabel('Name').fill('after re-login');
  await page.getByRole('button', { name: 'Create token' }).click();
  await expect(page.getByTestId('new-token')).toHaveText(/^mh_/);
});
