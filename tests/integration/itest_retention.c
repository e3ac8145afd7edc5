/* SPDX-License-Identifier: MIT */
/*
 * Data retention (migration 0025, src/retention, docs/observability.md "Retention"): rows older
 * than a project's settings go, newer ones and unfinished runs stay, a wholly expired event
 * partition is dropped while one holding an unfinished run stays, `meshhook retention
 * --dry-run` prints exactly what the real pass then removes, the background job of `meshhook
 * serve` does the same in small batches, and bad settings are a 422 that stores nothing. Old
 * data is inserted with explicit timestamps as the schema owner.
 */
#include <string.h>

#include "itest_intake_common.h"

/* Inserts a run of the test's workflow created `days_ago` days ago with `status`, two events
 * and a job; `id` receives its id (40 bytes). */
static void old_run(struct ienv *e, const char *project, const char *workflow, int days_ago,
                    const char *status, char *id)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", days_ago);
    const char *p[] = {project, workflow, days, status};
    json_t *rows = mh_it_sql(
        e->db.admin_url,
        "WITH r AS (INSERT INTO runs (project_id, workflow_id, version_id, version, status, "
        "created_at) SELECT $1::uuid, $2::uuid, v.id, v.version, $4, now() - $3::int * "
        "interval '1 day' FROM workflow_versions v WHERE v.workflow_id = $2::uuid AND v.state = "
        "'published' ORDER BY v.version DESC LIMIT 1 RETURNING id, created_at, project_id), "
        "ev AS (INSERT INTO events (run_id, run_created_at, seq, project_id, type, payload, "
        "hash) SELECT r.id, r.created_at, s, r.project_id, 'note', '{}', sha256(s::text::bytea) "
        "FROM r, generate_series(1, 2) s), "
        "j AS (INSERT INTO jobs (project_id, run_id, kind, run_at) SELECT r.project_id, r.id, "
        "'advance', now() + interval '1 day' FROM r) "
        "SELECT id::text AS id FROM r",
        4, p, NULL);
    MH_T_ASSERT(rows != NULL && json_array_size(rows) == 1);
    snprintf(id, 40, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
}

static void old_delivery(struct ienv *e, const char *project, const char *endpoint, int days_ago)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", days_ago);
    const char *p[] = {project, endpoint, days};
    json_decref(mh_it_sql(e->db.admin_url,
                          "INSERT INTO webhook_deliveries (project_id, endpoint_id, received_at, "
                          "method, status, outcome, reason) VALUES ($1, $2, now() - $3::int * "
                          "interval '1 day', 'POST', 401, 'refused', 'signature')",
                          3, p, NULL));
}

static void old_dead_letter(struct ienv *e, const char *project, const char *run_id, int days_ago)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", days_ago);
    const char *p[] = {project, run_id, days};
    json_decref(mh_it_sql(e->db.admin_url,
                          "INSERT INTO dead_letters (project_id, run_id, kind, payload, attempts, "
                          "failed_at) VALUES ($1, $2::uuid, 'advance', '{}', 5, now() - $3::int "
                          "* interval '1 day')",
                          3, p, NULL));
}

static void old_blob(struct ienv *e, const char *project, const char *content, int days_ago)
{
    char days[16];
    snprintf(days, sizeof(days), "%d", days_ago);
    const char *p[] = {project, content, days};
    json_decref(mh_it_sql(e->db.admin_url,
                          "INSERT INTO blobs (project_id, hash, size_bytes, data, created_at, "
                          "last_used_at) VALUES ($1, sha256(convert_to($2, 'UTF8')), "
                          "length($2), convert_to($2, 'UTF8'), now() - $3::int * interval "
                          "'1 day', now() - $3::int * interval '1 day')",
                          3, p, NULL));
}

static long count1(struct ienv *e, const char *sql, const char *param)
{
    const char *p[] = {param};
    return sql_count(e, sql, param ? 1 : 0, p);
}

/* Output after its first line (the header, which differs between a dry and a real pass). */
static const char *body_of(const char *out)
{
    const char *nl = strchr(out, '\n');
    return nl ? nl + 1 : out;
}

static void expect_line(const char *out, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "%s\n", line);
    if (strstr(out, want) == NULL)
        mh_t_fail(__FILE__, __LINE__, "no line '%s' in:\n%s", line, out);
}

/* A second project with its own published workflow, through the API. */
static void second_project(struct ienv *e, char *project, char *workflow)
{
    char saved[40];
    snprintf(saved, sizeof(saved), "%s", e->project);
    mh_it_project(&e->s, e->bearer, "other", project);
    snprintf(e->project, sizeof(e->project), "%s", project);
    ienv_workflow(e, workflow);
    snprintf(e->project, sizeof(e->project), "%s", saved);
}

MH_TEST(old_rows_go_newer_ones_and_unfinished_runs_stay_and_the_dry_run_matches)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0",
                                         "--retention-runs-days", "60", NULL});
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/retention", e.project);
    json_t *r = iapi(&e, "PUT", path,
                     "{\"runs_days\": 10, \"deliveries_days\": 5, \"dead_letters_days\": 20}", &st);
    MH_T_ASSERT_EQ(st, 200);
    json_decref(r);
    json_t *ep = ienv_endpoint(&e, "{}");
    const char *endpoint = jstr(ep, "id");
    char other[40], other_wf[40];
    second_project(&e, other, other_wf);

    char gone[40], gone2[40], kept_new[40], running[40], queued[40], other_old[40];
    old_run(&e, e.project, e.workflow, 15, "succeeded", gone);
    old_run(&e, e.project, e.workflow, 11, "failed", gone2);
    old_run(&e, e.project, e.workflow, 5, "succeeded", kept_new);
    old_run(&e, e.project, e.workflow, 40, "running", running);
    old_run(&e, e.project, e.workflow, 40, "queued", queued);
    /* The other project follows the default given to the command, 60 days (30 without). */
    old_run(&e, other, other_wf, 40, "canceled", other_old);
    old_dead_letter(&e, e.project, gone, 1);    /* goes with its run */
    old_dead_letter(&e, e.project, NULL, 25);   /* past 20 days */
    old_dead_letter(&e, e.project, NULL, 15);   /* stays */
    old_dead_letter(&e, e.project, running, 1); /* its run stays: so does it */
    old_delivery(&e, e.project, endpoint, 7);
    old_delivery(&e, e.project, endpoint, 6);
    old_delivery(&e, e.project, endpoint, 3);
    old_blob(&e, e.project, "old body", 15);
    old_blob(&e, e.project, "newer body", 5);
    old_blob(&e, other, "other old body", 15);

    char *dry = NULL, *real = NULL;
    const char *const dry_args[] = {"retention", "--dry-run", "--retention-runs-days", "60", NULL};
    const char *const real_args[] = {"retention", "--retention-runs-days", "60", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e.db, dry_args, &dry), 0);
    /* The dry run removed nothing. */
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE project_id = $1", e.project),
                   5);
    MH_T_ASSERT(strncmp(dry, "would remove (dry run", 21) == 0);
    MH_T_ASSERT_EQ(mh_it_run(&e.db, real_args, &real), 0);
    MH_T_ASSERT(strncmp(real, "removed as of ", 14) == 0);
    MH_T_ASSERT_STR_EQ(body_of(dry), body_of(real));

    char line[160];
    snprintf(line, sizeof(line), "project %s runs 2", e.project);
    expect_line(real, line);
    snprintf(line, sizeof(line), "project %s jobs 2", e.project);
    expect_line(real, line);
    snprintf(line, sizeof(line), "project %s dead_letters 2", e.project);
    expect_line(real, line);
    snprintf(line, sizeof(line), "project %s deliveries 2", e.project);
    expect_line(real, line);
    snprintf(line, sizeof(line), "project %s blobs 1", e.project);
    expect_line(real, line);
    expect_line(real, "total runs 2");
    expect_line(real, "total partitions 0");
    MH_T_ASSERT(strstr(real, other) == NULL);

    /* What went is gone, with its events and jobs; the rest is all there. */
    const char *ids[] = {gone, gone2};
    for (int i = 0; i < 2; i++) {
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", ids[i]), 0);
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM events WHERE run_id = $1", ids[i]), 0);
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM jobs WHERE run_id = $1", ids[i]), 0);
        MH_T_ASSERT_EQ(
            count1(&e, "SELECT count(*) AS n FROM dead_letters WHERE run_id = $1", ids[i]), 0);
    }
    const char *kept[] = {kept_new, running, queued, other_old};
    for (int i = 0; i < 4; i++) {
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", kept[i]), 1);
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM events WHERE run_id = $1", kept[i]),
                       2);
        MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM jobs WHERE run_id = $1", kept[i]), 1);
    }
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM dead_letters WHERE project_id = $1", e.project), 2);
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM dead_letters WHERE project_id = $1 AND "
                          "failed_at < now() - interval '20 days'",
                          e.project),
                   0);
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM webhook_deliveries WHERE endpoint_id = $1", endpoint),
        1);
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM blobs WHERE project_id = $1 AND data = "
                          "convert_to('newer body', 'UTF8')",
                          e.project),
                   1);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM blobs WHERE project_id = $1", e.project),
                   1);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM blobs WHERE project_id = $1", other), 1);

    /* A second pass finds nothing more. */
    free(real);
    MH_T_ASSERT_EQ(mh_it_run(&e.db, real_args, &real), 0);
    expect_line(real, "total runs 0");
    expect_line(real, "total deliveries 0");
    free(dry);
    free(real);
    json_decref(ep);
    ienv_stop(&e);
}

/* Creates the monthly partition events_YYYYMM of the month `months_ago` months back, as the
 * server's mh_ensure_event_partitions would have when that month was current; `name` receives
 * its name (32 bytes). */
static void old_partition(struct ienv *e, int months_ago, char *name)
{
    char m[16];
    snprintf(m, sizeof(m), "%d", months_ago);
    const char *p[] = {m};
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT format('events_%s', to_char(date_trunc('month', now()) - "
                             "$1::int * interval '1 month', 'YYYYMM')) AS name",
                             1, p, NULL);
    snprintf(name, 32, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "name")));
    json_decref(rows);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "DO $$ DECLARE m timestamptz := date_trunc('month', now()) - %d * interval "
             "'1 month'; BEGIN EXECUTE format('CREATE TABLE %%I PARTITION OF events FOR VALUES "
             "FROM (%%L) TO (%%L)', '%s', m, m + interval '1 month'); END $$",
             months_ago, name);
    mh_it_sql_script(e->db.admin_url, sql);
}

MH_TEST(a_wholly_expired_partition_is_dropped_one_with_an_unfinished_run_stays)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0", NULL});
    char expired[32], busy[32];
    old_partition(&e, 14, expired);
    old_partition(&e, 13, busy);
    char a[40], b[40], waiting[40];
    old_run(&e, e.project, e.workflow, 430, "succeeded", a);
    old_run(&e, e.project, e.workflow, 430, "failed", b);
    old_run(&e, e.project, e.workflow, 400, "running", waiting);
    /* Where the rows are. */
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s", expired);
    MH_T_ASSERT_EQ(count1(&e, sql, NULL), 4);
    snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s", busy);
    MH_T_ASSERT_EQ(count1(&e, sql, NULL), 2);

    char *dry = NULL, *real = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e.db, (const char *const[]){"retention", "--dry-run", NULL}, &dry),
                   0);
    char want[64];
    snprintf(want, sizeof(want), "partition %s ", expired);
    MH_T_ASSERT(strstr(dry, want) != NULL);
    snprintf(want, sizeof(want), "partition %s ", busy);
    MH_T_ASSERT(strstr(dry, want) == NULL);
    expect_line(dry, "total partitions 1");
    /* Still there after the dry run. */
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", expired), 1);

    MH_T_ASSERT_EQ(mh_it_run(&e.db, (const char *const[]){"retention", NULL}, &real), 0);
    MH_T_ASSERT_STR_EQ(body_of(dry), body_of(real));
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", expired), 0);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", busy), 1);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", a), 0);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", b), 0);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM events WHERE run_id = $1", waiting), 2);
    /* Partitions ahead keep being made, as before. */
    MH_T_ASSERT(count1(&e,
                       "SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = "
                       "i.inhrelid WHERE i.inhparent = 'events'::regclass AND c.relname = "
                       "format('events_%s', to_char(now() + interval '1 month', 'YYYYMM'))",
                       NULL) == 1);
    free(dry);
    free(real);
    ienv_stop(&e);
}

MH_TEST(the_server_removes_expired_rows_in_small_batches)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "1",
                                         "--retention-batch-rows", "2", "--retention-runs-days",
                                         "7", NULL});
    char id[40], fresh[40];
    for (int i = 0; i < 5; i++)
        old_run(&e, e.project, e.workflow, 8 + i, "succeeded", id);
    old_run(&e, e.project, e.workflow, 6, "succeeded", fresh);
    long left = -1;
    for (int i = 0; i < 200 && left != 1; i++) {
        left = count1(&e, "SELECT count(*) AS n FROM runs WHERE project_id = $1", e.project);
        if (left != 1)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(left, 1);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", fresh), 1);
    /* The passes logged what they removed: five runs in all (inserted while passes ran, so
     * perhaps over several passes). */
    char *log = NULL;
    long logged = 0;
    for (int i = 0; i < 100 && logged != 5; i++) {
        free(log);
        log = mh_it_server_log(&e.s);
        logged = 0;
        for (const char *at = strstr(log, "pass done"); at; at = strstr(at + 1, "pass done")) {
            const char *n = strstr(at, "runs=");
            const char *eol = strchr(at, '\n');
            if (n && (eol == NULL || n < eol))
                logged += strtol(n + 5, NULL, 10);
        }
        if (logged != 5)
            mh_it_sleep_ms(50);
    }
    if (logged != 5)
        mh_t_fail(__FILE__, __LINE__, "%ld runs logged as removed, not 5:\n%s", logged, log);
    free(log);
    ienv_stop(&e);
}

/* A repeated large body refreshes its blob's last use (src/intake/commit.c), so the blob
 * outlives the first delivery that stored it as long as newer ones use it. */
MH_TEST(a_blob_used_again_is_kept)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0",
                                         "--retention-runs-days", "10", NULL});
    json_t *ep = ienv_endpoint(&e, "{}");
    size_t n = 40000;
    char *body = malloc(n + 32);
    MH_T_ASSERT(body != NULL);
    memcpy(body, "{\"pad\": \"", 9);
    memset(body + 9, 'x', n);
    memcpy(body + 9 + n, "\"}", 3);
    old_blob(&e, e.project, body, 30);
    MH_T_ASSERT_EQ(hook_status(&e, jstr(ep, "public_id"), NULL, body), 202);
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM blobs WHERE project_id = $1 AND "
                          "last_used_at > now() - interval '1 hour'",
                          e.project),
                   1);
    char *out = NULL;
    MH_T_ASSERT_EQ(
        mh_it_run(&e.db, (const char *const[]){"retention", "--retention-runs-days", "10", NULL},
                  &out),
        0);
    expect_line(out, "total blobs 0");
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM blobs WHERE project_id = $1", e.project),
                   1);
    free(out);
    free(body);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(bad_settings_are_422_with_their_path_and_nothing_is_stored)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0",
                                         "--retention-deliveries-days", "14", NULL});
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/retention", e.project);
    static const struct {
        const char *body;
        const char *path;
    } bad[] = {
        {"{\"runs_days\": 0}", "/runs_days"},
        {"{\"runs_days\": -3}", "/runs_days"},
        {"{\"deliveries_days\": 1.5}", "/deliveries_days"},
        {"{\"dead_letters_days\": \"30\"}", "/dead_letters_days"},
        {"{\"runs_days\": 3651}", "/runs_days"},
        {"{\"runs_days\": 10, \"deliveries_days\": 99999999999999}", "/deliveries_days"},
        {"{\"runs_days\": 10, \"keep\": true}", "/keep"},
    };
    long st;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *r = iapi(&e, "PUT", path, bad[i].body, &st);
        if (st != 422)
            mh_t_fail(__FILE__, __LINE__, "%s: %ld", bad[i].body, st);
        MH_T_ASSERT_STR_EQ(jstr(r, "error.path") ? jstr(r, "error.path") : jstr(r, "path"),
                           bad[i].path);
        json_decref(r);
    }
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM project_retention WHERE project_id = $1", e.project),
        0);
    json_t *r = iapi(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_null(json_object_get(r, "runs_days")));
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(r, "effective"), "deliveries_days")),
        14);
    json_decref(r);

    /* A good one is stored and read back; null returns a field to the default. */
    r = iapi(&e, "PUT", path, "{\"runs_days\": 90, \"deliveries_days\": 7}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "runs_days")), 90);
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(r, "effective"), "deliveries_days")), 7);
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(r, "effective"), "dead_letters_days")),
        30);
    json_decref(r);
    r = iapi(&e, "PUT", path, "{\"runs_days\": 90, \"deliveries_days\": null}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_null(json_object_get(r, "deliveries_days")));
    json_decref(r);
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM audit_log WHERE project_id = $1 AND action "
                          "= 'retention.update'",
                          e.project),
                   2);

    /* Someone else's project: neither readable nor writable, nor shown to exist. */
    char stranger[128], stranger_id[40];
    mh_it_user_token(&e.db, &e.s, "stranger@example.com", stranger, stranger_id);
    r = mh_it_api(&e.s, stranger, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 404);
    json_decref(r);
    r = mh_it_api(&e.s, stranger, "PUT", path, "{\"runs_days\": 1}", &st);
    MH_T_ASSERT_EQ(st, 404);
    json_decref(r);
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM project_retention WHERE project_id = $1 AND "
                          "runs_days = 90",
                          e.project),
                   1);
    ienv_stop(&e);
}

/* One pass at a time per database: a second one (another server's, or the command's) finds the
 * advisory lock taken, says so and removes nothing. */
MH_TEST(a_second_pass_waits_its_turn)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0",
                                         "--retention-runs-days", "7", NULL});
    char id[40];
    old_run(&e, e.project, e.workflow, 9, "succeeded", id);
    struct mh_db_conn *c = owner_conn(&e);
    owner_exec(c, "SELECT pg_advisory_lock(hashtextextended('meshhook.retention', 0))", 0, NULL,
               NULL);
    char *out = NULL;
    const char *const real_args[] = {"retention", "--retention-runs-days", "7", NULL};
    const char *const dry_args[] = {"retention", "--dry-run", "--retention-runs-days", "7", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e.db, real_args, &out), 1);
    if (strstr(out, "another retention pass is running") == NULL)
        mh_t_fail(__FILE__, __LINE__, "no word of the other pass:\n%s", out);
    free(out);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", id), 1);
    /* The dry run needs no lock. */
    MH_T_ASSERT_EQ(mh_it_run(&e.db, dry_args, &out), 0);
    expect_line(out, "total runs 1");
    free(out);
    mh_db_close(c); /* the session's lock goes with it */
    MH_T_ASSERT_EQ(mh_it_run(&e.db, real_args, &out), 0);
    expect_line(out, "total runs 1");
    free(out);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", id), 0);
    ienv_stop(&e);
}

/* Dropping a partition needs the event log to itself for a moment. A long transaction reading
 * the log must not make the pass wait behind it (and every webhook behind the pass): the drop
 * gives up after a short lock timeout, the rest of the pass goes on, and the next pass drops
 * the partition. */
MH_TEST(a_busy_event_log_defers_the_partition_drop_without_waiting)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0", NULL});
    char expired[32], id[40];
    old_partition(&e, 14, expired);
    old_run(&e, e.project, e.workflow, 430, "succeeded", id);
    struct mh_db_conn *c = owner_conn(&e);
    owner_exec(c, "BEGIN", 0, NULL, NULL);
    owner_exec(c, "SELECT count(*) FROM events", 0, NULL, NULL);
    char *out = NULL;
    /* The transaction stays open until the pass returns: a pass that waited for it would
     * never return (and the harness's timeout would fail the test). */
    MH_T_ASSERT_EQ(mh_it_run(&e.db, (const char *const[]){"retention", NULL}, &out), 0);
    expect_line(out, "total partitions 0");
    free(out);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", expired), 1);
    owner_exec(c, "COMMIT", 0, NULL, NULL);
    mh_db_close(c);
    MH_T_ASSERT_EQ(mh_it_run(&e.db, (const char *const[]){"retention", NULL}, &out), 0);
    expect_line(out, "total partitions 1");
    free(out);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", expired), 0);
    ienv_stop(&e);
}

/* The functions the server's role calls compute every cutoff from the projects' settings: a
 * caller cannot pass a cutoff of its own, nor defaults outside 1 to 3650 days, nor a reference
 * time in the future; and the cutoff helper itself is not the application's to call. */
MH_TEST(the_application_cannot_ask_for_more_than_the_settings_allow)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0", NULL});
    char id[40], busy[32];
    old_partition(&e, 14, busy);
    old_run(&e, e.project, e.workflow, 430, "running", id);
    static const struct {
        const char *sql;
        const char *state;
    } bad[] = {
        {"SELECT * FROM mh_retention_purge_runs($1, now(), 0, 30, 30, 100)", "22023"},
        {"SELECT * FROM mh_retention_purge_runs($1, now() + interval '1 year', 30, 30, 30, 100)",
         "22023"},
        {"SELECT mh_retention_purge('deliveries', $1, now(), 30, 99999, 30, 100)", "22023"},
        {"SELECT mh_retention_purge('secrets', $1, now(), 30, 30, 30, 100)", "22023"},
        {"SELECT mh_retention_cutoff('runs', $1, now(), 30, 30, 30)", "42501"},
    };
    const char *p[] = {e.project};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char state[6] = "";
        json_t *rows = mh_it_sql(e.db.app_url, bad[i].sql, 1, p, state);
        if (rows != NULL || strcmp(state, bad[i].state) != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: %s, want %s", bad[i].sql, rows ? "ok" : state,
                      bad[i].state);
    }
    /* Bad defaults make no partition look expired (the one here holds a running run, and with
     * no project judged, nothing would have kept it). */
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM mh_retention_partitions(now(), 0, 30, 30)", NULL), 0);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM pg_class WHERE relname = $1", busy), 1);
    MH_T_ASSERT_EQ(count1(&e, "SELECT count(*) AS n FROM runs WHERE id = $1", id), 1);
    ienv_stop(&e);
}

/* Closed breaker events go with the project's runs cutoff; an open breaker's row stays however
 * old, and a newer closed one stays; the dry run counts what the real pass removes. */
MH_TEST(closed_breaker_events_expire_with_the_runs)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", "--retention-interval-s", "0", NULL});
    const char *p[] = {e.project};
    json_decref(mh_it_sql(e.db.admin_url,
                          "INSERT INTO breaker_events (project_id, origin, host, server, failures, "
                          "opened_at, closed_at) VALUES "
                          "($1, 'https://old.test:443', 'old.test', 's', 5, now() - interval "
                          "'40 days', now() - interval '39 days'), "
                          "($1, 'https://open.test:443', 'open.test', 's', 5, now() - interval "
                          "'40 days', NULL), "
                          "($1, 'https://new.test:443', 'new.test', 's', 5, now() - interval "
                          "'2 days', now() - interval '1 day')",
                          1, p, NULL));
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM breaker_events WHERE project_id = $1", e.project), 3);
    char *dry = NULL, *real = NULL;
    const char *const dry_args[] = {"retention", "--dry-run", "--retention-runs-days", "30", NULL};
    const char *const real_args[] = {"retention", "--retention-runs-days", "30", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e.db, dry_args, &dry), 0);
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM breaker_events WHERE project_id = $1", e.project), 3);
    MH_T_ASSERT_EQ(mh_it_run(&e.db, real_args, &real), 0);
    MH_T_ASSERT_STR_EQ(body_of(dry), body_of(real));
    char line[160];
    snprintf(line, sizeof(line), "project %s breaker_events 1", e.project);
    expect_line(real, line);
    expect_line(real, "total breaker_events 1");
    MH_T_ASSERT_EQ(count1(&e,
                          "SELECT count(*) AS n FROM breaker_events WHERE project_id = $1 AND "
                          "host IN ('open.test', 'new.test')",
                          e.project),
                   2);
    MH_T_ASSERT_EQ(
        count1(&e, "SELECT count(*) AS n FROM breaker_events WHERE project_id = $1", e.project), 2);
    free(dry);
    free(real);
    ienv_stop(&e);
}
