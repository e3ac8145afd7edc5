/* SPDX-License-Identifier: MIT */
/* Private to http: the handlers of the route table (routes.c), one file per resource. */
#ifndef MH_HTTP_HANDLERS_H
#define MH_HTTP_HANDLERS_H

#include "core/config.h"
#include "http/http.h"

/* health.c */
void mh_h_healthz(struct mh_http_req *req, void *app);
void mh_h_readyz(struct mh_http_req *req, void *app);
/* metrics.c: GET /metrics, the Prometheus exposition (bearer metrics_token, or loopback). */
void mh_h_metrics(struct mh_http_req *req, void *app);
/* openapi.c: GET /api/openapi.json, the API's OpenAPI 3.1 document (public, with an ETag). */
void mh_h_openapi(struct mh_http_req *req, void *app);
/* auth.c */
void mh_h_login(struct mh_http_req *req, void *app);
void mh_h_logout(struct mh_http_req *req, void *app);
void mh_h_me(struct mh_http_req *req, void *app);
void mh_h_signup(struct mh_http_req *req, void *app);
/* GET /api/auth/options: what the sign-in page needs to know, without credentials. */
void mh_h_auth_options(struct mh_http_req *req, void *app);
/* tokens.c */
void mh_h_tokens_list(struct mh_http_req *req, void *app);
void mh_h_tokens_create(struct mh_http_req *req, void *app);
void mh_h_tokens_revoke(struct mh_http_req *req, void *app);
/* projects.c */
void mh_h_projects_list(struct mh_http_req *req, void *app);
void mh_h_projects_create(struct mh_http_req *req, void *app);
void mh_h_projects_get(struct mh_http_req *req, void *app);
void mh_h_projects_update(struct mh_http_req *req, void *app);
void mh_h_projects_delete(struct mh_http_req *req, void *app);
/* members.c */
void mh_h_members_list(struct mh_http_req *req, void *app);
void mh_h_members_add(struct mh_http_req *req, void *app);
void mh_h_members_update(struct mh_http_req *req, void *app);
void mh_h_members_remove(struct mh_http_req *req, void *app);
/* runs.c */
void mh_h_runs_start(struct mh_http_req *req, void *app);
void mh_h_runs_test(struct mh_http_req *req, void *app);
void mh_h_runs_list(struct mh_http_req *req, void *app);
void mh_h_runs_get(struct mh_http_req *req, void *app);
void mh_h_runs_events(struct mh_http_req *req, void *app);
void mh_h_runs_stream(struct mh_http_req *req, void *app);
void mh_h_project_stream(struct mh_http_req *req, void *app);

/* What an item of the runs list (`runs r`), the deliveries list (`webhook_deliveries d`) and the
 * dead-letter list (`dead_letters d`) holds, as select-list SQL, and which of its members are
 * recorded data shown through the privacy view: the project feed (hub.c) shows the same. */
extern const char *const mh_h_run_summary_cols;
extern const char *const mh_h_delivery_cols;
extern const char *const mh_h_dead_letter_cols;
extern const char *const *const mh_h_run_data;
extern const char *const *const mh_h_delivery_data;
extern const char *const *const mh_h_dead_letter_data;
void mh_h_runs_cancel(struct mh_http_req *req, void *app);
void mh_h_runs_replay(struct mh_http_req *req, void *app);
void mh_h_runs_resume(struct mh_http_req *req, void *app);
void mh_h_runs_rerun(struct mh_http_req *req, void *app);
void mh_h_dead_letters_list(struct mh_http_req *req, void *app);
void mh_h_dead_letters_get(struct mh_http_req *req, void *app);
void mh_h_dead_letters_replay(struct mh_http_req *req, void *app);
void mh_h_dead_letters_replay_many(struct mh_http_req *req, void *app);
void mh_h_dead_letters_dismiss(struct mh_http_req *req, void *app);
void mh_h_dead_letters_undismiss(struct mh_http_req *req, void *app);
/* secrets.c */
void mh_h_secrets_list(struct mh_http_req *req, void *app);
void mh_h_secrets_create(struct mh_http_req *req, void *app);
void mh_h_secrets_get(struct mh_http_req *req, void *app);
void mh_h_secrets_update(struct mh_http_req *req, void *app);
void mh_h_secrets_put(struct mh_http_req *req, void *app);
void mh_h_secrets_delete(struct mh_http_req *req, void *app);
void mh_h_secrets_usage(struct mh_http_req *req, void *app);
/* alerts.c */
void mh_h_alert_rules_list(struct mh_http_req *req, void *app);
/* schedules.c */
void mh_h_schedules_preview(struct mh_http_req *req, void *app);
void mh_h_schedules_list(struct mh_http_req *req, void *app);
void mh_h_alert_rules_create(struct mh_http_req *req, void *app);
void mh_h_alert_rules_get(struct mh_http_req *req, void *app);
void mh_h_alert_rules_update(struct mh_http_req *req, void *app);
void mh_h_alert_rules_delete(struct mh_http_req *req, void *app);
void mh_h_alert_channels_list(struct mh_http_req *req, void *app);
void mh_h_alert_channels_create(struct mh_http_req *req, void *app);
void mh_h_alert_channels_delete(struct mh_http_req *req, void *app);
void mh_h_alert_channels_test(struct mh_http_req *req, void *app);
void mh_h_alert_channel_deliveries(struct mh_http_req *req, void *app);
void mh_h_alerts_history(struct mh_http_req *req, void *app);
/* retention.c */
void mh_h_retention_get(struct mh_http_req *req, void *app);
void mh_h_retention_put(struct mh_http_req *req, void *app);
/* limits.c */
void mh_h_limits_get(struct mh_http_req *req, void *app);
void mh_h_limits_put(struct mh_http_req *req, void *app);

/* outbound.c */
void mh_h_outbound_get(struct mh_http_req *req, void *app);
void mh_h_outbound_put(struct mh_http_req *req, void *app);

/* rate_limits.c */
void mh_h_rate_limits_get(struct mh_http_req *req, void *app);
void mh_h_rate_limits_put(struct mh_http_req *req, void *app);

/* privacy.c */
void mh_h_privacy_get(struct mh_http_req *req, void *app);
void mh_h_privacy_put(struct mh_http_req *req, void *app);
void mh_h_privacy_test(struct mh_http_req *req, void *app);
/* audit.c */
void mh_h_audit_list(struct mh_http_req *req, void *app);
void mh_h_audit_verify(struct mh_http_req *req, void *app);
/* stats.c */
void mh_h_stats(struct mh_http_req *req, void *app);

/* workflows.c */
void mh_h_node_types(struct mh_http_req *req, void *app);
/* GET /api/schemes: the signature schemes, their settings and keys (src/schemes). */
void mh_h_schemes(struct mh_http_req *req, void *app);
void mh_h_workflows_list(struct mh_http_req *req, void *app);
void mh_h_workflows_create(struct mh_http_req *req, void *app);
void mh_h_workflows_import(struct mh_http_req *req, void *app);
void mh_h_workflows_get(struct mh_http_req *req, void *app);
void mh_h_workflows_update(struct mh_http_req *req, void *app);
void mh_h_workflows_delete(struct mh_http_req *req, void *app);
void mh_h_workflows_archive(struct mh_http_req *req, void *app);
void mh_h_workflows_unarchive(struct mh_http_req *req, void *app);
void mh_h_workflows_put_draft(struct mh_http_req *req, void *app);
void mh_h_workflows_validate(struct mh_http_req *req, void *app);
void mh_h_workflows_publish(struct mh_http_req *req, void *app);
void mh_h_workflows_versions_list(struct mh_http_req *req, void *app);
void mh_h_workflows_version_get(struct mh_http_req *req, void *app);
void mh_h_workflows_export(struct mh_http_req *req, void *app);
struct mh_api;
/* For starting runs: the published version `version_or_0_for_latest` (0: the latest) of
 * workflow `workflow_id` in `project_id`, as {id, workflow_id, version, published_at,
 * created_by, definition} in *row_out (borrowed from the request arena). The caller has checked
 * the project role (mh_api_require_role) inside the open transaction of `api`. On failure it
 * has answered and returns false: 404 for an unknown, other-tenant or archived workflow or an
 * unknown version, 409 "not_published" when the workflow has no published version yet. */
bool mh_h_workflow_version_for_run(struct mh_api *api, const char *project_id,
                                   const char *workflow_id, int version_or_0_for_latest,
                                   json_t **row_out);

/* Reads member `name` of `obj` as a workflow definition, with the checks and limits of a draft
 * save: a JSON object of at most 1 MiB as compact JSON (422 or 413 with path "/name"), valid or
 * not. *def_out is borrowed from `obj`, NULL when the member is absent. False after answering. */
bool mh_h_workflow_definition(struct mh_api *api, json_t *obj, const char *name, json_t **def_out);

/* builder.c */
/* The definition a builder request works on: the body's "definition" when given (checked as
 * mh_h_workflow_definition does), else the workflow's draft. Borrowed (from the body or the
 * request's arena); NULL after answering: 404 for an unknown or archived workflow, 409
 * "no_draft" ("... send a 'definition' to <action>"), 422/413 for a bad definition member. */
json_t *mh_h_workflow_draft(struct mh_api *api, const char *pid, const char *wid, json_t *body,
                            const char *action);
void mh_h_workflows_preview(struct mh_http_req *req, void *app);

/* drafttest.c */
void mh_h_workflows_draft_test(struct mh_http_req *req, void *app);
void mh_h_expressions_check(struct mh_http_req *req, void *app);
void mh_h_workflow_templates_list(struct mh_http_req *req, void *app);
void mh_h_workflow_templates_get(struct mh_http_req *req, void *app);

/* hooks.c */
void mh_h_hook(struct mh_http_req *req, void *app);
/* POST /callbacks/:token (callbacks.c): a wait_callback step's one-time URL. */
void mh_h_callback(struct mh_http_req *req, void *app);
/* endpoints.c */
void mh_h_endpoints_list_workflow(struct mh_http_req *req, void *app);
void mh_h_endpoints_create(struct mh_http_req *req, void *app);
void mh_h_endpoints_list(struct mh_http_req *req, void *app);
void mh_h_endpoints_get(struct mh_http_req *req, void *app);
void mh_h_endpoints_update(struct mh_http_req *req, void *app);
void mh_h_endpoints_delete(struct mh_http_req *req, void *app);
void mh_h_endpoints_test(struct mh_http_req *req, void *app);
void mh_h_endpoints_examples(struct mh_http_req *req, void *app);
void mh_h_endpoints_schema_check(struct mh_http_req *req, void *app);
void mh_h_endpoint_keys_list(struct mh_http_req *req, void *app);
void mh_h_endpoint_keys_create(struct mh_http_req *req, void *app);
void mh_h_endpoint_keys_rotate(struct mh_http_req *req, void *app);
void mh_h_endpoint_keys_revoke(struct mh_http_req *req, void *app);
void mh_h_deliveries_list(struct mh_http_req *req, void *app);
void mh_h_deliveries_get(struct mh_http_req *req, void *app);
void mh_h_deliveries_replay(struct mh_http_req *req, void *app);
void mh_h_deliveries_list_project(struct mh_http_req *req, void *app);
void mh_h_deliveries_get_project(struct mh_http_req *req, void *app);

#endif
