// A single-page app: nothing is rendered on the server or prerendered; the meshhook binary
// serves the same index.html for every client route (src/http/static.c).
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'never';
