/* SPDX-License-Identifier: MIT */
/*
 * A project's outbound allow-list (docs/workflows.md, "Internal targets"): the hosts and
 * networks its http_calls may reach although they are internal (loopback, private, link-local,
 * metadata), on top of the server's outbound_allowlist. Editors read it, since they write the
 * calls it governs; admins replace it whole. Every entry is checked with the executor's own
 * parser before anything is stored, and a bad one is a 422 naming its index.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"
#include "outbound/outbound.h"

static const char *const outbound_sql =
    "SELECT coalesce((SELECT allowlist FROM project_outbound WHERE project_id = $1), '[]') AS "
    "allowlist, (SELECT to_json(updated_at) FROM project_outbound WHERE project_id = $1) AS "
    "updated_at";

static bool check_allowlist(struct mh_api *api, json_t *list);

void mh_h_outbound_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *params[] = {pid};
    json_t *row = NULL;
    if (mh_api_require_role(&api, pid, "editor", NULL) &&
        (row = mh_api_query_row(&api, "project not found", outbound_sql, 1, params)) != NULL)
        mh_http_respond_json(req, 200, json_incref(row));
    mh_api_close(&api);
}

/* 422 with the path of the first entry that is not one host name, address or CIDR. */
static bool check_allowlist(struct mh_api *api, json_t *list)
{
    if (!json_is_array(list)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "allowlist must be an array of host names, addresses and CIDRs",
                              "/allowlist");
        return false;
    }
    if (json_array_size(list) > MH_OUTBOUND_ALLOWLIST_MAX) {
        char msg[96];
        snprintf(msg, sizeof(msg), "allowlist holds at most %d entries", MH_OUTBOUND_ALLOWLIST_MAX);
        mh_http_respond_error(api->req, 422, "invalid", msg, "/allowlist");
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
    {
        char path[48], msg[256];
        snprintf(path, sizeof(path), "/allowlist/%zu", i);
        const char *e = json_string_value(v);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (e == NULL || e[0] == '\0' || strpbrk(e, ", \t\r\n") != NULL) {
            snprintf(msg, sizeof(msg),
                     "each entry must be one host name, IP address or CIDR, as a string");
            mh_http_respond_error(api->req, 422, "invalid", msg, path);
            return false;
        }
        if (mh_outbound_allowlist_check(e, NULL, &info) != MH_OK) {
            mh_http_respond_error(api->req, 422, "invalid", info.message, path);
            return false;
        }
    }
    return true;
}

void mh_h_outbound_put(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    char *list_s = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"allowlist", NULL};
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields))
        goto out;
    json_t *list = json_object_get(body, "allowlist");
    if (!check_allowlist(&api, list))
        goto out;
    list_s = json_dumps(list, JSON_COMPACT);
    const char *params[] = {pid, list_s};
    json_t *detail = json_pack("{s:O}", "allowlist", list);
    bool ok = mh_api_query(&api,
                           "INSERT INTO project_outbound (project_id, allowlist, updated_by, "
                           "updated_at) VALUES ($1, $2::jsonb, mh_uid(), now()) ON CONFLICT "
                           "(project_id) DO UPDATE SET allowlist = EXCLUDED.allowlist, "
                           "updated_by = EXCLUDED.updated_by, updated_at = now()",
                           2, params) &&
              mh_api_audit(&api, pid, "outbound.update", pid, detail);
    json_decref(detail);
    json_t *row = NULL;
    if (ok && (row = mh_api_query_row(&api, "project not found", outbound_sql, 1, params)) &&
        mh_api_commit(&api))
        mh_http_respond_json(req, 200, json_incref(row));
out:
    free(list_s);
    mh_api_close(&api);
}
