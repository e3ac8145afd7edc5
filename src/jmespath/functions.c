/* SPDX-License-Identifier: MIT */
/*
 * The built-in functions of the JMESPath specification, from abs to values. A static table gives
 * each one its arity and argument types; the parser resolves names and checks arity against it,
 * and mh_jp__call evaluates the arguments and checks their types before the function body runs,
 * so bodies only handle well-typed input. Every function that builds a value charges the step
 * budget and seals containers, like the interpreter does.
 */
#include "jmespath/jmespath_internal.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"

/* Argument type bits. ARR_NUM and ARR_STR are arrays whose elements are all numbers or all
 * strings; both set means "one or the other", as max(), min() and sort() take. */
enum {
    TY_NUMBER = 1 << 0,
    TY_STRING = 1 << 1,
    TY_BOOL = 1 << 2,
    TY_NULL = 1 << 3,
    TY_ARRAY = 1 << 4,
    TY_OBJECT = 1 << 5,
    TY_EXPREF = 1 << 6,
    TY_ARR_NUM = 1 << 7,
    TY_ARR_STR = 1 << 8,
    TY_ANY = TY_NUMBER | TY_STRING | TY_BOOL | TY_NULL | TY_ARRAY | TY_OBJECT,
};

#define FN(name)                                                                                   \
    static json_t *fn_##name(struct mh_jp__ctx *c, const struct mh_jp__node *call,                 \
                             struct mh_jp__arg *args, size_t nargs)

FN(abs);
FN(avg);
FN(ceil);
FN(contains);
FN(ends_with);
FN(floor);
FN(join);
FN(keys);
FN(length);
FN(map);
FN(max);
FN(max_by);
FN(merge);
FN(min);
FN(min_by);
FN(not_null);
FN(reverse);
FN(sort);
FN(sort_by);
FN(starts_with);
FN(sum);
FN(to_array);
FN(to_number);
FN(to_string);
FN(type);
FN(values);

#define VARIADIC UINT8_MAX

/* Sorted by name for the binary search in mh_jp__func_find. */
static const struct mh_jp__func funcs[] = {
    {"abs", fn_abs, 1, 1, 0, {TY_NUMBER}},
    {"avg", fn_avg, 1, 1, 1, {TY_ARR_NUM}},
    {"ceil", fn_ceil, 1, 1, 0, {TY_NUMBER}},
    {"contains", fn_contains, 2, 2, 1, {TY_ARRAY | TY_STRING, TY_ANY}},
    {"ends_with", fn_ends_with, 2, 2, 0, {TY_STRING, TY_STRING}},
    {"floor", fn_floor, 1, 1, 0, {TY_NUMBER}},
    {"join", fn_join, 2, 2, 2, {TY_STRING, TY_ARR_STR}},
    {"keys", fn_keys, 1, 1, 0, {TY_OBJECT}},
    {"length", fn_length, 1, 1, 1, {TY_STRING | TY_ARRAY | TY_OBJECT}},
    {"map", fn_map, 2, 2, 2, {TY_EXPREF, TY_ARRAY}},
    {"max", fn_max, 1, 1, 1, {TY_ARR_NUM | TY_ARR_STR}},
    {"max_by", fn_max_by, 2, 2, 1, {TY_ARRAY, TY_EXPREF}},
    {"merge", fn_merge, 1, VARIADIC, 0, {TY_OBJECT}},
    {"min", fn_min, 1, 1, 1, {TY_ARR_NUM | TY_ARR_STR}},
    {"min_by", fn_min_by, 2, 2, 1, {TY_ARRAY, TY_EXPREF}},
    {"not_null", fn_not_null, 1, VARIADIC, 0, {TY_ANY}},
    {"reverse", fn_reverse, 1, 1, 0, {TY_STRING | TY_ARRAY}},
    {"sort", fn_sort, 1, 1, 1, {TY_ARR_NUM | TY_ARR_STR}},
    {"sort_by", fn_sort_by, 2, 2, 1, {TY_ARRAY, TY_EXPREF}},
    {"starts_with", fn_starts_with, 2, 2, 0, {TY_STRING, TY_STRING}},
    {"sum", fn_sum, 1, 1, 1, {TY_ARR_NUM}},
    {"to_array", fn_to_array, 1, 1, 0, {TY_ANY}},
    {"to_number", fn_to_number, 1, 1, 0, {TY_ANY}},
    {"to_string", fn_to_string, 1, 1, 0, {TY_ANY}},
    {"type", fn_type, 1, 1, 0, {TY_ANY}},
    {"values", fn_values, 1, 1, 0, {TY_OBJECT}},
};

const struct mh_jp__func *mh_jp__func_find(const char *name, size_t len)
{
    size_t lo = 0, hi = MH_ARRAY_LEN(funcs);
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *fname = funcs[mid].name;
        int r = strncmp(name, fname, len);
        /* Equal on `len` bytes: `name` is shorter unless fname ends there too. */
        if (r == 0 && fname[len] != '\0')
            r = -1;
        if (r == 0)
            return &funcs[mid];
        if (r < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* ---- Argument evaluation and type checks ---- */

static unsigned type_bit(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
    case JSON_REAL: return TY_NUMBER;
    case JSON_STRING: return TY_STRING;
    case JSON_TRUE:
    case JSON_FALSE: return TY_BOOL;
    case JSON_NULL: return TY_NULL;
    case JSON_ARRAY: return TY_ARRAY;
    case JSON_OBJECT: return TY_OBJECT;
    }
    return 0;
}

/* True when every element of the array argument `a` has the type bit `bit`. */
static bool all_of(const struct mh_jp__arg *a, unsigned bit)
{
    size_t n = mh_jp__alen(a);
    for (size_t i = 0; i < n; i++)
        if (type_bit(mh_jp__aget(a, i)) != bit)
            return false;
    return true;
}

static bool arg_ok(const struct mh_jp__arg *a, unsigned want)
{
    if (a->ref != NULL)
        return (want & TY_EXPREF) != 0;
    unsigned have = a->v != NULL ? type_bit(a->v) : TY_ARRAY;
    if (want & have)
        return true;
    if (have == TY_ARRAY) {
        if ((want & TY_ARR_NUM) && all_of(a, TY_NUMBER))
            return true;
        if ((want & TY_ARR_STR) && all_of(a, TY_STRING))
            return true;
    }
    return false;
}

static const char *want_text(unsigned want)
{
    switch (want) {
    case TY_NUMBER: return "a number";
    case TY_STRING: return "a string";
    case TY_OBJECT: return "an object";
    case TY_ARRAY: return "an array";
    case TY_EXPREF: return "an expression reference (&expr)";
    case TY_ARR_NUM: return "an array of numbers";
    case TY_ARR_STR: return "an array of strings";
    case TY_ARR_NUM | TY_ARR_STR: return "an array of numbers or an array of strings";
    case TY_ARRAY | TY_STRING: return "an array or a string";
    case TY_STRING | TY_ARRAY | TY_OBJECT: return "a string, an array or an object";
    default: return "a JSON value";
    }
}

/* Releases what an argument holds. */
static void arg_release(struct mh_jp__arg *a)
{
    json_decref(a->v);
    for (size_t i = 0; i < a->nitems; i++)
        json_decref(a->items[i]);
    if (a->items_heap)
        free(a->items);
}

/* Evaluates the items of multi-select list `k` into a view (see struct mh_jp__arg). */
static bool eval_view(struct mh_jp__ctx *c, const struct mh_jp__node *k, json_t *cur,
                      json_t **space, size_t *space_used, struct mh_jp__arg *a)
{
    size_t m = k->nkids;
    *a = (struct mh_jp__arg){0};
    if (*space_used + m <= MH_JP_VIEW_SPACE) {
        a->items = space + *space_used;
        *space_used += m;
    } else {
        a->items = mh_xmalloc(m * sizeof(*a->items));
        a->items_heap = true;
    }
    if (!mh_jp__charge(c, 1))
        return false;
    for (size_t j = 0; j < m; j++) {
        json_t *v = mh_jp__eval(c, k->kids[j], cur);
        if (v == NULL)
            return false;
        a->items[a->nitems++] = v;
    }
    return true;
}

json_t *mh_jp__call(struct mh_jp__ctx *c, const struct mh_jp__node *n, json_t *cur)
{
    const struct mh_jp__func *f = n->u.func;
    struct mh_jp__arg inline_args[MH_JP_MAX_FUNC_ARGS];
    struct mh_jp__arg *args = inline_args;
    json_t *space[MH_JP_VIEW_SPACE];
    size_t space_used = 0;
    size_t nargs = n->nkids, done = 0;
    json_t *r = NULL;

    c->calls++;
    if (nargs > MH_JP_MAX_FUNC_ARGS)
        args = mh_xmalloc(nargs * sizeof(*args));
    for (; done < nargs; done++) {
        const struct mh_jp__node *k = n->kids[done];
        struct mh_jp__arg *a = &args[done];
        if (k->type == MH_JP_N_EXPREF) {
            *a = (struct mh_jp__arg){.v = json_null(), .ref = k->kids[0]};
            continue;
        }
        /* [a, b] written as an array argument: no JSON array is built (a multi-select list
         * on null is null, so that case takes the ordinary path). */
        if (k->type == MH_JP_N_MULTI_LIST && done < 8 && (f->view_args & (1u << done)) &&
            !json_is_null(cur)) {
            if (!eval_view(c, k, cur, space, &space_used, a)) {
                done++;
                goto out;
            }
            continue;
        }
        json_t *v = mh_jp__eval(c, k, cur);
        if (v == NULL)
            goto out;
        *a = (struct mh_jp__arg){.v = v};
    }
    for (size_t i = 0; i < nargs; i++) {
        unsigned want = f->types[i < MH_JP_MAX_FUNC_ARGS ? i : MH_JP_MAX_FUNC_ARGS - 1];
        if (f->max_args == VARIADIC && i >= f->min_args)
            want = f->types[f->min_args - 1];
        if (!arg_ok(&args[i], want)) {
            const char *got = args[i].ref ? "an expression reference"
                              : args[i].v ? mh_jp__type_name(args[i].v)
                                          : "array";
            mh_jp__fail(c, "invalid-type", (long)n->offset, "%s() argument %zu must be %s, got %s",
                        f->name, i + 1, want_text(want), got);
            goto out;
        }
    }
    r = f->fn(c, n, args, nargs);
out:
    for (size_t i = 0; i < done; i++)
        arg_release(&args[i]);
    if (args != inline_args)
        free(args);
    return r;
}

/* ---- Sorting (stable merge sort, used by sort, sort_by) ---- */

struct sitem {
    json_t *key;
    json_t *val;
};

static int item_cmp(const struct sitem *a, const struct sitem *b)
{
    if (json_is_number(a->key))
        return mh_jp__num_cmp(a->key, b->key);
    return mh_jp__str_cmp(a->key, b->key);
}

static void merge_sort(struct sitem *v, struct sitem *tmp, size_t n)
{
    if (n < 2)
        return;
    if (n <= 8) {
        /* Insertion sort is stable and fastest on small runs. */
        for (size_t i = 1; i < n; i++) {
            struct sitem x = v[i];
            size_t j = i;
            while (j > 0 && item_cmp(&v[j - 1], &x) > 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    if (item_cmp(&v[h - 1], &v[h]) <= 0)
        return;
    memcpy(tmp, v, h * sizeof(*v));
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        v[k++] = item_cmp(&v[j], &tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < h)
        v[k++] = tmp[i++];
}

/* Charges n*log2(n) comparisons, then sorts. */
static bool sort_items(struct mh_jp__ctx *c, struct sitem *items, size_t n)
{
    size_t lg = 1;
    while (((size_t)1 << lg) < n)
        lg++;
    if (!mh_jp__charge(c, n * lg))
        return false;
    struct sitem *tmp = mh_xmalloc((n / 2 + 1) * sizeof(*tmp));
    merge_sort(items, tmp, n);
    free(tmp);
    return true;
}

/*
 * Evaluates the key expression on every element of the array argument `arr`; the keys must be all
 * numbers or all strings. Returns a malloc'd array of n items (keys owned) or NULL with the error
 * set.
 */
static struct sitem *keyed_items(struct mh_jp__ctx *c, const struct mh_jp__node *call,
                                 const struct mh_jp__arg *arr, const struct mh_jp__node *ref,
                                 size_t *count)
{
    size_t n = mh_jp__alen(arr);
    struct sitem *items = mh_xmalloc((n ? n : 1) * sizeof(*items));
    unsigned kind = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        json_t *e = mh_jp__aget(arr, i);
        json_t *k = mh_jp__eval(c, ref, e);
        if (k == NULL)
            goto fail;
        unsigned bit = type_bit(k);
        if ((bit != TY_NUMBER && bit != TY_STRING) || (kind != 0 && bit != kind)) {
            mh_jp__fail(c, "invalid-type", (long)call->offset,
                        "%s() keys must be all numbers or all strings, got %s", call->u.func->name,
                        mh_jp__type_name(k));
            json_decref(k);
            goto fail;
        }
        kind = bit;
        items[i] = (struct sitem){k, e};
    }
    *count = n;
    return items;
fail:
    while (i-- > 0)
        json_decref(items[i].key);
    free(items);
    return NULL;
}

static void free_items(struct sitem *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_decref(items[i].key);
    free(items);
}

/* The byte size of the largest string an evaluation may build (weight 1 + bytes/16). */
static size_t max_string_bytes(const struct mh_jp__ctx *c)
{
    return c->max_elements > SIZE_MAX / 16 ? SIZE_MAX : c->max_elements * 16;
}

/* ---- The functions ---- */

FN(abs)
{
    (void)c, (void)call, (void)nargs;
    json_t *v = args[0].v;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i >= 0)
            return json_incref(v);
        if (i != INT64_MIN)
            return json_integer(-i);
    }
    return mh_jp__number(fabs(mh_jp__num(v)));
}

FN(avg)
{
    (void)call, (void)nargs;
    size_t n = mh_jp__alen(&args[0]);
    if (n == 0)
        return json_null();
    if (!mh_jp__charge(c, n))
        return NULL;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += mh_jp__num(mh_jp__aget(&args[0], i));
    double avg = sum / (double)n;
    return isfinite(avg) ? json_real(avg) : json_null();
}

FN(ceil)
{
    (void)c, (void)call, (void)nargs;
    if (json_is_integer(args[0].v))
        return json_incref(args[0].v);
    return mh_jp__number(ceil(json_real_value(args[0].v)));
}

FN(floor)
{
    (void)c, (void)call, (void)nargs;
    if (json_is_integer(args[0].v))
        return json_incref(args[0].v);
    return mh_jp__number(floor(json_real_value(args[0].v)));
}

FN(contains)
{
    (void)call, (void)nargs;
    json_t *subject = args[0].v, *search = args[1].v;
    if (subject != NULL && json_is_string(subject)) {
        if (!json_is_string(search))
            return json_false();
        size_t hl = json_string_length(subject), nl = json_string_length(search);
        if (!mh_jp__charge(c, hl / 16))
            return NULL;
        if (nl == 0)
            return json_true();
        return json_boolean(memmem(json_string_value(subject), hl, json_string_value(search), nl) !=
                            NULL);
    }
    size_t n = mh_jp__alen(&args[0]);
    for (size_t i = 0; i < n; i++) {
        int eq = mh_jp__equal(c, mh_jp__aget(&args[0], i), search, 0);
        if (eq < 0)
            return NULL;
        if (eq)
            return json_true();
    }
    return json_false();
}

static bool has_affix(const json_t *s, const json_t *affix, bool at_end)
{
    size_t sl = json_string_length(s), al = json_string_length(affix);
    if (al > sl)
        return false;
    const char *p = json_string_value(s) + (at_end ? sl - al : 0);
    return memcmp(p, json_string_value(affix), al) == 0;
}

FN(ends_with)
{
    (void)c, (void)call, (void)nargs;
    return json_boolean(has_affix(args[0].v, args[1].v, true));
}

FN(starts_with)
{
    (void)c, (void)call, (void)nargs;
    return json_boolean(has_affix(args[0].v, args[1].v, false));
}

FN(join)
{
    (void)call, (void)nargs;
    json_t *glue = args[0].v;
    size_t n = mh_jp__alen(&args[1]);
    struct mh_buf b;
    json_t *r = NULL;
    mh_buf_init(&b, max_string_bytes(c));
    enum mh_err rc = MH_OK;
    for (size_t i = 0; rc == MH_OK && i < n; i++) {
        json_t *s = mh_jp__aget(&args[1], i);
        if (i > 0)
            rc = mh_buf_append(&b, json_string_value(glue), json_string_length(glue));
        if (rc == MH_OK)
            rc = mh_buf_append(&b, json_string_value(s), json_string_length(s));
    }
    if (rc != MH_OK) {
        mh_jp__fail(c, "limit", (long)call->offset, "join() result is larger than the limit");
        goto out;
    }
    if (!mh_jp__charge(c, n + mh_buf_len(&b) / 16))
        goto out;
    r = json_stringn_nocheck(mh_buf_str(&b), mh_buf_len(&b));
out:
    mh_buf_cleanup(&b);
    return r;
}

FN(keys)
{
    (void)call, (void)nargs;
    json_t *obj = args[0].v;
    if (!mh_jp__charge(c, json_object_size(obj)))
        return NULL;
    json_t *r = json_array();
    MH_JP_OBJ_FOREACH(obj, it)
    {
        json_array_append_new(
            r, json_stringn_nocheck(json_object_iter_key(it), json_object_iter_key_len(it)));
    }
    return mh_jp__seal(c, r);
}

FN(values)
{
    (void)call, (void)nargs;
    json_t *obj = args[0].v;
    if (!mh_jp__charge(c, json_object_size(obj)))
        return NULL;
    json_t *r = json_array();
    MH_JP_OBJ_FOREACH(obj, it)
    {
        json_array_append(r, json_object_iter_value(it));
    }
    return mh_jp__seal(c, r);
}

/* Number of code points: every byte that does not continue a UTF-8 sequence starts one. */
static size_t utf8_length(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += ((unsigned char)s[i] & 0xC0) != 0x80;
    return count;
}

FN(length)
{
    (void)call, (void)nargs;
    json_t *v = args[0].v;
    if (v == NULL)
        return json_integer((json_int_t)args[0].nitems);
    if (json_is_string(v)) {
        if (!mh_jp__charge(c, json_string_length(v) / 16))
            return NULL;
        return json_integer((json_int_t)utf8_length(json_string_value(v), json_string_length(v)));
    }
    if (json_is_array(v))
        return json_integer((json_int_t)json_array_size(v));
    return json_integer((json_int_t)json_object_size(v));
}

FN(map)
{
    (void)call, (void)nargs;
    json_t *r = json_array();
    size_t n = mh_jp__alen(&args[1]);
    for (size_t i = 0; i < n; i++) {
        json_t *v = mh_jp__eval(c, args[0].ref, mh_jp__aget(&args[1], i));
        if (v == NULL) {
            json_decref(r);
            return NULL;
        }
        json_array_append_new(r, v);
    }
    return mh_jp__seal(c, r);
}

/* max() and min(): the greatest (or least) element of an array of numbers or of strings. */
static json_t *extreme(struct mh_jp__ctx *c, const struct mh_jp__arg *arr, int sign)
{
    size_t n = mh_jp__alen(arr);
    if (n == 0)
        return json_null();
    if (!mh_jp__charge(c, n))
        return NULL;
    json_t *best = mh_jp__aget(arr, 0);
    bool num = json_is_number(best);
    for (size_t i = 1; i < n; i++) {
        json_t *e = mh_jp__aget(arr, i);
        int cmp = num ? mh_jp__num_cmp(e, best) : mh_jp__str_cmp(e, best);
        if (cmp * sign > 0)
            best = e;
    }
    return json_incref(best);
}

FN(max)
{
    (void)call, (void)nargs;
    return extreme(c, &args[0], 1);
}

FN(min)
{
    (void)call, (void)nargs;
    return extreme(c, &args[0], -1);
}

/* max_by() and min_by(): the first element whose key is the greatest (or least). */
static json_t *extreme_by(struct mh_jp__ctx *c, const struct mh_jp__node *call,
                          struct mh_jp__arg *args, int sign)
{
    size_t n;
    if (mh_jp__alen(&args[0]) == 0)
        return json_null();
    struct sitem *items = keyed_items(c, call, &args[0], args[1].ref, &n);
    if (items == NULL)
        return NULL;
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (item_cmp(&items[i], &items[best]) * sign > 0)
            best = i;
    json_t *r = json_incref(items[best].val);
    free_items(items, n);
    return r;
}

FN(max_by)
{
    (void)nargs;
    return extreme_by(c, call, args, 1);
}

FN(min_by)
{
    (void)nargs;
    return extreme_by(c, call, args, -1);
}

FN(merge)
{
    (void)call;
    json_t *r = json_object();
    for (size_t i = 0; i < nargs; i++) {
        if (!mh_jp__charge(c, json_object_size(args[i].v))) {
            json_decref(r);
            return NULL;
        }
        MH_JP_OBJ_FOREACH(args[i].v, it)
        {
            json_object_setn(r, json_object_iter_key(it), json_object_iter_key_len(it),
                             json_object_iter_value(it));
        }
    }
    return mh_jp__seal(c, r);
}

FN(not_null)
{
    (void)c, (void)call;
    for (size_t i = 0; i < nargs; i++)
        if (!json_is_null(args[i].v))
            return json_incref(args[i].v);
    return json_null();
}

FN(reverse)
{
    (void)call, (void)nargs;
    json_t *v = args[0].v;
    if (json_is_array(v)) {
        size_t n = json_array_size(v);
        if (!mh_jp__charge(c, n))
            return NULL;
        json_t *r = json_array();
        for (size_t i = n; i-- > 0;)
            json_array_append(r, json_array_get(v, i));
        return mh_jp__seal(c, r);
    }
    /* Strings reverse by code point, keeping each UTF-8 sequence intact. */
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (!mh_jp__charge(c, n / 16))
        return NULL;
    char *out = mh_xmalloc(n + 1);
    size_t o = n;
    for (size_t i = 0; i < n;) {
        size_t len = 1;
        while (i + len < n && ((unsigned char)s[i + len] & 0xC0) == 0x80)
            len++;
        o -= len;
        memcpy(out + o, s + i, len);
        i += len;
    }
    json_t *r = json_stringn_nocheck(out, n);
    free(out);
    return r;
}

FN(sort)
{
    (void)call, (void)nargs;
    size_t n = mh_jp__alen(&args[0]);
    struct sitem *items = mh_xmalloc((n ? n : 1) * sizeof(*items));
    for (size_t i = 0; i < n; i++)
        items[i].key = items[i].val = mh_jp__aget(&args[0], i);
    json_t *r = NULL;
    if (sort_items(c, items, n)) {
        r = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(r, items[i].val);
        r = mh_jp__seal(c, r);
    }
    free(items);
    return r;
}

FN(sort_by)
{
    (void)nargs;
    size_t n;
    struct sitem *items = keyed_items(c, call, &args[0], args[1].ref, &n);
    if (items == NULL)
        return NULL;
    json_t *r = NULL;
    if (sort_items(c, items, n)) {
        r = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append(r, items[i].val);
        r = mh_jp__seal(c, r);
    }
    free_items(items, n);
    return r;
}

FN(sum)
{
    (void)call, (void)nargs;
    const struct mh_jp__arg *arr = &args[0];
    size_t n = mh_jp__alen(arr);
    if (!mh_jp__charge(c, n))
        return NULL;
    json_int_t isum = 0;
    double dsum = 0;
    bool is_int = true;
    for (size_t i = 0; i < n; i++) {
        json_t *e = mh_jp__aget(arr, i);
        if (is_int && json_is_integer(e) &&
            !__builtin_add_overflow(isum, json_integer_value(e), &isum))
            continue;
        if (is_int) {
            /* Switch to doubles, carrying what was summed so far (the failed add left isum
             * unspecified only on overflow, so recompute from scratch to be exact). */
            is_int = false;
            dsum = 0;
            for (size_t j = 0; j < i; j++)
                dsum += mh_jp__num(mh_jp__aget(arr, j));
        }
        dsum += mh_jp__num(e);
    }
    if (is_int)
        return json_integer(isum);
    return isfinite(dsum) ? json_real(dsum) : json_null();
}

FN(to_array)
{
    (void)call, (void)nargs;
    if (json_is_array(args[0].v))
        return json_incref(args[0].v);
    json_t *r = json_array();
    json_array_append(r, args[0].v);
    return mh_jp__seal(c, r);
}

/* Parses the json-number production exactly; NULL when `s` is anything else. */
static json_t *parse_number(const char *s, size_t n)
{
    size_t i = 0;
    bool integral = true;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n || s[i] < '0' || s[i] > '9')
        return NULL;
    if (s[i] == '0')
        i++;
    else
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    if (i < n && s[i] == '.') {
        integral = false;
        if (++i >= n || s[i] < '0' || s[i] > '9')
            return NULL;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integral = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return NULL;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i != n || n > 400)
        return NULL;
    char tmp[401];
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (integral) {
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        if (errno == 0)
            return json_integer(v);
    }
    double d = strtod(tmp, NULL);
    return isfinite(d) ? json_real(d) : NULL;
}

FN(to_number)
{
    (void)c, (void)call, (void)nargs;
    json_t *v = args[0].v;
    if (json_is_number(v))
        return json_incref(v);
    if (json_is_string(v)) {
        json_t *r = parse_number(json_string_value(v), json_string_length(v));
        return r != NULL ? r : json_null();
    }
    return json_null();
}

FN(to_string)
{
    (void)nargs;
    json_t *v = args[0].v;
    if (json_is_string(v))
        return json_incref(v);
    struct mh_buf b;
    mh_buf_init(&b, max_string_bytes(c));
    json_t *r = NULL;
    if (mh_jp__serialize(c, v, 0, &b, 0) == MH_OK)
        r = json_stringn_nocheck(mh_buf_str(&b), mh_buf_len(&b));
    else
        mh_jp__fail(c, "limit", (long)call->offset, "to_string() result is larger than the limit");
    mh_buf_cleanup(&b);
    return r;
}

FN(type)
{
    (void)c, (void)call, (void)nargs;
    return json_string(mh_jp__type_name(args[0].v));
}
