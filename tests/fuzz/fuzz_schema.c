/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over JSON Schema compile and validate (src/schema): any schema document must
 * compile or fail with MH_EINVAL and a JSON pointer into the schema, and any instance must
 * validate against a compiled schema, without a crash, a hang, a leak or undefined behaviour.
 * Beyond that, every input checks:
 *   - validating with and without collecting errors gives the same verdict;
 *   - the error list is empty exactly when the instance is valid, and every error is an object
 *     with a JSON-pointer "path" ("" or starting with "/"), a "keyword" and a "message";
 *   - at most max_errors errors are collected, and validating again gives the same verdict and
 *     errors, unless a `pattern` gave up on its wall-clock budget in one of the runs.
 *
 * Input: the schema as JSON, a NUL byte, then the instance as JSON (absent or unparsable: the
 * instance is null). The step and depth limits are lowered so that one input stays fast.
 * tests/unit/test_schema_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY defined and
 * replays tests/fuzz/corpus/schema/ through mh_fuzz_schema_one(), which returns 1 when the schema
 * compiled and the instance is valid, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "schema/schema.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MH_FUZZ_MAX_ERRORS 20u

static bool mh_fuzz_is_pointer(const char *p)
{
    return p != NULL && (p[0] == '\0' || p[0] == '/');
}

/* True when a pattern gave up on src/regex's wall-clock budget: then a second validation may
 * decide otherwise (docs/internals/schema.md), so the determinism checks do not apply. */
static bool mh_fuzz_has_regex_limit(json_t *errors)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        const char *m = json_string_value(json_object_get(e, "message"));
        if (m && strstr(m, "could not be matched against") != NULL)
            return true;
    }
    return false;
}

int mh_fuzz_schema_one(const uint8_t *data, size_t size);

int mh_fuzz_schema_one(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    const char *s = data ? (const char *)data : "";
    const char *nul = memchr(s, '\0', size);
    size_t slen = nul ? (size_t)(nul - s) : size;
    json_t *schema = json_loadb(s, slen, JSON_DECODE_ANY, NULL);
    if (schema == NULL)
        return 0;
    json_t *instance = NULL;
    if (nul)
        instance = json_loadb(nul + 1, size - slen - 1, JSON_DECODE_ANY, NULL);
    if (instance == NULL)
        instance = json_null();

    struct mh_schema_limits limits = {
        .max_errors = MH_FUZZ_MAX_ERRORS, .max_depth = 64, .max_steps = 100000};
    struct mh_schema *compiled = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int valid = 0;
    enum mh_err rc = mh_schema_compile_ex(schema, &limits, &compiled, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL || rc == MH_ETOOBIG);
    MH_FUZZ_CHECK((rc == MH_OK) == (compiled != NULL));
    if (rc != MH_OK) {
        MH_FUZZ_CHECK(info.message[0] != '\0');
        MH_FUZZ_CHECK(mh_fuzz_is_pointer(info.path));
    } else {
        json_t *errors = NULL, *again = NULL;
        bool ok = mh_schema_validate(compiled, instance, &errors);
        MH_FUZZ_CHECK(json_is_array(errors));
        MH_FUZZ_CHECK(ok == (json_array_size(errors) == 0));
        MH_FUZZ_CHECK(json_array_size(errors) <= MH_FUZZ_MAX_ERRORS);
        bool quick = mh_schema_validate(compiled, instance, NULL);
        size_t i;
        json_t *e;
        json_array_foreach(errors, i, e)
        {
            MH_FUZZ_CHECK(json_is_object(e));
            MH_FUZZ_CHECK(mh_fuzz_is_pointer(json_string_value(json_object_get(e, "path"))));
            MH_FUZZ_CHECK(json_is_string(json_object_get(e, "keyword")));
            MH_FUZZ_CHECK(json_is_string(json_object_get(e, "message")));
        }
        bool ok2 = mh_schema_validate(compiled, instance, &again);
        if (!mh_fuzz_has_regex_limit(errors) && !mh_fuzz_has_regex_limit(again))
            MH_FUZZ_CHECK(quick == ok && ok2 == ok && json_equal(errors, again));
        valid = ok;
        json_decref(again);
        json_decref(errors);
    }
    mh_schema_destroy(compiled);
    json_decref(instance);
    json_decref(schema);
    return valid;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_schema_one(data, size);
    return 0;
}
#endif
