/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the redaction rules (src/redact): the built-in PII rules, a custom
 * PCRE2 pattern and the exact-value secret replacer, on any text and any JSON document, without
 * a crash, a hang, a leak or undefined behaviour. Beyond that, every input checks:
 *   - a redaction that reports no replacement gives back the text byte for byte;
 *   - a top-level JSON string is redacted exactly as the same text is by the string function;
 *   - redacting a JSON document keeps its shape: the same member names, the same array sizes;
 *   - no secret value survives the secret replacer, in text or in JSON, and a text it reports
 *     no replacement in comes back unchanged.
 *
 * Input: byte 0 is the set of built-in rules (MH_REDACT_* bits); byte 1 bit 0 adds a custom
 * rule whose pattern is the text up to the first NUL byte after byte 1; the rest is the text,
 * which is also redacted as a JSON document when it parses as one.
 * tests/unit/test_redact_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY defined and
 * replays tests/fuzz/corpus/redact/ through mh_fuzz_redact_one(), which returns 1 when something
 * was redacted or replaced, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "redact/redact.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Secret values made of characters "[secret:a]" and "[secret:bb]" do not hold. */
static const struct mh_redact_secret mh_fuzz_secrets[] = {
    {"a", "Q7zQ7z", 6},
    {"bb", "XY9XY9XY9", 9},
    {"a2", "Q7zQ7zQ7zQ", 10},
};
#define MH_FUZZ_NSECRETS (sizeof(mh_fuzz_secrets) / sizeof(mh_fuzz_secrets[0]))

static bool mh_fuzz_has(const char *s, size_t n, const char *needle, size_t nn)
{
    return memmem(s, n, needle, nn) != NULL;
}

static void mh_fuzz_no_secret(const char *s, size_t n)
{
    for (size_t i = 0; i < MH_FUZZ_NSECRETS; i++)
        MH_FUZZ_CHECK(!mh_fuzz_has(s, n, mh_fuzz_secrets[i].value, mh_fuzz_secrets[i].value_len));
}

/* Same member names and array sizes, except where the depth limit cut the document. */
static void mh_fuzz_same_shape(json_t *a, json_t *b)
{
    if (json_is_string(b) && strcmp(json_string_value(b), "[redacted:depth]") == 0)
        return;
    if (json_is_object(a)) {
        MH_FUZZ_CHECK(json_is_object(b) && json_object_size(a) == json_object_size(b));
        const char *k;
        json_t *v;
        json_object_foreach(a, k, v)
        {
            json_t *w = json_object_get(b, k);
            MH_FUZZ_CHECK(w != NULL);
            mh_fuzz_same_shape(v, w);
        }
    } else if (json_is_array(a)) {
        MH_FUZZ_CHECK(json_is_array(b) && json_array_size(a) == json_array_size(b));
        for (size_t i = 0; i < json_array_size(a); i++)
            mh_fuzz_same_shape(json_array_get(a, i), json_array_get(b, i));
    } else {
        MH_FUZZ_CHECK(!json_is_object(b) && !json_is_array(b));
    }
}

/* Every string inside `v` free of secret values. */
static void mh_fuzz_json_no_secret(json_t *v)
{
    if (json_is_string(v)) {
        mh_fuzz_no_secret(json_string_value(v), json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m) mh_fuzz_json_no_secret(m);
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            mh_fuzz_json_no_secret(json_array_get(v, i));
    }
}

static int mh_fuzz_redactor(const struct mh_redactor *r, const char *text, size_t len)
{
    char *out = NULL;
    size_t out_len = 0;
    struct mh_redact_stats st = {0};
    MH_FUZZ_CHECK(mh_redact_string(r, text, len, &out, &out_len, &st) == MH_OK);
    MH_FUZZ_CHECK(out != NULL && out[out_len] == '\0');
    bool changed = st.redactions > 0 || st.limit_failures > 0;
    if (!changed)
        MH_FUZZ_CHECK(out_len == len && memcmp(out, text, len) == 0);
    json_t *str = json_stringn(text, len);
    if (str != NULL) {
        json_t *red = NULL;
        struct mh_redact_stats js = {0};
        MH_FUZZ_CHECK(mh_redact_json(r, str, &red, &js) == MH_OK);
        MH_FUZZ_CHECK(json_is_string(red));
        /* A custom pattern that hit its time budget may decide differently the second time. */
        if (st.limit_failures == 0 && js.limit_failures == 0)
            MH_FUZZ_CHECK(json_string_length(red) == out_len &&
                          memcmp(json_string_value(red), out, out_len) == 0);
        json_decref(red);
        json_decref(str);
    }
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (doc != NULL) {
        json_t *red = NULL;
        struct mh_redact_stats js = {0};
        MH_FUZZ_CHECK(mh_redact_json(r, doc, &red, &js) == MH_OK);
        mh_fuzz_same_shape(doc, red);
        if (js.redactions == 0 && js.limit_failures == 0)
            MH_FUZZ_CHECK(json_equal(doc, red));
        changed |= js.redactions > 0;
        json_decref(red);
        json_decref(doc);
    }
    free(out);
    return changed;
}

static int mh_fuzz_secret_replacer(const char *text, size_t len)
{
    static struct mh_redact_secrets *sr;
    if (sr == NULL)
        MH_FUZZ_CHECK(mh_redact_secrets_create(mh_fuzz_secrets, MH_FUZZ_NSECRETS, &sr, NULL) ==
                      MH_OK);
    char *out = NULL;
    size_t out_len = 0, count = 0;
    MH_FUZZ_CHECK(mh_redact_secrets_string(sr, text, len, &out, &out_len, &count) == MH_OK);
    MH_FUZZ_CHECK(out != NULL && out[out_len] == '\0');
    mh_fuzz_no_secret(out, out_len);
    if (count == 0)
        MH_FUZZ_CHECK(out_len == len && memcmp(out, text, len) == 0);
    free(out);
    json_t *doc = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (doc != NULL) {
        json_t *red = NULL;
        size_t jcount = 0;
        MH_FUZZ_CHECK(mh_redact_secrets_json(sr, doc, &red, &jcount) == MH_OK);
        mh_fuzz_same_shape(doc, red);
        mh_fuzz_json_no_secret(red);
        if (jcount == 0)
            MH_FUZZ_CHECK(json_equal(doc, red));
        json_decref(red);
        json_decref(doc);
    }
    return count > 0;
}

int mh_fuzz_redact_one(const uint8_t *data, size_t size);

int mh_fuzz_redact_one(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 16 * 1024)
        return 0;
    struct mh_redact_config cfg = {.rules = data[0] & MH_REDACT_ALL, .custom_max_total_ms = 20};
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    char *pattern = NULL;
    struct mh_redact_pattern custom = {"custom", NULL};
    if (data[1] & 1) {
        const char *nul = memchr(text, '\0', len);
        if (nul == NULL)
            return 0;
        size_t plen = (size_t)(nul - text);
        pattern = malloc(plen + 1);
        MH_FUZZ_CHECK(pattern != NULL);
        memcpy(pattern, text, plen + 1);
        custom.pattern = pattern;
        cfg.custom = &custom;
        cfg.ncustom = 1;
        text += plen + 1;
        len -= plen + 1;
    }
    struct mh_redactor *r = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_redact_create(&cfg, &r, &info);
    int changed = 0;
    if (rc != MH_OK) {
        /* Only a custom pattern can be refused, and the error says where. */
        MH_FUZZ_CHECK(pattern != NULL && (rc == MH_EINVAL || rc == MH_ETOOBIG));
        MH_FUZZ_CHECK(info.message[0] != '\0');
    } else {
        changed = mh_fuzz_redactor(r, text, len);
    }
    changed |= mh_fuzz_secret_replacer(text, len);
    mh_redact_destroy(r);
    free(pattern);
    return changed != 0;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_redact_one(data, size);
    return 0;
}
#endif
