/* SPDX-License-Identifier: MIT */
/*
 * A region allocator for one request or one job step (h2o's req->pool, PostgreSQL's
 * MessageContext). Scratch allocations live until mh_arena_reset; foreign resources (a PGresult,
 * a json_t) are released at reset through mh_arena_defer. Nothing longer-lived may point into an
 * arena. An arena is used by one thread at a time.
 */
#ifndef MH_CORE_ARENA_H
#define MH_CORE_ARENA_H

#include <stddef.h>

struct mh_arena;

typedef void (*mh_arena_cleanup_fn)(void *p);

/* New arena; never NULL (dies on OOM). */
struct mh_arena *mh_arena_create(void);
/* Runs deferred cleanups (last registered first) and frees everything; NULL-tolerant. */
void mh_arena_destroy(struct mh_arena *a);
/* Runs deferred cleanups and forgets all allocations, keeping the first block for reuse. */
void mh_arena_reset(struct mh_arena *a);

/* Memory valid until reset/destroy, aligned for any type; never NULL. */
void *mh_arena_alloc(struct mh_arena *a, size_t n);
void *mh_arena_calloc(struct mh_arena *a, size_t n);
char *mh_arena_strdup(struct mh_arena *a, const char *s);
char *mh_arena_strndup(struct mh_arena *a, const char *s, size_t n);
char *mh_arena_printf(struct mh_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Registers `fn(p)` to run at reset/destroy. */
void mh_arena_defer(struct mh_arena *a, mh_arena_cleanup_fn fn, void *p);

#endif
