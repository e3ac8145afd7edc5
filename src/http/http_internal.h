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

/* The handler pool (handler_pool.c): `nthreads` threads running submitted tasks. Each task
 * waits in its lane's queue, of at most `max_queued` tasks; threads take from the lanes in turn
 * (round robin), and from each lane in submission order. */
enum mh_http__lane {
    MH_HTTP__LANE_API = 0,  /* requests carrying credentials (a token or a session cookie) */
    MH_HTTP__LANE_PUBLIC,   /* requests without: sign-in, sign-up, /readyz, the rest */
    MH_HTTP__LANE_DEFERRED, /* inline handlers that must wait (webhooks to uncached endpoints) */
    MH_HTTP__LANES
};
enum mh_http__submit {
    MH_HTTP__TAKEN = 0, /* queued: fn will be called */
    MH_HTTP__FULL,      /* the lane's queue is full: fn is not called */
    MH_HTTP__STOPPING,  /* the pool is stopping: fn is not called */
};
struct mh_http__pool;
MH_MUSTCHECK enum mh_err mh_http__pool_create(int nthreads, int max_queued,
                                              struct mh_http__pool **out, struct mh_err_info *info);
/* Queues fn(arg) in `lane`. */
enum mh_http__submit mh_http__pool_submit(struct mh_http__pool *p, enum mh_http__lane lane,
                                          void (*fn)(void *arg), void *arg);
/* Refuses new tasks, runs every task already submitted, and joins the threads. Idempotent,
 * NULL-tolerant; the pool stays allocated (submissions keep returning MH_HTTP__STOPPING) until
 * destroyed. */
void mh_http__pool_stop(struct mh_http__pool *p);
/* Stops the pool if it is not stopped yet, and frees it. NULL-tolerant. */
void mh_http__pool_destroy(struct mh_http__pool *p);

/* Trusted reverse proxies (proxy.c). */
struct mh_http__proxies;
/* Parses the trusted_proxies setting (comma-separated addresses and CIDR ranges, IPv4 or IPv6)
 * into *out (NULL when the list is empty). MH_EINVAL names the bad entry. */
MH_MUSTCHECK enum mh_err mh_http__proxies_parse(const char *list, struct mh_http__proxies **out,
                                                struct mh_err_info *info);
void mh_http__proxies_destroy(struct mh_http__proxies *p);
/* True when the address `addr` (text) is one of the trusted proxies. NULL-tolerant. */
bool mh_http__proxies_trust(const struct mh_http__proxies *p, const char *addr);
/* The client a trusted peer forwarded for: the rightmost X-Forwarded-For entry (`xff`, every
 * header's values joined with commas) that is not itself a trusted proxy, written to `out` in
 * canonical text. False (out untouched) when `xff` ends with no address. */
bool mh_http__proxies_client(const struct mh_http__proxies *p, const char *xff, char *out,
                             size_t cap);

/* The connection guard (conns.c): per-address connection counts, and a deadline for request
 * headers enforced by a thread of its own. */
struct mh_http__conns;
struct mh_http__conn;
struct sockaddr;
/* `per_ip_max` connections per peer address (0: no limit; addresses `exempt` trusts are never
 * limited; `exempt` is borrowed and must outlive the guard); a connection still waiting for its
 * request's headers `header_timeout_s` after it opened or answered is shut down (0: never). */
struct mh_http__conns *mh_http__conns_create(int per_ip_max, int header_timeout_s,
                                             const struct mh_http__proxies *exempt);
/* Stops the deadline thread (idempotent); the counts keep working. */
void mh_http__conns_stop(struct mh_http__conns *c);
/* Stops and frees. NULL-tolerant. Only once every connection is closed. */
void mh_http__conns_destroy(struct mh_http__conns *c);
/* Whether a new connection from `sa` is within the limit. Any thread. */
bool mh_http__conns_admit(struct mh_http__conns *c, const struct sockaddr *sa);
/* Tracks an accepted connection (peer `sa`, socket `fd`) until mh_http__conns_close, which must
 * come before the socket is closed. The connection starts waiting for headers. */
struct mh_http__conn *mh_http__conns_open(struct mh_http__conns *c, const struct sockaddr *sa,
                                          int fd);
/* NULL-tolerant. */
void mh_http__conns_close(struct mh_http__conn *k);
/* Busy once a request's headers are in; idle (the header deadline restarts) once it is answered.
 * NULL-tolerant. */
void mh_http__conn_set_busy(struct mh_http__conn *k, bool is_busy);

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

/* Streams (stream.c): the server's list of open streams. `suspended` is the server's count of
 * suspended connections, kept up to date by the streams' readers. */
struct mh_http__streams;
struct MHD_Connection;
struct MHD_Response;
struct mh_http__streams *mh_http__streams_create(_Atomic int *suspended);
/* Only once every stream's connection has ended. NULL-tolerant. */
void mh_http__streams_destroy(struct mh_http__streams *st);
/* Ends every open stream (and any attached later) once its queue is sent. */
void mh_http__streams_close_all(struct mh_http__streams *st);
/* A new stream (one reference, the caller's) whose queue holds at most `max_bytes`, of the
 * request `req_id` (for the log). */
struct mh_http_stream *mh_http__stream_create(struct mh_http__streams *st, size_t max_bytes,
                                              const char *req_id);
/* A new reference to `s`. */
struct mh_http_stream *mh_http__stream_ref(struct mh_http_stream *s);
/* The response sending `s` on `conn` (the caller queues and destroys it), or NULL. On the
 * server's thread. */
struct MHD_Response *mh_http__stream_attach(struct mh_http_stream *s, struct MHD_Connection *conn);

#endif
