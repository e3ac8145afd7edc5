/* SPDX-License-Identifier: MIT */
/* Generic HMAC: a MAC of the raw body in a configurable header, encoding and prefix. */
#include "schemes/schemes.h"

static const char *const headers[] = {"(configured, default X-Signature)", NULL};

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
    out->key_index = r.key_index;
    out->signed_at = r.timestamp;
    return rc;
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_hmac_sign(&a->settings->hmac, a->key, body, len, &value);
    if (rc != MH_OK)
        return mh_err_set(info, rc, "sign", -1, "could not compute the HMAC");
    mh_scheme_headers_add_new(out, a->settings->hmac_header, value);
    return MH_OK;
}

const struct mh_scheme mh_scheme_hmac = {
    .name = "hmac",
    .headers = headers,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .verify = verify,
    .sign = sign,
};
