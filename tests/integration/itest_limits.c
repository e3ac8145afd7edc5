/* SPDX-License-Identifier: MIT */
/*
 * Resource limits per project (migration 0033, src/intake/quota.c, src/http/handlers/limits.c,
 * docs/operations.md "Resource limits per project"): a webhook beyond a project's runs in flight
 * or stored bytes is answered 429 with Retry-After and nothing is recorded; under the limit, or
 * once it is raised, webhooks are accepted again; the runs-in-flight count follows runs that
 * finish, and counting them reads the runs in flight, not the project's history (migration
 * 0045); a project's http_calls never run more at once than its limit while another project's
 * calls flow; bad settings are a 422 naming the field, and nothing is stored.
 */
#include <string.h>

#include "itest_intake_common.h"
#include "mock_http.h"

static const char *const accepted_runs_sql =
    "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid";

static long put_limits(struct ienv *e, const char *project, const char *body)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/limits", project);
    json_decref(iapi(e, "PUT", path, body, &st));
    return st;
}

static json_t *get_limits(struct ienv *e, const char *project)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/limits", project);
    json_t *r = iapi(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return r;
}

static long usage_of(json_t *limits, const char *name)
{
    return (long)json_integer_value(json_object_get(json_object_get(limits, "usage"), name));
}

/* POSTs "{}" to the endpoint; on 429 checks the answer's code, message and Retry-After. */
static long send_one(struct ienv *e, const char *public_id, const char *refusal_code)
{
    struct mh_it_resp r;
    const char *const headers[] = {"Content-Type: application/json", NULL};
    long st = hook(e, public_id, "POST", headers, "{}", 2, &r);
    if (st == 429) {
        json_t *err = json_object_get(r.json, "error");
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "code")), refusal_code);
        MH_T_ASSERT(strstr(json_string_value(json_object_get(err, "message")), "limit") != NULL);
        char *ra = mh_it_resp_header(&r, "Retry-After");
        MH_T_ASSERT(ra != NULL && strtol(ra, NULL, 10) >= 1);
        free(ra);
    }
    mh_it_resp_cleanup(&r);
    return st;
}

MH_TEST(runs_in_flight_limit_refuses_with_429_and_a_raised_limit_accepts_again)
{
    struct ienv e;
    /* No workers, and no pure prefix decided in the intake (which would finish these pure
     * runs in the transaction that records them): runs stay queued, in flight. */
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--intake-pure-prefix=false", NULL});
    json_t *ep = ienv_endpoint(&e, "{}");
    const char *pub = jstr(ep, "public_id");
    const char *pp[] = {e.project};

    /* Unlimited by default. */
    json_t *l = get_limits(&e, e.project);
    MH_T_ASSERT(json_is_null(json_object_get(l, "runs_in_flight")));
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(l, "effective"), "runs_in_flight")), 0);
    json_decref(l);
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"runs_in_flight\": 3}"), 200);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 202);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 429);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 429);
    /* Nothing of the refused ones was recorded. */
    MH_T_ASSERT_EQ(sql_count(&e, accepted_runs_sql, 1, pp), 3);
    l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(usage_of(l, "runs_in_flight"), 3);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(l, "runs_in_flight")), 3);
    json_decref(l);

    /* Raised: two more get in, then the limit holds again. */
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"runs_in_flight\": 5}"), 200);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 202);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 202);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 429);
    /* 0 is unlimited. */
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"runs_in_flight\": 0}"), 200);
    MH_T_ASSERT_EQ(send_one(&e, pub, "runs_in_flight_limit"), 202);
    MH_T_ASSERT_EQ(sql_count(&e, accepted_runs_sql, 1, pp), 6);

    /* Bad values: 422 with the field's path, nothing stored. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/limits", e.project);
    const char *bad[][2] = {{"{\"runs_in_flight\": -1}", "/runs_in_flight"},
                            {"{\"stored_bytes\": \"big\"}", "/stored_bytes"},
                            {"{\"http_calls_in_flight\": 1.5}", "/http_calls_in_flight"},
                            {"{\"http_calls_in_flight\": 100001}", "/http_calls_in_flight"},
                            {"{\"runs\": 3}", "/runs"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *r = iapi(&e, "PUT", path, bad[i][0], &st);
        MH_T_ASSERT_EQ(st, 422);
        MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), bad[i][1]);
        json_decref(r);
    }
    l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(l, "runs_in_flight")), 0);
    json_decref(l);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM audit_log WHERE project_id = $1::uuid AND "
                             "action = 'limits.update'",
                             1, pp),
                   3);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(the_server_default_applies_to_projects_that_set_none_and_finished_runs_free_places)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--limit-runs-in-flight", "2", NULL});
    json_t *ep = ienv_endpoint(&e, "{}");
    const char *pub = jstr(ep, "public_id");
    const char *pp[] = {e.project};
    json_t *l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(l, "defaults"), "runs_in_flight")), 2);
    json_decref(l);
    /* Runs finish (the workers run them), and their places come free: ten webhooks one after
     * another, each once the previous one's run has finished, all get in. */
    for (int i = 1; i <= 10; i++) {
        long st = 0;
        for (int k = 0; k < 200 && (st = send_one(&e, pub, "runs_in_flight_limit")) == 429; k++)
            mh_it_sleep_ms(50);
        MH_T_ASSERT_EQ(st, 202);
        MH_T_ASSERT_EQ(wait_for_count(&e,
                                      "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid "
                                      "AND status = 'succeeded'",
                                      1, pp, i),
                       i);
    }
    /* The count the intake reads is exact: nothing in flight now. */
    l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(usage_of(l, "runs_in_flight"), 0);
    json_decref(l);
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid AND "
                             "status IN ('queued', 'running')",
                             1, pp),
                   0);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(stored_bytes_limit_refuses_once_measured_and_a_raised_limit_accepts_again)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    json_t *ep = ienv_endpoint(&e, "{}");
    const char *pub = jstr(ep, "public_id");
    const char *pp[] = {e.project};
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"stored_bytes\": 2000}"), 200);
    /* Not measured yet: 0 bytes, under the limit. */
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(send_one(&e, pub, "stored_bytes_limit"), 202);
    /* The retention pass measures (here its SQL function, as the schema owner). */
    json_decref(mh_it_sql(e.db.admin_url, "SELECT mh_limits_measure()", 0, NULL, NULL));
    json_t *l = get_limits(&e, e.project);
    long bytes = usage_of(l, "stored_bytes");
    MH_T_ASSERT(bytes > 2000);
    MH_T_ASSERT(
        json_is_string(json_object_get(json_object_get(l, "usage"), "stored_bytes_measured_at")));
    json_decref(l);
    /* The intake reads the figure within a second (its refresher). */
    long st = 0;
    for (int k = 0; k < 60 && (st = send_one(&e, pub, "stored_bytes_limit")) == 202; k++)
        mh_it_sleep_ms(50);
    MH_T_ASSERT_EQ(st, 429);
    long runs = sql_count(&e, accepted_runs_sql, 1, pp);
    MH_T_ASSERT_EQ(send_one(&e, pub, "stored_bytes_limit"), 429);
    MH_T_ASSERT_EQ(sql_count(&e, accepted_runs_sql, 1, pp), runs);
    /* Raised above the usage: accepted again at once. */
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"stored_bytes\": 1000000000}"), 200);
    MH_T_ASSERT_EQ(send_one(&e, pub, "stored_bytes_limit"), 202);
    MH_T_ASSERT_EQ(sql_count(&e, accepted_runs_sql, 1, pp), runs + 1);
    json_decref(ep);
    ienv_stop(&e);
}

/* 20,000 finished runs of one project (a third each succeeded, failed, canceled) over the last
 * day, and 7 in flight: 3 queued and 4 running, one of these created before all the history (a
 * run waiting on a long delay) and one after it. */
static const char *const history_sql =
    "WITH v AS (SELECT id FROM workflow_versions WHERE workflow_id = $2::uuid AND state = "
    "'published'), h AS (INSERT INTO runs (project_id, workflow_id, version_id, status, "
    "created_at, started_at, finished_at) SELECT $1::uuid, $2::uuid, v.id, (ARRAY['succeeded', "
    "'failed', 'canceled'])[1 + k % 3], t, t, t + interval '1 second' FROM v, generate_series(1, "
    "20000) k, LATERAL (SELECT now() - interval '1 day' + k * interval '4 seconds' AS t) x "
    "RETURNING 1) "
    "INSERT INTO runs (project_id, workflow_id, version_id, status, created_at, started_at) "
    "SELECT $1::uuid, $2::uuid, v.id, CASE WHEN k <= 3 THEN 'queued' ELSE 'running' END, "
    "CASE k WHEN 4 THEN now() - interval '2 days' ELSE now() END, CASE WHEN k > 3 THEN now() END "
    "FROM v, generate_series(1, 7) k WHERE (SELECT count(*) FROM h) = 20000";

/* Rows of `runs` the usage query reads, in a connection of its own (so the backend's statistics
 * of this transaction hold that statement alone): the heap tuples fetched and read by a
 * sequential scan, and the index entries its indexes returned; and the runs in flight it said.
 * `count_unlimited` as the function's last argument: the intake passes false. */
static void usage_reads(struct ienv *e, const char *count_unlimited, long *rows_read,
                        long *in_flight)
{
    const char *p[] = {e->project, count_unlimited};
    json_t *r = mh_it_sql(e->db.admin_url,
                          "SELECT u.runs_in_flight AS n, " MH_IT_RUNS_ROWS_READ_SQL
                          " AS reads FROM mh_limits_usage(ARRAY[$1::uuid], 0, 0, 0, "
                          "$2::boolean) u",
                          2, p, NULL);
    MH_T_ASSERT(r != NULL && json_array_size(r) == 1);
    *in_flight = (long)json_integer_value(json_object_get(json_array_get(r, 0), "n"));
    *rows_read = (long)json_integer_value(json_object_get(json_array_get(r, 0), "reads"));
    json_decref(r);
}

/* A plan node's "Shared Hit Blocks" + "Shared Read Blocks". */
static long plan_buffers(json_t *node)
{
    return (long)(json_integer_value(json_object_get(node, "Shared Hit Blocks")) +
                  json_integer_value(json_object_get(node, "Shared Read Blocks")));
}

/* Counting a project's runs in flight reads its runs in flight, not its history (migration
 * 0045: migration 0039 counted through an index that 0009 had dropped, so every count walked
 * all of the project's runs). Measured by what cannot be noise: the rows of `runs` the usage
 * query reads (backend statistics) and the buffers its plan touches (EXPLAIN ANALYZE BUFFERS),
 * both of which are in the tens of thousands and the hundreds when the history is read. */
MH_TEST(counting_runs_in_flight_reads_the_runs_in_flight_not_the_history)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    const char *pw[] = {e.project, e.workflow};
    json_t *rows = mh_it_sql(e.db.admin_url, history_sql, 2, pw, NULL);
    MH_T_ASSERT(rows != NULL);
    json_decref(rows);
    /* As autovacuum would: the planner sees 20,007 runs, of which 7 are in flight. */
    mh_it_sql_script(e.db.admin_url, "VACUUM ANALYZE runs");
    const char *pp[] = {e.project};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid AND "
                             "status IN ('queued', 'running')",
                             1, pp),
                   7);

    /* The Limits page's count (every project) and the intake's (a project with a runs limit). */
    json_t *l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(usage_of(l, "runs_in_flight"), 7);
    json_decref(l);
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"runs_in_flight\": 100}"), 200);
    long reads, n;
    usage_reads(&e, "true", &reads, &n);
    MH_T_ASSERT_EQ(n, 7);
    usage_reads(&e, "false", &reads, &n);
    MH_T_ASSERT_EQ(n, 7);

    /* The plan: the function's own statement runs inside its Function Scan node, whose buffers
     * include it. Once warmed up (the catalog lookups of planning it), a count of 7 runs
     * touches a few index and heap pages; reading the history touches every page of the
     * project's runs (20,000 of them fill about 400). */
    const char *explain_sql =
        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM mh_limits_usage(ARRAY[$1::uuid], "
        "0, 0, 0, false)";
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(e.db.admin_url, &c, &info), MH_OK);
    json_t *plan = NULL;
    for (int i = 0; i < 2; i++) {
        json_decref(plan);
        plan = NULL;
        MH_T_ASSERT_EQ(mh_db_query(c, explain_sql, 1, pp, &plan, NULL, &info), MH_OK);
    }
    mh_db_close(c);
    json_t *doc = json_object_get(json_array_get(plan, 0), "QUERY PLAN");
    json_t *parsed = NULL;
    if (json_is_string(doc))
        doc = parsed = json_loads(json_string_value(doc), 0, NULL);
    json_t *top = json_object_get(json_array_get(doc, 0), "Plan");
    MH_T_ASSERT(top != NULL);
    long buffers = plan_buffers(top);
    json_decref(parsed);
    json_decref(plan);
    if (reads > 100 || buffers > 60)
        mh_t_fail(__FILE__, __LINE__,
                  "counting 7 runs in flight read %ld rows of runs and touched %ld buffers", reads,
                  buffers);
    /* Nor is it compiled by JIT: the statement is planned at every call, and was compiled at
     * every call once the history's estimate passed jit_above_cost, counting or not (migration
     * 0045). JIT's work shows in no statistics an EXPLAIN of the caller can read, so this checks
     * the setting. */
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM pg_proc WHERE proname = 'mh_limits_usage' "
                             "AND 'jit=off' = ANY (proconfig)",
                             0, NULL),
                   1);
    ienv_stop(&e);
}

/* Publishes a workflow of `nodes` (a JSON array text, no edges); its id in `wf` (40 bytes). */
static void publish_nodes(struct ienv *e, const char *nodes, char *wf)
{
    char def[2048];
    snprintf(def, sizeof(def), "{\"nodes\": %s, \"edges\": []}", nodes);
    ienv_publish(e, "w", def, wf);
}

static void unavailable(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *reply)
{
    (void)ctx;
    (void)req;
    reply->status = 503;
}

/* The count is of runs queued or running whatever they wait on, taken by the engine itself: a
 * delay, a callback, a child workflow (the caller and the child, which waits on a delay), a
 * retry's backoff; a finished run is not counted, nor another project's run in flight. */
MH_TEST(runs_waiting_on_a_delay_a_callback_a_child_or_a_retry_are_in_flight)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    struct mh_mock *m = mh_mock_start(unavailable, NULL);
    char url[128], nodes[1024], delay[40], cb[40], child[40], caller[40], retry[40], done[40];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/down", mh_mock_port(m));
    publish_nodes(&e, "[{\"id\": \"d\", \"type\": \"delay\", \"config\": {\"duration\": \"1h\"}}]",
                  delay);
    publish_nodes(&e,
                  "[{\"id\": \"cb\", \"type\": \"wait_callback\", \"config\": {\"timeout\": "
                  "\"1h\"}}]",
                  cb);
    publish_nodes(&e, "[{\"id\": \"d\", \"type\": \"delay\", \"config\": {\"duration\": \"1h\"}}]",
                  child);
    snprintf(nodes, sizeof(nodes),
             "[{\"id\": \"c\", \"type\": \"call_workflow\", \"config\": {\"workflow_id\": \"%s\", "
             "\"input\": \"trigger.body\"}}]",
             child);
    publish_nodes(&e, nodes, caller);
    snprintf(nodes, sizeof(nodes),
             "[{\"id\": \"h\", \"type\": \"http_call\", \"config\": {\"url\": \"%s\", \"method\": "
             "\"GET\", \"retry\": {\"max_attempts\": 5, \"base_delay_ms\": 3600000, "
             "\"max_delay_ms\": 3600000}}}]",
             url);
    publish_nodes(&e, nodes, retry);
    publish_nodes(&e,
                  "[{\"id\": \"t\", \"type\": \"transform\", \"config\": {\"expression\": "
                  "\"trigger.body\"}}]",
                  done);
    /* Another project's run waiting on a delay. */
    char mine[40], other[40], other_wf[40];
    snprintf(mine, sizeof(mine), "%s", e.project);
    mh_it_project(&e.s, e.bearer, "other", other);
    snprintf(e.project, sizeof(e.project), "%s", other);
    publish_nodes(&e, "[{\"id\": \"d\", \"type\": \"delay\", \"config\": {\"duration\": \"1h\"}}]",
                  other_wf);
    ienv_start_run(&e, other_wf);
    snprintf(e.project, sizeof(e.project), "%s", mine);

    const char *wfs[] = {delay, cb, caller, retry, done};
    for (size_t i = 0; i < sizeof(wfs) / sizeof(wfs[0]); i++)
        ienv_start_run(&e, wfs[i]);
    const char *pp[] = {e.project};
    /* Every run has reached what it waits on: the transform's run finished, the http_call was
     * answered 503 once and its retry is scheduled, the child waits on its timer (and so its
     * caller on it), and so does the other project's run. */
    MH_T_ASSERT_EQ(wait_for_count(&e,
                                  "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid AND "
                                  "status = 'succeeded'",
                                  1, pp, 1),
                   1);
    MH_T_ASSERT_EQ(wait_for_count(&e,
                                  "SELECT count(*) AS n FROM events WHERE project_id = $1::uuid "
                                  "AND type = 'retry_scheduled'",
                                  1, pp, 1),
                   1);
    MH_T_ASSERT_EQ(wait_for_count(&e,
                                  "SELECT count(*) AS n FROM runs WHERE call_depth = 1 AND "
                                  "status = 'running'",
                                  0, NULL, 1),
                   1);
    MH_T_ASSERT_EQ(
        wait_for_count(&e, "SELECT count(*) AS n FROM runs WHERE status = 'running'", 0, NULL, 6),
        6);
    const char *in_flight_sql = "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid AND "
                                "status IN ('queued', 'running')";
    MH_T_ASSERT_EQ(sql_count(&e, in_flight_sql, 1, pp), 5);
    json_t *l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(usage_of(l, "runs_in_flight"), 5);
    json_decref(l);
    l = get_limits(&e, other);
    MH_T_ASSERT_EQ(usage_of(l, "runs_in_flight"), 1);
    json_decref(l);
    /* The intake's form of the count (a project with a runs limit) says the same. */
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"runs_in_flight\": 100}"), 200);
    long reads, n;
    usage_reads(&e, "false", &reads, &n);
    MH_T_ASSERT_EQ(n, 5);
    mh_mock_stop(m);
    ienv_stop(&e);
}

static void slow_reply(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *reply)
{
    (void)ctx;
    (void)req;
    reply->delay_ms = 300;
}

/* A workflow in `project` of one http_call POSTing to `url`; its endpoint's public id. */
static void call_endpoint(struct ienv *e, const char *project_id, const char *url, char *public_id)
{
    char project[40], saved_p[40], saved_w[40], def[512];
    /* `project_id` may be e->project itself, which is overwritten below. */
    snprintf(project, sizeof(project), "%s", project_id);
    snprintf(saved_p, sizeof(saved_p), "%s", e->project);
    snprintf(saved_w, sizeof(saved_w), "%s", e->workflow);
    snprintf(e->project, sizeof(e->project), "%s", project);
    snprintf(def, sizeof(def),
             "{\"nodes\": [{\"id\": \"call\", \"type\": \"http_call\", \"config\": {\"url\": "
             "\"%s\", \"method\": \"POST\"}}], \"edges\": []}",
             url);
    ienv_publish(e, "calls", def, e->workflow);
    json_t *ep = ienv_endpoint(e, "{}");
    snprintf(public_id, 64, "%s", jstr(ep, "public_id"));
    json_decref(ep);
    snprintf(e->project, sizeof(e->project), "%s", saved_p);
    snprintf(e->workflow, sizeof(e->workflow), "%s", saved_w);
}

MH_TEST(http_calls_in_flight_never_exceed_the_limit_while_another_project_flows)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "4", NULL});
    struct mh_mock *m = mh_mock_start_concurrent(slow_reply, NULL);
    char url_a[128], url_b[128], pub_a[64], pub_b[64], other[40];
    snprintf(url_a, sizeof(url_a), "http://127.0.0.1:%d/a", mh_mock_port(m));
    snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%d/b", mh_mock_port(m));
    mh_it_project(&e.s, e.bearer, "other", other);
    call_endpoint(&e, e.project, url_a, pub_a);
    call_endpoint(&e, other, url_b, pub_b);
    MH_T_ASSERT_EQ(put_limits(&e, e.project, "{\"http_calls_in_flight\": 2}"), 200);
    json_t *l = get_limits(&e, e.project);
    MH_T_ASSERT_EQ(json_integer_value(
                       json_object_get(json_object_get(l, "effective"), "http_calls_in_flight")),
                   2);
    json_decref(l);
    for (int i = 0; i < 10; i++)
        MH_T_ASSERT_EQ(send_one(&e, pub_a, "none"), 202);
    for (int i = 0; i < 4; i++)
        MH_T_ASSERT_EQ(send_one(&e, pub_b, "none"), 202);
    const char *pa[] = {e.project}, *pb[] = {other};
    const char *done_sql =
        "SELECT count(*) AS n FROM runs WHERE project_id = $1::uuid AND status = "
        "'succeeded'";
    /* The other project's four calls (300 ms each) are done long before the ten of this one,
     * two at a time, could be (1.5 s). */
    MH_T_ASSERT_EQ(wait_for_count(&e, done_sql, 1, pb, 4), 4);
    MH_T_ASSERT(sql_count(&e, done_sql, 1, pa) < 10);
    MH_T_ASSERT_EQ(wait_for_count(&e, done_sql, 1, pa, 10), 10);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/a"), 10);
    MH_T_ASSERT_EQ(mh_mock_peak(m, "/a"), 2);
    MH_T_ASSERT(mh_mock_peak(m, "/b") >= 2);
    /* Holding back spent no attempt: one attempt per call, no retry. */
    MH_T_ASSERT_EQ(
        sql_count(&e,
                  "SELECT count(*) AS n FROM events WHERE project_id = $1::uuid AND type = "
                  "'http_attempt'",
                  1, pa),
        10);
    MH_T_ASSERT_EQ(
        sql_count(&e,
                  "SELECT count(*) AS n FROM events WHERE project_id = $1::uuid AND type = "
                  "'retry_scheduled'",
                  1, pa),
        0);
    mh_mock_stop(m);
    ienv_stop(&e);
}
