/* SPDX-License-Identifier: MIT */
/*
 * The intake's delivery log, replay and test webhook through the real API: every attempt listed
 * per endpoint with paging and its status, reason, redacted headers and body size; an accepted
 * delivery re-sent into a new run that finishes with the same input (large bodies included,
 * which live in the blobs table); and the test webhook, signed with the endpoint's own key under
 * each scheme, producing a run.
 */
#include "itest_intake_common.h"

static json_t *get(struct ienv *e, const char *path, long want)
{
    long st;
    json_t *r = iapi(e, "GET", path, NULL, &st);
    if (st != want)
        mh_t_fail(__FILE__, __LINE__, "GET %s: %ld", path, st);
    return r;
}

static void assert_replays_clean(struct ienv *e, const char *run)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e->project, run);
    json_t *rep = iapi(e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    if (!json_is_true(json_object_get(rep, "ok"))) {
        char *s = json_dumps(rep, 0);
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", s);
    }
    json_decref(rep);
    const char *args[] = {"replay", run, NULL};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e->db, args, &out), 0);
    free(out);
}

static long signed_post(struct ienv *e, const char *pub, const char *secret, const char *body,
                        size_t len, bool good, char *run_id)
{
    char mac[100], hdr[200];
    openssl_hmac(e, "sha256", good ? secret : "the-wrong-secret-0000000000", body, len, false, mac,
                 sizeof(mac));
    snprintf(hdr, sizeof(hdr), "X-Signature: %s", mac);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    struct mh_it_resp r;
    long st = hook(e, pub, "POST", h, body, len, &r);
    if (run_id)
        snprintf(run_id, 40, "%s", st == 202 ? jstr(r.json, "run_id") : "");
    mh_it_resp_cleanup(&r);
    return st;
}

MH_TEST(delivery_log_paging_replay_and_large_bodies)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep =
        ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"hmac\"}, \"max_body_bytes\": 300000}");
    const char *pub = jstr(ep, "public_id");
    char *secret = strdup(jstr(ep, "key.secret"));
    char run[40];
    const char *bodies[] = {"{\"n\": 1}", "{\"n\": 2}", "{\"n\": 3}"};
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(signed_post(&e, pub, secret, bodies[i], strlen(bodies[i]), true, run), 202);
    MH_T_ASSERT_EQ(signed_post(&e, pub, secret, "{\"n\": 4}", 8, false, NULL), 401);
    MH_T_ASSERT_EQ(signed_post(&e, pub, secret, "{\"n\": 5}", 8, false, NULL), 401);

    /* Paging, newest first, two at a time. */
    char base[256], path[512];
    snprintf(base, sizeof(base), "/api/projects/%s/endpoints/%s/deliveries", e.project,
             jstr(ep, "id"));
    snprintf(path, sizeof(path), "%s?limit=2", base);
    int total = 0, pages = 0;
    json_t *page = get(&e, path, 200);
    long last_status = 0;
    for (;;) {
        pages++;
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(page, "items"), i, row)
        {
            total++;
            long s = (long)json_integer_value(json_object_get(row, "status"));
            if (total == 1)
                MH_T_ASSERT_EQ(s, 401); /* newest first */
            last_status = s;
            MH_T_ASSERT_STR_EQ(
                json_string_value(json_object_get(json_object_get(row, "headers"), "x-signature")),
                "[redacted]");
            MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "body_size")), 8);
            MH_T_ASSERT_EQ(strlen(json_string_value(json_object_get(row, "body_sha256"))), 64);
            bool accepted = s == 202;
            MH_T_ASSERT_EQ(json_is_string(json_object_get(row, "run_id")), accepted);
            MH_T_ASSERT_EQ(json_is_string(json_object_get(row, "key_id")), accepted);
        }
        const char *next = jstr(page, "next_cursor");
        if (next == NULL)
            break;
        snprintf(path, sizeof(path), "%s?limit=2&cursor=%s", base, next);
        json_decref(page);
        page = get(&e, path, 200);
    }
    json_decref(page);
    MH_T_ASSERT_EQ(total, 5);
    MH_T_ASSERT_EQ(pages, 3);
    MH_T_ASSERT_EQ(last_status, 202);
    snprintf(path, sizeof(path), "%s?outcome=accepted", base);
    page = get(&e, path, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(page, "items")), 3);
    /* The body hash is the SHA-256 of the bytes received (per openssl). */
    char sha[100], tmp_path[256];
    tmp_file(&e, "body3", bodies[2], strlen(bodies[2]), tmp_path, sizeof(tmp_path));
    sh_line(sha, sizeof(sha), "openssl dgst -sha256 -r '%s' | cut -d' ' -f1", tmp_path);
    json_t *newest = json_array_get(json_object_get(page, "items"), 0);
    MH_T_ASSERT_STR_EQ(jstr(newest, "body_sha256"), sha);
    char did[40], orig_run[40];
    snprintf(did, sizeof(did), "%s", jstr(newest, "id"));
    snprintf(orig_run, sizeof(orig_run), "%s", jstr(newest, "run_id"));
    json_decref(page);
    snprintf(path, sizeof(path), "%s/%s", base, did);
    json_decref(get(&e, path, 200));

    /* Runs written by the intake's batch statement verify like any other: the engine's replay
     * (API and CLI) checks the hash chain of the first event and re-folds the log. */
    json_decref(wait_run(&e, orig_run));
    assert_replays_clean(&e, orig_run);

    /* Replay: a new run with the same input, logged as a new delivery naming the original. */
    long st;
    snprintf(path, sizeof(path), "%s/%s/replay", base, did);
    json_t *rp = iapi(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT(strcmp(jstr(rp, "run_id"), orig_run) != 0);
    MH_T_ASSERT_STR_EQ(jstr(rp, "replay_of"), did);
    json_t *done = wait_run(&e, jstr(rp, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
    json_decref(done);
    const char *rr[] = {jstr(rp, "run_id"), orig_run};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM events a JOIN events b ON "
                             "a.payload->'trigger' = b.payload->'trigger' AND "
                             "a.payload->'delivery'->>'raw_body' = "
                             "b.payload->'delivery'->>'raw_body' AND "
                             "a.payload->'delivery'->'body_from_raw' = 'true' WHERE a.run_id = $1 "
                             "AND a.seq = 1 AND b.run_id = $2 AND b.seq = 1",
                             2, rr),
                   1);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_deliveries WHERE replay_of IS "
                             "NOT NULL AND run_id = $1 AND outcome = 'accepted'",
                             1, rr),
                   1);
    json_decref(rp);
    /* Refused deliveries have nothing to replay; viewers may not replay. */
    snprintf(path, sizeof(path), "%s?outcome=refused", base);
    page = get(&e, path, 200);
    char refused[40];
    snprintf(refused, sizeof(refused), "%s",
             jstr(json_array_get(json_object_get(page, "items"), 0), "id"));
    json_decref(page);
    snprintf(path, sizeof(path), "%s/%s/replay", base, refused);
    json_decref(iapi(&e, "POST", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 409);
    char viewer[128], vid[40], mpath[128];
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", viewer, vid);
    snprintf(mpath, sizeof(mpath), "/api/projects/%s/members", e.project);
    json_decref(
        iapi(&e, "POST", mpath, "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    snprintf(path, sizeof(path), "%s/%s/replay", base, did);
    json_decref(mh_it_api(&e.s, viewer, "POST", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 403);
    json_decref(mh_it_api(&e.s, viewer, "GET", base, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);

    /* A large body lives in the blobs table, referenced by hash; replay still works. */
    size_t big_len = 150000;
    char *big = malloc(big_len + 1);
    memcpy(big, "{\"pad\": \"", 9);
    memset(big + 9, 'x', big_len - 11);
    memcpy(big + big_len - 2, "\"}", 2);
    big[big_len] = '\0';
    char big_run[40];
    MH_T_ASSERT_EQ(signed_post(&e, pub, secret, big, big_len, true, big_run), 202);
    const char *bp[] = {big_run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT v.payload->'delivery'->>'raw_body_blob' AS h, "
                             "v.payload->'delivery' ? 'raw_body' AS inline, b.size_bytes AS n, "
                             "b.data = convert_to(repeat('x', 0), 'UTF8') AS empty FROM events v "
                             "JOIN blobs b ON encode(b.hash, 'hex') = "
                             "v.payload->'delivery'->>'raw_body_blob' WHERE v.run_id = $1 AND "
                             "v.seq = 1",
                             1, bp, NULL);
    MH_T_ASSERT(rows && json_array_size(rows) == 1);
    json_t *row0 = json_array_get(rows, 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row0, "n")), (long long)big_len);
    MH_T_ASSERT(json_is_false(json_object_get(row0, "inline")));
    json_decref(rows);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM blobs WHERE sha256(data) = hash AND "
                             "length(data) = 150000",
                             0, NULL),
                   1);
    json_t *bd = wait_run(&e, big_run);
    MH_T_ASSERT_STR_EQ(jstr(bd, "status"), "succeeded");
    json_decref(bd);
    assert_replays_clean(&e, big_run);
    free(big);
    free(secret);
    json_decref(ep);
    ienv_stop(&e);
}

/* POST .../test and checks the run it started finishes; returns the response. */
static json_t *test_webhook(struct ienv *e, json_t *ep, const char *body, long want)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/test", e->project, jstr(ep, "id"));
    json_t *r = iapi(e, "POST", path, body, &st);
    if (st != want) {
        char *d = json_dumps(r, JSON_COMPACT);
        mh_t_fail(__FILE__, __LINE__, "test webhook: %ld %s", st, d ? d : "");
    }
    return r;
}

MH_TEST(test_webhook_under_every_scheme)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    const char *configs[] = {
        "{}",
        "{\"verification\": {\"scheme\": \"hmac\", \"algorithm\": \"sha512\", \"encoding\": "
        "\"base64url\", \"header\": \"X-Sig\", \"prefix\": \"v1=\"}}",
        "{\"verification\": {\"scheme\": \"github\"}}",
        "{\"verification\": {\"scheme\": \"stripe\"}}",
        "{\"verification\": {\"scheme\": \"standard_webhooks\"}}",
        "{\"verification\": {\"scheme\": \"jwt\", \"issuer\": \"me\", \"audience\": \"you\"}}",
    };
    const char *sig_headers[] = {
        NULL,           "X-Sig", "X-Hub-Signature-256", "Stripe-Signature", "webhook-signature",
        "Authorization"};
    for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++) {
        json_t *ep = ienv_endpoint(&e, configs[i]);
        json_t *r = test_webhook(&e, ep, "{\"payload\": {\"hello\": \"world\"}}", 200);
        if (json_integer_value(json_object_get(json_object_get(r, "response"), "status")) != 202) {
            char *d = json_dumps(r, JSON_COMPACT);
            mh_t_fail(__FILE__, __LINE__, "config %zu: %s", i, d);
        }
        if (sig_headers[i])
            MH_T_ASSERT_STR_EQ(
                json_string_value(json_object_get(
                    json_object_get(json_object_get(r, "request"), "headers"), sig_headers[i])),
                "[redacted]");
        MH_T_ASSERT(json_is_true(json_object_get(json_object_get(r, "run"), "is_test")));
        const char *rid = jstr(r, "run.id");
        MH_T_ASSERT(rid != NULL);
        const char *p[] = {rid};
        MH_T_ASSERT_EQ(sql_count(&e,
                                 "SELECT count(*) AS n FROM events WHERE run_id = $1 AND seq = 1 "
                                 "AND (payload->'delivery'->>'raw_body')::jsonb = "
                                 "'{\"hello\": \"world\"}' AND NOT payload->'trigger' ? 'body'",
                                 1, p),
                       1);
        MH_T_ASSERT_EQ(sql_count(&e,
                                 "SELECT count(*) AS n FROM webhook_deliveries WHERE run_id = $1 "
                                 "AND is_test",
                                 1, p),
                       1);
        json_decref(r);
        json_decref(ep);
    }
    /* The default sample payload, and a raw text body. */
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}}");
    json_t *r = test_webhook(&e, ep, "{}", 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "response"), "status")),
                   202);
    json_decref(r);
    r = test_webhook(&e, ep, "{\"body\": \"plain words\", \"content_type\": \"text/plain\"}", 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "response"), "status")),
                   202);
    json_decref(r);
    /* A payload the endpoint's schema refuses comes back as the sender would see it. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s", e.project, jstr(ep, "id"));
    json_decref(iapi(&e, "PATCH", path, "{\"json_schema\": {\"required\": [\"id\"]}}", &st));
    MH_T_ASSERT_EQ(st, 200);
    r = test_webhook(&e, ep, "{\"payload\": {}}", 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r, "response"), "status")),
                   422);
    MH_T_ASSERT(json_is_null(json_object_get(r, "run")));
    json_decref(r);
    json_decref(ep);
    /* RS256 endpoints hold only public keys: MeshHook cannot sign for them. */
    char line[16], pem_path[256];
    sh_line(line, sizeof(line),
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/k.pem "
            "2>/dev/null && openssl pkey -in %s/k.pem -pubout -out %s/k_pub.pem && echo ok",
            e.tmp, e.tmp, e.tmp);
    snprintf(pem_path, sizeof(pem_path), "%s/k_pub.pem", e.tmp);
    FILE *f = fopen(pem_path, "rb");
    char pem[4096];
    size_t n = fread(pem, 1, sizeof(pem) - 1, f);
    pem[n] = '\0';
    fclose(f);
    json_t *req = json_pack("{s:{s:s}, s:{s:s, s:s}}", "verification", "scheme", "jwt", "key",
                            "algorithm", "rs256", "public_key_pem", pem);
    char *body = json_dumps(req, JSON_COMPACT);
    ep = ienv_endpoint(&e, body);
    free(body);
    json_decref(req);
    r = test_webhook(&e, ep, "{}", 422);
    json_decref(r);
    json_decref(ep);
    ienv_stop(&e);
}

/* The version the intake started for a delivery, and the one a replay of that delivery starts
 * (0 when the replay is refused with 409 not_published). */
static void start_versions(struct ienv *e, json_t *ep, long *intake, long *replayed,
                           char *replay_path, size_t cap)
{
    long st;
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(e, jstr(ep, "public_id"), "POST", NULL, "{}", 2, &r), 202);
    const char *run[] = {jstr(r.json, "run_id")};
    *intake = sql_count(e, "SELECT version AS n FROM runs WHERE id = $1", 1, run);
    json_t *d = mh_it_sql(e->db.admin_url, "SELECT id FROM webhook_deliveries WHERE run_id = $1", 1,
                          run, NULL);
    MH_T_ASSERT_EQ(json_array_size(d), 1);
    snprintf(replay_path, cap, "/api/projects/%s/endpoints/%s/deliveries/%s/replay", e->project,
             jstr(ep, "id"), jstr(json_array_get(d, 0), "id"));
    json_decref(d);
    mh_it_resp_cleanup(&r);
    json_t *rp = iapi(e, "POST", replay_path, NULL, &st);
    if (st == 409) {
        MH_T_ASSERT_STR_EQ(jstr(rp, "error.code"), "not_published");
        *replayed = 0;
    } else {
        MH_T_ASSERT_EQ(st, 202);
        const char *rr[] = {jstr(rp, "run_id")};
        *replayed = sql_count(e, "SELECT version AS n FROM runs WHERE id = $1", 1, rr);
    }
    json_decref(rp);
}

/* The published version an endpoint starts is one rule (mh_endpoint_start_version, migration
 * 0032) read by the intake's lookup and by the delivery replay: for an unpinned endpoint, one
 * pinned to an older version and one pinned to the latest, both start the same version, and
 * the SQL function names it too. */
MH_TEST(start_version_intake_and_replay_agree)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    char path[512];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e.project, e.workflow);
    json_decref(iapi(&e, "PUT", path,
                     "{\"definition\": {\"nodes\": [{\"id\": \"echo2\", \"type\": \"transform\", "
                     "\"config\": {\"expression\": \"trigger.body\"}}], \"edges\": []}}",
                     &st));
    MH_T_ASSERT(st == 200 || st == 201);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, e.workflow);
    json_decref(iapi(&e, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);

    static const struct {
        const char *body;
        long want;
        const char *pinned;
    } cases[] = {
        {"{\"rate_capacity\": 1000}", 2, NULL},
        {"{\"rate_capacity\": 1000, \"pinned_version\": 1}", 1, "1"},
        {"{\"rate_capacity\": 1000, \"pinned_version\": 2}", 2, "2"},
    };
    char replay_path[512];
    json_t *first = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *ep = ienv_endpoint(&e, cases[i].body);
        long intake = -1, replayed = -1;
        start_versions(&e, ep, &intake, &replayed, replay_path, sizeof(replay_path));
        if (intake != cases[i].want || replayed != cases[i].want)
            mh_t_fail(__FILE__, __LINE__, "case %zu: intake started v%ld, replay v%ld, want v%ld",
                      i, intake, replayed, cases[i].want);
        const char *p[] = {e.workflow, cases[i].pinned};
        MH_T_ASSERT_EQ(
            sql_count(&e, "SELECT version AS n FROM mh_endpoint_start_version($1, $2::int)", 2, p),
            cases[i].want);
        if (first == NULL)
            first = ep;
        else
            json_decref(ep);
    }
    /* An archived workflow starts nothing, by either path. */
    const char *arch[] = {e.workflow};
    json_decref(mh_it_sql(e.db.admin_url, "UPDATE workflows SET archived_at = now() WHERE id = $1",
                          1, arch, NULL));
    MH_T_ASSERT_EQ(
        sql_count(&e, "SELECT count(*) AS n FROM mh_endpoint_start_version($1, NULL)", 1, arch), 0);
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, jstr(first, "public_id"), "POST", NULL, "{}", 2, &r), 503);
    MH_T_ASSERT_STR_EQ(jstr(r.json, "error.code"), "not_published");
    mh_it_resp_cleanup(&r);
    json_t *rp = iapi(&e, "POST", replay_path, NULL, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(jstr(rp, "error.code"), "not_published");
    json_decref(rp);
    json_decref(first);
    ienv_stop(&e);
}
