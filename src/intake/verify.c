/* SPDX-License-Identifier: MIT */
/*
 * Verification dispatch: picks the headers an endpoint's scheme reads, hands them with the raw
 * body and the endpoint's usable keys (not expired at this instant; several during a rotation)
 * to src/crypto, and turns the outcome into a reason a sender may read. Signatures are never
 * copied anywhere: only a SHA-256 of the signature header is kept, so a recorded delivery can
 * later be matched against a recomputed signature without the record being a credential. The
 * signer side serves test webhooks, which must look exactly like a real sender's request.
 */
#include "intake/intake_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static size_t usable_keys(const struct mh_intake__endpoint *ep, int64_t now_ms,
                          const struct mh_intake__key **out, size_t cap);
static void hash_header(const char *value, char out[65]);
static enum mh_err sign_jwt(const struct mh_intake__endpoint *ep, const struct mh_intake__key *k,
                            int64_t now_s, char **out, struct mh_err_info *info);

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
        if (is_jwt_key != (ep->scheme == MH_INTAKE__JWT))
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

enum mh_err mh_intake__verify(const struct mh_intake__endpoint *ep,
                              const struct mh_intake_request *rq, int64_t now_s,
                              struct mh_intake__verified *v, struct mh_err_info *info)
{
    const struct mh_intake__key *keys[MH_CRYPTO_SIG_MAX_KEYS];
    struct mh_crypto_sig_key sig_keys[MH_CRYPTO_SIG_MAX_KEYS];
    const struct mh_crypto_jwt_key *jwt_keys[MH_CRYPTO_SIG_MAX_KEYS];
    struct mh_crypto_sig_result sr = {0};
    struct mh_crypto_jwt_result jr = {0};
    enum mh_err rc = MH_OK;
    memset(v, 0, sizeof(*v));
    if (ep->scheme == MH_INTAKE__NONE)
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
    const char *sig_header = NULL;
    switch (ep->scheme) {
    case MH_INTAKE__HMAC:
        sig_header = mh_intake__header(rq, ep->hmac_header);
        if (sig_header == NULL || sig_header[0] == '\0')
            return mh_err_set(info, MH_EAUTH, "missing-header", -1, "missing %s header",
                              ep->hmac_header);
        rc = mh_crypto_sig_hmac_verify(&ep->hmac, sig_keys, n, rq->body, rq->body_len, sig_header,
                                       &sr, info);
        break;
    case MH_INTAKE__GITHUB:
        sig_header = mh_intake__header(rq, "X-Hub-Signature-256");
        rc =
            mh_crypto_sig_github_verify(sig_keys, n, rq->body, rq->body_len, sig_header, &sr, info);
        break;
    case MH_INTAKE__STRIPE:
        sig_header = mh_intake__header(rq, "Stripe-Signature");
        rc = mh_crypto_sig_stripe_verify(sig_keys, n, rq->body, rq->body_len, sig_header, now_s,
                                         ep->tolerance_s, &sr, info);
        break;
    case MH_INTAKE__STDWH: {
        const char *id = mh_intake__header(rq, "webhook-id");
        const char *ts = mh_intake__header(rq, "webhook-timestamp");
        sig_header = mh_intake__header(rq, "webhook-signature");
        if (id == NULL && ts == NULL && sig_header == NULL) {
            id = mh_intake__header(rq, "svix-id");
            ts = mh_intake__header(rq, "svix-timestamp");
            sig_header = mh_intake__header(rq, "svix-signature");
        }
        rc = mh_crypto_sig_stdwh_verify(sig_keys, n, rq->body, rq->body_len, id, ts, sig_header,
                                        now_s, ep->tolerance_s, &sr, info);
        break;
    }
    case MH_INTAKE__JWT: {
        const char *token = NULL;
        size_t token_len = 0;
        sig_header = mh_intake__header(rq, "Authorization");
        rc = mh_crypto_jwt_from_bearer(sig_header, &token, &token_len, info);
        if (rc != MH_OK)
            break;
        struct mh_crypto_jwt_verify_opts o = {
            .now = now_s,
            .leeway_s = ep->jwt_leeway_s,
            .issuer = ep->jwt_issuer,
            .audience = ep->jwt_audience,
            .allow_missing_exp = ep->jwt_allow_missing_exp,
        };
        rc = mh_crypto_jwt_verify(token, token_len, jwt_keys, n, &o, NULL, &jr, info);
        sr.key_index = jr.key_index;
        break;
    }
    case MH_INTAKE__NONE: break;
    }
    if (rc == MH_OK) {
        v->key = keys[sr.key_index];
        v->signed_at = sr.timestamp;
        hash_header(sig_header, v->signature_sha256);
        return MH_OK;
    }
    /* Configuration errors of ours are not the sender's fault. */
    if (rc == MH_EINVAL || rc == MH_ECRYPTO)
        return mh_err_set(info, MH_EUNAVAILABLE, "broken", -1,
                          "the endpoint's verification failed internally");
    return MH_EAUTH;
}

/* An HS256 token for a test webhook: iss and aud as the endpoint expects, iat now, exp in five
 * minutes, the key's kid when it has one. */
static enum mh_err sign_jwt(const struct mh_intake__endpoint *ep, const struct mh_intake__key *k,
                            int64_t now_s, char **out, struct mh_err_info *info)
{
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    const char *kid = k->jwt ? mh_crypto_jwt_key_kid(k->jwt) : NULL;
    if (kid)
        json_object_set_new(hdr, "kid", json_string(kid));
    json_t *claims = json_pack("{s:I, s:I, s:s}", "iat", (json_int_t)now_s, "exp",
                               (json_int_t)(now_s + 300), "sub", "meshhook-test-webhook");
    if (ep->jwt_issuer)
        json_object_set_new(claims, "iss", json_string(ep->jwt_issuer));
    if (ep->jwt_audience)
        json_object_set_new(claims, "aud", json_string(ep->jwt_audience));
    char *h = json_dumps(hdr, JSON_COMPACT);
    char *c = json_dumps(claims, JSON_COMPACT);
    json_decref(hdr);
    json_decref(claims);
    char *hb = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, h, strlen(h));
    char *cb = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, c, strlen(c));
    free(h);
    free(c);
    size_t slen = strlen(hb) + 1 + strlen(cb);
    char *signing = mh_xmalloc(slen + 1);
    snprintf(signing, slen + 1, "%s.%s", hb, cb);
    free(hb);
    free(cb);
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    enum mh_err rc =
        mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, k->secret, k->secret_len, signing, slen, mac);
    if (rc != MH_OK) {
        free(signing);
        return mh_err_set(info, rc, "crypto", -1, "could not sign the test token");
    }
    char *sb = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, mac, sizeof(mac));
    mh_crypto_wipe(mac, sizeof(mac));
    size_t tlen = slen + 1 + strlen(sb);
    *out = mh_xmalloc(tlen + 1);
    snprintf(*out, tlen + 1, "%s.%s", signing, sb);
    free(signing);
    free(sb);
    return MH_OK;
}

enum mh_err mh_intake__sign(const struct mh_intake__endpoint *ep, const void *body, size_t len,
                            int64_t now_s, json_t *headers, struct mh_err_info *info)
{
    const struct mh_intake__key *keys[MH_CRYPTO_SIG_MAX_KEYS];
    char *value = NULL;
    enum mh_err rc = MH_OK;
    if (ep->scheme == MH_INTAKE__NONE)
        return MH_OK;
    if (ep->broken)
        return mh_err_set(info, MH_EUNAVAILABLE, "broken", -1, "%s", ep->broken);
    size_t n = usable_keys(ep, now_s * 1000, keys, MH_ARRAY_LEN(keys));
    if (n == 0)
        return mh_err_set(info, MH_EINVAL, "no-key", -1,
                          "the endpoint has no usable signing key to sign a test webhook with");
    const struct mh_intake__key *k = keys[0];
    struct mh_crypto_sig_key sk = {k->secret, k->secret_len};
    switch (ep->scheme) {
    case MH_INTAKE__HMAC:
        rc = mh_crypto_sig_hmac_sign(&ep->hmac, &sk, body, len, &value);
        if (rc == MH_OK)
            json_object_set_new(headers, ep->hmac_header, json_string(value));
        break;
    case MH_INTAKE__GITHUB:
        rc = mh_crypto_sig_github_sign(&sk, body, len, &value);
        if (rc == MH_OK) {
            json_object_set_new(headers, "X-Hub-Signature-256", json_string(value));
            json_object_set_new(headers, "X-GitHub-Event", json_string("ping"));
        }
        break;
    case MH_INTAKE__STRIPE:
        rc = mh_crypto_sig_stripe_sign(&sk, body, len, now_s, &value);
        if (rc == MH_OK)
            json_object_set_new(headers, "Stripe-Signature", json_string(value));
        break;
    case MH_INTAKE__STDWH: {
        char *id = NULL;
        rc = mh_crypto_token_b64url(16, &id);
        if (rc != MH_OK)
            break;
        char msg_id[64], ts[32];
        snprintf(msg_id, sizeof(msg_id), "msg_test_%s", id);
        free(id);
        snprintf(ts, sizeof(ts), "%lld", (long long)now_s);
        rc = mh_crypto_sig_stdwh_sign(&sk, 1, msg_id, now_s, body, len, &value);
        if (rc == MH_OK) {
            json_object_set_new(headers, "webhook-id", json_string(msg_id));
            json_object_set_new(headers, "webhook-timestamp", json_string(ts));
            json_object_set_new(headers, "webhook-signature", json_string(value));
        }
        break;
    }
    case MH_INTAKE__JWT: {
        if (k->alg != MH_INTAKE__ALG_HS256)
            return mh_err_set(info, MH_EINVAL, "public-key", -1,
                              "the endpoint's newest key is a public key (%s): MeshHook holds no "
                              "private key to sign a test webhook with",
                              k->jwt ? mh_crypto_jwt_alg_name(mh_crypto_jwt_key_alg(k->jwt)) : "?");
        char *token = NULL;
        rc = sign_jwt(ep, k, now_s, &token, info);
        if (rc == MH_OK) {
            size_t vlen = strlen(token) + 8;
            value = mh_xmalloc(vlen);
            snprintf(value, vlen, "Bearer %s", token);
            mh_crypto_free_secret_str(token);
            json_object_set_new(headers, "Authorization", json_string(value));
        }
        break;
    }
    case MH_INTAKE__NONE: break;
    }
    if (value)
        mh_crypto_free_secret_str(value);
    if (rc != MH_OK && info && info->message[0] == '\0')
        mh_err_set(info, rc, "sign", -1, "could not sign the test webhook");
    return rc;
}
