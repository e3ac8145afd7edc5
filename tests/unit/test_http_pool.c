/* SPDX-License-Identifier: MIT */
/*
 * The HTTP handler pool (src/http/handler_pool.c): tasks run in submission order, on as many
 * threads at once as the pool has, and stopping runs everything already submitted, then refuses
 * more. (itest_intake_hostile shows what it is for: requests waiting on the database there do
 * not hold up webhooks.)
 */
#include <pthread.h>
#include <stdatomic.h>

#include "harness.h"
#include "http/http_internal.h"

struct order {
    int seen[100];
    int n; /* written by the pool's one thread only */
};

struct numbered {
    struct order *order;
    int i;
};

static void note_order(void *arg)
{
    struct numbered *t = arg;
    t->order->seen[t->order->n++] = t->i;
}

static struct mh_http__pool *pool_of(int nthreads)
{
    struct mh_http__pool *p = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT(mh_http__pool_create(nthreads, &p, &info) == MH_OK);
    return p;
}

MH_TEST(tasks_run_in_submission_order)
{
    struct mh_http__pool *p = pool_of(1);
    struct order order = {.n = 0};
    struct numbered tasks[100];
    for (int i = 0; i < 100; i++) {
        tasks[i] = (struct numbered){&order, i};
        MH_T_ASSERT(mh_http__pool_submit(p, note_order, &tasks[i]));
    }
    mh_http__pool_destroy(p);
    MH_T_ASSERT_EQ(order.n, 100);
    for (int i = 0; i < 100; i++)
        MH_T_ASSERT_EQ(order.seen[i], i);
}

static void count(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
}

MH_TEST(stopping_runs_what_was_submitted_then_refuses_more)
{
    struct mh_http__pool *p = pool_of(3);
    _Atomic int n = 0;
    for (int i = 0; i < 500; i++)
        MH_T_ASSERT(mh_http__pool_submit(p, count, &n));
    mh_http__pool_stop(p);
    MH_T_ASSERT_EQ(atomic_load(&n), 500);
    MH_T_ASSERT(!mh_http__pool_submit(p, count, &n));
    mh_http__pool_stop(p); /* idempotent */
    mh_http__pool_destroy(p);
    MH_T_ASSERT_EQ(atomic_load(&n), 500);
}

/* Each task waits until all four have started: only four threads at once can finish them (one
 * thread too few, and the case hangs until the harness's timeout fails it). */
static void meet(void *arg)
{
    pthread_barrier_wait(arg);
}

MH_TEST(threads_run_tasks_at_once)
{
    struct mh_http__pool *p = pool_of(4);
    pthread_barrier_t all;
    pthread_barrier_init(&all, NULL, 4);
    for (int i = 0; i < 4; i++)
        MH_T_ASSERT(mh_http__pool_submit(p, meet, &all));
    mh_http__pool_destroy(p);
    pthread_barrier_destroy(&all);
}
