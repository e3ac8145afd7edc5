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

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "harness.h"
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

/* The whole file as a malloc'd NUL-terminated string; fails the test when unreadable. */
static inline char *jp_t_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    struct mh_buf b;
    mh_buf_init(&b, 1 << 22);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        MH_T_ASSERT_EQ(mh_buf_append(&b, chunk, n), MH_OK);
    fclose(f);
    return mh_buf_steal(&b, NULL);
}

/* Runs `meshhook jp` (mh_cli_jp) in a child with `in` on stdin; returns its output and status. */
static inline char *jp_t_run_cli(int argc, char **argv, const char *in, int *status)
{
    char tmpl_in[] = "/tmp/mh-docs-in.XXXXXX", tmpl_out[] = "/tmp/mh-docs-out.XXXXXX";
    int fin = mkstemp(tmpl_in), fout = mkstemp(tmpl_out);
    MH_T_ASSERT(fin >= 0 && fout >= 0);
    MH_T_ASSERT_EQ(write(fin, in, strlen(in)), (long long)strlen(in));
    lseek(fin, 0, SEEK_SET);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    MH_T_ASSERT(pid >= 0);
    if (pid == 0) {
        dup2(fin, 0);
        dup2(fout, 1);
        dup2(fout, 2);
        int st = mh_cli_jp(argc, argv);
        fflush(stdout);
        fflush(stderr);
        _exit(st);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128;
    close(fin);
    close(fout);
    char *out = jp_t_read_file(tmpl_out);
    unlink(tmpl_in);
    unlink(tmpl_out);
    return out;
}

#endif
