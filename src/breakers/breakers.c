/* SPDX-License-Identifier: MIT */
/*
 * The breaker transitions writer: a FIFO of openings and closings filled by the outbound
 * executor's thread and drained by a thread of its own, which writes each one in a short
 * transaction with the project's id set (row-level security confines it to that project).
 * Order matters (an opening and the closing that follows it), so a transition that cannot be
 * written because the database is away stays at the head and is tried again a second later.
 */
#include "breakers/breakers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define RETRY_MS    1000
#define STOP_TRY_MS 3000

struct note {
    struct note *next;
    char project[37];
    char origin[301];
    char host[261];
    bool is_open;
    int failures;
    int64_t at_ms;
};

struct mh_breakers {
    struct mh_db_pool *pool;
    char server[101];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
    struct note *head, *tail;
    size_t n;
    pthread_mutex_t write_mu; /* one writer at a time (the thread, or a flush) */
};

static void *writer_main(void *arg);
static bool write_one(struct mh_breakers *b, const struct note *n);
static bool drain(struct mh_breakers *b);
static bool is_uuid(const char *s);

enum mh_err mh_breakers_start(struct mh_db_pool *pool, const char *server, struct mh_breakers **out)
{
    struct mh_breakers *b = mh_xcalloc(1, sizeof(*b));
    b->pool = pool;
    snprintf(b->server, sizeof(b->server), "%s", server && server[0] ? server : "meshhook");
    pthread_mutex_init(&b->mu, NULL);
    pthread_mutex_init(&b->write_mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (pthread_create(&b->thread, NULL, writer_main, b) != 0) {
        pthread_cond_destroy(&b->cv);
        pthread_mutex_destroy(&b->write_mu);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return MH_EUNAVAILABLE;
    }
    *out = b;
    return MH_OK;
}

/* A project id as the engine passes it: 36 characters of a canonical UUID. */
static bool is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-'
                 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return false;
    }
    return true;
}

void mh_breakers_note(void *ctx, const char *tenant, const char *origin, bool is_open, int failures)
{
    struct mh_breakers *b = ctx;
    if (b == NULL || !is_uuid(tenant) || origin == NULL || strlen(origin) >= 301)
        return;
    struct note *n = mh_xcalloc(1, sizeof(*n));
    memcpy(n->project, tenant, 37);
    snprintf(n->origin, sizeof(n->origin), "%s", origin);
    /* The host alone: between "://" and the port (an IPv6 literal keeps its brackets). */
    const char *h = strstr(origin, "://");
    h = h ? h + 3 : origin;
    const char *colon = strrchr(h, ':');
    size_t len = colon && colon > h && colon[-1] != '[' && !strchr(colon, ']') ? (size_t)(colon - h)
                                                                               : strlen(h);
    if (len == 0 || len >= sizeof(n->host)) {
        free(n);
        return;
    }
    memcpy(n->host, h, len);
    n->host[len] = '\0';
    n->is_open = is_open;
    n->failures = failures;
    n->at_ms = mh_clock_now_ms();
    pthread_mutex_lock(&b->mu);
    if (b->n >= MH_BREAKERS_MAX_QUEUED) {
        pthread_mutex_unlock(&b->mu);
        mh_log(MH_LOG_WARN, "breakers", "transition of %s not recorded: %d waiting already",
               n->origin, MH_BREAKERS_MAX_QUEUED);
        free(n);
        return;
    }
    if (b->tail)
        b->tail->next = n;
    else
        b->head = n;
    b->tail = n;
    b->n++;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
}

/* Writes one transition; false when it should be tried again (the database is away). A
 * transition the database refuses for good (the project was deleted) counts as written. */
static bool write_one(struct mh_breakers *b, const struct note *n)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char at[32], failures[16];
    snprintf(at, sizeof(at), "%lld", (long long)n->at_ms);
    snprintf(failures, sizeof(failures), "%d", n->failures);
    enum mh_err rc = mh_db_acquire(b->pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_begin(c, NULL, n->project, &info);
    if (rc == MH_OK && n->is_open) {
        const char *p[] = {n->project, n->origin, n->host, b->server, failures, at};
        rc = mh_db_query(c,
                         "SELECT mh_breaker_opened($1, $2, $3, $4, $5::int, 'epoch'::timestamptz "
                         "+ $6::bigint * interval '1 millisecond')",
                         6, p, NULL, NULL, &info);
    } else if (rc == MH_OK) {
        const char *p[] = {n->project, n->origin, b->server, at};
        rc = mh_db_query(c,
                         "SELECT mh_breaker_closed($1, $2, $3, 'epoch'::timestamptz + "
                         "$4::bigint * interval '1 millisecond')",
                         4, p, NULL, NULL, &info);
    }
    if (rc == MH_OK)
        rc = mh_db_commit(c, &info);
    mh_db_release(c);
    if (rc == MH_OK) {
        mh_log(MH_LOG_DEBUG, "breakers", "recorded breaker %s project=%s origin=%s",
               n->is_open ? "opened" : "closed", n->project, n->origin);
        return true;
    }
    if (rc == MH_EUNAVAILABLE)
        return false;
    mh_log(MH_LOG_WARN, "breakers", "breaker %s of %s not recorded: %s",
           n->is_open ? "opening" : "closing", n->origin, info.message);
    return true;
}

/* Writes the queue in order; false when the head could not be written (left in place). */
static bool drain(struct mh_breakers *b)
{
    pthread_mutex_lock(&b->write_mu);
    bool ok = true;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        struct note *n = b->head;
        pthread_mutex_unlock(&b->mu);
        if (n == NULL)
            break;
        if (!write_one(b, n)) {
            ok = false;
            break;
        }
        pthread_mutex_lock(&b->mu);
        b->head = n->next;
        if (b->head == NULL)
            b->tail = NULL;
        b->n--;
        pthread_mutex_unlock(&b->mu);
        free(n);
    }
    pthread_mutex_unlock(&b->write_mu);
    return ok;
}

void mh_breakers_flush(struct mh_breakers *b)
{
    if (b != NULL)
        (void)drain(b);
}

static void *writer_main(void *arg)
{
    struct mh_breakers *b = arg;
    int64_t stop_by = 0;
    for (;;) {
        bool ok = drain(b);
        pthread_mutex_lock(&b->mu);
        if (b->is_stopping && stop_by == 0)
            stop_by = mh_clock_mono_ms() + STOP_TRY_MS;
        if (b->is_stopping && (b->head == NULL || mh_clock_mono_ms() >= stop_by)) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
        if (ok && b->head == NULL && !b->is_stopping) {
            pthread_cond_wait(&b->cv, &b->mu);
        } else if (!ok) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += (long)(RETRY_MS % 1000) * 1000000L;
            ts.tv_sec += RETRY_MS / 1000 + ts.tv_nsec / 1000000000L;
            ts.tv_nsec %= 1000000000L;
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

void mh_breakers_stop(struct mh_breakers *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->is_stopping = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    size_t lost = b->n;
    while (b->head) {
        struct note *next = b->head->next;
        free(b->head);
        b->head = next;
    }
    if (lost > 0)
        mh_log(MH_LOG_WARN, "breakers", "%zu breaker transition(s) not recorded at shutdown", lost);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->write_mu);
    pthread_mutex_destroy(&b->mu);
    free(b);
}
