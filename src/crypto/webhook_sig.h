/* SPDX-License-Identifier: MIT */
/*
 * Webhook signature verification and signing (docs/architecture.md §7): generic HMAC, GitHub
 * (`X-Hub-Signature-256`), Stripe (`Stripe-Signature`) and Standard Webhooks / Svix
 * (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
 *
 * Common contract of the verifiers:
 *   - `body` is the raw request body exactly as received (any bytes; NULL when body_len is 0).
 *   - Header arguments are the header values as NUL-terminated strings, or NULL when the header
 *     is absent. Values longer than MH_CRYPTO_SIG_MAX_HEADER_LEN are malformed.
 *   - `keys` lists every active key of the endpoint (1..MH_CRYPTO_SIG_MAX_KEYS): during a key
 *     rotation any one of them verifies, and the result names which (`key_index`), so the intake
 *     can record the id of the key that verified a delivery.
 *   - Schemes with a signed timestamp take `now` (unix seconds, from the caller: nothing here
 *     reads the clock) and `tolerance_s`; a timestamp more than tolerance_s before `now` is too
 *     old, more than tolerance_s after it too new. tolerance_s <= 0 selects the scheme's default.
 *     The signature is checked before the timestamp, so "too old" means "authentic but stale"
 *     (a replay), never "forged".
 *   - Returns MH_OK when some signature matches some key; MH_EAUTH when the request must be
 *     refused (missing or malformed header, no matching signature, stale timestamp); MH_EINVAL
 *     for a configuration error (no keys, too many, an empty key); MH_ECRYPTO if OpenSSL fails.
 *     `result` (optional) gives the exact reason, and `info` (optional) a kind equal to
 *     mh_crypto_sig_status_str(status) and a message. Neither ever contains a signature, a MAC or
 *     key material, so both may be logged and `info->message` may be shown to the sender.
 *   - Comparisons are constant-time (CRYPTO_memcmp).
 *
 * Signers return a new header value in `*out` (free()) and take one key, except the Standard
 * Webhooks signer, which signs with every key given (for outgoing rotation). All functions are
 * thread-safe; ownership follows crypto.h.
 */
#ifndef MH_CRYPTO_WEBHOOK_SIG_H
#define MH_CRYPTO_WEBHOOK_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/crypto.h"

#define MH_CRYPTO_SIG_MAX_HEADER_LEN 8192
#define MH_CRYPTO_SIG_MAX_KEYS       16
/* Signatures considered per header; a header listing more is malformed. */
#define MH_CRYPTO_SIG_MAX_SIGS 32
/* Stripe's and Standard Webhooks' default replay window. */
#define MH_CRYPTO_SIG_DEFAULT_TOLERANCE_S 300
/* Bounds of a Standard Webhooks secret's decoded key, per the specification. */
#define MH_CRYPTO_STDWH_KEY_MIN 24
#define MH_CRYPTO_STDWH_KEY_MAX 64
/* Longest accepted webhook-id. */
#define MH_CRYPTO_STDWH_MAX_ID_LEN 1024

enum mh_crypto_sig_status {
    MH_CRYPTO_SIG_OK = 0,
    MH_CRYPTO_SIG_MISSING_HEADER,    /* A required header is absent (or empty). */
    MH_CRYPTO_SIG_MALFORMED_HEADER,  /* Unparsable, over-long, or holds no usable signature. */
    MH_CRYPTO_SIG_BAD_SIGNATURE,     /* Well-formed, but no signature matches any key. */
    MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD, /* Authentic, but signed before now - tolerance. */
    MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW, /* Authentic, but signed after now + tolerance. */
    MH_CRYPTO_SIG_BAD_CONFIG,        /* The caller's keys or options are invalid. */
    MH_CRYPTO_SIG_INTERNAL,          /* OpenSSL failed. */
};

/* "ok", "missing-header", "malformed-header", "bad-signature", "timestamp-too-old",
 * "timestamp-too-new", "bad-config", "internal". Static, never NULL. */
const char *mh_crypto_sig_status_str(enum mh_crypto_sig_status status);

/* A borrowed HMAC key: `len` raw bytes (never a NUL-terminated string by convention). */
struct mh_crypto_sig_key {
    const void *key;
    size_t len;
};

struct mh_crypto_sig_result {
    enum mh_crypto_sig_status status;
    size_t key_index;  /* Index into `keys` of the key that verified (status OK only). */
    int64_t timestamp; /* The signed timestamp once parsed (Stripe, Standard Webhooks), else 0. */
};

/* ---- Generic HMAC ------------------------------------------------------------------------- */

enum mh_crypto_sig_encoding {
    MH_CRYPTO_SIG_HEX = 0,   /* Either case. */
    MH_CRYPTO_SIG_BASE64,    /* Standard alphabet, with or without padding. */
    MH_CRYPTO_SIG_BASE64URL, /* URL-safe alphabet, with or without padding. */
};

struct mh_crypto_sig_hmac_config {
    enum mh_crypto_hash alg;
    enum mh_crypto_sig_encoding encoding;
    /* Literal before the MAC, matched ASCII case-insensitively (e.g. "sha256="); NULL or "" for
     * none. The signer writes it as given. */
    const char *prefix;
};

/*
 * HMAC over the raw body; `header` holds [prefix]<encoded MAC> (surrounding spaces and tabs are
 * ignored). A MAC of the wrong length or encoding is a malformed header. There is no timestamp
 * in this scheme, hence no `now`: pair it with the endpoint's idempotency key against replays.
 */
MH_MUSTCHECK enum mh_err mh_crypto_sig_hmac_verify(const struct mh_crypto_sig_hmac_config *cfg,
                                                   const struct mh_crypto_sig_key *keys,
                                                   size_t nkeys, const void *body, size_t body_len,
                                                   const char *header,
                                                   struct mh_crypto_sig_result *result,
                                                   struct mh_err_info *info);
MH_MUSTCHECK enum mh_err mh_crypto_sig_hmac_sign(const struct mh_crypto_sig_hmac_config *cfg,
                                                 const struct mh_crypto_sig_key *key,
                                                 const void *body, size_t body_len, char **out);

/* ---- GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body> ------------------- */

MH_MUSTCHECK enum mh_err mh_crypto_sig_github_verify(const struct mh_crypto_sig_key *keys,
                                                     size_t nkeys, const void *body,
                                                     size_t body_len, const char *header,
                                                     struct mh_crypto_sig_result *result,
                                                     struct mh_err_info *info);
MH_MUSTCHECK enum mh_err mh_crypto_sig_github_sign(const struct mh_crypto_sig_key *key,
                                                   const void *body, size_t body_len, char **out);

/* ---- Stripe: Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...][,v0=...] ---------------------
 *
 * The signed payload is "<t>.<body>", MACed with HMAC-SHA256. Stripe's key is the endpoint
 * secret string itself, "whsec_..." included, as bytes: pass it unchanged (unlike Standard
 * Webhooks, whose whsec_ secrets are base64). Any v1 matching any key accepts; v0 and unknown
 * schemes are ignored; v1 values that are not 64 hex digits count as absent. No t, two t, a
 * non-numeric t, an element without '=', or no usable v1 is a malformed header.
 */
MH_MUSTCHECK enum mh_err
mh_crypto_sig_stripe_verify(const struct mh_crypto_sig_key *keys, size_t nkeys, const void *body,
                            size_t body_len, const char *header, int64_t now, int64_t tolerance_s,
                            struct mh_crypto_sig_result *result, struct mh_err_info *info);
/* "t=<timestamp>,v1=<hex>". MH_EINVAL for a negative timestamp or an empty key. */
MH_MUSTCHECK enum mh_err mh_crypto_sig_stripe_sign(const struct mh_crypto_sig_key *key,
                                                   const void *body, size_t body_len,
                                                   int64_t timestamp, char **out);

/* ---- Standard Webhooks / Svix -------------------------------------------------------------
 *
 * Signed content "<webhook-id>.<webhook-timestamp>.<body>" under HMAC-SHA256; the signature
 * header is a space-separated list of "v1,<base64>" (other versions, such as the asymmetric
 * "v1a", are ignored). Keys are the decoded bytes of "whsec_<base64>" secrets: decode them once
 * with mh_crypto_stdwh_secret_decode. The same headers prefixed "svix-" carry the same values.
 */
MH_MUSTCHECK enum mh_err
mh_crypto_sig_stdwh_verify(const struct mh_crypto_sig_key *keys, size_t nkeys, const void *body,
                           size_t body_len, const char *webhook_id, const char *webhook_timestamp,
                           const char *webhook_signature, int64_t now, int64_t tolerance_s,
                           struct mh_crypto_sig_result *result, struct mh_err_info *info);
/*
 * The webhook-signature value for an outgoing request: "v1,<b64>" per key, space-separated.
 * `msg_id` must be 1..MH_CRYPTO_STDWH_MAX_ID_LEN visible ASCII characters; the caller sends it
 * as webhook-id and the decimal `timestamp` as webhook-timestamp. MH_EINVAL on bad input.
 */
MH_MUSTCHECK enum mh_err mh_crypto_sig_stdwh_sign(const struct mh_crypto_sig_key *keys,
                                                  size_t nkeys, const char *msg_id,
                                                  int64_t timestamp, const void *body,
                                                  size_t body_len, char **out);

/*
 * Decodes a Standard Webhooks secret ("whsec_" + standard base64, padded or not; the prefix may
 * be omitted) into `key` (`cap` >= MH_CRYPTO_STDWH_KEY_MAX). Set bits below the last whole byte
 * are ignored, as the official libraries ignore them. MH_EINVAL when it is not base64 or
 * decodes to fewer than 24 or more than 64 bytes. The caller wipes `key` when done.
 */
MH_MUSTCHECK enum mh_err mh_crypto_stdwh_secret_decode(const char *secret, uint8_t *key, size_t cap,
                                                       size_t *key_len);
/* A new random secret, "whsec_" + base64 of 32 CSPRNG bytes. Free with
 * mh_crypto_free_secret_str. */
MH_MUSTCHECK enum mh_err mh_crypto_stdwh_secret_generate(char **out);

#endif
