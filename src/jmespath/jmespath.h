/* SPDX-License-Identifier: MIT */
/*
 * JMESPath (https://jmespath.org/specification.html): compile an expression once, evaluate it
 * many times against jansson values, from many threads at once (a compiled expression is
 * immutable). Pure: depends on core and jansson only, does no I/O.
 *
 * Ownership: mh_jp_compile returns a new expression the caller destroys with
 * mh_jp_expr_destroy. mh_jp_eval borrows `expr` and `doc` and returns a new reference in *out
 * that the caller json_decref()s. On error nothing is returned and `info` (optional) holds the
 * spec's error kind ("syntax", "invalid-type", "invalid-arity", "unknown-function",
 * "invalid-value", or "limit" for a MeshHook bound), a message, and the byte offset into the
 * expression of what failed (see each function).
 */
#ifndef MH_JMESPATH_H
#define MH_JMESPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct mh_jp_expr;

/* Hard limits that keep hostile expressions harmless; exceeding one is an MH_EJMESPATH error
 * of kind "limit". */
#define MH_JP_MAX_EXPR_BYTES 65536
#define MH_JP_MAX_DEPTH      256

/*
 * Compiles `len` bytes of `src` (need not be NUL-terminated; the expression keeps its own copy).
 * MH_EJMESPATH on a bad expression, with `info->offset` at the offending byte. Unknown function
 * names, wrong argument counts and a slice step of 0 are reported here, before any evaluation.
 */
MH_MUSTCHECK enum mh_err mh_jp_compile(const char *src, size_t len, struct mh_jp_expr **out,
                                       struct mh_err_info *info);

/* NULL-tolerant. */
void mh_jp_expr_destroy(struct mh_jp_expr *expr);

/*
 * Evaluates; thread-safe for a shared `expr` (and a shared `doc`, which is only read; jansson's
 * reference counts are atomic). MH_EJMESPATH on a runtime error, with `info->offset` at the
 * expression node that failed (the function name for a bad argument), or -1 for a limit hit
 * while walking a value. At the bounds an evaluation needs about 256 KiB of stack.
 */
MH_MUSTCHECK enum mh_err mh_jp_eval(const struct mh_jp_expr *expr, json_t *doc, json_t **out,
                                    struct mh_err_info *info);

/*
 * Bounds of one evaluation. Zero fields take the defaults below. `max_steps` bounds the work
 * (nodes visited, elements iterated, values compared or serialized); `max_elements` bounds the
 * logical size of every value the evaluation builds (array elements and object members counted
 * recursively through shared references, a string counting 1 + bytes/16), so no result can
 * exhaust memory when the caller serializes it. Exceeding either is an error of kind "limit".
 */
struct mh_jp_limits {
    size_t max_steps;
    size_t max_elements;
};

#define MH_JP_DEFAULT_MAX_STEPS    ((size_t)64 * 1024 * 1024)
#define MH_JP_DEFAULT_MAX_ELEMENTS ((size_t)4 * 1024 * 1024)

/* What one evaluation did: steps charged and built-in function calls made. */
struct mh_jp_stats {
    size_t steps;
    size_t function_calls;
};

/*
 * mh_jp_eval with explicit limits (`limits` may be NULL for the defaults) and optional
 * statistics (`stats` may be NULL; filled on success and on error). Same ownership rules.
 */
MH_MUSTCHECK enum mh_err mh_jp_eval_ex(const struct mh_jp_expr *expr, json_t *doc,
                                       const struct mh_jp_limits *limits, struct mh_jp_stats *stats,
                                       json_t **out, struct mh_err_info *info);

/*
 * Appends an S-expression of the compiled tree to `b` (borrowed), e.g. "(subexpr (field a)
 * (index 0))", for debugging and `meshhook jp --ast`. MH_ETOOBIG when `b` is full.
 */
MH_MUSTCHECK enum mh_err mh_jp_expr_dump(const struct mh_jp_expr *expr, struct mh_buf *b);

/*
 * Appends the JSON text of `v` (borrowed) to `b`: compact when `indent` is 0, else one member per
 * line indented by `indent` spaces (at most 16) per level. Numbers are written as JMESPath's
 * to_string() writes them: integers as integers, reals in the fewest digits that read back to
 * the same double (0.1, not 0.10000000000000001). MH_ETOOBIG when `b`'s limit is reached,
 * MH_ELIMIT when `v` nests deeper than 2560 levels.
 */
MH_MUSTCHECK enum mh_err mh_jp_dump(const json_t *v, unsigned indent, struct mh_buf *b);

/* JMESPath truthiness: false, null, "", [], {} are false; everything else is true. */
int mh_jp_is_truthy(const json_t *v);

/*
 * The parts of a document `expr` can read, from its AST alone (reads.c), added to `trie` (an
 * object; borrowed): member name -> `true` when the whole value there may be read, or an object
 * of the same shape naming the parts of it that may. Evaluating `expr` against a copy of the
 * document that keeps only those parts gives the same result or error as against the document.
 * Returns false when it may read the root as a whole (`@`, `*`, `[0]` there, or a construct the
 * walk does not follow); `trie` then holds an unspecified part of the answer.
 */
bool mh_jp_add_reads(const struct mh_jp_expr *expr, json_t *trie);

#endif
