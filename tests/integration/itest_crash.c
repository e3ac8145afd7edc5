/* SPDX-License-Identifier: MIT */
/*
 * Crash safety: 2,000 runs with an http_call each are in flight when the serving process is
 * killed with SIGKILL, three times. After the last restart every run must end, no step may have
 * its success recorded twice, and every run's log must replay without divergence.
 */
#include <signal.h>
#include <stdatomic.h>

#include "db/db.h"
#include "runtime/store.h"
#include "itest.h"
#include "mock_http.h"

#define RUNS 2000

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = 200;
    rep->delay_ms = 2;
    snprintf(rep->body, sizeof(rep->body), "{\"seen\": %d, \"len\": %zu}", req->hit, req->body_len);
}

static long long scalar(const char *url, const char *sql)
{
    json_t *rows = mh_it_sql(url, sql, 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

MH_TEST(two_thousand_runs_survive_three_sigkills)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_mock *m = mh_mock_start(target, NULL);
    const char *args[] = {
        "--job-lease-ms", "1500", "--worker-batch", "32", "--pool-size", "12",
        /* The target is one thread: a breaker opening under the burst would only slow the test
         * down (breakers are tested in tests/unit/test_outbound.c). */
        "--breaker-failures", "1000", "--breaker-open-ms", "200", NULL};
    struct mh_it_server s;
    mh_it_server_start(&s, &db, args);
    char bearer[128], user[40], project[40];
    mh_it_user_token(&db, &s, "crash@example.com", bearer, user);
    mh_it_project(&s, bearer, "crash", project);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/work", mh_mock_port(m));
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:{s:s}, s:i, s:{s:i, s:i, s:i}}}, "
                  "{s:s, s:s, s:{s:s}}], s:[{s:s, s:s}, {s:s, s:s}]}",
                  "nodes", "id", "prep", "type", "transform", "config", "expression",
                  "{n: trigger.body.n}", "id", "call", "type", "http_call", "config", "url", url,
                  "body", "expression", "steps.prep.output", "timeout_ms", 5000, "retry",
                  "max_attempts", 10, "base_delay_ms", 50, "max_delay_ms", 500, "id", "end", "type",
                  "terminate", "config", "output", "steps.call.output.body", "edges", "from",
                  "prep", "to", "call", "from", "call", "to", "end");
    json_t *req = json_pack("{s:s, s:o}", "name", "crash", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", project);
    long st;
    json_t *w = mh_it_api(&s, bearer, "POST", path, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 201);
    char wf[40];
    snprintf(wf, sizeof(wf), "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", project, wf);
    json_t *v = mh_it_api(&s, bearer, "POST", path, NULL, &st);
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(v);
    const char *wp[] = {wf};
    json_t *vrow = mh_it_sql(db.admin_url,
                             "SELECT id FROM workflow_versions WHERE workflow_id = $1 AND state = "
                             "'published'",
                             1, wp, NULL);
    char version_id[40];
    snprintf(version_id, sizeof(version_id), "%s",
             json_string_value(json_object_get(json_array_get(vrow, 0), "id")));
    json_decref(vrow);

    /* Enqueue directly, in batches of 250 per transaction, while the workers already run. */
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(db.app_url, &c, &info), MH_OK);
    for (int i = 0; i < RUNS; i++) {
        if (i % 250 == 0)
            MH_T_ASSERT_EQ(mh_db_begin(c, NULL, project, &info), MH_OK);
        json_t *trigger = json_pack("{s:{s:i}, s:{}, s:{}, s:s}", "body", "n", i, "headers",
                                    "query", "received_at", "2026-01-01T00:00:00Z");
        struct mh_run_start rs = {.project_id = project,
                                  .workflow_id = wf,
                                  .version_id = version_id,
                                  .version = 1,
                                  .trigger = trigger};
        char run_id[37];
        MH_T_ASSERT_EQ(mh_engine_run_create(c, &rs, run_id, &info), MH_OK);
        json_decref(trigger);
        if (i % 250 == 249)
            MH_T_ASSERT_EQ(mh_db_commit(c, &info), MH_OK);
    }
    mh_db_close(c);

    /* Three times: let it work a little, then kill it without warning and start it again. */
    const char *done_sql = "SELECT count(*) AS n FROM runs WHERE status IN ('succeeded', "
                           "'failed', 'canceled')";
    long long done_at_first_kill = -1;
    for (int k = 0; k < 3; k++) {
        mh_it_sleep_ms(500 + 250 * k);
        long long d = scalar(db.admin_url, done_sql);
        if (k == 0)
            done_at_first_kill = d;
        MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGKILL), 128 + SIGKILL);
        mh_it_server_start(&s, &db, args);
    }
    /* The kills hit runs in flight, not a finished batch. */
    MH_T_ASSERT(done_at_first_kill < RUNS);
    long long done = 0;
    for (int i = 0; i < 1200 && done < RUNS; i++) {
        mh_it_sleep_ms(100);
        done = scalar(db.admin_url, done_sql);
    }
    MH_T_ASSERT_EQ(done, RUNS);
    MH_T_ASSERT_EQ(scalar(db.admin_url, "SELECT count(*) AS n FROM runs WHERE status = "
                                        "'succeeded'"),
                   RUNS);
    /* Exactly-once effect on the log: no step succeeded twice, no seq twice, no job left. */
    MH_T_ASSERT_EQ(scalar(db.admin_url,
                          "SELECT count(*) AS n FROM (SELECT run_id, node_id FROM events WHERE "
                          "type = 'step_succeeded' GROUP BY 1, 2 HAVING count(*) > 1) d"),
                   0);
    MH_T_ASSERT_EQ(scalar(db.admin_url, "SELECT count(*) AS n FROM jobs"), 0);
    MH_T_ASSERT(mh_mock_hits(m, "/work") >= RUNS);

    /* Every log replays cleanly. */
    json_t *runs = mh_it_sql(db.admin_url, "SELECT id FROM runs", 0, NULL, NULL);
    MH_T_ASSERT_EQ(mh_db_connect(db.admin_url, &c, &info), MH_OK);
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        json_t *report = NULL;
        const char *id = json_string_value(json_object_get(r, "id"));
        MH_T_ASSERT_EQ(mh_engine_run_replay(c, id, &report, &info), MH_OK);
        if (!json_is_true(json_object_get(report, "ok"))) {
            char *dump = json_dumps(report, 0);
            mh_t_fail(__FILE__, __LINE__, "run %s: %s", id, dump);
        }
        json_decref(report);
    }
    mh_db_close(c);
    json_decref(runs);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
    mh_mock_stop(m);
}
