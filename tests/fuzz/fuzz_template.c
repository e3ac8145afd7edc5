/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over http_call templates (src/engine/template.c): compiling any text and
 * rendering it against any JSON context must succeed or fail with a documented error, without a
 * crash, a leak or undefined behaviour, and:
 *   - a compile error carries a byte offset inside the template (or -1 for a size limit);
 *   - compile then render gives what mh_engine_template_render gives, byte for byte;
 *   - a template without "{{" renders to itself;
 *   - rendering records one span per secret placeholder of the template's own text and no
 *     other: each span lies inside the output, reads "{{ ... }}" and names its secret. The
 *     sender resolves secrets only at those spans (mh_engine_request_resolve), so data inserted
 *     by an expression, alone or joined with its neighbours, can never choose a secret, even
 *     when it spells "{{secrets.X}}" (it is sent as text);
 *   - as a url template (compiled a second time with is_url), the same holds, and compile then
 *     render equals mh_engine_url_template_render;
 *   - rendering twice gives the same text (templates are pure).
 *
 * Input: the template, then a NUL byte, then the context as JSON (when it does not parse, the
 * context is {"body": <the template as a string>}, or {} when that is not UTF-8).
 * tests/unit/test_engine_template_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY
 * defined and replays tests/fuzz/corpus/template/ through mh_fuzz_template_one(), which returns
 * 1 when the template rendered (as a plain template, not a url), else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/engine.h"
#include "engine/engine_internal.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Checks the spans of one rendering against the template's own secret parts. */
static void mh_fuzz_check_spans(const struct mh_tpl *t, const char *out, size_t out_len,
                                json_t *spans, json_t *secrets)
{
    size_t own = 0;
    for (size_t i = 0; i < t->n_parts; i++)
        own += t->parts[i].is_secret;
    MH_FUZZ_CHECK(json_array_size(spans) == own);
    MH_FUZZ_CHECK(json_array_size(secrets) <= own);
    size_t k = 0, prev_end = 0;
    for (size_t i = 0; i < t->n_parts; i++) {
        if (!t->parts[i].is_secret)
            continue;
        json_t *sp = json_array_get(spans, k++);
        json_int_t a = json_integer_value(json_array_get(sp, 0));
        json_int_t b = json_integer_value(json_array_get(sp, 1));
        const char *name = json_string_value(json_array_get(sp, 2));
        MH_FUZZ_CHECK(name != NULL && strcmp(name, t->parts[i].secret_name) == 0);
        MH_FUZZ_CHECK(a >= (json_int_t)prev_end && a + 4 <= b && b <= (json_int_t)out_len);
        MH_FUZZ_CHECK(memcmp(out + a, "{{", 2) == 0 && memcmp(out + b - 2, "}}", 2) == 0);
        /* The span is the template's own text, copied verbatim. */
        MH_FUZZ_CHECK((size_t)(b - a) == t->parts[i].len &&
                      memcmp(out + a, t->parts[i].text, t->parts[i].len) == 0);
        prev_end = (size_t)b;
    }
}

/* Compiles `text` (as a url template with `is_url`) and renders it against `ctx`, checking the
 * invariants above; returns 1 when it rendered. */
static int mh_fuzz_template_mode(const char *text, size_t tlen, json_t *ctx, bool is_url)
{
    struct mh_tpl *t = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *out = NULL, *again = NULL, *whole = NULL;
    size_t out_len = 0, again_len = 0;
    int rendered = 0;
    enum mh_err rc = mh_engine__tpl_compile(text, is_url, &t, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL || rc == MH_EJMESPATH || rc == MH_ETOOBIG);
    MH_FUZZ_CHECK((rc == MH_OK) == (t != NULL));
    if (rc != MH_OK) {
        MH_FUZZ_CHECK(info.message[0] != '\0');
        MH_FUZZ_CHECK(info.offset >= -1 && info.offset <= (long)tlen);
        MH_FUZZ_CHECK(rc == MH_ETOOBIG || info.offset >= 0);
        return 0;
    }
    json_t *secrets = json_array(), *spans = json_array();
    struct mh_err_info rinfo = MH_ERR_INFO_INIT;
    enum mh_err rrc = mh_engine__tpl_render(t, ctx, false, secrets, spans, &out, &out_len, &rinfo);
    MH_FUZZ_CHECK(rrc == MH_OK || rrc == MH_EINVAL || rrc == MH_EJMESPATH || rrc == MH_ETOOBIG);
    MH_FUZZ_CHECK((rrc == MH_OK) == (out != NULL));
    if (rrc == MH_OK) {
        rendered = 1;
        if (strstr(text, "{{") == NULL)
            MH_FUZZ_CHECK(out_len == tlen && memcmp(out, text, tlen) == 0);
        mh_fuzz_check_spans(t, out, out_len, spans, secrets);
        struct mh_err_info ainfo = MH_ERR_INFO_INIT;
        MH_FUZZ_CHECK(
            mh_engine__tpl_render(t, ctx, false, NULL, NULL, &again, &again_len, &ainfo) == MH_OK);
        MH_FUZZ_CHECK(again_len == out_len && memcmp(out, again, out_len) == 0);
    } else {
        MH_FUZZ_CHECK(rinfo.message[0] != '\0');
    }
    struct mh_err_info winfo = MH_ERR_INFO_INIT;
    enum mh_err wrc = is_url ? mh_engine_url_template_render(text, ctx, &whole, &winfo)
                             : mh_engine_template_render(text, ctx, &whole, &winfo);
    MH_FUZZ_CHECK(wrc == rrc);
    /* Equal, up to a NUL byte a value put in (the one-call form returns a C string). */
    MH_FUZZ_CHECK(wrc != MH_OK || (memchr(out, 0, out_len) != NULL
                                       ? strncmp(whole, out, out_len) == 0
                                       : strlen(whole) == out_len && strcmp(whole, out) == 0));
    json_decref(spans);
    json_decref(secrets);
    free(whole);
    free(again);
    free(out);
    mh_engine__tpl_destroy(t);
    return rendered;
}

int mh_fuzz_template_one(const uint8_t *data, size_t size);

int mh_fuzz_template_one(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = malloc(size + 1);
    MH_FUZZ_CHECK(text != NULL);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    size_t tlen = strlen(text);
    json_t *ctx = NULL;
    if (tlen < size)
        ctx = json_loadb(text + tlen + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);
    if (ctx == NULL)
        ctx = json_pack("{s:s%}", "body", text, tlen);
    if (ctx == NULL) /* the text is not UTF-8 */
        ctx = json_object();
    MH_FUZZ_CHECK(ctx != NULL);

    int rendered = mh_fuzz_template_mode(text, tlen, ctx, false);
    (void)mh_fuzz_template_mode(text, tlen, ctx, true);
    json_decref(ctx);
    free(text);
    return rendered;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_template_one(data, size);
    return 0;
}
#endif
