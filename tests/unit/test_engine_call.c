/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the call_workflow node (docs/workflows.md, "Sub-workflows"): the call a step
 * records and asks the caller to make, the child's end reported as child_finished (its output
 * becomes the step's, its failure takes the error edge), what a report for another child or a
 * second report does, the outstanding call after a crash (mh_engine_pending), replay, the
 * draft test's stand-in and the list of calls a definition makes (the save-time cycle check).
 */
#include "engine/engine_internal.h"
#include "test_engine_helpers.h"

/* The draft test's stand-in for node `id` (the type's recorded_stand_in). */
static json_t *recorded_stand_in(const struct mh_wf *wf, const char *id, const struct mh_event *ev,
                                 size_t n)
{
    long i = mh_engine__node_index(wf, id);
    MH_T_ASSERT(i >= 0);
    return wf->nodes[i].type->recorded_stand_in(&wf->nodes[i], ev, n);
}

#define CHILD_WF "0190a0b0-0000-7000-8000-00000000000a"

static const struct mh_engine_action *find_kind(const struct mh_engine_result *r,
                                                enum mh_engine_action_kind kind)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == kind)
            return &r->actions[i];
    return NULL;
}

static void assert_replays_ok(const struct mh_wf *wf, const struct tlog *l)
{
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", jtext(report));
    json_decref(report);
}

/* Starts the run and returns the child's run id the call names (static buffer). */
static const char *start_call(const struct mh_wf *wf, struct tlog *l)
{
    static char id[64];
    struct mh_engine_result r;
    tlog_start(l, "{\"id\": \"o-1\"}");
    advance_at(wf, l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    const struct mh_engine_action *c = find_kind(&r, MH_ACTION_CALL);
    MH_T_ASSERT(c != NULL);
    MH_T_ASSERT_STR_EQ(c->node_id, "child");
    MH_T_ASSERT_EQ(c->attempt, 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(c->request, "workflow_id")), CHILD_WF);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(c->request, "version")), "latest");
    ASSERT_JSON_EQ(json_object_get(c->request, "input"), "{\"order\": \"o-1\", \"n\": 2}");
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(c->request, "child_run_id")));
    MH_T_ASSERT_EQ(strlen(id), 36);
    /* The step recorded the same call. */
    long si = tlog_find(l, MH_EV_STEP_STARTED, "child");
    MH_T_ASSERT(si > 0);
    MH_T_ASSERT(mh_engine__json_same(json_object_get(l->ev[si].payload, "request"), c->request));
    mh_engine_result_cleanup(&r);
    return id;
}

MH_TEST(engine_call_child_output_becomes_the_step_output)
{
    struct mh_wf *wf = compile_fixture("call_workflow.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    MH_T_ASSERT(mh_engine_wf_has_calls(wf));
    const char *child = start_call(wf, &l);
    char child_id[64];
    snprintf(child_id, sizeof(child_id), "%s", child);

    /* A crash now: the call is still outstanding, naming the same child. */
    struct mh_engine_result pend = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &pend, &info), MH_OK);
    const struct mh_engine_action *pc = find_kind(&pend, MH_ACTION_CALL);
    MH_T_ASSERT(pc != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(pc->request, "child_run_id")), child_id);
    mh_engine_result_cleanup(&pend);

    /* Advancing again without a report starts nothing new. */
    advance_at(wf, &l, T0 + 5, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT(find_kind(&r, MH_ACTION_CALL) == NULL);
    mh_engine_result_cleanup(&r);

    /* A report naming another child is ignored. */
    struct mh_event rep;
    json_t *out = json_pack("{s:i}", "total", 42);
    MH_T_ASSERT_EQ(mh_engine_event_child_finished("child", 1,
                                                  "00000000-0000-8000-8000-000000000000", 3,
                                                  "succeeded", out, NULL, T0 + 8, &rep),
                   MH_OK);
    advance_at(wf, &l, T0 + 8, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&rep);

    MH_T_ASSERT_EQ(mh_engine_event_child_finished("child", 1, child_id, 3, "succeeded", out, NULL,
                                                  T0 + 10, &rep),
                   MH_OK);
    advance_at(wf, &l, T0 + 10, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    long fi = tlog_find(&l, MH_EV_CHILD_FINISHED, "child");
    MH_T_ASSERT(fi > 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(l.ev[fi].payload, "version")), 3);
    long si = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "child");
    MH_T_ASSERT(si > fi);
    ASSERT_JSON_EQ(json_object_get(l.ev[si].payload, "output"), "{\"total\": 42}");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(l.ev[si].payload, "child_run_id")),
                       child_id);
    const struct mh_engine_action *fin = find_kind(&r, MH_ACTION_FINISHED);
    MH_T_ASSERT(fin != NULL);
    ASSERT_JSON_EQ(fin->output, "{\"done\": {\"total\": 42}}");
    mh_engine_result_cleanup(&r);

    /* The same report again (a second worker) changes nothing. */
    advance_at(wf, &l, T0 + 12, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&rep);
    json_decref(out);

    assert_replays_ok(wf, &l);

    /* The draft test's stand-in is what the child returned. */
    json_t *stand = recorded_stand_in(wf, "child", l.ev, l.n);
    ASSERT_JSON_EQ(stand, "{\"total\": 42}");
    json_decref(stand);

    /* A log whose recorded output is not the child's diverges. */
    json_t *p = json_object_get(l.ev[si].payload, "output");
    json_object_set_new(p, "total", json_integer(7));
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_call_child_failure_takes_the_error_edge)
{
    struct mh_wf *wf = compile_fixture("call_workflow.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    char child_id[64];
    snprintf(child_id, sizeof(child_id), "%s", start_call(wf, &l));
    struct mh_event rep;
    json_t *err = json_pack("{s:s, s:s}", "kind", "http_status", "message", "HTTP 500");
    MH_T_ASSERT_EQ(
        mh_engine_event_child_finished("child", 1, child_id, 2, "failed", NULL, err, T0 + 10, &rep),
        MH_OK);
    advance_at(wf, &l, T0 + 10, NULL, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    json_decref(err);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "child");
    MH_T_ASSERT(fi > 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(l.ev[fi].payload, "handled")),
                       "error_edge");
    json_t *e = json_object_get(l.ev[fi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e, "kind")), "child_failed");
    MH_T_ASSERT(strstr(json_string_value(json_object_get(e, "message")), "HTTP 500") != NULL);
    ASSERT_JSON_EQ(json_object_get(e, "child_error"),
                   "{\"kind\": \"http_status\", \"message\": \"HTTP 500\"}");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "done") > fi);
    long hi = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "handle");
    MH_T_ASSERT(hi > fi);
    char want[256];
    snprintf(want, sizeof(want), "{\"kind\": \"child_failed\", \"child\": \"%s\"}", child_id);
    ASSERT_JSON_EQ(json_object_get(l.ev[hi].payload, "output"), want);
    mh_engine_result_cleanup(&r);
    assert_replays_ok(wf, &l);
    /* A failed child gives a draft test nothing to stand in with. */
    MH_T_ASSERT(recorded_stand_in(wf, "child", l.ev, l.n) == NULL);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* A call the caller could not make (no published version, the depth limit) fails the step with
 * the caller's message, kind "call"; without an error edge the run fails. */
MH_TEST(engine_call_refused_fails_the_run_without_error_edge)
{
    json_t *def = load_fixture("call_workflow.json");
    json_array_remove(json_object_get(def, "edges"), 2);
    json_array_remove(json_object_get(def, "nodes"), 3);
    json_t *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    struct tlog l = {0};
    struct mh_engine_result r;
    char child_id[64];
    snprintf(child_id, sizeof(child_id), "%s", start_call(wf, &l));
    json_t *err =
        json_pack("{s:s, s:s}", "kind", "call", "message", "sub-workflow depth limit (8) reached");
    struct mh_event rep;
    MH_T_ASSERT_EQ(
        mh_engine_event_child_finished("child", 1, child_id, 0, "failed", NULL, err, T0 + 3, &rep),
        MH_OK);
    advance_at(wf, &l, T0 + 3, NULL, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    json_decref(err);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    const struct mh_engine_action *fin = find_kind(&r, MH_ACTION_FINISHED);
    MH_T_ASSERT(fin != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(fin->error, "kind")), "step_failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(fin->error, "message")),
                       "step child failed: sub-workflow depth limit (8) reached");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(fin->error, "step_error"), "kind")),
        "call");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(fin->error, "node")), "child");
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, "child"));
    mh_engine_result_cleanup(&r);
    assert_replays_ok(wf, &l);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* The fixture with the call's input set to `input`. */
static struct mh_wf *call_with_input(const char *input)
{
    json_t *def = load_fixture("call_workflow.json");
    json_t *cfg = json_object_get(json_array_get(json_object_get(def, "nodes"), 1), "config");
    json_object_set_new(cfg, "input", json_string(input));
    json_t *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    return wf;
}

/* The divergences replaying `l` with `wf` reports for `node` (field `field`). */
static size_t divergences_of(const struct mh_wf *wf, const struct tlog *l, const char *node,
                             const char *field)
{
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &report), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "chain_breaks")), 0);
    size_t k, found = 0;
    json_t *d;
    json_array_foreach(json_object_get(report, "divergences"), k, d)
    {
        found += strcmp(json_string_value(json_object_get(d, "node")), node) == 0 &&
                 strcmp(json_string_value(json_object_get(d, "field")), field) == 0;
    }
    json_decref(report);
    return found;
}

/* A call whose input fails at decision time fails before it starts (kind jmespath, no child);
 * replay recomputes that failure: the same definition replays clean, one whose input now
 * evaluates (or fails otherwise) is reported. */
MH_TEST(engine_call_input_failure_is_replayed)
{
    struct mh_wf *wf = call_with_input("abs(trigger.body.id)");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"id\": \"o-1\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT(find_kind(&r, MH_ACTION_CALL) == NULL);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(tlog_find(&l, MH_EV_STEP_STARTED, "child"), -1);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "child");
    MH_T_ASSERT(fi > 0);
    json_t *e = json_object_get(l.ev[fi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e, "kind")), "jmespath");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "handle") > fi);
    assert_replays_ok(wf, &l);
    MH_T_ASSERT_EQ(divergences_of(wf, &l, "child", "error"), 0);

    /* The input evaluates now: the step would have started a call, not failed. */
    struct mh_wf *fixed = call_with_input("trigger.body");
    MH_T_ASSERT_EQ(divergences_of(fixed, &l, "child", "error"), 1);
    /* The input fails otherwise now: another message. */
    struct mh_wf *other = call_with_input("to_array(trigger.body.id) | sum(@)");
    MH_T_ASSERT_EQ(divergences_of(other, &l, "child", "error"), 1);
    mh_engine_wf_unref(other);
    mh_engine_wf_unref(fixed);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* The child's run id depends on the run and the step alone. */
MH_TEST(engine_call_child_id_is_stable)
{
    struct mh_wf *wf = compile_fixture("call_workflow.json");
    struct tlog a = {0}, b = {0};
    char first[64];
    snprintf(first, sizeof(first), "%s", start_call(wf, &a));
    MH_T_ASSERT_STR_EQ(start_call(wf, &b), first);
    MH_T_ASSERT(first[14] == '8'); /* version 8 */
    tlog_free(&a);
    tlog_free(&b);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_call_calls_of_lists_every_call)
{
    json_t *def = json_loads(
        "{\"nodes\": [{\"id\": \"a\", \"type\": \"call_workflow\", \"config\": {\"workflow_id\": "
        "\"W1\", \"version\": 4}}, {\"id\": \"loop\", \"type\": \"for_each\", \"config\": "
        "{\"items\": \"x\", \"body\": {\"nodes\": [{\"id\": \"b\", \"type\": \"call_workflow\", "
        "\"config\": {\"workflow_id\": \"W2\"}}], \"edges\": []}}}], \"edges\": []}",
        0, NULL);
    json_t *calls = mh_engine_calls_of(def);
    ASSERT_JSON_EQ(calls, "[{\"node\": \"a\", \"path\": \"/nodes/0/config/workflow_id\", "
                          "\"workflow_id\": \"W1\", \"version\": 4}, {\"node\": \"b\", \"path\": "
                          "\"/nodes/1/config/body/nodes/0/config/workflow_id\", \"workflow_id\": "
                          "\"W2\", \"version\": \"latest\"}]");
    json_decref(calls);
    json_decref(def);
}

/* A preview stands the child in with the output given. */
MH_TEST(engine_call_preview_takes_a_stand_in)
{
    struct mh_wf *wf = compile_fixture("call_workflow.json");
    json_t *trigger = json_pack("{s:{s:s}, s:{}, s:{}}", "body", "id", "o-9", "headers", "query");
    json_t *stand = json_pack("{s:{s:i}}", "child", "total", 5);
    struct mh_engine_preview_in in = {.trigger = trigger, .stand_ins = stand, .now_ms = T0};
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "succeeded");
    ASSERT_JSON_EQ(json_object_get(out, "output"), "{\"done\": {\"total\": 5}}");
    json_decref(out);
    /* Without one the preview stops at the call. */
    in.stand_ins = NULL;
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "stopped");
    json_decref(out);
    json_decref(stand);
    json_decref(trigger);
    mh_engine_wf_unref(wf);
}
