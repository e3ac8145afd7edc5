/* SPDX-License-Identifier: MIT */
/* The route table of `meshhook serve`: one row per endpoint, hot paths first. The last column,
 * runs_inline, is true only for handlers that do not wait (http.h). */
#include "http/app.h"

#include "core/mem.h"
#include "http/handlers/handlers.h"

const struct mh_http_route mh_app_routes[] = {
    /* Inline, on the server's thread: the intake parks a webhook while it waits for its commit
     * (and defers one whose endpoint it has not cached to the handler pool, which loads it),
     * and /healthz answers from memory. */
    {"*", "/hooks/:public_id", mh_h_hook, true},
    {"GET", "/healthz", mh_h_healthz, true},
    {"GET", "/readyz", mh_h_readyz, false},

    {"POST", "/api/auth/login", mh_h_login, false},
    {"POST", "/api/auth/logout", mh_h_logout, false},
    {"GET", "/api/auth/me", mh_h_me, false},
    {"POST", "/api/auth/signup", mh_h_signup, false},
    {"GET", "/api/auth/options", mh_h_auth_options, true},

    {"GET", "/api/tokens", mh_h_tokens_list, false},
    {"POST", "/api/tokens", mh_h_tokens_create, false},
    {"DELETE", "/api/tokens/:token_id", mh_h_tokens_revoke, false},

    {"GET", "/api/projects", mh_h_projects_list, false},
    {"POST", "/api/projects", mh_h_projects_create, false},
    {"GET", "/api/projects/:project_id", mh_h_projects_get, false},
    {"PATCH", "/api/projects/:project_id", mh_h_projects_update, false},
    {"DELETE", "/api/projects/:project_id", mh_h_projects_delete, false},

    {"GET", "/api/projects/:project_id/members", mh_h_members_list, false},
    {"POST", "/api/projects/:project_id/members", mh_h_members_add, false},
    {"PATCH", "/api/projects/:project_id/members/:user_id", mh_h_members_update, false},
    {"DELETE", "/api/projects/:project_id/members/:user_id", mh_h_members_remove, false},

    {"POST", "/api/projects/:project_id/workflows/:workflow_id/runs", mh_h_runs_start, false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/test-runs", mh_h_runs_test, false},
    {"GET", "/api/projects/:project_id/runs", mh_h_runs_list, false},
    {"GET", "/api/projects/:project_id/runs/:run_id", mh_h_runs_get, false},
    {"GET", "/api/projects/:project_id/runs/:run_id/events", mh_h_runs_events, false},
    {"POST", "/api/projects/:project_id/runs/:run_id/cancel", mh_h_runs_cancel, false},
    {"POST", "/api/projects/:project_id/runs/:run_id/replay", mh_h_runs_replay, false},
    {"POST", "/api/projects/:project_id/runs/:run_id/resume", mh_h_runs_resume, false},
    {"GET", "/api/projects/:project_id/dead-letters", mh_h_dead_letters_list, false},
    {"POST", "/api/projects/:project_id/dead-letters/:dead_letter_id/replay",
     mh_h_dead_letters_replay, false},

    {"GET", "/api/projects/:project_id/secrets", mh_h_secrets_list, false},
    {"POST", "/api/projects/:project_id/secrets", mh_h_secrets_create, false},
    {"GET", "/api/projects/:project_id/secrets/:name", mh_h_secrets_get, false},
    {"PATCH", "/api/projects/:project_id/secrets/:name", mh_h_secrets_update, false},
    {"PUT", "/api/projects/:project_id/secrets/:name", mh_h_secrets_put, false},
    {"DELETE", "/api/projects/:project_id/secrets/:name", mh_h_secrets_delete, false},
    {"GET", "/api/projects/:project_id/privacy", mh_h_privacy_get, false},
    {"PUT", "/api/projects/:project_id/privacy", mh_h_privacy_put, false},

    {"GET", "/api/projects/:project_id/workflows/:workflow_id/endpoints",
     mh_h_endpoints_list_workflow, false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/endpoints", mh_h_endpoints_create,
     false},
    {"GET", "/api/projects/:project_id/endpoints", mh_h_endpoints_list, false},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_get, false},
    {"PATCH", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_update, false},
    {"DELETE", "/api/projects/:project_id/endpoints/:endpoint_id", mh_h_endpoints_delete, false},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/test", mh_h_endpoints_test, false},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/keys", mh_h_endpoint_keys_list,
     false},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/keys", mh_h_endpoint_keys_create,
     false},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/keys/rotate",
     mh_h_endpoint_keys_rotate, false},
    {"DELETE", "/api/projects/:project_id/endpoints/:endpoint_id/keys/:key_id",
     mh_h_endpoint_keys_revoke, false},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries", mh_h_deliveries_list,
     false},
    {"GET", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries/:delivery_id",
     mh_h_deliveries_get, false},
    {"POST", "/api/projects/:project_id/endpoints/:endpoint_id/deliveries/:delivery_id/replay",
     mh_h_deliveries_replay, false},

    {"GET", "/api/projects/:project_id/audit", mh_h_audit_list, false},
    {"GET", "/api/projects/:project_id/audit/verify", mh_h_audit_verify, false},

    {"GET", "/api/node-types", mh_h_node_types, false},
    {"GET", "/api/projects/:project_id/workflows", mh_h_workflows_list, false},
    {"POST", "/api/projects/:project_id/workflows", mh_h_workflows_create, false},
    {"POST", "/api/projects/:project_id/workflows/import", mh_h_workflows_import, false},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_get, false},
    {"PATCH", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_update, false},
    {"DELETE", "/api/projects/:project_id/workflows/:workflow_id", mh_h_workflows_delete, false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/archive", mh_h_workflows_archive,
     false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/unarchive", mh_h_workflows_unarchive,
     false},
    {"PUT", "/api/projects/:project_id/workflows/:workflow_id/draft", mh_h_workflows_put_draft,
     false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/validate", mh_h_workflows_validate,
     false},
    {"POST", "/api/projects/:project_id/workflows/:workflow_id/publish", mh_h_workflows_publish,
     false},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/versions",
     mh_h_workflows_versions_list, false},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/versions/:version",
     mh_h_workflows_version_get, false},
    {"GET", "/api/projects/:project_id/workflows/:workflow_id/export", mh_h_workflows_export,
     false},
};

const size_t mh_app_routes_count = MH_ARRAY_LEN(mh_app_routes);
