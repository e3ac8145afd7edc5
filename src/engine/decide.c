/* SPDX-License-Identifier: MIT */
/*
 * The decision function: given a workflow version, a run's events and the caller's inputs (clock
 * reading, random source, outside reports), it decides what happens next and records every
 * decision as an event before the caller acts on it. Pure steps (transform, branch, terminate,
 * dead-path skips, due timers) are evaluated in topological order, pass after pass, until only
 * outside work remains, so a chain of pure nodes completes in one call. Each new event is
 * applied to the state through the same fold that reads the log back, so what advance decides
 * and what a later fold reconstructs cannot drift apart.
 */
#include "engine/engine_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/httpdate.h"
#include "core/mem.h"
#include "crypto/crypto.h"

/* Retry-After values beyond a day are clamped to one. */
#define MAX_RETRY_AFTER_MS (24LL * 3600 * 1000)

enum readiness { NOT_READY, READY_RUN, READY_SKIP };

struct advance {
    const struct mh_wf *wf;
    struct mh_run_state *st;
    const struct mh_engine_input *in;
    int64_t now;
    struct mh_engine_result *res;
    size_t cap_events;
    size_t cap_actions;
    struct mh_err_info *info;
};

static enum mh_err emit(struct advance *a, const char *type, long node, int attempt,
                        json_t *payload);
static struct mh_engine_action *add_action(struct advance *a, enum mh_engine_action_kind kind,
                                           long node);
static enum readiness readiness(const struct advance *a, size_t i);
static enum mh_err fail_step(struct advance *a, size_t i, int attempt, json_t *error,
                             bool retryable);
static enum mh_err succeed_step(struct advance *a, size_t i, int attempt, json_t *output,
                                json_t *extra);
static enum mh_err run_node(struct advance *a, size_t i);
static enum mh_err start_http(struct advance *a, size_t i, int attempt);
static enum mh_err handle_http_result(struct advance *a, size_t i);
static enum mh_err schedule_retry(struct advance *a, size_t i, json_t *error, json_t *resp);
static enum mh_err finish_if_done(struct advance *a);
static enum mh_err apply_reports(struct advance *a);
static json_t *error_obj(const char *kind, const char *message);
static const char *header_get(json_t *headers, const char *name);
static bool output_fits(json_t *v);
static void add_spans(json_t *obj, const char *key, json_t *spans);
static void fill_wake(struct mh_run_state *st, const struct mh_engine_input *in,
                      struct mh_engine_result *res);

/* ---- Small helpers ------------------------------------------------------------------------ */

static json_t *error_obj(const char *kind, const char *message)
{
    return json_pack("{s:s,s:o}", "kind", kind, "message", mh_engine__jstring(message));
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

static bool output_fits(json_t *v)
{
    struct mh_buf b;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    bool ok = mh_engine_canonical_json(v, &b) == MH_OK;
    mh_buf_cleanup(&b);
    return ok;
}

enum mh_err mh_engine__idem_key(const char *run_id, const char *node_id, int group,
                                char out[MH_ENGINE_IDEM_KEY_LEN + 1])
{
    char material[256];
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    char hex[2 * MH_CRYPTO_SHA256_LEN + 1];
    int n = snprintf(material, sizeof(material), "meshhook/idempotency\n%s\n%s\n%d", run_id,
                     node_id, group);
    if (n < 0 || (size_t)n >= sizeof(material))
        return MH_EINVAL;
    enum mh_err rc = mh_crypto_sha256(material, (size_t)n, h);
    if (rc != MH_OK)
        return rc;
    mh_crypto_hex_encode(h, sizeof(h), hex);
    snprintf(out, MH_ENGINE_IDEM_KEY_LEN + 1, "mh-%.32s", hex);
    return MH_OK;
}

/* ---- Pure evaluation (shared with replay) ------------------------------------------------- */

enum mh_err mh_engine__eval_pure(const struct mh_wf_node *n, json_t *ctx, json_t **output,
                                 struct mh_err_info *info)
{
    json_t *v = NULL;
    *output = NULL;
    if (n->kind == MH_NODE_TERMINATE && n->expr == NULL) {
        *output = json_null();
        return MH_OK;
    }
    enum mh_err rc = mh_jp_eval(n->expr, ctx, &v, info);
    if (rc != MH_OK)
        return rc;
    if (n->kind == MH_NODE_BRANCH) {
        *output = json_boolean(mh_jp_is_truthy(v));
        json_decref(v);
    } else {
        *output = v;
    }
    return MH_OK;
}

/* Adds a copy of the spans of one rendered string under `key` of `obj`, when there are any. */
static void add_spans(json_t *obj, const char *key, json_t *spans)
{
    if (json_array_size(spans) > 0)
        json_object_set_new(obj, key, json_copy(spans));
}

enum mh_err mh_engine__build_request(const struct mh_wf_node *n, json_t *ctx, const char *idem_key,
                                     bool legacy, json_t **out, struct mh_err_info *info)
{
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

    rc = mh_engine__tpl_render(n->url, ctx, legacy, secrets, spans, &url, NULL, info);
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
    for (size_t i = 0; i < n->n_headers; i++) {
        json_array_clear(spans);
        rc = mh_engine__tpl_render(n->headers[i].tpl, ctx, legacy, secrets, spans, &s, &slen, info);
        if (rc != MH_OK)
            goto out;
        slen = legacy ? strlen(s) : slen;
        if (legacy ? strpbrk(s, "\r\n") != NULL : !mh_engine__header_value_ok(s, slen)) {
            rc = mh_err_set(info, MH_EINVAL, "template", -1,
                            "the value of header %s contains a line break or another control "
                            "character",
                            n->headers[i].name);
            goto out;
        }
        json_object_set_new(headers, n->headers[i].name, json_stringn(s, slen));
        add_spans(ph_headers, n->headers[i].name, spans);
        free(s);
        s = NULL;
    }
    for (size_t i = 0; i < n->n_query; i++) {
        json_array_clear(spans);
        rc = mh_engine__tpl_render(n->query[i].tpl, ctx, legacy, secrets, spans, &s, &slen, info);
        if (rc != MH_OK)
            goto out;
        slen = legacy ? strlen(s) : slen;
        json_object_set_new(query, n->query[i].name, json_stringn(s, slen));
        add_spans(ph_query, n->query[i].name, spans);
        free(s);
        s = NULL;
    }
    if (n->body_tpl != NULL) {
        json_array_clear(spans);
        rc =
            mh_engine__tpl_render(n->body_tpl, ctx, legacy, secrets, spans, &body, &body_len, info);
        if (rc != MH_OK)
            goto out;
        body_len = legacy ? strlen(body) : body_len;
        add_spans(ph, "body", spans);
    } else if (n->expr != NULL) {
        /* A JSON body comes from the data alone: it has no placeholders to resolve. */
        rc = mh_jp_eval(n->expr, ctx, &val, info);
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
    req = json_pack("{s:s,s:s,s:O,s:O,s:I,s:s,s:O}", "method", n->method, "url", url, "headers",
                    headers, "query", query, "timeout_ms", (json_int_t)n->timeout_ms,
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
    if (n->sign_secret != NULL)
        json_object_set_new(req, "sign", json_pack("{s:s}", "secret", n->sign_secret));
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

/* ---- Emitting events and actions ---------------------------------------------------------- */

/* Seals a new event after the state's last one, applies it, and appends it to the result.
 * Steals `payload`. */
static enum mh_err emit(struct advance *a, const char *type, long node, int attempt,
                        json_t *payload)
{
    struct mh_run_state *st = a->st;
    struct mh_event ev;
    bool ignored = false;
    enum mh_err rc = mh_engine_event_init(&ev, 0, type, node >= 0 ? a->wf->nodes[node].id : "",
                                          attempt, payload, a->now, NULL);
    json_decref(payload);
    if (rc != MH_OK)
        return rc;
    rc = mh_engine_event_seal(&ev, st->last_seq + 1, st->last_seq ? st->last_hash : NULL);
    if (rc != MH_OK)
        goto fail;
    rc = mh_engine__state_apply(st, &ev, &ignored, a->info);
    if (rc != MH_OK)
        goto fail;
    if (a->res->n_events == a->cap_events) {
        a->cap_events = a->cap_events ? a->cap_events * 2 : 8;
        a->res->events = mh_xrealloc(a->res->events, a->cap_events * sizeof(*a->res->events));
    }
    a->res->events[a->res->n_events++] = ev;
    return MH_OK;
fail:
    mh_engine_event_cleanup(&ev);
    return rc;
}

static struct mh_engine_action *add_action(struct advance *a, enum mh_engine_action_kind kind,
                                           long node)
{
    struct mh_engine_result *r = a->res;
    if (r->n_actions == a->cap_actions) {
        a->cap_actions = a->cap_actions ? a->cap_actions * 2 : 4;
        r->actions = mh_xrealloc(r->actions, a->cap_actions * sizeof(*r->actions));
    }
    struct mh_engine_action *act = &r->actions[r->n_actions++];
    memset(act, 0, sizeof(*act));
    act->kind = kind;
    if (node >= 0)
        snprintf(act->node_id, sizeof(act->node_id), "%s", a->wf->nodes[node].id);
    return act;
}

/* ---- Step decisions ----------------------------------------------------------------------- */

static enum readiness readiness(const struct advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    bool live = n->n_in == 0;
    for (size_t k = 0; k < n->n_in; k++) {
        const struct mh_wf_edge *e = &a->wf->edges[n->in[k]];
        const struct mh_step_state *from = &a->st->steps[e->from];
        switch (from->status) {
        case MH_STEP_SUCCEEDED:
            if (e->port == MH_PORT_NONE || e->port == from->port)
                live = true;
            break;
        case MH_STEP_SKIPPED:
        case MH_STEP_FAILED: break;
        default: return NOT_READY;
        }
    }
    return live ? READY_RUN : READY_SKIP;
}

/* Fails step `i` (steals `error`) and with it the run. */
static enum mh_err fail_step(struct advance *a, size_t i, int attempt, json_t *error,
                             bool retryable)
{
    const char *msg = json_string_value(json_object_get(error, "message"));
    char buf[400];
    snprintf(buf, sizeof(buf), "step %s failed: %s", a->wf->nodes[i].id, msg ? msg : "error");
    json_t *run_err =
        json_pack("{s:s,s:s,s:o,s:O}", "kind", "step_failed", "node", a->wf->nodes[i].id, "message",
                  mh_engine__jstring(buf), "step_error", error);
    enum mh_err rc = emit(
        a, MH_EV_STEP_FAILED, (long)i, attempt,
        json_pack("{s:o,s:b,s:i}", "error", error, "retryable", retryable, "attempts", attempt));
    if (rc == MH_OK)
        rc = emit(a, MH_EV_RUN_FAILED, -1, 0, json_pack("{s:O}", "error", run_err));
    json_decref(run_err);
    return rc;
}

/* Records a step's output (steals `output`; `extra`, stolen too, adds payload members), or
 * fails the step when the output is too large to record. */
static enum mh_err succeed_step(struct advance *a, size_t i, int attempt, json_t *output,
                                json_t *extra)
{
    if (!output_fits(output)) {
        json_decref(output);
        json_decref(extra);
        char msg[128];
        snprintf(msg, sizeof(msg), "the step output exceeds %u bytes", MH_ENGINE_MAX_OUTPUT_BYTES);
        return fail_step(a, i, attempt, error_obj("limit", msg), false);
    }
    json_t *p = extra ? extra : json_object();
    json_object_set_new(p, "output", output);
    return emit(a, MH_EV_STEP_SUCCEEDED, (long)i, attempt, p);
}

static enum mh_err run_node(struct advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    enum mh_err rc = MH_OK;
    json_t *ctx = NULL, *out = NULL;
    struct mh_err_info jinfo = MH_ERR_INFO_INIT;

    if (n->kind == MH_NODE_HTTP_CALL)
        return start_http(a, i, 1);
    ctx = mh_engine__context(a->st, i);
    if (n->kind == MH_NODE_DELAY) {
        int64_t fire_at = 0;
        if (n->duration_ms >= 0) {
            fire_at = a->now + n->duration_ms;
        } else {
            if (mh_jp_eval(n->expr, ctx, &out, &jinfo) != MH_OK) {
                rc = fail_step(a, i, 1, error_obj("jmespath", jinfo.message), false);
                goto out;
            }
            bool ok = false;
            if (json_is_integer(out)) {
                fire_at = json_integer_value(out), ok = true;
            } else if (json_is_real(out)) {
                double d = json_real_value(out);
                ok = d > -9.2e18 && d < 9.2e18;
                fire_at = (int64_t)d;
            } else if (json_is_string(out)) {
                ok = mh_engine__parse_rfc3339(json_string_value(out), &fire_at);
            }
            if (!ok) {
                rc = fail_step(a, i, 1,
                               error_obj("invalid_value", "until must yield an RFC 3339 "
                                                          "timestamp or epoch milliseconds"),
                               false);
                goto out;
            }
        }
        char iso[40];
        mh_engine__format_rfc3339(fire_at, iso, sizeof(iso));
        rc = emit(a, MH_EV_TIMER_SET, (long)i, 1,
                  json_pack("{s:I,s:s}", "fire_at", (json_int_t)fire_at, "fire_at_iso", iso));
        if (rc == MH_OK) {
            struct mh_engine_action *act = add_action(a, MH_ACTION_TIMER, (long)i);
            act->attempt = 1;
            act->fire_at_ms = fire_at;
        }
        goto out;
    }

    rc = mh_engine__eval_pure(n, ctx, &out, &jinfo);
    if (rc != MH_OK) {
        json_t *err = error_obj("jmespath", jinfo.message);
        if (jinfo.kind[0])
            json_object_set_new(err, "jmespath_kind", json_string(jinfo.kind));
        rc = fail_step(a, i, 1, err, false);
        goto out;
    }
    if (n->kind == MH_NODE_BRANCH) {
        json_t *extra = json_pack("{s:s}", "port", json_is_true(out) ? "true" : "false");
        rc = succeed_step(a, i, 1, out, extra);
        out = NULL;
        goto out;
    }
    if (n->kind == MH_NODE_TRANSFORM) {
        rc = succeed_step(a, i, 1, out, NULL);
        out = NULL;
        goto out;
    }
    /* terminate */
    rc = succeed_step(a, i, 1, json_incref(out), NULL);
    if (rc != MH_OK || a->st->steps[i].status != MH_STEP_SUCCEEDED)
        goto out;
    if (n->terminate_failed) {
        char msg[160];
        snprintf(msg, sizeof(msg), "terminate node %s ended the run with status failed", n->id);
        json_t *err =
            json_pack("{s:s,s:s,s:s}", "kind", "terminated", "node", n->id, "message", msg);
        rc = emit(a, MH_EV_RUN_FAILED, -1, 0, json_pack("{s:o,s:O}", "error", err, "output", out));
    } else {
        rc = emit(a, MH_EV_RUN_SUCCEEDED, -1, 0,
                  json_pack("{s:O,s:s}", "output", out, "terminated_by", n->id));
    }
out:
    json_decref(out);
    json_decref(ctx);
    return rc;
}

static enum mh_err start_http(struct advance *a, size_t i, int attempt)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    struct mh_step_state *s = &a->st->steps[i];
    enum mh_err rc = MH_OK;
    json_t *ctx = NULL, *req = NULL, *payload = NULL;
    char key[MH_ENGINE_IDEM_KEY_LEN + 1];

    if (attempt == 1) {
        struct mh_err_info rinfo = MH_ERR_INFO_INIT;
        rc = mh_engine__idem_key(a->st->run_id, n->id, 1, key);
        if (rc != MH_OK)
            goto out;
        ctx = mh_engine__context(a->st, i);
        if (mh_engine__build_request(n, ctx, key, false, &req, &rinfo) != MH_OK) {
            const char *kind = rinfo.kind[0] ? rinfo.kind : "template";
            if (strcmp(kind, "syntax") != 0 && strcmp(kind, "limit") != 0 &&
                strcmp(kind, "template") != 0 && strcmp(kind, "invalid_url") != 0)
                kind = "jmespath";
            rc = fail_step(a, i, 1, error_obj(kind, rinfo.message), false);
            goto out;
        }
        payload = json_pack("{s:O,s:s,s:I}", "request", req, "idempotency_key", key, "timeout_ms",
                            (json_int_t)n->timeout_ms);
    } else {
        snprintf(key, sizeof(key), "%s", s->idem_key);
        req = json_incref(s->request);
        payload = json_pack("{s:s}", "idempotency_key", key);
    }
    rc = emit(a, MH_EV_STEP_STARTED, (long)i, attempt, payload);
    payload = NULL;
    if (rc != MH_OK)
        goto out;
    struct mh_engine_action *act = add_action(a, MH_ACTION_HTTP, (long)i);
    act->attempt = attempt;
    act->request = req;
    req = NULL;
    snprintf(act->idempotency_key, sizeof(act->idempotency_key), "%s", key);
    act->timeout_ms = n->timeout_ms;
out:
    json_decref(payload);
    json_decref(req);
    json_decref(ctx);
    return rc;
}

static enum mh_err schedule_retry(struct advance *a, size_t i, json_t *error, json_t *resp)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
    const struct mh_step_state *s = &a->st->steps[i];
    if (a->in->random == NULL) {
        json_decref(error);
        return mh_err_set(a->info, MH_EINVAL, "input", -1,
                          "a retry needs a random source for its jitter");
    }
    /* Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform draw in
     * [0, min(max_delay, base * 2^(attempt-1))]. */
    int64_t cap = n->base_delay_ms;
    for (int k = 1; k < s->attempts && cap < n->max_delay_ms; k++)
        cap = cap > n->max_delay_ms / 2 ? n->max_delay_ms : cap * 2;
    if (cap > n->max_delay_ms)
        cap = n->max_delay_ms;
    uint64_t draw = a->in->random(a->in->random_ctx);
    int64_t jitter = (int64_t)(draw % ((uint64_t)cap + 1));
    int64_t retry_after = -1;
    const char *ra = resp ? header_get(json_object_get(resp, "headers"), "retry-after") : NULL;
    if (ra != NULL) {
        int64_t when = mh_http_retry_after(ra, a->now);
        retry_after = when >= 0 ? when - a->now : -1;
        if (retry_after > MAX_RETRY_AFTER_MS)
            retry_after = MAX_RETRY_AFTER_MS;
    }
    int64_t delay = retry_after > jitter ? retry_after : jitter;
    int64_t fire_at = a->now + delay;
    json_t *p = json_pack("{s:I,s:I,s:I,s:I,s:o}", "delay_ms", (json_int_t)delay, "jitter_ms",
                          (json_int_t)jitter, "cap_ms", (json_int_t)cap, "fire_at",
                          (json_int_t)fire_at, "error", error);
    if (retry_after >= 0)
        json_object_set_new(p, "retry_after_ms", json_integer(retry_after));
    int next = s->attempts + 1;
    enum mh_err rc = emit(a, MH_EV_RETRY_SCHEDULED, (long)i, next, p);
    if (rc == MH_OK) {
        struct mh_engine_action *act = add_action(a, MH_ACTION_TIMER, (long)i);
        act->attempt = next;
        act->fire_at_ms = fire_at;
    }
    return rc;
}

static enum mh_err handle_http_result(struct advance *a, size_t i)
{
    const struct mh_wf_node *n = &a->wf->nodes[i];
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
            if (body == NULL && n->expect_json) {
                const char *text = json_string_value(json_object_get(resp, "body"));
                parsed = text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
                if (parsed == NULL)
                    return fail_step(a, i, attempt,
                                     error_obj("invalid_json", "expect_json is set and the "
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
            return succeed_step(a, i, attempt, out, NULL);
        }
        retryable = status >= 500 || status == 429 || status == 408;
        snprintf(msg, sizeof(msg), "HTTP status %d", status);
        error = json_pack("{s:s,s:i,s:o}", "kind", "http_status", "status", status, "message",
                          mh_engine__jstring(msg));
    } else {
        const char *kind = json_string_value(json_object_get(err, "kind"));
        const char *m = json_string_value(json_object_get(err, "message"));
        if (kind == NULL)
            kind = "other";
        retryable = strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0 ||
                    strcmp(kind, "dns") == 0;
        snprintf(msg, sizeof(msg), "%s%s%s", kind, m ? ": " : "", m ? m : "");
        error = error_obj(kind, msg);
        resp = NULL;
    }
    if (retryable && attempt < n->max_attempts)
        return schedule_retry(a, i, error, resp);
    if (retryable) {
        char full[300];
        snprintf(full, sizeof(full), "%s (after %d attempts)", msg, attempt);
        json_object_set_new(error, "message", mh_engine__jstring(full));
    }
    return fail_step(a, i, attempt, error, retryable);
}

static enum mh_err finish_if_done(struct advance *a)
{
    const struct mh_wf *wf = a->wf;
    json_t *output = NULL;
    for (size_t i = 0; i < wf->n_nodes; i++) {
        enum mh_step_status s = a->st->steps[i].status;
        if (s != MH_STEP_SUCCEEDED && s != MH_STEP_SKIPPED)
            return MH_OK;
    }
    /* Without a terminate node the output is that of every sink (a node without outgoing
     * edges) that ran, by node id: it does not depend on which finished last. */
    output = json_object();
    for (size_t i = 0; i < wf->n_nodes; i++)
        if (wf->nodes[i].n_out == 0 && a->st->steps[i].status == MH_STEP_SUCCEEDED)
            json_object_set(output, wf->nodes[i].id, a->st->steps[i].output);
    return emit(a, MH_EV_RUN_SUCCEEDED, -1, 0, json_pack("{s:o}", "output", output));
}

static enum mh_err apply_reports(struct advance *a)
{
    enum mh_err rc = MH_OK;
    for (size_t r = 0; r < a->in->n_reports; r++) {
        const struct mh_event *rep = &a->in->reports[r];
        if (strcmp(rep->type, MH_EV_HTTP_ATTEMPT) != 0 &&
            strcmp(rep->type, MH_EV_RUN_CANCELED) != 0)
            return mh_err_set(a->info, MH_EINVAL, "input", -1,
                              "a report is an http_attempt or a run_canceled, not %s", rep->type);
        long idx = -1;
        if (rep->node_id[0]) {
            idx = mh_engine__node_index(a->wf, rep->node_id);
            if (idx < 0) {
                a->res->n_ignored++;
                continue;
            }
        }
        if (!mh_engine__report_applies(a->st, idx, rep)) {
            a->res->n_ignored++;
            continue;
        }
        /* emit() stamps the event with the caller's clock reading, like every event it
         * appends; the payload is shared, not copied (response bodies can be large). */
        rc = emit(a, rep->type, idx, rep->attempt,
                  rep->payload ? json_incref(rep->payload) : json_object());
        if (rc != MH_OK)
            return rc;
    }
    return MH_OK;
}

static void fill_wake(struct mh_run_state *st, const struct mh_engine_input *in,
                      struct mh_engine_result *res)
{
    res->status = st->status;
    res->next_wake_ms = 0;
    res->deadline_ms = 0;
    if (mh_engine__run_finished(st))
        return;
    for (size_t i = 0; i < st->wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        bool waiting = (s->status == MH_STEP_WAITING_TIMER && !s->timer_fired) ||
                       s->status == MH_STEP_WAITING_RETRY;
        if (waiting && (res->next_wake_ms == 0 || s->fire_at < res->next_wake_ms))
            res->next_wake_ms = s->fire_at;
    }
    if (in != NULL && in->run_timeout_ms > 0)
        res->deadline_ms = st->started_at + in->run_timeout_ms;
}

/* ---- Entry points ------------------------------------------------------------------------- */

enum mh_err mh_engine_advance(const struct mh_wf *wf, const struct mh_event *events,
                              size_t n_events, const struct mh_engine_input *in,
                              struct mh_engine_result *out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_engine_result res = {0};
    struct advance a = {.wf = wf, .in = in, .now = in->now_ms, .res = &res, .info = info};
    if (n_events == 0) {
        rc = mh_err_set(info, MH_EINVAL, "log", -1, "a run's log starts with run_started");
        goto out;
    }
    rc = mh_engine_fold(wf, events, n_events, &a.st, info);
    if (rc != MH_OK)
        goto out;
    bool was_finished = mh_engine__run_finished(a.st);
    rc = apply_reports(&a);
    if (rc != MH_OK)
        goto out;

    if (!was_finished && in->run_timeout_ms > 0 &&
        in->now_ms >= a.st->started_at + in->run_timeout_ms) {
        char msg[128];
        snprintf(msg, sizeof(msg), "the run exceeded its timeout of %" PRId64 " ms",
                 in->run_timeout_ms);
        rc = emit(&a, MH_EV_RUN_TIMED_OUT, -1, 0,
                  json_pack("{s:o,s:I}", "error", error_obj("timeout", msg), "timeout_ms",
                            (json_int_t)in->run_timeout_ms));
        if (rc != MH_OK)
            goto out;
    }

    bool progress = true;
    while (progress && !mh_engine__run_finished(a.st)) {
        progress = false;
        for (size_t k = 0; k < wf->n_nodes && !mh_engine__run_finished(a.st); k++) {
            size_t i = wf->topo[k];
            struct mh_step_state *s = &a.st->steps[i];
            switch (s->status) {
            case MH_STEP_PENDING: {
                enum readiness r = readiness(&a, i);
                if (r == READY_RUN)
                    rc = run_node(&a, i);
                else if (r == READY_SKIP)
                    rc = emit(&a, MH_EV_STEP_SKIPPED, (long)i, 0, json_object());
                progress = progress || r != NOT_READY;
                break;
            }
            case MH_STEP_RUNNING:
                if (s->result != NULL) {
                    rc = handle_http_result(&a, i);
                    progress = true;
                }
                break;
            case MH_STEP_WAITING_TIMER:
                if (!s->timer_fired && a.now >= s->fire_at) {
                    rc = emit(&a, MH_EV_TIMER_FIRED, (long)i, 1,
                              json_pack("{s:I}", "fire_at", (json_int_t)s->fire_at));
                    progress = true;
                }
                if (rc == MH_OK && s->timer_fired) {
                    rc = succeed_step(&a, i, 1,
                                      json_pack("{s:I,s:I}", "fire_at", (json_int_t)s->fire_at,
                                                "fired_at", (json_int_t)a.now),
                                      NULL);
                    progress = true;
                }
                break;
            case MH_STEP_WAITING_RETRY:
                if (a.now >= s->fire_at) {
                    rc = start_http(&a, i, s->attempts + 1);
                    progress = true;
                }
                break;
            case MH_STEP_SUCCEEDED:
            case MH_STEP_FAILED:
            case MH_STEP_SKIPPED: break;
            }
            if (rc != MH_OK)
                goto out;
        }
        if (!mh_engine__run_finished(a.st)) {
            rc = finish_if_done(&a);
            if (rc != MH_OK)
                goto out;
        }
    }
    if (!was_finished && mh_engine__run_finished(a.st)) {
        struct mh_engine_action *act = add_action(&a, MH_ACTION_FINISHED, -1);
        act->status = a.st->status;
        act->output = json_incref(a.st->output);
        act->error = json_incref(a.st->error);
    }
    fill_wake(a.st, in, &res);
    *out = res;
    memset(&res, 0, sizeof(res));
out:
    mh_engine_result_cleanup(&res);
    mh_engine_state_destroy(a.st);
    return rc;
}

enum mh_err mh_engine_pending(const struct mh_wf *wf, const struct mh_event *events,
                              size_t n_events, struct mh_engine_result *out,
                              struct mh_err_info *info)
{
    struct mh_engine_result res = {0};
    struct advance a = {.wf = wf, .res = &res, .info = info};
    enum mh_err rc = mh_engine_fold(wf, events, n_events, &a.st, info);
    if (rc != MH_OK)
        goto out;
    if (!mh_engine__run_finished(a.st)) {
        for (size_t i = 0; i < wf->n_nodes; i++) {
            const struct mh_step_state *s = &a.st->steps[i];
            if (s->status == MH_STEP_RUNNING && s->result == NULL && s->request != NULL) {
                struct mh_engine_action *act = add_action(&a, MH_ACTION_HTTP, (long)i);
                act->attempt = s->attempts;
                act->request = json_incref(s->request);
                snprintf(act->idempotency_key, sizeof(act->idempotency_key), "%s", s->idem_key);
                act->timeout_ms = wf->nodes[i].timeout_ms;
            } else if ((s->status == MH_STEP_WAITING_TIMER && !s->timer_fired) ||
                       s->status == MH_STEP_WAITING_RETRY) {
                struct mh_engine_action *act = add_action(&a, MH_ACTION_TIMER, (long)i);
                act->attempt = s->status == MH_STEP_WAITING_RETRY ? s->attempts + 1 : 1;
                act->fire_at_ms = s->fire_at;
            }
        }
    }
    fill_wake(a.st, NULL, &res);
    *out = res;
    memset(&res, 0, sizeof(res));
out:
    mh_engine_result_cleanup(&res);
    mh_engine_state_destroy(a.st);
    return rc;
}

void mh_engine_result_cleanup(struct mh_engine_result *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_events; i++)
        mh_engine_event_cleanup(&r->events[i]);
    free(r->events);
    for (size_t i = 0; i < r->n_actions; i++) {
        json_decref(r->actions[i].request);
        json_decref(r->actions[i].output);
        json_decref(r->actions[i].error);
    }
    free(r->actions);
    memset(r, 0, sizeof(*r));
}
