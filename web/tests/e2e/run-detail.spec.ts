// The run console (/p/:pid/runs/:rid): a webhook run followed live on the graph, a failing
// http_call inspected and resumed once its target is fixed, the log verified, a re-run, a test
// run of the draft, and a viewer who sees no actions that change anything.
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, expect, signIn, userWithProject, createUser, Api, seedWorkflow, runsSettled, expectAccessible, screenshots } from './fixtures';

/** Records, in the page, every run status and node state it shows (it never reloads, so the
 * record covers the whole visit). */
async function recordStates(page: import('@playwright/test').Page) {
  await page.addInitScript(() => {
    const w = window as unknown as { __seen: { status: string[]; nodes: Record<string, string[]> }; __visit: number };
    w.__seen = { status: [], nodes: {} };
    w.__visit = Math.random();
    const push = (list: string[], v: string) => {
      if (v && list[list.length - 1] !== v) list.push(v);
    };
    const look = () => {
      const s = document.querySelector('[data-testid="run-status"]')?.textContent?.replace(/[^a-z_ ]/g, '').trim();
      if (s) push(w.__seen.status, s.split(' ')[0]);
      for (const n of document.querySelectorAll<HTMLElement>('[data-testid^="run-node-"]')) {
        const id = n.dataset.nodeId!;
        push((w.__seen.nodes[id] ??= []), n.dataset.state ?? '');
      }
    };
    new MutationObserver(look).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

/** `seen` in order, duplicates merged, keeping only the values in `want`. */
function inOrder(seen: string[], want: string[]): string[] {
  return seen.filter((s) => want.includes(s));
}

test('a webhook run is followed live: queued or running, waiting on its delay, succeeded', async ({ page }) => {
  const { user, api, pid } = await userWithProject('runlive', 'Live runs');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Delayed order',
    definition: {
      nodes: [
        { id: 'prepare', type: 'transform', config: { expression: '{order: trigger.body.order}' } },
        { id: 'wait', type: 'delay', config: { duration_ms: 3000 } },
        { id: 'done', type: 'terminate', config: { status: 'succeeded', output: 'steps.prepare.output' } }
      ],
      edges: [
        { from: 'prepare', to: 'wait' },
        { from: 'wait', to: 'done' }
      ]
    }
  });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const ep = await api.post<{ path: string }>(`/api/projects/${pid}/workflows/${wf.id}/endpoints`, {
    verification: { scheme: 'none' }
  });
  await signIn(page, user, `/login?next=/p/${pid}/runs`);
  await recordStates(page);

  // The webhook is sent by the test, and the run's page opened at once.
  const sent = await api.ctx.post(ep.path, { data: { order: 42 } });
  expect(sent.status()).toBe(202);
  const { run_id: rid } = await sent.json();
  await page.goto(`/p/${pid}/runs/${rid}`);
  const visit = await page.evaluate(() => (window as unknown as { __visit: number }).__visit);

  const status = page.getByTestId('run-status');
  const wait = page.getByTestId('run-node-wait');
  await expect(wait).toHaveAttribute('data-state', 'waiting');
  await expect(wait).toContainText('waiting');
  await expect(page.getByTestId('run-node-prepare')).toHaveAttribute('data-state', 'succeeded');
  await expect(page.getByTestId('run-node-done')).toHaveAttribute('data-state', 'pending');
  await expect(status).toContainText('running');
  // Followed over the run's Server-Sent Events stream (not the polling fallback).
  await expect(page.getByTestId('live')).toHaveText('Live');
  await expect(status).toContainText('succeeded', { timeout: 20_000 });
  await expect(wait).toHaveAttribute('data-state', 'succeeded');
  await expect(page.getByTestId('run-node-done')).toHaveAttribute('data-state', 'succeeded');
  await expect(page.getByTestId('live')).toHaveCount(0);

  // Every change came in without a reload, in order.
  const seen = await page.evaluate(() => (window as unknown as { __seen: { status: string[]; nodes: Record<string, string[]> } }).__seen);
  expect(await page.evaluate(() => (window as unknown as { __visit: number }).__visit)).toBe(visit);
  const statuses = inOrder(seen.status, ['queued', 'running', 'succeeded']);
  expect(statuses.slice(-2)).toEqual(['running', 'succeeded']);
  expect(['queued', 'running']).toContain(statuses[0]);
  expect(inOrder(seen.nodes.wait, ['pending', 'waiting', 'succeeded']).slice(-2)).toEqual(['waiting', 'succeeded']);

  // The delivery that started it is linked; the timeline selects an event into the URL.
  await expect(page.getByText('Started by delivery')).toBeVisible();
  await page.getByRole('button', { name: /^Event \d+: timer_set of wait$/ }).click();
  await expect(page).toHaveURL(/node=wait&seq=\d+/);
  await expect(page.getByTestId('step-inspector')).toContainText('Took');
  await expect(page.getByRole('region', { name: /^Event \d+$/ })).toContainText('fire_at');
  await page.reload();
  await expect(page.getByTestId('step-inspector')).toContainText('wait');
  await expect(page.getByRole('button', { name: /timer_set of wait/ })).toHaveAttribute('aria-pressed', 'true');
  await expectAccessible(page, 'run detail');
  await page.getByRole('button', { name: "Show the run's output" }).click();
  await expect(page.getByLabel('Run output')).toContainText('"order": 42');
  await screenshots(page, 'run-detail');
  await api.dispose();
});

/** A free loopback port (the kernel's pick, released at once). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const { port } = s.address() as AddressInfo;
  await new Promise((ok) => s.close(ok));
  return port;
}

// A run is queued until a worker claims its first job, which takes milliseconds when the
// server that accepts the webhook also runs workers. Here the webhook goes to an API-only
// server (`--workers 0`, on a database of its own that tests/browser.sh starts): the run stays
// queued until the test starts a second server with workers on the same database, as a split
// deployment does (docs/operations.md). The page, on the API-only server, follows the run over
// its stream as the other server's workers advance it.
test('a run waits queued until a worker takes it, then runs, waits on its delay and succeeds', async ({ page }) => {
  const base = process.env.MH_API_ONLY_BASE_URL;
  const db = process.env.MH_API_ONLY_DATABASE_URL;
  const adminDb = process.env.MH_API_ONLY_ADMIN_DATABASE_URL;
  const bin = process.env.MH_MESHHOOK_BIN;
  if (!base || !db || !adminDb || !bin) throw new Error('run through tests/browser.sh, which starts the API-only server');
  const { user, api, pid } = await userWithProject('queued', 'Queued runs', base);
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Queued order',
    definition: {
      nodes: [
        { id: 'prepare', type: 'transform', config: { expression: '{order: trigger.body.order}' } },
        { id: 'wait', type: 'delay', config: { duration_ms: 1500 } },
        { id: 'done', type: 'terminate', config: { status: 'succeeded', output: 'steps.prepare.output' } }
      ],
      edges: [
        { from: 'prepare', to: 'wait' },
        { from: 'wait', to: 'done' }
      ]
    }
  });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const ep = await api.post<{ path: string }>(`/api/projects/${pid}/workflows/${wf.id}/endpoints`, {
    verification: { scheme: 'none' }
  });
  await signIn(page, user, `${base}/login?next=/p/${pid}/runs`);
  await recordStates(page);
  const sent = await api.ctx.post(ep.path, { data: { order: 7 } });
  expect(sent.status()).toBe(202);
  const { run_id: rid } = await sent.json();
  await page.goto(`${base}/p/${pid}/runs/${rid}`);

  // Accepted, and no worker anywhere: queued, every step pending, followed live.
  const status = page.getByTestId('run-status');
  const wait = page.getByTestId('run-node-wait');
  await expect(status).toContainText('queued');
  await expect(page.getByTestId('live')).toHaveText('Live');
  await expect(page.getByTestId('run-node-prepare')).toHaveAttribute('data-state', 'pending');
  await expect(wait).toHaveAttribute('data-state', 'pending');
  await screenshots(page, 'run-detail-queued');

  // Workers arrive (another server on the same database): the page follows without a reload.
  let stderr = '';
  const workers = spawn(bin, ['serve', '--port', String(await freePort()), '--bind-address', '127.0.0.1', '--workers', '2'], {
    env: { ...process.env, MESHHOOK_DATABASE_URL: db, MESHHOOK_ADMIN_DATABASE_URL: adminDb },
    stdio: ['ignore', 'ignore', 'pipe']
  });
  workers.stderr!.on('data', (d) => (stderr += d.toString()));
  const exited = new Promise<number | null>((ok) => workers.on('exit', (code) => ok(code)));
  try {
    await expect(wait).toHaveAttribute('data-state', 'waiting', { timeout: 20_000 });
    await expect(status).toContainText('running');
    await expect(status).toContainText('succeeded', { timeout: 20_000 });
    await expect(page.getByTestId('run-node-done')).toHaveAttribute('data-state', 'succeeded');
  } finally {
    workers.kill('SIGTERM');
    expect(await exited, `the workers' server exited badly:\n${stderr.slice(-2000)}`).toBe(0);
  }
  expect(stderr).not.toMatch(/Sanitizer|runtime error:/);
  const seen = await page.evaluate(() => (window as unknown as { __seen: { status: string[]; nodes: Record<string, string[]> } }).__seen);
  expect(inOrder(seen.status, ['queued', 'running', 'succeeded'])).toEqual(['queued', 'running', 'succeeded']);
  expect(inOrder(seen.nodes.wait, ['pending', 'waiting', 'succeeded'])).toEqual(['pending', 'waiting', 'succeeded']);
  await api.dispose();
});

test('a failing http_call is inspected without its secret, and resumed from its step once fixed', async ({ page }) => {
  const secret = `sk_live_${Math.random().toString(36).slice(2)}XYZ`;
  let failing = true;
  const received: string[] = [];
  const target: Server = createServer((req, res) => {
    received.push(`${req.headers.authorization} ${req.headers['x-account']}`);
    req.resume();
    req.on('end', () => {
      if (failing) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'upstream down' }));
      } else {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ accepted: true }));
      }
    });
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  const port = (target.address() as AddressInfo).port;
  try {
    const { user, api, pid } = await userWithProject('runfail', 'Failing calls');
    await api.call('PUT', `/api/projects/${pid}/outbound`, { allowlist: ['127.0.0.1'] });
    await api.post(`/api/projects/${pid}/secrets`, { name: 'API_TOKEN', value: secret });
    const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
      name: 'Order to ERP',
      definition: {
        nodes: [
          { id: 'prepare', type: 'transform', config: { expression: '{order: trigger.body.order}' } },
          {
            id: 'call',
            type: 'http_call',
            config: {
              method: 'POST',
              url: `http://127.0.0.1:${port}/orders`,
              headers: { Authorization: 'Bearer {{secrets.API_TOKEN}}', 'X-Account': 'acct-{{secrets.API_TOKEN}}' },
              body: { expression: 'steps.prepare.output' },
              timeout_ms: 5000,
              retry: { max_attempts: 3, base_delay_ms: 50, max_delay_ms: 100 }
            }
          },
          { id: 'done', type: 'terminate', config: { status: 'succeeded' } }
        ],
        edges: [
          { from: 'prepare', to: 'call' },
          { from: 'call', to: 'done' }
        ]
      }
    });
    await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
    const { run_id: rid } = await api.post<{ run_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/runs`, {
      payload: { order: 7 }
    });
    await signIn(page, user, `/login?next=/p/${pid}/runs/${rid}`);
    const status = page.getByTestId('run-status');
    await expect(status).toContainText('failed', { timeout: 20_000 });
    await expect(page.getByTestId('run-node-call')).toHaveAttribute('data-state', 'failed');
    await expect(page.getByTestId('run-node-done')).toHaveAttribute('data-state', 'pending');
    expect(received).toHaveLength(3);
    expect(received.every((h) => h === `Bearer ${secret} acct-${secret}`)).toBe(true);

    // The inspector: three attempts, each a 500, the retries' times, the placeholder, no secret.
    await page.getByTestId('step-call').click();
    await expect(page).toHaveURL(/node=call/);
    const inspector = page.getByTestId('step-inspector');
    for (const n of [1, 2, 3]) await expect(inspector.getByTestId(`attempt-${n}`).getByTestId('attempt-status')).toHaveText('HTTP 500');
    await expect(inspector.getByTestId('attempt-1')).toContainText('Retry scheduled for');
    await expect(inspector.getByTestId('attempt-3')).not.toContainText('Retry scheduled');
    await expect(inspector.getByTestId('attempt-3')).toContainText('upstream down');
    // The recorded request holds the placeholder; a credential header is hidden altogether.
    await expect(inspector.getByTestId('attempt-1')).toContainText('"X-Account": "acct-{{secrets.API_TOKEN}}"');
    await expect(inspector.getByTestId('attempt-1')).toContainText('"Authorization": "[redacted]"');
    await expect(inspector).toContainText('HTTP status 500 (after 3 attempts)');
    expect(await page.content()).not.toContain(secret);
    await expectAccessible(page, 'failed run');
    await screenshots(page, 'run-detail-failed');
    expect(await page.content()).not.toContain(secret);

    // The target is fixed; resume from the failed step.
    failing = false;
    await page.getByRole('button', { name: 'Resume from step…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Resume from a step' });
    await expect(dialog.getByLabel('Step', { exact: true })).toHaveValue('call');
    await expect(dialog.getByRole('radio', { name: /On the same version/ })).toBeChecked();
    await dialog.getByRole('button', { name: 'Resume' }).click();
    await expect(page).not.toHaveURL(new RegExp(rid));
    await expect(page.getByTestId('run-status')).toContainText('succeeded', { timeout: 20_000 });
    await expect(page.getByTestId('run-node-call')).toHaveAttribute('data-state', 'succeeded');
    await expect(page.getByText('Resumed from step')).toContainText('call');
    await page.getByTestId('step-call').click();
    await expect(page.getByTestId('attempt-1').getByTestId('attempt-status')).toHaveText('HTTP 201');
    expect(received).toHaveLength(4);
    expect(await page.content()).not.toContain(secret);
    await api.dispose();
  } finally {
    target.close();
  }
});

test('verify the log, re-run, test the draft; a viewer sees no actions', async ({ page, browser }) => {
  const { user, api, pid } = await userWithProject('runact', 'Actions');
  const wid = await seedWorkflow(api, pid, 'Simple', { publish: true, runs: 1 });
  await runsSettled(api, pid);
  const runs = await api.get<{ items: { id: string }[] }>(`/api/projects/${pid}/runs`);
  const rid = runs.items[0].id;

  await signIn(page, user, `/login?next=/p/${pid}/runs/${rid}`);
  await expect(page.getByTestId('run-status')).toContainText('succeeded');
  await page.getByRole('button', { name: 'Verify log' }).click();
  const result = page.getByTestId('verify-result');
  await expect(result).toContainText('Verified: the log is intact and replays exactly.');
  await expect(result).toContainText('The hash chain of all');
  await expect(result).toContainText('2 transform, branch or terminate outputs match byte for byte');

  // Re-run: a new run with the same trigger, linked back.
  await page.getByRole('button', { name: 'Re-run' }).click();
  const rerun = page.getByRole('dialog', { name: 'Run again with the same trigger' });
  await rerun.getByRole('button', { name: 'Re-run' }).click();
  await expect(page).not.toHaveURL(new RegExp(rid));
  await expect(page.getByTestId('run-status')).toContainText('succeeded');
  await expect(page.getByText('Re-run of')).toBeVisible();
  const rerunId = page.url().split('/').pop()!.split('?')[0];
  const rr = await api.get<{ parent_run_id: string }>(`/api/projects/${pid}/runs/${rerunId}`);
  expect(rr.parent_run_id).toBe(rid);

  // Test the draft with the same trigger: a test run.
  await page.getByRole('button', { name: 'Test the draft' }).click();
  await page.getByRole('dialog', { name: 'Test the draft with this trigger' }).getByRole('button', { name: 'Start test run' }).click();
  await expect(page).not.toHaveURL(new RegExp(rerunId));
  await expect(page.getByTestId('run-status')).toContainText('test');
  await expect(page.getByTestId('run-status')).toContainText('succeeded');

  // A viewer reads the run and may verify it, but sees nothing that changes it.
  const viewer = await createUser('runviewer');
  await api.post(`/api/projects/${pid}/members`, { email: viewer.email, role: 'viewer' });
  const ctx = await browser.newContext();
  const vpage = await ctx.newPage();
  await signIn(vpage, viewer, `/login?next=/p/${pid}/runs/${rid}`);
  await expect(vpage.getByTestId('run-status')).toContainText('succeeded');
  await expect(vpage.getByRole('button', { name: 'Verify log' })).toBeVisible();
  for (const name of ['Cancel run', 'Resume from step…', 'Re-run', 'Test the draft'])
    await expect(vpage.getByRole('button', { name })).toHaveCount(0);
  const vapi = await Api.as(viewer);
  await vapi.call('POST', `/api/projects/${pid}/runs/${rid}/rerun`, {}, 403);
  await vapi.dispose();
  await ctx.close();
  void wid;
  await api.dispose();
});
