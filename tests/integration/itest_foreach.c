/* SPDX-License-Identifier: MIT */
/*
 * The for_each node through the real server and PostgreSQL: a run over 40 items whose body calls
 * the mock target keeps at most `concurrency` items in flight and collects the results in item
 * order; a body that does not validate is refused at publish with the JSON pointer into the
 * body; items that are not an array fail the run with an error naming the expression; and the
 * crash test: SIGKILL at a random point of a for_each over 200 items, restart, and every item is
 * done exactly once as a recorded success, the target saw one stable idempotency key per item
 * (repeats only with the same key), and `replay` verifies the run.
 *
 * The cache of run logs (src/runtime/logcache.c): two instances on one database advancing the
 * same loop alternately record the log one instance records, and a batch that rolls back leaves
 * nothing of what it decided in the cache.
 */
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include "core/mem.h"
#include "db/db.h"
#include "itest.h"
#include "mock_http.h"
#include "runtime/store.h"

#define CRASH_ITEMS 200

/* What the target saw: per item (its path /item/<k>), the requests and the keys they carried. */
struct seen {
    pthread_mutex_t mu;
    int hits[CRASH_ITEMS];
    char key[CRASH_ITEMS][64];
    int key_mismatches;
    int delay_ms;
};

static void target(void *ctx, const struct mh_mock_request *req, struct mh_mock_reply *rep)
{
    struct seen *s = ctx;
    int k = -1;
    if (sscanf(req->path, "/item/%d", &k) != 1 || k < 0 || k >= CRASH_ITEMS) {
        rep->status = 404;
        return;
    }
    char key[64] = "";
    const char *h = strcasestr(req->headers, "\nidempotency-key:");
    if (h != NULL && sscanf(h + 17, " %63[^\r\n]", key) != 1)
        key[0] = '\0';
    pthread_mutex_lock(&s->mu);
    s->hits[k]++;
    if (s->key[k][0] == '\0')
        snprintf(s->key[k], sizeof(s->key[k]), "%s", key);
    else if (strcmp(s->key[k], key) != 0)
        s->key_mismatches++;
    pthread_mutex_unlock(&s->mu);
    rep->status = 200;
    rep->delay_ms = s->delay_ms;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    snprintf(rep->body, sizeof(rep->body), "{\"item\": %d, \"len\": %zu}", k, req->body_len);
}

static long long scalar(const char *url, const char *sql, const char *param)
{
    const char *params[] = {param};
    json_t *rows = mh_it_sql(url, sql, param ? 1 : 0, param ? params : NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    long long n = json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

/* The loop workflow: for_each over trigger.body.ids, each item POSTs to <base>/item/<id>. */
static json_t *loop_def(const char *base, int concurrency, const char *items_expr)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/item/{{ item }}", base);
    return json_pack(
        "{s:[{s:s,s:s,s:{s:s}},{s:s,s:s,s:{s:s,s:i,s:i,s:s,s:{s:[{s:s,s:s,s:{s:s,s:s,s:{s:s},"
        "s:i,s:{s:i,s:i,s:i}}},{s:s,s:s,s:{s:s}}],s:[{s:s,s:s}]}}}],s:[{s:s,s:s}]}",
        "nodes", "id", "start", "type", "transform", "config", "expression", "trigger.body", "id",
        "loop", "type", "for_each", "config", "items", items_expr, "concurrency", concurrency,
        "max_items", 1000, "output", "{id: item, got: steps.seen.output}", "body", "nodes", "id",
        "call", "type", "http_call", "config", "method", "POST", "url", url, "body", "expression",
        "{id: item, index: index}", "timeout_ms", 5000, "retry", "max_attempts", 10,
        "base_delay_ms", 50, "max_delay_ms", 500, "id", "seen", "type", "transform", "config",
        "expression", "steps.call.output.body.item", "edges", "from", "call", "to", "seen", "edges",
        "from", "start", "to", "loop");
}

/* A loop whose body waits on a durable timer, one item at a time: every item's end is a job any
 * instance may claim. */
static json_t *timer_loop_def(void)
{
    return json_pack("{s:[{s:s,s:s,s:{s:s}},{s:s,s:s,s:{s:s,s:i,s:s,s:{s:[{s:s,s:s,s:{s:i}},"
                     "{s:s,s:s,s:{s:s}}],s:[{s:s,s:s}]}}}],s:[{s:s,s:s}]}",
                     "nodes", "id", "start", "type", "transform", "config", "expression",
                     "trigger.body", "id", "loop", "type", "for_each", "config", "items",
                     "steps.start.output.ids", "concurrency", 1, "output", "steps.seen.output",
                     "body", "nodes", "id", "wait", "type", "delay", "config", "duration_ms", 15,
                     "id", "seen", "type", "transform", "config", "expression", "item", "edges",
                     "from", "wait", "to", "seen", "edges", "from", "start", "to", "loop");
}

/* The run's log without its times and hashes: "seq type node attempt" per line (malloc'd). */
static char *log_shape(const char *url, const char *run_id)
{
    const char *p[] = {run_id};
    json_t *rows = mh_it_sql(url,
                             "SELECT coalesce(string_agg(seq || ' ' || type || ' ' || "
                             "coalesce(node_id, '-') || ' ' || coalesce(attempt, 0), E'\\n' "
                             "ORDER BY seq), '') AS s FROM events WHERE run_id = $1",
                             1, p, NULL);
    MH_T_ASSERT(rows != NULL);
    char *s = mh_xstrdup(json_string_value(json_object_get(json_array_get(rows, 0), "s")));
    json_decref(rows);
    return s;
}

/* How many lines of a server's log so far contain `needle`. */
static int log_count(const struct mh_it_server *s, const char *needle)
{
    char *log = mh_it_server_log(s);
    int n = 0;
    for (const char *p = log; p && (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    free(log);
    return n;
}

struct env {
    struct mh_it_db db;
    struct mh_it_server s;
    struct mh_mock *m;
    struct seen *seen;
    char bearer[128];
    char project[40];
    char base[128];
};

static void env_start(struct env *e, const char *const *args, int delay_ms)
{
    mh_it_db_create(&e->db, true);
    e->seen = mh_xcalloc(1, sizeof(*e->seen));
    pthread_mutex_init(&e->seen->mu, NULL);
    e->seen->delay_ms = delay_ms;
    e->m = mh_mock_start(target, e->seen);
    mh_it_server_start(&e->s, &e->db, args);
    char user[40];
    mh_it_user_token(&e->db, &e->s, "loop@example.com", e->bearer, user);
    mh_it_project(&e->s, e->bearer, "loop", e->project);
    snprintf(e->base, sizeof(e->base), "http://127.0.0.1:%d", mh_mock_port(e->m));
}

static void env_stop(struct env *e)
{
    MH_T_ASSERT_EQ(mh_it_server_stop(&e->s, SIGTERM), 0);
    mh_mock_stop(e->m);
    pthread_mutex_destroy(&e->seen->mu);
    free(e->seen);
}

/* Creates and publishes a workflow; *version_id gets the published version. Returns the
 * publish status (200/201, or 422 with *answer the error body when answer is not NULL). */
static long publish(struct env *e, json_t *def, char *wf, char *version_id, json_t **answer)
{
    json_t *req = json_pack("{s:s, s:o}", "name", "loop", "definition", def);
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *w = mh_it_api(&e->s, e->bearer, "POST", path, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(wf, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, wf);
    json_t *v = mh_it_api(&e->s, e->bearer, "POST", path, NULL, &st);
    if (answer != NULL)
        *answer = json_incref(v);
    json_decref(v);
    if (st != 200 && st != 201)
        return st;
    st = 200;
    const char *wp[] = {wf};
    json_t *vrow = mh_it_sql(e->db.admin_url,
                             "SELECT id FROM workflow_versions WHERE workflow_id = $1 AND state = "
                             "'published'",
                             1, wp, NULL);
    snprintf(version_id, 40, "%s",
             json_string_value(json_object_get(json_array_get(vrow, 0), "id")));
    json_decref(vrow);
    return st;
}

static void start_run(struct env *e, const char *wf, const char *version_id, json_t *body,
                      char *run_id)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(e->db.app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, NULL, e->project, &info), MH_OK);
    json_t *trigger = json_pack("{s:o, s:{}, s:{}, s:s}", "body", body, "headers", "query",
                                "received_at", "2026-01-01T00:00:00Z");
    struct mh_run_start rs = {.project_id = e->project,
                              .workflow_id = wf,
                              .version_id = version_id,
                              .version = 1,
                              .trigger = trigger};
    MH_T_ASSERT_EQ(mh_engine_run_create(c, &rs, run_id, &info), MH_OK);
    json_decref(trigger);
    MH_T_ASSERT_EQ(mh_db_commit(c, &info), MH_OK);
    mh_db_close(c);
}

static const char *wait_run(struct env *e, const char *run_id, int max_ms)
{
    static char status[32];
    for (int waited = 0; waited < max_ms; waited += 50) {
        const char *p[] = {run_id};
        json_t *rows =
            mh_it_sql(e->db.admin_url, "SELECT status FROM runs WHERE id = $1", 1, p, NULL);
        snprintf(status, sizeof(status), "%s",
                 json_string_value(json_object_get(json_array_get(rows, 0), "status")));
        json_decref(rows);
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0)
            return status;
        mh_it_sleep_ms(50);
    }
    return status;
}

static void assert_replays(struct env *e, const char *run_id)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *report = NULL;
    MH_T_ASSERT_EQ(mh_db_connect(e->db.admin_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_engine_run_replay(c, run_id, &report, &info), MH_OK);
    if (!json_is_true(json_object_get(report, "ok")))
        mh_t_fail(__FILE__, __LINE__, "run %s: %s", run_id, json_dumps(report, 0));
    json_decref(report);
    mh_db_close(c);
}

/* The servers of the log cache's cases: the engine's debug lines, and quick polls so that two
 * instances take turns. */
static const char *const timer_loop_args[] = {"--log-level", "info,engine=debug",
                                              "--poll-interval-ms", "10", NULL};

/* Starts the environment, publishes the timer loop and runs it over `items` items on one server:
 * the reference log (*one). Returns the items (new). */
static json_t *timer_loop_reference(struct env *e, int items, char *wf, char *version, char *one)
{
    env_start(e, timer_loop_args, 0);
    MH_T_ASSERT_EQ(publish(e, timer_loop_def(), wf, version, NULL), 200);
    json_t *ids = json_array();
    for (int k = 0; k < items; k++)
        json_array_append_new(ids, json_integer(k));
    start_run(e, wf, version, json_pack("{s:O}", "ids", ids), one);
    MH_T_ASSERT_STR_EQ(wait_run(e, one, 60000), "succeeded");
    return ids;
}

MH_TEST(for_each_over_forty_items_with_bounded_concurrency)
{
    struct env e;
    const char *args[] = {NULL};
    env_start(&e, args, 20);
    char wf[40], version[40], run_id[37];
    MH_T_ASSERT_EQ(publish(&e, loop_def(e.base, 4, "steps.start.output.ids"), wf, version, NULL),
                   200);
    json_t *ids = json_array();
    for (int k = 0; k < 40; k++)
        json_array_append_new(ids, json_integer(39 - k));
    start_run(&e, wf, version, json_pack("{s:o}", "ids", ids), run_id);
    MH_T_ASSERT_STR_EQ(wait_run(&e, run_id, 60000), "succeeded");

    /* Results in item order: item k called /item/<39-k>. */
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e.project, run_id);
    json_t *run = mh_it_api(&e.s, e.bearer, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *state = json_object_get(run, "state");
    json_t *out = json_object_get(json_object_get(state, "output"), "loop");
    MH_T_ASSERT_EQ(json_array_size(out), 40);
    for (int k = 0; k < 40; k++) {
        json_t *r = json_array_get(out, (size_t)k);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "id")), 39 - k);
        MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "got")), 39 - k);
    }
    /* The run detail shows the progress per item. */
    json_t *items =
        json_object_get(json_object_get(json_object_get(state, "steps"), "loop"), "items");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(items, "total")), 40);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(items, "succeeded")), 40);
    json_decref(run);

    /* Never more than 4 items in flight: walk the log's starts and successes of the calls. */
    const char *p[] = {run_id};
    json_t *evs = mh_it_sql(e.db.admin_url,
                            "SELECT type, node_id FROM events WHERE run_id = $1 AND node_id LIKE "
                            "'loop[%%].call' AND type IN ('step_started', 'step_succeeded') AND "
                            "(type = 'step_succeeded' OR attempt = 1) ORDER BY seq",
                            1, p, NULL);
    int in_flight = 0, max_in_flight = 0, successes = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev)
    {
        bool started = strcmp(json_string_value(json_object_get(ev, "type")), "step_started") == 0;
        in_flight += started ? 1 : -1;
        successes += !started;
        if (in_flight > max_in_flight)
            max_in_flight = in_flight;
    }
    json_decref(evs);
    MH_T_ASSERT_EQ(successes, 40);
    MH_T_ASSERT(max_in_flight <= 4);
    /* With 20 ms per call the four slots were used. */
    MH_T_ASSERT(max_in_flight >= 2);
    assert_replays(&e, run_id);

    /* Items that are not an array: the run fails, naming the expression. */
    char wf2[40], version2[40], run2[37];
    MH_T_ASSERT_EQ(publish(&e, loop_def(e.base, 2, "steps.start.output.name"), wf2, version2, NULL),
                   200);
    start_run(&e, wf2, version2, json_pack("{s:s}", "name", "not a list"), run2);
    MH_T_ASSERT_STR_EQ(wait_run(&e, run2, 30000), "failed");
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e.project, run2);
    run = mh_it_api(&e.s, e.bearer, "GET", path, NULL, &st);
    json_t *err = json_object_get(json_object_get(run, "state"), "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "node")), "loop");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_object_get(err, "step_error"), "message")),
        "items expression \"steps.start.output.name\" gave a string, not an array");
    json_decref(run);

    /* A body that does not validate is refused at publish, pointing into the body. */
    json_t *bad = loop_def(e.base, 2, "steps.start.output.ids");
    json_t *body_nodes = json_object_get(
        json_object_get(json_object_get(json_array_get(json_object_get(bad, "nodes"), 1), "config"),
                        "body"),
        "nodes");
    json_object_set_new(json_object_get(json_array_get(body_nodes, 1), "config"), "expression",
                        json_string("steps.call.["));
    json_t *answer = NULL;
    char wf3[40], version3[40];
    MH_T_ASSERT_EQ(publish(&e, bad, wf3, version3, &answer), 422);
    char *text = json_dumps(answer, 0);
    if (strstr(text, "/nodes/1/config/body/nodes/1/config/expression") == NULL)
        mh_t_fail(__FILE__, __LINE__, "publish answer lacks the body pointer: %s", text);
    free(text);
    json_decref(answer);
    env_stop(&e);
}

MH_TEST(for_each_over_two_hundred_items_survives_sigkill)
{
    struct env e;
    const char *args[] = {"--job-lease-ms", "1500", NULL};
    env_start(&e, args, 5);
    char wf[40], version[40], run_id[37];
    MH_T_ASSERT_EQ(publish(&e, loop_def(e.base, 8, "steps.start.output.ids"), wf, version, NULL),
                   200);
    json_t *ids = json_array();
    for (int k = 0; k < CRASH_ITEMS; k++)
        json_array_append_new(ids, json_integer(k));
    start_run(&e, wf, version, json_pack("{s:o}", "ids", ids), run_id);

    /* Kill at a random point of the loop: once some items are done and others are not. */
    unsigned seed = (unsigned)time(NULL);
    int kill_after = 10 + (int)(seed % 150);
    fprintf(stderr, "killing after %d items (seed %u)\n", kill_after, seed);
    const char *succ_sql = "SELECT count(*) AS n FROM events WHERE run_id = $1 AND type = "
                           "'step_succeeded' AND node_id LIKE 'loop[%%].seen'";
    for (int waited = 0; waited < 60000; waited += 5) {
        if (scalar(e.db.admin_url, succ_sql, run_id) >= kill_after)
            break;
        mh_it_sleep_ms(5);
    }
    long long done_at_kill = scalar(e.db.admin_url, succ_sql, run_id);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    int hits_at_kill[CRASH_ITEMS], repeats_before = 0, items_hit_before = 0;
    pthread_mutex_lock(&e.seen->mu);
    memcpy(hits_at_kill, e.seen->hits, sizeof(hits_at_kill));
    pthread_mutex_unlock(&e.seen->mu);
    for (int k = 0; k < CRASH_ITEMS; k++) {
        repeats_before += hits_at_kill[k] > 1 ? hits_at_kill[k] - 1 : 0;
        items_hit_before += hits_at_kill[k] > 0;
    }
    fprintf(stderr, "at kill: %lld items recorded, %d items called, %d repeated calls\n",
            done_at_kill, items_hit_before, repeats_before);
    MH_T_ASSERT(done_at_kill < CRASH_ITEMS);
    mh_it_server_start(&e.s, &e.db, args);
    MH_T_ASSERT_STR_EQ(wait_run(&e, run_id, 120000), "succeeded");

    /* Every item's call succeeded exactly once in the log, and no other step twice. */
    const char *p[] = {run_id};
    MH_T_ASSERT_EQ(scalar(e.db.admin_url,
                          "SELECT count(*) AS n FROM events WHERE run_id = $1 AND type = "
                          "'step_succeeded' AND node_id LIKE 'loop[%%].call'",
                          run_id),
                   CRASH_ITEMS);
    MH_T_ASSERT_EQ(scalar(e.db.admin_url,
                          "SELECT count(*) AS n FROM (SELECT node_id FROM events WHERE run_id = "
                          "$1 AND type = 'step_succeeded' GROUP BY 1 HAVING count(*) > 1) d",
                          run_id),
                   0);
    /* The target saw every item, each with one key: the one the item's step recorded. */
    json_t *keys = mh_it_sql(e.db.admin_url,
                             "SELECT node_id, payload->>'idempotency_key' AS key FROM events "
                             "WHERE run_id = $1 AND type = 'step_started' AND attempt = 1 AND "
                             "node_id LIKE 'loop[%%].call'",
                             1, p, NULL);
    MH_T_ASSERT_EQ(json_array_size(keys), CRASH_ITEMS);
    pthread_mutex_lock(&e.seen->mu);
    MH_T_ASSERT_EQ(e.seen->key_mismatches, 0);
    size_t i;
    json_t *row;
    json_array_foreach(keys, i, row)
    {
        int k = -1;
        MH_T_ASSERT_EQ(
            sscanf(json_string_value(json_object_get(row, "node_id")), "loop[%d].call", &k), 1);
        MH_T_ASSERT(k >= 0 && k < CRASH_ITEMS);
        MH_T_ASSERT(e.seen->hits[k] >= 1);
        MH_T_ASSERT_STR_EQ(e.seen->key[k], json_string_value(json_object_get(row, "key")));
    }
    int repeats = 0;
    for (int k = 0; k < CRASH_ITEMS; k++)
        repeats += e.seen->hits[k] - 1;
    pthread_mutex_unlock(&e.seen->mu);
    fprintf(stderr, "done at kill: %lld, repeated calls: %d\n", done_at_kill, repeats);
    json_decref(keys);
    {
        char *log = mh_it_server_log(&e.s);
        int shown = 0;
        for (char *ln = log; ln && *ln && shown < 40;) {
            char *nl = strchr(ln, '\n');
            if (nl)
                *nl = '\0';
            if (strstr(ln, "warn") || strstr(ln, "error")) {
                fprintf(stderr, "LOG %.300s\n", ln);
                shown++;
            }
            ln = nl ? nl + 1 : NULL;
        }
        free(log);
    }
    /* Resumed, not restarted: the items done before the kill were not called again. */
    MH_T_ASSERT(repeats <= 8);
    assert_replays(&e, run_id);
    /* `meshhook replay` verifies it too. */
    const char *rargs[] = {"replay", run_id, NULL};
    char *output = NULL;
    int rc = mh_it_run(&e.db, rargs, &output);
    if (rc != 0)
        mh_t_fail(__FILE__, __LINE__, "meshhook replay exited %d: %s", rc, output);
    free(output);
    env_stop(&e);
}

MH_TEST(for_each_advanced_by_two_instances_alternately_records_one_log)
{
    struct env e;
    char wf[40], version[40], one[37], two[37];
    /* One instance: the reference log. */
    json_t *ids = timer_loop_reference(&e, 30, wf, version, one);
    /* Two: every item's timer is claimed by whichever polls first, so the run moves from one
     * instance to the other and back, each holding its own cached log of it. */
    struct mh_it_server s2;
    mh_it_server_start(&s2, &e.db, timer_loop_args);
    start_run(&e, wf, version, json_pack("{s:O}", "ids", ids), two);
    json_decref(ids);
    MH_T_ASSERT_STR_EQ(wait_run(&e, two, 60000), "succeeded");
    char *a = log_shape(e.db.admin_url, one), *b = log_shape(e.db.admin_url, two);
    MH_T_ASSERT(strlen(a) > 30 * 4 * 10);
    MH_T_ASSERT_STR_EQ(b, a);
    free(a);
    free(b);
    /* Both advanced it, and found the other's events after what they held. */
    int ext1 = log_count(&e.s, "extended by"), ext2 = log_count(&s2, "extended by");
    fprintf(stderr, "cache extended from the other instance's events: %d and %d times\n", ext1,
            ext2);
    MH_T_ASSERT(ext1 > 0 && ext2 > 0);
    MH_T_ASSERT_EQ(log_count(&e.s, "advance failed") + log_count(&s2, "advance failed"), 0);
    assert_replays(&e, two);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s2, SIGTERM), 0);
    env_stop(&e);
}

MH_TEST(a_batch_that_rolls_back_leaves_nothing_in_the_log_cache)
{
    struct env e;
    char wf[40], version[40], one[37], two[37];
    json_t *ids = timer_loop_reference(&e, 12, wf, version, one);

    /* Inserting the fifth item's timer_fired fails while the switch is on: that batch rolls
     * back after the worker decided it (and the next steps), and is retried later. */
    mh_it_sql_script(
        e.db.admin_url,
        "CREATE TABLE it_refuse (on_ bool); "
        "CREATE FUNCTION it_refuse_fn() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ "
        "BEGIN IF NEW.type = 'timer_fired' AND NEW.node_id = 'loop[4].wait' AND EXISTS (SELECT "
        "1 FROM it_refuse) THEN RAISE EXCEPTION 'it: refused'; END IF; RETURN NEW; END $$; "
        "CREATE TRIGGER it_refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION "
        "it_refuse_fn(); INSERT INTO it_refuse VALUES (true)");
    start_run(&e, wf, version, json_pack("{s:O}", "ids", ids), two);
    json_decref(ids);
    for (int waited = 0; waited < 30000 && log_count(&e.s, "it: refused") == 0; waited += 20)
        mh_it_sleep_ms(20);
    MH_T_ASSERT(log_count(&e.s, "it: refused") > 0);
    mh_it_sql_script(e.db.admin_url, "DELETE FROM it_refuse");
    MH_T_ASSERT_STR_EQ(wait_run(&e, two, 60000), "succeeded");
    char *a = log_shape(e.db.admin_url, one), *b = log_shape(e.db.admin_url, two);
    MH_T_ASSERT_STR_EQ(b, a);
    free(a);
    free(b);
    /* What the failed batch decided was never held as the run's log: the retry did not find a
     * cached log that disagrees with the stored one. */
    MH_T_ASSERT_EQ(log_count(&e.s, "does not match"), 0);
    assert_replays(&e, two);
    env_stop(&e);
}
