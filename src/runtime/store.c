/* SPDX-License-Identifier: MIT */
/*
 * Runs and their event logs in PostgreSQL. A run starts with one statement that inserts the run,
 * its sealed first event and its job together (the intake's hot path pays one round trip). Events
 * are stored with their decision time in milliseconds and their chain hash exactly as the pure
 * core computed them, and read back the same way, so the hash chain verifies after a round trip
 * through jsonb (docs/internals/engine.md, "Canonical encoding").
 */
#include "runtime/store.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "runtime/runtime_internal.h"

static void hash_param(const uint8_t h[MH_ENGINE_HASH_LEN], char out[2 + 64 + 1])
{
    out[0] = '\\';
    out[1] = 'x';
    mh_crypto_hex_encode(h, MH_ENGINE_HASH_LEN, out + 2);
}

/* Tells live streams, at commit, that `project_id`'s feed changed (src/http/hub.h's payload). A
 * run started through the API is rare next to the intake's, which tells them once per batch. */
static enum mh_err notify_feed(struct mh_db_conn *c, const char *project_id,
                               struct mh_err_info *info)
{
    const char *params[] = {project_id};
    return mh_db_query(c,
                       "SELECT pg_notify('" MH_ENGINE_STREAMS_CHANNEL "', $1::text || ' x' || "
                       "pg_current_xact_id()::text)",
                       1, params, NULL, NULL, info);
}

enum mh_err mh_engine_run_cancel_request(struct mh_db_conn *c, const char *run_id,
                                         const char *reason, struct mh_err_info *info)
{
    const char *params[] = {run_id, reason};
    long n = 0;
    /* The row first, in a statement of its own: when a worker is deciding the run, this waits
     * for its commit, and the job's update below then follows the job row that commit wrote
     * (its next wake-up) instead of being overwritten by it. */
    enum mh_err rc = mh_db_query(c,
                                 "UPDATE runs SET cancel_requested_at = coalesce("
                                 "cancel_requested_at, now()), cancel_reason = coalesce("
                                 "cancel_reason, $2) WHERE id = $1::uuid AND status IN "
                                 "('queued', 'running')",
                                 2, params, NULL, &n, info);
    if (rc != MH_OK)
        return rc;
    if (n == 0)
        return mh_err_set(info, MH_ECONFLICT, "conflict", -1, "the run has already finished");
    /* A leased job keeps its lease: its worker has not locked the run yet (the update above
     * would have waited), so its decision reads the request. */
    return mh_db_query(c,
                       "WITH j AS (UPDATE jobs SET run_at = now() WHERE run_id = $1::uuid AND "
                       "run_at > now() RETURNING 1) SELECT pg_notify('" MH_RUNTIME__NOTIFY_CHANNEL
                       "', '')",
                       1, params, NULL, NULL, info);
}

enum mh_err mh_engine_run_create(struct mh_db_conn *c, const struct mh_run_start *s,
                                 char run_id_out[37], struct mh_err_info *info)
{
    struct mh_event ev = {0};
    char *payload = NULL;
    enum mh_err rc = MH_OK;
    if (!s->project_id || !s->workflow_id || !s->version_id || !json_is_object(s->trigger))
        return mh_err_set(info, MH_EINVAL, "invalid", -1, "incomplete run start");
    /* Run ids are time-ordered (version 7) so that runs and events are appended at the right
     * edge of their indexes. */
    int64_t at = mh_clock_now_ms();
    char run_id[MH_CRYPTO_UUID_STR_LEN];
    if (s->run_id != NULL && strlen(s->run_id) == MH_CRYPTO_UUID_STR_LEN - 1)
        memcpy(run_id, s->run_id, sizeof(run_id));
    else if ((rc = mh_crypto_uuid7(at, run_id)) != MH_OK)
        return mh_err_set(info, rc, "crypto", -1, "could not draw a run id");
    rc = mh_engine_event_run_started(run_id, s->workflow_id, s->version, s->is_test, s->trigger,
                                     s->extra, at, &ev, NULL);
    if (rc != MH_OK) {
        mh_err_set(info, rc, "invalid", -1, "could not build the first event");
        goto out;
    }
    char hash[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(ev.hash, MH_ENGINE_HASH_LEN, hash);
    json_t *row =
        json_pack("[{s:s, s:s, s:s, s:I, s:b, s:s?, s:s?, s:I, s:s, s:O, s:s}]", "run_id", run_id,
                  "workflow_id", s->workflow_id, "version_id", s->version_id, "version",
                  (json_int_t)s->version, "is_test", s->is_test, "parent_run_id", s->parent_run_id,
                  "delivery_id", s->delivery_id, "at_ms", (json_int_t)at, "type", ev.type,
                  "payload", ev.payload, "hash", hash);
    payload = row ? json_dumps(row, JSON_COMPACT) : NULL;
    json_decref(row);
    if (payload == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "trigger is not serialisable");
        goto out;
    }
    const char *params[] = {payload, s->project_id, s->workflow_id};
    /* One statement: the run, its first event and its job (the runtime's one way to start a
     * run, MH_RUNTIME_RUN_INSERT_CTES), once the workflow is locked as a foreign key would lock
     * it (migration 0011): nothing is inserted when it is gone. */
    json_t *res = NULL;
    rc = mh_db_query_row(c,
                         "WITH w AS (SELECT id FROM workflows WHERE id = $3 AND project_id = $2 "
                         "FOR KEY SHARE), "
                         "ok AS (SELECT x.* FROM jsonb_to_recordset($1::jsonb) AS "
                         "x(" MH_RUNTIME_RUN_COLUMNS
                         "), w WHERE x.workflow_id = w.id), " MH_RUNTIME_RUN_INSERT_CTES
                         "n AS (SELECT 1) "
                         "SELECT (SELECT count(*) FROM r) AS inserted, (SELECT count(*) FROM e) AS "
                         "events, (SELECT count(*) FROM j) AS jobs",
                         3, params, &res, info);
    long inserted = rc == MH_OK ? (long)json_integer_value(json_object_get(res, "inserted")) : 0;
    json_decref(res);
    if (rc == MH_OK && inserted != 1)
        rc = mh_err_set(info, MH_ENOTFOUND, "not-found", -1, "workflow not found");
    if (rc == MH_OK)
        rc = notify_feed(c, s->project_id, info);
    if (rc == MH_OK)
        memcpy(run_id_out, run_id, sizeof(run_id));
out:
    free(payload);
    mh_engine_event_cleanup(&ev);
    return rc;
}

json_t *mh_engine_event_row(const struct mh_event *ev)
{
    char hex[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(ev->hash, MH_ENGINE_HASH_LEN, hex);
    return json_pack("{s:I, s:s, s:s, s:i, s:o, s:I, s:s}", "seq", (json_int_t)ev->seq, "type",
                     ev->type, "node_id", ev->node_id, "attempt", ev->attempt, "payload",
                     ev->payload ? json_incref(ev->payload) : json_object(), "at_ms",
                     (json_int_t)ev->at_ms, "hash", hex);
}

static int append_dump(const char *s, size_t n, void *b)
{
    return mh_buf_append(b, s, n) == MH_OK ? 0 : -1;
}

enum mh_err mh_engine_event_row_append(const struct mh_event *ev, struct mh_buf *b)
{
    char hex[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(ev->hash, MH_ENGINE_HASH_LEN, hex);
    enum mh_err rc = mh_buf_append_str(b, "{\"seq\":");
    if (rc == MH_OK)
        rc = mh_buf_append_int(b, ev->seq);
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"type\":");
    if (rc == MH_OK)
        rc = mh_buf_append_json_string(b, ev->type, strlen(ev->type));
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"node_id\":");
    if (rc == MH_OK)
        rc = mh_buf_append_json_string(b, ev->node_id, strlen(ev->node_id));
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"attempt\":");
    if (rc == MH_OK)
        rc = mh_buf_append_int(b, ev->attempt);
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"payload\":");
    /* jansson's encoding, as mh_engine_event_row's rows get: a real stays a real in jsonb. */
    if (rc == MH_OK && ev->payload == NULL)
        rc = mh_buf_append_str(b, "{}");
    else if (rc == MH_OK && json_dump_callback(ev->payload, append_dump, b, JSON_COMPACT) != 0)
        rc = MH_ETOOBIG;
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"at_ms\":");
    if (rc == MH_OK)
        rc = mh_buf_append_int(b, ev->at_ms);
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, ",\"hash\":\"");
    if (rc == MH_OK)
        rc = mh_buf_append(b, hex, 2 * MH_ENGINE_HASH_LEN);
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, "\"}");
    return rc;
}

void mh_engine_events_free(struct mh_event *events, size_t n)
{
    for (size_t i = 0; events && i < n; i++)
        mh_engine_event_cleanup(&events[i]);
    free(events);
}

enum mh_err mh_engine_events_from_rows(json_t *rows, struct mh_event **events, size_t *n,
                                       struct mh_err_info *info)
{
    size_t count = json_array_size(rows);
    struct mh_event *evs = mh_xcalloc(count ? count : 1, sizeof(*evs));
    for (size_t i = 0; i < count; i++) {
        json_t *r = json_array_get(rows, i);
        uint8_t h[MH_ENGINE_HASH_LEN] = {0};
        const char *hex = json_string_value(json_object_get(r, "hash"));
        size_t hl = 0;
        enum mh_err rc = MH_OK;
        if (!hex || mh_crypto_hex_decode(hex, strlen(hex), h, sizeof(h), &hl) != MH_OK ||
            hl != sizeof(h))
            rc = mh_err_set(info, MH_EINVAL, "corrupt", -1, "event %zu has no valid hash", i + 1);
        else if (mh_engine_event_init(&evs[i], json_integer_value(json_object_get(r, "seq")),
                                      json_string_value(json_object_get(r, "type")),
                                      json_string_value(json_object_get(r, "node_id")),
                                      (int)json_integer_value(json_object_get(r, "attempt")),
                                      json_object_get(r, "payload"),
                                      json_integer_value(json_object_get(r, "at_ms")), h) != MH_OK)
            rc = mh_err_set(info, MH_EINVAL, "corrupt", -1, "event %zu does not fit the engine",
                            i + 1);
        if (rc != MH_OK) {
            mh_engine_events_free(evs, i);
            return rc;
        }
    }
    *events = evs;
    *n = count;
    return MH_OK;
}

enum mh_err mh_engine_events_load(struct mh_db_conn *c, const char *run_id,
                                  struct mh_event **events, size_t *n, struct mh_err_info *info)
{
    json_t *rows = NULL;
    const char *params[] = {run_id};
    enum mh_err rc =
        mh_db_query(c,
                    "SELECT seq, type, node_id, attempt, payload, "
                    "(extract(epoch FROM at) * 1000)::bigint AS at_ms, encode(hash, 'hex') AS hash "
                    "FROM events WHERE run_id = $1 AND run_created_at = (SELECT created_at FROM "
                    "runs WHERE id = $1::uuid) ORDER BY seq",
                    1, params, &rows, NULL, info);
    if (rc != MH_OK)
        return rc;
    rc = mh_engine_events_from_rows(rows, events, n, info);
    json_decref(rows);
    return rc;
}

enum mh_err mh_engine_run_workflow(struct mh_db_conn *c, const char *run_id, struct mh_wf **wf,
                                   struct mh_err_info *info)
{
    json_t *row = NULL, *errors = NULL;
    const char *params[] = {run_id};
    enum mh_err rc = mh_db_query_row(c,
                                     "SELECT v.definition FROM runs r JOIN workflow_versions v "
                                     "ON v.id = r.version_id WHERE r.id = $1",
                                     1, params, &row, info);
    if (rc != MH_OK)
        return rc;
    rc = mh_engine_wf_compile(json_object_get(row, "definition"), wf, &errors);
    if (rc != MH_OK)
        mh_err_set(info, rc, "invalid", -1, "the run's workflow version does not compile");
    json_decref(errors);
    json_decref(row);
    return rc;
}

static bool is_run_terminal_event(const char *type)
{
    return strcmp(type, MH_EV_RUN_SUCCEEDED) == 0 || strcmp(type, MH_EV_RUN_FAILED) == 0 ||
           strcmp(type, MH_EV_RUN_CANCELED) == 0 || strcmp(type, MH_EV_RUN_TIMED_OUT) == 0;
}

enum mh_err mh_engine_run_resume(struct mh_db_conn *c, const char *run_id, const char *from_node,
                                 char new_run_id[37], struct mh_err_info *info)
{
    return mh_engine_run_resume_on(c, run_id, from_node, false, new_run_id, info);
}

/*
 * The latest published version of the run's workflow, to resume on: *out is {id, version,
 * definition}. MH_ECONFLICT when there is none (or the workflow is archived).
 */
static enum mh_err latest_version(struct mh_db_conn *c, json_t *run, json_t **out,
                                  struct mh_err_info *info)
{
    const char *wp[] = {json_string_value(json_object_get(run, "workflow_id"))};
    enum mh_err rc = mh_db_query_row(
        c,
        "SELECT v.id, v.version, v.definition FROM workflow_versions v JOIN workflows w ON w.id = "
        "v.workflow_id WHERE v.workflow_id = $1 AND v.state = 'published' AND w.archived_at IS "
        "NULL ORDER BY v.version DESC LIMIT 1",
        1, wp, out, info);
    if (rc == MH_ENOTFOUND)
        rc = mh_err_set(info, MH_ECONFLICT, "not_published", -1,
                        "the workflow has no published version to resume on");
    return rc;
}

/*
 * Whether the first `cut` events of a log replay on `def` as they were recorded: every node they
 * name exists and every pure output and request they hold is what `def` computes. Only then may
 * a run of another version continue from them. Names the first event that does not, by seq and
 * node (never recorded values).
 */
static enum mh_err prefix_replays_on(json_t *def, const struct mh_event *events, size_t cut,
                                     int64_t version, struct mh_err_info *info)
{
    struct mh_wf *wf = NULL;
    json_t *errors = NULL, *report = NULL;
    enum mh_err rc = mh_engine_wf_compile(def, &wf, &errors);
    json_decref(errors);
    if (rc != MH_OK)
        return mh_err_set(info, MH_ECONFLICT, "conflict", -1, "version %lld does not compile",
                          (long long)version);
    rc = mh_engine_replay(wf, events, cut, &report);
    if (rc == MH_OK && !json_is_true(json_object_get(report, "ok"))) {
        json_t *first = json_array_get(json_object_get(report, "divergences"), 0);
        if (first == NULL)
            first = json_array_get(json_object_get(report, "errors"), 0);
        const char *node = json_string_value(json_object_get(first, "node"));
        rc = mh_err_set(info, MH_ECONFLICT, "conflict", -1,
                        "the steps before this one do not replay on version %lld (event %lld%s%s "
                        "differs): resume on the run's own version, or re-run it",
                        (long long)version,
                        (long long)json_integer_value(json_object_get(first, "seq")),
                        node && *node ? ", step " : "", node ? node : "");
    } else if (rc != MH_OK) {
        rc = mh_err_set(info, rc, "replay", -1, "replay could not run");
    }
    json_decref(report);
    mh_engine_wf_unref(wf);
    return rc;
}

enum mh_err mh_engine_run_resume_on(struct mh_db_conn *c, const char *run_id, const char *from_node,
                                    bool on_latest, char new_run_id[37], struct mh_err_info *info)
{
    struct mh_event *events = NULL;
    size_t n = 0;
    json_t *run = NULL, *latest = NULL;
    char *evjson = NULL;
    const char *idp[] = {run_id};
    enum mh_err rc = mh_db_query_row(c,
                                     "SELECT project_id, workflow_id, version_id, version, "
                                     "is_test, delivery_id FROM runs WHERE id = $1",
                                     1, idp, &run, info);
    if (rc != MH_OK)
        return rc == MH_ENOTFOUND ? mh_err_set(info, rc, "not-found", -1, "run not found") : rc;
    if ((rc = mh_engine_events_load(c, run_id, &events, &n, info)) != MH_OK)
        goto out;
    size_t cut = 0;
    bool found = false;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(events[i].node_id, from_node) == 0) {
            cut = i;
            found = true;
            break;
        }
        if (is_run_terminal_event(events[i].type)) {
            cut = i;
            break;
        }
    }
    if (!found) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                        "step '%s' never ran in this run: nothing to resume from", from_node);
        mh_err_set_path(info, "/from_node");
        goto out;
    }
    if (on_latest) {
        if ((rc = latest_version(c, run, &latest, info)) != MH_OK)
            goto out;
        int64_t v = json_integer_value(json_object_get(latest, "version"));
        if ((rc = prefix_replays_on(json_object_get(latest, "definition"), events, cut, v, info)) !=
            MH_OK)
            goto out;
        json_object_set(run, "version_id", json_object_get(latest, "id"));
        json_object_set(run, "version", json_object_get(latest, "version"));
    }
    char id[MH_CRYPTO_UUID_STR_LEN];
    if ((rc = mh_crypto_uuid7(mh_clock_now_ms(), id)) != MH_OK)
        goto out;
    json_t *arr = json_array();
    for (size_t i = 0; i < cut; i++)
        json_array_append_new(arr, mh_engine_event_row(&events[i]));
    evjson = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char last_hash[67], last_seq[24];
    hash_param(events[cut - 1].hash, last_hash);
    snprintf(last_seq, sizeof(last_seq), "%lld", (long long)events[cut - 1].seq);
    const char *params[] = {id,
                            json_string_value(json_object_get(run, "project_id")),
                            json_string_value(json_object_get(run, "workflow_id")),
                            json_string_value(json_object_get(run, "version_id")),
                            json_is_integer(json_object_get(run, "version")) ? "" : NULL,
                            json_is_true(json_object_get(run, "is_test")) ? "true" : "false",
                            run_id,
                            from_node,
                            evjson,
                            last_hash,
                            last_seq};
    char version[24];
    if (params[4]) {
        snprintf(version, sizeof(version), "%lld",
                 (long long)json_integer_value(json_object_get(run, "version")));
        params[4] = version;
    }
    /* The workflow is locked as for mh_engine_run_create. */
    long inserted = 0;
    rc = mh_db_query(
        c,
        "WITH w AS (SELECT 1 FROM workflows WHERE id = $3 AND project_id = $2 FOR KEY SHARE), "
        "r AS (INSERT INTO runs (id, project_id, workflow_id, version_id, version, is_test, "
        "parent_run_id, resumed_from_node, resumed_from_seq, last_seq, last_hash) SELECT $1, $2, "
        "$3, $4, $5::int, $6::boolean, $7, $8, $11::int, $11::int, $10::bytea FROM w RETURNING "
        "id, created_at), "
        "e AS (INSERT INTO events (run_id, run_created_at, seq, project_id, type, node_id, "
        "attempt, payload, at, hash) SELECT r.id, r.created_at, (x->>'seq')::int, $2, "
        "x->>'type', nullif(x->>'node_id', ''), nullif((x->>'attempt')::int, 0), x->'payload', "
        "'epoch'::timestamptz + (x->>'at_ms')::bigint * interval '1 millisecond', "
        "decode(x->>'hash', 'hex') FROM r, jsonb_array_elements($9::jsonb) x RETURNING 1) "
        "INSERT INTO jobs (project_id, run_id, kind) SELECT $2, r.id, 'advance' FROM r",
        11, params, NULL, &inserted, info);
    if (rc == MH_OK && inserted != 1)
        rc = mh_err_set(info, MH_ENOTFOUND, "not-found", -1, "workflow not found");
    if (rc == MH_OK)
        rc = notify_feed(c, params[1], info);
    if (rc == MH_OK)
        memcpy(new_run_id, id, sizeof(id));
out:
    free(evjson);
    json_decref(latest);
    json_decref(run);
    mh_engine_events_free(events, n);
    return rc;
}

enum mh_err mh_engine_run_replay(struct mh_db_conn *c, const char *run_id, json_t **report,
                                 struct mh_err_info *info)
{
    struct mh_event *events = NULL;
    size_t n = 0;
    struct mh_wf *wf = NULL;
    json_t *run = NULL;
    const char *idp[] = {run_id};
    enum mh_err rc = mh_db_query_row(c,
                                     "SELECT last_seq, encode(last_hash, 'hex') AS last_hash "
                                     "FROM runs WHERE id = $1",
                                     1, idp, &run, info);
    if (rc != MH_OK)
        return rc == MH_ENOTFOUND ? mh_err_set(info, rc, "not-found", -1, "run not found") : rc;
    if ((rc = mh_engine_run_workflow(c, run_id, &wf, info)) != MH_OK)
        goto out;
    if ((rc = mh_engine_events_load(c, run_id, &events, &n, info)) != MH_OK)
        goto out;
    if ((rc = mh_engine_replay(wf, events, n, report)) != MH_OK) {
        mh_err_set(info, rc, "replay", -1, "replay could not run");
        goto out;
    }
    /* The chain cannot show events removed from its end; the run's recorded last hash can. */
    const char *want = json_string_value(json_object_get(run, "last_hash"));
    bool truncated = false;
    if (want && n > 0) {
        char hex[2 * MH_ENGINE_HASH_LEN + 1];
        mh_crypto_hex_encode(events[n - 1].hash, MH_ENGINE_HASH_LEN, hex);
        truncated = strcmp(hex, want) != 0 ||
                    json_integer_value(json_object_get(run, "last_seq")) != events[n - 1].seq;
    }
    json_object_set_new(*report, "truncated", json_boolean(truncated));
    json_object_set_new(*report, "run_id", json_string(run_id));
    if (truncated)
        json_object_set_new(*report, "ok", json_false());
out:
    json_decref(run);
    mh_engine_wf_unref(wf);
    mh_engine_events_free(events, n);
    return rc;
}
