/* SPDX-License-Identifier: MIT */
/*
 * Durations and timestamps for delay nodes, parsed without libc's time
 * functions: strptime and mktime depend on the locale and time zone of the process, and the
 * engine's decisions must depend on their inputs only. Civil dates convert to days since the
 * epoch with Howard Hinnant's days_from_civil algorithm.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_SEC      1000LL
#define MS_PER_MIN      (60LL * MS_PER_SEC)
#define MS_PER_HOUR     (60LL * MS_PER_MIN)
#define MS_PER_DAY      (24LL * MS_PER_HOUR)
#define MAX_DURATION_MS (366LL * MS_PER_DAY)

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
static bool read_uint(const char **p, int digits, int64_t *out);
static bool read_number(const char **p, int64_t *whole, int64_t *frac_ms, bool allow_frac);
static bool parse_iso_duration(const char *s, int64_t *out_ms);
static bool parse_short_duration(const char *s, int64_t *out_ms);
static bool valid_date(int64_t y, int64_t mo, int64_t d);

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool valid_date(int64_t y, int64_t mo, int64_t d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1)
        return false;
    int max = mdays[mo - 1];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        max = 29;
    return d <= max;
}

/* Reads exactly `digits` decimal digits. */
static bool read_uint(const char **p, int digits, int64_t *out)
{
    int64_t v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += digits;
    *out = v;
    return true;
}

/* Reads 1..9 digits and, when allowed, a fraction of up to 3 significant digits (the rest are
 * accepted and ignored). */
static bool read_number(const char **p, int64_t *whole, int64_t *frac_ms, bool allow_frac)
{
    const char *s = *p;
    int64_t v = 0;
    int n = 0;
    while (isdigit((unsigned char)*s)) {
        if (++n > 9)
            return false;
        v = v * 10 + (*s++ - '0');
    }
    if (n == 0)
        return false;
    int64_t f = 0;
    if (*s == '.' || *s == ',') {
        if (!allow_frac)
            return false;
        s++;
        int k = 0;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s)) {
            if (k < 3) {
                f = f * 10 + (*s - '0');
                k++;
            }
            s++;
        }
        while (k++ < 3)
            f *= 10;
    }
    *whole = v;
    *frac_ms = f;
    *p = s;
    return true;
}

/* ISO 8601 durations without years or months (their length varies): PnDTnHnMn.fffS, PnW. */
static bool parse_iso_duration(const char *s, int64_t *out_ms)
{
    const char *p = s + 1;
    int64_t total = 0;
    bool in_time = false, any = false;
    /* Units must appear in order; `rank` enforces it. */
    int rank = 0;
    while (*p) {
        if (*p == 'T') {
            if (in_time)
                return false;
            in_time = true;
            p++;
            if (*p == '\0')
                return false;
            continue;
        }
        int64_t whole, frac;
        if (!read_number(&p, &whole, &frac, in_time))
            return false;
        int64_t unit;
        int r;
        switch (*p) {
        case 'W': unit = 7 * MS_PER_DAY, r = 1; break;
        case 'D': unit = MS_PER_DAY, r = 2; break;
        case 'H': unit = MS_PER_HOUR, r = 3; break;
        case 'M': unit = MS_PER_MIN, r = 4; break;
        case 'S': unit = MS_PER_SEC, r = 5; break;
        default: return false;
        }
        if ((r >= 3) != in_time || r <= rank)
            return false;
        if (frac != 0 && r != 5)
            return false;
        rank = r;
        p++;
        total += whole * unit + frac * unit / 1000;
        if (total > MAX_DURATION_MS)
            return false;
        any = true;
    }
    if (!any)
        return false;
    *out_ms = total;
    return true;
}

/* "250ms", "5s", "1.5s", "1h30m", "2d". */
static bool parse_short_duration(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int64_t total = 0;
    int rank = 0;
    bool any = false;
    while (*p) {
        int64_t whole, frac;
        if (!read_number(&p, &whole, &frac, true))
            return false;
        int64_t unit;
        int r;
        if (p[0] == 'm' && p[1] == 's')
            unit = 1, r = 5, p += 2;
        else if (*p == 'd')
            unit = MS_PER_DAY, r = 1, p++;
        else if (*p == 'h')
            unit = MS_PER_HOUR, r = 2, p++;
        else if (*p == 'm')
            unit = MS_PER_MIN, r = 3, p++;
        else if (*p == 's')
            unit = MS_PER_SEC, r = 4, p++;
        else
            return false;
        if (r <= rank || (frac != 0 && unit == 1))
            return false;
        rank = r;
        total += whole * unit + frac * unit / 1000;
        if (total > MAX_DURATION_MS)
            return false;
        any = true;
    }
    if (!any)
        return false;
    *out_ms = total;
    return true;
}

bool mh_engine__parse_duration(const char *s, int64_t *out_ms)
{
    if (s == NULL || *s == '\0')
        return false;
    if (s[0] == 'P')
        return parse_iso_duration(s, out_ms);
    return parse_short_duration(s, out_ms);
}

bool mh_engine__parse_rfc3339(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int64_t y, mo, d, h, mi, sec, ms = 0;
    if (!read_uint(&p, 4, &y) || *p++ != '-' || !read_uint(&p, 2, &mo) || *p++ != '-' ||
        !read_uint(&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!read_uint(&p, 2, &h) || *p++ != ':' || !read_uint(&p, 2, &mi) || *p++ != ':' ||
        !read_uint(&p, 2, &sec))
        return false;
    if (!valid_date(y, mo, d) || h > 23 || mi > 59 || sec > 60)
        return false;
    if (sec == 60) /* A leap second reads as the last millisecond of the minute. */
        sec = 59, ms = 999;
    if (*p == '.') {
        p++;
        int k = 0;
        int64_t f = 0;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p)) {
            if (k < 3) {
                f = f * 10 + (*p - '0');
                k++;
            }
            p++;
        }
        while (k++ < 3)
            f *= 10;
        if (ms == 0)
            ms = f;
    }
    int64_t offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;
        int64_t oh, om;
        if (!read_uint(&p, 2, &oh) || *p++ != ':' || !read_uint(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    *out_ms = days * MS_PER_DAY + h * MS_PER_HOUR + mi * MS_PER_MIN + sec * MS_PER_SEC + ms -
              offset_min * MS_PER_MIN;
    return true;
}

bool mh_engine_parse_rfc3339(const char *s, int64_t *out_ms)
{
    return mh_engine__parse_rfc3339(s, out_ms);
}

void mh_engine__format_rfc3339(int64_t ms, char *out, size_t cap)
{
    int64_t days = ms / MS_PER_DAY, rem = ms % MS_PER_DAY;
    if (rem < 0) {
        rem += MS_PER_DAY;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(out, cap, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d,
             (int)(rem / MS_PER_HOUR), (int)(rem / MS_PER_MIN % 60), (int)(rem / MS_PER_SEC % 60),
             (int)(rem % 1000));
}
