/* SPDX-License-Identifier: MIT */
/*
 * Allocation that dies when memory is exhausted (like PostgreSQL's palloc), and the assertion
 * macros. Untrusted sizes must be checked against limits before they reach these functions.
 */
#ifndef MH_CORE_MEM_H
#define MH_CORE_MEM_H

#include <stddef.h>

#include "core/err.h"

/* Each returns new memory the caller frees with free(); they never return NULL (said to the
 * compiler and the static analyser too). */
__attribute__((returns_nonnull)) void *mh_xmalloc(size_t n);
__attribute__((returns_nonnull)) void *mh_xcalloc(size_t count, size_t n);
__attribute__((returns_nonnull)) void *mh_xrealloc(void *p, size_t n);
__attribute__((returns_nonnull)) char *mh_xstrdup(const char *s);
__attribute__((returns_nonnull)) char *mh_xstrndup(const char *s, size_t n);

/* Logs "file:line: message" through an async-signal-safe writer and aborts. */
MH_NORETURN void mh_panic_at(const char *file, int line, const char *fmt, ...) MH_PRINTF(3, 4);

#define mh_panic(...) mh_panic_at(__FILE__, __LINE__, __VA_ARGS__)

/* Stays on in release builds; use MH_DEBUG_ASSERT for costly checks. */
#define MH_ASSERT(e)                                                                               \
    do {                                                                                           \
        if (!(e))                                                                                  \
            mh_panic_at(__FILE__, __LINE__, "assertion failed: %s", #e);                           \
    } while (0)

#ifdef MH_DEBUG
#define MH_DEBUG_ASSERT(e) MH_ASSERT(e)
#else
#define MH_DEBUG_ASSERT(e) ((void)0)
#endif

#define MH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
