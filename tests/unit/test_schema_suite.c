/* SPDX-License-Identifier: MIT */
/*
 * Data-driven driver for the official JSON-Schema-Test-Suite (draft 2020-12), read in place from
 * ../shared/suites/json-schema-test-suite/draft2020-12/ (never copied or edited). One case per
 * keyword file prints "file: passed/total" and fails if any test of the file fails. Every test
 * is also validated a second time with error collection on, which must give the same verdict
 * and a non-empty error list exactly when invalid. When ../shared is absent the cases skip.
 *
 * Tests MeshHook deliberately does not support would be listed by name in `skipped` with the
 * reason, and counted as skipped in their file's summary line. The list is empty: every test of
 * the files below passes.
 */
#include "schema/schema.h"

#include <stdio.h>

#include "harness.h"

#define SUITE_DIR "suites/json-schema-test-suite/draft2020-12"

struct skip {
    const char *file;
    const char *group; /* group description */
    const char *test;  /* test description, or NULL for the whole group */
    const char *reason;
};

/* Keep this list minimal and honest. */
static const struct skip skipped[] = {
    {NULL, NULL, NULL, NULL},
};

static const struct skip *find_skip(const char *file, const char *group, const char *test)
{
    for (size_t i = 0; i < sizeof(skipped) / sizeof(skipped[0]); i++) {
        const struct skip *s = &skipped[i];
        if (s->file == NULL)
            continue;
        if (strcmp(s->file, file) == 0 && strcmp(s->group, group) == 0 &&
            (s->test == NULL || strcmp(s->test, test) == 0))
            return s;
    }
    return NULL;
}

static void run_file(const char *file)
{
    const char *shared = mh_t_shared_dir();
    if (shared == NULL)
        MH_T_SKIP("../shared is absent");
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s/%s", shared, SUITE_DIR, file);
    FILE *probe = fopen(path, "r");
    if (probe == NULL)
        MH_T_SKIP("suite file is absent");
    fclose(probe);

    json_error_t jerr;
    json_t *groups = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    if (groups == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s (line %d)", file, jerr.text, jerr.line);
    MH_T_ASSERT(json_is_array(groups));

    int total = 0, passed = 0, skips = 0;
    size_t gi;
    json_t *g;
    json_array_foreach(groups, gi, g)
    {
        const char *gdesc = json_string_value(json_object_get(g, "description"));
        json_t *tests = json_object_get(g, "tests");
        struct mh_schema *s = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_schema_compile(json_object_get(g, "schema"), &s, &info);
        size_t ti;
        json_t *t;
        json_array_foreach(tests, ti, t)
        {
            const char *tdesc = json_string_value(json_object_get(t, "description"));
            bool want = json_is_true(json_object_get(t, "valid"));
            total++;
            if (find_skip(file, gdesc, tdesc) != NULL) {
                skips++;
                continue;
            }
            if (rc != MH_OK) {
                printf("    FAIL %s / %s: schema rejected: %s\n", gdesc, tdesc, info.message);
                continue;
            }
            json_t *data = json_object_get(t, "data");
            bool got = mh_schema_validate(s, data, NULL);
            json_t *errors = NULL;
            bool got2 = mh_schema_validate(s, data, &errors);
            bool consistent =
                got == got2 && json_is_array(errors) && (json_array_size(errors) == 0) == got2;
            if (got == want && consistent) {
                passed++;
            } else {
                char *e = json_dumps(errors, JSON_COMPACT);
                printf("    FAIL %s / %s: expected %s, got %s (with errors: %s %s)\n", gdesc, tdesc,
                       want ? "valid" : "invalid", got ? "valid" : "invalid",
                       got2 ? "valid" : "invalid", e ? e : "?");
                free(e);
            }
            json_decref(errors);
        }
        mh_schema_destroy(s);
    }
    json_decref(groups);
    printf("%s: %d/%d passed", file, passed, total - skips);
    if (skips)
        printf(" (%d skipped by name)", skips);
    printf("\n");
    MH_T_ASSERT(total > 0);
    MH_T_ASSERT_EQ(passed, total - skips);
}

MH_TEST(suite_additionalProperties)
{
    run_file("additionalProperties.json");
}

MH_TEST(suite_allOf)
{
    run_file("allOf.json");
}

MH_TEST(suite_anyOf)
{
    run_file("anyOf.json");
}

MH_TEST(suite_const)
{
    run_file("const.json");
}

MH_TEST(suite_enum)
{
    run_file("enum.json");
}

MH_TEST(suite_exclusiveMaximum)
{
    run_file("exclusiveMaximum.json");
}

MH_TEST(suite_exclusiveMinimum)
{
    run_file("exclusiveMinimum.json");
}

MH_TEST(suite_items)
{
    run_file("items.json");
}

MH_TEST(suite_maxItems)
{
    run_file("maxItems.json");
}

MH_TEST(suite_maxLength)
{
    run_file("maxLength.json");
}

MH_TEST(suite_maximum)
{
    run_file("maximum.json");
}

MH_TEST(suite_minItems)
{
    run_file("minItems.json");
}

MH_TEST(suite_minLength)
{
    run_file("minLength.json");
}

MH_TEST(suite_minimum)
{
    run_file("minimum.json");
}

MH_TEST(suite_not)
{
    run_file("not.json");
}

MH_TEST(suite_oneOf)
{
    run_file("oneOf.json");
}

MH_TEST(suite_pattern)
{
    run_file("pattern.json");
}

MH_TEST(suite_prefixItems)
{
    run_file("prefixItems.json");
}

MH_TEST(suite_properties)
{
    run_file("properties.json");
}

MH_TEST(suite_required)
{
    run_file("required.json");
}

MH_TEST(suite_type)
{
    run_file("type.json");
}

MH_TEST(suite_uniqueItems)
{
    run_file("uniqueItems.json");
}

MH_TEST(suite_format_date_time)
{
    run_file("optional/format/date-time.json");
}

MH_TEST(suite_format_email)
{
    run_file("optional/format/email.json");
}

MH_TEST(suite_format_uri)
{
    run_file("optional/format/uri.json");
}
