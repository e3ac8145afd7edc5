/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_json_check.c through the same
 * function the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under
 * ASan and UBSan too. The fuzz body aborts whenever the checker and jansson disagree (jansson
 * held to MH_INTAKE__JSON_MAX_DEPTH and to no NUL byte); on top of that, files named accept-*
 * must be accepted and reject-* refused. The reject-nul-jansson-accepts-* seeds are the
 * documented difference: jansson drops a NUL byte after a number or a literal, the checker
 * refuses every NUL.
 */
#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_json_check.c"

struct tally {
    size_t accepts, rejects;
};

static void replay(const char *name, const uint8_t *data, size_t len, void *ctx)
{
    struct tally *t = ctx;
    int got = mh_fuzz_json_check_one(data, len);
    if (strncmp(name, "accept-", 7) == 0) {
        if (got != 1)
            mh_t_fail(__FILE__, __LINE__, "%s was refused", name);
        t->accepts++;
    } else if (strncmp(name, "reject-", 7) == 0) {
        if (got != 0)
            mh_t_fail(__FILE__, __LINE__, "%s was accepted", name);
        t->rejects++;
    }
    if (strncmp(name, "reject-nul-jansson-accepts-", 27) == 0) {
        json_t *v =
            json_loadb((const char *)data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (v == NULL)
            mh_t_fail(__FILE__, __LINE__, "jansson refused %s: no longer a difference", name);
        json_decref(v);
    }
}

MH_TEST(fuzz_json_check_corpus_replay)
{
    struct tally t = {0};
    MH_T_ASSERT(mh_t_each_corpus_file("json_check", replay, &t) >= 40);
    MH_T_ASSERT(t.accepts >= 15);
    MH_T_ASSERT(t.rejects >= 25);
}
