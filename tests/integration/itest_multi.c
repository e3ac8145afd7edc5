/* SPDX-License-Identifier: MIT */
/*
 * Several instances on one database (issue #20, docs/operations.md "Running several
 * instances"): three `meshhook serve` processes share one PostgreSQL, one with --workers 0 (HTTP
 * only), one normal, one --workers-only (no API, only /healthz, /readyz, /metrics). Webhooks go
 * to both HTTP instances while the workers-only one is killed with SIGKILL and restarted, and
 * then the normal one is killed for good. Every 202 must become exactly one run that succeeds,
 * no step may succeed twice, and every http_call must reach the target with its stable
 * idempotency key (repeats only with the same key).
 *
 * Then the rate limits: an endpoint's, and a project's, hold across two instances.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "itest_intake_common.h"
#include "mock_http.h"

#define SENDERS_PER_HTTP 2
#define PER_SENDER       150
#define SEND_MS          4000

/* What the target saw: one "run key" line per request, kept in order. */
struct seen {
    pthread_mutex_t mu;
    char *lines;
    size_t len, cap;
};

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    struct seen *s = ctx;
    char key[160] = "-", run[64] = "-";
    const char *h = strcasestr(req->headers, "\nidempotency-key:");
    if (h) {
        h += strlen("\nidempotency-key:");
        while (*h == ' ')
            h++;
        size_t n = strcspn(h, "\r\n");
        snprintf(key, sizeof(key), "%.*s", (int)(n < sizeof(key) - 1 ? n : sizeof(key) - 1), h);
    }
    json_t *b = json_loadb(req->body, req->body_len, 0, NULL);
    const char *r = json_string_value(json_object_get(b, "run"));
    if (r)
        snprintf(run, sizeof(run), "%s", r);
    json_decref(b);
    pthread_mutex_lock(&s->mu);
    size_t need = strlen(run) + strlen(key) + 3;
    if (s->len + need > s->cap) {
        s->cap = (s->cap + need) * 2;
        s->lines = realloc(s->lines, s->cap);
        MH_T_ASSERT(s->lines != NULL);
    }
    s->len += (size_t)snprintf(s->lines + s->len, s->cap - s->len, "%s %s\n", run, key);
    pthread_mutex_unlock(&s->mu);
    rep->status = 200;
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": true}");
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A sender process: up to PER_SENDER webhooks to `base` for at most SEND_MS, one "seq status
 * run_id" line each, until the server stops answering three times in a row. */
static void sender(const char *base, const char *pub, int k, const char *path)
{
    FILE *out = fopen(path, "w");
    if (out == NULL)
        _exit(1);
    int failures = 0;
    int64_t end = now_ms() + SEND_MS;
    for (int i = 0; i < PER_SENDER && failures < 3 && now_ms() < end; i++) {
        char body[64], url[256];
        snprintf(body, sizeof(body), "{\"sender\": %d, \"seq\": %d}", k, i);
        snprintf(url, sizeof(url), "%s/hooks/%s", base, pub);
        const char *h[] = {"Content-Type: application/json", NULL};
        struct mh_it_resp r;
        mh_it_http("POST", url, h, body, strlen(body), &r);
        const char *id = json_string_value(json_object_get(r.json, "run_id"));
        fprintf(out, "%d %ld %s\n", i, r.status, id ? id : "-");
        fflush(out);
        failures = r.status == 0 ? failures + 1 : 0;
        mh_it_resp_cleanup(&r);
    }
    fclose(out);
    _exit(0);
}

/* The workflow: prep (transform) -> call (http_call to the target, its body naming the run)
 * -> end. Returns nothing; `e->workflow` is replaced by it. */
static void call_workflow(struct ienv *e, int mock_port)
{
    char url[128], path[256];
    long st;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/work", mock_port);
    json_t *def = json_pack(
        "{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:s, s:{s:s}, s:i, s:{s:i, s:i, s:i}}}, "
        "{s:s, s:s, s:{s:s}}], s:[{s:s, s:s}, {s:s, s:s}]}",
        "nodes", "id", "prep", "type", "transform", "config", "expression",
        "{run: run.id, seq: trigger.body.seq}", "id", "call", "type", "http_call", "config", "url",
        url, "method", "POST", "body", "expression", "steps.prep.output", "timeout_ms", 2000,
        "retry", "max_attempts", 20, "base_delay_ms", 50, "max_delay_ms", 500, "id", "end", "type",
        "terminate", "config", "output", "steps.call.output.status", "edges", "from", "prep", "to",
        "call", "from", "call", "to", "end");
    json_t *req = json_pack("{s:s, s:o}", "name", "multi", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *w = iapi(e, "POST", path, body, &st);
    free(body);
    if (st != 201) {
        char *dump = w ? json_dumps(w, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld %s", st, dump ? dump : "");
    }
    snprintf(e->workflow, sizeof(e->workflow), "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, e->workflow);
    json_t *v = iapi(e, "POST", path, NULL, &st);
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(v);
}

static long count(struct ienv *e, const char *sql)
{
    return sql_count(e, sql, 0, NULL);
}

MH_TEST(three_instances_one_database_lose_nothing_and_run_each_step_once)
{
    struct seen seen = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct mh_mock *m = mh_mock_start(target, &seen);
    struct ienv e;
    /* A: HTTP only. Short leases everywhere: the jobs of a killed instance come back soon. */
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--job-lease-ms", "2000", NULL});
    call_workflow(&e, mh_mock_port(m));
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000000, \"rate_per_second\": 1000000}");
    const char *pub = jstr(ep, "public_id");
    /* B: HTTP and workers; C: workers only. */
    const char *b_args[] = {"--kek", IT_KEK, "--workers", "2", "--job-lease-ms", "2000", NULL};
    const char *c_args[] = {"--kek", IT_KEK,           "--workers-only", "--workers",
                            "2",     "--job-lease-ms", "2000",           NULL};
    struct mh_it_server b, c;
    mh_it_server_start(&b, &e.db, b_args);
    mh_it_server_start(&c, &e.db, c_args);

    /* C serves health, readiness and metrics, and nothing else: no API, no webhooks, no UI. */
    struct mh_it_resp r;
    char url[512];
    snprintf(url, sizeof(url), "%s/readyz", c.base);
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    mh_it_resp_cleanup(&r);
    snprintf(url, sizeof(url), "%s/hooks/%s", c.base, pub);
    mh_it_http("POST", url, NULL, "{}", 2, &r);
    MH_T_ASSERT_EQ(r.status, 404);
    mh_it_resp_cleanup(&r);
    snprintf(url, sizeof(url), "%s/api/auth/options", c.base);
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 404);
    mh_it_resp_cleanup(&r);
    snprintf(url, sizeof(url), "%s/", c.base);
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 404);
    mh_it_resp_cleanup(&r);
    /* All three are registered; two of them serve webhooks. */
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM instances"), 3);
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM instances WHERE serves_intake"), 2);

    /* Senders: half to A, half to B. */
    enum { SENDERS = 2 * SENDERS_PER_HTTP };
    pid_t kids[SENDERS];
    char paths[SENDERS][128];
    for (int k = 0; k < SENDERS; k++) {
        snprintf(paths[k], sizeof(paths[k]), "%s/sender-%d.txt", e.tmp, k);
        kids[k] = fork();
        MH_T_ASSERT(kids[k] >= 0);
        if (kids[k] == 0)
            sender(k % 2 ? b.base : e.s.base, pub, k, paths[k]);
    }
    /* Under load: C dies and comes back, then B dies for good. */
    mh_it_sleep_ms(700);
    MH_T_ASSERT_EQ(mh_it_server_stop(&c, SIGKILL), 128 + SIGKILL);
    mh_it_server_start(&c, &e.db, c_args);
    mh_it_sleep_ms(700);
    long done_before_b = count(&e, "SELECT count(*) AS n FROM runs WHERE status = 'succeeded'");
    MH_T_ASSERT_EQ(mh_it_server_stop(&b, SIGKILL), 128 + SIGKILL);
    int64_t t_kill = now_ms();
    for (int k = 0; k < SENDERS; k++)
        waitpid(kids[k], NULL, 0);

    /* Every 202 names a run of its own holding the body its sender sent (one query for all). */
    int accepted = 0, accepted_by_b = 0;
    json_t *answers = json_array();
    for (int k = 0; k < SENDERS; k++) {
        FILE *f = fopen(paths[k], "r");
        MH_T_ASSERT(f != NULL);
        int seq;
        long st;
        char run[64];
        while (fscanf(f, "%d %ld %63s", &seq, &st, run) == 3) {
            if (st != 202)
                continue;
            accepted++;
            accepted_by_b += k % 2;
            char body[64];
            snprintf(body, sizeof(body), "{\"sender\": %d, \"seq\": %d}", k, seq);
            json_array_append_new(answers, json_pack("{s:s, s:s}", "run", run, "body", body));
        }
        fclose(f);
    }
    char *answers_s = json_dumps(answers, JSON_COMPACT);
    json_decref(answers);
    const char *ap[] = {answers_s};
    MH_T_ASSERT_EQ(
        sql_count(&e,
                  "SELECT count(DISTINCT r.id) AS n FROM jsonb_array_elements($1::jsonb) a "
                  "JOIN runs r ON r.id = (a->>'run')::uuid JOIN events v ON v.run_id = "
                  "r.id AND v.seq = 1 WHERE (v.payload->'delivery'->>'raw_body')::jsonb = "
                  "(a->>'body')::jsonb",
                  1, ap),
        accepted);
    free(answers_s);
    MH_T_ASSERT(accepted_by_b > 0 && accepted > accepted_by_b);
    long runs = count(&e, "SELECT count(*) AS n FROM runs");
    /* A run may exist without its 202 (the answer lost with B), never a 202 without its run, and
     * no webhook made two runs. */
    MH_T_ASSERT(runs >= accepted);
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM (SELECT 1 FROM runs r JOIN events v ON "
                             "v.run_id = r.id AND v.seq = 1 GROUP BY "
                             "v.payload->'delivery'->>'raw_body' HAVING count(*) > 1) d"),
                   0);

    /* C, restarted, finishes everything, B's claimed jobs included once their lease ends. */
    int64_t t0 = now_ms();
    long unfinished = -1;
    while (unfinished != 0 && (unfinished < 0 || now_ms() - t0 < 30000)) {
        unfinished = count(&e, "SELECT count(*) AS n FROM runs WHERE status <> 'succeeded'");
        if (getenv("MH_IT_PROGRESS"))
            fprintf(stderr, "%lld ms: %ld unfinished, %ld jobs due\n", (long long)(now_ms() - t0),
                    unfinished, count(&e, "SELECT count(*) AS n FROM jobs WHERE run_at <= now()"));
        if (unfinished)
            mh_it_sleep_ms(100);
    }
    if (unfinished != 0)
        mh_t_fail(__FILE__, __LINE__, "%ld of %ld runs did not succeed", unfinished, runs);
    MH_T_ASSERT(done_before_b < runs); /* B died with work in flight */
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM (SELECT run_id, node_id FROM events "
                             "WHERE type = 'step_succeeded' GROUP BY 1, 2 HAVING count(*) > 1) d"),
                   0);
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM jobs"), 0);

    /* At the target: every run's call arrived, each run with one key, each key one run's. */
    pthread_mutex_lock(&seen.mu);
    json_t *pairs = json_array();
    for (char *line = seen.lines, *nl; line && line < seen.lines + seen.len; line = nl + 1) {
        nl = strchr(line, '\n');
        *nl = '\0';
        char run[64], key[160];
        MH_T_ASSERT_EQ(sscanf(line, "%63s %159s", run, key), 2);
        MH_T_ASSERT(strcmp(key, "-") != 0 && strcmp(run, "-") != 0);
        json_array_append_new(pairs, json_pack("{s:s, s:s}", "run", run, "key", key));
        *nl = '\n';
    }
    size_t requests = json_array_size(pairs);
    pthread_mutex_unlock(&seen.mu);
    char *pairs_s = json_dumps(pairs, JSON_COMPACT);
    json_decref(pairs);
    const char *pp[] = {pairs_s};
    const char *pairs_cte = "WITH p AS (SELECT x->>'run' AS run, x->>'key' AS key FROM "
                            "jsonb_array_elements($1::jsonb) x) ";
    char sql[1024];
    snprintf(sql, sizeof(sql), "%s SELECT count(DISTINCT key) AS n FROM p", pairs_cte);
    MH_T_ASSERT_EQ(sql_count(&e, sql, 1, pp), runs);
    snprintf(sql, sizeof(sql), "%s SELECT count(DISTINCT run) AS n FROM p", pairs_cte);
    MH_T_ASSERT_EQ(sql_count(&e, sql, 1, pp), runs);
    snprintf(sql, sizeof(sql),
             "%s SELECT count(*) AS n FROM (SELECT run FROM p GROUP BY run HAVING "
             "count(DISTINCT key) > 1) d",
             pairs_cte);
    MH_T_ASSERT_EQ(sql_count(&e, sql, 1, pp), 0);
    snprintf(sql, sizeof(sql),
             "%s SELECT count(*) AS n FROM (SELECT DISTINCT run FROM p) q WHERE NOT EXISTS "
             "(SELECT 1 FROM runs r WHERE r.id = q.run::uuid)",
             pairs_cte);
    MH_T_ASSERT_EQ(sql_count(&e, sql, 1, pp), 0);
    free(pairs_s);
    fprintf(stderr,
            "accepted %d (%d by B), runs %ld, target requests %zu; senders done %lld ms "
            "after B died, all runs succeeded %lld ms later\n",
            accepted, accepted_by_b, runs, requests, (long long)(t0 - t_kill),
            (long long)(now_ms() - t0));

    MH_T_ASSERT_EQ(mh_it_server_stop(&c, SIGTERM), 0);
    json_decref(ep);
    ienv_stop(&e);
    mh_mock_stop(m);
    free(seen.lines);
}

/* Sends `n` webhooks alternately to the two instances, endpoint by endpoint in turn; counts
 * the 202s and checks every other answer is a 429 with the given code and a Retry-After. */
static int send_round(const char *const bases[2], const char *const *pubs, int npubs, int n,
                      const char *code)
{
    int admitted = 0;
    for (int i = 0; i < n; i++) {
        char url[512];
        snprintf(url, sizeof(url), "%s/hooks/%s", bases[i % 2], pubs[(i / 2) % npubs]);
        const char *h[] = {"Content-Type: application/json", NULL};
        struct mh_it_resp r;
        mh_it_http("POST", url, h, "{}", 2, &r);
        if (r.status == 202) {
            admitted++;
        } else {
            if (r.status != 429)
                mh_t_fail(__FILE__, __LINE__, "webhook %d: %ld %s", i, r.status,
                          r.body ? r.body : "");
            char *ra = mh_it_resp_header(&r, "Retry-After");
            MH_T_ASSERT(ra != NULL && strtol(ra, NULL, 10) >= 1);
            free(ra);
            MH_T_ASSERT_STR_EQ(
                json_string_value(json_object_get(json_object_get(r.json, "error"), "code")), code);
            MH_T_ASSERT(json_string_value(
                            json_object_get(json_object_get(r.json, "error"), "message")) != NULL);
        }
        mh_it_resp_cleanup(&r);
    }
    return admitted;
}

/* Waits until the `instances` table lists `n` instances serving webhooks, then one more
 * heartbeat interval (200 ms here) and a margin, so that each instance's own count is current. */
static void wait_for_instances(struct ienv *e, long n)
{
    for (int i = 0; i < 100 && count(e, "SELECT count(*) AS n FROM instances WHERE "
                                        "serves_intake") != n;
         i++)
        mh_it_sleep_ms(50);
    MH_T_ASSERT_EQ(count(e, "SELECT count(*) AS n FROM instances WHERE serves_intake"), n);
    mh_it_sleep_ms(500);
}

/*
 * An endpoint limited to a burst of L = 20 (refilling at 0.1/s, so that the refill during the
 * round is well under one webhook) gets 3L webhooks spread evenly over two instances: each
 * instance holds half the burst, so L are admitted together (one more per instance at most, from
 * the refill), not 2L as when each instance had the whole rate. The rest are 429 with a
 * Retry-After. The project's delivery rate, over two endpoints, likewise.
 */
MH_TEST(rate_limits_hold_across_two_instances)
{
    struct ienv e;
    const char *const common[] = {"--workers", "0", "--instance-heartbeat-ms", "200", NULL};
    ienv_setup(&e, common);
    struct mh_it_server b;
    mh_it_server_start(&b, &e.db,
                       (const char *const[]){"--kek", IT_KEK, "--workers", "0",
                                             "--instance-heartbeat-ms", "200", NULL});
    wait_for_instances(&e, 2);
    const char *const bases[2] = {e.s.base, b.base};

    enum { L = 20 };
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 20, \"rate_per_second\": 0.1}");
    const char *pub[] = {jstr(ep, "public_id")};
    int admitted = send_round(bases, pub, 1, 3 * L, "rate_limited");
    fprintf(stderr, "endpoint limit %d: %d of %d admitted across two instances\n", L, admitted,
            3 * L);
    MH_T_ASSERT(admitted >= L && admitted <= L + 2);

    /* The project's rate, set through the API, bounds all its endpoints together. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/rate-limits", e.project);
    json_t *bad = iapi(&e, "PUT", path, "{\"delivery_rate_per_second\": -1}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(bad, "error.path"), "/delivery_rate_per_second");
    json_decref(bad);
    bad = iapi(&e, "PUT", path, "{\"delivery_burst\": 2.5}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(bad, "error.path"), "/delivery_burst");
    json_decref(bad);
    json_t *got = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_null(json_object_get(got, "delivery_rate_per_second")));
    MH_T_ASSERT(json_is_null(json_object_get(got, "effective"))); /* server default: none */
    json_decref(got);
    json_t *set =
        iapi(&e, "PUT", path, "{\"delivery_rate_per_second\": 0.1, \"delivery_burst\": 20}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(set, "delivery_burst")), 20);
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(set, "effective"), "delivery_burst")),
        20);
    json_decref(set);
    json_t *p1 = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    json_t *p2 = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    const char *pubs[] = {jstr(p1, "public_id"), jstr(p2, "public_id")};
    admitted = send_round(bases, pubs, 2, 3 * L, "project_rate_limited");
    fprintf(stderr, "project limit %d: %d of %d admitted across two instances and two endpoints\n",
            L, admitted, 3 * L);
    MH_T_ASSERT(admitted >= L && admitted <= L + 2);
    MH_T_ASSERT_EQ(count(&e, "SELECT count(*) AS n FROM audit_log WHERE action = "
                             "'rate_limits.update'"),
                   1);

    /* B leaves cleanly: A takes the whole rate at its next beat. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&b, SIGTERM), 0);
    wait_for_instances(&e, 1);
    json_decref(p1);
    json_decref(p2);
    json_decref(ep);
    ienv_stop(&e);
}
