/* SPDX-License-Identifier: MIT */
/*
 * wait_callback end to end (docs/workflows.md "Waiting for a callback"): the real server and
 * workers on a real PostgreSQL. A run hands out its callback URL (callbacks.<node>.url), waits,
 * and finishes with the body POSTed there; a second callback is 410, a forged token 404, bad
 * bodies 400/415; a callback that comes before the run reaches the step is held; the timeout
 * fails the step onto its error edge and a later callback is 410; a SIGKILL right after the 200
 * loses nothing; /metrics counts the outcomes; every run replays cleanly.
 */
#include <signal.h>

#include "itest_project.h"

#define CB_KEK "cb1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

static const char *const server_args[] = {"--kek", CB_KEK, NULL};
/* After a SIGKILL, a job the killed server had claimed comes back after this lease, not the
 * default 30 s (which the waits would not cover). */
static const char *const short_lease_args[] = {"--kek", CB_KEK, "--job-lease-ms", "2000", NULL};

static void publish(struct mh_it_project_env *e, const char *def, char *id)
{
    mh_it_project_publish(e, "callbacks", def, id);
}

static json_t *step(json_t *run, const char *node)
{
    return json_object_get(json_object_get(json_object_get(run, "state"), "steps"), node);
}

/* Waits until step `node` has status `status` (or the run finished, when status is NULL). */
static json_t *wait_for(struct mh_it_project_env *e, const char *run, const char *node,
                        const char *status, int secs)
{
    for (int i = 0; i < secs * 20; i++) {
        json_t *r = mh_it_project_get_run(e, run);
        const char *rs = json_string_value(json_object_get(r, "status"));
        const char *ss = node ? json_string_value(json_object_get(step(r, node), "status")) : NULL;
        if (status == NULL && (strcmp(rs, "succeeded") == 0 || strcmp(rs, "failed") == 0))
            return r;
        if (status != NULL && ss != NULL && strcmp(ss, status) == 0)
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s: %s not %s within %d s", run, node ? node : "run",
              status ? status : "finished", secs);
}

/* The callback URL the run handed out (steps.ask.output.url), re-based on the server's current
 * address (a restarted server listens on another port). */
static void callback_url(struct mh_it_project_env *e, json_t *run, char *out, size_t cap)
{
    const char *url =
        json_string_value(json_object_get(json_object_get(step(run, "ask"), "output"), "url"));
    MH_T_ASSERT(url != NULL);
    const char *path = strstr(url, "/callbacks/");
    MH_T_ASSERT(path != NULL);
    snprintf(out, cap, "%s%s", e->s.base, path);
}

static long post(const char *url, const char *content_type, const char *body, json_t **json)
{
    char ct[128];
    snprintf(ct, sizeof(ct), "Content-Type: %s", content_type);
    const char *headers[] = {ct, NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, headers, body, body ? strlen(body) : 0, &r);
    long st = r.status;
    if (json)
        *json = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return st;
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

/* The approval flow of docs/workflows.md: hand out the URL, wait, use the answer. TIMEOUT and
 * DELAY are replaced per test. */
static void flow(char *out, size_t cap, const char *timeout, const char *delay)
{
    snprintf(out, cap,
             "{\"nodes\": ["
             "{\"id\": \"ask\", \"type\": \"transform\", \"config\": {\"expression\": "
             "\"{url: callbacks.approve.url, order: trigger.body.order}\"}},"
             "{\"id\": \"pause\", \"type\": \"delay\", \"config\": {\"duration\": \"%s\"}},"
             "{\"id\": \"approve\", \"type\": \"wait_callback\", \"config\": {\"timeout\": "
             "\"%s\"}},"
             "{\"id\": \"done\", \"type\": \"transform\", \"config\": {\"expression\": "
             "\"{order: steps.ask.output.order, approved: steps.approve.output.approved}\"}},"
             "{\"id\": \"expired\", \"type\": \"transform\", \"config\": {\"expression\": "
             "\"steps.approve.error\"}}],"
             "\"edges\": [{\"from\": \"ask\", \"to\": \"pause\"}, {\"from\": \"pause\", \"to\": "
             "\"approve\"}, {\"from\": \"approve\", \"to\": \"done\"}, {\"from\": \"approve\", "
             "\"to\": \"expired\", \"port\": \"error\"}]}",
             delay, timeout);
}

MH_TEST(callback_delivers_body_and_second_is_gone)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, server_args, "callbacks");
    char def[4096], wf[40], run[40], url[512];
    flow(def, sizeof(def), "1h", "0s");
    publish(&e, def, wf);
    mh_it_project_start_run(&e, wf, "{\"order\": 42}", run);
    json_t *r = wait_for(&e, run, "approve", "waiting_timer", 20);
    callback_url(&e, r, url, sizeof(url));
    json_decref(r);
    MH_T_ASSERT(strstr(url, run) != NULL);

    /* A forged token (one character of the MAC changed) and nonsense are the same 404. */
    char forged[512];
    snprintf(forged, sizeof(forged), "%s", url);
    forged[strlen(forged) - 1] = forged[strlen(forged) - 1] == 'A' ? 'B' : 'A';
    json_t *j = NULL;
    MH_T_ASSERT_EQ(post(forged, "application/json", "{}", &j), 404);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                       "no callback waits at this URL");
    json_decref(j);
    char nonsense[256];
    snprintf(nonsense, sizeof(nonsense), "%s/callbacks/nonsense", e.s.base);
    MH_T_ASSERT_EQ(post(nonsense, "application/json", "{}", NULL), 404);
    /* Bad bodies are refused and consume nothing. */
    MH_T_ASSERT_EQ(post(url, "text/plain", "approved", NULL), 415);
    MH_T_ASSERT_EQ(post(url, "application/json", "{\"approved\": tru", &j), 400);
    MH_T_ASSERT(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                       "not valid JSON") != NULL);
    json_decref(j);

    MH_T_ASSERT_EQ(post(url, "application/json; charset=utf-8", "{\"approved\": true}", &j), 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "status")), "accepted");
    json_decref(j);
    r = wait_for(&e, run, NULL, NULL, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_t *done = json_object_get(step(r, "done"), "output");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(done, "order")), 42);
    MH_T_ASSERT(json_is_true(json_object_get(done, "approved")));
    json_decref(r);

    MH_T_ASSERT_EQ(post(url, "application/json", "{\"approved\": false}", &j), 410);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                       "gone");
    json_decref(j);

    /* The token never reaches the log; /metrics counts by outcome. */
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, strrchr(url, '.') + 1) == NULL);
    free(log);
    char murl[256];
    snprintf(murl, sizeof(murl), "%s/metrics", e.s.base);
    struct mh_it_resp m;
    mh_it_http("GET", murl, NULL, NULL, 0, &m);
    MH_T_ASSERT(strstr(m.body, "meshhook_callbacks_received_total{outcome=\"accepted\"} 1") !=
                NULL);
    MH_T_ASSERT(strstr(m.body, "meshhook_callbacks_received_total{outcome=\"gone\"} 1") != NULL);
    MH_T_ASSERT(strstr(m.body, "meshhook_callbacks_received_total{outcome=\"not_found\"} 2") !=
                NULL);
    mh_it_resp_cleanup(&m);
    assert_replays_clean(&e, run);
    mh_it_server_stop(&e.s, SIGTERM);
}

MH_TEST(callback_before_the_step_is_held)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, server_args, "callbacks");
    char def[4096], wf[40], run[40], url[512];
    flow(def, sizeof(def), "1h", "2s");
    publish(&e, def, wf);
    mh_it_project_start_run(&e, wf, "{\"order\": 7}", run);
    /* The provider answers while the run still sits in the delay before the wait. */
    json_t *r = wait_for(&e, run, "pause", "waiting_timer", 20);
    callback_url(&e, r, url, sizeof(url));
    json_decref(r);
    MH_T_ASSERT_EQ(post(url, "application/json", "{\"approved\": true}", NULL), 200);
    r = wait_for(&e, run, NULL, NULL, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    MH_T_ASSERT(
        json_is_true(json_object_get(json_object_get(step(r, "done"), "output"), "approved")));
    json_decref(r);
    assert_replays_clean(&e, run);
    mh_it_server_stop(&e.s, SIGTERM);
}

MH_TEST(callback_timeout_takes_error_edge_then_gone)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, server_args, "callbacks");
    char def[4096], wf[40], run[40], url[512];
    flow(def, sizeof(def), "1s", "0s");
    publish(&e, def, wf);
    mh_it_project_start_run(&e, wf, "{\"order\": 9}", run);
    json_t *r = wait_for(&e, run, NULL, NULL, 20);
    callback_url(&e, r, url, sizeof(url));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "approve"), "status")), "failed");
    json_t *err = json_object_get(step(r, "expired"), "output");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "timeout");
    MH_T_ASSERT(strstr(json_string_value(json_object_get(err, "message")),
                       "no callback arrived within 1s") != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "done"), "status")), "skipped");
    json_decref(r);
    json_t *j = NULL;
    MH_T_ASSERT_EQ(post(url, "application/json", "{\"approved\": true}", &j), 410);
    json_decref(j);
    assert_replays_clean(&e, run);
    mh_it_server_stop(&e.s, SIGTERM);
}

MH_TEST(callback_survives_sigkill_after_200)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, short_lease_args, "callbacks");
    char def[4096], wf[40], run[40], url[512];
    flow(def, sizeof(def), "1h", "0s");
    publish(&e, def, wf);
    mh_it_project_start_run(&e, wf, "{\"order\": 5}", run);
    json_t *r = wait_for(&e, run, "approve", "waiting_timer", 20);
    callback_url(&e, r, url, sizeof(url));
    json_decref(r);
    MH_T_ASSERT_EQ(post(url, "application/json", "{\"approved\": true}", NULL), 200);
    mh_it_server_stop(&e.s, SIGKILL);
    /* The answer came after the commit: a new server finds the callback and finishes the run. */
    mh_it_server_start(&e.s, &e.db, short_lease_args);
    r = wait_for(&e, run, NULL, NULL, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    MH_T_ASSERT(
        json_is_true(json_object_get(json_object_get(step(r, "done"), "output"), "approved")));
    json_decref(r);
    r = mh_it_project_get_run(&e, run);
    callback_url(&e, r, url, sizeof(url));
    json_decref(r);
    MH_T_ASSERT_EQ(post(url, "application/json", "{}", NULL), 410);
    assert_replays_clean(&e, run);
    mh_it_server_stop(&e.s, SIGTERM);
}
