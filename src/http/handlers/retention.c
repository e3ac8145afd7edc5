/* SPDX-License-Identifier: MIT */
/*
 * A project's retention settings (docs/observability.md, "Retention"): how many days finished
 * runs, webhook deliveries and dead letters are kept. A field that is null (or absent from a
 * PUT) follows the server's default (retention_*_days), which the answer also shows, with the
 * effective value. Members read; admins replace all three at once, and the audit log records
 * it. Each value is a whole number of days from 1 to 3650: anything else is a 422 naming the
 * field, and nothing is stored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"

#define RETENTION_MAX_DAYS 3650

static const char *const fields[] = {"runs_days", "deliveries_days", "dead_letters_days", NULL};

static const char *const retention_sql =
    "SELECT (SELECT runs_days FROM project_retention WHERE project_id = $1) AS runs_days, "
    "(SELECT deliveries_days FROM project_retention WHERE project_id = $1) AS deliveries_days, "
    "(SELECT dead_letters_days FROM project_retention WHERE project_id = $1) AS "
    "dead_letters_days, (SELECT to_json(updated_at) FROM project_retention WHERE project_id = "
    "$1) AS updated_at";

static void respond(struct mh_api *api, json_t *row);

/* The stored row plus the server's defaults and the effective values. */
static void respond(struct mh_api *api, json_t *row)
{
    const struct mh_config *cfg = api->app->cfg;
    const int defaults[] = {cfg->retention_runs_days, cfg->retention_deliveries_days,
                            cfg->retention_dead_letters_days};
    json_t *out = json_deep_copy(row);
    json_t *def = json_object(), *eff = json_object();
    for (int i = 0; fields[i]; i++) {
        json_t *v = json_object_get(row, fields[i]);
        json_object_set_new(def, fields[i], json_integer(defaults[i]));
        json_object_set_new(eff, fields[i],
                            json_integer(json_is_integer(v) ? json_integer_value(v) : defaults[i]));
    }
    json_object_set_new(out, "defaults", def);
    json_object_set_new(out, "effective", eff);
    mh_http_respond_json(api->req, 200, out);
}

void mh_h_retention_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *params[] = {pid};
    json_t *row = NULL;
    if (mh_api_require_role(&api, pid, "viewer", NULL) &&
        (row = mh_api_query_row(&api, "project not found", retention_sql, 1, params)) != NULL)
        respond(&api, row);
    mh_api_close(&api);
}

void mh_h_retention_put(struct mh_http_req *req, void *app)
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
    long days[3] = {-1, -1, -1};
    char text[3][24];
    const char *params[4] = {pid, NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        if (!mh_api_int(&api, body, fields[i], 1, RETENTION_MAX_DAYS, &days[i]))
            goto out;
        if (days[i] > 0) {
            snprintf(text[i], sizeof(text[i]), "%ld", days[i]);
            params[i + 1] = text[i];
        }
    }
    json_t *detail = json_object();
    for (int i = 0; i < 3; i++)
        json_object_set_new(detail, fields[i], days[i] > 0 ? json_integer(days[i]) : json_null());
    bool ok = mh_api_query(&api,
                           "INSERT INTO project_retention (project_id, runs_days, deliveries_days, "
                           "dead_letters_days, updated_by, updated_at) VALUES ($1, $2::int, "
                           "$3::int, $4::int, mh_uid(), now()) ON CONFLICT (project_id) DO UPDATE "
                           "SET runs_days = EXCLUDED.runs_days, deliveries_days = "
                           "EXCLUDED.deliveries_days, dead_letters_days = "
                           "EXCLUDED.dead_letters_days, updated_by = EXCLUDED.updated_by, "
                           "updated_at = now()",
                           4, params) &&
              mh_api_audit(&api, pid, "retention.update", pid, detail);
    json_decref(detail);
    json_t *row = NULL;
    if (ok && (row = mh_api_query_row(&api, "project not found", retention_sql, 1, params)) &&
        mh_api_commit(&api))
        respond(&api, row);
out:
    mh_api_close(&api);
}
