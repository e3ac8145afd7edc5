/* SPDX-License-Identifier: MIT */
/*
 * Durable circuit-breaker transitions (docs/observability.md, "Breakers"). The outbound
 * executor's breakers live in memory; this module writes their openings and closings to the
 * breaker_events table (migration 0029), where the "breaker_opened" alert rule and the API read
 * them. Transitions are queued by the executor thread (mh_breakers_note: no I/O, a mutex and a
 * small allocation, once per transition, never per request) and written by a thread of this
 * module, one short transaction each, on the project's system path.
 *
 * Ownership: the pool and the server name are borrowed for the call that takes them; the
 * server name is copied.
 */
#ifndef MH_BREAKERS_BREAKERS_H
#define MH_BREAKERS_BREAKERS_H

#include <stdbool.h>

#include "core/err.h"
#include "db/db.h"

struct mh_breakers;

/* At most this many transitions wait to be written; beyond, new ones are dropped (and logged):
 * a database away for long must not grow the server's memory without bound. */
#define MH_BREAKERS_MAX_QUEUED 10000

/*
 * Starts the writer thread. `pool` must outlive the writer; `server` names this server in the
 * rows it writes (at most 100 bytes are kept). *out is new (mh_breakers_stop). Errors:
 * MH_EUNAVAILABLE when the thread cannot start.
 */
MH_MUSTCHECK enum mh_err mh_breakers_start(struct mh_db_pool *pool, const char *server,
                                           struct mh_breakers **out);

/*
 * Queues one transition, with the current time. The signature is mh_outbound_breaker_fn's, so
 * it is passed as the executor's on_breaker with the writer as its ctx. `tenant` is the project
 * id (a transition of another tenant, such as the unnamed one, is ignored); `origin` is
 * "scheme://host:port". Thread-safe, never blocks on I/O. `ctx` NULL: does nothing.
 */
void mh_breakers_note(void *ctx, const char *tenant, const char *origin, bool is_open,
                      int failures);

/*
 * Writes what is queued (trying for at most a few seconds when the database is away), stops the
 * thread and frees the writer. Call it after the executor whose transitions it takes is
 * destroyed. NULL-tolerant.
 */
void mh_breakers_stop(struct mh_breakers *b);

/* Writes what is queued now, on the caller's thread (tests). */
void mh_breakers_flush(struct mh_breakers *b);

#endif
