/* SPDX-License-Identifier: MIT */
/*
 * The for_each node in memory: items per second the decision function gets through for a
 * for_each over ITEMS items, with a pure body (two transforms per item, the whole loop decided
 * in one advance) and with an http_call body (each item's call started, then every response
 * reported at once and the loop finished: three advances over a growing log, as a worker would
 * with every call answered in one batch). No database and no network: this is the engine's own
 * cost per item, the part for_each adds; bench/engine/run.sh measures runs end to end.
 *
 *   foreach [ITEMS]    (default 1000; 5 rounds, the best one printed)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/engine.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng(void *ctx)
{
    (void)ctx;
    return 42;
}

/* The log: the run's events so far (owned copies). */
struct log {
    struct mh_event *ev;
    size_t n;
};

static void log_take(struct log *l, struct mh_engine_result *r)
{
    l->ev = realloc(l->ev, (l->n + r->n_events) * sizeof(*l->ev));
    for (size_t i = 0; i < r->n_events; i++) {
        l->ev[l->n++] = r->events[i];
        memset(&r->events[i], 0, sizeof(r->events[i]));
    }
}

static void log_free(struct log *l)
{
    for (size_t i = 0; i < l->n; i++)
        mh_engine_event_cleanup(&l->ev[i]);
    free(l->ev);
}

static struct mh_wf *compile(const char *text)
{
    json_t *def = json_loads(text, 0, NULL), *errors = NULL;
    struct mh_wf *wf = NULL;
    if (def == NULL || mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        fprintf(stderr, "foreach: the workflow does not compile\n");
        exit(1);
    }
    json_decref(errors);
    json_decref(def);
    return wf;
}

/* One run; returns its time in seconds. */
static double one_run(const struct mh_wf *wf, json_t *trigger, long items, bool http)
{
    struct log l = {0};
    struct mh_event ev;
    struct mh_engine_result res = {0};
    struct mh_engine_input in = {.now_ms = 1001, .random = rng};
    double t0 = now_s();
    if (mh_engine_event_run_started("0190e4c2-0000-7000-8000-000000000001", "wf", 1, false, trigger,
                                    NULL, 1000, &ev, NULL) != MH_OK ||
        mh_engine_event_seal(&ev, 1, NULL) != MH_OK)
        exit(1);
    l.ev = malloc(sizeof(*l.ev));
    l.ev[l.n++] = ev;
    if (mh_engine_advance(wf, l.ev, l.n, &in, &res, NULL) != MH_OK)
        exit(1);
    log_take(&l, &res);
    if (http) {
        /* Every started call answered in one batch of reports, then the loop finishes. */
        size_t n = res.n_actions;
        struct mh_event *reps = calloc(n + 1, sizeof(*reps));
        json_t *h = json_pack("{s:s}", "content-type", "application/json");
        for (size_t i = 0; i < n; i++) {
            struct mh_engine_http_outcome o = {
                .status = 200, .headers = h, .body = "{\"ok\": true}", .body_len = 12};
            if (mh_engine_event_http_result(res.actions[i].node_id, 1, NULL, &o, 1002, &reps[i]) !=
                MH_OK)
                exit(1);
        }
        json_decref(h);
        mh_engine_result_cleanup(&res);
        in.now_ms = 1002;
        in.reports = reps;
        in.n_reports = n;
        if (mh_engine_advance(wf, l.ev, l.n, &in, &res, NULL) != MH_OK)
            exit(1);
        log_take(&l, &res);
        for (size_t i = 0; i < n; i++)
            mh_engine_event_cleanup(&reps[i]);
        free(reps);
    }
    double t = now_s() - t0;
    if (res.status != MH_RUN_SUCCEEDED) {
        fprintf(stderr, "foreach: the run did not succeed (%ld items)\n", items);
        exit(1);
    }
    mh_engine_result_cleanup(&res);
    log_free(&l);
    return t;
}

int main(int argc, char **argv)
{
    long items = argc > 1 ? strtol(argv[1], NULL, 10) : 1000;
    if (items <= 0 || items > MH_ENGINE_MAX_ITEMS) {
        fprintf(stderr, "foreach: ITEMS is 1..%d\n", MH_ENGINE_MAX_ITEMS);
        return 1;
    }
    char pure[1024], http[1024];
    snprintf(pure, sizeof(pure),
             "{\"nodes\": [{\"id\": \"loop\", \"type\": \"for_each\", \"config\": {\"items\": "
             "\"trigger.body.lines\", \"max_items\": %ld, \"body\": {\"nodes\": [{\"id\": "
             "\"line\", \"type\": \"transform\", \"config\": {\"expression\": \"{sku: item.sku, "
             "qty: item.qty, i: index}\"}}, {\"id\": \"total\", \"type\": \"transform\", "
             "\"config\": {\"expression\": \"sum([steps.line.output.qty, `1`])\"}}], \"edges\": "
             "[{\"from\": \"line\", \"to\": \"total\"}]}}}]}",
             items);
    /* Concurrency covers every item: all calls start in the first advance. */
    snprintf(http, sizeof(http),
             "{\"nodes\": [{\"id\": \"loop\", \"type\": \"for_each\", \"config\": {\"items\": "
             "\"trigger.body.lines\", \"max_items\": %ld, \"concurrency\": 100, \"body\": "
             "{\"nodes\": [{\"id\": \"call\", \"type\": \"http_call\", \"config\": {\"url\": "
             "\"http://127.0.0.1:9/items/{{ item.sku }}\", \"body\": {\"expression\": "
             "\"item\"}}}]}}}]}",
             items);
    struct mh_wf *wp = compile(pure), *wh = compile(http);
    json_t *lines = json_array();
    for (long i = 0; i < items; i++)
        json_array_append_new(lines, json_pack("{s:s%,s:I}", "sku", "sku-00000000", (size_t)12,
                                               "qty", (json_int_t)(i % 7)));
    json_t *trigger = json_pack("{s:{s:o}}", "body", "lines", lines);
    /* At most 100 calls in flight: the http run is measured over its first 100 items. */
    long http_items = items < 100 ? items : 100;
    json_t *htrigger = json_pack("{s:{s:o}}", "body", "lines", json_array());
    json_t *hl = json_object_get(json_object_get(htrigger, "body"), "lines");
    for (long i = 0; i < http_items; i++)
        json_array_append(hl, json_array_get(lines, (size_t)i));
    double best_pure = 0, best_http = 0;
    for (int round = 0; round < 5; round++) {
        double t = one_run(wp, trigger, items, false);
        if (round == 0 || t < best_pure)
            best_pure = t;
        t = one_run(wh, htrigger, http_items, true);
        if (round == 0 || t < best_http)
            best_http = t;
    }
    printf("for_each in memory: pure body (2 transforms): %ld items, %.0f items/s; http_call body: "
           "%ld items, %.0f items/s (engine only, no network)\n",
           items, (double)items / best_pure, http_items, (double)http_items / best_http);
    json_decref(trigger);
    json_decref(htrigger);
    mh_engine_wf_unref(wp);
    mh_engine_wf_unref(wh);
    return 0;
}
