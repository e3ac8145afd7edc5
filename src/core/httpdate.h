/* SPDX-License-Identifier: MIT */
/*
 * HTTP-dates and Retry-After: the one parser of both in MeshHook (RFC 9110 §5.6.7, §10.2.3).
 * Pure functions of their inputs (no locale, no time zone, no clock read), so the engine can use
 * them inside a decision and replay reaches the same result.
 */
#ifndef MH_CORE_HTTPDATE_H
#define MH_CORE_HTTPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses s[0..len) as an HTTP-date in any of its three forms, in GMT, without surrounding
 * whitespace: IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", the obsolete RFC 850 form
 * "Sunday, 06-Nov-94 08:49:37 GMT" (its two-digit year is the one at most 50 years after
 * `now_ms`'s year) and asctime "Sun Nov  6 08:49:37 1994". Names of days and months and "GMT"
 * match case-insensitively; the day of the week is not checked against the date. A leap second
 * (:60) reads as :59. *out_ms is epoch ms. False for anything else, including impossible dates
 * (Feb 30, hour 24) and years outside 1..9999.
 */
bool mh_http_date_parse(const char *s, size_t len, int64_t now_ms, int64_t *out_ms);

/*
 * Parses a Retry-After value: delta-seconds ("120") or an HTTP-date as above, with surrounding
 * spaces and tabs allowed. Returns the epoch ms it names, relative to `now_ms` for delta-seconds;
 * a date in the past yields now_ms. -1 for anything else,
 * including NULL, negative or fractional numbers and delta-seconds reaching beyond year 9999.
 */
int64_t mh_http_retry_after(const char *value, int64_t now_ms);

#endif
