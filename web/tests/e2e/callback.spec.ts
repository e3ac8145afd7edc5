// wait_callback (docs/workflows.md, "wait_callback"): the builder's palette offers the node and
// renders its form from the schema (a Timeout field); the run console shows a waiting step's
// one-time callback URL with a copy button, since when it waits and when it times out; a POST
// to that URL finishes the run with its body.
import { test, expect, signIn, userWithProject, expectAccessible, screenshots } from './fixtures';

test('builder form and the console of a run waiting for its callback', async ({ page }) => {
  const { user, api, pid } = await userWithProject('callback', 'Approvals');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Refund approval',
    definition: {
      nodes: [
        { id: 'ask', type: 'transform', config: { expression: '{url: callbacks.approve.url, order: trigger.body.order}' }, position: { x: 0, y: 0 } },
        { id: 'approve', type: 'wait_callback', config: { timeout: '72h' }, position: { x: 0, y: 160 } },
        { id: 'done', type: 'transform', config: { expression: 'steps.approve.output' }, position: { x: 0, y: 320 } }
      ],
      edges: [
        { from: 'ask', to: 'approve' },
        { from: 'approve', to: 'done' }
      ]
    }
  });
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wf.id}`)}`);
  await expect(page.getByTestId('palette-wait_callback')).toBeVisible();
  await page.locator('.svelte-flow__node[data-id="approve"] .name').click();
  await expect(page.getByLabel('Timeout')).toHaveValue('72h');
  await screenshots(page, 'builder-wait-callback');

  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const { run_id: rid } = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/runs`, {
    payload: { order: 1234 }
  });
  await page.goto(`/p/${pid}/runs/${rid}`);
  const node = page.getByTestId('run-node-approve');
  await expect(node).toHaveAttribute('data-state', 'waiting', { timeout: 20_000 });
  await page.getByTestId('step-approve').click();
  await expect(page).toHaveURL(/node=approve/);
  const inspector = page.getByTestId('step-inspector');
  const url = inspector.getByTestId('callback-url');
  await expect(url).toContainText(`/callbacks/${rid}.approve.`);
  await expect(inspector.getByRole('button', { name: 'Copy URL' })).toBeVisible();
  await expect(inspector).toContainText('Waiting since');
  await expect(inspector).toContainText('Times out at');
  await expectAccessible(page, 'run waiting for a callback');
  await screenshots(page, 'run-detail-wait-callback');

  // The provider calls back: the run finishes with the body.
  const text = (await url.locator('.mono').textContent())!.trim();
  const res = await fetch(text, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"approved": true}' });
  expect(res.status).toBe(200);
  await expect(page.getByTestId('run-status')).toContainText('succeeded', { timeout: 20_000 });
  const again = await fetch(text, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(again.status).toBe(410);
  await api.dispose();
});
