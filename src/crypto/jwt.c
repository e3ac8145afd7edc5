/* SPDX-License-Identifier: MIT */
/*
 * A small JWS verifier over libcrypto, written instead of using libjwt so that every key pins
 * exactly one algorithm (docs/architecture.md §2): the token's header only selects among configured
 * keys. Parsing is strict and bounded: one size check, three base64url segments, JSON objects
 * without duplicate keys. The signature is verified before any claim is trusted; ECDSA's JOSE r||s
 * signature is converted to the DER form OpenSSL verifies. Public keys come from PEM or from
 * JWK members built into an EVP_PKEY with OSSL_PARAM; both go through one check of type, size
 * and curve per algorithm.
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
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#define MAX_KEYS 16

struct mh_crypto_jwt_key {
    enum mh_crypto_jwt_alg alg;
    char *kid;       /* NULL when none. */
    uint8_t *secret; /* HS256 only; wiped on destroy. */
    size_t secret_len;
    EVP_PKEY *pkey; /* Every other algorithm. */
};

/* Per algorithm: JWS name, configuration name, digest (NULL: EdDSA hashes itself) and the size
 * of one ECDSA coordinate (0: not ECDSA). */
struct alg_info {
    const char *name, *config_name;
    int hash_bits;
    size_t ec_coord;
    const char *curve; /* the EC group name OpenSSL reports */
};

static const struct alg_info algs[] = {
    [MH_CRYPTO_JWT_HS256] = {"HS256", "hs256", 256, 0, NULL},
    [MH_CRYPTO_JWT_RS256] = {"RS256", "rs256", 256, 0, NULL},
    [MH_CRYPTO_JWT_ES256] = {"ES256", "es256", 256, 32, "prime256v1"},
    [MH_CRYPTO_JWT_ES384] = {"ES384", "es384", 384, 48, "secp384r1"},
    [MH_CRYPTO_JWT_ES512] = {"ES512", "es512", 512, 66, "secp521r1"},
    [MH_CRYPTO_JWT_PS256] = {"PS256", "ps256", 256, 0, NULL},
    [MH_CRYPTO_JWT_EDDSA] = {"EdDSA", "eddsa", 0, 0, NULL},
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

static enum mh_err jwt_fail(struct mh_crypto_jwt_result *res, struct mh_err_info *info,
                            enum mh_crypto_jwt_status st, const char *fmt, ...) MH_PRINTF(4, 5);
static bool kid_valid(const char *kid);
static const EVP_MD *alg_md(enum mh_crypto_jwt_alg alg);
static enum mh_err check_pkey(enum mh_crypto_jwt_alg alg, EVP_PKEY *pkey, struct mh_err_info *info);
static enum mh_err new_pkey_key(enum mh_crypto_jwt_alg alg, const char *kid, EVP_PKEY **pkey,
                                struct mh_crypto_jwt_key **out);
static enum mh_err jwk_fail(struct mh_err_info *info, const char *path, const char *fmt, ...)
    MH_PRINTF(3, 4);
static enum mh_err jwk_bytes(json_t *jwk, const char *name, size_t want, uint8_t **out, size_t *len,
                             struct mh_err_info *info);
static enum mh_err from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out);
static enum mh_err jwk_rsa(json_t *jwk, EVP_PKEY **out, struct mh_err_info *info);
static enum mh_err jwk_ec(json_t *jwk, const char *crv, EVP_PKEY **out, struct mh_err_info *info);
static enum mh_err jwk_okp(json_t *jwk, EVP_PKEY **out, struct mh_err_info *info);
static json_t *decode_json_segment(const char *s, size_t len);
static bool ascii_ieq(const char *a, const char *b);
static bool split_token(const char *token, size_t len, struct jws *j);
static enum mh_err verify_hs256(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok);
static enum mh_err verify_pkey(const struct mh_crypto_jwt_key *key, const struct jws *j, bool *ok);
static enum mh_err ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, size_t coord, uint8_t **der,
                                    size_t *der_len);
static enum mh_err check_claims(const json_t *claims, const struct mh_crypto_jwt_verify_opts *o,
                                struct mh_crypto_jwt_result *res, struct mh_err_info *info);
static enum mh_err time_claim(const json_t *claims, const char *name, bool *present, double *value,
                              struct mh_crypto_jwt_result *res, struct mh_err_info *info);

const char *mh_crypto_jwt_alg_name(enum mh_crypto_jwt_alg alg)
{
    return (size_t)alg < MH_ARRAY_LEN(algs) ? algs[alg].name : "?";
}

const char *mh_crypto_jwt_alg_config_name(enum mh_crypto_jwt_alg alg)
{
    return (size_t)alg < MH_ARRAY_LEN(algs) ? algs[alg].config_name : "?";
}

bool mh_crypto_jwt_alg_parse(const char *name, enum mh_crypto_jwt_alg *out)
{
    for (size_t i = 0; name != NULL && i < MH_ARRAY_LEN(algs); i++) {
        if (strcmp(name, algs[i].name) == 0) {
            *out = (enum mh_crypto_jwt_alg)i;
            return true;
        }
    }
    return false;
}

bool mh_crypto_jwt_alg_parse_config(const char *name, enum mh_crypto_jwt_alg *out)
{
    for (size_t i = 0; name != NULL && i < MH_ARRAY_LEN(algs); i++) {
        if (strcmp(name, algs[i].config_name) == 0) {
            *out = (enum mh_crypto_jwt_alg)i;
            return true;
        }
    }
    return false;
}

static const EVP_MD *alg_md(enum mh_crypto_jwt_alg alg)
{
    switch (algs[alg].hash_bits) {
    case 256: return mh_crypto__md(MH_CRYPTO_HASH_SHA256);
    case 384: return EVP_sha384();
    case 512: return mh_crypto__md(MH_CRYPTO_HASH_SHA512);
    default: return NULL;
    }
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

static enum mh_err jwt_fail(struct mh_crypto_jwt_result *res, struct mh_err_info *info,
                            enum mh_crypto_jwt_status st, const char *fmt, ...)
{
    if (res != NULL)
        res->status = st;
    enum mh_crypto__fail_kind kind = st == MH_CRYPTO_JWT_BAD_CONFIG ? MH_CRYPTO__BAD_CONFIG
                                     : st == MH_CRYPTO_JWT_INTERNAL ? MH_CRYPTO__INTERNAL
                                                                    : MH_CRYPTO__REJECTED;
    va_list ap;
    va_start(ap, fmt);
    enum mh_err rc = mh_crypto__vfail(info, kind, mh_crypto_jwt_status_str(st), fmt, ap);
    va_end(ap);
    return rc;
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

/* The one check of a public key against the algorithm it is pinned to, for PEM and JWK alike. */
static enum mh_err check_pkey(enum mh_crypto_jwt_alg alg, EVP_PKEY *pkey, struct mh_err_info *info)
{
    char group[64];
    const char *name = algs[alg].name;
    switch (alg) {
    case MH_CRYPTO_JWT_RS256:
    case MH_CRYPTO_JWT_PS256: {
        if (!EVP_PKEY_is_a(pkey, "RSA") &&
            !(alg == MH_CRYPTO_JWT_PS256 && EVP_PKEY_is_a(pkey, "RSA-PSS")))
            return mh_err_set(info, MH_EINVAL, "bad-config", -1, "%s needs an RSA key", name);
        int bits = EVP_PKEY_get_bits(pkey);
        if (bits < MH_CRYPTO_JWT_RSA_MIN_BITS || bits > MH_CRYPTO_JWT_RSA_MAX_BITS)
            return mh_err_set(info, MH_EINVAL, "bad-config", -1,
                              "RSA key of %d bits; %d to %d required", bits,
                              MH_CRYPTO_JWT_RSA_MIN_BITS, MH_CRYPTO_JWT_RSA_MAX_BITS);
        return MH_OK;
    }
    case MH_CRYPTO_JWT_ES256:
    case MH_CRYPTO_JWT_ES384:
    case MH_CRYPTO_JWT_ES512:
        if (!EVP_PKEY_is_a(pkey, "EC") ||
            EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                           NULL) != 1 ||
            strcmp(group, algs[alg].curve) != 0)
            return mh_err_set(info, MH_EINVAL, "bad-config", -1, "%s needs an EC %s key", name,
                              alg == MH_CRYPTO_JWT_ES256   ? "P-256"
                              : alg == MH_CRYPTO_JWT_ES384 ? "P-384"
                                                           : "P-521");
        return MH_OK;
    case MH_CRYPTO_JWT_EDDSA:
        if (!EVP_PKEY_is_a(pkey, "ED25519"))
            return mh_err_set(info, MH_EINVAL, "bad-config", -1, "EdDSA needs an Ed25519 key");
        return MH_OK;
    case MH_CRYPTO_JWT_HS256: break;
    }
    return mh_err_set(info, MH_EINVAL, "bad-config", -1, "a public key cannot be used with HS256");
}

/* Wraps a checked `*pkey` (stolen) into a new key. */
static enum mh_err new_pkey_key(enum mh_crypto_jwt_alg alg, const char *kid, EVP_PKEY **pkey,
                                struct mh_crypto_jwt_key **out)
{
    struct mh_crypto_jwt_key *k = mh_xcalloc(1, sizeof(*k));
    k->alg = alg;
    k->kid = kid ? mh_xstrdup(kid) : NULL;
    k->pkey = *pkey;
    *pkey = NULL;
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

    *out = NULL;
    if ((size_t)alg >= MH_ARRAY_LEN(algs) || alg == MH_CRYPTO_JWT_HS256) {
        rc = mh_err_set(info, MH_EINVAL, "bad-config", -1,
                        "a PEM key needs a public-key algorithm, not HS256");
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
    if ((rc = check_pkey(alg, pkey, info)) != MH_OK)
        goto out;
    rc = new_pkey_key(alg, kid, &pkey, out);
out:
    if (rc != MH_OK)
        mh_crypto__clear_errors();
    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}

/* ---- JWK ---------------------------------------------------------------------------------- */

static enum mh_err jwk_fail(struct mh_err_info *info, const char *path, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mh_err_set(info, MH_EINVAL, "bad-config", -1, "%s", msg);
    mh_err_set_path(info, path);
    return MH_EINVAL;
}

/* The bytes of base64url member `name` into a new buffer; `want` > 0 demands that length. */
static enum mh_err jwk_bytes(json_t *jwk, const char *name, size_t want, uint8_t **out, size_t *len,
                             struct mh_err_info *info)
{
    char path[16];
    snprintf(path, sizeof(path), "/%s", name);
    *out = NULL;
    const char *v = json_string_value(json_object_get(jwk, name));
    if (v == NULL)
        return jwk_fail(info, path, "the JWK needs \"%s\" as a base64url string", name);
    size_t vlen = json_string_length(json_object_get(jwk, name));
    if (vlen > 2048)
        return jwk_fail(info, path, "\"%s\" is too long", name);
    size_t cap = mh_crypto_b64_decoded_max(vlen);
    uint8_t *buf = mh_xmalloc(cap);
    if (mh_crypto_b64_decode(MH_CRYPTO_B64_URL_NOPAD, v, vlen, buf, cap, len) != MH_OK ||
        *len == 0) {
        free(buf);
        return jwk_fail(info, path, "\"%s\" is not unpadded base64url", name);
    }
    if (want != 0 && *len != want) {
        free(buf);
        return jwk_fail(info, path, "\"%s\" must be %zu bytes, not %zu", name, want, *len);
    }
    *out = buf;
    return MH_OK;
}

/* An EVP_PKEY from `bld`'s public members. EC points are checked to lie on the curve (an
 * invalid-curve point must never reach a verification); RSA needs no such check, and its size
 * is judged by check_pkey. */
static enum mh_err from_params(const char *type, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY_CTX *check = NULL;
    enum mh_err rc = MH_EINVAL;
    *out = NULL;
    if (params != NULL && ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_PUBLIC_KEY, params) == 1 && *out != NULL &&
        (strcmp(type, "EC") != 0 ||
         ((check = EVP_PKEY_CTX_new_from_pkey(NULL, *out, NULL)) != NULL &&
          EVP_PKEY_public_check(check) == 1)))
        rc = MH_OK;
    if (rc != MH_OK) {
        EVP_PKEY_free(*out);
        *out = NULL;
    }
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return rc;
}

static enum mh_err jwk_rsa(json_t *jwk, EVP_PKEY **out, struct mh_err_info *info)
{
    uint8_t *n = NULL, *e = NULL;
    size_t nlen = 0, elen = 0;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    enum mh_err rc = MH_OK;
    if ((rc = jwk_bytes(jwk, "n", 0, &n, &nlen, info)) != MH_OK ||
        (rc = jwk_bytes(jwk, "e", 0, &e, &elen, info)) != MH_OK)
        goto out;
    if (nlen > MH_CRYPTO_JWT_RSA_MAX_BITS / 8 + 1 || elen > 8) {
        rc = jwk_fail(info, nlen > MH_CRYPTO_JWT_RSA_MAX_BITS / 8 + 1 ? "/n" : "/e",
                      "RSA modulus or exponent too large");
        goto out;
    }
    if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
        (be = BN_bin2bn(e, (int)elen, NULL)) == NULL || (bld = OSSL_PARAM_BLD_new()) == NULL ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1 ||
        from_params("RSA", bld, out) != MH_OK)
        rc = jwk_fail(info, "/n", "\"n\" and \"e\" are not an RSA public key");
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return rc;
}

static enum mh_err jwk_ec(json_t *jwk, const char *crv, EVP_PKEY **out, struct mh_err_info *info)
{
    size_t coord = strcmp(crv, "P-256") == 0 ? 32 : strcmp(crv, "P-384") == 0 ? 48 : 66;
    uint8_t *x = NULL, *y = NULL, *point = NULL;
    size_t xlen = 0, ylen = 0;
    OSSL_PARAM_BLD *bld = NULL;
    enum mh_err rc = MH_OK;
    if ((rc = jwk_bytes(jwk, "x", coord, &x, &xlen, info)) != MH_OK ||
        (rc = jwk_bytes(jwk, "y", coord, &y, &ylen, info)) != MH_OK)
        goto out;
    MH_ASSERT(x != NULL && y != NULL && xlen == coord && ylen == coord);
    /* An uncompressed point: 0x04 || x || y (SEC 1 §2.3.3). */
    point = mh_xmalloc(1 + 2 * coord);
    point[0] = 0x04;
    memcpy(point + 1, x, coord);
    memcpy(point + 1 + coord, y, coord);
    if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, crv, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord) != 1 ||
        from_params("EC", bld, out) != MH_OK)
        rc = jwk_fail(info, "/x", "\"x\" and \"y\" are not a point on %s", crv);
out:
    OSSL_PARAM_BLD_free(bld);
    free(point);
    free(x);
    free(y);
    return rc;
}

static enum mh_err jwk_okp(json_t *jwk, EVP_PKEY **out, struct mh_err_info *info)
{
    uint8_t *x = NULL;
    size_t xlen = 0;
    enum mh_err rc = jwk_bytes(jwk, "x", 32, &x, &xlen, info);
    if (rc == MH_OK &&
        (*out = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xlen)) == NULL)
        rc = jwk_fail(info, "/x", "\"x\" is not an Ed25519 public key");
    free(x);
    return rc;
}

enum mh_err mh_crypto_jwt_key_create_jwk(json_t *jwk, const enum mh_crypto_jwt_alg *alg_hint,
                                         struct mh_crypto_jwt_key **out, struct mh_err_info *info)
{
    static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};
    enum mh_err rc = MH_OK;
    EVP_PKEY *pkey = NULL;
    enum mh_crypto_jwt_alg alg = MH_CRYPTO_JWT_HS256;
    bool has_alg = false;

    *out = NULL;
    if (!json_is_object(jwk)) {
        rc = jwk_fail(info, "", "a JWK is a JSON object");
        goto out;
    }
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    json_t *kid = json_object_get(jwk, "kid");
    json_t *alg_v = json_object_get(jwk, "alg");
    json_t *use = json_object_get(jwk, "use");
    json_t *ops = json_object_get(jwk, "key_ops");
    if (kty == NULL) {
        rc = jwk_fail(info, "/kty", "the JWK needs \"kty\": RSA, EC or OKP");
        goto out;
    }
    if (strcmp(kty, "oct") == 0) {
        rc = jwk_fail(info, "/kty",
                      "an \"oct\" JWK is a shared secret: give an HS256 secret as a secret");
        goto out;
    }
    for (size_t i = 0; i < MH_ARRAY_LEN(private_members); i++) {
        if (json_object_get(jwk, private_members[i]) != NULL) {
            char path[8];
            snprintf(path, sizeof(path), "/%s", private_members[i]);
            rc = jwk_fail(info, path, "this JWK holds a private key: give only its public members");
            goto out;
        }
    }
    if (use != NULL && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0)) {
        rc = jwk_fail(info, "/use", "\"use\" must be \"sig\" for a verification key");
        goto out;
    }
    if (ops != NULL) {
        bool verify = false;
        size_t i;
        json_t *op;
        if (!json_is_array(ops)) {
            rc = jwk_fail(info, "/key_ops", "\"key_ops\" must be an array");
            goto out;
        }
        json_array_foreach(ops, i, op) verify |=
            json_is_string(op) && strcmp(json_string_value(op), "verify") == 0;
        if (!verify) {
            rc = jwk_fail(info, "/key_ops", "\"key_ops\" does not allow \"verify\"");
            goto out;
        }
    }
    if (kid != NULL && (!json_is_string(kid) || !kid_valid(json_string_value(kid)))) {
        rc = jwk_fail(info, "/kid", "\"kid\" must be a string of 1..%d bytes",
                      MH_CRYPTO_JWT_MAX_KID_LEN);
        goto out;
    }
    if (alg_v != NULL) {
        if (!mh_crypto_jwt_alg_parse(json_string_value(alg_v), &alg) ||
            alg == MH_CRYPTO_JWT_HS256) {
            rc = jwk_fail(info, "/alg",
                          "\"alg\" must be RS256, PS256, ES256, ES384, ES512 or EdDSA");
            goto out;
        }
        if (alg_hint != NULL && *alg_hint != alg) {
            rc = jwk_fail(info, "/alg", "the JWK's \"alg\" is %s, not %s", algs[alg].name,
                          mh_crypto_jwt_alg_name(*alg_hint));
            goto out;
        }
        has_alg = true;
    } else if (alg_hint != NULL) {
        alg = *alg_hint;
        has_alg = true;
    }
    if (strcmp(kty, "RSA") == 0) {
        if (!has_alg || (alg != MH_CRYPTO_JWT_RS256 && alg != MH_CRYPTO_JWT_PS256)) {
            rc = jwk_fail(info, "/alg", "an RSA JWK needs \"alg\": RS256 or PS256");
            goto out;
        }
        rc = jwk_rsa(jwk, &pkey, info);
    } else if (strcmp(kty, "EC") == 0) {
        enum mh_crypto_jwt_alg implied;
        if (crv != NULL && strcmp(crv, "P-256") == 0)
            implied = MH_CRYPTO_JWT_ES256;
        else if (crv != NULL && strcmp(crv, "P-384") == 0)
            implied = MH_CRYPTO_JWT_ES384;
        else if (crv != NULL && strcmp(crv, "P-521") == 0)
            implied = MH_CRYPTO_JWT_ES512;
        else {
            rc = jwk_fail(info, "/crv", "an EC JWK needs \"crv\": P-256, P-384 or P-521");
            goto out;
        }
        if (has_alg && alg != implied) {
            rc = jwk_fail(info, "/alg", "a %s key is for %s, not %s", crv, algs[implied].name,
                          algs[alg].name);
            goto out;
        }
        alg = implied;
        rc = jwk_ec(jwk, crv, &pkey, info);
    } else if (strcmp(kty, "OKP") == 0) {
        if (crv == NULL || strcmp(crv, "Ed25519") != 0) {
            rc = jwk_fail(info, "/crv", "an OKP JWK needs \"crv\": Ed25519");
            goto out;
        }
        if (has_alg && alg != MH_CRYPTO_JWT_EDDSA) {
            rc = jwk_fail(info, "/alg", "an Ed25519 key is for EdDSA, not %s", algs[alg].name);
            goto out;
        }
        alg = MH_CRYPTO_JWT_EDDSA;
        rc = jwk_okp(jwk, &pkey, info);
    } else {
        rc = jwk_fail(info, "/kty", "\"kty\" must be RSA, EC or OKP");
        goto out;
    }
    if (rc != MH_OK)
        goto out;
    if ((rc = check_pkey(alg, pkey, info)) != MH_OK) {
        /* RSA fails on its size; an EC or OKP key on an "alg" its curve does not fit. */
        mh_err_set_path(info, strcmp(kty, "RSA") == 0 ? "/n" : "/alg");
        goto out;
    }
    rc = new_pkey_key(alg, json_string_value(kid), &pkey, out);
out:
    if (rc != MH_OK)
        mh_crypto__clear_errors();
    EVP_PKEY_free(pkey);
    return rc;
}

enum mh_err mh_crypto_jwt_jwks_parse(json_t *jwks, struct mh_crypto_jwt_key **keys, size_t cap,
                                     size_t *n, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *arr = json_object_get(jwks, "keys");
    size_t i;
    json_t *jwk;
    *n = 0;
    if (!json_is_array(arr))
        return jwk_fail(info, "/keys", "a JWKS document is {\"keys\": [JWK, ...]}");
    json_array_foreach(arr, i, jwk)
    {
        json_t *use = json_object_get(jwk, "use");
        if (json_is_string(use) && strcmp(json_string_value(use), "enc") == 0)
            continue;
        if (*n == cap || *n == MH_CRYPTO_JWT_JWKS_MAX_KEYS) {
            rc = jwk_fail(info, "/keys", "more than %zu signing keys",
                          cap < MH_CRYPTO_JWT_JWKS_MAX_KEYS ? cap : MH_CRYPTO_JWT_JWKS_MAX_KEYS);
            goto out;
        }
        struct mh_err_info one = MH_ERR_INFO_INIT;
        if ((rc = mh_crypto_jwt_key_create_jwk(jwk, NULL, &keys[*n], &one)) != MH_OK) {
            char path[sizeof(one.path) + 32];
            snprintf(path, sizeof(path), "/keys/%zu%s", i, one.path);
            jwk_fail(info, path, "key %zu: %s", i, one.message);
            goto out;
        }
        (*n)++;
    }
    if (*n == 0)
        rc = jwk_fail(info, "/keys", "the JWKS holds no signing key");
out:
    if (rc != MH_OK) {
        for (size_t k = 0; k < *n; k++) {
            mh_crypto_jwt_key_destroy(keys[k]);
            keys[k] = NULL;
        }
        *n = 0;
    }
    return rc;
}

enum mh_err mh_crypto_jwt_key_public_pem(const struct mh_crypto_jwt_key *key, char **pem)
{
    *pem = NULL;
    if (key == NULL || key->pkey == NULL)
        return MH_EINVAL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    long len = 0;
    enum mh_err rc = MH_ECRYPTO;
    if (bio != NULL && PEM_write_bio_PUBKEY(bio, key->pkey) == 1 &&
        (len = BIO_get_mem_data(bio, &data)) > 0) {
        *pem = mh_xstrndup(data, (size_t)len);
        rc = MH_OK;
    }
    mh_crypto__clear_errors();
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

/* JOSE ECDSA signatures are r||s, `coord` bytes each (RFC 7518 §3.4); OpenSSL verifies DER. */
static enum mh_err ecdsa_raw_to_der(const uint8_t *raw, size_t raw_len, size_t coord, uint8_t **der,
                                    size_t *der_len)
{
    enum mh_err rc = MH_OK;
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;
    unsigned char *buf = NULL;

    *der = NULL;
    *der_len = 0;
    if (raw_len != 2 * coord)
        return MH_EINVAL;
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, (int)coord, NULL);
    s = BN_bin2bn(raw + coord, (int)coord, NULL);
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
    EVP_PKEY_CTX *pctx = NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    const uint8_t *sig = j->sig;
    size_t sig_len = j->sig_len;
    /* The signing input is the two encoded segments and the dot between them, contiguous in
     * the token. */
    const unsigned char *input = (const unsigned char *)j->header_b64;
    size_t input_len = j->header_b64_len + 1 + j->payload_b64_len;
    const struct alg_info *ai = &algs[key->alg];

    *ok = false;
    if (ai->ec_coord != 0) {
        if (ecdsa_raw_to_der(j->sig, j->sig_len, ai->ec_coord, &der, &der_len) != MH_OK)
            goto out; /* Wrong size: simply not valid. */
        sig = der;
        sig_len = der_len;
    } else if (sig_len != (size_t)EVP_PKEY_get_size(key->pkey)) {
        goto out; /* RSA: the modulus size; Ed25519: 64 bytes. */
    }
    const EVP_MD *md = alg_md(key->alg);
    if ((md == NULL) != (key->alg == MH_CRYPTO_JWT_EDDSA) || (ctx = EVP_MD_CTX_new()) == NULL ||
        EVP_DigestVerifyInit(ctx, &pctx, md, NULL, key->pkey) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    /* RFC 7518 §3.5: MGF1 with the same hash, and a salt as long as the hash. */
    if (key->alg == MH_CRYPTO_JWT_PS256 &&
        (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)) {
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
                      "algorithm not supported (HS256, RS256, PS256, ES256, ES384, ES512 and "
                      "EdDSA are)");
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
