/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the for_each node (src/engine/nodes/for_each.c): a pure body runs for every item
 * in one advance with per-item step ids and results in item order; an http_call body keeps at
 * most `concurrency` items in flight, starts the next as one finishes, gives each item a stable
 * idempotency key of its own, and resumes after a crash with exactly the calls outstanding; a
 * failed item fails the step and the run; items that are not an array, or too many, fail with
 * errors naming the expression; replay re-checks the items, every item's steps and the results.
 */
#include "engine/engine_internal.h"
#include "test_engine_helpers.h"

static struct mh_run_state *fold(const struct mh_wf *wf, const struct tlog *l)
{
    struct mh_run_state *st = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_engine_fold(wf, l->ev, l->n, &st, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "fold failed: %s", info.message);
    return st;
}

static size_t count_http(const struct mh_engine_result *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_actions; i++)
        n += r->actions[i].kind == MH_ACTION_HTTP;
    return n;
}

static const struct mh_engine_action *http_for(const struct mh_engine_result *r, const char *id)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == MH_ACTION_HTTP && strcmp(r->actions[i].node_id, id) == 0)
            return &r->actions[i];
    return NULL;
}

static json_t *replay_report(const struct mh_wf *wf, const struct tlog *l)
{
    json_t *rep = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &rep), MH_OK);
    return rep;
}

static struct mh_wf *compile_text(const char *text)
{
    json_t *def = json_loads(text, 0, NULL), *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT(def != NULL);
    if (mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        char *s = json_dumps(errors, 0);
        mh_t_fail(__FILE__, __LINE__, "does not compile: %s", s);
    }
    json_decref(errors);
    json_decref(def);
    return wf;
}

MH_TEST(foreach_pure_body_runs_every_item_in_one_advance)
{
    struct mh_wf *wf = compile_fixture("foreach_pure.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": \"o-1\", \"lines\": [{\"sku\": \"a\", \"qty\": 1}, "
                   "{\"sku\": \"b\", \"qty\": 5}, {\"sku\": \"c\", \"qty\": 2}, "
                   "{\"sku\": \"d\", \"qty\": 9}]}");
    advance_at(wf, &l, T0 + 5, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    /* The body's one sink gives each item's result: null where the branch skipped it. */
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"done\": {\"flags\": [null, \"b-bulk\", null, \"d-bulk\"], \"n\": 4}}");
    /* The step recorded its items; each item's steps have ids of their own. */
    long si = tlog_find(&l, MH_EV_STEP_STARTED, "loop");
    MH_T_ASSERT(si > 0);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(l.ev[si].payload, "items")), 4);
    long li = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[3].line");
    MH_T_ASSERT(li > si);
    ASSERT_JSON_EQ(json_object_get(l.ev[li].payload, "output"),
                   "{\"sku\": \"d\", \"qty\": 9, \"i\": 3, \"order\": \"o-1\"}");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "loop[0].flag") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[1].flag") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[2].many") > 0);
    /* Items are decided in index order. */
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[0].line") <
                tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[1].line"));
    mh_engine_result_cleanup(&r);

    /* The fold sees the same, per item, and the API summary shows the progress. */
    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "loop"), MH_STEP_SUCCEEDED);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "loop[1].flag"), MH_STEP_SUCCEEDED);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "loop[0].flag"), MH_STEP_SKIPPED);
    ASSERT_JSON_EQ(mh_engine_state_step_output(st, "loop[1].flag"), "\"b-bulk\"");
    MH_T_ASSERT(mh_engine_state_step_output(st, "loop[4].flag") == NULL);
    MH_T_ASSERT(mh_engine_state_step_output(st, "loop[x].flag") == NULL);
    MH_T_ASSERT(mh_engine_state_step_output(st, "loop[01].flag") == NULL);
    json_t *sum = mh_engine_state_to_json(st);
    json_t *items =
        json_object_get(json_object_get(json_object_get(sum, "steps"), "loop"), "items");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(items, "total")), 4);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(items, "succeeded")), 4);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_array_get(json_object_get(items, "list"), 2), "status")),
                       "succeeded");
    json_decref(sum);
    json_t *ctx = NULL;
    MH_T_ASSERT_EQ(mh_engine_context_build(st, "loop[2].flag", &ctx), MH_OK);
    ASSERT_JSON_EQ(json_object_get(ctx, "item"), "{\"sku\": \"c\", \"qty\": 2}");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(ctx, "index")), 2);
    /* The body sees the for_each's ancestors beside its own. */
    MH_T_ASSERT(json_object_get(json_object_get(ctx, "steps"), "prep") != NULL);
    MH_T_ASSERT(json_object_get(json_object_get(ctx, "steps"), "many") != NULL);
    json_decref(ctx);
    mh_engine_state_destroy(st);

    json_t *rep = replay_report(wf, &l);
    MH_T_ASSERT(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);

    /* A body expression that now computes something else shows up in replay, at that item's
     * step and at the results. */
    struct mh_wf *changed = compile_text(
        "{\"nodes\": [{\"id\": \"prep\", \"type\": \"transform\", \"config\": {\"expression\": "
        "\"trigger.body\"}}, {\"id\": \"loop\", \"type\": \"for_each\", \"config\": {\"items\": "
        "\"steps.prep.output.lines\", \"body\": {\"nodes\": [{\"id\": \"line\", \"type\": "
        "\"transform\", \"config\": {\"expression\": \"{sku: item.sku, qty: item.qty, i: index, "
        "order: steps.prep.output.order}\"}}, {\"id\": \"many\", \"type\": \"branch\", "
        "\"config\": {\"condition\": \"item.qty > `2`\"}}, {\"id\": \"flag\", \"type\": "
        "\"transform\", \"config\": {\"expression\": \"join('+', [steps.line.output.sku, "
        "'bulk'])\"}}], \"edges\": [{\"from\": \"line\", \"to\": \"many\"}, {\"from\": \"many\", "
        "\"to\": \"flag\", \"port\": \"true\"}]}}}, {\"id\": \"done\", \"type\": \"transform\", "
        "\"config\": {\"expression\": \"{flags: steps.loop.output, n: length(steps.loop.output)}"
        "\"}}], \"edges\": [{\"from\": \"prep\", \"to\": \"loop\"}, {\"from\": \"loop\", \"to\": "
        "\"done\"}]}");
    rep = replay_report(changed, &l);
    MH_T_ASSERT(json_is_false(json_object_get(rep, "ok")));
    json_t *div = json_object_get(rep, "divergences");
    MH_T_ASSERT_EQ(json_array_size(div), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(div, 0), "node")),
                       "loop[1].flag");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(div, 1), "node")),
                       "loop[3].flag");
    json_decref(rep);
    mh_engine_wf_unref(changed);
    tlog_free(&l);

    /* No items: the step succeeds with an empty list. */
    tlog_start(&l, "{\"order\": \"o-2\", \"lines\": []}");
    advance_at(wf, &l, T0 + 5, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output, "{\"done\": {\"flags\": [], \"n\": 0}}");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(foreach_items_not_an_array_or_too_many_fail_clearly)
{
    struct mh_wf *wf = compile_fixture("foreach_pure.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order\": \"o-1\", \"lines\": \"abc\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "loop");
    MH_T_ASSERT(fi > 0);
    json_t *err = json_object_get(l.ev[fi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "not_array");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "message")),
                       "items expression \"steps.prep.output.lines\" gave a string, not an array");
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_STARTED, "loop"), 0);
    mh_engine_result_cleanup(&r);
    json_t *rep = replay_report(wf, &l);
    MH_T_ASSERT(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
    tlog_free(&l);
    mh_engine_wf_unref(wf);

    /* max_items 50: 51 ids fail the step before any call. */
    wf = compile_fixture("foreach_http.json");
    json_t *ids = json_array();
    for (int k = 0; k < 51; k++)
        json_array_append_new(ids, json_integer(k));
    json_t *body = json_pack("{s:o}", "ids", ids);
    char *text = json_dumps(body, 0);
    tlog_start(&l, text);
    free(text);
    json_decref(body);
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    MH_T_ASSERT_EQ(count_http(&r), 0);
    err = json_object_get(r.actions[r.n_actions - 1].error, "step_error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "limit");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(err, "message")),
        "items expression \"steps.start.output.ids\" gave 51 items; max_items is 50");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(foreach_http_body_concurrency_order_keys_and_resume)
{
    struct mh_wf *wf = compile_fixture("foreach_http.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 7};
    struct mh_event rep;
    tlog_start(&l, "{\"order\": \"o-9\", \"ids\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    /* Concurrency 2: the first two items' calls, each with a key of its own. */
    MH_T_ASSERT_EQ(count_http(&r), 2);
    const struct mh_engine_action *a0 = http_for(&r, "loop[0].call");
    const struct mh_engine_action *a1 = http_for(&r, "loop[1].call");
    MH_T_ASSERT(a0 != NULL && a1 != NULL);
    MH_T_ASSERT(strcmp(a0->idempotency_key, a1->idempotency_key) != 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a1->request, "url")),
                       "https://api.example.com/items/b");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a1->request, "body")),
                       "{\"id\":\"b\",\"index\":1,\"order\":\"o-9\"}");
    ASSERT_JSON_EQ(json_object_get(a1->request, "secrets"), "[\"API_TOKEN\"]");
    char key0[MH_ENGINE_IDEM_KEY_LEN + 1];
    snprintf(key0, sizeof(key0), "%s", a0->idempotency_key);
    mh_engine_result_cleanup(&r);

    /* Item 1 finishes first: item 2 starts, never more than two in flight. */
    report_response(&rep, "loop[1].call", 1, 200, "{\"content-type\": \"application/json\"}",
                    "{\"name\": \"Bee\"}");
    advance_at(wf, &l, T0 + 10, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(count_http(&r), 1);
    MH_T_ASSERT(http_for(&r, "loop[2].call") != NULL);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[1].name") > 0);
    mh_engine_result_cleanup(&r);

    /* Item 0 gets a 503: a retry is scheduled, the item still counts as in flight. */
    report_response(&rep, "loop[0].call", 1, 503, NULL, "busy");
    advance_at(wf, &l, T0 + 20, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(count_http(&r), 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_RETRY_SCHEDULED, "loop[0].call") > 0);
    MH_T_ASSERT(r.next_wake_ms > T0 + 20);
    int64_t wake = r.next_wake_ms;
    mh_engine_result_cleanup(&r);

    /* A crash now: recovery finds exactly the outstanding call and the retry timer. */
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 2);
    MH_T_ASSERT(http_for(&r, "loop[2].call") != NULL);
    MH_T_ASSERT_EQ(r.actions[0].kind == MH_ACTION_TIMER || r.actions[1].kind == MH_ACTION_TIMER, 1);
    MH_T_ASSERT_EQ(r.next_wake_ms, wake);
    mh_engine_result_cleanup(&r);

    /* The retry is due: attempt 2 of item 0, with the same key. */
    advance_at(wf, &l, wake, &rng, NULL, 0, &r);
    const struct mh_engine_action *retry = http_for(&r, "loop[0].call");
    MH_T_ASSERT(retry != NULL);
    MH_T_ASSERT_EQ(retry->attempt, 2);
    MH_T_ASSERT_STR_EQ(retry->idempotency_key, key0);
    mh_engine_result_cleanup(&r);

    const char *order[][2] = {{"loop[2].call", "Cee"},
                              {"loop[0].call", "Ay"},
                              {"loop[3].call", "Dee"},
                              {"loop[4].call", "Ee"}};
    for (size_t k = 0; k < 4; k++) {
        char bodytext[64];
        snprintf(bodytext, sizeof(bodytext), "{\"name\": \"%s\"}", order[k][1]);
        report_response(&rep, order[k][0], strcmp(order[k][0], "loop[0].call") == 0 ? 2 : 1, 200,
                        "{\"content-type\": \"application/json\"}", bodytext);
        advance_at(wf, &l, wake + 10 * (int64_t)(k + 1), &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        if (k < 3)
            mh_engine_result_cleanup(&r);
    }
    /* Results in item order, whatever order the calls finished in. */
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"loop\": [{\"id\": \"a\", \"status\": 200, \"name\": \"Ay\"}, "
                   "{\"id\": \"b\", \"status\": 200, \"name\": \"Bee\"}, "
                   "{\"id\": \"c\", \"status\": 200, \"name\": \"Cee\"}, "
                   "{\"id\": \"d\", \"status\": 200, \"name\": \"Dee\"}, "
                   "{\"id\": \"e\", \"status\": 200, \"name\": \"Ee\"}]}");
    mh_engine_result_cleanup(&r);
    /* Every item called exactly once with success recorded; replay verifies the run. */
    for (int k = 0; k < 5; k++) {
        char id[32];
        snprintf(id, sizeof(id), "loop[%d].call", k);
        MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_SUCCEEDED, id), 1);
    }
    json_t *report = replay_report(wf, &l);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay: %s", json_dumps(report, 0));
    json_decref(report);
    /* The keys depend on the run and the item: a second run gets others. */
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(foreach_failed_item_fails_the_step_and_the_run)
{
    struct mh_wf *wf = compile_fixture("foreach_http.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 3};
    struct mh_event rep;
    tlog_start(&l, "{\"ids\": [1, 2, 3]}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    report_response(&rep, "loop[0].call", 1, 200, "{\"content-type\": \"application/json\"}",
                    "{\"name\": \"one\"}");
    advance_at(wf, &l, T0 + 1, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    mh_engine_result_cleanup(&r);
    /* A 404 is not retried: item 1 fails, and with it the for_each and the run. */
    report_response(&rep, "loop[1].call", 1, 404, NULL, "no");
    advance_at(wf, &l, T0 + 2, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_FAILED, "loop[1].call") > 0);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "loop");
    MH_T_ASSERT(fi > 0);
    json_t *err = json_object_get(l.ev[fi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "item_failed");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(err, "index")), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(err, "succeeded")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "message")),
                       "item 1 failed at step loop[1].call: HTTP status 404");
    /* Only the run's failure is run-level: one run_failed, naming the for_each. */
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_RUN_FAILED, ""), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r.actions[r.n_actions - 1].error, "node")),
                       "loop");
    /* Dead letters: the for_each's failure may come from a call. */
    MH_T_ASSERT(mh_engine_wf_node_is_dead_letter(wf, "loop"));
    MH_T_ASSERT(mh_engine_wf_node_is_dead_letter(wf, "loop[1].call"));
    MH_T_ASSERT(!mh_engine_wf_node_is_dead_letter(wf, "loop[1].name"));
    MH_T_ASSERT_STR_EQ(mh_engine_wf_node_type(wf, "loop[2].call"), "http_call");
    mh_engine_result_cleanup(&r);
    /* A late report of the in-flight item is ignored. */
    report_response(&rep, "loop[2].call", 1, 200, NULL, "{}");
    advance_at(wf, &l, T0 + 3, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);
    json_t *report = replay_report(wf, &l);
    MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(foreach_fold_refuses_foreign_item_events)
{
    struct mh_wf *wf = compile_fixture("foreach_pure.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"lines\": [{\"sku\": \"a\", \"qty\": 1}]}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    /* Rename an item step to an item that does not exist and re-seal the chain: the fold
     * refuses the log. */
    long li = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[0].line");
    MH_T_ASSERT(li > 0);
    snprintf(l.ev[li].node_id, sizeof(l.ev[li].node_id), "%s", "loop[1].line");
    struct mh_run_state *st = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_fold(wf, l.ev, l.n, &st, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "no such node") != NULL);
    MH_T_ASSERT(st == NULL);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* The example of docs/workflows.md's for_each section, extracted from the document, runs as the
 * guide describes. */
MH_TEST(foreach_docs_example_runs_as_described)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/workflows.md", mh_t_repo_dir());
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    char *doc = mh_xcalloc(1, 1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *sec = strstr(doc, "### for_each");
    MH_T_ASSERT(sec != NULL);
    char *start = strstr(sec, "```json\n");
    MH_T_ASSERT(start != NULL);
    start += 8;
    char *end = strstr(start, "```");
    MH_T_ASSERT(end != NULL);
    *end = '\0';
    struct mh_wf *wf = compile_text(start);
    free(doc);

    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 1};
    struct mh_event rep;
    tlog_start(&l, "{\"id\": \"o-40\", \"line_items\": [{\"sku\": \"A1\", \"qty\": 2}, "
                   "{\"sku\": \"B 2\", \"qty\": 1}, {\"sku\": \"C3\", \"qty\": 7}]}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(count_http(&r), 3);
    const struct mh_engine_action *b = http_for(&r, "lines[1].reserve");
    MH_T_ASSERT(b != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(b->request, "url")),
                       "https://stock.example.com/reserve/B%202");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(b->request, "body")),
                       "{\"order\":\"o-40\",\"line\":1,\"qty\":1}");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(b->request, "headers"),
                                                         "idempotency-key")),
                       b->idempotency_key);
    mh_engine_result_cleanup(&r);
    for (int k = 0; k < 3; k++) {
        char id[32], body[64];
        snprintf(id, sizeof(id), "lines[%d].reserve", k);
        snprintf(body, sizeof(body), "{\"reserved\": %s}", k == 1 ? "false" : "true");
        report_response(&rep, id, 1, 200, "{\"content-type\": \"application/json\"}", body);
        advance_at(wf, &l, T0 + 1 + k, &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        if (k < 2)
            mh_engine_result_cleanup(&r);
    }
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"summary\": {\"order\": \"o-40\", \"reserved\": 2}}");
    mh_engine_result_cleanup(&r);
    struct mh_run_state *st = fold(wf, &l);
    ASSERT_JSON_EQ(
        mh_engine_state_step_output(st, "lines"),
        "[{\"sku\": \"A1\", \"reserved\": true}, {\"sku\": \"B 2\", \"reserved\": false}, "
        "{\"sku\": \"C3\", \"reserved\": true}]");
    mh_engine_state_destroy(st);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* A delay in the body is a durable timer per item: the run wakes at the earliest, and each item
 * moves on when its own timer is due. */
MH_TEST(foreach_delay_in_body_is_a_timer_per_item)
{
    struct mh_wf *wf = compile_text(
        "{\"nodes\": [{\"id\": \"loop\", \"type\": \"for_each\", \"config\": {\"items\": "
        "\"trigger.body\", \"concurrency\": 2, \"body\": {\"nodes\": [{\"id\": \"wait\", "
        "\"type\": \"delay\", \"config\": {\"until\": \"item\"}}, {\"id\": \"after\", \"type\": "
        "\"transform\", \"config\": {\"expression\": \"index\"}}], \"edges\": [{\"from\": "
        "\"wait\", \"to\": \"after\"}]}}}]}");
    struct tlog l = {0};
    struct mh_engine_result r;
    char body[128];
    snprintf(body, sizeof(body), "[%lld, %lld, %lld]", T0 + 5000, T0 + 1000, T0 + 3000);
    tlog_start(&l, body);
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    MH_T_ASSERT_EQ(r.n_actions, 2); /* two timers: items 0 and 1 */
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 1000);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 2);
    MH_T_ASSERT_STR_EQ(r.actions[0].node_id, "loop[0].wait");
    MH_T_ASSERT_EQ(r.actions[1].fire_at_ms, T0 + 1000);
    mh_engine_result_cleanup(&r);
    /* Item 1 is due: it finishes, item 2 starts (its timer at +3 s). */
    advance_at(wf, &l, T0 + 1000, NULL, NULL, 0, &r);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "loop[1].after") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_TIMER_SET, "loop[2].wait") > 0);
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 3000);
    mh_engine_result_cleanup(&r);
    advance_at(wf, &l, T0 + 5000, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output, "{\"loop\": [0, 1, 2]}");
    mh_engine_result_cleanup(&r);
    json_t *rep = replay_report(wf, &l);
    MH_T_ASSERT(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* foreach_http.json with every item's call in flight at once (concurrency 10, more than the
 * workflow has nodes) and the body's transform `name_expr`. */
static struct mh_wf *wide_http(const char *name_expr)
{
    json_t *def = load_fixture("foreach_http.json");
    json_t *loop = json_array_get(json_object_get(def, "nodes"), 1);
    json_t *cfg = json_object_get(loop, "config");
    json_object_set_new(cfg, "concurrency", json_integer(10));
    json_t *name = json_array_get(json_object_get(json_object_get(cfg, "body"), "nodes"), 1);
    json_object_set_new(json_object_get(name, "config"), "expression", json_string(name_expr));
    json_t *errors = NULL;
    struct mh_wf *wf = NULL;
    if (mh_engine_wf_compile(def, &wf, &errors) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "does not compile: %s", jtext(errors));
    json_decref(errors);
    json_decref(def);
    return wf;
}

/* A draft test of a run whose for_each made 12 calls, 10 at a time: every item's call is
 * answered with what that item's call received (stand-ins "loop[<i>].call"), so the draft runs
 * to the end; a draft whose body differs is shown differing at the for_each. The preview answers
 * more calls per round than the workflow has nodes. */
MH_TEST(foreach_draft_test_answers_every_items_call)
{
    struct mh_wf *wf = wide_http("steps.call.output.body.name");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 7};
    tlog_start(&l, "{\"order\": \"o-9\", \"ids\": [\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", "
                   "\"g\", \"h\", \"i\", \"j\", \"k\", \"l\"]}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    int64_t now = T0;
    while (r.status == MH_RUN_RUNNING) {
        size_t n = count_http(&r);
        MH_T_ASSERT(n > 0);
        struct mh_event *reps = calloc(n, sizeof(*reps));
        size_t k = 0;
        for (size_t i = 0; i < r.n_actions; i++) {
            if (r.actions[i].kind != MH_ACTION_HTTP)
                continue;
            char body[256];
            snprintf(body, sizeof(body), "{\"name\": \"N-%s\"}", r.actions[i].node_id);
            report_response(&reps[k++], r.actions[i].node_id, r.actions[i].attempt, 200,
                            "{\"content-type\": \"application/json\"}", body);
        }
        mh_engine_result_cleanup(&r);
        now += 10;
        advance_at(wf, &l, now, &rng, reps, n, &r);
        for (size_t i = 0; i < n; i++)
            mh_engine_event_cleanup(&reps[i]);
        free(reps);
    }
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_SUCCEEDED, "loop[11].call"), 1);

    /* The same definition: nothing differs and every item was simulated. */
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_draft_compare(wf, wf, l.ev, l.n, &out, &info), MH_OK);
    if (!json_is_false(json_object_get(out, "differs")))
        mh_t_fail(__FILE__, __LINE__, "differs: %s", jtext(out));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(out, "not_simulated")), 0);
    json_decref(out);

    /* A draft that names items otherwise differs at the for_each, on every item's name. */
    struct mh_wf *draft = wide_http("join('', ['x-', steps.call.output.body.name])");
    MH_T_ASSERT_EQ(mh_engine_draft_compare(draft, wf, l.ev, l.n, &out, &info), MH_OK);
    MH_T_ASSERT(json_is_true(json_object_get(out, "differs")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(out, "not_simulated")), 0);
    json_t *loop = json_object_get(json_object_get(out, "nodes"), "loop");
    MH_T_ASSERT(json_is_false(json_object_get(loop, "equal")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(loop, "paths")), 12);
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(loop, "paths"), 11)),
                       "/11/name");
    json_decref(out);
    mh_engine_wf_unref(draft);

    /* The mapping preview takes such stand-ins too, and names a step that does not exist. */
    json_t *trigger = json_pack("{s:{s:[s,s,s,s]}}", "body", "ids", "a", "b", "c", "d");
    json_t *stand = json_object();
    for (int i = 0; i < 4; i++) {
        char id[32];
        snprintf(id, sizeof(id), "loop[%d].call", i);
        json_object_set_new(stand, id,
                            json_pack("{s:i, s:{s:s}}", "status", 200, "body", "name", "x"));
    }
    struct mh_engine_preview_in in = {.trigger = trigger, .stand_ins = stand, .now_ms = T0};
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(out, "status")), "succeeded");
    json_decref(out);
    json_object_set_new(stand, "loop[0].nope", json_object());
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "/loop[0].nope");
    json_decref(stand);
    json_decref(trigger);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* A delay in a for_each's body is simulated by a preview (and so by a draft test) when its item
 * step has a stand-in ("loop[<i>].wait": {}): the preview's clock jumps to each item's timer and
 * the run finishes. Without the stand-ins the preview stops at the items' delays. */
MH_TEST(foreach_preview_fires_stood_in_timers_of_items)
{
    struct mh_wf *wf = compile_text(
        "{\"nodes\": [{\"id\": \"loop\", \"type\": \"for_each\", \"config\": {\"items\": "
        "\"trigger.body.ids\", \"body\": {\"nodes\": [{\"id\": \"wait\", \"type\": \"delay\", "
        "\"config\": {\"duration_ms\": 60000}}, {\"id\": \"name\", \"type\": \"transform\", "
        "\"config\": {\"expression\": \"join('-', ['id', item])\"}}], \"edges\": [{\"from\": "
        "\"wait\", \"to\": \"name\"}]}}}], \"edges\": []}");
    json_t *trigger = json_pack("{s:{s:[s,s,s]}}", "body", "ids", "a", "b", "c");
    json_t *stand = json_object();
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof(id), "loop[%d].wait", i);
        json_object_set_new(stand, id, json_object());
    }
    struct mh_engine_preview_in in = {.trigger = trigger, .stand_ins = stand, .now_ms = T0};
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_OK);
    if (strcmp(json_string_value(json_object_get(out, "status")), "succeeded") != 0)
        mh_t_fail(__FILE__, __LINE__, "not finished: %s", jtext(out));
    json_t *loop = json_object_get(json_object_get(out, "steps"), "loop");
    ASSERT_JSON_EQ(json_object_get(loop, "output"), "[\"id-a\", \"id-b\", \"id-c\"]");
    json_decref(out);

    in.stand_ins = NULL;
    MH_T_ASSERT_EQ(mh_engine_preview(wf, &in, &out, &info), MH_OK);
    MH_T_ASSERT(strcmp(json_string_value(json_object_get(out, "status")), "succeeded") != 0);
    json_decref(out);
    json_decref(stand);
    json_decref(trigger);
    mh_engine_wf_unref(wf);
}
