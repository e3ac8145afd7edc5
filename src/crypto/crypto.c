/* SPDX-License-Identifier: MIT */
/*
 * Random bytes, tokens, UUIDs, SHA-256, HMAC and constant-time comparison over OpenSSL 3's EVP
 * interfaces. Algorithm handles are fetched once per process (pthread_once) rather than by name
 * on every call, because webhook verification runs this code on the hot path. Everything else in
 * src/crypto builds on these few functions.
 */
#include "crypto/crypto.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "core/mem.h"
#include "crypto/crypto_internal.h"

#define TOKEN_MAX_BYTES 1024

struct mh_crypto_sha256_ctx {
    EVP_MD_CTX *md_ctx;
};

static pthread_once_t algs_once = PTHREAD_ONCE_INIT;
static EVP_MD *alg_sha256;
static EVP_MD *alg_sha512;
static EVP_MAC *alg_hmac;
static EVP_CIPHER *alg_aes256gcm;

static void fetch_algs(void);
static const char *md_name(enum mh_crypto_hash alg);

static void fetch_algs(void)
{
    alg_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    alg_sha512 = EVP_MD_fetch(NULL, "SHA2-512", NULL);
    alg_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    alg_aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

const EVP_MD *mh_crypto__md(enum mh_crypto_hash alg)
{
    pthread_once(&algs_once, fetch_algs);
    return alg == MH_CRYPTO_HASH_SHA512 ? alg_sha512 : alg_sha256;
}

EVP_MAC *mh_crypto__hmac_mac(void)
{
    pthread_once(&algs_once, fetch_algs);
    return alg_hmac;
}

const EVP_CIPHER *mh_crypto__aes256gcm(void)
{
    pthread_once(&algs_once, fetch_algs);
    return alg_aes256gcm;
}

void mh_crypto__clear_errors(void)
{
    ERR_clear_error();
}

enum mh_err mh_crypto__vfail(struct mh_err_info *info, enum mh_crypto__fail_kind kind,
                             const char *code, const char *fmt, va_list ap)
{
    char msg[200];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    enum mh_err rc = kind == MH_CRYPTO__BAD_CONFIG ? MH_EINVAL
                     : kind == MH_CRYPTO__INTERNAL ? MH_ECRYPTO
                                                   : MH_EAUTH;
    return mh_err_set(info, rc, code, -1, "%s", msg);
}

bool mh_crypto__parse_unix_ts(const char *s, size_t len, int64_t *out)
{
    if (s == NULL || len == 0 || len > 12)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static const char *md_name(enum mh_crypto_hash alg)
{
    return alg == MH_CRYPTO_HASH_SHA512 ? "SHA2-512" : "SHA2-256";
}

/* ---- Random ------------------------------------------------------------------------------- */

enum mh_err mh_crypto_random(void *buf, size_t n)
{
    if (n == 0)
        return MH_OK;
    MH_ASSERT(buf != NULL);
    /* RAND_bytes takes an int; draw in chunks so any size_t works. */
    uint8_t *p = buf;
    while (n > 0) {
        int chunk = n > (1u << 20) ? (1 << 20) : (int)n;
        if (RAND_bytes(p, chunk) != 1) {
            mh_crypto__clear_errors();
            return MH_ECRYPTO;
        }
        p += chunk;
        n -= (size_t)chunk;
    }
    return MH_OK;
}

enum mh_err mh_crypto_token_b64url(size_t nbytes, char **out)
{
    enum mh_err rc = MH_OK;
    uint8_t raw[TOKEN_MAX_BYTES];
    *out = NULL;
    if (nbytes == 0 || nbytes > TOKEN_MAX_BYTES)
        return MH_EINVAL;
    rc = mh_crypto_random(raw, nbytes);
    if (rc != MH_OK)
        goto out;
    *out = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, raw, nbytes);
out:
    mh_crypto_wipe(raw, nbytes);
    return rc;
}

enum mh_err mh_crypto_token_hex(size_t nbytes, char **out)
{
    enum mh_err rc = MH_OK;
    uint8_t raw[TOKEN_MAX_BYTES];
    *out = NULL;
    if (nbytes == 0 || nbytes > TOKEN_MAX_BYTES)
        return MH_EINVAL;
    rc = mh_crypto_random(raw, nbytes);
    if (rc != MH_OK)
        goto out;
    *out = mh_xmalloc(mh_crypto_hex_encoded_len(nbytes) + 1);
    mh_crypto_hex_encode(raw, nbytes, *out);
out:
    mh_crypto_wipe(raw, nbytes);
    return rc;
}

/* The canonical form of 16 bytes, version and variant already set. */
static void uuid_format(const uint8_t b[16], char out[MH_CRYPTO_UUID_STR_LEN])
{
    char hex[33];
    mh_crypto_hex_encode(b, 16, hex);
    size_t o = 0;
    for (size_t i = 0; i < 32; i++) {
        if (i == 8 || i == 12 || i == 16 || i == 20)
            out[o++] = '-';
        out[o++] = hex[i];
    }
    out[o] = '\0';
}

enum mh_err mh_crypto_uuid4(char out[MH_CRYPTO_UUID_STR_LEN])
{
    uint8_t b[16];
    enum mh_err rc = mh_crypto_random(b, sizeof(b));
    if (rc != MH_OK) {
        out[0] = '\0';
        return rc;
    }
    /* RFC 9562 §5.4: version 4 in the high nibble of byte 6, variant 10 in byte 8. */
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
    return MH_OK;
}

/* Random bits for ids, drawn from the CSPRNG a block at a time: the intake makes two ids per
 * webhook, and one RAND_bytes call per id cost more than the rest of making it. Ids are not
 * secrets (a UUIDv7 shows its time), and each thread has a block of its own. */
static enum mh_err uuid_random(uint8_t *out, size_t n)
{
    static _Thread_local uint8_t pool[32 * 10];
    static _Thread_local size_t left;
    if (n > left) {
        enum mh_err rc = mh_crypto_random(pool, sizeof(pool));
        if (rc != MH_OK)
            return rc;
        left = sizeof(pool);
    }
    uint8_t *p = pool + sizeof(pool) - left;
    memcpy(out, p, n);
    mh_crypto_wipe(p, n);
    left -= n;
    return MH_OK;
}

enum mh_err mh_crypto_uuid7(int64_t unix_ms, char out[MH_CRYPTO_UUID_STR_LEN])
{
    uint8_t b[16];
    out[0] = '\0';
    if (unix_ms < 0 || unix_ms > (int64_t)0xffffffffffff)
        return MH_EINVAL;
    enum mh_err rc = uuid_random(b + 6, sizeof(b) - 6);
    if (rc != MH_OK)
        return rc;
    /* RFC 9562 §5.7: unix_ts_ms big-endian in bytes 0-5, version 7, variant 10. */
    for (int i = 0; i < 6; i++)
        b[i] = (uint8_t)((uint64_t)unix_ms >> (8 * (5 - i)));
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x70);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    uuid_format(b, out);
    return MH_OK;
}

/* ---- Hashes and MACs ---------------------------------------------------------------------- */

size_t mh_crypto_hash_len(enum mh_crypto_hash alg)
{
    return alg == MH_CRYPTO_HASH_SHA512 ? MH_CRYPTO_SHA512_LEN : MH_CRYPTO_SHA256_LEN;
}

enum mh_err mh_crypto_sha256(const void *data, size_t len, uint8_t out[MH_CRYPTO_SHA256_LEN])
{
    static const uint8_t empty;
    const EVP_MD *md = mh_crypto__md(MH_CRYPTO_HASH_SHA256);
    if (md == NULL || EVP_Digest(data ? data : &empty, len, out, NULL, md, NULL) != 1) {
        mh_crypto__clear_errors();
        return MH_ECRYPTO;
    }
    return MH_OK;
}

enum mh_err mh_crypto_sha256_create(struct mh_crypto_sha256_ctx **out)
{
    enum mh_err rc = MH_OK;
    struct mh_crypto_sha256_ctx *ctx = mh_xcalloc(1, sizeof(*ctx));
    const EVP_MD *md = mh_crypto__md(MH_CRYPTO_HASH_SHA256);
    ctx->md_ctx = EVP_MD_CTX_new();
    if (md == NULL || ctx->md_ctx == NULL || EVP_DigestInit_ex2(ctx->md_ctx, md, NULL) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
out:
    if (rc != MH_OK) {
        mh_crypto__clear_errors();
        mh_crypto_sha256_destroy(ctx);
        ctx = NULL;
    }
    *out = ctx;
    return rc;
}

enum mh_err mh_crypto_sha256_update(struct mh_crypto_sha256_ctx *ctx, const void *data, size_t len)
{
    MH_ASSERT(ctx != NULL);
    if (len == 0)
        return MH_OK;
    if (EVP_DigestUpdate(ctx->md_ctx, data, len) != 1) {
        mh_crypto__clear_errors();
        return MH_ECRYPTO;
    }
    return MH_OK;
}

enum mh_err mh_crypto_sha256_final(struct mh_crypto_sha256_ctx *ctx,
                                   uint8_t out[MH_CRYPTO_SHA256_LEN])
{
    MH_ASSERT(ctx != NULL);
    if (EVP_DigestFinal_ex(ctx->md_ctx, out, NULL) != 1) {
        mh_crypto__clear_errors();
        return MH_ECRYPTO;
    }
    return MH_OK;
}

void mh_crypto_sha256_destroy(struct mh_crypto_sha256_ctx *ctx)
{
    if (ctx == NULL)
        return;
    EVP_MD_CTX_free(ctx->md_ctx);
    free(ctx);
}

enum mh_err mh_crypto_hmac_parts(enum mh_crypto_hash alg, const void *key, size_t key_len,
                                 const struct mh_crypto_span *parts, size_t nparts, uint8_t *out)
{
    /* EVP_MAC_init treats a NULL key as "keep the previous key", so a zero-length key still
     * needs a non-NULL pointer. */
    static const uint8_t empty_key;
    enum mh_err rc = MH_OK;
    EVP_MAC_CTX *ctx = NULL;
    EVP_MAC *mac = mh_crypto__hmac_mac();
    size_t md_len = mh_crypto_hash_len(alg);
    size_t got = 0;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)md_name(alg), 0),
        OSSL_PARAM_construct_end(),
    };

    if (mac == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL) {
        rc = MH_ECRYPTO;
        goto out;
    }
    if (EVP_MAC_init(ctx, key_len ? key : &empty_key, key_len, params) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].len == 0)
            continue;
        if (EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1) {
            rc = MH_ECRYPTO;
            goto out;
        }
    }
    if (EVP_MAC_final(ctx, out, &got, md_len) != 1 || got != md_len) {
        rc = MH_ECRYPTO;
        goto out;
    }
out:
    if (rc != MH_OK)
        mh_crypto__clear_errors();
    /* The context holds the keyed inner and outer states; EVP_MAC_CTX_free cleanses them. */
    EVP_MAC_CTX_free(ctx);
    return rc;
}

enum mh_err mh_crypto_hmac(enum mh_crypto_hash alg, const void *key, size_t key_len,
                           const void *data, size_t len, uint8_t *out)
{
    struct mh_crypto_span part = {data, len};
    return mh_crypto_hmac_parts(alg, key, key_len, &part, 1, out);
}

bool mh_crypto_ct_equal(const void *a, const void *b, size_t n)
{
    if (n == 0)
        return true;
    return CRYPTO_memcmp(a, b, n) == 0;
}

/* ---- Wiping ------------------------------------------------------------------------------- */

void mh_crypto_wipe(void *p, size_t n)
{
    if (p != NULL && n > 0)
        OPENSSL_cleanse(p, n);
}

void mh_crypto_free_secret(void *p, size_t n)
{
    if (p == NULL)
        return;
    mh_crypto_wipe(p, n);
    free(p);
}

void mh_crypto_free_secret_str(char *s)
{
    if (s == NULL)
        return;
    mh_crypto_free_secret(s, strlen(s));
}
