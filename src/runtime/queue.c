/* SPDX-License-Identifier: MIT */
/*
 * The queue: the job rows (DESIGN §6, docs/internals/runtime.md). A run that is not finished has
 * one job; workers claim due jobs with a lease (mh_claim_jobs: FOR UPDATE SKIP LOCKED), a job
 * whose processing fails is retried with exponential backoff and full jitter and dead-lettered
 * after its attempts, and a job whose outcome could not be recorded because the database went
 * away is handed back as soon as it answers again instead of waiting out its lease. The queue
 * knows nothing of runs' contents: it never calls the engine (batch.c drives both).
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/mem.h"
#include "metrics/metrics.h"
#include "runtime/runtime_internal.h"

#define JOB_RETRY_BASE_MS 1000
#define JOB_RETRY_MAX_MS  60000

void mh_runtime__orphan_add(struct mh_engine_runtime *rt, const struct mh_runtime__job *j)
{
    pthread_mutex_lock(&rt->mu);
    json_array_append_new(rt->orphans, json_pack("[I, i]", (json_int_t)j->id, j->attempts));
    pthread_mutex_unlock(&rt->mu);
}

/* Keeps a report (an http_call's outcome) that could not be recorded because the database was
 * unreachable, to apply it again once it answers, rather than send the call again when its job
 * comes due at the call's timeout. The report's event moves to a copy: `r` stays its caller's. */
void mh_runtime__report_park(struct mh_engine_runtime *rt, struct mh_runtime__report *r)
{
    struct mh_runtime__report *copy = mh_xmalloc(sizeof(*copy));
    *copy = *r;
    copy->also = NULL; /* the batch's grouping, not the report's */
    r->has_event = false;
    pthread_mutex_lock(&rt->mu);
    copy->next = rt->parked;
    rt->parked = copy;
    pthread_mutex_unlock(&rt->mu);
}

/* Hands back the remembered jobs (those still leased from the same claim) and queues the
 * parked reports again, or keeps both for the next try when the database is still away. */
void mh_runtime__take_back(struct mh_engine_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    json_t *mine = rt->orphans;
    rt->orphans = json_array();
    struct mh_runtime__report *parked = rt->parked;
    rt->parked = NULL;
    pthread_mutex_unlock(&rt->mu);
    struct mh_buf ids, attempts;
    mh_buf_init(&ids, 1024 * 1024);
    mh_buf_init(&attempts, 1024 * 1024);
    enum mh_err rc = mh_buf_append_str(&ids, "{");
    if (rc == MH_OK)
        rc = mh_buf_append_str(&attempts, "{");
    size_t i;
    json_t *o;
    json_array_foreach(mine, i, o)
    {
        if (rc == MH_OK)
            rc = mh_buf_printf(&ids, "%s%lld", i ? "," : "",
                               (long long)json_integer_value(json_array_get(o, 0)));
        if (rc == MH_OK)
            rc = mh_buf_printf(&attempts, "%s%lld", i ? "," : "",
                               (long long)json_integer_value(json_array_get(o, 1)));
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&ids, "}");
    if (rc == MH_OK)
        rc = mh_buf_append_str(&attempts, "}");
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    if (rc == MH_OK && (rc = mh_db_acquire(rt->opts.pool, &c, NULL)) == MH_OK) {
        const char *params[] = {rt->worker_id, mh_buf_str(&ids), mh_buf_str(&attempts)};
        rc = mh_db_query_row(c, "SELECT mh_release_jobs($1, $2::bigint[], $3::int[]) AS n", 3,
                             params, &row, NULL);
    }
    mh_db_release(c);
    mh_buf_cleanup(&ids);
    mh_buf_cleanup(&attempts);
    size_t nparked = 0;
    for (struct mh_runtime__report *r = parked; r; r = r->next)
        nparked++;
    if (rc == MH_OK) {
        mh_log(MH_LOG_INFO, "engine",
               "database back: took back %lld of %zu job(s) and %zu call outcome(s) that could "
               "not be recorded",
               (long long)json_integer_value(json_object_get(row, "n")), json_array_size(mine),
               nparked);
        json_decref(row);
        json_decref(mine);
        while (parked) {
            struct mh_runtime__report *next = parked->next;
            mh_runtime__push_report(rt, parked);
            parked = next;
        }
        return;
    }
    /* The database is still away (or the list is too long: the lease brings those back). */
    pthread_mutex_lock(&rt->mu);
    if (rc == MH_EUNAVAILABLE)
        json_array_extend(rt->orphans, mine);
    while (parked) {
        struct mh_runtime__report *next = parked->next;
        parked->next = rt->parked;
        rt->parked = parked;
        parked = next;
    }
    pthread_mutex_unlock(&rt->mu);
    json_decref(mine);
}

/* Gives a job whose processing failed another chance later, or dead-letters it. */
void mh_runtime__job_failed(struct mh_engine_runtime *rt, const struct mh_runtime__job *j,
                            const char *why)
{
    struct mh_db_conn *c = NULL;
    if (mh_db_acquire(rt->opts.pool, &c, NULL) != MH_OK) {
        mh_runtime__orphan_add(rt, j);
        return;
    }
    char delay[32];
    int64_t cap = JOB_RETRY_BASE_MS << (j->attempts < 16 ? j->attempts : 16);
    if (cap > JOB_RETRY_MAX_MS)
        cap = JOB_RETRY_MAX_MS;
    snprintf(delay, sizeof(delay), "%lld",
             (long long)(mh_runtime__random_u64(NULL) % (uint64_t)cap));
    const char *params[] = {j->run_id, delay, why};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool is_dead = false;
    long failed_runs = 0;
    enum mh_err rc = mh_db_begin(c, NULL, j->project_id, &info);
    if (rc == MH_OK) {
        if (j->attempts >= j->max_attempts) {
            rc = mh_db_query(c,
                             "WITH d AS (DELETE FROM jobs WHERE run_id = $1 RETURNING *), "
                             "l AS (INSERT INTO dead_letters (project_id, run_id, kind, payload, "
                             "attempts, last_error) SELECT project_id, run_id, kind, payload, "
                             "attempts, $2 FROM d RETURNING 1) "
                             "UPDATE runs SET status = 'failed', error = $2, finished_at = now(), "
                             "feed_xid = pg_current_xact_id() WHERE id = $1 AND status IN "
                             "('queued', 'running') RETURNING pg_notify('" MH_ENGINE_STREAMS_CHANNEL
                             "', project_id::text || ' x' || pg_current_xact_id()::text)",
                             2, (const char *[]){j->run_id, why}, NULL, &failed_runs, &info);
            mh_log(MH_LOG_ERROR, "engine", "run %s: job dead-lettered after %d attempts: %s",
                   j->run_id, j->attempts, why);
            is_dead = true;
        } else {
            rc = mh_db_query(c,
                             "UPDATE jobs SET run_at = now() + $2::bigint * interval '1 "
                             "millisecond', lease_owner = NULL, lease_until = NULL, last_error = "
                             "$3 WHERE run_id = $1",
                             3, params, NULL, NULL, &info);
        }
        if (rc == MH_OK)
            rc = mh_db_commit(c, &info);
    }
    if (rc == MH_OK && is_dead) {
        mh_metrics_dead_letter(MH_MDL_JOB);
        if (failed_runs > 0)
            mh_metrics_run_finished(MH_MR_FAILED);
    }
    if (rc != MH_OK)
        mh_log(MH_LOG_ERROR, "engine", "run %s: recording the job's failure failed: %s (%s)",
               j->run_id, info.message, info.kind);
    mh_db_release(c);
    if (rc == MH_EUNAVAILABLE)
        mh_runtime__orphan_add(rt, j);
}

/* After a commit: forgets the report's call and sends what the decisions asked for. */

int mh_runtime__claim(struct mh_engine_runtime *rt, struct mh_runtime__job *jobs, int max)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char limit[16], lease[16];
    snprintf(limit, sizeof(limit), "%d", max);
    snprintf(lease, sizeof(lease), "%d", rt->opts.lease_ms);
    const char *params[] = {rt->worker_id, limit, lease};
    int n = 0;
    if (mh_db_acquire(rt->opts.pool, &c, NULL) == MH_OK &&
        mh_db_query(c,
                    "SELECT id, project_id, run_id, attempts, max_attempts FROM "
                    "mh_claim_jobs($1, $2::int, $3::int)",
                    3, params, &rows, NULL, NULL) == MH_OK) {
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if (n == max || !json_is_string(json_object_get(r, "run_id")))
                continue;
            jobs[n].id = json_integer_value(json_object_get(r, "id"));
            snprintf(jobs[n].project_id, 37, "%s",
                     json_string_value(json_object_get(r, "project_id")));
            snprintf(jobs[n].run_id, 37, "%s", json_string_value(json_object_get(r, "run_id")));
            jobs[n].attempts = (int)json_integer_value(json_object_get(r, "attempts"));
            jobs[n].max_attempts = (int)json_integer_value(json_object_get(r, "max_attempts"));
            n++;
        }
    }
    json_decref(rows);
    mh_db_release(c);
    return n;
}

void mh_runtime__release_leases(struct mh_engine_runtime *rt)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *params[] = {rt->worker_id};
    enum mh_err rc = mh_db_acquire(rt->opts.pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_query(c, "SELECT mh_release_leases($1)", 1, params, NULL, NULL, &info);
    mh_db_release(c);
    /* Not fatal: the leases then expire on their own and another worker takes the jobs. */
    if (rc != MH_OK)
        mh_log(MH_LOG_WARN, "engine", "leases not released at stop (they expire): %s (%s)",
               info.message, info.kind);
}
