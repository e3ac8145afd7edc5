/* SPDX-License-Identifier: MIT */
/*
 * The database layer, and the only user of libpq. A fixed-size pool of connections shared by
 * request and worker threads; statements are prepared once per connection and reused. Results
 * come back as jansson values (an array of row objects, with PostgreSQL types mapped to JSON:
 * integers, booleans, json/jsonb parsed, everything else as strings), so no libpq type leaks out
 * of src/db.
 *
 * Errors: MH_EUNAVAILABLE when no connection could be had in time or the database is down,
 * MH_ECONFLICT for unique violations, MH_EFORBIDDEN when row-level security refuses a write,
 * MH_EINVAL for check and foreign-key violations and bad input syntax, MH_EDB otherwise. `info`
 * gets the SQLSTATE in `kind` and PostgreSQL's primary message, with the quoted input value of
 * a data exception (class 22: "invalid input syntax for type uuid: ...") withheld, so never a
 * parameter value. That text names tables, columns and constraints: it is for the server's log,
 * never for clients (mh_db_err_is_db tells such an `info` apart).
 */
#ifndef MH_DB_H
#define MH_DB_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

struct mh_db_pool;
struct mh_db_conn;

/* True when `info` (may be NULL) was filled from a PostgreSQL error: its kind is a SQLSTATE
 * (five digits or capital letters). */
bool mh_db_err_is_db(const struct mh_err_info *info);

/* Creates a pool of `size` connections to `url`, opened lazily (so a server can start while
 * the database is down). `wait_ms` bounds mh_db_acquire. */
MH_MUSTCHECK enum mh_err mh_db_pool_create(const char *url, int size, int wait_ms,
                                           struct mh_db_pool **out);
/* Closes every connection; all connections must have been released. NULL-tolerant. */
void mh_db_pool_destroy(struct mh_db_pool *pool);
/* Names the pool's connections: PostgreSQL sees application_name "meshhook <name>" (in
 * pg_stat_activity), and the fault-injection seam of MH_DEBUG builds matches on it. `name` is
 * copied; call before the first mh_db_acquire. */
void mh_db_pool_set_name(struct mh_db_pool *pool, const char *name);
/* From now on, every connection the pool opens is checked with mh_db_check_app_role before it
 * is used, and refused (MH_EFORBIDDEN from mh_db_acquire, logged) when the check fails: a server
 * that started while the database was down checks its role as soon as it reaches it. Call
 * before the first mh_db_acquire. */
void mh_db_pool_require_app_role(struct mh_db_pool *pool);

/* Borrows a connection, waiting at most the pool's wait_ms for one to be free; (re)connects it
 * when needed. MH_EUNAVAILABLE when none is free in time or the database cannot be reached.
 * Thread-safe. The connection is the caller's until mh_db_release. */
MH_MUSTCHECK enum mh_err mh_db_acquire(struct mh_db_pool *pool, struct mh_db_conn **out,
                                       struct mh_err_info *info);
/* As mh_db_acquire, preferring the free connection that the last call with the same `key` (any
 * address the caller owns, such as its thread's state) was given. A periodic task that runs
 * large PL/pgSQL functions (the statistics rollup, the alert evaluator) thus finds its plans
 * cached in that session instead of compiling and planning them again in each connection of
 * the pool; others may use the connection in between. */
MH_MUSTCHECK enum mh_err mh_db_acquire_affine(struct mh_db_pool *pool, const void *key,
                                              struct mh_db_conn **out, struct mh_err_info *info);
/* Returns a connection to the pool it was acquired from (a connection knows its pool, so it
 * cannot be handed to another), rolling back any transaction left open. NULL-tolerant; a
 * standalone connection (mh_db_connect) is closed with mh_db_close instead. */
void mh_db_release(struct mh_db_conn *conn);

/* A standalone connection outside any pool (migrations, the CLI, tests). */
MH_MUSTCHECK enum mh_err mh_db_connect(const char *url, struct mh_db_conn **out,
                                       struct mh_err_info *info);
void mh_db_close(struct mh_db_conn *conn);

/* Runs a parameterised statement (prepared once per connection and cached by its text).
 * `params` are text values, NULL for SQL NULL. When `rows` is non-NULL it receives a new JSON
 * array of row objects; when `affected` is non-NULL, the number of rows the command touched. */
MH_MUSTCHECK enum mh_err mh_db_query(struct mh_db_conn *c, const char *sql, int nparams,
                                     const char *const *params, json_t **rows, long *affected,
                                     struct mh_err_info *info);
/* Like mh_db_query and returns the first row (new reference) or MH_ENOTFOUND. */
MH_MUSTCHECK enum mh_err mh_db_query_row(struct mh_db_conn *c, const char *sql, int nparams,
                                         const char *const *params, json_t **row,
                                         struct mh_err_info *info);
/* Runs SQL text that may hold several statements and no parameters (migrations). */
MH_MUSTCHECK enum mh_err mh_db_exec_script(struct mh_db_conn *c, const char *sql,
                                           struct mh_err_info *info);

/* Transactions. `user_id` and `project_id` (either may be NULL) are set transaction-locally as
 * meshhook.user_id and meshhook.project_id, which the row-level security policies read. */
MH_MUSTCHECK enum mh_err mh_db_begin(struct mh_db_conn *c, const char *user_id,
                                     const char *project_id, struct mh_err_info *info);
/* mh_db_begin for a transaction of prepared statements whose best plan does not depend on
 * their parameters' values (the intake's batch, the worker's): PostgreSQL is told to use their
 * generic plans (plan_cache_mode, transaction-locally), instead of planning them again at each
 * execution because a custom plan looked a little cheaper. */
MH_MUSTCHECK enum mh_err mh_db_begin_generic(struct mh_db_conn *c, const char *user_id,
                                             const char *project_id, struct mh_err_info *info);
/* Commits. A COMMIT that was sent and whose answer was lost with the connection leaves the
 * outcome unknown: it fails with MH_EUNAVAILABLE and info->kind MH_DB_IN_DOUBT, and the
 * transaction may or may not have committed (see mh_db_backend_is_gone). Any other failure
 * means the transaction did not commit. */
MH_MUSTCHECK enum mh_err mh_db_commit(struct mh_db_conn *c, struct mh_err_info *info);
#define MH_DB_IN_DOUBT "in-doubt"
/* Never fails from the caller's point of view; a broken connection is reset on release. */
void mh_db_rollback(struct mh_db_conn *c);

/* LISTEN on `channel` (a constant of ours, never user input) on a standalone connection. */
MH_MUSTCHECK enum mh_err mh_db_listen(struct mh_db_conn *c, const char *channel,
                                      struct mh_err_info *info);
/* Waits up to `timeout_ms` for notifications on a listening connection; *got tells whether any
 * arrived (all pending ones are consumed). MH_EUNAVAILABLE when the connection is lost. */
MH_MUSTCHECK enum mh_err mh_db_wait_notify(struct mh_db_conn *c, int timeout_ms, bool *got,
                                           struct mh_err_info *info);

/* mh_db_wait_notify that hands each notification's payload to `fn` (on the calling thread;
 * the string is valid during the call) and also wakes when `wake_fd` (-1: none) is readable,
 * setting *woken (the caller drains that descriptor). */
typedef void (*mh_db_notify_fn)(void *ctx, const char *payload);
MH_MUSTCHECK enum mh_err mh_db_wait_notify_each(struct mh_db_conn *c, int wake_fd, int timeout_ms,
                                                mh_db_notify_fn fn, void *ctx, bool *woken,
                                                struct mh_err_info *info);

/* True when the connection is usable. */
bool mh_db_is_ok(const struct mh_db_conn *c);

/* The PostgreSQL server process of `c`'s session, also after the connection was lost (until
 * mh_db_release or mh_db_close); 0 when it never connected. */
int mh_db_backend_pid(const struct mh_db_conn *c);
/* Safety checks (safety.c). Sets *is_gone when no server process `pid` runs any more (asked
 * on another connection, `c`). Once the process that ran a transaction whose COMMIT is in
 * doubt is gone, the transaction's outcome is final and visible to every later transaction:
 * PostgreSQL finishes a COMMIT it has received before it notices that its client left. */
MH_MUSTCHECK enum mh_err mh_db_backend_is_gone(struct mh_db_conn *c, int pid, bool *is_gone,
                                               struct mh_err_info *info);
/* Refuses (MH_EFORBIDDEN, with a message that says why and what to do) a role that row-level
 * security would not bind: a superuser, a role with BYPASSRLS, a role that owns a table of the
 * schema that has row-level security, or a member of any such role (which could SET ROLE to
 * it). The server's role must be none of these (docs/internals/tenancy.md). */
MH_MUSTCHECK enum mh_err mh_db_check_app_role(struct mh_db_conn *c, struct mh_err_info *info);
/* A description of the database `url` names, without its password ("host=... port=...
 * dbname=... user=..."), in `out`: for logs. */
void mh_db_describe_url(const char *url, char *out, size_t cap);

/* Migrations (migrate.c). Applies every pending embedded migration in order, each in its own
 * transaction, under an advisory lock; refuses (MH_ECONFLICT) when an applied migration's
 * checksum differs from the embedded one. `out` (optional) receives one line per action. */
MH_MUSTCHECK enum mh_err mh_db_migrate(const char *admin_url, FILE *out, struct mh_err_info *info);
/* Prints applied and pending migrations; `pending` receives their count. */
MH_MUSTCHECK enum mh_err mh_db_migrate_status(const char *admin_url, FILE *out, int *pending,
                                              struct mh_err_info *info);
/* Number of embedded migrations, and whether `c`'s database has applied exactly those. */
size_t mh_db_migrations_count(void);
MH_MUSTCHECK enum mh_err mh_db_is_migrated(struct mh_db_conn *c, bool *is_migrated,
                                           struct mh_err_info *info);

#endif
