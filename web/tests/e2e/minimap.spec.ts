// The canvas's minimap (docs/builder.md, "Build"): on a laptop-sized canvas it starts hidden,
// so it covers no node; the map button of the controls shows it, and the choice is remembered
// (the run console's graph shares it); on a large canvas it is shown by default.
import { expect, signIn, test, userWithProject } from './fixtures';

const definition = {
  nodes: [
    { id: 'a', type: 'transform', config: { expression: 'trigger.body' }, position: { x: 0, y: 0 } },
    { id: 'b', type: 'transform', config: { expression: 'steps.a.output' }, position: { x: 0, y: 160 } }
  ],
  edges: [{ from: 'a', to: 'b' }]
};

test('the minimap starts hidden on a laptop canvas, is shown with the map button, and stays so', async ({ page }) => {
  const { user, api, pid } = await userWithProject('minimap', 'Maps');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Small', definition });
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wf.id}`)}`);
  await expect(page.getByTestId('node-b')).toBeVisible();
  const toggle = page.getByTestId('minimap-toggle');
  await expect(toggle).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('.svelte-flow__minimap')).toHaveCount(0);

  await toggle.click();
  await expect(toggle).toHaveAttribute('aria-pressed', 'true');
  await expect(toggle).toHaveAccessibleName('Hide the minimap');
  await expect(page.locator('.svelte-flow__minimap')).toBeVisible();
  await page.reload();
  await expect(page.getByTestId('node-b')).toBeVisible();
  await expect(page.locator('.svelte-flow__minimap')).toBeVisible();

  // The run console's graph follows the same choice, and hides it again.
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const { run_id: rid } = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/runs`, { payload: {} });
  await page.goto(`/p/${pid}/runs/${rid}`);
  await expect(page.getByTestId('run-graph').locator('.svelte-flow__minimap')).toBeVisible();
  await page.getByTestId('minimap-toggle').click();
  await expect(page.getByTestId('run-graph').locator('.svelte-flow__minimap')).toHaveCount(0);
  await api.dispose();
});

test('on a large canvas the minimap is shown by default', async ({ page }) => {
  await page.setViewportSize({ width: 1920, height: 1080 });
  const { user, api, pid } = await userWithProject('minimap-big', 'Maps');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Small', definition });
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wf.id}`)}`);
  await expect(page.getByTestId('node-b')).toBeVisible();
  await expect(page.locator('.svelte-flow__minimap')).toBeVisible();
  await expect(page.getByTestId('minimap-toggle')).toHaveAttribute('aria-pressed', 'true');
  await api.dispose();
});
