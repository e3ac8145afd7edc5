/* SPDX-License-Identifier: MIT */
/*
 * Data retention (docs/observability.md, "Retention"): removes runs (with their events, jobs,
 * dead letters), webhook deliveries, dead letters and blobs older than each project's settings,
 * and drops event partitions that have wholly expired. The work is done by the SECURITY DEFINER
 * functions of migration 0025, one bounded batch per statement (each its own transaction), with
 * a pause between batches, under a session advisory lock so that one pass runs at a time
 * however many servers share the database.
 *
 * Ownership: reports are new jansson references the caller drops. Thread affinity: a pass uses
 * the one connection it is given; the background job owns a thread and a connection of its own.
 */
#ifndef MH_RETENTION_H
#define MH_RETENTION_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "db/db.h"

/* The server's defaults (projects that chose nothing) and the pace of a pass. */
struct mh_retention_opts {
    int runs_days;         /* 1..3650 */
    int deliveries_days;   /* 1..3650 */
    int dead_letters_days; /* 1..3650 */
    int batch_rows;        /* rows deleted per transaction, 1..10000 */
    int pause_ms;          /* between two batches */
};

/* The options a configuration gives (the retention_* settings). */
void mh_retention_opts_from_config(const struct mh_config *cfg, struct mh_retention_opts *out);

/* One pass at the database's current time on connection `c` (the server's role suffices).
 * With `is_dry_run`, removes nothing and reports what a pass would remove. `stop` (may be NULL)
 * ends a real pass early, between batches. The report (new reference) is
 *   {"as_of": text, "dry_run": bool, "counts": [{"project_id", "kind", "n"}...] sorted by
 *    project then kind order (runs, jobs, dead_letters, deliveries, blobs), "partitions":
 *    [{"name", "from", "to"}...]}
 * and is filled also when a real pass fails midway (what went until then). MH_ECONFLICT when
 * another pass holds the lock; MH_EDB/MH_EUNAVAILABLE on database errors (info says which). */
MH_MUSTCHECK enum mh_err mh_retention_pass(struct mh_db_conn *c,
                                           const struct mh_retention_opts *opts, bool is_dry_run,
                                           const atomic_bool *stop, json_t **report,
                                           struct mh_err_info *info);

/* Prints a report: a header line, then "project <id> <kind> <n>", "partition <name> <from>
 * <to>" and "total <kind> <n>" lines, identical for a dry run and the real pass that follows
 * it when nothing changed in between. */
void mh_retention_print(const json_t *report, FILE *out);

/* The background job of `meshhook serve`: a thread that runs a pass every `interval_s` seconds
 * (the first one min(interval_s, 60) seconds after start) on its own connection to `db_url`. */
struct mh_retention_job;
MH_MUSTCHECK enum mh_err mh_retention_job_start(const char *db_url,
                                                const struct mh_retention_opts *opts,
                                                int interval_s, struct mh_retention_job **out,
                                                struct mh_err_info *info);
/* Stops the thread (an ongoing pass ends at its next batch) and frees the job. NULL-tolerant. */
void mh_retention_job_stop(struct mh_retention_job *job);

#endif
