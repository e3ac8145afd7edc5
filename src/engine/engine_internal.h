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

enum mh_node_kind {
    MH_NODE_TRANSFORM = 0,
    MH_NODE_BRANCH,
    MH_NODE_DELAY,
    MH_NODE_TERMINATE,
    MH_NODE_HTTP_CALL,
};

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
 * (the legacy rendering of mh_engine__build_request).
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

struct mh_wf_kv {
    char *name;
    struct mh_tpl *tpl;
};

struct mh_wf_node {
    char *id;
    char *type_name;
    enum mh_node_kind kind;
    /* transform: expression; branch: condition; terminate: output (optional); delay: until
     * (optional); http_call: body.expression (optional). */
    struct mh_jp_expr *expr;
    /* delay */
    int64_t duration_ms; /* -1 when `until` is used */
    /* terminate */
    bool terminate_failed;
    /* http_call */
    char method[16];
    struct mh_tpl *url;
    struct mh_wf_kv *headers;
    size_t n_headers;
    struct mh_wf_kv *query;
    size_t n_query;
    struct mh_tpl *body_tpl;
    int64_t timeout_ms;
    int max_attempts;
    int64_t base_delay_ms;
    int64_t max_delay_ms;
    char *sign_secret;
    bool expect_json;
    /* graph: indexes into mh_wf.edges */
    size_t *in;
    size_t n_in;
    size_t *out;
    size_t n_out;
    /* ancestors as a bitset of n_nodes bits */
    uint64_t *ancestors;
};

enum { MH_PORT_NONE = -1, MH_PORT_FALSE = 0, MH_PORT_TRUE = 1 };

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
};

/* Index of node `id` in `wf`, or -1. */
long mh_engine__node_index(const struct mh_wf *wf, const char *id);
bool mh_engine__is_ancestor(const struct mh_wf *wf, size_t node, size_t maybe_ancestor);

/* ---- Node types (nodes.c) ----------------------------------------------------------------- */

struct mh_node_type {
    const char *name;
    enum mh_node_kind kind;
    const char *title;
    const char *description;
    const char *schema; /* JSON text */
};

const struct mh_node_type *mh_engine__node_type(const char *name);
/*
 * Compiles `cfg` (already valid per the type's schema) into `n`, appending an error object to
 * `errors` for every semantic problem (a JMESPath or template that does not compile, a bad
 * duration); `path` is the JSON pointer of the node's config. Returns the number of errors added.
 */
size_t mh_engine__node_prepare(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
void mh_engine__node_release(struct mh_wf_node *n);

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
    json_t *wrapper;  /* {"output": output}, shared by every context built */
    json_t *error;    /* failed */
    json_t *request;  /* http_call: the request of the first attempt */
    json_t *result;   /* http_call: the http_attempt payload of the current attempt */
    int64_t fire_at;  /* waiting_timer / waiting_retry */
    bool timer_fired; /* delay: timer_fired recorded, step_succeeded not yet */
    char idem_key[MH_ENGINE_IDEM_KEY_LEN + 1];
};

struct mh_run_state {
    struct mh_wf *wf;
    enum mh_run_status status;
    json_t *trigger;
    json_t *run; /* {"id", "workflow", "version", "is_test"} */
    char run_id[128];
    int64_t started_at;
    json_t *output;
    json_t *error;
    struct mh_step_state *steps;
    int64_t last_seq;
    uint8_t last_hash[MH_ENGINE_HASH_LEN];
    bool has_started;
};

MH_MUSTCHECK enum mh_err mh_engine__state_create(const struct mh_wf *wf, struct mh_run_state **out);
/*
 * Applies one event. `strict` = false ignores events that no longer apply (stale reports) and
 * sets *ignored; with `strict` they are MH_EINVAL. `info` gets the reason on error.
 */
MH_MUSTCHECK enum mh_err mh_engine__state_apply(struct mh_run_state *st, const struct mh_event *ev,
                                                bool *ignored, struct mh_err_info *info);
bool mh_engine__run_finished(const struct mh_run_state *st);
/* Whether an outside report (http_attempt, run_canceled) still applies to `st`; `idx` is the
 * index of its node or -1. */
bool mh_engine__report_applies(const struct mh_run_state *st, long idx, const struct mh_event *ev);
/* The context of node `node` (context.c); new. */
json_t *mh_engine__context(const struct mh_run_state *st, size_t node);

/* ---- Decisions shared with replay (decide.c) ---------------------------------------------- */

/* Evaluates a transform / branch / terminate node in `ctx`. On success *output is new. On a
 * JMESPath error, MH_EJMESPATH with the message in `info`. */
MH_MUSTCHECK enum mh_err mh_engine__eval_pure(const struct mh_wf_node *n, json_t *ctx,
                                              json_t **output, struct mh_err_info *info);
/*
 * Builds an http_call node's request (struct mh_engine_action). `legacy` builds it as MeshHook
 * did before requests recorded their placeholders (url values not encoded, no "placeholders",
 * strings cut at a NUL, only line breaks refused in headers): replay uses it for requests
 * recorded then, and nothing is ever sent from it.
 */
MH_MUSTCHECK enum mh_err mh_engine__build_request(const struct mh_wf_node *n, json_t *ctx,
                                                  const char *idem_key, bool legacy, json_t **out,
                                                  struct mh_err_info *info);
/* The idempotency key of (run, node, attempt group). */
MH_MUSTCHECK enum mh_err mh_engine__idem_key(const char *run_id, const char *node_id, int group,
                                             char out[MH_ENGINE_IDEM_KEY_LEN + 1]);

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
