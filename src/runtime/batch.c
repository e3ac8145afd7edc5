/* SPDX-License-Identifier: MIT */
/*
 * A batch: runs of one project advanced in ONE transaction. Lock their rows and load their logs
 * in one query (only what follows the log cache's copy, logcache.c), let the pure engine decide
 * each (a run's reports that arrived together in one advance), load what their http_calls need (the
 * project's settings, the secrets they name) in the same transaction, write every event, run
 * summary and job change in one statement, commit; and only then hand the calls to the send
 * pipeline (send.c). A batch that fails is redone one run at a time, so one bad run cannot hold the
 * others back; what it cannot redo goes to the queue (queue.c) as a failed job.
 */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "metrics/metrics.h"
#include "runtime/runtime_internal.h"

/* ---- Workflow cache ----------------------------------------------------------------------- */

/* A compiled published version, shared read-only by all workers (new reference). */
static enum mh_err workflow_for(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                const char *version_id, struct mh_wf **out,
                                struct mh_err_info *info)
{
    pthread_mutex_lock(&rt->mu);
    for (int i = 0; i < MH_RUNTIME__WF_CACHE_SIZE; i++) {
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
    struct mh_runtime__wf_entry *e = &rt->cache[rt->cache_next++ % MH_RUNTIME__WF_CACHE_SIZE];
    mh_engine_wf_unref(e->wf);
    snprintf(e->version_id, sizeof(e->version_id), "%s", version_id);
    e->wf = mh_engine_wf_ref(wf);
    pthread_mutex_unlock(&rt->mu);
    *out = wf;
    return MH_OK;
}

void mh_runtime__wf_cache_clear(struct mh_engine_runtime *rt)
{
    for (int i = 0; i < MH_RUNTIME__WF_CACHE_SIZE; i++) {
        mh_engine_wf_unref(rt->cache[i].wf);
        rt->cache[i].wf = NULL;
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
    struct mh_metrics_decision counted; /* counted once the batch has committed */
    /* The http_calls to send once the batch has committed, their secrets resolved: */
    struct mh_runtime__send *sends;
    size_t nsends;
    /* A respond step's answer among res.events (borrowed), looked for only while the intake
     * waits for answers (rt->respond_watch) or when an intake may wait for this run's. */
    json_t *response;
    bool is_awaited; /* the run's answer_until has not passed: an intake may wait for it */
    /* Sub-workflows (call.c): the run that called this one ("" for none), whether children were
     * started or a caller woken (wake the workers once committed), and whether children
     * still ran when this run finished (their jobs are woken in the batch's transaction, and
     * each cancels itself when it sees its caller ended). */
    char caller_run_id[37];
    bool wake_workers;
    bool cancels_children;
    /* The run's log (logcache.c): a copy of the cached one taken before the batch's query,
     * brought up to date from it, put back with the new events once the batch has committed. */
    struct mh_runtime__log *log;
};

/* Counts what a committed plan did. */
static void count_plan(const struct plan *p)
{
    mh_metrics_decision_count(&p->counted);
    if (p->dead_letter)
        mh_metrics_dead_letter(MH_MDL_STEP);
}

static void plan_cleanup(struct plan *p)
{
    for (size_t i = 0; i < p->nsends; i++)
        mh_runtime__send_cleanup(&p->sends[i]);
    free(p->sends);
    mh_engine_result_cleanup(&p->res);
    mh_engine_result_cleanup(&p->pending);
    mh_metrics_decision_cleanup(&p->counted);
    mh_runtime__log_free(p->log);
    memset(p, 0, sizeof(*p));
}

/* A run belongs in the dead-letter list when a step of a type that says so (http_call) failed
 * for good. */
static bool is_dead_letter(const struct mh_wf *wf, json_t *error)
{
    return mh_engine_wf_node_is_dead_letter(wf, json_string_value(json_object_get(error, "node")));
}

static void wake_at_least(int64_t *wake, int64_t at)
{
    if (at > 0 && (*wake == 0 || at < *wake))
        *wake = at;
}

/* A run's events as JSON, for json_agg over `events e`. */
#define EVENT_JSON                                                                                 \
    "json_build_object('seq', e.seq, 'type', e.type, 'node_id', e.node_id, 'attempt', "            \
    "e.attempt, 'payload', e.payload, 'at_ms', (extract(epoch FROM e.at) * 1000)::bigint, "        \
    "'hash', encode(e.hash, 'hex'))"

/* The log after `since` (an SQL expression) of run `r`, with what to check it against: the
 * stored hash of the event at `since`, and the row's own end of the log (load_log). The
 * partition key beside the run id: only the run's own partition of `events` is probed (with the
 * run id alone, every monthly partition's index was). */
#define LOG_AFTER(since)                                                                           \
    "r.last_seq, encode(r.last_hash, 'hex') AS last_hash, CASE WHEN " since " > 0 THEN (SELECT "   \
    "encode(b.hash, 'hex') FROM events b WHERE b.run_id = r.id AND b.run_created_at = "            \
    "r.created_at AND b.seq = " since ") END AS since_hash, coalesce((SELECT json_agg(" EVENT_JSON \
    " ORDER BY e.seq) FROM events e WHERE e.run_id = r.id AND e.run_created_at = r.created_at "    \
    "AND e.seq > " since "), '[]') AS events"

/* True when `l` ends where the run row (LOG_AFTER's columns) says its log does. */
static bool log_ends_at_row(const struct mh_runtime__log *l, json_t *row)
{
    const char *last_hash = json_string_value(json_object_get(row, "last_hash"));
    if (l->n == 0 || last_hash == NULL ||
        (int64_t)l->n != json_integer_value(json_object_get(row, "last_seq")))
        return false;
    char hex[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(l->events[l->n - 1].hash, MH_ENGINE_HASH_LEN, hex);
    return strcmp(hex, last_hash) == 0;
}

/* Brings p->log up to date with `row` (LOG_AFTER's columns): a new log of row's events when
 * nothing was cached (*ok false when it ends before the row says: it was read in an older
 * snapshot); *ok false (p->log left alone) when they do not agree with a cached log. */
static enum mh_err extend_from(const struct mh_runtime__job *j, json_t *row, struct plan *p,
                               bool *ok, struct mh_err_info *info)
{
    struct mh_event *delta = NULL;
    size_t n = 0;
    enum mh_err rc = mh_engine_events_from_rows(json_object_get(row, "events"), &delta, &n, info);
    if (rc != MH_OK)
        return rc;
    *ok = true;
    if (p->log == NULL) {
        p->log = mh_runtime__log_new(j->run_id);
        mh_runtime__log_append_new(p->log, delta, n);
        *ok = log_ends_at_row(p->log, row);
    } else if (mh_runtime__log_extend(p->log, json_string_value(json_object_get(row, "since_hash")),
                                      json_integer_value(json_object_get(row, "last_seq")),
                                      json_string_value(json_object_get(row, "last_hash")), delta,
                                      n)) {
        if (n > 0) /* another worker or instance advanced the run since this process did */
            mh_log(MH_LOG_DEBUG, "engine", "run %s: cached log (seq %zu) extended by %zu event(s)",
                   j->run_id, p->log->n - n, n);
    } else {
        *ok = false;
        mh_engine_events_free(delta, n);
        return MH_OK;
    }
    free(delta);
    return MH_OK;
}

/*
 * The run's log as of its locked row, in p->log: the cached one brought up to date with the
 * events the batch's query loaded after it (`row`), or the whole log when nothing was cached.
 * When they do not agree with the row, the log is read again in a statement of its own, now that
 * the row is locked: the batch's query reads events in the snapshot it started with, so when it
 * waited for the row (another worker was advancing the run) the row it returns is newer than those
 * events. First only what follows the cached log; if that does not agree either (a gap, a hash that
 * differs: what is held is not the stored log), the whole log. Correctness never rests on the
 * cache: any doubt costs a query.
 */
static enum mh_err load_log(struct mh_db_conn *c, const struct mh_runtime__job *j, json_t *row,
                            struct plan *p, struct mh_err_info *info)
{
    bool ok = false;
    enum mh_err rc = extend_from(j, row, p, &ok, info);
    for (int pass = 0; rc == MH_OK && !ok && pass < 2; pass++) {
        if (pass == 1) {
            mh_log(MH_LOG_DEBUG, "engine", "run %s: cached log (seq %zu) does not match, %s",
                   j->run_id, p->log->n, "loaded whole");
            mh_runtime__log_free(p->log);
            p->log = NULL;
        }
        char since[24];
        snprintf(since, sizeof(since), "%zu", p->log ? p->log->n : 0);
        const char *params[] = {j->run_id, since};
        json_t *again = NULL;
        rc = mh_db_query_row(c, "SELECT " LOG_AFTER("$2::int") " FROM runs r WHERE r.id = $1", 2,
                             params, &again, info);
        if (rc == MH_OK)
            rc = extend_from(j, again, p, &ok, info);
        json_decref(again);
    }
    return rc;
}

/*
 * Decides one run from its locked row (`row`: status, version_id, created_at, last_seq,
 * last_hash and the log after p->log's, see load_log; NULL when the run is gone) and the report
 * `rep` (may be NULL). Pure apart from compiling the run's version on a cache miss.
 */
static enum mh_err decide(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                          const struct mh_runtime__job *j, json_t *row,
                          struct mh_runtime__report *rep, struct plan *p, struct mh_err_info *info)
{
    struct mh_wf *wf = NULL;
    struct mh_event *events = NULL, *reports = NULL, *cb_reports = NULL, *all_reports = NULL;
    size_t n = 0, n_reports = 0, n_cb = 0;
    json_t *cb_urls = NULL;
    bool has_calls = false;
    enum mh_err rc = MH_OK;
    const char *status = row ? json_string_value(json_object_get(row, "status")) : NULL;
    p->is_awaited = row && json_is_true(json_object_get(row, "awaited"));
    if (status == NULL || strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
        strcmp(status, "canceled") == 0) {
        p->is_finished = true;
        return MH_OK;
    }
    snprintf(p->created_at, sizeof(p->created_at), "%s",
             json_string_value(json_object_get(row, "created_at")));
    bool was_queued = strcmp(status, "queued") == 0;
    const char *caller = json_string_value(json_object_get(row, "caller_run_id"));
    snprintf(p->caller_run_id, sizeof(p->caller_run_id), "%s", caller ? caller : "");
    rc = workflow_for(rt, c, json_string_value(json_object_get(row, "version_id")), &wf, info);
    if (rc == MH_OK)
        rc = load_log(c, j, row, p, info);
    if (rc != MH_OK)
        goto out;
    events = p->log->events; /* borrowed from the log */
    n = p->log->n;
    if (rep && rep->park_until_ms) {
        p->wake = rep->park_until_ms;
        goto out;
    }
    /* Sub-workflows: the children this run waits on that finished (or cannot start) are
     * reported with the report this job brought, if any. */
    has_calls = mh_engine_wf_has_calls(wf);
    size_t n_brought = 0; /* the job's report and those of the run that came with it */
    for (const struct mh_runtime__report *r = rep; r; r = r->also)
        n_brought += r->has_event;
    if (n_brought > 0)
        reports = mh_xcalloc(n_brought, sizeof(*reports));
    for (const struct mh_runtime__report *r = rep; r && rc == MH_OK; r = r->also) {
        if (!r->has_event)
            continue;
        rc = mh_engine_event_init(&reports[n_reports], 0, r->ev.type, r->ev.node_id, r->ev.attempt,
                                  r->ev.payload, r->ev.at_ms, NULL);
        n_reports += rc == MH_OK;
    }
    if (rc == MH_OK && has_calls)
        rc = mh_runtime__calls_before(rt, c, j, wf, events, n, &reports, &n_reports,
                                      &p->wake_workers, info);
    /* A child whose caller ended is canceled (durably: the caller's end is in the database). */
    if (rc == MH_OK && p->caller_run_id[0])
        rc = mh_runtime__calls_caller_ended(c, p->caller_run_id, &reports, &n_reports, info);
    /* A cancel asked for through the API (mh_engine_run_cancel_request), read with the row. */
    json_t *cancel_at = json_object_get(row, "cancel_at_ms");
    if (rc == MH_OK && json_is_integer(cancel_at)) {
        const char *why = json_string_value(json_object_get(row, "cancel_reason"));
        struct mh_event ev = {0};
        rc = mh_engine_event_cancel(why ? why : "canceled", json_integer_value(cancel_at), &ev);
        if (rc == MH_OK) {
            reports = mh_xrealloc(reports, (n_reports + 1) * sizeof(*reports));
            reports[n_reports++] = ev;
        }
    }
    if (rc != MH_OK)
        goto out;
    struct mh_engine_input in = {
        .now_ms = mh_clock_now_ms(),
        .run_timeout_ms = rt->opts.run_timeout_ms,
        .random = mh_runtime__random_u64,
        .reports = reports,
        .n_reports = n_reports,
    };
    /* wait_callback (callback.c): the run's callback URLs and the callbacks recorded for it,
     * reported beside the job's own report. Nothing for other workflows. */
    rc = mh_runtime__callback_input(rt, c, wf, json_string_value(json_object_get(row, "id")),
                                    &cb_urls, &cb_reports, &n_cb, info);
    if (rc != MH_OK)
        goto out;
    if (n_cb > 0) { /* the callbacks, then the job's and the children's (borrowed copies) */
        all_reports = mh_xcalloc(n_cb + n_reports, sizeof(*all_reports));
        memcpy(all_reports, cb_reports, n_cb * sizeof(*all_reports));
        MH_ASSERT(n_reports == 0 || reports != NULL);
        if (n_reports)
            memcpy(all_reports + n_cb, reports, n_reports * sizeof(*all_reports));
        in.reports = all_reports;
        in.n_reports = n_cb + n_reports;
    }
    in.callback_urls = cb_urls;
    rc = mh_engine_advance(wf, events, n, &in, &p->res, info);
    if (rc != MH_OK)
        goto out;
    p->wake = p->res.next_wake_ms;
    bool again = false;
    if (has_calls &&
        (rc = mh_runtime__calls_after(rt, c, j, &p->res, &p->wake_workers, &again, info)) != MH_OK)
        goto out;
    if (again)
        wake_at_least(&p->wake, in.now_ms);
    if (p->is_awaited || atomic_load(&rt->respond_watch) > 0)
        p->response = mh_engine_response_of(wf, p->res.events, p->res.n_events);
    mh_metrics_decision_note(wf, events, n, &p->res, was_queued, &p->counted);
    for (size_t i = 0; i < p->res.n_actions; i++) {
        const struct mh_engine_action *a = &p->res.actions[i];
        if (a->kind == MH_ACTION_FINISHED) {
            p->is_finished = true;
            if (a->status == MH_RUN_FAILED && a->error && is_dead_letter(wf, a->error))
                p->dead_letter = a->error;
            /* Its caller wakes in this transaction; its own running children are canceled. */
            if (p->caller_run_id[0] || has_calls) {
                rc = mh_runtime__calls_finished(c, j->run_id, p->caller_run_id,
                                                &p->cancels_children, info);
                p->wake_workers = p->wake_workers || p->caller_run_id[0] || p->cancels_children;
                if (rc != MH_OK)
                    goto out;
            }
        } else if (a->kind == MH_ACTION_HTTP) {
            wake_at_least(&p->wake, in.now_ms + (a->timeout_ms > 0 ? a->timeout_ms : 30000) +
                                        MH_RUNTIME__RECOVERY_MARGIN_MS);
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
                                            MH_RUNTIME__RECOVERY_MARGIN_MS);
        }
        wake_at_least(&p->wake, p->res.deadline_ms);
        if (p->wake == 0)
            p->wake = in.now_ms + 3600 * 1000; /* nothing outstanding: a safety check-in */
    }
out:
    free(all_reports);
    mh_runtime__callback_reports_free(cb_reports, n_cb);
    json_decref(cb_urls);
    mh_engine_events_free(reports, n_reports);
    mh_engine_wf_unref(wf);
    return rc;
}

/* A uuid[] literal of the runs of `jobs` (those whose plan is_finished == `finished`, when
 * `plans` is given); NULL when it does not fit. */
static char *uuid_array(const struct mh_runtime__job *jobs, const struct plan *plans, int n,
                        bool finished)
{
    struct mh_buf b;
    mh_buf_init(&b, 1u << 20);
    enum mh_err rc = mh_buf_append_str(&b, "{");
    bool first = true;
    for (int i = 0; i < n && rc == MH_OK; i++) {
        if (plans && plans[i].is_finished != finished)
            continue;
        rc = mh_buf_printf(&b, "%s%s", first ? "" : ",", jobs[i].run_id);
        first = false;
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&b, "}");
    if (rc != MH_OK) {
        mh_buf_cleanup(&b);
        return NULL;
    }
    return mh_buf_steal(&b, NULL);
}

/*
 * What the batch tells live streams (src/http/hub.h), as a text[] literal of notification
 * payloads: "<project> <run>:<last seq> ..." for the runs that gained events (" x<transaction
 * id>" is appended when they are sent, after COMMIT), split to stay under PostgreSQL's 8000-byte
 * payload limit. One notification per transaction, not per event.
 */
static char *stream_notes(const struct mh_runtime__job *jobs, const struct plan *plans, int n)
{
    struct mh_buf b;
    mh_buf_init(&b, 1u << 24);
    enum mh_err rc = mh_buf_append_str(&b, "{\"");
    size_t start = mh_buf_len(&b);
    if (rc == MH_OK)
        rc = mh_buf_append_str(&b, jobs[0].project_id);
    bool any = false;
    for (int i = 0; i < n && rc == MH_OK; i++) {
        if (plans[i].res.n_events == 0)
            continue;
        if (mh_buf_len(&b) - start > 7700) {
            rc = mh_buf_printf(&b, "\",\"%s", jobs[0].project_id);
            start = mh_buf_len(&b) - strlen(jobs[0].project_id);
        }
        const struct mh_event *last = &plans[i].res.events[plans[i].res.n_events - 1];
        if (rc == MH_OK)
            rc = mh_buf_printf(&b, " %s:%lld", jobs[i].run_id, (long long)last->seq);
        any = true;
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&b, "\"}");
    if (!any || rc != MH_OK) {
        /* Too many to tell (over 16 MiB): streams then hear of them at their next poll. */
        if (rc != MH_OK)
            mh_log(MH_LOG_WARN, "engine", "batch of %d runs: live streams not told", n);
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
static enum mh_err write_plans(struct mh_db_conn *c, const struct mh_runtime__job *jobs,
                               struct plan *plans, int n, char **notes_out, char xid[24],
                               struct mh_err_info *info)
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
    enum mh_err rc = MH_OK;
    if (!ev_s || !runs_s || !done_s || !sched_s || !all_s)
        rc = mh_err_set(info, MH_ETOOBIG, "too-big", -1, "the batch's writes do not fit");
    if (rc == MH_OK)
        rc = mh_db_query_row(
            c,
            "WITH e AS (INSERT INTO events (run_id, run_created_at, seq, project_id, type, "
            "node_id, "
            "attempt, payload, at, hash) SELECT (x->>'run_id')::uuid, "
            "(x->>'created_at')::timestamptz, "
            "(x->>'seq')::int, mh_pid(), x->>'type', nullif(x->>'node_id', ''), "
            "nullif((x->>'attempt')::int, 0), coalesce(x->'payload', '{}'), 'epoch'::timestamptz + "
            "(x->>'at_ms')::bigint * interval '1 millisecond', decode(x->>'hash', 'hex') FROM "
            "jsonb_array_elements($1::jsonb) x RETURNING 1), "
            "u AS (UPDATE runs r SET feed_xid = CASE WHEN r.status = x->>'status' THEN r.feed_xid "
            "ELSE pg_current_xact_id() END, status = x->>'status', last_hash = "
            "decode(x->>'last_hash', "
            "'hex'), last_seq = (x->>'last_seq')::int, started_at = coalesce(r.started_at, now()), "
            "finished_at = CASE WHEN x->>'status' IN ('succeeded', 'failed', 'canceled') THEN "
            "now() "
            "END, output = CASE WHEN x ? 'output' THEN x->'output' ELSE r.output END, error = "
            "coalesce(x->>'error', r.error) FROM jsonb_array_elements($2::jsonb) x WHERE r.id = "
            "ANY($5::uuid[]) AND r.id = (x->>'id')::uuid RETURNING 1), "
            "d AS (DELETE FROM jobs WHERE run_id = ANY($3::uuid[]) RETURNING 1), "
            "s AS (UPDATE jobs j SET run_at = 'epoch'::timestamptz + (x->>'wake')::bigint * "
            "interval "
            "'1 millisecond', lease_owner = NULL, lease_until = NULL, attempts = 0, last_error = "
            "NULL "
            "FROM jsonb_array_elements($4::jsonb) x WHERE j.run_id = ANY($5::uuid[]) AND j.run_id "
            "= "
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
                                json_string_value(json_object_get(p->dead_letter, "message")),
                                p->created_at};
            rc = mh_db_query(c,
                             "INSERT INTO dead_letters (project_id, run_id, kind, payload, "
                             "attempts, last_error) VALUES (mh_pid(), $1, 'step', $2::jsonb, "
                             "(SELECT count(*) FROM events WHERE run_id = $1 AND run_created_at "
                             "= $4::timestamptz AND type = 'http_attempt' AND node_id = "
                             "($2::jsonb->>'node')), $3)",
                             4, dp, NULL, NULL, info);
            free(err);
        }
        if (rc == MH_OK && p->cancels_children)
            rc = mh_runtime__calls_wake_children(c, jobs[i].run_id, info);
        if (rc == MH_OK && !p->is_finished && p->caller_run_id[0])
            rc = mh_runtime__calls_recheck_caller(c, jobs[i].run_id, p->caller_run_id, info);
    }
    json_decref(row);
    return rc;
}

/* Remembers a claimed job whose outcome could not be recorded because the database was
 * unreachable: take_back hands it back once the database answers again. */
/* After a commit: forgets the report's call and sends what the decisions asked for. */
static void after_commit(struct mh_engine_runtime *rt, const struct mh_runtime__job *j,
                         struct mh_runtime__report *rep,
                         const struct mh_runtime__settings *settings, struct plan *p)
{
    for (const struct mh_runtime__report *r = rep; r; r = r->also)
        mh_runtime__inflight_forget(rt, r->key);
#ifdef MH_DEBUG
    if (p->is_finished)
        mh_runtime__fault_after_end(j->run_id);
#endif
    for (size_t i = 0; i < p->nsends; i++)
        mh_runtime__send_dispatch(rt, j, settings, &p->sends[i]);
    if (p->wake_workers)
        mh_engine_runtime_wake(rt);
}

/*
 * Right after the batch's commit: hands the answers (a respond step recorded, a run ended) to
 * this process's intake when it waits for them (no database round trip), and returns the runs
 * another instance's intake may wait for, as a text[] literal for NOTIFY (NULL: none). Only runs
 * whose answer_until has not passed are named, so a run nobody waits for costs nothing more.
 */
static char *tell_answers(struct mh_engine_runtime *rt, const struct mh_runtime__job *jobs,
                          const struct plan *plans, int n)
{
    struct mh_buf b;
    bool any = false;
    enum mh_err rc = MH_OK;
    for (int i = 0; i < n; i++) {
        const struct plan *p = &plans[i];
        if (!p->response && !p->is_finished)
            continue;
        bool is_waited = false;
        if (atomic_load(&rt->respond_watch) > 0) {
            pthread_mutex_lock(&rt->mu);
            if (rt->respond_fn)
                rt->respond_fn(rt->respond_ctx, jobs[i].run_id, p->response, p->is_finished,
                               &is_waited);
            pthread_mutex_unlock(&rt->mu);
        }
        if (is_waited || !p->is_awaited)
            continue;
        if (!any)
            mh_buf_init(&b, 1u << 20);
        rc = mh_buf_printf(&b, "%s%s", any ? "," : "{", jobs[i].run_id);
        any = true;
        if (rc != MH_OK)
            break;
    }
    if (!any)
        return NULL;
    if (rc == MH_OK)
        rc = mh_buf_append_str(&b, "}");
    if (rc != MH_OK) {
        /* Their intakes answer 202 at their deadline, as when nothing came. */
        mh_log(MH_LOG_WARN, "engine", "batch of %d runs: waiting intakes not told", n);
        mh_buf_cleanup(&b);
        return NULL;
    }
    return mh_buf_steal(&b, NULL);
}

/* Resolves, in the batch's transaction, what the http_calls of `p` need to be sent: those the
 * decision asked for, and the outstanding ones this process is not making (after a crash or a
 * park). A call already in flight here is left alone: its secrets are not decrypted again. */
static enum mh_err prepare_sends(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                 const struct mh_runtime__job *j, struct plan *p,
                                 struct mh_err_info *info)
{
    size_t cap = p->res.n_actions + p->pending.n_actions;
    if (cap == 0)
        return MH_OK;
    p->sends = mh_xcalloc(cap, sizeof(*p->sends));
    for (size_t i = 0; i < cap; i++) {
        const struct mh_engine_action *a =
            i < p->res.n_actions ? &p->res.actions[i] : &p->pending.actions[i - p->res.n_actions];
        if (a->kind != MH_ACTION_HTTP)
            continue;
        char key[256];
        snprintf(key, sizeof(key), "%s/%s/%d", j->run_id, a->node_id, a->attempt);
        /* The decision's own calls are outstanding too: each is resolved once. */
        bool is_listed = mh_runtime__inflight_has(rt, key);
        for (size_t k = 0; k < p->nsends && !is_listed; k++)
            is_listed = strcmp(p->sends[k].action->node_id, a->node_id) == 0 &&
                        p->sends[k].action->attempt == a->attempt;
        if (is_listed)
            continue;
        enum mh_err rc = mh_runtime__send_resolve(rt, c, j, a, &p->sends[p->nsends], info);
        if (rc != MH_OK)
            return rc;
        p->nsends++;
    }
    return MH_OK;
}

/*
 * Advances `n` runs of one project in ONE transaction: their rows and logs in one query, a
 * decision each, then one statement for all their writes and one commit. Pure steps that follow
 * each other already cost no commit of their own; batching spares most of the rest.
 */
static enum mh_err advance_batch(struct mh_engine_runtime *rt, const struct mh_runtime__job *jobs,
                                 struct mh_runtime__report **reps, struct plan *plans, int n,
                                 bool lock_first, struct mh_runtime__settings *settings,
                                 struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char *ids = uuid_array(jobs, NULL, n, false);
    if (ids == NULL)
        return mh_err_set(info, MH_ETOOBIG, "too-big", -1, "the batch's run ids do not fit");
    /* The runs' cached logs: the query loads only the events after the last one held. */
    struct mh_buf sb;
    mh_buf_init(&sb, 1u << 20);
    enum mh_err rc = mh_buf_append_str(&sb, "{");
    for (int i = 0; i < n && rc == MH_OK; i++) {
        plans[i].log = mh_runtime__log_take(&rt->logs, jobs[i].run_id);
        rc = mh_buf_printf(&sb, "%s%zu", i ? "," : "", plans[i].log ? plans[i].log->n : 0);
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&sb, "}");
    char *since = rc == MH_OK ? mh_buf_steal(&sb, NULL) : NULL;
    mh_buf_cleanup(&sb);
    if (since == NULL) {
        free(ids);
        return mh_err_set(info, MH_ETOOBIG, "too-big", -1, "the batch's run ids do not fit");
    }
    rc = mh_db_acquire(rt->opts.pool, &c, info);
    if (rc == MH_OK)
        rc = mh_db_begin_generic(c, NULL, jobs[0].project_id, info);
    if (rc != MH_OK)
        goto out;
    const char *params[] = {ids, since};
    /* A retry after a conflict locks the rows first, in a statement of its own: the query below
     * reads the logs in the snapshot it started with, so when it waits for a row another worker
     * holds (a for_each's calls report one after another) it would read that run's log as it was
     * before the other worker's commit and conflict again. Once the lock is held, the next
     * statement's snapshot has every event. The first attempt saves the round trip. */
    if (rc == MH_OK && lock_first)
        rc = mh_db_query(c, "SELECT 1 FROM runs WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
                         1, params, NULL, NULL, info);
    /* The events after each run's cached log ($2, parallel to $1: 0 loads it whole), the stored
     * hash where the cached log ends, and the row's own end of the log to check both against
     * (load_log). The row is locked: what is read is current. */
    if (rc == MH_OK)
        rc = mh_db_query(
            c,
            "SELECT r.id, r.status, r.version_id, r.created_at::text AS created_at, "
            "r.answer_until > now() AS awaited, r.caller_run_id, (extract(epoch FROM "
            "r.cancel_requested_at) * 1000)::bigint AS cancel_at_ms, r.cancel_reason, " LOG_AFTER(
                "k.since") " FROM runs r JOIN unnest($1::uuid[], $2::int[]) AS k(id, since) ON "
                           "k.id = r.id WHERE r.id = ANY($1::uuid[]) ORDER BY r.id FOR UPDATE OF r",
            2, params, &rows, NULL, info);
    for (int i = 0; i < n && rc == MH_OK; i++) {
        json_t *row = NULL, *r;
        size_t k;
        json_array_foreach(rows, k, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "id")), jobs[i].run_id) == 0)
                row = r;
        }
        rc = decide(rt, c, &jobs[i], row, reps ? reps[i] : NULL, &plans[i], info);
    }
    for (int i = 0; i < n && rc == MH_OK; i++)
        rc = prepare_sends(rt, c, &jobs[i], &plans[i], info);
    /* The project's settings (privacy rules, outbound allow-list) come with the batch too. */
    bool has_sends = false;
    for (int i = 0; i < n; i++)
        has_sends = has_sends || plans[i].nsends > 0;
    if (rc == MH_OK && has_sends)
        rc = mh_runtime__settings_load(rt, c, jobs[0].project_id, settings, info);
    char *notes = NULL, xid[24] = "";
    if (rc == MH_OK)
        rc = write_plans(c, jobs, plans, n, &notes, xid, info);
    if (rc == MH_OK)
        rc = mh_db_commit(c, info);
    char *answers = rc == MH_OK ? tell_answers(rt, jobs, plans, n) : NULL;
    /* Live streams hear of the new events after COMMIT, in a statement of their own with
     * synchronous_commit off: a NOTIFY inside the batch would serialise the workers' commits
     * (PostgreSQL commits notifying transactions one at a time, through their WAL flush). A
     * notification lost to a crash here costs a stream only its wake-up, and a waiting intake
     * its answer (it answers 202 at its deadline). Waiting intakes of other instances hear of
     * their runs' answers in the same statement: they read them from the database, which holds
     * them now; the payload is the run id alone. */
    bool has_notes = notes && strcmp(notes, "{}") != 0 && xid[0];
    if (rc == MH_OK && (has_notes || answers)) {
        const char *np[] = {has_notes ? notes : "{}", xid, answers ? answers : "{}"};
        struct mh_err_info ni = MH_ERR_INFO_INIT;
        if (mh_db_query(c,
                        "SELECT set_config('synchronous_commit', 'off', true), "
                        "(SELECT count(pg_notify('" MH_ENGINE_STREAMS_CHANNEL
                        "', x || ' x' || $2)) FROM unnest($1::text[]) x), "
                        "(SELECT count(pg_notify('" MH_ENGINE_ANSWERS_CHANNEL
                        "', y)) FROM unnest($3::text[]) y)",
                        3, np, NULL, NULL, &ni) != MH_OK)
            mh_log(MH_LOG_DEBUG, "engine", "streams or answers not notified: %s", ni.message);
    }
    free(notes);
    free(answers);
out:
    json_decref(rows);
    free(ids);
    free(since);
    mh_db_release(c);
    return rc;
}

/* Puts p's log back in the cache: once the batch committed, with the events it committed (not
 * when the run ended); when it failed, as it was loaded, which is committed events only (the
 * batch's own never enter it before COMMIT): the retry then loads only what follows. */
static void keep_log(struct mh_engine_runtime *rt, const char *run_id, struct plan *p,
                     bool committed)
{
    if (committed && p->is_finished) {
        mh_runtime__log_drop(&rt->logs, run_id);
        return; /* plan_cleanup frees p's */
    }
    if (p->log == NULL)
        return;
    if (committed) {
        mh_runtime__log_append_new(p->log, p->res.events, p->res.n_events);
        p->res.n_events = 0;
    }
    mh_runtime__log_put(&rt->logs, p->log);
    p->log = NULL;
}

/*
 * Runs a batch; when it fails, every run is redone on its own (so one bad run cannot hold the
 * others back), retrying when another worker advanced a run first.
 */
static void process_batch(struct mh_engine_runtime *rt, struct mh_runtime__job *jobs,
                          struct mh_runtime__report **reps, int n)
{
    struct plan *plans = mh_xcalloc((size_t)n, sizeof(*plans));
    struct mh_runtime__settings settings = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = MH_ECONFLICT;
    for (int attempt = 0; attempt < (n == 1 ? 5 : 1) && rc == MH_ECONFLICT; attempt++) {
        for (int i = 0; i < n; i++) {
            keep_log(rt, jobs[i].run_id, &plans[i], false);
            plan_cleanup(&plans[i]);
        }
        mh_runtime__settings_cleanup(&settings);
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        rc = advance_batch(rt, jobs, reps, plans, n, attempt > 0, &settings, &info);
    }
    for (int i = 0; i < n; i++) {
        if (rc == MH_OK) {
            count_plan(&plans[i]);
            mh_log(MH_LOG_DEBUG, "engine", "run %s: %zu new event(s), status %s", jobs[i].run_id,
                   plans[i].res.n_events, mh_engine_run_status_name(plans[i].res.status));
            after_commit(rt, &jobs[i], reps ? reps[i] : NULL, &settings, &plans[i]);
        }
        keep_log(rt, jobs[i].run_id, &plans[i], rc == MH_OK);
        plan_cleanup(&plans[i]);
    }
    mh_runtime__settings_cleanup(&settings);
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
    if (reps && reps[0]) {
        for (struct mh_runtime__report *r = reps[0]; r; r = r->also) {
            if (rc == MH_EUNAVAILABLE)
                mh_runtime__report_park(rt, r); /* applied again once the database answers */
            else
                mh_runtime__inflight_forget(rt, r->key); /* the recovery wake sends it again */
        }
    } else if (rc == MH_EUNAVAILABLE)
        mh_runtime__orphan_add(rt, &jobs[0]); /* not the job's fault: no attempt spent on it */
    else
        mh_runtime__job_failed(rt, &jobs[0], why);
}

/* A report that carries an outcome to record (not a park). */
static bool is_outcome(const struct mh_runtime__report *r)
{
    return r->has_event && r->park_until_ms == 0;
}

/* Runs `jobs` (and their reports) grouped by project, one transaction per group. */
void mh_runtime__process_all(struct mh_engine_runtime *rt, struct mh_runtime__job *jobs,
                             struct mh_runtime__report **reps, int n)
{
    for (int i = 0; reps && i < n; i++)
        reps[i]->also = NULL;
    bool *done = mh_xcalloc((size_t)(n ? n : 1), sizeof(bool));
    struct mh_runtime__job *group = mh_xcalloc((size_t)(n ? n : 1), sizeof(*group));
    struct mh_runtime__report **greps = reps ? mh_xcalloc((size_t)n, sizeof(*greps)) : NULL;
    for (int i = 0; i < n; i++) {
        if (done[i])
            continue;
        int g = 0;
        for (int k = i; k < n; k++) {
            if (done[k] || strcmp(jobs[k].project_id, jobs[i].project_id) != 0)
                continue;
            /* One run appears once per transaction. Its reports that came together (a for_each's
             * calls finishing at once) are applied in one advance, in the order they came; a
             * park (circuit open) is not an outcome and waits for the next transaction. */
            int dup = -1;
            for (int x = 0; x < g && dup < 0; x++)
                dup = strcmp(group[x].run_id, jobs[k].run_id) == 0 ? x : -1;
            if (dup >= 0 && greps && is_outcome(greps[dup]) && is_outcome(reps[k])) {
                struct mh_runtime__report **tail = &greps[dup]->also;
                while (*tail)
                    tail = &(*tail)->also;
                *tail = reps[k];
                done[k] = true;
            }
            if (dup >= 0)
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
