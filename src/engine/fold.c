/* SPDX-License-Identifier: MIT */
/*
 * The fold: a run's state is a pure function of its events, applied one at a time in seq order.
 * Events the engine itself decided must fit the state exactly (anything else means the log does
 * not belong to this workflow version, or was altered), while outside reports that no longer
 * apply, such as a second delivery of the same HTTP outcome, are ignored the same way advance
 * ignores them, so that a duplicate appended by a caller cannot wedge a run.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static bool is_terminal_step(enum mh_step_status s);
static enum mh_err bad(struct mh_err_info *info, const struct mh_event *ev, const char *why);
static void set_json(json_t **slot, json_t *v);
static enum mh_err trigger_of(const struct mh_run_state *st, json_t *payload, json_t **out);
static enum mh_err fold(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                        bool is_body_partial, struct mh_run_state **out, struct mh_err_info *info);
static const struct mh_step_state *step_of(const struct mh_run_state *st, const char *node_id);
static json_t *items_to_json(const struct mh_step_state *s);
static enum mh_err apply_step(struct mh_run_state *st, struct mh_step_state *s,
                              const struct mh_wf_node *n, const struct mh_event *ev,
                              struct mh_err_info *info);

const char *mh_engine_run_status_name(enum mh_run_status s)
{
    switch (s) {
    case MH_RUN_QUEUED: return "queued";
    case MH_RUN_RUNNING: return "running";
    case MH_RUN_SUCCEEDED: return "succeeded";
    case MH_RUN_FAILED: return "failed";
    case MH_RUN_CANCELED: return "canceled";
    }
    return "unknown";
}

const char *mh_engine_step_status_name(enum mh_step_status s)
{
    switch (s) {
    case MH_STEP_PENDING: return "pending";
    case MH_STEP_RUNNING: return "running";
    case MH_STEP_WAITING_TIMER: return "waiting_timer";
    case MH_STEP_WAITING_RETRY: return "waiting_retry";
    case MH_STEP_SUCCEEDED: return "succeeded";
    case MH_STEP_FAILED: return "failed";
    case MH_STEP_SKIPPED: return "skipped";
    case MH_STEP_WAITING_BREAKER: return "waiting_breaker";
    }
    return "unknown";
}

static bool is_terminal_step(enum mh_step_status s)
{
    return s == MH_STEP_SUCCEEDED || s == MH_STEP_FAILED || s == MH_STEP_SKIPPED;
}

bool mh_engine__run_finished(const struct mh_run_state *st)
{
    return st->status == MH_RUN_SUCCEEDED || st->status == MH_RUN_FAILED ||
           st->status == MH_RUN_CANCELED;
}

static enum mh_err bad(struct mh_err_info *info, const struct mh_event *ev, const char *why)
{
    return mh_err_set(info, MH_EINVAL, "log", (long)ev->seq, "event %" PRId64 " (%s%s%s): %s",
                      ev->seq, ev->type, ev->node_id[0] ? " " : "", ev->node_id, why);
}

/* Replaces *slot with a new reference to `v` (NULL stays NULL). */
static void set_json(json_t **slot, json_t *v)
{
    json_t *old = *slot;
    *slot = v ? json_incref(v) : NULL;
    json_decref(old);
}

enum mh_err mh_engine__state_create(const struct mh_wf *wf, struct mh_run_state **out)
{
    struct mh_run_state *st = mh_xcalloc(1, sizeof(*st));
    /* The state holds a reference; the workflow is immutable, so the cast only touches the
     * atomic counter. */
    st->wf = mh_engine_wf_ref((struct mh_wf *)wf);
    st->steps = mh_xcalloc(wf->n_nodes + 1, sizeof(*st->steps));
    st->status = MH_RUN_QUEUED;
    *out = st;
    return MH_OK;
}

void mh_engine_state_destroy(struct mh_run_state *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < st->wf->n_nodes; i++) {
        struct mh_step_state *s = &st->steps[i];
        json_decref(s->output);
        json_decref(s->wrapper);
        json_decref(s->error);
        json_decref(s->request);
        json_decref(s->result);
        for (size_t k = 0; k < s->n_items; k++)
            mh_engine_state_destroy(s->items[k]);
        free(s->items);
    }
    free(st->steps);
    json_decref(st->item);
    json_decref(st->trigger);
    json_decref(st->run);
    json_decref(st->output);
    json_decref(st->error);
    json_decref(st->callbacks);
    mh_engine_wf_unref(st->wf);
    free(st);
}

/* Whether an outside report would be accepted now (the same test advance applies). */
bool mh_engine__report_applies(struct mh_run_state *run, const struct mh_event *ev)
{
    if (mh_engine__run_finished(run))
        return false;
    bool is_attempt = strcmp(ev->type, MH_EV_HTTP_ATTEMPT) == 0;
    bool is_child = strcmp(ev->type, MH_EV_CHILD_FINISHED) == 0;
    if (is_attempt || is_child || strcmp(ev->type, MH_EV_STEP_PARKED) == 0) {
        struct mh_run_state *st = NULL;
        long idx = ev->node_id[0] ? mh_engine__resolve(run, ev->node_id, &st) : -1;
        if (idx < 0)
            return false;
        const struct mh_step_state *s = &st->steps[idx];
        /* A parked step still takes its attempt's outcome (another server may have sent the
         * same attempt after a lease expired); it is parked only while it runs. */
        bool state_ok =
            s->status == MH_STEP_RUNNING || (is_attempt && s->status == MH_STEP_WAITING_BREAKER);
        /* call_workflow: a child_finished report applies to the step that started that child
         * (its recorded call names it), and only such a step takes one. */
        json_t *child = json_object_get(s->request, "child_run_id");
        if (is_child != (child != NULL) ||
            (is_child &&
             !mh_engine__json_same(child, json_object_get(ev->payload, "child_run_id"))))
            return false;
        return st->wf->nodes[idx].type->admit(s, MH_NODE_EV_ATTEMPT) == NULL && state_ok &&
               s->attempts == ev->attempt && s->result == NULL;
    }
    if (strcmp(ev->type, MH_EV_CALLBACK_RECEIVED) == 0) {
        /* wait_callback: held while the step is pending, taken while it waits; once. */
        struct mh_run_state *st = NULL;
        long idx = ev->node_id[0] ? mh_engine__resolve(run, ev->node_id, &st) : -1;
        return idx >= 0 &&
               st->wf->nodes[idx].type->admit(&st->steps[idx], MH_NODE_EV_CALLBACK) == NULL;
    }
    return strcmp(ev->type, MH_EV_RUN_CANCELED) == 0;
}

static enum mh_err apply_step(struct mh_run_state *st, struct mh_step_state *s,
                              const struct mh_wf_node *n, const struct mh_event *ev,
                              struct mh_err_info *info)
{
    json_t *p = ev->payload;
    const char *t = ev->type;
    /* What only the node's type knows (type->admit): whether its steps are started, set timers,
     * and when they may succeed. Attempts, retries and timer firings need a step in the state
     * only such events put it in, which the checks below test. */
    const char *why = NULL;
    if (strcmp(t, MH_EV_STEP_STARTED) == 0) {
        if ((why = n->type->admit(s, MH_NODE_EV_START)) != NULL)
            return bad(info, ev, why);
        if (!(s->status == MH_STEP_PENDING && ev->attempt == 1) &&
            !(s->status == MH_STEP_WAITING_RETRY && ev->attempt == s->attempts + 1))
            return bad(info, ev, "attempt does not follow the step's state");
        s->status = MH_STEP_RUNNING;
        s->attempts = ev->attempt;
        set_json(&s->result, NULL);
        if (ev->attempt == 1) {
            set_json(&s->request, json_object_get(p, "request"));
            const char *key = json_string_value(json_object_get(p, "idempotency_key"));
            snprintf(s->idem_key, sizeof(s->idem_key), "%s", key ? key : "");
        }
        /* A node with a body (for_each) starts with the items it runs its body for. */
        if (n->body != NULL) {
            json_t *items = json_object_get(p, "items");
            if (!json_is_array(items) || json_array_size(items) > MH_ENGINE_MAX_ITEMS ||
                s->items != NULL)
                return bad(info, ev, "a for_each step starts with an array of items");
            mh_engine__items_create(st, (size_t)(n - st->wf->nodes), items);
        }
    } else if (strcmp(t, MH_EV_STEP_PARKED) == 0) {
        s->status = MH_STEP_WAITING_BREAKER;
        s->fire_at = json_integer_value(json_object_get(p, "until"));
    } else if (strcmp(t, MH_EV_STEP_RESUMED) == 0) {
        if (s->status != MH_STEP_WAITING_BREAKER)
            return bad(info, ev, "only a parked step resumes");
        s->status = MH_STEP_RUNNING;
    } else if (strcmp(t, MH_EV_HTTP_ATTEMPT) == 0 || strcmp(t, MH_EV_CHILD_FINISHED) == 0) {
        s->status = MH_STEP_RUNNING;
        json_decref(s->result);
        s->result = p ? json_incref(p) : json_object();
    } else if (strcmp(t, MH_EV_CALLBACK_RECEIVED) == 0) {
        /* The status stays: a pending step holds the callback until it starts. */
        set_json(&s->result, p);
    } else if (strcmp(t, MH_EV_RETRY_SCHEDULED) == 0) {
        if (s->status != MH_STEP_RUNNING || s->result == NULL || ev->attempt != s->attempts + 1)
            return bad(info, ev, "no failed attempt to retry");
        s->status = MH_STEP_WAITING_RETRY;
        s->fire_at = json_integer_value(json_object_get(p, "fire_at"));
        set_json(&s->result, NULL);
    } else if (strcmp(t, MH_EV_TIMER_SET) == 0) {
        if ((why = n->type->admit(s, MH_NODE_EV_TIMER)) != NULL)
            return bad(info, ev, why);
        if (s->status != MH_STEP_PENDING)
            return bad(info, ev, "a timer is set only by a pending delay step");
        s->status = MH_STEP_WAITING_TIMER;
        s->attempts = 1;
        s->fire_at = json_integer_value(json_object_get(p, "fire_at"));
    } else if (strcmp(t, MH_EV_TIMER_FIRED) == 0) {
        if (s->status != MH_STEP_WAITING_TIMER || s->timer_fired)
            return bad(info, ev, "no timer is waiting");
        s->timer_fired = true;
    } else if (strcmp(t, MH_EV_STEP_SUCCEEDED) == 0) {
        if (is_terminal_step(s->status))
            return bad(info, ev, "the step already finished");
        if ((why = n->type->admit(s, MH_NODE_EV_SUCCEED)) != NULL)
            return bad(info, ev, why);
        /* Later steps see the output in one key order, however it was built. */
        json_t *out = mh_engine__json_state_ordered(json_object_get(p, "output"));
        s->status = MH_STEP_SUCCEEDED;
        if (s->attempts == 0)
            s->attempts = 1;
        set_json(&s->output, out);
        json_decref(s->wrapper);
        s->wrapper = json_pack("{s:o}", "output", out);
        set_json(&s->result, NULL);
        if (n->type->out == MH_NODE_OUT_PORTS) {
            const char *port = json_string_value(json_object_get(p, "port"));
            if (port == NULL || (strcmp(port, "true") != 0 && strcmp(port, "false") != 0))
                return bad(info, ev, "a branch step records port \"true\" or \"false\"");
            s->port = strcmp(port, "true") == 0 ? MH_PORT_TRUE : MH_PORT_FALSE;
        }
    } else if (strcmp(t, MH_EV_STEP_FAILED) == 0) {
        if (is_terminal_step(s->status))
            return bad(info, ev, "the step already finished");
        /* A handled failure names where it went, which must be where the node sends one. */
        const char *handled = json_string_value(json_object_get(p, "handled"));
        if (handled != NULL && !(strcmp(handled, "error_edge") == 0 && n->has_error_edge) &&
            !(strcmp(handled, "continue") == 0 && n->on_error_continue))
            return bad(info, ev, "the node has no such error path");
        s->status = MH_STEP_FAILED;
        if (ev->attempt > s->attempts)
            s->attempts = ev->attempt;
        s->continued = handled != NULL && strcmp(handled, "continue") == 0;
        s->error_edge_taken = handled != NULL && strcmp(handled, "error_edge") == 0;
        set_json(&s->error, json_object_get(p, "error"));
        set_json(&s->result, NULL);
        /* Later steps see {"error": ...} as steps.<id> (context.c). */
        json_decref(s->wrapper);
        s->wrapper = json_pack("{s:O}", "error", s->error ? s->error : json_null());
    } else if (strcmp(t, MH_EV_STEP_SKIPPED) == 0) {
        if (s->status != MH_STEP_PENDING)
            return bad(info, ev, "only a pending step can be skipped");
        s->status = MH_STEP_SKIPPED;
    }
    return MH_OK;
}

/*
 * The trigger the nodes see, from a run_started payload (new reference). A webhook whose body is
 * JSON records its bytes once, as delivery.raw_body, with delivery.body_from_raw: the trigger's
 * "body" is then those bytes parsed, exactly as the intake checked them (jansson, duplicate
 * member names refused). Parsing is a pure function of the recorded bytes, so every fold and
 * every replay sees the same body. The intake's pure prefix builds only the parts its steps can
 * read (st->is_body_partial, body.c).
 */
static enum mh_err trigger_of(const struct mh_run_state *st, json_t *payload, json_t **out)
{
    json_t *trigger = json_object_get(payload, "trigger");
    json_t *delivery = json_object_get(payload, "delivery");
    *out = NULL;
    if (!json_is_object(trigger)) {
        *out = json_object();
        return MH_OK;
    }
    if (json_object_get(trigger, "body") != NULL ||
        !json_is_true(json_object_get(delivery, "body_from_raw"))) {
        *out = json_incref(trigger);
        return MH_OK;
    }
    json_t *raw = json_object_get(delivery, "raw_body");
    if (!json_is_string(raw))
        return MH_EINVAL;
    json_t *body = NULL;
    if (mh_engine__body_pick(json_string_value(raw), json_string_length(raw),
                             st->is_body_partial ? st->wf->body_reads : NULL, &body) != MH_OK)
        return MH_EINVAL;
    *out = json_copy(trigger);
    json_object_set_new(*out, "body", body);
    return MH_OK;
}

enum mh_err mh_engine__state_apply(struct mh_run_state *st, const struct mh_event *ev,
                                   bool *ignored, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    const char *t = ev->type;
    json_t *p = ev->payload;
    long idx = -1;
    struct mh_run_state *where = st;
    *ignored = false;
    if (ev->seq != st->last_seq + 1)
        return bad(info, ev, "seq does not follow the previous event");
    if (ev->node_id[0] != '\0') {
        idx = mh_engine__resolve(st, ev->node_id, &where);
        if (idx < 0)
            return bad(info, ev, "no such node in this workflow version");
    }
    bool is_run_started = strcmp(t, MH_EV_RUN_STARTED) == 0;
    if (is_run_started != (st->last_seq == 0))
        return bad(info, ev, "a log starts with run_started, and only there");

    bool is_report = strcmp(t, MH_EV_HTTP_ATTEMPT) == 0 || strcmp(t, MH_EV_RUN_CANCELED) == 0 ||
                     strcmp(t, MH_EV_STEP_PARKED) == 0 || strcmp(t, MH_EV_CALLBACK_RECEIVED) == 0 ||
                     strcmp(t, MH_EV_CHILD_FINISHED) == 0;
    if (is_report && !mh_engine__report_applies(st, ev)) {
        *ignored = true;
        goto done;
    }
    bool is_step = strcmp(t, MH_EV_STEP_STARTED) == 0 || strcmp(t, MH_EV_HTTP_ATTEMPT) == 0 ||
                   strcmp(t, MH_EV_RETRY_SCHEDULED) == 0 || strcmp(t, MH_EV_TIMER_SET) == 0 ||
                   strcmp(t, MH_EV_TIMER_FIRED) == 0 || strcmp(t, MH_EV_STEP_SUCCEEDED) == 0 ||
                   strcmp(t, MH_EV_STEP_FAILED) == 0 || strcmp(t, MH_EV_STEP_SKIPPED) == 0 ||
                   strcmp(t, MH_EV_STEP_PARKED) == 0 || strcmp(t, MH_EV_STEP_RESUMED) == 0 ||
                   strcmp(t, MH_EV_CALLBACK_RECEIVED) == 0 || strcmp(t, MH_EV_CHILD_FINISHED) == 0;
    bool is_run_end = strcmp(t, MH_EV_RUN_SUCCEEDED) == 0 || strcmp(t, MH_EV_RUN_FAILED) == 0 ||
                      strcmp(t, MH_EV_RUN_CANCELED) == 0 || strcmp(t, MH_EV_RUN_TIMED_OUT) == 0;
    if ((is_step || is_run_end) && mh_engine__run_finished(st))
        return bad(info, ev, "the run already finished");

    if (is_run_started) {
        const char *run_id = json_string_value(json_object_get(p, "run_id"));
        rc = trigger_of(st, p, &st->trigger);
        if (rc != MH_OK)
            return bad(info, ev, "the delivery's raw body is not the JSON it was accepted as");
        snprintf(st->run_id, sizeof(st->run_id), "%s", run_id ? run_id : "");
        json_t *wf_id = json_object_get(p, "workflow_id");
        json_t *version = json_object_get(p, "version");
        st->run = json_pack("{s:s,s:O,s:O,s:b}", "id", st->run_id, "workflow",
                            wf_id ? wf_id : json_null(), "version", version ? version : json_null(),
                            "is_test", json_is_true(json_object_get(p, "is_test")));
        st->started_at = ev->at_ms;
        st->has_started = true;
    } else if (is_step) {
        if (idx < 0)
            return bad(info, ev, "a step event names its node");
        rc = apply_step(where, &where->steps[idx], &where->wf->nodes[idx], ev, info);
        if (rc != MH_OK)
            return rc;
    } else if (strcmp(t, MH_EV_CALLBACKS_ISSUED) == 0) {
        /* wait_callback: the run's callback URLs, issued once, before any step needs them. */
        json_t *cbs = json_object_get(p, "callbacks");
        if (!json_is_object(cbs) || st->callbacks != NULL || st->parent != NULL)
            return bad(info, ev, "callbacks are issued once, as an object");
        st->callbacks = json_incref(cbs);
    } else if (strcmp(t, MH_EV_RUN_SUCCEEDED) == 0) {
        st->status = MH_RUN_SUCCEEDED;
        set_json(&st->output, json_object_get(p, "output"));
    } else if (strcmp(t, MH_EV_RUN_FAILED) == 0 || strcmp(t, MH_EV_RUN_TIMED_OUT) == 0) {
        st->status = MH_RUN_FAILED;
        set_json(&st->output, json_object_get(p, "output"));
        set_json(&st->error, json_object_get(p, "error"));
    } else if (strcmp(t, MH_EV_RUN_CANCELED) == 0) {
        st->status = MH_RUN_CANCELED;
        const char *reason = json_string_value(json_object_get(p, "reason"));
        json_decref(st->error);
        st->error = json_pack("{s:s,s:s}", "kind", "canceled", "message",
                              reason ? reason : "the run was canceled");
    }
    /* Unknown event types are annotations (chained, but without effect on the state). */
    if (st->status == MH_RUN_QUEUED && (is_step || is_run_end))
        st->status = MH_RUN_RUNNING;
done:
    st->last_seq = ev->seq;
    memcpy(st->last_hash, ev->hash, sizeof(st->last_hash));
    return MH_OK;
}

enum mh_err mh_engine_fold(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                           struct mh_run_state **out, struct mh_err_info *info)
{
    return fold(wf, events, n, false, out, info);
}

enum mh_err mh_engine__fold_partial(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                                    struct mh_run_state **out, struct mh_err_info *info)
{
    return fold(wf, events, n, true, out, info);
}

static enum mh_err fold(const struct mh_wf *wf, const struct mh_event *events, size_t n,
                        bool is_body_partial, struct mh_run_state **out, struct mh_err_info *info)
{
    struct mh_run_state *st = NULL;
    enum mh_err rc = mh_engine__state_create(wf, &st);
    *out = NULL;
    if (rc != MH_OK)
        goto out;
    st->is_body_partial = is_body_partial;
    for (size_t i = 0; i < n; i++) {
        bool ignored;
        rc = mh_engine__state_apply(st, &events[i], &ignored, info);
        if (rc != MH_OK)
            goto out;
    }
    *out = st;
    st = NULL;
out:
    mh_engine_state_destroy(st);
    return rc;
}

enum mh_run_status mh_engine_state_status(const struct mh_run_state *st)
{
    return st->status;
}

static const struct mh_step_state *step_of(const struct mh_run_state *st, const char *node_id)
{
    struct mh_run_state *where = NULL;
    /* resolve() only reads; the API's getters take the state as const. */
    long i = node_id ? mh_engine__resolve((struct mh_run_state *)st, node_id, &where) : -1;
    return i < 0 ? NULL : &where->steps[i];
}

long mh_engine__wf_resolve(const struct mh_wf *wf, const char *step_id, const struct mh_wf **where)
{
    *where = NULL;
    const char *open = strchr(step_id, '[');
    if (open == NULL) {
        long i = mh_engine__node_index(wf, step_id);
        *where = i >= 0 ? wf : NULL;
        return i;
    }
    /* "<node>[<index>].<body node>": node ids never hold '[' (valid_id in definition.c). */
    char node[MH_ENGINE_ID_MAX + 1];
    size_t len = (size_t)(open - step_id);
    if (len == 0 || len > MH_ENGINE_ID_MAX)
        return -1;
    memcpy(node, step_id, len);
    node[len] = '\0';
    long i = mh_engine__node_index(wf, node);
    if (i < 0 || wf->nodes[i].body == NULL)
        return -1;
    const char *p = open + 1;
    if (*p < '0' || *p > '9' || (*p == '0' && p[1] != ']'))
        return -1;
    while (*p >= '0' && *p <= '9')
        p++;
    if (p - open - 1 > 5 || p[0] != ']' || p[1] != '.')
        return -1;
    const struct mh_wf *body = wf->nodes[i].body;
    long j = mh_engine__node_index(body, p + 2);
    *where = j >= 0 ? body : NULL;
    return j;
}

long mh_engine__resolve(struct mh_run_state *st, const char *step_id, struct mh_run_state **where)
{
    *where = NULL;
    const char *open = strchr(step_id, '[');
    if (open == NULL) {
        long i = mh_engine__node_index(st->wf, step_id);
        *where = i >= 0 ? st : NULL;
        return i;
    }
    const struct mh_wf *body = NULL;
    long j = mh_engine__wf_resolve(st->wf, step_id, &body);
    if (j < 0)
        return -1;
    char node[MH_ENGINE_ID_MAX + 1];
    snprintf(node, sizeof(node), "%.*s", (int)(open - step_id), step_id);
    const struct mh_step_state *s = &st->steps[mh_engine__node_index(st->wf, node)];
    char *end = NULL;
    unsigned long k = strtoul(open + 1, &end, 10);
    if (k >= s->n_items)
        return -1;
    *where = s->items[k];
    return j;
}

void mh_engine__items_create(struct mh_run_state *st, size_t node, json_t *items)
{
    struct mh_step_state *s = &st->steps[node];
    const struct mh_wf *body = st->wf->nodes[node].body;
    s->n_items = json_array_size(items);
    s->items = mh_xcalloc(s->n_items + 1, sizeof(*s->items));
    for (size_t k = 0; k < s->n_items; k++) {
        struct mh_run_state *it = NULL;
        enum mh_err rc = mh_engine__state_create(body, &it);
        MH_ASSERT(rc == MH_OK);
        it->status = MH_RUN_RUNNING;
        it->trigger = st->trigger ? json_incref(st->trigger) : NULL;
        it->run = st->run ? json_incref(st->run) : NULL;
        memcpy(it->run_id, st->run_id, sizeof(it->run_id));
        it->started_at = st->started_at;
        it->has_started = true;
        it->parent = st;
        it->parent_node = node;
        it->item = json_incref(json_array_get(items, k));
        it->index = k;
        snprintf(it->scope, sizeof(it->scope), "%s[%zu].", st->wf->nodes[node].id, k);
        s->items[k] = it;
    }
}

enum mh_step_status mh_engine_state_step_status(const struct mh_run_state *st, const char *node_id)
{
    const struct mh_step_state *s = step_of(st, node_id);
    return s ? s->status : MH_STEP_PENDING;
}

int mh_engine_state_step_attempts(const struct mh_run_state *st, const char *node_id)
{
    const struct mh_step_state *s = step_of(st, node_id);
    return s ? s->attempts : 0;
}

json_t *mh_engine_state_step_output(const struct mh_run_state *st, const char *node_id)
{
    const struct mh_step_state *s = step_of(st, node_id);
    return s ? s->output : NULL;
}

json_t *mh_engine_state_output(const struct mh_run_state *st)
{
    return st->output;
}

json_t *mh_engine_state_error(const struct mh_run_state *st)
{
    return st->error;
}

enum mh_step_status mh_engine__item_status(const struct mh_run_state *it)
{
    bool started = false, done = true;
    for (size_t i = 0; i < it->wf->n_nodes; i++) {
        enum mh_step_status s = it->steps[i].status;
        if (s == MH_STEP_FAILED)
            return MH_STEP_FAILED;
        started = started || s != MH_STEP_PENDING;
        done = done && is_terminal_step(s);
    }
    return done ? MH_STEP_SUCCEEDED : started ? MH_STEP_RUNNING : MH_STEP_PENDING;
}

/* A for_each step's progress: {"total", "succeeded", "failed", "running", "list": [{"status",
 * "steps": {body node: {"status", "attempts", "output"?, "error"?, "fire_at"?}}}]}. */
static json_t *items_to_json(const struct mh_step_state *s)
{
    size_t counts[MH_STEP_WAITING_BREAKER + 1] = {0};
    json_t *list = json_array();
    for (size_t k = 0; k < s->n_items; k++) {
        enum mh_step_status is = mh_engine__item_status(s->items[k]);
        counts[is]++;
        json_t *o = mh_engine_state_to_json(s->items[k]);
        json_object_set_new(o, "status", json_string(mh_engine_step_status_name(is)));
        json_array_append_new(list, o);
    }
    return json_pack("{s:I,s:I,s:I,s:I,s:o}", "total", (json_int_t)s->n_items, "succeeded",
                     (json_int_t)counts[MH_STEP_SUCCEEDED], "failed",
                     (json_int_t)counts[MH_STEP_FAILED], "running",
                     (json_int_t)counts[MH_STEP_RUNNING], "list", list);
}

json_t *mh_engine_state_to_json(const struct mh_run_state *st)
{
    json_t *steps = json_object();
    for (size_t i = 0; i < st->wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        json_t *o = json_pack("{s:s,s:i}", "status", mh_engine_step_status_name(s->status),
                              "attempts", s->attempts);
        if (s->output)
            json_object_set(o, "output", s->output);
        if (s->error)
            json_object_set(o, "error", s->error);
        if (s->continued || s->error_edge_taken)
            json_object_set_new(o, "handled",
                                json_string(s->continued ? "continue" : "error_edge"));
        if (s->status == MH_STEP_WAITING_TIMER || s->status == MH_STEP_WAITING_RETRY ||
            s->status == MH_STEP_WAITING_BREAKER)
            json_object_set_new(o, "fire_at", json_integer(s->fire_at));
        if (s->items != NULL)
            json_object_set_new(o, "items", items_to_json(s));
        json_object_set_new(steps, st->wf->nodes[i].id, o);
    }
    json_t *r =
        json_pack("{s:s,s:o}", "status", mh_engine_run_status_name(st->status), "steps", steps);
    if (st->output)
        json_object_set(r, "output", st->output);
    if (st->error)
        json_object_set(r, "error", st->error);
    return r;
}
