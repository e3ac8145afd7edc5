/* SPDX-License-Identifier: MIT */
/* Private to http. */
#ifndef MH_HTTP_INTERNAL_H
#define MH_HTTP_INTERNAL_H

#include "http/http.h"

#define MH_HTTP__MAX_PARAMS 8

struct mh_http__match {
    const struct mh_http_route *route;
    int nparams;
    const char *names[MH_HTTP__MAX_PARAMS];
    size_t name_lens[MH_HTTP__MAX_PARAMS];
    char *values[MH_HTTP__MAX_PARAMS];
    char allow[128]; /* methods of routes whose pattern matched, for 405 */
};

/* Finds the first route matching `method` and `path`. Returns 200 when found (values are
 * allocated in `arena`), 405 when only the method differs, 404 otherwise. HEAD matches GET. */
int mh_http__route(const struct mh_http_route *routes, size_t n, const char *method,
                   const char *path, struct mh_arena *arena, struct mh_http__match *m);

/* The handler pool (handler_pool.c): `nthreads` threads running submitted tasks in order. */
struct mh_http__pool;
MH_MUSTCHECK enum mh_err mh_http__pool_create(int nthreads, struct mh_http__pool **out,
                                              struct mh_err_info *info);
/* Queues fn(arg); false (fn is not called) once the pool is stopping. */
bool mh_http__pool_submit(struct mh_http__pool *p, void (*fn)(void *arg), void *arg);
/* Refuses new tasks, runs every task already submitted, and joins the threads. Idempotent,
 * NULL-tolerant; the pool stays allocated (submissions keep returning false) until destroyed. */
void mh_http__pool_stop(struct mh_http__pool *p);
/* Stops the pool if it is not stopped yet, and frees it. NULL-tolerant. */
void mh_http__pool_destroy(struct mh_http__pool *p);

/* Trusted reverse proxies (proxy.c). */
struct mh_http__proxies;
/* Parses the trusted_proxies setting (comma-separated addresses and CIDR ranges, IPv4 or IPv6)
 * into *out (NULL when the list is empty). MH_EINVAL names the bad entry. */
MH_MUSTCHECK enum mh_err mh_http__proxies_parse(const char *list, struct mh_http__proxies **out,
                                                struct mh_err_info *info);
void mh_http__proxies_destroy(struct mh_http__proxies *p);
/* True when the address `addr` (text) is one of the trusted proxies. NULL-tolerant. */
bool mh_http__proxies_trust(const struct mh_http__proxies *p, const char *addr);
/* The client a trusted peer forwarded for: the rightmost X-Forwarded-For entry (`xff`, every
 * header's values joined with commas) that is not itself a trusted proxy, written to `out` in
 * canonical text. False (out untouched) when `xff` ends with no address. */
bool mh_http__proxies_client(const struct mh_http__proxies *p, const char *xff, char *out,
                             size_t cap);

#endif
