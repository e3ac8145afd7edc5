/* SPDX-License-Identifier: MIT */
/*
 * URI reference resolution (RFC 3986 section 5.2) for $id and $ref. A schema's resources are
 * keyed by absolute URI, so "item.json#/$defs/x" inside a resource whose $id is
 * "https://example.com/root.json" must become "https://example.com/item.json#/$defs/x" before
 * it can be looked up. Nothing here fetches anything.
 */
#include "schema/schema_internal.h"

#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

struct uri {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_n, auth_n, path_n, query_n, frag_n;
    bool has_scheme, has_auth, has_query, has_frag;
};

static void uri_split(const char *s, struct uri *u);
static void remove_dot_segments(const char *in, size_t n, struct mh_buf *out);

static void pop_segment(struct mh_buf *out);

/* Splits like the regular expression of RFC 3986 Appendix B. */
static void uri_split(const char *s, struct uri *u)
{
    memset(u, 0, sizeof(*u));
    size_t n = strlen(s), i = 0, k = 0;
    while (k < n && s[k] != ':' && s[k] != '/' && s[k] != '?' && s[k] != '#')
        k++;
    if (k > 0 && k < n && s[k] == ':') {
        u->has_scheme = true;
        u->scheme = s;
        u->scheme_n = k;
        i = k + 1;
    }
    if (i + 1 < n && s[i] == '/' && s[i + 1] == '/') {
        size_t e = i + 2;
        while (e < n && s[e] != '/' && s[e] != '?' && s[e] != '#')
            e++;
        u->has_auth = true;
        u->auth = s + i + 2;
        u->auth_n = e - (i + 2);
        i = e;
    }
    size_t p = i;
    while (i < n && s[i] != '?' && s[i] != '#')
        i++;
    u->path = s + p;
    u->path_n = i - p;
    if (i < n && s[i] == '?') {
        size_t q = ++i;
        while (i < n && s[i] != '#')
            i++;
        u->has_query = true;
        u->query = s + q;
        u->query_n = i - q;
    }
    if (i < n && s[i] == '#') {
        u->has_frag = true;
        u->frag = s + i + 1;
        u->frag_n = n - i - 1;
    }
}

/* Drops the last segment (and its '/') already written to `out`. */
static void pop_segment(struct mh_buf *out)
{
    const char *d = mh_buf_str(out);
    size_t n = mh_buf_len(out);
    while (n > 0 && d[n - 1] != '/')
        n--;
    if (n > 0)
        n--;
    char *tmp = mh_xstrndup(d, n);
    mh_buf_reset(out);
    MH_ASSERT(mh_buf_append(out, tmp, n) == MH_OK);
    free(tmp);
}

/* RFC 3986 section 5.2.4. */
static void remove_dot_segments(const char *in, size_t n, struct mh_buf *out)
{
    size_t i = 0;
    while (i < n) {
        const char *p = in + i;
        size_t r = n - i;
        if (r >= 3 && memcmp(p, "../", 3) == 0) {
            i += 3;
        } else if (r >= 2 && memcmp(p, "./", 2) == 0) {
            i += 2;
        } else if (r >= 3 && memcmp(p, "/./", 3) == 0) {
            i += 2;
        } else if (r == 2 && memcmp(p, "/.", 2) == 0) {
            MH_ASSERT(mh_buf_append(out, "/", 1) == MH_OK);
            i += 2;
        } else if (r >= 4 && memcmp(p, "/../", 4) == 0) {
            pop_segment(out);
            i += 3;
        } else if (r == 3 && memcmp(p, "/..", 3) == 0) {
            pop_segment(out);
            MH_ASSERT(mh_buf_append(out, "/", 1) == MH_OK);
            i += 3;
        } else if ((r == 1 && p[0] == '.') || (r == 2 && memcmp(p, "..", 2) == 0)) {
            i = n;
        } else {
            size_t e = i + (p[0] == '/' ? 1 : 0);
            while (e < n && in[e] != '/')
                e++;
            MH_ASSERT(mh_buf_append(out, in + i, e - i) == MH_OK);
            i = e;
        }
    }
}

char *mh_schema__uri_resolve(struct mh_arena *arena, const char *base, const char *ref)
{
    struct uri b, r;
    struct mh_buf path, out;
    uri_split(base, &b);
    uri_split(ref, &r);
    mh_buf_init(&path, (size_t)-1 / 4);
    mh_buf_init(&out, (size_t)-1 / 4);

    const struct uri *scheme_from = r.has_scheme ? &r : &b;
    const struct uri *auth_from, *query_from;
    if (r.has_scheme || r.has_auth) {
        auth_from = &r;
        query_from = &r;
        remove_dot_segments(r.path, r.path_n, &path);
    } else {
        auth_from = &b;
        if (r.path_n == 0) {
            MH_ASSERT(mh_buf_append(&path, b.path, b.path_n) == MH_OK);
            query_from = r.has_query ? &r : &b;
        } else {
            query_from = &r;
            if (r.path[0] == '/') {
                remove_dot_segments(r.path, r.path_n, &path);
            } else {
                /* Merge: the base path up to its last '/', then the reference's path. */
                struct mh_buf merged;
                mh_buf_init(&merged, (size_t)-1 / 4);
                if (b.has_auth && b.path_n == 0) {
                    MH_ASSERT(mh_buf_append(&merged, "/", 1) == MH_OK);
                } else {
                    size_t keep = b.path_n;
                    while (keep > 0 && b.path[keep - 1] != '/')
                        keep--;
                    MH_ASSERT(mh_buf_append(&merged, b.path, keep) == MH_OK);
                }
                MH_ASSERT(mh_buf_append(&merged, r.path, r.path_n) == MH_OK);
                remove_dot_segments(mh_buf_str(&merged), mh_buf_len(&merged), &path);
                mh_buf_cleanup(&merged);
            }
        }
    }

    if (scheme_from->has_scheme) {
        MH_ASSERT(mh_buf_append(&out, scheme_from->scheme, scheme_from->scheme_n) == MH_OK);
        MH_ASSERT(mh_buf_append(&out, ":", 1) == MH_OK);
    }
    if (auth_from->has_auth) {
        MH_ASSERT(mh_buf_append(&out, "//", 2) == MH_OK);
        MH_ASSERT(mh_buf_append(&out, auth_from->auth, auth_from->auth_n) == MH_OK);
    }
    MH_ASSERT(mh_buf_append(&out, mh_buf_str(&path), mh_buf_len(&path)) == MH_OK);
    if (query_from->has_query) {
        MH_ASSERT(mh_buf_append(&out, "?", 1) == MH_OK);
        MH_ASSERT(mh_buf_append(&out, query_from->query, query_from->query_n) == MH_OK);
    }
    if (r.has_frag) {
        MH_ASSERT(mh_buf_append(&out, "#", 1) == MH_OK);
        MH_ASSERT(mh_buf_append(&out, r.frag, r.frag_n) == MH_OK);
    }
    char *res = mh_arena_strndup(arena, mh_buf_str(&out), mh_buf_len(&out));
    mh_buf_cleanup(&path);
    mh_buf_cleanup(&out);
    return res;
}
