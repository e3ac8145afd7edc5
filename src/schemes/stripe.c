/* SPDX-License-Identifier: MIT */
/* Stripe: Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">. */
#include "schemes/schemes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static const char *const headers[] = {"Stripe-Signature", NULL};

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    struct mh_crypto_sig_result r = {0};
    out->signature = rq->header(rq->header_ctx, "Stripe-Signature");
    enum mh_err rc = mh_crypto_sig_stripe_verify(keys->sig, keys->n, rq->body, rq->body_len,
                                                 out->signature, now_s, s->tolerance_s, &r, info);
    return mh_scheme__verdict(out, &r, rc);
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_stripe_sign(a->key, body, len, a->now_s, &value);
    return mh_scheme__signed(out, "Stripe-Signature", value, rc, "signature", info);
}

/* Stripe's secrets look like this, and Stripe MACs with the whole string. */
static enum mh_err generate_secret(char **out)
{
    char *tok = NULL;
    enum mh_err rc = mh_crypto_token_b64url(32, &tok);
    if (rc != MH_OK)
        return rc;
    size_t n = strlen(tok) + sizeof("whsec_");
    *out = mh_xmalloc(n);
    snprintf(*out, n, "whsec_%s", tok);
    mh_crypto_free_secret_str(tok);
    return MH_OK;
}

static enum mh_err example(struct mh_scheme_example *ex)
{
    enum mh_err rc = MH_OK;
    mh_scheme__sh_line(ex->script, &rc, "T=$(date +%s)");
    mh_scheme__sh_line(ex->script, &rc,
                       "SIG=$(printf '%s.%s' \"$T\" \"$BODY\" | openssl dgst -sha256 -hmac "
                       "\"$SECRET\" -r | cut -d' ' -f1)");
    if (rc == MH_OK)
        rc = mh_buf_append_str(ex->curl, "-H \"Stripe-Signature: t=$T,v1=$SIG\"");
    ex->provider = json_pack(
        "{s:s, s:s, s:[o, o]}", "name", "Stripe", "where",
        "Dashboard → Developers → Webhooks → Add endpoint", "settings",
        mh_scheme__setting("Endpoint URL", ex->url, NULL),
        mh_scheme__setting(
            "Signing secret", "whsec_… (Stripe shows it after the endpoint is added)",
            "Stripe chooses its own signing secret: add it to this endpoint as a key "
            "(Keys → Add key, paste the secret), then revoke the key MeshHook generated"));
    return rc;
}

const struct mh_scheme mh_scheme_stripe = {
    .name = "stripe",
    .label = "Stripe",
    .summary = "Stripe-Signature with a signed timestamp; stale deliveries are refused as replays.",
    .fields = mh_scheme__tolerance_fields,
    .headers = headers,
    .own_secret = "the whsec_… Stripe shows",
    .generate_secret = generate_secret,
    .load_settings = mh_scheme__load_tolerance,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .verify = verify,
    .sign = sign,
    .example = example,
};
