/* SPDX-License-Identifier: MIT */
/* GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>. */
#include "schemes/schemes_internal.h"

static const char *const headers[] = {"X-Hub-Signature-256", NULL};
/* A test delivery looks like GitHub's own "ping". */
static const char *const test_headers[] = {"X-GitHub-Event", "ping", NULL};

static enum mh_err verify(const struct mh_scheme_settings *s, const struct mh_scheme_request *rq,
                          const struct mh_scheme_keys *keys, int64_t now_s,
                          struct mh_scheme_verdict *out, struct mh_err_info *info)
{
    (void)s;
    (void)now_s;
    struct mh_crypto_sig_result r = {0};
    out->signature = rq->header(rq->header_ctx, "X-Hub-Signature-256");
    enum mh_err rc = mh_crypto_sig_github_verify(keys->sig, keys->n, rq->body, rq->body_len,
                                                 out->signature, &r, info);
    return mh_scheme__verdict(out, &r, rc);
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_github_sign(a->key, body, len, &value);
    return mh_scheme__signed(out, "X-Hub-Signature-256", value, rc, "HMAC", info);
}

static enum mh_err example(struct mh_scheme_example *ex)
{
    enum mh_err rc = MH_OK;
    mh_scheme__sh_line(ex->script, &rc,
                       "SIG=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" "
                       "-r | cut -d' ' -f1)");
    mh_scheme__sh_line(ex->script, &rc, "DELIVERY=$(openssl rand -hex 16)");
    if (rc == MH_OK)
        rc = mh_buf_append_str(ex->curl,
                               "-H 'X-GitHub-Event: ping' -H \"X-GitHub-Delivery: $DELIVERY\" "
                               "-H \"X-Hub-Signature-256: sha256=$SIG\"");
    ex->provider = json_pack(
        "{s:s, s:s, s:[o, o, o, o]}", "name", "GitHub", "where",
        "Repository or organisation Settings → Webhooks → Add webhook", "settings",
        mh_scheme__setting("Payload URL", ex->url, NULL),
        mh_scheme__setting("Content type", "application/json", NULL),
        mh_scheme__setting("Secret", ex->secret ? ex->secret : "the endpoint key's secret",
                           "the secret shown once when the key was created"),
        mh_scheme__setting("SSL verification", "Enable SSL verification", NULL));
    return rc;
}

const struct mh_scheme mh_scheme_github = {
    .name = "github",
    .label = "GitHub",
    .summary = "X-Hub-Signature-256: an HMAC-SHA256 of the body. Set the GitHub content type to "
               "application/json.",
    .headers = headers,
    .own_secret = "the one set in GitHub",
    .key_kind = MH_SCHEME_KEY_HMAC,
    .test_headers = test_headers,
    .verify = verify,
    .sign = sign,
    .example = example,
};
