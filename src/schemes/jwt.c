/* SPDX-License-Identifier: MIT */
/*
 * JWT bearer tokens: Authorization: Bearer <token>, verified against keys each pinned to one
 * algorithm (HS256, RS256, ES256), with issuer, audience, exp and nbf checks.
 */
#include "schemes/schemes.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static const char *const headers[] = {"Authorization", NULL};

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    const char *token = NULL;
    size_t token_len = 0;
    struct mh_crypto_jwt_result r = {0};
    out->signature = rq->header(rq->header_ctx, "Authorization");
    enum mh_err rc = mh_crypto_jwt_from_bearer(out->signature, &token, &token_len, info);
    if (rc != MH_OK)
        return rc;
    struct mh_crypto_jwt_verify_opts o = {
        .now = now_s,
        .leeway_s = s->jwt_leeway_s,
        .issuer = s->jwt_issuer,
        .audience = s->jwt_audience,
        .allow_missing_exp = s->jwt_allow_missing_exp,
    };
    rc = mh_crypto_jwt_verify(token, token_len, keys->jwt, keys->n, &o, NULL, &r, info);
    out->key_index = r.key_index;
    return rc;
}

/* An HS256 token for a test webhook: iss and aud as the endpoint expects, iat now, exp in five
 * minutes, the key's kid when it has one. */
static enum mh_err sign_token(const struct mh_scheme_sign_args *a, char **out,
                              struct mh_err_info *info)
{
    const struct mh_scheme_settings *s = a->settings;
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    const char *kid = a->jwt ? mh_crypto_jwt_key_kid(a->jwt) : NULL;
    if (kid)
        json_object_set_new(hdr, "kid", json_string(kid));
    json_t *claims = json_pack("{s:I, s:I, s:s}", "iat", (json_int_t)a->now_s, "exp",
                               (json_int_t)a->now_s + 300, "sub", "meshhook-test-webhook");
    if (s->jwt_issuer)
        json_object_set_new(claims, "iss", json_string(s->jwt_issuer));
    if (s->jwt_audience)
        json_object_set_new(claims, "aud", json_string(s->jwt_audience));
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
        mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, a->key->key, a->key->len, signing, slen, mac);
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

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    (void)body; /* a bearer token does not cover the body */
    (void)len;
    if (a->jwt != NULL && mh_crypto_jwt_key_alg(a->jwt) != MH_CRYPTO_JWT_HS256)
        return mh_err_set(info, MH_EINVAL, "public-key", -1,
                          "the endpoint's newest key is a public key (%s): MeshHook holds no "
                          "private key to sign a test webhook with",
                          mh_crypto_jwt_alg_name(mh_crypto_jwt_key_alg(a->jwt)));
    char *token = NULL;
    enum mh_err rc = sign_token(a, &token, info);
    if (rc != MH_OK)
        return rc;
    size_t vlen = strlen(token) + sizeof("Bearer ");
    char *value = mh_xmalloc(vlen);
    snprintf(value, vlen, "Bearer %s", token);
    mh_crypto_free_secret_str(token);
    mh_scheme_headers_add_new(out, "Authorization", value);
    return MH_OK;
}

const struct mh_scheme mh_scheme_jwt = {
    .name = "jwt",
    .headers = headers,
    .key_kind = MH_SCHEME_KEY_JWT,
    .verify = verify,
    .sign = sign,
};
