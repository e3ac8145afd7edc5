/* SPDX-License-Identifier: MIT */
/*
 * The runtime: worker threads that claim due jobs from PostgreSQL and advance their runs, and the
 * glue to the outbound HTTP executor. A batch of runs of one project is advanced in one
 * transaction: lock the run rows (so two workers never advance one run at once; the (run_id, seq)
 * key would refuse the second anyway) and load their logs, let the pure core decide, append the
 * events and reschedule or delete the jobs in one statement, commit — and only then send the
 * HTTP requests the decisions asked for. An HTTP outcome comes back on the
 * executor thread, becomes a report, and a worker appends it by advancing the run again.
 *
 * A database that goes away for a moment (a restart, a failover) costs a claimed job no more
 * than that moment: a job whose outcome could not be recorded is remembered, and handed back
 * (mh_release_jobs) as soon as the database answers again, instead of waiting out its lease.
 *
 * Crashes: a job stays in the table until its run finishes. While an HTTP call is in flight the
 * job sleeps until the call's timeout plus a margin; if the process dies, the job comes due again
 * and the outstanding calls are sent again (same idempotency key), so steps run at least once and
 * the log records each outcome exactly once.
 */
#include "engine/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "breakers/breakers.h"
#include "engine/engine.h"
#include "metrics/metrics.h"
#include "outbound/outbound.h"
#include "redact/redact.h"
#include "secrets/secrets.h"

#define WF_CACHE_SIZE      128
#define RECOVERY_MARGIN_MS 5000
#define JOB_RETRY_BASE_MS  1000
#define JOB_RETRY_MAX_MS   60000
#define NOTIFY_CHANNEL     "meshhook_jobs"
#define PARTITION_CHECK_MS (6 * 3600 * 1000)

struct report {
    struct report *next;
    char run_id[37];
    char project_id[37];
    char key[160]; /* run/node/attempt of the in-flight call, "" for none */
    bool has_event;
    struct mh_event ev;    /* an unsealed http_attempt report */
    int64_t park_until_ms; /* circuit open: wake the run's job then instead */
};

struct wf_entry {
    char version_id[37];
    struct mh_wf *wf;
};

struct mh_engine_runtime {
    struct mh_engine_runtime_opts opts;
    char worker_id[96];
    pthread_t *threads;
    int nthreads;
    pthread_t listener;
    bool has_listener;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic bool is_stopping;
    unsigned wake_gen;
    struct report *reports_head, *reports_tail;
    json_t *inflight; /* set of "run/node/attempt" keys sent by this process */
    struct wf_entry cache[WF_CACHE_SIZE];
    unsigned cache_next;
    struct mh_outbound *out;
    _Atomic bool notify_pending;
    json_t *privacy;       /* project id -> {"at": ms, "settings": {...}}: a short-lived cache */
    json_t *orphans;       /* [[job id, attempts]...] to hand back once the database answers (mu) */
    struct report *parked; /* reports to apply again once the database answers (mu) */
    struct mh_breakers *breakers; /* writes breaker openings and closings (breaker_events) */
};

struct job {
    long long id;
    char project_id[37];
    char run_id[37];
    int attempts;
    int max_attempts;
};

struct send_ctx {
    struct mh_engine_runtime *rt;
    char run_id[37];
    char project_id[37];
    char node_id[MH_ENGINE_ID_MAX + 1];
    char key[160];
    int attempt;
    json_t *request; /* as recorded: placeholders unresolved */
    struct mh_redact_secrets *redactor;
    json_t *artifact_rules; /* the project's privacy settings when they redact artifacts */
    char **lines;           /* header lines sent, freed after the call */
    char *allowlist;        /* the project's outbound allow-list */
    char *url;
    char *body;
    size_t body_len;
    char shown_origin[160]; /* the origin to record when its text holds a secret, else "" */
};

static uint64_t random_u64(void *ctx)
{
    (void)ctx;
    uint64_t v = 0;
    if (getrandom(&v, sizeof(v), 0) != (ssize_t)sizeof(v))
        mh_panic("getrandom failed");
    return v;
}

/* ---- Reports queue ------------------------------------------------------------------------ */

static void push_report(struct mh_engine_runtime *rt, struct report *r)
{
    pthread_mutex_lock(&rt->mu);
    r->next = NULL;
    if (rt->reports_tail)
        rt->reports_tail->next = r;
    else
        rt->reports_head = r;
    rt->reports_tail = r;
    rt->wake_gen++;
    pthread_cond_signal(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

static struct report *pop_report(struct mh_engine_runtime *rt)
{
    struct report *r = rt->reports_head;
    if (r) {
        rt->reports_head = r->next;
        if (rt->reports_head == NULL)
            rt->reports_tail = NULL;
    }
    return r;
}

static void report_free(struct report *r)
{
    if (r == NULL)
        return;
    if (r->has_event)
        mh_engine_event_cleanup(&r->ev);
    free(r);
}

static void inflight_forget(struct mh_engine_runtime *rt, const char *key)
{
    if (key == NULL || key[0] == '\0')
        return;
    pthread_mutex_lock(&rt->mu);
    json_object_del(rt->inflight, key);
    pthread_mutex_unlock(&rt->mu);
}

/* True when the key was not yet in flight (and now is). */
static bool inflight_claim(struct mh_engine_runtime *rt, const char *key)
{
    pthread_mutex_lock(&rt->mu);
    bool is_new = json_object_get(rt->inflight, key) == NULL;
    if (is_new)
        json_object_set_new(rt->inflight, key, json_true());
    pthread_mutex_unlock(&rt->mu);
    return is_new;
}

/* ---- Workflow cache ----------------------------------------------------------------------- */

/* A compiled published version, shared read-only by all workers (new reference). */
static enum mh_err workflow_for(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                const char *version_id, struct mh_wf **out,
                                struct mh_err_info *info)
{
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < WF_CACHE_SIZE; i++) {
        if (rt->cache[i].wf && strcmp(rt->cache[i].version_id, version_id) == 0) {
            *out = mh_engine_wf_ref(rt->cache[i].wf);
            pthread_mutex_unlock(&rt->mu);
            return MH_OK;
        }
    }
    pthread_mutex_unlock(&rt->mu);
    json_t *row = NULL, *errors = NULL;
    const char *params[] = {version_id};
    enum mh_err rc = mh_db_query_row(c, "SELECT definition FROM workflow_versions WHERE id = $1", 1,
                                     params, &row, info);
    if (rc != MH_OK)
        return rc;
    struct mh_wf *wf = NULL;
    rc = mh_engine_wf_compile(json_object_get(row, "definition"), &wf, &errors);
    json_decref(row);
    json_decref(errors);
    if (rc != MH_OK)
        return mh_err_set(info, rc, "invalid", -1, "workflow version %s does not compile",
                          version_id);
    pthread_mutex_lock(&rt->mu);
    struct wf_entry *e = &rt->cache[rt->cache_next++ % WF_CACHE_SIZE];
    mh_engine_wf_unref(e->wf);
    snprintf(e->version_id, sizeof(e->version_id), "%s", version_id);
    e->wf = mh_engine_wf_ref(wf);
    pthread_mutex_unlock(&rt->mu);
    *out = wf;
    return MH_OK;
}

/* ---- Sending ------------------------------------------------------------------------------ */

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

static void on_http_done(void *ctx, const struct mh_outbound_response *resp)
{
    struct send_ctx *s = ctx;
    struct mh_engine_runtime *rt = s->rt;
    struct report *r = mh_xcalloc(1, sizeof(*r));
    memcpy(r->run_id, s->run_id, sizeof(r->run_id));
    memcpy(r->project_id, s->project_id, sizeof(r->project_id));
    memcpy(r->key, s->key, sizeof(r->key));
    if (resp->error_kind && strcmp(resp->error_kind, "canceled") == 0) {
        /* Shutting down: the job's recovery wake sends it again after a restart. */
        inflight_forget(rt, s->key);
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
        push_report(rt, r);
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
        push_report(rt, r);
    } else {
        mh_log(MH_LOG_ERROR, "engine", "run %s: could not record the outcome of %s", s->run_id,
               s->node_id);
        inflight_forget(rt, s->key);
        free(r);
    }
    free(body);
    json_decref(headers);
    send_ctx_free(s);
}

#define SETTINGS_TTL_MS 5000

/*
 * What a request of the project needs from its settings, cached for a few seconds so a busy
 * project costs one read per interval: *privacy (new reference, or NULL) when its privacy
 * settings redact recorded HTTP bodies, and *allowlist (new string, "" for none) its outbound
 * allow-list. False when they could not be read: the caller sends nothing then, since the
 * allow-list decides where the request may go.
 */
static bool project_settings(struct mh_engine_runtime *rt, const char *project_id, json_t **privacy,
                             char **allowlist)
{
    int64_t now = mh_clock_now_ms();
    json_t *entry = NULL;
    *privacy = NULL;
    *allowlist = NULL;
    pthread_mutex_lock(&rt->mu);
    json_t *hit = json_object_get(rt->privacy, project_id);
    if (hit && now - json_integer_value(json_object_get(hit, "at")) < SETTINGS_TTL_MS)
        entry = json_incref(hit);
    pthread_mutex_unlock(&rt->mu);
    if (entry == NULL) {
        struct mh_db_conn *c = NULL;
        json_t *settings = NULL, *row = NULL;
        const char *params[] = {project_id};
        if (mh_db_acquire(rt->opts.pool, &c, NULL) == MH_OK &&
            mh_db_begin(c, NULL, project_id, NULL) == MH_OK &&
            mh_secrets_privacy_load(c, project_id, &settings, NULL) == MH_OK &&
            mh_db_query_row(c,
                            "SELECT coalesce((SELECT string_agg(e, ',') FROM project_outbound p, "
                            "jsonb_array_elements_text(p.allowlist) e WHERE p.project_id = $1), "
                            "'') AS allowlist",
                            1, params, &row, NULL) == MH_OK) {
            entry = json_pack("{s:I, s:O, s:O}", "at", (json_int_t)now, "settings", settings,
                              "allowlist", json_object_get(row, "allowlist"));
            pthread_mutex_lock(&rt->mu);
            if (json_object_size(rt->privacy) > 10000)
                json_object_clear(rt->privacy);
            json_object_set(rt->privacy, project_id, entry);
            pthread_mutex_unlock(&rt->mu);
        }
        json_decref(settings);
        json_decref(row);
        mh_db_release(rt->opts.pool, c);
    }
    if (entry == NULL)
        return false;
    json_t *settings = json_object_get(entry, "settings");
    if (json_array_size(json_object_get(settings, "artifacts")) > 0)
        *privacy = json_deep_copy(settings);
    const char *list = json_string_value(json_object_get(entry, "allowlist"));
    *allowlist = mh_xstrdup(list ? list : "");
    json_decref(entry);
    return true;
}

/* Reports a failure that happened before sending (a missing secret), as the outcome of the
 * attempt, so the engine fails the step with a clear event. */
static void report_send_failure(struct mh_engine_runtime *rt, struct send_ctx *s, const char *kind,
                                const char *message)
{
    struct mh_outbound_response resp = {.error_kind = kind};
    snprintf(resp.error_message, sizeof(resp.error_message), "%s", message);
    on_http_done(s, &resp);
    (void)rt;
}

/* Builds and submits one HTTP action; resolves secrets in memory only. */
static void dispatch_http(struct mh_engine_runtime *rt, const struct job *j,
                          const struct mh_engine_action *a)
{
    struct send_ctx *s = mh_xcalloc(1, sizeof(*s));
    s->rt = rt;
    memcpy(s->run_id, j->run_id, sizeof(s->run_id));
    memcpy(s->project_id, j->project_id, sizeof(s->project_id));
    snprintf(s->node_id, sizeof(s->node_id), "%s", a->node_id);
    s->attempt = a->attempt;
    snprintf(s->key, sizeof(s->key), "%s/%s/%d", j->run_id, a->node_id, a->attempt);
    /* The executor thread gets values of its own: a jansson value whose references are dropped
     * on two threads may be freed by one while the other still reads it (reference counts are
     * atomic, but their decrements do not order the other thread's reads before the free). */
    s->request = json_deep_copy(a->request);
    if (!inflight_claim(rt, s->key)) {
        json_decref(s->request);
        free(s);
        return;
    }
    if (!project_settings(rt, j->project_id, &s->artifact_rules, &s->allowlist)) {
        /* Not sent: the job's recovery wake tries again, as after a full queue. */
        mh_log(MH_LOG_WARN, "engine", "run %s: project settings unavailable, %s deferred",
               j->run_id, a->node_id);
        inflight_forget(rt, s->key);
        send_ctx_free(s);
        return;
    }
    json_t *req = a->request;
    json_t *values = json_object();
    json_t *names = json_object_get(req, "secrets");
    /* The signing secret is decrypted with the template's: a secret used only to sign appears
     * in no template. */
    const char *sign_name =
        json_string_value(json_object_get(json_object_get(req, "sign"), "secret"));
    for (size_t i = 0; sign_name && i < json_array_size(names); i++)
        if (strcmp(json_string_value(json_array_get(names, i)), sign_name) == 0)
            sign_name = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (json_array_size(names) > 0 || sign_name != NULL) {
        size_t n = json_array_size(names);
        const char **list = mh_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            list[i] = json_string_value(json_array_get(names, i));
        if (sign_name != NULL)
            list[n++] = sign_name;
        enum mh_err rc = MH_ENOTFOUND;
        struct mh_db_conn *c = NULL;
        json_t *got = NULL;
        if (rt->opts.resolve_secrets == NULL) {
            mh_err_set(&info, MH_ENOTFOUND, "secret", -1,
                       "secrets are not available: no key-encryption key is configured");
        } else if ((rc = mh_db_acquire(rt->opts.pool, &c, &info)) == MH_OK &&
                   (rc = mh_db_begin(c, NULL, j->project_id, &info)) == MH_OK) {
            rc = rt->opts.resolve_secrets(rt->opts.secrets_ctx, c, j->project_id, list, n,
                                          j->run_id, &got, &info);
            if (rc == MH_OK)
                rc = mh_db_commit(c, &info);
        }
        mh_db_release(rt->opts.pool, c);
        free(list);
        if (rc != MH_OK) {
            mh_secrets_values_free(got);
            json_decref(values);
            report_send_failure(rt, s, "invalid_request", info.message);
            return;
        }
        json_decref(values);
        values = got;
        /* Each value as sent, and as a JSON string would carry it (a target that echoes the
         * value inside JSON escapes quotes, backslashes and control characters). */
        size_t k = json_object_size(values), i = 0;
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
                (ql - 2 != json_string_length(v) ||
                 memcmp(q + 1, json_string_value(v), ql - 2) != 0)) {
                rs[i].name = name;
                rs[i].value = q + 1;
                rs[i].value_len = ql - 2;
                i++;
                escaped[ne++] = q;
            } else {
                mh_crypto_free_secret_str(q);
            }
        }
        if (mh_redact_secrets_create(rs, i, &s->redactor, NULL) != MH_OK)
            s->redactor = NULL;
        for (size_t e = 0; e < ne; e++)
            mh_crypto_free_secret_str(escaped[e]);
        free(escaped);
        free(rs);
    }

    /* Secrets go in at the spans the engine recorded, and only there. */
    struct mh_engine_wire w;
    if (mh_engine_request_resolve(req, values, 3, &w, &info) != MH_OK) {
        mh_secrets_values_free(values);
        report_send_failure(rt, s, "invalid_request", info.message);
        return;
    }
    s->url = w.url;
    s->lines = w.lines;
    s->body = w.body;
    s->body_len = w.body_len;
    size_t li = w.n_lines;
    json_t *sign = json_object_get(req, "sign");
    const char *sign_secret = json_string_value(json_object_get(sign, "secret"));
    if (sign_secret) {
        const char *whsec = json_string_value(json_object_get(values, sign_secret));
        uint8_t key[MH_CRYPTO_STDWH_KEY_MAX];
        size_t klen = 0;
        char *sig = NULL;
        int64_t ts = mh_clock_now_ms() / 1000;
        if (!whsec || mh_crypto_stdwh_secret_decode(whsec, key, sizeof(key), &klen) != MH_OK ||
            mh_crypto_sig_stdwh_sign(&(struct mh_crypto_sig_key){key, klen}, 1, a->idempotency_key,
                                     ts, s->body ? s->body : "", s->body_len, &sig) != MH_OK) {
            mh_crypto_wipe(key, sizeof(key));
            mh_secrets_values_free(values);
            report_send_failure(rt, s, "invalid_request",
                                "the signing secret is missing or not a whsec_ secret");
            return;
        }
        mh_crypto_wipe(key, sizeof(key));
        char line[512];
        snprintf(line, sizeof(line), "webhook-id: %s", a->idempotency_key);
        s->lines[li++] = mh_xstrdup(line);
        snprintf(line, sizeof(line), "webhook-timestamp: %lld", (long long)ts);
        s->lines[li++] = mh_xstrdup(line);
        snprintf(line, sizeof(line), "webhook-signature: %s", sig);
        s->lines[li++] = mh_xstrdup(line);
        free(sig);
    }
    mh_secrets_values_free(values);

    struct mh_outbound_request r = {
        .method = json_string_value(json_object_get(req, "method")),
        .url = s->url,
        .headers = (const char *const *)s->lines,
        .body = s->body,
        .body_len = s->body_len,
        .timeout_ms = a->timeout_ms > 0 ? (long)a->timeout_ms : 30000,
        .connect_timeout_ms = 10000,
        .tenant = j->project_id,
        .allowlist = s->allowlist,
        .is_origin_secret =
            mh_engine_request_origin_is_secret(req, s->shown_origin, sizeof(s->shown_origin)),
    };
    if (mh_outbound_submit(rt->out, &r, on_http_done, s) != MH_OK) {
        /* Queue full: the job's recovery wake will send it later. */
        mh_log(MH_LOG_WARN, "engine", "run %s: outbound queue full, %s deferred", j->run_id,
               a->node_id);
        inflight_forget(rt, s->key);
        send_ctx_free(s);
    }
}

/* ---- Advancing a run ---------------------------------------------------------------------- */

/* A run's decision, made inside the batch's transaction and written with the others. */
struct plan {
    struct mh_engine_result res;
    struct mh_engine_result pending;
    bool is_finished; /* the run ended (or is gone): its job is deleted */
    int64_t wake;     /* otherwise the job sleeps until then */
    char created_at[64];
    json_t *dead_letter; /* the run's error when an http_call failed for good (borrowed) */
    /* For metrics, counted once the batch has committed: */
    bool was_queued;        /* the run had not started */
    struct step_obs *steps; /* steps this decision finished, with their durations */
    size_t nsteps;
};

struct step_obs {
    enum mh_metrics_node node;
    int64_t ms;
};

/* Whether `ev` is the first event of node `node`'s step: step_started (an http_call attempt)
 * or timer_set (a delay). */
static bool starts_step(const struct mh_event *ev, const char *node)
{
    return strcmp(ev->node_id, node) == 0 &&
           (strcmp(ev->type, MH_EV_STEP_STARTED) == 0 || strcmp(ev->type, MH_EV_TIMER_SET) == 0);
}

/* Records in `p` the steps that `p->res` finishes, each with the time since it started (its
 * step_started or timer_set, in the new events or in the `old` log; a pure step has neither: it
 * starts and ends in one decision, in no time). The durations come from the event log's clock
 * readings, so a metric never disagrees with the run's timeline. */
static void note_steps(const struct mh_wf *wf, const struct mh_event *old, size_t nold,
                       struct plan *p)
{
    const struct mh_event *ev = p->res.events;
    for (size_t i = 0; i < p->res.n_events; i++) {
        if (strcmp(ev[i].type, MH_EV_STEP_SUCCEEDED) != 0 &&
            strcmp(ev[i].type, MH_EV_STEP_FAILED) != 0)
            continue;
        const struct mh_event *start = NULL;
        for (size_t k = i; k-- > 0 && start == NULL;)
            if (starts_step(&ev[k], ev[i].node_id))
                start = &ev[k];
        for (size_t k = nold; k-- > 0 && start == NULL;)
            if (starts_step(&old[k], ev[i].node_id))
                start = &old[k];
        if (p->steps == NULL)
            p->steps = mh_xcalloc(p->res.n_events, sizeof(*p->steps));
        p->steps[p->nsteps++] =
            (struct step_obs){mh_metrics_node_of(mh_engine_wf_node_type(wf, ev[i].node_id)),
                              start ? ev[i].at_ms - start->at_ms : 0};
    }
}

/* Counts what a committed plan did. */
static void count_plan(const struct plan *p)
{
    if (p->was_queued && p->res.n_events > 0)
        mh_metrics_run_started();
    for (size_t i = 0; i < p->nsteps; i++)
        mh_metrics_step(p->steps[i].node, p->steps[i].ms);
    for (size_t i = 0; i < p->res.n_actions; i++) {
        const struct mh_engine_action *a = &p->res.actions[i];
        if (a->kind != MH_ACTION_FINISHED)
            continue;
        mh_metrics_run_finished(a->status == MH_RUN_SUCCEEDED  ? MH_MR_SUCCEEDED
                                : a->status == MH_RUN_CANCELED ? MH_MR_CANCELED
                                                               : MH_MR_FAILED);
    }
    if (p->dead_letter)
        mh_metrics_dead_letter(MH_MDL_STEP);
}

static void plan_cleanup(struct plan *p)
{
    mh_engine_result_cleanup(&p->res);
    mh_engine_result_cleanup(&p->pending);
    free(p->steps);
    memset(p, 0, sizeof(*p));
}

/* A run belongs in the dead-letter list when an http_call step failed for good. */
static bool is_dead_letter(const struct mh_wf *wf, json_t *error)
{
    const char *node = json_string_value(json_object_get(error, "node"));
    const char *type = node ? mh_engine_wf_node_type(wf, node) : NULL;
    return type && strcmp(type, "http_call") == 0;
}

static void wake_at_least(int64_t *wake, int64_t at)
{
    if (at > 0 && (*wake == 0 || at < *wake))
        *wake = at;
}

/*
 * Decides one run from its locked row (`row`: status, version_id, created_at and the whole log;
 * NULL when the run is gone) and the report `rep` (may be NULL). Pure apart from compiling the
 * run's version on a cache miss.
 */
static enum mh_err decide(struct mh_engine_runtime *rt, struct mh_db_conn *c, json_t *row,
                          struct report *rep, struct plan *p, struct mh_err_info *info)
{
    struct mh_wf *wf = NULL;
    struct mh_event *events = NULL;
    size_t n = 0;
    enum mh_err rc = MH_OK;
    const char *status = row ? json_string_value(json_object_get(row, "status")) : NULL;
    if (status == NULL || strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
        strcmp(status, "canceled") == 0) {
        p->is_finished = true;
        return MH_OK;
    }
    snprintf(p->created_at, sizeof(p->created_at), "%s",
             json_string_value(json_object_get(row, "created_at")));
    p->was_queued = strcmp(status, "queued") == 0;
    rc = workflow_for(rt, c, json_string_value(json_object_get(row, "version_id")), &wf, info);
    if (rc == MH_OK)
        rc = mh_engine_events_from_rows(json_object_get(row, "events"), &events, &n, info);
    if (rc != MH_OK)
        goto out;
    if (rep && rep->park_until_ms) {
        p->wake = rep->park_until_ms;
        goto out;
    }
    struct mh_engine_input in = {
        .now_ms = mh_clock_now_ms(),
        .run_timeout_ms = rt->opts.run_timeout_ms,
        .random = random_u64,
        .reports = rep && rep->has_event ? &rep->ev : NULL,
        .n_reports = rep && rep->has_event ? 1 : 0,
    };
    if ((rc = mh_engine_advance(wf, events, n, &in, &p->res, info)) != MH_OK)
        goto out;
    p->wake = p->res.next_wake_ms;
    if (mh_metrics_is_enabled())
        note_steps(wf, events, n, p);
    for (size_t i = 0; i < p->res.n_actions; i++) {
        const struct mh_engine_action *a = &p->res.actions[i];
        if (a->kind == MH_ACTION_FINISHED) {
            p->is_finished = true;
            if (a->status == MH_RUN_FAILED && a->error && is_dead_letter(wf, a->error))
                p->dead_letter = a->error;
        } else if (a->kind == MH_ACTION_HTTP) {
            wake_at_least(&p->wake, in.now_ms + (a->timeout_ms > 0 ? a->timeout_ms : 30000) +
                                        RECOVERY_MARGIN_MS);
        }
    }
    if (!p->is_finished) {
        /* Outstanding calls this process is not making (after a crash or a park) are sent
         * again; their recovery time bounds the job's sleep. */
        size_t all_n = n + p->res.n_events;
        struct mh_event *all = mh_xcalloc(all_n ? all_n : 1, sizeof(*all));
        memcpy(all, events, n * sizeof(*all));
        if (p->res.n_events)
            memcpy(all + n, p->res.events, p->res.n_events * sizeof(*all));
        rc = mh_engine_pending(wf, all, all_n, &p->pending, info);
        free(all);
        if (rc != MH_OK)
            goto out;
        for (size_t i = 0; i < p->pending.n_actions; i++) {
            const struct mh_engine_action *a = &p->pending.actions[i];
            if (a->kind == MH_ACTION_HTTP)
                wake_at_least(&p->wake, in.now_ms + (a->timeout_ms > 0 ? a->timeout_ms : 30000) +
                                            RECOVERY_MARGIN_MS);
        }
        wake_at_least(&p->wake, p->res.deadline_ms);
        if (p->wake == 0)
            p->wake = in.now_ms + 3600 * 1000; /* nothing outstanding: a safety check-in */
    }
out:
    mh_engine_events_free(events, n);
    mh_engine_wf_unref(wf);
    return rc;
}

static char *uuid_array(const struct job *jobs, const struct plan *plans, int n, bool finished)
{
    struct mh_buf b;
    mh_buf_init(&b, 1u << 20);
    (void)!mh_buf_append_str(&b, "{");
    bool first = true;
    for (int i = 0; i < n; i++) {
        if (plans && plans[i].is_finished != finished)
            continue;
        (void)!mh_buf_printf(&b, "%s%s", first ? "" : ",", jobs[i].run_id);
        first = false;
    }
    (void)!mh_buf_append_str(&b, "}");
    return mh_buf_steal(&b, NULL);
}

/*
 * What the batch tells live streams (src/http/hub.h), as a text[] literal of notification
 * payloads: "<project> <run>:<last seq> ..." for the runs that gained events (" x<transaction
 * id>" is appended when they are sent, after COMMIT), split to stay under PostgreSQL's 8000-byte
 * payload limit. One notification per transaction, not per event.
 */
static char *stream_notes(const struct job *jobs, const struct plan *plans, int n)
{
    struct mh_buf b;
    mh_buf_init(&b, 1u << 24);
    (void)!mh_buf_append_str(&b, "{\"");
    size_t start = mh_buf_len(&b);
    (void)!mh_buf_append_str(&b, jobs[0].project_id);
    bool any = false;
    for (int i = 0; i < n; i++) {
        if (plans[i].res.n_events == 0)
            continue;
        if (mh_buf_len(&b) - start > 7700) {
            (void)!mh_buf_printf(&b, "\",\"%s", jobs[0].project_id);
            start = mh_buf_len(&b) - strlen(jobs[0].project_id);
        }
        const struct mh_event *last = &plans[i].res.events[plans[i].res.n_events - 1];
        (void)!mh_buf_printf(&b, " %s:%lld", jobs[i].run_id, (long long)last->seq);
        any = true;
    }
    (void)!mh_buf_append_str(&b, "\"}");
    if (!any) {
        mh_buf_cleanup(&b);
        return mh_xstrdup("{}");
    }
    return mh_buf_steal(&b, NULL);
}

/*
 * Writes every plan of the batch: all new events, every run's summary, the deletion of finished
 * runs' jobs and the rescheduling of the others, in one statement; then the rare extras (a job
 * row that went missing, dead letters). The `= ANY($5)` conditions give the planner an index
 * path into runs and jobs: joined only to a set-returning function it estimates at 100 rows, it
 * would otherwise scan both tables whole for every batch.
 */
static enum mh_err write_plans(struct mh_db_conn *c, const struct job *jobs, struct plan *plans,
                               int n, char **notes_out, char xid[24], struct mh_err_info *info)
{
    json_t *events = json_array(), *runs = json_array(), *sched = json_array();
    for (int i = 0; i < n; i++) {
        struct plan *p = &plans[i];
        if (!p->is_finished)
            json_array_append_new(
                sched, json_pack("{s:s, s:I}", "id", jobs[i].run_id, "wake", (json_int_t)p->wake));
        if (p->res.n_events == 0)
            continue;
        for (size_t k = 0; k < p->res.n_events; k++) {
            json_t *row = mh_engine_event_row(&p->res.events[k]);
            json_object_set_new(row, "run_id", json_string(jobs[i].run_id));
            json_object_set_new(row, "created_at", json_string(p->created_at));
            json_array_append_new(events, row);
        }
        const struct mh_event *last = &p->res.events[p->res.n_events - 1];
        char hex[2 * MH_ENGINE_HASH_LEN + 1];
        mh_crypto_hex_encode(last->hash, MH_ENGINE_HASH_LEN, hex);
        json_t *r = json_pack("{s:s, s:s, s:s, s:I}", "id", jobs[i].run_id, "status",
                              mh_engine_run_status_name(p->res.status), "last_hash", hex,
                              "last_seq", (json_int_t)last->seq);
        for (size_t k = 0; k < p->res.n_actions; k++) {
            const struct mh_engine_action *a = &p->res.actions[k];
            if (a->kind != MH_ACTION_FINISHED)
                continue;
            if (a->output)
                json_object_set(r, "output", a->output);
            if (a->error)
                json_object_set(r, "error", json_object_get(a->error, "message"));
        }
        json_array_append_new(runs, r);
    }
    char *ev_s = json_dumps(events, JSON_COMPACT);
    char *runs_s = json_dumps(runs, JSON_COMPACT);
    char *sched_s = json_dumps(sched, JSON_COMPACT);
    char *done_s = uuid_array(jobs, plans, n, true);
    char *all_s = uuid_array(jobs, NULL, n, false);
    *notes_out = stream_notes(jobs, plans, n);
    const char *params[] = {ev_s, runs_s, done_s, sched_s, all_s};
    json_t *row = NULL;
    enum mh_err rc = mh_db_query_row(
        c,
        "WITH e AS (INSERT INTO events (run_id, run_created_at, seq, project_id, type, node_id, "
        "attempt, payload, at, hash) SELECT (x->>'run_id')::uuid, (x->>'created_at')::timestamptz, "
        "(x->>'seq')::int, mh_pid(), x->>'type', nullif(x->>'node_id', ''), "
        "nullif((x->>'attempt')::int, 0), coalesce(x->'payload', '{}'), 'epoch'::timestamptz + "
        "(x->>'at_ms')::bigint * interval '1 millisecond', decode(x->>'hash', 'hex') FROM "
        "jsonb_array_elements($1::jsonb) x RETURNING 1), "
        "u AS (UPDATE runs r SET feed_xid = CASE WHEN r.status = x->>'status' THEN r.feed_xid "
        "ELSE pg_current_xact_id() END, status = x->>'status', last_hash = decode(x->>'last_hash', "
        "'hex'), last_seq = (x->>'last_seq')::int, started_at = coalesce(r.started_at, now()), "
        "finished_at = CASE WHEN x->>'status' IN ('succeeded', 'failed', 'canceled') THEN now() "
        "END, output = CASE WHEN x ? 'output' THEN x->'output' ELSE r.output END, error = "
        "coalesce(x->>'error', r.error) FROM jsonb_array_elements($2::jsonb) x WHERE r.id = "
        "ANY($5::uuid[]) AND r.id = (x->>'id')::uuid RETURNING 1), "
        "d AS (DELETE FROM jobs WHERE run_id = ANY($3::uuid[]) RETURNING 1), "
        "s AS (UPDATE jobs j SET run_at = 'epoch'::timestamptz + (x->>'wake')::bigint * interval "
        "'1 millisecond', lease_owner = NULL, lease_until = NULL, attempts = 0, last_error = NULL "
        "FROM jsonb_array_elements($4::jsonb) x WHERE j.run_id = ANY($5::uuid[]) AND j.run_id = "
        "(x->>'id')::uuid RETURNING j.run_id) "
        "SELECT (SELECT count(*) FROM e) AS appended, (SELECT count(*) FROM u) AS updated, "
        "coalesce((SELECT json_agg(run_id) FROM s), '[]') AS scheduled, "
        "pg_current_xact_id()::text AS xid",
        5, params, &row, info);
    const char *x = rc == MH_OK ? json_string_value(json_object_get(row, "xid")) : NULL;
    snprintf(xid, 24, "%s", x ? x : "");
    free(all_s);
    free(ev_s);
    free(runs_s);
    free(sched_s);
    free(done_s);
    json_decref(events);
    json_decref(runs);
    json_decref(sched);
    json_t *scheduled = rc == MH_OK ? json_object_get(row, "scheduled") : NULL;
    for (int i = 0; i < n && rc == MH_OK; i++) {
        struct plan *p = &plans[i];
        if (!p->is_finished) {
            bool found = false;
            size_t k;
            json_t *v;
            json_array_foreach(scheduled, k, v)
            {
                found = found || strcmp(json_string_value(v), jobs[i].run_id) == 0;
            }
            if (!found) { /* woken by a report while its job row was gone */
                char at[32];
                snprintf(at, sizeof(at), "%lld", (long long)p->wake);
                const char *jp[] = {jobs[i].run_id, at};
                rc = mh_db_query(c,
                                 "INSERT INTO jobs (project_id, run_id, kind, run_at) VALUES "
                                 "(mh_pid(), $1, 'advance', 'epoch'::timestamptz + $2::bigint * "
                                 "interval '1 millisecond')",
                                 2, jp, NULL, NULL, info);
            }
        }
        if (rc == MH_OK && p->dead_letter) {
            char *err = json_dumps(p->dead_letter, JSON_COMPACT);
            const char *dp[] = {jobs[i].run_id, err,
                                json_string_value(json_object_get(p->dead_letter, "message"))};
            rc = mh_db_query(c,
                             "INSERT INTO dead_letters (project_id, run_id, kind, payload, "
                             "attempts, last_error) VALUES (mh_pid(), $1, 'step', $2::jsonb, "
                             "(SELECT count(*) FROM events WHERE run_id = $1 AND type = "
                             "'http_attempt' AND node_id = ($2::jsonb->>'node')), $3)",
                             3, dp, NULL, NULL, info);
            free(err);
        }
    }
    json_decref(row);
    return rc;
}

/* Remembers a claimed job whose outcome could not be recorded because the database was
 * unreachable: take_back hands it back once the database answers again. */
static void orphan_add(struct mh_engine_runtime *rt, const struct job *j)
{
    pthread_mutex_lock(&rt->mu);
    json_array_append_new(rt->orphans, json_pack("[I, i]", (json_int_t)j->id, j->attempts));
    pthread_mutex_unlock(&rt->mu);
}

/* Keeps a report (an http_call's outcome) that could not be recorded because the database was
 * unreachable, to apply it again once it answers, rather than send the call again when its job
 * comes due at the call's timeout. The report's event moves to a copy: `r` stays its caller's. */
static void report_park(struct mh_engine_runtime *rt, struct report *r)
{
    struct report *copy = mh_xmalloc(sizeof(*copy));
    *copy = *r;
    r->has_event = false;
    pthread_mutex_lock(&rt->mu);
    copy->next = rt->parked;
    rt->parked = copy;
    pthread_mutex_unlock(&rt->mu);
}

/* Hands back the remembered jobs (those still leased from the same claim) and queues the
 * parked reports again, or keeps both for the next try when the database is still away. */
static void take_back(struct mh_engine_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    json_t *mine = rt->orphans;
    rt->orphans = json_array();
    struct report *parked = rt->parked;
    rt->parked = NULL;
    pthread_mutex_unlock(&rt->mu);
    struct mh_buf ids, attempts;
    mh_buf_init(&ids, 1024 * 1024);
    mh_buf_init(&attempts, 1024 * 1024);
    enum mh_err rc = mh_buf_append_str(&ids, "{");
    if (rc == MH_OK)
        rc = mh_buf_append_str(&attempts, "{");
    size_t i;
    json_t *o;
    json_array_foreach(mine, i, o)
    {
        if (rc == MH_OK)
            rc = mh_buf_printf(&ids, "%s%lld", i ? "," : "",
                               (long long)json_integer_value(json_array_get(o, 0)));
        if (rc == MH_OK)
            rc = mh_buf_printf(&attempts, "%s%lld", i ? "," : "",
                               (long long)json_integer_value(json_array_get(o, 1)));
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&ids, "}");
    if (rc == MH_OK)
        rc = mh_buf_append_str(&attempts, "}");
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    if (rc == MH_OK && (rc = mh_db_acquire(rt->opts.pool, &c, NULL)) == MH_OK) {
        const char *params[] = {rt->worker_id, mh_buf_str(&ids), mh_buf_str(&attempts)};
        rc = mh_db_query_row(c, "SELECT mh_release_jobs($1, $2::bigint[], $3::int[]) AS n", 3,
                             params, &row, NULL);
    }
    mh_db_release(rt->opts.pool, c);
    mh_buf_cleanup(&ids);
    mh_buf_cleanup(&attempts);
    size_t nparked = 0;
    for (struct report *r = parked; r; r = r->next)
        nparked++;
    if (rc == MH_OK) {
        mh_log(MH_LOG_INFO, "engine",
               "database back: took back %lld of %zu job(s) and %zu call outcome(s) that could "
               "not be recorded",
               (long long)json_integer_value(json_object_get(row, "n")), json_array_size(mine),
               nparked);
        json_decref(row);
        json_decref(mine);
        while (parked) {
            struct report *next = parked->next;
            push_report(rt, parked);
            parked = next;
        }
        return;
    }
    /* The database is still away (or the list is too long: the lease brings those back). */
    pthread_mutex_lock(&rt->mu);
    if (rc == MH_EUNAVAILABLE)
        json_array_extend(rt->orphans, mine);
    while (parked) {
        struct report *next = parked->next;
        parked->next = rt->parked;
        rt->parked = parked;
        parked = next;
    }
    pthread_mutex_unlock(&rt->mu);
    json_decref(mine);
}

/* Gives a job whose processing failed another chance later, or dead-letters it. */
static void job_failed(struct mh_engine_runtime *rt, const struct job *j, const char *why)
{
    struct mh_db_conn *c = NULL;
    if (mh_db_acquire(rt->opts.pool, &c, NULL) != MH_OK) {
        orphan_add(rt, j);
        return;
    }
    char delay[32];
    int64_t cap = JOB_RETRY_BASE_MS << (j->attempts < 16 ? j->attempts : 16);
    if (cap > JOB_RETRY_MAX_MS)
        cap = JOB_RETRY_MAX_MS;
    snprintf(delay, sizeof(delay), "%lld", (long long)(random_u64(NULL) % (uint64_t)cap));
    const char *params[] = {j->run_id, delay, why};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool is_dead = false;
    long failed_runs = 0;
    enum mh_err rc = mh_db_begin(c, NULL, j->project_id, &info);
    if (rc == MH_OK) {
        if (j->attempts >= j->max_attempts) {
            rc = mh_db_query(c,
                             "WITH d AS (DELETE FROM jobs WHERE run_id = $1 RETURNING *), "
                             "l AS (INSERT INTO dead_letters (project_id, run_id, kind, payload, "
                             "attempts, last_error) SELECT project_id, run_id, kind, payload, "
                             "attempts, $2 FROM d RETURNING 1) "
                             "UPDATE runs SET status = 'failed', error = $2, finished_at = now(), "
                             "feed_xid = pg_current_xact_id() WHERE id = $1 AND status IN "
                             "('queued', 'running') RETURNING pg_notify('" MH_ENGINE_STREAMS_CHANNEL
                             "', project_id::text || ' x' || pg_current_xact_id()::text)",
                             2, (const char *[]){j->run_id, why}, NULL, &failed_runs, &info);
            mh_log(MH_LOG_ERROR, "engine", "run %s: job dead-lettered after %d attempts: %s",
                   j->run_id, j->attempts, why);
            is_dead = true;
        } else {
            rc = mh_db_query(c,
                             "UPDATE jobs SET run_at = now() + $2::bigint * interval '1 "
                             "millisecond', lease_owner = NULL, lease_until = NULL, last_error = "
                             "$3 WHERE run_id = $1",
                             3, params, NULL, NULL, &info);
        }
        if (rc == MH_OK)
            rc = mh_db_commit(c, &info);
    }
    if (rc == MH_OK && is_dead) {
        mh_metrics_dead_letter(MH_MDL_JOB);
        if (failed_runs > 0)
            mh_metrics_run_finished(MH_MR_FAILED);
    }
    if (rc != MH_OK)
        mh_log(MH_LOG_ERROR, "engine", "run %s: recording the job's failure failed: %s (%s)",
               j->run_id, info.message, info.kind);
    mh_db_release(rt->opts.pool, c);
    if (rc == MH_EUNAVAILABLE)
        orphan_add(rt, j);
}

/* After a commit: forgets the report's call and sends what the decisions asked for. */
static void after_commit(struct mh_engine_runtime *rt, const struct job *j, struct report *rep,
                         struct plan *p)
{
    if (rep)
        inflight_forget(rt, rep->key);
    for (size_t i = 0; i < p->res.n_actions; i++)
        if (p->res.actions[i].kind == MH_ACTION_HTTP)
            dispatch_http(rt, j, &p->res.actions[i]);
    for (size_t i = 0; i < p->pending.n_actions; i++)
        if (p->pending.actions[i].kind == MH_ACTION_HTTP)
            dispatch_http(rt, j, &p->pending.actions[i]);
}

/*
 * Advances `n` runs of one project in ONE transaction: their rows and logs in one query, a
 * decision each, then one statement for all their writes and one commit. Pure steps that follow
 * each other already cost no commit of their own; batching spares most of the rest.
 */
static enum mh_err advance_batch(struct mh_engine_runtime *rt, const struct job *jobs,
                                 struct report **reps, struct plan *plans, int n,
                                 struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char *ids = uuid_array(jobs, NULL, n, false);
    enum mh_err rc = mh_db_acquire(rt->opts.pool, &c, info);
    if (rc == MH_OK)
        rc = mh_db_begin_generic(c, NULL, jobs[0].project_id, info);
    if (rc != MH_OK)
        goto out;
    const char *params[] = {ids};
    rc = mh_db_query(
        c,
        "SELECT r.id, r.status, r.version_id, r.created_at::text AS created_at, coalesce((SELECT "
        "json_agg(json_build_object('seq', e.seq, 'type', e.type, 'node_id', e.node_id, "
        "'attempt', e.attempt, 'payload', e.payload, 'at_ms', (extract(epoch FROM e.at) * "
        "1000)::bigint, 'hash', encode(e.hash, 'hex')) ORDER BY e.seq) FROM events e WHERE "
        "e.run_id = r.id), '[]') AS events FROM runs r WHERE r.id = ANY($1::uuid[]) ORDER BY "
        "r.id FOR UPDATE OF r",
        1, params, &rows, NULL, info);
    for (int i = 0; i < n && rc == MH_OK; i++) {
        json_t *row = NULL, *r;
        size_t k;
        json_array_foreach(rows, k, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), jobs[i].run_id) == 0)
                row = r;
        }
        rc = decide(rt, c, row, reps ? reps[i] : NULL, &plans[i], info);
    }
    char *notes = NULL, xid[24] = "";
    if (rc == MH_OK)
        rc = write_plans(c, jobs, plans, n, &notes, xid, info);
    if (rc == MH_OK)
        rc = mh_db_commit(c, info);
    /* Live streams hear of the new events after COMMIT, in a statement of their own with
     * synchronous_commit off: a NOTIFY inside the batch would serialise the workers' commits
     * (PostgreSQL commits notifying transactions one at a time, through their WAL flush). A
     * notification lost to a crash here costs a stream only its wake-up. */
    if (rc == MH_OK && notes && strcmp(notes, "{}") != 0 && xid[0]) {
        const char *np[] = {notes, xid};
        struct mh_err_info ni = MH_ERR_INFO_INIT;
        if (mh_db_query(c,
                        "SELECT set_config('synchronous_commit', 'off', true), "
                        "count(pg_notify('" MH_ENGINE_STREAMS_CHANNEL
                        "', x || ' x' || $2)) FROM unnest($1::text[]) x",
                        2, np, NULL, NULL, &ni) != MH_OK)
            mh_log(MH_LOG_DEBUG, "engine", "streams not notified: %s", ni.message);
    }
    free(notes);
out:
    json_decref(rows);
    free(ids);
    mh_db_release(rt->opts.pool, c);
    return rc;
}

/*
 * Runs a batch; when it fails, every run is redone on its own (so one bad run cannot hold the
 * others back), retrying when another worker advanced a run first.
 */
static void process_batch(struct mh_engine_runtime *rt, struct job *jobs, struct report **reps,
                          int n)
{
    struct plan *plans = mh_xcalloc((size_t)n, sizeof(*plans));
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = MH_ECONFLICT;
    for (int attempt = 0; attempt < (n == 1 ? 5 : 1) && rc == MH_ECONFLICT; attempt++) {
        for (int i = 0; i < n; i++)
            plan_cleanup(&plans[i]);
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        rc = advance_batch(rt, jobs, reps, plans, n, &info);
    }
    for (int i = 0; i < n; i++) {
        if (rc == MH_OK) {
            count_plan(&plans[i]);
            mh_log(MH_LOG_DEBUG, "engine", "run %s: %zu new event(s), status %s", jobs[i].run_id,
                   plans[i].res.n_events, mh_engine_run_status_name(plans[i].res.status));
            after_commit(rt, &jobs[i], reps ? reps[i] : NULL, &plans[i]);
        }
        plan_cleanup(&plans[i]);
    }
    free(plans);
    if (rc == MH_OK)
        return;
    if (n > 1) {
        for (int i = 0; i < n; i++)
            process_batch(rt, &jobs[i], reps ? &reps[i] : NULL, 1);
        return;
    }
    mh_log(MH_LOG_WARN, "engine", "run %s: advance failed: %s (%s)", jobs[0].run_id, info.message,
           info.kind);
    /* The reason becomes the run's error, which the API shows: PostgreSQL's text stays in the
     * log line above. */
    const char *why = mh_db_err_is_db(&info) ? "database error (the server log has the detail)"
                      : info.message[0]      ? info.message
                                             : mh_strerror(rc);
    if (reps && reps[0] && rc == MH_EUNAVAILABLE)
        report_park(rt, reps[0]); /* applied again once the database answers */
    else if (reps && reps[0])
        inflight_forget(rt, reps[0]->key); /* the job's recovery wake sends the call again */
    else if (rc == MH_EUNAVAILABLE)
        orphan_add(rt, &jobs[0]); /* not the job's fault: no attempt spent on it */
    else
        job_failed(rt, &jobs[0], why);
}

/* Runs `jobs` (and their reports) grouped by project, one transaction per group. */
static void process_all(struct mh_engine_runtime *rt, struct job *jobs, struct report **reps, int n)
{
    bool *done = mh_xcalloc((size_t)(n ? n : 1), sizeof(bool));
    struct job *group = mh_xcalloc((size_t)(n ? n : 1), sizeof(*group));
    struct report **greps = reps ? mh_xcalloc((size_t)n, sizeof(*greps)) : NULL;
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        int g = 0;
        for (int k = i; k < n; k++) {
            if (done[k] || strcmp(jobs[k].project_id, jobs[i].project_id) != 0)
                continue;
            /* One run appears once per transaction: a second report waits for the next. */
            bool dup = false;
            for (int x = 0; x < g && !dup; x++)
                dup = strcmp(group[x].run_id, jobs[k].run_id) == 0;
            if (dup)
                continue;
            group[g] = jobs[k];
            if (greps)
                greps[g] = reps[k];
            g++;
            done[k] = true;
        }
        process_batch(rt, group, greps, g);
    }
    free(done);
    free(group);
    free(greps);
}

/* ---- Threads ------------------------------------------------------------------------------ */

static int claim(struct mh_engine_runtime *rt, struct job *jobs, int max)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char limit[16], lease[16];
    snprintf(limit, sizeof(limit), "%d", max);
    snprintf(lease, sizeof(lease), "%d", rt->opts.lease_ms);
    const char *params[] = {rt->worker_id, limit, lease};
    int n = 0;
    if (mh_db_acquire(rt->opts.pool, &c, NULL) == MH_OK &&
        mh_db_query(c,
                    "SELECT id, project_id, run_id, attempts, max_attempts FROM "
                    "mh_claim_jobs($1, $2::int, $3::int)",
                    3, params, &rows, NULL, NULL) == MH_OK) {
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if (n == max || !json_is_string(json_object_get(r, "run_id")))
                continue;
            jobs[n].id = json_integer_value(json_object_get(r, "id"));
            snprintf(jobs[n].project_id, 37, "%s",
                     json_string_value(json_object_get(r, "project_id")));
            snprintf(jobs[n].run_id, 37, "%s", json_string_value(json_object_get(r, "run_id")));
            jobs[n].attempts = (int)json_integer_value(json_object_get(r, "attempts"));
            jobs[n].max_attempts = (int)json_integer_value(json_object_get(r, "max_attempts"));
            n++;
        }
    }
    json_decref(rows);
    mh_db_release(rt->opts.pool, c);
    return n;
}

static void *worker_main(void *arg)
{
    struct mh_engine_runtime *rt = arg;
    int max = rt->opts.batch;
    struct job *jobs = mh_xcalloc((size_t)max, sizeof(*jobs));
    struct report **reps = mh_xcalloc((size_t)max, sizeof(*reps));
    for (;;) {
        pthread_mutex_lock(&rt->mu);
        if (rt->is_stopping) {
            pthread_mutex_unlock(&rt->mu);
            break;
        }
        int nrep = 0;
        struct report *rep;
        while (nrep < max && (rep = pop_report(rt)) != NULL)
            reps[nrep++] = rep;
        unsigned gen = rt->wake_gen;
        bool has_unsettled = json_array_size(rt->orphans) > 0 || rt->parked != NULL;
        pthread_mutex_unlock(&rt->mu);
        if (has_unsettled)
            take_back(rt);
        if (nrep > 0) {
            for (int i = 0; i < nrep; i++) {
                memset(&jobs[i], 0, sizeof(jobs[i]));
                memcpy(jobs[i].run_id, reps[i]->run_id, sizeof(jobs[i].run_id));
                memcpy(jobs[i].project_id, reps[i]->project_id, sizeof(jobs[i].project_id));
            }
            process_all(rt, jobs, reps, nrep);
            for (int i = 0; i < nrep; i++)
                report_free(reps[i]);
            continue;
        }
        int n = claim(rt, jobs, max);
        if (n > 0) {
            process_all(rt, jobs, NULL, n);
            continue;
        }
        pthread_mutex_lock(&rt->mu);
        if (!rt->is_stopping && rt->wake_gen == gen && rt->reports_head == NULL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += rt->opts.poll_ms / 1000;
            ts.tv_nsec += (long)(rt->opts.poll_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&rt->cv, &rt->mu, &ts);
        }
        pthread_mutex_unlock(&rt->mu);
    }
    free(jobs);
    free(reps);
    return NULL;
}

static void local_wake(struct mh_engine_runtime *rt)
{
    pthread_mutex_lock(&rt->mu);
    rt->wake_gen++;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
}

/* Listens for other instances' wake-ups and sends ours, at most one NOTIFY per round. */
static void *listener_main(void *arg)
{
    struct mh_engine_runtime *rt = arg;
    struct mh_db_conn *c = NULL;
    int64_t partitions_checked = mh_clock_now_ms();
    while (!atomic_load(&rt->is_stopping)) {
        if (c == NULL) {
            if (mh_db_connect(rt->opts.listen_db_url, &c, NULL) != MH_OK ||
                mh_db_listen(c, NOTIFY_CHANNEL, NULL) != MH_OK) {
                mh_db_close(c);
                c = NULL;
                usleep(500 * 1000);
                continue;
            }
        }
        if (atomic_exchange(&rt->notify_pending, false))
            (void)!mh_db_exec_script(c, "NOTIFY " NOTIFY_CHANNEL, NULL);
        /* A long-running server keeps the event log's monthly partitions ahead of time. */
        if (mh_clock_now_ms() - partitions_checked > PARTITION_CHECK_MS) {
            partitions_checked = mh_clock_now_ms();
            (void)!mh_db_exec_script(c, "SELECT mh_ensure_event_partitions(3)", NULL);
        }
        bool got = false;
        if (mh_db_wait_notify(c, 20, &got, NULL) != MH_OK) {
            mh_db_close(c);
            c = NULL;
            continue;
        }
        if (got)
            local_wake(rt);
    }
    mh_db_close(c);
    return NULL;
}

enum mh_err mh_engine_runtime_start(const struct mh_engine_runtime_opts *opts,
                                    struct mh_engine_runtime **out, struct mh_err_info *info)
{
    struct mh_engine_runtime *rt = mh_xcalloc(1, sizeof(*rt));
    rt->opts = *opts;
    if (rt->opts.batch < 1)
        rt->opts.batch = 1;
    if (rt->opts.poll_ms < 10)
        rt->opts.poll_ms = 10;
    pthread_mutex_init(&rt->mu, NULL);
    pthread_cond_init(&rt->cv, NULL);
    rt->inflight = json_object();
    rt->privacy = json_object();
    rt->orphans = json_array();
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    snprintf(rt->worker_id, sizeof(rt->worker_id), "%.40s:%d:%08llx", host, (int)getpid(),
             (unsigned long long)(random_u64(NULL) & 0xffffffffu));
    struct mh_outbound_opts oo;
    mh_outbound_opts_init(&oo);
    if (opts->max_response_bytes)
        oo.max_response_bytes = opts->max_response_bytes;
    if (opts->max_in_flight)
        oo.max_in_flight = opts->max_in_flight;
    if (opts->breaker_failures)
        oo.breaker_failures = opts->breaker_failures;
    if (opts->breaker_open_ms)
        oo.breaker_open_ms = opts->breaker_open_ms;
    if (opts->max_in_flight_per_project)
        oo.max_in_flight_per_tenant = opts->max_in_flight_per_project;
    oo.allow_private_targets = opts->allow_private_targets;
    oo.allowlist = opts->outbound_allowlist;
    struct mh_err_info why = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_outbound_allowlist_check(opts->outbound_allowlist, NULL, &why);
    if (rc == MH_OK &&
        (rc = mh_breakers_start(opts->pool, rt->worker_id, &rt->breakers)) == MH_OK) {
        oo.on_breaker = mh_breakers_note;
        oo.on_breaker_ctx = rt->breakers;
    }
    if (rc == MH_OK)
        rc = mh_outbound_create(&oo, &rt->out);
    if (rc != MH_OK) {
        mh_breakers_stop(rt->breakers);
        json_decref(rt->inflight);
        json_decref(rt->privacy);
        json_decref(rt->orphans);
        free(rt);
        if (why.message[0])
            return mh_err_set(info, rc, "config", -1, "outbound_allowlist: %s", why.message);
        return mh_err_set(info, rc, "outbound", -1, "could not start the HTTP executor");
    }
    rt->opts.outbound_allowlist = NULL; /* borrowed for the start only; the executor has a copy */
    if (opts->allow_private_targets)
        mh_log(MH_LOG_WARN, "engine",
               "allow_private_targets is on: http_call may reach loopback, private, link-local "
               "and cloud metadata addresses. Development only; in production leave it off and "
               "name internal targets in outbound_allowlist or a project's allow-list");
    rt->nthreads = opts->workers;
    rt->threads = mh_xcalloc((size_t)(rt->nthreads ? rt->nthreads : 1), sizeof(pthread_t));
    for (int i = 0; i < rt->nthreads; i++)
        pthread_create(&rt->threads[i], NULL, worker_main, rt);
    if (opts->listen_db_url && opts->listen_db_url[0]) {
        rt->has_listener = true;
        pthread_create(&rt->listener, NULL, listener_main, rt);
    }
    mh_log(MH_LOG_INFO, "engine", "runtime started: %d worker(s), batch %d, worker id %s",
           rt->nthreads, rt->opts.batch, rt->worker_id);
    *out = rt;
    return MH_OK;
}

void mh_engine_runtime_wake(struct mh_engine_runtime *rt)
{
    if (rt == NULL)
        return;
    local_wake(rt);
    atomic_store(&rt->notify_pending, true);
}

enum mh_err mh_engine_runtime_cancel(struct mh_engine_runtime *rt, const char *project_id,
                                     const char *run_id, const char *reason)
{
    if (rt == NULL)
        return MH_EUNAVAILABLE;
    struct report *r = mh_xcalloc(1, sizeof(*r));
    snprintf(r->run_id, sizeof(r->run_id), "%s", run_id);
    snprintf(r->project_id, sizeof(r->project_id), "%s", project_id);
    if (mh_engine_event_cancel(reason, mh_clock_now_ms(), &r->ev) != MH_OK) {
        free(r);
        return MH_EINVAL;
    }
    r->has_event = true;
    push_report(rt, r);
    return MH_OK;
}

void mh_engine_runtime_stop(struct mh_engine_runtime *rt)
{
    if (rt == NULL)
        return;
    pthread_mutex_lock(&rt->mu);
    rt->is_stopping = true;
    pthread_cond_broadcast(&rt->cv);
    pthread_mutex_unlock(&rt->mu);
    for (int i = 0; i < rt->nthreads; i++)
        pthread_join(rt->threads[i], NULL);
    if (rt->has_listener)
        pthread_join(rt->listener, NULL);
    /* In-flight calls are canceled; their jobs come back on another worker after recovery. */
    mh_outbound_destroy(rt->out);
    mh_breakers_stop(rt->breakers); /* after the executor: it reports the transitions */
    struct report *r;
    while ((r = pop_report(rt)) != NULL)
        report_free(r);
    while ((r = rt->parked) != NULL) {
        rt->parked = r->next;
        report_free(r);
    }
    struct mh_db_conn *c = NULL;
    const char *params[] = {rt->worker_id};
    if (mh_db_acquire(rt->opts.pool, &c, NULL) == MH_OK)
        (void)!mh_db_query(c, "SELECT mh_release_leases($1)", 1, params, NULL, NULL, NULL);
    mh_db_release(rt->opts.pool, c);
    for (int i = 0; i < WF_CACHE_SIZE; i++)
        mh_engine_wf_unref(rt->cache[i].wf);
    json_decref(rt->inflight);
    json_decref(rt->privacy);
    json_decref(rt->orphans);
    free(rt->threads);
    pthread_cond_destroy(&rt->cv);
    pthread_mutex_destroy(&rt->mu);
    mh_log(MH_LOG_INFO, "engine", "runtime stopped");
    free(rt);
}
