/* SPDX-License-Identifier: MIT */
/*
 * libmicrohttpd glue: one daemon with an internal epoll thread pool. The access handler reads a
 * request in three phases (headers, body chunks into a bounded buffer, completion), then routes
 * it and lets the handler answer. Oversized bodies are refused with 413 as soon as the declared
 * or received length passes the limit. An in-flight counter lets SIGTERM drain: stop accepting,
 * wait for running requests, then stop.
 *
 * A handler that may block runs on the handler pool (handler_pool.c), never on libmicrohttpd's
 * threads: each of those serves many connections, webhooks among them, and one waiting on the
 * database would hold them all up. dispatch() parks the connection and submits the request; the
 * pool's thread runs the handler with its answer kept in the request (is_deferred), then resumes
 * the connection, and the server's thread sends the answer.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "metrics/metrics.h"

struct mh_http_server {
    struct MHD_Daemon *daemon;
    const struct mh_http_route *routes;
    size_t nroutes;
    bool is_static_disabled;
    void *app;
    long max_body_bytes;
    int port;
    struct mh_http__pool *pool;
    struct mh_http__proxies *proxies;
    struct mh_http__conns *conns;
    struct mh_http__streams *streams;
    long min_receive_bytes_per_s;
    int body_grace_s;
    _Atomic int inflight;
    _Atomic int suspended;
    /* The listening socket once quiesced: closed only after libmicrohttpd has stopped, since its
     * threads take it out of their epoll sets on their own time (closing it at once was a data
     * race ThreadSanitizer caught, and could let them act on a reused descriptor). */
    MHD_socket quiesced_fd;
};

/* libmicrohttpd's memory per connection: the request line and headers (so a header block
 * larger than about this is refused with 431), the read buffer and the response headers. It
 * zeroes the pool for every request, so its size is paid per request: 64 KiB cost the webhook
 * path about a tenth of its CPU (docs/BENCHMARKS.md). */
#define CONNECTION_MEMORY_BYTES 32768

struct resp_header {
    struct resp_header *next;
    const char *name;
    const char *value;
};

struct mh_http_req {
    struct mh_http_server *srv;
    struct MHD_Connection *conn;
    struct mh_arena *arena;
    const char *method;
    const char *path;
    char id[MH_HTTP_REQ_ID_MAX + 1];
    char ip[INET6_ADDRSTRLEN];
    struct mh_buf body;
    size_t received;
    struct mh_http__conn *guard;
    struct mh_http__match match;
    struct resp_header *headers;
    bool is_too_big;
    size_t discarded;
    bool has_responded;
    bool is_suspended;
    bool is_deferred; /* running on the handler pool: the answer is kept in `deferred` */
    /* Set by the server's thread before it hands the request to the pool, and read by it alone:
     * from then on the request is the pool's until it is resumed. */
    bool is_handed_off;
    bool has_cache_control; /* a header set by the handler replaces the default no-store */
    mh_http_handler_fn deferred_fn;
    struct {
        const char *content_type;
        const void *data;
        size_t len;
    } deferred;
    mh_http_resume_fn resume_fn;
    void *resume_ctx;
    struct mh_http_stream *stream; /* a streamed answer: its body comes from the stream */
    int status;
    struct timespec started;
};

static void req_id_init(char *out)
{
    unsigned char raw[8];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        memset(raw, 0, sizeof(raw));
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[16] = '\0';
}

bool mh_http__req_id_is_sane(const char *v)
{
    size_t n = 0;
    for (; v[n]; n++) {
        char ch = v[n];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || strchr("-_.:+/=@", ch) != NULL;
        if (!ok || n >= MH_HTTP_REQ_ID_MAX)
            return false;
    }
    return n > 0;
}

/* The client's X-Request-Id when it is sane (a proxy or caller correlating its own logs with
 * ours), else a fresh random one. */
static void req_id_take(struct MHD_Connection *conn, char *out)
{
    const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    if (v && mh_http__req_id_is_sane(v))
        snprintf(out, MH_HTTP_REQ_ID_MAX + 1, "%s", v);
    else
        req_id_init(out);
}

static void send_response(struct mh_http_req *req, const char *content_type, const void *data,
                          size_t len, bool is_persistent);
static void run_deferred(void *arg);
static void send_deferred(struct mh_http_req *req, void *ctx);
static void defer_to(struct mh_http_req *req, mh_http_handler_fn fn, enum mh_http__lane lane);

static void queue(struct mh_http_req *req, int status, const char *content_type, const void *data,
                  size_t len)
{
    if (req->has_responded)
        return;
    req->has_responded = true;
    req->status = status;
    if (req->is_deferred) {
        /* On a handler thread: sent by the server's thread once the connection resumes. */
        char *copy = mh_arena_alloc(req->arena, len + 1);
        if (len)
            memcpy(copy, data, len);
        req->deferred.content_type =
            content_type ? mh_arena_strdup(req->arena, content_type) : NULL;
        req->deferred.data = copy;
        req->deferred.len = len;
        return;
    }
    send_response(req, content_type, data, len, false);
}

/* Queues the streamed answer of a request whose handler called mh_http_respond_stream. */
static void send_stream(struct mh_http_req *req)
{
    struct MHD_Response *r = mh_http__stream_attach(req->stream, req->conn);
    if (r == NULL) {
        mh_http_stream_close(req->stream);
        return;
    }
    MHD_add_response_header(r, "Content-Type", req->deferred.content_type);
    MHD_add_response_header(r, "X-Request-Id", req->id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    /* Reverse proxies (nginx) would otherwise buffer the stream. */
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    /* An ended stream ends its connection: the client reconnects, here or elsewhere. */
    MHD_add_response_header(r, "Connection", "close");
    for (struct resp_header *h = req->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
}

struct mh_http_stream *mh_http_respond_stream(struct mh_http_req *req, int status,
                                              const char *content_type, size_t max_queued_bytes)
{
    MH_ASSERT(!req->has_responded);
    req->has_responded = true;
    req->status = status;
    req->deferred.content_type = mh_arena_strdup(req->arena, content_type);
    req->stream = mh_http__stream_create(req->srv->streams, max_queued_bytes, req->id);
    if (!req->is_deferred)
        send_stream(req);
    return mh_http__stream_ref(req->stream);
}

void mh_http__respond_static(struct mh_http_req *req, int status, const char *content_type,
                             const void *data, size_t len)
{
    MH_ASSERT(!req->is_deferred && !req->has_responded);
    req->has_responded = true;
    req->status = status;
    send_response(req, content_type, data ? data : "", len, true);
}

/* `is_persistent`: `data` outlives the response (embedded files), so it is not copied. */
static void send_response(struct mh_http_req *req, const char *content_type, const void *data,
                          size_t len, bool is_persistent)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)data, is_persistent ? MHD_RESPMEM_PERSISTENT : MHD_RESPMEM_MUST_COPY);
    if (r == NULL)
        return;
    if (content_type)
        MHD_add_response_header(r, "Content-Type", content_type);
    MHD_add_response_header(r, "X-Request-Id", req->id);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    if (!req->has_cache_control)
        MHD_add_response_header(r, "Cache-Control", "no-store");
    for (struct resp_header *h = req->headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    MHD_queue_response(req->conn, (unsigned)req->status, r);
    MHD_destroy_response(r);
}

void mh_http_set_header(struct mh_http_req *req, const char *name, const char *value)
{
    struct resp_header *h = mh_arena_alloc(req->arena, sizeof(*h));
    h->name = mh_arena_strdup(req->arena, name);
    h->value = mh_arena_strdup(req->arena, value);
    h->next = req->headers;
    req->headers = h;
    if (strcasecmp(name, "Cache-Control") == 0)
        req->has_cache_control = true;
}

void mh_http_respond_json(struct mh_http_req *req, int status, json_t *body)
{
    if (body == NULL) {
        queue(req, status, NULL, "", 0);
        return;
    }
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (s == NULL) {
        queue(req, 500, "application/json",
              "{\"error\":{\"code\":\"internal\",\"message\":\"could not encode response\"}}", 66);
        return;
    }
    queue(req, status, "application/json", s, strlen(s));
    free(s);
}

void mh_http_respond_error(struct mh_http_req *req, int status, const char *code,
                           const char *message, const char *path)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (path && path[0])
        json_object_set_new(err, "path", json_string(path));
    mh_http_respond_json(req, status, json_pack("{s:o, s:s}", "error", err, "request_id", req->id));
}

void mh_http_respond_raw(struct mh_http_req *req, int status, const char *content_type,
                         const void *data, size_t len)
{
    queue(req, status, content_type, data, len);
}

/*
 * PostgreSQL's own error text names tables, columns and constraints, and is no contract: a
 * client gets a message of its class and the request id, the server log gets the detail.
 */
static void respond_db_err(struct mh_http_req *req, enum mh_err err, const struct mh_err_info *info)
{
    const char *state = info->kind;
    int status = 500;
    const char *code = "internal", *msg = "internal error";
    if (err == MH_EUNAVAILABLE) {
        status = 503;
        code = "unavailable";
        msg = "the service is temporarily unavailable";
        mh_http_set_header(req, "Retry-After", "1");
    } else if (strcmp(state, "23505") == 0) {
        status = 409;
        code = "conflict";
        msg = "a record with the same unique values already exists";
    } else if (err == MH_ECONFLICT) {
        status = 409;
        code = "conflict";
        msg = "the request conflicted with a concurrent change; retry it";
    } else if (strcmp(state, "23503") == 0) {
        status = 422;
        code = "invalid";
        msg = "the request refers to a record that does not exist";
    } else if (err == MH_EINVAL && strncmp(state, "22", 2) == 0) {
        status = 422;
        code = "invalid";
        msg = "a value in the request is not valid for its field";
    } else if (err == MH_EINVAL) {
        status = 422;
        code = "invalid";
        msg = "the request breaks a rule of the data it changes";
    } else if (err == MH_EFORBIDDEN) {
        status = 403;
        code = "forbidden";
        msg = "permission denied";
    }
    mh_log_req(status >= 500 ? MH_LOG_ERROR : MH_LOG_WARN, "http", req->id,
               "database error answered %d: sqlstate=%s %s", status, state, info->message);
    mh_http_respond_error(req, status, code, msg, NULL);
}

void mh_http_respond_err(struct mh_http_req *req, enum mh_err err, const struct mh_err_info *info)
{
    if (mh_db_err_is_db(info)) {
        respond_db_err(req, err, info);
        return;
    }
    const char *msg = info && info->message[0] ? info->message : mh_strerror(err);
    const char *path = info ? info->path : NULL;
    switch (err) {
    case MH_EINVAL: mh_http_respond_error(req, 422, "invalid", msg, path); return;
    case MH_ENOTFOUND: mh_http_respond_error(req, 404, "not_found", msg, path); return;
    case MH_ECONFLICT: mh_http_respond_error(req, 409, "conflict", msg, path); return;
    case MH_EFORBIDDEN: mh_http_respond_error(req, 403, "forbidden", msg, path); return;
    case MH_EAUTH: mh_http_respond_error(req, 401, "unauthenticated", msg, path); return;
    case MH_ETOOBIG: mh_http_respond_error(req, 413, "too_big", msg, path); return;
    case MH_ELIMIT: mh_http_respond_error(req, 429, "rate_limited", msg, path); return;
    case MH_EUNAVAILABLE:
        mh_http_set_header(req, "Retry-After", "1");
        mh_http_respond_error(req, 503, "unavailable", "the service is temporarily unavailable",
                              NULL);
        mh_log_req(MH_LOG_WARN, "http", req->id, "unavailable: %s", msg);
        return;
    default:
        mh_log_req(MH_LOG_ERROR, "http", req->id, "internal error: %s: %s", mh_strerror(err), msg);
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        return;
    }
}

bool mh_http_req_has_responded(const struct mh_http_req *req)
{
    return req->has_responded;
}

const char *mh_http_req_method(const struct mh_http_req *req)
{
    return req->method;
}

const char *mh_http_req_path(const struct mh_http_req *req)
{
    return req->path;
}

const char *mh_http_req_id(const struct mh_http_req *req)
{
    return req->id;
}

const char *mh_http_req_header(const struct mh_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *mh_http_req_query(const struct mh_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *mh_http_req_cookie(const struct mh_http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const char *mh_http_req_param(const struct mh_http_req *req, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < req->match.nparams; i++)
        if (req->match.name_lens[i] == len && strncmp(req->match.names[i], name, len) == 0)
            return req->match.values[i];
    return NULL;
}

const char *mh_http_req_remote_ip(const struct mh_http_req *req)
{
    return req->ip;
}

const char *mh_http_req_body(const struct mh_http_req *req, size_t *len)
{
    if (len)
        *len = mh_buf_len(&req->body);
    return mh_buf_str(&req->body);
}

struct mh_arena *mh_http_req_arena(struct mh_http_req *req)
{
    return req->arena;
}

struct each_ctx {
    void (*fn)(void *ctx, const char *name, const char *value);
    void *ctx;
};

static enum MHD_Result each_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct each_ctx *e = cls;
    e->fn(e->ctx, key, value ? value : "");
    return MHD_YES;
}

void mh_http_req_each_header(const struct mh_http_req *req,
                             void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct each_ctx e = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, each_header, &e);
}

void mh_http_req_each_query(const struct mh_http_req *req,
                            void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct each_ctx e = {fn, ctx};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, each_header, &e);
}

static void json_decref_void(void *p)
{
    json_decref(p);
}

json_t *mh_http_req_json_body(struct mh_http_req *req)
{
    const char *ct = mh_http_req_header(req, "Content-Type");
    /* curl's -d sends application/x-www-form-urlencoded: accepted too, as long as the body is
     * JSON, so the documented curl commands work with or without -H. */
    if (ct && strncasecmp(ct, "application/json", 16) != 0 &&
        strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        mh_http_respond_error(req, 415, "unsupported_media_type",
                              "the request body must be application/json", NULL);
        return NULL;
    }
    size_t len = 0;
    const char *body = mh_http_req_body(req, &len);
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        char msg[300];
        snprintf(msg, sizeof(msg), "invalid JSON at byte %d: %s", jerr.position, jerr.text);
        mh_http_respond_error(req, 400, "bad_json", msg, NULL);
        return NULL;
    }
    mh_arena_defer(req->arena, json_decref_void, v);
    if (!json_is_object(v)) {
        mh_http_respond_error(req, 422, "invalid", "the request body must be a JSON object", "");
        return NULL;
    }
    return v;
}

static void refuse_too_big(struct mh_http_req *req)
{
    req->is_too_big = true;
    char msg[128];
    snprintf(msg, sizeof(msg), "request body exceeds the limit of %ld bytes",
             req->srv->max_body_bytes);
    mh_http_set_header(req, "Connection", "close");
    mh_http_respond_error(req, 413, "too_big", msg, NULL);
}

/* After a handler (or its resumption) returns: a request neither answered nor parked is a bug,
 * answered 500 rather than left hanging. */
static void ensure_answered(struct mh_http_req *req)
{
    if (req->has_responded || (req->is_suspended && !req->is_deferred))
        return;
    mh_log_req(MH_LOG_ERROR, "http", req->id, "handler for %s %s did not respond", req->method,
               req->match.route ? req->match.route->pattern : req->path);
    mh_http_respond_error(req, 500, "internal", "internal error", NULL);
}

static void dispatch(struct mh_http_req *req)
{
    int st = mh_http__route(req->srv->routes, req->srv->nroutes, req->method, req->path, req->arena,
                            &req->match);
    if (st == 404) {
        /* The web app's files and client routes: only what no route claims, answered from
         * memory on this thread. */
        if (!req->srv->is_static_disabled && mh_http__static_serve(req))
            return;
        mh_http_respond_error(req, 404, "not_found", "no such route", NULL);
        return;
    }
    if (st == 405) {
        mh_http_set_header(req, "Allow", req->match.allow);
        mh_http_respond_error(req, 405, "method_not_allowed",
                              "this method is not allowed on this route", NULL);
        return;
    }
    if (!req->match.route->runs_inline) {
        /* Credentials are only judged on the handler's thread; their presence picks the lane. */
        bool has_credentials =
            mh_http_req_header(req, "Authorization") || mh_http_req_cookie(req, "mh_session");
        defer_to(req, req->match.route->handler,
                 has_credentials ? MH_HTTP__LANE_API : MH_HTTP__LANE_PUBLIC);
        return;
    }
    req->match.route->handler(req, req->srv->app);
    if (!req->is_handed_off)
        ensure_answered(req);
}

void mh_http_req_defer(struct mh_http_req *req, mh_http_handler_fn fn)
{
    defer_to(req, fn, MH_HTTP__LANE_DEFERRED);
}

/* Answers 503 when the request's lane of the handler pool is full. */
static void respond_busy(struct mh_http_req *req, void *app)
{
    (void)app;
    mh_http_set_header(req, "Retry-After", "1");
    mh_http_respond_error(req, 503, "busy",
                          "the server has too many requests of this kind waiting; retry later",
                          NULL);
}

static void defer_to(struct mh_http_req *req, mh_http_handler_fn fn, enum mh_http__lane lane)
{
    req->deferred_fn = fn;
    req->is_handed_off = true;
    mh_http_req_suspend(req, send_deferred, NULL);
    switch (mh_http__pool_submit(req->srv->pool, lane, run_deferred, req)) {
    case MH_HTTP__TAKEN: return;
    case MH_HTTP__FULL:
        /* Answered here at once, through the same deferred path (cheap: no waiting). */
        mh_log_req(MH_LOG_DEBUG, "http", req->id, "handler queue full (lane %d)", (int)lane);
        req->deferred_fn = respond_busy;
        run_deferred(req);
        return;
    case MH_HTTP__STOPPING:
        /* A pool that is stopping takes no more: the handler runs here, still deferred. */
        run_deferred(req);
        return;
    }
}

/* On a handler thread: runs the handler of a parked request, keeping its answer, then lets the
 * server's thread send it. */
static void run_deferred(void *arg)
{
    struct mh_http_req *req = arg;
    req->is_deferred = true;
    req->deferred_fn(req, req->srv->app);
    ensure_answered(req);
    req->is_deferred = false;
    mh_http_req_resume(req);
}

/* On the server's thread, once a request answered on the handler pool has been resumed. */
static void send_deferred(struct mh_http_req *req, void *ctx)
{
    (void)ctx;
    if (req->stream) {
        send_stream(req);
        return;
    }
    send_response(req, req->deferred.content_type, req->deferred.data, req->deferred.len, false);
}

void mh_http_req_suspend(struct mh_http_req *req, mh_http_resume_fn fn, void *ctx)
{
    MH_ASSERT(!req->has_responded && !req->is_suspended && !req->is_deferred);
    req->is_suspended = true;
    req->resume_fn = fn;
    req->resume_ctx = ctx;
    atomic_fetch_add(&req->srv->suspended, 1);
    MHD_suspend_connection(req->conn);
}

void mh_http_req_resume(struct mh_http_req *req)
{
    /* libmicrohttpd wakes the connection's thread, which calls on_request again. */
    MHD_resume_connection(req->conn);
}

/* On the server's thread, once a suspended request has been resumed. */
static void resumed(struct mh_http_req *req)
{
    req->is_suspended = false;
    atomic_fetch_sub(&req->srv->suspended, 1);
    req->resume_fn(req, req->resume_ctx);
    ensure_answered(req);
}

struct xff {
    struct mh_arena *arena;
    char *joined;
};

static enum MHD_Result collect_xff(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    struct xff *x = cls;
    if (value == NULL || strcasecmp(key, "X-Forwarded-For") != 0)
        return MHD_YES;
    size_t old = x->joined ? strlen(x->joined) : 0, add = strlen(value);
    char *j = mh_arena_alloc(x->arena, old + add + 2);
    if (old)
        memcpy(j, x->joined, old);
    j[old] = ',';
    memcpy(j + (old ? old + 1 : 0), value, add + 1);
    x->joined = j;
    return MHD_YES;
}

/* Behind a trusted proxy, the client is the address X-Forwarded-For names (proxy.c). */
static void forwarded_client(struct mh_http_req *req)
{
    if (req->srv->proxies == NULL || !mh_http__proxies_trust(req->srv->proxies, req->ip))
        return;
    struct xff x = {.arena = req->arena};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_xff, &x);
    (void)mh_http__proxies_client(req->srv->proxies, x.joined, req->ip, sizeof(req->ip));
}

static struct mh_http_req *req_create(struct mh_http_server *srv, struct MHD_Connection *conn,
                                      const char *method, const char *url)
{
    struct mh_arena *arena = mh_arena_create();
    struct mh_http_req *req = mh_arena_calloc(arena, sizeof(*req));
    req->arena = arena;
    req->srv = srv;
    req->conn = conn;
    req->method = mh_arena_strdup(arena, method);
    req->path = mh_arena_strdup(arena, url);
    req_id_take(conn, req->id);
    mh_buf_init(&req->body, (size_t)srv->max_body_bytes);
    clock_gettime(CLOCK_MONOTONIC, &req->started);
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, req->ip,
                      sizeof(req->ip));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, req->ip,
                      sizeof(req->ip));
    }
    forwarded_client(req);
    const union MHD_ConnectionInfo *sc =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->guard = sc ? sc->socket_context : NULL;
    mh_http__conn_set_busy(req->guard, true);
    return req;
}

/* A body must keep arriving at min_receive_bytes_per_s on average once body_grace_s have passed
 * since its headers: a client trickling a byte now and then, within the idle timeout, would
 * otherwise hold the connection for as long as it liked. */
static bool too_slow(struct mh_http_req *req, size_t n)
{
    struct mh_http_server *srv = req->srv;
    req->received += n;
    if (srv->min_receive_bytes_per_s <= 0)
        return false;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = (double)(now.tv_sec - req->started.tv_sec) +
                     (double)(now.tv_nsec - req->started.tv_nsec) / 1e9 - srv->body_grace_s;
    if (elapsed <= 0 || (double)req->received >= elapsed * (double)srv->min_receive_bytes_per_s)
        return false;
    mh_log_req(MH_LOG_INFO, "http", req->id, "closing a connection sending its body at %.0f B/s",
               (double)req->received / (elapsed + srv->body_grace_s));
    return true;
}

static enum MHD_Result admit(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct mh_http_server *srv = cls;
    return mh_http__conns_admit(srv->conns, addr) ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct mh_http_server *srv = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = mh_http__conns_open(srv->conns, ci ? ci->client_addr : NULL,
                                              fi ? (int)fi->connect_fd : -1);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        mh_http__conns_close(*socket_context);
        *socket_context = NULL;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct mh_http_server *srv = cls;
    struct mh_http_req *req = *con_cls;
    if (req == NULL) {
        req = req_create(srv, conn, method, url);
        *con_cls = req;
        atomic_fetch_add(&srv->inflight, 1);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > srv->max_body_bytes)
            refuse_too_big(req);
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* libmicrohttpd sends a response only once the body has been read, so a body that
         * passes the limit is counted and dropped until its end, then refused; one far past
         * the limit is cut off by closing the connection. */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (too_slow(req, n))
            return MHD_NO;
        if (req->is_too_big) {
            req->discarded += n;
            return req->discarded > 4 * (size_t)srv->max_body_bytes + (1u << 20) ? MHD_NO : MHD_YES;
        }
        if (mh_buf_append(&req->body, upload_data, n) != MH_OK) {
            req->is_too_big = true;
            req->discarded = n;
        }
        return MHD_YES;
    }
    if (req->is_suspended)
        resumed(req);
    else if (req->is_too_big)
        refuse_too_big(req);
    else if (!req->has_responded)
        dispatch(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    struct mh_http_server *srv = cls;
    struct mh_http_req *req = *con_cls;
    if (req == NULL)
        return;
    *con_cls = NULL;
    /* A resumed connection whose client has gone is ended without another call to on_request. */
    if (req->is_suspended) {
        req->is_suspended = false;
        atomic_fetch_sub(&srv->suspended, 1);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - req->started.tv_sec) * 1e3 +
                (double)(now.tv_nsec - req->started.tv_nsec) / 1e6;
    /* The path is logged without its query string, which may carry tokens, and a webhook's
     * public id (the only credential of an endpoint without verification) is cut short; a
     * callback URL's token (the capability of a wait_callback step) is not logged at all. */
    char path[512];
    if (strncmp(req->path, "/hooks/", 7) == 0)
        snprintf(path, sizeof(path), "/hooks/%.6s...", req->path + 7);
    else if (strncmp(req->path, "/callbacks/", 11) == 0)
        snprintf(path, sizeof(path), "/callbacks/...");
    else
        snprintf(path, sizeof(path), "%s", req->path);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        mh_metrics_http_request(req->match.route ? (int)(req->match.route - srv->routes) : -1,
                                req->status,
                                (int64_t)(now.tv_sec - req->started.tv_sec) * 1000000000 +
                                    (now.tv_nsec - req->started.tv_nsec));
        mh_log_req(MH_LOG_INFO, "http", req->id, "%s %s %d %.1fms", req->method, path, req->status,
                   ms);
    } else {
        mh_log_req(MH_LOG_INFO, "http", req->id, "%s %s aborted (%d) after %.1fms", req->method,
                   path, (int)toe, ms);
    }
    mh_http__conn_set_busy(req->guard, false);
    /* A stream whose client left before its answer was even queued is never attached: ended
     * here, so that its subscriber is dropped rather than left queueing. */
    mh_http_stream_close(req->stream);
    mh_http_stream_unref(req->stream);
    mh_buf_cleanup(&req->body);
    mh_arena_destroy(req->arena);
    atomic_fetch_sub(&srv->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    mh_log(MH_LOG_DEBUG, "mhd", "%s", msg);
}

enum mh_err mh_http_server_start(const struct mh_http_server_opts *opts,
                                 const struct mh_http_route *routes, size_t nroutes, void *app,
                                 struct mh_http_server **out, struct mh_err_info *info)
{
    struct mh_http_server *s = mh_xcalloc(1, sizeof(*s));
    s->routes = routes;
    s->nroutes = nroutes;
    s->is_static_disabled = opts->is_static_disabled;
    for (size_t i = 0; i < nroutes; i++)
        mh_metrics_http_route(i, routes[i].method, routes[i].pattern);
    s->app = app;
    s->max_body_bytes = opts->max_body_bytes;
    if (mh_http__proxies_parse(opts->trusted_proxies, &s->proxies, info) != MH_OK) {
        free(s);
        return MH_EINVAL;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opts->port)};
    if (inet_pton(AF_INET, opts->bind_address, &addr.sin_addr) != 1) {
        mh_http__proxies_destroy(s->proxies);
        free(s);
        return mh_err_set(info, MH_EINVAL, "config", -1, "bind_address '%s' is not an IPv4 address",
                          opts->bind_address);
    }
    if (mh_http__pool_create(opts->handler_threads > 0 ? opts->handler_threads : 1,
                             opts->handler_queue_max > 0 ? opts->handler_queue_max : 1024, &s->pool,
                             info) != MH_OK) {
        mh_http__proxies_destroy(s->proxies);
        free(s);
        return MH_EIO;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    s->min_receive_bytes_per_s = opts->min_receive_bytes_per_s;
    s->body_grace_s = opts->connection_timeout_s;
    s->streams = mh_http__streams_create(&s->suspended);
    s->conns =
        mh_http__conns_create(opts->max_connections_per_ip, opts->connection_timeout_s, s->proxies);
    s->daemon = MHD_start_daemon(
        flags, (uint16_t)opts->port, admit, s, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)opts->threads, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)opts->connection_timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_LIMIT, 10000u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)CONNECTION_MEMORY_BYTES, MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        mh_http__pool_destroy(s->pool);
        mh_http__streams_destroy(s->streams);
        mh_http__conns_destroy(s->conns);
        mh_http__proxies_destroy(s->proxies);
        free(s);
        return mh_err_set(info, MH_EIO, "listen", -1, "could not listen on %s:%d",
                          opts->bind_address, opts->port);
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : opts->port;
    s->quiesced_fd = MHD_INVALID_SOCKET;
    *out = s;
    return MH_OK;
}

int mh_http_server_port(const struct mh_http_server *s)
{
    return s->port;
}

int mh_http_server_drain(struct mh_http_server *s, int timeout_ms)
{
    if (s->quiesced_fd == MHD_INVALID_SOCKET) {
        s->quiesced_fd = MHD_quiesce_daemon(s->daemon);
        /* New connections are refused at once (Linux unhashes a listening socket on shutdown),
         * while the descriptor itself stays open, so that no new file can take its number. */
        if (s->quiesced_fd != MHD_INVALID_SOCKET)
            shutdown(s->quiesced_fd, SHUT_RDWR);
        /* Streams never finish on their own: they end once what they hold is sent, and their
         * clients reconnect (to another instance) from their last id. */
        mh_http__streams_close_all(s->streams);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int n = atomic_load(&s->inflight);
        if (n == 0)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
        if (elapsed >= timeout_ms)
            return n;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void mh_http_server_destroy(struct mh_http_server *s)
{
    if (s == NULL)
        return;
    /* The handler pool first: it finishes the requests it holds and resumes their connections
     * (those arriving later run on the server's threads). libmicrohttpd must not be stopped with a
     * connection suspended; each is resumed within a bounded time (mh_http_req_suspend), so wait
     * for them, whatever the drain's deadline. */
    mh_http__pool_stop(s->pool);
    mh_http__streams_close_all(s->streams);
    for (int waited_ms = 0; atomic_load(&s->suspended) > 0; waited_ms += 20) {
        if (waited_ms % 5000 == 0)
            mh_log(MH_LOG_WARN, "http", "waiting for %d suspended requests before stopping",
                   atomic_load(&s->suspended));
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
    mh_http__conns_stop(s->conns);
    MHD_stop_daemon(s->daemon);
    if (s->quiesced_fd != MHD_INVALID_SOCKET)
        close(s->quiesced_fd);
    mh_http__pool_destroy(s->pool);
    mh_http__conns_destroy(s->conns);
    mh_http__streams_destroy(s->streams);
    mh_http__proxies_destroy(s->proxies);
    free(s);
}
