/* SPDX-License-Identifier: MIT */
/*
 * AST nodes of a compiled JMESPath expression. Nodes live in the expression's arena, so a
 * compiled expression is freed in one go and never needs a recursive destructor. Each node
 * records the height of its subtree; the parser refuses trees higher than MH_JP_MAX_DEPTH, which
 * is what bounds the interpreter's recursion. The S-expression dump serves tests and debugging.
 */
#include "jmespath/jmespath_internal.h"

#include <string.h>

#include "core/mem.h"

static enum mh_err dump(const struct mh_jp__node *n, struct mh_buf *b);
static enum mh_err dump_text(struct mh_buf *b, const char *s, size_t len);

struct mh_jp__node *mh_jp__node_new(struct mh_arena *a, enum mh_jp__node_type type, uint32_t offset)
{
    struct mh_jp__node *n = mh_arena_calloc(a, sizeof(*n));
    n->type = type;
    n->offset = offset;
    n->height = 1;
    return n;
}

void mh_jp__node_push(struct mh_arena *a, struct mh_jp__node *n, struct mh_jp__node *kid)
{
    if (n->nkids == n->cap) {
        /* Arena memory cannot grow in place: double into a fresh array (the waste is bounded by
         * the size of the final array). */
        uint32_t cap = n->cap ? n->cap * 2 : 2;
        struct mh_jp__node **kids = mh_arena_alloc(a, cap * sizeof(*kids));
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
