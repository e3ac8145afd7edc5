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

#include "db/db.h"
#include "engine/engine.h"
#include "runtime/store.h"
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
const char *const *const mh_h_run_data = run_data;
static const char *const event_data[] = {"payload", NULL};
static const char *const report_data[] = {"divergences", "errors", NULL};
static const char *const dead_letter_data[] = {"payload", "last_error", NULL};
const char *const *const mh_h_dead_letter_data = dead_letter_data;

/* The columns of a list item (runs r, dead_letters d); the project feed shows the same. A
 * run a schedule started names it: run_started records the tick (one primary-key lookup in the
 * run's partition of the events). */
#define RUN_SUMMARY_COLS                                                                           \
    "r.id, r.workflow_id, r.version, r.status, r.is_test, r.parent_run_id, r.delivery_id, "        \
    "(SELECT e.payload->'schedule'->>'id' FROM events e WHERE e.run_id = r.id AND "                \
    "e.seq = 1 AND e.run_created_at = r.created_at) AS schedule_id, "                              \
    "to_json(r.created_at) AS created_at, to_json(r.started_at) AS started_at, "                   \
    "to_json(r.finished_at) AS finished_at, r.error"
/* A dead letter with its run's workflow and the failed node beside the recorded data. */
#define DEAD_LETTER_COLS                                                                           \
    "d.id, d.run_id, (SELECT r.workflow_id FROM runs r WHERE r.id = d.run_id) AS workflow_id, "    \
    "d.kind, d.payload->>'node' AS node, d.payload, d.attempts, d.last_error, "                    \
    "to_json(d.failed_at) AS failed_at, to_json(d.replayed_at) AS replayed_at, "                   \
    "d.replayed_run_id, to_json(d.dismissed_at) AS dismissed_at"
const char *const mh_h_run_summary_cols = RUN_SUMMARY_COLS;
const char *const mh_h_dead_letter_cols = DEAD_LETTER_COLS;

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
    static const char *const statuses[] = {"queued", "running",  "succeeded",
                                           "failed", "canceled", NULL};
    static const char *const tests[] = {"only", "exclude", NULL};
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wf, *status, *since, *until, *endpoint, *test, *delivery;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page) ||
        !mh_api_query_uuid(&api, "workflow_id", &wf) ||
        !mh_api_query_enum(&api, "status", statuses, &status) ||
        !mh_api_query_time(&api, "since", &since) || !mh_api_query_time(&api, "until", &until) ||
        !mh_api_query_uuid(&api, "endpoint_id", &endpoint) ||
        !mh_api_query_enum(&api, "test", tests, &test) ||
        !mh_api_query_uuid(&api, "delivery_id", &delivery))
        goto out;
    /* A delivery names its run (the one it started, or the one its idempotency key matched);
     * an endpoint's runs are those its deliveries started and their resumptions, which carry
     * the delivery on. Both go through webhook_deliveries' primary key. */
    const char *params[] = {pid, wf, status, since, until, endpoint, test, delivery};
    mh_api_respond_list_shown(
        &api, &page, pid, run_data,
        "SELECT " RUN_SUMMARY_COLS " FROM runs r WHERE r.project_id = $1 "
        "AND ($10::timestamptz IS NULL OR (r.created_at, r.id) < ($10::timestamptz, $11::uuid)) "
        "AND ($2::uuid IS NULL OR r.workflow_id = $2::uuid) AND ($3::text IS NULL OR r.status = "
        "$3) AND ($4::timestamptz IS NULL OR r.created_at >= $4::timestamptz) AND "
        "($5::timestamptz IS NULL OR r.created_at < $5::timestamptz) AND ($6::uuid IS NULL OR "
        "EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.id = r.delivery_id AND "
        "d.endpoint_id = $6::uuid)) AND ($7::text IS NULL OR r.is_test = ($7 = 'only')) AND "
        "($8::uuid IS NULL OR r.id = (SELECT d.run_id FROM webhook_deliveries d WHERE d.id = "
        "$8::uuid AND d.project_id = $1)) "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT $9::int",
        8, params, "created_at", "id");
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
    /* Sub-workflows link both ways: the run and step that called this run, if any (null once
     * that run is gone), and the child runs its call_workflow steps started. */
    json_t *more = mh_api_query_row(
        &api, "run not found",
        "SELECT v.definition, r.delivery_id, d.endpoint_id, CASE WHEN p.id IS NULL THEN NULL ELSE "
        "json_build_object('run_id', p.id, 'step', r.caller_step, 'workflow_id', p.workflow_id, "
        "'status', p.status) END AS parent, coalesce((SELECT json_agg(json_build_object('run_id', "
        "c.id, 'step', c.caller_step, 'workflow_id', c.workflow_id, 'version', c.version, "
        "'status', c.status) ORDER BY c.created_at, c.id) FROM runs c WHERE c.caller_run_id = "
        "r.id), '[]') AS children FROM runs r JOIN workflow_versions v ON v.id = r.version_id "
        "LEFT JOIN webhook_deliveries d ON d.id = r.delivery_id LEFT JOIN runs p ON p.id = "
        "r.caller_run_id WHERE r.id = $1",
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

void mh_h_project_stream(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL))
        goto out;
    const char *cursor = mh_http_req_header(req, "Last-Event-ID");
    if (cursor == NULL)
        cursor = mh_http_req_query(req, "after");
    unsigned long long now_xid = 0;
    if (cursor == NULL) {
        /* "Now": the transactions still running may yet commit rows, and will be shown. */
        json_t *row =
            mh_api_query_row(&api, "project not found",
                             "SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS x", 0, NULL);
        if (row == NULL)
            goto out;
        now_xid = strtoull(json_string_value(json_object_get(row, "x")), NULL, 10);
    }
    struct mh_privacy_view *view = mh_api_privacy_steal(&api, pid);
    if (view == NULL)
        goto out;
    mh_http_hub_subscribe_feed(api.app->hub, req, pid, api.who.user_id, view, cursor, now_xid);
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
    /* Durable: the request is in the run's row when this answers, whichever instance runs the
     * workers and whatever happens to this one. */
    enum mh_err rc =
        mh_engine_run_cancel_request(api.conn, rid, "canceled through the API", &api.info);
    if (rc == MH_ECONFLICT) {
        mh_http_respond_error(req, 409, "conflict", "the run has already finished", NULL);
        goto out;
    }
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    if (!mh_api_audit(&api, pid, "run.cancel", rid, NULL) || !mh_api_commit(&api))
        goto out;
    mh_engine_runtime_wake(api.app->runtime);
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
                   bool on_latest)
{
    char new_id[37];
    enum mh_err rc = mh_engine_run_resume_on(api->conn, rid, node, on_latest, new_id, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &api->info);
        return false;
    }
    json_t *detail = json_pack("{s:s, s:s, s:s}", "from_node", node, "new_run_id", new_id, "on",
                               on_latest ? "latest" : "same");
    bool ok = mh_api_audit(api, pid, "run.resume", rid, detail);
    json_decref(detail);
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
           json_string_value(json_object_get(run, "id")), node, latest);
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

/* ---- Dead letters ------------------------------------------------------------------------- */

/* The most dead letters one bulk request re-drives or dismisses. */
#define DEAD_LETTER_BATCH_MAX 100

void mh_h_dead_letters_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    static const char *const states[] = {"open", "replayed", "dismissed", NULL};
    static const char *const kinds[] = {"step", "advance", NULL};
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wf, *state, *since, *until, *kind;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page) ||
        !mh_api_query_uuid(&api, "workflow_id", &wf) ||
        !mh_api_query_enum(&api, "state", states, &state) ||
        !mh_api_query_time(&api, "since", &since) || !mh_api_query_time(&api, "until", &until) ||
        !mh_api_query_enum(&api, "kind", kinds, &kind))
        goto out;
    const char *node = mh_http_req_query(req, "node");
    if (node && !node[0])
        node = NULL;
    if (node && strlen(node) > 64) {
        mh_http_respond_error(req, 422, "invalid", "node must be a node id (1 to 64 characters)",
                              "?node");
        goto out;
    }
    const char *params[] = {pid, wf, state, since, until, kind, node};
    mh_api_respond_list_shown(
        &api, &page, pid, dead_letter_data,
        "SELECT " DEAD_LETTER_COLS " FROM dead_letters d "
        "WHERE d.project_id = $1 AND ($9::timestamptz IS NULL OR (d.failed_at, d.id) < "
        "($9::timestamptz, $10::uuid)) AND ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM runs r "
        "WHERE r.id = d.run_id AND r.workflow_id = $2::uuid)) AND "
        "($3::text IS NULL OR CASE $3 WHEN 'open' THEN d.replayed_at IS NULL AND d.dismissed_at "
        "IS NULL WHEN 'replayed' THEN d.replayed_at IS NOT NULL ELSE d.dismissed_at IS NOT NULL "
        "END) AND ($4::timestamptz IS NULL OR d.failed_at >= $4::timestamptz) AND "
        "($5::timestamptz IS NULL OR d.failed_at < $5::timestamptz) AND ($6::text IS NULL OR "
        "d.kind = $6) AND ($7::text IS NULL OR d.payload->>'node' = $7) "
        "ORDER BY d.failed_at DESC, d.id DESC LIMIT $8::int",
        7, params, "failed_at", "id");
out:
    mh_api_close(&api);
}

void mh_h_dead_letters_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *id = mh_http_req_param(req, "dead_letter_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL))
        goto out;
    if (!mh_api_is_uuid(id)) {
        mh_http_respond_error(req, 404, "not_found", "dead letter not found", NULL);
        goto out;
    }
    const char *params[] = {id, pid};
    json_t *dl =
        mh_api_query_row(&api, "dead letter not found",
                         "SELECT " DEAD_LETTER_COLS " FROM dead_letters d WHERE d.id = $1 AND "
                         "d.project_id = $2",
                         2, params);
    if (dl == NULL || !mh_api_show_members(&api, pid, dl, dead_letter_data))
        goto out;
    json_t *outv = json_deep_copy(dl);
    json_object_set_new(outv, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, outv);
out:
    mh_api_close(&api);
}

/* One dead letter's result in a bulk answer. */
static json_t *item_result(const char *id, int status, const char *code, const char *message)
{
    return json_pack("{s:s, s:i, s:{s:s, s:s}}", "id", id, "status", status, "error", "code", code,
                     "message", message);
}

/* The status and code a refusal of the engine answers with (never a database error's). */
static json_t *item_refused(const char *id, enum mh_err rc, const struct mh_err_info *info)
{
    const char *msg = info->message[0] ? info->message : mh_strerror(rc);
    switch (rc) {
    case MH_ENOTFOUND: return item_result(id, 404, "not_found", msg);
    case MH_ECONFLICT: return item_result(id, 409, "conflict", msg);
    default: return item_result(id, 422, "invalid", msg);
    }
}

/*
 * Re-drives dead letter `id` in the request's transaction: resumes its run from the failed
 * step in a new run, audits it and marks the dead letter replayed. A refusal (unknown, already
 * re-driven, dismissed, nothing to resume) is the item's result and changes nothing; NULL after
 * answering a failure of the database, which ends the whole request.
 */
static json_t *redrive(struct mh_api *api, const char *pid, const char *id)
{
    if (!mh_api_is_uuid(id))
        return item_result(id, 404, "not_found", "dead letter not found");
    const char *params[] = {id, pid};
    json_t *rows = mh_api_query(api,
                                "SELECT run_id, payload->>'node' AS node, replayed_at IS NOT NULL "
                                "AS replayed, dismissed_at IS NOT NULL AS dismissed FROM "
                                "dead_letters WHERE id = $1 AND project_id = $2 FOR UPDATE",
                                2, params);
    if (rows == NULL)
        return NULL;
    json_t *dl = json_array_get(rows, 0);
    if (dl == NULL)
        return item_result(id, 404, "not_found", "dead letter not found");
    const char *rid = json_string_value(json_object_get(dl, "run_id"));
    const char *node = json_string_value(json_object_get(dl, "node"));
    if (json_is_true(json_object_get(dl, "replayed")))
        return item_result(id, 409, "already_replayed",
                           "this dead letter was already re-driven: its new run is linked");
    if (json_is_true(json_object_get(dl, "dismissed")))
        return item_result(id, 409, "dismissed", "this dead letter is dismissed: restore it first");
    if (rid == NULL || node == NULL)
        return item_result(id, 409, "conflict", "this dead letter names no step to resume");
    if (mh_api_query(api, "SAVEPOINT redrive", 0, NULL) == NULL)
        return NULL;
    char new_id[37];
    enum mh_err rc = mh_engine_run_resume(api->conn, rid, node, new_id, &api->info);
    if (rc != MH_OK) {
        if (mh_db_err_is_db(&api->info)) {
            mh_http_respond_err(api->req, rc, &api->info);
            return NULL;
        }
        struct mh_err_info why = api->info;
        if (mh_api_query(api, "ROLLBACK TO SAVEPOINT redrive", 0, NULL) == NULL)
            return NULL;
        return item_refused(id, rc, &why);
    }
    json_t *detail =
        json_pack("{s:s, s:s, s:s}", "run_id", rid, "from_node", node, "new_run_id", new_id);
    bool ok = mh_api_audit(api, pid, "dead_letter.replay", id, detail);
    json_decref(detail);
    const char *up[] = {id, new_id};
    if (!ok || mh_api_query(api,
                            "UPDATE dead_letters SET replayed_at = now(), replayed_run_id = $2, "
                            "feed_xid = pg_current_xact_id() WHERE id = $1",
                            2, up) == NULL)
        return NULL;
    return json_pack("{s:s, s:i, s:s, s:s, s:s}", "id", id, "status", 202, "run_id", new_id,
                     "resumed_from", rid, "from_node", node);
}

void mh_h_dead_letters_replay(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *res = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *id = mh_http_req_param(req, "dead_letter_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL) || !(res = redrive(&api, pid, id)))
        goto out;
    int status = (int)json_integer_value(json_object_get(res, "status"));
    json_t *err = json_object_get(res, "error");
    if (status != 202) {
        mh_http_respond_error(req, status, json_string_value(json_object_get(err, "code")),
                              json_string_value(json_object_get(err, "message")), NULL);
        goto out;
    }
    if (!mh_api_commit(&api))
        goto out;
    mh_engine_runtime_wake(api.app->runtime);
    json_object_del(res, "status");
    json_object_del(res, "id");
    mh_http_respond_json(req, 202, json_incref(res));
out:
    json_decref(res);
    mh_api_close(&api);
}

/* Reads {"ids": [...]} of a bulk request by an editor of project `pid`: 1 to
 * DEAD_LETTER_BATCH_MAX strings (borrowed), or NULL after answering (422 with the offending
 * path). */
static json_t *batch_ids(struct mh_api *api, const char *pid)
{
    static const char *const fields[] = {"ids", NULL};
    if (!mh_api_require_role(api, pid, "editor", NULL))
        return NULL;
    json_t *body = mh_api_body(api);
    if (body == NULL || !mh_api_only_fields(api, body, fields))
        return NULL;
    json_t *ids = json_object_get(body, "ids");
    if (!json_is_array(ids) || json_array_size(ids) == 0 ||
        json_array_size(ids) > DEAD_LETTER_BATCH_MAX) {
        char msg[96];
        snprintf(msg, sizeof(msg), "'ids' must be an array of 1 to %d dead letter ids",
                 DEAD_LETTER_BATCH_MAX);
        mh_http_respond_error(api->req, 422, "invalid", msg, "/ids");
        return NULL;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        if (!json_is_string(v)) {
            char path[32];
            snprintf(path, sizeof(path), "/ids/%zu", i);
            mh_http_respond_error(api->req, 422, "invalid", "each id must be a string", path);
            return NULL;
        }
    }
    return ids;
}

/* {"results": [...], "succeeded": n, "failed": m} over the items' statuses. */
static json_t *batch_answer(json_t *results)
{
    size_t i, ok = 0;
    json_t *v;
    json_array_foreach(results, i, v)
    {
        if (json_integer_value(json_object_get(v, "status")) < 300)
            ok++;
    }
    return json_pack("{s:o, s:I, s:I}", "results", results, "succeeded", (json_int_t)ok, "failed",
                     (json_int_t)(json_array_size(results) - ok));
}

void mh_h_dead_letters_replay_many(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    json_t *results = json_array();
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        goto out;
    const char *pid = mh_http_req_param(req, "project_id");
    json_t *ids = batch_ids(&api, pid);
    if (ids == NULL)
        goto out;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
    {
        json_t *r = redrive(&api, pid, json_string_value(v));
        if (r == NULL)
            goto out;
        json_array_append_new(results, r);
    }
    if (!mh_api_commit(&api))
        goto out;
    mh_engine_runtime_wake(api.app->runtime);
    mh_http_respond_json(req, 200, batch_answer(results));
    results = NULL;
out:
    json_decref(results);
    mh_api_close(&api);
}

/* Dismisses (or restores) each dead letter of a bulk request; each change is audited. */
static void dismiss_many(struct mh_http_req *req, void *app, bool is_dismiss)
{
    struct mh_api api;
    json_t *results = json_array();
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        goto out;
    const char *pid = mh_http_req_param(req, "project_id");
    json_t *ids = batch_ids(&api, pid);
    if (ids == NULL)
        goto out;
    size_t i;
    json_t *v;
    bool any_changed = false;
    json_array_foreach(ids, i, v)
    {
        const char *id = json_string_value(v);
        if (!mh_api_is_uuid(id)) {
            json_array_append_new(results,
                                  item_result(id, 404, "not_found", "dead letter not found"));
            continue;
        }
        /* Only a change is written and audited: dismissing twice changes nothing. A change
         * shows in the project's live feed (feed_xid, migration 0019). */
        const char *params[] = {id, pid};
        json_t *rows = mh_api_query(
            &api,
            is_dismiss ? "WITH u AS (UPDATE dead_letters SET dismissed_at = now(), dismissed_by = "
                         "mh_uid(), feed_xid = pg_current_xact_id() WHERE id = $1 AND project_id = "
                         "$2 AND dismissed_at IS NULL "
                         "RETURNING dismissed_at) SELECT true AS changed, to_json(dismissed_at) "
                         "AS dismissed_at FROM u UNION ALL SELECT false, to_json(dismissed_at) "
                         "FROM dead_letters WHERE id = $1 AND project_id = $2 AND NOT EXISTS "
                         "(SELECT 1 FROM u)"
                       : "WITH u AS (UPDATE dead_letters SET dismissed_at = NULL, dismissed_by = "
                         "NULL, feed_xid = pg_current_xact_id() WHERE id = $1 AND project_id = $2 "
                         "AND dismissed_at IS NOT NULL "
                         "RETURNING dismissed_at) SELECT true AS changed, to_json(dismissed_at) "
                         "AS dismissed_at FROM u UNION ALL SELECT false, to_json(dismissed_at) "
                         "FROM dead_letters WHERE id = $1 AND project_id = $2 AND NOT EXISTS "
                         "(SELECT 1 FROM u)",
            2, params);
        if (rows == NULL)
            goto out;
        json_t *row = json_array_get(rows, 0);
        if (row == NULL) {
            json_array_append_new(results,
                                  item_result(id, 404, "not_found", "dead letter not found"));
            continue;
        }
        bool changed = json_is_true(json_object_get(row, "changed"));
        any_changed = any_changed || changed;
        if (changed &&
            !mh_api_audit(&api, pid, is_dismiss ? "dead_letter.dismiss" : "dead_letter.undismiss",
                          id, NULL))
            goto out;
        json_array_append_new(results, json_pack("{s:s, s:i, s:b, s:O}", "id", id, "status", 200,
                                                 "changed", changed, "dismissed_at",
                                                 json_object_get(row, "dismissed_at")));
    }
    const char *np[] = {pid};
    if (any_changed && mh_api_query(&api,
                                    "SELECT pg_notify('" MH_ENGINE_STREAMS_CHANNEL "', $1::text "
                                    "|| ' x' || pg_current_xact_id()::text)",
                                    1, np) == NULL)
        goto out;
    if (!mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 200, batch_answer(results));
    results = NULL;
out:
    json_decref(results);
    mh_api_close(&api);
}

void mh_h_dead_letters_dismiss(struct mh_http_req *req, void *app)
{
    dismiss_many(req, app, true);
}

void mh_h_dead_letters_undismiss(struct mh_http_req *req, void *app)
{
    dismiss_many(req, app, false);
}
