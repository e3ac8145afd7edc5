/* SPDX-License-Identifier: MIT */
/* The route table of `meshhook serve`: one row per endpoint, hot paths first. */
#include "http/app.h"

#include "core/mem.h"
#include "http/handlers/handlers.h"

const struct mh_http_route mh_app_routes[] = {
    {"GET", "/healthz", mh_h_healthz},
    {"GET", "/readyz", mh_h_readyz},

    {"POST", "/api/auth/login", mh_h_login},
    {"POST", "/api/auth/logout", mh_h_logout},
    {"GET", "/api/auth/me", mh_h_me},
    {"POST", "/api/auth/signup", mh_h_signup},

    {"GET", "/api/tokens", mh_h_tokens_list},
    {"POST", "/api/tokens", mh_h_tokens_create},
    {"DELETE", "/api/tokens/:token_id", mh_h_tokens_revoke},

    {"GET", "/api/projects", mh_h_projects_list},
    {"POST", "/api/projects", mh_h_projects_create},
    {"GET", "/api/projects/:project_id", mh_h_projects_get},
    {"PATCH", "/api/projects/:project_id", mh_h_projects_update},
    {"DELETE", "/api/projects/:project_id", mh_h_projects_delete},

    {"GET", "/api/projects/:project_id/members", mh_h_members_list},
    {"POST", "/api/projects/:project_id/members", mh_h_members_add},
    {"PATCH", "/api/projects/:project_id/members/:user_id", mh_h_members_update},
    {"DELETE", "/api/projects/:project_id/members/:user_id", mh_h_members_remove},

    {"GET", "/api/projects/:project_id/audit", mh_h_audit_list},
    {"GET", "/api/projects/:project_id/audit/verify", mh_h_audit_verify},
};

const size_t mh_app_routes_count = MH_ARRAY_LEN(mh_app_routes);
