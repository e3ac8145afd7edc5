/* SPDX-License-Identifier: MIT */
/*
 * Answering a webhook with the workflow's result, through the real server and PostgreSQL: an
 * endpoint in response mode "respond" answers with its run's respond step (decided in the
 * intake's own transaction when the steps before it are pure, or by a worker after an
 * http_call), falls back to 202 with the run id at its time limit, and a pure workflow finishes
 * inside the intake's transaction with no worker at all. Bad settings and bad respond nodes are
 * refused with the offending field.
 */
#include "itest_intake_common.h"
#include "mock_http.h"

static void create_workflow(struct ienv *e, const char *def, char *id)
{
    char path[256], *body = NULL;
    long st;
    size_t n = strlen(def) + 64;
    body = malloc(n);
    snprintf(body, n, "{\"name\": \"respond\", \"definition\": %s}", def);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *w = iapi(e, "POST", path, body, &st);
    if (st != 201) {
        char *dump = w ? json_dumps(w, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld %s", st, dump ? dump : "");
    }
    free(body);
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_t *v = iapi(e, "POST", path, NULL, &st);
    MH_T_ASSERT(st == 200 || st == 201);
    json_decref(v);
}

/* An endpoint of workflow `wf` with `settings` (JSON members without braces); returns its
 * public id (new). */
static char *endpoint_of(struct ienv *e, const char *wf, const char *settings)
{
    char path[256], body[512];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e->project, wf);
    snprintf(body, sizeof(body), "{%s}", settings);
    json_t *r = iapi(e, "POST", path, body, &st);
    if (st != 201) {
        char *dump = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "create endpoint: %ld %s", st, dump ? dump : "");
    }
    char *pub = strdup(json_string_value(json_object_get(r, "public_id")));
    json_decref(r);
    return pub;
}

static json_t *get_run(struct ienv *e, const char *run)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run);
    json_t *r = iapi(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return r;
}

static json_t *wait_finished(struct ienv *e, const char *run)
{
    for (int i = 0; i < 600; i++) {
        json_t *r = get_run(e, run);
        const char *s = json_string_value(json_object_get(r, "status"));
        if (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0)
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    char *log = mh_it_server_log(&e->s);
    size_t len = log ? strlen(log) : 0;
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish; the server's log ends:\n%s", run,
              log ? log + (len > 4000 ? len - 4000 : 0) : "(none)");
}

static void assert_replays_clean(struct ienv *e, const char *run)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e->project, run);
    json_t *rep = iapi(e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    if (!json_is_true(json_object_get(rep, "ok"))) {
        char *s = json_dumps(rep, 0);
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", s);
    }
    json_decref(rep);
    const char *args[] = {"replay", run, NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e->db, args, NULL), 0);
}

/* The docs' Slack slash command (docs/workflows.md, "Answering the webhook"). */
#define SLASH_WORKFLOW                                                                             \
    "{\"nodes\": ["                                                                                \
    "{\"id\": \"parse\", \"type\": \"transform\", \"config\": {\"expression\": \"{user: "          \
    "trigger.body.user_name, text: trigger.body.text}\"}},"                                        \
    "{\"id\": \"answer\", \"type\": \"respond\", \"config\": {\"status\": 200, \"headers\": "      \
    "{\"X-Handled-By\": \"meshhook {{ steps.parse.output.user }}\"}, \"body\": "                   \
    "\"{response_type: 'ephemeral', text: join('', ['Deploying ', steps.parse.output.text])}\"}}," \
    "{\"id\": \"deploy\", \"type\": \"http_call\", \"config\": {\"url\": "                         \
    "\"http://127.0.0.1:%d/deploy\", \"body\": {\"expression\": \"steps.parse.output\"}}}],"       \
    "\"edges\": [{\"from\": \"parse\", \"to\": \"answer\"}, {\"from\": \"answer\", \"to\": "       \
    "\"deploy\"}]}"

static void ok_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx, (void)req;
    rep->status = 200;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    snprintf(rep->body, sizeof(rep->body), "{\"ticket\": \"T-42\"}");
}

MH_TEST(respond_mode_answers_with_the_respond_step)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    struct mh_mock *m = mh_mock_start(ok_target, NULL);
    char def[2048], wf[40];
    snprintf(def, sizeof(def), SLASH_WORKFLOW, mh_mock_port(m));
    create_workflow(&e, def, wf);
    char *respond = endpoint_of(&e, wf, "\"response_mode\": \"respond\"");
    char *accept = endpoint_of(&e, wf, "");

    const char *h[] = {"Content-Type: application/json", NULL};
    const char *payload = "{\"user_name\": \"ada\", \"text\": \"web\"}";
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, respond, "POST", h, payload, strlen(payload), &r), 200);
    MH_T_ASSERT(r.json != NULL);
    MH_T_ASSERT_STR_EQ(jstr(r.json, "response_type"), "ephemeral");
    MH_T_ASSERT_STR_EQ(jstr(r.json, "text"), "Deploying web");
    char *by = mh_it_resp_header(&r, "X-Handled-By");
    char *ct = mh_it_resp_header(&r, "Content-Type");
    char *run = mh_it_resp_header(&r, "X-MeshHook-Run-Id");
    MH_T_ASSERT(by && strcmp(by, "meshhook ada") == 0);
    MH_T_ASSERT(ct && strncmp(ct, "application/json", 16) == 0);
    MH_T_ASSERT(run != NULL && strlen(run) == 36);
    mh_it_resp_cleanup(&r);

    /* The run goes on after the answer: the call is made by a worker, and the log replays. */
    json_t *done = wait_finished(&e, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(done, "status")), "succeeded");
    json_decref(done);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/deploy"), 1);
    assert_replays_clean(&e, run);

    /* The same workflow behind an endpoint in the default mode: 202, the step a no-op. */
    MH_T_ASSERT_EQ(hook(&e, accept, "POST", h, payload, strlen(payload), &r), 202);
    MH_T_ASSERT(jstr(r.json, "run_id") != NULL);
    mh_it_resp_cleanup(&r);

    free(by);
    free(ct);
    free(run);
    free(respond);
    free(accept);
    ienv_stop(&e);
    mh_mock_stop(m);
}

/* A pure workflow is finished by the intake, in the transaction that records the delivery: with
 * no worker in the process, the run is already succeeded when the 202 arrives, its job gone
 * (intake_pure_prefix; endpoints in response mode `respond` always decide it). The body's
 * members no step reads are not built (src/engine/body.c); replay, which parses all of it,
 * verifies what was recorded. */
MH_TEST(pure_workflow_finishes_inside_the_intake_transaction)
{
    struct ienv e;
    const char *args[] = {"--workers", "0", "--intake-pure-prefix=true", NULL};
    ienv_setup(&e, args);
    char wf[40];
    create_workflow(&e,
                    "{\"nodes\": [{\"id\": \"t\", \"type\": \"transform\", \"config\": "
                    "{\"expression\": \"trigger.body.n\"}}, {\"id\": \"ok\", \"type\": \"branch\", "
                    "\"config\": {\"condition\": \"steps.t.output > `1`\"}}, {\"id\": \"big\", "
                    "\"type\": \"terminate\", \"config\": {\"output\": \"{n: steps.t.output}\"}}], "
                    "\"edges\": [{\"from\": \"t\", \"to\": \"ok\"}, {\"from\": \"ok\", \"to\": "
                    "\"big\", \"port\": \"true\"}]}",
                    wf);
    char *pub = endpoint_of(&e, wf, "");
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    const char *body = "{\"pad\": {\"n\": 1, \"s\": \"}{\\\"\"}, \"list\": [{\"n\": 2}, []], "
                       "\"\\u006e\": 5, \"z\": null}";
    MH_T_ASSERT_EQ(hook(&e, pub, "POST", h, body, strlen(body), &r), 202);
    char run[40];
    snprintf(run, sizeof(run), "%s", jstr(r.json, "run_id"));
    mh_it_resp_cleanup(&r);
    json_t *got = get_run(&e, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(got, "status")), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(got, "output"), "n")), 5);
    json_decref(got);
    const char *p[] = {run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT (SELECT count(*) FROM jobs WHERE run_id = $1)::int AS jobs, "
                             "(SELECT count(*) FROM events WHERE run_id = $1)::int AS events, "
                             "(SELECT last_seq FROM runs WHERE id = $1) AS last_seq",
                             1, p, NULL);
    json_t *row = json_array_get(rows, 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "jobs")), 0);
    /* run_started, t, ok, big, run_succeeded */
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "events")), 5);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "last_seq")), 5);
    json_decref(rows);
    assert_replays_clean(&e, run);
    free(pub);
    ienv_stop(&e);
}

static void slow_then_fast(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    (void)ctx;
    rep->status = 200;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    snprintf(rep->body, sizeof(rep->body), "{\"score\": 7}");
    if (strncmp(req->path, "/slow", 5) == 0)
        rep->delay_ms = 2500;
    else if (strncmp(req->path, "/mid", 4) == 0)
        rep->delay_ms = 1000;
}

#define CALL_THEN_RESPOND                                                                          \
    "{\"nodes\": [{\"id\": \"score\", \"type\": \"http_call\", \"config\": {\"url\": "             \
    "\"http://127.0.0.1:%d/%s\", \"timeout_ms\": 4000}}, {\"id\": \"answer\", \"type\": "          \
    "\"respond\", \"config\": "                                                                    \
    "{\"status\": 201, \"body\": \"steps.score.output.body\"}}], \"edges\": [{\"from\": "          \
    "\"score\", \"to\": \"answer\"}]}"

/* The answer comes from a worker (after an http_call), or 202 with the run id at the limit. */
MH_TEST(respond_waits_for_the_worker_then_falls_back_to_202)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    struct mh_mock *m = mh_mock_start(slow_then_fast, NULL);
    char def[1024], fast[40], slow[40];
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "fast");
    create_workflow(&e, def, fast);
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "slow");
    create_workflow(&e, def, slow);
    char *pf =
        endpoint_of(&e, fast, "\"response_mode\": \"respond\", \"response_timeout_ms\": 10000");
    char *ps =
        endpoint_of(&e, slow, "\"response_mode\": \"respond\", \"response_timeout_ms\": 400");
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    MH_T_ASSERT_EQ(hook(&e, pf, "POST", h, "{}", 2, &r), 201);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "score")), 7);
    mh_it_resp_cleanup(&r);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MH_T_ASSERT_EQ(hook(&e, ps, "POST", h, "{}", 2, &r), 202);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    MH_T_ASSERT(ms >= 350 && ms < 2400);
    char run[40];
    snprintf(run, sizeof(run), "%s", jstr(r.json, "run_id"));
    mh_it_resp_cleanup(&r);
    /* Nothing is lost: the run finishes after the sender was answered. */
    json_t *done = wait_finished(&e, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(done, "status")), "succeeded");
    json_decref(done);
    assert_replays_clean(&e, run);
    free(pf);
    free(ps);
    ienv_stop(&e);
    mh_mock_stop(m);
}

MH_TEST(respond_bad_settings_and_nodes_are_refused)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, e.workflow);
    json_t *r = iapi(&e, "POST", path, "{\"response_mode\": \"sync\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), "/response_mode");
    json_decref(r);
    r = iapi(&e, "POST", path, "{\"response_mode\": \"respond\", \"response_timeout_ms\": 50}",
             &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(r, "error.path"), "/response_timeout_ms");
    json_decref(r);

    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    r = iapi(&e, "POST", path,
             "{\"name\": \"bad\", \"definition\": {\"nodes\": [{\"id\": \"a\", \"type\": "
             "\"respond\", \"config\": {\"status\": 700}}, {\"id\": \"b\", \"type\": "
             "\"respond\", \"config\": {\"headers\": {\"Set-Cookie\": \"s=1\"}}}], "
             "\"edges\": [{\"from\": \"a\", \"to\": \"b\"}]}}",
             &st);
    /* A draft may be saved with errors; publishing it is refused with the node and field. */
    char *dump = json_dumps(r, JSON_COMPACT);
    MH_T_ASSERT(strstr(dump, "/nodes/0/config/status") != NULL);
    MH_T_ASSERT(strstr(dump, "/nodes/1/config/headers/Set-Cookie") != NULL);
    MH_T_ASSERT(strstr(dump, "forbidden_header") != NULL);
    free(dump);
    json_decref(r);
    ienv_stop(&e);
}

/* A crash while the sender waits for its answer loses nothing: the delivery was committed
 * before the wait began, so after SIGKILL and a restart its run is there and finishes. */
MH_TEST(crash_while_waiting_for_the_answer_loses_nothing)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--job-lease-ms", "2000", NULL});
    struct mh_mock *m = mh_mock_start(slow_then_fast, NULL);
    char def[1024], wf[40];
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "slow");
    create_workflow(&e, def, wf);
    char *pub =
        endpoint_of(&e, wf, "\"response_mode\": \"respond\", \"response_timeout_ms\": 30000");
    pid_t kid = fork();
    if (kid == 0) {
        const char *h[] = {"Content-Type: application/json", NULL};
        struct mh_it_resp r;
        hook(&e, pub, "POST", h, "{\"n\": 1}", 8, &r);
        _exit(r.status == 0 ? 0 : 1); /* the server died before answering */
    }
    /* Wait until the delivery is recorded, then kill the server in the middle of the wait. */
    json_t *rows = NULL;
    for (int i = 0; i < 100; i++) {
        json_decref(rows);
        rows = mh_it_sql(e.db.admin_url, "SELECT id::text AS id FROM runs", 0, NULL, NULL);
        if (json_array_size(rows) == 1)
            break;
        mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(json_array_size(rows), 1);
    char run[40];
    snprintf(run, sizeof(run), "%s",
             json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    int status = 0;
    waitpid(kid, &status, 0);
    MH_T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    mh_it_server_start(&e.s, &e.db, (const char *const[]){"--kek", IT_KEK, NULL});
    json_t *done = wait_finished(&e, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(done, "status")), "succeeded");
    json_decref(done);
    assert_replays_clean(&e, run);
    free(pub);
    ienv_stop(&e);
    mh_mock_stop(m);
}

/* Sends one webhook from a child process and writes "<status> <ms> <body>" to `path`. */
static pid_t send_from_child(struct ienv *e, const char *pub, const char *path)
{
    pid_t kid = fork();
    MH_T_ASSERT(kid >= 0);
    if (kid != 0)
        return kid;
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    hook(e, pub, "POST", h, "{}", 2, &r);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    FILE *f = fopen(path, "w");
    if (f) {
        fprintf(f, "%ld %ld %s", r.status, ms, r.body ? r.body : "");
        fclose(f);
    }
    _exit(0);
}

struct sent {
    long status, ms;
    json_t *body;
};

static struct sent sent_result(pid_t kid, const char *path)
{
    int st = 0;
    MH_T_ASSERT(waitpid(kid, &st, 0) == kid);
    MH_T_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    FILE *f = fopen(path, "r");
    MH_T_ASSERT(f != NULL);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    struct sent out = {0};
    int used = 0;
    MH_T_ASSERT(sscanf(buf, "%ld %ld %n", &out.status, &out.ms, &used) == 2);
    out.body = json_loads(buf + used, 0, NULL);
    return out;
}

/* The pid of the intake's connection listening for answers (0: none yet). */
static long answers_listener(struct ienv *e)
{
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT pid FROM pg_stat_activity WHERE application_name = "
                             "'meshhook answers'",
                             0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    MH_T_ASSERT(json_array_size(rows) <= 1);
    long pid = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "pid"));
    json_decref(rows);
    return pid;
}

/*
 * docs/operations.md, "Running several instances": an HTTP-only instance (--workers 0) takes the
 * webhook, a workers-only one runs it. The sender gets the answer the other instance's worker
 * recorded (its NOTIFY names the run; the intake reads the answer from the database), not the
 * 202 fallback. Then the intake's LISTEN connection is terminated while senders wait: it is
 * opened again, the waiting senders get their answers, and one whose answer cannot come in time
 * gets the 202 at its deadline: none hangs.
 */
MH_TEST(respond_across_instances_and_a_lost_listen_connection)
{
    struct ienv e;
    ienv_setup(&e, (const char *const[]){"--workers", "0", NULL});
    const char *c_args[] = {"--kek", IT_KEK, "--workers-only", "--workers", "2", NULL};
    struct mh_it_server c;
    mh_it_server_start(&c, &e.db, c_args);
    struct mh_mock *m = mh_mock_start(slow_then_fast, NULL);
    char def[1024], fast[40], mid[40], slow[40];
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "fast");
    create_workflow(&e, def, fast);
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "mid");
    create_workflow(&e, def, mid);
    snprintf(def, sizeof(def), CALL_THEN_RESPOND, mh_mock_port(m), "slow");
    create_workflow(&e, def, slow);
    char *pf =
        endpoint_of(&e, fast, "\"response_mode\": \"respond\", \"response_timeout_ms\": 5000");
    char *pm =
        endpoint_of(&e, mid, "\"response_mode\": \"respond\", \"response_timeout_ms\": 9000");
    char *ps =
        endpoint_of(&e, slow, "\"response_mode\": \"respond\", \"response_timeout_ms\": 800");

    /* Answered by the other instance's worker, well before the 5 s fallback. */
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    MH_T_ASSERT_EQ(hook(&e, pf, "POST", h, "{}", 2, &r), 201);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "score")), 7);
    char *run = mh_it_resp_header(&r, "X-MeshHook-Run-Id");
    MH_T_ASSERT(run != NULL && strlen(run) == 36);
    mh_it_resp_cleanup(&r);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    MH_T_ASSERT(ms < 4000);
    /* The run was the workers-only instance's to run: the HTTP instance has no workers. */
    const char *rp[] = {run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT status, answer_until IS NOT NULL AS awaited FROM runs WHERE "
                             "id = $1::uuid",
                             1, rp, NULL);
    MH_T_ASSERT(rows != NULL && json_array_size(rows) == 1);
    MH_T_ASSERT(json_is_true(json_object_get(json_array_get(rows, 0), "awaited")));
    json_decref(rows);
    free(run);

    /* Senders wait; the LISTEN connection dies under them. */
    long listener = answers_listener(&e);
    MH_T_ASSERT(listener > 0);
    char paths[3][96];
    pid_t kids[3];
    const char *pubs[3] = {pm, pm, ps};
    for (int k = 0; k < 3; k++) {
        snprintf(paths[k], sizeof(paths[k]), "%s/sent-%d.txt", e.tmp, k);
        kids[k] = send_from_child(&e, pubs[k], paths[k]);
    }
    for (int i = 0; i < 200; i++) {
        json_t *n = mh_it_sql(e.db.admin_url, "SELECT count(*) AS n FROM runs", 0, NULL, NULL);
        long runs = (long)json_integer_value(json_object_get(json_array_get(n, 0), "n"));
        json_decref(n);
        if (runs == 4)
            break;
        mh_it_sleep_ms(20);
    }
    char sqlstate[6] = "";
    /* As the server's own role: it may end its own backends. */
    rows = mh_it_sql(e.db.app_url,
                     "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE "
                     "application_name = 'meshhook answers'",
                     0, NULL, sqlstate);
    if (rows == NULL || json_array_size(rows) != 1) {
        char *dump = rows ? json_dumps(rows, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "terminating the listener: %s (%s)", dump ? dump : "-",
                  sqlstate);
    }
    MH_T_ASSERT(json_is_true(json_object_get(json_array_get(rows, 0), "ok")));
    json_decref(rows);

    for (int k = 0; k < 2; k++) {
        struct sent got = sent_result(kids[k], paths[k]);
        MH_T_ASSERT_EQ(got.status, 201);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(got.body, "score")), 7);
        MH_T_ASSERT(got.ms < 8500);
        json_decref(got.body);
    }
    struct sent late = sent_result(kids[2], paths[2]);
    MH_T_ASSERT_EQ(late.status, 202);
    MH_T_ASSERT(json_string_value(json_object_get(late.body, "run_id")) != NULL);
    MH_T_ASSERT(late.ms >= 750 && late.ms < 3000);
    json_decref(late.body);
    /* A connection of its own again, and the server said so. */
    long again = answers_listener(&e);
    MH_T_ASSERT(again > 0 && again != listener);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(log != NULL &&
                strstr(log, "the connection listening for answers was lost") != NULL);
    free(log);

    free(pf);
    free(pm);
    free(ps);
    mh_it_server_stop(&c, SIGTERM);
    ienv_stop(&e);
    mh_mock_stop(m);
}
