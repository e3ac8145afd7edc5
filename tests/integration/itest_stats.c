/* SPDX-License-Identifier: MIT */
/*
 * Run statistics end to end (issue #16): runs and deliveries with known statuses, durations and
 * times are written straight into the real schema, the rollup pass is run, and
 * GET /api/projects/:pid/stats must give the hand-computed counts, error rates and percentiles
 * (each percentile within the histogram's stated 4.43 % of the exact value at the same rank).
 * Then the background rollup of a running server picks up real webhooks; bad windows and grains
 * are 422s with the parameter's path; other tenants see nothing.
 */
#include <math.h>

#include "itest_intake_common.h"

#define PERCENTILE_ERROR 0.0443

/* Workflow A, bucket T0+10min: runs k = 1..50; T0+11min: k = 51..100. Run k lasts 10*k ms and
 * failed when k % 10 == 0, was canceled when k == 33, else succeeded. Two runs of A are still
 * running at T0+12min (one job each, due); a test run of A is ignored. Workflow B: ten runs at
 * T0+65min, failed after 2 s. Endpoint of A at T0+10min: 3 accepted, 2 duplicate, 4 refused
 * deliveries and one accepted test delivery (ignored). T0 is three hours before the hour. */
static const char *const seed_sql =
    "WITH t0 AS (SELECT date_trunc('hour', now()) - interval '3 hours' AS t) "
    "INSERT INTO runs (project_id, workflow_id, version_id, status, created_at, started_at, "
    "finished_at) SELECT $1::uuid, $2::uuid, (SELECT id FROM workflow_versions WHERE workflow_id "
    "= $2::uuid AND state = 'published'), CASE WHEN k % 10 = 0 THEN 'failed' WHEN k = 33 THEN "
    "'canceled' ELSE 'succeeded' END, c, c, c + k * interval '10 ms' FROM t0, generate_series(1, "
    "100) k, LATERAL (SELECT t + interval '10 minutes' + (k > 50)::int * interval '1 minute' + k "
    "* interval '100 ms' AS c) x";
static const char *const seed_running_sql =
    "WITH t0 AS (SELECT date_trunc('hour', now()) - interval '3 hours' AS t), "
    "r AS (INSERT INTO runs (id, project_id, workflow_id, version_id, status, is_test, created_at, "
    "finished_at) SELECT ('cccccccc-0000-0000-0000-00000000000' || k)::uuid, $1::uuid, $2::uuid, "
    "(SELECT id FROM workflow_versions WHERE workflow_id = $2::uuid AND state = 'published'), "
    "CASE WHEN k = 3 THEN 'failed' ELSE 'running' END, k = 3, t + interval '12 minutes', CASE "
    "WHEN k = 3 THEN t + interval '13 minutes' END FROM t0, generate_series(1, 3) k RETURNING id, "
    "is_test) "
    "INSERT INTO jobs (project_id, run_id, kind) SELECT $1::uuid, id, 'advance' FROM r WHERE NOT "
    "is_test";
static const char *const seed_b_sql =
    "WITH t0 AS (SELECT date_trunc('hour', now()) - interval '3 hours' AS t) "
    "INSERT INTO runs (project_id, workflow_id, version_id, status, created_at, finished_at) "
    "SELECT $1::uuid, $2::uuid, (SELECT id FROM workflow_versions WHERE workflow_id = $2::uuid "
    "AND state = 'published'), 'failed', t + interval '65 minutes', t + interval '65 minutes' + "
    "interval '2 s' FROM t0, generate_series(1, 10)";
static const char *const seed_deliveries_sql =
    "WITH t0 AS (SELECT date_trunc('hour', now()) - interval '3 hours' AS t) "
    "INSERT INTO webhook_deliveries (project_id, endpoint_id, received_at, method, status, "
    "outcome, is_test) SELECT $1::uuid, $2::uuid, t + interval '10 minutes', 'POST', CASE o WHEN "
    "'accepted' THEN 202 WHEN 'duplicate' THEN 200 ELSE 401 END, o, tst FROM t0, (VALUES "
    "('accepted', 3, false), ('duplicate', 2, false), ('refused', 4, false), ('accepted', 1, "
    "true)) v(o, n, tst), generate_series(1, n)";

static void sql_params(struct ienv *e, const char *sql, const char *a, const char *b)
{
    const char *p[] = {a, b};
    json_t *rows = mh_it_sql(e->db.admin_url, sql, 2, p, NULL);
    if (rows == NULL)
        mh_t_fail(__FILE__, __LINE__, "seed failed: %.80s", sql);
    json_decref(rows);
}

/* Runs rollup passes with a small batch (so that the high-water mark moves several times)
 * until one reports no more work. */
static void rollup(struct ienv *e)
{
    for (int i = 0; i < 1000; i++) {
        json_t *rows =
            mh_it_sql(e->db.admin_url, "SELECT mh_stats_rollup(0, 7) AS r", 0, NULL, NULL);
        MH_T_ASSERT(rows != NULL);
        json_t *r = json_object_get(json_array_get(rows, 0), "r");
        bool more = json_is_true(json_object_get(r, "more"));
        MH_T_ASSERT(!json_is_true(json_object_get(r, "locked")));
        json_decref(rows);
        if (!more)
            return;
    }
    mh_t_fail(__FILE__, __LINE__, "the rollup never caught up");
}

static json_t *stats(struct ienv *e, const char *bearer, const char *query, long want)
{
    char path[512];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/stats?%s", e->project, query);
    json_t *r = mh_it_api(&e->s, bearer, "GET", path, NULL, &st);
    if (st != want) {
        char *d = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "GET %s: %ld (want %ld) %s", path, st, want, d ? d : "");
    }
    return r;
}

static long num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        mh_t_fail(__FILE__, __LINE__, "%s is not an integer", k);
    return (long)json_integer_value(v);
}

/* `got` (field k of o) is within the stated error of the exact percentile `want`. */
static void near_pct(json_t *o, const char *k, double want, int line)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_number(v))
        mh_t_fail(__FILE__, line, "%s is missing", k);
    double got = json_number_value(v);
    if (fabs(got - want) > want * PERCENTILE_ERROR)
        mh_t_fail(__FILE__, line, "%s = %.2f, exact %.1f: off by more than 4.43 %%", k, got, want);
}

static void rate_is(json_t *o, double want, int line)
{
    json_t *v = json_object_get(o, "error_rate");
    if (!json_is_number(v) || fabs(json_number_value(v) - want) > 0.00005)
        mh_t_fail(__FILE__, line, "error_rate %.5f, want %.5f", json_number_value(v), want);
}

/* The point of `points` whose time is T0 + `minutes` (T0: three hours before this hour). */
static json_t *point_at(struct ienv *e, json_t *r, int minutes)
{
    char m[16];
    snprintf(m, sizeof(m), "%d", minutes);
    const char *p[] = {m};
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT to_char((date_trunc('hour', now()) - interval '3 hours' + "
                             "$1::int * interval '1 minute') AT TIME ZONE 'UTC', "
                             "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS t",
                             1, p, NULL);
    MH_T_ASSERT(rows != NULL);
    const char *t = json_string_value(json_object_get(json_array_get(rows, 0), "t"));
    json_t *found = NULL, *pt;
    size_t i;
    json_array_foreach(json_object_get(r, "points"), i, pt)
    {
        if (strcmp(json_string_value(json_object_get(pt, "t")), t) == 0)
            found = pt;
    }
    if (found == NULL)
        mh_t_fail(__FILE__, __LINE__, "no point at %s", t);
    json_decref(rows);
    return found;
}

MH_TEST(figures_match_hand_computed_values)
{
    struct ienv e;
    /* No workers: nothing but the seed changes the runs and the queue. */
    const char *args[] = {"--workers", "0", NULL};
    ienv_setup(&e, args);
    char wb[40];
    ienv_workflow(&e, wb);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    sql_params(&e, seed_sql, e.project, e.workflow);
    sql_params(&e, seed_running_sql, e.project, e.workflow);
    sql_params(&e, seed_b_sql, e.project, wb);
    sql_params(&e, seed_deliveries_sql, e.project, jstr(ep, "id"));
    json_decref(ep);
    rollup(&e);

    /* The project over 24 hours by hour: 112 started (100 + 2 running + 10 of B; the test run
     * is not counted), 89 succeeded, 20 failed, 1 canceled; error rate 20 / 110. Durations:
     * 10, 20, ..., 1000 ms and ten of 2000 ms: rank 55 of 110 is 550 ms, ranks 105 and 109 are
     * 2000 ms. */
    json_t *r = stats(&e, e.bearer, "window=24h&grain=hour", 200);
    json_t *s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 112);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 89);
    MH_T_ASSERT_EQ(num(s, "failed"), 20);
    MH_T_ASSERT_EQ(num(s, "canceled"), 1);
    rate_is(s, 20.0 / 110.0, __LINE__);
    near_pct(s, "p50_ms", 550, __LINE__);
    near_pct(s, "p95_ms", 2000, __LINE__);
    near_pct(s, "p99_ms", 2000, __LINE__);
    json_t *d = json_object_get(s, "deliveries");
    MH_T_ASSERT_EQ(num(d, "accepted"), 3);
    MH_T_ASSERT_EQ(num(d, "duplicate"), 2);
    MH_T_ASSERT_EQ(num(d, "refused"), 4);
    MH_T_ASSERT_EQ(num(s, "queue_due_max"), 2);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(r, "points")), 24);
    json_t *h0 = point_at(&e, r, 0), *h1 = point_at(&e, r, 60);
    MH_T_ASSERT_EQ(num(h0, "started"), 102);
    MH_T_ASSERT_EQ(num(h0, "failed"), 10);
    MH_T_ASSERT_EQ(num(h1, "started"), 10);
    MH_T_ASSERT_EQ(num(h1, "failed"), 10);
    rate_is(h1, 1.0, __LINE__);
    near_pct(h1, "p50_ms", 2000, __LINE__);
    json_decref(r);

    /* The same by day over two days: one day holds everything (T0 is at most 3 hours back, so
     * the runs may fall on yesterday), the sums agree. */
    r = stats(&e, e.bearer, "window=2d&grain=day", 200);
    s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 112);
    MH_T_ASSERT_EQ(num(s, "failed"), 20);
    near_pct(s, "p50_ms", 550, __LINE__);
    json_decref(r);

    /* Workflow A by minute: 102 started, 89 succeeded, 10 failed, 1 canceled over 100 finished:
     * ranks 50, 95 and 99 of 10..1000 ms. The minute at T0+10 holds k = 1..50 (ranks 25, 48,
     * 50: 250, 480, 500 ms; 5 failed, 1 canceled), T0+11 k = 51..100 (rank 25: 750 ms). */
    char q[256];
    snprintf(q, sizeof(q), "window=24h&grain=minute&workflow_id=%s", e.workflow);
    r = stats(&e, e.bearer, q, 200);
    s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 102);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 89);
    MH_T_ASSERT_EQ(num(s, "failed"), 10);
    MH_T_ASSERT_EQ(num(s, "canceled"), 1);
    rate_is(s, 0.1, __LINE__);
    near_pct(s, "p50_ms", 500, __LINE__);
    near_pct(s, "p95_ms", 950, __LINE__);
    near_pct(s, "p99_ms", 990, __LINE__);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(r, "points")), 1440);
    json_t *m10 = point_at(&e, r, 10), *m11 = point_at(&e, r, 11), *m12 = point_at(&e, r, 12);
    MH_T_ASSERT_EQ(num(m10, "started"), 50);
    MH_T_ASSERT_EQ(num(m10, "succeeded"), 44);
    MH_T_ASSERT_EQ(num(m10, "failed"), 5);
    MH_T_ASSERT_EQ(num(m10, "canceled"), 1);
    MH_T_ASSERT_EQ(num(m10, "deliveries_accepted"), 3);
    MH_T_ASSERT_EQ(num(m10, "deliveries_refused"), 4);
    near_pct(m10, "p50_ms", 250, __LINE__);
    near_pct(m10, "p95_ms", 480, __LINE__);
    near_pct(m10, "p99_ms", 500, __LINE__);
    MH_T_ASSERT_EQ(num(m11, "started"), 50);
    near_pct(m11, "p50_ms", 750, __LINE__);
    MH_T_ASSERT_EQ(num(m12, "started"), 2);
    MH_T_ASSERT_EQ(num(m12, "succeeded"), 0);
    MH_T_ASSERT(json_is_null(json_object_get(m12, "p50_ms")));
    MH_T_ASSERT(json_is_null(json_object_get(m12, "error_rate")));
    json_decref(r);

    /* Workflow B alone: nothing of A. */
    snprintf(q, sizeof(q), "window=24h&grain=hour&workflow_id=%s", wb);
    r = stats(&e, e.bearer, q, 200);
    s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 10);
    MH_T_ASSERT_EQ(num(s, "failed"), 10);
    MH_T_ASSERT_EQ(num(json_object_get(s, "deliveries"), "accepted"), 0);
    json_decref(r);

    /* A running run finishes (succeeded after 3 s): the next pass counts its outcome in the
     * bucket it started in, without counting it as started again. */
    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE runs SET status = 'succeeded', finished_at = created_at + "
                          "interval '3 s' WHERE id = 'cccccccc-0000-0000-0000-000000000001'",
                          0, NULL, NULL));
    rollup(&e);
    rollup(&e);
    snprintf(q, sizeof(q), "window=24h&grain=minute&workflow_id=%s", e.workflow);
    r = stats(&e, e.bearer, q, 200);
    s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 102);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 90);
    m12 = point_at(&e, r, 12);
    MH_T_ASSERT_EQ(num(m12, "succeeded"), 1);
    near_pct(m12, "p50_ms", 3000, __LINE__);
    json_decref(r);
    ienv_stop(&e);
}

MH_TEST(bad_parameters_are_422_and_other_tenants_see_nothing)
{
    struct ienv e;
    const char *args[] = {"--stats-interval-ms", "0", NULL};
    ienv_setup(&e, args);
    static const struct {
        const char *query;
        const char *path;
    } bad[] = {
        {"window=0h", "?window"},
        {"window=24", "?window"},
        {"window=h", "?window"},
        {"window=-1d", "?window"},
        {"window=24hours", "?window"},
        {"window=401d", "?window"},
        {"window=99999999999999999999d", "?window"},
        {"window=24h&grain=week", "?grain"},
        {"window=25h&grain=minute", "?grain"},
        {"window=61d&grain=hour", "?grain"},
        {"window=24h&workflow_id=nope", "?workflow_id"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *r = stats(&e, e.bearer, bad[i].query, 422);
        const char *path = jstr(r, "error.path");
        if (path == NULL)
            path = jstr(r, "path");
        if (path == NULL || strcmp(path, bad[i].path) != 0) {
            char *dump = json_dumps(r, JSON_COMPACT);
            mh_t_fail(__FILE__, __LINE__, "%s: want path %s, got %s", bad[i].query, bad[i].path,
                      dump);
        }
        json_decref(r);
    }
    /* The largest allowed: 24 hours by minute, 60 days by hour; a grain by default. */
    json_decref(stats(&e, e.bearer, "window=24h&grain=minute", 200));
    json_decref(stats(&e, e.bearer, "window=60d&grain=hour", 200));
    json_t *r = stats(&e, e.bearer, "window=90d", 200);
    MH_T_ASSERT_STR_EQ(jstr(r, "grain"), "day");
    MH_T_ASSERT_EQ(json_array_size(json_object_get(r, "points")), 90);
    json_decref(r);
    json_decref(
        stats(&e, e.bearer, "window=24h&workflow_id=00000000-0000-0000-0000-00000000abcd", 404));

    /* Another user: the project does not exist for them, nor its workflow. */
    char other[128], other_id[40];
    mh_it_user_token(&e.db, &e.s, "other@example.com", other, other_id);
    json_decref(stats(&e, other, "window=24h", 404));
    char q[128];
    snprintf(q, sizeof(q), "window=24h&workflow_id=%s", e.workflow);
    json_decref(stats(&e, other, q, 404));
    ienv_stop(&e);
}

MH_TEST(background_rollup_counts_real_webhooks)
{
    struct ienv e;
    /* A lag of one second: a webhook's run is committed well within it after its arrival time
     * (with no lag a pass may move past a run still being committed; docs/observability.md). */
    const char *args[] = {"--stats-interval-ms", "100", "--stats-lag-ms", "1000", NULL};
    ienv_setup(&e, args);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *pub = jstr(ep, "public_id");
    const char *h[] = {"Content-Type: application/json", NULL};
    for (int i = 0; i < 5; i++)
        MH_T_ASSERT_EQ(hook_status(&e, pub, h, "{\"n\": 1}"), 202);
    /* Waits up to 10 s for the five runs to be counted as started and succeeded. */
    json_t *s = NULL, *r = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(r);
        r = stats(&e, e.bearer, "window=1h&grain=minute", 200);
        s = json_object_get(r, "summary");
        if (num(s, "succeeded") == 5 && num(json_object_get(s, "deliveries"), "accepted") == 5)
            break;
        mh_it_sleep_ms(50);
    }
    if (num(s, "succeeded") != 5 || num(json_object_get(s, "deliveries"), "accepted") != 5) {
        char *dump = json_dumps(s, JSON_COMPACT);
        mh_t_fail(__FILE__, __LINE__, "the background rollup did not count the webhooks: %s", dump);
    }
    MH_T_ASSERT_EQ(num(s, "started"), 5);
    MH_T_ASSERT_EQ(num(s, "failed"), 0);
    rate_is(s, 0.0, __LINE__);
    MH_T_ASSERT(json_is_number(json_object_get(s, "p50_ms")));
    MH_T_ASSERT(json_is_string(json_object_get(r, "as_of")));
    json_decref(r);
    json_decref(ep);
    ienv_stop(&e);
}

/* A backlog: 1,500 runs of A are still queued when a pass first sees them (an hour ago, 1,000
 * under one minute and 500 under the next), then all finish, run k after k ms. With more than
 * 1,000 pending, the rollup looks them up at most every 10 s (migration 0038): right after one
 * look-up, their outcomes wait; once 10 s have passed (pending_checked_at moved back here), one
 * pass counts all 1,500 in their minutes, without counting them as started again. */
MH_TEST(a_backlog_of_pending_runs_is_counted_when_it_finishes)
{
    struct ienv e;
    const char *args[] = {"--workers", "0", NULL};
    ienv_setup(&e, args);
    sql_params(&e,
               "INSERT INTO runs (project_id, workflow_id, version_id, status, created_at) SELECT "
               "$1::uuid, $2::uuid, (SELECT id FROM workflow_versions WHERE workflow_id = $2::uuid "
               "AND state = 'published'), 'queued', date_trunc('hour', now()) - interval '1 hour' "
               "+ (k > 1000)::int * interval '1 minute' + k * interval '1 ms' FROM "
               "generate_series(1, 1500) k",
               e.project, e.workflow);
    rollup(&e);
    json_t *r = stats(&e, e.bearer, "window=24h&grain=hour", 200);
    json_t *s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 1500);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 0);
    json_decref(r);

    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE runs SET status = 'succeeded', finished_at = created_at + "
                          "(extract(epoch FROM created_at - date_trunc('minute', created_at)) * "
                          "1000 + 1) * interval '1 ms'",
                          0, NULL, NULL));
    json_decref(mh_it_sql(e.db.admin_url, "UPDATE stats_state SET pending_checked_at = now()", 0,
                          NULL, NULL));
    rollup(&e);
    r = stats(&e, e.bearer, "window=24h&grain=hour", 200);
    MH_T_ASSERT_EQ(num(json_object_get(r, "summary"), "succeeded"), 0);
    json_decref(r);

    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE stats_state SET pending_checked_at = now() - interval '11 s'", 0,
                          NULL, NULL));
    rollup(&e);
    r = stats(&e, e.bearer, "window=24h&grain=hour", 200);
    s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 1500);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 1500);
    json_decref(r);
    /* By minute: run k lasted k + 1 ms: 2..1001 ms in the first minute (rank 500: 501 ms),
     * 1002..1501 ms in the second (rank 250: 1251 ms). */
    r = stats(&e, e.bearer, "window=24h&grain=minute", 200);
    json_t *m0 = NULL, *m1 = NULL, *pt;
    size_t i;
    json_array_foreach(json_object_get(r, "points"), i, pt)
    {
        if (num(pt, "started") == 1000)
            m0 = pt;
        else if (num(pt, "started") == 500)
            m1 = pt;
    }
    MH_T_ASSERT(m0 != NULL && m1 != NULL);
    MH_T_ASSERT_EQ(num(m0, "succeeded"), 1000);
    MH_T_ASSERT_EQ(num(m1, "succeeded"), 500);
    near_pct(m0, "p50_ms", 501, __LINE__);
    near_pct(m1, "p50_ms", 1251, __LINE__);
    json_decref(r);
    ienv_stop(&e);
}

/* Runs still in the queue wait (migration 0038): the walk stops before the oldest job due for
 * less than 10 minutes, so a burst is folded once it has run rather than written to
 * stats_pending_runs one row per run. A job due for longer holds nothing back: its run is
 * folded, as pending. */
MH_TEST(queued_runs_are_folded_once_their_jobs_are_taken)
{
    struct ienv e;
    const char *args[] = {"--workers", "0", NULL};
    ienv_setup(&e, args);
    static const char *const queued_sql =
        "WITH r AS (INSERT INTO runs (project_id, workflow_id, version_id, status, created_at) "
        "SELECT $1::uuid, $2::uuid, (SELECT id FROM workflow_versions WHERE workflow_id = "
        "$2::uuid AND state = 'published'), 'queued', now() - $3::int * interval '1 minute' "
        "RETURNING id, created_at) INSERT INTO jobs (project_id, run_id, kind, run_at) SELECT "
        "$1::uuid, id, 'advance', created_at FROM r";
    const char *p20[] = {e.project, e.workflow, "20"};
    json_decref(mh_it_sql(e.db.admin_url, queued_sql, 3, p20, NULL));
    const char *p2[] = {e.project, e.workflow, "2"};
    json_decref(mh_it_sql(e.db.admin_url, queued_sql, 3, p2, NULL));
    rollup(&e);
    json_t *r = stats(&e, e.bearer, "window=1h&grain=minute", 200);
    MH_T_ASSERT_EQ(num(json_object_get(r, "summary"), "started"), 1);
    json_decref(r);
    json_t *rows =
        mh_it_sql(e.db.admin_url, "SELECT count(*) AS n FROM stats_pending_runs", 0, NULL, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);

    /* A worker runs the newer one: its job goes, it succeeds after 1.5 s; it is folded finished,
     * never pending. */
    json_decref(
        mh_it_sql(e.db.admin_url,
                  "WITH j AS (DELETE FROM jobs WHERE run_at > now() - interval '10 "
                  "minutes' RETURNING run_id) UPDATE runs SET status = 'succeeded', "
                  "finished_at = created_at + interval '1500 ms' FROM j WHERE id = j.run_id",
                  0, NULL, NULL));
    rollup(&e);
    r = stats(&e, e.bearer, "window=1h&grain=minute", 200);
    json_t *s = json_object_get(r, "summary");
    MH_T_ASSERT_EQ(num(s, "started"), 2);
    MH_T_ASSERT_EQ(num(s, "succeeded"), 1);
    near_pct(s, "p50_ms", 1500, __LINE__);
    json_decref(r);
    rows = mh_it_sql(e.db.admin_url, "SELECT count(*) AS n FROM stats_pending_runs", 0, NULL, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);
    ienv_stop(&e);
}
