/* SPDX-License-Identifier: MIT */
/*
 * The delivery log's background writer. Accepted deliveries are logged inside their own
 * transaction (commit.c); refused ones and duplicates need no durability, and writing each in a
 * transaction of its own would let a flood of bad requests cost the database as much as good
 * ones. So they are queued here and written in batches, one statement per batch, through the
 * SECURITY DEFINER function mh_intake_log_refused (several projects per statement). The queue is
 * bounded: past it rows are dropped, counted and reported in the log. Refusals a configuration
 * change can turn into runs carry their body, kept for replay (migration 0028): the bodies
 * queued are bounded in bytes too, and past that a row goes without its body, noted "busy". The
 * same thread purges expired idempotency keys now and then.
 */
#include "intake/intake_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define QUEUE_MAX      20000
#define BATCH_MAX      500
#define PURGE_EVERY_MS 60000
#define PURGE_BATCH    "5000"
#define IDLE_WAIT_MS   1000
#define DROP_REPORT_MS 10000

struct mh_intake__dlog {
    struct mh_intake *in;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work arrived, or stop */
    pthread_cond_t idle_cv; /* a batch was written */
    json_t *queue;          /* array of rows */
    uint64_t queued_total;  /* rows ever queued */
    uint64_t written_total; /* rows written or given up on */
    uint64_t dropped;
    size_t body_bytes; /* of the rows' "body" strings in `queue` */
    int64_t last_drop_report_ms;
    bool is_stopping;
    pthread_t thread;
};

static void *run(void *arg);
static void write_batch(struct mh_intake__dlog *d, json_t *rows);
static void purge(struct mh_intake__dlog *d);
static void deadline_in(struct timespec *ts, int ms);
static size_t body_bytes_of(json_t *row);

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

enum mh_err mh_intake__dlog_start(struct mh_intake *in, struct mh_intake__dlog **out)
{
    struct mh_intake__dlog *d = mh_xcalloc(1, sizeof(*d));
    d->in = in;
    d->queue = json_array();
    pthread_mutex_init(&d->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cv, &ca);
    pthread_cond_init(&d->idle_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        json_decref(d->queue);
        pthread_cond_destroy(&d->cv);
        pthread_cond_destroy(&d->idle_cv);
        pthread_mutex_destroy(&d->mu);
        free(d);
        return MH_ENOMEM;
    }
    *out = d;
    return MH_OK;
}

void mh_intake__dlog_stop(struct mh_intake__dlog *d)
{
    if (d == NULL)
        return;
    pthread_mutex_lock(&d->mu);
    d->is_stopping = true;
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    if (d->dropped)
        mh_log(MH_LOG_WARN, "intake",
               "delivery log: %llu refused deliveries were not logged "
               "(queue full)",
               (unsigned long long)d->dropped);
    json_decref(d->queue);
    pthread_cond_destroy(&d->cv);
    pthread_cond_destroy(&d->idle_cv);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

static size_t body_bytes_of(json_t *row)
{
    return json_string_length(json_object_get(row, "body"));
}

void mh_intake__dlog_add_new(struct mh_intake__dlog *d, json_t *row)
{
    size_t body = body_bytes_of(row);
    pthread_mutex_lock(&d->mu);
    if (body > 0 && d->body_bytes + body > (size_t)MH_INTAKE__DLOG_BODY_BYTES_MAX) {
        json_object_del(row, "body");
        json_object_set_new(row, "body_note", json_string("busy"));
        body = 0;
    }
    if (json_array_size(d->queue) >= QUEUE_MAX) {
        d->dropped++;
        int64_t now = mh_clock_now_ms();
        bool tell = now - d->last_drop_report_ms >= DROP_REPORT_MS;
        uint64_t dropped = d->dropped;
        if (tell)
            d->last_drop_report_ms = now;
        pthread_mutex_unlock(&d->mu);
        json_decref(row);
        if (tell)
            mh_log(MH_LOG_WARN, "intake",
                   "delivery log queue full: %llu refused deliveries not logged so far",
                   (unsigned long long)dropped);
        return;
    }
    json_array_append_new(d->queue, row);
    d->body_bytes += body;
    d->queued_total++;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
}

void mh_intake__dlog_flush(struct mh_intake__dlog *d, int timeout_ms)
{
    struct timespec deadline;
    deadline_in(&deadline, timeout_ms);
    pthread_mutex_lock(&d->mu);
    uint64_t target = d->queued_total;
    pthread_cond_signal(&d->cv);
    while (d->written_total < target && !d->is_stopping)
        if (pthread_cond_timedwait(&d->idle_cv, &d->mu, &deadline) == ETIMEDOUT)
            break;
    pthread_mutex_unlock(&d->mu);
}

static void write_batch(struct mh_intake__dlog *d, json_t *rows)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *text = json_dumps(rows, JSON_COMPACT);
    enum mh_err rc = text ? mh_db_acquire(d->in->pool, &c, &info) : MH_ENOMEM;
    if (rc == MH_OK) {
        char quota[24];
        snprintf(quota, sizeof(quota), "%ld", d->in->refused_body_quota_bytes);
        const char *params[] = {text, quota};
        rc = mh_db_query(c, "SELECT mh_intake_log_refused($1::jsonb, $2::bigint)", 2, params, NULL,
                         NULL, &info);
        mh_db_release(c);
    }
    if (rc != MH_OK)
        mh_log(MH_LOG_WARN, "intake", "delivery log: %zu rows not written: %s",
               json_array_size(rows), info.message[0] ? info.message : mh_strerror(rc));
    free(text);
}

static void purge(struct mh_intake__dlog *d)
{
    struct mh_db_conn *c = NULL;
    if (mh_db_acquire(d->in->pool, &c, NULL) != MH_OK)
        return;
    const char *params[] = {PURGE_BATCH};
    enum mh_err rc =
        mh_db_query(c, "SELECT mh_intake_purge_idempotency($1::int)", 1, params, NULL, NULL, NULL);
    (void)rc; /* Best effort: the next round tries again. */
    mh_db_release(c);
}

static void *run(void *arg)
{
    struct mh_intake__dlog *d = arg;
    int64_t next_purge = mh_clock_now_ms() + PURGE_EVERY_MS;
    pthread_mutex_lock(&d->mu);
    for (;;) {
        while (json_array_size(d->queue) == 0 && !d->is_stopping &&
               mh_clock_now_ms() < next_purge) {
            struct timespec deadline;
            deadline_in(&deadline, IDLE_WAIT_MS);
            pthread_cond_timedwait(&d->cv, &d->mu, &deadline);
        }
        size_t n = json_array_size(d->queue);
        if (n == 0 && d->is_stopping)
            break;
        size_t take = n < BATCH_MAX ? n : BATCH_MAX;
        json_t *batch = d->queue;
        d->queue = json_array();
        if (take < n) {
            /* Shifting a jansson array is quadratic: split it into two instead. */
            for (size_t i = take; i < n; i++)
                json_array_append(d->queue, json_array_get(batch, i));
            json_t *head = json_array();
            for (size_t i = 0; i < take; i++)
                json_array_append(head, json_array_get(batch, i));
            json_decref(batch);
            batch = head;
        }
        /* The batch's bodies leave the queue's budget now; they are freed with it below. */
        for (size_t i = 0; i < take; i++)
            d->body_bytes -= body_bytes_of(json_array_get(batch, i));
        pthread_mutex_unlock(&d->mu);
        if (take > 0)
            write_batch(d, batch);
        json_decref(batch);
        if (mh_clock_now_ms() >= next_purge) {
            purge(d);
            next_purge = mh_clock_now_ms() + PURGE_EVERY_MS;
        }
        pthread_mutex_lock(&d->mu);
        d->written_total += take;
        pthread_cond_broadcast(&d->idle_cv);
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}
