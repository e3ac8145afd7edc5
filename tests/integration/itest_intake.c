/* SPDX-License-Identifier: MIT */
/*
 * Webhook intake end to end, through the real server: the endpoints API and its keys, and every
 * verification scheme with signatures that MeshHook did not make — the published examples of
 * GitHub and Standard Webhooks, MACs computed by `openssl dgst`, JWTs signed by `openssl dgst
 * -sign` — plus every tampering case (changed byte, wrong key, old timestamp, missing header,
 * truncated signature, a second signature valid, alg none, HS256 signed with an RSA public key,
 * expired, wrong audience). Secrets and signatures are then searched for in every table, API
 * response and the server's log: none may hold them.
 */
#include "crypto/crypto.h"
#include "itest_intake_common.h"

/* Sends `body` with the given headers (plus Content-Type when `ct`); returns the status and
 * fills `run_id` (40 bytes) on 202. */
static long deliver(struct ienv *e, const char *pub, const char *ct, const char *h1, const char *h2,
                    const char *h3, const char *body, char *run_id)
{
    char ct_line[128];
    const char *h[5];
    int n = 0;
    if (ct) {
        snprintf(ct_line, sizeof(ct_line), "Content-Type: %s", ct);
        h[n++] = ct_line;
    }
    if (h1)
        h[n++] = h1;
    if (h2)
        h[n++] = h2;
    if (h3)
        h[n++] = h3;
    h[n] = NULL;
    struct mh_it_resp r;
    long st = hook(e, pub, "POST", h, body, strlen(body), &r);
    if (run_id) {
        run_id[0] = '\0';
        const char *id = json_string_value(json_object_get(r.json, "run_id"));
        if (id)
            snprintf(run_id, 40, "%s", id);
    }
    mh_it_resp_cleanup(&r);
    return st;
}

/* Everything the database holds that a user or an operator could read, as one text. */
static char *dump_tables(struct ienv *e)
{
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT (SELECT coalesce(json_agg(d), '[]') FROM webhook_deliveries d)"
                             "::text || (SELECT coalesce(json_agg(v), '[]') FROM events v)::text "
                             "|| (SELECT coalesce(json_agg(a), '[]') FROM audit_log a)::text || "
                             "(SELECT coalesce(json_agg(w), '[]') FROM webhook_endpoints w)::text "
                             "|| (SELECT coalesce(json_agg(r), '[]') FROM runs r)::text AS t",
                             0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    char *t = strdup(json_string_value(json_object_get(json_array_get(rows, 0), "t")));
    json_decref(rows);
    return t;
}

/* Fails when `needle` appears in any table, the given API response, or the server's log. */
static void assert_nowhere(struct ienv *e, const char *needle, json_t *also)
{
    char *t = dump_tables(e);
    char *log = mh_it_server_log(&e->s);
    char *a = also ? json_dumps(also, JSON_COMPACT) : NULL;
    bool found = contains(t, needle) || contains(log, needle) || contains(a, needle);
    free(t);
    free(log);
    free(a);
    if (found)
        mh_t_fail(__FILE__, __LINE__, "a secret or signature leaked: %.12s...", needle);
}

static void endpoint_path(struct ienv *e, json_t *ep, const char *suffix, char *out, size_t cap)
{
    snprintf(out, cap, "/api/projects/%s/endpoints/%s%s", e->project, jstr(ep, "id"), suffix);
}

/* The deliveries of an endpoint (all pages' first 200 rows), new reference. */
static json_t *deliveries(struct ienv *e, json_t *ep)
{
    char path[256];
    long st;
    endpoint_path(e, ep, "/deliveries?limit=200", path, sizeof(path));
    json_t *r = iapi(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return r;
}

/* The reason logged for the newest delivery with `status`. */
static void expect_logged(struct ienv *e, json_t *ep, long status, const char *reason_part)
{
    json_t *d = deliveries(e, ep);
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(d, "items"), i, row)
    {
        if (json_integer_value(json_object_get(row, "status")) != status)
            continue;
        const char *reason = json_string_value(json_object_get(row, "reason"));
        if (reason_part && !contains(reason, reason_part))
            mh_t_fail(__FILE__, __LINE__, "status %ld logged with reason '%s', want '%s'", status,
                      reason ? reason : "(null)", reason_part);
        json_decref(d);
        return;
    }
    mh_t_fail(__FILE__, __LINE__, "no delivery with status %ld logged", status);
}

MH_TEST(endpoints_api_crud_roles_and_keys)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    char path[256];
    long st;
    json_t *ep = ienv_endpoint(&e, "{\"name\": \"orders\", \"verification\": {\"scheme\": "
                                   "\"hmac\"}, \"methods\": [\"POST\", \"PUT\"]}");
    const char *pub = jstr(ep, "public_id");
    const char *secret = jstr(ep, "key.secret");
    /* 24 random bytes, base64url: 192 bits, at least the 128 the issue asks for. */
    MH_T_ASSERT_EQ(strlen(pub), 32);
    MH_T_ASSERT(secret && strlen(secret) >= 32);
    char expected_path[80];
    snprintf(expected_path, sizeof(expected_path), "/hooks/%s", pub);
    MH_T_ASSERT_STR_EQ(jstr(ep, "path"), expected_path);
    MH_T_ASSERT_STR_EQ(jstr(ep, "verification.scheme"), "hmac");
    MH_T_ASSERT_STR_EQ(jstr(ep, "verification.header"), "X-Signature");
    /* The secret is stored sealed: the raw bytes are not in the row. */
    char *secret_copy = strdup(secret);
    const char *kp[] = {secret_copy};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_endpoint_keys WHERE "
                             "position(convert_to($1, 'UTF8') IN sealed_key) > 0",
                             1, kp),
                   0);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM webhook_endpoint_keys", 0, NULL), 1);

    /* Read, list (by project and by workflow), no secret anywhere. */
    endpoint_path(&e, ep, "", path, sizeof(path));
    json_t *got = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(got, "keys")), 1);
    MH_T_ASSERT(json_object_get(json_array_get(json_object_get(got, "keys"), 0), "secret") == NULL);
    assert_nowhere(&e, secret_copy, got);
    json_decref(got);
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints", e.project);
    json_t *list = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(list, "items")), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(
                       json_array_get(json_object_get(list, "items"), 0), "active_keys")),
                   1);
    json_decref(list);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, e.workflow);
    list = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);

    /* Validation: limits above the server's, bad schemes, bad schemas, unknown fields. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, e.workflow);
    struct {
        const char *body;
        const char *path;
    } bad[] = {
        {"{\"max_body_bytes\": 1073741824}", "/max_body_bytes"},
        {"{\"verification\": {\"scheme\": \"md5\"}}", "/verification/scheme"},
        {"{\"verification\": {\"scheme\": \"hmac\", \"encoding\": \"rot13\"}}",
         "/verification/encoding"},
        {"{\"verification\": {\"scheme\": \"stripe\", \"tolerance_s\": 0}}",
         "/verification/tolerance_s"},
        {"{\"json_schema\": {\"type\": 5}}", "/json_schema/type"},
        {"{\"methods\": [\"POST\", \"POST\"]}", "/methods"},
        {"{\"pinned_version\": 7}", "/pinned_version"},
        {"{\"colour\": \"red\"}", "/colour"},
        {"{\"key\": {\"secret\": \"a-secret-for-nothing-000\"}}", "/verification/scheme"},
        {"{\"verification\": {\"scheme\": \"standard_webhooks\"}, \"key\": {\"secret\": "
         "\"not-base64\"}}",
         "/key"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *r = iapi(&e, "POST", path, bad[i].body, &st);
        if (st != 422 || !contains(jstr(r, "error.path"), bad[i].path))
            mh_t_fail(__FILE__, __LINE__, "case %zu: %ld %s", i, st, jstr(r, "error.path"));
        json_decref(r);
    }

    /* Roles: a viewer reads but does not write; a stranger sees nothing. */
    char viewer[128], vid[40], stranger[128], sid[40];
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", viewer, vid);
    mh_it_user_token(&e.db, &e.s, "stranger@example.com", stranger, sid);
    char mpath[128], mbody[128];
    snprintf(mpath, sizeof(mpath), "/api/projects/%s/members", e.project);
    snprintf(mbody, sizeof(mbody), "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}");
    json_decref(iapi(&e, "POST", mpath, mbody, &st));
    MH_T_ASSERT_EQ(st, 201);
    endpoint_path(&e, ep, "", path, sizeof(path));
    json_decref(mh_it_api(&e.s, viewer, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);
    json_decref(mh_it_api(&e.s, viewer, "PATCH", path, "{\"name\": \"x\"}", &st));
    MH_T_ASSERT_EQ(st, 403);
    json_decref(mh_it_api(&e.s, stranger, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 404);
    endpoint_path(&e, ep, "/keys", path, sizeof(path));
    json_decref(mh_it_api(&e.s, viewer, "POST", path, "{}", &st));
    MH_T_ASSERT_EQ(st, 403);

    /* Update: name and methods; the public id stays. */
    endpoint_path(&e, ep, "", path, sizeof(path));
    json_t *up = iapi(&e, "PATCH", path, "{\"name\": \"orders v2\", \"methods\": [\"PUT\"]}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(jstr(up, "name"), "orders v2");
    MH_T_ASSERT_STR_EQ(jstr(up, "public_id"), pub);
    json_decref(up);
    const char *h[] = {"Content-Type: application/json", NULL};
    MH_T_ASSERT_EQ(hook_status(&e, pub, h, "{}"), 405);

    /* Keys: add (secret shown once), rotate (old ones expire after the grace), revoke. */
    endpoint_path(&e, ep, "/keys", path, sizeof(path));
    json_t *k2 = iapi(&e, "POST", path, "{\"label\": \"second\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(jstr(k2, "key.secret") != NULL);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(k2, "keys")), 2);
    endpoint_path(&e, ep, "/keys/rotate", path, sizeof(path));
    json_t *k3 = iapi(&e, "POST", path, "{\"grace_s\": 3600}", &st);
    MH_T_ASSERT_EQ(st, 201);
    size_t i;
    json_t *k;
    int with_expiry = 0;
    json_array_foreach(json_object_get(k3, "keys"), i, k)
    {
        with_expiry += !json_is_null(json_object_get(k, "expires_at"));
        MH_T_ASSERT(json_object_get(k, "secret") == NULL);
    }
    MH_T_ASSERT_EQ(with_expiry, 2);
    char revoke[256];
    endpoint_path(&e, ep, "/keys/", path, sizeof(path));
    snprintf(revoke, sizeof(revoke), "%s%s", path, jstr(k2, "key.id"));
    json_decref(iapi(&e, "DELETE", revoke, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    json_decref(iapi(&e, "DELETE", revoke, NULL, &st));
    MH_T_ASSERT_EQ(st, 404);
    assert_nowhere(&e, jstr(k2, "key.secret"), NULL);
    assert_nowhere(&e, jstr(k3, "key.secret"), NULL);
    json_decref(k2);
    json_decref(k3);

    /* The audit log names each change. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM audit_log WHERE action IN "
                             "('webhook_endpoint.create', 'webhook_endpoint.update', "
                             "'webhook_key.create', 'webhook_key.rotate', 'webhook_key.revoke')",
                             0, NULL),
                   7);

    /* Delete: the URL stops working at once. */
    endpoint_path(&e, ep, "", path, sizeof(path));
    json_decref(iapi(&e, "DELETE", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    struct mh_it_resp r;
    const char *hp[] = {"Content-Type: application/json", NULL};
    MH_T_ASSERT_EQ(hook(&e, pub, "PUT", hp, "{}", 2, &r), 404);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(hook_status(&e, "not-a-real-endpoint-id-at-all", hp, "{}"), 404);
    free(secret_copy);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(generic_hmac_openssl_and_tampering)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    const char *secret = "s3cr3t-shared-with-the-sender-0001";
    json_t *ep = ienv_endpoint(
        &e, "{\"verification\": {\"scheme\": \"hmac\", \"algorithm\": \"sha512\", \"header\": "
            "\"X-Partner-Signature\", \"encoding\": \"base64\", \"prefix\": \"sha512=\"}, "
            "\"key\": {\"secret\": \"s3cr3t-shared-with-the-sender-0001\"}}");
    const char *pub = jstr(ep, "public_id");
    MH_T_ASSERT(jstr(ep, "key.secret") != NULL);
    const char *body = "{\"event\": \"invoice.paid\",   \"amount\": 1999}\n";
    char mac[200], hdr[300], run[40];
    openssl_hmac(&e, "sha512", secret, body, strlen(body), true, mac, sizeof(mac));
    snprintf(hdr, sizeof(hdr), "X-Partner-Signature: sha512=%s", mac);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", hdr, NULL, NULL, body, run), 202);
    MH_T_ASSERT_EQ(strlen(run), 36);

    /* The first event holds the exact bytes and the verifying key; the delivery row too. */
    const char *rp[] = {run};
    json_t *ev = mh_it_sql(e.db.admin_url,
                           "SELECT payload->'delivery' AS d, payload->'trigger' AS t FROM events "
                           "WHERE run_id = $1 AND seq = 1",
                           1, rp, NULL);
    json_t *d = json_object_get(json_array_get(ev, 0), "d");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "raw_body")), body);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "key_id")),
                       jstr(json_array_get(json_object_get(ep, "keys"), 0), "id"));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "scheme")), "hmac");
    /* A JSON body is recorded once, as raw_body; the trigger's body is parsed from it. */
    MH_T_ASSERT(json_is_true(json_object_get(d, "body_from_raw")));
    json_t *t = json_object_get(json_array_get(ev, 0), "t");
    MH_T_ASSERT(json_object_get(t, "body") == NULL);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(t, "headers"), "x-partner-signature")),
        "[redacted]");
    json_decref(ev);
    /* The node sees that body: the workflow's only node outputs trigger.body. */
    json_t *done = wait_run(&e, run);
    MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
    json_t *want = json_pack("{s:{s:s, s:i}}", "echo", "event", "invoice.paid", "amount", 1999);
    MH_T_ASSERT(json_equal(json_object_get(done, "output"), want));
    json_decref(done);
    /* A run resumed from its step copies the recorded bytes, and sees the same body. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/resume", e.project, run);
    json_t *resumed = iapi(&e, "POST", path, "{\"from_node\": \"echo\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    done = wait_run(&e, jstr(resumed, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
    MH_T_ASSERT(json_equal(json_object_get(done, "output"), want));
    json_decref(done);
    json_decref(resumed);
    json_decref(want);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs r JOIN webhook_deliveries d ON "
                             "d.run_id = r.id AND r.delivery_id = d.id WHERE r.id = $1 AND "
                             "d.outcome = 'accepted' AND d.status = 202 AND d.key_id IS NOT NULL",
                             1, rp),
                   1);

    /* Tampering. */
    char tampered[128];
    snprintf(tampered, sizeof(tampered), "%s", body);
    tampered[30] ^= 1; /* one changed byte */
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", hdr, NULL, NULL, tampered, NULL), 401);
    char wrong[200], whdr[300];
    openssl_hmac(&e, "sha512", "another-secret-entirely-0000000", body, strlen(body), true, wrong,
                 sizeof(wrong));
    snprintf(whdr, sizeof(whdr), "X-Partner-Signature: sha512=%s", wrong);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", whdr, NULL, NULL, body, NULL), 401);
    expect_logged(&e, ep, 401, "bad-signature");
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", NULL, NULL, NULL, body, NULL), 401);
    expect_logged(&e, ep, 401, "missing");
    char trunc[300];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(hdr) - 10, hdr);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", trunc, NULL, NULL, body, NULL), 401);
    /* SHA-256 offered where SHA-512 is configured, and no prefix: both refused. */
    char mac256[100], h256[300];
    openssl_hmac(&e, "sha256", secret, body, strlen(body), true, mac256, sizeof(mac256));
    snprintf(h256, sizeof(h256), "X-Partner-Signature: sha512=%s", mac256);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", h256, NULL, NULL, body, NULL), 401);
    snprintf(h256, sizeof(h256), "X-Partner-Signature: %s", mac);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", h256, NULL, NULL, body, NULL), 401);

    /* A hex SHA-256 endpoint, MAC by `openssl dgst -r`, header case-insensitive. */
    json_t *ep2 = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"hmac\"}, \"key\": "
                                    "{\"secret\": \"second-endpoint-secret-000001\"}}");
    char hex[100], hh[200];
    openssl_hmac(&e, "sha256", "second-endpoint-secret-000001", body, strlen(body), false, hex,
                 sizeof(hex));
    snprintf(hh, sizeof(hh), "x-signature: %s", hex);
    MH_T_ASSERT_EQ(
        deliver(&e, jstr(ep2, "public_id"), "application/json", hh, NULL, NULL, body, NULL), 202);
    /* A signature for one endpoint does not open another. */
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", hh, NULL, NULL, body, NULL), 401);

    /* Nothing secret anywhere: not the key, not a signature. */
    json_t *d1 = deliveries(&e, ep);
    assert_nowhere(&e, secret, d1);
    assert_nowhere(&e, mac, d1);
    assert_nowhere(&e, hex, NULL);
    assert_nowhere(&e, wrong, d1);
    json_decref(d1);
    json_decref(ep2);
    json_decref(ep);
    ienv_stop(&e);
}

/* GitHub's "Validating webhook deliveries" example. */
static const char gh_secret[] = "It's a Secret to Everybody";
static const char gh_body[] = "Hello, World!";
static const char gh_sig[] =
    "X-Hub-Signature-256: sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

MH_TEST(github_published_example_rotation_and_tampering)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}, \"key\": "
                                   "{\"secret\": \"It's a Secret to Everybody\"}}");
    const char *pub = jstr(ep, "public_id");
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", gh_sig, NULL, NULL, gh_body, NULL), 202);
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", gh_sig, NULL, NULL, "Hello, World?", NULL), 401);
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", NULL, NULL, NULL, gh_body, NULL), 401);
    char trunc[128];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(gh_sig) - 2, gh_sig);
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", trunc, NULL, NULL, gh_body, NULL), 401);
    expect_logged(&e, ep, 401, "malformed");

    /* Rotation: a second key; deliveries signed by either verify; the old one revoked stops at
     * once (the cache is invalidated by the change). */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/keys", e.project, jstr(ep, "id"));
    json_t *k2 = iapi(&e, "POST", path, "{\"secret\": \"the-new-github-secret-2024\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    const char *json_body = "{\"zen\": \"Keep it logically awesome.\"}";
    char hex[100], hdr[200];
    openssl_hmac(&e, "sha256", "the-new-github-secret-2024", json_body, strlen(json_body), false,
                 hex, sizeof(hex));
    snprintf(hdr, sizeof(hdr), "X-Hub-Signature-256: sha256=%s", hex);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", hdr, "X-GitHub-Event: ping", NULL, json_body, NULL),
        202);
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", gh_sig, NULL, NULL, gh_body, NULL), 202);
    char revoke[300];
    snprintf(revoke, sizeof(revoke), "%s/%s", path,
             jstr(json_array_get(json_object_get(ep, "keys"), 0), "id"));
    json_decref(iapi(&e, "DELETE", revoke, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    MH_T_ASSERT_EQ(deliver(&e, pub, "text/plain", gh_sig, NULL, NULL, gh_body, NULL), 401);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", hdr, NULL, NULL, json_body, NULL), 202);
    /* The accepted deliveries name the key that verified each. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(DISTINCT key_id) AS n FROM webhook_deliveries WHERE "
                             "outcome = 'accepted'",
                             0, NULL),
                   2);
    assert_nowhere(&e, "757107ea0eb2509fc211221cce984b8a", NULL);
    assert_nowhere(&e, hex, NULL);
    assert_nowhere(&e, gh_secret, NULL);
    json_decref(k2);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(stripe_openssl_timestamps_and_tampering)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    const char *secret = "whsec_test_51Hx0123456789abcdefghij";
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"stripe\"}, \"key\": "
                                   "{\"secret\": \"whsec_test_51Hx0123456789abcdefghij\"}}");
    const char *pub = jstr(ep, "public_id");
    const char *body = "{\n  \"id\": \"evt_1\",\n  \"type\": \"payment_intent.succeeded\"\n}";
    long long now = (long long)time(NULL);
    char payload[256], v1[100], hdr[400];
    snprintf(payload, sizeof(payload), "%lld.%s", now, body);
    openssl_hmac(&e, "sha256", secret, payload, strlen(payload), false, v1, sizeof(v1));
    snprintf(hdr, sizeof(hdr), "Stripe-Signature: t=%lld,v1=%s", now, v1);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json; charset=utf-8", hdr, NULL, NULL, body, NULL),
                   202);
    /* Two v1 signatures, only the second valid (Stripe during a secret roll). */
    char two[500];
    snprintf(two, sizeof(two),
             "Stripe-Signature: t=%lld,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e"
             "108d8bd,v1=%s",
             now, v1);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", two, NULL, NULL, body, NULL), 202);
    /* An authentic but old signature (ten minutes, tolerance five) is a replay. */
    char old_payload[256], old_v1[100], old_hdr[400];
    snprintf(old_payload, sizeof(old_payload), "%lld.%s", now - 600, body);
    openssl_hmac(&e, "sha256", secret, old_payload, strlen(old_payload), false, old_v1,
                 sizeof(old_v1));
    snprintf(old_hdr, sizeof(old_hdr), "Stripe-Signature: t=%lld,v1=%s", now - 600, old_v1);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", old_hdr, NULL, NULL, body, NULL), 401);
    expect_logged(&e, ep, 401, "timestamp-too-old");
    /* The timestamp moved without re-signing. */
    char moved[400];
    snprintf(moved, sizeof(moved), "Stripe-Signature: t=%lld,v1=%s", now - 1, v1);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", moved, NULL, NULL, body, NULL), 401);
    /* Changed byte, wrong key, missing header, truncated signature. */
    char tampered[256];
    snprintf(tampered, sizeof(tampered), "%s", body);
    tampered[10] = 'X';
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", hdr, NULL, NULL, tampered, NULL), 401);
    char wrong[100], wrong_hdr[400];
    openssl_hmac(&e, "sha256", "whsec_test_wrong_key_0000000000000", payload, strlen(payload),
                 false, wrong, sizeof(wrong));
    snprintf(wrong_hdr, sizeof(wrong_hdr), "Stripe-Signature: t=%lld,v1=%s", now, wrong);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", wrong_hdr, NULL, NULL, body, NULL), 401);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", NULL, NULL, NULL, body, NULL), 401);
    char trunc[400];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(hdr) - 1, hdr);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", trunc, NULL, NULL, body, NULL), 401);
    assert_nowhere(&e, v1, NULL);
    assert_nowhere(&e, secret, NULL);
    json_decref(ep);
    ienv_stop(&e);
}

/* The test vector of the Standard Webhooks specification. */
static const char sw_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char sw_body[] = "{\"test\": 2432232314}";

MH_TEST(standard_webhooks_published_vector_openssl_and_idempotency)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    /* The published vector is from 2021: an endpoint that tolerates its age accepts it, one
     * with the default five minutes refuses it as a replay. */
    json_t *old = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"standard_webhooks\", "
                                    "\"tolerance_s\": 315360000}, \"key\": {\"secret\": "
                                    "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}");
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"standard_webhooks\"}, "
                                   "\"key\": {\"secret\": "
                                   "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"}}");
    const char *id = "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek";
    const char *ts = "webhook-timestamp: 1614265330";
    const char *sig = "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    char run1[40], run2[40];
    MH_T_ASSERT_EQ(
        deliver(&e, jstr(old, "public_id"), "application/json", id, ts, sig, sw_body, run1), 202);
    MH_T_ASSERT_EQ(
        deliver(&e, jstr(ep, "public_id"), "application/json", id, ts, sig, sw_body, NULL), 401);
    expect_logged(&e, ep, 401, "timestamp-too-old");
    /* The same webhook-id again: 200 with the first run's id, and no second run. */
    MH_T_ASSERT_EQ(
        deliver(&e, jstr(old, "public_id"), "application/json", id, ts, sig, sw_body, run2), 200);
    MH_T_ASSERT_STR_EQ(run1, run2);

    /* A fresh message signed by openssl with the secret's decoded key. */
    const char *pub = jstr(ep, "public_id");
    char keyhex[100];
    sh_line(keyhex, sizeof(keyhex),
            "printf '%%s' '%s' | openssl base64 -d -A | od -An -v -tx1 | tr -d ' \\n'",
            sw_secret + 6);
    long long now = (long long)time(NULL);
    const char *body = "{\"type\": \"invoice.paid\", \"data\": {\"amount\": 1999}}";
    char content[256], b64[100], sh[200], th[64];
    snprintf(content, sizeof(content), "msg_fresh_1.%lld.%s", now, body);
    openssl_hmac_hexkey_b64(&e, keyhex, content, strlen(content), b64, sizeof(b64));
    snprintf(sh, sizeof(sh), "webhook-signature: v1,%s", b64);
    snprintf(th, sizeof(th), "webhook-timestamp: %lld", now);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_1", th, sh, body, run1), 202);
    /* Several signatures in one header, only the last valid (and an asymmetric one skipped). */
    char several[400];
    snprintf(several, sizeof(several),
             "webhook-signature: v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/rFcYXd6bhu0t9Ztw= v1a,c2lnbmF0dXJl "
             "v1,%s",
             b64);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_1", th, several, body, run2),
        200);
    MH_T_ASSERT_STR_EQ(run1, run2);
    /* The svix- names carry the same scheme (a new message id: a new run). */
    char content2[256], b642[100], sh2[200], th2[64];
    snprintf(content2, sizeof(content2), "msg_fresh_2.%lld.%s", now, body);
    openssl_hmac_hexkey_b64(&e, keyhex, content2, strlen(content2), b642, sizeof(b642));
    snprintf(sh2, sizeof(sh2), "svix-signature: v1,%s", b642);
    snprintf(th2, sizeof(th2), "svix-timestamp: %lld", now);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "svix-id: msg_fresh_2", th2, sh2, body, run2), 202);
    MH_T_ASSERT(strcmp(run1, run2) != 0);
    /* Tampering: the id changed (it is signed), a byte of the body, a missing header, a
     * truncated signature, an old timestamp re-signed correctly (still a replay). */
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_3", th, sh, body, NULL), 401);
    char tampered[128];
    snprintf(tampered, sizeof(tampered), "%s", body);
    tampered[12] = 'X';
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_1", th, sh, tampered, NULL),
        401);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_1", th, NULL, body, NULL), 401);
    char trunc[200];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(sh) - 6, sh);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_fresh_1", th, trunc, body, NULL),
        401);
    char old_content[256], old_b64[100], old_sh[200], old_th[64];
    snprintf(old_content, sizeof(old_content), "msg_old.%lld.%s", now - 3600, body);
    openssl_hmac_hexkey_b64(&e, keyhex, old_content, strlen(old_content), old_b64, sizeof(old_b64));
    snprintf(old_sh, sizeof(old_sh), "webhook-signature: v1,%s", old_b64);
    snprintf(old_th, sizeof(old_th), "webhook-timestamp: %lld", now - 3600);
    MH_T_ASSERT_EQ(
        deliver(&e, pub, "application/json", "webhook-id: msg_old", old_th, old_sh, body, NULL),
        401);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 3);
    assert_nowhere(&e, b64, NULL);
    assert_nowhere(&e, "g0hM9SsE+OTPJTGt", NULL);
    assert_nowhere(&e, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL);
    json_decref(old);
    json_decref(ep);
    ienv_stop(&e);
}

/* ---- JWT ---------------------------------------------------------------------------------- */

/* Converts an ECDSA DER signature (SEQUENCE of two INTEGERs) to 64-byte r||s. */
static void der_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
    MH_T_ASSERT(len >= 8 && der[0] == 0x30 && der[1] == len - 2 && der[2] == 0x02);
    size_t off = 2;
    memset(raw, 0, 64);
    for (int i = 0; i < 2; i++) {
        MH_T_ASSERT(der[off] == 0x02);
        size_t n = der[off + 1];
        const uint8_t *v = der + off + 2;
        off += 2 + n;
        MH_T_ASSERT(off <= len);
        while (n > 32) {
            MH_T_ASSERT(*v == 0);
            v++;
            n--;
        }
        memcpy(raw + 32 * i + (32 - n), v, n);
    }
}

enum signer { SIGN_HS, SIGN_RS, SIGN_ES, SIGN_HS_WITH_RSA_PEM, SIGN_NONE };

/* "Authorization: Bearer <header.payload.signature>", signed by the openssl command line. */
static void make_jwt(struct ienv *e, const char *header, const char *payload, enum signer how,
                     const char *hs_secret, char *out, size_t cap)
{
    char *h = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, header, strlen(header));
    char *p = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, payload, strlen(payload));
    char input[4096], path[256], cmd[16384];
    snprintf(input, sizeof(input), "%s.%s", h, p);
    free(h);
    free(p);
    tmp_file(e, "jwt-input", input, strlen(input), path, sizeof(path));
    char hexkey[8192];
    switch (how) {
    case SIGN_HS:
        mh_crypto_hex_encode(hs_secret, strlen(hs_secret), hexkey);
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary '%s'",
                 hexkey, path);
        break;
    case SIGN_HS_WITH_RSA_PEM: {
        char pem[4096];
        char pem_path[256];
        snprintf(pem_path, sizeof(pem_path), "%s/rsa_pub.pem", e->tmp);
        FILE *f = fopen(pem_path, "rb");
        MH_T_ASSERT(f != NULL);
        size_t n = fread(pem, 1, sizeof(pem), f);
        fclose(f);
        mh_crypto_hex_encode(pem, n, hexkey);
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary '%s'",
                 hexkey, path);
        break;
    }
    case SIGN_RS:
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign '%s/rsa.pem' -binary '%s'", e->tmp,
                 path);
        break;
    case SIGN_ES:
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign '%s/ec.pem' -binary '%s'", e->tmp,
                 path);
        break;
    case SIGN_NONE: snprintf(out, cap, "Authorization: Bearer %s.", input); return;
    }
    FILE *pp = popen(cmd, "r");
    MH_T_ASSERT(pp != NULL);
    uint8_t sig[1024], raw[64];
    size_t n = fread(sig, 1, sizeof(sig), pp);
    MH_T_ASSERT_EQ(pclose(pp), 0);
    const uint8_t *final_sig = sig;
    if (how == SIGN_ES) {
        der_to_raw(sig, n, raw);
        final_sig = raw;
        n = 64;
    }
    char *s = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, final_sig, n);
    snprintf(out, cap, "Authorization: Bearer %s.%s", input, s);
    free(s);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    char *buf = calloc(1, 16384);
    size_t n = fread(buf, 1, 16383, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

MH_TEST(jwt_rs256_es256_hs256_and_attacks)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    char line[64];
    sh_line(line, sizeof(line),
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa.pem "
            "2>/dev/null && openssl pkey -in %s/rsa.pem -pubout -out %s/rsa_pub.pem && "
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec.pem && "
            "openssl pkey -in %s/ec.pem -pubout -out %s/ec_pub.pem && echo ok",
            e.tmp, e.tmp, e.tmp, e.tmp, e.tmp, e.tmp);
    char p1[256], p2[256];
    snprintf(p1, sizeof(p1), "%s/rsa_pub.pem", e.tmp);
    snprintf(p2, sizeof(p2), "%s/ec_pub.pem", e.tmp);
    char *rsa_pem = read_text(p1), *ec_pem = read_text(p2);
    json_t *req =
        json_pack("{s:{s:s, s:s, s:s, s:i}, s:{s:s, s:s, s:s}}", "verification", "scheme", "jwt",
                  "issuer", "https://issuer.example", "audience", "meshhook", "leeway_s", 5, "key",
                  "algorithm", "rs256", "public_key_pem", rsa_pem, "kid", "rsa1");
    char *body = json_dumps(req, JSON_COMPACT);
    json_t *ep = ienv_endpoint(&e, body);
    free(body);
    json_decref(req);
    MH_T_ASSERT(jstr(ep, "key.secret") == NULL);
    const char *pub = jstr(ep, "public_id");
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/keys", e.project, jstr(ep, "id"));
    req =
        json_pack("{s:s, s:s, s:s}", "algorithm", "es256", "public_key_pem", ec_pem, "kid", "ec1");
    body = json_dumps(req, JSON_COMPACT);
    json_decref(iapi(&e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
    free(body);
    json_decref(req);
    const char *hs = "an-hs256-secret-of-at-least-32-bytes!!";
    json_decref(iapi(&e, "POST", path,
                     "{\"algorithm\": \"hs256\", \"kid\": \"hs1\", \"secret\": "
                     "\"an-hs256-secret-of-at-least-32-bytes!!\"}",
                     &st));
    MH_T_ASSERT_EQ(st, 201);

    long long now = (long long)time(NULL);
    char claims[512], expired[512], wrong_aud[512], wrong_iss[512], auth[4096];
    snprintf(claims, sizeof(claims),
             "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"sub\":\"svc\","
             "\"iat\":%lld,\"exp\":%lld}",
             now, now + 300);
    snprintf(expired, sizeof(expired),
             "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"iat\":%lld,\"exp\":%lld}",
             now - 600, now - 60);
    snprintf(wrong_aud, sizeof(wrong_aud),
             "{\"iss\":\"https://issuer.example\",\"aud\":\"someone-else\",\"exp\":%lld}",
             now + 300);
    snprintf(wrong_iss, sizeof(wrong_iss),
             "{\"iss\":\"https://evil.example\",\"aud\":\"meshhook\",\"exp\":%lld}", now + 300);
    const char *doc = "{\"ok\": true}";
    make_jwt(&e, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}", claims, SIGN_RS, NULL,
             auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);
    char saved_sig[32];
    snprintf(saved_sig, sizeof(saved_sig), "%s", strrchr(auth, '.') + 1);
    make_jwt(&e, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", claims, SIGN_ES, NULL, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);
    make_jwt(&e, "{\"alg\":\"HS256\",\"kid\":\"hs1\"}", claims, SIGN_HS, hs, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);

    /* alg none, in any spelling, with or without a kid. */
    make_jwt(&e, "{\"alg\":\"none\"}", claims, SIGN_NONE, NULL, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    expect_logged(&e, ep, 401, "alg-none");
    make_jwt(&e, "{\"alg\":\"NoNe\",\"kid\":\"rsa1\"}", claims, SIGN_NONE, NULL, auth,
             sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    /* Algorithm confusion: HS256 "signed" with the RSA public key's PEM. */
    make_jwt(&e, "{\"alg\":\"HS256\",\"kid\":\"rsa1\"}", claims, SIGN_HS_WITH_RSA_PEM, NULL, auth,
             sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    make_jwt(&e, "{\"alg\":\"HS256\"}", claims, SIGN_HS_WITH_RSA_PEM, NULL, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    /* Claims. */
    make_jwt(&e, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", expired, SIGN_RS, NULL, auth,
             sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    expect_logged(&e, ep, 401, "expired");
    make_jwt(&e, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", wrong_aud, SIGN_RS, NULL, auth,
             sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    expect_logged(&e, ep, 401, "wrong-audience");
    make_jwt(&e, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", wrong_iss, SIGN_RS, NULL, auth,
             sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    /* A valid token with a changed payload byte, or signed by a key the endpoint lacks. */
    make_jwt(&e, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"}", claims, SIGN_RS, NULL, auth, sizeof(auth));
    char *dot = strchr(auth, '.');
    dot[3] = dot[3] == 'A' ? 'B' : 'A';
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    make_jwt(&e, "{\"alg\":\"HS256\",\"kid\":\"hs1\"}", claims, SIGN_HS,
             "a-different-hs256-secret-0123456789", auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", "Authorization: Basic dXNlcjpwYXNz", NULL,
                           NULL, doc, NULL),
                   401);
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", NULL, NULL, NULL, doc, NULL), 401);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 3);
    assert_nowhere(&e, saved_sig, NULL);
    assert_nowhere(&e, hs, NULL);
    free(rsa_pem);
    free(ec_pem);
    json_decref(ep);
    ienv_stop(&e);
}

/* The bytes of a DER file's last `n` bytes (a SubjectPublicKeyInfo ends with the raw public key,
 * 0x04 || x || y for EC), base64url-encoded: how a JWK spells them. */
static char *der_tail_b64(struct ienv *e, const char *pem_name, size_t skip, size_t n)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "openssl pkey -pubin -in '%s/%s' -outform DER", e->tmp, pem_name);
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    uint8_t der[1024];
    size_t len = fread(der, 1, sizeof(der), p);
    MH_T_ASSERT_EQ(pclose(p), 0);
    MH_T_ASSERT(len >= skip + n);
    return mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, der + len - skip - n, n);
}

/* "Authorization: Bearer ..." signed by openssl: `dgst` arguments, or NULL for Ed25519; `coord`
 * > 0 turns the ECDSA DER signature into JOSE r||s. */
static void make_jwt_with(struct ienv *e, const char *header, const char *payload,
                          const char *keyfile, const char *dgst, size_t coord, char *out,
                          size_t cap)
{
    char *h = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, header, strlen(header));
    char *p = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, payload, strlen(payload));
    char input[4096], path[256], cmd[1024];
    snprintf(input, sizeof(input), "%s.%s", h, p);
    free(h);
    free(p);
    tmp_file(e, "jwt-input", input, strlen(input), path, sizeof(path));
    if (dgst)
        snprintf(cmd, sizeof(cmd), "openssl dgst %s -sign '%s/%s' -binary '%s'", dgst, e->tmp,
                 keyfile, path);
    else
        snprintf(cmd, sizeof(cmd), "openssl pkeyutl -sign -rawin -inkey '%s/%s' -in '%s'", e->tmp,
                 keyfile, path);
    FILE *pp = popen(cmd, "r");
    MH_T_ASSERT(pp != NULL);
    uint8_t sig[1024], raw[132] = {0};
    size_t n = fread(sig, 1, sizeof(sig), pp);
    MH_T_ASSERT_EQ(pclose(pp), 0);
    const uint8_t *final_sig = sig;
    if (coord) {
        size_t off = sig[1] & 0x80 ? 3 : 2;
        for (int i = 0; i < 2; i++) {
            MH_T_ASSERT(sig[off] == 0x02);
            size_t len = sig[off + 1];
            const uint8_t *v = sig + off + 2;
            off += 2 + len;
            for (; len > coord; len--)
                v++;
            memcpy(raw + coord * i + (coord - len), v, len);
        }
        final_sig = raw;
        n = 2 * coord;
    }
    char *s = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, final_sig, n);
    snprintf(out, cap, "Authorization: Bearer %s.%s", input, s);
    free(s);
}

MH_TEST(jwt_eddsa_es384_ps256_keys_as_jwk_jwks_and_pem)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    char line[64];
    sh_line(line, sizeof(line),
            "openssl genpkey -algorithm ED25519 -out %s/ed.pem && openssl pkey -in %s/ed.pem "
            "-pubout -out %s/ed_pub.pem && openssl genpkey -algorithm EC -pkeyopt "
            "ec_paramgen_curve:P-384 -out %s/ec384.pem && openssl pkey -in %s/ec384.pem -pubout "
            "-out %s/ec384_pub.pem && openssl genpkey -algorithm RSA -pkeyopt "
            "rsa_keygen_bits:2048 -out %s/rsa.pem 2>/dev/null && openssl pkey -in %s/rsa.pem "
            "-pubout -out %s/rsa_pub.pem && echo ok",
            e.tmp, e.tmp, e.tmp, e.tmp, e.tmp, e.tmp, e.tmp, e.tmp, e.tmp);
    char *ed_x = der_tail_b64(&e, "ed_pub.pem", 0, 32);
    char *ec_x = der_tail_b64(&e, "ec384_pub.pem", 48, 48);
    char *ec_y = der_tail_b64(&e, "ec384_pub.pem", 0, 48);
    char p1[256];
    snprintf(p1, sizeof(p1), "%s/rsa_pub.pem", e.tmp);
    char *rsa_pem = read_text(p1);

    /* A malformed JWK is a 422 with the path of the member, and nothing is created. */
    long st;
    char path[256], bad[512];
    snprintf(bad, sizeof(bad),
             "{\"verification\": {\"scheme\": \"jwt\"}, \"key\": {\"jwk\": {\"kty\": \"OKP\", "
             "\"crv\": \"Ed25519\", \"x\": \"%.20s\"}}}",
             ed_x);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, e.workflow);
    json_t *r = iapi(&e, "POST", path, bad, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), "/key/jwk/x");
    json_decref(r);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM webhook_endpoints", 0, NULL), 0);

    /* The endpoint's first key: an EdDSA JWK with its own kid. */
    json_t *req = json_pack("{s:{s:s, s:s}, s:{s:{s:s, s:s, s:s, s:s}}}", "verification", "scheme",
                            "jwt", "audience", "meshhook", "key", "jwk", "kty", "OKP", "crv",
                            "Ed25519", "x", ed_x, "kid", "ed1");
    char *body = json_dumps(req, JSON_COMPACT);
    json_t *ep = ienv_endpoint(&e, body);
    free(body);
    json_decref(req);
    MH_T_ASSERT_STR_EQ(jstr(ep, "key.algorithm"), "eddsa");
    MH_T_ASSERT_STR_EQ(jstr(ep, "key.kid"), "ed1");
    MH_T_ASSERT(strncmp(jstr(ep, "key.public_key_pem"), "-----BEGIN PUBLIC KEY-----", 26) == 0);
    MH_T_ASSERT(jstr(ep, "key.secret") == NULL);
    const char *pub = jstr(ep, "public_id");

    /* A JWKS: an ES384 signing key (kid from the JWKS) and an encryption key, skipped. */
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/keys", e.project, jstr(ep, "id"));
    req = json_pack("{s:{s:[{s:s, s:s, s:s, s:s, s:s}, {s:s, s:s, s:s, s:s, s:s}]}}", "jwks",
                    "keys", "kty", "EC", "crv", "P-384", "x", ec_x, "y", ec_y, "kid", "ec384",
                    "kty", "EC", "crv", "P-384", "x", ec_x, "y", ec_y, "use", "enc");
    body = json_dumps(req, JSON_COMPACT);
    r = iapi(&e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(jstr(r, "key.algorithm"), "es384");
    MH_T_ASSERT_STR_EQ(jstr(r, "key.kid"), "ec384");
    MH_T_ASSERT_EQ(json_array_size(json_object_get(r, "keys")), 2);
    json_decref(r);
    free(body);
    json_decref(req);
    /* A PS256 key as PEM. */
    req =
        json_pack("{s:s, s:s, s:s}", "algorithm", "ps256", "public_key_pem", rsa_pem, "kid", "ps1");
    body = json_dumps(req, JSON_COMPACT);
    json_decref(iapi(&e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
    free(body);
    json_decref(req);
    /* Refusals name the member: a JWKS key's bad curve, a private JWK, a JWK whose alg
     * contradicts the algorithm given. */
    static const struct {
        const char *body, *path;
    } refused[] = {
        {"{\"jwks\": {\"keys\": [{\"kty\": \"EC\", \"crv\": \"P-192\"}]}}", "/jwks/keys/0/crv"},
        {"{\"jwk\": {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": \"AAAA\", \"d\": \"AAAA\"}}",
         "/jwk/d"},
        {"{\"algorithm\": \"es256\", \"jwk\": {\"kty\": \"OKP\", \"crv\": \"Ed25519\", \"x\": "
         "\"AAAA\"}}",
         "/jwk/alg"},
        {"{\"jwk\": {\"kty\": \"oct\", \"k\": \"AAAA\"}}", "/jwk/kty"},
        {"{\"jwk\": [1]}", "/jwk"},
        {"{\"jwk\": {}, \"secret\": \"an-hs256-secret-of-at-least-32-bytes!!\"}", "/jwk"},
        {"{\"algorithm\": \"es384\", \"public_key_pem\": \"nope\"}", "/public_key_pem"},
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        r = iapi(&e, "POST", path, refused[i].body, &st);
        if (st != 422 || jstr(r, "error.path") == NULL ||
            strcmp(jstr(r, "error.path"), refused[i].path) != 0)
            mh_t_fail(__FILE__, __LINE__, "case %zu: %ld %s", i, st, jstr(r, "error.path"));
        json_decref(r);
    }
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM webhook_endpoint_keys", 0, NULL), 3);

    long long now = (long long)time(NULL);
    char claims[256], auth[4096];
    snprintf(claims, sizeof(claims), "{\"aud\":\"meshhook\",\"exp\":%lld}", now + 300);
    const char *doc = "{\"ok\": true}";
    static const char pss[] = "-sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest";
    make_jwt_with(&e, "{\"alg\":\"EdDSA\",\"kid\":\"ed1\"}", claims, "ed.pem", NULL, 0, auth,
                  sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);
    make_jwt_with(&e, "{\"alg\":\"ES384\",\"kid\":\"ec384\"}", claims, "ec384.pem", "-sha384", 48,
                  auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);
    make_jwt_with(&e, "{\"alg\":\"PS256\"}", claims, "rsa.pem", pss, 0, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 202);
    /* PKCS #1 v1.5 is not PS256; an RS256 header finds no RS256 key. */
    make_jwt_with(&e, "{\"alg\":\"PS256\"}", claims, "rsa.pem", "-sha256", 0, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    expect_logged(&e, ep, 401, "bad-signature");
    make_jwt_with(&e, "{\"alg\":\"RS256\"}", claims, "rsa.pem", "-sha256", 0, auth, sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    expect_logged(&e, ep, 401, "alg-not-allowed");
    /* The EdDSA token under the ES384 key's kid. */
    make_jwt_with(&e, "{\"alg\":\"EdDSA\",\"kid\":\"ec384\"}", claims, "ed.pem", NULL, 0, auth,
                  sizeof(auth));
    MH_T_ASSERT_EQ(deliver(&e, pub, "application/json", auth, NULL, NULL, doc, NULL), 401);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 3);
    free(ed_x);
    free(ec_x);
    free(ec_y);
    free(rsa_pem);
    json_decref(ep);
    ienv_stop(&e);
}
