/* SPDX-License-Identifier: MIT */
/*
 * Schedules against the real server and PostgreSQL: bad expressions and zones refused at
 * publish with the field's path, the preview of the next fire times, two servers on one
 * database firing every tick exactly once (also while one of them is SIGKILLed again and
 * again), catch-up after downtime (skip, or run the newest max_catch_up), and archiving.
 * Ticks come every second or two through the test-only seconds field
 * (--schedule-allow-seconds).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"

struct world {
    struct mh_it_db db;
    struct mh_it_server a, b;
    char bearer[256];
    char user[40];
    char project[40];
};

static const char *const server_args[] = {
    "--schedule-allow-seconds", "--schedule-poll-ms", "100", "--poll-interval-ms", "200", NULL};

static void world_start(struct world *w)
{
    memset(w, 0, sizeof(*w));
    mh_it_db_create(&w->db, true);
    mh_it_server_start(&w->a, &w->db, server_args);
    mh_it_user_token(&w->db, &w->a, "sched@example.com", w->bearer, w->user);
    mh_it_project(&w->a, w->bearer, "sched", w->project);
}

static json_t *api(struct world *w, const char *method, const char *sub, const char *body,
                   long *status)
{
    char path[512];
    snprintf(path, sizeof(path), "/api/projects/%s%s", w->project, sub);
    return mh_it_api(&w->a, w->bearer, method, path, body, status);
}

/* A one-node workflow (its output echoes the trigger) with `schedules` (JSON); creates and
 * publishes it, returning the publish status; `id` receives its id. */
static long workflow(struct world *w, const char *schedules, char *id, json_t **publish_body)
{
    static int count;
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"name\": \"nightly %d\", \"definition\": {\"nodes\": [{\"id\": \"echo\", \"type\": "
             "\"transform\", \"config\": {\"expression\": \"trigger.body\"}}], \"edges\": [], "
             "\"schedules\": %s}}",
             ++count, schedules);
    long st = 0;
    json_t *r = api(w, "POST", "/workflows", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(r, "id")));
    json_decref(r);
    char sub[128];
    snprintf(sub, sizeof(sub), "/workflows/%s/publish", id);
    r = api(w, "POST", sub, NULL, &st);
    if (publish_body)
        *publish_body = r;
    else
        json_decref(r);
    return st;
}

static long long scalar(struct world *w, const char *sql, const char *param)
{
    const char *params[] = {param};
    json_t *rows = mh_it_sql(w->db.admin_url, sql, param ? 1 : 0, params, NULL);
    MH_T_ASSERT(rows != NULL);
    json_t *v = json_object_get(json_array_get(rows, 0), "n");
    long long n = json_is_integer(v) ? json_integer_value(v) : atoll(json_string_value(v));
    json_decref(rows);
    return n;
}

/* Every tick of workflow `wid`'s schedule between its first and last recorded tick was fired
 * exactly once, by exactly one run, whose trigger names the tick; `step_s` apart. Returns the
 * number of ticks. */
static long long check_ticks_once(struct world *w, const char *wid, int step_s)
{
    long long ticks = scalar(w,
                             "SELECT count(*) AS n FROM schedule_ticks t JOIN schedules s ON s.id "
                             "= t.schedule_id WHERE s.workflow_id = $1",
                             wid);
    long long span = scalar(w,
                            "SELECT (extract(epoch FROM max(t.tick_at) - min(t.tick_at)))::bigint "
                            "AS n FROM schedule_ticks t JOIN schedules s ON s.id = t.schedule_id "
                            "WHERE s.workflow_id = $1",
                            wid);
    long long runs = scalar(w, "SELECT count(*) AS n FROM runs WHERE workflow_id = $1", wid);
    long long distinct = scalar(
        w,
        "SELECT count(DISTINCT e.payload->'trigger'->'body'->>'scheduled_at') AS n FROM events e "
        "JOIN runs r ON r.id = e.run_id WHERE r.workflow_id = $1 AND e.seq = 1",
        wid);
    long long unmatched = scalar(w,
                                 "SELECT count(*) AS n FROM schedule_ticks t JOIN schedules s ON "
                                 "s.id = t.schedule_id LEFT JOIN runs r ON r.id = t.run_id WHERE "
                                 "s.workflow_id = $1 AND r.id IS NULL",
                                 wid);
    if (ticks < 2 || span / step_s + 1 != ticks || runs != ticks || distinct != ticks ||
        unmatched != 0)
        mh_t_fail(__FILE__, __LINE__,
                  "ticks %lld over %lld s (every %d s), runs %lld, distinct ticks in triggers "
                  "%lld, ticks without their run %lld",
                  ticks, span, step_s, runs, distinct, unmatched);
    return ticks;
}

MH_TEST(bad_expressions_and_zones_are_refused_at_publish_with_the_path)
{
    struct world w;
    world_start(&w);
    char id[40];
    json_t *r = NULL;
    MH_T_ASSERT_EQ(workflow(&w, "[{\"cron\": \"0 25 * * *\", \"timezone\": \"UTC\"}]", id, &r),
                   422);
    json_t *err = json_object_get(r, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "path")), "/schedules/0/cron");
    json_t *first = json_array_get(json_object_get(err, "errors"), 0);
    MH_T_ASSERT(strstr(json_string_value(json_object_get(first, "message")),
                       "hour field at offset 2: 25 is out of range 0-23") != NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(first, "offset")), 2);
    json_decref(r);
    MH_T_ASSERT_EQ(
        workflow(&w, "[{\"cron\": \"@daily\", \"timezone\": \"Europe/Atlantis\"}]", id, &r), 422);
    err = json_object_get(r, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "path")), "/schedules/0/timezone");
    json_decref(r);
    /* The draft's validation shows the same before publishing. */
    char sub[128];
    long st = 0;
    snprintf(sub, sizeof(sub), "/workflows/%s/validate", id);
    r = api(&w, "POST", sub, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(r, "valid")));
    json_decref(r);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM schedules", NULL), 0);

    /* The preview: the next five fire times, local and UTC; errors name the field. */
    r = mh_it_api(&w.a, w.bearer, "POST", "/api/schedules/preview",
                  "{\"cron\": \"30 2 * * *\", \"timezone\": \"Europe/Berlin\", \"after\": "
                  "\"2026-03-28T12:00:00Z\"}",
                  &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *times = json_object_get(r, "times");
    MH_T_ASSERT_EQ(json_array_size(times), 5);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(times, 0), "at")),
                       "2026-03-29T01:00:00Z");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(times, 0), "local")),
                       "2026-03-29T03:00:00+02:00");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(times, 1), "local")),
                       "2026-03-30T02:30:00+02:00");
    json_decref(r);
    r = mh_it_api(&w.a, w.bearer, "POST", "/api/schedules/preview",
                  "{\"cron\": \"* * * jan-foo *\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    err = json_object_get(r, "error");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(err, "path")), "/cron");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(err, "offset")), 10);
    json_decref(r);
    r = mh_it_api(&w.a, w.bearer, "POST", "/api/schedules/preview",
                  "{\"cron\": \"@hourly\", \"timezone\": \"../../etc/passwd\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(r, "error"), "path")),
                       "/timezone");
    json_decref(r);
    r = mh_it_api(&w.a, w.bearer, "POST", "/api/schedules/preview", "{\"timezone\": \"UTC\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    json_decref(r);
    mh_it_server_stop(&w.a, SIGTERM);
}

MH_TEST(two_servers_fire_every_tick_once_even_when_one_is_killed)
{
    struct world w;
    world_start(&w);
    mh_it_server_start(&w.b, &w.db, server_args);
    char id[40];
    MH_T_ASSERT_EQ(workflow(&w,
                            "[{\"cron\": \"* * * * * *\", \"timezone\": \"Europe/Berlin\", "
                            "\"catch_up\": \"run\", \"max_catch_up\": 50}]",
                            id, NULL),
                   201);
    /* The list shows it with its next fire time. */
    long st = 0;
    json_t *r = api(&w, "GET", "/schedules", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *item = json_array_get(json_object_get(r, "items"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(item, "workflow_id")), id);
    MH_T_ASSERT(json_is_string(json_object_get(item, "next_fire_at")));
    MH_T_ASSERT(json_is_false(json_object_get(item, "is_paused")));
    json_decref(r);
    /* Both serve for a while, then each is killed in turn, mid-work, and restarted. */
    mh_it_sleep_ms(3000);
    for (int round = 0; round < 4; round++) {
        struct mh_it_server *victim = round % 2 ? &w.b : &w.a;
        mh_it_sleep_ms(700 + 300 * round);
        MH_T_ASSERT_EQ(mh_it_server_stop(victim, SIGKILL), 128 + SIGKILL);
        mh_it_server_start(victim, &w.db, server_args);
    }
    mh_it_sleep_ms(1500);
    mh_it_server_stop(&w.b, SIGTERM);
    mh_it_server_stop(&w.a, SIGTERM);
    long long ticks = check_ticks_once(&w, id, 1);
    MH_T_ASSERT(ticks >= 8);
    /* No tick was skipped: the catch-up policy ran any a crash delayed. */
    MH_T_ASSERT_EQ(scalar(&w, "SELECT skipped_ticks AS n FROM schedules", NULL), 0);
}

MH_TEST(runs_of_a_schedule_carry_the_tick_and_succeed)
{
    struct world w;
    world_start(&w);
    char id[40];
    MH_T_ASSERT_EQ(
        workflow(&w, "[{\"cron\": \"*/2 * * * * *\", \"name\": \"every two\"}]", id, NULL), 201);
    long long n = 0;
    for (int i = 0; i < 100 && n < 2; i++) {
        mh_it_sleep_ms(100);
        n = scalar(&w, "SELECT count(*) AS n FROM runs WHERE status = 'succeeded'", NULL);
    }
    MH_T_ASSERT(n >= 2);
    const char *params[] = {id};
    json_t *rows = mh_it_sql(
        w.db.admin_url,
        "SELECT e.payload->'trigger'->'body' AS body, s.id AS schedule_id, r.id AS run_id, "
        "to_char(t.tick_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS."
        "MS\"Z\"') AS tick FROM runs r JOIN schedule_ticks t ON t.run_id = "
        "r.id JOIN schedules s ON s.id = t.schedule_id JOIN events e ON "
        "e.run_id = r.id AND e.seq = 1 WHERE r.workflow_id = $1 AND "
        "r.status = 'succeeded' ORDER BY t.tick_at LIMIT 1",
        1, params, NULL);
    json_t *row = json_array_get(rows, 0);
    json_t *out = json_object_get(row, "body");
    if (json_is_string(out))
        out = json_loads(json_string_value(out), 0, NULL);
    else
        json_incref(out);
    json_t *body = out;
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(body, "schedule_id")),
                       json_string_value(json_object_get(row, "schedule_id")));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(body, "name")), "every two");
    MH_T_ASSERT(json_is_false(json_object_get(body, "is_late")));
    const char *at = json_string_value(json_object_get(body, "scheduled_at"));
    MH_T_ASSERT_STR_EQ(at, json_string_value(json_object_get(row, "tick")));
    /* Even seconds only. */
    MH_T_ASSERT((at[18] - '0') % 2 == 0);
    MH_T_ASSERT(json_is_string(json_object_get(body, "fired_at")));
    /* The run replays exactly: its trigger is in its log like a webhook's. */
    const char *replay[] = {"replay", json_string_value(json_object_get(row, "run_id")), NULL};
    char *replay_out = NULL;
    int replay_rc = mh_it_run(&w.db, replay, &replay_out);
    if (replay_rc != 0)
        mh_t_fail(__FILE__, __LINE__, "meshhook replay exited %d: %s", replay_rc,
                  replay_out ? replay_out : "");
    free(replay_out);
    /* The runs list says which schedule started a run (the web app labels it so); a run
     * started through the API names none. */
    long st = 0;
    char other[40], sub[160];
    MH_T_ASSERT_EQ(workflow(&w, "[]", other, NULL), 201);
    snprintf(sub, sizeof(sub), "/workflows/%s/runs", other);
    json_t *started = api(&w, "POST", sub, "{\"payload\": {}}", &st);
    MH_T_ASSERT_EQ(st, 202);
    json_t *list = api(&w, "GET", "/runs?limit=100", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    size_t i, by_schedule = 0, by_api = 0;
    json_t *item;
    json_array_foreach(json_object_get(list, "items"), i, item)
    {
        json_t *sid = json_object_get(item, "schedule_id");
        MH_T_ASSERT(sid != NULL);
        if (strcmp(json_string_value(json_object_get(item, "id")),
                   json_string_value(json_object_get(started, "run_id"))) == 0) {
            MH_T_ASSERT(json_is_null(sid));
            by_api++;
        } else {
            MH_T_ASSERT_STR_EQ(json_string_value(sid),
                               json_string_value(json_object_get(row, "schedule_id")));
            by_schedule++;
        }
    }
    MH_T_ASSERT_EQ(by_api, 1);
    MH_T_ASSERT(by_schedule >= 2);
    json_decref(list);
    json_decref(started);
    json_decref(out);
    json_decref(rows);
    mh_it_server_stop(&w.a, SIGTERM);
    check_ticks_once(&w, id, 2);
}

MH_TEST(catch_up_after_downtime_skips_or_runs_the_newest_missed_ticks)
{
    struct world w;
    world_start(&w);
    char id[40];
    MH_T_ASSERT_EQ(workflow(&w,
                            "[{\"cron\": \"0 0 1 1 *\", \"catch_up\": \"run\", "
                            "\"max_catch_up\": 3}, {\"cron\": \"0 0 1 1 *\"}]",
                            id, NULL),
                   201);
    mh_it_server_stop(&w.a, SIGTERM);
    /* Down since ten years ago: ten missed yearly ticks for each. */
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE schedules SET next_fire_at = date_trunc('year', now() - interval "
                     "'10 years') + interval '1 year'");
    mh_it_server_start(&w.a, &w.db, server_args);
    long long n = 0;
    for (int i = 0; i < 100 && n < 3; i++) {
        mh_it_sleep_ms(100);
        n = scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL);
    }
    mh_it_sleep_ms(500);
    if (n < 3) {
        char *log = mh_it_server_log(&w.a);
        fprintf(stderr, "%s\n", log);
        free(log);
    }
    mh_it_server_stop(&w.a, SIGTERM);
    /* "run", max 3: the three newest missed ticks (the last three Januaries), the older seven
     * skipped; "skip": none started, all ten skipped. Both now wait for next January. */
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM schedule_ticks t JOIN schedules s ON s.id = "
                          "t.schedule_id WHERE s.position = 0 AND t.tick_at >= date_trunc('year', "
                          "now()) - interval '2 years'",
                          NULL),
                   3);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL), 3);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT skipped_ticks AS n FROM schedules WHERE position = 0", NULL),
                   7);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT skipped_ticks AS n FROM schedules WHERE position = 1", NULL),
                   10);
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM schedules WHERE next_fire_at = "
                          "date_trunc('year', now()) + interval '1 year'",
                          NULL),
                   2);
    /* The late runs say so. */
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM events WHERE seq = 1 AND "
                          "payload->'trigger'->'body'->>'is_late' = 'true'",
                          NULL),
                   3);
}

MH_TEST(archiving_stops_a_schedule_and_restoring_starts_it_from_now)
{
    struct world w;
    world_start(&w);
    char id[40];
    MH_T_ASSERT_EQ(workflow(&w, "[{\"cron\": \"* * * * * *\", \"catch_up\": \"run\"}]", id, NULL),
                   201);
    long long n = 0;
    for (int i = 0; i < 100 && n < 1; i++) {
        mh_it_sleep_ms(100);
        n = scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL);
    }
    MH_T_ASSERT(n >= 1);
    char sub[128];
    long st = 0;
    snprintf(sub, sizeof(sub), "/workflows/%s/archive", id);
    json_decref(api(&w, "POST", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    long long at_archive = scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL);
    mh_it_sleep_ms(2500);
    MH_T_ASSERT_EQ(scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL), at_archive);
    snprintf(sub, sizeof(sub), "/workflows/%s/unarchive", id);
    json_decref(api(&w, "POST", sub, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);
    for (int i = 0; i < 100 && n <= at_archive; i++) {
        mh_it_sleep_ms(100);
        n = scalar(&w, "SELECT count(*) AS n FROM schedule_ticks", NULL);
    }
    mh_it_server_stop(&w.a, SIGTERM);
    /* The archived seconds were not caught up: restoring starts from the time of the restore. */
    MH_T_ASSERT_EQ(scalar(&w,
                          "SELECT count(*) AS n FROM schedule_ticks t WHERE EXISTS (SELECT 1 FROM "
                          "events e WHERE e.run_id = t.run_id AND e.seq = 1 AND "
                          "e.payload->'trigger'->'body'->>'is_late' = 'true')",
                          NULL),
                   0);
    MH_T_ASSERT(n > at_archive);
}
