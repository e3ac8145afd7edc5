/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_http_route.c through the same
 * function the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under
 * ASan and UBSan too. The fuzz body aborts on any inconsistent answer; on top of that, seeds
 * named s200-*, s404-* and s405-* must get that status from the server's real route table.
 */
#include <stdio.h>

#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_http_route.c"

/* Seeds with an expected status, by status: 200, 404, 405. */
static void replay(const char *name, const uint8_t *data, size_t len, void *ctx)
{
    size_t *seen = ctx;
    int got = mh_fuzz_http_route_one(data, len), want = 0;
    if (sscanf(name, "s%d-", &want) != 1)
        return;
    if (got != want)
        mh_t_fail(__FILE__, __LINE__, "%s: status %d", name, got);
    seen[want == 200 ? 0 : want == 404 ? 1 : 2]++;
}

MH_TEST(fuzz_http_route_corpus_replay)
{
    size_t seen[3] = {0};
    MH_T_ASSERT(mh_t_each_corpus_file("http_route", replay, seen) >= 20);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT(seen[i] >= 5);
}
