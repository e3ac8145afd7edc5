/* SPDX-License-Identifier: MIT */
/*
 * The `meshhook` binary: wiring only. It parses the subcommand, loads the configuration, starts
 * and stops the subsystems, and turns SIGTERM/SIGINT into a graceful drain. Each subcommand's
 * work lives in its module.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "scheduler/scheduler.h"
#include "cli/cli.h"
#include "cluster/cluster.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "runtime/store.h"
#include "http/app.h"
#include "http/hub.h"
#include "intake/intake.h"
#include "metrics/metrics.h"
#include "retention/retention.h"
#include "secrets/secrets.h"
#include "stats/stats.h"

static enum mh_err start_intake(struct mh_app *app, const struct mh_cluster *cluster,
                                struct mh_db_pool **commit_pool);
static int cmd_serve(int argc, char **argv);
static int cmd_migrate(int argc, char **argv);
static int cmd_help(int argc, char **argv);

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "run the HTTP server and the workers"},
    {"migrate", cmd_migrate, "apply pending database migrations (--status to list them)"},
    {"jp", mh_cli_jp, "evaluate a JMESPath expression against JSON (a file or stdin)"},
    {"user", mh_cli_user, "create the first user (user create --email E), count users"},
    {"replay", mh_cli_replay, "verify a run's log and re-evaluate its pure steps (replay RUN_ID)"},
    {"audit", mh_cli_audit, "verify the audit log's hash chains (audit verify)"},
    {"kek", mh_cli_kek, "rotate the key-encryption key of secrets (kek rotate, kek status)"},
    {"retention", mh_cli_retention,
     "remove data past its retention once (--dry-run: print what would go)"},
    {"sign", mh_cli_sign, "print the signature headers a webhook sender would send (sign --help)"},
    {"help", cmd_help, "show this help"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: meshhook <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < MH_ARRAY_LEN(commands); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'meshhook <command> --help' shows a command's options.\n");
}

static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

/* Removes every `flag` from argv (keeping the order of the rest) and says whether there was one. */
static bool take_flag(int *argc, char **argv, const char *flag)
{
    bool found = false;
    int o = 1;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            found = true;
        else
            argv[o++] = argv[i];
    }
    *argc = o;
    argv[o] = NULL;
    return found;
}

/* Loads configuration from the environment and argv[1..]; on error prints it and returns 2. */
static int load_config(struct mh_config *cfg, int argc, char **argv, char **rest, int *nrest)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_config_load(cfg, argc - 1, argv + 1, rest, nrest, &info) != MH_OK) {
        fprintf(stderr, "meshhook %s: %s\n", argv[0], info.message);
        return 2;
    }
    struct mh_log_spec spec = {.level = MH_LOG_INFO};
    if (mh_log_spec_parse(cfg->log_level, &spec, NULL) != MH_OK) /* validated by mh_config_load */
        spec.level = MH_LOG_INFO;
    mh_log_configure_spec(&spec, strcmp(cfg->log_format, "json") == 0);
    mh_metrics_set_enabled(cfg->metrics);
    return 0;
}

/* Says which database a command uses (never its password), and where it came from. */
static void log_database(const char *what, const char *url, bool is_embedded)
{
    char where[512];
    mh_db_describe_url(url, where, sizeof(where));
    mh_log(MH_LOG_INFO, "main", "%s database: %s%s", what, where,
           is_embedded ? " (the private cluster of `make run`, from ./.meshhook/pg.port: no "
                         "database URL was set)"
                       : "");
}

/* Refuses to serve as a role that row-level security does not bind (a superuser, BYPASSRLS,
 * the tables' owner): every connection of both pools is checked when it opens, and one is
 * opened now so that a misconfigured server stops at once rather than at its first request.
 * When the database is down, the server starts and the check comes with the first
 * connection. Returns false when the role is refused. */
static bool check_database_role(struct mh_db_pool *pool)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_db_acquire(pool, &c, &info);
    mh_db_release(c);
    if (rc == MH_EFORBIDDEN)
        return false; /* logged by the pool */
    if (rc != MH_OK)
        mh_log(MH_LOG_WARN, "main",
               "cannot reach the database yet (%s): starting anyway; each connection's role is "
               "checked when it opens",
               info.message);
    return true;
}

/* On a fresh install, says how to make the first user (sign-up is off by default). */
static void hint_first_user(struct mh_app *app)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    if (mh_db_acquire(app->pool, &c, NULL) == MH_OK &&
        mh_db_query(c, "SELECT mh_user_count() AS n", 0, NULL, &rows, NULL, NULL) == MH_OK &&
        json_integer_value(json_object_get(json_array_get(rows, 0), "n")) == 0)
        mh_log(MH_LOG_WARN, "main",
               "no users yet: create the first with: meshhook user create --email you@example.com");
    json_decref(rows);
    mh_db_release(c);
}

static void ensure_partitions(struct mh_app *app)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_acquire(app->pool, &c, &info) != MH_OK ||
        mh_db_query(c, "SELECT mh_ensure_event_partitions(3)", 0, NULL, NULL, NULL, &info) != MH_OK)
        mh_log(MH_LOG_WARN, "main", "could not create event partitions: %s", info.message);
    mh_db_release(c);
}

/* Webhook intake (src/intake): its group-commit and delivery-log threads. The committers get a
 * connection each of their own (*commit_pool, the caller's to destroy), so that nothing else
 * waiting on the database (API requests on every handler thread, workers) can hold up a
 * webhook's commit. */
static enum mh_err start_intake(struct mh_app *app, const struct mh_cluster *cluster,
                                struct mh_db_pool **commit_pool)
{
    const struct mh_config *cfg = app->cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_db_pool_create(cfg->database_url, cfg->intake_committers, cfg->pool_wait_ms,
                                       commit_pool);
    if (rc != MH_OK)
        return rc;
    mh_db_pool_set_name(*commit_pool, "intake");
    mh_db_pool_require_app_role(*commit_pool);
    struct mh_intake_opts io = {
        .pool = app->pool,
        .commit_pool = *commit_pool,
        .secrets = app->secrets,
        .runtime = app->runtime,
        .server_max_body_bytes = cfg->max_body_bytes,
        .committers = cfg->intake_committers,
        .max_batch = cfg->intake_max_batch,
        .doubt_wait_ms = cfg->intake_doubt_wait_ms,
        .pure_prefix = cfg->intake_pure_prefix,
        .refused_body_quota_bytes = cfg->refused_body_quota_bytes,
        .cluster = cluster,
        .project_delivery_rate = cfg->project_delivery_rate,
        .project_delivery_burst = cfg->project_delivery_burst,
        .limit_runs_in_flight = cfg->limit_runs_in_flight,
        .limit_stored_bytes = cfg->limit_stored_bytes,
        .listen_url = cfg->database_url,
    };
    rc = mh_intake_create(&io, &app->intake, &info);
    if (rc != MH_OK)
        mh_log(MH_LOG_ERROR, "main", "%s", info.message);
    return rc;
}

static int cmd_serve(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: meshhook serve [options]\n\noptions (flag, or MESHHOOK_* environment "
               "variable):\n");
        printf("  %-26s prints the effective settings (secrets redacted) and exits\n",
               "--print-config");
        mh_config_print_help(stdout);
        return 0;
    }
    bool print_config = take_flag(&argc, argv, "--print-config");
    struct mh_config cfg;
    int st = load_config(&cfg, argc, argv, NULL, NULL);
    if (st)
        return st;
    if (print_config) {
        mh_config_print(&cfg, stdout);
        mh_config_cleanup(&cfg);
        return 0;
    }
    if (cfg.database_url[0] == '\0') {
        fprintf(stderr, "meshhook serve: set MESHHOOK_DATABASE_URL or --database-url\n");
        mh_config_cleanup(&cfg);
        return 2;
    }

    /* Signals are handled by sigwait in this thread only; every thread started below inherits
     * the mask. SIGPIPE is ignored: a peer that hangs up is an error return, not a death. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct mh_app app = {.cfg = &cfg};
    struct mh_db_pool *commit_pool = NULL, *stream_pool = NULL;
    struct mh_http_server *srv = NULL;
    struct mh_stats *stats = NULL;
    struct mh_retention_job *retention = NULL;
    struct mh_cluster *cluster = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int status = 1;
    log_database("serving from", cfg.database_url, cfg.is_database_url_embedded);
    if (mh_db_pool_create(cfg.database_url, cfg.pool_size, cfg.pool_wait_ms, &app.pool) != MH_OK)
        goto out;
    mh_db_pool_set_name(app.pool, "main");
    mh_db_pool_require_app_role(app.pool);
    if (!check_database_role(app.pool))
        goto out;
    /* Refuses to start when stored secrets need a key-encryption key this server lacks. */
    if (mh_secrets_create(&cfg, app.pool, &app.secrets, &info) != MH_OK) {
        mh_log(MH_LOG_ERROR, "main", "%s", info.message);
        goto out;
    }
    /* wait_callback: the key of callback tokens (none without a KEK: such steps then fail with
     * a message naming the kek) and the base of their URLs. */
    app.has_callback_key = mh_secrets_callback_key(app.secrets, app.callback_key) == MH_OK;
    if (cfg.public_url[0] != '\0') {
        snprintf(app.public_url, sizeof(app.public_url), "%s", cfg.public_url);
    } else {
        bool is_any = strcmp(cfg.bind_address, "0.0.0.0") == 0 ||
                      strcmp(cfg.bind_address, "::") == 0 || cfg.bind_address[0] == '\0';
        snprintf(app.public_url, sizeof(app.public_url), "http://%s:%d",
                 is_any ? "localhost" : cfg.bind_address, cfg.port);
    }
    /* Event-log partitions for the coming months (a default partition catches the rest). */
    ensure_partitions(&app);
    /* This instance in the `instances` table (src/cluster): the instances serving webhooks share
     * the rate limits. */
    struct mh_cluster_opts co = {
        .pool = app.pool,
        .serves_intake = !cfg.workers_only,
        .workers = cfg.workers,
        .heartbeat_ms = cfg.instance_heartbeat_ms,
    };
    if (mh_cluster_start(&co, &cluster) != MH_OK) {
        mh_log(MH_LOG_ERROR, "main", "cannot start the instance heartbeat");
        goto out;
    }
    if (cfg.workers > 0) {
        struct mh_engine_runtime_opts ro = {
            .pool = app.pool,
            .listen_db_url = cfg.database_url,
            .resolve_secrets = mh_secrets_resolve_cb,
            .secrets_ctx = app.secrets,
            .workers = cfg.workers,
            .batch = cfg.worker_batch,
            .lease_ms = cfg.job_lease_ms,
            .poll_ms = cfg.poll_interval_ms,
            .run_timeout_ms = (int64_t)cfg.run_timeout_s * 1000,
            .max_call_depth = cfg.subworkflow_max_depth,
            .max_response_bytes = (size_t)cfg.max_response_bytes,
            .max_in_flight = cfg.outbound_max_in_flight,
            .max_in_flight_per_project = cfg.outbound_max_in_flight_per_project,
            .max_queued = cfg.outbound_max_queued,
            .breaker_failures = cfg.breaker_failures,
            .breaker_open_ms = cfg.breaker_open_ms,
            .allow_private_targets = cfg.allow_private_targets,
            .outbound_allowlist = cfg.outbound_allowlist,
            .callback_key = app.has_callback_key ? app.callback_key : NULL,
            .callback_base_url = app.public_url,
        };
        if (mh_engine_runtime_start(&ro, &app.runtime, &info) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "%s", info.message);
            goto out;
        }
        /* Failure alerts: rule evaluation and delivery, on the workers' side. */
        struct mh_alerts_opts ao = {
            .pool = app.pool,
            .secrets = app.secrets,
            .runtime = app.runtime,
            .eval_interval_ms = cfg.alert_eval_interval_ms,
            .poll_ms = cfg.poll_interval_ms,
            .allow_private_targets = cfg.allow_private_targets,
            .outbound_allowlist = cfg.outbound_allowlist,
        };
        if (mh_alerts_start(&ao, &app.alerts, &info) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "%s", info.message);
            goto out;
        }
        /* Schedules: every server fires due ones; row locks share the work. */
        struct mh_scheduler_opts so = {
            .pool = app.pool,
            .runtime = app.runtime,
            .poll_ms = cfg.schedule_poll_ms,
            .allow_seconds = cfg.schedule_allow_seconds,
        };
        if (mh_scheduler_start(&so, &app.scheduler, &info) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "%s", info.message);
            goto out;
        }
    }
    /* Retention passes (src/retention): several servers may run them; an advisory lock lets
     * one pass at a time proceed. */
    if (cfg.retention_interval_s > 0) {
        struct mh_retention_opts ro;
        mh_retention_opts_from_config(&cfg, &ro);
        if (mh_retention_job_start(cfg.database_url, &ro, cfg.retention_interval_s, &retention,
                                   &info) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "%s", info.message);
            goto out;
        }
    }
    /* Webhook intake, unless this instance only runs workers. */
    if (!cfg.workers_only && start_intake(&app, cluster, &commit_pool) != MH_OK)
        goto out;
    /* Run statistics (src/stats): a background rollup, alongside the workers. */
    if (cfg.workers > 0 && cfg.stats_interval_ms > 0) {
        struct mh_stats_opts so = {
            .pool = app.pool,
            .interval_ms = cfg.stats_interval_ms,
            .lag_ms = cfg.stats_lag_ms,
            .batch = cfg.stats_batch,
        };
        if (mh_stats_start(&so, &stats) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "cannot start the statistics thread");
            goto out;
        }
    }
    /* Live streams: none with --workers-only (no API). */
    if (!cfg.workers_only) {
        /* One LISTEN connection, and one more for their reads, of their own so that
         * neither API requests nor workers hold up a stream (nor a stream them). */
        if (mh_db_pool_create(cfg.database_url, 1, cfg.pool_wait_ms, &stream_pool) != MH_OK)
            goto out;
        mh_db_pool_set_name(stream_pool, "streams");
        mh_db_pool_require_app_role(stream_pool);
        struct mh_http_hub_opts ho = {
            .pool = stream_pool,
            .listen_url = cfg.database_url,
            .heartbeat_ms = cfg.stream_heartbeat_ms,
            .max_subscribers = cfg.stream_max_subscribers,
            .max_per_user = cfg.stream_max_per_user,
            .queue_bytes = (size_t)cfg.stream_queue_bytes,
        };
        if (mh_http_hub_start(&ho, &app.hub, &info) != MH_OK) {
            mh_log(MH_LOG_ERROR, "main", "%s", info.message);
            goto out;
        }
    }
    struct mh_http_server_opts opts = {
        .bind_address = cfg.bind_address,
        .port = cfg.port,
        .threads = cfg.http_threads,
        /* A handler holds at most one database connection at a time: more threads than
         * connections would only wait for the pool. */
        .handler_threads = cfg.pool_size,
        .handler_queue_max = cfg.handler_queue_max,
        .connection_timeout_s = cfg.connection_timeout_s,
        .max_body_bytes = cfg.max_body_bytes,
        .trusted_proxies = cfg.trusted_proxies,
        .max_connections_per_ip = cfg.max_connections_per_ip,
        .min_receive_bytes_per_s = cfg.min_receive_bytes_per_s,
        /* --workers-only: the listener serves health and metrics, nothing else. */
        .is_static_disabled = cfg.workers_only,
    };
    if (mh_http_server_start(&opts, cfg.workers_only ? mh_app_health_routes : mh_app_routes,
                             cfg.workers_only ? mh_app_health_routes_count : mh_app_routes_count,
                             &app, &srv, &info) != MH_OK) {
        mh_log(MH_LOG_ERROR, "main", "%s", info.message);
        goto out;
    }
    mh_log(MH_LOG_INFO, "main", "%s on http://%s:%d",
           cfg.workers_only ? "workers only; /healthz, /readyz and /metrics" : "listening",
           cfg.bind_address, mh_http_server_port(srv));
    if (!cfg.workers_only)
        hint_first_user(&app);

    int sig = 0;
    sigwait(&set, &sig);
    mh_log(MH_LOG_INFO, "main", "received %s, draining (up to %d ms)",
           sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg.shutdown_timeout_ms);
    int left = mh_http_server_drain(srv, cfg.shutdown_timeout_ms);
    if (left)
        mh_log(MH_LOG_WARN, "main", "%d request(s) still running at the deadline", left);
    status = 0;
out:
    mh_http_server_destroy(srv);
    mh_stats_stop(stats);
    mh_http_hub_stop(app.hub);
    mh_retention_job_stop(retention);
    mh_intake_destroy(app.intake);
    mh_scheduler_stop(app.scheduler);
    mh_cluster_stop(cluster);
    mh_alerts_stop(app.alerts);
    mh_engine_runtime_stop(app.runtime);
    mh_crypto_wipe(app.callback_key, sizeof(app.callback_key));
    mh_secrets_destroy(app.secrets);
    mh_db_pool_destroy(commit_pool);
    mh_db_pool_destroy(stream_pool);
    mh_db_pool_destroy(app.pool);
    mh_config_cleanup(&cfg);
    if (status == 0)
        mh_log(MH_LOG_INFO, "main", "stopped");
    return status;
}

static int cmd_migrate(int argc, char **argv)
{
    if (wants_help(argc, argv)) {
        printf("usage: meshhook migrate [--status] [--admin-database-url URL]\n\n"
               "Applies the migrations compiled into this binary, in order, each in its own\n"
               "transaction, under an advisory lock. --status lists applied and pending ones\n"
               "and exits 1 when some are pending.\n");
        return 0;
    }
    bool status_only = false;
    char **args = mh_xcalloc((size_t)argc + 1, sizeof(char *));
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--status") == 0)
            status_only = true;
        else
            args[n++] = argv[i];
    }
    struct mh_config cfg;
    int st = load_config(&cfg, n, args, NULL, NULL);
    free(args);
    if (st)
        return st;
    if (cfg.admin_database_url[0] == '\0') {
        fprintf(stderr, "meshhook migrate: set MESHHOOK_ADMIN_DATABASE_URL or "
                        "MESHHOOK_DATABASE_URL\n");
        mh_config_cleanup(&cfg);
        return 2;
    }
    log_database("migrating", cfg.admin_database_url, cfg.is_admin_database_url_embedded);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int pending = 0;
    enum mh_err rc = status_only
                         ? mh_db_migrate_status(cfg.admin_database_url, stdout, &pending, &info)
                         : mh_db_migrate(cfg.admin_database_url, stdout, &info);
    mh_config_cleanup(&cfg);
    if (rc != MH_OK) {
        fprintf(stderr, "meshhook migrate: %s\n", info.message[0] ? info.message : mh_strerror(rc));
        return 1;
    }
    return status_only && pending ? 1 : 0;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cmd_help(argc - 1, argv + 1);
    for (size_t i = 0; i < MH_ARRAY_LEN(commands); i++) {
        if (strcmp(argv[1], commands[i].name) != 0)
            continue;
        /* `--help` anywhere (`user create --help`) shows the command's usage, whatever else
         * the line holds: each command answers `<command> --help`. */
        if (wants_help(argc - 1, argv + 1)) {
            char *help[] = {argv[1], "--help", NULL};
            return commands[i].run(2, help);
        }
        return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr, "meshhook: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
