/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_template.c through the same function
 * the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under ASan and
 * UBSan too. The fuzz body aborts when an invariant breaks (above all: data inserted by a
 * template never becomes a resolved secret placeholder); on top of that, seeds named accept-*
 * must render and reject-* must fail.
 */
#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_template.c"

struct tally {
    size_t accepts, rejects;
};

static void replay(const char *name, const uint8_t *data, size_t len, void *ctx)
{
    struct tally *t = ctx;
    int got = mh_fuzz_template_one(data, len);
    if (strncmp(name, "accept-", 7) == 0) {
        if (got != 1)
            mh_t_fail(__FILE__, __LINE__, "%s was refused", name);
        t->accepts++;
    } else if (strncmp(name, "reject-", 7) == 0) {
        if (got != 0)
            mh_t_fail(__FILE__, __LINE__, "%s was accepted", name);
        t->rejects++;
    }
}

MH_TEST(fuzz_template_corpus_replay)
{
    struct tally t = {0};
    MH_T_ASSERT(mh_t_each_corpus_file("template", replay, &t) >= 10);
    MH_T_ASSERT(t.accepts >= 4);
    MH_T_ASSERT(t.rejects >= 5);
}
