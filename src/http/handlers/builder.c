/* SPDX-License-Identifier: MIT */
/*
 * What the workflow builder asks of the server beyond saving and publishing: the mapping preview
 * (a draft evaluated on a sample trigger by the engine's own decision function, in memory, with
 * no side effect), the as-you-type syntax check of a JMESPath expression or template, and the
 * starter templates shipped inside the binary (the JSON files under templates/, embedded at build
 * time like the migrations).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/mem.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "secrets/secrets.h"

/* The generated table of the files under templates/ (scripts/embed-files.sh). */
struct mh_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct mh_embedded_file mh_workflow_template_files[];
extern const size_t mh_workflow_template_files_count;

static void respond_bad_sample(struct mh_http_req *req, const json_error_t *jerr);
static json_t *pasted_trigger(struct mh_api *api, json_t *t);
static json_t *delivery_trigger(struct mh_api *api, const char *pid, const char *wid,
                                json_t *delivery_id, json_t **extra_out);
static json_t *template_get(const struct mh_embedded_file *f);

/* 422 for a pasted sample that is not JSON, with where the parser stopped. */
static void respond_bad_sample(struct mh_http_req *req, const json_error_t *jerr)
{
    char msg[320];
    snprintf(msg, sizeof(msg), "the sample body is not JSON: %s (line %d, column %d)", jerr->text,
             jerr->line, jerr->column);
    json_t *err = json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "code", "invalid", "message", msg,
                            "path", "/trigger/body_text", "line", jerr->line, "column",
                            jerr->column, "offset", jerr->position);
    mh_http_respond_json(req, 422,
                         json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(req)));
}

/*
 * The trigger of a pasted sample, {"body"? | "body_text"?, "headers"?, "query"?}: `body` is any
 * JSON value, `body_text` the same as text (what the user pasted, parsed here so that a paste
 * that is not JSON gets its position back). Header names are lowercased, as the intake records
 * them. A new reference, or NULL after answering 422.
 */
static json_t *pasted_trigger(struct mh_api *api, json_t *t)
{
    static const char *const fields[] = {"body", "body_text", "headers", "query", NULL};
    if (!json_is_object(t)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'trigger' must be an object {\"body\", \"headers\", \"query\"}",
                              "/trigger");
        return NULL;
    }
    const char *name;
    json_t *v;
    json_object_foreach(t, name, v)
    {
        bool is_known = false;
        for (size_t i = 0; fields[i]; i++)
            is_known = is_known || strcmp(fields[i], name) == 0;
        if (!is_known) {
            char path[96], msg[160];
            snprintf(path, sizeof(path), "/trigger/%.64s", name);
            snprintf(msg, sizeof(msg),
                     "unknown member '%.64s': a sample trigger has body (or body_text), headers "
                     "and query",
                     name);
            mh_http_respond_error(api->req, 422, "invalid", msg, path);
            return NULL;
        }
    }
    json_t *body = json_object_get(t, "body");
    json_t *text = json_object_get(t, "body_text");
    json_t *headers = json_object_get(t, "headers");
    json_t *query = json_object_get(t, "query");
    if (body && text) {
        mh_http_respond_error(api->req, 422, "invalid", "give 'body' or 'body_text', not both",
                              "/trigger/body_text");
        return NULL;
    }
    if (text && !json_is_string(text)) {
        mh_http_respond_error(api->req, 422, "invalid", "'body_text' must be a string holding JSON",
                              "/trigger/body_text");
        return NULL;
    }
    if (headers && !json_is_object(headers)) {
        mh_http_respond_error(api->req, 422, "invalid", "'headers' must be an object of strings",
                              "/trigger/headers");
        return NULL;
    }
    if (query && !json_is_object(query)) {
        mh_http_respond_error(api->req, 422, "invalid", "'query' must be an object",
                              "/trigger/query");
        return NULL;
    }
    json_t *lower = json_object();
    json_object_foreach(headers, name, v)
    {
        if (!json_is_string(v)) {
            char path[96];
            snprintf(path, sizeof(path), "/trigger/headers/%.64s", name);
            mh_http_respond_error(api->req, 422, "invalid", "header values must be strings", path);
            json_decref(lower);
            return NULL;
        }
        char key[256];
        snprintf(key, sizeof(key), "%s", name);
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        json_object_set(lower, key, v);
    }
    json_t *parsed = NULL;
    if (text) {
        json_error_t jerr;
        parsed = json_loadb(json_string_value(text), json_string_length(text),
                            JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (parsed == NULL) {
            respond_bad_sample(api->req, &jerr);
            json_decref(lower);
            return NULL;
        }
    }
    return json_pack("{s:o, s:o, s:o}", "body",
                     parsed ? parsed
                     : body ? json_incref(body)
                            : json_object(),
                     "headers", lower, "query", query ? json_incref(query) : json_object());
}

/*
 * The trigger an accepted delivery to one of the workflow's endpoints recorded (its run's first
 * event): a new reference, or NULL after answering 422 with path /delivery_id. *extra_out
 * receives what the event recorded beside it ({"delivery": ...}, borrowed from the request):
 * a JSON body is kept there as the raw bytes, which the engine's fold parses.
 */
static json_t *delivery_trigger(struct mh_api *api, const char *pid, const char *wid,
                                json_t *delivery_id, json_t **extra_out)
{
    *extra_out = NULL;
    const char *did = json_string_value(delivery_id);
    if (did == NULL || !mh_api_is_uuid(did)) {
        mh_http_respond_error(api->req, 422, "invalid", "'delivery_id' must be a delivery's id",
                              "/delivery_id");
        return NULL;
    }
    const char *params[] = {pid, did, wid};
    json_t *rows = mh_api_query(api,
                                "SELECT d.outcome, d.reason, e.payload->'trigger' AS trigger, "
                                "jsonb_build_object('delivery', e.payload->'delivery') AS extra "
                                "FROM webhook_deliveries d JOIN webhook_endpoints n ON n.id = "
                                "d.endpoint_id AND n.project_id = d.project_id LEFT JOIN events "
                                "e ON e.run_id = d.run_id AND e.seq = 1 WHERE d.project_id = $1 "
                                "AND d.id = $2 AND n.workflow_id = $3",
                                3, params);
    if (rows == NULL)
        return NULL;
    json_t *row = json_array_get(rows, 0);
    if (row == NULL) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "no delivery with this id was received by this workflow's "
                              "endpoints",
                              "/delivery_id");
        return NULL;
    }
    json_t *trigger = json_object_get(row, "trigger");
    if (!json_is_object(trigger)) {
        char msg[320];
        const char *reason = json_string_value(json_object_get(row, "reason"));
        snprintf(msg, sizeof(msg),
                 "this delivery was %s%s%s and started no run, so it recorded no trigger to "
                 "preview; pick an accepted one",
                 json_string_value(json_object_get(row, "outcome")), reason ? ": " : "",
                 reason ? reason : "");
        mh_http_respond_error(api->req, 422, "invalid", msg, "/delivery_id");
        return NULL;
    }
    json_t *extra = json_object_get(row, "extra");
    if (json_is_object(json_object_get(extra, "delivery")))
        *extra_out = extra;
    return json_incref(trigger);
}

json_t *mh_h_workflow_draft(struct mh_api *api, const char *pid, const char *wid, json_t *body,
                            const char *action)
{
    json_t *def = NULL;
    const char *wparams[] = {pid, wid};
    json_t *row = mh_api_query_row(api, "workflow not found",
                                   "SELECT (SELECT v.definition FROM workflow_versions v WHERE "
                                   "v.workflow_id = w.id AND v.state = 'draft') AS draft FROM "
                                   "workflows w WHERE w.project_id = $1 AND w.id = $2 AND "
                                   "w.archived_at IS NULL",
                                   2, wparams);
    if (row == NULL || !mh_h_workflow_definition(api, body, "definition", &def))
        return NULL;
    if (def == NULL)
        def = json_object_get(row, "draft");
    if (!json_is_object(def)) {
        char msg[120];
        snprintf(msg, sizeof(msg), "the workflow has no draft; send a 'definition' to %s", action);
        mh_http_respond_error(api->req, 409, "no_draft", msg, NULL);
        return NULL;
    }
    return def;
}

/*
 * POST .../workflows/:wid/preview: the draft (or the given definition) evaluated on a sample
 * trigger by mh_engine_preview. Editors only: previewing is part of editing a workflow (the
 * role that may save and test-run the draft), and it evaluates recorded deliveries on demand.
 * Read-only: the transaction is rolled back, and nothing is sent.
 */
void mh_h_workflows_preview(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"trigger", "delivery_id", "definition", "stand_ins", NULL};
    json_t *def = NULL, *errors = NULL, *trigger = NULL, *result = NULL, *shown = NULL;
    struct mh_wf *wf = NULL;
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
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        (def = mh_h_workflow_draft(&api, pid, wid, body, "preview")) == NULL)
        goto out;
    json_t *sample = json_object_get(body, "trigger");
    json_t *delivery = json_object_get(body, "delivery_id");
    if ((sample == NULL) == (delivery == NULL)) {
        mh_http_respond_error(req, 422, "invalid",
                              "give a sample: either 'trigger' (pasted JSON) or 'delivery_id' "
                              "(a recorded delivery), not both",
                              sample ? "/delivery_id" : "/trigger");
        goto out;
    }
    if (mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        mh_api_respond_invalid_definition(&api, errors, "preview");
        goto out;
    }
    json_t *extra = NULL;
    trigger =
        sample ? pasted_trigger(&api, sample) : delivery_trigger(&api, pid, wid, delivery, &extra);
    if (trigger == NULL)
        goto out;
    json_t *stand_ins = json_object_get(body, "stand_ins");
    struct mh_engine_preview_in in = {
        .trigger = trigger,
        .extra = extra,
        .stand_ins = stand_ins,
        .workflow_id = wid,
        .now_ms = mh_clock_now_ms(),
    };
    enum mh_err rc = mh_engine_preview(wf, &in, &result, &api.info);
    if (rc == MH_EINVAL && strcmp(api.info.kind, "stand_ins") == 0) {
        char path[300];
        snprintf(path, sizeof(path), "/stand_ins%s", api.info.path);
        mh_http_respond_error(req, 422, "invalid", api.info.message, path);
        goto out;
    }
    bool redacted = false;
    if (rc == MH_OK)
        rc = mh_secrets_privacy_view(api.conn, pid, result, &shown, &redacted, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    json_object_set_new(shown, "redacted", json_boolean(redacted));
    mh_http_respond_json(req, 200, shown);
    shown = NULL;
out:
    json_decref(shown);
    json_decref(result);
    json_decref(trigger);
    json_decref(errors);
    mh_engine_wf_unref(wf);
    mh_api_close(&api);
}

/*
 * POST /api/expressions/check {"expression", "syntax"?: "jmespath" | "template"}: whether the
 * text compiles, for the editor to underline as the user types. 200 either way; the answer is
 * {"ok": true} or {"ok": false, "error": {"code", "message", "offset"}}.
 */
void mh_h_expressions_check(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"expression", "syntax", NULL};
    const char *syntax = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "syntax", false, 1, 16, &syntax))
        goto out;
    if (syntax && strcmp(syntax, "jmespath") != 0 && strcmp(syntax, "template") != 0 &&
        strcmp(syntax, "url_template") != 0) {
        mh_http_respond_error(req, 422, "invalid",
                              "'syntax' must be \"jmespath\", \"template\" or \"url_template\"",
                              "/syntax");
        goto out;
    }
    json_t *expr = json_object_get(body, "expression");
    if (!json_is_string(expr)) {
        mh_http_respond_error(req, 422, "invalid", "'expression' must be a string", "/expression");
        goto out;
    }
    if (strlen(json_string_value(expr)) != json_string_length(expr)) {
        mh_http_respond_error(req, 422, "invalid", "'expression' may not contain NUL characters",
                              "/expression");
        goto out;
    }
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool is_url = syntax && strcmp(syntax, "url_template") == 0;
    bool is_template = is_url || (syntax && strcmp(syntax, "template") == 0);
    enum mh_err rc = mh_engine_expr_check(json_string_value(expr), is_template, is_url, &info);
    if (rc == MH_ETOOBIG) {
        mh_http_respond_error(req, 413, "too_big", info.message, "/expression");
        goto out;
    }
    if (rc == MH_OK) {
        mh_http_respond_json(req, 200, json_pack("{s:b}", "ok", true));
        goto out;
    }
    json_t *err = json_pack("{s:s, s:s}", "code", info.kind, "message", info.message);
    if (info.offset >= 0)
        json_object_set_new(err, "offset", json_integer(info.offset));
    mh_http_respond_json(req, 200, json_pack("{s:b, s:o}", "ok", false, "error", err));
out:
    mh_api_close(&api);
}

/* A template file parsed (new reference); a file that does not parse is a build defect. */
static json_t *template_get(const struct mh_embedded_file *f)
{
    json_error_t jerr;
    json_t *t = json_loadb((const char *)f->data, f->len, 0, &jerr);
    if (t == NULL)
        mh_panic("workflow template %s does not parse: %s at %d", f->name, jerr.text,
                 jerr.position);
    return t;
}

void mh_h_workflow_templates_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *list = json_array();
    for (size_t i = 0; i < mh_workflow_template_files_count; i++)
        json_array_append_new(list, template_get(&mh_workflow_template_files[i]));
    mh_http_respond_json(req, 200, json_pack("{s:o}", "templates", list));
    mh_api_close(&api);
}

void mh_h_workflow_templates_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *id = mh_http_req_param(req, "template_id");
    for (size_t i = 0; i < mh_workflow_template_files_count; i++) {
        json_t *t = template_get(&mh_workflow_template_files[i]);
        if (strcmp(json_string_value(json_object_get(t, "id")), id) == 0) {
            mh_http_respond_json(req, 200, t);
            goto out;
        }
        json_decref(t);
    }
    mh_http_respond_error(req, 404, "not_found", "no such workflow template", NULL);
out:
    mh_api_close(&api);
}
