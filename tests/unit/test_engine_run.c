/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the fold and the decision function: runs of the fixture workflows in
 * tests/data/engine/ driven through mh_engine_advance with an in-memory log, a fixed clock and a
 * deterministic random source, checking the events, the actions and the folded state at each
 * step. Covers pure chains completing in one call, dead-path elimination, joins, parallel http
 * steps, retries with jitter and Retry-After, exhausted attempts, timers, runtime errors,
 * timeouts, cancellation and duplicate reports.
 */
#include "test_engine_helpers.h"

/* Folds the log and returns the state (caller destroys). */
static struct mh_run_state *fold(const struct mh_wf *wf, const struct tlog *l)
{
    struct mh_run_state *st = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_engine_fold(wf, l->ev, l->n, &st, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "fold failed: %s", info.message);
    return st;
}

static const struct mh_engine_action *find_action(const struct mh_engine_result *r,
                                                  enum mh_engine_action_kind kind, const char *node)
{
    for (size_t i = 0; i < r->n_actions; i++)
        if (r->actions[i].kind == kind &&
            (node == NULL || strcmp(r->actions[i].node_id, node) == 0))
            return &r->actions[i];
    return NULL;
}

MH_TEST(engine_linear_completes_in_one_advance)
{
    struct mh_wf *wf = compile_fixture("linear.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order_id\": \"o-7\", \"amount\": 250}");

    advance_at(wf, &l, T0 + 10, NULL, NULL, 0, &r);
    /* prepare, is_big, big, small (skipped), small_log (skipped), done, run_succeeded. */
    MH_T_ASSERT_EQ(r.n_events, 7);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_FINISHED);
    MH_T_ASSERT_EQ(r.actions[0].status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[0].output,
                   "{\"result\": {\"order\": \"o-7\", \"tier\": \"big\", \"doubled\": 500}, "
                   "\"seen\": [\"prepare\", \"is_big\", \"big\"]}");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "small") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "small_log") > 0);
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_SUCCEEDED, NULL), 4);
    MH_T_ASSERT_EQ(r.events[6].at_ms, T0 + 10);
    MH_T_ASSERT_STR_EQ(r.events[6].type, MH_EV_RUN_SUCCEEDED);

    /* The branch recorded its port; the transform saw run.id. */
    long bi = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "is_big");
    ASSERT_JSON_EQ(l.ev[bi].payload, "{\"output\": true, \"port\": \"true\"}");
    long pi = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "prepare");
    ASSERT_JSON_EQ(json_object_get(l.ev[pi].payload, "output"),
                   "{\"order\": \"o-7\", \"amount\": 250, \"run\": \"run-1\"}");

    /* The fold agrees, and a finished run does not advance further. */
    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_status(st), MH_RUN_SUCCEEDED);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "small"), MH_STEP_SKIPPED);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "big"), MH_STEP_SUCCEEDED);
    MH_T_ASSERT_EQ(mh_engine_state_step_attempts(st, "big"), 1);
    json_t *summary = mh_engine_state_to_json(st);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(
            json_object_get(json_object_get(summary, "steps"), "small_log"), "status")),
        "skipped");
    json_decref(summary);
    mh_engine_state_destroy(st);
    mh_engine_result_cleanup(&r);

    advance_at(wf, &l, T0 + 20, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_actions, 0);
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_trigger_body_parsed_from_raw_body)
{
    struct mh_wf *wf = compile_fixture("linear.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    /* The same run as engine_linear_completes_in_one_advance, its body given as raw bytes. */
    tlog_start_raw(&l, "{\"amount\": 250,\n \"order_id\": \"o-7\"}");
    advance_at(wf, &l, T0 + 10, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[0].output,
                   "{\"result\": {\"order\": \"o-7\", \"tier\": \"big\", \"doubled\": 500}, "
                   "\"seen\": [\"prepare\", \"is_big\", \"big\"]}");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);

    /* Bytes that are not the JSON they claim to be (a duplicate member, truncation) make the
     * log invalid rather than a run on some other body. */
    const char *bad[] = {"{\"amount\": 1, \"amount\": 2}", "{\"amount\": 1", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mh_run_state *st = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        tlog_start_raw(&l, bad[i]);
        MH_T_ASSERT_EQ(mh_engine_fold(wf, l.ev, l.n, &st, &info), MH_EINVAL);
        MH_T_ASSERT(strstr(info.message, "raw body") != NULL);
        MH_T_ASSERT(st == NULL);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_linear_false_branch)
{
    struct mh_wf *wf = compile_fixture("linear.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order_id\": \"o-8\", \"amount\": 5}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    /* Without a terminate node on the taken path the output is every sink that ran. */
    ASSERT_JSON_EQ(r.actions[0].output, "{\"small_log\": \"small\"}");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "big") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "done") > 0);
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_diamond_join_with_dead_path)
{
    struct mh_wf *wf = compile_fixture("diamond.json");
    for (int ok = 0; ok <= 1; ok++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        tlog_start(&l, ok ? "{\"ok\": true}" : "{\"ok\": false}");
        advance_at(wf, &l, T0, NULL, NULL, 0, &r);
        MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
        const char *dead = ok ? "right" : "left";
        MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, dead) > 0);
        /* The join ran once, after both inputs were decided, and saw only the live one. */
        MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_SUCCEEDED, "join"), 1);
        MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "join") >
                    tlog_find(&l, MH_EV_STEP_SKIPPED, dead));
        ASSERT_JSON_EQ(r.actions[0].output,
                       ok ? "{\"join\": {\"via\": \"left\", \"saw\": [\"start\", \"check\", "
                            "\"left\"]}}"
                          : "{\"join\": {\"via\": \"right\", \"saw\": [\"start\", \"check\", "
                            "\"right\"]}}");
        mh_engine_result_cleanup(&r);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_parallel_http_and_join)
{
    struct mh_wf *wf = compile_fixture("parallel_http.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"id\": 17, \"n\": 3, \"email\": \"ada@example.com\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    /* Both independent http steps start at once. */
    MH_T_ASSERT_EQ(r.n_actions, 2);
    const struct mh_engine_action *crm = find_action(&r, MH_ACTION_HTTP, "crm");
    const struct mh_engine_action *bill = find_action(&r, MH_ACTION_HTTP, "billing");
    MH_T_ASSERT(crm != NULL && bill != NULL);
    MH_T_ASSERT_EQ(crm->attempt, 1);
    MH_T_ASSERT_EQ(crm->timeout_ms, 30000);
    MH_T_ASSERT_EQ(bill->timeout_ms, 5000);
    MH_T_ASSERT_EQ(strlen(crm->idempotency_key), MH_ENGINE_IDEM_KEY_LEN);
    MH_T_ASSERT(strcmp(crm->idempotency_key, bill->idempotency_key) != 0);
    char *req = jtext(crm->request);
    char expect[2048];
    snprintf(expect, sizeof(expect),
             "{\"body\":\"{\\\"email\\\":\\\"ada@example.com\\\"}\","
             "\"headers\":{\"Authorization\":\"Bearer {{secrets.CRM_TOKEN}}\",\"X-Run\":\"run-1\","
             "\"content-type\":\"application/json\",\"idempotency-key\":\"%s\"},"
             "\"idempotency_key\":\"%s\",\"method\":\"POST\",\"placeholders\":{\"headers\":"
             "{\"Authorization\":[[7,28,\"CRM_TOKEN\"]]}},\"query\":{\"n\":\"3\","
             "\"source\":\"meshhook\"},\"secrets\":[\"CRM_TOKEN\"],\"sign\":{\"secret\":"
             "\"CRM_SIGNING\"},\"timeout_ms\":30000,"
             "\"url\":\"https://crm.example.com/contacts/17\"}",
             crm->idempotency_key, crm->idempotency_key);
    MH_T_ASSERT_STR_EQ(req, expect);
    free(req);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(bill->request, "url")),
                       "https://billing.example.com/customers?email=ada%40example.com");
    MH_T_ASSERT(json_object_get(bill->request, "body") == NULL);
    int crm_attempt = crm->attempt;
    mh_engine_result_cleanup(&r);

    /* Crash recovery sees both calls outstanding. */
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 2);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);

    /* The first result alone does not start the join. */
    struct mh_event rep;
    report_response(&rep, "crm", crm_attempt, 201, "{\"Content-Type\": \"application/json\"}",
                    "{\"created\": true}");
    advance_at(wf, &l, T0 + 50, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 2); /* http_attempt, step_succeeded */
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_HTTP_ATTEMPT);
    MH_T_ASSERT_EQ(r.events[0].at_ms, T0 + 50);
    MH_T_ASSERT_EQ(r.n_actions, 0);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    mh_engine_result_cleanup(&r);

    /* A duplicate delivery of the same report is ignored. */
    advance_at(wf, &l, T0 + 60, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&rep);

    report_response(&rep, "billing", 1, 200, "{\"content-type\": \"text/plain\"}",
                    "{\"plan\": \"pro\"}");
    advance_at(wf, &l, T0 + 70, NULL, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    /* expect_json parsed the text/plain body. */
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"merge\": {\"crm\": 201, \"plan\": \"pro\"}}");
    mh_engine_result_cleanup(&r);

    struct mh_run_state *st = fold(wf, &l);
    json_t *out = mh_engine_state_step_output(st, "crm");
    ASSERT_JSON_EQ(out, "{\"status\": 201, \"headers\": {\"Content-Type\": "
                        "\"application/json\"}, \"body\": {\"created\": true}}");
    mh_engine_state_destroy(st);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_http_retry_then_success)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 12345};
    tlog_start(&l, "{\"order_id\": 99}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_HTTP);
    json_t *req1 = json_incref(r.actions[0].request);
    char key1[MH_ENGINE_IDEM_KEY_LEN + 1];
    memcpy(key1, r.actions[0].idempotency_key, sizeof(key1));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(req1, "body")), "order=99");
    /* A content-type given by the workflow is kept. */
    ASSERT_JSON_EQ(json_object_get(json_object_get(req1, "headers"), "content-type"),
                   "\"text/plain\"");
    mh_engine_result_cleanup(&r);

    struct mh_event rep;
    report_response(&rep, "call", 1, 500, NULL, "oops");
    advance_at(wf, &l, T0 + 100, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    /* http_attempt, retry_scheduled; cap = base 1000 for the first retry; jitter 12345 % 1001. */
    MH_T_ASSERT_EQ(r.n_events, 2);
    MH_T_ASSERT_STR_EQ(r.events[1].type, MH_EV_RETRY_SCHEDULED);
    MH_T_ASSERT_EQ(r.events[1].attempt, 2);
    json_t *p = r.events[1].payload;
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "cap_ms")), 1000);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "jitter_ms")), 12345 % 1001);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "delay_ms")), 12345 % 1001);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "fire_at")), T0 + 100 + 12345 % 1001);
    MH_T_ASSERT_EQ(rng.calls, 1);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_TIMER);
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 100 + 12345 % 1001);
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 100 + 12345 % 1001);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    int64_t fire_at = r.actions[0].fire_at_ms;
    mh_engine_result_cleanup(&r);

    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "call"), MH_STEP_WAITING_RETRY);
    mh_engine_state_destroy(st);

    /* Too early: nothing happens, and the wake time stands. */
    advance_at(wf, &l, fire_at - 1, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.next_wake_ms, fire_at);
    mh_engine_result_cleanup(&r);

    /* Due: attempt 2 goes out with the same request and idempotency key. */
    advance_at(wf, &l, fire_at, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_HTTP);
    MH_T_ASSERT_EQ(r.actions[0].attempt, 2);
    MH_T_ASSERT_STR_EQ(r.actions[0].idempotency_key, key1);
    MH_T_ASSERT(json_equal(r.actions[0].request, req1));
    mh_engine_result_cleanup(&r);
    json_decref(req1);

    /* A late report for attempt 1 is stale and ignored. */
    report_error(&rep, "call", 1, "timeout");
    advance_at(wf, &l, fire_at + 1, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);

    report_response(&rep, "call", 2, 200, "{\"content-type\": \"application/json\"}",
                    "{\"accepted\": 1}");
    advance_at(wf, &l, fire_at + 30, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    MH_T_ASSERT(fin != NULL);
    ASSERT_JSON_EQ(fin->output, "{\"accepted\": 1}");
    mh_engine_result_cleanup(&r);
    st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_attempts(st, "call"), 2);
    mh_engine_state_destroy(st);
    MH_T_ASSERT_EQ(rng.calls, 1);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_http_retry_after_honoured)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 7};
    tlog_start(&l, "{\"order_id\": 1}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);

    /* Retry-After in seconds beats a smaller jitter draw. */
    struct mh_event rep;
    report_response(&rep, "call", 1, 429, "{\"Retry-After\": \"7\"}", "slow down");
    advance_at(wf, &l, T0 + 10, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    json_t *p = r.events[1].payload;
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "jitter_ms")), 7);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "retry_after_ms")), 7000);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "delay_ms")), 7000);
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 10 + 7000);
    mh_engine_result_cleanup(&r);

    /* Attempt 2 fails with 503 and an HTTP-date 60 s ahead. The cap doubled to 2000. */
    advance_at(wf, &l, T0 + 7010, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.actions[0].attempt, 2);
    mh_engine_result_cleanup(&r);
    /* T0 + 7010 ms is 2023-11-14T22:13:27.010Z; the date says 22:14:27. */
    report_response(&rep, "call", 2, 503, "{\"retry-after\": \"Tue, 14 Nov 2023 22:14:27 GMT\"}",
                    NULL);
    advance_at(wf, &l, T0 + 7010, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    p = r.events[1].payload;
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "cap_ms")), 2000);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "retry_after_ms")), 59990);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "delay_ms")), 59990);
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_http_attempts_exhausted_fail_the_run)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 0}; /* jitter 0: each retry is due at once */
    tlog_start(&l, "{\"order_id\": 1}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    for (int attempt = 1; attempt <= 3; attempt++) {
        struct mh_event rep;
        if (attempt == 2)
            report_error(&rep, "call", attempt, "connection");
        else
            report_response(&rep, "call", attempt, 502, NULL, "bad gateway");
        advance_at(wf, &l, T0 + attempt, &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        if (attempt < 3) {
            /* retry_scheduled with delay 0 and the next attempt started in the same call. */
            const struct mh_engine_action *h = find_action(&r, MH_ACTION_HTTP, "call");
            MH_T_ASSERT(h != NULL);
            MH_T_ASSERT_EQ(h->attempt, attempt + 1);
            MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
        }
        if (attempt < 3)
            mh_engine_result_cleanup(&r);
    }
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "call");
    MH_T_ASSERT(fi > 0);
    MH_T_ASSERT_EQ(l.ev[fi].attempt, 3);
    MH_T_ASSERT(json_is_true(json_object_get(l.ev[fi].payload, "retryable")));
    const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    MH_T_ASSERT(fin != NULL && fin->status == MH_RUN_FAILED);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(fin->error, "node")), "call");
    const char *msg = json_string_value(json_object_get(fin->error, "message"));
    MH_T_ASSERT(strstr(msg, "HTTP status 502") != NULL && strstr(msg, "3 attempts") != NULL);
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_RETRY_SCHEDULED, "call"), 2);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "done") < 0);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_http_non_retryable_status_fails_at_once)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 1};
    tlog_start(&l, "{\"order_id\": 1}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    struct mh_event rep;
    report_response(&rep, "call", 1, 404, NULL, "no such hook");
    advance_at(wf, &l, T0 + 1, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    MH_T_ASSERT_EQ(rng.calls, 0);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "call");
    MH_T_ASSERT(json_is_false(json_object_get(l.ev[fi].payload, "retryable")));
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_delay_timer)
{
    struct mh_wf *wf = compile_fixture("delay.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    /* wake_at is 1 s after the 5 s delay ends. */
    tlog_start(&l, "{\"wake_at\": \"2023-11-14T22:13:26.000Z\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 1);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_TIMER_SET);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_TIMER);
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 5000);
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 5000);
    mh_engine_result_cleanup(&r);

    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "wait"), MH_STEP_WAITING_TIMER);
    mh_engine_state_destroy(st);

    advance_at(wf, &l, T0 + 4999, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);

    /* The timer fires; the second delay computes its wake time from the trigger. */
    advance_at(wf, &l, T0 + 5000, NULL, NULL, 0, &r);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_TIMER_FIRED);
    MH_T_ASSERT_STR_EQ(r.events[1].type, MH_EV_STEP_SUCCEEDED);
    MH_T_ASSERT_STR_EQ(r.events[2].type, MH_EV_TIMER_SET);
    MH_T_ASSERT_STR_EQ(r.events[2].node_id, "until");
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 6000);
    mh_engine_result_cleanup(&r);

    /* Woken late, it completes and the run finishes. */
    advance_at(wf, &l, T0 + 9000, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"after\": {\"fire_at\": 1700000006000, \"fired_at\": 1700000009000}}");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);

    /* An until that is not a time fails the step. */
    tlog_start(&l, "{\"wake_at\": \"tomorrow\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    advance_at(wf, &l, T0 + 5000, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    mh_engine_result_cleanup(&r);
    st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_status(st), MH_RUN_FAILED);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "until"), MH_STEP_FAILED);
    mh_engine_state_destroy(st);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_jmespath_runtime_error_fails_the_run)
{
    struct mh_wf *wf = compile_fixture("runtime_error.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"name\": \"not a number\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "boom");
    MH_T_ASSERT(fi > 0);
    json_t *err = json_object_get(l.ev[fi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "jmespath");
    const char *step_msg = json_string_value(json_object_get(err, "message"));
    MH_T_ASSERT(step_msg != NULL && strlen(step_msg) > 0);
    const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    MH_T_ASSERT(fin != NULL && fin->status == MH_RUN_FAILED);
    const char *run_msg = json_string_value(json_object_get(fin->error, "message"));
    MH_T_ASSERT(strstr(run_msg, "boom") != NULL && strstr(run_msg, step_msg) != NULL);
    /* Nothing after the failure ran. */
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "never") < 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "never") < 0);
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_run_timeout_and_cancel)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order_id\": 1}");
    struct mh_engine_input in = {.now_ms = T0, .run_timeout_ms = 60000};
    memset(&r, 0, sizeof(r));
    MH_T_ASSERT_EQ(mh_engine_advance(wf, l.ev, l.n, &in, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.deadline_ms, T0 + 60000);
    for (size_t i = 0; i < r.n_events; i++)
        tlog_push(&l, &r.events[i]);
    mh_engine_result_cleanup(&r);
    in.now_ms = T0 + 60000;
    MH_T_ASSERT_EQ(mh_engine_advance(wf, l.ev, l.n, &in, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_events, 1);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_RUN_TIMED_OUT);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r.actions[0].error, "kind")), "timeout");
    for (size_t i = 0; i < r.n_events; i++)
        tlog_push(&l, &r.events[i]);
    mh_engine_result_cleanup(&r);
    /* The in-flight call's result arrives after the timeout: ignored. */
    struct mh_event rep;
    report_response(&rep, "call", 1, 200, NULL, "ok");
    advance_at(wf, &l, T0 + 61000, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&rep);
    tlog_free(&l);

    /* Cancellation is a report; it ends the run once. */
    tlog_start(&l, "{\"order_id\": 1}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(mh_engine_event_cancel("user asked", T0 + 5, &rep), MH_OK);
    advance_at(wf, &l, T0 + 5, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_CANCELED);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_FINISHED);
    MH_T_ASSERT_EQ(r.actions[0].status, MH_RUN_CANCELED);
    mh_engine_result_cleanup(&r);
    advance_at(wf, &l, T0 + 6, NULL, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);
    mh_engine_event_cleanup(&rep);
    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_status(st), MH_RUN_CANCELED);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(mh_engine_state_error(st), "message")),
                       "user asked");
    mh_engine_state_destroy(st);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_advance_is_deterministic)
{
    struct mh_wf *wf = compile_fixture("parallel_http.json");
    struct tlog l = {0};
    tlog_start(&l, "{\"id\": 1, \"n\": 2, \"email\": \"x@example.com\"}");
    struct mh_engine_result a, b;
    struct mh_engine_input in = {.now_ms = T0 + 1};
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    MH_T_ASSERT_EQ(mh_engine_advance(wf, l.ev, l.n, &in, &a, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_engine_advance(wf, l.ev, l.n, &in, &b, NULL), MH_OK);
    MH_T_ASSERT_EQ(a.n_events, b.n_events);
    MH_T_ASSERT(a.n_events > 0);
    for (size_t i = 0; i < a.n_events; i++)
        MH_T_ASSERT_MEM_EQ(a.events[i].hash, b.events[i].hash, MH_ENGINE_HASH_LEN);
    /* Each new event links to the one before it. */
    MH_T_ASSERT_EQ(a.events[0].seq, 2);
    uint8_t h[MH_ENGINE_HASH_LEN];
    MH_T_ASSERT_EQ(mh_engine_event_hash(&a.events[0], l.ev[0].hash, h), MH_OK);
    MH_T_ASSERT_MEM_EQ(h, a.events[0].hash, MH_ENGINE_HASH_LEN);
    mh_engine_result_cleanup(&a);
    mh_engine_result_cleanup(&b);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_fold_rejects_foreign_logs)
{
    struct mh_wf *wf = compile_fixture("linear.json");
    struct mh_wf *other = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"order_id\": \"o\", \"amount\": 1}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    struct mh_run_state *st = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_fold(other, l.ev, l.n, &st, &info), MH_EINVAL);
    MH_T_ASSERT(st == NULL);
    MH_T_ASSERT_EQ(info.offset, 2);
    MH_T_ASSERT(strstr(info.message, "no such node") != NULL);
    /* Dropping an event leaves a gap the fold refuses. */
    struct mh_event saved = l.ev[2];
    memmove(&l.ev[2], &l.ev[3], (l.n - 3) * sizeof(*l.ev));
    l.n--;
    MH_T_ASSERT_EQ(mh_engine_fold(wf, l.ev, l.n, &st, &info), MH_EINVAL);
    mh_engine_event_cleanup(&saved);
    /* An empty log cannot be advanced. */
    struct mh_engine_input in = {.now_ms = T0};
    memset(&r, 0, sizeof(r));
    MH_T_ASSERT_EQ(mh_engine_advance(wf, NULL, 0, &in, &r, NULL), MH_EINVAL);
    tlog_free(&l);
    mh_engine_wf_unref(other);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_context_and_secrets_guard)
{
    struct mh_wf *wf = compile_fixture("parallel_http.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    /* A webhook body trying to pull a secret into an outgoing request only sends its own text:
     * the one placeholder the request records is the workflow's, in the Authorization header. */
    tlog_start(&l, "{\"id\": \"{{secrets.CRM_TOKEN}}\", \"n\": 1, \"email\": \"e\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    const struct mh_engine_action *crm = NULL;
    for (size_t i = 0; i < r.n_actions; i++)
        if (strcmp(r.actions[i].node_id, "crm") == 0)
            crm = &r.actions[i];
    MH_T_ASSERT(crm != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(crm->request, "url")),
                       "https://crm.example.com/contacts/%7B%7Bsecrets.CRM_TOKEN%7D%7D");
    ASSERT_JSON_EQ(json_object_get(crm->request, "placeholders"),
                   "{\"headers\": {\"Authorization\": [[7, 28, \"CRM_TOKEN\"]]}}");
    json_t *values = json_pack("{s:s}", "CRM_TOKEN", "crm-secret-value");
    struct mh_engine_wire w;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_request_resolve(crm->request, values, 0, &w, &info), MH_OK);
    MH_T_ASSERT(strstr(w.url, "crm-secret-value") == NULL);
    MH_T_ASSERT_STR_EQ(w.lines[0], "Authorization: Bearer crm-secret-value");
    mh_engine_wire_cleanup(&w);
    json_decref(values);
    mh_engine_result_cleanup(&r);

    /* The context holds trigger, run and only the node's ancestors. */
    struct mh_run_state *st = fold(wf, &l);
    json_t *ctx = NULL;
    MH_T_ASSERT_EQ(mh_engine_context_build(st, "merge", &ctx), MH_OK);
    ASSERT_JSON_EQ(
        json_object_get(ctx, "run"),
        "{\"id\": \"run-1\", \"workflow\": \"wf-1\", \"version\": 3, \"is_test\": false}");
    MH_T_ASSERT(json_object_get(json_object_get(ctx, "steps"), "start") != NULL);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(ctx, "trigger"), "received_at")),
        "2023-11-14T22:13:20.000Z");
    json_decref(ctx);
    MH_T_ASSERT_EQ(mh_engine_context_build(st, "start", &ctx), MH_OK);
    MH_T_ASSERT_EQ(json_object_size(json_object_get(ctx, "steps")), 0);
    json_decref(ctx);
    MH_T_ASSERT_EQ(mh_engine_context_build(st, "nope", &ctx), MH_ENOTFOUND);
    mh_engine_state_destroy(st);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* The complete example of docs/workflows.md: extracted from the document, so the guide cannot
 * drift from what the engine accepts, and run down both paths the guide describes. */
static json_t *doc_example_in(const char *heading)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/docs/workflows.md", mh_t_repo_dir());
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    char *doc = mh_xcalloc(1, 1 << 20);
    size_t n = fread(doc, 1, (1 << 20) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *sec = strstr(doc, heading);
    MH_T_ASSERT(sec != NULL);
    char *start = strstr(sec, "```json\n");
    MH_T_ASSERT(start != NULL);
    start += 8;
    char *end = strstr(start, "```");
    MH_T_ASSERT(end != NULL);
    json_error_t jerr;
    json_t *def = json_loadb(start, (size_t)(end - start), 0, &jerr);
    if (def == NULL)
        mh_t_fail(__FILE__, __LINE__, "example does not parse: %s (line %d)", jerr.text, jerr.line);
    free(doc);
    return def;
}

static json_t *doc_example(void)
{
    return doc_example_in("## A complete example");
}

MH_TEST(engine_docs_example_runs_as_described)
{
    json_t *def = doc_example(), *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    struct trng rng = {.value = 0};
    for (int big = 0; big <= 1; big++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        tlog_start(&l, big ? "{\"id\": 7, \"amount\": 1500, \"customer\": {\"email\": \"a@x\"}}"
                           : "{\"id\": 8, \"amount\": 50, \"customer\": {\"email\": \"b@x\"}}");
        advance_at(wf, &l, T0, &rng, NULL, 0, &r);
        const struct mh_engine_action *a = find_action(&r, MH_ACTION_HTTP, "customer");
        MH_T_ASSERT(a != NULL);
        ASSERT_JSON_EQ(json_object_get(a->request, "query"),
                       big ? "{\"email\": \"a@x\"}" : "{\"email\": \"b@x\"}");
        mh_engine_result_cleanup(&r);
        struct mh_event rep;
        report_response(&rep, "customer", 1, 200, "{\"content-type\": \"application/json\"}",
                        "{\"name\": \"Ada\"}");
        advance_at(wf, &l, T0 + 10, &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        if (big) {
            a = find_action(&r, MH_ACTION_HTTP, "notify");
            MH_T_ASSERT(a != NULL);
            MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a->request, "body")),
                               "{\"text\":\"Big order 7\",\"customer\":\"Ada\"}");
            mh_engine_result_cleanup(&r);
            report_response(&rep, "notify", 1, 200, NULL, "");
            advance_at(wf, &l, T0 + 20, &rng, &rep, 1, &r);
            mh_engine_event_cleanup(&rep);
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output, "{\"order\": 7, \"notified\": 200}");
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "wait") > 0);
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "follow_up") > 0);
        } else {
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "notify") > 0);
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "done") > 0);
            a = find_action(&r, MH_ACTION_TIMER, "wait");
            MH_T_ASSERT(a != NULL);
            MH_T_ASSERT_EQ(a->fire_at_ms, T0 + 10 + 86400000LL);
            mh_engine_result_cleanup(&r);
            advance_at(wf, &l, T0 + 10 + 86400000LL, &rng, NULL, 0, &r);
            MH_T_ASSERT(find_action(&r, MH_ACTION_HTTP, "follow_up") != NULL);
            mh_engine_result_cleanup(&r);
            report_response(&rep, "follow_up", 1, 202, NULL, "queued");
            advance_at(wf, &l, T0 + 90000000LL, &rng, &rep, 1, &r);
            mh_engine_event_cleanup(&rep);
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                           "{\"follow_up\": {\"status\": 202, \"headers\": {}, \"body\": "
                           "\"queued\"}}");
        }
        mh_engine_result_cleanup(&r);
        json_t *report = NULL;
        MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
        MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
        json_decref(report);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

/*
 * An object a step outputs is seen by later steps with its keys in one order (jsonb's: shorter
 * first, then bytewise), whether it was just built or read back from the log, where PostgreSQL
 * reorders it: keys(), values() and to_string() give the same live and on replay.
 */
MH_TEST(engine_step_outputs_are_seen_in_one_key_order)
{
    struct mh_wf *wf = compile_fixture("key_order.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"e\": \"a@example.com\", \"c\": \"4111\", \"z\": \"10115\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    long si = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "seen");
    MH_T_ASSERT(si > 0);
    json_t *seen = json_object_get(l.ev[si].payload, "output");
    ASSERT_JSON_EQ(json_object_get(seen, "k"), "[\"zip\", \"card\", \"email\"]");
    ASSERT_JSON_EQ(json_object_get(seen, "v"), "[\"10115\", \"4111\", 1, 2, \"a@example.com\"]");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(seen, "s")),
                       "{\"zip\":\"10115\",\"card\":\"4111\",\"zeta\":1,\"alpha\":2,\"email\":"
                       "\"a@example.com\"}");
    /* The log read back with every object's keys in another order replays clean. */
    for (size_t i = 0; i < l.n; i++) {
        char *text = json_dumps(l.ev[i].payload, JSON_SORT_KEYS | JSON_ENCODE_ANY);
        json_decref(l.ev[i].payload);
        l.ev[i].payload = json_loads(text, JSON_DECODE_ANY, NULL);
        free(text);
    }
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", json_dumps(report, JSON_COMPACT));
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* An attempt refused by an open breaker parks the step (one step_parked per refusal, no
 * attempt spent), the step resumes with the same attempt and key once the breaker lets a probe
 * through, a repeated refusal report is ignored, and replay accepts the log. */
MH_TEST(engine_http_parked_by_breaker_then_resumed)
{
    struct mh_wf *wf = compile_fixture("http_retry.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 7};
    tlog_start(&l, "{\"order_id\": 5}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    char key1[MH_ENGINE_IDEM_KEY_LEN + 1];
    memcpy(key1, r.actions[0].idempotency_key, sizeof(key1));
    json_t *req1 = json_incref(r.actions[0].request);
    mh_engine_result_cleanup(&r);

    struct mh_event rep;
    MH_T_ASSERT_EQ(mh_engine_event_parked("call", 1, "breaker_open", "http://api.test:80",
                                          T0 + 30000, T0 + 5, &rep),
                   MH_OK);
    advance_at(wf, &l, T0 + 5, &rng, &rep, 1, &r);
    MH_T_ASSERT_EQ(r.n_events, 1);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_STEP_PARKED);
    MH_T_ASSERT_EQ(r.events[0].attempt, 1);
    ASSERT_JSON_EQ(r.events[0].payload, "{\"reason\": \"breaker_open\", \"host\": "
                                        "\"http://api.test:80\", \"until\": 1700000030000}");
    MH_T_ASSERT_EQ(r.n_actions, 0);
    MH_T_ASSERT_EQ(r.next_wake_ms, T0 + 30000);
    mh_engine_result_cleanup(&r);

    /* A second refusal of the same parked attempt adds nothing. */
    advance_at(wf, &l, T0 + 6, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.n_events, 0);
    MH_T_ASSERT_EQ(r.n_ignored, 1);
    mh_engine_result_cleanup(&r);

    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "call"), MH_STEP_WAITING_BREAKER);
    MH_T_ASSERT_EQ(mh_engine_state_step_attempts(st, "call"), 1);
    json_t *summary = mh_engine_state_to_json(st);
    json_t *call = json_object_get(json_object_get(summary, "steps"), "call");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(call, "status")), "waiting_breaker");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(call, "fire_at")), T0 + 30000);
    json_decref(summary);
    mh_engine_state_destroy(st);

    /* Recovery sees a timer, not a call to send. */
    MH_T_ASSERT_EQ(mh_engine_pending(wf, l.ev, l.n, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_TIMER);
    MH_T_ASSERT_EQ(r.actions[0].fire_at_ms, T0 + 30000);
    mh_engine_result_cleanup(&r);

    /* Too early: nothing. Due: step_resumed and the same attempt again. */
    advance_at(wf, &l, T0 + 29999, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 0);
    mh_engine_result_cleanup(&r);
    advance_at(wf, &l, T0 + 30000, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.n_events, 1);
    MH_T_ASSERT_STR_EQ(r.events[0].type, MH_EV_STEP_RESUMED);
    MH_T_ASSERT_EQ(r.n_actions, 1);
    MH_T_ASSERT_EQ(r.actions[0].kind, MH_ACTION_HTTP);
    MH_T_ASSERT_EQ(r.actions[0].attempt, 1);
    MH_T_ASSERT_STR_EQ(r.actions[0].idempotency_key, key1);
    MH_T_ASSERT(json_equal(r.actions[0].request, req1));
    mh_engine_result_cleanup(&r);
    json_decref(req1);
    st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "call"), MH_STEP_RUNNING);
    mh_engine_state_destroy(st);

    report_response(&rep, "call", 1, 200, NULL, "ok");
    advance_at(wf, &l, T0 + 30100, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_PARKED, "call"), 1);
    MH_T_ASSERT_EQ(rng.calls, 0);

    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay: %s", json_dumps(report, JSON_COMPACT));
    json_decref(report);

    /* A step_resumed of a step that is not parked does not fit the log. */
    struct mh_event bogus;
    MH_T_ASSERT_EQ(mh_engine_event_init(&bogus, 0, MH_EV_STEP_RESUMED, "call", 1, NULL, T0, NULL),
                   MH_OK);
    struct tlog l2 = {0};
    tlog_start(&l2, "{\"order_id\": 5}");
    advance_at(wf, &l2, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(mh_engine_event_seal(&bogus, (int64_t)l2.n + 1, l2.ev[l2.n - 1].hash), MH_OK);
    tlog_push(&l2, &bogus);
    struct mh_run_state *bad_st = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_fold(wf, l2.ev, l2.n, &bad_st, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "only a parked step resumes") != NULL);
    tlog_free(&l2);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* A secret in a url's scheme, host or port makes the origin unshowable; the shown form keeps
 * the placeholder. A secret in the path or query does not. */
MH_TEST(engine_request_origin_is_secret)
{
    char shown[64] = "";
    json_t *in_host = json_loads("{\"url\": \"https://{{secrets.T}}.example.com/x?y=1\", "
                                 "\"placeholders\": {\"url\": [[8, 21, \"T\"]]}}",
                                 0, NULL);
    MH_T_ASSERT(mh_engine_request_origin_is_secret(in_host, shown, sizeof(shown)));
    MH_T_ASSERT_STR_EQ(shown, "https://{{secrets.T}}.example.com");
    json_t *in_path = json_loads("{\"url\": \"https://a.test/{{secrets.K}}\", "
                                 "\"placeholders\": {\"url\": [[15, 28, \"K\"]]}}",
                                 0, NULL);
    shown[0] = '\0';
    MH_T_ASSERT(!mh_engine_request_origin_is_secret(in_path, shown, sizeof(shown)));
    MH_T_ASSERT_STR_EQ(shown, "");
    json_t *none = json_loads("{\"url\": \"https://a.test/\"}", 0, NULL);
    MH_T_ASSERT(!mh_engine_request_origin_is_secret(none, NULL, 0));
    char tiny[10];
    MH_T_ASSERT(mh_engine_request_origin_is_secret(in_host, tiny, sizeof(tiny)));
    MH_T_ASSERT_STR_EQ(tiny, "https://{");
    json_decref(in_host);
    json_decref(in_path);
    json_decref(none);
}

/* The step events of `l` from index `from` on whose node is `node`. */
static size_t count_from(const struct tlog *l, size_t from, const char *type, const char *node)
{
    size_t n = 0;
    for (size_t i = from; i < l->n; i++)
        n += strcmp(l->ev[i].type, type) == 0 && strcmp(l->ev[i].node_id, node) == 0;
    return n;
}

/* Replays `l` against `wf` and asserts it verifies. */
static void assert_replays(const struct mh_wf *wf, const struct tlog *l)
{
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", jtext(report));
    json_decref(report);
}

/*
 * An http_call that fails after its retries (the node-level policy: 2 attempts) takes its error
 * edge: the failure is recorded as handled, the normal edge's node is skipped, the error path
 * sees steps.call.error (kind, status, the response body), the join after both paths runs, and
 * the run succeeds. A crash between the failure and the error path's step resumes at that step
 * without repeating the call; replay verifies the run.
 */
MH_TEST(engine_error_edge_taken_after_retries)
{
    struct mh_wf *wf = compile_fixture("error_path.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    struct trng rng = {.value = 0};
    tlog_start(&l, "{\"id\": 5}");
    advance_at(wf, &l, T0, &rng, NULL, 0, &r);
    MH_T_ASSERT(find_action(&r, MH_ACTION_HTTP, "call") != NULL);
    mh_engine_result_cleanup(&r);

    struct mh_event rep;
    report_response(&rep, "call", 1, 503, "{\"content-type\": \"application/json\"}",
                    "{\"error\": \"down\"}");
    advance_at(wf, &l, T0 + 10, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    /* The retry (jitter 0, due at once) goes out as attempt 2 in the same call. */
    const struct mh_engine_action *h = find_action(&r, MH_ACTION_HTTP, "call");
    MH_T_ASSERT(h != NULL && h->attempt == 2);
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    mh_engine_result_cleanup(&r);

    report_response(&rep, "call", 2, 503, "{\"content-type\": \"application/json\"}",
                    "{\"error\": \"down\"}");
    advance_at(wf, &l, T0 + 20, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    long fi = tlog_find(&l, MH_EV_STEP_FAILED, "call");
    MH_T_ASSERT(fi > 0);
    MH_T_ASSERT_EQ(l.ev[fi].attempt, 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(l.ev[fi].payload, "handled")),
                       "error_edge");
    MH_T_ASSERT(tlog_find(&l, MH_EV_RUN_FAILED, "") < 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "ok") > fi);
    long hi = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "handle");
    MH_T_ASSERT(hi > fi);
    const char *handled = "{\"kind\": \"http_status\", \"status\": 503, \"body\": {\"error\": "
                          "\"down\"}, \"output\": null}";
    ASSERT_JSON_EQ(json_object_get(l.ev[hi].payload, "output"), handled);
    const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    MH_T_ASSERT(fin != NULL && fin->status == MH_RUN_SUCCEEDED);
    char want[512];
    snprintf(want, sizeof(want), "{\"after\": {\"ok\": null, \"handled\": %s}}", handled);
    ASSERT_JSON_EQ(fin->output, want);
    mh_engine_result_cleanup(&r);

    /* The folded state shows the step failed and where its failure went. */
    struct mh_run_state *st = fold(wf, &l);
    MH_T_ASSERT_EQ(mh_engine_state_step_status(st, "call"), MH_STEP_FAILED);
    json_t *summary = mh_engine_state_to_json(st);
    json_t *call = json_object_get(json_object_get(summary, "steps"), "call");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(call, "handled")), "error_edge");
    json_decref(summary);
    mh_engine_state_destroy(st);
    assert_replays(wf, &l);

    /* A crash right after the failure was recorded: the next advance runs the error path and
     * does not start the call again. */
    struct tlog cut = {0};
    for (long k = 0; k <= fi; k++)
        tlog_push(&cut, &l.ev[k]);
    MH_T_ASSERT_EQ(mh_engine_pending(wf, cut.ev, cut.n, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(r.n_actions, 0);
    mh_engine_result_cleanup(&r);
    size_t before = cut.n;
    advance_at(wf, &cut, T0 + 5000, &rng, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    MH_T_ASSERT(find_action(&r, MH_ACTION_HTTP, NULL) == NULL);
    MH_T_ASSERT_EQ(count_from(&cut, before, MH_EV_STEP_STARTED, "call"), 0);
    MH_T_ASSERT_EQ(count_from(&cut, before, MH_EV_STEP_SUCCEEDED, "handle"), 1);
    fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    ASSERT_JSON_EQ(fin->output, want);
    mh_engine_result_cleanup(&r);
    assert_replays(wf, &cut);
    tlog_free(&cut);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* A call that succeeds takes its normal edge only: the error path is skipped like a branch's
 * untaken port, and the join runs once. A 404 is not retried and goes to the error path at once. */
MH_TEST(engine_error_edge_not_taken_on_success)
{
    struct mh_wf *wf = compile_fixture("error_path.json");
    for (int fail = 0; fail <= 1; fail++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        struct trng rng = {.value = 0};
        tlog_start(&l, "{\"id\": 6}");
        advance_at(wf, &l, T0, &rng, NULL, 0, &r);
        mh_engine_result_cleanup(&r);
        struct mh_event rep;
        report_response(&rep, "call", 1, fail ? 404 : 200, NULL, fail ? "no such order" : "yes");
        advance_at(wf, &l, T0 + 10, &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
        MH_T_ASSERT_EQ(rng.calls, 0);
        const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
        if (fail) {
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "ok") > 0);
            ASSERT_JSON_EQ(fin->output, "{\"after\": {\"ok\": null, \"handled\": {\"kind\": "
                                        "\"http_status\", \"status\": 404, \"body\": \"no such "
                                        "order\", \"output\": null}}}");
        } else {
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "handle") > 0);
            ASSERT_JSON_EQ(fin->output, "{\"after\": {\"ok\": {\"status\": 200}, \"handled\": "
                                        "null}}");
        }
        MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_STEP_SUCCEEDED, "after"), 1);
        mh_engine_result_cleanup(&r);
        assert_replays(wf, &l);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

/*
 * "on_error": "continue" records the failure (failed, continued) and goes on along the normal
 * edge with steps.boom = {"error": ...}; a pure node's JMESPath error takes its error edge; the
 * run succeeds, its output the sinks that ran. With a good input neither path is taken.
 */
MH_TEST(engine_on_error_continue_and_pure_error_edge)
{
    struct mh_wf *wf = compile_fixture("continue.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"n\": \"x\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    long bi = tlog_find(&l, MH_EV_STEP_FAILED, "boom");
    MH_T_ASSERT(bi > 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(l.ev[bi].payload, "handled")), "continue");
    json_t *err = json_object_get(l.ev[bi].payload, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "jmespath");
    long ni = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "next");
    MH_T_ASSERT(ni > bi);
    json_t *next = json_object_get(l.ev[ni].payload, "output");
    MH_T_ASSERT(json_equal(json_object_get(json_object_get(next, "boom"), "error"), err));
    MH_T_ASSERT(json_is_null(json_object_get(next, "value")));
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "used") > 0);
    const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
    MH_T_ASSERT(fin != NULL);
    MH_T_ASSERT(json_equal(json_object_get(fin->output, "next"), next));
    ASSERT_JSON_EQ(json_object_get(fin->output, "fallback"), "{\"fallback\": \"jmespath\"}");
    MH_T_ASSERT_EQ(json_object_size(fin->output), 2);
    mh_engine_result_cleanup(&r);
    struct mh_run_state *st = fold(wf, &l);
    json_t *summary = mh_engine_state_to_json(st);
    json_t *boom = json_object_get(json_object_get(summary, "steps"), "boom");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(boom, "status")), "failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(boom, "handled")), "continue");
    json_decref(summary);
    mh_engine_state_destroy(st);
    assert_replays(wf, &l);

    /* The log names where each failure went; against a version where boom has no such path the
     * log is foreign. */
    json_t *def = load_fixture("continue.json"), *errors = NULL;
    json_object_del(json_array_get(json_object_get(def, "nodes"), 1), "on_error");
    struct mh_wf *other = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &other, &errors), MH_OK);
    struct mh_run_state *bad = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_engine_fold(other, l.ev, l.n, &bad, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "error path") != NULL);
    mh_engine_wf_unref(other);
    json_decref(errors);
    json_decref(def);
    tlog_free(&l);

    tlog_start(&l, "{\"n\": -3}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "fallback") > 0);
    ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                   "{\"next\": {\"boom\": {\"output\": 3}, \"value\": 3}, \"used\": 3}");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

/* The example of docs/workflows.md "Error paths": run down both outcomes the guide describes. */
MH_TEST(engine_docs_error_path_example_runs_as_described)
{
    json_t *def = doc_example_in("## Error paths, continue on failure, and retries"),
           *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    for (int charged = 0; charged <= 1; charged++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        struct trng rng = {.value = 0};
        struct mh_event rep;
        tlog_start(&l, "{\"id\": 7, \"customer\": \"c-1\"}");
        advance_at(wf, &l, T0, &rng, NULL, 0, &r);
        MH_T_ASSERT(find_action(&r, MH_ACTION_HTTP, "lookup") != NULL);
        mh_engine_result_cleanup(&r);
        report_response(&rep, "lookup", 1, 404, NULL, "unknown customer");
        advance_at(wf, &l, T0 + 1, &rng, &rep, 1, &r);
        mh_engine_event_cleanup(&rep);
        long li = tlog_find(&l, MH_EV_STEP_FAILED, "lookup");
        MH_T_ASSERT(li > 0);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(l.ev[li].payload, "handled")),
                           "continue");
        const struct mh_engine_action *a = find_action(&r, MH_ACTION_HTTP, "charge");
        MH_T_ASSERT(a != NULL);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a->request, "body")),
                           "{\"order\":7,\"tier\":\"standard\"}");
        mh_engine_result_cleanup(&r);
        int attempts = charged ? 1 : 3;
        for (int k = 1; k <= attempts; k++) {
            if (charged)
                report_response(&rep, "charge", k, 201, "{\"content-type\": \"application/json\"}",
                                "{\"id\": \"ch_1\"}");
            else
                report_response(&rep, "charge", k, 503, NULL, "try later");
            advance_at(wf, &l, T0 + 10 * k, &rng, &rep, 1, &r);
            mh_engine_event_cleanup(&rep);
            if (k < attempts)
                mh_engine_result_cleanup(&r);
        }
        if (charged) {
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "alert") > 0);
            ASSERT_JSON_EQ(r.actions[r.n_actions - 1].output,
                           "{\"receipt\": {\"order\": 7, \"charge\": \"ch_1\"}}");
        } else {
            MH_T_ASSERT_EQ(tlog_count(&l, MH_EV_RETRY_SCHEDULED, "charge"), 2);
            MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "receipt") > 0);
            a = find_action(&r, MH_ACTION_HTTP, "alert");
            MH_T_ASSERT(a != NULL);
            ASSERT_JSON_EQ(json_object_get(a->request, "body"),
                           "\"{\\\"order\\\":7,\\\"reason\\\":\\\"HTTP status 503 (after 3 "
                           "attempts)\\\",\\\"status\\\":503}\"");
            mh_engine_result_cleanup(&r);
            report_response(&rep, "alert", 1, 200, NULL, "");
            advance_at(wf, &l, T0 + 100, &rng, &rep, 1, &r);
            mh_engine_event_cleanup(&rep);
            MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
            json_t *out = r.actions[r.n_actions - 1].output;
            MH_T_ASSERT_EQ(json_object_size(out), 1);
            MH_T_ASSERT(json_object_get(out, "alert") != NULL);
        }
        mh_engine_result_cleanup(&r);
        assert_replays(wf, &l);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}

/* The sub-workflow example of docs/workflows.md ("call_workflow"): the call it records and the
 * reply once the child reports its output; a child failure takes the fallback path. */
MH_TEST(engine_call_doc_example)
{
    json_t *def = doc_example_in("### call_workflow"), *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_compile(def, &wf, &errors), MH_OK);
    json_decref(errors);
    json_decref(def);
    for (int fail = 0; fail < 2; fail++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        tlog_start(&l, "{\"qty\": 3}");
        advance_at(wf, &l, T0, NULL, NULL, 0, &r);
        const struct mh_engine_action *c = find_action(&r, MH_ACTION_CALL, "price");
        MH_T_ASSERT(c != NULL);
        ASSERT_JSON_EQ(json_object_get(c->request, "input"), "{\"n\": 3}");
        char child[40];
        snprintf(child, sizeof(child), "%s",
                 json_string_value(json_object_get(c->request, "child_run_id")));
        mh_engine_result_cleanup(&r);
        json_t *out = json_loads("{\"double\": {\"total\": 3, \"by\": \"pricing\"}}", 0, NULL);
        json_t *err = json_pack("{s:s, s:s}", "kind", "step_failed", "message", "no");
        struct mh_event rep;
        MH_T_ASSERT_EQ(mh_engine_event_child_finished("price", 1, child, 1,
                                                      fail ? "failed" : "succeeded", out, err,
                                                      T0 + 5, &rep),
                       MH_OK);
        advance_at(wf, &l, T0 + 5, NULL, &rep, 1, &r);
        MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
        const struct mh_engine_action *fin = find_action(&r, MH_ACTION_FINISHED, NULL);
        char want[200];
        if (fail)
            snprintf(want, sizeof(want),
                     "{\"fallback\": {\"failed\": \"child_failed\", \"child\": \"%s\"}}", child);
        else
            snprintf(want, sizeof(want), "{\"reply\": {\"total\": 3}}");
        ASSERT_JSON_EQ(fin->output, want);
        mh_engine_event_cleanup(&rep);
        mh_engine_result_cleanup(&r);
        json_decref(out);
        json_decref(err);
        assert_replays(wf, &l);
        tlog_free(&l);
    }
    mh_engine_wf_unref(wf);
}
