/* SPDX-License-Identifier: MIT */
/*
 * The foundation against a real PostgreSQL and the real binary: migrations (idempotent,
 * concurrent, checksum drift), readiness, configuration errors, bad HTTP input, and the graceful
 * SIGTERM drain.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "itest.h"

MH_TEST(migrate_is_idempotent_and_reports_status)
{
    struct mh_it_db db;
    mh_it_db_create(&db, false);
    char *out = NULL;
    const char *status[] = {"migrate", "--status", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, status, &out), 1); /* pending migrations */
    MH_T_ASSERT(strstr(out, "pending  0001_schema") != NULL);
    free(out);
    const char *migrate[] = {"migrate", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, migrate, &out), 0);
    MH_T_ASSERT(strstr(out, "applied 0001_schema") != NULL);
    free(out);
    MH_T_ASSERT_EQ(mh_it_run(&db, migrate, &out), 0);
    MH_T_ASSERT(strstr(out, "0 applied now") != NULL);
    free(out);
    MH_T_ASSERT_EQ(mh_it_run(&db, status, &out), 0);
    MH_T_ASSERT(strstr(out, "applied  0001_schema") != NULL);
    free(out);
}

MH_TEST(concurrent_migrations_are_safe)
{
    struct mh_it_db db;
    mh_it_db_create(&db, false);
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            const char *migrate[] = {"migrate", NULL};
            _exit(mh_it_run(&db, migrate, NULL));
        }
    }
    for (int i = 0; i < 4; i++) {
        int st = 0;
        waitpid(kids[i], &st, 0);
        MH_T_ASSERT(WIFEXITED(st));
        MH_T_ASSERT_EQ(WEXITSTATUS(st), 0);
    }
    json_t *rows =
        mh_it_sql(db.admin_url, "SELECT count(*) AS n FROM schema_migrations", 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")),
                   (long long)mh_db_migrations_count());
    MH_T_ASSERT(mh_db_migrations_count() >= 2);
    json_decref(rows);
}

MH_TEST(changed_migration_is_refused)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    mh_it_sql_script(db.admin_url, "UPDATE schema_migrations SET checksum = 'abc123'");
    char *out = NULL;
    const char *migrate[] = {"migrate", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, migrate, &out), 1);
    MH_T_ASSERT(strstr(out, "was changed after it was applied") != NULL);
    free(out);
}

MH_TEST(config_errors_exit_2_with_a_message)
{
    char *out = NULL;
    const char *unknown[] = {"serve", "--no-such-flag", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, unknown, &out), 2);
    MH_T_ASSERT(strstr(out, "unknown option '--no-such-flag'") != NULL);
    free(out);
    const char *bad[] = {"serve", "--port", "99999", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, bad, &out), 2);
    MH_T_ASSERT(strstr(out, "port must be between 0 and 65535") != NULL);
    free(out);
    const char *notint[] = {"serve", "--pool-size=lots", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, notint, &out), 2);
    MH_T_ASSERT(strstr(out, "pool_size is not an integer") != NULL);
    free(out);
    const char *cmd[] = {"frobnicate", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, cmd, &out), 2);
    MH_T_ASSERT(strstr(out, "unknown command") != NULL);
    free(out);
    const char *help[] = {"serve", "--help", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, help, &out), 0);
    MH_T_ASSERT(strstr(out, "MESHHOOK_POOL_SIZE") != NULL);
    MH_T_ASSERT(strstr(out, "--print-config") != NULL);
    free(out);
}

/* `serve --print-config` shows the effective settings (flags over defaults) and exits without
 * serving; secret settings show as [redacted], never their values. */
MH_TEST(serve_print_config_redacts_secrets)
{
    char *out = NULL;
    const char *args[] = {"serve",
                          "--port=18123",
                          "--print-config",
                          "--database-url=postgres://app:hunter2-db@127.0.0.1:1/x",
                          "--metrics-token=tok-s3cr3t-value",
                          NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, args, &out), 0);
    MH_T_ASSERT(strstr(out, "port = 18123\n") != NULL);
    MH_T_ASSERT(strstr(out, "database_url = [redacted]\n") != NULL);
    MH_T_ASSERT(strstr(out, "metrics_token = [redacted]\n") != NULL);
    MH_T_ASSERT(strstr(out, "pool_size = ") != NULL);
    MH_T_ASSERT(strstr(out, "hunter2") == NULL);
    MH_T_ASSERT(strstr(out, "s3cr3t") == NULL);
    /* It exits at once: nothing was listened on, nothing connected to the database. */
    MH_T_ASSERT(strstr(out, "listening") == NULL);
    free(out);
    /* A bad setting is still an error, not a printout. */
    const char *bad[] = {"serve", "--print-config", "--port=99999", NULL};
    MH_T_ASSERT_EQ(mh_it_run(NULL, bad, &out), 2);
    MH_T_ASSERT(strstr(out, "port must be between 0 and 65535") != NULL);
    free(out);
}

MH_TEST(readyz_needs_a_migrated_database)
{
    struct mh_it_db db;
    mh_it_db_create(&db, false);
    struct mh_it_server s;
    mh_it_server_start(&s, &db, NULL);
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", s.base);
    struct mh_it_resp r;
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 503);
    MH_T_ASSERT(strstr(r.body, "not fully migrated") != NULL);
    mh_it_resp_cleanup(&r);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_migrate(db.admin_url, NULL, &info), MH_OK);
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
}

/* Sends raw bytes and returns the status code of the answer (0 when the server closed). */
static int raw_status(int port, const char *data, size_t len, char *body, size_t body_cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    MH_T_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    MH_T_ASSERT(write(fd, data, len) == (ssize_t)len);
    char buf[4096] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += (size_t)n;
        if (strstr(buf, "\r\n\r\n") && strstr(buf, "Content-Length")) {
            const char *cl = strcasestr(buf, "Content-Length:");
            long want = strtol(cl + 15, NULL, 10);
            const char *b = strstr(buf, "\r\n\r\n") + 4;
            if ((long)(got - (size_t)(b - buf)) >= want)
                break;
        }
    }
    close(fd);
    if (body) {
        const char *b = strstr(buf, "\r\n\r\n");
        snprintf(body, body_cap, "%s", b ? b + 4 : "");
    }
    int status = 0;
    if (strncmp(buf, "HTTP/1.", 7) == 0)
        status = (int)strtol(buf + 9, NULL, 10);
    return status;
}

MH_TEST(bad_input_gets_4xx_and_the_server_survives)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_it_server s;
    const char *args[] = {"--max-body-bytes", "1024", NULL};
    mh_it_server_start(&s, &db, args);
    char url[128];
    struct mh_it_resp r;

    /* Under /api: any other path that no route matches is a client route of the web app. */
    snprintf(url, sizeof(url), "%s/api/no/such/route", s.base);
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 404);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                       "not_found");
    MH_T_ASSERT(json_object_get(r.json, "request_id") != NULL);
    char *rid = mh_it_resp_header(&r, "X-Request-Id");
    MH_T_ASSERT(rid && strlen(rid) == 16);
    free(rid);
    mh_it_resp_cleanup(&r);

    snprintf(url, sizeof(url), "%s/healthz", s.base);
    mh_it_http("DELETE", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 405);
    char *allow = mh_it_resp_header(&r, "Allow");
    MH_T_ASSERT_STR_EQ(allow, "GET");
    free(allow);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
                       "method_not_allowed");
    mh_it_resp_cleanup(&r);

    mh_it_http("FROB", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 405);
    mh_it_resp_cleanup(&r);

    char big[4096];
    memset(big, 'x', sizeof(big));
    mh_it_http("POST", url, NULL, big, sizeof(big), &r);
    MH_T_ASSERT_EQ(r.status, 413);
    MH_T_ASSERT(strstr(r.body, "exceeds the limit of 1024 bytes") != NULL);
    mh_it_resp_cleanup(&r);

    /* A chunked body that passes the limit without declaring a length. */
    const char *te[] = {"Transfer-Encoding: chunked", NULL};
    mh_it_http("POST", url, te, big, sizeof(big), &r);
    MH_T_ASSERT_EQ(r.status, 413);
    mh_it_resp_cleanup(&r);

    char body[1024];
    const char *bad_line = "GET /healthz HTTP/1.1\r\nHost: x\r\nBroken header line\r\n\r\n";
    MH_T_ASSERT_EQ(raw_status(s.port, bad_line, strlen(bad_line), body, sizeof(body)), 400);
    const char *bad_version = "GET /healthz HTTP/7.0\r\n\r\n";
    int st = raw_status(s.port, bad_version, strlen(bad_version), body, sizeof(body));
    MH_T_ASSERT(st == 505 || st == 400);
    const char *bad_chunk =
        "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    MH_T_ASSERT_EQ(raw_status(s.port, bad_chunk, strlen(bad_chunk), body, sizeof(body)), 400);
    const char *garbage = "\x01\x02\x03 nonsense\r\n\r\n";
    st = raw_status(s.port, garbage, strlen(garbage), body, sizeof(body));
    MH_T_ASSERT(st == 0 || st == 400);
    char huge_header[80000];
    int n = snprintf(huge_header, sizeof(huge_header), "GET /healthz HTTP/1.1\r\nHost: x\r\nX: ");
    memset(huge_header + n, 'a', 70000);
    memcpy(huge_header + n + 70000, "\r\n\r\n", 5);
    st = raw_status(s.port, huge_header, strlen(huge_header), body, sizeof(body));
    MH_T_ASSERT(st == 431 || st == 400 || st == 413);
    /* Large but reasonable headers (a big JWT, many cookies) pass. */
    n = snprintf(huge_header, sizeof(huge_header), "GET /healthz HTTP/1.1\r\nHost: x\r\nX: ");
    memset(huge_header + n, 'a', 16000);
    memcpy(huge_header + n + 16000, "\r\n\r\n", 5);
    MH_T_ASSERT_EQ(raw_status(s.port, huge_header, strlen(huge_header), body, sizeof(body)), 200);

    /* Still alive and well. */
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
}

MH_TEST(sigterm_waits_for_the_slow_request)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_it_server s;
    mh_it_server_start(&s, &db, NULL);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    MH_T_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    /* Headers and half the body, then SIGTERM, then the rest a second later. */
    const char *head = "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345";
    MH_T_ASSERT(write(fd, head, strlen(head)) == (ssize_t)strlen(head));
    mh_it_sleep_ms(200);
    kill(s.pid, SIGTERM);
    mh_it_sleep_ms(1000);
    int st = 0;
    MH_T_ASSERT_EQ(waitpid(s.pid, &st, WNOHANG), 0); /* still draining */
    MH_T_ASSERT(write(fd, "67890", 5) == 5);
    char buf[1024] = {0};
    ssize_t got = read(fd, buf, sizeof(buf) - 1);
    MH_T_ASSERT(got > 0);
    MH_T_ASSERT(strncmp(buf, "HTTP/1.1 405", 12) == 0);
    close(fd);
    MH_T_ASSERT_EQ(waitpid(s.pid, &st, 0), s.pid);
    MH_T_ASSERT(WIFEXITED(st));
    MH_T_ASSERT_EQ(WEXITSTATUS(st), 0);
    s.pid = 0;
    char *log = mh_it_server_log(&s);
    MH_T_ASSERT(strstr(log, "draining") != NULL);
    MH_T_ASSERT(strstr(log, "stopped") != NULL);
    free(log);
}

/* The run and delivery listings page newest first through ascending indexes scanned backwards
 * (migration 0012): no sort of a project's runs, and no half-empty index pages under the
 * intake's inserts. */
MH_TEST(listings_walk_ascending_indexes_backwards)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT(mh_db_connect(db.admin_url, &c, &info) == MH_OK);
    /* With sorting and sequential scans priced out, a plan without a Sort node exists only if an
     * index yields the order. */
    MH_T_ASSERT(mh_db_query(c, "SET enable_sort = off", 0, NULL, NULL, NULL, &info) == MH_OK);
    MH_T_ASSERT(mh_db_query(c, "SET enable_seqscan = off", 0, NULL, NULL, NULL, &info) == MH_OK);
#define Z "00000000-0000-7000-8000-000000000000"
    static const struct {
        const char *index, *sql;
    } listings[] = {
        {"runs_project_recent_idx",
         "SELECT r.id, r.status FROM runs r WHERE r.project_id = '" Z "' AND (r.created_at, r.id) "
         "< (now(), '" Z "') ORDER BY r.created_at DESC, r.id DESC LIMIT 51"},
        {"runs_workflow_recent_idx",
         "SELECT r.id, r.status FROM runs r WHERE r.workflow_id = '" Z "' "
         "ORDER BY r.created_at DESC, r.id DESC LIMIT 51"},
        {"webhook_deliveries_endpoint_idx",
         "SELECT d.id, d.outcome FROM webhook_deliveries d WHERE d.endpoint_id = '" Z "' AND "
         "(d.received_at, d.id) < (now(), '" Z "') "
         "ORDER BY d.received_at DESC, d.id DESC LIMIT 51"},
    };
#undef Z
    for (size_t i = 0; i < sizeof(listings) / sizeof(listings[0]); i++) {
        char sql[512];
        snprintf(sql, sizeof(sql), "EXPLAIN (COSTS OFF) %s", listings[i].sql);
        json_t *rows = NULL;
        MH_T_ASSERT(mh_db_query(c, sql, 0, NULL, &rows, NULL, &info) == MH_OK);
        char plan[2048] = "";
        size_t k;
        json_t *row;
        json_array_foreach(rows, k, row)
        {
            const char *line = json_string_value(json_object_get(row, "QUERY PLAN"));
            size_t used = strlen(plan);
            snprintf(plan + used, sizeof(plan) - used, "%s\n", line ? line : "");
        }
        json_decref(rows);
        char want[128];
        snprintf(want, sizeof(want), "Scan Backward using %s", listings[i].index);
        if (strstr(plan, want) == NULL || strstr(plan, "Sort") != NULL)
            mh_t_fail(__FILE__, __LINE__, "%s:\n%s", listings[i].index, plan);
    }
    mh_db_close(c);
}

/* A claim only leases a job (lease_owner, lease_until, attempts): no index covers those columns
 * and jobs' pages keep room (migration 0030), so the claim is a heap-only (HOT) update that adds
 * no index entries. An index on a leased column, or pages packed full, and this fails. */
MH_TEST(a_claim_is_a_heap_only_update)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT(mh_db_connect(db.admin_url, &c, &info) == MH_OK);
    MH_T_ASSERT(mh_db_query(c,
                            "WITH u AS (INSERT INTO users (email, password_hash) VALUES "
                            "('hot@example.com', 'x') RETURNING id), p AS (INSERT INTO projects "
                            "(name, created_by) SELECT 'hot', id FROM u RETURNING id) "
                            "INSERT INTO jobs (project_id, kind) SELECT p.id, 'run' FROM p, "
                            "generate_series(1, 200)",
                            0, NULL, NULL, NULL, &info) == MH_OK);
    json_t *rows = NULL;
    MH_T_ASSERT(mh_db_query(c, "SELECT count(*) AS n FROM mh_claim_jobs('w1', 200, 60000)", 0, NULL,
                            &rows, NULL, &info) == MH_OK);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 200);
    json_decref(rows);
    /* This session's counters reach the statistics views when it next goes idle. */
    MH_T_ASSERT(mh_db_query(c, "SELECT pg_stat_force_next_flush()", 0, NULL, NULL, NULL, &info) ==
                MH_OK);
    MH_T_ASSERT(
        mh_db_query(c,
                    "SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables "
                    "WHERE relname = 'jobs'",
                    0, NULL, &rows, NULL, &info) == MH_OK);
    json_t *row = json_array_get(rows, 0);
    long long upd = json_integer_value(json_object_get(row, "upd"));
    long long hot = json_integer_value(json_object_get(row, "hot"));
    json_decref(rows);
    /* Not every one: a leased version is a little longer than the unleased one (lease_owner and
     * lease_until filled in), so a page whose rows are all claimed at once can run out of its
     * spare half. Without the migration, none is HOT. */
    if (upd != 200 || hot < 160)
        mh_t_fail(__FILE__, __LINE__, "claims: %lld updates, %lld of them HOT", upd, hot);
    mh_db_close(c);
}
