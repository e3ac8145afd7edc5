// Retention settings: an admin sets how long runs and deliveries are kept, empties a field to
// follow the server's default again; a viewer reads them without a way to change them.
import { test, expect, signIn, userWithProject, createUser, expectAccessible, screenshots } from './fixtures';

interface Retention {
  runs_days: number | null;
  deliveries_days: number | null;
  dead_letters_days: number | null;
  effective: Record<string, number>;
}

test('an admin sets retention, and an emptied field follows the default again', async ({ page }) => {
  const { user, api, pid } = await userWithProject('retention', 'Kept');
  await signIn(page, user, `/login?next=/p/${pid}/settings/retention`);
  await expect(page.getByRole('heading', { name: 'Retention' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Retention' })).toHaveAttribute('aria-current', 'page');
  const runs = page.getByLabel('Runs', { exact: true });
  await expect(runs).toHaveValue('');
  await expect(runs).toHaveAttribute('placeholder', /30 \(default\)/);

  await runs.fill('90');
  await page.getByLabel('Webhook deliveries').fill('14');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Retention saved' })).toBeVisible();
  await expect(page.getByText('Kept now: 90 days')).toBeVisible();
  let stored = await api.get<Retention>(`/api/projects/${pid}/retention`);
  expect(stored.runs_days).toBe(90);
  expect(stored.deliveries_days).toBe(14);
  expect(stored.dead_letters_days).toBeNull();
  await expectAccessible(page, 'retention');
  await screenshots(page, 'retention');

  // The page reloads to the stored values; emptying a field returns it to the default.
  await page.reload();
  await expect(runs).toHaveValue('90');
  await runs.fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  // Dead letters already read "30 days (the server's default)": wait for the save itself.
  await expect(page.getByRole('status').filter({ hasText: 'Retention saved' })).toBeVisible();
  await expect(page.getByText('Kept now: 30 days (the server’s default)').first()).toBeVisible();
  stored = await api.get<Retention>(`/api/projects/${pid}/retention`);
  expect(stored.runs_days).toBeNull();
  expect(stored.deliveries_days).toBe(14);
  await api.dispose();
});

test('a viewer reads retention but cannot change it', async ({ page }) => {
  const { api, pid } = await userWithProject('rowner', 'Kept too');
  await api.call('PUT', `/api/projects/${pid}/retention`, { runs_days: 7 });
  const viewer = await createUser('rviewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
  await signIn(page, viewer, `/login?next=/p/${pid}/settings/retention`);
  await expect(page.getByLabel('Runs', { exact: true })).toHaveValue('7');
  await expect(page.getByLabel('Runs', { exact: true })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
  await expect(page.getByText('Only admins change retention.')).toBeVisible();
  await api.dispose();
});
