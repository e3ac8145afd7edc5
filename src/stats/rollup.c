/* SPDX-License-Identifier: MIT */
/*
 * The statistics rollup thread. All the folding happens in SQL (mh_stats_rollup, migration
 * 0023), one short transaction per pass: at most `batch` runs and deliveries past the high-water
 * mark, the pending runs that finished, a queue sample once a minute. This thread only paces the
 * passes: again at once while they report more work, else every interval. A failed pass (the
 * database is away) is logged once per streak and retried at the next interval.
 */
#include "stats/stats.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"

struct mh_stats {
    struct mh_stats_opts opts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
    pthread_t thread;
};

static void *run(void *arg);
static bool pass(struct mh_stats *st, bool *is_failing);

enum mh_err mh_stats_start(const struct mh_stats_opts *opts, struct mh_stats **out)
{
    struct mh_stats *st = mh_xcalloc(1, sizeof(*st));
    st->opts = *opts;
    pthread_mutex_init(&st->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&st->thread, NULL, run, st) != 0) {
        pthread_cond_destroy(&st->cv);
        pthread_mutex_destroy(&st->mu);
        free(st);
        return MH_ENOMEM;
    }
    *out = st;
    return MH_OK;
}

void mh_stats_stop(struct mh_stats *st)
{
    if (st == NULL)
        return;
    pthread_mutex_lock(&st->mu);
    st->is_stopping = true;
    pthread_cond_broadcast(&st->cv);
    pthread_mutex_unlock(&st->mu);
    pthread_join(st->thread, NULL);
    pthread_cond_destroy(&st->cv);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* One pass; true when it reported more work waiting. */
static bool pass(struct mh_stats *st, bool *is_failing)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *row = NULL;
    bool has_more = false;
    char lag[16], batch[16];
    snprintf(lag, sizeof(lag), "%d", st->opts.lag_ms);
    snprintf(batch, sizeof(batch), "%d", st->opts.batch);
    const char *params[] = {lag, batch};
    /* The same session each pass when it is free: compiling and planning the rollup costs a
     * new session tens of milliseconds of database CPU (docs/BENCHMARKS.md). */
    enum mh_err rc = mh_db_acquire_affine(st->opts.pool, st, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_query_row(c, "SELECT mh_stats_rollup($1::int, $2::int) AS r", 2, params, &row,
                             &info);
    mh_db_release(c);
    if (rc != MH_OK) {
        if (!*is_failing)
            mh_log(MH_LOG_WARN, "stats", "statistics rollup failed: %s",
                   info.message[0] ? info.message : mh_strerror(rc));
        *is_failing = true;
        return false;
    }
    if (*is_failing)
        mh_log(MH_LOG_INFO, "stats", "statistics rollup works again");
    *is_failing = false;
    json_t *r = json_object_get(row, "r");
    has_more = json_is_true(json_object_get(r, "more"));
    json_decref(row);
    return has_more;
}

static void *run(void *arg)
{
    struct mh_stats *st = arg;
    bool is_failing = false;
    pthread_mutex_lock(&st->mu);
    while (!st->is_stopping) {
        pthread_mutex_unlock(&st->mu);
        bool has_more = pass(st, &is_failing);
        pthread_mutex_lock(&st->mu);
        if (has_more || st->is_stopping)
            continue;
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += st->opts.interval_ms / 1000;
        deadline.tv_nsec += (long)(st->opts.interval_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!st->is_stopping)
            if (pthread_cond_timedwait(&st->cv, &st->mu, &deadline) == ETIMEDOUT)
                break;
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}
