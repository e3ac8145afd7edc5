// The workflows list: published version and newest run, search (in the URL), archive and
// restore, and "New workflow" opening the builder route.
import { test, expect, signIn, userWithProject, seedWorkflow, runsSettled, expectAccessible, screenshots } from './fixtures';

test('list, search, archive and restore', async ({ page }) => {
  const { user, api, pid } = await userWithProject('wflist', 'Flows');
  await seedWorkflow(api, pid, 'GitHub push to chat', { publish: true, runs: 1, description: 'Posts commits to #dev' });
  await seedWorkflow(api, pid, 'Stripe payment to ERP', { publish: true, runs: 2 });
  await seedWorkflow(api, pid, 'Nightly cleanup');
  await runsSettled(api, pid);

  await signIn(page, user, `/login?next=/p/${pid}/workflows`);
  const rows = page.getByRole('table').getByRole('row');
  await expect(rows).toHaveCount(4);
  const github = rows.filter({ hasText: 'GitHub push to chat' });
  await expect(github).toContainText('v1');
  await expect(github).toContainText('succeeded');
  await expect(rows.filter({ hasText: 'Nightly cleanup' })).toContainText('Draft only');
  await expect(rows.filter({ hasText: 'Nightly cleanup' })).toContainText('Never run');
  await expectAccessible(page, 'workflows');
  await screenshots(page, 'workflows');

  // Search goes to the server and into the URL.
  await page.getByLabel('Search workflows').fill('stripe');
  await expect(page).toHaveURL(/\?q=stripe$/);
  await expect(rows).toHaveCount(2);
  await page.reload();
  await expect(page.getByLabel('Search workflows')).toHaveValue('stripe');
  await expect(rows).toHaveCount(2);
  await page.getByLabel('Search workflows').fill('no such thing');
  await expect(page.getByRole('heading', { name: 'No workflow matches “no such thing”' })).toBeVisible();
  await page.getByLabel('Search workflows').fill('');
  await expect(rows).toHaveCount(4);

  // Archive (confirmed), then find it under Archived and restore it.
  await github.getByRole('button', { name: 'Archive GitHub push to chat' }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toContainText('webhook endpoints stop accepting deliveries');
  await dialog.getByRole('button', { name: 'Archive' }).click();
  await expect(rows).toHaveCount(3);
  await page.getByRole('link', { name: 'Archived' }).click();
  await expect(page).toHaveURL(/archived=1/);
  await expect(rows).toHaveCount(2);
  await expect(rows.filter({ hasText: 'GitHub push to chat' })).toBeVisible();
  await expectAccessible(page, 'archived workflows');
  await screenshots(page, 'workflows-archived');
  await rows.filter({ hasText: 'GitHub push to chat' }).getByRole('button', { name: 'Restore GitHub push to chat' }).click();
  await expect(page.getByRole('heading', { name: 'No archived workflows' })).toBeVisible();
  await page.getByRole('link', { name: 'Active' }).click();
  await expect(rows).toHaveCount(4);
  const listed = await api.get<{ items: { name: string }[] }>(`/api/projects/${pid}/workflows`);
  expect(listed.items.map((w) => w.name).sort()).toEqual(['GitHub push to chat', 'Nightly cleanup', 'Stripe payment to ERP']);
  await api.dispose();
});

test('New workflow creates a blank draft and opens the builder', async ({ page }) => {
  const { user, api, pid } = await userWithProject('wfnew', 'New flows');
  await signIn(page, user, `/login?next=/p/${pid}/workflows`);
  await expect(page.getByRole('heading', { name: 'No workflows yet' })).toBeVisible();
  await expectAccessible(page, 'no workflows yet');
  await screenshots(page, 'workflows-empty');
  await page.keyboard.press('n');
  const dialog = page.getByRole('dialog', { name: 'New workflow' });
  await expect(dialog).toBeVisible();
  await dialog.getByLabel('Name').fill('Orders');
  await dialog.getByRole('button', { name: 'Create blank workflow' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows/[0-9a-f-]{36}$`));
  const wid = page.url().split('/').pop()!;
  const wf = await api.get<{ name: string; draft: { definition: unknown } }>(`/api/projects/${pid}/workflows/${wid}`);
  expect(wf.name).toBe('Orders');
  expect(wf.draft.definition).toEqual({ nodes: [], edges: [] });
  await api.dispose();
});

test('New workflow from a starter template opens its graph in the builder', async ({ page }) => {
  const { user, api, pid } = await userWithProject('wftpl', 'Templates');
  const shipped = await api.get<{ templates: { id: string; title: string; definition: { nodes: { id: string }[] } }[] }>(
    '/api/workflow-templates'
  );
  const json = shipped.templates.find((t) => t.id === 'json-transform')!;
  expect(json).toBeTruthy();
  await signIn(page, user, `/login?next=/p/${pid}/workflows`);
  await page.keyboard.press('n');
  const dialog = page.getByRole('dialog', { name: 'New workflow' });
  // Every shipped template is offered beside the blank canvas.
  for (const t of shipped.templates) await expect(dialog.getByRole('radio', { name: t.title })).toBeVisible();
  await dialog.getByRole('radio', { name: json.title }).check();
  await expect(dialog.getByLabel('Name', { exact: true })).toHaveValue(json.title);
  await expectAccessible(page, 'new workflow dialog');
  await screenshots(page, 'workflows-new-template');
  await dialog.getByRole('button', { name: 'Create from template' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows/[0-9a-f-]{36}$`));
  const wid = page.url().split('/').pop()!;
  const wf = await api.get<{ name: string; draft: { definition: { nodes: { id: string }[] } } }>(
    `/api/projects/${pid}/workflows/${wid}`
  );
  expect(wf.name).toBe(json.title);
  expect(wf.draft.definition.nodes.map((n) => n.id).sort()).toEqual(json.definition.nodes.map((n) => n.id).sort());
  await api.dispose();
});
