/* SPDX-License-Identifier: MIT */
/*
 * Credential-bearing HTTP headers: which names carry a shared secret, a session or a signature,
 * and a walker that masks their values wherever a "headers" object appears in a document. The
 * intake drops such values before recording a delivery, and every API read path masks them
 * again, so a value recorded before a name was known to be secret is never shown either. The
 * rule is by name, not by value: a token has no recognisable shape, its header does.
 */
#include "redact/redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* Beyond this depth a document is not walked further (mh_redact_json caps its own at 512). */
#define MAX_DEPTH 512u

/* Whole words (between '-' or '_') that make a header name secret wherever they appear. */
static const char *const secret_words[] = {
    "authorization", "cookie", "token",  "signature", "secret",
    "password",      "passwd", "apikey", "hmac",
};
/* Words that make "<word>-key" or "<word>_key" secret ("x-api-key", "secret-key"); a bare
 * "-key" is not enough: Idempotency-Key is an identifier the log must show. */
static const char *const key_qualifiers[] = {"api",  "access", "secret", "private",
                                             "auth", "client", "signing"};

static bool word_in(const char *w, size_t n, const char *const *list, size_t count);
static bool has_secret_header(json_t *v, unsigned depth);
static void mask_in_place(json_t *v, unsigned depth, size_t *count);

static bool word_in(const char *w, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && strncasecmp(w, list[i], n) == 0)
            return true;
    return false;
}

bool mh_redact_header_is_secret(const char *name)
{
    if (name == NULL)
        return false;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "-_");
        if (word_in(p, n, secret_words, MH_ARRAY_LEN(secret_words)))
            return true;
        if (prev && n == 3 && strncasecmp(p, "key", 3) == 0 &&
            word_in(prev, prev_len, key_qualifiers, MH_ARRAY_LEN(key_qualifiers)))
            return true;
        prev = p;
        prev_len = n;
        p += n;
        if (*p)
            p++;
    }
    return false;
}

/* True when some "headers" object inside `v` holds a secret header with a value not yet
 * masked. */
static bool has_secret_header(json_t *v, unsigned depth)
{
    if (depth > MAX_DEPTH)
        return false;
    const char *k;
    json_t *m;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m)
        {
            if (strcasecmp(k, "headers") == 0 && json_is_object(m)) {
                const char *hk;
                json_t *hv;
                json_object_foreach(m, hk, hv)
                {
                    if (mh_redact_header_is_secret(hk) &&
                        !(json_is_string(hv) &&
                          strcmp(json_string_value(hv), MH_REDACT_HEADER_MASK) == 0))
                        return true;
                }
            }
            if (has_secret_header(m, depth + 1))
                return true;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            if (has_secret_header(m, depth + 1))
                return true;
        }
    }
    return false;
}

static void mask_in_place(json_t *v, unsigned depth, size_t *count)
{
    if (depth > MAX_DEPTH)
        return;
    const char *k;
    json_t *m;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach(v, k, m)
        {
            if (strcasecmp(k, "headers") == 0 && json_is_object(m)) {
                const char *hk;
                json_t *hv;
                json_object_foreach(m, hk, hv)
                {
                    if (mh_redact_header_is_secret(hk) &&
                        !(json_is_string(hv) &&
                          strcmp(json_string_value(hv), MH_REDACT_HEADER_MASK) == 0)) {
                        json_object_set_new(m, hk, json_string(MH_REDACT_HEADER_MASK));
                        (*count)++;
                    }
                }
            }
            mask_in_place(m, depth + 1, count);
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            mask_in_place(m, depth + 1, count);
        }
    }
}

json_t *mh_redact_headers_json(json_t *in, size_t *count)
{
    size_t n = 0;
    json_t *out;
    /* Most documents hold no secret header: share them instead of copying. */
    if (in == NULL || !has_secret_header(in, 0)) {
        out = json_incref(in);
    } else {
        out = json_deep_copy(in);
        if (out == NULL)
            mh_panic("out of memory copying a JSON value");
        mask_in_place(out, 0, &n);
    }
    if (count)
        *count = n;
    return out;
}
