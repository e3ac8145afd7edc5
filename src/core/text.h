/* SPDX-License-Identifier: MIT */
/* Small text checks shared by the API and the command line. Pure; no allocation. */
#ifndef MH_CORE_TEXT_H
#define MH_CORE_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* The longest e-mail address MeshHook stores, in bytes (RFC 3696's 64 + 1 + 255). Callers size
 * their buffers from it (MH_TEXT_EMAIL_MAX_BYTES + 1 with the NUL): an address of 320
 * characters may take four times as many bytes. */
#define MH_TEXT_EMAIL_MAX_BYTES 320

/* A plausible e-mail address: one '@', a non-empty local part, a domain with a dot, no spaces
 * or control characters, at most MH_TEXT_EMAIL_MAX_BYTES bytes. Deliverability is not MeshHook's to
 * judge. */
bool mh_text_is_email(const char *s);
/* The length of the valid UTF-8 sequence at s[0] (of at most `n` > 0 bytes): 1 for ASCII (NUL
 * included), 2 to 4 otherwise, or 0 when it is not one (a stray continuation byte, an overlong
 * form, a surrogate, a code point past U+10FFFF, a sequence cut short). */
size_t mh_text_utf8_len(const unsigned char *s, size_t n);
/* True when `len` bytes of `s` are valid UTF-8 without a NUL byte: what a PostgreSQL text
 * value can hold. */
bool mh_text_is_utf8(const char *s, size_t len);
/* Copies `s` lowercased (ASCII) into `out` of `cap` bytes; false when it does not fit, and then
 * `out` is not written at all: a caller that went on would read whatever it held before. */
MH_MUSTCHECK bool mh_text_lower(const char *s, char *out, size_t cap);

#endif
