/* SPDX-License-Identifier: MIT */
/* Unit tests of src/schedule: the cron parser (every field form, names, macros, Vixie's day
 * rule, errors naming the field and the offset), time zones from tzdata (transitions and the
 * POSIX rule past them), and the next fire time across DST changes, month ends and Feb 29.
 * Expected instants are checked through libc's gmtime_r, independent of the code under test. */
#include <jansson.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "engine/engine.h"
#include "schedule/schedule.h"

/* "YYYY-MM-DDTHH:MM:SSZ" of `t` (a static buffer per call site is fine in a test). */
static const char *iso(int64_t t, char buf[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

/* Seconds since the epoch of a UTC "YYYY-MM-DDTHH:MM" (timegm is libc's, not ours). */
static int64_t at(const char *s)
{
    struct tm tm = {0};
    MH_T_ASSERT(strptime(s, "%Y-%m-%dT%H:%M", &tm) != NULL);
    return (int64_t)timegm(&tm);
}

/* The next `n` fire times of `expr` in `zone` after `from`, joined by spaces. */
static void next_n(const char *expr, const char *zone, const char *from, int n, bool seconds,
                   char *out, size_t cap)
{
    struct mh_cron *c = NULL;
    struct mh_tz *tz = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_cron_parse(expr, seconds, &c, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "parse %s: %s", expr, info.message);
    MH_T_ASSERT_EQ(mh_tz_load(zone, &tz, &info), MH_OK);
    int64_t t = at(from);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        MH_T_ASSERT_EQ(mh_cron_next(c, tz, t, &t), MH_OK);
        char b[32];
        if (i > 0)
            strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, iso(t, b), cap - strlen(out) - 1);
    }
    mh_cron_destroy(c);
    mh_tz_destroy(tz);
}

#define EXPECT_NEXT(expr, zone, from, n, want)                                                     \
    do {                                                                                           \
        char got_[1024];                                                                           \
        next_n(expr, zone, from, n, false, got_, sizeof(got_));                                    \
        MH_T_ASSERT_STR_EQ(got_, want);                                                            \
    } while (0)

/* Parsing `expr` fails with a message containing `msg` at byte offset `offset`. */
static void expect_error(const char *expr, long offset, const char *msg)
{
    struct mh_cron *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_cron_parse(expr, false, &c, &info) == MH_OK)
        mh_t_fail(__FILE__, __LINE__, "\"%s\" parsed", expr);
    MH_T_ASSERT(c == NULL);
    if (strstr(info.message, msg) == NULL || info.offset != offset)
        mh_t_fail(__FILE__, __LINE__, "\"%s\": got \"%s\" at %ld, want \"%s\" at %ld", expr,
                  info.message, info.offset, msg, offset);
}

MH_TEST(every_field_form)
{
    /* Lists, ranges, steps over a range and over *, single values. */
    EXPECT_NEXT("*/20 9-10 * * *", "UTC", "2026-12-07T08:00", 7,
                "2026-12-07T09:00:00Z 2026-12-07T09:20:00Z 2026-12-07T09:40:00Z "
                "2026-12-07T10:00:00Z 2026-12-07T10:20:00Z 2026-12-07T10:40:00Z "
                "2026-12-08T09:00:00Z");
    EXPECT_NEXT("5,10-12,50-59/4 0 1 1 *", "UTC", "2026-06-01T00:00", 7,
                "2027-01-01T00:05:00Z 2027-01-01T00:10:00Z 2027-01-01T00:11:00Z "
                "2027-01-01T00:12:00Z 2027-01-01T00:50:00Z 2027-01-01T00:54:00Z "
                "2027-01-01T00:58:00Z");
    /* "N/S" is "N-max/S" (Vixie cron). */
    EXPECT_NEXT("0 20/2 * * *", "UTC", "2026-12-07T00:00", 3,
                "2026-12-07T20:00:00Z 2026-12-07T22:00:00Z 2026-12-08T20:00:00Z");
    /* 2026-12-07 is a Monday. */
    EXPECT_NEXT("0 9 * * mon-wed,FRI", "UTC", "2026-12-07T10:00", 4,
                "2026-12-08T09:00:00Z 2026-12-09T09:00:00Z 2026-12-11T09:00:00Z "
                "2026-12-14T09:00:00Z");
    /* Weekday 7 is Sunday, like 0. */
    EXPECT_NEXT("0 0 * * 7", "UTC", "2026-12-07T00:00", 2,
                "2026-12-13T00:00:00Z 2026-12-20T00:00:00Z");
    EXPECT_NEXT("0 0 1 jan-mar,Jul *", "UTC", "2026-12-07T00:00", 4,
                "2027-01-01T00:00:00Z 2027-02-01T00:00:00Z 2027-03-01T00:00:00Z "
                "2027-07-01T00:00:00Z");
    EXPECT_NEXT("  0   12 * * *  ", "UTC", "2026-12-07T13:00", 1, "2026-12-08T12:00:00Z");
}

MH_TEST(macros)
{
    EXPECT_NEXT("@hourly", "UTC", "2026-12-07T10:30", 2,
                "2026-12-07T11:00:00Z 2026-12-07T12:00:00Z");
    EXPECT_NEXT("@daily", "UTC", "2026-12-07T10:30", 1, "2026-12-08T00:00:00Z");
    EXPECT_NEXT("@midnight", "UTC", "2026-12-07T10:30", 1, "2026-12-08T00:00:00Z");
    EXPECT_NEXT("@weekly", "UTC", "2026-12-07T10:30", 1, "2026-12-13T00:00:00Z");
    EXPECT_NEXT("@monthly", "UTC", "2026-12-07T10:30", 1, "2027-01-01T00:00:00Z");
    EXPECT_NEXT("@yearly", "UTC", "2026-12-07T10:30", 1, "2027-01-01T00:00:00Z");
    EXPECT_NEXT("@ANNUALLY", "UTC", "2027-01-01T00:00", 1, "2028-01-01T00:00:00Z");
}

MH_TEST(day_of_month_or_day_of_week)
{
    /* Both restricted: either matches (the 13th, or any Friday). 2026-12-11 is a Friday. */
    EXPECT_NEXT("0 0 13 * 5", "UTC", "2026-12-07T00:00", 4,
                "2026-12-11T00:00:00Z 2026-12-13T00:00:00Z 2026-12-18T00:00:00Z "
                "2026-12-25T00:00:00Z");
    /* A day field starting with '*' makes it "and": odd days that are Fridays. */
    EXPECT_NEXT("0 0 */2 * 5", "UTC", "2026-12-07T00:00", 3,
                "2026-12-11T00:00:00Z 2026-12-25T00:00:00Z 2027-01-01T00:00:00Z");
    EXPECT_NEXT("0 0 1-3 * *", "UTC", "2026-12-07T00:00", 3,
                "2027-01-01T00:00:00Z 2027-01-02T00:00:00Z 2027-01-03T00:00:00Z");
}

MH_TEST(month_ends_and_february_29)
{
    EXPECT_NEXT("0 0 31 * *", "UTC", "2026-01-31T00:00", 3,
                "2026-03-31T00:00:00Z 2026-05-31T00:00:00Z 2026-07-31T00:00:00Z");
    EXPECT_NEXT("0 0 29 2 *", "UTC", "2026-01-01T00:00", 2,
                "2028-02-29T00:00:00Z 2032-02-29T00:00:00Z");
    /* 2100 is not a leap year: eight years from 2096 to 2104. */
    EXPECT_NEXT("0 0 29 2 *", "UTC", "2096-03-01T00:00", 1, "2104-02-29T00:00:00Z");
    EXPECT_NEXT("59 23 28-31 2 *", "UTC", "2027-02-28T00:00", 2,
                "2027-02-28T23:59:00Z 2028-02-28T23:59:00Z");
}

MH_TEST(seconds_field_only_when_allowed)
{
    char got[256];
    next_n("*/20 * * * * *", "UTC", "2026-12-07T10:00", 4, true, got, sizeof(got));
    MH_T_ASSERT_STR_EQ(got, "2026-12-07T10:00:20Z 2026-12-07T10:00:40Z 2026-12-07T10:01:00Z "
                            "2026-12-07T10:01:20Z");
    expect_error("*/20 * * * * *", 13, "too many fields");
}

MH_TEST(bad_expressions_name_the_field_and_offset)
{
    expect_error("", 0, "empty");
    expect_error("61 * * * *", 0, "minute field at offset 0: 61 is out of range 0-59");
    expect_error("* 25 * * *", 2, "hour field at offset 2: 25 is out of range 0-23");
    expect_error("* * 0 * *", 4, "day-of-month field at offset 4: 0 is out of range 1-31");
    expect_error("* * * 13 *", 6, "month field at offset 6: 13 is out of range 1-12");
    expect_error("* * * * 8", 8, "day-of-week field at offset 8: 8 is out of range 0-7");
    expect_error("* * * * mon-xyz", 12, "unknown weekday name");
    expect_error("* * * foo *", 6, "unknown month name");
    expect_error("5-1 * * * *", 0, "the range 5-1 runs backwards");
    expect_error("*/0 * * * *", 2, "the step 0 is out of range 1-60");
    expect_error("*/ * * * *", 2, "expected a step");
    expect_error("1,,2 * * * *", 2, "expected a number");
    expect_error("1, * * * *", 2, "expected a value after ','");
    expect_error("1x * * * *", 1, "unexpected character");
    expect_error("* * L * *", 4, "Quartz extensions");
    expect_error("* * ? * *", 4, "Quartz extensions");
    expect_error("* * *", 5, "3 fields; an expression has five");
    expect_error("* * * * * *", 10, "too many fields");
    expect_error("@reboot", 0, "unknown macro");
    expect_error("@daily 5", 7, "unexpected text after @daily");
    expect_error("0 0 30 2 *", 0, "never fires");
    expect_error("0 0 31 4,6,9,11 *", 0, "never fires");
    char long_expr[400];
    memset(long_expr, '1', sizeof(long_expr) - 1);
    long_expr[sizeof(long_expr) - 1] = '\0';
    expect_error(long_expr, 256, "longer than 256 bytes");
    /* The 30th of February with a weekday is fine: the weekday matches (the "or" rule). */
    struct mh_cron *c = NULL;
    MH_T_ASSERT_EQ(mh_cron_parse("0 0 30 2 mon", false, &c, NULL), MH_OK);
    mh_cron_destroy(c);
}

MH_TEST(time_zones_from_tzdata)
{
    struct mh_tz *tz = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_tz_load("Europe/Berlin", &tz, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-01-15T12:00")), 3600);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-07-15T12:00")), 7200);
    /* The transition instants themselves. */
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-03-29T01:00") - 1), 3600);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-03-29T01:00")), 7200);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-10-25T01:00") - 1), 7200);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-10-25T01:00")), 3600);
    /* Past the file's last transition the footer's rule (CET-1CEST,M3.5.0,M10.5.0/3) holds:
     * 2090-03-26 and 2090-10-29 are the last Sundays of March and October. */
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-03-26T01:00") - 1), 3600);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-03-26T01:00")), 7200);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-10-29T01:00") - 1), 7200);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-10-29T01:00")), 3600);
    mh_tz_destroy(tz);
    /* The southern hemisphere: daylight time spans the new year. */
    MH_T_ASSERT_EQ(mh_tz_load("Australia/Sydney", &tz, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-01-15T00:00")), 39600);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2090-07-15T00:00")), 36000);
    mh_tz_destroy(tz);
    MH_T_ASSERT_EQ(mh_tz_load("Asia/Kolkata", &tz, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_tz_offset_at(tz, at("2026-07-15T00:00")), 19800);
    mh_tz_destroy(tz);

    const char *bad[] = {"Mars/Olympus",
                         "../../etc/passwd",
                         "/etc/passwd",
                         "Europe/",
                         "Europe//Berlin",
                         "Europe/Berlin\n",
                         "",
                         "zone.tab",
                         "Europe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mh_err_info e = MH_ERR_INFO_INIT;
        tz = NULL;
        if (mh_tz_load(bad[i], &tz, &e) != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "zone \"%s\" loaded", bad[i]);
        MH_T_ASSERT(tz == NULL);
        MH_T_ASSERT(strstr(e.message, "unknown time zone") != NULL);
    }
}

MH_TEST(daily_job_on_the_spring_forward_day_fires_once_at_the_jump)
{
    /* Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00 UTC; 02:30 does not exist. */
    EXPECT_NEXT("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00", 3,
                "2026-03-29T01:00:00Z 2026-03-30T00:30:00Z 2026-03-31T00:30:00Z");
    /* Every 15 minutes in the skipped hour: one fire at the jump, not four. */
    EXPECT_NEXT("*/15 2 * * *", "Europe/Berlin", "2026-03-29T00:00", 2,
                "2026-03-29T01:00:00Z 2026-03-30T00:00:00Z");
    /* An hourly job: 01:00 CET, then 03:00 CEST (the jump), then 04:00 CEST. */
    EXPECT_NEXT("0 * * * *", "Europe/Berlin", "2026-03-28T23:30", 3,
                "2026-03-29T00:00:00Z 2026-03-29T01:00:00Z 2026-03-29T02:00:00Z");
}

MH_TEST(a_job_in_the_repeated_hour_of_the_fall_back_day_fires_once)
{
    /* New York, 2026-11-01: 01:00-02:00 happens twice (EDT, then EST). 01:30 fires at its
     * first occurrence (05:30 UTC), not again at 06:30 UTC. */
    EXPECT_NEXT("30 1 * * *", "America/New_York", "2026-10-31T12:00", 3,
                "2026-11-01T05:30:00Z 2026-11-02T06:30:00Z 2026-11-03T06:30:00Z");
    /* Between the two occurrences nothing is due until the next day. */
    EXPECT_NEXT("30 1 * * *", "America/New_York", "2026-11-01T06:00", 1, "2026-11-02T06:30:00Z");
    /* Berlin, 2026-10-25: 02:00-03:00 twice. */
    EXPECT_NEXT("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00", 2,
                "2026-10-25T00:30:00Z 2026-10-26T01:30:00Z");
    /* With `*` hours the ticks are elapsed time: the repeated hour fires again. */
    EXPECT_NEXT("0 * * * *", "Europe/Berlin", "2026-10-24T23:30", 4,
                "2026-10-25T00:00:00Z 2026-10-25T01:00:00Z 2026-10-25T02:00:00Z "
                "2026-10-25T03:00:00Z");
    EXPECT_NEXT("30 * * * *", "America/New_York", "2026-11-01T04:00", 3,
                "2026-11-01T04:30:00Z 2026-11-01T05:30:00Z 2026-11-01T06:30:00Z");
}

MH_TEST(zones_east_and_west_of_utc)
{
    EXPECT_NEXT("0 9 * * *", "Asia/Tokyo", "2026-12-07T00:00", 2,
                "2026-12-08T00:00:00Z 2026-12-09T00:00:00Z");
    EXPECT_NEXT("0 9 * * *", "Pacific/Honolulu", "2026-12-07T00:00", 1, "2026-12-07T19:00:00Z");
    EXPECT_NEXT("0 0 1 * *", "Pacific/Kiritimati", "2026-12-07T00:00", 1, "2026-12-31T10:00:00Z");
    EXPECT_NEXT("0 9 * * *", "Asia/Kolkata", "2026-12-07T00:00", 1, "2026-12-07T03:30:00Z");
}

static json_t *validate(const char *def_json, bool seconds)
{
    json_t *def = json_loads(def_json, 0, NULL);
    MH_T_ASSERT(def != NULL);
    json_t *errors = json_array();
    mh_schedule_validate(def, seconds, errors);
    json_decref(def);
    return errors;
}

static const char *error_path(json_t *errors, size_t i)
{
    return json_string_value(json_object_get(json_array_get(errors, i), "path"));
}

MH_TEST(validation_points_at_the_field)
{
    json_t *e = validate("{\"nodes\": []}", false);
    MH_T_ASSERT_EQ(json_array_size(e), 0);
    json_decref(e);
    e = validate("{\"schedules\": [{\"cron\": \"0 9 * * 1-5\", \"timezone\": \"Europe/Berlin\", "
                 "\"catch_up\": \"run\", \"max_catch_up\": 5, \"name\": \"mornings\"}]}",
                 false);
    MH_T_ASSERT_EQ(json_array_size(e), 0);
    json_decref(e);
    e = validate("{\"schedules\": [{\"cron\": \"0 9 * * 1-5\"}, {\"cron\": \"0 25 * * *\", "
                 "\"timezone\": \"Mars/Base\", \"catch_up\": \"maybe\", \"max_catch_up\": 0, "
                 "\"every\": 1}]}",
                 false);
    MH_T_ASSERT_EQ(json_array_size(e), 5);
    MH_T_ASSERT_STR_EQ(error_path(e, 0), "/schedules/1/every");
    MH_T_ASSERT_STR_EQ(error_path(e, 1), "/schedules/1/cron");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(e, 1), "offset")), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(e, 1), "code")),
                       "invalid_cron");
    MH_T_ASSERT_STR_EQ(error_path(e, 2), "/schedules/1/timezone");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(e, 2), "code")),
                       "unknown_time_zone");
    MH_T_ASSERT_STR_EQ(error_path(e, 3), "/schedules/1/catch_up");
    MH_T_ASSERT_STR_EQ(error_path(e, 4), "/schedules/1/max_catch_up");
    json_decref(e);
    e = validate("{\"schedules\": [{\"timezone\": \"UTC\"}]}", false);
    MH_T_ASSERT_STR_EQ(error_path(e, 0), "/schedules/0/cron");
    json_decref(e);
    e = validate("{\"schedules\": {}}", false);
    MH_T_ASSERT_STR_EQ(error_path(e, 0), "/schedules");
    json_decref(e);
    e = validate("{\"schedules\": [{\"cron\": \"* * * * * *\"}]}", false);
    MH_T_ASSERT_EQ(json_array_size(e), 1);
    json_decref(e);
    e = validate("{\"schedules\": [{\"cron\": \"* * * * * *\"}]}", true);
    MH_T_ASSERT_EQ(json_array_size(e), 0);
    json_decref(e);
}

/* The example of docs/workflows.md#schedules is a valid workflow, schedules included. */
MH_TEST(docs_example)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/docs/workflows.md", mh_t_repo_dir());
    FILE *f = fopen(path, "r");
    MH_T_ASSERT(f != NULL);
    static char text[200000];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    const char *sec = strstr(text, "\n## Schedules\n");
    MH_T_ASSERT(sec != NULL);
    const char *start = strstr(sec, "```json\n");
    MH_T_ASSERT(start != NULL);
    start += 8;
    const char *end = strstr(start, "```");
    MH_T_ASSERT(end != NULL);
    json_error_t jerr;
    json_t *def = json_loadb(start, (size_t)(end - start), 0, &jerr);
    if (def == NULL)
        mh_t_fail(__FILE__, __LINE__, "the example is not JSON: %s", jerr.text);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(def, "schedules")), 1);
    json_t *errors = json_array();
    mh_schedule_validate(def, false, errors);
    MH_T_ASSERT_EQ(json_array_size(errors), 0);
    json_t *engine_errors = NULL;
    MH_T_ASSERT_EQ(mh_engine_wf_validate(def, &engine_errors), MH_OK);
    json_decref(engine_errors);
    json_decref(errors);
    /* Its preview: weekday mornings at 08:30 Berlin time. */
    json_t *s0 = json_array_get(json_object_get(def, "schedules"), 0);
    json_t *times = NULL;
    MH_T_ASSERT_EQ(mh_schedule_preview(json_string_value(json_object_get(s0, "cron")),
                                       json_string_value(json_object_get(s0, "timezone")), false,
                                       at("2026-12-05T00:00"), 2, &times, NULL),
                   MH_OK);
    char b[32];
    MH_T_ASSERT_STR_EQ(
        iso(json_integer_value(json_object_get(json_array_get(times, 0), "at_s")), b),
        "2026-12-07T07:30:00Z");
    json_decref(times);
    json_decref(def);
}
