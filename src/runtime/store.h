/* SPDX-License-Identifier: MIT */
/*
 * The engine's durable side: runs, their event logs and their jobs in PostgreSQL (store.c), and
 * the runtime that executes runs on worker threads (worker.c). engine.h is the pure core these
 * build on.
 *
 * Transactions: every function taking a connection runs inside the caller's open transaction,
 * whose meshhook.project_id (the system path) or meshhook.user_id must allow writing the
 * project's rows; none commits.
 */
#ifndef MH_RUNTIME_STORE_H
#define MH_RUNTIME_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "db/db.h"
#include "engine/engine.h"

/* The channel live streams listen on (src/http/hub.h describes its payloads). */
#define MH_ENGINE_STREAMS_CHANNEL "meshhook_streams"
/* The channel an intake waiting for runs' answers listens on (src/intake/respond.c): payload the
 * run id alone, sent after the commit that recorded a respond step or ended a run whose
 * answer_until had not passed (migration 0042). The answer itself is read from the database. */
#define MH_ENGINE_ANSWERS_CHANNEL "meshhook_answers"

struct mh_run_start {
    const char *project_id;
    const char *workflow_id;
    const char *version_id; /* a published workflow_versions row (or a test run's draft) */
    int64_t version;        /* its number; 0 for a draft */
    json_t *trigger;        /* {"body", "headers", "query", "received_at"}; borrowed */
    json_t *extra;          /* recorded in run_started outside the node context; may be NULL */
    bool is_test;
    const char *delivery_id;   /* the webhook delivery that started it, or NULL */
    const char *parent_run_id; /* resume: the original run, or NULL */
    const char *run_id;        /* the run's id when decided already (a call's child), or NULL */
};

/*
 * How a run starts in the database, written once for the two paths that start runs
 * (mh_engine_run_create here, one at a time; the intake's group commit, many per statement):
 * CTEs `r` (the runs rows), `e` (their events: run_started at seq 1, then any the intake decided
 * in the same transaction) and `j` (the advance jobs of runs not finished, due now), reading a
 * CTE named `ok` that has MH_RUNTIME_RUN_COLUMNS (a jsonb_to_recordset of rows {run_id,
 * workflow_id, version_id, version (0 for a draft), is_test, parent_run_id, delivery_id, at_ms,
 * type, payload, hash (hex)}: the first event as the engine sealed it; and optionally the run's
 * pure prefix (mh_engine_advance_pure): `more`, its events as mh_engine_event_row objects,
 * `status`, `last_seq`, `last_hash` (hex), `output` and `error` (the message) of the run after
 * them), and `answer_until` (ms since the epoch: until when an intake may wait for the run's
 * answer, migration 0042; absent for most runs), with the project's id in $2. Ends with "), " so
 * the statement may go on.
 */
#define MH_RUNTIME_RUN_COLUMNS                                                                     \
    "run_id uuid, workflow_id uuid, version_id uuid, version int, is_test boolean, "               \
    "parent_run_id uuid, delivery_id uuid, at_ms bigint, type text, payload jsonb, hash text, "    \
    "more jsonb, status text, last_seq int, last_hash text, output jsonb, error text, "            \
    "answer_until bigint"
#define MH_RUNTIME_RUN_INSERT_CTES                                                                 \
    "r AS (INSERT INTO runs (id, project_id, workflow_id, version_id, version, is_test, "          \
    "parent_run_id, delivery_id, created_at, last_seq, last_hash, status, started_at, "            \
    "finished_at, output, error, answer_until) SELECT run_id, $2::uuid, "                          \
    "workflow_id, version_id, nullif(version, 0), is_test, parent_run_id, delivery_id, "           \
    "'epoch'::timestamptz + at_ms * interval '1 millisecond', coalesce(last_seq, 1), "             \
    "decode(coalesce(last_hash, hash), 'hex'), coalesce(status, 'queued'), CASE WHEN last_seq > "  \
    "1 THEN now() END, CASE WHEN status IN ('succeeded', 'failed') THEN now() END, output, "       \
    "error, 'epoch'::timestamptz + answer_until * interval '1 millisecond' FROM ok RETURNING id, " \
    "created_at, status), "                                                                        \
    "e AS (INSERT INTO events (run_id, run_created_at, seq, project_id, type, node_id, attempt, "  \
    "payload, at, hash) SELECT r.id, r.created_at, 1, $2::uuid, ok.type, NULL, NULL, ok.payload, " \
    "r.created_at, decode(ok.hash, 'hex') FROM ok JOIN r ON r.id = ok.run_id UNION ALL SELECT "    \
    "r.id, r.created_at, (x->>'seq')::int, $2::uuid, x->>'type', nullif(x->>'node_id', ''), "      \
    "nullif((x->>'attempt')::int, 0), coalesce(x->'payload', '{}'), 'epoch'::timestamptz + "       \
    "(x->>'at_ms')::bigint * interval '1 millisecond', decode(x->>'hash', 'hex') FROM ok JOIN r "  \
    "ON r.id = ok.run_id, jsonb_array_elements(ok.more) x WHERE ok.more IS NOT NULL RETURNING "    \
    "1), "                                                                                         \
    "j AS (INSERT INTO jobs (project_id, run_id, kind) SELECT $2::uuid, r.id, 'advance' FROM r "   \
    "WHERE r.status IN ('queued', 'running') RETURNING 1), "

/*
 * Starts a run: inserts the runs row (queued), its run_started event (seq 1, hash-chained) and
 * an advance job due now, in one statement of the caller's transaction. The run is durable when
 * the caller commits; then call mh_engine_runtime_wake so a worker picks it up at once.
 * `run_id_out` receives the new id. Errors: MH_EINVAL (bad arguments), database errors.
 */
MH_MUSTCHECK enum mh_err mh_engine_run_create(struct mh_db_conn *c, const struct mh_run_start *s,
                                              char run_id_out[37], struct mh_err_info *info);

/*
 * Asks for run `run_id` to be canceled, in the caller's transaction (an API request's: row-level
 * security applies): records the request in the run's row (the first request's time and
 * `reason` stand) and makes its job due, telling every instance's workers at commit. Whichever
 * worker decides the run next records run_canceled (migration 0048): the request survives a
 * crash, and an instance without workers may take it. MH_ECONFLICT: the run has finished (or is
 * not the caller's to change); database errors.
 */
MH_MUSTCHECK enum mh_err mh_engine_run_cancel_request(struct mh_db_conn *c, const char *run_id,
                                                      const char *reason, struct mh_err_info *info);

struct mh_event;

/* Loads a run's events in order into a new array (*events, *n) that the caller frees with
 * mh_engine_events_free. */
MH_MUSTCHECK enum mh_err mh_engine_events_load(struct mh_db_conn *c, const char *run_id,
                                               struct mh_event **events, size_t *n,
                                               struct mh_err_info *info);
void mh_engine_events_free(struct mh_event *events, size_t n);
/* The inverse: `ev` as such a row (new object), for inserting through jsonb_array_elements. */
json_t *mh_engine_event_row(const struct mh_event *ev);
/* The same row written as JSON text at the end of `b`, without building the object (the
 * intake's pure prefix, on the request thread). MH_ETOOBIG past `b`'s limit. */
struct mh_buf;
MH_MUSTCHECK enum mh_err mh_engine_event_row_append(const struct mh_event *ev, struct mh_buf *b);
/* The same from rows already fetched: objects {seq, type, node_id, attempt, payload, at_ms,
 * hash (hex)}. */
MH_MUSTCHECK enum mh_err mh_engine_events_from_rows(json_t *rows, struct mh_event **events,
                                                    size_t *n, struct mh_err_info *info);

/* The run's published definition compiled (a new reference; mh_engine_wf_unref), with its
 * workflow id and version. */
struct mh_wf;
MH_MUSTCHECK enum mh_err mh_engine_run_workflow(struct mh_db_conn *c, const char *run_id,
                                                struct mh_wf **wf, struct mh_err_info *info);

/*
 * Resume from a step: a new run of the same version, linked to `run_id`, whose log starts with
 * the original's events up to (not including) the first event of `from_node`, copied as they
 * are (so the hash chain carries over) — it then continues from that step. MH_ENOTFOUND for an
 * unknown run; MH_EINVAL (with a message) when the node never ran in the original.
 */
MH_MUSTCHECK enum mh_err mh_engine_run_resume(struct mh_db_conn *c, const char *run_id,
                                              const char *from_node, char new_run_id[37],
                                              struct mh_err_info *info);
/*
 * The same, on the workflow's latest published version when `on_latest`: allowed only when the
 * copied events replay on that version exactly (every node they name exists, every recorded
 * output and request is what it computes), so the new run's log stays verifiable. MH_ECONFLICT
 * (with a message naming the first event and step that differ) otherwise, or when the workflow
 * has no published version.
 */
MH_MUSTCHECK enum mh_err mh_engine_run_resume_on(struct mh_db_conn *c, const char *run_id,
                                                 const char *from_node, bool on_latest,
                                                 char new_run_id[37], struct mh_err_info *info);

/*
 * Replay (docs/architecture.md §5): verifies the hash chain (and that the log still ends at the
 * hash the run recorded, so a truncated log shows), re-folds the log and re-evaluates every pure
 * step on its recorded inputs. *report is new: mh_engine_replay's report plus "truncated": bool and
 * "run_id". Returns MH_OK whenever a report was produced; its "ok" says whether it diverged.
 */
MH_MUSTCHECK enum mh_err mh_engine_run_replay(struct mh_db_conn *c, const char *run_id,
                                              json_t **report, struct mh_err_info *info);

/* ---- Callbacks (callback.c): wait_callback's one-time URLs ----------------------------------- */

/* Writes the token of (run, node) into `out`: "<run id>.<node id>.<MAC>" (base64url HMAC-SHA256
 * under `key`, 32 bytes). MH_ETOOBIG when `cap` is too small. Pure; any thread. */
MH_MUSTCHECK enum mh_err mh_engine_callback_token(const uint8_t key[32], const char *run_id,
                                                  const char *node_id, char *out, size_t cap);
/* Checks a token's MAC in constant time and fills the run and node ids it names. MH_ENOTFOUND
 * for a malformed or forged token (which costs one MAC either way); MH_ECRYPTO. */
MH_MUSTCHECK enum mh_err mh_engine_callback_verify(const uint8_t key[32], const char *token,
                                                   char run_id[37],
                                                   char node_id[MH_ENGINE_ID_MAX + 1]);
enum mh_engine_callback_outcome {
    MH_CALLBACK_ACCEPTED, /* recorded and committed; the run's job is due */
    MH_CALLBACK_GONE,     /* the step has had its callback, finished or timed out, or the run
                           * ended */
    MH_CALLBACK_NOT_FOUND,
};
/* Records the callback of a verified token with `body` (borrowed) in its own transaction on a
 * connection of `pool` (migration 0041's mh_callback_accept: only the token's SHA-256 is kept),
 * committed before it returns. Errors: database ones (then nothing was recorded, or, with
 * MH_DB_IN_DOUBT, perhaps). */
MH_MUSTCHECK enum mh_err mh_engine_callback_accept(struct mh_db_pool *pool, const char *run_id,
                                                   const char *node_id, const char *token,
                                                   json_t *body,
                                                   enum mh_engine_callback_outcome *outcome,
                                                   struct mh_err_info *info);

/* ---- Runtime (worker.c) --------------------------------------------------------------------- */

struct mh_engine_runtime;

/*
 * Resolves the secrets an http_call names, at send time, inside a transaction of the run's
 * project: *values receives a new object name -> value. MH_ENOTFOUND (with the missing name in
 * info, never a value) fails the step. Provided by the secrets module and wired by main.
 */
typedef enum mh_err (*mh_engine_secret_fn)(void *ctx, struct mh_db_conn *c, const char *project_id,
                                           const char *const *names, size_t n, const char *run_id,
                                           json_t **values, struct mh_err_info *info);

struct mh_engine_runtime_opts {
    struct mh_db_pool *pool;             /* borrowed; outlives the runtime */
    const char *listen_db_url;           /* for LISTEN (a connection of its own); may be NULL */
    mh_engine_secret_fn resolve_secrets; /* may be NULL: runs naming secrets then fail clearly */
    void *secrets_ctx;
    int workers;
    int batch;
    int lease_ms;
    int poll_ms;
    int64_t run_timeout_ms;        /* 0: none */
    size_t max_response_bytes;     /* recorded HTTP bodies are cut here */
    int max_in_flight;             /* outbound requests at once (0: the executor's default) */
    int max_in_flight_per_project; /* of one project at once (0: the executor's default) */
    int max_queued;       /* waiting in memory, a quarter per project (0: the executor's default) */
    int breaker_failures; /* 0: default */
    int breaker_open_ms;  /* 0: default */
    /* http_call may connect to loopback, private and metadata addresses (development only). */
    bool allow_private_targets;
    /* How deep call_workflow steps may nest: a run this many calls deep starts no child
     * (0: the default, 8). */
    int max_call_depth;
    /* Hosts and CIDRs every project may reach although internal (borrowed; NULL: none). Each
     * project's own list (project_outbound, docs/workflows.md) is added to it per request. A
     * bad entry makes the start fail, naming it. */
    const char *outbound_allowlist;
    /* wait_callback (callback.c): the key of callback tokens (32 bytes, borrowed, outlives the
     * runtime; NULL: no kek, so such steps fail clearly) and the public base URL the callback
     * URLs start with ("https://hooks.example.com"; borrowed). */
    const uint8_t *callback_key;
    const char *callback_base_url;
};

MH_MUSTCHECK enum mh_err mh_engine_runtime_start(const struct mh_engine_runtime_opts *opts,
                                                 struct mh_engine_runtime **out,
                                                 struct mh_err_info *info);
/* Tells the runtime that jobs are due (after committing a new run). Cheap and coalesced: call
 * it once per request; it signals local workers at once and other instances at most every few
 * milliseconds through one NOTIFY. Thread-safe; NULL-tolerant. */
void mh_engine_runtime_wake(struct mh_engine_runtime *rt);
/*
 * Called on a worker thread after a batch committed, for a run whose new events hold a respond
 * step's answer (`response`, borrowed for the call; NULL when none) or that finished
 * (`is_finished`). Sets *is_waited when the listener waits for that run: otherwise, and when
 * the run's answer_until has not passed (migration 0042), the worker tells the other instances
 * (NOTIFY on MH_ENGINE_ANSWERS_CHANNEL). Must not block.
 */
typedef void (*mh_engine_respond_fn)(void *ctx, const char *run_id, json_t *response,
                                     bool is_finished, bool *is_waited);
/* Sets (or, with fn NULL, clears) the one respond listener; after clearing it is no longer
 * called once this returns. NULL-tolerant. */
void mh_engine_runtime_on_respond(struct mh_engine_runtime *rt, mh_engine_respond_fn fn, void *ctx);
/* Counts runs the listener waits for (delta +1 or -1): while none, batches skip the search. */
void mh_engine_runtime_respond_watch(struct mh_engine_runtime *rt, int delta);

/* Stops claiming, waits for the jobs being processed, hands the claimed-but-unstarted ones back
 * (releasing their leases) and stops the threads. NULL-tolerant. */
void mh_engine_runtime_stop(struct mh_engine_runtime *rt);

#endif
