/* SPDX-License-Identifier: MIT */
/* Unit tests of src/regex: compile errors, search and groups, find-all, limits, ECMA flavour. */
#include "regex/regex.h"

#include <pthread.h>

#include "harness.h"

static struct mh_regex *compile(const char *pattern, unsigned flags)
{
    struct mh_regex *re = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_regex_compile(pattern, strlen(pattern), flags, NULL, &re, &info);
    if (rc != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "compile %s: %s", pattern, info.message);
    return re;
}

static bool matches(const struct mh_regex *re, const char *s)
{
    bool m = false;
    MH_T_ASSERT_EQ(mh_regex_test(re, s, strlen(s), &m), MH_OK);
    return m;
}

MH_TEST(regex_compile_error_has_offset)
{
    struct mh_regex *re = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *p = "abc(def";
    MH_T_ASSERT_EQ(mh_regex_compile(p, strlen(p), 0, NULL, &re, &info), MH_EINVAL);
    MH_T_ASSERT(re == NULL);
    MH_T_ASSERT_STR_EQ(info.kind, "regex");
    MH_T_ASSERT(strstr(info.message, "missing closing parenthesis") != NULL);
    MH_T_ASSERT_EQ(info.offset, 7);
    /* Unknown flags are refused, not ignored. */
    MH_T_ASSERT_EQ(mh_regex_compile("a", 1, 1u << 20, NULL, &re, &info), MH_EINVAL);
}

MH_TEST(regex_search_groups_and_offsets)
{
    struct mh_regex *re = compile("(\\w+)@(?<host>[a-z.]+)", 0);
    MH_T_ASSERT_EQ(mh_regex_group_count(re), 2);
    MH_T_ASSERT_EQ(mh_regex_group_index(re, "host"), 2);
    MH_T_ASSERT_EQ(mh_regex_group_index(re, "nope"), -1);
    const char *s = "mail: bob@example.org, ann@x.io";
    struct mh_regex_span g[4];
    bool m = false;
    MH_T_ASSERT_EQ(mh_regex_search(re, s, strlen(s), 0, g, 4, &m), MH_OK);
    MH_T_ASSERT(m);
    MH_T_ASSERT_EQ(g[0].start, 6);
    MH_T_ASSERT_EQ(g[0].end, 21);
    MH_T_ASSERT_EQ(g[1].start, 6);
    MH_T_ASSERT_EQ(g[1].end, 9);
    MH_T_ASSERT_EQ(g[2].start, 10);
    MH_T_ASSERT_EQ(g[3].start, MH_REGEX_UNSET);
    /* A later start offset finds the second address. */
    MH_T_ASSERT_EQ(mh_regex_search(re, s, strlen(s), 21, g, 1, &m), MH_OK);
    MH_T_ASSERT(m);
    MH_T_ASSERT_EQ(g[0].start, 23);
    MH_T_ASSERT_EQ(mh_regex_search(re, s, strlen(s), strlen(s) + 1, g, 1, &m), MH_EINVAL);
    mh_regex_destroy(re);
}

MH_TEST(regex_utf8_and_nul_bytes)
{
    /* Dot matches one code point, not one byte. */
    struct mh_regex *re = compile("^.$", 0);
    MH_T_ASSERT(matches(re, "\xcf\x80"));
    MH_T_ASSERT(!matches(re, "ab"));
    /* Invalid UTF-8 never matches and is not an error. */
    MH_T_ASSERT(!matches(re, "\xff"));
    mh_regex_destroy(re);
    /* Subjects and patterns are length-delimited, so NUL is an ordinary character. */
    struct mh_regex *nul = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_regex_compile("a\0b", 3, 0, NULL, &nul, &info), MH_OK);
    bool m = false;
    MH_T_ASSERT_EQ(mh_regex_test(nul, "xa\0by", 5, &m), MH_OK);
    MH_T_ASSERT(m);
    MH_T_ASSERT_EQ(mh_regex_test(nul, "xab", 3, &m), MH_OK);
    MH_T_ASSERT(!m);
    mh_regex_destroy(nul);
}

MH_TEST(regex_flags)
{
    struct mh_regex *ci = compile("^straße$", MH_REGEX_CASELESS);
    MH_T_ASSERT(matches(ci, "STRAßE"));
    mh_regex_destroy(ci);
    struct mh_regex *ml = compile("^b$", MH_REGEX_MULTILINE);
    MH_T_ASSERT(matches(ml, "a\nb\nc"));
    mh_regex_destroy(ml);
    struct mh_regex *plain = compile("^b$", 0);
    MH_T_ASSERT(!matches(plain, "a\nb\nc"));
    mh_regex_destroy(plain);
    struct mh_regex *dot = compile("a.b", MH_REGEX_DOTALL);
    MH_T_ASSERT(matches(dot, "a\nb"));
    mh_regex_destroy(dot);
}

MH_TEST(regex_find_all)
{
    struct mh_regex *re = compile("\\d+", 0);
    const char *s = "a1 b22 c333";
    struct mh_regex_span *sp = NULL;
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_regex_find_all(re, s, strlen(s), 0, 10, &sp, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 3);
    MH_T_ASSERT_EQ(sp[0].start, 1);
    MH_T_ASSERT_EQ(sp[1].start, 4);
    MH_T_ASSERT_EQ(sp[1].end, 6);
    MH_T_ASSERT_EQ(sp[2].start, 8);
    MH_T_ASSERT_EQ(sp[2].end, 11);
    free(sp);
    /* The cap on matches is an error, and nothing is returned. */
    MH_T_ASSERT_EQ(mh_regex_find_all(re, s, strlen(s), 0, 2, &sp, &n), MH_ETOOBIG);
    MH_T_ASSERT(sp == NULL);
    MH_T_ASSERT_EQ(n, 0);
    /* No match: success, empty. */
    MH_T_ASSERT_EQ(mh_regex_find_all(re, "abc", 3, 0, 10, &sp, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 0);
    MH_T_ASSERT(sp == NULL);
    MH_T_ASSERT_EQ(mh_regex_find_all(re, "abc", 3, 1, 10, &sp, &n), MH_EINVAL);
    mh_regex_destroy(re);
}

MH_TEST(regex_find_all_group_and_empty_matches)
{
    /* Group 1 of each match; matches without it are left out. */
    struct mh_regex *re = compile("key=(\\w+)|other", 0);
    const char *s = "key=abc other key=de";
    struct mh_regex_span *sp = NULL;
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_regex_find_all(re, s, strlen(s), 1, 10, &sp, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 2);
    MH_T_ASSERT_EQ(sp[0].start, 4);
    MH_T_ASSERT_EQ(sp[0].end, 7);
    MH_T_ASSERT_EQ(sp[1].start, 18);
    free(sp);
    mh_regex_destroy(re);
    /*
     * An empty alternative must not hide a real match at the same spot: "x*|b" matches empty at
     * 0, and the non-empty retry there must find "b".
     */
    struct mh_regex *e = compile("x*|b", 0);
    MH_T_ASSERT_EQ(mh_regex_find_all(e, "b\xcf\x80xx", 5, 0, 10, &sp, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 2);
    MH_T_ASSERT_EQ(sp[0].start, 0);
    MH_T_ASSERT_EQ(sp[0].end, 1);
    MH_T_ASSERT_EQ(sp[1].start, 3);
    MH_T_ASSERT_EQ(sp[1].end, 5);
    free(sp);
    mh_regex_destroy(e);
}

MH_TEST(regex_catastrophic_backtracking_hits_limit)
{
    struct mh_regex *re = compile("(a+)+$", 0);
    const char *s = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!";
    bool m = true;
    MH_T_ASSERT_EQ(mh_regex_test(re, s, strlen(s), &m), MH_ELIMIT);
    MH_T_ASSERT(!m);
    struct mh_regex_span *sp = NULL;
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_regex_find_all(re, s, strlen(s), 0, 10, &sp, &n), MH_ELIMIT);
    MH_T_ASSERT(sp == NULL);
    /* The same pattern on a benign subject still works. */
    MH_T_ASSERT(matches(re, "aaa"));
    mh_regex_destroy(re);
}

MH_TEST(regex_small_match_limit_applies)
{
    /* A tiny match limit makes even a modest backtracking search fail, in JIT or interpreter. */
    struct mh_regex_limits lim = {.match_limit = 50};
    struct mh_regex *re = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *p = "(a|b|ab)*(?:c|d)";
    MH_T_ASSERT_EQ(mh_regex_compile(p, strlen(p), 0, &lim, &re, &info), MH_OK);
    const char *s = "abababababababababababababababab";
    bool m = false;
    MH_T_ASSERT_EQ(mh_regex_test(re, s, strlen(s), &m), MH_ELIMIT);
    mh_regex_destroy(re);
}

MH_TEST(regex_wall_clock_budget_bounds_whole_scan)
{
    /*
     * Each start position stays far below the match limit, but there are many: only the
     * wall-clock budget stops this scan, and it must report MH_ELIMIT rather than finish.
     */
    struct mh_regex_limits lim = {.max_total_ms = 20};
    struct mh_regex *re = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *p = "(a+)+(?:b|c)";
    MH_T_ASSERT_EQ(mh_regex_compile(p, strlen(p), 0, &lim, &re, &info), MH_OK);
    size_t len = 14 * 40000;
    char *s = malloc(len);
    for (size_t i = 0; i < len; i += 14) {
        memset(s + i, 'a', 13);
        s[i + 13] = '!';
    }
    bool m = false;
    MH_T_ASSERT_EQ(mh_regex_test(re, s, len, &m), MH_ELIMIT);
    free(s);
    mh_regex_destroy(re);
}

MH_TEST(regex_ecma_flavour)
{
    /* $ only at the very end. */
    struct mh_regex *e = compile("^abc$", MH_REGEX_ECMA);
    MH_T_ASSERT(!matches(e, "abc\n"));
    mh_regex_destroy(e);
    struct mh_regex *p = compile("^abc$", 0);
    MH_T_ASSERT(matches(p, "abc\n"));
    mh_regex_destroy(p);
    /* Long general-category names. */
    struct mh_regex *l = compile("^\\p{Letter}+$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(l, "Hello\xcf\x80"));
    MH_T_ASSERT(!matches(l, "123"));
    mh_regex_destroy(l);
    struct mh_regex *gc = compile("^[\\p{gc=Lu}\\P{Decimal_Number}]$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(gc, "A"));
    MH_T_ASSERT(!matches(gc, "7"));
    mh_regex_destroy(gc);
    struct mh_regex *sc = compile("^\\p{Script=Greek}$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(sc, "\xcf\x80"));
    MH_T_ASSERT(!matches(sc, "p"));
    mh_regex_destroy(sc);
    /* \u escapes, and an escaped backslash before "p{" is left alone. */
    struct mh_regex *u = compile("^\\u00e9\\u{3c0}$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(u, "\xc3\xa9\xcf\x80"));
    mh_regex_destroy(u);
    struct mh_regex *bs = compile("^\\\\p{Letter}$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(bs, "\\p{Letter}"));
    mh_regex_destroy(bs);
    /* [^] is any character, as in ECMA-262. */
    struct mh_regex *any = compile("^a[^]b$", MH_REGEX_ECMA);
    MH_T_ASSERT(matches(any, "a\nb"));
    mh_regex_destroy(any);
}

MH_TEST(regex_leading_verbs_keep_working)
{
    /* (*...) start options stay first even though the budget callout is planted. */
    struct mh_regex *re = compile("(*NOTEMPTY)(*LIMIT_MATCH=100000)a+", 0);
    MH_T_ASSERT(matches(re, "baa"));
    MH_T_ASSERT(!matches(re, "bbb"));
    mh_regex_destroy(re);
}

struct thread_arg {
    const struct mh_regex *re;
    int hits;
};

static void *thread_main(void *p)
{
    struct thread_arg *a = p;
    char buf[64];
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(buf, sizeof(buf), "id-%d user%d@example.com", i, i);
        struct mh_regex_span g[2];
        bool m = false;
        if (mh_regex_search(a->re, buf, (size_t)len, 0, g, 2, &m) == MH_OK && m &&
            g[1].end - g[1].start == (size_t)snprintf(NULL, 0, "user%d", i))
            a->hits++;
    }
    return NULL;
}

MH_TEST(regex_shared_across_threads)
{
    struct mh_regex *re = compile("(\\w+)@example\\.com", 0);
    pthread_t t[4];
    struct thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct thread_arg){re, 0};
        MH_T_ASSERT_EQ(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        MH_T_ASSERT_EQ(args[i].hits, 2000);
    }
    mh_regex_destroy(re);
}
