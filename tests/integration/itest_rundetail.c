/* SPDX-License-Identifier: MIT */
/*
 * What the run console needs of the API: GET of a run carries the definition it executed and
 * the delivery that started it (with its endpoint), and POST .../rerun starts a new run with the
 * same trigger — the webhook's recorded bytes included — on the same or the latest version,
 * linked to the original and audited; viewers may not.
 */
#include <signal.h>

#include "itest.h"

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
};

static json_t *api(struct env *e, const char *method, const char *path, const char *body, long *st)
{
    return mh_it_api(&e->s, e->bearer, method, path, body, st);
}

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_t *get_run(struct env *e, const char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run);
    long st;
    json_t *r = api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return r;
}

static json_t *wait_run(struct env *e, const char *run)
{
    for (int i = 0; i < 200; i++) {
        json_t *r = get_run(e, run);
        const char *s = jstr(r, "status");
        if (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "canceled") == 0)
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run);
}

/* A published workflow whose one node outputs trigger.body with `tag`; returns its id. */
static void workflow(struct env *e, const char *tag, char *id)
{
    char path[256], body[512];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    snprintf(body, sizeof(body),
             "{\"name\": \"echo\", \"definition\": {\"nodes\": [{\"id\": \"echo\", \"type\": "
             "\"transform\", \"config\": {\"expression\": \"{body: trigger.body, tag: '%s'}\"}}], "
             "\"edges\": []}}",
             tag);
    json_t *w = api(e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", jstr(w, "id"));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_decref(api(e, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
}

MH_TEST(rerun_same_and_latest_version_and_delivery_link)
{
    struct env e;
    mh_it_db_create(&e.db, true);
    mh_it_server_start(&e.s, &e.db, NULL);
    mh_it_user_token(&e.db, &e.s, "owner@example.com", e.bearer, e.user);
    mh_it_project(&e.s, e.bearer, "console", e.project);
    char wf[40], path[256], run[40];
    long st;
    workflow(&e, "v1", wf);

    /* A webhook starts the run: its exact bytes are what a re-run sees again. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, wf);
    json_t *ep = api(&e, "POST", path, "{\"verification\": {\"scheme\": \"none\"}}", &st);
    MH_T_ASSERT_EQ(st, 201);
    char url[256];
    snprintf(url, sizeof(url), "%s%s", e.s.base, jstr(ep, "path"));
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    const char *sent = "{\"order\": 7,   \"items\": [1, 2]}";
    struct mh_it_resp resp;
    mh_it_http("POST", url, hdrs, sent, strlen(sent), &resp);
    MH_T_ASSERT_EQ(resp.status, 202);
    snprintf(run, sizeof(run), "%s", jstr(resp.json, "run_id"));
    char delivery[40];
    snprintf(delivery, sizeof(delivery), "%s", jstr(resp.json, "delivery_id"));
    mh_it_resp_cleanup(&resp);
    json_t *r1 = wait_run(&e, run);
    MH_T_ASSERT_STR_EQ(jstr(r1, "status"), "succeeded");
    /* The console's run: the definition it ran, and the delivery with its endpoint. */
    MH_T_ASSERT_STR_EQ(jstr(r1, "delivery_id"), delivery);
    MH_T_ASSERT_STR_EQ(jstr(r1, "endpoint_id"), jstr(ep, "id"));
    json_t *node0 = json_array_get(json_object_get(json_object_get(r1, "definition"), "nodes"), 0);
    MH_T_ASSERT_STR_EQ(jstr(node0, "id"), "echo");

    /* Re-run on the same version: the same output, linked, audited. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/rerun", e.project, run);
    json_t *rr = api(&e, "POST", path, "{}", &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT_STR_EQ(jstr(rr, "rerun_of"), run);
    MH_T_ASSERT(json_is_false(json_object_get(rr, "is_test")));
    json_t *r2 = wait_run(&e, jstr(rr, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(r2, "status"), "succeeded");
    MH_T_ASSERT(json_equal(json_object_get(r2, "output"), json_object_get(r1, "output")));
    MH_T_ASSERT_STR_EQ(jstr(r2, "parent_run_id"), run);
    MH_T_ASSERT(json_object_get(r2, "resumed_from_node") == NULL ||
                json_is_null(json_object_get(r2, "resumed_from_node")));
    /* A re-run is not a delivery: it names none, and the delivery log has one row. */
    MH_T_ASSERT(json_is_null(json_object_get(r2, "delivery_id")));
    const char *rp[] = {jstr(rr, "run_id"), run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT e.payload->>'rerun_of' AS of, e.payload->'delivery'->>"
                             "'raw_body' AS raw, (SELECT count(*) FROM audit_log a WHERE "
                             "a.action = 'run.rerun' AND a.target = $2) AS audited, (SELECT "
                             "count(*) FROM webhook_deliveries) AS deliveries FROM events e "
                             "WHERE e.run_id = $1 AND e.seq = 1",
                             2, rp, NULL);
    json_t *row = json_array_get(rows, 0);
    MH_T_ASSERT_STR_EQ(jstr(row, "of"), run);
    MH_T_ASSERT_STR_EQ(jstr(row, "raw"), sent);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "audited")), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(row, "deliveries")), 1);
    json_decref(rows);
    json_decref(rr);
    json_decref(r2);

    /* A new version is published: "latest" runs it, the default keeps the original's. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e.project, wf);
    json_decref(api(&e, "PUT", path,
                    "{\"definition\": {\"nodes\": [{\"id\": \"echo\", \"type\": \"transform\", "
                    "\"config\": {\"expression\": \"{body: trigger.body, tag: 'v2'}\"}}], "
                    "\"edges\": []}}",
                    &st));
    MH_T_ASSERT_EQ(st, 200);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wf);
    json_decref(api(&e, "POST", path, NULL, &st));
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/rerun", e.project, run);
    rr = api(&e, "POST", path, "{\"version\": \"latest\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    r2 = wait_run(&e, jstr(rr, "run_id"));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r2, "version")), 2);
    json_t *out = json_object_get(json_object_get(r2, "output"), "echo");
    MH_T_ASSERT_STR_EQ(jstr(out, "tag"), "v2");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(out, "body"), "order")), 7);
    json_decref(rr);
    json_decref(r2);
    rr = api(&e, "POST", path, "{\"version\": \"same\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    r2 = wait_run(&e, jstr(rr, "run_id"));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r2, "version")), 1);
    MH_T_ASSERT_STR_EQ(jstr(json_object_get(json_object_get(r2, "output"), "echo"), "tag"), "v1");
    json_decref(rr);
    json_decref(r2);

    /* Bad requests: a clear 422 with the field, 404 for an unknown run. */
    json_t *bad = api(&e, "POST", path, "{\"version\": \"newest\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(json_object_get(bad, "error"), "path"), "/version");
    json_decref(bad);
    bad = api(&e, "POST", path, "{\"from\": 1}", &st);
    MH_T_ASSERT_EQ(st, 422);
    json_decref(bad);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/00000000-0000-0000-0000-000000000000/rerun",
             e.project);
    json_decref(api(&e, "POST", path, "{}", &st));
    MH_T_ASSERT_EQ(st, 404);

    /* A viewer reads the run but may not re-run it. */
    char vbearer[128], vuser[40], body[256];
    mh_it_user_token(&e.db, &e.s, "viewer@example.com", vbearer, vuser);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e.project);
    snprintf(body, sizeof(body), "{\"email\": \"viewer@example.com\", \"role\": \"viewer\"}");
    json_decref(api(&e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/rerun", e.project, run);
    json_decref(mh_it_api(&e.s, vbearer, "POST", path, "{}", &st));
    MH_T_ASSERT_EQ(st, 403);
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e.project, run);
    json_decref(mh_it_api(&e.s, vbearer, "GET", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);

    json_decref(r1);
    json_decref(ep);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

MH_TEST(rerun_of_a_test_run_runs_the_same_snapshot)
{
    struct env e;
    mh_it_db_create(&e.db, true);
    mh_it_server_start(&e.s, &e.db, NULL);
    mh_it_user_token(&e.db, &e.s, "owner@example.com", e.bearer, e.user);
    mh_it_project(&e.s, e.bearer, "console", e.project);
    char wf[40], path[256];
    long st;
    workflow(&e, "snap", wf);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/test-runs", e.project, wf);
    json_t *t = api(&e, "POST", path, "{\"payload\": {\"n\": 1}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    json_t *r1 = wait_run(&e, jstr(t, "run_id"));
    /* A test run's snapshot has no version number; GET still gives its definition. */
    MH_T_ASSERT(json_is_array(json_object_get(json_object_get(r1, "definition"), "nodes")));
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/rerun", e.project, jstr(t, "run_id"));
    json_t *rr = api(&e, "POST", path, "{}", &st);
    MH_T_ASSERT_EQ(st, 202);
    MH_T_ASSERT(json_is_true(json_object_get(rr, "is_test")));
    json_t *r2 = wait_run(&e, jstr(rr, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(r2, "status"), "succeeded");
    MH_T_ASSERT(json_is_true(json_object_get(r2, "is_test")));
    MH_T_ASSERT(json_equal(json_object_get(r2, "output"), json_object_get(r1, "output")));
    json_decref(r1);
    json_decref(r2);
    json_decref(rr);
    json_decref(t);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* Publishes `def` (JSON text) as the workflow's next version. */
static void publish(struct env *e, const char *wf, const char *def)
{
    char path[256], body[1024];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e->project, wf);
    snprintf(body, sizeof(body), "{\"definition\": %s}", def);
    json_decref(api(e, "PUT", path, body, &st));
    MH_T_ASSERT_EQ(st, 200);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, wf);
    json_decref(api(e, "POST", path, NULL, &st));
    MH_T_ASSERT(st == 200 || st == 201);
}

MH_TEST(resume_on_the_latest_version_only_when_the_log_replays_on_it)
{
    struct env e;
    mh_it_db_create(&e.db, true);
    mh_it_server_start(&e.s, &e.db, NULL);
    mh_it_user_token(&e.db, &e.s, "owner@example.com", e.bearer, e.user);
    mh_it_project(&e.s, e.bearer, "console", e.project);
    char path[256], wf[40];
    long st;
    /* v1: b fails on a string (abs of "x"). */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e.project);
    json_t *w = api(&e, "POST", path,
                    "{\"name\": \"fix\", \"definition\": {\"nodes\": [{\"id\": \"a\", \"type\": "
                    "\"transform\", \"config\": {\"expression\": \"trigger.body\"}}, {\"id\": "
                    "\"b\", \"type\": \"transform\", \"config\": {\"expression\": "
                    "\"abs(steps.a.output.s)\"}}], \"edges\": [{\"from\": \"a\", \"to\": \"b\"}]}}",
                    &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(wf, sizeof(wf), "%s", jstr(w, "id"));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wf);
    json_decref(api(&e, "POST", path, NULL, &st));
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e.project, wf);
    json_t *r = api(&e, "POST", path, "{\"payload\": {\"s\": \"x\"}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    char run[40];
    snprintf(run, sizeof(run), "%s", jstr(r, "run_id"));
    json_decref(r);
    r = wait_run(&e, run);
    MH_T_ASSERT_STR_EQ(jstr(r, "status"), "failed");
    json_decref(r);

    /* v2 fixes b: resumed on the latest version, the run goes on from b with v1's a. */
    publish(&e, wf,
            "{\"nodes\": [{\"id\": \"a\", \"type\": \"transform\", \"config\": {\"expression\": "
            "\"trigger.body\"}}, {\"id\": \"b\", \"type\": \"transform\", \"config\": "
            "{\"expression\": \"{fixed: steps.a.output.s}\"}}], \"edges\": [{\"from\": \"a\", "
            "\"to\": \"b\"}]}");
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/resume", e.project, run);
    json_t *res = api(&e, "POST", path, "{\"from_node\": \"b\", \"version\": \"latest\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    r = wait_run(&e, jstr(res, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(r, "status"), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 2);
    MH_T_ASSERT_STR_EQ(jstr(json_object_get(json_object_get(r, "output"), "b"), "fixed"), "x");
    /* Its log verifies against the version it now runs. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/replay", e.project, jstr(r, "id"));
    json_t *rep = api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(rep, "ok")));
    json_decref(rep);
    json_decref(r);
    json_decref(res);
    /* The same version (the default) fails again, as it should. */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/resume", e.project, run);
    res = api(&e, "POST", path, "{\"from_node\": \"b\", \"version\": \"same\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    r = wait_run(&e, jstr(res, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(r, "status"), "failed");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 1);
    json_decref(r);
    json_decref(res);

    /* v3 changes a, which the copied log already ran: refused, naming the step. */
    publish(&e, wf,
            "{\"nodes\": [{\"id\": \"a\", \"type\": \"transform\", \"config\": {\"expression\": "
            "\"{other: trigger.body}\"}}, {\"id\": \"b\", \"type\": \"transform\", \"config\": "
            "{\"expression\": \"steps.a.output\"}}], \"edges\": [{\"from\": \"a\", \"to\": "
            "\"b\"}]}");
    res = api(&e, "POST", path, "{\"from_node\": \"b\", \"version\": \"latest\"}", &st);
    MH_T_ASSERT_EQ(st, 409);
    const char *msg = jstr(json_object_get(res, "error"), "message");
    MH_T_ASSERT(strstr(msg, "version 3") != NULL);
    MH_T_ASSERT(strstr(msg, "step a") != NULL);
    /* No recorded value is quoted. */
    MH_T_ASSERT(strstr(msg, "\"x\"") == NULL);
    json_decref(res);
    /* From a itself nothing before differs. */
    res = api(&e, "POST", path, "{\"from_node\": \"a\", \"version\": \"latest\"}", &st);
    MH_T_ASSERT_EQ(st, 202);
    r = wait_run(&e, jstr(res, "run_id"));
    MH_T_ASSERT_STR_EQ(jstr(r, "status"), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "version")), 3);
    json_decref(r);
    json_decref(res);
    res = api(&e, "POST", path, "{\"from_node\": \"a\", \"version\": \"v2\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(jstr(json_object_get(res, "error"), "path"), "/version");
    json_decref(res);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}
