/* SPDX-License-Identifier: MIT */
/*
 * The JMESPath tree interpreter. It walks the immutable AST with all state in a context on the
 * caller's stack, so one compiled expression serves many threads. Values are never copied: a
 * field lookup hands out the document's own node with json_incref (jansson's refcounts are
 * atomic), and new arrays and objects hold references to existing values.
 *
 * Sharing makes exponential results cheap to build ("[@,@] | [@,@] | ..."), so every container
 * the evaluation builds is weighed: its logical size (members counted through shared references,
 * strings by length) is recorded in a small pointer-keyed table and may not pass max_elements.
 * Together with the step budget and the AST height bound, this keeps every evaluation bounded in
 * time, memory and stack, whatever the expression.
 *
 * Internal evaluation functions return a new reference, or NULL after recording the error in the
 * context: every call site needs the value, and an out-parameter on this hot path would only add
 * noise. The public entry points translate that into enum mh_err.
 */
#include "jmespath/jmespath_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static json_t *eval_chain(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_slice(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_project(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_vproject(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_filter(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_flatten(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_multi_list(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_multi_hash(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static json_t *eval_cmp(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur);
static bool weigh(struct mh_jp__ctx *c, const json_t *v, size_t *weight, uint32_t *depth);

/* ---- Errors and budgets ---- */

json_t *mh_jp__fail(struct mh_jp__ctx *c, const char *kind, long offset, const char *fmt, ...)
{
    if (c->failed)
        return NULL;
    c->failed = true;
    if (c->info != NULL) {
        char msg[sizeof(c->info->message)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        mh_err_set(c->info, MH_EJMESPATH, kind, offset, "%s", msg);
    }
    return NULL;
}

static __attribute__((noinline)) bool charge_fail(struct mh_jp__ctx *c)
{
    mh_jp__fail(c, "limit", -1, "evaluation exceeded %zu steps", c->max_steps);
    return false;
}

bool mh_jp__charge(struct mh_jp__ctx *c, size_t n)
{
    c->steps += n;
    if (c->steps <= c->max_steps)
        return true;
    return charge_fail(c);
}

static __attribute__((noinline)) bool too_deep(struct mh_jp__ctx *c)
{
    mh_jp__fail(c, "limit", -1, "values nest deeper than %d levels", MH_JP_MAX_VALUE_DEPTH);
    return false;
}

/* ---- The weight table: logical size and depth of containers seen in this evaluation ---- */

static size_t wt_hash(const json_t *key, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)key;
    h ^= h >> 17;
    h *= UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 32) & (cap - 1);
}

static struct mh_jp__wslot *wt_lookup(struct mh_jp__ctx *c, const json_t *key)
{
    if (c->wt_used == 0)
        return NULL;
    for (size_t i = wt_hash(key, c->wt_cap);; i = (i + 1) & (c->wt_cap - 1)) {
        if (c->wt[i].key == key)
            return &c->wt[i];
        if (c->wt[i].key == NULL)
            return NULL;
    }
}

static void wt_insert(struct mh_jp__ctx *c, const json_t *key, size_t weight, uint32_t depth)
{
    if (c->wt_used == 0 && c->wt == c->wt_inline)
        memset(c->wt_inline, 0, sizeof(c->wt_inline));
    if ((c->wt_used + 1) * 2 > c->wt_cap) {
        size_t ncap = c->wt_cap * 2;
        struct mh_jp__wslot *nt = mh_xcalloc(ncap, sizeof(*nt));
        for (size_t i = 0; i < c->wt_cap; i++) {
            if (c->wt[i].key == NULL)
                continue;
            size_t j = wt_hash(c->wt[i].key, ncap);
            while (nt[j].key != NULL)
                j = (j + 1) & (ncap - 1);
            nt[j] = c->wt[i];
        }
        if (c->wt != c->wt_inline)
            free(c->wt);
        c->wt = nt;
        c->wt_cap = ncap;
    }
    size_t i = wt_hash(key, c->wt_cap);
    while (c->wt[i].key != NULL && c->wt[i].key != key)
        i = (i + 1) & (c->wt_cap - 1);
    if (c->wt[i].key == NULL)
        c->wt_used++;
    c->wt[i] = (struct mh_jp__wslot){key, weight, depth};
}

/*
 * Full size of a value the evaluation did not build (part of the document or of a literal, so
 * none of its members is in the table either). Stops early once over the limit, so it never
 * walks much more than max_elements nodes.
 */
struct wd {
    size_t w; /* 0 on error */
    uint32_t d;
};

/* Returns the weight and depth in registers: this recursion runs as deep as values nest. */
static struct wd weigh_walk(struct mh_jp__ctx *c, const json_t *v, unsigned level)
{
    struct wd r = {1, 0};
    if (level > MH_JP_MAX_VALUE_DEPTH) {
        too_deep(c);
        return (struct wd){0, 0};
    }
    switch (json_typeof(v)) {
    case JSON_STRING: r.w += json_string_length(v) / 16; break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (!mh_jp__charge(c, n))
            return (struct wd){0, 0};
        for (size_t i = 0; i < n && r.w <= c->max_elements; i++) {
            struct wd k = weigh_walk(c, json_array_get(v, i), level + 1);
            if (k.w == 0)
                return k;
            r.w += k.w;
            r.d = k.d > r.d ? k.d : r.d;
        }
        r.d++;
        break;
    }
    case JSON_OBJECT:
        if (!mh_jp__charge(c, json_object_size(v)))
            return (struct wd){0, 0};
        MH_JP_OBJ_FOREACH(v, it)
        {
            if (r.w > c->max_elements)
                break;
            struct wd k = weigh_walk(c, json_object_iter_value(it), level + 1);
            if (k.w == 0)
                return k;
            r.w += k.w + 1 + json_object_iter_key_len(it) / 16;
            r.d = k.d > r.d ? k.d : r.d;
        }
        r.d++;
        break;
    default: break;
    }
    return r;
}

/* Weight of any value: O(1) for scalars and for containers already in the table; a document
 * container is walked once and remembered. */
static bool weigh(struct mh_jp__ctx *c, const json_t *v, size_t *weight, uint32_t *depth)
{
    if (!json_is_array(v) && !json_is_object(v)) {
        *weight = json_is_string(v) ? 1 + json_string_length(v) / 16 : 1;
        *depth = 0;
        return true;
    }
    struct mh_jp__wslot *s = wt_lookup(c, v);
    if (s != NULL) {
        *weight = s->weight;
        *depth = s->depth;
        return true;
    }
    struct wd r = weigh_walk(c, v, 0);
    if (r.w == 0)
        return false;
    *weight = r.w;
    *depth = r.d;
    wt_insert(c, v, r.w, r.d);
    return true;
}

json_t *mh_jp__seal(struct mh_jp__ctx *c, json_t *v)
{
    size_t w = 1;
    uint32_t d = 0;
    size_t cw;
    uint32_t cd;
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(v, i);
            if (json_is_array(e) || json_is_object(e) || json_is_string(e)) {
                if (!weigh(c, e, &cw, &cd))
                    goto fail;
                w += cw;
                d = cd > d ? cd : d;
            } else {
                w++;
            }
        }
    } else {
        MH_JP_OBJ_FOREACH(v, it)
        {
            if (!weigh(c, json_object_iter_value(it), &cw, &cd))
                goto fail;
            w += cw + 1 + json_object_iter_key_len(it) / 16;
            d = cd > d ? cd : d;
        }
    }
    if (w > c->max_elements) {
        mh_jp__fail(c, "limit", -1, "result has more than %zu elements", c->max_elements);
        goto fail;
    }
    if (d + 1 > MH_JP_MAX_VALUE_DEPTH) {
        mh_jp__fail(c, "limit", -1, "result nests deeper than %d levels", MH_JP_MAX_VALUE_DEPTH);
        goto fail;
    }
    /* A container of scalars only is cheap to re-weigh (weigh() walks it like a document
     * value, in time linear in what built it), so only nested ones go into the table, which
     * keeps common small results off it. But an address may be reused after a container of
     * this evaluation is freed: a stale entry for `v` must be overwritten, flat or not. */
    if (d > 0 || wt_lookup(c, v) != NULL)
        wt_insert(c, v, w, d + 1);
    return v;
fail:
    json_decref(v);
    return NULL;
}

json_t *mh_jp__seal_string(struct mh_jp__ctx *c, json_t *v)
{
    if (1 + json_string_length(v) / 16 > c->max_elements) {
        json_decref(v);
        return mh_jp__fail(c, "limit", -1, "string result is larger than the limit");
    }
    return v;
}

/* ---- Evaluation ---- */

int mh_jp_is_truthy(const json_t *v)
{
    if (v == NULL)
        return 0;
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_FALSE: return 0;
    case JSON_STRING: return json_string_length(v) > 0;
    case JSON_ARRAY: return json_array_size(v) > 0;
    case JSON_OBJECT: return json_object_size(v) > 0;
    default: return 1;
    }
}

static json_t *field_get(const json_t *v, const struct mh_jp__node *n)
{
    if (!json_is_object(v))
        return NULL;
    return json_object_getn(v, n->u.field.key, n->u.field.len);
}

static json_t *index_get(const json_t *v, long long idx)
{
    if (!json_is_array(v))
        return NULL;
    long long size = (long long)json_array_size(v);
    if (idx < 0)
        idx += size;
    if (idx < 0 || idx >= size)
        return NULL;
    return json_array_get(v, (size_t)idx);
}

static json_t *ref_or_null(json_t *v)
{
    return v != NULL ? json_incref(v) : json_null();
}

json_t *mh_jp__eval(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *r = NULL;
    if (++c->steps > c->max_steps)
        return mh_jp__fail(c, "limit", (long)n->offset, "evaluation exceeded %zu steps",
                           c->max_steps);
    if (++c->depth > MH_JP_MAX_DEPTH + 16) {
        c->depth--;
        return mh_jp__fail(c, "limit", (long)n->offset, "evaluation nests too deeply");
    }
    switch (n->type) {
    case MH_JP_N_CURRENT: r = json_incref(cur); break;
    case MH_JP_N_FIELD: r = ref_or_null(field_get(cur, n)); break;
    case MH_JP_N_INDEX: r = ref_or_null(index_get(cur, n->u.index)); break;
    case MH_JP_N_LITERAL: r = json_incref(n->u.literal); break;
    case MH_JP_N_SUBEXPR:
    case MH_JP_N_PIPE: r = eval_chain(c, n, cur); break;
    case MH_JP_N_SLICE: r = eval_slice(c, n, cur); break;
    case MH_JP_N_PROJECT: r = eval_project(c, n, cur); break;
    case MH_JP_N_VPROJECT: r = eval_vproject(c, n, cur); break;
    case MH_JP_N_FILTER: r = eval_filter(c, n, cur); break;
    case MH_JP_N_FLATTEN: r = eval_flatten(c, n, cur); break;
    case MH_JP_N_MULTI_LIST: r = eval_multi_list(c, n, cur); break;
    case MH_JP_N_MULTI_HASH: r = eval_multi_hash(c, n, cur); break;
    case MH_JP_N_OR:
    case MH_JP_N_AND:
        for (uint32_t i = 0; i < n->nkids; i++) {
            r = mh_jp__eval(c, n->kids[i], cur);
            if (r == NULL || i + 1 == n->nkids)
                break;
            /* || stops at the first truthy value, && at the first falsy one. */
            if (mh_jp_is_truthy(r) == (n->type == MH_JP_N_OR))
                break;
            json_decref(r);
        }
        break;
    case MH_JP_N_NOT:
        r = mh_jp__eval(c, n->kids[0], cur);
        if (r != NULL) {
            int t = mh_jp_is_truthy(r);
            json_decref(r);
            r = json_boolean(!t);
        }
        break;
    case MH_JP_N_CMP: r = eval_cmp(c, n, cur); break;
    case MH_JP_N_CALL: r = mh_jp__call(c, n, cur); break;
    case MH_JP_N_EXPREF:
        r = mh_jp__fail(c, "invalid-type", (long)n->offset,
                        "an expression reference (&...) can only be a function argument");
        break;
    }
    c->depth--;
    return r;
}

/*
 * a.b[0].c and a | b: each link applies to the previous result. Field and index links are
 * looked up in place without touching reference counts; only the final value is increffed.
 */
static json_t *eval_chain(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *owned = NULL; /* the reference we hold, keeping `v` alive */
    json_t *v = cur;
    for (uint32_t i = 0; i < n->nkids; i++) {
        const struct mh_jp__node *k = n->kids[i];
        if (k->type == MH_JP_N_FIELD) {
            v = field_get(v, k);
            if (v == NULL)
                v = json_null();
            continue;
        }
        if (k->type == MH_JP_N_INDEX) {
            v = index_get(v, k->u.index);
            if (v == NULL)
                v = json_null();
            continue;
        }
        json_t *r = mh_jp__eval(c, k, v);
        json_decref(owned);
        if (r == NULL)
            return NULL;
        owned = v = r;
    }
    json_incref(v);
    json_decref(owned);
    return v;
}

/* Python-style slice bounds with the spec's clamping. */
static json_t *eval_slice(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    if (!json_is_array(cur))
        return json_null();
    long long len = (long long)json_array_size(cur);
    long long step = n->u.slice.step;
    long long start, stop;
    if (!n->u.slice.has_start) {
        start = step < 0 ? len - 1 : 0;
    } else {
        start = n->u.slice.start;
        if (start < 0) {
            start += len;
            if (start < 0)
                start = step < 0 ? -1 : 0;
        } else if (start >= len) {
            start = step < 0 ? len - 1 : len;
        }
    }
    if (!n->u.slice.has_stop) {
        stop = step < 0 ? -1 : len;
    } else {
        stop = n->u.slice.stop;
        if (stop < 0) {
            stop += len;
            if (stop < 0)
                stop = step < 0 ? -1 : 0;
        } else if (stop >= len) {
            stop = step < 0 ? len - 1 : len;
        }
    }
    json_t *res = json_array();
    if (step > 0) {
        for (long long i = start; i < stop; i += step)
            json_array_append(res, json_array_get(cur, (size_t)i));
    } else {
        for (long long i = start; i > stop; i += step)
            json_array_append(res, json_array_get(cur, (size_t)i));
    }
    if (!mh_jp__charge(c, json_array_size(res))) {
        json_decref(res);
        return NULL;
    }
    return mh_jp__seal(c, res);
}

/* Applies a projection's right-hand side to one element and appends a non-null result. */
static bool project_one(struct mh_jp__ctx *c, const struct mh_jp__node *rhs, json_t *elem,
                        json_t *res)
{
    if (!mh_jp__charge(c, 1))
        return false;
    json_t *r;
    if (rhs->type == MH_JP_N_CURRENT)
        r = json_incref(elem);
    else if ((r = mh_jp__eval(c, rhs, elem)) == NULL)
        return false;
    if (json_is_null(r))
        return true;
    json_array_append_new(res, r);
    return true;
}

static json_t *eval_project(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *base = mh_jp__eval(c, n->kids[0], cur);
    if (base == NULL)
        return NULL;
    if (!json_is_array(base)) {
        json_decref(base);
        return json_null();
    }
    json_t *res = json_array();
    size_t len = json_array_size(base);
    for (size_t i = 0; i < len; i++) {
        if (!project_one(c, n->kids[1], json_array_get(base, i), res)) {
            json_decref(res);
            json_decref(base);
            return NULL;
        }
    }
    json_decref(base);
    return mh_jp__seal(c, res);
}

static json_t *eval_vproject(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *base = mh_jp__eval(c, n->kids[0], cur);
    if (base == NULL)
        return NULL;
    if (!json_is_object(base)) {
        json_decref(base);
        return json_null();
    }
    json_t *res = json_array();
    MH_JP_OBJ_FOREACH(base, it)
    {
        if (!project_one(c, n->kids[1], json_object_iter_value(it), res)) {
            json_decref(res);
            json_decref(base);
            return NULL;
        }
    }
    json_decref(base);
    return mh_jp__seal(c, res);
}

static json_t *eval_filter(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *base = mh_jp__eval(c, n->kids[0], cur);
    if (base == NULL)
        return NULL;
    if (!json_is_array(base)) {
        json_decref(base);
        return json_null();
    }
    json_t *res = json_array();
    size_t len = json_array_size(base);
    for (size_t i = 0; i < len; i++) {
        json_t *elem = json_array_get(base, i);
        json_t *cond = mh_jp__eval(c, n->kids[2], elem);
        if (cond == NULL)
            goto fail;
        int keep = mh_jp_is_truthy(cond);
        json_decref(cond);
        if (keep && !project_one(c, n->kids[1], elem, res))
            goto fail;
    }
    json_decref(base);
    return mh_jp__seal(c, res);
fail:
    json_decref(res);
    json_decref(base);
    return NULL;
}

static json_t *eval_flatten(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *base = mh_jp__eval(c, n->kids[0], cur);
    if (base == NULL)
        return NULL;
    if (!json_is_array(base)) {
        json_decref(base);
        return json_null();
    }
    json_t *res = json_array();
    size_t len = json_array_size(base);
    for (size_t i = 0; i < len; i++) {
        json_t *e = json_array_get(base, i);
        if (json_is_array(e)) {
            if (!mh_jp__charge(c, json_array_size(e)))
                goto fail;
            json_array_extend(res, e);
        } else {
            json_array_append(res, e);
        }
    }
    if (!mh_jp__charge(c, len))
        goto fail;
    json_decref(base);
    return mh_jp__seal(c, res);
fail:
    json_decref(res);
    json_decref(base);
    return NULL;
}

static json_t *eval_multi_list(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    if (json_is_null(cur))
        return json_null();
    json_t *res = json_array();
    for (uint32_t i = 0; i < n->nkids; i++) {
        json_t *r = mh_jp__eval(c, n->kids[i], cur);
        if (r == NULL) {
            json_decref(res);
            return NULL;
        }
        json_array_append_new(res, r);
    }
    return mh_jp__seal(c, res);
}

static json_t *eval_multi_hash(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    if (json_is_null(cur))
        return json_null();
    json_t *res = json_object();
    for (uint32_t i = 0; i < n->nkids; i++) {
        json_t *r = mh_jp__eval(c, n->kids[i], cur);
        if (r == NULL) {
            json_decref(res);
            return NULL;
        }
        json_object_setn_new(res, n->u.keys[i].s, n->u.keys[i].len, r);
    }
    return mh_jp__seal(c, res);
}

static json_t *eval_cmp(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    json_t *r = NULL;
    json_t *a = mh_jp__eval(c, n->kids[0], cur);
    if (a == NULL)
        return NULL;
    json_t *b = mh_jp__eval(c, n->kids[1], cur);
    if (b == NULL)
        goto out;
    if (n->op == MH_JP_CMP_EQ || n->op == MH_JP_CMP_NE) {
        int eq = mh_jp__equal(c, a, b, 0);
        if (eq >= 0)
            r = json_boolean((eq == 1) == (n->op == MH_JP_CMP_EQ));
        goto out;
    }
    /* Ordering is defined on numbers only; anything else compares to null. */
    if (!json_is_number(a) || !json_is_number(b)) {
        r = json_null();
        goto out;
    }
    int cmp = mh_jp__num_cmp(a, b);
    switch (n->op) {
    case MH_JP_CMP_LT: r = json_boolean(cmp < 0); break;
    case MH_JP_CMP_LE: r = json_boolean(cmp <= 0); break;
    case MH_JP_CMP_GT: r = json_boolean(cmp > 0); break;
    default: r = json_boolean(cmp >= 0); break;
    }
out:
    json_decref(a);
    json_decref(b);
    return r;
}

enum mh_err mh_jp_eval_ex(const struct mh_jp_expr *expr, json_t *doc,
                          const struct mh_jp_limits *limits, struct mh_jp_stats *stats,
                          json_t **out, struct mh_err_info *info)
{
    struct mh_jp__ctx c;
    c.info = info;
    c.steps = 0;
    c.max_steps = limits && limits->max_steps ? limits->max_steps : MH_JP_DEFAULT_MAX_STEPS;
    c.max_elements =
        limits && limits->max_elements ? limits->max_elements : MH_JP_DEFAULT_MAX_ELEMENTS;
    c.calls = 0;
    c.depth = 0;
    c.failed = false;
    c.wt = c.wt_inline;
    c.wt_cap = MH_JP_WINLINE;
    c.wt_used = 0;

    json_t *r = mh_jp__eval(&c, expr->root, doc != NULL ? doc : json_null());
    if (c.wt != c.wt_inline)
        free(c.wt);
    if (stats != NULL) {
        stats->steps = c.steps;
        stats->function_calls = c.calls;
    }
    *out = r;
    if (r == NULL) {
        /* Every NULL comes with an error; make sure `info` says so even for a missed path. */
        if (!c.failed)
            mh_err_set(info, MH_EJMESPATH, "invalid-value", -1, "evaluation failed");
        return MH_EJMESPATH;
    }
    return MH_OK;
}

enum mh_err mh_jp_eval(const struct mh_jp_expr *expr, json_t *doc, json_t **out,
                       struct mh_err_info *info)
{
    return mh_jp_eval_ex(expr, doc, NULL, NULL, out, info);
}
