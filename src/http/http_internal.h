/* SPDX-License-Identifier: MIT */
/* Private to http. */
#ifndef MH_HTTP_INTERNAL_H
#define MH_HTTP_INTERNAL_H

#include "http/http.h"

#define MH_HTTP__MAX_PARAMS 8

struct mh_http__match {
    const struct mh_http_route *route;
    int nparams;
    const char *names[MH_HTTP__MAX_PARAMS];
    size_t name_lens[MH_HTTP__MAX_PARAMS];
    char *values[MH_HTTP__MAX_PARAMS];
    char allow[128]; /* methods of routes whose pattern matched, for 405 */
};

/* Finds the first route matching `method` and `path`. Returns 200 when found (values are
 * allocated in `arena`), 405 when only the method differs, 404 otherwise. HEAD matches GET. */
int mh_http__route(const struct mh_http_route *routes, size_t n, const char *method,
                   const char *path, struct mh_arena *arena, struct mh_http__match *m);

/* The handler pool (handler_pool.c): `nthreads` threads running submitted tasks in order. */
struct mh_http__pool;
MH_MUSTCHECK enum mh_err mh_http__pool_create(int nthreads, struct mh_http__pool **out,
                                              struct mh_err_info *info);
/* Queues fn(arg); false (fn is not called) once the pool is stopping. */
bool mh_http__pool_submit(struct mh_http__pool *p, void (*fn)(void *arg), void *arg);
/* Refuses new tasks, runs every task already submitted, and joins the threads. Idempotent,
 * NULL-tolerant; the pool stays allocated (submissions keep returning false) until destroyed. */
void mh_http__pool_stop(struct mh_http__pool *p);
/* Stops the pool if it is not stopped yet, and frees it. NULL-tolerant. */
void mh_http__pool_destroy(struct mh_http__pool *p);

/* The web app (static.c). For a request no route matched: answers it with an embedded file or,
 * for a client route, with index.html, and returns true; returns false (nothing answered) for a
 * method other than GET and HEAD, a server path (mh_http__is_server_path) and a missing file. */
bool mh_http__static_serve(struct mh_http_req *req);
/* /api, /hooks, /healthz, /readyz, /metrics and anything below them. */
bool mh_http__is_server_path(const char *path);
/* Whether an Accept-Encoding value accepts gzip (a "gzip" or "x-gzip" token without q=0). */
bool mh_http__accepts_gzip(const char *accept_encoding);
/* Whether an If-None-Match value (a list of entity tags, or "*") matches `etag` (quoted), with
 * the weak comparison RFC 9110 prescribes for it. */
bool mh_http__etag_matches(const char *if_none_match, const char *etag);
struct mh_http__asset;
/* The embedded file at `path` ("/" is "/index.html"), or NULL. */
const struct mh_http__asset *mh_http__static_find(const char *path);

/* Answers from the server's thread with bytes that outlive the server (embedded files: sent
 * without a copy) and the headers set so far; a Cache-Control header set with
 * mh_http_set_header replaces the API's default "no-store". `data` may be NULL when `len` is 0. */
void mh_http__respond_static(struct mh_http_req *req, int status, const char *content_type,
                             const void *data, size_t len);

#endif
