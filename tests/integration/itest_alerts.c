/* SPDX-License-Identifier: MIT */
/*
 * Failure alerts end to end (docs/observability.md, "Alerts"): the real server, a real
 * PostgreSQL, and a receiver on 127.0.0.1 that checks every delivery's Standard Webhooks
 * signature with its own HMAC-SHA256 (OpenSSL called here directly, not MeshHook's code). Rules
 * fire once per window with a count and resolve; a 500 from the receiver is retried; a SIGKILL
 * between firing and delivery delays the alert and loses nothing; a test alert arrives; an
 * error-workflow channel starts its workflow; bad input is a 422 naming the field, with nothing
 * stored.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "mock_http.h"

#define MAX_SEEN 64

/* What the receiver saw: each request's verdict and parts. */
struct seen {
    bool is_valid;
    char id[80];
    char type[32];
    json_t *body;
};

struct receiver {
    pthread_mutex_t mu;
    char secret[128]; /* "whsec_..." */
    int fail_first;   /* answer 500 to this many requests first */
    int n;
    struct seen seen[MAX_SEEN];
    struct mh_mock *mock;
};

/* The value of header `name` in a raw header block, copied into `out`. */
static bool header_value(const char *block, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = block; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= cap)
                return false;
            memcpy(out, v, len);
            out[len] = '\0';
            return true;
        }
    }
    return false;
}

/* The receiver's own verification: HMAC-SHA256 over "id.timestamp.body" with the base64-decoded
 * secret, compared with every "v1,<base64>" of the signature header. */
static bool verify(const char *secret, const char *id, const char *ts, const char *sigs,
                   const char *body, size_t body_len)
{
    const char *b64 = strncmp(secret, "whsec_", 6) == 0 ? secret + 6 : secret;
    unsigned char key[128];
    int klen = EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64));
    if (klen <= 0)
        return false;
    for (const char *p = b64 + strlen(b64); p > b64 && p[-1] == '='; p--)
        klen--;
    size_t mlen = strlen(id) + strlen(ts) + body_len + 2;
    char *msg = malloc(mlen + 1);
    int off = snprintf(msg, mlen + 1, "%s.%s.", id, ts);
    memcpy(msg + off, body, body_len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), key, klen, (const unsigned char *)msg, mlen, mac, &maclen);
    free(msg);
    char expect[128];
    EVP_EncodeBlock((unsigned char *)expect, mac, (int)maclen);
    bool ok = false;
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", sigs);
    char *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        if (strncmp(t, "v1,", 3) == 0 && strcmp(t + 3, expect) == 0)
            ok = true;
    /* A fresh timestamp, as receivers check to refuse replays. */
    long long age = (long long)time(NULL) - strtoll(ts, NULL, 10);
    return ok && age > -300 && age < 300;
}

static void on_request(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    struct receiver *r = ctx;
    char id[80] = "", ts[32] = "", sig[1024] = "";
    bool has = header_value(req->headers, "webhook-id", id, sizeof(id)) &&
               header_value(req->headers, "webhook-timestamp", ts, sizeof(ts)) &&
               header_value(req->headers, "webhook-signature", sig, sizeof(sig));
    pthread_mutex_lock(&r->mu);
    bool ok = has && verify(r->secret, id, ts, sig, req->body, req->body_len);
    if (r->n < MAX_SEEN) {
        struct seen *s = &r->seen[r->n++];
        s->is_valid = ok;
        snprintf(s->id, sizeof(s->id), "%s", id);
        s->body = json_loadb(req->body, req->body_len, 0, NULL);
        snprintf(s->type, sizeof(s->type), "%s",
                 json_string_value(json_object_get(s->body, "type"))
                     ? json_string_value(json_object_get(s->body, "type"))
                     : "");
    }
    rep->status = r->fail_first > 0 ? 500 : ok ? 204 : 401;
    if (r->fail_first > 0)
        r->fail_first--;
    pthread_mutex_unlock(&r->mu);
}

static void receiver_start(struct receiver *r)
{
    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->mu, NULL);
    r->mock = mh_mock_start(on_request, r);
}

static void receiver_stop(struct receiver *r)
{
    mh_mock_stop(r->mock);
    for (int i = 0; i < r->n; i++)
        json_decref(r->seen[i].body);
    pthread_mutex_destroy(&r->mu);
}

/* Requests seen of `type` ("" for any). */
static int seen_count(struct receiver *r, const char *type)
{
    pthread_mutex_lock(&r->mu);
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (type[0] == '\0' || strcmp(r->seen[i].type, type) == 0)
            n++;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int wait_seen(struct receiver *r, const char *type, int n, int timeout_ms)
{
    int got = 0;
    for (int t = 0; t < timeout_ms && (got = seen_count(r, type)) < n; t += 50)
        mh_it_sleep_ms(50);
    return got;
}

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
    char kek_path[256];
    char bearer[128];
    char user[40];
    char project[40];
    const char *args[16];
    const char *extra[5]; /* more arguments for the server, NULL-terminated */
};

static void make_kek_file(char *path, size_t cap)
{
    unsigned char key[32];
    char text[160];
    FILE *f = fopen("/dev/urandom", "rb");
    MH_T_ASSERT(f && fread(key, 1, sizeof(key), f) == sizeof(key));
    fclose(f);
    const char *dir = getenv("MH_IT_TMP");
    snprintf(path, cap, "%s/mh-it-kek-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    int n = snprintf(text, sizeof(text), "k1:");
    for (size_t i = 0; i < sizeof(key); i++)
        n += snprintf(text + n, sizeof(text) - (size_t)n, "%02x", key[i]);
    n += snprintf(text + n, sizeof(text) - (size_t)n, "\n");
    MH_T_ASSERT(write(fd, text, (size_t)n) == n);
    close(fd);
    MH_T_ASSERT(chmod(path, 0600) == 0);
}

/* Starts the server; the first start of a world makes its key-encryption key. */
static void start(struct world *w, const char *workers)
{
    if (w->kek_path[0] == '\0')
        make_kek_file(w->kek_path, sizeof(w->kek_path));
    const char *args[] = {"--kek-file",
                          w->kek_path,
                          "--alert-eval-interval-ms",
                          "200",
                          "--poll-interval-ms",
                          "200",
                          "--workers",
                          workers,
                          NULL};
    memcpy(w->args, args, sizeof(args));
    size_t n = sizeof(args) / sizeof(args[0]) - 1;
    for (size_t i = 0; w->extra[i] && n + 1 < sizeof(w->args) / sizeof(w->args[0]); i++)
        w->args[n++] = w->extra[i];
    w->args[n] = NULL;
    mh_it_server_start(&w->s, &w->db, w->args);
}

static void world_start_with(struct world *w, const char *const *extra)
{
    memset(w, 0, sizeof(*w));
    for (size_t i = 0; extra && extra[i] && i + 1 < sizeof(w->extra) / sizeof(w->extra[0]); i++)
        w->extra[i] = extra[i];
    mh_it_db_create(&w->db, true);
    start(w, "2");
    mh_it_user_token(&w->db, &w->s, "alerts@example.com", w->bearer, w->user);
    mh_it_project(&w->s, w->bearer, "alerts", w->project);
}

static void world_start(struct world *w)
{
    world_start_with(w, NULL);
}

static json_t *api(struct world *w, const char *method, const char *sub, const char *body,
                   long *status)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/projects/%s%s", w->project, sub);
    return mh_it_api(&w->s, w->bearer, method, path, body, status);
}

/* Creates and publishes a workflow; `id` receives its id. */
static void workflow(struct world *w, const char *name, const char *definition, char *id)
{
    char body[2048];
    snprintf(body, sizeof(body), "{\"name\": \"%s\", \"definition\": %s}", name, definition);
    long st = 0;
    json_t *r = api(w, "POST", "/workflows", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    char sub[128];
    snprintf(sub, sizeof(sub), "/workflows/%s/publish", id);
    r = api(w, "POST", sub, NULL, &st);
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(r);
}

static const char *const failing_def =
    "{\"nodes\": [{\"id\": \"end\", \"type\": \"terminate\", \"config\": {\"status\": "
    "\"failed\"}}], \"edges\": []}";

/* Starts `n` runs of workflow `wid` and waits until they have failed. */
static void fail_runs(struct world *w, const char *wid, int n)
{
    char sub[128];
    snprintf(sub, sizeof(sub), "/workflows/%s/runs", wid);
    const char *bp[] = {wid};
    json_t *before = mh_it_sql(w->db.admin_url,
                               "SELECT count(*) AS n FROM runs WHERE workflow_id = $1 AND "
                               "status = 'failed'",
                               1, bp, NULL);
    long long expect = n + json_integer_value(json_object_get(json_array_get(before, 0), "n"));
    json_decref(before);
    for (int i = 0; i < n; i++) {
        long st = 0;
        json_decref(api(w, "POST", sub, "{\"payload\": {}}", &st));
        MH_T_ASSERT_EQ(st, 202);
    }
    const char *params[] = {wid};
    long long failed = 0;
    for (int t = 0; t < 200 && failed < expect; t++) {
        json_t *rows = mh_it_sql(w->db.admin_url,
                                 "SELECT count(*) AS n FROM runs WHERE workflow_id = $1 AND "
                                 "status = 'failed'",
                                 1, params, NULL);
        failed = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
        json_decref(rows);
        if (failed < expect)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(failed, expect);
}

/* A webhook channel to the receiver; its secret goes to the receiver. `id` gets its id. */
static void webhook_channel(struct world *w, struct receiver *r, char *id)
{
    char body[256];
    snprintf(body, sizeof(body),
             "{\"name\": \"on-call\", \"type\": \"webhook\", \"url\": "
             "\"http://127.0.0.1:%d/alerts\"}",
             mh_mock_port(r->mock));
    long st = 0;
    json_t *c = api(w, "POST", "/alerts/channels", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    const char *secret = json_string_value(json_object_get(c, "secret"));
    MH_T_ASSERT(secret && strncmp(secret, "whsec_", 6) == 0);
    pthread_mutex_lock(&r->mu);
    snprintf(r->secret, sizeof(r->secret), "%s", secret);
    pthread_mutex_unlock(&r->mu);
    snprintf(id, 40, "%s", json_string_value(json_object_get(c, "id")));
    json_decref(c);
    /* Shown once: never again. */
    json_t *list = api(w, "GET", "/alerts/channels", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char *text = json_dumps(list, 0);
    MH_T_ASSERT(strstr(text, "whsec_") == NULL);
    free(text);
    json_decref(list);
}

static long long scalar(struct world *w, const char *sql, const char *param)
{
    const char *params[] = {param};
    json_t *rows = mh_it_sql(w->db.admin_url, sql, param ? 1 : 0, params, NULL);
    MH_T_ASSERT(rows != NULL);
    long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

MH_TEST(bad_input_is_a_422_with_the_path_and_nothing_is_stored)
{
    struct world w;
    world_start(&w);
    struct {
        const char *sub, *body, *path;
    } cases[] = {
        {"/alerts/rules", "{\"name\": \"x\", \"kind\": \"cpu_high\", \"window_s\": 60}", "/kind"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"failure_count\", \"window_s\": -5, "
         "\"threshold\": 3}",
         "/window_s"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"failure_count\", \"window_s\": 0, "
         "\"threshold\": 3}",
         "/window_s"},
        {"/alerts/rules", "{\"name\": \"x\", \"kind\": \"failure_count\", \"threshold\": 3}",
         "/window_s"},
        {"/alerts/rules", "{\"name\": \"x\", \"kind\": \"failure_count\", \"window_s\": 60}",
         "/threshold"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"failure_rate\", \"window_s\": 60, "
         "\"threshold\": 150}",
         "/threshold"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"refusals\", \"window_s\": 60, "
         "\"threshold\": 2.5}",
         "/threshold"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"run_failed\", \"window_s\": 60, "
         "\"workflow_ids\": [\"00000000-0000-4000-8000-000000000000\"]}",
         "/workflow_ids/0"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"run_failed\", \"window_s\": 60, "
         "\"channel_ids\": [\"nope\"]}",
         "/channel_ids/0"},
        {"/alerts/rules",
         "{\"name\": \"x\", \"kind\": \"run_failed\", \"window_s\": 60, "
         "\"colour\": \"red\"}",
         "/colour"},
        {"/alerts/channels",
         "{\"name\": \"x\", \"type\": \"webhook\", \"url\": "
         "\"ftp://example.com/hook\"}",
         "/url"},
        {"/alerts/channels",
         "{\"name\": \"x\", \"type\": \"webhook\", \"url\": "
         "\"javascript:alert(1)\"}",
         "/url"},
        {"/alerts/channels", "{\"name\": \"x\", \"type\": \"webhook\", \"url\": \"https://\"}",
         "/url"},
        {"/alerts/channels", "{\"name\": \"x\", \"type\": \"webhook\"}", "/url"},
        {"/alerts/channels", "{\"name\": \"x\", \"type\": \"pager\"}", "/type"},
        {"/alerts/channels",
         "{\"name\": \"x\", \"type\": \"workflow\", \"workflow_id\": "
         "\"00000000-0000-4000-8000-000000000000\"}",
         "/workflow_id"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long st = 0;
        json_t *r = api(&w, "POST", cases[i].sub, cases[i].body, &st);
        json_t *err = json_object_get(r, "error");
        if (st != 422 || !json_string_value(json_object_get(err, "path")) ||
            strcmp(json_string_value(json_object_get(err, "path")), cases[i].path) != 0)
            mh_t_fail(__FILE__, __LINE__, "case %zu (%s): status %ld, path %s", i, cases[i].body,
                      st, json_string_value(json_object_get(err, "path")));
        MH_T_ASSERT(json_string_value(json_object_get(err, "message")) != NULL);
        json_decref(r);
    }
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alert_rules", NULL), 0);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alert_channels", NULL), 0);
    /* A PATCH that breaks a stored rule is refused the same way and changes nothing. */
    long st = 0;
    json_t *r = api(&w, "POST", "/alerts/rules",
                    "{\"name\": \"ok\", \"kind\": \"failure_count\", \"window_s\": 60, "
                    "\"threshold\": 3}",
                    &st);
    MH_T_ASSERT_EQ(st, 201);
    char sub[128];
    snprintf(sub, sizeof(sub), "/alerts/rules/%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    r = api(&w, "PATCH", sub, "{\"window_s\": -1}", &st);
    MH_T_ASSERT_EQ(st, 422);
    json_decref(r);
    r = api(&w, "PATCH", sub, "{\"threshold\": 5}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "window_s")), 60);
    MH_T_ASSERT(json_number_value(json_object_get(r, "threshold")) == 5);
    json_decref(r);
    mh_it_server_stop(&w.s, SIGTERM);
}

MH_TEST(a_rule_fires_once_per_window_with_a_count_and_resolves)
{
    struct world w;
    world_start(&w);
    struct receiver rc;
    receiver_start(&rc);
    char ch[40], wf[40], body[512];
    webhook_channel(&w, &rc, ch);
    workflow(&w, "fails", failing_def, wf);
    fail_runs(&w, wf, 3);
    /* Three failures, threshold two: one notification, not three. */
    snprintf(body, sizeof(body),
             "{\"name\": \"too many failures\", \"kind\": \"failure_count\", \"window_s\": 4, "
             "\"threshold\": 2, \"channel_ids\": [\"%s\"]}",
             ch);
    long st = 0;
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 1, 10000), 1);
    mh_it_sleep_ms(1500); /* several evaluations while the condition holds */
    MH_T_ASSERT_EQ(seen_count(&rc, "alert.firing"), 1);
    pthread_mutex_lock(&rc.mu);
    struct seen *f = &rc.seen[0];
    MH_T_ASSERT(f->is_valid);
    json_t *data = json_object_get(f->body, "data");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "kind")), "failure_count");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "state")), "firing");
    MH_T_ASSERT(json_number_value(json_object_get(data, "value")) == 3);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(data, "count")), 1);
    pthread_mutex_unlock(&rc.mu);
    /* The failures age out of the window: resolved, once. */
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.resolved", 1, 15000), 1);
    mh_it_sleep_ms(800);
    MH_T_ASSERT_EQ(seen_count(&rc, "alert.resolved"), 1);
    MH_T_ASSERT_EQ(seen_count(&rc, "alert.firing"), 1);
    pthread_mutex_lock(&rc.mu);
    for (int i = 0; i < rc.n; i++)
        MH_T_ASSERT(rc.seen[i].is_valid);
    pthread_mutex_unlock(&rc.mu);
    /* The history holds one alert, resolved, with both deliveries delivered. */
    json_t *h = api(&w, "GET", "/alerts/history", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *items = json_object_get(h, "items");
    MH_T_ASSERT_EQ(json_array_size(items), 1);
    json_t *a = json_array_get(items, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a, "state")), "resolved");
    json_t *ds = json_object_get(a, "deliveries");
    MH_T_ASSERT_EQ(json_array_size(ds), 2);
    for (size_t i = 0; i < 2; i++)
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(ds, i), "status")),
                           "delivered");
    json_decref(h);

    /* Failures again: a new alert. */
    fail_runs(&w, wf, 5);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 2, 10000), 2);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

MH_TEST(other_kinds_fire_dead_letter_rate_and_queue_age)
{
    struct world w;
    world_start(&w);
    struct receiver rc;
    receiver_start(&rc);
    char ch[40], wf[40], body[512];
    webhook_channel(&w, &rc, ch);
    workflow(&w, "fails", failing_def, wf);
    fail_runs(&w, wf, 2);
    long st = 0;
    /* 100 % of the finished runs failed: above 50 %. */
    snprintf(body, sizeof(body),
             "{\"name\": \"rate\", \"kind\": \"failure_rate\", \"window_s\": 600, \"threshold\": "
             "50, \"workflow_ids\": [\"%s\"], \"channel_ids\": [\"%s\"]}",
             wf, ch);
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 1, 10000), 1);
    /* A dead letter, and a job overdue by ten minutes. */
    const char *pp[] = {w.project};
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO dead_letters (project_id, kind, payload, attempts) VALUES "
                          "($1, 'step', '{}', 3)",
                          1, pp, NULL));
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO jobs (project_id, kind, run_at, lease_owner, lease_until) "
                          "VALUES ($1, 'advance', now() - interval '10 minutes', 'elsewhere', "
                          "now() - interval '1 second')",
                          1, pp, NULL));
    snprintf(body, sizeof(body),
             "{\"name\": \"dl\", \"kind\": \"dead_letter\", \"window_s\": 600, \"channel_ids\": "
             "[\"%s\"]}",
             ch);
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 2, 10000), 2);
    snprintf(body, sizeof(body),
             "{\"name\": \"stuck\", \"kind\": \"queue_age\", \"window_s\": 600, \"threshold\": "
             "300, \"channel_ids\": [\"%s\"]}",
             ch);
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 3, 10000), 3);
    pthread_mutex_lock(&rc.mu);
    const char *kinds[3] = {"failure_rate", "dead_letter", "queue_age"};
    for (int i = 0; i < 3; i++) {
        MH_T_ASSERT(rc.seen[i].is_valid);
        json_t *data = json_object_get(rc.seen[i].body, "data");
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "kind")), kinds[i]);
    }
    double age =
        json_number_value(json_object_get(json_object_get(rc.seen[2].body, "data"), "value"));
    MH_T_ASSERT(age >= 599 && age < 700);
    pthread_mutex_unlock(&rc.mu);
    /* The stuck job is gone: queue_age resolves. */
    json_decref(mh_it_sql(w.db.admin_url,
                          "DELETE FROM jobs WHERE kind = 'advance' AND run_id IS NULL", 0, NULL,
                          NULL));
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.resolved", 1, 10000), 1);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

/* Evaluates rule `rule`'s measurement in a connection of its own, so that the backend's
 * statistics of the transaction hold that statement alone: its value, and the rows of `runs`
 * it read (heap tuples fetched or scanned, index entries returned). */
static double rule_value(struct world *w, const char *rule, long *rows_read)
{
    const char *p[] = {rule};
    json_t *r = mh_it_sql(w->db.admin_url,
                          "SELECT mh_alert_rule_value(a)::float8 AS v, " MH_IT_RUNS_ROWS_READ_SQL
                          " AS reads FROM alert_rules a WHERE a.id = $1::uuid",
                          1, p, NULL);
    MH_T_ASSERT(r != NULL && json_array_size(r) == 1);
    *rows_read = (long)json_integer_value(json_object_get(json_array_get(r, 0), "reads"));
    double v = json_number_value(json_object_get(json_array_get(r, 0), "v"));
    json_decref(r);
    return v;
}

/* A failure-rate rule reads the window's failed runs, not all its finished ones, while none
 * failed (migration 0046: every round counted every finished run of the window, so a run was
 * read window / interval times, 60 for five minutes at the default interval). Measured by the
 * rows of `runs` the measurement reads, which are in the tens of thousands when it counts the
 * window; and the rate is still exact once some failed. */
MH_TEST(a_failure_rate_reads_the_failures_not_the_window)
{
    struct world w;
    world_start(&w);
    char wf[40];
    workflow(&w, "fails", failing_def, wf);
    const char *pw[] = {w.project, wf};
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO runs (project_id, workflow_id, version_id, status, "
                          "created_at, started_at, finished_at) SELECT $1::uuid, $2::uuid, v.id, "
                          "'succeeded', t, t, t + interval '1 second' FROM (SELECT id FROM "
                          "workflow_versions WHERE workflow_id = $2::uuid LIMIT 1) v, "
                          "generate_series(1, 20000) k, LATERAL (SELECT now() - interval '1 hour' "
                          "+ k * interval '100 milliseconds' AS t) x",
                          2, pw, NULL));
    mh_it_sql_script(w.db.admin_url, "VACUUM ANALYZE runs");
    json_t *rule = mh_it_sql(w.db.admin_url,
                             "INSERT INTO alert_rules (project_id, name, kind, window_s, "
                             "threshold) VALUES ($1::uuid, 'rate', 'failure_rate', 7200, 10) "
                             "RETURNING id::text AS id",
                             1, pw, NULL);
    char id[40];
    snprintf(id, sizeof(id), "%s",
             json_string_value(json_object_get(json_array_get(rule, 0), "id")));
    json_decref(rule);
    long reads = 0;
    double v = rule_value(&w, id, &reads);
    MH_T_ASSERT(v == 0);
    if (reads > 100)
        mh_t_fail(__FILE__, __LINE__,
                  "a failure rate with no failure in its window read %ld rows of runs", reads);
    /* Two failed runs among 20,002: 0.00999... % rounds to 0.01, counted over the whole window. */
    fail_runs(&w, wf, 2);
    v = rule_value(&w, id, &reads);
    MH_T_ASSERT(v > 0.0099 && v < 0.0101);
    MH_T_ASSERT(reads >= 20000);
    mh_it_server_stop(&w.s, SIGTERM);
}

MH_TEST(refusals_above_n_fire)
{
    struct world w;
    world_start(&w);
    struct receiver rc;
    receiver_start(&rc);
    char ch[40], body[512];
    webhook_channel(&w, &rc, ch);
    const char *pp[] = {w.project};
    /* Three refusals the intake logged (401, 422, 429) and one it would not count (413). */
    json_decref(mh_it_sql(
        w.db.admin_url,
        "WITH wf AS (INSERT INTO workflows (project_id, name) VALUES ($1, 'x') RETURNING id), "
        "ep AS (INSERT INTO webhook_endpoints (project_id, workflow_id, public_id, name) SELECT "
        "$1, wf.id, 'pub-alerts-test-000000000001', 'x' FROM wf RETURNING id) "
        "INSERT INTO webhook_deliveries (project_id, endpoint_id, method, status, outcome) "
        "SELECT $1, ep.id, 'POST', s, 'refused' FROM ep, unnest(ARRAY[401, 422, 429, 413]) s",
        1, pp, NULL));
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM webhook_deliveries", NULL), 4);
    snprintf(body, sizeof(body),
             "{\"name\": \"refused\", \"kind\": \"refusals\", \"window_s\": 600, \"threshold\": "
             "4, \"channel_ids\": [\"%s\"]}",
             ch);
    long st = 0;
    json_t *r = api(&w, "POST", "/alerts/rules", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    char sub[128];
    snprintf(sub, sizeof(sub), "/alerts/rules/%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    /* 413 is not a refusal this rule counts: three is below four. */
    mh_it_sleep_ms(1200);
    MH_T_ASSERT_EQ(seen_count(&rc, ""), 0);
    json_decref(api(&w, "PATCH", sub, "{\"threshold\": 3}", &st));
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 1, 10000), 1);
    pthread_mutex_lock(&rc.mu);
    MH_T_ASSERT(rc.seen[0].is_valid);
    MH_T_ASSERT(
        json_number_value(json_object_get(json_object_get(rc.seen[0].body, "data"), "value")) == 3);
    pthread_mutex_unlock(&rc.mu);
    /* Paused while firing: its alert closes in the history, nothing is sent, nothing reopens. */
    json_t *paused = api(&w, "PATCH", sub, "{\"enabled\": false}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(paused, "state")), "ok");
    json_decref(paused);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alerts WHERE state = 'firing'", NULL), 0);
    mh_it_sleep_ms(1000);
    MH_T_ASSERT_EQ(seen_count(&rc, ""), 1);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alerts", NULL), 1);
    json_decref(api(&w, "DELETE", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    json_decref(api(&w, "GET", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 404);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

MH_TEST(a_500_is_retried_and_a_sigkill_before_delivery_loses_nothing)
{
    struct world w;
    world_start(&w);
    struct receiver rc;
    receiver_start(&rc);
    rc.fail_first = 1000000; /* 500 until the server has died */
    char ch[40], wf[40], body[512];
    webhook_channel(&w, &rc, ch);
    workflow(&w, "fails", failing_def, wf);
    snprintf(body, sizeof(body),
             "{\"name\": \"any failure\", \"kind\": \"run_failed\", \"window_s\": 600, "
             "\"channel_ids\": [\"%s\"]}",
             ch);
    long st = 0;
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    fail_runs(&w, wf, 1);
    /* The first attempt gets a 500 and is rescheduled... */
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 1, 10000), 1);
    for (int t = 0; t < 200 && scalar(&w,
                                      "SELECT count(*) AS n FROM alert_deliveries WHERE "
                                      "attempts >= 1 AND last_status = 500",
                                      NULL) != 1;
         t++)
        mh_it_sleep_ms(10);
    /* ...then the server dies before a retry succeeds. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGKILL), 128 + SIGKILL);
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM alert_deliveries WHERE status = 'pending' "
                          "AND attempts >= 1 AND last_status = 500",
                          NULL),
                   1);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM jobs WHERE kind = 'alert'", NULL), 1);
    pthread_mutex_lock(&rc.mu);
    int before = rc.n;
    rc.fail_first = 0;
    pthread_mutex_unlock(&rc.mu);
    mh_it_server_start(&w.s, &w.db, w.args);
    /* A retry cut off by the kill waits out its lease (30 s) before another server sends it. */
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", before + 1, 60000), before + 1);
    pthread_mutex_lock(&rc.mu);
    MH_T_ASSERT(rc.seen[before].is_valid);
    /* The same message every time: a receiver dedupes on webhook-id. */
    for (int i = 1; i <= before; i++)
        MH_T_ASSERT_STR_EQ(rc.seen[0].id, rc.seen[i].id);
    pthread_mutex_unlock(&rc.mu);
    char sub[160];
    snprintf(sub, sizeof(sub), "/alerts/channels/%s/deliveries", ch);
    json_t *log = NULL;
    for (int t = 0; t < 100; t++) {
        json_decref(log);
        log = api(&w, "GET", sub, NULL, &st);
        json_t *d = json_array_get(json_object_get(log, "items"), 0);
        if (d && strcmp(json_string_value(json_object_get(d, "status")), "delivered") == 0)
            break;
        mh_it_sleep_ms(50);
    }
    json_t *d = json_array_get(json_object_get(log, "items"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "status")), "delivered");
    json_t *attempts = json_object_get(d, "attempt_log");
    size_t na = json_array_size(attempts);
    MH_T_ASSERT(na >= 2);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(d, "attempts")), (long long)na);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(attempts, 0), "status")), 500);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(attempts, na - 1), "status")),
                   204);
    json_decref(log);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM jobs WHERE kind = 'alert'", NULL), 0);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

MH_TEST(a_test_alert_arrives_and_survives_a_crash_before_sending)
{
    struct world w;
    memset(&w, 0, sizeof(w));
    mh_it_db_create(&w.db, true);
    /* No workers: the test alert is committed, and nothing sends it. */
    start(&w, "0");
    mh_it_user_token(&w.db, &w.s, "alerts@example.com", w.bearer, w.user);
    mh_it_project(&w.s, w.bearer, "alerts", w.project);
    struct receiver rc;
    receiver_start(&rc);
    char ch[40], sub[160];
    webhook_channel(&w, &rc, ch);
    snprintf(sub, sizeof(sub), "/alerts/channels/%s/test", ch);
    long st = 0;
    json_t *r = api(&w, "POST", sub, NULL, &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT(json_string_value(json_object_get(r, "delivery_id")) != NULL);
    json_decref(r);
    mh_it_sleep_ms(500);
    MH_T_ASSERT_EQ(seen_count(&rc, ""), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGKILL), 128 + SIGKILL);
    /* A server with workers takes it from the queue. */
    start(&w, "2");
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.test", 1, 10000), 1);
    pthread_mutex_lock(&rc.mu);
    MH_T_ASSERT(rc.seen[0].is_valid);
    json_t *data = json_object_get(rc.seen[0].body, "data");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "state")), "test");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "project_id")), w.project);
    pthread_mutex_unlock(&rc.mu);
    /* A second test alert, straight away this time. */
    json_decref(api(&w, "POST", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.test", 2, 10000), 2);
    /* The history lists both. */
    json_t *h = api(&w, "GET", "/alerts/history", NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(h, "items")), 2);
    json_decref(h);
    /* A receiver that rejects the signature: the key is checked, not just the presence. */
    pthread_mutex_lock(&rc.mu);
    rc.secret[8] = rc.secret[8] == 'A' ? 'B' : 'A';
    pthread_mutex_unlock(&rc.mu);
    json_decref(api(&w, "POST", sub, NULL, &st));
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.test", 3, 10000), 3);
    pthread_mutex_lock(&rc.mu);
    MH_T_ASSERT(!rc.seen[2].is_valid);
    pthread_mutex_unlock(&rc.mu);
    /* Signatures and secrets stay out of the log. */
    char *logtext = mh_it_server_log(&w.s);
    MH_T_ASSERT(strstr(logtext, "whsec_") == NULL);
    MH_T_ASSERT(strstr(logtext, "v1,") == NULL);
    free(logtext);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

MH_TEST(an_error_workflow_channel_starts_its_workflow)
{
    struct world w;
    world_start(&w);
    char wf[40], handler[40], body[512];
    workflow(&w, "fails", failing_def, wf);
    workflow(&w, "on-alert",
             "{\"nodes\": [{\"id\": \"see\", \"type\": \"terminate\", \"config\": "
             "{\"status\": \"succeeded\", \"output\": \"{type: trigger.body.type, rule: "
             "trigger.body.data.rule}\"}}], \"edges\": []}",
             handler);
    snprintf(body, sizeof(body),
             "{\"name\": \"error workflow\", \"type\": \"workflow\", \"workflow_id\": \"%s\"}",
             handler);
    long st = 0;
    json_t *c = api(&w, "POST", "/alerts/channels", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(json_object_get(c, "secret") == NULL);
    char ch[40];
    snprintf(ch, sizeof(ch), "%s", json_string_value(json_object_get(c, "id")));
    json_decref(c);
    /* Only the failing workflow is watched, so the handler's runs raise nothing. */
    snprintf(body, sizeof(body),
             "{\"name\": \"fails failed\", \"kind\": \"run_failed\", \"window_s\": 600, "
             "\"workflow_ids\": [\"%s\"], \"channel_ids\": [\"%s\"]}",
             wf, ch);
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);
    fail_runs(&w, wf, 2);
    json_t *rows = NULL;
    for (int t = 0; t < 200; t++) {
        const char *params[] = {handler};
        json_decref(rows);
        rows = mh_it_sql(w.db.admin_url, "SELECT status, output FROM runs WHERE workflow_id = $1",
                         1, params, NULL);
        if (json_array_size(rows) == 1 &&
            strcmp(json_string_value(json_object_get(json_array_get(rows, 0), "status")),
                   "succeeded") == 0)
            break;
        mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(json_array_size(rows), 1);
    json_t *run = json_array_get(rows, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(run, "status")), "succeeded");
    json_t *out = json_object_get(run, "output");
    char *text = json_dumps(out, JSON_SORT_KEYS | JSON_COMPACT);
    MH_T_ASSERT(strstr(text, "\"type\":\"alert.firing\"") != NULL);
    MH_T_ASSERT(strstr(text, "\"rule\":\"fails failed\"") != NULL);
    free(text);
    json_decref(rows);
    /* The delivery records the run it started; one run, however many evaluations. */
    mh_it_sleep_ms(800);
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM alert_deliveries WHERE status = "
                          "'delivered' AND run_id IS NOT NULL",
                          NULL),
                   1);
    const char *hp[] = {handler};
    json_t *n = mh_it_sql(w.db.admin_url, "SELECT count(*) AS n FROM runs WHERE workflow_id = $1",
                          1, hp, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(n, 0), "n")), 1);
    json_decref(n);
    mh_it_server_stop(&w.s, SIGTERM);
}

MH_TEST(viewers_read_alerts_and_cannot_write_them)
{
    struct world w;
    world_start(&w);
    char vb[128], vid[40];
    mh_it_user_token(&w.db, &w.s, "viewer@example.com", vb, vid);
    char body[256];
    snprintf(body, sizeof(body), "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}");
    long st = 0;
    json_decref(api(&w, "POST", "/members", body, &st));
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(api(&w, "POST", "/alerts/rules",
                    "{\"name\": \"r\", \"kind\": \"run_failed\", \"window_s\": 60}", &st));
    MH_T_ASSERT_EQ(st, 201);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/alerts/rules", w.project);
    json_t *r = mh_it_api(&w.s, vb, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);
    json_decref(mh_it_api(&w.s, vb, "POST", path,
                          "{\"name\": \"r2\", \"kind\": \"run_failed\", \"window_s\": 60}", &st));
    MH_T_ASSERT_EQ(st, 403);
    snprintf(path, sizeof(path), "/api/projects/%s/alerts/channels", w.project);
    json_decref(mh_it_api(&w.s, vb, "POST", path,
                          "{\"name\": \"c\", \"type\": \"webhook\", \"url\": "
                          "\"https://example.com/\"}",
                          &st));
    MH_T_ASSERT_EQ(st, 403);
    snprintf(path, sizeof(path), "/api/projects/%s/alerts/history", w.project);
    json_decref(mh_it_api(&w.s, vb, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alert_rules", NULL), 1);
    mh_it_server_stop(&w.s, SIGTERM);
}

MH_TEST(kek_rotation_carries_alert_webhook_secrets)
{
    struct world w;
    world_start(&w);
    struct receiver rc;
    receiver_start(&rc);
    char ch[40], sub[160];
    webhook_channel(&w, &rc, ch);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
    char old_kek[256];
    snprintf(old_kek, sizeof(old_kek), "%s", w.kek_path);
    w.kek_path[0] = '\0';
    make_kek_file(w.kek_path, sizeof(w.kek_path));
    /* The new key gets its own id. */
    FILE *f = fopen(w.kek_path, "r+");
    MH_T_ASSERT(f != NULL);
    MH_T_ASSERT(fputs("k2", f) >= 0);
    fclose(f);
    const char *rotate[] = {"kek",   "rotate", "--new-key-file", w.kek_path, "--kek-file",
                            old_kek, NULL};
    char *out = NULL;
    if (mh_it_run(&w.db, rotate, &out) != 0)
        mh_t_fail(__FILE__, __LINE__, "kek rotate failed:\n%s", out);
    MH_T_ASSERT(strstr(out, "re-wrapped 1 alert webhook secret(s)") != NULL);
    free(out);
    /* Only the new key from now on: the channel's secret still opens and signs. */
    start(&w, "2");
    snprintf(sub, sizeof(sub), "/alerts/channels/%s/test", ch);
    long st = 0;
    json_decref(api(&w, "POST", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.test", 1, 10000), 1);
    pthread_mutex_lock(&rc.mu);
    MH_T_ASSERT(rc.seen[0].is_valid);
    pthread_mutex_unlock(&rc.mu);
    mh_it_server_stop(&w.s, SIGTERM);
    receiver_stop(&rc);
}

/* Fails its first two calls, then answers 200: two failures open the breaker (the server runs
 * with --breaker-failures 2) and the half-open probe closes it. */
static void flaky_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = req->hit <= 2 ? 500 : 200;
    snprintf(rep->body, sizeof(rep->body), "{}");
}

/* Issue #16: "a breaker opened" fires once per opening, with the host, through the channel, and
 * resolves when the breaker closes; a rule filtering another host stays quiet; a host filter on
 * another kind, or a malformed one, is a 422 naming /host with nothing stored. */
MH_TEST(a_breaker_opening_fires_once_with_the_host_and_resolves_when_it_closes)
{
    struct world w;
    const char *extra[] = {"--breaker-failures", "2", "--breaker-open-ms", "1500", NULL};
    world_start_with(&w, extra);
    struct receiver rc;
    receiver_start(&rc);
    struct mh_mock *target = mh_mock_start(flaky_target, NULL);
    char ch[40], wf[40], body[1024];
    webhook_channel(&w, &rc, ch);

    const char *bad[] = {
        "{\"name\": \"x\", \"kind\": \"dead_letter\", \"window_s\": 60, \"host\": \"a.test\"}",
        "{\"name\": \"x\", \"kind\": \"breaker_opened\", \"host\": \"a b\"}",
        "{\"name\": \"x\", \"kind\": \"breaker_opened\", \"host\": \"https://a.test/path\"}",
        "{\"name\": \"x\", \"kind\": \"breaker_opened\", \"host\": 7}",
        "{\"name\": \"x\", \"kind\": \"breaker_opened\", \"threshold\": 3}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long st = 0;
        json_t *r = api(&w, "POST", "/alerts/rules", bad[i], &st);
        MH_T_ASSERT_EQ(st, 422);
        const char *path = json_string_value(json_object_get(json_object_get(r, "error"), "path"));
        if (path == NULL)
            path = json_string_value(json_object_get(r, "path"));
        MH_T_ASSERT(path != NULL);
        MH_T_ASSERT_STR_EQ(path, i == 4 ? "/threshold" : "/host");
        json_decref(r);
    }
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM alert_rules", NULL), 0);

    /* One rule for the target's host (written in capitals: hosts compare lowercased), one for
     * another host. */
    long st = 0;
    snprintf(body, sizeof(body),
             "{\"name\": \"target down\", \"kind\": \"breaker_opened\", \"host\": "
             "\"LOCALHOST\", \"channel_ids\": [\"%s\"]}",
             ch);
    json_t *rule = api(&w, "POST", "/alerts/rules", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(rule, "host")), "localhost");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(rule, "window_s")), 60);
    json_decref(rule);
    snprintf(body, sizeof(body),
             "{\"name\": \"other host\", \"kind\": \"breaker_opened\", \"host\": "
             "\"api.example.com\", \"channel_ids\": [\"%s\"]}",
             ch);
    json_decref(api(&w, "POST", "/alerts/rules", body, &st));
    MH_T_ASSERT_EQ(st, 201);

    char def[1024];
    snprintf(def, sizeof(def),
             "{\"nodes\": [{\"id\": \"call\", \"type\": \"http_call\", \"config\": {\"url\": "
             "\"http://localhost:%d/svc\", \"method\": \"GET\", \"retry\": {\"max_attempts\": 3, "
             "\"base_delay_ms\": 10, \"max_delay_ms\": 20}}}], \"edges\": []}",
             mh_mock_port(target));
    workflow(&w, "calls", def, wf);
    char sub[128];
    snprintf(sub, sizeof(sub), "/workflows/%s/runs", wf);
    json_decref(api(&w, "POST", sub, "{\"payload\": {}}", &st));
    MH_T_ASSERT_EQ(st, 202);

    /* The opening: one alert, naming the host. */
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.firing", 1, 15000), 1);
    pthread_mutex_lock(&rc.mu);
    struct seen *f = &rc.seen[0];
    MH_T_ASSERT(f->is_valid);
    json_t *data = json_object_get(f->body, "data");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "kind")), "breaker_opened");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "rule")), "target down");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "host")), "localhost");
    char origin[64];
    snprintf(origin, sizeof(origin), "http://localhost:%d", mh_mock_port(target));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(data, "origin")), origin);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(data, "failures")), 2);
    pthread_mutex_unlock(&rc.mu);

    /* The probe succeeds: the breaker closes and the alert resolves, once. */
    MH_T_ASSERT_EQ(wait_seen(&rc, "alert.resolved", 1, 15000), 1);
    mh_it_sleep_ms(1000); /* several more evaluations */
    MH_T_ASSERT_EQ(seen_count(&rc, "alert.firing"), 1);
    MH_T_ASSERT_EQ(seen_count(&rc, "alert.resolved"), 1);
    MH_T_ASSERT_EQ(seen_count(&rc, ""), 2);
    pthread_mutex_lock(&rc.mu);
    for (int i = 0; i < rc.n; i++)
        MH_T_ASSERT(rc.seen[i].is_valid);
    json_t *rd = json_object_get(rc.seen[1].body, "data");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(rd, "host")), "localhost");
    MH_T_ASSERT(json_is_string(json_object_get(rd, "closed_at")));
    pthread_mutex_unlock(&rc.mu);

    /* The history holds the one alert, resolved, with its host. */
    json_t *h = api(&w, "GET", "/alerts/history", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *items = json_object_get(h, "items");
    MH_T_ASSERT_EQ(json_array_size(items), 1);
    json_t *a = json_array_get(items, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(a, "state")), "resolved");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(a, "detail"), "host")),
                       "localhost");
    json_decref(h);
    MH_T_ASSERT_EQ(
        scalar(&w, "SELECT count(*) AS n FROM breaker_events WHERE closed_at IS NOT NULL", NULL),
        1);
    mh_it_server_stop(&w.s, SIGTERM);
    mh_mock_stop(target);
    receiver_stop(&rc);
}
