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

void mh_engine__replay_diverge(struct mh_replay *r, const struct mh_event *ev, const char *field,
                               json_t *recorded, json_t *recomputed)
{
    json_array_append_new(r->divergences,
                          json_pack("{s:I,s:s,s:s,s:O,s:O}", "seq", (json_int_t)ev->seq, "node",
                                    ev->node_id, "field", field, "recorded",
                                    recorded ? recorded : json_null(), "recomputed",
                                    recomputed ? recomputed : json_null()));
}

void mh_engine__replay_failure(struct mh_replay *r, const struct mh_event *ev, const char *ok_key,
                               json_t *ok_value, const char *message)
{
    json_t *recorded = json_object_get(ev->payload, "error");
    const char *msg = json_string_value(json_object_get(recorded, "message"));
    json_t *now = NULL;
    if (ok_value != NULL)
        now = json_pack("{s:O}", ok_key, ok_value);
    else if (msg == NULL || strcmp(msg, message) != 0)
        now = json_pack("{s:o}", "message", mh_engine__jstring(message));
    if (now != NULL)
        mh_engine__replay_diverge(r, ev, "error", recorded, now);
    json_decref(now);
}

void mh_engine__replay_pure(struct mh_replay *r, const struct mh_event *ev, size_t idx)
{
    const struct mh_wf_node *n = &r->wf->nodes[idx];
    bool succeeded = strcmp(ev->type, MH_EV_STEP_SUCCEEDED) == 0;
    if (!succeeded && strcmp(ev->type, MH_EV_STEP_FAILED) != 0)
        return;
    json_t *recorded_err = json_object_get(ev->payload, "error");
    const char *err_kind = json_string_value(json_object_get(recorded_err, "kind"));
    /* Only failures of the evaluation are recomputable (JMESPath, and a value a type checks:
     * a respond node's status or header); a "limit" failure depends on sizes alone. */
    if (!succeeded && (err_kind == NULL || (strcmp(err_kind, "jmespath") != 0 &&
                                            strcmp(err_kind, "invalid_value") != 0 &&
                                            strcmp(err_kind, "template") != 0)))
        return;
    json_t *ctx = mh_engine__context(r->st, idx), *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = n->type->eval(n, ctx, &out, &info);
    if (succeeded) {
        json_t *recorded = json_object_get(ev->payload, "output");
        if (rc != MH_OK) {
            json_t *e = json_pack("{s:o}", "error", mh_engine__jstring(info.message));
            mh_engine__replay_diverge(r, ev, "output", recorded, e);
            json_decref(e);
        } else if (!mh_engine__json_same(recorded, out)) {
            mh_engine__replay_diverge(r, ev, "output", recorded, out);
        } else if (n->type->out == MH_NODE_OUT_PORTS) {
            json_t *port = json_object_get(ev->payload, "port");
            json_t *want = json_string(json_is_true(out) ? "true" : "false");
            if (!mh_engine__json_same(port, want))
                mh_engine__replay_diverge(r, ev, "port", port, want);
            json_decref(want);
        }
    } else {
        mh_engine__replay_failure(r, ev, "output", rc == MH_OK ? out : NULL, info.message);
    }
    json_decref(out);
    json_decref(ctx);
}

enum mh_err mh_engine_replay(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                             json_t **report)
{
    struct mh_replay r = {.wf = wf, .divergences = json_array()};
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
        struct mh_run_state *where = NULL;
        long idx = ev->node_id[0] ? mh_engine__resolve(r.st, ev->node_id, &where) : -1;
        if (idx >= 0 && !mh_engine__run_finished(r.st)) {
            /* A body step is checked in its item's state, against the body's node. */
            struct mh_replay in = {.wf = where->wf, .st = where, .divergences = r.divergences};
            where->wf->nodes[idx].type->replay(&in, ev, (size_t)idx);
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
