/* SPDX-License-Identifier: MIT */
/*
 * The mapping preview (docs/api.md, "Mapping preview"): a workflow evaluated on a sample trigger
 * by the very decision function the workers run (mh_engine_advance), in memory. Every transform,
 * branch and terminate is evaluated and every dead path skipped as in a real run; the preview
 * stops where a real run would wait for the outside world (an http_call to send, a delay to
 * sleep) unless the caller supplied a stand-in for that node: a response to report as the
 * call's outcome, or "the timer fired". Nothing is sent, stored or waited for, so a preview has
 * no side effect and finishes in the time the expressions take.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

/* The id the context's `run.id` shows in a preview; no real run id looks like it. */
#define PREVIEW_RUN_ID "preview"
/* The callback URL a preview shows a wait_callback's steps: .invalid never resolves. */
#define PREVIEW_CALLBACK_URL "https://preview.invalid/callbacks/preview"

struct preview {
    const struct mh_wf *wf;
    json_t *stand_ins;
    struct mh_event *events;
    size_t n_events;
    size_t cap_events;
    uint64_t seed;
    json_t *callback_urls; /* wait_callback nodes' stand-in URLs, or NULL */
};

static uint64_t preview_random(void *ctx);
static void take_events(struct preview *p, struct mh_engine_result *res);
static struct mh_event *report_slot(struct mh_event **reports, size_t *n, size_t *cap);
static enum mh_err standin_report(json_t *standin, const struct mh_engine_action *act,
                                  int64_t now_ms, struct mh_event *out);
static json_t *step_json(const struct preview *p, const struct mh_run_state *st, size_t i,
                         bool *is_stopped);

/* Retry jitter in a preview: any value will do, and a fixed sequence keeps it repeatable. */
static uint64_t preview_random(void *ctx)
{
    uint64_t *s = ctx;
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Moves the new events of `res` to the end of the preview's log. */
static void take_events(struct preview *p, struct mh_engine_result *res)
{
    if (p->n_events + res->n_events > p->cap_events) {
        p->cap_events = 2 * (p->n_events + res->n_events);
        p->events = mh_xrealloc(p->events, p->cap_events * sizeof(*p->events));
    }
    for (size_t i = 0; i < res->n_events; i++) {
        p->events[p->n_events++] = res->events[i];
        res->events[i].payload = NULL;
    }
}

/* The next free report of `*reports` (grown as needed), counted in *n. One round answers as
 * many calls as it started, and a for_each's items each start theirs: the count has no bound
 * the definition's node count gives. */
static struct mh_event *report_slot(struct mh_event **reports, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 8;
        *reports = mh_xrealloc(*reports, *cap * sizeof(**reports));
    }
    struct mh_event *slot = &(*reports)[(*n)++];
    memset(slot, 0, sizeof(*slot));
    return slot;
}

/* The outcome an http_call stand-in reports: {"status", "headers"?, "body"?}; a body that is
 * not a string is sent as JSON. */
static enum mh_err standin_report(json_t *standin, const struct mh_engine_action *act,
                                  int64_t now_ms, struct mh_event *out)
{
    json_t *headers = json_object_get(standin, "headers");
    json_t *body = json_object_get(standin, "body");
    json_t *status = json_object_get(standin, "status");
    json_t *hdrs = headers ? json_deep_copy(headers) : json_object();
    char *text = NULL;
    const char *bytes = NULL;
    size_t len = 0;
    if (json_is_string(body)) {
        bytes = json_string_value(body);
        len = json_string_length(body);
    } else if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        bytes = text;
        len = text ? strlen(text) : 0;
        bool has_type = false;
        const char *name;
        json_t *v;
        json_object_foreach(hdrs, name, v)
        {
            has_type = has_type || strcasecmp(name, "content-type") == 0;
        }
        if (!has_type)
            json_object_set_new(hdrs, "content-type", json_string("application/json"));
    }
    struct mh_engine_http_outcome oc = {
        .status = status ? (int)json_integer_value(status) : 200,
        .headers = hdrs,
        .body = bytes,
        .body_len = len,
    };
    enum mh_err rc =
        mh_engine_event_http_result(act->node_id, act->attempt, act->request, &oc, now_ms, out);
    free(text);
    json_decref(hdrs);
    return rc;
}

/* What the preview shows of step `i` (new). A step the preview stopped at sets *is_stopped. */
static json_t *step_json(const struct preview *p, const struct mh_run_state *st, size_t i,
                         bool *is_stopped)
{
    const struct mh_wf_node *n = &p->wf->nodes[i];
    const struct mh_step_state *s = &st->steps[i];
    const char *status = mh_engine_step_status_name(s->status);
    bool has_standin = json_object_get(p->stand_ins, n->id) != NULL;
    *is_stopped = false;
    if (!mh_engine__run_finished(st) &&
        (s->status == MH_STEP_RUNNING || (s->status == MH_STEP_WAITING_TIMER && !has_standin))) {
        status = "stopped";
        *is_stopped = true;
    }
    json_t *o = json_pack("{s:s, s:s, s:i, s:b}", "type", n->type_name, "status", status,
                          "attempts", s->attempts, "stand_in", has_standin);
    if (s->output)
        json_object_set(o, "output", s->output);
    if (n->type->out == MH_NODE_OUT_PORTS && s->status == MH_STEP_SUCCEEDED)
        json_object_set_new(o, "port", json_string(s->port == MH_PORT_TRUE ? "true" : "false"));
    if (s->request)
        json_object_set(o, "request", s->request);
    if (s->status == MH_STEP_WAITING_TIMER || s->status == MH_STEP_WAITING_RETRY) {
        char iso[40];
        mh_engine__format_rfc3339(s->fire_at, iso, sizeof(iso));
        json_object_set_new(o, "fire_at", json_string(iso));
    }
    if (s->error) {
        json_t *err = json_deep_copy(s->error);
        const char *field = NULL;
        const struct mh_jp_expr *expr = n->type->error_expr(n, &field);
        const char *kind = json_string_value(json_object_get(err, "kind"));
        /* The step's error says what failed; evaluating the expression again in the same
         * context (pure, so it fails the same way) says where, for the editor to underline. */
        if (field && expr && kind && strcmp(kind, "jmespath") == 0) {
            json_t *ctx = mh_engine__context(st, i), *v = NULL;
            struct mh_err_info info = MH_ERR_INFO_INIT;
            if (mh_jp_eval(expr, ctx, &v, &info) != MH_OK && info.offset >= 0)
                json_object_set_new(err, "offset", json_integer(info.offset));
            json_decref(v);
            json_decref(ctx);
            char path[64];
            snprintf(path, sizeof(path), "/nodes/%zu/config/%s", i, field);
            json_object_set_new(err, "path", json_string(path));
        }
        json_object_set_new(o, "error", err);
    }
    return o;
}

/* When the next stood-in timer or retry backoff ends among the steps of `st` and of its items,
 * at any depth (0: none): where the preview's clock jumps next. An item's step has a stand-in of
 * its own, under its step id ("loop[3].wait"). */
static int64_t next_wake(const struct mh_run_state *st, json_t *stand_ins)
{
    int64_t wake = 0;
    for (size_t i = 0; i < st->wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        char id[MH_ENGINE_STEP_ID_MAX + 1];
        int len = snprintf(id, sizeof(id), "%s%s", st->scope, st->wf->nodes[i].id);
        bool is_due = s->status == MH_STEP_WAITING_RETRY ||
                      (s->status == MH_STEP_WAITING_TIMER && !s->timer_fired && len > 0 &&
                       (size_t)len < sizeof(id) && json_object_get(stand_ins, id) != NULL);
        if (is_due && (wake == 0 || s->fire_at < wake))
            wake = s->fire_at;
        for (size_t k = 0; k < s->n_items; k++) {
            int64_t w = s->items[k] ? next_wake(s->items[k], stand_ins) : 0;
            if (w != 0 && (wake == 0 || w < wake))
                wake = w;
        }
    }
    return wake;
}

enum mh_err mh_engine_preview_check(const struct mh_wf *wf, json_t *stand_ins,
                                    struct mh_err_info *info)
{
    const char *id;
    json_t *v;
    char path[128];
    if (stand_ins == NULL || json_is_null(stand_ins))
        return MH_OK;
    if (!json_is_object(stand_ins))
        return mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                          "'stand_ins' must be an object: node id -> stand-in");
    json_object_foreach(stand_ins, id, v)
    {
        snprintf(path, sizeof(path), "/%.64s", id);
        /* A node, or a step of a for_each's item ("<for_each>[<index>].<body node>"). */
        const struct mh_wf *where = NULL;
        long i = mh_engine__wf_resolve(wf, id, &where);
        if (i < 0) {
            mh_err_set(info, MH_EINVAL, "stand_ins", -1, "there is no node '%.64s'", id);
            mh_err_set_path(info, path);
            return MH_EINVAL;
        }
        struct mh_err_info sub = MH_ERR_INFO_INIT;
        const struct mh_wf_node *n = &where->nodes[i];
        if (n->type->check_stand_in(n, v, &sub) != MH_OK) {
            mh_err_set(info, MH_EINVAL, "stand_ins", -1, "%s", sub.message);
            snprintf(path, sizeof(path), "/%.64s%.60s", id, sub.path);
            mh_err_set_path(info, path);
            return MH_EINVAL;
        }
    }
    return MH_OK;
}

enum mh_err mh_engine_preview(const struct mh_wf *wf, const struct mh_engine_preview_in *in,
                              json_t **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct preview p = {.wf = wf, .stand_ins = in->stand_ins, .seed = 1};
    struct mh_event *reports = NULL;
    size_t n_reports = 0, cap_reports = 0;
    struct mh_run_state *st = NULL;
    json_t *trigger = NULL;
    int64_t now = in->now_ms;
    *out = NULL;

    if ((rc = mh_engine_preview_check(wf, in->stand_ins, info)) != MH_OK)
        return rc;
    p.cap_events = 16;
    p.events = mh_xcalloc(p.cap_events, sizeof(*p.events));
    /* A pasted sample has no arrival time: it arrives now, as a test run's trigger would. */
    trigger = json_is_object(in->trigger) ? json_copy(in->trigger) : json_object();
    if (json_object_get(trigger, "received_at") == NULL) {
        char iso[40];
        mh_engine__format_rfc3339(now, iso, sizeof(iso));
        json_object_set_new(trigger, "received_at", json_string(iso));
    }
    rc = in->run_id
             ? mh_engine_event_run_started(in->run_id, in->workflow_id ? in->workflow_id : "",
                                           in->version, in->is_test, trigger, in->extra, now,
                                           &p.events[0], NULL)
             : mh_engine_event_run_started(PREVIEW_RUN_ID, in->workflow_id ? in->workflow_id : "",
                                           0, true, trigger, in->extra, now, &p.events[0], NULL);
    if (rc != MH_OK)
        goto out;
    p.n_events = 1;

    /* A wait_callback gets a URL that goes nowhere (a preview issues none), and a stood-in
     * one its callback first: held until its step starts. */
    for (size_t i = 0; i < wf->n_nodes && rc == MH_OK; i++) {
        json_t *standin = json_object_get(in->stand_ins, wf->nodes[i].id);
        if (wf->nodes[i].type->waits_for_callback) {
            if (p.callback_urls == NULL)
                p.callback_urls = json_object();
            json_object_set_new(p.callback_urls, wf->nodes[i].id,
                                json_pack("{s:s}", "url", PREVIEW_CALLBACK_URL));
        }
        if (standin != NULL && wf->nodes[i].type->waits_for_callback)
            rc = mh_engine_event_callback(wf->nodes[i].id, standin, now, now,
                                          report_slot(&reports, &n_reports, &cap_reports));
    }
    if (rc != MH_OK)
        goto out;
    /* Each round lets the engine run every pure step it can, then answers the outside work that
     * has a stand-in: the calls started in this round, or else the earliest stood-in timer
     * (a delay, or the backoff before a stood-in call's retry). Each round answers something,
     * and a call has at most 20 attempts, so the rounds are bounded; a for_each's items add
     * steps as they start, so the bound grows with the log. */
    size_t max_rounds = 64 + 48 * wf->n_nodes;
    for (size_t round = 0; round < max_rounds + 48 * p.n_events; round++) {
        struct mh_engine_result res = {0};
        struct mh_engine_input ein = {
            .now_ms = now,
            .random = preview_random,
            .random_ctx = &p.seed,
            .reports = reports,
            .n_reports = n_reports,
            .callback_urls = p.callback_urls,
        };
        rc = mh_engine_advance(wf, p.events, p.n_events, &ein, &res, info);
        for (size_t i = 0; i < n_reports; i++)
            mh_engine_event_cleanup(&reports[i]);
        n_reports = 0;
        if (rc != MH_OK) {
            mh_engine_result_cleanup(&res);
            goto out;
        }
        take_events(&p, &res);
        for (size_t a = 0; a < res.n_actions && rc == MH_OK; a++) {
            const struct mh_engine_action *act = &res.actions[a];
            json_t *standin = json_object_get(in->stand_ins, act->node_id);
            if (act->kind == MH_ACTION_HTTP && standin != NULL)
                rc = standin_report(standin, act, now,
                                    report_slot(&reports, &n_reports, &cap_reports));
            else if (act->kind == MH_ACTION_CALL && standin != NULL) /* the child's output */
                rc = mh_engine_event_child_finished(
                    act->node_id, act->attempt,
                    json_string_value(json_object_get(act->request, "child_run_id")), 0,
                    "succeeded", standin, NULL, now,
                    report_slot(&reports, &n_reports, &cap_reports));
        }
        mh_engine_result_cleanup(&res);
        if (rc != MH_OK)
            goto out;
        if (n_reports > 0)
            continue;
        mh_engine_state_destroy(st);
        st = NULL;
        if ((rc = mh_engine_fold(wf, p.events, p.n_events, &st, info)) != MH_OK)
            goto out;
        if (mh_engine__run_finished(st))
            break;
        int64_t wake = next_wake(st, in->stand_ins);
        if (wake == 0)
            break;
        /* The preview's clock jumps to the timer; it never goes back. */
        now = wake > now ? wake : now;
    }
    mh_engine_state_destroy(st);
    st = NULL;
    if ((rc = mh_engine_fold(wf, p.events, p.n_events, &st, info)) != MH_OK)
        goto out;

    json_t *steps = json_object(), *stopped = json_array(), *order = json_array();
    for (size_t i = 0; i < wf->n_nodes; i++) {
        bool is_stopped = false;
        json_object_set_new(steps, wf->nodes[i].id, step_json(&p, st, i, &is_stopped));
        if (is_stopped)
            json_array_append_new(stopped, json_string(wf->nodes[i].id));
    }
    /* The order in which the steps were decided: the first event of each. */
    for (size_t e = 1; e < p.n_events; e++) {
        const char *node = p.events[e].node_id;
        bool is_seen = node[0] == '\0';
        size_t k;
        json_t *v;
        json_array_foreach(order, k, v)
        {
            is_seen = is_seen || strcmp(json_string_value(v), node) == 0;
        }
        if (!is_seen)
            json_array_append_new(order, json_string(node));
    }
    bool is_finished = mh_engine__run_finished(st);
    json_t *r = json_pack("{s:s, s:o, s:o, s:o, s:O}", "status",
                          is_finished ? mh_engine_run_status_name(st->status) : "stopped", "steps",
                          steps, "order", order, "stopped_at", stopped, "trigger", st->trigger);
    if (st->output)
        json_object_set(r, "output", st->output);
    if (st->error)
        json_object_set(r, "error", st->error);
    *out = r;
out:
    json_decref(trigger);
    json_decref(p.callback_urls);
    for (size_t i = 0; i < n_reports; i++)
        mh_engine_event_cleanup(&reports[i]);
    free(reports);
    mh_engine_state_destroy(st);
    for (size_t i = 0; i < p.n_events; i++)
        mh_engine_event_cleanup(&p.events[i]);
    free(p.events);
    return rc;
}
