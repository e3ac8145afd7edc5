/* SPDX-License-Identifier: MIT */
/*
 * What recording costs, without the noise of a whole server: THREADS threads each record what
 * one accepted webhook records (an HTTP request with its latency, a delivery outcome, and a
 * pool's connection taken and given back) ITERS times, with collection on and then off. Prints
 * nanoseconds per webhook for both. All threads hit the same counters, as concurrent webhooks
 * do, so the figure includes the cache-line contention of the shared atomics.
 *
 *   record THREADS ITERS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "metrics/metrics.h"

static long iters;

static void *work(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        mh_metrics_pool_in_use_add(MH_MP_INTAKE, 1);
        mh_metrics_pool_in_use_add(MH_MP_INTAKE, -1);
        mh_metrics_delivery(MH_MD_ACCEPTED);
        mh_metrics_http_request(0, 202, 700000 + (i & 1023) * 1000);
    }
    return NULL;
}

static double run(int threads)
{
    pthread_t t[64];
    int64_t t0 = mh_clock_mono_ns();
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, work, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    return (double)(mh_clock_mono_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 2;
    iters = argc > 2 ? strtol(argv[2], NULL, 10) : 10000000;
    if (threads < 1 || threads > 64 || iters < 1)
        return 2;
    mh_metrics_http_route(0, "*", "/hooks/:public_id");
    mh_metrics_pool_size_add(MH_MP_INTAKE, 2);
    mh_metrics_set_enabled(true);
    double on = run(threads);
    mh_metrics_set_enabled(false);
    double off = run(threads);
    printf("record: %d threads, %ld webhooks each: %.1f ns per webhook with metrics on, %.1f ns "
           "off (wall time per webhook per thread)\n",
           threads, iters, on, off);
    return 0;
}
