/* SPDX-License-Identifier: MIT */
/*
 * JSON Schema (draft 2020-12, core and validation vocabularies): compile a schema document once,
 * validate many instances against it, from many threads at once. Pure: core, jansson, and
 * src/regex for `pattern`.
 *
 * Ownership: mh_schema_compile borrows `schema` (it keeps its own copy) and returns a new
 * compiled schema the caller destroys with mh_schema_destroy. mh_schema_validate borrows
 * `instance`; when `errors` is non-NULL it receives a new JSON array of
 * {"path": "/json/pointer/to/instance", "keyword": "...", "message": "..."} for every failing
 * instance location (empty when valid), which the caller json_decref()s.
 *
 * What is supported (docs/internals/schema.md has the details): the core and validation
 * vocabularies of draft 2020-12 (type, enum, const, the numeric, string, array and object
 * assertions, properties, patternProperties, additionalProperties, propertyNames,
 * dependentRequired, dependentSchemas, prefixItems, items, contains, minContains, maxContains,
 * unevaluatedProperties, unevaluatedItems, allOf, anyOf, oneOf, not, if/then/else, boolean
 * schemas, $defs, $ref, $id, $anchor), with `format` asserted for date-time, date, time, email,
 * hostname, ipv4, ipv6, uri, uri-reference, uuid and json-pointer (other formats are
 * annotations). $ref resolves only inside the document: a reference to another document is a
 * compile error. $dynamicRef is resolved like $ref. `pattern` uses PCRE2 with ECMA-262 flavour
 * (see regex.h for the differences).
 *
 * Errors: every failing assertion is reported at the JSON pointer of the instance it failed on,
 * except `required` and `dependentRequired`, which point at the missing member
 * ("/order/id" when "id" is missing from "/order"). anyOf, oneOf, not and propertyNames report
 * one error of their own rather than those of their branches; allOf, $ref, if/then/else and the
 * object and array applicators pass their children's errors through.
 *
 * Limits: a validation is bounded in schema-evaluation depth ($ref recursion plus instance
 * nesting), in the number of evaluation steps, and in the number of errors collected (further
 * errors are dropped; the result stays invalid). Exceeding depth or steps makes the instance
 * invalid with an error of keyword "limit". Each `pattern` match is bounded by src/regex; a
 * pattern that hits its limit fails validation with keyword "pattern" and a message saying so.
 *
 * Thread safety: a compiled schema is immutable; any number of threads may validate against it
 * at once.
 */
#ifndef MH_SCHEMA_H
#define MH_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>

#include "core/err.h"

struct mh_schema;

/* Validation limits; a field left 0 takes its default. */
struct mh_schema_limits {
    unsigned max_errors;     /* error records per validation; default 100 */
    unsigned max_depth;      /* nested schema evaluations; default 256 */
    unsigned long max_steps; /* schema evaluations per validation; default 2,000,000 */
};

#define MH_SCHEMA_DEFAULT_MAX_ERRORS 100u
#define MH_SCHEMA_DEFAULT_MAX_DEPTH  256u
#define MH_SCHEMA_DEFAULT_MAX_STEPS  2000000ul

/* MH_EINVAL with `info` (message and schema path) for a schema that is not a valid schema. */
MH_MUSTCHECK enum mh_err mh_schema_compile(json_t *schema, struct mh_schema **out,
                                           struct mh_err_info *info);
/*
 * As mh_schema_compile, with explicit validation limits (NULL: the defaults). `info->kind` is
 * "schema", `info->path` the JSON pointer of the offending keyword inside `schema`.
 * The schema document is copied: later changes to `schema` do not affect the compiled form.
 */
MH_MUSTCHECK enum mh_err mh_schema_compile_ex(json_t *schema, const struct mh_schema_limits *limits,
                                              struct mh_schema **out, struct mh_err_info *info);
/* NULL-tolerant. */
void mh_schema_destroy(struct mh_schema *s);

/*
 * True when `instance` (borrowed, not NULL) is valid. With `errors` NULL the validation stops at
 * the first failure; otherwise every error (up to the limit) is collected into a new array.
 */
bool mh_schema_validate(const struct mh_schema *s, json_t *instance, json_t **errors);

#endif
