/* SPDX-License-Identifier: MIT */
/*
 * Resource limits per project on the intake (docs/operations.md, "Resource limits per
 * project"): runs in flight and stored bytes. A delivery must not count rows, so each project
 * this server receives for has an entry here: its effective limits and its usage as the
 * database last said (mh_limits_usage, migration 0039: the runs in flight counted then, for a
 * project with a runs limit, through the partial index of runs in flight of migration 0045; the
 * stored bytes the retention pass's measure), plus what this server itself reserved and
 * recorded since. A refresher thread reads every active project's entry again once a second (in
 * one statement), sooner when a project is at a limit; a project seen for the first time is read
 * before its first delivery is judged, and the management API drops an entry whose limits it
 * changed. What other servers accept between two refreshes is not seen: across N servers a
 * project can exceed its runs limit by what N - 1 of them accept in a second.
 */
#include "intake/intake_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define BUCKETS 256
/* An entry whose project sent nothing for this long is no longer refreshed, then dropped. */
#define IDLE_MS 60000
#define DROP_MS 300000
/* A project refused at a limit is read again this soon rather than at the next second. */
#define EARLY_MS   100
#define REFRESH_MS 1000

struct entry {
    struct entry *next;
    uint64_t hash;
    char project_id[37];
    bool is_loaded;
    int64_t used_ms;
    long runs_limit;  /* 0: unlimited */
    long bytes_limit; /* 0: unlimited */
    long runs_db;     /* in flight at the last read */
    long stored_bytes;
    long pending;  /* reserved by deliveries being recorded */
    long accepted; /* recorded since the last read began */
    long accepted_at_read;
    /* Bumped when the API changes the project's limits: a read that began before (under an
     * older generation) is not applied, or it would put the old limits back. */
    unsigned gen;
    unsigned gen_at_read;
};

struct mh_intake__quotas {
    struct mh_intake *in;
    long default_runs;
    long default_bytes;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
    bool wants_early; /* a refusal asks for a read sooner */
    struct entry *buckets[BUCKETS];
    pthread_t thread;
};

static void *run(void *arg);
static struct entry *find(struct mh_intake__quotas *q, const char *project_id, bool create);
static enum mh_err read_usage(struct mh_intake__quotas *q, json_t *ids, json_t **rows);
static void apply_rows(struct mh_intake__quotas *q, json_t *rows);

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

enum mh_err mh_intake__quotas_start(struct mh_intake *in, long default_runs, long default_bytes,
                                    struct mh_intake__quotas **out)
{
    struct mh_intake__quotas *q = mh_xcalloc(1, sizeof(*q));
    q->in = in;
    q->default_runs = default_runs;
    q->default_bytes = default_bytes;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&q->thread, NULL, run, q) != 0) {
        pthread_cond_destroy(&q->cv);
        pthread_mutex_destroy(&q->mu);
        free(q);
        return MH_ENOMEM;
    }
    *out = q;
    return MH_OK;
}

void mh_intake__quotas_stop(struct mh_intake__quotas *q)
{
    if (q == NULL)
        return;
    pthread_mutex_lock(&q->mu);
    q->is_stopping = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
    pthread_join(q->thread, NULL);
    for (int b = 0; b < BUCKETS; b++) {
        for (struct entry *e = q->buckets[b], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q);
}

/* Under q->mu. */
static struct entry *find(struct mh_intake__quotas *q, const char *project_id, bool create)
{
    uint64_t h = hash_id(project_id);
    struct entry **slot = &q->buckets[h % BUCKETS];
    for (struct entry *e = *slot; e; e = e->next)
        if (e->hash == h && strcmp(e->project_id, project_id) == 0)
            return e;
    if (!create)
        return NULL;
    struct entry *e = mh_xcalloc(1, sizeof(*e));
    e->hash = h;
    snprintf(e->project_id, sizeof(e->project_id), "%s", project_id);
    e->next = *slot;
    *slot = e;
    return e;
}

static enum mh_err read_usage(struct mh_intake__quotas *q, json_t *ids, json_t **rows)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char runs[24], bytes[24];
    snprintf(runs, sizeof(runs), "%ld", q->default_runs);
    snprintf(bytes, sizeof(bytes), "%ld", q->default_bytes);
    char *list = json_dumps(ids, JSON_COMPACT);
    const char *params[] = {list, runs, bytes};
    enum mh_err rc = mh_db_acquire(q->in->pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_query(c,
                         "SELECT project_id, runs_limit, bytes_limit, runs_in_flight, "
                         "stored_bytes FROM mh_limits_usage(ARRAY(SELECT "
                         "jsonb_array_elements_text($1::jsonb)::uuid), $2::bigint, 0, "
                         "$3::bigint, false)",
                         3, params, rows, NULL, &info);
    mh_db_release(c);
    free(list);
    if (rc != MH_OK)
        mh_log(MH_LOG_DEBUG, "intake", "project limits not read: %s", info.message);
    return rc;
}

static long long_of(json_t *row, const char *name)
{
    json_t *v = json_object_get(row, name);
    if (json_is_integer(v))
        return (long)json_integer_value(v);
    /* bigint columns may come back as text */
    const char *s = json_string_value(v);
    return s ? strtol(s, NULL, 10) : 0;
}

/* Under q->mu: the database's figures, and this server's recordings since the read began. */
static void apply_rows(struct mh_intake__quotas *q, json_t *rows)
{
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *pid = json_string_value(json_object_get(row, "project_id"));
        struct entry *e = pid ? find(q, pid, false) : NULL;
        if (e == NULL || e->gen != e->gen_at_read)
            continue;
        e->runs_limit = long_of(row, "runs_limit");
        e->bytes_limit = long_of(row, "bytes_limit");
        e->runs_db = long_of(row, "runs_in_flight");
        e->stored_bytes = long_of(row, "stored_bytes");
        e->accepted -= e->accepted_at_read;
        e->accepted_at_read = 0;
        e->is_loaded = true;
    }
}

static void *run(void *arg)
{
    struct mh_intake__quotas *q = arg;
    int64_t last = mh_clock_mono_ms();
    pthread_mutex_lock(&q->mu);
    while (!q->is_stopping) {
        int64_t now = mh_clock_mono_ms();
        int64_t due = last + (q->wants_early ? EARLY_MS : REFRESH_MS);
        if (now < due) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t ns = (int64_t)ts.tv_nsec + (due - now) * 1000000;
            ts.tv_sec += (time_t)(ns / 1000000000);
            ts.tv_nsec = (long)(ns % 1000000000);
            pthread_cond_timedwait(&q->cv, &q->mu, &ts);
            continue;
        }
        last = now;
        q->wants_early = false;
        /* The active projects; idle ones with nothing pending are dropped. */
        json_t *ids = json_array();
        int64_t wall = mh_clock_now_ms();
        for (int b = 0; b < BUCKETS; b++) {
            for (struct entry **pe = &q->buckets[b]; *pe;) {
                struct entry *e = *pe;
                if (wall - e->used_ms > DROP_MS && e->pending == 0) {
                    *pe = e->next;
                    free(e);
                    continue;
                }
                if (wall - e->used_ms <= IDLE_MS) {
                    e->accepted_at_read = e->accepted;
                    e->gen_at_read = e->gen;
                    json_array_append_new(ids, json_string(e->project_id));
                }
                pe = &e->next;
            }
        }
        if (json_array_size(ids) > 0) {
            json_t *rows = NULL;
            pthread_mutex_unlock(&q->mu);
            enum mh_err rc = read_usage(q, ids, &rows);
            pthread_mutex_lock(&q->mu);
            if (rc == MH_OK)
                apply_rows(q, rows);
            json_decref(rows);
        }
        json_decref(ids);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

enum mh_intake__quota mh_intake__quota_take(struct mh_intake__quotas *q, const char *project_id,
                                            bool may_wait, struct mh_intake__quota_info *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&q->mu);
    struct entry *e = find(q, project_id, true);
    e->used_ms = mh_clock_now_ms();
    if (!e->is_loaded && !may_wait) {
        pthread_mutex_unlock(&q->mu);
        return MH_INTAKE__QUOTA_MUST_WAIT;
    }
    /* Read again if the limits changed while it was read (a few times at most). */
    for (int tries = 0; !e->is_loaded && tries < 3; tries++) {
        unsigned gen = e->gen;
        long accepted = e->accepted;
        pthread_mutex_unlock(&q->mu);
        json_t *ids = json_pack("[s]", project_id), *rows = NULL;
        enum mh_err rc = read_usage(q, ids, &rows);
        json_decref(ids);
        pthread_mutex_lock(&q->mu);
        e = find(q, project_id, true);
        if (rc != MH_OK) {
            json_decref(rows);
            break;
        }
        if (!e->is_loaded && e->gen == gen) {
            /* What this server recorded before the read began is in the read's count. */
            e->accepted_at_read = accepted;
            e->gen_at_read = gen;
            apply_rows(q, rows);
        }
        json_decref(rows);
    }
    /* Unreadable: judged as unlimited until the refresher reads it (the commit that follows
     * needs the same database anyway). */
    e->is_loaded = true;
    enum mh_intake__quota verdict = MH_INTAKE__QUOTA_OK;
    long in_flight = e->runs_db + e->pending + e->accepted;
    if (e->runs_limit > 0 && in_flight >= e->runs_limit) {
        verdict = MH_INTAKE__QUOTA_RUNS;
        out->limit = e->runs_limit;
        out->usage = in_flight;
    } else if (e->bytes_limit > 0 && e->stored_bytes >= e->bytes_limit) {
        verdict = MH_INTAKE__QUOTA_BYTES;
        out->limit = e->bytes_limit;
        out->usage = e->stored_bytes;
    } else {
        e->pending++;
    }
    if (verdict != MH_INTAKE__QUOTA_OK && !q->wants_early) {
        q->wants_early = true;
        pthread_cond_signal(&q->cv);
    }
    pthread_mutex_unlock(&q->mu);
    return verdict;
}

void mh_intake__quota_settle(struct mh_intake__quotas *q, const char *project_id, bool is_recorded)
{
    pthread_mutex_lock(&q->mu);
    struct entry *e = find(q, project_id, false);
    if (e) {
        e->pending--;
        if (is_recorded)
            e->accepted++;
    }
    pthread_mutex_unlock(&q->mu);
}

void mh_intake__quota_forget(struct mh_intake__quotas *q, const char *project_id)
{
    pthread_mutex_lock(&q->mu);
    struct entry *e = find(q, project_id, false);
    if (e) {
        e->is_loaded = false;
        e->gen++;
    }
    pthread_mutex_unlock(&q->mu);
}
