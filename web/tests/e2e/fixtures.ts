// Shared pieces of the browser tests: users made through the real API (sign-up is enabled on
// the test server), an API client that signs in like the browser does (cookie + CSRF token),
// sign-in through the UI, an axe-core scan, screenshots in light, dark and phone width, and a
// check, after every test, that the page met no Content-Security-Policy violation.
import { test as base, expect, request as pwRequest, type APIRequestContext, type Page } from '@playwright/test';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = process.env.MH_SCREENSHOTS ?? join(here, '../../../build/screenshots');
const BASE = process.env.MH_BASE_URL ?? 'http://127.0.0.1:8080';

export interface TestUser {
  email: string;
  password: string;
  name: string;
}

let counter = 0;
export function uniqueEmail(prefix: string): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${process.pid}-${counter}@example.com`;
}

/** An API client acting as `user`, signed in with a session cookie like the browser. */
export class Api {
  csrf = '';
  private constructor(readonly ctx: APIRequestContext) {}

  static async as(user: TestUser, base = BASE): Promise<Api> {
    const ctx = await pwRequest.newContext({ baseURL: base });
    const api = new Api(ctx);
    const r = await ctx.post('/api/auth/login', { data: { email: user.email, password: user.password } });
    if (!r.ok()) throw new Error(`login ${user.email}: ${r.status()} ${await r.text()}`);
    api.csrf = (await r.json()).csrf_token;
    return api;
  }

  async call<T = any>(method: string, path: string, data?: unknown, expectStatus?: number): Promise<T> {
    const r = await this.ctx.fetch(path, {
      method,
      data: data === undefined ? undefined : data,
      headers: method === 'GET' ? {} : { 'X-CSRF-Token': this.csrf }
    });
    const text = await r.text();
    if (expectStatus !== undefined ? r.status() !== expectStatus : !r.ok())
      throw new Error(`${method} ${path}: ${r.status()} ${text}`);
    return (text ? JSON.parse(text) : null) as T;
  }

  get<T = any>(path: string) {
    return this.call<T>('GET', path);
  }
  post<T = any>(path: string, data: unknown = {}) {
    return this.call<T>('POST', path, data);
  }

  async dispose() {
    await this.ctx.dispose();
  }
}

/** Creates an account through the public sign-up API (of the server at `base`). */
export async function createUser(prefix = 'user', base = BASE): Promise<TestUser> {
  const user = { email: uniqueEmail(prefix), password: 'correct horse battery', name: `Test ${prefix}` };
  const ctx = await pwRequest.newContext({ baseURL: base });
  const r = await ctx.post('/api/auth/signup', {
    data: { email: user.email, password: user.password, display_name: user.name }
  });
  await ctx.dispose();
  if (r.status() !== 201) throw new Error(`signup: ${r.status()} ${await r.text()}`);
  return user;
}

/** A user with a project of their own (owner); returns the project id. */
export async function userWithProject(prefix = 'owner', projectName = 'Test project', base = BASE) {
  const user = await createUser(prefix, base);
  const api = await Api.as(user, base);
  const project = await api.post<{ id: string }>('/api/projects', { name: projectName });
  return { user, api, pid: project.id };
}

/** Signs in through the sign-in page. */
export async function signIn(page: Page, user: TestUser, path = '/login') {
  await page.goto(path);
  await page.getByLabel('E-mail').fill(user.email);
  await page.getByLabel('Password').fill(user.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The shell's main area (the sign-out button may sit in the closed drawer on a phone).
  await expect(page.locator('main#main')).toBeVisible();
}

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Runs axe-core on the page (WCAG 2.x A and AA rules) and fails on serious or critical issues. */
export async function expectAccessible(page: Page, what: string) {
  // Evaluated through the DevTools protocol, not an inline <script>, so the page's CSP stays.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    // @ts-expect-error axe is the global the script above defined
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] }
    });
    return r.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n: any) => n.target.join(' '))
    }));
  });
  const bad = result.filter((v: any) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${what}: accessibility violations\n${JSON.stringify(bad, null, 2)}`).toEqual([]);
}

/** Writes <name>.light.png, <name>.dark.png and <name>.phone.png (390 px wide). */
export async function screenshots(page: Page, name: string) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const size = page.viewportSize() ?? { width: 1280, height: 800 };
  const settle = async () => {
    await page.evaluate(() => document.fonts.ready);
    await page.waitForTimeout(150);
  };
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });
  await settle();
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.light.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark', reducedMotion: 'reduce' });
  await settle();
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.dark.png`), fullPage: true });
  await page.emulateMedia({ colorScheme: 'light', reducedMotion: 'reduce' });
  await page.setViewportSize({ width: 390, height: 844 });
  await settle();
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.phone.png`), fullPage: true });
  await page.setViewportSize(size);
  await settle();
}

/** The test's page, watched for Content-Security-Policy violations (fails the test). */
export const test = base.extend<{ cspWatch: void }>({
  cspWatch: [
    async ({ page }, use) => {
      const violations: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) violations.push(m.text());
      });
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (e) => {
          console.error(`Content Security Policy violation: ${e.violatedDirective} ${e.blockedURI}`);
        });
      });
      await use();
      expect(violations, 'Content-Security-Policy violations').toEqual([]);
    },
    { auto: true }
  ]
});

export { expect };

/** A small valid definition: transform, then terminate. */
export const SIMPLE_DEFINITION = {
  nodes: [
    { id: 'prepare', type: 'transform', config: { expression: '{id: trigger.body.id}' }, position: { x: 0, y: 0 } },
    { id: 'done', type: 'terminate', config: { status: 'succeeded' }, position: { x: 0, y: 120 } }
  ],
  edges: [{ from: 'prepare', to: 'done' }]
};

/** Creates a workflow through the API; with `publish`, publishes it and starts `runs` runs. */
export async function seedWorkflow(api: Api, pid: string, name: string, opts: { publish?: boolean; runs?: number; description?: string } = {}) {
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name,
    description: opts.description ?? '',
    definition: SIMPLE_DEFINITION
  });
  if (opts.publish) {
    await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
    for (let i = 0; i < (opts.runs ?? 0); i++)
      await api.post(`/api/projects/${pid}/workflows/${wf.id}/runs`, { payload: { id: i } });
  }
  return wf.id;
}

/** Waits until every run of the project has finished (workers run them in the background). */
export async function runsSettled(api: Api, pid: string) {
  await expect
    .poll(
      async () => {
        const r = await api.get<{ items: { status: string }[] }>(`/api/projects/${pid}/runs?limit=200`);
        return r.items.filter((x) => x.status === 'queued' || x.status === 'running').length;
      },
      { timeout: 30_000 }
    )
    .toBe(0);
}
