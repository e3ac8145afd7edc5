/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the signature-scheme table (src/schemes): every registered scheme is found by
 * its name at its id, each signing scheme's own verify accepts what its sign produced and
 * refuses it once the body changes, and the table's names are the ones messages list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "harness.h"
#include "schemes/schemes.h"

struct fake_request {
    const struct mh_scheme_headers *h;
};

static const char *fake_header(const void *ctx, const char *name)
{
    const struct fake_request *r = ctx;
    for (size_t i = 0; i < r->h->n; i++)
        if (strcasecmp(r->h->h[i].name, name) == 0)
            return r->h->h[i].value;
    return NULL;
}

MH_TEST(schemes_table_names_and_ids)
{
    MH_T_ASSERT_EQ(mh_scheme_count(), 6);
    char names[200] = "";
    for (size_t i = 0; i < mh_scheme_count(); i++) {
        const struct mh_scheme *sc = mh_scheme_at(i);
        MH_T_ASSERT(sc != NULL && sc->name != NULL && sc->headers != NULL);
        size_t id = 99;
        MH_T_ASSERT(mh_scheme_find(sc->name, &id) == sc);
        MH_T_ASSERT_EQ(id, i);
        /* verify and sign come together, and only "none" has neither. */
        MH_T_ASSERT((sc->verify == NULL) == (sc->sign == NULL));
        MH_T_ASSERT((sc->verify == NULL) == (strcmp(sc->name, "none") == 0));
        size_t o = strlen(names);
        snprintf(names + o, sizeof(names) - o, "%s%s", i ? ", " : "", sc->name);
    }
    MH_T_ASSERT_STR_EQ(names, mh_scheme_names());
    MH_T_ASSERT(mh_scheme_at(mh_scheme_count()) == NULL);
    MH_T_ASSERT(mh_scheme_find("svix", NULL) == NULL);
    MH_T_ASSERT(mh_scheme_find(NULL, NULL) == NULL);
    MH_T_ASSERT(mh_scheme_find("standard_webhooks", NULL)->idempotency_headers != NULL);
    MH_T_ASSERT(mh_scheme_find("jwt", NULL)->key_kind == MH_SCHEME_KEY_JWT);
}

MH_TEST(schemes_sign_then_verify_round_trip)
{
    const char *body = "{\"id\":42}";
    const int64_t now = 1700000000;
    struct mh_scheme_settings st = {
        .hmac = {.alg = MH_CRYPTO_HASH_SHA256, .encoding = MH_CRYPTO_SIG_HEX, .prefix = "v1="},
        .hmac_header = "X-Signature",
        .tolerance_s = 300,
    };
    const char *names[] = {"hmac", "github", "stripe", "standard_webhooks"};
    for (size_t k = 0; k < MH_ARRAY_LEN(names); k++) {
        const struct mh_scheme *sc = mh_scheme_find(names[k], NULL);
        const char *secret = strcmp(names[k], "standard_webhooks") == 0
                                 ? "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
                                 : "a-shared-secret";
        uint8_t raw[64];
        size_t rlen = strlen(secret);
        memcpy(raw, secret, rlen);
        if (sc->decode_secret != NULL)
            MH_T_ASSERT_EQ(sc->decode_secret(secret, raw, sizeof(raw), &rlen), MH_OK);
        struct mh_crypto_sig_key key = {raw, rlen};
        struct mh_scheme_sign_args a = {.settings = &st, .now_s = now, .msg_id = "msg_1"};
        struct mh_scheme_headers h = {0};
        struct mh_err_info info = MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(mh_scheme_sign_secret(sc, &a, secret, body, strlen(body), &h, &info), MH_OK);
        MH_T_ASSERT(h.n >= 1);
        struct fake_request fr = {&h};
        struct mh_scheme_request rq = {body, strlen(body), fake_header, &fr};
        struct mh_scheme_keys keys = {&key, NULL, 1};
        struct mh_scheme_verdict v = {0};
        if (sc->verify(&st, &rq, &keys, now, &v, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: %s", names[k], info.message);
        MH_T_ASSERT(v.signature != NULL);
        MH_T_ASSERT_EQ(v.key_index, 0);
        /* A changed body no longer verifies. */
        struct mh_scheme_request bad = {"{\"id\":43}", strlen(body), fake_header, &fr};
        MH_T_ASSERT_EQ(sc->verify(&st, &bad, &keys, now, &v, &info), MH_EAUTH);
        mh_scheme_headers_cleanup(&h);
    }
    /* A Standard Webhooks secret must be one. */
    struct mh_scheme_sign_args a = {.settings = &st, .now_s = now};
    struct mh_scheme_headers h = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(
        mh_scheme_sign_secret(&mh_scheme_stdwh, &a, "not-whsec", body, strlen(body), &h, &info),
        MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.kind, "bad-secret");
    MH_T_ASSERT_EQ(h.n, 0);
}
