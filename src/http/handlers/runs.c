/* SPDX-License-Identifier: MIT */
/*
 * Runs: start one on a published version (or test the draft), list and inspect them with their
 * step states and events, cancel, replay (verify the log and re-evaluate its pure steps), resume
 * from a step, and the dead-letter list with its replay. Starting is durable when the answer is
 * 202: the run, its first event and its job are committed before it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"
#include "engine/store.h"
#include "http/api.h"
#include "http/hub.h"
#include "http/handlers/handlers.h"
#include "redact/redact.h"

static json_t *now_rfc3339(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[40];
    size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, sizeof(buf) - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return json_string(buf);
}

/*
 * What of a run, an event, a replay report and a dead letter is recorded data, shown only
 * through the caller's privacy view (mh_api_show_members); ids, statuses and times are not.
 */
static const char *const run_data[] = {"output", "error", "state", NULL};
static const char *const event_data[] = {"payload", NULL};
static const char *const report_data[] = {"divergences", "errors", NULL};
static const char *const dead_letter_data[] = {"payload", "last_error", NULL};

/* Reads the trigger parts of a start/test request: payload, headers, query. */
static json_t *trigger_from(struct mh_api *api, json_t *body)
{
    json_t *payload = json_object_get(body, "payload");
    json_t *headers = json_object_get(body, "headers");
    json_t *query = json_object_get(body, "query");
    if (headers && !json_is_object(headers)) {
        mh_http_respond_error(api->req, 422, "invalid", "'headers' must be an object", "/headers");
        return NULL;
    }
    if (query && !json_is_object(query)) {
        mh_http_respond_error(api->req, 422, "invalid", "'query' must be an object", "/query");
        return NULL;
    }
    /* Credentials are not recorded, as the intake records none: a run needs no password. */
    json_t *kept = json_object();
    const char *name;
    json_t *value;
    json_object_foreach(headers, name, value)
    {
        json_object_set_new(kept, name,
                            mh_redact_header_is_secret(name) ? json_string(MH_REDACT_HEADER_MASK)
                                                             : json_incref(value));
    }
    return json_pack("{s:o, s:o, s:o, s:o}", "body", payload ? json_incref(payload) : json_object(),
                     "headers", kept, "query", query ? json_incref(query) : json_object(),
                     "received_at", now_rfc3339());
}

static bool start(struct mh_api *api, const char *pid, const char *wid, json_t *version,
                  json_t *trigger, bool is_test)
{
    struct mh_run_start s = {
        .project_id = pid,
        .workflow_id = wid,
        .version_id = json_string_value(json_object_get(version, "id")),
        .version = json_integer_value(json_object_get(version, "version")),
        .trigger = trigger,
        .is_test = is_test,
    };
    char run_id[37];
    enum mh_err rc = mh_engine_run_create(api->conn, &s, run_id, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &api->info);
        return false;
    }
    if (!mh_api_commit(api))
        return false;
    mh_engine_runtime_wake(api->app->runtime);
    mh_http_respond_json(api->req, 202,
                         json_pack("{s:s, s:b}", "run_id", run_id, "is_test", is_test));
    return true;
}

void mh_h_runs_start(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    long version = 0;
    static const char *const fields[] = {"payload", "headers", "query", "version", NULL};
    json_t *body = NULL, *trigger = NULL;
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !(body = mh_api_body(&api)) ||
        !mh_api_only_fields(&api, body, fields) ||
        !mh_api_int(&api, body, "version", 1, 1000000000, &version))
        goto out;
    if (!mh_api_is_uuid(wid)) {
        mh_http_respond_error(req, 404, "not_found", "workflow not found", NULL);
        goto out;
    }
    char vs[24];
    snprintf(vs, sizeof(vs), "%ld", version);
    const char *params[] = {wid, version ? vs : NULL};
    json_t *v = mh_api_query_row(&api, "workflow not found",
                                 "SELECT w.id AS workflow_id, v.id, v.version FROM workflows w "
                                 "LEFT JOIN LATERAL (SELECT id, version FROM workflow_versions "
                                 "WHERE workflow_id = w.id AND state = 'published' AND ($2::int "
                                 "IS NULL OR version = $2::int) ORDER BY version DESC LIMIT 1) v "
                                 "ON true WHERE w.id = $1 AND w.archived_at IS NULL",
                                 2, params);
    if (v == NULL)
        goto out;
    if (!json_is_string(json_object_get(v, "id"))) {
        mh_http_respond_error(req, 409, "not_published",
                              version ? "that version does not exist"
                                      : "the workflow has no published version: publish it, or "
                                        "start a test run of the draft",
                              version ? "/version" : NULL);
        goto out;
    }
    if ((trigger = trigger_from(&api, body)) != NULL)
        start(&api, pid, wid, v, trigger, false);
out:
    json_decref(trigger);
    mh_api_close(&api);
}

void mh_h_runs_test(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    static const char *const fields[] = {"payload", "headers", "query", NULL};
    json_t *body = NULL, *trigger = NULL, *errors = NULL;
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !(body = mh_api_body(&api)) ||
        !mh_api_only_fields(&api, body, fields))
        goto out;
    if (!mh_api_is_uuid(wid)) {
        mh_http_respond_error(req, 404, "not_found", "workflow not found", NULL);
        goto out;
    }
    const char *params[] = {wid, pid};
    json_t *draft = mh_api_query_row(&api, "the workflow has no draft to test",
                                     "SELECT v.definition FROM workflow_versions v JOIN "
                                     "workflows w ON w.id = v.workflow_id WHERE v.workflow_id = "
                                     "$1 AND v.state = 'draft' AND w.archived_at IS NULL",
                                     1, params);
    if (draft == NULL)
        goto out;
    if (mh_engine_wf_validate(json_object_get(draft, "definition"), &errors) != MH_OK) {
        mh_api_respond_invalid_definition(&api, errors, "test");
        goto out;
    }
    /* The draft is snapshotted as an immutable test version, so the run replays against what
     * it ran even after the draft changes. */
    char *def = json_dumps(json_object_get(draft, "definition"), JSON_COMPACT);
    const char *ip[] = {wid, pid, def};
    json_t *v = mh_api_query_row(&api, "workflow not found",
                                 "INSERT INTO workflow_versions (project_id, workflow_id, state, "
                                 "definition, created_by) VALUES ($2, $1, 'test', $3::jsonb, "
                                 "mh_uid()) RETURNING id, 0 AS version",
                                 3, ip);
    free(def);
    if (v && (trigger = trigger_from(&api, body)) != NULL)
        start(&api, pid, wid, v, trigger, true);
out:
    json_decref(errors);
    json_decref(trigger);
    mh_api_close(&api);
}

void mh_h_runs_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page))
        goto out;
    const char *wf = mh_http_req_query(req, "workflow_id");
    const char *status = mh_http_req_query(req, "status");
    const char *since = mh_http_req_query(req, "since");
    const char *until = mh_http_req_query(req, "until");
    if (wf && !mh_api_is_uuid(wf)) {
        mh_http_respond_error(req, 422, "invalid", "workflow_id must be a UUID", "?workflow_id");
        goto out;
    }
    if (status && strcmp(status, "queued") && strcmp(status, "running") &&
        strcmp(status, "succeeded") && strcmp(status, "failed") && strcmp(status, "canceled")) {
        mh_http_respond_error(req, 422, "invalid",
                              "status must be queued, running, succeeded, failed or canceled",
                              "?status");
        goto out;
    }
    const char *params[] = {pid, wf, status, since, until};
    mh_api_respond_list_shown(
        &api, &page, pid, run_data,
        "SELECT r.id, r.workflow_id, r.version, r.status, r.is_test, r.parent_run_id, "
        "to_json(r.created_at) AS created_at, to_json(r.started_at) AS started_at, "
        "to_json(r.finished_at) AS finished_at, r.error FROM runs r WHERE r.project_id = $1 "
        "AND ($7::timestamptz IS NULL OR (r.created_at, r.id) < ($7::timestamptz, $8::uuid)) "
        "AND ($2::uuid IS NULL OR r.workflow_id = $2::uuid) AND ($3::text IS NULL OR r.status = "
        "$3) AND ($4::timestamptz IS NULL OR r.created_at >= $4::timestamptz) AND "
        "($5::timestamptz IS NULL OR r.created_at < $5::timestamptz) "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT $6::int",
        5, params, "created_at", "id");
out:
    mh_api_close(&api);
}

/* The run row (borrowed from the arena) after the viewer check, or NULL after answering. */
static json_t *run_row(struct mh_api *api, const char *min_role)
{
    const char *pid = mh_http_req_param(api->req, "project_id");
    const char *rid = mh_http_req_param(api->req, "run_id");
    if (!mh_api_require_role(api, pid, min_role, NULL))
        return NULL;
    if (!mh_api_is_uuid(rid)) {
        mh_http_respond_error(api->req, 404, "not_found", "run not found", NULL);
        return NULL;
    }
    const char *params[] = {rid, pid};
    return mh_api_query_row(
        api, "run not found",
        "SELECT id, workflow_id, version, status, is_test, parent_run_id, resumed_from_node, "
        "to_json(created_at) AS created_at, to_json(started_at) AS started_at, "
        "to_json(finished_at) AS finished_at, output, error, last_seq FROM runs WHERE id = $1 AND "
        "project_id = $2",
        2, params);
}

void mh_h_runs_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_wf *wf = NULL;
    struct mh_event *events = NULL;
    struct mh_run_state *st = NULL;
    size_t n = 0;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "viewer");
    if (run == NULL)
        goto out;
    const char *rid = json_string_value(json_object_get(run, "id"));
    enum mh_err rc = mh_engine_run_workflow(api.conn, rid, &wf, &api.info);
    if (rc == MH_OK)
        rc = mh_engine_events_load(api.conn, rid, &events, &n, &api.info);
    if (rc == MH_OK)
        rc = mh_engine_fold(wf, events, n, &st, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    json_t *outv = json_deep_copy(run);
    json_object_set_new(outv, "state", mh_engine_state_to_json(st));
    /* What the run console draws and links: the definition the run executed (a test run's
     * snapshot too, which no versions URL names) and the delivery that started it. */
    const char *dp[] = {rid};
    json_t *more = mh_api_query_row(&api, "run not found",
                                    "SELECT v.definition, r.delivery_id, d.endpoint_id FROM runs "
                                    "r JOIN workflow_versions v ON v.id = r.version_id LEFT JOIN "
                                    "webhook_deliveries d ON d.id = r.delivery_id WHERE r.id = $1",
                                    1, dp);
    if (more == NULL) {
        json_decref(outv);
        goto out;
    }
    json_object_update(outv, more);
    if (!mh_api_show_members(&api, mh_http_req_param(req, "project_id"), outv, run_data)) {
        json_decref(outv);
        goto out;
    }
    json_object_set_new(outv, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, outv);
out:
    mh_engine_state_destroy(st);
    mh_engine_events_free(events, n);
    mh_engine_wf_unref(wf);
    mh_api_close(&api);
}

void mh_h_runs_events(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "viewer");
    if (run == NULL)
        goto out;
    const char *after = mh_http_req_query(req, "after_seq");
    const char *limit = mh_http_req_query(req, "limit");
    char *end = NULL;
    long a = after ? strtol(after, &end, 10) : 0;
    if (after && (end == after || *end || a < 0)) {
        mh_http_respond_error(req, 422, "invalid", "after_seq must be a number", "?after_seq");
        goto out;
    }
    long l = limit ? strtol(limit, &end, 10) : 500;
    if (limit && (end == limit || *end || l < 1 || l > 1000)) {
        mh_http_respond_error(req, 422, "invalid", "limit must be from 1 to 1000", "?limit");
        goto out;
    }
    char as[24], ls[24];
    snprintf(as, sizeof(as), "%ld", a);
    snprintf(ls, sizeof(ls), "%ld", l);
    const char *params[] = {json_string_value(json_object_get(run, "id")), as, ls};
    json_t *rows = mh_api_query(&api,
                                "SELECT seq, type, node_id, attempt, payload, to_json(at) AS at, "
                                "encode(hash, 'hex') AS hash FROM events WHERE run_id = $1 AND "
                                "seq > $2::int ORDER BY seq LIMIT $3::int",
                                3, params);
    if (rows == NULL)
        goto out;
    /* Members without pii:read see the payloads through the project's redaction rules; the
     * log itself keeps what determinism needs. */
    if (!mh_api_show_members(&api, mh_http_req_param(req, "project_id"), rows, event_data))
        goto out;
    mh_http_respond_json(
        req, 200, json_pack("{s:O, s:b}", "events", rows, "redacted", mh_api_is_redacting(&api)));
out:
    mh_api_close(&api);
}

/* A non-negative integer in `s`, or -1. */
static long long parse_seq(const char *s)
{
    char *end = NULL;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    long long v = strtoll(s, &end, 10);
    return *end || v > 2147483647LL ? -1 : v;
}

void mh_h_runs_stream(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "viewer");
    if (run == NULL)
        goto out;
    /* EventSource sends Last-Event-ID when it reconnects, to the URL it first opened: the
     * header, newer, wins over ?after_seq. */
    const char *last = mh_http_req_header(req, "Last-Event-ID");
    const char *after = mh_http_req_query(req, "after_seq");
    long long from = 0;
    if (last && (from = parse_seq(last)) < 0) {
        mh_http_respond_error(req, 422, "invalid", "Last-Event-ID must be an event's seq",
                              "Last-Event-ID");
        goto out;
    }
    if (!last && after && (from = parse_seq(after)) < 0) {
        mh_http_respond_error(req, 422, "invalid", "after_seq must be a number", "?after_seq");
        goto out;
    }
    const char *pid = mh_http_req_param(req, "project_id");
    struct mh_privacy_view *view = mh_api_privacy_steal(&api, pid);
    if (view == NULL)
        goto out;
    mh_http_hub_subscribe_run(api.app->hub, req, pid, json_string_value(json_object_get(run, "id")),
                              api.who.user_id, view, from);
out:
    mh_api_close(&api);
}

void mh_h_runs_cancel(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "editor");
    if (run == NULL)
        goto out;
    const char *status = json_string_value(json_object_get(run, "status"));
    if (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0) {
        mh_http_respond_error(req, 409, "conflict", "the run has already finished", NULL);
        goto out;
    }
    const char *rid = json_string_value(json_object_get(run, "id"));
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_audit(&api, pid, "run.cancel", rid, NULL) || !mh_api_commit(&api))
        goto out;
    if (mh_engine_runtime_cancel(api.app->runtime, pid, rid, "canceled through the API") != MH_OK) {
        mh_http_respond_error(req, 503, "unavailable",
                              "this instance runs no workers; cancel through another", NULL);
        goto out;
    }
    mh_http_respond_json(req, 202, json_pack("{s:s, s:s}", "run_id", rid, "status", "canceling"));
out:
    mh_api_close(&api);
}

void mh_h_runs_replay(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *report = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "viewer");
    if (run == NULL)
        goto out;
    enum mh_err rc = mh_engine_run_replay(api.conn, json_string_value(json_object_get(run, "id")),
                                          &report, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    /* The report quotes recorded and recomputed values: recorded data like any other. */
    if (!mh_api_show_members(&api, mh_http_req_param(req, "project_id"), report, report_data))
        goto out;
    json_object_set_new(report, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, report);
    report = NULL;
out:
    json_decref(report);
    mh_api_close(&api);
}

static bool resume(struct mh_api *api, const char *pid, const char *rid, const char *node,
                   bool on_latest, const char *dead_letter_id)
{
    char new_id[37];
    enum mh_err rc = mh_engine_run_resume_on(api->conn, rid, node, on_latest, new_id, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &api->info);
        return false;
    }
    json_t *detail = json_pack("{s:s, s:s, s:s}", "from_node", node, "new_run_id", new_id, "on",
                               on_latest ? "latest" : "same");
    bool ok =
        mh_api_audit(api, pid, dead_letter_id ? "dead_letter.replay" : "run.resume", rid, detail);
    json_decref(detail);
    if (ok && dead_letter_id) {
        const char *params[] = {dead_letter_id};
        ok = mh_api_query(api, "UPDATE dead_letters SET replayed_at = now() WHERE id = $1", 1,
                          params) != NULL;
    }
    if (!ok || !mh_api_commit(api))
        return false;
    mh_engine_runtime_wake(api->app->runtime);
    mh_http_respond_json(
        api->req, 202,
        json_pack("{s:s, s:s, s:s}", "run_id", new_id, "resumed_from", rid, "from_node", node));
    return true;
}

void mh_h_runs_resume(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "editor");
    json_t *body = NULL;
    const char *node = NULL, *which = NULL;
    static const char *const fields[] = {"from_node", "version", NULL};
    if (run == NULL || !(body = mh_api_body(&api)) || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "from_node", true, 1, 64, &node) ||
        !mh_api_string(&api, body, "version", false, 1, 16, &which))
        goto out;
    bool latest = which != NULL && strcmp(which, "latest") == 0;
    if (which != NULL && !latest && strcmp(which, "same") != 0) {
        mh_http_respond_error(req, 422, "invalid", "'version' must be \"same\" or \"latest\"",
                              "/version");
        goto out;
    }
    resume(&api, mh_http_req_param(req, "project_id"),
           json_string_value(json_object_get(run, "id")), node, latest, NULL);
out:
    mh_api_close(&api);
}

/*
 * Re-run: a new run with the same trigger (the run_started event's trigger and delivery record,
 * so a webhook's exact bytes and verifying key come along), on the version the original ran, or
 * on the workflow's latest published version with {"version": "latest"}. Linked to the original
 * through parent_run_id (without a resumed-from step) and audited as run.rerun.
 */
void mh_h_runs_rerun(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *run = run_row(&api, "editor");
    json_t *body = NULL, *extra = NULL;
    const char *which = NULL;
    static const char *const fields[] = {"version", NULL};
    if (run == NULL || !(body = mh_api_body(&api)) || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "version", false, 1, 16, &which))
        goto out;
    bool latest = which != NULL && strcmp(which, "latest") == 0;
    if (which != NULL && !latest && strcmp(which, "same") != 0) {
        mh_http_respond_error(req, 422, "invalid", "'version' must be \"same\" or \"latest\"",
                              "/version");
        goto out;
    }
    const char *pid = mh_http_req_param(req, "project_id");
    const char *rid = json_string_value(json_object_get(run, "id"));
    const char *rp[] = {rid};
    json_t *first =
        mh_api_query_row(&api, "run not found",
                         "SELECT e.payload, r.version_id, r.version, r.is_test, r.workflow_id "
                         "FROM runs r JOIN events e ON e.run_id = r.id AND e.seq = 1 WHERE "
                         "r.id = $1",
                         1, rp);
    if (first == NULL)
        goto out;
    json_t *payload = json_object_get(first, "payload");
    json_t *trigger = json_object_get(payload, "trigger");
    if (!json_is_object(trigger)) {
        mh_http_respond_error(req, 409, "conflict", "the run holds no trigger to run again", NULL);
        goto out;
    }
    json_t *target = first;
    if (latest) {
        const char *wp[] = {json_string_value(json_object_get(first, "workflow_id"))};
        target = mh_api_query_row(&api, "workflow not found",
                                  "SELECT v.id AS version_id, v.version, false AS is_test FROM "
                                  "workflows w LEFT JOIN LATERAL (SELECT id, version FROM "
                                  "workflow_versions WHERE workflow_id = w.id AND state = "
                                  "'published' ORDER BY version DESC LIMIT 1) v ON true WHERE "
                                  "w.id = $1 AND w.archived_at IS NULL",
                                  1, wp);
        if (target == NULL)
            goto out;
        if (!json_is_string(json_object_get(target, "version_id"))) {
            mh_http_respond_error(req, 409, "not_published",
                                  "the workflow has no published version", "/version");
            goto out;
        }
    }
    /* Everything run_started recorded outside the node context (the delivery's bytes and key)
     * comes along; the members run_create writes itself are its own. */
    extra = json_deep_copy(payload);
    static const char *const own[] = {"run_id",  "workflow_id", "version",
                                      "is_test", "trigger",     "rerun_of"};
    for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
        json_object_del(extra, own[i]);
    json_object_set_new(extra, "rerun_of", json_string(rid));
    struct mh_run_start s = {
        .project_id = pid,
        .workflow_id = json_string_value(json_object_get(first, "workflow_id")),
        .version_id = json_string_value(json_object_get(target, "version_id")),
        .version = json_integer_value(json_object_get(target, "version")),
        .trigger = trigger,
        .extra = extra,
        .is_test = json_is_true(json_object_get(target, "is_test")),
        .parent_run_id = rid,
    };
    char new_id[37];
    enum mh_err rc = mh_engine_run_create(api.conn, &s, new_id, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    json_t *detail = json_pack("{s:s, s:s, s:I}", "new_run_id", new_id, "on",
                               latest ? "latest" : "same", "version", (json_int_t)s.version);
    bool ok = mh_api_audit(&api, pid, "run.rerun", rid, detail) && mh_api_commit(&api);
    json_decref(detail);
    if (!ok)
        goto out;
    mh_engine_runtime_wake(api.app->runtime);
    mh_http_respond_json(
        req, 202,
        json_pack("{s:s, s:s, s:b}", "run_id", new_id, "rerun_of", rid, "is_test", s.is_test));
out:
    json_decref(extra);
    mh_api_close(&api);
}

void mh_h_dead_letters_list(struct mh_http_req *req, void *app)
{
    mh_api_list_in_project_shown(
        req, app, "viewer",
        "SELECT d.id, d.run_id, d.kind, d.payload, d.attempts, d.last_error, "
        "to_json(d.failed_at) AS failed_at, to_json(d.replayed_at) AS replayed_at FROM "
        "dead_letters d WHERE d.project_id = $1 AND ($3::timestamptz IS NULL OR (d.failed_at, "
        "d.id) < ($3::timestamptz, $4::uuid)) ORDER BY d.failed_at DESC, d.id DESC LIMIT $2::int",
        "failed_at", "id", dead_letter_data);
}

void mh_h_dead_letters_replay(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *id = mh_http_req_param(req, "dead_letter_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    if (!mh_api_is_uuid(id)) {
        mh_http_respond_error(req, 404, "not_found", "dead letter not found", NULL);
        goto out;
    }
    const char *params[] = {id, pid};
    json_t *dl = mh_api_query_row(&api, "dead letter not found",
                                  "SELECT run_id, payload->>'node' AS node FROM dead_letters "
                                  "WHERE id = $1 AND project_id = $2 FOR UPDATE",
                                  2, params);
    if (dl == NULL)
        goto out;
    const char *rid = json_string_value(json_object_get(dl, "run_id"));
    const char *node = json_string_value(json_object_get(dl, "node"));
    if (rid == NULL || node == NULL) {
        mh_http_respond_error(req, 409, "conflict", "this dead letter names no step to resume",
                              NULL);
        goto out;
    }
    resume(&api, pid, rid, node, false, id);
out:
    mh_api_close(&api);
}
