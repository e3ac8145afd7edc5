/* SPDX-License-Identifier: MIT */
/*
 * Webhook signature schemes as operation tables: each scheme is one `struct mh_scheme` (its name,
 * the headers it reads, the kinds of key it takes, where a sender puts an idempotency key, and
 * its verify and sign operations) defined in one file of this folder, and registered in the one
 * table of schemes.c. The intake verifies through it, and everything that signs (test webhooks,
 * `meshhook sign`) signs through it, so a new scheme is one file here plus its tests
 * (docs/architecture.md §15). Above src/crypto, below src/intake, src/cli and the runtime.
 *
 * Ownership: every pointer argument is borrowed for the call. A verdict's `signature` borrows
 * the request's header value. Signed header values are new, owned by struct mh_scheme_headers
 * and wiped by mh_scheme_headers_cleanup. Errors never carry a key, a MAC or a signature.
 */
#ifndef MH_SCHEMES_SCHEMES_H
#define MH_SCHEMES_SCHEMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "crypto/jwt.h"
#include "crypto/webhook_sig.h"

/* An endpoint's verification settings; each scheme reads only its own. */
struct mh_scheme_settings {
    struct mh_crypto_sig_hmac_config hmac; /* hmac: algorithm, encoding, prefix */
    const char *hmac_header;               /* hmac: the header holding the MAC */
    int64_t tolerance_s;                   /* stripe, standard_webhooks: timestamp window */
    const char *jwt_issuer;                /* jwt: NULL when not checked */
    const char *jwt_audience;              /* jwt: NULL when not checked */
    int64_t jwt_leeway_s;
    bool jwt_allow_missing_exp;
};

/* A request header by name (case-insensitive), NULL when absent. */
typedef const char *mh_scheme_header_fn(const void *ctx, const char *name);

struct mh_scheme_request {
    const void *body;
    size_t body_len;
    mh_scheme_header_fn *header;
    const void *header_ctx;
};

/* The usable keys, newest first: raw secrets for the HMAC schemes, parsed keys for jwt. */
struct mh_scheme_keys {
    const struct mh_crypto_sig_key *sig;
    const struct mh_crypto_jwt_key *const *jwt;
    size_t n;
};

struct mh_scheme_verdict {
    size_t key_index;      /* which key verified */
    int64_t signed_at;     /* the signed timestamp, 0 when the scheme has none */
    const char *signature; /* the header value that carried the signature (borrowed) */
};

#define MH_SCHEME_MAX_HEADERS 4

/* The headers a signer sends, in order. */
struct mh_scheme_headers {
    size_t n;
    struct {
        const char *name; /* static, or the settings' hmac_header */
        char *value;      /* owned */
    } h[MH_SCHEME_MAX_HEADERS];
};

/* What signing needs besides the body. */
struct mh_scheme_sign_args {
    const struct mh_scheme_settings *settings;
    const struct mh_crypto_sig_key *key; /* the key as verify holds it (decoded) */
    const struct mh_crypto_jwt_key
        *jwt; /* jwt: the key (HS256 only: MeshHook holds no private key) */
    int64_t now_s;
    const char *msg_id; /* standard_webhooks: the message id; NULL: a random one */
};

enum mh_scheme_key_kind {
    MH_SCHEME_KEY_NONE = 0,
    MH_SCHEME_KEY_HMAC = 1, /* a shared secret, key algorithm "hmac" */
    MH_SCHEME_KEY_JWT = 2,  /* a JWT key: hs256, rs256, es256 */
};

struct mh_scheme {
    const char *name;           /* as configured: "github" */
    const char *const *headers; /* the request headers it reads, NULL-terminated */
    enum mh_scheme_key_kind key_kind;
    const char *const *idempotency_headers; /* first present wins; NULL: Idempotency-Key only */
    /* Name, value pairs, NULL-terminated, that a test delivery adds so that it looks like the
     * sender's own test (GitHub's ping); NULL: none. Not part of a signature. */
    const char *const *test_headers;
    /*
     * Turns a secret as stored or given (`len` bytes) into the key verify and sign take, into
     * out[0..cap) and *out_len; NULL when the secret is used as it is. MH_EINVAL when the secret
     * is not of this scheme's form (Standard Webhooks: whsec_ and base64).
     */
    MH_MUSTCHECK enum mh_err (*decode_secret)(const char *secret, uint8_t *out, size_t cap,
                                              size_t *out_len);
    /* NULL for "none". MH_EAUTH for a request that does not verify; MH_EINVAL or MH_ECRYPTO when
     * the configuration cannot verify anything; `info` says why in words a sender may read. */
    MH_MUSTCHECK enum mh_err (*verify)(const struct mh_scheme_settings *s,
                                       const struct mh_scheme_request *rq,
                                       const struct mh_scheme_keys *keys, int64_t now_s,
                                       struct mh_scheme_verdict *out, struct mh_err_info *info);
    /* NULL for "none". Fills `out` (cleaned up by the caller in every case). */
    MH_MUSTCHECK enum mh_err (*sign)(const struct mh_scheme_sign_args *a, const void *body,
                                     size_t len, struct mh_scheme_headers *out,
                                     struct mh_err_info *info);
};

/* The registered schemes, in the order of their ids (the intake's enum follows it). */
size_t mh_scheme_count(void);
/* NULL past the end. */
const struct mh_scheme *mh_scheme_at(size_t id);
/* The scheme named `name`, and its id in *id when non-NULL; NULL when unknown. */
const struct mh_scheme *mh_scheme_find(const char *name, size_t *id);
/* "none, hmac, github, ..." for messages. */
const char *mh_scheme_names(void);

/*
 * Signs with a secret as stored or given (decoded first when the scheme says so, the decoded key
 * wiped after). `a->key` is ignored and replaced. MH_EINVAL when the secret does not suit.
 */
MH_MUSTCHECK enum mh_err mh_scheme_sign_secret(const struct mh_scheme *sc,
                                               const struct mh_scheme_sign_args *a,
                                               const char *secret, const void *body, size_t len,
                                               struct mh_scheme_headers *out,
                                               struct mh_err_info *info);

/* Appends a header (value stolen). */
void mh_scheme_headers_add_new(struct mh_scheme_headers *h, const char *name, char *value);
/* Wipes and frees the values. NULL-tolerant. */
void mh_scheme_headers_cleanup(struct mh_scheme_headers *h);

/* The schemes, one file each. */
extern const struct mh_scheme mh_scheme_none;
extern const struct mh_scheme mh_scheme_hmac;
extern const struct mh_scheme mh_scheme_github;
extern const struct mh_scheme mh_scheme_stripe;
extern const struct mh_scheme mh_scheme_stdwh;
extern const struct mh_scheme mh_scheme_jwt;

#endif
