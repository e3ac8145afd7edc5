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
