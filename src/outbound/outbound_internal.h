/* SPDX-License-Identifier: MIT */
/*
 * Private to outbound. The per-origin circuit breakers (breaker.c) and the origin parser shared
 * by the executor (outbound.c) and the breaker introspection.
 */
#ifndef MH_OUTBOUND_OUTBOUND_INTERNAL_H
#define MH_OUTBOUND_OUTBOUND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* "scheme://host:port" fits in this many bytes, or the URL is refused. */
#define MH_OUTBOUND__ORIGIN_MAX 320

/* The table of breakers; its own mutex makes every call below thread-safe. */
struct mh_outbound__breakers;

/* How a finished transfer counts for its origin's breaker. */
enum mh_outbound__verdict {
    MH_OUTBOUND__NEUTRAL = 0, /* says nothing about the host (canceled, refused locally) */
    MH_OUTBOUND__SUCCESS,     /* a response other than 5xx */
    MH_OUTBOUND__FAILURE,     /* timeout, connection, DNS or TLS failure, or a 5xx */
};

/* New table; never NULL (dies on OOM). `threshold` >= 1 failures open a breaker for `open_ms`. */
struct mh_outbound__breakers *mh_outbound__breakers_create(int threshold, int64_t open_ms);
/* NULL-tolerant. */
void mh_outbound__breakers_destroy(struct mh_outbound__breakers *b);

/*
 * Decides whether a request to `origin` may be sent at `now_ms` (CLOCK_MONOTONIC). True to send;
 * *is_probe is then true when this request is the one half-open probe, and the caller must
 * report its verdict with is_probe set. False to refuse: *retry_in_ms is how long until a
 * request may pass (the rest of the open period, or a whole open period while a probe is out).
 */
bool mh_outbound__breaker_admit(struct mh_outbound__breakers *b, const char *origin, int64_t now_ms,
                                bool *is_probe, int64_t *retry_in_ms);

/* Records the verdict of a transfer that mh_outbound__breaker_admit let through. */
void mh_outbound__breaker_report(struct mh_outbound__breakers *b, const char *origin, bool is_probe,
                                 enum mh_outbound__verdict verdict, int64_t now_ms);

/* "closed", "open" or "half_open" at `now_ms`; static. */
const char *mh_outbound__breaker_state(struct mh_outbound__breakers *b, const char *origin,
                                       int64_t now_ms);

/*
 * Writes the breaker key of `url` ("scheme://host:port", lowercased, default port filled in)
 * into `out` of MH_OUTBOUND__ORIGIN_MAX bytes. MH_EINVAL unless `url` is an absolute http or
 * https URL with a host.
 */
MH_MUSTCHECK enum mh_err mh_outbound__origin(const char *url, char *out);

#endif
