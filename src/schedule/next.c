/* SPDX-License-Identifier: MIT */
/*
 * The next fire time of a cron expression in a time zone, and the check of a definition's
 * `schedules`. The search walks local wall-clock times that match the expression (pure civil
 * arithmetic, field by field, so a yearly expression costs a few hundred steps, not a million
 * minutes) and maps each to the UTC instants that show it: none in a gap (clocks forward: the
 * tick fires at the jump), two in an overlap (clocks back: the first, or both when the hour
 * field is `*`). Wall times are scanned from 15 hours before `after` on, since no zone is
 * further than that from UTC, and the scan stops once no later wall time can beat the best.
 */
#include "schedule/schedule.h"

#include <stdio.h>
#include <string.h>

#include "schedule/schedule_internal.h"

#define WINDOW_S    (15 * 3600)
#define HORIZON_S   (10LL * 366 * 86400)
#define MAX_CANDIDS 4

static bool bit(uint64_t set, int v)
{
    return (set >> v) & 1;
}

static bool day_matches(const struct mh_cron *c, int64_t days, int m, int d)
{
    (void)m;
    int wd = (int)(((days % 7) + 11) % 7);
    bool dom = bit(c->days, d), dow = bit(c->weekdays, wd);
    return c->is_dom_star || c->is_dow_star ? dom && dow : dom || dow;
}

/* The first wall time >= w (seconds, as if UTC) that matches; false past `limit`. */
static bool next_wall(const struct mh_cron *c, int64_t w, int64_t limit, int64_t *out)
{
    while (w <= limit) {
        int64_t days = w / 86400 - (w % 86400 < 0);
        int64_t sod = w - days * 86400;
        int64_t y;
        int m, d;
        mh_schedule__civil_from_days(days, &y, &m, &d);
        if (!bit(c->months, m)) {
            int64_t ny = m == 12 ? y + 1 : y;
            int nm = m == 12 ? 1 : m + 1;
            w = mh_schedule__days_from_civil(ny, nm, 1) * 86400;
            continue;
        }
        if (!day_matches(c, days, m, d)) {
            w = (days + 1) * 86400;
            continue;
        }
        int h = (int)(sod / 3600), mi = (int)(sod / 60 % 60), s = (int)(sod % 60);
        if (!bit(c->hours, h)) {
            w = days * 86400 + (int64_t)(h + 1) * 3600;
            continue;
        }
        if (!bit(c->minutes, mi)) {
            w = days * 86400 + (int64_t)h * 3600 + (int64_t)(mi + 1) * 60;
            continue;
        }
        if (!bit(c->seconds, s)) {
            w++;
            continue;
        }
        *out = w;
        return true;
    }
    return false;
}

/* The UTC instants whose local time is `w`, ascending, into out[] (at most 2); in a gap, the
 * instant the clocks jump. Returns the count. */
static int instants_of(const struct mh_tz *tz, int64_t w, int64_t out[2], bool *is_gap)
{
    int32_t offs[3] = {mh_tz_offset_at(tz, w - WINDOW_S), mh_tz_offset_at(tz, w),
                       mh_tz_offset_at(tz, w + WINDOW_S)};
    int n = 0;
    *is_gap = false;
    for (int k = 0; k < 3; k++) {
        int64_t t = w - offs[k];
        if (mh_tz_offset_at(tz, t) != offs[k])
            continue;
        bool seen = false;
        for (int j = 0; j < n; j++)
            seen = seen || out[j] == t;
        if (!seen && n < 2)
            out[n++] = t;
    }
    if (n == 2 && out[0] > out[1]) {
        int64_t x = out[0];
        out[0] = out[1];
        out[1] = x;
    }
    if (n > 0)
        return n;
    /* A gap: the first instant whose local time is past w. */
    int64_t lo = w - WINDOW_S, hi = w + WINDOW_S;
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + mh_tz_offset_at(tz, mid) > w)
            hi = mid;
        else
            lo = mid;
    }
    out[0] = hi;
    *is_gap = true;
    return 1;
}

/* The smallest and largest offset around `t` (the window holds at most one change). */
static void offsets_near(const struct mh_tz *tz, int64_t t, int32_t *lo, int32_t *hi)
{
    int32_t o[3] = {mh_tz_offset_at(tz, t - WINDOW_S), mh_tz_offset_at(tz, t),
                    mh_tz_offset_at(tz, t + WINDOW_S)};
    *lo = *hi = o[0];
    for (int k = 1; k < 3; k++) {
        *lo = o[k] < *lo ? o[k] : *lo;
        *hi = o[k] > *hi ? o[k] : *hi;
    }
}

enum mh_err mh_cron_next(const struct mh_cron *c, const struct mh_tz *tz, int64_t after_s,
                         int64_t *next_s)
{
    /* Every instant after `after_s` shows a wall time of at least after_s + the smallest
     * offset around it: the scan starts there. */
    int32_t lo_off, hi_off = 0;
    offsets_near(tz, after_s, &lo_off, &hi_off);
    int64_t w = after_s + lo_off, limit = after_s + HORIZON_S;
    int64_t best = INT64_MAX;
    bool both = !mh_cron_has_fixed_hour(c);
    while (next_wall(c, w, limit, &w)) {
        /* A later wall time maps to an instant of at least w - (the largest offset near the
         * best): past it, nothing can beat the best. */
        if (best != INT64_MAX && w - hi_off > best)
            break;
        int64_t t[2];
        bool is_gap;
        int n = instants_of(tz, w, t, &is_gap);
        for (int k = 0; k < (both ? n : 1); k++) {
            if (t[k] > after_s && t[k] < best) {
                best = t[k];
                offsets_near(tz, best, &lo_off, &hi_off);
            }
        }
        w++;
    }
    if (best == INT64_MAX)
        return MH_ENOTFOUND;
    *next_s = best;
    return MH_OK;
}

static void add_error(json_t *errors, const char *path, const char *code, long offset,
                      const char *msg)
{
    json_t *e = json_pack("{s:s, s:s, s:s}", "path", path, "code", code, "message", msg);
    if (offset >= 0)
        json_object_set_new(e, "offset", json_integer(offset));
    json_array_append_new(errors, e);
}

static void check_one(json_t *s, size_t i, bool allow_seconds, json_t *errors)
{
    char path[64];
    snprintf(path, sizeof(path), "/schedules/%zu", i);
    if (!json_is_object(s)) {
        add_error(errors, path, "invalid_schedule", -1,
                  "a schedule must be an object {\"cron\": ..., \"timezone\": ...}");
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v)
    {
        if (strcmp(key, "cron") != 0 && strcmp(key, "timezone") != 0 &&
            strcmp(key, "catch_up") != 0 && strcmp(key, "max_catch_up") != 0 &&
            strcmp(key, "name") != 0) {
            char p[128], msg[160];
            snprintf(p, sizeof(p), "%s/%.40s", path, key);
            snprintf(msg, sizeof(msg),
                     "unknown member; a schedule has cron, timezone, catch_up, max_catch_up and "
                     "name");
            add_error(errors, p, "invalid_schedule", -1, msg);
        }
    }
    char p[96];
    json_t *cron = json_object_get(s, "cron");
    snprintf(p, sizeof(p), "%s/cron", path);
    if (!json_is_string(cron)) {
        add_error(errors, p, "invalid_cron", -1,
                  "cron is required: a string such as \"0 9 * * 1-5\"");
    } else {
        struct mh_cron *c = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (mh_cron_parse(json_string_value(cron), allow_seconds, &c, &info) != MH_OK)
            add_error(errors, p, "invalid_cron", info.offset, info.message);
        mh_cron_destroy(c);
    }
    json_t *zone = json_object_get(s, "timezone");
    snprintf(p, sizeof(p), "%s/timezone", path);
    if (zone != NULL && !json_is_string(zone)) {
        add_error(errors, p, "unknown_time_zone", -1, "timezone must be a string such as \"UTC\"");
    } else if (zone != NULL) {
        struct mh_tz *tz = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (mh_tz_load(json_string_value(zone), &tz, &info) != MH_OK)
            add_error(errors, p, "unknown_time_zone", -1, info.message);
        mh_tz_destroy(tz);
    }
    json_t *catch_up = json_object_get(s, "catch_up");
    snprintf(p, sizeof(p), "%s/catch_up", path);
    if (catch_up != NULL &&
        (!json_is_string(catch_up) || (strcmp(json_string_value(catch_up), "skip") != 0 &&
                                       strcmp(json_string_value(catch_up), "run") != 0)))
        add_error(errors, p, "invalid_schedule", -1, "catch_up must be \"skip\" or \"run\"");
    json_t *max = json_object_get(s, "max_catch_up");
    snprintf(p, sizeof(p), "%s/max_catch_up", path);
    if (max != NULL && (!json_is_integer(max) || json_integer_value(max) < 1 ||
                        json_integer_value(max) > MH_SCHEDULE_MAX_CATCH_UP)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "max_catch_up must be an integer from 1 to %d",
                 MH_SCHEDULE_MAX_CATCH_UP);
        add_error(errors, p, "invalid_schedule", -1, msg);
    }
    json_t *name = json_object_get(s, "name");
    snprintf(p, sizeof(p), "%s/name", path);
    if (name != NULL && (!json_is_string(name) || strlen(json_string_value(name)) > 100))
        add_error(errors, p, "invalid_schedule", -1, "name must be a string of at most 100 bytes");
}

void mh_schedule_validate(json_t *def, bool allow_seconds, json_t *errors)
{
    json_t *list = json_is_object(def) ? json_object_get(def, "schedules") : NULL;
    if (list == NULL)
        return;
    if (!json_is_array(list)) {
        add_error(errors, "/schedules", "invalid_schedule", -1,
                  "\"schedules\" must be an array of {\"cron\", \"timezone\"} objects");
        return;
    }
    if (json_array_size(list) > MH_SCHEDULE_MAX) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%zu schedules; a workflow may have at most %d",
                 json_array_size(list), MH_SCHEDULE_MAX);
        add_error(errors, "/schedules", "invalid_schedule", -1, msg);
        return;
    }
    for (size_t i = 0; i < json_array_size(list); i++)
        check_one(json_array_get(list, i), i, allow_seconds, errors);
}

enum mh_err mh_schedule_preview(const char *expr, const char *zone, bool allow_seconds,
                                int64_t after_s, int n, json_t **times, struct mh_err_info *info)
{
    struct mh_cron *c = NULL;
    struct mh_tz *tz = NULL;
    *times = NULL;
    enum mh_err rc = mh_cron_parse(expr, allow_seconds, &c, info);
    if (rc != MH_OK) {
        mh_err_set_path(info, "/cron");
        return rc;
    }
    rc = mh_tz_load(zone, &tz, info);
    if (rc != MH_OK) {
        mh_err_set_path(info, "/timezone");
        mh_cron_destroy(c);
        return rc;
    }
    json_t *out = json_array();
    int64_t t = after_s;
    for (int i = 0; i < n && mh_cron_next(c, tz, t, &t) == MH_OK; i++) {
        json_array_append_new(out, json_pack("{s:I, s:i}", "at_s", (json_int_t)t, "offset_s",
                                             (int)mh_tz_offset_at(tz, t)));
    }
    mh_cron_destroy(c);
    mh_tz_destroy(tz);
    *times = out;
    return MH_OK;
}
