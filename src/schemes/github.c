/* SPDX-License-Identifier: MIT */
/* GitHub: X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>. */
#include "schemes/schemes.h"

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
    out->key_index = r.key_index;
    out->signed_at = r.timestamp;
    return rc;
}

static enum mh_err sign(const struct mh_scheme_sign_args *a, const void *body, size_t len,
                        struct mh_scheme_headers *out, struct mh_err_info *info)
{
    char *value = NULL;
    enum mh_err rc = mh_crypto_sig_github_sign(a->key, body, len, &value);
    if (rc != MH_OK)
        return mh_err_set(info, rc, "sign", -1, "could not compute the HMAC");
    mh_scheme_headers_add_new(out, "X-Hub-Signature-256", value);
    return MH_OK;
}

const struct mh_scheme mh_scheme_github = {
    .name = "github",
    .headers = headers,
    .key_kind = MH_SCHEME_KEY_HMAC,
    .test_headers = test_headers,
    .verify = verify,
    .sign = sign,
};
