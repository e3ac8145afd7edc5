/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the JMESPath engine: compile + evaluate. An input is an expression,
 * optionally followed by a NUL byte and a JSON document (the seeds are the compliance suite's
 * cases in that form); without a valid document a fixed, varied one is used. Beyond the
 * sanitizers it checks the engine's promises: every error has a kind, a result can always be
 * serialized, and its size stays within what the evaluation limits allow.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jmespath/jmespath.h"

#define FUZZ_MAX_STEPS    200000
#define FUZZ_MAX_ELEMENTS 50000

static const char default_doc[] =
    "{\"foo\": {\"bar\": [1, 2.5, -3, {\"baz\": \"qux\"}], \"a\": {\"b\": {\"c\": null}}},"
    " \"people\": [{\"name\": \"ann\", \"age\": 31, \"tags\": [\"x\", \"y\"]},"
    "              {\"name\": \"bob\", \"age\": 27.5, \"tags\": []},"
    "              {\"name\": \"\\u2713\", \"age\": null, \"extra\": {\"k\": true}}],"
    " \"numbers\": [0, -1, 3, 1e3, 2.25], \"strings\": [\"a\", \"ab\", \"\", \"\\u00e9\"],"
    " \"nested\": [[1, [2, [3]]], [], [[4]]], \"empty\": {}, \"t\": true, \"f\": false,"
    " \"n\": null, \"s\": \"text\", \"i\": 7}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *src = (const char *)data;
    const char *nul = memchr(src, '\0', size);
    size_t expr_len = nul ? (size_t)(nul - src) : size;
    json_t *doc = NULL;
    if (nul != NULL)
        doc = json_loadb(nul + 1, size - expr_len - 1, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        doc = json_loads(default_doc, 0, NULL);
    assert(doc != NULL);

    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_jp_compile(src, expr_len, &e, &info);
    if (rc != MH_OK) {
        assert(rc == MH_EJMESPATH && info.kind[0] != '\0');
        assert(info.offset >= 0 && (size_t)info.offset <= expr_len + MH_JP_MAX_EXPR_BYTES);
        json_decref(doc);
        return 0;
    }
    struct mh_buf b;
    mh_buf_init(&b, 1 << 20);
    if (mh_jp_expr_dump(e, &b) != MH_OK)
        abort();
    mh_buf_cleanup(&b);

    struct mh_jp_limits lim = {.max_steps = FUZZ_MAX_STEPS, .max_elements = FUZZ_MAX_ELEMENTS};
    struct mh_jp_stats stats;
    json_t *out = NULL;
    struct mh_err_info einfo = MH_ERR_INFO_INIT;
    rc = mh_jp_eval_ex(e, doc, &lim, &stats, &out, &einfo);
    if (rc == MH_OK) {
        assert(out != NULL);
        (void)mh_jp_is_truthy(out);
        char *text = json_dumps(out, JSON_ENCODE_ANY | JSON_COMPACT);
        assert(text != NULL);
        /* A result is either part of the inputs or built under max_elements, where a unit is at
         * most 16 string bytes (up to 6 output bytes each when escaped) or one small value. */
        size_t bound = (size_t)128 * FUZZ_MAX_ELEMENTS + 16 * size + 4096;
        assert(strlen(text) <= bound);
        free(text);
        json_decref(out);
    } else {
        assert(rc == MH_EJMESPATH && out == NULL && einfo.kind[0] != '\0');
    }
    assert(stats.steps <= FUZZ_MAX_STEPS + 1);
    mh_jp_expr_destroy(e);
    json_decref(doc);
    return 0;
}
