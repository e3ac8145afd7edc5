// SvelteKit configuration. The app is a static single-page app: adapter-static writes it to
// ../build/web/dist with one fallback page (index.html) that the meshhook binary embeds
// (scripts/embed-web.mjs) and serves for every client route (src/http/static.c).
import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  kit: {
    adapter: adapter({
      pages: '../build/web/dist',
      assets: '../build/web/dist',
      fallback: 'index.html',
      precompress: false,
      strict: true
    }),
    // Client routes such as /p/x/workflows get the same index.html: asset URLs must be absolute.
    paths: { relative: false },
    // SvelteKit's bootstrap is an inline <script>. The Content-Security-Policy allows it by its
    // SHA-256, which scripts/embed-web.mjs computes from the built index.html and the server sends
    // as a header (a <meta> policy is not emitted for the fallback page).
    output: { preloadStrategy: 'modulepreload' },
    version: { pollInterval: 0 }
  }
};

export default config;
