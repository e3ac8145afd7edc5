/* SPDX-License-Identifier: MIT */
/* The route table of `meshhook serve`: one row per endpoint, hot paths first. */
#include "http/app.h"

#include "core/mem.h"
#include "http/handlers/handlers.h"

const struct mh_http_route mh_app_routes[] = {
    {"*", "/hooks/:public_id", mh_h_hook},
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

    {"POST", "/api/projects/:project_id/workflows/:workflow_id/runs", mh_h_runs_start},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/test-runs", mh_h_runs_test},
    {"GET", "/api/projects/:project_id/runs", mh_h_runs_list},
    {"GET", "/api/projects/:project_id/runs/:run_id", mh_h_runs_get},
    {"GET", "/api/projects/:project_id/runs/:run_id/events", mh_h_runs_events},
    {"POST", "/api/projects/:project_id/runs/:run_id/cancel", mh_h_runs_cancel},
    {"POST", "/api/projects/:project_id/runs/:run_id/replay", mh_h_runs_replay},
    {"POST", "/api/projects/:project_id/runs/:run_id/resume", mh_h_runs_resume},
    {"GET", "/api/projects/:project_id/dead-letters", mh_h_dead_letters_list},
    {"POST", "/api/projects/:project_id/dead-letters/:dead_letter_id/replay",
     mh_h_dead_letters_replay},

    {"GET", "/api/projects/:project_id/secrets", mh_h_secrets_list},
    {"POST", "/api/projects/:project_id/secrets", mh_h_secrets_create},
    {"GET", "/api/projects/:project_id/secrets/:name", mh_h_secrets_get},
    {"PATCH", "/api/projects/:project_id/secrets/:name", mh_h_secrets_update},
    {"PUT", "/api/projects/:project_id/secrets/:name", mh_h_secrets_put},
    {"DELETE", "/api/projects/:project_id/secrets/:name", mh_h_secrets_delete},
    {"GET", "/api/projects/:project_id/privacy", mh_h_privacy_get},
    {"PUT", "/api/projects/:project_id/privacy", mh_h_privacy_put},

    {"GET", "/api/projects/:project_id/workflows/:workflow_id/endpoints",
     mh_h_endpoints_list_workflow},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/endpoints", mh_h_endpoints_create},
    {"GET", "/api/projects/:project_id/endpoints", mh_h_endpoints_list},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_get},
    {"PATCH", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_update},
    {"DELETE", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_delete},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/test", mh_h_endpoints_test},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/keys", mh_h_endpoint_keys_list},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/keys", mh_h_endpoint_keys_create},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/keys/rotate",
     mh_h_endpoint_keys_rotate},
    {"DELETE", "/api/projects/:project_id/endpoints/:endpoint_id/keys/:key_id",
     mh_h_endpoint_keys_revoke},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries", mh_h_deliveries_list},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries/:delivery_id",
     mh_h_deliveries_get},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries/:delivery_id/replay",
     mh_h_deliveries_replay},

    {"GET", "/api/projects/:project_id/audit", mh_h_audit_list},
    {"GET", "/api/projects/:project_id/audit/verify", mh_h_audit_verify},

    {"GET", "/api/node-types", mh_h_node_types},
    {"GET", "/api/projects/:project_id/workflows", mh_h_workflows_list},
    {"POST", "/api/projects/:project_id/workflows", mh_h_workflows_create},
    {"POST", "/api/projects/:project_id/workflows/import", mh_h_workflows_import},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_get},
    {"PATCH", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_update},
    {"DELETE", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_delete},
    {"PUT", "/api/projects/:project_id/workflows/:workflow_id/draft", mh_h_workflows_put_draft},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/validate", mh_h_workflows_validate},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/publish", mh_h_workflows_publish},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/versions",
     mh_h_workflows_versions_list},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/versions/:version",
     mh_h_workflows_version_get},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/export", mh_h_workflows_export},
};

const size_t mh_app_routes_count = MH_ARRAY_LEN(mh_app_routes);
