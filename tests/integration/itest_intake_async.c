/* SPDX-License-Identifier: MIT */
/*
 * A webhook waiting for its group commit parks its connection, not a server thread (src/http's
 * suspend/resume, src/intake's mh_intake_receive_async). The commit is held back by a lock that
 * the test takes on the runs table from a connection of its own, so "waiting" lasts as long as
 * the test wants: with a single HTTP thread, the server must keep answering other requests
 * meanwhile, answer 202 once the lock goes, and still record (and shut down cleanly after) a
 * delivery whose sender hung up before the answer.
 */
#include <libpq-fe.h>

#include "itest_intake_common.h"

/* An open transaction holding a SHARE lock on runs: inserts wait until it ends. */
static PGconn *hold_runs(struct ienv *e)
{
    PGconn *c = PQconnectdb(e->db.admin_url);
    MH_T_ASSERT(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, "BEGIN; LOCK TABLE runs IN SHARE MODE");
    MH_T_ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    return c;
}

static void release_runs(PGconn *c)
{
    PGresult *r = PQexec(c, "ROLLBACK");
    MH_T_ASSERT(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

/* Sends a complete delivery to `pub` on a new connection, without reading the answer. */
static int send_delivery(struct ienv *e, const char *pub)
{
    int fd = dial(e);
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "POST /hooks/%s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: 12\r\n\r\n{\"ok\": true}",
                     pub);
    MH_T_ASSERT_EQ(write_all(fd, req, (size_t)n), (size_t)n);
    return fd;
}

static long runs(struct ienv *e)
{
    return sql_count(e, "SELECT count(*) AS n FROM runs", 0, NULL);
}

MH_TEST(a_delivery_waiting_for_its_commit_holds_no_server_thread)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--http-threads", "1", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"name\": \"parked\"}");
    const char *pub = jstr(ep, "public_id");
    PGconn *lock = hold_runs(&e);

    int waiting = send_delivery(&e, pub);
    MH_T_ASSERT_EQ(read_status(waiting, 500), 0); /* not answered: its commit waits */
    /* The only server thread is free: other requests, webhooks included, are answered. */
    int other = dial(&e);
    const char health[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    MH_T_ASSERT_EQ(write_all(other, health, sizeof(health) - 1), sizeof(health) - 1);
    MH_T_ASSERT_EQ(read_status(other, 3000), 200);
    close(other);
    int second = send_delivery(&e, pub);
    const char get[] = "GET /hooks/%s HTTP/1.1\r\nHost: x\r\n\r\n";
    char refused[256];
    int n = snprintf(refused, sizeof(refused), get, pub);
    int third = dial(&e);
    MH_T_ASSERT_EQ(write_all(third, refused, (size_t)n), (size_t)n);
    MH_T_ASSERT_EQ(read_status(third, 3000), 405); /* judged and answered while two wait */
    close(third);
    MH_T_ASSERT_EQ(runs(&e), 0);

    release_runs(lock);
    MH_T_ASSERT_EQ(read_status(waiting, 10000), 202);
    MH_T_ASSERT_EQ(read_status(second, 10000), 202);
    close(waiting);
    close(second);
    MH_T_ASSERT_EQ(runs(&e), 2);
    json_decref(ep);
    ienv_stop(&e);
}

MH_TEST(a_sender_hanging_up_mid_commit_is_recorded_and_does_not_hold_up_shutdown)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--http-threads", "2", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"name\": \"hangup\"}");
    const char *pub = jstr(ep, "public_id");
    PGconn *lock = hold_runs(&e);
    int fds[4];
    for (int i = 0; i < 4; i++)
        fds[i] = send_delivery(&e, pub);
    MH_T_ASSERT_EQ(read_status(fds[0], 500), 0);
    for (int i = 0; i < 4; i++)
        close(fds[i]); /* the senders give up before the answer */
    release_runs(lock);
    /* Each delivery was judged before its sender left: all four are committed (a sender that
     * retries without an Idempotency-Key gets a second run, as after any lost answer). */
    long n = 0;
    for (int i = 0; i < 100 && (n = runs(&e)) < 4; i++)
        mh_it_sleep_ms(100);
    MH_T_ASSERT_EQ(n, 4);
    /* The server then answers as usual, and stops at once and cleanly (ASan: no leak of the
     * abandoned requests). */
    const char *json[] = {"Content-Type: application/json", NULL};
    MH_T_ASSERT_EQ(hook_status(&e, pub, json, "{}"), 202);
    json_decref(ep);
    ienv_stop(&e);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(!contains(log, "suspended requests"));
    free(log);
}
