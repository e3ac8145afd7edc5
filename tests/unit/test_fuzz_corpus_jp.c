/* SPDX-License-Identifier: MIT */
/*
 * Replays the committed libFuzzer corpus of fuzz_jp (tests/fuzz/corpus/jp/) through the fuzz
 * target itself, so the ordinary test run (with ASan and UBSan in the asan variant) re-checks
 * every seed and every crash reproducer without needing clang or libFuzzer. The target's own
 * assertions stay armed: a failing input aborts this case.
 */
#include <dirent.h>
#include <limits.h>

#include "harness.h"

/* The fuzz target, included so the replay runs exactly the code the fuzzer runs. */
#include "../fuzz/fuzz_jp.c"

static size_t replay_dir(const char *dir, size_t *regressions)
{
    DIR *d = opendir(dir);
    MH_T_ASSERT(d != NULL);
    size_t count = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        FILE *f = fopen(path, "rb");
        MH_T_ASSERT(f != NULL);
        uint8_t buf[1 << 16];
        size_t n = fread(buf, 1, sizeof(buf), f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, n);
        count++;
        if (strncmp(de->d_name, "regress-", 8) == 0)
            (*regressions)++;
    }
    closedir(d);
    return count;
}

MH_TEST(replay_jp_corpus)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/jp", mh_t_repo_dir());
    size_t regressions = 0;
    size_t n = replay_dir(dir, &regressions);
    printf("fuzz corpus jp: %zu inputs replayed (%zu crash reproducers)\n", n, regressions);
    /* The corpus is seeded from the 891 distinct compliance-suite inputs. */
    MH_T_ASSERT(n >= 891);
    MH_T_ASSERT(regressions >= 1);
}

/* Both input forms: an expression alone (default document), and expression NUL document. */
MH_TEST(target_handles_both_input_forms)
{
    const char ok[] = "foo[?a ==";
    MH_T_ASSERT_EQ(LLVMFuzzerTestOneInput((const uint8_t *)ok, sizeof(ok) - 1), 0);
    const char doc[] = "people[*].name\0{\"people\": [{\"name\": 1}]}";
    MH_T_ASSERT_EQ(LLVMFuzzerTestOneInput((const uint8_t *)doc, sizeof(doc) - 1), 0);
}
