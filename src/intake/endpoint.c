/* SPDX-License-Identifier: MIT */
/*
 * Endpoint settings: the verification object's grammar (normalised once, when the management
 * API stores it, and read again here when an endpoint is loaded), key checks and generation,
 * sealing of key secrets, and the compilation of a lookup row into the immutable, refcounted
 * endpoint the hot path shares between threads: secrets opened, JWT keys parsed, the JSON
 * Schema compiled. A key that cannot be opened (a missing key-encryption key) marks the
 * endpoint broken, so its deliveries get 503 and are retried by the sender rather than lost.
 */
#include "intake/intake_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "secrets/secrets.h"

#define DEFAULT_TOLERANCE_S 300
/* Ten years: only for checking old published example signatures; docs/webhooks.md warns. */
#define MAX_TOLERANCE_S  315360000
#define DEFAULT_LEEWAY_S 60
#define MAX_LEEWAY_S     3600
#define MIN_HMAC_SECRET  16
#define MAX_SECRET       4096
#define VAULT_NAME_FMT   "webhook_endpoint_key/%s"

static bool is_token(const char *s, size_t max);
static enum mh_err get_int(json_t *obj, const char *name, int64_t def, int64_t min, int64_t max,
                           int64_t *out, struct mh_err_info *info);
static enum mh_err get_str(json_t *obj, const char *name, const char *def, size_t max,
                           const char **out, struct mh_err_info *info);
static enum mh_err only(json_t *obj, const char *const *allowed, struct mh_err_info *info);
static enum mh_intake__scheme scheme_of(const char *s);
static void endpoint_free(struct mh_intake__endpoint *ep);
static enum mh_err load_key(struct mh_intake *in, struct mh_intake__endpoint *ep, json_t *kj,
                            struct mh_intake__key *k, bool *is_usable, struct mh_err_info *info);
static void set_broken(struct mh_intake__endpoint *ep, const char *why);
static void copy_id(char out[37], json_t *v);

bool mh_intake_scheme_is_known(const char *scheme)
{
    return scheme && scheme_of(scheme) != (enum mh_intake__scheme) - 1;
}

/* The scheme's id in the one table (src/schemes/schemes.c), which enum mh_intake__scheme
 * follows. */
static enum mh_intake__scheme scheme_of(const char *s)
{
    size_t id = 0;
    if (mh_scheme_find(s, &id) == NULL)
        return (enum mh_intake__scheme) - 1;
    return (enum mh_intake__scheme)id;
}

bool mh_intake_scheme_accepts(const char *scheme, const char *alg)
{
    enum mh_intake__scheme s = scheme_of(scheme);
    if (alg == NULL || s == MH_INTAKE__NONE || s == (enum mh_intake__scheme) - 1)
        return false;
    enum mh_crypto_jwt_alg ja;
    if (mh_scheme_at(s)->key_kind == MH_SCHEME_KEY_JWT)
        return mh_crypto_jwt_alg_parse_config(alg, &ja);
    return strcmp(alg, "hmac") == 0;
}

/* An HTTP header name (RFC 9110 token) of at most `max` characters. */
static bool is_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

static enum mh_err get_int(json_t *obj, const char *name, int64_t def, int64_t min, int64_t max,
                           int64_t *out, struct mh_err_info *info)
{
    json_t *v = json_object_get(obj, name);
    *out = def;
    if (v == NULL || json_is_null(v))
        return MH_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        mh_err_set(info, MH_EINVAL, "invalid", -1, "'%s' must be an integer from %lld to %lld",
                   name, (long long)min, (long long)max);
        char path[64];
        snprintf(path, sizeof(path), "/%s", name);
        mh_err_set_path(info, path);
        return MH_EINVAL;
    }
    *out = json_integer_value(v);
    return MH_OK;
}

static enum mh_err get_str(json_t *obj, const char *name, const char *def, size_t max,
                           const char **out, struct mh_err_info *info)
{
    json_t *v = json_object_get(obj, name);
    *out = def;
    if (v == NULL || json_is_null(v))
        return MH_OK;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        mh_err_set(info, MH_EINVAL, "invalid", -1, "'%s' must be a string of at most %zu bytes",
                   name, max);
        char path[64];
        snprintf(path, sizeof(path), "/%s", name);
        mh_err_set_path(info, path);
        return MH_EINVAL;
    }
    *out = json_string_value(v);
    return MH_OK;
}

static enum mh_err only(json_t *obj, const char *const *allowed, struct mh_err_info *info)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            mh_err_set(info, MH_EINVAL, "invalid", -1,
                       "unknown verification setting '%.60s' for this scheme", key);
            char path[96];
            snprintf(path, sizeof(path), "/%.80s", key);
            mh_err_set_path(info, path);
            return MH_EINVAL;
        }
    }
    return MH_OK;
}

enum mh_err mh_intake_verification_normalize(json_t *vf, json_t **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *n = NULL;
    *out = NULL;
    if (!json_is_object(vf))
        return mh_err_set(info, MH_EINVAL, "invalid", -1, "'verification' must be an object");
    const char *scheme = json_string_value(json_object_get(vf, "scheme"));
    enum mh_intake__scheme s = scheme_of(scheme);
    if (s == (enum mh_intake__scheme) - 1) {
        mh_err_set(info, MH_EINVAL, "invalid", -1, "'scheme' must be one of %s", mh_scheme_names());
        mh_err_set_path(info, "/scheme");
        return MH_EINVAL;
    }
    n = json_pack("{s:s}", "scheme", scheme);
    switch (s) {
    case MH_INTAKE__NONE:
    case MH_INTAKE__GITHUB: {
        static const char *const allowed[] = {"scheme", NULL};
        rc = only(vf, allowed, info);
        break;
    }
    case MH_INTAKE__HMAC: {
        static const char *const allowed[] = {"scheme",   "algorithm", "header",
                                              "encoding", "prefix",    NULL};
        const char *alg, *header, *enc, *prefix;
        if ((rc = only(vf, allowed, info)) != MH_OK ||
            (rc = get_str(vf, "algorithm", "sha256", 16, &alg, info)) != MH_OK ||
            (rc = get_str(vf, "header", "X-Signature", 100, &header, info)) != MH_OK ||
            (rc = get_str(vf, "encoding", "hex", 16, &enc, info)) != MH_OK ||
            (rc = get_str(vf, "prefix", "", 60, &prefix, info)) != MH_OK)
            break;
        if (strcmp(alg, "sha256") != 0 && strcmp(alg, "sha512") != 0) {
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "'algorithm' must be sha256 or sha512");
            mh_err_set_path(info, "/algorithm");
            break;
        }
        if (strcmp(enc, "hex") != 0 && strcmp(enc, "base64") != 0 &&
            strcmp(enc, "base64url") != 0) {
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                            "'encoding' must be hex, base64 or base64url");
            mh_err_set_path(info, "/encoding");
            break;
        }
        if (!is_token(header, 100)) {
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "'header' must be a header name");
            mh_err_set_path(info, "/header");
            break;
        }
        for (const char *p = prefix; *p; p++) {
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e) {
                rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                                "'prefix' must be printable ASCII without spaces");
                mh_err_set_path(info, "/prefix");
                break;
            }
        }
        if (rc != MH_OK)
            break;
        json_object_set_new(n, "algorithm", json_string(alg));
        json_object_set_new(n, "header", json_string(header));
        json_object_set_new(n, "encoding", json_string(enc));
        json_object_set_new(n, "prefix", json_string(prefix));
        break;
    }
    case MH_INTAKE__STRIPE:
    case MH_INTAKE__STDWH: {
        static const char *const allowed[] = {"scheme", "tolerance_s", NULL};
        int64_t tol;
        if ((rc = only(vf, allowed, info)) != MH_OK ||
            (rc = get_int(vf, "tolerance_s", DEFAULT_TOLERANCE_S, 1, MAX_TOLERANCE_S, &tol,
                          info)) != MH_OK)
            break;
        json_object_set_new(n, "tolerance_s", json_integer(tol));
        break;
    }
    case MH_INTAKE__JWT: {
        static const char *const allowed[] = {"scheme",   "issuer",      "audience",
                                              "leeway_s", "require_exp", NULL};
        const char *iss, *aud;
        int64_t leeway;
        json_t *req = json_object_get(vf, "require_exp");
        if ((rc = only(vf, allowed, info)) != MH_OK ||
            (rc = get_str(vf, "issuer", NULL, 500, &iss, info)) != MH_OK ||
            (rc = get_str(vf, "audience", NULL, 500, &aud, info)) != MH_OK ||
            (rc = get_int(vf, "leeway_s", DEFAULT_LEEWAY_S, 0, MAX_LEEWAY_S, &leeway, info)) !=
                MH_OK)
            break;
        if (req && !json_is_boolean(req)) {
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "'require_exp' must be a boolean");
            mh_err_set_path(info, "/require_exp");
            break;
        }
        json_object_set_new(n, "issuer", iss ? json_string(iss) : json_null());
        json_object_set_new(n, "audience", aud ? json_string(aud) : json_null());
        json_object_set_new(n, "leeway_s", json_integer(leeway));
        json_object_set_new(n, "require_exp", json_boolean(req == NULL || json_is_true(req)));
        break;
    }
    }
    if (rc != MH_OK) {
        json_decref(n);
        return rc;
    }
    *out = n;
    return MH_OK;
}

enum mh_err mh_intake_key_check(const char *scheme, const char *alg, const char *secret,
                                const char *pem, struct mh_err_info *info)
{
    if (!mh_intake_scheme_accepts(scheme, alg))
        return mh_err_set(info, MH_EINVAL, "invalid", -1,
                          "the '%s' scheme takes no keys of algorithm '%s'", scheme,
                          alg ? alg : "(none)");
    enum mh_crypto_jwt_alg ja = MH_CRYPTO_JWT_HS256;
    bool wants_pem = mh_crypto_jwt_alg_parse_config(alg, &ja) && ja != MH_CRYPTO_JWT_HS256;
    if (wants_pem) {
        if (pem == NULL || secret != NULL)
            return mh_err_set(info, MH_EINVAL, "invalid", -1,
                              "an %s key is given as 'public_key_pem' (a PEM PUBLIC KEY), 'jwk' "
                              "or 'jwks'",
                              alg);
        struct mh_crypto_jwt_key *k = NULL;
        enum mh_err rc = mh_crypto_jwt_key_create_pem(ja, NULL, pem, strlen(pem), &k, info);
        mh_crypto_jwt_key_destroy(k);
        return rc;
    }
    if (pem != NULL)
        return mh_err_set(info, MH_EINVAL, "invalid", -1,
                          "'public_key_pem' is only for public-key algorithms (rs256, ps256, "
                          "es256, es384, es512, eddsa)");
    if (secret == NULL)
        return MH_OK; /* generated */
    size_t len = strlen(secret);
    if (len > MAX_SECRET)
        return mh_err_set(info, MH_EINVAL, "invalid", -1, "the secret is longer than %d bytes",
                          MAX_SECRET);
    if (scheme_of(scheme) == MH_INTAKE__STDWH) {
        uint8_t k[MH_CRYPTO_STDWH_KEY_MAX];
        size_t klen = 0;
        enum mh_err rc = mh_crypto_stdwh_secret_decode(secret, k, sizeof(k), &klen);
        mh_crypto_wipe(k, sizeof(k));
        if (rc != MH_OK)
            return mh_err_set(info, MH_EINVAL, "invalid", -1,
                              "a Standard Webhooks secret is 'whsec_' followed by the base64 of "
                              "24 to 64 bytes");
        return MH_OK;
    }
    size_t min = strcmp(alg, "hs256") == 0 ? MH_CRYPTO_JWT_HMAC_MIN_KEY : MIN_HMAC_SECRET;
    if (len < min)
        return mh_err_set(info, MH_EINVAL, "invalid", -1,
                          "the secret must be at least %zu bytes long", min);
    return MH_OK;
}

enum mh_err mh_intake_keys_from_jwk(const char *scheme, json_t *jwk, json_t *jwks,
                                    const char *algorithm, struct mh_intake_public_key *out,
                                    size_t cap, size_t *n, struct mh_err_info *info)
{
    struct mh_crypto_jwt_key *keys[MH_CRYPTO_JWT_JWKS_MAX_KEYS];
    enum mh_crypto_jwt_alg hint;
    size_t nkeys = 0;
    enum mh_err rc = MH_OK;
    *n = 0;
    if (scheme_of(scheme) != MH_INTAKE__JWT)
        return mh_err_set(info, MH_EINVAL, "invalid", -1,
                          "JWK and JWKS keys are for the 'jwt' scheme only");
    if (algorithm != NULL &&
        (!mh_crypto_jwt_alg_parse_config(algorithm, &hint) || hint == MH_CRYPTO_JWT_HS256))
        return mh_err_set(info, MH_EINVAL, "invalid", -1,
                          "a JWK is a public key: 'algorithm' must be rs256, ps256, es256, es384, "
                          "es512 or eddsa");
    if (jwk != NULL) {
        rc = mh_crypto_jwt_key_create_jwk(jwk, algorithm ? &hint : NULL, &keys[0], info);
        nkeys = rc == MH_OK ? 1 : 0;
    } else {
        rc = mh_crypto_jwt_jwks_parse(
            jwks, keys, cap < MH_ARRAY_LEN(keys) ? cap : MH_ARRAY_LEN(keys), &nkeys, info);
    }
    for (size_t i = 0; rc == MH_OK && i < nkeys; i++) {
        enum mh_crypto_jwt_alg a = mh_crypto_jwt_key_alg(keys[i]);
        if (algorithm != NULL && a != hint) {
            char path[32];
            snprintf(path, sizeof(path), "/keys/%zu/alg", i);
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "key %zu is %s, not %s", i,
                            mh_crypto_jwt_alg_name(a), mh_crypto_jwt_alg_name(hint));
            mh_err_set_path(info, path);
            break;
        }
        if (mh_crypto_jwt_key_public_pem(keys[i], &out[i].pem) != MH_OK) {
            rc = mh_err_set(info, MH_ECRYPTO, "internal", -1, "could not encode a public key");
            break;
        }
        snprintf(out[i].algorithm, sizeof(out[i].algorithm), "%s",
                 mh_crypto_jwt_alg_config_name(a));
        const char *kid = mh_crypto_jwt_key_kid(keys[i]);
        out[i].kid = kid ? mh_xstrdup(kid) : NULL;
        *n = i + 1;
    }
    for (size_t i = 0; i < nkeys; i++)
        mh_crypto_jwt_key_destroy(keys[i]);
    if (rc != MH_OK) {
        mh_intake_public_keys_cleanup(out, *n);
        *n = 0;
    }
    return rc;
}

void mh_intake_public_keys_cleanup(struct mh_intake_public_key *keys, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(keys[i].pem);
        free(keys[i].kid);
        keys[i].pem = keys[i].kid = NULL;
    }
}

enum mh_err mh_intake_key_generate(const char *scheme, char **secret)
{
    enum mh_intake__scheme s = scheme_of(scheme);
    if (s == MH_INTAKE__STDWH)
        return mh_crypto_stdwh_secret_generate(secret);
    char *tok = NULL;
    enum mh_err rc = mh_crypto_token_b64url(32, &tok);
    if (rc != MH_OK)
        return rc;
    if (s == MH_INTAKE__STRIPE) {
        /* Stripe's secrets look like this, and Stripe MACs with the whole string. */
        size_t n = strlen(tok) + 7;
        *secret = mh_xmalloc(n);
        snprintf(*secret, n, "whsec_%s", tok);
        mh_crypto_free_secret_str(tok);
        return MH_OK;
    }
    *secret = tok;
    return MH_OK;
}

long mh_intake_max_endpoint_body(const struct mh_intake *in)
{
    return in->max_body_bytes;
}

enum mh_err mh_intake_key_seal(struct mh_intake *in, const char *project_id, const char *key_id,
                               const char *secret, char **sealed, struct mh_err_info *info)
{
    char name[80];
    const char *kek_id = NULL;
    snprintf(name, sizeof(name), VAULT_NAME_FMT, key_id);
    if (!mh_secrets_can_seal(in->secrets))
        return mh_err_set(info, MH_EUNAVAILABLE, "no-kek", -1,
                          "no key-encryption key is configured (kek or kek_file): signing keys "
                          "cannot be stored");
    return mh_secrets_seal(in->secrets, project_id, name, secret, strlen(secret), sealed, &kek_id,
                           info);
}

/* ---- Loaded endpoints -------------------------------------------------------------------- */

struct mh_intake__endpoint *mh_intake__endpoint_ref(struct mh_intake__endpoint *ep)
{
    if (ep)
        atomic_fetch_add(&ep->refs, 1);
    return ep;
}

void mh_intake__endpoint_unref(struct mh_intake__endpoint *ep)
{
    if (ep && atomic_fetch_sub(&ep->refs, 1) == 1)
        endpoint_free(ep);
}

bool mh_intake__key_note_use(const struct mh_intake__key *k, int64_t now_ms)
{
    /* The keys of a published endpoint are shared read-only, except this atomic field: the
     * object itself was allocated writable, so writing it through the cast is defined. */
    _Atomic int64_t *noted = (_Atomic int64_t *)&k->use_noted_ms;
    int64_t prev = atomic_load_explicit(noted, memory_order_relaxed);
    if (prev != 0 && now_ms - prev < MH_INTAKE__KEY_USE_EVERY_MS)
        return false;
    /* Of concurrent deliveries, the one that moves the mark writes. */
    return atomic_compare_exchange_strong(noted, &prev, now_ms);
}

static void endpoint_free(struct mh_intake__endpoint *ep)
{
    for (size_t i = 0; i < ep->nkeys; i++) {
        mh_crypto_free_secret(ep->keys[i].secret, ep->keys[i].secret_len);
        mh_crypto_jwt_key_destroy(ep->keys[i].jwt);
    }
    free(ep->keys);
    free(ep->jwt_issuer);
    free(ep->jwt_audience);
    free(ep->broken);
    mh_schema_destroy(ep->schema);
    mh_engine_wf_unref(ep->wf);
    free(ep);
}

static void set_broken(struct mh_intake__endpoint *ep, const char *why)
{
    if (ep->broken == NULL)
        ep->broken = mh_xstrdup(why);
}

static void copy_id(char out[37], json_t *v)
{
    snprintf(out, 37, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* Opens one key row. A key that does not suit the current scheme is skipped (*is_usable
 * false); one that cannot be opened breaks the endpoint. */
static enum mh_err load_key(struct mh_intake *in, struct mh_intake__endpoint *ep, json_t *kj,
                            struct mh_intake__key *k, bool *is_usable, struct mh_err_info *info)
{
    char *plain = NULL, *sealed = NULL;
    size_t plain_len = 0;
    enum mh_err rc = MH_OK;
    *is_usable = false;
    memset(k, 0, sizeof(*k));
    copy_id(k->id, json_object_get(kj, "id"));
    const char *alg = json_string_value(json_object_get(kj, "algorithm"));
    const char *kid = json_string_value(json_object_get(kj, "kid"));
    const char *sealed_hex = json_string_value(json_object_get(kj, "sealed_key"));
    const char *pem = json_string_value(json_object_get(kj, "public_key_pem"));
    k->created_ms = json_integer_value(json_object_get(kj, "created_ms"));
    k->expires_ms = json_integer_value(json_object_get(kj, "expires_ms"));
    if (alg == NULL || !mh_intake_scheme_accepts(mh_scheme_at(ep->scheme)->name, alg))
        goto out;
    enum mh_crypto_jwt_alg ja = MH_CRYPTO_JWT_HS256;
    bool is_jwt = mh_crypto_jwt_alg_parse_config(alg, &ja);
    k->alg = !is_jwt                     ? MH_INTAKE__ALG_HMAC
             : ja == MH_CRYPTO_JWT_HS256 ? MH_INTAKE__ALG_HS256
                                         : MH_INTAKE__ALG_PUBLIC;
    if (k->alg == MH_INTAKE__ALG_PUBLIC) {
        if (pem == NULL)
            goto out;
        rc = mh_crypto_jwt_key_create_pem(ja, kid, pem, strlen(pem), &k->jwt, info);
        if (rc != MH_OK) {
            set_broken(ep, "a public key of the endpoint does not load");
            rc = MH_OK;
            goto out;
        }
        *is_usable = true;
        goto out;
    }
    if (sealed_hex == NULL)
        goto out;
    size_t hex_len = strlen(sealed_hex);
    sealed = mh_xmalloc(hex_len + 3);
    snprintf(sealed, hex_len + 3, "\\x%s", sealed_hex);
    char name[80];
    snprintf(name, sizeof(name), VAULT_NAME_FMT, k->id);
    struct mh_err_info oinfo = MH_ERR_INFO_INIT;
    if (mh_secrets_open(mh_secrets_keyring(in->secrets), ep->project_id, name, sealed, &plain,
                        &plain_len, &oinfo) != MH_OK) {
        mh_log(MH_LOG_WARN, "intake", "endpoint %s: key %s does not open (%s)", ep->id, k->id,
               oinfo.kind);
        set_broken(ep, "a signing key of the endpoint does not open with the configured "
                       "key-encryption keys");
        goto out;
    }
    if (ep->scheme == MH_INTAKE__STDWH) {
        k->secret = mh_xmalloc(MH_CRYPTO_STDWH_KEY_MAX);
        if (mh_crypto_stdwh_secret_decode(plain, k->secret, MH_CRYPTO_STDWH_KEY_MAX,
                                          &k->secret_len) != MH_OK) {
            mh_crypto_free_secret(k->secret, MH_CRYPTO_STDWH_KEY_MAX);
            k->secret = NULL;
            k->secret_len = 0;
            goto out; /* made for another scheme */
        }
    } else {
        k->secret = (uint8_t *)plain;
        k->secret_len = plain_len;
        plain = NULL;
    }
    if (k->alg == MH_INTAKE__ALG_HS256 &&
        mh_crypto_jwt_key_create_hmac(kid, k->secret, k->secret_len, &k->jwt, NULL) != MH_OK)
        goto out;
    *is_usable = true;
out:
    mh_crypto_free_secret(plain, plain_len);
    free(sealed);
    if (!*is_usable) {
        mh_crypto_free_secret(k->secret, k->secret_len);
        mh_crypto_jwt_key_destroy(k->jwt);
        k->secret = NULL;
        k->jwt = NULL;
    }
    return rc;
}

enum mh_err mh_intake__endpoint_from_row(struct mh_intake *in, json_t *row,
                                         struct mh_intake__endpoint **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *vf = NULL;
    struct mh_intake__endpoint *ep = mh_xcalloc(1, sizeof(*ep));
    atomic_init(&ep->refs, 1);
    copy_id(ep->id, json_object_get(row, "id"));
    copy_id(ep->project_id, json_object_get(row, "project_id"));
    copy_id(ep->workflow_id, json_object_get(row, "workflow_id"));
    copy_id(ep->version_id, json_object_get(row, "version_id"));
    ep->version = json_integer_value(json_object_get(row, "version"));
    ep->config_version = json_integer_value(json_object_get(row, "config_version"));
    ep->is_enabled = json_is_true(json_object_get(row, "is_enabled"));
    ep->max_body_bytes = (long)json_integer_value(json_object_get(row, "max_body_bytes"));
    ep->rate_capacity = (double)json_integer_value(json_object_get(row, "rate_capacity"));
    ep->rate_per_second = json_number_value(json_object_get(row, "rate_per_second"));
    ep->retention_s = (int)json_integer_value(json_object_get(row, "idempotency_retention_s"));
    const char *mode = json_string_value(json_object_get(row, "response_mode"));
    ep->responds = mode != NULL && strcmp(mode, "respond") == 0;
    ep->response_timeout_ms = (int)json_integer_value(json_object_get(row, "response_timeout_ms"));
    /* The version's compiled definition, for the pure prefix the intake decides itself
     * (intake.c). A definition that does not compile leaves it to the workers, which fail the
     * run as they always have. */
    json_t *def = json_object_get(row, "definition");
    if (json_is_object(def)) {
        json_t *errors = NULL;
        if (mh_engine_wf_compile(def, &ep->wf, &errors) != MH_OK)
            ep->wf = NULL;
        json_decref(errors);
        ep->has_respond = ep->wf != NULL && mh_engine_wf_has_respond(ep->wf);
    }
    json_t *methods = json_object_get(row, "methods");
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        size_t used = strlen(ep->methods);
        const char *ms = json_string_value(m);
        if (ms && used + strlen(ms) + 3 < sizeof(ep->methods))
            snprintf(ep->methods + used, sizeof(ep->methods) - used, "%s%s", used ? ", " : "", ms);
    }
    if (ep->id[0] == '\0' || ep->project_id[0] == '\0' || ep->rate_per_second <= 0) {
        rc = mh_err_set(info, MH_EINVAL, "row", -1, "incomplete endpoint row");
        goto out;
    }
    /* The stored object was normalised when it was written; normalising again fills in
     * defaults added since, and refuses what no longer parses. */
    if (mh_intake_verification_normalize(json_object_get(row, "verification"), &vf, NULL) !=
        MH_OK) {
        set_broken(ep, "the endpoint's verification settings are invalid");
        ep->scheme = MH_INTAKE__HMAC; /* never "none" by accident */
        goto out;
    }
    ep->scheme = scheme_of(json_string_value(json_object_get(vf, "scheme")));
    if (ep->scheme == MH_INTAKE__HMAC) {
        snprintf(ep->hmac_header, sizeof(ep->hmac_header), "%s",
                 json_string_value(json_object_get(vf, "header")));
        snprintf(ep->hmac_prefix, sizeof(ep->hmac_prefix), "%s",
                 json_string_value(json_object_get(vf, "prefix")));
        const char *alg = json_string_value(json_object_get(vf, "algorithm"));
        const char *enc = json_string_value(json_object_get(vf, "encoding"));
        ep->hmac.alg = strcmp(alg, "sha512") == 0 ? MH_CRYPTO_HASH_SHA512 : MH_CRYPTO_HASH_SHA256;
        ep->hmac.encoding = strcmp(enc, "base64") == 0      ? MH_CRYPTO_SIG_BASE64
                            : strcmp(enc, "base64url") == 0 ? MH_CRYPTO_SIG_BASE64URL
                                                            : MH_CRYPTO_SIG_HEX;
        ep->hmac.prefix = ep->hmac_prefix;
    }
    ep->tolerance_s = json_integer_value(json_object_get(vf, "tolerance_s"));
    if (ep->scheme == MH_INTAKE__JWT) {
        const char *iss = json_string_value(json_object_get(vf, "issuer"));
        const char *aud = json_string_value(json_object_get(vf, "audience"));
        ep->jwt_issuer = iss ? mh_xstrdup(iss) : NULL;
        ep->jwt_audience = aud ? mh_xstrdup(aud) : NULL;
        ep->jwt_leeway_s = json_integer_value(json_object_get(vf, "leeway_s"));
        ep->jwt_allow_missing_exp = !json_is_true(json_object_get(vf, "require_exp"));
    }
    json_t *schema = json_object_get(row, "json_schema");
    if (schema && !json_is_null(schema)) {
        struct mh_err_info sinfo = MH_ERR_INFO_INIT;
        if (mh_schema_compile(schema, &ep->schema, &sinfo) != MH_OK)
            set_broken(ep, "the endpoint's JSON Schema does not compile");
    }
    json_t *keys = json_object_get(row, "keys");
    size_t nk = json_array_size(keys);
    if (nk > MH_CRYPTO_SIG_MAX_KEYS)
        nk = MH_CRYPTO_SIG_MAX_KEYS;
    ep->keys = mh_xcalloc(nk ? nk : 1, sizeof(*ep->keys));
    for (i = 0; i < nk && ep->scheme != MH_INTAKE__NONE; i++) {
        bool is_usable = false;
        rc = load_key(in, ep, json_array_get(keys, i), &ep->keys[ep->nkeys], &is_usable, info);
        if (rc != MH_OK)
            goto out;
        if (is_usable)
            ep->nkeys++;
    }
out:
    json_decref(vf);
    if (rc != MH_OK) {
        endpoint_free(ep);
        return rc;
    }
    *out = ep;
    return MH_OK;
}
