/* SPDX-License-Identifier: MIT */
/*
 * The handler pool: threads that run the handlers which may block (on the database), so that
 * libmicrohttpd's own threads, each serving many connections, never wait on a query. Tasks wait
 * in one bounded queue per lane (API calls with credentials, calls without, webhooks whose
 * endpoint is not cached) and threads take from the lanes in turn, so a flood of one kind (made-
 * up webhook ids, sign-in attempts) neither grows memory without bound nor makes the others wait
 * behind it: a task waits for at most one task of each other lane ahead of it. Within a lane,
 * tasks run in submission order. Stopping the pool runs every task already submitted, then joins.
 */
#include "http/http_internal.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/mem.h"

struct task {
    struct task *next;
    void (*fn)(void *arg);
    void *arg;
};

struct lane {
    struct task *head, *tail;
    int queued;
};

struct mh_http__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lane lanes[MH_HTTP__LANES];
    int next_lane; /* where the next thread starts looking: round robin */
    int max_queued;
    bool is_stopping;
    int nthreads;
    pthread_t *threads;
};

static void *run(void *arg);
static struct task *take(struct mh_http__pool *p);

enum mh_err mh_http__pool_create(int nthreads, int max_queued, struct mh_http__pool **out,
                                 struct mh_err_info *info)
{
    MH_ASSERT(nthreads > 0 && max_queued > 0);
    struct mh_http__pool *p = mh_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->max_queued = max_queued;
    p->threads = mh_xcalloc((size_t)nthreads, sizeof(*p->threads));
    for (; p->nthreads < nthreads; p->nthreads++) {
        if (pthread_create(&p->threads[p->nthreads], NULL, run, p) != 0) {
            mh_http__pool_destroy(p);
            return mh_err_set(info, MH_EIO, "threads", -1, "could not start handler threads");
        }
    }
    *out = p;
    return MH_OK;
}

enum mh_http__submit mh_http__pool_submit(struct mh_http__pool *p, enum mh_http__lane lane,
                                          void (*fn)(void *arg), void *arg)
{
    MH_ASSERT(lane >= 0 && lane < MH_HTTP__LANES);
    struct task *t = mh_xmalloc(sizeof(*t));
    *t = (struct task){.fn = fn, .arg = arg};
    struct lane *l = &p->lanes[lane];
    pthread_mutex_lock(&p->mu);
    enum mh_http__submit res = p->is_stopping               ? MH_HTTP__STOPPING
                               : l->queued >= p->max_queued ? MH_HTTP__FULL
                                                            : MH_HTTP__TAKEN;
    if (res == MH_HTTP__TAKEN) {
        if (l->tail)
            l->tail->next = t;
        else
            l->head = t;
        l->tail = t;
        l->queued++;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (res != MH_HTTP__TAKEN)
        free(t);
    return res;
}

void mh_http__pool_stop(struct mh_http__pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    bool was_stopping = p->is_stopping;
    p->is_stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (was_stopping)
        return;
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    for (int i = 0; i < MH_HTTP__LANES; i++)
        MH_ASSERT(p->lanes[i].head == NULL);
}

void mh_http__pool_destroy(struct mh_http__pool *p)
{
    if (p == NULL)
        return;
    mh_http__pool_stop(p);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}

/* With the mutex held: the head of the first non-empty lane from next_lane on, or NULL. */
static struct task *take(struct mh_http__pool *p)
{
    for (int i = 0; i < MH_HTTP__LANES; i++) {
        int n = (p->next_lane + i) % MH_HTTP__LANES;
        struct lane *l = &p->lanes[n];
        struct task *t = l->head;
        if (t == NULL)
            continue;
        l->head = t->next;
        if (l->head == NULL)
            l->tail = NULL;
        l->queued--;
        p->next_lane = (n + 1) % MH_HTTP__LANES;
        return t;
    }
    return NULL;
}

/* Takes tasks until the pool stops and none is left. */
static void *run(void *arg)
{
    struct mh_http__pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct task *t;
        while ((t = take(p)) == NULL && !p->is_stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        pthread_mutex_unlock(&p->mu);
        if (t == NULL)
            return NULL;
        t->fn(t->arg);
        free(t);
    }
}
