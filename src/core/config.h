/* SPDX-License-Identifier: MIT */
/*
 * Configuration: one declarative table (config.c) of every setting with its type, default,
 * bounds and whether it is secret. Sources are layered defaults -> environment (MESHHOOK_<KEY>)
 * -> command-line flags (--key value or --key=value, with '-' or '_'), into an immutable
 * snapshot that main passes down. Unknown flags and bad values are errors with a message that
 * names the setting; the caller exits 2.
 */
#ifndef MH_CORE_CONFIG_H
#define MH_CORE_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "core/err.h"

struct mh_config {
    int port;
    char *bind_address;
    /* Public base URL of this server, for the URLs it hands out (wait_callback's callback URLs);
     * "" means http://<bind_address, or localhost for a wildcard>:<port>. */
    char *public_url;
    char *database_url;
    char *admin_database_url;
    int pool_size;
    int pool_wait_ms;
    int handler_queue_max;
    char *log_level;
    char *log_format;
    long max_body_bytes;
    int http_threads;
    int connection_timeout_s;
    int max_connections_per_ip;
    long min_receive_bytes_per_s;
    int shutdown_timeout_ms;
    int workers;
    bool workers_only;
    int instance_heartbeat_ms;
    int worker_batch;
    int job_lease_ms;
    int poll_interval_ms;
    int alert_eval_interval_ms;
    int schedule_poll_ms;
    bool schedule_allow_seconds;
    int run_timeout_s;
    int subworkflow_max_depth;
    int outbound_max_in_flight;
    int outbound_max_in_flight_per_project;
    int outbound_max_queued;
    int breaker_failures;
    int breaker_open_ms;
    long max_response_bytes;
    bool allow_private_targets;
    char *outbound_allowlist;
    int intake_committers;
    int intake_max_batch;
    int intake_doubt_wait_ms;
    bool intake_pure_prefix;
    long refused_body_quota_bytes;
    long limit_runs_in_flight;
    long limit_stored_bytes;
    int project_delivery_rate;
    long project_delivery_burst;
    int stats_interval_ms;
    int stats_lag_ms;
    int stats_batch;
    int retention_runs_days;
    int retention_deliveries_days;
    int retention_dead_letters_days;
    int retention_interval_s;
    int retention_batch_rows;
    int retention_pause_ms;
    char *kek_file;
    char *kek;
    char *kek_id;
    char *old_kek_files;
    char *old_keks;
    bool allow_signup;
    bool secure_cookies;
    int session_idle_minutes;
    int session_max_hours;
    int password_m_kib;
    int password_t_cost;
    int password_parallelism;
    int login_max_failures;
    int login_window_s;
    char *trusted_proxies;
    bool metrics;
    char *metrics_token;
    int stream_heartbeat_ms;
    int stream_max_subscribers;
    int stream_max_per_user;
    long stream_queue_bytes;
    /* Not settings: set when the URL was filled in from the private cluster of `make run`
     * (./.meshhook/pg.port), so that the commands can say which database they use. */
    bool is_database_url_embedded;
    bool is_admin_database_url_embedded;
};

/* Fills `cfg` with defaults, then the environment, then argv (flags only; positional arguments
 * are reported in `*rest`/`*nrest` as borrowed argv pointers, in order, when rest is non-NULL;
 * otherwise they are errors). On error fills `info` and returns MH_EINVAL. The strings in `cfg`
 * are owned by it; free with mh_config_cleanup. */
MH_MUSTCHECK enum mh_err mh_config_load(struct mh_config *cfg, int argc, char **argv, char **rest,
                                        int *nrest, struct mh_err_info *info);
void mh_config_cleanup(struct mh_config *cfg);

/* Prints every setting with its env var, default and description (for --help). */
void mh_config_print_help(FILE *out);
/* Prints the effective settings, one `name = value` line each in the order of --help, a secret
 * setting's value as "[redacted]" when it is set (`meshhook serve --print-config`). */
void mh_config_print(const struct mh_config *cfg, FILE *out);

#endif
