/* SPDX-License-Identifier: MIT */
/*
 * The HTTP server (libmicrohttpd, confined to src/http) and the request API that handlers use.
 * A handler receives a fully read request (headers, query, body within the size limit, router
 * parameters) and answers exactly once with one of the mh_http_respond_* functions; a handler
 * that forgets gets a 500. Every response carries X-Request-Id, and every error body has the
 * shape {"error": {"code", "message"[, "path"]}, "request_id"}.
 *
 * Threads: libmicrohttpd's threads each serve many connections, so they must never wait. A
 * route's handler runs on the handler pool by default, where it may block (on the database pool,
 * whose waits are bounded), and its answer is sent once it returns; only a route marked
 * `runs_inline`, whose handler does not wait (the webhook intake, which parks a webhook while it
 * waits for its commit; /healthz), runs on the server's own thread. Memory: each request owns an
 * arena (mh_http_req_arena) released when the response has been sent; nothing may keep pointers
 * into it.
 */
#ifndef MH_HTTP_H
#define MH_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/arena.h"
#include "core/err.h"

struct mh_http_server;
struct mh_http_req;

typedef void (*mh_http_handler_fn)(struct mh_http_req *req, void *app);

/* A route: `method` ("GET", "POST", ... or "*" for any) and a `pattern` of '/'-separated
 * segments where ":name" captures one segment (mh_http_req_param) and a final "*name" captures
 * the rest of the path. */
struct mh_http_route {
    const char *method;
    const char *pattern;
    mh_http_handler_fn handler;
    bool runs_inline; /* the handler does not wait: it runs on the server's thread */
};

struct mh_http_server_opts {
    const char *bind_address;
    int port;              /* 0: pick a free port, see mh_http_server_port */
    int threads;           /* libmicrohttpd's, serving connections */
    int handler_threads;   /* the handler pool's, running routes not marked runs_inline */
    int handler_queue_max; /* requests waiting per lane of the handler pool; more get 503 */
    int connection_timeout_s;
    long max_body_bytes;
    const char *trusted_proxies;  /* the setting (borrowed during start); NULL or "": none */
    int max_connections_per_ip;   /* per peer address, trusted proxies exempt; 0: no limit */
    long min_receive_bytes_per_s; /* a body slower than this past connection_timeout_s: closed */
    bool is_static_disabled;      /* true: no web app files, only the routes */
};

/* Starts listening and serving on background threads. `routes` (borrowed, must outlive the
 * server) are tried in order. `app` is passed to every handler. */
MH_MUSTCHECK enum mh_err mh_http_server_start(const struct mh_http_server_opts *opts,
                                              const struct mh_http_route *routes, size_t nroutes,
                                              void *app, struct mh_http_server **out,
                                              struct mh_err_info *info);
int mh_http_server_port(const struct mh_http_server *s);
/* Stops accepting new connections and waits up to `timeout_ms` for in-flight requests to finish;
 * returns how many were still running at the deadline. */
int mh_http_server_drain(struct mh_http_server *s, int timeout_ms);
/* Stops the server (closing remaining connections) and frees it. NULL-tolerant. */
void mh_http_server_destroy(struct mh_http_server *s);

/* The longest request id: a client's sane X-Request-Id up to this length is kept as the id
 * (logs, error bodies, the echoed header); otherwise the id is 16 random hex digits. */
#define MH_HTTP_REQ_ID_MAX 64

/* Request accessors: returned strings are borrowed and valid until the response is sent. */
const char *mh_http_req_method(const struct mh_http_req *req);
const char *mh_http_req_path(const struct mh_http_req *req);
const char *mh_http_req_id(const struct mh_http_req *req);
const char *mh_http_req_header(const struct mh_http_req *req, const char *name);
const char *mh_http_req_query(const struct mh_http_req *req, const char *name);
const char *mh_http_req_cookie(const struct mh_http_req *req, const char *name);
const char *mh_http_req_param(const struct mh_http_req *req, const char *name);
/* The client's address: the peer's, or when the peer is a trusted proxy the address its
 * X-Forwarded-For names (mh_http_server_opts.trusted_proxies). */
const char *mh_http_req_remote_ip(const struct mh_http_req *req);
const char *mh_http_req_body(const struct mh_http_req *req, size_t *len);
struct mh_arena *mh_http_req_arena(struct mh_http_req *req);
/* Visits every request header (name, value). */
void mh_http_req_each_header(const struct mh_http_req *req,
                             void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

/* Visits every query-string argument (name, value; value "" for a bare name). */
void mh_http_req_each_query(const struct mh_http_req *req,
                            void (*fn)(void *ctx, const char *name, const char *value), void *ctx);

/* Parses the body as a JSON object. On failure answers 400 (or 415 for a non-JSON content type)
 * itself and returns NULL. The value is borrowed, owned by the request arena. */
json_t *mh_http_req_json_body(struct mh_http_req *req);

/* Adds a response header (copied). Call before responding. */
void mh_http_set_header(struct mh_http_req *req, const char *name, const char *value);
/* Answers with `body` (stolen; NULL for no body) serialised as JSON. */
void mh_http_respond_json(struct mh_http_req *req, int status, json_t *body);
/* Answers with the error shape; `path` (may be NULL) names the offending field. */
void mh_http_respond_error(struct mh_http_req *req, int status, const char *code,
                           const char *message, const char *path);
/* Answers with raw bytes (copied). */
void mh_http_respond_raw(struct mh_http_req *req, int status, const char *content_type,
                         const void *data, size_t len);
/* Maps an mh_err (with optional detail) to a status and error body: EINVAL 422, ENOTFOUND 404,
 * ECONFLICT 409, EFORBIDDEN 403, EAUTH 401, ETOOBIG 413, EUNAVAILABLE 503, others 500 (with a
 * generic message; the detail is logged, not sent). An `info` filled from a PostgreSQL error
 * (mh_db_err_is_db) is never sent either: the client gets a generic message of its class and
 * the request id, the log the SQLSTATE and PostgreSQL's text. */
void mh_http_respond_err(struct mh_http_req *req, enum mh_err err, const struct mh_err_info *info);
bool mh_http_req_has_responded(const struct mh_http_req *req);

/*
 * Answering later without holding a server thread (the webhook intake, waiting for its group
 * commit). Only a `runs_inline` handler may suspend. It calls mh_http_req_suspend and returns
 * without responding; the connection is parked. Later, any thread calls mh_http_req_resume exactly
 * once, after which the server calls `fn(req, ctx)` on one of its own threads, where it answers as
 * a handler would (or suspends again). mh_http_req_resume may come before the handler has even
 * returned. A request never resumed is never answered, and holds up the server's shutdown: the
 * waits that lead to mh_http_req_resume must be bounded.
 */
typedef void (*mh_http_resume_fn)(struct mh_http_req *req, void *ctx);
void mh_http_req_suspend(struct mh_http_req *req, mh_http_resume_fn fn, void *ctx);
void mh_http_req_resume(struct mh_http_req *req);

/*
 * Streamed answers (Server-Sent Events). mh_http_respond_stream answers `req` with `status` and
 * `content_type`, and a body of unknown length written later, from any thread, with
 * mh_http_stream_write; a handler calls it instead of another mh_http_respond_*. It returns a
 * new reference (mh_http_stream_unref). At most `max_queued_bytes` wait to be sent: a write
 * that would pass them (a client that does not read) fails and ends the connection, except that
 * a write to an empty queue always goes. Writes
 * never wait on the client. A stream ends with mh_http_stream_close (once what is queued has been
 * sent), when the client goes, and when the server drains (mh_http_server_drain); from then on
 * writes return false.
 */
struct mh_http_stream;
struct mh_http_stream *mh_http_respond_stream(struct mh_http_req *req, int status,
                                              const char *content_type, size_t max_queued_bytes);
/* Queues `len` bytes (copied). False when the stream has ended (nothing queued). Thread-safe. */
bool mh_http_stream_write(struct mh_http_stream *s, const char *data, size_t len);
/* Bytes queued and not yet sent. Thread-safe. */
size_t mh_http_stream_queued(struct mh_http_stream *s);
/* Whether writes are still accepted. Thread-safe. */
bool mh_http_stream_is_open(struct mh_http_stream *s);
/* Ends the stream once the queued bytes are sent. Thread-safe; NULL-tolerant. */
void mh_http_stream_close(struct mh_http_stream *s);
/* NULL-tolerant. */
void mh_http_stream_unref(struct mh_http_stream *s);

/* From a `runs_inline` handler that finds it would have to wait after all (the intake, for an
 * endpoint it has not cached): `fn(req, app)` answers on the handler pool instead, as the
 * handler of a route not marked inline does. The inline handler returns without answering. */
void mh_http_req_defer(struct mh_http_req *req, mh_http_handler_fn fn);

#endif
