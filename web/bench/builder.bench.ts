// Measures, in headless Chromium against the real server: the JavaScript and CSS the sign-in
// page and the builder transfer (compressed, from the Resource Timing API), and how long a
// 300-node workflow without positions takes to open in the builder, be laid out and drawn, and
// answer a click on a node with its form (Performance API, inside the page). Prints the numbers
// and writes them to build/bench/web.json; asserts only that the page did what was measured.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { expect, signIn, test, userWithProject } from '../tests/e2e/fixtures';

const OUT = join(process.cwd(), '..', 'build', 'bench');

async function transferred(page: Page) {
  return page.evaluate(() => {
    const sum = { js: 0, css: 0, jsRaw: 0, cssRaw: 0, files: 0 };
    for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
      const path = new URL(e.name).pathname;
      if (path.endsWith('.js')) {
        sum.js += e.encodedBodySize;
        sum.jsRaw += e.decodedBodySize;
        sum.files++;
      } else if (path.endsWith('.css')) {
        sum.css += e.encodedBodySize;
        sum.cssRaw += e.decodedBodySize;
        sum.files++;
      }
    }
    return sum;
  });
}

/** A tree of 300 transforms (each node feeds two), no positions: the builder lays it out. */
function bigDefinition(n = 300) {
  const nodes = [];
  const edges = [];
  for (let i = 0; i < n; i++) {
    nodes.push({ id: `n${i}`, type: 'transform', config: { expression: `trigger.body.v${i}` } });
    if (i > 0) edges.push({ from: `n${Math.floor((i - 1) / 2)}`, to: `n${i}` });
  }
  return { nodes, edges };
}

test('web app: bytes transferred, and a 300-node workflow opened, laid out and clicked', async ({ page, browser }) => {
  const results: Record<string, unknown> = {};

  // The sign-in page, cold.
  const fresh = await browser.newContext();
  const login = await fresh.newPage();
  await login.goto('/login');
  await expect(login.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  results.signin = await transferred(login);
  await fresh.close();

  const { user, api, pid } = await userWithProject('bench');
  const small = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Small' });
  const big = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Big', definition: bigDefinition() });

  // The builder, cold (a new page after signing in, so every asset is fetched).
  await signIn(page, user);
  const ctx = page.context();
  const builder = await ctx.newPage();
  await builder.goto(`/p/${pid}/workflows/${small.id}`);
  await expect(builder.getByTestId('empty-canvas')).toBeVisible();
  results.builder = await transferred(builder);
  await builder.close();

  // 300 nodes: from navigation start to the canvas drawn (layout included; a large graph draws
  // only the nodes in view), then a click on a drawn node.
  const runs: { open_ms: number; api_done_ms: number; click_ms: number; nodes_drawn: number }[] = [];
  for (let round = 0; round < 3; round++) {
    const p = await ctx.newPage();
    await p.goto(`/p/${pid}/workflows/${big.id}`);
    const openMs = await p.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const check = () => {
            const drawn = [...document.querySelectorAll<HTMLElement>('.svelte-flow__node')].filter(
              (n) => n.style.visibility !== 'hidden' && n.offsetWidth > 0
            ).length;
            const ready = document.querySelector('[data-testid="error-count"]');
            if (drawn >= 10 && ready) resolve(performance.now());
            else requestAnimationFrame(check);
          };
          check();
        })
    );
    const clickMs = await p.evaluate(
      () =>
        new Promise<number>((resolve) => {
          const el = document.querySelector<HTMLElement>('.svelte-flow__node[data-id="n5"] .name')!;
          const t = performance.now();
          el.dispatchEvent(new MouseEvent('click', { bubbles: true }));
          const check = () => {
            const id = document.querySelector<HTMLInputElement>('#node-id');
            if (id && id.value === 'n5') resolve(performance.now() - t);
            else requestAnimationFrame(check);
          };
          check();
        })
    );
    const api_ms = await p.evaluate(() =>
      Math.round(
        Math.max(
          0,
          ...(performance.getEntriesByType('resource') as PerformanceResourceTiming[])
            .filter((e) => new URL(e.name).pathname.startsWith('/api/'))
            .map((e) => e.responseEnd)
        )
      )
    );
    const drawn = await p.locator('.svelte-flow__node').count();
    runs.push({ open_ms: Math.round(openMs), api_done_ms: api_ms, click_ms: Math.round(clickMs), nodes_drawn: drawn });
    await p.close();
  }
  results.big_workflow = { nodes: 300, runs };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'web.json'), JSON.stringify(results, null, 2));
  console.log('BENCH', JSON.stringify(results));
  await api.dispose();
});
