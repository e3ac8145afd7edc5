/* SPDX-License-Identifier: MIT */
/*
 * Operations on JSON values that JMESPath defines differently from jansson: equality compares
 * numbers by value (1 equals 1.0, where json_equal says no), ordering is by number value or by
 * code point, and to_string() needs a compact serializer whose numbers round-trip in the fewest
 * digits and whose work is charged to the evaluation budget. Every walk over a value is bounded
 * by MH_JP_MAX_VALUE_DEPTH, so no value can exhaust the stack.
 */
#include "jmespath/jmespath_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Out of line so the recursive serializer keeps a small frame (values nest 2000+ deep). */
static __attribute__((noinline)) enum mh_err serialize_string(struct mh_buf *b, const char *s,
                                                              size_t len);
static __attribute__((noinline)) enum mh_err serialize_real(struct mh_buf *b, double d);
static __attribute__((noinline)) enum mh_err serialize_int(struct mh_buf *b, json_int_t i);

static __attribute__((noinline)) int value_too_deep(struct mh_jp__ctx *c)
{
    mh_jp__fail(c, "limit", -1, "values nest deeper than %d levels", MH_JP_MAX_VALUE_DEPTH);
    return -1;
}

double mh_jp__num(const json_t *v)
{
    if (json_is_integer(v))
        return (double)json_integer_value(v);
    return json_real_value(v);
}

int mh_jp__num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return (x > y) - (x < y);
    }
    double x = mh_jp__num(a), y = mh_jp__num(b);
    return (x > y) - (x < y);
}

int mh_jp__str_cmp(const json_t *a, const json_t *b)
{
    size_t la = json_string_length(a), lb = json_string_length(b);
    int r = memcmp(json_string_value(a), json_string_value(b), la < lb ? la : lb);
    if (r != 0)
        return r < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

json_t *mh_jp__number(double d)
{
    if (!isfinite(d))
        return json_null();
    /* 2^63 is exactly representable; every integral double in (-2^63, 2^63) fits json_int_t. */
    if (d == floor(d) && d > -9223372036854775808.0 && d < 9223372036854775808.0)
        return json_integer((json_int_t)d);
    return json_real(d);
}

const char *mh_jp__type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

int mh_jp__equal(struct mh_jp__ctx *c, const json_t *a, const json_t *b, unsigned depth)
{
    if (a == b)
        return 1;
    if (!mh_jp__charge(c, 1))
        return -1;
    if (depth > MH_JP_MAX_VALUE_DEPTH)
        return value_too_deep(c);
    if (json_is_number(a) && json_is_number(b))
        return mh_jp__num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return 0;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return 0;
        for (size_t i = 0; i < n; i++) {
            int r = mh_jp__equal(c, json_array_get(a, i), json_array_get(b, i), depth + 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return 0;
        MH_JP_OBJ_FOREACH(a, it)
        {
            json_t *va = json_object_iter_value(it);
            json_t *vb =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (vb == NULL)
                return 0;
            int r = mh_jp__equal(c, va, vb, depth + 1);
            if (r != 1)
                return r;
        }
        return 1;
    }
    default: return 1; /* true, false, null: same type means equal */
    }
}

static enum mh_err serialize_string(struct mh_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    enum mh_err rc = mh_buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; rc == MH_OK && i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\')
            continue;
        if (i > run)
            rc = mh_buf_append(b, s + run, i - run);
        run = i + 1;
        if (rc != MH_OK)
            break;
        switch (ch) {
        case '"': rc = mh_buf_append(b, "\\\"", 2); break;
        case '\\': rc = mh_buf_append(b, "\\\\", 2); break;
        case '\n': rc = mh_buf_append(b, "\\n", 2); break;
        case '\t': rc = mh_buf_append(b, "\\t", 2); break;
        case '\r': rc = mh_buf_append(b, "\\r", 2); break;
        case '\b': rc = mh_buf_append(b, "\\b", 2); break;
        case '\f': rc = mh_buf_append(b, "\\f", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            rc = mh_buf_append(b, esc, sizeof(esc));
        }
        }
    }
    if (rc == MH_OK && len > run)
        rc = mh_buf_append(b, s + run, len - run);
    if (rc == MH_OK)
        rc = mh_buf_append(b, "\"", 1);
    return rc;
}

static enum mh_err serialize_int(struct mh_buf *b, json_int_t i)
{
    return mh_buf_printf(b, "%" JSON_INTEGER_FORMAT, i);
}

/* The shortest of %.15g, %.16g and %.17g that reads back as the same double, with ".0" added to
 * integral values so a real stays recognisably a real (as jansson and Python print it). */
static enum mh_err serialize_real(struct mh_buf *b, double d)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (strpbrk(tmp, ".eE") == NULL) {
        size_t n = strlen(tmp);
        if (n + 2 < sizeof(tmp))
            memcpy(tmp + n, ".0", 3);
    }
    return mh_buf_append_str(b, tmp);
}

/* A newline and `indent * level` spaces, when pretty-printing. */
static enum mh_err newline(struct mh_buf *b, unsigned indent, unsigned level)
{
    enum mh_err rc = mh_buf_append(b, "\n", 1);
    for (unsigned i = 0; rc == MH_OK && i < indent * level; i++)
        rc = mh_buf_append(b, " ", 1);
    return rc;
}

enum mh_err mh_jp__serialize(struct mh_jp__ctx *c, const json_t *v, unsigned indent,
                             struct mh_buf *b, unsigned depth)
{
    enum mh_err rc = MH_OK;
    if (!mh_jp__charge(c, 1)) {
        rc = MH_EJMESPATH;
        goto out;
    }
    if (depth > MH_JP_MAX_VALUE_DEPTH) {
        rc = value_too_deep(c) == -1 ? MH_EJMESPATH : MH_OK;
        goto out;
    }
    switch (json_typeof(v)) {
    case JSON_NULL: rc = mh_buf_append(b, "null", 4); break;
    case JSON_TRUE: rc = mh_buf_append(b, "true", 4); break;
    case JSON_FALSE: rc = mh_buf_append(b, "false", 5); break;
    case JSON_INTEGER: rc = serialize_int(b, json_integer_value(v)); break;
    case JSON_REAL: rc = serialize_real(b, json_real_value(v)); break;
    case JSON_STRING:
        if (!mh_jp__charge(c, json_string_length(v) / 16)) {
            rc = MH_EJMESPATH;
            goto out;
        }
        rc = serialize_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        rc = mh_buf_append(b, "[", 1);
        for (size_t i = 0; rc == MH_OK && i < n; i++) {
            if (i > 0)
                rc = mh_buf_append(b, ",", 1);
            if (rc == MH_OK && indent)
                rc = newline(b, indent, depth + 1);
            if (rc == MH_OK)
                rc = mh_jp__serialize(c, json_array_get(v, i), indent, b, depth + 1);
        }
        if (rc == MH_OK && indent && n > 0)
            rc = newline(b, indent, depth);
        if (rc == MH_OK)
            rc = mh_buf_append(b, "]", 1);
        break;
    }
    case JSON_OBJECT: {
        rc = mh_buf_append(b, "{", 1);
        bool first = true;
        MH_JP_OBJ_FOREACH(v, it)
        {
            if (rc != MH_OK)
                break;
            json_t *val = json_object_iter_value(it);
            if (!first)
                rc = mh_buf_append(b, ",", 1);
            first = false;
            if (rc == MH_OK && indent)
                rc = newline(b, indent, depth + 1);
            if (rc == MH_OK)
                rc = serialize_string(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (rc == MH_OK)
                rc = indent ? mh_buf_append(b, ": ", 2) : mh_buf_append(b, ":", 1);
            if (rc == MH_OK)
                rc = mh_jp__serialize(c, val, indent, b, depth + 1);
        }
        if (rc == MH_OK && indent && !first)
            rc = newline(b, indent, depth);
        if (rc == MH_OK)
            rc = mh_buf_append(b, "}", 1);
        break;
    }
    }
    if (rc == MH_ETOOBIG)
        mh_jp__fail(c, "limit", -1, "string result is larger than the limit");
out:
    return rc;
}

enum mh_err mh_jp_dump(const json_t *v, unsigned indent, struct mh_buf *b)
{
    struct mh_jp__ctx c;
    memset(&c, 0, sizeof(c));
    c.max_steps = SIZE_MAX;
    c.max_elements = SIZE_MAX;
    c.wt = c.wt_inline;
    c.wt_cap = MH_JP_WINLINE;
    enum mh_err rc = mh_jp__serialize(&c, v, indent > 16 ? 16 : indent, b, 0);
    return rc == MH_ETOOBIG ? MH_ETOOBIG : rc != MH_OK ? MH_ELIMIT : MH_OK;
}
