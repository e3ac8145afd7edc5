/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of tests/fuzz/fuzz_sig_verify.c through the same
 * function the fuzzer calls, so `make test` re-runs every input the fuzzer ever kept, under
 * ASan and UBSan too. The fuzz body aborts on any broken invariant; on top of that, files named
 * accept-* must be accepted as authentic and reject-* refused.
 */
#include <dirent.h>

#include "harness.h"

#define MH_FUZZ_NO_ENTRY
#include "../fuzz/fuzz_sig_verify.c"

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot open %s", path);
    uint8_t *buf = malloc(64 * 1024 + 1);
    *len = fread(buf, 1, 64 * 1024 + 1, f);
    fclose(f);
    return buf;
}

MH_TEST(fuzz_sig_verify_corpus_replay)
{
    char dir[4096], path[8192];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/sig_verify", mh_t_repo_dir());
    DIR *d = opendir(dir);
    if (d == NULL)
        mh_t_fail(__FILE__, __LINE__, "no corpus at %s", dir);
    size_t total = 0, accepts = 0, rejects = 0;
    /* Each of the six targets must have at least one expected acceptance in the corpus. */
    bool target_accepted[6] = {false};
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len = 0;
        uint8_t *data = slurp(path, &len);
        int got = mh_fuzz_sig_verify_one(data, len);
        total++;
        if (strncmp(e->d_name, "accept-", 7) == 0) {
            if (got != 1)
                mh_t_fail(__FILE__, __LINE__, "%s was refused", e->d_name);
            accepts++;
            if (len > 0)
                target_accepted[data[0] % 6] = true;
        } else if (strncmp(e->d_name, "reject-", 7) == 0) {
            if (got != 0)
                mh_t_fail(__FILE__, __LINE__, "%s was accepted", e->d_name);
            rejects++;
        }
        free(data);
    }
    closedir(d);
    MH_T_ASSERT(total >= 20);
    MH_T_ASSERT(accepts >= 10);
    MH_T_ASSERT(rejects >= 10);
    for (int t = 0; t < 6; t++)
        if (!target_accepted[t])
            mh_t_fail(__FILE__, __LINE__, "no accept-* seed for target %d", t);
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
