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

struct branch {
    struct mh_jp_expr *condition;
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static void release(void *impl);
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
    .release = release,
    .start = mh_engine__node_start_pure,
    .resume = mh_engine__node_resume_none,
    .pending = mh_engine__node_pending_none,
    .admit = mh_engine__node_admit_pure,
    .eval = eval,
    .replay = mh_engine__replay_pure,
    .error_expr = error_expr,
    .check_stand_in = mh_engine__node_stand_in_none,
    .recorded_stand_in = mh_engine__node_recorded_none,
    .secret_refs = mh_engine__node_secret_refs_none,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct branch *b = mh_xcalloc(1, sizeof(*b));
    n->impl = b;
    return mh_engine__compile_member(cfg, path, "condition", n->id, &b->condition, errors);
}

static void release(void *impl)
{
    struct branch *b = impl;
    if (b == NULL)
        return;
    mh_jp_expr_destroy(b->condition);
    free(b);
}

/* The output is the condition's JMESPath truthiness, as a boolean. */
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info)
{
    const struct branch *b = n->impl;
    json_t *v = NULL;
    *out = NULL;
    enum mh_err rc = mh_jp_eval(b->condition, ctx, &v, info);
    if (rc != MH_OK)
        return rc;
    *out = json_boolean(mh_jp_is_truthy(v));
    json_decref(v);
    return MH_OK;
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct branch *b = n->impl;
    *member = "condition";
    return b->condition;
}
