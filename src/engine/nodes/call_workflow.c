/* SPDX-License-Identifier: MIT */
/*
 * The call_workflow node: runs another workflow of the same project as a child run and waits for
 * its output (docs/workflows.md, "Sub-workflows"). Its step evaluates `input` (JMESPath over the
 * context; the child's trigger body), records step_started with the call — the workflow, the
 * version asked for (a number or "latest") and the child's run id, derived from the run id and
 * the step id, so a step always names the same child — and asks the caller to start that child
 * (MH_ACTION_CALL). The caller starts it in the transaction that records step_started, and
 * reports its end as child_finished, with the version "latest" resolved to: the step then
 * succeeds with the child's output or fails with its error. No thread waits meanwhile.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

#define SCHEMA_HEAD "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","

static const char schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Call workflow\","
    "\"description\":\"Runs another workflow of this project as a child run, with an input as "
    "its trigger body, and waits for it: the step's output is the child's output, and the "
    "child's failure fails the step.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"workflow_id\":{\"type\":\"string\",\"title\":\"Workflow\","
    "\"description\":\"The workflow to call (same project).\","
    "\"pattern\":\"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$\","
    "\"x-meshhook-ref\":\"workflow\"},"
    "\"version\":{\"title\":\"Version\",\"default\":\"latest\","
    "\"x-meshhook-ref\":\"workflow_version\","
    "\"description\":\"A published version number, or \\\"latest\\\": the latest published "
    "version when the step starts (the run records which).\","
    "\"oneOf\":[{\"type\":\"integer\",\"minimum\":1,\"title\":\"Pinned version\"},"
    "{\"const\":\"latest\",\"title\":\"Latest published\"}]},"
    "\"input\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Input\",\"default\":"
    "\"trigger.body\",\"description\":\"JMESPath over this run's context; its result is the "
    "child's trigger.body.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"{order: trigger.body.id, items: steps.load.output.items}\"]}},"
    "\"required\":[\"workflow_id\"],"
    "\"additionalProperties\":false}";

struct call {
    char workflow_id[37];
    int64_t version; /* 0: "latest" */
    struct mh_jp_expr *input;
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static void release(void *impl);
static enum mh_err start(struct mh_advance *a, size_t i);
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress);
static void pending(struct mh_advance *a, size_t i);
static const char *admit(const struct mh_step_state *s, enum mh_node_event what);
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t i);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info);
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events);

const struct mh_node_type mh_engine__node_call_workflow = {
    .name = "call_workflow",
    .title = "Call workflow",
    .description = "Runs another workflow as a child run and waits for its output",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    /* The child's own steps retry; a child that failed would fail the same way again, so the
     * step has one attempt. */
    .is_dead_letter = false,
    .compile = compile,
    .release = release,
    .start = start,
    .resume = resume,
    .pending = pending,
    .admit = admit,
    .eval = mh_engine__node_eval_none,
    .replay = replay,
    .error_expr = error_expr,
    .check_stand_in = check_stand_in,
    .recorded_stand_in = recorded_stand_in,
    .secret_refs = mh_engine__node_secret_refs_none,
    .reads = mh_engine__node_reads_all,
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct call *c = mh_xcalloc(1, sizeof(*c));
    n->impl = c;
    const char *wf = json_string_value(json_object_get(cfg, "workflow_id"));
    snprintf(c->workflow_id, sizeof(c->workflow_id), "%s", wf ? wf : "");
    /* Lower case, as PostgreSQL prints a uuid: the recorded call compares equal to the row. */
    for (char *p = c->workflow_id; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    c->version = mh_engine__int_or(cfg, "version", 0);
    const char *input = json_string_value(json_object_get(cfg, "input"));
    char *p = mh_engine__pointer_join(path, "input");
    size_t nerr =
        mh_engine__compile_expr(input ? input : "trigger.body", p, n->id, &c->input, errors);
    free(p);
    return nerr;
}

static void release(void *impl)
{
    struct call *c = impl;
    if (c == NULL)
        return;
    mh_jp_expr_destroy(c->input);
    free(c);
}

/* The child's run id: a UUID (version 8) derived from the run id and the step id, so every
 * decision about the step names the same child, and starting it twice finds it started. */
static enum mh_err child_run_id(const struct mh_run_state *st, const char *node_id,
                                char out[MH_CRYPTO_UUID_STR_LEN])
{
    char material[512];
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    int n = snprintf(material, sizeof(material), "meshhook/child-run\n%s\n%s%s", st->run_id,
                     st->scope, node_id);
    if (n < 0 || (size_t)n >= sizeof(material))
        return MH_EINVAL;
    enum mh_err rc = mh_crypto_sha256(material, (size_t)n, h);
    if (rc != MH_OK)
        return rc;
    h[6] = (uint8_t)((h[6] & 0x0f) | 0x80); /* version 8: custom */
    h[8] = (uint8_t)((h[8] & 0x3f) | 0x80); /* RFC 9562 variant */
    snprintf(out, MH_CRYPTO_UUID_STR_LEN,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0], h[1],
             h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14],
             h[15]);
    return MH_OK;
}

/* The call a step records and the caller performs: {"child_run_id", "workflow_id", "version",
 * "input"} (new), or NULL with `info` when the input expression fails. */
static json_t *build_call(const struct mh_wf_node *n, const struct mh_run_state *st, json_t *ctx,
                          struct mh_err_info *info)
{
    const struct call *c = n->impl;
    char id[MH_CRYPTO_UUID_STR_LEN];
    json_t *input = NULL;
    if (child_run_id(st, n->id, id) != MH_OK) {
        mh_err_set(info, MH_EINVAL, "limit", -1, "the step id is too long");
        return NULL;
    }
    if (mh_jp_eval(c->input, ctx, &input, info) != MH_OK)
        return NULL;
    json_t *call = json_pack("{s:s, s:s, s:o}", "child_run_id", id, "workflow_id", c->workflow_id,
                             "input", input ? input : json_null());
    json_object_set_new(call, "version",
                        c->version > 0 ? json_integer(c->version) : json_string("latest"));
    return call;
}

static void add_call(struct mh_advance *a, size_t i, json_t *call)
{
    struct mh_engine_action *act = mh_engine__add_action(a, MH_ACTION_CALL, (long)i);
    act->attempt = 1;
    act->request = json_incref(call);
}

static enum mh_err start(struct mh_advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    struct mh_err_info jinfo = MH_ERR_INFO_INIT;
    json_t *ctx = mh_engine__context(a->st, i);
    json_t *call = build_call(n, a->st, ctx, &jinfo);
    json_decref(ctx);
    if (call == NULL)
        return mh_engine__fail_step(
            a, i, 1,
            mh_engine__error_obj(jinfo.kind[0] && strcmp(jinfo.kind, "limit") == 0 ? "limit"
                                                                                   : "jmespath",
                                 jinfo.message),
            false);
    enum mh_err rc =
        mh_engine__emit(a, MH_EV_STEP_STARTED, (long)i, 1, json_pack("{s:O}", "request", call));
    if (rc == MH_OK)
        add_call(a, i, call);
    json_decref(call);
    return rc;
}

/* The child finished (child_finished recorded): its output, or its error as the step's. */
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status != MH_STEP_RUNNING || s->result == NULL)
        return MH_OK;
    *progress = true;
    json_t *r = s->result;
    json_t *child = json_object_get(r, "child_run_id");
    json_t *version = json_object_get(r, "version");
    const char *status = json_string_value(json_object_get(r, "status"));
    if (status != NULL && strcmp(status, "succeeded") == 0) {
        json_t *out = json_object_get(r, "output");
        return mh_engine__succeed_step(a, i, s->attempts, out ? json_incref(out) : json_null(),
                                       json_pack("{s:O, s:O}", "child_run_id",
                                                 child ? child : json_null(), "version",
                                                 version ? version : json_null()));
    }
    json_t *cerr = json_object_get(r, "error");
    const char *kind = json_string_value(json_object_get(cerr, "kind"));
    const char *msg = json_string_value(json_object_get(cerr, "message"));
    char text[600];
    snprintf(text, sizeof(text), "child run %s %s: %s", json_string_value(child),
             status ? status : "failed", msg ? msg : "no message");
    json_t *error =
        mh_engine__error_obj(kind && strcmp(kind, "call") == 0 ? "call" : "child_failed",
                             kind && strcmp(kind, "call") == 0 && msg ? msg : text);
    json_object_set(error, "child_run_id", child ? child : json_null());
    if (cerr != NULL && !(kind && strcmp(kind, "call") == 0))
        json_object_set(error, "child_error", cerr);
    return mh_engine__fail_step(a, i, s->attempts, error, false);
}

/* A started step whose child has not been reported: the call is outstanding (its child may
 * have to be started still, after a crash). */
static void pending(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status == MH_STEP_RUNNING && s->result == NULL && s->request != NULL)
        add_call(a, i, s->request);
}

static const char *admit(const struct mh_step_state *s, enum mh_node_event what)
{
    switch (what) {
    case MH_NODE_EV_START: return NULL;
    case MH_NODE_EV_ATTEMPT: return NULL; /* child_finished: the fold checks the child's id */
    case MH_NODE_EV_TIMER: return "a call_workflow step sets no timer";
    case MH_NODE_EV_CALLBACK: return "only wait_callback steps take a callback";
    case MH_NODE_EV_SUCCEED:
        return s->result ? NULL : "a call_workflow step succeeds only after its child finished";
    }
    return "unknown event";
}

/* Recomputes the call (the input from the context recorded before it) and checks that a
 * recorded success carries the output the child reported, and that a step that failed before
 * it started (its input failed at decision time) fails the same way again. */
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t i)
{
    const struct mh_wf_node *n = &r->wf->nodes[i];
    const struct mh_step_state *s = &r->st->steps[i];
    if (strcmp(ev->type, MH_EV_STEP_FAILED) == 0 && s->request == NULL) {
        /* A failure after step_started is the child's (or the caller's refusal), an outside
         * input; one before it is the decision's own. */
        struct mh_err_info jinfo = MH_ERR_INFO_INIT;
        json_t *ctx = mh_engine__context(r->st, i);
        json_t *call = build_call(n, r->st, ctx, &jinfo);
        mh_engine__replay_failure(r, ev, "request", call, jinfo.message);
        json_decref(call);
        json_decref(ctx);
    } else if (strcmp(ev->type, MH_EV_STEP_STARTED) == 0) {
        struct mh_err_info jinfo = MH_ERR_INFO_INIT;
        json_t *ctx = mh_engine__context(r->st, i);
        json_t *call = build_call(n, r->st, ctx, &jinfo);
        json_t *recorded = json_object_get(ev->payload, "request");
        if (!mh_engine__json_same(recorded, call))
            mh_engine__replay_diverge(r, ev, "request", recorded, call);
        json_decref(call);
        json_decref(ctx);
    } else if (strcmp(ev->type, MH_EV_STEP_SUCCEEDED) == 0) {
        json_t *reported = json_object_get(s->result, "output");
        json_t *recorded = json_object_get(ev->payload, "output");
        if (!mh_engine__json_same(recorded, reported))
            mh_engine__replay_diverge(r, ev, "output", recorded, reported);
    }
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct call *c = n->impl;
    *member = "input";
    return c->input;
}

/* A call's stand-in is the child's output: any JSON value. */
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info)
{
    (void)n;
    if (v != NULL)
        return MH_OK;
    return mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                      "a call_workflow's stand-in is the child's output (any JSON value)");
}

/* What the recorded run's child returned; NULL when the child did not succeed (or never
 * finished), so the draft test stops there. */
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events)
{
    for (size_t k = n_events; k-- > 0;) {
        const struct mh_event *ev = &events[k];
        if (strcmp(ev->type, MH_EV_CHILD_FINISHED) != 0 || strcmp(ev->node_id, n->id) != 0)
            continue;
        const char *status = json_string_value(json_object_get(ev->payload, "status"));
        json_t *out = json_object_get(ev->payload, "output");
        if (status == NULL || strcmp(status, "succeeded") != 0)
            return NULL;
        return out ? json_incref(out) : json_null();
    }
    return NULL;
}

enum mh_err mh_engine_event_child_finished(const char *node_id, int attempt,
                                           const char *child_run_id, int64_t version,
                                           const char *status, json_t *output, json_t *error,
                                           int64_t at_ms, struct mh_event *out)
{
    memset(out, 0, sizeof(*out));
    if (node_id == NULL || *node_id == '\0' || attempt < 1 || child_run_id == NULL ||
        status == NULL ||
        (strcmp(status, "succeeded") != 0 && strcmp(status, "failed") != 0 &&
         strcmp(status, "canceled") != 0))
        return MH_EINVAL;
    json_t *p = json_pack("{s:s, s:s}", "child_run_id", child_run_id, "status", status);
    json_object_set_new(p, "version", version > 0 ? json_integer(version) : json_null());
    if (strcmp(status, "succeeded") == 0)
        json_object_set(p, "output", output ? output : json_null());
    else if (error != NULL)
        json_object_set(p, "error", error);
    enum mh_err rc =
        mh_engine_event_init(out, 0, MH_EV_CHILD_FINISHED, node_id, attempt, p, at_ms, NULL);
    json_decref(p);
    return rc;
}

bool mh_engine_wf_has_calls(const struct mh_wf *wf)
{
    return wf->has_calls; /* computed at compile (definition.c) */
}

static void calls_of(json_t *def, const char *base, json_t *out)
{
    size_t k;
    json_t *node;
    json_array_foreach(json_object_get(def, "nodes"), k, node)
    {
        const char *type = json_string_value(json_object_get(node, "type"));
        json_t *cfg = json_object_get(node, "config");
        char path[512];
        snprintf(path, sizeof(path), "%s/nodes/%zu/config", base, k);
        if (type != NULL && strcmp(type, "for_each") == 0) {
            char body[600];
            snprintf(body, sizeof(body), "%s/body", path);
            calls_of(json_object_get(cfg, "body"), body, out);
            continue;
        }
        const char *wf = json_string_value(json_object_get(cfg, "workflow_id"));
        const char *id = json_string_value(json_object_get(node, "id"));
        if (type == NULL || strcmp(type, "call_workflow") != 0 || wf == NULL || id == NULL)
            continue;
        json_t *v = json_object_get(cfg, "version");
        char wpath[600];
        snprintf(wpath, sizeof(wpath), "%s/workflow_id", path);
        json_t *ver = json_is_integer(v) ? json_incref(v) : json_string("latest");
        json_array_append_new(out, json_pack("{s:s, s:s, s:s, s:o}", "node", id, "path", wpath,
                                             "workflow_id", wf, "version", ver));
    }
}

json_t *mh_engine_calls_of(json_t *def)
{
    json_t *out = json_array();
    calls_of(def, "", out);
    return out;
}
