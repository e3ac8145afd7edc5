/* SPDX-License-Identifier: MIT */
/*
 * Sub-workflows end to end (docs/workflows.md, "Sub-workflows"): the real server and workers and
 * a real PostgreSQL. A call_workflow step starts a child run of the latest published version
 * with its input and takes the child's output; the two runs are linked both ways through the
 * runs API and both replay (API and `meshhook replay`); a child's failure takes the step's
 * error edge, or fails the caller; a chain deeper than subworkflow_max_depth fails with a clear
 * error; a call back to the workflow saved is refused at publish with the node and the field; a
 * SIGKILL once the child has finished resumes the caller once, and the child is never started
 * twice; a SIGKILL right after a caller's end was committed still cancels its running child.
 */
#include <signal.h>
#include <unistd.h>

#include "itest_project.h"

/* Asserts that `v` equals the JSON `text` (compared as sorted compact text). */
#define ASSERT_JSON_EQ(v, text)                                                                    \
    do {                                                                                           \
        json_t *want_ = json_loads((text), JSON_DECODE_ANY, NULL);                                 \
        MH_T_ASSERT(want_ != NULL);                                                                \
        char *a_ = json_dumps((v), JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);               \
        char *b_ = json_dumps(want_, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);             \
        MH_T_ASSERT_STR_EQ(a_ ? a_ : "(none)", b_);                                                \
        free(a_);                                                                                  \
        free(b_);                                                                                  \
        json_decref(want_);                                                                        \
    } while (0)

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
    json_t *last = mh_it_project_get_run(e, run);
    json_t *kid0 = json_array_get(json_object_get(last, "children"), 0);
    if (kid0 != NULL) {
        json_t *k = mh_it_project_get_run(e, json_string_value(json_object_get(kid0, "run_id")));
        fprintf(stderr, "child: %s\n", json_dumps(k, JSON_COMPACT));
        json_decref(k);
    }
    char *log = mh_it_server_log(&e->s);
    size_t len = log ? strlen(log) : 0;
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish in %d s: %s\nserver log (end): %s", run,
              secs, json_dumps(last, JSON_COMPACT), log ? log + (len > 3000 ? len - 3000 : 0) : "");
}

static json_t *step(json_t *run, const char *node)
{
    return json_object_get(json_object_get(json_object_get(run, "state"), "steps"), node);
}

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

/* The number of runs the step `step` of run `run` started (from the table: the key that makes
 * a start idempotent). */
static long children_in_db(struct mh_it_project_env *e, const char *run)
{
    const char *p[] = {run};
    json_t *rows =
        mh_it_sql(e->db.admin_url, "SELECT count(*) AS n FROM runs WHERE caller_run_id = $1::uuid",
                  1, p, NULL);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

#define CHILD_DEF                                                                                  \
    "{\"nodes\": [{\"id\": \"double\", \"type\": \"transform\", \"config\": {\"expression\": "     \
    "\"{total: trigger.body.n, by: 'pricing'}\"}}], \"edges\": []}"

/* The documented example (docs/workflows.md, "Sub-workflows"). */
static void parent_def(char *out, size_t cap, const char *child, bool error_edge)
{
    snprintf(out, cap,
             "{\"nodes\": [{\"id\": \"price\", \"type\": \"call_workflow\", \"config\": "
             "{\"workflow_id\": \"%s\", \"input\": \"{n: trigger.body.qty}\"}}, {\"id\": "
             "\"reply\", \"type\": \"transform\", \"config\": {\"expression\": \"{total: "
             "steps.price.output.double.total}\"}}%s], \"edges\": [{\"from\": \"price\", \"to\": "
             "\"reply\"}%s]}",
             child,
             error_edge ? ", {\"id\": \"fallback\", \"type\": \"transform\", \"config\": "
                          "{\"expression\": \"{failed: steps.price.error.kind, child: "
                          "steps.price.error.child_run_id}\"}}"
                        : "",
             error_edge ? ", {\"from\": \"price\", \"to\": \"fallback\", \"port\": \"error\"}"
                        : "");
}

MH_TEST(call_links_parent_and_child_both_ways_and_replays)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, NULL, "callwf");
    char child[40], parent[40], def[4096], run[40];
    mh_it_project_publish(&e, "pricing", CHILD_DEF, child);
    parent_def(def, sizeof(def), child, false);
    mh_it_project_publish(&e, "orders", def, parent);
    mh_it_project_start_run(&e, parent, "{\"qty\": 3}", run);
    json_t *r = wait_run(&e, run, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    ASSERT_JSON_EQ(json_object_get(json_object_get(r, "output"), "reply"), "{\"total\": 3}");
    /* The step's output is the child's run output. */
    ASSERT_JSON_EQ(json_object_get(step(r, "price"), "output"),
                   "{\"double\": {\"total\": 3, \"by\": \"pricing\"}}");
    /* Parent -> child. */
    json_t *kids = json_object_get(r, "children");
    MH_T_ASSERT_EQ(json_array_size(kids), 1);
    json_t *kid = json_array_get(kids, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(kid, "step")), "price");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(kid, "workflow_id")), child);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(kid, "version")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(kid, "status")), "succeeded");
    MH_T_ASSERT(json_is_null(json_object_get(r, "parent")));
    char kid_id[40];
    snprintf(kid_id, sizeof(kid_id), "%s", json_string_value(json_object_get(kid, "run_id")));
    /* The parent's events name the child. */
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/events", e.project, run);
    long st;
    json_t *evs = mh_it_project_api(&e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    bool named = false;
    size_t i;
    json_t *ev;
    json_array_foreach(json_object_get(evs, "events"), i, ev)
    {
        const char *t = json_string_value(json_object_get(ev, "type"));
        json_t *p = json_object_get(ev, "payload");
        if (strcmp(t, "step_started") == 0)
            named = strcmp(json_string_value(
                               json_object_get(json_object_get(p, "request"), "child_run_id")),
                           kid_id) == 0;
        if (strcmp(t, "child_finished") == 0)
            MH_T_ASSERT_EQ(json_integer_value(json_object_get(p, "version")), 1);
    }
    MH_T_ASSERT(named);
    json_decref(evs);
    /* Child -> parent. */
    json_t *c = mh_it_project_get_run(&e, kid_id);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(c, "status")), "succeeded");
    json_t *par = json_object_get(c, "parent");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(par, "run_id")), run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(par, "step")), "price");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(par, "workflow_id")), parent);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(c, "children")), 0);
    /* The child's trigger body is the call's input. */
    ASSERT_JSON_EQ(json_object_get(step(c, "double"), "output"),
                   "{\"total\": 3, \"by\": \"pricing\"}");
    json_decref(c);
    json_decref(r);
    MH_T_ASSERT_EQ(count_events(&e, run, "child_finished", "price"), 1);
    MH_T_ASSERT_EQ(children_in_db(&e, run), 1);
    assert_replays_clean(&e, run);
    assert_replays_clean(&e, kid_id);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

#define FAILING_CHILD_DEF                                                                          \
    "{\"nodes\": [{\"id\": \"no\", \"type\": \"terminate\", \"config\": {\"status\": "             \
    "\"failed\", \"output\": \"trigger.body\"}}], \"edges\": []}"

MH_TEST(child_failure_takes_the_error_edge_or_fails_the_caller)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, NULL, "callwf");
    char child[40], handled[40], bare[40], def[4096], run[40];
    mh_it_project_publish(&e, "failing", FAILING_CHILD_DEF, child);
    parent_def(def, sizeof(def), child, true);
    mh_it_project_publish(&e, "handled", def, handled);
    parent_def(def, sizeof(def), child, false);
    mh_it_project_publish(&e, "bare", def, bare);

    mh_it_project_start_run(&e, handled, "{\"qty\": 1}", run);
    json_t *r = wait_run(&e, run, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    json_t *fb = json_object_get(json_object_get(r, "output"), "fallback");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(fb, "failed")), "child_failed");
    const char *kid = json_string_value(json_object_get(fb, "child"));
    MH_T_ASSERT(kid != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "price"), "status")), "failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(step(r, "reply"), "status")), "skipped");
    json_t *c = mh_it_project_get_run(&e, kid);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(c, "status")), "failed");
    json_decref(c);
    assert_replays_clean(&e, run);
    json_decref(r);

    mh_it_project_start_run(&e, bare, "{\"qty\": 1}", run);
    r = wait_run(&e, run, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    const char *msg = json_string_value(json_object_get(r, "error"));
    MH_T_ASSERT(msg != NULL && strstr(msg, "step price failed: child run") != NULL);
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

/* A -> B -> C with subworkflow_max_depth 1: B (one call deep) may not call C. */
MH_TEST(depth_limit_fails_the_call_clearly)
{
    struct mh_it_project_env e;
    const char *args[] = {"--subworkflow-max-depth=1", NULL};
    mh_it_project_setup(&e, args, "callwf");
    char c[40], b[40], a[40], def[4096], run[40];
    mh_it_project_publish(&e, "c", CHILD_DEF, c);
    parent_def(def, sizeof(def), c, false);
    mh_it_project_publish(&e, "b", def, b);
    parent_def(def, sizeof(def), b, false);
    mh_it_project_publish(&e, "a", def, a);
    mh_it_project_start_run(&e, a, "{\"qty\": 2}", run);
    json_t *r = wait_run(&e, run, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    json_t *kids = json_object_get(r, "children");
    MH_T_ASSERT_EQ(json_array_size(kids), 1);
    const char *bid = json_string_value(json_object_get(json_array_get(kids, 0), "run_id"));
    json_t *br = mh_it_project_get_run(&e, bid);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(br, "status")), "failed");
    json_t *err = json_object_get(step(br, "price"), "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "kind")), "call");
    MH_T_ASSERT(strstr(json_string_value(json_object_get(err, "message")),
                       "depth limit reached: this run is 1 call(s) deep and "
                       "subworkflow_max_depth is 1") != NULL);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(br, "children")), 0);
    assert_replays_clean(&e, bid);
    json_decref(br);
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

static void put_draft(struct mh_it_project_env *e, const char *wf, const char *def)
{
    char path[256], body[8192];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s", e->project, wf);
    long st;
    json_t *w = mh_it_project_api(e, "GET", path, NULL, &st);
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", e->project, wf);
    snprintf(body, sizeof(body), "{\"definition\": %s}", def);
    json_t *r = mh_it_project_api(e, "PUT", path, body, &st);
    if (st != 200)
        mh_t_fail(__FILE__, __LINE__, "put draft: %ld %s", st, json_dumps(r, 0));
    json_decref(r);
}

static void assert_publish_cycle(struct mh_it_project_env *e, const char *wf, const char *what)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, wf);
    long st;
    json_t *r = mh_it_project_api(e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    json_t *err = json_object_get(r, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "path")),
                       "/nodes/0/config/workflow_id");
    json_t *first = json_array_get(json_object_get(err, "errors"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(first, "code")), "call_cycle");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(first, "node")), "price");
    MH_T_ASSERT(strstr(json_string_value(json_object_get(first, "message")), what) != NULL);
    json_decref(r);
}

MH_TEST(call_cycles_are_refused_at_save)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, NULL, "callwf");
    char a[40], b[40], def[4096];
    mh_it_project_publish(&e, "a", CHILD_DEF, a);
    /* A calls A. */
    parent_def(def, sizeof(def), a, false);
    put_draft(&e, a, def);
    assert_publish_cycle(&e, a, "calls this workflow itself");
    /* The draft's validation says so too. */
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/validate", e.project, a);
    long st;
    json_t *v = mh_it_project_api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(v, "valid")));
    json_decref(v);
    /* B (published) calls A's latest; A's draft calling B closes the cycle. */
    parent_def(def, sizeof(def), a, false);
    mh_it_project_publish(&e, "b", def, b);
    parent_def(def, sizeof(def), b, false);
    put_draft(&e, a, def);
    char want[200];
    snprintf(want, sizeof(want), "this workflow -> %s -> %s", b, a);
    assert_publish_cycle(&e, a, want);
    /* A workflow of no project of ours is named as such. */
    parent_def(def, sizeof(def), "0190a0b0-0000-7000-8000-00000000000a", false);
    put_draft(&e, a, def);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e.project, a);
    json_t *r = mh_it_project_api(&e, "POST", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    json_t *first = json_array_get(json_object_get(json_object_get(r, "error"), "errors"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(first, "code")), "call_target");
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

#define SLOW_CHILD_DEF                                                                             \
    "{\"nodes\": [{\"id\": \"wait\", \"type\": \"delay\", \"config\": {\"duration_ms\": 700}}, "   \
    "{\"id\": \"double\", \"type\": \"transform\", \"config\": {\"expression\": \"{total: "        \
    "trigger.body.n, by: 'slow'}\"}}], \"edges\": [{\"from\": \"wait\", \"to\": \"double\"}]}"

/* For the SIGKILL tests: a job the killed server had claimed comes back after this lease, not
 * the default 30 s (which the waits below would not cover). */
static const char *const short_lease[] = {"--job-lease-ms", "2000", NULL};

/* SIGKILL as soon as the child has finished (before or while its caller resumes): after a
 * restart the caller finishes once, with the child's output, and the child was started once. */
MH_TEST(sigkill_after_the_child_finished_resumes_the_caller_once)
{
    struct mh_it_project_env e;
    mh_it_project_setup(&e, short_lease, "callwf");
    char child[40], parent[40], def[4096], run[40];
    mh_it_project_publish(&e, "slow", SLOW_CHILD_DEF, child);
    parent_def(def, sizeof(def), child, false);
    mh_it_project_publish(&e, "orders", def, parent);
    mh_it_project_start_run(&e, parent, "{\"qty\": 5}", run);
    const char *p[] = {run};
    bool done = false;
    for (int i = 0; i < 2000 && !done; i++) {
        json_t *rows = mh_it_sql(
            e.db.admin_url, "SELECT status FROM runs WHERE caller_run_id = $1::uuid", 1, p, NULL);
        const char *s = json_string_value(json_object_get(json_array_get(rows, 0), "status"));
        done = s != NULL && strcmp(s, "succeeded") == 0;
        json_decref(rows);
        if (!done)
            mh_it_sleep_ms(2);
    }
    MH_T_ASSERT(done);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    mh_it_server_start(&e.s, &e.db, short_lease);
    json_t *r = wait_run(&e, run, 30);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "succeeded");
    ASSERT_JSON_EQ(json_object_get(json_object_get(r, "output"), "reply"), "{\"total\": 5}");
    json_decref(r);
    MH_T_ASSERT_EQ(children_in_db(&e, run), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_started", "price"), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "child_finished", "price"), 1);
    MH_T_ASSERT_EQ(count_events(&e, run, "step_succeeded", "price"), 1);
    assert_replays_clean(&e, run);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}

#define LONG_CHILD_DEF                                                                             \
    "{\"nodes\": [{\"id\": \"wait\", \"type\": \"delay\", \"config\": {\"duration_ms\": 60000}}, " \
    "{\"id\": \"double\", \"type\": \"transform\", \"config\": {\"expression\": "                  \
    "\"trigger.body\"}}"                                                                           \
    "], \"edges\": [{\"from\": \"wait\", \"to\": \"double\"}]}"

/* A caller that fails along another path after `ms` while its child (LONG_CHILD_DEF) runs. */
static void ending_parent_def(char *out, size_t cap, const char *child, int ms)
{
    snprintf(out, cap,
             "{\"nodes\": [{\"id\": \"start\", \"type\": \"transform\", \"config\": "
             "{\"expression\": \"trigger.body\"}}, {\"id\": \"price\", \"type\": "
             "\"call_workflow\", \"config\": {\"workflow_id\": \"%s\"}}, {\"id\": \"pause\", "
             "\"type\": \"delay\", \"config\": {\"duration_ms\": %d}}, {\"id\": \"stop\", "
             "\"type\": \"terminate\", \"config\": {\"status\": \"failed\"}}], \"edges\": "
             "[{\"from\": \"start\", \"to\": \"price\"}, {\"from\": \"start\", \"to\": "
             "\"pause\"}, {\"from\": \"pause\", \"to\": \"stop\"}]}",
             child, ms);
}

/* The caller's end is committed and the server is killed before it does anything more (the
 * MH_DEBUG seam MH_DEBUG_ENGINE_KILL_FILE): the cancel of the child was committed with the
 * caller's end, so after a restart the child ends canceled, long before its own delay. */
MH_TEST(sigkill_after_the_caller_ended_still_cancels_the_child)
{
#ifndef MH_DEBUG
    MH_T_SKIP("the crash seam exists in MH_DEBUG builds only");
#endif
    char kill_path[128];
    snprintf(kill_path, sizeof(kill_path), "/tmp/mh-it-kill-%d", (int)getpid());
    unlink(kill_path);
    setenv("MH_DEBUG_ENGINE_KILL_FILE", kill_path, 1);
    struct mh_it_project_env e;
    mh_it_project_setup(&e, short_lease, "callwf");
    char child[40], parent[40], def[4096], run[40];
    mh_it_project_publish(&e, "long", LONG_CHILD_DEF, child);
    ending_parent_def(def, sizeof(def), child, 1500);
    mh_it_project_publish(&e, "orders", def, parent);
    mh_it_project_start_run(&e, parent, "{\"qty\": 5}", run);
    FILE *f = fopen(kill_path, "w");
    MH_T_ASSERT(f != NULL);
    fprintf(f, "%s\n", run);
    MH_T_ASSERT_EQ(fclose(f), 0);
    /* The seam removes the file and kills the server once the caller's end is committed. */
    for (int i = 0; i < 400 && access(kill_path, F_OK) == 0; i++)
        mh_it_sleep_ms(25);
    MH_T_ASSERT(access(kill_path, F_OK) != 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    unsetenv("MH_DEBUG_ENGINE_KILL_FILE");
    const char *p[] = {run};
    json_t *rows = mh_it_sql(e.db.admin_url,
                             "SELECT (SELECT status FROM runs WHERE id = $1::uuid) AS caller, "
                             "(SELECT status FROM runs WHERE caller_run_id = $1::uuid) AS child, "
                             "(SELECT id::text FROM runs WHERE caller_run_id = $1::uuid) AS id",
                             1, p, NULL);
    json_t *row = json_array_get(rows, 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "caller")), "failed");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(row, "child")), "running");
    char kid[40];
    snprintf(kid, sizeof(kid), "%s", json_string_value(json_object_get(row, "id")));
    json_decref(rows);

    mh_it_server_start(&e.s, &e.db, short_lease);
    json_t *k = wait_run(&e, kid, 20);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(k, "status")), "canceled");
    json_decref(k);
    MH_T_ASSERT_EQ(count_events(&e, kid, "run_canceled", ""), 1);
    MH_T_ASSERT_EQ(count_events(&e, kid, "step_succeeded", "double"), 0);
    assert_replays_clean(&e, kid);
    json_t *r = mh_it_project_get_run(&e, run);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "status")), "failed");
    json_decref(r);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
}
