// Browser tests: Playwright drives Debian's Chromium (/usr/bin/chromium; never a downloaded
// browser) against a real `meshhook serve` and a real PostgreSQL, both started by
// tests/browser.sh, which passes the server's address in MH_BASE_URL. Run through
// `bash tests/run.sh browser` (or `make test`), not directly.
import { defineConfig } from '@playwright/test';

const chromium = process.env.MH_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'tests/e2e',
  outputDir: process.env.MH_PW_OUTPUT ?? 'test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: Number(process.env.MH_PW_WORKERS ?? 2),
  retries: 0,
  forbidOnly: true,
  reporter: [
    ['list'],
    ['json', { outputFile: process.env.MH_PW_JSON ?? 'test-results/results.json' }]
  ],
  use: {
    baseURL: process.env.MH_BASE_URL ?? 'http://127.0.0.1:8080',
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync'
      ]
    }
  }
});
