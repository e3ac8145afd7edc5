/* SPDX-License-Identifier: MIT */
/*
 * Fires schedules. Each server's scheduler thread claims one due schedule at a time
 * (mh_claim_schedule: FOR UPDATE SKIP LOCKED, so two servers never hold the same one) and, in
 * that one transaction, starts a run per tick to fire, records each tick under its unique
 * (schedule, tick) key and moves next_fire_at past now. Committed, the ticks are done; rolled
 * back or killed midway, none is, and the next claim (here or on another server) finds the same
 * ticks due. Ticks missed while no server ran are skipped or started (the newest max_catch_up of
 * them) per the schedule's catch_up. Also keeps the schedules table in step with publishing.
 */
#include "scheduler/scheduler.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/mem.h"
#include "runtime/store.h"
#include "schedule/schedule.h"

/* Ticks counted at most per claim; beyond it the rest of the backlog is skipped in one step. */
#define MAX_SCAN      100000
#define MAX_PER_CLAIM 200 /* schedules fired per poll before looking at the clock again */

struct mh_scheduler {
    struct mh_scheduler_opts opts;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
};

static void *scheduler_main(void *arg);
static int fire_one(struct mh_db_pool *pool, struct mh_engine_runtime *rt, bool allow_seconds,
                    bool *is_done);

static void iso_ms(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* Starts one run for tick `tick_s` and records the tick; in the caller's transaction. */
static enum mh_err start_tick(struct mh_db_conn *c, json_t *row, int64_t tick_s, int64_t now_ms,
                              bool is_late, struct mh_err_info *info)
{
    const char *sid = json_string_value(json_object_get(row, "id"));
    char tick[32], fired[32], tick_ms[24];
    iso_ms(tick_s * 1000, tick);
    iso_ms(now_ms, fired);
    snprintf(tick_ms, sizeof(tick_ms), "%lld", (long long)tick_s * 1000);
    const char *p2[] = {sid, tick_ms};
    json_t *seen = NULL;
    enum mh_err rc = mh_db_query(c,
                                 "SELECT 1 FROM schedule_ticks WHERE schedule_id = $1 AND "
                                 "tick_at = 'epoch'::timestamptz + $2::bigint * interval '1 "
                                 "millisecond'",
                                 2, p2, &seen, NULL, info);
    size_t n_seen = json_array_size(seen);
    json_decref(seen);
    if (rc != MH_OK || n_seen > 0)
        return rc; /* already fired: nothing to do twice */
    json_t *name = json_object_get(row, "name");
    json_t *trigger = json_pack("{s:{s:s, s:s, s:s, s:O, s:O, s:O, s:b}, s:{}, s:{}, s:s}", "body",
                                "scheduled_at", tick, "fired_at", fired, "schedule_id", sid, "name",
                                name ? name : json_null(), "cron", json_object_get(row, "cron"),
                                "timezone", json_object_get(row, "timezone"), "is_late", is_late,
                                "headers", "query", "received_at", fired);
    json_t *extra = json_pack("{s:{s:s, s:s}}", "schedule", "id", sid, "scheduled_at", tick);
    struct mh_run_start s = {
        .project_id = json_string_value(json_object_get(row, "project_id")),
        .workflow_id = json_string_value(json_object_get(row, "workflow_id")),
        .version_id = json_string_value(json_object_get(row, "version_id")),
        .version = json_integer_value(json_object_get(row, "version")),
        .trigger = trigger,
        .extra = extra,
    };
    char run_id[37] = "";
    rc = mh_engine_run_create(c, &s, run_id, info);
    json_decref(trigger);
    json_decref(extra);
    if (rc != MH_OK)
        return rc;
    const char *p4[] = {sid, tick_ms, s.project_id, run_id};
    return mh_db_query(c,
                       "INSERT INTO schedule_ticks (schedule_id, tick_at, project_id, run_id) "
                       "VALUES ($1, 'epoch'::timestamptz + $2::bigint * interval '1 millisecond', "
                       "$3, $4)",
                       4, p4, NULL, NULL, info);
}

/* Claims and fires one due schedule. Returns the runs started; *is_done when none was due. */
static int fire_one(struct mh_db_pool *pool, struct mh_engine_runtime *rt, bool allow_seconds,
                    bool *is_done)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *row = NULL;
    struct mh_cron *cron = NULL;
    struct mh_tz *tz = NULL;
    int64_t *late = NULL;
    int started = 0;
    bool is_begun = false;
    *is_done = true;
    enum mh_err rc = mh_db_acquire(pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_begin(c, NULL, NULL, &info);
    is_begun = rc == MH_OK;
    if (rc == MH_OK)
        rc = mh_db_query_row(c,
                             "SELECT id, project_id, workflow_id, version_id, version, name, "
                             "cron, timezone, catch_up, max_catch_up, next_fire_ms, now_ms FROM "
                             "mh_claim_schedule()",
                             0, NULL, &row, &info);
    if (rc == MH_ENOTFOUND) {
        rc = MH_OK;
        goto out;
    }
    if (rc != MH_OK)
        goto out;
    *is_done = false;
    const char *sid = json_string_value(json_object_get(row, "id"));
    const char *pid = json_string_value(json_object_get(row, "project_id"));
    const char *pp[] = {pid};
    rc = mh_db_query(c, "SELECT set_config('meshhook.project_id', $1, true)", 1, pp, NULL, NULL,
                     &info);
    if (rc != MH_OK)
        goto out;
    int64_t now_ms = json_integer_value(json_object_get(row, "now_ms"));
    int64_t t = json_integer_value(json_object_get(row, "next_fire_ms")) / 1000;
    int64_t now_s = now_ms / 1000;
    const char *next_sql =
        "UPDATE schedules SET next_fire_at = CASE WHEN $2::bigint IS NULL THEN NULL ELSE "
        "'epoch'::timestamptz + $2::bigint * interval '1 second' END, skipped_ticks = "
        "skipped_ticks + $3::bigint, updated_at = now() WHERE id = $1";
    if (mh_cron_parse(json_string_value(json_object_get(row, "cron")), allow_seconds, &cron,
                      &info) != MH_OK ||
        mh_tz_load(json_string_value(json_object_get(row, "timezone")), &tz, &info) != MH_OK) {
        /* Valid when published; no longer (a zone gone from tzdata, seconds turned off). */
        mh_log(MH_LOG_WARN, "scheduler", "schedule %s paused: %s", sid, info.message);
        const char *pn[] = {sid, NULL, "0"};
        rc = mh_db_query(c, next_sql, 3, pn, NULL, NULL, &info);
        if (rc == MH_OK)
            rc = mh_db_commit(c, &info);
        is_begun = false;
        goto out;
    }
    bool is_run = strcmp(json_string_value(json_object_get(row, "catch_up")), "run") == 0;
    int max_late = (int)json_integer_value(json_object_get(row, "max_catch_up"));
    late = mh_xcalloc((size_t)max_late, sizeof(*late));
    int64_t n_late = 0; /* late ticks seen; the newest max_late are kept in a ring */
    int64_t skipped = 0;
    int64_t on_time[64];
    int n_on_time = 0;
    int scanned = 0;
    while (t <= now_s) {
        if (now_ms - t * 1000 <= MH_SCHEDULE_GRACE_MS && n_on_time < (int)MH_ARRAY_LEN(on_time)) {
            on_time[n_on_time++] = t;
        } else if (is_run) {
            if (n_late >= max_late)
                skipped++;
            late[n_late % max_late] = t;
            n_late++;
        } else {
            skipped++;
        }
        if (++scanned == MAX_SCAN) {
            /* A long outage of a frequent schedule: skip the rest of the backlog at once. */
            skipped++;
            t = now_s;
        }
        if (mh_cron_next(cron, tz, t, &t) != MH_OK) {
            t = -1;
            break;
        }
    }
    /* The newest late ticks, oldest first, then those on time. */
    int64_t ticks[MH_SCHEDULE_MAX_CATCH_UP + 64];
    int n_ticks = 0;
    for (int64_t i = 0; i < n_late && i < max_late; i++)
        ticks[n_ticks++] = late[i];
    for (int i = 1; i < n_ticks; i++)
        for (int j = i; j > 0 && ticks[j - 1] > ticks[j]; j--) {
            int64_t x = ticks[j];
            ticks[j] = ticks[j - 1];
            ticks[j - 1] = x;
        }
    int first_on_time = n_ticks;
    for (int i = 0; i < n_on_time; i++)
        ticks[n_ticks++] = on_time[i];
    for (int i = 0; i < n_ticks && rc == MH_OK; i++) {
        rc = start_tick(c, row, ticks[i], now_ms, i < first_on_time, &info);
        started++;
    }
    if (rc != MH_OK)
        goto out;
    char next[24], skip[24];
    snprintf(next, sizeof(next), "%lld", (long long)t);
    snprintf(skip, sizeof(skip), "%lld", (long long)skipped);
    const char *pn[] = {sid, t >= 0 ? next : NULL, skip};
    rc = mh_db_query(c, next_sql, 3, pn, NULL, NULL, &info);
    if (rc == MH_OK && n_ticks > 0)
        rc = mh_db_query(c,
                         "UPDATE schedules SET last_fired_at = now(), last_tick_at = "
                         "(SELECT max(tick_at) FROM schedule_ticks WHERE schedule_id = $1), "
                         "last_run_id = (SELECT run_id FROM schedule_ticks WHERE schedule_id = "
                         "$1 ORDER BY tick_at DESC LIMIT 1) WHERE id = $1",
                         1, (const char *const[]){sid}, NULL, NULL, &info);
    if (rc == MH_OK)
        rc = mh_db_query(c,
                         "DELETE FROM schedule_ticks WHERE schedule_id = $1 AND fired_at < now() "
                         "- interval '7 days'",
                         1, (const char *const[]){sid}, NULL, NULL, &info);
    if (rc == MH_OK)
        rc = mh_db_commit(c, &info);
    is_begun = false;
    if (rc == MH_OK && skipped > 0)
        mh_log(MH_LOG_INFO, "scheduler", "schedule %s: %lld missed tick(s) skipped (catch_up %s)",
               sid, (long long)skipped, is_run ? "run, beyond max_catch_up" : "skip");
    if (rc == MH_OK && started > 0)
        mh_engine_runtime_wake(rt);
out:
    if (rc != MH_OK) {
        mh_log(MH_LOG_WARN, "scheduler", "firing a schedule failed (it stays due): %s",
               info.message);
        started = 0;
    }
    if (is_begun)
        mh_db_rollback(c);
    mh_db_release(c);
    free(late);
    mh_cron_destroy(cron);
    mh_tz_destroy(tz);
    json_decref(row);
    return started;
}

int mh_scheduler_fire_due(struct mh_db_pool *pool, bool allow_seconds)
{
    int total = 0;
    for (int i = 0; i < MAX_PER_CLAIM; i++) {
        bool is_done = false;
        total += fire_one(pool, NULL, allow_seconds, &is_done);
        if (is_done)
            break;
    }
    return total;
}

static void *scheduler_main(void *arg)
{
    struct mh_scheduler *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool is_stopping = s->is_stopping;
        pthread_mutex_unlock(&s->mu);
        if (is_stopping)
            break;
        for (int i = 0; i < MAX_PER_CLAIM; i++) {
            bool is_done = false;
            fire_one(s->opts.pool, s->opts.runtime, s->opts.allow_seconds, &is_done);
            pthread_mutex_lock(&s->mu);
            is_stopping = s->is_stopping;
            pthread_mutex_unlock(&s->mu);
            if (is_done || is_stopping)
                break;
        }
        pthread_mutex_lock(&s->mu);
        if (!s->is_stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += s->opts.poll_ms / 1000;
            ts.tv_nsec += (long)(s->opts.poll_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &ts);
        }
        pthread_mutex_unlock(&s->mu);
    }
    return NULL;
}

enum mh_err mh_scheduler_start(const struct mh_scheduler_opts *opts, struct mh_scheduler **out,
                               struct mh_err_info *info)
{
    *out = NULL;
    struct mh_scheduler *s = mh_xcalloc(1, sizeof(*s));
    s->opts = *opts;
    if (s->opts.poll_ms <= 0)
        s->opts.poll_ms = 1000;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    if (pthread_create(&s->thread, NULL, scheduler_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv);
        free(s);
        return mh_err_set(info, MH_ENOMEM, "thread", -1, "cannot start the scheduler thread");
    }
    *out = s;
    return MH_OK;
}

void mh_scheduler_stop(struct mh_scheduler *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->is_stopping = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* ---- Keeping the table in step with publishing -------------------------------------------- */

enum mh_err mh_scheduler_sync(struct mh_db_conn *c, const char *project_id, const char *workflow_id,
                              bool allow_seconds, struct mh_err_info *info)
{
    json_t *ver = NULL, *rows = json_array();
    const char *p2[] = {project_id, workflow_id};
    enum mh_err rc = mh_db_query_row(
        c,
        "SELECT id, version, definition->'schedules' AS schedules, (extract(epoch FROM "
        "clock_timestamp()))::bigint AS now_s FROM workflow_versions WHERE project_id = $1 AND "
        "workflow_id = $2 AND state = 'published' ORDER BY version DESC LIMIT 1",
        2, p2, &ver, info);
    if (rc == MH_ENOTFOUND) {
        json_decref(rows);
        return mh_db_query(c, "DELETE FROM schedules WHERE project_id = $1 AND workflow_id = $2", 2,
                           p2, NULL, NULL, info);
    }
    if (rc != MH_OK)
        goto out;
    int64_t now_s = json_integer_value(json_object_get(ver, "now_s"));
    json_t *list = json_object_get(ver, "schedules");
    size_t i;
    json_t *sc;
    json_array_foreach(list, i, sc)
    {
        if (i >= MH_SCHEDULE_MAX)
            break;
        json_t *one = json_array();
        json_t *errs = json_array();
        json_array_append(one, sc);
        json_t *wrap = json_pack("{s:o}", "schedules", one);
        mh_schedule_validate(wrap, allow_seconds, errs);
        size_t n_errs = json_array_size(errs);
        json_decref(wrap);
        json_decref(errs);
        if (n_errs > 0) {
            mh_log(MH_LOG_WARN, "scheduler",
                   "workflow %s: schedule %zu no longer validates; "
                   "left out",
                   workflow_id, i);
            continue;
        }
        const char *zone = json_string_value(json_object_get(sc, "timezone"));
        zone = zone ? zone : "UTC";
        struct mh_cron *cron = NULL;
        struct mh_tz *tz = NULL;
        int64_t next = 0;
        bool has_next = mh_cron_parse(json_string_value(json_object_get(sc, "cron")), allow_seconds,
                                      &cron, NULL) == MH_OK &&
                        mh_tz_load(zone, &tz, NULL) == MH_OK &&
                        mh_cron_next(cron, tz, now_s, &next) == MH_OK;
        mh_cron_destroy(cron);
        mh_tz_destroy(tz);
        json_t *catch_up = json_object_get(sc, "catch_up");
        json_t *max = json_object_get(sc, "max_catch_up");
        json_t *name = json_object_get(sc, "name");
        json_array_append_new(
            rows,
            json_pack("{s:I, s:O, s:O, s:s, s:s, s:I, s:o}", "position", (json_int_t)i, "name",
                      name ? name : json_null(), "cron", json_object_get(sc, "cron"), "timezone",
                      zone, "catch_up", catch_up ? json_string_value(catch_up) : "skip",
                      "max_catch_up", (json_int_t)(max ? json_integer_value(max) : 10), "next_s",
                      has_next ? json_integer((json_int_t)next) : json_null()));
    }
    char *text = json_dumps(rows, JSON_COMPACT);
    char version[24];
    snprintf(version, sizeof(version), "%lld",
             (long long)json_integer_value(json_object_get(ver, "version")));
    const char *p5[] = {project_id, workflow_id, text,
                        json_string_value(json_object_get(ver, "id")), version};
    rc = mh_db_query(
        c,
        "WITH x AS (SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(position int, name text, "
        "cron text, timezone text, catch_up text, max_catch_up int, next_s bigint)), "
        "d AS (DELETE FROM schedules s WHERE s.project_id = $1 AND s.workflow_id = $2 AND "
        "s.position NOT IN (SELECT position FROM x)) "
        "INSERT INTO schedules AS s (project_id, workflow_id, position, version_id, version, "
        "name, cron, timezone, catch_up, max_catch_up, next_fire_at) SELECT $1, $2, x.position, "
        "$4, $5::int, x.name, x.cron, x.timezone, x.catch_up, x.max_catch_up, 'epoch'::"
        "timestamptz + x.next_s * interval '1 second' FROM x "
        "ON CONFLICT (workflow_id, position) DO UPDATE SET version_id = EXCLUDED.version_id, "
        "version = EXCLUDED.version, name = EXCLUDED.name, catch_up = EXCLUDED.catch_up, "
        "max_catch_up = EXCLUDED.max_catch_up, next_fire_at = CASE WHEN s.cron = EXCLUDED.cron "
        "AND s.timezone = EXCLUDED.timezone AND s.next_fire_at IS NOT NULL THEN s.next_fire_at "
        "ELSE EXCLUDED.next_fire_at END, cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, "
        "updated_at = now()",
        5, p5, NULL, NULL, info);
    free(text);
out:
    json_decref(ver);
    json_decref(rows);
    return rc;
}

enum mh_err mh_scheduler_pause(struct mh_db_conn *c, const char *project_id,
                               const char *workflow_id, struct mh_err_info *info)
{
    const char *p2[] = {project_id, workflow_id};
    return mh_db_query(c,
                       "UPDATE schedules SET next_fire_at = NULL, updated_at = now() WHERE "
                       "project_id = $1 AND workflow_id = $2",
                       2, p2, NULL, NULL, info);
}
