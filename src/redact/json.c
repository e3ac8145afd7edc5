/* SPDX-License-Identifier: MIT */
/*
 * The JSON walker behind mh_redact_json and mh_redact_secrets_json: a deep copy in which every
 * string, and the text of every number, goes through a rewrite callback. Numbers are included
 * because a card number or a PIN sent as a JSON number is just as sensitive as one sent as a
 * string. Object keys are copied as they are, so the shape of a document survives redaction.
 */
#include "redact/redact_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static json_t *map_value(json_t *v, const char *key, mh_redact__string_fn fn, void *ctx,
                         unsigned depth, unsigned max_depth, const char *too_deep);

static json_t *checked(json_t *v);
static json_t *map_string(const char *key, const char *s, size_t len, mh_redact__string_fn fn,
                          void *ctx, json_t *original);

static json_t *checked(json_t *v)
{
    if (v == NULL)
        mh_panic("out of memory building a JSON value");
    return v;
}

static json_t *map_string(const char *key, const char *s, size_t len, mh_redact__string_fn fn,
                          void *ctx, json_t *original)
{
    char *out = NULL;
    size_t out_len = 0;
    if (!fn(ctx, key, s, len, &out, &out_len))
        return checked(original ? json_copy(original) : json_stringn(s, len));
    /* Replacements are ASCII and the rest is copied from valid UTF-8, but never trust it. */
    json_t *v = json_stringn(out, out_len);
    if (v == NULL)
        v = json_string("[redacted]");
    free(out);
    return checked(v);
}

static json_t *map_value(json_t *v, const char *key, mh_redact__string_fn fn, void *ctx,
                         unsigned depth, unsigned max_depth, const char *too_deep)
{
    if (depth > max_depth)
        return checked(json_string(too_deep));
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *o = checked(json_object());
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            json_object_set_new(o, k, map_value(m, k, fn, ctx, depth + 1, max_depth, too_deep));
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = checked(json_array());
        size_t i;
        json_t *m;
        json_array_foreach(v, i, m)
        {
            json_array_append_new(a, map_value(m, NULL, fn, ctx, depth + 1, max_depth, too_deep));
        }
        return a;
    }
    case JSON_STRING:
        return map_string(key, json_string_value(v), json_string_length(v), fn, ctx, NULL);
    case JSON_INTEGER:
    case JSON_REAL: {
        char *text = json_dumps(v, JSON_ENCODE_ANY);
        if (text == NULL)
            mh_panic("out of memory encoding a JSON number");
        /* An unchanged number stays a number: pass the original back. */
        json_t *r = map_string(key, text, strlen(text), fn, ctx, v);
        free(text);
        return r;
    }
    default: return json_incref(v); /* true, false and null are immutable singletons */
    }
}

json_t *mh_redact__json_map(json_t *in, mh_redact__string_fn fn, void *ctx, unsigned max_depth,
                            const char *too_deep)
{
    return map_value(in, NULL, fn, ctx, 0, max_depth, too_deep);
}
