// Schedules in the builder (docs/workflows.md#schedules), in Chromium against the real server: the
// trigger node on the canvas opens the Schedules tab; a schedule is added, its next five fire
// times come from the server as it is typed (a Berlin 02:30 job shows the spring-forward jump),
// a bad expression shows the server's message naming the field and the offset, and a bad zone
// too; the draft saved keeps the schedule, publishing makes it active (the project's schedules
// list shows its next fire time); undo takes it back out; axe-core; screenshots.
import { expect, expectAccessible, screenshots, signIn, test, userWithProject } from './fixtures';

test('a schedule is added in the builder with its next fire times, refused when wrong, and active once published', async ({
  page
}) => {
  const { user, api, pid } = await userWithProject('sched');
  const w = await api.post<{ id: string }>(`/api/projects/${pid}/workflows`, {
    name: 'Nightly sync',
    definition: {
      nodes: [{ id: 'report', type: 'transform', config: { expression: '{tick: trigger.body.scheduled_at}' } }],
      edges: []
    }
  });
  const wid = w.id;
  await signIn(page, user, `/login?next=${encodeURIComponent(`/p/${pid}/workflows/${wid}`)}`);

  // The trigger node, before the entry node, says webhooks only, and opens the Schedules tab.
  const card = page.getByTestId('trigger-card');
  await expect(card).toContainText('Webhook');
  await expect(card).toContainText('add a schedule');
  await expect(page.locator('.svelte-flow__edge[data-id="trigger:->report"]')).toHaveCount(1);
  await card.click();
  await expect(page.getByRole('tab', { name: 'Schedules' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByText('No schedule: only webhooks start this workflow.')).toBeVisible();

  await page.getByRole('button', { name: 'Add a schedule' }).click();
  const cron = page.getByLabel('Cron expression');
  const zone = page.getByLabel('Time zone');
  await cron.fill('30 2 * * *');
  await zone.fill('Europe/Berlin');
  const next = page.getByTestId('schedule-next-0');
  await expect(next.locator('li')).toHaveCount(5);
  await expect(next.locator('li').first()).toHaveText(/^\d{4}-\d\d-\d\d 0[23]:[0-9]{2}:00\+0[12]:00$/);
  await expect(card).toContainText('30 2 * * * · Europe/Berlin');

  // A wrong hour: the server's message, naming the field and the offset, beside the field.
  await cron.fill('30 25 * * *');
  await expect(page.getByText('hour field at offset 3: 25 is out of range 0-23').first()).toBeVisible();
  await expect(next.locator('li')).toHaveCount(0);
  await cron.fill('30 2 * * *');
  await zone.fill('Europe/Atlantis');
  await expect(page.getByText(/unknown time zone "Europe\/Atlantis"/).first()).toBeVisible();
  await zone.fill('Europe/Berlin');
  await page.getByLabel('After downtime').selectOption('run');
  await page.getByLabel('At most').fill('3');
  await page.getByLabel('Name').last().fill('nightly');
  await expect(next.locator('li')).toHaveCount(5);
  await expect(page.getByText(/unknown time zone/)).toHaveCount(0);
  await screenshots(page, 'builder-schedules');
  await expectAccessible(page, 'builder (schedules)');

  // Saved with the draft, then published: the schedule is active with a next fire time.
  await page.keyboard.press('Control+s');
  await expect(page.getByTestId('save-status')).toHaveText(/Saved/);
  const draft = await api.get<{ draft: { definition: { schedules?: unknown[] } } }>(`/api/projects/${pid}/workflows/${wid}`);
  expect(draft.draft.definition.schedules).toEqual([
    { cron: '30 2 * * *', timezone: 'Europe/Berlin', catch_up: 'run', max_catch_up: 3, name: 'nightly' }
  ]);
  await page.getByRole('button', { name: /^Publish/ }).click();
  await expect(page.getByText('Published version 1')).toBeVisible();
  const list = await api.get<{ items: { workflow_id: string; cron: string; next_fire_at: string | null }[] }>(
    `/api/projects/${pid}/schedules`
  );
  expect(list.items).toHaveLength(1);
  expect(list.items[0].workflow_id).toBe(wid);
  expect(list.items[0].next_fire_at).toMatch(/T0[01]:30:00/);

  // Editing the graph keeps the schedule; undo takes back the schedule's last change.
  await page.getByRole('button', { name: 'Remove schedule 1' }).click();
  await expect(card).toContainText('add a schedule');
  await page.locator('.svelte-flow__pane').click({ position: { x: 20, y: 200 } });
  await page.keyboard.press('Control+z');
  await expect(card).toContainText('30 2 * * * · Europe/Berlin');
  await api.dispose();
});
