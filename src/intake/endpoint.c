/* SPDX-License-Identifier: MIT */
/*
 * Endpoint settings: the verification object (checked against its scheme's table of settings,
 * src/schemes/, once when the management API stores it and again here when an endpoint is
 * loaded), key checks, sealing of key secrets, and the compilation of a lookup row into the
 * immutable, refcounted endpoint the hot path shares between threads: secrets opened, JWT keys
 * parsed, the JSON Schema compiled. A key that cannot be opened (a missing key-encryption key)
 * marks the endpoint broken, so its deliveries get 503 and are retried by the sender rather than
 * lost.
 */
#include "intake/intake_internal.h"

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

#define MIN_HMAC_SECRET 16
#define MAX_SECRET      4096
#define VAULT_NAME_FMT  "webhook_endpoint_key/%s"

static void endpoint_free(struct mh_intake__endpoint *ep);
static enum mh_err load_key(struct mh_intake *in, struct mh_intake__endpoint *ep, json_t *kj,
                            struct mh_intake__key *k, bool *is_usable, struct mh_err_info *info);
static void set_broken(struct mh_intake__endpoint *ep, const char *why);
static void copy_id(char out[37], json_t *v);

bool mh_intake_scheme_is_known(const char *scheme)
{
    return mh_scheme_find(scheme, NULL) != NULL;
}

bool mh_intake_scheme_accepts(const char *scheme, const char *alg)
{
    const struct mh_scheme *sc = mh_scheme_find(scheme, NULL);
    if (alg == NULL || sc == NULL || sc->key_kind == MH_SCHEME_KEY_NONE)
        return false;
    enum mh_crypto_jwt_alg ja;
    if (sc->key_kind == MH_SCHEME_KEY_JWT)
        return mh_crypto_jwt_alg_parse_config(alg, &ja);
    return strcmp(alg, "hmac") == 0;
}

enum mh_err mh_intake_verification_normalize(json_t *vf, json_t **out, struct mh_err_info *info)
{
    return mh_scheme_normalize(vf, out, info);
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
    const struct mh_scheme *sc = mh_scheme_find(scheme, NULL);
    if (sc->decode_secret != NULL) { /* a secret of the scheme's own form */
        uint8_t k[MH_CRYPTO_STDWH_KEY_MAX];
        size_t klen = 0;
        enum mh_err rc = sc->decode_secret(secret, k, sizeof(k), &klen);
        mh_crypto_wipe(k, sizeof(k));
        if (rc != MH_OK)
            return mh_err_set(info, MH_EINVAL, "invalid", -1, "%s",
                              sc->secret_form ? sc->secret_form
                                              : "the secret is not of the scheme's form");
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
    const struct mh_scheme *sc = mh_scheme_find(scheme, NULL);
    if (sc == NULL || sc->key_kind != MH_SCHEME_KEY_JWT)
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
    const struct mh_scheme *sc = mh_scheme_find(scheme, NULL);
    return sc ? mh_scheme_generate_secret(sc, secret) : MH_EINVAL;
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
    json_decref(ep->verification);
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
    if (alg == NULL || !mh_intake_scheme_accepts(ep->scheme->name, alg))
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
    if (ep->scheme->decode_secret != NULL) {
        k->secret = mh_xmalloc(MH_CRYPTO_STDWH_KEY_MAX);
        if (ep->scheme->decode_secret(plain, k->secret, MH_CRYPTO_STDWH_KEY_MAX, &k->secret_len) !=
            MH_OK) {
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
    if (mh_scheme_normalize(json_object_get(row, "verification"), &ep->verification, NULL) !=
        MH_OK) {
        set_broken(ep, "the endpoint's verification settings are invalid");
        ep->scheme = &mh_scheme_hmac; /* never "none" by accident */
        goto out;
    }
    mh_scheme_load_settings(ep->verification, &ep->scheme, &ep->settings);
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
    for (i = 0; i < nk && ep->scheme->key_kind != MH_SCHEME_KEY_NONE; i++) {
        bool is_usable = false;
        rc = load_key(in, ep, json_array_get(keys, i), &ep->keys[ep->nkeys], &is_usable, info);
        if (rc != MH_OK)
            goto out;
        if (is_usable)
            ep->nkeys++;
    }
out:
    if (rc != MH_OK) {
        endpoint_free(ep);
        return rc;
    }
    *out = ep;
    return MH_OK;
}
