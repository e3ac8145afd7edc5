/* SPDX-License-Identifier: MIT */
/*
 * Live run streams (issue #15), end to end: the real server and a real PostgreSQL, read by a
 * small Server-Sent Events client over a plain socket (so a test can also not read at all). A
 * subscriber that reconnects with Last-Event-ID gets every event exactly once and in order; a
 * second server on the same database streams what the first one's workers append; a stalled
 * subscriber delays nobody; another tenant's run is 404; a viewer without pii:read sees redacted
 * payloads; SIGTERM ends streams and the server exits in time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "sse_client.h"

#define KEK   "it1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define EMAIL "jane.doe@example.com"

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
};

static void setup(struct env *e, const char *const *args)
{
    mh_it_db_create(&e->db, true);
    mh_it_server_start(&e->s, &e->db, args);
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->bearer, e->user);
    mh_it_project(&e->s, e->bearer, "streams", e->project);
}

/* Creates and publishes a workflow; `id` receives its id. */
static void workflow(struct env *e, json_t *def, char *id)
{
    json_t *req = json_pack("{s:s, s:O}", "name", "wf", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    long st;
    json_t *w = mh_it_api(&e->s, e->bearer, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    free(body);
    json_decref(req);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_decref(mh_it_api(&e->s, e->bearer, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
}

static void start_run(const struct mh_it_server *s, const char *bearer, const char *project,
                      const char *wf, const char *payload, char *run_id)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", project, wf);
    size_t cap = strlen(payload) + 32;
    char *body = malloc(cap);
    snprintf(body, cap, "{\"payload\": %s}", payload);
    long st;
    json_t *r = mh_it_api(s, bearer, "POST", path, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 202);
    snprintf(run_id, 40, "%s", json_string_value(json_object_get(r, "run_id")));
    json_decref(r);
}

/* A chain of `n` transforms, then a delay of `delay_ms`, then a terminate: many events, and a
 * run that lasts long enough to disconnect in the middle of it. */
static json_t *chain_def(int n, int delay_ms)
{
    json_t *nodes = json_array(), *edges = json_array();
    char prev[16] = "", id[16];
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "t%d", i);
        json_array_append_new(nodes, json_pack("{s:s, s:s, s:{s:s}}", "id", id, "type", "transform",
                                               "config", "expression", "trigger.body"));
        if (prev[0])
            json_array_append_new(edges, json_pack("{s:s, s:s}", "from", prev, "to", id));
        snprintf(prev, sizeof(prev), "%s", id);
    }
    json_array_append_new(nodes, json_pack("{s:s, s:s, s:{s:i}}", "id", "wait", "type", "delay",
                                           "config", "duration_ms", delay_ms));
    json_array_append_new(edges, json_pack("{s:s, s:s}", "from", prev, "to", "wait"));
    json_array_append_new(nodes, json_pack("{s:s, s:s, s:{s:s}}", "id", "end", "type", "terminate",
                                           "config", "output", "steps.t0.output"));
    json_array_append_new(edges, json_pack("{s:s, s:s}", "from", "wait", "to", "end"));
    return json_pack("{s:o, s:o}", "nodes", nodes, "edges", edges);
}

static void stream_path(char *out, size_t cap, const char *project, const char *run)
{
    snprintf(out, cap, "/api/projects/%s/runs/%s/stream", project, run);
}

static bool is_terminal_type(const char *type)
{
    return strcmp(type, "run_succeeded") == 0 || strcmp(type, "run_failed") == 0 ||
           strcmp(type, "run_canceled") == 0;
}

/* Reads run events into `into` (an array of parsed data objects) until a terminal one, failing
 * the test after `ms`; checks each id is its data's seq. */
static void read_until_terminal(struct mh_sse *c, json_t *into, int ms)
{
    struct mh_sse_msg m;
    for (;;) {
        MH_T_ASSERT(mh_sse_next(c, ms, &m));
        if (m.is_comment || (m.retry[0] && !m.event[0]))
            continue;
        MH_T_ASSERT_STR_EQ(m.event, "run_event");
        json_t *d = json_loads(m.data, 0, NULL);
        MH_T_ASSERT(d != NULL);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(d, "seq")), strtoll(m.id, NULL, 10));
        json_array_append_new(into, d);
        if (is_terminal_type(json_string_value(json_object_get(d, "type"))))
            return;
    }
}

/* The run's events through the list API (the shape each stream message must have). */
static json_t *list_events(const struct mh_it_server *s, const char *bearer, const char *project,
                           const char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", project, run);
    long st;
    json_t *r = mh_it_api(s, bearer, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *ev = json_incref(json_object_get(r, "events"));
    json_decref(r);
    return ev;
}

MH_TEST(resume_with_last_event_id_gets_every_event_once_in_order)
{
    struct env e;
    setup(&e, NULL);
    json_t *def = chain_def(6, 1500);
    char wf[40], run[40], path[256];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{\"n\": 1}", run);
    stream_path(path, sizeof(path), e.project, run);

    /* First connection: a few events, then the client drops mid-run. */
    struct mh_sse c;
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, NULL), 200);
    MH_T_ASSERT(mh_sse_content_type_is(&c, "text/event-stream"));
    json_t *got = json_array();
    struct mh_sse_msg m;
    MH_T_ASSERT(mh_sse_next(&c, 5000, &m));
    MH_T_ASSERT_STR_EQ(m.retry, "2000"); /* the reconnection delay comes first */
    char last[256] = "";
    while (json_array_size(got) < 3) {
        MH_T_ASSERT(mh_sse_next(&c, 5000, &m));
        if (m.is_comment || !m.event[0])
            continue;
        json_array_append_new(got, json_loads(m.data, 0, NULL));
        snprintf(last, sizeof(last), "%s", m.id);
    }
    mh_sse_close(&c);
    /* Events go on being appended while nobody listens (the run is in its delay). */
    mh_it_sleep_ms(300);

    /* Reconnection from the last id seen: the rest, and nothing twice. */
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, last), 200);
    read_until_terminal(&c, got, 15000);
    mh_sse_close(&c);

    json_t *want = list_events(&e.s, e.bearer, e.project, run);
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    if (strcmp(g, w) != 0)
        mh_t_fail(__FILE__, __LINE__, "streamed events differ from the log:\n%s\n%s", g, w);
    MH_T_ASSERT(json_array_size(want) >= 10);
    free(g);
    free(w);

    /* ?after_seq= resumes the same way; a Last-Event-ID header, newer, wins over it. */
    char q[300];
    snprintf(q, sizeof(q), "%s?after_seq=%zu", path, json_array_size(want) - 2);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, q, e.bearer, NULL), 200);
    json_t *tail = json_array();
    read_until_terminal(&c, tail, 5000);
    MH_T_ASSERT_EQ(json_array_size(tail), 2);
    json_decref(tail);
    mh_sse_close(&c);
    char lastid[32];
    snprintf(lastid, sizeof(lastid), "%zu", json_array_size(want) - 1);
    snprintf(q, sizeof(q), "%s?after_seq=0", path);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, q, e.bearer, lastid), 200);
    tail = json_array();
    read_until_terminal(&c, tail, 5000);
    MH_T_ASSERT_EQ(json_array_size(tail), 1);
    json_decref(tail);
    /* The stream stays open after the terminal event (a run can be resumed later). */
    MH_T_ASSERT(!mh_sse_next(&c, 300, &m) && !c.is_eof);
    mh_sse_close(&c);

    /* Bad resume positions are refused before the stream starts. */
    snprintf(q, sizeof(q), "%s?after_seq=x", path);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, q, e.bearer, NULL), 422);
    MH_T_ASSERT(strstr(c.body, "after_seq") != NULL);
    mh_sse_close(&c);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, "-1"), 422);
    mh_sse_close(&c);
    /* Without credentials: 401. */
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, NULL, NULL), 401);
    mh_sse_close(&c);

    json_decref(want);
    json_decref(got);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(a_second_server_streams_what_the_first_appends)
{
    struct env e;
    setup(&e, NULL);
    /* The second server runs no workers: whatever it streams was appended by the first. */
    struct mh_it_server s2;
    mh_it_server_start(&s2, &e.db, (const char *const[]){"--workers", "0", NULL});
    json_t *def = chain_def(3, 800);
    char wf[40], run[40], path[256];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{}", run);
    stream_path(path, sizeof(path), e.project, run);
    struct mh_sse c;
    MH_T_ASSERT_EQ(mh_sse_open(&c, s2.port, path, e.bearer, NULL), 200);
    json_t *got = json_array();
    read_until_terminal(&c, got, 15000);
    mh_sse_close(&c);
    json_t *want = list_events(&e.s, e.bearer, e.project, run);
    MH_T_ASSERT_EQ(json_array_size(got), json_array_size(want));
    for (size_t i = 0; i < json_array_size(got); i++)
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(got, i), "seq")),
                       (long long)i + 1);
    json_decref(got);
    json_decref(want);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s2, SIGTERM), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* Starts a run of a 30-transform chain whose every step's output is its ~200 KB payload; `run`
 * receives its id, `path` its stream's path. */
static void start_big_run(struct env *e, char *run, char *path)
{
    json_t *def = chain_def(30, 10);
    char wf[40];
    workflow(e, def, wf);
    json_decref(def);
    char *big = malloc(200100);
    memcpy(big, "{\"s\": \"", 7);
    memset(big + 7, 'x', 200000);
    memcpy(big + 200007, "\"}", 3);
    start_run(&e->s, e->bearer, e->project, wf, big, run);
    free(big);
    stream_path(path, 256, e->project, run);
}

MH_TEST(a_stalled_subscriber_delays_nobody_and_is_cut_off)
{
    struct env e;
    setup(&e, (const char *const[]){"--stream-queue-bytes", "65536", "--connection-timeout-s", "2",
                                    NULL});
    /* Each event carries ~200 KB: far more than the stalled client's buffers and queue hold
     * (loopback's socket buffers grow to megabytes). */
    char run[40], path[256];
    start_big_run(&e, run, path);
    struct mh_sse stalled, healthy;
    MH_T_ASSERT_EQ(mh_sse_open_stalled(&stalled, e.s.port, path, e.bearer), 0);
    MH_T_ASSERT_EQ(mh_sse_open(&healthy, e.s.port, path, e.bearer, NULL), 200);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    json_t *got = json_array();
    read_until_terminal(&healthy, got, 20000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    json_t *want = list_events(&e.s, e.bearer, e.project, run);
    MH_T_ASSERT_EQ(json_array_size(got), json_array_size(want));
    mh_sse_close(&healthy);
    json_decref(got);
    json_decref(want);

    /* The stalled one, making no progress, is disconnected by the connection timeout: reading
     * it now ends before the run's end. */
    mh_it_sleep_ms(3000);
    size_t n = mh_sse_drain(&stalled, 10000);
    if (!stalled.is_eof) {
        char *log = mh_it_server_log(&e.s);
        mh_t_fail(__FILE__, __LINE__, "stalled still open after %zu bytes (%s): %s", n,
                  strstr(stalled.raw ? stalled.raw : "", "run_succeeded") ? "got all" : "partial",
                  log + (strlen(log) > 2000 ? strlen(log) - 2000 : 0));
    }
    MH_T_ASSERT(strstr(stalled.raw ? stalled.raw : "", "run_succeeded") == NULL);
    MH_T_ASSERT(n > 0);
    mh_sse_close(&stalled);
    /* Healthy, it would have had it all by now. */
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    MH_T_ASSERT(secs < 15);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* A client that reads steadily, only slowly, is never cut off, however large the events: the
 * next event, or heartbeat, waits until its queue has room. (Each was once written on top of
 * what the queue still held, more than the queue takes, and the stream ended as too slow: CI.) */
MH_TEST(a_slow_reader_of_large_events_gets_them_all)
{
    struct env e;
    setup(&e, (const char *const[]){"--stream-queue-bytes", "65536", "--stream-heartbeat-ms", "100",
                                    NULL});
    char run[40], path[256];
    start_big_run(&e, run, path);
    struct mh_sse slow;
    MH_T_ASSERT_EQ(mh_sse_open_slow(&slow, e.s.port, path, e.bearer, 16384, 1), 200);
    json_t *got = json_array();
    read_until_terminal(&slow, got, 20000);
    mh_sse_close(&slow);
    json_t *want = list_events(&e.s, e.bearer, e.project, run);
    MH_T_ASSERT(json_array_size(want) >= 32);
    MH_T_ASSERT_EQ(json_array_size(got), json_array_size(want));
    json_decref(got);
    json_decref(want);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(another_tenants_run_is_404)
{
    struct env e;
    setup(&e, NULL);
    json_t *def = chain_def(1, 10);
    char wf[40], run[40], path[256];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{}", run);
    /* Bob owns project B and is no member of A. */
    char bob[128], bob_id[40], pb[40];
    mh_it_user_token(&e.db, &e.s, "bob@example.com", bob, bob_id);
    mh_it_project(&e.s, bob, "b", pb);
    struct mh_sse c;
    stream_path(path, sizeof(path), e.project, run);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, bob, NULL), 404);
    MH_T_ASSERT(strstr(c.body, "\"not_found\"") != NULL);
    mh_sse_close(&c);
    /* A's run under B's id: 404 as well, never A's events. */
    stream_path(path, sizeof(path), pb, run);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, bob, NULL), 404);
    MH_T_ASSERT(strstr(c.body, "run not found") != NULL);
    mh_sse_close(&c);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(a_viewer_without_pii_read_gets_redacted_payloads)
{
    struct env e;
    setup(&e, (const char *const[]){"--kek", KEK, NULL});
    char viewer[128], viewer_id[40], path[256];
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", viewer, viewer_id);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e.project);
    long st;
    json_decref(mh_it_api(&e.s, e.bearer, "POST", path,
                          "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    json_t *def = chain_def(1, 500);
    char wf[40], run[40];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{\"email\": \"" EMAIL "\"}", run);
    stream_path(path, sizeof(path), e.project, run);
    struct mh_sse cv, co;
    MH_T_ASSERT_EQ(mh_sse_open(&cv, e.s.port, path, viewer, NULL), 200);
    MH_T_ASSERT_EQ(mh_sse_open(&co, e.s.port, path, e.bearer, NULL), 200);
    json_t *seen = json_array(), *own = json_array();
    read_until_terminal(&cv, seen, 10000);
    read_until_terminal(&co, own, 10000);
    char *sv = json_dumps(seen, JSON_COMPACT), *so = json_dumps(own, JSON_COMPACT);
    MH_T_ASSERT(strstr(so, EMAIL) != NULL);
    if (strstr(sv, "jane.doe") != NULL)
        mh_t_fail(__FILE__, __LINE__, "the viewer's stream is not redacted: %s", sv);
    MH_T_ASSERT(strstr(sv, "redacted") != NULL);
    MH_T_ASSERT_EQ(json_array_size(seen), json_array_size(own));
    free(sv);
    free(so);
    json_decref(seen);
    json_decref(own);
    mh_sse_close(&cv);
    mh_sse_close(&co);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* meshhook_stream_subscribers as /metrics shows it (loopback may scrape without a token). */
static long stream_gauge(const struct mh_it_server *s)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", s->base);
    struct mh_it_resp r;
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    const char *at = r.body ? strstr(r.body, "\nmeshhook_stream_subscribers ") : NULL;
    MH_T_ASSERT(at != NULL);
    long v = strtol(at + strlen("\nmeshhook_stream_subscribers "), NULL, 10);
    mh_it_resp_cleanup(&r);
    return v;
}

MH_TEST(idle_streams_get_heartbeats_and_outlive_the_connection_timeout)
{
    struct env e;
    setup(&e, (const char *const[]){"--stream-heartbeat-ms", "300", "--connection-timeout-s", "1",
                                    NULL});
    json_t *def = chain_def(1, 600000);
    char wf[40], run[40], path[256];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{}", run);
    stream_path(path, sizeof(path), e.project, run);
    struct mh_sse c;
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, NULL), 200);
    /* Three seconds idle (three times the connection timeout): heartbeats, and still open. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int beats = 0;
    struct mh_sse_msg m;
    do {
        MH_T_ASSERT(mh_sse_next(&c, 2000, &m));
        beats += m.is_comment && strcmp(m.comment, "hb") == 0;
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while (t1.tv_sec - t0.tv_sec < 3);
    MH_T_ASSERT(beats >= 5);
    MH_T_ASSERT(!c.is_eof);
    /* /metrics counts the open stream, and no longer once it is closed (at the next sweep). */
    MH_T_ASSERT_EQ(stream_gauge(&e.s), 1);
    mh_sse_close(&c);
    long left = -1;
    for (int i = 0; i < 40 && left != 0; i++) {
        struct timespec pause = {0, 100 * 1000 * 1000};
        nanosleep(&pause, NULL);
        left = stream_gauge(&e.s);
    }
    MH_T_ASSERT_EQ(left, 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(sigterm_ends_streams_and_the_server_exits_in_time)
{
    struct env e;
    setup(&e, (const char *const[]){"--shutdown-timeout-ms", "3000", NULL});
    json_t *def = chain_def(1, 600000);
    char wf[40], run[40], path[256];
    workflow(&e, def, wf);
    json_decref(def);
    start_run(&e.s, e.bearer, e.project, wf, "{}", run);
    stream_path(path, sizeof(path), e.project, run);
    struct mh_sse c[3];
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(mh_sse_open(&c[i], e.s.port, path, e.bearer, NULL), 200);
    struct mh_sse_msg m;
    for (int i = 0; i < 3; i++) {
        do
            MH_T_ASSERT(mh_sse_next(&c[i], 5000, &m));
        while (m.is_comment || m.retry[0] || strcmp(m.id, "1") != 0);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kill(e.s.pid, SIGTERM);
    for (int i = 0; i < 3; i++) {
        mh_sse_drain(&c[i], 5000);
        MH_T_ASSERT(c[i].is_clean_end); /* the chunked stream was ended, not cut */
        mh_sse_close(&c[i]);
    }
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (secs > 3.0)
        mh_t_fail(__FILE__, __LINE__, "the server took %.1f s to exit with streams open", secs);
}
