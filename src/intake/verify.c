/* SPDX-License-Identifier: MIT */
/*
 * Verification dispatch: picks the headers an endpoint's scheme reads, hands them with the raw
 * body and the endpoint's usable keys (not expired at this instant; several during a rotation)
 * to src/crypto, and turns the outcome into a reason a sender may read. Signatures are never
 * copied anywhere: only a SHA-256 of the signature header is kept, so a recorded delivery can
 * later be matched against a recomputed signature without the record being a credential. The
 * signer side serves test webhooks, which must look exactly like a real sender's request. What
 * each scheme reads and computes is its operation table's business (src/schemes/).
 */
#include "intake/intake_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "schemes/schemes.h"

static size_t usable_keys(const struct mh_intake__endpoint *ep, int64_t now_ms,
                          const struct mh_intake__key **out, size_t cap);
static void hash_header(const char *value, char out[65]);
static const char *request_header(const void *ctx, const char *name);

const char *mh_intake__header(const struct mh_intake_request *rq, const char *name)
{
    for (size_t i = 0; i < rq->nheaders; i++)
        if (strcasecmp(rq->headers[i].name, name) == 0)
            return rq->headers[i].value;
    return NULL;
}

/* The keys usable at `now_ms`, newest first (the order of the lookup). */
static size_t usable_keys(const struct mh_intake__endpoint *ep, int64_t now_ms,
                          const struct mh_intake__key **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < ep->nkeys && n < cap; i++) {
        const struct mh_intake__key *k = &ep->keys[i];
        if (k->expires_ms != 0 && k->expires_ms <= now_ms)
            continue;
        bool is_jwt_key = k->alg != MH_INTAKE__ALG_HMAC;
        if (is_jwt_key != (ep->scheme->key_kind == MH_SCHEME_KEY_JWT))
            continue;
        out[n++] = k;
    }
    return n;
}

static void hash_header(const char *value, char out[65])
{
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    out[0] = '\0';
    if (value && mh_crypto_sha256(value, strlen(value), h) == MH_OK)
        mh_crypto_hex_encode(h, sizeof(h), out);
}

static const char *request_header(const void *ctx, const char *name)
{
    return mh_intake__header(ctx, name);
}

enum mh_err mh_intake__verify(const struct mh_intake__endpoint *ep,
                              const struct mh_intake_request *rq, int64_t now_s,
                              struct mh_intake__verified *v, struct mh_err_info *info)
{
    const struct mh_intake__key *keys[MH_CRYPTO_SIG_MAX_KEYS];
    struct mh_crypto_sig_key sig_keys[MH_CRYPTO_SIG_MAX_KEYS];
    const struct mh_crypto_jwt_key *jwt_keys[MH_CRYPTO_SIG_MAX_KEYS];
    memset(v, 0, sizeof(*v));
    const struct mh_scheme *sc = ep->scheme;
    if (sc->verify == NULL)
        return MH_OK;
    if (ep->broken)
        return mh_err_set(info, MH_EUNAVAILABLE, "broken", -1, "%s", ep->broken);
    size_t n = usable_keys(ep, now_s * 1000, keys, MH_ARRAY_LEN(keys));
    if (n == 0)
        return mh_err_set(info, MH_EUNAVAILABLE, "no-key", -1,
                          "the endpoint has no usable signing key");
    for (size_t i = 0; i < n; i++) {
        sig_keys[i] = (struct mh_crypto_sig_key){keys[i]->secret, keys[i]->secret_len};
        jwt_keys[i] = keys[i]->jwt;
    }
    struct mh_scheme_request req = {rq->body, rq->body_len, request_header, rq};
    struct mh_scheme_keys ks = {sig_keys, jwt_keys, n};
    struct mh_scheme_verdict vd = {0};
    enum mh_err rc = sc->verify(&ep->settings, &req, &ks, now_s, &vd, info);
    if (rc == MH_OK) {
        v->key = keys[vd.key_index];
        v->signed_at = vd.signed_at;
        hash_header(vd.signature, v->signature_sha256);
        return MH_OK;
    }
    /* Configuration errors of ours are not the sender's fault. */
    if (rc == MH_EINVAL || rc == MH_ECRYPTO)
        return mh_err_set(info, MH_EUNAVAILABLE, "broken", -1,
                          "the endpoint's verification failed internally");
    return MH_EAUTH;
}

enum mh_err mh_intake__sign(const struct mh_intake__endpoint *ep, const void *body, size_t len,
                            int64_t now_s, json_t *headers, struct mh_err_info *info)
{
    const struct mh_intake__key *keys[MH_CRYPTO_SIG_MAX_KEYS];
    const struct mh_scheme *sc = ep->scheme;
    if (sc->sign == NULL)
        return MH_OK;
    if (ep->broken)
        return mh_err_set(info, MH_EUNAVAILABLE, "broken", -1, "%s", ep->broken);
    size_t n = usable_keys(ep, now_s * 1000, keys, MH_ARRAY_LEN(keys));
    if (n == 0)
        return mh_err_set(info, MH_EINVAL, "no-key", -1,
                          "the endpoint has no usable signing key to sign a test webhook with");
    const struct mh_intake__key *k = keys[0];
    struct mh_crypto_sig_key sk = {k->secret, k->secret_len};
    /* A test delivery's message id says what it is. */
    char msg_id[64] = "";
    char *rnd = NULL;
    if (mh_crypto_token_b64url(16, &rnd) == MH_OK) {
        snprintf(msg_id, sizeof(msg_id), "msg_test_%s", rnd);
        free(rnd);
    }
    struct mh_scheme_sign_args a = {
        .settings = &ep->settings,
        .key = &sk,
        .jwt = k->jwt,
        .now_s = now_s,
        .msg_id = msg_id[0] ? msg_id : NULL,
    };
    struct mh_scheme_headers out = {0};
    enum mh_err rc = sc->sign(&a, body, len, &out, info);
    if (rc == MH_OK) {
        for (size_t i = 0; i < out.n; i++)
            json_object_set_new(headers, out.h[i].name, json_string(out.h[i].value));
        for (const char *const *t = sc->test_headers; t != NULL && t[0] != NULL; t += 2)
            json_object_set_new(headers, t[0], json_string(t[1]));
    }
    mh_scheme_headers_cleanup(&out);
    if (rc != MH_OK && info && info->message[0] == '\0')
        mh_err_set(info, rc, "sign", -1, "could not sign the test webhook");
    return rc;
}
