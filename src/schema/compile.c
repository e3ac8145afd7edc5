/* SPDX-License-Identifier: MIT */
/*
 * Compiles a JSON Schema document into the node graph of schema_internal.h, checking every
 * keyword's value on the way so that a malformed schema is refused up front with the JSON
 * pointer of the offending keyword. Two passes: the first walks the subschemas to learn each
 * one's base URI and to register $id resources and $anchor names; the second builds the nodes,
 * memoised by schema object so that $refs share nodes and cycles close on themselves. $ref
 * targets not reached by the tree walk are compiled from a worklist, not by recursion, so a long
 * chain of references cannot exhaust the stack.
 */
#include "schema/schema_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* Schemas nested deeper than this (in the document, not through $ref) are refused. */
#define MAX_SCHEMA_NESTING 256

/* Open-addressing map from a schema object to what we learned about it. */
struct ptrmap_entry {
    const void *key;
    void *value;
};

struct ptrmap {
    struct ptrmap_entry *slots;
    size_t cap; /* a power of two */
    size_t count;
};

/* Pass 1 facts about one subschema. */
struct where {
    const char *base; /* base URI, without fragment */
    const char *path; /* JSON pointer inside the document */
};

struct resource {
    const char *uri;
    json_t *schema;
};

struct anchor {
    const char *uri;
    const char *name;
    json_t *schema;
};

struct pending {
    struct mh_schema__node **slot;
    json_t *target;
    const char *base;
    const char *path;
};

struct cctx {
    struct mh_schema *s;
    struct mh_err_info *info;
    struct ptrmap where; /* json_t* -> struct where* */
    struct ptrmap nodes; /* json_t* -> node* */
    struct resource *res;
    size_t nres, capres;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    struct pending *pend;
    size_t npend, cappend;
    struct mh_schema__path path;
    unsigned depth;
};

enum sub_kind { SUB_ONE, SUB_MAP, SUB_LIST };

/* Keywords whose values hold subschemas, for the pass-1 walk. */
static const struct {
    const char *name;
    enum sub_kind kind;
} subschema_keywords[] = {
    {"additionalProperties", SUB_ONE},
    {"propertyNames", SUB_ONE},
    {"unevaluatedProperties", SUB_ONE},
    {"items", SUB_ONE},
    {"contains", SUB_ONE},
    {"unevaluatedItems", SUB_ONE},
    {"not", SUB_ONE},
    {"if", SUB_ONE},
    {"then", SUB_ONE},
    {"else", SUB_ONE},
    {"contentSchema", SUB_ONE},
    {"properties", SUB_MAP},
    {"patternProperties", SUB_MAP},
    {"dependentSchemas", SUB_MAP},
    {"$defs", SUB_MAP},
    {"definitions", SUB_MAP},
    {"prefixItems", SUB_LIST},
    {"allOf", SUB_LIST},
    {"anyOf", SUB_LIST},
    {"oneOf", SUB_LIST},
};

static enum mh_err fail(struct cctx *c, const char *keyword, const char *fmt, ...) MH_PRINTF(3, 4);
static enum mh_err walk(struct cctx *c, json_t *schema, const char *base);
static enum mh_err compile_schema(struct cctx *c, json_t *schema, const char *base,
                                  struct mh_schema__node **out);
static enum mh_err compile_keywords(struct cctx *c, json_t *obj, const char *base,
                                    struct mh_schema__node *n);
static enum mh_err resolve_ref(struct cctx *c, const char *keyword, const char *ref,
                               const char *base, struct mh_schema__node **slot);

/* ---- pointer map ---- */

static size_t ptr_hash(const void *p, size_t cap);
static void ptrmap_grow(struct ptrmap *m);
static void *ptrmap_get(const struct ptrmap *m, const void *key);
static char *strip_fragment(struct mh_arena *a, const char *uri);
static bool valid_anchor_name(const char *s);
static void add_resource(struct cctx *c, const char *uri, json_t *schema);
static void add_anchor(struct cctx *c, const char *uri, const char *name, json_t *schema);
static enum mh_err walk_child(struct cctx *c, json_t *child, const char *base);
static int hexval(char ch);
static char *percent_decode(struct mh_arena *a, const char *s);
static json_t *json_pointer_get(json_t *doc, const char *ptr);
static void add_pending(struct cctx *c, struct mh_schema__node **slot, json_t *target,
                        const char *base, const char *path);
static enum mh_err sub(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                       struct mh_schema__node **out);
static enum mh_err sub_list(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                            struct mh_schema__list *out);
static enum mh_err sub_map(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                           struct mh_schema__prop **out, size_t *nout);
static enum mh_err get_count(struct cctx *c, json_t *obj, const char *keyword, int64_t *out);
static enum mh_err get_number(struct cctx *c, json_t *obj, const char *keyword, json_t **out);
static enum mh_err parse_type(struct cctx *c, json_t *v, uint32_t *out);
static enum mh_err get_string_list(struct cctx *c, json_t *v, const char *keyword,
                                   const char ***out, size_t *nout);
static int prop_cmp(const void *a, const void *b);
static void regex_defer_destroy(void *p);
static enum mh_err compile_regex(struct cctx *c, const char *keyword, const char *src,
                                 struct mh_regex **out);

static size_t ptr_hash(const void *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h & (cap - 1);
}

static void ptrmap_put(struct ptrmap *m, const void *key, void *value);

static void ptrmap_grow(struct ptrmap *m)
{
    struct ptrmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->slots = mh_xcalloc(m->cap, sizeof(*m->slots));
    m->count = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key != NULL)
            ptrmap_put(m, old.slots[i].key, old.slots[i].value);
    free(old.slots);
}

static void ptrmap_put(struct ptrmap *m, const void *key, void *value)
{
    if ((m->count + 1) * 2 > m->cap)
        ptrmap_grow(m);
    size_t i = ptr_hash(key, m->cap);
    while (m->slots[i].key != NULL && m->slots[i].key != key)
        i = (i + 1) & (m->cap - 1);
    if (m->slots[i].key == NULL)
        m->count++;
    m->slots[i].key = key;
    m->slots[i].value = value;
}

static void *ptrmap_get(const struct ptrmap *m, const void *key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = ptr_hash(key, m->cap);
    while (m->slots[i].key != NULL) {
        if (m->slots[i].key == key)
            return m->slots[i].value;
        i = (i + 1) & (m->cap - 1);
    }
    return NULL;
}

/* ---- errors and paths ---- */

static enum mh_err fail(struct cctx *c, const char *keyword, const char *fmt, ...)
{
    size_t old = c->path.len;
    if (keyword != NULL)
        mh_schema__path_push_key(&c->path, keyword);
    if (c->info != NULL) {
        char msg[sizeof(c->info->message)];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        const char *at = mh_schema__path_str(&c->path);
        mh_err_set(c->info, MH_EINVAL, "schema", -1, "%s (at \"%s\")", msg, at[0] ? at : "#");
        mh_err_set_path(c->info, at);
    }
    mh_schema__path_pop(&c->path, old);
    return MH_EINVAL;
}

static char *strip_fragment(struct mh_arena *a, const char *uri)
{
    const char *hash = strchr(uri, '#');
    return hash ? mh_arena_strndup(a, uri, (size_t)(hash - uri)) : mh_arena_strdup(a, uri);
}

static bool valid_anchor_name(const char *s)
{
    if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
        return false;
    for (const char *p = s + 1; *p; p++) {
        char ch = *p;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '.' || ch == '_'))
            return false;
    }
    return true;
}

/* ---- pass 1: bases, resources, anchors ---- */

static void add_resource(struct cctx *c, const char *uri, json_t *schema)
{
    if (c->nres == c->capres) {
        c->capres = c->capres ? c->capres * 2 : 8;
        c->res = mh_xrealloc(c->res, c->capres * sizeof(*c->res));
    }
    c->res[c->nres++] = (struct resource){uri, schema};
}

static void add_anchor(struct cctx *c, const char *uri, const char *name, json_t *schema)
{
    if (c->nanchors == c->capanchors) {
        c->capanchors = c->capanchors ? c->capanchors * 2 : 8;
        c->anchors = mh_xrealloc(c->anchors, c->capanchors * sizeof(*c->anchors));
    }
    c->anchors[c->nanchors++] = (struct anchor){uri, name, schema};
}

static enum mh_err walk_child(struct cctx *c, json_t *child, const char *base)
{
    enum mh_err rc = MH_OK;
    if (json_is_object(child))
        rc = walk(c, child, base);
    return rc;
}

static enum mh_err walk(struct cctx *c, json_t *schema, const char *base)
{
    enum mh_err rc = MH_OK;
    struct mh_arena *a = c->s->arena;

    if (++c->depth > MAX_SCHEMA_NESTING) {
        rc = fail(c, NULL, "schema nested deeper than %d levels", MAX_SCHEMA_NESTING);
        goto out;
    }
    json_t *id = json_object_get(schema, "$id");
    if (id != NULL) {
        if (!json_is_string(id)) {
            rc = fail(c, "$id", "$id must be a string");
            goto out;
        }
        base = strip_fragment(a, mh_schema__uri_resolve(a, base, json_string_value(id)));
        add_resource(c, base, schema);
    }
    static const char *const anchor_keywords[] = {"$anchor", "$dynamicAnchor"};
    for (size_t k = 0; k < MH_ARRAY_LEN(anchor_keywords); k++) {
        json_t *an = json_object_get(schema, anchor_keywords[k]);
        if (an == NULL)
            continue;
        if (!json_is_string(an) || !valid_anchor_name(json_string_value(an))) {
            rc = fail(c, anchor_keywords[k], "%s must be a name like \"node\" or \"item_2\"",
                      anchor_keywords[k]);
            goto out;
        }
        add_anchor(c, base, json_string_value(an), schema);
    }
    struct where *w = mh_arena_alloc(a, sizeof(*w));
    w->base = base;
    w->path = mh_arena_strdup(a, mh_schema__path_str(&c->path));
    ptrmap_put(&c->where, schema, w);

    for (size_t k = 0; k < MH_ARRAY_LEN(subschema_keywords) && rc == MH_OK; k++) {
        json_t *v = json_object_get(schema, subschema_keywords[k].name);
        if (v == NULL)
            continue;
        size_t old = mh_schema__path_push_key(&c->path, subschema_keywords[k].name);
        if (subschema_keywords[k].kind == SUB_ONE) {
            rc = walk_child(c, v, base);
        } else if (subschema_keywords[k].kind == SUB_MAP && json_is_object(v)) {
            const char *key;
            json_t *child;
            json_object_foreach(v, key, child)
            {
                size_t o2 = mh_schema__path_push_key(&c->path, key);
                rc = walk_child(c, child, base);
                mh_schema__path_pop(&c->path, o2);
                if (rc != MH_OK)
                    break;
            }
        } else if (subschema_keywords[k].kind == SUB_LIST && json_is_array(v)) {
            for (size_t i = 0; i < json_array_size(v) && rc == MH_OK; i++) {
                size_t o2 = mh_schema__path_push_index(&c->path, i);
                rc = walk_child(c, json_array_get(v, i), base);
                mh_schema__path_pop(&c->path, o2);
            }
        }
        mh_schema__path_pop(&c->path, old);
    }

out:
    c->depth--;
    return rc;
}

/* ---- $ref resolution ---- */

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Percent-decodes `s` into a new arena string; NULL for a malformed escape. */
static char *percent_decode(struct mh_arena *a, const char *s)
{
    size_t n = strlen(s);
    char *out = mh_arena_alloc(a, n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n)
                return NULL;
            int hi = hexval(s[i + 1]), lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return NULL;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* Evaluates JSON pointer `ptr` (already percent-decoded) against `doc`; NULL when absent. */
static json_t *json_pointer_get(json_t *doc, const char *ptr)
{
    json_t *cur = doc;
    const char *p = ptr;
    char token[512];
    while (*p == '/' && cur != NULL) {
        p++;
        size_t t = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '~') {
                if (*p == '0')
                    ch = '~';
                else if (*p == '1')
                    ch = '/';
                else
                    return NULL;
                p++;
            }
            if (t + 1 >= sizeof(token))
                return NULL;
            token[t++] = ch;
        }
        token[t] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, token);
        } else if (json_is_array(cur)) {
            if (t == 0 || (t > 1 && token[0] == '0'))
                return NULL;
            size_t idx = 0;
            for (size_t i = 0; i < t; i++) {
                if (token[i] < '0' || token[i] > '9' || idx > (size_t)1 << 40)
                    return NULL;
                idx = idx * 10 + (size_t)(token[i] - '0');
            }
            cur = json_array_get(cur, idx);
        } else {
            return NULL;
        }
    }
    return *p == '\0' ? cur : NULL;
}

static void add_pending(struct cctx *c, struct mh_schema__node **slot, json_t *target,
                        const char *base, const char *path)
{
    if (c->npend == c->cappend) {
        c->cappend = c->cappend ? c->cappend * 2 : 8;
        c->pend = mh_xrealloc(c->pend, c->cappend * sizeof(*c->pend));
    }
    c->pend[c->npend++] = (struct pending){slot, target, base, path};
}

static enum mh_err resolve_ref(struct cctx *c, const char *keyword, const char *ref,
                               const char *base, struct mh_schema__node **slot)
{
    struct mh_arena *a = c->s->arena;
    const char *abs = mh_schema__uri_resolve(a, base, ref);
    const char *hash = strchr(abs, '#');
    const char *frag = hash ? hash + 1 : "";
    const char *res_uri = hash ? mh_arena_strndup(a, abs, (size_t)(hash - abs)) : abs;

    json_t *resource = NULL;
    for (size_t i = 0; i < c->nres; i++)
        if (strcmp(c->res[i].uri, res_uri) == 0)
            resource = c->res[i].schema;
    if (resource == NULL)
        return fail(c, keyword,
                    "cannot resolve \"%s\": no resource \"%s\" in this document (references to "
                    "other documents are not supported)",
                    ref, res_uri);

    json_t *target = NULL;
    if (frag[0] == '\0') {
        target = resource;
    } else if (frag[0] == '/') {
        const char *ptr = percent_decode(a, frag);
        if (ptr == NULL)
            return fail(c, keyword, "cannot resolve \"%s\": bad percent-encoding", ref);
        target = json_pointer_get(resource, ptr);
    } else {
        for (size_t i = 0; i < c->nanchors; i++)
            if (strcmp(c->anchors[i].uri, res_uri) == 0 && strcmp(c->anchors[i].name, frag) == 0)
                target = c->anchors[i].schema;
    }
    if (target == NULL)
        return fail(c, keyword, "cannot resolve \"%s\": no such location in the document", ref);
    if (!json_is_object(target) && !json_is_boolean(target))
        return fail(c, keyword, "\"%s\" points at a %s, not at a schema", ref,
                    json_is_array(target) ? "array" : "non-schema value");

    struct mh_schema__node *n = ptrmap_get(&c->nodes, target);
    if (n != NULL) {
        *slot = n;
        return MH_OK;
    }
    struct where *w = ptrmap_get(&c->where, target);
    add_pending(c, slot, target, w ? w->base : res_uri, w ? w->path : ref);
    return MH_OK;
}

/* ---- pass 2: nodes ---- */

static enum mh_err sub(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                       struct mh_schema__node **out)
{
    enum mh_err rc = MH_OK;
    json_t *v = json_object_get(obj, keyword);
    *out = NULL;
    if (v == NULL)
        return MH_OK;
    size_t old = mh_schema__path_push_key(&c->path, keyword);
    rc = compile_schema(c, v, base, out);
    mh_schema__path_pop(&c->path, old);
    return rc;
}

static enum mh_err sub_list(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                            struct mh_schema__list *out)
{
    enum mh_err rc = MH_OK;
    json_t *v = json_object_get(obj, keyword);
    out->items = NULL;
    out->n = 0;
    if (v == NULL)
        return MH_OK;
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail(c, keyword, "%s must be a non-empty array of schemas", keyword);
    out->n = json_array_size(v);
    out->items = mh_arena_calloc(c->s->arena, out->n * sizeof(*out->items));
    size_t old = mh_schema__path_push_key(&c->path, keyword);
    for (size_t i = 0; i < out->n && rc == MH_OK; i++) {
        size_t o2 = mh_schema__path_push_index(&c->path, i);
        rc = compile_schema(c, json_array_get(v, i), base, &out->items[i]);
        mh_schema__path_pop(&c->path, o2);
    }
    mh_schema__path_pop(&c->path, old);
    return rc;
}

/* Compiles an object of schemas (properties, dependentSchemas, $defs) into `out`. */
static enum mh_err sub_map(struct cctx *c, json_t *obj, const char *keyword, const char *base,
                           struct mh_schema__prop **out, size_t *nout)
{
    enum mh_err rc = MH_OK;
    json_t *v = json_object_get(obj, keyword);
    if (out)
        *out = NULL;
    if (nout)
        *nout = 0;
    if (v == NULL)
        return MH_OK;
    if (!json_is_object(v))
        return fail(c, keyword, "%s must be an object whose values are schemas", keyword);
    size_t n = json_object_size(v), i = 0;
    struct mh_schema__prop *props = mh_arena_calloc(c->s->arena, (n ? n : 1) * sizeof(*props));
    size_t old = mh_schema__path_push_key(&c->path, keyword);
    const char *key;
    json_t *child;
    json_object_foreach(v, key, child)
    {
        size_t o2 = mh_schema__path_push_key(&c->path, key);
        props[i].name = key;
        rc = compile_schema(c, child, base, &props[i].node);
        mh_schema__path_pop(&c->path, o2);
        if (rc != MH_OK)
            break;
        i++;
    }
    mh_schema__path_pop(&c->path, old);
    if (out)
        *out = props;
    if (nout)
        *nout = i;
    return rc;
}

/* A non-negative integer keyword (2.0 counts as 2); -1 when absent. */
static enum mh_err get_count(struct cctx *c, json_t *obj, const char *keyword, int64_t *out)
{
    json_t *v = json_object_get(obj, keyword);
    *out = -1;
    if (v == NULL)
        return MH_OK;
    if (!json_is_number(v) || !mh_schema__is_integral(v) || json_number_value(v) < 0)
        return fail(c, keyword, "%s must be a non-negative integer", keyword);
    if (json_is_integer(v))
        *out = json_integer_value(v);
    else
        *out = json_real_value(v) >= 9.2e18 ? INT64_MAX : (int64_t)json_real_value(v);
    return MH_OK;
}

static enum mh_err get_number(struct cctx *c, json_t *obj, const char *keyword, json_t **out)
{
    json_t *v = json_object_get(obj, keyword);
    *out = NULL;
    if (v == NULL)
        return MH_OK;
    if (!json_is_number(v))
        return fail(c, keyword, "%s must be a number", keyword);
    *out = v;
    return MH_OK;
}

static enum mh_err parse_type(struct cctx *c, json_t *v, uint32_t *out)
{
    static const struct {
        const char *name;
        uint32_t bit;
    } names[] = {
        {"null", MH_SCHEMA__T_NULL},       {"boolean", MH_SCHEMA__T_BOOLEAN},
        {"object", MH_SCHEMA__T_OBJECT},   {"array", MH_SCHEMA__T_ARRAY},
        {"number", MH_SCHEMA__T_NUMBER},   {"string", MH_SCHEMA__T_STRING},
        {"integer", MH_SCHEMA__T_INTEGER},
    };
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (!json_is_string(v) && (!json_is_array(v) || n == 0))
        return fail(c, "type", "type must be a type name or a non-empty array of type names");
    *out = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *t = json_is_array(v) ? json_array_get(v, i) : v;
        uint32_t bit = 0;
        for (size_t k = 0; json_is_string(t) && k < MH_ARRAY_LEN(names); k++)
            if (strcmp(json_string_value(t), names[k].name) == 0)
                bit = names[k].bit;
        if (bit == 0)
            return fail(c, "type",
                        "unknown type %s%s%s (expected null, boolean, object, array, number, "
                        "string or integer)",
                        json_is_string(t) ? "\"" : "",
                        json_is_string(t) ? json_string_value(t) : "",
                        json_is_string(t) ? "\"" : "(not a string)");
        if (*out & bit)
            return fail(c, "type", "type lists \"%s\" twice", json_string_value(t));
        *out |= bit;
    }
    return MH_OK;
}

/* An array of strings (required, dependentRequired); the strings are borrowed. */
static enum mh_err get_string_list(struct cctx *c, json_t *v, const char *keyword,
                                   const char ***out, size_t *nout)
{
    if (!json_is_array(v))
        return fail(c, keyword, "%s must be an array of strings", keyword);
    size_t n = json_array_size(v);
    const char **list = mh_arena_calloc(c->s->arena, (n ? n : 1) * sizeof(*list));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return fail(c, keyword, "%s must be an array of strings", keyword);
        list[i] = json_string_value(e);
    }
    *out = list;
    *nout = n;
    return MH_OK;
}

static int prop_cmp(const void *a, const void *b)
{
    return strcmp(((const struct mh_schema__prop *)a)->name,
                  ((const struct mh_schema__prop *)b)->name);
}

static void regex_defer_destroy(void *p)
{
    mh_regex_destroy(p);
}

static enum mh_err compile_regex(struct cctx *c, const char *keyword, const char *src,
                                 struct mh_regex **out)
{
    struct mh_err_info ri = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_regex_compile(src, strlen(src), MH_REGEX_ECMA, NULL, out, &ri);
    if (rc != MH_OK)
        return fail(c, keyword, "bad regular expression \"%s\": %s", src, ri.message);
    mh_arena_defer(c->s->arena, regex_defer_destroy, *out);
    return MH_OK;
}

static enum mh_err compile_keywords(struct cctx *c, json_t *o, const char *base,
                                    struct mh_schema__node *n)
{
    enum mh_err rc = MH_OK;
    struct mh_arena *a = c->s->arena;
    json_t *v;

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        rc = (expr);                                                                               \
        if (rc != MH_OK)                                                                           \
            return rc;                                                                             \
    } while (0)

    if ((v = json_object_get(o, "$schema")) != NULL && !json_is_string(v))
        return fail(c, "$schema", "$schema must be a URI string");
    if (json_object_get(o, "$recursiveRef") != NULL)
        return fail(c, "$recursiveRef",
                    "$recursiveRef (draft 2019-09) is not supported; use $ref or $dynamicRef");

    /* Generic assertions. */
    if ((v = json_object_get(o, "type")) != NULL)
        TRY(parse_type(c, v, &n->types));
    if ((v = json_object_get(o, "enum")) != NULL) {
        if (!json_is_array(v))
            return fail(c, "enum", "enum must be an array");
        n->enum_values = v;
    }
    if ((v = json_object_get(o, "const")) != NULL) {
        n->const_value = v;
        n->has_const = true;
    }

    /* Numbers. */
    TRY(get_number(c, o, "minimum", &n->minimum));
    TRY(get_number(c, o, "maximum", &n->maximum));
    TRY(get_number(c, o, "exclusiveMinimum", &n->exclusive_minimum));
    TRY(get_number(c, o, "exclusiveMaximum", &n->exclusive_maximum));
    TRY(get_number(c, o, "multipleOf", &n->multiple_of));
    if (n->multiple_of != NULL && json_number_value(n->multiple_of) <= 0)
        return fail(c, "multipleOf", "multipleOf must be greater than 0");

    /* Strings. */
    TRY(get_count(c, o, "minLength", &n->min_length));
    TRY(get_count(c, o, "maxLength", &n->max_length));
    if ((v = json_object_get(o, "pattern")) != NULL) {
        if (!json_is_string(v))
            return fail(c, "pattern", "pattern must be a string");
        n->pattern_source = json_string_value(v);
        TRY(compile_regex(c, "pattern", n->pattern_source, &n->pattern));
    }
    if ((v = json_object_get(o, "format")) != NULL) {
        if (!json_is_string(v))
            return fail(c, "format", "format must be a string");
        n->format_name = json_string_value(v);
        n->format = mh_schema__format_lookup(n->format_name);
    }

    /* Arrays. */
    TRY(get_count(c, o, "minItems", &n->min_items));
    TRY(get_count(c, o, "maxItems", &n->max_items));
    TRY(get_count(c, o, "minContains", &n->min_contains));
    TRY(get_count(c, o, "maxContains", &n->max_contains));
    if ((v = json_object_get(o, "uniqueItems")) != NULL) {
        if (!json_is_boolean(v))
            return fail(c, "uniqueItems", "uniqueItems must be a boolean");
        n->unique_items = json_is_true(v);
    }
    if ((v = json_object_get(o, "items")) != NULL && json_is_array(v))
        return fail(c, "items",
                    "items must be a schema; in draft 2020-12 a tuple is written with prefixItems");
    TRY(sub_list(c, o, "prefixItems", base, &n->prefix_items));
    TRY(sub(c, o, "items", base, &n->items));
    TRY(sub(c, o, "contains", base, &n->contains));
    TRY(sub(c, o, "unevaluatedItems", base, &n->unevaluated_items));

    /* Objects. */
    TRY(get_count(c, o, "minProperties", &n->min_properties));
    TRY(get_count(c, o, "maxProperties", &n->max_properties));
    TRY(sub_map(c, o, "properties", base, &n->props, &n->nprops));
    if (n->nprops > 1)
        qsort(n->props, n->nprops, sizeof(*n->props), prop_cmp);
    if ((v = json_object_get(o, "patternProperties")) != NULL) {
        if (!json_is_object(v))
            return fail(c, "patternProperties", "patternProperties must be an object of schemas");
        n->pattern_props =
            mh_arena_calloc(a, (json_object_size(v) + 1) * sizeof(*n->pattern_props));
        size_t old = mh_schema__path_push_key(&c->path, "patternProperties");
        const char *key;
        json_t *child;
        json_object_foreach(v, key, child)
        {
            struct mh_schema__pattern_prop *pp = &n->pattern_props[n->npattern_props];
            size_t o2 = mh_schema__path_push_key(&c->path, key);
            pp->source = key;
            rc = compile_regex(c, NULL, key, &pp->re);
            if (rc == MH_OK)
                rc = compile_schema(c, child, base, &pp->node);
            mh_schema__path_pop(&c->path, o2);
            if (rc != MH_OK)
                break;
            n->npattern_props++;
        }
        mh_schema__path_pop(&c->path, old);
        if (rc != MH_OK)
            return rc;
    }
    TRY(sub(c, o, "additionalProperties", base, &n->additional_properties));
    TRY(sub(c, o, "propertyNames", base, &n->property_names));
    TRY(sub(c, o, "unevaluatedProperties", base, &n->unevaluated_properties));
    if ((v = json_object_get(o, "required")) != NULL)
        TRY(get_string_list(c, v, "required", &n->required, &n->nrequired));
    if ((v = json_object_get(o, "dependentRequired")) != NULL) {
        if (!json_is_object(v))
            return fail(c, "dependentRequired",
                        "dependentRequired must be an object of string arrays");
        n->dep_required = mh_arena_calloc(a, (json_object_size(v) + 1) * sizeof(*n->dep_required));
        const char *key;
        json_t *list;
        json_object_foreach(v, key, list)
        {
            struct mh_schema__dep_required *d = &n->dep_required[n->ndep_required++];
            d->name = key;
            TRY(get_string_list(c, list, "dependentRequired", &d->required, &d->nrequired));
        }
    }
    TRY(sub_map(c, o, "dependentSchemas", base, &n->dep_schemas, &n->ndep_schemas));

    /* Applicators. */
    TRY(sub_list(c, o, "allOf", base, &n->all_of));
    TRY(sub_list(c, o, "anyOf", base, &n->any_of));
    TRY(sub_list(c, o, "oneOf", base, &n->one_of));
    TRY(sub(c, o, "not", base, &n->not_));
    TRY(sub(c, o, "if", base, &n->if_));
    TRY(sub(c, o, "then", base, &n->then_));
    TRY(sub(c, o, "else", base, &n->else_));

    /* Definitions are compiled too, so that a broken one is reported even when unused. */
    TRY(sub_map(c, o, "$defs", base, NULL, NULL));
    TRY(sub_map(c, o, "definitions", base, NULL, NULL));

    static const char *const ref_keywords[] = {"$ref", "$dynamicRef"};
    n->refs.items = mh_arena_calloc(a, MH_ARRAY_LEN(ref_keywords) * sizeof(*n->refs.items));
    for (size_t k = 0; k < MH_ARRAY_LEN(ref_keywords); k++) {
        if ((v = json_object_get(o, ref_keywords[k])) == NULL)
            continue;
        if (!json_is_string(v))
            return fail(c, ref_keywords[k], "%s must be a URI-reference string", ref_keywords[k]);
        TRY(resolve_ref(c, ref_keywords[k], json_string_value(v), base,
                        &n->refs.items[n->refs.n++]));
    }

    n->wants_annotations = n->unevaluated_properties != NULL || n->unevaluated_items != NULL;
#undef TRY
    return MH_OK;
}

static enum mh_err compile_schema(struct cctx *c, json_t *schema, const char *base,
                                  struct mh_schema__node **out)
{
    enum mh_err rc = MH_OK;
    struct mh_schema__node *n = ptrmap_get(&c->nodes, schema);
    if (n != NULL) {
        *out = n;
        return MH_OK;
    }
    if (!json_is_object(schema) && !json_is_boolean(schema))
        return fail(c, NULL, "a schema must be an object or a boolean, not %s",
                    json_is_array(schema)    ? "an array"
                    : json_is_string(schema) ? "a string"
                    : json_is_null(schema)   ? "null"
                                             : "a number");
    if (c->depth >= MAX_SCHEMA_NESTING)
        return fail(c, NULL, "schema nested deeper than %d levels", MAX_SCHEMA_NESTING);

    n = mh_arena_calloc(c->s->arena, sizeof(*n));
    ptrmap_put(&c->nodes, schema, n);
    *out = n;
    if (json_is_boolean(schema)) {
        n->is_bool = true;
        n->bool_value = json_is_true(schema);
        return MH_OK;
    }
    struct where *w = ptrmap_get(&c->where, schema);
    if (w != NULL)
        base = w->base;
    c->depth++;
    rc = compile_keywords(c, schema, base, n);
    c->depth--;
    return rc;
}

enum mh_err mh_schema_compile_ex(json_t *schema, const struct mh_schema_limits *limits,
                                 struct mh_schema **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct cctx c;
    struct mh_schema *s = NULL;

    memset(&c, 0, sizeof(c));
    mh_schema__path_init(&c.path);
    *out = NULL;
    if (schema == NULL || (!json_is_object(schema) && !json_is_boolean(schema))) {
        rc = mh_err_set(info, MH_EINVAL, "schema", -1,
                        "a schema must be a JSON object or a boolean");
        goto out;
    }
    s = mh_xcalloc(1, sizeof(*s));
    s->arena = mh_arena_create();
    s->doc = json_deep_copy(schema);
    if (s->doc == NULL)
        mh_panic("out of memory copying a schema");
    if (limits != NULL)
        s->limits = *limits;
    if (s->limits.max_errors == 0)
        s->limits.max_errors = MH_SCHEMA_DEFAULT_MAX_ERRORS;
    if (s->limits.max_depth == 0)
        s->limits.max_depth = MH_SCHEMA_DEFAULT_MAX_DEPTH;
    if (s->limits.max_steps == 0)
        s->limits.max_steps = MH_SCHEMA_DEFAULT_MAX_STEPS;
    c.s = s;
    c.info = info;

    /*
     * The root is a resource under "" (and under its $id when it has one), so "#..." references
     * resolve whatever the root's $id.
     */
    add_resource(&c, "", s->doc);
    if (json_is_object(s->doc)) {
        rc = walk(&c, s->doc, "");
        if (rc != MH_OK)
            goto out;
    }

    rc = compile_schema(&c, s->doc, "", &s->root);
    /* References to schemas the tree walk did not reach (e.g. "#/$defs/a/properties/b"). */
    for (size_t i = 0; rc == MH_OK && i < c.npend; i++) {
        struct pending p = c.pend[i];
        struct mh_schema__node *n = ptrmap_get(&c.nodes, p.target);
        if (n == NULL) {
            /* Errors inside the target point at where it is in the document. */
            mh_schema__path_set(&c.path, p.path[0] == '/' ? p.path : "");
            rc = compile_schema(&c, p.target, p.base, &n);
        }
        if (rc == MH_OK)
            *p.slot = n;
    }
    if (rc != MH_OK)
        goto out;
    *out = s;
    s = NULL;

out:
    mh_schema_destroy(s);
    free(c.where.slots);
    free(c.nodes.slots);
    free(c.res);
    free(c.anchors);
    free(c.pend);
    mh_schema__path_cleanup(&c.path);
    return rc;
}

enum mh_err mh_schema_compile(json_t *schema, struct mh_schema **out, struct mh_err_info *info)
{
    return mh_schema_compile_ex(schema, NULL, out, info);
}

void mh_schema_destroy(struct mh_schema *s)
{
    if (s == NULL)
        return;
    mh_arena_destroy(s->arena);
    json_decref(s->doc);
    free(s);
}
