/* SPDX-License-Identifier: MIT */
/*
 * The cron expression compiler: five (or, when allowed, six) fields become one bit set per
 * field, plus the two flags Vixie cron keys its day rule on (a day-of-month or day-of-week
 * field that starts with `*`). Errors name the field and the byte offset of the offending
 * character, so the editor can point at it. Expressions that can never fire (`0 0 30 2 *`)
 * are refused here rather than searched for at run time.
 */
#include "schedule/schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "schedule/schedule_internal.h"

struct field_spec {
    const char *name;
    int lo, hi;
    const char *const *names; /* names[i] is value lo + i, or NULL */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const dow_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const struct field_spec specs[6] = {
    {"second", 0, 59, NULL},       {"minute", 0, 59, NULL},       {"hour", 0, 23, NULL},
    {"day-of-month", 1, 31, NULL}, {"month", 1, 12, month_names}, {"day-of-week", 0, 7, dow_names},
};

static const struct {
    const char *name;
    const char *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static enum mh_err parse_field(const char *expr, size_t start, size_t end,
                               const struct field_spec *f, uint64_t *bits,
                               struct mh_err_info *info);
static enum mh_err parse_value(const char *expr, size_t *i, size_t end, const struct field_spec *f,
                               int *out, struct mh_err_info *info);
static enum mh_err check_can_fire(const struct mh_cron *c, const char *expr,
                                  struct mh_err_info *info);

static enum mh_err field_error(struct mh_err_info *info, const char *expr, size_t at,
                               const struct field_spec *f, const char *what)
{
    (void)expr;
    return mh_err_set(info, MH_EINVAL, "syntax", (long)at, "%s field at offset %zu: %s", f->name,
                      at, what);
}

/* A number or (in a field with names) a name, at expr[*i]; advances *i. */
static enum mh_err parse_value(const char *expr, size_t *i, size_t end, const struct field_spec *f,
                               int *out, struct mh_err_info *info)
{
    size_t at = *i;
    if (*i < end && isdigit((unsigned char)expr[*i])) {
        long v = 0;
        while (*i < end && isdigit((unsigned char)expr[*i])) {
            v = v * 10 + (expr[*i] - '0');
            if (v > 1000)
                break;
            (*i)++;
        }
        if (v < f->lo || v > f->hi) {
            char msg[96];
            snprintf(msg, sizeof(msg), "%ld is out of range %d-%d", v, f->lo, f->hi);
            return field_error(info, expr, at, f, msg);
        }
        *out = (int)v;
        return MH_OK;
    }
    if (f->names != NULL && *i + 3 <= end && isalpha((unsigned char)expr[*i])) {
        int count = f->hi - f->lo + 1 - (f->lo == 0 && f->hi == 7 ? 1 : 0);
        for (int k = 0; k < count; k++) {
            if (strncasecmp(expr + *i, f->names[k], 3) == 0 &&
                (*i + 3 == end || !isalpha((unsigned char)expr[*i + 3]))) {
                *out = f->lo + k;
                *i += 3;
                return MH_OK;
            }
        }
        return field_error(info, expr, at, f,
                           f->names == month_names ? "unknown month name (use jan-dec or 1-12)"
                                                   : "unknown weekday name (use sun-sat or 0-7)");
    }
    if (*i < end && (expr[*i] == 'L' || expr[*i] == 'W' || expr[*i] == '#' || expr[*i] == '?'))
        return field_error(info, expr, at, f,
                           "the Quartz extensions L, W, # and ? are not supported");
    return field_error(info, expr, at, f, *i < end ? "expected a number" : "expected a value");
}

/* One field, expr[start, end): a comma list of `*`, N, N-M, each with an optional /STEP. */
static enum mh_err parse_field(const char *expr, size_t start, size_t end,
                               const struct field_spec *f, uint64_t *bits, struct mh_err_info *info)
{
    size_t i = start;
    *bits = 0;
    for (;;) {
        int lo = 0, hi = 0;
        bool is_range = false;
        size_t item = i;
        if (i < end && expr[i] == '*') {
            lo = f->lo;
            hi = f->hi;
            i++;
            is_range = true;
        } else {
            enum mh_err rc = parse_value(expr, &i, end, f, &lo, info);
            if (rc != MH_OK)
                return rc;
            hi = lo;
            if (i < end && expr[i] == '-') {
                i++;
                rc = parse_value(expr, &i, end, f, &hi, info);
                if (rc != MH_OK)
                    return rc;
                if (hi < lo) {
                    char msg[96];
                    snprintf(msg, sizeof(msg), "the range %d-%d runs backwards", lo, hi);
                    return field_error(info, expr, item, f, msg);
                }
                is_range = true;
            }
        }
        int step = 1;
        if (i < end && expr[i] == '/') {
            size_t at = ++i;
            long v = 0;
            if (i >= end || !isdigit((unsigned char)expr[i]))
                return field_error(info, expr, at, f, "expected a step after '/'");
            while (i < end && isdigit((unsigned char)expr[i]) && v <= 1000)
                v = v * 10 + (expr[i++] - '0');
            if (v < 1 || v > f->hi - f->lo + 1) {
                char msg[96];
                snprintf(msg, sizeof(msg), "the step %ld is out of range 1-%d", v,
                         f->hi - f->lo + 1);
                return field_error(info, expr, at, f, msg);
            }
            /* Vixie cron: "N/S" means "N-max/S". */
            if (!is_range)
                hi = f->hi;
            step = (int)v;
        }
        for (int v = lo; v <= hi; v += step)
            *bits |= (uint64_t)1 << v;
        if (i == end)
            break;
        if (expr[i] != ',')
            return field_error(info, expr, i, f, "unexpected character");
        i++;
        if (i == end)
            return field_error(info, expr, i, f, "expected a value after ','");
    }
    return MH_OK;
}

static const int max_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* With a `*` weekday field, the day-of-month field alone chooses the days: some chosen month
 * must have one of the chosen days (February has a 29th in leap years). */
static enum mh_err check_can_fire(const struct mh_cron *c, const char *expr,
                                  struct mh_err_info *info)
{
    if (!c->is_dow_star || c->is_dom_star)
        return MH_OK;
    for (int m = 1; m <= 12; m++) {
        if (!(c->months & ((uint64_t)1 << m)))
            continue;
        for (int d = 1; d <= max_days[m - 1]; d++)
            if (c->days & ((uint64_t)1 << d))
                return MH_OK;
    }
    (void)expr;
    return mh_err_set(info, MH_EINVAL, "never", 0,
                      "the expression never fires: none of its days of the month exists in "
                      "its months");
}

enum mh_err mh_cron_parse(const char *expr, bool allow_seconds, struct mh_cron **out,
                          struct mh_err_info *info)
{
    *out = NULL;
    if (expr == NULL || expr[0] == '\0')
        return mh_err_set(info, MH_EINVAL, "syntax", 0, "the expression is empty");
    size_t len = strlen(expr);
    if (len > MH_CRON_MAX_BYTES)
        return mh_err_set(info, MH_EINVAL, "too_long", MH_CRON_MAX_BYTES,
                          "the expression is longer than %d bytes", MH_CRON_MAX_BYTES);
    const char *src = expr;
    size_t lead = 0;
    while (src[lead] == ' ' || src[lead] == '\t')
        lead++;
    if (src[lead] == '@') {
        size_t n = lead;
        while (src[n] && src[n] != ' ' && src[n] != '\t')
            n++;
        size_t tail = n;
        while (src[tail] == ' ' || src[tail] == '\t')
            tail++;
        for (size_t k = 0; k < MH_ARRAY_LEN(macros); k++) {
            if (strlen(macros[k].name) == n - lead &&
                strncasecmp(src + lead, macros[k].name, n - lead) == 0) {
                if (src[tail] != '\0')
                    return mh_err_set(info, MH_EINVAL, "syntax", (long)tail,
                                      "unexpected text after %s at offset %zu", macros[k].name,
                                      tail);
                /* The expansion is ours and valid; errors cannot name the user's text. */
                return mh_cron_parse(macros[k].expansion, false, out, NULL);
            }
        }
        return mh_err_set(info, MH_EINVAL, "syntax", (long)lead,
                          "unknown macro at offset %zu (use @yearly, @annually, @monthly, "
                          "@weekly, @daily, @midnight or @hourly)",
                          lead);
    }
    size_t starts[7], ends[7];
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && (expr[i] == ' ' || expr[i] == '\t'))
            i++;
        if (i == len)
            break;
        if (n == 6)
            return mh_err_set(info, MH_EINVAL, "syntax", (long)i,
                              "too many fields: unexpected text at offset %zu (an expression "
                              "has %s fields)",
                              i, allow_seconds ? "five or six" : "five");
        starts[n] = i;
        while (i < len && expr[i] != ' ' && expr[i] != '\t')
            i++;
        ends[n++] = i;
    }
    if (n == 6 && !allow_seconds)
        return mh_err_set(info, MH_EINVAL, "syntax", (long)starts[5],
                          "too many fields: unexpected text at offset %zu (an expression has "
                          "five fields: minute hour day-of-month month day-of-week)",
                          starts[5]);
    if (n < 5)
        return mh_err_set(info, MH_EINVAL, "syntax", (long)len,
                          "%d field%s; an expression has five: minute hour day-of-month month "
                          "day-of-week",
                          n, n == 1 ? "" : "s");
    struct mh_cron *c = mh_xcalloc(1, sizeof(*c));
    int first = n == 6 ? 0 : 1;
    uint64_t *targets[6] = {&c->seconds, &c->minutes, &c->hours,
                            &c->days,    &c->months,  &c->weekdays};
    enum mh_err rc = MH_OK;
    for (int k = 0; k < n; k++) {
        const struct field_spec *f = &specs[first + k];
        rc = parse_field(expr, starts[k], ends[k], f, targets[first + k], info);
        if (rc != MH_OK)
            goto out;
    }
    if (n == 5)
        c->seconds = 1; /* second 0 */
    c->has_seconds = n == 6;
    /* Weekday 7 is Sunday. */
    if (c->weekdays & ((uint64_t)1 << 7))
        c->weekdays = (c->weekdays | 1) & ~((uint64_t)1 << 7);
    c->is_dom_star = expr[starts[n - 3]] == '*';
    c->is_dow_star = expr[starts[n - 1]] == '*';
    c->is_hour_star = strncmp(expr + starts[n - 4], "*", ends[n - 4] - starts[n - 4]) == 0 &&
                      ends[n - 4] - starts[n - 4] == 1;
    rc = check_can_fire(c, expr, info);
out:
    if (rc != MH_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return MH_OK;
}

void mh_cron_destroy(struct mh_cron *c)
{
    free(c);
}

bool mh_cron_has_fixed_hour(const struct mh_cron *c)
{
    return !c->is_hour_star;
}
