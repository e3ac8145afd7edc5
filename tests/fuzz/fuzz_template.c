/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over http_call templates (src/engine/template.c): compiling any text and
 * rendering it against any JSON context must succeed or fail with a documented error, without a
 * crash, a leak or undefined behaviour, and:
 *   - a compile error carries a byte offset inside the template (or -1 for a size limit);
 *   - compile then render gives what mh_engine_template_render gives, byte for byte;
 *   - a template without "{{" renders to itself;
 *   - the rendered text holds a secret placeholder ("{{secrets." as the sender resolves it)
 *     only where the template itself wrote one: data inserted by an expression, alone or
 *     joined with its neighbours, must never make one (it would let a webhook sender choose
 *     which secret is sent);
 *   - rendering twice gives the same text (templates are pure).
 *
 * Input: the template, then a NUL byte, then the context as JSON (when it does not parse, the
 * context is {"body": <the template as a string>}, or {} when that is not UTF-8).
 * tests/unit/test_engine_template_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY
 * defined and replays tests/fuzz/corpus/template/ through mh_fuzz_template_one(), which returns
 * 1 when the template rendered, else 0.
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

/* Placeholders as the send-time resolver finds them: "{{", spaces or tabs, "secrets.". */
static size_t mh_fuzz_count_placeholders(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '{' || s[i + 1] != '{')
            continue;
        size_t j = i + 2;
        while (j < len && (s[j] == ' ' || s[j] == '\t'))
            j++;
        n += len - j >= 8 && memcmp(s + j, "secrets.", 8) == 0;
    }
    return n;
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

    struct mh_tpl *t = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *out = NULL, *again = NULL, *whole = NULL;
    int rendered = 0;
    enum mh_err rc = mh_engine__tpl_compile(text, &t, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL || rc == MH_EJMESPATH || rc == MH_ETOOBIG);
    MH_FUZZ_CHECK((rc == MH_OK) == (t != NULL));
    if (rc != MH_OK) {
        MH_FUZZ_CHECK(info.message[0] != '\0');
        MH_FUZZ_CHECK(info.offset >= -1 && info.offset <= (long)tlen);
        MH_FUZZ_CHECK(rc == MH_ETOOBIG || info.offset >= 0);
    } else {
        json_t *secrets = json_array();
        struct mh_err_info rinfo = MH_ERR_INFO_INIT;
        enum mh_err rrc = mh_engine__tpl_render(t, ctx, secrets, &out, &rinfo);
        MH_FUZZ_CHECK(rrc == MH_OK || rrc == MH_EINVAL || rrc == MH_EJMESPATH || rrc == MH_ETOOBIG);
        MH_FUZZ_CHECK((rrc == MH_OK) == (out != NULL));
        size_t own = 0;
        for (size_t i = 0; i < t->n_parts; i++)
            if (t->parts[i].is_secret)
                own += mh_fuzz_count_placeholders(t->parts[i].text, t->parts[i].len);
        if (rrc == MH_OK) {
            rendered = 1;
            if (strstr(text, "{{") == NULL)
                MH_FUZZ_CHECK(strcmp(out, text) == 0);
            MH_FUZZ_CHECK(mh_fuzz_count_placeholders(out, strlen(out)) == own);
            MH_FUZZ_CHECK(json_array_size(secrets) <= own);
            struct mh_err_info ainfo = MH_ERR_INFO_INIT;
            MH_FUZZ_CHECK(mh_engine__tpl_render(t, ctx, NULL, &again, &ainfo) == MH_OK);
            MH_FUZZ_CHECK(strcmp(out, again) == 0);
        } else {
            MH_FUZZ_CHECK(rinfo.message[0] != '\0');
        }
        struct mh_err_info winfo = MH_ERR_INFO_INIT;
        enum mh_err wrc = mh_engine_template_render(text, ctx, &whole, &winfo);
        MH_FUZZ_CHECK(wrc == rrc);
        MH_FUZZ_CHECK(wrc != MH_OK || strcmp(whole, out) == 0);
        json_decref(secrets);
    }
    free(whole);
    free(again);
    free(out);
    mh_engine__tpl_destroy(t);
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
