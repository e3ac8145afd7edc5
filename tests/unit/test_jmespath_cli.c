/* SPDX-License-Identifier: MIT */
/*
 * `meshhook jp` (mh_cli_jp): exit statuses (0 result, 1 expression or JSON error, 2 usage), where
 * output goes, and reading from a file. The happy paths shown in docs/jmespath.md are checked
 * by test_jmespath_docs; this covers the rest.
 */
#include <limits.h>
#include <stdarg.h>

#include "harness.h"
#include "test_jmespath_util.h"

static char *run(int *status, const char *in, int argc, ...)
{
    char *argv[16] = {"jp"};
    va_list ap;
    va_start(ap, argc);
    for (int i = 1; i < argc && i < 16; i++)
        argv[i] = va_arg(ap, char *);
    va_end(ap);
    return jp_t_run_cli(argc, argv, in, status);
}

MH_TEST(help_and_usage_errors)
{
    int st;
    char *out = run(&st, "", 2, "--help");
    MH_T_ASSERT_EQ(st, 0);
    MH_T_ASSERT(strncmp(out, "usage: meshhook jp", 18) == 0);
    free(out);
    out = run(&st, "", 1);
    MH_T_ASSERT_EQ(st, 2);
    MH_T_ASSERT(strstr(out, "usage:") != NULL);
    free(out);
    out = run(&st, "", 3, "--bogus", "a");
    MH_T_ASSERT_EQ(st, 2);
    MH_T_ASSERT(strstr(out, "unknown option '--bogus'") != NULL);
    free(out);
    out = run(&st, "", 4, "a", "f1", "f2");
    MH_T_ASSERT_EQ(st, 2);
    MH_T_ASSERT(strstr(out, "too many arguments") != NULL);
    free(out);
}

MH_TEST(errors_exit_1)
{
    int st;
    char *out = run(&st, "{\"a\": [1,}", 2, "a");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT(strstr(out, "jp: invalid JSON in standard input at line 1") != NULL);
    free(out);
    out = run(&st, "{\"a\": \"x\"}\n", 2, "abs(a)");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT_STR_EQ(out, "jp: invalid-type error at offset 0: abs() argument 1 must be a "
                            "number, got string\n  abs(a)\n  ^\n");
    free(out);
    out = run(&st, "{}", 2, "nope(@)");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT(strstr(out, "jp: unknown-function error at offset 0: unknown function nope()") !=
                NULL);
    free(out);
    out = run(&st, "", 3, "a", "/nonexistent/input.json");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT(strstr(out, "jp: cannot open /nonexistent/input.json") != NULL);
    free(out);
    /* A limit is reported without an offset. */
    out = run(&st, "{}", 2,
              "[@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | "
              "[@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | "
              "[@, @] | [@, @] | [@, @] | [@, @] | [@, @]");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT(strncmp(out, "jp: limit error: result has more than", 37) == 0);
    free(out);
}

MH_TEST(reads_a_file_and_dash_is_stdin)
{
    char path[] = "/tmp/mh-jp-cli.XXXXXX";
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    const char *doc = "{\"n\": [3, 1.5, 2], \"s\": \"tab\\there\"}";
    MH_T_ASSERT_EQ(write(fd, doc, strlen(doc)), (long long)strlen(doc));
    close(fd);
    int st;
    char *out = run(&st, "", 4, "-c", "sort(n)", path);
    MH_T_ASSERT_EQ(st, 0);
    MH_T_ASSERT_STR_EQ(out, "[1.5,2,3]\n");
    free(out);
    out = run(&st, "", 4, "--raw", "s", path);
    MH_T_ASSERT_EQ(st, 0);
    MH_T_ASSERT_STR_EQ(out, "tab\there\n");
    free(out);
    out = run(&st, "", 3, "s", path);
    MH_T_ASSERT_STR_EQ(out, "\"tab\\there\"\n");
    free(out);
    out = run(&st, "[1]", 3, "[0]", "-");
    MH_T_ASSERT_EQ(st, 0);
    MH_T_ASSERT_STR_EQ(out, "1\n");
    free(out);
    /* An expression may start with '-' after "--" (here it is a syntax error, not an option). */
    out = run(&st, "{}", 3, "--", "-a");
    MH_T_ASSERT_EQ(st, 1);
    MH_T_ASSERT(strstr(out, "syntax error at offset 0") != NULL);
    free(out);
    unlink(path);
}
