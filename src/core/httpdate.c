/* SPDX-License-Identifier: MIT */
/*
 * HTTP-dates (RFC 9110 §5.6.7) in all three forms and Retry-After (§10.2.3), the one parser the
 * engine (a retry's delay) and outbound (a breaker's or a parked step's wait) share. It is written
 * by hand rather than with strptime and timegm because those depend on the
 * process locale and time zone, and a pure function of its inputs is what the callers (and the
 * engine's replay) need. Civil dates become days since the epoch with the well-known
 * days-from-civil arithmetic on 400-year eras.
 */
#include "core/httpdate.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define MS_PER_DAY 86400000LL
/* 9999-12-31T23:59:59.999Z, the last instant an HTTP-date can name. */
#define MAX_EPOCH_MS 253402300799999LL

struct cursor {
    const char *p;
    const char *end;
};

static bool is_ows(char c);
static bool take_lit(struct cursor *c, const char *s);
static bool take_digits(struct cursor *c, int n, int *out);
static bool take_name(struct cursor *c, const char *const *names, int count, int *index);
static bool take_time(struct cursor *c, int *h, int *mi, int *s);
static bool parse_imf(struct cursor c, int *y, int *mo, int *d, int *h, int *mi, int *s);
static bool parse_rfc850(struct cursor c, int *yy, int *mo, int *d, int *h, int *mi, int *s);
static bool parse_asctime(struct cursor c, int *y, int *mo, int *d, int *h, int *mi, int *s);
static int64_t days_from_civil(int64_t y, int m, int d);
static int64_t year_of(int64_t epoch_ms);
static bool valid_date(int y, int mo, int d);

static const char *const day_short[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
static const char *const day_long[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Matches `s` ASCII-case-insensitively: senders are not always careful about "GMT". */
static bool take_lit(struct cursor *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || strncasecmp(c->p, s, n) != 0)
        return false;
    c->p += n;
    return true;
}

static bool take_digits(struct cursor *c, int n, int *out)
{
    int v = 0;
    if (c->end - c->p < n)
        return false;
    for (int i = 0; i < n; i++) {
        char ch = c->p[i];
        if (ch < '0' || ch > '9')
            return false;
        v = v * 10 + (ch - '0');
    }
    c->p += n;
    *out = v;
    return true;
}

/* Takes the longest of `names` that matches; the names of one table never prefix each other. */
static bool take_name(struct cursor *c, const char *const *names, int count, int *index)
{
    for (int i = 0; i < count; i++) {
        if (take_lit(c, names[i])) {
            *index = i;
            return true;
        }
    }
    return false;
}

static bool take_time(struct cursor *c, int *h, int *mi, int *s)
{
    return take_digits(c, 2, h) && take_lit(c, ":") && take_digits(c, 2, mi) && take_lit(c, ":") &&
           take_digits(c, 2, s) && *h <= 23 && *mi <= 59 && *s <= 60;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool parse_imf(struct cursor c, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int day;
    return take_name(&c, day_short, 7, &day) && take_lit(&c, ", ") && take_digits(&c, 2, d) &&
           take_lit(&c, " ") && take_name(&c, month_names, 12, mo) && take_lit(&c, " ") &&
           take_digits(&c, 4, y) && take_lit(&c, " ") && take_time(&c, h, mi, s) &&
           take_lit(&c, " GMT") && c.p == c.end;
}

/* Obsolete RFC 850 form: "Sunday, 06-Nov-94 08:49:37 GMT". */
static bool parse_rfc850(struct cursor c, int *yy, int *mo, int *d, int *h, int *mi, int *s)
{
    int day;
    return take_name(&c, day_long, 7, &day) && take_lit(&c, ", ") && take_digits(&c, 2, d) &&
           take_lit(&c, "-") && take_name(&c, month_names, 12, mo) && take_lit(&c, "-") &&
           take_digits(&c, 2, yy) && take_lit(&c, " ") && take_time(&c, h, mi, s) &&
           take_lit(&c, " GMT") && c.p == c.end;
}

/* ANSI C asctime() form: "Sun Nov  6 08:49:37 1994". */
static bool parse_asctime(struct cursor c, int *y, int *mo, int *d, int *h, int *mi, int *s)
{
    int day;
    if (!(take_name(&c, day_short, 7, &day) && take_lit(&c, " ") &&
          take_name(&c, month_names, 12, mo) && take_lit(&c, " ")))
        return false;
    if (!take_digits(&c, 2, d) && !(take_lit(&c, " ") && take_digits(&c, 1, d)))
        return false;
    return take_lit(&c, " ") && take_time(&c, h, mi, s) && take_lit(&c, " ") &&
           take_digits(&c, 4, y) && c.p == c.end;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The proleptic Gregorian year holding `epoch_ms`. */
static int64_t year_of(int64_t epoch_ms)
{
    int64_t z = epoch_ms / MS_PER_DAY - (epoch_ms % MS_PER_DAY < 0) + 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    return yoe + era * 400 + (mp >= 10);
}

static bool valid_date(int y, int mo, int d)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1)
        return false;
    int max = mdays[mo - 1];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        max = 29;
    return d <= max;
}

bool mh_http_date_parse(const char *s, size_t len, int64_t now_ms, int64_t *out_ms)
{
    struct cursor c = {s, s + len};
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (parse_rfc850(c, &y, &mo, &d, &h, &mi, &sec)) {
        /* RFC 9110 §5.6.7: a two-digit year that would lie more than 50 years in the future
         * means the most recent past year with those digits. */
        int64_t now_year = year_of(now_ms);
        int64_t full = now_year - now_year % 100 + y;
        if (full > now_year + 50)
            full -= 100;
        if (full < 1 || full > 9999)
            return false;
        y = (int)full;
    } else if (!parse_imf(c, &y, &mo, &d, &h, &mi, &sec) &&
               !parse_asctime(c, &y, &mo, &d, &h, &mi, &sec)) {
        return false;
    }
    mo += 1; /* take_name gave a 0-based month */
    if (!valid_date(y, mo, d))
        return false;
    /* A leap second (:60) names the last second of its minute: no clock here counts it. */
    if (sec == 60)
        sec = 59;
    *out_ms = days_from_civil(y, mo, d) * MS_PER_DAY + (int64_t)h * 3600000 + (int64_t)mi * 60000 +
              (int64_t)sec * 1000;
    return true;
}

int64_t mh_http_retry_after(const char *value, int64_t now_ms)
{
    if (value == NULL)
        return -1;
    const char *p = value;
    const char *end = value + strlen(value);
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    if (p == end)
        return -1;

    if (*p >= '0' && *p <= '9') {
        int64_t secs = 0;
        for (const char *q = p; q < end; q++) {
            if (*q < '0' || *q > '9')
                return -1;
            secs = secs * 10 + (*q - '0');
            if (secs > MAX_EPOCH_MS / 1000)
                return -1;
        }
        if (now_ms > MAX_EPOCH_MS - secs * 1000)
            return -1;
        return now_ms + secs * 1000;
    }
    int64_t ms;
    if (!mh_http_date_parse(p, (size_t)(end - p), now_ms, &ms))
        return -1;
    return ms < now_ms ? now_ms : ms;
}
