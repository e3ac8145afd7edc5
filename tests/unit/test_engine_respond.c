/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the respond node and of the pure prefix the intake runs (mh_engine_advance_pure):
 * the answer a respond step records, its run-time failures, replay of both, and — for every
 * fixture workflow — that a run whose prefix was decided by the intake and the rest by a worker
 * has exactly the log (events, hashes) of a run a worker decided alone.
 */
#include "core/buf.h"
#include "engine/engine_internal.h"
#include "runtime/store.h"
#include "test_engine_helpers.h"

/* The slash-command body of docs/workflows.md's example. */
#define SLASH "{\"user_name\": \"ada\", \"text\": \"deploy web\"}"

static void assert_replays_clean(const struct mh_wf *wf, const struct tlog *l)
{
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l->ev, l->n, &report), MH_OK);
    if (!json_is_true(json_object_get(report, "ok"))) {
        char *s = jtext(report);
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", s);
    }
    json_decref(report);
}

MH_TEST(engine_respond_records_the_answer_and_the_run_goes_on)
{
    struct mh_wf *wf = compile_fixture("respond.json");
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start_raw(&l, SLASH);
    MH_T_ASSERT(mh_engine_wf_has_respond(wf));
    advance_at(wf, &l, T0 + 5, NULL, NULL, 0, &r);
    /* parse, known, answer, refuse (skipped), the notify call started, audit. */
    MH_T_ASSERT_EQ(r.status, MH_RUN_RUNNING);
    json_t *resp = mh_engine_response_of(wf, r.events, r.n_events);
    ASSERT_JSON_EQ(resp, "{\"status\": 200, \"headers\": {\"content-type\": \"application/json\", "
                         "\"x-run\": \"run-1\"}, \"body\": {\"response_type\": \"ephemeral\", "
                         "\"text\": \"Working on deploy web, ada\"}}");
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SKIPPED, "refuse") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_STARTED, "notify") > 0);
    MH_T_ASSERT(tlog_find(&l, MH_EV_STEP_SUCCEEDED, "audit") > 0);
    mh_engine_result_cleanup(&r);
    assert_replays_clean(wf, &l);

    /* A tampered answer is a divergence. */
    long ai = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "answer");
    json_t *out = json_object_get(l.ev[ai].payload, "output");
    json_object_set_new(out, "status", json_integer(201));
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    json_t *div = json_array_get(json_object_get(report, "divergences"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(div, "node")), "answer");
    json_decref(report);
    tlog_free(&l);

    /* The other path: a computed status and a text body. */
    tlog_start_raw(&l, "{\"user_name\": \"ada\", \"text\": \"\"}");
    advance_at(wf, &l, T0 + 5, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(mh_engine_response_of(wf, r.events, r.n_events),
                   "{\"status\": 400, \"headers\": {\"content-type\": \"text/plain\"}, \"body\": "
                   "\"say something\"}");
    mh_engine_result_cleanup(&r);
    assert_replays_clean(wf, &l);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

static struct mh_wf *compile_text(const char *text)
{
    json_t *def = json_loads(text, 0, NULL), *errors = NULL;
    struct mh_wf *wf = NULL;
    MH_T_ASSERT(def != NULL);
    if (mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        char *s = jtext(errors);
        mh_t_fail(__FILE__, __LINE__, "does not compile: %s", s);
    }
    json_decref(errors);
    json_decref(def);
    return wf;
}

MH_TEST(engine_respond_bad_status_or_header_fails_the_step)
{
    struct mh_wf *wf = compile_text(
        "{\"nodes\": [{\"id\": \"r\", \"type\": \"respond\", \"config\": {\"status\": "
        "\"trigger.body.code\", \"headers\": {\"x-note\": \"{{ trigger.body.note }}\"}}}], "
        "\"edges\": []}");
    const char *bodies[] = {"{\"code\": 700, \"note\": \"a\"}",
                            "{\"code\": \"200\", \"note\": \"a\"}",
                            "{\"code\": 204.5, \"note\": \"a\"}",
                            "{\"code\": 204, \"note\": \"a\\r\\nSet-Cookie: x=1\"}"};
    const char *kinds[] = {"invalid_value", "invalid_value", "invalid_value", "template"};
    for (size_t i = 0; i < MH_ARRAY_LEN(bodies); i++) {
        struct tlog l = {0};
        struct mh_engine_result r;
        tlog_start(&l, bodies[i]);
        advance_at(wf, &l, T0, NULL, NULL, 0, &r);
        MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
        MH_T_ASSERT(mh_engine_response_of(wf, r.events, r.n_events) == NULL);
        long fi = tlog_find(&l, MH_EV_STEP_FAILED, "r");
        MH_T_ASSERT(fi > 0);
        json_t *err = json_object_get(l.ev[fi].payload, "error");
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), kinds[i]);
        mh_engine_result_cleanup(&r);
        /* Replay recomputes the failure too. */
        assert_replays_clean(wf, &l);
        tlog_free(&l);
    }
    /* In range: 204 without a body. */
    struct tlog l = {0};
    struct mh_engine_result r;
    tlog_start(&l, "{\"code\": 204, \"note\": \"ok\"}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    ASSERT_JSON_EQ(mh_engine_response_of(wf, r.events, r.n_events),
                   "{\"status\": 204, \"headers\": {\"x-note\": \"ok\"}}");
    mh_engine_result_cleanup(&r);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
    MH_T_ASSERT(mh_engine_respond_header_refused("Set-Cookie"));
    MH_T_ASSERT(mh_engine_respond_header_refused("access-control-allow-origin"));
    MH_T_ASSERT(mh_engine_respond_header_refused("Transfer-Encoding"));
    MH_T_ASSERT(!mh_engine_respond_header_refused("Content-Type"));
    MH_T_ASSERT(!mh_engine_respond_header_refused("Location"));
}

/*
 * The log of a run advanced by a worker alone, at `now`, against the log of the same run whose
 * pure prefix the intake decided (mh_engine_advance_pure) before a worker advanced the rest at
 * the same `now`: equal event for event, hashes included. Returns how many events the prefix
 * held.
 */
static size_t check_prefix_equivalence(const char *fixture, const char *body)
{
    struct mh_wf *wf = compile_fixture(fixture);
    struct tlog whole = {0}, split = {0};
    struct mh_engine_result r, p;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    tlog_start_raw(&whole, body);
    tlog_start_raw(&split, body);
    advance_at(wf, &whole, T0 + 3, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(mh_engine_advance_pure(wf, split.ev, split.n, T0 + 3, &p, &info), MH_OK);
    size_t kept = p.n_events;
    for (size_t i = 0; i < p.n_events; i++) {
        const char *t = p.events[i].type;
        /* Only pure decisions: no call started, no timer set. */
        MH_T_ASSERT(strcmp(t, MH_EV_STEP_STARTED) != 0 && strcmp(t, MH_EV_TIMER_SET) != 0);
        tlog_push(&split, &p.events[i]);
    }
    if (p.n_events < r.n_events) {
        MH_T_ASSERT_EQ(p.n_actions, 0);
        MH_T_ASSERT_EQ(p.status, p.n_events ? MH_RUN_RUNNING : MH_RUN_QUEUED);
    } else {
        MH_T_ASSERT_EQ(p.status, r.status);
    }
    mh_engine_result_cleanup(&p);
    struct mh_engine_result rest;
    advance_at(wf, &split, T0 + 3, NULL, NULL, 0, &rest);
    MH_T_ASSERT_EQ(split.n, whole.n);
    if (kept < r.n_events) {
        /* The worker's advance from the prefix asks for what one advance would have. */
        MH_T_ASSERT_EQ(rest.status, r.status);
        MH_T_ASSERT_EQ(rest.n_actions, r.n_actions);
    } else {
        MH_T_ASSERT_EQ(rest.n_events, 0);
    }
    for (size_t i = 0; i < whole.n; i++) {
        MH_T_ASSERT_STR_EQ(split.ev[i].type, whole.ev[i].type);
        MH_T_ASSERT_STR_EQ(split.ev[i].node_id, whole.ev[i].node_id);
        MH_T_ASSERT(memcmp(split.ev[i].hash, whole.ev[i].hash, MH_ENGINE_HASH_LEN) == 0);
    }
    assert_replays_clean(wf, &split);
    mh_engine_result_cleanup(&rest);
    mh_engine_result_cleanup(&r);
    tlog_free(&whole);
    tlog_free(&split);
    mh_engine_wf_unref(wf);
    return kept;
}

MH_TEST(engine_pure_prefix_equals_worker_advance)
{
    /* Pure to the end: the prefix is the whole run. */
    MH_T_ASSERT_EQ(
        check_prefix_equivalence("linear.json", "{\"order_id\": \"o-7\", \"amount\": 250}"), 7);
    MH_T_ASSERT(check_prefix_equivalence("diamond.json", "{\"ok\": false}") > 0);
    MH_T_ASSERT(
        check_prefix_equivalence("key_order.json", "{\"b\": 1, \"a\": {\"d\": 2, \"c\": 3}}") > 0);
    /* Cut before the first call: the answer is in the prefix, the call is the worker's. The
     * audit transform comes after notify in the pass, so the worker records it. */
    MH_T_ASSERT_EQ(check_prefix_equivalence("respond.json", SLASH), 4);
    MH_T_ASSERT(check_prefix_equivalence("parallel_http.json",
                                         "{\"id\": 1, \"n\": 2, \"email\": \"a@example.com\"}") ==
                1);
    /* An entry that waits: nothing is decided in the intake. */
    MH_T_ASSERT_EQ(
        check_prefix_equivalence("delay.json", "{\"wake_at\": \"2030-01-01T00:00:00Z\"}"), 0);
    MH_T_ASSERT_EQ(check_prefix_equivalence("http_retry.json", "{\"id\": 1}"), 0);
}

/* The prefix builds only the body's members its steps read (body.c): bodies whose other members
 * hold every kind of value, brackets and quotes inside strings, escaped names and whitespace
 * give the same log as the worker's whole parse, hashes included, and replay clean. */
MH_TEST(engine_pure_prefix_reads_only_what_its_steps_read)
{
    MH_T_ASSERT_EQ(check_prefix_equivalence(
                       "linear.json",
                       " { \"pad\" : {\"deep\": [1, {\"x\": \"}]\\\"{[\"}, -2.5e3, true, null]},"
                       "\"order_id\":\"o-7\", \"more\": [[], {}, \"\\u005c\\\\\"], "
                       "\"am\\u006fun\\u0074\": 250 ,\"z\":null}\n"),
                   7);
    MH_T_ASSERT(check_prefix_equivalence("key_order.json",
                                         "{\"e\": {\"x\": [1, 2]}, \"skip\": {\"c\": 9}, "
                                         "\"c\": \"4111\", \"z\": 12345}") > 0);
    /* Not an object: parsed whole. */
    MH_T_ASSERT_EQ(check_prefix_equivalence("linear.json", "[1, 2]"), 7);
    MH_T_ASSERT_EQ(check_prefix_equivalence("linear.json", "\"text\""), 7);
}

/* What a workflow's pure steps read of the body, as the intake uses it. */
static char *body_reads_of(const char *fixture)
{
    struct mh_wf *wf = compile_fixture(fixture);
    char *s =
        wf->body_reads ? json_dumps(wf->body_reads, JSON_COMPACT | JSON_SORT_KEYS) : strdup("ALL");
    mh_engine_wf_unref(wf);
    return s;
}

MH_TEST(engine_body_reads_of_fixtures)
{
    char *s = body_reads_of("linear.json");
    MH_T_ASSERT_STR_EQ(s, "{\"amount\":true,\"order_id\":true}");
    free(s);
    s = body_reads_of("key_order.json");
    MH_T_ASSERT_STR_EQ(s, "{\"c\":true,\"e\":true,\"z\":true}");
    free(s);
    /* The respond node's status, headers and body: respond.json reads user_name and text. */
    s = body_reads_of("respond.json");
    MH_T_ASSERT_STR_EQ(s, "{\"text\":true,\"user_name\":true}");
    free(s);
}

MH_TEST(engine_body_pick_builds_only_the_parts_named)
{
    const char *text = "{\"a\": {\"b\": [1], \"c\": {\"d\": 2}}, \"e\": \"}\", \"f\": 3}";
    json_t *reads = json_loads("{\"a\": {\"c\": true}, \"f\": true, \"none\": true}", 0, NULL);
    json_t *got = NULL;
    MH_T_ASSERT_EQ(mh_engine__body_pick(text, strlen(text), reads, &got), MH_OK);
    json_t *want = json_loads("{\"a\": {\"c\": {\"d\": 2}}, \"f\": 3}", 0, NULL);
    MH_T_ASSERT(json_equal(got, want));
    json_decref(got);
    json_decref(want);
    /* All of it without a trie. */
    MH_T_ASSERT_EQ(mh_engine__body_pick(text, strlen(text), NULL, &got), MH_OK);
    MH_T_ASSERT_EQ(json_object_size(got), 3);
    json_decref(got);
    /* Malformed text is refused, never read past its end. */
    const char *bad[] = {"{\"a\": ",     "{\"a\" 1}",   "{\"a\": [1}", "{\"a\": \"x}",
                         "{\"f\": 3} x", "{\"f\": 3,}", "{",           "{\"a\": {\"c\": }}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        got = NULL;
        MH_T_ASSERT_EQ(mh_engine__body_pick(bad[i], strlen(bad[i]), reads, &got), MH_EINVAL);
        MH_T_ASSERT(got == NULL);
    }
    json_decref(reads);
}

/* The prefix's rows as text (mh_engine_event_row_append) are mh_engine_event_row's objects, a
 * real staying a real (jsonb keeps 2.0 apart from 2, and the steps after see which). */
MH_TEST(engine_event_row_append_is_the_row_object)
{
    struct mh_event ev;
    json_t *payload = json_pack("{s:{s:f, s:i, s:s}}", "output", "r", 2.0, "i", 2, "s", "q\"\\\n");
    uint8_t hash[MH_ENGINE_HASH_LEN];
    for (size_t i = 0; i < sizeof(hash); i++)
        hash[i] = (uint8_t)(i * 7);
    MH_T_ASSERT_EQ(mh_engine_event_init(&ev, 4, MH_EV_STEP_SUCCEEDED, "t\"x", 2, payload, T0, hash),
                   MH_OK);
    json_decref(payload);
    for (int k = 0; k < 2; k++) {
        struct mh_buf b;
        mh_buf_init(&b, 1 << 20);
        MH_T_ASSERT_EQ(mh_engine_event_row_append(&ev, &b), MH_OK);
        char *text = mh_buf_steal(&b, NULL);
        json_t *got = json_loads(text, 0, NULL), *want = mh_engine_event_row(&ev);
        MH_T_ASSERT(got != NULL && json_equal(got, want));
        MH_T_ASSERT(k == 1 || strstr(text, "\"r\":2.0") != NULL);
        free(text);
        json_decref(got);
        json_decref(want);
        mh_buf_cleanup(&b);
        /* And an event without a payload. */
        json_decref(ev.payload);
        ev.payload = NULL;
    }
    mh_engine_event_cleanup(&ev);
}
