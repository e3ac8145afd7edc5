/* SPDX-License-Identifier: MIT */
/*
 * Testing a draft against a recorded run (docs/api.md, "Testing a draft against past
 * deliveries"): the draft is previewed (preview.c) on the trigger the run recorded, as that run
 * (its id, version and start time), with every step that waits on the outside world answered by
 * what the run recorded for the node of the same id -- each node type says what that is
 * (`recorded_stand_in`). Then the draft's steps are compared with the run's, node by node. Pure
 * like the rest of the engine: nothing is sent, stored or waited for.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* At most this many differing JSON pointers are listed per node. */
#define MAX_PATHS 20

static void diff_paths(json_t *a, json_t *b, const char *ptr, json_t *paths);
static bool same_error(json_t *a, json_t *b);
static json_t *side(json_t *step);
static json_t *compare_node(json_t *pub, json_t *dr, bool has_standin, bool *is_equal);
static void add_item_stand_ins(const struct mh_wf *draft, const struct mh_event *events, size_t n,
                               json_t *stand_ins);

/* Appends to `paths` the JSON pointers (below `ptr`) at which a and b differ, at most
 * MAX_PATHS: the deepest member or element where they part, or `ptr` itself. */
static void diff_paths(json_t *a, json_t *b, const char *ptr, json_t *paths)
{
    char sub[512];
    if (json_array_size(paths) >= MAX_PATHS || json_equal(a, b))
        return;
    if (json_is_object(a) && json_is_object(b)) {
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
            snprintf(sub, sizeof(sub), "%s/%s", ptr, k);
            json_t *w = json_object_get(b, k);
            if (w == NULL) {
                if (json_array_size(paths) < MAX_PATHS)
                    json_array_append_new(paths, json_string(sub));
            } else {
                diff_paths(v, w, sub, paths);
            }
        }
        json_object_foreach(b, k, v)
        {
            snprintf(sub, sizeof(sub), "%s/%s", ptr, k);
            if (json_object_get(a, k) == NULL && json_array_size(paths) < MAX_PATHS)
                json_array_append_new(paths, json_string(sub));
        }
        return;
    }
    if (json_is_array(a) && json_is_array(b) && json_array_size(a) == json_array_size(b)) {
        for (size_t i = 0; i < json_array_size(a); i++) {
            snprintf(sub, sizeof(sub), "%s/%zu", ptr, i);
            diff_paths(json_array_get(a, i), json_array_get(b, i), sub, paths);
        }
        return;
    }
    json_array_append_new(paths, json_string(ptr));
}

/* Errors are the same when their kind and message are: a preview adds where a JMESPath error
 * points (path, offset) for the editor, which a recorded run's error does not carry. */
static bool same_error(json_t *a, json_t *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    return json_equal(json_object_get(a, "kind"), json_object_get(b, "kind")) &&
           json_equal(json_object_get(a, "message"), json_object_get(b, "message"));
}

/* What the answer shows of one side's step: {"status", "output"?, "error"?} (new). */
static json_t *side(json_t *step)
{
    json_t *o = json_pack("{s:O}", "status", json_object_get(step, "status"));
    if (json_object_get(step, "output") != NULL)
        json_object_set(o, "output", json_object_get(step, "output"));
    if (json_object_get(step, "error") != NULL)
        json_object_set(o, "error", json_object_get(step, "error"));
    return o;
}

/* One node's comparison (new); either side may be NULL (the node is only on the other). */
static json_t *compare_node(json_t *pub, json_t *dr, bool has_standin, bool *is_equal)
{
    json_t *po = json_object_get(pub, "output"), *dout = json_object_get(dr, "output");
    *is_equal = pub != NULL && dr != NULL &&
                json_equal(json_object_get(pub, "status"), json_object_get(dr, "status")) &&
                (po == NULL ? dout == NULL : dout != NULL && json_equal(po, dout)) &&
                same_error(json_object_get(pub, "error"), json_object_get(dr, "error"));
    json_t *o = json_pack("{s:b}", "equal", *is_equal);
    if (has_standin)
        json_object_set_new(o, "stand_in", json_true());
    if (*is_equal) {
        json_object_set(o, "status", json_object_get(pub, "status"));
        return o;
    }
    json_object_set_new(o, "published", pub ? side(pub) : json_null());
    json_object_set_new(o, "draft", dr ? side(dr) : json_null());
    if (po != NULL && dout != NULL) {
        json_t *paths = json_array();
        diff_paths(po, dout, "", paths);
        json_object_set_new(o, "paths", paths);
    }
    return o;
}

/*
 * The stand-ins of the steps of for_each items ("lines[3].reserve"): for each such step the run
 * recorded, what the draft's body node of that id takes from the step's own events. One pass
 * groups the events by step, so a run of many items costs a scan of its log, not one per item.
 */
static void add_item_stand_ins(const struct mh_wf *draft, const struct mh_event *events, size_t n,
                               json_t *stand_ins)
{
    json_t *by_step = json_object(); /* step id -> [event index...] */
    for (size_t k = 0; k < n; k++) {
        const char *id = events[k].node_id;
        if (strchr(id, '[') == NULL)
            continue;
        json_t *list = json_object_get(by_step, id);
        if (list == NULL) {
            const struct mh_wf *body = NULL;
            if (mh_engine__wf_resolve(draft, id, &body) < 0)
                continue; /* not a step of the draft */
            list = json_array();
            json_object_set_new(by_step, id, list);
        }
        json_array_append_new(list, json_integer((json_int_t)k));
    }
    const char *id;
    json_t *list;
    struct mh_event *mine = NULL;
    json_object_foreach(by_step, id, list)
    {
        const struct mh_wf *body = NULL;
        long j = mh_engine__wf_resolve(draft, id, &body);
        size_t m = json_array_size(list);
        /* The step's events (shallow copies: read only), seen by the body node as its own. */
        mine = mh_xrealloc(mine, m * sizeof(*mine));
        for (size_t k = 0; k < m; k++)
            mine[k] = events[json_integer_value(json_array_get(list, k))];
        struct mh_wf_node node = body->nodes[j];
        node.id = (char *)id;
        json_t *v = node.type->recorded_stand_in(&node, mine, m);
        if (v != NULL)
            json_object_set_new(stand_ins, id, v);
    }
    free(mine);
    json_decref(by_step);
}

enum mh_err mh_engine_draft_compare(const struct mh_wf *draft, const struct mh_wf *published,
                                    const struct mh_event *events, size_t n, json_t **out,
                                    struct mh_err_info *info)
{
    struct mh_run_state *st = NULL;
    json_t *pub = NULL, *dr = NULL, *stand_ins = NULL, *extra = NULL;
    *out = NULL;
    if (n == 0 || strcmp(events[0].type, MH_EV_RUN_STARTED) != 0)
        return mh_err_set(info, MH_EINVAL, "log", -1,
                          "the run's log does not start with run_started");
    enum mh_err rc = mh_engine_fold(published, events, n, &st, info);
    if (rc != MH_OK)
        return rc;
    pub = mh_engine_state_to_json(st);
    mh_engine_state_destroy(st);

    stand_ins = json_object();
    for (size_t i = 0; i < draft->n_nodes; i++) {
        const struct mh_wf_node *node = &draft->nodes[i];
        json_t *v = node->type->recorded_stand_in(node, events, n);
        if (v != NULL)
            json_object_set_new(stand_ins, node->id, v);
    }
    add_item_stand_ins(draft, events, n, stand_ins);
    json_t *p0 = events[0].payload;
    json_t *delivery = json_object_get(p0, "delivery");
    if (delivery != NULL)
        extra = json_pack("{s:O}", "delivery", delivery);
    struct mh_engine_preview_in in = {
        .trigger = json_object_get(p0, "trigger"),
        .extra = extra,
        .stand_ins = stand_ins,
        .workflow_id = json_string_value(json_object_get(p0, "workflow_id")),
        .now_ms = events[0].at_ms,
        .run_id = json_string_value(json_object_get(p0, "run_id")),
        .version = json_integer_value(json_object_get(p0, "version")),
        .is_test = json_is_true(json_object_get(p0, "is_test")),
    };
    if (in.run_id == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "log", -1, "the run_started event names no run");
        goto out;
    }
    if ((rc = mh_engine_preview(draft, &in, &dr, info)) != MH_OK)
        goto out;

    json_t *nodes = json_object(), *psteps = json_object_get(pub, "steps");
    json_t *dsteps = json_object_get(dr, "steps");
    bool differs = false, is_equal;
    const char *id;
    json_t *v;
    for (size_t i = 0; i < draft->n_nodes; i++) {
        id = draft->nodes[i].id;
        json_object_set_new(nodes, id,
                            compare_node(json_object_get(psteps, id), json_object_get(dsteps, id),
                                         json_object_get(stand_ins, id) != NULL, &is_equal));
        differs = differs || !is_equal;
    }
    json_object_foreach(psteps, id, v)
    {
        if (json_object_get(nodes, id) != NULL)
            continue;
        json_object_set_new(nodes, id, compare_node(v, NULL, false, &is_equal));
        differs = true;
    }
    json_t *run = compare_node(pub, dr, false, &is_equal);
    differs = differs || !is_equal;
    json_t *r = json_pack("{s:b, s:O, s:o, s:o}", "differs", differs, "not_simulated",
                          json_object_get(dr, "stopped_at"), "run", run, "nodes", nodes);
    *out = r;
out:
    json_decref(extra);
    json_decref(stand_ins);
    json_decref(dr);
    json_decref(pub);
    return rc;
}
