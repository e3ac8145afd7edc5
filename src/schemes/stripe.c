/* SPDX-License-Identifier: MIT */
/* Stripe: Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">. */
#include "schemes/schemes.h"

static const char *const headers[] = {"Stripe-Signature", NULL};

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    struct mh_crypto_sig_result r = {0};
    out->signature = rq->header(rq->header_ctx, "Stripe-Signature");
    enum mh_err rc = mh_crypto_sig_stripe_verify(keys->sig, keys->n, rq->body, rq->body_len,
                                                 out->signature, now_s, s->tolerance_s, &r, info);
    out->key_index = r.key_index;
    out->signed_at = r.timestamp;
    return rc;
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_stripe_sign(a->key, body, len, a->now_s, &value);
    if (rc != MH_OK)
        return mh_err_set(info, rc, "sign", -1, "could not compute the signature");
    mh_scheme_headers_add_new(out, "Stripe-Signature", value);
    return MH_OK;
}

const struct mh_scheme mh_scheme_stripe = {
    .name = "stripe",
    .headers = headers,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .verify = verify,
    .sign = sign,
};
