/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the event log's integrity: the canonical encoding against a golden value whose
 * hash was computed independently (tests/data/engine/canonical_event.*), chain verification
 * catching an edited payload, a deleted event and a reordered pair, and replay reporting no
 * divergence on an honest log but the node and both values on a tampered one.
 */
#include "crypto/crypto.h"
#include "test_engine_helpers.h"

/* Loads the golden event of canonical_event.json into `ev` and its previous hash into `prev`. */
static void golden_event(struct mh_event *ev, uint8_t prev[MH_ENGINE_HASH_LEN])
{
    json_t *g = load_fixture("canonical_event.json");
    size_t n = 0;
    const char *hex = json_string_value(json_object_get(g, "prev_hash"));
    MH_T_ASSERT_EQ(mh_crypto_hex_decode(hex, strlen(hex), prev, MH_ENGINE_HASH_LEN, &n), MH_OK);
    MH_T_ASSERT_EQ(n, MH_ENGINE_HASH_LEN);
    MH_T_ASSERT_EQ(mh_engine_event_init(ev, json_integer_value(json_object_get(g, "seq")),
                                        json_string_value(json_object_get(g, "type")),
                                        json_string_value(json_object_get(g, "node_id")),
                                        (int)json_integer_value(json_object_get(g, "attempt")),
                                        json_object_get(g, "payload"),
                                        json_integer_value(json_object_get(g, "at_ms")), NULL),
                   MH_OK);
    json_decref(g);
}

MH_TEST(engine_canonical_encoding_golden)
{
    struct mh_event ev;
    uint8_t prev[MH_ENGINE_HASH_LEN], h[MH_ENGINE_HASH_LEN];
    golden_event(&ev, prev);
    char *enc = NULL;
    size_t len = 0;
    MH_T_ASSERT_EQ(mh_engine_event_encode(&ev, &enc, &len), MH_OK);
    char *golden = load_text("canonical_event.golden");
    MH_T_ASSERT_STR_EQ(enc, golden);
    MH_T_ASSERT_EQ(len, strlen(golden));
    MH_T_ASSERT_EQ(mh_engine_event_hash(&ev, prev, h), MH_OK);
    char hex[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(h, sizeof(h), hex);
    char *want = load_text("canonical_event.sha256");
    MH_T_ASSERT_STR_EQ(hex, want);
    /* Sealing sets the same hash. */
    MH_T_ASSERT_EQ(mh_engine_event_seal(&ev, 7, prev), MH_OK);
    MH_T_ASSERT_MEM_EQ(ev.hash, h, sizeof(h));
    /* So does sealing with the payload's text, which is the golden encoding's last line. */
    memset(ev.hash, 0, sizeof(ev.hash));
    char *payload_json = NULL;
    MH_T_ASSERT_EQ(mh_engine_event_seal_json(&ev, 7, prev, &payload_json), MH_OK);
    MH_T_ASSERT_MEM_EQ(ev.hash, h, sizeof(h));
    MH_T_ASSERT(payload_json != NULL);
    const char *last_line = golden;
    for (int i = 0; i < 5; i++)
        last_line = strchr(last_line, '\n') + 1;
    MH_T_ASSERT_STR_EQ(payload_json, last_line);
    json_error_t jerr;
    json_t *back = json_loads(payload_json, 0, &jerr);
    MH_T_ASSERT(back != NULL); /* valid JSON, and canonical: it encodes to itself */
    struct mh_buf again;
    mh_buf_init(&again, 1u << 20);
    MH_T_ASSERT_EQ(mh_engine_canonical_json(back, &again), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&again), payload_json);
    mh_buf_cleanup(&again);
    json_decref(back);
    free(payload_json);
    /* The first event of a run chains from 32 zero bytes. */
    uint8_t zeros[MH_ENGINE_HASH_LEN] = {0}, h0[MH_ENGINE_HASH_LEN], h1[MH_ENGINE_HASH_LEN];
    MH_T_ASSERT_EQ(mh_engine_event_hash(&ev, NULL, h0), MH_OK);
    MH_T_ASSERT_EQ(mh_engine_event_hash(&ev, zeros, h1), MH_OK);
    MH_T_ASSERT_MEM_EQ(h0, h1, sizeof(h0));
    free(want);
    free(golden);
    free(enc);
    mh_engine_event_cleanup(&ev);
}

MH_TEST(engine_canonical_sorts_small_and_large_objects)
{
    /* Objects are sorted by insertion up to 16 members and by qsort beyond: both give the byte
     * order of the keys (a prefix first), whatever the insertion order. */
    for (int n = 1; n <= 40; n += 13) {
        json_t *o = json_object();
        struct mh_buf want, got;
        mh_buf_init(&want, 1 << 16);
        mh_buf_init(&got, 1 << 16);
        MH_T_ASSERT_EQ(mh_buf_append_str(&want, "{\"k\":null"), MH_OK);
        for (int i = 0; i < n; i++)
            MH_T_ASSERT_EQ(mh_buf_printf(&want, ",\"k%02d\":%d", i, -i), MH_OK);
        MH_T_ASSERT_EQ(mh_buf_append_str(&want, "}"), MH_OK);
        for (int i = n - 1; i >= 0; i--) {
            char key[16];
            snprintf(key, sizeof(key), "k%02d", i);
            json_object_set_new(o, key, json_integer(-i));
        }
        json_object_set_new(o, "k", json_null());
        MH_T_ASSERT_EQ(mh_engine_canonical_json(o, &got), MH_OK);
        MH_T_ASSERT_STR_EQ(mh_buf_str(&got), mh_buf_str(&want));
        mh_buf_cleanup(&got);
        mh_buf_cleanup(&want);
        json_decref(o);
    }
}

MH_TEST(engine_canonical_survives_jsonb_round_trip)
{
    /* jsonb reorders keys and may turn 2.0 into 2 or 1e2 into 100; the encoding must not care. */
    json_t *a = json_loads("{\"b\": 2.0, \"a\": [1e2, 0.5, \"x\"], \"c\": {\"y\": 1, \"x\": -0.0}}",
                           0, NULL);
    json_t *b =
        json_loads("{\"c\": {\"x\": 0, \"y\": 1}, \"a\": [100, 0.50, \"x\"], \"b\": 2}", 0, NULL);
    struct mh_buf x, y;
    mh_buf_init(&x, 1 << 16);
    mh_buf_init(&y, 1 << 16);
    MH_T_ASSERT_EQ(mh_engine_canonical_json(a, &x), MH_OK);
    MH_T_ASSERT_EQ(mh_engine_canonical_json(b, &y), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&x), "{\"a\":[100,0.5,\"x\"],\"b\":2,\"c\":{\"x\":0,\"y\":1}}");
    MH_T_ASSERT_STR_EQ(mh_buf_str(&x), mh_buf_str(&y));
    /* The buffer's limit bounds the encoding. */
    struct mh_buf small;
    mh_buf_init(&small, 8);
    MH_T_ASSERT_EQ(mh_engine_canonical_json(a, &small), MH_ETOOBIG);
    mh_buf_cleanup(&small);
    mh_buf_cleanup(&x);
    mh_buf_cleanup(&y);
    json_decref(a);
    json_decref(b);
}

/* Builds a finished run of linear.json (seven events after run_started). */
static void linear_log(struct mh_wf **wf, struct tlog *l)
{
    struct mh_engine_result r;
    *wf = compile_fixture("linear.json");
    memset(l, 0, sizeof(*l));
    tlog_start(l, "{\"order_id\": \"o-1\", \"amount\": 500}");
    advance_at(*wf, l, T0 + 3, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(l->n, 8);
}

/* Replaces the payload of event `i` with the JSON text `payload`. */
static void set_payload(struct tlog *l, size_t i, const char *payload)
{
    json_decref(l->ev[i].payload);
    l->ev[i].payload = json_loads(payload, 0, NULL);
    MH_T_ASSERT(l->ev[i].payload != NULL);
}

/* Recomputes every hash from event `from` on, as a forger with database access would. */
static void reseal_from(struct tlog *l, size_t from)
{
    for (size_t i = from; i < l->n; i++)
        MH_T_ASSERT_EQ(
            mh_engine_event_seal(&l->ev[i], (int64_t)i + 1, i ? l->ev[i - 1].hash : NULL), MH_OK);
}

static json_t *verify(const struct tlog *l)
{
    json_t *breaks = NULL;
    MH_T_ASSERT_EQ(mh_engine_chain_verify(l->ev, l->n, &breaks), MH_OK);
    return breaks;
}

MH_TEST(engine_chain_verify_detects_tampering)
{
    struct mh_wf *wf;
    struct tlog l;
    linear_log(&wf, &l);
    json_t *breaks = verify(&l);
    MH_T_ASSERT_EQ(json_array_size(breaks), 0);
    json_decref(breaks);

    /* An edited payload breaks exactly its own link. */
    json_t *orig = json_incref(l.ev[3].payload);
    set_payload(&l, 3, "{\"output\": {\"order\": \"o-1\", \"tier\": \"small\"}}");
    breaks = verify(&l);
    MH_T_ASSERT_EQ(json_array_size(breaks), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(breaks, 0), "seq")), 4);
    MH_T_ASSERT(strstr(json_string_value(json_object_get(json_array_get(breaks, 0), "reason")),
                       "hash") != NULL);
    json_decref(breaks);
    json_decref(l.ev[3].payload);
    l.ev[3].payload = orig;

    /* An edited timestamp is caught as well. */
    l.ev[5].at_ms += 1;
    breaks = verify(&l);
    MH_T_ASSERT_EQ(json_array_size(breaks), 1);
    json_decref(breaks);
    l.ev[5].at_ms -= 1;

    /* Two events swapped: both positions report. */
    struct mh_event tmp = l.ev[4];
    l.ev[4] = l.ev[5];
    l.ev[5] = tmp;
    breaks = verify(&l);
    MH_T_ASSERT(json_array_size(breaks) >= 2);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(breaks, 0), "seq")), 6);
    json_decref(breaks);
    tmp = l.ev[4];
    l.ev[4] = l.ev[5];
    l.ev[5] = tmp;
    breaks = verify(&l);
    MH_T_ASSERT_EQ(json_array_size(breaks), 0);
    json_decref(breaks);

    /* A deleted event: the gap and the broken link after it. */
    struct mh_event gone = l.ev[2];
    memmove(&l.ev[2], &l.ev[3], (l.n - 3) * sizeof(*l.ev));
    l.n--;
    breaks = verify(&l);
    MH_T_ASSERT(json_array_size(breaks) >= 1);
    bool saw_gap = false;
    size_t i;
    json_t *b;
    json_array_foreach(breaks, i, b)
    {
        if (strstr(json_string_value(json_object_get(b, "reason")), "gap") != NULL)
            saw_gap = true;
    }
    MH_T_ASSERT(saw_gap);
    json_decref(breaks);
    /* Renumbered to hide the gap, every link from the gap on breaks, since seq is hashed. */
    for (size_t k = 2; k < l.n; k++)
        l.ev[k].seq = (int64_t)k + 1;
    breaks = verify(&l);
    MH_T_ASSERT_EQ(json_array_size(breaks), l.n - 2);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(breaks, 0), "seq")), 3);
    json_decref(breaks);
    mh_engine_event_cleanup(&gone);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_replay_honest_log)
{
    struct mh_wf *wf;
    struct tlog l;
    linear_log(&wf, &l);
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(report, "events")), 8);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "divergences")), 0);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "chain_breaks")), 0);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "errors")), 0);
    json_decref(report);
    tlog_free(&l);

    /* A log with http calls, a retry and a runtime failure replays cleanly too. */
    struct mh_wf *wf2 = compile_fixture("parallel_http.json");
    struct mh_engine_result r;
    struct trng rng = {.value = 3};
    tlog_start(&l, "{\"id\": 5, \"n\": 1, \"email\": \"a@example.com\"}");
    advance_at(wf2, &l, T0, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    struct mh_event rep;
    report_response(&rep, "crm", 1, 503, NULL, "busy");
    advance_at(wf2, &l, T0 + 1, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    mh_engine_result_cleanup(&r);
    advance_at(wf2, &l, T0 + 100, &rng, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    report_response(&rep, "crm", 2, 200, NULL, "ok");
    advance_at(wf2, &l, T0 + 101, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    mh_engine_result_cleanup(&r);
    report_response(&rep, "billing", 1, 200, "{\"content-type\": \"application/json\"}",
                    "{\"plan\": \"free\"}");
    advance_at(wf2, &l, T0 + 102, &rng, &rep, 1, &r);
    mh_engine_event_cleanup(&rep);
    MH_T_ASSERT_EQ(r.status, MH_RUN_SUCCEEDED);
    mh_engine_result_cleanup(&r);
    int calls = rng.calls;
    MH_T_ASSERT_EQ(mh_engine_replay(wf2, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
    MH_T_ASSERT_EQ(rng.calls, calls);
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf2);

    struct mh_wf *wf3 = compile_fixture("runtime_error.json");
    tlog_start(&l, "{\"name\": \"x\"}");
    advance_at(wf3, &l, T0, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, MH_RUN_FAILED);
    mh_engine_result_cleanup(&r);
    MH_T_ASSERT_EQ(mh_engine_replay(wf3, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_true(json_object_get(report, "ok")));
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf3);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_replay_reports_tampered_output)
{
    struct mh_wf *wf;
    struct tlog l;
    linear_log(&wf, &l);
    long i = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "big");
    MH_T_ASSERT(i > 0);
    set_payload(&l, (size_t)i,
                "{\"output\": {\"order\": \"o-1\", \"tier\": \"big\", \"doubled\": 2}}");
    reseal_from(&l, (size_t)i);
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    /* The chain was recomputed, so only the divergence shows. */
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "chain_breaks")), 0);
    json_t *divs = json_object_get(report, "divergences");
    MH_T_ASSERT(json_array_size(divs) >= 1);
    json_t *d = json_array_get(divs, 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(d, "seq")), i + 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "node")), "big");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "field")), "output");
    ASSERT_JSON_EQ(json_object_get(d, "recorded"),
                   "{\"order\": \"o-1\", \"tier\": \"big\", \"doubled\": 2}");
    ASSERT_JSON_EQ(json_object_get(d, "recomputed"),
                   "{\"order\": \"o-1\", \"tier\": \"big\", \"doubled\": 1000}");
    /* "done" consumed the forged value and recorded the honest one: it diverges too. */
    bool saw_done = false;
    size_t k;
    json_array_foreach(divs, k, d)
    {
        if (strcmp(json_string_value(json_object_get(d, "node")), "done") == 0)
            saw_done = true;
    }
    MH_T_ASSERT(saw_done);
    json_decref(report);

    /* Without resealing, replay shows the broken link as well. */
    set_payload(&l, 1, "{\"output\": {\"order\": \"o-1\", \"amount\": 1, \"run\": \"run-1\"}}");
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(report, "chain_breaks")), 1);
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_replay_reports_forged_branch_and_request)
{
    /* A branch whose port was flipped. */
    struct mh_wf *wf;
    struct tlog l;
    linear_log(&wf, &l);
    long i = tlog_find(&l, MH_EV_STEP_SUCCEEDED, "is_big");
    set_payload(&l, (size_t)i, "{\"output\": true, \"port\": \"false\"}");
    reseal_from(&l, (size_t)i);
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    json_t *d = json_array_get(json_object_get(report, "divergences"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "node")), "is_big");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "field")), "port");
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);

    /* An http request rewritten to go elsewhere. */
    wf = compile_fixture("http_retry.json");
    struct mh_engine_result r;
    tlog_start(&l, "{\"order_id\": 4}");
    advance_at(wf, &l, T0, NULL, NULL, 0, &r);
    mh_engine_result_cleanup(&r);
    i = tlog_find(&l, MH_EV_STEP_STARTED, "call");
    json_t *req = json_object_get(l.ev[i].payload, "request");
    json_object_set_new(req, "url", json_string("https://attacker.example/steal"));
    reseal_from(&l, (size_t)i);
    MH_T_ASSERT_EQ(mh_engine_replay(wf, l.ev, l.n, &report), MH_OK);
    MH_T_ASSERT(json_is_false(json_object_get(report, "ok")));
    d = json_array_get(json_object_get(report, "divergences"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "field")), "request");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(d, "recomputed"), "url")),
                       "https://hooks.example.com/in");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(d, "recorded"), "url")),
                       "https://attacker.example/steal");
    json_decref(report);
    tlog_free(&l);
    mh_engine_wf_unref(wf);
}

MH_TEST(engine_event_constructors)
{
    /* A binary body is kept as base64; a JSON body is parsed when the content-type says so. */
    struct mh_event ev;
    const char bin[] = {'\xff', '\xfe', 'a'};
    json_t *h = json_pack("{s:s}", "Content-Type", "application/vnd.api+json");
    struct mh_engine_http_outcome o = {
        .status = 200, .headers = h, .body = bin, .body_len = sizeof(bin), .duration_ms = 4};
    MH_T_ASSERT_EQ(mh_engine_event_http_result("n", 1, NULL, &o, T0, &ev), MH_OK);
    json_t *resp = json_object_get(ev.payload, "response");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(resp, "body_b64")), "//5h");
    MH_T_ASSERT(json_object_get(resp, "body") == NULL);
    MH_T_ASSERT_EQ(ev.seq, 0);
    mh_engine_event_cleanup(&ev);
    o.body = "a\0b";
    o.body_len = 3;
    MH_T_ASSERT_EQ(mh_engine_event_http_result("n", 1, NULL, &o, T0, &ev), MH_OK);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(ev.payload, "response"), "body_b64")),
        "YQBi");
    mh_engine_event_cleanup(&ev);
    o.body = "[1,2]";
    o.body_len = 5;
    MH_T_ASSERT_EQ(mh_engine_event_http_result("n", 2, NULL, &o, T0, &ev), MH_OK);
    ASSERT_JSON_EQ(json_object_get(json_object_get(ev.payload, "response"), "json"), "[1,2]");
    MH_T_ASSERT_EQ(ev.attempt, 2);
    mh_engine_event_cleanup(&ev);
    /* Bad arguments. */
    MH_T_ASSERT_EQ(mh_engine_event_http_result("n", 0, NULL, &o, T0, &ev), MH_EINVAL);
    o.status = 42;
    MH_T_ASSERT_EQ(mh_engine_event_http_result("n", 1, NULL, &o, T0, &ev), MH_EINVAL);
    /* Longer than any step id (a for_each body step's "<node>[<index>].<body node>"). */
    char long_id[MH_ENGINE_STEP_ID_MAX + 2];
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    MH_T_ASSERT_EQ(mh_engine_event_init(&ev, 1, "x", long_id, 0, NULL, 0, NULL), MH_EINVAL);
    json_t *trigger = json_object();
    json_t *extra = json_pack("{s:s}", "key_id", "k1");
    MH_T_ASSERT_EQ(mh_engine_event_run_started("r", "w", 1, true, trigger, extra, T0, &ev, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(ev.seq, 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(ev.payload, "key_id")), "k1");
    MH_T_ASSERT(json_is_true(json_object_get(ev.payload, "is_test")));
    json_t *breaks = NULL;
    MH_T_ASSERT_EQ(mh_engine_chain_verify(&ev, 1, &breaks), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(breaks), 0);
    json_decref(breaks);
    mh_engine_event_cleanup(&ev);
    MH_T_ASSERT_EQ(mh_engine_event_run_started("", "w", 1, false, trigger, NULL, T0, &ev, NULL),
                   MH_EINVAL);
    json_decref(extra);
    json_decref(trigger);
    json_decref(h);
}
