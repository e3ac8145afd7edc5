/* SPDX-License-Identifier: MIT */
/*
 * Engine throughput: runs completed per second end to end by a real `meshhook serve` against a
 * real PostgreSQL, for (a) a 4-node pure workflow (transform -> branch -> transform -> terminate),
 * (b) a workflow with one http_call to a local target and (c) the same call with a header naming
 * a project secret (`{{secrets.BENCH_TOKEN}}`: decrypted, and audited, for every call), N runs at
 * once. Runs are enqueued
 * directly (mh_engine_run_create, in batches) while the server is stopped; then the server
 * starts and the rate is counted from the first run's start to the last run's end, as recorded
 * in the runs table. Prints runs/s, the server's peak RSS and CPU, PostgreSQL's CPU and WAL
 * per run (MH_BENCH_SQL: a statement run before the server starts, for experiments).
 *
 *   bench_engine MESHHOOK_BIN ADMIN_URL APP_URL pure|http|http_secret RUNS WORKERS
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "db/db.h"
#include "runtime/store.h"
#include "secrets/secrets.h"
#include "mock_http.h"

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    (void)req;
    rep->status = 200;
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": true}");
}

static void die(const char *what, const struct mh_err_info *info)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, info ? info->message : "");
    exit(1);
}

static json_t *q(struct mh_db_conn *c, const char *sql, int n, const char *const *p)
{
    json_t *rows = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_query(c, sql, n, p, &rows, NULL, &info) != MH_OK)
        die(sql, &info);
    return rows;
}

static long long scalar(struct mh_db_conn *c, const char *sql)
{
    json_t *rows = q(c, sql, 0, NULL);
    long long v = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return v;
}

/* The fields of /proc/PID/stat after the command name (state first), in buf; NULL if the process
 * is gone. */
static const char *proc_stat(pid_t pid, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p + 2 : NULL;
}

/* User + system CPU seconds the process has used. */
static double cpu_seconds(pid_t pid)
{
    char buf[2048];
    const char *p = proc_stat(pid, buf, sizeof(buf));
    unsigned long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds of the PostgreSQL cluster: the postmaster, the children it has reaped (backends
 * that ended) and the children still alive (background processes, open sessions). */
static double pg_cpu_seconds(pid_t postmaster)
{
    char buf[2048];
    const char *p = proc_stat(postmaster, buf, sizeof(buf));
    unsigned long ut = 0, st = 0;
    long cut = 0, cst = 0;
    if (p == NULL || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld", &ut,
                            &st, &cut, &cst) != 4)
        return -1;
    double total = (double)(ut + st) + (double)(cut + cst);
    DIR *proc = opendir("/proc");
    struct dirent *de;
    while (proc && (de = readdir(proc)) != NULL) {
        pid_t pid = (pid_t)strtol(de->d_name, NULL, 10);
        int ppid = 0;
        if (pid > 0 && (p = proc_stat(pid, buf, sizeof(buf))) != NULL &&
            sscanf(p, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ppid, &ut, &st) == 3 &&
            ppid == (int)postmaster)
            total += (double)(ut + st);
    }
    if (proc)
        closedir(proc);
    return total / (double)sysconf(_SC_CLK_TCK);
}

/* The postmaster: the parent of this session's backend (the cluster runs on this machine). */
static pid_t postmaster_of(struct mh_db_conn *c)
{
    char buf[2048];
    const char *p = proc_stat((pid_t)scalar(c, "SELECT pg_backend_pid() AS n"), buf, sizeof(buf));
    int ppid = -1;
    if (p == NULL || sscanf(p, "%*c %d", &ppid) != 1)
        return -1;
    return (pid_t)ppid;
}

static long peak_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

/* The key-encryption key of the http_secret workload (a benchmark's, not a secret), unless the
 * caller names one in MESHHOOK_KEK (bench/observability shares its database, and the secrets
 * sealed in it, with an intake server of its own). */
#define BENCH_KEK "bench:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char *bench_kek(void)
{
    const char *kek = getenv("MESHHOOK_KEK");
    return kek != NULL && kek[0] != '\0' ? kek : BENCH_KEK;
}

/* Seals the project secret BENCH_TOKEN under bench_kek() and stores it, as the API would. */
static void add_secret(struct mh_db_conn *c, const char *project)
{
    const char *flags[] = {"--kek", bench_kek(), NULL};
    struct mh_config cfg;
    struct mh_secrets *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *sealed = NULL;
    const char *kek_id = NULL;
    const char *value = "bench-token-0123456789abcdef";
    if (mh_config_load(&cfg, 2, (char **)flags, NULL, NULL, &info) != MH_OK ||
        mh_secrets_create(&cfg, NULL, &s, &info) != MH_OK ||
        mh_secrets_seal(s, project, "BENCH_TOKEN", value, strlen(value), &sealed, &kek_id, &info) !=
            MH_OK)
        die("secret", &info);
    const char *p[] = {project, kek_id, sealed};
    json_decref(q(c,
                  "INSERT INTO secrets (project_id, name, description, kek_id, sealed, "
                  "created_by, updated_by) SELECT $1, 'BENCH_TOKEN', '', $2, $3::bytea, "
                  "created_by, created_by FROM projects WHERE id = $1",
                  3, p));
    free(sealed);
    mh_secrets_destroy(s);
    mh_config_cleanup(&cfg);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: [FOREACH_ITEMS=20] bench_engine BIN ADMIN_URL APP_URL "
                        "pure|http|http_secret|foreach|foreach_http RUNS WORKERS\n");
        return 2;
    }
    const char *bin = argv[1], *admin = argv[2], *app = argv[3], *kind = argv[4];
    int runs = (int)strtol(argv[5], NULL, 10);
    const char *fi = getenv("FOREACH_ITEMS");
    int foreach_items = fi != NULL && fi[0] != '\0' ? (int)strtol(fi, NULL, 10) : 20;
    const char *workers = argv[6];
    bool has_secret = strcmp(kind, "http_secret") == 0;
    /* foreach / foreach_http: one for_each over the trigger's FOREACH_ITEMS items, its body two
     * transforms or one http_call (concurrency 8); the line adds items_per_s. */
    bool is_foreach = strcmp(kind, "foreach") == 0 || strcmp(kind, "foreach_http") == 0;
    bool is_http = has_secret || strcmp(kind, "http") == 0 || strcmp(kind, "foreach_http") == 0;
    struct mh_mock *m = is_http ? mh_mock_start(target, NULL) : NULL;
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_connect(admin, &c, &info) != MH_OK)
        die("connect", &info);
    /* An older schema (a baseline binary) may have no alert tables yet. */
    json_decref(q(c,
                  "DO $$ BEGIN TRUNCATE runs, jobs, dead_letters CASCADE; "
                  "IF to_regclass('alert_rules') IS NOT NULL THEN "
                  "TRUNCATE alert_rules, alerts CASCADE; END IF; END $$",
                  0, NULL));
    json_t *def;
    if (is_foreach) {
        json_t *body;
        if (is_http) {
            char url[128];
            snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", mh_mock_port(m));
            body = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s}}}], s:[]}", "nodes", "id", "call",
                             "type", "http_call", "config", "url", url, "method", "POST", "body",
                             "expression", "{order: trigger.body.order, line: index}", "edges");
        } else {
            body = json_pack("{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}], s:[{s:s, s:s}]}",
                             "nodes", "id", "price", "type", "transform", "config", "expression",
                             "{sku: item.sku, qty: item.qty}", "id", "shape", "type", "transform",
                             "config", "expression",
                             "{sku: steps.price.output.sku, big: steps.price.output.qty > `3`}",
                             "edges", "from", "price", "to", "shape");
        }
        def = json_pack("{s:[{s:s, s:s, s:{s:s, s:i, s:o}}, {s:s, s:s, s:{s:s}}], "
                        "s:[{s:s, s:s}]}",
                        "nodes", "id", "lines", "type", "for_each", "config", "items",
                        "trigger.body.items", "concurrency", 8, "body", body, "id", "end", "type",
                        "terminate", "config", "output", "length(steps.lines.output)", "edges",
                        "from", "lines", "to", "end");
    } else if (is_http) {
        char url[128];
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", mh_mock_port(m));
        def = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:s}}}, {s:s, s:s, s:{s:s}}], "
                        "s:[{s:s, s:s}]}",
                        "nodes", "id", "call", "type", "http_call", "config", "url", url, "method",
                        "POST", "body", "expression", "trigger.body", "id", "end", "type",
                        "terminate", "config", "output", "steps.call.output.status", "edges",
                        "from", "call", "to", "end");
        if (has_secret)
            json_object_set_new(
                json_object_get(json_array_get(json_object_get(def, "nodes"), 0), "config"),
                "headers", json_pack("{s:s}", "Authorization", "Bearer {{secrets.BENCH_TOKEN}}"));
    } else {
        def = json_pack("{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, "
                        "{s:s, s:s, s:{s:s}}], s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}",
                        "nodes", "id", "prep", "type", "transform", "config", "expression",
                        "{order: trigger.body.order, amount: trigger.body.amount}", "id", "check",
                        "type", "branch", "config", "condition", "steps.prep.output.amount > `10`",
                        "id", "shape", "type", "transform", "config", "expression",
                        "{order: steps.prep.output.order, big: `true`}", "id", "end", "type",
                        "terminate", "config", "output", "steps.shape.output", "edges", "from",
                        "prep", "to", "check", "from", "check", "to", "shape", "port", "true",
                        "from", "shape", "to", "end");
    }
    char *def_s = json_dumps(def, JSON_COMPACT);
    json_decref(def);
    const char *dp[] = {def_s};
    json_t *ids = q(c,
                    "WITH u AS (INSERT INTO users (email, password_hash) VALUES ('bench-' || "
                    "gen_random_uuid() || '@example.com', 'x') RETURNING id), "
                    "p AS (INSERT INTO projects (name, created_by) SELECT 'bench', id FROM u "
                    "RETURNING id), "
                    "w AS (INSERT INTO workflows (project_id, name) SELECT id, 'bench' FROM p "
                    "RETURNING id, project_id), "
                    "v AS (INSERT INTO workflow_versions (project_id, workflow_id, version, "
                    "state, definition) SELECT project_id, id, 1, 'published', $1::jsonb FROM w "
                    "RETURNING id, workflow_id, project_id) SELECT * FROM v",
                    1, dp);
    free(def_s);
    json_t *v = json_array_get(ids, 0);
    const char *project = json_string_value(json_object_get(v, "project_id"));
    const char *wf = json_string_value(json_object_get(v, "workflow_id"));
    const char *vid = json_string_value(json_object_get(v, "id"));
    if (has_secret)
        add_secret(c, project);

    for (int i = 0; i < runs; i++) {
        if (i % 1000 == 0 && mh_db_begin(c, NULL, project, &info) != MH_OK)
            die("begin", &info);
        json_t *trigger =
            json_pack("{s:{s:i, s:i}, s:{}, s:{}, s:s}", "body", "order", i, "amount", 50 + i % 100,
                      "headers", "query", "received_at", "2026-01-01T00:00:00Z");
        if (is_foreach) {
            json_t *items = json_array();
            for (int k = 0; k < foreach_items; k++)
                json_array_append_new(items, json_pack("{s:s+, s:i}", "sku", "SKU-",
                                                       k % 2 ? "odd" : "even", "qty", k % 5 + 1));
            json_object_set_new(json_object_get(trigger, "body"), "items", items);
        }
        struct mh_run_start rs = {.project_id = project,
                                  .workflow_id = wf,
                                  .version_id = vid,
                                  .version = 1,
                                  .trigger = trigger};
        char id[37];
        if (mh_engine_run_create(c, &rs, id, &info) != MH_OK)
            die("enqueue", &info);
        json_decref(trigger);
        if ((i % 1000 == 999 || i == runs - 1) && mh_db_commit(c, &info) != MH_OK)
            die("commit", &info);
    }
    /* MH_BENCH_ALERT_RULES=N: N alert rules on the project (every kind in turn, none firing:
     * the thresholds are out of reach), evaluated every second; otherwise the evaluator is off.
     * bench/engine/run.sh compares the two. */
    const char *nrules = getenv("MH_BENCH_ALERT_RULES");
    bool has_alerts = nrules && strtol(nrules, NULL, 10) > 0;
    /* MH_BENCH_ALERT_EVAL_MS: how often they are evaluated (default every second). */
    const char *alert_every = getenv("MH_BENCH_ALERT_EVAL_MS");
    if (alert_every == NULL || alert_every[0] == '\0')
        alert_every = "1000";
    if (has_alerts) {
        const char *rp[] = {project, nrules};
        json_decref(q(c,
                      "INSERT INTO alert_rules (project_id, name, kind, window_s, threshold) "
                      "SELECT $1, 'bench ' || i, (ARRAY['run_failed', 'failure_count', "
                      "'failure_rate', 'dead_letter', 'queue_age', 'refusals'])[1 + i % 6], 300, "
                      "CASE WHEN i % 6 IN (0, 3) THEN 1 WHEN i % 6 = 2 THEN 99.99 ELSE 1000000 "
                      "END FROM generate_series(0, $2::int - 1) i",
                      2, rp));
    }
    json_decref(ids);
    /* MH_BENCH_SQL: a statement run as the admin before the server starts (an experiment, such
     * as dropping an index, measured against the same binary). */
    const char *extra = getenv("MH_BENCH_SQL");
    if (extra && *extra)
        json_decref(q(c, extra, 0, NULL));
    /* A checkpoint first, so that every measurement starts with the same full-page writes to
     * come (run.sh grants the admin pg_checkpoint; without it, no checkpoint). */
    if (mh_db_query(c, "CHECKPOINT", 0, NULL, NULL, NULL, &info) != MH_OK)
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
    pid_t pm = postmaster_of(c);
    json_t *lsn0 = q(c, "SELECT pg_current_wal_lsn()::text AS lsn", 0, NULL);
    char lsn_before[64];
    snprintf(lsn_before, sizeof(lsn_before), "%s",
             json_string_value(json_object_get(json_array_get(lsn0, 0), "lsn")));
    json_decref(lsn0);
    double pg_cpu0 = pg_cpu_seconds(pm);

    pid_t pid = fork();
    if (pid == 0) {
        setenv("MESHHOOK_DATABASE_URL", app, 1);
        setenv("MESHHOOK_ADMIN_DATABASE_URL", admin, 1);
        setenv("MESHHOOK_LOG_LEVEL", "warn", 1);
        setenv("MESHHOOK_KEK", BENCH_KEK, 0); /* unless the caller named one */
        /* The http workload's target is a mock on loopback, which http_call refuses by default;
         * an older binary ignores the variable. */
        setenv("MESHHOOK_OUTBOUND_ALLOWLIST", "127.0.0.1/32", 1);
        /* The flag only when asked for, so that an older binary can serve as a baseline. */
        execl(bin, bin, "serve", "--port", "0", "--bind-address", "127.0.0.1", "--workers", workers,
              "--worker-batch", "64", "--pool-size", "24", "--poll-interval-ms", "50",
              nrules ? "--alert-eval-interval-ms" : (char *)NULL, has_alerts ? alert_every : "0",
              (char *)NULL);
        _exit(127);
    }
    /* Waits until no run has a job left (a run's job goes in the transaction that finishes
     * it). Counting the finished runs read the whole table 20 times a second: a tenth of the
     * database's CPU per run in bench/observability, and more of it on whichever side ran
     * slower. This stops at the first job it finds. The rates come from the runs' own times,
     * not from this poll's. */
    long long left = runs;
    for (int i = 0; i < 3000 && left > 0; i++) {
        usleep(100 * 1000);
        left = scalar(c, "SELECT count(*) AS n FROM (SELECT 1 FROM jobs WHERE kind = 'advance' "
                         "LIMIT 1) x");
    }
    long rss = peak_rss_kib(pid);
    double cpu = cpu_seconds(pid);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    usleep(200 * 1000); /* the server's sessions end and the postmaster reaps them */
    /* MH_BENCH_CATCH_UP_SQL: work the measured runs leave behind (bench/observability folds the
     * runs the statistics rollup had not reached), done here so its database CPU is counted. */
    const char *catch_up = getenv("MH_BENCH_CATCH_UP_SQL");
    if (catch_up != NULL && catch_up[0] != '\0')
        json_decref(q(c, catch_up, 0, NULL));
    double pg_cpu = pg_cpu_seconds(pm) - pg_cpu0;
    const char *lp[] = {lsn_before};
    json_t *wal =
        q(c, "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::bigint AS n", 1, lp);
    long long wal_bytes = json_integer_value(json_object_get(json_array_get(wal, 0), "n"));
    json_decref(wal);
    json_t *rows = q(c,
                     "SELECT count(*) AS n, count(*) FILTER (WHERE status = 'succeeded') AS ok, "
                     "extract(epoch FROM max(finished_at) - min(started_at))::float8 AS secs "
                     "FROM runs",
                     0, NULL);
    json_t *r = json_array_get(rows, 0);
    double secs = json_real_value(json_object_get(r, "secs"));
    long long ok = json_integer_value(json_object_get(r, "ok"));
    printf("engine %-5s runs=%d succeeded=%lld seconds=%.2f runs_per_s=%.0f peak_rss_mib=%.1f "
           "server_cpu_s=%.2f pg_cpu_s=%.2f cpu_us_per_run=%.0f/%.0f wal_bytes_per_run=%.0f",
           kind, runs, ok, secs, secs > 0 ? (double)ok / secs : 0.0, (double)rss / 1024.0, cpu,
           pg_cpu, ok > 0 ? cpu * 1e6 / (double)ok : 0.0, ok > 0 ? pg_cpu * 1e6 / (double)ok : 0.0,
           ok > 0 ? (double)wal_bytes / (double)ok : 0.0);
    if (is_foreach)
        printf(" items_per_run=%d items_per_s=%.0f", foreach_items,
               secs > 0 ? (double)ok * foreach_items / secs : 0.0);
    printf("\n");
    json_decref(rows);
    if (ok != runs) { /* say why, once */
        json_t *why = q(c,
                        "SELECT status, coalesce(error, '') AS error FROM runs "
                        "WHERE status <> 'succeeded' LIMIT 1",
                        0, NULL);
        json_t *w = json_array_get(why, 0);
        if (w != NULL)
            fprintf(stderr, "bench_engine: a run is %s: %s\n",
                    json_string_value(json_object_get(w, "status")),
                    json_string_value(json_object_get(w, "error")));
        json_decref(why);
    }
    mh_db_close(c);
    mh_mock_stop(m);
    return ok == runs ? 0 : 1;
}
