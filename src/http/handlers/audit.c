/* SPDX-License-Identifier: MIT */
/*
 * The audit log of a project, for its admins and owners: newest first, cursor-paged, filtered by
 * action (exact, or a prefix ending in '.'), by who acted (a user, or a kind of actor) and by
 * time; and a verification of its hash chain (the same check as `meshhook audit verify`).
 */
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"

/* True when `s` is an RFC 3339 date or date-time, as the time filters take them. */
static bool is_time(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    size_t n = strlen(s);
    if (n < 10 || n > 40)
        return false;
    for (size_t i = 0; i < 10; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    if (n == 10)
        return true;
    if (s[10] != 'T' && s[10] != 't' && s[10] != ' ')
        return false;
    for (size_t i = 11; i < n; i++)
        if (!strchr("0123456789:.+-Zz", s[i]))
            return false;
    return true;
}

void mh_h_audit_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL) || !mh_api_page(&api, &page))
        goto out;
    const char *action = mh_http_req_query(req, "action");
    const char *user = mh_http_req_query(req, "actor_user_id");
    const char *kind = mh_http_req_query(req, "actor_kind");
    const char *since = mh_http_req_query(req, "since");
    const char *until = mh_http_req_query(req, "until");
    if (action && (strlen(action) < 1 || strlen(action) > 100)) {
        mh_http_respond_error(req, 422, "invalid", "action must be 1 to 100 characters", "?action");
        goto out;
    }
    if (user && !mh_api_is_uuid(user)) {
        mh_http_respond_error(req, 422, "invalid", "actor_user_id must be a UUID",
                              "?actor_user_id");
        goto out;
    }
    if (kind && strcmp(kind, "user") && strcmp(kind, "api_token") && strcmp(kind, "run") &&
        strcmp(kind, "system")) {
        mh_http_respond_error(req, 422, "invalid",
                              "actor_kind must be user, api_token, run or system", "?actor_kind");
        goto out;
    }
    if ((since && !is_time(since)) || (until && !is_time(until))) {
        mh_http_respond_error(req, 422, "invalid",
                              "since and until must be RFC 3339 times, such as "
                              "2026-12-06T08:00:00Z",
                              since && !is_time(since) ? "?since" : "?until");
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
