// Resource limits: an admin sets a project's limits and sees the usage beside them, a negative
// value is refused by the form, an emptied field follows the server's default again; a viewer
// reads them without a way to change them.
import { test, expect, signIn, userWithProject, createUser, expectAccessible, screenshots } from './fixtures';

interface Limits {
  runs_in_flight: number | null;
  http_calls_in_flight: number | null;
  stored_bytes: number | null;
  effective: Record<string, number>;
  usage: { runs_in_flight: number; stored_bytes: number };
}

test('an admin sets limits beside the usage, and an emptied field follows the default again', async ({ page }) => {
  const { user, api, pid } = await userWithProject('limits', 'Bounded');
  await signIn(page, user, `/login?next=/p/${pid}/settings/limits`);
  await expect(page.getByRole('heading', { name: 'Limits' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Limits' })).toHaveAttribute('aria-current', 'page');
  const runs = page.getByLabel('Runs in flight', { exact: true });
  await expect(runs).toHaveValue('');
  await expect(runs).toHaveAttribute('placeholder', /0 \(default\)/);
  await expect(page.getByTestId('usage-runs')).toHaveText('0 in flight');
  await expect(page.getByTestId('usage-bytes')).toBeVisible();

  await runs.fill('500');
  await page.getByLabel('HTTP calls in flight').fill('8');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Limits saved' })).toBeVisible();
  await expect(page.getByText('In force: 500.')).toBeVisible();
  let stored = await api.get<Limits>(`/api/projects/${pid}/limits`);
  expect(stored.runs_in_flight).toBe(500);
  expect(stored.http_calls_in_flight).toBe(8);
  expect(stored.stored_bytes).toBeNull();
  await expectAccessible(page, 'limits');
  await screenshots(page, 'limits');

  // A negative value is refused by the form itself; nothing is stored.
  const bytes = page.getByLabel('Stored bytes');
  await bytes.fill('-5');
  await page.getByRole('button', { name: 'Save' }).click();
  expect(await bytes.evaluate((el: HTMLInputElement) => el.validity.valid)).toBe(false);
  stored = await api.get<Limits>(`/api/projects/${pid}/limits`);
  expect(stored.stored_bytes).toBeNull();
  await bytes.fill('');

  // The page reloads to the stored values; emptying a field returns it to the default.
  await page.reload();
  await expect(runs).toHaveValue('500');
  await runs.fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Limits saved' })).toBeVisible();
  stored = await api.get<Limits>(`/api/projects/${pid}/limits`);
  expect(stored.runs_in_flight).toBeNull();
  expect(stored.http_calls_in_flight).toBe(8);
  await expect(page.getByText('In force: unlimited (the server’s default).').first()).toBeVisible();

  // The overview shows the stored bytes beside the limit, linking here.
  await api.call('PUT', `/api/projects/${pid}/limits`, { http_calls_in_flight: 8, stored_bytes: 1048576 });
  await page.getByRole('link', { name: 'Overview' }).click();
  const card = page.getByTestId('stored-usage');
  await expect(card).toContainText('Stored');
  await expect(card).toContainText('limit 1');
  await card.click();
  await expect(page.getByRole('heading', { name: 'Limits' })).toBeVisible();
  await api.dispose();
});

test('a viewer reads limits but cannot change them', async ({ page }) => {
  const { api, pid } = await userWithProject('lowner', 'Bounded too');
  await api.call('PUT', `/api/projects/${pid}/limits`, { runs_in_flight: 7 });
  const viewer = await createUser('lviewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
  await signIn(page, viewer, `/login?next=/p/${pid}/settings/limits`);
  await expect(page.getByLabel('Runs in flight', { exact: true })).toHaveValue('7');
  await expect(page.getByLabel('Runs in flight', { exact: true })).toBeDisabled();
  await expect(page.getByRole('button', { name: 'Save' })).toHaveCount(0);
  await expect(page.getByText('Only admins change limits.')).toBeVisible();
  await api.dispose();
});
