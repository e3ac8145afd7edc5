/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the intake's content-type parsing (src/intake/content.c) against our vectors in
 * tests/data/intake/content.json: each names a Content-Type, a body (text, or base64 for bytes
 * that are not UTF-8) and the outcome — "ok" with the recorded value, 400 (unparseable for its
 * type) or 415 (a type or charset MeshHook does not take). Plus the verification settings'
 * grammar and the secret headers' list.
 */
#include "crypto/crypto.h"
#include "harness.h"
#include "intake/intake_internal.h"

static json_t *load_vectors(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/intake/content.json", mh_t_repo_dir());
    json_error_t e;
    json_t *v = json_load_file(path, 0, &e);
    if (v == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", path, e.text);
    return v;
}

MH_TEST(content_vectors)
{
    json_t *cases = load_vectors();
    size_t i;
    json_t *c;
    MH_T_ASSERT(json_array_size(cases) >= 50);
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *type = json_string_value(json_object_get(c, "type"));
        const char *text = json_string_value(json_object_get(c, "body"));
        const char *b64 = json_string_value(json_object_get(c, "body_b64"));
        uint8_t raw[256];
        size_t len = 0;
        const char *body = text;
        if (b64) {
            MH_T_ASSERT_EQ(
                mh_crypto_b64_decode(MH_CRYPTO_B64_STD, b64, strlen(b64), raw, sizeof(raw), &len),
                MH_OK);
            body = (const char *)raw;
        } else {
            len = json_string_length(json_object_get(c, "body"));
        }
        enum mh_intake__kind kind;
        json_t *value = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_intake__parse_body(type, body, len, &kind, &value, &info);
        json_t *expect = json_object_get(c, "expect");
        if (json_is_string(expect)) {
            if (rc != MH_OK)
                mh_t_fail(__FILE__, __LINE__, "%s: refused: %s", name, info.message);
            json_t *want = json_object_get(c, "value");
            if (want && !json_equal(want, value)) {
                char *got = json_dumps(value, JSON_ENCODE_ANY);
                mh_t_fail(__FILE__, __LINE__, "%s: got %s", name, got);
            }
        } else {
            long status = rc == MH_ENOTFOUND ? 415 : rc == MH_EINVAL ? 400 : 0;
            if (status != json_integer_value(expect))
                mh_t_fail(__FILE__, __LINE__, "%s: want %lld, got rc %d", name,
                          (long long)json_integer_value(expect), (int)rc);
            MH_T_ASSERT(value == NULL);
            MH_T_ASSERT(info.message[0] != '\0');
        }
        json_decref(value);
        /* Checking without building gives the same verdict; a JSON body is then not built. */
        enum mh_intake__kind ckind;
        json_t *cvalue = NULL;
        struct mh_err_info cinfo = MH_ERR_INFO_INIT;
        enum mh_err crc = mh_intake__check_body(type, body, len, &ckind, &cvalue, &cinfo);
        if (crc != rc || (rc == MH_OK && ckind != kind))
            mh_t_fail(__FILE__, __LINE__, "%s: check_body says %d, parse_body %d", name, (int)crc,
                      (int)rc);
        if (crc == MH_OK && ckind == MH_INTAKE__KIND_JSON)
            MH_T_ASSERT(cvalue == NULL);
        json_decref(cvalue);
    }
    json_decref(cases);
}

MH_TEST(xml_errors_name_the_offset)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *doc = "<a><b></c></a>";
    MH_T_ASSERT_EQ(mh_intake__xml_check(doc, strlen(doc), &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 8);
    MH_T_ASSERT(strstr(info.message, "end tag") != NULL);
}

MH_TEST(verification_grammar)
{
    struct {
        const char *in;
        const char *out; /* normalised, or NULL when refused */
        const char *path;
    } cases[] = {
        {"{\"scheme\": \"none\"}", "{\"scheme\": \"none\"}", NULL},
        {"{\"scheme\": \"hmac\"}",
         "{\"scheme\": \"hmac\", \"algorithm\": \"sha256\", \"header\": \"X-Signature\", "
         "\"encoding\": \"hex\", \"prefix\": \"\"}",
         NULL},
        {"{\"scheme\": \"stripe\"}", "{\"scheme\": \"stripe\", \"tolerance_s\": 300}", NULL},
        {"{\"scheme\": \"jwt\", \"audience\": \"a\"}",
         "{\"scheme\": \"jwt\", \"issuer\": null, \"audience\": \"a\", \"leeway_s\": 60, "
         "\"require_exp\": true}",
         NULL},
        {"{\"scheme\": \"github\", \"secret\": \"x\"}", NULL, "/secret"},
        {"{\"scheme\": \"hmac\", \"header\": \"Bad Header\"}", NULL, "/header"},
        {"{\"scheme\": \"hmac\", \"prefix\": \"a b\"}", NULL, "/prefix"},
        {"{\"scheme\": \"hmac\", \"algorithm\": \"md5\"}", NULL, "/algorithm"},
        {"{\"scheme\": \"standard_webhooks\", \"tolerance_s\": 315360001}", NULL, "/tolerance_s"},
        {"{\"scheme\": \"jwt\", \"leeway_s\": -1}", NULL, "/leeway_s"},
        {"{\"scheme\": \"jwt\", \"require_exp\": \"yes\"}", NULL, "/require_exp"},
        {"{}", NULL, "/scheme"},
        {"[]", NULL, ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *in = json_loads(cases[i].in, JSON_DECODE_ANY, NULL);
        json_t *out = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_intake_verification_normalize(in, &out, &info);
        if (cases[i].out) {
            json_t *want = json_loads(cases[i].out, 0, NULL);
            if (rc != MH_OK || !json_equal(out, want))
                mh_t_fail(__FILE__, __LINE__, "case %zu: %s", i, info.message);
            json_decref(want);
        } else {
            MH_T_ASSERT_EQ(rc, MH_EINVAL);
            MH_T_ASSERT_STR_EQ(info.path, cases[i].path);
        }
        json_decref(in);
        json_decref(out);
    }
}

MH_TEST(keys_and_secret_headers)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_intake_key_check("hmac", "hmac", "short", NULL, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "short") == NULL); /* never quotes the secret */
    MH_T_ASSERT_EQ(mh_intake_key_check("hmac", "hmac", "sixteen-bytes-ok", NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_intake_key_check("jwt", "hs256", "sixteen-bytes-ok", NULL, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_intake_key_check("jwt", "hmac", "x", NULL, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_intake_key_check("none", "hmac", NULL, NULL, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_intake_key_check("standard_webhooks", "hmac",
                                       "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", NULL, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(mh_intake_key_check("standard_webhooks", "hmac", "whsec_c2hvcnQ=", NULL, NULL),
                   MH_EINVAL);
    MH_T_ASSERT_EQ(mh_intake_key_check("jwt", "rs256", NULL, "not a pem", NULL), MH_EINVAL);
    const char *schemes[] = {"hmac", "github", "stripe", "standard_webhooks", "jwt"};
    for (size_t i = 0; i < 5; i++) {
        char *s = NULL;
        MH_T_ASSERT_EQ(mh_intake_key_generate(schemes[i], &s), MH_OK);
        const char *alg = strcmp(schemes[i], "jwt") == 0 ? "hs256" : "hmac";
        MH_T_ASSERT_EQ(mh_intake_key_check(schemes[i], alg, s, NULL, NULL), MH_OK);
        if (strcmp(schemes[i], "stripe") == 0 || strcmp(schemes[i], "standard_webhooks") == 0)
            MH_T_ASSERT(strncmp(s, "whsec_", 6) == 0);
        mh_crypto_free_secret_str(s);
    }
    MH_T_ASSERT(mh_intake_header_is_secret("AUTHORIZATION", NULL));
    MH_T_ASSERT(mh_intake_header_is_secret("stripe-signature", NULL));
    MH_T_ASSERT(mh_intake_header_is_secret("X-Partner-Sig", "x-partner-sig"));
    MH_T_ASSERT(!mh_intake_header_is_secret("Content-Type", "X-Partner-Sig"));
}
