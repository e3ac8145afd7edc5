/* SPDX-License-Identifier: MIT */
/*
 * Private to redact. The built-in rule table (rules.c) and the JSON walker shared by the
 * redactor and the secret replacer (json.c).
 */
#ifndef MH_REDACT_INTERNAL_H
#define MH_REDACT_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"
#include "redact/redact.h"

/*
 * Confirms a candidate match s[start, end) and returns the end of the accepted span (<= end),
 * or 0 to reject it. Validators may shorten a candidate to an earlier group boundary: the
 * regular expression takes the longest candidate, and "4111 1111 1111 1111 12" must still find
 * the card in its first 16 digits.
 */
typedef size_t (*mh_redact__check_fn)(const char *s, size_t start, size_t end);

struct mh_redact__builtin {
    unsigned bit;              /* MH_REDACT_* */
    const char *label;         /* in "[redacted:<label>]" */
    const char *pattern;       /* PCRE2 */
    unsigned group;            /* capture group to replace (0: whole match) */
    mh_redact__check_fn check; /* NULL: every match counts */
};

extern const struct mh_redact__builtin mh_redact__builtins[];
extern const size_t mh_redact__nbuiltins;

/* True when a JSON member name says its value is a secret ("password", "api_key"...). */
bool mh_redact__is_secret_key(const char *key);

/*
 * Rewrites one string. `key` is the name of the member holding it (NULL in arrays and at the
 * root). Sets `*out` to a new malloc'd replacement and returns true when the string changes;
 * returns false (and leaves `*out` alone) to keep it.
 */
typedef bool (*mh_redact__string_fn)(void *ctx, const char *key, const char *s, size_t len,
                                     char **out, size_t *out_len);

/*
 * Deep-copies `in`, passing every string and the text of every number through `fn`; a rewritten
 * number becomes a string. Values nested deeper than `max_depth` become `too_deep` (a string).
 * Returns a new value; never NULL (dies on OOM).
 */
json_t *mh_redact__json_map(json_t *in, mh_redact__string_fn fn, void *ctx, unsigned max_depth,
                            const char *too_deep);

#endif
