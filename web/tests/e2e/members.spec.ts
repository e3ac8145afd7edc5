// Members and roles: add, change a role, remove; and a viewer, who sees no write control and
// whose writes the server refuses anyway.
import { test, expect, signIn, userWithProject, createUser, seedWorkflow, Api, expectAccessible, screenshots } from './fixtures';

test('an owner adds a member, changes their role and removes them', async ({ page }) => {
  const { user, api, pid } = await userWithProject('owner', 'Team');
  const mate = await createUser('mate');
  await signIn(page, user, `/login?next=/p/${pid}/settings/members`);
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();

  // Someone without an account: the server's message, in place.
  await page.getByLabel('E-mail of an existing account').fill('nobody-here@example.com');
  await page.getByRole('button', { name: 'Add member' }).click();
  await expect(page.getByRole('alert')).toContainText(/no (such )?(user|account)|not found/i);

  await page.getByLabel('E-mail of an existing account').fill(mate.email);
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Add member' }).click();
  const row = page.getByRole('row').filter({ hasText: mate.email });
  await expect(row).toBeVisible();
  await expect(row.getByLabel(`Role of ${mate.email}`)).toHaveValue('viewer');
  await expectAccessible(page, 'members');
  await screenshots(page, 'members');

  await row.getByLabel(`Role of ${mate.email}`).selectOption('editor');
  await expect(page.getByRole('status').filter({ hasText: 'is now editor' })).toBeVisible();
  let members = await api.get<{ items: { email: string; role: string }[] }>(`/api/projects/${pid}/members`);
  expect(members.items.find((m) => m.email === mate.email)?.role).toBe('editor');

  await row.getByRole('button', { name: `Remove ${mate.email}` }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText(`Remove ${mate.email}?`);
  await expectAccessible(page, 'remove member dialog');
  await dialog.getByRole('button', { name: 'Remove' }).click();
  await expect(row).toHaveCount(0);
  members = await api.get(`/api/projects/${pid}/members`);
  expect(members.items.map((m) => m.email)).not.toContain(mate.email);

  // The last owner cannot leave: the server says why, in the dialog.
  await page.getByRole('row').filter({ hasText: user.email }).getByRole('button', { name: 'Leave' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Leave' }).click();
  await expect(page.getByRole('dialog').getByRole('alert')).toContainText(/owner/i);
  await api.dispose();
});

test('a viewer sees no write controls, and the server refuses their writes', async ({ page }) => {
  const { api, pid } = await userWithProject('vowner', 'Read only');
  const wid = await seedWorkflow(api, pid, 'Visible flow');
  const viewer = await createUser('viewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });

  await signIn(page, viewer, `/login?next=/p/${pid}/workflows`);
  await expect(page.getByRole('link', { name: 'Visible flow' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'New workflow' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Archive/ })).toHaveCount(0);
  await page.keyboard.press('n');
  await expect(page.getByRole('dialog')).toHaveCount(0);
  await expectAccessible(page, 'workflows as a viewer');
  await screenshots(page, 'workflows-viewer');

  await page.goto(`/p/${pid}/settings/members`);
  await expect(page.getByRole('heading', { name: 'Members' })).toBeVisible();
  await expect(page.getByRole('form', { name: 'Add a member' })).toHaveCount(0);
  await expect(page.getByRole('combobox', { name: /Role of/ })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Remove/ })).toHaveCount(0);

  // The controls are hidden, but the server is what decides: the viewer's own session is refused.
  const asViewer = await Api.as(viewer);
  await asViewer.call('POST', `/api/projects/${pid}/workflows/${wid}/archive`, undefined, 403);
  await asViewer.call('POST', `/api/projects/${pid}/workflows`, { name: 'sneaky' }, 403);
  await asViewer.call('POST', `/api/projects/${pid}/members`, { email: viewer.email, role: 'owner' }, 403);
  const list = await api.get<{ items: { name: string }[] }>(`/api/projects/${pid}/workflows`);
  expect(list.items.map((w) => w.name)).toEqual(['Visible flow']);
  await asViewer.dispose();
  await api.dispose();
});
