/* SPDX-License-Identifier: MIT */
/*
 * Which parts of the document an expression can read (mh_jp_add_reads), from its AST alone.
 *
 * A path is a chain of member names from the root, and reading it means reading the whole value
 * there. The walk knows the path of the value a node is evaluated against while that value is
 * reached from the root by member names only; a node then reads:
 *   - field `k`: path.k;
 *   - a sub-expression: its leading fields extend the path; the first other link is walked
 *     against that path, and the links after it only see what that link returned;
 *   - a pipe, a projection, a filter, a flatten: what their left side reads (their right side
 *     and condition only see the left side's result);
 *   - a multi-select, ||, &&, !, a comparison, a function's arguments: what each operand reads
 *     (an &expr argument is applied by map, sort_by, min_by and max_by to elements of their
 *     array argument, which that argument read whole);
 *   - an index or a slice, @ and the implicit identity of projections: the whole path;
 *   - a literal: nothing.
 * Every value an expression computes is made of what it read and of literals, so whatever
 * follows a link only sees parts of the document already counted. Reading the whole root (an
 * `@` there, `*`, `[0]`) or a construct not listed makes the answer "everything".
 */
#include "jmespath/jmespath_internal.h"

#include <stdbool.h>
#include <string.h>

/* Longer chains of names than this read "everything" (a conservative answer). */
#define MAX_PATH 32

struct path {
    const char *key[MAX_PATH];
    size_t len[MAX_PATH];
    size_t n;
};

static bool walk(const struct mh_jp__node *n, struct path *p, json_t *trie);
static bool add_path(json_t *trie, const struct path *p);

bool mh_jp_add_reads(const struct mh_jp_expr *expr, json_t *trie)
{
    struct path p = {.n = 0};
    return expr != NULL && json_is_object(trie) && walk(expr->root, &p, trie);
}

/* Marks p (the whole value there) as read: `true` at its end, objects on the way. */
static bool add_path(json_t *trie, const struct path *p)
{
    if (p->n == 0)
        return false; /* the whole document */
    json_t *at = trie;
    for (size_t i = 0; i < p->n; i++) {
        json_t *next = json_object_getn(at, p->key[i], p->len[i]);
        if (json_is_true(next))
            return true; /* a shorter path already reads all of it */
        if (i + 1 == p->n) {
            json_object_setn_new(at, p->key[i], p->len[i], json_true());
            return true;
        }
        if (next == NULL) {
            next = json_object();
            json_object_setn_new(at, p->key[i], p->len[i], next);
        }
        at = next;
    }
    return true;
}

static bool walk(const struct mh_jp__node *n, struct path *p, json_t *trie)
{
    size_t base = p->n;
    bool ok = true;
    switch (n->type) {
    case MH_JP_N_LITERAL: return true;
    case MH_JP_N_CURRENT:
    case MH_JP_N_INDEX:
    case MH_JP_N_SLICE: return add_path(trie, p);
    case MH_JP_N_FIELD:
        if (p->n == MAX_PATH)
            return false;
        p->key[p->n] = n->u.field.key;
        p->len[p->n++] = n->u.field.len;
        ok = add_path(trie, p);
        p->n = base;
        return ok;
    case MH_JP_N_SUBEXPR: {
        size_t i = 0;
        for (; i < n->nkids && n->kids[i]->type == MH_JP_N_FIELD; i++) {
            if (p->n == MAX_PATH) {
                p->n = base;
                return false;
            }
            p->key[p->n] = n->kids[i]->u.field.key;
            p->len[p->n++] = n->kids[i]->u.field.len;
        }
        ok = i < n->nkids ? walk(n->kids[i], p, trie) : add_path(trie, p);
        p->n = base;
        return ok;
    }
    case MH_JP_N_PIPE:
    case MH_JP_N_PROJECT:
    case MH_JP_N_VPROJECT:
    case MH_JP_N_FILTER:
    case MH_JP_N_FLATTEN: return n->nkids > 0 && walk(n->kids[0], p, trie);
    case MH_JP_N_MULTI_LIST:
    case MH_JP_N_MULTI_HASH:
    case MH_JP_N_OR:
    case MH_JP_N_AND:
    case MH_JP_N_NOT:
    case MH_JP_N_CMP:
        for (size_t i = 0; i < n->nkids && ok; i++)
            ok = walk(n->kids[i], p, trie);
        return ok;
    case MH_JP_N_CALL:
        for (size_t i = 0; i < n->nkids && ok; i++)
            if (n->kids[i]->type != MH_JP_N_EXPREF)
                ok = walk(n->kids[i], p, trie);
        return ok;
    case MH_JP_N_EXPREF: return false;
    }
    return false;
}
