/* SPDX-License-Identifier: MIT */
/*
 * Connection pool and statement execution. Connections open lazily and are re-opened when the
 * database went away (a restart, a failover), so a waiting request either gets a working
 * connection within pool_wait_ms or a clean MH_EUNAVAILABLE — never a hang. Each connection
 * caches the statements it has prepared, keyed by SQL text.
 *
 * MH_DEBUG builds (the sanitizer builds of the tests) have a fault-injection seam: the file
 * named by MH_DEBUG_DB_FAULT_FILE, when it exists, arms one fault, "<pool> <before|after>
 * <down_ms> [skip]": after `skip` (default 0) COMMITs on connections of the pool named <pool>
 * have gone through, the next one loses its connection before the COMMIT is sent, or after it
 * has been executed (its answer dropped), and then every connection of the process fails for
 * <down_ms>, as during a database restart. The file is removed when the fault fires. Release
 * builds compile none of it.
 */
#include "db/db.h"
#include "db/db_internal.h"

#include <libpq-fe.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef MH_DEBUG
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
#endif

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "metrics/metrics.h"

#define MAX_PREPARED      256
#define CONNECT_TIMEOUT_S "5"

struct prepared {
    char *sql;
    uint64_t hash;
};

struct mh_db_conn {
    PGconn *pg;
    struct mh_db_pool *pool; /* the pool it belongs to; NULL for a standalone connection */
    char *url;
    char app_name[64]; /* application_name; "meshhook <pool name>" */
    bool is_busy;
    bool in_tx;
    bool must_check_role; /* mh_db_pool_require_app_role */
    bool is_checking_role;
    struct prepared prepared[MAX_PREPARED];
    int nprepared;
    const void *affinity; /* the key of the last mh_db_acquire_affine that took it, or NULL */
};

struct mh_db_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int size;
    int wait_ms;
    struct mh_db_conn *conns;
    int metrics_pool; /* enum mh_metrics_pool once named, else -1: not counted */
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static void forget_prepared(struct mh_db_conn *c)
{
    for (int i = 0; i < c->nprepared; i++)
        free(c->prepared[i].sql);
    c->nprepared = 0;
}

static void notice_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

#ifdef MH_DEBUG
enum fault_when { FAULT_NONE, FAULT_BEFORE, FAULT_AFTER };

static _Atomic int64_t fault_down_until_ms;

/* The fault armed for a COMMIT on `c`, consumed (the file removed) when it applies to it. */
static enum fault_when fault_take(const struct mh_db_conn *c)
{
    const char *path = getenv("MH_DEBUG_DB_FAULT_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return FAULT_NONE;
    char pool[48] = "", when[16] = "";
    int down_ms = 0, skip = 0;
    int n = fscanf(f, "%47s %15s %d %d", pool, when, &down_ms, &skip);
    fclose(f);
    const char *name = strchr(c->app_name, ' ');
    if (n < 2 || name == NULL || strcmp(name + 1, pool) != 0)
        return FAULT_NONE;
    if (skip > 0) {
        /* Not this COMMIT: one fewer to let through. */
        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s.tmp", path);
        FILE *w = fopen(tmp, "w");
        if (w) {
            fprintf(w, "%s %s %d %d\n", pool, when, down_ms, skip - 1);
            fclose(w);
            (void)!rename(tmp, path);
        }
        return FAULT_NONE;
    }
    if (unlink(path) != 0)
        return FAULT_NONE; /* another connection took it */
    atomic_store(&fault_down_until_ms, mh_clock_mono_ms() + (down_ms > 0 ? down_ms : 0));
    mh_log(MH_LOG_WARN, "db", "fault injection: connection lost %s COMMIT, database away %d ms",
           when, down_ms);
    return strcmp(when, "after") == 0 ? FAULT_AFTER : FAULT_BEFORE;
}

/* Breaks `c`'s connection as a network failure would. */
static void fault_break(struct mh_db_conn *c)
{
    shutdown(PQsocket(c->pg), SHUT_RDWR);
    PGresult *res = PQexec(c->pg, "SELECT 1"); /* libpq notices the loss */
    PQclear(res);
}

static bool fault_is_down(void)
{
    return mh_clock_mono_ms() < atomic_load(&fault_down_until_ms);
}
#endif

static enum mh_err open_conn(struct mh_db_conn *c, struct mh_err_info *info)
{
#ifdef MH_DEBUG
    /* A restart takes the open connections too. */
    if (c->pg && fault_is_down()) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
#endif
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK)
        return MH_OK;
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
    forget_prepared(c);
    c->in_tx = false;
#ifdef MH_DEBUG
    if (fault_is_down())
        return mh_err_set(info, MH_EUNAVAILABLE, "connect", -1,
                          "database unavailable: fault injection");
#endif
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {c->url, CONNECT_TIMEOUT_S, c->app_name[0] ? c->app_name : "meshhook",
                          NULL};
    c->pg = PQconnectdbParams(keys, vals, 1);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        /* libpq's message names host and database, never the password. */
        const char *m = c->pg ? PQerrorMessage(c->pg) : "out of memory";
        mh_err_set(info, MH_EUNAVAILABLE, "connect", -1, "database unavailable: %.180s", m);
        char *nl = info ? strchr(info->message, '\n') : NULL;
        if (nl)
            *nl = '\0';
        if (c->pg) {
            PQfinish(c->pg);
            c->pg = NULL;
        }
        return MH_EUNAVAILABLE;
    }
    PQsetNoticeProcessor(c->pg, notice_quiet, NULL);
    /* A statement of the check that loses its connection reopens it here, and the check then
     * runs on the new connection: it is not nested. */
    if (c->must_check_role && !c->is_checking_role) {
        struct mh_err_info ri = MH_ERR_INFO_INIT;
        c->is_checking_role = true;
        enum mh_err rc = mh_db_check_app_role(c, &ri);
        c->is_checking_role = false;
        if (rc != MH_OK) {
            if (rc == MH_EFORBIDDEN)
                mh_log(MH_LOG_ERROR, "db", "%s", ri.message);
            if (c->pg)
                PQfinish(c->pg);
            c->pg = NULL;
            forget_prepared(c);
            return mh_err_set(info, rc, ri.kind, -1, "%s", ri.message);
        }
    }
    return MH_OK;
}

enum mh_err mh_db_pool_create(const char *url, int size, int wait_ms, struct mh_db_pool **out)
{
    struct mh_db_pool *p = mh_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &ca);
    pthread_condattr_destroy(&ca);
    p->size = size;
    p->wait_ms = wait_ms;
    p->metrics_pool = -1;
    p->conns = mh_xcalloc((size_t)size, sizeof(*p->conns));
    for (int i = 0; i < size; i++) {
        p->conns[i].pool = p;
        p->conns[i].url = mh_xstrdup(url);
    }
    *out = p;
    return MH_OK;
}

void mh_db_pool_set_name(struct mh_db_pool *p, const char *name)
{
    for (int i = 0; i < p->size; i++)
        snprintf(p->conns[i].app_name, sizeof(p->conns[i].app_name), "meshhook %s", name);
    if (p->metrics_pool < 0) {
        p->metrics_pool = (int)mh_metrics_pool_of(name);
        mh_metrics_pool_size_add((enum mh_metrics_pool)p->metrics_pool, p->size);
    }
}

void mh_db_pool_require_app_role(struct mh_db_pool *p)
{
    for (int i = 0; i < p->size; i++)
        p->conns[i].must_check_role = true;
}

static void conn_cleanup(struct mh_db_conn *c)
{
    if (c->pg)
        PQfinish(c->pg);
    c->pg = NULL;
    forget_prepared(c);
    free(c->url);
    c->url = NULL;
}

void mh_db_pool_destroy(struct mh_db_pool *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < p->size; i++) {
        MH_ASSERT(!p->conns[i].is_busy);
        conn_cleanup(&p->conns[i]);
    }
    free(p->conns);
    if (p->metrics_pool >= 0)
        mh_metrics_pool_size_add((enum mh_metrics_pool)p->metrics_pool, -p->size);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static enum mh_err acquire(struct mh_db_pool *p, const void *key, struct mh_db_conn **out,
                           struct mh_err_info *info);

enum mh_err mh_db_acquire(struct mh_db_pool *p, struct mh_db_conn **out, struct mh_err_info *info)
{
    return acquire(p, NULL, out, info);
}

enum mh_err mh_db_acquire_affine(struct mh_db_pool *p, const void *key, struct mh_db_conn **out,
                                 struct mh_err_info *info)
{
    return acquire(p, key, out, info);
}

static enum mh_err acquire(struct mh_db_pool *p, const void *key, struct mh_db_conn **out,
                           struct mh_err_info *info)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += p->wait_ms / 1000;
    deadline.tv_nsec += (long)(p->wait_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    struct mh_db_conn *c = NULL;
    int64_t wait_from_ns = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        /* Prefer the connection this key had last (its session's plans are warm), then one
         * that is already open. */
        for (int i = 0; key != NULL && i < p->size && c == NULL; i++)
            if (!p->conns[i].is_busy && p->conns[i].pg && p->conns[i].affinity == key)
                c = &p->conns[i];
        for (int i = 0; i < p->size && c == NULL; i++)
            if (!p->conns[i].is_busy && p->conns[i].pg)
                c = &p->conns[i];
        for (int i = 0; i < p->size && c == NULL; i++)
            if (!p->conns[i].is_busy)
                c = &p->conns[i];
        if (c)
            break;
        if (wait_from_ns == 0)
            wait_from_ns = mh_clock_mono_ns();
        int rc = pthread_cond_timedwait(&p->cv, &p->mu, &deadline);
        if (rc == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            if (p->metrics_pool >= 0)
                mh_metrics_pool_wait((enum mh_metrics_pool)p->metrics_pool,
                                     mh_clock_mono_ns() - wait_from_ns, true);
            return mh_err_set(info, MH_EUNAVAILABLE, "pool", -1,
                              "no database connection free within %d ms", p->wait_ms);
        }
    }
    c->is_busy = true;
    if (key != NULL)
        c->affinity = key;
    pthread_mutex_unlock(&p->mu);
    if (p->metrics_pool >= 0) {
        mh_metrics_pool_in_use_add((enum mh_metrics_pool)p->metrics_pool, 1);
        if (wait_from_ns)
            mh_metrics_pool_wait((enum mh_metrics_pool)p->metrics_pool,
                                 mh_clock_mono_ns() - wait_from_ns, false);
    }

    enum mh_err rc = open_conn(c, info);
    if (rc != MH_OK) {
        mh_db_release(c);
        return rc;
    }
    *out = c;
    return MH_OK;
}

void mh_db_release(struct mh_db_conn *c)
{
    if (c == NULL)
        return;
    /* A connection goes back to the pool it came from, the only one whose mutex guards its
     * is_busy and whose condition variable its waiters sleep on. */
    struct mh_db_pool *p = c->pool;
    MH_ASSERT(p != NULL && c->is_busy);
    if (c->pg && (c->in_tx || PQtransactionStatus(c->pg) != PQTRANS_IDLE))
        mh_db_rollback(c);
    if (c->pg && PQstatus(c->pg) != CONNECTION_OK) {
        PQfinish(c->pg);
        c->pg = NULL;
        forget_prepared(c);
    }
    pthread_mutex_lock(&p->mu);
    c->is_busy = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (p->metrics_pool >= 0)
        mh_metrics_pool_in_use_add((enum mh_metrics_pool)p->metrics_pool, -1);
}

enum mh_err mh_db_connect(const char *url, struct mh_db_conn **out, struct mh_err_info *info)
{
    struct mh_db_conn *c = mh_xcalloc(1, sizeof(*c));
    c->url = mh_xstrdup(url);
    enum mh_err rc = open_conn(c, info);
    if (rc != MH_OK) {
        mh_db_close(c);
        return rc;
    }
    *out = c;
    return MH_OK;
}

void mh_db_close(struct mh_db_conn *c)
{
    if (c == NULL)
        return;
    conn_cleanup(c);
    free(c);
}

PGconn *mh_db__pg(struct mh_db_conn *c)
{
    return c ? c->pg : NULL;
}

bool mh_db_is_ok(const struct mh_db_conn *c)
{
    return c && c->pg && PQstatus(c->pg) == CONNECTION_OK;
}

int mh_db_backend_pid(const struct mh_db_conn *c)
{
    return c && c->pg ? PQbackendPID(c->pg) : 0;
}

/* Maps a failed result to an error code and a message without parameter values. */
static enum mh_err result_error(struct mh_db_conn *c, PGresult *res, struct mh_err_info *info)
{
    if (PQstatus(c->pg) != CONNECTION_OK) {
        c->in_tx = false;
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "database connection lost");
    }
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state == NULL)
        state = "";
    if (primary == NULL)
        primary = PQerrorMessage(c->pg);
    enum mh_err rc = MH_EDB;
    if (strcmp(state, "23505") == 0)
        rc = MH_ECONFLICT;
    else if (strcmp(state, "42501") == 0)
        rc = MH_EFORBIDDEN;
    else if (strncmp(state, "23", 2) == 0 || strncmp(state, "22", 2) == 0)
        rc = MH_EINVAL;
    else if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0)
        rc = MH_EUNAVAILABLE;
    else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        rc = MH_ECONFLICT;
    /* A data exception quotes the offending input, which may be a parameter value. */
    const char *quote = strncmp(state, "22", 2) == 0 ? strstr(primary, ": \"") : NULL;
    if (quote)
        mh_err_set(info, rc, state, -1, "%.*s: (value withheld)", (int)(quote - primary), primary);
    else
        mh_err_set(info, rc, state, -1, "%s", primary);
    return rc;
}

bool mh_db_err_is_db(const struct mh_err_info *info)
{
    if (info == NULL || strlen(info->kind) != 5)
        return false;
    for (int i = 0; i < 5; i++)
        if (!((info->kind[i] >= '0' && info->kind[i] <= '9') ||
              (info->kind[i] >= 'A' && info->kind[i] <= 'Z')))
            return false;
    return true;
}

static json_t *value_to_json(PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case 16: /* bool */ return json_boolean(v[0] == 't');
    case 20: /* int8 */
    case 21: /* int2 */
    case 23: /* int4 */ return json_integer(strtoll(v, NULL, 10));
    case 700: /* float4 */
    case 701: /* float8 */
    case 1700: /* numeric */ return json_real(strtod(v, NULL));
    case 114: /* json */
    case 3802: /* jsonb */ {
        json_t *j = json_loads(v, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        return j ? j : json_string(v);
    }
    default: return json_string(v);
    }
}

static json_t *result_rows(PGresult *res)
{
    json_t *rows = json_array();
    int nrows = PQntuples(res), ncols = PQnfields(res);
    for (int r = 0; r < nrows; r++) {
        json_t *o = json_object();
        for (int k = 0; k < ncols; k++)
            json_object_set_new(o, PQfname(res, k), value_to_json(res, r, k));
        json_array_append_new(rows, o);
    }
    return rows;
}

static enum mh_err prepare(struct mh_db_conn *c, const char *sql, int nparams, char *name,
                           size_t name_len, struct mh_err_info *info)
{
    uint64_t h = fnv1a(sql);
    for (int i = 0; i < c->nprepared; i++) {
        if (c->prepared[i].hash == h && strcmp(c->prepared[i].sql, sql) == 0) {
            snprintf(name, name_len, "mh_%016llx_%d", (unsigned long long)h, i);
            return MH_OK;
        }
    }
    if (c->nprepared == MAX_PREPARED) {
        /* Too many distinct statements: fall back to an unnamed one. */
        name[0] = '\0';
        return MH_OK;
    }
    int idx = c->nprepared;
    snprintf(name, name_len, "mh_%016llx_%d", (unsigned long long)h, idx);
    PGresult *res = PQprepare(c->pg, name, sql, nparams, NULL);
    enum mh_err rc = MH_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = result_error(c, res, info);
    PQclear(res);
    if (rc == MH_OK) {
        c->prepared[idx].sql = mh_xstrdup(sql);
        c->prepared[idx].hash = h;
        c->nprepared++;
    }
    return rc;
}

enum mh_err mh_db_query(struct mh_db_conn *c, const char *sql, int nparams,
                        const char *const *params, json_t **rows, long *affected,
                        struct mh_err_info *info)
{
    if (!mh_db_is_ok(c))
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "database connection lost");
    char name[64];
    enum mh_err rc;
    PGresult *res = NULL;
    for (int attempt = 0;; attempt++) {
        rc = prepare(c, sql, nparams, name, sizeof(name), info);
        if (rc == MH_OK) {
            res = name[0] ? PQexecPrepared(c->pg, name, nparams, params, NULL, NULL, 0)
                          : PQexecParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0);
            ExecStatusType st = PQresultStatus(res);
            if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
                break;
            rc = result_error(c, res, info);
            PQclear(res);
            res = NULL;
        }
        /* A connection that died between two transactions (a database restart) is reopened
         * and the statement tried once more; inside a transaction that would be wrong. */
        if (rc != MH_EUNAVAILABLE || c->in_tx || attempt > 0 || PQstatus(c->pg) == CONNECTION_OK)
            return rc;
        if (open_conn(c, info) != MH_OK)
            return MH_EUNAVAILABLE;
    }
    if (rows)
        *rows = result_rows(res);
    if (affected) {
        const char *n = PQcmdTuples(res);
        *affected = n[0] ? strtol(n, NULL, 10) : 0;
    }
    PQclear(res);
    return MH_OK;
}

enum mh_err mh_db_query_row(struct mh_db_conn *c, const char *sql, int nparams,
                            const char *const *params, json_t **row, struct mh_err_info *info)
{
    json_t *rows = NULL;
    enum mh_err rc = mh_db_query(c, sql, nparams, params, &rows, NULL, info);
    if (rc != MH_OK)
        return rc;
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return mh_err_set(info, MH_ENOTFOUND, "not-found", -1, "no such row");
    }
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return MH_OK;
}

enum mh_err mh_db_exec_script(struct mh_db_conn *c, const char *sql, struct mh_err_info *info)
{
    if (!mh_db_is_ok(c))
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "database connection lost");
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType st = PQresultStatus(res);
    enum mh_err rc = MH_OK;
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rc = result_error(c, res, info);
    PQclear(res);
    return rc;
}

static enum mh_err begin(struct mh_db_conn *c, const char *user_id, const char *project_id,
                         bool is_generic, struct mh_err_info *info)
{
    if (user_id == NULL && project_id == NULL && !is_generic) {
        enum mh_err rc = mh_db_exec_script(c, "BEGIN", info);
        c->in_tx = rc == MH_OK;
        return rc;
    }
    if (!mh_db_is_ok(c))
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "database connection lost");
    /* BEGIN and the settings row-level security reads go in one round trip: a script of two
     * statements, the values quoted by libpq. Every transaction of the server starts here. */
    const char *u = user_id ? user_id : "", *p = project_id ? project_id : "";
    char *qu = PQescapeLiteral(c->pg, u, strlen(u));
    char *qp = PQescapeLiteral(c->pg, p, strlen(p));
    enum mh_err rc = MH_OK;
    if (qu == NULL || qp == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "begin", -1, "could not quote the session settings");
    } else {
        struct mh_buf sql;
        mh_buf_init(&sql, 64 * 1024);
        rc = mh_buf_printf(
            &sql,
            "BEGIN; SELECT set_config('meshhook.user_id', %s, true), "
            "set_config('meshhook.project_id', %s, true)%s",
            qu, qp,
            is_generic ? ", set_config('plan_cache_mode', 'force_generic_plan', true)" : "");
        if (rc == MH_OK)
            rc = mh_db_exec_script(c, mh_buf_str(&sql), info);
        else
            mh_err_set(info, rc, "begin", -1, "could not write BEGIN");
        mh_buf_cleanup(&sql);
        c->in_tx = true;
        if (rc != MH_OK)
            mh_db_rollback(c);
    }
    PQfreemem(qu);
    PQfreemem(qp);
    return rc;
}

enum mh_err mh_db_begin(struct mh_db_conn *c, const char *user_id, const char *project_id,
                        struct mh_err_info *info)
{
    return begin(c, user_id, project_id, false, info);
}

enum mh_err mh_db_begin_generic(struct mh_db_conn *c, const char *user_id, const char *project_id,
                                struct mh_err_info *info)
{
    return begin(c, user_id, project_id, true, info);
}

enum mh_err mh_db_commit(struct mh_db_conn *c, struct mh_err_info *info)
{
    if (!mh_db_is_ok(c))
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "database connection lost");
#ifdef MH_DEBUG
    enum fault_when fault = fault_take(c);
    if (fault == FAULT_BEFORE)
        fault_break(c);
#endif
    PGresult *res = PQexec(c->pg, "COMMIT");
#ifdef MH_DEBUG
    if (fault == FAULT_AFTER) {
        PQclear(res);
        res = NULL;
        fault_break(c);
    }
#endif
    enum mh_err rc = MH_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = result_error(c, res, info);
        /* Sent, and no answer: the outcome is unknown, not a failure. */
        if (rc == MH_EUNAVAILABLE)
            mh_err_set(info, rc, MH_DB_IN_DOUBT, -1,
                       "the database connection was lost during COMMIT: the transaction may "
                       "have committed");
    } else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0)
        /* COMMIT of an aborted transaction "succeeds" as a rollback: that is a failure. */
        rc = mh_err_set(info, MH_EDB, "25P02", -1, "transaction was aborted and rolled back");
    PQclear(res);
    c->in_tx = false;
    return rc;
}

void mh_db_rollback(struct mh_db_conn *c)
{
    if (c->pg && PQstatus(c->pg) == CONNECTION_OK) {
        PGresult *res = PQexec(c->pg, "ROLLBACK");
        PQclear(res);
    }
    c->in_tx = false;
}
