/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the JMESPath test files: loading JSON files, and a structural comparison
 * written independently of the engine's own equality (so a bug there cannot hide itself), with
 * numbers compared by value as the compliance suite intends (1 equals 1.0).
 */
#ifndef MH_TEST_JMESPATH_UTIL_H
#define MH_TEST_JMESPATH_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "jmespath/jmespath.h"

static inline bool jp_t_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_string(a))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!jp_t_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        for (void *it = json_object_iter((json_t *)a); it;
             it = json_object_iter_next((json_t *)a, it)) {
            json_t *vb =
                json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (vb == NULL || !jp_t_equal(json_object_iter_value(it), vb))
                return false;
        }
        return true;
    }
    return true;
}

/* New reference to the parsed file, or NULL (with a message on stderr). */
static inline json_t *jp_t_load(const char *path)
{
    json_error_t err;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &err);
    if (v == NULL)
        fprintf(stderr, "    %s:%d: %s\n", path, err.line, err.text);
    return v;
}

/*
 * Compiles and evaluates `expr` against `doc`. Returns MH_OK with *out set (new reference), or
 * the error with `info` filled.
 */
static inline enum mh_err jp_t_search(const char *expr, json_t *doc, json_t **out,
                                      struct mh_err_info *info)
{
    struct mh_jp_expr *e = NULL;
    *out = NULL;
    enum mh_err rc = mh_jp_compile(expr, strlen(expr), &e, info);
    if (rc == MH_OK)
        rc = mh_jp_eval(e, doc, out, info);
    mh_jp_expr_destroy(e);
    return rc;
}

/* A compact dump for failure messages (static buffer: tests are single-threaded). */
static inline const char *jp_t_show(const json_t *v)
{
    static char buf[512];
    if (v == NULL)
        return "(none)";
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, sizeof(buf), "%s", s ? s : "(unprintable)");
    free(s);
    return buf;
}

#endif
