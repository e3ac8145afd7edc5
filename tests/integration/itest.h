/* SPDX-License-Identifier: MIT */
/*
 * Integration-test helpers: a fresh database per test in the throwaway cluster that tests/run.sh
 * started (MESHHOOK_SUPER_DATABASE_URL), the real `meshhook` binary (MH_MESHHOOK_BIN) started on a
 * free loopback port, an HTTP client over libcurl, and SQL through src/db. Cases use the unit
 * harness (harness.h), so each runs in its own forked child with a timeout.
 */
#ifndef MH_TESTS_ITEST_H
#define MH_TESTS_ITEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "harness.h"

struct mh_it_db {
    char name[64];
    char app_url[512];
    char admin_url[512];
};

/* Creates an empty database owned by the schema owner; migrated when `migrate` is set. Skips
 * the test when no cluster is configured. */
void mh_it_db_create(struct mh_it_db *db, bool migrate);

struct mh_it_server {
    pid_t pid;
    int port;
    char base[64];
    char log_path[256];
    char admin_url[512]; /* the database's, for the reference check when it stops */
};

/* Starts `meshhook serve` against `db` with extra flags (NULL-terminated list, may be NULL) and
 * waits until /healthz answers. */
void mh_it_server_start(struct mh_it_server *s, const struct mh_it_db *db,
                        const char *const *extra_args);
/* Sends `sig` and waits for exit; returns the exit status, or 128+signal. Then fails the test
 * if the database holds a row whose parent is gone (mh_reference_orphans, migration 0011). */
int mh_it_server_stop(struct mh_it_server *s, int sig);
/* The server's log so far (malloc'd). */
char *mh_it_server_log(const struct mh_it_server *s);

/* Runs the meshhook binary with `args` (NULL-terminated) and env MESHHOOK_* of `db` (may be
 * NULL); captures stdout+stderr into *output (malloc'd) when non-NULL; returns the exit status. */
int mh_it_run(const struct mh_it_db *db, const char *const *args, char **output);
/* The same with `input` (may be NULL) on standard input. */
int mh_it_run_input(const struct mh_it_db *db, const char *const *args, const char *input,
                    char **output);

struct mh_it_resp {
    long status;
    char *body;
    size_t body_len;
    char *headers;
    json_t *json; /* parsed body, or NULL */
};

/* Performs one request. `headers` is a NULL-terminated list of "Name: value" lines (may be
 * NULL). `body` may be NULL. */
void mh_it_http(const char *method, const char *url, const char *const *headers, const char *body,
                size_t body_len, struct mh_it_resp *resp);
void mh_it_resp_cleanup(struct mh_it_resp *resp);
/* Value of a response header (case-insensitive), malloc'd, or NULL. */
char *mh_it_resp_header(const struct mh_it_resp *resp, const char *name);

/* Runs SQL on `url` with text params; returns rows (new ref) or NULL on error, filling
 * `sqlstate` (6 bytes) when non-NULL. */
json_t *mh_it_sql(const char *url, const char *sql, int nparams, const char *const *params,
                  char *sqlstate);
/* Runs a multi-statement script; aborts the test on failure. */
void mh_it_sql_script(const char *url, const char *sql);
/* An SQL expression: the rows of `runs` read so far by this transaction (heap tuples fetched or
 * scanned, and the index entries its indexes returned), from the backend's own statistics. Put
 * in the same statement as what is measured, on a connection of its own (mh_it_sql), it counts
 * that statement alone: what a test of a query's cost can assert without timing anything. */
#define MH_IT_RUNS_ROWS_READ_SQL                                                                   \
    "pg_stat_get_xact_tuples_fetched('runs'::regclass) + "                                         \
    "pg_stat_get_xact_tuples_returned('runs'::regclass) + (SELECT "                                \
    "sum(pg_stat_get_xact_tuples_returned(i.indexrelid)) FROM pg_index i WHERE i.indrelid = "      \
    "'runs'::regclass)::bigint"

/* Creates a user directly in the database, logs in through the API and makes an API token:
 * `bearer` receives "Authorization: Bearer mh_..." (128 bytes), `user_id` the id (40 bytes). */
void mh_it_user_token(const struct mh_it_db *db, const struct mh_it_server *s, const char *email,
                      char *bearer, char *user_id);
/* Performs an authenticated JSON request to `path` on the server; returns the parsed body (new
 * reference, may be NULL) and the status in *status. */
json_t *mh_it_api(const struct mh_it_server *s, const char *bearer, const char *method,
                  const char *path, const char *body, long *status);
/* POST /api/projects; `id` receives the project id (40 bytes). */
void mh_it_project(const struct mh_it_server *s, const char *bearer, const char *name, char *id);

/* A free TCP port on 127.0.0.1. */
int mh_it_free_port(void);
/* Sleeps `ms` milliseconds. */
void mh_it_sleep_ms(int ms);

#endif
