// Answering the webhook with the workflow's result (issue #21): a workflow with a respond node
// (from GET /api/node-types, so the palette and the form know it), an endpoint switched to the
// respond mode in its settings form, a real POST answered with the computed status, headers and
// body, and the run console drawing the respond step with its answer.
import { test, expect, signIn, screenshots, expectAccessible, userWithProject } from './fixtures';

const BASE = process.env.MH_BASE_URL ?? 'http://127.0.0.1:8080';

const SLASH = {
  nodes: [
    { id: 'parse', type: 'transform', config: { expression: '{user: trigger.body.user_name, text: trigger.body.text}' }, position: { x: 0, y: 0 } },
    {
      id: 'answer',
      type: 'respond',
      config: {
        status: 200,
        headers: { 'X-Handled-By': 'meshhook {{ steps.parse.output.user }}' },
        body: "{response_type: 'ephemeral', text: join('', ['Deploying ', steps.parse.output.text])}"
      },
      position: { x: 0, y: 140 }
    }
  ],
  edges: [{ from: 'parse', to: 'answer' }]
};

test('an endpoint set to answer with the respond node answers a POST with the computed result', async ({ page }) => {
  const { user, api, pid } = await userWithProject('respond');
  const types = await api.get<{ types: { type: string }[] }>('/api/node-types');
  expect(types.types.map((t) => t.type)).toContain('respond');
  const wf = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, { name: 'Slash command', definition: SLASH });
  await api.post(`/api/projects/${pid}/workflows/${wf.id}/publish`);
  const ep = await api.post<{ id: string; public_id: string }>(`/api/projects/${pid}/workflows/${wf.id}/endpoints`, { name: 'Slack' });

  await signIn(page, user, `/login?next=/p/${pid}/endpoints/${ep.id}?tab=settings`);
  const form = page.getByRole('form', { name: 'Endpoint settings' });
  await expect(form.getByRole('radio', { name: '202 once recorded' })).toBeChecked();
  await form.getByRole('radio', { name: "The workflow's respond node" }).check();
  await form.getByLabel('Time limit (milliseconds)').fill('2500');
  await expectAccessible(page, 'endpoint answer settings');
  await screenshots(page, 'endpoint-respond-settings');
  await form.getByRole('button', { name: 'Save settings' }).click();
  await expect(page.getByText('Settings saved')).toBeVisible();
  const saved = await api.get<{ response_mode: string; response_timeout_ms: number }>(`/api/projects/${pid}/endpoints/${ep.id}`);
  expect(saved.response_mode).toBe('respond');
  expect(saved.response_timeout_ms).toBe(2500);

  const r = await fetch(`${BASE}/hooks/${ep.public_id}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user_name: 'ada', text: 'web' })
  });
  expect(r.status).toBe(200);
  expect(r.headers.get('x-handled-by')).toBe('meshhook ada');
  expect(await r.json()).toEqual({ response_type: 'ephemeral', text: 'Deploying web' });
  const run = r.headers.get('x-meshhook-run-id')!;
  expect(run).toMatch(/^[0-9a-f-]{36}$/);

  // The run console draws the respond step, succeeded, with the answer as its output.
  await page.goto(`/p/${pid}/runs/${run}`);
  const step = page.getByTestId('step-answer');
  await expect(step).toBeVisible();
  await step.click();
  await expect(page.getByText('Deploying web').first()).toBeVisible();
  await expectAccessible(page, 'run with a respond step');
  await screenshots(page, 'run-respond-step');
  await api.dispose();
});
