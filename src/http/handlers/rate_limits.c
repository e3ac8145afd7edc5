/* SPDX-License-Identifier: MIT */
/*
 * A project's delivery rate (docs/api.md, "Project rate limits"): webhooks per second that all
 * of the project's endpoints admit together, and the burst above it; null for the server's
 * default (project_delivery_rate, project_delivery_burst). Members read it; admins replace it.
 * The intake enforces it on every instance (src/intake/rate.c); a change reaches them through
 * their endpoints' config_version (migration 0031).
 */
#include <stdio.h>
#include <stdlib.h>

#include "http/api.h"
#include "http/app.h"
#include "http/handlers/handlers.h"
#include "intake/intake.h"

#define RATE_MAX  1000000.0
#define BURST_MAX 10000000

static const char *const rate_sql =
    "SELECT r.delivery_rate_per_second, r.delivery_burst, to_json(r.updated_at) AS updated_at "
    "FROM projects p LEFT JOIN project_rate_limits r ON r.project_id = p.id WHERE p.id = $1";

static json_t *with_default(json_t *row, const struct mh_config *cfg);
static bool check_field(struct mh_api *api, json_t *body, const char *name, bool is_integer,
                        double max, char *out, size_t outlen);

void mh_h_rate_limits_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *params[] = {pid};
    json_t *row = NULL;
    if (mh_api_require_role(&api, pid, "viewer", NULL) &&
        (row = mh_api_query_row(&api, "project not found", rate_sql, 1, params)) != NULL)
        mh_http_respond_json(req, 200, with_default(row, ((struct mh_app *)app)->cfg));
    mh_api_close(&api);
}

void mh_h_rate_limits_put(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"delivery_rate_per_second", "delivery_burst", NULL};
    char rate[64], burst[32];
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !check_field(&api, body, "delivery_rate_per_second", false, RATE_MAX, rate, sizeof(rate)) ||
        !check_field(&api, body, "delivery_burst", true, BURST_MAX, burst, sizeof(burst)))
        goto out;
    const char *params[] = {pid, rate[0] ? rate : NULL, burst[0] ? burst : NULL};
    json_t *detail = json_pack("{s:O?, s:O?}", "delivery_rate_per_second",
                               json_object_get(body, "delivery_rate_per_second"), "delivery_burst",
                               json_object_get(body, "delivery_burst"));
    bool ok = mh_api_query(&api,
                           "INSERT INTO project_rate_limits (project_id, delivery_rate_per_second, "
                           "delivery_burst, updated_by, updated_at) VALUES ($1, $2::float8, "
                           "$3::int, mh_uid(), now()) ON CONFLICT (project_id) DO UPDATE SET "
                           "delivery_rate_per_second = EXCLUDED.delivery_rate_per_second, "
                           "delivery_burst = EXCLUDED.delivery_burst, updated_by = "
                           "EXCLUDED.updated_by, updated_at = now()",
                           3, params) &&
              mh_api_audit(&api, pid, "rate_limits.update", pid, detail);
    json_decref(detail);
    json_t *row = NULL;
    if (ok && (row = mh_api_query_row(&api, "project not found", rate_sql, 1, params)) &&
        mh_api_commit(&api))
        mh_http_respond_json(req, 200, with_default(row, ((struct mh_app *)app)->cfg));
out:
    mh_api_close(&api);
}

/* The stored row (borrowed) and what applies: the project's values, else the server's. */
static json_t *with_default(json_t *row, const struct mh_config *cfg)
{
    json_t *rate = json_object_get(row, "delivery_rate_per_second");
    json_t *burst = json_object_get(row, "delivery_burst");
    double eff_rate, eff_burst;
    mh_intake_project_rate_resolve(json_is_number(rate), json_number_value(rate),
                                   json_is_integer(burst), (double)json_integer_value(burst),
                                   cfg->project_delivery_rate, (double)cfg->project_delivery_burst,
                                   &eff_rate, &eff_burst);
    json_t *effective = eff_rate > 0 ? json_pack("{s:f, s:I}", "delivery_rate_per_second", eff_rate,
                                                 "delivery_burst", (json_int_t)eff_burst)
                                     : json_null();
    return json_pack(
        "{s:O, s:O, s:o, s:O}", "delivery_rate_per_second", rate ? rate : json_null(),
        "delivery_burst", burst ? burst : json_null(), "effective", effective, "updated_at",
        json_object_get(row, "updated_at") ? json_object_get(row, "updated_at") : json_null());
}

/* A positive number (an integer when `is_integer`) up to `max`, or null/absent (out: ""). 422
 * with the field's path otherwise. */
static bool check_field(struct mh_api *api, json_t *body, const char *name, bool is_integer,
                        double max, char *out, size_t outlen)
{
    json_t *v = json_object_get(body, name);
    char path[64], msg[160];
    out[0] = '\0';
    if (v == NULL || json_is_null(v))
        return true;
    snprintf(path, sizeof(path), "/%s", name);
    bool is_ok = is_integer ? json_is_integer(v) : json_is_number(v);
    double d = json_number_value(v);
    if (!is_ok || !(d > 0) || d > max) {
        snprintf(msg, sizeof(msg),
                 "%s must be %s greater than 0 and at most %.0f, or null for the "
                 "server's default",
                 name, is_integer ? "an integer" : "a number", max);
        mh_http_respond_error(api->req, 422, "invalid", msg, path);
        return false;
    }
    if (is_integer)
        snprintf(out, outlen, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(out, outlen, "%.17g", d);
    return true;
}
