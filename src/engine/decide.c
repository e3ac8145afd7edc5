/* SPDX-License-Identifier: MIT */
/*
 * The decision function: given a workflow version, a run's events and the caller's inputs (clock
 * reading, random source, outside reports), it decides what happens next and records every
 * decision as an event before the caller acts on it. Pure steps (transform, branch, terminate,
 * dead-path skips, due timers) are evaluated in topological order, pass after pass, until only
 * outside work remains, so a chain of pure nodes completes in one call. Each new event is
 * applied to the state through the same fold that reads the log back, so what advance decides
 * and what a later fold reconstructs cannot drift apart. This file holds what is common to
 * every step (readiness, dead-path skips, recording outcomes, the run's end); what a step of a
 * given node type does is that type's start and resume operations (nodes/<type>.c).
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/httpdate.h"
#include "core/mem.h"

enum readiness { NOT_READY, READY_RUN, READY_SKIP };

static enum readiness readiness(const struct mh_advance *a, size_t i);
static enum mh_err finish_if_done(struct mh_advance *a);
static enum mh_err apply_reports(struct mh_advance *a);
static bool output_fits(json_t *v);
static void fill_wake(struct mh_run_state *st, const struct mh_engine_input *in,
                      struct mh_engine_result *res);
static int64_t next_wake(const struct mh_run_state *st);
static void step_id(const struct mh_advance *a, long node, char *out, size_t cap);
static enum mh_err emit_id(struct mh_advance *a, const char *type, const char *id, int attempt,
                           json_t *payload);
static enum mh_err advance(const struct mh_wf *wf, const struct mh_event *events, size_t n_events,
                           const struct mh_engine_input *in, bool is_body_partial,
                           struct mh_engine_result *out, struct mh_err_info *info);

/* ---- Small helpers ------------------------------------------------------------------------ */

json_t *mh_engine__error_obj(const char *kind, const char *message)
{
    return json_pack("{s:s,s:o}", "kind", kind, "message", mh_engine__jstring(message));
}

static bool output_fits(json_t *v)
{
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    bool ok = mh_engine_canonical_json(v, &b) == MH_OK;
    mh_buf_cleanup(&b);
    return ok;
}

/* ---- Emitting events and actions ---------------------------------------------------------- */

/* The step id of node `node` in the state `a` moves on: the node's id, prefixed in an item. */
static void step_id(const struct mh_advance *a, long node, char *out, size_t cap)
{
    if (node < 0)
        snprintf(out, cap, "%s", "");
    else
        snprintf(out, cap, "%s%s", a->st->scope, a->wf->nodes[node].id);
}

static enum mh_err emit_id(struct mh_advance *a, const char *type, const char *id, int attempt,
                           json_t *payload)
{
    struct mh_run_state *st = a->st;
    struct mh_event ev;
    bool ignored = false;
    enum mh_err rc = mh_engine_event_init(&ev, 0, type, id, attempt, payload, a->now, NULL);
    json_decref(payload);
    if (rc != MH_OK)
        return rc;
    rc = mh_engine_event_seal(&ev, st->last_seq + 1, st->last_seq ? st->last_hash : NULL);
    if (rc != MH_OK)
        goto fail;
    rc = mh_engine__state_apply(st, &ev, &ignored, a->info);
    if (rc != MH_OK)
        goto fail;
    if (a->res->n_events == a->cap_events) {
        a->cap_events = a->cap_events ? a->cap_events * 2 : 8;
        a->res->events = mh_xrealloc(a->res->events, a->cap_events * sizeof(*a->res->events));
    }
    a->res->events[a->res->n_events++] = ev;
    return MH_OK;
fail:
    mh_engine_event_cleanup(&ev);
    return rc;
}

enum mh_err mh_engine__emit(struct mh_advance *a, const char *type, long node, int attempt,
                            json_t *payload)
{
    /* The run's own steps are named by their node ids as they are (the hot path). */
    if (a->parent == NULL)
        return emit_id(a, type, node >= 0 ? a->wf->nodes[node].id : "", attempt, payload);
    char id[MH_ENGINE_STEP_ID_MAX + 1];
    step_id(a, node, id, sizeof(id));
    /* An item's events go to the run's log (the root advance), named by the item's step ids. */
    while (a->parent != NULL)
        a = a->parent;
    return emit_id(a, type, id, attempt, payload);
}

struct mh_engine_action *mh_engine__add_action(struct mh_advance *a,
                                               enum mh_engine_action_kind kind, long node)
{
    char id[MH_ENGINE_STEP_ID_MAX + 1];
    step_id(a, node, id, sizeof(id));
    while (a->parent != NULL)
        a = a->parent;
    struct mh_engine_result *r = a->res;
    if (r->n_actions == a->cap_actions) {
        a->cap_actions = a->cap_actions ? a->cap_actions * 2 : 4;
        r->actions = mh_xrealloc(r->actions, a->cap_actions * sizeof(*r->actions));
    }
    struct mh_engine_action *act = &r->actions[r->n_actions++];
    memset(act, 0, sizeof(*act));
    act->kind = kind;
    snprintf(act->node_id, sizeof(act->node_id), "%s", id);
    return act;
}

/* ---- Step decisions ----------------------------------------------------------------------- */

static enum readiness readiness(const struct mh_advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    bool live = n->n_in == 0;
    for (size_t k = 0; k < n->n_in; k++) {
        const struct mh_wf_edge *e = &a->wf->edges[n->in[k]];
        const struct mh_step_state *from = &a->st->steps[e->from];
        switch (from->status) {
        case MH_STEP_SUCCEEDED:
            /* A step that succeeded never takes its error edge (port MH_PORT_ERROR). */
            if (e->port == MH_PORT_NONE || e->port == from->port)
                live = true;
            break;
        case MH_STEP_FAILED:
            /* A failed step takes its error edge, or, continued, its normal edges; an edge not
             * taken is like a branch's untaken port (dead-path elimination). A failure with
             * neither ended the run before this is asked. */
            if (e->port == MH_PORT_ERROR || (from->continued && e->port == MH_PORT_NONE))
                live = true;
            break;
        case MH_STEP_SKIPPED: break;
        default: return NOT_READY;
        }
    }
    return live ? READY_RUN : READY_SKIP;
}

enum mh_err mh_engine__fail_step(struct mh_advance *a, size_t i, int attempt, json_t *error,
                                 bool retryable)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    /* A failure with somewhere to go (docs/workflows.md, "Error paths") is recorded as handled
     * and the run goes on; only a failure with nowhere to go fails the run. */
    const char *handled = n->has_error_edge      ? "error_edge"
                          : n->on_error_continue ? "continue"
                                                 : NULL;
    json_t *payload =
        json_pack("{s:O,s:b,s:i}", "error", error, "retryable", retryable, "attempts", attempt);
    if (handled != NULL)
        json_object_set_new(payload, "handled", json_string(handled));
    enum mh_err rc = mh_engine__emit(a, MH_EV_STEP_FAILED, (long)i, attempt, payload);
    /* In an item's advance (for_each), only the step fails: the for_each sees its item failed
     * and fails in turn, where its own error edge or on_error applies. */
    if (rc == MH_OK && handled == NULL && a->parent == NULL) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        char buf[400];
        snprintf(buf, sizeof(buf), "step %s failed: %s", n->id, msg ? msg : "error");
        json_t *run_err = json_pack("{s:s,s:s,s:o,s:O}", "kind", "step_failed", "node", n->id,
                                    "message", mh_engine__jstring(buf), "step_error", error);
        rc = mh_engine__emit(a, MH_EV_RUN_FAILED, -1, 0, json_pack("{s:o}", "error", run_err));
    }
    json_decref(error);
    return rc;
}

enum mh_err mh_engine__succeed_step(struct mh_advance *a, size_t i, int attempt, json_t *output,
                                    json_t *extra)
{
    if (!output_fits(output)) {
        json_decref(output);
        json_decref(extra);
        char msg[128];
        snprintf(msg, sizeof(msg), "the step output exceeds %u bytes", MH_ENGINE_MAX_OUTPUT_BYTES);
        return mh_engine__fail_step(a, i, attempt, mh_engine__error_obj("limit", msg), false);
    }
    json_t *p = extra ? extra : json_object();
    json_object_set_new(p, "output", output);
    return mh_engine__emit(a, MH_EV_STEP_SUCCEEDED, (long)i, attempt, p);
}

void mh_engine__add_timer(struct mh_advance *a, size_t i, int attempt, int64_t fire_at_ms)
{
    struct mh_engine_action *act = mh_engine__add_action(a, MH_ACTION_TIMER, (long)i);
    act->attempt = attempt;
    act->fire_at_ms = fire_at_ms;
}

enum mh_err mh_engine__start_pure(struct mh_advance *a, size_t i, json_t **kept)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    struct mh_err_info jinfo = MH_ERR_INFO_INIT;
    json_t *out = NULL, *extra = NULL;
    json_t *ctx = mh_engine__context(a->st, i);
    enum mh_err rc = n->type->eval(n, ctx, &out, &jinfo);
    json_decref(ctx);
    if (kept != NULL)
        *kept = NULL;
    if (rc != MH_OK) {
        /* A JMESPath failure names its JMESPath kind; a type's own check of a value (a respond
         * node's status) names its kind ("invalid_value", "template") itself. */
        bool is_jp = rc == MH_EJMESPATH || jinfo.kind[0] == '\0';
        json_t *err = mh_engine__error_obj(is_jp ? "jmespath" : jinfo.kind, jinfo.message);
        if (is_jp && jinfo.kind[0])
            json_object_set_new(err, "jmespath_kind", json_string(jinfo.kind));
        return mh_engine__fail_step(a, i, 1, err, false);
    }
    /* A type with ports takes the one its (boolean) outcome names. */
    if (n->type->out == MH_NODE_OUT_PORTS)
        extra = json_pack("{s:s}", "port", json_is_true(out) ? "true" : "false");
    if (kept != NULL)
        *kept = json_incref(out);
    rc = mh_engine__succeed_step(a, i, 1, out, extra);
    if (kept != NULL && (rc != MH_OK || a->st->steps[i].status != MH_STEP_SUCCEEDED)) {
        json_decref(*kept);
        *kept = NULL;
    }
    return rc;
}

enum mh_err mh_engine__node_start_pure(struct mh_advance *a, size_t i)
{
    return mh_engine__start_pure(a, i, NULL);
}

static enum mh_err finish_if_done(struct mh_advance *a)
{
    const struct mh_wf *wf = a->wf;
    json_t *output = NULL;
    /* A failed step here is one whose failure was handled (an unhandled one ended the run). */
    for (size_t i = 0; i < wf->n_nodes; i++) {
        enum mh_step_status s = a->st->steps[i].status;
        if (s != MH_STEP_SUCCEEDED && s != MH_STEP_SKIPPED && s != MH_STEP_FAILED)
            return MH_OK;
    }
    /* Without a terminate node the output is that of every sink (a node without outgoing
     * edges) that ran, by node id: it does not depend on which finished last. */
    output = json_object();
    for (size_t i = 0; i < wf->n_nodes; i++)
        if (wf->nodes[i].n_out == 0 && a->st->steps[i].status == MH_STEP_SUCCEEDED)
            json_object_set(output, wf->nodes[i].id, a->st->steps[i].output);
    return mh_engine__emit(a, MH_EV_RUN_SUCCEEDED, -1, 0, json_pack("{s:o}", "output", output));
}

static enum mh_err apply_reports(struct mh_advance *a)
{
    enum mh_err rc = MH_OK;
    for (size_t r = 0; r < a->in->n_reports; r++) {
        const struct mh_event *rep = &a->in->reports[r];
        if (strcmp(rep->type, MH_EV_HTTP_ATTEMPT) != 0 &&
            strcmp(rep->type, MH_EV_RUN_CANCELED) != 0 &&
            strcmp(rep->type, MH_EV_STEP_PARKED) != 0 &&
            strcmp(rep->type, MH_EV_CALLBACK_RECEIVED) != 0 &&
            strcmp(rep->type, MH_EV_CHILD_FINISHED) != 0)
            return mh_err_set(a->info, MH_EINVAL, "input", -1,
                              "a report is an http_attempt, a child_finished, a step_parked, a "
                              "callback_received or a run_canceled, not %s",
                              rep->type);
        if (rep->node_id[0]) {
            struct mh_run_state *where = NULL;
            if (mh_engine__resolve(a->st, rep->node_id, &where) < 0) {
                a->res->n_ignored++;
                continue;
            }
        }
        if (!mh_engine__report_applies(a->st, rep)) {
            a->res->n_ignored++;
            continue;
        }
        /* emit_id() stamps the event with the caller's clock reading, like every event it
         * appends; the payload is shared, not copied (response bodies can be large). */
        rc = emit_id(a, rep->type, rep->node_id, rep->attempt,
                     rep->payload ? json_incref(rep->payload) : json_object());
        if (rc != MH_OK)
            return rc;
    }
    return MH_OK;
}

/* The earliest timer, retry or parked attempt of `st`'s steps and its items' (0: none). */
static int64_t next_wake(const struct mh_run_state *st)
{
    int64_t next = 0;
    for (size_t i = 0; i < st->wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        bool waiting = (s->status == MH_STEP_WAITING_TIMER && !s->timer_fired) ||
                       s->status == MH_STEP_WAITING_RETRY || s->status == MH_STEP_WAITING_BREAKER;
        if (waiting && (next == 0 || s->fire_at < next))
            next = s->fire_at;
        for (size_t k = 0; s->status == MH_STEP_RUNNING && k < s->n_items; k++) {
            int64_t w = next_wake(s->items[k]);
            if (w != 0 && (next == 0 || w < next))
                next = w;
        }
    }
    return next;
}

static void fill_wake(struct mh_run_state *st, const struct mh_engine_input *in,
                      struct mh_engine_result *res)
{
    res->status = st->status;
    res->next_wake_ms = 0;
    res->deadline_ms = 0;
    if (mh_engine__run_finished(st))
        return;
    res->next_wake_ms = next_wake(st);
    if (in != NULL && in->run_timeout_ms > 0)
        res->deadline_ms = st->started_at + in->run_timeout_ms;
}

enum mh_err mh_engine__advance_steps(struct mh_advance *a, bool *progress)
{
    const struct mh_wf *wf = a->wf;
    /* The run's state: an item's steps stop with the run too. */
    const struct mh_run_state *run = a->st;
    while (run->parent != NULL)
        run = run->parent;
    for (size_t k = 0; k < wf->n_nodes && !mh_engine__run_finished(run); k++) {
        enum mh_err rc = MH_OK;
        size_t i = wf->topo[k];
        struct mh_step_state *s = &a->st->steps[i];
        switch (s->status) {
        case MH_STEP_PENDING: {
            enum readiness r = readiness(a, i);
            if (r == READY_RUN)
                rc = wf->nodes[i].type->start(a, i);
            else if (r == READY_SKIP)
                rc = mh_engine__emit(a, MH_EV_STEP_SKIPPED, (long)i, 0, json_object());
            *progress = *progress || r != NOT_READY;
            break;
        }
        case MH_STEP_RUNNING:
        case MH_STEP_WAITING_TIMER:
        case MH_STEP_WAITING_RETRY:
        case MH_STEP_WAITING_BREAKER: rc = wf->nodes[i].type->resume(a, i, progress); break;
        case MH_STEP_SUCCEEDED:
        case MH_STEP_FAILED:
        case MH_STEP_SKIPPED: break;
        }
        if (rc != MH_OK)
            return rc;
    }
    return MH_OK;
}

/* ---- Entry points ------------------------------------------------------------------------- */

enum mh_err mh_engine_advance(const struct mh_wf *wf, const struct mh_event *events,
                              size_t n_events, const struct mh_engine_input *in,
                              struct mh_engine_result *out, struct mh_err_info *info)
{
    return advance(wf, events, n_events, in, false, out, info);
}

/* mh_engine_advance; `is_body_partial`: the fold builds only the parts of a raw JSON body the
 * pure steps read (mh_engine__fold_partial), for mh_engine_advance_pure. */
static enum mh_err advance(const struct mh_wf *wf, const struct mh_event *events, size_t n_events,
                           const struct mh_engine_input *in, bool is_body_partial,
                           struct mh_engine_result *out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_engine_result res = {0};
    struct mh_advance a = {.wf = wf, .in = in, .now = in->now_ms, .res = &res, .info = info};
    if (n_events == 0) {
        rc = mh_err_set(info, MH_EINVAL, "log", -1, "a run's log starts with run_started");
        goto out;
    }
    rc = is_body_partial ? mh_engine__fold_partial(wf, events, n_events, &a.st, info)
                         : mh_engine_fold(wf, events, n_events, &a.st, info);
    if (rc != MH_OK)
        goto out;
    bool was_finished = mh_engine__run_finished(a.st);
    /* wait_callback: the URLs are recorded before any step runs, so every step sees them. */
    if (!was_finished && a.st->callbacks == NULL && json_is_object(in->callback_urls) &&
        json_object_size(in->callback_urls) > 0) {
        rc = mh_engine__emit(&a, MH_EV_CALLBACKS_ISSUED, -1, 0,
                             json_pack("{s:O}", "callbacks", in->callback_urls));
        if (rc != MH_OK)
            goto out;
    }
    rc = apply_reports(&a);
    if (rc != MH_OK)
        goto out;

    if (!was_finished && in->run_timeout_ms > 0 &&
        in->now_ms >= a.st->started_at + in->run_timeout_ms) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the run exceeded its timeout of %" PRId64 " ms",
                 in->run_timeout_ms);
        rc = mh_engine__emit(&a, MH_EV_RUN_TIMED_OUT, -1, 0,
                             json_pack("{s:o,s:I}", "error", mh_engine__error_obj("timeout", msg),
                                       "timeout_ms", (json_int_t)in->run_timeout_ms));
        if (rc != MH_OK)
            goto out;
    }

    bool progress = true;
    while (progress && !mh_engine__run_finished(a.st)) {
        progress = false;
        rc = mh_engine__advance_steps(&a, &progress);
        if (rc != MH_OK)
            goto out;
        if (!mh_engine__run_finished(a.st)) {
            rc = finish_if_done(&a);
            if (rc != MH_OK)
                goto out;
        }
    }
    if (!was_finished && mh_engine__run_finished(a.st)) {
        struct mh_engine_action *act = mh_engine__add_action(&a, MH_ACTION_FINISHED, -1);
        act->status = a.st->status;
        act->output = json_incref(a.st->output);
        act->error = json_incref(a.st->error);
    }
    fill_wake(a.st, in, &res);
    *out = res;
    memset(&res, 0, sizeof(res));
out:
    mh_engine_result_cleanup(&res);
    mh_engine_state_destroy(a.st);
    return rc;
}

enum mh_err mh_engine_pending(const struct mh_wf *wf, const struct mh_event *events,
                              size_t n_events, struct mh_engine_result *out,
                              struct mh_err_info *info)
{
    struct mh_engine_result res = {0};
    struct mh_advance a = {.wf = wf, .res = &res, .info = info};
    enum mh_err rc = mh_engine_fold(wf, events, n_events, &a.st, info);
    if (rc != MH_OK)
        goto out;
    if (!mh_engine__run_finished(a.st)) {
        for (size_t i = 0; i < wf->n_nodes; i++)
            wf->nodes[i].type->pending(&a, i);
    }
    fill_wake(a.st, NULL, &res);
    *out = res;
    memset(&res, 0, sizeof(res));
out:
    mh_engine_result_cleanup(&res);
    mh_engine_state_destroy(a.st);
    return rc;
}

/* Whether event `ev` records a decision a pure step makes: a pure type's outcome, any skip
 * (dead-path elimination), or the run's end. */
static bool is_pure_event(const struct mh_wf *wf, const struct mh_event *ev)
{
    if (ev->node_id[0] == '\0' || strcmp(ev->type, MH_EV_STEP_SKIPPED) == 0)
        return true;
    long i = mh_engine__node_index(wf, ev->node_id);
    return i >= 0 && wf->nodes[i].type->eval != mh_engine__node_eval_none;
}

enum mh_err mh_engine_advance_pure(const struct mh_wf *wf, const struct mh_event *events,
                                   size_t n_events, int64_t now_ms, struct mh_engine_result *out,
                                   struct mh_err_info *info)
{
    memset(out, 0, sizeof(*out));
    out->status = MH_RUN_QUEUED;
    /* Nothing to gain when the first step waits for the outside world: the fold (which parses
     * the trigger's body) is not paid for. */
    if (wf->n_nodes == 0 || wf->nodes[wf->entry].type->eval == mh_engine__node_eval_none)
        return MH_OK;
    /* A workflow that waits for a callback: the worker issues its URLs (callbacks_issued)
     * before any step runs, so that every step sees them. */
    for (size_t i = 0; i < wf->n_nodes; i++)
        if (wf->nodes[i].type->waits_for_callback)
            return MH_OK;
    const struct mh_engine_input in = {.now_ms = now_ms};
    /* Only the parts of the body the pure steps read are built: the events cut below are the
     * only ones that could have needed more. */
    enum mh_err rc = advance(wf, events, n_events, &in, true, out, info);
    if (rc != MH_OK)
        return rc;
    size_t keep = 0;
    while (keep < out->n_events && is_pure_event(wf, &out->events[keep]))
        keep++;
    if (keep == out->n_events)
        return MH_OK;
    /* Cut before the first step that waits: the worker starts it, from this very prefix, as it
     * would have in one advance (docs/internals/engine.md, "Pure prefix"). */
    for (size_t i = keep; i < out->n_events; i++)
        mh_engine_event_cleanup(&out->events[i]);
    out->n_events = keep;
    for (size_t i = 0; i < out->n_actions; i++) {
        json_decref(out->actions[i].request);
        json_decref(out->actions[i].output);
        json_decref(out->actions[i].error);
    }
    out->n_actions = 0;
    out->next_wake_ms = 0;
    out->status = keep > 0 ? MH_RUN_RUNNING : MH_RUN_QUEUED;
    return MH_OK;
}

void mh_engine_result_cleanup(struct mh_engine_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_events; i++)
        mh_engine_event_cleanup(&r->events[i]);
    free(r->events);
    for (size_t i = 0; i < r->n_actions; i++) {
        json_decref(r->actions[i].request);
        json_decref(r->actions[i].output);
        json_decref(r->actions[i].error);
    }
    free(r->actions);
    memset(r, 0, sizeof(*r));
}
