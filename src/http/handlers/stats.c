/* SPDX-License-Identifier: MIT */
/*
 * Run statistics: GET /api/projects/:pid/stats?window=24h&grain=hour[&workflow_id=...]. The
 * figures come from the rollup tables (migration 0023) through mh_stats_series, never from the
 * runs table, so a 30-day chart costs the same with ten million runs as with ten. The window is
 * a count of minutes, hours or days; a chart has at most MAX_POINTS buckets, which is what
 * limits minute grain to windows of 24 hours (minute rows are kept two days).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"

#define MAX_POINTS      1440
#define MAX_WINDOW_DAYS 400
/* 2^(1/16) - 1: the histogram has 8 buckets per doubling and reports each bucket's geometric
 * middle (docs/observability.md). */
#define PERCENTILE_ERROR 0.0443

static bool parse_window(const char *s, long *minutes);
static long grain_minutes(const char *grain);

/* "90m", "24h", "30d" -> minutes; false for anything else or outside 1 minute .. 400 days. */
static bool parse_window(const char *s, long *minutes)
{
    if (s == NULL || s[0] < '1' || s[0] > '9' || strlen(s) > 8)
        return false;
    char *end = NULL;
    long n = strtol(s, &end, 10);
    if (end == NULL || end[0] == '\0' || end[1] != '\0')
        return false;
    long unit = end[0] == 'm' ? 1 : end[0] == 'h' ? 60 : end[0] == 'd' ? 1440 : 0;
    if (unit == 0 || n > MAX_WINDOW_DAYS * 1440L / unit)
        return false;
    *minutes = n * unit;
    return true;
}

static long grain_minutes(const char *grain)
{
    if (strcmp(grain, "minute") == 0)
        return 1;
    if (strcmp(grain, "hour") == 0)
        return 60;
    if (strcmp(grain, "day") == 0)
        return 1440;
    return 0;
}

void mh_h_stats(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *window = mh_http_req_query(req, "window");
    const char *grain = mh_http_req_query(req, "grain");
    const char *wid = mh_http_req_query(req, "workflow_id");
    long minutes = 0;
    if (!mh_api_require_role(&api, pid, "viewer", NULL))
        goto out;
    if (window == NULL)
        window = "24h";
    if (!parse_window(window, &minutes)) {
        mh_http_respond_error(req, 422, "invalid",
                              "window must be a whole number of minutes, hours or days such as "
                              "90m, 24h or 30d, at most 400d",
                              "?window");
        goto out;
    }
    if (grain == NULL)
        grain = minutes <= 6 * 60 ? "minute" : minutes <= 60 * 1440 ? "hour" : "day";
    long step = grain_minutes(grain);
    if (step == 0) {
        mh_http_respond_error(req, 422, "invalid", "grain must be minute, hour or day", "?grain");
        goto out;
    }
    long points = (minutes + step - 1) / step;
    if (points > MAX_POINTS) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "grain '%s' allows windows up to %s (%d points); use a coarser grain", grain,
                 step == 1    ? "24h"
                 : step == 60 ? "60d"
                              : "400d",
                 MAX_POINTS);
        mh_http_respond_error(req, 422, "invalid", msg, "?grain");
        goto out;
    }
    if (wid && !mh_api_is_uuid(wid)) {
        mh_http_respond_error(req, 422, "invalid", "workflow_id must be a UUID", "?workflow_id");
        goto out;
    }
    if (wid) {
        const char *wp[] = {wid, pid};
        if (!mh_api_query_row(&api, "workflow not found",
                              "SELECT id FROM workflows WHERE id = $1 AND project_id = $2", 2, wp))
            goto out;
    }
    char pts[24];
    snprintf(pts, sizeof(pts), "%ld", points);
    const char *params[] = {pid, wid, grain, pts};
    json_t *row =
        mh_api_query_row(&api, "project not found",
                         "SELECT mh_stats_series($1::uuid, $2::uuid, $3, $4::int) AS s", 4, params);
    if (row == NULL)
        goto out;
    json_t *s = json_object_get(row, "s");
    if (!json_is_object(s)) {
        mh_http_respond_error(req, 500, "internal", "statistics unavailable", NULL);
        goto out;
    }
    json_t *body = json_deep_copy(s);
    json_object_set_new(body, "window", json_string(window));
    json_object_set_new(body, "grain", json_string(grain));
    json_object_set_new(body, "workflow_id", wid ? json_string(wid) : json_null());
    json_object_set_new(body, "percentile_relative_error", json_real(PERCENTILE_ERROR));
    mh_http_respond_json(req, 200, body);
out:
    mh_api_close(&api);
}
