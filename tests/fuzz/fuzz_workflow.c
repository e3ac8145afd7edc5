/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over workflow definitions (src/engine/definition.c, nodes.c): any JSON
 * document must be validated and compiled, or refused with a list of errors, without a crash, a
 * hang, a leak or undefined behaviour. Beyond that, every input checks:
 *   - validation and compilation agree: the same verdict and the same error list;
 *   - the error list is empty exactly when the definition is valid, and every error is an
 *     object with a JSON-pointer "path" into the definition, a "code" and a "message" (and, when
 *     present, a string "node" and a non-negative integer "offset");
 *   - validating the same document twice gives the same errors.
 *
 * Input: the definition as JSON; an input that is not JSON is skipped.
 * tests/unit/test_engine_workflow_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY defined
 * and replays tests/fuzz/corpus/workflow/ through mh_fuzz_workflow_one(), which returns 1 when
 * the definition compiled, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/engine.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

static void mh_fuzz_check_errors(json_t *errors)
{
    MH_FUZZ_CHECK(json_is_array(errors));
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        MH_FUZZ_CHECK(json_is_object(e));
        const char *path = json_string_value(json_object_get(e, "path"));
        MH_FUZZ_CHECK(path != NULL && (path[0] == '\0' || path[0] == '/'));
        MH_FUZZ_CHECK(json_is_string(json_object_get(e, "code")));
        const char *msg = json_string_value(json_object_get(e, "message"));
        MH_FUZZ_CHECK(msg != NULL && msg[0] != '\0');
        json_t *node = json_object_get(e, "node");
        MH_FUZZ_CHECK(node == NULL || json_is_string(node));
        json_t *off = json_object_get(e, "offset");
        MH_FUZZ_CHECK(off == NULL || (json_is_integer(off) && json_integer_value(off) >= 0));
    }
}

int mh_fuzz_workflow_one(const uint8_t *data, size_t size);

int mh_fuzz_workflow_one(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    json_t *def = json_loadb(data ? (const char *)data : "", size, JSON_DECODE_ANY, NULL);
    if (def == NULL)
        return 0;
    json_t *verrors = NULL, *again = NULL, *cerrors = NULL;
    struct mh_wf *wf = NULL;
    enum mh_err vrc = mh_engine_wf_validate(def, &verrors);
    MH_FUZZ_CHECK(vrc == MH_OK || vrc == MH_EINVAL);
    mh_fuzz_check_errors(verrors);
    MH_FUZZ_CHECK((vrc == MH_OK) == (json_array_size(verrors) == 0));
    MH_FUZZ_CHECK(mh_engine_wf_validate(def, &again) == vrc);
    MH_FUZZ_CHECK(json_equal(verrors, again));
    enum mh_err crc = mh_engine_wf_compile(def, &wf, &cerrors);
    MH_FUZZ_CHECK(crc == vrc);
    MH_FUZZ_CHECK((crc == MH_OK) == (wf != NULL));
    MH_FUZZ_CHECK(json_equal(verrors, cerrors));
    mh_engine_wf_unref(wf);
    json_decref(cerrors);
    json_decref(again);
    json_decref(verrors);
    json_decref(def);
    return crc == MH_OK;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_workflow_one(data, size);
    return 0;
}
#endif
