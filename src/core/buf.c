/* SPDX-License-Identifier: MIT */
/*
 * Bounded buffer. Growth doubles capacity but never beyond max_len + 1 (the terminator), so the
 * limit bounds memory, not just the logical length.
 */
#include "core/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

void mh_buf_init(struct mh_buf *b, size_t max_len)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max_len = max_len;
    b->failed = false;
}

void mh_buf_cleanup(struct mh_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void mh_buf_reset(struct mh_buf *b)
{
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

bool mh_buf_failed(const struct mh_buf *b)
{
    return b->failed;
}

static enum mh_err reserve(struct mh_buf *b, size_t extra)
{
    if (b->failed || extra > b->max_len || b->len > b->max_len - extra) {
        mh_buf_cleanup(b);
        b->failed = true;
        return MH_ETOOBIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return MH_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    if (cap > b->max_len) /* not cap > max_len + 1, which wraps for a limit of SIZE_MAX */
        cap = b->max_len + 1;
    b->data = mh_xrealloc(b->data, cap);
    b->cap = cap;
    return MH_OK;
}

enum mh_err mh_buf_append(struct mh_buf *b, const void *p, size_t n)
{
    enum mh_err rc = reserve(b, n);
    if (rc != MH_OK)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return MH_OK;
}

enum mh_err mh_buf_reserve(struct mh_buf *b, size_t n)
{
    return reserve(b, n);
}

enum mh_err mh_buf_append_int(struct mh_buf *b, int64_t v)
{
    char tmp[24]; /* 19 digits and a sign */
    size_t at = sizeof(tmp);
    /* Negated as unsigned so that INT64_MIN has no overflow. */
    uint64_t u = v < 0 ? 0u - (uint64_t)v : (uint64_t)v;
    do {
        tmp[--at] = (char)('0' + u % 10);
        u /= 10;
    } while (u > 0);
    if (v < 0)
        tmp[--at] = '-';
    return mh_buf_append(b, tmp + at, sizeof(tmp) - at);
}

/* How many bytes escaping adds to a byte of a JSON string: 1 for the two-character escapes, 5
 * for \u00xx, 0 for a byte written as it is. A table, since every byte of every string of the
 * canonical encoding (a webhook's raw body among them) is looked up. */
/* clang-format off */
static const uint8_t json_escape_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, /* 0x00: \b \t \n, \f \r */
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, /* 0x10 */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x20: " */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x30 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x40 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, /* 0x50: \ */
    /* 0x60 to 0xff: 0 */
};
/* clang-format on */

enum mh_err mh_buf_append_json_string(struct mh_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    /* Two passes, so that the buffer grows once and the escapes are written in place. */
    size_t extra = 0;
    for (size_t i = 0; i < len; i++)
        extra += json_escape_extra[u[i]];
    if (len > SIZE_MAX / 2 - extra)
        return reserve(b, SIZE_MAX);
    enum mh_err rc = reserve(b, len + extra + 2);
    if (rc != MH_OK)
        return rc;
    char *o = b->data + b->len;
    *o++ = '"';
    /* Runs of bytes written as they are are copied whole. */
    for (size_t i = 0; i < len;) {
        size_t plain = extra == 0 ? len : i;
        while (plain < len && json_escape_extra[u[plain]] == 0)
            plain++;
        memcpy(o, s + i, plain - i);
        o += plain - i;
        if (plain == len)
            break;
        unsigned char c = u[plain];
        i = plain + 1;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default: /* \u00xx */
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 15];
            o += 5;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
    return MH_OK;
}

enum mh_err mh_buf_append_str(struct mh_buf *b, const char *s)
{
    return mh_buf_append(b, s, strlen(s));
}

enum mh_err mh_buf_printf(struct mh_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->failed)
        return MH_ETOOBIG;
    if (n < 0)
        return MH_EINVAL;
    enum mh_err rc = reserve(b, (size_t)n);
    if (rc != MH_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return MH_OK;
}

const char *mh_buf_str(const struct mh_buf *b)
{
    return b->data ? b->data : "";
}

size_t mh_buf_len(const struct mh_buf *b)
{
    return b->len;
}

char *mh_buf_steal(struct mh_buf *b, size_t *len)
{
    char *p = b->data ? b->data : mh_xstrdup("");
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return p;
}
