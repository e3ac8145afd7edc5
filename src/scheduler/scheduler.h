/* SPDX-License-Identifier: MIT */
/*
 * The scheduler: the thread that starts the runs of due schedules (every server runs one; they
 * share the work through row locks), and the functions that keep the schedules table in step
 * with a workflow's published definition. docs/internals/schedule.md has the transaction.
 *
 * Transactions: mh_scheduler_sync and mh_scheduler_pause run inside the caller's open
 * transaction (whose user may edit the project) and never commit.
 */
#ifndef MH_SCHEDULER_SCHEDULER_H
#define MH_SCHEDULER_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"

struct mh_engine_runtime;
struct mh_scheduler;

struct mh_scheduler_opts {
    struct mh_db_pool *pool;           /* borrowed; outlives the scheduler */
    struct mh_engine_runtime *runtime; /* woken after a run starts; may be NULL */
    int poll_ms;                       /* how often due schedules are looked for */
    bool allow_seconds;                /* six-field expressions (schedule_allow_seconds) */
};

MH_MUSTCHECK enum mh_err mh_scheduler_start(const struct mh_scheduler_opts *opts,
                                            struct mh_scheduler **out, struct mh_err_info *info);
/* Stops the thread after the schedule it is firing (its transaction commits or rolls back
 * whole). NULL-tolerant. */
void mh_scheduler_stop(struct mh_scheduler *s);

/*
 * Fires every due schedule once (what the thread does each poll), on the calling thread; returns
 * how many runs started. For `meshhook` tooling and tests.
 */
int mh_scheduler_fire_due(struct mh_db_pool *pool, bool allow_seconds);

/*
 * Makes the schedules of workflow `workflow_id` those of its latest published version: one row
 * per entry of the definition's `schedules`, the rest deleted. A row whose expression and zone
 * are unchanged keeps its next fire time; any other, or one that was paused, fires next after
 * the database's clock now. A workflow without a published version has none. An entry that no
 * longer validates (tzdata changed) is left out, with a warning in the log.
 */
MH_MUSTCHECK enum mh_err mh_scheduler_sync(struct mh_db_conn *c, const char *project_id,
                                           const char *workflow_id, bool allow_seconds,
                                           struct mh_err_info *info);
/* Pauses the workflow's schedules (archived): they fire no more until mh_scheduler_sync. */
MH_MUSTCHECK enum mh_err mh_scheduler_pause(struct mh_db_conn *c, const char *project_id,
                                            const char *workflow_id, struct mh_err_info *info);

#endif
