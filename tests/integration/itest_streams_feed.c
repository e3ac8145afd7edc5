/* SPDX-License-Identifier: MIT */
/*
 * The project feed (GET /api/projects/:pid/stream, issue #15) end to end: a webhook's delivery
 * and the run it starts appear as they change, a refused delivery appears, a client resuming
 * from a message's id gets what followed it and nothing it had, and a fresh subscription starts
 * now, without a backlog. A run that dead-letters shows as a dead_letter message in its project's
 * feed and nowhere else. The feed's subscribers of one project share each read, whoever their
 * users: each still sees only what its own rights show (PII redacted without pii:read) and a
 * member removed from the project loses the stream while the others keep theirs.
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

/* Reads until a message of `event`, skipping others; false on timeout or end of stream. */
static bool next_of(struct mh_sse *c, const char *event, int ms, struct msg *out)
{
    for (;;) {
        if (!next_msg(c, ms, out))
            return false;
        if (strcmp(out->event, event) == 0)
            return true;
        json_decref(out->data);
    }
}

MH_TEST(a_dead_letter_reaches_its_projects_feed_and_no_other)
{
    struct env e;
    setup(&e);
    /* An http_call to a port nobody listens on, tried once: the run dead-letters. */
    char path[256], def[1024], wf[40], run[40];
    snprintf(def, sizeof(def),
             "{\"name\": \"calls\", \"definition\": {\"nodes\": [{\"id\": \"call\", \"type\": "
             "\"http_call\", \"config\": {\"url\": \"http://127.0.0.1:%d/hook\", \"method\": "
             "\"GET\", \"retry\": {\"max_attempts\": 1}}}], \"edges\": []}}",
             mh_it_free_port());
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    json_t *w = api(&e, "POST", path, def, 201);
    snprintf(wf, sizeof(wf), "%s", str(w, "id"));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wf);
    long st;
    json_decref(mh_it_api(&e.s, e.bearer, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);

    /* Another user's own project: its feed is open too. */
    char bob[128], bob_id[40], bob_project[40];
    mh_it_user_token(&e.db, &e.s, "bob@example.com", bob, bob_id);
    mh_it_project(&e.s, bob, "bobs", bob_project);
    struct mh_sse c, cb;
    snprintf(path, sizeof(path), "/api/projects/%s/stream", bob_project);
    MH_T_ASSERT_EQ(mh_sse_open(&cb, e.s.port, path, bob, NULL), 200);
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, NULL), 200);

    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e.project, wf);
    w = api(&e, "POST", path, "{\"payload\": {}}", 202);
    snprintf(run, sizeof(run), "%s", str(w, "run_id"));
    json_decref(w);

    /* The run's failure and its dead letter (written together, the run first). */
    struct msg m;
    bool is_failed = false;
    for (;;) {
        MH_T_ASSERT(next_msg(&c, 15000, &m));
        if (strcmp(m.event, "dead_letter") == 0)
            break;
        is_failed =
            is_failed || (strcmp(m.event, "run") == 0 && strcmp(str(m.data, "id"), run) == 0 &&
                          strcmp(str(m.data, "status"), "failed") == 0);
        json_decref(m.data);
    }
    MH_T_ASSERT(is_failed);
    /* The message is the dead-letter list's item: the same ids, the same shape. */
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters", e.project);
    json_t *list = api(&e, "GET", path, NULL, 200);
    json_t *items = json_object_get(list, "items");
    MH_T_ASSERT_EQ(json_array_size(items), 1);
    json_t *item = json_array_get(items, 0);
    MH_T_ASSERT_STR_EQ(str(m.data, "run_id"), run);
    MH_T_ASSERT_STR_EQ(str(m.data, "workflow_id"), wf);
    MH_T_ASSERT_STR_EQ(str(m.data, "node"), "call");
    MH_T_ASSERT_STR_EQ(str(m.data, "kind"), "step");
    MH_T_ASSERT_STR_EQ(str(m.data, "id"), str(item, "id"));
    char *a = json_dumps(item, JSON_SORT_KEYS), *b = json_dumps(m.data, JSON_SORT_KEYS);
    MH_T_ASSERT_STR_EQ(a, b);
    free(a);
    free(b);
    /* Its message id resumes after it: the dead letter's own id is its kind's position. */
    MH_T_ASSERT(strstr(m.id, str(item, "id")) != NULL);
    char after[256];
    snprintf(after, sizeof(after), "%s", m.id);
    json_decref(m.data);
    json_decref(list);
    mh_sse_close(&c);
    /* Resuming from the dead letter's message does not send it again. */
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    MH_T_ASSERT_EQ(mh_sse_open(&c, e.s.port, path, e.bearer, after), 200);
    while (next_msg(&c, 800, &m)) {
        MH_T_ASSERT(strcmp(m.event, "dead_letter") != 0);
        json_decref(m.data);
    }
    mh_sse_close(&c);

    /* Bob's feed showed nothing of it, nor anything at all; and Bob cannot open the other. */
    if (next_msg(&cb, 500, &m))
        mh_t_fail(__FILE__, __LINE__, "another project's feed got a %s message", m.event);
    MH_T_ASSERT(!cb.is_eof);
    mh_sse_close(&cb);
    MH_T_ASSERT_EQ(mh_sse_open(&cb, e.s.port, path, bob, NULL), 404);
    mh_sse_close(&cb);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

#define EMAIL "jane.doe@example.com"

/* Sends a webhook carrying EMAIL in a header to `public_id`. */
static void hook_with_email(struct env *e, const char *public_id)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/hooks/%s", e->s.base, public_id);
    struct mh_it_resp r;
    const char *h[] = {"Content-Type: application/json", "X-Contact: " EMAIL, NULL};
    mh_it_http("POST", url, h, "{}", 2, &r);
    MH_T_ASSERT_EQ(r.status, 202);
    mh_it_resp_cleanup(&r);
}

MH_TEST(members_sharing_a_feed_each_see_what_their_rights_show)
{
    struct env e;
    setup(&e);
    char plain[64], path[256], viewer[128], viewer_id[40], editor[128], editor_id[40];
    endpoint(&e, "{\"name\": \"plain\"}", plain);
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", viewer, viewer_id);
    mh_it_user_token(&e.db, &e.s, "editor@example.com", editor, editor_id);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e.project);
    json_decref(
        api(&e, "POST", path, "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}", 201));
    json_decref(
        api(&e, "POST", path, "{\"email\": \"editor@example.com\", \"role\": \"editor\"}", 201));

    /* Three users on one feed (served by shared reads): the owner reads PII, the others not. */
    struct mh_sse co, cv, ce;
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    MH_T_ASSERT_EQ(mh_sse_open(&co, e.s.port, path, e.bearer, NULL), 200);
    MH_T_ASSERT_EQ(mh_sse_open(&cv, e.s.port, path, viewer, NULL), 200);
    MH_T_ASSERT_EQ(mh_sse_open(&ce, e.s.port, path, editor, NULL), 200);
    hook_with_email(&e, plain);
    struct msg mo, mv, me;
    MH_T_ASSERT(next_of(&co, "delivery", 15000, &mo));
    MH_T_ASSERT(next_of(&cv, "delivery", 15000, &mv));
    MH_T_ASSERT(next_of(&ce, "delivery", 15000, &me));
    MH_T_ASSERT_STR_EQ(str(mo.data, "id"), str(mv.data, "id"));
    MH_T_ASSERT_STR_EQ(str(mo.data, "id"), str(me.data, "id"));
    /* (Their cursors differ where their positions did: each started when it subscribed.) */
    MH_T_ASSERT(strstr(mv.id, str(mv.data, "id")) != NULL);
    char *so = json_dumps(mo.data, JSON_COMPACT), *sv = json_dumps(mv.data, JSON_COMPACT),
         *se = json_dumps(me.data, JSON_COMPACT);
    MH_T_ASSERT(strstr(so, EMAIL) != NULL);
    if (strstr(sv, "jane.doe") != NULL || strstr(se, "jane.doe") != NULL)
        mh_t_fail(__FILE__, __LINE__, "a member without pii:read was shown PII: %s / %s", sv, se);
    MH_T_ASSERT(strstr(sv, "redacted") != NULL);
    free(so);
    free(sv);
    free(se);
    json_decref(mo.data);
    json_decref(mv.data);
    json_decref(me.data);

    /* The viewer is removed from the project: at the next change their stream ends, and the
     * others' streams go on. */
    snprintf(path, sizeof(path), "/api/projects/%s/members/%s", e.project, viewer_id);
    long st;
    json_decref(mh_it_api(&e.s, e.bearer, "DELETE", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 204);
    hook_with_email(&e, plain);
    MH_T_ASSERT(next_of(&co, "delivery", 15000, &mo));
    MH_T_ASSERT(next_of(&ce, "delivery", 15000, &me));
    MH_T_ASSERT_STR_EQ(str(mo.data, "id"), str(me.data, "id"));
    json_decref(mo.data);
    json_decref(me.data);
    struct mh_sse_msg m;
    bool got_delivery = false;
    for (int i = 0; i < 200 && mh_sse_next(&cv, 10000, &m); i++) /* heartbeats: 200 ms */
        got_delivery = got_delivery || strcmp(m.event, "delivery") == 0;
    MH_T_ASSERT(cv.is_eof);
    MH_T_ASSERT(!got_delivery);
    mh_sse_close(&cv);
    MH_T_ASSERT(!co.is_eof && !ce.is_eof);
    mh_sse_close(&co);
    mh_sse_close(&ce);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* meshhook_stream_reads_total as /metrics shows it (loopback may scrape without a token). */
static long stream_reads(const struct mh_it_server *s)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/metrics", s->base);
    struct mh_it_resp r;
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    const char *at = r.body ? strstr(r.body, "\nmeshhook_stream_reads_total ") : NULL;
    MH_T_ASSERT(at != NULL);
    long v = strtol(at + strlen("\nmeshhook_stream_reads_total "), NULL, 10);
    mh_it_resp_cleanup(&r);
    return v;
}

#define NFEEDS 12

/* Replaces each message's id ("f1.<xid>.<id>" per kind: delivery, run, dead_letter) with the
 * part of its own kind. */
static void own_positions(json_t *msgs)
{
    static const char *const kinds[] = {"delivery", "run", "dead_letter"};
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        int k = 0;
        while (k < 3 && strcmp(str(m, "event"), kinds[k]) != 0)
            k++;
        MH_T_ASSERT(k < 3);
        const char *id = str(m, "id");
        MH_T_ASSERT(strncmp(id, "f1.", 3) == 0);
        const char *p = id + 3;
        for (int skip = 0; skip < 2 * k; skip++) {
            p = strchr(p, '.');
            MH_T_ASSERT(p != NULL);
            p++;
        }
        const char *end = strchr(p, '.');
        MH_T_ASSERT(end != NULL);
        end = strchr(end + 1, '.');
        int len = end ? (int)(end - p) : (int)strlen(p);
        /* The position is the message's own row. */
        MH_T_ASSERT(len > 37 &&
                    strncmp(p + len - 36, str(json_object_get(m, "data"), "id"), 36) == 0);
        json_object_set_new(m, "id", json_stringn(p, (size_t)len));
    }
}

MH_TEST(feed_subscribers_of_a_project_share_each_read)
{
    struct env e;
    setup(&e);
    char plain[64], path[256], run[40];
    endpoint(&e, "{\"name\": \"plain\"}", plain);
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    /* One position for all: a subscriber without Last-Event-ID starts where the database is
     * when it subscribes, and any transaction committed between two subscriptions (anywhere in
     * the cluster) starts them apart, their ids differing in the kinds that have no message yet.
     * So the first subscriber reads a first webhook's messages, and every other one resumes
     * from its last id. */
    struct mh_sse c[NFEEDS];
    MH_T_ASSERT_EQ(mh_sse_open(&c[0], e.s.port, path, e.bearer, NULL), 200);
    MH_T_ASSERT_EQ(hook(&e, plain, run), 202);
    json_t *warm = json_array();
    read_until_succeeded(&c[0], run, warm);
    char at[256];
    snprintf(at, sizeof(at), "%s", str(json_array_get(warm, json_array_size(warm) - 1), "id"));
    json_decref(warm);
    char first_run[40];
    snprintf(first_run, sizeof(first_run), "%s", run);
    for (int i = 1; i < NFEEDS; i++)
        MH_T_ASSERT_EQ(mh_sse_open(&c[i], e.s.port, path, e.bearer, at), 200);
    /* The subscribers' first reads are over once the count stays still. */
    long before = stream_reads(&e.s);
    for (int i = 0; i < 50; i++) {
        mh_it_sleep_ms(200);
        long now = stream_reads(&e.s);
        if (now == before)
            break;
        before = now;
    }
    MH_T_ASSERT_EQ(hook(&e, plain, run), 202);
    json_t *got[NFEEDS];
    for (int i = 0; i < NFEEDS; i++) {
        got[i] = json_array();
        read_until_succeeded(&c[i], run, got[i]);
    }
    long reads = stream_reads(&e.s) - before;
    /* The webhook's commit and the run's changes (a few notifications) cost a few reads, not
     * one per subscriber for each... */
    if (reads >= NFEEDS)
        mh_t_fail(__FILE__, __LINE__, "%ld reads for %d feed subscribers of one project", reads,
                  NFEEDS);
    MH_T_ASSERT(reads >= 1);
    /* ... and, resumed from the same position, every subscriber had the same messages, each
     * id with the same position in the message's own kind (nothing of the first webhook
     * again). The other kinds' positions in an id are where that subscriber's last read left
     * them, which depends on when it was read: a read that finds no row of a kind moves it to
     * the read's horizon. */
    for (int i = 0; i < NFEEDS; i++) {
        MH_T_ASSERT_EQ(count(got[i], "run", first_run, NULL), 0);
        own_positions(got[i]);
    }
    char *first = json_dumps(got[0], JSON_SORT_KEYS);
    for (int i = 1; i < NFEEDS; i++) {
        char *other = json_dumps(got[i], JSON_SORT_KEYS);
        MH_T_ASSERT_STR_EQ(other, first);
        free(other);
    }
    free(first);
    for (int i = 0; i < NFEEDS; i++) {
        json_decref(got[i]);
        mh_sse_close(&c[i]);
    }
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}
