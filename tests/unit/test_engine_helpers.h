/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the engine's unit tests: loading fixture workflows from tests/data/engine/,
 * an in-memory event log standing in for the events table, a deterministic random source, and
 * lookups over events. Each test binary includes this once.
 */
#ifndef MH_TEST_ENGINE_HELPERS_H
#define MH_TEST_ENGINE_HELPERS_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "engine/engine.h"
#include "harness.h"

#define T0 1700000000000LL

/* Not every test file uses every helper. */
#define HELPER __attribute__((unused)) static

/* A new reference to tests/data/engine/<name>. */
HELPER json_t *load_fixture(const char *name)
{
    char path[1024];
    json_error_t jerr;
    snprintf(path, sizeof(path), "%s/tests/data/engine/%s", mh_t_repo_dir(), name);
    json_t *v = json_load_file(path, 0, &jerr);
    if (v == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
    return v;
}

/* Reads tests/data/engine/<name> into a new malloc'd string with its trailing newline removed. */
HELPER char *load_text(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/engine/%s", mh_t_repo_dir(), name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot open %s", path);
    char *buf = mh_xmalloc(1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    fclose(f);
    while (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

HELPER struct mh_wf *compile_fixture(const char *name)
{
    json_t *def = load_fixture(name), *errors = NULL;
    struct mh_wf *wf = NULL;
    enum mh_err rc = mh_engine_wf_compile(def, &wf, &errors);
    if (rc != MH_OK) {
        char *s = json_dumps(errors, JSON_INDENT(1));
        mh_t_fail(__FILE__, __LINE__, "%s does not compile: %s", name, s);
    }
    MH_T_ASSERT_EQ(json_array_size(errors), 0);
    json_decref(errors);
    json_decref(def);
    return wf;
}

/* An in-memory event log: the events table of one run. */
struct tlog {
    struct mh_event *ev;
    size_t n;
    size_t cap;
};

HELPER void tlog_push(struct tlog *l, const struct mh_event *ev)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ev = mh_xrealloc(l->ev, l->cap * sizeof(*l->ev));
    }
    l->ev[l->n] = *ev;
    json_incref(l->ev[l->n].payload);
    l->n++;
}

HELPER void tlog_free(struct tlog *l)
{
    for (size_t i = 0; i < l->n; i++)
        mh_engine_event_cleanup(&l->ev[i]);
    free(l->ev);
    memset(l, 0, sizeof(*l));
}

/* Starts a run with this trigger (and extra payload members, NULL for none); takes both. */
HELPER void tlog_start_with(struct tlog *l, json_t *trigger, json_t *extra)
{
    struct mh_event ev;
    MH_T_ASSERT_EQ(
        mh_engine_event_run_started("run-1", "wf-1", 3, false, trigger, extra, T0, &ev, NULL),
        MH_OK);
    tlog_push(l, &ev);
    mh_engine_event_cleanup(&ev);
    json_decref(trigger);
    json_decref(extra);
}

/* Starts a run whose trigger body is the JSON text `body`. */
HELPER void tlog_start(struct tlog *l, const char *body)
{
    json_error_t jerr;
    json_t *b = json_loads(body, JSON_DECODE_ANY, &jerr);
    if (b == NULL)
        mh_t_fail(__FILE__, __LINE__, "bad trigger body: %s", jerr.text);
    tlog_start_with(l,
                    json_pack("{s:o,s:{s:s},s:{},s:s}", "body", b, "headers", "content-type",
                              "application/json", "query", "received_at",
                              "2023-11-14T22:13:20.000Z"),
                    NULL);
}

/* Starts a run as the intake records an inline JSON body: no trigger.body, the bytes in
 * delivery.raw_body with body_from_raw. */
HELPER void tlog_start_raw(struct tlog *l, const char *raw)
{
    tlog_start_with(l,
                    json_pack("{s:{}, s:{}, s:s}", "headers", "query", "received_at",
                              "2023-11-14T22:13:20.000Z"),
                    json_pack("{s:{s:s, s:b}}", "delivery", "raw_body", raw, "body_from_raw", 1));
}

/* A deterministic random source: returns `value` and counts calls. */
struct trng {
    uint64_t value;
    int calls;
};

HELPER uint64_t trng_next(void *ctx)
{
    struct trng *r = ctx;
    r->calls++;
    return r->value;
}

/*
 * Advances the run at `now` with optional reports, appends the new events to the log (as the
 * DB layer would) and leaves the result in *res for inspection; the caller cleans it up.
 */
HELPER void advance_at(const struct mh_wf *wf, struct tlog *l, int64_t now, struct trng *rng,
                       const struct mh_event *reports, size_t n_reports,
                       struct mh_engine_result *res)
{
    struct mh_engine_input in = {.now_ms = now,
                                 .random = rng ? trng_next : NULL,
                                 .random_ctx = rng,
                                 .reports = reports,
                                 .n_reports = n_reports};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    memset(res, 0, sizeof(*res));
    enum mh_err rc = mh_engine_advance(wf, l->ev, l->n, &in, res, &info);
    if (rc != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "advance failed: %s: %s", mh_strerror(rc), info.message);
    for (size_t i = 0; i < res->n_events; i++) {
        MH_T_ASSERT_EQ(res->events[i].seq, (int64_t)l->n + 1);
        tlog_push(l, &res->events[i]);
    }
}

/* Index in the log of the first event of `type` for `node` ("" for run-level), or -1. */
HELPER long tlog_find(const struct tlog *l, const char *type, const char *node)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ev[i].type, type) == 0 && strcmp(l->ev[i].node_id, node) == 0)
            return (long)i;
    return -1;
}

HELPER size_t tlog_count(const struct tlog *l, const char *type, const char *node)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ev[i].type, type) == 0 &&
            (node == NULL || strcmp(l->ev[i].node_id, node) == 0))
            c++;
    return c;
}

/* Compact JSON text of `v` with sorted keys, for comparisons in assertions; caller frees. */
HELPER char *jtext(json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

#define ASSERT_JSON_EQ(v, text)                                                                    \
    do {                                                                                           \
        json_t *want_ = json_loads((text), JSON_DECODE_ANY, NULL);                                 \
        MH_T_ASSERT(want_ != NULL);                                                                \
        char *a_ = jtext(v), *b_ = jtext(want_);                                                   \
        MH_T_ASSERT_STR_EQ(a_, b_);                                                                \
        free(a_);                                                                                  \
        free(b_);                                                                                  \
        json_decref(want_);                                                                        \
    } while (0)

/* An http_attempt report with a response. */
HELPER void report_response(struct mh_event *out, const char *node, int attempt, int status,
                            const char *headers_json, const char *body)
{
    json_t *h = json_loads(headers_json ? headers_json : "{}", 0, NULL);
    struct mh_engine_http_outcome o = {.status = status,
                                       .headers = h,
                                       .body = body,
                                       .body_len = body ? strlen(body) : 0,
                                       .duration_ms = 12};
    MH_T_ASSERT_EQ(mh_engine_event_http_result(node, attempt, NULL, &o, T0, out), MH_OK);
    json_decref(h);
}

HELPER void report_error(struct mh_event *out, const char *node, int attempt, const char *kind)
{
    struct mh_engine_http_outcome o = {.error_kind = kind, .error_message = "simulated"};
    MH_T_ASSERT_EQ(mh_engine_event_http_result(node, attempt, NULL, &o, T0, out), MH_OK);
}

#endif
