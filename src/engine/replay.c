/* SPDX-License-Identifier: MIT */
/*
 * Replay (`meshhook replay`, docs/architecture.md §5): verifies the hash chain, re-folds the log
 * event by event, and before applying each recorded pure decision recomputes it from the state the
 * events before it describe: transform, branch and terminate outputs, JMESPath failures, and the
 * request (and idempotency key) each http_call was started with; a request recorded before requests
 * recorded their secret placeholders is checked against the rendering of that time. Outside inputs
 * (the trigger, HTTP responses, clock readings, jitter draws) are taken as recorded, so a faithful
 * log reproduces every recomputed value byte for byte; anything else is reported with both values.
 */
#include "engine/engine_internal.h"

#include <string.h>

#include "core/mem.h"

struct replay {
    const struct mh_wf *wf;
    struct mh_run_state *st;
    json_t *divergences;
};

static void diverge(struct replay *r, const struct mh_event *ev, const char *field,
                    json_t *recorded, json_t *recomputed);
static void check_pure(struct replay *r, const struct mh_event *ev, size_t idx);
static void check_http_start(struct replay *r, const struct mh_event *ev, size_t idx);
static bool same_json_body(const struct mh_wf_node *n, json_t *recorded, json_t *rebuilt);

/* Adds a divergence; borrows both values (NULL reads as JSON null). */
static void diverge(struct replay *r, const struct mh_event *ev, const char *field,
                    json_t *recorded, json_t *recomputed)
{
    json_array_append_new(r->divergences,
                          json_pack("{s:I,s:s,s:s,s:O,s:O}", "seq", (json_int_t)ev->seq, "node",
                                    ev->node_id, "field", field, "recorded",
                                    recorded ? recorded : json_null(), "recomputed",
                                    recomputed ? recomputed : json_null()));
}

static void check_pure(struct replay *r, const struct mh_event *ev, size_t idx)
{
    const struct mh_wf_node *n = &r->wf->nodes[idx];
    bool succeeded = strcmp(ev->type, MH_EV_STEP_SUCCEEDED) == 0;
    json_t *recorded_err = json_object_get(ev->payload, "error");
    const char *err_kind = json_string_value(json_object_get(recorded_err, "kind"));
    /* Only JMESPath failures are recomputable; a "limit" failure depends on sizes alone. */
    if (!succeeded && (err_kind == NULL || strcmp(err_kind, "jmespath") != 0))
        return;
    json_t *ctx = mh_engine__context(r->st, idx), *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_engine__eval_pure(n, ctx, &out, &info);
    if (succeeded) {
        json_t *recorded = json_object_get(ev->payload, "output");
        if (rc != MH_OK) {
            json_t *e = json_pack("{s:o}", "error", mh_engine__jstring(info.message));
            diverge(r, ev, "output", recorded, e);
            json_decref(e);
        } else if (!mh_engine__json_same(recorded, out)) {
            diverge(r, ev, "output", recorded, out);
        } else if (n->kind == MH_NODE_BRANCH) {
            json_t *port = json_object_get(ev->payload, "port");
            json_t *want = json_string(json_is_true(out) ? "true" : "false");
            if (!mh_engine__json_same(port, want))
                diverge(r, ev, "port", port, want);
            json_decref(want);
        }
    } else {
        const char *msg = json_string_value(json_object_get(recorded_err, "message"));
        if (rc == MH_OK) {
            json_t *o = json_pack("{s:O}", "output", out);
            diverge(r, ev, "error", recorded_err, o);
            json_decref(o);
        } else if (msg == NULL || strcmp(msg, info.message) != 0) {
            json_t *e = json_pack("{s:o}", "message", mh_engine__jstring(info.message));
            diverge(r, ev, "error", recorded_err, e);
            json_decref(e);
        }
    }
    json_decref(out);
    json_decref(ctx);
}

/*
 * A body built by a JMESPath expression is JSON text: two requests that differ only in the key
 * order of that text carry the same document. Since the run state keeps every step output in one
 * key order (mh_engine__json_state_ordered), a body is rebuilt byte for byte; logs recorded
 * before that, with an object's keys in the order it was built in, are compared as JSON here.
 */
static bool same_json_body(const struct mh_wf_node *n, json_t *recorded, json_t *rebuilt)
{
    json_t *rb = json_object_get(recorded, "body"), *nb = json_object_get(rebuilt, "body");
    if (n->body_tpl != NULL || n->expr == NULL || !json_is_string(rb) || !json_is_string(nb))
        return false;
    bool same = false;
    json_t *a = json_deep_copy(recorded), *b = json_deep_copy(rebuilt);
    json_t *ra = json_loadb(json_string_value(rb), json_string_length(rb), JSON_DECODE_ANY, NULL);
    json_t *rn = json_loadb(json_string_value(nb), json_string_length(nb), JSON_DECODE_ANY, NULL);
    if (a && b && ra && rn) {
        json_object_set_new(a, "body", ra);
        json_object_set_new(b, "body", rn);
        ra = rn = NULL;
        same = mh_engine__json_same(a, b);
    }
    json_decref(ra);
    json_decref(rn);
    json_decref(a);
    json_decref(b);
    return same;
}

static void check_http_start(struct replay *r, const struct mh_event *ev, size_t idx)
{
    const struct mh_wf_node *n = &r->wf->nodes[idx];
    char key[MH_ENGINE_IDEM_KEY_LEN + 1];
    json_t *ctx = NULL, *req = NULL, *jkey = NULL;
    json_t *rec_key = json_object_get(ev->payload, "idempotency_key");
    if (mh_engine__idem_key(r->st->run_id, n->id, 1, key) != MH_OK)
        return;
    jkey = json_string(key);
    if (!mh_engine__json_same(rec_key, jkey))
        diverge(r, ev, "idempotency_key", rec_key, jkey);
    ctx = mh_engine__context(r->st, idx);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *recorded = json_object_get(ev->payload, "request");
    enum mh_err rc = mh_engine__build_request(n, ctx, key, false, &req, &info);
    if (rc == MH_OK && mh_engine__json_same(recorded, req))
        goto out;
    /* A request recorded before requests recorded their placeholders was rendered the old way
     * (url values unencoded): it is faithful when the old rendering reproduces it. */
    if (json_object_get(recorded, "placeholders") == NULL) {
        json_t *old = NULL;
        struct mh_err_info oinfo = MH_ERR_INFO_INIT;
        bool same = mh_engine__build_request(n, ctx, key, true, &old, &oinfo) == MH_OK &&
                    mh_engine__json_same(recorded, old);
        json_decref(old);
        if (same)
            goto out;
    }
    if (rc != MH_OK) {
        json_t *e = json_pack("{s:o}", "error", mh_engine__jstring(info.message));
        diverge(r, ev, "request", recorded, e);
        json_decref(e);
    } else if (!same_json_body(n, recorded, req)) {
        diverge(r, ev, "request", recorded, req);
    }
out:
    json_decref(req);
    json_decref(ctx);
    json_decref(jkey);
}

enum mh_err mh_engine_replay(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                             json_t **report)
{
    struct replay r = {.wf = wf, .divergences = json_array()};
    json_t *breaks = NULL, *errors = json_array();
    *report = NULL;
    enum mh_err rc = mh_engine_chain_verify(events, n, &breaks);
    if (rc != MH_OK)
        goto out;
    rc = mh_engine__state_create(wf, &r.st);
    if (rc != MH_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        const struct mh_event *ev = &events[i];
        long idx = ev->node_id[0] ? mh_engine__node_index(wf, ev->node_id) : -1;
        if (idx >= 0 && !mh_engine__run_finished(r.st)) {
            enum mh_node_kind kind = wf->nodes[idx].kind;
            bool pure =
                kind == MH_NODE_TRANSFORM || kind == MH_NODE_BRANCH || kind == MH_NODE_TERMINATE;
            if (pure && (strcmp(ev->type, MH_EV_STEP_SUCCEEDED) == 0 ||
                         strcmp(ev->type, MH_EV_STEP_FAILED) == 0))
                check_pure(&r, ev, (size_t)idx);
            else if (kind == MH_NODE_HTTP_CALL && ev->attempt == 1 &&
                     strcmp(ev->type, MH_EV_STEP_STARTED) == 0)
                check_http_start(&r, ev, (size_t)idx);
        }
        struct mh_err_info info = MH_ERR_INFO_INIT;
        bool ignored;
        if (mh_engine__state_apply(r.st, ev, &ignored, &info) != MH_OK) {
            json_array_append_new(errors, json_pack("{s:I,s:o}", "seq", (json_int_t)ev->seq,
                                                    "message", mh_engine__jstring(info.message)));
            break;
        }
    }
    bool ok = json_array_size(breaks) == 0 && json_array_size(r.divergences) == 0 &&
              json_array_size(errors) == 0;
    *report = json_pack("{s:b,s:I,s:O,s:O,s:O}", "ok", ok, "events", (json_int_t)n, "chain_breaks",
                        breaks, "divergences", r.divergences, "errors", errors);
out:
    mh_engine_state_destroy(r.st);
    json_decref(breaks);
    json_decref(errors);
    json_decref(r.divergences);
    return rc;
}
