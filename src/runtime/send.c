/* SPDX-License-Identifier: MIT */
/*
 * The send pipeline of an http_call, one step per function:
 *
 *   resolve (send_resolve)   the secrets the request names, decrypted in the batch's own
 *                            transaction (with the project's settings: settings_load), so a
 *                            step costs no transaction of its own
 *   render  (send_render)    the wire request: the secrets in at the spans the engine recorded,
 *                            and nowhere else; a redactor for whatever the target echoes back
 *   sign    (send_sign)      the Standard Webhooks headers, when the step signs
 *   submit  (send_submit)    handed to the outbound executor; its outcome comes back on the
 *                            executor's thread (on_http_done) and becomes a report
 *
 * Secret values live in memory only and are wiped when the call is done. A step that cannot be
 * sent (a missing secret, a bad signing secret) fails with a clear event, as if the attempt had.
 */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "outbound/outbound.h"
#include "redact/redact.h"
#include "runtime/runtime_internal.h"
#include "schemes/schemes.h"
#include "secrets/secrets.h"

#define SETTINGS_TTL_MS 5000

/* One call on its way: what on_http_done needs, and what the executor borrows until then. */
struct send_ctx {
    struct mh_engine_runtime *rt;
    char run_id[37];
    char project_id[37];
    char node_id[MH_ENGINE_STEP_ID_MAX + 1];
    char key[256];
    int attempt;
    json_t *request; /* as recorded: placeholders unresolved */
    struct mh_redact_secrets *redactor;
    json_t *artifact_rules;   /* the project's privacy settings when they redact artifacts */
    char **lines;             /* header lines sent, freed after the call */
    char *allowlist;          /* the project's outbound allow-list */
    int tenant_max_in_flight; /* the project's http_calls_in_flight limit; 0: none */
    char *url;
    char *body;
    size_t body_len;
    char shown_origin[160]; /* the origin to record when its text holds a secret, else "" */
};

static void send_ctx_free(struct send_ctx *s)
{
    if (s == NULL)
        return;
    json_decref(s->request);
    json_decref(s->artifact_rules);
    mh_redact_secrets_destroy(s->redactor);
    for (size_t i = 0; s->lines && s->lines[i]; i++)
        mh_crypto_free_secret_str(s->lines[i]);
    free(s->lines);
    mh_crypto_free_secret_str(s->url);
    mh_crypto_free_secret(s->body, s->body_len);
    free(s->allowlist);
    free(s);
}

/* ---- The outcome -------------------------------------------------------------------------- */

static void on_http_done(void *ctx, const struct mh_outbound_response *resp)
{
    struct send_ctx *s = ctx;
    struct mh_engine_runtime *rt = s->rt;
    struct mh_runtime__report *r = mh_xcalloc(1, sizeof(*r));
    memcpy(r->run_id, s->run_id, sizeof(r->run_id));
    memcpy(r->project_id, s->project_id, sizeof(r->project_id));
    memcpy(r->key, s->key, sizeof(r->key));
    if (resp->error_kind && strcmp(resp->error_kind, "canceled") == 0) {
        /* Shutting down: the job's recovery wake sends it again after a restart. */
        mh_runtime__inflight_forget(rt, s->key);
        free(r);
        send_ctx_free(s);
        return;
    }
    if (resp->error_kind && strcmp(resp->error_kind, "circuit_open") == 0) {
        /* Parked: no attempt is spent. The log records the park (step_parked: the host and
         * until when), and the run wakes when the breaker lets a probe through. */
        int64_t until = resp->retry_at_ms > 0 ? resp->retry_at_ms : mh_clock_now_ms() + 1000;
        const char *host = s->shown_origin[0] ? s->shown_origin : resp->origin;
        if (mh_engine_event_parked(s->node_id, s->attempt, "breaker_open", host, until,
                                   mh_clock_now_ms(), &r->ev) == MH_OK)
            r->has_event = true;
        else
            r->park_until_ms = until;
        mh_runtime__push_report(rt, r);
        send_ctx_free(s);
        return;
    }
    /* Whatever the target echoed of a secret is replaced before it is stored. */
    char *body = NULL;
    size_t body_len = resp->body_len;
    json_t *headers = resp->headers ? json_incref(resp->headers) : json_object();
    char msg[256];
    snprintf(msg, sizeof(msg), "%s", resp->error_message);
    /* Redaction fails closed: a body that could not be cleaned is not recorded at all. */
    static const char withheld[] = "[body withheld: it could not be redacted]";
    bool is_withheld = false;
    if (s->redactor) {
        if (resp->body && mh_redact_secrets_string(s->redactor, resp->body, resp->body_len, &body,
                                                   &body_len, NULL) != MH_OK) {
            body = NULL;
            is_withheld = true;
        }
        json_t *clean = NULL;
        if (mh_redact_secrets_json(s->redactor, headers, &clean, NULL) == MH_OK) {
            json_decref(headers);
            headers = clean;
        }
        char *m = NULL;
        size_t mlen = 0;
        if (mh_redact_secrets_string(s->redactor, msg, strlen(msg), &m, &mlen, NULL) == MH_OK) {
            snprintf(msg, sizeof(msg), "%s", m);
            free(m);
        }
    }
    /* The project's rules for stored artifacts apply to the recorded body; what later steps
     * and replay see is the recorded, redacted body. */
    char *clean = NULL;
    size_t clean_len = 0;
    struct mh_redactor *pii = NULL;
    if (s->artifact_rules && !is_withheld && (body || resp->body)) {
        if (mh_secrets_privacy_redactor(s->artifact_rules, MH_PRIVACY_ARTIFACTS, &pii, NULL) ==
                MH_OK &&
            mh_redact_string(pii, body ? body : resp->body, body ? body_len : resp->body_len,
                             &clean, &clean_len, NULL) == MH_OK) {
            free(body);
            body = clean;
            body_len = clean_len;
        } else {
            is_withheld = true;
        }
    }
    mh_redact_destroy(pii);
    if (is_withheld) {
        free(body);
        body = mh_xstrdup(withheld);
        body_len = sizeof(withheld) - 1;
    }
    struct mh_engine_http_outcome oc = {
        .status = resp->status,
        .headers = headers,
        .body = body ? body : resp->body,
        .body_len = body ? body_len : resp->body_len,
        .error_kind = resp->error_kind,
        .error_message = resp->error_kind ? msg : NULL,
        .duration_ms = resp->duration_ms,
    };
    enum mh_err rc = mh_engine_event_http_result(s->node_id, s->attempt, s->request, &oc,
                                                 mh_clock_now_ms(), &r->ev);
    /* The event holds the request now; once reported it belongs to the worker alone. */
    json_decref(s->request);
    s->request = NULL;
    if (rc == MH_OK) {
        r->has_event = true;
        mh_runtime__push_report(rt, r);
    } else {
        mh_log(MH_LOG_ERROR, "engine", "run %s: could not record the outcome of %s", s->run_id,
               s->node_id);
        mh_runtime__inflight_forget(rt, s->key);
        free(r);
    }
    free(body);
    json_decref(headers);
    send_ctx_free(s);
}

/* Reports a failure that happened before sending (a missing secret), as the outcome of the
 * attempt, so the engine fails the step with a clear event. */
static void report_send_failure(struct send_ctx *s, const char *kind, const char *message)
{
    struct mh_outbound_response resp = {.error_kind = kind};
    snprintf(resp.error_message, sizeof(resp.error_message), "%s", message);
    on_http_done(s, &resp);
}

/* ---- Project settings (with the batch) ---------------------------------------------------- */

enum mh_err mh_runtime__settings_load(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                      const char *project_id, struct mh_runtime__settings *out,
                                      struct mh_err_info *info)
{
    int64_t now = mh_clock_now_ms();
    json_t *entry = NULL;
    *out = (struct mh_runtime__settings){0};
    pthread_mutex_lock(&rt->mu);
    json_t *hit = json_object_get(rt->privacy, project_id);
    if (hit && now - json_integer_value(json_object_get(hit, "at")) < SETTINGS_TTL_MS)
        entry = json_incref(hit);
    pthread_mutex_unlock(&rt->mu);
    if (entry == NULL) {
        json_t *settings = NULL, *row = NULL;
        const char *params[] = {project_id};
        enum mh_err rc = mh_secrets_privacy_load(c, project_id, &settings, info);
        if (rc == MH_OK)
            rc = mh_db_query_row(c,
                                 "SELECT coalesce((SELECT string_agg(e, ',') FROM "
                                 "project_outbound p, jsonb_array_elements_text(p.allowlist) e "
                                 "WHERE p.project_id = $1), '') AS allowlist, coalesce((SELECT "
                                 "l.http_calls_in_flight FROM project_limits l WHERE "
                                 "l.project_id = $1), 0)::int AS http_calls_in_flight",
                                 1, params, &row, info);
        if (rc != MH_OK) {
            json_decref(settings);
            return rc;
        }
        entry = json_pack("{s:I, s:O, s:O, s:O}", "at", (json_int_t)now, "settings", settings,
                          "allowlist", json_object_get(row, "allowlist"), "http_calls_in_flight",
                          json_object_get(row, "http_calls_in_flight"));
        json_decref(settings);
        json_decref(row);
        if (entry == NULL)
            return mh_err_set(info, MH_ENOMEM, "settings", -1, "project settings do not fit");
        pthread_mutex_lock(&rt->mu);
        if (json_object_size(rt->privacy) > 10000)
            json_object_clear(rt->privacy);
        json_object_set(rt->privacy, project_id, entry);
        pthread_mutex_unlock(&rt->mu);
    }
    json_t *settings = json_object_get(entry, "settings");
    if (json_array_size(json_object_get(settings, "artifacts")) > 0)
        out->artifact_rules = json_deep_copy(settings);
    const char *list = json_string_value(json_object_get(entry, "allowlist"));
    out->allowlist = mh_xstrdup(list ? list : "");
    out->http_calls_in_flight =
        (int)json_integer_value(json_object_get(entry, "http_calls_in_flight"));
    json_decref(entry);
    return MH_OK;
}

void mh_runtime__settings_cleanup(struct mh_runtime__settings *s)
{
    json_decref(s->artifact_rules);
    free(s->allowlist);
    *s = (struct mh_runtime__settings){0};
}

/* ---- 1. Resolve --------------------------------------------------------------------------- */

enum mh_err mh_runtime__send_resolve(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                     const struct mh_runtime__job *j,
                                     const struct mh_engine_action *a,
                                     struct mh_runtime__send *send, struct mh_err_info *info)
{
    *send = (struct mh_runtime__send){.action = a};
    json_t *names = json_object_get(a->request, "secrets");
    /* The signing secret is decrypted with the template's: a secret used only to sign appears
     * in no template. */
    const char *sign_name =
        json_string_value(json_object_get(json_object_get(a->request, "sign"), "secret"));
    for (size_t i = 0; sign_name && i < json_array_size(names); i++)
        if (strcmp(json_string_value(json_array_get(names, i)), sign_name) == 0)
            sign_name = NULL;
    size_t n = json_array_size(names);
    if (n == 0 && sign_name == NULL)
        return MH_OK;
    if (rt->opts.resolve_secrets == NULL) {
        send->error = mh_xstrdup("secrets are not available: no key-encryption key is configured");
        return MH_OK;
    }
    const char **list = mh_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        list[i] = json_string_value(json_array_get(names, i));
    if (sign_name != NULL)
        list[n++] = sign_name;
    struct mh_err_info why = MH_ERR_INFO_INIT;
    json_t *got = NULL;
    enum mh_err rc = rt->opts.resolve_secrets(rt->opts.secrets_ctx, c, j->project_id, list, n,
                                              j->run_id, &got, &why);
    free(list);
    if (rc == MH_OK) {
        send->secrets = got;
        return MH_OK;
    }
    mh_secrets_values_free(got);
    /* A statement that failed has aborted the batch's transaction: the batch is redone. */
    if (mh_db_err_is_db(&why) || rc == MH_EUNAVAILABLE || rc == MH_EDB) {
        if (info)
            *info = why;
        return rc;
    }
    send->error = mh_xstrdup(why.message[0] ? why.message : mh_strerror(rc));
    return MH_OK;
}

void mh_runtime__send_cleanup(struct mh_runtime__send *send)
{
    mh_secrets_values_free(send->secrets);
    free(send->error);
    send->secrets = NULL;
    send->error = NULL;
}

/* ---- 2. Render ---------------------------------------------------------------------------- */

/* A replacer of the values sent, for whatever the target echoes back: each value as sent, and
 * as a JSON string would carry it (a target that echoes the value inside JSON escapes quotes,
 * backslashes and control characters). NULL when there are none. */
static struct mh_redact_secrets *echo_redactor(json_t *values)
{
    size_t k = json_object_size(values), i = 0;
    if (k == 0)
        return NULL;
    struct mh_redact_secret *rs = mh_xcalloc(2 * k + 1, sizeof(*rs));
    char **escaped = mh_xcalloc(k + 1, sizeof(char *));
    size_t ne = 0;
    const char *name;
    json_t *v;
    json_object_foreach(values, name, v)
    {
        rs[i].name = name;
        rs[i].value = json_string_value(v);
        rs[i].value_len = json_string_length(v);
        i++;
        char *q = json_dumps(v, JSON_ENCODE_ANY);
        size_t ql = q ? strlen(q) : 0;
        if (q && ql >= 2 &&
            (ql - 2 != json_string_length(v) || memcmp(q + 1, json_string_value(v), ql - 2) != 0)) {
            rs[i].name = name;
            rs[i].value = q + 1;
            rs[i].value_len = ql - 2;
            i++;
            escaped[ne++] = q;
        } else {
            mh_crypto_free_secret_str(q);
        }
    }
    struct mh_redact_secrets *r = NULL;
    if (mh_redact_secrets_create(rs, i, &r, NULL) != MH_OK)
        r = NULL;
    for (size_t e = 0; e < ne; e++)
        mh_crypto_free_secret_str(escaped[e]);
    free(escaped);
    free(rs);
    return r;
}

/* Secrets go in at the spans the engine recorded, and only there; room is left for the three
 * signature headers. */
static enum mh_err send_render(struct send_ctx *s, json_t *values, struct mh_err_info *info)
{
    struct mh_engine_wire w;
    json_t *none = values ? NULL : json_object();
    enum mh_err rc = mh_engine_request_resolve(s->request, values ? values : none, 3, &w, info);
    json_decref(none);
    if (rc != MH_OK)
        return rc;
    s->url = w.url;
    s->lines = w.lines;
    s->body = w.body;
    s->body_len = w.body_len;
    s->redactor = echo_redactor(values);
    return MH_OK;
}

/* ---- 3. Sign ------------------------------------------------------------------------------ */

/* Appends the Standard Webhooks headers (webhook-id, webhook-timestamp, webhook-signature),
 * signed by the scheme table's standard_webhooks entry, when the request names a signing secret.
 * False when that secret is missing or not a whsec_ one. */
static bool send_sign(struct send_ctx *s, json_t *values, const char *idempotency_key)
{
    const char *sign_secret =
        json_string_value(json_object_get(json_object_get(s->request, "sign"), "secret"));
    if (sign_secret == NULL)
        return true;
    const char *whsec = json_string_value(json_object_get(values, sign_secret));
    if (whsec == NULL)
        return false;
    struct mh_scheme_sign_args args = {.now_s = mh_clock_now_ms() / 1000,
                                       .msg_id = idempotency_key};
    struct mh_scheme_headers hdrs = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool ok = mh_scheme_sign_secret(&mh_scheme_stdwh, &args, whsec, s->body ? s->body : "",
                                    s->body_len, &hdrs, &info) == MH_OK;
    size_t li = 0;
    while (ok && s->lines[li])
        li++;
    for (size_t i = 0; ok && i < hdrs.n; i++) {
        size_t n = strlen(hdrs.h[i].name) + strlen(hdrs.h[i].value) + 3;
        char *line = mh_xmalloc(n);
        snprintf(line, n, "%s: %s", hdrs.h[i].name, hdrs.h[i].value);
        s->lines[li++] = line;
    }
    mh_scheme_headers_cleanup(&hdrs);
    return ok;
}

static void defer_full(struct send_ctx *s);

/* ---- 4. Submit ---------------------------------------------------------------------------- */

static void send_submit(struct send_ctx *s, const struct mh_engine_action *a)
{
    struct mh_outbound_request r = {
        .method = json_string_value(json_object_get(s->request, "method")),
        .url = s->url,
        .headers = (const char *const *)s->lines,
        .body = s->body,
        .body_len = s->body_len,
        .timeout_ms = a->timeout_ms > 0 ? (long)a->timeout_ms : 30000,
        .connect_timeout_ms = 10000,
        .tenant = s->project_id,
        .tenant_max_in_flight = s->tenant_max_in_flight,
        .allowlist = s->allowlist,
        .is_origin_secret = mh_engine_request_origin_is_secret(s->request, s->shown_origin,
                                                               sizeof(s->shown_origin)),
    };
    if (mh_outbound_submit(s->rt->out, &r, on_http_done, s) != MH_OK)
        defer_full(s);
}

/* Warned about at most once a second, with the count since: a burst defers thousands. */
static _Atomic int64_t full_warned_ms;
static _Atomic uint64_t full_deferred;

/*
 * The executor's queue is full (a burst beyond the project's in-flight bound): the call is not
 * sent now. The run's job is woken again in 1-2 s (a report without an event: no attempt is
 * spent, nothing enters the log), when the executor has drained, rather than at the end of its
 * lease recovery, tens of seconds later; the jitter spreads the retries of a burst.
 */
static void defer_full(struct send_ctx *s)
{
    struct mh_engine_runtime *rt = s->rt;
    int64_t now = mh_clock_now_ms();
    uint64_t n = atomic_fetch_add(&full_deferred, 1) + 1;
    int64_t last = atomic_load(&full_warned_ms);
    if (now - last >= 1000 && atomic_compare_exchange_strong(&full_warned_ms, &last, now)) {
        atomic_fetch_sub(&full_deferred, n);
        mh_log(MH_LOG_WARN, "engine",
               "outbound queue full: %llu calls deferred by 1-2 s (last: run %s, %s)",
               (unsigned long long)n, s->run_id, s->node_id);
    }
    struct mh_runtime__report *r = mh_xcalloc(1, sizeof(*r));
    memcpy(r->run_id, s->run_id, sizeof(r->run_id));
    memcpy(r->project_id, s->project_id, sizeof(r->project_id));
    memcpy(r->key, s->key, sizeof(r->key));
    r->park_until_ms = now + 1000 + (int64_t)(mh_runtime__random_u64(NULL) % 1000);
    mh_runtime__inflight_forget(rt, s->key);
    send_ctx_free(s);
    mh_runtime__push_report(rt, r);
}

/* ---- The pipeline ------------------------------------------------------------------------- */

void mh_runtime__send_dispatch(struct mh_engine_runtime *rt, const struct mh_runtime__job *j,
                               const struct mh_runtime__settings *settings,
                               struct mh_runtime__send *send)
{
    const struct mh_engine_action *a = send->action;
    struct send_ctx *s = mh_xcalloc(1, sizeof(*s));
    s->rt = rt;
    memcpy(s->run_id, j->run_id, sizeof(s->run_id));
    memcpy(s->project_id, j->project_id, sizeof(s->project_id));
    snprintf(s->node_id, sizeof(s->node_id), "%s", a->node_id);
    s->attempt = a->attempt;
    snprintf(s->key, sizeof(s->key), "%s/%s/%d", j->run_id, a->node_id, a->attempt);
    if (!mh_runtime__inflight_claim(rt, s->key)) {
        free(s);
        mh_runtime__send_cleanup(send);
        return;
    }
    /* The executor thread gets values of its own: a jansson value whose references are dropped
     * on two threads may be freed by one while the other still reads it (reference counts are
     * atomic, but their decrements do not order the other thread's reads before the free). */
    s->request = json_deep_copy(a->request);
    s->artifact_rules = settings->artifact_rules ? json_deep_copy(settings->artifact_rules) : NULL;
    s->allowlist = mh_xstrdup(settings->allowlist ? settings->allowlist : "");
    s->tenant_max_in_flight = settings->http_calls_in_flight;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (send->error) {
        report_send_failure(s, "invalid_request", send->error);
    } else if (send_render(s, send->secrets, &info) != MH_OK) {
        report_send_failure(s, "invalid_request", info.message);
    } else if (!send_sign(s, send->secrets, a->idempotency_key)) {
        report_send_failure(s, "invalid_request",
                            "the signing secret is missing or not a whsec_ secret");
    } else {
        send_submit(s, a);
    }
    mh_runtime__send_cleanup(send);
}
