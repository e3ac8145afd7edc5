/* SPDX-License-Identifier: MIT */
/*
 * Validation: walks an instance against the compiled node graph. Errors are collected at the
 * JSON pointer of the failing instance location, up to the schema's error limit; inside anyOf,
 * oneOf, not, if, contains and propertyNames the branches run "suppressed" (their errors are
 * not wanted, only their verdict), and a validation that is not collecting errors stops at the
 * first failure. unevaluatedProperties/unevaluatedItems need to know what the adjacent keywords
 * and successful in-place subschemas evaluated, so those nodes collect annotations: one flag per
 * object member or array item, merged from each passing in-place subschema. Depth and step
 * counters bound every validation, whatever the schema's recursion or the instance's size.
 */
#include "schema/schema_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* Which members or items of one instance location were evaluated. */
struct ann {
    size_t n;
    unsigned char *seen;
};

struct vctx {
    const struct mh_schema *s;
    json_t *errors; /* NULL when the caller wants no error list */
    unsigned suppress;
    size_t nerrors;
    bool full;
    unsigned depth;
    unsigned long steps;
    bool aborted;
    char *abort_path;
    char abort_msg[128];
    struct mh_schema__path path;
};

/* Longest quoted excerpt of a key, pattern or name in a message. */
#define CLIP 64

static bool v_node(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *ann);
static void report(struct vctx *v, const char *keyword, const char *fmt, ...) MH_PRINTF(3, 4);

static bool collecting(const struct vctx *v);
static int clip(const char *s, size_t max);
static void utf8_trim(char *buf);
static void ann_init(struct ann *a, const json_t *inst);
static void ann_free(struct ann *a);
static void ann_mark(struct ann *a, size_t i);
static void ann_merge(struct ann *dst, const struct ann *src);
static bool apply_inplace(struct vctx *v, const struct mh_schema__node *child, json_t *inst,
                          struct ann *a);
static const char *type_name(const json_t *inst);
static void type_list(uint32_t types, char *buf, size_t size);
static void num_text(const json_t *num, char *buf, size_t size);
static bool type_ok(uint32_t types, const json_t *inst);
static bool is_multiple(const json_t *x, const json_t *d);
static bool v_number(struct vctx *v, const struct mh_schema__node *n, json_t *inst);
static size_t code_points(const char *s, size_t len);
static bool v_string(struct vctx *v, const struct mh_schema__node *n, json_t *inst);
static int hashed_cmp(const void *a, const void *b);
static bool find_duplicate(json_t *arr, size_t *first, size_t *second);
static bool v_sub(struct vctx *v, const struct mh_schema__node *child, json_t *inst,
                  const char *keyword, const char *deny);
static bool v_array(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *a);
static int prop_key_cmp(const void *key, const void *elem);
static bool v_object(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *a);
static bool v_unevaluated(struct vctx *v, const struct mh_schema__node *n, json_t *inst,
                          struct ann *a);
static bool v_applicators(struct vctx *v, const struct mh_schema__node *n, json_t *inst,
                          struct ann *a);

static bool collecting(const struct vctx *v)
{
    return v->errors != NULL && v->suppress == 0 && !v->full;
}

/* Length of at most `max` bytes of `s` that does not split a UTF-8 sequence. */
static int clip(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return (int)n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return (int)max;
}

/* Drops a UTF-8 sequence cut short at the end of `buf` (vsnprintf truncation). */
static void utf8_trim(char *buf)
{
    size_t n = strlen(buf);
    size_t k = n;
    while (k > 0 && ((unsigned char)buf[k - 1] & 0xC0) == 0x80)
        k--;
    if (k == 0)
        return;
    unsigned char lead = (unsigned char)buf[k - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (n - (k - 1) < need)
        buf[k - 1] = '\0';
}

static void report(struct vctx *v, const char *keyword, const char *fmt, ...)
{
    if (!collecting(v))
        return;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    utf8_trim(msg);
    json_t *e = json_object();
    json_t *path = json_string(mh_schema__path_str(&v->path));
    json_object_set_new(e, "path", path ? path : json_string(""));
    json_object_set_new(e, "keyword", json_string(keyword));
    json_t *m = json_string(msg);
    json_object_set_new(e, "message", m ? m : json_string("invalid"));
    json_array_append_new(v->errors, e);
    if (++v->nerrors >= v->s->limits.max_errors)
        v->full = true;
}

/* Stops the whole validation: it is invalid, with one "limit" error saying why. */
static void abort_validation(struct vctx *v, const char *fmt, ...) MH_PRINTF(2, 3);

static void abort_validation(struct vctx *v, const char *fmt, ...)
{
    if (v->aborted)
        return;
    v->aborted = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->abort_msg, sizeof(v->abort_msg), fmt, ap);
    va_end(ap);
    v->abort_path = mh_xstrdup(mh_schema__path_str(&v->path));
}

/* ---- annotations ---- */

static void ann_init(struct ann *a, const json_t *inst)
{
    a->n = json_is_object(inst)  ? json_object_size(inst)
           : json_is_array(inst) ? json_array_size(inst)
                                 : 0;
    a->seen = a->n ? mh_xcalloc(a->n, 1) : NULL;
}

static void ann_free(struct ann *a)
{
    free(a->seen);
    a->seen = NULL;
    a->n = 0;
}

static void ann_mark(struct ann *a, size_t i)
{
    if (a != NULL && i < a->n)
        a->seen[i] = 1;
}

static void ann_merge(struct ann *dst, const struct ann *src)
{
    for (size_t i = 0; i < dst->n && i < src->n; i++)
        dst->seen[i] |= src->seen[i];
}

/*
 * Applies an in-place subschema (allOf, $ref, if/then/else, dependentSchemas...): when the
 * parent collects annotations, the child's count only if the child passes.
 */
static bool apply_inplace(struct vctx *v, const struct mh_schema__node *child, json_t *inst,
                          struct ann *a)
{
    if (a == NULL || child->is_bool)
        return v_node(v, child, inst, NULL);
    struct ann t;
    ann_init(&t, inst);
    bool ok = v_node(v, child, inst, &t);
    if (ok)
        ann_merge(a, &t);
    ann_free(&t);
    return ok;
}

/* ---- messages ---- */

static const char *type_name(const json_t *inst)
{
    switch (json_typeof(inst)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "value";
}

static void type_list(uint32_t types, char *buf, size_t size)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {MH_SCHEMA__T_OBJECT, "object"},   {MH_SCHEMA__T_ARRAY, "array"},
        {MH_SCHEMA__T_STRING, "string"},   {MH_SCHEMA__T_NUMBER, "number"},
        {MH_SCHEMA__T_INTEGER, "integer"}, {MH_SCHEMA__T_BOOLEAN, "boolean"},
        {MH_SCHEMA__T_NULL, "null"},
    };
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < MH_ARRAY_LEN(names); i++) {
        if (!(types & names[i].bit))
            continue;
        int w = snprintf(buf + len, size - len, "%s%s", len ? ", " : "", names[i].name);
        if (w < 0 || (size_t)w >= size - len)
            break;
        len += (size_t)w;
    }
}

/* The shortest text of a JSON number that reads back as the same value. */
static void num_text(const json_t *num, char *buf, size_t size)
{
    if (json_is_integer(num)) {
        snprintf(buf, size, "%" JSON_INTEGER_FORMAT, json_integer_value(num));
        return;
    }
    double d = json_real_value(num);
    snprintf(buf, size, "%.15g", d);
    if (strtod(buf, NULL) != d)
        snprintf(buf, size, "%.17g", d);
}

/* ---- assertions ---- */

static bool type_ok(uint32_t types, const json_t *inst)
{
    switch (json_typeof(inst)) {
    case JSON_OBJECT: return types & MH_SCHEMA__T_OBJECT;
    case JSON_ARRAY: return types & MH_SCHEMA__T_ARRAY;
    case JSON_STRING: return types & MH_SCHEMA__T_STRING;
    case JSON_TRUE:
    case JSON_FALSE: return types & MH_SCHEMA__T_BOOLEAN;
    case JSON_NULL: return types & MH_SCHEMA__T_NULL;
    case JSON_INTEGER:
    case JSON_REAL:
        return (types & MH_SCHEMA__T_NUMBER) ||
               ((types & MH_SCHEMA__T_INTEGER) && mh_schema__is_integral(inst));
    }
    return false;
}

static bool is_multiple(const json_t *x, const json_t *d)
{
    if (json_is_integer(x) && json_is_integer(d))
        return json_integer_value(x) % json_integer_value(d) == 0;
    double q = json_number_value(x) / json_number_value(d);
    if (!isfinite(q))
        return false;
    /* Decimal divisors are inexact in binary: 0.0075 / 0.0001 is 75.00000000000001. */
    return fabs(q - round(q)) < 1e-9;
}

static bool v_number(struct vctx *v, const struct mh_schema__node *n, json_t *inst)
{
    bool ok = true;
    char b[40];
    if (n->minimum && mh_schema__num_cmp(inst, n->minimum) < 0) {
        num_text(n->minimum, b, sizeof(b));
        report(v, "minimum", "must be >= %s", b);
        ok = false;
    }
    if (n->maximum && mh_schema__num_cmp(inst, n->maximum) > 0) {
        num_text(n->maximum, b, sizeof(b));
        report(v, "maximum", "must be <= %s", b);
        ok = false;
    }
    if (n->exclusive_minimum && mh_schema__num_cmp(inst, n->exclusive_minimum) <= 0) {
        num_text(n->exclusive_minimum, b, sizeof(b));
        report(v, "exclusiveMinimum", "must be > %s", b);
        ok = false;
    }
    if (n->exclusive_maximum && mh_schema__num_cmp(inst, n->exclusive_maximum) >= 0) {
        num_text(n->exclusive_maximum, b, sizeof(b));
        report(v, "exclusiveMaximum", "must be < %s", b);
        ok = false;
    }
    if (n->multiple_of && !is_multiple(inst, n->multiple_of)) {
        num_text(n->multiple_of, b, sizeof(b));
        report(v, "multipleOf", "must be a multiple of %s", b);
        ok = false;
    }
    return ok;
}

static size_t code_points(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

static bool v_string(struct vctx *v, const struct mh_schema__node *n, json_t *inst)
{
    bool ok = true;
    const char *s = json_string_value(inst);
    size_t len = json_string_length(inst);
    if (n->min_length >= 0 || n->max_length >= 0) {
        size_t cp = code_points(s, len);
        if (n->min_length >= 0 && cp < (uint64_t)n->min_length) {
            report(v, "minLength", "must be at least %lld characters long, not %zu",
                   (long long)n->min_length, cp);
            ok = false;
        }
        if (n->max_length >= 0 && cp > (uint64_t)n->max_length) {
            report(v, "maxLength", "must be at most %lld characters long, not %zu",
                   (long long)n->max_length, cp);
            ok = false;
        }
    }
    if (n->pattern != NULL) {
        bool m = false;
        enum mh_err rc = mh_regex_test(n->pattern, s, len, &m);
        if (rc != MH_OK) {
            report(v, "pattern", "could not be matched against pattern \"%.*s\": %s",
                   clip(n->pattern_source, CLIP), n->pattern_source, mh_strerror(rc));
            ok = false;
        } else if (!m) {
            report(v, "pattern", "must match pattern \"%.*s\"", clip(n->pattern_source, CLIP),
                   n->pattern_source);
            ok = false;
        }
    }
    if (n->format != MH_SCHEMA__F_NONE && !mh_schema__format_check(n->format, s, len)) {
        report(v, "format", "is not a valid %s", n->format_name);
        ok = false;
    }
    return ok;
}

struct hashed {
    uint64_t h;
    size_t i;
};

static int hashed_cmp(const void *a, const void *b)
{
    const struct hashed *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Finds two equal items by sorting their hashes; true with their indices when found. */
static bool find_duplicate(json_t *arr, size_t *first, size_t *second)
{
    size_t n = json_array_size(arr);
    struct hashed *h = mh_xmalloc(n * sizeof(*h));
    bool found = false;
    for (size_t i = 0; i < n; i++)
        h[i] = (struct hashed){mh_schema__json_hash(json_array_get(arr, i)), i};
    qsort(h, n, sizeof(*h), hashed_cmp);
    for (size_t run = 0; run < n && !found;) {
        size_t end = run + 1;
        while (end < n && h[end].h == h[run].h)
            end++;
        for (size_t a = run; a < end && !found; a++)
            for (size_t b = a + 1; b < end && !found; b++)
                if (mh_schema__json_equal(json_array_get(arr, h[a].i),
                                          json_array_get(arr, h[b].i))) {
                    *first = h[a].i;
                    *second = h[b].i;
                    found = true;
                }
        run = end;
    }
    free(h);
    return found;
}

/* Applies `child` to `inst`; a `false` child fails with `keyword` and a precise message. */
static bool v_sub(struct vctx *v, const struct mh_schema__node *child, json_t *inst,
                  const char *keyword, const char *deny)
{
    if (child->is_bool && !child->bool_value) {
        report(v, keyword, "%s", deny);
        return false;
    }
    return v_node(v, child, inst, NULL);
}

static bool v_array(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *a)
{
    bool ok = true;
    size_t size = json_array_size(inst);
    if (n->min_items >= 0 && size < (uint64_t)n->min_items) {
        report(v, "minItems", "must have at least %lld items, not %zu", (long long)n->min_items,
               size);
        ok = false;
    }
    if (n->max_items >= 0 && size > (uint64_t)n->max_items) {
        report(v, "maxItems", "must have at most %lld items, not %zu", (long long)n->max_items,
               size);
        ok = false;
    }
    if (!ok && !collecting(v))
        return false;

    for (size_t i = 0; i < size && (n->prefix_items.n > 0 || n->items != NULL); i++) {
        const struct mh_schema__node *child = NULL;
        const char *keyword = "prefixItems";
        if (i < n->prefix_items.n) {
            child = n->prefix_items.items[i];
        } else if (n->items != NULL) {
            child = n->items;
            keyword = "items";
        } else {
            break;
        }
        char deny[96];
        if (i < n->prefix_items.n)
            snprintf(deny, sizeof(deny), "item %zu is not allowed", i);
        else
            snprintf(deny, sizeof(deny), "item %zu is not allowed (at most %zu items)", i,
                     n->prefix_items.n);
        size_t old = mh_schema__path_push_index(&v->path, i);
        bool r = v_sub(v, child, json_array_get(inst, i), keyword, deny);
        mh_schema__path_pop(&v->path, old);
        ann_mark(a, i);
        if (!r) {
            ok = false;
            if (!collecting(v))
                return false;
        }
    }

    if (n->contains != NULL) {
        size_t matched = 0;
        v->suppress++;
        for (size_t i = 0; i < size; i++) {
            if (v_node(v, n->contains, json_array_get(inst, i), NULL)) {
                matched++;
                ann_mark(a, i);
            }
        }
        v->suppress--;
        int64_t min = n->min_contains >= 0 ? n->min_contains : 1;
        if (matched < (uint64_t)min) {
            report(v, n->min_contains >= 0 ? "minContains" : "contains",
                   "must contain at least %lld matching items, found %zu", (long long)min, matched);
            ok = false;
        }
        if (n->max_contains >= 0 && matched > (uint64_t)n->max_contains) {
            report(v, "maxContains", "must contain at most %lld matching items, found %zu",
                   (long long)n->max_contains, matched);
            ok = false;
        }
    }

    size_t d1, d2;
    if (n->unique_items && size > 1 && find_duplicate(inst, &d1, &d2)) {
        report(v, "uniqueItems", "items %zu and %zu are equal", d1, d2);
        ok = false;
    }
    return ok;
}

static int prop_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct mh_schema__prop *)elem)->name);
}

static bool v_object(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *a)
{
    bool ok = true;
    size_t size = json_object_size(inst);
    char deny[160];

#define FAIL()                                                                                     \
    do {                                                                                           \
        ok = false;                                                                                \
        if (!collecting(v))                                                                        \
            return false;                                                                          \
    } while (0)

    if (n->min_properties >= 0 && size < (uint64_t)n->min_properties) {
        report(v, "minProperties", "must have at least %lld properties, not %zu",
               (long long)n->min_properties, size);
        FAIL();
    }
    if (n->max_properties >= 0 && size > (uint64_t)n->max_properties) {
        report(v, "maxProperties", "must have at most %lld properties, not %zu",
               (long long)n->max_properties, size);
        FAIL();
    }
    for (size_t i = 0; i < n->nrequired; i++) {
        const char *name = n->required[i];
        if (json_object_get(inst, name) != NULL)
            continue;
        size_t old = mh_schema__path_push_key(&v->path, name);
        report(v, "required", "required property \"%.*s\" is missing", clip(name, CLIP), name);
        mh_schema__path_pop(&v->path, old);
        FAIL();
    }
    for (size_t i = 0; i < n->ndep_required; i++) {
        const struct mh_schema__dep_required *d = &n->dep_required[i];
        if (json_object_get(inst, d->name) == NULL)
            continue;
        for (size_t k = 0; k < d->nrequired; k++) {
            const char *name = d->required[k];
            if (json_object_get(inst, name) != NULL)
                continue;
            size_t old = mh_schema__path_push_key(&v->path, name);
            report(v, "dependentRequired", "property \"%.*s\" is required when \"%.*s\" is present",
                   clip(name, CLIP), name, clip(d->name, CLIP), d->name);
            mh_schema__path_pop(&v->path, old);
            FAIL();
        }
    }

    bool per_member = n->nprops > 0 || n->npattern_props > 0 || n->additional_properties != NULL ||
                      n->property_names != NULL;
    size_t idx = 0;
    const char *key;
    json_t *val;
    json_object_foreach(inst, key, val)
    {
        if (!per_member)
            break;
        bool evaluated = false;
        size_t old = mh_schema__path_push_key(&v->path, key);
        const struct mh_schema__prop *p =
            n->nprops ? bsearch(key, n->props, n->nprops, sizeof(*n->props), prop_key_cmp) : NULL;
        if (p != NULL) {
            snprintf(deny, sizeof(deny), "property \"%.*s\" is not allowed", clip(key, CLIP), key);
            if (!v_sub(v, p->node, val, "properties", deny))
                ok = false;
            evaluated = true;
        }
        for (size_t k = 0; k < n->npattern_props && (ok || collecting(v)); k++) {
            const struct mh_schema__pattern_prop *pp = &n->pattern_props[k];
            bool m = false;
            enum mh_err rc = mh_regex_test(pp->re, key, strlen(key), &m);
            if (rc != MH_OK) {
                report(v, "patternProperties",
                       "property name could not be matched against \"%.*s\": %s",
                       clip(pp->source, CLIP), pp->source, mh_strerror(rc));
                ok = false;
                continue;
            }
            if (!m)
                continue;
            snprintf(deny, sizeof(deny), "property \"%.*s\" is not allowed", clip(key, CLIP), key);
            if (!v_sub(v, pp->node, val, "patternProperties", deny))
                ok = false;
            evaluated = true;
        }
        if (!evaluated && n->additional_properties != NULL && (ok || collecting(v))) {
            snprintf(deny, sizeof(deny), "property \"%.*s\" is not allowed", clip(key, CLIP), key);
            if (!v_sub(v, n->additional_properties, val, "additionalProperties", deny))
                ok = false;
            evaluated = true;
        }
        if (evaluated)
            ann_mark(a, idx);
        if (n->property_names != NULL && (ok || collecting(v))) {
            json_t *name = json_string(key);
            v->suppress++;
            bool r = v_node(v, n->property_names, name, NULL);
            v->suppress--;
            json_decref(name);
            if (!r) {
                report(v, "propertyNames", "property name \"%.*s\" is not allowed", clip(key, CLIP),
                       key);
                ok = false;
            }
        }
        mh_schema__path_pop(&v->path, old);
        if (!ok && !collecting(v))
            return false;
        idx++;
    }

    for (size_t i = 0; i < n->ndep_schemas; i++) {
        if (json_object_get(inst, n->dep_schemas[i].name) == NULL)
            continue;
        if (!apply_inplace(v, n->dep_schemas[i].node, inst, a))
            FAIL();
    }
#undef FAIL
    return ok;
}

/* unevaluatedProperties / unevaluatedItems, over what `a` says was not evaluated. */
static bool v_unevaluated(struct vctx *v, const struct mh_schema__node *n, json_t *inst,
                          struct ann *a)
{
    bool ok = true;
    char deny[160];
    if (n->unevaluated_properties != NULL && json_is_object(inst)) {
        size_t idx = 0;
        const char *key;
        json_t *val;
        json_object_foreach(inst, key, val)
        {
            if (idx < a->n && !a->seen[idx]) {
                size_t old = mh_schema__path_push_key(&v->path, key);
                snprintf(deny, sizeof(deny), "property \"%.*s\" is not allowed (unevaluated)",
                         clip(key, CLIP), key);
                if (!v_sub(v, n->unevaluated_properties, val, "unevaluatedProperties", deny))
                    ok = false;
                mh_schema__path_pop(&v->path, old);
                if (!ok && !collecting(v))
                    return false;
            }
            idx++;
        }
    }
    if (n->unevaluated_items != NULL && json_is_array(inst)) {
        for (size_t i = 0; i < json_array_size(inst); i++) {
            if (i < a->n && a->seen[i])
                continue;
            size_t old = mh_schema__path_push_index(&v->path, i);
            snprintf(deny, sizeof(deny), "item %zu is not allowed (unevaluated)", i);
            if (!v_sub(v, n->unevaluated_items, json_array_get(inst, i), "unevaluatedItems", deny))
                ok = false;
            mh_schema__path_pop(&v->path, old);
            if (!ok && !collecting(v))
                return false;
        }
    }
    /* Everything is evaluated now, for the benefit of enclosing unevaluated* keywords. */
    for (size_t i = 0; i < a->n; i++)
        a->seen[i] = 1;
    return ok;
}

static bool v_applicators(struct vctx *v, const struct mh_schema__node *n, json_t *inst,
                          struct ann *a)
{
    bool ok = true;
    for (size_t i = 0; i < n->refs.n; i++)
        if (!apply_inplace(v, n->refs.items[i], inst, a)) {
            ok = false;
            if (!collecting(v))
                return false;
        }
    for (size_t i = 0; i < n->all_of.n; i++)
        if (!apply_inplace(v, n->all_of.items[i], inst, a)) {
            ok = false;
            if (!collecting(v))
                return false;
        }
    if (n->any_of.n > 0) {
        size_t matched = 0;
        v->suppress++;
        /* With annotations wanted every branch runs, since each passing one contributes. */
        for (size_t i = 0; i < n->any_of.n && (matched == 0 || a != NULL); i++)
            if (apply_inplace(v, n->any_of.items[i], inst, a))
                matched++;
        v->suppress--;
        if (matched == 0) {
            report(v, "anyOf", "must match at least one of the %zu schemas in anyOf", n->any_of.n);
            ok = false;
            if (!collecting(v))
                return false;
        }
    }
    if (n->one_of.n > 0) {
        size_t matched = 0, first = 0, second = 0;
        struct ann chosen = {0};
        v->suppress++;
        for (size_t i = 0; i < n->one_of.n && matched < 2; i++) {
            struct ann t = {0};
            if (a != NULL)
                ann_init(&t, inst);
            if (v_node(v, n->one_of.items[i], inst, a ? &t : NULL)) {
                if (matched++ == 0) {
                    first = i;
                    chosen = t;
                    t.seen = NULL;
                } else {
                    second = i;
                }
            }
            ann_free(&t);
        }
        v->suppress--;
        if (matched == 1 && a != NULL)
            ann_merge(a, &chosen);
        ann_free(&chosen);
        if (matched != 1) {
            if (matched == 0)
                report(v, "oneOf",
                       "must match exactly one of the %zu schemas in oneOf, matches none",
                       n->one_of.n);
            else
                report(v, "oneOf",
                       "must match exactly one of the schemas in oneOf, matches %zu and %zu", first,
                       second);
            ok = false;
            if (!collecting(v))
                return false;
        }
    }
    if (n->not_ != NULL) {
        v->suppress++;
        bool r = v_node(v, n->not_, inst, NULL);
        v->suppress--;
        if (r) {
            report(v, "not", "must not match the schema in not");
            ok = false;
            if (!collecting(v))
                return false;
        }
    }
    if (n->if_ != NULL && (n->then_ != NULL || n->else_ != NULL || a != NULL)) {
        v->suppress++;
        bool cond = apply_inplace(v, n->if_, inst, a);
        v->suppress--;
        const struct mh_schema__node *branch = cond ? n->then_ : n->else_;
        if (branch != NULL && !apply_inplace(v, branch, inst, a)) {
            ok = false;
            if (!collecting(v))
                return false;
        }
    }
    return ok;
}

static bool v_node(struct vctx *v, const struct mh_schema__node *n, json_t *inst, struct ann *ann)
{
    if (v->aborted)
        return false;
    if (n->is_bool) {
        if (!n->bool_value)
            report(v, "false", "no value is allowed here (the schema is false)");
        return n->bool_value;
    }
    if (++v->steps > v->s->limits.max_steps) {
        abort_validation(v, "validation needs more than %lu steps", v->s->limits.max_steps);
        return false;
    }
    if (v->depth >= v->s->limits.max_depth) {
        abort_validation(v, "schema evaluation nested deeper than %u levels (recursive $ref?)",
                         v->s->limits.max_depth);
        return false;
    }
    v->depth++;

    bool ok = true;
    struct ann local = {0};
    struct ann *a = ann;
    if (n->wants_annotations && a == NULL) {
        ann_init(&local, inst);
        a = &local;
    }

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            ok = false;                                                                            \
            if (!collecting(v))                                                                    \
                goto out;                                                                          \
        }                                                                                          \
    } while (0)

    if (n->types != 0 && !type_ok(n->types, inst)) {
        char want[96];
        type_list(n->types, want, sizeof(want));
        report(v, "type", "must be of type %s, not %s", want, type_name(inst));
        CHECK(false);
    }
    if (n->enum_values != NULL) {
        bool found = false;
        for (size_t i = 0; i < json_array_size(n->enum_values) && !found; i++)
            found = mh_schema__json_equal(inst, json_array_get(n->enum_values, i));
        if (!found)
            report(v, "enum", "must be one of the %zu values in enum",
                   json_array_size(n->enum_values));
        CHECK(found);
    }
    if (n->has_const) {
        bool eq = mh_schema__json_equal(inst, n->const_value);
        if (!eq)
            report(v, "const", "must be equal to the value in const");
        CHECK(eq);
    }
    if (json_is_number(inst))
        CHECK(v_number(v, n, inst));
    else if (json_is_string(inst))
        CHECK(v_string(v, n, inst));
    else if (json_is_array(inst))
        CHECK(v_array(v, n, inst, a));
    else if (json_is_object(inst))
        CHECK(v_object(v, n, inst, a));
    CHECK(v_applicators(v, n, inst, a));
    if (n->wants_annotations)
        CHECK(v_unevaluated(v, n, inst, a));
#undef CHECK

out:
    if (a == &local)
        ann_free(&local);
    v->depth--;
    return ok && !v->aborted;
}

bool mh_schema_validate(const struct mh_schema *s, json_t *instance, json_t **errors)
{
    struct vctx v;
    memset(&v, 0, sizeof(v));
    MH_ASSERT(s != NULL && instance != NULL);
    v.s = s;
    mh_schema__path_init(&v.path);
    if (errors != NULL)
        v.errors = json_array();

    bool ok = v_node(&v, s->root, instance, NULL);
    if (v.aborted) {
        ok = false;
        if (v.errors != NULL) {
            json_t *path = json_string(v.abort_path);
            json_array_append_new(v.errors, json_pack("{s:o, s:s, s:s}", "path",
                                                      path ? path : json_string(""), "keyword",
                                                      "limit", "message", v.abort_msg));
        }
    }
    if (!ok && v.errors != NULL && json_array_size(v.errors) == 0)
        json_array_append_new(v.errors, json_pack("{s:s, s:s, s:s}", "path", "", "keyword",
                                                  "schema", "message", "the value is not valid"));
    if (errors != NULL)
        *errors = v.errors;
    free(v.abort_path);
    mh_schema__path_cleanup(&v.path);
    return ok;
}
