/* SPDX-License-Identifier: MIT */
/*
 * Schedules over HTTP: the next fire times of an expression in a zone (what the editor shows
 * before a workflow is saved), and a project's schedules with their next fire times. The
 * schedules themselves are written by publishing a workflow whose definition has them
 * (docs/workflows.md#schedules); there is no separate write path.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/api.h"
#include "http/handlers/handlers.h"
#include "schedule/schedule.h"

#define PREVIEW_DEFAULT 5
#define PREVIEW_MAX     20

/* "2026-03-29T03:00:00+02:00" of UTC second `t` shown at offset `off` seconds east. */
static void local_iso(int64_t t, int off, char out[40])
{
    time_t lt = (time_t)(t + off);
    struct tm tm;
    gmtime_r(&lt, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    int a = off < 0 ? -off : off;
    snprintf(out + n, 40 - n, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

/* POST /api/schedules/preview {"cron", "timezone"?, "count"?, "after"?} -> the next fire
 * times, or 422 naming /cron or /timezone. */
void mh_h_schedules_preview(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"cron", "timezone", "count", "after", NULL};
    json_t *times = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *body = mh_api_body(&api);
    const char *cron = NULL, *zone = NULL, *after = NULL;
    long count = PREVIEW_DEFAULT;
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "cron", true, 1, MH_CRON_MAX_BYTES, &cron) ||
        !mh_api_string(&api, body, "timezone", false, 1, 64, &zone) ||
        !mh_api_string(&api, body, "after", false, 1, 64, &after))
        goto out;
    if (json_object_get(body, "count") != NULL &&
        !mh_api_int(&api, body, "count", 1, PREVIEW_MAX, &count))
        goto out;
    int64_t from = (int64_t)time(NULL);
    if (after != NULL) {
        struct tm tm = {0};
        const char *end = strptime(after, "%Y-%m-%dT%H:%M:%S", &tm);
        if (end == NULL || (strcmp(end, "Z") != 0 && strcmp(end, "") != 0)) {
            mh_http_respond_error(req, 422, "invalid",
                                  "after must be a UTC time such as \"2026-03-28T12:00:00Z\"",
                                  "/after");
            goto out;
        }
        from = (int64_t)timegm(&tm);
    }
    const char *tzname = zone ? zone : "UTC";
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_schedule_preview(cron, tzname, api.app->cfg->schedule_allow_seconds, from, (int)count,
                            &times, &info) != MH_OK) {
        json_t *err =
            json_pack("{s:s, s:s, s:s}", "code",
                      strcmp(info.path, "/timezone") == 0 ? "unknown_time_zone" : "invalid_cron",
                      "message", info.message, "path", info.path);
        if (info.offset >= 0 && strcmp(info.path, "/cron") == 0)
            json_object_set_new(err, "offset", json_integer(info.offset));
        mh_http_respond_json(
            req, 422, json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(req)));
        goto out;
    }
    json_t *items = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(times, i, x)
    {
        int64_t t = json_integer_value(json_object_get(x, "at_s"));
        int off = (int)json_integer_value(json_object_get(x, "offset_s"));
        char utc[40], local[40];
        time_t tt = (time_t)t;
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(utc, sizeof(utc), "%Y-%m-%dT%H:%M:%SZ", &tm);
        local_iso(t, off, local);
        json_array_append_new(items, json_pack("{s:s, s:s}", "at", utc, "local", local));
    }
    mh_http_respond_json(
        req, 200, json_pack("{s:s, s:s, s:o}", "cron", cron, "timezone", tzname, "times", items));
out:
    json_decref(times);
    mh_api_close(&api);
}

/* GET /api/projects/:project_id/schedules[?workflow_id=] -> the project's schedules. */
void mh_h_schedules_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = NULL;
    json_t *rows = NULL;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        !mh_api_query_uuid(&api, "workflow_id", &wid))
        goto out;
    const char *params[] = {pid, wid};
    rows = mh_api_query(
        &api,
        "SELECT s.id, s.workflow_id, w.name AS workflow_name, s.position, s.name, s.cron, "
        "s.timezone, s.catch_up, s.max_catch_up, s.version, to_json(s.next_fire_at) AS "
        "next_fire_at, to_json(s.last_fired_at) AS last_fired_at, to_json(s.last_tick_at) AS "
        "last_tick_at, s.last_run_id, s.skipped_ticks, (s.next_fire_at IS NULL OR "
        "w.archived_at IS NOT NULL) AS is_paused FROM schedules s JOIN workflows w ON w.id = "
        "s.workflow_id WHERE s.project_id = $1 AND ($2::uuid IS NULL OR s.workflow_id = $2) "
        "ORDER BY w.name, s.workflow_id, s.position",
        2, params);
    if (rows != NULL)
        mh_http_respond_json(req, 200, json_pack("{s:O}", "items", rows));
out:
    mh_api_close(&api);
}
