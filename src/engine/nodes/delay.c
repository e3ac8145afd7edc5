/* SPDX-License-Identifier: MIT */
/*
 * The delay node: a durable timer. Its step records timer_set with the time to wake (now plus a
 * duration, or a time a JMESPath expression computes) and parks; the caller keeps the timer (a
 * job with a future run_at), and once the engine sees the time has come it records
 * timer_fired and the step's success. No thread or connection waits meanwhile.
 */
#include "engine/engine_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"Delay\","
    "\"description\":\"Waits durably: the run is parked on a timer and no thread or connection "
    "waits. Give exactly one of duration_ms, duration or until.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"duration_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":31622400000,"
    "\"title\":\"Duration (milliseconds)\"},"
    "\"duration\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Duration\","
    "\"description\":\"Such as \\\"250ms\\\", \\\"30s\\\", \\\"1h30m\\\", \\\"2d\\\" or ISO 8601 "
    "\\\"PT5S\\\", \\\"P1DT2H\\\"; at most 366 days.\",\"examples\":[\"30s\",\"PT1H\"]},"
    "\"until\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Until\","
    "\"description\":\"JMESPath yielding the time to wake: an RFC 3339 timestamp or epoch "
    "milliseconds. A time in the past fires at once.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"trigger.body.send_at\"]}},"
    "\"oneOf\":[{\"required\":[\"duration_ms\"]},{\"required\":[\"duration\"]},"
    "{\"required\":[\"until\"]}],"
    "\"additionalProperties\":false}";

struct delay {
    struct mh_jp_expr *until; /* NULL when the delay is a duration */
    int64_t duration_ms;      /* -1 when `until` is used */
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static void release(void *impl);
static enum mh_err start(struct mh_advance *a, size_t i);
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress);
static void pending(struct mh_advance *a, size_t i);
static const char *admit(const struct mh_step_state *s, enum mh_node_event what);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info);
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events);

const struct mh_node_type mh_engine__node_delay = {
    .name = "delay",
    .title = "Delay",
    .description = "Durable timer: a duration or a computed timestamp",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    .compile = compile,
    .release = release,
    .start = start,
    .resume = resume,
    .pending = pending,
    .admit = admit,
    .eval = mh_engine__node_eval_none,
    .replay = mh_engine__node_replay_none,
    .error_expr = error_expr,
    .check_stand_in = check_stand_in,
    .recorded_stand_in = recorded_stand_in,
    .secret_refs = mh_engine__node_secret_refs_none,
    .reads = mh_engine__node_reads_all,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct delay *d = mh_xcalloc(1, sizeof(*d));
    const char *until = json_string_value(json_object_get(cfg, "until"));
    const char *dur = json_string_value(json_object_get(cfg, "duration"));
    size_t nerr = 0;
    char *p = NULL;
    n->impl = d;
    d->duration_ms = -1;
    if (until != NULL) {
        p = mh_engine__pointer_join(path, "until");
        nerr += mh_engine__compile_expr(until, p, n->id, &d->until, errors);
    } else if (dur != NULL) {
        if (!mh_engine__parse_duration(dur, &d->duration_ms)) {
            p = mh_engine__pointer_join(path, "duration");
            mh_engine__add_error(errors, p, "invalid_config", n->id, -1,
                                 "invalid duration \"%s\": use forms such as \"250ms\", "
                                 "\"30s\", \"1h30m\" or \"PT5S\", at most 366 days",
                                 dur);
            nerr++;
        }
    } else {
        d->duration_ms = mh_engine__int_or(cfg, "duration_ms", 0);
    }
    free(p);
    return nerr;
}

static void release(void *impl)
{
    struct delay *d = impl;
    if (d == NULL)
        return;
    mh_jp_expr_destroy(d->until);
    free(d);
}

/* Sets the timer: now + duration, or the time `until` yields (RFC 3339 or epoch ms). */
static enum mh_err start(struct mh_advance *a, size_t i)
{
    const struct delay *d = a->wf->nodes[i].impl;
    enum mh_err rc = MH_OK;
    json_t *ctx = NULL, *out = NULL;
    int64_t fire_at = 0;
    if (d->duration_ms >= 0) {
        fire_at = a->now + d->duration_ms;
    } else {
        struct mh_err_info jinfo = MH_ERR_INFO_INIT;
        ctx = mh_engine__context(a->st, i);
        if (mh_jp_eval(d->until, ctx, &out, &jinfo) != MH_OK) {
            rc = mh_engine__fail_step(a, i, 1, mh_engine__error_obj("jmespath", jinfo.message),
                                      false);
            goto out;
        }
        bool ok = false;
        if (json_is_integer(out)) {
            fire_at = json_integer_value(out), ok = true;
        } else if (json_is_real(out)) {
            double v = json_real_value(out);
            ok = v > -9.2e18 && v < 9.2e18;
            fire_at = (int64_t)v;
        } else if (json_is_string(out)) {
            ok = mh_engine__parse_rfc3339(json_string_value(out), &fire_at);
        }
        if (!ok) {
            rc = mh_engine__fail_step(a, i, 1,
                                      mh_engine__error_obj("invalid_value",
                                                           "until must yield an RFC 3339 "
                                                           "timestamp or epoch milliseconds"),
                                      false);
            goto out;
        }
    }
    char iso[40];
    mh_engine__format_rfc3339(fire_at, iso, sizeof(iso));
    rc =
        mh_engine__emit(a, MH_EV_TIMER_SET, (long)i, 1,
                        json_pack("{s:I,s:s}", "fire_at", (json_int_t)fire_at, "fire_at_iso", iso));
    if (rc == MH_OK)
        mh_engine__add_timer(a, i, 1, fire_at);
out:
    json_decref(out);
    json_decref(ctx);
    return rc;
}

/* Fires a due timer, then records the step's output {fire_at, fired_at}. */
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress)
{
    const struct mh_step_state *s = &a->st->steps[i];
    enum mh_err rc = MH_OK;
    if (s->status != MH_STEP_WAITING_TIMER)
        return MH_OK;
    if (!s->timer_fired && a->now >= s->fire_at) {
        rc = mh_engine__emit(a, MH_EV_TIMER_FIRED, (long)i, 1,
                             json_pack("{s:I}", "fire_at", (json_int_t)s->fire_at));
        *progress = true;
    }
    if (rc == MH_OK && s->timer_fired) {
        rc = mh_engine__succeed_step(a, i, 1,
                                     json_pack("{s:I,s:I}", "fire_at", (json_int_t)s->fire_at,
                                               "fired_at", (json_int_t)a->now),
                                     NULL);
        *progress = true;
    }
    return rc;
}

static void pending(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status == MH_STEP_WAITING_TIMER && !s->timer_fired)
        mh_engine__add_timer(a, i, 1, s->fire_at);
}

static const char *admit(const struct mh_step_state *s, enum mh_node_event what)
{
    switch (what) {
    case MH_NODE_EV_START: return "only http_call steps are started";
    case MH_NODE_EV_ATTEMPT: return "only http_call steps have attempts";
    case MH_NODE_EV_CALLBACK: return "only wait_callback steps take a callback";
    case MH_NODE_EV_TIMER: return NULL;
    case MH_NODE_EV_SUCCEED:
        return s->timer_fired ? NULL : "a delay step succeeds only after its timer fired";
    }
    return "unknown event";
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct delay *d = n->impl;
    *member = "until";
    return d->until;
}

/* A delay's stand-in is {} (or true): the timer fires at once. */
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info)
{
    (void)n;
    if (json_is_true(v) || (json_is_object(v) && json_object_size(v) == 0))
        return MH_OK;
    return mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                      "a delay's stand-in is {} (the timer fires at once)");
}

/* A draft test waits for no timer: whatever the recorded run waited, the sandbox's wait passes
 * (a delay's outcome does not depend on the outside world). */
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events)
{
    (void)n, (void)events, (void)n_events;
    return json_object();
}
