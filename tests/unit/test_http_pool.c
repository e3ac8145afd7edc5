/* SPDX-License-Identifier: MIT */
/*
 * The HTTP handler pool (src/http/handler_pool.c): tasks of a lane run in submission order, on
 * as many threads at once as the pool has; the lanes take turns and each holds a bounded queue;
 * stopping runs everything already submitted, then refuses more. (itest_intake_hostile shows
 * what it is for: requests waiting on the database there do not hold up webhooks.)
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
    MH_T_ASSERT(mh_http__pool_create(nthreads, 1000, &p, &info) == MH_OK);
    return p;
}

MH_TEST(tasks_run_in_submission_order)
{
    struct mh_http__pool *p = pool_of(1);
    struct order order = {.n = 0};
    struct numbered tasks[100];
    for (int i = 0; i < 100; i++) {
        tasks[i] = (struct numbered){&order, i};
        MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_API, note_order, &tasks[i]),
                       MH_HTTP__TAKEN);
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
        MH_T_ASSERT_EQ(mh_http__pool_submit(p, (enum mh_http__lane)(i % MH_HTTP__LANES), count, &n),
                       MH_HTTP__TAKEN);
    mh_http__pool_stop(p);
    MH_T_ASSERT_EQ(atomic_load(&n), 500);
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_API, count, &n), MH_HTTP__STOPPING);
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
        MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_PUBLIC, meet, &all), MH_HTTP__TAKEN);
    mh_http__pool_destroy(p);
    pthread_barrier_destroy(&all);
}

/* Holds the pool's one thread until released, so that what is submitted meanwhile queues. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_open;
};

static void wait_gate(void *arg)
{
    struct gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->is_open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void open_gate(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    g->is_open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/*
 * Issue #18, 10: the queue was one FIFO, so an API call waited behind every lookup of a made-up
 * webhook id queued before it. Now the lanes take turns: behind 50 queued lookups, an API call
 * runs second.
 */
MH_TEST(lanes_take_turns)
{
    struct mh_http__pool *p = pool_of(1);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    struct order order = {.n = 0};
    struct numbered tasks[51];
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_API, wait_gate, &g), MH_HTTP__TAKEN);
    for (int i = 0; i < 50; i++) {
        tasks[i] = (struct numbered){&order, i};
        MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_DEFERRED, note_order, &tasks[i]),
                       MH_HTTP__TAKEN);
    }
    tasks[50] = (struct numbered){&order, 50};
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_API, note_order, &tasks[50]),
                   MH_HTTP__TAKEN);
    open_gate(&g);
    mh_http__pool_destroy(p);
    MH_T_ASSERT_EQ(order.n, 51);
    MH_T_ASSERT_EQ(order.seen[0], 0);
    MH_T_ASSERT_EQ(order.seen[1], 50); /* not 51st */
    for (int i = 2; i < 51; i++)
        MH_T_ASSERT_EQ(order.seen[i], i - 1);
}

/* Each lane's queue is bounded: past it a submission is refused (the server answers 503), and a
 * full lane does not stop the others from queueing. */
MH_TEST(each_lane_is_bounded)
{
    struct mh_http__pool *p = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT(mh_http__pool_create(1, 3, &p, &info) == MH_OK);
    struct gate g = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    _Atomic int n = 0;
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_API, wait_gate, &g), MH_HTTP__TAKEN);
    /* Whenever the thread wakes, it takes the gate first (its lane's turn comes first). */
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_DEFERRED, count, &n), MH_HTTP__TAKEN);
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_DEFERRED, count, &n), MH_HTTP__TAKEN);
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_DEFERRED, count, &n), MH_HTTP__TAKEN);
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_DEFERRED, count, &n), MH_HTTP__FULL);
    MH_T_ASSERT_EQ(mh_http__pool_submit(p, MH_HTTP__LANE_PUBLIC, count, &n), MH_HTTP__TAKEN);
    open_gate(&g);
    mh_http__pool_destroy(p);
    MH_T_ASSERT_EQ(atomic_load(&n), 4);
}
