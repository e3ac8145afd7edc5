/* SPDX-License-Identifier: MIT */
/*
 * The project feed (GET /api/projects/:pid/stream, issue #15) end to end: a webhook's delivery
 * and the run it starts appear as they change, a refused delivery appears, a client resuming
 * from a message's id gets what followed it and nothing it had, and a fresh subscription starts
 * now, without a backlog.
 */
#include <signal.h>
#include <time.h>

#include "itest.h"
#include "sse_client.h"

#define KEK "it1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
    char workflow[40];
};

static json_t *api(struct env *e, const char *method, const char *path, const char *body, long want)
{
    long st;
    json_t *r = mh_it_api(&e->s, e->bearer, method, path, body, &st);
    if (st != want) {
        char *dump = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "%s %s: %ld %s", method, path, st, dump ? dump : "");
    }
    return r;
}

static void setup(struct env *e)
{
    mh_it_db_create(&e->db, true);
    mh_it_server_start(&e->s, &e->db,
                       (const char *const[]){"--kek", KEK, "--stream-heartbeat-ms", "200", NULL});
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->bearer, e->user);
    mh_it_project(&e->s, e->bearer, "feed", e->project);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *w = api(e, "POST", path,
                    "{\"name\": \"wf\", \"definition\": {\"nodes\": [{\"id\": \"t\", \"type\": "
                    "\"transform\", \"config\": {\"expression\": \"trigger.body\"}}], \"edges\": "
                    "[]}}",
                    201);
    snprintf(e->workflow, sizeof(e->workflow), "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, e->workflow);
    long st;
    json_decref(mh_it_api(&e->s, e->bearer, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
}

/* Creates an endpoint from `body`; `public_id` receives its public id (64 bytes). */
static void endpoint(struct env *e, const char *body, char *public_id)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e->project,
             e->workflow);
    json_t *r = api(e, "POST", path, body, 201);
    snprintf(public_id, 64, "%s", json_string_value(json_object_get(r, "public_id")));
    json_decref(r);
}

static long hook(struct env *e, const char *public_id, char *run_id)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/hooks/%s", e->s.base, public_id);
    struct mh_it_resp r;
    const char *h[] = {"Content-Type: application/json", NULL};
    mh_it_http("POST", url, h, "{\"n\": 1}", 8, &r);
    long st = r.status;
    if (run_id && r.json)
        snprintf(run_id, 40, "%s", json_string_value(json_object_get(r.json, "run_id")));
    mh_it_resp_cleanup(&r);
    return st;
}

struct msg {
    char id[256];
    char event[64];
    json_t *data;
};

/* The next feed message (comments skipped) within `ms`; false on timeout. */
static bool next_msg(struct mh_sse *c, int ms, struct msg *out)
{
    struct mh_sse_msg m;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        int left = ms - (int)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || !mh_sse_next(c, left, &m))
            return false;
        if (m.is_comment || !m.event[0])
            continue;
        snprintf(out->id, sizeof(out->id), "%s", m.id);
        snprintf(out->event, sizeof(out->event), "%s", m.event);
        out->data = json_loads(m.data, 0, NULL);
        MH_T_ASSERT(out->data != NULL);
        return true;
    }
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* Reads messages into `into` ([{"event", "id", "data"}]) until the run `run_id` shows as
 * succeeded. */
static void read_until_succeeded(struct mh_sse *c, const char *run_id, json_t *into)
{
    struct msg m;
    for (;;) {
        MH_T_ASSERT(next_msg(c, 15000, &m));
        json_array_append_new(
            into, json_pack("{s:s, s:s, s:o}", "event", m.event, "id", m.id, "data", m.data));
        if (strcmp(m.event, "run") == 0 && strcmp(str(m.data, "id"), run_id) == 0 &&
            strcmp(str(m.data, "status"), "succeeded") == 0)
            return;
    }
}

/* How many messages of `into` are `event` about row `id` (with `status`, when not NULL). */
static int count(json_t *msgs, const char *event, const char *id, const char *status)
{
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        json_t *d = json_object_get(m, "data");
        n += strcmp(str(m, "event"), event) == 0 && strcmp(str(d, "id"), id) == 0 &&
             (status == NULL || strcmp(str(d, "status"), status) == 0);
    }
    return n;
}

MH_TEST(the_feed_shows_deliveries_and_runs_and_resumes_exactly)
{
    struct env e;
    setup(&e);
    char plain[64], signed_ep[64], path[256], run[40] = "";
    endpoint(&e, "{\"name\": \"plain\"}", plain);
    endpoint(&e,
             "{\"verification\": {\"scheme\": \"hmac\"}, \"key\": {\"secret\": "
             "\"feed-endpoint-secret-0000001\"}}",
             signed_ep);
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);

    struct mh_sse c;
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, NULL), 200);
    MH_T_ASSERT(mh_sse_content_type_is(&c, "text/event-stream"));
    /* A refused delivery (no signature) appears. */
    MH_T_ASSERT_EQ(hook(&e, signed_ep, NULL), 401);
    struct msg m;
    MH_T_ASSERT(next_msg(&c, 15000, &m));
    MH_T_ASSERT_STR_EQ(m.event, "delivery");
    MH_T_ASSERT_STR_EQ(str(m.data, "outcome"), "refused");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(m.data, "status")), 401);
    char refused_id[40], after_refused[256];
    snprintf(refused_id, sizeof(refused_id), "%s", str(m.data, "id"));
    snprintf(after_refused, sizeof(after_refused), "%s", m.id);
    json_decref(m.data);

    /* An accepted webhook: its delivery, then its run as it changes, to succeeded. */
    MH_T_ASSERT_EQ(hook(&e, plain, run), 202);
    json_t *first = json_array();
    read_until_succeeded(&c, run, first);
    mh_sse_close(&c);
    json_t *d0 = json_object_get(json_array_get(first, 0), "data");
    MH_T_ASSERT_STR_EQ(str(json_array_get(first, 0), "event"), "delivery");
    MH_T_ASSERT_STR_EQ(str(d0, "outcome"), "accepted");
    MH_T_ASSERT_STR_EQ(str(d0, "run_id"), run);
    char accepted_id[40];
    snprintf(accepted_id, sizeof(accepted_id), "%s", str(d0, "id"));
    MH_T_ASSERT_EQ(count(first, "delivery", accepted_id, NULL), 1);
    MH_T_ASSERT(count(first, "run", run, NULL) >= 1);
    /* Each item has its list's shape: the run as GET .../runs shows it. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs", e.project);
    json_t *list = api(&e, "GET", path, NULL, 200);
    json_t *last = json_object_get(json_array_get(first, json_array_size(first) - 1), "data");
    char *a = json_dumps(json_array_get(json_object_get(list, "items"), 0), JSON_SORT_KEYS);
    char *b = json_dumps(last, JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(a, b);
    free(a);
    free(b);
    json_decref(list);

    /* Resuming from the refused delivery's id: everything after it, once; not it again. */
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, after_refused), 200);
    json_t *again = json_array();
    read_until_succeeded(&c, run, again);
    MH_T_ASSERT_EQ(count(again, "delivery", refused_id, NULL), 0);
    MH_T_ASSERT_EQ(count(again, "delivery", accepted_id, NULL), 1);
    MH_T_ASSERT_EQ(count(again, "run", run, "succeeded"), 1);
    /* ... and then nothing more (no duplicate trails it). */
    MH_T_ASSERT(!next_msg(&c, 600, &m));
    mh_sse_close(&c);
    /* The same through ?after=, from the accepted delivery's message: only the run. */
    char q[600];
    const char *acc_msg = str(json_array_get(first, 0), "id");
    snprintf(q, sizeof(q), "%s?after=%s", path, acc_msg);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, q, e.bearer, NULL), 200);
    json_t *tail = json_array();
    read_until_succeeded(&c, run, tail);
    MH_T_ASSERT_EQ(count(tail, "delivery", accepted_id, NULL), 0);
    mh_sse_close(&c);
    json_decref(tail);

    /* A fresh subscription starts now: no backlog. */
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, NULL), 200);
    MH_T_ASSERT(!next_msg(&c, 800, &m));
    MH_T_ASSERT(!c.is_eof);
    mh_sse_close(&c);

    /* A cursor the feed did not write: 422 before the stream starts. */
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, "12"), 422);
    MH_T_ASSERT(strstr(c.body, "Last-Event-ID") != NULL);
    mh_sse_close(&c);

    /* Another tenant's feed: 404. */
    char bob[128], bob_id[40];
    mh_it_user_token(&e.db, &e.s, "bob@example.com", bob, bob_id);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, bob, NULL), 404);
    mh_sse_close(&c);

    json_decref(first);
    json_decref(again);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}
