/* SPDX-License-Identifier: MIT */
/*
 * A small JWS verifier over libcrypto, written instead of using libjwt so that every key pins
 * exactly one algorithm (DESIGN.md §2): the token's header only selects among configured keys.
 * Parsing is strict and bounded: one size check, three base64url segments, JSON objects without
 * duplicate keys. The signature is verified before any claim is trusted; ES256's JOSE r||s
 * signature is converted to the DER form OpenSSL verifies.
 */
#include "crypto/jwt.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#define MAX_KEYS 16

struct mh_crypto_jwt_key {
    enum mh_crypto_jwt_alg alg;
    char *kid;       /* NULL when none. */
    uint8_t *secret; /* HS256 only; wiped on destroy. */
    size_t secret_len;
    EVP_PKEY *pkey; /* RS256 and ES256 only. */
};

/* The token split into its segments, and the decoded header. */
struct jws {
    const char *header_b64, *payload_b64, *sig_b64;
    size_t header_b64_len, payload_b64_len, sig_b64_len;
    json_t *header;
    const char *alg_name;
    const char *kid; /* Borrowed from `header`; NULL when absent. */
    uint8_t *sig;
    size_t sig_len;
};

static enum mh_err status_err(enum mh_crypto_jwt_status st);
static enum mh_err jwt_fail(struct mh_crypto_jwt_result *res, struct mh_err_info *info,
                            enum mh_crypto_jwt_status st, const char *fmt, ...) MH_PRINTF(4, 5);
static bool kid_valid(const char *kid);
static json_t *decode_json_segment(const char *s, size_t len);
static bool ascii_ieq(const char *a, const char *b);
static bool split_token(const char *token, size_t len, struct jws *j);
static enum mh_err verify_hs256(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok);
static enum mh_err verify_pkey(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok);
static enum mh_err es256_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t **der,
                                    size_t *der_len);
static enum mh_err check_claims(const json_t *claims, const struct mh_crypto_jwt_verify_opts *o,
                                struct mh_crypto_jwt_result *res, struct mh_err_info *info);
static enum mh_err time_claim(const json_t *claims, const char *name, bool *present, double *value,
                              struct mh_crypto_jwt_result *res, struct mh_err_info *info);

const char *mh_crypto_jwt_alg_name(enum mh_crypto_jwt_alg alg)
{
    switch (alg) {
    case MH_CRYPTO_JWT_HS256: return "HS256";
    case MH_CRYPTO_JWT_RS256: return "RS256";
    case MH_CRYPTO_JWT_ES256: return "ES256";
    }
    return "?";
}

bool mh_crypto_jwt_alg_parse(const char *name, enum mh_crypto_jwt_alg *out)
{
    static const enum mh_crypto_jwt_alg all[] = {MH_CRYPTO_JWT_HS256, MH_CRYPTO_JWT_RS256,
                                                 MH_CRYPTO_JWT_ES256};
    if (name == NULL)
        return false;
    for (size_t i = 0; i < MH_ARRAY_LEN(all); i++) {
        if (strcmp(name, mh_crypto_jwt_alg_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    }
    return false;
}

const char *mh_crypto_jwt_status_str(enum mh_crypto_jwt_status status)
{
    switch (status) {
    case MH_CRYPTO_JWT_OK: return "ok";
    case MH_CRYPTO_JWT_MISSING_TOKEN: return "missing-token";
    case MH_CRYPTO_JWT_MALFORMED: return "malformed";
    case MH_CRYPTO_JWT_ALG_NONE: return "alg-none";
    case MH_CRYPTO_JWT_ALG_UNSUPPORTED: return "alg-unsupported";
    case MH_CRYPTO_JWT_ALG_NOT_ALLOWED: return "alg-not-allowed";
    case MH_CRYPTO_JWT_UNKNOWN_KID: return "unknown-kid";
    case MH_CRYPTO_JWT_BAD_SIGNATURE: return "bad-signature";
    case MH_CRYPTO_JWT_EXPIRED: return "expired";
    case MH_CRYPTO_JWT_NOT_YET_VALID: return "not-yet-valid";
    case MH_CRYPTO_JWT_ISSUED_IN_FUTURE: return "issued-in-future";
    case MH_CRYPTO_JWT_MISSING_EXP: return "missing-exp";
    case MH_CRYPTO_JWT_WRONG_ISSUER: return "wrong-issuer";
    case MH_CRYPTO_JWT_WRONG_AUDIENCE: return "wrong-audience";
    case MH_CRYPTO_JWT_BAD_CONFIG: return "bad-config";
    case MH_CRYPTO_JWT_INTERNAL: return "internal";
    }
    return "internal";
}

static enum mh_err status_err(enum mh_crypto_jwt_status st)
{
    switch (st) {
    case MH_CRYPTO_JWT_OK: return MH_OK;
    case MH_CRYPTO_JWT_BAD_CONFIG: return MH_EINVAL;
    case MH_CRYPTO_JWT_INTERNAL: return MH_ECRYPTO;
    default: return MH_EAUTH;
    }
}

static enum mh_err jwt_fail(struct mh_crypto_jwt_result *res, struct mh_err_info *info,
                            enum mh_crypto_jwt_status st, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (res != NULL)
        res->status = st;
    return mh_err_set(info, status_err(st), mh_crypto_jwt_status_str(st), -1, "%s", msg);
}

/* ---- Keys --------------------------------------------------------------------------------- */

static bool kid_valid(const char *kid)
{
    return kid == NULL || (kid[0] != '\0' && strnlen(kid, MH_CRYPTO_JWT_MAX_KID_LEN + 1) <=
                                                 MH_CRYPTO_JWT_MAX_KID_LEN);
}

enum mh_err mh_crypto_jwt_key_create_hmac(const char *kid, const void *secret, size_t secret_len,
                                          struct mh_crypto_jwt_key **out, struct mh_err_info *info)
{
    *out = NULL;
    if (!kid_valid(kid))
        return mh_err_set(info, MH_EINVAL, "bad-config", -1, "kid must be 1..%d bytes",
                          MH_CRYPTO_JWT_MAX_KID_LEN);
    if (secret == NULL || secret_len < MH_CRYPTO_JWT_HMAC_MIN_KEY)
        return mh_err_set(info, MH_EINVAL, "bad-config", -1,
                          "an HS256 secret needs at least %d bytes", MH_CRYPTO_JWT_HMAC_MIN_KEY);
    struct mh_crypto_jwt_key *k = mh_xcalloc(1, sizeof(*k));
    k->alg = MH_CRYPTO_JWT_HS256;
    k->kid = kid ? mh_xstrdup(kid) : NULL;
    k->secret = mh_xmalloc(secret_len);
    memcpy(k->secret, secret, secret_len);
    k->secret_len = secret_len;
    *out = k;
    return MH_OK;
}

enum mh_err mh_crypto_jwt_key_create_pem(enum mh_crypto_jwt_alg alg, const char *kid,
                                         const char *pem, size_t pem_len,
                                         struct mh_crypto_jwt_key **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    BIO *bio = NULL;
    EVP_PKEY *pkey = NULL;
    char group[64];

    *out = NULL;
    if (alg != MH_CRYPTO_JWT_RS256 && alg != MH_CRYPTO_JWT_ES256) {
        rc = mh_err_set(info, MH_EINVAL, "bad-config", -1, "a PEM key needs RS256 or ES256");
        goto out;
    }
    if (!kid_valid(kid)) {
        rc = mh_err_set(info, MH_EINVAL, "bad-config", -1, "kid must be 1..%d bytes",
                        MH_CRYPTO_JWT_MAX_KID_LEN);
        goto out;
    }
    if (pem == NULL || pem_len == 0 || pem_len > 64 * 1024 ||
        (bio = BIO_new_mem_buf(pem, (int)pem_len)) == NULL ||
        (pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "bad-config", -1,
                        "not a PEM public key (-----BEGIN PUBLIC KEY-----)");
        goto out;
    }
    if (alg == MH_CRYPTO_JWT_RS256) {
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            rc = mh_err_set(info, MH_EINVAL, "bad-config", -1, "RS256 needs an RSA key");
            goto out;
        }
        if (EVP_PKEY_get_bits(pkey) < MH_CRYPTO_JWT_RSA_MIN_BITS) {
            rc = mh_err_set(info, MH_EINVAL, "bad-config", -1,
                            "RSA key of %d bits; at least %d required", EVP_PKEY_get_bits(pkey),
                            MH_CRYPTO_JWT_RSA_MIN_BITS);
            goto out;
        }
    } else {
        if (!EVP_PKEY_is_a(pkey, "EC") ||
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1 ||
            (strcmp(group, "prime256v1") != 0 && strcmp(group, "P-256") != 0)) {
            rc = mh_err_set(info, MH_EINVAL, "bad-config", -1, "ES256 needs an EC P-256 key");
            goto out;
        }
    }
    struct mh_crypto_jwt_key *k = mh_xcalloc(1, sizeof(*k));
    k->alg = alg;
    k->kid = kid ? mh_xstrdup(kid) : NULL;
    k->pkey = pkey;
    pkey = NULL;
    *out = k;
out:
    if (rc != MH_OK)
        mh_crypto__clear_errors();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

void mh_crypto_jwt_key_destroy(struct mh_crypto_jwt_key *key)
{
    if (key == NULL)
        return;
    mh_crypto_free_secret(key->secret, key->secret_len);
    EVP_PKEY_free(key->pkey);
    free(key->kid);
    free(key);
}

enum mh_crypto_jwt_alg mh_crypto_jwt_key_alg(const struct mh_crypto_jwt_key *key)
{
    return key->alg;
}

const char *mh_crypto_jwt_key_kid(const struct mh_crypto_jwt_key *key)
{
    return key->kid;
}

/* ---- Parsing ------------------------------------------------------------------------------ */

enum mh_err mh_crypto_jwt_from_bearer(const char *authorization, const char **token,
                                      size_t *token_len, struct mh_err_info *info)
{
    *token = NULL;
    *token_len = 0;
    if (authorization == NULL)
        return mh_err_set(info, MH_EAUTH, "missing-token", -1, "Authorization header missing");
    const char *p = authorization;
    while (*p == ' ' || *p == '\t')
        p++;
    if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
        return mh_err_set(info, MH_EAUTH, "missing-token", -1,
                          "Authorization header is not a Bearer token");
    p += 6;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t n = strcspn(p, " \t");
    const char *rest = p + n;
    while (*rest == ' ' || *rest == '\t')
        rest++;
    if (n == 0 || *rest != '\0')
        return mh_err_set(info, MH_EAUTH, "malformed", -1, "Bearer token empty or not one word");
    *token = p;
    *token_len = n;
    return MH_OK;
}

/* A JSON object from one base64url segment, or NULL. Duplicate member names are refused, so the
 * verifier and any later reader cannot disagree about which "alg" or "exp" counts. */
static json_t *decode_json_segment(const char *s, size_t len)
{
    size_t cap = mh_crypto_b64_decoded_max(len), n = 0;
    uint8_t *buf = mh_xmalloc(cap);
    json_t *j = NULL;
    if (mh_crypto_b64_decode(MH_CRYPTO_B64_URL_NOPAD, s, len, buf, cap, &n) == MH_OK) {
        j = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, NULL);
        if (j != NULL && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
        }
    }
    free(buf);
    return j;
}

static bool ascii_ieq(const char *a, const char *b)
{
    return strcasecmp(a, b) == 0;
}

/* Three non-empty-header segments separated by exactly two dots. */
static bool split_token(const char *token, size_t len, struct jws *j)
{
    const char *d1 = memchr(token, '.', len);
    if (d1 == NULL)
        return false;
    const char *d2 = memchr(d1 + 1, '.', (size_t)(token + len - d1 - 1));
    if (d2 == NULL || memchr(d2 + 1, '.', (size_t)(token + len - d2 - 1)) != NULL)
        return false;
    j->header_b64 = token;
    j->header_b64_len = (size_t)(d1 - token);
    j->payload_b64 = d1 + 1;
    j->payload_b64_len = (size_t)(d2 - d1 - 1);
    j->sig_b64 = d2 + 1;
    j->sig_b64_len = (size_t)(token + len - d2 - 1);
    return j->header_b64_len > 0 && j->payload_b64_len > 0;
}

/* ---- Signatures --------------------------------------------------------------------------- */

static enum mh_err verify_hs256(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok)
{
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    struct mh_crypto_span parts[] = {
        {j->header_b64, j->header_b64_len}, {".", 1}, {j->payload_b64, j->payload_b64_len}};
    *ok = false;
    enum mh_err rc =
        mh_crypto_hmac_parts(MH_CRYPTO_HASH_SHA256, key->secret, key->secret_len, parts, 3, mac);
    if (rc == MH_OK)
        *ok = j->sig_len == sizeof(mac) && mh_crypto_ct_equal(mac, j->sig, sizeof(mac));
    mh_crypto_wipe(mac, sizeof(mac));
    return rc;
}

/* JOSE ES256 signatures are r||s, 32 bytes each (RFC 7518 §3.4); OpenSSL verifies DER. */
static enum mh_err es256_raw_to_der(const uint8_t *raw, size_t raw_len, uint8_t **der,
                                    size_t *der_len)
{
    enum mh_err rc = MH_OK;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *buf = NULL;

    *der = NULL;
    *der_len = 0;
    if (raw_len != 64)
        return MH_EINVAL;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    r = s = NULL; /* Owned by sig now. */
    int n = i2d_ECDSA_SIG(sig, &buf);
    if (n <= 0) {
        rc = MH_ECRYPTO;
        goto out;
    }
    *der = mh_xmalloc((size_t)n);
    memcpy(*der, buf, (size_t)n);
    *der_len = (size_t)n;
out:
    OPENSSL_free(buf);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return rc;
}

static enum mh_err verify_pkey(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok)
{
    enum mh_err rc = MH_OK;
    EVP_MD_CTX *ctx = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    const uint8_t *sig = j->sig;
    size_t sig_len = j->sig_len;
    /* The signing input is the two encoded segments and the dot between them, contiguous in
     * the token. */
    const unsigned char *input = (const unsigned char *)j->header_b64;
    size_t input_len = j->header_b64_len + 1 + j->payload_b64_len;

    *ok = false;
    if (key->alg == MH_CRYPTO_JWT_ES256) {
        if (es256_raw_to_der(j->sig, j->sig_len, &der, &der_len) != MH_OK)
            goto out; /* Wrong size: simply not valid. */
        sig = der;
        sig_len = der_len;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        goto out;
    }
    const EVP_MD *md = mh_crypto__md(MH_CRYPTO_HASH_SHA256);
    if (md == NULL || (ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(ctx, NULL, md, NULL, key->pkey) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    /* 1 is a valid signature; 0 or a negative value (e.g. undecodable DER) are both "no". */
    *ok = EVP_DigestVerify(ctx, sig, sig_len, input, input_len) == 1;
out:
    mh_crypto__clear_errors();
    EVP_MD_CTX_free(ctx);
    free(der);
    return rc;
}

/* ---- Claims ------------------------------------------------------------------------------- */

static enum mh_err time_claim(const json_t *claims, const char *name, bool *present, double *value,
                              struct mh_crypto_jwt_result *res, struct mh_err_info *info)
{
    json_t *v = json_object_get(claims, name);
    *present = v != NULL;
    if (v == NULL)
        return MH_OK;
    if (!json_is_number(v))
        return jwt_fail(res, info, MH_CRYPTO_JWT_MALFORMED, "claim %s is not a number", name);
    *value = json_number_value(v);
    return MH_OK;
}

static enum mh_err check_claims(const json_t *claims, const struct mh_crypto_jwt_verify_opts *o,
                                struct mh_crypto_jwt_result *res, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    bool has_exp = false, has_nbf = false, has_iat = false;
    double exp = 0, nbf = 0, iat = 0;
    double now = (double)o->now, leeway = (double)o->leeway_s;

    if ((rc = time_claim(claims, "exp", &has_exp, &exp, res, info)) != MH_OK ||
        (rc = time_claim(claims, "nbf", &has_nbf, &nbf, res, info)) != MH_OK ||
        (rc = time_claim(claims, "iat", &has_iat, &iat, res, info)) != MH_OK)
        return rc;
    if (!has_exp && !o->allow_missing_exp)
        return jwt_fail(res, info, MH_CRYPTO_JWT_MISSING_EXP, "token has no exp claim");
    if (has_exp && now - leeway >= exp)
        return jwt_fail(res, info, MH_CRYPTO_JWT_EXPIRED, "token expired %.0f s ago", now - exp);
    if (has_nbf && now + leeway < nbf)
        return jwt_fail(res, info, MH_CRYPTO_JWT_NOT_YET_VALID, "token not valid for %.0f s",
                        nbf - now);
    if (has_iat && iat > now + leeway)
        return jwt_fail(res, info, MH_CRYPTO_JWT_ISSUED_IN_FUTURE,
                        "token issued %.0f s in the future", iat - now);
    if (o->issuer != NULL) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (iss == NULL || strcmp(iss, o->issuer) != 0)
            return jwt_fail(res, info, MH_CRYPTO_JWT_WRONG_ISSUER,
                            "iss is missing or not the expected issuer");
    }
    if (o->audience != NULL) {
        json_t *aud = json_object_get(claims, "aud");
        bool found = false;
        if (json_is_string(aud)) {
            found = strcmp(json_string_value(aud), o->audience) == 0;
        } else if (json_is_array(aud)) {
            size_t i;
            json_t *a;
            json_array_foreach(aud, i, a)
            {
                if (json_is_string(a) && strcmp(json_string_value(a), o->audience) == 0)
                    found = true;
            }
        }
        if (!found)
            return jwt_fail(res, info, MH_CRYPTO_JWT_WRONG_AUDIENCE,
                            "aud is missing or does not include the expected audience");
    }
    return MH_OK;
}

/* ---- Verification ------------------------------------------------------------------------- */

enum mh_err mh_crypto_jwt_verify(const char *token, size_t token_len,
                                 const struct mh_crypto_jwt_key *const *keys, size_t nkeys,
                                 const struct mh_crypto_jwt_verify_opts *opts, json_t **claims,
                                 struct mh_crypto_jwt_result *result, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct jws j = {.header = NULL};
    json_t *payload = NULL;
    enum mh_crypto_jwt_alg alg;
    bool kid_matched = false, alg_matched = false, verified = false;
    size_t key_index = 0;

    if (claims != NULL)
        *claims = NULL;
    if (result != NULL)
        *result = (struct mh_crypto_jwt_result){.status = MH_CRYPTO_JWT_INTERNAL};
    if (keys == NULL || nkeys == 0 || nkeys > MAX_KEYS || opts == NULL || opts->leeway_s < 0) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_BAD_CONFIG,
                      "need 1..%d keys and a non-negative leeway", MAX_KEYS);
        goto out;
    }
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i] == NULL) {
            rc = jwt_fail(result, info, MH_CRYPTO_JWT_BAD_CONFIG, "key %zu is NULL", i);
            goto out;
        }
    }
    if (token == NULL || token_len == 0) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MISSING_TOKEN, "no token");
        goto out;
    }
    if (token_len > MH_CRYPTO_JWT_MAX_LEN) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED, "token longer than %d bytes",
                      MH_CRYPTO_JWT_MAX_LEN);
        goto out;
    }
    if (!split_token(token, token_len, &j)) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED,
                      "token is not three dot-separated parts");
        goto out;
    }
    if ((j.header = decode_json_segment(j.header_b64, j.header_b64_len)) == NULL) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED,
                      "header is not base64url-encoded JSON object");
        goto out;
    }
    j.alg_name = json_string_value(json_object_get(j.header, "alg"));
    if (j.alg_name == NULL) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED, "header has no string alg");
        goto out;
    }
    if (ascii_ieq(j.alg_name, "none")) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_ALG_NONE, "unsigned tokens (alg none) refused");
        goto out;
    }
    if (!mh_crypto_jwt_alg_parse(j.alg_name, &alg)) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_ALG_UNSUPPORTED,
                      "algorithm not supported (HS256, RS256, ES256 are)");
        goto out;
    }
    json_t *kid = json_object_get(j.header, "kid");
    if (kid != NULL && !json_is_string(kid)) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED, "kid is not a string");
        goto out;
    }
    j.kid = json_string_value(kid);
    if (json_object_get(j.header, "crit") != NULL) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED, "crit extensions not supported");
        goto out;
    }
    /* The signature segment must decode even before key selection, so that a malformed token is
     * reported as such whatever the configuration. */
    size_t cap = mh_crypto_b64_decoded_max(j.sig_b64_len);
    j.sig = mh_xmalloc(cap);
    if (j.sig_b64_len == 0 ||
        mh_crypto_b64_decode(MH_CRYPTO_B64_URL_NOPAD, j.sig_b64, j.sig_b64_len, j.sig, cap,
                             &j.sig_len) != MH_OK) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED, "signature is not base64url");
        goto out;
    }
    for (size_t i = 0; i < nkeys && !verified; i++) {
        const struct mh_crypto_jwt_key *k = keys[i];
        if (k->kid != NULL && j.kid != NULL && strcmp(k->kid, j.kid) != 0)
            continue;
        kid_matched = true;
        /* The pin: a key is only ever used with its own algorithm. */
        if (k->alg != alg)
            continue;
        alg_matched = true;
        bool ok = false;
        rc = alg == MH_CRYPTO_JWT_HS256 ? verify_hs256(k, &j, &ok) : verify_pkey(k, &j, &ok);
        if (rc != MH_OK) {
            rc = jwt_fail(result, info, MH_CRYPTO_JWT_INTERNAL, "signature check failed");
            goto out;
        }
        if (ok) {
            verified = true;
            key_index = i;
        }
    }
    if (!kid_matched) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_UNKNOWN_KID, "no key has the token's kid");
        goto out;
    }
    if (!alg_matched) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_ALG_NOT_ALLOWED, "no matching key allows %s",
                      mh_crypto_jwt_alg_name(alg));
        goto out;
    }
    if (!verified) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_BAD_SIGNATURE, "signature does not verify");
        goto out;
    }
    if ((payload = decode_json_segment(j.payload_b64, j.payload_b64_len)) == NULL) {
        rc = jwt_fail(result, info, MH_CRYPTO_JWT_MALFORMED,
                      "payload is not a base64url-encoded JSON object");
        goto out;
    }
    rc = check_claims(payload, opts, result, info);
    if (rc != MH_OK)
        goto out;
    if (result != NULL) {
        result->status = MH_CRYPTO_JWT_OK;
        result->key_index = key_index;
    }
    if (claims != NULL) {
        *claims = payload;
        payload = NULL;
    }
out:
    json_decref(payload);
    json_decref(j.header);
    free(j.sig);
    return rc;
}
