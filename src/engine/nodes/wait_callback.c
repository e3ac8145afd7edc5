/* SPDX-License-Identifier: MIT */
/*
 * The wait_callback node: pauses the run until a request arrives at the step's one-time URL
 * (POST /callbacks/<token>, docs/workflows.md "Waiting for a callback") or its timeout passes.
 * The URL is known before the wait: the worker issues every such node's URL when the run is
 * first advanced (the run-level event callbacks_issued, shown to every step as
 * callbacks.<node>.url), so an earlier http_call can hand it to a provider. A callback is
 * recorded by the server (table callbacks) and reaches the run as the report
 * callback_received, which may come before the step starts (a fast provider): the fold holds
 * it in the step's state, and the step succeeds as soon as it starts. The step records
 * timer_set with the deadline; a due deadline without a callback fails the step with kind
 * "timeout", which an error edge can take.
 */
#include "engine/engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define SCHEMA_HEAD "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","

static const char schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Wait for a callback\","
    "\"description\":\"Pauses the run until a POST arrives at the step's one-time URL "
    "(callbacks.<node id>.url in every step's context) or the timeout passes. The request's "
    "JSON body becomes the step's output.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"timeout\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Timeout\",\"default\":\"72h\","
    "\"description\":\"How long to wait, such as \\\"15m\\\", \\\"72h\\\", \\\"7d\\\" or ISO "
    "8601 \\\"P3D\\\"; at most 366 days. Without a callback by then the step fails with kind "
    "\\\"timeout\\\" (an error edge may take it).\",\"examples\":[\"72h\",\"P7D\"]}},"
    "\"additionalProperties\":false}";

/* The default wait when the config sets none. */
#define DEFAULT_TIMEOUT_MS (72LL * 3600 * 1000)

struct wait_cb {
    int64_t timeout_ms;
    char timeout_text[40]; /* as configured, for the timeout's message */
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static void release(void *impl);
static enum mh_err start(struct mh_advance *a, size_t i);
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress);
static void pending(struct mh_advance *a, size_t i);
static const char *admit(const struct mh_step_state *s, enum mh_node_event what);
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info);
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events);

const struct mh_node_type mh_engine__node_wait_callback = {
    .name = "wait_callback",
    .title = "Wait for a callback",
    .description = "Pauses the run until a request arrives at a one-time URL, or a timeout",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    .waits_for_callback = true,
    .compile = compile,
    .release = release,
    .start = start,
    .resume = resume,
    .pending = pending,
    .admit = admit,
    .eval = mh_engine__node_eval_none,
    .replay = mh_engine__node_replay_none,
    .error_expr = mh_engine__node_error_expr_none,
    .check_stand_in = check_stand_in,
    .recorded_stand_in = recorded_stand_in,
    .secret_refs = mh_engine__node_secret_refs_none,
    .reads = mh_engine__node_reads_all,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct wait_cb *w = mh_xcalloc(1, sizeof(*w));
    const char *t = json_string_value(json_object_get(cfg, "timeout"));
    n->impl = w;
    w->timeout_ms = DEFAULT_TIMEOUT_MS;
    snprintf(w->timeout_text, sizeof(w->timeout_text), "%s", t ? t : "72h");
    if (t != NULL && (!mh_engine__parse_duration(t, &w->timeout_ms) || w->timeout_ms <= 0)) {
        char *p = mh_engine__pointer_join(path, "timeout");
        mh_engine__add_error(errors, p, "invalid_config", n->id, -1,
                             "invalid timeout \"%.64s\": use a positive duration such as "
                             "\"15m\", \"72h\" or \"P3D\", at most 366 days",
                             t);
        free(p);
        return 1;
    }
    return 0;
}

static void release(void *impl)
{
    free(impl);
}

/* The step's outcome once a callback is held: its body is the output. */
static enum mh_err take_callback(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    json_t *body = json_object_get(s->result, "body");
    return mh_engine__succeed_step(a, i, 1, json_incref(body ? body : json_null()), NULL);
}

/* Records the deadline (timer_set) and succeeds at once when the callback came first. The URL
 * must have been issued: without it no one could call back, so the step fails clearly. */
static enum mh_err start(struct mh_advance *a, size_t i)
{
    const struct wait_cb *w = a->wf->nodes[i].impl;
    const struct mh_run_state *run = a->st;
    while (run->parent != NULL)
        run = run->parent;
    if (json_object_get(run->callbacks, a->wf->nodes[i].id) == NULL)
        return mh_engine__fail_step(
            a, i, 1,
            mh_engine__error_obj("callback_unavailable",
                                 "no callback URL was issued for this step: the server issues "
                                 "them only when it has a key-encryption key (kek)"),
            false);
    int64_t fire_at = a->now + w->timeout_ms;
    char iso[40];
    mh_engine__format_rfc3339(fire_at, iso, sizeof(iso));
    enum mh_err rc = mh_engine__emit(a, MH_EV_TIMER_SET, (long)i, 1,
                                     json_pack("{s:I,s:s,s:s}", "fire_at", (json_int_t)fire_at,
                                               "fire_at_iso", iso, "wait", "callback"));
    if (rc != MH_OK)
        return rc;
    if (a->st->steps[i].result != NULL)
        return take_callback(a, i);
    mh_engine__add_timer(a, i, 1, fire_at);
    return MH_OK;
}

/* A callback recorded meanwhile is the output; a due deadline without one fails the step. */
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress)
{
    const struct mh_step_state *s = &a->st->steps[i];
    const struct wait_cb *w = a->wf->nodes[i].impl;
    if (s->status != MH_STEP_WAITING_TIMER)
        return MH_OK;
    if (s->result != NULL) {
        *progress = true;
        return take_callback(a, i);
    }
    if (a->now < s->fire_at)
        return MH_OK;
    *progress = true;
    char msg[160], iso[40];
    mh_engine__format_rfc3339(s->fire_at, iso, sizeof(iso));
    snprintf(msg, sizeof(msg), "no callback arrived within %s (timed out at %s)", w->timeout_text,
             iso);
    json_t *err = mh_engine__error_obj("timeout", msg);
    json_object_set_new(err, "timed_out_at", json_string(iso));
    return mh_engine__fail_step(a, i, 1, err, false);
}

static void pending(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status == MH_STEP_WAITING_TIMER && s->result == NULL)
        mh_engine__add_timer(a, i, 1, s->fire_at);
}

static const char *admit(const struct mh_step_state *s, enum mh_node_event what)
{
    switch (what) {
    case MH_NODE_EV_START: return "only http_call steps are started";
    case MH_NODE_EV_ATTEMPT: return "only http_call steps have attempts";
    case MH_NODE_EV_TIMER: return NULL;
    case MH_NODE_EV_CALLBACK:
        /* Before the step starts (held) or while it waits; one callback per step. */
        return (s->status == MH_STEP_PENDING || s->status == MH_STEP_WAITING_TIMER) &&
                       s->result == NULL
                   ? NULL
                   : "the step takes no callback now";
    case MH_NODE_EV_SUCCEED:
        return s->result != NULL ? NULL : "a wait_callback step succeeds only with a callback";
    }
    return "unknown event";
}

/* A preview's stand-in is the callback's body (any JSON): the callback arrives at once. */
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info)
{
    (void)n, (void)info;
    (void)v;
    return MH_OK;
}

/* A draft test answers the wait with the body the recorded run received; NULL when it received
 * none (the draft test stops there). */
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events)
{
    for (size_t k = n_events; k-- > 0;) {
        if (strcmp(events[k].type, MH_EV_CALLBACK_RECEIVED) == 0 &&
            strcmp(events[k].node_id, n->id) == 0) {
            json_t *body = json_object_get(events[k].payload, "body");
            return json_incref(body ? body : json_null());
        }
    }
    return NULL;
}

bool mh_engine_wf_has_callbacks(const struct mh_wf *wf)
{
    return wf->has_callbacks; /* computed at compile (definition.c) */
}
