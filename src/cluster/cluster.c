/* SPDX-License-Identifier: MIT */
/*
 * The instance heartbeat (cluster.h). One beat is one call of mh_instance_beat (migration 0031):
 * an upsert of this instance's row and a count over the few rows of the table. While the
 * database cannot be reached the last count stays: an instance keeps its share rather than
 * taking the whole rate at once.
 */
#include "cluster/cluster.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"

/* An instance whose last beat is older than this many intervals is no longer counted. */
#define ALIVE_BEATS 3

struct mh_cluster {
    struct mh_cluster_opts opts;
    char id[MH_CRYPTO_UUID_STR_LEN];
    char host[256];
    _Atomic int intake_instances;
    bool is_failing;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool is_stopping;
    pthread_t thread;
};

static void *run(void *arg);
static void beat(struct mh_cluster *c);
static void leave(struct mh_cluster *c);

enum mh_err mh_cluster_start(const struct mh_cluster_opts *opts, struct mh_cluster **out)
{
    struct mh_cluster *c = mh_xcalloc(1, sizeof(*c));
    c->opts = *opts;
    if (mh_crypto_uuid4(c->id) != MH_OK) {
        free(c);
        return MH_ECRYPTO;
    }
    if (gethostname(c->host, sizeof(c->host)) != 0)
        c->host[0] = '\0';
    c->host[sizeof(c->host) - 1] = '\0';
    atomic_store(&c->intake_instances, 1);
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    beat(c);
    if (pthread_create(&c->thread, NULL, run, c) != 0) {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return MH_ENOMEM;
    }
    mh_log(MH_LOG_INFO, "main", "instance %s registered (%d serving webhooks)", c->id,
           atomic_load(&c->intake_instances));
    *out = c;
    return MH_OK;
}

int mh_cluster_intake_instances(const struct mh_cluster *c)
{
    if (c == NULL)
        return 1;
    int n = atomic_load_explicit(&((struct mh_cluster *)c)->intake_instances, memory_order_relaxed);
    return n < 1 ? 1 : n;
}

const char *mh_cluster_instance_id(const struct mh_cluster *c)
{
    return c->id;
}

void mh_cluster_stop(struct mh_cluster *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->is_stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    leave(c);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static void beat(struct mh_cluster *c)
{
    struct mh_db_conn *conn = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *row = NULL;
    char pid[16], workers[16], ttl[16];
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    snprintf(workers, sizeof(workers), "%d", c->opts.workers);
    snprintf(ttl, sizeof(ttl), "%d", c->opts.heartbeat_ms * ALIVE_BEATS);
    const char *params[] = {c->id, c->host, pid, c->opts.serves_intake ? "t" : "f", workers, ttl};
    enum mh_err rc = mh_db_acquire(c->opts.pool, &conn, &info);
    if (rc == MH_OK)
        rc = mh_db_query_row(conn,
                             "SELECT mh_instance_beat($1::uuid, $2, $3::int, $4::boolean, "
                             "$5::int, $6::int) AS n",
                             6, params, &row, &info);
    mh_db_release(conn);
    if (rc != MH_OK) {
        if (!c->is_failing)
            mh_log(MH_LOG_WARN, "main", "instance heartbeat failed (keeping a share of 1/%d): %s",
                   atomic_load(&c->intake_instances),
                   info.message[0] ? info.message : mh_strerror(rc));
        c->is_failing = true;
        return;
    }
    if (c->is_failing)
        mh_log(MH_LOG_INFO, "main", "instance heartbeat works again");
    c->is_failing = false;
    json_int_t n = json_integer_value(json_object_get(row, "n"));
    json_decref(row);
    if (n < 1)
        n = 1;
    int before = atomic_exchange(&c->intake_instances, (int)n);
    if (before != (int)n)
        mh_log(MH_LOG_INFO, "main", "%d instance(s) serve webhooks: rate limits are shared by them",
               (int)n);
}

static void leave(struct mh_cluster *c)
{
    struct mh_db_conn *conn = NULL;
    const char *params[] = {c->id};
    if (mh_db_acquire(c->opts.pool, &conn, NULL) == MH_OK &&
        mh_db_query(conn, "SELECT mh_instance_leave($1::uuid)", 1, params, NULL, NULL, NULL) !=
            MH_OK)
        mh_log(MH_LOG_WARN, "main", "could not remove this instance from the instances table");
    mh_db_release(conn);
}

static void *run(void *arg)
{
    struct mh_cluster *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->is_stopping) {
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += c->opts.heartbeat_ms / 1000;
        deadline.tv_nsec += (long)(c->opts.heartbeat_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!c->is_stopping)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &deadline) == ETIMEDOUT)
                break;
        if (c->is_stopping)
            break;
        pthread_mutex_unlock(&c->mu);
        beat(c);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}
