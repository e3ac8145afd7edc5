/* SPDX-License-Identifier: MIT */
/*
 * The APIs of the workflow builder over the real server and PostgreSQL: the draft revision with
 * If-Match (a stale save or publish is 412 and changes nothing), the mapping preview (the
 * engine's decisions on a pasted sample or a recorded delivery, stand-ins for calls and delays,
 * errors with their path and position, no side effect, PII rules), the expression check, and the
 * starter templates, each run as it is from a signed webhook to a local target.
 */
#include <signal.h>
#include <time.h>

#include "crypto/crypto.h"
#include "itest.h"
#include "mock_http.h"

#define BUILDER_KEK "b1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    char owner[128]; /* "Authorization: Bearer ..." */
    char owner_id[40];
    char project[40];
};

struct hreq {
    long status;
    json_t *json;
    char *etag;
};

static void setup(struct env *e)
{
    static const char *const args[] = {"--kek", BUILDER_KEK, NULL};
    mh_it_db_create(&e->db, true);
    mh_it_server_start(&e->s, &e->db, args);
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->owner, e->owner_id);
    mh_it_project(&e->s, e->owner, "builder", e->project);
}

static void teardown(struct env *e)
{
    MH_T_ASSERT_EQ(mh_it_server_stop(&e->s, SIGTERM), 0);
}

/* A request with an extra header (may be NULL) as `bearer`; the caller releases `out`. */
static void call(struct env *e, const char *bearer, const char *method, const char *path,
                 const char *extra, const char *body, struct hreq *out)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", e->s.base, path);
    const char *h[] = {"Content-Type: application/json", bearer, extra, NULL};
    if (bearer == NULL) {
        h[1] = extra;
        h[2] = NULL;
    }
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    out->status = r.status;
    out->json = json_incref(r.json);
    out->etag = mh_it_resp_header(&r, "ETag");
    mh_it_resp_cleanup(&r);
}

static void hreq_cleanup(struct hreq *r)
{
    json_decref(r->json);
    free(r->etag);
}

static json_t *api(struct env *e, const char *method, const char *path, const char *body, long *st)
{
    return mh_it_api(&e->s, e->owner, method, path, body, st);
}

static const char *err_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c ? c : "(none)";
}

static const char *err_path(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "path"));
    return c ? c : "(none)";
}

/* Creates a workflow whose draft is `def` (a JSON text); `id` receives its id (40 bytes). */
static void workflow(struct env *e, const char *def, char *id)
{
    char path[128], *body = NULL;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    size_t n = strlen(def) + 64;
    body = malloc(n);
    snprintf(body, n, "{\"name\": \"wf\", \"definition\": %s}", def);
    long st;
    json_t *w = api(e, "POST", path, body, &st);
    if (st != 201)
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld", st);
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    free(body);
}

/* A second user with `role` in the project: `bearer` receives the header (128 bytes). */
static void member(struct env *e, const char *email, const char *role, char *bearer)
{
    char id[40], path[128], body[256];
    mh_it_user_token(&e->db, &e->s, email, bearer, id);
    snprintf(path, sizeof(path), "/api/projects/%s/members", e->project);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"role\": \"%s\"}", email, role);
    long st;
    json_decref(api(e, "POST", path, body, &st));
    MH_T_ASSERT_EQ(st, 201);
}

/* Rows in the tables a preview must never write. */
static long long footprint(struct env *e)
{
    json_t *rows = mh_it_sql(e->db.admin_url,
                             "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM events) + "
                             "(SELECT count(*) FROM jobs) + (SELECT count(*) FROM "
                             "workflow_versions) + (SELECT count(*) FROM webhook_deliveries) + "
                             "(SELECT count(*) FROM audit_log) AS n",
                             0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

static json_t *step(json_t *preview, const char *id)
{
    return json_object_get(json_object_get(preview, "steps"), id);
}

static const char *step_status(json_t *preview, const char *id)
{
    const char *s = json_string_value(json_object_get(step(preview, id), "status"));
    return s ? s : "(none)";
}

/* ---- Draft revision ------------------------------------------------------------------------ */

static const char *const def_a = "{\"nodes\": [{\"id\": \"a\", \"type\": \"transform\", "
                                 "\"config\": {\"expression\": \"trigger.body\"}}], "
                                 "\"edges\": []}";

static const char *draft_expression(struct env *e, const char *wid, long long *revision, char *buf,
                                    size_t cap)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s", e->project, wid);
    long st;
    json_t *w = api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *draft = json_object_get(w, "draft");
    *revision = json_integer_value(json_object_get(draft, "revision"));
    json_t *n0 = json_array_get(json_object_get(json_object_get(draft, "definition"), "nodes"), 0);
    snprintf(buf, cap, "%s",
             json_string_value(json_object_get(json_object_get(n0, "config"), "expression")));
    json_decref(w);
    return buf;
}

static char *draft_body(const char *expression)
{
    json_t *b = json_pack("{s:{s:[{s:s, s:s, s:{s:s}}], s:[]}}", "definition", "nodes", "id", "a",
                          "type", "transform", "config", "expression", expression, "edges");
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

MH_TEST(draft_revision_if_match)
{
    struct env e;
    setup(&e);
    char wid[40], path[160], buf[128];
    workflow(&e, def_a, wid);
    long long rev = 0;
    MH_T_ASSERT_STR_EQ(draft_expression(&e, wid, &rev, buf, sizeof(buf)), "trigger.body");
    MH_T_ASSERT_EQ(rev, 1);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e.project, wid);

    /* Tab 1 saves on top of revision 1: accepted, now revision 2, with its ETag. */
    struct hreq r;
    char *b1 = draft_body("trigger.body.one");
    call(&e, e.owner, "PUT", path, "If-Match: \"1\"", b1, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "revision")), 2);
    MH_T_ASSERT_STR_EQ(r.etag, "\"2\"");
    hreq_cleanup(&r);

    /* Tab 2 still holds revision 1: refused, told the current revision, nothing changed. */
    char *b2 = draft_body("trigger.body.two");
    call(&e, e.owner, "PUT", path, "If-Match: \"1\"", b2, &r);
    MH_T_ASSERT_EQ(r.status, 412);
    MH_T_ASSERT_STR_EQ(err_code(r.json), "stale_revision");
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(r.json, "error"), "revision")), 2);
    MH_T_ASSERT(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "revision 2") != NULL);
    MH_T_ASSERT(json_is_string(json_object_get(r.json, "request_id")));
    hreq_cleanup(&r);
    MH_T_ASSERT_STR_EQ(draft_expression(&e, wid, &rev, buf, sizeof(buf)), "trigger.body.one");
    MH_T_ASSERT_EQ(rev, 2);

    /* A weak tag never matches; a malformed one is a 400; neither changes anything. */
    call(&e, e.owner, "PUT", path, "If-Match: W/\"2\"", b2, &r);
    MH_T_ASSERT_EQ(r.status, 412);
    hreq_cleanup(&r);
    call(&e, e.owner, "PUT", path, "If-Match: 2", b2, &r);
    MH_T_ASSERT_EQ(r.status, 400);
    MH_T_ASSERT_STR_EQ(err_code(r.json), "bad_request");
    hreq_cleanup(&r);
    MH_T_ASSERT_STR_EQ(draft_expression(&e, wid, &rev, buf, sizeof(buf)), "trigger.body.one");
    MH_T_ASSERT_EQ(rev, 2);

    /* A list holding the current tag matches, as does *; a save without If-Match still works
     * (older clients) and bumps the revision. */
    call(&e, e.owner, "PUT", path, "If-Match: \"7\", \"2\"", b2, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    hreq_cleanup(&r);
    call(&e, e.owner, "PUT", path, "If-Match: *", b1, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    hreq_cleanup(&r);
    call(&e, e.owner, "PUT", path, NULL, b2, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "revision")), 5);
    hreq_cleanup(&r);

    /* A viewer cannot save, whatever revision it names. */
    char viewer[128];
    member(&e, "viewer@example.com", "viewer", viewer);
    call(&e, viewer, "PUT", path, "If-Match: \"5\"", b1, &r);
    MH_T_ASSERT_EQ(r.status, 403);
    hreq_cleanup(&r);

    /* Publishing honours If-Match too: a stale one publishes nothing. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wid);
    call(&e, e.owner, "POST", path, "If-Match: \"4\"", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 412);
    MH_T_ASSERT_STR_EQ(err_code(r.json), "stale_revision");
    hreq_cleanup(&r);
    const char *params[] = {wid};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT count(*) AS n FROM workflow_versions WHERE workflow_id = $1 "
                             "AND state = 'published'",
                             1, params, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);
    call(&e, e.owner, "POST", path, "If-Match: \"5\"", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 201);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "draft_revision")), 5);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r.json, "version")), 1);
    hreq_cleanup(&r);
    free(b1);
    free(b2);
    teardown(&e);
}

/* ---- Mapping preview ----------------------------------------------------------------------- */

static int hits;

static void count_target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *reply)
{
    (void)ctx;
    (void)req;
    __atomic_add_fetch(&hits, 1, __ATOMIC_SEQ_CST);
    reply->status = 200;
    snprintf(reply->content_type, sizeof(reply->content_type), "application/json");
    snprintf(reply->body, sizeof(reply->body), "{\"ok\": true}");
}

/* prepare -> big? -true-> call -> done ; big? -false-> small. */
static char *order_flow(const char *url)
{
    json_t *d = json_pack(
        "{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:i, "
        "s:i, s:i}}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s, s:s}}], s:[{s:s, s:s}, {s:s, s:s, "
        "s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}",
        "nodes", "id", "prepare", "type", "transform", "config", "expression",
        "{id: trigger.body.id, total: trigger.body.total, who: trigger.headers.\"x-who\"}", "id",
        "big", "type", "branch", "config", "condition", "steps.prepare.output.total > `100`", "id",
        "call", "type", "http_call", "config", "url", url, "method", "POST", "body", "expression",
        "steps.prepare.output", "retry", "max_attempts", 2, "base_delay_ms", 10, "max_delay_ms", 20,
        "id", "done", "type", "terminate", "config", "output", "steps.call.output.body", "id",
        "small", "type", "terminate", "config", "status", "succeeded", "output",
        "steps.prepare.output", "edges", "from", "prepare", "to", "big", "from", "big", "to",
        "call", "port", "true", "from", "big", "to", "small", "port", "false", "from", "call", "to",
        "done");
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return s;
}

MH_TEST(preview_evaluates_the_draft_without_side_effects)
{
    struct env e;
    setup(&e);
    struct mh_mock *m = mh_mock_start(count_target, NULL);
    char url[128], wid[40], path[160];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/orders", mh_mock_port(m));
    char *def = order_flow(url);
    workflow(&e, def, wid);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/preview", e.project, wid);
    long long before = footprint(&e);

    /* A big order: the branch takes true, the call is where the preview stops (nothing sent). */
    long st;
    json_t *p =
        api(&e, "POST", path,
            "{\"trigger\": {\"body\": {\"id\": 7, \"total\": 150}, \"headers\": {\"X-Who\": "
            "\"ann\"}}}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(p, "status")), "stopped");
    MH_T_ASSERT_STR_EQ(step_status(p, "prepare"), "succeeded");
    json_t *out = json_object_get(step(p, "prepare"), "output");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(out, "total")), 150);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(out, "who")), "ann");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(p, "big"), "port")), "true");
    MH_T_ASSERT_STR_EQ(step_status(p, "small"), "skipped");
    MH_T_ASSERT_STR_EQ(step_status(p, "call"), "stopped");
    MH_T_ASSERT_STR_EQ(step_status(p, "done"), "pending");
    json_t *request = json_object_get(step(p, "call"), "request");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(request, "url")), url);
    MH_T_ASSERT(strstr(json_string_value(json_object_get(request, "body")), "\"total\":150"));
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(p, "stopped_at"), 0)),
                       "call");
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(p, "order"), 0)),
                       "prepare");
    json_decref(p);

    /* With a stand-in response, the run goes on to its end with that response as the output. */
    p = api(&e, "POST", path,
            "{\"trigger\": {\"body\": {\"id\": 7, \"total\": 150}}, \"stand_ins\": {\"call\": "
            "{\"status\": 201, \"body\": {\"accepted\": 7}}}}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(p, "status")), "succeeded");
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(step(p, "call"), "output"), "body"), "accepted")),
        7);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(p, "output"), "accepted")),
                   7);
    MH_T_ASSERT(json_is_true(json_object_get(step(p, "call"), "stand_in")));
    json_decref(p);

    /* A stand-in 503 plays the retries out: two attempts, then the step and the run fail. */
    p = api(&e, "POST", path,
            "{\"trigger\": {\"body\": {\"total\": 150}}, \"stand_ins\": {\"call\": {\"status\": "
            "503, \"body\": \"down\"}}}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(p, "status")), "failed");
    MH_T_ASSERT_STR_EQ(step_status(p, "call"), "failed");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(step(p, "call"), "attempts")), 2);
    json_decref(p);

    /* A small order takes the false edge: the call is skipped, the run ends. */
    p = api(&e, "POST", path, "{\"trigger\": {\"body_text\": \"{\\\"total\\\": 5}\"}}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(p, "status")), "succeeded");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(p, "big"), "port")), "false");
    MH_T_ASSERT_STR_EQ(step_status(p, "call"), "skipped");
    MH_T_ASSERT_STR_EQ(step_status(p, "done"), "skipped");
    json_decref(p);

    /* An unsaved definition is previewed instead of the draft when given. */
    p = api(&e, "POST", path,
            "{\"trigger\": {\"body\": {\"n\": 2}}, \"definition\": {\"nodes\": [{\"id\": \"w\", "
            "\"type\": \"transform\", \"config\": {\"expression\": \"trigger.body.n\"}}, {\"id\": "
            "\"wait\", \"type\": \"delay\", \"config\": {\"duration\": \"1h\"}}, {\"id\": \"end\", "
            "\"type\": \"terminate\", \"config\": {\"output\": \"steps.w.output\"}}], \"edges\": "
            "[{\"from\": \"w\", \"to\": \"wait\"}, {\"from\": \"wait\", \"to\": \"end\"}]}}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(step_status(p, "wait"), "stopped");
    MH_T_ASSERT(json_is_string(json_object_get(step(p, "wait"), "fire_at")));
    json_decref(p);
    p = api(&e, "POST", path,
            "{\"trigger\": {\"body\": {\"n\": 2}}, \"stand_ins\": {\"wait\": {}}, \"definition\": "
            "{\"nodes\": [{\"id\": \"w\", \"type\": \"transform\", \"config\": {\"expression\": "
            "\"trigger.body.n\"}}, {\"id\": \"wait\", \"type\": \"delay\", \"config\": "
            "{\"duration\": \"1h\"}}, {\"id\": \"end\", \"type\": \"terminate\", \"config\": "
            "{\"output\": \"steps.w.output\"}}], \"edges\": [{\"from\": \"w\", \"to\": \"wait\"}, "
            "{\"from\": \"wait\", \"to\": \"end\"}]}}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(p, "status")), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "output")), 2);
    json_decref(p);

    /* Nothing was written and nothing was sent. */
    MH_T_ASSERT_EQ(footprint(&e), before);
    MH_T_ASSERT_EQ(__atomic_load_n(&hits, __ATOMIC_SEQ_CST), 0);
    mh_mock_stop(m);
    free(def);
    teardown(&e);
}

MH_TEST(preview_refuses_bad_input_clearly)
{
    struct env e;
    setup(&e);
    char wid[40], path[160];
    char *def = order_flow("http://127.0.0.1:9/x");
    workflow(&e, def, wid);
    free(def);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/preview", e.project, wid);
    long long before = footprint(&e);
    struct hreq r;

    /* A viewer may not preview: 403 with a message. A stranger does not see the workflow. */
    char viewer[128], stranger[128], sid[40];
    member(&e, "viewer@example.com", "viewer", viewer);
    before = footprint(&e);
    call(&e, viewer, "POST", path, NULL, "{\"trigger\": {\"body\": {}}}", &r);
    MH_T_ASSERT_EQ(r.status, 403);
    MH_T_ASSERT_STR_EQ(err_code(r.json), "forbidden");
    hreq_cleanup(&r);
    mh_it_user_token(&e.db, &e.s, "stranger@example.com", stranger, sid);
    call(&e, stranger, "POST", path, NULL, "{\"trigger\": {\"body\": {}}}", &r);
    MH_T_ASSERT_EQ(r.status, 404);
    hreq_cleanup(&r);
    before = footprint(&e);

    /* A pasted sample that is not JSON: 422 at /trigger/body_text, with where it broke. */
    call(&e, e.owner, "POST", path, NULL, "{\"trigger\": {\"body_text\": \"{\\\"a\\\": 1,,}\"}}",
         &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/trigger/body_text");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(r.json, "error"), "column")),
                   9);
    hreq_cleanup(&r);
    /* A request body that is not JSON at all. */
    call(&e, e.owner, "POST", path, NULL, "{\"trigger\": ", &r);
    MH_T_ASSERT_EQ(r.status, 400);
    hreq_cleanup(&r);
    /* No sample, or two. */
    call(&e, e.owner, "POST", path, NULL, "{}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/trigger");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {}, \"delivery_id\": \"00000000-0000-0000-0000-000000000000\"}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/delivery_id");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL,
         "{\"delivery_id\": \"00000000-0000-0000-0000-000000000000\"}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/delivery_id");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL, "{\"trigger\": {\"body\": {}, \"header\": {}}}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/trigger/header");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL, "{\"trigger\": {\"headers\": {\"x-n\": 1}}}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/trigger/headers/x-n");
    hreq_cleanup(&r);

    /* Stand-ins name http_call or delay nodes of the definition, with a response's shape. */
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {\"body\": {}}, \"stand_ins\": {\"nope\": {}}}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/stand_ins/nope");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {\"body\": {}}, \"stand_ins\": {\"prepare\": {}}}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/stand_ins/prepare");
    hreq_cleanup(&r);
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {\"body\": {}}, \"stand_ins\": {\"call\": {\"status\": 42}}}", &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/stand_ins/call/status");
    hreq_cleanup(&r);

    /* An expression that does not compile: 422 with every error's path and offset. */
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {\"body\": {}}, \"definition\": {\"nodes\": [{\"id\": \"a\", \"type\": "
         "\"transform\", \"config\": {\"expression\": \"foo.[bar\"}}], \"edges\": []}}",
         &r);
    MH_T_ASSERT_EQ(r.status, 422);
    MH_T_ASSERT_STR_EQ(err_code(r.json), "invalid_definition");
    MH_T_ASSERT_STR_EQ(err_path(r.json), "/nodes/0/config/expression");
    json_t *e0 = json_array_get(json_object_get(json_object_get(r.json, "error"), "errors"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(e0, "code")), "jmespath_syntax");
    MH_T_ASSERT(json_integer_value(json_object_get(e0, "offset")) > 0);
    hreq_cleanup(&r);

    /* An expression that compiles but fails on this sample: the step's error says where. */
    call(&e, e.owner, "POST", path, NULL,
         "{\"trigger\": {\"body\": {\"name\": \"x\"}}, \"definition\": {\"nodes\": [{\"id\": "
         "\"a\", \"type\": \"transform\", \"config\": {\"expression\": \"{n: "
         "abs(trigger.body.name)}\"}}], \"edges\": []}}",
         &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "status")), "failed");
    json_t *err = json_object_get(step(r.json, "a"), "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "path")),
                       "/nodes/0/config/expression");
    MH_T_ASSERT(json_is_integer(json_object_get(err, "offset")));
    MH_T_ASSERT(json_integer_value(json_object_get(err, "offset")) >= 4);
    hreq_cleanup(&r);

    /* An unknown workflow. */
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/preview", e.project,
             "00000000-0000-0000-0000-000000000000");
    call(&e, e.owner, "POST", path, NULL, "{\"trigger\": {}}", &r);
    MH_T_ASSERT_EQ(r.status, 404);
    hreq_cleanup(&r);
    MH_T_ASSERT_EQ(footprint(&e), before);
    teardown(&e);
}

MH_TEST(preview_of_a_recorded_delivery_applies_pii_rules)
{
    struct env e;
    setup(&e);
    char wid[40], path[256], editor[128];
    workflow(&e,
             "{\"nodes\": [{\"id\": \"who\", \"type\": \"transform\", \"config\": "
             "{\"expression\": \"{email: trigger.body.email, plan: trigger.body.plan}\"}}], "
             "\"edges\": []}",
             wid);
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wid);
    json_decref(api(&e, "POST", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 201);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, wid);
    json_t *ep = api(&e, "POST", path, "{\"verification\": {\"scheme\": \"none\"}}", &st);
    MH_T_ASSERT_EQ(st, 201);
    char url[256];
    snprintf(url, sizeof(url), "%s%s", e.s.base, json_string_value(json_object_get(ep, "path")));
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    const char *payload = "{\"email\": \"ada@example.com\", \"plan\": \"pro\"}";
    mh_it_http("POST", url, h, payload, strlen(payload), &r);
    MH_T_ASSERT_EQ(r.status, 202);
    char did[40];
    snprintf(did, sizeof(did), "%s", json_string_value(json_object_get(r.json, "delivery_id")));
    mh_it_resp_cleanup(&r);
    /* A refused delivery (not JSON for a JSON content type) holds no trigger. */
    mh_it_http("POST", url, h, "{", 1, &r);
    MH_T_ASSERT(r.status >= 400);
    mh_it_resp_cleanup(&r);
    const char *eparams[] = {json_string_value(json_object_get(ep, "id"))};
    /* Refusals are logged by a background writer: wait for the row. */
    json_t *refused = NULL;
    for (int i = 0; i < 200; i++) {
        json_decref(refused);
        refused = mh_it_sql(e.db.admin_url,
                            "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND "
                            "outcome = 'refused'",
                            1, eparams, NULL);
        if (json_array_size(refused) > 0)
            break;
        mh_it_sleep_ms(25);
    }
    MH_T_ASSERT_EQ(json_array_size(refused), 1);

    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/preview", e.project, wid);
    char body[160];
    snprintf(body, sizeof(body), "{\"delivery_id\": \"%s\"}", did);
    long long before = footprint(&e);
    /* The owner holds pii:read: the recorded data as it is. */
    json_t *p = api(&e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(p, "redacted")));
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(step(p, "who"), "output"), "email")),
        "ada@example.com");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(step(p, "who"), "output"), "plan")),
        "pro");
    json_decref(p);
    /* An editor lacks pii:read by default: the e-mail address never reaches it. */
    member(&e, "editor@example.com", "editor", editor);
    before = footprint(&e);
    struct hreq q;
    call(&e, editor, "POST", path, NULL, body, &q);
    MH_T_ASSERT_EQ(q.status, 200);
    MH_T_ASSERT(json_is_true(json_object_get(q.json, "redacted")));
    char *dump = json_dumps(q.json, JSON_COMPACT);
    MH_T_ASSERT(strstr(dump, "ada@example.com") == NULL);
    MH_T_ASSERT(strstr(dump, "\"pro\"") != NULL);
    free(dump);
    hreq_cleanup(&q);
    /* The refused delivery: a clear 422. */
    snprintf(body, sizeof(body), "{\"delivery_id\": \"%s\"}",
             json_string_value(json_object_get(json_array_get(refused, 0), "id")));
    call(&e, editor, "POST", path, NULL, body, &q);
    MH_T_ASSERT_EQ(q.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(q.json), "/delivery_id");
    hreq_cleanup(&q);
    MH_T_ASSERT_EQ(footprint(&e), before);
    json_decref(refused);
    json_decref(ep);
    teardown(&e);
}

/* ---- Expression check ---------------------------------------------------------------------- */

MH_TEST(expression_check_answers_with_the_position)
{
    struct env e;
    setup(&e);
    long st;
    json_t *j = api(&e, "POST", "/api/expressions/check",
                    "{\"expression\": \"trigger.body.items[?price > `10`].sku\"}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    j = api(&e, "POST", "/api/expressions/check", "{\"expression\": \"trigger.body.[x\"}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(j, "ok")));
    json_t *err = json_object_get(j, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "code")), "jmespath_syntax");
    MH_T_ASSERT(json_integer_value(json_object_get(err, "offset")) >= 13);
    MH_T_ASSERT(json_string_length(json_object_get(err, "message")) > 0);
    json_decref(j);
    /* Templates: the same answer for a broken {{ }}. */
    j = api(&e, "POST", "/api/expressions/check",
            "{\"expression\": \"https://x/{{ trigger.body.id \", \"syntax\": \"template\"}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(j, "ok")));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                       "template_syntax");
    json_decref(j);
    j = api(&e, "POST", "/api/expressions/check",
            "{\"expression\": \"https://x/{{ trigger.body.id }}/{{secrets.K}}\", \"syntax\": "
            "\"template\"}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    /* A url template is checked as publishing checks it: {{raw}} is allowed, a host from data is
     * not. */
    j = api(&e, "POST", "/api/expressions/check",
            "{\"expression\": \"https://x/files/{{raw trigger.body.path}}\", \"syntax\": "
            "\"url_template\"}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(j, "ok")));
    json_decref(j);
    j = api(&e, "POST", "/api/expressions/check",
            "{\"expression\": \"https://{{trigger.body.host}}/x\", \"syntax\": \"url_template\"}",
            &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(j, "ok")));
    json_decref(j);
    /* Bad requests. */
    j = api(&e, "POST", "/api/expressions/check", "{\"syntax\": \"jmespath\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_path(j), "/expression");
    json_decref(j);
    j = api(&e, "POST", "/api/expressions/check", "{\"expression\": \"a\", \"syntax\": \"sql\"}",
            &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_path(j), "/syntax");
    json_decref(j);
    size_t n = 70000;
    char *big = malloc(n + 32);
    memcpy(big, "{\"expression\": \"", 16);
    memset(big + 16, 'a', n);
    memcpy(big + 16 + n, "\"}", 3);
    j = api(&e, "POST", "/api/expressions/check", big, &st);
    MH_T_ASSERT_EQ(st, 413);
    MH_T_ASSERT_STR_EQ(err_path(j), "/expression");
    json_decref(j);
    free(big);
    struct hreq r;
    call(&e, NULL, "POST", "/api/expressions/check", NULL, "{\"expression\": \"a\"}", &r);
    MH_T_ASSERT_EQ(r.status, 401);
    hreq_cleanup(&r);
    teardown(&e);
}

/* ---- Starter templates --------------------------------------------------------------------- */

struct capture {
    char path[256];
    char auth[256];
    char body[4096];
    int n;
};

static struct capture *captured;

static void capture_target(void *ctx, const struct mh_mock_request *req,
                           struct mh_mock_reply *reply)
{
    (void)ctx;
    struct capture *c = captured;
    snprintf(c->path, sizeof(c->path), "%s", req->path);
    snprintf(c->body, sizeof(c->body), "%.*s", (int)req->body_len, req->body);
    const char *a = strcasestr(req->headers, "\nAuthorization: ");
    c->auth[0] = '\0';
    if (a)
        snprintf(c->auth, sizeof(c->auth), "%.*s", (int)strcspn(a + 16, "\r\n"), a + 16);
    __atomic_add_fetch(&c->n, 1, __ATOMIC_SEQ_CST);
    reply->status = 200;
    snprintf(reply->content_type, sizeof(reply->content_type), "application/json");
    snprintf(reply->body, sizeof(reply->body), "{\"ok\": true}");
}

static void hex_hmac(const char *key, const char *data, char *out)
{
    uint8_t mac[32];
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, key, strlen(key), data, strlen(data), mac),
                   MH_OK);
    mh_crypto_hex_encode(mac, sizeof(mac), out);
}

static json_t *wait_run(struct env *e, const char *run)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run);
    for (int i = 0; i < 400; i++) {
        long st;
        json_t *r = api(e, "GET", path, NULL, &st);
        const char *s = json_string_value(json_object_get(r, "status"));
        if (s && (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0))
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run);
}

/* Creates a workflow from template `t` as it is, publishes it, gives it an endpoint with the
 * template's settings and `secret` as its key, sends the template's sample signed as the
 * provider would, and returns the finished run (new reference). */
static json_t *run_template(struct env *e, json_t *t, const char *secret)
{
    char path[256];
    long st;
    json_t *req = json_pack("{s:O, s:O}", "name", json_object_get(t, "title"), "definition",
                            json_object_get(t, "definition"));
    char *body = json_dumps(req, JSON_COMPACT);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *w = api(e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(w, "validation"), "valid")));
    char wid[40];
    snprintf(wid, sizeof(wid), "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    free(body);
    json_decref(req);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, wid);
    json_decref(api(e, "POST", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 201);

    json_t *epreq = json_deep_copy(json_object_get(t, "endpoint"));
    json_object_set_new(epreq, "key", json_pack("{s:s}", "secret", secret));
    body = json_dumps(epreq, JSON_COMPACT);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e->project, wid);
    json_t *ep = api(e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    free(body);
    json_decref(epreq);

    json_t *sample = json_object_get(t, "sample");
    char *payload = json_dumps(json_object_get(sample, "body"), JSON_COMPACT);
    const char *scheme = json_string_value(
        json_object_get(json_object_get(json_object_get(t, "endpoint"), "verification"), "scheme"));
    char sig[256], hex[65], event[128] = "X-Nothing: 1";
    if (strcmp(scheme, "github") == 0) {
        hex_hmac(secret, payload, hex);
        snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
        snprintf(event, sizeof(event), "X-GitHub-Event: push");
    } else if (strcmp(scheme, "stripe") == 0) {
        long long now = (long long)time(NULL);
        size_t n = strlen(payload) + 32;
        char *signed_part = malloc(n);
        snprintf(signed_part, n, "%lld.%s", now, payload);
        hex_hmac(secret, signed_part, hex);
        free(signed_part);
        snprintf(sig, sizeof(sig), "Stripe-Signature: t=%lld,v1=%s", now, hex);
    } else {
        MH_T_ASSERT_STR_EQ(scheme, "hmac");
        hex_hmac(secret, payload, hex);
        snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
    }
    char url[256];
    snprintf(url, sizeof(url), "%s%s", e->s.base, json_string_value(json_object_get(ep, "path")));
    const char *h[] = {"Content-Type: application/json", sig, event, NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, payload, strlen(payload), &r);
    if (r.status != 202)
        mh_t_fail(__FILE__, __LINE__, "%s: webhook answered %ld: %s", scheme, r.status,
                  r.body ? r.body : "");
    char run[40];
    snprintf(run, sizeof(run), "%s", json_string_value(json_object_get(r.json, "run_id")));
    mh_it_resp_cleanup(&r);
    free(payload);
    json_decref(ep);
    return wait_run(e, run);
}

static void put_secret(struct env *e, const char *name, const char *value)
{
    char path[160], body[512];
    snprintf(path, sizeof(path), "/api/projects/%s/secrets/%s", e->project, name);
    snprintf(body, sizeof(body), "{\"value\": \"%s\"}", value);
    long st;
    json_decref(api(e, "PUT", path, body, &st));
    MH_T_ASSERT(st == 200 || st == 201);
}

MH_TEST(starter_templates_run_as_they_are)
{
    struct env e;
    setup(&e);
    struct capture cap;
    memset(&cap, 0, sizeof(cap));
    captured = &cap;
    struct mh_mock *m = mh_mock_start(capture_target, NULL);
    char base[128], chat[160];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", mh_mock_port(m));
    snprintf(chat, sizeof(chat), "%s/chat/T0/B0/xyz", base);
    put_secret(&e, "CHAT_WEBHOOK_URL", chat);
    put_secret(&e, "INTERNAL_API_URL", base);
    put_secret(&e, "INTERNAL_API_TOKEN", "internal-token-123");

    long st;
    json_t *list = api(&e, "GET", "/api/workflow-templates", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *templates = json_object_get(list, "templates");
    MH_T_ASSERT(json_array_size(templates) >= 3);
    const char *ids[] = {"github-push-to-chat", "stripe-payment-to-api", "json-transform"};
    for (size_t k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/workflow-templates/%s", ids[k]);
        json_t *t = api(&e, "GET", path, NULL, &st);
        MH_T_ASSERT_EQ(st, 200);
        MH_T_ASSERT(json_is_string(json_object_get(t, "title")));
        MH_T_ASSERT(json_is_string(json_object_get(t, "description")));
        int n_before = __atomic_load_n(&cap.n, __ATOMIC_SEQ_CST);
        json_t *run = run_template(&e, t, "a-provider-signing-secret-0123456789");
        const char *status = json_string_value(json_object_get(run, "status"));
        if (strcmp(status, "succeeded") != 0) {
            char *dump = json_dumps(run, JSON_COMPACT);
            mh_t_fail(__FILE__, __LINE__, "%s: run %s: %s", ids[k], status, dump);
        }
        json_t *output = json_object_get(run, "output");
        int n_after = __atomic_load_n(&cap.n, __ATOMIC_SEQ_CST);
        if (k == 0) {
            MH_T_ASSERT_EQ(n_after - n_before, 1);
            MH_T_ASSERT_STR_EQ(cap.path, "/chat/T0/B0/xyz");
            MH_T_ASSERT(strstr(cap.body, "octocat pushed 2 commit(s) to octo-org/hello") != NULL);
            MH_T_ASSERT_EQ(json_integer_value(json_object_get(output, "status")), 200);
        } else if (k == 1) {
            /* 2,500.00 EUR: the review endpoint, with the token. */
            MH_T_ASSERT_EQ(n_after - n_before, 1);
            MH_T_ASSERT_STR_EQ(cap.path, "/payments/review");
            MH_T_ASSERT_STR_EQ(cap.auth, "Bearer internal-token-123");
            MH_T_ASSERT(strstr(cap.body, "\"amount\":250000") != NULL);
            MH_T_ASSERT(json_is_true(json_object_get(output, "reviewed")));
        } else {
            MH_T_ASSERT_EQ(n_after - n_before, 0);
            MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(output, "id")), "ord_42");
            MH_T_ASSERT(json_real_value(json_object_get(output, "total")) == 20.0 ||
                        json_integer_value(json_object_get(output, "total")) == 20);
        }
        json_decref(run);
        json_decref(t);
    }
    json_t *none = api(&e, "GET", "/api/workflow-templates/nope", NULL, &st);
    MH_T_ASSERT_EQ(st, 404);
    json_decref(none);
    json_decref(list);
    mh_mock_stop(m);
    teardown(&e);
}

/* ---- Draft test against past deliveries -------------------------------------------------- */

/* POSTs `payload` (JSON) to the endpoint at `url` and waits for its run; the run id goes to
 * `run` (40 bytes). */
static void deliver(struct env *e, const char *url, const char *payload, char *run)
{
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, payload, strlen(payload), &r);
    MH_T_ASSERT_EQ(r.status, 202);
    snprintf(run, 40, "%s", json_string_value(json_object_get(r.json, "run_id")));
    mh_it_resp_cleanup(&r);
    json_decref(wait_run(e, run));
}

/* The definition `def` (JSON text) with node `id`'s config member `member` set to `value`. */
static char *redefine(const char *def, const char *id, const char *member, const char *value)
{
    json_t *d = json_loads(def, 0, NULL);
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(d, "nodes"), i, n)
    {
        if (strcmp(json_string_value(json_object_get(n, "id")), id) == 0)
            json_object_set_new(json_object_get(n, "config"), member, json_string(value));
    }
    char *s = json_dumps(d, JSON_COMPACT);
    json_decref(d);
    return s;
}

/* One delivery's comparison of node `id` in a draft test's answer. */
static json_t *compared(json_t *answer, size_t delivery, const char *id)
{
    json_t *d = json_array_get(json_object_get(answer, "deliveries"), delivery);
    return json_object_get(json_object_get(d, "nodes"), id);
}

MH_TEST(draft_test_compares_a_draft_with_past_deliveries)
{
    struct env e;
    setup(&e);
    hits = 0;
    struct mh_mock *m = mh_mock_start(count_target, NULL);
    char url[128], wid[40], other[40], path[200], hook[256], runs[3][40];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/orders", mh_mock_port(m));
    char *def = order_flow(url);
    workflow(&e, def, wid);
    workflow(&e, def, other);
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, wid);
    json_decref(api(&e, "POST", path, NULL, &st));
    MH_T_ASSERT_EQ(st, 201);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e.project, wid);
    json_t *ep = api(&e, "POST", path, "{\"verification\": {\"scheme\": \"none\"}}", &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(hook, sizeof(hook), "%s%s", e.s.base, json_string_value(json_object_get(ep, "path")));
    /* Two big orders (the call is made) and a small one (the branch skips it), oldest first. */
    deliver(&e, hook, "{\"id\": 1, \"total\": 150}", runs[0]);
    deliver(&e, hook, "{\"id\": 2, \"total\": 5}", runs[1]);
    deliver(&e, hook, "{\"id\": 3, \"total\": 300}", runs[2]);
    MH_T_ASSERT_EQ(__atomic_load_n(&hits, __ATOMIC_SEQ_CST), 2);
    long long before = footprint(&e);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft-test", e.project, wid);

    /* The draft as published: nothing differs; the recorded responses stand in for the call. */
    json_t *a = api(&e, "POST", path, "{\"last\": 10}", &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *sum = json_object_get(a, "summary");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(sum, "tested")), 3);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(sum, "differing")), 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(sum, "not_simulated")), 0);
    /* Newest first. */
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_array_get(json_object_get(a, "deliveries"), 0), "run_id")),
                       runs[2]);
    MH_T_ASSERT(json_is_true(json_object_get(compared(a, 0, "call"), "equal")));
    MH_T_ASSERT(json_is_true(json_object_get(compared(a, 0, "call"), "stand_in")));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(compared(a, 1, "call"), "status")),
                       "skipped");
    json_decref(a);

    /* A draft whose branch threshold moved: only the order of 150 changes its path. */
    char *moved = redefine(def, "big", "condition", "steps.prepare.output.total > `200`");
    size_t blen = strlen(moved) + 64;
    char *body = malloc(blen);
    snprintf(body, blen, "{\"definition\": %s}", moved);
    a = api(&e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 200);
    sum = json_object_get(a, "summary");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(sum, "tested")), 3);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(sum, "differing")), 1);
    json_t *d2 = json_array_get(json_object_get(a, "deliveries"), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(d2, "run_id")), runs[0]);
    MH_T_ASSERT(json_is_true(json_object_get(d2, "differs")));
    MH_T_ASSERT(json_is_true(json_object_get(compared(a, 0, "big"), "equal")));
    json_t *big = compared(a, 2, "big");
    MH_T_ASSERT(json_is_false(json_object_get(big, "equal")));
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(big, "published"), "output")));
    MH_T_ASSERT(json_is_false(json_object_get(json_object_get(big, "draft"), "output")));
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(big, "paths"), 0)), "");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_object_get(compared(a, 2, "call"), "draft"), "status")),
                       "skipped");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_object_get(compared(a, 2, "small"), "draft"), "status")),
                       "succeeded");
    MH_T_ASSERT(json_is_true(json_object_get(compared(a, 1, "small"), "equal")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(sum, "nodes"), "big")), 1);
    json_decref(a);
    free(body);
    free(moved);

    /* A draft whose final output changes shape: the differing member's pointer is named. */
    char *reshaped = redefine(def, "prepare", "expression",
                              "{id: trigger.body.id, total: trigger.body.total, who: 'ops'}");
    blen = strlen(reshaped) + 64;
    body = malloc(blen);
    snprintf(body, blen, "{\"definition\": %s, \"last\": 1}", reshaped);
    a = api(&e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_object_get(a, "summary"), "tested")), 1);
    json_t *prep = compared(a, 0, "prepare");
    MH_T_ASSERT(json_is_false(json_object_get(prep, "equal")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(prep, "paths")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(prep, "paths"), 0)),
                       "/who");
    json_decref(a);
    free(body);
    free(reshaped);

    /* A call the published version never made has no recorded answer: not simulated. */
    char *moved_url = redefine(def, "call", "url", url);
    json_t *dj = json_loads(moved_url, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(dj, "nodes"), 2), "id",
                        json_string("call2"));
    json_t *edge = json_array_get(json_object_get(dj, "edges"), 1);
    json_object_set_new(edge, "to", json_string("call2"));
    edge = json_array_get(json_object_get(dj, "edges"), 3);
    json_object_set_new(edge, "from", json_string("call2"));
    json_object_set_new(json_object_get(json_array_get(json_object_get(dj, "nodes"), 3), "config"),
                        "output", json_string("steps.call2.output.body"));
    char *renamed = json_dumps(dj, JSON_COMPACT);
    json_decref(dj);
    blen = strlen(renamed) + 64;
    body = malloc(blen);
    snprintf(body, blen, "{\"definition\": %s}", renamed);
    a = api(&e, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(
        json_integer_value(json_object_get(json_object_get(a, "summary"), "not_simulated")), 2);
    json_t *first = json_array_get(json_object_get(a, "deliveries"), 0);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_array_get(json_object_get(first, "not_simulated"), 0)), "call2");
    /* The published "call" is only on one side. */
    MH_T_ASSERT(json_is_null(json_object_get(compared(a, 0, "call"), "draft")));
    json_decref(a);
    free(body);
    free(renamed);
    free(moved_url);

    /* Bad input: each a clear 422 with the field's path. */
    const struct {
        const char *body;
        const char *path;
    } bad[] = {
        {"{\"last\": 0}", "/last"},
        {"{\"last\": 501}", "/last"},
        {"{\"last\": \"ten\"}", "/last"},
        {"{\"endpoint_id\": \"nope\"}", "/endpoint_id"},
        {"{\"endpoint_id\": \"00000000-0000-0000-0000-000000000000\"}", "/endpoint_id"},
        {"{\"definition\": {\"nodes\": [{\"id\": \"x\", \"type\": \"transform\", \"config\": "
         "{\"expression\": \"a.[\"}}], \"edges\": []}}",
         "/nodes/0/config/expression"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        struct hreq q;
        call(&e, e.owner, "POST", path, NULL, bad[k].body, &q);
        if (q.status != 422 || strcmp(err_path(q.json), bad[k].path) != 0) {
            char *dump = json_dumps(q.json, JSON_COMPACT);
            mh_t_fail(__FILE__, __LINE__, "%s: %ld %s", bad[k].body, q.status, dump);
        }
        hreq_cleanup(&q);
    }
    /* The other workflow's endpoint filter: an endpoint of this workflow only. */
    char opath[200], obody[128];
    snprintf(opath, sizeof(opath), "/api/projects/%s/workflows/%s/draft-test", e.project, other);
    snprintf(obody, sizeof(obody), "{\"endpoint_id\": \"%s\"}",
             json_string_value(json_object_get(ep, "id")));
    struct hreq q;
    call(&e, e.owner, "POST", opath, NULL, obody, &q);
    MH_T_ASSERT_EQ(q.status, 422);
    MH_T_ASSERT_STR_EQ(err_path(q.json), "/endpoint_id");
    hreq_cleanup(&q);
    /* Nothing was written and nothing was sent again. */
    MH_T_ASSERT_EQ(footprint(&e), before);
    MH_T_ASSERT_EQ(__atomic_load_n(&hits, __ATOMIC_SEQ_CST), 2);
    /* A viewer may not test drafts. */
    char viewer[128];
    member(&e, "viewer@example.com", "viewer", viewer);
    call(&e, viewer, "POST", path, NULL, "{}", &q);
    MH_T_ASSERT_EQ(q.status, 403);
    hreq_cleanup(&q);
    json_decref(ep);
    mh_mock_stop(m);
    free(def);
    teardown(&e);
}

/* The editor's unit tests render forms from a copy of GET /api/node-types; it must be the
 * server's answer, or those tests test a form nobody sees. */
MH_TEST(node_types_fixture_matches_the_server)
{
    struct env e;
    setup(&e);
    long st;
    json_t *live = api(&e, "GET", "/api/node-types", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    char path[1024];
    snprintf(path, sizeof(path), "%s/web/src/lib/graph/fixtures/node-types.json", mh_t_repo_dir());
    json_error_t jerr;
    json_t *copy = json_load_file(path, 0, &jerr);
    MH_T_ASSERT(copy != NULL);
    if (!json_equal(live, copy))
        mh_t_fail(__FILE__, __LINE__, "%s differs from GET /api/node-types: refresh it", path);
    json_decref(copy);
    json_decref(live);
    teardown(&e);
}
