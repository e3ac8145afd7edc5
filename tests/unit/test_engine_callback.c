/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the wait_callback node (nodes/wait_callback.c): the URLs issued before any step
 * runs and seen by every step, a callback taken while the step waits or held when it comes
 * first, one callback per step, the timeout failing the step onto its error edge, the fold and
 * replay of such runs, the draft test's recorded stand-in, and what validation refuses.
 */
#include "test_engine_helpers.h"

#define URL "https://hooks.example.com/callbacks/run-1.approve.MAC"

static json_t *urls(void)
{
    return json_pack("{s:{s:s}}", "approve", "url", URL);
}

/* Advances with the callback URLs and optional reports; appends the new events to the log. */
static void advance_cb(const struct mh_wf *wf, struct tlog *l, int64_t now,
                       const struct mh_event *reports, size_t n_reports,
                       struct mh_engine_result *res)
{
    json_t *u = urls();
    struct mh_engine_input in = {
        .now_ms = now, .reports = reports, .n_reports = n_reports, .callback_urls = u};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    memset(res, 0, sizeof(*res));
    if (mh_engine_advance(wf, l->ev, l->n, &in, res, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "advance failed: %s", info.message);
    for (size_t i = 0; i < res->n_events; i++)
        tlog_push(l, &res->events[i]);
    json_decref(u);
}

static void callback(struct mh_event *ev, const char *body_json, int64_t at)
{
    json_t *body = json_loads(body_json, JSON_DECODE_ANY, NULL);
    MH_T_ASSERT(body != NULL);
    MH_T_ASSERT_EQ(mh_engine_event_callback("approve", body, at, at, ev), MH_OK);
    json_decref(body);
}

static void assert_replays(const struct mh_wf *wf, const struct tlog *l)
{
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok"))) {
        char *s = json_dumps(report, JSON_COMPACT);
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", s);
    }
    json_decref(report);
}

MH_TEST(engine_callback_delivers_body_and_run_finishes)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": 7}");
    advance_cb(wf, &l, T0, NULL, 0, &r);
    /* The URLs first, then the step that hands it out, then the wait with its deadline. */
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_CALLBACKS_ISSUED);
    MH_T_ASSERT_STR_EQ(r.events[1].type, MH_EV_STEP_SUCCEEDED);
    ASSERT_JSON_EQ(json_object_get(r.events[1].payload, "output"),
                   "{\"callback_url\": \"" URL "\", \"order\": 7}");
    MH_T_ASSERT_STR_EQ(r.events[2].type, MH_EV_TIMER_SET);
    MH_T_ASSERT_STR_EQ(r.events[2].node_id, "approve");
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 3600 * 1000);
    mh_engine_result_cleanup(&r);

    /* Issued once: a later advance with the URLs records nothing. */
    advance_cb(wf, &l, T0 + 10, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);

    struct mh_event cb;
    callback(&cb, "{\"approved\": true}", T0 + 1000);
    advance_cb(wf, &l, T0 + 1000, &cb, 1, &r);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_CALLBACK_RECEIVED);
    MH_T_ASSERT_STR_EQ(r.events[1].type, MH_EV_STEP_SUCCEEDED);
    ASSERT_JSON_EQ(json_object_get(r.events[1].payload, "output"), "{\"approved\": true}");
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"done\": {\"approved\": true, \"url\": \"" URL "\"}}");
    mh_engine_result_cleanup(&r);

    /* A second callback no longer applies. */
    advance_cb(wf, &l, T0 + 2000, &cb, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&cb);

    assert_replays(wf, &l);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_before_the_step_is_held)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": 8}");
    struct mh_event cb;
    callback(&cb, "{\"approved\": false}", T0);
    /* The provider answered before the run reached the wait: the step takes it when it starts. */
    advance_cb(wf, &l, T0, &cb, 1, &r);
    mh_engine_event_cleanup(&cb);
    MH_T_ASSERT_EQ(r.n_ignored, 0);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    MH_T_ASSERT(tlog_find(&l, MH_EV_CALLBACK_RECEIVED, "approve") <
                tlog_find(&l, MH_EV_TIMER_SET, "approve"));
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"done\": {\"approved\": false, \"url\": \"" URL "\"}}");
    mh_engine_result_cleanup(&r);
    assert_replays(wf, &l);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_timeout_takes_error_edge)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": 9}");
    advance_cb(wf, &l, T0, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    advance_cb(wf, &l, T0 + 3600 * 1000 - 1, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);

    advance_cb(wf, &l, T0 + 3600 * 1000, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    long f = tlog_find(&l, MH_EV_STEP_FAILED, "approve");
    MH_T_ASSERT(f > 0);
    json_t *err = json_object_get(l.ev[f].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "timeout");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "message")),
                       "no callback arrived within 1h (timed out at 2023-11-14T23:13:20.000Z)");
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output, "{\"expired\": \"timeout\"}");
    mh_engine_result_cleanup(&r);

    /* A callback after the timeout no longer applies. */
    struct mh_event cb;
    callback(&cb, "{\"approved\": true}", T0 + 3600 * 1000 + 5);
    advance_cb(wf, &l, T0 + 3600 * 1000 + 5, &cb, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&cb);
    assert_replays(wf, &l);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_without_url_fails_clearly)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": 1}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r); /* no callback_urls: the server has no key */
    mh_engine_result_cleanup(&r);
    long f = tlog_find(&l, MH_EV_STEP_FAILED, "approve");
    MH_T_ASSERT(f > 0);
    json_t *err = json_object_get(l.ev[f].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "callback_unavailable");
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_no_pure_prefix_and_pending_timer)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    tlog_start(&l, "{\"order\": 1}");
    /* The intake cannot issue URLs: it leaves such a run to the worker. */
    MH_T_ASSERT_EQ(mh_engine_advance_pure(wf, l.ev, l.n, T0, &r, &info), MH_OK);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);
    /* After a crash the worker re-arms the deadline. */
    advance_cb(wf, &l, T0, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &r, &info), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_TIMER);
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 3600 * 1000);
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_draft_test_uses_recorded_body)
{
    struct mh_wf *wf = compile_fixture("wait_callback.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": 3}");
    advance_cb(wf, &l, T0, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    struct mh_event cb;
    callback(&cb, "{\"approved\": true}", T0 + 50);
    advance_cb(wf, &l, T0 + 50, &cb, 1, &r);
    mh_engine_event_cleanup(&cb);
    mh_engine_result_cleanup(&r);
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_draft_compare(wf, wf, l.ev, l.n, &out, &info), MH_OK);
    json_t *approve = json_object_get(json_object_get(out, "nodes"), "approve");
    MH_T_ASSERT(json_is_true(json_object_get(approve, "stand_in")) ||
                json_is_true(json_object_get(approve, "equal")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(out, "not_simulated")), 0);
    /* The draft's URL is a preview's, so only the step quoting it differs. */
    json_t *done = json_object_get(json_object_get(out, "nodes"), "done");
    MH_T_ASSERT(json_object_get(done, "equal") != NULL);
    json_decref(out);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_callback_validation)
{
    json_t *errors = NULL;
    json_t *bad = json_loads("{\"nodes\": [{\"id\": \"w\", \"type\": \"wait_callback\", "
                             "\"config\": {\"timeout\": \"soon\"}}], \"edges\": []}",
                             0, NULL);
    MH_T_ASSERT_EQ(mh_engine_wf_validate(bad, &errors), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "path")),
                       "/nodes/0/config/timeout");
    json_decref(errors);
    json_decref(bad);
    bad = json_loads("{\"nodes\": [{\"id\": \"w\", \"type\": \"wait_callback\", \"config\": {}, "
                     "\"retry\": {\"max_attempts\": 2}}], \"edges\": []}",
                     0, NULL);
    MH_T_ASSERT_EQ(mh_engine_wf_validate(bad, &errors), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "path")),
                       "/nodes/0/retry");
    json_decref(errors);
    json_decref(bad);
    bad = json_loads("{\"nodes\": [{\"id\": \"l\", \"type\": \"for_each\", \"config\": "
                     "{\"items\": \"trigger.body\", \"body\": {\"nodes\": [{\"id\": \"w\", "
                     "\"type\": \"wait_callback\", \"config\": {}}]}}}], \"edges\": []}",
                     0, NULL);
    MH_T_ASSERT_EQ(mh_engine_wf_validate(bad, &errors), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "path")),
                       "/nodes/0/config/body/nodes/0/type");
    json_decref(errors);
    json_decref(bad);
}

/* The example of docs/workflows.md "wait_callback", extracted from the document, run down both
 * outcomes the guide describes. */
static json_t *doc_example(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/workflows.md", mh_t_repo_dir());
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    char *doc = mh_xcalloc(1, 1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    char *sec = strstr(doc, "### wait_callback");
    MH_T_ASSERT(sec != NULL);
    char *start = strstr(sec, "```json\n");
    MH_T_ASSERT(start != NULL);
    start += 8;
    char *end = strstr(start, "```");
    MH_T_ASSERT(end != NULL && n > 0);
    json_t *def = json_loadb(start, (size_t)(end - start), 0, NULL);
    MH_T_ASSERT(def != NULL);
    free(doc);
    return def;
}

MH_TEST(engine_callback_docs_example_runs_as_described)
{
    json_t *def = doc_example(), *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    for (int answered = 0; answered <= 1; answered++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        struct mh_event rep;
        tlog_start(&l, "{\"order\": 1234, \"amount\": 50}");
        advance_cb(wf, &l, T0, NULL, 0, &r);
        /* The approval service is sent the URL. */
        MH_T_ASSERT_EQ(r.n_actions, 1);
        MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_HTTP);
        const char *body = json_string_value(json_object_get(r.actions[0].request, "body"));
        MH_T_ASSERT(body != NULL && strstr(body, URL) != NULL);
        mh_engine_result_cleanup(&r);
        report_response(&rep, "ask", 1, 201, "{\"content-type\": \"application/json\"}", "{}");
        advance_cb(wf, &l, T0 + 100, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
        MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 100 + 72LL * 3600 * 1000);
        mh_engine_result_cleanup(&r);
        if (answered) {
            callback(&rep, "{\"approved\": true, \"by\": \"ada\"}", T0 + 5000);
            advance_cb(wf, &l, T0 + 5000, &rep, 1, &r);
            mh_engine_event_cleanup(&rep);
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                           "{\"refund\": {\"refund\": 1234, \"approver\": \"ada\"}}");
        } else {
            advance_cb(wf, &l, T0 + 100 + 72LL * 3600 * 1000, NULL, 0, &r);
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                           "{\"escalate\": {\"escalate\": 1234, \"reason\": \"timeout\"}}");
        }
        mh_engine_result_cleanup(&r);
        assert_replays(wf, &l);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

/* Whether a workflow waits for callbacks (or calls workflows) is known from its compile: the
 * worker asks before every decision, without scanning the nodes. */
MH_TEST(engine_callback_presence_is_known_at_compile)
{
    struct mh_wf *cb = compile_fixture("wait_callback.json");
    struct mh_wf *call = compile_fixture("call_workflow.json");
    struct mh_wf *lin = compile_fixture("linear.json");
    MH_T_ASSERT(mh_engine_wf_has_callbacks(cb));
    MH_T_ASSERT(!mh_engine_wf_has_calls(cb));
    MH_T_ASSERT(!mh_engine_wf_has_callbacks(call));
    MH_T_ASSERT(mh_engine_wf_has_calls(call));
    MH_T_ASSERT(!mh_engine_wf_has_callbacks(lin));
    MH_T_ASSERT(!mh_engine_wf_has_calls(lin));
    /* A call inside a for_each body counts for the workflow. */
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:{s:[{s:s, s:s, s:{s:s}}], s:[]}}}], s:[]}", "nodes",
                  "id", "loop", "type", "for_each", "config", "items", "trigger.body", "body",
                  "nodes", "id", "price", "type", "call_workflow", "config", "workflow_id",
                  "0190a0b0-0000-7000-8000-00000000000a", "edges", "edges");
    json_t *errors = NULL;
    struct mh_wf *nested = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &nested, &errors), MH_OK);
    MH_T_ASSERT(mh_engine_wf_has_calls(nested));
    MH_T_ASSERT(!mh_engine_wf_has_callbacks(nested));
    json_decref(errors);
    json_decref(def);
    mh_engine_wf_unref(nested);
    mh_engine_wf_unref(lin);
    mh_engine_wf_unref(call);
    mh_engine_wf_unref(cb);
}
