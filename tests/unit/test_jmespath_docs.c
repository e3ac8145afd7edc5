/* SPDX-License-Identifier: MIT */
/*
 * Checks every example of docs/jmespath.md, so the user's guide cannot drift from the engine.
 * The guide writes examples as fenced blocks the test understands:
 *
 *   ```json input=NAME         a document the examples refer to by name
 *   ```jmespath input=NAME     an expression, evaluated against that document, followed by
 *   ```json result             ... the exact JSON result, or by
 *   ```text error=KIND         ... the error kind, with text the message must contain
 *   ```console                 "$ [echo 'JSON' |] meshhook jp ARGS [# exit N]" lines, each
 *                              followed by its exact output (stdout and stderr)
 *
 * Any other fenced block fails the test: an example nobody checks is not allowed in the guide.
 */
#include <fcntl.h>
#include <limits.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "harness.h"
#include "test_jmespath_util.h"

#define MAX_INPUTS 16

struct block {
    char info[128];
    struct mh_buf body;
    int line;
};

struct docs {
    char *text;
    size_t pos;
    int line;
    const char *input_names[MAX_INPUTS];
    json_t *inputs[MAX_INPUTS];
    int ninputs;
};

/* Reads the next line (without its newline) into `out`; false at the end. */
static bool next_line(struct docs *d, const char **out, size_t *len)
{
    if (d->text[d->pos] == '\0')
        return false;
    const char *s = d->text + d->pos;
    const char *nl = strchr(s, '\n');
    *len = nl ? (size_t)(nl - s) : strlen(s);
    *out = s;
    d->pos += *len + (nl ? 1 : 0);
    d->line++;
    return true;
}

/* Finds the next fenced block; false at the end of the file. */
static bool next_block(struct docs *d, struct block *b)
{
    const char *s;
    size_t len;
    while (next_line(d, &s, &len)) {
        if (len < 3 || strncmp(s, "```", 3) != 0)
            continue;
        snprintf(b->info, sizeof(b->info), "%.*s", (int)(len - 3), s + 3);
        b->line = d->line;
        mh_buf_init(&b->body, 1 << 20);
        while (next_line(d, &s, &len)) {
            if (len == 3 && strncmp(s, "```", 3) == 0)
                return true;
            MH_T_ASSERT_EQ(mh_buf_append(&b->body, s, len), MH_OK);
            MH_T_ASSERT_EQ(mh_buf_append(&b->body, "\n", 1), MH_OK);
        }
        mh_t_fail(__FILE__, __LINE__, "docs line %d: unterminated fenced block", b->line);
    }
    return false;
}

static json_t *input(struct docs *d, const char *name)
{
    for (int i = 0; i < d->ninputs; i++)
        if (strcmp(d->input_names[i], name) == 0)
            return d->inputs[i];
    fprintf(stderr, "    no input named %s\n", name);
    MH_T_ASSERT(false);
    return NULL;
}

/* Checks one "jmespath" example against the block that follows it. */
static void check_example(struct docs *d, struct block *ex)
{
    struct block want;
    MH_T_ASSERT(next_block(d, &want));
    json_t *doc = input(d, ex->info + strlen("jmespath input="));
    char *expr = strdup(mh_buf_str(&ex->body));
    expr[strcspn(expr, "\n")] = '\0';
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *got = NULL;
    enum mh_err rc = jp_t_search(expr, doc, &got, &info);
    if (strcmp(want.info, "json result") == 0) {
        json_error_t jerr;
        json_t *expect = json_loads(mh_buf_str(&want.body), JSON_DECODE_ANY, &jerr);
        if (expect == NULL)
            mh_t_fail(__FILE__, __LINE__, "docs line %d: bad JSON: %s", want.line, jerr.text);
        if (rc != MH_OK || !jp_t_equal(expect, got)) {
            fprintf(stderr, "    docs line %d: %s\n      want %s\n", ex->line, expr,
                    jp_t_show(expect));
            fprintf(stderr, "      got  %s\n", rc == MH_OK ? jp_t_show(got) : info.message);
        }
        MH_T_ASSERT_EQ(rc, MH_OK);
        MH_T_ASSERT(jp_t_equal(expect, got));
        json_decref(expect);
    } else if (strncmp(want.info, "text error=", 11) == 0) {
        char *msg = strdup(mh_buf_str(&want.body));
        msg[strcspn(msg, "\n")] = '\0';
        if (rc != MH_EJMESPATH || strcmp(info.kind, want.info + 11) != 0 ||
            strstr(info.message, msg) == NULL)
            fprintf(stderr, "    docs line %d: %s\n      want %s: %s\n      got  %s: %s\n",
                    ex->line, expr, want.info + 11, msg, info.kind, info.message);
        MH_T_ASSERT_EQ(rc, MH_EJMESPATH);
        MH_T_ASSERT_STR_EQ(info.kind, want.info + 11);
        MH_T_ASSERT(strstr(info.message, msg) != NULL);
        free(msg);
    } else {
        mh_t_fail(__FILE__, __LINE__,
                  "docs line %d: a jmespath example must be followed by a "
                  "\"json result\" or \"text error=KIND\" block",
                  ex->line);
    }
    json_decref(got);
    free(expr);
    mh_buf_cleanup(&want.body);
}

/* Splits a shell-like command line: single-quoted words or bare words. */
static int split_words(char *s, char **argv, int max)
{
    int n = 0;
    while (*s && n < max) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        if (*s == '\'') {
            char *end = strchr(s + 1, '\'');
            MH_T_ASSERT(end != NULL);
            *end = '\0';
            argv[n++] = s + 1;
            s = end + 1;
        } else {
            argv[n++] = s;
            while (*s && *s != ' ')
                s++;
            if (*s)
                *s++ = '\0';
        }
    }
    return n;
}

static int check_console(struct block *b)
{
    char *text = strdup(mh_buf_str(&b->body));
    int commands = 0;
    char *line = text;
    while (line && *line) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        MH_T_ASSERT(strncmp(line, "$ ", 2) == 0);
        char *cmd = line + 2;
        /* Expected output: the lines up to the next command. */
        struct mh_buf want;
        mh_buf_init(&want, 1 << 16);
        while (next && *next && strncmp(next, "$ ", 2) != 0) {
            char *nl = strchr(next, '\n');
            size_t len = nl ? (size_t)(nl - next) : strlen(next);
            MH_T_ASSERT_EQ(mh_buf_append(&want, next, len), MH_OK);
            MH_T_ASSERT_EQ(mh_buf_append(&want, "\n", 1), MH_OK);
            next = nl ? nl + 1 : NULL;
        }
        int want_status = 0;
        char *hash = strstr(cmd, "   # exit ");
        if (hash) {
            want_status = (int)strtol(hash + 10, NULL, 10);
            *hash = '\0';
        }
        const char *in = "";
        char in_buf[4096];
        if (strncmp(cmd, "echo '", 6) == 0) {
            char *end = strstr(cmd + 6, "' | ");
            MH_T_ASSERT(end != NULL);
            snprintf(in_buf, sizeof(in_buf), "%.*s\n", (int)(end - (cmd + 6)), cmd + 6);
            in = in_buf;
            cmd = end + 4;
        }
        MH_T_ASSERT(strncmp(cmd, "meshhook jp ", 12) == 0);
        char *argv[16] = {"jp"};
        int argc = 1 + split_words(cmd + 12, argv + 1, 14);
        int status;
        char *out = jp_t_run_cli(argc, argv, in, &status);
        if (strcmp(out, mh_buf_str(&want)) != 0 || status != want_status)
            fprintf(stderr,
                    "    docs line %d: %s\n      want (exit %d):\n%s      got (exit %d):\n%s",
                    b->line, line + 2, want_status, mh_buf_str(&want), status, out);
        MH_T_ASSERT_STR_EQ(out, mh_buf_str(&want));
        MH_T_ASSERT_EQ(status, want_status);
        free(out);
        mh_buf_cleanup(&want);
        commands++;
        line = next;
    }
    free(text);
    return commands;
}

MH_TEST(every_example_in_the_guide)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/docs/jmespath.md", mh_t_repo_dir());
    struct docs d = {.text = jp_t_read_file(path)};
    struct block b;
    int examples = 0, commands = 0;
    while (next_block(&d, &b)) {
        if (strncmp(b.info, "json input=", 11) == 0) {
            MH_T_ASSERT(d.ninputs < MAX_INPUTS);
            json_error_t jerr;
            json_t *v = json_loads(mh_buf_str(&b.body), 0, &jerr);
            if (v == NULL)
                mh_t_fail(__FILE__, __LINE__, "docs line %d: bad JSON: %s", b.line, jerr.text);
            d.input_names[d.ninputs] = strdup(b.info + 11);
            d.inputs[d.ninputs++] = v;
        } else if (strncmp(b.info, "jmespath input=", 15) == 0) {
            check_example(&d, &b);
            examples++;
        } else if (strcmp(b.info, "console") == 0) {
            commands += check_console(&b);
        } else {
            mh_t_fail(__FILE__, __LINE__,
                      "docs line %d: fenced block \"%s\" is not a checked "
                      "example (see the top of this file)",
                      b.line, b.info);
        }
        mh_buf_cleanup(&b.body);
    }
    printf("docs/jmespath.md: %d expression examples and %d shell commands checked\n", examples,
           commands);
    /* The guide must keep its examples: losing them silently would make this test vacuous. */
    MH_T_ASSERT(d.ninputs >= 3);
    MH_T_ASSERT(examples >= 40);
    MH_T_ASSERT(commands >= 5);
    for (int i = 0; i < d.ninputs; i++) {
        json_decref(d.inputs[i]);
        free((void *)d.input_names[i]);
    }
    free(d.text);
}
