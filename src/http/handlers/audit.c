/* SPDX-License-Identifier: MIT */
/*
 * The audit log of a project, for its admins and owners: newest first, cursor-paged, and a
 * verification of its hash chain (the same check as `meshhook audit verify`).
 */
#include "http/api.h"
#include "http/handlers/handlers.h"

void mh_h_audit_list(struct mh_http_req *req, void *app)
{
    mh_api_list_in_project(
        req, app, "admin",
        "SELECT id, chain_seq, to_json(at) AS at, actor, actor_user_id, action, target, detail, "
        "ip, user_agent, encode(hash, 'hex') AS hash FROM audit_log WHERE project_id = $1 AND "
        "($3::text IS NULL OR id < $4::bigint) ORDER BY id DESC LIMIT $2::int",
        "id", "id");
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
