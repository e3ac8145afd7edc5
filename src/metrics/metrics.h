/* SPDX-License-Identifier: MIT */
/*
 * Prometheus metrics (docs/observability.md has every series). The registry is fixed at compile
 * time: each series family is an array of relaxed C11 atomics indexed by small enums (outcome,
 * status class, node type, pool) or by the index of a route of the router's table, so label
 * cardinality is bounded by construction and recording a value costs one to three uncontended
 * atomic additions, no lock and no allocation. Nothing here is per project or per run.
 *
 * Like the logger, the registry is process-wide: every module records into it, and threading a
 * registry through each call would buy nothing. Recording functions may be called from any
 * thread at any time, before or after the server starts; they do nothing while collection is
 * disabled (mh_metrics_set_enabled). The module uses libc and the pure engine only (its table of
 * node types and its event log), so every other module may depend on it.
 */
#ifndef MH_METRICS_H
#define MH_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#ifndef MH_VERSION
#define MH_VERSION "0.1.0-dev"
#endif

/* Turns collection on (the default) or off; off, every recording function returns at once and
 * the server answers /metrics with 404. For benchmarks that compare both. */
void mh_metrics_set_enabled(bool is_enabled);
bool mh_metrics_is_enabled(void);
/* Zeroes every series and forgets the routes (tests). Not concurrent with recording. */
void mh_metrics_reset(void);

/* ---- HTTP server ---------------------------------------------------------------------------- */

/* Routes beyond this many are counted under route="(other)". */
#define MH_METRICS_MAX_ROUTES 192

/* Names route `i` of the router's table: `method` ("GET", or "*" for any) and `pattern` (the
 * template, e.g. "/api/projects/:project_id/runs"), both borrowed and outliving the process's
 * use of metrics (the static route table). Ignored past MH_METRICS_MAX_ROUTES. */
void mh_metrics_http_route(size_t i, const char *method, const char *pattern);
/* One answered request: `route` is the index given to mh_metrics_http_route, or -1 when no route
 * matched (the web app's files and 404s); `status` its HTTP status; `ns` from its headers'
 * arrival to its completion. */
void mh_metrics_http_request(int route, int status, int64_t ns);

/* ---- Webhook intake ------------------------------------------------------------------------- */

enum mh_metrics_delivery {
    MH_MD_ACCEPTED = 0,
    MH_MD_DUPLICATE,
    MH_MD_NOT_FOUND,
    MH_MD_DISABLED,
    MH_MD_METHOD_NOT_ALLOWED,
    MH_MD_TOO_BIG,
    MH_MD_RATE_LIMITED,
    MH_MD_SIGNATURE_INVALID,
    MH_MD_UNSUPPORTED_MEDIA_TYPE,
    MH_MD_BAD_BODY,
    MH_MD_SCHEMA_INVALID,
    MH_MD_NOT_PUBLISHED,
    MH_MD_BAD_IDEMPOTENCY_KEY,
    MH_MD_RUNS_IN_FLIGHT_LIMIT,
    MH_MD_STORED_BYTES_LIMIT,
    MH_MD_UNAVAILABLE,
    MH_MD_INTERNAL,
    MH_MD__COUNT
};
/* The outcome named by an intake error code ("rate_limited", "signature_invalid", ...);
 * MH_MD_INTERNAL for a code it does not know. */
enum mh_metrics_delivery mh_metrics_delivery_of_code(const char *code);
void mh_metrics_delivery(enum mh_metrics_delivery outcome);
/* One committed group-commit transaction: `n` deliveries, `ns` from BEGIN to COMMIT's answer. */
void mh_metrics_intake_batch(size_t n, int64_t ns);

/* ---- Engine --------------------------------------------------------------------------------- */

enum mh_metrics_run_status { MH_MR_SUCCEEDED = 0, MH_MR_FAILED, MH_MR_CANCELED, MH_MR__COUNT };
/* Step durations are kept per node type of the engine's one table (mh_engine_node_type_name),
 * plus one slot, MH_METRICS_NODE_OTHER, for a name it does not know. */
#define MH_METRICS_MAX_NODE_TYPES 31
#define MH_METRICS_NODE_OTHER     MH_METRICS_MAX_NODE_TYPES
enum mh_metrics_dead_letter { MH_MDL_STEP = 0, MH_MDL_JOB, MH_MDL__COUNT };

/* A queued run's first step was taken (its status left 'queued'). */
void mh_metrics_run_started(void);
void mh_metrics_run_finished(enum mh_metrics_run_status status);
/* The slot of the node type named `type` (NULL-tolerant): its index in the engine's table of
 * node types, or MH_METRICS_NODE_OTHER for one it does not know. */
unsigned mh_metrics_node_of(const char *type);
/* A step finished (succeeded or failed) `ms` after it started, by the run's event log. */
void mh_metrics_step(unsigned node, int64_t ms);
void mh_metrics_dead_letter(enum mh_metrics_dead_letter kind);

/* What one decision of a run did (one mh_engine_advance result), noted when it is made and
 * counted once the transaction that records it has committed: by the workers for each run of a
 * batch and by the intake for a run's pure prefix, decided with its delivery. */
struct mh_metrics_step_obs {
    unsigned node; /* mh_metrics_node_of */
    int64_t ms;
};
struct mh_metrics_decision {
    bool is_started; /* a queued run took its first step */
    bool is_finished;
    enum mh_metrics_run_status finished; /* when is_finished */
    struct mh_metrics_step_obs *steps;   /* owned; the steps it finished (none while disabled) */
    size_t n_steps;
};
struct mh_wf;
struct mh_event;
struct mh_engine_result;
/* Notes in `d` (zeroed first) what `res` decided for a run of `wf` whose log was `old` (`nold`
 * events; `was_queued`: it had not started): the run started when it was queued and the decision
 * added events; each step it finished (step_succeeded or step_failed) by node type, with the
 * time since the step started (its step_started or timer_set, among the new events or in `old`;
 * a pure step has neither and takes no time), read from the event log's clock so that a metric
 * never disagrees with the run's timeline; and how the run ended when it did. */
void mh_metrics_decision_note(const struct mh_wf *wf, const struct mh_event *old, size_t nold,
                              const struct mh_engine_result *res, bool was_queued,
                              struct mh_metrics_decision *d);
/* Counts `d` (its decision committed): runs started, steps and runs finished. */
void mh_metrics_decision_count(const struct mh_metrics_decision *d);
void mh_metrics_decision_cleanup(struct mh_metrics_decision *d);

/* ---- Outbound (http_call) ------------------------------------------------------------------- */

/* One request finished: `status` the response's (0: no response, i.e. a connection error, a
 * timeout or a refusal), `ns` its duration. */
void mh_metrics_http_call(int status, int64_t ns);
/* A breaker opened (after its failure threshold, or again after a failed probe). */
void mh_metrics_breaker_opened(void);

/* ---- Callbacks (wait_callback) --------------------------------------------------------------- */

enum mh_metrics_callback { MH_MC_ACCEPTED = 0, MH_MC_GONE, MH_MC_NOT_FOUND, MH_MC__COUNT };
/* A POST /callbacks/<token> answered: 200 accepted, 410 gone, 404 not found. */
void mh_metrics_callback(enum mh_metrics_callback outcome);

/* ---- Database pools ------------------------------------------------------------------------- */

enum mh_metrics_pool { MH_MP_MAIN = 0, MH_MP_INTAKE, MH_MP_OTHER, MH_MP__COUNT };
/* The pool named `name` ("main", "intake"; NULL-tolerant), else MH_MP_OTHER. */
enum mh_metrics_pool mh_metrics_pool_of(const char *name);
/* Adds `n` (may be negative) to the pool's connection count (a pool's size, set once). */
void mh_metrics_pool_size_add(enum mh_metrics_pool pool, int n);
/* A connection was taken (+1) or given back (-1). */
void mh_metrics_pool_in_use_add(enum mh_metrics_pool pool, int delta);
/* A caller found no free connection and waited `ns`; `timed_out`: it got none. */
void mh_metrics_pool_wait(enum mh_metrics_pool pool, int64_t ns, bool timed_out);

/* ---- Gauges other modules own --------------------------------------------------------------- */

enum mh_metrics_gauge {
    MH_G_STREAM_SUBSCRIBERS = 0, /* open Server-Sent-Events streams (the stream hub) */
    MH_G_STREAM_READS,           /* database reads the stream hub made (only grows: a counter) */
    MH_G__COUNT
};
void mh_metrics_gauge_add(enum mh_metrics_gauge g, int64_t delta);

/* ---- Scrape --------------------------------------------------------------------------------- */

/* Figures read from the database at scrape time (they cover every instance). */
struct mh_metrics_db_figures {
    bool is_known; /* false: the database did not answer; the series are left out */
    int64_t jobs_due;
    int64_t jobs_scheduled;
    int64_t jobs_leased;
    double oldest_due_age_s;
    int64_t dead_letters;
};
/* The cached figures when younger than `max_age_ms` (returns true); otherwise returns false and
 * the caller should read them and mh_metrics_db_figures_store them. At most one caller at a time
 * gets false per expiry; the others get the stale figures (true), so concurrent scrapes query
 * the database once. Any thread. */
bool mh_metrics_db_figures_get(int64_t max_age_ms, struct mh_metrics_db_figures *out);
void mh_metrics_db_figures_store(const struct mh_metrics_db_figures *f);

/* Appends every series in the text exposition format 0.0.4 to `out`. `db` may be NULL.
 * MH_ETOOBIG when `out`'s limit is reached. */
MH_MUSTCHECK enum mh_err mh_metrics_render(struct mh_buf *out,
                                           const struct mh_metrics_db_figures *db);

/* ---- The exposition encoder (exported for its unit test) ------------------------------------ */

struct mh_metrics_label {
    const char *name;
    const char *value; /* escaped on output */
};
/* "# HELP name help\n# TYPE name type\n", `help` escaped. */
MH_MUSTCHECK enum mh_err mh_metrics_enc_family(struct mh_buf *out, const char *name,
                                               const char *type, const char *help);
/* "name{labels} value\n" (no braces without labels); integers exactly, others in the shortest
 * text that reads back as the same double, and +Inf, -Inf, NaN as the format spells them. */
MH_MUSTCHECK enum mh_err mh_metrics_enc_sample(struct mh_buf *out, const char *name,
                                               const struct mh_metrics_label *labels,
                                               size_t nlabels, double value);
/* A histogram's series: name_bucket{labels,le} cumulated over `counts` (one per bound, then one
 * for +Inf), name_sum and name_count. Bounds and the sum are integers in 1/`per_unit` of the
 * base unit (1000000000: nanoseconds of a value in seconds; 1: plain counts). */
MH_MUSTCHECK enum mh_err mh_metrics_enc_histogram(struct mh_buf *out, const char *name,
                                                  const struct mh_metrics_label *labels,
                                                  size_t nlabels, const uint64_t *bounds,
                                                  size_t nbounds, uint64_t per_unit,
                                                  const uint64_t *counts, uint64_t sum);

#endif
