/* SPDX-License-Identifier: MIT */
/*
 * IANA time zones, read from the system's compiled tzdata (TZif files, RFC 8536, as Debian's
 * tzdata package installs them) into an immutable table: the transition times, the offset each
 * one starts, and the POSIX TZ rule of the file's footer for times after the last transition.
 * Why not localtime_r: the only way to ask libc about another zone is setenv("TZ"), which is not
 * safe in a threaded server; and PostgreSQL's own conversion would put the database on the path
 * of the preview and of every unit test. The file is read once per load.
 */
#include "schedule/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "schedule/schedule_internal.h"

#define TZ_MAX_FILE_BYTES (512 * 1024)
#define TZ_MAX_NAME_BYTES 64

/* A date rule of a POSIX TZ string: Jn (1-365, no Feb 29), n (0-365) or Mm.w.d. */
struct tz_rule {
    char kind; /* 'J', 'D' (plain n) or 'M' */
    int day, week, month;
    int32_t time_s; /* local time of day the change happens; may be negative or past 24 h */
};

struct mh_tz {
    size_t n;
    int64_t *at;  /* transition instants, ascending */
    int32_t *off; /* the offset that starts at at[i] */
    int32_t first_off;
    /* The footer: std_off alone, or with a DST rule. */
    bool has_footer, has_dst;
    int32_t std_off, dst_off;
    struct tz_rule start, end;
};

static bool name_ok(const char *name);
static bool parse_posix(const char *s, struct mh_tz *tz);
static int64_t rule_local_s(const struct tz_rule *r, int64_t year);
static int32_t posix_offset_at(const struct mh_tz *tz, int64_t utc_s);

int64_t mh_schedule__days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void mh_schedule__civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > TZ_MAX_NAME_BYTES || name[0] == '/' || name[0] == '-' ||
        strstr(name, "..") != NULL || strstr(name, "//") != NULL || name[len - 1] == '/')
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (!(isalnum(ch) || ch == '_' || ch == '+' || ch == '-' || ch == '/'))
            return false;
    }
    return true;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* A POSIX TZ offset "[+-]hh[:mm[:ss]]" (hours west of UTC); *out is seconds EAST. */
static const char *parse_offset(const char *s, int32_t *out, bool is_west)
{
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    if (!isdigit((unsigned char)*s))
        return NULL;
    long v = 0, part = 0;
    while (isdigit((unsigned char)*s) && part < 1000)
        part = part * 10 + (*s++ - '0');
    v = part * 3600;
    for (int k = 0; k < 2 && *s == ':'; k++) {
        s++;
        part = 0;
        if (!isdigit((unsigned char)*s))
            return NULL;
        while (isdigit((unsigned char)*s) && part < 100)
            part = part * 10 + (*s++ - '0');
        v += k == 0 ? part * 60 : part;
    }
    *out = (int32_t)(is_west ? -sign * v : sign * v);
    return s;
}

static const char *parse_name(const char *s)
{
    if (*s == '<') {
        const char *e = strchr(s, '>');
        return e ? e + 1 : NULL;
    }
    const char *b = s;
    while (isalpha((unsigned char)*s))
        s++;
    return s - b >= 3 ? s : NULL;
}

static const char *parse_rule(const char *s, struct tz_rule *r)
{
    char *end = NULL;
    if (*s == 'M') {
        r->kind = 'M';
        r->month = (int)strtol(s + 1, &end, 10);
        if (*end != '.')
            return NULL;
        r->week = (int)strtol(end + 1, &end, 10);
        if (*end != '.')
            return NULL;
        r->day = (int)strtol(end + 1, &end, 10);
        if (r->month < 1 || r->month > 12 || r->week < 1 || r->week > 5 || r->day < 0 || r->day > 6)
            return NULL;
    } else if (*s == 'J') {
        r->kind = 'J';
        r->day = (int)strtol(s + 1, &end, 10);
        if (end == s + 1 || r->day < 1 || r->day > 365)
            return NULL;
    } else if (isdigit((unsigned char)*s)) {
        r->kind = 'D';
        r->day = (int)strtol(s, &end, 10);
        if (r->day < 0 || r->day > 365)
            return NULL;
    } else {
        return NULL;
    }
    s = end;
    r->time_s = 7200;
    if (*s == '/') {
        s = parse_offset(s + 1, &r->time_s, false);
        if (s == NULL)
            return NULL;
    }
    return s;
}

static bool parse_posix(const char *s, struct mh_tz *tz)
{
    if (*s == '\0')
        return true; /* no footer rule: the last transition's offset holds */
    s = parse_name(s);
    if (s == NULL || (s = parse_offset(s, &tz->std_off, true)) == NULL)
        return false;
    tz->has_footer = true;
    if (*s == '\0')
        return true;
    s = parse_name(s);
    if (s == NULL)
        return false;
    tz->dst_off = tz->std_off + 3600;
    if (*s != ',' && *s != '\0' && (s = parse_offset(s, &tz->dst_off, true)) == NULL)
        return false;
    if (*s != ',')
        return false;
    s = parse_rule(s + 1, &tz->start);
    if (s == NULL || *s != ',')
        return false;
    s = parse_rule(s + 1, &tz->end);
    if (s == NULL || *s != '\0')
        return false;
    tz->has_dst = true;
    return true;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Seconds since the epoch, as local wall time, at which rule `r` changes in `year`. */
static int64_t rule_local_s(const struct tz_rule *r, int64_t year)
{
    int64_t jan1 = mh_schedule__days_from_civil(year, 1, 1);
    int64_t day;
    if (r->kind == 'J') {
        day = jan1 + r->day - 1 + (is_leap(year) && r->day >= 60 ? 1 : 0);
    } else if (r->kind == 'D') {
        day = jan1 + r->day;
    } else {
        int64_t first = mh_schedule__days_from_civil(year, r->month, 1);
        int wd = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
        int64_t d = first + ((r->day - wd + 7) % 7) + (int64_t)(r->week - 1) * 7;
        int mdays = r->month == 12
                        ? 31
                        : (int)(mh_schedule__days_from_civil(year, r->month + 1, 1) - first);
        while (d >= first + mdays)
            d -= 7;
        day = d;
    }
    return day * 86400 + r->time_s;
}

static int32_t posix_offset_at(const struct mh_tz *tz, int64_t utc_s)
{
    if (!tz->has_dst)
        return tz->std_off;
    int64_t y;
    int m, d;
    int64_t days = (utc_s + tz->std_off) / 86400 - ((utc_s + tz->std_off) % 86400 < 0);
    mh_schedule__civil_from_days(days, &y, &m, &d);
    /* The start is written in standard time, the end in daylight time. */
    int64_t start = rule_local_s(&tz->start, y) - tz->std_off;
    int64_t end = rule_local_s(&tz->end, y) - tz->dst_off;
    bool is_dst = start < end ? (utc_s >= start && utc_s < end) : !(utc_s >= end && utc_s < start);
    return is_dst ? tz->dst_off : tz->std_off;
}

int32_t mh_tz_offset_at(const struct mh_tz *tz, int64_t utc_s)
{
    if (tz->n == 0 || utc_s < tz->at[0])
        return tz->n == 0 && tz->has_footer ? posix_offset_at(tz, utc_s) : tz->first_off;
    if (utc_s >= tz->at[tz->n - 1] && tz->has_footer)
        return posix_offset_at(tz, utc_s);
    size_t lo = 0, hi = tz->n; /* the last at[i] <= utc_s */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= utc_s)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}

enum mh_err mh_tz_load(const char *name, struct mh_tz **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_tz *tz = NULL;
    unsigned char *buf = NULL;
    FILE *f = NULL;
    *out = NULL;
    if (name == NULL || !name_ok(name))
        return mh_err_set(info, MH_EINVAL, "unknown_time_zone", -1,
                          "unknown time zone; use an IANA name such as \"Europe/Berlin\" or "
                          "\"UTC\"");
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir && dir[0] ? dir : "/usr/share/zoneinfo", name);
    f = fopen(path, "rb");
    if (f == NULL)
        goto bad;
    buf = mh_xmalloc(TZ_MAX_FILE_BYTES);
    size_t len = fread(buf, 1, TZ_MAX_FILE_BYTES, f);
    if (len < 44 || memcmp(buf, "TZif", 4) != 0 || buf[4] < '2')
        goto bad;
    /* Skip the version 1 block (32-bit times) to the version 2+ one. */
    const unsigned char *h = buf + 20;
    size_t v1 = (size_t)be32(h + 12) * 5 + be32(h + 16) * 6 + be32(h + 20) + be32(h + 8) * 8 +
                be32(h + 4) + be32(h);
    size_t pos = 44 + v1;
    if (pos + 44 > len || memcmp(buf + pos, "TZif", 4) != 0)
        goto bad;
    h = buf + pos + 20;
    size_t isut = be32(h), isstd = be32(h + 4), leap = be32(h + 8), timecnt = be32(h + 12),
           typecnt = be32(h + 16), charcnt = be32(h + 20);
    pos += 44;
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 || charcnt > 100000 || leap > 100000)
        goto bad;
    size_t body = timecnt * 9 + typecnt * 6 + charcnt + leap * 12 + isstd + isut;
    if (pos + body + 1 > len)
        goto bad;
    tz = mh_xcalloc(1, sizeof(*tz));
    tz->n = timecnt;
    tz->at = mh_xcalloc(timecnt + 1, sizeof(*tz->at));
    tz->off = mh_xcalloc(timecnt + 1, sizeof(*tz->off));
    const unsigned char *times = buf + pos, *idx = times + timecnt * 8, *types = idx + timecnt;
    for (size_t i = 0; i < timecnt; i++) {
        if (idx[i] >= typecnt)
            goto bad;
        tz->at[i] = be64(times + i * 8);
        tz->off[i] = (int32_t)be32(types + idx[i] * 6);
        if (i > 0 && tz->at[i] <= tz->at[i - 1])
            goto bad;
    }
    tz->first_off = (int32_t)be32(types);
    pos += body;
    /* The footer: "\n<POSIX TZ>\n". */
    if (buf[pos] != '\n')
        goto bad;
    const unsigned char *nl = memchr(buf + pos + 1, '\n', len - pos - 1);
    if (nl == NULL || (size_t)(nl - (buf + pos + 1)) > 128)
        goto bad;
    char footer[130];
    memcpy(footer, buf + pos + 1, (size_t)(nl - (buf + pos + 1)));
    footer[nl - (buf + pos + 1)] = '\0';
    if (!parse_posix(footer, tz))
        goto bad;
    goto out;
bad:
    rc = mh_err_set(info, MH_EINVAL, "unknown_time_zone", -1,
                    "unknown time zone \"%s\"; use an IANA name such as \"Europe/Berlin\" or "
                    "\"UTC\"",
                    name);
    mh_tz_destroy(tz);
    tz = NULL;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    *out = tz;
    return rc;
}

void mh_tz_destroy(struct mh_tz *tz)
{
    if (tz == NULL)
        return;
    free(tz->at);
    free(tz->off);
    free(tz);
}
