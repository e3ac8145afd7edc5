/* SPDX-License-Identifier: MIT */
/*
 * Standard Webhooks (and Svix, its origin): webhook-id, webhook-timestamp and webhook-signature
 * ("v1,<base64 HMAC-SHA256 of id.timestamp.body>"), or the same three prefixed "svix-". The
 * secret is "whsec_" and base64; the key is what the base64 decodes to. The message id is the
 * delivery's idempotency key.
 */
#include "schemes/schemes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static const char *const headers[] = {"webhook-id", "webhook-timestamp", "webhook-signature",
                                      "svix-id",    "svix-timestamp",    "svix-signature",
                                      NULL};
static const char *const idempotency_headers[] = {"webhook-id", "svix-id", NULL};

static enum mh_err decode_secret(const char *secret, uint8_t *out, size_t cap, size_t *out_len)
{
    return mh_crypto_stdwh_secret_decode(secret, out, cap, out_len);
}

static enum mh_err generate_secret(char **out)
{
    return mh_crypto_stdwh_secret_generate(out);
}

static enum mh_err example(struct mh_scheme_example *ex)
{
    enum mh_err rc = MH_OK;
    mh_scheme__sh_line(ex->script, &rc, "# The key is the base64 after whsec_ (padding restored).");
    mh_scheme__sh_line(ex->script, &rc, "K=${SECRET#whsec_}");
    mh_scheme__sh_line(ex->script, &rc, "while [ $((${#K} % 4)) -ne 0 ]; do K=\"$K=\"; done");
    mh_scheme__sh_line(ex->script, &rc,
                       "KEY=$(printf '%s' \"$K\" | openssl base64 -d -A | od -An -v -tx1 | "
                       "tr -d ' \\n')");
    mh_scheme__sh_line(ex->script, &rc, "ID=msg_$(openssl rand -hex 12)");
    mh_scheme__sh_line(ex->script, &rc, "T=$(date +%s)");
    mh_scheme__sh_line(ex->script, &rc,
                       "SIG=$(printf '%s.%s.%s' \"$ID\" \"$T\" \"$BODY\" | openssl dgst -sha256 "
                       "-mac HMAC -macopt \"hexkey:$KEY\" -binary | openssl base64 -A)");
    if (rc == MH_OK)
        rc = mh_buf_append_str(ex->curl, "-H \"webhook-id: $ID\" -H \"webhook-timestamp: $T\" "
                                         "-H \"webhook-signature: v1,$SIG\"");
    return rc;
}

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    struct mh_crypto_sig_result r = {0};
    const char *id = rq->header(rq->header_ctx, "webhook-id");
    const char *ts = rq->header(rq->header_ctx, "webhook-timestamp");
    out->signature = rq->header(rq->header_ctx, "webhook-signature");
    if (id == NULL && ts == NULL && out->signature == NULL) {
        id = rq->header(rq->header_ctx, "svix-id");
        ts = rq->header(rq->header_ctx, "svix-timestamp");
        out->signature = rq->header(rq->header_ctx, "svix-signature");
    }
    enum mh_err rc = mh_crypto_sig_stdwh_verify(keys->sig, keys->n, rq->body, rq->body_len, id, ts,
                                                out->signature, now_s, s->tolerance_s, &r, info);
    return mh_scheme__verdict(out, &r, rc);
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *id = NULL, *value = NULL;
    if (a->msg_id != NULL) {
        id = mh_xstrdup(a->msg_id);
    } else {
        char *rnd = NULL;
        if (mh_crypto_token_b64url(16, &rnd) != MH_OK)
            return mh_err_set(info, MH_ECRYPTO, "sign", -1, "could not draw a message id");
        size_t n = strlen(rnd) + sizeof("msg_");
        id = mh_xmalloc(n);
        snprintf(id, n, "msg_%s", rnd);
        free(rnd);
    }
    enum mh_err rc = mh_crypto_sig_stdwh_sign(a->key, 1, id, a->now_s, body, len, &value);
    if (rc != MH_OK) {
        free(id);
        return mh_err_set(info, rc, "sign", -1, "could not compute the signature");
    }
    char ts[24];
    snprintf(ts, sizeof(ts), "%lld", (long long)a->now_s);
    mh_scheme_headers_add_new(out, "webhook-id", id);
    mh_scheme_headers_add_new(out, "webhook-timestamp", mh_xstrdup(ts));
    mh_scheme_headers_add_new(out, "webhook-signature", value);
    return MH_OK;
}

const struct mh_scheme mh_scheme_stdwh = {
    .name = "standard_webhooks",
    .label = "Standard Webhooks (Svix)",
    .summary = "webhook-id, webhook-timestamp and webhook-signature (Svix and other Standard "
               "Webhooks senders).",
    .fields = mh_scheme__tolerance_fields,
    .headers = headers,
    .secret_form = "a Standard Webhooks secret is 'whsec_' followed by the base64 of 24 to 64 "
                   "bytes",
    .generate_secret = generate_secret,
    .load_settings = mh_scheme__load_tolerance,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .idempotency_headers = idempotency_headers,
    .decode_secret = decode_secret,
    .verify = verify,
    .sign = sign,
    .example = example,
};
