/* SPDX-License-Identifier: MIT */
/*
 * Run statistics (docs/observability.md "Statistics"): a background thread that keeps the
 * rollup tables of migration 0023 current by calling mh_stats_rollup() every interval, again at
 * once while a batch comes back full (a backlog), and never on the path of a webhook or a step.
 * Every server may run one: the database lets one pass run at a time (an advisory lock), the
 * others skip their turn.
 */
#ifndef MH_STATS_STATS_H
#define MH_STATS_STATS_H

#include "core/err.h"
#include "db/db.h"

struct mh_stats;

struct mh_stats_opts {
    struct mh_db_pool *pool; /* borrowed; outlives the stats thread */
    int interval_ms;         /* pause between passes once caught up (> 0) */
    int lag_ms;              /* rows younger than this wait for a later pass */
    int batch;               /* most runs (and deliveries) folded per pass */
};

/* Starts the thread; *out is the caller's until mh_stats_stop. MH_ENOMEM when the thread cannot
 * start. The first pass runs at once. */
MH_MUSTCHECK enum mh_err mh_stats_start(const struct mh_stats_opts *opts, struct mh_stats **out);
/* Stops the thread (waiting for a pass in progress) and frees it. NULL-tolerant. */
void mh_stats_stop(struct mh_stats *st);

#endif
