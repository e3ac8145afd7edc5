/* SPDX-License-Identifier: MIT */
/*
 * The pure core of the durable workflow engine (docs/architecture.md §4 and §5): workflow
 * definitions (validate, compile), the node type registry, the event model, the fold of a run's
 * events into its state, the decision function that advances a run, the hash chain over the event
 * log, and replay. Nothing here does I/O, reads a clock, draws randomness or starts a thread: the
 * clock reading, the random source and every outside outcome (HTTP responses, cancellations) are
 * arguments, and whatever the engine decides comes back as events to append plus actions for
 * the caller to perform. docs/internals/engine.md describes the event types and step states;
 * docs/workflows.md is the user's guide to the definition format.
 *
 * Ownership, module-wide: pointer arguments are borrowed for the duration of the call and never
 * kept, except that a compiled workflow (`struct mh_wf`) keeps its own reference to nothing the
 * caller passed in. `json_t **` out-params receive a new reference the caller json_decref()s.
 * Structs the engine fills (`struct mh_event`, `struct mh_engine_result`) own the json_t
 * references inside them and are released with their cleanup function. On error, out-params are
 * left NULL (or empty) and `info` (optional) says why.
 *
 * Threads: a compiled `struct mh_wf` is immutable and may be used by any number of threads at
 * once (its JMESPath expressions are thread-safe). Everything else is used by one thread at a
 * time. No function here keeps global state.
 */
#ifndef MH_ENGINE_H
#define MH_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* ---- Limits ------------------------------------------------------------------------------- */

#define MH_ENGINE_MAX_NODES 500
#define MH_ENGINE_MAX_EDGES 2000
/* Node ids match [A-Za-z_][A-Za-z0-9_-]{0,63}. */
#define MH_ENGINE_ID_MAX 64
/* A for_each runs at most this many items (the server's cap on a node's max_items). */
#define MH_ENGINE_MAX_ITEMS 10000
/* A step's id in events and actions: a node id, or for a step of a for_each body
 * "<for_each id>[<item index>].<body node id>" (docs/workflows.md, for_each). */
#define MH_ENGINE_STEP_ID_MAX (2 * MH_ENGINE_ID_MAX + 12)
/* Event type names are at most this many bytes. */
#define MH_ENGINE_TYPE_MAX 31
/* The canonical encoding of one event may not exceed this; a larger step output fails the
 * step with an error of kind "limit" instead of being recorded. */
#define MH_ENGINE_MAX_EVENT_BYTES  (16u * 1024u * 1024u)
#define MH_ENGINE_MAX_OUTPUT_BYTES (4u * 1024u * 1024u)
#define MH_ENGINE_HASH_LEN         32
/* "mh-" followed by 32 lowercase hex digits. */
#define MH_ENGINE_IDEM_KEY_LEN 35

/* ---- Workflow definitions ----------------------------------------------------------------- */

/* A compiled, validated, immutable workflow version. Reference-counted, shareable across
 * threads. */
struct mh_wf;

/*
 * Validates a definition document ({"nodes": [...], "edges": [...]}, see docs/workflows.md).
 * Always sets *errors (when non-NULL) to a new JSON array of every problem found, each
 * {"path": "/nodes/2/config/expression", "code": "...", "message": "...", "offset"?: n, "node"?:
 * id}; the array is empty when the definition is valid. Returns MH_OK when valid, MH_EINVAL when
 * not. `def` is borrowed.
 */
MH_MUSTCHECK enum mh_err mh_engine_wf_validate(json_t *def, json_t **errors);

/*
 * The secrets `def` (borrowed; any document, valid or not) names, per node: a new object
 * {node_id: [NAME...]} of every http_call whose url, header or query values or body template
 * hold `{{secrets.NAME}}`, or whose request is signed with a secret. Nodes naming none are
 * absent. Pure; any thread.
 */
json_t *mh_engine_secret_refs(json_t *def);

/*
 * Validates and compiles `def` into *out (a new reference the caller drops with
 * mh_engine_wf_unref). On MH_EINVAL, *errors (when non-NULL) holds the error array described at
 * mh_engine_wf_validate; on success *errors is an empty array. The compiled workflow copies
 * what it needs and keeps no reference to `def`.
 */
MH_MUSTCHECK enum mh_err mh_engine_wf_compile(json_t *def, struct mh_wf **out, json_t **errors);

/* Adds a reference (thread-safe) and returns `wf`. */
struct mh_wf *mh_engine_wf_ref(struct mh_wf *wf);
/* Drops a reference (thread-safe); frees on the last one. NULL-tolerant. */
void mh_engine_wf_unref(struct mh_wf *wf);

/* Number of nodes, and the id of node `i` (borrowed from `wf`), in definition order. */
size_t mh_engine_wf_node_count(const struct mh_wf *wf);
const char *mh_engine_wf_node_id(const struct mh_wf *wf, size_t i);
/* The type name of node `node_id`, or NULL when there is no such node. Borrowed from `wf`. */
const char *mh_engine_wf_node_type(const struct mh_wf *wf, const char *node_id);
/* Whether a run that failed at node `node_id` belongs in the dead-letter list: the node's type
 * depends on the outside world (an http_call), so replaying the run may succeed. False for an
 * unknown node. */
bool mh_engine_wf_node_is_dead_letter(const struct mh_wf *wf, const char *node_id);

/* Whether node `i` of `wf` waits for a callback (a wait_callback node): the caller issues its
 * URL (struct mh_engine_input's callback_urls). */
bool mh_engine_wf_node_waits_for_callback(const struct mh_wf *wf, size_t i);

/* ---- Node types --------------------------------------------------------------------------- */

/*
 * A new JSON array describing every node type, in a stable order, for `GET /api/node-types`:
 * [{"type": "transform", "title": "...", "description": "...", "config_schema": {...}}]. The
 * config schemas are JSON Schema 2020-12 documents with titles, descriptions and defaults a
 * form renderer can use; string fields holding JMESPath or templates carry
 * "x-meshhook-syntax": "jmespath" or "template".
 */
json_t *mh_engine_node_types(void);

/* The number of registered node types, and the name of the i-th (static; NULL past the end), in
 * the table's order. */
size_t mh_engine_node_type_count(void);
const char *mh_engine_node_type_name(size_t i);

/* A new reference to the config schema of node type `type`, or NULL for an unknown type. */
json_t *mh_engine_node_type_schema(const char *type);

/*
 * Checks that `src` (NUL-terminated) compiles as the editor's field would: a JMESPath
 * expression, or with `is_template` a `{{ expr }}` template (with `is_url` too, an http_call url
 * template, whose values may not form the scheme or host and which allows {{raw expr}}), by the
 * compilers validation uses.
 * MH_OK when it compiles; otherwise MH_EJMESPATH (JMESPath syntax) or MH_EINVAL (template
 * syntax), with info->kind "jmespath_syntax" or "template_syntax" as validation's error codes,
 * info->message and info->offset (the byte offset into `src`). MH_ETOOBIG past
 * MH_JP_MAX_EXPR_BYTES.
 */
MH_MUSTCHECK enum mh_err mh_engine_expr_check(const char *src, bool is_template, bool is_url,
                                              struct mh_err_info *info);

/* ---- Templates ---------------------------------------------------------------------------- */

/*
 * Renders a `{{ expr }}` template (docs/workflows.md): each expr is JMESPath evaluated against
 * `ctx`; strings are inserted as they are, null as nothing, other values as compact JSON.
 * `{{secrets.NAME}}` placeholders of the template's text are copied through literally for
 * send-time resolution; a value from the data is inserted as it is, even when it reads like a
 * placeholder (the sender resolves only the template's own placeholders). *out is a new
 * malloc'd string. Errors: MH_EINVAL (an unterminated or empty `{{ }}`, or `{{raw expr}}`, which
 * only url templates take), MH_EJMESPATH (an expression that does not compile or fails to
 * evaluate), MH_ETOOBIG; for syntax errors info->offset is the byte offset into `tpl`.
 */
MH_MUSTCHECK enum mh_err mh_engine_template_render(const char *tpl, json_t *ctx, char **out,
                                                   struct mh_err_info *info);

/*
 * As mh_engine_template_render for an http_call url: each value is percent-encoded for the part
 * of the url it lands in (a path segment or a query or fragment value; `{{raw expr}}` keeps the
 * URL's delimiters such as '/' and '?'), and a template where a value would land in the scheme
 * or the host fails with MH_EINVAL at the offset of that value's `{{`.
 */
MH_MUSTCHECK enum mh_err mh_engine_url_template_render(const char *tpl, json_t *ctx, char **out,
                                                       struct mh_err_info *info);

/* ---- The request as sent ----------------------------------------------------------------- */

/* An http_call request with its secrets in (mh_engine_request_resolve): it holds secret values,
 * so it lives in memory only, and mh_engine_wire_cleanup wipes it. */
struct mh_engine_wire {
    char *url;    /* the query appended, percent-encoded, before any fragment */
    char **lines; /* "Name: value", NULL-terminated, with room for the spare lines asked for */
    size_t n_lines;
    char *body; /* NULL when the request has no body */
    size_t body_len;
};

/*
 * Builds the wire form of `request` (an action's request, see struct mh_engine_action) with the
 * secret values of `values` (name -> string; borrowed): each placeholder is replaced at the
 * spans the request's "placeholders" record, and nowhere else, so text from the data is sent
 * as it is. `out` is caller-allocated; its fields are new, released by mh_engine_wire_cleanup;
 * `lines` has room for `spare_lines` more lines (signature headers). Errors leave `out` empty:
 * MH_EINVAL with info->kind "invalid_request" for spans that do not match the text, a request
 * with secrets but no spans (recorded before spans were), or a header value that holds a
 * control character once resolved; kind "secret" for a secret missing from `values`;
 * MH_ETOOBIG. Messages name fields and secrets, never values. Pure; any thread.
 */
MH_MUSTCHECK enum mh_err mh_engine_request_resolve(json_t *request, json_t *values,
                                                   size_t spare_lines, struct mh_engine_wire *out,
                                                   struct mh_err_info *info);
/* Wipes and frees the fields of `w` and zeroes it; NULL-tolerant. */
void mh_engine_wire_cleanup(struct mh_engine_wire *w);

/*
 * Whether the scheme, host or port of `request`'s url (an action's request, placeholders
 * unresolved) holds a secret: a placeholder span starts before the url's authority ends. Then
 * the origin as sent must never be shown, and `shown` (optional, `cap` bytes) receives the
 * url's own text up to the end of its authority, placeholders literal
 * ("https://{{secrets.TENANT}}.example.com"), cut to fit. Pure; any thread.
 */
bool mh_engine_request_origin_is_secret(json_t *request, char *shown, size_t cap);

/* ---- Events ------------------------------------------------------------------------------- */

/* Event type names (docs/internals/engine.md has the payload of each). */
#define MH_EV_RUN_STARTED     "run_started"
#define MH_EV_STEP_STARTED    "step_started"
#define MH_EV_STEP_SUCCEEDED  "step_succeeded"
#define MH_EV_STEP_FAILED     "step_failed"
#define MH_EV_STEP_SKIPPED    "step_skipped"
#define MH_EV_HTTP_ATTEMPT    "http_attempt"
#define MH_EV_RETRY_SCHEDULED "retry_scheduled"
#define MH_EV_TIMER_SET       "timer_set"
#define MH_EV_TIMER_FIRED     "timer_fired"
#define MH_EV_RUN_SUCCEEDED   "run_succeeded"
#define MH_EV_RUN_FAILED      "run_failed"
#define MH_EV_RUN_CANCELED    "run_canceled"
#define MH_EV_RUN_TIMED_OUT   "run_timed_out"
#define MH_EV_STEP_PARKED     "step_parked"
#define MH_EV_STEP_RESUMED    "step_resumed"
/* wait_callback (docs/workflows.md): the URLs issued for the run's callback nodes (run-level),
 * and the report of a callback's body (mh_engine_event_callback). */
#define MH_EV_CALLBACKS_ISSUED  "callbacks_issued"
#define MH_EV_CALLBACK_RECEIVED "callback_received"
/* call_workflow: the child run the step started finished (a report, like http_attempt). */
#define MH_EV_CHILD_FINISHED "child_finished"

/*
 * One event of a run's log: the row (run_id, seq, type, node_id, attempt, payload, at, hash) of
 * the events table, minus the run id. `node_id` is "" for run-level events and `attempt` is 0
 * where it does not apply. `payload` is a JSON object (NULL reads as {}). `at_ms` is the
 * caller's clock reading, in milliseconds since the Unix epoch, when the event was decided; it
 * is part of the hashed encoding, so store it losslessly. `hash` is SHA-256(previous event's
 * hash || canonical encoding of this event), see mh_engine_event_encode.
 *
 * Events the engine returns hold one reference to their payload, released by
 * mh_engine_event_cleanup. Events the caller builds follow the caller's rules; the engine only
 * borrows them.
 */
struct mh_event {
    int64_t seq;
    char type[MH_ENGINE_TYPE_MAX + 1];
    char node_id[MH_ENGINE_STEP_ID_MAX + 1];
    int attempt;
    json_t *payload;
    int64_t at_ms;
    uint8_t hash[MH_ENGINE_HASH_LEN];
};

/*
 * Fills `ev` from database columns: copies `type` and `node_id` (NULL reads as "") and takes a
 * new reference to `payload` (NULL allowed). `hash` (NULL allowed: zeros) is copied. MH_EINVAL
 * when a string is too long for the fixed fields; `ev` is then zeroed. Release with
 * mh_engine_event_cleanup.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_init(struct mh_event *ev, int64_t seq, const char *type,
                                              const char *node_id, int attempt, json_t *payload,
                                              int64_t at_ms, const uint8_t *hash);
/* Drops the payload reference and zeroes `ev`. NULL-tolerant. */
void mh_engine_event_cleanup(struct mh_event *ev);

/*
 * The first event of a run (seq 1, already sealed). `trigger` is the trigger object the nodes
 * see as `trigger`: {"body", "headers", "query", "received_at"} (further members are kept).
 * `extra` (optional, an object) is merged into the payload outside the context, for what the
 * intake must record but the nodes need not see (the raw bytes, the id of the verifying key).
 * `payload_json` (NULL allowed) receives the payload's canonical JSON, as for
 * mh_engine_event_seal_json. Borrowed: every argument. MH_EINVAL on a bad argument.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_run_started(const char *run_id, const char *workflow_id,
                                                     int64_t version, bool is_test, json_t *trigger,
                                                     json_t *extra, int64_t at_ms,
                                                     struct mh_event *out, char **payload_json);

/*
 * The outcome of one HTTP attempt as the sender saw it. Either `error_kind` is NULL and the
 * response fields are set, or `error_kind` names a failure that produced no response:
 * "timeout", "connection", "dns" (retryable), "tls", "too_big", "invalid_request" or "other"
 * (not retryable).
 */
struct mh_engine_http_outcome {
    int status;
    json_t *headers;  /* object name -> string; borrowed; NULL means {} */
    const char *body; /* response bytes, need not be NUL-terminated; NULL means none */
    size_t body_len;
    const char *error_kind;
    const char *error_message; /* optional */
    int64_t duration_ms;
};

/*
 * An unsealed http_attempt event (seq 0) reporting attempt `attempt` of node `node_id`, to pass
 * to mh_engine_advance as a report. `request` (optional, borrowed) is the request as it was
 * sent, placeholders unresolved (the action's request). A body that is valid UTF-8 without NUL
 * bytes is recorded as "body"; otherwise base64 in "body_b64". When the response's content-type
 * mentions json and the body parses, the parsed value is recorded as "json" too. MH_EINVAL on a bad
 * argument.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_http_result(const char *node_id, int attempt,
                                                     json_t *request,
                                                     const struct mh_engine_http_outcome *outcome,
                                                     int64_t at_ms, struct mh_event *out);

/*
 * An unsealed step_parked report: attempt `attempt` of node `node_id` was not sent because the
 * circuit breaker of `origin` ("scheme://host:port", borrowed, may be NULL) is open; the step
 * waits until `until_ms` (epoch ms), then resumes with the same attempt, none spent.
 * `reason` is "breaker_open". MH_EINVAL on a bad argument.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_parked(const char *node_id, int attempt,
                                                const char *reason, const char *origin,
                                                int64_t until_ms, int64_t at_ms,
                                                struct mh_event *out);

/*
 * An unsealed callback_received report: the callback of wait_callback step `node_id` arrived
 * with `body` (borrowed; NULL reads as null) at `received_at_ms`. It applies while the step is
 * pending (held until the step starts) or waiting, once. MH_EINVAL on a bad argument.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_callback(const char *node_id, json_t *body,
                                                  int64_t received_at_ms, int64_t at_ms,
                                                  struct mh_event *out);

/*
 * An unsealed child_finished report (call_workflow, docs/workflows.md "Sub-workflows"): the
 * child run `child_run_id` that attempt `attempt` of step `node_id` started has finished with
 * `status` ("succeeded", "failed" or "canceled"), on published version `version` (the version
 * "latest" resolved to; 0 when no child could be started), with `output` (succeeded) or `error`
 * ({"kind", "message"}, otherwise); both borrowed, may be NULL. MH_EINVAL on a bad argument.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_child_finished(const char *node_id, int attempt,
                                                        const char *child_run_id, int64_t version,
                                                        const char *status, json_t *output,
                                                        json_t *error, int64_t at_ms,
                                                        struct mh_event *out);

/* An unsealed run_canceled report. `reason` is optional. */
MH_MUSTCHECK enum mh_err mh_engine_event_cancel(const char *reason, int64_t at_ms,
                                                struct mh_event *out);

/* ---- Hash chain --------------------------------------------------------------------------- */

/*
 * Canonical JSON: object keys sorted by their UTF-8 bytes, no insignificant whitespace, strings
 * with only `"`, `\` and control characters escaped (\b \f \n \r \t, else \u00xx), integers in
 * decimal, and a real that is integral with magnitude below 2^53 written as an integer (so a
 * round trip through PostgreSQL jsonb cannot change the encoding); other reals in the shortest
 * %g form that reads back to the same double. Appends to `out`. MH_ETOOBIG past the buffer's
 * limit or 512 levels of nesting.
 */
MH_MUSTCHECK enum mh_err mh_engine_canonical_json(json_t *v, struct mh_buf *out);

/*
 * The canonical encoding of `ev`: "<seq>\n<type>\n<node_id>\n<attempt>\n<at_ms>\n<canonical
 * payload>", with decimal integers. *out is new (malloc'd, NUL-terminated), *len its length.
 * MH_ETOOBIG past MH_ENGINE_MAX_EVENT_BYTES.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_encode(const struct mh_event *ev, char **out, size_t *len);

/* Computes SHA-256(prev_hash || encoding(ev)) into `out`; `prev_hash` NULL means 32 zero bytes
 * (the first event of a run). */
MH_MUSTCHECK enum mh_err mh_engine_event_hash(const struct mh_event *ev, const uint8_t *prev_hash,
                                              uint8_t out[MH_ENGINE_HASH_LEN]);

/* Sets ev->seq and ev->hash so that `ev` follows an event whose hash is `prev_hash` (NULL for
 * seq 1). */
MH_MUSTCHECK enum mh_err mh_engine_event_seal(struct mh_event *ev, int64_t seq,
                                              const uint8_t *prev_hash);

/*
 * mh_engine_event_seal that also hands back, in *payload_json (new, NUL-terminated), the
 * canonical JSON of ev->payload it hashed. That text is valid JSON equal in value to the
 * payload, so whoever writes the event's row can send it instead of serializing the payload a
 * second time (the intake's hot path). *payload_json is NULL on error.
 */
MH_MUSTCHECK enum mh_err mh_engine_event_seal_json(struct mh_event *ev, int64_t seq,
                                                   const uint8_t *prev_hash, char **payload_json);

/*
 * Verifies a run's log: seq runs 1..n without gaps and every event's hash links to the stored
 * hash before it. Each link is checked on its own, so one edited event reports one break and a
 * deleted or moved event reports where the chain no longer links. *breaks receives a new array
 * of {"seq": n, "reason": "..."} (empty when intact). A truncated tail cannot be detected from
 * the log alone; compare the last hash with one stored elsewhere (the runs row).
 */
MH_MUSTCHECK enum mh_err mh_engine_chain_verify(const struct mh_event *events, size_t n,
                                                json_t **breaks);

/* ---- Run state (the fold) ----------------------------------------------------------------- */

enum mh_run_status {
    MH_RUN_QUEUED = 0,
    MH_RUN_RUNNING,
    MH_RUN_SUCCEEDED,
    MH_RUN_FAILED,
    MH_RUN_CANCELED,
};

enum mh_step_status {
    MH_STEP_PENDING = 0,
    MH_STEP_RUNNING,
    MH_STEP_WAITING_TIMER,
    MH_STEP_WAITING_RETRY,
    MH_STEP_SUCCEEDED,
    MH_STEP_FAILED,
    MH_STEP_SKIPPED,
    /* An http_call attempt that was not sent because its host's circuit breaker is open: parked
     * until fire_at (step_parked), then running again (step_resumed) with the same attempt. */
    MH_STEP_WAITING_BREAKER,
};

/* Static names: "queued", "running", ... and "pending", "running", "waiting_timer", ... */
const char *mh_engine_run_status_name(enum mh_run_status s);
const char *mh_engine_step_status_name(enum mh_step_status s);

struct mh_run_state;

/*
 * Folds `events` (seq 1..n, in order, the first a run_started) into a new state the caller frees
 * with mh_engine_state_destroy. Pure. MH_EINVAL (with the offending seq in info->offset) when the
 * log does not fit `wf`: an unknown node, an out-of-order seq, a step event in an impossible
 * state. Reports of an attempt that is no longer current are ignored, as advance would have.
 * The state keeps a reference to `wf`.
 */
MH_MUSTCHECK enum mh_err mh_engine_fold(const struct mh_wf *wf, const struct mh_event *events,
                                        size_t n, struct mh_run_state **out,
                                        struct mh_err_info *info);
void mh_engine_state_destroy(struct mh_run_state *st);

enum mh_run_status mh_engine_state_status(const struct mh_run_state *st);
/* PENDING for an unknown node. */
enum mh_step_status mh_engine_state_step_status(const struct mh_run_state *st, const char *node_id);
/* Attempts started so far (1 for a pure step that ran, 0 before). */
int mh_engine_state_step_attempts(const struct mh_run_state *st, const char *node_id);
/* Borrowed from `st` (NULL when none): a step's output, the run's output and the run's error. */
json_t *mh_engine_state_step_output(const struct mh_run_state *st, const char *node_id);
json_t *mh_engine_state_output(const struct mh_run_state *st);
json_t *mh_engine_state_error(const struct mh_run_state *st);

/*
 * A new JSON summary for the API: {"status", "output"?, "error"?, "steps": {"<id>": {"status",
 * "attempts", "output"?, "error"?, "fire_at"?}}}.
 */
json_t *mh_engine_state_to_json(const struct mh_run_state *st);

/*
 * The context node `node_id` sees (docs/architecture.md §4): {"trigger": ..., "steps": {"<id>":
 * {"output":
 * ...}} for every succeeded ancestor of the node, "run": {"id", "workflow", "version",
 * "is_test"}}. Only ancestors are included so that what a node sees never depends on how fast a
 * parallel branch ran. *out is new. MH_ENOTFOUND for an unknown node.
 */
MH_MUSTCHECK enum mh_err mh_engine_context_build(const struct mh_run_state *st, const char *node_id,
                                                 json_t **out);

/* ---- Advancing a run ---------------------------------------------------------------------- */

/* 64 uniformly random bits per call. The engine records every value it derives from a draw in
 * an event, so replay never calls this. */
typedef uint64_t (*mh_engine_random_fn)(void *ctx);

struct mh_engine_input {
    int64_t now_ms;             /* the caller's clock; stamped on every new event */
    int64_t run_timeout_ms;     /* 0: no per-run timeout */
    mh_engine_random_fn random; /* needed only when a retry gets scheduled */
    void *random_ctx;
    /* Outside outcomes to append first: http_attempt (mh_engine_event_http_result),
     * step_parked (mh_engine_event_parked) and run_canceled (mh_engine_event_cancel) reports,
     * unsealed. Borrowed. A report that no
     * longer applies (a duplicate delivery, an attempt that is not current, a finished run) is
     * counted in n_ignored and not appended. */
    const struct mh_event *reports;
    size_t n_reports;
    /* wait_callback: {"<node id>": {"url": "..."}} for every node of the workflow that waits for
     * a callback (mh_engine_wf_node_waits_for_callback); borrowed, may be NULL. The first
     * advance that has it records it (callbacks_issued), and every step sees it as
     * `callbacks`. */
    json_t *callback_urls;
};

enum mh_engine_action_kind {
    /* Send `request`; report the outcome with mh_engine_event_http_result. */
    MH_ACTION_HTTP = 1,
    /* Call mh_engine_advance again at or after fire_at_ms (a delay node or a retry backoff). */
    MH_ACTION_TIMER,
    /* The run finished with `status` (and `output` or `error`). */
    MH_ACTION_FINISHED,
    /* call_workflow: start the child run `request` describes ({"child_run_id", "workflow_id",
     * "version": n or "latest", "input"}) unless it exists; report its end with
     * mh_engine_event_child_finished. */
    MH_ACTION_CALL,
};

struct mh_engine_action {
    enum mh_engine_action_kind kind;
    char node_id[MH_ENGINE_STEP_ID_MAX + 1]; /* a step id (see above); "" for FINISHED */
    int attempt; /* HTTP: 1-based attempt; TIMER: the attempt it starts */
    /*
     * HTTP: {"method", "url", "headers": {name: value}, "query": {name: value}, "body"?: string,
     * "timeout_ms", "sign"?: {"secret": NAME}, "secrets": [NAME...], "idempotency_key"}, all
     * templates rendered and `{{secrets.NAME}}` placeholders still literal; "placeholders"
     * (when "secrets" is not empty) holds where they are: {"url": SPANS, "headers": {name:
     * SPANS}, "query": {name: SPANS}, "body": SPANS}, SPANS being [[start, end, NAME]...] byte
     * offsets. The sender resolves secrets at those spans only, then appends the query
     * (percent-encoded).
     */
    json_t *request;
    char idempotency_key[MH_ENGINE_IDEM_KEY_LEN + 1];
    int64_t timeout_ms;
    int64_t fire_at_ms;        /* TIMER */
    enum mh_run_status status; /* FINISHED */
    json_t *output;            /* FINISHED: the run's output, or NULL */
    json_t *error;             /* FINISHED: {"kind", "message", ...} when failed, or NULL */
};

/* Filled by mh_engine_advance; the caller zero-initialises it and frees it with
 * mh_engine_result_cleanup, whatever advance returned. */
struct mh_engine_result {
    struct mh_event *events; /* new events, sealed (seq and hash set), in append order */
    size_t n_events;
    struct mh_engine_action *actions;
    size_t n_actions;
    size_t n_ignored;          /* reports that no longer applied */
    int64_t next_wake_ms;      /* earliest pending timer or retry (0: none) */
    int64_t deadline_ms;       /* when run_timeout_ms makes the run time out (0: none) */
    enum mh_run_status status; /* the run's status after the new events */
};

/*
 * The decision function. Folds `events` (the whole log so far), appends the valid reports, then
 * repeatedly runs every ready step whose work is pure (transform, branch, terminate, skips of
 * dead paths, due timers and retries), emitting the events that record each decision, until
 * only outside work remains. Returns the new events (to append in one transaction, at seq n+1
 * onwards; a unique-violation on (run_id, seq) means another worker advanced the run: reload
 * and call again) and the actions they call for, one HTTP action per http step started (so
 * independent steps run in parallel), one TIMER action per timer set and a FINISHED action when
 * the run ends. Calling it again on the same log with the same input yields the same result.
 * Errors: MH_EINVAL (a log that does not fit `wf`, a bad report, or a retry with no random
 * source), MH_ETOOBIG, MH_ECRYPTO. `out` is filled only on MH_OK.
 */
MH_MUSTCHECK enum mh_err mh_engine_advance(const struct mh_wf *wf, const struct mh_event *events,
                                           size_t n_events, const struct mh_engine_input *in,
                                           struct mh_engine_result *out, struct mh_err_info *info);

/*
 * Recovery after a crash: the actions still outstanding for the run (an http step started but
 * not reported, a timer or retry not yet due), without new events. Only `actions`, `status`,
 * `next_wake_ms` of `out` are filled.
 */
MH_MUSTCHECK enum mh_err mh_engine_pending(const struct mh_wf *wf, const struct mh_event *events,
                                           size_t n_events, struct mh_engine_result *out,
                                           struct mh_err_info *info);

void mh_engine_result_cleanup(struct mh_engine_result *r);

/*
 * The pure prefix of a new run (the intake's): mh_engine_advance on `events` at `now_ms`, cut
 * before the first event of a step that is not pure (an http_call started, a delay's timer set),
 * so that `out` holds only decisions of transform, branch, respond and terminate steps, skips
 * and the run's end. A worker that advances the run from the log plus these events records
 * exactly what it would have recorded after them in one advance from `events` (the decisions of
 * one pass follow the workflow's topological order). `out` is filled as by mh_engine_advance:
 * when the cut dropped events, its actions are empty and `status` is running (or queued when
 * nothing was kept); a run whose entry node is not pure is not folded at all (no events).
 * Errors as mh_engine_advance's.
 */
MH_MUSTCHECK enum mh_err mh_engine_advance_pure(const struct mh_wf *wf,
                                                const struct mh_event *events, size_t n_events,
                                                int64_t now_ms, struct mh_engine_result *out,
                                                struct mh_err_info *info);

/*
 * The answer a respond step recorded among `events` (the first step_succeeded of a respond
 * node): its output {"status", "headers", "body"?}, borrowed from the event, or NULL.
 */
json_t *mh_engine_response_of(const struct mh_wf *wf, const struct mh_event *events, size_t n);
/* Whether `wf` (or a for_each body of it) has a call_workflow node: only then does a worker look
 * for child runs to start or to report. */
bool mh_engine_wf_has_calls(const struct mh_wf *wf);
/* Whether `wf` has a wait_callback node: only then does a worker issue callback URLs and look
 * for the callbacks recorded for a run. Computed at compile, like has_calls. */
bool mh_engine_wf_has_callbacks(const struct mh_wf *wf);
/*
 * The workflows definition `def` (borrowed; any document) calls: a new array of {"node",
 * "path" (JSON pointer of the node's config/workflow_id), "workflow_id", "version" (an integer
 * or "latest")} for every call_workflow node, for_each bodies included. Pure; any thread.
 */
json_t *mh_engine_calls_of(json_t *def);

/* Whether `wf` has a respond node at all. */
bool mh_engine_wf_has_respond(const struct mh_wf *wf);
/* Whether a respond node may set the response header `name` (case-insensitive): hop-by-hop,
 * framing, cookie, CORS and security-policy headers are refused. */
bool mh_engine_respond_header_refused(const char *name);

/* ---- Mapping preview (preview.c) --------------------------------------------------------- */

struct mh_engine_preview_in {
    json_t *trigger;         /* {"body", "headers", "query", "received_at"?}; borrowed */
    json_t *extra;           /* recorded beside the trigger, as for mh_engine_event_run_started
                              * (a recorded delivery's {"delivery": ...}, from which the fold
                              * reads a JSON body kept as raw bytes); may be NULL */
    json_t *stand_ins;       /* node id -> stand-in (see mh_engine_preview_check); may be NULL */
    const char *workflow_id; /* shown to expressions as run.workflow; may be NULL */
    int64_t now_ms;          /* the caller's clock: the preview's start */
    /* The run identity expressions see (run.id, run.version, run.is_test): a preview's own
     * ("preview", 0, true) when run_id is NULL; a draft test passes the recorded run's. */
    const char *run_id;
    int64_t version;
    bool is_test;
};

/*
 * Checks a preview's stand-ins against `wf`: an object whose members name http_call nodes (a
 * response {"status"?: 100..599 (200), "headers"?: {name: string}, "body"?: any JSON, a string
 * sent as it is}) or delay nodes ({} or true: the timer fires). MH_EINVAL with the message and,
 * in info->path, the JSON pointer of the offending member relative to the stand-ins object.
 */
MH_MUSTCHECK enum mh_err mh_engine_preview_check(const struct mh_wf *wf, json_t *stand_ins,
                                                 struct mh_err_info *info);

/*
 * Evaluates `wf` on a sample trigger with mh_engine_advance, the workers' decision function, in
 * memory: no I/O, nothing sent or stored. The run proceeds as a test run would until it ends or
 * only outside work remains that has no stand-in (an http_call to send, a delay to wait); stood-in
 * calls get their response as the outcome of every attempt (so retries play out), and stood-in
 * delays fire at once (the preview's clock jumps to them, and a parallel delay due earlier fires
 * with them). *out is new: {"status": "succeeded"|"failed"|"stopped", "output"?, "error"?,
 * "trigger", "order": [node ids as decided], "stopped_at": [node ids], "steps": {id: {"type",
 * "status" (a step status, or "stopped"), "attempts", "stand_in", "output"?, "port"? (branch),
 * "request"? (http_call, secrets unresolved), "fire_at"?, "error"? (with "path" and "offset" of
 * the failing expression when a JMESPath evaluation failed)}}}. Errors: those of
 * mh_engine_preview_check, and MH_EINVAL / MH_ETOOBIG from the engine.
 */
MH_MUSTCHECK enum mh_err mh_engine_preview(const struct mh_wf *wf,
                                           const struct mh_engine_preview_in *in, json_t **out,
                                           struct mh_err_info *info);

/* ---- Draft test (drafttest.c) -------------------------------------------------------------- */

/*
 * A draft compared with what a recorded run produced (docs/api.md, "Testing a draft against past
 * deliveries"). `published` is the workflow the run executed and events[0..n) its log. The
 * draft is previewed on the run's recorded trigger, with the run's identity and start time,
 * and with each outside-world step answered by what the run recorded for the node of the same
 * id (a call's last response; a delay passes): nothing is sent or waited for. *out is new:
 * {"differs": bool, "not_simulated": [node ids the draft stopped at: no recorded answer],
 * "run": C, "nodes": {id: C}}, where a comparison C is {"equal": true, "status"} or {"equal":
 * false, "published": {"status", "output"?, "error"?} or null, "draft": the same, "paths"?:
 * [JSON pointers where the outputs differ, at most 20]}, with "stand_in": true on a node the
 * recorded run answered. Outputs and errors only where the sides differ, so that 500
 * deliveries stay a bounded answer. Errors: MH_EINVAL when the log does not fit `published` or
 * does not start with run_started; those of mh_engine_preview.
 */
MH_MUSTCHECK enum mh_err mh_engine_draft_compare(const struct mh_wf *draft,
                                                 const struct mh_wf *published,
                                                 const struct mh_event *events, size_t n,
                                                 json_t **out, struct mh_err_info *info);

/* ---- Replay ------------------------------------------------------------------------------- */

/*
 * Verifies the chain, re-folds the log and re-evaluates every pure step on the inputs recorded
 * before it: transform, branch and terminate outputs, and the request each http attempt was
 * built with. *report is a new object {"ok": bool, "events": n, "chain_breaks": [{"seq",
 * "reason"}], "divergences": [{"seq", "node", "field", "recorded", "recomputed"}], "errors":
 * [{"seq", "message"}]} (errors: the log stopped fitting the workflow, so the rest was not
 * re-evaluated). Returns MH_OK whenever the report was produced, whatever it says.
 */
MH_MUSTCHECK enum mh_err mh_engine_replay(const struct mh_wf *wf, const struct mh_event *events,
                                          size_t n, json_t **report);

/* Whether s is an RFC 3339 timestamp with a zone (2026-12-06T19:30:00Z, ...+01:00, fractions
 * allowed, a valid calendar date); if so *out_ms is its Unix time in milliseconds. The one
 * parser of such timestamps: the engine's `timestamp` inputs and the API's `since`/`until`. */
MH_MUSTCHECK bool mh_engine_parse_rfc3339(const char *s, int64_t *out_ms);

#endif
