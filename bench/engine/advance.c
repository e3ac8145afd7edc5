/* SPDX-License-Identifier: MIT */
/*
 * The pure engine alone: the 4-node pure workflow of bench_engine.c (transform -> branch ->
 * transform -> terminate) advanced in memory from its run_started event to the run's end, N
 * times a round, 5 rounds; prints the best round's time per run. No database, no threads: it
 * measures what mh_engine_advance costs per run (fold, decisions, sealing the events), the part
 * a change to the decision function or the node type table moves. On a shared machine, compare
 * instruction counts under callgrind rather than times (docs/BENCHMARKS.md, "Node type tables").
 *
 *   advance [RUNS]    (default 10000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/engine.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    json_t *def = json_pack(
        "{s:[{s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}, {s:s, s:s, s:{s:s}}], "
        "s:[{s:s, s:s}, {s:s, s:s, s:s}, {s:s, s:s}]}",
        "nodes", "id", "prep", "type", "transform", "config", "expression",
        "{order: trigger.body.order, amount: trigger.body.amount}", "id", "check", "type", "branch",
        "config", "condition", "steps.prep.output.amount > `10`", "id", "shape", "type",
        "transform", "config", "expression", "{order: steps.prep.output.order, big: `true`}", "id",
        "end", "type", "terminate", "config", "output", "steps.shape.output", "edges", "from",
        "prep", "to", "check", "from", "check", "to", "shape", "port", "true", "from", "shape",
        "to", "end");
    struct mh_wf *wf = NULL;
    json_t *errors = NULL;
    if (n <= 0 || mh_engine_wf_compile(def, &wf, &errors) != MH_OK) {
        fprintf(stderr, "advance: bad run count or workflow\n");
        return 1;
    }
    json_t *trigger = json_pack("{s:{s:i,s:i}}", "body", "order", 1, "amount", 150);
    double best = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
            struct mh_event ev;
            struct mh_engine_input in = {.now_ms = 1001};
            struct mh_engine_result res = {0};
            if (mh_engine_event_run_started("0190e4c2-0000-7000-8000-000000000001", "wf", 1, false,
                                            trigger, NULL, 1000, &ev, NULL) != MH_OK ||
                mh_engine_event_seal(&ev, 1, NULL) != MH_OK ||
                mh_engine_advance(wf, &ev, 1, &in, &res, NULL) != MH_OK ||
                res.status != MH_RUN_SUCCEEDED) {
                fprintf(stderr, "advance: the run did not succeed\n");
                return 1;
            }
            mh_engine_result_cleanup(&res);
            mh_engine_event_cleanup(&ev);
        }
        double per_run = (now_s() - t0) / (double)n;
        if (round == 0 || per_run < best)
            best = per_run;
    }
    printf("engine advance (pure, 4 nodes, in memory): us_per_run=%.1f runs=%ld\n", best * 1e6, n);
    json_decref(trigger);
    json_decref(errors);
    mh_engine_wf_unref(wf);
    json_decref(def);
    return 0;
}
