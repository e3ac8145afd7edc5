/* SPDX-License-Identifier: MIT */
/*
 * The web app's files, served from memory (web_assets.h: compiled in by scripts/embed-web.mjs).
 * The server calls mh_http__static_serve only for a request no route matched, so the webhook
 * intake and the API never pay for it. A GET or HEAD for an embedded file gets it, gzipped when
 * the client accepts that (compressed at build time), with a strong ETag answered 304 on
 * If-None-Match; content-hashed files (/_app/immutable/) are cacheable for a year, every other
 * file is revalidated. Any other path that looks like a client route gets index.html (the SPA
 * fallback) — but never one under /api, /hooks, /healthz, /readyz or /metrics, which keep their
 * JSON 404, and never a missing file (a name with a dot, or under /_app/), which would otherwise
 * come back as HTML with status 200.
 */
#include "http/http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/web_assets.h"

static const char CACHE_IMMUTABLE[] = "public, max-age=31536000, immutable";
static const char CACHE_REVALIDATE[] = "no-cache";

static int asset_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct mh_http__asset *)elem)->path);
}

const struct mh_http__asset *mh_http__static_find(const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    return bsearch(path, mh_http__assets, mh_http__assets_count, sizeof(mh_http__assets[0]),
                   asset_cmp);
}

/* `path` is `prefix` or continues below it ("/api", "/api/x"; not "/apix"). */
static bool under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool mh_http__is_server_path(const char *path)
{
    return under(path, "/api") || under(path, "/hooks") || under(path, "/healthz") ||
           under(path, "/readyz") || under(path, "/metrics");
}

/* Skips optional whitespace. */
static const char *ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

bool mh_http__accepts_gzip(const char *accept_encoding)
{
    if (accept_encoding == NULL)
        return false;
    const char *s = accept_encoding;
    while (*s) {
        s = ows(s);
        const char *tok = s;
        while (*s && *s != ',' && *s != ';' && *s != ' ' && *s != '\t')
            s++;
        size_t tlen = (size_t)(s - tok);
        bool is_gzip = (tlen == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
                       (tlen == 6 && strncasecmp(tok, "x-gzip", 6) == 0);
        /* Parameters: only q matters; q=0 (0, 0.0, 0.000) refuses the coding. */
        bool is_refused = false;
        while (*s && *s != ',') {
            s = ows(s);
            if (*s == ';') {
                s = ows(s + 1);
                if ((s[0] == 'q' || s[0] == 'Q') && s[1] == '=') {
                    const char *q = s + 2;
                    if (*q == '0') {
                        q++;
                        if (*q == '.')
                            for (q++; *q == '0'; q++)
                                ;
                        is_refused =
                            *q == '\0' || *q == ',' || *q == ';' || *q == ' ' || *q == '\t';
                    }
                }
            }
            while (*s && *s != ',' && *s != ';')
                s++;
        }
        if (is_gzip)
            return !is_refused;
        if (*s == ',')
            s++;
    }
    return false;
}

bool mh_http__etag_matches(const char *if_none_match, const char *etag)
{
    if (if_none_match == NULL)
        return false;
    size_t elen = strlen(etag);
    const char *s = if_none_match;
    while (*s) {
        s = ows(s);
        if (*s == '*')
            return true;
        /* If-None-Match compares weakly: W/"x" matches "x". */
        if (s[0] == 'W' && s[1] == '/')
            s += 2;
        const char *tok = s;
        if (*s == '"') {
            const char *end = strchr(s + 1, '"');
            s = end ? end + 1 : s + strlen(s);
        } else {
            while (*s && *s != ',')
                s++;
        }
        /* A tag counts only when the list goes on (or ends) right after it: "x"-gz is not "x". */
        const char *after = ows(s);
        if ((size_t)(s - tok) == elen && strncmp(tok, etag, elen) == 0 &&
            (*after == ',' || *after == '\0'))
            return true;
        while (*s && *s != ',')
            s++;
        if (*s == ',')
            s++;
    }
    return false;
}

/* Whether a path no file matches is a client route (answered with index.html). */
static bool is_client_route(const char *path)
{
    if (under(path, "/_app"))
        return false;
    const char *last = strrchr(path, '/');
    return strchr(last ? last : path, '.') == NULL;
}

bool mh_http__static_serve(struct mh_http_req *req)
{
    const char *method = mh_http_req_method(req);
    bool is_head = strcmp(method, "HEAD") == 0;
    if (!is_head && strcmp(method, "GET") != 0)
        return false;
    const char *path = mh_http_req_path(req);
    if (mh_http__is_server_path(path))
        return false;
    const struct mh_http__asset *a = mh_http__static_find(path);
    if (a == NULL) {
        if (!is_client_route(path))
            return false;
        a = mh_http__static_find("/index.html");
        if (a == NULL)
            return false;
    }
    bool is_gzip = a->gz && mh_http__accepts_gzip(mh_http_req_header(req, "Accept-Encoding"));
    const char *etag = is_gzip ? a->gz_etag : a->etag;
    mh_http_set_header(req, "Content-Security-Policy", mh_http__app_csp);
    mh_http_set_header(req, "X-Frame-Options", "DENY");
    mh_http_set_header(req, "Referrer-Policy", "same-origin");
    mh_http_set_header(req, "Cache-Control", a->is_immutable ? CACHE_IMMUTABLE : CACHE_REVALIDATE);
    mh_http_set_header(req, "ETag", etag);
    if (a->gz)
        mh_http_set_header(req, "Vary", "Accept-Encoding");
    if (mh_http__etag_matches(mh_http_req_header(req, "If-None-Match"), etag)) {
        mh_http__respond_static(req, 304, NULL, NULL, 0);
        return true;
    }
    if (is_gzip)
        mh_http_set_header(req, "Content-Encoding", "gzip");
    mh_http__respond_static(req, 200, a->content_type, is_gzip ? a->gz : a->data,
                            is_gzip ? a->gz_len : a->len);
    return true;
}
