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

#include <jansson.h>

#include "core/buf.h"
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

/*
 * One member of an endpoint's `verification` object besides "scheme". The table of a scheme's
 * fields is its grammar: mh_scheme_normalize checks and completes a verification object by it,
 * and GET /api/schemes hands it to the web app, which draws the form from it.
 */
enum mh_scheme_field_type {
    MH_SCHEME_FIELD_STRING = 0,
    MH_SCHEME_FIELD_INTEGER,
    MH_SCHEME_FIELD_BOOLEAN,
};

enum mh_scheme_field_format {
    MH_SCHEME_FORMAT_ANY = 0,
    MH_SCHEME_FORMAT_HEADER_NAME, /* an HTTP header name (RFC 9110 token) */
    MH_SCHEME_FORMAT_PRINTABLE,   /* printable ASCII without spaces */
};

struct mh_scheme_field {
    const char *name; /* the member: "tolerance_s"; NULL ends a table */
    enum mh_scheme_field_type type;
    const char *label;       /* for a form: "Timestamp tolerance (seconds)" */
    const char *help;        /* one sentence for a form, NULL: none */
    const char *placeholder; /* shown in an empty input, NULL: none */
    /* string: the values allowed, NULL-terminated (NULL: any), and what a form shows for each
     * (parallel to `choices`; NULL: the values themselves). */
    const char *const *choices;
    const char *const *choice_labels;
    enum mh_scheme_field_format format;
    size_t max_len;      /* string: at most this many bytes */
    const char *def_str; /* string: the default; NULL: null, "not checked" */
    int64_t def_int;     /* integer: the default and the bounds, inclusive */
    int64_t min, max;
    bool def_bool; /* boolean: the default */
};

/*
 * What a scheme's `example` operation adds to a sender script (src/schemes/example.c writes the
 * rest: URL, BODY, SECRET, the curl command). The script is a POSIX shell script using openssl
 * and curl; it computes the signature when it runs.
 */
struct mh_scheme_example {
    json_t *verification; /* the endpoint's normalised settings (borrowed) */
    const char *kid;      /* jwt: the key's kid, NULL: none */
    const char *url;
    const char *secret;    /* the secret when the caller knows it, NULL: the script's $SECRET */
    struct mh_buf *script; /* out: the lines that compute the signature from $BODY and $SECRET */
    struct mh_buf *curl;   /* out: the curl arguments that carry it (-H ...), "" for none */
    json_t *provider;      /* out, new: the provider's own setting names, NULL: none */
    const char *note;      /* out, static: a note for the reader, NULL: none */
};

struct mh_scheme {
    const char *name;                     /* as configured: "github" */
    const char *label;                    /* for people: "GitHub" */
    const char *summary;                  /* one sentence: what a sender sends */
    const struct mh_scheme_field *fields; /* its verification settings, {NULL}-ended */
    const char *const *headers;           /* the request headers it reads, NULL-terminated */
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
    /* What decode_secret wants, for an API error ("a Standard Webhooks secret is ..."). */
    const char *secret_form;
    /* How a user's own secret is described ("the whsec_... Stripe shows"), NULL: no hint. */
    const char *own_secret;
    /* A new shared secret of this scheme's form (new, freed with mh_crypto_free_secret_str);
     * NULL: 32 random bytes, base64url. */
    MH_MUSTCHECK enum mh_err (*generate_secret)(char **out);
    /* Reads a verification object normalised by mh_scheme_normalize into `s` (zeroed first by
     * the caller); strings borrow from `vf`. NULL: the scheme has no settings. */
    void (*load_settings)(json_t *vf, struct mh_scheme_settings *s);
    /* The sender example's scheme-specific part; NULL for "none". */
    MH_MUSTCHECK enum mh_err (*example)(struct mh_scheme_example *ex);
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
/* "stripe, github, ..." for messages: the table's names in its order. */
const char *mh_scheme_names(void);

/*
 * Checks an endpoint's `verification` object (`vf`, borrowed) against its scheme's fields and
 * sets *out to a new, complete object (defaults filled in, null for an unchecked claim).
 * MH_EINVAL with `info` naming the offending member's path ("/scheme", "/tolerance_s") and never
 * quoting a value it refused.
 */
MH_MUSTCHECK enum mh_err mh_scheme_normalize(json_t *vf, json_t **out, struct mh_err_info *info);

/* The settings of normalised `vf` (see load_settings); the scheme in *sc. */
void mh_scheme_load_settings(json_t *vf, const struct mh_scheme **sc, struct mh_scheme_settings *s);

/* A new secret for a key of `sc` (see generate_secret). MH_EINVAL for a scheme without keys. */
MH_MUSTCHECK enum mh_err mh_scheme_generate_secret(const struct mh_scheme *sc, char **out);

/* The key algorithms a scheme's keys may have ("hmac"; "hs256", "rs256", ...), new array. */
json_t *mh_scheme_key_algorithms(const struct mh_scheme *sc);

/* GET /api/schemes: a new array describing every scheme (name, label, summary, headers, keys,
 * fields), in the table's order. docs/webhooks.md "Verification schemes" and api/openapi.json. */
json_t *mh_scheme_describe_all(void);

/*
 * The sender example of an endpoint (docs/webhooks.md "In the web app"): {"scheme", "url",
 * "method", "content_type", "body", "secret_included", "script", "provider", "notes"}, new in
 * *out. `secret` (NULL: the script reads $SECRET) and the script holding it are wiped when
 * freed here; the caller owns *out, which holds it when given.
 */
MH_MUSTCHECK enum mh_err mh_scheme_examples(json_t *verification, const char *url,
                                            const char *method, const char *secret, const char *kid,
                                            bool has_schema, json_t **out);

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
