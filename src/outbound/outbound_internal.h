/* SPDX-License-Identifier: MIT */
/*
 * Private to outbound. The per-tenant, per-origin circuit breakers (breaker.c), the SSRF
 * allow-lists (target.c) and the origin parser shared by the executor (outbound.c) and the
 * breaker introspection.
 */
#ifndef MH_OUTBOUND_OUTBOUND_INTERNAL_H
#define MH_OUTBOUND_OUTBOUND_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "outbound/outbound.h"

/* "scheme://host:port" fits in this many bytes, or the URL is refused. */
#define MH_OUTBOUND__ORIGIN_MAX 320
/* A breaker's key: the tenant, "@", the origin. */
#define MH_OUTBOUND__KEY_MAX (MH_OUTBOUND_TENANT_MAX + 1 + MH_OUTBOUND__ORIGIN_MAX)

/* FNV-1a of a NUL-terminated string, for the executor's and the breakers' hash tables. */
uint64_t mh_outbound__hash(const char *s);

/* A compiled allow-list (target.c); immutable, so any thread may read it. */
struct mh_outbound__allow;

/*
 * Compiles `list` (mh_outbound_allowlist_check's format). *out is new, or NULL for an empty or
 * NULL list; release it with mh_outbound__allow_destroy. MH_EINVAL on a bad entry (`info` and
 * *bad_index, both optional, say which).
 */
MH_MUSTCHECK enum mh_err mh_outbound__allow_compile(const char *list,
                                                    struct mh_outbound__allow **out,
                                                    size_t *bad_index, struct mh_err_info *info);
/* NULL-tolerant. */
void mh_outbound__allow_destroy(struct mh_outbound__allow *a);
/* True when `a` (NULL: an empty list) lets a request whose URL names `host` (may be NULL)
 * connect to the blocked address `addr` of `family`. */
bool mh_outbound__allow_permits(const struct mh_outbound__allow *a, const char *host, int family,
                                const uint8_t *addr);

/* The table of breakers; its own mutex makes every call below thread-safe. */
struct mh_outbound__breakers;

/* How a finished transfer counts for its breaker. Breaker keys are MH_OUTBOUND__KEY_MAX bytes at
 * most: "tenant@origin". */
enum mh_outbound__verdict {
    MH_OUTBOUND__NEUTRAL = 0, /* says nothing about the host (canceled, refused locally) */
    MH_OUTBOUND__SUCCESS,     /* a response other than 5xx */
    MH_OUTBOUND__FAILURE,     /* timeout, connection, DNS or TLS failure, or a 5xx */
};

/* New table; never NULL (dies on OOM). `threshold` >= 1 failures open a breaker for `open_ms`.
 * `on_change` (optional) is told of openings and closings (mh_outbound_breaker_fn). */
struct mh_outbound__breakers *mh_outbound__breakers_create(int threshold, int64_t open_ms,
                                                           mh_outbound_breaker_fn on_change,
                                                           void *ctx);
/* NULL-tolerant. */
void mh_outbound__breakers_destroy(struct mh_outbound__breakers *b);

/*
 * Decides whether a request under breaker `key` may be sent at `now_ms` (CLOCK_MONOTONIC). True to
 * send; *is_probe is then true when this request is the one half-open probe, and the caller must
 * report its verdict with is_probe set. False to refuse: *retry_in_ms is how long until a
 * request may pass (the rest of the open period, or a whole open period while a probe is out).
 */
bool mh_outbound__breaker_admit(struct mh_outbound__breakers *b, const char *key, int64_t now_ms,
                                bool *is_probe, int64_t *retry_in_ms);

/* Records the verdict of a transfer that mh_outbound__breaker_admit let through. `is_hidden`:
 * the key's origin holds a secret (logs and transition reports show
 * MH_OUTBOUND_HIDDEN_ORIGIN instead). */
void mh_outbound__breaker_report(struct mh_outbound__breakers *b, const char *key, bool is_probe,
                                 enum mh_outbound__verdict verdict, int64_t now_ms, bool is_hidden);

/* "closed", "open" or "half_open" at `now_ms`; static. */
const char *mh_outbound__breaker_state(struct mh_outbound__breakers *b, const char *key,
                                       int64_t now_ms);

/*
 * Writes the breaker key of `url` ("scheme://host:port", lowercased, default port filled in)
 * into `out` of MH_OUTBOUND__ORIGIN_MAX bytes. MH_EINVAL unless `url` is an absolute http or
 * https URL with a host.
 */
MH_MUSTCHECK enum mh_err mh_outbound__origin(const char *url, char *out);

#endif
