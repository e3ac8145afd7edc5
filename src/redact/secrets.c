/* SPDX-License-Identifier: MIT */
/*
 * Exact-value secret replacement: before anything derived from a step that saw a secret is
 * logged or stored, every occurrence of the secret's value becomes "[secret:NAME]". Values are
 * bucketed by first byte and sorted longest first within a bucket, so a scan tries only the
 * values that can start at each position, and a secret that contains another (a password and a
 * URL embedding it) is replaced whole. The copies of the values are wiped on destroy.
 */
#include "redact/redact.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "redact/redact_internal.h"

#define MAX_SECRET_NAME 64u

struct secret {
    char *name;
    char *value;
    size_t len;
    size_t order; /* position in the caller's list, to keep sorting stable */
};

struct mh_redact_secrets {
    struct secret *v;
    size_t n;
    /* v[bucket[b] .. bucket[b + 1]) are the values whose first byte is b. */
    size_t bucket[257];
};

static bool valid_secret_name(const char *name);
static int secret_cmp(const void *a, const void *b);
static size_t replace_all(const struct mh_redact_secrets *sr, const char *s, size_t len,
                          struct mh_buf *b);
static bool json_string_cb(void *p, const char *key, const char *s, size_t len, char **out,
                           size_t *out_len);

static bool valid_secret_name(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > MAX_SECRET_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static int secret_cmp(const void *a, const void *b)
{
    const struct secret *x = a, *y = b;
    unsigned char fx = (unsigned char)x->value[0], fy = (unsigned char)y->value[0];
    if (fx != fy)
        return fx < fy ? -1 : 1;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

enum mh_err mh_redact_secrets_create(const struct mh_redact_secret *secrets, size_t n,
                                     struct mh_redact_secrets **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_redact_secrets *sr = NULL;

    *out = NULL;
    if (n > 0 && secrets == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "redact", -1, "missing secrets");
        goto out;
    }
    sr = mh_xcalloc(1, sizeof(*sr));
    sr->v = mh_xcalloc(n ? n : 1, sizeof(*sr->v));
    for (size_t i = 0; i < n; i++) {
        const struct mh_redact_secret *s = &secrets[i];
        if (!valid_secret_name(s->name)) {
            rc = mh_err_set(info, MH_EINVAL, "redact", -1,
                            "secret %zu: the name must be 1-%u characters of A-Z, a-z, 0-9, _, - "
                            "and .",
                            i, MAX_SECRET_NAME);
            goto out;
        }
        if (s->value == NULL || s->value_len < MH_REDACT_SECRET_MIN_LEN)
            continue;
        bool duplicate = false;
        for (size_t k = 0; k < sr->n && !duplicate; k++)
            duplicate =
                sr->v[k].len == s->value_len && memcmp(sr->v[k].value, s->value, s->value_len) == 0;
        if (duplicate)
            continue;
        struct secret *d = &sr->v[sr->n++];
        d->name = mh_xstrdup(s->name);
        d->value = mh_xmalloc(s->value_len);
        memcpy(d->value, s->value, s->value_len);
        d->len = s->value_len;
        d->order = i;
    }
    if (sr->n > 1)
        qsort(sr->v, sr->n, sizeof(*sr->v), secret_cmp);
    size_t k = 0;
    for (unsigned b = 0; b <= 256; b++) {
        while (k < sr->n && (unsigned char)sr->v[k].value[0] < b)
            k++;
        sr->bucket[b] = k;
    }
    *out = sr;
    sr = NULL;

out:
    mh_redact_secrets_destroy(sr);
    return rc;
}

void mh_redact_secrets_destroy(struct mh_redact_secrets *sr)
{
    if (sr == NULL)
        return;
    for (size_t i = 0; i < sr->n; i++) {
        explicit_bzero(sr->v[i].value, sr->v[i].len);
        free(sr->v[i].value);
        free(sr->v[i].name);
    }
    free(sr->v);
    free(sr);
}

/* The replacement text of `s`; returns the number of replacements. */
static size_t replace_all(const struct mh_redact_secrets *sr, const char *s, size_t len,
                          struct mh_buf *b)
{
    size_t count = 0, copied = 0, i = 0;
    while (i < len) {
        unsigned char first = (unsigned char)s[i];
        const struct secret *hit = NULL;
        for (size_t k = sr->bucket[first]; k < sr->bucket[first + 1] && hit == NULL; k++)
            if (sr->v[k].len <= len - i && memcmp(s + i, sr->v[k].value, sr->v[k].len) == 0)
                hit = &sr->v[k];
        if (hit == NULL) {
            i++;
            continue;
        }
        MH_ASSERT(mh_buf_append(b, s + copied, i - copied) == MH_OK);
        MH_ASSERT(mh_buf_printf(b, "[secret:%s]", hit->name) == MH_OK);
        i += hit->len;
        copied = i;
        count++;
    }
    MH_ASSERT(mh_buf_append(b, s + copied, len - copied) == MH_OK);
    return count;
}

enum mh_err mh_redact_secrets_string(const struct mh_redact_secrets *sr, const char *s, size_t len,
                                     char **out, size_t *out_len, size_t *count)
{
    if (out == NULL)
        return MH_EINVAL;
    *out = NULL;
    if (sr == NULL || (s == NULL && len > 0))
        return MH_EINVAL;
    struct mh_buf b;
    mh_buf_init(&b, (size_t)-1 / 4);
    size_t c = replace_all(sr, s ? s : "", len, &b);
    size_t n = 0;
    *out = mh_buf_steal(&b, &n);
    if (out_len != NULL)
        *out_len = n;
    if (count != NULL)
        *count = c;
    return MH_OK;
}

struct json_ctx {
    const struct mh_redact_secrets *sr;
    size_t count;
};

static bool json_string_cb(void *p, const char *key, const char *s, size_t len, char **out,
                           size_t *out_len)
{
    (void)key;
    struct json_ctx *c = p;
    struct mh_buf b;
    mh_buf_init(&b, (size_t)-1 / 4);
    size_t n = replace_all(c->sr, s, len, &b);
    if (n == 0) {
        mh_buf_cleanup(&b);
        return false;
    }
    c->count += n;
    *out = mh_buf_steal(&b, out_len);
    return true;
}

enum mh_err mh_redact_secrets_json(const struct mh_redact_secrets *sr, json_t *in, json_t **out,
                                   size_t *count)
{
    if (out == NULL)
        return MH_EINVAL;
    *out = NULL;
    if (sr == NULL || in == NULL)
        return MH_EINVAL;
    struct json_ctx c = {sr, 0};
    *out = mh_redact__json_map(in, json_string_cb, &c, 512, "[secret:depth]");
    if (count != NULL)
        *count = c.count;
    return MH_OK;
}
