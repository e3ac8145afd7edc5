/* SPDX-License-Identifier: MIT */
/*
 * The handler pool: threads that run the handlers which may block (on the database), so that
 * libmicrohttpd's own threads, each serving many connections, never wait on a query. Tasks run
 * in submission order. Stopping the pool runs every task already submitted, then joins.
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

struct mh_http__pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct task *head, *tail;
    bool is_stopping;
    int nthreads;
    pthread_t *threads;
};

static void *run(void *arg);

enum mh_err mh_http__pool_create(int nthreads, struct mh_http__pool **out, struct mh_err_info *info)
{
    MH_ASSERT(nthreads > 0);
    struct mh_http__pool *p = mh_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
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

bool mh_http__pool_submit(struct mh_http__pool *p, void (*fn)(void *arg), void *arg)
{
    struct task *t = mh_xmalloc(sizeof(*t));
    *t = (struct task){.fn = fn, .arg = arg};
    pthread_mutex_lock(&p->mu);
    bool is_taken = !p->is_stopping;
    if (is_taken) {
        if (p->tail)
            p->tail->next = t;
        else
            p->head = t;
        p->tail = t;
        pthread_cond_signal(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    if (!is_taken)
        free(t);
    return is_taken;
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
    MH_ASSERT(p->head == NULL);
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

/* Takes tasks until the pool stops and none is left. */
static void *run(void *arg)
{
    struct mh_http__pool *p = arg;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->head == NULL && !p->is_stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        struct task *t = p->head;
        if (t) {
            p->head = t->next;
            if (p->head == NULL)
                p->tail = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (t == NULL)
            return NULL;
        t->fn(t->arg);
        free(t);
    }
}
