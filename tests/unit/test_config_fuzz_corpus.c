/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_config.c through the same function
 * the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under ASan and
 * UBSan too. The fuzz body aborts when a bound is broken or a secret shows in the printed
 * configuration or sways an error; on top of that, seeds named ok-* must load and err-* must
 * be refused.
 */
#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_config.c"

/* Counts of ok-* and err-* seeds. */
static void replay(const char *name, const uint8_t *data, size_t len, void *ctx)
{
    size_t *seen = ctx;
    int loaded = mh_fuzz_config_one(data, len);
    if (strncmp(name, "ok-", 3) == 0) {
        if (loaded != 1)
            mh_t_fail(__FILE__, __LINE__, "%s was refused", name);
        seen[0]++;
    } else if (strncmp(name, "err-", 4) == 0) {
        if (loaded != 0)
            mh_t_fail(__FILE__, __LINE__, "%s loaded", name);
        seen[1]++;
    }
}

MH_TEST(fuzz_config_corpus_replay)
{
    size_t seen[2] = {0};
    MH_T_ASSERT(mh_t_each_corpus_file("config", replay, seen) >= 15);
    MH_T_ASSERT(seen[0] >= 5);
    MH_T_ASSERT(seen[1] >= 5);
}
