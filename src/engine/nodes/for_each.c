/* SPDX-License-Identifier: MIT */
/*
 * The for_each node: runs a sub-graph, its `body`, once for every element of an array a JMESPath
 * expression chooses, at most `concurrency` items at a time, and collects each item's result in
 * item order as its output. The body is a workflow of its own (nodes and edges, compiled and
 * validated with the workflow, errors pointing into it) whose steps are recorded in the run's
 * log under step ids of their own, "<node>[<index>].<body node>", so every item's steps are
 * durable like any step: a crash resumes at the first item not finished, an item's http_call
 * has an idempotency key of its own, and replay re-checks every item. The step records the items
 * it runs for when it starts (step_started's "items"), so what an item sees never depends on
 * re-evaluating the expression; items start in index order as earlier ones finish.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"For each\","
    "\"description\":\"Runs the body, a sub-graph, once for every element of an array: each "
    "item's steps see the item as `item` and its position as `index`; the output is the list "
    "of the items' results, in item order.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"items\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Items\","
    "\"description\":\"JMESPath over the context choosing the array to run the body for.\","
    "\"x-meshhook-syntax\":\"jmespath\",\"examples\":[\"trigger.body.line_items\"]},"
    "\"concurrency\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100,\"default\":10,"
    "\"title\":\"Concurrency\",\"description\":\"At most this many items run at once; the "
    "next starts as one finishes.\"},"
    "\"max_items\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10000,\"default\":1000,"
    "\"title\":\"Maximum items\",\"description\":\"More items than this fail the step (the "
    "server's cap is 10000).\"},"
    "\"output\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Item result\","
    "\"description\":\"JMESPath over an item's context once its body finished (every body "
    "step in steps, plus item and index). Default: the output of the body's last node.\","
    "\"x-meshhook-syntax\":\"jmespath\",\"examples\":[\"steps.call.output.body\"]},"
    "\"body\":{\"type\":\"object\",\"title\":\"Body\",\"x-meshhook-widget\":\"graph\","
    "\"description\":\"The sub-graph run for each item: nodes and edges as in a workflow. "
    "Its node ids differ from the workflow's; it may not hold terminate or another "
    "for_each.\","
    "\"properties\":{\"nodes\":{\"type\":\"array\",\"minItems\":1,\"maxItems\":100,"
    "\"items\":{\"type\":\"object\"}},\"edges\":{\"type\":\"array\",\"maxItems\":400,"
    "\"items\":{\"type\":\"object\"}}},"
    "\"required\":[\"nodes\"]}},"
    "\"required\":[\"items\",\"body\"],"
    "\"additionalProperties\":false}";

struct for_each {
    struct mh_jp_expr *items;
    struct mh_jp_expr *output; /* NULL: the body's sink */
    char *items_src;           /* for error messages */
    int64_t concurrency;
    int64_t max_items;
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static size_t compile_body(struct mh_wf_node *n, json_t *body, const char *path, json_t *errors);
static void release(void *impl);
static enum mh_err start(struct mh_advance *a, size_t i);
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress);
static void pending(struct mh_advance *a, size_t i);
static const char *admit(const struct mh_step_state *s, enum mh_node_event what);
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t i);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);
static void secret_refs(json_t *cfg, json_t *names);
static enum mh_err eval_items(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                              json_t **error);
static enum mh_err eval_results(const struct mh_wf_node *n, const struct mh_step_state *s,
                                json_t **out, json_t **error);
static json_t *item_failure(const struct mh_wf_node *n, const struct mh_step_state *s, size_t k);
static void sub_advance(struct mh_advance *a, size_t i, size_t k, struct mh_advance *sub);

const struct mh_node_type mh_engine__node_for_each = {
    .name = "for_each",
    .title = "For each",
    .description = "Runs a sub-graph for every element of an array, with bounded concurrency",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    .compile = compile,
    .release = release,
    .start = start,
    .resume = resume,
    .pending = pending,
    .admit = admit,
    .eval = mh_engine__node_eval_none,
    .replay = replay,
    .error_expr = error_expr,
    .check_stand_in = mh_engine__node_stand_in_none,
    .recorded_stand_in = mh_engine__node_recorded_none,
    .secret_refs = secret_refs,
    .reads = mh_engine__node_reads_all,
};

/* ---- Compiling ---------------------------------------------------------------------------- */

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct for_each *f = mh_xcalloc(1, sizeof(*f));
    n->impl = f;
    f->concurrency = mh_engine__int_or(cfg, "concurrency", 10);
    f->max_items = mh_engine__int_or(cfg, "max_items", 1000);
    const char *src = json_string_value(json_object_get(cfg, "items"));
    f->items_src = mh_xstrdup(src ? src : "");
    size_t nerr = mh_engine__compile_member(cfg, path, "items", n->id, &f->items, errors);
    if (json_object_get(cfg, "output") != NULL)
        nerr += mh_engine__compile_member(cfg, path, "output", n->id, &f->output, errors);
    char *bp = mh_engine__pointer_join(path, "body");
    nerr += compile_body(n, json_object_get(cfg, "body"), bp, errors);
    free(bp);
    return nerr;
}

/* Compiles the body as a workflow of its own; its errors point into the config (path + their
 * own pointer). Nesting is refused, and so is terminate, which ends a run, not an item. */
static size_t compile_body(struct mh_wf_node *n, json_t *body, const char *path, json_t *errors)
{
    size_t nerr = 0, k;
    json_t *jn, *berrs = NULL, *e;
    json_array_foreach(json_object_get(body, "nodes"), k, jn)
    {
        const char *type = json_string_value(json_object_get(jn, "type"));
        if (type == NULL || (strcmp(type, "for_each") != 0 && strcmp(type, "terminate") != 0 &&
                             strcmp(type, "wait_callback") != 0))
            continue;
        char p[64];
        snprintf(p, sizeof(p), "/nodes/%zu/type", k);
        char *full = mh_xmalloc(strlen(path) + strlen(p) + 1);
        memcpy(full, path, strlen(path));
        memcpy(full + strlen(path), p, strlen(p) + 1);
        mh_engine__add_error(errors, full, "invalid_body", n->id, -1,
                             strcmp(type, "for_each") == 0
                                 ? "a for_each body cannot hold another for_each (nesting is "
                                   "not supported; call a sub-workflow instead)"
                             : strcmp(type, "terminate") == 0
                                 ? "a for_each body cannot hold terminate: it ends a run, not "
                                   "an item"
                                 : "a for_each body cannot hold wait_callback: a callback URL "
                                   "is issued per run, not per item");
        free(full);
        nerr++;
    }
    if (nerr > 0)
        return nerr;
    if (mh_engine_wf_compile(body, &n->body, &berrs) == MH_OK)
        goto out;
    json_array_foreach(berrs, k, e)
    {
        const char *sub = json_string_value(json_object_get(e, "path"));
        json_t *copy = json_copy(e);
        char *full = mh_xmalloc(strlen(path) + strlen(sub ? sub : "") + 1);
        memcpy(full, path, strlen(path));
        memcpy(full + strlen(path), sub ? sub : "", strlen(sub ? sub : "") + 1);
        json_object_set_new(copy, "path", json_string(full));
        /* The editor finds the error on the for_each node; the body node stays named. */
        json_t *bnode = json_object_get(e, "node");
        if (bnode != NULL)
            json_object_set(copy, "body_node", bnode);
        json_object_set_new(copy, "node", json_string(n->id));
        json_array_append_new(errors, copy);
        free(full);
        nerr++;
    }
out:
    json_decref(berrs);
    return nerr;
}

static void release(void *impl)
{
    struct for_each *f = impl;
    if (f == NULL)
        return;
    mh_jp_expr_destroy(f->items);
    mh_jp_expr_destroy(f->output);
    free(f->items_src);
    free(f);
}

/* ---- Evaluating --------------------------------------------------------------------------- */

static const char *json_kind(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "a value";
}

/* The items of the step, new in *out; or MH_OK with *error set (new) when they are not an
 * array of at most max_items elements, or the expression failed. */
static enum mh_err eval_items(const struct mh_wf_node *n, json_t *ctx, json_t **out, json_t **error)
{
    const struct for_each *f = n->impl;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char msg[300];
    json_t *v = NULL;
    *out = *error = NULL;
    if (mh_jp_eval(f->items, ctx, &v, &info) != MH_OK) {
        *error = mh_engine__error_obj("jmespath", info.message);
        if (info.kind[0])
            json_object_set_new(*error, "jmespath_kind", json_string(info.kind));
        return MH_OK;
    }
    if (!json_is_array(v)) {
        snprintf(msg, sizeof(msg), "items expression \"%.200s\" gave %s, not an array",
                 f->items_src, json_kind(v));
        *error = json_pack("{s:s,s:o,s:s}", "kind", "not_array", "message", mh_engine__jstring(msg),
                           "member", "items");
    } else if ((int64_t)json_array_size(v) > f->max_items) {
        snprintf(msg, sizeof(msg),
                 "items expression \"%.200s\" gave %zu items; max_items is %" PRId64, f->items_src,
                 json_array_size(v), f->max_items);
        *error = json_pack("{s:s,s:o,s:s}", "kind", "limit", "message", mh_engine__jstring(msg),
                           "member", "items");
    }
    if (*error != NULL) {
        json_decref(v);
        return MH_OK;
    }
    *out = v;
    return MH_OK;
}

/* The body's sinks (nodes without outgoing edges): one gives its output (null when skipped),
 * several an object of those that ran, by id. */
static json_t *sink_result(const struct mh_run_state *it)
{
    const struct mh_wf *body = it->wf;
    size_t sinks = 0, last = 0;
    for (size_t j = 0; j < body->n_nodes; j++)
        if (body->nodes[j].n_out == 0) {
            sinks++;
            last = j;
        }
    if (sinks == 1)
        return json_incref(it->steps[last].output ? it->steps[last].output : json_null());
    json_t *o = json_object();
    for (size_t j = 0; j < body->n_nodes; j++)
        if (body->nodes[j].n_out == 0 && it->steps[j].status == MH_STEP_SUCCEEDED)
            json_object_set(o, body->nodes[j].id, it->steps[j].output);
    return o;
}

/* The results of a step whose items all succeeded, in item order. */
static enum mh_err eval_results(const struct mh_wf_node *n, const struct mh_step_state *s,
                                json_t **out, json_t **error)
{
    const struct for_each *f = n->impl;
    json_t *results = json_array();
    *out = *error = NULL;
    for (size_t k = 0; k < s->n_items; k++) {
        if (f->output == NULL) {
            json_array_append_new(results, sink_result(s->items[k]));
            continue;
        }
        struct mh_err_info info = MH_ERR_INFO_INIT;
        json_t *ctx = mh_engine__item_context(s->items[k]), *v = NULL;
        enum mh_err rc = mh_jp_eval(f->output, ctx, &v, &info);
        json_decref(ctx);
        if (rc != MH_OK) {
            char msg[400];
            snprintf(msg, sizeof(msg), "item %zu: output expression: %s", k, info.message);
            *error = json_pack("{s:s,s:o,s:I,s:s}", "kind", "jmespath", "message",
                               mh_engine__jstring(msg), "index", (json_int_t)k, "member", "output");
            json_decref(results);
            return MH_OK;
        }
        json_array_append_new(results, v);
    }
    *out = results;
    return MH_OK;
}

/* The error of a for_each whose item `k` failed: the failed body step, its error, and how many
 * items had succeeded (their steps' outcomes are in the log). */
static json_t *item_failure(const struct mh_wf_node *n, const struct mh_step_state *s, size_t k)
{
    const struct mh_run_state *it = s->items[k];
    const char *node = "";
    json_t *step_error = json_null();
    for (size_t j = 0; j < it->wf->n_nodes; j++)
        if (it->steps[j].status == MH_STEP_FAILED) {
            node = it->wf->nodes[j].id;
            step_error = it->steps[j].error ? it->steps[j].error : json_null();
            break;
        }
    size_t ok = 0;
    for (size_t m = 0; m < s->n_items; m++)
        ok += mh_engine__item_status(s->items[m]) == MH_STEP_SUCCEEDED;
    const char *m = json_string_value(json_object_get(step_error, "message"));
    char msg[400];
    snprintf(msg, sizeof(msg), "item %zu failed at step %s[%zu].%s: %s", k, n->id, k, node,
             m ? m : "error");
    return json_pack("{s:s,s:o,s:I,s:s,s:O,s:I,s:I}", "kind", "item_failed", "message",
                     mh_engine__jstring(msg), "index", (json_int_t)k, "node", node, "step_error",
                     step_error, "succeeded", (json_int_t)ok, "items", (json_int_t)s->n_items);
}

/* ---- Deciding ----------------------------------------------------------------------------- */

static enum mh_err start(struct mh_advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    json_t *ctx = mh_engine__context(a->st, i), *items = NULL, *error = NULL;
    enum mh_err rc = eval_items(n, ctx, &items, &error);
    json_decref(ctx);
    if (rc != MH_OK)
        return rc;
    if (error != NULL)
        return mh_engine__fail_step(a, i, 1, error, false);
    /* The items are recorded so that every later fold runs the body on exactly these. */
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    bool fits = mh_engine_canonical_json(items, &b) == MH_OK;
    mh_buf_cleanup(&b);
    if (!fits) {
        json_decref(items);
        char msg[128];
        snprintf(msg, sizeof(msg), "the items exceed %u bytes", MH_ENGINE_MAX_OUTPUT_BYTES);
        return mh_engine__fail_step(a, i, 1, mh_engine__error_obj("limit", msg), false);
    }
    size_t count = json_array_size(items);
    return mh_engine__emit(a, MH_EV_STEP_STARTED, (long)i, 1,
                           json_pack("{s:o,s:I}", "items", items, "count", (json_int_t)count));
}

/* The advance of item `k` of step `i`: the body over the item's state, its decisions going to
 * the run's log under the item's step ids. */
static void sub_advance(struct mh_advance *a, size_t i, size_t k, struct mh_advance *sub)
{
    *sub = (struct mh_advance){.wf = a->wf->nodes[i].body,
                               .st = a->st->steps[i].items[k],
                               .in = a->in,
                               .now = a->now,
                               .res = a->res,
                               .info = a->info,
                               .parent = a};
}

/*
 * Moves the items on in index order: finished items are passed over, running ones advanced,
 * and pending ones started while fewer than `concurrency` run. Since items start in order,
 * the ones started always form a prefix, so a crash resumes at the first one not finished.
 * When every item succeeded the step records the results; the first failed item (in index
 * order) fails the step, which is where error handling (an error edge) takes over.
 */
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    const struct for_each *f = n->impl;
    struct mh_step_state *s = &a->st->steps[i];
    int64_t in_flight = 0;
    bool all_done = true;
    if (s->status != MH_STEP_RUNNING)
        return MH_OK;
    for (size_t k = 0; k < s->n_items; k++) {
        enum mh_step_status is = mh_engine__item_status(s->items[k]);
        if (is == MH_STEP_SUCCEEDED)
            continue;
        if (is == MH_STEP_FAILED) {
            *progress = true;
            return mh_engine__fail_step(a, i, 1, item_failure(n, s, k), false);
        }
        if (is == MH_STEP_PENDING && in_flight >= f->concurrency) {
            all_done = false;
            break;
        }
        struct mh_advance sub;
        sub_advance(a, i, k, &sub);
        bool moved = true;
        while (moved && mh_engine__item_status(s->items[k]) != MH_STEP_FAILED &&
               mh_engine__item_status(s->items[k]) != MH_STEP_SUCCEEDED) {
            moved = false;
            enum mh_err rc = mh_engine__advance_steps(&sub, &moved);
            if (rc != MH_OK)
                return rc;
            *progress = *progress || moved;
        }
        is = mh_engine__item_status(s->items[k]);
        if (is == MH_STEP_FAILED) {
            *progress = true;
            return mh_engine__fail_step(a, i, 1, item_failure(n, s, k), false);
        }
        if (is != MH_STEP_SUCCEEDED) {
            in_flight++;
            all_done = false;
        }
    }
    if (!all_done)
        return MH_OK;
    json_t *results = NULL, *error = NULL;
    enum mh_err rc = eval_results(n, s, &results, &error);
    if (rc != MH_OK)
        return rc;
    *progress = true;
    if (error != NULL)
        return mh_engine__fail_step(a, i, 1, error, false);
    return mh_engine__succeed_step(a, i, 1, results, NULL);
}

static void pending(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status != MH_STEP_RUNNING)
        return;
    for (size_t k = 0; k < s->n_items; k++) {
        if (mh_engine__item_status(s->items[k]) != MH_STEP_RUNNING)
            continue;
        struct mh_advance sub;
        sub_advance(a, i, k, &sub);
        for (size_t j = 0; j < sub.wf->n_nodes; j++)
            sub.wf->nodes[j].type->pending(&sub, j);
    }
}

/* ---- Folding ------------------------------------------------------------------------------ */

static const char *admit(const struct mh_step_state *s, enum mh_node_event what)
{
    switch (what) {
    case MH_NODE_EV_START: return NULL;
    case MH_NODE_EV_ATTEMPT: return "a for_each step makes no http attempt of its own";
    case MH_NODE_EV_CALLBACK: return "only wait_callback steps take a callback";
    case MH_NODE_EV_TIMER: return "a timer is set only by a pending delay step";
    case MH_NODE_EV_SUCCEED:
        return s->status == MH_STEP_RUNNING && s->items != NULL
                   ? NULL
                   : "a for_each step succeeds only once started with its items";
    }
    return "unknown event";
}

/* ---- Replay ------------------------------------------------------------------------------- */

/* The items a step started with, and the results it succeeded with, are recomputed (the items
 * from the context; the results from the items' recorded steps); so are the failures that come
 * from the expressions. A failed item's own step is checked where it was recorded. */
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t i)
{
    const struct mh_wf_node *n = &r->wf->nodes[i];
    const struct mh_step_state *s = &r->st->steps[i];
    json_t *got = NULL, *error = NULL;
    if (strcmp(ev->type, MH_EV_STEP_STARTED) == 0 ||
        (strcmp(ev->type, MH_EV_STEP_FAILED) == 0 && s->status == MH_STEP_PENDING)) {
        json_t *ctx = mh_engine__context(r->st, i);
        if (eval_items(n, ctx, &got, &error) == MH_OK) {
            if (strcmp(ev->type, MH_EV_STEP_STARTED) == 0) {
                json_t *rec = json_object_get(ev->payload, "items");
                if (error != NULL)
                    mh_engine__replay_diverge(r, ev, "items", rec, error);
                else if (!mh_engine__json_same(rec, got))
                    mh_engine__replay_diverge(r, ev, "items", rec, got);
            } else {
                json_t *rec = json_object_get(ev->payload, "error");
                const char *kind = json_string_value(json_object_get(rec, "kind"));
                /* A "limit" of the recorded size depends on sizes alone. */
                if (error == NULL ? kind == NULL || strcmp(kind, "limit") != 0
                                  : !mh_engine__json_same(json_object_get(rec, "message"),
                                                          json_object_get(error, "message")))
                    mh_engine__replay_diverge(r, ev, "error", rec, error ? error : got);
            }
        }
        json_decref(ctx);
    } else if (strcmp(ev->type, MH_EV_STEP_SUCCEEDED) == 0) {
        json_t *rec = json_object_get(ev->payload, "output");
        if (eval_results(n, s, &got, &error) == MH_OK) {
            if (error != NULL)
                mh_engine__replay_diverge(r, ev, "output", rec, error);
            else if (!mh_engine__json_same(rec, got))
                mh_engine__replay_diverge(r, ev, "output", rec, got);
        }
    }
    json_decref(got);
    json_decref(error);
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct for_each *f = n->impl;
    *member = "items";
    return f->items;
}

/* The secrets the body's nodes name. */
static void secret_refs(json_t *cfg, json_t *names)
{
    size_t k;
    json_t *jn;
    json_array_foreach(json_object_get(json_object_get(cfg, "body"), "nodes"), k, jn)
    {
        const char *type = json_string_value(json_object_get(jn, "type"));
        const struct mh_node_type *t = type ? mh_engine__node_type(type) : NULL;
        json_t *bcfg = json_object_get(jn, "config");
        if (t != NULL && t != &mh_engine__node_for_each && json_is_object(bcfg))
            t->secret_refs(bcfg, names);
    }
}
