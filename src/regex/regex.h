/* SPDX-License-Identifier: MIT */
/*
 * Bounded regular expressions over UTF-8 text: the only user of PCRE2 in MeshHook. A pattern is
 * compiled once (UTF mode, JIT when the platform has it) and may then be matched from any number
 * of threads at once. Every match is bounded, so a pattern written by a user (a JSON Schema
 * `pattern`, a per-project redaction rule) cannot stall a worker: catastrophic backtracking stops
 * at a step limit and the call fails with MH_ELIMIT.
 *
 * Ownership: mh_regex_compile borrows `pattern` and returns a new regex the caller frees with
 * mh_regex_destroy. Matching functions borrow the regex and the subject; spans are byte offsets
 * into the subject. mh_regex_find_all returns a new array the caller free()s.
 *
 * Thread safety: a compiled regex is immutable; every match call allocates its own match data, so
 * one regex is safe to use from many threads concurrently. Compile and destroy are not concurrent
 * with use.
 *
 * Limits, all per call and all enforced by PCRE2 itself except the last:
 *  - match_limit: backtracking steps per starting position (PCRE2's match limit);
 *  - depth_limit: backtracking depth of the interpreter (JIT ignores it; JIT runs on a bounded
 *    stack instead, and a JIT stack overflow falls back to the bounded interpreter);
 *  - heap_limit_kib: heap the interpreter may use for backtracking frames;
 *  - max_total_ms: wall-clock budget of one search or find-all, checked at every start position,
 *    because PCRE2's match limit is reset at each starting position and so bounds a search only
 *    to (subject length x match_limit). 0 disables it.
 */
#ifndef MH_REGEX_H
#define MH_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mh_regex;

/* Compile flags. */
#define MH_REGEX_CASELESS  (1u << 0) /* case-insensitive (Unicode simple case folding) */
#define MH_REGEX_MULTILINE (1u << 1) /* ^ and $ match at line boundaries */
#define MH_REGEX_DOTALL    (1u << 2) /* . matches newlines too */
/*
 * ECMA-262 flavour, for JSON Schema `pattern` (a JSON Schema regex is an ECMA-262 regex in
 * unicode mode). With it: `$` matches only at the very end (not before a final newline); `\u` is
 * followed by four hex digits or `{hex}`, and `\x` by exactly two; `\p{Long_Name}` properties of
 * the general category (`\p{Letter}`, `\p{Decimal_Number}`, `\p{gc=Lu}`, `\p{Script=Greek}`) are
 * accepted and mapped to PCRE2's short names. Known differences that remain (PCRE2 semantics
 * apply): `\d`, `\w`, `\b` are ASCII in both, but `\s` is ASCII-only here while ECMA's includes
 * Unicode spaces; `.` excludes only `\n` (ECMA also excludes `\r`, U+2028 and U+2029);
 * lookbehinds must be of bounded length here; `\p{Script_Extensions=X}` is treated as
 * `\p{Script=X}`; PCRE2-only syntax (possessive quantifiers, `(?i)`, `\A`, `\z`, recursion,
 * verbs) is accepted rather than rejected. As in ECMA, a backreference to an unset group matches
 * the empty string, `[]` matches nothing and `[^]` any character.
 */
#define MH_REGEX_ECMA (1u << 3)

struct mh_regex_limits {
    uint32_t match_limit;    /* 0: MH_REGEX_DEFAULT_MATCH_LIMIT */
    uint32_t depth_limit;    /* 0: MH_REGEX_DEFAULT_DEPTH_LIMIT */
    uint32_t heap_limit_kib; /* 0: MH_REGEX_DEFAULT_HEAP_LIMIT_KIB */
    uint32_t max_total_ms;   /* 0: no wall-clock budget */
};

#define MH_REGEX_DEFAULT_MATCH_LIMIT    1000000u
#define MH_REGEX_DEFAULT_DEPTH_LIMIT    10000u
#define MH_REGEX_DEFAULT_HEAP_LIMIT_KIB 8192u
/* The budget mh_regex_compile applies when `limits` is NULL. */
#define MH_REGEX_DEFAULT_MAX_TOTAL_MS 250u
/* Patterns longer than this are refused with MH_ETOOBIG. */
#define MH_REGEX_MAX_PATTERN_BYTES 16384u

/* A match or capture group: subject bytes [start, end). Unset groups are {MH_REGEX_UNSET, ..}. */
struct mh_regex_span {
    size_t start;
    size_t end;
};

#define MH_REGEX_UNSET ((size_t)-1)

/*
 * Compiles `pattern` (`len` bytes of UTF-8, which may contain NUL) with `flags`. `limits` NULL
 * means the defaults, including a MH_REGEX_DEFAULT_MAX_TOTAL_MS budget; fields left 0 take their
 * default. Errors: MH_EINVAL with `info` (kind "regex", message from PCRE2, offset = byte offset
 * in the pattern) for a bad pattern or bad flags; MH_ETOOBIG for a too long pattern.
 */
MH_MUSTCHECK enum mh_err mh_regex_compile(const char *pattern, size_t len, unsigned flags,
                                          const struct mh_regex_limits *limits,
                                          struct mh_regex **out, struct mh_err_info *info);
/* NULL-tolerant. */
void mh_regex_destroy(struct mh_regex *re);

/* Number of capture groups (not counting the whole match). */
uint32_t mh_regex_group_count(const struct mh_regex *re);
/* Index of the named group `name`, or -1 when the pattern has no such group. */
int mh_regex_group_index(const struct mh_regex *re, const char *name);

/*
 * Searches `subject` (`len` bytes) for the first match starting at or after byte `start`. On
 * MH_OK `*matched` says whether it matched; when it did and `groups` is non-NULL, groups[0] is
 * the whole match and groups[i] capture group i, for i < `ngroups` (extra entries are UNSET).
 * Invalid UTF-8 in the subject never matches but is not an error. `start` must be <= len.
 * Errors: MH_ELIMIT when a limit stopped the search (the subject is then neither matched nor
 * unmatched: treat it conservatively); MH_ENOMEM; MH_EINVAL for a bad `start`.
 */
MH_MUSTCHECK enum mh_err mh_regex_search(const struct mh_regex *re, const char *subject, size_t len,
                                         size_t start, struct mh_regex_span *groups, size_t ngroups,
                                         bool *matched);

/* Shorthand for an unanchored search from 0 without groups. */
MH_MUSTCHECK enum mh_err mh_regex_test(const struct mh_regex *re, const char *subject, size_t len,
                                       bool *matched);

/*
 * Finds every non-overlapping, non-empty match, left to right, and returns for each the span of
 * capture group `group` (0: the whole match; matches where that group is unset are left out).
 * At most `max_matches` are returned (MH_ETOOBIG beyond). On MH_OK `*spans` is a new array of
 * `*count` entries (NULL when 0) the caller free()s. The wall-clock budget covers the whole call.
 * Errors: as mh_regex_search, plus MH_EINVAL for a group index past the pattern's groups. On
 * error `*spans` is NULL and `*count` 0.
 */
MH_MUSTCHECK enum mh_err mh_regex_find_all(const struct mh_regex *re, const char *subject,
                                           size_t len, uint32_t group, size_t max_matches,
                                           struct mh_regex_span **spans, size_t *count);

#endif
