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

/* Every scheme fills in every member its kind needs, so a new scheme that forgets one fails
 * here rather than in an API answer, a form or a sender script: the names a person reads, its
 * settings (each with a label and a default inside its own bounds), its key (a generated secret
 * that its own decode_secret accepts), verify, sign and the sender example, which must send every
 * header its sign operation produces. */
MH_TEST(schemes_every_member_is_set)
{
    json_t *described = mh_scheme_describe_all();
    MH_T_ASSERT_EQ(json_array_size(described), mh_scheme_count());
    for (size_t i = 0; i < mh_scheme_count(); i++) {
        const struct mh_scheme *sc = mh_scheme_at(i);
        json_t *d = json_array_get(described, i);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "name")), sc->name);
        if (sc->label == NULL || sc->summary == NULL || sc->headers == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: label, summary or headers missing", sc->name);
        /* Its settings: complete, and their defaults valid by their own rules. */
        size_t nfields = 0;
        for (const struct mh_scheme_field *f = sc->fields; f && f->name; f++, nfields++) {
            if (f->label == NULL)
                mh_t_fail(__FILE__, __LINE__, "%s.%s: no label", sc->name, f->name);
            if (f->type == MH_SCHEME_FIELD_INTEGER)
                MH_T_ASSERT(f->min <= f->def_int && f->def_int <= f->max);
            if (f->type == MH_SCHEME_FIELD_STRING) {
                MH_T_ASSERT(f->max_len > 0);
                MH_T_ASSERT(f->def_str == NULL || strlen(f->def_str) <= f->max_len);
                MH_T_ASSERT(f->choice_labels == NULL || f->choices != NULL);
            }
        }
        MH_T_ASSERT_EQ(json_array_size(json_object_get(d, "fields")), nfields);
        if (nfields > 0 && sc->load_settings == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: settings but no load_settings", sc->name);
        json_t *in = json_pack("{s:s}", "scheme", sc->name), *vf = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (mh_scheme_normalize(in, &vf, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: defaults refused: %s", sc->name, info.message);
        MH_T_ASSERT_EQ(json_object_size(vf), nfields + 1);
        const struct mh_scheme *loaded = NULL;
        struct mh_scheme_settings st;
        mh_scheme_load_settings(vf, &loaded, &st);
        MH_T_ASSERT(loaded == sc);
        if (sc->key_kind == MH_SCHEME_KEY_NONE) {
            MH_T_ASSERT(sc->verify == NULL && sc->sign == NULL && sc->example == NULL);
            char *none = NULL;
            MH_T_ASSERT_EQ(mh_scheme_generate_secret(sc, &none), MH_EINVAL);
            MH_T_ASSERT(none == NULL);
            json_decref(in);
            json_decref(vf);
            continue;
        }
        if (sc->verify == NULL || sc->sign == NULL || sc->example == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: verify, sign or example missing", sc->name);
        MH_T_ASSERT(json_array_size(json_object_get(json_object_get(d, "keys"), "algorithms")) > 0);
        /* A generated secret is of the scheme's own form. */
        char *secret = NULL;
        MH_T_ASSERT_EQ(mh_scheme_generate_secret(sc, &secret), MH_OK);
        MH_T_ASSERT(secret != NULL && strlen(secret) >= 32);
        if (sc->decode_secret != NULL) {
            uint8_t raw[128];
            size_t rlen = 0;
            MH_T_ASSERT(sc->secret_form != NULL);
            MH_T_ASSERT_EQ(sc->decode_secret(secret, raw, sizeof(raw), &rlen), MH_OK);
        }
        /* The sender example sends every header the scheme signs with. */
        struct mh_scheme_sign_args a = {.settings = &st, .now_s = 1700000000, .msg_id = "m"};
        struct mh_scheme_headers h = {0};
        MH_T_ASSERT_EQ(mh_scheme_sign_secret(sc, &a, secret, "{}", 2, &h, &info), MH_OK);
        MH_T_ASSERT(h.n >= 1);
        json_t *ex = NULL;
        MH_T_ASSERT_EQ(
            mh_scheme_examples(vf, "http://127.0.0.1/hooks/x", "POST", NULL, NULL, false, &ex),
            MH_OK);
        const char *script = json_string_value(json_object_get(ex, "script"));
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(ex, "scheme")), sc->name);
        if (script == NULL || strstr(script, "curl ") == NULL || strstr(script, "SECRET") == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: the script does not sign and send: %s", sc->name,
                      script ? script : "(none)");
        for (size_t k = 0; k < h.n; k++)
            if (strstr(script, h.h[k].name) == NULL)
                mh_t_fail(__FILE__, __LINE__, "%s: the example does not send %s", sc->name,
                          h.h[k].name);
        json_decref(ex);
        mh_scheme_headers_cleanup(&h);
        free(secret);
        json_decref(in);
        json_decref(vf);
    }
    json_decref(described);
}
