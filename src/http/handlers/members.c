/* SPDX-License-Identifier: MIT */
/*
 * Project members and their roles. Admins invite existing users by e-mail and manage viewers,
 * editors and admins; only an owner may make or unmake owners. A project always keeps at least
 * one owner: the last one can neither leave nor be demoted (the owners are locked while this is
 * checked, so two concurrent demotions cannot both pass).
 */
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"

static const char *const member_sql =
    "SELECT m.user_id, u.email, u.display_name, m.role, to_json(m.created_at) AS created_at "
    "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 AND "
    "m.user_id = $2";

static bool valid_role(struct mh_api *api, const char *role)
{
    if (mh_api_role_rank(role) > 0)
        return true;
    mh_http_respond_error(api->req, 422, "invalid",
                          "'role' must be one of owner, admin, editor, viewer", "/role");
    return false;
}

/* Locks the project's owners and answers 409 when `user_id` is its only one. */
static bool not_last_owner(struct mh_api *api, const char *project_id, const char *user_id,
                           const char *what)
{
    const char *params[] = {project_id, user_id};
    json_t *rows = mh_api_query(api,
                                "SELECT user_id FROM memberships WHERE project_id = $1 AND "
                                "role = 'owner' ORDER BY user_id FOR UPDATE",
                                1, params);
    if (rows == NULL)
        return false;
    const char *sole = json_string_value(json_object_get(json_array_get(rows, 0), "user_id"));
    if (json_array_size(rows) == 1 && sole != NULL && user_id != NULL &&
        strcmp(sole, user_id) == 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the last owner of a project cannot %s", what);
        mh_http_respond_error(api->req, 409, "last_owner", msg, NULL);
        return false;
    }
    return true;
}

void mh_h_members_list(struct mh_http_req *req, void *app)
{
    mh_api_list_in_project(
        req, app, "viewer",
        "SELECT m.user_id, u.email, u.display_name, m.role, to_json(m.created_at) AS created_at "
        "FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.project_id = $1 AND "
        "($3::timestamptz IS NULL OR (m.created_at, m.user_id) > ($3::timestamptz, $4::uuid)) "
        "ORDER BY m.created_at, m.user_id LIMIT $2::int",
        "created_at", "user_id");
}

/* Runs `sql` on membership `params` ($1 project, $2 user, $3 role), audits `action` with
 * `detail` (taken), commits and answers `status` with the membership as it now is. */
static void write_member(struct mh_api *api, const char *sql, const char *const params[3],
                         const char *action, json_t *detail, int status)
{
    bool ok = mh_api_query(api, sql, 3, params) &&
              mh_api_audit(api, params[0], action, params[1], detail);
    json_decref(detail);
    json_t *row = ok ? mh_api_query_row(api, "member not found", member_sql, 2, params) : NULL;
    if (row != NULL && mh_api_commit(api))
        mh_http_respond_json(api->req, status, json_incref(row));
}

void mh_h_members_add(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *my_role = NULL, *role = NULL;
    char email[MH_TEXT_EMAIL_MAX_BYTES + 1];
    static const char *const fields[] = {"email", "role", NULL};
    if (!mh_api_require_role(&api, pid, "admin", &my_role))
        goto out;
    json_t *body = mh_api_body(&api);
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_email(&api, body, "email", email) ||
        !mh_api_string(&api, body, "role", true, 1, 16, &role) || !valid_role(&api, role))
        goto out;
    if (strcmp(role, "owner") == 0 && strcmp(my_role, "owner") != 0) {
        mh_http_respond_error(req, 403, "forbidden", "only an owner may add an owner", NULL);
        goto out;
    }
    const char *lp[] = {pid, email};
    json_t *u = mh_api_query_row(&api, "no user has that e-mail address",
                                 "SELECT mh_user_id_by_email_for($1, $2) AS id", 2, lp);
    if (u == NULL)
        goto out;
    const char *uid = json_string_value(json_object_get(u, "id"));
    if (uid == NULL) {
        mh_http_respond_error(req, 404, "not_found",
                              "no user has that e-mail address: they must have an account first",
                              "/email");
        goto out;
    }
    const char *params[] = {pid, uid, role};
    write_member(&api, "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, $3)",
                 params, "member.add", json_pack("{s:s, s:s}", "email", email, "role", role), 201);
out:
    mh_api_close(&api);
}

void mh_h_members_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *uid = mh_http_req_param(req, "user_id");
    const char *my_role = NULL, *role = NULL;
    static const char *const fields[] = {"role", NULL};
    if (!mh_api_require_role(&api, pid, "admin", &my_role))
        goto out;
    json_t *body = mh_api_body(&api);
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "role", true, 1, 16, &role) || !valid_role(&api, role))
        goto out;
    if (!mh_api_is_uuid(uid)) {
        mh_http_respond_error(req, 404, "not_found", "member not found", NULL);
        goto out;
    }
    const char *params[] = {pid, uid, role};
    json_t *cur = mh_api_query_row(&api, "member not found", member_sql, 2, params);
    if (cur == NULL)
        goto out;
    const char *old_role = json_string_value(json_object_get(cur, "role"));
    if ((strcmp(old_role, "owner") == 0 || strcmp(role, "owner") == 0) &&
        strcmp(my_role, "owner") != 0) {
        mh_http_respond_error(req, 403, "forbidden", "only an owner may make or unmake owners",
                              NULL);
        goto out;
    }
    if (strcmp(old_role, "owner") == 0 && strcmp(role, "owner") != 0 &&
        !not_last_owner(&api, pid, uid, "be demoted"))
        goto out;
    write_member(&api, "UPDATE memberships SET role = $3 WHERE project_id = $1 AND user_id = $2",
                 params, "member.role_change",
                 json_pack("{s:s, s:s}", "from", old_role, "to", role), 200);
out:
    mh_api_close(&api);
}

void mh_h_members_remove(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *uid = mh_http_req_param(req, "user_id");
    const char *my_role = NULL;
    bool is_self = uid && strcmp(uid, api.who.user_id) == 0;
    if (!mh_api_require_role(&api, pid, is_self ? "viewer" : "admin", &my_role))
        goto out;
    if (!mh_api_is_uuid(uid)) {
        mh_http_respond_error(req, 404, "not_found", "member not found", NULL);
        goto out;
    }
    const char *params[] = {pid, uid};
    json_t *cur = mh_api_query_row(&api, "member not found", member_sql, 2, params);
    if (cur == NULL)
        goto out;
    const char *old_role = json_string_value(json_object_get(cur, "role"));
    if (strcmp(old_role, "owner") == 0) {
        if (!is_self && strcmp(my_role, "owner") != 0) {
            mh_http_respond_error(req, 403, "forbidden", "only an owner may remove an owner", NULL);
            goto out;
        }
        if (!not_last_owner(&api, pid, uid, "leave the project"))
            goto out;
    }
    json_t *detail = json_pack("{s:s}", "role", old_role);
    bool ok = mh_api_audit(&api, pid, is_self ? "member.leave" : "member.remove", uid, detail) &&
              mh_api_query(&api, "DELETE FROM memberships WHERE project_id = $1 AND user_id = $2",
                           2, params);
    json_decref(detail);
    if (!ok || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}
