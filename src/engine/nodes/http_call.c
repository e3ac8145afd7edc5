/* SPDX-License-Identifier: MIT */
/*
 * The http_call node: builds a request from the context (url, header, query and body templates,
 * or a JSON body from JMESPath), records it with an idempotency key stable across retries, and
 * hands it to the caller to send; the caller reports each attempt's outcome (http_attempt), and
 * the node decides: success, a retry after exponential backoff with full jitter (honouring
 * Retry-After), or failure. `{{secrets.NAME}}` placeholders stay placeholders in everything
 * recorded; only the sender resolves them. Replay rebuilds the first attempt's request and key.
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/httpdate.h"
#include "core/mem.h"
#include "crypto/crypto.h"

/* Defaults the code applies; the schema documents the same values as `default`. */
#define DEFAULT_TIMEOUT_MS 30000

static const char schema[] =
    "{" MH_NODE_SCHEMA_HEAD "\"title\":\"HTTP call\","
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
    "\"retry\":" MH_ENGINE__RETRY_SCHEMA ","
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

struct http_kv {
    char *name;
    struct mh_tpl *tpl;
};

struct http_call {
    char method[16];
    struct mh_tpl *url;
    struct http_kv *headers;
    size_t n_headers;
    struct http_kv *query;
    size_t n_query;
    struct mh_tpl *body_tpl;      /* a body template, or */
    struct mh_jp_expr *body_expr; /* a JSON body from JMESPath, or neither */
    int64_t timeout_ms;
    char *sign_secret;
    bool expect_json;
};

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors);
static size_t compile_kv(json_t *obj, const char *path, const char *node_id, struct http_kv **out,
                         size_t *n_out, json_t *errors);
static void release(void *impl);
static enum mh_err make_idem_key(const struct mh_run_state *st, const char *node_id, int group,
                                 char out[MH_ENGINE_IDEM_KEY_LEN + 1]);
static const char *header_get(json_t *headers, const char *name);
static void add_spans(json_t *obj, const char *key, json_t *spans);
static enum mh_err build_request(const struct mh_wf_node *n, json_t *ctx, const char *idem_key,
                                 bool legacy, json_t **out, struct mh_err_info *info);
static enum mh_err start(struct mh_advance *a, size_t i);
static enum mh_err start_http(struct mh_advance *a, size_t i, int attempt);
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress);
static enum mh_err handle_http_result(struct mh_advance *a, size_t i);
static void add_body_summary(json_t *error, json_t *resp);
static void pending(struct mh_advance *a, size_t i);
static void add_resend(struct mh_advance *a, size_t i);
static const char *admit(const struct mh_step_state *s, enum mh_node_event what);
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t i);
static bool same_json_body(const struct mh_wf_node *n, json_t *recorded, json_t *rebuilt);
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info);
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events);
static void secret_refs(json_t *cfg, json_t *names);
static void add_name(json_t *names, const char *name);
static void add_template(json_t *names, const char *src, bool is_url);
static void add_values(json_t *names, json_t *obj);

const struct mh_node_type mh_engine__node_http_call = {
    .name = "http_call",
    .title = "HTTP call",
    .description = "Sends an HTTP request with retries and an idempotency key",
    .schema = schema,
    .out = MH_NODE_OUT_PLAIN,
    .is_dead_letter = true,
    .compile = compile,
    .release = release,
    .start = start,
    .resume = resume,
    .pending = pending,
    .admit = admit,
    .eval = mh_engine__node_eval_none,
    .replay = replay,
    .error_expr = mh_engine__node_error_expr_none,
    .check_stand_in = check_stand_in,
    .recorded_stand_in = recorded_stand_in,
    .secret_refs = secret_refs,
    .reads = mh_engine__node_reads_all,
};

/* ---- Compiling ---------------------------------------------------------------------------- */

static size_t compile(struct mh_wf_node *n, json_t *cfg, const char *path, json_t *errors)
{
    struct http_call *h = mh_xcalloc(1, sizeof(*h));
    size_t nerr = 0;
    char *p = NULL;
    n->impl = h;
    const char *m = json_string_value(json_object_get(cfg, "method"));
    snprintf(h->method, sizeof(h->method), "%s", m ? m : "POST");
    p = mh_engine__pointer_join(path, "url");
    nerr += mh_engine__compile_tpl(json_string_value(json_object_get(cfg, "url")), true, p, n->id,
                                   &h->url, errors);
    free(p);
    p = mh_engine__pointer_join(path, "headers");
    nerr +=
        compile_kv(json_object_get(cfg, "headers"), p, n->id, &h->headers, &h->n_headers, errors);
    free(p);
    p = mh_engine__pointer_join(path, "query");
    nerr += compile_kv(json_object_get(cfg, "query"), p, n->id, &h->query, &h->n_query, errors);
    free(p);
    p = NULL;
    json_t *body = json_object_get(cfg, "body");
    if (json_is_string(body)) {
        p = mh_engine__pointer_join(path, "body");
        nerr +=
            mh_engine__compile_tpl(json_string_value(body), false, p, n->id, &h->body_tpl, errors);
    } else if (json_is_object(body)) {
        char *bp = mh_engine__pointer_join(path, "body");
        nerr += mh_engine__compile_member(body, bp, "expression", n->id, &h->body_expr, errors);
        free(bp);
    }
    h->timeout_ms = mh_engine__int_or(cfg, "timeout_ms", DEFAULT_TIMEOUT_MS);
    /* config.retry is this type's own place for the engine-level retry policy (retry.c), kept
     * from before every node could set "retry"; definition.c refuses both at once. */
    json_t *retry = json_object_get(cfg, "retry");
    if (retry != NULL) {
        free(p);
        p = mh_engine__pointer_join(path, "retry");
        n->has_retry_config = true;
        nerr += mh_engine__retry_parse(retry, p, n->id, &n->retry, errors);
    }
    const char *secret = json_string_value(json_object_get(json_object_get(cfg, "sign"), "secret"));
    if (secret != NULL)
        h->sign_secret = mh_xstrdup(secret);
    h->expect_json = json_is_true(json_object_get(cfg, "expect_json"));
    free(p);
    return nerr;
}

static size_t compile_kv(json_t *obj, const char *path, const char *node_id, struct http_kv **out,
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
        char *p = mh_engine__pointer_join(path, key);
        (*out)[i].name = mh_xstrdup(key);
        nerr += mh_engine__compile_tpl(json_string_value(value), false, p, node_id, &(*out)[i].tpl,
                                       errors);
        free(p);
        i++;
    }
    *n_out = i;
    return nerr;
}

static void release(void *impl)
{
    struct http_call *h = impl;
    if (h == NULL)
        return;
    mh_engine__tpl_destroy(h->url);
    for (size_t i = 0; i < h->n_headers; i++) {
        free(h->headers[i].name);
        mh_engine__tpl_destroy(h->headers[i].tpl);
    }
    free(h->headers);
    for (size_t i = 0; i < h->n_query; i++) {
        free(h->query[i].name);
        mh_engine__tpl_destroy(h->query[i].tpl);
    }
    free(h->query);
    mh_engine__tpl_destroy(h->body_tpl);
    mh_jp_expr_destroy(h->body_expr);
    free(h->sign_secret);
    free(h);
}

/* ---- The request -------------------------------------------------------------------------- */

/* The idempotency key of (run, step, attempt group). The step is the node's id, prefixed with
 * its item's in a for_each body ("loop[17].call"), so each item's call has a key of its own. */
static enum mh_err make_idem_key(const struct mh_run_state *st, const char *node_id, int group,
                                 char out[MH_ENGINE_IDEM_KEY_LEN + 1])
{
    char material[512];
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    char hex[2 * MH_CRYPTO_SHA256_LEN + 1];
    int n = snprintf(material, sizeof(material), "meshhook/idempotency\n%s\n%s%s\n%d", st->run_id,
                     st->scope, node_id, group);
    if (n < 0 || (size_t)n >= sizeof(material))
        return MH_EINVAL;
    enum mh_err rc = mh_crypto_sha256(material, (size_t)n, h);
    if (rc != MH_OK)
        return rc;
    mh_crypto_hex_encode(h, sizeof(h), hex);
    snprintf(out, MH_ENGINE_IDEM_KEY_LEN + 1, "mh-%.32s", hex);
    return MH_OK;
}

static const char *header_get(json_t *headers, const char *name)
{
    const char *key;
    json_t *value;
    json_object_foreach(headers, key, value)
    {
        if (strcasecmp(key, name) == 0 && json_is_string(value))
            return json_string_value(value);
    }
    return NULL;
}

/* Adds a copy of the spans of one rendered string under `key` of `obj`, when there are any. */
static void add_spans(json_t *obj, const char *key, json_t *spans)
{
    if (json_array_size(spans) > 0)
        json_object_set_new(obj, key, json_copy(spans));
}

/*
 * Builds the request of an action (struct mh_engine_action). `legacy` builds it as MeshHook did
 * before requests recorded their placeholders (url values not encoded, no "placeholders",
 * strings cut at a NUL, only line breaks refused in headers): replay uses it for requests
 * recorded then, and nothing is ever sent from it.
 */
static enum mh_err build_request(const struct mh_wf_node *n, json_t *ctx, const char *idem_key,
                                 bool legacy, json_t **out, struct mh_err_info *info)
{
    const struct http_call *h = n->impl;
    enum mh_err rc = MH_OK;
    json_t *secrets = json_array(), *headers = json_object(), *query = json_object();
    json_t *ph = json_object(), *ph_headers = json_object(), *ph_query = json_object();
    json_t *spans = json_array();
    json_t *req = NULL, *val = NULL;
    char *url = NULL, *s = NULL, *body = NULL;
    size_t slen = 0, body_len = 0;
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    *out = NULL;

    rc = mh_engine__tpl_render(h->url, ctx, legacy, secrets, spans, &url, NULL, info);
    if (rc != MH_OK)
        goto out;
    /* A url opening with a secret (a base url kept as a secret) is checked once it is sent. */
    json_t *first = json_array_get(spans, 0);
    bool opens_with_secret = legacy ? strncmp(url, "{{", 2) == 0
                                    : first && json_integer_value(json_array_get(first, 0)) == 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0 && !opens_with_secret) {
        rc = mh_err_set(info, MH_EINVAL, "invalid_url", -1,
                        "the url \"%.100s\" does not start with http:// or https://", url);
        goto out;
    }
    add_spans(ph, "url", spans);
    for (size_t i = 0; i < h->n_headers; i++) {
        json_array_clear(spans);
        rc = mh_engine__tpl_render(h->headers[i].tpl, ctx, legacy, secrets, spans, &s, &slen, info);
        if (rc != MH_OK)
            goto out;
        slen = legacy ? strlen(s) : slen;
        if (legacy ? strpbrk(s, "\r\n") != NULL : !mh_engine__header_value_ok(s, slen)) {
            rc = mh_err_set(info, MH_EINVAL, "template", -1,
                            "the value of header %s contains a line break or another control "
                            "character",
                            h->headers[i].name);
            goto out;
        }
        json_object_set_new(headers, h->headers[i].name, json_stringn(s, slen));
        add_spans(ph_headers, h->headers[i].name, spans);
        free(s);
        s = NULL;
    }
    for (size_t i = 0; i < h->n_query; i++) {
        json_array_clear(spans);
        rc = mh_engine__tpl_render(h->query[i].tpl, ctx, legacy, secrets, spans, &s, &slen, info);
        if (rc != MH_OK)
            goto out;
        slen = legacy ? strlen(s) : slen;
        json_object_set_new(query, h->query[i].name, json_stringn(s, slen));
        add_spans(ph_query, h->query[i].name, spans);
        free(s);
        s = NULL;
    }
    if (h->body_tpl != NULL) {
        json_array_clear(spans);
        rc =
            mh_engine__tpl_render(h->body_tpl, ctx, legacy, secrets, spans, &body, &body_len, info);
        if (rc != MH_OK)
            goto out;
        body_len = legacy ? strlen(body) : body_len;
        add_spans(ph, "body", spans);
    } else if (h->body_expr != NULL) {
        /* A JSON body comes from the data alone: it has no placeholders to resolve. */
        rc = mh_jp_eval(h->body_expr, ctx, &val, info);
        if (rc != MH_OK)
            goto out;
        rc = mh_engine__json_write(val, false, &b);
        if (rc != MH_OK) {
            rc = mh_err_set(info, rc, "limit", -1, "the request body exceeds %u bytes",
                            MH_ENGINE_MAX_OUTPUT_BYTES);
            goto out;
        }
        body = mh_buf_steal(&b, &body_len);
        if (header_get(headers, "content-type") == NULL)
            json_object_set_new(headers, "content-type", json_string("application/json"));
    }
    if (header_get(headers, "idempotency-key") == NULL)
        json_object_set_new(headers, "idempotency-key", json_string(idem_key));
    req = json_pack("{s:s,s:s,s:O,s:O,s:I,s:s,s:O}", "method", h->method, "url", url, "headers",
                    headers, "query", query, "timeout_ms", (json_int_t)h->timeout_ms,
                    "idempotency_key", idem_key, "secrets", secrets);
    if (body != NULL)
        json_object_set_new(req, "body", json_stringn(body, body_len));
    if (json_array_size(secrets) > 0 && !legacy) {
        if (json_object_size(ph_headers) > 0)
            json_object_set(ph, "headers", ph_headers);
        if (json_object_size(ph_query) > 0)
            json_object_set(ph, "query", ph_query);
        json_object_set(req, "placeholders", ph);
    }
    if (h->sign_secret != NULL)
        json_object_set_new(req, "sign", json_pack("{s:s}", "secret", h->sign_secret));
    *out = req;
out:
    mh_buf_cleanup(&b);
    json_decref(val);
    free(body);
    free(s);
    free(url);
    json_decref(spans);
    json_decref(ph_query);
    json_decref(ph_headers);
    json_decref(ph);
    json_decref(query);
    json_decref(headers);
    json_decref(secrets);
    return rc;
}

/* ---- Deciding ----------------------------------------------------------------------------- */

static enum mh_err start(struct mh_advance *a, size_t i)
{
    return start_http(a, i, 1);
}

static enum mh_err start_http(struct mh_advance *a, size_t i, int attempt)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    const struct http_call *h = n->impl;
    struct mh_step_state *s = &a->st->steps[i];
    enum mh_err rc = MH_OK;
    json_t *ctx = NULL, *req = NULL, *payload = NULL;
    char key[MH_ENGINE_IDEM_KEY_LEN + 1];

    if (attempt == 1) {
        struct mh_err_info rinfo = MH_ERR_INFO_INIT;
        rc = make_idem_key(a->st, n->id, 1, key);
        if (rc != MH_OK)
            goto out;
        ctx = mh_engine__context(a->st, i);
        if (build_request(n, ctx, key, false, &req, &rinfo) != MH_OK) {
            const char *kind = rinfo.kind[0] ? rinfo.kind : "template";
            if (strcmp(kind, "syntax") != 0 && strcmp(kind, "limit") != 0 &&
                strcmp(kind, "template") != 0 && strcmp(kind, "invalid_url") != 0)
                kind = "jmespath";
            rc = mh_engine__fail_step(a, i, 1, mh_engine__error_obj(kind, rinfo.message), false);
            goto out;
        }
        payload = json_pack("{s:O,s:s,s:I}", "request", req, "idempotency_key", key, "timeout_ms",
                            (json_int_t)h->timeout_ms);
    } else {
        snprintf(key, sizeof(key), "%s", s->idem_key);
        req = json_incref(s->request);
        payload = json_pack("{s:s}", "idempotency_key", key);
    }
    rc = mh_engine__emit(a, MH_EV_STEP_STARTED, (long)i, attempt, payload);
    payload = NULL;
    if (rc != MH_OK)
        goto out;
    struct mh_engine_action *act = mh_engine__add_action(a, MH_ACTION_HTTP, (long)i);
    act->attempt = attempt;
    act->request = req;
    req = NULL;
    snprintf(act->idempotency_key, sizeof(act->idempotency_key), "%s", key);
    act->timeout_ms = h->timeout_ms;
out:
    json_decref(payload);
    json_decref(req);
    json_decref(ctx);
    return rc;
}

/* A reported result is handled; a due retry starts the next attempt; a parked attempt resumes. */
static enum mh_err resume(struct mh_advance *a, size_t i, bool *progress)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status == MH_STEP_RUNNING && s->result != NULL) {
        *progress = true;
        return handle_http_result(a, i);
    }
    if (s->status == MH_STEP_WAITING_RETRY && a->now >= s->fire_at) {
        *progress = true;
        return start_http(a, i, s->attempts + 1);
    }
    /* Parked by an open breaker (step_parked): from `until` on the breaker lets a probe
     * through, and the same attempt is sent again, with the request and idempotency key it was
     * started with. */
    if (s->status == MH_STEP_WAITING_BREAKER && a->now >= s->fire_at) {
        enum mh_err rc = mh_engine__emit(a, MH_EV_STEP_RESUMED, (long)i, s->attempts,
                                         json_pack("{s:I}", "until", (json_int_t)s->fire_at));
        if (rc == MH_OK && s->request != NULL)
            add_resend(a, i);
        return rc;
    }
    return MH_OK;
}

/*
 * What an error path sees of a response that failed the step (steps.<id>.error.body): the body
 * as JSON when it parsed, else its text, either when it is at most ERROR_BODY_MAX bytes; a larger
 * one is cut to that many bytes of text with body_truncated. The whole response stays in the
 * http_attempt event.
 */
#define ERROR_BODY_MAX 1024
static void add_body_summary(json_t *error, json_t *resp)
{
    json_t *parsed = json_object_get(resp, "json");
    json_t *text = json_object_get(resp, "body");
    if (parsed != NULL) {
        struct mh_buf b;
        mh_buf_init(&b, ERROR_BODY_MAX);
        if (mh_engine_canonical_json(parsed, &b) == MH_OK)
            json_object_set(error, "body", parsed);
        mh_buf_cleanup(&b);
        if (json_object_get(error, "body") != NULL)
            return;
    }
    if (!json_is_string(text))
        return;
    size_t len = json_string_length(text);
    bool cut = len > ERROR_BODY_MAX;
    char *copy = mh_xstrndup(json_string_value(text), cut ? ERROR_BODY_MAX : len);
    json_object_set_new(error, "body", mh_engine__jstring(copy));
    free(copy);
    if (cut)
        json_object_set_new(error, "body_truncated", json_true());
}

static enum mh_err handle_http_result(struct mh_advance *a, size_t i)
{
    const struct http_call *h = a->wf->nodes[i].impl;
    const struct mh_step_state *s = &a->st->steps[i];
    json_t *resp = json_object_get(s->result, "response");
    json_t *err = json_object_get(s->result, "error");
    json_t *error = NULL;
    bool retryable = false;
    int attempt = s->attempts;
    char msg[200];

    if (json_is_object(resp)) {
        int status = (int)json_integer_value(json_object_get(resp, "status"));
        if (status >= 200 && status < 300) {
            json_t *body = json_object_get(resp, "json");
            json_t *parsed = NULL;
            if (body == NULL && h->expect_json) {
                const char *text = json_string_value(json_object_get(resp, "body"));
                parsed = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
                if (parsed == NULL)
                    return mh_engine__fail_step(a, i, attempt,
                                                mh_engine__error_obj("invalid_json",
                                                                     "expect_json is set and the "
                                                                     "response body is not JSON"),
                                                false);
                body = parsed;
            }
            if (body == NULL)
                body = json_object_get(resp, "body");
            json_t *headers = json_object_get(resp, "headers");
            json_t *out = json_pack("{s:i,s:o,s:O}", "status", status, "headers",
                                    headers ? json_incref(headers) : json_object(), "body",
                                    body ? body : json_null());
            if (json_object_get(resp, "body_b64") != NULL)
                json_object_set(out, "body_b64", json_object_get(resp, "body_b64"));
            json_decref(parsed);
            return mh_engine__succeed_step(a, i, attempt, out, NULL);
        }
        retryable = status >= 500 || status == 429 || status == 408;
        snprintf(msg, sizeof(msg), "HTTP status %d", status);
        error = json_pack("{s:s,s:i,s:o}", "kind", "http_status", "status", status, "message",
                          mh_engine__jstring(msg));
        add_body_summary(error, resp);
    } else {
        const char *kind = json_string_value(json_object_get(err, "kind"));
        const char *m = json_string_value(json_object_get(err, "message"));
        if (kind == NULL)
            kind = "other";
        retryable = strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0 ||
                    strcmp(kind, "dns") == 0;
        snprintf(msg, sizeof(msg), "%s%s%s", kind, m ? ": " : "", m ? m : "");
        error = mh_engine__error_obj(kind, msg);
        resp = NULL;
    }
    int64_t retry_after = -1;
    const char *ra = resp ? header_get(json_object_get(resp, "headers"), "retry-after") : NULL;
    if (ra != NULL) {
        int64_t when = mh_http_retry_after(ra, a->now);
        retry_after = when >= 0 ? when - a->now : -1;
    }
    return mh_engine__retry_or_fail(a, i, error, retryable, retry_after);
}

static void pending(struct mh_advance *a, size_t i)
{
    const struct mh_step_state *s = &a->st->steps[i];
    if (s->status == MH_STEP_RUNNING && s->result == NULL && s->request != NULL)
        add_resend(a, i);
    else if (s->status == MH_STEP_WAITING_RETRY)
        mh_engine__add_timer(a, i, s->attempts + 1, s->fire_at);
    else if (s->status == MH_STEP_WAITING_BREAKER)
        mh_engine__add_timer(a, i, s->attempts, s->fire_at);
}

/* An HTTP action sending the current attempt of step `i` again, as it was started: the same
 * request and idempotency key. */
static void add_resend(struct mh_advance *a, size_t i)
{
    const struct http_call *h = a->wf->nodes[i].impl;
    const struct mh_step_state *s = &a->st->steps[i];
    struct mh_engine_action *act = mh_engine__add_action(a, MH_ACTION_HTTP, (long)i);
    act->attempt = s->attempts;
    act->request = json_incref(s->request);
    snprintf(act->idempotency_key, sizeof(act->idempotency_key), "%s", s->idem_key);
    act->timeout_ms = h->timeout_ms;
}

/* ---- Folding ------------------------------------------------------------------------------ */

static const char *admit(const struct mh_step_state *s, enum mh_node_event what)
{
    switch (what) {
    case MH_NODE_EV_START:
    case MH_NODE_EV_ATTEMPT: return NULL;
    case MH_NODE_EV_CALLBACK: return "only wait_callback steps take a callback";
    case MH_NODE_EV_TIMER: return "a timer is set only by a pending delay step";
    case MH_NODE_EV_SUCCEED:
        return s->status == MH_STEP_RUNNING && s->result != NULL
                   ? NULL
                   : "an http_call step succeeds only after an attempt's result";
    }
    return "unknown event";
}

/* ---- Replay ------------------------------------------------------------------------------- */

/*
 * A body built by a JMESPath expression is JSON text: two requests that differ only in the key
 * order of that text carry the same document. Since the run state keeps every step output in one
 * key order (mh_engine__json_state_ordered), a body is rebuilt byte for byte; logs recorded
 * before that, with an object's keys in the order it was built in, are compared as JSON here.
 */
static bool same_json_body(const struct mh_wf_node *n, json_t *recorded, json_t *rebuilt)
{
    json_t *rb = json_object_get(recorded, "body"), *nb = json_object_get(rebuilt, "body");
    const struct http_call *h = n->impl;
    if (h->body_tpl != NULL || h->body_expr == NULL || !json_is_string(rb) || !json_is_string(nb))
        return false;
    bool same = false;
    json_t *a = json_deep_copy(recorded), *b = json_deep_copy(rebuilt);
    json_t *ra = json_loadb(json_string_value(rb), json_string_length(rb), JSON_DECODE_ANY, NULL);
    json_t *rn = json_loadb(json_string_value(nb), json_string_length(nb), JSON_DECODE_ANY, NULL);
    if (a && b && ra && rn) {
        json_object_set_new(a, "body", ra);
        json_object_set_new(b, "body", rn);
        ra = rn = NULL;
        same = mh_engine__json_same(a, b);
    }
    json_decref(ra);
    json_decref(rn);
    json_decref(a);
    json_decref(b);
    return same;
}

/* The first attempt's request and idempotency key are rebuilt from the context and compared. */
static void replay(struct mh_replay *r, const struct mh_event *ev, size_t idx)
{
    if (ev->attempt != 1 || strcmp(ev->type, MH_EV_STEP_STARTED) != 0)
        return;
    const struct mh_wf_node *n = &r->wf->nodes[idx];
    char key[MH_ENGINE_IDEM_KEY_LEN + 1];
    json_t *ctx = NULL, *req = NULL, *jkey = NULL;
    json_t *rec_key = json_object_get(ev->payload, "idempotency_key");
    if (make_idem_key(r->st, n->id, 1, key) != MH_OK)
        return;
    jkey = json_string(key);
    if (!mh_engine__json_same(rec_key, jkey))
        mh_engine__replay_diverge(r, ev, "idempotency_key", rec_key, jkey);
    ctx = mh_engine__context(r->st, idx);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *recorded = json_object_get(ev->payload, "request");
    enum mh_err rc = build_request(n, ctx, key, false, &req, &info);
    if (rc == MH_OK && mh_engine__json_same(recorded, req))
        goto out;
    /* A request recorded before requests recorded their placeholders was rendered the old way
     * (url values unencoded): it is faithful when the old rendering reproduces it. */
    if (json_object_get(recorded, "placeholders") == NULL) {
        json_t *old = NULL;
        struct mh_err_info oinfo = MH_ERR_INFO_INIT;
        bool same = build_request(n, ctx, key, true, &old, &oinfo) == MH_OK &&
                    mh_engine__json_same(recorded, old);
        json_decref(old);
        if (same)
            goto out;
    }
    if (rc != MH_OK) {
        json_t *e = json_pack("{s:o}", "error", mh_engine__jstring(info.message));
        mh_engine__replay_diverge(r, ev, "request", recorded, e);
        json_decref(e);
    } else if (!same_json_body(n, recorded, req)) {
        mh_engine__replay_diverge(r, ev, "request", recorded, req);
    }
out:
    json_decref(req);
    json_decref(ctx);
    json_decref(jkey);
}

/* ---- Preview ------------------------------------------------------------------------------ */

/* A call's stand-in is the response to report: {"status", "headers", "body"}. */
static enum mh_err check_stand_in(const struct mh_wf_node *n, json_t *v, struct mh_err_info *info)
{
    (void)n;
    char path[64];
    if (!json_is_object(v)) {
        mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                   "an http_call's stand-in is a response {\"status\", \"headers\", \"body\"}");
        return MH_EINVAL;
    }
    const char *member;
    json_t *m;
    json_object_foreach(v, member, m)
    {
        snprintf(path, sizeof(path), "/%.16s", member);
        if (strcmp(member, "status") == 0) {
            if (!json_is_integer(m) || json_integer_value(m) < 100 || json_integer_value(m) > 599) {
                mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                           "'status' must be an HTTP status from 100 to 599");
                mh_err_set_path(info, path);
                return MH_EINVAL;
            }
        } else if (strcmp(member, "headers") == 0) {
            const char *h;
            json_t *hv;
            bool ok = json_is_object(m);
            json_object_foreach(m, h, hv)
            {
                ok = ok && json_is_string(hv);
            }
            if (!ok) {
                mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                           "'headers' must be an object of strings");
                mh_err_set_path(info, path);
                return MH_EINVAL;
            }
        } else if (strcmp(member, "body") != 0) {
            mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                       "unknown member '%.16s': a stand-in response has status, headers and "
                       "body",
                       member);
            mh_err_set_path(info, path);
            return MH_EINVAL;
        }
    }
    return MH_OK;
}

/* The response the call's last attempt got in a recorded run, as a stand-in {"status",
 * "headers", "body" (the text as received)}; NULL when no attempt got one (a network error, a
 * call never sent, a node the run did not have) or its body was binary. */
static json_t *recorded_stand_in(const struct mh_wf_node *n, const struct mh_event *events,
                                 size_t n_events)
{
    for (size_t k = n_events; k-- > 0;) {
        const struct mh_event *ev = &events[k];
        if (strcmp(ev->type, MH_EV_HTTP_ATTEMPT) != 0 || strcmp(ev->node_id, n->id) != 0)
            continue;
        json_t *resp = json_object_get(ev->payload, "response");
        json_t *status = json_object_get(resp, "status");
        json_t *body = json_object_get(resp, "body");
        if (!json_is_integer(status) || !json_is_string(body))
            return NULL; /* no response, or a binary body (body_b64) a stand-in cannot carry */
        json_t *headers = json_object_get(resp, "headers");
        json_t *out = json_pack("{s:O}", "status", status);
        json_object_set_new(out, "headers",
                            json_is_object(headers) ? json_deep_copy(headers) : json_object());
        json_object_set(out, "body", body);
        return out;
    }
    return NULL;
}

/* ---- Secrets ------------------------------------------------------------------------------ */

/* Appends `name` to `names` unless it is there already. */
static void add_name(json_t *names, const char *name)
{
    for (size_t k = 0; k < json_array_size(names); k++)
        if (strcmp(json_string_value(json_array_get(names, k)), name) == 0)
            return;
    json_array_append_new(names, json_string(name));
}

/* Appends the secret names of template `src` to `names`. A template that does not compile names
 * nothing: its text is not a placeholder then. */
static void add_template(json_t *names, const char *src, bool is_url)
{
    struct mh_tpl *t = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (src == NULL || mh_engine__tpl_compile(src, is_url, &t, &info) != MH_OK)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].is_secret && t->parts[i].secret_name != NULL)
            add_name(names, t->parts[i].secret_name);
    }
    mh_engine__tpl_destroy(t);
}

static void add_values(json_t *names, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        add_template(names, json_string_value(v), false);
    }
}

/* The placeholders of the url, header and query values and body template, and the secret that
 * signs the request. */
static void secret_refs(json_t *cfg, json_t *names)
{
    add_template(names, json_string_value(json_object_get(cfg, "url")), true);
    add_values(names, json_object_get(cfg, "headers"));
    add_values(names, json_object_get(cfg, "query"));
    add_template(names, json_string_value(json_object_get(cfg, "body")), false);
    const char *sign = json_string_value(json_object_get(json_object_get(cfg, "sign"), "secret"));
    if (sign != NULL)
        add_name(names, sign);
}
