/* SPDX-License-Identifier: MIT */
/*
 * What the endpoints pages of the web app read (docs/webhooks.md, "In the web app"): the sender
 * examples the server produces, RUN with /bin/sh, openssl and curl against the real server under
 * every scheme that can be signed with a secret, with the secret known (the creation answer) and
 * read from $SECRET (GET .../examples); each key's last use; and the project-wide delivery log
 * with its filters and the body exactly as received.
 */
#include "core/mem.h"
#include "itest_intake_common.h"

/* Runs `script` with /bin/sh, SECRET set to `secret` when not NULL; returns its exit status and
 * its output (malloc'd) in *out. */
static int run_script(struct ienv *e, const char *script, const char *secret, char **out)
{
    char path[256], cmd[600];
    tmp_file(e, "example.sh", script, strlen(script), path, sizeof(path));
    if (secret) {
        char spath[256];
        tmp_file(e, "secret", secret, strlen(secret), spath, sizeof(spath));
        snprintf(cmd, sizeof(cmd), "SECRET=\"$(cat '%s')\" sh '%s' 2>&1", spath, path);
    } else {
        snprintf(cmd, sizeof(cmd), "env -u SECRET sh '%s' 2>&1", path);
    }
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    size_t n;
    while ((n = fread(buf + len, 1, cap - 1 - len, p)) > 0)
        len += n;
    buf[len] = '\0';
    *out = buf;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Runs the script and expects the server's 202: the output is {"run_id", "delivery_id"}. */
static void expect_accepted(struct ienv *e, const char *script, const char *secret,
                            const char *what)
{
    char *out = NULL;
    int rc = run_script(e, script, secret, &out);
    json_t *j = json_loads(out, 0, NULL);
    if (rc != 0 || !json_is_string(json_object_get(j, "delivery_id")) ||
        !json_is_string(json_object_get(j, "run_id")))
        mh_t_fail(__FILE__, __LINE__, "%s: the example was not accepted (exit %d): %s\n%s", what,
                  rc, out, script);
    json_decref(j);
    free(out);
}

static json_t *get(struct ienv *e, const char *path, long want)
{
    long st;
    json_t *r = iapi(e, "GET", path, NULL, &st);
    if (st != want) {
        char *d = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "GET %s: %ld %s", path, st, d ? d : "");
    }
    return r;
}

/* GET /api/schemes is what the web app draws the endpoint form from: every scheme the server
 * accepts is listed, and an endpoint made from a listed scheme's defaults (as the form starts)
 * is created with exactly those settings and, for a signing scheme, a key of one of its listed
 * algorithms. */
MH_TEST(schemes_api_lists_what_the_server_accepts)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *r = get(&e, "/api/schemes", 200);
    json_t *list = json_object_get(r, "schemes");
    MH_T_ASSERT(json_array_size(list) == 6);
    size_t i;
    json_t *sc;
    json_array_foreach(list, i, sc)
    {
        json_t *vf = json_pack("{s:s}", "scheme", jstr(sc, "name"));
        size_t k;
        json_t *f;
        json_array_foreach(json_object_get(sc, "fields"), k, f)
        {
            json_t *def = json_object_get(f, "default");
            if (!json_is_null(def))
                json_object_set(vf, jstr(f, "name"), def);
        }
        json_t *body = json_pack("{s:O}", "verification", vf);
        char *text = json_dumps(body, JSON_COMPACT);
        json_t *ep = ienv_endpoint(&e, text);
        const char *name;
        json_t *v;
        json_object_foreach(vf, name, v)
        {
            if (!json_equal(json_object_get(json_object_get(ep, "verification"), name), v))
                mh_t_fail(__FILE__, __LINE__, "%s: %s differs", text, name);
        }
        const char *kind = jstr(sc, "keys.kind");
        if (strcmp(kind, "none") == 0) {
            MH_T_ASSERT(json_object_get(ep, "key") == NULL);
        } else {
            const char *alg = jstr(ep, "key.algorithm");
            bool is_listed = false;
            json_t *a;
            json_array_foreach(json_object_get(json_object_get(sc, "keys"), "algorithms"), k, a)
                is_listed = is_listed || strcmp(json_string_value(a), alg) == 0;
            if (!is_listed)
                mh_t_fail(__FILE__, __LINE__, "%s: key algorithm %s is not listed", text, alg);
        }
        free(text);
        json_decref(body);
        json_decref(vf);
        json_decref(ep);
    }
    json_decref(r);
    /* Like every API route, it needs a signed-in user or a token. */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/schemes", e.s.base);
    struct mh_it_resp anon;
    mh_it_http("GET", url, NULL, NULL, 0, &anon);
    MH_T_ASSERT_EQ(anon.status, 401);
    mh_it_resp_cleanup(&anon);
    ienv_stop(&e);
}

MH_TEST(sender_examples_run_and_are_accepted_under_every_scheme)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    /* A quote, a percent and a backslash in the JWT claims: the script escapes for the shell,
     * printf and JSON at once. */
    const char *endpoints[] = {
        "{\"verification\": {\"scheme\": \"none\"}}",
        "{\"verification\": {\"scheme\": \"hmac\"}}",
        "{\"verification\": {\"scheme\": \"hmac\", \"algorithm\": \"sha512\", \"encoding\": "
        "\"base64url\", \"header\": \"X-Sig\", \"prefix\": \"v1='\"}}",
        "{\"verification\": {\"scheme\": \"hmac\", \"encoding\": \"base64\"}}",
        "{\"verification\": {\"scheme\": \"github\"}}",
        "{\"verification\": {\"scheme\": \"stripe\"}}",
        "{\"verification\": {\"scheme\": \"standard_webhooks\"}}",
        "{\"verification\": {\"scheme\": \"standard_webhooks\"}, \"key\": {\"secret\": "
        "\"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr\"}}",
        "{\"verification\": {\"scheme\": \"jwt\", \"issuer\": \"https://it's.example/100%\\\\x\", "
        "\"audience\": \"meshhook\"}, \"key\": {\"algorithm\": \"hs256\", \"kid\": \"k'1\"}}",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(endpoints); i++) {
        json_t *ep = ienv_endpoint(&e, endpoints[i]);
        const char *secret = jstr(ep, "key.secret");
        json_t *ex = json_object_get(ep, "examples");
        MH_T_ASSERT(json_is_object(ex));
        char url[256];
        snprintf(url, sizeof(url), "%s/hooks/%s", e.s.base, jstr(ep, "public_id"));
        MH_T_ASSERT_STR_EQ(jstr(ex, "url"), url);
        /* The creation answer knows the secret: its script runs as it is. */
        MH_T_ASSERT_EQ(json_is_true(json_object_get(ex, "secret_included")), secret != NULL);
        expect_accepted(&e, jstr(ex, "script"), NULL, endpoints[i]);

        /* Later, the script reads the secret from $SECRET. */
        char path[256];
        snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/examples", e.project,
                 jstr(ep, "id"));
        json_t *later = get(&e, path, 200);
        const char *script = jstr(later, "script");
        MH_T_ASSERT(json_is_false(json_object_get(later, "secret_included")));
        if (secret) {
            MH_T_ASSERT(strstr(script, secret) == NULL);
            expect_accepted(&e, script, secret, endpoints[i]);
            /* Without a secret it stops before sending; with a wrong one the server refuses. */
            char *out = NULL;
            MH_T_ASSERT(run_script(&e, script, NULL, &out) != 0);
            MH_T_ASSERT(contains(out, "set SECRET"));
            free(out);
            const char *wrong = strncmp(secret, "whsec_", 6) == 0
                                    ? "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
                                    : "a-wrong-secret-of-sufficient-length-000000";
            MH_T_ASSERT_EQ(run_script(&e, script, wrong, &out), 0);
            MH_T_ASSERT(contains(out, "\"error\""));
            free(out);
        } else {
            expect_accepted(&e, script, NULL, endpoints[i]);
        }
        json_decref(later);
        json_decref(ep);
    }
    /* Only accepted deliveries so far, one per example run, and the wrong-secret refusals. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome = "
                             "'accepted'",
                             0, NULL),
                   2 * (long)MH_ARRAY_LEN(endpoints));

    /* The provider's own setting names, and the URL the browser sees. */
    json_t *gh = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}}");
    char path[512];
    snprintf(path, sizeof(path),
             "/api/projects/%s/endpoints/%s/examples?base_url=https://hooks.example.com", e.project,
             jstr(gh, "id"));
    json_t *ex = get(&e, path, 200);
    MH_T_ASSERT(strncmp(jstr(ex, "url"), "https://hooks.example.com/hooks/", 32) == 0);
    MH_T_ASSERT_STR_EQ(jstr(ex, "provider.name"), "GitHub");
    json_t *settings = json_object_get(json_object_get(ex, "provider"), "settings");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(settings, 0), "name")),
                       "Payload URL");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(settings, 1), "value")),
                       "application/json");
    json_decref(ex);
    long st;
    snprintf(path, sizeof(path),
             "/api/projects/%s/endpoints/%s/examples?base_url=https://x.example/';rm%%20-rf",
             e.project, jstr(gh, "id"));
    json_t *bad = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(bad, "error.path"), "?base_url");
    json_decref(bad);
    const char *bad_bases[] = {"https://", "ftp://x.example", "x.example", "https://a/b"};
    for (size_t i = 0; i < MH_ARRAY_LEN(bad_bases); i++) {
        snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/examples?base_url=%s",
                 e.project, jstr(gh, "id"), bad_bases[i]);
        bad = iapi(&e, "GET", path, NULL, &st);
        MH_T_ASSERT_EQ(st, 422);
        json_decref(bad);
    }
    json_decref(gh);

    /* A rotation's answer carries a script with the new secret, which verifies. */
    json_t *sp = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"stripe\"}}");
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/keys/rotate", e.project,
             jstr(sp, "id"));
    json_t *rot = iapi(&e, "POST", path, "{\"grace_s\": 0}", &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(strstr(jstr(rot, "examples.script"), jstr(rot, "key.secret")) != NULL);
    expect_accepted(&e, jstr(rot, "examples.script"), NULL, "rotated stripe");
    json_decref(rot);
    json_decref(sp);
    ienv_stop(&e);
}

MH_TEST(key_last_used_is_noted_without_touching_the_config)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"hmac\"}}");
    const char *pub = jstr(ep, "public_id");
    char keys_path[256];
    snprintf(keys_path, sizeof(keys_path), "/api/projects/%s/endpoints/%s/keys", e.project,
             jstr(ep, "id"));
    long st;
    json_t *second = iapi(&e, "POST", keys_path, "{\"label\": \"unused\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    json_t *keys = get(&e, keys_path, 200);
    size_t i;
    json_t *k;
    json_array_foreach(json_object_get(keys, "items"), i, k)
    {
        MH_T_ASSERT(json_object_get(k, "last_used_at") != NULL);
        MH_T_ASSERT(json_is_null(json_object_get(k, "last_used_at")));
    }
    json_decref(keys);
    const char *idp[] = {jstr(ep, "id")};
    json_t *v0 =
        mh_it_sql(e.db.admin_url, "SELECT config_version AS v FROM webhook_endpoints WHERE id = $1",
                  1, idp, NULL);
    long long version = json_integer_value(json_object_get(json_array_get(v0, 0), "v"));
    json_decref(v0);

    const char *body = "{\"n\": 1}";
    char mac[100], hdr[200];
    openssl_hmac(&e, "sha256", jstr(ep, "key.secret"), body, strlen(body), false, mac, sizeof(mac));
    snprintf(hdr, sizeof(hdr), "X-Signature: %s", mac);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    MH_T_ASSERT_EQ(hook_status(&e, pub, h, body), 202);
    keys = get(&e, keys_path, 200);
    json_array_foreach(json_object_get(keys, "items"), i, k)
    {
        bool used = strcmp(jstr(k, "id"), jstr(ep, "key.id")) == 0;
        MH_T_ASSERT_EQ(json_is_string(json_object_get(k, "last_used_at")), used);
    }
    json_decref(keys);
    /* Noting the use changed nothing the intake caches by. */
    const char *kp[] = {jstr(ep, "key.id")};
    json_t *v1 = mh_it_sql(e.db.admin_url,
                           "SELECT e.config_version AS v, k.last_used_at AS t FROM "
                           "webhook_endpoints e JOIN webhook_endpoint_keys k ON k.endpoint_id = "
                           "e.id WHERE k.id = $1",
                           1, kp, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(v1, 0), "v")), version);
    char first_use[64];
    snprintf(first_use, sizeof(first_use), "%s", jstr(json_array_get(v1, 0), "t"));
    json_decref(v1);
    /* At most once a minute: the next deliveries write nothing. */
    for (int n = 0; n < 3; n++)
        MH_T_ASSERT_EQ(hook_status(&e, pub, h, body), 202);
    v1 =
        mh_it_sql(e.db.admin_url,
                  "SELECT last_used_at AS t FROM webhook_endpoint_keys WHERE id = $1", 1, kp, NULL);
    MH_T_ASSERT_STR_EQ(jstr(json_array_get(v1, 0), "t"), first_use);
    json_decref(v1);
    /* A revocation still bumps the config, so the revoked key stops verifying at once. */
    char rpath[512];
    snprintf(rpath, sizeof(rpath), "%s/%s", keys_path, jstr(ep, "key.id"));
    json_decref(iapi(&e, "DELETE", rpath, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    MH_T_ASSERT_EQ(hook_status(&e, pub, h, body), 401);
    json_decref(second);
    json_decref(ep);
    ienv_stop(&e);
}

/* Posts `body` signed (or not, with `good` false) to the hmac endpoint `ep`; returns the
 * status. */
static long post_hmac(struct ienv *e, json_t *ep, const char *body, size_t len, bool good)
{
    char mac[100], hdr[200];
    openssl_hmac(e, "sha256", good ? jstr(ep, "key.secret") : "wrong-secret-wrong-secret-00", body,
                 len, false, mac, sizeof(mac));
    snprintf(hdr, sizeof(hdr), "X-Signature: %s", mac);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    struct mh_it_resp r;
    long st = hook(e, jstr(ep, "public_id"), "POST", h, body, len, &r);
    mh_it_resp_cleanup(&r);
    return st;
}

static size_t count_items(struct ienv *e, const char *query)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries%s", e->project, query);
    json_t *r = get(e, path, 200);
    size_t n = json_array_size(json_object_get(r, "items"));
    json_decref(r);
    return n;
}

MH_TEST(project_delivery_log_filters_and_exact_bodies)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *a = ienv_endpoint(&e, "{\"name\": \"a\", \"verification\": {\"scheme\": \"hmac\"}, "
                                  "\"max_body_bytes\": 300000}");
    json_t *b =
        ienv_endpoint(&e, "{\"name\": \"b\", \"verification\": {\"scheme\": \"hmac\"}, "
                          "\"json_schema\": {\"type\": \"object\", \"required\": [\"id\"]}}");
    /* Spacing and member order a re-serialisation would lose. */
    const char *exact = "{ \"z\":1,\n  \"a\" : [1, 2.50] }";
    MH_T_ASSERT_EQ(post_hmac(&e, a, exact, strlen(exact), true), 202);
    MH_T_ASSERT_EQ(post_hmac(&e, a, "{}", 2, false), 401);
    MH_T_ASSERT_EQ(post_hmac(&e, b, "{}", 2, true), 422);
    MH_T_ASSERT_EQ(post_hmac(&e, b, "{\"id\": 7}", 9, true), 202);
    size_t big_len = 40000;
    char *big = malloc(big_len + 1);
    memcpy(big, "{\"pad\": \"", 9);
    memset(big + 9, 'y', big_len - 11);
    memcpy(big + big_len - 2, "\"}", 2);
    big[big_len] = '\0';
    MH_T_ASSERT_EQ(post_hmac(&e, a, big, big_len, true), 202);

    MH_T_ASSERT_EQ(count_items(&e, ""), 5);
    char q[256];
    snprintf(q, sizeof(q), "?endpoint_id=%s", jstr(b, "id"));
    MH_T_ASSERT_EQ(count_items(&e, q), 2);
    MH_T_ASSERT_EQ(count_items(&e, "?outcome=refused"), 2);
    MH_T_ASSERT_EQ(count_items(&e, "?outcome=accepted"), 3);
    MH_T_ASSERT_EQ(count_items(&e, "?status=4xx"), 2);
    MH_T_ASSERT_EQ(count_items(&e, "?status=422"), 1);
    MH_T_ASSERT_EQ(count_items(&e, "?status=2XX&outcome=refused"), 0);
    MH_T_ASSERT_EQ(count_items(&e, "?since=2999-01-01T00:00:00Z"), 0);
    MH_T_ASSERT_EQ(count_items(&e, "?until=2000-01-01T00:00:00.5%2B01:00"), 0);
    MH_T_ASSERT_EQ(count_items(&e, "?since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z"), 5);
    snprintf(q, sizeof(q), "?endpoint_id=%s&outcome=refused&status=422", jstr(b, "id"));
    MH_T_ASSERT_EQ(count_items(&e, q), 1);
    const char *bad[][2] = {{"?status=abc", "?status"},
                            {"?status=600", "?status"},
                            {"?outcome=maybe", "?outcome"},
                            {"?since=yesterday", "?since"},
                            {"?until=2026-13-01T00:00:00Z", "?until"}};
    for (size_t i = 0; i < MH_ARRAY_LEN(bad); i++) {
        char path[256];
        long st;
        snprintf(path, sizeof(path), "/api/projects/%s/deliveries%s", e.project, bad[i][0]);
        json_t *r = iapi(&e, "GET", path, NULL, &st);
        MH_T_ASSERT_EQ(st, 422);
        MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), bad[i][1]);
        json_decref(r);
    }

    /* Paging across endpoints, newest first, each delivery once. */
    char path[512];
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries?limit=2", e.project);
    json_t *page = get(&e, path, 200);
    int total = 0;
    char prev[64] = "";
    for (;;) {
        size_t i;
        json_t *row;
        json_array_foreach(json_object_get(page, "items"), i, row)
        {
            total++;
            if (prev[0])
                MH_T_ASSERT(strcmp(jstr(row, "received_at"), prev) <= 0);
            snprintf(prev, sizeof(prev), "%s", jstr(row, "received_at"));
            MH_T_ASSERT(jstr(row, "endpoint_name") != NULL);
            MH_T_ASSERT_STR_EQ(
                json_string_value(json_object_get(json_object_get(row, "headers"), "x-signature")),
                "[redacted]");
        }
        const char *next = jstr(page, "next_cursor");
        if (next == NULL)
            break;
        snprintf(path, sizeof(path), "/api/projects/%s/deliveries?limit=2&cursor=%s", e.project,
                 next);
        json_decref(page);
        page = get(&e, path, 200);
    }
    json_decref(page);
    MH_T_ASSERT_EQ(total, 5);

    /* The detail: the body exactly as received, inline or from the blobs table; none for a
     * refusal, whose reason says why. */
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries?outcome=accepted", e.project);
    page = get(&e, path, 200);
    size_t i;
    json_t *row;
    int seen_exact = 0, seen_big = 0;
    json_array_foreach(json_object_get(page, "items"), i, row)
    {
        char dpath[256];
        snprintf(dpath, sizeof(dpath), "/api/projects/%s/deliveries/%s", e.project,
                 jstr(row, "id"));
        json_t *d = get(&e, dpath, 200);
        const char *body = jstr(d, "body");
        MH_T_ASSERT(body != NULL);
        MH_T_ASSERT_EQ(strlen(body), (size_t)json_integer_value(json_object_get(d, "body_size")));
        seen_exact += strcmp(body, exact) == 0;
        seen_big += strcmp(body, big) == 0;
        MH_T_ASSERT(jstr(d, "key_id") != NULL);
        json_decref(d);
    }
    json_decref(page);
    MH_T_ASSERT_EQ(seen_exact, 1);
    MH_T_ASSERT_EQ(seen_big, 1);
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries?status=422", e.project);
    page = get(&e, path, 200);
    char dpath[256];
    snprintf(dpath, sizeof(dpath), "/api/projects/%s/deliveries/%s", e.project,
             jstr(json_array_get(json_object_get(page, "items"), 0), "id"));
    json_decref(page);
    json_t *d = get(&e, dpath, 200);
    /* A JSON Schema refusal keeps its body (after verification), for a replay after the fix. */
    MH_T_ASSERT_STR_EQ(jstr(d, "body"), "{}");
    MH_T_ASSERT(json_is_true(json_object_get(d, "replayable")));
    MH_T_ASSERT(contains(jstr(d, "reason"), "id"));
    MH_T_ASSERT_STR_EQ(jstr(d, "endpoint_id"), jstr(b, "id"));
    json_decref(d);
    snprintf(dpath, sizeof(dpath), "/api/projects/%s/deliveries/%s", e.project, e.workflow);
    json_decref(get(&e, dpath, 404));
    /* Another project's member sees none of it. */
    char other[128], oid[40], opid[40];
    mh_it_user_token(&e.db, &e.s, "other@example.com", other, oid);
    mh_it_project(&e.s, other, "other", opid);
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/deliveries", e.project);
    json_decref(mh_it_api(&e.s, other, "GET", path, NULL, &st));
    MH_T_ASSERT(st == 403 || st == 404);
    free(big);
    json_decref(a);
    json_decref(b);
    ienv_stop(&e);
}

MH_TEST(schema_check_validates_the_schema_and_tests_a_recorded_delivery)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"hmac\"}}");
    const char *body = "{\"amount\": 5, \"items\": [{\"sku\": \"a\"}, {}]}";
    MH_T_ASSERT_EQ(post_hmac(&e, ep, body, strlen(body), true), 202);
    MH_T_ASSERT_EQ(post_hmac(&e, ep, "{}", 2, false), 401);
    char path[256], lpath[256];
    snprintf(lpath, sizeof(lpath), "/api/projects/%s/deliveries?outcome=accepted", e.project);
    json_t *page = get(&e, lpath, 200);
    char did[40];
    snprintf(did, sizeof(did), "%s", jstr(json_array_get(json_object_get(page, "items"), 0), "id"));
    json_decref(page);
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/schema/check", e.project,
             jstr(ep, "id"));
    long st;
    /* The schema itself is checked first: the path points at the bad keyword. */
    json_t *r =
        iapi(&e, "POST", path,
             "{\"json_schema\": {\"properties\": {\"amount\": {\"minimum\": \"ten\"}}}}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), "/json_schema/properties/amount/minimum");
    json_decref(r);
    char req[512];
    snprintf(req, sizeof(req),
             "{\"json_schema\": {\"properties\": {\"amount\": {\"minimum\": 10}, \"items\": "
             "{\"items\": {\"required\": [\"sku\"]}}}}, \"delivery_id\": \"%s\"}",
             did);
    r = iapi(&e, "POST", path, req, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(r, "valid")));
    json_t *errs = json_object_get(r, "errors");
    MH_T_ASSERT_EQ(json_array_size(errs), 2);
    bool saw_amount = false, saw_sku = false;
    size_t i;
    json_t *x;
    json_array_foreach(errs, i, x)
    {
        saw_amount |= strcmp(jstr(x, "path"), "/amount") == 0;
        saw_sku |= strcmp(jstr(x, "path"), "/items/1/sku") == 0;
    }
    MH_T_ASSERT(saw_amount && saw_sku);
    json_decref(r);
    snprintf(req, sizeof(req),
             "{\"json_schema\": {\"required\": [\"amount\"]}, \"delivery_id\": \"%s\"}", did);
    r = iapi(&e, "POST", path, req, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(r, "valid")));
    json_decref(r);
    /* A refusal recorded no payload to test. */
    snprintf(lpath, sizeof(lpath), "/api/projects/%s/deliveries?outcome=refused", e.project);
    page = get(&e, lpath, 200);
    snprintf(req, sizeof(req), "{\"json_schema\": true, \"delivery_id\": \"%s\"}",
             jstr(json_array_get(json_object_get(page, "items"), 0), "id"));
    json_decref(page);
    r = iapi(&e, "POST", path, req, &st);
    MH_T_ASSERT_EQ(st, 409);
    json_decref(r);
    /* Saving a bad schema is refused the same way. */
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s", e.project, jstr(ep, "id"));
    r = iapi(&e, "PATCH", path, "{\"json_schema\": {\"type\": \"nonsense\"}}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT(strncmp(jstr(r, "error.path"), "/json_schema/type", 17) == 0);
    json_decref(r);
    json_decref(ep);
    ienv_stop(&e);
}
