/* SPDX-License-Identifier: MIT */
/*
 * AST nodes of a compiled JMESPath expression and the memory they live in. Nodes are bump-
 * allocated in chunks owned by the expression (the first one inside the expression's own
 * allocation), so compiling costs few mallocs and destroying needs no recursive walk. Each node
 * records the height of its subtree; the parser refuses trees higher than MH_JP_MAX_DEPTH, which
 * is what bounds the interpreter's recursion. The S-expression dump serves tests and debugging.
 */
#include "jmespath/jmespath_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static enum mh_err dump(const struct mh_jp__node *n, struct mh_buf *b);
static enum mh_err dump_text(struct mh_buf *b, const char *s, size_t len);

/* The first chunk gets room for about this many bytes per source byte (nodes, texts, kids). */
#define FIRST_CHUNK_PER_BYTE 24
#define FIRST_CHUNK_MIN      384
#define FIRST_CHUNK_MAX      8192
#define CHUNK_ALIGN          16

struct mh_jp_expr *mh_jp__expr_new(size_t src_len)
{
    size_t cap = FIRST_CHUNK_MIN + src_len * FIRST_CHUNK_PER_BYTE;
    if (cap > FIRST_CHUNK_MAX)
        cap = FIRST_CHUNK_MAX;
    struct mh_jp_expr *e = mh_xmalloc(sizeof(*e) + cap);
    e->root = NULL;
    e->cur = e->first;
    e->left = cap;
    e->chunks = NULL;
    e->literals = NULL;
    return e;
}

/* The slow path of mh_jp__alloc: a new chunk. `n` is already rounded up. */
void *mh_jp__alloc_slow(struct mh_jp_expr *e, size_t n)
{
    /* Chunks double with the expression (bounded by MH_JP_MAX_EXPR_BYTES upstream). */
    size_t cap = e->chunks ? e->chunks->cap * 2 : FIRST_CHUNK_MAX;
    if (cap < n)
        cap = n;
    struct mh_jp__chunk *c = mh_xmalloc(sizeof(*c) + cap);
    c->cap = cap;
    c->next = e->chunks;
    e->chunks = c;
    e->cur = c->data + n;
    e->left = cap - n;
    return c->data;
}

void mh_jp__keep_literal(struct mh_jp_expr *e, json_t *v)
{
    struct mh_jp__lit *l = mh_jp__alloc(e, sizeof(*l));
    l->v = v;
    l->next = e->literals;
    e->literals = l;
}

void mh_jp_expr_destroy(struct mh_jp_expr *expr)
{
    if (expr == NULL)
        return;
    for (struct mh_jp__lit *l = expr->literals; l != NULL; l = l->next)
        json_decref(l->v);
    struct mh_jp__chunk *c = expr->chunks;
    while (c != NULL) {
        struct mh_jp__chunk *next = c->next;
        free(c);
        c = next;
    }
    free(expr);
}

struct mh_jp__node *mh_jp__node_new(struct mh_jp_expr *e, enum mh_jp__node_type type,
                                    uint32_t offset)
{
    struct mh_jp__node *n = mh_jp__alloc(e, sizeof(*n));
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->offset = offset;
    n->height = 1;
    n->kids = n->inl;
    n->cap = 3;
    return n;
}

void mh_jp__node_push(struct mh_jp_expr *e, struct mh_jp__node *n, struct mh_jp__node *kid)
{
    if (n->nkids == n->cap) {
        /* Chunk memory cannot grow in place: double into a fresh array (the waste is bounded
         * by the size of the final array). */
        uint32_t cap = n->cap * 2;
        struct mh_jp__node **kids = mh_jp__alloc(e, cap * sizeof(*kids));
        if (n->nkids)
            memcpy(kids, n->kids, n->nkids * sizeof(*kids));
        n->kids = kids;
        n->cap = cap;
    }
    n->kids[n->nkids++] = kid;
    if (kid->height + 1 > n->height)
        n->height = (uint16_t)(kid->height + 1 > UINT16_MAX ? UINT16_MAX : kid->height + 1);
}

static const char *const type_names[] = {
    [MH_JP_N_CURRENT] = "current", [MH_JP_N_FIELD] = "field",       [MH_JP_N_INDEX] = "index",
    [MH_JP_N_SLICE] = "slice",     [MH_JP_N_SUBEXPR] = "subexpr",   [MH_JP_N_PIPE] = "pipe",
    [MH_JP_N_PROJECT] = "project", [MH_JP_N_VPROJECT] = "vproject", [MH_JP_N_FILTER] = "filter",
    [MH_JP_N_FLATTEN] = "flatten", [MH_JP_N_MULTI_LIST] = "list",   [MH_JP_N_MULTI_HASH] = "hash",
    [MH_JP_N_OR] = "or",           [MH_JP_N_AND] = "and",           [MH_JP_N_NOT] = "not",
    [MH_JP_N_CMP] = "cmp",         [MH_JP_N_LITERAL] = "literal",   [MH_JP_N_EXPREF] = "expref",
    [MH_JP_N_CALL] = "call",
};

static const char *const cmp_names[] = {"==", "!=", "<", "<=", ">", ">="};

/* Identifiers and keys are written as JSON strings when they are not plain ASCII words. */
static enum mh_err dump_text(struct mh_buf *b, const char *s, size_t len)
{
    bool plain = len > 0;
    for (size_t i = 0; i < len && plain; i++) {
        unsigned char ch = (unsigned char)s[i];
        plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                (i > 0 && ch >= '0' && ch <= '9');
    }
    if (plain)
        return mh_buf_append(b, s, len);
    json_t *js = json_stringn(s, len);
    if (js == NULL)
        return MH_EINVAL;
    char *text = json_dumps(js, JSON_ENCODE_ANY);
    json_decref(js);
    if (text == NULL)
        return MH_ENOMEM;
    enum mh_err rc = mh_buf_append_str(b, text);
    free(text);
    return rc;
}

static enum mh_err dump(const struct mh_jp__node *n, struct mh_buf *b)
{
    enum mh_err rc = mh_buf_printf(b, "(%s", type_names[n->type]);
    if (rc != MH_OK)
        goto out;
    switch (n->type) {
    case MH_JP_N_FIELD:
        if ((rc = mh_buf_append_str(b, " ")) != MH_OK)
            goto out;
        rc = dump_text(b, n->u.field.key, n->u.field.len);
        break;
    case MH_JP_N_INDEX: rc = mh_buf_printf(b, " %lld", n->u.index); break;
    case MH_JP_N_SLICE:
        if (n->u.slice.has_start)
            rc = mh_buf_printf(b, " %lld", n->u.slice.start);
        else
            rc = mh_buf_append_str(b, " _");
        if (rc == MH_OK && n->u.slice.has_stop)
            rc = mh_buf_printf(b, " %lld", n->u.slice.stop);
        else if (rc == MH_OK)
            rc = mh_buf_append_str(b, " _");
        if (rc == MH_OK)
            rc = mh_buf_printf(b, " %lld", n->u.slice.step);
        break;
    case MH_JP_N_CMP: rc = mh_buf_printf(b, " %s", cmp_names[n->op]); break;
    case MH_JP_N_CALL: rc = mh_buf_printf(b, " %s", n->u.func->name); break;
    case MH_JP_N_LITERAL: {
        char *text = json_dumps(n->u.literal, JSON_ENCODE_ANY | JSON_COMPACT);
        if (text == NULL) {
            rc = MH_ENOMEM;
            break;
        }
        rc = mh_buf_printf(b, " %s", text);
        free(text);
        break;
    }
    default: break;
    }
    for (uint32_t i = 0; rc == MH_OK && i < n->nkids; i++) {
        rc = mh_buf_append_str(b, " ");
        if (rc == MH_OK && n->type == MH_JP_N_MULTI_HASH) {
            rc = dump_text(b, n->u.keys[i].s, n->u.keys[i].len);
            if (rc == MH_OK)
                rc = mh_buf_append_str(b, ":");
        }
        if (rc == MH_OK)
            rc = dump(n->kids[i], b);
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ")");
out:
    return rc;
}

enum mh_err mh_jp__ast_dump(const struct mh_jp__node *n, struct mh_buf *b)
{
    return dump(n, b);
}
