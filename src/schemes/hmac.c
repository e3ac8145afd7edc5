/* SPDX-License-Identifier: MIT */
/* Generic HMAC: a MAC of the raw body in a configurable header, encoding and prefix. */
#include "schemes/schemes_internal.h"

#include <string.h>

static const char *const headers[] = {"(configured, default X-Signature)", NULL};
static const char *const algorithms[] = {"sha256", "sha512", NULL};
static const char *const algorithm_labels[] = {"HMAC-SHA256", "HMAC-SHA512", NULL};
static const char *const encodings[] = {"hex", "base64", "base64url", NULL};

static const struct mh_scheme_field fields[] = {
    {.name = "algorithm",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Algorithm",
     .choices = algorithms,
     .choice_labels = algorithm_labels,
     .max_len = 16,
     .def_str = "sha256"},
    {.name = "header",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Header",
     .format = MH_SCHEME_FORMAT_HEADER_NAME,
     .max_len = 100,
     .def_str = "X-Signature"},
    {.name = "encoding",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Encoding",
     .choices = encodings,
     .max_len = 16,
     .def_str = "hex"},
    {.name = "prefix",
     .type = MH_SCHEME_FIELD_STRING,
     .label = "Prefix",
     .placeholder = "e.g. sha256=",
     .format = MH_SCHEME_FORMAT_PRINTABLE,
     .max_len = 60,
     .def_str = ""},
    {0},
};

static void load_settings(json_t *vf, struct mh_scheme_settings *s)
{
    const char *alg = mh_scheme__str(vf, "algorithm", "sha256");
    const char *enc = mh_scheme__str(vf, "encoding", "hex");
    s->hmac_header = mh_scheme__str(vf, "header", "X-Signature");
    s->hmac.prefix = mh_scheme__str(vf, "prefix", "");
    s->hmac.alg = strcmp(alg, "sha512") == 0 ? MH_CRYPTO_HASH_SHA512 : MH_CRYPTO_HASH_SHA256;
    s->hmac.encoding = strcmp(enc, "base64") == 0      ? MH_CRYPTO_SIG_BASE64
                       : strcmp(enc, "base64url") == 0 ? MH_CRYPTO_SIG_BASE64URL
                                                       : MH_CRYPTO_SIG_HEX;
}

/* The openssl pipeline turning stdin into the MAC keyed with $SECRET, encoded as `enc`. */
static const char *hmac_pipe(const char *alg, const char *enc)
{
    bool is512 = strcmp(alg, "sha512") == 0;
    if (strcmp(enc, "base64") == 0)
        return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -binary | openssl base64 -A"
                     : "openssl dgst -sha256 -hmac \"$SECRET\" -binary | openssl base64 -A";
    if (strcmp(enc, "base64url") == 0)
        return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '='"
                     : "openssl dgst -sha256 -hmac \"$SECRET\" -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '='";
    return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -r | cut -d' ' -f1"
                 : "openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1";
}

static enum mh_err example(struct mh_scheme_example *ex)
{
    enum mh_err rc =
        mh_buf_printf(ex->script, "SIG=$(printf '%%s' \"$BODY\" | %s)\n",
                      hmac_pipe(mh_scheme__str(ex->verification, "algorithm", "sha256"),
                                mh_scheme__str(ex->verification, "encoding", "hex")));
    mh_scheme__sh_assign(ex->script, &rc, "PREFIX", mh_scheme__str(ex->verification, "prefix", ""));
    if (rc == MH_OK)
        rc = mh_buf_printf(ex->script, "HEADER=\"%s: $PREFIX$SIG\"\n",
                           mh_scheme__str(ex->verification, "header", "X-Signature"));
    if (rc == MH_OK)
        rc = mh_buf_append_str(ex->curl, "-H \"$HEADER\"");
    return rc;
}

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    (void)now_s; /* no timestamp in this scheme */
    struct mh_crypto_sig_result r = {0};
    out->signature = rq->header(rq->header_ctx, s->hmac_header);
    if (out->signature == NULL || out->signature[0] == '\0')
        return mh_err_set(info, MH_EAUTH, "missing-header", -1, "missing %s header",
                          s->hmac_header);
    enum mh_err rc = mh_crypto_sig_hmac_verify(&s->hmac, keys->sig, keys->n, rq->body, rq->body_len,
                                               out->signature, &r, info);
    return mh_scheme__verdict(out, &r, rc);
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_hmac_sign(&a->settings->hmac, a->key, body, len, &value);
    return mh_scheme__signed(out, a->settings->hmac_header, value, rc, "HMAC", info);
}

const struct mh_scheme mh_scheme_hmac = {
    .name = "hmac",
    .label = "HMAC",
    .summary = "A generic HMAC of the body in a header you choose (algorithm, encoding and prefix "
               "below).",
    .fields = fields,
    .headers = headers,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .verify = verify,
    .sign = sign,
    .load_settings = load_settings,
    .example = example,
};
