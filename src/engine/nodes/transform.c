/* SPDX-License-Identifier: MIT */
/*
 * The transform node: its step's output is a JMESPath expression evaluated over the context
 * {trigger, steps, run}. Pure: it is decided the moment its predecessors let it run, and replay
 * recomputes its output from the recorded context.
 */
#include "engine/engine_internal.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"Transform\","
    "\"description\":\"Computes this step's output with a JMESPath expression over the "
    "context {trigger, steps, run}.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"expression\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Expression\","
    "\"description\":\"JMESPath evaluated against the context; its result is the step "
    "output.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"{id: trigger.body.id, total: sum(trigger.body.items[].price)}\"]}},"
    "\"required\":[\"expression\"],"
    "\"additionalProperties\":false}";

static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);

const struct mh_node_type mh_engine__node_transform = {
    .name = "transform",
    .title = "Transform",
    .description = "output = JMESPath(expression, context)",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    .start = mh_engine__node_start_pure,
    .eval = eval,
    MH_NODE_EXPR_OPS("expression"),
    MH_NODE_PURE_OPS,
};

static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info)
{
    *out = NULL;
    return mh_jp_eval(n->impl, ctx, out, info);
}
