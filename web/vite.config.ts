import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';

// `vite dev` proxies the API to a running `meshhook serve` (make run), so the app can be worked
// on with hot reload: MESHHOOK_URL overrides the default.
const api = process.env.MESHHOOK_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  server: {
    proxy: { '/api': api, '/hooks': api, '/healthz': api, '/readyz': api }
  },
  build: {
    // Sourcemaps would be embedded in the binary for nothing.
    sourcemap: false,
    reportCompressedSize: false
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node'
  }
});
