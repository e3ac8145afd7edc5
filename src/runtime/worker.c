/* SPDX-License-Identifier: MIT */
/*
 * The runtime's threads (docs/internals/runtime.md): worker threads that take reports (an
 * http_call's outcome, a cancellation) and claim due jobs from PostgreSQL (queue.c) and advance
 * their runs in batches (batch.c), whose HTTP calls go out through the send pipeline (send.c)
 * to the outbound executor; and a listener that wakes the workers on other instances' NOTIFY
 * and sends ours, coalesced. The runtime drives the pure engine; nothing calls back up into it.
 *
 * A database that goes away for a moment (a restart, a failover) costs a claimed job no more
 * than that moment: a job whose outcome could not be recorded is remembered, and handed back
 * (mh_release_jobs) as soon as the database answers again, instead of waiting out its lease.
 *
 * Crashes: a job stays in the table until its run finishes. While an HTTP call is in flight the
 * job sleeps until the call's timeout plus a margin; if the process dies, the job comes due again
 * and the outstanding calls are sent again (same idempotency key), so steps run at least once and
 * the log records each outcome exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "breakers/breakers.h"
#include "core/mem.h"
#include "outbound/outbound.h"
#include "runtime/runtime_internal.h"

#define PARTITION_CHECK_MS (6 * 3600 * 1000)

uint64_t mh_runtime__random_u64(void *ctx)
{
    (void)ctx;
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        mh_panic("getrandom failed");
    return v;
}

/* ---- Reports queue ------------------------------------------------------------------------ */

void mh_runtime__push_report(struct mh_engine_runtime *rt, struct mh_runtime__report *r)
{
    pthread_mutex_lock(&rt->mu);
    r->next = NULL;
    if (rt->reports_tail)
        rt->reports_tail->next = r;
    else
        rt->reports_head = r;
    rt->reports_tail = r;
    rt->wake_gen++;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

static struct mh_runtime__report *pop_report(struct mh_engine_runtime *rt)
{
    struct mh_runtime__report *r = rt->reports_head;
    if (r) {
        rt->reports_head = r->next;
        if (rt->reports_head == NULL)
            rt->reports_tail = NULL;
    }
    return r;
}

void mh_runtime__report_free(struct mh_runtime__report *r)
{
    if (r == NULL)
        return;
    if (r->has_event)
        mh_engine_event_cleanup(&r->ev);
    free(r);
}

void mh_runtime__inflight_forget(struct mh_engine_runtime *rt, const char *key)
{
    if (key == NULL || key[0] == '\0')
        return;
    pthread_mutex_lock(&rt->mu);
    json_object_del(rt->inflight, key);
    pthread_mutex_unlock(&rt->mu);
}

bool mh_runtime__inflight_claim(struct mh_engine_runtime *rt, const char *key)
{
    pthread_mutex_lock(&rt->mu);
    bool is_new = json_object_get(rt->inflight, key) == NULL;
    if (is_new)
        json_object_set_new(rt->inflight, key, json_true());
    pthread_mutex_unlock(&rt->mu);
    return is_new;
}

bool mh_runtime__inflight_has(struct mh_engine_runtime *rt, const char *key)
{
    pthread_mutex_lock(&rt->mu);
    bool has = json_object_get(rt->inflight, key) != NULL;
    pthread_mutex_unlock(&rt->mu);
    return has;
}

static void *worker_main(void *arg)
{
    struct mh_engine_runtime *rt = arg;
    int max = rt->opts.batch;
    struct mh_runtime__job *jobs = mh_xcalloc((size_t)max, sizeof(*jobs));
    struct mh_runtime__report **reps = mh_xcalloc((size_t)max, sizeof(*reps));
    for (;;) {
        pthread_mutex_lock(&rt->mu);
        if (rt->is_stopping) {
            pthread_mutex_unlock(&rt->mu);
            break;
        }
        int nrep = 0;
        struct mh_runtime__report *rep;
        while (nrep < max && (rep = pop_report(rt)) != NULL)
            reps[nrep++] = rep;
        unsigned gen = rt->wake_gen;
        bool has_unsettled = json_array_size(rt->orphans) > 0 || rt->parked != NULL;
        pthread_mutex_unlock(&rt->mu);
        if (has_unsettled)
            mh_runtime__take_back(rt);
        if (nrep > 0) {
            for (int i = 0; i < nrep; i++) {
                memset(&jobs[i], 0, sizeof(jobs[i]));
                memcpy(jobs[i].run_id, reps[i]->run_id, sizeof(jobs[i].run_id));
                memcpy(jobs[i].project_id, reps[i]->project_id, sizeof(jobs[i].project_id));
            }
            mh_runtime__process_all(rt, jobs, reps, nrep);
            for (int i = 0; i < nrep; i++)
                mh_runtime__report_free(reps[i]);
            continue;
        }
        int n = mh_runtime__claim(rt, jobs, max);
        if (n > 0) {
            mh_runtime__process_all(rt, jobs, NULL, n);
            continue;
        }
        pthread_mutex_lock(&rt->mu);
        if (!rt->is_stopping && rt->wake_gen == gen && rt->reports_head == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += rt->opts.poll_ms / 1000;
            ts.tv_nsec += (long)(rt->opts.poll_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
        }
        pthread_mutex_unlock(&rt->mu);
    }
    free(jobs);
    free(reps);
    return NULL;
}

static void local_wake(struct mh_engine_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    rt->wake_gen++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* Listens for other instances' wake-ups and sends ours, at most one NOTIFY per round. */
static void *listener_main(void *arg)
{
    struct mh_engine_runtime *rt = arg;
    struct mh_db_conn *c = NULL;
    int64_t partitions_checked = mh_clock_now_ms();
    while (!atomic_load(&rt->is_stopping)) {
        if (c == NULL) {
            if (mh_db_connect(rt->opts.listen_db_url, &c, NULL) != MH_OK ||
                mh_db_listen(c, MH_RUNTIME__NOTIFY_CHANNEL, NULL) != MH_OK) {
                mh_db_close(c);
                c = NULL;
                usleep(500 * 1000);
                continue;
            }
        }
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (atomic_exchange(&rt->notify_pending, false) &&
            mh_db_exec_script(c, "NOTIFY " MH_RUNTIME__NOTIFY_CHANNEL, &info) != MH_OK) {
            /* Other instances then find the jobs at their next poll; ours were woken already.
             * The wake-up is asked for again, on the next connection. */
            mh_log(MH_LOG_WARN, "engine", "wake-up not sent to other instances: %s (%s)",
                   info.message, info.kind);
            atomic_store(&rt->notify_pending, true);
            mh_db_close(c);
            c = NULL;
            continue;
        }
        /* A long-running server keeps the event log's monthly partitions ahead of time. */
        if (mh_clock_now_ms() - partitions_checked > PARTITION_CHECK_MS) {
            partitions_checked = mh_clock_now_ms();
            info = (struct mh_err_info)MH_ERR_INFO_INIT;
            if (mh_db_exec_script(c, "SELECT mh_ensure_event_partitions(3)", &info) != MH_OK)
                /* Tried again at the next check; the partitions are made months ahead. */
                mh_log(MH_LOG_ERROR, "engine", "event partitions not ensured: %s (%s)",
                       info.message, info.kind);
        }
        bool got = false;
        if (mh_db_wait_notify(c, 20, &got, NULL) != MH_OK) {
            mh_db_close(c);
            c = NULL;
            continue;
        }
        if (got)
            local_wake(rt);
    }
    mh_db_close(c);
    return NULL;
}

enum mh_err mh_engine_runtime_start(const struct mh_engine_runtime_opts *opts,
                                    struct mh_engine_runtime **out, struct mh_err_info *info)
{
    struct mh_engine_runtime *rt = mh_xcalloc(1, sizeof(*rt));
    rt->opts = *opts;
    if (rt->opts.batch < 1)
        rt->opts.batch = 1;
    if (rt->opts.poll_ms < 10)
        rt->opts.poll_ms = 10;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    rt->inflight = json_object();
    rt->privacy = json_object();
    rt->orphans = json_array();
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(rt->worker_id, sizeof(rt->worker_id), "%.40s:%d:%08llx", host, (int)getpid(),
             (unsigned long long)(mh_runtime__random_u64(NULL) & 0xffffffffu));
    struct mh_outbound_opts oo;
    mh_outbound_opts_init(&oo);
    if (opts->max_response_bytes)
        oo.max_response_bytes = opts->max_response_bytes;
    if (opts->max_in_flight)
        oo.max_in_flight = opts->max_in_flight;
    if (opts->breaker_failures)
        oo.breaker_failures = opts->breaker_failures;
    if (opts->breaker_open_ms)
        oo.breaker_open_ms = opts->breaker_open_ms;
    if (opts->max_in_flight_per_project)
        oo.max_in_flight_per_tenant = opts->max_in_flight_per_project;
    if (opts->max_queued)
        oo.max_queued = opts->max_queued;
    oo.allow_private_targets = opts->allow_private_targets;
    oo.allowlist = opts->outbound_allowlist;
    struct mh_err_info why = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_outbound_allowlist_check(opts->outbound_allowlist, NULL, &why);
    if (rc == MH_OK &&
        (rc = mh_breakers_start(opts->pool, rt->worker_id, &rt->breakers)) == MH_OK) {
        oo.on_breaker = mh_breakers_note;
        oo.on_breaker_ctx = rt->breakers;
    }
    if (rc == MH_OK)
        rc = mh_outbound_create(&oo, &rt->out);
    if (rc != MH_OK) {
        mh_breakers_stop(rt->breakers);
        json_decref(rt->inflight);
        json_decref(rt->privacy);
        json_decref(rt->orphans);
        free(rt);
        if (why.message[0])
            return mh_err_set(info, rc, "config", -1, "outbound_allowlist: %s", why.message);
        return mh_err_set(info, rc, "outbound", -1, "could not start the HTTP executor");
    }
    rt->opts.outbound_allowlist = NULL; /* borrowed for the start only; the executor has a copy */
    if (opts->allow_private_targets)
        mh_log(MH_LOG_WARN, "engine",
               "allow_private_targets is on: http_call may reach loopback, private, link-local "
               "and cloud metadata addresses. Development only; in production leave it off and "
               "name internal targets in outbound_allowlist or a project's allow-list");
    mh_runtime__logs_init(&rt->logs, MH_RUNTIME__LOG_ENTRIES, MH_RUNTIME__LOG_BYTES);
    rt->threads = mh_xcalloc((size_t)(opts->workers ? opts->workers : 1), sizeof(pthread_t));
    bool started = true;
    for (int i = 0; i < opts->workers && started; i++) {
        started = pthread_create(&rt->threads[i], NULL, worker_main, rt) == 0;
        rt->nthreads += started; /* what stop joins: only the threads that exist */
    }
    if (started && opts->listen_db_url && opts->listen_db_url[0])
        started = rt->has_listener = pthread_create(&rt->listener, NULL, listener_main, rt) == 0;
    if (!started) {
        int running = rt->nthreads;
        mh_engine_runtime_stop(rt);
        return mh_err_set(info, MH_EUNAVAILABLE, "engine", -1,
                          "could not start the worker threads (%d of %d running)", running,
                          opts->workers);
    }
    mh_log(MH_LOG_INFO, "engine", "runtime started: %d worker(s), batch %d, worker id %s",
           rt->nthreads, rt->opts.batch, rt->worker_id);
    *out = rt;
    return MH_OK;
}

void mh_engine_runtime_on_respond(struct mh_engine_runtime *rt, mh_engine_respond_fn fn, void *ctx)
{
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->mu);
    rt->respond_fn = fn;
    rt->respond_ctx = ctx;
    pthread_mutex_unlock(&rt->mu);
}

void mh_engine_runtime_respond_watch(struct mh_engine_runtime *rt, int delta)
{
    if (rt)
        atomic_fetch_add(&rt->respond_watch, delta);
}

void mh_engine_runtime_wake(struct mh_engine_runtime *rt)
{
    if (rt == NULL)
        return;
    local_wake(rt);
    atomic_store(&rt->notify_pending, true);
}

void mh_engine_runtime_stop(struct mh_engine_runtime *rt)
{
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->mu);
    rt->is_stopping = true;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    for (int i = 0; i < rt->nthreads; i++)
        pthread_join(rt->threads[i], NULL);
    if (rt->has_listener)
        pthread_join(rt->listener, NULL);
    /* In-flight calls are canceled; their jobs come back on another worker after recovery. */
    mh_outbound_destroy(rt->out);
    mh_breakers_stop(rt->breakers); /* after the executor: it reports the transitions */
    struct mh_runtime__report *r;
    while ((r = pop_report(rt)) != NULL)
        mh_runtime__report_free(r);
    while ((r = rt->parked) != NULL) {
        rt->parked = r->next;
        mh_runtime__report_free(r);
    }
    mh_runtime__release_leases(rt);
    mh_runtime__wf_cache_clear(rt);
    mh_runtime__logs_cleanup(&rt->logs);
    json_decref(rt->inflight);
    json_decref(rt->privacy);
    json_decref(rt->orphans);
    free(rt->threads);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    mh_log(MH_LOG_INFO, "engine", "runtime stopped");
    free(rt);
}
