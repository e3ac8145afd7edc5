/* SPDX-License-Identifier: MIT */
/*
 * The alerts thread: every eval_interval_ms it asks PostgreSQL to evaluate the due rules
 * (mh_alerts_evaluate, migration 0024), which opens and resolves alerts and queues their
 * deliveries as jobs in the same transaction; then it claims due delivery jobs, signs and sends
 * the webhooks through an outbound executor of its own (the http_call's SSRF rules and
 * breakers, separate slots so alerts never wait behind a busy workflow) and records each
 * attempt. A failed attempt that may succeed later (5xx, 408, 429, timeouts, connection
 * errors, an open breaker) reschedules the job with exponential backoff and full jitter; a
 * crash leaves the job leased until its lease runs out, then another server sends it.
 */
#include "alerts/alerts.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "runtime/store.h"
#include "outbound/outbound.h"
#include "secrets/secrets.h"

#define CLAIM_BATCH     16
#define EVAL_BATCH      200
#define SEND_TIMEOUT_MS 10000
#define LEASE_MS        (SEND_TIMEOUT_MS + 20000)
#define RETRY_BASE_MS   1000
#define RETRY_MAX_MS    (15 * 60 * 1000)

struct result {
    struct result *next;
    long long job_id;
    char project_id[37];
    char delivery_id[37];
    int attempts;
    int max_attempts;
    int status;
    char error[600];
    int64_t duration_ms;
    bool is_canceled;
};

struct mh_alerts {
    struct mh_alerts_opts opts;
    char *allowlist;
    char worker_id[96];
    struct mh_outbound *out;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
    unsigned wake_gen;
    struct result *results;
    int in_flight;
};

struct job {
    long long id;
    char project_id[37];
    char delivery_id[37];
    int attempts;
    int max_attempts;
};

static void *alerts_main(void *arg);
static void deliver(struct mh_alerts *a, const struct job *j);
static void record(struct mh_alerts *a, struct result *r);

void mh_alerts_vault_name(const char *channel_id, char out[MH_ALERTS_VAULT_NAME_MAX])
{
    snprintf(out, MH_ALERTS_VAULT_NAME_MAX, "alert_channel:%s", channel_id);
}

enum mh_err mh_alerts_start(const struct mh_alerts_opts *opts, struct mh_alerts **out,
                            struct mh_err_info *info)
{
    struct mh_alerts *a = mh_xcalloc(1, sizeof(*a));
    a->opts = *opts;
    if (a->opts.poll_ms < 10)
        a->opts.poll_ms = 1000;
    a->allowlist = mh_xstrdup(opts->outbound_allowlist ? opts->outbound_allowlist : "");
    a->opts.outbound_allowlist = a->allowlist;
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    uint32_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint32_t)mh_clock_now_ms();
    snprintf(a->worker_id, sizeof(a->worker_id), "%.40s:%d:alerts:%08x", host, (int)getpid(),
             (unsigned)r);
    struct mh_outbound_opts oo;
    mh_outbound_opts_init(&oo);
    oo.max_in_flight = 64;
    oo.allow_private_targets = opts->allow_private_targets;
    oo.allowlist = a->allowlist;
    enum mh_err rc = mh_outbound_create(&oo, &a->out);
    if (rc != MH_OK) {
        free(a->allowlist);
        free(a);
        return mh_err_set(info, rc, "outbound", -1, "alerts: could not start the HTTP executor");
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    if (pthread_create(&a->thread, NULL, alerts_main, a) != 0) {
        mh_outbound_destroy(a->out);
        pthread_cond_destroy(&a->cv);
        pthread_mutex_destroy(&a->mu);
        free(a->allowlist);
        free(a);
        return mh_err_set(info, MH_EUNAVAILABLE, "thread", -1, "alerts: no thread");
    }
    mh_log(MH_LOG_INFO, "alerts", "alerts started: rules evaluated every %d ms%s",
           opts->eval_interval_ms, opts->eval_interval_ms ? "" : " (evaluator off)");
    *out = a;
    return MH_OK;
}

void mh_alerts_wake(struct mh_alerts *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->wake_gen++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

void mh_alerts_stop(struct mh_alerts *a)
{
    if (a == NULL)
        return;
    pthread_mutex_lock(&a->mu);
    a->is_stopping = true;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thread, NULL);
    mh_outbound_destroy(a->out); /* cancels what is in flight: results marked canceled */
    struct result *r = a->results;
    while (r) {
        struct result *next = r->next;
        free(r);
        r = next;
    }
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a->allowlist);
    free(a);
}

/* ---- Evaluation and claiming -------------------------------------------------------------- */

static void evaluate(struct mh_alerts *a)
{
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    char every[16], limit[16];
    snprintf(every, sizeof(every), "%d", a->opts.eval_interval_ms);
    snprintf(limit, sizeof(limit), "%d", EVAL_BATCH);
    const char *p2[] = {limit, every};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    /* The same session each round when it is free: the evaluator's plans stay warm. */
    if (mh_db_acquire_affine(a->opts.pool, a, &c, &info) == MH_OK &&
        mh_db_query_row(c, "SELECT mh_alerts_evaluate($1::int, $2::int) AS n", 2, p2, &row,
                        &info) == MH_OK) {
        json_int_t n = json_integer_value(json_object_get(row, "n"));
        if (n > 0)
            mh_log(MH_LOG_INFO, "alerts", "%lld alert notification(s) queued", (long long)n);
    } else if (info.message[0]) {
        mh_log(MH_LOG_WARN, "alerts", "rule evaluation failed: %s", info.message);
    }
    json_decref(row);
    mh_db_release(c);
}

static int claim(struct mh_alerts *a, struct job *jobs, int max)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char limit[16], lease[16];
    snprintf(limit, sizeof(limit), "%d", max);
    snprintf(lease, sizeof(lease), "%d", LEASE_MS);
    const char *params[] = {a->worker_id, limit, lease};
    int n = 0;
    if (mh_db_acquire(a->opts.pool, &c, NULL) == MH_OK &&
        mh_db_query(c,
                    "SELECT id, project_id, delivery_id, attempts, max_attempts FROM "
                    "mh_claim_alert_jobs($1, $2::int, $3::int)",
                    3, params, &rows, NULL, NULL) == MH_OK) {
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if (n == max)
                break;
            jobs[n].id = json_integer_value(json_object_get(r, "id"));
            snprintf(jobs[n].project_id, 37, "%s",
                     json_string_value(json_object_get(r, "project_id")));
            const char *d = json_string_value(json_object_get(r, "delivery_id"));
            snprintf(jobs[n].delivery_id, 37, "%s", d ? d : "");
            jobs[n].attempts = (int)json_integer_value(json_object_get(r, "attempts"));
            jobs[n].max_attempts = (int)json_integer_value(json_object_get(r, "max_attempts"));
            n++;
        }
    }
    json_decref(rows);
    mh_db_release(c);
    return n;
}

static void *alerts_main(void *arg)
{
    struct mh_alerts *a = arg;
    struct job jobs[CLAIM_BATCH];
    int64_t next_eval = 0;
    for (;;) {
        pthread_mutex_lock(&a->mu);
        if (a->is_stopping) {
            pthread_mutex_unlock(&a->mu);
            break;
        }
        struct result *done = a->results;
        a->results = NULL;
        unsigned gen = a->wake_gen;
        pthread_mutex_unlock(&a->mu);
        while (done) {
            struct result *next = done->next;
            record(a, done);
            free(done);
            done = next;
        }
        int64_t now = mh_clock_mono_ms();
        if (a->opts.eval_interval_ms > 0 && now >= next_eval) {
            evaluate(a);
            next_eval = now + a->opts.eval_interval_ms;
        }
        int n = claim(a, jobs, CLAIM_BATCH);
        for (int i = 0; i < n; i++)
            deliver(a, &jobs[i]);
        if (n == CLAIM_BATCH)
            continue;
        int64_t wait_ms = a->opts.poll_ms;
        if (a->opts.eval_interval_ms > 0) {
            int64_t until_eval = next_eval - mh_clock_mono_ms();
            if (until_eval < wait_ms)
                wait_ms = until_eval > 0 ? until_eval : 0;
        }
        pthread_mutex_lock(&a->mu);
        if (!a->is_stopping && a->wake_gen == gen && a->results == NULL && wait_ms > 0) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        pthread_mutex_unlock(&a->mu);
    }
    return NULL;
}

/* ---- Delivery ----------------------------------------------------------------------------- */

struct send_ctx {
    struct mh_alerts *a;
    struct job job;
};

static void on_sent(void *ctx, const struct mh_outbound_response *resp)
{
    struct send_ctx *s = ctx;
    struct mh_alerts *a = s->a;
    struct result *r = mh_xcalloc(1, sizeof(*r));
    r->job_id = s->job.id;
    memcpy(r->project_id, s->job.project_id, sizeof(r->project_id));
    memcpy(r->delivery_id, s->job.delivery_id, sizeof(r->delivery_id));
    r->attempts = s->job.attempts;
    r->max_attempts = s->job.max_attempts;
    r->status = resp->status;
    r->duration_ms = resp->duration_ms;
    if (resp->error_kind) {
        snprintf(r->error, sizeof(r->error), "%s: %s", resp->error_kind, resp->error_message);
        r->is_canceled = strcmp(resp->error_kind, "canceled") == 0;
    } else if (resp->status < 200 || resp->status > 299) {
        snprintf(r->error, sizeof(r->error), "the receiver answered %d", resp->status);
    }
    free(s);
    pthread_mutex_lock(&a->mu);
    r->next = a->results;
    a->results = r;
    a->wake_gen++;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* Full jitter: uniformly in [0, min(max, base * 2^(attempt - 1))]. */
static int64_t backoff_ms(int attempt)
{
    int64_t cap = RETRY_BASE_MS;
    for (int i = 1; i < attempt && cap < RETRY_MAX_MS; i++)
        cap *= 2;
    if (cap > RETRY_MAX_MS)
        cap = RETRY_MAX_MS;
    uint64_t r = 0;
    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
        r = (uint64_t)mh_clock_now_ms();
    return (int64_t)(r % (uint64_t)(cap + 1));
}

static bool is_retryable(const struct result *r)
{
    if (r->status == 0)
        return strncmp(r->error, "invalid_request", 15) != 0 && strncmp(r->error, "too_big", 7);
    return r->status >= 500 || r->status == 408 || r->status == 429;
}

static bool is_final_outcome(const struct result *r, bool *is_ok)
{
    *is_ok = r->status >= 200 && r->status <= 299 && r->error[0] == '\0';
    return *is_ok || !is_retryable(r) || r->attempts >= r->max_attempts;
}

/*
 * Writes an attempt's outcome in the open transaction on `c` (of the job's project): the
 * attempt row, the delivery's state, and the job deleted (delivered, or failed for good) or
 * rescheduled with backoff.
 */
static enum mh_err write_outcome_on(struct mh_db_conn *c, const struct result *r,
                                    const char *run_id, struct mh_err_info *info)
{
    bool is_ok = false;
    bool is_final = is_final_outcome(r, &is_ok);
    char status[16], duration[24], job[24], wake[24];
    snprintf(status, sizeof(status), "%d", r->status);
    snprintf(duration, sizeof(duration), "%lld", (long long)r->duration_ms);
    snprintf(job, sizeof(job), "%lld", r->job_id);
    snprintf(wake, sizeof(wake), "%lld", (long long)(is_final ? 0 : backoff_ms(r->attempts)));
    const char *params[] = {r->delivery_id,
                            r->status ? status : NULL,
                            r->error[0] ? r->error : NULL,
                            duration,
                            is_ok      ? "delivered"
                            : is_final ? "failed"
                                       : "pending",
                            job,
                            is_final ? "true" : "false",
                            wake,
                            run_id};
    return mh_db_query(
        c,
        "WITH d AS (UPDATE alert_deliveries SET attempts = attempts + 1, last_status = "
        "$2::int, last_error = $3, status = $5, run_id = coalesce($9::uuid, run_id), "
        "finished_at = CASE WHEN $5 = 'pending' THEN NULL ELSE now() END WHERE id = $1 "
        "RETURNING id, attempts), "
        "t AS (INSERT INTO alert_delivery_attempts (project_id, delivery_id, attempt, status, "
        "error, duration_ms) SELECT mh_pid(), d.id, d.attempts, $2::int, $3, $4::bigint FROM "
        "d RETURNING 1), "
        "x AS (DELETE FROM jobs WHERE id = $6::bigint AND $7::boolean RETURNING 1) "
        "UPDATE jobs SET run_at = now() + $8::bigint * interval '1 millisecond', lease_owner "
        "= NULL, lease_until = NULL, last_error = $3 WHERE id = $6::bigint AND NOT "
        "$7::boolean",
        9, params, NULL, NULL, info);
}

static void log_outcome(const struct result *r)
{
    bool is_ok = false;
    bool is_final = is_final_outcome(r, &is_ok);
    if (!is_ok)
        mh_log(MH_LOG_INFO, "alerts", "delivery %s attempt %d: %s%s", r->delivery_id, r->attempts,
               r->error, is_final ? " (given up)" : " (will retry)");
}

/* write_outcome_on in a transaction of its own. */
static enum mh_err write_outcome(struct mh_alerts *a, const struct result *r,
                                 struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    enum mh_err rc = mh_db_acquire(a->opts.pool, &c, info);
    if (rc == MH_OK)
        rc = mh_db_begin(c, NULL, r->project_id, info);
    if (rc == MH_OK)
        rc = write_outcome_on(c, r, NULL, info);
    if (rc == MH_OK)
        rc = mh_db_commit(c, info);
    mh_db_release(c);
    if (rc == MH_OK)
        log_outcome(r);
    return rc;
}

static void record(struct mh_alerts *a, struct result *r)
{
    if (r->is_canceled)
        return; /* shutting down: the lease brings the job back */
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (write_outcome(a, r, &info) != MH_OK)
        mh_log(MH_LOG_WARN, "alerts",
               "delivery %s: outcome not recorded (%s); it is sent again after its lease",
               r->delivery_id, info.message);
}

/* A delivery that cannot be attempted (its channel or workflow is gone): recorded as failed. */
static void fail_now(struct mh_alerts *a, const struct job *j, const char *why)
{
    struct result r = {.job_id = j->id, .attempts = j->max_attempts, .max_attempts = 1};
    memcpy(r.project_id, j->project_id, sizeof(r.project_id));
    memcpy(r.delivery_id, j->delivery_id, sizeof(r.delivery_id));
    snprintf(r.error, sizeof(r.error), "invalid_request: %s", why);
    record(a, &r);
}

/* Error workflow: starts a run of the workflow's latest published version with the alert as its
 * trigger, in the transaction that records the delivery, so it starts exactly once. */
static void start_workflow(struct mh_alerts *a, struct mh_db_conn *c, const struct job *j,
                           json_t *row)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *wid = json_string_value(json_object_get(row, "workflow_id"));
    const char *params[] = {wid};
    json_t *ver = NULL, *trigger = NULL;
    enum mh_err rc = mh_db_query_row(c,
                                     "SELECT id, version FROM workflow_versions WHERE "
                                     "workflow_id = $1 AND state = 'published' ORDER BY version "
                                     "DESC LIMIT 1",
                                     1, params, &ver, &info);
    mh_db_rollback(c);
    if (rc == MH_ENOTFOUND) {
        fail_now(a, j, "the error workflow has no published version");
        return;
    }
    char at[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    trigger = json_pack("{s:O, s:{s:s}, s:{}, s:s}", "body", json_object_get(row, "payload"),
                        "headers", "content-type", "application/json", "query", "received_at", at);
    struct mh_run_start s = {
        .project_id = j->project_id,
        .workflow_id = wid,
        .version_id = json_string_value(json_object_get(ver, "id")),
        .version = json_integer_value(json_object_get(ver, "version")),
        .trigger = trigger,
    };
    char run_id[37] = "";
    struct result r = {
        .job_id = j->id, .attempts = j->attempts, .max_attempts = j->max_attempts, .status = 200};
    memcpy(r.project_id, j->project_id, sizeof(r.project_id));
    memcpy(r.delivery_id, j->delivery_id, sizeof(r.delivery_id));
    if (rc == MH_OK)
        rc = mh_db_begin(c, NULL, j->project_id, &info);
    if (rc == MH_OK)
        rc = mh_engine_run_create(c, &s, run_id, &info);
    /* The run and the delivery's record commit together: the workflow starts exactly once. */
    if (rc == MH_OK)
        rc = write_outcome_on(c, &r, run_id, &info);
    if (rc == MH_OK)
        rc = mh_db_commit(c, &info);
    else
        mh_db_rollback(c);
    json_decref(ver);
    json_decref(trigger);
    if (rc == MH_OK) {
        mh_engine_runtime_wake(a->opts.runtime);
        return;
    }
    mh_log(MH_LOG_WARN, "alerts", "delivery %s: the error workflow did not start: %s",
           j->delivery_id, info.message);
    r.status = 0;
    snprintf(r.error, sizeof(r.error), "the error workflow could not start (%s)",
             mh_db_err_is_db(&info) ? "database error; the server log has the detail"
                                    : info.message);
    struct mh_err_info winfo = MH_ERR_INFO_INIT;
    if (write_outcome(a, &r, &winfo) != MH_OK)
        mh_log(MH_LOG_WARN, "alerts", "delivery %s: outcome not recorded (%s)", j->delivery_id,
               winfo.message);
}

/* Signs and sends one webhook delivery; the outcome arrives in on_sent. */
static void send_webhook(struct mh_alerts *a, const struct job *j, json_t *row)
{
    const char *cid = json_string_value(json_object_get(row, "channel_id"));
    const char *sealed = json_string_value(json_object_get(row, "sealed_secret"));
    char name[MH_ALERTS_VAULT_NAME_MAX];
    mh_alerts_vault_name(cid, name);
    char *secret = NULL, *body = NULL, *sig = NULL;
    size_t secret_len = 0, key_len = 0;
    uint8_t key[MH_CRYPTO_STDWH_KEY_MAX];
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_secrets_open(mh_secrets_keyring(a->opts.secrets), j->project_id, name,
                                     sealed, &secret, &secret_len, &info);
    if (rc != MH_OK) {
        char why[300];
        snprintf(why, sizeof(why), "the channel's secret does not open (%s)", info.kind);
        fail_now(a, j, why);
        return;
    }
    rc = mh_crypto_stdwh_secret_decode(secret, key, sizeof(key), &key_len);
    mh_crypto_free_secret(secret, secret_len);
    body = json_dumps(json_object_get(row, "payload"), JSON_COMPACT);
    int64_t ts = mh_clock_now_ms() / 1000;
    struct mh_crypto_sig_key k = {.key = key, .len = key_len};
    if (rc == MH_OK && body)
        rc = mh_crypto_sig_stdwh_sign(&k, 1, j->delivery_id, ts, body, strlen(body), &sig);
    mh_crypto_wipe(key, sizeof(key));
    if (rc != MH_OK || body == NULL) {
        free(body);
        fail_now(a, j, "the notification could not be signed");
        return;
    }
    char h_id[80], h_ts[48], *h_sig = NULL;
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", j->delivery_id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
    size_t n = strlen(sig) + 32;
    h_sig = mh_xmalloc(n);
    snprintf(h_sig, n, "webhook-signature: %s", sig);
    const char *headers[] = {
        "Content-Type: application/json", "User-Agent: MeshHook-Alerts/1", h_id, h_ts, h_sig, NULL};
    const char *allow = json_string_value(json_object_get(row, "allowlist"));
    struct mh_outbound_request req = {
        .method = "POST",
        .url = json_string_value(json_object_get(row, "url")),
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = SEND_TIMEOUT_MS,
        .tenant = j->project_id,
        .allowlist = allow && allow[0] ? allow : NULL,
    };
    struct send_ctx *s = mh_xcalloc(1, sizeof(*s));
    s->a = a;
    s->job = *j;
    if (mh_outbound_submit(a->out, &req, on_sent, s) != MH_OK) {
        free(s);
        mh_log(MH_LOG_WARN, "alerts", "delivery %s: executor full; retried after its lease",
               j->delivery_id);
    }
    free(body);
    free(h_sig);
    mh_crypto_free_secret_str(sig);
}

static void deliver(struct mh_alerts *a, const struct job *j)
{
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *params[] = {j->delivery_id};
    enum mh_err rc = mh_db_acquire(a->opts.pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_begin(c, NULL, j->project_id, &info);
    if (rc == MH_OK)
        rc = mh_db_query_row(
            c,
            "SELECT d.status, d.payload, d.channel_id, ch.type, ch.url, ch.workflow_id, "
            "ch.sealed_secret, (SELECT string_agg(e, ',') FROM project_outbound o, "
            "jsonb_array_elements_text(o.allowlist) e WHERE o.project_id = d.project_id) AS "
            "allowlist FROM alert_deliveries d JOIN alert_channels ch ON ch.id = d.channel_id "
            "WHERE d.id = $1::uuid",
            1, params, &row, &info);
    if (rc == MH_ENOTFOUND ||
        (rc == MH_OK &&
         strcmp(json_string_value(json_object_get(row, "status")), "pending") != 0)) {
        /* Its channel was deleted, or it was settled already: the job has nothing to do. */
        char id[24];
        snprintf(id, sizeof(id), "%lld", j->id);
        const char *jp[] = {id};
        mh_db_rollback(c);
        if (mh_db_begin(c, NULL, j->project_id, &info) == MH_OK &&
            mh_db_query(c, "DELETE FROM jobs WHERE id = $1::bigint", 1, jp, NULL, NULL, &info) ==
                MH_OK)
            (void)!mh_db_commit(c, &info);
        goto out;
    }
    if (rc != MH_OK) {
        mh_log(MH_LOG_WARN, "alerts", "delivery %s: not loaded (%s); retried after its lease",
               j->delivery_id, info.message);
        goto out;
    }
    if (strcmp(json_string_value(json_object_get(row, "type")), "workflow") == 0) {
        start_workflow(a, c, j, row);
        goto out;
    }
    mh_db_rollback(c);
    mh_db_release(c);
    c = NULL;
    send_webhook(a, j, row);
out:
    json_decref(row);
    mh_db_release(c);
}
