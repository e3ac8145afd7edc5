// call_workflow in the builder and the run console (docs/workflows.md, "call_workflow"): the
// node's form picks the workflow to call from the project's workflows (not this one) and a
// version ("latest" or a published one) instead of a raw id; an id that names no workflow is
// shown as such; a call that closes a cycle is marked on the node and its field, and publishing
// is refused; the run console links the call's step to its child run, and the child back.
import type { Page } from '@playwright/test';
import { expect, expectAccessible, screenshots, signIn, test, userWithProject } from './fixtures';

const GONE = '0190a0b0-0000-7000-8000-0000000000ff';

async function select(page: Page, id: string) {
  await page.locator(`.svelte-flow__node[data-id="${id}"] .name`).click();
  return page.getByRole('region', { name: `Node ${id}` });
}

test('the workflow picker, a refused cycle, and the console linking a call to its child run and back', async ({ page }) => {
  test.setTimeout(90_000);
  const { user, api, pid } = await userWithProject('callwf', 'Shared steps');
  const base = `/api/projects/${pid}/workflows`;
  // The workflow to call, published twice; one never published.
  const pricing = await api.post<{ id: string }>(base, {
    name: 'Pricing',
    definition: { nodes: [{ id: 'double', type: 'transform', config: { expression: "{total: trigger.body.n, by: 'v1'}" } }], edges: [] }
  });
  await api.post(`${base}/${pricing.id}/publish`);
  await api.call('PUT', `${base}/${pricing.id}/draft`, {
    definition: { nodes: [{ id: 'double', type: 'transform', config: { expression: "{total: trigger.body.n, by: 'v2'}" } }], edges: [] }
  });
  await api.post(`${base}/${pricing.id}/publish`);
  await api.post(base, { name: 'Audit trail' });
  // The caller, saved by a script with a call to a workflow that does not exist.
  const orders = await api.post<{ id: string }>(base, {
    name: 'Orders',
    definition: {
      nodes: [
        { id: 'price', type: 'call_workflow', config: { workflow_id: GONE, input: '{n: trigger.body.qty}' }, position: { x: 0, y: 0 } },
        { id: 'reply', type: 'transform', config: { expression: '{total: steps.price.output.double.total, by: steps.price.output.double.by}' }, position: { x: 0, y: 160 } }
      ],
      edges: [{ from: 'price', to: 'reply' }]
    }
  });
  // A workflow calling Orders' latest version: Orders calling it back would be a cycle.
  const loop = await api.post<{ id: string }>(base, {
    name: 'Loop back',
    definition: { nodes: [{ id: 'back', type: 'call_workflow', config: { workflow_id: orders.id } }], edges: [] }
  });
  await api.post(`${base}/${loop.id}/publish`);

  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${orders.id}`)}`);
  let form = await select(page, 'price');
  const picker = form.getByLabel('Workflow *');
  // The id that names nothing is kept and shown as it is, with what is wrong.
  await expect(picker.locator('option:checked')).toHaveText(`Unknown workflow — ${GONE}`);
  await expect(form.getByTestId('ref-problem')).toContainText(`No workflow of this project has the id ${GONE}`);
  await expect(form.getByTestId('ref-open')).toHaveCount(0);
  // The project's other workflows by name, with their latest version; never Orders itself.
  await expect(picker.locator('option')).toHaveText([
    'Choose a workflow…',
    `Unknown workflow — ${GONE}`,
    'Audit trail — not published yet',
    'Loop back — v1',
    'Pricing — v2'
  ]);

  await picker.selectOption({ label: 'Pricing — v2' });
  await expect(form.getByTestId('ref-problem')).toHaveCount(0);
  await expect(form.getByTestId('ref-open')).toHaveAttribute('href', `/p/${pid}/workflows/${pricing.id}`);
  const version = form.getByLabel('Version');
  await expect(version.locator('option')).toHaveText(['Latest published (now v2)', 'v2', 'v1']);
  await expect(version.locator('option:checked')).toHaveText('Latest published (now v2)');
  await version.selectOption({ label: 'v1' });
  await expect(page.getByTestId('error-count')).toHaveText('Valid');
  await screenshots(page, 'builder-call-workflow');
  await expectAccessible(page, 'builder, a call_workflow form');

  // Loop back calls Orders' latest version: calling it closes a cycle, marked on the node and
  // the field, and publishing is refused.
  await picker.selectOption({ label: 'Loop back — v1' });
  // A version of Pricing means nothing for Loop back: the pin goes back to "latest".
  await expect(version.locator('option:checked')).toHaveText('Latest published (now v1)');
  await expect(page.getByTestId('error-count')).toContainText('1 problem');
  await expect(page.getByTestId('node-price')).toHaveClass(/has-errors/);
  await expect(form.locator('[data-field="/workflow_id"]').getByRole('status')).toContainText('call cycle: this workflow -> “Loop back” -> this workflow');
  await expect(picker).toHaveAttribute('aria-invalid', 'true');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  await page.getByRole('button', { name: /^Publish/ }).click();
  const refused = page.getByRole('alert').filter({ hasText: 'Not published' });
  await expect(refused).toContainText('the draft is not a valid workflow (1 error)');
  await expect(refused).toContainText('/nodes/0/config/workflow_id');
  await screenshots(page, 'builder-call-cycle');

  await picker.selectOption({ label: 'Pricing — v2' });
  await version.selectOption({ label: 'v1' });
  await expect(page.getByTestId('error-count')).toHaveText('Valid');
  await expect(page.getByTestId('node-price')).not.toHaveClass(/has-errors/);
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  await page.getByRole('button', { name: /^Publish/ }).click();
  await expect(page.getByText('Published version 1')).toBeVisible();
  const saved = (await api.get(`${base}/${orders.id}`)).draft.definition;
  expect(saved.nodes[0].config).toEqual({ workflow_id: pricing.id, version: 1, input: '{n: trigger.body.qty}' });

  // A run: the pinned v1 of Pricing answers; the call's step links its child run, which links back.
  const { run_id: rid } = await api.post<{ run_id: string }>(`${base}/${orders.id}/runs`, { payload: { qty: 3 } });
  await page.goto(`/p/${pid}/runs/${rid}?node=price`);
  await expect(page.getByTestId('run-status')).toContainText('succeeded', { timeout: 20_000 });
  const inspector = page.getByTestId('step-inspector');
  await expect(inspector).toContainText('"by": "v1"');
  await expect(inspector.getByTestId('called-workflow')).toHaveText('Pricing');
  await expect(inspector.getByTestId('called-workflow')).toHaveAttribute('href', `/p/${pid}/workflows/${pricing.id}`);
  const child = inspector.getByTestId('child-run').getByRole('link');
  const childId = (await child.textContent())!.trim();
  await expect(page.getByTestId('run-children')).toContainText(`price → …${childId.slice(-8)}`);
  await screenshots(page, 'run-call-workflow');
  await child.click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs/${childId}$`));
  const caller = page.getByTestId('run-origin-caller');
  await expect(caller).toContainText('Called by step price of run');
  await expect(page.getByTestId('run-status')).toContainText('succeeded');
  await expectAccessible(page, 'run console, a child run');
  await caller.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/runs/${rid}\\?node=price$`));
  await expect(page.getByTestId('step-inspector').getByTestId('child-run')).toContainText(childId);
  await api.dispose();
});
