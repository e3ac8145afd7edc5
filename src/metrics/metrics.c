/* SPDX-License-Identifier: MIT */
/*
 * The fixed metrics registry and its text exposition (Prometheus format 0.0.4). Counters and
 * histogram buckets are relaxed atomics: recording is a handful of atomic additions, and a scrape
 * reads each value once, so a histogram's _count may trail its buckets by an observation in
 * flight, which Prometheus tolerates. Histogram bounds and sums are integers in a unit of the
 * base unit (nanoseconds for seconds, one for counts), so no float is ever added atomically.
 * Bucket choices and every series are documented in docs/observability.md.
 */
#include "metrics/metrics.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/mem.h"
#include "engine/engine.h"

#define MAX_BUCKETS 16
#define NS          1000000000ULL
#define MS          1000000ULL /* nanoseconds */

struct hist {
    _Atomic uint64_t counts[MAX_BUCKETS + 1];
    _Atomic uint64_t sum;
};

struct hspec {
    uint64_t bounds[MAX_BUCKETS];
    size_t n;
    uint64_t per_unit; /* bounds and sums are in 1/per_unit of the base unit */
};

/* Request latency: a webhook's 202 waits for its group commit (about a millisecond on a local
 * disk); API calls take milliseconds to a few hundred; anything past 10 s is an outlier. */
static const struct hspec http_spec = {{NS / 2000, NS / 1000, NS / 400, NS / 200, NS / 100, NS / 40,
                                        NS / 20, NS / 10, NS / 4, NS / 2, NS, 5 * NS / 2, 5 * NS,
                                        10 * NS},
                                       14,
                                       NS};
/* Group-commit batch size: powers of two up to intake_max_batch's maximum (1024). */
static const struct hspec batch_spec = {{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024}, 11, 1};
/* One group-commit transaction, BEGIN to COMMIT's answer: a WAL flush is 0.1-10 ms. */
static const struct hspec commit_spec = {{NS / 2000, NS / 1000, NS / 500, NS / 200, NS / 100,
                                          NS / 50, NS / 20, NS / 10, NS / 4, NS / 2, NS, 5 * NS / 2,
                                          5 * NS},
                                         13,
                                         NS};
/* A step, by its event log (millisecond clock readings): pure steps take 0-1 ms, calls up to
 * their timeout with retries, delays up to days. */
static const struct hspec step_spec = {{MS, 10 * MS, 100 * MS, NS / 2, NS, 5 * NS, 10 * NS, 30 * NS,
                                        60 * NS, 300 * NS, 1800 * NS, 3600 * NS, 86400 * NS},
                                       13,
                                       NS};
/* An http_call request: public APIs answer in 50 ms to a few seconds; the default timeout is
 * 30 s. */
static const struct hspec call_spec = {{5 * MS, 10 * MS, 25 * MS, 50 * MS, 100 * MS, NS / 4, NS / 2,
                                        NS, 5 * NS / 2, 5 * NS, 10 * NS, 30 * NS, 60 * NS},
                                       13,
                                       NS};

#define ROUTE_NONE  MH_METRICS_MAX_ROUTES
#define ROUTE_OTHER (MH_METRICS_MAX_ROUTES + 1)
#define ROUTE_SLOTS (MH_METRICS_MAX_ROUTES + 2)

static const char *const class_names[5] = {"1xx", "2xx", "3xx", "4xx", "5xx"};
static const char *const delivery_names[MH_MD__COUNT] = {"accepted",
                                                         "duplicate",
                                                         "not_found",
                                                         "endpoint_disabled",
                                                         "method_not_allowed",
                                                         "too_big",
                                                         "rate_limited",
                                                         "signature_invalid",
                                                         "unsupported_media_type",
                                                         "bad_body",
                                                         "schema_validation_failed",
                                                         "not_published",
                                                         "bad_idempotency_key",
                                                         "runs_in_flight_limit",
                                                         "stored_bytes_limit",
                                                         "unavailable",
                                                         "internal"};
static const char *const run_status_names[MH_MR__COUNT] = {"succeeded", "failed", "canceled"};
static const char *const dead_letter_names[MH_MDL__COUNT] = {"step", "job"};
static const char *const pool_names[MH_MP__COUNT] = {"main", "intake", "other"};
static const char *const call_class_names[6] = {"1xx", "2xx", "3xx", "4xx", "5xx", "error"};

/* The engine's node types that have a slot of their own (all of them: a table that outgrew the
 * slots is a build-time mistake the unit test catches). */
static size_t node_type_count(void)
{
    size_t n = mh_engine_node_type_count();
    return n < MH_METRICS_MAX_NODE_TYPES ? n : MH_METRICS_MAX_NODE_TYPES;
}

static struct {
    _Atomic bool is_on;
    const char *route_method[MH_METRICS_MAX_ROUTES];
    const char *route_pattern[MH_METRICS_MAX_ROUTES];
    _Atomic uint64_t http[ROUTE_SLOTS][5];
    struct hist http_seconds[ROUTE_SLOTS];
    _Atomic uint64_t deliveries[MH_MD__COUNT];
    struct hist batch_size;
    struct hist commit_seconds;
    _Atomic uint64_t runs_started;
    _Atomic uint64_t runs_finished[MH_MR__COUNT];
    struct hist step_seconds[MH_METRICS_NODE_OTHER + 1]; /* by node type, then "other" */
    _Atomic uint64_t dead_letters[MH_MDL__COUNT];
    _Atomic uint64_t calls[6];
    struct hist call_seconds;
    _Atomic uint64_t breaker_openings;
    _Atomic uint64_t callbacks[MH_MC__COUNT]; /* wait_callback: by outcome */
    _Atomic int64_t pool_size[MH_MP__COUNT];
    _Atomic int64_t pool_in_use[MH_MP__COUNT];
    _Atomic uint64_t pool_waits[MH_MP__COUNT];
    _Atomic uint64_t pool_timeouts[MH_MP__COUNT];
    _Atomic uint64_t pool_wait_ns[MH_MP__COUNT];
    _Atomic int64_t gauges[MH_G__COUNT];
} R = {.is_on = true};

static pthread_mutex_t db_mu = PTHREAD_MUTEX_INITIALIZER;
static struct mh_metrics_db_figures db_figures;
static int64_t db_figures_at_ms;   /* monotonic; 0: never */
static bool db_figures_refreshing; /* a caller was told to refresh and has not stored yet */

static struct timespec start_real, start_mono;

__attribute__((constructor)) static void note_start(void)
{
    clock_gettime(CLOCK_REALTIME, &start_real);
    clock_gettime(CLOCK_MONOTONIC, &start_mono);
}

static inline bool on(void)
{
    return atomic_load_explicit(&R.is_on, memory_order_relaxed);
}

static inline void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void observe(struct hist *h, const struct hspec *s, uint64_t v)
{
    size_t i = 0;
    while (i < s->n && v > s->bounds[i])
        i++;
    add(&h->counts[i], 1);
    add(&h->sum, v);
}

static uint64_t nonneg(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

void mh_metrics_set_enabled(bool is_enabled)
{
    atomic_store(&R.is_on, is_enabled);
}

bool mh_metrics_is_enabled(void)
{
    return on();
}

void mh_metrics_reset(void)
{
    bool was_on = on();
    memset(&R, 0, sizeof(R));
    atomic_store(&R.is_on, was_on);
    pthread_mutex_lock(&db_mu);
    memset(&db_figures, 0, sizeof(db_figures));
    db_figures_at_ms = 0;
    db_figures_refreshing = false;
    pthread_mutex_unlock(&db_mu);
}

void mh_metrics_http_route(size_t i, const char *method, const char *pattern)
{
    if (i >= MH_METRICS_MAX_ROUTES)
        return;
    R.route_method[i] = method;
    R.route_pattern[i] = pattern;
}

void mh_metrics_http_request(int route, int status, int64_t ns)
{
    if (!on())
        return;
    size_t slot = route < 0                        ? ROUTE_NONE
                  : route >= MH_METRICS_MAX_ROUTES ? ROUTE_OTHER
                  : R.route_pattern[route] == NULL ? ROUTE_OTHER
                                                   : (size_t)route;
    int cls = status / 100 - 1;
    if (cls < 0 || cls > 4)
        cls = 4;
    add(&R.http[slot][cls], 1);
    observe(&R.http_seconds[slot], &http_spec, nonneg(ns));
}

enum mh_metrics_delivery mh_metrics_delivery_of_code(const char *code)
{
    if (code == NULL)
        return MH_MD_INTERNAL;
    if (strcmp(code, "endpoint_unavailable") == 0)
        return MH_MD_UNAVAILABLE; /* a key store that did not answer: 503, retry later */
    for (int i = 0; i < MH_MD__COUNT; i++)
        if (strcmp(code, delivery_names[i]) == 0)
            return (enum mh_metrics_delivery)i;
    return MH_MD_INTERNAL;
}

void mh_metrics_delivery(enum mh_metrics_delivery outcome)
{
    if (on() && (unsigned)outcome < MH_MD__COUNT)
        add(&R.deliveries[outcome], 1);
}

void mh_metrics_intake_batch(size_t n, int64_t ns)
{
    if (!on())
        return;
    observe(&R.batch_size, &batch_spec, n);
    observe(&R.commit_seconds, &commit_spec, nonneg(ns));
}

void mh_metrics_run_started(void)
{
    if (on())
        add(&R.runs_started, 1);
}

void mh_metrics_run_finished(enum mh_metrics_run_status status)
{
    if (on() && (unsigned)status < MH_MR__COUNT)
        add(&R.runs_finished[status], 1);
}

unsigned mh_metrics_node_of(const char *type)
{
    for (size_t i = 0; type && i < node_type_count(); i++)
        if (strcmp(type, mh_engine_node_type_name(i)) == 0)
            return (unsigned)i;
    return MH_METRICS_NODE_OTHER;
}

void mh_metrics_step(unsigned node, int64_t ms)
{
    if (on() && node <= MH_METRICS_NODE_OTHER)
        observe(&R.step_seconds[node], &step_spec, nonneg(ms) * MS);
}

void mh_metrics_dead_letter(enum mh_metrics_dead_letter kind)
{
    if (on() && (unsigned)kind < MH_MDL__COUNT)
        add(&R.dead_letters[kind], 1);
}

/* Whether `ev` is the first event of node `node`'s step: step_started (an http_call attempt)
 * or timer_set (a delay). */
static bool starts_step(const struct mh_event *ev, const char *node)
{
    return strcmp(ev->node_id, node) == 0 &&
           (strcmp(ev->type, MH_EV_STEP_STARTED) == 0 || strcmp(ev->type, MH_EV_TIMER_SET) == 0);
}

void mh_metrics_decision_note(const struct mh_wf *wf, const struct mh_event *old, size_t nold,
                              const struct mh_engine_result *res, bool was_queued,
                              struct mh_metrics_decision *d)
{
    *d = (struct mh_metrics_decision){.is_started = was_queued && res->n_events > 0};
    const struct mh_event *ev = res->events;
    for (size_t i = 0; i < res->n_events && on(); i++) {
        if (strcmp(ev[i].type, MH_EV_STEP_SUCCEEDED) != 0 &&
            strcmp(ev[i].type, MH_EV_STEP_FAILED) != 0)
            continue;
        const struct mh_event *start = NULL;
        for (size_t k = i; k-- > 0 && start == NULL;)
            if (starts_step(&ev[k], ev[i].node_id))
                start = &ev[k];
        for (size_t k = nold; k-- > 0 && start == NULL;)
            if (starts_step(&old[k], ev[i].node_id))
                start = &old[k];
        if (d->steps == NULL)
            d->steps = mh_xcalloc(res->n_events, sizeof(*d->steps));
        d->steps[d->n_steps++] = (struct mh_metrics_step_obs){
            mh_metrics_node_of(mh_engine_wf_node_type(wf, ev[i].node_id)),
            start ? ev[i].at_ms - start->at_ms : 0};
    }
    for (size_t i = 0; i < res->n_actions; i++) {
        const struct mh_engine_action *a = &res->actions[i];
        if (a->kind != MH_ACTION_FINISHED)
            continue;
        d->is_finished = true;
        d->finished = a->status == MH_RUN_SUCCEEDED  ? MH_MR_SUCCEEDED
                      : a->status == MH_RUN_CANCELED ? MH_MR_CANCELED
                                                     : MH_MR_FAILED;
    }
}

void mh_metrics_decision_count(const struct mh_metrics_decision *d)
{
    if (d->is_started)
        mh_metrics_run_started();
    for (size_t i = 0; i < d->n_steps; i++)
        mh_metrics_step(d->steps[i].node, d->steps[i].ms);
    if (d->is_finished)
        mh_metrics_run_finished(d->finished);
}

void mh_metrics_decision_cleanup(struct mh_metrics_decision *d)
{
    free(d->steps);
    *d = (struct mh_metrics_decision){0};
}

void mh_metrics_http_call(int status, int64_t ns)
{
    if (!on())
        return;
    int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    add(&R.calls[cls], 1);
    observe(&R.call_seconds, &call_spec, nonneg(ns));
}

void mh_metrics_breaker_opened(void)
{
    if (on())
        add(&R.breaker_openings, 1);
}

void mh_metrics_callback(enum mh_metrics_callback outcome)
{
    if (on() && outcome < MH_MC__COUNT)
        add(&R.callbacks[outcome], 1);
}

enum mh_metrics_pool mh_metrics_pool_of(const char *name)
{
    for (int i = 0; name && i < MH_MP_OTHER; i++)
        if (strcmp(name, pool_names[i]) == 0)
            return (enum mh_metrics_pool)i;
    return MH_MP_OTHER;
}

void mh_metrics_pool_size_add(enum mh_metrics_pool pool, int n)
{
    /* Not gated: a pool's size is set once, and must stay right if collection is turned on. */
    if ((unsigned)pool < MH_MP__COUNT)
        atomic_fetch_add_explicit(&R.pool_size[pool], n, memory_order_relaxed);
}

void mh_metrics_pool_in_use_add(enum mh_metrics_pool pool, int delta)
{
    /* Not gated either: a gauge must come back to zero whatever was switched in between. */
    if ((unsigned)pool < MH_MP__COUNT)
        atomic_fetch_add_explicit(&R.pool_in_use[pool], delta, memory_order_relaxed);
}

void mh_metrics_pool_wait(enum mh_metrics_pool pool, int64_t ns, bool timed_out)
{
    if (!on() || (unsigned)pool >= MH_MP__COUNT)
        return;
    add(&R.pool_waits[pool], 1);
    add(&R.pool_wait_ns[pool], nonneg(ns));
    if (timed_out)
        add(&R.pool_timeouts[pool], 1);
}

void mh_metrics_gauge_add(enum mh_metrics_gauge g, int64_t delta)
{
    if ((unsigned)g < MH_G__COUNT)
        atomic_fetch_add_explicit(&R.gauges[g], delta, memory_order_relaxed);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool mh_metrics_db_figures_get(int64_t max_age_ms, struct mh_metrics_db_figures *out)
{
    int64_t now = mono_ms();
    pthread_mutex_lock(&db_mu);
    bool is_fresh = db_figures_at_ms != 0 && now - db_figures_at_ms < max_age_ms;
    bool use_cached = is_fresh || (db_figures_refreshing && db_figures_at_ms != 0);
    if (!use_cached)
        db_figures_refreshing = true;
    *out = db_figures;
    pthread_mutex_unlock(&db_mu);
    return use_cached;
}

void mh_metrics_db_figures_store(const struct mh_metrics_db_figures *f)
{
    pthread_mutex_lock(&db_mu);
    db_figures = *f;
    db_figures_at_ms = mono_ms();
    db_figures_refreshing = false;
    pthread_mutex_unlock(&db_mu);
}

/* ---- Encoder -------------------------------------------------------------------------------- */

/* Label values escape backslash, double quote and newline; HELP text backslash and newline. */
static enum mh_err append_escaped(struct mh_buf *out, const char *s, bool is_label)
{
    enum mh_err rc = MH_OK;
    const char *run = s;
    for (const char *p = s; *p && rc == MH_OK; p++) {
        const char *esc = *p == '\\'              ? "\\\\"
                          : *p == '\n'            ? "\\n"
                          : is_label && *p == '"' ? "\\\""
                                                  : NULL;
        if (esc == NULL)
            continue;
        rc = mh_buf_append(out, run, (size_t)(p - run));
        if (rc == MH_OK)
            rc = mh_buf_append_str(out, esc);
        run = p + 1;
    }
    if (rc == MH_OK)
        rc = mh_buf_append_str(out, run);
    return rc;
}

enum mh_err mh_metrics_enc_family(struct mh_buf *out, const char *name, const char *type,
                                  const char *help)
{
    enum mh_err rc = mh_buf_printf(out, "# HELP %s ", name);
    if (rc == MH_OK)
        rc = append_escaped(out, help, false);
    if (rc == MH_OK)
        rc = mh_buf_printf(out, "\n# TYPE %s %s\n", name, type);
    return rc;
}

/* The shortest text that reads back as `v` ("0.0005", "2.5", "30"), integers without an
 * exponent, and +Inf, -Inf, NaN as the format spells them. */
static void format_double(char *buf, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(buf, cap, "NaN");
    } else if (isinf(v)) {
        snprintf(buf, cap, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        snprintf(buf, cap, "%lld", (long long)v);
    } else {
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(buf, cap, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static enum mh_err append_value(struct mh_buf *out, double v)
{
    char buf[40];
    format_double(buf, sizeof(buf), v);
    return mh_buf_append_str(out, buf);
}

/* "name{labels[,extra]}" — `extra_name` may be NULL. */
static enum mh_err append_series(struct mh_buf *out, const char *name,
                                 const struct mh_metrics_label *labels, size_t nlabels,
                                 const char *extra_name, const char *extra_value)
{
    enum mh_err rc = mh_buf_append_str(out, name);
    size_t total = nlabels + (extra_name ? 1 : 0);
    for (size_t i = 0; i < total && rc == MH_OK; i++) {
        const char *ln = i < nlabels ? labels[i].name : extra_name;
        const char *lv = i < nlabels ? labels[i].value : extra_value;
        rc = mh_buf_printf(out, "%s%s=\"", i == 0 ? "{" : ",", ln);
        if (rc == MH_OK)
            rc = append_escaped(out, lv ? lv : "", true);
        if (rc == MH_OK)
            rc = mh_buf_append_str(out, "\"");
    }
    if (rc == MH_OK && total)
        rc = mh_buf_append_str(out, "}");
    return rc;
}

enum mh_err mh_metrics_enc_sample(struct mh_buf *out, const char *name,
                                  const struct mh_metrics_label *labels, size_t nlabels,
                                  double value)
{
    enum mh_err rc = append_series(out, name, labels, nlabels, NULL, NULL);
    if (rc == MH_OK)
        rc = mh_buf_append_str(out, " ");
    if (rc == MH_OK)
        rc = append_value(out, value);
    if (rc == MH_OK)
        rc = mh_buf_append_str(out, "\n");
    return rc;
}

/* A value in 1/per_unit of the base unit, in the base unit. */
static double in_base_unit(uint64_t v, uint64_t per_unit)
{
    return per_unit <= 1 ? (double)v : (double)v / (double)per_unit;
}

enum mh_err mh_metrics_enc_histogram(struct mh_buf *out, const char *name,
                                     const struct mh_metrics_label *labels, size_t nlabels,
                                     const uint64_t *bounds, size_t nbounds, uint64_t per_unit,
                                     const uint64_t *counts, uint64_t sum)
{
    char series[160], le[40];
    snprintf(series, sizeof(series), "%s_bucket", name);
    enum mh_err rc = MH_OK;
    uint64_t cum = 0;
    for (size_t i = 0; i <= nbounds && rc == MH_OK; i++) {
        cum += counts[i];
        if (i < nbounds)
            format_double(le, sizeof(le), in_base_unit(bounds[i], per_unit));
        else
            snprintf(le, sizeof(le), "+Inf");
        rc = append_series(out, series, labels, nlabels, "le", le);
        if (rc == MH_OK)
            rc = mh_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    snprintf(series, sizeof(series), "%s_sum", name);
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, series, labels, nlabels, in_base_unit(sum, per_unit));
    snprintf(series, sizeof(series), "%s_count", name);
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, series, labels, nlabels, (double)cum);
    return rc;
}

/* ---- Render --------------------------------------------------------------------------------- */

static uint64_t load(_Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static uint64_t hist_total(struct hist *h)
{
    uint64_t n = 0;
    for (size_t i = 0; i <= MAX_BUCKETS; i++)
        n += load(&h->counts[i]);
    return n;
}

static enum mh_err render_hist(struct mh_buf *out, const char *name, const struct hspec *s,
                               struct hist *h, const struct mh_metrics_label *labels,
                               size_t nlabels)
{
    uint64_t counts[MAX_BUCKETS + 1];
    for (size_t i = 0; i <= s->n; i++)
        counts[i] = load(&h->counts[i]);
    return mh_metrics_enc_histogram(out, name, labels, nlabels, s->bounds, s->n, s->per_unit,
                                    counts, load(&h->sum));
}

static const char *route_method(size_t slot)
{
    if (slot >= MH_METRICS_MAX_ROUTES)
        return "";
    return strcmp(R.route_method[slot], "*") == 0 ? "any" : R.route_method[slot];
}

static const char *route_name(size_t slot)
{
    return slot == ROUTE_NONE ? "(none)" : slot == ROUTE_OTHER ? "(other)" : R.route_pattern[slot];
}

static bool route_is_named(size_t slot)
{
    return slot >= MH_METRICS_MAX_ROUTES || R.route_pattern[slot] != NULL;
}

static enum mh_err render_http(struct mh_buf *out)
{
    enum mh_err rc = mh_metrics_enc_family(
        out, "meshhook_http_requests_total", "counter",
        "HTTP requests answered, by route template (the router's pattern; (none) when no route "
        "matched: the web app's files and 404s), its method and the status class.");
    for (size_t r = 0; r < ROUTE_SLOTS && rc == MH_OK; r++) {
        if (!route_is_named(r))
            continue;
        for (int c = 0; c < 5 && rc == MH_OK; c++) {
            uint64_t v = load(&R.http[r][c]);
            if (v == 0)
                continue;
            struct mh_metrics_label l[] = {
                {"route", route_name(r)}, {"method", route_method(r)}, {"code", class_names[c]}};
            rc = mh_metrics_enc_sample(out, "meshhook_http_requests_total", l, 3, (double)v);
        }
    }
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_http_request_duration_seconds", "histogram",
                                   "Time from a request's headers to its answer being sent, by "
                                   "route template.");
    for (size_t r = 0; r < ROUTE_SLOTS && rc == MH_OK; r++) {
        if (!route_is_named(r) || hist_total(&R.http_seconds[r]) == 0)
            continue;
        struct mh_metrics_label l[] = {{"route", route_name(r)}, {"method", route_method(r)}};
        rc = render_hist(out, "meshhook_http_request_duration_seconds", &http_spec,
                         &R.http_seconds[r], l, 2);
    }
    return rc;
}

/* One counter family over an enum label. */
static enum mh_err render_enum_counter(struct mh_buf *out, const char *name, const char *help,
                                       const char *label, const char *const *values,
                                       _Atomic uint64_t *counts, size_t n)
{
    enum mh_err rc = mh_metrics_enc_family(out, name, "counter", help);
    for (size_t i = 0; i < n && rc == MH_OK; i++) {
        struct mh_metrics_label l = {label, values[i]};
        rc = mh_metrics_enc_sample(out, name, &l, 1, (double)load(&counts[i]));
    }
    return rc;
}

static enum mh_err render_engine(struct mh_buf *out)
{
    enum mh_err rc = render_enum_counter(
        out, "meshhook_webhook_deliveries_total",
        "Webhook deliveries answered, by outcome: accepted, duplicate, or the refusal's reason.",
        "outcome", delivery_names, R.deliveries, MH_MD__COUNT);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_intake_batch_size", "histogram",
                                   "Deliveries recorded per group-commit transaction.");
    if (rc == MH_OK)
        rc = render_hist(out, "meshhook_intake_batch_size", &batch_spec, &R.batch_size, NULL, 0);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_intake_commit_duration_seconds", "histogram",
                                   "Time of a group-commit transaction, BEGIN to COMMIT's answer.");
    if (rc == MH_OK)
        rc = render_hist(out, "meshhook_intake_commit_duration_seconds", &commit_spec,
                         &R.commit_seconds, NULL, 0);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_runs_started_total", "counter",
                                   "Runs whose first step this process took.");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_runs_started_total", NULL, 0,
                                   (double)load(&R.runs_started));
    if (rc == MH_OK)
        rc = render_enum_counter(out, "meshhook_runs_finished_total",
                                 "Runs this process finished, by final status.", "status",
                                 run_status_names, R.runs_finished, MH_MR__COUNT);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_step_duration_seconds", "histogram",
                                   "Time from a step's start to its success or failure, by the "
                                   "run's event log, by node type.");
    for (size_t i = 0; i <= node_type_count() && rc == MH_OK; i++) {
        size_t slot = i < node_type_count() ? i : MH_METRICS_NODE_OTHER;
        struct mh_metrics_label l = {"node_type",
                                     i < node_type_count() ? mh_engine_node_type_name(i) : "other"};
        rc = render_hist(out, "meshhook_step_duration_seconds", &step_spec, &R.step_seconds[slot],
                         &l, 1);
    }
    if (rc == MH_OK)
        rc = render_enum_counter(out, "meshhook_dead_letters_total",
                                 "Dead letters this process added: a step that failed for good "
                                 "(step) or a job that exhausted its attempts (job).",
                                 "kind", dead_letter_names, R.dead_letters, MH_MDL__COUNT);
    if (rc == MH_OK)
        rc = render_enum_counter(out, "meshhook_http_call_requests_total",
                                 "http_call requests finished, by status class (error: no "
                                 "response, i.e. a connection error, timeout or refusal).",
                                 "code", call_class_names, R.calls, 6);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_http_call_duration_seconds", "histogram",
                                   "Duration of http_call requests, connection to last byte.");
    if (rc == MH_OK)
        rc = render_hist(out, "meshhook_http_call_duration_seconds", &call_spec, &R.call_seconds,
                         NULL, 0);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_http_call_breaker_openings_total", "counter",
                                   "Circuit breakers opened (a host's failure threshold reached, "
                                   "or a half-open probe failed).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_http_call_breaker_openings_total", NULL, 0,
                                   (double)load(&R.breaker_openings));
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_callbacks_received_total", "counter",
                                   "Requests to wait_callback URLs, by outcome: accepted "
                                   "(recorded), gone (a second one, or after the step timed out "
                                   "or the run ended), not_found (an unknown or forged token).");
    static const char *const cb_names[MH_MC__COUNT] = {"accepted", "gone", "not_found"};
    for (int i = 0; i < MH_MC__COUNT && rc == MH_OK; i++) {
        struct mh_metrics_label l = {"outcome", cb_names[i]};
        rc = mh_metrics_enc_sample(out, "meshhook_callbacks_received_total", &l, 1,
                                   (double)load(&R.callbacks[i]));
    }
    return rc;
}

static enum mh_err render_pools(struct mh_buf *out)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"meshhook_db_pool_connections", "gauge", "Database connections a pool may open."},
        {"meshhook_db_pool_in_use", "gauge", "Database connections of a pool taken now."},
        {"meshhook_db_pool_waits_total", "counter",
         "Times a caller found no free connection and waited."},
        {"meshhook_db_pool_wait_timeouts_total", "counter",
         "Waits that ended without a connection (answered 503)."},
        {"meshhook_db_pool_wait_seconds_total", "counter", "Time spent waiting for a connection."},
    };
    enum mh_err rc = MH_OK;
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]) && rc == MH_OK; f++) {
        rc = mh_metrics_enc_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (int p = 0; p < MH_MP__COUNT && rc == MH_OK; p++) {
            int64_t size = atomic_load_explicit(&R.pool_size[p], memory_order_relaxed);
            if (size == 0)
                continue; /* a pool this process does not have */
            double v = f == 0 ? (double)size
                       : f == 1
                           ? (double)atomic_load_explicit(&R.pool_in_use[p], memory_order_relaxed)
                       : f == 2 ? (double)load(&R.pool_waits[p])
                       : f == 3 ? (double)load(&R.pool_timeouts[p])
                                : (double)load(&R.pool_wait_ns[p]) / 1e9;
            struct mh_metrics_label l = {"pool", pool_names[p]};
            rc = mh_metrics_enc_sample(out, fam[f].name, &l, 1, v);
        }
    }
    return rc;
}

static enum mh_err render_db(struct mh_buf *out, const struct mh_metrics_db_figures *db)
{
    if (db == NULL || !db->is_known)
        return MH_OK;
    enum mh_err rc = mh_metrics_enc_family(
        out, "meshhook_queue_jobs", "gauge",
        "Jobs in the queue (all instances), by state: due (waiting for a worker), scheduled "
        "(a future run_at: delays, retries, sleeping runs), leased (being worked on).");
    struct mh_metrics_label due = {"state", "due"}, sch = {"state", "scheduled"},
                            lea = {"state", "leased"};
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_queue_jobs", &due, 1, (double)db->jobs_due);
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_queue_jobs", &sch, 1, (double)db->jobs_scheduled);
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_queue_jobs", &lea, 1, (double)db->jobs_leased);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_queue_oldest_due_age_seconds", "gauge",
                                   "How long the oldest due job has been due (0: none).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_queue_oldest_due_age_seconds", NULL, 0,
                                   db->oldest_due_age_s);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_dead_letters", "gauge",
                                   "Dead letters in the database (all instances and projects).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_dead_letters", NULL, 0, (double)db->dead_letters);
    return rc;
}

static long read_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

static long count_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    long n = 0;
    if (d == NULL)
        return 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static enum mh_err render_process(struct mh_buf *out)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double uptime =
        (double)(now.tv_sec - start_mono.tv_sec) + (double)(now.tv_nsec - start_mono.tv_nsec) / 1e9;
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    enum mh_err rc = mh_metrics_enc_family(out, "meshhook_stream_subscribers", "gauge",
                                           "Open live-log (Server-Sent Events) streams.");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(
            out, "meshhook_stream_subscribers", NULL, 0,
            (double)atomic_load_explicit(&R.gauges[MH_G_STREAM_SUBSCRIBERS], memory_order_relaxed));
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_stream_reads_total", "counter",
                                   "Database reads made for live-log streams (one serves every "
                                   "subscriber of a run as one user, or of a project's feed).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(
            out, "meshhook_stream_reads_total", NULL, 0,
            (double)atomic_load_explicit(&R.gauges[MH_G_STREAM_READS], memory_order_relaxed));
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_process_resident_memory_bytes", "gauge",
                                   "Resident set size.");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_process_resident_memory_bytes", NULL, 0,
                                   (double)read_rss_bytes());
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_process_open_fds", "gauge",
                                   "Open file descriptors (sockets included).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_process_open_fds", NULL, 0,
                                   (double)count_open_fds());
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_process_max_fds", "gauge",
                                   "The open file descriptor limit (RLIMIT_NOFILE).");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_process_max_fds", NULL, 0,
                                   rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_process_start_time_seconds", "gauge",
                                   "When the process started, in seconds since the Unix epoch.");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_process_start_time_seconds", NULL, 0,
                                   (double)start_real.tv_sec);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_uptime_seconds", "gauge",
                                   "Seconds since the process started.");
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_uptime_seconds", NULL, 0, uptime);
    if (rc == MH_OK)
        rc = mh_metrics_enc_family(out, "meshhook_build_info", "gauge",
                                   "Always 1; the labels describe the build.");
    struct mh_metrics_label v = {"version", MH_VERSION};
    if (rc == MH_OK)
        rc = mh_metrics_enc_sample(out, "meshhook_build_info", &v, 1, 1);
    return rc;
}

enum mh_err mh_metrics_render(struct mh_buf *out, const struct mh_metrics_db_figures *db)
{
    enum mh_err rc = render_http(out);
    if (rc == MH_OK)
        rc = render_engine(out);
    if (rc == MH_OK)
        rc = render_pools(out);
    if (rc == MH_OK)
        rc = render_db(out, db);
    if (rc == MH_OK)
        rc = render_process(out);
    return rc;
}
