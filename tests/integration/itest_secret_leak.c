/* SPDX-License-Identifier: MIT */
/*
 * The leak test of issue 6: a workflow's http_call sends a secret (URL, query, headers and body)
 * to a local echo server that reflects the whole request back, in its body and in a header, and
 * fails with 500 so the step is retried and the run fails. Afterwards the secret's bytes must
 * appear nowhere: not in any table of the database (events, blobs, runs, jobs, dead letters,
 * the audit log...) as text, hex or base64, not in any API response, and not in the server's
 * stdout/stderr, while the echo server proves the value was really sent and the event log shows
 * the placeholder and the [secret:NAME] replacement. A run naming a missing secret fails with a
 * clear event.
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "itest.h"
#include "mock_http.h"

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
    char kek_path[64];
};

static char secret_value[64];
static char secret_hex[160];
static char secret_b64[128];

/* Fails when `text` holds the secret in any of its encodings. */
static void assert_clean(const char *text, size_t len, const char *where)
{
    if (text == NULL)
        return;
    if (memmem(text, len, secret_value, strlen(secret_value)) ||
        memmem(text, len, secret_hex, strlen(secret_hex)) ||
        memmem(text, len, secret_b64, strlen(secret_b64)))
        mh_t_fail(__FILE__, __LINE__, "the secret value leaked into %s", where);
}

static json_t *api(struct env *e, const char *method, const char *path, const char *body, long *st)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", e->s.base, path);
    const char *h[] = {"Content-Type: application/json", e->bearer, NULL};
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    *st = r.status;
    assert_clean(r.body, r.body_len, path);
    assert_clean(r.headers, strlen(r.headers), path);
    json_t *j = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return j;
}

/* Reflects the request line, headers and body, in the body and in a header, with a 500. */
static void echo(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = 500;
    snprintf(rep->content_type, sizeof(rep->content_type), "text/plain");
    snprintf(rep->body, sizeof(rep->body), "%s %s\n%s\n\n%.*s", req->method, req->path,
             req->headers, (int)(req->body_len < 4000 ? req->body_len : 4000), req->body);
    const char *auth = strcasestr(req->headers, "\r\nauthorization: ");
    if (auth) {
        const char *end = strstr(auth + 2, "\r\n");
        int n = end ? (int)(end - auth - 17) : (int)strlen(auth + 17);
        snprintf(rep->headers, sizeof(rep->headers), "X-Echo-Authorization: %.*s\r\n",
                 n < 400 ? n : 400, auth + 17);
    }
}

static void workflow(struct env *e, json_t *def, char *id)
{
    json_t *req = json_pack("{s:s, s:O}", "name", "leak", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    long st;
    json_t *w = api(e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    free(body);
    json_decref(req);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_t *v = api(e, "POST", path, NULL, &st);
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(v);
}

static void run_to_end(struct env *e, const char *wf, char *run_id)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e->project, wf);
    long st;
    json_t *r = api(e, "POST", path, "{\"payload\": {\"n\": 1}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    snprintf(run_id, 40, "%s", json_string_value(json_object_get(r, "run_id")));
    json_decref(r);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run_id);
    for (int i = 0; i < 600; i++) {
        r = api(e, "GET", path, NULL, &st);
        MH_T_ASSERT_EQ(st, 200);
        const char *status = json_string_value(json_object_get(r, "status"));
        bool done = status && (strcmp(status, "failed") == 0 || strcmp(status, "succeeded") == 0);
        if (done) {
            MH_T_ASSERT_STR_EQ(status, "failed");
            json_decref(r);
            return;
        }
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run_id);
}

/* Every table of the schema, row by row as text (bytea shows as hex), holds no encoding of the
 * secret. */
static void assert_database_clean(const struct env *e)
{
    json_t *tables = mh_it_sql(e->db.admin_url,
                               "SELECT format('SELECT count(*) AS n FROM %I.%I x WHERE strpos(x::"
                               "text, $1) > 0 OR strpos(lower(x::text), $2) > 0 OR strpos(x::"
                               "text, $3) > 0', n.nspname, c.relname) AS q, c.relname AS t FROM "
                               "pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
                               "n.nspname = 'public' AND c.relkind = 'r'",
                               0, NULL, NULL);
    MH_T_ASSERT(tables != NULL && json_array_size(tables) > 10);
    const char *params[] = {secret_value, secret_hex, secret_b64};
    size_t i;
    json_t *t;
    json_array_foreach(tables, i, t)
    {
        json_t *rows =
            mh_it_sql(e->db.admin_url, json_string_value(json_object_get(t, "q")), 3, params, NULL);
        MH_T_ASSERT(rows != NULL);
        if (json_integer_value(json_object_get(json_array_get(rows, 0), "n")) != 0)
            mh_t_fail(__FILE__, __LINE__, "the secret value leaked into table %s",
                      json_string_value(json_object_get(t, "t")));
        json_decref(rows);
    }
    json_decref(tables);
}

MH_TEST(secret_sent_and_echoed_back_is_stored_nowhere)
{
    /* A value of URL-safe characters, so the query carries it verbatim and the echo can reflect
     * it byte for byte. */
    uint8_t raw[12];
    char hex[25];
    MH_T_ASSERT_EQ(mh_crypto_random(raw, sizeof(raw)), MH_OK);
    mh_crypto_hex_encode(raw, sizeof(raw), hex);
    snprintf(secret_value, sizeof(secret_value), "tok_%s", hex);
    mh_crypto_hex_encode(secret_value, strlen(secret_value), secret_hex);
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, secret_value, strlen(secret_value), secret_b64);
    /* Base64 of a 28-byte value ends in padding; search the unpadded, aligned prefix. */
    secret_b64[36] = '\0';

    struct env e;
    struct mh_mock *m = mh_mock_start(echo, NULL);
    mh_it_db_create(&e.db, true);
    /* The KEK file: "leak-1:<hex>", mode 0600. */
    uint8_t key[32];
    char khex[65], ktext[96];
    MH_T_ASSERT_EQ(mh_crypto_random(key, sizeof(key)), MH_OK);
    mh_crypto_hex_encode(key, sizeof(key), khex);
    snprintf(e.kek_path, sizeof(e.kek_path), "/tmp/mh-it-leak-kek-XXXXXX");
    int fd = mkstemp(e.kek_path);
    MH_T_ASSERT(fd >= 0);
    int kn = snprintf(ktext, sizeof(ktext), "leak-1:%s", khex);
    MH_T_ASSERT(write(fd, ktext, (size_t)kn) == kn);
    close(fd);
    const char *args[] = {"--kek-file", e.kek_path, "--log-level", "debug", NULL};
    mh_it_server_start(&e.s, &e.db, args);
    mh_it_user_token(&e.db, &e.s, "owner@example.com", e.bearer, e.user);
    mh_it_project(&e.s, e.bearer, "leak", e.project);

    char path[320], body[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/secrets", e.project);
    snprintf(body, sizeof(body), "{\"name\": \"API_TOKEN\", \"value\": \"%s\"}", secret_value);
    /* The creation request carries the value; its response must not. */
    json_decref(api(&e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);

    char url[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/echo?k={{secrets.API_TOKEN}}", mh_mock_port(m));
    json_t *def = json_pack(
        "{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:{s:s}, s:s, s:{s:i, s:i, s:i}}}], s:[]}",
        "nodes", "id", "call", "type", "http_call", "config", "url", url, "method", "POST",
        "headers", "Authorization", "Bearer {{secrets.API_TOKEN}}", "X-Api-Key",
        "{{ secrets.API_TOKEN }}", "query", "q", "{{secrets.API_TOKEN}}", "body",
        "token={{secrets.API_TOKEN}}&n=1", "retry", "max_attempts", 2, "base_delay_ms", 10,
        "max_delay_ms", 20, "edges");
    char wf[40], run[40];
    workflow(&e, def, wf);
    json_decref(def);
    run_to_end(&e, wf, run);

    /* The secret was really sent, in every place the workflow put it, on both attempts. */
    char *t = mh_mock_transcript(m);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/echo"), 2);
    char want[192];
    snprintf(want, sizeof(want), "authorization: Bearer %s", secret_value);
    MH_T_ASSERT(strcasestr(t, want) != NULL);
    snprintf(want, sizeof(want), "token=%s&n=1", secret_value);
    MH_T_ASSERT(strstr(t, want) != NULL);
    snprintf(want, sizeof(want), "?k=%s&q=%s", secret_value, secret_value);
    MH_T_ASSERT(strstr(t, want) != NULL);
    free(t);

    /* A run naming a secret the project lacks fails with a clear event. */
    json_t *def2 =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:i}}}], s:[]}", "nodes", "id", "call",
                  "type", "http_call", "config", "url", url, "method", "GET", "headers", "X-Key",
                  "{{secrets.NOT_DEFINED}}", "retry", "max_attempts", 1, "edges");
    char wf2[40], run2[40];
    workflow(&e, def2, wf2);
    json_decref(def2);
    run_to_end(&e, wf2, run2);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/echo"), 2);

    /* The API shows the failures with the placeholder and the replacement, never the value. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e.project, run);
    json_t *ev = api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char *dump = json_dumps(ev, JSON_COMPACT);
    MH_T_ASSERT(strstr(dump, "{{secrets.API_TOKEN}}") != NULL);
    MH_T_ASSERT(strstr(dump, "[secret:API_TOKEN]") != NULL);
    free(dump);
    json_decref(ev);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e.project, run2);
    ev = api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    dump = json_dumps(ev, JSON_COMPACT);
    MH_T_ASSERT(strstr(dump, "NOT_DEFINED") != NULL);
    MH_T_ASSERT(strstr(dump, "not defined") != NULL);
    free(dump);
    json_decref(ev);
    char reads[7][64];
    snprintf(reads[0], sizeof(reads[0]), "/runs/%s", run);
    snprintf(reads[1], sizeof(reads[1]), "/runs/%s", run2);
    snprintf(reads[2], sizeof(reads[2]), "/runs?limit=50");
    snprintf(reads[3], sizeof(reads[3]), "/dead-letters");
    snprintf(reads[4], sizeof(reads[4]), "/secrets");
    snprintf(reads[5], sizeof(reads[5]), "/secrets/API_TOKEN");
    snprintf(reads[6], sizeof(reads[6]), "/audit?limit=200");
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        snprintf(path, sizeof(path), "/api/projects/%.40s%.63s", e.project, reads[i]);
        json_decref(api(&e, "GET", path, NULL, &st));
        MH_T_ASSERT_EQ(st, 200);
    }
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e.project, run);
    json_decref(api(&e, "POST", path, NULL, &st));

    /* Each attempt's decryption was audited for the run, once: two attempts, two entries (the
     * batch that decides an attempt resolves its secrets, and no other batch again). */
    char actor[64];
    snprintf(actor, sizeof(actor), "run:%s", run);
    const char *ap[] = {actor};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = "
                             "'secret.decrypt' AND target = 'API_TOKEN' AND actor = $1",
                             1, ap, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 2);
    json_decref(rows);

    assert_database_clean(&e);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    char *log = mh_it_server_log(&e.s);
    assert_clean(log, strlen(log), "the server's stdout/stderr");
    free(log);
    /* The CLI's replay prints events too. */
    char *out = NULL;
    const char *replay[] = {"replay", run, NULL};
    (void)mh_it_run(&e.db, replay, &out);
    assert_clean(out, strlen(out), "meshhook replay's output");
    free(out);
    mh_mock_stop(m);
    unlink(e.kek_path);
}

/* Issue 18, defects 3 and 4: the echo target records each request and answers 200. */
static void ok_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    (void)req;
    rep->status = 200;
}

/* Starts a run of `wf` with `payload` and waits until it ends; returns its status (static). */
static const char *run_payload(struct env *e, const char *wf, const char *payload, char *run_id)
{
    static char status[32];
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e->project, wf);
    snprintf(body, sizeof(body), "{\"payload\": %s}", payload);
    long st;
    json_t *r = api(e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 202);
    snprintf(run_id, 40, "%s", json_string_value(json_object_get(r, "run_id")));
    json_decref(r);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run_id);
    for (int i = 0; i < 600; i++) {
        r = api(e, "GET", path, NULL, &st);
        MH_T_ASSERT_EQ(st, 200);
        snprintf(status, sizeof(status), "%s", json_string_value(json_object_get(r, "status")));
        json_decref(r);
        if (strcmp(status, "failed") == 0 || strcmp(status, "succeeded") == 0)
            return status;
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run_id);
}

/* A database, a server with a fresh KEK, an owner, a project, and one secret `name`. */
static void start_with_secret(struct env *e, const char *name, const char *value)
{
    mh_it_db_create(&e->db, true);
    uint8_t key[32];
    char khex[65], ktext[96];
    MH_T_ASSERT_EQ(mh_crypto_random(key, sizeof(key)), MH_OK);
    mh_crypto_hex_encode(key, sizeof(key), khex);
    snprintf(e->kek_path, sizeof(e->kek_path), "/tmp/mh-it-leak-kek-XXXXXX");
    int fd = mkstemp(e->kek_path);
    MH_T_ASSERT(fd >= 0);
    int kn = snprintf(ktext, sizeof(ktext), "leak-2:%s", khex);
    MH_T_ASSERT(write(fd, ktext, (size_t)kn) == kn);
    close(fd);
    const char *args[] = {"--kek-file", e->kek_path, NULL};
    mh_it_server_start(&e->s, &e->db, args);
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->bearer, e->user);
    mh_it_project(&e->s, e->bearer, "tmpl", e->project);
    char path[320], body[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/secrets", e->project);
    snprintf(body, sizeof(body), "{\"name\": \"%s\", \"value\": \"%s\"}", name, value);
    json_decref(api(e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
}

MH_TEST(data_never_becomes_a_placeholder_and_url_values_are_encoded)
{
    snprintf(secret_value, sizeof(secret_value), "tok_adjacent_%08x", (unsigned)getpid());
    mh_crypto_hex_encode(secret_value, strlen(secret_value), secret_hex);
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, secret_value, strlen(secret_value), secret_b64);
    secret_b64[24] = '\0';

    struct env e;
    struct mh_mock *m = mh_mock_start(ok_target, NULL);
    start_with_secret(&e, "TOKEN", secret_value);
    char path[320];
    long st;

    /* Two values that are harmless alone but spell a placeholder side by side, a path value
     * that climbs out of /orders, and query values that try to add parameters. */
    char url[192];
    snprintf(url, sizeof(url),
             "http://127.0.0.1:%d/orders/{{trigger.body.id}}?src={{trigger.body.src}}",
             mh_mock_port(m));
    json_t *def = json_pack(
        "{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s}, s:s, s:{s:i}}}], s:[]}", "nodes", "id",
        "call", "type", "http_call", "config", "url", url, "method", "POST", "headers",
        "Authorization", "Bearer {{secrets.TOKEN}}", "query", "q", "{{trigger.body.q}}", "body",
        "{{trigger.body.a}} {{trigger.body.b}}", "retry", "max_attempts", 1, "edges");
    char wf[40], run[40];
    workflow(&e, def, wf);
    json_decref(def);
    const char *status =
        run_payload(&e, wf,
                    "{\"a\": \"{{\", \"b\": \"secrets.TOKEN}}\", \"id\": \"../admin?x=\", "
                    "\"src\": \"web&admin=1\", \"q\": \"a&b=c\"}",
                    run);
    MH_T_ASSERT_STR_EQ(status, "succeeded");
    char *t = mh_mock_transcript(m);
    /* The secret went where the workflow put it, and only there. */
    char want[192];
    snprintf(want, sizeof(want), "authorization: Bearer %s\r\n", secret_value);
    MH_T_ASSERT(strcasestr(t, want) != NULL);
    MH_T_ASSERT(strstr(t, "\r\n\r\n{{ secrets.TOKEN}}\n\n") != NULL);
    MH_T_ASSERT(strstr(strstr(t, "\r\n\r\n"), secret_value) == NULL);
    /* The path and query values arrived percent-encoded, as one segment and one value each. */
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/admin"), 0);
    MH_T_ASSERT(strstr(t, "POST /orders/..%2Fadmin%3Fx%3D?src=web%26admin%3D1&q=a%26b%3Dc "
                          "HTTP/1.1\r\n") != NULL);
    free(t);
    /* Replay, through the API and the CLI, rebuilds exactly the request that was recorded. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e.project, run);
    json_t *rep = api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
    const char *replay[] = {"replay", run, NULL};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e.db, replay, &out), 0);
    assert_clean(out, strlen(out), "meshhook replay's output");
    free(out);

    /* A header value from the data cannot start a new header line. */
    json_t *def2 =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:i}}}], s:[]}", "nodes", "id", "call",
                  "type", "http_call", "config", "url", url, "method", "GET", "headers", "X-Note",
                  "{{trigger.body.note}}", "retry", "max_attempts", 1, "edges");
    char wf2[40], run2[40];
    workflow(&e, def2, wf2);
    json_decref(def2);
    int before = mh_mock_hits(m, NULL);
    status =
        run_payload(&e, wf2, "{\"note\": \"x\\r\\nX-Injected: 1\", \"id\": 1, \"src\": 2}", run2);
    MH_T_ASSERT_STR_EQ(status, "failed");
    MH_T_ASSERT_EQ(mh_mock_hits(m, NULL), before);

    /* The raw form lets a value carry '/' into the path, never into the host. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/files/{{raw trigger.body.path}}",
             mh_mock_port(m));
    json_t *def3 = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:i}}}], s:[]}", "nodes", "id", "call",
                             "type", "http_call", "config", "url", url, "method", "GET", "retry",
                             "max_attempts", 1, "edges");
    char wf3[40], run3[40];
    workflow(&e, def3, wf3);
    json_decref(def3);
    status = run_payload(&e, wf3, "{\"path\": \"/@evil.example/a b.txt\"}", run3);
    MH_T_ASSERT_STR_EQ(status, "succeeded");
    t = mh_mock_transcript(m);
    MH_T_ASSERT(strstr(t, "GET /files//@evil.example/a%20b.txt HTTP/1.1\r\n") != NULL);
    free(t);

    /* A url whose host would come from the data is refused when the workflow is saved. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    json_t *bad = api(&e, "POST", path,
                      "{\"name\": \"bad\", \"definition\": {\"nodes\": [{\"id\": \"call\", "
                      "\"type\": \"http_call\", \"config\": {\"url\": "
                      "\"https://{{trigger.body.host}}/x\"}}], \"edges\": []}}",
                      &st);
    char *dump = json_dumps(bad, JSON_COMPACT);
    json_decref(bad);
    if (st == 201) {
        /* Drafts may be saved invalid; publishing must refuse. */
        json_t *w = json_loads(dump, 0, NULL);
        snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project,
                 json_string_value(json_object_get(w, "id")));
        json_decref(w);
        free(dump);
        bad = api(&e, "POST", path, NULL, &st);
        dump = json_dumps(bad, JSON_COMPACT);
        json_decref(bad);
    }
    MH_T_ASSERT(st == 400 || st == 422);
    MH_T_ASSERT(strstr(dump, "/nodes/0/config/url") != NULL);
    MH_T_ASSERT(strstr(dump, "host") != NULL);
    free(dump);

    assert_database_clean(&e);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    char *log = mh_it_server_log(&e.s);
    assert_clean(log, strlen(log), "the server's stdout/stderr");
    free(log);
    mh_mock_stop(m);
    unlink(e.kek_path);
}

/* The value of header `name` in the mock's transcript `t`, copied into `out`. */
static void transcript_header(const char *t, const char *name, char *out, size_t cap)
{
    char want[64];
    snprintf(want, sizeof(want), "\r\n%s: ", name);
    const char *p = strcasestr(t, want);
    MH_T_ASSERT(p != NULL);
    p += strlen(want);
    size_t n = strcspn(p, "\r");
    MH_T_ASSERT(n < cap);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* A secret named only by `sign` (in no template) is decrypted for the call, and the request
 * carries a Standard Webhooks signature that verifies under it. */
MH_TEST(a_secret_used_only_to_sign_signs_the_request)
{
    char *whsec = NULL;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_generate(&whsec), MH_OK);
    snprintf(secret_value, sizeof(secret_value), "%s", whsec);
    mh_crypto_hex_encode(secret_value, strlen(secret_value), secret_hex);
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, secret_value, strlen(secret_value), secret_b64);
    secret_b64[24] = '\0';
    struct env e;
    struct mh_mock *m = mh_mock_start(ok_target, NULL);
    start_with_secret(&e, "HOOK_KEY", whsec);
    char url[192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/signed", mh_mock_port(m));
    json_t *def = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s}, s:{s:i}}}], s:[]}", "nodes",
                            "id", "call", "type", "http_call", "config", "url", url, "method",
                            "POST", "body", "{{trigger.body.text}}", "sign", "secret", "HOOK_KEY",
                            "retry", "max_attempts", 1, "edges");
    char wf[40], run[40];
    workflow(&e, def, wf);
    json_decref(def);
    MH_T_ASSERT_STR_EQ(run_payload(&e, wf, "{\"text\": \"hello\"}", run), "succeeded");
    char *t = mh_mock_transcript(m);
    char id[128], ts[32], sig[256];
    transcript_header(t, "webhook-id", id, sizeof(id));
    transcript_header(t, "webhook-timestamp", ts, sizeof(ts));
    transcript_header(t, "webhook-signature", sig, sizeof(sig));
    MH_T_ASSERT(strstr(t, "\r\n\r\nhello\n\n") != NULL);
    free(t);
    uint8_t key[64];
    size_t klen = 0;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(whsec, key, sizeof(key), &klen), MH_OK);
    struct mh_crypto_sig_key k = {key, klen};
    struct mh_crypto_sig_result res;
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&k, 1, "hello", 5, id, ts, sig, strtoll(ts, NULL, 10),
                                              300, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_sig_status_str(res.status), "ok");
    mh_crypto_free_secret_str(whsec);
    assert_database_clean(&e);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
    unlink(e.kek_path);
}
