/* SPDX-License-Identifier: MIT */
/*
 * Bump allocation in a chain of blocks. Large requests get a block of their own so a single big
 * allocation does not waste the tail of a shared block.
 */
#include "core/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define BLOCK_SIZE 8192
#define ALIGN      16

struct block {
    struct block *next;
    size_t used;
    size_t cap;
    _Alignas(ALIGN) unsigned char data[];
};

struct deferred {
    struct deferred *next;
    mh_arena_cleanup_fn fn;
    void *p;
};

struct mh_arena {
    struct block *head;
    struct deferred *defers;
};

static struct block *block_new(size_t cap)
{
    struct block *b = mh_xmalloc(sizeof(*b) + cap);
    b->next = NULL;
    b->used = 0;
    b->cap = cap;
    return b;
}

struct mh_arena *mh_arena_create(void)
{
    struct mh_arena *a = mh_xcalloc(1, sizeof(*a));
    a->head = block_new(BLOCK_SIZE);
    return a;
}

static void run_defers(struct mh_arena *a)
{
    while (a->defers) {
        struct deferred *d = a->defers;
        a->defers = d->next;
        d->fn(d->p);
    }
}

void mh_arena_reset(struct mh_arena *a)
{
    run_defers(a);
    struct block *b = a->head;
    /* Keep the last (oldest, standard-sized) block; free the rest. */
    while (b && b->next) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    a->head = b;
    if (b)
        b->used = 0;
}

void mh_arena_destroy(struct mh_arena *a)
{
    if (a == NULL)
        return;
    run_defers(a);
    struct block *b = a->head;
    while (b) {
        struct block *n = b->next;
        free(b);
        b = n;
    }
    free(a);
}

void *mh_arena_alloc(struct mh_arena *a, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    struct block *b = a->head;
    if (b->cap - b->used < n) {
        if (n > BLOCK_SIZE / 4) {
            /* A dedicated block, linked behind the head so the head keeps serving. */
            struct block *big = block_new(n);
            big->used = n;
            big->next = b->next;
            b->next = big;
            return big->data;
        }
        b = block_new(BLOCK_SIZE);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

void *mh_arena_calloc(struct mh_arena *a, size_t n)
{
    void *p = mh_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *mh_arena_strndup(struct mh_arena *a, const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = mh_arena_alloc(a, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *mh_arena_strdup(struct mh_arena *a, const char *s)
{
    return mh_arena_strndup(a, s, SIZE_MAX);
}

char *mh_arena_printf(struct mh_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = mh_arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void mh_arena_defer(struct mh_arena *a, mh_arena_cleanup_fn fn, void *p)
{
    struct deferred *d = mh_arena_alloc(a, sizeof(*d));
    d->fn = fn;
    d->p = p;
    d->next = a->defers;
    a->defers = d;
}
