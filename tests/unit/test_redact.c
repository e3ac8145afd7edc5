/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/redact: the built-in rules against our vectors in tests/data/redact/
 * (positive and negative cases for every rule), rule selection, JSON recursion, custom patterns
 * (including a catastrophic one stopped by its limit), the exact-value secret replacer, bad
 * configurations, and concurrent use of one redactor.
 */
#include "redact/redact.h"

#include <pthread.h>

#include "core/mem.h"
#include "harness.h"

static struct mh_redactor *make(unsigned rules, const struct mh_redact_pattern *custom,
                                size_t ncustom)
{
    struct mh_redact_config cfg = {.rules = rules, .custom = custom, .ncustom = ncustom};
    struct mh_redactor *r = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_redact_create(&cfg, &r, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "create: %s", info.message);
    return r;
}

/* Redacts `in` and returns a static copy of the result. */
static const char *red(const struct mh_redactor *r, const char *in)
{
    static char buf[4096];
    char *out = NULL;
    size_t len = 0;
    MH_T_ASSERT_EQ(mh_redact_string(r, in, strlen(in), &out, &len, NULL), MH_OK);
    MH_T_ASSERT_EQ(len, strlen(out));
    snprintf(buf, sizeof(buf), "%s", out);
    free(out);
    return buf;
}

MH_TEST(builtin_vectors)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/redact/builtin.json", mh_t_repo_dir());
    json_error_t jerr;
    json_t *cases = json_load_file(path, 0, &jerr);
    if (cases == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", path, jerr.text);
    struct mh_redactor *r = make(MH_REDACT_ALL, NULL, 0);
    int failed = 0;
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *in = json_string_value(json_object_get(c, "input"));
        const char *want = json_string_value(json_object_get(c, "expected"));
        const char *got = red(r, in);
        if (strcmp(got, want) != 0) {
            printf("    FAIL %s\n      got:  %s\n      want: %s\n",
                   json_string_value(json_object_get(c, "description")), got, want);
            failed++;
        }
    }
    printf("builtin.json: %zu/%zu passed\n", json_array_size(cases) - (size_t)failed,
           json_array_size(cases));
    MH_T_ASSERT(json_array_size(cases) >= 30);
    MH_T_ASSERT_EQ(failed, 0);
    mh_redact_destroy(r);
    json_decref(cases);
}

MH_TEST(rule_selection)
{
    const char *text = "a@b.com 4111111111111111 +4915123456789 123-45-6789";
    struct mh_redactor *email = make(MH_REDACT_EMAIL, NULL, 0);
    MH_T_ASSERT_STR_EQ(red(email, text),
                       "[redacted:email] 4111111111111111 +4915123456789 123-45-6789");
    mh_redact_destroy(email);
    struct mh_redactor *card_ssn = make(MH_REDACT_CARD | MH_REDACT_SSN, NULL, 0);
    MH_T_ASSERT_STR_EQ(red(card_ssn, text),
                       "a@b.com [redacted:card] +4915123456789 [redacted:ssn]");
    mh_redact_destroy(card_ssn);
    struct mh_redactor *none = make(0, NULL, 0);
    MH_T_ASSERT_STR_EQ(red(none, text), text);
    mh_redact_destroy(none);
}

MH_TEST(stats_and_binary_safety)
{
    struct mh_redactor *r = make(MH_REDACT_ALL, NULL, 0);
    /* Embedded NUL and invalid UTF-8 are copied through around a match. */
    const char in[] = "x\0\xff a@b.com";
    char *out = NULL;
    size_t len = 0;
    struct mh_redact_stats st = {0};
    MH_T_ASSERT_EQ(mh_redact_string(r, in, sizeof(in) - 1, &out, &len, &st), MH_OK);
    MH_T_ASSERT_EQ(len, 4 + strlen("[redacted:email]"));
    MH_T_ASSERT_MEM_EQ(out, "x\0\xff [redacted:email]", len);
    MH_T_ASSERT_EQ(st.redactions, 1);
    MH_T_ASSERT_EQ(st.limit_failures, 0);
    free(out);
    /* Empty input. */
    MH_T_ASSERT_EQ(mh_redact_string(r, "", 0, &out, &len, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "");
    free(out);
    MH_T_ASSERT_EQ(mh_redact_string(r, NULL, 3, &out, &len, NULL), MH_EINVAL);
    MH_T_ASSERT(out == NULL);
    mh_redact_destroy(r);
}

MH_TEST(json_recursion_keeps_keys)
{
    struct mh_redactor *r = make(MH_REDACT_ALL, NULL, 0);
    json_error_t e;
    json_t *in = json_loads(
        "{\"user\":{\"email\":\"ann@example.com\",\"a@b.com\":\"key stays\",\"phones\":"
        "[\"+44 20 7946 0958\",\"none\"],\"card\":4111111111111111,\"qty\":3,\"ok\":true,"
        "\"note\":null},\"headers\":{\"Authorization\":\"Basic dXNlcjpwYXNz\",\"X-Api-Key\":"
        "\"k\",\"password\":12345},\"list\":[[\"call 555-123-4567\"]]}",
        0, &e);
    MH_T_ASSERT(in != NULL);
    char *before = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    json_t *out = NULL;
    struct mh_redact_stats st = {0};
    MH_T_ASSERT_EQ(mh_redact_json(r, in, &out, &st), MH_OK);
    char *got = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(
        got,
        "{\"headers\":{\"Authorization\":\"[redacted:secret]\",\"X-Api-Key\":"
        "\"[redacted:secret]\",\"password\":\"[redacted:secret]\"},\"list\":[[\"call "
        "[redacted:phone]\"]],\"user\":{\"a@b.com\":\"key stays\",\"card\":\"[redacted:card]\","
        "\"email\":\"[redacted:email]\",\"note\":null,\"ok\":true,\"phones\":[\"[redacted:"
        "phone]\",\"none\"],\"qty\":3}}");
    MH_T_ASSERT_EQ(st.redactions, 7);
    /* The input is untouched and the output is a separate value. */
    char *after = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(before, after);
    MH_T_ASSERT(json_is_integer(json_object_get(json_object_get(out, "user"), "qty")));
    MH_T_ASSERT(json_object_get(json_object_get(out, "user"), "qty") !=
                json_object_get(json_object_get(in, "user"), "qty"));
    free(before);
    free(after);
    free(got);
    json_decref(out);
    json_decref(in);

    /* Secret member names are only honoured with MH_REDACT_API_KEY. */
    struct mh_redactor *email = make(MH_REDACT_EMAIL, NULL, 0);
    json_t *pw = json_pack("{s:s}", "password", "hunter22");
    MH_T_ASSERT_EQ(mh_redact_json(email, pw, &out, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(out, "password")), "hunter22");
    json_decref(out);
    json_decref(pw);
    mh_redact_destroy(email);
    mh_redact_destroy(r);
}

MH_TEST(json_depth_is_bounded)
{
    struct mh_redactor *r = make(MH_REDACT_EMAIL, NULL, 0);
    json_t *v = json_string("a@b.com");
    for (int i = 0; i < 600; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    json_t *out = NULL;
    MH_T_ASSERT_EQ(mh_redact_json(r, v, &out, NULL), MH_OK);
    json_t *cur = out;
    int depth = 0;
    while (json_is_array(cur)) {
        cur = json_array_get(cur, 0);
        depth++;
    }
    MH_T_ASSERT_EQ(depth, 513);
    MH_T_ASSERT_STR_EQ(json_string_value(cur), "[redacted:depth]");
    json_decref(out);
    json_decref(v);
    mh_redact_destroy(r);
}

MH_TEST(custom_patterns)
{
    struct mh_redact_pattern custom[] = {
        {"employee_id", "\\bEMP-\\d{6}\\b"},
        {"pin", "(?i)pin[:=]\\s*(?<redact>\\d{4,6})"},
    };
    struct mh_redactor *r = make(MH_REDACT_EMAIL, custom, 2);
    MH_T_ASSERT_STR_EQ(
        red(r, "EMP-123456 mailed x@y.io, PIN: 4821; EMP-12 stays"),
        "[redacted:employee_id] mailed [redacted:email], PIN: [redacted:pin]; EMP-12 "
        "stays");
    mh_redact_destroy(r);

    /* A pattern that can match empty does not loop or redact nothing. */
    struct mh_redact_pattern empty[] = {{"x", "x*"}};
    r = make(0, empty, 1);
    MH_T_ASSERT_STR_EQ(red(r, "axxbx"), "a[redacted:x]b[redacted:x]");
    mh_redact_destroy(r);
}

MH_TEST(catastrophic_custom_pattern_is_stopped_and_fails_closed)
{
    struct mh_redact_pattern custom[] = {{"evil", "(a+)+$"}};
    struct mh_redactor *r = make(MH_REDACT_EMAIL, custom, 1);
    const char *in = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa! mail a@b.com";
    char *out = NULL;
    size_t len = 0;
    struct mh_redact_stats st = {0};
    MH_T_ASSERT_EQ(mh_redact_string(r, in, strlen(in), &out, &len, &st), MH_OK);
    /* The rule's verdict is unknown, so nothing of the string survives. */
    MH_T_ASSERT_STR_EQ(out, "[redacted:evil]");
    MH_T_ASSERT_EQ(st.limit_failures, 1);
    MH_T_ASSERT_STR_EQ(st.failed_rule, "evil");
    free(out);
    /* The same rule on harmless text works normally. */
    st = (struct mh_redact_stats){0};
    MH_T_ASSERT_EQ(mh_redact_string(r, "xx aaa", 6, &out, &len, &st), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "xx [redacted:evil]");
    MH_T_ASSERT_EQ(st.limit_failures, 0);
    free(out);
    /* In JSON only the affected string is withheld. */
    json_t *doc = json_pack("{s:s, s:s}", "bad", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!",
                            "good", "hello");
    json_t *jout = NULL;
    st = (struct mh_redact_stats){0};
    MH_T_ASSERT_EQ(mh_redact_json(r, doc, &jout, &st), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(jout, "bad")), "[redacted:evil]");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(jout, "good")), "hello");
    MH_T_ASSERT_EQ(st.limit_failures, 1);
    json_decref(jout);
    json_decref(doc);
    mh_redact_destroy(r);
}

MH_TEST(bad_configs_are_rejected)
{
    struct mh_redactor *r = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    struct mh_redact_config cfg = {.rules = 1u << 20};
    MH_T_ASSERT_EQ(mh_redact_create(&cfg, &r, &info), MH_EINVAL);
    MH_T_ASSERT(r == NULL);

    struct mh_redact_pattern bad_re[] = {{"ok", "x"}, {"broken", "ab(c"}};
    cfg = (struct mh_redact_config){.custom = bad_re, .ncustom = 2};
    MH_T_ASSERT_EQ(mh_redact_create(&cfg, &r, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "custom/1/pattern");
    MH_T_ASSERT(strstr(info.message, "broken") != NULL);
    MH_T_ASSERT_EQ(info.offset, 4);

    struct mh_redact_pattern bad_name[] = {{"Has Space", "x"}};
    cfg = (struct mh_redact_config){.custom = bad_name, .ncustom = 1};
    MH_T_ASSERT_EQ(mh_redact_create(&cfg, &r, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "custom/0/name");

    cfg = (struct mh_redact_config){.custom = bad_name, .ncustom = MH_REDACT_MAX_CUSTOM + 1};
    MH_T_ASSERT_EQ(mh_redact_create(&cfg, &r, &info), MH_ETOOBIG);
    MH_T_ASSERT(r == NULL);
    mh_redact_destroy(NULL);
}

MH_TEST(secret_values_replaced_longest_first)
{
    const char url[] = "https://u:s3cr3t-pw@db.internal/x";
    struct mh_redact_secret secrets[] = {
        {"DB_PASSWORD", "s3cr3t-pw", 9},
        {"DB_URL", url, sizeof(url) - 1},
        {"SHORT", "abc", 3}, /* shorter than the minimum: ignored */
        {"STRIPE_KEY", "sk_live_zzzz1234", 16},
        {"AGAIN", "s3cr3t-pw", 9}, /* same value: the first name wins */
    };
    struct mh_redact_secrets *sr = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_redact_secrets_create(secrets, 5, &sr, &info), MH_OK);
    const char *in = "connect https://u:s3cr3t-pw@db.internal/x then s3cr3t-pw, abc, "
                     "sk_live_zzzz1234sk_live_zzzz1234";
    char *out = NULL;
    size_t len = 0, count = 0;
    MH_T_ASSERT_EQ(mh_redact_secrets_string(sr, in, strlen(in), &out, &len, &count), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "connect [secret:DB_URL] then [secret:DB_PASSWORD], abc, "
                            "[secret:STRIPE_KEY][secret:STRIPE_KEY]");
    MH_T_ASSERT_EQ(count, 4);
    MH_T_ASSERT_EQ(len, strlen(out));
    free(out);

    /* JSON: strings and number text, keys unchanged. */
    json_t *doc = json_pack("{s:s, s:[s, i], s:s}", "s3cr3t-pw", "value s3cr3t-pw", "arr",
                            "nothing", 42, "k", "sk_live_zzzz1234");
    json_t *jout = NULL;
    MH_T_ASSERT_EQ(mh_redact_secrets_json(sr, doc, &jout, &count), MH_OK);
    char *got = json_dumps(jout, JSON_COMPACT | JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(got, "{\"arr\":[\"nothing\",42],\"k\":\"[secret:STRIPE_KEY]\","
                            "\"s3cr3t-pw\":\"value [secret:DB_PASSWORD]\"}");
    MH_T_ASSERT_EQ(count, 2);
    free(got);
    json_decref(jout);
    json_decref(doc);
    mh_redact_secrets_destroy(sr);

    /* A numeric secret inside a JSON number. */
    struct mh_redact_secret pin[] = {{"PIN", "904512", 6}};
    MH_T_ASSERT_EQ(mh_redact_secrets_create(pin, 1, &sr, &info), MH_OK);
    doc = json_pack("{s:i}", "code", 904512);
    MH_T_ASSERT_EQ(mh_redact_secrets_json(sr, doc, &jout, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(jout, "code")), "[secret:PIN]");
    json_decref(jout);
    json_decref(doc);
    mh_redact_secrets_destroy(sr);

    /* Bad names are refused; an empty list is fine. */
    struct mh_redact_secret bad[] = {{"no spaces", "value1", 6}};
    MH_T_ASSERT_EQ(mh_redact_secrets_create(bad, 1, &sr, &info), MH_EINVAL);
    MH_T_ASSERT(sr == NULL);
    MH_T_ASSERT_EQ(mh_redact_secrets_create(NULL, 0, &sr, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_redact_secrets_string(sr, "text", 4, &out, NULL, &count), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "text");
    MH_T_ASSERT_EQ(count, 0);
    free(out);
    mh_redact_secrets_destroy(sr);
    mh_redact_secrets_destroy(NULL);
}

struct thread_arg {
    const struct mh_redactor *r;
    int good;
};

static void *redact_many(void *p)
{
    struct thread_arg *a = p;
    char in[128], want[128];
    for (int i = 0; i < 1000; i++) {
        snprintf(in, sizeof(in), "user%d@example.com paid with 4111 1111 1111 1111 EMP-%06d", i, i);
        snprintf(want, sizeof(want), "[redacted:email] paid with [redacted:card] [redacted:emp]");
        char *out = NULL;
        size_t len = 0;
        if (mh_redact_string(a->r, in, strlen(in), &out, &len, NULL) == MH_OK &&
            strcmp(out, want) == 0)
            a->good++;
        free(out);
    }
    return NULL;
}

MH_TEST(shared_redactor_across_threads)
{
    struct mh_redact_pattern custom[] = {{"emp", "EMP-\\d{6}"}};
    struct mh_redactor *r = make(MH_REDACT_ALL, custom, 1);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){r, 0};
        MH_T_ASSERT_EQ(pthread_create(&t[i], NULL, redact_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        MH_T_ASSERT_EQ(args[i].good, 1000);
    }
    mh_redact_destroy(r);
}

MH_TEST(credential_header_names)
{
    static const char *const secret[] = {
        "Authorization",
        "proxy-authorization",
        "Cookie",
        "Set-Cookie",
        "X-Gitlab-Token",
        "x-auth-token",
        "X-Hub-Signature",
        "X-Hub-Signature-256",
        "Stripe-Signature",
        "webhook-signature",
        "X-Shop-Secret",
        "X-Api-Key",
        "x_api_key",
        "X-Access-Key",
        "X-Shopify-Hmac-Sha256",
        "X-Password",
        "X-Apikey",
        "TOKEN",
    };
    static const char *const plain[] = {
        "Content-Type",   "Idempotency-Key", "webhook-id", "webhook-timestamp",
        "X-GitHub-Event", "X-Gitlab-Event",  "User-Agent", "X-Request-Id",
        "Keyboard",       "X-Tokenizer",     "key",        "",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(secret); i++)
        if (!mh_redact_header_is_secret(secret[i]))
            mh_t_fail(__FILE__, __LINE__, "%s should be secret", secret[i]);
    for (size_t i = 0; i < MH_ARRAY_LEN(plain); i++)
        if (mh_redact_header_is_secret(plain[i]))
            mh_t_fail(__FILE__, __LINE__, "%s should not be secret", plain[i]);
    MH_T_ASSERT(!mh_redact_header_is_secret(NULL));
}

MH_TEST(credential_headers_masked_in_every_headers_object)
{
    json_t *in = json_loads("{\"trigger\": {\"headers\": {\"x-gitlab-token\": \"glpat-1\", "
                            "\"content-type\": \"application/json\"}, \"body\": {\"token\": "
                            "\"kept\"}}, \"steps\": [{\"Headers\": {\"Set-Cookie\": \"s=1\", "
                            "\"x-api-key\": [\"k\"]}}], \"headers\": \"not an object\"}",
                            0, NULL);
    MH_T_ASSERT(in != NULL);
    size_t n = 0;
    json_t *out = mh_redact_headers_json(in, &n);
    MH_T_ASSERT(out != in);
    MH_T_ASSERT_EQ(n, 3);
    char *s = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(s, "{\"headers\":\"not an object\",\"steps\":[{\"Headers\":{\"Set-Cookie\":"
                          "\"[redacted]\",\"x-api-key\":\"[redacted]\"}}],\"trigger\":{\"body\":"
                          "{\"token\":\"kept\"},\"headers\":{\"content-type\":\"application/"
                          "json\",\"x-gitlab-token\":\"[redacted]\"}}}");
    free(s);
    /* The input is untouched, and a masked document needs no copy the second time. */
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(
            json_object_get(json_object_get(in, "trigger"), "headers"), "x-gitlab-token")),
        "glpat-1");
    json_t *again = mh_redact_headers_json(out, &n);
    MH_T_ASSERT(again == out);
    MH_T_ASSERT_EQ(n, 0);
    json_decref(again);
    json_decref(out);
    json_decref(in);
    MH_T_ASSERT(mh_redact_headers_json(NULL, NULL) == NULL);
}
