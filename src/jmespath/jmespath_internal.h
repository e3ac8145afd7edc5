/* SPDX-License-Identifier: MIT */
/*
 * Private to jmespath. Shared by the files of src/jmespath/ only: the token stream the lexer
 * produces, the AST the parser builds and the interpreter walks, the evaluation context with its
 * budgets, and the built-in function table. Nothing here is part of the module's API.
 */
#ifndef MH_JMESPATH_INTERNAL_H
#define MH_JMESPATH_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "jmespath/jmespath.h"

/* ---- Tokens (lexer.c) ---- */

enum mh_jp__tok {
    MH_JP_T_EOF = 0,
    MH_JP_T_IDENT,   /* unquoted identifier: text points into the source copy */
    MH_JP_T_QIDENT,  /* quoted identifier: decoded text in the expression */
    MH_JP_T_NUMBER,  /* signed integer, only valid in index and slice expressions */
    MH_JP_T_LITERAL, /* `json` or 'raw string': value owned by the expression */
    MH_JP_T_DOT,
    MH_JP_T_STAR,
    MH_JP_T_LBRACKET,
    MH_JP_T_RBRACKET,
    MH_JP_T_FILTER,  /* [? */
    MH_JP_T_FLATTEN, /* [] */
    MH_JP_T_LBRACE,
    MH_JP_T_RBRACE,
    MH_JP_T_LPAREN,
    MH_JP_T_RPAREN,
    MH_JP_T_COMMA,
    MH_JP_T_COLON,
    MH_JP_T_PIPE,
    MH_JP_T_OR,
    MH_JP_T_AND,
    MH_JP_T_NOT,
    MH_JP_T_EQ,
    MH_JP_T_NE,
    MH_JP_T_LT,
    MH_JP_T_LE,
    MH_JP_T_GT,
    MH_JP_T_GE,
    MH_JP_T_AT,
    MH_JP_T_EXPREF,
    MH_JP_T__COUNT
};

struct mh_jp__token {
    enum mh_jp__tok type;
    uint32_t start; /* byte offset into the expression */
    union {
        long long num;
        json_t *lit; /* borrowed from the expression, which keeps it alive */
        struct {
            const char *s;
            size_t len;
        } id;
    } u;
};

/*
 * Splits `len` bytes of `src` (the expression's NUL-terminated private copy) into tokens ending
 * with one MH_JP_T_EOF. Tokens go into `buf` (`cap` slots) while they fit, then into a malloc'd
 * array; *out is `buf` or that array (the caller frees it when it is not `buf`), also on error.
 * Identifier texts and literal values go into the expression `e`. On a lexical error returns
 * MH_EJMESPATH with kind "syntax" and the offset in `info`.
 */
MH_MUSTCHECK enum mh_err mh_jp__lex(struct mh_jp_expr *e, const char *src, size_t len,
                                    struct mh_jp__token *buf, size_t cap, struct mh_jp__token **out,
                                    size_t *count, struct mh_err_info *info);
/* A short human name for a token type ("'['", "identifier", "end of expression"). */
const char *mh_jp__tok_name(enum mh_jp__tok t);

/* ---- AST (ast.c, parser.c) ---- */

enum mh_jp__node_type {
    MH_JP_N_CURRENT,    /* @, and the implicit identity of projections */
    MH_JP_N_FIELD,      /* identifier */
    MH_JP_N_INDEX,      /* [n] applied to the current value */
    MH_JP_N_SLICE,      /* [a:b:c] applied to the current value (wrapped in a projection) */
    MH_JP_N_SUBEXPR,    /* kids[0] . kids[1] . ... each applied to the previous result */
    MH_JP_N_PIPE,       /* kids[0] | kids[1] | ... evaluated like a sub-expression */
    MH_JP_N_PROJECT,    /* left[*].right: list projection */
    MH_JP_N_VPROJECT,   /* left.*.right: object value projection */
    MH_JP_N_FILTER,     /* left[?cond].right */
    MH_JP_N_FLATTEN,    /* left[] (the projection part is a PROJECT around it) */
    MH_JP_N_MULTI_LIST, /* [a, b] */
    MH_JP_N_MULTI_HASH, /* {k: a, ...} */
    MH_JP_N_OR,         /* kids[0] || kids[1] || ... */
    MH_JP_N_AND,        /* kids[0] && kids[1] && ... */
    MH_JP_N_NOT,
    MH_JP_N_CMP,
    MH_JP_N_LITERAL,
    MH_JP_N_EXPREF,
    MH_JP_N_CALL,
};

enum mh_jp__cmp {
    MH_JP_CMP_EQ,
    MH_JP_CMP_NE,
    MH_JP_CMP_LT,
    MH_JP_CMP_LE,
    MH_JP_CMP_GT,
    MH_JP_CMP_GE
};

struct mh_jp__func;

/*
 * One AST node. `kids` holds the operands: left/right for projections and comparators (kids[0],
 * kids[1]), left/right/condition for filters, the chain of a sub-expression, pipe, || or &&, the
 * items of a multi-select, the arguments of a call. `height` is the height of the subtree rooted
 * here, bounded by MH_JP_MAX_DEPTH so that evaluation recursion is bounded too.
 */
struct mh_jp__node {
    enum mh_jp__node_type type;
    uint32_t offset; /* byte offset of the token that produced the node */
    uint16_t height;
    uint8_t op; /* enum mh_jp__cmp for MH_JP_N_CMP */
    uint32_t nkids;
    uint32_t cap;
    struct mh_jp__node **kids; /* points at `inl` until a fourth kid arrives */
    struct mh_jp__node *inl[3];
    union {
        struct {
            const char *key; /* not NUL-terminated; may contain NUL */
            size_t len;
        } field;
        long long index;
        struct {
            long long start, stop, step;
            bool has_start, has_stop;
        } slice;
        json_t *literal;                /* owned by the expression */
        struct mh_jp__mkey *keys;       /* MULTI_HASH: one per kid */
        const struct mh_jp__func *func; /* CALL */
    } u;
};

struct mh_jp__mkey {
    const char *s;
    size_t len;
};

/*
 * A compiled expression owns all its memory: one malloc holds this struct and a first chunk
 * sized from the expression's length, so compiling a short expression allocates once. Larger
 * trees continue in extra chunks. Literal values are kept on a list and released at destroy.
 */
struct mh_jp__chunk {
    struct mh_jp__chunk *next;
    size_t cap;
    _Alignas(16) unsigned char data[];
};

struct mh_jp__lit {
    json_t *v;
    struct mh_jp__lit *next;
};

struct mh_jp_expr {
    struct mh_jp__node *root;
    unsigned char *cur; /* bump allocation in the current chunk */
    size_t left;
    struct mh_jp__chunk *chunks; /* extra chunks, newest first */
    struct mh_jp__lit *literals;
    _Alignas(16) unsigned char first[]; /* the first chunk */
};

/* A new, empty expression whose first chunk suits a source of `src_len` bytes. */
struct mh_jp_expr *mh_jp__expr_new(size_t src_len);
void *mh_jp__alloc_slow(struct mh_jp_expr *e, size_t n);

/* Memory that lives as long as `e`, aligned for any node type; never NULL. */
static inline void *mh_jp__alloc(struct mh_jp_expr *e, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if (n > e->left)
        return mh_jp__alloc_slow(e, n);
    void *p = e->cur;
    e->cur += n;
    e->left -= n;
    return p;
}
/* Hands `v` (a new reference) to `e`, which releases it at destroy. */
void mh_jp__keep_literal(struct mh_jp_expr *e, json_t *v);

struct mh_jp__node *mh_jp__node_new(struct mh_jp_expr *e, enum mh_jp__node_type type,
                                    uint32_t offset);
/* Appends `kid` (growing the array in the expression's memory) and updates the height. */
void mh_jp__node_push(struct mh_jp_expr *e, struct mh_jp__node *n, struct mh_jp__node *kid);
/* Writes an S-expression of the tree into `b` (for tests and `meshhook jp --ast`). */
MH_MUSTCHECK enum mh_err mh_jp__ast_dump(const struct mh_jp__node *n, struct mh_buf *b);

/* ---- Evaluation (interp.c) ---- */

/* A weight-table slot: the logical size and nesting depth of a container value. */
struct mh_jp__wslot {
    const json_t *key;
    size_t weight;
    uint32_t depth;
};

#define MH_JP_WINLINE 32

/*
 * Per-call evaluation state. It lives on the caller's stack, so a compiled expression can be
 * evaluated from many threads at once. `wt` maps containers to their logical size (see
 * interp.c) so that results built out of shared references cannot grow exponentially.
 */
struct mh_jp__ctx {
    struct mh_err_info *info;
    size_t steps;
    size_t max_steps;
    size_t max_elements;
    size_t calls;
    unsigned depth;
    bool failed; /* the first error is kept in `info` */
    struct mh_jp__wslot *wt;
    size_t wt_cap; /* a power of two */
    size_t wt_used;
    struct mh_jp__wslot wt_inline[MH_JP_WINLINE];
};

/* Evaluates `n` against `cur` (borrowed); returns a new reference, or NULL with the error set
 * in the context. JSON null is json_null(), never NULL. */
json_t *mh_jp__eval(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);

/* Sets a runtime error of `kind` at node offset `offset`; always returns NULL. */
json_t *mh_jp__fail(struct mh_jp__ctx *c, const char *kind, long offset, const char *fmt, ...)
    MH_PRINTF(4, 5);
/* Charges `n` steps; false (with the "limit" error set) when the budget is exhausted. */
bool mh_jp__charge(struct mh_jp__ctx *c, size_t n);
/*
 * Accounts for a freshly built container `v` whose children are all in place: computes its
 * weight from its children, records it, and fails with "limit" when it is too large or too
 * deeply nested. On failure `v` is released and NULL is returned; otherwise `v`.
 */
json_t *mh_jp__seal(struct mh_jp__ctx *c, json_t *v);
/* Checks a freshly built string against the size limit; releases it and returns NULL if over. */
json_t *mh_jp__seal_string(struct mh_jp__ctx *c, json_t *v);

/* ---- Values (value.c) ---- */

/* Deep equality with numbers compared by value (1 == 1.0). Returns -1 when the step budget or
 * depth bound was exceeded (error set), else 0 or 1. */
int mh_jp__equal(struct mh_jp__ctx *c, const json_t *a, const json_t *b, unsigned depth);
double mh_jp__num(const json_t *v);
/* Compares two numbers by value: <0, 0, >0. */
int mh_jp__num_cmp(const json_t *a, const json_t *b);
/* Compares two strings by code point (byte order of UTF-8). */
int mh_jp__str_cmp(const json_t *a, const json_t *b);
/* A number value: an integer when `d` is integral and fits, else a real; null for NaN/inf. */
json_t *mh_jp__number(double d);
/* Appends the JSON text of `v` to `b` (compact when `indent` is 0, else pretty with `indent`
 * spaces per level), charging the step budget. `depth` is the nesting level of `v`. */
MH_MUSTCHECK enum mh_err mh_jp__serialize(struct mh_jp__ctx *c, const json_t *v, unsigned indent,
                                          struct mh_buf *b, unsigned depth);
const char *mh_jp__type_name(const json_t *v);

/* ---- Functions (functions.c) ---- */

/*
 * One evaluated argument: a value, or for an expression reference the node to apply, or (for
 * the array parameters a function marks in `view_args`) a multi-select list written in place,
 * such as sum([a, b]), whose items are kept in a C array instead of a new JSON array. A view
 * has `v` NULL; function bodies read array arguments through mh_jp__alen/mh_jp__aget.
 */
struct mh_jp__arg {
    json_t *v; /* owned reference; json_null() for exprefs; NULL for a view */
    const struct mh_jp__node *ref;
    json_t **items; /* view: owned references */
    size_t nitems;
    bool items_heap;
};

static inline size_t mh_jp__alen(const struct mh_jp__arg *a)
{
    return a->v != NULL ? json_array_size(a->v) : a->nitems;
}

static inline json_t *mh_jp__aget(const struct mh_jp__arg *a, size_t i)
{
    return a->v != NULL ? json_array_get(a->v, i) : a->items[i];
}

typedef json_t *(*mh_jp__func_fn)(struct mh_jp__ctx *c, const struct mh_jp__node *call,
                                  struct mh_jp__arg *args, size_t nargs);

#define MH_JP_MAX_FUNC_ARGS 4
/* Item slots on the stack for list-view arguments of one call (more go to the heap). */
#define MH_JP_VIEW_SPACE 32

struct mh_jp__func {
    const char *name;
    mh_jp__func_fn fn;
    uint8_t min_args;
    uint8_t max_args;  /* UINT8_MAX: variadic */
    uint8_t view_args; /* bit i: argument i may be a list view */
    /* Allowed types per argument (the last entry repeats for variadic functions). */
    uint16_t types[MH_JP_MAX_FUNC_ARGS];
};

/* Looks a function up by name; NULL when unknown. */
const struct mh_jp__func *mh_jp__func_find(const char *name, size_t len);
/* Evaluates a call node (arguments, type checks, the function itself). */
json_t *mh_jp__call(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);

/* Iterates the members of an object in insertion order (jansson keeps it). */
#define MH_JP_OBJ_FOREACH(obj, it)                                                                 \
    for (void *it = json_object_iter((json_t *)(obj)); it != NULL;                                 \
         it = json_object_iter_next((json_t *)(obj), it))

/* The value depth our own value walks accept (jansson's parser stops at 2048). */
#define MH_JP_MAX_VALUE_DEPTH 2560

#endif
