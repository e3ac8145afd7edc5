/* SPDX-License-Identifier: MIT */
/*
 * The audit log of a project, for its admins and owners: newest first, cursor-paged, filtered by
 * action (exact, or a prefix ending in '.'), by who acted (a user, or a kind of actor) and by
 * time; and a verification of its hash chain (the same check as `meshhook audit verify`).
 */
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"

void mh_h_audit_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL) || !mh_api_page(&api, &page))
        goto out;
    static const char *const kinds[] = {"user", "api_token", "run", "system", NULL};
    const char *action = mh_http_req_query(req, "action");
    const char *user, *kind, *since, *until;
    if (!mh_api_query_uuid(&api, "actor_user_id", &user) ||
        !mh_api_query_enum(&api, "actor_kind", kinds, &kind) ||
        !mh_api_query_time(&api, "since", &since) || !mh_api_query_time(&api, "until", &until))
        goto out;
    if (action && (strlen(action) < 1 || strlen(action) > 100)) {
        mh_http_respond_error(req, 422, "invalid", "action must be 1 to 100 characters", "?action");
        goto out;
    }
    /* A prefix ends in '.': "secret." finds every secret action. */
    bool prefix = action && action[strlen(action) - 1] == '.';
    const char *params[] = {pid, action, prefix ? "1" : NULL, user, kind, since, until};
    mh_api_respond_list(
        &api, &page,
        "SELECT l.id, l.chain_seq, to_json(l.at) AS at, l.actor, l.actor_user_id, "
        "(SELECT u.email FROM users u WHERE u.id = l.actor_user_id) AS actor_email, l.action, "
        "l.target, l.detail, l.ip, l.user_agent, encode(l.hash, 'hex') AS hash "
        "FROM audit_log l WHERE l.project_id = $1 "
        "AND ($2::text IS NULL OR (CASE WHEN $3::text IS NULL THEN l.action = $2 "
        "ELSE left(l.action, length($2)) = $2 END)) "
        "AND ($4::uuid IS NULL OR l.actor_user_id = $4::uuid) "
        "AND ($5::text IS NULL OR (CASE $5 WHEN 'user' THEN l.actor = 'user' "
        "WHEN 'system' THEN l.actor = 'system' ELSE l.actor LIKE $5 || ':%' END)) "
        "AND ($6::timestamptz IS NULL OR l.at >= $6::timestamptz) "
        "AND ($7::timestamptz IS NULL OR l.at < $7::timestamptz) "
        "AND ($9::text IS NULL OR l.id < $10::bigint) ORDER BY l.id DESC LIMIT $8::int",
        7, params, "id", "id");
out:
    mh_api_close(&api);
}

void mh_h_audit_verify(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    const char *params[] = {pid};
    json_t *problems =
        mh_api_query(&api, "SELECT chain_seq, problem FROM mh_audit_verify($1::uuid)", 1, params);
    json_t *count = problems ? mh_api_query_row(&api, "audit log not found",
                                                "SELECT count(*) AS n FROM audit_log WHERE "
                                                "project_id = $1",
                                                1, params)
                             : NULL;
    if (count == NULL)
        goto out;
    mh_http_respond_json(req, 200,
                         json_pack("{s:b, s:O, s:O}", "ok", json_array_size(problems) == 0,
                                   "entries", json_object_get(count, "n"), "problems", problems));
out:
    mh_api_close(&api);
}
