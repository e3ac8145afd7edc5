/* SPDX-License-Identifier: MIT */
/*
 * JWT bearer tokens: Authorization: Bearer <token>, verified against keys each pinned to one
 * algorithm (HS256, RS256, ES256), with issuer, audience, exp and nbf checks.
 */
#include "schemes/schemes_internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static const char *const headers[] = {"Authorization", NULL};

static const struct mh_scheme_field fields[] = {
    {.name = "issuer",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Issuer (iss)",
     .placeholder = "not checked when empty",
     .max_len = 500},
    {.name = "audience",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Audience (aud)",
     .placeholder = "not checked when empty",
     .max_len = 500},
    {.name = "leeway_s",
     .type = MH_SCHEME_FIELD_INTEGER,
     .label = "Clock leeway (seconds)",
     .def_int = 60,
     .min = 0,
     .max = 3600},
    {.name = "require_exp",
     .type = MH_SCHEME_FIELD_BOOLEAN,
     .label = "Require an expiry (exp)",
     .def_bool = true},
    {0},
};

static void load_settings(json_t *vf, struct mh_scheme_settings *s)
{
    s->jwt_issuer = mh_scheme__str(vf, "issuer", NULL);
    s->jwt_audience = mh_scheme__str(vf, "audience", NULL);
    s->jwt_leeway_s = json_integer_value(json_object_get(vf, "leeway_s"));
    s->jwt_allow_missing_exp = !json_is_true(json_object_get(vf, "require_exp"));
}

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

/* An HS256 token with iss and aud as the endpoint expects, iat now and exp in five minutes. */
static enum mh_err example(struct mh_scheme_example *ex)
{
    enum mh_err rc = MH_OK;
    struct mh_buf *b = ex->script;
    const char *iss = mh_scheme__str(ex->verification, "issuer", NULL);
    const char *aud = mh_scheme__str(ex->verification, "audience", NULL);
    json_t *header = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    if (ex->kid)
        json_object_set_new(header, "kid", json_string(ex->kid));
    char *hj = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(header);
    mh_scheme__sh_line(b, &rc, "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }");
    mh_scheme__sh_line(b, &rc, "NOW=$(date +%s)");
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, "H=$(printf '%s' ");
    mh_scheme__sh_word(b, &rc, hj ? hj : "{}");
    mh_scheme__sh_line(b, &rc, " | b64url)");
    free(hj);
    /* The claims are a printf format: iss and aud are JSON strings with printf's % and \
     * doubled, all inside one shell word. */
    struct mh_buf f;
    mh_buf_init(&f, 64 * 1024);
    enum mh_err frc = mh_buf_append_str(&f, "{");
    const char *names[] = {"iss", "aud"};
    const char *values[] = {iss, aud};
    for (size_t i = 0; i < 2; i++) {
        if (values[i] == NULL)
            continue;
        json_t *v = json_string(values[i]);
        char *js = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
        json_decref(v);
        if (frc == MH_OK)
            frc = mh_buf_printf(&f, "\"%s\":", names[i]);
        for (const char *p = js ? js : "\"\""; frc == MH_OK && *p; p++)
            frc = *p == '%'    ? mh_buf_append_str(&f, "%%")
                  : *p == '\\' ? mh_buf_append_str(&f, "\\\\")
                               : mh_buf_append(&f, p, 1);
        free(js);
        if (frc == MH_OK)
            frc = mh_buf_append_str(&f, ",");
    }
    if (frc == MH_OK)
        frc = mh_buf_append_str(&f, "\"iat\":%s,\"exp\":%s}");
    if (rc == MH_OK)
        rc = frc;
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, "P=$(printf ");
    mh_scheme__sh_word(b, &rc, rc == MH_OK ? mh_buf_str(&f) : "");
    mh_scheme__sh_line(b, &rc, " \"$NOW\" \"$((NOW + 300))\" | b64url)");
    mh_buf_cleanup(&f);
    mh_scheme__sh_line(b, &rc,
                       "S=$(printf '%s.%s' \"$H\" \"$P\" | openssl dgst -sha256 -hmac "
                       "\"$SECRET\" -binary | b64url)");
    if (rc == MH_OK)
        rc = mh_buf_append_str(ex->curl, "-H \"Authorization: Bearer $H.$P.$S\"");
    ex->note = "The script signs an HS256 token. A key that is a public key (RS256, ES256, "
               "EdDSA...) verifies tokens signed with its private key instead.";
    return rc;
}

const struct mh_scheme mh_scheme_jwt = {
    .name = "jwt",
    .label = "JWT bearer token",
    .summary = "Authorization: Bearer <JWT>, checked against issuer, audience and expiry. A JWT "
               "does not sign the body.",
    .fields = fields,
    .headers = headers,
    .load_settings = load_settings,
    .key_kind = MH_SCHEME_KEY_JWT,
    .verify = verify,
    .sign = sign,
    .example = example,
};
