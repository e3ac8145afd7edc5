/* SPDX-License-Identifier: MIT */
/*
 * The respond node: computes the answer to the webhook that started the run — a status, headers
 * (templates) and a body (JMESPath) — as its step's output {status, headers, body}. Pure like a
 * transform, and the run goes on after it. An endpoint whose response mode is "respond" answers
 * the sender with the first respond step that succeeds (src/intake); on other endpoints the step
 * is recorded and the answer stays 202. Headers that belong to the connection or to the server's
 * security (hop-by-hop headers, cookies, CORS and content-security policies) are refused at
 * save: the answer goes out under MeshHook's own origin.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"Respond\","
    "\"description\":\"Sets the answer to the webhook that started the run: on an endpoint whose "
    "response mode is 'respond', the sender gets this status, these headers and this body "
    "instead of 202. The run goes on after it.\","
    "\"type\":\"object\","
    "\"properties\":{"
    "\"status\":{\"title\":\"Status\",\"default\":200,\"oneOf\":["
    "{\"type\":\"integer\",\"minimum\":200,\"maximum\":599,\"title\":\"Fixed status\"},"
    "{\"type\":\"string\",\"minLength\":1,\"title\":\"Status from JMESPath\","
    "\"description\":\"Must yield an integer from 200 to 599.\","
    "\"x-meshhook-syntax\":\"jmespath\"}]},"
    "\"headers\":{\"type\":\"object\",\"title\":\"Headers\","
    "\"description\":\"Header name to template. Hop-by-hop, cookie, CORS and security-policy "
    "headers are refused.\","
    "\"propertyNames\":{\"pattern\":\"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$\",\"maxLength\":128},"
    "\"additionalProperties\":{\"type\":\"string\",\"x-meshhook-syntax\":\"template\"},"
    "\"maxProperties\":32,\"default\":{}},"
    "\"body\":{\"type\":\"string\",\"minLength\":1,\"title\":\"Body\","
    "\"description\":\"JMESPath evaluated against the context; its result is sent as JSON, or "
    "as text when it is a string and a content-type header is set. Without it the answer has "
    "no body.\",\"x-meshhook-syntax\":\"jmespath\","
    "\"examples\":[\"{response_type: 'ephemeral', text: join('', ['Got ', trigger.body.text])}\"]"
    "}},"
    "\"additionalProperties\":false}";

/* Header names a respond node may not set (lower case): hop-by-hop and framing headers the
 * server owns, and headers that would act on MeshHook's own origin in a browser. */
static const char *const refused_headers[] = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-encoding",
    "host",
    "date",
    "server",
    "set-cookie",
    "set-cookie2",
    "strict-transport-security",
    "content-security-policy",
    "content-security-policy-report-only",
    "x-frame-options",
    "x-content-type-options",
    "referrer-policy",
    "permissions-policy",
    "clear-site-data",
    "www-authenticate",
    "alt-svc",
    "refresh",
};
/* Prefixes of refused names (CORS and cross-origin isolation). */
static const char *const refused_prefixes[] = {"access-control-", "cross-origin-"};

struct respond_header {
    char *name; /* lower case */
    struct mh_tpl *tpl;
};

struct respond {
    int status;                     /* when status_expr is NULL */
    struct mh_jp_expr *status_expr; /* NULL: the fixed status */
    struct respond_header *headers;
    size_t n_headers;
    struct mh_jp_expr *body; /* NULL: no body */
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static bool reads(const struct mh_wf_node *n, json_t *trie)
{
    const struct respond *r = n->impl;
    if (r == NULL || (r->status_expr && !mh_jp_add_reads(r->status_expr, trie)) ||
        (r->body && !mh_jp_add_reads(r->body, trie)))
        return false;
    for (size_t i = 0; i < r->n_headers; i++)
        if (!mh_engine__tpl_add_reads(r->headers[i].tpl, trie))
            return false;
    return true;
}

static void release(void *impl);
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info);
static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member);
static bool reads(const struct mh_wf_node *n, json_t *trie);

const struct mh_node_type mh_engine__node_respond = {
    .name = "respond",
    .title = "Respond",
    .description = "Answers the webhook with a status, headers and a body",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
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
    .reads = reads,
};

bool mh_engine_respond_header_refused(const char *name)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(refused_headers); i++)
        if (strcasecmp(name, refused_headers[i]) == 0)
            return true;
    for (size_t i = 0; i < MH_ARRAY_LEN(refused_prefixes); i++)
        if (strncasecmp(name, refused_prefixes[i], strlen(refused_prefixes[i])) == 0)
            return true;
    return false;
}

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct respond *r = mh_xcalloc(1, sizeof(*r));
    size_t nerr = 0;
    n->impl = r;
    json_t *status = json_object_get(cfg, "status");
    r->status = 200;
    if (json_is_integer(status))
        r->status = (int)json_integer_value(status);
    else if (json_is_string(status))
        nerr += mh_engine__compile_member(cfg, path, "status", n->id, &r->status_expr, errors);
    json_t *headers = json_object_get(cfg, "headers");
    if (json_is_object(headers) && json_object_size(headers) > 0) {
        char *hp = mh_engine__pointer_join(path, "headers");
        r->headers = mh_xcalloc(json_object_size(headers), sizeof(*r->headers));
        const char *key;
        json_t *value;
        json_object_foreach(headers, key, value)
        {
            char *p = mh_engine__pointer_join(hp, key);
            struct respond_header *h = &r->headers[r->n_headers++];
            h->name = mh_xstrdup(key);
            for (char *c = h->name; *c; c++)
                if (*c >= 'A' && *c <= 'Z')
                    *c = (char)(*c + 32);
            if (mh_engine_respond_header_refused(h->name)) {
                mh_engine__add_error(errors, p, "forbidden_header", n->id, -1,
                                     "a respond node may not set the header '%.128s': it belongs "
                                     "to the connection or to the server's security",
                                     key);
                nerr++;
            } else {
                for (size_t k = 0; k + 1 < r->n_headers; k++) {
                    if (strcmp(r->headers[k].name, h->name) == 0) {
                        mh_engine__add_error(errors, p, "duplicate_header", n->id, -1,
                                             "the header '%.128s' is set twice", key);
                        nerr++;
                        break;
                    }
                }
                size_t before = nerr;
                nerr += mh_engine__compile_tpl(json_string_value(value), false, p, n->id, &h->tpl,
                                               errors);
                for (size_t k = 0; nerr == before && h->tpl && k < h->tpl->n_parts; k++) {
                    if (h->tpl->parts[k].is_secret) {
                        mh_engine__add_error(errors, p, "secret_in_response", n->id, -1,
                                             "a secret may not be sent back to the webhook's "
                                             "sender");
                        nerr++;
                    }
                }
            }
            free(p);
        }
        free(hp);
    }
    if (json_string_value(json_object_get(cfg, "body")) != NULL)
        nerr += mh_engine__compile_member(cfg, path, "body", n->id, &r->body, errors);
    return nerr;
}

static void release(void *impl)
{
    struct respond *r = impl;
    if (r == NULL)
        return;
    mh_jp_expr_destroy(r->status_expr);
    for (size_t i = 0; i < r->n_headers; i++) {
        free(r->headers[i].name);
        mh_engine__tpl_destroy(r->headers[i].tpl);
    }
    free(r->headers);
    mh_jp_expr_destroy(r->body);
    free(r);
}

/* The step's output: {"status", "headers": {lower-case name: value}, "body"?}. A status
 * expression that yields no integer from 200 to 599, or a header value with a line break, fails
 * the step (kind invalid_value, template). */
static enum mh_err eval(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                        struct mh_err_info *info)
{
    const struct respond *r = n->impl;
    json_t *headers = json_object(), *body = NULL, *sv = NULL;
    enum mh_err rc = MH_OK;
    int status = r->status;
    *out = NULL;
    if (r->status_expr) {
        if ((rc = mh_jp_eval(r->status_expr, ctx, &sv, info)) != MH_OK)
            goto out;
        double d = json_number_value(sv);
        if (!json_is_number(sv) || d != (double)(int)d || d < 200 || d > 599) {
            rc = mh_err_set(info, MH_EINVAL, "invalid_value", -1,
                            "the status expression must yield an integer from 200 to 599");
            goto out;
        }
        status = (int)d;
    }
    for (size_t i = 0; i < r->n_headers; i++) {
        char *s = NULL;
        size_t len = 0;
        rc = mh_engine__tpl_render(r->headers[i].tpl, ctx, false, NULL, NULL, &s, &len, info);
        if (rc != MH_OK)
            goto out;
        if (!mh_engine__header_value_ok(s, len)) {
            free(s);
            rc = mh_err_set(info, MH_EINVAL, "template", -1,
                            "the value of header %s contains a line break or another control "
                            "character",
                            r->headers[i].name);
            goto out;
        }
        json_object_set_new(headers, r->headers[i].name, json_stringn(s, len));
        free(s);
    }
    if (r->body && (rc = mh_jp_eval(r->body, ctx, &body, info)) != MH_OK)
        goto out;
    *out = json_pack("{s:i, s:O}", "status", status, "headers", headers);
    if (body)
        json_object_set(*out, "body", body);
out:
    json_decref(sv);
    json_decref(body);
    json_decref(headers);
    return rc;
}

static const struct mh_jp_expr *error_expr(const struct mh_wf_node *n, const char **member)
{
    const struct respond *r = n->impl;
    *member = r->body ? "body" : "status";
    return r->body ? r->body : r->status_expr;
}

json_t *mh_engine_response_of(const struct mh_wf *wf, const struct mh_event *events, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const struct mh_event *ev = &events[k];
        if (strcmp(ev->type, MH_EV_STEP_SUCCEEDED) != 0)
            continue;
        long i = mh_engine__node_index(wf, ev->node_id);
        if (i >= 0 && wf->nodes[i].type == &mh_engine__node_respond)
            return json_object_get(ev->payload, "output");
    }
    return NULL;
}

bool mh_engine_wf_has_respond(const struct mh_wf *wf)
{
    for (size_t i = 0; i < wf->n_nodes; i++)
        if (wf->nodes[i].type == &mh_engine__node_respond)
            return true;
    return false;
}
