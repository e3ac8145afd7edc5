// The workflow builder in Chromium against the real server: a new user signs up, creates a
// project and a workflow in the UI, builds the getting-started workflow (docs/getting-started.md)
// by drag and drop, meets a validation error and fixes it, previews the mapping, publishes, a
// signed webhook runs it and the workflows list shows the run; an edit made elsewhere meanwhile
// is detected; undo and redo; a viewer cannot edit; a two-node workflow is built with the
// keyboard alone (the canvas reached by Tab); the page passes axe-core; screenshots in light,
// dark and phone width.
import { createHmac } from 'node:crypto';
import type { Page } from '@playwright/test';
import { Api, createUser, expect, expectAccessible, screenshots, signIn, test, uniqueEmail, userWithProject } from './fixtures';

async function newWorkflow(api: Api, pid: string, name: string, definition?: unknown) {
  const w = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, definition ? { name, definition } : { name });
  return w.id;
}

async function draftOf(api: Api, pid: string, wid: string) {
  const w = await api.get<{ draft: { definition: { nodes: any[]; edges: any[] }; revision: number } }>(
    `/api/projects/${pid}/workflows/${wid}`
  );
  return w.draft;
}

/** Drags a palette entry onto the canvas at (x, y) relative to the canvas. */
async function dropNode(page: Page, type: string, x: number, y: number) {
  await page.getByTestId(`palette-${type}`).dragTo(page.locator('.canvas'), { targetPosition: { x, y } });
  await expect(page.locator(`.svelte-flow__node[data-id^="${type}_"]`).last()).toBeVisible();
}

/** Connects the source handle of `from` (optionally its true/false handle; never its error
 * handle) to `to`'s input. */
async function connect(page: Page, from: string, to: string, handle?: 'true' | 'false') {
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
}

async function selectNode(page: Page, id: string) {
  await page.locator(`.svelte-flow__node[data-id="${id}"] .name`).click();
}

test('a new user signs up, creates a project and a workflow, builds it by drag and drop, previews it, publishes it, and a signed webhook runs it', async ({ page }) => {
  // Sign up in the UI: a new account lands on its first project's form.
  const user = { email: uniqueEmail('builder'), password: 'correct horse battery', name: 'Builder' };
  await page.goto('/login');
  await page.getByRole('link', { name: 'Create one' }).click();
  await expect(page).toHaveURL(/\/signup$/);
  await expect(page.getByLabel('Your name')).toBeVisible();
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Your name').fill(user.name);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('heading', { name: 'Create your first project' })).toBeVisible();
  await page.getByLabel('Project name').fill('Sandbox');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/workflows$/);

  // A second project with the + beside the project switcher; the switcher then shows it.
  await page.getByRole('link', { name: 'New project' }).click();
  await expect(page.getByRole('heading', { name: 'New project' })).toBeVisible();
  await page.getByLabel('Project name').fill('Orders');
  await page.getByRole('button', { name: 'Create project' }).click();
  await expect(page).toHaveURL(/\/p\/[0-9a-f-]{36}\/workflows$/);
  await expect(page.getByLabel('Project', { exact: true }).locator('option:checked')).toHaveText('Orders');
  const pid = new URL(page.url()).pathname.split('/')[2];

  // "New workflow" on the (empty) workflows list opens the builder on a blank draft.
  await expect(page.getByRole('heading', { name: 'No workflows yet' })).toBeVisible();
  await page.getByRole('button', { name: 'New workflow' }).first().click();
  const dialog = page.getByRole('dialog', { name: 'New workflow' });
  await dialog.getByLabel('Name').fill('Order totals');
  await dialog.getByRole('button', { name: 'Create blank workflow' }).click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows/[0-9a-f-]{36}$`));
  const wid = new URL(page.url()).pathname.split('/').pop()!;
  await expect(page.getByTestId('empty-canvas')).toBeVisible();
  // The API client below plays the test's own tooling (endpoint, checks), as this user.
  const api = await Api.as(user);

  await dropNode(page, 'transform', 300, 120);
  await dropNode(page, 'terminate', 300, 320);
  await connect(page, 'transform_1', 'terminate_1');
  await expect(page.locator('.svelte-flow__edge:not(.mh-trigger-edge)')).toHaveCount(1);

  // The transform has no expression yet: the server's validation marks the node.
  await expect(page.getByTestId('error-count')).toContainText('1 problem');
  await expect(page.getByTestId('node-transform_1')).toHaveClass(/has-errors/);

  // Fix it in the form; an expression that does not compile is underlined while typing.
  await selectNode(page, 'transform_1');
  await page.getByLabel('Id', { exact: true }).fill('total');
  await page.getByLabel('Id', { exact: true }).press('Tab');
  await selectNode(page, 'total');
  const expr = page.getByRole('textbox', { name: 'Expression', exact: true });
  await expr.fill('{order: trigger.body.order_id, total: sum(trigger.body.items[].price)');
  await expect(page.getByTestId('expr-error')).toBeVisible();
  await expr.fill('{order: trigger.body.order_id, total: sum(trigger.body.items[].price)}');
  await expect(page.getByTestId('expr-error')).toHaveCount(0);
  await selectNode(page, 'terminate_1');
  await page.getByLabel('Id', { exact: true }).fill('done');
  await page.getByLabel('Id', { exact: true }).press('Tab');
  await selectNode(page, 'done');
  await page.getByRole('textbox', { name: 'Output', exact: true }).fill('steps.total.output');
  await expect(page.getByTestId('error-count')).toHaveText('Valid');
  await expect(page.getByTestId('node-total')).not.toHaveClass(/has-errors/);

  // The mapping preview on a pasted payload: each step's outcome on the canvas.
  await page.getByRole('tab', { name: 'Preview' }).click();
  await page.getByLabel('Trigger body (JSON)').fill('{"order_id": "A-1", "items": [{"price": 12.5}, {"price": 7.5}]}');
  await page.getByRole('button', { name: 'Preview', exact: true }).click();
  await expect(page.getByTestId('preview-status')).toContainText('succeeded');
  await expect(page.getByTestId('preview-step-total')).toContainText('"total": 20');
  await expect(page.getByTestId('step-done')).toContainText('succeeded');
  // The whole graph in view (the trigger node stands above the first node dropped).
  await page.locator('.svelte-flow__controls-fitview').click();
  await screenshots(page, 'builder-preview');
  // "Test run": a real run of the draft on the same sample, linked.
  await page.getByRole('button', { name: 'Test run' }).click();
  const link = page.getByRole('link', { name: /^[0-9a-f-]{36}$/ });
  await expect(link).toHaveAttribute('href', new RegExp(`/p/${pid}/runs/`));
  const testRun = (await link.textContent())!.trim();
  await expect
    .poll(async () => (await api.get<{ status: string; is_test: boolean }>(`/api/projects/${pid}/runs/${testRun}`)).status, {
      timeout: 20_000
    })
    .toBe('succeeded');

  // Saved (Ctrl+S) and published.
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  await page.getByRole('button', { name: /^Publish/ }).click();
  await expect(page.getByText('Published version 1')).toBeVisible();
  const draft = await draftOf(api, pid, wid);
  expect(draft.definition.nodes.map((n) => n.id).sort()).toEqual(['done', 'total']);
  expect(draft.definition.edges).toEqual([{ from: 'total', to: 'done' }]);

  // An endpoint (through the API), a webhook signed as the sender would.
  const ep = await api.post<{ path: string; key: { secret: string } }>(`/api/projects/${pid}/workflows/${wid}/endpoints`, {
    name: 'orders',
    verification: { scheme: 'hmac' }
  });
  const body = JSON.stringify({ order_id: 'A-2', items: [{ price: 1 }, { price: 2 }] });
  const sig = createHmac('sha256', ep.key.secret).update(body).digest('hex');
  const hook = await page.request.post(ep.path, {
    data: body,
    headers: { 'Content-Type': 'application/json', 'X-Signature': sig }
  });
  expect(hook.status()).toBe(202);

  // The workflows list page shows the published version and the webhook's run as succeeded (a
  // run, not the earlier test run). The list has no live updates: reload until the worker is done.
  await page.getByRole('link', { name: 'Workflows', exact: true }).first().click();
  await expect(page).toHaveURL(new RegExp(`/p/${pid}/workflows$`));
  const row = page.getByRole('table').getByRole('row').filter({ hasText: 'Order totals' });
  await expect(row.locator('td[data-label="Published"]')).toHaveText('v1');
  const lastRun = row.locator('td[data-label="Last run"]');
  await expect(async () => {
    await page.reload();
    await expect(lastRun.locator('.badge')).toHaveText(/^\W*succeeded$/, { timeout: 1_000 });
  }).toPass({ timeout: 30_000 });
  await screenshots(page, 'workflows-after-run');

  // The recorded delivery is a sample the preview can use.
  await row.getByRole('link', { name: 'Order totals' }).click();
  await expect(page.getByTestId('node-total')).toBeVisible();
  await page.getByRole('tab', { name: 'Preview' }).click();
  await expect(page.getByLabel('Sample').locator('option')).toHaveCount(2);
  await page.getByLabel('Sample').selectOption({ index: 1 });
  await page.getByRole('button', { name: 'Preview', exact: true }).click();
  await expect(page.getByTestId('preview-step-total')).toContainText('"total": 3');
  await api.dispose();
});

test('an edit saved elsewhere meanwhile is detected, never overwritten silently', async ({ page }) => {
  const { user, api, pid } = await userWithProject('conflict');
  const def = {
    nodes: [{ id: 'a', type: 'transform', config: { expression: 'trigger.body' }, position: { x: 0, y: 0 } }],
    edges: []
  };
  const wid = await newWorkflow(api, pid, 'Shared', def);
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('node-a')).toBeVisible();

  // Another tab saves first.
  const theirs = { ...def, nodes: [{ ...def.nodes[0], config: { expression: 'trigger.body.theirs' } }] };
  await api.call('PUT', `/api/projects/${pid}/workflows/${wid}/draft`, { definition: theirs });

  // This tab edits and saves: refused, and told so.
  await selectNode(page, 'a');
  await page.getByLabel('Name', { exact: true }).fill('Mine');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('conflict')).toBeVisible();
  await expect(page.getByTestId('conflict')).toContainText('revision 2');
  expect((await draftOf(api, pid, wid)).definition.nodes[0].config.expression).toBe('trigger.body.theirs');
  await screenshots(page, 'builder-conflict');

  // Loading theirs replaces the canvas with the saved draft.
  await page.getByRole('button', { name: 'Load theirs (discard mine)' }).click();
  await expect(page.getByTestId('conflict')).toHaveCount(0);
  await selectNode(page, 'a');
  await expect(page.getByRole('textbox', { name: 'Expression', exact: true })).toHaveValue('trigger.body.theirs');
  await api.dispose();
});

test('undo and redo walk through the edits', async ({ page }) => {
  const { user, api, pid } = await userWithProject('undo');
  const wid = await newWorkflow(api, pid, 'Undo');
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await dropNode(page, 'transform', 300, 150);
  await dropNode(page, 'delay', 300, 350);
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(2);
  // An empty spot of the canvas (the trigger node stands above the entry node).
  await page.locator('.svelte-flow__pane').click({ position: { x: 20, y: 300 } });
  await page.keyboard.press('Control+z');
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(1);
  await page.keyboard.press('Control+z');
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(0);
  await page.keyboard.press('Control+Shift+z');
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(1);
  await page.getByRole('button', { name: 'Redo' }).click();
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(2);
  // The redone state is what gets saved.
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  expect((await draftOf(api, pid, wid)).definition.nodes).toHaveLength(2);
  await api.dispose();
});

test('a viewer sees the workflow but cannot edit it', async ({ page }) => {
  const { api, pid } = await userWithProject('owner-v');
  const wid = await newWorkflow(api, pid, 'Look only', {
    nodes: [
      { id: 'a', type: 'transform', config: { expression: 'trigger.body' }, position: { x: 0, y: 0 } },
      { id: 'b', type: 'terminate', config: {}, position: { x: 0, y: 140 } }
    ],
    edges: [{ from: 'a', to: 'b' }]
  });
  const viewer = await createUser('viewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
  await signIn(page, viewer, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('read-only')).toBeVisible();
  await expect(page.getByRole('navigation', { name: 'Node types' })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /^Publish/ })).toHaveCount(0);
  await selectNode(page, 'a');
  await expect(page.getByRole('textbox', { name: 'Expression', exact: true })).toBeDisabled();
  await page.keyboard.press('Delete');
  await expect(page.locator('.svelte-flow__node-mh')).toHaveCount(2);
  await expectAccessible(page, 'builder (viewer)');
  await api.dispose();
});

test('a two-node workflow is built with the keyboard alone', async ({ page }) => {
  const { user, api, pid } = await userWithProject('keys');
  const wid = await newWorkflow(api, pid, 'Keyboard');
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('empty-canvas')).toBeVisible();
  await page.locator('body').press('a');
  await expect(page.getByTestId('palette-transform')).toBeFocused();
  await page.keyboard.press('Enter'); // a transform, selected
  await page.keyboard.press('Tab'); // branch
  await page.keyboard.press('Tab'); // delay
  await page.keyboard.press('Tab'); // terminate
  await expect(page.getByTestId('palette-terminate')).toBeFocused();
  await page.keyboard.press('Enter'); // a terminate after the transform, connected
  await expect(page.locator('.svelte-flow__edge:not(.mh-trigger-edge)')).toHaveCount(1);
  // Tab leaves the palette (past its last type) for the canvas, the next stop, which says how to
  // use it and shows its focus ring.
  const inPalette = () => page.evaluate(() => !!document.activeElement?.closest('nav[aria-label="Node types"]'));
  for (let i = 0; i < 20 && (await inPalette()); i++) await page.keyboard.press('Tab');
  const canvas = page.getByRole('application', { name: /^Workflow canvas/ });
  await expect(canvas).toBeFocused();
  await expect(canvas).toHaveAttribute('aria-label', /Arrow keys move between nodes; Enter opens/);
  const ring = await canvas.evaluate((el) => {
    const s = getComputedStyle(el, '::after');
    return { style: s.borderTopStyle, width: parseFloat(s.borderTopWidth), content: s.content };
  });
  expect(ring).toEqual({ style: 'solid', width: 3, content: '""' });
  await page.keyboard.press('ArrowUp'); // back to the transform
  await page.keyboard.press('Enter'); // its form
  await expect(page.getByLabel('Name', { exact: true })).toBeFocused();
  await page.keyboard.type('Shape');
  await page.keyboard.press('Tab'); // id
  await page.keyboard.press('Tab'); // expression
  await page.keyboard.type('trigger.body');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  await expect(page.getByTestId('error-count')).toHaveText('Valid');
  const d = await draftOf(api, pid, wid);
  expect(d.definition.nodes.map((n) => n.type)).toEqual(['transform', 'terminate']);
  expect(d.definition.edges).toEqual([{ from: 'transform_1', to: 'terminate_1' }]);
  expect(d.definition.nodes[0].config.expression).toBe('trigger.body');
  await api.dispose();
});

test('the builder passes axe-core and is pictured in light, dark and phone width', async ({ page }) => {
  const { user, api, pid } = await userWithProject('axe');
  const tpl = await api.get<{ definition: unknown }>('/api/workflow-templates/stripe-payment-to-api');
  const wid = await newWorkflow(api, pid, 'Stripe payments', tpl.definition);
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('node-review')).toBeVisible();
  await selectNode(page, 'review');
  // On a desktop the builder fills the window: the canvas reaches its bottom, the page does not
  // scroll (the panel scrolls inside), and the form's inputs take the theme's colours.
  const fit = await page.evaluate(() => ({
    canvasBottom: Math.round(document.querySelector('.canvas')!.getBoundingClientRect().bottom),
    pageHeight: document.documentElement.scrollHeight,
    window: window.innerHeight
  }));
  expect(fit).toEqual({ canvasBottom: fit.window, pageHeight: fit.window, window: fit.window });
  await page.emulateMedia({ colorScheme: 'dark' });
  const colours = await page.getByLabel('Name', { exact: true }).evaluate((el) => {
    const s = getComputedStyle(el);
    const select = getComputedStyle(el.closest('.panel')!.querySelector('select')!);
    return { text: s.color, background: s.backgroundColor, selectText: select.color, selectBackground: select.backgroundColor };
  });
  expect(colours.text).toBe(colours.selectText);
  expect(colours.background).toBe(colours.selectBackground);
  await page.emulateMedia({ colorScheme: 'light' });
  await expectAccessible(page, 'builder');
  await screenshots(page, 'builder');
  await api.dispose();
});

test('versions: a published version compared with the draft on the canvas and copied back; copy and paste', async ({ page }) => {
  const { user, api, pid } = await userWithProject('versions');
  const v1 = {
    nodes: [
      { id: 'a', type: 'transform', config: { expression: 'trigger.body' }, position: { x: 0, y: 0 } },
      { id: 'b', type: 'terminate', config: { output: 'steps.a.output' }, position: { x: 0, y: 160 } }
    ],
    edges: [{ from: 'a', to: 'b' }]
  };
  const wid = await newWorkflow(api, pid, 'Versions', v1);
  await api.post(`/api/projects/${pid}/workflows/${wid}/publish`);
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('node-a')).toBeVisible();

  // Copy and paste a: a new node a-like with a fresh id, unconnected.
  await selectNode(page, 'a');
  await page.locator('.canvas').focus();
  await page.keyboard.press('Control+c');
  await page.keyboard.press('Control+v');
  await expect(page.getByTestId('node-transform_1')).toBeVisible();
  // Change b's output.
  await selectNode(page, 'b');
  await page.getByRole('textbox', { name: 'Output', exact: true }).fill('steps.a.output.id');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);

  // Compared with version 1: the pasted node is added, b changed, a the same.
  await page.getByRole('tab', { name: 'Versions' }).click();
  await page.getByRole('button', { name: 'Compare with the draft' }).click();
  await expect(page.getByTestId('diff')).toBeVisible();
  await expect(page.getByTestId('node-transform_1')).toHaveClass(/diff-added/);
  await expect(page.getByTestId('node-b')).toHaveClass(/diff-changed/);
  await expect(page.getByTestId('node-a')).not.toHaveClass(/diff-/);

  // Copied back into the draft and saved: the draft is version 1 again.
  await page.getByRole('button', { name: 'Copy version 1 into the draft' }).click();
  await expect(page.getByTestId('node-transform_1')).toHaveCount(0);
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  const d = await draftOf(api, pid, wid);
  expect(d.definition.nodes.find((n) => n.id === 'b').config.output).toBe('steps.a.output');
  expect(d.definition.nodes).toHaveLength(2);
  await api.dispose();
});

test('export and import of the workflow JSON', async ({ page }) => {
  const { user, api, pid } = await userWithProject('io');
  const tpl = await api.get<{ definition: { nodes: unknown[] } }>('/api/workflow-templates/json-transform');
  const wid = await newWorkflow(api, pid, 'Exported', tpl.definition);
  const empty = await newWorkflow(api, pid, 'Imported');
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);
  await expect(page.getByTestId('node-shape')).toBeVisible();
  await page.getByRole('tab', { name: 'Workflow' }).click();
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export JSON' }).click()]);
  const doc = JSON.parse(await (await download.createReadStream()).toArray().then((c) => Buffer.concat(c).toString('utf8')));
  expect(doc.meshhook_export).toBe(1);
  expect(doc.definition.nodes.map((n: { id: string }) => n.id)).toEqual(['shape', 'done']);

  // Into the other workflow: the canvas takes it, and it is saved like any change.
  await page.goto(`/p/${pid}/workflows/${empty}`);
  await expect(page.getByTestId('empty-canvas')).toBeVisible();
  await page.getByRole('tab', { name: 'Workflow' }).click();
  await page.locator('input[type=file]').setInputFiles({ name: 'wf.json', mimeType: 'application/json', buffer: Buffer.from(JSON.stringify(doc)) });
  await expect(page.getByTestId('node-shape')).toBeVisible();
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/, { timeout: 15_000 });
  expect((await draftOf(api, pid, empty)).definition.nodes).toHaveLength(2);
  // A file that is neither an export nor a definition is refused with a message.
  await page.locator('input[type=file]').setInputFiles({ name: 'x.json', mimeType: 'application/json', buffer: Buffer.from('{"hello": 1}') });
  await expect(page.getByRole('alert')).toContainText('not a MeshHook export');
  await api.dispose();
});
