/* SPDX-License-Identifier: MIT */
/*
 * POST /hooks/:public_id (and any other method the endpoint allows): the webhook intake's HTTP
 * side. It only gathers the request — method, headers, the raw body exactly as received — and
 * hands it to src/intake, which judges, records and decides the answer; nothing here looks at
 * a signature or logs a header. The route is first in the table: it is the hot path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "http/app.h"
#include "http/handlers/handlers.h"
#include "intake/intake.h"

/* More headers than this are not looked at (the server's connection memory limit bounds them
 * long before). */
#define HOOK_MAX_HEADERS 128

struct header_list {
    struct mh_intake_header *items;
    size_t n;
};

static void collect(void *ctx, const char *name, const char *value);
static void hook_may_wait(struct mh_http_req *req, void *app);
static void receive(struct mh_http_req *req, struct mh_app *app, bool is_server_thread);

static void collect(void *ctx, const char *name, const char *value)
{
    struct header_list *l = ctx;
    if (l->n < HOOK_MAX_HEADERS)
        l->items[l->n++] = (struct mh_intake_header){name, value};
}

static void collect_query(void *ctx, const char *name, const char *value)
{
    json_object_set_new(ctx, name, json_string(value ? value : ""));
}

/* One webhook request in flight; in the request's arena, so it lives until the answer is sent. */
struct hook_call {
    struct mh_http_req *req;
    struct mh_intake_request rq;
    struct mh_intake_result res;
    struct mh_intake_waiter waiter;
};

static void answer(struct mh_http_req *req, struct mh_intake_result *res)
{
    if (res->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", res->retry_after_s);
        mh_http_set_header(req, "Retry-After", ra);
    }
    if (res->allow[0])
        mh_http_set_header(req, "Allow", res->allow);
    if (res->status == 413)
        mh_http_set_header(req, "Connection", "close");
    if (res->response) {
        /* A respond step's answer (docs/webhooks.md): its headers (checked at save), its body,
         * and the run's id for whoever needs to follow it. */
        const char *name, *ct = NULL;
        char *bytes = NULL;
        size_t len = 0;
        json_t *v;
        json_object_foreach(json_object_get(res->response, "headers"), name, v)
        {
            if (strcasecmp(name, "content-type") != 0)
                mh_http_set_header(req, name, json_string_value(v));
        }
        mh_http_set_header(req, "X-MeshHook-Run-Id", res->run_id);
        mh_intake_response_render(res->response, &ct, &bytes, &len);
        mh_http_respond_raw(req, res->status, ct, bytes ? bytes : "", len);
        free(bytes);
        mh_intake_result_cleanup(res);
        return;
    }
    mh_http_respond_json(req, res->status, res->body);
    res->body = NULL;
    mh_intake_result_cleanup(res);
}

static void on_resumed(struct mh_http_req *req, void *ctx)
{
    struct hook_call *call = ctx;
    answer(req, &call->res);
}

/* With the request's arena: also when the sender hung up while the delivery was committed, and
 * the server ends the request without resuming it. */
static void hook_call_release(void *ctx)
{
    struct hook_call *call = ctx;
    json_decref(call->rq.query);
    mh_intake_result_cleanup(&call->res);
}

/* The delivery waits for its group commit: the connection is parked rather than a thread. */
static void on_suspend(void *ctx)
{
    struct hook_call *call = ctx;
    mh_http_req_suspend(call->req, on_resumed, call);
}

/* On a committer thread: the answer is ready; the server's thread sends it (on_resumed). */
static void on_done(void *ctx)
{
    struct hook_call *call = ctx;
    mh_http_req_resume(call->req);
}

void mh_h_hook(struct mh_http_req *req, void *app_)
{
    struct mh_app *app = app_;
    if (app->intake == NULL) {
        mh_http_set_header(req, "Retry-After", "5");
        mh_http_respond_error(req, 503, "unavailable", "webhook intake is not running", NULL);
        return;
    }
    receive(req, app, true);
}

/* On a handler thread: a delivery the server's thread could not decide without the database
 * (its endpoint not cached, or a refusal to confirm on a fresh copy) is received again here,
 * where waiting is allowed; this thread also waits for the commit. Few requests get here. */
static void hook_may_wait(struct mh_http_req *req, void *app)
{
    receive(req, app, false);
}

/* Hands the request to the intake. On the server's thread (`is_server_thread`), nothing may
 * wait on the database: a delivery waiting for its group commit parks the connection, and one
 * that needs the database first goes to the handler pool (hook_may_wait). So a scan of made-up
 * ids, or a slow database, queues there, not in front of the thread's other connections. */
static void receive(struct mh_http_req *req, struct mh_app *app, bool is_server_thread)
{
    struct mh_arena *arena = mh_http_req_arena(req);
    struct hook_call *call = mh_arena_calloc(arena, sizeof(*call));
    struct header_list hl = {
        .items = mh_arena_alloc(arena, HOOK_MAX_HEADERS * sizeof(*hl.items)),
    };
    mh_http_req_each_header(req, collect, &hl);
    size_t len = 0;
    const char *body = mh_http_req_body(req, &len);
    /* Repeated names keep the last value, as the node context's query is an object. */
    json_t *query = json_object();
    mh_http_req_each_query(req, collect_query, query);
    mh_arena_defer(arena, hook_call_release, call);
    call->req = req;
    call->rq = (struct mh_intake_request){
        .public_id = mh_http_req_param(req, "public_id"),
        .method = mh_http_req_method(req),
        .headers = hl.items,
        .nheaders = hl.n,
        .body = body,
        .body_len = len,
        .query = query,
        .request_id = mh_http_req_id(req),
        .is_nonblocking = is_server_thread,
    };
    if (!is_server_thread) {
        mh_intake_receive(app->intake, &call->rq, &call->res);
        answer(req, &call->res);
        return;
    }
    call->waiter = (struct mh_intake_waiter){.suspend = on_suspend, .done = on_done, .ctx = call};
    if (!mh_intake_receive_async(app->intake, &call->rq, &call->res, &call->waiter))
        return; /* answered by on_resumed */
    if (call->res.must_wait) {
        mh_http_req_defer(req, hook_may_wait);
        return;
    }
    answer(req, &call->res);
}
