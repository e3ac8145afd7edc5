/* SPDX-License-Identifier: MIT */
/*
 * Group commit. Request threads queue the deliveries they have judged and go back to other
 * connections; committer threads take everything queued (up to max_batch) and record it in ONE
 * transaction, then COMMIT, and only then report each delivery's outcome (item->on_done), upon
 * which the intake answers 202. Under load the queue fills while a transaction commits, so
 * batches grow by themselves and the cost of a commit (a WAL flush, the round trips) is shared;
 * with one request in flight a batch is that request and nothing waits for company.
 *
 * Inside the transaction, per project (row-level security sees one project at a time):
 *   1. keyed deliveries claim their idempotency keys in one INSERT ... ON CONFLICT; a key held
 *      by an earlier run (or an earlier delivery of the same batch) makes a duplicate, which is
 *      then left out;
 *   2. one statement inserts, for every remaining delivery, its run, its first event, its job,
 *      its delivery row and (for large bodies) its blob — after locking every endpoint and
 *      workflow of the batch FOR KEY SHARE, as foreign keys would (migration 0011: a concurrent
 *      deletion waits for this transaction, then its cascade removes these rows too), and
 *      checking that each endpoint's config_version is still the one the delivery was judged
 *      against. A delivery whose endpoint or workflow is gone or changed is stale.
 * The request thread prepared each delivery's row (its run id, and its first event already
 * sealed in the hash chain by the engine's mh_engine_event_run_started), so a committer only
 * joins text and waits on the database. The run/event/job part is the runtime's own
 * (MH_RUNTIME_RUN_INSERT_CTES, src/runtime/store.h), which mh_engine_run_create uses too.
 *
 * Failure isolation: deliveries whose endpoint changed are set aside as stale (their threads
 * judge them again on the fresh endpoint) and the rest retried; a statement that fails for any
 * other reason rolls the batch back and its deliveries are retried one per transaction, so one
 * bad delivery cannot fail its neighbours. When the database is unreachable or COMMIT fails,
 * every delivery of the batch fails and is answered 503, meaning nothing of it was recorded.
 *
 * A commit in doubt (COMMIT sent, its answer lost with the connection: a database restart, a
 * network cut) is resolved before anyone is answered. The batch's run ids are known; once the
 * database answers again and the server process that ran the transaction is gone (so its
 * outcome is final), the runs are looked up: found, the batch committed and its deliveries get
 * their 202 (or 200 for a duplicate); not found, nothing was recorded and they get 503. Past
 * doubt_wait_ms without an answer they get a 503 that says the delivery may have been recorded
 * (docs/webhooks.md). Only a failed COMMIT pays for any of this.
 */
#include "intake/intake_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "runtime/store.h"
#include "metrics/metrics.h"

/* Rows of one statement: a committed batch is at most this large per project. */
#define MAX_STATEMENT_BYTES (64u * 1024u * 1024u)
/* A batch whose transaction takes this long is logged (at most once a second), with how long
 * its statements and its COMMIT took: every delivery of the batch waited that long for its 202,
 * and the split tells the database's CPU or locks from its disk. */
#define SLOW_BATCH_MS 100

struct mh_intake__committer {
    struct mh_intake *in;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    struct mh_intake__item *head;
    struct mh_intake__item *tail;
    bool is_stopping;
    int max_batch;
    int nthreads;
    pthread_t *threads;
};

/* What a batch attempt concluded. */
enum batch_rc {
    BATCH_OK = 0,
    BATCH_STALE,       /* some items are stale: retry the others */
    BATCH_ITEM_FAILED, /* a statement failed: retry items alone */
    BATCH_DOWN,        /* the database is unreachable, or COMMIT failed */
    BATCH_IN_DOUBT,    /* COMMIT was sent and its answer lost; results kept as if committed */
};

/* What a commit in doubt turned out to be. */
enum doubt {
    DOUBT_COMMITTED,
    DOUBT_NOT_COMMITTED,
    DOUBT_UNKNOWN,
};

static void *run(void *arg);
static void process(struct mh_intake__committer *gc, struct mh_intake__item **items, size_t n);
static enum batch_rc attempt(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                             struct mh_err_info *info);
static enum mh_err record_project(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                                  bool is_first, bool *any_stale, char xid[24],
                                  struct mh_err_info *info);
static void notify_streams(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                           const char *xid);
static enum mh_err claim_keys(struct mh_db_conn *c, const char *project,
                              struct mh_intake__item **items, size_t n, struct mh_err_info *info);
static int by_project(const void *a, const void *b);
static void note_slow_batch(size_t n, int64_t t0, int64_t t1, int64_t t2);
static void fail_all(struct mh_intake__item **items, size_t n, enum mh_err err);
static void settle_doubt(struct mh_intake__committer *gc, struct mh_db_conn **c,
                         struct mh_intake__item **items, size_t n, bool wants_conn,
                         bool *committed_any);
static enum doubt resolve_doubt(struct mh_intake *in, struct mh_intake__item **items, size_t n,
                                int pid);
static enum mh_err find_runs(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                             bool *found, struct mh_err_info *info);

/* Between two looks at the database while a commit is in doubt. */
#define DOUBT_POLL_MS 100

/* $1: the rows (a JSON array, see intake.c's row builder), $2: the project. */
#define INSERT_SQL_HEAD                                                                            \
    "WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(" MH_RUNTIME_RUN_COLUMNS      \
    ", endpoint_id uuid, config_version bigint, received_at timestamptz, method text, "            \
    "content_type text, body_size int, body_hash text, key_id uuid, key_used boolean, blob text, " \
    "blob_hash text)), "                                                                           \
    "ep AS (SELECT id, config_version FROM webhook_endpoints WHERE id = ANY (ARRAY(SELECT "        \
    "DISTINCT endpoint_id FROM input)) FOR KEY SHARE), "                                           \
    "wf AS (SELECT id FROM workflows WHERE id = ANY (ARRAY(SELECT DISTINCT workflow_id FROM "      \
    "input)) FOR KEY SHARE), "                                                                     \
    "stale AS (SELECT coalesce(jsonb_agg(i.endpoint_id), '[]') AS ids FROM (SELECT DISTINCT "      \
    "endpoint_id, config_version, workflow_id FROM input) i LEFT JOIN ep ON ep.id = "              \
    "i.endpoint_id AND ep.config_version = i.config_version LEFT JOIN wf ON wf.id = "              \
    "i.workflow_id WHERE ep.id IS NULL OR wf.id IS NULL), "                                        \
    "ok AS (SELECT i.* FROM input i, stale WHERE stale.ids = '[]'::jsonb), "                       \
    "b AS (INSERT INTO blobs (project_id, hash, size_bytes, content_type, data) "                  \
    "SELECT DISTINCT ON (blob_hash) $2::uuid, decode(blob_hash, 'hex'), body_size, "               \
    "content_type, decode(blob, 'hex') FROM ok WHERE blob IS NOT NULL ON CONFLICT (project_id, "   \
    "hash) DO UPDATE SET last_used_at = now() WHERE blobs.last_used_at < now() - interval "        \
    "'1 hour' RETURNING 1), " MH_RUNTIME_RUN_INSERT_CTES                                           \
    "d AS (INSERT INTO webhook_deliveries (id, project_id, endpoint_id, received_at, method, "     \
    "status, outcome, headers, content_type, body_size, body_hash, key_id, run_id, is_test) "      \
    "SELECT delivery_id, $2::uuid, endpoint_id, received_at, method, 202, 'accepted', "            \
    "payload->'trigger'->'headers', "                                                              \
    "content_type, body_size, decode(body_hash, 'hex'), key_id, run_id, is_test FROM ok "
#define INSERT_SQL_TAIL                                                                            \
    "SELECT (SELECT ids FROM stale) AS stale, (SELECT count(*) FROM r)::int AS runs, "             \
    "(SELECT count(*) FROM e)::int AS events, (SELECT count(*) FROM j)::int AS jobs, "             \
    "(SELECT count(*) FROM d)::int AS deliveries, (SELECT count(*) FROM b)::int AS blobs, "        \
    "pg_current_xact_id()::text AS xid"

static const char *const insert_sql = INSERT_SQL_HEAD "RETURNING 1) " INSERT_SQL_TAIL;
/* The same, also noting keys' last use for the rows that ask (key_used): a batch without any
 * runs the statement above. A key row an administrator holds locked is skipped rather than
 * waited for. */
static const char *const insert_touch_sql = INSERT_SQL_HEAD
    "RETURNING 1), "
    "u AS (UPDATE webhook_endpoint_keys SET last_used_at = now() WHERE id IN (SELECT k.id FROM "
    "webhook_endpoint_keys k WHERE k.id = ANY (ARRAY(SELECT key_id FROM ok WHERE key_used)) "
    "FOR UPDATE SKIP LOCKED) RETURNING 1) " INSERT_SQL_TAIL;

/* $1: [{endpoint_id, key, run_id, retention_s}], $2: the project. Returns the keys claimed. */
static const char *const claim_sql =
    "INSERT INTO idempotency_keys AS i (project_id, endpoint_id, key, run_id, expires_at) "
    "SELECT $2::uuid, x.endpoint_id, x.key, x.run_id, now() + x.retention_s * interval "
    "'1 second' FROM jsonb_to_recordset($1::jsonb) AS x(endpoint_id uuid, key text, run_id "
    "uuid, retention_s int) ON CONFLICT (endpoint_id, key) DO UPDATE SET run_id = "
    "EXCLUDED.run_id, created_at = now(), expires_at = EXCLUDED.expires_at WHERE i.expires_at "
    "<= now() RETURNING run_id";

static const char *const holders_sql =
    "SELECT k.endpoint_id, k.key, k.run_id FROM idempotency_keys k JOIN "
    "jsonb_to_recordset($1::jsonb) AS x(endpoint_id uuid, key text) ON k.endpoint_id = "
    "x.endpoint_id AND k.key = x.key";

enum mh_err mh_intake__committer_start(struct mh_intake *in, int threads, int max_batch,
                                       struct mh_intake__committer **out)
{
    struct mh_intake__committer *gc = mh_xcalloc(1, sizeof(*gc));
    gc->in = in;
    gc->max_batch = max_batch > 0 ? max_batch : MH_INTAKE__DEFAULT_MAX_BATCH;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->work_cv, NULL);
    gc->threads = mh_xcalloc((size_t)(threads > 0 ? threads : 1), sizeof(pthread_t));
    for (int i = 0; i < (threads > 0 ? threads : 1); i++) {
        if (pthread_create(&gc->threads[i], NULL, run, gc) != 0) {
            mh_intake__committer_stop(gc);
            return MH_ENOMEM;
        }
        gc->nthreads++;
    }
    *out = gc;
    return MH_OK;
}

void mh_intake__committer_stop(struct mh_intake__committer *gc)
{
    if (gc == NULL)
        return;
    pthread_mutex_lock(&gc->mu);
    gc->is_stopping = true;
    pthread_cond_broadcast(&gc->work_cv);
    pthread_mutex_unlock(&gc->mu);
    /* Committers finish what is queued before they leave. */
    for (int i = 0; i < gc->nthreads; i++)
        pthread_join(gc->threads[i], NULL);
    free(gc->threads);
    pthread_cond_destroy(&gc->work_cv);
    pthread_mutex_destroy(&gc->mu);
    free(gc);
}

void mh_intake__commit(struct mh_intake__committer *gc, struct mh_intake__item *item)
{
    item->outcome = MH_INTAKE__PENDING;
    item->result = MH_INTAKE__PENDING;
    item->next = NULL;
    pthread_mutex_lock(&gc->mu);
    if (gc->tail)
        gc->tail->next = item;
    else
        gc->head = item;
    gc->tail = item;
    pthread_cond_signal(&gc->work_cv);
    pthread_mutex_unlock(&gc->mu);
}

static void *run(void *arg)
{
    struct mh_intake__committer *gc = arg;
    struct mh_intake__item **items = mh_xcalloc((size_t)gc->max_batch, sizeof(*items));
    pthread_mutex_lock(&gc->mu);
    for (;;) {
        while (gc->head == NULL && !gc->is_stopping)
            pthread_cond_wait(&gc->work_cv, &gc->mu);
        if (gc->head == NULL)
            break;
        size_t n = 0;
        while (gc->head && n < (size_t)gc->max_batch) {
            items[n++] = gc->head;
            gc->head = gc->head->next;
        }
        if (gc->head == NULL)
            gc->tail = NULL;
        pthread_mutex_unlock(&gc->mu);
        process(gc, items, n);
        /* An item belongs to its owner again once reported (it may even be queued again at
         * once): nothing of it is read afterwards. */
        for (size_t i = 0; i < n; i++) {
            items[i]->outcome = items[i]->result;
            items[i]->on_done(items[i]);
        }
        pthread_mutex_lock(&gc->mu);
    }
    pthread_mutex_unlock(&gc->mu);
    free(items);
    return NULL;
}

static int by_project(const void *a, const void *b)
{
    const struct mh_intake__item *x = *(struct mh_intake__item *const *)a;
    const struct mh_intake__item *y = *(struct mh_intake__item *const *)b;
    return strcmp(x->ep->project_id, y->ep->project_id);
}

/* Claims the keys of the keyed items among `items` (one project). Items whose key is held
 * elsewhere become DUPLICATE with the holder's run id; so do later items of the batch with the
 * same endpoint and key as an earlier one. */
static enum mh_err claim_keys(struct mh_db_conn *c, const char *project,
                              struct mh_intake__item **items, size_t n, struct mh_err_info *info)
{
    json_t *claims = json_array(), *rows = NULL, *held = NULL;
    enum mh_err rc = MH_OK;
    for (size_t i = 0; i < n; i++) {
        struct mh_intake__item *it = items[i];
        if (it->idem_key == NULL)
            continue;
        bool is_repeat = false;
        for (size_t k = 0; k < i && !is_repeat; k++)
            is_repeat = items[k]->idem_key && items[k]->ep == it->ep &&
                        strcmp(items[k]->idem_key, it->idem_key) == 0;
        if (is_repeat)
            continue;
        json_array_append_new(claims, json_pack("{s:s, s:s, s:s, s:i}", "endpoint_id", it->ep->id,
                                                "key", it->idem_key, "run_id", it->run_id,
                                                "retention_s", it->ep->retention_s));
    }
    if (json_array_size(claims) == 0)
        goto out;
    char *text = json_dumps(claims, JSON_COMPACT);
    const char *params[] = {text, project};
    rc = mh_db_query(c, claim_sql, 2, params, &rows, NULL, info);
    free(text);
    if (rc != MH_OK)
        goto out;
    /* Keys not claimed: who holds them (a committed run, or a run of this very batch). */
    bool all_claimed = json_array_size(rows) == json_array_size(claims);
    if (!all_claimed) {
        text = json_dumps(claims, JSON_COMPACT);
        const char *hp[] = {text};
        rc = mh_db_query(c, holders_sql, 1, hp, &held, NULL, info);
        free(text);
        if (rc != MH_OK)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct mh_intake__item *it = items[i];
        if (it->idem_key == NULL)
            continue;
        const char *holder = NULL;
        size_t k;
        json_t *row;
        json_array_foreach(held, k, row)
        {
            if (strcmp(json_string_value(json_object_get(row, "endpoint_id")), it->ep->id) == 0 &&
                strcmp(json_string_value(json_object_get(row, "key")), it->idem_key) == 0)
                holder = json_string_value(json_object_get(row, "run_id"));
        }
        /* A repeat inside the batch follows the first occurrence's fate. */
        for (size_t f = 0; f < i && holder == NULL; f++) {
            struct mh_intake__item *first = items[f];
            if (first->idem_key && first->ep == it->ep &&
                strcmp(first->idem_key, it->idem_key) == 0)
                holder = first->run_id;
        }
        if (holder && strcmp(holder, it->run_id) != 0) {
            snprintf(it->run_id, sizeof(it->run_id), "%s", holder);
            it->result = MH_INTAKE__DUPLICATE;
        }
    }
out:
    json_decref(claims);
    json_decref(rows);
    json_decref(held);
    return rc;
}

/* Records the items of one project: keys, then everything else in one statement. */
static enum mh_err record_project(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                                  bool is_first, bool *any_stale, char xid[24],
                                  struct mh_err_info *info)
{
    const char *project = items[0]->ep->project_id;
    const char *pp[] = {project};
    json_t *row = NULL;
    struct mh_buf rows;
    enum mh_err rc = MH_OK;
    /* The first project was set by BEGIN (mh_db_begin); later ones switch the setting. */
    if (!is_first)
        rc = mh_db_query(c, "SELECT set_config('meshhook.project_id', $1, true)", 1, pp, NULL, NULL,
                         info);
    if (rc != MH_OK)
        return rc;
    if ((rc = claim_keys(c, project, items, n, info)) != MH_OK)
        return rc;
    mh_buf_init(&rows, MAX_STATEMENT_BYTES);
    size_t count = 0;
    bool notes_key_use = false;
    rc = mh_buf_append_str(&rows, "[");
    for (size_t i = 0; i < n && rc == MH_OK; i++) {
        if (items[i]->result != MH_INTAKE__PENDING)
            continue;
        notes_key_use |= items[i]->notes_key_use;
        if (count++ > 0)
            rc = mh_buf_append_str(&rows, ",");
        if (rc == MH_OK)
            rc = mh_buf_append_str(&rows, items[i]->row_json);
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(&rows, "]");
    if (rc != MH_OK) {
        mh_buf_cleanup(&rows);
        return mh_err_set(info, rc, "too-big", -1, "batch too large");
    }
    if (count > 0) {
        const char *params[] = {mh_buf_str(&rows), project};
        rc = mh_db_query_row(c, notes_key_use ? insert_touch_sql : insert_sql, 2, params, &row,
                             info);
    }
    mh_buf_cleanup(&rows);
    if (rc != MH_OK || count == 0)
        return rc;
    json_t *stale = json_object_get(row, "stale");
    if (json_array_size(stale) > 0) {
        *any_stale = true;
        for (size_t i = 0; i < n; i++) {
            size_t k;
            json_t *id;
            json_array_foreach(stale, k, id)
            {
                if (strcmp(json_string_value(id), items[i]->ep->id) == 0)
                    items[i]->result = MH_INTAKE__STALE;
            }
        }
    } else if (json_integer_value(json_object_get(row, "runs")) != (json_int_t)count ||
               json_integer_value(json_object_get(row, "deliveries")) != (json_int_t)count) {
        rc = mh_err_set(info, MH_EDB, "count", -1, "batch insert wrote an unexpected row count");
    } else {
        for (size_t i = 0; i < n; i++)
            if (items[i]->result == MH_INTAKE__PENDING)
                items[i]->result = MH_INTAKE__ACCEPTED;
        const char *x = json_string_value(json_object_get(row, "xid"));
        snprintf(xid, 24, "%s", x ? x : "");
    }
    json_decref(row);
    return rc;
}

/*
 * Tells live streams (src/http/hub.h) of the projects whose new runs and deliveries transaction
 * `xid` committed: one notification per project, "<project> x<xid>", sent after COMMIT in a
 * statement of its own. Inside the batch's transaction, NOTIFY would serialise the commits of
 * every lane (PostgreSQL commits notifying transactions one at a time) and hold each through
 * its WAL flush; on its own, with synchronous_commit off, it waits for no flush. A notification
 * lost to a crash right after COMMIT costs a stream only its wake-up: the next one of the project
 * (or a reconnect) reads everything since the subscriber's cursor.
 */
static void notify_streams(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                           const char *xid)
{
    if (xid[0] == '\0')
        return;
    json_t *payloads = json_array();
    for (size_t i = 0; i < n; i++) {
        if (items[i]->result != MH_INTAKE__ACCEPTED ||
            (i > 0 && strcmp(items[i]->ep->project_id, items[i - 1]->ep->project_id) == 0 &&
             items[i - 1]->result == MH_INTAKE__ACCEPTED))
            continue;
        char p[80];
        snprintf(p, sizeof(p), "%s x%s", items[i]->ep->project_id, xid);
        json_array_append_new(payloads, json_string(p));
    }
    char *list = json_array_size(payloads) ? json_dumps(payloads, JSON_COMPACT) : NULL;
    json_decref(payloads);
    if (list == NULL)
        return;
    const char *params[] = {list};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_query(c,
                    "SELECT set_config('synchronous_commit', 'off', true), "
                    "count(pg_notify('" MH_ENGINE_STREAMS_CHANNEL
                    "', p)) FROM jsonb_array_elements_text($1::jsonb) p",
                    1, params, NULL, NULL, &info) != MH_OK)
        mh_log(MH_LOG_DEBUG, "intake", "streams not notified: %s", info.message);
    free(list);
}

/* Logs a slow batch (see SLOW_BATCH_MS). */
static void note_slow_batch(size_t n, int64_t t0, int64_t t1, int64_t t2)
{
    static _Atomic int64_t last_ms;
    if (t2 - t0 < SLOW_BATCH_MS)
        return;
    int64_t last = atomic_load(&last_ms);
    if (t2 - last < 1000 || !atomic_compare_exchange_strong(&last_ms, &last, t2))
        return;
    mh_log(MH_LOG_WARN, "intake",
           "slow batch: its transaction took %lld ms (statements %lld ms, COMMIT %lld ms), "
           "deliveries %zu",
           (long long)(t2 - t0), (long long)(t1 - t0), (long long)(t2 - t1), n);
}

/* One transaction over `items` (sorted by project). On BATCH_OK every item has its result;
 * otherwise results are meaningful only for items marked STALE. */
static enum batch_rc attempt(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                             struct mh_err_info *info)
{
    bool any_stale = false;
    int64_t t0 = mh_clock_mono_ms(), t0_ns = mh_clock_mono_ns();
    enum mh_err rc = mh_db_begin_generic(c, NULL, items[0]->ep->project_id, info);
    if (rc != MH_OK)
        return BATCH_DOWN;
    for (size_t i = 0; i < n; i++)
        items[i]->result = MH_INTAKE__PENDING;
    char xid[24] = "";
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && strcmp(items[end]->ep->project_id, items[start]->ep->project_id) == 0)
            end++;
        rc = record_project(c, items + start, end - start, start == 0, &any_stale, xid, info);
        if (rc != MH_OK)
            goto failed;
        start = end;
    }
    if (any_stale) {
        mh_db_rollback(c);
        for (size_t i = 0; i < n; i++)
            if (items[i]->result != MH_INTAKE__STALE)
                items[i]->result = MH_INTAKE__PENDING;
        return BATCH_STALE;
    }
    int64_t t1 = mh_clock_mono_ms();
    rc = mh_db_commit(c, info);
    if (rc != MH_OK && strcmp(info->kind, MH_DB_IN_DOUBT) == 0)
        return BATCH_IN_DOUBT;
    if (rc != MH_OK) {
        for (size_t i = 0; i < n; i++)
            items[i]->result = MH_INTAKE__PENDING;
        return BATCH_DOWN;
    }
    mh_metrics_intake_batch(n, mh_clock_mono_ns() - t0_ns);
    note_slow_batch(n, t0, t1, mh_clock_mono_ms());
    notify_streams(c, items, n, xid);
    return BATCH_OK;
failed:
    mh_db_rollback(c);
    for (size_t i = 0; i < n; i++)
        items[i]->result = MH_INTAKE__PENDING;
    return rc == MH_EUNAVAILABLE || !mh_db_is_ok(c) ? BATCH_DOWN : BATCH_ITEM_FAILED;
}

static void fail_all(struct mh_intake__item **items, size_t n, enum mh_err err)
{
    for (size_t i = 0; i < n; i++) {
        if (items[i]->result == MH_INTAKE__PENDING) {
            items[i]->result = MH_INTAKE__FAILED;
            items[i]->err = err;
        }
    }
}

static void process(struct mh_intake__committer *gc, struct mh_intake__item **items, size_t n)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool committed_any = false;
    for (size_t i = 0; i < n; i++)
        items[i]->result = MH_INTAKE__PENDING;
    if (mh_db_acquire(gc->in->commit_pool, &c, &info) != MH_OK) {
        fail_all(items, n, MH_EUNAVAILABLE);
        return;
    }
    qsort(items, n, sizeof(*items), by_project);
    struct mh_intake__item **batch = mh_xcalloc(n, sizeof(*batch));
    for (int round = 0; round < 4; round++) {
        /* Stale items drop out of the batch; the rest are retried together. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (items[i]->result == MH_INTAKE__PENDING)
                batch[m++] = items[i];
        if (m == 0)
            break;
        enum batch_rc r = attempt(c, batch, m, &info);
        if (r == BATCH_OK) {
            committed_any = true;
            break;
        }
        if (r == BATCH_IN_DOUBT) {
            settle_doubt(gc, &c, batch, m, false, &committed_any);
            break;
        }
        if (r == BATCH_DOWN) {
            mh_log(MH_LOG_WARN, "intake", "batch of %zu deliveries not recorded: %s", m,
                   info.message);
            fail_all(batch, m, MH_EUNAVAILABLE);
            break;
        }
        if (r == BATCH_ITEM_FAILED) {
            /* One transaction per item, so only the culprit fails. */
            for (size_t i = 0; i < m && c; i++) {
                enum batch_rc one = attempt(c, &batch[i], 1, &info);
                if (one == BATCH_OK) {
                    committed_any = true;
                } else if (one == BATCH_IN_DOUBT) {
                    settle_doubt(gc, &c, &batch[i], 1, i + 1 < m, &committed_any);
                } else if (one != BATCH_STALE) {
                    mh_log(MH_LOG_ERROR, "intake", "delivery not recorded: %s (%s)", info.message,
                           info.kind);
                    fail_all(&batch[i], 1, one == BATCH_DOWN ? MH_EUNAVAILABLE : MH_EDB);
                }
            }
            break;
        }
    }
    fail_all(items, n, MH_EUNAVAILABLE);
    free(batch);
    mh_db_release(c);
    if (committed_any)
        mh_engine_runtime_wake(atomic_load(&gc->in->runtime));
}

/* A COMMIT of `items` in doubt on *c: gives the connection back, finds out (within
 * doubt_wait_ms) whether the transaction committed and settles each item's result
 * accordingly, then, when `wants_conn`, takes a connection again for what follows (*c NULL
 * when there is none). */
static void settle_doubt(struct mh_intake__committer *gc, struct mh_db_conn **c,
                         struct mh_intake__item **items, size_t n, bool wants_conn,
                         bool *committed_any)
{
    int pid = mh_db_backend_pid(*c);
    mh_db_release(*c);
    *c = NULL;
    int64_t t0 = mh_clock_mono_ms();
    enum doubt d = resolve_doubt(gc->in, items, n, pid);
    long long ms = (long long)(mh_clock_mono_ms() - t0);
    if (d == DOUBT_COMMITTED) {
        *committed_any = true;
        mh_log(MH_LOG_WARN, "intake",
               "batch of %zu deliveries: COMMIT's answer lost, found recorded after %lld ms", n,
               ms);
    } else {
        for (size_t i = 0; i < n; i++)
            items[i]->result = MH_INTAKE__PENDING;
        fail_all(items, n, d == DOUBT_NOT_COMMITTED ? MH_EUNAVAILABLE : MH_ETIMEOUT);
        mh_log(MH_LOG_WARN, "intake", "batch of %zu deliveries: COMMIT's answer lost, %s", n,
               d == DOUBT_NOT_COMMITTED ? "found not recorded"
                                        : "still unknown at the deadline (may have been recorded)");
    }
    if (wants_conn && mh_db_acquire(gc->in->commit_pool, c, NULL) != MH_OK)
        *c = NULL;
}

static enum doubt resolve_doubt(struct mh_intake *in, struct mh_intake__item **items, size_t n,
                                int pid)
{
    bool has_runs = false;
    for (size_t i = 0; i < n; i++)
        has_runs = has_runs || items[i]->result == MH_INTAKE__ACCEPTED;
    /* Only duplicates: their answer (the earlier run) holds whatever became of the COMMIT. */
    if (!has_runs)
        return DOUBT_COMMITTED;
    int64_t deadline = mh_clock_mono_ms() + in->doubt_wait_ms;
    for (;;) {
        struct mh_db_conn *c = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        bool is_gone = false, found = false;
        /* Until the process that ran the transaction is gone, a COMMIT it received may still
         * be under way: not finding the runs would prove nothing. */
        if (mh_db_acquire(in->commit_pool, &c, &info) == MH_OK &&
            mh_db_backend_is_gone(c, pid, &is_gone, &info) == MH_OK && is_gone &&
            find_runs(c, items, n, &found, &info) == MH_OK) {
            mh_db_release(c);
            return found ? DOUBT_COMMITTED : DOUBT_NOT_COMMITTED;
        }
        mh_db_release(c);
        int64_t left = deadline - mh_clock_mono_ms();
        if (left <= 0)
            return DOUBT_UNKNOWN;
        struct timespec ts = {0, (long)(left < DOUBT_POLL_MS ? left : DOUBT_POLL_MS) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* *found: some run of the accepted `items` (sorted by project) exists. One is enough: the
 * batch was one transaction. */
static enum mh_err find_runs(struct mh_db_conn *c, struct mh_intake__item **items, size_t n,
                             bool *found, struct mh_err_info *info)
{
    *found = false;
    for (size_t start = 0; start < n && !*found;) {
        size_t end = start;
        json_t *ids = json_array();
        for (; end < n && strcmp(items[end]->ep->project_id, items[start]->ep->project_id) == 0;
             end++)
            if (items[end]->result == MH_INTAKE__ACCEPTED)
                json_array_append_new(ids, json_string(items[end]->run_id));
        char *text = json_dumps(ids, JSON_COMPACT);
        json_decref(ids);
        const char *params[] = {text};
        json_t *row = NULL;
        enum mh_err rc = mh_db_begin(c, NULL, items[start]->ep->project_id, info);
        if (rc == MH_OK)
            rc = mh_db_query_row(c,
                                 "SELECT EXISTS (SELECT 1 FROM runs WHERE id IN (SELECT "
                                 "jsonb_array_elements_text($1::jsonb)::uuid)) AS found",
                                 1, params, &row, info);
        mh_db_rollback(c);
        free(text);
        if (rc != MH_OK)
            return rc;
        *found = json_is_true(json_object_get(row, "found"));
        json_decref(row);
        start = end;
    }
    return MH_OK;
}
