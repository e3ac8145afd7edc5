/* SPDX-License-Identifier: MIT */
/*
 * `meshhook jp EXPR [FILE]`: evaluates a JMESPath expression against a JSON document read from
 * FILE or standard input, with the same engine the transform and branch nodes use, so a
 * workflow author can try an expression on a real payload from the shell. The result goes to
 * standard output as JSON; an error goes to standard error as "jp: <kind> error at offset N:
 * <message>" followed by the expression and a caret under the offending byte.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "jmespath/jmespath.h"

/* The largest document `jp` reads; bigger inputs are refused rather than half-read. */
#define JP_MAX_INPUT_BYTES ((size_t)256 * 1024 * 1024)

static void usage(FILE *f)
{
    fputs("usage: meshhook jp [options] EXPRESSION [FILE]\n"
          "\n"
          "Evaluates the JMESPath EXPRESSION against the JSON document in FILE (standard input\n"
          "when FILE is absent or '-') and prints the result as JSON.\n"
          "\n"
          "options:\n"
          "  -c, --compact  print the result on one line\n"
          "  -r, --raw      print a string result without quotes or escapes\n"
          "      --ast      print the compiled expression tree instead of evaluating\n"
          "  -h, --help     show this help\n"
          "\n"
          "exit status: 0 success, 1 expression or JSON error, 2 usage error\n",
          f);
}

/* Reads all of `f` into `b`. */
static enum mh_err read_all(FILE *f, struct mh_buf *b)
{
    char chunk[65536];
    size_t n;
    enum mh_err rc = MH_OK;
    while (rc == MH_OK && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        rc = mh_buf_append(b, chunk, n);
    if (rc == MH_OK && ferror(f))
        rc = MH_EIO;
    return rc;
}

/* Prints the error and, for errors with an offset, the expression with a caret under it. */
static void report(const char *expr, const struct mh_err_info *info)
{
    if (info->offset >= 0) {
        fprintf(stderr, "jp: %s error at offset %ld: %s\n", info->kind, info->offset,
                info->message);
        size_t len = strlen(expr);
        if ((size_t)info->offset <= len && len <= 200 && strchr(expr, '\n') == NULL)
            fprintf(stderr, "  %s\n  %*s^\n", expr, (int)info->offset, "");
    } else {
        fprintf(stderr, "jp: %s error: %s\n", info->kind, info->message);
    }
}

int mh_cli_jp(int argc, char **argv)
{
    bool compact = false, raw = false, ast = false;
    const char *expr = NULL, *file = NULL;
    int status = 1;
    struct mh_jp_expr *e = NULL;
    json_t *doc = NULL, *out = NULL;
    struct mh_buf in, text;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    FILE *f = NULL;

    mh_buf_init(&in, JP_MAX_INPUT_BYTES);
    mh_buf_init(&text, (size_t)1 << 31);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            status = 0;
            goto out;
        } else if (strcmp(a, "-c") == 0 || strcmp(a, "--compact") == 0) {
            compact = true;
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--raw") == 0) {
            raw = true;
        } else if (strcmp(a, "--ast") == 0) {
            ast = true;
        } else if (strcmp(a, "--") == 0 && i + 1 < argc && expr == NULL) {
            expr = argv[++i];
        } else if (a[0] == '-' && a[1] != '\0' && expr == NULL) {
            fprintf(stderr, "jp: unknown option '%s'\n", a);
            usage(stderr);
            status = 2;
            goto out;
        } else if (expr == NULL) {
            expr = a;
        } else if (file == NULL) {
            file = a;
        } else {
            fprintf(stderr, "jp: too many arguments\n");
            usage(stderr);
            status = 2;
            goto out;
        }
    }
    if (expr == NULL) {
        usage(stderr);
        status = 2;
        goto out;
    }

    if (mh_jp_compile(expr, strlen(expr), &e, &info) != MH_OK) {
        report(expr, &info);
        goto out;
    }
    if (ast) {
        if (mh_jp_expr_dump(e, &text) != MH_OK || mh_buf_append(&text, "\n", 1) != MH_OK) {
            fprintf(stderr, "jp: expression tree too large to print\n");
            goto out;
        }
        fwrite(mh_buf_str(&text), 1, mh_buf_len(&text), stdout);
        status = 0;
        goto out;
    }

    f = file == NULL || strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (f == NULL) {
        fprintf(stderr, "jp: cannot open %s: %s\n", file, strerror(errno));
        goto out;
    }
    enum mh_err rc = read_all(f, &in);
    if (rc != MH_OK) {
        fprintf(stderr, "jp: cannot read %s: %s\n", file ? file : "standard input",
                rc == MH_ETOOBIG ? "input is larger than 256 MiB" : strerror(errno));
        goto out;
    }
    json_error_t jerr;
    doc = json_loadb(mh_buf_str(&in), mh_buf_len(&in), JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (doc == NULL) {
        fprintf(stderr, "jp: invalid JSON in %s at line %d, column %d: %s\n",
                file ? file : "standard input", jerr.line, jerr.column, jerr.text);
        goto out;
    }
    mh_buf_cleanup(&in);

    if (mh_jp_eval(e, doc, &out, &info) != MH_OK) {
        report(expr, &info);
        goto out;
    }
    if (raw && json_is_string(out)) {
        rc = mh_buf_append(&text, json_string_value(out), json_string_length(out));
    } else {
        rc = mh_jp_dump(out, compact ? 0 : 2, &text);
    }
    if (rc == MH_OK)
        rc = mh_buf_append(&text, "\n", 1);
    if (rc != MH_OK) {
        fprintf(stderr, "jp: result too large to print\n");
        goto out;
    }
    if (fwrite(mh_buf_str(&text), 1, mh_buf_len(&text), stdout) != mh_buf_len(&text) ||
        fflush(stdout) != 0) {
        fprintf(stderr, "jp: cannot write the result: %s\n", strerror(errno));
        goto out;
    }
    status = 0;
out:
    if (f != NULL && f != stdin)
        fclose(f);
    json_decref(out);
    json_decref(doc);
    mh_jp_expr_destroy(e);
    mh_buf_cleanup(&text);
    mh_buf_cleanup(&in);
    return status;
}
