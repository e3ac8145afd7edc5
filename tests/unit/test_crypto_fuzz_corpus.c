/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_sig_verify.c through the same
 * function the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under
 * ASan and UBSan too. The fuzz body aborts on any broken invariant; on top of that, files named
 * accept-* must be accepted as authentic and reject-* refused.
 */
#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_sig_verify.c"

/* Counts of accept-* and reject-* seeds, and which targets have an accepted seed. */
struct tally {
    size_t accepts, rejects;
    bool target_accepted[6];
};

static void replay(const char *name, const uint8_t *data, size_t len, void *ctx)
{
    struct tally *t = ctx;
    int got = mh_fuzz_sig_verify_one(data, len);
    if (strncmp(name, "accept-", 7) == 0) {
        if (got != 1)
            mh_t_fail(__FILE__, __LINE__, "%s was refused", name);
        t->accepts++;
        if (len > 0)
            t->target_accepted[data[0] % 6] = true;
    } else if (strncmp(name, "reject-", 7) == 0) {
        if (got != 0)
            mh_t_fail(__FILE__, __LINE__, "%s was accepted", name);
        t->rejects++;
    }
}

MH_TEST(fuzz_sig_verify_corpus_replay)
{
    struct tally t = {0};
    MH_T_ASSERT(mh_t_each_corpus_file("sig_verify", replay, &t) >= 20);
    MH_T_ASSERT(t.accepts >= 10);
    MH_T_ASSERT(t.rejects >= 10);
    /* Each of the six targets must have at least one expected acceptance in the corpus. */
    for (int k = 0; k < 6; k++)
        if (!t.target_accepted[k])
            mh_t_fail(__FILE__, __LINE__, "no accept-* seed for target %d", k);
}

/* The fuzz body's own invariants hold on inputs no seed covers. */
MH_TEST(fuzz_sig_verify_edge_inputs)
{
    MH_T_ASSERT_EQ(mh_fuzz_sig_verify_one(NULL, 0), 0);
    static const struct {
        const char *s;
        size_t n;
        int want;
    } inputs[] = {
#define IN(lit) {lit, sizeof(lit) - 1, 0}
        IN("\x00"),
        IN("\x01"),
        IN("\x02"),
        IN("\x03"),
        IN("\x04"),
        IN("\x05"),
        IN("\x00\n"),
        IN("\x01\n\n\n"),
        IN("\x03\xff\n"),
        IN("\x04"
           "Bearer a.b.c"),
        IN("\x05\x01="),
        {"\x05\x04", 2, 1}, /* The empty string is valid hex. */
        IN("\x00t=1614265330,v1=\x00\nbody"),
#undef IN
    };
    for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++)
        MH_T_ASSERT_EQ(mh_fuzz_sig_verify_one((const uint8_t *)inputs[i].s, inputs[i].n),
                       inputs[i].want);
}
