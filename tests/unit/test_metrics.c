/* SPDX-License-Identifier: MIT */
/* The metrics registry and its exposition encoder (src/metrics), and per-module log levels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "engine/engine.h"
#include "harness.h"
#include "metrics/metrics.h"
#include "test_engine_helpers.h"

static char *render_all(void)
{
    struct mh_buf b;
    mh_buf_init(&b, 1 << 22);
    struct mh_metrics_db_figures db = {.is_known = true,
                                       .jobs_due = 3,
                                       .jobs_scheduled = 2,
                                       .jobs_leased = 1,
                                       .oldest_due_age_s = 1.5,
                                       .dead_letters = 4};
    MH_T_ASSERT_EQ(mh_metrics_render(&b, &db), MH_OK);
    return mh_buf_steal(&b, NULL);
}

/* Fails unless the exposition `out` holds each of the `n` texts `want`. */
static void expect_lines(const char *out, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strstr(out, want[i]) == NULL)
            mh_t_fail(__FILE__, __LINE__, "missing: %s\n--- exposition:\n%s", want[i], out);
}

MH_TEST(metrics_label_escaping)
{
    struct mh_buf b;
    mh_buf_init(&b, 4096);
    struct mh_metrics_label l[] = {{"a", "x\\y\"z\nw"}, {"b", ""}};
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "m_total", l, 2, 3), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "m_total{a=\"x\\\\y\\\"z\\nw\",b=\"\"} 3\n");
    mh_buf_reset(&b);
    /* HELP escapes backslash and newline, not quotes. */
    MH_T_ASSERT_EQ(mh_metrics_enc_family(&b, "m", "gauge", "a \"b\" c\\d\ne"), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "# HELP m a \"b\" c\\\\d\\ne\n# TYPE m gauge\n");
    mh_buf_cleanup(&b);
}

MH_TEST(metrics_sample_values)
{
    struct mh_buf b;
    mh_buf_init(&b, 4096);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "a", NULL, 0, 0), MH_OK);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "b", NULL, 0, 0.25), MH_OK);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "c", NULL, 0, INFINITY), MH_OK);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "d", NULL, 0, -INFINITY), MH_OK);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "e", NULL, 0, NAN), MH_OK);
    MH_T_ASSERT_EQ(mh_metrics_enc_sample(&b, "f", NULL, 0, 12345678901.0), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "a 0\nb 0.25\nc +Inf\nd -Inf\ne NaN\nf 12345678901\n");
    mh_buf_cleanup(&b);
}

MH_TEST(metrics_histogram_encoding)
{
    struct mh_buf b;
    mh_buf_init(&b, 4096);
    /* Bounds 0.5 ms, 1 ms, 2.5 s in nanoseconds; observations 0.2 ms, 0.7 ms, 0.9 ms, 3 s. */
    const uint64_t bounds[] = {500000, 1000000, 2500000000ULL};
    const uint64_t counts[] = {1, 2, 0, 1};
    uint64_t sum = 200000 + 700000 + 900000 + 3000000000ULL;
    struct mh_metrics_label l = {"route", "/x"};
    MH_T_ASSERT_EQ(
        mh_metrics_enc_histogram(&b, "h_seconds", &l, 1, bounds, 3, 1000000000, counts, sum),
        MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "h_seconds_bucket{route=\"/x\",le=\"0.0005\"} 1\n"
                                       "h_seconds_bucket{route=\"/x\",le=\"0.001\"} 3\n"
                                       "h_seconds_bucket{route=\"/x\",le=\"2.5\"} 3\n"
                                       "h_seconds_bucket{route=\"/x\",le=\"+Inf\"} 4\n"
                                       "h_seconds_sum{route=\"/x\"} 3.0018\n"
                                       "h_seconds_count{route=\"/x\"} 4\n");
    mh_buf_reset(&b);
    /* Plain counts, no labels. */
    const uint64_t cb[] = {1, 4};
    const uint64_t cc[] = {2, 0, 1};
    MH_T_ASSERT_EQ(mh_metrics_enc_histogram(&b, "n", NULL, 0, cb, 2, 1, cc, 9), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_buf_str(&b), "n_bucket{le=\"1\"} 2\nn_bucket{le=\"4\"} 2\n"
                                       "n_bucket{le=\"+Inf\"} 3\nn_sum 9\nn_count 3\n");
    mh_buf_cleanup(&b);
}

MH_TEST(metrics_encoder_limit)
{
    struct mh_buf b;
    mh_buf_init(&b, 16);
    MH_T_ASSERT_EQ(mh_metrics_enc_family(&b, "a_rather_long_name", "counter", "help"), MH_ETOOBIG);
    mh_buf_cleanup(&b);
}

MH_TEST(metrics_registry_records)
{
    mh_metrics_reset();
    mh_metrics_http_route(0, "*", "/hooks/:public_id");
    mh_metrics_http_route(1, "GET", "/api/projects/:project_id/runs");
    mh_metrics_http_request(0, 202, 700000);  /* 0.7 ms */
    mh_metrics_http_request(0, 401, 3000000); /* 3 ms */
    mh_metrics_http_request(1, 200, 20000000);
    mh_metrics_http_request(-1, 404, 1000);
    mh_metrics_delivery(MH_MD_ACCEPTED);
    mh_metrics_delivery(MH_MD_ACCEPTED);
    mh_metrics_delivery(mh_metrics_delivery_of_code("signature_invalid"));
    mh_metrics_delivery(mh_metrics_delivery_of_code("no such code"));
    mh_metrics_intake_batch(3, 2000000);
    mh_metrics_run_started();
    mh_metrics_run_finished(MH_MR_FAILED);
    mh_metrics_step(mh_metrics_node_of("http_call"), 120);
    mh_metrics_step(mh_metrics_node_of("something new"), 0);
    mh_metrics_http_call(503, 50000000);
    mh_metrics_http_call(0, 1000);
    mh_metrics_pool_size_add(MH_MP_MAIN, 8);
    mh_metrics_pool_in_use_add(MH_MP_MAIN, 2);
    mh_metrics_pool_wait(MH_MP_MAIN, 1500000000, true);
    mh_metrics_gauge_add(MH_G_STREAM_SUBSCRIBERS, 2);
    mh_metrics_gauge_add(MH_G_STREAM_SUBSCRIBERS, -1);
    char *out = render_all();
    const char *want[] = {
        "meshhook_http_requests_total{route=\"/hooks/:public_id\",method=\"any\",code=\"2xx\"} 1\n",
        "meshhook_http_requests_total{route=\"/hooks/:public_id\",method=\"any\",code=\"4xx\"} 1\n",
        "meshhook_http_requests_total{route=\"/api/projects/:project_id/runs\",method=\"GET\","
        "code=\"2xx\"} 1\n",
        "meshhook_http_requests_total{route=\"(none)\",method=\"\",code=\"4xx\"} 1\n",
        "meshhook_http_request_duration_seconds_bucket{route=\"/hooks/:public_id\",method=\"any\","
        "le=\"0.001\"} 1\n",
        "meshhook_http_request_duration_seconds_bucket{route=\"/hooks/:public_id\",method=\"any\","
        "le=\"0.005\"} 2\n",
        "meshhook_http_request_duration_seconds_count{route=\"/hooks/:public_id\",method="
        "\"any\"} 2\n",
        "meshhook_webhook_deliveries_total{outcome=\"accepted\"} 2\n",
        "meshhook_webhook_deliveries_total{outcome=\"signature_invalid\"} 1\n",
        "meshhook_webhook_deliveries_total{outcome=\"internal\"} 1\n",
        "meshhook_webhook_deliveries_total{outcome=\"duplicate\"} 0\n",
        "meshhook_intake_batch_size_bucket{le=\"2\"} 0\n",
        "meshhook_intake_batch_size_bucket{le=\"4\"} 1\n",
        "meshhook_intake_batch_size_sum 3\n",
        "meshhook_runs_started_total 1\n",
        "meshhook_runs_finished_total{status=\"failed\"} 1\n",
        "meshhook_runs_finished_total{status=\"succeeded\"} 0\n",
        "meshhook_step_duration_seconds_bucket{node_type=\"http_call\",le=\"0.5\"} 1\n",
        "meshhook_step_duration_seconds_sum{node_type=\"http_call\"} 0.12\n",
        "meshhook_step_duration_seconds_count{node_type=\"other\"} 1\n",
        "meshhook_http_call_requests_total{code=\"5xx\"} 1\n",
        "meshhook_http_call_requests_total{code=\"error\"} 1\n",
        "meshhook_http_call_duration_seconds_count 2\n",
        "meshhook_db_pool_connections{pool=\"main\"} 8\n",
        "meshhook_db_pool_in_use{pool=\"main\"} 2\n",
        "meshhook_db_pool_wait_timeouts_total{pool=\"main\"} 1\n",
        "meshhook_db_pool_wait_seconds_total{pool=\"main\"} 1.5\n",
        "meshhook_queue_jobs{state=\"due\"} 3\n",
        "meshhook_queue_oldest_due_age_seconds 1.5\n",
        "meshhook_dead_letters 4\n",
        "meshhook_stream_subscribers 1\n",
        "meshhook_build_info{version=\"",
        "# TYPE meshhook_http_request_duration_seconds histogram\n",
    };
    expect_lines(out, want, sizeof(want) / sizeof(want[0]));
    /* A pool this process does not have is left out, as are routes never used. */
    MH_T_ASSERT(strstr(out, "pool=\"intake\"") == NULL);
    MH_T_ASSERT(strstr(out, "meshhook_http_requests_total{route=\"/hooks/:public_id\",method="
                            "\"any\",code=\"5xx\"}") == NULL);
    /* Each family's TYPE line comes once. */
    const char *t = strstr(out, "# TYPE meshhook_webhook_deliveries_total counter\n");
    MH_T_ASSERT(t && strstr(t + 1, "# TYPE meshhook_webhook_deliveries_total") == NULL);
    free(out);
}

/* The step histograms follow the engine's table of node types: each registered type has its own
 * series under its own name (a type added to the table is never counted as "other"), and the
 * slots hold them all. */
MH_TEST(metrics_step_series_per_engine_node_type)
{
    mh_metrics_reset();
    size_t n = mh_engine_node_type_count();
    MH_T_ASSERT(n >= 5 && n < MH_METRICS_MAX_NODE_TYPES);
    for (size_t i = 0; i < n; i++) {
        MH_T_ASSERT_EQ(mh_metrics_node_of(mh_engine_node_type_name(i)), i);
        mh_metrics_step(mh_metrics_node_of(mh_engine_node_type_name(i)), (int64_t)(i + 1) * 1000);
    }
    MH_T_ASSERT_EQ(mh_metrics_node_of(NULL), MH_METRICS_NODE_OTHER);
    MH_T_ASSERT_EQ(mh_metrics_node_of("no such type"), MH_METRICS_NODE_OTHER);
    char *out = render_all();
    for (size_t i = 0; i < n; i++) {
        char want[160];
        snprintf(want, sizeof(want), "meshhook_step_duration_seconds_sum{node_type=\"%s\"} %zu\n",
                 mh_engine_node_type_name(i), i + 1);
        if (strstr(out, want) == NULL)
            mh_t_fail(__FILE__, __LINE__, "missing: %s", want);
    }
    MH_T_ASSERT(strstr(out, "meshhook_step_duration_seconds_count{node_type=\"other\"} 0\n"));
    free(out);
}

static struct mh_event ev_at(const char *type, const char *node, int64_t at_ms)
{
    struct mh_event ev = {.at_ms = at_ms};
    snprintf(ev.type, sizeof(ev.type), "%s", type);
    snprintf(ev.node_id, sizeof(ev.node_id), "%s", node);
    return ev;
}

/* One decision of a run, noted by the one function the workers and the intake share: each
 * finished step by node type, timed from its start in the new events or the old log (a pure step
 * in no time), the run started only when it was queued and the decision added events, and how
 * it ended; counted into the registry as a whole. */
MH_TEST(metrics_decision_noted_and_counted)
{
    mh_metrics_reset();
    struct mh_wf *wf = compile_fixture("delay.json"); /* wait, until: delay; after: transform */
    struct mh_event old[] = {ev_at(MH_EV_RUN_STARTED, "", T0), ev_at(MH_EV_TIMER_SET, "wait", T0),
                             ev_at(MH_EV_TIMER_SET, "until", T0 + 100)};
    struct mh_event evs[] = {ev_at(MH_EV_STEP_SUCCEEDED, "wait", T0 + 5000),
                             ev_at(MH_EV_TIMER_SET, "until", T0 + 5000),
                             ev_at(MH_EV_STEP_SUCCEEDED, "until", T0 + 7000),
                             ev_at(MH_EV_STEP_FAILED, "after", T0 + 7000)};
    struct mh_engine_action fin = {.kind = MH_ACTION_FINISHED, .status = MH_RUN_CANCELED};
    struct mh_engine_result res = {.events = evs, .n_events = 4, .actions = &fin, .n_actions = 1};
    struct mh_metrics_decision d;

    mh_metrics_decision_note(wf, old, 3, &res, false, &d);
    MH_T_ASSERT(!d.is_started);
    MH_T_ASSERT(d.is_finished);
    MH_T_ASSERT_EQ(d.finished, MH_MR_CANCELED);
    MH_T_ASSERT_EQ(d.n_steps, 3);
    unsigned delay = mh_metrics_node_of("delay"), transform = mh_metrics_node_of("transform");
    MH_T_ASSERT(delay != MH_METRICS_NODE_OTHER && transform != MH_METRICS_NODE_OTHER);
    MH_T_ASSERT_EQ(d.steps[0].node, delay);
    MH_T_ASSERT_EQ(d.steps[0].ms, 5000); /* from the old log's timer_set */
    MH_T_ASSERT_EQ(d.steps[1].node, delay);
    MH_T_ASSERT_EQ(d.steps[1].ms, 2000); /* from the newest timer_set, among the new events */
    MH_T_ASSERT_EQ(d.steps[2].node, transform);
    MH_T_ASSERT_EQ(d.steps[2].ms, 0);
    mh_metrics_decision_count(&d);
    mh_metrics_decision_cleanup(&d);
    MH_T_ASSERT(d.steps == NULL && d.n_steps == 0 && !d.is_finished);

    /* A queued run's first decision starts it; one that added nothing does not. */
    res = (struct mh_engine_result){.events = evs, .n_events = 1};
    mh_metrics_decision_note(wf, old, 1, &res, true, &d);
    MH_T_ASSERT(d.is_started && !d.is_finished && d.n_steps == 1);
    MH_T_ASSERT_EQ(d.steps[0].ms, 0); /* no start in a log of run_started alone */
    mh_metrics_decision_count(&d);
    mh_metrics_decision_cleanup(&d);
    res.n_events = 0;
    mh_metrics_decision_note(wf, old, 1, &res, true, &d);
    MH_T_ASSERT(!d.is_started && d.n_steps == 0);
    mh_metrics_decision_count(&d);
    mh_metrics_decision_cleanup(&d);

    /* Collection off: the run still counts as started (a no-op then), no steps are kept. */
    mh_metrics_set_enabled(false);
    res.n_events = 4;
    mh_metrics_decision_note(wf, old, 3, &res, true, &d);
    MH_T_ASSERT(d.is_started && d.steps == NULL && d.n_steps == 0);
    mh_metrics_decision_count(&d);
    mh_metrics_decision_cleanup(&d);
    mh_metrics_set_enabled(true);

    char *out = render_all();
    const char *want[] = {
        "meshhook_runs_started_total 1\n",
        "meshhook_runs_finished_total{status=\"canceled\"} 1\n",
        "meshhook_runs_finished_total{status=\"succeeded\"} 0\n",
        "meshhook_step_duration_seconds_count{node_type=\"delay\"} 3\n",
        "meshhook_step_duration_seconds_sum{node_type=\"delay\"} 7\n",
        "meshhook_step_duration_seconds_count{node_type=\"transform\"} 1\n",
    };
    expect_lines(out, want, sizeof(want) / sizeof(want[0]));
    free(out);
    mh_engine_wf_unref(wf);
}

MH_TEST(metrics_disabled_records_nothing)
{
    mh_metrics_reset();
    mh_metrics_set_enabled(false);
    mh_metrics_delivery(MH_MD_ACCEPTED);
    mh_metrics_run_started();
    mh_metrics_set_enabled(true);
    char *out = render_all();
    MH_T_ASSERT(strstr(out, "meshhook_webhook_deliveries_total{outcome=\"accepted\"} 0\n"));
    MH_T_ASSERT(strstr(out, "meshhook_runs_started_total 0\n"));
    free(out);
}

MH_TEST(metrics_db_figures_cache)
{
    mh_metrics_reset();
    struct mh_metrics_db_figures f;
    /* Empty: the first caller refreshes; a concurrent second one is not sent as well only once
     * there is something to show, so it refreshes too. */
    MH_T_ASSERT(!mh_metrics_db_figures_get(5000, &f));
    struct mh_metrics_db_figures stored = {.is_known = true, .jobs_due = 7};
    mh_metrics_db_figures_store(&stored);
    MH_T_ASSERT(mh_metrics_db_figures_get(5000, &f));
    MH_T_ASSERT_EQ(f.jobs_due, 7);
    /* Expired: one caller refreshes, the next gets the stale figures meanwhile. */
    MH_T_ASSERT(!mh_metrics_db_figures_get(0, &f));
    MH_T_ASSERT(mh_metrics_db_figures_get(0, &f));
    MH_T_ASSERT_EQ(f.jobs_due, 7);
}

/* ---- Per-module log levels ------------------------------------------------------------------ */

MH_TEST(log_spec_parse)
{
    struct mh_log_spec s;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_log_spec_parse("warn", &s, &info), MH_OK);
    MH_T_ASSERT_EQ(s.level, MH_LOG_WARN);
    MH_T_ASSERT_EQ(s.n, 0);
    MH_T_ASSERT_EQ(mh_log_spec_parse("info,intake=debug", &s, &info), MH_OK);
    MH_T_ASSERT_EQ(s.level, MH_LOG_INFO);
    MH_T_ASSERT_EQ(s.n, 1);
    MH_T_ASSERT_STR_EQ(s.modules[0].module, "intake");
    MH_T_ASSERT_EQ(s.modules[0].level, MH_LOG_DEBUG);
    /* The default may come anywhere, or not at all (info); spaces are ignored. */
    MH_T_ASSERT_EQ(mh_log_spec_parse(" engine = trace , error ,db=warn", &s, &info), MH_OK);
    MH_T_ASSERT_EQ(s.level, MH_LOG_ERROR);
    MH_T_ASSERT_EQ(s.n, 2);
    MH_T_ASSERT_STR_EQ(s.modules[0].module, "engine");
    MH_T_ASSERT_EQ(s.modules[0].level, MH_LOG_TRACE);
    MH_T_ASSERT_STR_EQ(s.modules[1].module, "db");
    MH_T_ASSERT_EQ(mh_log_spec_parse("http=debug", &s, &info), MH_OK);
    MH_T_ASSERT_EQ(s.level, MH_LOG_INFO);
    const char *bad[] = {"",
                         "verbose",
                         "info,debug",
                         "nosuch=debug",
                         "intake=",
                         "intake=loud",
                         "intake=debug,intake=info",
                         "=debug",
                         "info,",
                         "INFO"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        if (mh_log_spec_parse(bad[i], &s, &info) != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "'%s' was accepted", bad[i]);
        MH_T_ASSERT(strncmp(info.message, "log_level", 9) == 0);
    }
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_log_spec_parse("info,nosuch=debug", &s, &info), MH_EINVAL);
    MH_T_ASSERT(strstr(info.message, "'nosuch' is not a module") != NULL);
}

MH_TEST(log_levels_per_module)
{
    struct mh_log_spec s;
    MH_T_ASSERT_EQ(mh_log_spec_parse("info,intake=debug,db=error", &s, NULL), MH_OK);
    mh_log_configure_spec(&s, false);
    MH_T_ASSERT(mh_log_enabled_for(MH_LOG_DEBUG, "intake"));
    MH_T_ASSERT(!mh_log_enabled_for(MH_LOG_TRACE, "intake"));
    MH_T_ASSERT(!mh_log_enabled_for(MH_LOG_DEBUG, "engine"));
    MH_T_ASSERT(mh_log_enabled_for(MH_LOG_INFO, "engine"));
    MH_T_ASSERT(!mh_log_enabled_for(MH_LOG_WARN, "db"));
    MH_T_ASSERT(mh_log_enabled_for(MH_LOG_ERROR, "db"));
    MH_T_ASSERT(!mh_log_enabled_for(MH_LOG_DEBUG, NULL));
    mh_log_configure(MH_LOG_INFO, false);
    MH_T_ASSERT(!mh_log_enabled_for(MH_LOG_DEBUG, "intake"));
}
