/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the router (src/http/router.c) with the server's real route table:
 * any method and path must give 200, 404 or 405 without a crash, a leak or undefined behaviour,
 * and every answer must be consistent:
 *   - 200: the route's method admits the request's (exactly, "*", or GET for HEAD); each
 *     ":param" captured a non-empty segment without '/'; and putting the captured values back
 *     into the route's pattern gives the request's path again (a trailing '/' aside);
 *   - 405: some route's pattern matched, so `allow` names at least one method, none of which
 *     admits the request's;
 *   - 404 and 405: no route and no parameters are reported.
 *
 * Input: the method up to the first '\n', then the path (NUL bytes end it, as they would in
 * libmicrohttpd's C string). tests/unit/test_http_route_fuzz_corpus.c includes this file with
 * MH_FUZZ_NO_ENTRY defined and replays tests/fuzz/corpus/http_route/ through
 * mh_fuzz_http_route_one(), which returns the router's status.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "http/app.h"
#include "http/http_internal.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

static bool mh_fuzz_admits(const char *route_method, const char *method)
{
    return strcmp(route_method, "*") == 0 || strcmp(route_method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0);
}

/* The route's pattern with the captured values put back; NULL when it does not fit. */
static char *mh_fuzz_rebuild(const struct mh_http__match *m, size_t cap)
{
    char *out = malloc(cap);
    size_t o = 0;
    int param = 0;
    const char *p = m->route->pattern;
    while (*p) {
        const char *seg = p;
        size_t n = strcspn(p + 1, "/") + 1; /* "/name" */
        const char *piece = seg;
        size_t len = n;
        if (n > 1 && (seg[1] == ':' || seg[1] == '*')) {
            MH_FUZZ_CHECK(param < m->nparams);
            MH_FUZZ_CHECK(m->name_lens[param] == n - 2 &&
                          memcmp(m->names[param], seg + 2, n - 2) == 0);
            if (o + 1 >= cap) {
                free(out);
                return NULL;
            }
            out[o++] = '/';
            piece = m->values[param++];
            len = strlen(piece);
        }
        if (o + len >= cap) {
            free(out);
            return NULL;
        }
        memcpy(out + o, piece, len);
        o += len;
        p += n;
    }
    MH_FUZZ_CHECK(param == m->nparams);
    out[o] = '\0';
    return out;
}

int mh_fuzz_http_route_one(const uint8_t *data, size_t size);

int mh_fuzz_http_route_one(const uint8_t *data, size_t size)
{
    const uint8_t *nl = size ? memchr(data, '\n', size) : NULL;
    size_t mlen = nl ? (size_t)(nl - data) : 0;
    char *method = malloc(mlen + 1);
    if (mlen)
        memcpy(method, data, mlen);
    method[mlen] = '\0';
    size_t plen = nl ? size - mlen - 1 : size;
    char *path = malloc(plen + 1);
    if (plen)
        memcpy(path, nl ? nl + 1 : data, plen);
    path[plen] = '\0';

    struct mh_arena *arena = mh_arena_create();
    struct mh_http__match m;
    memset(&m, 0, sizeof(m));
    int st = mh_http__route(mh_app_routes, mh_app_routes_count, method, path, arena, &m);
    MH_FUZZ_CHECK(st == 200 || st == 404 || st == 405);
    if (st == 200) {
        MH_FUZZ_CHECK(m.route != NULL && mh_fuzz_admits(m.route->method, method));
        MH_FUZZ_CHECK(m.nparams >= 0 && m.nparams <= MH_HTTP__MAX_PARAMS);
        for (int i = 0; i < m.nparams; i++) {
            MH_FUZZ_CHECK(m.values[i] != NULL);
            if (m.names[i][-1] == ':')
                MH_FUZZ_CHECK(m.values[i][0] != '\0' && strchr(m.values[i], '/') == NULL);
        }
        char *again = mh_fuzz_rebuild(&m, strlen(path) + strlen(m.route->pattern) + 2);
        MH_FUZZ_CHECK(again != NULL);
        size_t alen = strlen(again), rlen = strlen(path);
        MH_FUZZ_CHECK(strcmp(again, path) == 0 ||
                      (rlen == alen + 1 && path[alen] == '/' && strncmp(again, path, alen) == 0));
        free(again);
    } else {
        MH_FUZZ_CHECK(m.route == NULL && m.nparams == 0);
        if (st == 405) {
            MH_FUZZ_CHECK(m.allow[0] != '\0');
            /* "GET, POST": every listed method is one the request's is not. */
            for (const char *tok = m.allow; *tok;) {
                size_t n = strcspn(tok, ",");
                char one[32];
                MH_FUZZ_CHECK(n > 0 && n < sizeof(one));
                memcpy(one, tok, n);
                one[n] = '\0';
                MH_FUZZ_CHECK(!mh_fuzz_admits(one, method));
                tok += n;
                if (*tok == ',')
                    tok += 2; /* ", " */
            }
        } else {
            MH_FUZZ_CHECK(m.allow[0] == '\0');
        }
    }
    mh_arena_destroy(arena);
    free(method);
    free(path);
    return st;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_http_route_one(data, size);
    return 0;
}
#endif
