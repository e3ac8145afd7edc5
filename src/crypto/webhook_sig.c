/* SPDX-License-Identifier: MIT */
/*
 * Webhook signature schemes: generic HMAC, GitHub, Stripe and Standard Webhooks. Each verifier
 * parses its header strictly into a small set of candidate MACs, computes the expected MAC once
 * per active key (over the signed parts without concatenating them) and compares every
 * candidate in constant time. Only after a match is the timestamp judged, so a stale result
 * always means an authentic replay. Failure messages describe the shape of what was wrong and
 * never echo a signature or a key.
 */
#include "crypto/webhook_sig.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto_internal.h"

/* Decoded candidate MACs from one header. */
struct candidates {
    uint8_t mac[MH_CRYPTO_SIG_MAX_SIGS][MH_CRYPTO_MAX_MD_LEN];
    size_t n;
};

static enum mh_err sig_fail(struct mh_crypto_sig_result *res, struct mh_err_info *info,
                            enum mh_crypto_sig_status st, const char *fmt, ...) MH_PRINTF(4, 5);
static void result_init(struct mh_crypto_sig_result *res);
static enum mh_err check_keys(const struct mh_crypto_sig_key *keys, size_t nkeys,
                              struct mh_crypto_sig_result *res, struct mh_err_info *info);
static bool header_len(const char *h, size_t *len);
static void trim(const char **s, size_t *len);
static bool ascii_prefix_ieq(const char *s, size_t len, const char *prefix);
static bool decode_mac(enum mh_crypto_sig_encoding enc, const char *s, size_t len, size_t want,
                       uint8_t *out);
static enum mh_err find_match(enum mh_crypto_hash alg, const struct mh_crypto_sig_key *keys,
                              size_t nkeys, const struct mh_crypto_span *parts, size_t nparts,
                              const struct candidates *cands, bool *found, size_t *key_index);
static enum mh_err verify_parts(enum mh_crypto_hash alg, const struct mh_crypto_sig_key *keys,
                                size_t nkeys, const struct mh_crypto_span *parts, size_t nparts,
                                const struct candidates *cands, struct mh_crypto_sig_result *res,
                                struct mh_err_info *info);
static enum mh_err check_timestamp(int64_t ts, int64_t now, int64_t tolerance_s,
                                   struct mh_crypto_sig_result *res, struct mh_err_info *info);
static bool valid_msg_id(const char *id, size_t len);

const char *mh_crypto_sig_status_str(enum mh_crypto_sig_status status)
{
    switch (status) {
    case MH_CRYPTO_SIG_OK: return "ok";
    case MH_CRYPTO_SIG_MISSING_HEADER: return "missing-header";
    case MH_CRYPTO_SIG_MALFORMED_HEADER: return "malformed-header";
    case MH_CRYPTO_SIG_BAD_SIGNATURE: return "bad-signature";
    case MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD: return "timestamp-too-old";
    case MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW: return "timestamp-too-new";
    case MH_CRYPTO_SIG_BAD_CONFIG: return "bad-config";
    case MH_CRYPTO_SIG_INTERNAL: return "internal";
    }
    return "internal";
}

static enum mh_err sig_fail(struct mh_crypto_sig_result *res, struct mh_err_info *info,
                            enum mh_crypto_sig_status st, const char *fmt, ...)
{
    if (res != NULL)
        res->status = st;
    enum mh_crypto__fail_kind kind = st == MH_CRYPTO_SIG_BAD_CONFIG ? MH_CRYPTO__BAD_CONFIG
                                     : st == MH_CRYPTO_SIG_INTERNAL ? MH_CRYPTO__INTERNAL
                                                                    : MH_CRYPTO__REJECTED;
    va_list ap;
    va_start(ap, fmt);
    enum mh_err rc = mh_crypto__vfail(info, kind, mh_crypto_sig_status_str(st), fmt, ap);
    va_end(ap);
    return rc;
}

static void result_init(struct mh_crypto_sig_result *res)
{
    if (res != NULL)
        *res = (struct mh_crypto_sig_result){.status = MH_CRYPTO_SIG_INTERNAL};
}

static enum mh_err check_keys(const struct mh_crypto_sig_key *keys, size_t nkeys,
                              struct mh_crypto_sig_result *res, struct mh_err_info *info)
{
    if (keys == NULL || nkeys == 0)
        return sig_fail(res, info, MH_CRYPTO_SIG_BAD_CONFIG, "no active signing key");
    if (nkeys > MH_CRYPTO_SIG_MAX_KEYS)
        return sig_fail(res, info, MH_CRYPTO_SIG_BAD_CONFIG, "more than %d active keys",
                        MH_CRYPTO_SIG_MAX_KEYS);
    for (size_t i = 0; i < nkeys; i++)
        if (keys[i].key == NULL || keys[i].len == 0)
            return sig_fail(res, info, MH_CRYPTO_SIG_BAD_CONFIG, "key %zu is empty", i);
    return MH_OK;
}

/* False when the header is longer than the limit. */
static bool header_len(const char *h, size_t *len)
{
    *len = strnlen(h, MH_CRYPTO_SIG_MAX_HEADER_LEN + 1);
    return *len <= MH_CRYPTO_SIG_MAX_HEADER_LEN;
}

/* Drops HTTP optional whitespace (spaces and tabs) at both ends. */
static void trim(const char **s, size_t *len)
{
    while (*len > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static bool ascii_prefix_ieq(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    if (len < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char a = s[i], b = prefix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return false;
    }
    return true;
}

/* Decodes exactly `want` bytes; anything else (wrong length, bad alphabet) is false. */
static bool decode_mac(enum mh_crypto_sig_encoding enc, const char *s, size_t len, size_t want,
                       uint8_t *out)
{
    size_t n = 0;
    enum mh_err rc;
    bool padded = memchr(s, '=', len) != NULL;
    switch (enc) {
    case MH_CRYPTO_SIG_HEX: rc = mh_crypto_hex_decode(s, len, out, want, &n); break;
    case MH_CRYPTO_SIG_BASE64:
        rc = mh_crypto_b64_decode(padded ? MH_CRYPTO_B64_STD : MH_CRYPTO_B64_STD_NOPAD, s, len, out,
                                  want, &n);
        break;
    case MH_CRYPTO_SIG_BASE64URL:
        rc = mh_crypto_b64_decode(padded ? MH_CRYPTO_B64_URL : MH_CRYPTO_B64_URL_NOPAD, s, len, out,
                                  want, &n);
        break;
    default: return false;
    }
    return rc == MH_OK && n == want;
}

/*
 * Computes the MAC under each key and compares it with every candidate. All candidates are
 * compared even after a hit, so the time does not depend on which one matched.
 */
static enum mh_err find_match(enum mh_crypto_hash alg, const struct mh_crypto_sig_key *keys,
                              size_t nkeys, const struct mh_crypto_span *parts, size_t nparts,
                              const struct candidates *cands, bool *found, size_t *key_index)
{
    enum mh_err rc = MH_OK;
    uint8_t expected[MH_CRYPTO_MAX_MD_LEN];
    size_t md_len = mh_crypto_hash_len(alg);
    *found = false;
    for (size_t k = 0; k < nkeys && !*found; k++) {
        rc = mh_crypto_hmac_parts(alg, keys[k].key, keys[k].len, parts, nparts, expected);
        if (rc != MH_OK)
            goto out;
        bool hit = false;
        for (size_t i = 0; i < cands->n; i++)
            hit |= mh_crypto_ct_equal(expected, cands->mac[i], md_len);
        if (hit) {
            *found = true;
            *key_index = k;
        }
    }
out:
    mh_crypto_wipe(expected, sizeof(expected));
    return rc;
}

static enum mh_err verify_parts(enum mh_crypto_hash alg, const struct mh_crypto_sig_key *keys,
                                size_t nkeys, const struct mh_crypto_span *parts, size_t nparts,
                                const struct candidates *cands, struct mh_crypto_sig_result *res,
                                struct mh_err_info *info)
{
    bool found = false;
    size_t key_index = 0;
    if (find_match(alg, keys, nkeys, parts, nparts, cands, &found, &key_index) != MH_OK)
        return sig_fail(res, info, MH_CRYPTO_SIG_INTERNAL, "HMAC computation failed");
    if (!found)
        return sig_fail(res, info, MH_CRYPTO_SIG_BAD_SIGNATURE,
                        "no signature matches any active key (%zu signature%s, %zu key%s)",
                        cands->n, cands->n == 1 ? "" : "s", nkeys, nkeys == 1 ? "" : "s");
    if (res != NULL) {
        res->key_index = key_index;
        res->status = MH_CRYPTO_SIG_OK;
    }
    return MH_OK;
}

static enum mh_err check_timestamp(int64_t ts, int64_t now, int64_t tolerance_s,
                                   struct mh_crypto_sig_result *res, struct mh_err_info *info)
{
    if (tolerance_s <= 0)
        tolerance_s = MH_CRYPTO_SIG_DEFAULT_TOLERANCE_S;
    /* ts is 0..10^12 and now >= 0 (checked by the callers), so neither difference overflows. */
    if (ts < now && now - ts > tolerance_s)
        return sig_fail(res, info, MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD,
                        "timestamp is %" PRId64 " s in the past (tolerance %" PRId64 " s)",
                        now - ts, tolerance_s);
    if (ts > now && ts - now > tolerance_s)
        return sig_fail(res, info, MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW,
                        "timestamp is %" PRId64 " s in the future (tolerance %" PRId64 " s)",
                        ts - now, tolerance_s);
    return MH_OK;
}

/* ---- Generic HMAC and GitHub -------------------------------------------------------------- */

enum mh_err mh_crypto_sig_hmac_verify(const struct mh_crypto_sig_hmac_config *cfg,
                                      const struct mh_crypto_sig_key *keys, size_t nkeys,
                                      const void *body, size_t body_len, const char *header,
                                      struct mh_crypto_sig_result *result, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct candidates cands = {.n = 0};
    size_t len = 0;
    const char *p = header;
    const char *prefix = cfg->prefix ? cfg->prefix : "";

    result_init(result);
    rc = check_keys(keys, nkeys, result, info);
    if (rc != MH_OK)
        goto out;
    if (cfg->alg != MH_CRYPTO_HASH_SHA256 && cfg->alg != MH_CRYPTO_HASH_SHA512) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_BAD_CONFIG, "unknown HMAC algorithm");
        goto out;
    }
    if (header == NULL || header[0] == '\0') {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MISSING_HEADER, "signature header missing");
        goto out;
    }
    if (!header_len(header, &len)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER, "signature header too long");
        goto out;
    }
    trim(&p, &len);
    if (!ascii_prefix_ieq(p, len, prefix)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "signature does not start with the expected prefix");
        goto out;
    }
    p += strlen(prefix);
    len -= strlen(prefix);
    if (!decode_mac(cfg->encoding, p, len, mh_crypto_hash_len(cfg->alg), cands.mac[0])) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "signature is not a %zu-byte MAC in the configured encoding",
                      mh_crypto_hash_len(cfg->alg));
        goto out;
    }
    cands.n = 1;
    struct mh_crypto_span part = {body, body_len};
    rc = verify_parts(cfg->alg, keys, nkeys, &part, 1, &cands, result, info);
out:
    mh_crypto_wipe(&cands, sizeof(cands));
    return rc;
}

enum mh_err mh_crypto_sig_hmac_sign(const struct mh_crypto_sig_hmac_config *cfg,
                                    const struct mh_crypto_sig_key *key, const void *body,
                                    size_t body_len, char **out)
{
    enum mh_err rc = MH_OK;
    uint8_t mac[MH_CRYPTO_MAX_MD_LEN];
    char enc[2 * MH_CRYPTO_MAX_MD_LEN + 1];
    const char *prefix = cfg->prefix ? cfg->prefix : "";
    size_t md_len = mh_crypto_hash_len(cfg->alg);

    *out = NULL;
    if (key == NULL || key->key == NULL || key->len == 0)
        return MH_EINVAL;
    rc = mh_crypto_hmac(cfg->alg, key->key, key->len, body, body_len, mac);
    if (rc != MH_OK)
        goto out;
    switch (cfg->encoding) {
    case MH_CRYPTO_SIG_HEX: mh_crypto_hex_encode(mac, md_len, enc); break;
    case MH_CRYPTO_SIG_BASE64: mh_crypto_b64_encode(MH_CRYPTO_B64_STD, mac, md_len, enc); break;
    case MH_CRYPTO_SIG_BASE64URL:
        mh_crypto_b64_encode(MH_CRYPTO_B64_URL_NOPAD, mac, md_len, enc);
        break;
    default: rc = MH_EINVAL; goto out;
    }
    size_t n = strlen(prefix) + strlen(enc) + 1;
    *out = mh_xmalloc(n);
    snprintf(*out, n, "%s%s", prefix, enc);
out:
    mh_crypto_wipe(mac, sizeof(mac));
    return rc;
}

static const struct mh_crypto_sig_hmac_config github_cfg = {
    .alg = MH_CRYPTO_HASH_SHA256,
    .encoding = MH_CRYPTO_SIG_HEX,
    .prefix = "sha256=",
};

enum mh_err mh_crypto_sig_github_verify(const struct mh_crypto_sig_key *keys, size_t nkeys,
                                        const void *body, size_t body_len, const char *header,
                                        struct mh_crypto_sig_result *result,
                                        struct mh_err_info *info)
{
    return mh_crypto_sig_hmac_verify(&github_cfg, keys, nkeys, body, body_len, header, result,
                                     info);
}

enum mh_err mh_crypto_sig_github_sign(const struct mh_crypto_sig_key *key, const void *body,
                                      size_t body_len, char **out)
{
    return mh_crypto_sig_hmac_sign(&github_cfg, key, body, body_len, out);
}

/* ---- Stripe ------------------------------------------------------------------------------- */

enum mh_err mh_crypto_sig_stripe_verify(const struct mh_crypto_sig_key *keys, size_t nkeys,
                                        const void *body, size_t body_len, const char *header,
                                        int64_t now, int64_t tolerance_s,
                                        struct mh_crypto_sig_result *result,
                                        struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct candidates cands = {.n = 0};
    size_t len = 0, v1_seen = 0;
    const char *t_str = NULL;
    size_t t_len = 0;
    int64_t ts = 0;

    result_init(result);
    rc = check_keys(keys, nkeys, result, info);
    if (rc != MH_OK)
        goto out;
    if (now < 0) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_BAD_CONFIG, "negative current time");
        goto out;
    }
    if (header == NULL || header[0] == '\0') {
        rc =
            sig_fail(result, info, MH_CRYPTO_SIG_MISSING_HEADER, "Stripe-Signature header missing");
        goto out;
    }
    if (!header_len(header, &len)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "Stripe-Signature header too long");
        goto out;
    }
    const char *p = header, *end = header + len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *item = p;
        size_t item_len = (size_t)((comma ? comma : end) - p);
        p = comma ? comma + 1 : end;
        trim(&item, &item_len);
        const char *eq = memchr(item, '=', item_len);
        if (eq == NULL) {
            rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                          "Stripe-Signature element without '='");
            goto out;
        }
        size_t klen = (size_t)(eq - item);
        const char *val = eq + 1;
        size_t vlen = item_len - klen - 1;
        if (klen == 1 && item[0] == 't') {
            if (t_str != NULL || !mh_crypto__parse_unix_ts(val, vlen, &ts)) {
                rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                              "Stripe-Signature needs exactly one numeric t=");
                goto out;
            }
            t_str = val;
            t_len = vlen;
        } else if (klen == 2 && item[0] == 'v' && item[1] == '1') {
            if (++v1_seen > MH_CRYPTO_SIG_MAX_SIGS) {
                rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                              "Stripe-Signature lists more than %d v1 signatures",
                              MH_CRYPTO_SIG_MAX_SIGS);
                goto out;
            }
            if (decode_mac(MH_CRYPTO_SIG_HEX, val, vlen, MH_CRYPTO_SHA256_LEN, cands.mac[cands.n]))
                cands.n++;
        }
        /* v0 (test-mode) and unknown schemes are ignored, as Stripe's libraries do. */
    }
    if (t_str == NULL) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "Stripe-Signature has no t= timestamp");
        goto out;
    }
    if (result != NULL)
        result->timestamp = ts;
    if (cands.n == 0) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "Stripe-Signature has no well-formed v1 signature");
        goto out;
    }
    struct mh_crypto_span parts[] = {{t_str, t_len}, {".", 1}, {body, body_len}};
    rc = verify_parts(MH_CRYPTO_HASH_SHA256, keys, nkeys, parts, 3, &cands, result, info);
    if (rc != MH_OK)
        goto out;
    rc = check_timestamp(ts, now, tolerance_s, result, info);
out:
    mh_crypto_wipe(&cands, sizeof(cands));
    return rc;
}

enum mh_err mh_crypto_sig_stripe_sign(const struct mh_crypto_sig_key *key, const void *body,
                                      size_t body_len, int64_t timestamp, char **out)
{
    enum mh_err rc = MH_OK;
    char ts[24];
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    char hex[2 * MH_CRYPTO_SHA256_LEN + 1];

    *out = NULL;
    if (key == NULL || key->key == NULL || key->len == 0 || timestamp < 0)
        return MH_EINVAL;
    int n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    struct mh_crypto_span parts[] = {{ts, (size_t)n}, {".", 1}, {body, body_len}};
    rc = mh_crypto_hmac_parts(MH_CRYPTO_HASH_SHA256, key->key, key->len, parts, 3, mac);
    if (rc != MH_OK)
        goto out;
    mh_crypto_hex_encode(mac, sizeof(mac), hex);
    char header[sizeof("t=,v1=") + sizeof(ts) + sizeof(hex)];
    snprintf(header, sizeof(header), "t=%s,v1=%s", ts, hex);
    *out = mh_xstrdup(header);
out:
    mh_crypto_wipe(mac, sizeof(mac));
    return rc;
}

/* ---- Standard Webhooks -------------------------------------------------------------------- */

/* 1..max visible ASCII characters (no spaces or controls). */
static bool valid_msg_id(const char *id, size_t len)
{
    if (len == 0 || len > MH_CRYPTO_STDWH_MAX_ID_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x21 || (unsigned char)id[i] > 0x7e)
            return false;
    return true;
}

enum mh_err mh_crypto_sig_stdwh_verify(const struct mh_crypto_sig_key *keys, size_t nkeys,
                                       const void *body, size_t body_len, const char *webhook_id,
                                       const char *webhook_timestamp, const char *webhook_signature,
                                       int64_t now, int64_t tolerance_s,
                                       struct mh_crypto_sig_result *result,
                                       struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct candidates cands = {.n = 0};
    size_t id_len = 0, ts_len = 0, sig_len = 0, seen = 0;
    int64_t ts = 0;

    result_init(result);
    rc = check_keys(keys, nkeys, result, info);
    if (rc != MH_OK)
        goto out;
    if (now < 0) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_BAD_CONFIG, "negative current time");
        goto out;
    }
    if (webhook_id == NULL || webhook_id[0] == '\0' || webhook_timestamp == NULL ||
        webhook_timestamp[0] == '\0' || webhook_signature == NULL || webhook_signature[0] == '\0') {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MISSING_HEADER, "%s header missing",
                      webhook_id == NULL || webhook_id[0] == '\0'          ? "webhook-id"
                      : webhook_timestamp == NULL || !webhook_timestamp[0] ? "webhook-timestamp"
                                                                           : "webhook-signature");
        goto out;
    }
    if (!header_len(webhook_id, &id_len) || !valid_msg_id(webhook_id, id_len)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "webhook-id must be 1..%d visible ASCII characters",
                      MH_CRYPTO_STDWH_MAX_ID_LEN);
        goto out;
    }
    ts_len = strnlen(webhook_timestamp, 16);
    if (!mh_crypto__parse_unix_ts(webhook_timestamp, ts_len, &ts)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "webhook-timestamp is not a unix timestamp in seconds");
        goto out;
    }
    if (result != NULL)
        result->timestamp = ts;
    if (!header_len(webhook_signature, &sig_len)) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "webhook-signature header too long");
        goto out;
    }
    const char *p = webhook_signature, *end = webhook_signature + sig_len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        const char *tok = p;
        while (p < end && *p != ' ' && *p != '\t')
            p++;
        size_t tok_len = (size_t)(p - tok);
        if (++seen > MH_CRYPTO_SIG_MAX_SIGS) {
            rc =
                sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                         "webhook-signature lists more than %d signatures", MH_CRYPTO_SIG_MAX_SIGS);
            goto out;
        }
        /* Only "v1,<base64>" counts; other versions (v1a: asymmetric) are skipped. */
        if (tok_len > 3 && memcmp(tok, "v1,", 3) == 0) {
            size_t n = 0;
            if (mh_crypto_b64_decode(MH_CRYPTO_B64_STD, tok + 3, tok_len - 3, cands.mac[cands.n],
                                     MH_CRYPTO_SHA256_LEN, &n) == MH_OK &&
                n == MH_CRYPTO_SHA256_LEN)
                cands.n++;
        }
    }
    if (cands.n == 0) {
        rc = sig_fail(result, info, MH_CRYPTO_SIG_MALFORMED_HEADER,
                      "webhook-signature has no well-formed v1 signature");
        goto out;
    }
    struct mh_crypto_span parts[] = {
        {webhook_id, id_len}, {".", 1}, {webhook_timestamp, ts_len}, {".", 1}, {body, body_len}};
    rc = verify_parts(MH_CRYPTO_HASH_SHA256, keys, nkeys, parts, 5, &cands, result, info);
    if (rc != MH_OK)
        goto out;
    rc = check_timestamp(ts, now, tolerance_s, result, info);
out:
    mh_crypto_wipe(&cands, sizeof(cands));
    return rc;
}

enum mh_err mh_crypto_sig_stdwh_sign(const struct mh_crypto_sig_key *keys, size_t nkeys,
                                     const char *msg_id, int64_t timestamp, const void *body,
                                     size_t body_len, char **out)
{
    enum mh_err rc = MH_OK;
    char ts[24];
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    /* "v1," + 44 base64 characters + a separator per key. */
    enum { PER_KEY = 3 + 44 + 1 };
    char *buf = NULL;
    size_t o = 0;

    *out = NULL;
    if (keys == NULL || nkeys == 0 || nkeys > MH_CRYPTO_SIG_MAX_KEYS || msg_id == NULL ||
        timestamp < 0)
        return MH_EINVAL;
    size_t id_len = strnlen(msg_id, MH_CRYPTO_STDWH_MAX_ID_LEN + 1);
    if (!valid_msg_id(msg_id, id_len))
        return MH_EINVAL;
    for (size_t k = 0; k < nkeys; k++)
        if (keys[k].key == NULL || keys[k].len == 0)
            return MH_EINVAL;
    int n = snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    struct mh_crypto_span parts[] = {
        {msg_id, id_len}, {".", 1}, {ts, (size_t)n}, {".", 1}, {body, body_len}};
    buf = mh_xmalloc(nkeys * PER_KEY + 1);
    for (size_t k = 0; k < nkeys; k++) {
        rc = mh_crypto_hmac_parts(MH_CRYPTO_HASH_SHA256, keys[k].key, keys[k].len, parts, 5, mac);
        if (rc != MH_OK)
            goto out;
        if (k > 0)
            buf[o++] = ' ';
        memcpy(buf + o, "v1,", 3);
        o += 3;
        mh_crypto_b64_encode(MH_CRYPTO_B64_STD, mac, sizeof(mac), buf + o);
        o += strlen(buf + o);
    }
    buf[o] = '\0';
    *out = buf;
    buf = NULL;
out:
    free(buf);
    mh_crypto_wipe(mac, sizeof(mac));
    return rc;
}

enum mh_err mh_crypto_stdwh_secret_decode(const char *secret, uint8_t *key, size_t cap,
                                          size_t *key_len)
{
    *key_len = 0;
    if (secret == NULL)
        return MH_EINVAL;
    if (strncmp(secret, "whsec_", 6) == 0)
        secret += 6;
    /* 64 bytes are 88 base64 characters; anything longer is out of range anyway. */
    size_t len = strnlen(secret, 89);
    if (len > 88)
        return MH_EINVAL;
    bool padded = memchr(secret, '=', len) != NULL || len % 4 == 0;
    /* Lenient on the tail bits: the official libraries decode with their language's base64,
     * which ignores them, so secrets with a non-canonical last character exist in the wild. */
    enum mh_err rc = mh_crypto_b64_decode_lenient(
        padded ? MH_CRYPTO_B64_STD : MH_CRYPTO_B64_STD_NOPAD, secret, len, key, cap, key_len);
    if (rc == MH_OK && (*key_len < MH_CRYPTO_STDWH_KEY_MIN || *key_len > MH_CRYPTO_STDWH_KEY_MAX))
        rc = MH_EINVAL;
    if (rc != MH_OK) {
        mh_crypto_wipe(key, *key_len);
        *key_len = 0;
        return rc == MH_ETOOBIG ? MH_EINVAL : rc;
    }
    return MH_OK;
}

enum mh_err mh_crypto_stdwh_secret_generate(char **out)
{
    uint8_t raw[32];
    char *s = NULL;
    *out = NULL;
    enum mh_err rc = mh_crypto_random(raw, sizeof(raw));
    if (rc != MH_OK)
        goto out;
    size_t n = 6 + mh_crypto_b64_encoded_len(sizeof(raw), MH_CRYPTO_B64_STD) + 1;
    s = mh_xmalloc(n);
    memcpy(s, "whsec_", 6);
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, raw, sizeof(raw), s + 6);
    *out = s;
out:
    mh_crypto_wipe(raw, sizeof(raw));
    return rc;
}
