/* SPDX-License-Identifier: MIT */
/*
 * /metrics end to end: known traffic (webhooks accepted, a duplicate, a 401, a 422, a 404, runs
 * that succeed, fail and sleep, http_calls to a local target), then a scrape whose values are
 * checked against the database's own records (runs by status, deliveries by outcome, jobs,
 * dead letters, step events) and against the traffic sent. The exposition is also checked by
 * Prometheus's own `promtool check metrics` (Debian's `prometheus` package; the case is skipped
 * when it is not installed). Access: the token, loopback only without one, and metrics=false.
 * Logs: per-module levels and the client's X-Request-Id.
 */
#include "itest_intake_common.h"
#include "mock_http.h"

/* The value of the series `series` (the whole "name{labels}" text) in the exposition, or -1
 * when absent. */
static double value_of(const char *expo, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = expo; (p = strstr(p, series)) != NULL; p += n) {
        if ((p == expo || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static char *scrape(struct ienv *e, const char *auth, long *status)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/metrics", e->s.base);
    const char *h[] = {auth, NULL};
    struct mh_it_resp r;
    mh_it_http("GET", url, auth ? h : NULL, NULL, 0, &r);
    *status = r.status;
    char *body = r.body ? strdup(r.body) : strdup("");
    if (r.status == 200) {
        char *ct = mh_it_resp_header(&r, "Content-Type");
        MH_T_ASSERT(ct && strncmp(ct, "text/plain; version=0.0.4", 25) == 0);
        free(ct);
    }
    mh_it_resp_cleanup(&r);
    return body;
}

static long long count(struct ienv *e, const char *sql)
{
    return sql_count(e, sql, 0, NULL);
}

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    bool ok = strncmp(req->path, "/ok", 3) == 0;
    rep->status = ok ? 200 : 500;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": %s}", ok ? "true" : "false");
}

/* Waits until the database holds `want` rows for `sql` (a count named n). */
static void wait_count(struct ienv *e, const char *sql, long long want)
{
    for (int i = 0; i < 600; i++) {
        if (count(e, sql) == want)
            return;
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "%s: %lld, not %lld", sql, count(e, sql), want);
}

static void expect(const char *expo, const char *series, double want)
{
    double got = value_of(expo, series);
    if (got != want)
        mh_t_fail(__FILE__, __LINE__, "%s = %g, want %g\n--- exposition:\n%s", series, got, want,
                  expo);
}

/* Sends the known traffic; returns the mock (stop it). */
static struct mh_mock *traffic(struct ienv *e)
{
    struct mh_mock *m = mh_mock_start(target, NULL);
    json_t *open_ep = ienv_endpoint(e, "{\"name\": \"open\", \"json_schema\": {\"type\": "
                                       "\"object\", \"required\": [\"n\"]}}");
    json_t *gh_ep =
        ienv_endpoint(e, "{\"name\": \"gh\", \"verification\": {\"scheme\": "
                         "\"github\"}, \"key\": {\"secret\": \"a-secret-of-20-bytes\"}}");
    const char *pub = jstr(open_ep, "public_id");
    const char *json_ct[] = {"Content-Type: application/json", NULL};
    const char *idem[] = {"Content-Type: application/json", "Idempotency-Key: k-1", NULL};
    MH_T_ASSERT_EQ(hook_status(e, pub, json_ct, "{\"n\": 1}"), 202);
    MH_T_ASSERT_EQ(hook_status(e, pub, json_ct, "{\"n\": 2}"), 202);
    MH_T_ASSERT_EQ(hook_status(e, pub, idem, "{\"n\": 3}"), 202);
    MH_T_ASSERT_EQ(hook_status(e, pub, idem, "{\"n\": 3}"), 200);
    MH_T_ASSERT_EQ(hook_status(e, pub, json_ct, "{\"m\": 1}"), 422);
    MH_T_ASSERT_EQ(hook_status(e, jstr(gh_ep, "public_id"), json_ct, "{\"n\": 4}"), 401);
    MH_T_ASSERT_EQ(hook_status(e, "no-such-endpoint-000000000000", json_ct, "{}"), 404);
    json_decref(open_ep);
    json_decref(gh_ep);

    char def[1024], ok_wf[40], bad_wf[40], sleep_wf[40];
#define CALL_TO(path)                                                                              \
    "{\"nodes\": [{\"id\": \"call\", \"type\": \"http_call\", \"config\": {\"url\": "              \
    "\"http://127.0.0.1:%d/" path "\", \"method\": \"GET\", \"retry\": {\"max_attempts\": 1}}}], " \
    "\"edges\": []}"
    snprintf(def, sizeof(def), CALL_TO("ok"), mh_mock_port(m));
    ienv_publish(e, "m", def, ok_wf);
    snprintf(def, sizeof(def), CALL_TO("bad"), mh_mock_port(m));
    ienv_publish(e, "m", def, bad_wf);
    ienv_publish(e, "m",
                 "{\"nodes\": [{\"id\": \"nap\", \"type\": \"delay\", \"config\": {\"duration\": "
                 "\"1h\"}}], \"edges\": []}",
                 sleep_wf);
    ienv_start_run(e, ok_wf);
    ienv_start_run(e, bad_wf);
    ienv_start_run(e, sleep_wf);
    /* Everything settled: 5 runs finished, the sleeper waiting on its timer, the log flushed. */
    wait_count(e, "SELECT count(*) AS n FROM runs WHERE status IN ('succeeded', 'failed')", 5);
    wait_count(e, "SELECT count(*) AS n FROM jobs WHERE run_at > now() + interval '10 minutes'", 1);
    wait_count(e, "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome <> 'accepted'", 3);
    return m;
}

MH_TEST(metrics_match_the_database_and_the_traffic)
{
    struct ienv e;
    /* With the pure prefix on, so that runs finished inside the intake are counted too. */
    ienv_setup(&e, (const char *const[]){"--intake-pure-prefix=true", NULL});
    struct mh_mock *m = traffic(&e);
    long st;
    char *x = scrape(&e, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);

    /* Deliveries by outcome, against the delivery log. */
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"accepted\"}",
           (double)count(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome = "
                             "'accepted'"));
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"accepted\"}", 3);
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"duplicate\"}",
           (double)count(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome = "
                             "'duplicate'"));
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"signature_invalid\"}",
           (double)count(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 401"));
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"schema_validation_failed\"}",
           (double)count(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE status = 422"));
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"signature_invalid\"}", 1);
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"not_found\"}", 1);
    expect(x, "meshhook_webhook_deliveries_total{outcome=\"rate_limited\"}", 0);
    /* HTTP by route template, never by raw path. */
    expect(x,
           "meshhook_http_requests_total{route=\"/hooks/:public_id\",method=\"any\",code=\"2xx\"}",
           4);
    expect(x,
           "meshhook_http_requests_total{route=\"/hooks/:public_id\",method=\"any\",code=\"4xx\"}",
           3);
    expect(
        x,
        "meshhook_http_request_duration_seconds_count{route=\"/hooks/:public_id\",method=\"any\"}",
        7);
    MH_T_ASSERT(strstr(x, "no-such-endpoint") == NULL);
    MH_T_ASSERT(value_of(x, "meshhook_http_requests_total{route=\"/api/projects/:project_id/"
                            "workflows/:workflow_id/runs\",method=\"POST\",code=\"2xx\"}") == 3);
    /* Group commit: every accepted delivery (and the duplicate's claim) went through a batch. */
    MH_T_ASSERT(value_of(x, "meshhook_intake_batch_size_sum") >= 3);
    MH_T_ASSERT(value_of(x, "meshhook_intake_commit_duration_seconds_count") >= 1);

    /* Runs by status, against the runs table. */
    expect(x, "meshhook_runs_finished_total{status=\"succeeded\"}",
           (double)count(&e, "SELECT count(*) AS n FROM runs WHERE status = 'succeeded'"));
    expect(x, "meshhook_runs_finished_total{status=\"failed\"}",
           (double)count(&e, "SELECT count(*) AS n FROM runs WHERE status = 'failed'"));
    expect(x, "meshhook_runs_finished_total{status=\"succeeded\"}", 4);
    expect(x, "meshhook_runs_finished_total{status=\"failed\"}", 1);
    expect(x, "meshhook_runs_started_total",
           (double)count(&e, "SELECT count(*) AS n FROM runs WHERE status <> 'queued'"));
    expect(x, "meshhook_runs_started_total", 6);
    /* Steps by node type, against the step events. */
    expect(x, "meshhook_step_duration_seconds_count{node_type=\"transform\"}",
           (double)count(&e, "SELECT count(*) AS n FROM events WHERE node_id = 'echo' AND "
                             "type IN ('step_succeeded', 'step_failed')"));
    expect(x, "meshhook_step_duration_seconds_count{node_type=\"http_call\"}",
           (double)count(&e, "SELECT count(*) AS n FROM events WHERE node_id = 'call' AND "
                             "type IN ('step_succeeded', 'step_failed')"));
    expect(x, "meshhook_step_duration_seconds_count{node_type=\"http_call\"}", 2);
    expect(x, "meshhook_step_duration_seconds_count{node_type=\"delay\"}", 0);
    /* http_call, against the target's own count. */
    expect(x, "meshhook_http_call_requests_total{code=\"2xx\"}", mh_mock_hits(m, "/ok"));
    expect(x, "meshhook_http_call_requests_total{code=\"5xx\"}", mh_mock_hits(m, "/bad"));
    expect(x, "meshhook_http_call_requests_total{code=\"5xx\"}", 1);
    expect(x, "meshhook_http_call_duration_seconds_count", 2);
    /* Dead letters and the queue, against their tables. */
    expect(x, "meshhook_dead_letters_total{kind=\"step\"}",
           (double)count(&e, "SELECT count(*) AS n FROM dead_letters"));
    expect(x, "meshhook_dead_letters_total{kind=\"step\"}", 1);
    expect(x, "meshhook_dead_letters", 1);
    /* The step's attempts, counted from its run's log (its one http_attempt). */
    MH_T_ASSERT_EQ(count(&e, "SELECT attempts AS n FROM dead_letters"), 1);
    expect(x, "meshhook_queue_jobs{state=\"scheduled\"}",
           (double)count(&e, "SELECT count(*) AS n FROM jobs WHERE run_at > now()"));
    expect(x, "meshhook_queue_jobs{state=\"scheduled\"}", 1);
    expect(x, "meshhook_queue_jobs{state=\"due\"}", 0);
    expect(x, "meshhook_queue_oldest_due_age_seconds", 0);
    /* Pools: sizes as configured, nothing held between requests but this scrape's own. */
    expect(x, "meshhook_db_pool_connections{pool=\"intake\"}", 2);
    expect(x, "meshhook_db_pool_connections{pool=\"main\"}", 8);
    MH_T_ASSERT(value_of(x, "meshhook_db_pool_in_use{pool=\"intake\"}") == 0);
    /* Process. */
    MH_T_ASSERT(value_of(x, "meshhook_process_resident_memory_bytes") > 1000000);
    MH_T_ASSERT(value_of(x, "meshhook_process_open_fds") > 3);
    MH_T_ASSERT(value_of(x, "meshhook_uptime_seconds") > 0);
    MH_T_ASSERT(strstr(x, "\nmeshhook_build_info{version=\"") != NULL);
    expect(x, "meshhook_stream_subscribers", 0);
    free(x);
    mh_mock_stop(m);
    ienv_stop(&e);
}

MH_TEST(metrics_pass_promtool)
{
    FILE *p = popen("command -v promtool", "r");
    char path[256] = "";
    if (p) {
        if (fgets(path, sizeof(path), p) == NULL)
            path[0] = '\0';
        pclose(p);
    }
    if (path[0] == '\0')
        MH_T_SKIP("promtool is not installed (Debian package prometheus: make test installs it)");
    struct ienv e;
    ienv_setup(&e, NULL);
    struct mh_mock *m = traffic(&e);
    long st;
    char *x = scrape(&e, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char file[128];
    snprintf(file, sizeof(file), "%s/metrics.txt", e.tmp);
    FILE *f = fopen(file, "w");
    MH_T_ASSERT(f != NULL);
    fputs(x, f);
    fclose(f);
    char cmd[300], out[4096] = "";
    snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' 2>&1; echo rc=$?", file);
    p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    pclose(p);
    if (strstr(out, "rc=0") == NULL || strstr(out, "rc=0") != out)
        mh_t_fail(__FILE__, __LINE__, "promtool check metrics: %s", out);
    free(x);
    mh_mock_stop(m);
    ienv_stop(&e);
}

MH_TEST(metrics_access)
{
    struct ienv e;
    const char *args[] = {"--metrics-token", "scrape-token-0123456789", NULL};
    ienv_setup(&e, args);
    long st;
    char *x = scrape(&e, NULL, &st);
    MH_T_ASSERT_EQ(st, 401);
    MH_T_ASSERT(strstr(x, "scrape-token") == NULL);
    free(x);
    x = scrape(&e, "Authorization: Bearer scrape-token-012345678X", &st);
    MH_T_ASSERT_EQ(st, 401);
    free(x);
    /* A user's session or API token is no way in. */
    x = scrape(&e, e.bearer, &st);
    MH_T_ASSERT_EQ(st, 401);
    free(x);
    x = scrape(&e, "Authorization: Bearer scrape-token-0123456789", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(strstr(x, "# TYPE meshhook_http_requests_total counter\n") != NULL);
    free(x);
    /* The token never reaches the log. */
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "scrape-token-0123456789") == NULL);
    free(log);
    ienv_stop(&e);

    /* Without a token, a client behind a trusted proxy is not loopback even though its peer
     * is: forbidden. */
    const char *proxied[] = {"--trusted-proxies", "127.0.0.1", NULL};
    ienv_setup(&e, proxied);
    x = scrape(&e, "X-Forwarded-For: 203.0.113.7", &st);
    MH_T_ASSERT_EQ(st, 403);
    free(x);
    x = scrape(&e, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    free(x);
    ienv_stop(&e);

    const char *off[] = {"--metrics=false", NULL};
    ienv_setup(&e, off);
    x = scrape(&e, NULL, &st);
    MH_T_ASSERT_EQ(st, 404);
    free(x);
    ienv_stop(&e);
}

/* ---- Logs ----------------------------------------------------------------------------------- */

MH_TEST(log_levels_per_module_and_request_id)
{
    struct ienv e;
    const char *args[] = {"--log-level", "info,intake=debug", "--log-format", "text", NULL};
    ienv_setup(&e, args);
    json_t *ep = ienv_endpoint(&e, "{\"name\": \"logs\"}");
    const char *pub = jstr(ep, "public_id");
    const char *h[] = {"Content-Type: application/json", "X-Request-Id: trace-4711.abc", NULL};
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", h, "{}", 2, &r), 202);
    char *echoed = mh_it_resp_header(&r, "X-Request-Id");
    MH_T_ASSERT_STR_EQ(echoed, "trace-4711.abc");
    free(echoed);
    mh_it_resp_cleanup(&r);
    /* An id that is too long, or holds a character a log line could be split on, is replaced. */
    char as[80], long_id[100];
    memset(as, 'a', sizeof(as) - 1);
    as[sizeof(as) - 1] = '\0';
    snprintf(long_id, sizeof(long_id), "X-Request-Id: %.65s", as);
    const char *bad_ids[] = {long_id, "X-Request-Id: two words", "X-Request-Id: a\"b"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        const char *bh[] = {"Content-Type: application/json", bad_ids[i], NULL};
        MH_T_ASSERT_EQ(hook(&e, pub, "POST", bh, "{}", 2, &r), 202);
        char *id = mh_it_resp_header(&r, "X-Request-Id");
        MH_T_ASSERT(id && strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16);
        free(id);
        mh_it_resp_cleanup(&r);
    }
    /* Errors carry the client's id in their body too. */
    const char *eh[] = {"X-Request-Id: corr-2", NULL};
    MH_T_ASSERT_EQ(hook(&e, "nope-000000000000000", "POST", eh, "{}", 2, &r), 404);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "request_id")), "corr-2");
    mh_it_resp_cleanup(&r);
    json_decref(ep);
    ep = NULL;
    /* The engine ran the runs (its debug lines would be there at debug): wait for them. */
    for (int i = 0; i < 200; i++) {
        json_t *rows =
            mh_it_sql(e.db.admin_url, "SELECT count(*) AS n FROM runs WHERE status = 'succeeded'",
                      0, NULL, NULL);
        long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
        json_decref(rows);
        if (n == 4)
            break;
        mh_it_sleep_ms(50);
    }
    char *log = mh_it_server_log(&e.s);
    /* The access line of the request carries the client's id. */
    MH_T_ASSERT(strstr(log, " info  http req=trace-4711.abc POST /hooks/") != NULL);
    /* intake logs at debug; every other module stays at info. */
    MH_T_ASSERT(strstr(log, " debug intake ") != NULL);
    const char *others[] = {" debug http ", " debug engine ",   " debug db ",
                            " debug main ", " debug outbound ", " debug mhd "};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
        if (strstr(log, others[i]) != NULL)
            mh_t_fail(__FILE__, __LINE__, "'%s' logged at debug:\n%s", others[i], log);
    free(log);
    ienv_stop(&e);

    /* The other way round: the engine's debug lines, and none of the intake's. */
    /* The run's steps are the workers' (no pure prefix decided in the intake). */
    const char *engine_debug[] = {
        "--log-level", "engine=debug", "--log-format", "text", "--intake-pure-prefix=false", NULL};
    ienv_setup(&e, engine_debug);
    ep = ienv_endpoint(&e, "{\"name\": \"logs\"}");
    MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), h, "{}"), 202);
    json_decref(ep);
    for (int i = 0; i < 200; i++) {
        log = mh_it_server_log(&e.s);
        bool seen = strstr(log, " debug engine ") != NULL;
        free(log);
        if (seen)
            break;
        mh_it_sleep_ms(50);
    }
    log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, " debug engine ") != NULL);
    MH_T_ASSERT(strstr(log, " debug intake ") == NULL);
    free(log);
    ienv_stop(&e);
}
