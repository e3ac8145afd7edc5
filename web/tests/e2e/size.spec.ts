// How much JavaScript and CSS the sign-in page transfers (gzip), as docs/BENCHMARKS.md reports
// it. A size budget, not a timing: the goal is at most 150 KB.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, expect, SCREENSHOTS } from './fixtures';

const BUDGET_BYTES = 150 * 1024;

test('the sign-in page transfers at most 150 KB of JavaScript and CSS', async ({ page }) => {
  await page.goto('/login');
  await expect(page.getByRole('heading', { name: 'Sign in' })).toBeVisible();
  const entries = await page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => e as PerformanceResourceTiming)
      .filter((e) => /\.(js|css)(\?|$)/.test(new URL(e.name).pathname))
      .map((e) => ({ url: new URL(e.name).pathname, encoded: e.encodedBodySize, decoded: e.decodedBodySize }))
  );
  const encoded = entries.reduce((n, e) => n + e.encoded, 0);
  const decoded = entries.reduce((n, e) => n + e.decoded, 0);
  // Every file came compressed (the server sends the gzip copy made at build time).
  for (const e of entries) if (e.decoded > 1024) expect(e.encoded, e.url).toBeLessThan(e.decoded);
  const out = join(SCREENSHOTS, '..', 'web-size.json');
  mkdirSync(join(SCREENSHOTS, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify({ page: '/login', files: entries.length, gzip_bytes: encoded, raw_bytes: decoded, entries }, null, 2));
  console.log(`sign-in page: ${entries.length} JS/CSS files, ${(encoded / 1024).toFixed(1)} KB gzip, ${(decoded / 1024).toFixed(1)} KB raw`);
  expect(encoded).toBeGreaterThan(0);
  expect(encoded).toBeLessThanOrEqual(BUDGET_BYTES);
});
