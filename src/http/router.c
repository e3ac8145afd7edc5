/* SPDX-License-Identifier: MIT */
/*
 * Path routing: a linear scan of a small route table, segment by segment, without allocating
 * unless a parameter is captured. Linear is right here: the table has tens of rows, and the hot
 * path (/hooks/:id) is first.
 */
#include "http/http_internal.h"

#include <string.h>

static bool method_matches(const char *route_method, const char *method)
{
    if (strcmp(route_method, "*") == 0 || strcmp(route_method, method) == 0)
        return true;
    return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* Matches `pattern` against `path`, capturing parameters into `m`. */
static bool pattern_matches(const char *pattern, const char *path, struct mh_arena *arena,
                            struct mh_http__match *m)
{
    const char *p = pattern, *s = path;
    m->nparams = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return false;
        p++;
        s++;
        const char *pe = strchr(p, '/');
        size_t plen = pe ? (size_t)(pe - p) : strlen(p);
        const char *se = strchr(s, '/');
        size_t slen = se ? (size_t)(se - s) : strlen(s);
        if (plen > 0 && p[0] == '*') {
            if (m->nparams == MH_HTTP__MAX_PARAMS)
                return false;
            m->names[m->nparams] = p + 1;
            m->name_lens[m->nparams] = plen - 1;
            m->values[m->nparams++] = mh_arena_strdup(arena, s);
            return true;
        }
        if (plen > 0 && p[0] == ':') {
            if (slen == 0 || m->nparams == MH_HTTP__MAX_PARAMS)
                return false;
            m->names[m->nparams] = p + 1;
            m->name_lens[m->nparams] = plen - 1;
            m->values[m->nparams++] = mh_arena_strndup(arena, s, slen);
        } else if (plen != slen || strncmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    /* A trailing slash on the request is tolerated. */
    if (*p == '\0' && (*s == '\0' || strcmp(s, "/") == 0))
        return true;
    return false;
}

int mh_http__route(const struct mh_http_route *routes, size_t n, const char *method,
                   const char *path, struct mh_arena *arena, struct mh_http__match *m)
{
    bool path_seen = false;
    m->allow[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!pattern_matches(routes[i].pattern, path, arena, m))
            continue;
        if (method_matches(routes[i].method, method)) {
            m->route = &routes[i];
            return 200;
        }
        path_seen = true;
        size_t used = strlen(m->allow);
        if (strstr(m->allow, routes[i].method) == NULL && used + 12 < sizeof(m->allow))
            snprintf(m->allow + used, sizeof(m->allow) - used, "%s%s", used ? ", " : "",
                     routes[i].method);
    }
    m->route = NULL;
    m->nparams = 0;
    return path_seen ? 405 : 404;
}
