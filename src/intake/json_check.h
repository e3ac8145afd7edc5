/* SPDX-License-Identifier: MIT */
/*
 * Private to intake. A validate-only JSON checker: it decides whether jansson would parse a body
 * without building the document, so the hot path can keep the body as raw text and leave the
 * parsing to the run that needs it.
 */
#ifndef MH_INTAKE_JSON_CHECK_H
#define MH_INTAKE_JSON_CHECK_H

#include <stddef.h>

#include "core/err.h"

/* Deepest nesting of arrays and objects a JSON body may have. */
#define MH_INTAKE__JSON_MAX_DEPTH 500

/*
 * Checks that s[0..n) is one JSON text that jansson would parse with JSON_DECODE_ANY |
 * JSON_REJECT_DUPLICATES, nested at most MH_INTAKE__JSON_MAX_DEPTH deep and holding no NUL
 * byte, without building it. Within those two limits it accepts exactly what json_loadb() of
 * jansson 2.14 accepts (see json_check.c); a top-level scalar has depth 0, `[]` depth 1. The NUL
 * limit is there because an accepted body goes into PostgreSQL jsonb, which cannot hold one.
 *
 * `s` is borrowed for the call and need not be NUL-terminated (it may be NULL when `n` is 0).
 * Returns MH_OK, or MH_EINVAL with info->kind "json", info->offset the byte (0-based) where the
 * text goes wrong and info->message "the body is not valid JSON (byte N): <reason>". A body
 * with a NUL byte is refused at the first one, reason "NUL byte", whatever else is wrong with
 * it. Duplicate names in an object of more than 16 are found when the object closes, so a
 * syntax error further inside that object is reported instead.
 *
 * Time O(n log n): linear, plus sorting the names of each object that has more than 16. It
 * allocates nothing for bodies nested at most 32 deep whose open objects hold at most 64 names
 * between them and none more than 16; beyond that it allocates (and dies on OOM, like
 * mh_xmalloc) memory proportional to the names of the open objects. Thread-safe.
 */
MH_MUSTCHECK enum mh_err mh_intake__json_check(const char *s, size_t n, struct mh_err_info *info);

#endif
