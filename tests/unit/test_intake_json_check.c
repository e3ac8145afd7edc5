/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the intake's validate-only JSON checker (src/intake/json_check.c). Each input
 * has an expected verdict from the checker and one from jansson — the parser the run uses later.
 * They are the same except in the two ways the checker is stricter: nesting deeper than
 * MH_INTAKE__JSON_MAX_DEPTH, and a NUL byte where jansson's lexer drops it (after a number or a
 * literal). So a test here fails both when the checker breaks and when the library changes
 * behind it. Plus generated inputs: deep nesting, big objects, numbers at the edge of a double,
 * a seeded random differential run, and the error message's format.
 */
#include <jansson.h>

#include "core/mem.h"
#include "harness.h"
#include "intake/json_check.h"

#define JANSSON_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

static bool checker_accepts(const char *s, size_t n)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_intake__json_check(s, n, &info);
    if (rc != MH_OK && rc != MH_EINVAL)
        mh_t_fail(__FILE__, __LINE__, "unexpected status %d", (int)rc);
    if (rc == MH_EINVAL && (strcmp(info.kind, "json") != 0 || info.offset < 0 ||
                            (size_t)info.offset > n || info.message[0] == '\0'))
        mh_t_fail(__FILE__, __LINE__, "malformed error: kind '%s', offset %ld, message '%s'",
                  info.kind, info.offset, info.message);
    return rc == MH_OK;
}

static bool jansson_accepts(const char *s, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(s, n, JANSSON_FLAGS, &e);
    json_decref(v);
    return v != NULL;
}

/* Prints an input for a failure message, bytes outside printable ASCII escaped. */
static const char *show(const char *s, size_t n)
{
    static char out[160];
    size_t o = 0;
    for (size_t i = 0; i < n && o + 8 < sizeof(out); i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x20 && b < 0x7f)
            out[o++] = (char)b;
        else
            o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", b);
    }
    if (n > 0 && o + 8 >= sizeof(out))
        o += (size_t)snprintf(out + o, sizeof(out) - o, "...");
    out[o] = '\0';
    return out;
}

/* Checks the expected verdicts of the checker and of jansson. */
static void expect(const char *s, size_t n, bool want, bool lib_want, int line)
{
    bool got = checker_accepts(s, n);
    if (got != want)
        mh_t_fail(__FILE__, line, "checker %s <%s>", got ? "accepted" : "refused", show(s, n));
    bool lib = jansson_accepts(s, n);
    if (lib != lib_want)
        mh_t_fail(__FILE__, line, "jansson %s <%s>: the table is wrong or jansson changed",
                  lib ? "accepted" : "refused", show(s, n));
}

struct vector {
    const char *s;
    size_t n;
    bool want, lib_want;
    int line;
};

/* One line each: clang-format would spread them over four. NUL_OK is for what jansson accepts
 * and the checker refuses (a NUL byte jansson drops). */
/* clang-format off */
#define OK(lit)     {lit, sizeof(lit) - 1, true, true, __LINE__}
#define BAD(lit)    {lit, sizeof(lit) - 1, false, false, __LINE__}
#define NUL_OK(lit) {lit, sizeof(lit) - 1, false, true, __LINE__}
/* clang-format on */

MH_TEST(vectors_agree_with_jansson)
{
    static const struct vector vectors[] = {
        /* Empty input, whitespace, trailing garbage. */
        BAD(""),
        BAD(" "),
        BAD(" \t\r\n"),
        OK(" \t\r\n1 \t\r\n"),
        OK("[ 1 , 2 ]"),
        OK("{ \"a\" : 1 , \"b\" : [ ] }"),
        BAD("\f1"),
        BAD("\v1"),
        BAD("1\f"),
        BAD("[1,\f2]"),
        BAD("\xc2\xa0"
            "1"), /* no-break space */
        BAD("\xef\xbb\xbf"
            "1"), /* byte order mark */
        BAD("1 2"),
        BAD("1 x"),
        BAD("{}{}"),
        BAD("[]]"),
        BAD("\"a\"\""),
        BAD("1,"),
        /* Literals. */
        OK("true"),
        OK("false"),
        OK("null"),
        OK("[true,false,null]"),
        BAD("True"),
        BAD("nul"),
        BAD("nulll"),
        BAD("truefalse"),
        BAD("true1"),
        BAD("[true1]"),
        BAD("NaN"),
        BAD("Infinity"),
        BAD("-Infinity"),
        BAD("undefined"),
        /* Numbers: grammar. */
        OK("0"),
        OK("-0"),
        OK("7"),
        OK("-7"),
        OK("0.5"),
        OK("-0.5"),
        OK("1e5"),
        OK("1E5"),
        OK("1e+5"),
        OK("1e-5"),
        OK("0e0"),
        OK("-0.0e-0"),
        OK("1.25e2"),
        OK("[1,-2,3.5]"),
        BAD("01"),
        BAD("-01"),
        BAD("00"),
        BAD("0x10"),
        BAD("1."),
        BAD("1.e5"),
        BAD(".5"),
        BAD("-.5"),
        BAD("+1"),
        BAD("-"),
        BAD("--1"),
        BAD("1e"),
        BAD("1e+"),
        BAD("1E-"),
        BAD("1.5.3"),
        BAD("1e5.5"),
        BAD("1e5e5"),
        BAD("[1.]"),
        BAD("[-]"),
        /* Numbers: integers must fit in a long long. */
        OK("9223372036854775807"),
        OK("-9223372036854775808"),
        OK("999999999999999999"),
        OK("1000000000000000000"),
        BAD("9223372036854775808"),
        BAD("-9223372036854775809"),
        BAD("9999999999999999999"),
        BAD("10000000000000000000"),
        BAD("123456789012345678901234567890"),
        BAD("[9223372036854775808]"),
        OK("9223372036854775808.0"), /* a real */
        OK("9223372036854775808e0"),
        OK("123456789012345678901234567890.5"),
        /* Numbers: reals must not overflow; underflow is fine. */
        OK("1e308"),
        OK("1.7976931348623157e308"),
        OK("1.7976931348623158e308"), /* rounds down to DBL_MAX */
        BAD("1.7976931348623159e308"),
        BAD("-1.7976931348623159e308"),
        BAD("1e309"),
        BAD("1e400"),
        BAD("-1e400"),
        BAD("10e308"),
        BAD("0.1e310"),
        OK("0.1e309"),
        OK("0.01e310"),
        OK("1e-400"),
        OK("-1e-400"),
        OK("4.9e-324"),
        OK("2e-324"),
        OK("0e99999999999999999999"),
        OK("0.000e400"),
        BAD("1e99999999999999999999"),
        OK("1e-99999999999999999999"),
        OK("0.00000000000000000000000000000000000000000000000000001e360"),
        BAD("0.00000000000000000000000000000000000000000000000000001e363"),
        /* Strings: escapes. */
        OK("\"\""),
        OK("\"abc\""),
        OK("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\""),
        OK("\"\\u0041\\u00e9\\u00E9\\u20AC\\uffff\""),
        OK("\"\\u0001\""),
        BAD("\"\\u0000\""),
        BAD("\"a\\u0000b\""),
        BAD("{\"\\u0000\":1}"),
        BAD("\"\\x41\""),
        BAD("\"\\a\""),
        BAD("\"\\U0041\""),
        BAD("\"\\'\""),
        BAD("\"\\u004\""),
        BAD("\"\\u004g\""),
        BAD("\"\\u\""),
        BAD("\"\\"),
        BAD("\"abc"),
        BAD("\"abc\\\""),
        BAD("'abc'"),
        /* Strings: surrogate escapes. */
        OK("\"\\ud83d\\ude00\""),
        OK("\"\\uD800\\uDC00\""),
        OK("\"\\uDBFF\\uDFFF\""),
        BAD("\"\\ud800\""),
        BAD("\"\\ud800x\""),
        BAD("\"\\ud800\\n\""),
        BAD("\"\\ud800\\u0041\""),
        BAD("\"\\ud800\\ud800\""),
        BAD("\"\\ud800\\ue000\""),
        BAD("\"\\ud800\\udc0\""),
        BAD("\"\\udc00\""),
        BAD("\"\\udfff\\ud800\""),
        BAD("\"\\ud800\\\\udc00\""),
        /* Strings: raw bytes. */
        OK("\"\x7f\""),
        OK("\" \""),
        BAD("\"\x01\""),
        BAD("\"\x1f\""),
        BAD("\"a\tb\""),
        BAD("\"a\nb\""),
        OK("\"\xc3\xa9\""),          /* é */
        OK("\"\xe2\x82\xac\""),      /* € */
        OK("\"\xf0\x9f\x98\x80\""),  /* 😀 */
        OK("\"\xf4\x8f\xbf\xbf\""),  /* U+10FFFF */
        OK("\"\xed\x9f\xbf\""),      /* U+D7FF */
        OK("\"\xee\x80\x80\""),      /* U+E000 */
        OK("\"\xef\xbf\xbf\""),      /* U+FFFF */
        BAD("\"\xc0\x80\""),         /* overlong NUL */
        BAD("\"\xc1\xbf\""),         /* overlong */
        BAD("\"\xe0\x9f\xbf\""),     /* overlong */
        BAD("\"\xf0\x8f\xbf\xbf\""), /* overlong */
        BAD("\"\xed\xa0\x80\""),     /* U+D800 */
        BAD("\"\xed\xbf\xbf\""),     /* U+DFFF */
        BAD("\"\xf4\x90\x80\x80\""), /* U+110000 */
        BAD("\"\xf5\x80\x80\x80\""), /* no such lead byte */
        BAD("\"\xff\""),             /* no such byte */
        BAD("\"\x80\""),             /* stray continuation */
        BAD("\"\xc3\""),             /* cut short */
        BAD("\"\xe2\x82\""),         /* cut short */
        BAD("\"\xf0\x9f\x98\""),     /* cut short */
        BAD("\"\xc3\xa9"),           /* unterminated after a sequence */
        BAD("\"\xc3"),               /* cut short by the end */
        BAD("\"\xc3\x28\""),         /* bad continuation */
        BAD("\"\xe2\x28\xa1\""),     /* bad continuation */
        BAD("\xc3\xa9"),             /* outside a string */
        BAD("[1,\xc3\xa9]"),         /* outside a string */
        OK("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
        BAD("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x01"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
        BAD("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xff"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""),
        OK("\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9\\n\\u00e9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
           "\""),
        /* NUL bytes: always an error (PostgreSQL jsonb cannot hold one), though jansson loses
         * one right after a number or a literal and accepts those. */
        BAD("\0"),
        BAD(" \0"),
        BAD("\0"
            "1"),
        BAD("\"\0\""),
        BAD("\"a\"\0"),
        BAD("[\0]"),
        BAD("[1,\0"
            "2]"),
        BAD("{\"a\"\0:1}"),
        BAD("{\0}"),
        BAD("[]\0"),
        BAD("{}\0"),
        BAD("-\0"),
        BAD("1.\0"),
        BAD("1e\0"),
        BAD("1\0\0"),
        BAD("1 \0"),
        BAD("1\0x"),
        BAD("tru\0e"),
        NUL_OK("1\0"),
        NUL_OK("0\0"),
        NUL_OK("-0\0"),
        NUL_OK("1.5\0"),
        NUL_OK("1e5\0"),
        NUL_OK("true\0"),
        NUL_OK("false\0"),
        NUL_OK("null\0 "),
        NUL_OK("[1\0]"),
        NUL_OK("[1\0,2\0]"),
        NUL_OK("[true\0,false\0,null\0]"),
        NUL_OK("{\"a\":false\0}"),
        NUL_OK("{\"a\":1\0,\"b\":2}"),
        /* Arrays and objects: structure. */
        OK("[]"),
        OK("{}"),
        OK("[[]]"),
        OK("[{}]"),
        OK("{\"a\":{}}"),
        OK("{\"a\":[1,{\"b\":null}],\"c\":\"d\"}"),
        BAD("["),
        BAD("{"),
        BAD("]"),
        BAD("}"),
        BAD("[1"),
        BAD("[1,"),
        BAD("[1,]"),
        BAD("[,1]"),
        BAD("[1 2]"),
        BAD("[1:2]"),
        BAD("{\"a\"}"),
        BAD("{\"a\":}"),
        BAD("{\"a\":1,}"),
        BAD("{,}"),
        BAD("{\"a\" 1}"),
        BAD("{\"a\"::1}"),
        BAD("{\"a\":1 \"b\":2}"),
        BAD("{\"a\":1;\"b\":2}"),
        BAD("{a:1}"),
        BAD("{1:1}"),
        BAD("{null:1}"),
        BAD("{[]:1}"),
        BAD("{\"a\":1]"),
        BAD("[1}"),
        BAD("{\"a\":1"),
        BAD("{\"a\""),
        BAD("{\"a\":"),
        /* Duplicate names, once unescaped. */
        OK("{\"a\":1,\"b\":2}"),
        OK("{\"a\":1,\"A\":2}"),
        OK("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"),
        OK("[{\"a\":1},{\"a\":1}]"),
        OK("{\"\":1,\" \":2}"),
        OK("{\"a\":1,\"a \":2,\"ab\":3}"),
        OK("{\"\\u00e9\":1,\"e\":2}"),
        BAD("{\"a\":1,\"a\":2}"),
        BAD("{\"\":1,\"\":2}"),
        BAD("{\"a\":1,\"\\u0061\":2}"),
        BAD("{\"\\u0061\":1,\"a\":2}"),
        BAD("{\"\\u0061\":1,\"\\u0061\":2}"),
        BAD("{\"a/b\":1,\"a\\/b\":2}"),
        BAD("{\"\\n\":1,\"\\u000a\":2}"),
        BAD("{\"\xc3\xa9\":1,\"\\u00e9\":2}"),
        BAD("{\"\xc3\xa9\":1,\"\\u00E9\":2}"),
        BAD("{\"\xf0\x9f\x98\x80\":1,\"\\ud83d\\ude00\":2}"),
        BAD("{\"x\xe2\x82\xacy\":1,\"x\\u20acy\":2}"),
        BAD("{\"a\":{\"b\":1,\"b\":2}}"),
        BAD("{\"a\":1,\"b\":{\"c\":1},\"a\":2}"),
        BAD("[{\"a\":1,\"b\":2,\"a\":3}]"),
    };
    MH_T_ASSERT(MH_ARRAY_LEN(vectors) >= 80);
    size_t accepted = 0;
    for (size_t i = 0; i < MH_ARRAY_LEN(vectors); i++) {
        expect(vectors[i].s, vectors[i].n, vectors[i].want, vectors[i].lib_want, vectors[i].line);
        accepted += vectors[i].want;
    }
    MH_T_ASSERT(accepted >= 40 && MH_ARRAY_LEN(vectors) - accepted >= 40);
}

/* `depth` arrays (or objects with member "a") around `inner`. */
static char *nest(size_t depth, bool is_object, const char *inner)
{
    size_t open = is_object ? 5 : 1, len = depth * (open + 1) + strlen(inner);
    char *s = malloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < depth; i++) {
        memcpy(s + o, is_object ? "{\"a\":" : "[", open);
        o += open;
    }
    memcpy(s + o, inner, strlen(inner));
    o += strlen(inner);
    for (size_t i = 0; i < depth; i++)
        s[o++] = is_object ? '}' : ']';
    s[o] = '\0';
    return s;
}

MH_TEST(depth_limit)
{
    static const struct {
        size_t depth;
        bool is_object;
        const char *inner;
    } cases[] = {
        {1, false, ""},     {2, false, ""},     {499, false, "1"}, {500, false, ""},
        {500, false, "1"},  {500, true, "1"},   {500, true, "[]"}, {499, true, "[]"},
        {501, false, ""},   {501, true, "1"},   {600, false, ""},  {2000, false, ""},
        {499, false, "{}"}, {500, false, "{}"},
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(cases); i++) {
        char *s = nest(cases[i].depth, cases[i].is_object, cases[i].inner);
        size_t depth = cases[i].depth + (cases[i].inner[0] == '[' || cases[i].inner[0] == '{');
        expect(s, strlen(s), depth <= MH_INTAKE__JSON_MAX_DEPTH, true, __LINE__);
        free(s);
    }
    /* The error names the bracket that goes one too deep. */
    char *s = nest(501, false, "");
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_intake__json_check(s, strlen(s), &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 500);
    MH_T_ASSERT(strstr(info.message, "deeper than 500") != NULL);
    free(s);
    /* Past jansson's own limit both refuse. */
    s = nest(3000, false, "");
    MH_T_ASSERT(!checker_accepts(s, strlen(s)) && !jansson_accepts(s, strlen(s)));
    free(s);
    /* Deep nesting in a sequence: the depth goes back down after each. */
    char *one = nest(499, false, "1");
    size_t len = strlen(one), cap = 3 * (len + 1) + 2;
    char *many = malloc(cap);
    snprintf(many, cap, "[%s,%s,%s]", one, one, one); /* 500 deep */
    expect(many, strlen(many), true, true, __LINE__);
    free(one);
    one = nest(500, false, "");
    len = strlen(one);
    cap = 3 * (len + 1) + 2;
    many = realloc(many, cap);
    snprintf(many, cap, "[%s,%s,%s]", one, one, one); /* 501 deep */
    expect(many, strlen(many), false, true, __LINE__);
    free(many);
    free(one);
}

/* An object of `nkeys` names "k0", "k1"... each holding `value`, followed by `extra` (a last
 * member, or ""). */
static char *big_object(size_t nkeys, const char *value, const char *extra, size_t *len)
{
    size_t cap = nkeys * (16 + strlen(value)) + strlen(extra) + 16, o = 0;
    char *s = malloc(cap);
    s[o++] = '{';
    for (size_t i = 0; i < nkeys; i++)
        o += (size_t)snprintf(s + o, cap - o, "%s\"k%zu\":%s", i ? "," : "", i, value);
    o += (size_t)snprintf(s + o, cap - o, "%s}", extra);
    *len = o;
    return s;
}

MH_TEST(big_objects)
{
    size_t len;
    /* 100 000 distinct names. */
    char *s = big_object(100000, "1", "", &len);
    MH_T_ASSERT(len > 900000);
    expect(s, len, true, true, __LINE__);
    free(s);
    /* One duplicate at the end, plain or escaped; or of the first name. */
    static const char *const dups[] = {",\"k99999\":2", ",\"k5\":2", ",\"k0\":2",
                                       ",\"\\u006b77777\":2", ",\"k\\u00312345\":2"};
    for (size_t i = 0; i < MH_ARRAY_LEN(dups); i++) {
        s = big_object(100000, "1", dups[i], &len);
        expect(s, len, false, false, __LINE__);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(mh_intake__json_check(s, len, &info), MH_EINVAL);
        MH_T_ASSERT_EQ(info.offset, (long)(len - strlen(dups[i])));
        MH_T_ASSERT(strstr(info.message, "duplicate object key") != NULL);
        free(s);
    }
    /* Near names that are not duplicates. */
    s = big_object(1000, "1", ",\"k1000\":2,\"\\u006b1001\":3,\"k\":4,\"\":5", &len);
    expect(s, len, true, true, __LINE__);
    free(s);
    /* Several duplicates: the error is at the earliest second occurrence, the first "k50" added,
     * though "k3" sorts before it and "k50" comes a third time. */
    static const char many_dups[] = ",\"k50\":0,\"k3\":0,\"k50\":1,\"k3\":1";
    s = big_object(100, "1", many_dups, &len);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_intake__json_check(s, len, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, (long)(len - strlen(many_dups)));
    MH_T_ASSERT(strstr(info.message, "duplicate object key") != NULL);
    free(s);
    /* A duplicate followed by a syntax error inside the same big object: refused either way. */
    s = big_object(100, "1", ",\"k7\":0,\"x\":tru", &len);
    expect(s, len, false, false, __LINE__);
    free(s);
    /* Every size around the switch to sorting, with and without a duplicate. */
    for (size_t n = 1; n < 80; n++) {
        s = big_object(n, "[]", "", &len);
        expect(s, len, true, true, __LINE__);
        free(s);
        for (size_t d = 0; d < n; d += 7) {
            char extra[32];
            snprintf(extra, sizeof(extra), ",\"k%zu\":0", d);
            s = big_object(n, "{}", extra, &len);
            expect(s, len, false, false, __LINE__);
            free(s);
        }
    }
}

MH_TEST(big_objects_nested)
{
    /* Big objects inside big objects: each is checked on its own names when it closes. */
    size_t len;
    char *inner = big_object(300, "true", "", &len);
    char *s = big_object(100, inner, "", &len);
    expect(s, len, true, true, __LINE__);
    free(s);
    s = big_object(100, inner, ",\"k42\":0", &len);
    expect(s, len, false, false, __LINE__);
    free(s);
    char *bad_inner = big_object(300, "true", ",\"k299\":1", &len);
    s = big_object(50, bad_inner, "", &len);
    expect(s, len, false, false, __LINE__);
    free(s);
    free(bad_inner);
    /* Many small objects beside a big one (the name stack grows and shrinks). */
    s = big_object(2000, "{\"a\":1,\"b\":2,\"c\":{\"a\":[{\"a\":1}]}}", ",\"k1999\":1", &len);
    expect(s, len, false, false, __LINE__);
    free(s);
    free(inner);
}

/* 2^1024 - 2^970, the least value a double cannot round to. */
static const char limit[] =
    "17976931348623158079372897140530341507993413271003782693617377898044496829276475094664901797"
    "75872070963302864166928879109465555478519404026306574886715058206819089020007083836762738548"
    "45817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711"
    "559699508093042880177904174497792";

MH_TEST(reals_at_the_overflow_limit)
{
    MH_T_ASSERT_EQ(strlen(limit), 309);
    char below[320];
    memcpy(below, limit, sizeof(limit));
    below[308] = '1';
    static const struct {
        const char *before;
        bool is_limit;
        const char *after;
        bool want;
    } cases[] = {
        {"", true, ".0", false},
        {"-", true, ".0", false},
        {"", true, "e0", false},
        {"", true, ".00000000000000000000", false},
        {"", true, ".00000000000000000001", false},
        {"", false, ".99999999999999999999", true},
        {"", false, "e0", true},
        {"-", false, ".5", true},
        {"0.", true, "e309", false},
        {"0.", true, "000e309", false},
        {"0.", false, "e309", true},
        {"0.000", true, "e312", false},
        {"0.000", false, "e312", true},
        {"", true, "e-1", true},
        {"", true, "", false}, /* an integer: too big */
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(cases); i++) {
        char buf[400];
        snprintf(buf, sizeof(buf), "%s%s%s", cases[i].before, cases[i].is_limit ? limit : below,
                 cases[i].after);
        expect(buf, strlen(buf), cases[i].want, cases[i].want, __LINE__);
    }
    /* The same with the digits split at the point: 1.797...e308. */
    char buf[400];
    snprintf(buf, sizeof(buf), "%c.%se308", limit[0], limit + 1);
    expect(buf, strlen(buf), false, false, __LINE__);
    snprintf(buf, sizeof(buf), "%c%c%c.%se306", below[0], below[1], below[2], below + 3);
    expect(buf, strlen(buf), true, true, __LINE__);
}

MH_TEST(error_messages)
{
    static const struct {
        const char *s;
        long offset;
        const char *message;
    } cases[] = {
        {"", 0, "the body is not valid JSON (byte 0): unexpected end of input"},
        {"[1,]", 3, "the body is not valid JSON (byte 3): unexpected token"},
        {"{\"a\":1,\"a\":2}", 7, "the body is not valid JSON (byte 7): duplicate object key"},
        {"[1] x", 4, "the body is not valid JSON (byte 4): end of input expected"},
        {"  9223372036854775808", 2, "the body is not valid JSON (byte 2): too big integer"},
        {"[\"ab\\q\"]", 4, "the body is not valid JSON (byte 4): invalid escape"},
        {"\"\\ud800\"", 1, "the body is not valid JSON (byte 1): unpaired surrogate escape"},
        {"{\"a\" 1}", 5, "the body is not valid JSON (byte 5): ':' expected"},
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(cases); i++) {
        struct mh_err_info info = MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(mh_intake__json_check(cases[i].s, strlen(cases[i].s), &info), MH_EINVAL);
        MH_T_ASSERT_STR_EQ(info.kind, "json");
        MH_T_ASSERT_EQ(info.offset, cases[i].offset);
        MH_T_ASSERT_STR_EQ(info.message, cases[i].message);
    }
    /* Invalid UTF-8 and control characters are located exactly. */
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_intake__json_check("{\"k\":\"ab\xff\"}", 10, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 8);
    MH_T_ASSERT(strstr(info.message, "invalid UTF-8") != NULL);
    MH_T_ASSERT_EQ(mh_intake__json_check("\"0123456789\x01\"", 13, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 11);
    /* A NUL byte is reported as such, at the first one, even after an earlier error. */
    MH_T_ASSERT_EQ(mh_intake__json_check("[1,2\0]", 6, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 4);
    MH_T_ASSERT_STR_EQ(info.message, "the body is not valid JSON (byte 4): NUL byte");
    MH_T_ASSERT_EQ(mh_intake__json_check("[x,\0\0]", 6, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(info.offset, 3);
    MH_T_ASSERT_STR_EQ(info.message, "the body is not valid JSON (byte 3): NUL byte");
    /* NULL info and a NULL empty body are fine; success leaves info alone. */
    MH_T_ASSERT_EQ(mh_intake__json_check(NULL, 0, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_intake__json_check("[x]", 3, NULL), MH_EINVAL);
    struct mh_err_info clean = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_intake__json_check("{\"a\":[1,2.5,\"x\"]}", 17, &clean), MH_OK);
    MH_T_ASSERT_STR_EQ(clean.message, "");
    MH_T_ASSERT_EQ(clean.offset, -1);
}

/* The body is read only within its length: the byte after it may be anything. */
MH_TEST(reads_only_the_given_length)
{
    static const char *const texts[] = {"123", "\"abc\"", "[1,2]", "true", "-1.5e3", "{}"};
    for (size_t i = 0; i < MH_ARRAY_LEN(texts); i++) {
        size_t n = strlen(texts[i]);
        char *exact = malloc(n); /* no terminator: ASan catches a read past the end */
        memcpy(exact, texts[i], n);
        MH_T_ASSERT(checker_accepts(exact, n));
        MH_T_ASSERT(!checker_accepts(exact, n - 1) || i == 0); /* "12" is fine */
        free(exact);
    }
    /* A long string cut at every length: never accepted, never read past. */
    const char *str = "\"0123456789abcdef\\u00e9\xc3\xa9\\ud83d\\ude00 0123456789abcdef\"";
    size_t n = strlen(str);
    for (size_t cut = 0; cut < n; cut++) {
        char *part = malloc(cut ? cut : 1);
        memcpy(part, str, cut);
        MH_T_ASSERT(!checker_accepts(part, cut));
        free(part);
    }
}

/* xorshift64*: a fixed sequence, so a failure reproduces. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Random sequences of JSON tokens and troublesome bytes: the checker must accept exactly what
 * jansson accepts without a NUL byte (none comes near the depth limit). */
MH_TEST(random_tokens_agree_with_jansson)
{
    /* clang-format off */
    static const char *const tokens[] = {
        "{", "}", "[", "]", ",", ":", " ", "\n", "\"a\"", "\"b\"", "\"\\u0061\"", "\"\\ud800",
        "\\udc00", "\"", "\\", "\\u0000", "0", "-", "1", "9223372036854775807",
        "9223372036854775808", ".", "e", "5", "e308", "e309", "true", "false", "null", "tru",
        "\x00", "\xc3\xa9", "\xc3", "\xed\xa0\x80", "\x1f", "\x7f", "\t", "\\n", "\\u00e9",
        "1.7976931348623159", "x",
    };
    /* clang-format on */
    uint64_t state = 0x9E3779B97F4A7C15ULL;
    size_t accepted = 0;
    for (int round = 0; round < 50000; round++) {
        char buf[256];
        size_t n = 0, count = 1 + next_random(&state) % 12;
        for (size_t i = 0; i < count; i++) {
            const char *t = tokens[next_random(&state) % MH_ARRAY_LEN(tokens)];
            size_t tl = t[0] == '\0' ? 1 : strlen(t);
            if (n + tl > sizeof(buf))
                break;
            memcpy(buf + n, t, tl);
            n += tl;
        }
        bool got = checker_accepts(buf, n);
        bool lib = jansson_accepts(buf, n) && memchr(buf, '\0', n) == NULL;
        if (got != lib)
            mh_t_fail(__FILE__, __LINE__, "checker %s, jansson %s: <%s>",
                      got ? "accepted" : "refused", lib ? "accepted" : "refused", show(buf, n));
        accepted += got;
    }
    MH_T_ASSERT(accepted > 500);
}
