/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the untrusted-input side of src/crypto: the Stripe, Standard Webhooks,
 * GitHub and generic HMAC header parsers and verifiers, Bearer extraction and JWT verification,
 * and the strict hex/base64 decoders. Beyond "no crash, no leak, no UB", every input checks
 * invariants that abort when broken: results agree with their status, signing the fuzzed body
 * always verifies, and a strict decoder's accepted input re-encodes to itself.
 *
 * Input: byte 0 picks the target; the rest holds '\n'-separated fields, the body last:
 *   0 Stripe      <Stripe-Signature>\n<body>
 *   1 StdWebhooks <webhook-id>\n<webhook-timestamp>\n<webhook-signature>\n<body>
 *   2 GitHub      <X-Hub-Signature-256>\n<body>
 *   3 generic     <config byte><header>\n<body>; config bit 0: SHA-512, bits 1-2: encoding
 *                 (hex, base64, base64url), bits 3-4: prefix (none, "sha256=", "v1=")
 *   4 JWT         <Authorization header value>
 *   5 codecs      <variant byte><text to decode>; variant % 5: the four base64 variants (strict
 *                 and lenient), hex
 * The fixed keys below are test keys, published or made for this corpus only.
 *
 * tests/unit/test_crypto_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY defined and
 * replays tests/fuzz/corpus/sig_verify/ through mh_fuzz_sig_verify_one(), which returns 1 when
 * the input was accepted as authentic, else 0 (corpus files named accept-* and reject-* say
 * which to expect).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "crypto/webhook_sig.h"

/* The Standard Webhooks test vector's timestamp; corpus seeds are signed around it. */
#define MH_FUZZ_NOW 1614265330

/* Stripe uses the whole secret string as the HMAC key. */
static const char mh_fuzz_stripe_secret[] = "whsec_fuzz_stripe_secret_0123456789";
/* Standard Webhooks specification vector's secret, base64 part. */
static const char mh_fuzz_stdwh_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/* GitHub's documented example secret. */
static const char mh_fuzz_github_secret[] = "It's a Secret to Everybody";
static const char mh_fuzz_generic_secret[] = "fuzz-generic-hmac-key";
static const char mh_fuzz_hs256_secret[] = "fuzz-hs256-secret-of-at-least-32-bytes!!";
/* Public half of a P-256 key made for the corpus; its private half was discarded. */
static const char mh_fuzz_es256_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE4FDj0LAFLk7EYaSrQjYoZbL5cBYY\n"
    "6Yca+OYd+BqOqu98T2nfG8QmbyvPOG2z7pfuo1eZhCh0byfLMNyDISSx5A==\n"
    "-----END PUBLIC KEY-----\n";

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Splits the next '\n'-terminated field off (*p, *len) into a new NUL-terminated string. */
static char *mh_fuzz_field(const uint8_t **p, size_t *len)
{
    const uint8_t *nl = memchr(*p, '\n', *len);
    size_t n = nl ? (size_t)(nl - *p) : *len;
    char *s = malloc(n + 1);
    MH_FUZZ_CHECK(s != NULL);
    memcpy(s, *p, n);
    s[n] = '\0';
    *p += nl ? n + 1 : n;
    *len -= nl ? n + 1 : n;
    return s;
}

/* A verifier's outputs must agree with each other. */
static void mh_fuzz_check_sig(enum mh_err rc, const struct mh_crypto_sig_result *res,
                              const struct mh_err_info *info, size_t nkeys)
{
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EAUTH);
    MH_FUZZ_CHECK((rc == MH_OK) == (res->status == MH_CRYPTO_SIG_OK));
    if (rc == MH_OK)
        MH_FUZZ_CHECK(res->key_index < nkeys);
    else
        MH_FUZZ_CHECK(strcmp(info->kind, mh_crypto_sig_status_str(res->status)) == 0);
}

static int mh_fuzz_stripe(const uint8_t *p, size_t len)
{
    struct mh_crypto_sig_key key = {mh_fuzz_stripe_secret, sizeof(mh_fuzz_stripe_secret) - 1};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *header = mh_fuzz_field(&p, &len);
    enum mh_err rc =
        mh_crypto_sig_stripe_verify(&key, 1, p, len, header, MH_FUZZ_NOW, 300, &res, &info);
    mh_fuzz_check_sig(rc, &res, &info, 1);
    /* Our own signature over this body always verifies. */
    char *mine = NULL;
    MH_FUZZ_CHECK(mh_crypto_sig_stripe_sign(&key, p, len, MH_FUZZ_NOW, &mine) == MH_OK);
    MH_FUZZ_CHECK(
        mh_crypto_sig_stripe_verify(&key, 1, p, len, mine, MH_FUZZ_NOW, 300, &res, NULL) == MH_OK);
    free(mine);
    free(header);
    return rc == MH_OK;
}

static int mh_fuzz_stdwh(const uint8_t *p, size_t len)
{
    uint8_t kb[MH_CRYPTO_STDWH_KEY_MAX];
    size_t kn = 0;
    MH_FUZZ_CHECK(mh_crypto_stdwh_secret_decode(mh_fuzz_stdwh_secret, kb, sizeof(kb), &kn) ==
                  MH_OK);
    struct mh_crypto_sig_key key = {kb, kn};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *id = mh_fuzz_field(&p, &len);
    char *ts = mh_fuzz_field(&p, &len);
    char *sig = mh_fuzz_field(&p, &len);
    enum mh_err rc =
        mh_crypto_sig_stdwh_verify(&key, 1, p, len, id[0] ? id : NULL, ts[0] ? ts : NULL,
                                   sig[0] ? sig : NULL, MH_FUZZ_NOW, 300, &res, &info);
    mh_fuzz_check_sig(rc, &res, &info, 1);
    char *mine = NULL;
    MH_FUZZ_CHECK(mh_crypto_sig_stdwh_sign(&key, 1, "msg_fuzz", MH_FUZZ_NOW, p, len, &mine) ==
                  MH_OK);
    MH_FUZZ_CHECK(mh_crypto_sig_stdwh_verify(&key, 1, p, len, "msg_fuzz", "1614265330", mine,
                                             MH_FUZZ_NOW, 300, &res, NULL) == MH_OK);
    free(mine);
    free(id);
    free(ts);
    free(sig);
    return rc == MH_OK;
}

static int mh_fuzz_github(const uint8_t *p, size_t len)
{
    struct mh_crypto_sig_key key = {mh_fuzz_github_secret, sizeof(mh_fuzz_github_secret) - 1};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *header = mh_fuzz_field(&p, &len);
    enum mh_err rc = mh_crypto_sig_github_verify(&key, 1, p, len, header, &res, &info);
    mh_fuzz_check_sig(rc, &res, &info, 1);
    char *mine = NULL;
    MH_FUZZ_CHECK(mh_crypto_sig_github_sign(&key, p, len, &mine) == MH_OK);
    MH_FUZZ_CHECK(mh_crypto_sig_github_verify(&key, 1, p, len, mine, &res, NULL) == MH_OK);
    free(mine);
    free(header);
    return rc == MH_OK;
}

static int mh_fuzz_generic(const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    static const char *prefixes[] = {NULL, "sha256=", "v1="};
    struct mh_crypto_sig_hmac_config cfg = {
        .alg = (p[0] & 1) ? MH_CRYPTO_HASH_SHA512 : MH_CRYPTO_HASH_SHA256,
        .encoding = (enum mh_crypto_sig_encoding)(((p[0] >> 1) & 3) % 3),
        .prefix = prefixes[((p[0] >> 3) & 3) % 3],
    };
    p++;
    len--;
    /* Two keys: the second one signed the corpus seeds, so rotation is exercised too. */
    struct mh_crypto_sig_key keys[] = {
        {"previous-generic-key", 20}, {mh_fuzz_generic_secret, sizeof(mh_fuzz_generic_secret) - 1}};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *header = mh_fuzz_field(&p, &len);
    enum mh_err rc = mh_crypto_sig_hmac_verify(&cfg, keys, 2, p, len, header, &res, &info);
    mh_fuzz_check_sig(rc, &res, &info, 2);
    char *mine = NULL;
    MH_FUZZ_CHECK(mh_crypto_sig_hmac_sign(&cfg, &keys[1], p, len, &mine) == MH_OK);
    MH_FUZZ_CHECK(mh_crypto_sig_hmac_verify(&cfg, keys, 2, p, len, mine, &res, NULL) == MH_OK);
    MH_FUZZ_CHECK(res.key_index == 1);
    free(mine);
    free(header);
    return rc == MH_OK;
}

static int mh_fuzz_jwt(const uint8_t *p, size_t len)
{
    /* Keys are made once and live for the process (still reachable, so not a leak). */
    static struct mh_crypto_jwt_key *keys[2];
    if (keys[0] == NULL) {
        MH_FUZZ_CHECK(mh_crypto_jwt_key_create_hmac("hs", mh_fuzz_hs256_secret,
                                                    sizeof(mh_fuzz_hs256_secret) - 1, &keys[0],
                                                    NULL) == MH_OK);
        MH_FUZZ_CHECK(mh_crypto_jwt_key_create_pem(MH_CRYPTO_JWT_ES256, "es", mh_fuzz_es256_pem,
                                                   sizeof(mh_fuzz_es256_pem) - 1, &keys[1],
                                                   NULL) == MH_OK);
    }
    char *auth = malloc(len + 1);
    MH_FUZZ_CHECK(auth != NULL);
    memcpy(auth, p, len);
    auth[len] = '\0';
    const char *token = NULL;
    size_t token_len = 0;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int accepted = 0;
    enum mh_err rc = mh_crypto_jwt_from_bearer(auth, &token, &token_len, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EAUTH);
    if (rc == MH_OK) {
        struct mh_crypto_jwt_verify_opts opts = {
            .now = MH_FUZZ_NOW, .leeway_s = 30, .issuer = "fuzz-issuer", .audience = "meshhook"};
        struct mh_crypto_jwt_result res;
        json_t *claims = NULL;
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        rc = mh_crypto_jwt_verify(token, token_len, (const struct mh_crypto_jwt_key *const *)keys,
                                  2, &opts, &claims, &res, &info);
        MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EAUTH);
        MH_FUZZ_CHECK((rc == MH_OK) == (res.status == MH_CRYPTO_JWT_OK));
        MH_FUZZ_CHECK((rc == MH_OK) == (claims != NULL));
        if (rc == MH_OK) {
            MH_FUZZ_CHECK(json_is_object(claims) && res.key_index < 2);
            accepted = 1;
        } else {
            MH_FUZZ_CHECK(strcmp(info.kind, mh_crypto_jwt_status_str(res.status)) == 0);
        }
        json_decref(claims);
    }
    free(auth);
    return accepted;
}

/* A strict decoder accepts exactly one spelling per value: decode then encode is identity. */
static int mh_fuzz_codecs(const uint8_t *p, size_t len)
{
    if (len == 0)
        return 0;
    int which = p[0] % 5;
    const char *s = (const char *)p + 1;
    size_t n = len - 1;
    size_t cap = n / 2 + 3 + mh_crypto_b64_decoded_max(n);
    uint8_t *dec = malloc(cap);
    char *enc = malloc(2 * cap + 8);
    MH_FUZZ_CHECK(dec != NULL && enc != NULL);
    size_t dlen = 0;
    int accepted = 0;
    if (which == 4) {
        if (mh_crypto_hex_decode(s, n, dec, cap, &dlen) == MH_OK) {
            mh_crypto_hex_encode(dec, dlen, enc);
            MH_FUZZ_CHECK(strlen(enc) == n && strncasecmp(enc, s, n) == 0);
            accepted = 1;
        }
    } else {
        enum mh_crypto_b64 v = (enum mh_crypto_b64)which;
        if (mh_crypto_b64_decode(v, s, n, dec, cap, &dlen) == MH_OK) {
            mh_crypto_b64_encode(v, dec, dlen, enc);
            MH_FUZZ_CHECK(strlen(enc) == n && memcmp(enc, s, n) == 0);
            accepted = 1;
        }
        /* The lenient decoder accepts a superset, with the same bytes, and differs from the
         * strict one only in the last character before any padding. */
        uint8_t *loose = malloc(cap);
        size_t llen = 0;
        MH_FUZZ_CHECK(loose != NULL);
        if (mh_crypto_b64_decode_lenient(v, s, n, loose, cap, &llen) == MH_OK) {
            MH_FUZZ_CHECK(!accepted || (llen == dlen && memcmp(loose, dec, dlen) == 0));
            mh_crypto_b64_encode(v, loose, llen, enc);
            size_t body = n;
            while (body > 0 && s[body - 1] == '=')
                body--;
            MH_FUZZ_CHECK(strlen(enc) == n && memcmp(enc + body, s + body, n - body) == 0);
            MH_FUZZ_CHECK(body == 0 || memcmp(enc, s, body - 1) == 0);
        } else {
            MH_FUZZ_CHECK(!accepted);
        }
        free(loose);
        /* And any bytes survive encode then decode. */
        mh_crypto_b64_encode(v, s, n, enc);
        uint8_t *back = malloc(n + 3);
        size_t blen = 0;
        MH_FUZZ_CHECK(back != NULL);
        MH_FUZZ_CHECK(mh_crypto_b64_decode(v, enc, strlen(enc), back, n + 3, &blen) == MH_OK);
        MH_FUZZ_CHECK(blen == n && memcmp(back, s, n) == 0);
        free(back);
    }
    free(dec);
    free(enc);
    return accepted;
}

static int mh_fuzz_sig_verify_one(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 64 * 1024)
        return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    switch (data[0] % 6) {
    case 0: return mh_fuzz_stripe(p, len);
    case 1: return mh_fuzz_stdwh(p, len);
    case 2: return mh_fuzz_github(p, len);
    case 3: return mh_fuzz_generic(p, len);
    case 4: return mh_fuzz_jwt(p, len);
    default: return mh_fuzz_codecs(p, len);
    }
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_sig_verify_one(data, size);
    return 0;
}
#endif
