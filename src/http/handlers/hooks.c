/* SPDX-License-Identifier: MIT */
/*
 * POST /hooks/:public_id (and any other method the endpoint allows): the webhook intake's HTTP
 * side. It only gathers the request — method, headers, the raw body exactly as received — and
 * hands it to src/intake, which judges, records and decides the answer; nothing here looks at
 * a signature or logs a header. The route is first in the table: it is the hot path.
 */
#include <stdio.h>

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

void mh_h_hook(struct mh_http_req *req, void *app_)
{
    struct mh_app *app = app_;
    struct mh_intake_result res;
    if (app->intake == NULL) {
        mh_http_set_header(req, "Retry-After", "5");
        mh_http_respond_error(req, 503, "unavailable", "webhook intake is not running", NULL);
        return;
    }
    struct header_list hl = {
        .items = mh_arena_alloc(mh_http_req_arena(req), HOOK_MAX_HEADERS * sizeof(*hl.items)),
    };
    mh_http_req_each_header(req, collect, &hl);
    size_t len = 0;
    const char *body = mh_http_req_body(req, &len);
    /* Repeated names keep the last value, as the node context's query is an object. */
    json_t *query = json_object();
    mh_http_req_each_query(req, collect_query, query);
    struct mh_intake_request rq = {
        .public_id = mh_http_req_param(req, "public_id"),
        .method = mh_http_req_method(req),
        .headers = hl.items,
        .nheaders = hl.n,
        .body = body,
        .body_len = len,
        .query = query,
        .request_id = mh_http_req_id(req),
    };
    mh_intake_receive(app->intake, &rq, &res);
    json_decref(query);
    if (res.retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", res.retry_after_s);
        mh_http_set_header(req, "Retry-After", ra);
    }
    if (res.allow[0])
        mh_http_set_header(req, "Allow", res.allow);
    if (res.status == 413)
        mh_http_set_header(req, "Connection", "close");
    mh_http_respond_json(req, res.status, res.body);
    res.body = NULL;
    mh_intake_result_cleanup(&res);
}
