/* SPDX-License-Identifier: MIT */
/*
 * The runs list's filters and the dead-letter list, its bulk re-drive, dismiss and restore,
 * against the real server and PostgreSQL: runs are started by webhooks, through the API and as
 * test runs; dead letters come from http_calls to a port nobody listens on, and the target
 * comes up before they are re-driven.
 */
#include "itest_intake_common.h"
#include "mock_http.h"
#include "sse_client.h"

static json_t *get(struct ienv *e, const char *path, long *st)
{
    return iapi(e, "GET", path, NULL, st);
}

/* GET /api/projects/<p>/<what>?<query>: expects 200, returns the items (new reference). */
static json_t *list(struct ienv *e, const char *what, const char *query)
{
    char path[1024];
    snprintf(path, sizeof(path), "/api/projects/%s/%s?%s", e->project, what, query);
    long st;
    json_t *r = get(e, path, &st);
    if (st != 200)
        mh_t_fail(__FILE__, __LINE__, "GET %s: %ld", path, st);
    json_t *items = json_incref(json_object_get(r, "items"));
    json_decref(r);
    return items;
}

/* Whether the list holds exactly the ids given (NULL-terminated), in any order. */
static bool holds_exactly(json_t *items, const char *const *ids)
{
    size_t n = 0;
    for (; ids[n]; n++) {
        bool found = false;
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
        {
            found = found || strcmp(json_string_value(json_object_get(v, "id")), ids[n]) == 0;
        }
        if (!found)
            return false;
    }
    return json_array_size(items) == n;
}

#define ASSERT_LIST(e, what, query, ...)                                                           \
    do {                                                                                           \
        json_t *it_ = list((e), (what), (query));                                                  \
        const char *want_[] = {__VA_ARGS__, NULL};                                                 \
        if (!holds_exactly(it_, want_)) {                                                          \
            char *d_ = json_dumps(it_, JSON_COMPACT);                                              \
            mh_t_fail(__FILE__, __LINE__, "%s?%s: got %s", (what), (query), d_);                   \
        }                                                                                          \
        json_decref(it_);                                                                          \
    } while (0)

#define ASSERT_EMPTY(e, what, query)                                                               \
    do {                                                                                           \
        json_t *it_ = list((e), (what), (query));                                                  \
        MH_T_ASSERT_EQ(json_array_size(it_), 0);                                                   \
        json_decref(it_);                                                                          \
    } while (0)

/* `method` `path` with `body` answers 422 naming `field`. */
static void expect_422(struct ienv *e, const char *method, const char *path, const char *body,
                       const char *field)
{
    long st;
    json_t *r = iapi(e, method, path, body, &st);
    const char *got = jstr(r, "error.path");
    if (st != 422 || got == NULL || strcmp(got, field) != 0) {
        char *d = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "%s %s: %ld %s (wanted 422 at %s)", method, path, st,
                  d ? d : "", field);
    }
    json_decref(r);
}

static void run_status(struct ienv *e, const char *run, char *status, size_t cap)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run);
    long st;
    json_t *r = get(e, path, &st);
    MH_T_ASSERT_EQ(st, 200);
    snprintf(status, cap, "%s", jstr(r, "status"));
    json_decref(r);
}

/* Waits until the run has finished; returns whether it ended as `want`. */
static bool finishes_as(struct ienv *e, const char *run, const char *want)
{
    char status[32];
    for (int i = 0; i < 600; i++) {
        run_status(e, run, status, sizeof(status));
        if (strcmp(status, "queued") != 0 && strcmp(status, "running") != 0)
            return strcmp(status, want) == 0;
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run);
}

static void create_workflow(struct ienv *e, const char *def, bool publish, char *id)
{
    char path[256], body[2048];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    snprintf(body, sizeof(body), "{\"name\": \"wf\", \"definition\": %s}", def);
    json_t *w = iapi(e, "POST", path, body, &st);
    if (st != 201)
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld", st);
    snprintf(id, 40, "%s", jstr(w, "id"));
    json_decref(w);
    if (publish) {
        snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
        json_decref(iapi(e, "POST", path, NULL, &st));
        MH_T_ASSERT(st == 200 || st == 201);
    }
}

/* POST .../workflows/<wf>/<kind> ("runs" or "test-runs"); the new run's id into `run`. */
static void start(struct ienv *e, const char *wf, const char *kind, char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/%s", e->project, wf, kind);
    long st;
    json_t *r = iapi(e, "POST", path, "{\"payload\": {}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    snprintf(run, 40, "%s", jstr(r, "run_id"));
    json_decref(r);
}

static void member(struct ienv *e, const char *email, const char *role, char *bearer)
{
    char id[40], path[128], body[256];
    mh_it_user_token(&e->db, &e->s, email, bearer, id);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e->project);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"role\": \"%s\"}", email, role);
    long st;
    json_decref(iapi(e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
}

MH_TEST(runs_list_filters)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    /* Two endpoints of the workflow; a second workflow with only a draft. */
    json_t *ep1 = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    json_t *ep2 = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    char other[40];
    create_workflow(&e,
                    "{\"nodes\": [{\"id\": \"t\", \"type\": \"transform\", \"config\": "
                    "{\"expression\": \"trigger.body\"}}], \"edges\": []}",
                    false, other);

    /* hooked: a webhook to ep1; api: started through the API; test: a test run of the draft. */
    struct mh_it_resp resp;
    const char *h[] = {"Content-Type: application/json", NULL};
    MH_T_ASSERT_EQ(hook(&e, jstr(ep1, "public_id"), "POST", h, "{\"n\": 1}", 8, &resp), 202);
    char hooked[40], delivery[40], api_run[40], test_run[40];
    snprintf(hooked, sizeof(hooked), "%s", jstr(resp.json, "run_id"));
    snprintf(delivery, sizeof(delivery), "%s", jstr(resp.json, "delivery_id"));
    mh_it_resp_cleanup(&resp);
    start(&e, e.workflow, "runs", api_run);
    start(&e, other, "test-runs", test_run);
    MH_T_ASSERT(finishes_as(&e, hooked, "succeeded"));
    MH_T_ASSERT(finishes_as(&e, api_run, "succeeded"));
    MH_T_ASSERT(finishes_as(&e, test_run, "succeeded"));

    char q[512];
    ASSERT_LIST(&e, "runs", "", hooked, api_run, test_run);
    /* By endpoint: only the run its delivery started; none for an endpoint without any. */
    snprintf(q, sizeof(q), "endpoint_id=%s", jstr(ep1, "id"));
    ASSERT_LIST(&e, "runs", q, hooked);
    snprintf(q, sizeof(q), "endpoint_id=%s", jstr(ep2, "id"));
    ASSERT_EMPTY(&e, "runs", q);
    /* By delivery: its run; the item names the delivery. */
    snprintf(q, sizeof(q), "delivery_id=%s", delivery);
    json_t *items = list(&e, "runs", q);
    MH_T_ASSERT_EQ(json_array_size(items), 1);
    MH_T_ASSERT_STR_EQ(jstr(json_array_get(items, 0), "id"), hooked);
    MH_T_ASSERT_STR_EQ(jstr(json_array_get(items, 0), "delivery_id"), delivery);
    json_decref(items);
    ASSERT_EMPTY(&e, "runs", "delivery_id=00000000-0000-4000-8000-000000000000");
    /* Test runs only, or without them. */
    ASSERT_LIST(&e, "runs", "test=only", test_run);
    ASSERT_LIST(&e, "runs", "test=exclude", hooked, api_run);
    /* By workflow and status, together with the others. */
    snprintf(q, sizeof(q), "workflow_id=%s&test=exclude&status=succeeded", e.workflow);
    ASSERT_LIST(&e, "runs", q, hooked, api_run);
    snprintf(q, sizeof(q), "workflow_id=%s", other);
    ASSERT_LIST(&e, "runs", q, test_run);
    ASSERT_EMPTY(&e, "runs", "status=failed");
    /* By time: all three were created after 2000 and before 2200. */
    ASSERT_LIST(&e, "runs", "since=2000-01-01", hooked, api_run, test_run);
    ASSERT_LIST(&e, "runs", "since=2000-01-01T00:00:00Z&until=2200-01-01T00:00:00%2B02:00", hooked,
                api_run, test_run);
    ASSERT_EMPTY(&e, "runs", "until=2000-01-01T00:00:00.5Z");
    ASSERT_EMPTY(&e, "runs", "since=2200-01-01");
    /* Paging walks the filtered list. */
    snprintf(q, sizeof(q), "/api/projects/%s/runs?test=exclude&limit=1", e.project);
    long st;
    json_t *p1 = get(&e, q, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(p1, "items")), 1);
    MH_T_ASSERT(jstr(p1, "next_cursor") != NULL);
    snprintf(q, sizeof(q), "test=exclude&limit=1&cursor=%s", jstr(p1, "next_cursor"));
    json_t *p2 = list(&e, "runs", q);
    MH_T_ASSERT_EQ(json_array_size(p2), 1);
    MH_T_ASSERT(strcmp(jstr(json_array_get(p2, 0), "id"),
                       jstr(json_array_get(json_object_get(p1, "items"), 0), "id")) != 0);
    json_decref(p1);
    json_decref(p2);

    /* Bad values: 422 naming the parameter. */
    char path[256];
    static const char *const bad[][2] = {
        {"endpoint_id=nope", "?endpoint_id"}, {"delivery_id=123", "?delivery_id"},
        {"workflow_id=x", "?workflow_id"},    {"test=maybe", "?test"},
        {"status=done", "?status"},           {"since=yesterday", "?since"},
        {"until=2026-13-01", "?until"},       {"since=2026-01-01T25:00:00Z", "?since"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/projects/%s/runs?%s", e.project, bad[i][0]);
        expect_422(&e, "GET", path, NULL, bad[i][1]);
    }
    json_decref(ep1);
    json_decref(ep2);
    ienv_stop(&e);
}

/* ---- Dead letters ------------------------------------------------------------------------- */

static void ok_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    (void)req;
    rep->status = 200;
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": true}");
}

static json_t *post(struct ienv *e, const char *bearer, const char *what, const char *body,
                    long *st)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/%s", e->project, what);
    return mh_it_api(&e->s, bearer, "POST", path, body, st);
}

/* The result of `id` in a bulk answer. */
static json_t *result_of(json_t *answer, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(answer, "results"), i, v)
    {
        if (strcmp(jstr(v, "id"), id) == 0)
            return v;
    }
    mh_t_fail(__FILE__, __LINE__, "no result for %s", id);
}

static long long audit_count(struct ienv *e, const char *action, const char *target)
{
    const char *p[] = {action, target};
    json_t *rows = mh_it_sql(
        e->db.admin_url, "SELECT count(*) AS n FROM audit_log WHERE action = $1 AND target = $2", 2,
        p, NULL);
    MH_T_ASSERT(rows != NULL);
    long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

/* Reads the project feed until a dead_letter message about `id` has `field` set: the list's
 * item, as the page merges it. */
static void feed_shows(struct mh_sse *c, const char *id, const char *field)
{
    struct mh_sse_msg m;
    for (int i = 0; i < 100; i++) {
        if (!mh_sse_next(c, 10000, &m))
            break;
        if (m.is_comment || strcmp(m.event, "dead_letter") != 0)
            continue;
        json_t *d = json_loads(m.data, 0, NULL);
        bool ok = d && jstr(d, "id") && strcmp(jstr(d, "id"), id) == 0 &&
                  json_is_string(json_object_get(d, field)) && jstr(d, "workflow_id") != NULL;
        json_decref(d);
        if (ok)
            return;
    }
    mh_t_fail(__FILE__, __LINE__, "the feed did not show %s with %s", id, field);
}

/* 65 characters: one more than a node id may have. */
#define LONG_NODE "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"

MH_TEST(dead_letters_filter_redrive_dismiss)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    int port = mh_it_free_port();
    char def[1024], wf[40], runs[3][40];
    snprintf(def, sizeof(def),
             "{\"nodes\": [{\"id\": \"call\", \"type\": \"http_call\", \"config\": {\"url\": "
             "\"http://127.0.0.1:%d/hook\", \"method\": \"GET\", \"retry\": {\"max_attempts\": "
             "1}}}, {\"id\": \"end\", \"type\": \"terminate\", \"config\": {\"output\": "
             "\"steps.call.output.body\"}}], \"edges\": [{\"from\": \"call\", \"to\": \"end\"}]}",
             port);
    create_workflow(&e, def, true, wf);
    for (int i = 0; i < 3; i++)
        start(&e, wf, "runs", runs[i]);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT(finishes_as(&e, runs[i], "failed"));

    /* Three open dead letters, each naming its run's workflow and failed node. */
    json_t *items = list(&e, "dead-letters", "state=open");
    MH_T_ASSERT_EQ(json_array_size(items), 3);
    char dl[3][40], dl_run[3][40];
    for (int i = 0; i < 3; i++) {
        json_t *d = json_array_get(items, (size_t)i);
        snprintf(dl[i], sizeof(dl[i]), "%s", jstr(d, "id"));
        snprintf(dl_run[i], sizeof(dl_run[i]), "%s", jstr(d, "run_id"));
        MH_T_ASSERT(strcmp(dl_run[i], runs[0]) == 0 || strcmp(dl_run[i], runs[1]) == 0 ||
                    strcmp(dl_run[i], runs[2]) == 0);
        MH_T_ASSERT_STR_EQ(jstr(d, "workflow_id"), wf);
        MH_T_ASSERT_STR_EQ(jstr(d, "node"), "call");
        MH_T_ASSERT_STR_EQ(jstr(d, "kind"), "step");
        MH_T_ASSERT(json_is_null(json_object_get(d, "dismissed_at")));
    }
    json_decref(items);
    char q[256];
    snprintf(q, sizeof(q), "workflow_id=%s&node=call&kind=step&since=2000-01-01", wf);
    ASSERT_LIST(&e, "dead-letters", q, dl[0], dl[1], dl[2]);
    snprintf(q, sizeof(q), "workflow_id=%s", e.workflow);
    ASSERT_EMPTY(&e, "dead-letters", q);
    ASSERT_EMPTY(&e, "dead-letters", "node=other");
    ASSERT_LIST(&e, "dead-letters", "node=", dl[0], dl[1], dl[2]);
    ASSERT_EMPTY(&e, "dead-letters", "kind=advance");
    ASSERT_EMPTY(&e, "dead-letters", "until=2000-01-01");
    char path[256];
    static const char *const bad[][2] = {{"state=gone", "?state"},
                                         {"kind=job", "?kind"},
                                         {"workflow_id=1", "?workflow_id"},
                                         {"since=soon", "?since"},
                                         {"node=" LONG_NODE, "?node"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/api/projects/%s/dead-letters?%s", e.project, bad[i][0]);
        expect_422(&e, "GET", path, NULL, bad[i][1]);
    }

    /* A viewer reads them and may change nothing. */
    char viewer[128];
    member(&e, "viewer@example.com", "viewer", viewer);
    long st;
    char body[512];
    snprintf(body, sizeof(body), "{\"ids\": [\"%s\"]}", dl[0]);
    static const char *const writes[] = {"replay", "dismiss", "undismiss"};
    for (size_t i = 0; i < 3; i++) {
        json_decref(post(&e, viewer, writes[i], body, &st));
        MH_T_ASSERT_EQ(st, 403);
    }
    snprintf(path, sizeof(path), "%s/replay", dl[0]);
    json_decref(post(&e, viewer, path, NULL, &st));
    MH_T_ASSERT_EQ(st, 403);
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters", e.project);
    json_decref(mh_it_api(&e.s, viewer, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.dismiss", dl[0]), 0);

    /* Malformed bulk requests. */
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/replay", e.project);
    expect_422(&e, "POST", path, "{}", "/ids");
    expect_422(&e, "POST", path, "{\"ids\": []}", "/ids");
    expect_422(&e, "POST", path, "{\"ids\": \"x\"}", "/ids");
    expect_422(&e, "POST", path, "{\"ids\": [\"x\", 1]}", "/ids/1");
    expect_422(&e, "POST", path, "{\"ids\": [\"x\"], \"all\": true}", "/all");
    char many[8192] = "{\"ids\": [";
    for (int i = 0; i < 101; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"%s\"", i ? ", " : "",
                 dl[0]);
    snprintf(many + strlen(many), sizeof(many) - strlen(many), "]}");
    expect_422(&e, "POST", path, many, "/ids");
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/dismiss", e.project);
    expect_422(&e, "POST", path, "{\"ids\": []}", "/ids");

    /* Dismiss one (and an unknown id); dismissing again changes nothing. A page following the
     * project's feed sees the change. */
    struct mh_sse feed;
    snprintf(path, sizeof(path), "/api/projects/%s/stream", e.project);
    MH_T_ASSERT_EQ(mh_sse_open(&feed, e.s.port, path, e.bearer, NULL), 200);
    snprintf(body, sizeof(body),
             "{\"ids\": [\"%s\", \"00000000-0000-4000-8000-000000000000\", \"x\"]}", dl[0]);
    json_t *a = post(&e, e.bearer, "dismiss", body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(a, "succeeded")), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(a, "failed")), 2);
    MH_T_ASSERT(json_is_true(json_object_get(result_of(a, dl[0]), "changed")));
    MH_T_ASSERT(json_is_string(json_object_get(result_of(a, dl[0]), "dismissed_at")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(
                       result_of(a, "00000000-0000-4000-8000-000000000000"), "status")),
                   404);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(result_of(a, "x"), "status")), 404);
    json_decref(a);
    feed_shows(&feed, dl[0], "dismissed_at");
    snprintf(body, sizeof(body), "{\"ids\": [\"%s\"]}", dl[0]);
    a = post(&e, e.bearer, "dismiss", body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(result_of(a, dl[0]), "changed")));
    json_decref(a);
    MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.dismiss", dl[0]), 1);
    ASSERT_LIST(&e, "dead-letters", "state=dismissed", dl[0]);
    ASSERT_LIST(&e, "dead-letters", "state=open", dl[1], dl[2]);

    /* The target comes up. Re-drive all three at once: the dismissed one is refused, the two
     * others resume their failed step in new runs that succeed. */
    struct mh_mock *m = mh_mock_start_port(port, ok_target, NULL);
    snprintf(body, sizeof(body), "{\"ids\": [\"%s\", \"%s\", \"%s\", \"nope\"]}", dl[0], dl[1],
             dl[2]);
    a = post(&e, e.bearer, "replay", body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(a, "succeeded")), 2);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(a, "failed")), 2);
    json_t *r0 = result_of(a, dl[0]);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r0, "status")), 409);
    MH_T_ASSERT_STR_EQ(jstr(r0, "error.code"), "dismissed");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(result_of(a, "nope"), "status")), 404);
    char new_runs[2][40];
    for (int i = 1; i < 3; i++) {
        json_t *ri = result_of(a, dl[i]);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(ri, "status")), 202);
        MH_T_ASSERT_STR_EQ(jstr(ri, "resumed_from"), dl_run[i]);
        MH_T_ASSERT_STR_EQ(jstr(ri, "from_node"), "call");
        snprintf(new_runs[i - 1], 40, "%s", jstr(ri, "run_id"));
        MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.replay", dl[i]), 1);
    }
    json_decref(a);
    MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.replay", dl[0]), 0);
    feed_shows(&feed, dl[1], "replayed_run_id");
    mh_sse_close(&feed);
    for (int i = 0; i < 2; i++)
        MH_T_ASSERT(finishes_as(&e, new_runs[i], "succeeded"));
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/hook"), 2);
    ASSERT_LIST(&e, "dead-letters", "state=replayed", dl[1], dl[2]);
    ASSERT_EMPTY(&e, "dead-letters", "state=open");

    /* One dead letter, with the run that re-drove it. */
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/%s", e.project, dl[1]);
    json_t *one = get(&e, path, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(jstr(one, "replayed_run_id"), new_runs[0]);
    MH_T_ASSERT_STR_EQ(jstr(one, "run_id"), dl_run[1]);
    MH_T_ASSERT(json_is_string(json_object_get(one, "last_error")));
    json_decref(one);
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/nope", e.project);
    json_decref(get(&e, path, &st));
    MH_T_ASSERT_EQ(st, 404);

    /* A re-driven dead letter is not re-driven twice, in bulk or alone. */
    snprintf(body, sizeof(body), "{\"ids\": [\"%s\"]}", dl[1]);
    a = post(&e, e.bearer, "replay", body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(jstr(result_of(a, dl[1]), "error.code"), "already_replayed");
    json_decref(a);
    snprintf(path, sizeof(path), "%s/replay", dl[1]);
    json_decref(post(&e, e.bearer, path, NULL, &st));
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/hook"), 2);

    /* Restored, the dismissed one is open again, and re-driven alone. */
    snprintf(body, sizeof(body), "{\"ids\": [\"%s\"]}", dl[0]);
    a = post(&e, e.bearer, "undismiss", body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(result_of(a, dl[0]), "changed")));
    json_decref(a);
    MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.undismiss", dl[0]), 1);
    ASSERT_LIST(&e, "dead-letters", "state=open", dl[0]);
    snprintf(path, sizeof(path), "%s/replay", dl[0]);
    json_t *single = post(&e, e.bearer, path, NULL, &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT(finishes_as(&e, jstr(single, "run_id"), "succeeded"));
    json_decref(single);
    MH_T_ASSERT_EQ(audit_count(&e, "dead_letter.replay", dl[0]), 1);
    ASSERT_EMPTY(&e, "dead-letters", "state=open");
    ienv_stop(&e);
    mh_mock_stop(m);
}
