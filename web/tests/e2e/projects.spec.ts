// Projects: the switcher keeps the section, creation from the switcher, the overview's counts,
// the keyboard shortcuts.
import { test, expect, signIn, userWithProject, seedWorkflow, runsSettled, expectAccessible, screenshots } from './fixtures';

test('switch projects, create one from the switcher, overview counts', async ({ page }) => {
  const { user, api, pid } = await userWithProject('switch', 'Alpha');
  const beta = await api.post<{ id: string }>('/api/projects', { name: 'Beta' });
  await seedWorkflow(api, pid, 'Orders to ERP', { publish: true, runs: 3 });
  await seedWorkflow(api, pid, 'Draft idea');
  await runsSettled(api, pid);

  await signIn(page, user, `/login?next=/p/${pid}`);
  await expect(page.getByRole('heading', { name: 'Alpha' })).toBeVisible();
  const stats = page.getByRole('region', { name: 'Counts' });
  await expect(stats.getByText('2', { exact: true })).toBeVisible();
  await expect(stats.getByText('1 published')).toBeVisible();
  await expect(page.getByRole('table').getByText('Orders to ERP').first()).toBeVisible();
  await expect(page.getByRole('table').getByText('succeeded')).toHaveCount(3);
  await expectAccessible(page, 'overview');
  await screenshots(page, 'overview');

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Workflows' }).click();
  // The switcher keeps the section it is in: switching before the click's navigation has
  // landed would keep the overview's.
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows$`));
  await page.getByLabel('Project', { exact: true }).selectOption({ label: 'Beta' });
  await expect(page).toHaveURL(new RegExp(`/p/${beta.id}/workflows$`));
  await expect(page.getByRole('heading', { name: 'No workflows yet' })).toBeVisible();

  await page.getByRole('link', { name: 'New project' }).click();
  await page.getByLabel('Project name').fill('Gamma');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/workflows$/);
  await expect(page.getByLabel('Project', { exact: true }).locator('option:checked')).toHaveText('Gamma');
  await api.dispose();
});

test('keyboard: ? lists the shortcuts, g w and / work, Esc closes', async ({ page }) => {
  const { user, api, pid } = await userWithProject('keys', 'Keys');
  await seedWorkflow(api, pid, 'Keyboard flow');
  await signIn(page, user, `/login?next=/p/${pid}`);
  await expect(page.getByRole('heading', { name: 'Keys' })).toBeVisible();
  await page.keyboard.press('?');
  const dialog = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByText('Go to workflows')).toBeVisible();
  await expectAccessible(page, 'shortcuts dialog');
  await screenshots(page, 'shortcuts');
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await page.keyboard.press('g');
  await page.keyboard.press('w');
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows$`));
  await expect(page.getByText('Keyboard flow')).toBeVisible();
  await page.keyboard.press('/');
  await expect(page.getByLabel('Search workflows')).toBeFocused();
  // Typing in the field is text, not shortcuts.
  await page.keyboard.type('g r');
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows`));
  // Leaving while a search is still pending (it is debounced): the user stays where they went.
  await page.getByLabel('Search workflows').fill('');
  await page.getByRole('heading', { name: 'Workflows', exact: true }).click();
  await page.keyboard.press('g');
  await page.keyboard.press('r');
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs$`));
  await page.waitForTimeout(500);
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs$`));
  await expectAccessible(page, 'runs');
  await screenshots(page, 'runs');
  await page.keyboard.press('g');
  await page.keyboard.press('e');
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/endpoints$`));
  await expectAccessible(page, 'endpoints');
  await screenshots(page, 'endpoints');
  await api.dispose();
});

test('the theme toggle overrides the system preference and is remembered', async ({ page }) => {
  const { user, pid } = await userWithProject('theme', 'Theme');
  await page.emulateMedia({ colorScheme: 'light' });
  await signIn(page, user, `/login?next=/p/${pid}`);
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await bg();
  await page.getByRole('button', { name: 'Switch to dark theme' }).click();
  const dark = await bg();
  expect(dark).not.toBe(light);
  await page.reload();
  await expect(page.getByRole('button', { name: 'Switch to light theme' })).toBeVisible();
  expect(await bg()).toBe(dark);
  await page.getByRole('button', { name: 'Switch to light theme' }).click();
  expect(await bg()).toBe(light);
});

test('phone width: the menu opens as a drawer and every section is reachable', async ({ page }) => {
  const { user, pid } = await userWithProject('phone', 'Phone');
  await page.setViewportSize({ width: 390, height: 844 });
  await signIn(page, user, `/login?next=/p/${pid}`);
  const nav = page.getByRole('navigation', { name: 'Main' });
  await expect(nav.getByRole('link', { name: 'Workflows' })).toBeHidden();
  await page.getByRole('button', { name: 'Menu' }).click();
  await nav.getByRole('link', { name: 'Workflows' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows$`));
  await expect(nav.getByRole('link', { name: 'Members' })).toBeHidden();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
});
