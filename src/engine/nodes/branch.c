/* SPDX-License-Identifier: MIT */
/*
 * The branch node: a JMESPath condition whose truthiness picks the port, "true" or "false",
 * whose edges the run follows; nodes reachable only through the other port are skipped. Pure:
 * its step's output is the boolean, and the step records the port it took.
 */
#include "engine/engine_internal.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"Branch\","
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

static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);

const struct mh_node_type mh_engine__node_branch = {
    .name = "branch",
    .title = "Branch",
    .description = "Takes the true or false edges by a JMESPath condition",
    .schema = schema,
    .out = MH_NODE_OUT_PORTS,
    .start = mh_engine__node_start_pure,
    .eval = eval,
    MH_NODE_EXPR_OPS("condition"),
    MH_NODE_PURE_OPS,
};

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
