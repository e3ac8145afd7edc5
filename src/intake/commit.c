/* SPDX-License-Identifier: MIT */
/*
 * Group commit. Request threads queue the deliveries they have judged and wait; committer
 * threads take everything queued (up to max_batch) and record it in ONE transaction — for each
 * delivery its run, first event and job (mh_engine_run_create), its delivery row and its
 * idempotency key — then COMMIT, and only then release the waiting threads, which answer 202.
 * Under load the queue fills while a transaction commits, so batches grow by themselves and
 * the cost of a commit (a WAL flush, a round trip) is shared; with one request in flight a batch
 * is that one request and nothing waits for company.
 *
 * Failure isolation: a delivery whose endpoint changed since it was judged (config_version no
 * longer current) is set aside as stale and the rest retried without it; a statement that fails
 * for any other reason rolls the batch back, and its deliveries are retried one per
 * transaction, so one bad delivery cannot fail its neighbours. A duplicate idempotency key is
 * undone to a savepoint taken before that delivery (only keyed deliveries take one). When the
 * database is unreachable or COMMIT fails, every delivery of the batch fails and is answered
 * 503: a commit whose outcome is unknown is never reported as a success.
 */
#include "intake/intake_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "engine/store.h"

struct mh_intake__committer {
    struct mh_intake *in;
    pthread_mutex_t mu;
    pthread_cond_t work_cv;
    pthread_cond_t done_cv;
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
};

static void *run(void *arg);
static void process(struct mh_intake__committer *gc, struct mh_intake__item **items, size_t n);
static enum batch_rc attempt(struct mh_intake__committer *gc, struct mh_db_conn *c,
                             struct mh_intake__item **items, size_t n, struct mh_err_info *info);
static enum mh_err record(struct mh_db_conn *c, struct mh_intake__item *it, bool *is_stale,
                          bool *is_dup, struct mh_err_info *info);

static const char *const delivery_sql =
    "WITH e AS (SELECT id FROM webhook_endpoints WHERE id = $1 AND config_version = $2::bigint), "
    "k AS (INSERT INTO idempotency_keys AS i (project_id, endpoint_id, key, run_id, expires_at) "
    "SELECT $3, $1, $4::text, $5, now() + $6::int * interval '1 second' FROM e "
    "WHERE $4::text IS NOT NULL "
    "ON CONFLICT (endpoint_id, key) DO UPDATE SET run_id = EXCLUDED.run_id, created_at = now(), "
    "expires_at = EXCLUDED.expires_at WHERE i.expires_at <= now() RETURNING 1), "
    "d AS (INSERT INTO webhook_deliveries (id, project_id, endpoint_id, received_at, method, "
    "status, outcome, headers, content_type, body_size, body_hash, key_id, run_id, is_test) "
    "SELECT $7, $3, $1, $8::timestamptz, $9, 202, 'accepted', $10::jsonb, $11, $12::int, "
    "$13::bytea, $14::uuid, $5, $15::boolean FROM e "
    "WHERE $4::text IS NULL OR EXISTS (SELECT 1 FROM k) RETURNING 1) "
    "SELECT (SELECT count(*) FROM e)::int AS fresh, (SELECT count(*) FROM k)::int AS claimed, "
    "(SELECT count(*) FROM d)::int AS logged";

enum mh_err mh_intake__committer_start(struct mh_intake *in, int threads, int max_batch,
                                       struct mh_intake__committer **out)
{
    struct mh_intake__committer *gc = mh_xcalloc(1, sizeof(*gc));
    gc->in = in;
    gc->max_batch = max_batch > 0 ? max_batch : 64;
    pthread_mutex_init(&gc->mu, NULL);
    pthread_cond_init(&gc->work_cv, NULL);
    pthread_cond_init(&gc->done_cv, NULL);
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
    pthread_cond_destroy(&gc->done_cv);
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
    while (item->outcome == MH_INTAKE__PENDING)
        pthread_cond_wait(&gc->done_cv, &gc->mu);
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
        /* Results are worked out in `result` and published to `outcome` under the lock, so a
         * waiting thread never sees a half-written item. */
        process(gc, items, n);
        pthread_mutex_lock(&gc->mu);
        for (size_t i = 0; i < n; i++)
            items[i]->outcome = items[i]->result;
        pthread_cond_broadcast(&gc->done_cv);
    }
    pthread_mutex_unlock(&gc->mu);
    free(items);
    return NULL;
}

/* Records one delivery in the open transaction. */
static enum mh_err record(struct mh_db_conn *c, struct mh_intake__item *it, bool *is_stale,
                          bool *is_dup, struct mh_err_info *info)
{
    const struct mh_intake__endpoint *ep = it->ep;
    json_t *row = NULL;
    enum mh_err rc;
    *is_stale = false;
    *is_dup = false;
    if (it->blob_hex) {
        char size[24];
        snprintf(size, sizeof(size), "%zu", it->body_size);
        const char *bp[] = {ep->project_id, it->blob_hash_hex, size, it->content_type,
                            it->blob_hex};
        rc = mh_db_query(c,
                         "INSERT INTO blobs (project_id, hash, size_bytes, content_type, data) "
                         "VALUES ($1, $2::bytea, $3::int, $4, $5::bytea) ON CONFLICT DO NOTHING",
                         5, bp, NULL, NULL, info);
        if (rc != MH_OK)
            return rc;
    }
    struct mh_run_start s = {
        .project_id = ep->project_id,
        .workflow_id = ep->workflow_id,
        .version_id = ep->version_id,
        .version = ep->version,
        .trigger = it->trigger,
        .extra = it->extra,
        .is_test = it->is_test,
        .delivery_id = it->delivery_id,
    };
    rc = mh_engine_run_create(c, &s, it->run_id, info);
    if (rc != MH_OK)
        return rc;
    char cv[24], retention[16];
    snprintf(cv, sizeof(cv), "%lld", (long long)ep->config_version);
    snprintf(retention, sizeof(retention), "%d", ep->retention_s);
    const char *params[] = {ep->id,
                            cv,
                            ep->project_id,
                            it->idem_key,
                            it->run_id,
                            retention,
                            it->delivery_id,
                            it->received_at,
                            it->method,
                            it->headers_json,
                            it->content_type,
                            NULL,
                            it->body_hash_hex,
                            NULL,
                            it->is_test ? "true" : "false"};
    char body_size[24];
    snprintf(body_size, sizeof(body_size), "%zu", it->body_size);
    params[11] = body_size;
    params[13] = it->key_id;
    rc = mh_db_query_row(c, delivery_sql, 15, params, &row, info);
    if (rc != MH_OK)
        return rc;
    *is_stale = json_integer_value(json_object_get(row, "fresh")) == 0;
    *is_dup =
        !*is_stale && it->idem_key && json_integer_value(json_object_get(row, "claimed")) == 0;
    json_decref(row);
    return MH_OK;
}

/* One transaction over `items`. On BATCH_OK every item has its outcome; otherwise outcomes are
 * meaningful only for items marked STALE. */
static enum batch_rc attempt(struct mh_intake__committer *gc, struct mh_db_conn *c,
                             struct mh_intake__item **items, size_t n, struct mh_err_info *info)
{
    (void)gc;
    const char *project = NULL;
    bool any_stale = false;
    enum mh_err rc = mh_db_begin(c, NULL, NULL, info);
    if (rc != MH_OK)
        return BATCH_DOWN;
    for (size_t i = 0; i < n; i++) {
        struct mh_intake__item *it = items[i];
        it->result = MH_INTAKE__PENDING;
        if (project == NULL || strcmp(project, it->ep->project_id) != 0) {
            project = it->ep->project_id;
            const char *p[] = {project};
            rc = mh_db_query(c, "SELECT set_config('meshhook.project_id', $1, true)", 1, p, NULL,
                             NULL, info);
            if (rc != MH_OK)
                goto failed;
        }
        if (it->idem_key && (rc = mh_db_exec_script(c, "SAVEPOINT d", info)) != MH_OK)
            goto failed;
        bool is_stale = false, is_dup = false;
        rc = record(c, it, &is_stale, &is_dup, info);
        if (rc != MH_OK)
            goto failed;
        if (is_stale) {
            it->result = MH_INTAKE__STALE;
            any_stale = true;
            continue;
        }
        if (is_dup) {
            json_t *row = NULL;
            const char *kp[] = {it->ep->id, it->idem_key};
            if ((rc = mh_db_exec_script(c, "ROLLBACK TO SAVEPOINT d", info)) != MH_OK ||
                (rc = mh_db_query_row(c,
                                      "SELECT run_id FROM idempotency_keys WHERE endpoint_id = $1 "
                                      "AND key = $2",
                                      2, kp, &row, info)) != MH_OK)
                goto failed;
            snprintf(it->run_id, sizeof(it->run_id), "%s",
                     json_string_value(json_object_get(row, "run_id")));
            json_decref(row);
            it->result = MH_INTAKE__DUPLICATE;
            continue;
        }
        it->result = MH_INTAKE__ACCEPTED;
    }
    if (any_stale) {
        mh_db_rollback(c);
        return BATCH_STALE;
    }
    rc = mh_db_commit(c, info);
    if (rc != MH_OK) {
        for (size_t i = 0; i < n; i++)
            items[i]->result = MH_INTAKE__PENDING;
        return BATCH_DOWN;
    }
    return BATCH_OK;
failed:
    mh_db_rollback(c);
    for (size_t i = 0; i < n; i++)
        if (items[i]->result != MH_INTAKE__STALE)
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
    if (mh_db_acquire(gc->in->pool, &c, &info) != MH_OK) {
        fail_all(items, n, MH_EUNAVAILABLE);
        return;
    }
    size_t live = n;
    struct mh_intake__item **batch = mh_xcalloc(n, sizeof(*batch));
    for (int round = 0; live > 0 && round < 4; round++) {
        /* Stale items drop out of the batch; the rest are retried together. */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (items[i]->result == MH_INTAKE__PENDING)
                batch[m++] = items[i];
        enum batch_rc r = attempt(gc, c, batch, m, &info);
        if (r == BATCH_OK) {
            committed_any = true;
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
            for (size_t i = 0; i < m; i++) {
                enum batch_rc one = attempt(gc, c, &batch[i], 1, &info);
                if (one == BATCH_OK) {
                    committed_any = true;
                } else if (one != BATCH_STALE) {
                    mh_log(MH_LOG_ERROR, "intake", "delivery not recorded: %s (%s)", info.message,
                           info.kind);
                    fail_all(&batch[i], 1, one == BATCH_DOWN ? MH_EUNAVAILABLE : MH_EDB);
                }
            }
            break;
        }
        live = 0;
        for (size_t i = 0; i < n; i++)
            live += items[i]->result == MH_INTAKE__PENDING;
    }
    fail_all(items, n, MH_EUNAVAILABLE);
    free(batch);
    mh_db_release(gc->in->pool, c);
    if (committed_any)
        mh_engine_runtime_wake(atomic_load(&gc->in->runtime));
}
