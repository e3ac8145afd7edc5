/* SPDX-License-Identifier: MIT */
/*
 * The connection pool's ownership rule (src/db/pool.c): a connection knows the pool it came
 * from, and mh_db_release takes only the connection, so a connection can never be handed back
 * to another pool (flipping its busy flag under the wrong mutex and leaving the right pool's
 * waiters asleep). Then the rule under contention, in this process: threads that outnumber a
 * pool's connections, and the intake's group commit with more committers than connections.
 * tests/run.sh runs this binary once more as built with ThreadSanitizer (build/tsan), where
 * a release that touched the wrong pool's state would be a reported race.
 */
#include <pthread.h>
#include <string.h>

#include "core/clock.h"
#include "intake/intake.h"
#include "itest_intake_common.h"

static struct mh_db_pool *pool_of(const struct mh_it_db *db, int size, int wait_ms)
{
    struct mh_db_pool *p = NULL;
    MH_T_ASSERT_EQ(mh_db_pool_create(db->app_url, size, wait_ms, &p), MH_OK);
    return p;
}

static void select_one(struct mh_db_conn *c)
{
    json_t *row = NULL;
    MH_T_ASSERT_EQ(mh_db_query_row(c, "SELECT 1 AS one", 0, NULL, &row, NULL), MH_OK);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "one")), 1);
    json_decref(row);
}

MH_TEST(a_connection_goes_back_to_the_pool_it_came_from)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_pool *a = pool_of(&db, 1, 200), *b = pool_of(&db, 1, 200);
    struct mh_db_conn *ca = NULL, *cb = NULL, *again = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_acquire(a, &ca, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_acquire(b, &cb, NULL), MH_OK);
    /* Both pools are empty now. */
    MH_T_ASSERT_EQ(mh_db_acquire(a, &again, &info), MH_EUNAVAILABLE);
    MH_T_ASSERT_EQ(mh_db_acquire(b, &again, NULL), MH_EUNAVAILABLE);
    /* Releasing a's connection frees a's slot, and only a's: b stays empty. */
    mh_db_release(ca);
    MH_T_ASSERT_EQ(mh_db_acquire(b, &again, NULL), MH_EUNAVAILABLE);
    MH_T_ASSERT_EQ(mh_db_acquire(a, &again, NULL), MH_OK);
    MH_T_ASSERT(again == ca); /* the same connection, still open */
    select_one(again);
    mh_db_release(again);
    mh_db_release(cb);
    MH_T_ASSERT_EQ(mh_db_acquire(b, &again, NULL), MH_OK);
    MH_T_ASSERT(again == cb);
    mh_db_release(again);
    mh_db_release(NULL); /* tolerated */
    /* Destroying asserts that every connection came back. */
    mh_db_pool_destroy(a);
    mh_db_pool_destroy(b);
}

static long backend_pid(struct mh_db_conn *c)
{
    json_t *row = NULL;
    MH_T_ASSERT_EQ(mh_db_query_row(c, "SELECT pg_backend_pid() AS pid", 0, NULL, &row, NULL),
                   MH_OK);
    long pid = (long)json_integer_value(json_object_get(row, "pid"));
    json_decref(row);
    return pid;
}

/* An affine acquire gets the session its key had last, while it is free, although a plain
 * acquire would take the first open one; a plain acquire in between does not lose it. */
MH_TEST(an_affine_acquire_finds_its_session_again)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_pool *p = pool_of(&db, 3, 2000);
    static const int key; /* any address the caller owns */
    struct mh_db_conn *c1 = NULL, *c2 = NULL, *c3 = NULL, *k = NULL, *plain = NULL;
    /* Open three connections; the key's is the third, not one a plain acquire would give. */
    MH_T_ASSERT_EQ(mh_db_acquire(p, &c1, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_acquire(p, &c2, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_acquire_affine(p, &key, &c3, NULL), MH_OK);
    long first = backend_pid(c1), mine = backend_pid(c3);
    MH_T_ASSERT(first != mine && backend_pid(c2) != mine);
    mh_db_release(c3);
    mh_db_release(c2);
    mh_db_release(c1);
    for (int i = 0; i < 5; i++) {
        MH_T_ASSERT_EQ(mh_db_acquire(p, &plain, NULL), MH_OK);
        MH_T_ASSERT_EQ(backend_pid(plain), first); /* plain: the first open one */
        MH_T_ASSERT_EQ(mh_db_acquire_affine(p, &key, &k, NULL), MH_OK);
        MH_T_ASSERT_EQ(backend_pid(k), mine);
        mh_db_release(k);
        mh_db_release(plain);
    }
    /* While its session is busy, the key takes another, and has that one from then on. */
    MH_T_ASSERT_EQ(mh_db_acquire_affine(p, &key, &c2, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_acquire_affine(p, &key, &k, NULL), MH_OK);
    long other = backend_pid(k);
    MH_T_ASSERT(other != mine);
    mh_db_release(c2);
    mh_db_release(k);
    MH_T_ASSERT_EQ(mh_db_acquire_affine(p, &key, &k, NULL), MH_OK);
    long now = backend_pid(k);
    MH_T_ASSERT(now == other || now == mine); /* both were the key's last; either is warm */
    mh_db_release(k);
    mh_db_pool_destroy(p);
}

/* A release wakes a thread waiting on the same pool at once, not at the end of its wait. */
struct waiter {
    struct mh_db_pool *pool;
    enum mh_err rc;
    int64_t waited_ms;
};

static void *wait_for_conn(void *arg)
{
    struct waiter *w = arg;
    struct mh_db_conn *c = NULL;
    int64_t t0 = mh_clock_mono_ms();
    w->rc = mh_db_acquire(w->pool, &c, NULL);
    w->waited_ms = mh_clock_mono_ms() - t0;
    mh_db_release(c);
    return NULL;
}

MH_TEST(a_release_wakes_a_waiter_of_its_pool)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_pool *p = pool_of(&db, 1, 20000);
    struct mh_db_conn *c = NULL;
    MH_T_ASSERT_EQ(mh_db_acquire(p, &c, NULL), MH_OK);
    struct waiter w = {.pool = p, .rc = MH_EINVAL};
    pthread_t t;
    MH_T_ASSERT_EQ(pthread_create(&t, NULL, wait_for_conn, &w), 0);
    mh_it_sleep_ms(300);
    mh_db_release(c);
    MH_T_ASSERT_EQ(pthread_join(t, NULL), 0);
    MH_T_ASSERT_EQ(w.rc, MH_OK);
    MH_T_ASSERT(w.waited_ms < 10000); /* signalled, not timed out at 20 s */
    mh_db_pool_destroy(p);
}

struct hammer {
    struct mh_db_pool *pool;
    int ok;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 40; i++) {
        struct mh_db_conn *c = NULL;
        if (mh_db_acquire(h->pool, &c, NULL) != MH_OK)
            continue;
        json_t *row = NULL;
        if (mh_db_query_row(c, "SELECT 1 AS one", 0, NULL, &row, NULL) == MH_OK)
            h->ok++;
        json_decref(row);
        mh_db_release(c);
    }
    return NULL;
}

MH_TEST(threads_that_outnumber_the_connections_all_get_one)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_db_pool *p = pool_of(&db, 2, 30000);
    enum { N = 8 };
    pthread_t t[N];
    struct hammer h[N];
    for (int i = 0; i < N; i++) {
        h[i] = (struct hammer){.pool = p};
        MH_T_ASSERT_EQ(pthread_create(&t[i], NULL, hammer_main, &h[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_EQ(pthread_join(t[i], NULL), 0);
        MH_T_ASSERT_EQ(h[i].ok, 40);
    }
    mh_db_pool_destroy(p);
}

/* ---- The intake's group commit, in this process ---------------------------------------- */

struct sender {
    struct mh_intake *in;
    const char *public_id;
    int accepted;
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    for (int i = 0; i < 10; i++) {
        char body[64];
        int len = snprintf(body, sizeof(body), "{\"n\": %d}", i);
        struct mh_intake_header hdr = {"Content-Type", "application/json"};
        struct mh_intake_request rq = {
            .public_id = s->public_id,
            .method = "POST",
            .headers = &hdr,
            .nheaders = 1,
            .body = body,
            .body_len = (size_t)len,
            .request_id = "itest-pool",
        };
        struct mh_intake_result res = {0};
        mh_intake_receive(s->in, &rq, &res);
        if (res.status == 202 && res.run_id[0])
            s->accepted++;
        mh_intake_result_cleanup(&res);
    }
    return NULL;
}

MH_TEST(the_group_commit_with_more_committers_than_connections)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"name\": \"pool\"}");
    const char *pub = jstr(ep, "public_id");
    /* Four committers share one connection of their own pool; the endpoint cache and the
     * delivery log use another pool. */
    struct mh_db_pool *pool = pool_of(&e.db, 2, 30000), *commit_pool = pool_of(&e.db, 1, 30000);
    mh_db_pool_set_name(commit_pool, "intake");
    struct mh_intake *in = NULL;
    struct mh_intake_opts opts = {
        .pool = pool,
        .commit_pool = commit_pool,
        .committers = 4,
        .max_batch = 2,
        .server_max_body_bytes = 1 << 20,
    };
    MH_T_ASSERT_EQ(mh_intake_create(&opts, &in, NULL), MH_OK);
    enum { N = 8 };
    pthread_t t[N];
    struct sender s[N];
    for (int i = 0; i < N; i++) {
        s[i] = (struct sender){.in = in, .public_id = pub};
        MH_T_ASSERT_EQ(pthread_create(&t[i], NULL, sender_main, &s[i]), 0);
    }
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_EQ(pthread_join(t[i], NULL), 0);
        accepted += s[i].accepted;
    }
    MH_T_ASSERT_EQ(accepted, N * 10);
    mh_intake_log_flush(in, 10000);
    mh_intake_destroy(in);
    /* Every connection came back to its own pool (destroy asserts it), and every accepted
     * delivery is a run. */
    mh_db_pool_destroy(commit_pool);
    mh_db_pool_destroy(pool);
    json_t *rows = mh_it_sql(e.db.admin_url, "SELECT count(*) AS n FROM runs", 0, NULL, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), N * 10);
    json_decref(rows);
    json_decref(ep);
    ienv_stop(&e);
}
