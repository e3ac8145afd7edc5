/* SPDX-License-Identifier: MIT */
/*
 * Parses and validates a workflow definition and compiles it into an immutable `struct mh_wf`
 * that workers share read-only across threads. Validation never stops at the first problem: the
 * editor shows every error on the graph at once, each with a JSON pointer to the offending field.
 * A workflow has exactly one entry node (the only node without incoming edges), which the trigger
 * feeds; any other node without incoming edges is reported as unreachable, since nothing could
 * ever start it. Beside its type's config, every node has the engine-level settings `retry`
 * (types that wait on the outside world) and `on_error`, and may have one edge with port "error"
 * (docs/workflows.md, "Error paths"); this file checks them so a new type gets them unchanged.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "schema/schema.h"

#define MAX_ERRORS 1000

enum { WHITE = 0, GRAY, BLACK };

struct compile_ctx {
    struct mh_wf *wf;
    json_t *errors;
    json_t *ids;     /* id -> node index */
    bool *node_ok;   /* node has a valid, unique id (takes part in graph checks) */
    bool *type_ok;   /* node has a known type */
    bool *config_ok; /* node's config compiled without errors */
    long *node_pos;  /* definition index of each node (nodes are compacted) */
    struct mh_schema *schemas[MH_ENGINE__MAX_NODE_TYPES]; /* by index in the type table */
    bool schema_tried[MH_ENGINE__MAX_NODE_TYPES];
    struct mh_schema *retry_schema; /* MH_ENGINE__RETRY_SCHEMA, compiled when first needed */
};

static bool valid_id(const char *s);
static void parse_nodes(struct compile_ctx *c, json_t *nodes);
static void parse_edges(struct compile_ctx *c, json_t *edges);
static void add_schema_errors(struct compile_ctx *c, const struct mh_wf_node *n, json_t *serrs,
                              const char *path);
static void parse_settings(struct compile_ctx *c, struct mh_wf_node *n, json_t *jn,
                           const char *path, const char *nid);
static bool node_can_fail(const struct mh_wf_node *n);
static void check_error_paths(struct compile_ctx *c);
static void check_config(struct compile_ctx *c, struct mh_wf_node *n, json_t *cfg, const char *path,
                         const struct mh_node_type *t);
static void check_graph(struct compile_ctx *c);
static void check_body_ids(struct compile_ctx *c, json_t *nodes);
static void find_cycles(struct compile_ctx *c);
static void build_topo_and_ancestors(struct mh_wf *wf);
static void wf_free(struct mh_wf *wf);
static void push_index(size_t **arr, size_t *n, size_t v);

void mh_engine__add_error(json_t *errors, const char *path, const char *code, const char *node,
                          long offset, const char *fmt, ...)
{
    if (json_array_size(errors) >= MAX_ERRORS)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:o,s:s,s:o}", "path", mh_engine__jstring(path), "code", code,
                          "message", mh_engine__jstring(msg));
    if (offset >= 0)
        json_object_set_new(e, "offset", json_integer(offset));
    if (node != NULL)
        json_object_set_new(e, "node", mh_engine__jstring(node));
    json_array_append_new(errors, e);
}

static bool valid_id(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    size_t i = 1;
    for (; s[i]; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
            return false;
    return i <= MH_ENGINE_ID_MAX;
}

static void push_index(size_t **arr, size_t *n, size_t v)
{
    *arr = mh_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = v;
}

long mh_engine__node_index(const struct mh_wf *wf, const char *id)
{
    for (size_t i = 0; i < wf->n_nodes; i++)
        if (strcmp(wf->nodes[i].id, id) == 0)
            return (long)i;
    return -1;
}

bool mh_engine__is_ancestor(const struct mh_wf *wf, size_t node, size_t maybe_ancestor)
{
    const uint64_t *bits = wf->nodes[node].ancestors;
    return (bits[maybe_ancestor / 64] >> (maybe_ancestor % 64)) & 1u;
}

/* Adds each schema error of `serrs` with its path under `path`. */
static void add_schema_errors(struct compile_ctx *c, const struct mh_wf_node *n, json_t *serrs,
                              const char *path)
{
    size_t i;
    json_t *e;
    json_array_foreach(serrs, i, e)
    {
        const char *sub = json_string_value(json_object_get(e, "path"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        char *full = mh_xmalloc(strlen(path) + strlen(sub ? sub : "") + 1);
        memcpy(full, path, strlen(path));
        memcpy(full + strlen(path), sub ? sub : "", strlen(sub ? sub : "") + 1);
        mh_engine__add_error(c->errors, full, "invalid_config", n->id, -1, "%s",
                             msg ? msg : "invalid config");
        free(full);
    }
}

static void check_config(struct compile_ctx *c, struct mh_wf_node *n, json_t *cfg, const char *path,
                         const struct mh_node_type *t)
{
    size_t ti = 0;
    while (ti < mh_engine__node_type_count() && mh_engine__node_type_at(ti) != t)
        ti++;
    MH_ASSERT(ti < MH_ARRAY_LEN(c->schemas));
    if (!c->schema_tried[ti]) {
        c->schema_tried[ti] = true;
        json_t *doc = mh_engine_node_type_schema(t->name);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (mh_schema_compile(doc, &c->schemas[ti], &info) != MH_OK)
            mh_panic("node type %s: built-in schema does not compile: %s", t->name, info.message);
        json_decref(doc);
    }
    json_t *serrs = NULL;
    if (!mh_schema_validate(c->schemas[ti], cfg, &serrs)) {
        add_schema_errors(c, n, serrs, path);
        /* An empty error list from a failed validation would hide the problem. */
        if (json_array_size(serrs) == 0)
            mh_engine__add_error(c->errors, path, "invalid_config", n->id, -1,
                                 "config does not match the %s schema", t->name);
        json_decref(serrs);
        return;
    }
    json_decref(serrs);
    t->compile(n, cfg, path, c->errors);
}

static void parse_nodes(struct compile_ctx *c, json_t *nodes)
{
    struct mh_wf *wf = c->wf;
    size_t count = json_array_size(nodes);
    wf->nodes = mh_xcalloc(count + 1, sizeof(*wf->nodes));
    c->node_ok = mh_xcalloc(count + 1, sizeof(*c->node_ok));
    c->node_pos = mh_xcalloc(count + 1, sizeof(*c->node_pos));
    c->type_ok = mh_xcalloc(count + 1, sizeof(*c->type_ok));
    c->config_ok = mh_xcalloc(count + 1, sizeof(*c->config_ok));
    for (size_t i = 0; i < count; i++) {
        json_t *jn = json_array_get(nodes, i);
        char path[64], sub[96];
        snprintf(path, sizeof(path), "/nodes/%zu", i);
        struct mh_wf_node *n = &wf->nodes[wf->n_nodes];
        if (!json_is_object(jn)) {
            mh_engine__add_error(c->errors, path, "invalid_node", NULL, -1,
                                 "a node must be an object");
            continue;
        }
        c->node_pos[wf->n_nodes] = (long)i;
        wf->n_nodes++;
        const char *id = json_string_value(json_object_get(jn, "id"));
        snprintf(sub, sizeof(sub), "%s/id", path);
        if (id == NULL) {
            mh_engine__add_error(c->errors, sub, "invalid_id", NULL, -1,
                                 "a node needs a string id");
            n->id = mh_xstrdup("");
        } else if (!valid_id(id)) {
            mh_engine__add_error(c->errors, sub, "invalid_id", NULL, -1,
                                 "invalid node id \"%.80s\": use 1 to %d characters of "
                                 "A-Z a-z 0-9 _ -, starting with a letter or _",
                                 id, MH_ENGINE_ID_MAX);
            n->id = mh_xstrdup(id);
        } else if (json_object_get(c->ids, id) != NULL) {
            long first = c->node_pos[json_integer_value(json_object_get(c->ids, id))];
            mh_engine__add_error(c->errors, sub, "duplicate_id", id, -1,
                                 "duplicate node id \"%s\" (first used by /nodes/%ld)", id, first);
            n->id = mh_xstrdup(id);
        } else {
            n->id = mh_xstrdup(id);
            json_object_set_new(c->ids, id, json_integer((json_int_t)(wf->n_nodes - 1)));
            c->node_ok[wf->n_nodes - 1] = true;
        }
        const char *nid = c->node_ok[wf->n_nodes - 1] ? n->id : NULL;

        json_t *pos = json_object_get(jn, "position");
        if (pos != NULL && !(json_is_object(pos) && json_is_number(json_object_get(pos, "x")) &&
                             json_is_number(json_object_get(pos, "y")))) {
            snprintf(sub, sizeof(sub), "%s/position", path);
            mh_engine__add_error(c->errors, sub, "invalid_position", nid, -1,
                                 "position must be an object with numbers x and y");
        }
        json_t *name = json_object_get(jn, "name");
        if (name != NULL && !json_is_string(name)) {
            snprintf(sub, sizeof(sub), "%s/name", path);
            mh_engine__add_error(c->errors, sub, "invalid_node", nid, -1, "name must be a string");
        }

        const char *type = json_string_value(json_object_get(jn, "type"));
        const struct mh_node_type *t = type ? mh_engine__node_type(type) : NULL;
        snprintf(sub, sizeof(sub), "%s/type", path);
        if (t == NULL) {
            mh_engine__add_error(c->errors, sub, "unknown_type", nid, -1,
                                 type ? "unknown node type \"%.64s\"" : "a node needs a type%.0s",
                                 type ? type : "");
            n->type_name = mh_xstrdup(type ? type : "");
            continue;
        }
        n->type_name = mh_xstrdup(t->name);
        n->type = t;
        c->type_ok[wf->n_nodes - 1] = true;
        json_t *cfg = json_object_get(jn, "config");
        snprintf(sub, sizeof(sub), "%s/config", path);
        if (cfg != NULL && !json_is_object(cfg)) {
            mh_engine__add_error(c->errors, sub, "invalid_config", nid, -1,
                                 "config must be an object");
            continue;
        }
        json_t *empty = cfg ? NULL : json_object();
        size_t before = json_array_size(c->errors);
        n->retry = mh_engine__retry_default(t);
        check_config(c, n, cfg ? cfg : empty, sub, t);
        c->config_ok[wf->n_nodes - 1] = json_array_size(c->errors) == before;
        json_decref(empty);
        parse_settings(c, n, jn, path, nid);
    }
}

/*
 * The engine-level settings of node `n` (its type known, its config compiled): "on_error"
 * ("fail", the default, or "continue": the failure is recorded and the run goes on along the
 * normal edges) and "retry" (the retry policy, for types whose failures come from the outside
 * world: a transform's JMESPath error is a function of recorded inputs and would fail the same
 * way on every attempt, so such types refuse one rather than ignore it).
 */
static void parse_settings(struct compile_ctx *c, struct mh_wf_node *n, json_t *jn,
                           const char *path, const char *nid)
{
    const struct mh_node_type *t = n->type;
    char *sub = NULL;
    json_t *on_error = json_object_get(jn, "on_error");
    if (on_error != NULL) {
        const char *v = json_string_value(on_error);
        sub = mh_engine__pointer_join(path, "on_error");
        if (v == NULL || (strcmp(v, "fail") != 0 && strcmp(v, "continue") != 0))
            mh_engine__add_error(c->errors, sub, "invalid_setting", nid, -1,
                                 "on_error must be \"fail\" or \"continue\"");
        else if (strcmp(v, "continue") == 0 && t->out == MH_NODE_OUT_PORTS)
            mh_engine__add_error(c->errors, sub, "invalid_setting", nid, -1,
                                 "a %s that fails has no outcome to pick a port by, so it cannot "
                                 "continue: give it an edge with port \"error\" instead",
                                 t->name);
        else if (strcmp(v, "continue") == 0 && t->out == MH_NODE_OUT_NONE)
            mh_engine__add_error(c->errors, sub, "invalid_setting", nid, -1,
                                 "a %s node ends the run: there is nothing to continue to",
                                 t->name);
        else
            n->on_error_continue = strcmp(v, "continue") == 0;
        free(sub);
        sub = NULL;
    }
    json_t *retry = json_object_get(jn, "retry");
    if (retry == NULL)
        return;
    sub = mh_engine__pointer_join(path, "retry");
    if (!t->is_dead_letter) {
        mh_engine__add_error(c->errors, sub, "retry_not_applicable", nid, -1,
                             "a %s step does not wait on the outside world: its failure (an "
                             "expression error on the run's recorded data) repeats on every "
                             "attempt, so it takes no retry policy",
                             t->name);
    } else if (n->has_retry_config) {
        mh_engine__add_error(c->errors, sub, "retry_conflict", nid, -1,
                             "the retry policy is set twice, here and in config/retry: keep one");
    } else {
        if (c->retry_schema == NULL) {
            json_t *doc = json_loads(MH_ENGINE__RETRY_SCHEMA, 0, NULL);
            struct mh_err_info info = MH_ERR_INFO_INIT;
            if (doc == NULL || mh_schema_compile(doc, &c->retry_schema, &info) != MH_OK)
                mh_panic("the built-in retry schema does not compile: %s", info.message);
            json_decref(doc);
        }
        json_t *serrs = NULL;
        if (!mh_schema_validate(c->retry_schema, retry, &serrs)) {
            add_schema_errors(c, n, serrs, sub);
            if (json_array_size(serrs) == 0)
                mh_engine__add_error(c->errors, sub, "invalid_config", nid, -1,
                                     "retry must be an object {max_attempts, base_delay_ms, "
                                     "max_delay_ms}");
        } else {
            mh_engine__retry_parse(retry, sub, nid, &n->retry, c->errors);
        }
        json_decref(serrs);
    }
    free(sub);
}

/* Whether a step of `n` can fail: its type waits on the outside world, or its config holds an
 * expression that can fail at run time (type->error_expr). A delay of a fixed duration cannot. */
static bool node_can_fail(const struct mh_wf_node *n)
{
    const char *member = NULL;
    return n->type->is_dead_letter || n->type->waits_for_callback ||
           n->type->error_expr(n, &member) != NULL;
}

/* A node has an error edge or "on_error": "continue", not both. */
static void check_error_paths(struct compile_ctx *c)
{
    for (size_t i = 0; i < c->wf->n_nodes; i++) {
        const struct mh_wf_node *n = &c->wf->nodes[i];
        if (!n->has_error_edge || !n->on_error_continue)
            continue;
        char path[96];
        snprintf(path, sizeof(path), "/nodes/%ld/on_error", c->node_pos[i]);
        mh_engine__add_error(c->errors, path, "invalid_setting", n->id, -1,
                             "node \"%s\" has both an edge with port \"error\" and \"on_error\": "
                             "\"continue\": a failure takes one of them, so remove the other",
                             n->id);
    }
}

static void parse_edges(struct compile_ctx *c, json_t *edges)
{
    struct mh_wf *wf = c->wf;
    size_t count = json_array_size(edges);
    wf->edges = mh_xcalloc(count + 1, sizeof(*wf->edges));
    for (size_t j = 0; j < count; j++) {
        json_t *je = json_array_get(edges, j);
        char path[64], sub[96];
        snprintf(path, sizeof(path), "/edges/%zu", j);
        if (!json_is_object(je)) {
            mh_engine__add_error(c->errors, path, "invalid_edge", NULL, -1,
                                 "an edge must be an object");
            continue;
        }
        long ends[2] = {-1, -1};
        static const char *const names[2] = {"from", "to"};
        bool ok = true;
        for (int k = 0; k < 2; k++) {
            const char *ref = json_string_value(json_object_get(je, names[k]));
            json_t *idx = ref ? json_object_get(c->ids, ref) : NULL;
            snprintf(sub, sizeof(sub), "%s/%s", path, names[k]);
            if (idx == NULL) {
                mh_engine__add_error(c->errors, sub, "dangling_edge", NULL, -1,
                                     ref ? "edge %s references unknown node \"%.64s\""
                                         : "edge needs a string \"%s\"%.0s",
                                     names[k], ref ? ref : "");
                ok = false;
            } else {
                ends[k] = (long)json_integer_value(idx);
            }
        }
        json_t *jport = json_object_get(je, "port");
        int port = MH_PORT_NONE;
        snprintf(sub, sizeof(sub), "%s/port", path);
        if (jport != NULL && !json_is_null(jport)) {
            const char *ps = json_string_value(jport);
            if (ps != NULL && strcmp(ps, "true") == 0) {
                port = MH_PORT_TRUE;
            } else if (ps != NULL && strcmp(ps, "false") == 0) {
                port = MH_PORT_FALSE;
            } else if (ps != NULL && strcmp(ps, "error") == 0) {
                port = MH_PORT_ERROR;
            } else {
                mh_engine__add_error(c->errors, sub, "invalid_port", NULL, -1,
                                     "port must be \"true\", \"false\" or \"error\"");
                ok = false;
            }
        }
        if (!ok)
            continue;
        struct mh_wf_node *from = &wf->nodes[ends[0]];
        bool known = c->type_ok[ends[0]];
        if (known && from->type->out == MH_NODE_OUT_PORTS && port == MH_PORT_NONE) {
            mh_engine__add_error(c->errors, sub, "invalid_port", from->id, -1,
                                 "an edge out of %s \"%s\" needs port \"true\" or \"false\"",
                                 from->type_name, from->id);
            continue;
        }
        if (known && from->type->out != MH_NODE_OUT_PORTS && port != MH_PORT_NONE &&
            port != MH_PORT_ERROR) {
            mh_engine__add_error(c->errors, sub, "invalid_port", from->id, -1,
                                 "only edges out of a branch have a port; \"%s\" is a %s", from->id,
                                 from->type_name);
            continue;
        }
        if (known && from->type->out == MH_NODE_OUT_NONE) {
            mh_engine__add_error(c->errors, path, "terminate_outgoing", from->id, -1,
                                 "%s node \"%s\" cannot have outgoing edges", from->type_name,
                                 from->id);
            continue;
        }
        if (known && port == MH_PORT_ERROR) {
            /* One error edge: a failure takes one path (which may fan out after its first
             * node), and only from a node whose step can fail at all. */
            if (from->has_error_edge) {
                mh_engine__add_error(c->errors, sub, "duplicate_error_edge", from->id, -1,
                                     "node \"%s\" already has an edge with port \"error\": a "
                                     "failure takes one path; fan out after its first node",
                                     from->id);
                continue;
            }
            if (c->config_ok[ends[0]] && !node_can_fail(from)) {
                mh_engine__add_error(c->errors, sub, "cannot_fail", from->id, -1,
                                     "%s node \"%s\" cannot fail (it evaluates no expression "
                                     "and waits on nothing outside): its error edge would never "
                                     "be taken",
                                     from->type_name, from->id);
                continue;
            }
            from->has_error_edge = true;
        }
        bool dup = false;
        for (size_t e = 0; e < from->n_out && !dup; e++) {
            const struct mh_wf_edge *o = &wf->edges[from->out[e]];
            dup = o->to == (size_t)ends[1] && o->port == port;
        }
        if (dup) {
            mh_engine__add_error(c->errors, path, "duplicate_edge", from->id, -1,
                                 "duplicate edge from \"%s\" to \"%s\"", from->id,
                                 wf->nodes[ends[1]].id);
            continue;
        }
        size_t ei = wf->n_edges++;
        wf->edges[ei] = (struct mh_wf_edge){(size_t)ends[0], (size_t)ends[1], port};
        push_index(&from->out, &from->n_out, ei);
        push_index(&wf->nodes[ends[1]].in, &wf->nodes[ends[1]].n_in, ei);
    }
}

/* Iterative depth-first search; each back edge closes a cycle, reported at the node it
 * returns to with the cycle spelled out. */
static void find_cycles(struct compile_ctx *c)
{
    struct mh_wf *wf = c->wf;
    size_t n = wf->n_nodes;
    unsigned char *color = mh_xcalloc(n + 1, 1);
    size_t *stack = mh_xcalloc(n + 1, sizeof(*stack));
    size_t *next = mh_xcalloc(n + 1, sizeof(*next));
    bool *reported = mh_xcalloc(n + 1, sizeof(*reported));
    for (size_t s = 0; s < n; s++) {
        if (color[s] != WHITE || !c->node_ok[s])
            continue;
        size_t top = 0;
        stack[top++] = s;
        color[s] = GRAY;
        next[s] = 0;
        while (top > 0) {
            size_t u = stack[top - 1];
            if (next[u] == wf->nodes[u].n_out) {
                color[u] = BLACK;
                top--;
                continue;
            }
            size_t v = wf->edges[wf->nodes[u].out[next[u]++]].to;
            if (color[v] == WHITE) {
                color[v] = GRAY;
                next[v] = 0;
                stack[top++] = v;
            } else if (color[v] == GRAY && !reported[v]) {
                reported[v] = true;
                struct mh_buf b;
                mh_buf_init(&b, 400);
                size_t k = top;
                while (k > 0 && stack[k - 1] != v)
                    k--;
                enum mh_err rc = MH_OK;
                for (size_t i = k - 1; rc == MH_OK && i < top; i++)
                    rc = mh_buf_printf(&b, "%s -> ", wf->nodes[stack[i]].id);
                if (rc == MH_OK)
                    rc = mh_buf_printf(&b, "%s", wf->nodes[v].id);
                char path[64];
                snprintf(path, sizeof(path), "/nodes/%ld", c->node_pos[v]);
                mh_engine__add_error(c->errors, path, "cycle", wf->nodes[v].id, -1,
                                     "node \"%s\" is on a cycle: %s", wf->nodes[v].id,
                                     rc == MH_OK ? mh_buf_str(&b) : "(too long to show)");
                mh_buf_cleanup(&b);
            }
        }
    }
    free(reported);
    free(next);
    free(stack);
    free(color);
}

/* A body's steps share the context's "steps" with the workflow's (an item sees the steps its
 * for_each sees, then its own), so a body node may not reuse a workflow node's id. A sub-graph
 * is a node's config.body holding "nodes" (checked on the document, so that a body with errors
 * of its own is checked too). */
static void check_body_ids(struct compile_ctx *c, json_t *nodes)
{
    for (size_t i = 0; i < c->wf->n_nodes; i++) {
        json_t *jn = json_array_get(nodes, (size_t)c->node_pos[i]);
        json_t *body_nodes =
            json_object_get(json_object_get(json_object_get(jn, "config"), "body"), "nodes");
        if (!c->type_ok[i] || !json_is_array(body_nodes))
            continue;
        size_t k;
        json_t *bn;
        json_array_foreach(body_nodes, k, bn)
        {
            const char *id = json_string_value(json_object_get(bn, "id"));
            if (id == NULL || json_object_get(c->ids, id) == NULL)
                continue;
            char path[128];
            snprintf(path, sizeof(path), "/nodes/%ld/config/body/nodes/%zu/id", c->node_pos[i], k);
            mh_engine__add_error(c->errors, path, "duplicate_id", c->wf->nodes[i].id, -1,
                                 "body node id \"%s\" is already a node of the workflow; a "
                                 "for_each body's steps sit beside the workflow's in \"steps\"",
                                 id);
        }
    }
}

static void check_graph(struct compile_ctx *c)
{
    struct mh_wf *wf = c->wf;
    size_t n = wf->n_nodes;
    bool have_entry = false;
    for (size_t i = 0; i < n && !have_entry; i++) {
        if (c->node_ok[i] && wf->nodes[i].n_in == 0) {
            wf->entry = i;
            have_entry = true;
        }
    }
    find_cycles(c);
    if (!have_entry) {
        if (n > 0)
            mh_engine__add_error(c->errors, "/nodes", "no_entry", NULL, -1,
                                 "no entry node: every node has an incoming edge");
        return;
    }
    bool *seen = mh_xcalloc(n + 1, sizeof(*seen));
    size_t *queue = mh_xcalloc(n + 1, sizeof(*queue));
    size_t head = 0, tail = 0;
    queue[tail++] = wf->entry;
    seen[wf->entry] = true;
    while (head < tail) {
        const struct mh_wf_node *u = &wf->nodes[queue[head++]];
        for (size_t e = 0; e < u->n_out; e++) {
            size_t v = wf->edges[u->out[e]].to;
            if (!seen[v]) {
                seen[v] = true;
                queue[tail++] = v;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (seen[i] || !c->node_ok[i])
            continue;
        char path[64];
        snprintf(path, sizeof(path), "/nodes/%ld", c->node_pos[i]);
        if (wf->nodes[i].n_in == 0)
            mh_engine__add_error(c->errors, path, "unreachable", wf->nodes[i].id, -1,
                                 "node \"%s\" is unreachable: it has no incoming edges, and "
                                 "\"%s\" is the workflow's one entry node",
                                 wf->nodes[i].id, wf->nodes[wf->entry].id);
        else
            mh_engine__add_error(c->errors, path, "unreachable", wf->nodes[i].id, -1,
                                 "node \"%s\" is unreachable from the entry node \"%s\"",
                                 wf->nodes[i].id, wf->nodes[wf->entry].id);
    }
    free(queue);
    free(seen);
}

/* Kahn's algorithm taking the lowest definition index among ready nodes, so the order (and so
 * the order of events within one advance) depends on the definition only. */
static void build_topo_and_ancestors(struct mh_wf *wf)
{
    size_t n = wf->n_nodes, words = (n + 63) / 64;
    size_t *indeg = mh_xcalloc(n + 1, sizeof(*indeg));
    bool *done = mh_xcalloc(n + 1, sizeof(*done));
    wf->topo = mh_xcalloc(n + 1, sizeof(*wf->topo));
    for (size_t i = 0; i < n; i++) {
        indeg[i] = wf->nodes[i].n_in;
        wf->nodes[i].ancestors = mh_xcalloc(words ? words : 1, sizeof(uint64_t));
    }
    for (size_t k = 0; k < n; k++) {
        size_t pick = n;
        for (size_t i = 0; i < n && pick == n; i++)
            if (!done[i] && indeg[i] == 0)
                pick = i;
        MH_ASSERT(pick < n);
        done[pick] = true;
        wf->topo[k] = pick;
        struct mh_wf_node *u = &wf->nodes[pick];
        for (size_t e = 0; e < u->n_out; e++) {
            struct mh_wf_node *v = &wf->nodes[wf->edges[u->out[e]].to];
            indeg[wf->edges[u->out[e]].to]--;
            for (size_t w = 0; w < words; w++)
                v->ancestors[w] |= u->ancestors[w];
            v->ancestors[pick / 64] |= (uint64_t)1 << (pick % 64);
        }
    }
    free(done);
    free(indeg);
}

static void wf_free(struct mh_wf *wf)
{
    if (wf == NULL)
        return;
    for (size_t i = 0; i < wf->n_nodes; i++)
        mh_engine__node_release(&wf->nodes[i]);
    free(wf->nodes);
    free(wf->edges);
    free(wf->topo);
    json_decref(wf->body_reads);
    free(wf);
}

enum mh_err mh_engine_wf_compile(json_t *def, struct mh_wf **out, json_t **errors)
{
    enum mh_err rc = MH_OK;
    struct compile_ctx c = {0};
    c.wf = mh_xcalloc(1, sizeof(*c.wf));
    atomic_init(&c.wf->refs, 1);
    c.errors = json_array();
    c.ids = json_object();
    *out = NULL;
    if (errors)
        *errors = NULL;

    if (!json_is_object(def)) {
        mh_engine__add_error(c.errors, "", "invalid_definition", NULL, -1,
                             "a workflow definition must be a JSON object");
        goto out;
    }
    json_t *nodes = json_object_get(def, "nodes");
    json_t *edges = json_object_get(def, "edges");
    if (!json_is_array(nodes)) {
        mh_engine__add_error(c.errors, "/nodes", "invalid_definition", NULL, -1,
                             "\"nodes\" must be an array");
        goto out;
    }
    if (edges != NULL && !json_is_array(edges)) {
        mh_engine__add_error(c.errors, "/edges", "invalid_definition", NULL, -1,
                             "\"edges\" must be an array");
        goto out;
    }
    if (json_array_size(nodes) == 0) {
        mh_engine__add_error(c.errors, "/nodes", "no_entry", NULL, -1,
                             "a workflow needs at least one node");
        goto out;
    }
    if (json_array_size(nodes) > MH_ENGINE_MAX_NODES) {
        mh_engine__add_error(c.errors, "/nodes", "too_many_nodes", NULL, -1,
                             "%zu nodes; a workflow may have at most %d", json_array_size(nodes),
                             MH_ENGINE_MAX_NODES);
        goto out;
    }
    if (json_array_size(edges) > MH_ENGINE_MAX_EDGES) {
        mh_engine__add_error(c.errors, "/edges", "too_many_edges", NULL, -1,
                             "%zu edges; a workflow may have at most %d", json_array_size(edges),
                             MH_ENGINE_MAX_EDGES);
        goto out;
    }
    parse_nodes(&c, nodes);
    check_body_ids(&c, nodes);
    parse_edges(&c, edges);
    check_error_paths(&c);
    check_graph(&c);
out:
    for (size_t i = 0; i < MH_ARRAY_LEN(c.schemas); i++)
        mh_schema_destroy(c.schemas[i]);
    mh_schema_destroy(c.retry_schema);
    free(c.config_ok);
    free(c.node_ok);
    free(c.type_ok);
    free(c.node_pos);
    json_decref(c.ids);
    if (json_array_size(c.errors) > 0) {
        rc = MH_EINVAL;
        wf_free(c.wf);
    } else {
        build_topo_and_ancestors(c.wf);
        for (size_t i = 0; i < c.wf->n_nodes; i++) {
            const struct mh_wf_node *n = &c.wf->nodes[i];
            c.wf->has_calls = c.wf->has_calls || n->type == &mh_engine__node_call_workflow ||
                              (n->body != NULL && n->body->has_calls);
            c.wf->has_callbacks = c.wf->has_callbacks || n->type->waits_for_callback;
        }
        c.wf->body_reads = mh_engine__wf_body_reads(c.wf);
        *out = c.wf;
    }
    if (errors)
        *errors = c.errors;
    else
        json_decref(c.errors);
    return rc;
}

enum mh_err mh_engine_wf_validate(json_t *def, json_t **errors)
{
    struct mh_wf *wf = NULL;
    enum mh_err rc = mh_engine_wf_compile(def, &wf, errors);
    mh_engine_wf_unref(wf);
    return rc;
}

struct mh_wf *mh_engine_wf_ref(struct mh_wf *wf)
{
    atomic_fetch_add(&wf->refs, 1);
    return wf;
}

void mh_engine_wf_unref(struct mh_wf *wf)
{
    if (wf != NULL && atomic_fetch_sub(&wf->refs, 1) == 1)
        wf_free(wf);
}

size_t mh_engine_wf_node_count(const struct mh_wf *wf)
{
    return wf->n_nodes;
}

const char *mh_engine_wf_node_id(const struct mh_wf *wf, size_t i)
{
    return i < wf->n_nodes ? wf->nodes[i].id : NULL;
}

const char *mh_engine_wf_node_type(const struct mh_wf *wf, const char *node_id)
{
    const struct mh_wf *where = NULL;
    long i = mh_engine__wf_resolve(wf, node_id, &where);
    return i < 0 ? NULL : where->nodes[i].type_name;
}
