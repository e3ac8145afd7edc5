/* SPDX-License-Identifier: MIT */
/*
 * A growable byte buffer with a mandatory maximum size (curl's dynbuf). Network-fed data goes into
 * an mh_buf so that no sender can make MeshHook allocate without bound: an append past the limit
 * fails with MH_ETOOBIG and frees the buffer. The contents are always NUL-terminated.
 *
 * Failure is sticky: once an append has failed, every later append, printf and reserve fails
 * with MH_ETOOBIG too, until mh_buf_reset or mh_buf_init. A caller that misses one result can
 * therefore never hand on the tail of a string as if it were the whole; it gets "" and an error
 * from the next append it does check.
 */
#ifndef MH_CORE_BUF_H
#define MH_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mh_buf {
    char *data;     /* private */
    size_t len;     /* private */
    size_t cap;     /* private */
    size_t max_len; /* private */
    bool failed;    /* private: an append failed; see mh_buf_failed */
};

/* Caller allocates `b`; `max_len` is the largest length an append may reach. */
void mh_buf_init(struct mh_buf *b, size_t max_len);
/* Frees the contents; NULL-tolerant; the buffer may be reused after mh_buf_init. */
void mh_buf_cleanup(struct mh_buf *b);
/* Empties the buffer and clears a failure, keeping its memory. */
void mh_buf_reset(struct mh_buf *b);
/* True once an append has failed, until mh_buf_reset or mh_buf_init. */
bool mh_buf_failed(const struct mh_buf *b);

/* Appends; on MH_ETOOBIG the buffer is freed, left empty and failed (every later append fails
 * until reset). */
MH_MUSTCHECK enum mh_err mh_buf_append(struct mh_buf *b, const void *p, size_t n);
MH_MUSTCHECK enum mh_err mh_buf_append_str(struct mh_buf *b, const char *s);
MH_MUSTCHECK enum mh_err mh_buf_printf(struct mh_buf *b, const char *fmt, ...) MH_PRINTF(2, 3);
/* Appends `v` in decimal, as "%" PRId64 would (without printf's cost: hot encoders use it). */
MH_MUSTCHECK enum mh_err mh_buf_append_int(struct mh_buf *b, int64_t v);
/* Appends s[0..len) as a JSON string literal: quotes, `"` and `\` escaped, control characters
 * as \b \f \n \r \t or \u00xx, every other byte as it is (the caller vouches for UTF-8). This
 * exact form is part of the event log's canonical encoding (src/engine/chain.c): never change it.
 */
MH_MUSTCHECK enum mh_err mh_buf_append_json_string(struct mh_buf *b, const char *s, size_t len);
/* Makes room for `n` more bytes at once (a buffer whose final size is roughly known grows
 * once rather than by doubling); MH_ETOOBIG past the maximum, which frees the buffer. */
MH_MUSTCHECK enum mh_err mh_buf_reserve(struct mh_buf *b, size_t n);

/* Borrowed; valid until the next append, reset or cleanup. Never NULL ("" when empty). */
const char *mh_buf_str(const struct mh_buf *b);
size_t mh_buf_len(const struct mh_buf *b);
/* Hands the contents (malloc'd, NUL-terminated) to the caller and empties the buffer; a failed
 * buffer stays failed. */
char *mh_buf_steal(struct mh_buf *b, size_t *len);

#endif
