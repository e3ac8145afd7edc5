// Testing a draft against past deliveries (issue #21): three webhooks run the published version;
// the draft moves a branch's threshold; the test page shows exactly the one delivery whose path
// changes, its per-node comparison side by side, and keeps its state in the URL.
import { test, expect, userWithProject, signIn, runsSettled, expectAccessible, screenshots } from './fixtures';

const definition = (threshold: number) => ({
  nodes: [
    { id: 'prepare', type: 'transform', config: { expression: '{id: trigger.body.id, total: trigger.body.total}' }, position: { x: 0, y: 0 } },
    { id: 'big', type: 'branch', config: { condition: `steps.prepare.output.total > \`${threshold}\`` }, position: { x: 0, y: 120 } },
    { id: 'review', type: 'terminate', config: { status: 'succeeded', output: '{review: `true`}' }, position: { x: -120, y: 240 } },
    { id: 'pass', type: 'terminate', config: { status: 'succeeded', output: '{review: `false`}' }, position: { x: 120, y: 240 } }
  ],
  edges: [
    { from: 'prepare', to: 'big' },
    { from: 'big', to: 'review', port: 'true' },
    { from: 'big', to: 'pass', port: 'false' }
  ]
});

test('a draft is tested against past deliveries and the differences are shown per node', async ({ page }) => {
  const { user, api, pid } = await userWithProject('drafttest', 'Draft test project');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Order review', definition: definition(100) });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const ep = await api.post<{ path: string }>(`/api/projects/${pid}/workflows/${wf.id}/endpoints`, {
    name: 'shop',
    verification: { scheme: 'none' }
  });
  for (const total of [150, 5, 300]) {
    const r = await page.request.post(ep.path, { data: { id: total, total }, headers: { 'Content-Type': 'application/json' } });
    expect(r.status()).toBe(202);
  }
  await runsSettled(api, pid);
  // The draft raises the threshold: only the order of 150 would no longer be reviewed.
  await api.call('PUT', `/api/projects/${pid}/workflows/${wf.id}/draft`, { definition: definition(200) });

  await signIn(page, user);
  await page.goto(`/p/${pid}/workflows/${wf.id}`);
  await page.getByRole('link', { name: 'Test draft' }).click();
  await expect(page).toHaveURL(/\/test\?last=50/);
  await expect(page.getByTestId('dt-summary')).toHaveText(/1 of 3 deliveries would turn out differently/);
  const rows = page.getByTestId('dt-deliveries').locator('tbody tr');
  await expect(rows).toHaveCount(3);
  await expect(page.locator('tr[data-differs="yes"]')).toHaveCount(1);
  await expect(page.locator('tr[data-differs="yes"]')).toContainText('big, review, pass');
  await expectAccessible(page, 'draft test');

  // One delivery side by side: the branch's output and both terminations.
  await page.locator('tr[data-differs="yes"]').getByRole('button').click();
  await expect(page).toHaveURL(/delivery=/);
  const big = page.locator('[data-node="big"]');
  await expect(big).toHaveAttribute('data-equal', 'no');
  await expect(big.getByLabel('Published output')).toHaveText('true');
  await expect(big.getByLabel('Draft output')).toHaveText('false');
  await expect(page.locator('[data-node="prepare"]')).toHaveAttribute('data-equal', 'yes');
  await expectAccessible(page, 'draft test, one delivery');
  await screenshots(page, 'draft-test');

  // A pasted URL opens the same view; fewer deliveries can be chosen.
  const url = page.url();
  await page.goto('about:blank');
  await page.goto(url);
  await expect(page.locator('[data-node="big"]')).toHaveAttribute('data-equal', 'no');
  await page.getByLabel('Last deliveries').fill('1');
  await page.getByRole('button', { name: 'Test the draft' }).click();
  await expect(page).toHaveURL(/last=1/);
  await expect(page.getByTestId('dt-summary')).toHaveText(/0 of 1 delivery would turn out differently/);
});
