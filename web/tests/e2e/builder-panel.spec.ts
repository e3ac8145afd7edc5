// The builder's side panel: each tab shows its own content and nothing of another tab's (the
// Workflow tab's export and import once showed under the Node and Preview tabs as well).
import { expect, seedWorkflow, signIn, test, userWithProject } from './fixtures';

test("each tab of the builder's side panel shows its own content only", async ({ page }) => {
  const { user, api, pid } = await userWithProject('panel');
  const wid = await seedWorkflow(api, pid, 'Tabs');
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('node-prepare')).toBeVisible();

  const panel = page.getByRole('complementary');
  const region = (name: string) => panel.getByRole('region', { name, exact: true });
  const only = async (tab: string, shown: string | null) => {
    await expect(panel.getByRole('tab', { name: tab })).toHaveAttribute('aria-selected', 'true');
    for (const name of ['Mapping preview', 'Versions', 'Workflow'])
      if (name === shown) await expect(region(name)).toBeVisible();
      else await expect(region(name)).toHaveCount(0);
  };

  // The Node tab: the hint, then the selected node's form; nothing of the other tabs.
  await expect(panel.getByText('Select a node to edit it.')).toBeVisible();
  await only('Node', null);
  await page.locator('.svelte-flow__node[data-id="prepare"] .name').click();
  await expect(panel.getByRole('region', { name: 'Node prepare' })).toBeVisible();
  await only('Node', null);
  await expect(panel.getByRole('button', { name: 'Export JSON' })).toHaveCount(0);

  await panel.getByRole('tab', { name: 'Preview' }).click();
  await only('Preview', 'Mapping preview');
  await expect(panel.getByRole('region', { name: 'Node prepare' })).toHaveCount(0);

  await panel.getByRole('tab', { name: 'Schedules' }).click();
  await only('Schedules', null);

  await panel.getByRole('tab', { name: 'Versions' }).click();
  await only('Versions', 'Versions');

  await panel.getByRole('tab', { name: 'Workflow' }).click();
  await only('Workflow', 'Workflow');
  await expect(region('Workflow').getByRole('button', { name: 'Export JSON' })).toBeVisible();
  await api.dispose();
});
