/* SPDX-License-Identifier: MIT */
/*
 * The branch node: a JMESPath condition whose truthiness picks the port, "true" or "false",
 * whose edges the run follows; nodes reachable only through the other port are skipped. Pure:
 * its step's output is the boolean, and the step records the port it took.
 */
#include "engine/engine_internal.h"

#include <stdlib.h>

#include "core/mem.h"

#define SCHEMA_HEAD "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","

static const char schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Branch\","
    "\"description\":\"Evaluates a JMESPath condition and follows the edges of port true when "
    "the result is truthy (anything but false, null, \\\"\\\", [] and {}), else those of port "
    "false. Nodes reachable only through the other port are skipped.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"condition\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Condition\","
    "\"description\":\"JMESPath evaluated against the context; JMESPath truthiness decides the "
    "port.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"trigger.body.amount > `100`\"]}},"
    "\"required\":[\"condition\"],"
    "\"additionalProperties\":false}";

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);

const struct mh_node_type mh_engine__node_branch = {
    .name = "branch",
    .title = "Branch",
    .description = "Takes the true or false edges by a JMESPath condition",
    .schema = schema,
    .out = MH_NODE_OUT_PORTS,
    .compile = compile,
    .release = mh_engine__release_expr_impl,
    .start = mh_engine__node_start_pure,
    .eval = eval,
    .error_expr = error_expr,
    MH_NODE_PURE_OPS,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    return mh_engine__compile_expr_impl(n, cfg, path, "condition", errors);
}

/* The output is the condition's JMESPath truthiness, as a boolean. */
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info)
{
    json_t *v = NULL;
    *out = NULL;
    enum mh_err rc = mh_jp_eval(n->impl, ctx, &v, info);
    if (rc != MH_OK)
        return rc;
    *out = json_boolean(mh_jp_is_truthy(v));
    json_decref(v);
    return MH_OK;
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    *member = "condition";
    return n->impl;
}
