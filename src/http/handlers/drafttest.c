/* SPDX-License-Identifier: MIT */
/*
 * POST .../workflows/:wid/draft-test (docs/api.md, "Testing a draft against past deliveries"):
 * the draft evaluated on each of the last N deliveries that started runs of the workflow, as
 * those runs, with the outside world answered from what each run recorded, and compared node by
 * node with what the published version produced (mh_engine_draft_compare). Read-only: the
 * transaction is rolled back and nothing is sent. Editors only, like the preview.
 */
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "engine/engine.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "runtime/store.h"
#include "secrets/secrets.h"

/* The most deliveries one test takes, and how many it takes when the request does not say. */
#define MAX_LAST     500
#define DEFAULT_LAST 50
/* Compiled versions kept while a test runs: a test spans few versions, most often one. */
#define MAX_VERSIONS 8

struct versions {
    long long version[MAX_VERSIONS];
    struct mh_wf *wf[MAX_VERSIONS];
    size_t n;
};

static bool read_last(struct mh_api *api, json_t *body, long long *last);
static bool check_endpoint(struct mh_api *api, const char *pid, const char *wid, json_t *body,
                           const char **endpoint_id);
static enum mh_err version_wf(struct mh_api *api, struct versions *vs, const char *run_id,
                              long long version, struct mh_wf **wf);
static json_t *events_of(struct mh_api *api, json_t *rows);
static void count_differences(json_t *summary, json_t *result);

/* "last": an integer 1..500 (50 when absent). False after answering 422. */
static bool read_last(struct mh_api *api, json_t *body, long long *last)
{
    json_t *v = json_object_get(body, "last");
    *last = DEFAULT_LAST;
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > MAX_LAST) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'last' must be a whole number of deliveries from 1 to 500", "/last");
        return false;
    }
    *last = json_integer_value(v);
    return true;
}

/* "endpoint_id": absent, or one of the workflow's endpoints. False after answering 422. */
static bool check_endpoint(struct mh_api *api, const char *pid, const char *wid, json_t *body,
                           const char **endpoint_id)
{
    json_t *v = json_object_get(body, "endpoint_id");
    *endpoint_id = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    const char *eid = json_string_value(v);
    if (eid == NULL || !mh_api_is_uuid(eid)) {
        mh_http_respond_error(api->req, 422, "invalid", "'endpoint_id' must be an endpoint's id",
                              "/endpoint_id");
        return false;
    }
    const char *params[] = {pid, eid, wid};
    json_t *rows = mh_api_query(api,
                                "SELECT 1 AS ok FROM webhook_endpoints WHERE project_id = $1 AND "
                                "id = $2 AND workflow_id = $3",
                                3, params);
    if (rows == NULL)
        return false;
    if (json_array_size(rows) == 0) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "no endpoint with this id starts this workflow", "/endpoint_id");
        return false;
    }
    *endpoint_id = eid;
    return true;
}

/* The compiled workflow of a run's version, compiled once per test (borrowed from `vs`). */
static enum mh_err version_wf(struct mh_api *api, struct versions *vs, const char *run_id,
                              long long version, struct mh_wf **wf)
{
    for (size_t i = 0; i < vs->n; i++)
        if (vs->version[i] == version) {
            *wf = vs->wf[i];
            return MH_OK;
        }
    enum mh_err rc = mh_engine_run_workflow(api->conn, run_id, wf, &api->info);
    if (rc != MH_OK)
        return rc;
    if (vs->n == MAX_VERSIONS) { /* the oldest goes */
        mh_engine_wf_unref(vs->wf[0]);
        memmove(vs->version, vs->version + 1, (MAX_VERSIONS - 1) * sizeof(vs->version[0]));
        memmove(vs->wf, vs->wf + 1, (MAX_VERSIONS - 1) * sizeof(vs->wf[0]));
        vs->n--;
    }
    vs->version[vs->n] = version;
    vs->wf[vs->n++] = *wf;
    return MH_OK;
}

/*
 * The event logs of the runs in `rows` (their "run_id"), read in one statement: a new object run
 * id -> array of event rows in order (for mh_engine_events_from_rows); NULL after answering. One
 * round trip instead of one per run: 500 runs cost one statement's latency, not 500.
 */
static json_t *events_of(struct mh_api *api, json_t *rows)
{
    size_t cap = 3 + json_array_size(rows) * 38, len = 0, i;
    char *ids = mh_xmalloc(cap);
    json_t *row;
    ids[len++] = '{';
    json_array_foreach(rows, i, row)
    {
        len += (size_t)snprintf(ids + len, cap - len, "%s%s", i ? "," : "",
                                json_string_value(json_object_get(row, "run_id")));
    }
    snprintf(ids + len, cap - len, "}");
    const char *params[] = {ids};
    json_t *evs = mh_api_query(api,
                               "SELECT run_id, seq, type, node_id, attempt, payload, "
                               "(extract(epoch FROM at) * 1000)::bigint AS at_ms, "
                               "encode(hash, 'hex') AS hash FROM events WHERE run_id = "
                               "ANY($1::uuid[]) ORDER BY run_id, seq",
                               1, params);
    free(ids);
    if (evs == NULL)
        return NULL;
    json_t *logs = json_object();
    json_array_foreach(evs, i, row)
    {
        const char *rid = json_string_value(json_object_get(row, "run_id"));
        json_t *log = json_object_get(logs, rid);
        if (log == NULL)
            json_object_set_new(logs, rid, log = json_array());
        json_array_append(log, row);
    }
    return logs;
}

/* Adds one delivery's differing nodes to the summary's per-node counts. */
static void count_differences(json_t *summary, json_t *result)
{
    json_t *counts = json_object_get(summary, "nodes");
    const char *id;
    json_t *c;
    json_object_foreach(json_object_get(result, "nodes"), id, c)
    {
        if (json_is_true(json_object_get(c, "equal")))
            continue;
        json_t *n = json_object_get(counts, id);
        json_object_set_new(counts, id, json_integer(n ? json_integer_value(n) + 1 : 1));
    }
}

void mh_h_workflows_draft_test(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"last", "endpoint_id", "definition", NULL};
    json_t *errors = NULL, *result = NULL, *shown = NULL, *logs = NULL;
    struct mh_wf *draft = NULL;
    struct versions vs = {.n = 0};
    long long last;
    const char *endpoint_id;
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
    json_t *body = mh_api_body(&api), *def;
    if (body == NULL || !mh_api_only_fields(&api, body, fields) || !read_last(&api, body, &last) ||
        (def = mh_h_workflow_draft(&api, pid, wid, body, "test")) == NULL ||
        !check_endpoint(&api, pid, wid, body, &endpoint_id))
        goto out;
    if (mh_engine_wf_compile(def, &draft, &errors) != MH_OK) {
        mh_api_respond_invalid_definition(&api, errors, "test");
        goto out;
    }
    char limit[24];
    snprintf(limit, sizeof(limit), "%lld", last);
    const char *params[] = {pid, wid, endpoint_id, limit};
    json_t *rows = mh_api_query(
        &api,
        /* Each delivery's run by its key (LATERAL ... OFFSET 0): a join the planner may not
         * turn into a scan of every run, each row of which pays the row-level policy. */
        "SELECT d.id AS delivery_id, d.endpoint_id, to_json(d.received_at) AS received_at, r.id "
        "AS run_id, r.version, r.status FROM webhook_deliveries d JOIN webhook_endpoints n ON "
        "n.id = d.endpoint_id AND n.project_id = d.project_id CROSS JOIN LATERAL (SELECT x.id, "
        "x.version, x.status FROM runs x WHERE x.id = d.run_id AND x.project_id = d.project_id "
        "AND x.workflow_id = $2 OFFSET 0) r WHERE d.project_id = $1 AND n.workflow_id = $2 AND "
        "d.run_id IS NOT NULL AND ($3::uuid IS NULL OR d.endpoint_id = $3::uuid) "
        "ORDER BY d.received_at DESC, d.id DESC LIMIT $4::int",
        4, params);
    if (rows == NULL || (logs = events_of(&api, rows)) == NULL)
        goto out;
    json_t *deliveries = json_array();
    json_t *summary = json_pack("{s:i, s:i, s:i, s:o}", "tested", 0, "differing", 0,
                                "not_simulated", 0, "nodes", json_object());
    result = json_pack("{s:o, s:o}", "summary", summary, "deliveries", deliveries);
    size_t i;
    json_t *row;
    int differing = 0, not_simulated = 0;
    json_array_foreach(rows, i, row)
    {
        const char *rid = json_string_value(json_object_get(row, "run_id"));
        struct mh_wf *wf = NULL;
        struct mh_event *events = NULL;
        size_t n = 0;
        json_t *cmp = NULL;
        enum mh_err rc =
            version_wf(&api, &vs, rid, json_integer_value(json_object_get(row, "version")), &wf);
        if (rc == MH_OK)
            rc = mh_engine_events_from_rows(json_object_get(logs, rid), &events, &n, &api.info);
        if (rc == MH_OK)
            rc = mh_engine_draft_compare(draft, wf, events, n, &cmp, &api.info);
        mh_engine_events_free(events, n);
        if (rc == MH_EDB) {
            mh_http_respond_err(req, rc, &api.info);
            goto out;
        }
        json_t *entry = json_deep_copy(row);
        if (rc != MH_OK) {
            /* The recorded log does not fit its own version (it cannot be folded): said, not
             * fatal to the other deliveries. */
            json_object_set_new(entry, "error", json_string(api.info.message));
            struct mh_err_info clean = MH_ERR_INFO_INIT;
            api.info = clean;
        } else {
            json_object_update(entry, cmp);
            count_differences(summary, cmp);
            differing += json_is_true(json_object_get(cmp, "differs"));
            not_simulated += json_array_size(json_object_get(cmp, "not_simulated")) > 0;
        }
        json_decref(cmp);
        json_array_append_new(deliveries, entry);
    }
    json_object_set_new(summary, "tested", json_integer((json_int_t)json_array_size(deliveries)));
    json_object_set_new(summary, "differing", json_integer(differing));
    json_object_set_new(summary, "not_simulated", json_integer(not_simulated));
    bool redacted = false;
    enum mh_err rc = mh_secrets_privacy_view(api.conn, pid, result, &shown, &redacted, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    json_object_set_new(shown, "redacted", json_boolean(redacted));
    mh_http_respond_json(req, 200, shown);
    shown = NULL;
out:
    for (size_t k = 0; k < vs.n; k++)
        mh_engine_wf_unref(vs.wf[k]);
    json_decref(shown);
    json_decref(result);
    json_decref(logs);
    json_decref(errors);
    mh_engine_wf_unref(draft);
    mh_api_close(&api);
}
