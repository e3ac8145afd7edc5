/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/schema beyond the official suite: our own vectors in tests/data/schema/
 * (same format as the suite: $ref forms, $id/$anchor, formats, applicators the suite files here
 * do not cover), exact error lists with JSON pointers, bounded error lists, schema errors with
 * their schema path, recursion and step limits, and concurrent use.
 */
#include "schema/schema.h"

#include <pthread.h>

#include "harness.h"

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v == NULL)
        mh_t_fail(__FILE__, __LINE__, "bad test JSON: %s: %s", e.text, text);
    return v;
}

static struct mh_schema *compile(const char *text)
{
    json_t *doc = parse(text);
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_schema_compile(doc, &s, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "compile failed: %s", info.message);
    json_decref(doc);
    return s;
}

/* Validates and returns the error list as compact JSON text (caller frees). */
static char *errors_of(const struct mh_schema *s, const char *instance, bool *valid)
{
    json_t *inst = parse(instance);
    json_t *errors = NULL;
    *valid = mh_schema_validate(s, inst, &errors);
    MH_T_ASSERT(json_is_array(errors));
    char *text = json_dumps(errors, JSON_COMPACT);
    json_decref(errors);
    json_decref(inst);
    return text;
}

/* "path keyword" pairs of every error, space separated, in order. */
static char *error_paths(const struct mh_schema *s, const char *instance, bool *valid)
{
    json_t *inst = parse(instance);
    json_t *errors = NULL;
    *valid = mh_schema_validate(s, inst, &errors);
    static char buf[8192];
    size_t len = 0;
    buf[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        MH_T_ASSERT(json_is_string(json_object_get(e, "message")));
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s %s", len ? "; " : "",
                                json_string_value(json_object_get(e, "path")),
                                json_string_value(json_object_get(e, "keyword")));
    }
    json_decref(errors);
    json_decref(inst);
    return buf;
}

static void run_vectors(const char *name)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/schema/%s", mh_t_repo_dir(), name);
    json_error_t jerr;
    json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (groups == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s (line %d)", path, jerr.text, jerr.line);
    int total = 0, passed = 0;
    size_t gi, ti;
    json_t *g, *t;
    json_array_foreach(groups, gi, g)
    {
        const char *gdesc = json_string_value(json_object_get(g, "description"));
        struct mh_schema *s = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_schema_compile(json_object_get(g, "schema"), &s, &info);
        json_array_foreach(json_object_get(g, "tests"), ti, t)
        {
            const char *tdesc = json_string_value(json_object_get(t, "description"));
            bool want = json_is_true(json_object_get(t, "valid"));
            total++;
            if (rc != MH_OK) {
                printf("    FAIL %s / %s: schema rejected: %s\n", gdesc, tdesc, info.message);
                continue;
            }
            json_t *errors = NULL;
            bool got = mh_schema_validate(s, json_object_get(t, "data"), &errors);
            bool fast = mh_schema_validate(s, json_object_get(t, "data"), NULL);
            if (got == want && fast == got && (json_array_size(errors) == 0) == got) {
                passed++;
            } else {
                char *e = json_dumps(errors, JSON_COMPACT);
                printf("    FAIL %s / %s: expected %s; errors %s\n", gdesc, tdesc,
                       want ? "valid" : "invalid", e ? e : "?");
                free(e);
            }
            json_decref(errors);
        }
        mh_schema_destroy(s);
    }
    json_decref(groups);
    printf("%s: %d/%d passed\n", name, passed, total);
    MH_T_ASSERT(total > 0);
    MH_T_ASSERT_EQ(passed, total);
}

MH_TEST(vectors_ref)
{
    run_vectors("ref.json");
}

MH_TEST(vectors_applicators)
{
    run_vectors("applicators.json");
}

MH_TEST(vectors_keywords)
{
    run_vectors("keywords.json");
}

MH_TEST(vectors_formats)
{
    run_vectors("formats.json");
}

MH_TEST(error_paths_are_json_pointers)
{
    struct mh_schema *s = compile(
        "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":{"
        "\"type\":\"object\",\"required\":[\"name\"],\"properties\":{\"name\":{\"type\":"
        "\"string\"},\"qty\":{\"type\":\"integer\",\"minimum\":1}}}},\"a/b~c\":{\"const\":1}}}");
    bool valid = true;
    const char *got = error_paths(s,
                                  "{\"items\":[{\"qty\":0},{\"name\":5,\"qty\":2},{\"name\":\"ok\","
                                  "\"qty\":1.5}],\"a/b~c\":2}",
                                  &valid);
    MH_T_ASSERT(!valid);
    /* A missing property is reported at its own path; "/" and "~" in keys are escaped. */
    MH_T_ASSERT_STR_EQ(got, "/items/0/name required; /items/0/qty minimum; /items/1/name type; "
                            "/items/2/qty type; /a~1b~0c const");
    mh_schema_destroy(s);
}

MH_TEST(error_records_have_messages)
{
    struct mh_schema *s =
        compile("{\"properties\":{\"email\":{\"type\":\"string\",\"format\":\"email\"},"
                "\"n\":{\"maximum\":10},\"tags\":{\"uniqueItems\":true}},"
                "\"additionalProperties\":false}");
    bool valid = true;
    char *text = errors_of(s, "{\"email\":\"nope\",\"n\":11.5,\"tags\":[1,2,1],\"x\":0}", &valid);
    MH_T_ASSERT(!valid);
    MH_T_ASSERT_STR_EQ(
        text,
        "[{\"path\":\"/email\",\"keyword\":\"format\",\"message\":\"is not a valid email\"},"
        "{\"path\":\"/n\",\"keyword\":\"maximum\",\"message\":\"must be <= 10\"},"
        "{\"path\":\"/tags\",\"keyword\":\"uniqueItems\",\"message\":\"items 0 and 2 are "
        "equal\"},"
        "{\"path\":\"/x\",\"keyword\":\"additionalProperties\",\"message\":\"property \\\"x\\\" "
        "is not allowed\"}]");
    free(text);
    /* A valid instance gives an empty list. */
    text = errors_of(s, "{\"email\":\"a@b.co\",\"n\":10}", &valid);
    MH_T_ASSERT(valid);
    MH_T_ASSERT_STR_EQ(text, "[]");
    free(text);
    mh_schema_destroy(s);
}

MH_TEST(error_for_applicators)
{
    struct mh_schema *s = compile("{\"properties\":{\"a\":{\"anyOf\":[{\"type\":\"string\"},"
                                  "{\"type\":\"integer\"}]},\"b\":{\"not\":{\"type\":\"null\"}},"
                                  "\"c\":{\"oneOf\":[{\"minimum\":0},{\"maximum\":10}]},"
                                  "\"d\":{\"allOf\":[{\"type\":\"string\"},{\"minLength\":3}]}}}");
    bool valid = true;
    const char *got = error_paths(s, "{\"a\":1.5,\"b\":null,\"c\":5,\"d\":7}", &valid);
    MH_T_ASSERT(!valid);
    /* anyOf/not/oneOf report once; allOf passes its children's errors through. */
    MH_T_ASSERT_STR_EQ(got, "/a anyOf; /b not; /c oneOf; /d type");
    mh_schema_destroy(s);
}

MH_TEST(many_errors_are_reported_and_bounded)
{
    struct mh_schema *s = compile("{\"items\":{\"type\":\"string\"}}");
    json_t *arr = json_array();
    for (int i = 0; i < 500; i++)
        json_array_append_new(arr, json_integer(i));
    json_t *errors = NULL;
    MH_T_ASSERT(!mh_schema_validate(s, arr, &errors));
    MH_T_ASSERT_EQ(json_array_size(errors), MH_SCHEMA_DEFAULT_MAX_ERRORS);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 99), "path")),
                       "/99");
    json_decref(errors);
    mh_schema_destroy(s);

    /* A custom limit. */
    json_t *doc = parse("{\"items\":{\"type\":\"string\"}}");
    struct mh_schema_limits lim = {.max_errors = 3};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_schema_compile_ex(doc, &lim, &s, &info), MH_OK);
    MH_T_ASSERT(!mh_schema_validate(s, arr, &errors));
    MH_T_ASSERT_EQ(json_array_size(errors), 3);
    json_decref(errors);
    mh_schema_destroy(s);
    json_decref(doc);
    json_decref(arr);
}

static void expect_bad_schema(const char *text, const char *path, const char *needle)
{
    json_t *doc = parse(text);
    struct mh_schema *s = (struct mh_schema *)1;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_schema_compile(doc, &s, &info), MH_EINVAL);
    MH_T_ASSERT(s == NULL);
    MH_T_ASSERT_STR_EQ(info.kind, "schema");
    MH_T_ASSERT_STR_EQ(info.path, path);
    if (strstr(info.message, needle) == NULL)
        mh_t_fail(__FILE__, __LINE__, "message \"%s\" lacks \"%s\"", info.message, needle);
    json_decref(doc);
}

MH_TEST(bad_schemas_are_rejected_with_path_and_reason)
{
    expect_bad_schema("{\"type\":\"strin\"}", "/type", "unknown type \"strin\"");
    expect_bad_schema("{\"properties\":{\"a\":{\"minLength\":-1}}}", "/properties/a/minLength",
                      "non-negative integer");
    expect_bad_schema("{\"properties\":{\"a\":{\"minLength\":1.5}}}", "/properties/a/minLength",
                      "non-negative integer");
    expect_bad_schema("{\"items\":{\"pattern\":\"(\"}}", "/items/pattern",
                      "bad regular expression");
    expect_bad_schema("{\"patternProperties\":{\"[\":{}}}", "/patternProperties/[",
                      "bad regular expression");
    expect_bad_schema("{\"$ref\":\"#/$defs/missing\"}", "/$ref", "no such location");
    expect_bad_schema("{\"$ref\":\"https://example.com/other.json\"}", "/$ref", "not supported");
    expect_bad_schema("{\"items\":[{\"type\":\"string\"}]}", "/items", "prefixItems");
    expect_bad_schema("{\"allOf\":[]}", "/allOf", "non-empty array");
    expect_bad_schema("{\"anyOf\":[{},3]}", "/anyOf/1", "object or a boolean");
    expect_bad_schema("{\"required\":[\"a\",1]}", "/required", "array of strings");
    expect_bad_schema("{\"multipleOf\":0}", "/multipleOf", "greater than 0");
    expect_bad_schema("{\"enum\":{}}", "/enum", "must be an array");
    expect_bad_schema("{\"$defs\":{\"unused\":{\"type\":7}}}", "/$defs/unused/type", "type name");
    expect_bad_schema("{\"$anchor\":\"1bad\"}", "/$anchor", "name");
    expect_bad_schema("{\"$ref\":\"#/type\",\"type\":\"string\"}", "/$ref", "not at a schema");

    /* Not a schema at all. */
    json_t *num = json_integer(3);
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_schema_compile(num, &s, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "object or a boolean") != NULL);
    json_decref(num);
}

MH_TEST(boolean_root_schemas)
{
    struct mh_schema *t = compile("true");
    struct mh_schema *f = compile("false");
    bool valid = false;
    char *text = errors_of(t, "{\"anything\":[1]}", &valid);
    MH_T_ASSERT(valid);
    free(text);
    const char *got = error_paths(f, "1", &valid);
    MH_T_ASSERT(!valid);
    MH_T_ASSERT_STR_EQ(got, " false");
    mh_schema_destroy(t);
    mh_schema_destroy(f);
}

MH_TEST(ref_cycle_without_progress_hits_depth_limit)
{
    /* {"$ref": "#"} and a two-step cycle both recurse without consuming the instance. */
    const char *schemas[] = {
        "{\"$ref\":\"#\"}",
        "{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"allOf\":[{\"$ref\":\"#/$defs/a\"}]}},"
        "\"$ref\":\"#/$defs/a\"}",
    };
    for (size_t i = 0; i < 2; i++) {
        struct mh_schema *s = compile(schemas[i]);
        json_t *inst = json_integer(1);
        json_t *errors = NULL;
        MH_T_ASSERT(!mh_schema_validate(s, inst, NULL));
        MH_T_ASSERT(!mh_schema_validate(s, inst, &errors));
        json_t *last = json_array_get(errors, json_array_size(errors) - 1);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(last, "keyword")), "limit");
        MH_T_ASSERT(strstr(json_string_value(json_object_get(last, "message")), "deeper") != NULL);
        json_decref(errors);
        json_decref(inst);
        mh_schema_destroy(s);
    }
}

MH_TEST(deep_instance_against_recursive_schema_is_bounded)
{
    struct mh_schema *s = compile("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
    /* 50 levels are fine; 2000 levels exceed the depth limit instead of the stack. */
    int depths[] = {50, 2000};
    for (int k = 0; k < 2; k++) {
        json_t *inst = json_array();
        for (int i = 0; i < depths[k]; i++) {
            json_t *outer = json_array();
            json_array_append_new(outer, inst);
            inst = outer;
        }
        json_t *errors = NULL;
        bool ok = mh_schema_validate(s, inst, &errors);
        if (k == 0) {
            MH_T_ASSERT(ok);
        } else {
            MH_T_ASSERT(!ok);
            json_t *last = json_array_get(errors, json_array_size(errors) - 1);
            MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(last, "keyword")), "limit");
        }
        json_decref(errors);
        json_decref(inst);
    }
    mh_schema_destroy(s);
}

MH_TEST(step_limit_bounds_work)
{
    json_t *doc = parse("{\"items\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}");
    struct mh_schema_limits lim = {.max_steps = 100};
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_schema_compile_ex(doc, &lim, &s, &info), MH_OK);
    json_t *small = parse("[1, \"a\", 2]");
    MH_T_ASSERT(mh_schema_validate(s, small, NULL));
    json_t *big = json_array();
    for (int i = 0; i < 1000; i++)
        json_array_append_new(big, json_integer(i));
    json_t *errors = NULL;
    MH_T_ASSERT(!mh_schema_validate(s, big, &errors));
    MH_T_ASSERT_EQ(json_array_size(errors), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(errors, 0), "keyword")),
                       "limit");
    json_decref(errors);
    json_decref(big);
    json_decref(small);
    json_decref(doc);
    mh_schema_destroy(s);
}

MH_TEST(pathological_pattern_fails_validation_not_the_worker)
{
    struct mh_schema *s = compile("{\"pattern\":\"(a+)+$\"}");
    bool valid = true;
    char *text = errors_of(s, "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!\"", &valid);
    MH_T_ASSERT(!valid);
    MH_T_ASSERT(strstr(text, "\"keyword\":\"pattern\"") != NULL);
    MH_T_ASSERT(strstr(text, "limit exceeded") != NULL);
    free(text);
    mh_schema_destroy(s);
}

MH_TEST(schema_is_copied_at_compile)
{
    json_t *doc = parse("{\"type\":\"string\"}");
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_schema_compile(doc, &s, &info), MH_OK);
    json_object_set_new(doc, "type", json_string("integer"));
    json_decref(doc);
    json_t *str = json_string("x");
    MH_T_ASSERT(mh_schema_validate(s, str, NULL));
    json_decref(str);
    mh_schema_destroy(s);
    mh_schema_destroy(NULL);
}

struct thread_arg {
    const struct mh_schema *s;
    int good;
};

static void *validate_many(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 500; i++) {
        json_t *ok = json_pack("{s:s, s:i, s:[s]}", "id", "x", "n", i, "tags", "t");
        json_t *bad = json_pack("{s:i, s:i}", "id", i, "n", -1);
        json_t *errors = NULL;
        if (mh_schema_validate(a->s, ok, NULL) && !mh_schema_validate(a->s, bad, &errors) &&
            json_array_size(errors) == 2)
            a->good++;
        json_decref(errors);
        json_decref(ok);
        json_decref(bad);
    }
    return NULL;
}

MH_TEST(validate_from_many_threads)
{
    struct mh_schema *s = compile(
        "{\"required\":[\"id\"],\"properties\":{\"id\":{\"type\":\"string\",\"pattern\":"
        "\"^[a-z]+$\"},\"n\":{\"minimum\":0},\"tags\":{\"items\":{\"$ref\":\"#/$defs/t\"}}},"
        "\"$defs\":{\"t\":{\"type\":\"string\"}}}");
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){s, 0};
        MH_T_ASSERT_EQ(pthread_create(&t[i], NULL, validate_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        MH_T_ASSERT_EQ(args[i].good, 500);
    }
    mh_schema_destroy(s);
}
