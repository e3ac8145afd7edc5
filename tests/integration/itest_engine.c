/* SPDX-License-Identifier: MIT */
/*
 * The durable engine end to end: the real server with its workers, a real PostgreSQL, and a
 * scripted HTTP target standing in for the remote API. Runs are started through the API and
 * watched until they finish; their logs are replayed through the API and the CLI.
 */
#include <signal.h>

#include "itest_project.h"
#include "mock_http.h"

/* Creates a workflow with `def` as its draft, publishes it when asked; returns its id. */
static void workflow(struct mh_it_project_env *e, json_t *def, bool publish, char *id)
{
    json_t *req = json_pack("{s:s, s:O}", "name", "wf", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    long st;
    json_t *w = mh_it_project_api(e, "POST", path, body, &st);
    if (st != 201) {
        char *dump = json_dumps(w, 0);
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld %s (sent %s)", st, dump, body);
    }
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    free(body);
    json_decref(req);
    if (publish) {
        snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
        json_t *v = mh_it_project_api(e, "POST", path, NULL, &st);
        if (st != 200 && st != 201)
            mh_t_fail(__FILE__, __LINE__, "publish: %ld", st);
        json_decref(v);
    }
}

static bool is_terminal(const char *status)
{
    return strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
           strcmp(status, "canceled") == 0;
}

/* Polls until the run is terminal (fails the test after `secs`); returns the run. */
static json_t *wait_run(struct mh_it_project_env *e, const char *run, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        json_t *r = mh_it_project_get_run(e, run);
        if (is_terminal(json_string_value(json_object_get(r, "status"))))
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish in %d s", run, secs);
}

static const char *step_status(json_t *run, const char *node)
{
    return json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(run, "state"), "steps"), node), "status"));
}

static int count_events(struct mh_it_project_env *e, const char *run, const char *type)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e->project, run);
    long st;
    json_t *r = mh_it_project_api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    int n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(r, "events"), i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0)
            n++;
    }
    json_decref(r);
    return n;
}

static void assert_replays_clean(struct mh_it_project_env *e, const char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e->project, run);
    long st;
    json_t *rep = mh_it_project_api(e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    if (!json_is_true(json_object_get(rep, "ok"))) {
        char *s = json_dumps(rep, 0);
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", s);
    }
    json_decref(rep);
    const char *args[] = {"replay", run, NULL};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e->db, args, &out), 0);
    free(out);
}

/* ---- The scripted target ------------------------------------------------------------------ */

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    if (strncmp(req->path, "/flaky", 6) == 0 && req->hit <= 2) {
        rep->status = 500;
        snprintf(rep->body, sizeof(rep->body), "{\"error\": \"try again\"}");
        return;
    }
    rep->status = 200;
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": true, \"hit\": %d}", req->hit);
}

static json_t *main_flow(int port)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/flaky", port);
    return json_pack(
        "{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:s, s:{s:s}, "
        "s:{s:i, s:i, s:i}}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:s}}], "
        "s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}",
        "nodes", "id", "prep", "type", "transform", "config", "expression",
        "{order: trigger.body.order, big: trigger.body.amount > `100`}", "id", "check", "type",
        "branch", "config", "condition", "steps.prep.output.big", "id", "call", "type", "http_call",
        "config", "url", url, "method", "POST", "body", "expression",
        "{order: steps.prep.output.order}", "retry", "max_attempts", 5, "base_delay_ms", 50,
        "max_delay_ms", 200, "id", "small", "type", "transform", "config", "expression", "'small'",
        "id", "done", "type", "terminate", "config", "status", "succeeded", "output",
        "{status: steps.call.output.status, body: steps.call.output.body}", "edges", "from", "prep",
        "to", "check", "from", "check", "to", "call", "port", "true", "from", "check", "to",
        "small", "port", "false", "from", "call", "to", "done");
}

MH_TEST(transform_branch_http_with_retries_terminate)
{
    struct mh_it_project_env e;
    struct mh_mock *m = mh_mock_start(target, NULL);
    mh_it_project_setup(&e, NULL, "engine");
    json_t *def = main_flow(mh_mock_port(m));
    char wf[40], run[40];
    workflow(&e, def, true, wf);
    json_decref(def);
    mh_it_project_start_run(&e, wf, "{\"order\": \"A-1\", \"amount\": 250}", run);
    json_t *r = wait_run(&e, run, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_t *out = json_object_get(r, "output");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(out, "status")), 200);
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(out, "body"), "ok")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(out, "body"), "hit")), 3);
    /* Exactly three attempts, the untaken branch skipped. */
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/flaky"), 3);
    MH_T_ASSERT_EQ(count_events(&e, run, "http_attempt"), 3);
    MH_T_ASSERT_STR_EQ(step_status(r, "small"), "skipped");
    MH_T_ASSERT_STR_EQ(step_status(r, "call"), "succeeded");
    json_decref(r);
    /* Every attempt carried the same idempotency key and the body built from the trigger. */
    char *t = mh_mock_transcript(m);
    char *k1 = strcasestr(t, "idempotency-key: ");
    MH_T_ASSERT(k1 != NULL);
    char key[64];
    snprintf(key, sizeof(key), "%.35s", k1 + 17);
    int seen = 0;
    for (char *p = t; (p = strstr(p, key)) != NULL; p++)
        seen++;
    MH_T_ASSERT_EQ(seen, 3);
    MH_T_ASSERT(strstr(t, "{\"order\":\"A-1\"}") != NULL);
    free(t);
    assert_replays_clean(&e, run);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

MH_TEST(delay_holds_no_worker)
{
    struct mh_it_project_env e;
    const char *args[] = {"--workers", "1", NULL};
    mh_it_project_setup(&e, args, "engine");
    json_t *slow = json_pack("{s:[{s:s, s:s, s:{s:i}}, {s:s, s:s, s:{s:s}}], s:[{s:s, s:s}]}",
                             "nodes", "id", "wait", "type", "delay", "config", "duration_ms", 2000,
                             "id", "end", "type", "terminate", "config", "output",
                             "steps.wait.output", "edges", "from", "wait", "to", "end");
    json_t *quick = json_pack("{s:[{s:s, s:s, s:{s:s}}], s:[]}", "nodes", "id", "t", "type",
                              "transform", "config", "expression", "trigger.body.n", "edges");
    char w1[40], w2[40], r1[40], r2[40];
    workflow(&e, slow, true, w1);
    workflow(&e, quick, true, w2);
    json_decref(slow);
    json_decref(quick);
    mh_it_project_start_run(&e, w1, "{}", r1);
    mh_it_sleep_ms(300);
    mh_it_project_start_run(&e, w2, "{\"n\": 7}", r2);
    /* With one worker, the quick run finishes while the delayed one is still waiting. */
    json_t *q = wait_run(&e, r2, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(q, "status")), "succeeded");
    json_decref(q);
    json_t *d = mh_it_project_get_run(&e, r1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "status")), "running");
    MH_T_ASSERT_STR_EQ(step_status(d, "wait"), "waiting_timer");
    json_decref(d);
    d = wait_run(&e, r1, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d, "status")), "succeeded");
    json_t *o = json_object_get(d, "output");
    MH_T_ASSERT(json_integer_value(json_object_get(o, "fired_at")) -
                    json_integer_value(json_object_get(o, "fire_at")) >=
                0);
    json_decref(d);
    assert_replays_clean(&e, r1);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* Publishes a workflow of one GET http_call to `url` (retried up to `max_attempts` times, 20 to
 * 50 ms apart) ending with the call's body, and runs it to its end: returns the run (new
 * reference), its id in `run` (40 bytes). */
/* Publishes a workflow of one GET http_call to `url` (then terminate with its body). */
static void call_workflow(struct mh_it_project_env *e, const char *url, int max_attempts,
                          int timeout_ms, char *wf)
{
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:i, s:{s:i, s:i, s:i}}}, {s:s, s:s, s:{s:s}}], "
                  "s:[{s:s, s:s}]}",
                  "nodes", "id", "call", "type", "http_call", "config", "url", url, "method", "GET",
                  "timeout_ms", timeout_ms, "retry", "max_attempts", max_attempts, "base_delay_ms",
                  20, "max_delay_ms", 50, "id", "end", "type", "terminate", "config", "output",
                  "steps.call.output.body", "edges", "from", "call", "to", "end");
    workflow(e, def, true, wf);
    json_decref(def);
}

static json_t *run_one_call(struct mh_it_project_env *e, const char *url, int max_attempts,
                            char *run)
{
    char wf[40];
    call_workflow(e, url, max_attempts, 30000, wf);
    mh_it_project_start_run(e, wf, "{}", run);
    return wait_run(e, run, 30);
}

MH_TEST(dead_port_dead_letter_then_replay_succeeds)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, NULL, "engine");
    int port = mh_it_free_port();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hook", port);
    char run[40];
    json_t *r = run_one_call(&e, url, 2, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    json_decref(r);
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters", e.project);
    long st;
    json_t *dl = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *items = json_object_get(dl, "items");
    MH_T_ASSERT_EQ(json_array_size(items), 1);
    json_t *d0 = json_array_get(items, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d0, "run_id")), run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(d0, "payload"), "node")),
                       "call");
    char dl_id[40];
    snprintf(dl_id, sizeof(dl_id), "%s", json_string_value(json_object_get(d0, "id")));
    json_decref(dl);

    /* The target comes up; replaying the dead letter resumes the failed step in a new run. */
    struct mh_mock *m = mh_mock_start_port(port, target, NULL);
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters/%s/replay", e.project, dl_id);
    json_t *rep = mh_it_project_api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 202);
    char run2[40];
    snprintf(run2, sizeof(run2), "%s", json_string_value(json_object_get(rep, "run_id")));
    json_decref(rep);
    json_t *r2 = wait_run(&e, run2, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r2, "status")), "succeeded");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r2, "parent_run_id")), run);
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(r2, "output"), "ok")));
    json_decref(r2);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/hook"), 1);
    assert_replays_clean(&e, run2);
    /* The dead letter is marked replayed. */
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters", e.project);
    dl = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT(json_is_string(
        json_object_get(json_array_get(json_object_get(dl, "items"), 0), "replayed_at")));
    json_decref(dl);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

/* The run failed because its call was refused as internal, and said so. */
static void assert_refused(struct mh_it_project_env *e, const char *url)
{
    char run[40], path[256];
    json_t *r = run_one_call(e, url, 3, run);
    if (strcmp(json_string_value(json_object_get(r, "status")), "failed") != 0)
        mh_t_fail(__FILE__, __LINE__, "%s: run %s", url,
                  json_string_value(json_object_get(r, "status")));
    json_decref(r);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e->project, run);
    long st;
    json_t *events = mh_it_project_api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char *text = json_dumps(events, 0);
    if (strstr(text, "private targets are not allowed") == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: events say %s", url, text);
    free(text);
    json_decref(events);
    /* Refused, not failed: no retries. */
    MH_T_ASSERT_EQ(count_events(e, run, "http_attempt"), 1);
}

/* Issue #18, defect 6: with no allow-list, an http_call to a loopback, private, link-local
 * (metadata) or IPv6 loopback address is refused before any connection is made, whatever name
 * led there: the target sees nothing and the run fails, saying why. */
MH_TEST(private_targets_are_refused_by_default)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, (const char *const[]){"--outbound-allowlist=", NULL}, "engine");
    struct mh_mock *m = mh_mock_start(target, NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/internal", mh_mock_port(m));
    assert_refused(&e, url);
    snprintf(url, sizeof(url), "http://localhost:%d/internal", mh_mock_port(m));
    assert_refused(&e, url);
    snprintf(url, sizeof(url), "http://[::1]:%d/internal", mh_mock_port(m));
    assert_refused(&e, url);
    assert_refused(&e, "http://10.255.255.1:81/internal");
    assert_refused(&e, "http://169.254.169.254/latest/meta-data/");
    MH_T_ASSERT_EQ(mh_mock_hits(m, NULL), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

/* A server-wide allow-list that does not parse stops the server, naming the entry. */
MH_TEST(bad_server_allowlist_stops_the_server)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    char port[16];
    snprintf(port, sizeof(port), "%d", mh_it_free_port());
    const char *args[] = {"serve",
                          "--port",
                          port,
                          "--bind-address",
                          "127.0.0.1",
                          "--outbound-allowlist",
                          "10.0.0.0/8,192.168.0.0/99",
                          NULL};
    char *out = NULL;
    MH_T_ASSERT(mh_it_run(&db, args, &out) != 0);
    MH_T_ASSERT(strstr(out, "outbound_allowlist") != NULL);
    MH_T_ASSERT(strstr(out, "192.168.0.0/99") != NULL);
    free(out);
}

static void put_allowlist(struct mh_it_project_env *e, const char *body, long want,
                          const char *want_path)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/outbound", e->project);
    long st;
    json_t *r = mh_it_project_api(e, "PUT", path, body, &st);
    if (st != want) {
        char *dump = json_dumps(r, 0);
        mh_t_fail(__FILE__, __LINE__, "PUT %s: %ld %s", body, st, dump);
    }
    if (want_path != NULL)
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r, "error"), "path")),
                           want_path);
    json_decref(r);
}

/* A project's admins name the internal targets its calls may reach; other projects still
 * cannot reach them, editors read the list but cannot change it, and every change is
 * audited. */
MH_TEST(project_allowlist_lets_internal_targets_through)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, (const char *const[]){"--outbound-allowlist=", NULL}, "engine");
    struct mh_mock *m = mh_mock_start(target, NULL);
    char url[128], path[256], run[40];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/internal", mh_mock_port(m));

    put_allowlist(&e, "{\"allowlist\": [\"10.0.0.0/8\", \"127.0.0.1/33\"]}", 422, "/allowlist/1");
    put_allowlist(&e, "{\"allowlist\": [\"ok.example\", \"not a host\"]}", 422, "/allowlist/1");
    put_allowlist(&e, "{\"allowlist\": [\"10.0.0.1/8\"]}", 422, "/allowlist/0");
    put_allowlist(&e, "{\"allowlist\": [7]}", 422, "/allowlist/0");
    put_allowlist(&e, "{\"allowlist\": \"127.0.0.1\"}", 422, "/allowlist");
    put_allowlist(&e, "{\"allow\": []}", 422, "/allow");
    snprintf(path, sizeof(path), "/api/projects/%s/outbound", e.project);
    long st;
    json_t *got = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(got, "allowlist")), 0);
    json_decref(got);
    assert_refused(&e, url);

    put_allowlist(&e, "{\"allowlist\": [\"127.0.0.1\", \"*.corp.example\", \"fd00::/8\"]}", 200,
                  NULL);
    got = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(got, "allowlist")), 3);
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(got, "allowlist"), 1)),
                       "*.corp.example");
    json_decref(got);
    /* Workers cache project settings for up to 5 s. */
    mh_it_sleep_ms(5500);
    json_t *r = run_one_call(&e, url, 1, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/internal"), 1);

    /* Another project of the same owner has no allow-list of its own. */
    struct mh_it_project_env other = e;
    mh_it_project(&e.s, e.bearer, "other", other.project);
    assert_refused(&other, url);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/internal"), 1);

    /* Editors read it; only admins write it. */
    struct mh_it_project_env ed = e;
    mh_it_user_token(&e.db, &e.s, "editor@example.com", ed.bearer, ed.user);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e.project);
    json_decref(mh_it_project_api(
        &e, "POST", path, "{\"email\": \"editor@example.com\", \"role\": \"editor\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    snprintf(path, sizeof(path), "/api/projects/%s/outbound", e.project);
    got = mh_it_project_api(&ed, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_decref(got);
    json_decref(mh_it_project_api(&ed, "PUT", path, "{\"allowlist\": [\"0.0.0.0/0\"]}", &st));
    MH_T_ASSERT_EQ(st, 403);
    /* Nor can a non-member read it. */
    snprintf(path, sizeof(path), "/api/projects/%s/outbound", other.project);
    json_decref(mh_it_project_api(&ed, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 404);

    snprintf(path, sizeof(path), "/api/projects/%s/audit", e.project);
    json_t *audit = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char *text = json_dumps(audit, 0);
    MH_T_ASSERT(strstr(text, "outbound.update") != NULL);
    MH_T_ASSERT(strstr(text, "*.corp.example") != NULL);
    free(text);
    json_decref(audit);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

static void tenant_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = 200;
    if (strncmp(req->path, "/slow", 5) == 0)
        rep->delay_ms = 500;
    if (strncmp(req->path, "/hold", 5) == 0)
        rep->delay_ms = 8000;
    if (strncmp(req->path, "/fail", 5) == 0)
        rep->status = 500;
    snprintf(rep->body, sizeof(rep->body), "{\"ok\": true}");
}

/* Issue #18, defect 7: calls of project A that time out at 1 ms, or fail with 5xx, park
 * neither B's calls to the same origin nor, for the timeouts, A's own. */
MH_TEST(one_projects_failures_do_not_park_anothers_calls)
{
    struct mh_it_project_env a;
    mh_it_project_setup(
        &a, (const char *const[]){"--breaker-failures", "2", "--breaker-open-ms", "60000", NULL},
        "engine");
    struct mh_it_project_env b = a;
    mh_it_project(&a.s, a.bearer, "b", b.project);
    struct mh_mock *m = mh_mock_start(tenant_target, NULL);
    char url[128], wf[40], run[40];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", mh_mock_port(m));
    call_workflow(&a, url, 1, 1, wf);
    for (int i = 0; i < 5; i++) {
        mh_it_project_start_run(&a, wf, "{}", run);
        json_t *r = wait_run(&a, run, 30);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
        json_decref(r);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", mh_mock_port(m));
    json_t *r = run_one_call(&a, url, 1, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);

    /* A's 5xx open A's breaker for the origin; B's call goes through at once. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/fail", mh_mock_port(m));
    r = run_one_call(&a, url, 2, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    json_decref(r);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", mh_mock_port(m));
    call_workflow(&b, url, 1, 30000, wf);
    mh_it_project_start_run(&b, wf, "{}", run);
    r = wait_run(&b, run, 10); /* a parked call would wait out the 60 s open period */
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&a.s, SIGTERM), 0);
    mh_mock_stop(m);
}

/* Issue #18, defect 7: a project's slow fan-out takes its share of outbound_max_in_flight, and
 * another project's call is sent while A's wait. */
MH_TEST(one_projects_fan_out_does_not_starve_anothers)
{
    struct mh_it_project_env a;
    mh_it_project_setup(&a,
                        (const char *const[]){"--outbound-max-in-flight", "2",
                                              "--outbound-max-in-flight-per-project", "1", NULL},
                        "engine");
    struct mh_it_project_env b = a;
    mh_it_project(&a.s, a.bearer, "b", b.project);
    /* Two targets: the mock answers one connection at a time, and B must not queue behind A
     * there. */
    struct mh_mock *m = mh_mock_start(tenant_target, NULL);
    struct mh_mock *m2 = mh_mock_start(tenant_target, NULL);
    char url[128], wf[40], run[40];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hold", mh_mock_port(m));
    call_workflow(&a, url, 1, 30000, wf);
    for (int i = 0; i < 3; i++)
        mh_it_project_start_run(&a, wf, "{}", run);
    for (int i = 0; i < 100 && mh_mock_hits(m, "/hold") == 0; i++)
        mh_it_sleep_ms(50);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/hold"), 1);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", mh_mock_port(m2));
    call_workflow(&b, url, 1, 30000, wf);
    mh_it_project_start_run(&b, wf, "{}", run);
    json_t *r = wait_run(&b, run, 6); /* A's first call holds its slot for 8 s */
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    /* A's other two still wait for A's slot. */
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/hold"), 1);
    MH_T_ASSERT_EQ(mh_it_server_stop(&a.s, SIGTERM), 0);
    mh_mock_stop(m);
}

/* A burst beyond what the executor holds for a project (1 in flight + 1 waiting here) is not
 * lost and not left to the job's lease recovery (10 minutes here): each call refused for a full
 * queue is deferred, no attempt spent, and its run tries again 1-2 s later. */
MH_TEST(a_burst_beyond_the_outbound_queue_is_sent_soon_after)
{
    struct mh_it_project_env a;
    mh_it_project_setup(&a,
                        (const char *const[]){"--outbound-max-in-flight-per-project", "1",
                                              "--outbound-max-queued", "4", "--job-lease-ms",
                                              "600000", NULL},
                        "engine");
    struct mh_mock *m = mh_mock_start(tenant_target, NULL);
    char url[128], wf[40], runs[10][40];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/slow", mh_mock_port(m));
    call_workflow(&a, url, 1, 30000, wf);
    for (int i = 0; i < 10; i++)
        mh_it_project_start_run(&a, wf, "{}", runs[i]);
    for (int i = 0; i < 10; i++) {
        json_t *r = wait_run(&a, runs[i], 60);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
        json_decref(r);
    }
    /* One attempt each: a deferral is not an attempt. */
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/slow"), 10);
    MH_T_ASSERT_EQ(mh_it_server_stop(&a.s, SIGTERM), 0);
    mh_mock_stop(m);
}

MH_TEST(jmespath_error_fails_the_run_not_the_worker)
{
    struct mh_it_project_env e;
    const char *args[] = {"--workers", "1", NULL};
    mh_it_project_setup(&e, args, "engine");
    json_t *bad = json_pack("{s:[{s:s, s:s, s:{s:s}}], s:[]}", "nodes", "id", "t", "type",
                            "transform", "config", "expression", "abs(trigger.body.s)", "edges");
    json_t *good = json_pack("{s:[{s:s, s:s, s:{s:s}}], s:[]}", "nodes", "id", "t", "type",
                             "transform", "config", "expression", "trigger.body.s", "edges");
    char w1[40], w2[40], r1[40], r2[40];
    workflow(&e, bad, true, w1);
    workflow(&e, good, true, w2);
    json_decref(bad);
    json_decref(good);
    mh_it_project_start_run(&e, w1, "{\"s\": \"not a number\"}", r1);
    json_t *r = wait_run(&e, r1, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    const char *err = json_string_value(json_object_get(r, "error"));
    MH_T_ASSERT(err && strstr(err, "abs") != NULL);
    json_decref(r);
    MH_T_ASSERT_EQ(count_events(&e, r1, "step_failed"), 1);
    MH_T_ASSERT_EQ(count_events(&e, r1, "run_failed"), 1);
    /* The one worker is still alive. */
    mh_it_project_start_run(&e, w2, "{\"s\": \"fine\"}", r2);
    r = wait_run(&e, r2, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    assert_replays_clean(&e, r1);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* Waits until run `run`'s step `node` is waiting on its timer. */
static void wait_for_timer(struct mh_it_project_env *e, const char *run, const char *node)
{
    for (int i = 0; i < 200; i++) {
        json_t *r = mh_it_project_get_run(e, run);
        const char *st = step_status(r, node);
        bool waiting = st && strcmp(st, "waiting_timer") == 0;
        json_decref(r);
        if (waiting)
            return;
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s's step %s is not waiting on its timer", run, node);
}

static long cancel_run(struct mh_it_project_env *e, const char *run)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/cancel", e->project, run);
    json_decref(mh_it_project_api(e, "POST", path, NULL, &st));
    return st;
}

MH_TEST(cancel_resume_test_runs_and_tamper_detection)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, NULL, "engine");
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:i}}, {s:s, s:s, s:{s:s}}], "
                  "s:[{s:s, s:s}, {s:s, s:s}]}",
                  "nodes", "id", "a", "type", "transform", "config", "expression", "trigger.body",
                  "id", "wait", "type", "delay", "config", "duration_ms", 600000, "id", "b", "type",
                  "transform", "config", "expression", "steps.a.output", "edges", "from", "a", "to",
                  "wait", "from", "wait", "to", "b");
    char wf[40], run[40], path[256];
    workflow(&e, def, true, wf);
    mh_it_project_start_run(&e, wf, "{\"x\": 1}", run);
    wait_for_timer(&e, run, "wait");
    long st;
    MH_T_ASSERT_EQ(cancel_run(&e, run), 202);
    json_t *r = wait_run(&e, run, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "canceled");
    json_decref(r);
    MH_T_ASSERT_EQ(cancel_run(&e, run), 409);

    /* Resume from the delay: a new run, linked, that starts at that step. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/resume", e.project, run);
    json_t *res = mh_it_project_api(&e, "POST", path, "{\"from_node\": \"wait\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    char run2[40];
    snprintf(run2, sizeof(run2), "%s", json_string_value(json_object_get(res, "run_id")));
    json_decref(res);
    res = mh_it_project_api(&e, "POST", path, "{\"from_node\": \"b\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    json_decref(res);
    mh_it_sleep_ms(300);
    r = mh_it_project_get_run(&e, run2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "parent_run_id")), run);
    MH_T_ASSERT_STR_EQ(step_status(r, "a"), "succeeded");
    MH_T_ASSERT_EQ(count_events(&e, run2, "step_succeeded"), 1);
    json_decref(r);
    assert_replays_clean(&e, run2);

    /* A test run of the draft, flagged in listings. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/test-runs", e.project, wf);
    res = mh_it_project_api(&e, "POST", path, "{\"payload\": {\"t\": true}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT(json_is_true(json_object_get(res, "is_test")));
    json_decref(res);
    snprintf(path, sizeof(path), "/api/projects/%s/runs?limit=1", e.project);
    json_t *list = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT(json_is_true(
        json_object_get(json_array_get(json_object_get(list, "items"), 0), "is_test")));
    json_decref(list);
    /* A draft that does not validate is refused as publishing refuses it: every error, with the
     * same code. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e.project, wf);
    res =
        mh_it_project_api(&e, "PUT", path,
                          "{\"definition\": {\"nodes\": [{\"id\": \"a\", \"type\": \"transform\", "
                          "\"config\": {}}], \"edges\": [{\"from\": \"a\", \"to\": \"nowhere\"}]}}",
                          &st);
    MH_T_ASSERT_EQ(st, 200);
    json_decref(res);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/test-runs", e.project, wf);
    res = mh_it_project_api(&e, "POST", path, "{}", &st);
    MH_T_ASSERT_EQ(st, 422);
    json_t *err = json_object_get(res, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "code")), "invalid_definition");
    MH_T_ASSERT(json_array_size(json_object_get(err, "errors")) >= 2);
    MH_T_ASSERT(json_is_string(json_object_get(err, "path")));
    json_decref(res);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wf);
    res = mh_it_project_api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(res, "error"), "code")),
                       "invalid_definition");
    json_decref(res);

    /* Tampering with the log is detected: an edited event, then a truncated log. */
    const char *params[] = {run};
    json_decref(mh_it_sql(e.db.admin_url,
                          "UPDATE events SET payload = jsonb_set(payload, '{output}', "
                          "'{\"x\": 2}') WHERE run_id = $1 AND type = 'step_succeeded'",
                          1, params, NULL));
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e.project, run);
    json_t *rep = mh_it_project_api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(rep, "ok")));
    MH_T_ASSERT(json_array_size(json_object_get(rep, "chain_breaks")) > 0);
    json_decref(rep);
    const char *args[] = {"replay", run, NULL};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e.db, args, &out), 1);
    free(out);
    const char *p2[] = {run2};
    json_decref(mh_it_sql(e.db.admin_url,
                          "DELETE FROM events WHERE run_id = $1 AND seq = (SELECT max(seq) FROM "
                          "events WHERE run_id = $1)",
                          1, p2, NULL));
    const char *args2[] = {"replay", run2, NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e.db, args2, &out), 1);
    MH_T_ASSERT(strstr(out, "\"truncated\": true") != NULL);
    free(out);
    json_decref(def);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

static void recovering(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = req->hit <= 2 ? 503 : 200;
    snprintf(rep->body, sizeof(rep->body), "{\"hit\": %d}", req->hit);
}

/* The reason of the run's one run_canceled event (NULL when it has none, or more than one). */
static char *cancel_reason(struct mh_it_project_env *e, const char *run)
{
    const char *p[] = {run};
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT payload->>'reason' AS reason FROM events WHERE run_id = "
                             "$1::uuid AND type = 'run_canceled'",
                             1, p, NULL);
    MH_T_ASSERT(rows != NULL);
    const char *why = json_array_size(rows) == 1
                          ? json_string_value(json_object_get(json_array_get(rows, 0), "reason"))
                          : NULL;
    char *out = why ? strdup(why) : NULL;
    json_decref(rows);
    return out;
}

/*
 * A cancel is stored before it is answered: an instance without workers takes it (it answered
 * 503 when the cancel was a message to its own workers), and it survives that instance's
 * SIGKILL; the workers of an instance started later cancel the run, and a cancel through an
 * instance without workers reaches the workers of another one at once.
 */
MH_TEST(a_cancel_is_durable_and_taken_by_an_instance_without_workers)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, (const char *const[]){"--workers", "1", NULL}, "engine");
    json_t *def = json_pack("{s:[{s:s, s:s, s:{s:i}}, {s:s, s:s, s:{s:s}}], s:[{s:s, s:s}]}",
                            "nodes", "id", "wait", "type", "delay", "config", "duration_ms", 600000,
                            "id", "b", "type", "transform", "config", "expression", "trigger.body",
                            "edges", "from", "wait", "to", "b");
    char wf[40], r1[40], r2[40];
    workflow(&e, def, true, wf);
    json_decref(def);
    mh_it_project_start_run(&e, wf, "{\"n\": 1}", r1);
    mh_it_project_start_run(&e, wf, "{\"n\": 2}", r2);
    wait_for_timer(&e, r1, "wait");
    wait_for_timer(&e, r2, "wait");
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);

    /* An instance without workers: the cancel is stored, nothing decides it yet. */
    const char *const api_only[] = {"--workers", "0", NULL};
    mh_it_server_start(&e.s, &e.db, api_only);
    MH_T_ASSERT_EQ(cancel_run(&e, r1), 202);
    MH_T_ASSERT_EQ(cancel_run(&e, r1), 202); /* still running: asked again, the first stands */
    mh_it_sleep_ms(300);
    json_t *r = mh_it_project_get_run(&e, r1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "running");
    json_decref(r);
    const char *p1[] = {r1};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT cancel_reason, cancel_requested_at IS NOT NULL AS asked, "
                             "(SELECT run_at <= now() FROM jobs WHERE run_id = r.id) AS due "
                             "FROM runs r WHERE id = $1::uuid",
                             1, p1, NULL);
    json_t *row = json_array_get(rows, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "cancel_reason")),
                       "canceled through the API");
    MH_T_ASSERT(json_is_true(json_object_get(row, "asked")));
    MH_T_ASSERT(json_is_true(json_object_get(row, "due")));
    json_decref(rows);
    /* The instance that took it dies before any worker saw it. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);

    /* Again an instance without workers, beside one with workers only: the stored cancel is
     * carried out, and a new one through the first instance reaches the second's workers. */
    mh_it_server_start(&e.s, &e.db, api_only);
    struct mh_it_server w;
    mh_it_server_start(&w, &e.db, (const char *const[]){"--workers-only", "--workers", "1", NULL});
    r = wait_run(&e, r1, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "canceled");
    json_decref(r);
    MH_T_ASSERT_EQ(cancel_run(&e, r2), 202);
    r = wait_run(&e, r2, 10);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "canceled");
    json_decref(r);
    for (int k = 0; k < 2; k++) {
        char *why = cancel_reason(&e, k ? r2 : r1);
        MH_T_ASSERT(why != NULL);
        MH_T_ASSERT_STR_EQ(why, "canceled through the API");
        free(why);
        MH_T_ASSERT_EQ(count_events(&e, k ? r2 : r1, "step_succeeded"), 0);
    }
    MH_T_ASSERT_EQ(cancel_run(&e, r1), 409);
    assert_replays_clean(&e, r1);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w, SIGTERM), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(open_breaker_parks_the_step_without_spending_attempts)
{
    struct mh_it_project_env e;
    struct mh_mock *m = mh_mock_start(recovering, NULL);
    /* Two failures open the host's breaker for a second. */
    const char *args[] = {"--breaker-failures", "2", "--breaker-open-ms", "1000", NULL};
    mh_it_project_setup(&e, args, "engine");
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/svc", mh_mock_port(m));
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:i, s:i, s:i}}}], s:[]}", "nodes", "id", "call",
                  "type", "http_call", "config", "url", url, "method", "GET", "retry",
                  "max_attempts", 3, "base_delay_ms", 10, "max_delay_ms", 20, "edges");
    char wf[40], run[40];
    workflow(&e, def, true, wf);
    json_decref(def);
    mh_it_project_start_run(&e, wf, "{}", run);
    /* Attempts 1 and 2 fail and open the breaker; attempt 3 finds it open and is parked, not
     * spent, until the half-open probe — which succeeds. With the attempt spent, the run would
     * have failed. */
    json_t *r = wait_run(&e, run, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(
                       json_object_get(json_object_get(r, "output"), "call"), "status")),
                   200);
    json_decref(r);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/svc"), 3);
    MH_T_ASSERT_EQ(count_events(&e, run, "http_attempt"), 3);
    assert_replays_clean(&e, run);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "breaker opened") != NULL);
    free(log);
    mh_mock_stop(m);
}

/* Fails its first two calls, then answers 200. */
static void fails_twice(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = req->hit <= 2 ? 500 : 200;
    snprintf(rep->body, sizeof(rep->body), "{\"hit\": %d}", req->hit);
}

/* The events of `run` (new reference: the array). */
static json_t *run_events(struct mh_it_project_env *e, const char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e->project, run);
    long st;
    json_t *r = mh_it_project_api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *evs = json_incref(json_object_get(r, "events"));
    json_decref(r);
    return evs;
}

static json_t *find_event(json_t *evs, const char *type)
{
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev)
    {
        if (strcmp(json_string_value(json_object_get(ev, "type")), type) == 0)
            return ev;
    }
    return NULL;
}

/* Issue #15: a step parked by an open breaker is recorded once in the run's log (step_parked:
 * reason, host, until), the run's state shows it waiting_breaker until then, and it resumes
 * (step_resumed) as running with the same attempt; the opening and the closing are written to
 * breaker_events. */
MH_TEST(breaker_park_is_recorded_in_the_log_and_the_state)
{
    struct mh_it_project_env e;
    struct mh_mock *m = mh_mock_start(fails_twice, NULL);
    const char *args[] = {"--breaker-failures", "2", "--breaker-open-ms", "3000", NULL};
    mh_it_project_setup(&e, args, "engine");
    char url[128], origin[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/svc", mh_mock_port(m));
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d", mh_mock_port(m));
    json_t *def =
        json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:{s:i, s:i, s:i}}}], s:[]}", "nodes", "id", "call",
                  "type", "http_call", "config", "url", url, "method", "GET", "retry",
                  "max_attempts", 3, "base_delay_ms", 10, "max_delay_ms", 20, "edges");
    char wf[40], run[40];
    workflow(&e, def, true, wf);
    json_decref(def);
    mh_it_project_start_run(&e, wf, "{}", run);

    /* Attempt 3 finds the breaker open: the park shows in the log and in the state. */
    json_t *evs = NULL, *parked = NULL;
    for (int i = 0; i < 200 && parked == NULL; i++) {
        json_decref(evs);
        evs = run_events(&e, run);
        parked = find_event(evs, "step_parked");
        if (parked == NULL)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT(parked != NULL);
    json_t *pp = json_object_get(parked, "payload");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(parked, "node_id")), "call");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(parked, "attempt")), 3);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(pp, "reason")), "breaker_open");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(pp, "host")), origin);
    json_int_t until = json_integer_value(json_object_get(pp, "until"));
    MH_T_ASSERT(until > 0);
    json_t *r = mh_it_project_get_run(&e, run);
    if (strcmp(json_string_value(json_object_get(r, "status")), "running") == 0 &&
        find_event(evs, "step_resumed") == NULL) {
        MH_T_ASSERT_STR_EQ(step_status(r, "call"), "waiting_breaker");
        json_t *call =
            json_object_get(json_object_get(json_object_get(r, "state"), "steps"), "call");
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(call, "fire_at")), until);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(call, "attempts")), 3);
    }
    json_decref(r);
    json_decref(evs);

    /* Once the breaker lets the probe through, the step resumes and the probe succeeds. */
    r = wait_run(&e, run, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/svc"), 3);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_parked"), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_resumed"), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "http_attempt"), 3);
    evs = run_events(&e, run);
    json_t *resumed = find_event(evs, "step_resumed");
    MH_T_ASSERT(json_integer_value(json_object_get(resumed, "seq")) >
                json_integer_value(json_object_get(find_event(evs, "step_parked"), "seq")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(resumed, "attempt")), 3);
    json_decref(evs);
    assert_replays_clean(&e, run);

    /* The opening and the probe's closing are durable. */
    json_t *rows = NULL;
    char state[6] = "";
    for (int i = 0; i < 100; i++) {
        json_decref(rows);
        rows = mh_it_sql(e.db.admin_url,
                         "SELECT project_id::text AS project, origin, host, failures, "
                         "closed_at IS NOT NULL AND closed_at >= opened_at AS closed FROM "
                         "breaker_events",
                         0, NULL, state);
        if (rows == NULL)
            mh_t_fail(__FILE__, __LINE__, "breaker_events: SQLSTATE %s", state);
        if (json_array_size(rows) == 1 &&
            json_is_true(json_object_get(json_array_get(rows, 0), "closed")))
            break;
        mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(json_array_size(rows), 1);
    json_t *row = json_array_get(rows, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "project")), e.project);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "origin")), origin);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "host")), "127.0.0.1");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "failures")), 2);
    MH_T_ASSERT(json_is_true(json_object_get(row, "closed")));
    json_decref(rows);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

static void leaky(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    (void)req;
    snprintf(rep->body, sizeof(rep->body),
             "{\"customer\": \"jane.doe@example.com\", \"order\": 42}");
}

MH_TEST(artifact_rules_redact_recorded_http_bodies)
{
    struct mh_it_project_env e;
    struct mh_mock *m = mh_mock_start(leaky, NULL);
    mh_it_project_setup(&e, NULL, "engine");
    char path[256], url[128];
    snprintf(path, sizeof(path), "/api/projects/%s/privacy", e.project);
    long st;
    json_decref(mh_it_project_api(&e, "PUT", path, "{\"artifacts\": [\"email\"]}", &st));
    MH_T_ASSERT_EQ(st, 200);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/customer", mh_mock_port(m));
    json_t *def = json_pack("{s:[{s:s, s:s, s:{s:s, s:s}}], s:[]}", "nodes", "id", "call", "type",
                            "http_call", "config", "url", url, "method", "GET", "edges");
    char wf[40], run[40];
    workflow(&e, def, true, wf);
    json_decref(def);
    mh_it_project_start_run(&e, wf, "{}", run);
    json_t *r = wait_run(&e, run, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_decref(r);
    /* Stored as redacted: not in the event log itself, whoever reads it. */
    const char *params[] = {run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT count(*) AS n FROM events WHERE run_id = $1 AND "
                             "payload::text LIKE '%jane.doe%'",
                             1, params, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);
    rows = mh_it_sql(e.db.admin_url,
                     "SELECT count(*) AS n FROM events WHERE run_id = $1 AND payload::text LIKE "
                     "'%redacted:email%' AND payload::text LIKE '%42%' AND type = "
                     "'http_attempt'",
                     1, params, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);
    assert_replays_clean(&e, run);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}
