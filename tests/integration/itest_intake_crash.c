/* SPDX-License-Identifier: MIT */
/*
 * The durable 202 under fire: eight senders deliver webhooks as fast as the server takes them,
 * and the server is killed with SIGKILL in the middle. Every delivery that was answered 202 must
 * have its run (with the exact body it sent) and its delivery row; after a restart on the same
 * database, every run — including any committed but not yet answered when the server died —
 * must finish.
 */
#include <fcntl.h>
#include <sys/wait.h>

#include "itest_intake_common.h"

#define SENDERS 8

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A sender: POSTs {"sender": k, "seq": i} until the server stops answering; writes one line per
 * answer, "<seq> <status> <run id or ->", to `path`, flushed as it goes. */
static void sender(struct ienv *e, const char *pub, int k, const char *path)
{
    FILE *out = fopen(path, "w");
    int failures = 0;
    double end = now_ms() + 20000;
    for (int i = 0; failures < 3 && now_ms() < end; i++) {
        char body[64];
        snprintf(body, sizeof(body), "{\"sender\": %d, \"seq\": %d}", k, i);
        const char *h[] = {"Content-Type: application/json", NULL};
        struct mh_it_resp r;
        long st = hook(e, pub, "POST", h, body, strlen(body), &r);
        const char *id = json_string_value(json_object_get(r.json, "run_id"));
        fprintf(out, "%d %ld %s\n", i, st, id ? id : "-");
        fflush(out);
        failures = st == 0 ? failures + 1 : 0;
        mh_it_resp_cleanup(&r);
    }
    fclose(out);
    _exit(0);
}

MH_TEST(every_202_survives_kill_9_and_every_run_finishes)
{
    struct ienv e;
    /* Short job leases: jobs the killed server had claimed come back after them. */
    ienv_setup(&e, (const char *const[]){"--http-threads", "16", "--job-lease-ms", "3000", NULL});
    json_t *ep = ienv_endpoint(&e, "{\"rate_capacity\": 1000000, \"rate_per_second\": 1000000}");
    const char *pub = jstr(ep, "public_id");
    pid_t kids[SENDERS];
    char paths[SENDERS][128];
    for (int k = 0; k < SENDERS; k++) {
        snprintf(paths[k], sizeof(paths[k]), "%s/sender-%d.txt", e.tmp, k);
        kids[k] = fork();
        if (kids[k] == 0)
            sender(&e, pub, k, paths[k]);
    }
    mh_it_sleep_ms(1000);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    for (int k = 0; k < SENDERS; k++)
        waitpid(kids[k], NULL, 0);

    /* Every 202 has its run with exactly the body its sender sent, and its delivery row. */
    int accepted = 0;
    for (int k = 0; k < SENDERS; k++) {
        FILE *f = fopen(paths[k], "r");
        MH_T_ASSERT(f != NULL);
        int seq;
        long st;
        char run[64];
        while (fscanf(f, "%d %ld %63s", &seq, &st, run) == 3) {
            if (st != 202)
                continue;
            accepted++;
            char body[64];
            snprintf(body, sizeof(body), "{\"sender\": %d, \"seq\": %d}", k, seq);
            const char *p[] = {run, body, body};
            long n =
                sql_count(&e,
                          "SELECT count(*) AS n FROM runs r JOIN events v ON v.run_id = r.id "
                          "AND v.seq = 1 JOIN webhook_deliveries d ON d.run_id = r.id "
                          "WHERE r.id = $1::uuid AND (v.payload->'delivery'->>'raw_body')::jsonb = "
                          "$2::jsonb AND v.payload->'delivery'->>'raw_body' = $3::text",
                          3, p);
            if (n != 1)
                mh_t_fail(__FILE__, __LINE__, "202 for sender %d seq %d, but run %s is missing", k,
                          seq, run);
        }
        fclose(f);
    }
    if (accepted < 50)
        mh_t_fail(__FILE__, __LINE__, "only %d deliveries accepted before the kill", accepted);
    long runs = sql_count(&e, "SELECT count(*) AS n FROM runs", 0, NULL);
    MH_T_ASSERT(runs >= accepted);

    /* Restarted on the same database, the workers finish every run. */
    mh_it_server_start(&e.s, &e.db, (const char *const[]){"--kek", IT_KEK, "--workers", "4", NULL});
    long unfinished = -1;
    for (int i = 0; i < 600 && unfinished != 0; i++) {
        unfinished = sql_count(&e,
                               "SELECT count(*) AS n FROM runs WHERE status NOT IN "
                               "('succeeded')",
                               0, NULL);
        if (unfinished)
            mh_it_sleep_ms(100);
    }
    if (unfinished != 0)
        mh_t_fail(__FILE__, __LINE__, "%ld of %ld runs did not succeed after the restart",
                  unfinished, runs);
    fprintf(stderr, "accepted %d, runs %ld, all succeeded\n", accepted, runs);
    json_decref(ep);
    ienv_stop(&e);
}
