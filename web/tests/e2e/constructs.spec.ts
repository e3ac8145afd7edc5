// One workflow with every construct of issue #21, built in the builder as a user would (palette
// drag and drop, forms, edges drawn from handles, a for_each's body drawn on its own canvas, a
// schedule on the trigger node, the workflow to call picked by name), published, answered
// through an endpoint in the `respond` mode, then read in the run console: the error path taken
// after the retries, the for_each's items 3/3, the sub-workflow's child run (linked both ways),
// the wait for a callback (its URL copied from the console and POSTed to while the webhook
// waits for the answer), the respond step. A construct added later is a few lines at the marked
// places: one `drop` and `connect` before the respond node, its form, what it adds to the
// answer, and one check on the run.
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Locator, Page } from '@playwright/test';
import { expect, expectAccessible, screenshots, signIn, test, userWithProject } from './fixtures';

/** Drags a palette entry onto the canvas at (x, y) of the canvas; returns the new node's id. */
async function drop(page: Page, type: string, x: number, y: number): Promise<string> {
  const before = await page.locator(`.svelte-flow__node[data-id^="${type}_"]`).evaluateAll((ns) => ns.map((n) => n.getAttribute('data-id')));
  await page.getByTestId(`palette-${type}`).dragTo(page.locator('.canvas'), { targetPosition: { x, y } });
  await expect(page.locator(`.svelte-flow__node[data-id^="${type}_"]`)).toHaveCount(before.length + 1);
  const after = await page.locator(`.svelte-flow__node[data-id^="${type}_"]`).evaluateAll((ns) => ns.map((n) => n.getAttribute('data-id')));
  return after.find((id) => !before.includes(id))!;
}

/** Draws an edge from `from`'s output (or its error handle) to `to`'s input. */
async function connect(page: Page, from: string, to: string, handle?: 'error') {
  const src = page.locator(
    `.svelte-flow__node[data-id="${from}"] .svelte-flow__handle.source${handle ? `[data-handleid="${handle}"]` : ':not([data-handleid="error"])'}`
  );
  const dst = page.locator(`.svelte-flow__node[data-id="${to}"] .svelte-flow__handle.target`);
  const a = (await src.boundingBox())!;
  const b = (await dst.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect(page.locator(`.svelte-flow__edge[data-id="${from}->${to}${handle ? `:${handle}` : ''}"]`)).toHaveCount(1);
}

async function select(page: Page, id: string): Promise<Locator> {
  await page.locator(`.svelte-flow__node[data-id="${id}"] .name`).click();
  return page.getByRole('region', { name: `Node ${id}` });
}

const expr = (form: Locator, name: string) => form.getByRole('textbox', { name, exact: true });

test('a workflow with a schedule, retries, an error path, a for_each calling out per item, a sub-workflow, a wait for a callback and a respond node is built, answered and read in the console', async ({
  page
}) => {
  // Building through the UI, a webhook and the run console: longer than the default minute.
  test.setTimeout(180_000);
  const calls: string[] = [];
  const target: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls.push(`${req.method} ${req.url}`);
      if (req.url?.startsWith('/charge')) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error": "billing is down"}');
      } else {
        const sku = req.url?.split('/').pop();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ sku, reserved: true }));
      }
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const mock = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
  try {
    const { user, api, pid } = await userWithProject('constructs', 'Every construct');
    await api.call('PUT', `/api/projects/${pid}/outbound`, { allowlist: ['127.0.0.1'] });
    // The workflow the orders call (through the API: the builder's part is the caller).
    const tally = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
      name: 'Tally',
      definition: { nodes: [{ id: 'count', type: 'transform', config: { expression: '{count: length(trigger.body.skus), first: trigger.body.skus[0]}' } }], edges: [] }
    });
    await api.post(`/api/projects/${pid}/workflows/${tally.id}/publish`);
    const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Orders, all of it' });
    await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wf.id}`)}`);
    await expect(page.getByTestId('empty-canvas')).toBeVisible();

    // The workflow's nodes, top to bottom; the error path's recovery beside the call.
    const charge = await drop(page, 'http_call', 110, 110);
    const recover = await drop(page, 'transform', 330, 200);
    const lines = await drop(page, 'for_each', 330, 290);
    const call = await drop(page, 'call_workflow', 330, 380);
    const wait = await drop(page, 'wait_callback', 330, 470);
    const answer = await drop(page, 'respond', 330, 560);
    await connect(page, charge, recover, 'error');
    await connect(page, recover, lines);
    await connect(page, lines, call);
    await connect(page, call, wait);
    await connect(page, wait, answer);
    // (later constructs: drop them before `answer` here, and connect them in line)
    // The trigger node stands before the one entry node.
    await expect(page.locator(`.svelte-flow__edge[data-id="trigger:->${charge}"]`)).toHaveCount(1);

    let form = await select(page, charge);
    await form.getByLabel('URL', { exact: true }).fill(`${mock}/charge`);
    await form.getByLabel('Maximum attempts').fill('2');
    await form.getByLabel('Maximum attempts').press('Tab');
    await form.getByLabel('Base delay (milliseconds)').fill('10');
    await form.getByLabel('Base delay (milliseconds)').press('Tab');
    await form.getByLabel('Maximum delay (milliseconds)').fill('20');
    await form.getByLabel('Maximum delay (milliseconds)').press('Tab');
    form = await select(page, recover);
    await expr(form, 'Expression').fill("{recovered: steps.%s.error.kind, order: trigger.body.order}".replace('%s', charge));
    form = await select(page, lines);
    await expr(form, 'Items').fill('trigger.body.items');
    await expr(form, 'Item result').fill('steps.reserve.output.body');
    // The sub-workflow, picked by name; its output is the answer's `reserved`.
    form = await select(page, call);
    await form.getByLabel('Workflow *').selectOption({ label: 'Tally — v1' });
    await expect(form.getByLabel('Version').locator('option:checked')).toHaveText('Latest published (now v1)');
    await expr(form, 'Input').fill(`{skus: steps.${lines}.output[].sku}`);
    form = await select(page, wait);
    await form.getByLabel('Timeout').fill('10m');
    form = await select(page, answer);
    await expr(form, 'Body').fill(
      `{order: steps.${recover}.output.order, recovered: steps.${recover}.output.recovered, items: steps.${lines}.output, reserved: steps.${call}.output.count.count, approval: steps.${wait}.output}`
    );

    // The for_each's body on its own canvas: one call per item.
    await page.getByTestId(`open-body-${lines}`).click();
    await expect(page.getByTestId('breadcrumb')).toContainText(`${lines} body, once per item of trigger.body.items`);
    await expect(page).toHaveURL(new RegExp(`loop=${lines}`));
    await expect(page.getByTestId('palette-terminate')).toHaveCount(0);
    const reserve = await drop(page, 'http_call', 250, 250);
    form = await select(page, reserve);
    await page.getByLabel('Id', { exact: true }).fill('reserve');
    await page.getByLabel('Id', { exact: true }).press('Tab');
    form = await select(page, 'reserve');
    await form.getByLabel('URL', { exact: true }).fill(`${mock}/reserve/{{ item.sku }}`);
    await form.getByLabel('URL', { exact: true }).press('Tab');
    await expect(page.getByTestId('error-count')).toHaveText('Valid');
    await screenshots(page, 'builder-foreach-body');
    await expectAccessible(page, 'builder, a for_each body open');
    await page.getByTestId('breadcrumb').getByRole('button', { name: 'Workflow' }).click();
    await expect(page.getByTestId('breadcrumb')).toHaveCount(0);
    await expect(page.getByTestId(`node-${lines}`)).toContainText('1 step per item');

    // A schedule, from the trigger node.
    await page.getByTestId('trigger-card').click();
    await expect(page.getByRole('tab', { name: 'Schedules' })).toHaveAttribute('aria-selected', 'true');
    await page.getByRole('button', { name: 'Add a schedule' }).click();
    await page.getByLabel('Cron expression').fill('0 3 * * *');
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    await expect(page.getByTestId('schedule-next-0').locator('li')).toHaveCount(5);
    await expect(page.getByTestId('trigger-card')).toContainText('0 3 * * * · Europe/Berlin');

    await page.keyboard.press('Control+s');
    await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
    await expect(page.getByTestId('error-count')).toHaveText('Valid');
    await screenshots(page, 'builder-constructs');
    await page.getByRole('button', { name: /^Publish/ }).click();
    await expect(page.getByText('Published version 1')).toBeVisible();

    // What the builder saved is the workflow drawn: nothing of the trigger node in it.
    const saved = (await api.get(`/api/projects/${pid}/workflows/${wf.id}`)).draft.definition;
    expect(saved.nodes.map((n: { id: string }) => n.id)).toEqual([charge, recover, lines, call, wait, answer]);
    expect(saved.edges).toEqual([
      { from: charge, to: recover, port: 'error' },
      { from: recover, to: lines },
      { from: lines, to: call },
      { from: call, to: wait },
      { from: wait, to: answer }
    ]);
    expect(saved.nodes[3].config).toEqual({ workflow_id: tally.id, version: 'latest', input: `{skus: steps.${lines}.output[].sku}` });
    expect(saved.nodes[4].config).toEqual({ timeout: '10m' });
    expect(saved.nodes[0].config.retry).toEqual({ max_attempts: 2, base_delay_ms: 10, max_delay_ms: 20 });
    expect(saved.nodes[2].config.body.nodes.map((n: { id: string }) => n.id)).toEqual(['reserve']);
    expect(saved.schedules).toEqual([expect.objectContaining({ cron: '0 3 * * *', timezone: 'Europe/Berlin' })]);

    // An endpoint answering with the respond node, signed like a sender would.
    const ep = await api.post<{ id: string; path: string; key: { secret: string } }>(`/api/projects/${pid}/workflows/${wf.id}/endpoints`, {
      name: 'orders',
      verification: { scheme: 'hmac' }
    });
    await page.goto(`/p/${pid}/endpoints/${ep.id}?tab=settings`);
    const settings = page.getByRole('form', { name: 'Endpoint settings' });
    await settings.getByRole('radio', { name: "The workflow's respond node" }).check();
    await settings.getByLabel('Time limit (milliseconds)').fill('30000');
    await settings.getByRole('button', { name: 'Save settings' }).click();
    await expect(page.getByText('Settings saved')).toBeVisible();

    const body = JSON.stringify({ order: 'A-7', items: [{ sku: 'a' }, { sku: 'b' }, { sku: 'c' }] });
    // The sender waits for the answer while the run waits for its callback: the URL is copied
    // from the run console and POSTed to, as the approver would.
    const hooked = page.request.post(ep.path, {
      data: body,
      headers: { 'Content-Type': 'application/json', 'X-Signature': createHmac('sha256', ep.key.secret).update(body).digest('hex') },
      timeout: 40_000
    });
    let rid = '';
    await expect
      .poll(async () => {
        const runs = await api.get<{ items: { id: string }[] }>(`/api/projects/${pid}/runs?workflow_id=${wf.id}`);
        rid = runs.items[0]?.id ?? '';
        return rid;
      })
      .not.toBe('');
    await page.goto(`/p/${pid}/runs/${rid}?node=${wait}`);
    await expect(page.getByTestId(`run-node-${wait}`)).toHaveAttribute('data-state', 'waiting', { timeout: 20_000 });
    const callbackUrl = (await page.getByTestId('step-inspector').getByTestId('callback-url').locator('.mono').textContent())!.trim();
    await screenshots(page, 'run-constructs-waiting');
    const approved = await page.request.post(callbackUrl, { data: { approved: true, by: 'ada' } });
    expect(approved.status()).toBe(200);
    const hook = await hooked;
    expect(hook.status()).toBe(200);
    expect(await hook.json()).toEqual({
      order: 'A-7',
      recovered: 'http_status',
      items: [
        { sku: 'a', reserved: true },
        { sku: 'b', reserved: true },
        { sku: 'c', reserved: true }
      ],
      reserved: 3,
      approval: { approved: true, by: 'ada' }
    });
    expect(calls.filter((c) => c.startsWith('POST /charge'))).toHaveLength(2);
    expect(calls.filter((c) => c.startsWith('POST /reserve/')).sort()).toEqual(['POST /reserve/a', 'POST /reserve/b', 'POST /reserve/c']);
    expect(hook.headers()['x-meshhook-run-id']).toBe(rid);

    // The run console: the trigger says a webhook, the call took its error path after its two
    // attempts, the for_each did its three items, the respond step answered.
    await page.goto(`/p/${pid}/runs/${rid}`);
    await expect(page.getByTestId('run-status')).toContainText('succeeded', { timeout: 20_000 });
    await expect(page.getByTestId('run-graph').getByTestId('trigger-started')).toHaveText('started by a webhook');
    await expect(page.getByTestId('run-graph').getByTestId('trigger-card')).toContainText('0 3 * * * · Europe/Berlin');
    await expect(page.getByTestId(`run-node-${charge}`)).toContainText('failed, took error path');
    await expect(page.getByTestId(`run-node-${lines}`)).toContainText('3/3');
    await expect(page.getByTestId(`run-node-${call}`)).toContainText('succeeded');
    await expect(page.getByTestId(`run-node-${wait}`)).toContainText('succeeded');
    await expect(page.getByTestId(`run-node-${answer}`)).toContainText('succeeded');
    await expect(page.locator('.svelte-flow__edge.mh-error-edge.taken')).toHaveCount(1);
    await expectAccessible(page, 'run console, every construct');
    await screenshots(page, 'run-constructs');
    // The callback's step holds what was posted; the call's step links its child run, whose
    // console links back to the call.
    await page.getByTestId(`step-${wait}`).click();
    await expect(page.getByTestId('step-inspector')).toContainText('"by": "ada"');
    await page.getByTestId(`step-${call}`).click();
    await expect(page).toHaveURL(new RegExp(`node=${call}`));
    await expect(page.getByTestId('step-inspector')).toContainText('"count": 3');
    await page.getByTestId('step-inspector').getByTestId('child-run').getByRole('link').click();
    await expect(page.getByTestId('run-origin-caller')).toContainText(`Called by step ${call} of run`);
    await expect(page.getByTestId('run-status')).toContainText('succeeded');
    await page.getByTestId('run-origin-caller').getByRole('link').click();
    await expect(page).toHaveURL(new RegExp(`/runs/${rid}\\?node=${call}$`));
    await api.dispose();
  } finally {
    target.close();
  }
});
