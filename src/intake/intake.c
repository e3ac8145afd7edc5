/* SPDX-License-Identifier: MIT */
/*
 * The intake pipeline (docs/architecture.md §7): endpoint lookup, then the checks in the order that
 * costs an attacker the most and the server the least — enabled, method, body size, rate limit,
 * signature, content type, JSON Schema — then the idempotency key and the durable record
 * (commit.c). Every refusal is logged (dlog.c) with its status and reason, headers redacted.
 *
 * A refusal that a configuration change could have avoided (disabled, method, size, signature,
 * schema, no published version) is never decided on a cached endpoint older than a second: the
 * endpoint is reloaded and judged again, so a key added through another instance works at once.
 * Acceptance needs no such care: the commit itself checks that the endpoint's config_version is
 * still the one judged against, and a stale judgement is redone on a fresh endpoint.
 */
#include "intake/intake_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "engine/engine.h"
#include "metrics/metrics.h"
#include "runtime/store.h"
#include "secrets/secrets.h"

/* Attempts at recording a delivery whose endpoint keeps changing under it. */
#define MAX_STALE_RETRIES 3

/* What a judgement concluded. */
struct verdict {
    int status; /* 0: accepted so far */
    const char *code;
    char message[300];
    bool may_refresh; /* a fresher endpoint could decide otherwise */
    json_t *schema_errors;
    int retry_after_s;
};

/* Per-request state that survives re-judging. */
struct job {
    const struct mh_intake_request *rq;
    int64_t now_ms;
    char received_at[40];
    char body_hash_hex[65];
    char body_hash_param[68];
    char delivery_id[37];
    const char *content_type;
    json_t *headers; /* redacted, for the trigger and the log */
    bool has_token;
    json_t *body_value;
    enum mh_intake__kind kind;
    struct mh_intake__verified verified;
};

static void iso_time(char out[40], int64_t *ms);
static json_t *redacted_headers(const struct mh_intake_request *rq, const char *extra);
static json_t *error_body(const char *request_id, const char *code, const char *message);
static void judge(struct mh_intake *in, const struct mh_intake__endpoint *ep, struct job *j,
                  struct verdict *v);
static bool method_allowed(const struct mh_intake__endpoint *ep, const char *method);
static void log_refusal(struct mh_intake *in, const struct mh_intake__endpoint *ep,
                        const struct job *j, int status, const char *outcome, const char *reason,
                        const char *run_id, bool with_body);
static bool keeps_body(const struct verdict *v);
static void add_refused_body(struct mh_intake *in, const struct mh_intake__endpoint *ep,
                             const struct job *j, json_t *row);
static const char *idempotency_key_of(const struct mh_intake__endpoint *ep,
                                      const struct mh_intake_request *rq);
static bool is_idempotency_key_valid(const char *key);
static bool is_body_in_blob(const struct mh_intake_request *rq);
static bool is_body_from_raw(const struct job *j);
static json_t *build_extra(const struct mh_intake__endpoint *ep, const struct job *j);
/* What the intake decided of a new run itself (its pure prefix). */
struct prefix {
    json_t *response; /* new: a respond step's answer, for an endpoint in respond mode */
    bool is_finished; /* the run ended inside the prefix */
    struct mh_metrics_decision counted; /* counted once the row is committed */
};
static void prefix_reset(struct prefix *px);
/* Whether a delivery on `ep` whose prefix `px` was decided waits for a worker's answer. */
static bool awaits_answer(const struct mh_intake__endpoint *ep, const struct prefix *px)
{
    return ep->responds && px->response == NULL && !px->is_finished && ep->has_respond;
}

static char *build_row(const struct mh_intake__endpoint *ep, const struct job *j, char run_id[37],
                       bool key_used, bool with_prefix, struct prefix *px,
                       struct mh_err_info *info);
static enum mh_err add_prefix(const struct mh_intake__endpoint *ep, const struct job *j,
                              const struct mh_event *first, struct mh_buf *b, struct prefix *px);

/* Logs name an endpoint by the first characters of its public id: the whole id is what lets
 * anyone send to it. */
#define PUBLIC_ID_HINT 12
static void public_id_hint(const char *public_id, char out[PUBLIC_ID_HINT])
{
    size_t n = 0;
    for (; n < 6 && public_id[n]; n++) {
        char ch = public_id[n];
        bool is_b64url = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                         (ch >= '0' && ch <= '9') || ch == '-' || ch == '_';
        out[n] = is_b64url ? ch : '?';
    }
    snprintf(out + n, PUBLIC_ID_HINT - n, "...");
}

enum mh_err mh_intake_create(const struct mh_intake_opts *opts, struct mh_intake **out,
                             struct mh_err_info *info)
{
    struct mh_intake *in = mh_xcalloc(1, sizeof(*in));
    enum mh_err rc = MH_OK;
    in->pool = opts->pool;
    in->commit_pool = opts->commit_pool ? opts->commit_pool : opts->pool;
    in->secrets = opts->secrets;
    atomic_init(&in->runtime, opts->runtime);
    in->max_body_bytes = opts->server_max_body_bytes;
    in->doubt_wait_ms = opts->doubt_wait_ms;
    in->pure_prefix = opts->pure_prefix;
    in->listen_url = opts->listen_url ? mh_xstrdup(opts->listen_url) : NULL;
    in->refused_body_quota_bytes = opts->refused_body_quota_bytes;
    in->cache = mh_intake__cache_create();
    in->rates = mh_intake__rates_create();
    in->cluster = opts->cluster;
    in->project_rate_per_second = opts->project_delivery_rate;
    in->project_burst = (double)opts->project_delivery_burst;
    if ((rc = mh_intake__quotas_start(in, opts->limit_runs_in_flight, opts->limit_stored_bytes,
                                      &in->quotas)) != MH_OK ||
        (rc = mh_intake__dlog_start(in, &in->dlog)) != MH_OK ||
        (rc = mh_intake__waits_start(in, &in->waits)) != MH_OK ||
        (rc = mh_intake__committer_start(
             in, opts->committers > 0 ? opts->committers : 2,
             opts->max_batch > 0 ? opts->max_batch : MH_INTAKE__DEFAULT_MAX_BATCH, &in->gc)) !=
            MH_OK) {
        mh_intake_destroy(in);
        return mh_err_set(info, rc, "start", -1, "could not start the intake's threads");
    }
    *out = in;
    return MH_OK;
}

void mh_intake_destroy(struct mh_intake *in)
{
    if (in == NULL)
        return;
    mh_intake__committer_stop(in->gc);
    mh_intake__waits_stop(in->waits);
    mh_intake__dlog_stop(in->dlog);
    mh_intake__quotas_stop(in->quotas);
    mh_intake__cache_destroy(in->cache);
    mh_intake__rates_destroy(in->rates);
    free(in->listen_url);
    free(in);
}

void mh_intake_invalidate(struct mh_intake *in, const char *public_id)
{
    if (in)
        mh_intake__cache_forget(in->cache, public_id);
}

void mh_intake_limits_changed(struct mh_intake *in, const char *project_id)
{
    if (in && in->quotas && project_id)
        mh_intake__quota_forget(in->quotas, project_id);
}

void mh_intake_log_flush(struct mh_intake *in, int timeout_ms)
{
    if (in)
        mh_intake__dlog_flush(in->dlog, timeout_ms);
}

void mh_intake_result_cleanup(struct mh_intake_result *res)
{
    if (res == NULL)
        return;
    json_decref(res->body);
    res->body = NULL;
    json_decref(res->response);
    res->response = NULL;
}

bool mh_intake_header_is_secret(const char *name, const char *extra)
{
    if (extra && extra[0] && strcasecmp(name, extra) == 0)
        return true;
    return mh_redact_header_is_secret(name);
}

/* The current time in RFC 3339 with microseconds (the delivery log orders by it), and in
 * milliseconds. */
static void iso_time(char out[40], int64_t *ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%06ldZ", ts.tv_nsec / 1000);
    *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Header values as UTF-8 (anything else replaced by '?'), lowercased names, repeated headers
 * joined with ", ", secrets replaced by "[redacted]", at most MH_INTAKE__MAX_HEADERS. */
static json_t *redacted_headers(const struct mh_intake_request *rq, const char *extra)
{
    json_t *h = json_object();
    for (size_t i = 0; i < rq->nheaders && json_object_size(h) < MH_INTAKE__MAX_HEADERS; i++) {
        char name[128];
        size_t k = 0;
        for (const char *p = rq->headers[i].name; *p && k + 1 < sizeof(name); p++) {
            unsigned char c = (unsigned char)*p;
            name[k++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c >= 0x80 ? '?' : c);
        }
        name[k] = '\0';
        const char *value = rq->headers[i].value ? rq->headers[i].value : "";
        json_t *v;
        if (mh_intake_header_is_secret(name, extra)) {
            v = json_string(MH_REDACT_HEADER_MASK);
        } else {
            size_t len = strlen(value);
            if (len > MH_INTAKE__MAX_HEADER_VALUE)
                len = MH_INTAKE__MAX_HEADER_VALUE;
            char *copy = mh_xstrndup(value, len);
            for (char *p = copy; *p; p++)
                if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
                    *p = '?';
            v = json_string(copy);
            free(copy);
        }
        json_t *prev = json_object_get(h, name);
        if (prev && json_is_string(v) && !mh_intake_header_is_secret(name, extra)) {
            size_t n = json_string_length(prev) + json_string_length(v) + 3;
            char *joined = mh_xmalloc(n);
            snprintf(joined, n, "%s, %s", json_string_value(prev), json_string_value(v));
            json_decref(v);
            v = json_string(joined);
            free(joined);
        }
        json_object_set_new(h, name, v);
    }
    return h;
}

static json_t *error_body(const char *request_id, const char *code, const char *message)
{
    return json_pack("{s:{s:s, s:s}, s:s}", "error", "code", code, "message", message, "request_id",
                     request_id ? request_id : "");
}

static bool method_allowed(const struct mh_intake__endpoint *ep, const char *method)
{
    const char *p = ep->methods;
    size_t mlen = strlen(method);
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == mlen && strncmp(p, method, n) == 0)
            return true;
        p += n;
        while (*p == ',' || *p == ' ')
            p++;
    }
    return false;
}

/* Every check but the idempotency key, in order. Fills `v->status` on refusal. */
static void judge(struct mh_intake *in, const struct mh_intake__endpoint *ep, struct job *j,
                  struct verdict *v)
{
    const struct mh_intake_request *rq = j->rq;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    memset(v, 0, sizeof(*v));
    if (!ep->is_enabled) {
        *v = (struct verdict){.status = 403, .code = "endpoint_disabled", .may_refresh = true};
        snprintf(v->message, sizeof(v->message), "this webhook endpoint is disabled");
        return;
    }
    if (!method_allowed(ep, rq->method)) {
        *v = (struct verdict){.status = 405, .code = "method_not_allowed", .may_refresh = true};
        snprintf(v->message, sizeof(v->message), "this endpoint accepts %s", ep->methods);
        return;
    }
    if ((long)rq->body_len > ep->max_body_bytes) {
        *v = (struct verdict){.status = 413, .code = "too_big", .may_refresh = true};
        snprintf(v->message, sizeof(v->message),
                 "the body (%zu bytes) exceeds this endpoint's limit of %ld bytes", rq->body_len,
                 ep->max_body_bytes);
        return;
    }
    if (!j->has_token) {
        /* The instances serving webhooks share each rate (src/cluster, rate.c). */
        int retry = 0, share = mh_cluster_intake_instances(in->cluster);
        if (!mh_intake__cache_take_token(in->cache, ep, rq->public_id, share, j->now_ms, &retry)) {
            *v = (struct verdict){.status = 429, .code = "rate_limited", .retry_after_s = retry};
            snprintf(v->message, sizeof(v->message),
                     "rate limit of this endpoint exceeded (%g per second, burst %.0f)",
                     ep->rate_per_second, ep->rate_capacity);
            return;
        }
        if (!mh_intake__rates_take_project(in->rates, ep, share, j->now_ms, &retry)) {
            mh_intake__cache_return_token(in->cache, ep, rq->public_id, share);
            *v = (struct verdict){
                .status = 429, .code = "project_rate_limited", .retry_after_s = retry};
            snprintf(v->message, sizeof(v->message),
                     "delivery rate limit of this project exceeded (%g per second for all its "
                     "endpoints together, burst %.0f)",
                     ep->project_rate_per_second, ep->project_burst);
            return;
        }
        j->has_token = true;
    }
    enum mh_err rc = mh_intake__verify(ep, rq, j->now_ms / 1000, &j->verified, &info);
    if (rc == MH_EUNAVAILABLE) {
        *v = (struct verdict){.status = 503,
                              .code = "endpoint_unavailable",
                              .may_refresh = true,
                              .retry_after_s = 30};
        snprintf(v->message, sizeof(v->message), "%s", info.message);
        return;
    }
    if (rc != MH_OK) {
        *v = (struct verdict){.status = 401, .code = "signature_invalid", .may_refresh = true};
        snprintf(v->message, sizeof(v->message), "%s: %s", info.kind, info.message);
        return;
    }
    if (j->body_value == NULL) {
        /* A JSON body is built only when something reads it here: the endpoint's schema, or
         * the trigger of a body too large to be inline in the first event (build_extra). */
        struct mh_err_info pinfo = MH_ERR_INFO_INIT;
        bool need_value = ep->schema != NULL || is_body_in_blob(rq);
        rc = (need_value ? mh_intake__parse_body : mh_intake__check_body)(
            j->content_type, rq->body, rq->body_len, &j->kind, &j->body_value, &pinfo);
        if (rc != MH_OK) {
            bool unsupported = rc == MH_ENOTFOUND;
            *v = (struct verdict){.status = unsupported ? 415 : 400,
                                  .code = unsupported ? "unsupported_media_type" : "bad_body"};
            snprintf(v->message, sizeof(v->message), "%s", pinfo.message);
            return;
        }
    }
    if (ep->schema) {
        json_t *errors = NULL;
        if (!mh_schema_validate(ep->schema, j->body_value, &errors)) {
            *v = (struct verdict){.status = 422,
                                  .code = "schema_validation_failed",
                                  .may_refresh = true,
                                  .schema_errors = errors};
            snprintf(v->message, sizeof(v->message),
                     "the payload does not match the endpoint's JSON Schema (%zu error%s)",
                     json_array_size(errors), json_array_size(errors) == 1 ? "" : "s");
            return;
        }
        json_decref(errors);
    }
    if (ep->version_id[0] == '\0') {
        *v = (struct verdict){
            .status = 503, .code = "not_published", .may_refresh = true, .retry_after_s = 60};
        snprintf(v->message, sizeof(v->message),
                 "the endpoint's workflow has no published version to start");
        return;
    }
}

/* `with_body`: the refusal keeps its body for replay (keeps_body). */
static void log_refusal(struct mh_intake *in, const struct mh_intake__endpoint *ep,
                        const struct job *j, int status, const char *outcome, const char *reason,
                        const char *run_id, bool with_body)
{
    /* The log writer is another thread: it gets headers of its own, not a reference to ours
     * (jansson's reference counts do not order a free on one thread after reads on another). */
    json_t *row = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:s, s:o, s:I, s:s, s:b}", "project_id", ep->project_id,
        "endpoint_id", ep->id, "received_at", j->received_at, "method", j->rq->method, "status",
        status, "outcome", outcome, "headers", json_deep_copy(j->headers), "body_size",
        (json_int_t)j->rq->body_len, "body_hash", j->body_hash_hex, "is_test", j->rq->is_test);
    if (row == NULL)
        return;
    if (reason)
        json_object_set_new(row, "reason", json_string(reason));
    if (j->content_type)
        json_object_set_new(row, "content_type", json_string(j->content_type));
    if (run_id && run_id[0])
        json_object_set_new(row, "run_id", json_string(run_id));
    if (with_body)
        add_refused_body(in, ep, j, row);
    mh_intake__dlog_add_new(in->dlog, row);
}

/*
 * Which refusals keep their body for replay (migration 0028): those decided after verification
 * that a change of the endpoint or its workflow can reverse — the JSON Schema (422) and no
 * published version (503). A body that is not JSON, form, XML or text (415) or does not parse
 * (400) would be refused again whatever the settings, so it keeps only its size and hash, as
 * every refusal before verification does: whoever merely knows the URL cannot make the
 * database keep anything.
 */
static bool keeps_body(const struct verdict *v)
{
    return v->status == 422 || (v->status == 503 && strcmp(v->code, "not_published") == 0);
}

/* Adds the body (it passed the content check: UTF-8 text without NUL) and the key that verified
 * it to a refusal's row; or, when the server keeps no refused bodies, why not. The query string
 * and the idempotency key go with the body (migration 0043): a replay starts the run the
 * delivery would have started, and claims its key. */
static void add_refused_body(struct mh_intake *in, const struct mh_intake__endpoint *ep,
                             const struct job *j, json_t *row)
{
    const struct mh_intake_request *rq = j->rq;
    const char *body = rq->body ? rq->body : "";
    if (j->verified.key)
        json_object_set_new(row, "key_id", json_string(j->verified.key->id));
    if (json_object_size(rq->query) > 0)
        json_object_set_new(row, "query", json_deep_copy(rq->query));
    const char *idem = idempotency_key_of(ep, rq);
    if (idem != NULL && is_idempotency_key_valid(idem))
        json_object_set_new(row, "idempotency_key", json_string(idem));
    if (in->refused_body_quota_bytes <= 0 || (long)rq->body_len > in->refused_body_quota_bytes)
        json_object_set_new(row, "body_note", json_string("quota"));
    else if (mh_intake__is_utf8(body, rq->body_len))
        json_object_set_new(row, "body", json_stringn(body, rq->body_len));
}

/* The delivery's idempotency key: the scheme's header (webhook-id...), else Idempotency-Key;
 * NULL when it has none. Borrowed from the request. */
static const char *idempotency_key_of(const struct mh_intake__endpoint *ep,
                                      const struct mh_intake_request *rq)
{
    const char *idem = NULL;
    for (const char *const *ih = ep->scheme->idempotency_headers; ih && *ih && !idem; ih++)
        idem = mh_intake__header(rq, *ih);
    return idem ? idem : mh_intake__header(rq, "Idempotency-Key");
}

static bool is_idempotency_key_valid(const char *key)
{
    size_t len = strlen(key);
    return len > 0 && len <= MH_INTAKE__MAX_IDEM_KEY && mh_intake__is_utf8(key, len);
}

/* A body too large to be inline in the run's first event goes to `blobs`, named by its hash. */
static bool is_body_in_blob(const struct mh_intake_request *rq)
{
    return rq->body_len > MH_INTAKE__INLINE_BODY_MAX;
}

/* An inline JSON body is recorded once, as delivery.raw_body with body_from_raw: the trigger has
 * no body, the engine's fold parses it from those bytes, and the intake never builds it. */
static bool is_body_from_raw(const struct job *j)
{
    return j->kind == MH_INTAKE__KIND_JSON && !is_body_in_blob(j->rq);
}

/* What the run's first event records outside the node context: the exact bytes received and
 * how they were verified, so the delivery can be re-verified later. */
static json_t *build_extra(const struct mh_intake__endpoint *ep, const struct job *j)
{
    const struct mh_intake_request *rq = j->rq;
    json_t *d = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", j->delivery_id, "endpoint_id", ep->id,
                          "scheme", ep->scheme->name, "body_size", (json_int_t)rq->body_len,
                          "body_sha256", j->body_hash_hex);
    json_object_set_new(d, "content_type",
                        j->content_type ? json_string(j->content_type) : json_null());
    json_object_set_new(d, "key_id",
                        j->verified.key ? json_string(j->verified.key->id) : json_null());
    if (j->verified.signature_sha256[0])
        json_object_set_new(d, "signature_sha256", json_string(j->verified.signature_sha256));
    if (j->verified.signed_at)
        json_object_set_new(d, "signed_at", json_integer(j->verified.signed_at));
    if (is_body_in_blob(rq)) {
        json_object_set_new(d, "raw_body_blob", json_string(j->body_hash_hex));
    } else if (is_body_from_raw(j)) {
        /* Checked JSON, hence valid UTF-8. */
        json_object_set_new(d, "raw_body", json_stringn(rq->body ? rq->body : "", rq->body_len));
        json_object_set_new(d, "body_from_raw", json_true());
    } else if (mh_intake__is_utf8(rq->body ? rq->body : "", rq->body_len)) {
        json_object_set_new(d, "raw_body", json_stringn(rq->body ? rq->body : "", rq->body_len));
    } else {
        char *b64 = mh_crypto_b64_encode_new(MH_CRYPTO_B64_STD, rq->body, rq->body_len);
        json_object_set_new(d, "raw_body_b64", json_string(b64));
        free(b64);
    }
    return json_pack("{s:o}", "delivery", d);
}

/* Appends `name` then `v` (a JSON string; null for NULL) to a row, unless *rc already failed. */
static void row_str(struct mh_buf *b, enum mh_err *rc, const char *name, const char *v)
{
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, name);
    if (*rc == MH_OK)
        *rc = v ? mh_buf_append_json_string(b, v, strlen(v)) : mh_buf_append(b, "null", 4);
}

static void row_int(struct mh_buf *b, enum mh_err *rc, const char *name, int64_t v)
{
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, name);
    if (*rc == MH_OK)
        *rc = mh_buf_append_int(b, v);
}

/* Appends `text` and, when given, v[0..len) verbatim. */
static void row_raw(struct mh_buf *b, enum mh_err *rc, const char *text, const char *v, size_t len)
{
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, text);
    if (*rc == MH_OK && v)
        *rc = mh_buf_append(b, v, len);
}

/*
 * The delivery's row for the batch statement of commit.c: a new run id, its first event built
 * and sealed by the engine (mh_engine_event_run_started: payload and chain hash), and the
 * delivery log's fields. New string (free()), or NULL when the event cannot be built.
 */
/*
 * Decides the run's pure prefix (mh_engine_advance_pure: its transform, branch, respond and
 * terminate steps up to the first that waits) and appends it to the row being built: "more"
 * (the events, sealed after `first`), and the run's status, last_seq, last_hash, output and
 * error after them, for MH_RUNTIME_RUN_INSERT_CTES. A run finished here gets no job; one cut
 * before a call or a timer is handed to the workers from there. An error leaves the run to the
 * workers, as before (they meet the same error and record it).
 */
static enum mh_err add_prefix(const struct mh_intake__endpoint *ep, const struct job *j,
                              const struct mh_event *first, struct mh_buf *b, struct prefix *px)
{
    struct mh_engine_result res = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = MH_OK;
    if (ep->wf == NULL ||
        mh_engine_advance_pure(ep->wf, first, 1, j->now_ms, &res, &info) != MH_OK ||
        res.n_events == 0)
        goto out;
    rc = mh_buf_append_str(b, ",\"more\":[");
    mh_metrics_decision_note(ep->wf, first, 1, &res, true, &px->counted);
    for (size_t i = 0; i < res.n_events && rc == MH_OK; i++) {
        if (i > 0)
            rc = mh_buf_append_str(b, ",");
        if (rc == MH_OK)
            rc = mh_engine_event_row_append(&res.events[i], b);
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(b, "]");
    const struct mh_event *last = &res.events[res.n_events - 1];
    char hash[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(last->hash, MH_ENGINE_HASH_LEN, hash);
    row_str(b, &rc, ",\"status\":", mh_engine_run_status_name(res.status));
    row_int(b, &rc, ",\"last_seq\":", last->seq);
    row_str(b, &rc, ",\"last_hash\":", hash);
    for (size_t i = 0; i < res.n_actions && rc == MH_OK; i++) {
        const struct mh_engine_action *a = &res.actions[i];
        if (a->kind != MH_ACTION_FINISHED)
            continue;
        px->is_finished = true;
        if (a->output) {
            char *o = json_dumps(a->output, JSON_COMPACT | JSON_ENCODE_ANY);
            row_raw(b, &rc, ",\"output\":", o, o ? strlen(o) : 0);
            free(o);
        }
        if (a->error)
            row_str(b, &rc, ",\"error\":", json_string_value(json_object_get(a->error, "message")));
    }
    if (rc == MH_OK && ep->responds) {
        json_t *resp = mh_engine_response_of(ep->wf, res.events, res.n_events);
        px->response = resp ? json_deep_copy(resp) : NULL;
    }
out:
    mh_engine_result_cleanup(&res);
    return rc;
}

static char *build_row(const struct mh_intake__endpoint *ep, const struct job *j, char run_id[37],
                       bool key_used, bool with_prefix, struct prefix *px, struct mh_err_info *info)
{
    const struct mh_intake_request *rq = j->rq;
    struct mh_event ev = {0};
    char *text = NULL, *blob_hex = NULL, *payload_json = NULL;
    bool use_blob = is_body_in_blob(rq);
    json_t *extra = build_extra(ep, j);
    json_t *trigger = json_pack("{s:O, s:o, s:s, s:s, s:o}", "headers", j->headers, "query",
                                rq->query ? json_incref(rq->query) : json_object(), "received_at",
                                j->received_at, "method", rq->method, "content_type",
                                j->content_type ? json_string(j->content_type) : json_null());
    if (!is_body_from_raw(j))
        json_object_set(trigger, "body", j->body_value ? j->body_value : json_null());
    if (mh_crypto_uuid7(j->now_ms, run_id) != MH_OK ||
        mh_engine_event_run_started(run_id, ep->workflow_id, ep->version, rq->is_test, trigger,
                                    extra, j->now_ms, &ev, &payload_json) != MH_OK) {
        mh_err_set(info, MH_EINVAL, "event", -1, "could not build the run's first event");
        goto out;
    }
    char hash[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(ev.hash, MH_ENGINE_HASH_LEN, hash);
    /* Written directly rather than through a jansson object and json_dumps, which cost more than
     * the rest of the row: the fields are ids, numbers and checked text. The payload, by far the
     * largest field, goes in as the canonical JSON that sealing hashed (valid JSON of the same
     * value), rather than being serialised a second time. */
    size_t payload_len = strlen(payload_json);
    struct mh_buf b;
    mh_buf_init(&b, payload_len + 2 * rq->body_len + 1024 * 1024);
    enum mh_err rc = mh_buf_reserve(&b, payload_len + 1024);
    row_str(&b, &rc, "{\"run_id\":", run_id);
    row_str(&b, &rc, ",\"delivery_id\":", j->delivery_id);
    row_str(&b, &rc, ",\"endpoint_id\":", ep->id);
    row_int(&b, &rc, ",\"config_version\":", ep->config_version);
    row_str(&b, &rc, ",\"workflow_id\":", ep->workflow_id);
    row_str(&b, &rc, ",\"version_id\":", ep->version_id);
    row_int(&b, &rc, ",\"version\":", ep->version);
    row_raw(&b, &rc, rq->is_test ? ",\"is_test\":true" : ",\"is_test\":false", NULL, 0);
    row_int(&b, &rc, ",\"at_ms\":", j->now_ms);
    row_str(&b, &rc, ",\"type\":", ev.type);
    row_str(&b, &rc, ",\"hash\":", hash);
    row_str(&b, &rc, ",\"received_at\":", j->received_at);
    row_str(&b, &rc, ",\"method\":", rq->method);
    /* No "headers": the delivery row takes the trigger's (payload.trigger.headers, the same
     * redacted object), so the database parses them once. */
    row_int(&b, &rc, ",\"body_size\":", (int64_t)rq->body_len);
    row_str(&b, &rc, ",\"body_hash\":", j->body_hash_hex);
    /* A Content-Type that is not UTF-8 cannot be JSON text: the log records none. */
    bool ct_ok = j->content_type && mh_intake__is_utf8(j->content_type, strlen(j->content_type));
    row_str(&b, &rc, ",\"content_type\":", ct_ok ? j->content_type : NULL);
    row_str(&b, &rc, ",\"key_id\":", j->verified.key ? j->verified.key->id : NULL);
    if (key_used)
        row_raw(&b, &rc, ",\"key_used\":true", NULL, 0);
    if (use_blob) {
        blob_hex = mh_xmalloc(rq->body_len * 2 + 1);
        mh_crypto_hex_encode(rq->body, rq->body_len, blob_hex);
        row_str(&b, &rc, ",\"blob\":", blob_hex);
        row_str(&b, &rc, ",\"blob_hash\":", j->body_hash_hex);
    }
    row_raw(&b, &rc, ",\"payload\":", payload_json, payload_len);
    if (rc == MH_OK && with_prefix)
        rc = add_prefix(ep, j, &ev, &b, px);
    /* A delivery that will wait for a worker's answer (record()): the worker, maybe another
     * instance's, tells this one when it records it (respond.c). */
    if (awaits_answer(ep, px))
        row_int(&b, &rc, ",\"answer_until\":",
                j->now_ms + ep->response_timeout_ms + MH_INTAKE__ANSWER_MARGIN_MS);
    row_raw(&b, &rc, "}", NULL, 0);
    if (rc == MH_OK)
        text = mh_buf_steal(&b, NULL);
    else
        mh_err_set(info, rc, "event", -1, "could not build the delivery's row");
    mh_buf_cleanup(&b);
out:
    mh_engine_event_cleanup(&ev);
    json_decref(trigger);
    json_decref(extra);
    free(blob_hex);
    free(payload_json);
    return text;
}

/* A delivery on its way: what the steps below share, from the request to the answer. It lives
 * on the heap because, once queued for its group commit, a committer thread finishes it. */
struct pending {
    struct mh_intake *in;
    const struct mh_intake_request *rq;
    struct mh_intake_result *res;
    struct mh_intake__endpoint *ep;
    struct job j;
    struct verdict v;
    int attempt;
    bool has_place; /* holds a place under the project's limits (quota.c) */
    struct mh_intake__item item;
    const struct mh_intake_waiter *waiter; /* NULL: nobody waits (sync use) */
    bool is_queued;                        /* the waiter's suspend was called */
    bool is_nonblocking; /* on a thread that must not wait on the database (rq->is_nonblocking) */
    struct prefix px;    /* what the intake decided of the run itself */
    struct mh_intake__wait wait; /* registered while is_waiting */
    bool is_waiting;
};

static void answered(struct mh_intake__wait *w);

static bool advance(struct pending *p);
static enum mh_intake__quota take_place(struct pending *p);
static void release_place(struct pending *p, bool is_recorded);
static void committed(struct mh_intake__item *item);
static void finish(struct pending *p);

/* Builds the item and queues it for the group commit (returns false), or answers at once
 * (returns true) when the idempotency key is malformed or the row cannot be built. */
static bool record(struct pending *p)
{
    const struct mh_intake_request *rq = p->rq;
    struct mh_intake_result *res = p->res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *idem = idempotency_key_of(p->ep, rq);
    if (idem && !is_idempotency_key_valid(idem)) {
        res->status = 400;
        res->body = error_body(rq->request_id, "bad_idempotency_key",
                               "the idempotency key must be 1 to 255 bytes of UTF-8");
        log_refusal(p->in, p->ep, &p->j, 400, "refused", "bad idempotency key", NULL, false);
        return true;
    }
    p->item = (struct mh_intake__item){.ep = p->ep, .idem_key = idem, .on_done = committed};
    /* The key's last use is written by at most one delivery a minute (migration 0026). */
    p->item.notes_key_use =
        p->j.verified.key && mh_intake__key_note_use(p->j.verified.key, p->j.now_ms);
    prefix_reset(&p->px);
    char *row = build_row(p->ep, &p->j, p->item.run_id, p->item.notes_key_use,
                          p->in->pure_prefix || p->ep->responds, &p->px, &info);
    if (row == NULL) {
        res->status = 500;
        res->body = error_body(rq->request_id, "internal", "internal error");
        char hint[PUBLIC_ID_HINT];
        public_id_hint(rq->public_id, hint);
        mh_log_req(MH_LOG_ERROR, "intake", rq->request_id, "endpoint %s: %s", hint, info.message);
        return true;
    }
    p->item.row_json = row;
    /* The parsed body is in the row now. Freed here, on the thread that allocated it, rather
     * than by the committer: glibc frees across threads slowly. Judging again (a stale
     * endpoint) parses it again. */
    json_decref(p->j.body_value);
    p->j.body_value = NULL;
    if (p->waiter && !p->is_queued) {
        p->is_queued = true;
        if (p->waiter->suspend)
            p->waiter->suspend(p->waiter->ctx);
    }
    /* An answer still to come from a worker: listen for it from before the commit, so that a
     * worker quick enough to record it before the commit is confirmed is not missed. */
    if (awaits_answer(p->ep, &p->px)) {
        p->wait = (struct mh_intake__wait){.on_ready = answered, .wf = p->ep->wf};
        snprintf(p->wait.project_id, sizeof(p->wait.project_id), "%s", p->ep->project_id);
        snprintf(p->wait.run_id, sizeof(p->wait.run_id), "%s", p->item.run_id);
        mh_intake__wait_register(p->in->waits, &p->wait);
        p->is_waiting = true;
    }
    /* From here on `p` belongs to the committer, which may finish it before this returns, and
     * whose thread may wait (to judge it again on a reloaded endpoint). */
    p->is_nonblocking = false;
    mh_intake__commit(p->in->gc, &p->item);
    return false;
}

/* On a committer thread: the transaction holding the delivery has committed or failed. */
static void prefix_reset(struct prefix *px)
{
    json_decref(px->response);
    mh_metrics_decision_cleanup(&px->counted);
    *px = (struct prefix){0};
}

static void committed(struct mh_intake__item *item)
{
    struct pending *p = (struct pending *)((char *)item - offsetof(struct pending, item));
    const struct mh_intake_request *rq = p->rq;
    struct mh_intake_result *res = p->res;
    free((char *)item->row_json);
    item->row_json = NULL;
    release_place(p, item->outcome == MH_INTAKE__ACCEPTED);
    if (p->is_waiting && item->outcome != MH_INTAKE__ACCEPTED) {
        mh_intake__wait_cancel(p->in->waits, &p->wait);
        p->is_waiting = false;
    }
    switch (item->outcome) {
    case MH_INTAKE__ACCEPTED:
        snprintf(res->run_id, sizeof(res->run_id), "%s", item->run_id);
        mh_metrics_decision_count(&p->px.counted); /* as the workers count what they commit */
        if (p->px.response) {
            /* Decided in the transaction that recorded the delivery: answered at once. */
            res->status = (int)json_integer_value(json_object_get(p->px.response, "status"));
            res->response = p->px.response;
            p->px.response = NULL;
            break;
        }
        if (p->is_waiting) {
            /* The answer comes from a worker, or the deadline passes (answered()). */
            mh_intake__wait_arm(p->in->waits, &p->wait, p->ep->response_timeout_ms);
            return;
        }
        res->status = 202;
        res->body =
            json_pack("{s:s, s:s}", "run_id", item->run_id, "delivery_id", p->j.delivery_id);
        break;
    case MH_INTAKE__DUPLICATE:
        res->status = 200;
        snprintf(res->run_id, sizeof(res->run_id), "%s", item->run_id);
        res->body = json_pack("{s:s, s:b}", "run_id", item->run_id, "duplicate", true);
        log_refusal(p->in, p->ep, &p->j, 200, "duplicate", "idempotency key seen before",
                    item->run_id, false);
        break;
    case MH_INTAKE__STALE: {
        /* The endpoint changed since it was loaded: judge again on the current one. */
        struct mh_err_info info = MH_ERR_INFO_INIT;
        mh_intake__endpoint_unref(p->ep);
        p->ep = NULL;
        if (++p->attempt >= MAX_STALE_RETRIES ||
            mh_intake__cache_get(p->in, rq->public_id, 0, &p->ep, &info) != MH_OK) {
            res->status = 503;
            res->retry_after_s = 1;
            res->body =
                error_body(rq->request_id, "unavailable", "the endpoint is changing; retry later");
        } else if (p->ep == NULL) {
            res->status = 404;
            res->body = error_body(rq->request_id, "not_found", "no such webhook endpoint");
        } else if (!advance(p)) {
            return; /* queued again */
        }
        break;
    }
    default: {
        /* Never the whole public id in a log: it is the endpoint's bearer credential. */
        char hint[PUBLIC_ID_HINT];
        public_id_hint(rq->public_id, hint);
        res->status = 503;
        res->retry_after_s = 1;
        if (item->err == MH_ETIMEOUT) {
            res->body = error_body(rq->request_id, "unavailable",
                                   "the database did not confirm whether the delivery was "
                                   "recorded: it may have been recorded; retry it with the same "
                                   "idempotency key so that it is not recorded twice");
            mh_log_req(MH_LOG_WARN, "intake", rq->request_id,
                       "endpoint %s: may have been recorded (commit in doubt)", hint);
        } else {
            res->body = error_body(rq->request_id, "unavailable",
                                   "the delivery was not recorded; retry later");
            mh_log_req(MH_LOG_WARN, "intake", rq->request_id, "endpoint %s: not recorded: %s", hint,
                       mh_strerror(item->err));
        }
        break;
    }
    }
    finish(p);
}

/* The project's limits (quota.c): a place for the delivery, or a 429 verdict in p->v. */
static enum mh_intake__quota take_place(struct pending *p)
{
    struct mh_intake__quota_info qi;
    struct verdict *v = &p->v;
    enum mh_intake__quota q =
        mh_intake__quota_take(p->in->quotas, p->ep->project_id, !p->is_nonblocking, &qi);
    if (q == MH_INTAKE__QUOTA_RUNS) {
        *v = (struct verdict){.status = 429, .code = "runs_in_flight_limit", .retry_after_s = 1};
        snprintf(v->message, sizeof(v->message),
                 "this project has %ld runs in flight, its limit is %ld (runs_in_flight); "
                 "nothing was recorded, retry later",
                 qi.usage, qi.limit);
    } else if (q == MH_INTAKE__QUOTA_BYTES) {
        *v = (struct verdict){.status = 429, .code = "stored_bytes_limit", .retry_after_s = 600};
        snprintf(v->message, sizeof(v->message),
                 "this project stores %ld bytes, its limit is %ld (stored_bytes); nothing was "
                 "recorded, retry later",
                 qi.usage, qi.limit);
    }
    return q;
}

/* Gives back the delivery's place, if it holds one. */
static void release_place(struct pending *p, bool is_recorded)
{
    if (!p->has_place)
        return;
    p->has_place = false;
    mh_intake__quota_settle(p->in->quotas, p->ep->project_id, is_recorded);
}

/* On the waits' thread: the run's respond step answered, the run ended, or the endpoint's
 * response timeout passed (then, as when the run ended without an answer, 202 and the run id:
 * the delivery is recorded either way). */
static void answered(struct mh_intake__wait *w)
{
    struct pending *p = (struct pending *)((char *)w - offsetof(struct pending, wait));
    struct mh_intake_result *res = p->res;
    p->is_waiting = false;
    if (w->response) {
        res->status = (int)json_integer_value(json_object_get(w->response, "status"));
        res->response = w->response;
        w->response = NULL;
    } else {
        res->status = 202;
        res->body =
            json_pack("{s:s, s:s}", "run_id", p->item.run_id, "delivery_id", p->j.delivery_id);
    }
    finish(p);
}

/* Judges the delivery on p->ep and records it: true when `res` is final, false when the
 * delivery is queued for its group commit. */
static bool advance(struct pending *p)
{
    struct mh_intake *in = p->in;
    const struct mh_intake_request *rq = p->rq;
    struct mh_intake_result *res = p->res;
    struct verdict *v = &p->v;
    struct job *j = &p->j;
    json_decref(j->headers);
    j->headers = redacted_headers(rq, p->ep->settings.hmac_header);
    json_decref(v->schema_errors);
    judge(in, p->ep, j, v);
    if (v->status != 0 && v->may_refresh) {
        /* Refusing on an entry older than MH_INTAKE__REFRESH_MS: reload it once (the cache
         * does, at most once a second) and judge again if it changed. Not on a thread that must
         * not wait: the caller receives the delivery again on one that may. */
        struct mh_intake__endpoint *fresh = NULL;
        bool has_fresh;
        if (p->is_nonblocking) {
            has_fresh =
                mh_intake__cache_peek(in->cache, rq->public_id, MH_INTAKE__REFRESH_MS, &fresh);
            if (!has_fresh) {
                *res = (struct mh_intake_result){.must_wait = true};
                return true;
            }
        } else {
            has_fresh = mh_intake__cache_get(in, rq->public_id, MH_INTAKE__REFRESH_MS, &fresh,
                                             NULL) == MH_OK;
        }
        if (has_fresh && fresh && fresh != p->ep &&
            fresh->config_version != p->ep->config_version) {
            mh_intake__endpoint_unref(p->ep);
            p->ep = fresh;
            json_decref(v->schema_errors);
            json_decref(j->headers);
            j->headers = redacted_headers(rq, p->ep->settings.hmac_header);
            judge(in, p->ep, j, v);
        } else {
            mh_intake__endpoint_unref(fresh);
        }
    }
    if (v->status == 0 && !p->has_place) {
        switch (take_place(p)) {
        case MH_INTAKE__QUOTA_MUST_WAIT:
            *res = (struct mh_intake_result){.must_wait = true};
            return true;
        case MH_INTAKE__QUOTA_OK: p->has_place = true; break;
        default: break;
        }
    }
    if (v->status == 0) {
        /* From a false return on, `p` is the committer's. */
        if (!record(p))
            return false;
        release_place(p, false);
        return true;
    }
    res->status = v->status;
    res->retry_after_s = v->retry_after_s;
    res->body = error_body(rq->request_id, v->code, v->message);
    if (v->schema_errors)
        json_object_set(json_object_get(res->body, "error"), "errors", v->schema_errors);
    if (v->status == 405)
        snprintf(res->allow, sizeof(res->allow), "%s", p->ep->methods);
    char reason[360];
    snprintf(reason, sizeof(reason), "%s: %s", v->code, v->message);
    log_refusal(in, p->ep, j, v->status, "refused", reason, NULL, keeps_body(v));
    return true;
}

/* Counts a final answer by outcome: the error body's code names a refusal's reason. */
static void count_outcome(const struct mh_intake_result *res)
{
    if (res->must_wait)
        return; /* nothing decided yet: received again on a thread that may wait */
    if (res->status == 202 || res->response) {
        mh_metrics_delivery(MH_MD_ACCEPTED);
    } else if (res->status == 200) {
        mh_metrics_delivery(MH_MD_DUPLICATE);
    } else {
        const char *code =
            json_string_value(json_object_get(json_object_get(res->body, "error"), "code"));
        mh_metrics_delivery(mh_metrics_delivery_of_code(code));
    }
}

/* `res` is final: releases the delivery and, if it was queued, tells whoever waits. */
static void finish(struct pending *p)
{
    count_outcome(p->res);
    if (!p->res->must_wait && mh_log_enabled_for(MH_LOG_DEBUG, "intake")) {
        char hint[PUBLIC_ID_HINT];
        public_id_hint(p->rq->public_id, hint);
        mh_log_req(MH_LOG_DEBUG, "intake", p->rq->request_id,
                   "endpoint %s: answered %d, %zu body bytes%s%s", hint, p->res->status,
                   p->rq->body_len, p->res->run_id[0] ? ", run " : "", p->res->run_id);
    }
    if (p->res->status == 202 || p->res->response)
        snprintf(p->res->delivery_id, sizeof(p->res->delivery_id), "%s", p->j.delivery_id);
    prefix_reset(&p->px);
    json_decref(p->v.schema_errors);
    json_decref(p->j.headers);
    json_decref(p->j.body_value);
    if (p->ep)
        release_place(p, false);
    mh_intake__endpoint_unref(p->ep);
    const struct mh_intake_waiter *waiter = p->is_queued ? p->waiter : NULL;
    free(p);
    if (waiter)
        waiter->done(waiter->ctx);
}

bool mh_intake_receive_async(struct mh_intake *in, const struct mh_intake_request *rq,
                             struct mh_intake_result *res, const struct mh_intake_waiter *waiter)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    struct pending *p = mh_xcalloc(1, sizeof(*p));
    p->in = in;
    p->rq = rq;
    p->res = res;
    p->waiter = waiter;
    p->j.rq = rq;
    memset(res, 0, sizeof(*res));
    iso_time(p->j.received_at, &p->j.now_ms);
    p->j.content_type = mh_intake__header(rq, "Content-Type");
    p->is_nonblocking = rq->is_nonblocking;

    uint8_t h[MH_CRYPTO_SHA256_LEN];
    enum mh_err lookup = MH_OK;
    if (!p->is_nonblocking) {
        lookup = mh_intake__cache_get(in, rq->public_id, -1, &p->ep, &info);
    } else if (!mh_intake__cache_peek(in->cache, rq->public_id, -1, &p->ep)) {
        /* Not cached: loading it queries the database. Nothing decided; the caller receives
         * the delivery again on a thread that may wait. */
        res->must_wait = true;
        finish(p);
        return true;
    }
    if (lookup != MH_OK) {
        res->status = 503;
        res->retry_after_s = 1;
        res->body = error_body(rq->request_id, "unavailable",
                               "the service is temporarily unavailable; retry later");
        mh_log_req(MH_LOG_WARN, "intake", rq->request_id, "endpoint lookup failed: %s",
                   info.message);
    } else if (p->ep == NULL) {
        res->status = 404;
        res->body = error_body(rq->request_id, "not_found", "no such webhook endpoint");
    } else if (mh_crypto_sha256(rq->body, rq->body_len, h) != MH_OK ||
               mh_crypto_uuid7(p->j.now_ms, p->j.delivery_id) != MH_OK) {
        res->status = 500;
        res->body = error_body(rq->request_id, "internal", "internal error");
    } else {
        mh_crypto_hex_encode(h, sizeof(h), p->j.body_hash_hex);
        snprintf(p->j.body_hash_param, sizeof(p->j.body_hash_param), "\\x%s", p->j.body_hash_hex);
        if (!advance(p))
            return false;
    }
    finish(p);
    return true;
}

/* mh_intake_receive waits on this until a committer has finished its delivery. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_done;
};

static void sync_done(void *ctx)
{
    struct sync_wait *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->is_done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void mh_intake_receive(struct mh_intake *in, const struct mh_intake_request *rq,
                       struct mh_intake_result *res)
{
    struct sync_wait w = {.is_done = false};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    const struct mh_intake_waiter waiter = {.done = sync_done, .ctx = &w};
    if (!mh_intake_receive_async(in, rq, res, &waiter)) {
        pthread_mutex_lock(&w.mu);
        while (!w.is_done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
}

enum mh_err mh_intake_test_send(struct mh_intake *in, const char *public_id,
                                const char *content_type, const void *body, size_t body_len,
                                const char *request_id, struct mh_intake_result *res,
                                json_t **sent_headers, struct mh_err_info *info)
{
    struct mh_intake__endpoint *ep = NULL;
    json_t *headers = NULL;
    struct mh_intake_header *hv = NULL;
    enum mh_err rc = mh_intake__cache_get(in, public_id, 0, &ep, info);
    memset(res, 0, sizeof(*res));
    if (sent_headers)
        *sent_headers = NULL;
    if (rc != MH_OK)
        goto out;
    if (ep == NULL) {
        rc = mh_err_set(info, MH_ENOTFOUND, "not-found", -1, "no such webhook endpoint");
        goto out;
    }
    headers = json_pack("{s:s, s:s}", "Content-Type", content_type, "User-Agent",
                        "MeshHook-Test-Webhook/1");
    rc = mh_intake__sign(ep, body, body_len, mh_clock_now_ms() / 1000, headers, info);
    if (rc != MH_OK)
        goto out;
    size_t n = json_object_size(headers), k = 0;
    hv = mh_xcalloc(n, sizeof(*hv));
    const char *name;
    json_t *value;
    json_object_foreach(headers, name, value)
    {
        hv[k].name = name;
        hv[k++].value = json_string_value(value);
    }
    const char *method = method_allowed(ep, "POST") ? "POST" : ep->methods;
    char first[16];
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(method, ","), method);
    struct mh_intake_request rq = {
        .public_id = public_id,
        .method = first,
        .headers = hv,
        .nheaders = n,
        .body = body,
        .body_len = body_len,
        .request_id = request_id,
        .is_test = true,
    };
    mh_intake_receive(in, &rq, res);
    if (sent_headers) {
        *sent_headers = json_object();
        json_object_foreach(headers, name, value)
        {
            bool is_secret = mh_intake_header_is_secret(name, ep->settings.hmac_header);
            json_object_set_new(*sent_headers, name,
                                is_secret ? json_string("[redacted]") : json_incref(value));
        }
    }
out:
    free(hv);
    json_decref(headers);
    mh_intake__endpoint_unref(ep);
    return rc;
}

enum mh_err mh_intake_rejudge(struct mh_intake *in, const char *public_id, const char *content_type,
                              const char *body, size_t len, struct mh_intake_rejudged *out,
                              struct mh_err_info *info)
{
    struct mh_intake__endpoint *ep = NULL;
    enum mh_intake__kind kind;
    memset(out, 0, sizeof(*out));
    enum mh_err rc = mh_intake__cache_get(in, public_id, 0, &ep, info);
    if (rc != MH_OK)
        goto out;
    if (ep == NULL) {
        rc = mh_err_set(info, MH_ENOTFOUND, "not-found", -1, "no such webhook endpoint");
        goto out;
    }
    if ((long)len > ep->max_body_bytes) {
        out->status = 413;
        out->code = "too_big";
        mh_err_set(info, MH_ETOOBIG, "body", -1,
                   "the body (%zu bytes) exceeds this endpoint's limit of %ld bytes", len,
                   ep->max_body_bytes);
        goto out;
    }
    struct mh_err_info pinfo = MH_ERR_INFO_INIT;
    enum mh_err prc =
        mh_intake__parse_body(content_type, body, len, &kind, &out->body_value, &pinfo);
    if (prc != MH_OK) {
        out->status = prc == MH_ENOTFOUND ? 415 : 400;
        out->code = prc == MH_ENOTFOUND ? "unsupported_media_type" : "bad_body";
        mh_err_set(info, MH_EINVAL, "body", -1, "%s", pinfo.message);
        goto out;
    }
    if (out->body_value == NULL)
        out->body_value = json_null();
    json_t *errors = NULL;
    if (ep->schema && !mh_schema_validate(ep->schema, out->body_value, &errors)) {
        out->status = 422;
        out->code = "schema_validation_failed";
        out->errors = errors;
        json_decref(out->body_value);
        out->body_value = NULL;
        mh_err_set(info, MH_EINVAL, "schema", -1,
                   "the payload still does not match the endpoint's JSON Schema (%zu error%s)",
                   json_array_size(errors), json_array_size(errors) == 1 ? "" : "s");
        goto out;
    }
    json_decref(errors);
out:
    mh_intake__endpoint_unref(ep);
    return rc;
}

void mh_intake_rejudged_cleanup(struct mh_intake_rejudged *r)
{
    if (r == NULL)
        return;
    json_decref(r->body_value);
    json_decref(r->errors);
    r->body_value = r->errors = NULL;
}
