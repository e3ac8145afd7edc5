/* SPDX-License-Identifier: MIT */
/*
 * Private to engine. The compiled workflow, the node type table, compiled templates, the run
 * state and the helpers the files of src/engine share. Nothing here is part of the module's API.
 */
#ifndef MH_ENGINE_INTERNAL_H
#define MH_ENGINE_INTERNAL_H

#include <stdatomic.h>

#include "core/buf.h"
#include "engine/engine.h"
#include "jmespath/jmespath.h"

/* ---- Templates (template.c) --------------------------------------------------------------- */

/* Where in a url an inserted value lands (MH_URL_NONE: not a url template). */
enum mh_tpl_url_pos { MH_URL_NONE = 0, MH_URL_PATH, MH_URL_QUERY, MH_URL_FRAGMENT };

struct mh_tpl_part {
    char *text; /* literal text, or the verbatim placeholder for a secret */
    size_t len;
    struct mh_jp_expr *expr; /* NULL for literal text and secrets */
    bool is_secret;
    bool is_raw;                 /* `{{raw expr}}` (url templates only) */
    enum mh_tpl_url_pos url_pos; /* url templates: where the value of `expr` lands */
    char *secret_name;           /* for secrets */
};

/* A compiled `{{ expr }}` template. Immutable once compiled. */
struct mh_tpl {
    struct mh_tpl_part *parts;
    size_t n_parts;
    bool is_url;
};

/*
 * Compiles `src`; on MH_EINVAL/MH_EJMESPATH `info` holds the message and the byte offset into
 * `src`. With `is_url`, each value's place in the url is decided from the template's own text
 * (and secrets), and a value that would land in the scheme or the host is MH_EINVAL; elsewhere
 * `{{raw expr}}` is MH_EINVAL.
 */
MH_MUSTCHECK enum mh_err mh_engine__tpl_compile(const char *src, bool is_url, struct mh_tpl **out,
                                                struct mh_err_info *info);
void mh_engine__tpl_destroy(struct mh_tpl *t);
/*
 * Renders into a new malloc'd string of *out_len bytes (optional; values may hold NUL bytes).
 * Url templates percent-encode each value for its place (docs/workflows.md). Each secret
 * placeholder of the template's text is copied verbatim; its name is appended to `secrets`
 * (optional, a JSON array, without duplicates) and [start, end, name] to `spans` (optional, a
 * JSON array), start and end being byte offsets into *out. Those spans are the only places the
 * sender resolves secrets (mh_engine_request_resolve). `as_text` inserts url values unencoded
 * (the legacy rendering of nodes/http_call.c's build_request).
 */
MH_MUSTCHECK enum mh_err mh_engine__tpl_render(const struct mh_tpl *t, json_t *ctx, bool as_text,
                                               json_t *secrets, json_t *spans, char **out,
                                               size_t *out_len, struct mh_err_info *info);

enum mh_url_encoding {
    MH_URL_ENCODE_VALUE,   /* a query value: all but A-Z a-z 0-9 - . _ ~ as %XX */
    MH_URL_ENCODE_SEGMENT, /* a path value: the same, and the dots of a value of dots alone */
    MH_URL_ENCODE_RAW,     /* `{{raw}}`: also keeps : / ? # [ ] @ ! $ & ' ( ) * + , ; = % */
};
/* Appends s[0..len) percent-encoded (upper-case hex); MH_ETOOBIG from the buffer. */
MH_MUSTCHECK enum mh_err mh_engine__url_encode(struct mh_buf *b, const char *s, size_t len,
                                               enum mh_url_encoding how);

/* ---- The request as sent (request.c) ------------------------------------------------------ */

/* True when `len` bytes may be an HTTP field value: no control character but tab. */
bool mh_engine__header_value_ok(const char *s, size_t len);

/* ---- Compiled workflow (definition.c, nodes.c) -------------------------------------------- */

struct mh_node_type;

/*
 * A node's retry policy (retry.c, docs/workflows.md "Retries"): how many attempts a step gets
 * and the bounds of the exponential backoff with full jitter between them. It applies to the
 * node types whose failures come from the outside world (`is_dead_letter`); any other type's
 * step has one attempt, since its failure (an expression error on recorded inputs) is
 * deterministic and a retry would fail the same way.
 */
struct mh_retry_policy {
    int max_attempts; /* including the first; 1 disables retries */
    int64_t base_delay_ms;
    int64_t max_delay_ms;
};

struct mh_wf_node {
    char *id;
    char *type_name;
    /* The node's type; NULL only for a node of an unknown type in a definition that fails. */
    const struct mh_node_type *type;
    /* The config as the type compiled it (type->compile); owned and freed by type->release. */
    void *impl;
    /* graph: indexes into mh_wf.edges */
    size_t *in;
    size_t n_in;
    size_t *out;
    size_t n_out;
    /* ancestors as a bitset of n_nodes bits */
    uint64_t *ancestors;
    /* A node that runs a sub-graph (for_each): its compiled body, a workflow of its own whose
     * steps run once per item (docs/internals/node-types.md). Owned; NULL for other nodes. */
    struct mh_wf *body;
    /* Engine-level settings every type has (definition.c, docs/workflows.md "Error paths"). */
    struct mh_retry_policy retry;
    bool has_retry_config;  /* the type's compile set `retry` from its own config (http_call) */
    bool on_error_continue; /* "on_error": "continue": a failure is recorded and the run goes on */
    bool has_error_edge;    /* an edge with port "error" leaves the node */
};

/* An edge's port: a branch's "true"/"false", or "error" (out of any node that can fail: taken
 * only when the node's step failed, and then the only edge taken). */
enum { MH_PORT_NONE = -1, MH_PORT_FALSE = 0, MH_PORT_TRUE = 1, MH_PORT_ERROR = 2 };

struct mh_wf_edge {
    size_t from;
    size_t to;
    int port;
};

struct mh_wf {
    atomic_int refs;
    struct mh_wf_node *nodes;
    size_t n_nodes;
    struct mh_wf_edge *edges;
    size_t n_edges;
    size_t entry;
    size_t *topo; /* node indexes in a topological order, ties broken by definition order */
    /* Set once at compile, so a worker's decision does not scan the nodes for them: */
    bool has_calls;     /* a call_workflow node, here or in a for_each body */
    bool has_callbacks; /* a wait_callback node (top level: bodies may not have one) */
    /* The parts of a JSON webhook body the pure steps can read (mh_engine__wf_body_reads), or
     * NULL for all of it. Owned. */
    json_t *body_reads;
};

/* ---- The body's parts the pure steps read (body.c) ---------------------------------------- */

/* What mh_jp_add_reads says the nodes that can run in the intake's pure prefix (the pure types)
 * read of trigger.body: a new trie ({} when nothing), or NULL for the whole body. */
json_t *mh_engine__wf_body_reads(const struct mh_wf *wf);
/* The JSON text s[0..n) as the fold parses a raw body, keeping only the parts `reads` names
 * (all of it when NULL), new in *out. For text the intake's check accepted (duplicate names
 * are not looked for in the parts skipped); MH_EINVAL when it does not parse. */
MH_MUSTCHECK enum mh_err mh_engine__body_pick(const char *s, size_t n, json_t *reads, json_t **out);

/* Index of node `id` in `wf`, or -1. */
long mh_engine__node_index(const struct mh_wf *wf, const char *id);
bool mh_engine__is_ancestor(const struct mh_wf *wf, size_t node, size_t maybe_ancestor);

/* ---- Node types (nodes.c, nodes/<type>.c; docs/internals/node-types.md) ------------------- */

struct mh_advance;
struct mh_replay;
struct mh_run_state;
struct mh_step_state;

/* The step events whose admission depends on the node's type (struct mh_node_type's admit). */
enum mh_node_event {
    MH_NODE_EV_START,    /* step_started */
    MH_NODE_EV_ATTEMPT,  /* the report http_attempt */
    MH_NODE_EV_TIMER,    /* timer_set */
    MH_NODE_EV_SUCCEED,  /* step_succeeded */
    MH_NODE_EV_CALLBACK, /* the report callback_received (wait_callback) */
};

/* Where a node's outgoing edges go. */
enum mh_node_out {
    MH_NODE_OUT_PLAIN, /* edges without a port */
    MH_NODE_OUT_PORTS, /* every edge has port "true" or "false"; the step records which it took */
    MH_NODE_OUT_NONE,  /* no outgoing edges: the node ends the run */
};

/*
 * One node type: what it is called and documented as, its config schema, and every operation
 * the engine performs on a node of this type. Every member is set (tests/unit/test_engine_nodes.c
 * checks it); a type with nothing to do for an operation names the shared no-op below. The
 * operations run on the caller's thread, keep no state of their own and are pure: what a node
 * does depends on its config, the run state and the caller's inputs alone.
 */
struct mh_node_type {
    const char *name;
    const char *title;
    const char *description;
    const char *schema; /* JSON text of the config's JSON Schema, served by GET /api/node-types */
    enum mh_node_out out;
    /* Whether a run that failed at a node of this type goes to the dead-letter list (its failure
     * came from the outside world, so replaying the run may succeed). */
    bool is_dead_letter;
    /* Whether the node waits for a callback at a URL the worker issues for it (wait_callback):
     * such a node can fail (its timeout), takes no retry policy, and is refused in a for_each
     * body. */
    bool waits_for_callback;

    /* Compiles `cfg` (already valid per `schema`) into n->impl, appending an error object to
     * `errors` for every problem the schema cannot express (a JMESPath expression or template
     * that does not compile, a bad duration); `path` is the JSON pointer of the node's config.
     * Returns the number of errors added. Sets n->impl even when it adds errors. */
    size_t (*compile)(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
    /* Frees n->impl (which may be NULL or partly compiled). */
    void (*release)(void *impl);
    /* A type whose whole config is one JMESPath expression (transform, branch): the member that
     * holds it, for MH_NODE_EXPR_OPS; NULL for the others. */
    const char *expr_member;

    /* decide.c: starts the pending step `i`, whose predecessors let it run. A pure type records
     * its outcome at once; a type that waits for the outside world records what it waits for
     * and adds the action to take. */
    enum mh_err (*start)(struct mh_advance *a, size_t i);
    /* decide.c: moves on the step `i` that start left running or waiting, when what it waits
     * for has come (a result reported, a timer due); sets *progress when it recorded anything.
     * Never called for pending or finished steps. */
    enum mh_err (*resume)(struct mh_advance *a, size_t i, bool *progress);
    /* decide.c (mh_engine_pending): adds the actions step `i` still waits on, as recorded. */
    void (*pending)(struct mh_advance *a, size_t i);
    /* fold.c: NULL when an event of kind `what` may apply to step `s` of a node of this type,
     * else why not. A refused report is ignored as stale; a refused event of the engine's own
     * means a foreign log. The fold's state checks (the step's status, attempt and timer) come
     * on top. */
    const char *(*admit)(const struct mh_step_state *s, enum mh_node_event what);
    /* A pure node's outcome in `ctx` (new on success); MH_EJMESPATH with `info` on an
     * expression error. Replay recomputes recorded outcomes with it. */
    enum mh_err (*eval)(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);
    /* replay.c: checks recorded event `ev` of node `i`, before it is applied, against what the
     * node would decide in the state the events before it describe. */
    void (*replay)(struct mh_replay *r, const struct mh_event *ev, size_t i);
    /* The JMESPath expression a failure of the node's step comes from and the config member
     * holding it (for the editor to underline), or NULL. Borrowed from the node. */
    const struct mh_jp_expr *(*error_expr)(const struct mh_wf_node *n, const char **member);
    /* preview.c: checks the stand-in `v` a preview supplies for node `n` (a response for a call,
     * {} for a timer); MH_EINVAL with `info` (its path relative to the stand-in) when it is not
     * one. */
    enum mh_err (*check_stand_in)(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info);
    /* drafttest.c: the stand-in for node `n` taken from a recorded run's log (what the outside
     * world answered that run: a call's last response), a new reference; NULL when the log
     * recorded none, so a draft test stops at the node. */
    json_t *(*recorded_stand_in)(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events);
    /* refs.c: appends the secret names config `cfg` (as written, maybe invalid) uses to `names`
     * (a JSON array, without duplicates). */
    void (*secret_refs)(json_t *cfg, json_t *names);
    /* body.c: adds to `trie` what the node's compiled expressions can read of the context
     * (mh_jp_add_reads); false when they may read all of it. Consulted for the pure types, whose
     * steps the intake decides on a body built only as far as they read. */
    bool (*reads)(const struct mh_wf_node *n, json_t *trie);
};

/* The registered types, in the order GET /api/node-types lists them; at most this many. */
#define MH_ENGINE__MAX_NODE_TYPES 32
size_t mh_engine__node_type_count(void);
const struct mh_node_type *mh_engine__node_type_at(size_t i);
/* The type named `name`, or NULL. */
const struct mh_node_type *mh_engine__node_type(const char *name);
/* Releases the node's compiled config and graph arrays, leaving it zeroed. */
void mh_engine__node_release(struct mh_wf_node *n);

/* Shared operations for types with nothing to do (nodes.c). */
enum mh_err mh_engine__node_resume_none(struct mh_advance *a, size_t i, bool *progress);
void mh_engine__node_pending_none(struct mh_advance *a, size_t i);
enum mh_err mh_engine__node_eval_none(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                                      struct mh_err_info *info);
void mh_engine__node_replay_none(struct mh_replay *r, const struct mh_event *ev, size_t i);
const struct mh_jp_expr *mh_engine__node_error_expr_none(const struct mh_wf_node *n,
                                                         const char **member);
/* Refuses any stand-in, naming the types that take one. */
enum mh_err mh_engine__node_stand_in_none(const struct mh_wf_node *n, json_t *v,
                                          struct mh_err_info *info);
void mh_engine__node_secret_refs_none(json_t *cfg, json_t *names);
/* "May read anything" (body.c): the types the pure prefix never evaluates. */
bool mh_engine__node_reads_all(const struct mh_wf_node *n, json_t *trie);
/* What the expressions of a compiled template read (body.c); NULL reads nothing. */
bool mh_engine__tpl_add_reads(const struct mh_tpl *tpl, json_t *trie);
json_t *mh_engine__node_recorded_none(const struct mh_wf_node *n, const struct mh_event *events,
                                      size_t n_events);
/* The admission of a pure type: its steps are decided at once, never started or parked. */
const char *mh_engine__node_admit_pure(const struct mh_step_state *s, enum mh_node_event what);
/* The operations a pure type that never waits shares (designated initializers for its table,
 * after its own): nothing to resume or report pending, admitted at once, replayed by
 * re-evaluation, no stand-in, no secret named. */
#define MH_NODE_PURE_OPS                                                                           \
    .resume = mh_engine__node_resume_none, .pending = mh_engine__node_pending_none,                \
    .admit = mh_engine__node_admit_pure, .replay = mh_engine__replay_pure,                         \
    .check_stand_in = mh_engine__node_stand_in_none,                                               \
    .recorded_stand_in = mh_engine__node_recorded_none,                                            \
    .secret_refs = mh_engine__node_secret_refs_none
/* The start of a pure type (decide.c): evaluates type->eval and records the step's outcome. */
MH_MUSTCHECK enum mh_err mh_engine__node_start_pure(struct mh_advance *a, size_t i);
/* The same, and *kept (when not NULL) gets a new reference to the output recorded, or NULL when
 * the step did not succeed. */
MH_MUSTCHECK enum mh_err mh_engine__start_pure(struct mh_advance *a, size_t i, json_t **kept);

/* Compile helpers for the types (nodes.c). Each returns the number of errors it added to
 * `errors`; `path` is the JSON pointer of the value compiled. */
size_t mh_engine__compile_expr(const char *src, const char *path, const char *node_id,
                               struct mh_jp_expr **out, json_t *errors);
/* The expression in the string member `member` of `cfg` (its pointer: `path`/`member`). */
size_t mh_engine__compile_member(json_t *cfg, const char *path, const char *member,
                                 const char *node_id, struct mh_jp_expr **out, json_t *errors);
size_t mh_engine__compile_tpl(const char *src, bool is_url, const char *path, const char *node_id,
                              struct mh_tpl **out, json_t *errors);
/* Types whose compiled config is one expression (transform, branch): the expression in member
 * type->expr_member becomes the node's impl itself (a struct mh_jp_expr *), which is also what a
 * failure of its step comes from. Their compile, release and error_expr, after `.expr_member`: */
size_t mh_engine__compile_expr_impl(struct mh_wf_node *n, json_t *cfg, const char *path,
                                    json_t *errors);
void mh_engine__release_expr_impl(void *impl);
const struct mh_jp_expr *mh_engine__error_expr_impl(const struct mh_wf_node *n,
                                                    const char **member);
bool mh_engine__reads_expr_impl(const struct mh_wf_node *n, json_t *trie);
#define MH_NODE_EXPR_OPS(member)                                                                   \
    .expr_member = (member), .compile = mh_engine__compile_expr_impl,                              \
    .release = mh_engine__release_expr_impl, .error_expr = mh_engine__error_expr_impl,             \
    .reads = mh_engine__reads_expr_impl
/* A new string: `base` + "/" + `token` escaped as a JSON pointer token (~ -> ~0, / -> ~1). */
char *mh_engine__pointer_join(const char *base, const char *token);
/* The integer member `key` of `obj`, or `dflt`. */
int64_t mh_engine__int_or(json_t *obj, const char *key, int64_t dflt);

/* How each type's JSON Schema (its `schema`) opens. */
#define MH_NODE_SCHEMA_HEAD "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","

/* The types (nodes/<type>.c), registered in nodes.c. */
extern const struct mh_node_type mh_engine__node_transform;
extern const struct mh_node_type mh_engine__node_branch;
extern const struct mh_node_type mh_engine__node_delay;
extern const struct mh_node_type mh_engine__node_terminate;
extern const struct mh_node_type mh_engine__node_http_call;
extern const struct mh_node_type mh_engine__node_for_each;
extern const struct mh_node_type mh_engine__node_respond;
extern const struct mh_node_type mh_engine__node_wait_callback;
extern const struct mh_node_type mh_engine__node_call_workflow;

/* Appends {"path", "code", "message", "offset"?, "node"?} to `errors`. */
void mh_engine__add_error(json_t *errors, const char *path, const char *code, const char *node,
                          long offset, const char *fmt, ...) MH_PRINTF(6, 7);

/* ---- Time and durations (timefmt.c) ------------------------------------------------------- */

/* "250ms", "5s", "1h30m", "2d" or ISO 8601 "PT5S", "P1DT2H", "PT0.5S". Max 366 days. */
bool mh_engine__parse_duration(const char *s, int64_t *out_ms);
/* RFC 3339 "2024-01-02T03:04:05.678Z" / "+02:00" -> epoch ms. */
bool mh_engine__parse_rfc3339(const char *s, int64_t *out_ms);
/* Formats epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into `out` (at least 32 bytes). */
void mh_engine__format_rfc3339(int64_t ms, char *out, size_t cap);

/* ---- Run state (fold.c) ------------------------------------------------------------------- */

struct mh_step_state {
    enum mh_step_status status;
    int attempts;
    int port;         /* branch: MH_PORT_TRUE / MH_PORT_FALSE once succeeded */
    json_t *output;   /* succeeded */
    json_t *wrapper;  /* {"output": output} or, failed, {"error": error}: the context's entry */
    json_t *error;    /* failed */
    json_t *request;  /* http_call: the request of the first attempt */
    json_t *result;   /* http_call: the http_attempt payload of the current attempt;
                       * wait_callback: the callback_received payload (held while pending) */
    int64_t fire_at;  /* waiting_timer / waiting_retry / waiting_breaker (parked until) */
    bool timer_fired; /* delay: timer_fired recorded, step_succeeded not yet */
    bool continued;   /* failed, and the run went on along its normal edges ("on_error") */
    bool error_edge_taken; /* failed, and the run went on along the error edge */
    char idem_key[MH_ENGINE_IDEM_KEY_LEN + 1];
    /* A node with a body, once started: one state per item, whose steps are the body's
     * (created by the fold from step_started's "items"). */
    struct mh_run_state **items;
    size_t n_items;
};

struct mh_run_state {
    struct mh_wf *wf;
    enum mh_run_status status;
    json_t *trigger;
    /* The trigger's body holds only what the pure steps read (wf->body_reads): the intake's
     * pure prefix (mh_engine__fold_partial). */
    bool is_body_partial;
    json_t *run; /* {"id", "workflow", "version", "is_test"} */
    char run_id[128];
    int64_t started_at;
    json_t *output;
    json_t *error;
    json_t *callbacks; /* callbacks_issued's {"<node>": {"url"}}, or NULL */
    struct mh_step_state *steps;
    int64_t last_seq;
    uint8_t last_hash[MH_ENGINE_HASH_LEN];
    bool has_started;
    /* An item of a for_each (st->wf is the body): the run's state, the index of the for_each
     * node in it, the item and its index as the body sees them, and the prefix of the item's
     * step ids, "<node>[<index>]." ("" for the run itself). Events, seq and hash live in the
     * run's state only. */
    const struct mh_run_state *parent;
    size_t parent_node;
    json_t *item;
    size_t index;
    char scope[MH_ENGINE_STEP_ID_MAX + 1];
};

MH_MUSTCHECK enum mh_err mh_engine__state_create(const struct mh_wf *wf, struct mh_run_state **out);
/* mh_engine_fold, building of a raw JSON body only the parts the pure steps read
 * (wf->body_reads): for the intake's pure prefix, whose body the intake checked, and whose
 * state is used for nothing else. */
MH_MUSTCHECK enum mh_err mh_engine__fold_partial(const struct mh_wf *wf,
                                                 const struct mh_event *events, size_t n,
                                                 struct mh_run_state **out,
                                                 struct mh_err_info *info);
/*
 * Applies one event. `strict` = false ignores events that no longer apply (stale reports) and
 * sets *ignored; with `strict` they are MH_EINVAL. `info` gets the reason on error.
 */
MH_MUSTCHECK enum mh_err mh_engine__state_apply(struct mh_run_state *st, const struct mh_event *ev,
                                                bool *ignored, struct mh_err_info *info);
bool mh_engine__run_finished(const struct mh_run_state *st);
/* Whether an outside report (http_attempt, step_parked, run_canceled) still applies to `st`
 * (its step id resolved with mh_engine__resolve). */
bool mh_engine__report_applies(struct mh_run_state *st, const struct mh_event *ev);
/* The context of node `node` (context.c); new. In an item's state, the steps of the for_each's
 * context come first, and "item" and "index" are added. */
json_t *mh_engine__context(const struct mh_run_state *st, size_t node);
/* An item's context with every succeeded step of its body (a for_each's "output"); new. */
json_t *mh_engine__item_context(const struct mh_run_state *st);
/*
 * Step ids (fold.c): the node a step id names, as an index into (*where)->wf's nodes, with
 * *where the state holding the step: `st` itself for a node id, the item's state for a body
 * step "<node>[<index>].<body node>" of a started for_each. -1 (and *where NULL) when there is
 * no such step.
 */
long mh_engine__resolve(struct mh_run_state *st, const char *step_id, struct mh_run_state **where);
/* The same on a compiled workflow, without a state: the index into (*where)->nodes. */
long mh_engine__wf_resolve(const struct mh_wf *wf, const char *step_id, const struct mh_wf **where);
/* An item's status from its body's steps: pending (none started), running, failed (a step
 * failed) or succeeded (every step succeeded or was skipped). */
enum mh_step_status mh_engine__item_status(const struct mh_run_state *it);
/* Creates the item states of step `node` (a node with a body) from `items` (borrowed). */
void mh_engine__items_create(struct mh_run_state *st, size_t node, json_t *items);

/* ---- Deciding (decide.c), for the node types' start and resume -------------------------- */

/* One call of mh_engine_advance (or mh_engine_pending): the state it moves on and what it has
 * decided so far. */
struct mh_advance {
    const struct mh_wf *wf;
    struct mh_run_state *st;
    const struct mh_engine_input *in; /* NULL in mh_engine_pending */
    int64_t now;
    struct mh_engine_result *res;
    size_t cap_events;
    size_t cap_actions;
    struct mh_err_info *info;
    /* A for_each item's advance (wf: the body, st: the item's state): the run's advance, which
     * seals, applies and returns the events and actions it decides under the item's step ids.
     * NULL at the top. */
    struct mh_advance *parent;
};

/* One pass over a->wf's steps in topological order: starts ready steps, skips dead paths and
 * resumes waiting ones (decide.c); sets *progress when anything was recorded. A for_each runs
 * its items' bodies with it. */
MH_MUSTCHECK enum mh_err mh_engine__advance_steps(struct mh_advance *a, bool *progress);

/* Seals a new event of `type` (for node `node`, or -1 for the run) after the state's last one,
 * applies it to the state and appends it to the result. Steals `payload`. */
MH_MUSTCHECK enum mh_err mh_engine__emit(struct mh_advance *a, const char *type, long node,
                                         int attempt, json_t *payload);
/* Appends an action for node `node` (or -1) to the result; borrowed, valid until the next. */
struct mh_engine_action *mh_engine__add_action(struct mh_advance *a,
                                               enum mh_engine_action_kind kind, long node);
/* Fails step `i` (steals `error`) and with it the run, unless the node has an error edge or
 * "on_error": "continue" (the failure then has somewhere to go: the step_failed event records
 * which in "handled", and the run goes on). In an item's advance, only the step: the for_each
 * sees its item failed and fails in turn. */
MH_MUSTCHECK enum mh_err mh_engine__fail_step(struct mh_advance *a, size_t i, int attempt,
                                              json_t *error, bool retryable);
/* Records step `i`'s output (steals `output`; `extra`, stolen too, adds payload members), or
 * fails the step when the output is too large to record. */
MH_MUSTCHECK enum mh_err mh_engine__succeed_step(struct mh_advance *a, size_t i, int attempt,
                                                 json_t *output, json_t *extra);
/* A new step error {"kind", "message"}. */
json_t *mh_engine__error_obj(const char *kind, const char *message);
/* A timer action for step `i` and `attempt`, firing at `fire_at_ms`. */
void mh_engine__add_timer(struct mh_advance *a, size_t i, int attempt, int64_t fire_at_ms);

/* ---- Retries (retry.c) -------------------------------------------------------------------- */

/* The policy a node of type `t` has when its definition sets none: 3 attempts, 1 s to 60 s for a
 * type whose failures come from the outside world; one attempt for any other. */
struct mh_retry_policy mh_engine__retry_default(const struct mh_node_type *t);
/* Reads a retry object ({max_attempts, base_delay_ms, max_delay_ms}, all optional, already valid
 * per MH_ENGINE__RETRY_SCHEMA) into *p over its current values; adds an error at `path` when
 * max_delay_ms < base_delay_ms. Returns the number of errors added. */
size_t mh_engine__retry_parse(json_t *obj, const char *path, const char *node_id,
                              struct mh_retry_policy *p, json_t *errors);
/* The JSON Schema (text) of a retry object, shared by http_call's config.retry and the node
 * setting "retry" (a literal, so a type's schema can embed it). */
#define MH_ENGINE__RETRY_SCHEMA                                                                    \
    "{\"type\":\"object\",\"title\":\"Retry policy\","                                             \
    "\"properties\":{"                                                                             \
    "\"max_attempts\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20,\"default\":3,"           \
    "\"title\":\"Maximum attempts\",\"description\":\"Including the first; 1 disables "            \
    "retries.\"},"                                                                                 \
    "\"base_delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":3600000,"                   \
    "\"default\":1000,\"title\":\"Base delay (milliseconds)\"},"                                   \
    "\"max_delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400000,"                   \
    "\"default\":60000,\"title\":\"Maximum delay (milliseconds)\"}},"                              \
    "\"additionalProperties\":false}"
/*
 * The attempt `s->attempts` of step `i` failed with `error` (stolen). When `retryable` and the
 * node's policy allows another attempt, records retry_scheduled for attempt + 1 (full jitter
 * from the caller's random source, at least `retry_after_ms` when >= 0, clamped to a day) and
 * adds its timer: the type's resume starts the attempt once it is due. Otherwise fails the step
 * (mh_engine__fail_step), saying after how many attempts when it was retryable.
 */
MH_MUSTCHECK enum mh_err mh_engine__retry_or_fail(struct mh_advance *a, size_t i, json_t *error,
                                                  bool retryable, int64_t retry_after_ms);

/* ---- Replay (replay.c), for the node types' replay checks --------------------------------- */

struct mh_replay {
    const struct mh_wf *wf;
    struct mh_run_state *st; /* the state before the event checked */
    json_t *divergences;
};

/* A recorded failure (the event's "error") checked against the evaluation now: it diverges
 * when the evaluation now succeeds (`ok_value` non-NULL, reported under `ok_key`) or fails with
 * another message than `message`. */
void mh_engine__replay_failure(struct mh_replay *r, const struct mh_event *ev, const char *ok_key,
                               json_t *ok_value, const char *message);
/* Records a divergence of `field` in event `ev`; borrows both values (NULL reads as null). */
void mh_engine__replay_diverge(struct mh_replay *r, const struct mh_event *ev, const char *field,
                               json_t *recorded, json_t *recomputed);
/* The replay of a pure type: a recorded step_succeeded (its output, and its port for a type with
 * ports) or JMESPath step_failed is recomputed with type->eval. */
void mh_engine__replay_pure(struct mh_replay *r, const struct mh_event *ev, size_t i);

/* ---- Chain helpers (chain.c) -------------------------------------------------------------- */

/* Canonical (sorted keys) or ordered (insertion order) compact JSON. */
MH_MUSTCHECK enum mh_err mh_engine__json_write(json_t *v, bool sorted, struct mh_buf *out);
/* A new JSON string of `s` (NULL reads as ""), with bytes that are not valid UTF-8 replaced by
 * '?', so that a message truncated inside a multi-byte character still makes a string. Never
 * NULL. */
json_t *mh_engine__jstring(const char *s);
/* True when the canonical encodings of `a` and `b` are equal (NULL equals JSON null). */
bool mh_engine__json_same(json_t *a, json_t *b);
/*
 * `v` (NULL reads as JSON null) with the members of every object in the state's key order:
 * shorter keys first, then bytewise, which is the order PostgreSQL's jsonb keeps them in. A step
 * output enters the run state in this order whether it was just computed (in the order the
 * JMESPath expression or the HTTP response built it) or read back from the log, so keys(),
 * values(), to_string() and a request body built from it are the same live and on replay.
 * Returns a new reference: `v` itself when already in order (an output read from PostgreSQL
 * costs one walk), else an ordered deep copy. Dies on OOM.
 */
json_t *mh_engine__json_state_ordered(json_t *v);

#endif
