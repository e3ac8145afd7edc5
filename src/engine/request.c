/* SPDX-License-Identifier: MIT */
/*
 * From a recorded http_call request to the request as sent. The event log holds each request
 * with its `{{secrets.NAME}}` placeholders still literal and, beside it, where rendering put
 * each of them ("placeholders", byte spans into each string). The sender replaces exactly those
 * spans and nothing else: a value from the data that happens to read `{{secrets.X}}`, alone or
 * next to another value, is sent as the text it is. This file does that replacement, appends the
 * query and checks header values once secrets are in them. Its outputs hold secret values and
 * are wiped when released.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

/* The sender's buffers: as large as a rendered request may be, plus room for secret values. */
#define MAX_RESOLVED_BYTES (64u * 1024u * 1024u)

static bool span_get(json_t *span, size_t len, size_t *start, size_t *end, const char **name);
static enum mh_err splice(const char *s, size_t len, json_t *spans, json_t *names, json_t *values,
                          const char *what, char **out, size_t *out_len, struct mh_err_info *info);
static void free_secret(char *p, size_t len);

/* Reads [start, end, name]: a span inside `len` bytes. */
static bool span_get(json_t *span, size_t len, size_t *start, size_t *end, const char **name)
{
    json_t *s = json_array_get(span, 0), *e = json_array_get(span, 1);
    *name = json_string_value(json_array_get(span, 2));
    if (json_array_size(span) != 3 || !json_is_integer(s) || !json_is_integer(e) || *name == NULL)
        return false;
    json_int_t a = json_integer_value(s), b = json_integer_value(e);
    if (a < 0 || b < a || (uint64_t)b > len)
        return false;
    *start = (size_t)a;
    *end = (size_t)b;
    return true;
}

/*
 * Replaces the spans of `s` (sorted, disjoint, each still reading "{{...}}", each naming a secret
 * of `names`) by the values of `values`. `what` names the field in messages; no message holds
 * a value.
 */
static enum mh_err splice(const char *s, size_t len, json_t *spans, json_t *names, json_t *values,
                          const char *what, char **out, size_t *out_len, struct mh_err_info *info)
{
    size_t i, start, end, prev = 0, total = len;
    const char *name;
    json_t *span;
    *out = NULL;
    *out_len = 0;
    if (spans != NULL && !json_is_array(spans))
        goto bad;
    json_array_foreach(spans, i, span)
    {
        if (!span_get(span, len, &start, &end, &name) || start < prev || end - start < 4 ||
            memcmp(s + start, "{{", 2) != 0 || memcmp(s + end - 2, "}}", 2) != 0)
            goto bad;
        bool listed = false;
        for (size_t k = 0; k < json_array_size(names) && !listed; k++)
            listed = strcmp(json_string_value(json_array_get(names, k)), name) == 0;
        json_t *v = json_object_get(values, name);
        if (!listed || !json_is_string(v))
            return mh_err_set(info, MH_EINVAL, "secret", -1, "secret %s is not available", name);
        total = total - (end - start) + json_string_length(v);
        prev = end;
    }
    if (total > MAX_RESOLVED_BYTES)
        return mh_err_set(info, MH_ETOOBIG, "limit", -1,
                          "the %s exceeds %u bytes once its "
                          "secrets are inserted",
                          what, MAX_RESOLVED_BYTES);
    /* Exactly one allocation, so no copy of a secret value is left behind by a realloc. */
    char *o = mh_xmalloc(total + 1);
    size_t n = 0;
    prev = 0;
    json_array_foreach(spans, i, span)
    {
        bool is_span = span_get(span, len, &start, &end, &name);
        MH_ASSERT(is_span); /* checked by the first pass */
        json_t *v = json_object_get(values, name);
        memcpy(o + n, s + prev, start - prev);
        n += start - prev;
        memcpy(o + n, json_string_value(v), json_string_length(v));
        n += json_string_length(v);
        prev = end;
    }
    memcpy(o + n, s + prev, len - prev);
    n += len - prev;
    MH_ASSERT(n == total);
    o[n] = '\0';
    *out = o;
    *out_len = n;
    return MH_OK;
bad:
    return mh_err_set(info, MH_EINVAL, "invalid_request", -1,
                      "the recorded placeholders of the %s do not match its text", what);
}

static void free_secret(char *p, size_t len)
{
    if (p != NULL)
        mh_crypto_free_secret(p, len);
}

enum mh_err mh_engine_request_resolve(json_t *request, json_t *values, size_t spare_lines,
                                      struct mh_engine_wire *out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *names = json_object_get(request, "secrets");
    json_t *ph = json_object_get(request, "placeholders");
    json_t *headers = json_object_get(request, "headers");
    json_t *query = json_object_get(request, "query");
    json_t *body = json_object_get(request, "body");
    json_t *url = json_object_get(request, "url");
    char *v = NULL, what[320];
    size_t vlen = 0;
    struct mh_buf u;
    mh_buf_init(&u, MAX_RESOLVED_BYTES);
    memset(out, 0, sizeof(*out));
    if (json_array_size(names) > 0 && !json_is_object(ph)) {
        rc = mh_err_set(info, MH_EINVAL, "invalid_request", -1,
                        "this request was recorded by an older MeshHook that did not record "
                        "where its secret placeholders are; resume the run from this step to "
                        "render it again");
        goto out;
    }
    if (!json_is_string(url)) {
        rc = mh_err_set(info, MH_EINVAL, "invalid_request", -1, "the request has no url");
        goto out;
    }

    /* The url, then the query before any fragment. */
    rc = splice(json_string_value(url), json_string_length(url), json_object_get(ph, "url"), names,
                values, "url", &v, &vlen, info);
    if (rc != MH_OK)
        goto out;
    MH_ASSERT(v != NULL);
    const char *hash = memchr(v, '#', vlen);
    size_t base_len = hash ? (size_t)(hash - v) : vlen;
    bool first = memchr(v, '?', base_len) == NULL;
    rc = mh_buf_reserve(&u, vlen + 256);
    if (rc == MH_OK)
        rc = mh_buf_append(&u, v, base_len);
    const char *qk;
    json_t *qv;
    json_object_foreach(query, qk, qv)
    {
        char *q = NULL;
        size_t qlen = 0;
        snprintf(what, sizeof(what), "query parameter %.256s", qk);
        if (rc == MH_OK)
            rc = splice(json_is_string(qv) ? json_string_value(qv) : "",
                        json_is_string(qv) ? json_string_length(qv) : 0,
                        json_object_get(json_object_get(ph, "query"), qk), names, values, what, &q,
                        &qlen, info);
        if (rc == MH_OK)
            rc = mh_buf_append(&u, first ? "?" : "&", 1);
        first = false;
        if (rc == MH_OK)
            rc = mh_engine__url_encode(&u, qk, strlen(qk), MH_URL_ENCODE_VALUE);
        if (rc == MH_OK)
            rc = mh_buf_append(&u, "=", 1);
        if (rc == MH_OK)
            rc = mh_engine__url_encode(&u, q, qlen, MH_URL_ENCODE_VALUE);
        free_secret(q, qlen);
    }
    if (rc == MH_OK)
        rc = mh_buf_append(&u, v + base_len, vlen - base_len);
    if (rc != MH_OK)
        goto out;
    out->url = mh_buf_steal(&u, NULL);

    /* Header lines; a value must stay one line once its secrets are in. */
    out->lines = mh_xcalloc(json_object_size(headers) + spare_lines + 1, sizeof(char *));
    const char *hk;
    json_t *hv;
    json_object_foreach(headers, hk, hv)
    {
        char *h = NULL;
        size_t hlen = 0;
        snprintf(what, sizeof(what), "header %.256s", hk);
        rc = splice(json_is_string(hv) ? json_string_value(hv) : "",
                    json_is_string(hv) ? json_string_length(hv) : 0,
                    json_object_get(json_object_get(ph, "headers"), hk), names, values, what, &h,
                    &hlen, info);
        if (rc != MH_OK)
            goto out;
        if (!mh_engine__header_value_ok(h, hlen)) {
            free_secret(h, hlen);
            rc = mh_err_set(info, MH_EINVAL, "invalid_request", -1,
                            "the value of header %s contains a line break or another control "
                            "character once its secrets are inserted",
                            hk);
            goto out;
        }
        size_t n = strlen(hk) + hlen + 3;
        char *line = mh_xmalloc(n);
        snprintf(line, n, "%s: %s", hk, h);
        free_secret(h, hlen);
        out->lines[out->n_lines++] = line;
    }

    if (json_is_string(body)) {
        rc = splice(json_string_value(body), json_string_length(body), json_object_get(ph, "body"),
                    names, values, "body", &out->body, &out->body_len, info);
        if (rc != MH_OK)
            goto out;
    }
out:
    free_secret(v, vlen);
    if (rc != MH_OK)
        mh_engine_wire_cleanup(out);
    mh_crypto_wipe((char *)mh_buf_str(&u), mh_buf_len(&u));
    mh_buf_cleanup(&u);
    return rc;
}

bool mh_engine_request_origin_is_secret(json_t *request, char *shown, size_t cap)
{
    const char *url = json_string_value(json_object_get(request, "url"));
    json_t *spans = json_object_get(json_object_get(request, "placeholders"), "url");
    if (url == NULL || json_array_size(spans) == 0)
        return false;
    const char *auth = strstr(url, "://");
    auth = auth ? auth + 3 : url;
    size_t end = (size_t)(auth - url) + strcspn(auth, "/?#");
    bool is_secret = false;
    size_t i;
    json_t *span;
    json_array_foreach(spans, i, span)
    {
        json_int_t start = json_integer_value(json_array_get(span, 0));
        is_secret = is_secret || (start >= 0 && (size_t)start < end);
    }
    if (is_secret && shown != NULL && cap > 0)
        snprintf(shown, cap, "%.*s", (int)(end < cap ? end : cap - 1), url);
    return is_secret;
}

void mh_engine_wire_cleanup(struct mh_engine_wire *w)
{
    if (w == NULL)
        return;
    mh_crypto_free_secret_str(w->url);
    for (size_t i = 0; w->lines && w->lines[i]; i++)
        mh_crypto_free_secret_str(w->lines[i]);
    free(w->lines);
    free_secret(w->body, w->body_len);
    memset(w, 0, sizeof(*w));
}

bool mh_engine__header_value_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}
