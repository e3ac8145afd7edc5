/* SPDX-License-Identifier: MIT */
/*
 * The node type registry: each type's name, its config JSON Schema (served verbatim by
 * `GET /api/node-types` so the editor can render a form from it) and the hook that compiles a
 * config the schema accepted into the node's precompiled fields (JMESPath expressions,
 * templates, durations). The schema catches shape errors; the hook catches what a schema cannot
 * express, such as a JMESPath expression that does not parse, with its offset.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

/* Defaults the code applies; the schemas document the same values as `default`. */
#define DEFAULT_TIMEOUT_MS    30000
#define DEFAULT_MAX_ATTEMPTS  3
#define DEFAULT_BASE_DELAY_MS 1000
#define DEFAULT_MAX_DELAY_MS  60000

#define SCHEMA_HEAD "\"$schema\":\"https://json-schema.org/draft/2020-12/schema\","

static const char transform_schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Transform\","
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

static const char branch_schema[] =
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

static const char delay_schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Delay\","
    "\"description\":\"Waits durably: the run is parked on a timer and no thread or connection "
    "waits. Give exactly one of duration_ms, duration or until.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"duration_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":31622400000,"
    "\"title\":\"Duration (milliseconds)\"},"
    "\"duration\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Duration\","
    "\"description\":\"Such as \\\"250ms\\\", \\\"30s\\\", \\\"1h30m\\\", \\\"2d\\\" or ISO 8601 "
    "\\\"PT5S\\\", \\\"P1DT2H\\\"; at most 366 days.\",\"examples\":[\"30s\",\"PT1H\"]},"
    "\"until\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Until\","
    "\"description\":\"JMESPath yielding the time to wake: an RFC 3339 timestamp or epoch "
    "milliseconds. A time in the past fires at once.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"trigger.body.send_at\"]}},"
    "\"oneOf\":[{\"required\":[\"duration_ms\"]},{\"required\":[\"duration\"]},"
    "{\"required\":[\"until\"]}],"
    "\"additionalProperties\":false}";

static const char terminate_schema[] =
    "{" SCHEMA_HEAD "\"title\":\"Terminate\","
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

static const char http_call_schema[] =
    "{" SCHEMA_HEAD "\"title\":\"HTTP call\","
    "\"description\":\"Sends an HTTP request built from the context and records the response as "
    "this step's output {status, headers, body}. Retries 5xx, 408, 429, timeouts and "
    "connection errors with exponential backoff and full jitter, honouring Retry-After.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"method\":{\"type\":\"string\",\"enum\":[\"GET\",\"POST\",\"PUT\",\"PATCH\",\"DELETE\","
    "\"HEAD\",\"OPTIONS\"],\"default\":\"POST\",\"title\":\"Method\"},"
    "\"url\":{\"type\":\"string\",\"minLength\":1,\"title\":\"URL\","
    "\"description\":\"A template: {{ expr }} inserts a JMESPath result, percent-encoded "
    "({{raw expr}} keeps '/', '?' and the like), {{secrets.NAME}} a secret at send time. The "
    "scheme and host come from the text or a secret, never from a value.\","
    "\"x-meshhook-syntax\":\"url_template\","
    "\"examples\":[\"https://api.example.com/orders/{{ trigger.body.id }}\"]},"
    "\"headers\":{\"type\":\"object\",\"title\":\"Headers\","
    "\"description\":\"Header name to template.\","
    "\"propertyNames\":{\"pattern\":\"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$\"},"
    "\"additionalProperties\":{\"type\":\"string\",\"x-meshhook-syntax\":\"template\"},"
    "\"default\":{}},"
    "\"query\":{\"type\":\"object\",\"title\":\"Query parameters\","
    "\"description\":\"Parameter name to template; appended to the URL, percent-encoded.\","
    "\"additionalProperties\":{\"type\":\"string\",\"x-meshhook-syntax\":\"template\"},"
    "\"default\":{}},"
    "\"body\":{\"title\":\"Body\",\"oneOf\":["
    "{\"type\":\"string\",\"title\":\"Template\",\"x-meshhook-syntax\":\"template\"},"
    "{\"type\":\"object\",\"title\":\"JSON from JMESPath\","
    "\"description\":\"The expression's result is sent as JSON (content-type "
    "application/json unless a header says otherwise).\","
    "\"properties\":{\"expression\":{\"type\":\"string\",\"minLength\":1,"
    "\"x-meshhook-syntax\":\"jmespath\"}},"
    "\"required\":[\"expression\"],\"additionalProperties\":false}]},"
    "\"timeout_ms\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":300000,\"default\":30000,"
    "\"title\":\"Timeout per attempt (milliseconds)\"},"
    "\"retry\":{\"type\":\"object\",\"title\":\"Retry policy\","
    "\"properties\":{"
    "\"max_attempts\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":20,\"default\":3,"
    "\"title\":\"Maximum attempts\",\"description\":\"Including the first; 1 disables "
    "retries.\"},"
    "\"base_delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":3600000,"
    "\"default\":1000,\"title\":\"Base delay (milliseconds)\"},"
    "\"max_delay_ms\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":86400000,"
    "\"default\":60000,\"title\":\"Maximum delay (milliseconds)\"}},"
    "\"additionalProperties\":false},"
    "\"sign\":{\"type\":\"object\",\"title\":\"Standard Webhooks signing\","
    "\"description\":\"Signs the request (webhook-id, webhook-timestamp, webhook-signature) "
    "with the named secret.\","
    "\"properties\":{\"secret\":{\"type\":\"string\",\"title\":\"Secret name\","
    "\"pattern\":\"^[A-Za-z_][A-Za-z0-9_]*$\"}},"
    "\"required\":[\"secret\"],\"additionalProperties\":false},"
    "\"expect_json\":{\"type\":\"boolean\",\"default\":false,\"title\":\"Expect JSON\","
    "\"description\":\"Fail the step when a successful response's body is not JSON.\"}},"
    "\"required\":[\"url\"],"
    "\"additionalProperties\":false}";

static const struct mh_node_type node_types[] = {
    {"transform", MH_NODE_TRANSFORM, "Transform", "output = JMESPath(expression, context)",
     transform_schema},
    {"branch", MH_NODE_BRANCH, "Branch", "Takes the true or false edges by a JMESPath condition",
     branch_schema},
    {"delay", MH_NODE_DELAY, "Delay", "Durable timer: a duration or a computed timestamp",
     delay_schema},
    {"terminate", MH_NODE_TERMINATE, "Terminate", "Ends the run with a status and an output",
     terminate_schema},
    {"http_call", MH_NODE_HTTP_CALL, "HTTP call",
     "Sends an HTTP request with retries and an idempotency key", http_call_schema},
};

static json_t *parse_schema(const struct mh_node_type *t);
static char *pointer_join(const char *base, const char *token);
static size_t compile_expr(const char *src, const char *path, const char *node_id,
                           struct mh_jp_expr **out, json_t *errors);
static size_t compile_tpl(const char *src, bool is_url, const char *path, const char *node_id,
                          struct mh_tpl **out, json_t *errors);
static size_t compile_kv(json_t *obj, const char *path, const char *node_id, struct mh_wf_kv **out,
                         size_t *n_out, json_t *errors);
static int64_t int_or(json_t *obj, const char *key, int64_t dflt);

const struct mh_node_type *mh_engine__node_type(const char *name)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(node_types); i++)
        if (strcmp(node_types[i].name, name) == 0)
            return &node_types[i];
    return NULL;
}

static json_t *parse_schema(const struct mh_node_type *t)
{
    json_error_t jerr;
    json_t *s = json_loads(t->schema, 0, &jerr);
    if (s == NULL)
        mh_panic("node type %s: built-in schema does not parse: %s at %d", t->name, jerr.text,
                 jerr.position);
    return s;
}

json_t *mh_engine_node_types(void)
{
    json_t *list = json_array();
    for (size_t i = 0; i < MH_ARRAY_LEN(node_types); i++) {
        const struct mh_node_type *t = &node_types[i];
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:o}", "type", t->name, "title",
                                              t->title, "description", t->description,
                                              "config_schema", parse_schema(t)));
    }
    return list;
}

json_t *mh_engine_node_type_schema(const char *type)
{
    const struct mh_node_type *t = type ? mh_engine__node_type(type) : NULL;
    return t ? parse_schema(t) : NULL;
}

/* A new string: `base` + "/" + `token` escaped as a JSON pointer token (~ -> ~0, / -> ~1). */
static char *pointer_join(const char *base, const char *token)
{
    struct mh_buf b;
    mh_buf_init(&b, 1 << 20);
    enum mh_err rc = mh_buf_printf(&b, "%s/", base);
    for (const char *p = token; rc == MH_OK && *p; p++) {
        if (*p == '~')
            rc = mh_buf_append(&b, "~0", 2);
        else if (*p == '/')
            rc = mh_buf_append(&b, "~1", 2);
        else
            rc = mh_buf_append(&b, p, 1);
    }
    MH_ASSERT(rc == MH_OK);
    return mh_buf_steal(&b, NULL);
}

static size_t compile_expr(const char *src, const char *path, const char *node_id,
                           struct mh_jp_expr **out, json_t *errors)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_jp_compile(src, strlen(src), out, &info) == MH_OK)
        return 0;
    mh_engine__add_error(errors, path, "jmespath_syntax", node_id, info.offset,
                         "invalid JMESPath: %s", info.message);
    return 1;
}

static size_t compile_tpl(const char *src, bool is_url, const char *path, const char *node_id,
                          struct mh_tpl **out, json_t *errors)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_engine__tpl_compile(src, is_url, out, &info);
    if (rc == MH_OK)
        return 0;
    const char *code = rc == MH_EJMESPATH                      ? "jmespath_syntax"
                       : strcmp(info.kind, "invalid_url") == 0 ? "invalid_url"
                                                               : "template_syntax";
    mh_engine__add_error(errors, path, code, node_id, info.offset, "invalid template: %s",
                         info.message);
    return 1;
}

static size_t compile_kv(json_t *obj, const char *path, const char *node_id, struct mh_wf_kv **out,
                         size_t *n_out, json_t *errors)
{
    size_t nerr = 0, i = 0;
    const char *key;
    json_t *value;
    *n_out = 0;
    *out = NULL;
    if (!json_is_object(obj))
        return 0;
    *out = mh_xcalloc(json_object_size(obj) + 1, sizeof(**out));
    json_object_foreach(obj, key, value)
    {
        char *p = pointer_join(path, key);
        (*out)[i].name = mh_xstrdup(key);
        nerr += compile_tpl(json_string_value(value), false, p, node_id, &(*out)[i].tpl, errors);
        free(p);
        i++;
    }
    *n_out = i;
    return nerr;
}

static int64_t int_or(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

size_t mh_engine__node_prepare(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    size_t nerr = 0;
    char *p = NULL;
    switch (n->kind) {
    case MH_NODE_TRANSFORM:
        p = pointer_join(path, "expression");
        nerr += compile_expr(json_string_value(json_object_get(cfg, "expression")), p, n->id,
                             &n->expr, errors);
        break;
    case MH_NODE_BRANCH:
        p = pointer_join(path, "condition");
        nerr += compile_expr(json_string_value(json_object_get(cfg, "condition")), p, n->id,
                             &n->expr, errors);
        break;
    case MH_NODE_TERMINATE: {
        const char *st = json_string_value(json_object_get(cfg, "status"));
        n->terminate_failed = st != NULL && strcmp(st, "failed") == 0;
        const char *o = json_string_value(json_object_get(cfg, "output"));
        if (o != NULL) {
            p = pointer_join(path, "output");
            nerr += compile_expr(o, p, n->id, &n->expr, errors);
        }
        break;
    }
    case MH_NODE_DELAY: {
        const char *until = json_string_value(json_object_get(cfg, "until"));
        const char *dur = json_string_value(json_object_get(cfg, "duration"));
        n->duration_ms = -1;
        if (until != NULL) {
            p = pointer_join(path, "until");
            nerr += compile_expr(until, p, n->id, &n->expr, errors);
        } else if (dur != NULL) {
            if (!mh_engine__parse_duration(dur, &n->duration_ms)) {
                p = pointer_join(path, "duration");
                mh_engine__add_error(errors, p, "invalid_config", n->id, -1,
                                     "invalid duration \"%s\": use forms such as \"250ms\", "
                                     "\"30s\", \"1h30m\" or \"PT5S\", at most 366 days",
                                     dur);
                nerr++;
            }
        } else {
            n->duration_ms = int_or(cfg, "duration_ms", 0);
        }
        break;
    }
    case MH_NODE_HTTP_CALL: {
        const char *m = json_string_value(json_object_get(cfg, "method"));
        snprintf(n->method, sizeof(n->method), "%s", m ? m : "POST");
        p = pointer_join(path, "url");
        nerr += compile_tpl(json_string_value(json_object_get(cfg, "url")), true, p, n->id, &n->url,
                            errors);
        free(p);
        p = pointer_join(path, "headers");
        nerr += compile_kv(json_object_get(cfg, "headers"), p, n->id, &n->headers, &n->n_headers,
                           errors);
        free(p);
        p = pointer_join(path, "query");
        nerr += compile_kv(json_object_get(cfg, "query"), p, n->id, &n->query, &n->n_query, errors);
        free(p);
        p = NULL;
        json_t *body = json_object_get(cfg, "body");
        if (json_is_string(body)) {
            p = pointer_join(path, "body");
            nerr += compile_tpl(json_string_value(body), false, p, n->id, &n->body_tpl, errors);
        } else if (json_is_object(body)) {
            char *bp = pointer_join(path, "body");
            p = pointer_join(bp, "expression");
            free(bp);
            nerr += compile_expr(json_string_value(json_object_get(body, "expression")), p, n->id,
                                 &n->expr, errors);
        }
        n->timeout_ms = int_or(cfg, "timeout_ms", DEFAULT_TIMEOUT_MS);
        json_t *retry = json_object_get(cfg, "retry");
        n->max_attempts = (int)int_or(retry, "max_attempts", DEFAULT_MAX_ATTEMPTS);
        n->base_delay_ms = int_or(retry, "base_delay_ms", DEFAULT_BASE_DELAY_MS);
        n->max_delay_ms = int_or(retry, "max_delay_ms", DEFAULT_MAX_DELAY_MS);
        if (n->max_delay_ms < n->base_delay_ms) {
            free(p);
            char *rp = pointer_join(path, "retry");
            p = pointer_join(rp, "max_delay_ms");
            free(rp);
            mh_engine__add_error(errors, p, "invalid_config", n->id, -1,
                                 "max_delay_ms must not be less than base_delay_ms");
            nerr++;
        }
        const char *secret =
            json_string_value(json_object_get(json_object_get(cfg, "sign"), "secret"));
        if (secret != NULL)
            n->sign_secret = mh_xstrdup(secret);
        n->expect_json = json_is_true(json_object_get(cfg, "expect_json"));
        break;
    }
    }
    free(p);
    return nerr;
}

void mh_engine__node_release(struct mh_wf_node *n)
{
    free(n->id);
    free(n->type_name);
    mh_jp_expr_destroy(n->expr);
    mh_engine__tpl_destroy(n->url);
    for (size_t i = 0; i < n->n_headers; i++) {
        free(n->headers[i].name);
        mh_engine__tpl_destroy(n->headers[i].tpl);
    }
    free(n->headers);
    for (size_t i = 0; i < n->n_query; i++) {
        free(n->query[i].name);
        mh_engine__tpl_destroy(n->query[i].tpl);
    }
    free(n->query);
    mh_engine__tpl_destroy(n->body_tpl);
    free(n->sign_secret);
    free(n->in);
    free(n->out);
    free(n->ancestors);
    memset(n, 0, sizeof(*n));
}

enum mh_err mh_engine_expr_check(const char *src, bool is_template, bool is_url,
                                 struct mh_err_info *info)
{
    size_t len = strlen(src);
    if (len > MH_JP_MAX_EXPR_BYTES)
        return mh_err_set(info, MH_ETOOBIG, "too_big", -1,
                          "the expression exceeds the limit of %d bytes", MH_JP_MAX_EXPR_BYTES);
    if (is_template) {
        struct mh_tpl *t = NULL;
        enum mh_err rc = mh_engine__tpl_compile(src, is_url, &t, info);
        mh_engine__tpl_destroy(t);
        if (rc != MH_OK && info)
            snprintf(info->kind, sizeof(info->kind), "%s",
                     rc == MH_EJMESPATH ? "jmespath_syntax" : "template_syntax");
        return rc;
    }
    struct mh_jp_expr *e = NULL;
    enum mh_err rc = mh_jp_compile(src, len, &e, info);
    mh_jp_expr_destroy(e);
    if (rc != MH_OK && info)
        snprintf(info->kind, sizeof(info->kind), "jmespath_syntax");
    return rc;
}
