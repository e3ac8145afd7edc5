/* SPDX-License-Identifier: MIT */
/*
 * The database as the last line of defence, and commits whose outcome the server did not hear
 * (issue #18, defects 8 and 9):
 *   - `serve` refuses a role for which row-level security would not apply (a superuser, a role
 *     with BYPASSRLS, the tables' owner or a member of it);
 *   - no SECURITY DEFINER function is executable by PUBLIC, only by meshhook_app;
 *   - the membership policies refuse what docs/permissions.md refuses an admin (owners);
 *   - a webhook whose COMMIT reached the database but whose acknowledgement was lost is answered
 *     202 once the server has checked it was recorded, and a 503 means nothing was recorded;
 *   - a worker whose claimed job could not record its outcome takes the job back as soon as the
 *     database answers again, instead of waiting out its lease.
 * The lost acknowledgements come from the fault-injection seam of src/db (MH_DEBUG builds only):
 * a file named by MH_DEBUG_DB_FAULT_FILE arms one fault, "<pool> <before|after> <down_ms>".
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_intake_common.h"
#include "mock_http.h"

/* Same database, another role: `url` with its user= replaced. */
static void url_with_user(char *out, size_t cap, const char *url, const char *user)
{
    const char *u = strstr(url, "user=");
    MH_T_ASSERT(u != NULL);
    const char *end = strchr(u, '&');
    snprintf(out, cap, "%.*suser=%s%s", (int)(u - url), url, user, end ? end : "");
}

/* Runs `meshhook serve` against `app_url` and waits up to `wait_ms` for it to exit: returns
 * its exit status, or -1 when it was still running (then it is killed). `*log` receives its
 * output. */
static int serve_exit_status(const struct mh_it_db *db, const char *app_url, int wait_ms,
                             char **log)
{
    struct mh_it_db other = *db;
    snprintf(other.app_url, sizeof(other.app_url), "%s", app_url);
    char path[] = "/tmp/mh-it-serve-XXXXXX";
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    char port[16];
    snprintf(port, sizeof(port), "%d", mh_it_free_port());
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MESHHOOK_DATABASE_URL", other.app_url, 1);
        setenv("MESHHOOK_ADMIN_DATABASE_URL", other.admin_url, 1);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *b = getenv("MH_MESHHOOK_BIN");
        execl(b ? b : "build/asan/meshhook", "meshhook", "serve", "--port", port, "--bind-address",
              "127.0.0.1", "--kek", IT_KEK, (char *)NULL);
        _exit(127);
    }
    int status = 0, rc = -1;
    for (int waited = 0; waited <= wait_ms; waited += 50) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            break;
        }
        mh_it_sleep_ms(50);
    }
    if (rc == -1) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    FILE *f = fdopen(fd, "r");
    fseek(f, 0, SEEK_SET);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    *log = buf;
    return rc;
}

static void drop_role(const char *role)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", role);
    json_decref(mh_it_sql(getenv("MESHHOOK_SUPER_DATABASE_URL"), sql, 0, NULL, NULL));
}

MH_TEST(serve_refuses_roles_that_row_level_security_does_not_bind)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    const char *super = getenv("MESHHOOK_SUPER_DATABASE_URL");
    char url[600], *log = NULL;

    /* The schema owner (the URL of migrations). */
    int rc = serve_exit_status(&db, db.admin_url, 15000, &log);
    if (rc == -1)
        mh_t_fail(__FILE__, __LINE__, "serve ran as the schema owner:\n%s", log);
    MH_T_ASSERT(rc != 0);
    MH_T_ASSERT(strstr(log, "row-level security") != NULL);
    MH_T_ASSERT(strstr(log, "owns") != NULL);
    MH_T_ASSERT(strstr(log, "listening on") == NULL);
    free(log);

    /* A superuser. */
    url_with_user(url, sizeof(url), db.app_url, "postgres");
    rc = serve_exit_status(&db, url, 15000, &log);
    if (rc == -1)
        mh_t_fail(__FILE__, __LINE__, "serve ran as a superuser:\n%s", log);
    MH_T_ASSERT(rc != 0);
    MH_T_ASSERT(strstr(log, "superuser") != NULL);
    free(log);

    /* A role with BYPASSRLS, and one that may SET ROLE to the owner: each with the app role's
     * grants, so only the safety check can refuse them. */
    char role[64], sql[512];
    snprintf(role, sizeof(role), "mh_bypass_%d", (int)getpid());
    drop_role(role);
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN BYPASSRLS IN ROLE meshhook_app", role);
    mh_it_sql_script(super, sql);
    url_with_user(url, sizeof(url), db.app_url, role);
    rc = serve_exit_status(&db, url, 15000, &log);
    drop_role(role);
    if (rc == -1)
        mh_t_fail(__FILE__, __LINE__, "serve ran with BYPASSRLS:\n%s", log);
    MH_T_ASSERT(rc != 0);
    MH_T_ASSERT(strstr(log, "BYPASSRLS") != NULL);
    free(log);

    snprintf(role, sizeof(role), "mh_ownerish_%d", (int)getpid());
    drop_role(role);
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN NOINHERIT IN ROLE meshhook", role);
    mh_it_sql_script(super, sql);
    url_with_user(url, sizeof(url), db.app_url, role);
    rc = serve_exit_status(&db, url, 15000, &log);
    drop_role(role);
    if (rc == -1)
        mh_t_fail(__FILE__, __LINE__, "serve ran as a member of the owner:\n%s", log);
    MH_T_ASSERT(rc != 0);
    MH_T_ASSERT(strstr(log, "owns") != NULL);
    free(log);

    /* The app role itself starts (and says which database it uses). */
    struct mh_it_server s;
    const char *args[] = {"--kek", IT_KEK, NULL};
    mh_it_server_start(&s, &db, args);
    log = mh_it_server_log(&s);
    MH_T_ASSERT(strstr(log, "user=meshhook_app") != NULL);
    free(log);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
}

MH_TEST(security_definer_functions_are_not_executable_by_public)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    const char *super = getenv("MESHHOOK_SUPER_DATABASE_URL");
    char role[64], sql[256], url[600], state[6];
    snprintf(role, sizeof(role), "mh_stranger_%d", (int)getpid());
    drop_role(role);
    snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN", role);
    mh_it_sql_script(super, sql);
    /* Another role of the cluster: it may connect (PUBLIC has CONNECT and, before PostgreSQL
     * 15, CREATE on schema public) but must not read password hashes or sessions through the
     * owner's functions. */
    url_with_user(url, sizeof(url), db.app_url, role);
    json_t *rows = mh_it_sql(url, "SELECT mh_user_count() AS n", 0, NULL, state);
    json_decref(rows);
    MH_T_ASSERT(rows == NULL);
    MH_T_ASSERT_STR_EQ(state, "42501");
    rows = mh_it_sql(url, "SELECT * FROM mh_auth_user_by_email('a@example.com')", 0, NULL, state);
    json_decref(rows);
    MH_T_ASSERT(rows == NULL);
    MH_T_ASSERT_STR_EQ(state, "42501");
    rows = mh_it_sql(url, "SELECT * FROM mh_claim_jobs('x', 1, 1000)", 0, NULL, state);
    json_decref(rows);
    MH_T_ASSERT(rows == NULL);
    MH_T_ASSERT_STR_EQ(state, "42501");

    /* Every SECURITY DEFINER function of the schema: none for PUBLIC, all for the app. */
    const char *params[] = {role};
    rows = mh_it_sql(db.admin_url,
                     "SELECT count(*) FILTER (WHERE has_function_privilege($1, p.oid, "
                     "'EXECUTE'))::int AS strangers, count(*) FILTER (WHERE NOT "
                     "has_function_privilege('meshhook_app', p.oid, 'EXECUTE'))::int AS "
                     "app_denied, count(*)::int AS n FROM pg_proc p WHERE p.pronamespace = "
                     "'public'::regnamespace AND p.prosecdef",
                     1, params, NULL);
    drop_role(role);
    MH_T_ASSERT(rows != NULL);
    json_t *r = json_array_get(rows, 0);
    MH_T_ASSERT(json_integer_value(json_object_get(r, "n")) > 10);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "strangers")), 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "app_denied")), 0);
    json_decref(rows);
}

/* Runs `sql` as meshhook_app for user `uid` in a transaction that is rolled back; returns the
 * error code and the rows it touched. */
static enum mh_err as_user(const struct mh_it_db *db, const char *uid, const char *sql, int nparams,
                           const char *const *params, long *affected)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(db->app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, uid, NULL, &info), MH_OK);
    *affected = -1;
    enum mh_err rc = mh_db_query(c, sql, nparams, params, NULL, affected, &info);
    mh_db_rollback(c);
    mh_db_close(c);
    return rc;
}

static void seed_user(const struct mh_it_db *db, const char *email, char *id)
{
    const char *p[] = {email};
    json_t *rows = mh_it_sql(db->admin_url,
                             "INSERT INTO users (email, password_hash) VALUES ($1, 'x') "
                             "RETURNING id::text AS id",
                             1, p, NULL);
    MH_T_ASSERT(rows != NULL);
    snprintf(id, 40, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
}

MH_TEST(membership_policies_keep_owners_to_owners)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    char owner[40], admin[40], member[40], other[40], project[40];
    seed_user(&db, "owner@example.com", owner);
    seed_user(&db, "admin@example.com", admin);
    seed_user(&db, "member@example.com", member);
    seed_user(&db, "other@example.com", other);
    const char *pp[] = {owner};
    json_t *rows = mh_it_sql(db.admin_url,
                             "INSERT INTO projects (name, created_by) VALUES ('p', $1) "
                             "RETURNING id::text AS id",
                             1, pp, NULL);
    MH_T_ASSERT(rows != NULL);
    snprintf(project, sizeof(project), "%s",
             json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
    const char *mp[] = {project, owner, admin, member};
    json_decref(mh_it_sql(db.admin_url,
                          "INSERT INTO memberships (project_id, user_id, role) VALUES "
                          "($1, $2, 'owner'), ($1, $3, 'admin'), ($1, $4, 'viewer')",
                          4, mp, NULL));
    long n;
    const char *add_owner[] = {project, other, "owner"};
    const char *add_editor[] = {project, other, "editor"};
    const char *insert = "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)";
    const char *update = "UPDATE memberships SET role = $3 WHERE project_id = $1 AND user_id = $2";
    const char *delete = "DELETE FROM memberships WHERE project_id = $1 AND user_id = $2";

    /* An admin adds and changes members below owner... */
    MH_T_ASSERT_EQ(as_user(&db, admin, insert, 3, add_editor, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    const char *member_editor[] = {project, member, "editor"};
    MH_T_ASSERT_EQ(as_user(&db, admin, update, 3, member_editor, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    const char *member_row[] = {project, member};
    MH_T_ASSERT_EQ(as_user(&db, admin, delete, 2, member_row, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    /* ...but cannot add an owner, promote anyone (themself included) to owner, or change or
     * remove an owner. */
    MH_T_ASSERT_EQ(as_user(&db, admin, insert, 3, add_owner, &n), MH_EFORBIDDEN);
    const char *member_owner[] = {project, member, "owner"};
    MH_T_ASSERT_EQ(as_user(&db, admin, update, 3, member_owner, &n), MH_EFORBIDDEN);
    const char *self_owner[] = {project, admin, "owner"};
    MH_T_ASSERT_EQ(as_user(&db, admin, update, 3, self_owner, &n), MH_EFORBIDDEN);
    const char *owner_viewer[] = {project, owner, "viewer"};
    MH_T_ASSERT_EQ(as_user(&db, admin, update, 3, owner_viewer, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 0);
    const char *owner_row[] = {project, owner};
    MH_T_ASSERT_EQ(as_user(&db, admin, delete, 2, owner_row, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 0);
    /* An owner may do all of it, except leave or step down as the last owner. */
    MH_T_ASSERT_EQ(as_user(&db, owner, insert, 3, add_owner, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    MH_T_ASSERT_EQ(as_user(&db, owner, update, 3, member_owner, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    MH_T_ASSERT_EQ(as_user(&db, owner, update, 3, owner_viewer, &n), MH_EFORBIDDEN);
    MH_T_ASSERT_EQ(as_user(&db, owner, delete, 2, owner_row, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 0);
    /* With a second owner, the first may step down. */
    const char *second[] = {project, other};
    json_decref(mh_it_sql(db.admin_url,
                          "INSERT INTO memberships (project_id, user_id, role) VALUES "
                          "($1, $2, 'owner')",
                          2, second, NULL));
    MH_T_ASSERT_EQ(as_user(&db, owner, update, 3, owner_viewer, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    MH_T_ASSERT_EQ(as_user(&db, owner, delete, 2, owner_row, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
    /* Anyone may leave. */
    const char *admin_row[] = {project, admin};
    MH_T_ASSERT_EQ(as_user(&db, admin, delete, 2, admin_row, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 1);
}

/* ---- commits in doubt ---------------------------------------------------------------------- */

static char fault_path[128];

/* Arms one fault of the src/db seam; the server consumes (removes) the file. */
static void arm_fault(const char *spec)
{
    FILE *f = fopen(fault_path, "w");
    MH_T_ASSERT(f != NULL);
    fprintf(f, "%s\n", spec);
    MH_T_ASSERT_EQ(fclose(f), 0);
}

static bool fault_consumed(void)
{
    return access(fault_path, F_OK) != 0;
}

static void setup_faulty(struct ienv *e, const char *const *extra)
{
#ifndef MH_DEBUG
    MH_T_SKIP("the fault-injection seam exists in MH_DEBUG builds only");
#endif
    snprintf(fault_path, sizeof(fault_path), "/tmp/mh-it-fault-%d", (int)getpid());
    unlink(fault_path);
    setenv("MH_DEBUG_DB_FAULT_FILE", fault_path, 1);
    ienv_setup(e, extra);
}

static long count_of(struct ienv *e, const char *sql, const char *param)
{
    const char *p[] = {param};
    json_t *rows = mh_it_sql(e->db.admin_url, sql, param ? 1 : 0, p, NULL);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

MH_TEST(a_commit_whose_acknowledgement_is_lost_is_answered_202)
{
    struct ienv e;
    setup_faulty(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *pub = jstr(ep, "public_id");
    /* The COMMIT is executed, its answer dropped with the connection. */
    arm_fault("intake after 0");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", NULL, "{\"n\": 1}", 8, &r), 202);
    MH_T_ASSERT(fault_consumed());
    const char *run = jstr(r.json, "run_id");
    MH_T_ASSERT(run != NULL);
    MH_T_ASSERT_EQ(count_of(&e, "SELECT count(*)::int AS n FROM runs WHERE id = $1::uuid", run), 1);
    json_t *done = wait_run(&e, run);
    MH_T_ASSERT_STR_EQ(jstr(done, "status"), "succeeded");
    json_decref(done);
    mh_it_resp_cleanup(&r);

    /* The same, and the database then unreachable for 700 ms: the server waits to know. */
    arm_fault("intake after 700");
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", NULL, "{\"n\": 2}", 8, &r), 202);
    run = jstr(r.json, "run_id");
    MH_T_ASSERT(run != NULL);
    MH_T_ASSERT_EQ(count_of(&e, "SELECT count(*)::int AS n FROM runs WHERE id = $1::uuid", run), 1);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(count_of(&e, "SELECT count(*)::int AS n FROM runs", NULL), 2);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(a_503_means_nothing_was_recorded_and_logs_no_public_id)
{
    struct ienv e;
    setup_faulty(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *pub = jstr(ep, "public_id");
    /* The connection is lost before COMMIT: the transaction rolls back. */
    arm_fault("intake before 0");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", NULL, "{\"n\": 1}", 8, &r), 503);
    MH_T_ASSERT(fault_consumed());
    MH_T_ASSERT(strstr(r.body, "not recorded") != NULL);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(count_of(&e, "SELECT count(*)::int AS n FROM runs", NULL), 0);
    MH_T_ASSERT_EQ(
        count_of(&e, "SELECT count(*)::int AS n FROM webhook_deliveries WHERE status = 202", NULL),
        0);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "not recorded") != NULL);
    if (strstr(log, pub) != NULL)
        mh_t_fail(__FILE__, __LINE__, "the public id is in the log:\n%s", log);
    free(log);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(a_commit_left_in_doubt_past_the_bound_says_it_may_be_recorded)
{
    struct ienv e;
    const char *args[] = {"--intake-doubt-wait-ms", "300", NULL};
    setup_faulty(&e, args);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *pub = jstr(ep, "public_id");
    /* Recorded, but the database stays unreachable longer than the server waits to know. */
    arm_fault("intake after 2000");
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", NULL, "{\"n\": 1}", 8, &r), 503);
    MH_T_ASSERT(strstr(r.body, "may have been recorded") != NULL);
    char *ra = mh_it_resp_header(&r, "Retry-After");
    MH_T_ASSERT(ra != NULL);
    free(ra);
    mh_it_resp_cleanup(&r);
    mh_it_sleep_ms(2000);
    MH_T_ASSERT_EQ(count_of(&e, "SELECT count(*)::int AS n FROM runs", NULL), 1);
    json_decref(ep);
    ienv_stop(&e);
}

/* Delivers a webhook (202) and waits up to 15 s, far less than any lease or call timeout of
 * these tests, for its run to succeed; the armed fault must have fired meanwhile. */
static void deliver_and_finish(struct ienv *e, const char *pub)
{
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(e, pub, "POST", NULL, "{}", 2, &r), 202);
    char run[40];
    snprintf(run, sizeof(run), "%s", jstr(r.json, "run_id"));
    mh_it_resp_cleanup(&r);
    const char *sql = "SELECT count(*)::int AS n FROM runs WHERE id = $1::uuid AND status = "
                      "'succeeded'";
    bool done = false;
    for (int i = 0; i < 150 && !done; i++) {
        done = count_of(e, sql, run) == 1;
        if (!done)
            mh_it_sleep_ms(100);
    }
    MH_T_ASSERT(fault_consumed());
    if (!done) {
        char *log = mh_it_server_log(&e->s);
        mh_t_fail(__FILE__, __LINE__, "run %s still not finished after 15 s:\n%s", run, log);
    }
}

MH_TEST(a_worker_takes_back_its_job_when_the_database_returns)
{
    struct ienv e;
    /* A lease far longer than the test waits: only taking the job back can finish the run. The
     * intake decides no pure prefix, so the run is the workers' from its first step. */
    const char *args[] = {"--job-lease-ms", "120000", "--intake-pure-prefix=false", NULL};
    setup_faulty(&e, args);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *pub = jstr(ep, "public_id");
    /* The worker's transaction is lost before COMMIT, then the database is away for 500 ms (a
     * restart, as seen from the server). */
    arm_fault("main before 500");
    deliver_and_finish(&e, pub);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "took back") != NULL);
    free(log);
    json_decref(ep);
    ienv_stop(&e);
}

static void answer_ok(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *reply)
{
    (void)ctx;
    (void)req;
    reply->status = 200;
    snprintf(reply->content_type, sizeof(reply->content_type), "application/json");
    snprintf(reply->body, sizeof(reply->body), "{\"ok\": true}");
}

MH_TEST(a_call_outcome_is_applied_when_the_database_returns)
{
    struct ienv e;
    const char *args[] = {"--job-lease-ms", "120000", NULL};
    setup_faulty(&e, args);
    struct mh_mock *m = mh_mock_start(answer_ok, NULL);
    /* One http_call with a long timeout: its job sleeps until then while the call is out. */
    char url[128], path[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/target", mh_mock_port(m));
    json_t *body = json_pack(
        "{s:s, s:{s:[{s:s, s:s, s:{s:s, s:s, s:i}}, {s:s, s:s, s:{s:s}}], s:[{s:s, s:s}]}}", "name",
        "call", "definition", "nodes", "id", "call", "type", "http_call", "config", "url", url,
        "method", "GET", "timeout_ms", 60000, "id", "end", "type", "terminate", "config", "output",
        "steps.call.output.body", "edges", "from", "call", "to", "end");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    json_t *w = iapi(&e, "POST", path, text, &st);
    free(text);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(e.workflow, sizeof(e.workflow), "%s", jstr(w, "id"));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, e.workflow);
    json_decref(iapi(&e, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    /* The worker's first commit (which sends the call) goes through; the second, recording the
     * call's answer, loses its connection, and the database is away for 500 ms. */
    arm_fault("main before 500 1");
    deliver_and_finish(&e, jstr(ep, "public_id"));
    /* The answer was recorded, not fetched again. */
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/target"), 1);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "1 call outcome(s)") != NULL);
    free(log);
    json_decref(ep);
    ienv_stop(&e);
    mh_mock_stop(m);
}
