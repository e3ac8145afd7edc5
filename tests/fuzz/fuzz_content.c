/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over webhook body parsing by content type (src/intake/content.c): the
 * Content-Type header parser, HTML forms, the XML well-formedness checker and the UTF-8 rule for
 * text. Any header and body must be accepted or refused with MH_EINVAL (400) or MH_ENOTFOUND
 * (415) and a message, without a crash, a leak or undefined behaviour, and:
 *   - mh_intake__check_body (the intake's path) and mh_intake__parse_body give the same verdict,
 *     kind and message, and the same value for every type but JSON;
 *   - a form becomes an object whose members are strings or arrays of at least two strings,
 *     and percent-encoding that object back into a form parses to an equal object;
 *   - XML and text are kept byte for byte as a string; so is nothing else;
 *   - an accepted non-JSON body is valid UTF-8 without NUL bytes.
 *
 * Input: the Content-Type header up to the first '\n' (an input starting with '\n' has none),
 * then the body. tests/unit/test_intake_content_fuzz_corpus.c includes this file with
 * MH_FUZZ_NO_ENTRY defined and replays tests/fuzz/corpus/content/ through
 * mh_fuzz_content_one(), which returns 1 when the body was accepted, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "intake/intake_internal.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* Appends "%XX" for every byte of `s`. */
static void mh_fuzz_pct(char **p, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        *(*p)++ = '%';
        *(*p)++ = hex[c >> 4];
        *(*p)++ = hex[c & 15];
    }
}

static void mh_fuzz_pct_pair(char **p, bool *first, const char *k, json_t *v)
{
    if (!*first)
        *(*p)++ = '&';
    *first = false;
    mh_fuzz_pct(p, k, strlen(k));
    *(*p)++ = '=';
    mh_fuzz_pct(p, json_string_value(v), json_string_length(v));
}

/* A parsed form is strings, or arrays of two or more strings; it re-encodes to itself. */
static void mh_fuzz_check_form(json_t *form, size_t body_len)
{
    MH_FUZZ_CHECK(json_is_object(form));
    /* Every byte of the body at most triples, plus one '=' or '&' per byte at worst. */
    char *enc = malloc(4 * body_len + 8);
    MH_FUZZ_CHECK(enc != NULL);
    char *p = enc;
    bool first = true;
    const char *k;
    json_t *v;
    json_object_foreach(form, k, v)
    {
        if (json_is_array(v)) {
            MH_FUZZ_CHECK(json_array_size(v) >= 2);
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                MH_FUZZ_CHECK(json_is_string(e));
                mh_fuzz_pct_pair(&p, &first, k, e);
            }
        } else {
            MH_FUZZ_CHECK(json_is_string(v));
            mh_fuzz_pct_pair(&p, &first, k, v);
        }
    }
    enum mh_intake__kind kind;
    json_t *back = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_FUZZ_CHECK(mh_intake__parse_body("application/x-www-form-urlencoded", enc, (size_t)(p - enc),
                                        &kind, &back, &info) == MH_OK);
    MH_FUZZ_CHECK(json_equal(form, back));
    json_decref(back);
    free(enc);
}

int mh_fuzz_content_one(const uint8_t *data, size_t size);

int mh_fuzz_content_one(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 64 * 1024)
        return 0;
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t hlen = nl ? (size_t)(nl - s) : size;
    char *ct = malloc(hlen + 1);
    MH_FUZZ_CHECK(ct != NULL);
    memcpy(ct, s, hlen);
    ct[hlen] = '\0';
    const char *body = nl ? nl + 1 : s + size;
    size_t blen = size - hlen - (nl ? 1 : 0);

    enum mh_intake__kind pkind, ckind;
    json_t *pval = NULL, *cval = NULL;
    struct mh_err_info pinfo = MH_ERR_INFO_INIT, cinfo = MH_ERR_INFO_INIT;
    const char *header = ct[0] ? ct : NULL; /* "" is no header, as for the intake */
    enum mh_err prc = mh_intake__parse_body(header, body, blen, &pkind, &pval, &pinfo);
    enum mh_err crc = mh_intake__check_body(header, body, blen, &ckind, &cval, &cinfo);
    MH_FUZZ_CHECK(prc == MH_OK || prc == MH_EINVAL || prc == MH_ENOTFOUND);
    MH_FUZZ_CHECK(prc == crc && pkind == ckind);
    MH_FUZZ_CHECK(strcmp(pinfo.message, cinfo.message) == 0);
    MH_FUZZ_CHECK((prc == MH_OK) == (pval != NULL));
    if (prc != MH_OK) {
        MH_FUZZ_CHECK(pinfo.message[0] != '\0' && cval == NULL);
    } else if (pkind == MH_INTAKE__KIND_JSON) {
        MH_FUZZ_CHECK(cval == NULL);
    } else {
        MH_FUZZ_CHECK(json_equal(pval, cval));
        MH_FUZZ_CHECK(mh_intake__is_utf8(body, blen));
        switch (pkind) {
        case MH_INTAKE__KIND_FORM: mh_fuzz_check_form(pval, blen); break;
        case MH_INTAKE__KIND_XML:
        case MH_INTAKE__KIND_TEXT:
            MH_FUZZ_CHECK(json_is_string(pval) && json_string_length(pval) == blen &&
                          memcmp(json_string_value(pval), body, blen) == 0);
            break;
        default: MH_FUZZ_CHECK(blen == 0 && json_is_null(pval) && header == NULL); break;
        }
    }
    json_decref(cval);
    json_decref(pval);
    free(ct);
    return prc == MH_OK;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_content_one(data, size);
    return 0;
}
#endif
