/* SPDX-License-Identifier: MIT */
/*
 * A project's resource limits (docs/operations.md, "Resource limits per project"): runs in
 * flight, http_calls in flight (per server) and stored bytes, with the project's usage beside
 * them. A field that is null (or absent from a PUT) follows the server's default
 * (limit_runs_in_flight, outbound_max_in_flight_per_project, limit_stored_bytes), which the
 * answer also shows with the effective value; 0 is "unlimited" (for http_calls: no bound below
 * the server's per-project share, which always applies). Members
 * read; admins replace all three at once, and the audit log records it. A value that is not a
 * whole number within its range is a 422 naming the field, and nothing is stored. After a change
 * the intake of this server reads the new limits before the project's next webhook; other
 * servers within a second.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"
#include "intake/intake.h"

#define NFIELDS 3

static const char *const fields[] = {"runs_in_flight", "http_calls_in_flight", "stored_bytes",
                                     NULL};
static const long maxima[NFIELDS] = {100000000L, 100000L, 1125899906842624L};

static const char *const limits_sql =
    "SELECT l.runs_in_flight, l.http_calls_in_flight, l.stored_bytes, "
    "to_json(l.updated_at) AS updated_at, u.runs_in_flight AS usage_runs, u.stored_bytes AS "
    "usage_bytes, to_json(u.measured_at) AS measured_at FROM mh_limits_usage(ARRAY[$1::uuid], "
    "$2::bigint, $3::bigint, $4::bigint) u LEFT JOIN project_limits l ON l.project_id = "
    "u.project_id";

static json_t *load(struct mh_api *api, const char *pid);
static void respond(struct mh_api *api, json_t *row);

static json_t *load(struct mh_api *api, const char *pid)
{
    const struct mh_config *cfg = api->app->cfg;
    char d[NFIELDS][24];
    snprintf(d[0], sizeof(d[0]), "%ld", cfg->limit_runs_in_flight);
    snprintf(d[1], sizeof(d[1]), "%d", cfg->outbound_max_in_flight_per_project);
    snprintf(d[2], sizeof(d[2]), "%ld", cfg->limit_stored_bytes);
    const char *params[] = {pid, d[0], d[1], d[2]};
    return mh_api_query_row(api, "project not found", limits_sql, 4, params);
}

/* The stored row, the server's defaults, the effective values and the usage. */
static void respond(struct mh_api *api, json_t *row)
{
    const struct mh_config *cfg = api->app->cfg;
    const long defaults[NFIELDS] = {cfg->limit_runs_in_flight,
                                    cfg->outbound_max_in_flight_per_project,
                                    cfg->limit_stored_bytes};
    json_t *out = json_object(), *def = json_object(), *eff = json_object();
    for (int i = 0; fields[i]; i++) {
        json_t *v = json_object_get(row, fields[i]);
        json_object_set_new(out, fields[i], json_is_integer(v) ? json_incref(v) : json_null());
        json_object_set_new(def, fields[i], json_integer(defaults[i]));
        long e = json_is_integer(v) ? (long)json_integer_value(v) : defaults[i];
        /* http_calls: the server's per-project share always applies; 0 adds no bound of its
         * own below it. */
        if (i == 1 && (e == 0 || e > defaults[i]))
            e = defaults[i];
        json_object_set_new(eff, fields[i], json_integer(e));
    }
    json_t *updated = json_object_get(row, "updated_at");
    json_object_set_new(out, "updated_at", updated ? json_incref(updated) : json_null());
    json_object_set_new(out, "defaults", def);
    json_object_set_new(out, "effective", eff);
    json_t *measured = json_object_get(row, "measured_at");
    json_object_set_new(out, "usage",
                        json_pack("{s:I, s:I, s:O}", "runs_in_flight",
                                  json_integer_value(json_object_get(row, "usage_runs")),
                                  "stored_bytes",
                                  json_integer_value(json_object_get(row, "usage_bytes")),
                                  "stored_bytes_measured_at", measured ? measured : json_null()));
    mh_http_respond_json(api->req, 200, out);
}

void mh_h_limits_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    json_t *row = NULL;
    if (mh_api_require_role(&api, pid, "viewer", NULL) && (row = load(&api, pid)) != NULL)
        respond(&api, row);
    mh_api_close(&api);
}

void mh_h_limits_put(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields))
        goto out;
    long v[NFIELDS] = {-1, -1, -1};
    char text[NFIELDS][24];
    const char *params[NFIELDS + 1] = {pid, NULL, NULL, NULL};
    for (int i = 0; i < NFIELDS; i++) {
        if (!mh_api_int(&api, body, fields[i], 0, maxima[i], &v[i]))
            goto out;
        if (v[i] >= 0) {
            snprintf(text[i], sizeof(text[i]), "%ld", v[i]);
            params[i + 1] = text[i];
        }
    }
    json_t *detail = json_object();
    for (int i = 0; i < NFIELDS; i++)
        json_object_set_new(detail, fields[i], v[i] >= 0 ? json_integer(v[i]) : json_null());
    bool ok = mh_api_query(&api,
                           "INSERT INTO project_limits (project_id, runs_in_flight, "
                           "http_calls_in_flight, stored_bytes, updated_by, updated_at) VALUES "
                           "($1, $2::bigint, $3::bigint, $4::bigint, mh_uid(), now()) ON CONFLICT "
                           "(project_id) DO UPDATE SET runs_in_flight = EXCLUDED.runs_in_flight, "
                           "http_calls_in_flight = EXCLUDED.http_calls_in_flight, stored_bytes = "
                           "EXCLUDED.stored_bytes, updated_by = EXCLUDED.updated_by, updated_at = "
                           "now()",
                           4, params) &&
              mh_api_audit(&api, pid, "limits.update", pid, detail);
    json_decref(detail);
    json_t *row = NULL;
    if (ok && (row = load(&api, pid)) != NULL && mh_api_commit(&api)) {
        mh_intake_limits_changed(api.app->intake, pid);
        respond(&api, row);
    }
out:
    mh_api_close(&api);
}
