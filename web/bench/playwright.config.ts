// The web app's benchmarks (docs/BENCHMARKS.md, "The web app"): Playwright specs that measure and
// print, never assert a time. Not part of `make test`; run them against a fresh server with
//   MH_PW_FILTER=--config=bench/playwright.config.ts bash tests/run.sh browser playwright
// (tests/browser.sh starts the server and the database; the numbers land in build/bench/web.json).
import base from '../playwright.config';
import { defineConfig } from '@playwright/test';

export default defineConfig({ ...base, testDir: '.', testMatch: '*.bench.ts', workers: 1, timeout: 180_000 });
