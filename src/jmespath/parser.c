/* SPDX-License-Identifier: MIT */
/*
 * The JMESPath parser: a Pratt (top-down operator precedence) parser over the token array, with
 * the binding powers of the specification's grammar, so projections stop where the spec says
 * (at |, ||, &&, comparators and []). Left-associative chains (a.b.c, a | b | c, a || b) become
 * one n-ary node, which keeps long expressions shallow; nesting that really recurses (brackets,
 * projections, parentheses, function calls) is bounded by MH_JP_MAX_DEPTH. Function names and
 * arities are resolved here so the editor learns about them with an offset, before any run.
 */
#include "jmespath/jmespath_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct parser {
    struct mh_jp_expr *e;
    const struct mh_jp__token *toks; /* ends with MH_JP_T_EOF */
    size_t ntoks;
    size_t pos;
    unsigned depth;
    struct mh_err_info *info;
    enum mh_err rc;
};

/* Binding powers (the specification's precedence); tokens under PROJECTION_STOP end a
 * projection's right-hand side. */
enum { PROJECTION_STOP = 10 };

static const uint8_t lbp[MH_JP_T__COUNT] = {
    [MH_JP_T_PIPE] = 1,    [MH_JP_T_OR] = 2,      [MH_JP_T_AND] = 3,     [MH_JP_T_EQ] = 5,
    [MH_JP_T_NE] = 5,      [MH_JP_T_LT] = 5,      [MH_JP_T_LE] = 5,      [MH_JP_T_GT] = 5,
    [MH_JP_T_GE] = 5,      [MH_JP_T_FLATTEN] = 9, [MH_JP_T_STAR] = 20,   [MH_JP_T_FILTER] = 21,
    [MH_JP_T_DOT] = 40,    [MH_JP_T_NOT] = 45,    [MH_JP_T_LBRACE] = 50, [MH_JP_T_LBRACKET] = 55,
    [MH_JP_T_LPAREN] = 60,
};

static struct mh_jp__node *expression(struct parser *p, unsigned bp);
static struct mh_jp__node *nud(struct parser *p, const struct mh_jp__token *t);
static struct mh_jp__node *led(struct parser *p, const struct mh_jp__token *t,
                               struct mh_jp__node *left);
static struct mh_jp__node *projection_rhs(struct parser *p, unsigned bp);
static struct mh_jp__node *dot_rhs(struct parser *p, unsigned bp);
static struct mh_jp__node *index_or_slice(struct parser *p, struct mh_jp__node *left,
                                          uint32_t offset);
static struct mh_jp__node *multi_list(struct parser *p, uint32_t offset);
static struct mh_jp__node *multi_hash(struct parser *p, uint32_t offset);
static struct mh_jp__node *call(struct parser *p, struct mh_jp__node *name, uint32_t offset);
static struct mh_jp__node *filter(struct parser *p, struct mh_jp__node *left, uint32_t offset);

static const struct mh_jp__token *cur(const struct parser *p)
{
    return &p->toks[p->pos];
}

static enum mh_jp__tok peek(const struct parser *p, size_t ahead)
{
    size_t i = p->pos + ahead;
    return i < p->ntoks ? p->toks[i].type : MH_JP_T_EOF;
}

/* Returns the current token and moves on (staying on the final EOF). */
static const struct mh_jp__token *advance(struct parser *p)
{
    const struct mh_jp__token *t = &p->toks[p->pos];
    if (p->pos + 1 < p->ntoks)
        p->pos++;
    return t;
}

static struct mh_jp__node *fail_at(struct parser *p, const char *kind, uint32_t offset,
                                   const char *msg)
{
    if (p->rc == MH_OK)
        p->rc = mh_err_set(p->info, MH_EJMESPATH, kind, (long)offset, "%s", msg);
    return NULL;
}

/* "unexpected X" for token `t`, with an optional hint of what was expected. */
static struct mh_jp__node *unexpected_tok(struct parser *p, const struct mh_jp__token *t,
                                          const char *expected)
{
    if (p->rc == MH_OK) {
        if (expected)
            p->rc = mh_err_set(p->info, MH_EJMESPATH, "syntax", (long)t->start,
                               "unexpected %s, expected %s", mh_jp__tok_name(t->type), expected);
        else
            p->rc = mh_err_set(p->info, MH_EJMESPATH, "syntax", (long)t->start, "unexpected %s",
                               mh_jp__tok_name(t->type));
    }
    return NULL;
}

static struct mh_jp__node *unexpected(struct parser *p, const char *expected)
{
    return unexpected_tok(p, cur(p), expected);
}

static bool expect(struct parser *p, enum mh_jp__tok type, const char *what)
{
    if (cur(p)->type != type) {
        unexpected(p, what);
        return false;
    }
    advance(p);
    return true;
}

static struct mh_jp__node *node(struct parser *p, enum mh_jp__node_type type, uint32_t offset)
{
    return mh_jp__node_new(p->e, type, offset);
}

/* Appends and enforces the height bound on the tree. */
static bool push(struct parser *p, struct mh_jp__node *n, struct mh_jp__node *kid)
{
    mh_jp__node_push(p->e, n, kid);
    if (n->height > MH_JP_MAX_DEPTH) {
        fail_at(p, "limit", n->offset, "expression nests deeper than the limit");
        return false;
    }
    return true;
}

static struct mh_jp__node *binary(struct parser *p, enum mh_jp__node_type type, uint32_t offset,
                                  struct mh_jp__node *a, struct mh_jp__node *b)
{
    struct mh_jp__node *n = node(p, type, offset);
    if (!push(p, n, a) || !push(p, n, b))
        return NULL;
    return n;
}

/*
 * Builds a left-associative chain: appends `right` to `left` when `left` is already a node of
 * `type` (splicing `right`'s own chain for sub-expressions), else makes a new two-element node.
 */
static struct mh_jp__node *chain(struct parser *p, enum mh_jp__node_type type, uint32_t offset,
                                 struct mh_jp__node *left, struct mh_jp__node *right)
{
    struct mh_jp__node *n = left;
    if (left->type != type) {
        n = node(p, type, left->offset);
        if (!push(p, n, left))
            return NULL;
    }
    (void)offset;
    if (right->type == type && type == MH_JP_N_SUBEXPR) {
        for (uint32_t i = 0; i < right->nkids; i++)
            if (!push(p, n, right->kids[i]))
                return NULL;
        return n;
    }
    return push(p, n, right) ? n : NULL;
}

static struct mh_jp__node *expression(struct parser *p, unsigned bp)
{
    struct mh_jp__node *left = NULL;
    if (++p->depth > MH_JP_MAX_DEPTH) {
        fail_at(p, "limit", cur(p)->start, "expression nests deeper than the limit");
        goto out;
    }
    left = nud(p, advance(p));
    while (left != NULL && bp < lbp[cur(p)->type]) {
        const struct mh_jp__token *t = advance(p);
        left = led(p, t, left);
    }
out:
    p->depth--;
    return left;
}

static struct mh_jp__node *nud(struct parser *p, const struct mh_jp__token *t)
{
    struct mh_jp__node *n = NULL;
    switch (t->type) {
    case MH_JP_T_IDENT:
    case MH_JP_T_QIDENT:
        if (t->type == MH_JP_T_QIDENT && cur(p)->type == MH_JP_T_LPAREN)
            return fail_at(p, "syntax", t->start,
                           "a quoted identifier cannot be used as a function name");
        n = node(p, MH_JP_N_FIELD, t->start);
        n->u.field.key = t->u.id.s;
        n->u.field.len = t->u.id.len;
        return n;
    case MH_JP_T_LITERAL:
        n = node(p, MH_JP_N_LITERAL, t->start);
        n->u.literal = t->u.lit;
        return n;
    case MH_JP_T_AT: return node(p, MH_JP_N_CURRENT, t->start);
    case MH_JP_T_STAR: {
        /* "*" on its own is a projection over the values of the current object. */
        struct mh_jp__node *rhs;
        if (cur(p)->type == MH_JP_T_RBRACKET)
            rhs = node(p, MH_JP_N_CURRENT, t->start);
        else
            rhs = projection_rhs(p, lbp[MH_JP_T_STAR]);
        if (rhs == NULL)
            return NULL;
        return binary(p, MH_JP_N_VPROJECT, t->start, node(p, MH_JP_N_CURRENT, t->start), rhs);
    }
    case MH_JP_T_FILTER: return filter(p, node(p, MH_JP_N_CURRENT, t->start), t->start);
    case MH_JP_T_LBRACE: return multi_hash(p, t->start);
    case MH_JP_T_LPAREN:
        n = expression(p, 0);
        if (n != NULL && !expect(p, MH_JP_T_RPAREN, "')'"))
            return NULL;
        return n;
    case MH_JP_T_FLATTEN: {
        struct mh_jp__node *flat = node(p, MH_JP_N_FLATTEN, t->start);
        if (!push(p, flat, node(p, MH_JP_N_CURRENT, t->start)))
            return NULL;
        struct mh_jp__node *rhs = projection_rhs(p, lbp[MH_JP_T_FLATTEN]);
        return rhs ? binary(p, MH_JP_N_PROJECT, t->start, flat, rhs) : NULL;
    }
    case MH_JP_T_NOT: {
        struct mh_jp__node *operand = expression(p, lbp[MH_JP_T_NOT]);
        if (operand == NULL)
            return NULL;
        n = node(p, MH_JP_N_NOT, t->start);
        return push(p, n, operand) ? n : NULL;
    }
    case MH_JP_T_LBRACKET: {
        enum mh_jp__tok next = cur(p)->type;
        if (next == MH_JP_T_NUMBER || next == MH_JP_T_COLON)
            return index_or_slice(p, node(p, MH_JP_N_CURRENT, t->start), t->start);
        if (next == MH_JP_T_STAR && peek(p, 1) == MH_JP_T_RBRACKET) {
            advance(p);
            advance(p);
            struct mh_jp__node *rhs = projection_rhs(p, lbp[MH_JP_T_STAR]);
            return rhs ? binary(p, MH_JP_N_PROJECT, t->start, node(p, MH_JP_N_CURRENT, t->start),
                                rhs)
                       : NULL;
        }
        return multi_list(p, t->start);
    }
    case MH_JP_T_EXPREF: {
        struct mh_jp__node *operand = expression(p, 0);
        if (operand == NULL)
            return NULL;
        n = node(p, MH_JP_N_EXPREF, t->start);
        return push(p, n, operand) ? n : NULL;
    }
    default: return unexpected_tok(p, t, "an expression");
    }
}

static struct mh_jp__node *led(struct parser *p, const struct mh_jp__token *t,
                               struct mh_jp__node *left)
{
    struct mh_jp__node *right = NULL;
    switch (t->type) {
    case MH_JP_T_DOT:
        if (cur(p)->type == MH_JP_T_STAR) {
            advance(p);
            right = projection_rhs(p, lbp[MH_JP_T_DOT]);
            return right ? binary(p, MH_JP_N_VPROJECT, t->start, left, right) : NULL;
        }
        if (cur(p)->type == MH_JP_T_IDENT && lbp[peek(p, 1)] <= lbp[MH_JP_T_DOT]) {
            /* The common "a.b.c": a plain identifier that nothing after it binds tighter
             * than the dot joins the chain directly, without a recursive expression(). */
            const struct mh_jp__token *id = advance(p);
            right = node(p, MH_JP_N_FIELD, id->start);
            right->u.field.key = id->u.id.s;
            right->u.field.len = id->u.id.len;
        } else {
            right = dot_rhs(p, lbp[MH_JP_T_DOT]);
        }
        return right ? chain(p, MH_JP_N_SUBEXPR, t->start, left, right) : NULL;
    case MH_JP_T_PIPE:
        right = expression(p, lbp[MH_JP_T_PIPE]);
        return right ? chain(p, MH_JP_N_PIPE, t->start, left, right) : NULL;
    case MH_JP_T_OR:
        right = expression(p, lbp[MH_JP_T_OR]);
        return right ? chain(p, MH_JP_N_OR, t->start, left, right) : NULL;
    case MH_JP_T_AND:
        right = expression(p, lbp[MH_JP_T_AND]);
        return right ? chain(p, MH_JP_N_AND, t->start, left, right) : NULL;
    case MH_JP_T_EQ:
    case MH_JP_T_NE:
    case MH_JP_T_LT:
    case MH_JP_T_LE:
    case MH_JP_T_GT:
    case MH_JP_T_GE: {
        right = expression(p, lbp[t->type]);
        if (right == NULL)
            return NULL;
        struct mh_jp__node *n = binary(p, MH_JP_N_CMP, t->start, left, right);
        if (n != NULL)
            n->op = (uint8_t)(t->type - MH_JP_T_EQ);
        return n;
    }
    case MH_JP_T_FLATTEN: {
        struct mh_jp__node *flat = node(p, MH_JP_N_FLATTEN, t->start);
        if (!push(p, flat, left))
            return NULL;
        right = projection_rhs(p, lbp[MH_JP_T_FLATTEN]);
        return right ? binary(p, MH_JP_N_PROJECT, t->start, flat, right) : NULL;
    }
    case MH_JP_T_LBRACKET: {
        enum mh_jp__tok next = cur(p)->type;
        if (next == MH_JP_T_NUMBER || next == MH_JP_T_COLON)
            return index_or_slice(p, left, t->start);
        if (next != MH_JP_T_STAR || peek(p, 1) != MH_JP_T_RBRACKET)
            return unexpected(p, "a number, ':' or '*'");
        advance(p);
        advance(p);
        right = projection_rhs(p, lbp[MH_JP_T_STAR]);
        return right ? binary(p, MH_JP_N_PROJECT, t->start, left, right) : NULL;
    }
    case MH_JP_T_FILTER: return filter(p, left, t->start);
    case MH_JP_T_LPAREN: return call(p, left, t->start);
    default: return unexpected_tok(p, t, NULL);
    }
}

static struct mh_jp__node *projection_rhs(struct parser *p, unsigned bp)
{
    const struct mh_jp__token *t = cur(p);
    if (lbp[t->type] < PROJECTION_STOP)
        return node(p, MH_JP_N_CURRENT, t->start);
    switch (t->type) {
    case MH_JP_T_LBRACKET:
    case MH_JP_T_FILTER: return expression(p, bp);
    case MH_JP_T_DOT: advance(p); return dot_rhs(p, bp);
    default: return unexpected(p, "'.', '[' or '[?'");
    }
}

static struct mh_jp__node *dot_rhs(struct parser *p, unsigned bp)
{
    const struct mh_jp__token *t = cur(p);
    switch (t->type) {
    case MH_JP_T_IDENT:
    case MH_JP_T_QIDENT:
    case MH_JP_T_STAR: return expression(p, bp);
    case MH_JP_T_LBRACKET: advance(p); return multi_list(p, t->start);
    case MH_JP_T_LBRACE: advance(p); return multi_hash(p, t->start);
    default: return unexpected(p, "an identifier, '*', '[' or '{' after '.'");
    }
}

/* After "[" with the current token a number or ':': "[n]" or a slice "[a:b:c]". */
static struct mh_jp__node *index_or_slice(struct parser *p, struct mh_jp__node *left,
                                          uint32_t offset)
{
    if (cur(p)->type == MH_JP_T_NUMBER && peek(p, 1) != MH_JP_T_COLON) {
        struct mh_jp__node *idx = node(p, MH_JP_N_INDEX, offset);
        idx->u.index = advance(p)->u.num;
        if (!expect(p, MH_JP_T_RBRACKET, "']'"))
            return NULL;
        if (left->type == MH_JP_N_CURRENT)
            return idx;
        return chain(p, MH_JP_N_SUBEXPR, offset, left, idx);
    }
    struct mh_jp__node *sl = node(p, MH_JP_N_SLICE, offset);
    long long parts[3] = {0, 0, 1};
    bool has[3] = {false, false, false};
    int part = 0;
    while (cur(p)->type != MH_JP_T_RBRACKET) {
        const struct mh_jp__token *t = cur(p);
        if (t->type == MH_JP_T_COLON) {
            if (++part == 3)
                return unexpected(p, "']'");
        } else if (t->type == MH_JP_T_NUMBER && !has[part]) {
            parts[part] = t->u.num;
            has[part] = true;
        } else {
            return unexpected(p, "a number, ':' or ']'");
        }
        advance(p);
    }
    advance(p);
    if (has[2] && parts[2] == 0)
        return fail_at(p, "invalid-value", offset, "slice step cannot be 0");
    sl->u.slice.start = parts[0];
    sl->u.slice.stop = parts[1];
    sl->u.slice.step = parts[2];
    sl->u.slice.has_start = has[0];
    sl->u.slice.has_stop = has[1];
    struct mh_jp__node *base = sl;
    if (left->type != MH_JP_N_CURRENT &&
        (base = chain(p, MH_JP_N_SUBEXPR, offset, left, sl)) == NULL)
        return NULL;
    struct mh_jp__node *rhs = projection_rhs(p, lbp[MH_JP_T_STAR]);
    return rhs ? binary(p, MH_JP_N_PROJECT, offset, base, rhs) : NULL;
}

/* After "[" (consumed): expression *("," expression) "]". */
static struct mh_jp__node *multi_list(struct parser *p, uint32_t offset)
{
    struct mh_jp__node *n = node(p, MH_JP_N_MULTI_LIST, offset);
    for (;;) {
        struct mh_jp__node *item = expression(p, 0);
        if (item == NULL || !push(p, n, item))
            return NULL;
        if (cur(p)->type == MH_JP_T_RBRACKET)
            break;
        if (!expect(p, MH_JP_T_COMMA, "',' or ']'"))
            return NULL;
    }
    advance(p);
    return n;
}

/* After "{" (consumed): key ":" expression *("," key ":" expression) "}". */
static struct mh_jp__node *multi_hash(struct parser *p, uint32_t offset)
{
    struct mh_jp__node *n = node(p, MH_JP_N_MULTI_HASH, offset);
    size_t cap = 0;
    for (;;) {
        struct mh_jp__token key = *advance(p);
        if (key.type != MH_JP_T_IDENT && key.type != MH_JP_T_QIDENT)
            return unexpected_tok(p, &key, "a key (identifier)");
        if (!expect(p, MH_JP_T_COLON, "':'"))
            return NULL;
        struct mh_jp__node *value = expression(p, 0);
        if (value == NULL || !push(p, n, value))
            return NULL;
        if (n->nkids > cap) {
            size_t ncap = cap ? cap * 2 : 4;
            struct mh_jp__mkey *keys = mh_jp__alloc(p->e, ncap * sizeof(*keys));
            if (cap)
                memcpy(keys, n->u.keys, cap * sizeof(*keys));
            n->u.keys = keys;
            cap = ncap;
        }
        n->u.keys[n->nkids - 1] = (struct mh_jp__mkey){key.u.id.s, key.u.id.len};
        if (cur(p)->type == MH_JP_T_RBRACE)
            break;
        if (!expect(p, MH_JP_T_COMMA, "',' or '}'"))
            return NULL;
    }
    advance(p);
    return n;
}

/* After "[?" (consumed): condition "]" then the projection's right-hand side. */
static struct mh_jp__node *filter(struct parser *p, struct mh_jp__node *left, uint32_t offset)
{
    struct mh_jp__node *cond = expression(p, 0);
    if (cond == NULL || !expect(p, MH_JP_T_RBRACKET, "']'"))
        return NULL;
    struct mh_jp__node *rhs;
    if (cur(p)->type == MH_JP_T_FLATTEN)
        rhs = node(p, MH_JP_N_CURRENT, offset);
    else
        rhs = projection_rhs(p, lbp[MH_JP_T_FILTER]);
    if (rhs == NULL)
        return NULL;
    struct mh_jp__node *n = binary(p, MH_JP_N_FILTER, offset, left, rhs);
    return n && push(p, n, cond) ? n : NULL;
}

/* After "(" (consumed) following a plain identifier: arguments, then resolve the function. */
static struct mh_jp__node *call(struct parser *p, struct mh_jp__node *name, uint32_t offset)
{
    if (name->type != MH_JP_N_FIELD)
        return fail_at(p, "syntax", offset, "only a plain name can be called as a function");
    struct mh_jp__node *n = node(p, MH_JP_N_CALL, name->offset);
    if (cur(p)->type != MH_JP_T_RPAREN) {
        for (;;) {
            struct mh_jp__node *arg = expression(p, 0);
            if (arg == NULL || !push(p, n, arg))
                return NULL;
            if (cur(p)->type == MH_JP_T_RPAREN)
                break;
            if (!expect(p, MH_JP_T_COMMA, "',' or ')'"))
                return NULL;
        }
    }
    advance(p);
    const struct mh_jp__func *f = mh_jp__func_find(name->u.field.key, name->u.field.len);
    if (f == NULL) {
        if (p->rc == MH_OK)
            p->rc = mh_err_set(p->info, MH_EJMESPATH, "unknown-function", (long)name->offset,
                               "unknown function %.*s()",
                               (int)(name->u.field.len > 64 ? 64 : name->u.field.len),
                               name->u.field.key);
        return NULL;
    }
    if (n->nkids < f->min_args || (f->max_args != UINT8_MAX && n->nkids > f->max_args)) {
        if (p->rc == MH_OK) {
            if (f->max_args == UINT8_MAX)
                p->rc = mh_err_set(p->info, MH_EJMESPATH, "invalid-arity", (long)name->offset,
                                   "%s() takes at least %u argument%s, got %u", f->name,
                                   f->min_args, f->min_args == 1 ? "" : "s", n->nkids);
            else
                p->rc = mh_err_set(p->info, MH_EJMESPATH, "invalid-arity", (long)name->offset,
                                   "%s() takes %u argument%s, got %u", f->name, f->min_args,
                                   f->min_args == 1 ? "" : "s", n->nkids);
        }
        return NULL;
    }
    n->u.func = f;
    return n;
}

enum mh_err mh_jp_compile(const char *src, size_t len, struct mh_jp_expr **out,
                          struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_jp_expr *e = NULL;
    /* Tokens only live while parsing: short expressions keep them on the stack. */
    struct mh_jp__token stack_toks[64];
    struct mh_jp__token *toks = NULL;
    size_t ntoks = 0;

    *out = NULL;
    if (len > MH_JP_MAX_EXPR_BYTES) {
        rc = mh_err_set(info, MH_EJMESPATH, "limit", (long)MH_JP_MAX_EXPR_BYTES,
                        "expression is longer than %d bytes", MH_JP_MAX_EXPR_BYTES);
        goto out;
    }
    e = mh_jp__expr_new(len);
    /* A private copy, so identifiers can point into it and the caller's buffer may go away. */
    char *copy = mh_jp__alloc(e, len + 1);
    if (len)
        memcpy(copy, src, len);
    copy[len] = '\0';
    if ((rc = mh_jp__lex(e, copy, len, stack_toks, MH_ARRAY_LEN(stack_toks), &toks, &ntoks,
                         info)) != MH_OK)
        goto out;
    struct parser p = {.e = e, .toks = toks, .ntoks = ntoks, .info = info};
    if (toks[0].type == MH_JP_T_EOF) {
        rc = mh_err_set(info, MH_EJMESPATH, "syntax", 0, "empty expression");
        goto out;
    }
    e->root = expression(&p, 0);
    if (e->root != NULL && cur(&p)->type != MH_JP_T_EOF)
        unexpected(&p, NULL);
    if (p.rc != MH_OK) {
        rc = p.rc;
        goto out;
    }
    MH_ASSERT(e->root != NULL);
    *out = e;
    e = NULL;
out:
    if (toks != stack_toks)
        free(toks);
    mh_jp_expr_destroy(e);
    return rc;
}

enum mh_err mh_jp_expr_dump(const struct mh_jp_expr *expr, struct mh_buf *b)
{
    return mh_jp__ast_dump(expr->root, b);
}
