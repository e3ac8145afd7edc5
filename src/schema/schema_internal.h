/* SPDX-License-Identifier: MIT */
/*
 * Private to schema. The compiled form of a schema: a graph of nodes (one per schema object or
 * boolean schema, shared when several $refs point at it, cyclic when the schema recurses), all
 * allocated in the schema's arena and immutable once compiled, so validations on many threads
 * read it without locks.
 */
#ifndef MH_SCHEMA_INTERNAL_H
#define MH_SCHEMA_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "regex/regex.h"
#include "schema/schema.h"

/* Bits of the `type` keyword. */
enum {
    MH_SCHEMA__T_NULL = 1u << 0,
    MH_SCHEMA__T_BOOLEAN = 1u << 1,
    MH_SCHEMA__T_OBJECT = 1u << 2,
    MH_SCHEMA__T_ARRAY = 1u << 3,
    MH_SCHEMA__T_NUMBER = 1u << 4,
    MH_SCHEMA__T_STRING = 1u << 5,
    MH_SCHEMA__T_INTEGER = 1u << 6,
};

/* Formats we assert; any other `format` value is an annotation only. */
enum mh_schema__format {
    MH_SCHEMA__F_NONE = 0,
    MH_SCHEMA__F_DATE_TIME,
    MH_SCHEMA__F_DATE,
    MH_SCHEMA__F_TIME,
    MH_SCHEMA__F_EMAIL,
    MH_SCHEMA__F_HOSTNAME,
    MH_SCHEMA__F_IPV4,
    MH_SCHEMA__F_IPV6,
    MH_SCHEMA__F_URI,
    MH_SCHEMA__F_URI_REFERENCE,
    MH_SCHEMA__F_UUID,
    MH_SCHEMA__F_JSON_POINTER,
};

struct mh_schema__node;

struct mh_schema__prop {
    const char *name; /* borrowed from the schema's document */
    struct mh_schema__node *node;
};

struct mh_schema__pattern_prop {
    struct mh_regex *re;
    const char *source;
    struct mh_schema__node *node;
};

struct mh_schema__dep_required {
    const char *name;
    const char **required;
    size_t nrequired;
};

struct mh_schema__list {
    struct mh_schema__node **items;
    size_t n;
};

struct mh_schema__node {
    /* A boolean schema (`true` / `false`) uses only these two fields. */
    bool is_bool;
    bool bool_value;
    /* Set when the node has unevaluatedProperties or unevaluatedItems. */
    bool wants_annotations;

    uint32_t types; /* 0: any */
    json_t *enum_values;
    json_t *const_value; /* valid when has_const */
    bool has_const;

    /* Numeric bounds, borrowed from the document; NULL when absent. */
    json_t *minimum, *maximum, *exclusive_minimum, *exclusive_maximum, *multiple_of;

    /* Size bounds; -1 when absent. */
    int64_t min_length, max_length;
    int64_t min_items, max_items;
    int64_t min_properties, max_properties;
    int64_t min_contains, max_contains;
    bool unique_items;

    struct mh_regex *pattern;
    const char *pattern_source;
    enum mh_schema__format format;
    const char *format_name;

    /* Objects. `props` is sorted by name (strcmp) for binary search. */
    struct mh_schema__prop *props;
    size_t nprops;
    struct mh_schema__pattern_prop *pattern_props;
    size_t npattern_props;
    struct mh_schema__node *additional_properties;
    struct mh_schema__node *property_names;
    struct mh_schema__node *unevaluated_properties;
    const char **required;
    size_t nrequired;
    struct mh_schema__dep_required *dep_required;
    size_t ndep_required;
    struct mh_schema__prop *dep_schemas;
    size_t ndep_schemas;

    /* Arrays. */
    struct mh_schema__list prefix_items;
    struct mh_schema__node *items;
    struct mh_schema__node *contains;
    struct mh_schema__node *unevaluated_items;

    /* Applicators. */
    struct mh_schema__list all_of, any_of, one_of;
    struct mh_schema__node *not_;
    struct mh_schema__node *if_, *then_, *else_;
    /* $ref and $dynamicRef (resolved statically), each resolved to its node. */
    struct mh_schema__list refs;
};

struct mh_schema {
    json_t *doc; /* our own deep copy of the schema document; nodes borrow from it */
    struct mh_arena *arena;
    struct mh_schema__node *root;
    struct mh_schema_limits limits;
};

/* A JSON pointer under construction (an instance path or a schema path). */
struct mh_schema__path {
    char *data;
    size_t len;
    size_t cap;
};

void mh_schema__path_init(struct mh_schema__path *p);
void mh_schema__path_cleanup(struct mh_schema__path *p);
/* Each push returns the previous length, to hand to mh_schema__path_pop. */
size_t mh_schema__path_push_key(struct mh_schema__path *p, const char *key);
size_t mh_schema__path_push_index(struct mh_schema__path *p, size_t index);
void mh_schema__path_pop(struct mh_schema__path *p, size_t len);
/* Replaces the whole path with `ptr`, an already escaped JSON pointer. */
void mh_schema__path_set(struct mh_schema__path *p, const char *ptr);
/* Borrowed, valid until the next push or pop; "" for the root. */
const char *mh_schema__path_str(const struct mh_schema__path *p);

/* JSON equality where numbers compare by value (1 == 1.0); strings compare by their bytes. */
bool mh_schema__json_equal(const json_t *a, const json_t *b);
/* A hash consistent with mh_schema__json_equal. */
uint64_t mh_schema__json_hash(const json_t *v);
/* Exact comparison of two JSON numbers: <0, 0 or >0. */
int mh_schema__num_cmp(const json_t *a, const json_t *b);
/* True for an integer or a real with no fractional part. */
bool mh_schema__is_integral(const json_t *v);

/* Format checks over `len` bytes of UTF-8. */
bool mh_schema__format_check(enum mh_schema__format f, const char *s, size_t len);
/* Maps a format name to the format we assert, or MH_SCHEMA__F_NONE. */
enum mh_schema__format mh_schema__format_lookup(const char *name);

/*
 * Resolves URI reference `ref` against `base` (RFC 3986 section 5.2) into a string allocated in
 * `arena`. Either may be "". Used for $id and $ref.
 */
char *mh_schema__uri_resolve(struct mh_arena *arena, const char *base, const char *ref);

#endif
