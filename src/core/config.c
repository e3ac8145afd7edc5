/* SPDX-License-Identifier: MIT */
/*
 * The settings table and its loader (after redis's static_configs and pgbouncer's CF_ABS). Each
 * row names a field of struct mh_config by offset, so adding a setting is one row here plus one
 * field in config.h; help, validation, environment and flag parsing follow from the row.
 */
#include "core/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

enum cfg_type { CFG_INT, CFG_LONG, CFG_STR, CFG_BOOL };

struct cfg_row {
    const char *name;
    enum cfg_type type;
    size_t offset;
    const char *def;
    long min;
    long max;
    bool is_secret;
    const char *help;
};

#define F(field) offsetof(struct mh_config, field)

static const struct cfg_row rows[] = {
    {"port", CFG_INT, F(port), "8080", 0, 65535, false, "HTTP port (0 picks a free one)"},
    {"bind_address", CFG_STR, F(bind_address), "0.0.0.0", 0, 0, false, "address to listen on"},
    {"public_url", CFG_STR, F(public_url), "", 0, 0, false,
     "public base URL of this server, such as https://hooks.example.com: wait_callback URLs "
     "start with it (default http://<bind_address or localhost>:<port>)"},
    {"database_url", CFG_STR, F(database_url), "", 0, 0, true,
     "PostgreSQL URL the server uses (a role without ownership or BYPASSRLS)"},
    {"admin_database_url", CFG_STR, F(admin_database_url), "", 0, 0, true,
     "PostgreSQL URL of the schema owner, for migrations (default: database_url)"},
    {"pool_size", CFG_INT, F(pool_size), "8", 1, 512, false,
     "database connections, and as many threads running API requests"},
    {"handler_queue_max", CFG_INT, F(handler_queue_max), "256", 1, 1000000, false,
     "API requests waiting for a thread, per kind (with credentials, without, webhooks to "
     "endpoints not cached); past it 503"},
    {"pool_wait_ms", CFG_INT, F(pool_wait_ms), "2000", 1, 600000, false,
     "longest wait for a free connection before answering 503"},
    {"log_level", CFG_STR, F(log_level), "info", 0, 0, false,
     "error|warn|info|debug|trace, then per module MODULE=LEVEL (comma-separated), e.g. "
     "info,intake=debug"},
    {"log_format", CFG_STR, F(log_format), "json", 0, 0, false, "json|text"},
    {"max_body_bytes", CFG_LONG, F(max_body_bytes), "1048576", 1, 1073741824, false,
     "largest request body accepted (413 beyond)"},
    {"http_threads", CFG_INT, F(http_threads), "0", 0, 1024, false,
     "HTTP threads serving connections, 0 for twice the CPUs (at least 4, at most 64); "
     "neither a webhook waiting for its commit nor an API request holds one"},
    {"connection_timeout_s", CFG_INT, F(connection_timeout_s), "30", 1, 3600, false,
     "idle or slow client connections are closed after this many seconds"},
    {"max_connections_per_ip", CFG_INT, F(max_connections_per_ip), "256", 0, 1000000, false,
     "open connections one client address may hold (trusted proxies exempt; 0: no limit)"},
    {"min_receive_bytes_per_s", CFG_LONG, F(min_receive_bytes_per_s), "512", 0, 1073741824, false,
     "a request body must arrive at least this fast on average once connection_timeout_s has "
     "passed (0: no minimum); request headers must be complete within connection_timeout_s"},
    {"shutdown_timeout_ms", CFG_INT, F(shutdown_timeout_ms), "10000", 0, 600000, false,
     "how long SIGTERM waits for in-flight requests"},
    {"workers", CFG_INT, F(workers), "2", 0, 256, false,
     "worker threads executing runs (0: this instance serves HTTP only)"},
    {"workers_only", CFG_BOOL, F(workers_only), "false", 0, 0, false,
     "run the workers without the public API and webhook intake: the listener on port serves "
     "only /healthz, /readyz and /metrics (docs/deployment.md)"},
    {"instance_heartbeat_ms", CFG_INT, F(instance_heartbeat_ms), "1000", 100, 60000, false,
     "each instance records itself in the database this often; instances serving webhooks "
     "share the rate limits, an instance silent for 3 beats no longer counts"},
    {"worker_batch", CFG_INT, F(worker_batch), "16", 1, 1000, false, "jobs claimed at once"},
    {"job_lease_ms", CFG_INT, F(job_lease_ms), "30000", 100, 3600000, false,
     "lease of a claimed job; a crashed worker's jobs return after it"},
    {"poll_interval_ms", CFG_INT, F(poll_interval_ms), "1000", 10, 600000, false,
     "workers poll this often when no notification arrives"},
    {"alert_eval_interval_ms", CFG_INT, F(alert_eval_interval_ms), "5000", 0, 3600000, false,
     "each enabled alert rule is evaluated this often (0: this server evaluates none; it still "
     "delivers queued alerts)"},
    {"schedule_poll_ms", CFG_INT, F(schedule_poll_ms), "1000", 10, 60000, false,
     "the scheduler looks for due schedules this often (docs/workflows.md#schedules)"},
    {"schedule_allow_seconds", CFG_BOOL, F(schedule_allow_seconds), "false", 0, 0, false,
     "accept six-field cron expressions whose first field is the second (meant for tests)"},
    {"run_timeout_s", CFG_INT, F(run_timeout_s), "0", 0, 31536000, false,
     "a run still unfinished this long after it started fails (0: never)"},
    {"subworkflow_max_depth", CFG_INT, F(subworkflow_max_depth), "8", 1, 64, false,
     "call_workflow steps nest at most this deep: a run this many calls deep starts no child "
     "(docs/workflows.md#sub-workflows)"},
    {"outbound_max_in_flight", CFG_INT, F(outbound_max_in_flight), "256", 1, 100000, false,
     "http_call requests sent at once; more wait in memory"},
    {"outbound_max_in_flight_per_project", CFG_INT, F(outbound_max_in_flight_per_project), "64", 1,
     100000, false,
     "http_call requests of one project sent at once (at most outbound_max_in_flight); more wait "
     "while other projects' requests are sent"},
    {"outbound_max_queued", CFG_INT, F(outbound_max_queued), "10000", 1, 1000000, false,
     "http_call requests waiting in memory for a free slot, a quarter of them for one project; "
     "past it a call is deferred and its run tries again 1-2 s later"},
    {"breaker_failures", CFG_INT, F(breaker_failures), "5", 1, 10000, false,
     "consecutive failures (connection errors, timeouts, 5xx) that open a host's breaker"},
    {"breaker_open_ms", CFG_INT, F(breaker_open_ms), "30000", 10, 3600000, false,
     "how long an open breaker parks calls to its host before one probe"},
    {"max_response_bytes", CFG_LONG, F(max_response_bytes), "1048576", 1024, 67108864, false,
     "largest http_call response body recorded"},
    {"allow_private_targets", CFG_BOOL, F(allow_private_targets), "false", 0, 0, false,
     "http_call may connect to loopback, private, link-local and metadata addresses (development "
     "only; false: only public ones and outbound_allowlist, whatever a name resolves to)"},
    {"outbound_allowlist", CFG_STR, F(outbound_allowlist), "", 0, 0, false,
     "hosts and CIDRs (comma-separated) every project's http_call may reach although they are "
     "internal, e.g. 10.0.0.0/8,vault.internal"},
    {"intake_committers", CFG_INT, F(intake_committers), "2", 1, 64, false,
     "webhook intake threads committing deliveries, each on a database connection of its own"},
    {"intake_max_batch", CFG_INT, F(intake_max_batch), "32", 1, 1024, false,
     "most webhook deliveries committed in one transaction (group commit)"},
    {"intake_pure_prefix", CFG_BOOL, F(intake_pure_prefix), "false", 0, 0, false,
     "the intake decides a new run's first pure steps (transform, branch, respond, terminate) in "
     "the transaction that records the delivery, instead of a worker (endpoints answering with "
     "a respond node always do)"},
    {"intake_doubt_wait_ms", CFG_INT, F(intake_doubt_wait_ms), "5000", 0, 60000, false,
     "longest wait, when a webhook's COMMIT was sent and its answer lost, to find out whether "
     "it was recorded before answering 503"},
    {"refused_body_quota_bytes", CFG_LONG, F(refused_body_quota_bytes), "67108864", 0,
     1099511627776L, false,
     "bytes of refused deliveries' bodies (schema refusals and unpublished workflows, kept for "
     "replay) each project keeps at most; past it they are logged without their body (0: none "
     "kept)"},
    {"limit_runs_in_flight", CFG_LONG, F(limit_runs_in_flight), "0", 0, 100000000L, false,
     "runs not yet finished a project may have, unless it sets its own (docs/operations.md, "
     "\"Resource limits per project\"); a webhook beyond it is answered 429 (0: unlimited)"},
    {"limit_stored_bytes", CFG_LONG, F(limit_stored_bytes), "0", 0, 1125899906842624L, false,
     "bytes of runs, events, deliveries and blobs a project may hold, as measured by the "
     "retention pass, unless it sets its own; past it webhooks are answered 429 (0: unlimited)"},
    {"project_delivery_rate", CFG_INT, F(project_delivery_rate), "0", 0, 1000000, false,
     "webhooks per second a project's endpoints admit together, unless the project sets its "
     "own (429 beyond; 0: no project limit)"},
    {"project_delivery_burst", CFG_LONG, F(project_delivery_burst), "0", 0, 10000000, false,
     "burst above project_delivery_rate a project may send at once (0: one second's worth)"},
    {"stats_interval_ms", CFG_INT, F(stats_interval_ms), "10000", 0, 3600000, false,
     "how often the run statistics are brought up to date (docs/observability.md; 0: this "
     "server does not maintain them)"},
    {"stats_lag_ms", CFG_INT, F(stats_lag_ms), "30000", 0, 3600000, false,
     "runs and deliveries younger than this wait for a later statistics pass; a row committed "
     "later than this after its time (clock skew between servers) is not counted"},
    {"stats_batch", CFG_INT, F(stats_batch), "5000", 10, 1000000, false,
     "most runs and deliveries folded into the statistics per transaction"},
    {"retention_runs_days", CFG_INT, F(retention_runs_days), "30", 1, 3650, false,
     "days a finished run (with its events, jobs and dead letters) is kept, for projects that "
     "set none"},
    {"retention_deliveries_days", CFG_INT, F(retention_deliveries_days), "30", 1, 3650, false,
     "days a webhook delivery (the intake log) is kept, for projects that set none"},
    {"retention_dead_letters_days", CFG_INT, F(retention_dead_letters_days), "30", 1, 3650, false,
     "days a dead letter is kept, for projects that set none"},
    {"retention_interval_s", CFG_INT, F(retention_interval_s), "3600", 0, 604800, false,
     "seconds between two retention passes of this server (0: this server runs none)"},
    {"retention_batch_rows", CFG_INT, F(retention_batch_rows), "500", 1, 10000, false,
     "rows a retention pass deletes per transaction"},
    {"retention_pause_ms", CFG_INT, F(retention_pause_ms), "50", 0, 60000, false,
     "pause between two retention batches"},
    {"kek_file", CFG_STR, F(kek_file), "", 0, 0, false, "file holding the key-encryption key"},
    {"kek", CFG_STR, F(kek), "", 0, 0, true, "key-encryption key (hex or base64)"},
    {"kek_id", CFG_STR, F(kek_id), "", 0, 0, false, "id of the key-encryption key"},
    {"old_kek_files", CFG_STR, F(old_kek_files), "", 0, 0, false,
     "previous KEKs still readable during a rotation: comma-separated [ID=]PATH"},
    {"old_keks", CFG_STR, F(old_keks), "", 0, 0, true,
     "previous KEKs given inline: comma-separated ID:KEY"},
    {"allow_signup", CFG_BOOL, F(allow_signup), "false", 0, 0, false, "public sign-up"},
    {"secure_cookies", CFG_BOOL, F(secure_cookies), "false", 0, 0, false,
     "mark cookies Secure (set when served over TLS)"},
    {"session_idle_minutes", CFG_INT, F(session_idle_minutes), "720", 1, 525600, false,
     "a session unused this long expires"},
    {"session_max_hours", CFG_INT, F(session_max_hours), "336", 1, 87600, false,
     "a session expires this long after login whatever its use"},
    {"password_m_kib", CFG_INT, F(password_m_kib), "19456", 19456, 1048576, false,
     "argon2id memory per password hash in KiB (OWASP minimum 19456)"},
    {"password_t_cost", CFG_INT, F(password_t_cost), "2", 2, 64, false, "argon2id passes"},
    {"password_parallelism", CFG_INT, F(password_parallelism), "1", 1, 64, false, "argon2id lanes"},
    {"login_max_failures", CFG_INT, F(login_max_failures), "5", 1, 1000, false,
     "failed logins per account from one address (ten times that per account from anywhere, "
     "and per address) before each further failure doubles a pause, from 1 s"},
    {"login_window_s", CFG_INT, F(login_window_s), "900", 1, 86400, false,
     "failures are forgotten after this long without one; the pause is at most half of it"},
    {"stream_heartbeat_ms", CFG_INT, F(stream_heartbeat_ms), "15000", 100, 3600000, false,
     "a comment line is sent on every live stream this often (keeps proxies from closing idle "
     "streams, and finds clients that have gone)"},
    {"stream_max_subscribers", CFG_INT, F(stream_max_subscribers), "10000", 0, 1000000, false,
     "live streams (run and project feeds) this server serves at once; more get 503"},
    {"stream_max_per_user", CFG_INT, F(stream_max_per_user), "64", 0, 1000000, false,
     "live streams one user may hold on this server at once; more get 429"},
    {"stream_queue_bytes", CFG_LONG, F(stream_queue_bytes), "1048576", 4096, 1073741824, false,
     "bytes waiting to be sent per live stream; a slow client is sent the next event once the "
     "queue has room for it, one that stops reading is closed by connection_timeout_s"},
    {"trusted_proxies", CFG_STR, F(trusted_proxies), "", 0, 0, false,
     "reverse proxies (comma-separated addresses or CIDR ranges) whose X-Forwarded-For names "
     "the client; empty: the peer is the client"},
    {"metrics", CFG_BOOL, F(metrics), "true", 0, 0, false,
     "collect metrics and serve them at /metrics (false: neither)"},
    {"metrics_token", CFG_STR, F(metrics_token), "", 0, 0, true,
     "bearer token a scraper sends to /metrics; empty: /metrics answers loopback clients only"},
};

static void *field(struct mh_config *cfg, const struct cfg_row *r)
{
    return (char *)cfg + r->offset;
}

static enum mh_err set_value(struct mh_config *cfg, const struct cfg_row *r, const char *v,
                             const char *source, struct mh_err_info *info)
{
    switch (r->type) {
    case CFG_INT:
    case CFG_LONG: {
        errno = 0;
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end != '\0')
            return mh_err_set(info, MH_EINVAL, "config", -1, "%s: %s is not an integer", source,
                              r->name);
        if (n < r->min || n > r->max)
            return mh_err_set(info, MH_EINVAL, "config", -1, "%s: %s must be between %ld and %ld",
                              source, r->name, r->min, r->max);
        if (r->type == CFG_INT)
            *(int *)field(cfg, r) = (int)n;
        else
            *(long *)field(cfg, r) = n;
        break;
    }
    case CFG_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0)
            *(bool *)field(cfg, r) = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || strcmp(v, "no") == 0)
            *(bool *)field(cfg, r) = false;
        else
            return mh_err_set(info, MH_EINVAL, "config", -1, "%s: %s must be true or false", source,
                              r->name);
        break;
    case CFG_STR: {
        char **p = field(cfg, r);
        free(*p);
        *p = mh_xstrdup(v);
        break;
    }
    }
    return MH_OK;
}

static const struct cfg_row *find_row(const char *name, size_t len)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        const char *n = rows[i].name;
        if (strlen(n) != len)
            continue;
        size_t j = 0;
        for (; j < len; j++) {
            char c = name[j] == '-' ? '_' : name[j];
            if (c != n[j])
                break;
        }
        if (j == len)
            return &rows[i];
    }
    return NULL;
}

static enum mh_err validate(const struct mh_config *cfg, struct mh_err_info *info)
{
    struct mh_log_spec spec;
    if (mh_log_spec_parse(cfg->log_level, &spec, info) != MH_OK)
        return MH_EINVAL;
    if (strcmp(cfg->log_format, "json") && strcmp(cfg->log_format, "text"))
        return mh_err_set(info, MH_EINVAL, "config", -1, "log_format must be json or text");
    if (cfg->workers_only && cfg->workers == 0)
        return mh_err_set(info, MH_EINVAL, "config", -1,
                          "workers_only needs workers > 0 (an instance with neither the HTTP "
                          "API nor workers would do nothing)");
    return MH_OK;
}

/* Fills in the URLs left unset with the private cluster that `make run` keeps under
 * ./.meshhook (scripts/pg.sh) when there is one, so the CLI works from the checkout as is. A URL
 * that is set is never replaced: with only the admin URL given (a benchmark's own cluster), a
 * migration must not go to the private cluster instead. */
static void embedded_database(struct mh_config *cfg)
{
    FILE *f = fopen(".meshhook/pg.port", "r");
    if (f == NULL)
        return;
    int port = 0;
    bool ok = fscanf(f, "%d", &port) == 1 && port > 0 && port < 65536;
    fclose(f);
    char dir[PATH_MAX];
    if (!ok || realpath(".meshhook/pg/run", dir) == NULL)
        return;
    char url[PATH_MAX + 128];
    if (cfg->database_url[0] == '\0') {
        snprintf(url, sizeof(url), "postgresql:///meshhook?host=%s&port=%d&user=meshhook_app", dir,
                 port);
        free(cfg->database_url);
        cfg->database_url = mh_xstrdup(url);
        cfg->is_database_url_embedded = true;
    }
    if (cfg->admin_database_url[0] == '\0') {
        snprintf(url, sizeof(url), "postgresql:///meshhook?host=%s&port=%d&user=meshhook", dir,
                 port);
        free(cfg->admin_database_url);
        cfg->admin_database_url = mh_xstrdup(url);
        cfg->is_admin_database_url_embedded = true;
    }
}

/* HTTP threads only parse, verify and answer: a webhook waiting for its commit is parked, not
 * holding one. More threads than cores then cost context switches, not capacity (twice the
 * cores measured ~15 % more webhooks per second than 16 threads on 2 cores: docs/BENCHMARKS.md);
 * a few spare ones cover API requests waiting on the database. */
static int auto_http_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 2)
        return 4;
    return n > 32 ? 64 : (int)(2 * n);
}

enum mh_err mh_config_load(struct mh_config *cfg, int argc, char **argv, char **rest, int *nrest,
                           struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    memset(cfg, 0, sizeof(*cfg));
    if (nrest)
        *nrest = 0;
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        rc = set_value(cfg, &rows[i], rows[i].def, "default", info);
        MH_ASSERT(rc == MH_OK);
    }
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        char env[96] = "MESHHOOK_";
        size_t o = strlen(env);
        for (const char *p = rows[i].name; *p && o + 1 < sizeof(env); p++)
            env[o++] = (char)toupper((unsigned char)*p);
        env[o] = '\0';
        const char *v = getenv(env);
        if (v && (rc = set_value(cfg, &rows[i], v, env, info)) != MH_OK)
            goto out;
    }
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (rest && nrest) {
                rest[(*nrest)++] = argv[i];
                continue;
            }
            rc = mh_err_set(info, MH_EINVAL, "usage", -1, "unexpected argument '%s'", a);
            goto out;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct cfg_row *r = find_row(name, len);
        if (r == NULL) {
            rc =
                mh_err_set(info, MH_EINVAL, "usage", -1, "unknown option '--%.*s'", (int)len, name);
            goto out;
        }
        const char *v = NULL;
        if (eq)
            v = eq + 1;
        else if (r->type == CFG_BOOL)
            v = "true";
        else if (i + 1 < argc)
            v = argv[++i];
        else {
            rc = mh_err_set(info, MH_EINVAL, "usage", -1, "option '--%s' needs a value", r->name);
            goto out;
        }
        char source[80];
        snprintf(source, sizeof(source), "--%s", r->name);
        if ((rc = set_value(cfg, r, v, source, info)) != MH_OK)
            goto out;
    }
    /* The admin URL defaults to database_url when that one is given. */
    if (cfg->database_url[0] == '\0')
        embedded_database(cfg);
    if (cfg->admin_database_url[0] == '\0') {
        free(cfg->admin_database_url);
        cfg->admin_database_url = mh_xstrdup(cfg->database_url);
    }
    if (cfg->http_threads == 0)
        cfg->http_threads = auto_http_threads();
    rc = validate(cfg, info);
out:
    if (rc != MH_OK)
        mh_config_cleanup(cfg);
    return rc;
}

void mh_config_cleanup(struct mh_config *cfg)
{
    if (cfg == NULL)
        return;
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        if (rows[i].type == CFG_STR) {
            char **p = field(cfg, &rows[i]);
            free(*p);
            *p = NULL;
        }
    }
}

void mh_config_print_help(FILE *out)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", rows[i].name);
        for (char *p = flag + 2; *p; p++)
            if (*p == '_')
                *p = '-';
        char env[96] = "MESHHOOK_";
        size_t o = strlen(env);
        for (const char *p = rows[i].name; *p && o + 1 < sizeof(env); p++)
            env[o++] = (char)toupper((unsigned char)*p);
        env[o] = '\0';
        fprintf(out, "  %-26s %s\n  %-26s env %s%s%s%s\n", flag, rows[i].help, "", env,
                rows[i].def[0] ? ", default " : "", rows[i].def,
                rows[i].is_secret ? " (secret)" : "");
    }
}

void mh_config_print(const struct mh_config *cfg, FILE *out)
{
    struct mh_config *c = (struct mh_config *)cfg;
    for (size_t i = 0; i < MH_ARRAY_LEN(rows); i++) {
        const struct cfg_row *r = &rows[i];
        switch (r->type) {
        case CFG_INT: fprintf(out, "%s = %d\n", r->name, *(int *)field(c, r)); break;
        case CFG_LONG: fprintf(out, "%s = %ld\n", r->name, *(long *)field(c, r)); break;
        case CFG_BOOL:
            fprintf(out, "%s = %s\n", r->name, *(bool *)field(c, r) ? "true" : "false");
            break;
        case CFG_STR: {
            const char *v = *(char **)field(c, r);
            fprintf(out, "%s = %s\n", r->name, r->is_secret && v[0] ? "[redacted]" : v);
            break;
        }
        }
    }
}
