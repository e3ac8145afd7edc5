/* SPDX-License-Identifier: MIT */
/*
 * A project's PII redaction settings (docs/secrets.md): which rules apply to log lines, to event
 * payloads shown to members without pii:read, and to stored artifacts, the project's own
 * patterns, and which role holds pii:read. Admins read and replace the whole document; every
 * pattern is compiled before anything is stored, and a bad one is a 422 naming its path.
 */
#include <stdlib.h>
#include <string.h>

#include "http/api.h"
#include "http/handlers/handlers.h"
#include "redact/redact.h"
#include "secrets/secrets.h"

void mh_h_privacy_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *doc = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    enum mh_err rc = mh_secrets_privacy_load(api.conn, pid, &doc, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    mh_http_respond_json(req, 200, doc);
    doc = NULL;
out:
    json_decref(doc);
    mh_api_close(&api);
}

void mh_h_privacy_put(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *norm = NULL, *stored = NULL;
    char *stored_s = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL)
        goto out;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_secrets_privacy_validate(body, &norm, &info) != MH_OK) {
        /* Too many or too large patterns are as much a validation error as a bad one. */
        mh_http_respond_error(req, 422, "invalid", info.message, info.path);
        goto out;
    }
    stored = json_deep_copy(norm);
    json_object_del(stored, "pii_read_role");
    stored_s = json_dumps(stored, JSON_COMPACT);
    const char *params[] = {pid, stored_s,
                            json_string_value(json_object_get(norm, "pii_read_role"))};
    if (!mh_api_query(&api,
                      "INSERT INTO project_privacy (project_id, settings, pii_read_role, "
                      "updated_by, updated_at) VALUES ($1, $2::jsonb, $3, mh_uid(), now()) "
                      "ON CONFLICT (project_id) DO UPDATE SET settings = EXCLUDED.settings, "
                      "pii_read_role = EXCLUDED.pii_read_role, updated_by = EXCLUDED.updated_by, "
                      "updated_at = now()",
                      3, params) ||
        !mh_api_audit(&api, pid, "privacy.update", pid, norm) || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 200, norm);
    norm = NULL;
out:
    free(stored_s);
    json_decref(stored);
    json_decref(norm);
    mh_api_close(&api);
}

/*
 * The live tester: redacts the body's "data" (any JSON) with the project's rules for "target"
 * (logs, events or artifacts; events when absent), or with "settings" when given — a document
 * being edited, validated as a PUT would be and never stored. Admins, as for the settings.
 */
void mh_h_privacy_test(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *settings = NULL, *out = NULL;
    struct mh_redactor *r = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "admin", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    static const char *const fields[] = {"data", "target", "settings", NULL};
    const char *target = NULL;
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "target", false, 1, 20, &target))
        goto out;
    json_t *data = json_object_get(body, "data");
    if (data == NULL) {
        mh_http_respond_error(req, 422, "invalid", "'data' is required: the JSON to redact",
                              "/data");
        goto out;
    }
    enum mh_privacy_target t = MH_PRIVACY_EVENTS;
    if (target == NULL || strcmp(target, "events") == 0) {
        target = "events";
    } else if (strcmp(target, "logs") == 0) {
        t = MH_PRIVACY_LOGS;
    } else if (strcmp(target, "artifacts") == 0) {
        t = MH_PRIVACY_ARTIFACTS;
    } else {
        mh_http_respond_error(req, 422, "invalid", "'target' must be logs, events or artifacts",
                              "/target");
        goto out;
    }
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *draft = json_object_get(body, "settings");
    if (draft != NULL) {
        if (mh_secrets_privacy_validate(draft, &settings, &info) != MH_OK) {
            char path[300];
            snprintf(path, sizeof(path), "/settings%s", info.path[0] ? info.path : "");
            mh_http_respond_error(req, 422, "invalid", info.message, path);
            goto out;
        }
    } else {
        enum mh_err rc = mh_secrets_privacy_load(api.conn, pid, &settings, &api.info);
        if (rc != MH_OK) {
            mh_http_respond_err(req, rc, &api.info);
            goto out;
        }
    }
    struct mh_redact_stats stats = {0};
    if (mh_secrets_privacy_redactor(settings, t, &r, &info) != MH_OK ||
        mh_redact_json(r, data, &out, &stats) != MH_OK) {
        mh_http_respond_error(req, 422, "invalid", info.message[0] ? info.message : "cannot redact",
                              NULL);
        goto out;
    }
    mh_http_respond_json(req, 200,
                         json_pack("{s:s, s:O, s:I, s:I}", "target", target, "redacted", out,
                                   "redactions", (json_int_t)stats.redactions, "limit_failures",
                                   (json_int_t)stats.limit_failures));
out:
    mh_redact_destroy(r);
    json_decref(out);
    json_decref(settings);
    mh_api_close(&api);
}
