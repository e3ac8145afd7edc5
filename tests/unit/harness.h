/* SPDX-License-Identifier: MIT */
/*
 * The unit-test harness (after libuv's task.h). A test file defines cases with MH_TEST(name) { }
 * and nothing else: cases register themselves, and harness.c's main runs each in a forked child
 * with a timeout, so a crash or a hang fails one case, not the file. A case may call
 * MH_T_SKIP("why") to be counted as skipped.
 *
 * Output: one "ok|FAIL|skip <name>" line per case, then a summary line
 * "<file>: N passed, N failed, N skipped" that tests/run.sh adds up.
 */
#ifndef MH_TESTS_HARNESS_H
#define MH_TESTS_HARNESS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*mh_t_fn)(void);

void mh_t_register(const char *name, mh_t_fn fn);
void mh_t_fail(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
void mh_t_skip(const char *why) __attribute__((noreturn));
/* Directory holding ../shared relative to the repository root, or NULL when absent. */
const char *mh_t_shared_dir(void);
/* Path of the repository root (the directory holding tests/). */
const char *mh_t_repo_dir(void);
/* Calls `fn` with the name and bytes (up to 64 KiB) of every file of the committed fuzz corpus
 * tests/fuzz/corpus/<target>/; fails the test when there is no such folder. Returns the count. */
size_t mh_t_each_corpus_file(const char *target,
                             void (*fn)(const char *name, const uint8_t *data, size_t len,
                                        void *ctx),
                             void *ctx);

#define MH_TEST(name)                                                                              \
    static void mh_t_case_##name(void);                                                            \
    __attribute__((constructor)) static void mh_t_reg_##name(void)                                 \
    {                                                                                              \
        mh_t_register(#name, mh_t_case_##name);                                                    \
    }                                                                                              \
    static void mh_t_case_##name(void)

#define MH_T_SKIP(why) mh_t_skip(why)

#define MH_T_ASSERT(e)                                                                             \
    do {                                                                                           \
        if (!(e))                                                                                  \
            mh_t_fail(__FILE__, __LINE__, "assertion failed: %s", #e);                             \
    } while (0)

#define MH_T_ASSERT_EQ(a, b)                                                                       \
    do {                                                                                           \
        long long mh_t_a_ = (long long)(a), mh_t_b_ = (long long)(b);                              \
        if (mh_t_a_ != mh_t_b_)                                                                    \
            mh_t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, mh_t_a_, mh_t_b_);     \
    } while (0)

#define MH_T_ASSERT_STR_EQ(a, b)                                                                   \
    do {                                                                                           \
        const char *mh_t_a_ = (a), *mh_t_b_ = (b);                                                 \
        if (mh_t_a_ == NULL || mh_t_b_ == NULL || strcmp(mh_t_a_, mh_t_b_) != 0)                   \
            mh_t_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                      mh_t_a_ ? mh_t_a_ : "(null)", mh_t_b_ ? mh_t_b_ : "(null)");                 \
    } while (0)

#define MH_T_ASSERT_MEM_EQ(a, b, n)                                                                \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            mh_t_fail(__FILE__, __LINE__, "%s and %s differ in their first %zu bytes", #a, #b,     \
                      (size_t)(n));                                                                \
    } while (0)

#endif
