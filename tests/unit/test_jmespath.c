/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/jmespath beyond the compliance suite: MeshHook's own vectors in
 * tests/data/jmespath/ (same format as the suite), error kinds and offsets the editor shows,
 * the limits that keep hostile expressions harmless, sharing instead of copying, concurrent
 * evaluation of one compiled expression, the AST shape (precedence), and mh_jp_dump.
 */
#include <dirent.h>
#include <limits.h>
#include <pthread.h>

#include "core/buf.h"
#include "harness.h"
#include "test_jmespath_util.h"

static json_t *parse(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    MH_T_ASSERT(v != NULL);
    return v;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Runs every case of one vector file; returns the number of failures. */
static int run_vector_file(const char *path, const char *name)
{
    json_t *groups = jp_t_load(path);
    MH_T_ASSERT(json_is_array(groups));
    int total = 0, passed = 0;
    size_t gi, ci;
    json_t *group, *tcase;
    json_array_foreach(groups, gi, group)
    {
        json_t *given = json_object_get(group, "given");
        json_array_foreach(json_object_get(group, "cases"), ci, tcase)
        {
            const char *expr = json_string_value(json_object_get(tcase, "expression"));
            json_t *want = json_object_get(tcase, "result");
            const char *want_err = json_string_value(json_object_get(tcase, "error"));
            MH_T_ASSERT(expr != NULL && (want != NULL || want_err != NULL));
            struct mh_err_info info = MH_ERR_INFO_INIT;
            json_t *got = NULL;
            enum mh_err rc = jp_t_search(expr, given, &got, &info);
            bool ok = want_err ? rc == MH_EJMESPATH && strcmp(info.kind, want_err) == 0
                               : rc == MH_OK && jp_t_equal(want, got);
            total++;
            if (ok) {
                passed++;
            } else {
                fprintf(stderr, "    %s: %.200s\n      want: %s\n", name, expr,
                        want_err ? want_err : jp_t_show(want));
                fprintf(stderr, "      got:  %s%s%s\n", rc == MH_OK ? jp_t_show(got) : info.kind,
                        rc == MH_OK ? "" : ": ", rc == MH_OK ? "" : info.message);
            }
            json_decref(got);
        }
    }
    json_decref(groups);
    printf("%s: %d/%d passed\n", name, passed, total);
    MH_T_ASSERT(total > 0);
    return total - passed;
}

MH_TEST(own_vectors)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/tests/data/jmespath", mh_t_repo_dir());
    DIR *d = opendir(dir);
    MH_T_ASSERT(d != NULL);
    char *names[64];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < 64) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_names);
    int failures = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        failures += run_vector_file(path, names[i]);
        free(names[i]);
    }
    MH_T_ASSERT(n >= 4);
    MH_T_ASSERT_EQ(failures, 0);
}

struct err_case {
    const char *expr;
    const char *kind;
    long offset;
};

/* The editor underlines the offset: each error must point at the right byte. */
MH_TEST(compile_errors_kind_and_offset)
{
    static const struct err_case cases[] = {
        {"foo[?a == ]", "syntax", 10},
        {"a.`1`", "syntax", 2},
        {"'abc", "syntax", 0},
        {"foo.\"\\ud800\"", "syntax", 4},
        {"a ! b", "syntax", 2},
        {"a = b", "syntax", 2},
        {"a.b.", "syntax", 4},
        {"[a, b", "syntax", 5},
        {"{a: 1}", "syntax", 4},
        {"foo[1:2:0]", "invalid-value", 3},
        {"foo | unknown_fn(@)", "unknown-function", 6},
        {"x.abs(`1`, `2`)", "invalid-arity", 2},
        {"not_null()", "invalid-arity", 0},
        {"\"sum\"(@)", "syntax", 0},
        {"a\xff", "syntax", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mh_jp_expr *e = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_jp_compile(cases[i].expr, strlen(cases[i].expr), &e, &info);
        if (rc != MH_EJMESPATH || strcmp(info.kind, cases[i].kind) != 0 ||
            info.offset != cases[i].offset)
            fprintf(stderr, "    %s: got %s at %ld (%s)\n", cases[i].expr, info.kind, info.offset,
                    info.message);
        MH_T_ASSERT_EQ(rc, MH_EJMESPATH);
        MH_T_ASSERT(e == NULL);
        MH_T_ASSERT_STR_EQ(info.kind, cases[i].kind);
        MH_T_ASSERT_EQ(info.offset, cases[i].offset);
        MH_T_ASSERT(info.message[0] != '\0');
    }
}

MH_TEST(compile_takes_length_not_nul)
{
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    /* Only the first 3 bytes count. */
    MH_T_ASSERT_EQ(mh_jp_compile("abc.def", 3, &e, &info), MH_OK);
    json_t *doc = parse("{\"abc\": 1, \"def\": 2}");
    json_t *out = NULL;
    MH_T_ASSERT_EQ(mh_jp_eval(e, doc, &out, &info), MH_OK);
    MH_T_ASSERT_EQ(json_integer_value(out), 1);
    json_decref(out);
    mh_jp_expr_destroy(e);
    /* An embedded NUL is an ordinary (invalid) byte. */
    MH_T_ASSERT_EQ(mh_jp_compile("a\0b", 3, &e, &info), MH_EJMESPATH);
    MH_T_ASSERT_EQ(info.offset, 1);
    json_decref(doc);
}

MH_TEST(expression_length_limit)
{
    size_t n = MH_JP_MAX_EXPR_BYTES + 1;
    char *src = malloc(n);
    MH_T_ASSERT(src != NULL);
    memset(src, 'a', n);
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_jp_compile(src, n, &e, &info), MH_EJMESPATH);
    MH_T_ASSERT_STR_EQ(info.kind, "limit");
    /* Exactly at the limit is fine (one long identifier). */
    MH_T_ASSERT_EQ(mh_jp_compile(src, n - 1, &e, &info), MH_OK);
    mh_jp_expr_destroy(e);
    free(src);
}

MH_TEST(runtime_error_info)
{
    json_t *doc = parse("{\"foo\": \"x\", \"people\": [{\"age\": 1}, {\"age\": \"2\"}]}");
    const char *exprs[] = {"abs(foo)", "sort_by(people, &age)", "people | map(&age, @) | sum(@)"};
    const long offsets[] = {0, 0, 24};
    for (size_t i = 0; i < 3; i++) {
        struct mh_err_info info = MH_ERR_INFO_INIT;
        json_t *out = (json_t *)&info; /* must be reset to NULL on error */
        MH_T_ASSERT_EQ(jp_t_search(exprs[i], doc, &out, &info), MH_EJMESPATH);
        MH_T_ASSERT(out == NULL);
        MH_T_ASSERT_STR_EQ(info.kind, "invalid-type");
        MH_T_ASSERT_EQ(info.offset, offsets[i]);
    }
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *out = NULL;
    MH_T_ASSERT_EQ(jp_t_search("abs(foo)", doc, &out, &info), MH_EJMESPATH);
    MH_T_ASSERT(strstr(info.message, "abs()") != NULL);
    MH_T_ASSERT(strstr(info.message, "string") != NULL);
    /* info is optional. */
    MH_T_ASSERT_EQ(jp_t_search("abs(foo)", doc, &out, NULL), MH_EJMESPATH);
    json_decref(doc);
}

static json_t *number_array(int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_integer(i));
    return a;
}

MH_TEST(step_budget_and_stats)
{
    json_t *doc = json_pack("{s:o}", "nums", number_array(1000));
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *src = "nums[*].to_string(@)";
    MH_T_ASSERT_EQ(mh_jp_compile(src, strlen(src), &e, &info), MH_OK);

    struct mh_jp_stats stats;
    json_t *out = NULL;
    MH_T_ASSERT_EQ(mh_jp_eval_ex(e, doc, NULL, &stats, &out, &info), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(out), 1000);
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(out, 999)), "999");
    MH_T_ASSERT_EQ(stats.function_calls, 1000);
    MH_T_ASSERT(stats.steps >= 2000);
    json_decref(out);

    struct mh_jp_limits lim = {.max_steps = 500};
    MH_T_ASSERT_EQ(mh_jp_eval_ex(e, doc, &lim, &stats, &out, &info), MH_EJMESPATH);
    MH_T_ASSERT(out == NULL);
    MH_T_ASSERT_STR_EQ(info.kind, "limit");
    MH_T_ASSERT(stats.steps > 500 && stats.steps < 520);
    MH_T_ASSERT(stats.function_calls < 500);
    mh_jp_expr_destroy(e);
    json_decref(doc);
}

static enum mh_err eval_with(const char *src, json_t *doc, size_t max_elements, json_t **out,
                             struct mh_err_info *info)
{
    struct mh_jp_expr *e = NULL;
    enum mh_err rc = mh_jp_compile(src, strlen(src), &e, info);
    MH_T_ASSERT_EQ(rc, MH_OK);
    struct mh_jp_limits lim = {.max_elements = max_elements};
    rc = mh_jp_eval_ex(e, doc, &lim, NULL, out, info);
    mh_jp_expr_destroy(e);
    return rc;
}

MH_TEST(element_limit_counts_shared_references)
{
    json_t *doc = parse("{}");
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *src = "[@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @] | [@, @]";
    /* 2^8 - 1 = 255 logical nodes: fine under 300, refused under 200. */
    MH_T_ASSERT_EQ(eval_with(src, doc, 300, &out, &info), MH_OK);
    json_decref(out);
    MH_T_ASSERT_EQ(eval_with(src, doc, 200, &out, &info), MH_EJMESPATH);
    MH_T_ASSERT_STR_EQ(info.kind, "limit");
    json_decref(doc);

    /* A document container embedded in a new value counts with all its members. */
    doc = json_pack("{s:o}", "nums", number_array(1000));
    MH_T_ASSERT_EQ(eval_with("[nums, nums]", doc, 2500, &out, &info), MH_OK);
    json_decref(out);
    MH_T_ASSERT_EQ(eval_with("[nums, nums, nums]", doc, 2500, &out, &info), MH_EJMESPATH);
    MH_T_ASSERT_STR_EQ(info.kind, "limit");
    /* Returning (part of) the document itself builds nothing and is never refused. */
    MH_T_ASSERT_EQ(eval_with("nums", doc, 10, &out, &info), MH_OK);
    json_decref(out);
    /* Long built strings count by length. */
    MH_T_ASSERT_EQ(eval_with("join(',', nums[*].to_string(@))", doc, 100, &out, &info),
                   MH_EJMESPATH);
    MH_T_ASSERT_STR_EQ(info.kind, "limit");
    json_decref(doc);
}

/* Field access hands out the document's own values: no copies. */
MH_TEST(results_share_document_values)
{
    json_t *doc = parse("{\"a\": {\"b\": [1, {\"c\": true}]}}");
    json_t *inner = json_object_get(json_object_get(doc, "a"), "b");
    size_t before = inner->refcount;
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(jp_t_search("a.b", doc, &out, &info), MH_OK);
    MH_T_ASSERT(out == inner);
    MH_T_ASSERT_EQ(inner->refcount, before + 1);
    json_decref(out);
    MH_T_ASSERT_EQ(jp_t_search("[a.b[1], a.b[1]]", doc, &out, &info), MH_OK);
    MH_T_ASSERT(json_array_get(out, 0) == json_array_get(inner, 1));
    MH_T_ASSERT(json_array_get(out, 1) == json_array_get(inner, 1));
    json_decref(out);
    MH_T_ASSERT_EQ(inner->refcount, before);
    json_decref(doc);
}

MH_TEST(null_document)
{
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_jp_compile("type(@)", 7, &e, &info), MH_OK);
    json_t *out = NULL;
    MH_T_ASSERT_EQ(mh_jp_eval(e, NULL, &out, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(out), "null");
    json_decref(out);
    mh_jp_expr_destroy(e);
    mh_jp_expr_destroy(NULL);
}

MH_TEST(truthiness)
{
    const char *falsy[] = {"false", "null", "\"\"", "[]", "{}"};
    const char *truthy[] = {"true", "0", "0.0", "\" \"", "[null]", "{\"a\": null}", "-1"};
    for (size_t i = 0; i < sizeof(falsy) / sizeof(falsy[0]); i++) {
        json_t *v = parse(falsy[i]);
        MH_T_ASSERT(!mh_jp_is_truthy(v));
        json_decref(v);
    }
    for (size_t i = 0; i < sizeof(truthy) / sizeof(truthy[0]); i++) {
        json_t *v = parse(truthy[i]);
        MH_T_ASSERT(mh_jp_is_truthy(v));
        json_decref(v);
    }
    MH_T_ASSERT(!mh_jp_is_truthy(NULL));
}

static void assert_ast(const char *src, const char *want)
{
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_jp_compile(src, strlen(src), &e, &info), MH_OK);
    struct mh_buf b;
    mh_buf_init(&b, 4096);
    MH_T_ASSERT_EQ(mh_jp_expr_dump(e, &b), MH_OK);
    if (strcmp(mh_buf_str(&b), want) != 0)
        fprintf(stderr, "    %s\n      want %s\n      got  %s\n", src, want, mh_buf_str(&b));
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), want);
    mh_buf_cleanup(&b);
    mh_jp_expr_destroy(e);
}

/* Precedence and where projections stop, as the specification's binding powers say. */
MH_TEST(ast_shape)
{
    assert_ast("a.b.c", "(subexpr (field a) (field b) (field c))");
    assert_ast("a || b && c", "(or (field a) (and (field b) (field c)))");
    assert_ast("a || b || c", "(or (field a) (field b) (field c))");
    assert_ast("!a == b", "(cmp == (not (field a)) (field b))");
    assert_ast("a[*].b | c", "(pipe (project (field a) (field b)) (field c))");
    assert_ast("a[*].b[0]", "(project (field a) (subexpr (field b) (index 0)))");
    assert_ast("a[].b", "(project (flatten (field a)) (field b))");
    assert_ast("a[*].b[]", "(project (flatten (project (field a) (field b))) (current))");
    assert_ast("a[?b > `1`].c", "(filter (field a) (field c) (cmp > (field b) (literal 1)))");
    assert_ast("a[1:2]", "(project (subexpr (field a) (slice 1 2 1)) (current))");
    assert_ast("a[::-1].b", "(project (subexpr (field a) (slice _ _ -1)) (field b))");
    assert_ast("*.b", "(vproject (current) (field b))");
    assert_ast("{x: a, \"y z\": b}", "(hash x:(field a) \"y z\":(field b))");
    assert_ast("sort_by(a, &b.c)",
               "(call sort_by (field a) (expref (subexpr (field b) (field c))))");
    assert_ast("'raw'", "(literal \"raw\")");
    assert_ast("a.b[0].c", "(subexpr (field a) (field b) (index 0) (field c))");
}

/* Many threads evaluate one compiled expression against one shared document. */
struct thread_arg {
    const struct mh_jp_expr *e;
    json_t *doc;
    int ok;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 2000; i++) {
        json_t *out = NULL;
        if (mh_jp_eval(a->e, a->doc, &out, NULL) != MH_OK)
            return NULL;
        if (!json_is_string(out) || strcmp(json_string_value(out), "ann,cid") != 0) {
            json_decref(out);
            return NULL;
        }
        json_decref(out);
        a->ok++;
    }
    return NULL;
}

MH_TEST(concurrent_evaluation)
{
    json_t *doc = parse("{\"people\": [{\"name\": \"cid\", \"age\": 40}, {\"name\": \"bob\", "
                        "\"age\": 12}, {\"name\": \"ann\", \"age\": 33}]}");
    const char *src = "people[?age > `20`].name | sort(@) | join(',', @)";
    struct mh_jp_expr *e = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_jp_compile(src, strlen(src), &e, &info), MH_OK);
    pthread_t th[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){e, doc, 0};
        MH_T_ASSERT_EQ(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        MH_T_ASSERT_EQ(args[i].ok, 2000);
    }
    /* Every reference taken on the shared document was given back. */
    MH_T_ASSERT_EQ(json_object_get(doc, "people")->refcount, 1);
    mh_jp_expr_destroy(e);
    json_decref(doc);
}

MH_TEST(dump_formats)
{
    json_t *v = parse("{\"a\": [1, 0.1, 1.0, 1e21, -0.71], \"b\": {}, \"c\": [], \"d\": "
                      "\"q\\\"\\u0001\\u00e9\"}");
    struct mh_buf b;
    mh_buf_init(&b, 4096);
    MH_T_ASSERT_EQ(mh_jp_dump(v, 0, &b), MH_OK);
    MH_T_ASSERT_STR_EQ(
        mh_buf_str(&b),
        "{\"a\":[1,0.1,1.0,1e+21,-0.71],\"b\":{},\"c\":[],\"d\":\"q\\\"\\u0001\xc3\xa9\"}");
    mh_buf_reset(&b);
    json_t *small = parse("{\"a\": [1, {\"b\": null}], \"e\": []}");
    MH_T_ASSERT_EQ(mh_jp_dump(small, 2, &b), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  "
                                       "],\n  \"e\": []\n}");
    mh_buf_cleanup(&b);
    mh_buf_init(&b, 8);
    MH_T_ASSERT_EQ(mh_jp_dump(v, 0, &b), MH_ETOOBIG);
    mh_buf_cleanup(&b);
    json_decref(small);
    json_decref(v);
}

/* Regression cases found by fuzz_jp (tests/fuzz/corpus/jp/regress-*). */
MH_TEST(fuzz_regressions)
{
    json_t *doc = parse("[0, 1, 2]");
    json_t *out = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    /* Index digits overflowing long long (signed overflow in the lexer). */
    MH_T_ASSERT_EQ(jp_t_search("[:@:]9999999999999999999999999999", doc, &out, &info),
                   MH_EJMESPATH);
    MH_T_ASSERT_STR_EQ(info.kind, "syntax");
    MH_T_ASSERT_EQ(jp_t_search("[99999999999999999999999999999]", doc, &out, &info), MH_OK);
    MH_T_ASSERT(json_is_null(out));
    MH_T_ASSERT_EQ(jp_t_search("[-99999999999999999999999999999:]", doc, &out, &info), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(out), 3);
    json_decref(out);
    json_decref(doc);
}

/* The worst cases the bounds allow must fit in a modest thread stack (256 KiB; glibc's default
 * is 8 MiB; ASan's redzones make frames about four times larger): the deepest expression
 * nesting, and values nested as deep as jansson parses them. */
#ifdef __SANITIZE_ADDRESS__
#define SMALL_STACK_KIB 1024
#else
#define SMALL_STACK_KIB 256
#endif
struct stack_arg {
    int ok;
};

static char *nested(const char *open, const char *mid, const char *close, int depth)
{
    size_t lo = strlen(open), lc = strlen(close), lm = strlen(mid);
    char *s = malloc(depth * (lo + lc) + lm + 1);
    size_t p = 0;
    for (int i = 0; i < depth; i++, p += lo)
        memcpy(s + p, open, lo);
    memcpy(s + p, mid, lm);
    p += lm;
    for (int i = 0; i < depth; i++, p += lc)
        memcpy(s + p, close, lc);
    s[p] = '\0';
    return s;
}

static void *deep_main(void *p)
{
    struct stack_arg *a = p;
    /* jansson refuses documents nested deeper than 2048 levels. */
    char *deep_json = nested("[", "1", "]", 2000);
    json_t *doc = json_loads(deep_json, 0, NULL);
    const char *exprs[] = {"to_string(@) | length(@)", "[@, @] | [0] == [1]", "[[@]]"};
    char *fn_expr = nested("abs(", "`1`", ")", MH_JP_MAX_DEPTH - 2);
    char *list_expr = nested("[", "@", "]", MH_JP_MAX_DEPTH - 2);
    char *lit_expr = malloc(strlen(deep_json) + 16);
    snprintf(lit_expr, strlen(deep_json) + 16, "@ == `%s`", deep_json);
    a->ok = doc != NULL;
    for (size_t i = 0; a->ok && i < 6; i++) {
        const char *src = i < 3 ? exprs[i] : i == 3 ? fn_expr : i == 4 ? list_expr : lit_expr;
        json_t *out = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = jp_t_search(src, doc, &out, &info);
        a->ok = rc == MH_OK;
        if (rc != MH_OK)
            fprintf(stderr, "    case %zu: %s: %s\n", i, info.kind, info.message);
        json_decref(out);
    }
    json_decref(doc);
    free(deep_json);
    free(fn_expr);
    free(list_expr);
    free(lit_expr);
    return NULL;
}

MH_TEST(worst_case_depth_fits_a_small_stack)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    MH_T_ASSERT_EQ(pthread_attr_setstacksize(&attr, SMALL_STACK_KIB * 1024), 0);
    pthread_t th;
    struct stack_arg a = {0};
    MH_T_ASSERT_EQ(pthread_create(&th, &attr, deep_main, &a), 0);
    pthread_join(th, NULL);
    pthread_attr_destroy(&attr);
    MH_T_ASSERT_EQ(a.ok, 1);
}

/* What mh_jp_add_reads says `src` reads: its trie as compact JSON, or "ALL". */
static char *reads_of(const char *src)
{
    struct mh_jp_expr *e = NULL;
    MH_T_ASSERT_EQ(mh_jp_compile(src, strlen(src), &e, NULL), MH_OK);
    json_t *trie = json_object();
    bool ok = mh_jp_add_reads(e, trie);
    char *s = ok ? json_dumps(trie, JSON_COMPACT | JSON_SORT_KEYS) : strdup("ALL");
    json_decref(trie);
    mh_jp_expr_destroy(e);
    return s;
}

#define ASSERT_READS(src, want)                                                                    \
    do {                                                                                           \
        char *got_ = reads_of(src);                                                                \
        MH_T_ASSERT_STR_EQ(got_, want);                                                            \
        free(got_);                                                                                \
    } while (0)

MH_TEST(reads_names_the_paths_an_expression_reads)
{
    ASSERT_READS("trigger.body.id", "{\"trigger\":{\"body\":{\"id\":true}}}");
    ASSERT_READS("`1`", "{}");
    ASSERT_READS("'x'", "{}");
    /* What follows a link that is not a name only sees that link's result. */
    ASSERT_READS("a.b[0].c", "{\"a\":{\"b\":true}}");
    ASSERT_READS("a[*].b", "{\"a\":true}");
    ASSERT_READS("a[].b", "{\"a\":true}");
    ASSERT_READS("a[?x > `1`].y", "{\"a\":true}");
    ASSERT_READS("a.*.b", "{\"a\":true}");
    ASSERT_READS("a[1:2]", "{\"a\":true}");
    ASSERT_READS("a.b | [0]", "{\"a\":{\"b\":true}}");
    ASSERT_READS("a.{x: b.c, y: d}", "{\"a\":{\"b\":{\"c\":true},\"d\":true}}");
    ASSERT_READS("[a.b, c] || !d && e == f", "{\"a\":{\"b\":true},\"c\":true,\"d\":true,"
                                             "\"e\":true,\"f\":true}");
    ASSERT_READS("sort_by(a.items, &qty)[0]", "{\"a\":{\"items\":true}}");
    ASSERT_READS("length(a) > `0` && a.b", "{\"a\":true}");
    ASSERT_READS("a.length(@)", "{\"a\":true}");
    /* A shorter path covers a longer one, whichever comes first. */
    ASSERT_READS("[a.b.c, a.b]", "{\"a\":{\"b\":true}}");
    ASSERT_READS("[a.b, a.b.c]", "{\"a\":{\"b\":true}}");
    /* Quoted names are names, NUL included. */
    ASSERT_READS("\"a.b\".c", "{\"a.b\":{\"c\":true}}");
    /* The root itself. */
    ASSERT_READS("@", "ALL");
    ASSERT_READS("*", "ALL");
    ASSERT_READS("[0]", "ALL");
    ASSERT_READS("keys(@)", "ALL");
    ASSERT_READS("{a: a, all: @}", "ALL");
    ASSERT_READS("[?a]", "ALL");
}

/* The promise itself: on a document cut down to what the trie names, every expression gives
 * what it gives on the whole document. */
static json_t *cut(json_t *doc, json_t *trie)
{
    if (!json_is_object(doc))
        return json_incref(doc);
    json_t *out = json_object();
    const char *k;
    size_t klen;
    json_t *want;
    json_object_keylen_foreach(trie, k, klen, want)
    {
        json_t *v = json_object_getn(doc, k, klen);
        if (v != NULL)
            json_object_setn_new(out, k, klen, json_is_true(want) ? json_incref(v) : cut(v, want));
    }
    return out;
}

MH_TEST(reads_cut_document_gives_the_same_results)
{
    json_t *doc = json_loads("{\"a\": {\"b\": [1, {\"c\": 2}], \"d\": \"x\", \"e\": {\"f\": 3}},"
                             " \"items\": [{\"qty\": 2, \"sku\": \"s\"}, {\"qty\": 1}], \"n\": 5,"
                             " \"s\": \"str\", \"o\": {\"p\": null}}",
                             0, NULL);
    const char *exprs[] = {"a.b[1].c",
                           "a.e.f",
                           "a.*",
                           "items[?qty > `1`].sku",
                           "max_by(items, &qty)",
                           "a.{x: d, y: e.f, z: missing}",
                           "n > `3` && s",
                           "length(a.b)",
                           "o.p.q",
                           "a.d.x",
                           "to_string(a.e)",
                           "not_null(a.zz, n)",
                           "items[0] | qty",
                           "merge(a.e, o)",
                           "a.b[-1]",
                           "s[::-1]"};
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct mh_jp_expr *e = NULL;
        MH_T_ASSERT_EQ(mh_jp_compile(exprs[i], strlen(exprs[i]), &e, NULL), MH_OK);
        json_t *trie = json_object();
        MH_T_ASSERT(mh_jp_add_reads(e, trie));
        json_t *part = cut(doc, trie);
        json_t *whole_out = NULL, *part_out = NULL;
        enum mh_err rw = mh_jp_eval(e, doc, &whole_out, NULL);
        enum mh_err rp = mh_jp_eval(e, part, &part_out, NULL);
        MH_T_ASSERT_EQ(rp, rw);
        if (rw == MH_OK && !json_equal(whole_out, part_out))
            mh_t_fail(__FILE__, __LINE__, "%s differs on the cut document", exprs[i]);
        json_decref(whole_out);
        json_decref(part_out);
        json_decref(part);
        json_decref(trie);
        mh_jp_expr_destroy(e);
    }
    json_decref(doc);
}
