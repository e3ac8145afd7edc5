/* SPDX-License-Identifier: MIT */
/*
 * Project secrets over the API (docs/secrets.md). Editors and up list, create, update and
 * delete them; a value is write-only: every response shows a fixed mask instead, whatever the
 * caller's role, so not even its length leaks. Values are sealed with the vault before they
 * reach the database, every write is audited without the value, and the request's copies of
 * the value are wiped once the handler is done with them.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "secrets/secrets.h"

/* A secret's row as every answer shows it; "last_used_at" is its last decryption (from the
 * audit log, through mh_secret_last_used since editors may not read that log). */
#define SECRET_COLUMNS                                                                             \
    "s.id, s.name, s.description, to_json(s.created_at) AS created_at, s.created_by, "             \
    "to_json(s.updated_at) AS updated_at, s.updated_by, "                                          \
    "(SELECT to_json(u.last_used_at) FROM mh_secret_last_used(s.project_id, ARRAY[s.name]) u) "    \
    "AS last_used_at"

static const char *const secret_sql =
    "SELECT " SECRET_COLUMNS " FROM secrets s WHERE s.project_id = $1 AND s.name = $2";

static bool read_value(struct mh_api *api, json_t *body, bool is_required, const char **value,
                       size_t *len);
static bool read_name(struct mh_api *api, json_t *body, const char **name);
static bool read_description(struct mh_api *api, json_t *body, const char **description);
static bool require_kek(struct mh_api *api);
static bool seal(struct mh_api *api, const char *pid, const char *name, const char *value,
                 size_t len, char **sealed, const char **kek_id);
static void wipe_request(struct mh_api *api, json_t *body);
static json_t *masked(json_t *row);
static bool name_param(struct mh_api *api, const char **name);

/* Reads "value": a string of MH_SECRETS_VALUE_MIN..MH_SECRETS_VALUE_MAX bytes without NUL. */
static bool read_value(struct mh_api *api, json_t *body, bool is_required, const char **value,
                       size_t *len)
{
    json_t *v = json_object_get(body, "value");
    char msg[200];
    *value = NULL;
    *len = 0;
    if (v == NULL || json_is_null(v)) {
        if (!is_required)
            return true;
        mh_http_respond_error(api->req, 422, "invalid", "'value' is required", "/value");
        return false;
    }
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'value' must be a string without NUL characters", "/value");
        return false;
    }
    size_t n = json_string_length(v);
    if (n < MH_SECRETS_VALUE_MIN || n > MH_SECRETS_VALUE_MAX) {
        snprintf(msg, sizeof(msg),
                 "'value' must be %u to %d bytes long (shorter values could not be kept out of "
                 "recorded responses and logs)",
                 MH_SECRETS_VALUE_MIN, MH_SECRETS_VALUE_MAX);
        mh_http_respond_error(api->req, 422, "invalid", msg, "/value");
        return false;
    }
    *value = json_string_value(v);
    *len = n;
    return true;
}

static bool read_name(struct mh_api *api, json_t *body, const char **name)
{
    if (!mh_api_string(api, body, "name", true, 1, MH_SECRETS_NAME_MAX, name))
        return false;
    if (!mh_secrets_name_valid(*name)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'name' must start with a letter or '_' and hold only letters, "
                              "digits and '_' (it is written {{secrets.NAME}} in workflows)",
                              "/name");
        return false;
    }
    return true;
}

static bool read_description(struct mh_api *api, json_t *body, const char **description)
{
    return mh_api_string(api, body, "description", false, 0, 1000, description);
}

static bool require_kek(struct mh_api *api)
{
    if (mh_secrets_can_seal(api->app->secrets))
        return true;
    mh_http_respond_error(api->req, 503, "no_kek",
                          "no key-encryption key configured: the server needs kek_file or kek "
                          "(MESHHOOK_KEK_FILE / MESHHOOK_KEK) to store secrets; see "
                          "docs/secrets.md",
                          NULL);
    return false;
}

static bool seal(struct mh_api *api, const char *pid, const char *name, const char *value,
                 size_t len, char **sealed, const char **kek_id)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc =
        mh_secrets_seal(api->app->secrets, pid, name, value, len, sealed, kek_id, &info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &info);
        return false;
    }
    return true;
}

/*
 * Overwrites the value in the parsed body and in the raw request body. Both buffers belong to
 * this request (the JSON to its arena, the bytes to its body buffer) and are not read again.
 */
static void wipe_request(struct mh_api *api, json_t *body)
{
    json_t *v = body ? json_object_get(body, "value") : NULL;
    if (json_is_string(v))
        mh_crypto_wipe((char *)json_string_value(v), json_string_length(v));
    size_t n = 0;
    const char *raw = mh_http_req_body(api->req, &n);
    if (raw && n)
        mh_crypto_wipe((char *)raw, n);
}

/* Adds the mask to a row (borrowed from the request arena); returns a new reference. */
static json_t *masked(json_t *row)
{
    json_object_set_new(row, "mask", json_string(MH_SECRETS_MASK));
    return json_incref(row);
}

/* After a write: reads the secret back (masked), commits, and answers `status` with it. */
static void commit_and_answer(struct mh_api *api, const char *pid, const char *name, int status)
{
    const char *params[] = {pid, name};
    json_t *row = mh_api_query_row(api, "secret not found", secret_sql, 2, params);
    if (row != NULL && mh_api_commit(api))
        mh_http_respond_json(api->req, status, masked(row));
}

/* The :name parameter; 404 when it cannot name a secret. */
static bool name_param(struct mh_api *api, const char **name)
{
    *name = mh_http_req_param(api->req, "name");
    if (!mh_secrets_name_valid(*name)) {
        mh_http_respond_error(api->req, 404, "not_found", "secret not found", NULL);
        return false;
    }
    return true;
}

void mh_h_secrets_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !mh_api_page(&api, &page))
        goto out;
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    const char *params[] = {pid, limit, page.after_key, page.after_id};
    json_t *rows =
        mh_api_query(&api,
                     "SELECT " SECRET_COLUMNS " FROM secrets s WHERE s.project_id = "
                     "$1 AND ($3::text IS NULL OR (s.name, s.id) > ($3::text, $4::uuid)) "
                     "ORDER BY s.name, s.id LIMIT $2::int",
                     4, params);
    if (rows == NULL)
        goto out;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        json_object_set_new(r, "mask", json_string(MH_SECRETS_MASK));
    }
    mh_http_respond_json(req, 200, mh_api_page_result(&page, rows, "name", "id"));
out:
    mh_api_close(&api);
}

void mh_h_secrets_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    const char *name = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !name_param(&api, &name))
        goto out;
    const char *params[] = {pid, name};
    json_t *row = mh_api_query_row(&api, "secret not found", secret_sql, 2, params);
    if (row)
        mh_http_respond_json(req, 200, masked(row));
out:
    mh_api_close(&api);
}

/* A write of a secret (create, update, put) as its request gives it: the name (from the body for
 * a create, else from the path), the value (NULL when not given) and the description (NULL when
 * not given); then the value sealed. */
struct write {
    json_t *body;
    const char *name, *value, *description;
    size_t len;
    char *sealed;
    const char *kek_id;
};

/* Reads a write by an editor of project `pid` whose body may hold `fields` only ("name" among
 * them when `is_create`), "value" required when `is_value_required`; false after answering. */
static bool write_read(struct mh_api *api, const char *pid, bool is_create, bool is_value_required,
                       const char *const *fields, struct write *w)
{
    if (!mh_api_require_role(api, pid, "editor", NULL) ||
        (!is_create && !name_param(api, &w->name)))
        return false;
    w->body = mh_api_body(api);
    return w->body && mh_api_only_fields(api, w->body, fields) &&
           (!is_create || read_name(api, w->body, &w->name)) &&
           read_value(api, w->body, is_value_required, &w->value, &w->len) &&
           read_description(api, w->body, &w->description);
}

static bool write_seal(struct mh_api *api, const char *pid, struct write *w)
{
    return require_kek(api) && seal(api, pid, w->name, w->value, w->len, &w->sealed, &w->kek_id);
}

/* Runs `sql` on `params` ($1 project, $2 name, $3 description, $4 kek id, $5 sealed value),
 * audits `action` with `detail` (taken), commits and answers `status` with the secret. */
static void write_finish(struct mh_api *api, const char *pid, const struct write *w,
                         const char *sql, const char *const params[5], const char *action,
                         json_t *detail, int status)
{
    bool ok = mh_api_query(api, sql, 5, params) && mh_api_audit(api, pid, action, w->name, detail);
    json_decref(detail);
    if (ok)
        commit_and_answer(api, pid, w->name, status);
}

static void write_cleanup(struct mh_api *api, struct write *w)
{
    wipe_request(api, w->body);
    free(w->sealed);
}

void mh_h_secrets_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct write w = {0};
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"name", "value", "description", NULL};
    if (!write_read(&api, pid, true, true, fields, &w))
        goto out;
    const char *params[] = {pid, w.name};
    json_t *existing = mh_api_query(&api, secret_sql, 2, params);
    if (existing == NULL)
        goto out;
    if (json_array_size(existing) > 0) {
        mh_http_respond_error(req, 409, "conflict",
                              "a secret with this name exists: update it with PATCH or PUT",
                              "/name");
        goto out;
    }
    if (!write_seal(&api, pid, &w))
        goto out;
    const char *ip[] = {pid, w.name, w.description ? w.description : "", w.kek_id, w.sealed};
    write_finish(&api, pid, &w,
                 "INSERT INTO secrets (project_id, name, description, kek_id, sealed, created_by, "
                 "updated_by) VALUES ($1, $2, $3, $4, $5::bytea, mh_uid(), mh_uid())",
                 ip, "secret.create", json_pack("{s:s}", "kek_id", w.kek_id), 201);
out:
    write_cleanup(&api, &w);
    mh_api_close(&api);
}

void mh_h_secrets_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct write w = {0};
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"value", "description", NULL};
    if (!write_read(&api, pid, false, false, fields, &w))
        goto out;
    if (w.value == NULL && w.description == NULL) {
        mh_http_respond_error(req, 422, "invalid", "give 'value', 'description' or both", NULL);
        goto out;
    }
    const char *params[] = {pid, w.name};
    /* Locks the row, so two concurrent updates apply one after the other. */
    if (mh_api_query_row(&api, "secret not found",
                         "SELECT id FROM secrets WHERE project_id = $1 AND name = $2 FOR UPDATE", 2,
                         params) == NULL)
        goto out;
    if (w.value && !write_seal(&api, pid, &w))
        goto out;
    const char *up[] = {pid, w.name, w.description, w.kek_id, w.sealed};
    json_t *changed = json_array();
    if (w.value)
        json_array_append_new(changed, json_string("value"));
    if (w.description)
        json_array_append_new(changed, json_string("description"));
    json_t *detail = json_pack("{s:o}", "fields", changed);
    if (w.kek_id)
        json_object_set_new(detail, "kek_id", json_string(w.kek_id));
    write_finish(&api, pid, &w,
                 "UPDATE secrets SET description = coalesce($3, description), kek_id = "
                 "coalesce($4, kek_id), sealed = coalesce($5::bytea, sealed), updated_by = "
                 "mh_uid(), updated_at = now() WHERE project_id = $1 AND name = $2",
                 up, "secret.update", detail, 200);
out:
    write_cleanup(&api, &w);
    mh_api_close(&api);
}

void mh_h_secrets_put(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct write w = {0};
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"value", "description", NULL};
    if (!write_read(&api, pid, false, true, fields, &w) || !write_seal(&api, pid, &w))
        goto out;
    const char *up[] = {pid, w.name, w.description, w.kek_id, w.sealed};
    json_t *r = mh_api_query_row(
        &api, "secret not found",
        "INSERT INTO secrets AS s (project_id, name, description, kek_id, sealed, created_by, "
        "updated_by) VALUES ($1, $2, coalesce($3, ''), $4, $5::bytea, mh_uid(), mh_uid()) "
        "ON CONFLICT (project_id, name) DO UPDATE SET sealed = EXCLUDED.sealed, kek_id = "
        "EXCLUDED.kek_id, description = coalesce($3, s.description), updated_by = mh_uid(), "
        "updated_at = now() RETURNING (xmax = 0) AS created",
        5, up);
    if (r == NULL)
        goto out;
    bool created = json_is_true(json_object_get(r, "created"));
    json_t *detail = json_pack("{s:s}", "kek_id", w.kek_id);
    if (!created)
        json_object_set_new(detail, "fields",
                            w.description ? json_pack("[s, s]", "value", "description")
                                          : json_pack("[s]", "value"));
    bool ok = mh_api_audit(&api, pid, created ? "secret.create" : "secret.update", w.name, detail);
    json_decref(detail);
    if (!ok)
        goto out;
    commit_and_answer(&api, pid, w.name, created ? 201 : 200);
out:
    write_cleanup(&api, &w);
    mh_api_close(&api);
}

void mh_h_secrets_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    const char *name = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !name_param(&api, &name))
        goto out;
    const char *params[] = {pid, name};
    if (mh_api_query_row(&api, "secret not found",
                         "DELETE FROM secrets WHERE project_id = $1 AND name = $2 RETURNING id", 2,
                         params) == NULL ||
        !mh_api_audit(&api, pid, "secret.delete", name, NULL) || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}

/* Adds to `usage` (NAME -> [{workflow...}]) the secrets `def` names, as `where` of workflow `w`. */
static void add_usage(json_t *usage, json_t *w, json_t *def, const char *where, json_t *version)
{
    json_t *refs = mh_engine_secret_refs(def);
    const char *node;
    json_t *names;
    json_object_foreach(refs, node, names)
    {
        size_t i;
        json_t *name;
        json_array_foreach(names, i, name)
        {
            const char *n = json_string_value(name);
            json_t *list = json_object_get(usage, n);
            if (list == NULL) {
                list = json_array();
                json_object_set_new(usage, n, list);
            }
            json_t *entry = NULL;
            size_t k;
            json_t *e;
            json_array_foreach(list, k, e)
            {
                if (json_equal(json_object_get(e, "workflow_id"), json_object_get(w, "id")))
                    entry = e;
            }
            if (entry == NULL) {
                entry = json_pack("{s:O, s:O, s:[], s:[]}", "workflow_id", json_object_get(w, "id"),
                                  "workflow_name", json_object_get(w, "name"), "draft_nodes",
                                  "published_nodes");
                json_object_set_new(entry, "published_version", json_null());
                json_array_append_new(list, entry);
            }
            json_array_append_new(json_object_get(entry, where), json_string(node));
            if (version != NULL)
                json_object_set(entry, "published_version", version);
        }
    }
    json_decref(refs);
}

/*
 * Where each secret is used: for every workflow that is not archived, the nodes of its draft and
 * of its latest published version that name the secret. {"usage": {NAME: [{"workflow_id",
 * "workflow_name", "draft_nodes": [...], "published_version", "published_nodes": [...]}]}};
 * names no workflow uses are absent (a secret may also name one that does not exist yet).
 */
void mh_h_secrets_usage(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    const char *params[] = {pid};
    json_t *rows = mh_api_query(
        &api,
        "SELECT w.id, w.name, d.definition AS draft, p.version, p.definition AS published "
        "FROM workflows w LEFT JOIN workflow_versions d ON d.workflow_id = w.id AND "
        "d.state = 'draft' LEFT JOIN LATERAL (SELECT v.version, v.definition FROM "
        "workflow_versions v WHERE v.workflow_id = w.id AND v.state = 'published' ORDER BY "
        "v.version DESC LIMIT 1) p ON true WHERE w.project_id = $1 AND w.archived_at IS NULL "
        "ORDER BY w.name, w.id",
        1, params);
    if (rows == NULL)
        goto out;
    json_t *usage = json_object();
    size_t i;
    json_t *w;
    json_array_foreach(rows, i, w)
    {
        add_usage(usage, w, json_object_get(w, "draft"), "draft_nodes", NULL);
        add_usage(usage, w, json_object_get(w, "published"), "published_nodes",
                  json_object_get(w, "version"));
    }
    mh_http_respond_json(req, 200, json_pack("{s:o}", "usage", usage));
out:
    mh_api_close(&api);
}
