/* SPDX-License-Identifier: MIT */
/*
 * Throughput of MeshHook's JMESPath engine on the cases of jmespath.py's benchmarks.json:
 * compile (text to AST), evaluate (a compiled expression against the case's document) and full
 * (compile + evaluate + free, what one-shot use costs). bench.js runs this program and the
 * reference JavaScript implementation in the same run and prints both side by side.
 *
 *   bench_jp BENCHMARKS_JSON [MILLISECONDS_PER_MEASUREMENT]
 *
 * Prints one JSON object per case and line: {"comment", "expression", "bench", "compile",
 * "eval", "full", "ok"} where the rates are operations per second and "ok" says whether the
 * result matched the case's "result" (true when the case has none).
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jmespath/jmespath.h"

enum op { OP_COMPILE, OP_EVAL, OP_FULL };

struct bcase {
    const char *expr;
    size_t len;
    json_t *doc;
    struct mh_jp_expr *compiled;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A sink the optimiser cannot see through, so no loop is removed. */
static volatile size_t sink;

static void run(const struct bcase *c, enum op op, long iters)
{
    for (long i = 0; i < iters; i++) {
        struct mh_jp_expr *e = NULL;
        json_t *out = NULL;
        switch (op) {
        case OP_COMPILE:
            if (mh_jp_compile(c->expr, c->len, &e, NULL) != MH_OK)
                abort();
            sink += (size_t)e;
            mh_jp_expr_destroy(e);
            break;
        case OP_EVAL:
            if (mh_jp_eval(c->compiled, c->doc, &out, NULL) != MH_OK)
                abort();
            sink += (size_t)out;
            json_decref(out);
            break;
        case OP_FULL:
            if (mh_jp_compile(c->expr, c->len, &e, NULL) != MH_OK ||
                mh_jp_eval(e, c->doc, &out, NULL) != MH_OK)
                abort();
            sink += (size_t)out;
            json_decref(out);
            mh_jp_expr_destroy(e);
            break;
        }
    }
}

/* Operations per second: the best of 5 timed batches, each sized to last about ms/5 (the best
 * is the run least disturbed by the rest of the machine; bench.js does the same). */
static double measure(const struct bcase *c, enum op op, double ms)
{
    long iters = 1;
    double t0, dt;
    for (;;) {
        t0 = now_s();
        run(c, op, iters);
        dt = now_s() - t0;
        if (dt > 0.005)
            break;
        iters *= 4;
    }
    long batch = (long)((double)iters * (ms / 5 / 1000) / dt);
    if (batch < 1)
        batch = 1;
    double rates[5];
    for (int b = 0; b < 5; b++) {
        t0 = now_s();
        run(c, op, batch);
        rates[b] = (double)batch / (now_s() - t0);
    }
    double best = rates[0];
    for (int i = 1; i < 5; i++)
        best = rates[i] > best ? rates[i] : best;
    return best;
}

/* Numbers compare by value, the way the suite intends. */
static bool same(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    }
    return json_equal(a, b);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_jp BENCHMARKS_JSON [MS_PER_MEASUREMENT]\n");
        return 2;
    }
    double ms = argc > 2 ? strtod(argv[2], NULL) : 500;
    json_error_t jerr;
    json_t *groups = json_load_file(argv[1], 0, &jerr);
    if (!json_is_array(groups)) {
        fprintf(stderr, "bench_jp: %s: %s\n", argv[1], jerr.text);
        return 1;
    }
    size_t gi, ci;
    json_t *group, *tc;
    json_array_foreach(groups, gi, group)
    {
        json_array_foreach(json_object_get(group, "cases"), ci, tc)
        {
            struct bcase c = {0};
            c.expr = json_string_value(json_object_get(tc, "expression"));
            c.len = strlen(c.expr);
            c.doc = json_object_get(group, "given");
            struct mh_err_info info = MH_ERR_INFO_INIT;
            if (mh_jp_compile(c.expr, c.len, &c.compiled, &info) != MH_OK) {
                fprintf(stderr, "bench_jp: %s: %s\n", c.expr, info.message);
                return 1;
            }
            json_t *out = NULL;
            if (mh_jp_eval(c.compiled, c.doc, &out, &info) != MH_OK) {
                fprintf(stderr, "bench_jp: %s: %s\n", c.expr, info.message);
                return 1;
            }
            json_t *want = json_object_get(tc, "result");
            bool ok = want == NULL || same(want, out);
            json_decref(out);

            double rc = measure(&c, OP_COMPILE, ms);
            double re = measure(&c, OP_EVAL, ms);
            double rf = measure(&c, OP_FULL, ms);
            json_t *line =
                json_pack("{s:s?, s:s, s:s?, s:f, s:f, s:f, s:b}", "comment",
                          json_string_value(json_object_get(tc, "comment")), "expression", c.expr,
                          "bench", json_string_value(json_object_get(tc, "bench")), "compile", rc,
                          "eval", re, "full", rf, "ok", ok);
            char *text = json_dumps(line, JSON_COMPACT);
            printf("%s\n", text);
            fflush(stdout);
            free(text);
            json_decref(line);
            mh_jp_expr_destroy(c.compiled);
        }
    }
    json_decref(groups);
    return 0;
}
