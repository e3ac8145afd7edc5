/* SPDX-License-Identifier: MIT */
/*
 * Webhook intake through the real server: body size limits, token-bucket rate limits, content
 * types (JSON, forms, XML, text) and their parse errors, JSON Schema validation with every
 * failing path, idempotency keys (including concurrent duplicates racing in the database), the
 * durable 202 (the run, its first event, its job and the delivery row all committed; 503 and no
 * run while the database is unreachable), and the endpoint cache noticing changes made behind
 * its back.
 */
#include <sys/wait.h>

#include "itest_intake_common.h"

static long post(struct ienv *e, const char *pub, const char *ct, const char *extra,
                 const char *body, size_t len, struct mh_it_resp *r)
{
    char ct_line[160];
    const char *h[3] = {NULL, NULL, NULL};
    int n = 0;
    /* Without a type, curl would send its form default: an empty value removes the header. */
    snprintf(ct_line, sizeof(ct_line), "Content-Type:%s%s", ct ? " " : "", ct ? ct : "");
    h[n++] = ct_line;
    if (extra)
        h[n++] = extra;
    return hook(e, pub, "POST", h, body, len, r);
}

static long post_status(struct ienv *e, const char *pub, const char *ct, const char *body)
{
    struct mh_it_resp r;
    long st = post(e, pub, ct, NULL, body, strlen(body), &r);
    mh_it_resp_cleanup(&r);
    return st;
}

/* The trigger body the run's first event recorded (new reference). */
static json_t *trigger_body(struct ienv *e, const char *run_id)
{
    const char *p[] = {run_id};
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT payload->'trigger'->'body' AS b FROM events WHERE "
                             "run_id = $1 AND seq = 1",
                             1, p, NULL);
    MH_T_ASSERT(rows && json_array_size(rows) == 1);
    json_t *b = json_incref(json_object_get(json_array_get(rows, 0), "b"));
    json_decref(rows);
    return b;
}

static bool has_path(json_t *errors, const char *path)
{
    size_t i;
    json_t *err;
    json_array_foreach(errors, i, err)
    {
        if (strcmp(json_string_value(json_object_get(err, "path")), path) == 0)
            return true;
    }
    return false;
}

MH_TEST(body_limit_content_types_and_schema)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *a = ienv_endpoint(
        &e, "{\"max_body_bytes\": 1024, \"json_schema\": {\"type\": \"object\", \"required\": "
            "[\"id\", \"amount\"], \"properties\": {\"id\": {\"type\": \"string\"}, \"amount\": "
            "{\"type\": \"integer\", \"minimum\": 0}, \"items\": {\"type\": \"array\", \"items\": "
            "{\"type\": \"object\", \"required\": [\"sku\"]}}}}}");
    const char *pa = jstr(a, "public_id");
    struct mh_it_resp r;

    /* 413 past the endpoint's limit (well within the server's). */
    char big[2048];
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"id\": \"x\", \"amount\": 1}", 24);
    MH_T_ASSERT_EQ(post(&e, pa, "application/json", NULL, big, sizeof(big), &r), 413);
    MH_T_ASSERT_STR_EQ(jstr(r.json, "error.code"), "too_big");
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post(&e, pa, "application/json", NULL, big, 1024, &r), 202);
    mh_it_resp_cleanup(&r);

    /* Content types: unsupported 415, unparseable 400. */
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/octet-stream", "{}"), 415);
    MH_T_ASSERT_EQ(post_status(&e, pa, NULL, "{\"id\": \"x\", \"amount\": 1}"), 415);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/json; charset=latin1", "{}"), 415);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/json", "{\"id\": \"x\", \"amount\": "), 400);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/json", "{\"id\": \"x\", \"id\": \"y\"}"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/json", ""), 400);

    /* Schema: every failing instance path, in one 422. */
    MH_T_ASSERT_EQ(post(&e, pa, "application/json", NULL,
                        "{\"id\": 5, \"amount\": -1, \"items\": [{}, {\"sku\": \"a\"}, {}]}", 56,
                        &r),
                   422);
    json_t *errors = json_object_get(json_object_get(r.json, "error"), "errors");
    MH_T_ASSERT_STR_EQ(jstr(r.json, "error.code"), "schema_validation_failed");
    MH_T_ASSERT(has_path(errors, "/id"));
    MH_T_ASSERT(has_path(errors, "/amount"));
    MH_T_ASSERT(has_path(errors, "/items/0/sku"));
    MH_T_ASSERT(has_path(errors, "/items/2/sku"));
    MH_T_ASSERT_EQ(json_array_size(errors), 4);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/json", "[1, 2]"), 422);
    MH_T_ASSERT_EQ(post_status(&e, pa, "application/vnd.api+json",
                               "{\"id\": \"o-1\", \"amount\": 0, \"items\": [{\"sku\": \"a\"}]}"),
                   202);

    /* Forms become objects; XML and text are recorded as strings. */
    json_t *b = ienv_endpoint(&e, "{}");
    const char *pb = jstr(b, "public_id");
    MH_T_ASSERT_EQ(post(&e, pb, "application/x-www-form-urlencoded", NULL,
                        "a=1&b=x+y&a=2&c=%E2%9C%93&empty=&flag", 37, &r),
                   202);
    json_t *form = trigger_body(&e, jstr(r.json, "run_id"));
    mh_it_resp_cleanup(&r);
    json_t *want = json_pack("{s:[s,s], s:s, s:s, s:s, s:s}", "a", "1", "2", "b", "x y", "c",
                             "\xE2\x9C\x93", "empty", "", "flag", "");
    MH_T_ASSERT(json_equal(form, want));
    json_decref(form);
    json_decref(want);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/x-www-form-urlencoded", "a=%ZZ"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/x-www-form-urlencoded", "a=%FF%FE"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/x-www-form-urlencoded", "a=%00"), 400);
    const char *xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->"
                      "<order id=\"7\" kind='x'><item sku=\"a&amp;b\">2 &lt; 3 &#x2713;</item>"
                      "<note><![CDATA[<raw> & stuff]]></note><empty/></order>\n";
    MH_T_ASSERT_EQ(post(&e, pb, "application/xml", NULL, xml, strlen(xml), &r), 202);
    json_t *xb = trigger_body(&e, jstr(r.json, "run_id"));
    MH_T_ASSERT_STR_EQ(json_string_value(xb), xml);
    json_decref(xb);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post_status(&e, pb, "text/xml", "<a><b></a></b>"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/xml",
                               "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">]>"
                               "<lolz>&lol;</lolz>"),
                   400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/xml", "<a x=\"1\" x=\"2\"/>"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/xml", "<a>&unknown;</a>"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/xml", "<a/><b/>"), 400);
    MH_T_ASSERT_EQ(post_status(&e, pb, "application/atom+xml", "<feed/>"), 202);
    MH_T_ASSERT_EQ(post(&e, pb, "text/plain; charset=utf-8", NULL, "h\xC3\xA9llo\n", 7, &r), 202);
    json_t *tb = trigger_body(&e, jstr(r.json, "run_id"));
    MH_T_ASSERT_STR_EQ(json_string_value(tb), "h\xC3\xA9llo\n");
    json_decref(tb);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post(&e, pb, "text/plain", NULL, "bad \xC3\x28 utf-8", 13, &r), 400);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post(&e, pb, "text/plain", NULL, "nul\0inside", 10, &r), 400);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(post_status(&e, pb, "text/plain; charset=iso-8859-1", "abc"), 415);
    /* An empty body without a type is a null body. */
    MH_T_ASSERT_EQ(post(&e, pb, NULL, NULL, "", 0, &r), 202);
    json_t *nb = trigger_body(&e, jstr(r.json, "run_id"));
    MH_T_ASSERT(json_is_null(nb));
    json_decref(nb);
    mh_it_resp_cleanup(&r);
    /* Methods: only POST by default. */
    const char *h[] = {"Content-Type: application/json", NULL};
    MH_T_ASSERT_EQ(hook(&e, pb, "PUT", h, "{}", 2, &r), 405);
    char *allow = mh_it_resp_header(&r, "Allow");
    MH_T_ASSERT_STR_EQ(allow, "POST");
    free(allow);
    mh_it_resp_cleanup(&r);

    /* Every refusal is in the delivery log with its status and reason. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/deliveries?outcome=refused",
             e.project, jstr(a, "id"));
    json_t *log = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    int seen413 = 0, seen415 = 0, seen400 = 0, seen422 = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(log, "items"), i, row)
    {
        long s = (long)json_integer_value(json_object_get(row, "status"));
        seen413 += s == 413;
        seen415 += s == 415;
        seen400 += s == 400;
        seen422 += s == 422;
        MH_T_ASSERT(json_string_value(json_object_get(row, "reason")) != NULL);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "outcome")), "refused");
    }
    MH_T_ASSERT_EQ(seen413, 1);
    MH_T_ASSERT_EQ(seen415, 3);
    MH_T_ASSERT_EQ(seen400, 3);
    MH_T_ASSERT_EQ(seen422, 2);
    json_decref(log);
    json_decref(a);
    json_decref(b);
    ienv_stop(&e);
}

MH_TEST(rate_limit_disabled_and_unpublished)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *c = ienv_endpoint(&e, "{\"rate_capacity\": 3, \"rate_per_second\": 0.25}");
    json_t *other = ienv_endpoint(&e, "{}");
    const char *pc = jstr(c, "public_id");
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(post_status(&e, pc, "application/json", "{}"), 202);
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(post(&e, pc, "application/json", NULL, "{}", 2, &r), 429);
    char *ra = mh_it_resp_header(&r, "Retry-After");
    MH_T_ASSERT(ra != NULL);
    long retry = strtol(ra, NULL, 10);
    MH_T_ASSERT(retry >= 1 && retry <= 4);
    free(ra);
    mh_it_resp_cleanup(&r);
    /* Another endpoint is unaffected. */
    MH_T_ASSERT_EQ(post_status(&e, jstr(other, "public_id"), "application/json", "{}"), 202);
    /* After the bucket refills, the endpoint accepts again. */
    mh_it_sleep_ms(4100);
    MH_T_ASSERT_EQ(post_status(&e, pc, "application/json", "{}"), 202);

    /* A disabled endpoint refuses (403); a workflow never published cannot start (503). */
    json_t *d = ienv_endpoint(&e, "{\"is_enabled\": false}");
    MH_T_ASSERT_EQ(post_status(&e, jstr(d, "public_id"), "application/json", "{}"), 403);
    char path[256], wid[40];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    json_t *w = iapi(&e, "POST", path,
                     "{\"name\": \"draft only\", \"definition\": {\"nodes\": [{\"id\": \"a\", "
                     "\"type\": \"transform\", \"config\": {\"expression\": \"`1`\"}}], "
                     "\"edges\": []}}",
                     &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(wid, sizeof(wid), "%s", jstr(w, "id"));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, wid);
    json_t *u = iapi(&e, "POST", path, "{}", &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(post(&e, jstr(u, "public_id"), "application/json", NULL, "{}", 2, &r), 503);
    MH_T_ASSERT_STR_EQ(jstr(r.json, "error.code"), "not_published");
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs WHERE workflow_id::text = $1", 1,
                             (const char *const[]){wid}),
                   0);
    json_decref(u);
    json_decref(d);
    json_decref(c);
    json_decref(other);
    ienv_stop(&e);
}

/* Runs `n` senders at once, each POSTing `body` with Idempotency-Key `key`; fills statuses and
 * run ids (40 bytes each). */
static void race(struct ienv *e, const char *pub, const char *key, int n, long *statuses,
                 char (*runs)[40])
{
    int go[2], results[2];
    MH_T_ASSERT(pipe(go) == 0 && pipe(results) == 0);
    pid_t pids[16];
    for (int i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            close(go[1]);
            char c;
            (void)!read(go[0], &c, 1); /* returns when the parent closes the pipe */
            char kh[128];
            snprintf(kh, sizeof(kh), "Idempotency-Key: %s", key);
            struct mh_it_resp r;
            long st = post(e, pub, "application/json", kh, "{\"n\": 1}", 8, &r);
            char line[64];
            const char *id = json_string_value(json_object_get(r.json, "run_id"));
            int len = snprintf(line, sizeof(line), "%03ld %-36s\n", st, id ? id : "-");
            (void)!write(results[1], line, (size_t)len);
            _exit(0);
        }
    }
    close(go[0]);
    close(results[1]);
    mh_it_sleep_ms(200);
    close(go[1]);
    for (int i = 0; i < n; i++)
        waitpid(pids[i], NULL, 0);
    char buf[4096];
    size_t got = 0;
    ssize_t k;
    while ((k = read(results[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)k;
    buf[got] = '\0';
    close(results[0]);
    char *line = buf;
    for (int i = 0; i < n; i++) {
        MH_T_ASSERT(strlen(line) >= 41);
        statuses[i] = strtol(line, NULL, 10);
        snprintf(runs[i], 40, "%.36s", line + 4);
        line += 41;
    }
}

MH_TEST(idempotency_keys_and_concurrent_duplicates)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    const char *pub = jstr(ep, "public_id");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(
        post(&e, pub, "application/json", "Idempotency-Key: order-1", "{\"a\": 1}", 8, &r), 202);
    char first[40];
    snprintf(first, sizeof(first), "%s", jstr(r.json, "run_id"));
    mh_it_resp_cleanup(&r);
    /* The same key: 200, the first run's id, nothing started (even with another body). */
    MH_T_ASSERT_EQ(
        post(&e, pub, "application/json", "Idempotency-Key: order-1", "{\"a\": 2}", 8, &r), 200);
    MH_T_ASSERT_STR_EQ(jstr(r.json, "run_id"), first);
    MH_T_ASSERT(json_is_true(json_object_get(r.json, "duplicate")));
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(
        post(&e, pub, "application/json", "Idempotency-Key: order-2", "{\"a\": 1}", 8, &r), 202);
    MH_T_ASSERT(strcmp(jstr(r.json, "run_id"), first) != 0);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 2);
    char long_key[400] = "Idempotency-Key: ";
    memset(long_key + strlen(long_key), 'k', 300);
    MH_T_ASSERT_EQ(post(&e, pub, "application/json", long_key, "{}", 2, &r), 400);
    mh_it_resp_cleanup(&r);
    /* The duplicate is in the delivery log, pointing at the first run. */
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM webhook_deliveries", 0, NULL) >= 2, 1);
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/deliveries?outcome=duplicate",
             e.project, jstr(ep, "id"));
    json_t *log = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(log, "items")), 1);
    MH_T_ASSERT_STR_EQ(jstr(json_array_get(json_object_get(log, "items"), 0), "run_id"), first);
    MH_T_ASSERT_EQ(json_integer_value(
                       json_object_get(json_array_get(json_object_get(log, "items"), 0), "status")),
                   200);
    json_decref(log);

    /* Twelve senders with one new key at the same instant: one run, one 202, the rest 200
     * naming it. The database's unique index decides, not a lock in the server. */
    long statuses[12];
    char runs[12][40];
    race(&e, pub, "race-1", 12, statuses, runs);
    int accepted = 0;
    for (int i = 0; i < 12; i++) {
        MH_T_ASSERT(statuses[i] == 202 || statuses[i] == 200);
        accepted += statuses[i] == 202;
        MH_T_ASSERT_STR_EQ(runs[i], runs[0]);
    }
    MH_T_ASSERT_EQ(accepted, 1);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), 3);

    /* Past its retention a key starts a new run. */
    mh_it_sql_script(e.db.admin_url, "UPDATE idempotency_keys SET expires_at = now() - "
                                     "interval '1 second' WHERE key = 'order-1'");
    MH_T_ASSERT_EQ(
        post(&e, pub, "application/json", "Idempotency-Key: order-1", "{\"a\": 1}", 8, &r), 202);
    MH_T_ASSERT(strcmp(jstr(r.json, "run_id"), first) != 0);
    mh_it_resp_cleanup(&r);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(durable_202_and_503_while_database_unreachable)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--pool-wait-ms", "500", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    const char *pub = jstr(ep, "public_id");
    /* Exact bytes: odd spacing and key order survive in the first event. */
    const char *body = "{ \"z\":1,\n\t\"a\" : [ 1.50, \"\\u00e9\" ] }";
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(post(&e, pub, "application/json", NULL, body, strlen(body), &r), 202);
    char run[40], delivery[40];
    snprintf(run, sizeof(run), "%s", jstr(r.json, "run_id"));
    snprintf(delivery, sizeof(delivery), "%s", jstr(r.json, "delivery_id"));
    mh_it_resp_cleanup(&r);
    const char *p[] = {run, delivery};
    /* One transaction wrote the run, its first event and the delivery row naming each other. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs r JOIN events v ON v.run_id = r.id "
                             "AND v.seq = 1 AND v.type = 'run_started' JOIN webhook_deliveries d "
                             "ON d.id = $2::uuid AND d.run_id = r.id WHERE r.id = $1::uuid AND "
                             "r.delivery_id = $2::uuid AND v.payload->'delivery'->>'id' = $2::text",
                             2, p),
                   1);
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT v.payload->'delivery'->>'raw_body' AS raw FROM events v "
                             "WHERE v.run_id = $1 AND v.seq = 1",
                             1, p, NULL);
    MH_T_ASSERT_STR_EQ(jstr(json_array_get(rows, 0), "raw"), body);
    json_decref(rows);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_deliveries WHERE id = $2 AND "
                             "run_id = $1 AND outcome = 'accepted'",
                             2, p),
                   1);
    /* The job exists, or the run already went through it. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs r WHERE r.id = $1 AND (EXISTS "
                             "(SELECT 1 FROM jobs j WHERE j.run_id = r.id) OR r.status <> "
                             "'queued')",
                             1, p),
                   1);

    /* The database refuses the server: deliveries get 503, never 202, and start nothing. */
    char sql[512];
    snprintf(sql, sizeof(sql),
             "REVOKE CONNECT ON DATABASE %s FROM PUBLIC; SELECT pg_terminate_backend(pid) FROM "
             "pg_stat_activity WHERE datname = '%s' AND usename = 'meshhook_app'",
             e.db.name, e.db.name);
    const char *super = getenv("MESHHOOK_SUPER_DATABASE_URL");
    mh_it_sql_script(super, sql);
    long before = sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL);
    for (int i = 0; i < 5; i++) {
        MH_T_ASSERT_EQ(post(&e, pub, "application/json", NULL, "{\"down\": true}", 14, &r), 503);
        char *ra = mh_it_resp_header(&r, "Retry-After");
        MH_T_ASSERT(ra != NULL);
        free(ra);
        MH_T_ASSERT(json_object_get(r.json, "run_id") == NULL);
        mh_it_resp_cleanup(&r);
    }
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), before);
    snprintf(sql, sizeof(sql), "GRANT CONNECT ON DATABASE %s TO PUBLIC", e.db.name);
    mh_it_sql_script(super, sql);
    /* Back: accepted again, without a restart. */
    long st = 0;
    for (int i = 0; i < 50 && st != 202; i++) {
        st = post(&e, pub, "application/json", NULL, "{\"up\": true}", 12, &r);
        mh_it_resp_cleanup(&r);
        if (st != 202)
            mh_it_sleep_ms(100);
    }
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL), before + 1);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(cache_follows_changes_made_elsewhere)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    const char *pub = jstr(ep, "public_id");
    const char *p[] = {jstr(ep, "id")};
    MH_T_ASSERT_EQ(post_status(&e, pub, "application/json", "{}"), 202);
    /* Another instance (here: SQL) disables it: the cached copy must not accept. The commit
     * notices the config_version moved and the delivery is judged again. */
    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE webhook_endpoints SET is_enabled = false WHERE id = $1", 1, p,
                          NULL));
    MH_T_ASSERT_EQ(post_status(&e, pub, "application/json", "{}"), 403);
    /* Re-enabled elsewhere: refusals reload entries older than a second. */
    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE webhook_endpoints SET is_enabled = true WHERE id = $1", 1, p,
                          NULL));
    mh_it_sleep_ms(1100);
    MH_T_ASSERT_EQ(post_status(&e, pub, "application/json", "{}"), 202);
    /* Switched to GitHub signatures: without a key nothing can verify (503, the sender retries
     * until a key exists); with one, unsigned deliveries are refused and signed ones pass. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s", e.project, jstr(ep, "id"));
    json_decref(iapi(&e, "PATCH", path, "{\"verification\": {\"scheme\": \"github\"}}", &st));
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(post_status(&e, pub, "application/json", "{}"), 503);
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s/keys", e.project, jstr(ep, "id"));
    json_decref(iapi(&e, "POST", path, "{\"secret\": \"github-secret-after-switch\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(post_status(&e, pub, "application/json", "{}"), 401);
    char mac[100], sig[200];
    openssl_hmac(&e, "sha256", "github-secret-after-switch", "{}", 2, false, mac, sizeof(mac));
    snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", mac);
    struct mh_it_resp gr;
    MH_T_ASSERT_EQ(post(&e, pub, "application/json", sig, "{}", 2, &gr), 202);
    mh_it_resp_cleanup(&gr);

    /* Publishing version 2 moves "latest" endpoints to it; pinning goes back to 1. */
    json_t *ep2 = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    const char *pub2 = jstr(ep2, "public_id");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(post(&e, pub2, "application/json", NULL, "{}", 2, &r), 202);
    const char *rp[] = {jstr(r.json, "run_id")};
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT version AS n FROM runs WHERE id = $1", 1, rp), 1);
    mh_it_resp_cleanup(&r);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e.project, e.workflow);
    json_decref(iapi(&e, "PUT", path,
                     "{\"definition\": {\"nodes\": [{\"id\": \"echo2\", \"type\": \"transform\", "
                     "\"config\": {\"expression\": \"trigger.body\"}}], \"edges\": []}}",
                     &st));
    MH_T_ASSERT(st == 200 || st == 201);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, e.workflow);
    json_decref(iapi(&e, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
    MH_T_ASSERT_EQ(post(&e, pub2, "application/json", NULL, "{}", 2, &r), 202);
    const char *rp2[] = {jstr(r.json, "run_id")};
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT version AS n FROM runs WHERE id = $1", 1, rp2), 2);
    mh_it_resp_cleanup(&r);
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s", e.project, jstr(ep2, "id"));
    json_decref(iapi(&e, "PATCH", path, "{\"pinned_version\": 1}", &st));
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(post(&e, pub2, "application/json", NULL, "{}", 2, &r), 202);
    const char *rp3[] = {jstr(r.json, "run_id")};
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT version AS n FROM runs WHERE id = $1", 1, rp3), 1);
    mh_it_resp_cleanup(&r);
    json_decref(ep2);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(batches_mixing_projects)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--http-threads", "16", NULL});
    json_t *a = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    /* A second project with its own workflow and endpoint, by the same owner. */
    struct ienv e2 = e;
    mh_it_project(&e.s, e.bearer, "second", e2.project);
    ienv_workflow(&e2, e2.workflow);
    json_t *b = ienv_endpoint(&e2, "{\"rate_capacity\": 1000}");
    const char *pubs[] = {jstr(a, "public_id"), jstr(b, "public_id")};
    /* Sixteen senders at once, alternating projects: batches hold both, and row-level
     * security checks every row under its own project. */
    pid_t kids[16];
    for (int k = 0; k < 16; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            int bad = 0;
            for (int i = 0; i < 10; i++) {
                struct mh_it_resp r;
                if (post(&e, pubs[(k + i) % 2], "application/json", NULL, "{}", 2, &r) != 202)
                    bad++;
                mh_it_resp_cleanup(&r);
            }
            _exit(bad);
        }
    }
    for (int k = 0; k < 16; k++) {
        int status = 0;
        waitpid(kids[k], &status, 0);
        MH_T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs r JOIN webhook_deliveries d ON "
                             "d.run_id = r.id JOIN webhook_endpoints w ON w.id = d.endpoint_id "
                             "WHERE r.project_id = w.project_id AND r.workflow_id = w.workflow_id",
                             0, NULL),
                   160);
    const char *pp[] = {e2.project};
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs WHERE project_id = $1", 1, pp),
                   80);
    json_decref(a);
    json_decref(b);
    ienv_stop(&e);
}

MH_TEST(project_deletion_leaves_no_work)
{
    /* Without workers, an accepted webhook's run waits with its job (the intake leaves even the
     * pure first steps to the workers here, or it would finish this one-transform run itself). */
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--intake-pure-prefix=false", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(post(&e, jstr(ep, "public_id"), "application/json", NULL, "{}", 2, &r), 202);
    mh_it_resp_cleanup(&r);
    const char *pp[] = {e.project};
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM jobs WHERE project_id = $1", 1, pp), 1);
    /* Deleting the project removes its runs; the job stays (jobs have no foreign key to
     * projects or runs, migration 0010)... */
    char path[128];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s", e.project);
    json_decref(iapi(&e, "DELETE", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM runs WHERE project_id = $1", 1, pp), 0);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM jobs WHERE project_id = $1", 1, pp), 1);
    /* ...until a worker claims it, finds its run gone and deletes it. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_it_server_start(&e.s, &e.db, (const char *const[]){"--kek", IT_KEK, "--workers", "1", NULL});
    long left = 1;
    for (int i = 0; i < 200 && left > 0; i++) {
        left = sql_count(&e, "SELECT count(*) AS n FROM jobs WHERE project_id = $1", 1, pp);
        if (left > 0)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(left, 0);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM dead_letters", 0, NULL), 0);
    json_decref(ep);
    ienv_stop(&e);
}
