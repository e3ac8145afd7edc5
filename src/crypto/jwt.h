/* SPDX-License-Identifier: MIT */
/*
 * JWT (compact JWS, RFC 7515/7519) verification over libcrypto, for webhook endpoints that
 * authenticate senders with `Authorization: Bearer <jwt>`. Supported algorithms: HS256, RS256,
 * PS256, ES256, ES384, ES512 and EdDSA (Ed25519, RFC 8037). Public keys are given as PEM, as a
 * JWK or as a JWKS document (RFC 7517). Each configured key carries exactly ONE allowed
 * algorithm, so the token's `alg` header
 * can only select among keys, never change how a key is used: "alg": "none" is always refused,
 * and an HS256 token "signed" with an RSA public key's PEM as HMAC secret cannot verify against
 * an RS256 key (algorithm confusion).
 *
 * Ownership follows crypto.h. Keys are immutable after creation and may be shared by threads.
 */
#ifndef MH_CRYPTO_JWT_H
#define MH_CRYPTO_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/err.h"

/* Longest token accepted, in bytes; longer ones are refused before any decoding. */
#define MH_CRYPTO_JWT_MAX_LEN 16384
/* RFC 7518 §3.2: an HS256 key must be at least as long as the hash output. */
#define MH_CRYPTO_JWT_HMAC_MIN_KEY 32
#define MH_CRYPTO_JWT_RSA_MIN_BITS 2048
/* Larger RSA moduli only make every verification slower; nobody signs with them. */
#define MH_CRYPTO_JWT_RSA_MAX_BITS 8192
/* Most keys in one JWKS document (the most an endpoint holds). */
#define MH_CRYPTO_JWT_JWKS_MAX_KEYS 16
#define MH_CRYPTO_JWT_MAX_KID_LEN   256

enum mh_crypto_jwt_alg {
    MH_CRYPTO_JWT_HS256 = 0,
    MH_CRYPTO_JWT_RS256,
    MH_CRYPTO_JWT_ES256,
    MH_CRYPTO_JWT_ES384,
    MH_CRYPTO_JWT_ES512,
    MH_CRYPTO_JWT_PS256, /* RSASSA-PSS, SHA-256, MGF1 SHA-256, 32-byte salt (RFC 7518 §3.5). */
    MH_CRYPTO_JWT_EDDSA, /* Ed25519 only (RFC 8037). */
};

/* The JWS names: "HS256", "RS256", "ES256", "ES384", "ES512", "PS256", "EdDSA". */
const char *mh_crypto_jwt_alg_name(enum mh_crypto_jwt_alg alg);
/* Exact (case-sensitive) match of one of the names above. */
bool mh_crypto_jwt_alg_parse(const char *name, enum mh_crypto_jwt_alg *out);
/* The names of MeshHook's key configuration: the JWS names lowercased ("hs256", "eddsa"). */
const char *mh_crypto_jwt_alg_config_name(enum mh_crypto_jwt_alg alg);
bool mh_crypto_jwt_alg_parse_config(const char *name, enum mh_crypto_jwt_alg *out);

enum mh_crypto_jwt_status {
    MH_CRYPTO_JWT_OK = 0,
    MH_CRYPTO_JWT_MISSING_TOKEN,    /* No Authorization header, or not a Bearer token. */
    MH_CRYPTO_JWT_MALFORMED,        /* Too long, not three base64url parts, bad JSON, bad claims. */
    MH_CRYPTO_JWT_ALG_NONE,         /* "alg": "none" in any spelling. */
    MH_CRYPTO_JWT_ALG_UNSUPPORTED,  /* An algorithm not in enum mh_crypto_jwt_alg. */
    MH_CRYPTO_JWT_ALG_NOT_ALLOWED,  /* No key with a matching kid is pinned to the token's alg. */
    MH_CRYPTO_JWT_UNKNOWN_KID,      /* The token's kid names no configured key. */
    MH_CRYPTO_JWT_BAD_SIGNATURE,    /* No candidate key verifies the signature. */
    MH_CRYPTO_JWT_EXPIRED,          /* now >= exp + leeway. */
    MH_CRYPTO_JWT_NOT_YET_VALID,    /* now + leeway < nbf. */
    MH_CRYPTO_JWT_ISSUED_IN_FUTURE, /* iat > now + leeway. */
    MH_CRYPTO_JWT_MISSING_EXP,      /* No exp while allow_missing_exp is false. */
    MH_CRYPTO_JWT_WRONG_ISSUER,     /* iss absent or different from the expected issuer. */
    MH_CRYPTO_JWT_WRONG_AUDIENCE,   /* aud absent, or neither equal to nor containing it. */
    MH_CRYPTO_JWT_BAD_CONFIG,       /* The caller's keys or options are invalid. */
    MH_CRYPTO_JWT_INTERNAL,         /* OpenSSL failed. */
};

/* "ok", "missing-token", "malformed", "alg-none", "alg-unsupported", "alg-not-allowed",
 * "unknown-kid", "bad-signature", "expired", "not-yet-valid", "issued-in-future", "missing-exp",
 * "wrong-issuer", "wrong-audience", "bad-config", "internal". Static, never NULL. */
const char *mh_crypto_jwt_status_str(enum mh_crypto_jwt_status status);

struct mh_crypto_jwt_key;

/*
 * An HS256 key: `secret` (copied; at least MH_CRYPTO_JWT_HMAC_MIN_KEY bytes) and an optional
 * `kid` (copied; NULL for none). Errors: MH_EINVAL (short secret, over-long kid).
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_key_create_hmac(const char *kid, const void *secret,
                                                       size_t secret_len,
                                                       struct mh_crypto_jwt_key **out,
                                                       struct mh_err_info *info);
/*
 * A public key from a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block of `pem_len` bytes. RS256
 * and PS256 need an RSA key of 2048 to 8192 bits, ES256 an EC key on P-256, ES384 on P-384,
 * ES512 on P-521, EdDSA an Ed25519 key. Errors: MH_EINVAL (HS256 given, unparsable PEM, wrong
 * key type, size or curve, over-long kid).
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_key_create_pem(enum mh_crypto_jwt_alg alg, const char *kid,
                                                      const char *pem, size_t pem_len,
                                                      struct mh_crypto_jwt_key **out,
                                                      struct mh_err_info *info);
/*
 * A public key from a JWK (RFC 7517 §4, borrowed): "kty" "RSA" ("n", "e"), "EC" ("crv" P-256,
 * P-384 or P-521, "x", "y", each exactly the curve's size) or "OKP" ("crv" Ed25519, "x"), in
 * unpadded base64url. The key's algorithm is the JWK's "alg"; without one, `alg_hint` (NULL:
 * none), else the one its curve implies (EC, OKP); an RSA JWK needs one of the two. When both
 * are given they must agree. The kid is the JWK's "kid" (a string), if any. Refused with
 * MH_EINVAL and `info->path` (a JSON pointer inside the JWK): private members ("d", "p", "q",
 * "dp", "dq", "qi", "oth", "k"), "kty" "oct" (an HS256 secret is not a public key), a "use"
 * other than "sig", "key_ops" without "verify", and every check of mh_crypto_jwt_key_create_pem.
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_key_create_jwk(json_t *jwk,
                                                      const enum mh_crypto_jwt_alg *alg_hint,
                                                      struct mh_crypto_jwt_key **out,
                                                      struct mh_err_info *info);
/*
 * The keys of a JWKS document ({"keys": [JWK, ...]}, borrowed) into `keys` (`cap` entries, new
 * keys the caller destroys) and `*n`. A key whose "use" is "enc" is skipped (a JWKS often lists
 * encryption keys beside signing keys); any other key must load as by
 * mh_crypto_jwt_key_create_jwk (`info->path` then starts with "/keys/<i>"). MH_EINVAL when no
 * signing key is left or more than `cap` are (at most MH_CRYPTO_JWT_JWKS_MAX_KEYS); on error
 * no key is returned.
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_jwks_parse(json_t *jwks, struct mh_crypto_jwt_key **keys,
                                                  size_t cap, size_t *n, struct mh_err_info *info);
/* The public key as a new PEM "PUBLIC KEY" string (free()), which mh_crypto_jwt_key_create_pem
 * reads back: how keys given as JWK are stored. MH_EINVAL for an HS256 key. */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_key_public_pem(const struct mh_crypto_jwt_key *key,
                                                      char **pem);
/* Wipes and frees the key; NULL-tolerant. */
void mh_crypto_jwt_key_destroy(struct mh_crypto_jwt_key *key);
enum mh_crypto_jwt_alg mh_crypto_jwt_key_alg(const struct mh_crypto_jwt_key *key);
/* Borrowed, valid while the key lives; NULL when the key has no kid. */
const char *mh_crypto_jwt_key_kid(const struct mh_crypto_jwt_key *key);

struct mh_crypto_jwt_verify_opts {
    int64_t now;            /* Unix seconds, from the caller. */
    int64_t leeway_s;       /* Clock skew allowed on exp, nbf and iat; >= 0. */
    const char *issuer;     /* Expected iss; NULL: not checked. */
    const char *audience;   /* Expected aud (string, or member of an array); NULL: not checked. */
    bool allow_missing_exp; /* By default (false) a token without exp is refused. */
};

struct mh_crypto_jwt_result {
    enum mh_crypto_jwt_status status;
    size_t key_index; /* Index into `keys` of the key that verified (status OK only). */
};

/*
 * Extracts the token from an Authorization header value "Bearer <token>" (scheme matched
 * case-insensitively, surrounding whitespace ignored). `*token` points into `authorization`
 * (borrowed). Returns MH_EAUTH with kind "missing-token" when the header is NULL, empty, or uses
 * another scheme, and "malformed" when the token part is empty or contains whitespace.
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_from_bearer(const char *authorization, const char **token,
                                                   size_t *token_len, struct mh_err_info *info);

/*
 * Verifies `token` (`token_len` bytes, at most MH_CRYPTO_JWT_MAX_LEN) against `keys` (an array
 * of `nkeys` borrowed keys, 1..16). A key is a candidate when its kid equals the token's kid (a
 * key without kid, or a token without kid, matches any) and its pinned algorithm equals the
 * token's alg. The signature is checked before any claim is read; then exp, nbf, iat (as
 * numbers), iss and aud as `opts` asks. A "crit" header is refused (no extensions are
 * understood). On success `*claims` (optional) receives the payload object, a new reference the
 * caller json_decref()s. Returns MH_OK, MH_EAUTH (any token problem; `result->status` and
 * `info->kind` say which), MH_EINVAL (bad keys or options) or MH_ECRYPTO. Messages never
 * contain the token, its signature or key material.
 */
MH_MUSTCHECK enum mh_err mh_crypto_jwt_verify(const char *token, size_t token_len,
                                              const struct mh_crypto_jwt_key *const *keys,
                                              size_t nkeys,
                                              const struct mh_crypto_jwt_verify_opts *opts,
                                              json_t **claims, struct mh_crypto_jwt_result *result,
                                              struct mh_err_info *info);

#endif
