/* SPDX-License-Identifier: MIT */
/*
 * The terminate node: ends the run at once with the status its config names (succeeded or
 * failed) and, optionally, an output computed by a JMESPath expression. Pure like a transform;
 * it has no outgoing edges, and once its step has succeeded it records the run's end.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"Terminate\","
    "\"description\":\"Ends the run at once with a status and an optional output. A terminate "
    "node has no outgoing edges.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"status\":{\"type\":\"string\",\"enum\":[\"succeeded\",\"failed\"],"
    "\"default\":\"succeeded\",\"title\":\"Run status\"},"
    "\"output\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Output\","
    "\"description\":\"JMESPath evaluated against the context; its result is the run's output. "
    "Without it the output is null.\",\"x-meshhook-syntax\":\"jmespath\"}},"
    "\"additionalProperties\":false}";

struct terminate {
    struct mh_jp_expr *output; /* NULL: the output is null */
    bool is_failed;
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static bool reads(const struct mh_wf_node *n, json_t *trie)
{
    const struct terminate *t = n->impl;
    return t != NULL && (t->output == NULL || mh_jp_add_reads(t->output, trie));
}

static void release(void *impl);
static enum mh_err start(struct mh_advance *a, size_t i);
static bool reads(const struct mh_wf_node *n, json_t *trie);
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);

const struct mh_node_type mh_engine__node_terminate = {
    .name = "terminate",
    .title = "Terminate",
    .description = "Ends the run with a status and an output",
    .schema = schema,
    .out = MH_NODE_OUT_NONE,
    .compile = compile,
    .release = release,
    .start = start,
    .eval = eval,
    .error_expr = error_expr,
    .reads = reads,
    MH_NODE_PURE_OPS,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct terminate *t = mh_xcalloc(1, sizeof(*t));
    n->impl = t;
    const char *st = json_string_value(json_object_get(cfg, "status"));
    t->is_failed = st != NULL && strcmp(st, "failed") == 0;
    if (json_string_value(json_object_get(cfg, "output")) == NULL)
        return 0;
    return mh_engine__compile_member(cfg, path, "output", n->id, &t->output, errors);
}

static void release(void *impl)
{
    struct terminate *t = impl;
    if (t == NULL)
        return;
    mh_jp_expr_destroy(t->output);
    free(t);
}

/* Records the step like any pure node, then the run's end with the step's output. */
static enum mh_err start(struct mh_advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    const struct terminate *t = n->impl;
    json_t *out = NULL;
    enum mh_err rc = mh_engine__start_pure(a, i, &out);
    if (rc != MH_OK || out == NULL)
        goto out;
    if (t->is_failed) {
        char msg[160];
        snprintf(msg, sizeof(msg), "terminate node %s ended the run with status failed", n->id);
        json_t *err =
            json_pack("{s:s,s:s,s:s}", "kind", "terminated", "node", n->id, "message", msg);
        rc = mh_engine__emit(a, MH_EV_RUN_FAILED, -1, 0,
                             json_pack("{s:o,s:O}", "error", err, "output", out));
    } else {
        rc = mh_engine__emit(a, MH_EV_RUN_SUCCEEDED, -1, 0,
                             json_pack("{s:O,s:s}", "output", out, "terminated_by", n->id));
    }
out:
    json_decref(out);
    return rc;
}

static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info)
{
    const struct terminate *t = n->impl;
    *out = NULL;
    if (t->output == NULL) {
        *out = json_null();
        return MH_OK;
    }
    return mh_jp_eval(t->output, ctx, out, info);
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct terminate *t = n->impl;
    *member = "output";
    return t->output;
}
