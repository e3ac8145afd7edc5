/* SPDX-License-Identifier: MIT */
/*
 * The tamper-evident event log (docs/architecture.md §5): the canonical encoding of an event, its
 * chain hash SHA-256(previous hash || encoding), and verification of a whole log. The encoding must
 * never change for a stored event, so it depends on values only: keys are sorted, and numbers are
 * written by value rather than by jansson's integer/real distinction, which a round trip through
 * PostgreSQL jsonb does not preserve.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"
#include "crypto/crypto.h"

#define MAX_DEPTH    512
#define SMALL_OBJECT 16 /* objects of at most this many members sort their keys on the stack */

struct key_ref {
    const char *key;
    size_t len;
    json_t *value;
};

static enum mh_err write_value(json_t *v, bool sorted, int depth, struct mh_buf *out);
static enum mh_err write_string(const char *s, size_t len, struct mh_buf *out);
static enum mh_err write_real(double d, struct mh_buf *out);
static int cmp_keys(const void *a, const void *b);
static int cmp_keys_state(const void *a, const void *b);
static bool is_state_ordered(json_t *v, int depth);
static json_t *state_ordered(json_t *v, int depth);
static enum mh_err encode_into(const struct mh_event *ev, struct mh_buf *b, size_t *payload_at);

static int cmp_keys(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

static enum mh_err write_string(const char *s, size_t len, struct mh_buf *out)
{
    return mh_buf_append_json_string(out, s, len);
}

static enum mh_err write_real(double d, struct mh_buf *out)
{
    /* Integral values within the exact range of a double read back the same as integers, and
     * jsonb may turn 2.0 into 2, so both are written "2". */
    if (d == floor(d) && fabs(d) < 9007199254740992.0)
        return mh_buf_append_int(out, (int64_t)d);
    char tmp[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    return mh_buf_append_str(out, tmp);
}

static enum mh_err write_value(json_t *v, bool sorted, int depth, struct mh_buf *out)
{
    enum mh_err rc = MH_OK;
    struct key_ref *keys = NULL;
    if (depth > MAX_DEPTH)
        return MH_ETOOBIG;
    switch (json_typeof(v)) {
    case JSON_NULL: return mh_buf_append(out, "null", 4);
    case JSON_TRUE: return mh_buf_append(out, "true", 4);
    case JSON_FALSE: return mh_buf_append(out, "false", 5);
    case JSON_INTEGER: return mh_buf_append_int(out, json_integer_value(v));
    case JSON_REAL: return write_real(json_real_value(v), out);
    case JSON_STRING: return write_string(json_string_value(v), json_string_length(v), out);
    case JSON_ARRAY: {
        rc = mh_buf_append(out, "[", 1);
        for (size_t i = 0; rc == MH_OK && i < json_array_size(v); i++) {
            if (i > 0)
                rc = mh_buf_append(out, ",", 1);
            if (rc == MH_OK)
                rc = write_value(json_array_get(v, i), sorted, depth + 1, out);
        }
        if (rc == MH_OK)
            rc = mh_buf_append(out, "]", 1);
        return rc;
    }
    case JSON_OBJECT: break;
    }
    /* Most objects are small: their keys are sorted on the stack, by insertion. */
    struct key_ref small[SMALL_OBJECT];
    size_t cap = json_object_size(v), n = 0, i;
    keys = cap <= SMALL_OBJECT ? small : mh_xcalloc(cap, sizeof(*keys));
    const char *key;
    size_t key_len;
    json_t *value;
    json_object_keylen_foreach(v, key, key_len, value)
    {
        if (n < cap)
            keys[n++] = (struct key_ref){key, key_len, value};
    }
    if (sorted && cap > SMALL_OBJECT) {
        qsort(keys, n, sizeof(*keys), cmp_keys);
    } else if (sorted) {
        for (size_t k = 1; k < n; k++) {
            struct key_ref x = keys[k];
            size_t at = k;
            for (; at > 0 && cmp_keys(&keys[at - 1], &x) > 0; at--)
                keys[at] = keys[at - 1];
            keys[at] = x;
        }
    }
    rc = mh_buf_append(out, "{", 1);
    for (i = 0; rc == MH_OK && i < n; i++) {
        if (i > 0)
            rc = mh_buf_append(out, ",", 1);
        if (rc == MH_OK)
            rc = write_string(keys[i].key, keys[i].len, out);
        if (rc == MH_OK)
            rc = mh_buf_append(out, ":", 1);
        if (rc == MH_OK)
            rc = write_value(keys[i].value, sorted, depth + 1, out);
    }
    if (rc == MH_OK)
        rc = mh_buf_append(out, "}", 1);
    if (keys != small)
        free(keys);
    return rc;
}

enum mh_err mh_engine__json_write(json_t *v, bool sorted, struct mh_buf *out)
{
    if (v == NULL)
        return mh_buf_append(out, "null", 4);
    return write_value(v, sorted, 0, out);
}

enum mh_err mh_engine_canonical_json(json_t *v, struct mh_buf *out)
{
    return mh_engine__json_write(v, true, out);
}

json_t *mh_engine__jstring(const char *s)
{
    if (s == NULL)
        s = "";
    json_t *v = json_string(s);
    if (v != NULL)
        return v;
    size_t n = strlen(s);
    char *copy = mh_xmalloc(n + 1);
    for (size_t i = 0; i < n;) {
        size_t k = mh_text_utf8_len((const unsigned char *)s + i, n - i);
        if (k == 0) {
            copy[i++] = '?';
            continue;
        }
        memcpy(copy + i, s + i, k);
        i += k;
    }
    copy[n] = '\0';
    v = json_string(copy);
    free(copy);
    MH_ASSERT(v != NULL);
    return v;
}

/* The state's key order: shorter keys first, then bytewise (PostgreSQL's jsonb order). */
static int cmp_keys_state(const void *a, const void *b)
{
    const struct key_ref *x = a, *y = b;
    if (x->len != y->len)
        return (x->len > y->len) - (x->len < y->len);
    return memcmp(x->key, y->key, x->len);
}

static bool is_state_ordered(json_t *v, int depth)
{
    if (depth > MAX_DEPTH)
        return true;
    size_t i;
    json_t *m;
    if (json_is_array(v)) {
        json_array_foreach(v, i, m)
        {
            if (!is_state_ordered(m, depth + 1))
                return false;
        }
        return true;
    }
    if (!json_is_object(v))
        return true;
    struct key_ref prev = {NULL, 0, NULL};
    const char *key;
    size_t key_len;
    json_object_keylen_foreach(v, key, key_len, m)
    {
        struct key_ref cur = {key, key_len, m};
        if ((prev.key && cmp_keys_state(&prev, &cur) > 0) || !is_state_ordered(m, depth + 1))
            return false;
        prev = cur;
    }
    return true;
}

static json_t *state_ordered(json_t *v, int depth)
{
    if (depth > MAX_DEPTH || !(json_is_array(v) || json_is_object(v)))
        return json_incref(v);
    size_t i, n = 0;
    json_t *m, *out;
    if (json_is_array(v)) {
        out = json_array();
        json_array_foreach(v, i, m)
        {
            json_array_append_new(out, state_ordered(m, depth + 1));
        }
        return out;
    }
    size_t cap = json_object_size(v);
    struct key_ref *keys = mh_xcalloc(cap ? cap : 1, sizeof(*keys));
    const char *key;
    size_t key_len;
    json_object_keylen_foreach(v, key, key_len, m)
    {
        if (n < cap)
            keys[n++] = (struct key_ref){key, key_len, m};
    }
    qsort(keys, n, sizeof(*keys), cmp_keys_state);
    out = json_object();
    for (i = 0; i < n; i++)
        json_object_setn_new(out, keys[i].key, keys[i].len,
                             state_ordered(keys[i].value, depth + 1));
    free(keys);
    return out;
}

json_t *mh_engine__json_state_ordered(json_t *v)
{
    if (v == NULL)
        return json_null();
    if (is_state_ordered(v, 0))
        return json_incref(v);
    json_t *out = state_ordered(v, 0);
    if (out == NULL)
        mh_panic("out of memory ordering a JSON value");
    return out;
}

bool mh_engine__json_same(json_t *a, json_t *b)
{
    struct mh_buf x, y;
    mh_buf_init(&x, MH_ENGINE_MAX_EVENT_BYTES);
    mh_buf_init(&y, MH_ENGINE_MAX_EVENT_BYTES);
    bool same = false;
    if (mh_engine__json_write(a, true, &x) == MH_OK && mh_engine__json_write(b, true, &y) == MH_OK)
        same = mh_buf_len(&x) == mh_buf_len(&y) &&
               memcmp(mh_buf_str(&x), mh_buf_str(&y), mh_buf_len(&x)) == 0;
    mh_buf_cleanup(&x);
    mh_buf_cleanup(&y);
    return same;
}

/* Appends the encoding of `ev` to `b`; *payload_at (NULL allowed) is where the payload's
 * canonical JSON starts in `b`. */
static enum mh_err encode_into(const struct mh_event *ev, struct mh_buf *b, size_t *payload_at)
{
    /* "<seq>\n<type>\n<node_id>\n<attempt>\n<at_ms>\n", written without printf (every event
     * sealed passes here). */
    enum mh_err rc = mh_buf_append_int(b, ev->seq);
    const char *fields[] = {ev->type, ev->node_id};
    for (size_t i = 0; i < 2 && rc == MH_OK; i++) {
        rc = mh_buf_append(b, "\n", 1);
        if (rc == MH_OK)
            rc = mh_buf_append_str(b, fields[i]);
    }
    if (rc == MH_OK)
        rc = mh_buf_append(b, "\n", 1);
    if (rc == MH_OK)
        rc = mh_buf_append_int(b, ev->attempt);
    if (rc == MH_OK)
        rc = mh_buf_append(b, "\n", 1);
    if (rc == MH_OK)
        rc = mh_buf_append_int(b, ev->at_ms);
    if (rc == MH_OK)
        rc = mh_buf_append(b, "\n", 1);
    if (rc != MH_OK)
        return rc;
    if (payload_at)
        *payload_at = mh_buf_len(b);
    if (ev->payload == NULL)
        return mh_buf_append(b, "{}", 2);
    return mh_engine_canonical_json(ev->payload, b);
}

enum mh_err mh_engine_event_encode(const struct mh_event *ev, char **out, size_t *len)
{
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_EVENT_BYTES);
    *out = NULL;
    *len = 0;
    enum mh_err rc = encode_into(ev, &b, NULL);
    if (rc != MH_OK)
        goto out;
    *out = mh_buf_steal(&b, len);
out:
    mh_buf_cleanup(&b);
    return rc;
}

/* SHA-256(prev_hash || encoding(ev)) into `out`; with `payload_json`, also the encoding's tail
 * (the payload's canonical JSON) as a new string. */
static enum mh_err hash_event(const struct mh_event *ev, const uint8_t *prev_hash,
                              uint8_t out[MH_ENGINE_HASH_LEN], char **payload_json)
{
    static const uint8_t zeros[MH_ENGINE_HASH_LEN];
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_EVENT_BYTES + MH_ENGINE_HASH_LEN);
    if (payload_json)
        *payload_json = NULL;
    enum mh_err rc = mh_buf_append(&b, prev_hash ? prev_hash : zeros, MH_ENGINE_HASH_LEN);
    if (rc != MH_OK)
        goto out;
    size_t payload_at = 0;
    rc = encode_into(ev, &b, &payload_at);
    if (rc != MH_OK)
        goto out;
    rc = mh_crypto_sha256(mh_buf_str(&b), mh_buf_len(&b), out);
    if (rc == MH_OK && payload_json)
        *payload_json = mh_xstrdup(mh_buf_str(&b) + payload_at);
out:
    mh_buf_cleanup(&b);
    return rc;
}

enum mh_err mh_engine_event_hash(const struct mh_event *ev, const uint8_t *prev_hash,
                                 uint8_t out[MH_ENGINE_HASH_LEN])
{
    return hash_event(ev, prev_hash, out, NULL);
}

enum mh_err mh_engine_event_seal(struct mh_event *ev, int64_t seq, const uint8_t *prev_hash)
{
    ev->seq = seq;
    return hash_event(ev, prev_hash, ev->hash, NULL);
}

enum mh_err mh_engine_event_seal_json(struct mh_event *ev, int64_t seq, const uint8_t *prev_hash,
                                      char **payload_json)
{
    ev->seq = seq;
    return hash_event(ev, prev_hash, ev->hash, payload_json);
}

enum mh_err mh_engine_chain_verify(const struct mh_event *events, size_t n, json_t **breaks)
{
    enum mh_err rc = MH_OK;
    json_t *list = json_array();
    *breaks = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct mh_event *ev = &events[i];
        int64_t want = (int64_t)i + 1;
        if (ev->seq != want) {
            char reason[96];
            snprintf(reason, sizeof(reason),
                     "sequence gap: expected seq %" PRId64 ", found %" PRId64, want, ev->seq);
            json_array_append_new(
                list, json_pack("{s:I,s:s}", "seq", (json_int_t)ev->seq, "reason", reason));
        }
        uint8_t h[MH_ENGINE_HASH_LEN];
        rc = mh_engine_event_hash(ev, i == 0 ? NULL : events[i - 1].hash, h);
        if (rc != MH_OK)
            goto out;
        if (memcmp(h, ev->hash, sizeof(h)) != 0)
            json_array_append_new(
                list, json_pack("{s:I,s:s}", "seq", (json_int_t)ev->seq, "reason",
                                i == 0 ? "hash mismatch: the event does not hash to its stored "
                                         "hash from the zero hash"
                                       : "hash mismatch: the event does not link to the stored "
                                         "hash of the event before it"));
    }
    *breaks = list;
    list = NULL;
out:
    json_decref(list);
    return rc;
}
