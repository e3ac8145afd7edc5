/* SPDX-License-Identifier: MIT */
/*
 * Private to src/runtime (docs/internals/runtime.md). The runtime drives the pure engine
 * (src/engine) against PostgreSQL; its parts, one file each:
 *
 *   worker.c  the threads: worker loop, listener, start/stop, the reports queue
 *   queue.c   the job rows: claim, leases handed back, retries and dead letters (never calls
 *             the engine)
 *   batch.c   one transaction per batch of runs: load, decide (the engine), write, commit
 *   send.c    the send pipeline of an http_call: resolve secrets -> render -> sign -> submit
 *   store.c   the run store: run creation, event rows, resume and replay
 */
#ifndef MH_RUNTIME_INTERNAL_H
#define MH_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "runtime/store.h"

#define MH_RUNTIME__WF_CACHE_SIZE      128
#define MH_RUNTIME__RECOVERY_MARGIN_MS 5000
#define MH_RUNTIME__NOTIFY_CHANNEL     "meshhook_jobs"

/* An outcome for a run that a worker applies by advancing it: an http_call's attempt (from the
 * executor thread), a cancellation (from the API), or a park (circuit open). */
struct mh_runtime__report {
    struct mh_runtime__report *next;
    /* Further reports of the same run applied in the same advance (batch.c; borrowed, set only
     * while a batch runs). */
    struct mh_runtime__report *also;
    char run_id[37];
    char project_id[37];
    char key[256]; /* run/node/attempt of the in-flight call, "" for none */
    bool has_event;
    struct mh_event ev;    /* an unsealed http_attempt report */
    int64_t park_until_ms; /* circuit open: wake the run's job then instead */
};

/* logcache.c: the logs of runs this process advanced recently, as committed. */
struct mh_runtime__log {
    struct mh_runtime__log *prev, *next; /* recency, most recent first (the cache's mu) */
    struct mh_runtime__log *chain;       /* its hash bucket's next (the cache's mu) */
    char run_id[37];
    struct mh_event *events; /* seq 1..n, owned */
    size_t n, cap;
    size_t bytes;   /* what events[0..weighed) hold in memory, roughly */
    size_t weighed; /* counted in bytes so far (when put in the cache) */
};

struct mh_runtime__logs {
    pthread_mutex_t mu;
    struct mh_runtime__log **buckets; /* NULL: not initialised, nothing is cached */
    struct mh_runtime__log *head, *tail;
    size_t count, bytes;
    size_t max_entries, max_bytes;
    unsigned long long hits, misses, evictions; /* mu */
};

struct mh_runtime__wf_entry {
    char version_id[37];
    struct mh_wf *wf;
};

struct mh_engine_runtime {
    struct mh_engine_runtime_opts opts;
    char worker_id[96];
    pthread_t *threads;
    int nthreads;
    pthread_t listener;
    bool has_listener;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic bool is_stopping;
    unsigned wake_gen;
    struct mh_runtime__report *reports_head, *reports_tail;
    json_t *inflight; /* set of "run/node/attempt" keys sent by this process */
    struct mh_runtime__wf_entry cache[MH_RUNTIME__WF_CACHE_SIZE];
    unsigned cache_next;
    struct mh_outbound *out;
    _Atomic bool notify_pending;
    json_t *privacy; /* project id -> {"at", "settings", "allowlist"}: a short-lived cache */
    json_t *orphans; /* [[job id, attempts]...] to hand back once the database answers (mu) */
    struct mh_runtime__report *parked; /* reports to apply again once the database answers (mu) */
    struct mh_breakers *breakers;      /* writes breaker openings and closings (breaker_events) */
    /* Who waits for respond steps (the intake, mh_engine_runtime_on_respond), and how many runs
     * it waits for: while none, a batch does not look for answers. */
    mh_engine_respond_fn respond_fn; /* mu */
    void *respond_ctx;               /* mu */
    _Atomic int respond_watch;
    struct mh_runtime__logs logs; /* logcache.c */
};

/* A claimed job (or, for a report, the run it concerns). */
struct mh_runtime__job {
    long long id;
    char project_id[37];
    char run_id[37];
    int attempts;
    int max_attempts;
};

/* worker.c */
uint64_t mh_runtime__random_u64(void *ctx);
void mh_runtime__push_report(struct mh_engine_runtime *rt, struct mh_runtime__report *r);
void mh_runtime__report_free(struct mh_runtime__report *r);
/* The set of calls this process has in flight, by "run/node/attempt" key. */
void mh_runtime__inflight_forget(struct mh_engine_runtime *rt, const char *key);
/* True when the key was not yet in flight (and now is). */
bool mh_runtime__inflight_claim(struct mh_engine_runtime *rt, const char *key);
/* True when the key is in flight now (a hint: it may change at once). */
bool mh_runtime__inflight_has(struct mh_engine_runtime *rt, const char *key);

/* queue.c: the job rows. None of these calls the engine. */
/* Claims up to `max` due jobs (leased to this worker); returns how many. */
int mh_runtime__claim(struct mh_engine_runtime *rt, struct mh_runtime__job *jobs, int max);
/* A job whose processing failed: retried later with backoff, or dead-lettered. */
void mh_runtime__job_failed(struct mh_engine_runtime *rt, const struct mh_runtime__job *j,
                            const char *why);
/* A claimed job whose outcome could not be recorded (database away): handed back later. */
void mh_runtime__orphan_add(struct mh_engine_runtime *rt, const struct mh_runtime__job *j);
/* A report that could not be recorded (database away): applied again later. `r` stays the
 * caller's; its event moves to the parked copy. */
void mh_runtime__report_park(struct mh_engine_runtime *rt, struct mh_runtime__report *r);
/* Hands the orphans back and queues the parked reports again once the database answers. */
void mh_runtime__take_back(struct mh_engine_runtime *rt);
/* Releases every lease this process holds (at stop). */
void mh_runtime__release_leases(struct mh_engine_runtime *rt);

/* callback.c: for a run of `wf` that has wait_callback nodes, the URLs to issue (*urls, new, or
 * NULL without a key) and the callbacks recorded for the run as unsealed callback_received
 * reports (*reports, n of them; free with mh_runtime__callback_reports_free). Nothing for other
 * workflows. A database error fails the batch. */
MH_MUSTCHECK enum mh_err mh_runtime__callback_input(struct mh_engine_runtime *rt,
                                                    struct mh_db_conn *c, const struct mh_wf *wf,
                                                    const char *run_id, json_t **urls,
                                                    struct mh_event **reports, size_t *n,
                                                    struct mh_err_info *info);
void mh_runtime__callback_reports_free(struct mh_event *reports, size_t n);

/* logcache.c. A batch takes a copy of its run's entry and puts its own back; the payloads are
 * shared between copies and never modified. Thread-safe. */
#define MH_RUNTIME__LOG_ENTRIES 512
#define MH_RUNTIME__LOG_BYTES   (64u << 20)
void mh_runtime__logs_init(struct mh_runtime__logs *c, size_t max_entries, size_t max_bytes);
void mh_runtime__logs_cleanup(struct mh_runtime__logs *c);
/* A copy of the run's cached log (new, the caller's), or NULL. */
struct mh_runtime__log *mh_runtime__log_take(struct mh_runtime__logs *c, const char *run_id);
/* Puts `l` back (stolen) as the most recently used, unless the entry there holds as much or
 * more (then `l` is freed); evicts past the bounds. A log holding nothing, or more than the byte
 * bound alone, is freed. */
void mh_runtime__log_put(struct mh_runtime__logs *c, struct mh_runtime__log *l);
/* Forgets the run's log (it finished). */
void mh_runtime__log_drop(struct mh_runtime__logs *c, const char *run_id);
struct mh_runtime__log *mh_runtime__log_new(const char *run_id);
void mh_runtime__log_free(struct mh_runtime__log *l);
/* Moves events[0..n) to the end of `l` (their payload references are l's; events[] is zeroed,
 * the array stays the caller's). */
void mh_runtime__log_append_new(struct mh_runtime__log *l, struct mh_event *events, size_t n);
/*
 * Brings a cached `l` up to date with what its run's locked row says: `since_hash` is the stored
 * hash of the event at seq l->n (hex, NULL when there is none), `delta` the stored events after
 * it, `last_seq` and `last_hash` (hex) the row's. When all of it agrees (the held log is the
 * stored one's prefix, delta follows it without a gap and ends where the row says), the delta
 * moves into `l` (as mh_runtime__log_append_new) and true is returned; otherwise `l` and delta
 * are left alone and false is returned: the caller loads the whole log instead.
 */
bool mh_runtime__log_extend(struct mh_runtime__log *l, const char *since_hash, int64_t last_seq,
                            const char *last_hash, struct mh_event *delta, size_t n);

/* batch.c */
/* Advances `jobs` (with their reports, `reps` may be NULL), grouped by project, one
 * transaction per group. */
void mh_runtime__process_all(struct mh_engine_runtime *rt, struct mh_runtime__job *jobs,
                             struct mh_runtime__report **reps, int n);
void mh_runtime__wf_cache_clear(struct mh_engine_runtime *rt);

/* ---- Sub-workflows (call.c), inside a batch's transaction --------------------------------- */

/* Before advancing a run of a workflow with call_workflow steps: the calls it still waits on
 * (events[0..n)) whose child finished, or that cannot start, as child_finished reports
 * appended to *reports (mh_xrealloc'd; the caller cleans each event and frees the array);
 * children not started yet are started (*started). */
MH_MUSTCHECK enum mh_err
mh_runtime__calls_before(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                         const struct mh_runtime__job *j, const struct mh_wf *wf,
                         const struct mh_event *events, size_t n, struct mh_event **reports,
                         size_t *n_reports, bool *started, struct mh_err_info *info);
/* After: starts the child of every call `res` asks for (*started); *again when one cannot
 * start, so the run is decided again at once and its step told why. */
MH_MUSTCHECK enum mh_err mh_runtime__calls_after(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                                 const struct mh_runtime__job *j,
                                                 const struct mh_engine_result *res, bool *started,
                                                 bool *again, struct mh_err_info *info);
/* A run finished: wakes its caller's job (when `caller_run_id` is set), and *has_children
 * tells whether children it called still run: they are canceled (wake them with
 * mh_runtime__calls_wake_children once every job of the batch is written). */
MH_MUSTCHECK enum mh_err mh_runtime__calls_finished(struct mh_db_conn *c, const char *run_id,
                                                    const char *caller_run_id, bool *has_children,
                                                    struct mh_err_info *info);
/* Makes the jobs of the children of `run_id` that still run due now, in the transaction that
 * ended `run_id`: after the batch's own job writes, which would otherwise put a child of the
 * same batch back to sleep. */
MH_MUSTCHECK enum mh_err mh_runtime__calls_wake_children(struct mh_db_conn *c, const char *run_id,
                                                         struct mh_err_info *info);
/* For a child run (called by `caller_run_id`): when its caller has ended, appends a run_canceled
 * report to *reports (grown; unsealed, the caller's to free), so the child ends canceled. A
 * caller that is gone cancels nothing. */
MH_MUSTCHECK enum mh_err mh_runtime__calls_caller_ended(struct mh_db_conn *c,
                                                        const char *caller_run_id,
                                                        struct mh_event **reports,
                                                        size_t *n_reports,
                                                        struct mh_err_info *info);
/* After the batch wrote the job of child run `run_id` (which its transaction now holds locked):
 * makes that job due now if its caller has ended meanwhile, so an end committed after the
 * decision read the caller is acted on at once rather than at the child's next wake. */
MH_MUSTCHECK enum mh_err mh_runtime__calls_recheck_caller(struct mh_db_conn *c, const char *run_id,
                                                          const char *caller_run_id,
                                                          struct mh_err_info *info);
#ifdef MH_DEBUG
/* The crash seam of MH_DEBUG builds (the tests'): when the file named by
 * MH_DEBUG_ENGINE_KILL_FILE holds `run_id`, the process removes it and kills itself with SIGKILL,
 * as a crash right after the transaction that ended that run committed. */
void mh_runtime__fault_after_end(const char *run_id);
#endif

/* send.c: the send pipeline. */

/* What a batch's sends of one project need from its settings (loaded with the batch). */
struct mh_runtime__settings {
    json_t *artifact_rules;   /* privacy settings when they redact recorded bodies, else NULL */
    char *allowlist;          /* the project's outbound allow-list, "" for none */
    int http_calls_in_flight; /* the project's own bound on its calls at once; 0: none */
};
/* Loads them on `c` (the batch's transaction, in the project), from a cache of a few seconds
 * when fresh. A database error fails the batch. */
MH_MUSTCHECK enum mh_err mh_runtime__settings_load(struct mh_engine_runtime *rt,
                                                   struct mh_db_conn *c, const char *project_id,
                                                   struct mh_runtime__settings *out,
                                                   struct mh_err_info *info);
void mh_runtime__settings_cleanup(struct mh_runtime__settings *s);

/* One http_call to send once the batch has committed. */
struct mh_runtime__send {
    const struct mh_engine_action *action; /* borrowed from the plan */
    json_t *secrets;                       /* name -> value, NULL when it names none */
    char *error;                           /* why it cannot be sent: the step fails with it */
};
/* Step 1, in the batch's transaction: decrypts the secrets `a` names (its template's and its
 * signing secret). A missing or undecryptable secret is the step's failure (send->error); a
 * database error fails the batch (returned). */
MH_MUSTCHECK enum mh_err
mh_runtime__send_resolve(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                         const struct mh_runtime__job *j, const struct mh_engine_action *a,
                         struct mh_runtime__send *send, struct mh_err_info *info);
/* Steps 2-4, after the commit: render, sign and submit (the outcome comes back as a report).
 * Takes the send's secrets and error. */
void mh_runtime__send_dispatch(struct mh_engine_runtime *rt, const struct mh_runtime__job *j,
                               const struct mh_runtime__settings *settings,
                               struct mh_runtime__send *send);
void mh_runtime__send_cleanup(struct mh_runtime__send *send);

#endif
