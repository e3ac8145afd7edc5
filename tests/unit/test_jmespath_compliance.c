/* SPDX-License-Identifier: MIT */
/*
 * The official JMESPath compliance suite, run as it is from ../shared/suites/jmespath-official/
 * tests/ (jq's jq.test is the model: the data drives the test). One case per suite file prints
 * "file: passed/total". A case with `result` must evaluate to that value (numbers compared by
 * value); a case with `error` must fail with exactly that error kind; a case that only carries
 * `bench` is for the benchmark and is skipped. Without ../shared every file is reported skipped.
 */
#include <dirent.h>
#include <limits.h>

#include "harness.h"
#include "test_jmespath_util.h"

static bool run_case(json_t *given, json_t *tcase, const char *file, int shown)
{
    const char *expr = json_string_value(json_object_get(tcase, "expression"));
    json_t *want = json_object_get(tcase, "result");
    const char *want_err = json_string_value(json_object_get(tcase, "error"));
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *got = NULL;
    bool ok;

    enum mh_err rc = jp_t_search(expr, given, &got, &info);
    if (want_err != NULL)
        ok = rc == MH_EJMESPATH && strcmp(info.kind, want_err) == 0;
    else
        ok = rc == MH_OK && jp_t_equal(want, got);
    if (!ok && shown < 25) {
        fprintf(stderr, "    %s: %s\n      want: %s\n", file, expr,
                want_err ? want_err : jp_t_show(want));
        if (rc == MH_OK)
            fprintf(stderr, "      got:  %s\n", jp_t_show(got));
        else
            fprintf(stderr, "      got:  error %s: %s (offset %ld)\n", info.kind, info.message,
                    info.offset);
    }
    json_decref(got);
    return ok;
}

/* A bench-only case has no expected value; it must still compile and evaluate cleanly. */
static int run_bench_case(json_t *given, json_t *tcase, const char *file)
{
    const char *expr = json_string_value(json_object_get(tcase, "expression"));
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *got = NULL;
    enum mh_err rc = jp_t_search(expr, given, &got, &info);
    if (rc != MH_OK)
        fprintf(stderr, "    %s: bench case %s: error %s: %s\n", file, expr, info.kind,
                info.message);
    json_decref(got);
    return rc == MH_OK;
}

static void run_file(const char *name)
{
    const char *shared = mh_t_shared_dir();
    if (shared == NULL)
        MH_T_SKIP("../shared is absent: the JMESPath compliance suite is not available");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/suites/jmespath-official/tests/%s", shared, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        MH_T_SKIP("the JMESPath compliance suite is not in ../shared/suites");
    fclose(f);

    json_t *groups = jp_t_load(path);
    MH_T_ASSERT(json_is_array(groups));
    int total = 0, passed = 0, bench_only = 0, bench_ok = 0;
    size_t gi;
    json_t *group;
    json_array_foreach(groups, gi, group)
    {
        json_t *given = json_object_get(group, "given");
        json_t *cases = json_object_get(group, "cases");
        size_t ci;
        json_t *tcase;
        json_array_foreach(cases, ci, tcase)
        {
            if (!json_object_get(tcase, "result") && !json_object_get(tcase, "error")) {
                /* "result": null is present-but-null and is a real case; only a case without
                 * either key is bench-only. */
                bench_only++;
                bench_ok += run_bench_case(given, tcase, name);
                continue;
            }
            total++;
            if (run_case(given, tcase, name, total - passed))
                passed++;
        }
    }
    json_decref(groups);
    printf("%s: %d/%d passed", name, passed, total);
    if (bench_only)
        printf(", %d bench-only cases skipped (%d/%d of them compile and evaluate)", bench_only,
               bench_ok, bench_only);
    printf("\n");
    MH_T_ASSERT(total + bench_only > 0);
    MH_T_ASSERT_EQ(passed, total);
    MH_T_ASSERT_EQ(bench_ok, bench_only);
}

#define SUITE_FILE(n)                                                                              \
    MH_TEST(suite_##n)                                                                             \
    {                                                                                              \
        run_file(#n ".json");                                                                      \
    }

SUITE_FILE(basic)
SUITE_FILE(benchmarks)
SUITE_FILE(boolean)
SUITE_FILE(current)
SUITE_FILE(escape)
SUITE_FILE(filters)
SUITE_FILE(functions)
SUITE_FILE(identifiers)
SUITE_FILE(indices)
SUITE_FILE(literal)
SUITE_FILE(multiselect)
SUITE_FILE(pipe)
SUITE_FILE(slice)
SUITE_FILE(syntax)
SUITE_FILE(unicode)
SUITE_FILE(wildcard)

/* The suite has exactly these 16 files; a new or renamed file must not go unnoticed. */
MH_TEST(suite_file_list_is_complete)
{
    const char *shared = mh_t_shared_dir();
    if (shared == NULL)
        MH_T_SKIP("../shared is absent");
    static const char *const known[] = {
        "basic.json",   "benchmarks.json", "boolean.json",     "current.json",
        "escape.json",  "filters.json",    "functions.json",   "identifiers.json",
        "indices.json", "literal.json",    "multiselect.json", "pipe.json",
        "slice.json",   "syntax.json",     "unicode.json",     "wildcard.json",
    };
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/suites/jmespath-official/tests", shared);
    DIR *d = opendir(dir);
    if (d == NULL)
        MH_T_SKIP("the JMESPath compliance suite is not in ../shared/suites");
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t len = strlen(de->d_name);
        if (len < 5 || strcmp(de->d_name + len - 5, ".json") != 0)
            continue;
        bool found = false;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            found = found || strcmp(known[i], de->d_name) == 0;
        if (!found)
            fprintf(stderr, "    suite file %s has no test case here\n", de->d_name);
        MH_T_ASSERT(found);
        n++;
    }
    closedir(d);
    MH_T_ASSERT_EQ(n, 16);
}
