/* SPDX-License-Identifier: MIT */
/*
 * Differential libFuzzer target of the intake's JSON checker (src/intake/json_check.c) against
 * the library it stands in for: for every input, mh_intake__json_check() accepts if and only if
 * json_loadb(..., JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) parses it into a document nested at
 * most MH_INTAKE__JSON_MAX_DEPTH deep and the input holds no NUL byte. On top of that, a refusal
 * must carry the documented kind, message and an offset inside the input, and an input with a
 * NUL byte must be refused at the first one, as "NUL byte". Any disagreement aborts.
 *
 * tests/unit/test_intake_json_check_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY
 * defined and replays tests/fuzz/corpus/json_check/ through mh_fuzz_json_check_one(), which
 * returns 1 when the checker accepts and 0 when it refuses.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "intake/json_check.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Nesting of arrays and objects: 0 for a scalar, 1 for [] (jansson stops at 2048). */
static size_t mh_fuzz_json_depth(const json_t *v)
{
    size_t deepest = 0;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e)
        {
            size_t d = mh_fuzz_json_depth(e);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e)
        {
            size_t d = mh_fuzz_json_depth(e);
            if (d > deepest)
                deepest = d;
        }
        return deepest + 1;
    }
    return 0;
}

int mh_fuzz_json_check_one(const uint8_t *data, size_t size);

int mh_fuzz_json_check_one(const uint8_t *data, size_t size)
{
    const char *s = data ? (const char *)data : "";
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_intake__json_check(s, size, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL);
    if (rc == MH_OK) {
        MH_FUZZ_CHECK(info.message[0] == '\0' && info.offset == -1);
    } else {
        static const char prefix[] = "the body is not valid JSON (byte ";
        MH_FUZZ_CHECK(strcmp(info.kind, "json") == 0);
        MH_FUZZ_CHECK(strncmp(info.message, prefix, sizeof(prefix) - 1) == 0);
        MH_FUZZ_CHECK(info.offset >= 0 && (size_t)info.offset <= size);
        char *end = NULL;
        unsigned long long at = strtoull(info.message + sizeof(prefix) - 1, &end, 10);
        MH_FUZZ_CHECK(at == (unsigned long long)info.offset && strncmp(end, "): ", 3) == 0 &&
                      end[3] != '\0');
    }
    const char *nul = memchr(s, '\0', size);
    if (nul != NULL)
        MH_FUZZ_CHECK(rc == MH_EINVAL && info.offset == nul - s &&
                      strcmp(strchr(info.message, ')'), "): NUL byte") == 0);

    json_error_t jerr;
    json_t *v = json_loadb(s, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    bool is_jansson_ok = v != NULL && mh_fuzz_json_depth(v) <= MH_INTAKE__JSON_MAX_DEPTH;
    json_decref(v);
    MH_FUZZ_CHECK((rc == MH_OK) == (is_jansson_ok && nul == NULL));
    return rc == MH_OK;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_json_check_one(data, size);
    return 0;
}
#endif
