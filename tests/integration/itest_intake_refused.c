/* SPDX-License-Identifier: MIT */
/*
 * Refused deliveries that keep their body (migration 0028, docs/webhooks.md "Refused deliveries
 * and replay"): a verified delivery refused by the endpoint's JSON Schema keeps its body, shown
 * through the caller's privacy view; its replay is judged again on the endpoint's current
 * schema, refused with the schema's path while it still fails, and after the schema is fixed
 * starts a run exactly as an accepted delivery would (large bodies through the blobs table). An
 * unverified refusal keeps nothing and says so; viewers cannot replay; the per-project quota
 * of refused bodies is kept.
 */
#include "itest_intake_common.h"

/* POSTs `body` as JSON, signed with `secret` (hmac, sha256, hex) or with a wrong one. */
static long post_signed(struct ienv *e, const char *pub, const char *secret, const char *body,
                        bool good)
{
    char mac[100], hdr[200];
    openssl_hmac(e, "sha256", good ? secret : "the-wrong-secret-0000000000", body, strlen(body),
                 false, mac, sizeof(mac));
    snprintf(hdr, sizeof(hdr), "X-Signature: %s", mac);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    struct mh_it_resp r;
    long st = hook(e, pub, "POST", h, body, strlen(body), &r);
    mh_it_resp_cleanup(&r);
    return st;
}

/* The ids of the endpoint's refused deliveries with `status`, newest first, into ids[n][40]. */
static size_t refused_ids(struct ienv *e, const char *eid, long status, char ids[][40], size_t n)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path),
             "/api/projects/%s/endpoints/%s/deliveries?outcome=refused&limit=100", e->project, eid);
    json_t *page = iapi(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    size_t k = 0, i;
    json_t *row;
    json_array_foreach(json_object_get(page, "items"), i, row)
    {
        if (k < n && json_integer_value(json_object_get(row, "status")) == status)
            snprintf(ids[k++], 40, "%s", jstr(row, "id"));
    }
    json_decref(page);
    return k;
}

static json_t *delivery(struct ienv *e, const char *bearer, const char *did)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries/%s", e->project, did);
    json_t *d = mh_it_api(&e->s, bearer, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return d;
}

static json_t *replay(struct ienv *e, const char *bearer, const char *eid, const char *did,
                      long *st)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/deliveries/%s/replay", e->project,
             eid, did);
    return mh_it_api(&e->s, bearer, "POST", path, NULL, st);
}

static long count_rows(struct ienv *e, const char *sql)
{
    char state[6] = "";
    json_t *rows = mh_it_sql(e->db.admin_url, sql, 0, NULL, state);
    if (rows == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: SQLSTATE %s", sql, state);
    long v = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return v;
}

MH_TEST(refused_by_schema_keeps_its_body_and_replays_after_the_fix)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(
        &e, "{\"verification\": {\"scheme\": \"hmac\"}, \"json_schema\": {\"type\": \"object\", "
            "\"required\": [\"id\"], \"properties\": {\"id\": {\"type\": \"integer\"}}}}");
    const char *pub = jstr(ep, "public_id"), *eid = jstr(ep, "id");
    char *secret = strdup(jstr(ep, "key.secret"));
    /* The sender's ids are strings; the schema wants integers. */
    const char *body = "{\"id\": \"ord_1\", \"email\": \"alice@example.com\"}";
    MH_T_ASSERT_EQ(post_signed(&e, pub, secret, body, true), 422);
    MH_T_ASSERT_EQ(post_signed(&e, pub, secret, "{\"id\": \"forged\"}", false), 401);
    /* A large body (past the inline limit of the run's first event) refused the same way. */
    size_t big_len = 20000;
    char *big = malloc(big_len + 1);
    const char *head = "{\"id\": \"ord_2\", \"pad\": \"";
    memcpy(big, head, strlen(head));
    memset(big + strlen(head), 'x', big_len - strlen(head) - 2);
    memcpy(big + big_len - 2, "\"}", 2);
    big[big_len] = '\0';
    MH_T_ASSERT_EQ(post_signed(&e, pub, secret, big, true), 422);

    char schema_ids[2][40], forged[1][40];
    MH_T_ASSERT_EQ(refused_ids(&e, eid, 422, schema_ids, 2), 2);
    MH_T_ASSERT_EQ(refused_ids(&e, eid, 401, forged, 1), 1);
    const char *did = schema_ids[1], *big_did = schema_ids[0]; /* newest first */

    /* The schema refusal keeps its body exactly, and the key that verified it. */
    json_t *d = delivery(&e, e.bearer, did);
    MH_T_ASSERT_STR_EQ(jstr(d, "body"), body);
    MH_T_ASSERT(json_is_true(json_object_get(d, "replayable")));
    MH_T_ASSERT(json_is_string(json_object_get(d, "key_id")));
    json_decref(d);
    d = delivery(&e, e.bearer, big_did);
    MH_T_ASSERT_STR_EQ(jstr(d, "body"), big);
    json_decref(d);
    /* The forged one keeps nothing, and says why it cannot be replayed. */
    d = delivery(&e, e.bearer, forged[0]);
    MH_T_ASSERT(json_object_get(d, "body") == NULL);
    MH_T_ASSERT(json_is_false(json_object_get(d, "replayable")));
    MH_T_ASSERT(strstr(jstr(d, "not_replayable_reason"), "before its signature was verified"));
    json_decref(d);
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE "
                                  "status = 401 AND refused_body IS NULL"),
                   1);

    /* A viewer sees the body through the project's privacy rules (no pii:read), and cannot
     * replay. */
    char viewer[128], vid[40], mpath[128];
    long st;
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", viewer, vid);
    snprintf(mpath, sizeof(mpath), "/api/projects/%s/members", e.project);
    json_decref(
        iapi(&e, "POST", mpath, "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    d = delivery(&e, viewer, did);
    MH_T_ASSERT(jstr(d, "body") != NULL);
    MH_T_ASSERT(strstr(jstr(d, "body"), "alice@example.com") == NULL);
    MH_T_ASSERT(strstr(jstr(d, "body"), "ord_1") != NULL);
    MH_T_ASSERT(json_is_true(json_object_get(d, "redacted")));
    json_decref(d);
    json_decref(replay(&e, viewer, eid, did, &st));
    MH_T_ASSERT_EQ(st, 403);

    /* Replayed before the fix: refused again with the schema's path, nothing started. */
    json_t *r = replay(&e, e.bearer, eid, did, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.code"), "schema_validation_failed");
    MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), "/id");
    MH_T_ASSERT(json_array_size(json_object_get(json_object_get(r, "error"), "errors")) >= 1);
    json_decref(r);
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM runs"), 0);
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM webhook_deliveries"), 3);
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM audit_log WHERE action = "
                                  "'webhook_delivery.replay'"),
                   0);
    /* The unverified refusal cannot be replayed: 409 with the reason. */
    r = replay(&e, e.bearer, eid, forged[0], &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT(strstr(jstr(r, "error.message"), "signature was verified") != NULL);
    json_decref(r);

    /* Fix the schema: ids are strings. */
    char epath[256];
    snprintf(epath, sizeof(epath), "/api/projects/%s/endpoints/%s", e.project, eid);
    json_decref(iapi(&e, "PATCH", epath,
                     "{\"json_schema\": {\"type\": \"object\", \"required\": [\"id\"], "
                     "\"properties\": {\"id\": {\"type\": \"string\"}}}}",
                     &st));
    MH_T_ASSERT_EQ(st, 200);

    /* Replayed now: a run, logged as an accepted delivery naming the refused one, audited; the
     * run sees the body as an accepted delivery's run would, and its log verifies. */
    const char *pair[][2] = {{did, body}, {big_did, big}};
    for (size_t k = 0; k < 2; k++) {
        r = replay(&e, e.bearer, eid, pair[k][0], &st);
        if (st != 202)
            mh_t_fail(__FILE__, __LINE__, "replay: %ld %s", st, json_dumps(r, JSON_COMPACT));
        MH_T_ASSERT_STR_EQ(jstr(r, "replay_of"), pair[k][0]);
        char run[40], new_did[40];
        snprintf(run, sizeof(run), "%s", jstr(r, "run_id"));
        snprintf(new_did, sizeof(new_did), "%s", jstr(r, "delivery_id"));
        json_decref(r);
        json_t *done = wait_run(&e, run);
        MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
        json_decref(done);
        const char *p[] = {run, new_did, pair[k][0]};
        MH_T_ASSERT_EQ(sql_count(&e,
                                 "SELECT count(*) AS n FROM webhook_deliveries WHERE id = $2 AND "
                                 "run_id = $1 AND replay_of = $3 AND outcome = 'accepted' AND "
                                 "status = 202 AND key_id IS NOT NULL",
                                 3, p),
                       1);
        MH_T_ASSERT_EQ(sql_count(&e,
                                 "SELECT count(*) AS n FROM audit_log WHERE action = "
                                 "'webhook_delivery.replay' AND target = $1",
                                 1, p + 1),
                       1);
        /* The node's output (the transform echoes trigger.body) is the body as sent. */
        const char *bp[] = {run, pair[k][1]};
        MH_T_ASSERT(sql_count(&e,
                              "SELECT count(*) AS n FROM events WHERE run_id = $1 AND "
                              "payload->'output' = $2::jsonb",
                              2, bp) >= 1);
        /* The refused delivery's page lists the replay and its run. */
        json_t *orig = delivery(&e, e.bearer, pair[k][0]);
        json_t *replays = json_object_get(orig, "replays");
        MH_T_ASSERT_EQ(json_array_size(replays), 1);
        MH_T_ASSERT_STR_EQ(jstr(json_array_get(replays, 0), "run_id"), run);
        json_decref(orig);
        const char *rargs[] = {"replay", run, NULL};
        char *out = NULL;
        MH_T_ASSERT_EQ(mh_it_run(&e.db, rargs, &out), 0);
        free(out);
    }
    /* The large body is in the blobs table, named by the run's first event. */
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM events v JOIN blobs b ON "
                                  "encode(b.hash, 'hex') = v.payload->'delivery'->>'raw_body_blob' "
                                  "WHERE v.seq = 1 AND length(b.data) = 20000"),
                   1);
    /* The refused deliveries are unchanged: a replay adds rows, it never edits the log. */
    MH_T_ASSERT_EQ(count_rows(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome = "
                                  "'refused' AND refused_body IS NOT NULL"),
                   2);
    free(big);
    free(secret);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(refused_bodies_stay_within_the_project_quota)
{
    struct ienv e;
    const char *args[] = {"--refused-body-quota-bytes", "60", NULL};
    ienv_setup(&e, args);
    json_t *ep = ienv_endpoint(&e, "{\"json_schema\": {\"type\": \"object\", \"required\": "
                                   "[\"id\"]}}");
    const char *pub = jstr(ep, "public_id"), *eid = jstr(ep, "id");
    const char *h[] = {"Content-Type: application/json", NULL};
    /* 40 bytes each: the first fits in 60, the second would not. */
    const char *b1 = "{\"no_id\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
    const char *b2 = "{\"no_id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbb\"}";
    MH_T_ASSERT_EQ(strlen(b1), 40);
    MH_T_ASSERT_EQ(hook_status(&e, pub, h, b1), 422);
    MH_T_ASSERT_EQ(hook_status(&e, pub, h, b2), 422);
    char ids[2][40];
    MH_T_ASSERT_EQ(refused_ids(&e, eid, 422, ids, 2), 2);
    json_t *kept = delivery(&e, e.bearer, ids[1]), *over = delivery(&e, e.bearer, ids[0]);
    MH_T_ASSERT_STR_EQ(jstr(kept, "body"), b1);
    MH_T_ASSERT(json_object_get(over, "body") == NULL);
    MH_T_ASSERT(json_is_false(json_object_get(over, "replayable")));
    MH_T_ASSERT(strstr(jstr(over, "not_replayable_reason"), "refused_body_quota_bytes") != NULL);
    long st;
    json_t *r = replay(&e, e.bearer, eid, ids[0], &st);
    MH_T_ASSERT_EQ(st, 409);
    json_decref(r);
    json_decref(kept);
    json_decref(over);
    json_decref(ep);
    ienv_stop(&e);
}

/* A refusal that keeps its body keeps its query string and idempotency key too (migration
 * 0043): its replay's run sees the query the sender sent, and claims the key, so the sender's
 * own retry after the fix is a duplicate of the replay's run (nothing runs twice), and a second
 * replay is refused naming that run. */
MH_TEST(refused_replay_keeps_the_query_and_claims_the_idempotency_key)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"json_schema\": {\"type\": \"object\", \"required\": "
                                   "[\"id\"], \"properties\": {\"id\": {\"type\": \"integer\"}}}}");
    const char *pub = jstr(ep, "public_id"), *eid = jstr(ep, "id");
    char target[256];
    snprintf(target, sizeof(target), "%s?source=shop&n=2", pub);
    const char *h[] = {"Content-Type: application/json", "Idempotency-Key: order-77", NULL};
    const char *body = "{\"id\": \"ord_7\"}";
    struct mh_it_resp resp;
    MH_T_ASSERT_EQ(hook(&e, target, "POST", h, body, strlen(body), &resp), 422);
    mh_it_resp_cleanup(&resp);
    char ids[1][40];
    MH_T_ASSERT_EQ(refused_ids(&e, eid, 422, ids, 1), 1);
    const char *did = ids[0];
    const char *dp[] = {did};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_deliveries WHERE id = $1 AND "
                             "refused_query = '{\"source\": \"shop\", \"n\": \"2\"}'::jsonb AND "
                             "refused_idempotency_key = 'order-77'",
                             1, dp),
                   1);

    char epath[256];
    long st;
    snprintf(epath, sizeof(epath), "/api/projects/%s/endpoints/%s", e.project, eid);
    json_decref(iapi(&e, "PATCH", epath,
                     "{\"json_schema\": {\"type\": \"object\", \"required\": [\"id\"]}}", &st));
    MH_T_ASSERT_EQ(st, 200);
    json_t *r = replay(&e, e.bearer, eid, did, &st);
    if (st != 202)
        mh_t_fail(__FILE__, __LINE__, "replay: %ld %s", st, json_dumps(r, JSON_COMPACT));
    char run[40];
    snprintf(run, sizeof(run), "%s", jstr(r, "run_id"));
    json_decref(r);
    json_t *done = wait_run(&e, run);
    MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
    json_decref(done);
    /* The run's trigger has the query string the sender sent. */
    const char *rp[] = {run};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM events WHERE run_id = $1 AND seq = 1 AND "
                             "payload->'trigger'->'query' = '{\"source\": \"shop\", \"n\": "
                             "\"2\"}'::jsonb",
                             1, rp),
                   1);
    /* The key is the replay's run's now. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM idempotency_keys WHERE key = 'order-77' "
                             "AND run_id = $1",
                             1, rp),
                   1);
    /* The sender retries after the fix, with the same key: a duplicate of the replay's run. */
    MH_T_ASSERT_EQ(hook(&e, target, "POST", h, body, strlen(body), &resp), 200);
    MH_T_ASSERT(resp.json != NULL);
    MH_T_ASSERT_STR_EQ(jstr(resp.json, "run_id"), run);
    MH_T_ASSERT(json_is_true(json_object_get(resp.json, "duplicate")));
    mh_it_resp_cleanup(&resp);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 1);
    /* A second replay would run it twice: refused, naming the run that holds the key. */
    r = replay(&e, e.bearer, eid, did, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.code"), "duplicate");
    MH_T_ASSERT_STR_EQ(jstr(r, "error.run_id"), run);
    json_decref(r);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 1);
    MH_T_ASSERT_EQ(
        sql_count(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE replay_of = $1", 1, dp),
        1);
    json_decref(ep);
    ienv_stop(&e);
}
