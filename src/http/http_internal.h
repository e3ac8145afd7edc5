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

#endif
