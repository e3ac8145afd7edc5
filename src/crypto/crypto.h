/* SPDX-License-Identifier: MIT */
/*
 * The crypto module's base API: CSPRNG bytes and tokens, SHA-256, HMAC-SHA256/512, constant-time
 * comparison, strict hex and base64 codecs, UUIDv4, AES-256-GCM and secret wiping. src/crypto is
 * the only place that uses OpenSSL (and libargon2); no OpenSSL type crosses this boundary.
 *
 * The rest of the module lives in sibling headers:
 *   crypto/password.h     argon2id password hashing in PHC strings
 *   crypto/webhook_sig.h  webhook signatures: generic HMAC, GitHub, Stripe, Standard Webhooks
 *   crypto/jwt.h          JWS verification (HS256, RS256, PS256, ES256/384/512, EdDSA; keys as
 *                         PEM, JWK or JWKS) with per-key pinned algorithms
 *   crypto/vault.h        envelope encryption of secrets under a key-encryption key
 *
 * Module-wide rules (they hold in every header of src/crypto unless a contract says otherwise):
 *   - Pointer arguments are borrowed for the duration of the call and never kept.
 *   - Strings and buffers returned through `char **` / `uint8_t **` out-params are new, allocated
 *     with mh_xmalloc, and freed by the caller with free() (or mh_crypto_free_secret() for
 *     secret material). On error, out-params are left NULL/0.
 *   - Every function is thread-safe and needs no global initialisation.
 *   - Error messages (struct mh_err_info) never contain keys, secrets, MACs or signatures.
 *   - MH_ECRYPTO means "OpenSSL failed internally" unless a contract gives it a more specific
 *     meaning (an authentication failure in the vault, for instance).
 */
#ifndef MH_CRYPTO_CRYPTO_H
#define MH_CRYPTO_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MH_CRYPTO_SHA256_LEN 32
#define MH_CRYPTO_SHA512_LEN 64
#define MH_CRYPTO_MAX_MD_LEN 64
/* "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx" plus the NUL. */
#define MH_CRYPTO_UUID_STR_LEN 37

enum mh_crypto_hash {
    MH_CRYPTO_HASH_SHA256 = 0,
    MH_CRYPTO_HASH_SHA512,
};

/* A borrowed byte range, used to MAC or hash several pieces without concatenating them. */
struct mh_crypto_span {
    const void *data;
    size_t len;
};

/* ---- Random ------------------------------------------------------------------------------- */

/* Fills `buf` with `n` bytes from OpenSSL's CSPRNG. MH_ECRYPTO if the generator fails. */
MH_MUSTCHECK enum mh_err mh_crypto_random(void *buf, size_t n);

/*
 * A new NUL-terminated token: `nbytes` random bytes (1..1024, else MH_EINVAL) encoded as URL-safe
 * base64 without padding (`_b64url`) or lowercase hex (`_hex`). Suited for session tokens, API
 * tokens and public endpoint ids. Errors: MH_EINVAL, MH_ECRYPTO.
 */
MH_MUSTCHECK enum mh_err mh_crypto_token_b64url(size_t nbytes, char **out);
MH_MUSTCHECK enum mh_err mh_crypto_token_hex(size_t nbytes, char **out);

/* Writes a random (version 4, RFC 9562) UUID in lowercase canonical form into `out`. */
MH_MUSTCHECK enum mh_err mh_crypto_uuid4(char out[MH_CRYPTO_UUID_STR_LEN]);

/*
 * Writes a time-ordered (version 7, RFC 9562 §5.7) UUID for `unix_ms` milliseconds since the
 * epoch: 48 bits of time, then 74 random bits. Ids drawn later sort after ids drawn earlier
 * (within a millisecond, in random order), so rows keyed by them are appended at the right edge
 * of their B-tree indexes instead of landing on a random page each. For ids of rows written at
 * a high rate (runs, deliveries); not for anything that must be unguessable by itself.
 * `unix_ms` outside 0..2^48-1 is MH_EINVAL.
 */
MH_MUSTCHECK enum mh_err mh_crypto_uuid7(int64_t unix_ms, char out[MH_CRYPTO_UUID_STR_LEN]);

/* ---- Hashes and MACs ---------------------------------------------------------------------- */

/* Digest length of `alg` in bytes (32 or 64). */
size_t mh_crypto_hash_len(enum mh_crypto_hash alg);

/* One-shot SHA-256 of `len` bytes at `data` (NULL allowed when len is 0). */
MH_MUSTCHECK enum mh_err mh_crypto_sha256(const void *data, size_t len,
                                          uint8_t out[MH_CRYPTO_SHA256_LEN]);

/*
 * Incremental SHA-256 (the event log's hash chain feeds the previous hash and the canonical
 * event separately). create/update/final return MH_ECRYPTO if OpenSSL fails; after final the
 * context may be reused from scratch only after another create. destroy is NULL-tolerant.
 */
struct mh_crypto_sha256_ctx;
MH_MUSTCHECK enum mh_err mh_crypto_sha256_create(struct mh_crypto_sha256_ctx **out);
MH_MUSTCHECK enum mh_err mh_crypto_sha256_update(struct mh_crypto_sha256_ctx *ctx, const void *data,
                                                 size_t len);
MH_MUSTCHECK enum mh_err mh_crypto_sha256_final(struct mh_crypto_sha256_ctx *ctx,
                                                uint8_t out[MH_CRYPTO_SHA256_LEN]);
void mh_crypto_sha256_destroy(struct mh_crypto_sha256_ctx *ctx);

/*
 * HMAC of `data` under `key` with `alg`. `out` must hold mh_crypto_hash_len(alg) bytes.
 * A zero-length key is allowed (HMAC defines it) but callers should not configure one.
 */
MH_MUSTCHECK enum mh_err mh_crypto_hmac(enum mh_crypto_hash alg, const void *key, size_t key_len,
                                        const void *data, size_t len, uint8_t *out);
/* The same over the concatenation of `nparts` spans, without copying them together. */
MH_MUSTCHECK enum mh_err mh_crypto_hmac_parts(enum mh_crypto_hash alg, const void *key,
                                              size_t key_len, const struct mh_crypto_span *parts,
                                              size_t nparts, uint8_t *out);

/* Constant-time equality of two `n`-byte buffers (CRYPTO_memcmp). The length is not secret. */
bool mh_crypto_ct_equal(const void *a, const void *b, size_t n);

/* ---- Wiping ------------------------------------------------------------------------------- */

/* Overwrites `n` bytes at `p` with zeros in a way the compiler cannot elide. NULL-tolerant. */
void mh_crypto_wipe(void *p, size_t n);
/* Wipes `n` bytes and frees `p`. NULL-tolerant. Use for plaintext secrets returned by vault. */
void mh_crypto_free_secret(void *p, size_t n);
/* Wipes and frees a NUL-terminated secret string. NULL-tolerant. */
void mh_crypto_free_secret_str(char *s);

/* ---- Hex and base64 ----------------------------------------------------------------------- */

/*
 * Decoders are strict: any character outside the alphabet (including whitespace), a wrong
 * length, misplaced or missing padding, or non-zero trailing bits fail with MH_EINVAL; so every
 * accepted input has exactly one encoding. A result larger than `out_cap` fails with MH_ETOOBIG.
 * Classification is branch-free over the input characters, so decoding a secret key does not
 * leak it through a table lookup's cache footprint. Encoders write a NUL-terminated string.
 */

/* 2*n: the encoded length, not counting the NUL. */
size_t mh_crypto_hex_encoded_len(size_t n);
/* Lowercase hex; `out` holds 2*n + 1 bytes. */
void mh_crypto_hex_encode(const void *in, size_t n, char *out);
/* Upper- or lowercase hex digits, even length. */
MH_MUSTCHECK enum mh_err mh_crypto_hex_decode(const char *in, size_t in_len, uint8_t *out,
                                              size_t out_cap, size_t *out_len);

enum mh_crypto_b64 {
    MH_CRYPTO_B64_STD = 0,   /* RFC 4648 §4 alphabet (+ /), '=' padding required. */
    MH_CRYPTO_B64_STD_NOPAD, /* RFC 4648 §4 alphabet, no padding (a '=' is rejected). */
    MH_CRYPTO_B64_URL,       /* RFC 4648 §5 alphabet (- _), '=' padding required. */
    MH_CRYPTO_B64_URL_NOPAD, /* RFC 4648 §5 alphabet, no padding: JWS and our tokens. */
};

/* Encoded length of `n` bytes in `variant`, not counting the NUL. */
size_t mh_crypto_b64_encoded_len(size_t n, enum mh_crypto_b64 variant);
/* An upper bound of the decoded length of `in_len` characters. */
size_t mh_crypto_b64_decoded_max(size_t in_len);
/* `out` holds mh_crypto_b64_encoded_len(n, variant) + 1 bytes. */
void mh_crypto_b64_encode(enum mh_crypto_b64 variant, const void *in, size_t n, char *out);
/* A new string; the caller frees it. */
char *mh_crypto_b64_encode_new(enum mh_crypto_b64 variant, const void *in, size_t n);
/* Strict: exactly one spelling per value (the padding of `variant`, and zero bits below the last
 * whole byte), constant-time over the characters. MH_EINVAL, or MH_ETOOBIG past `out_cap`. */
MH_MUSTCHECK enum mh_err mh_crypto_b64_decode(enum mh_crypto_b64 variant, const char *in,
                                              size_t in_len, uint8_t *out, size_t out_cap,
                                              size_t *out_len);
/* As mh_crypto_b64_decode, but the unused low bits of a final partial group may be set, as most
 * base64 decoders (Node's Buffer, Python's base64) allow: "Zh==" decodes like "Zg==". Only for
 * secrets other software generated (Standard Webhooks whsec_ secrets); never for signatures or
 * tokens, where one spelling per value matters. */
MH_MUSTCHECK enum mh_err mh_crypto_b64_decode_lenient(enum mh_crypto_b64 variant, const char *in,
                                                      size_t in_len, uint8_t *out, size_t out_cap,
                                                      size_t *out_len);

/* ---- AES-256-GCM -------------------------------------------------------------------------- */

#define MH_CRYPTO_AES256_KEY_LEN 32
#define MH_CRYPTO_GCM_NONCE_LEN  12
#define MH_CRYPTO_GCM_TAG_LEN    16
/* GCM allows other IV lengths; NIST's vectors use some, so the primitive accepts 1..128 bytes. */
#define MH_CRYPTO_GCM_IV_MAX 128

/*
 * Raw AES-256-GCM with a 16-byte tag. The caller chooses the IV and must never reuse one under
 * the same key (vault.h does this for you). `ct` receives `pt_len` bytes; `ct` may equal `pt`.
 * AAD and plaintext may be empty (NULL with length 0). Errors: MH_EINVAL (IV length),
 * MH_ETOOBIG (over INT_MAX bytes), MH_ECRYPTO.
 */
MH_MUSTCHECK enum mh_err mh_crypto_aes256gcm_encrypt(const uint8_t key[MH_CRYPTO_AES256_KEY_LEN],
                                                     const uint8_t *iv, size_t iv_len,
                                                     const void *aad, size_t aad_len,
                                                     const void *pt, size_t pt_len, uint8_t *ct,
                                                     uint8_t tag[MH_CRYPTO_GCM_TAG_LEN]);
/*
 * The inverse. MH_ECRYPTO when the tag does not authenticate (wrong key, IV, AAD, a modified
 * ciphertext or tag); `pt` (`ct_len` bytes; may equal `ct`) is then wiped, so unauthenticated
 * plaintext is never released.
 */
MH_MUSTCHECK enum mh_err
mh_crypto_aes256gcm_decrypt(const uint8_t key[MH_CRYPTO_AES256_KEY_LEN], const uint8_t *iv,
                            size_t iv_len, const void *aad, size_t aad_len, const void *ct,
                            size_t ct_len, const uint8_t tag[MH_CRYPTO_GCM_TAG_LEN], uint8_t *pt);

#endif
