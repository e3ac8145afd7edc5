/* SPDX-License-Identifier: MIT */
/* Unit tests of src/core: bounded buffers, arenas, error records, the clocks and the
 * configuration's defaults. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/httpdate.h"
#include "core/mem.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/err.h"
#include "core/text.h"
#include "harness.h"

static int cleanup_calls;
static void count_cleanup(void *p)
{
    (void)p;
    cleanup_calls++;
}

MH_TEST(buf_append_and_limit)
{
    struct mh_buf b;
    mh_buf_init(&b, 10);
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "hello"), MH_OK);
    MH_T_ASSERT_EQ(mh_buf_printf(&b, "%d", 1234), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "hello1234");
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "x"), MH_OK);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 10);
    /* One byte past the limit fails and empties the buffer. */
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "y"), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 0);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "");
    mh_buf_cleanup(&b);
}

/* A failed buffer refuses every later append until reset, so a caller that misses one
 * MH_ETOOBIG never passes on the tail of a string as if it were the whole. */
MH_TEST(buf_failure_is_sticky_until_reset)
{
    struct mh_buf b;
    mh_buf_init(&b, 8);
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "head"), MH_OK);
    MH_T_ASSERT(!mh_buf_failed(&b));
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "-too-long"), MH_ETOOBIG);
    MH_T_ASSERT(mh_buf_failed(&b));
    /* Every later kind of append fails too, even ones that would fit, and nothing is kept. */
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "tail"), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_append(&b, "t", 1), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_printf(&b, "%d", 7), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_append_int(&b, 7), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_append_json_string(&b, "t", 1), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_reserve(&b, 1), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 0);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "");
    size_t n = 99;
    char *s = mh_buf_steal(&b, &n);
    MH_T_ASSERT_STR_EQ(s, "");
    MH_T_ASSERT_EQ(n, 0);
    free(s);
    MH_T_ASSERT(mh_buf_failed(&b));
    /* Reset clears the failure and the buffer works again, with its limit. */
    mh_buf_reset(&b);
    MH_T_ASSERT(!mh_buf_failed(&b));
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "tail"), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "tail");
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "12345"), MH_ETOOBIG);
    mh_buf_cleanup(&b);
    /* init clears it too. */
    mh_buf_init(&b, 2);
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "abc"), MH_ETOOBIG);
    mh_buf_init(&b, 2);
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "ab"), MH_OK);
    mh_buf_cleanup(&b);
}

MH_TEST(buf_without_a_limit_grows)
{
    /* A limit of SIZE_MAX means none: capacity must not wrap around to max_len + 1 == 0. */
    struct mh_buf b;
    mh_buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 100; i++)
        MH_T_ASSERT_EQ(mh_buf_printf(&b, "%s%d", "0123456789", i % 10), MH_OK);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 1100);
    MH_T_ASSERT(strncmp(mh_buf_str(&b) + 1089, "01234567899", 11) == 0);
    mh_buf_cleanup(&b);
}

MH_TEST(buf_printf_over_limit)
{
    struct mh_buf b;
    mh_buf_init(&b, 4);
    MH_T_ASSERT_EQ(mh_buf_printf(&b, "%s", "toolong"), MH_ETOOBIG);
    mh_buf_cleanup(&b);
}

MH_TEST(buf_append_int_matches_printf)
{
    const int64_t values[] = {0, 7, -7, 10, -10, 1234567890, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct mh_buf b;
        char want[32];
        snprintf(want, sizeof(want), "x%" PRId64, values[i]);
        mh_buf_init(&b, 64);
        MH_T_ASSERT_EQ(mh_buf_append_str(&b, "x"), MH_OK);
        MH_T_ASSERT_EQ(mh_buf_append_int(&b, values[i]), MH_OK);
        MH_T_ASSERT_STR_EQ(mh_buf_str(&b), want);
        mh_buf_cleanup(&b);
    }
    /* The limit holds for numbers too. */
    struct mh_buf b;
    mh_buf_init(&b, 3);
    MH_T_ASSERT_EQ(mh_buf_append_int(&b, -1000), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 0);
    mh_buf_cleanup(&b);
}

MH_TEST(buf_append_json_string_escapes)
{
    struct mh_buf b;
    mh_buf_init(&b, 256);
    const char in[] = "a\"b\\c\b\f\n\r\t\x01\x1f\x7f/\xc3\xa9\0z";
    MH_T_ASSERT_EQ(mh_buf_append_json_string(&b, in, sizeof(in) - 1), MH_OK);
    static const char want[] = "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\xc3\xa9\\u0000z\"";
    MH_T_ASSERT_EQ(mh_buf_len(&b), sizeof(want) - 1);
    MH_T_ASSERT(memcmp(mh_buf_str(&b), want, sizeof(want) - 1) == 0);
    /* Every ASCII byte, alone and between plain runs, is escaped as jansson escapes it (but
     * for the case of \u00xx's hex digits: lowercase here, as RFC 8785 writes them). */
    for (int c = 0; c < 128; c++) {
        char one[5] = {'a', 'b', (char)c, 'c', 'd'};
        json_t *str = json_stringn(one, sizeof(one));
        char *ref = json_dumps(str, JSON_ENCODE_ANY | JSON_COMPACT);
        struct mh_buf e;
        mh_buf_init(&e, 64);
        MH_T_ASSERT_EQ(mh_buf_append_json_string(&e, one, sizeof(one)), MH_OK);
        if (strcasecmp(mh_buf_str(&e), ref) != 0)
            mh_t_fail(__FILE__, __LINE__, "byte %d: %s, jansson %s", c, mh_buf_str(&e), ref);
        mh_buf_cleanup(&e);
        free(ref);
        json_decref(str);
    }
    /* The limit holds. */
    struct mh_buf small;
    mh_buf_init(&small, 4);
    MH_T_ASSERT_EQ(mh_buf_append_json_string(&small, "abcd", 4), MH_ETOOBIG);
    mh_buf_cleanup(&small);
    mh_buf_cleanup(&b);
}

MH_TEST(buf_reserve_within_limit)
{
    struct mh_buf b;
    mh_buf_init(&b, 100);
    MH_T_ASSERT_EQ(mh_buf_reserve(&b, 90), MH_OK);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 0);
    MH_T_ASSERT_EQ(mh_buf_append_str(&b, "kept"), MH_OK);
    MH_T_ASSERT_EQ(mh_buf_reserve(&b, 97), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_buf_len(&b), 0);
    mh_buf_cleanup(&b);
}

MH_TEST(text_utf8_len)
{
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},
        {"\0", 1, 1},
        {"\xc3\xa9", 2, 2},
        {"\xe2\x9c\x93", 3, 3},
        {"\xf0\x9f\x98\x80", 4, 4},
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\xc3", 1, 0},             /* cut short */
        {"\xe2\x9c", 2, 0},         /* cut short */
        {"\x80", 1, 0},             /* stray continuation byte */
        {"\xc0\x80", 2, 0},         /* overlong */
        {"\xe0\x80\x80", 3, 0},     /* overlong */
        {"\xf0\x80\x80\x80", 4, 0}, /* overlong */
        {"\xed\xa0\x80", 3, 0},     /* a surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0}, /* past U+10FFFF */
        {"\xc3\x28", 2, 0},         /* bad continuation */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        MH_T_ASSERT_EQ(mh_text_utf8_len((const unsigned char *)cases[i].s, cases[i].n),
                       cases[i].want);
}

MH_TEST(arena_alloc_reset_defer)
{
    struct mh_arena *a = mh_arena_create();
    cleanup_calls = 0;
    char *s = mh_arena_printf(a, "%s-%d", "run", 7);
    MH_T_ASSERT_STR_EQ(s, "run-7");
    /* Many small and a few large allocations, all distinct and writable. */
    for (int i = 0; i < 1000; i++) {
        char *p = mh_arena_alloc(a, 100);
        memset(p, i & 0xff, 100);
    }
    char *big = mh_arena_calloc(a, 100000);
    MH_T_ASSERT_EQ(big[99999], 0);
    mh_arena_defer(a, count_cleanup, NULL);
    mh_arena_defer(a, count_cleanup, NULL);
    mh_arena_reset(a);
    MH_T_ASSERT_EQ(cleanup_calls, 2);
    MH_T_ASSERT_STR_EQ(mh_arena_strdup(a, "again"), "again");
    mh_arena_defer(a, count_cleanup, NULL);
    mh_arena_destroy(a);
    MH_T_ASSERT_EQ(cleanup_calls, 3);
}

MH_TEST(err_info)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_err_set(&info, MH_EINVAL, "syntax", 3, "bad %s", "token"), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.message, "bad token");
    MH_T_ASSERT_STR_EQ(info.kind, "syntax");
    MH_T_ASSERT_EQ(info.offset, 3);
    MH_T_ASSERT_EQ(mh_err_set(NULL, MH_ENOMEM, NULL, -1, "x"), MH_ENOMEM);
    MH_T_ASSERT_STR_EQ(mh_strerror(MH_ETOOBIG), "too big");
}

MH_TEST(clock_reads_wall_and_monotonic_milliseconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t wall = mh_clock_now_ms();
    MH_T_ASSERT(wall >= (int64_t)ts.tv_sec * 1000 && wall <= (int64_t)ts.tv_sec * 1000 + 2000);
    int64_t m0 = mh_clock_mono_ms();
    struct timespec pause = {0, 30 * 1000000L};
    nanosleep(&pause, NULL);
    int64_t m1 = mh_clock_mono_ms();
    MH_T_ASSERT(m1 - m0 >= 29 && m1 - m0 < 5000);
}

MH_TEST(config_http_threads_default_to_twice_the_cpus)
{
    struct mh_config cfg;
    unsetenv("MESHHOOK_HTTP_THREADS");
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 0, NULL, NULL, NULL, NULL), MH_OK);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long want = cpus < 2 ? 4 : cpus > 32 ? 64 : 2 * cpus;
    MH_T_ASSERT_EQ(cfg.http_threads, want);
    mh_config_cleanup(&cfg);
    /* 0 asks for the same; any other number is taken as given. */
    const char *zero[] = {"--http-threads", "0"};
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 2, (char **)zero, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(cfg.http_threads, want);
    mh_config_cleanup(&cfg);
    const char *three[] = {"--http-threads", "3"};
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 2, (char **)three, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(cfg.http_threads, 3);
    mh_config_cleanup(&cfg);
}

/* The private cluster of `make run` (./.meshhook/pg.port) fills in only the URLs left unset:
 * with only the admin URL given, a migration goes where that URL says (issue #18, 13). */
MH_TEST(config_embedded_cluster_fills_in_only_unset_urls)
{
    char dir[] = "/tmp/mh-t-embedded-XXXXXX";
    MH_T_ASSERT(mkdtemp(dir) != NULL);
    MH_T_ASSERT_EQ(chdir(dir), 0);
    MH_T_ASSERT_EQ(mkdir(".meshhook", 0700), 0);
    MH_T_ASSERT_EQ(mkdir(".meshhook/pg", 0700), 0);
    MH_T_ASSERT_EQ(mkdir(".meshhook/pg/run", 0700), 0);
    FILE *f = fopen(".meshhook/pg.port", "w");
    MH_T_ASSERT(f != NULL);
    fputs("54329\n", f);
    MH_T_ASSERT_EQ(fclose(f), 0);
    const char *bench = "postgresql:///meshhook?host=/tmp/bench/run&port=6000&user=meshhook";
    unsetenv("MESHHOOK_DATABASE_URL");
    setenv("MESHHOOK_ADMIN_DATABASE_URL", bench, 1);
    struct mh_config cfg;
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 0, NULL, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(cfg.admin_database_url, bench);
    MH_T_ASSERT(!cfg.is_admin_database_url_embedded);
    MH_T_ASSERT(strstr(cfg.database_url, "/.meshhook/pg/run&port=54329&user=meshhook_app"));
    MH_T_ASSERT(cfg.is_database_url_embedded);
    mh_config_cleanup(&cfg);
    /* Neither set: both from the cluster. */
    unsetenv("MESHHOOK_ADMIN_DATABASE_URL");
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 0, NULL, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT(strstr(cfg.admin_database_url, "port=54329&user=meshhook") != NULL);
    MH_T_ASSERT(cfg.is_admin_database_url_embedded && cfg.is_database_url_embedded);
    mh_config_cleanup(&cfg);
    /* The app URL given: the admin URL defaults to it, the cluster is not used. */
    setenv("MESHHOOK_DATABASE_URL", bench, 1);
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 0, NULL, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(cfg.database_url, bench);
    MH_T_ASSERT_STR_EQ(cfg.admin_database_url, bench);
    MH_T_ASSERT(!cfg.is_admin_database_url_embedded && !cfg.is_database_url_embedded);
    mh_config_cleanup(&cfg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    FILE *p = popen(cmd, "r");
    if (p)
        pclose(p);
}

/* ---- HTTP-dates and Retry-After
 * ---------------------------------------------------------------------------- */

MH_TEST(retry_after_parsing)
{
    const int64_t now = 1700000000000LL; /* 2023-11-14T22:13:20Z */
    MH_T_ASSERT_EQ(mh_http_retry_after("120", now), now + 120000);
    MH_T_ASSERT_EQ(mh_http_retry_after(" \t5 ", now), now + 5000);
    MH_T_ASSERT_EQ(mh_http_retry_after("0", now), now);

    /* The three HTTP-date forms of RFC 9110's example, in the past: now. */
    MH_T_ASSERT_EQ(mh_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 0), 784111777000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", 0), 784111777000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Sun Nov  6 08:49:37 1994", 0), 784111777000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), now);
    /* RFC 850's two-digit year is the one at most 50 years ahead of now. */
    MH_T_ASSERT_EQ(mh_http_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now), now);

    /* A future date, and the leap day. */
    MH_T_ASSERT_EQ(mh_http_retry_after("Thu, 15 Feb 2024 10:00:00 GMT", now), 1707991200000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Thu, 29 Feb 2024 00:00:00 GMT", now), 1709164800000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Thursday, 29-Feb-24 00:00:00 GMT", now), 1709164800000LL);
    MH_T_ASSERT_EQ(mh_http_retry_after("Thu Feb 29 00:00:00 2024", now), 1709164800000LL);

    const char *bad[] = {
        "",
        "   ",
        "soon",
        "-5",
        "+5",
        "1.5",
        "12abc",
        "0x10",
        "99999999999999999999999",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 31 Feb 2024 00:00:00 GMT",
        "Sat, 29 Feb 2023 00:00:00 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT extra",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sun Nov 6 08:49:37 1994",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(bad); i++)
        if (mh_http_retry_after(bad[i], now) != -1)
            mh_t_fail(__FILE__, __LINE__, "\"%s\" parsed", bad[i]);
    MH_T_ASSERT_EQ(mh_http_retry_after(NULL, now), -1);
}

/* The date parser alone: the three forms give the same instant, the engine's retry delay and
 * outbound's wait read the same dates, and impossible or malformed dates are refused. */
MH_TEST(http_date_three_forms_and_bad_dates)
{
    const int64_t now = 1700000000000LL; /* 2023-11-14T22:13:20Z */
    const char *good[] = {
        "Tue, 14 Nov 2023 22:13:20 GMT",
        "Tuesday, 14-Nov-23 22:13:20 GMT",
        "Tue Nov 14 22:13:20 2023",
        "tue, 14 nov 2023 22:13:20 gmt",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(good); i++) {
        int64_t t = -1;
        if (!mh_http_date_parse(good[i], strlen(good[i]), now, &t))
            mh_t_fail(__FILE__, __LINE__, "\"%s\" refused", good[i]);
        MH_T_ASSERT_EQ(t, now);
    }
    int64_t t = 0;
    /* Epoch, leap day, a leap second (read as :59) and the last representable date. */
    MH_T_ASSERT(mh_http_date_parse("Thu, 01 Jan 1970 00:00:00 GMT", 29, now, &t));
    MH_T_ASSERT_EQ(t, 0);
    MH_T_ASSERT(mh_http_date_parse("Sat, 29 Feb 2000 00:00:00 GMT", 29, now, &t));
    MH_T_ASSERT_EQ(t, 951782400000LL);
    MH_T_ASSERT(mh_http_date_parse("Sat, 31 Dec 2016 23:59:60 GMT", 29, now, &t));
    MH_T_ASSERT_EQ(t, 1483228799000LL);
    MH_T_ASSERT(mh_http_date_parse("Fri, 31 Dec 9999 23:59:59 GMT", 29, now, &t));
    MH_T_ASSERT_EQ(t, 253402300799000LL);
    /* RFC 850's year: "73" is 2073 (50 years ahead at most), "74" is 1974. */
    MH_T_ASSERT(mh_http_date_parse("Monday, 01-Jan-73 00:00:00 GMT", 30, now, &t));
    MH_T_ASSERT_EQ(t, 3250454400000LL);
    MH_T_ASSERT(mh_http_date_parse("Tuesday, 01-Jan-74 00:00:00 GMT", 31, now, &t));
    MH_T_ASSERT_EQ(t, 126230400000LL);
    /* Only the given length is read. */
    const char *tail = "Tue, 14 Nov 2023 22:13:20 GMTjunk";
    MH_T_ASSERT(mh_http_date_parse(tail, 29, now, &t));
    MH_T_ASSERT(!mh_http_date_parse(tail, strlen(tail), now, &t));

    const char *bad[] = {
        "",
        " Tue, 14 Nov 2023 22:13:20 GMT",
        "Tue, 14 Nov 2023 22:13:20 GMT ",
        "Tue, 14 Nov 2023 22:13:20 +0000",
        "Tue, 14 Nov 2023 22:13 GMT",
        "Tue, 14 Nov 23 22:13:20 GMT",
        "Tue 14 Nov 2023 22:13:20 GMT",
        "Tue, 00 Nov 2023 22:13:20 GMT",
        "Tue, 31 Nov 2023 22:13:20 GMT",
        "Tue, 14 Nov 0000 22:13:20 GMT",
        "Tue, 14 Nov 2023 22:60:20 GMT",
        "Tue, 14 Nov 2023 22:13:61 GMT",
        "Tuesday, 14-Nov-2023 22:13:20 GMT",
        "Tuesday, 14 Nov 23 22:13:20 GMT",
        "Tues, 14-Nov-23 22:13:20 GMT",
        "Tue Nov 14 22:13:20 23",
        "Tue Nov 14 22:13:20 2023 GMT",
        "Tue Nov 32 22:13:20 2023",
        "2023-11-14T22:13:20Z",
        "1700000000",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(bad); i++)
        if (mh_http_date_parse(bad[i], strlen(bad[i]), now, &t))
            mh_t_fail(__FILE__, __LINE__, "\"%s\" parsed", bad[i]);
}
