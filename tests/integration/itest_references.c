/* SPDX-License-Identifier: MIT */
/*
 * References without foreign keys (migration 0011): runs -> workflows, events -> runs and
 * webhook_deliveries -> webhook_endpoints are kept by the statements that write them and by
 * cascade triggers. Deleting a parent removes its children; key columns do not move; and a
 * deletion in flight makes the intake and run creation wait for it, then insert nothing,
 * instead of leaving a run or a delivery behind without its parent. (Every test that stops a
 * server also checks the whole database for orphans: itest.c.) A batch held up that way is
 * logged as slow.
 */
#include <string.h>
#include <sys/wait.h>

#include "db/db.h"
#include "itest_intake_common.h"

/* Runs `sql` as the owner; returns its SQLSTATE ("00000" on success). */
static void sqlstate_of(struct ienv *e, const char *sql, const char *const *params, int n,
                        char state[6])
{
    json_t *rows = mh_it_sql(e->db.admin_url, sql, n, params, state);
    json_decref(rows);
}

/* Opens a transaction on a connection of its own that runs `sql` (one parameter) and stays
 * open; *xid receives its transaction id (32 bytes), for wait_for_waiter. */
static struct mh_db_conn *hold(struct ienv *e, const char *sql, const char *param, char *xid)
{
    struct mh_db_conn *c = owner_conn(e);
    json_t *rows = NULL;
    const char *p[] = {param};
    owner_exec(c, "BEGIN", 0, NULL, NULL);
    owner_exec(c, sql, 1, p, NULL);
    owner_exec(c, "SELECT txid_current()::text AS xid", 0, NULL, &rows);
    snprintf(xid, 32, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "xid")));
    json_decref(rows);
    return c;
}

/* Waits until some backend waits for the transaction `xid` to end (a row lock it holds). */
static void wait_for_waiter(struct ienv *e, const char *xid)
{
    const char *p[] = {xid};
    if (wait_for_count(e,
                       "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'transactionid' AND "
                       "NOT granted AND transactionid::text = $1",
                       1, p, 1) < 1)
        mh_t_fail(__FILE__, __LINE__, "nothing waited for the deleting transaction");
}

/*
 * The project is deleted (and its workflow with it) in a transaction left open, as the API
 * deletes it; `method url body` is sent meanwhile. The request must wait for the deletion (its
 * statement locks the workflow, as a foreign key would) and, once the deletion commits, insert
 * nothing. Returns its status.
 */
static long request_during_project_deletion(struct ienv *e, const char *method, const char *url,
                                            const char *body)
{
    const char *wp[] = {e->workflow};
    char xid[32];
    struct mh_db_conn *c = hold(e, "DELETE FROM projects WHERE id = $1", e->project, xid);
    struct pending r = start_request(e, method, url, body);
    wait_for_waiter(e, xid);
    owner_exec(c, "COMMIT", 0, NULL, NULL);
    mh_db_close(c);
    long st = finish(&r);
    MH_T_ASSERT_EQ(sql_count(e, "SELECT count(*) AS n FROM runs WHERE workflow_id = $1", 1, wp), 0);
    return st;
}

MH_TEST(deleting_parents_removes_their_children)
{
    struct ienv e;
    /* No workers and no pure prefix in the intake: every run holds its one run_started event. */
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--intake-pure-prefix=false", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), NULL, "{\"n\": 1}"), 202);
    /* A refused delivery is logged too (asynchronously): a GET is not an allowed method. */
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, jstr(ep, "public_id"), "GET", NULL, NULL, 0, &r), 405);
    mh_it_resp_cleanup(&r);
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e.project, e.workflow);
    json_decref(iapi(&e, "POST", path, "{\"payload\": {}}", &st));
    MH_T_ASSERT_EQ(st, 202);
    const char *wp[] = {e.workflow};
    const char *epp[] = {jstr(ep, "id")};
    const char *runs_sql = "SELECT count(*) AS n FROM runs WHERE workflow_id = $1";
    const char *events_sql = "SELECT count(*) AS n FROM events v JOIN runs r ON r.id = v.run_id "
                             "WHERE r.workflow_id = $1";
    const char *deliveries_sql =
        "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1";
    MH_T_ASSERT_EQ(wait_for_count(&e, deliveries_sql, 1, epp, 4), 4);
    MH_T_ASSERT_EQ(sql_count(&e, runs_sql, 1, wp), 4);
    MH_T_ASSERT_EQ(sql_count(&e, events_sql, 1, wp), 4);
    long events_before = sql_count(&e, "SELECT count(*) AS n FROM events", 0, NULL);

    /* The endpoint's deliveries go with it; the runs belong to the workflow and stay. */
    snprintf(path, sizeof(path), "/api/projects/%s/endpoints/%s", e.project, jstr(ep, "id"));
    json_decref(iapi(&e, "DELETE", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    MH_T_ASSERT_EQ(sql_count(&e, deliveries_sql, 1, epp), 0);
    MH_T_ASSERT_EQ(sql_count(&e, runs_sql, 1, wp), 4);

    /* A workflow with runs is only archived by the API; deleting the project deletes it, and
     * its runs go with it, and their events with them. */
    snprintf(path, sizeof(path), "/api/projects/%s", e.project);
    json_decref(iapi(&e, "DELETE", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    MH_T_ASSERT_EQ(sql_count(&e, runs_sql, 1, wp), 0);
    MH_T_ASSERT_EQ(sql_count(&e, "SELECT count(*) AS n FROM events", 0, NULL), events_before - 4);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(key_columns_do_not_move)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), NULL, "{}"), 202);
    static const char *const moves[] = {
        "UPDATE runs SET workflow_id = gen_random_uuid()",
        "UPDATE runs SET created_at = created_at + interval '1 day'",
        "UPDATE events SET run_id = gen_random_uuid()",
        "UPDATE webhook_deliveries SET endpoint_id = gen_random_uuid()",
        "UPDATE workflows SET id = gen_random_uuid()",
        "UPDATE webhook_endpoints SET id = gen_random_uuid()",
    };
    char state[6];
    for (size_t i = 0; i < sizeof(moves) / sizeof(moves[0]); i++) {
        sqlstate_of(&e, moves[i], NULL, 0, state);
        if (strcmp(state, "23503") != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: sqlstate %s", moves[i], state);
    }
    /* Naming a key column without changing it is no move. */
    sqlstate_of(&e, "UPDATE runs SET workflow_id = workflow_id", NULL, 0, state);
    MH_T_ASSERT_STR_EQ(state, "00000");
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(intake_waits_for_a_project_deletion_then_accepts_nothing)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    /* The endpoint is cached: its lookup does not see the deletion coming. */
    MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), NULL, "{}"), 202);
    char url[256];
    snprintf(url, sizeof(url), "%s/hooks/%s", e.s.base, jstr(ep, "public_id"));
    long st = request_during_project_deletion(&e, "POST", url, "{\"n\": 2}");
    MH_T_ASSERT_EQ(st, 404);
    const char *epp[] = {jstr(ep, "id")};
    MH_T_ASSERT_EQ(sql_count(&e,
                             "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1",
                             1, epp),
                   0);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(run_start_waits_for_a_project_deletion_then_starts_nothing)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    char url[256];
    snprintf(url, sizeof(url), "%s/api/projects/%s/workflows/%s/runs", e.s.base, e.project,
             e.workflow);
    long st = request_during_project_deletion(&e, "POST", url, "{\"payload\": {}}");
    MH_T_ASSERT_EQ(st, 404);
    ienv_stop(&e);
}

MH_TEST(a_batch_held_up_by_a_lock_is_logged_as_slow)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000}");
    MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), NULL, "{}"), 202);
    /* The endpoint locked FOR UPDATE: the batch's FOR KEY SHARE waits until the COMMIT. */
    char xid[32], url[256];
    struct mh_db_conn *c =
        hold(&e, "SELECT 1 FROM webhook_endpoints WHERE id = $1 FOR UPDATE", jstr(ep, "id"), xid);
    snprintf(url, sizeof(url), "%s/hooks/%s", e.s.base, jstr(ep, "public_id"));
    struct pending r = start_request(&e, "POST", url, "{\"n\": 3}");
    wait_for_waiter(&e, xid);
    mh_it_sleep_ms(300); /* the batch's transaction now lasts longer than SLOW_BATCH_MS */
    owner_exec(c, "COMMIT", 0, NULL, NULL);
    mh_db_close(c);
    MH_T_ASSERT_EQ(finish(&r), 202);
    char *log = mh_it_server_log(&e.s);
    if (strstr(log, "slow batch: its transaction took") == NULL ||
        strstr(log, "deliveries 1") == NULL)
        mh_t_fail(__FILE__, __LINE__, "no slow batch in the log:\n%s", log);
    free(log);
    json_decref(ep);
    ienv_stop(&e);
}
