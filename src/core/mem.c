/* SPDX-License-Identifier: MIT */
/*
 * Dying allocators and the panic path. Out of memory is not a condition MeshHook tries to survive
 * inside one request: it logs and aborts, and the supervisor restarts the process; durable state
 * lives in PostgreSQL, so nothing accepted is lost.
 */
#include "core/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

MH_NORETURN static void die_oom(size_t n)
{
    char msg[96];
    int len = snprintf(msg, sizeof(msg), "fatal: out of memory allocating %zu bytes\n", n);
    if (len > 0)
        (void)!write(STDERR_FILENO, msg, (size_t)len);
    abort();
}

void *mh_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        die_oom(n);
    return p;
}

void *mh_xcalloc(size_t count, size_t n)
{
    void *p = calloc(count ? count : 1, n ? n : 1);
    if (p == NULL)
        die_oom(count * n);
    return p;
}

void *mh_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        die_oom(n);
    return q;
}

char *mh_xstrdup(const char *s)
{
    return mh_xstrndup(s, strlen(s));
}

char *mh_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = mh_xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void mh_panic_at(const char *file, int line, const char *fmt, ...)
{
    char msg[512];
    int off = snprintf(msg, sizeof(msg), "panic: %s:%d: ", file, line);
    if (off < 0)
        off = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + off, sizeof(msg) - (size_t)off, fmt, ap);
    va_end(ap);
    size_t len = strlen(msg);
    if (len < sizeof(msg) - 1)
        msg[len++] = '\n';
    (void)!write(STDERR_FILENO, msg, len);
    abort();
}
