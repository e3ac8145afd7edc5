// Error paths (docs/workflows.md, "Error paths, continue on failure, and retries"): in the
// builder every node has a red error handle, an edge drawn from it is saved with port "error",
// the node form's "On failure" setting makes a node continue, and a conflict between the two is
// shown on the node; the run console shows a continued failure as "failed, continued", the
// failure that took its error edge as such, and draws that edge taken.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { test, expect, signIn, userWithProject, expectAccessible, screenshots } from './fixtures';

/** Drags from `from`'s handle `handle` to `to`'s input. */
async function connect(page: Page, from: string, to: string, handle: string) {
  const src = page.locator(`.svelte-flow__node[data-id="${from}"] .svelte-flow__handle.source[data-handleid="${handle}"]`);
  const dst = page.locator(`.svelte-flow__node[data-id="${to}"] .svelte-flow__handle.target`);
  const a = (await src.boundingBox())!;
  const b = (await dst.boundingBox())!;
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
}

test('an error edge is drawn from the red handle and saved; On failure makes a node continue', async ({ page }) => {
  const { user, api, pid } = await userWithProject('errbuild', 'Error paths');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Charge with a fallback',
    definition: {
      nodes: [
        { id: 'charge', type: 'http_call', config: { url: 'https://billing.example.com/charges' }, position: { x: 0, y: 0 } },
        { id: 'receipt', type: 'transform', config: { expression: 'steps.charge.output.body' }, position: { x: -160, y: 200 } },
        { id: 'alert', type: 'transform', config: { expression: 'steps.charge.error' }, position: { x: 320, y: 200 } }
      ],
      edges: [{ from: 'charge', to: 'receipt' }]
    }
  });
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wf.id}`)}`);
  // Every node but a terminate has an error handle.
  for (const id of ['charge', 'receipt', 'alert'])
    await expect(page.locator(`.svelte-flow__node[data-id="${id}"] .mh-error-handle`)).toHaveCount(1);
  await connect(page, 'charge', 'alert', 'error');
  await expect(page.locator('.svelte-flow__edge.mh-error-edge')).toHaveCount(1);

  // "On failure: continue" on receipt.
  await page.locator('.svelte-flow__node[data-id="receipt"] .name').click();
  await page.getByLabel('On failure').selectOption('continue');
  await expect(page.getByTestId('continues-receipt')).toHaveText('continues on failure');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  const draft = async () =>
    (await api.get<{ draft: { definition: { nodes: any[]; edges: any[] } } }>(`/api/projects/${pid}/workflows/${wf.id}`)).draft
      .definition;
  let d = await draft();
  expect(d.edges).toContainEqual({ from: 'charge', to: 'alert', port: 'error' });
  expect(d.nodes.find((n) => n.id === 'receipt').on_error).toBe('continue');
  await expectAccessible(page, 'builder with an error edge');
  await screenshots(page, 'builder-error-edge');

  // The same node cannot have both: the server's error shows on the node.
  await page.locator('.svelte-flow__node[data-id="charge"] .name').click();
  await page.getByLabel('On failure').selectOption('continue');
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  await expect(page.getByTestId('node-charge')).toContainText('1 error');
  await expect(page.getByText(/has both an edge with port "error" and "on_error"/).first()).toBeVisible();
  d = await draft();
  expect(d.nodes.find((n) => n.id === 'charge').on_error).toBe('continue');
  await api.dispose();
});

test('the run console shows a continued failure and draws the error edge a failure took', async ({ page }) => {
  const target: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url?.startsWith('/charge')) {
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'billing is down' }));
      } else if (req.url?.startsWith('/lookup')) {
        res.writeHead(404);
        res.end('unknown customer');
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"alerted": true}');
      }
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const port = (target.address() as AddressInfo).port;
  try {
    const { user, api, pid } = await userWithProject('errrun', 'Error paths');
    await api.call('PUT', `/api/projects/${pid}/outbound`, { allowlist: ['127.0.0.1'] });
    const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
      name: 'Charge with a fallback',
      definition: {
        nodes: [
          {
            id: 'lookup',
            type: 'http_call',
            on_error: 'continue',
            retry: { max_attempts: 1 },
            config: { method: 'GET', url: `http://127.0.0.1:${port}/lookup` },
            position: { x: 0, y: 0 }
          },
          {
            id: 'charge',
            type: 'http_call',
            retry: { max_attempts: 2, base_delay_ms: 20, max_delay_ms: 40 },
            config: { url: `http://127.0.0.1:${port}/charge`, body: { expression: '{order: trigger.body.id}' } },
            position: { x: 0, y: 160 }
          },
          { id: 'receipt', type: 'transform', config: { expression: 'steps.charge.output.body' }, position: { x: -160, y: 320 } },
          {
            id: 'alert',
            type: 'http_call',
            config: {
              url: `http://127.0.0.1:${port}/alert`,
              body: { expression: '{order: trigger.body.id, reason: steps.charge.error.message}' }
            },
            position: { x: 320, y: 320 }
          }
        ],
        edges: [
          { from: 'lookup', to: 'charge' },
          { from: 'charge', to: 'receipt' },
          { from: 'charge', to: 'alert', port: 'error' }
        ]
      }
    });
    await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
    const { run_id: rid } = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/runs`, {
      payload: { id: 7 }
    });
    await signIn(page, user, `/login?next=/p/${pid}/runs/${rid}`);
    await expect(page.getByTestId('run-status')).toContainText('succeeded', { timeout: 20_000 });
    await expect(page.getByTestId('run-node-lookup')).toContainText('failed, continued');
    await expect(page.getByTestId('run-node-charge')).toContainText('failed, took error path');
    await expect(page.getByTestId('run-node-receipt')).toHaveAttribute('data-state', 'skipped');
    await expect(page.getByTestId('run-node-alert')).toHaveAttribute('data-state', 'succeeded');
    await expect(page.locator('.svelte-flow__edge.mh-error-edge.taken')).toHaveCount(1);
    await expectAccessible(page, 'run with an error path');
    await screenshots(page, 'run-detail-error-path');
    await api.dispose();
  } finally {
    target.close();
  }
});
