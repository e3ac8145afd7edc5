/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the API's paging cursors (mh_api_cursor_decode/encode in
 * src/http/api.c): a client sends any text as ?cursor=, and it must be decoded or refused (the
 * handler answers 422) without a crash or undefined behaviour. Beyond that:
 *   - an accepted cursor yields two NUL-terminated values that are valid UTF-8 without NUL
 *     bytes (PostgreSQL text parameters), the key without the 0x1f separator, and encoding
 *     them again gives the same cursor text (one spelling per cursor);
 *   - any key and id decode back to themselves when they are valid UTF-8; encoding refuses
 *     exactly when together they exceed the documented size or the key holds the separator.
 *
 * Input: the cursor text; the same bytes are also taken as a key and an id split at the first
 * '\n' for the round trip. tests/unit/test_http_cursor_fuzz_corpus.c includes this file with
 * MH_FUZZ_NO_ENTRY defined and replays tests/fuzz/corpus/cursor/ through mh_fuzz_cursor_one(),
 * which returns 1 when the input was accepted as a cursor, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "http/api.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

static void mh_fuzz_round_trip(const char *key, const char *id)
{
    char *c = mh_api_cursor_encode(key, id);
    size_t raw = strlen(key) + 1 + strlen(id);
    if (raw > MH_API_CURSOR_MAX_RAW || strchr(key, '\x1f') != NULL) {
        MH_FUZZ_CHECK(c == NULL);
        return;
    }
    MH_FUZZ_CHECK(c != NULL && strlen(c) <= MH_API_CURSOR_MAX_TEXT);
    char buf[MH_API_CURSOR_MAX_RAW + 1];
    const char *k = NULL, *i = NULL;
    bool clean = mh_text_is_utf8(key, strlen(key)) && mh_text_is_utf8(id, strlen(id));
    MH_FUZZ_CHECK(mh_api_cursor_decode(c, buf, &k, &i) == clean);
    if (clean)
        MH_FUZZ_CHECK(strcmp(k, key) == 0 && strcmp(i, id) == 0);
    free(c);
}

int mh_fuzz_cursor_one(const uint8_t *data, size_t size);

int mh_fuzz_cursor_one(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *text = malloc(size + 1);
    MH_FUZZ_CHECK(text != NULL);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';

    char buf[MH_API_CURSOR_MAX_RAW + 1];
    const char *key = NULL, *id = NULL;
    bool ok = mh_api_cursor_decode(text, buf, &key, &id);
    if (ok) {
        MH_FUZZ_CHECK(key == buf && id > key && id <= buf + MH_API_CURSOR_MAX_RAW);
        MH_FUZZ_CHECK(strchr(key, '\x1f') == NULL);
        MH_FUZZ_CHECK(mh_text_is_utf8(key, strlen(key)) && mh_text_is_utf8(id, strlen(id)));
        char *again = mh_api_cursor_encode(key, id);
        MH_FUZZ_CHECK(again != NULL && strcmp(again, text) == 0);
        free(again);
    }

    char *nl = strchr(text, '\n');
    if (nl != NULL) {
        *nl = '\0';
        mh_fuzz_round_trip(text, nl + 1);
    } else {
        mh_fuzz_round_trip(text, "");
    }
    free(text);
    return ok;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_cursor_one(data, size);
    return 0;
}
#endif
