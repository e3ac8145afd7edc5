/* SPDX-License-Identifier: MIT */
/*
 * JSON value semantics JSON Schema needs and jansson does not give: numbers compare by their
 * mathematical value (1 equals 1.0, exactly, also past 2^53 where a double cannot tell
 * neighbouring integers apart), and a hash consistent with that equality so uniqueItems runs in
 * n log n instead of comparing every pair.
 */
#include "schema/schema_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* 2^63 as a double: reals in [-2^63, 2^63) convert to long long exactly when integral. */
#define TWO_POW_63 9223372036854775808.0

static int cmp_int_real(json_int_t i, double d);
static bool real_as_int(double d, json_int_t *out);

bool mh_schema__is_integral(const json_t *v)
{
    if (json_is_integer(v))
        return true;
    if (!json_is_real(v))
        return false;
    double d = json_real_value(v);
    return isfinite(d) && floor(d) == d;
}

static uint64_t mix(uint64_t h);
static uint64_t hash_bytes(const char *s, size_t n);
static void path_reserve(struct mh_schema__path *p, size_t extra);

static bool real_as_int(double d, json_int_t *out)
{
    if (!(d >= -TWO_POW_63 && d < TWO_POW_63) || floor(d) != d)
        return false;
    *out = (json_int_t)d;
    return true;
}

/* Compares an integer with a real exactly, without rounding the integer to a double. */
static int cmp_int_real(json_int_t i, double d)
{
    if (d >= TWO_POW_63)
        return -1;
    if (d < -TWO_POW_63)
        return 1;
    double fl = floor(d);
    json_int_t li = (json_int_t)fl;
    if (i < li)
        return -1;
    if (i > li)
        return 1;
    return d > fl ? -1 : 0;
}

int mh_schema__num_cmp(const json_t *a, const json_t *b)
{
    if (json_is_integer(a) && json_is_integer(b)) {
        json_int_t x = json_integer_value(a), y = json_integer_value(b);
        return x < y ? -1 : x > y;
    }
    if (json_is_integer(a))
        return cmp_int_real(json_integer_value(a), json_real_value(b));
    if (json_is_integer(b))
        return -cmp_int_real(json_integer_value(b), json_real_value(a));
    double x = json_real_value(a), y = json_real_value(b);
    return x < y ? -1 : x > y;
}

bool mh_schema__json_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return mh_schema__num_cmp(a, b) == 0;
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING: {
        size_t n = json_string_length(a);
        return n == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), n) == 0;
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(a);
        if (n != json_array_size(b))
            return false;
        for (size_t i = 0; i < n; i++)
            if (!mh_schema__json_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *key;
        json_t *va;
        /* jansson's iteration macro wants a non-const object; nothing is modified. */
        json_object_foreach((json_t *)a, key, va)
        {
            json_t *vb = json_object_get(b, key);
            if (vb == NULL || !mh_schema__json_equal(va, vb))
                return false;
        }
        return true;
    }
    default: return true; /* true, false, null: equal type is equal value */
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

uint64_t mh_schema__json_hash(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER: return mix((uint64_t)json_integer_value(v) ^ 0x1234);
    case JSON_REAL: {
        /* Integral reals hash as the integer they equal. */
        json_int_t i;
        double d = json_real_value(v);
        if (real_as_int(d, &i))
            return mix((uint64_t)i ^ 0x1234);
        uint64_t bits;
        memcpy(&bits, &d, sizeof(bits));
        return mix(bits);
    }
    case JSON_STRING: return mix(hash_bytes(json_string_value(v), json_string_length(v)) ^ 0x5);
    case JSON_ARRAY: {
        uint64_t h = 0x9e3779b97f4a7c15ULL;
        for (size_t i = 0; i < json_array_size(v); i++)
            h = mix(h * 31 + mh_schema__json_hash(json_array_get(v, i)));
        return h;
    }
    case JSON_OBJECT: {
        /* Members combine by addition so the hash ignores their order. */
        uint64_t h = 0x7;
        const char *key;
        json_t *m;
        json_object_foreach((json_t *)v, key, m)
        {
            h += mix(hash_bytes(key, strlen(key)) * 131 + mh_schema__json_hash(m));
        }
        return mix(h);
    }
    case JSON_TRUE: return 0x11;
    case JSON_FALSE: return 0x22;
    case JSON_NULL: return 0x33;
    }
    return 0;
}

void mh_schema__path_init(struct mh_schema__path *p)
{
    p->data = NULL;
    p->len = 0;
    p->cap = 0;
}

void mh_schema__path_cleanup(struct mh_schema__path *p)
{
    free(p->data);
    mh_schema__path_init(p);
}

static void path_reserve(struct mh_schema__path *p, size_t extra)
{
    if (p->len + extra + 1 <= p->cap)
        return;
    size_t cap = p->cap ? p->cap : 64;
    while (cap < p->len + extra + 1)
        cap *= 2;
    p->data = mh_xrealloc(p->data, cap);
    p->cap = cap;
}

size_t mh_schema__path_push_key(struct mh_schema__path *p, const char *key)
{
    size_t old = p->len;
    size_t n = strlen(key);
    /* Worst case every byte is escaped to two. */
    path_reserve(p, 1 + 2 * n);
    p->data[p->len++] = '/';
    for (size_t i = 0; i < n; i++) {
        if (key[i] == '~') {
            p->data[p->len++] = '~';
            p->data[p->len++] = '0';
        } else if (key[i] == '/') {
            p->data[p->len++] = '~';
            p->data[p->len++] = '1';
        } else {
            p->data[p->len++] = key[i];
        }
    }
    p->data[p->len] = '\0';
    return old;
}

size_t mh_schema__path_push_index(struct mh_schema__path *p, size_t index)
{
    size_t old = p->len;
    path_reserve(p, 24);
    int n = snprintf(p->data + p->len, p->cap - p->len, "/%zu", index);
    p->len += (size_t)n;
    return old;
}

void mh_schema__path_pop(struct mh_schema__path *p, size_t len)
{
    p->len = len;
    if (p->data)
        p->data[len] = '\0';
}

const char *mh_schema__path_str(const struct mh_schema__path *p)
{
    return p->data ? p->data : "";
}

void mh_schema__path_set(struct mh_schema__path *p, const char *ptr)
{
    size_t n = strlen(ptr);
    p->len = 0;
    path_reserve(p, n);
    memcpy(p->data, ptr, n + 1);
    p->len = n;
}
