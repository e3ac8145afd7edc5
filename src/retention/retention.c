/* SPDX-License-Identifier: MIT */
/*
 * Retention passes and the background job that runs them. A pass pins its reference time
 * (as_of) once, so that every batch and the dry run judge rows against the same cutoffs, then:
 * drops the wholly expired event partitions (cheap: no row is deleted), and for each project
 * deletes expired runs, dead letters, deliveries and blobs in batches of at most batch_rows,
 * each batch one statement and so one short transaction, pausing between batches so that the
 * intake and the workers keep the database. The rules of what expires live in SQL (migration
 * 0025), shared by the dry run and the real pass.
 */
#include "retention/retention.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

/* A session advisory lock: one pass at a time per database. */
#define LOCK_SQL         "SELECT pg_try_advisory_lock(hashtextextended('meshhook.retention', 0)) AS ok"
#define UNLOCK_SQL       "SELECT pg_advisory_unlock(hashtextextended('meshhook.retention', 0))"
#define DROP_RETRIES     5
#define FIRST_PASS_MAX_S 60

static const char *const kinds[] = {"runs",       "jobs",  "dead_letters",
                                    "deliveries", "blobs", "breaker_events"};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct mh_retention_job {
    char *db_url;
    struct mh_retention_opts opts;
    int interval_s;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool is_stopping;
};

struct pass {
    struct mh_db_conn *c;
    const struct mh_retention_opts *opts;
    const atomic_bool *stop;
    char as_of[64];
    char days[3][16];
    json_t *totals; /* {"<project>": {"<kind>": n}} */
    json_t *partitions;
};

static bool is_stopped(const struct pass *p);
static void pause_between(const struct pass *p);
static void add_count(json_t *totals, const char *project, const char *kind, json_int_t n);
static json_t *counts_list(json_t *totals);
static int kind_rank(const char *kind);
static int by_project_kind(const void *a, const void *b);
static enum mh_err drop_partitions(struct pass *p, bool is_dry_run, struct mh_err_info *info);
static enum mh_err purge_project(struct pass *p, const char *project, struct mh_err_info *info);
static enum mh_err plan(struct pass *p, struct mh_err_info *info);
static void *job_main(void *arg);

static bool is_stopped(const struct pass *p)
{
    return p->stop != NULL && atomic_load(p->stop);
}

static void pause_between(const struct pass *p)
{
    if (p->opts->pause_ms <= 0)
        return;
    struct timespec ts = {.tv_sec = p->opts->pause_ms / 1000,
                          .tv_nsec = (long)(p->opts->pause_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void add_count(json_t *totals, const char *project, const char *kind, json_int_t n)
{
    if (n <= 0)
        return;
    json_t *per = json_object_get(totals, project);
    if (per == NULL) {
        per = json_object();
        json_object_set_new(totals, project, per);
    }
    json_object_set_new(per, kind,
                        json_integer(json_integer_value(json_object_get(per, kind)) + n));
}

static int kind_rank(const char *kind)
{
    for (size_t i = 0; i < NKINDS; i++)
        if (strcmp(kinds[i], kind) == 0)
            return (int)i;
    return (int)NKINDS;
}

static int by_project_kind(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int d = strcmp(json_string_value(json_object_get(x, "project_id")),
                   json_string_value(json_object_get(y, "project_id")));
    if (d)
        return d;
    return kind_rank(json_string_value(json_object_get(x, "kind"))) -
           kind_rank(json_string_value(json_object_get(y, "kind")));
}

/* [{"project_id", "kind", "n"}] from the totals, in the report's order. */
static json_t *counts_list(json_t *totals)
{
    size_t n = 0, i = 0;
    const char *project, *kind;
    json_t *per, *v;
    json_object_foreach(totals, project, per) n += json_object_size(per);
    json_t **items = mh_xcalloc(n ? n : 1, sizeof(*items));
    json_object_foreach(totals, project, per)
    {
        json_object_foreach(per, kind, v)
        {
            items[i++] = json_pack("{s:s, s:s, s:I}", "project_id", project, "kind", kind, "n",
                                   json_integer_value(v));
        }
    }
    qsort(items, n, sizeof(*items), by_project_kind);
    json_t *list = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(list, items[i]);
    free(items);
    return list;
}

/* Lists the expired partitions and, unless dry, detaches and drops each. A partition whose
 * lock cannot be had quickly is retried a few times, then left for the next pass. */
static enum mh_err drop_partitions(struct pass *p, bool is_dry_run, struct mh_err_info *info)
{
    const char *params[] = {p->as_of, p->days[0], p->days[1], p->days[2], NULL};
    json_t *rows = NULL;
    enum mh_err rc = mh_db_query(p->c,
                                 "SELECT name, range_from::text AS range_from, range_to::text AS "
                                 "range_to FROM mh_retention_partitions($1::timestamptz, $2::int, "
                                 "$3::int, $4::int)",
                                 4, params, &rows, NULL, info);
    if (rc != MH_OK)
        return rc;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *name = json_string_value(json_object_get(row, "name"));
        bool is_dropped = is_dry_run;
        for (int attempt = 0; !is_dry_run && attempt < DROP_RETRIES && !is_stopped(p); attempt++) {
            struct mh_err_info why = MH_ERR_INFO_INIT;
            json_t *r = NULL;
            const char *dp[] = {name, p->as_of, p->days[0], p->days[1], p->days[2]};
            enum mh_err drc =
                mh_db_query_row(p->c,
                                "SELECT mh_retention_drop_partition($1, $2::timestamptz, $3::int, "
                                "$4::int, $5::int) AS dropped",
                                5, dp, &r, &why);
            if (drc == MH_OK) {
                is_dropped = json_is_true(json_object_get(r, "dropped"));
                json_decref(r);
                break;
            }
            if (strcmp(why.kind, "55P03") != 0) {
                if (info)
                    *info = why;
                json_decref(rows);
                return drc;
            }
            /* Lock not available: the event log is busy; give way and try again. */
            mh_log(MH_LOG_DEBUG, "retention", "partition %s busy, retrying", name);
            pause_between(p);
        }
        if (is_dropped)
            json_array_append_new(p->partitions, json_pack("{s:s, s:O, s:O}", "name", name, "from",
                                                           json_object_get(row, "range_from"), "to",
                                                           json_object_get(row, "range_to")));
        else if (!is_dry_run)
            mh_log(MH_LOG_WARN, "retention",
                   "event partition %s expired but could not be locked; next pass", name);
    }
    json_decref(rows);
    return MH_OK;
}

/* Deletes one project's expired rows, batch by batch, kind by kind. The database computes each
 * cutoff from the project's settings, the defaults and as_of (mh_retention_cutoff). */
static enum mh_err purge_project(struct pass *p, const char *project, struct mh_err_info *info)
{
    char limit[16];
    snprintf(limit, sizeof(limit), "%d", p->opts->batch_rows);
    enum mh_err rc = MH_OK;
    bool is_full = true;
    while (is_full && !is_stopped(p)) {
        json_t *r = NULL;
        const char *params[] = {project, p->as_of, p->days[0], p->days[1], p->days[2], limit};
        rc = mh_db_query_row(p->c,
                             "SELECT runs, jobs, dead_letters FROM mh_retention_purge_runs($1, "
                             "$2::timestamptz, $3::int, $4::int, $5::int, $6::int)",
                             6, params, &r, info);
        if (rc != MH_OK)
            return rc;
        json_int_t runs = json_integer_value(json_object_get(r, "runs"));
        add_count(p->totals, project, "runs", runs);
        add_count(p->totals, project, "jobs", json_integer_value(json_object_get(r, "jobs")));
        add_count(p->totals, project, "dead_letters",
                  json_integer_value(json_object_get(r, "dead_letters")));
        json_decref(r);
        is_full = runs >= p->opts->batch_rows;
        if (is_full)
            pause_between(p);
    }
    static const char *const others[] = {"dead_letters", "deliveries", "blobs", "breaker_events"};
    for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++) {
        is_full = true;
        while (is_full && !is_stopped(p)) {
            json_t *r = NULL;
            const char *params[] = {others[k],  project,    p->as_of, p->days[0],
                                    p->days[1], p->days[2], limit};
            rc = mh_db_query_row(p->c,
                                 "SELECT mh_retention_purge($1, $2, $3::timestamptz, $4::int, "
                                 "$5::int, $6::int, $7::int) AS n",
                                 7, params, &r, info);
            if (rc != MH_OK)
                return rc;
            json_int_t n = json_integer_value(json_object_get(r, "n"));
            json_decref(r);
            add_count(p->totals, project, others[k], n);
            is_full = n >= p->opts->batch_rows;
            if (is_full)
                pause_between(p);
        }
    }
    return MH_OK;
}

static enum mh_err plan(struct pass *p, struct mh_err_info *info)
{
    const char *params[] = {p->as_of, p->days[0], p->days[1], p->days[2]};
    json_t *rows = NULL;
    enum mh_err rc =
        mh_db_query(p->c,
                    "SELECT project_id, kind, n FROM mh_retention_plan($1::timestamptz, "
                    "$2::int, $3::int, $4::int)",
                    4, params, &rows, NULL, info);
    if (rc != MH_OK)
        return rc;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        add_count(p->totals, json_string_value(json_object_get(row, "project_id")),
                  json_string_value(json_object_get(row, "kind")),
                  json_integer_value(json_object_get(row, "n")));
    }
    json_decref(rows);
    return MH_OK;
}

void mh_retention_opts_from_config(const struct mh_config *cfg, struct mh_retention_opts *out)
{
    *out = (struct mh_retention_opts){
        .runs_days = cfg->retention_runs_days,
        .deliveries_days = cfg->retention_deliveries_days,
        .dead_letters_days = cfg->retention_dead_letters_days,
        .batch_rows = cfg->retention_batch_rows,
        .pause_ms = cfg->retention_pause_ms,
    };
}

enum mh_err mh_retention_pass(struct mh_db_conn *c, const struct mh_retention_opts *opts,
                              bool is_dry_run, const atomic_bool *stop, json_t **report,
                              struct mh_err_info *info)
{
    struct pass p = {.c = c, .opts = opts, .stop = stop};
    json_t *row = NULL, *cuts = NULL;
    bool is_locked = false;
    *report = NULL;
    p.totals = json_object();
    p.partitions = json_array();
    snprintf(p.days[0], sizeof(p.days[0]), "%d", opts->runs_days);
    snprintf(p.days[1], sizeof(p.days[1]), "%d", opts->deliveries_days);
    snprintf(p.days[2], sizeof(p.days[2]), "%d", opts->dead_letters_days);
    enum mh_err rc = MH_OK;
    if (!is_dry_run) {
        if ((rc = mh_db_query_row(c, LOCK_SQL, 0, NULL, &row, info)) != MH_OK)
            goto out;
        is_locked = json_is_true(json_object_get(row, "ok"));
        json_decref(row);
        row = NULL;
        if (!is_locked) {
            rc = mh_err_set(info, MH_ECONFLICT, "busy", -1,
                            "another retention pass is running on this database");
            goto out;
        }
    }
    /* The reference time, in full precision and an unambiguous form. */
    if ((rc = mh_db_query_row(c,
                              "SELECT to_char(now() AT TIME ZONE 'UTC', "
                              "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS as_of",
                              0, NULL, &row, info)) != MH_OK)
        goto out;
    snprintf(p.as_of, sizeof(p.as_of), "%s", json_string_value(json_object_get(row, "as_of")));
    if ((rc = drop_partitions(&p, is_dry_run, info)) != MH_OK)
        goto out;
    if (is_dry_run) {
        rc = plan(&p, info);
        goto out;
    }
    const char *params[] = {p.as_of, p.days[0], p.days[1], p.days[2]};
    if ((rc = mh_db_query(c,
                          "SELECT project_id FROM mh_retention_cutoffs($1::timestamptz, $2::int, "
                          "$3::int, $4::int) ORDER BY project_id",
                          4, params, &cuts, NULL, info)) != MH_OK)
        goto out;
    size_t i;
    json_t *cut;
    json_array_foreach(cuts, i, cut)
    {
        if (is_stopped(&p) ||
            (rc = purge_project(&p, json_string_value(json_object_get(cut, "project_id")), info)) !=
                MH_OK)
            break;
    }
    /* Every project's stored bytes for its limit (migration 0033), measured after the purge so
     * that the figure is what stays. A failure leaves the previous figures: the pass itself
     * succeeded. */
    if (rc == MH_OK && !is_stopped(&p)) {
        struct mh_err_info minfo = MH_ERR_INFO_INIT;
        if (mh_db_query(c, "SELECT mh_limits_measure()", 0, NULL, NULL, NULL, &minfo) != MH_OK)
            mh_log(MH_LOG_WARN, "retention", "stored bytes not measured: %s", minfo.message);
    }
out:
    if (is_locked)
        (void)!mh_db_exec_script(c, UNLOCK_SQL, NULL);
    if (p.as_of[0])
        *report = json_pack("{s:s, s:b, s:o, s:o}", "as_of", p.as_of, "dry_run", is_dry_run,
                            "counts", counts_list(p.totals), "partitions", p.partitions);
    else
        json_decref(p.partitions);
    json_decref(p.totals);
    json_decref(row);
    json_decref(cuts);
    return rc;
}

void mh_retention_print(const json_t *report, FILE *out)
{
    bool is_dry = json_is_true(json_object_get(report, "dry_run"));
    fprintf(out, "%s as of %s\n", is_dry ? "would remove (dry run, nothing removed)" : "removed",
            json_string_value(json_object_get(report, "as_of")));
    json_int_t totals[NKINDS] = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(report, "counts"), i, v)
    {
        const char *kind = json_string_value(json_object_get(v, "kind"));
        json_int_t n = json_integer_value(json_object_get(v, "n"));
        fprintf(out, "project %s %s %lld\n", json_string_value(json_object_get(v, "project_id")),
                kind, (long long)n);
        int k = kind_rank(kind);
        if (k < (int)NKINDS)
            totals[k] += n;
    }
    json_t *parts = json_object_get(report, "partitions");
    json_array_foreach(parts, i, v)
    {
        fprintf(out, "partition %s %s %s\n", json_string_value(json_object_get(v, "name")),
                json_string_value(json_object_get(v, "from")),
                json_string_value(json_object_get(v, "to")));
    }
    for (size_t k = 0; k < NKINDS; k++)
        fprintf(out, "total %s %lld\n", kinds[k], (long long)totals[k]);
    fprintf(out, "total partitions %zu\n", json_array_size(parts));
}

/* ------------------------------------------------------------------------------------------ */

/* Waits up to `ms` or until stopped; true when stopped. */
static bool job_wait(struct mh_retention_job *job, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&job->mu);
    while (!atomic_load(&job->is_stopping))
        if (pthread_cond_timedwait(&job->cv, &job->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&job->mu);
    return atomic_load(&job->is_stopping);
}

static void log_pass(const json_t *report, int64_t ms)
{
    json_int_t totals[NKINDS] = {0};
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(report, "counts"), i, v)
    {
        int k = kind_rank(json_string_value(json_object_get(v, "kind")));
        if (k < (int)NKINDS)
            totals[k] += json_integer_value(json_object_get(v, "n"));
    }
    mh_log(MH_LOG_INFO, "retention",
           "pass done in %lld ms: runs=%lld jobs=%lld dead_letters=%lld deliveries=%lld "
           "blobs=%lld partitions=%zu",
           (long long)ms, (long long)totals[0], (long long)totals[1], (long long)totals[2],
           (long long)totals[3], (long long)totals[4],
           json_array_size(json_object_get(report, "partitions")));
}

static void *job_main(void *arg)
{
    struct mh_retention_job *job = arg;
    int64_t wait_ms =
        (int64_t)(job->interval_s < FIRST_PASS_MAX_S ? job->interval_s : FIRST_PASS_MAX_S) * 1000;
    struct mh_db_conn *c = NULL;
    while (!job_wait(job, wait_ms)) {
        wait_ms = (int64_t)job->interval_s * 1000;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (c != NULL && !mh_db_is_ok(c)) {
            mh_db_close(c);
            c = NULL;
        }
        if (c == NULL && mh_db_connect(job->db_url, &c, &info) != MH_OK) {
            mh_log(MH_LOG_WARN, "retention", "cannot connect, next pass later: %s", info.message);
            mh_db_close(c);
            c = NULL;
            continue;
        }
        json_t *report = NULL;
        int64_t t0 = mh_clock_mono_ms();
        enum mh_err rc = mh_retention_pass(c, &job->opts, false, &job->is_stopping, &report, &info);
        if (rc == MH_ECONFLICT)
            mh_log(MH_LOG_DEBUG, "retention", "%s", info.message);
        else if (rc != MH_OK)
            mh_log(MH_LOG_WARN, "retention", "pass failed, next pass later: %s", info.message);
        if (report)
            log_pass(report, mh_clock_mono_ms() - t0);
        json_decref(report);
    }
    mh_db_close(c);
    return NULL;
}

enum mh_err mh_retention_job_start(const char *db_url, const struct mh_retention_opts *opts,
                                   int interval_s, struct mh_retention_job **out,
                                   struct mh_err_info *info)
{
    *out = NULL;
    if (interval_s < 1)
        return mh_err_set(info, MH_EINVAL, "config", -1, "retention interval must be positive");
    struct mh_retention_job *job = mh_xcalloc(1, sizeof(*job));
    job->db_url = mh_xstrdup(db_url);
    job->opts = *opts;
    job->interval_s = interval_s;
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    atomic_init(&job->is_stopping, false);
    if (pthread_create(&job->thread, NULL, job_main, job) != 0) {
        pthread_cond_destroy(&job->cv);
        pthread_mutex_destroy(&job->mu);
        free(job->db_url);
        free(job);
        return mh_err_set(info, MH_ENOMEM, "thread", -1, "cannot start the retention thread");
    }
    *out = job;
    return MH_OK;
}

void mh_retention_job_stop(struct mh_retention_job *job)
{
    if (job == NULL)
        return;
    pthread_mutex_lock(&job->mu);
    atomic_store(&job->is_stopping, true);
    pthread_cond_broadcast(&job->cv);
    pthread_mutex_unlock(&job->mu);
    pthread_join(job->thread, NULL);
    pthread_cond_destroy(&job->cv);
    pthread_mutex_destroy(&job->mu);
    free(job->db_url);
    free(job);
}
