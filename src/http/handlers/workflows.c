/* SPDX-License-Identifier: MIT */
/*
 * Workflows and their versions (docs/architecture.md §3, §4): editors keep one mutable draft per
 * workflow, saved whether or not it validates (the editor shows the problems), and publish it as
 * numbered, immutable versions that runs execute and replay against. Publishing validates the
 * draft, and locks the workflow row so that concurrent publishes (and draft saves, which take the
 * same lock) are serialised and never race for a version number. Deleting a workflow that has runs
 * archives it instead, so that the runs keep the versions they replay against. The draft carries
 * a revision, bumped by every save; a save or publish that sends `If-Match` with the revision it
 * loaded is refused (412) when the draft has moved on, so no edit is silently overwritten.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "schedule/schedule.h"
#include "scheduler/scheduler.h"

/* The largest definition accepted, measured as compact JSON. Far above what 500 nodes need, and
 * small enough that validating, storing and shipping it to the editor stays cheap. */
#define WF_MAX_DEFINITION_BYTES (1024 * 1024)
#define WF_MAX_NAME             200
#define WF_MAX_DESCRIPTION      2000
/* The versions listed inline by GET .../workflows/:id; the paged endpoint has them all. */
#define WF_INLINE_VERSIONS "100"
/* The format version of export documents. */
#define WF_EXPORT_FORMAT 1

static bool find_workflow(struct mh_api *api, const char *pid, const char *wid, bool is_lock,
                          json_t **row_out);
static json_t *workflow_json(struct mh_api *api, const char *pid, const char *wid, bool is_full);
static json_t *validation_of(struct mh_api *api, json_t *def, json_t *more);
static bool allow_seconds(const struct mh_api *api);
static bool sync_schedules(struct mh_api *api, const char *pid, const char *wid);
static bool read_definition(struct mh_api *api, json_t *obj, const char *name, json_t **def_out,
                            const char **text_out);
static bool parse_version(const char *s, long *out);
static bool draft_precondition(struct mh_api *api, const char *pid, const char *wid);
static bool etag_list_matches(const char *list, long long revision, bool *is_malformed);
static void set_etag(struct mh_http_req *req, long long revision);
static void create_workflow(struct mh_http_req *req, void *app, bool is_import);
static void free_void(void *p);
static void decref_void(void *p);
static bool disable_endpoints(struct mh_api *api, const char *const params[2]);

/* The workflow as lists show it. $1 is the project, $2 the workflow. */
static const char *const workflow_sql =
    "SELECT w.id, w.project_id, w.name, w.description, "
    "(SELECT max(v.version) FROM workflow_versions v WHERE v.workflow_id = w.id) AS "
    "latest_version, EXISTS (SELECT 1 FROM workflow_versions v WHERE v.workflow_id = w.id AND "
    "v.state = 'draft') AS has_draft, to_json(w.created_at) AS created_at, "
    "to_json(w.updated_at) AS updated_at FROM workflows w WHERE w.project_id = $1 AND w.id = $2 "
    "AND w.archived_at IS NULL";

static const char *const draft_upsert_sql =
    "INSERT INTO workflow_versions (project_id, workflow_id, state, definition, created_by) "
    "VALUES ($1, $2, 'draft', $3::jsonb, mh_uid()) ON CONFLICT (workflow_id) WHERE state = "
    "'draft' DO UPDATE SET definition = EXCLUDED.definition, created_by = EXCLUDED.created_by, "
    "revision = workflow_versions.revision + 1 RETURNING definition, revision";

static void free_void(void *p)
{
    free(p);
}

static void decref_void(void *p)
{
    json_decref(p);
}

/* Parses a positive version number ("1".."2147483647") with nothing around it. */
static bool parse_version(const char *s, long *out)
{
    if (s == NULL || *s < '1' || *s > '9')
        return false;
    char *end = NULL;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || n < 1 || n > INT_MAX)
        return false;
    *out = n;
    return true;
}

static void set_etag(struct mh_http_req *req, long long revision)
{
    char etag[32];
    snprintf(etag, sizeof(etag), "\"%lld\"", revision);
    mh_http_set_header(req, "ETag", etag);
}

/*
 * Whether the If-Match value `list` (RFC 9110 §13.1.1: "*" or a comma-separated list of entity
 * tags) matches the draft at `revision` by strong comparison: the draft's ETag is the revision
 * in quotes, "7". A weak tag (W/"7") never matches. Anything else sets *is_malformed.
 */
static bool etag_list_matches(const char *list, long long revision, bool *is_malformed)
{
    bool is_match = false;
    *is_malformed = false;
    const char *p = list;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '*' && revision > 0) {
            is_match = true;
            p++;
        } else if (*p == '*') {
            p++;
        } else {
            bool is_weak = p[0] == 'W' && p[1] == '/';
            if (is_weak)
                p += 2;
            if (*p != '"' || !isdigit((unsigned char)p[1])) {
                *is_malformed = true;
                return false;
            }
            char *end = NULL;
            errno = 0;
            long long n = strtoll(p + 1, &end, 10);
            if (errno != 0 || *end != '"') {
                *is_malformed = true;
                return false;
            }
            if (!is_weak && n == revision)
                is_match = true;
            p = end + 1;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0')
            return is_match;
        if (*p != ',') {
            *is_malformed = true;
            return false;
        }
        p++;
    }
}

/*
 * The optimistic-concurrency check of a draft save or a publish. Without If-Match it passes.
 * With it, the draft's current revision must match: otherwise answers 412 "stale_revision" with
 * the current revision (so the editor can say who is ahead) and returns false. A malformed
 * If-Match is 400. The caller holds the workflow's row lock (find_workflow with is_lock), so the
 * revision cannot move between this check and the caller's write.
 */
static bool draft_precondition(struct mh_api *api, const char *pid, const char *wid)
{
    const char *if_match = mh_http_req_header(api->req, "If-Match");
    if (if_match == NULL)
        return true;
    const char *params[] = {pid, wid};
    json_t *rows = mh_api_query(api,
                                "SELECT revision FROM workflow_versions WHERE project_id = $1 AND "
                                "workflow_id = $2 AND state = 'draft'",
                                2, params);
    if (rows == NULL)
        return false;
    json_t *rev = json_object_get(json_array_get(rows, 0), "revision");
    long long current = rev ? (long long)json_integer_value(rev) : 0;
    bool is_malformed = false;
    if (etag_list_matches(if_match, current, &is_malformed))
        return true;
    if (is_malformed) {
        mh_http_respond_error(api->req, 400, "bad_request",
                              "If-Match must carry the draft's ETag as GET or PUT returned it, "
                              "such as \"3\" (its revision in quotes), or *",
                              NULL);
        return false;
    }
    char msg[256];
    if (current == 0)
        snprintf(msg, sizeof(msg), "the workflow has no draft any more, so If-Match cannot match");
    else
        snprintf(msg, sizeof(msg),
                 "the draft was saved elsewhere since you loaded it: it is now at revision %lld. "
                 "Load it again and reapply your changes; nothing was changed",
                 current);
    json_t *err = json_pack("{s:s, s:s}", "code", "stale_revision", "message", msg);
    json_object_set_new(err, "revision", current ? json_integer(current) : json_null());
    if (current)
        set_etag(api->req, current);
    mh_http_respond_json(
        api->req, 412,
        json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(api->req)));
    return false;
}

/* Answers 404 unless `wid` names a live (not archived) workflow of project `pid`. With
 * `is_lock` the row stays locked until the transaction ends: every writer of the draft or of
 * the versions takes this lock first. `row_out` (may be NULL) receives {id, name, description},
 * borrowed from the request arena. */
static bool find_workflow(struct mh_api *api, const char *pid, const char *wid, bool is_lock,
                          json_t **row_out)
{
    if (!mh_api_is_uuid(wid)) {
        mh_http_respond_error(api->req, 404, "not_found", "workflow not found", NULL);
        return false;
    }
    const char *params[] = {pid, wid};
    json_t *row = mh_api_query_row(api, "workflow not found",
                                   is_lock ? "SELECT id, name, description FROM workflows WHERE "
                                             "project_id = $1 AND id = $2 AND archived_at IS "
                                             "NULL FOR UPDATE"
                                           : "SELECT id, name, description FROM workflows WHERE "
                                             "project_id = $1 AND id = $2 AND archived_at IS NULL",
                                   2, params);
    if (row == NULL)
        return false;
    if (row_out)
        *row_out = row;
    return true;
}

/* The workflow (new reference), or NULL after answering. `is_full` adds the draft and the
 * newest versions. */
static json_t *workflow_json(struct mh_api *api, const char *pid, const char *wid, bool is_full)
{
    const char *params[] = {pid, wid, WF_INLINE_VERSIONS};
    json_t *row = mh_api_query_row(api, "workflow not found", workflow_sql, 2, params);
    if (row == NULL)
        return NULL;
    json_t *out = json_deep_copy(row);
    if (!is_full)
        return out;
    json_t *draft = mh_api_query(api,
                                 "SELECT id, definition, created_by AS saved_by, revision FROM "
                                 "workflow_versions WHERE project_id = $1 AND workflow_id = $2 "
                                 "AND state = 'draft'",
                                 2, params);
    json_t *versions =
        draft ? mh_api_query(api,
                             "SELECT id, version, to_json(published_at) AS published_at, "
                             "created_by FROM workflow_versions WHERE project_id = $1 AND "
                             "workflow_id = $2 AND state = 'published' ORDER BY version DESC "
                             "LIMIT $3::int",
                             3, params)
              : NULL;
    if (versions == NULL) {
        json_decref(out);
        return NULL;
    }
    json_object_set(out, "draft", json_array_size(draft) ? json_array_get(draft, 0) : json_null());
    json_object_set(out, "versions", versions);
    return out;
}

static bool allow_seconds(const struct mh_api *api)
{
    return api->app->cfg->schedule_allow_seconds;
}

/* {"valid": bool, "errors": [...]} for `def` (borrowed), the graph's and the schedules'
 * problems together, with `more` (borrowed, may be NULL: call_errors'); a new reference. */
static json_t *validation_of(struct mh_api *api, json_t *def, json_t *more)
{
    json_t *errors = NULL;
    bool is_valid = mh_engine_wf_validate(def, &errors) == MH_OK;
    if (errors == NULL)
        errors = json_array();
    mh_schedule_validate(def, allow_seconds(api), errors);
    if (more != NULL)
        json_array_extend(errors, more);
    is_valid = is_valid && json_array_size(errors) == 0;
    return json_pack("{s:b, s:o}", "valid", is_valid, "errors", errors);
}

/* Appends a validation error {"path", "code", "message", "node"} to `errors`. */
static void add_call_error(json_t *errors, const char *path, const char *code, const char *node,
                           const char *fmt, ...) MH_PRINTF(5, 6);
static void add_call_error(json_t *errors, const char *path, const char *code, const char *node,
                           const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_array_append_new(errors, json_pack("{s:s, s:s, s:s, s:s}", "path", path, "code", code,
                                            "message", msg, "node", node));
}

/* The most workflow versions the cycle check of call_errors reads for one definition. */
#define CALL_WALK_MAX 64

/*
 * What the call_workflow steps of `def` (workflow `wid`'s definition, borrowed) call, checked
 * against the project (docs/workflows.md, "Sub-workflows"): a workflow that is not the
 * project's ("call_target"), and a call that comes back to `wid` ("call_cycle"): `wid` itself,
 * or a workflow whose published version — the one pinned, or the latest for "latest" — calls
 * back to `wid` through "latest" (the version being saved becomes the latest when published),
 * directly or through others. Errors {"path", "code", "message", "node"} point at the node's
 * config/workflow_id. A new array, or NULL after answering a database error.
 */
static json_t *call_errors(struct mh_api *api, const char *pid, const char *wid, json_t *def)
{
    json_t *calls = mh_engine_calls_of(def), *errors = json_array(), *call;
    size_t k;
    json_array_foreach(calls, k, call)
    {
        const char *target = json_string_value(json_object_get(call, "workflow_id"));
        const char *node = json_string_value(json_object_get(call, "node"));
        const char *path = json_string_value(json_object_get(call, "path"));
        if (!mh_api_is_uuid(target))
            continue; /* the schema's pattern reports it */
        const char *ep[] = {pid, target};
        json_t *rows = mh_api_query(
            api, "SELECT 1 FROM workflows WHERE project_id = $1 AND id = $2::uuid", 2, ep);
        if (rows == NULL)
            goto fail;
        if (json_array_size(rows) == 0) {
            add_call_error(errors, path, "call_target", node,
                           "workflow %s is not a workflow of this project", target);
            continue;
        }
        /* Depth-first over (workflow, version) pairs, each read once. */
        json_t *todo = json_pack("[{s:s, s:O, s:s}]", "wf", target, "version",
                                 json_object_get(call, "version"), "chain", target);
        json_t *seen = json_object();
        bool cycle = false;
        char chain[1024] = "";
        size_t reads = 0;
        while (json_array_size(todo) > 0 && !cycle && reads < CALL_WALK_MAX) {
            json_t *at = json_incref(json_array_get(todo, json_array_size(todo) - 1));
            json_array_remove(todo, json_array_size(todo) - 1);
            const char *awf = json_string_value(json_object_get(at, "wf"));
            json_t *aver = json_object_get(at, "version");
            const char *achain = json_string_value(json_object_get(at, "chain"));
            if (strcmp(awf, wid) == 0 && !json_is_integer(aver)) {
                snprintf(chain, sizeof(chain), "%s", achain);
                cycle = true;
                json_decref(at);
                break;
            }
            char key[80], ver[24] = "";
            if (json_is_integer(aver))
                snprintf(ver, sizeof(ver), "%lld", (long long)json_integer_value(aver));
            snprintf(key, sizeof(key), "%s@%s", awf, ver[0] ? ver : "latest");
            if (json_object_get(seen, key) != NULL) {
                json_decref(at);
                continue;
            }
            json_object_set_new(seen, key, json_true());
            reads++;
            const char *vp[] = {pid, awf, ver[0] ? ver : NULL};
            json_t *vrows =
                mh_api_query(api,
                             "SELECT definition FROM workflow_versions WHERE project_id = $1 AND "
                             "workflow_id = $2::uuid AND state = 'published' AND ($3::int IS "
                             "NULL OR version = $3::int) ORDER BY version DESC LIMIT 1",
                             3, vp);
            if (vrows == NULL) {
                json_decref(at);
                json_decref(todo);
                json_decref(seen);
                goto fail;
            }
            json_t *next =
                mh_engine_calls_of(json_object_get(json_array_get(vrows, 0), "definition"));
            size_t x;
            json_t *nc;
            json_array_foreach(next, x, nc)
            {
                const char *nwf = json_string_value(json_object_get(nc, "workflow_id"));
                if (!mh_api_is_uuid(nwf))
                    continue;
                char nchain[1024];
                snprintf(nchain, sizeof(nchain), "%s -> %s", achain, nwf);
                json_array_append_new(todo,
                                      json_pack("{s:s, s:O, s:s}", "wf", nwf, "version",
                                                json_object_get(nc, "version"), "chain", nchain));
            }
            json_decref(next);
            json_decref(at);
        }
        json_decref(todo);
        json_decref(seen);
        if (cycle && strcmp(target, wid) == 0 && strchr(chain, '>') == NULL)
            add_call_error(errors, path, "call_cycle", node,
                           "node '%s' calls this workflow itself: a call cycle (the "
                           "run would call itself until subworkflow_max_depth)",
                           node);
        else if (cycle)
            add_call_error(errors, path, "call_cycle", node,
                           "node '%s' makes a call cycle: this workflow -> %s (each "
                           "through its pinned or latest published version)",
                           node, chain);
    }
    json_decref(calls);
    return errors;
fail:
    json_decref(calls);
    json_decref(errors);
    return NULL;
}

/* Makes the workflow's schedules those of its latest published version (src/scheduler), in the
 * request's transaction; answers the error itself. */
static bool sync_schedules(struct mh_api *api, const char *pid, const char *wid)
{
    api->info = (struct mh_err_info)MH_ERR_INFO_INIT;
    enum mh_err rc = mh_scheduler_sync(api->conn, pid, wid, allow_seconds(api), &api->info);
    if (rc != MH_OK)
        mh_http_respond_err(api->req, rc, &api->info);
    return rc == MH_OK;
}

/* Reads member `name` of `obj` as a definition: it must be a JSON object of at most
 * WF_MAX_DEFINITION_BYTES as compact JSON (422 or 413 with path "/name"). Whether it is a
 * valid workflow is not checked here. *def_out is borrowed from `obj`; *text_out is its compact
 * JSON, owned by the request arena. Absent members leave both NULL. */
static bool read_definition(struct mh_api *api, json_t *obj, const char *name, json_t **def_out,
                            const char **text_out)
{
    char path[32];
    snprintf(path, sizeof(path), "/%s", name);
    json_t *def = json_object_get(obj, name);
    *def_out = NULL;
    *text_out = NULL;
    if (def == NULL)
        return true;
    if (!json_is_object(def)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "the definition must be a JSON object {\"nodes\": [...], "
                              "\"edges\": [...]}",
                              path);
        return false;
    }
    char *text = json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        mh_http_respond_error(api->req, 500, "internal", "internal error", NULL);
        return false;
    }
    mh_arena_defer(mh_http_req_arena(api->req), free_void, text);
    if (strlen(text) > WF_MAX_DEFINITION_BYTES) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the definition exceeds the limit of %d bytes (compact JSON)",
                 WF_MAX_DEFINITION_BYTES);
        mh_http_respond_error(api->req, 413, "too_big", msg, path);
        return false;
    }
    *def_out = def;
    *text_out = text;
    return true;
}

bool mh_h_workflow_definition(struct mh_api *api, json_t *obj, const char *name, json_t **def_out)
{
    const char *text = NULL;
    return read_definition(api, obj, name, def_out, &text);
}

void mh_h_node_types(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    mh_http_respond_json(req, 200, json_pack("{s:o}", "types", mh_engine_node_types()));
    mh_api_close(&api);
}

/* GET .../workflows: live workflows, or with ?archived=true the archived ones; ?q= keeps those
 * whose name or description contains it (case-insensitive). Each row carries its newest run. */
void mh_h_workflows_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page))
        goto out;
    const char *archived = mh_http_req_query(req, "archived");
    const char *q = mh_http_req_query(req, "q");
    if (archived && strcmp(archived, "true") != 0 && strcmp(archived, "false") != 0) {
        mh_http_respond_error(req, 422, "invalid", "archived must be true or false", "?archived");
        goto out;
    }
    if (q && strlen(q) > WF_MAX_NAME) {
        mh_http_respond_error(req, 422, "invalid", "q must be at most 200 characters", "?q");
        goto out;
    }
    const char *params[] = {pid, archived ? archived : "false", q && q[0] ? q : NULL};
    mh_api_respond_list(
        &api, &page,
        "SELECT w.id, w.name, w.description, (SELECT max(v.version) FROM workflow_versions v "
        "WHERE v.workflow_id = w.id) AS latest_version, EXISTS (SELECT 1 FROM workflow_versions "
        "v WHERE v.workflow_id = w.id AND v.state = 'draft') AS has_draft, to_json(w.created_at) "
        "AS created_at, to_json(w.updated_at) AS updated_at, to_json(w.archived_at) AS "
        "archived_at, (SELECT json_build_object('id', r.id, 'status', r.status, 'is_test', "
        "r.is_test, 'version', r.version, 'created_at', r.created_at, 'finished_at', "
        "r.finished_at) FROM runs r WHERE r.workflow_id = w.id ORDER BY r.created_at DESC, r.id "
        "DESC LIMIT 1) AS last_run FROM workflows w WHERE w.project_id = $1 AND "
        "(w.archived_at IS NOT NULL) = $2::boolean AND ($3::text IS NULL OR strpos(lower(w.name "
        "|| ' ' || w.description), lower($3)) > 0) AND ($5::timestamptz IS NULL OR "
        "(w.created_at, w.id) < ($5::timestamptz, $6::uuid)) ORDER BY w.created_at DESC, w.id "
        "DESC LIMIT $4::int",
        3, params, "created_at", "id");
out:
    mh_api_close(&api);
}

/* POST .../workflows and POST .../workflows/import: a new workflow whose draft is the given
 * definition (or an empty one), with the draft's validation in the answer. */
static void create_workflow(struct mh_http_req *req, void *app, bool is_import)
{
    struct mh_api api;
    static const char *const create_fields[] = {"name", "description", "definition", NULL};
    static const char *const import_fields[] = {"meshhook_export", "name",    "description",
                                                "definition",      "version", NULL};
    const char *name = NULL, *description = NULL, *text = NULL;
    json_t *def = NULL, *wf = NULL, *validation = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, is_import ? import_fields : create_fields))
        goto out;
    if (is_import) {
        json_t *format = json_object_get(body, "meshhook_export");
        if (!json_is_integer(format) || json_integer_value(format) != WF_EXPORT_FORMAT) {
            mh_http_respond_error(req, 422, "invalid",
                                  "not a MeshHook workflow export: 'meshhook_export' must be 1",
                                  "/meshhook_export");
            goto out;
        }
        /* The version an export came from is informative only. */
        json_t *version = json_object_get(body, "version");
        if (version && !json_is_null(version) && !json_is_integer(version)) {
            mh_http_respond_error(req, 422, "invalid", "'version' must be an integer or null",
                                  "/version");
            goto out;
        }
    }
    if (!mh_api_string(&api, body, "name", true, 1, WF_MAX_NAME, &name) ||
        !mh_api_string(&api, body, "description", false, 0, WF_MAX_DESCRIPTION, &description) ||
        !read_definition(&api, body, "definition", &def, &text))
        goto out;
    if (is_import && def == NULL) {
        mh_http_respond_error(req, 422, "invalid", "'definition' is required", "/definition");
        goto out;
    }
    if (def == NULL) {
        def = json_pack("{s:[], s:[]}", "nodes", "edges");
        mh_arena_defer(mh_http_req_arena(req), decref_void, def);
        text = "{\"nodes\":[],\"edges\":[]}";
    }
    const char *params[] = {pid, name, description ? description : ""};
    json_t *row = mh_api_query_row(&api, "project not found",
                                   "INSERT INTO workflows (project_id, name, description, "
                                   "created_by) VALUES ($1, $2, $3, mh_uid()) RETURNING id",
                                   3, params);
    if (row == NULL)
        goto out;
    const char *wid = json_string_value(json_object_get(row, "id"));
    const char *dparams[] = {pid, wid, text};
    if (!mh_api_query(&api, draft_upsert_sql, 3, dparams) ||
        !mh_api_audit(&api, pid, is_import ? "workflow.import" : "workflow.create", wid, NULL))
        goto out;
    wf = workflow_json(&api, pid, wid, true);
    if (wf == NULL || !mh_api_commit(&api))
        goto out;
    validation = validation_of(&api, def, NULL);
    json_object_set(wf, "validation", validation);
    mh_http_respond_json(req, 201, json_incref(wf));
out:
    json_decref(validation);
    json_decref(wf);
    mh_api_close(&api);
}

void mh_h_workflows_create(struct mh_http_req *req, void *app)
{
    create_workflow(req, app, false);
}

void mh_h_workflows_import(struct mh_http_req *req, void *app)
{
    create_workflow(req, app, true);
}

void mh_h_workflows_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        !find_workflow(&api, pid, wid, false, NULL))
        goto out;
    json_t *wf = workflow_json(&api, pid, wid, true);
    if (wf)
        mh_http_respond_json(req, 200, wf);
out:
    mh_api_close(&api);
}

void mh_h_workflows_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"name", "description", NULL};
    const char *name = NULL, *description = NULL;
    json_t *wf = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) ||
        !find_workflow(&api, pid, wid, true, NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "name", false, 1, WF_MAX_NAME, &name) ||
        !mh_api_string(&api, body, "description", false, 0, WF_MAX_DESCRIPTION, &description))
        goto out;
    if (name == NULL && description == NULL) {
        mh_http_respond_error(req, 422, "invalid",
                              "nothing to change: give 'name' or "
                              "'description'",
                              "");
        goto out;
    }
    const char *params[] = {pid, wid, name, description};
    if (!mh_api_query(&api,
                      "UPDATE workflows SET name = coalesce($3, name), description = "
                      "coalesce($4, description), updated_at = now() WHERE project_id = $1 AND "
                      "id = $2",
                      4, params) ||
        !mh_api_audit(&api, pid, "workflow.update", wid, body))
        goto out;
    wf = workflow_json(&api, pid, wid, false);
    if (wf == NULL || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 200, json_incref(wf));
out:
    json_decref(wf);
    mh_api_close(&api);
}

void mh_h_workflows_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *detail = NULL, *row = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) ||
        !find_workflow(&api, pid, wid, true, &row))
        goto out;
    const char *params[] = {pid, wid};
    json_t *runs = mh_api_query_row(&api, "workflow not found",
                                    "SELECT EXISTS (SELECT 1 FROM runs WHERE project_id = $1 AND "
                                    "workflow_id = $2) AS has_runs",
                                    2, params);
    if (runs == NULL)
        goto out;
    bool is_archive = json_is_true(json_object_get(runs, "has_runs"));
    detail = json_pack("{s:O, s:b}", "name", json_object_get(row, "name"), "archived", is_archive);
    /* Runs reference the versions they execute and replay against, so a workflow with runs is
     * archived: hidden from every endpoint, its webhook endpoints disabled, its history kept. */
    bool ok =
        mh_api_audit(&api, pid, "workflow.delete", wid, detail) &&
        (is_archive ? mh_api_query(&api,
                                   "UPDATE workflows SET archived_at = now(), updated_at = "
                                   "now() WHERE project_id = $1 AND id = $2",
                                   2, params) &&
                          disable_endpoints(&api, params)
                    : mh_api_query(&api, "DELETE FROM workflows WHERE project_id = $1 AND id = $2",
                                   2, params) != NULL);
    if (!ok || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 204, NULL);
out:
    json_decref(detail);
    mh_api_close(&api);
}

/* Disables the webhook endpoints of an archived workflow ($1 project, $2 workflow), marking those
 * that were enabled so that restoring the workflow enables them again. */
static bool disable_endpoints(struct mh_api *api, const char *const params[2])
{
    if (mh_api_query(api,
                     "UPDATE webhook_endpoints SET disabled_by_archive = is_enabled, "
                     "is_enabled = false, updated_at = now() WHERE project_id = $1 AND "
                     "workflow_id = $2 AND is_enabled",
                     2, params) == NULL)
        return false;
    /* Its schedules stop too; restoring starts them from the time of the restore. */
    api->info = (struct mh_err_info)MH_ERR_INFO_INIT;
    enum mh_err rc = mh_scheduler_pause(api->conn, params[0], params[1], &api->info);
    if (rc != MH_OK)
        mh_http_respond_err(api->req, rc, &api->info);
    return rc == MH_OK;
}

/* Archives (POST .../archive) or restores (POST .../unarchive) a workflow. Archiving works
 * whether or not the workflow has runs, and can be undone: it hides the workflow from every
 * endpoint but the archived list and this one, and disables its webhook endpoints; restoring
 * brings it back and enables the endpoints that archiving disabled. */
static void set_archived(struct mh_http_req *req, void *app, bool is_archive)
{
    struct mh_api api;
    json_t *wf = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    if (!mh_api_is_uuid(wid)) {
        mh_http_respond_error(req, 404, "not_found", "workflow not found", NULL);
        goto out;
    }
    const char *params[] = {pid, wid};
    json_t *row = mh_api_query_row(&api, "workflow not found",
                                   "SELECT archived_at IS NOT NULL AS is_archived FROM workflows "
                                   "WHERE project_id = $1 AND id = $2 FOR UPDATE",
                                   2, params);
    if (row == NULL)
        goto out;
    if (json_is_true(json_object_get(row, "is_archived")) == is_archive) {
        mh_http_respond_error(
            req, 409, is_archive ? "archived" : "not_archived",
            is_archive ? "the workflow is already archived" : "the workflow is not archived", NULL);
        goto out;
    }
    bool ok = is_archive
                  ? mh_api_query(&api,
                                 "UPDATE workflows SET archived_at = now(), updated_at = now() "
                                 "WHERE project_id = $1 AND id = $2",
                                 2, params) &&
                        disable_endpoints(&api, params)
                  : mh_api_query(&api,
                                 "UPDATE workflows SET archived_at = NULL, updated_at = now() "
                                 "WHERE project_id = $1 AND id = $2",
                                 2, params) &&
                        mh_api_query(&api,
                                     "UPDATE webhook_endpoints SET is_enabled = true, "
                                     "disabled_by_archive = false, updated_at = now() WHERE "
                                     "project_id = $1 AND workflow_id = $2 AND disabled_by_archive",
                                     2, params) &&
                        sync_schedules(&api, pid, wid);
    if (!ok ||
        !mh_api_audit(&api, pid, is_archive ? "workflow.archive" : "workflow.unarchive", wid, NULL))
        goto out;
    if (!is_archive) {
        wf = workflow_json(&api, pid, wid, false);
        if (wf == NULL)
            goto out;
    }
    if (!mh_api_commit(&api))
        goto out;
    if (is_archive)
        mh_http_respond_json(req, 204, NULL);
    else
        mh_http_respond_json(req, 200, json_incref(wf));
out:
    json_decref(wf);
    mh_api_close(&api);
}

void mh_h_workflows_archive(struct mh_http_req *req, void *app)
{
    set_archived(req, app, true);
}

void mh_h_workflows_unarchive(struct mh_http_req *req, void *app)
{
    set_archived(req, app, false);
}

void mh_h_workflows_put_draft(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"definition", NULL};
    const char *text = NULL;
    json_t *def = NULL, *calls = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) ||
        !find_workflow(&api, pid, wid, true, NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !read_definition(&api, body, "definition", &def, &text))
        goto out;
    if (def == NULL) {
        mh_http_respond_error(req, 422, "invalid", "'definition' is required", "/definition");
        goto out;
    }
    if (!draft_precondition(&api, pid, wid))
        goto out;
    /* Read in the transaction (the rows the editor may see), shown with the validation. */
    calls = call_errors(&api, pid, wid, def);
    if (calls == NULL)
        goto out;
    const char *params[] = {pid, wid, text};
    json_t *saved = mh_api_query_row(&api, "workflow not found", draft_upsert_sql, 3, params);
    if (saved == NULL ||
        !mh_api_query(&api,
                      "UPDATE workflows SET updated_at = now() WHERE project_id = $1 AND id = $2",
                      2, params) ||
        !mh_api_commit(&api))
        goto out;
    json_t *revision = json_object_get(saved, "revision");
    set_etag(req, (long long)json_integer_value(revision));
    mh_http_respond_json(req, 200,
                         json_pack("{s:O, s:O, s:o}", "definition",
                                   json_object_get(saved, "definition"), "revision", revision,
                                   "validation", validation_of(&api, def, calls)));
out:
    json_decref(calls);
    mh_api_close(&api);
}

void mh_h_workflows_validate(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"definition", NULL};
    const char *text = NULL;
    json_t *def = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        !find_workflow(&api, pid, wid, false, NULL))
        goto out;
    size_t len = 0;
    mh_http_req_body(req, &len);
    if (len > 0) {
        json_t *body = mh_api_body(&api);
        if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
            !read_definition(&api, body, "definition", &def, &text))
            goto out;
    }
    if (def == NULL) {
        const char *params[] = {pid, wid};
        json_t *rows = mh_api_query(&api,
                                    "SELECT definition FROM workflow_versions WHERE project_id "
                                    "= $1 AND workflow_id = $2 AND state = 'draft'",
                                    2, params);
        if (rows == NULL)
            goto out;
        def = json_object_get(json_array_get(rows, 0), "definition");
        if (def == NULL) {
            mh_http_respond_error(req, 409, "no_draft",
                                  "the workflow has no draft; send a 'definition' to validate",
                                  NULL);
            goto out;
        }
    }
    json_t *calls = call_errors(&api, pid, wid, def);
    if (calls == NULL)
        goto out;
    mh_http_respond_json(req, 200, validation_of(&api, def, calls));
    json_decref(calls);
out:
    mh_api_close(&api);
}

void mh_h_workflows_publish(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *errors = NULL, *detail = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    /* The lock serialises publishes of one workflow, and draft saves with them: the number
     * computed below stays the next one until COMMIT, and the draft stays the one validated. */
    if (!mh_api_require_role(&api, pid, "editor", NULL) ||
        !find_workflow(&api, pid, wid, true, NULL))
        goto out;
    size_t len = 0;
    mh_http_req_body(req, &len);
    if (len > 0) {
        static const char *const fields[] = {NULL};
        json_t *body = mh_api_body(&api);
        if (body == NULL || !mh_api_only_fields(&api, body, fields))
            goto out;
    }
    /* The editor publishes what it shows: If-Match refuses a draft saved elsewhere since. */
    if (!draft_precondition(&api, pid, wid))
        goto out;
    const char *params[] = {pid, wid, NULL};
    json_t *rows = mh_api_query(
        &api,
        "SELECT d.definition, coalesce(l.version, 0) + 1 AS next_version, "
        "coalesce(l.definition = d.definition, false) AS is_unchanged FROM workflow_versions d "
        "LEFT JOIN LATERAL (SELECT v.version, v.definition FROM workflow_versions v WHERE "
        "v.workflow_id = d.workflow_id AND v.state = 'published' ORDER BY v.version DESC LIMIT 1) "
        "l ON true WHERE d.project_id = $1 AND d.workflow_id = $2 AND d.state = 'draft'",
        2, params);
    if (rows == NULL)
        goto out;
    json_t *draft = json_array_get(rows, 0);
    if (draft == NULL) {
        mh_http_respond_error(req, 409, "no_draft", "the workflow has no draft to publish", NULL);
        goto out;
    }
    if (json_is_true(json_object_get(draft, "is_unchanged"))) {
        mh_http_respond_error(req, 409, "unchanged",
                              "the draft is identical to the latest published version", NULL);
        goto out;
    }
    json_t *draft_def = json_object_get(draft, "definition");
    bool is_valid = mh_engine_wf_validate(draft_def, &errors) == MH_OK;
    if (errors == NULL)
        errors = json_array();
    mh_schedule_validate(draft_def, allow_seconds(&api), errors);
    json_t *calls = call_errors(&api, pid, wid, draft_def);
    if (calls == NULL)
        goto out;
    json_array_extend(errors, calls);
    json_decref(calls);
    if (!is_valid || json_array_size(errors) > 0) {
        mh_api_respond_invalid_definition(&api, errors, "publish");
        goto out;
    }
    char next[24];
    snprintf(next, sizeof(next), "%lld",
             (long long)json_integer_value(json_object_get(draft, "next_version")));
    params[2] = next;
    json_t *version = mh_api_query_row(
        &api, "workflow not found",
        "INSERT INTO workflow_versions (project_id, workflow_id, version, state, definition, "
        "created_by, published_at, revision) SELECT project_id, workflow_id, $3::int, "
        "'published', definition, mh_uid(), now(), revision FROM workflow_versions WHERE "
        "project_id = $1 AND workflow_id = $2 AND state = 'draft' RETURNING id, version, "
        "to_json(published_at) AS published_at, created_by, definition, revision AS "
        "draft_revision",
        3, params);
    if (version == NULL)
        goto out;
    detail = json_pack("{s:O}", "version", json_object_get(version, "version"));
    if (!mh_api_query(&api,
                      "UPDATE workflows SET updated_at = now() WHERE project_id = $1 AND id = $2",
                      2, params) ||
        !sync_schedules(&api, pid, wid) ||
        !mh_api_audit(&api, pid, "workflow.publish", wid, detail) || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 201, json_incref(version));
out:
    json_decref(detail);
    json_decref(errors);
    mh_api_close(&api);
}

void mh_h_workflows_versions_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        !find_workflow(&api, pid, wid, false, NULL) || !mh_api_page(&api, &page))
        goto out;
    long after = 0;
    if (page.after_key && !parse_version(page.after_key, &after)) {
        mh_http_respond_error(req, 422, "invalid", "malformed cursor", "?cursor");
        goto out;
    }
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    const char *params[] = {pid, wid, limit, page.after_key};
    json_t *rows = mh_api_query(&api,
                                "SELECT id, version, to_json(published_at) AS published_at, "
                                "created_by FROM workflow_versions WHERE project_id = $1 AND "
                                "workflow_id = $2 AND state = 'published' AND ($4::int IS NULL "
                                "OR version < $4::int) ORDER BY version DESC LIMIT $3::int",
                                4, params);
    if (rows)
        mh_http_respond_json(req, 200, mh_api_page_result(&page, rows, "version", "id"));
out:
    mh_api_close(&api);
}

void mh_h_workflows_version_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *row = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    long version = 0;
    if (!mh_api_require_role(&api, pid, "viewer", NULL))
        goto out;
    const char *v = mh_http_req_param(req, "version");
    /* "latest" asks for the newest published version (409 when there is none). */
    if (strcmp(v, "latest") != 0 && !parse_version(v, &version)) {
        mh_http_respond_error(req, 404, "not_found", "version not found", NULL);
        goto out;
    }
    if (!mh_h_workflow_version_for_run(&api, pid, wid, (int)version, &row))
        goto out;
    mh_http_respond_json(req, 200, json_incref(row));
out:
    mh_api_close(&api);
}

bool mh_h_workflow_version_for_run(struct mh_api *api, const char *project_id,
                                   const char *workflow_id, int version_or_0_for_latest,
                                   json_t **row_out)
{
    *row_out = NULL;
    if (!find_workflow(api, project_id, workflow_id, false, NULL))
        return false;
    char version[24];
    snprintf(version, sizeof(version), "%d", version_or_0_for_latest);
    const char *params[] = {project_id, workflow_id, version_or_0_for_latest > 0 ? version : NULL};
    json_t *rows = mh_api_query(api,
                                "SELECT id, workflow_id, version, to_json(published_at) AS "
                                "published_at, created_by, definition FROM workflow_versions "
                                "WHERE project_id = $1 AND workflow_id = $2 AND state = "
                                "'published' AND ($3::int IS NULL OR version = $3::int) ORDER "
                                "BY version DESC LIMIT 1",
                                3, params);
    if (rows == NULL)
        return false;
    json_t *row = json_array_get(rows, 0);
    if (row == NULL) {
        if (version_or_0_for_latest > 0)
            mh_http_respond_error(api->req, 404, "not_found", "version not found", NULL);
        else
            mh_http_respond_error(api->req, 409, "not_published",
                                  "the workflow has no published version; publish its draft "
                                  "first",
                                  NULL);
        return false;
    }
    *row_out = row;
    return true;
}

void mh_h_workflows_export(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *wf = NULL, *def = NULL, *version = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        !find_workflow(&api, pid, wid, false, &wf))
        goto out;
    const char *qv = mh_http_req_query(req, "version");
    if (qv) {
        long n = 0;
        json_t *row = NULL;
        if (!parse_version(qv, &n)) {
            mh_http_respond_error(req, 422, "invalid", "version must be a positive integer",
                                  "?version");
            goto out;
        }
        if (!mh_h_workflow_version_for_run(&api, pid, wid, (int)n, &row))
            goto out;
        def = json_object_get(row, "definition");
        version = json_object_get(row, "version");
    } else {
        /* The draft is what the editor shows; without one, the latest version. */
        const char *params[] = {pid, wid};
        json_t *rows = mh_api_query(&api,
                                    "SELECT definition, version FROM workflow_versions WHERE "
                                    "project_id = $1 AND workflow_id = $2 AND state IN "
                                    "('draft', 'published') ORDER BY state = 'draft' DESC, "
                                    "version DESC NULLS LAST LIMIT 1",
                                    2, params);
        if (rows == NULL)
            goto out;
        json_t *row = json_array_get(rows, 0);
        if (row == NULL) {
            mh_http_respond_error(req, 409, "no_draft", "the workflow has no definition", NULL);
            goto out;
        }
        def = json_object_get(row, "definition");
        version = json_object_get(row, "version");
    }
    char disposition[96];
    snprintf(disposition, sizeof(disposition), "attachment; filename=\"workflow-%s.json\"", wid);
    mh_http_set_header(req, "Content-Disposition", disposition);
    mh_http_respond_json(req, 200,
                         json_pack("{s:i, s:O, s:O, s:O, s:O}", "meshhook_export", WF_EXPORT_FORMAT,
                                   "name", json_object_get(wf, "name"), "description",
                                   json_object_get(wf, "description"), "version",
                                   version ? version : json_null(), "definition", def));
out:
    mh_api_close(&api);
}
