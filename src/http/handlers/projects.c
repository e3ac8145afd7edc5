/* SPDX-License-Identifier: MIT */
/*
 * Projects: every signed-in user may create one and becomes its owner; members read it, admins
 * rename it, owners delete it (with everything in it). The role checks here give clear 403s;
 * the row-level security policies would refuse the same writes on their own.
 */
#include <string.h>

#include "crypto/crypto.h"
#include "http/api.h"
#include "http/handlers/handlers.h"

static const char *const project_sql =
    "SELECT p.id, p.name, m.role, to_json(p.created_at) AS created_at, "
    "to_json(p.updated_at) AS updated_at FROM projects p JOIN memberships m "
    "ON m.project_id = p.id AND m.user_id = mh_uid() WHERE p.id = $1";

void mh_h_projects_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_page(&api, &page))
        goto out;
    mh_api_respond_list(
        &api, &page,
        "SELECT p.id, p.name, m.role, to_json(p.created_at) AS created_at FROM projects p "
        "JOIN memberships m ON m.project_id = p.id AND m.user_id = mh_uid() "
        "WHERE ($2::timestamptz IS NULL OR (p.created_at, p.id) < ($2::timestamptz, $3::uuid)) "
        "ORDER BY p.created_at DESC, p.id DESC LIMIT $1::int",
        0, NULL, "created_at", "id");
out:
    mh_api_close(&api);
}

void mh_h_projects_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *body = mh_api_body(&api);
    const char *name = NULL;
    static const char *const fields[] = {"name", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "name", true, 1, 200, &name))
        goto out;
    char id[MH_CRYPTO_UUID_STR_LEN];
    if (mh_crypto_uuid4(id) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    /* The project is invisible to its creator until the owner membership exists, hence the
     * id chosen here rather than RETURNING. */
    const char *params[] = {id, name};
    if (!mh_api_query(&api, "INSERT INTO projects (id, name, created_by) VALUES ($1, $2, mh_uid())",
                      2, params) ||
        !mh_api_query(&api,
                      "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, mh_uid(), "
                      "'owner')",
                      1, params) ||
        !mh_api_audit(&api, id, "project.create", id, NULL))
        goto out;
    json_t *row = mh_api_query_row(&api, "project not found", project_sql, 1, params);
    if (row == NULL || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 201, json_incref(row));
out:
    mh_api_close(&api);
}

void mh_h_projects_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *id = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, id, "viewer", NULL))
        goto out;
    const char *params[] = {id};
    json_t *row = mh_api_query_row(&api, "project not found", project_sql, 1, params);
    if (row)
        mh_http_respond_json(req, 200, json_incref(row));
out:
    mh_api_close(&api);
}

void mh_h_projects_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *id = mh_http_req_param(req, "project_id");
    const char *name = NULL;
    static const char *const fields[] = {"name", NULL};
    if (!mh_api_require_role(&api, id, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "name", true, 1, 200, &name))
        goto out;
    const char *params[] = {id, name};
    json_t *detail = json_pack("{s:s}", "name", name);
    bool ok = mh_api_query(&api, "UPDATE projects SET name = $2, updated_at = now() WHERE id = $1",
                           2, params) &&
              mh_api_audit(&api, id, "project.rename", id, detail);
    json_decref(detail);
    if (!ok)
        goto out;
    json_t *row = mh_api_query_row(&api, "project not found", project_sql, 1, params);
    if (row == NULL || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 200, json_incref(row));
out:
    mh_api_close(&api);
}

void mh_h_projects_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *id = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, id, "owner", NULL))
        goto out;
    const char *params[] = {id};
    /* The audit entry is written first and survives: audit_log has no foreign key to
     * projects. */
    if (!mh_api_audit(&api, id, "project.delete", id, NULL) ||
        !mh_api_query_row(&api, "project not found",
                          "DELETE FROM projects WHERE id = $1 RETURNING id", 1, params) ||
        !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}
