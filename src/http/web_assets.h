/* SPDX-License-Identifier: MIT */
/* Private to http. The web app's files, compiled into the binary by scripts/embed-web.mjs
 * (build/web/web_assets.c, generated from the vite build) and served by static.c. */
#ifndef MH_HTTP_WEB_ASSETS_H
#define MH_HTTP_WEB_ASSETS_H

#include <stdbool.h>
#include <stddef.h>

struct mh_http__asset {
    const char *path;         /* "/index.html", "/_app/immutable/..." */
    const char *content_type; /* with charset for text */
    const unsigned char *data;
    size_t len;
    const unsigned char *gz; /* the same bytes gzipped, or NULL when that saves little */
    size_t gz_len;
    const char *etag;    /* strong and quoted: a hash of `data` */
    const char *gz_etag; /* the gzip representation's */
    bool is_immutable;   /* content-hashed name: cacheable for a year */
};

/* Sorted by path in strcmp order, for binary search. */
extern const struct mh_http__asset mh_http__assets[];
extern const size_t mh_http__assets_count;
/* The Content-Security-Policy of every app response (it allows the app's inline bootstrap
 * script by hash). */
extern const char mh_http__app_csp[];

#endif
