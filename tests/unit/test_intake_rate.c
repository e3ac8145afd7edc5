/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the intake's token buckets (src/intake/rate.c): the refill-and-take rule, the
 * share each of N instances takes of a rate (rate/N, burst/N, at least one token), and the
 * projects' buckets, which a project's endpoints share.
 */
#include <string.h>

#include "harness.h"
#include "intake/intake_internal.h"

/* Takes until refused at time `now_ms`; returns how many were admitted. */
static int drain(struct mh_intake__bucket *b, double cap, double rate, int share, int64_t now_ms)
{
    int n = 0, retry = 0;
    while (mh_intake__bucket_take(b, cap, rate, share, now_ms, &retry))
        n++;
    MH_T_ASSERT(retry >= 1);
    return n;
}

MH_TEST(a_bucket_admits_its_burst_then_its_rate)
{
    struct mh_intake__bucket b = {0};
    MH_T_ASSERT_EQ(drain(&b, 10, 5, 1, 1000), 10);
    /* One second later, five more (the rate), never more than the burst. */
    MH_T_ASSERT_EQ(drain(&b, 10, 5, 1, 2000), 5);
    MH_T_ASSERT_EQ(drain(&b, 10, 5, 1, 60000), 10);
    int retry = 0;
    MH_T_ASSERT(!mh_intake__bucket_take(&b, 10, 0.25, 1, 60000, &retry));
    MH_T_ASSERT_EQ(retry, 4); /* one token at 0.25/s */
}

MH_TEST(n_instances_each_take_a_share_that_sums_to_the_setting)
{
    /* Burst 20, 10/s over two instances: each holds 10 and refills at 5/s. */
    struct mh_intake__bucket a = {0}, b = {0};
    int admitted = drain(&a, 20, 10, 2, 0) + drain(&b, 20, 10, 2, 0);
    MH_T_ASSERT_EQ(admitted, 20);
    admitted = drain(&a, 20, 10, 2, 1000) + drain(&b, 20, 10, 2, 1000);
    MH_T_ASSERT_EQ(admitted, 10);
    /* Three instances and a burst of 2: a share below one token still admits one. */
    struct mh_intake__bucket c = {0};
    MH_T_ASSERT_EQ(drain(&c, 2, 1, 3, 0), 1);
    /* The count falls back to one: the bucket grows to the whole burst as it refills. */
    struct mh_intake__bucket d = {0};
    MH_T_ASSERT_EQ(drain(&d, 20, 10, 2, 0), 10);
    MH_T_ASSERT_EQ(drain(&d, 20, 10, 1, 5000), 20);
}

MH_TEST(a_project_bucket_is_shared_by_its_endpoints_and_off_without_a_rate)
{
    struct mh_intake__rates *r = mh_intake__rates_create();
    struct mh_intake__endpoint e1, e2, other;
    memset(&e1, 0, sizeof(e1));
    memset(&e2, 0, sizeof(e2));
    memset(&other, 0, sizeof(other));
    snprintf(e1.project_id, sizeof(e1.project_id), "0b0e7c9e-0000-4000-8000-000000000001");
    snprintf(e2.project_id, sizeof(e2.project_id), "%s", e1.project_id);
    snprintf(other.project_id, sizeof(other.project_id), "0b0e7c9e-0000-4000-8000-000000000002");
    e1.project_rate_per_second = e2.project_rate_per_second = 1;
    e1.project_burst = e2.project_burst = 4;
    int retry = 0, admitted = 0;
    for (int i = 0; i < 10; i++)
        admitted += mh_intake__rates_take_project(r, i % 2 ? &e1 : &e2, 1, 0, &retry);
    MH_T_ASSERT_EQ(admitted, 4);
    MH_T_ASSERT(retry >= 1);
    /* Another project without a limit is never refused. */
    for (int i = 0; i < 1000; i++)
        MH_T_ASSERT(mh_intake__rates_take_project(r, &other, 1, 0, &retry));
    mh_intake__rates_destroy(r);
}

MH_TEST(the_project_rate_in_force)
{
    double rate = -1, burst = -1;
    /* Neither the project nor the server: no limit. */
    mh_intake_project_rate_resolve(false, 0, false, 0, 0, 0, &rate, &burst);
    MH_T_ASSERT(rate == 0);
    /* The server's default rate and burst; its burst 0 is one second's worth. */
    mh_intake_project_rate_resolve(false, 0, false, 0, 50, 200, &rate, &burst);
    MH_T_ASSERT(rate == 50 && burst == 200);
    mh_intake_project_rate_resolve(false, 0, false, 0, 50, 0, &rate, &burst);
    MH_T_ASSERT(rate == 50 && burst == 50);
    /* The project's own rate without a burst: one second of its own rate, not the server's
     * burst; a rate below one per second still has a bucket of one. */
    mh_intake_project_rate_resolve(true, 10, false, 0, 50, 200, &rate, &burst);
    MH_T_ASSERT(rate == 10 && burst == 10);
    mh_intake_project_rate_resolve(true, 0.1, false, 0, 50, 200, &rate, &burst);
    MH_T_ASSERT(rate == 0.1 && burst == 1);
    /* Its own burst over the server's rate. */
    mh_intake_project_rate_resolve(false, 0, true, 7, 50, 200, &rate, &burst);
    MH_T_ASSERT(rate == 50 && burst == 7);
}
