/* SPDX-License-Identifier: MIT */
/*
 * Error paths end to end (docs/workflows.md, "Error paths"): the real server and workers, a real
 * PostgreSQL and a scripted target. A call that fails after its node-level retries takes its
 * error edge, which sees the failure as steps.<id>.error; a lookup with on_error "continue" is
 * failed, continued; a SIGKILL between the recorded failure and the error path's step resumes
 * at that step without calling the failed target again; every run replays cleanly through the
 * API and `meshhook replay`.
 */
#include <signal.h>

#include "itest_project.h"
#include "mock_http.h"

/* Creates and publishes a workflow of `def_tpl` (JSON text, each PORT replaced by `port`). */
static void publish(struct mh_it_project_env *e, const char *def_tpl, int port, char *id)
{
    char def[4096];
    size_t n = 0;
    for (const char *p = def_tpl; *p && n + 8 < sizeof(def);) {
        if (strncmp(p, "PORT", 4) == 0) {
            n += (size_t)snprintf(def + n, sizeof(def) - n, "%d", port);
            p += 4;
        } else {
            def[n++] = *p++;
        }
    }
    def[n] = '\0';
    mh_it_project_publish(e, "errpaths", def, id);
}

static json_t *wait_run(struct mh_it_project_env *e, const char *run, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        json_t *r = mh_it_project_get_run(e, run);
        const char *s = json_string_value(json_object_get(r, "status"));
        if (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "canceled") == 0)
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish in %d s", run, secs);
}

static json_t *step(json_t *run, const char *node)
{
    return json_object_get(json_object_get(json_object_get(run, "state"), "steps"), node);
}

/* The number of events of `type` for `node` ("" for any) in the run's log. */
static int count_events(struct mh_it_project_env *e, const char *run, const char *type,
                        const char *node)
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
        const char *t = json_string_value(json_object_get(ev, "type"));
        const char *id = json_string_value(json_object_get(ev, "node_id"));
        n += strcmp(t, type) == 0 && (node[0] == '\0' || (id && strcmp(id, node) == 0));
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
    if (!json_is_true(json_object_get(rep, "ok")))
        mh_t_fail(__FILE__, __LINE__, "replay diverged: %s", json_dumps(rep, 0));
    json_decref(rep);
    const char *args[] = {"replay", run, NULL};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_it_run(&e->db, args, &out), 0);
    free(out);
}

/* /charge always answers 503; /lookup 404; /alert 200, its first answer after `ctx` ms. */
static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    int first_alert_delay_ms = ctx ? *(int *)ctx : 0;
    if (strncmp(req->path, "/charge", 7) == 0) {
        rep->status = 503;
        snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
        snprintf(rep->body, sizeof(rep->body), "{\"error\": \"billing is down\"}");
    } else if (strncmp(req->path, "/lookup", 7) == 0) {
        rep->status = 404;
        snprintf(rep->body, sizeof(rep->body), "unknown customer");
    } else {
        rep->status = 200;
        rep->delay_ms = req->hit == 1 ? first_alert_delay_ms : 0;
        snprintf(rep->body, sizeof(rep->body), "{\"alerted\": %d}", req->hit);
    }
}

static const char *const flow =
    "{\"nodes\": ["
    "{\"id\": \"lookup\", \"type\": \"http_call\", \"on_error\": \"continue\","
    " \"retry\": {\"max_attempts\": 1},"
    " \"config\": {\"method\": \"GET\", \"url\": \"http://127.0.0.1:PORT/lookup\"}},"
    "{\"id\": \"charge\", \"type\": \"http_call\","
    " \"retry\": {\"max_attempts\": 2, \"base_delay_ms\": 20, \"max_delay_ms\": 50},"
    " \"config\": {\"url\": \"http://127.0.0.1:PORT/charge\","
    "  \"body\": {\"expression\": \"{order: trigger.body.id, tier: steps.lookup.output.body.tier"
    " || 'standard'}\"}}},"
    "{\"id\": \"receipt\", \"type\": \"transform\", \"config\": {\"expression\":"
    " \"steps.charge.output.body\"}},"
    "{\"id\": \"alert\", \"type\": \"http_call\", \"config\": {\"timeout_ms\": 6000, \"url\":"
    " \"http://127.0.0.1:PORT/alert\", \"body\": {\"expression\": \"{order: trigger.body.id,"
    " reason: steps.charge.error.message, status: steps.charge.error.status, said:"
    " steps.charge.error.body.error}\"}}}],"
    "\"edges\": [{\"from\": \"lookup\", \"to\": \"charge\"},"
    " {\"from\": \"charge\", \"to\": \"receipt\"},"
    " {\"from\": \"charge\", \"to\": \"alert\", \"port\": \"error\"}]}";

static void assert_took_error_path(struct mh_it_project_env *e, struct mh_mock *m, const char *run,
                                   json_t *r)
{
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_t *lookup = step(r, "lookup"), *charge = step(r, "charge");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(lookup, "status")), "failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(lookup, "handled")), "continue");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(charge, "status")), "failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(charge, "handled")), "error_edge");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(charge, "attempts")), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "receipt"), "status")), "skipped");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "alert"), "status")), "succeeded");
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/lookup"), 1);
    MH_T_ASSERT_EQ(mh_mock_hits(m, "/charge"), 2);
    MH_T_ASSERT_EQ(count_events(e, run, "run_failed", ""), 0);
    MH_T_ASSERT_EQ(count_events(e, run, "step_failed", "charge"), 1);
    MH_T_ASSERT_EQ(count_events(e, run, "step_succeeded", "alert"), 1);
    /* What the error path sent: the failure as steps.charge.error; the charge went out with the
     * fallback tier after the failed lookup. */
    char *t = mh_mock_transcript(m);
    MH_T_ASSERT(strstr(t, "{\"order\":7,\"tier\":\"standard\"}") != NULL);
    MH_T_ASSERT(strstr(t, "{\"order\":7,\"reason\":\"HTTP status 503 (after 2 attempts)\","
                          "\"status\":503,\"said\":\"billing is down\"}") != NULL);
    free(t);
    assert_replays_clean(e, run);
    /* A failure that went somewhere is not a dead letter. */
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/dead-letters", e->project);
    long st;
    json_t *dl = mh_it_project_api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(dl, "items")), 0);
    json_decref(dl);
}

MH_TEST(failed_call_takes_its_error_edge_after_retries)
{
    struct mh_it_project_env e;
    struct mh_mock *m = mh_mock_start(target, NULL);
    mh_it_project_setup(&e, NULL, "errpaths");
    char wf[40], run[40];
    publish(&e, flow, mh_mock_port(m), wf);
    mh_it_project_start_run(&e, wf, "{\"id\": 7}", run);
    json_t *r = wait_run(&e, run, 30);
    assert_took_error_path(&e, m, run, r);
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}

/* SIGKILL while the error path's call is in flight, after the failure was recorded: the
 * restarted server finishes the error path and never calls /charge again. (The call's job comes
 * due at its timeout plus a margin: the alert's 6 s timeout, not the default 30 s, keeps the
 * wait short.) */
MH_TEST(sigkill_between_failure_and_error_path_resumes_there)
{
    struct mh_it_project_env e;
    int slow_ms = 4000;
    struct mh_mock *m = mh_mock_start(target, &slow_ms);
    const char *args[] = {"--job-lease-ms", "1500", NULL};
    mh_it_project_setup(&e, args, "errpaths");
    char wf[40], run[40];
    publish(&e, flow, mh_mock_port(m), wf);
    mh_it_project_start_run(&e, wf, "{\"id\": 7}", run);
    /* Wait until the failure is recorded and the alert is on the wire (its answer held back). */
    bool in_flight = false;
    for (int i = 0; i < 600 && !in_flight; i++) {
        in_flight =
            count_events(&e, run, "step_failed", "charge") == 1 && mh_mock_hits(m, "/alert") >= 1;
        if (!in_flight)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT(in_flight);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_succeeded", "alert"), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    mh_it_server_start(&e.s, &e.db, args);
    json_t *r = wait_run(&e, run, 60);
    assert_took_error_path(&e, m, run, r);
    /* The alert went out again (at least once) with the same idempotency key; the step started
     * once, and the failed call was not repeated (asserted above: 2 hits on /charge). */
    MH_T_ASSERT(mh_mock_hits(m, "/alert") >= 2);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_started", "alert"), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_started", "charge"), 2);
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    mh_mock_stop(m);
}
