/* SPDX-License-Identifier: MIT */
/*
 * Sub-workflows on the runtime's side (docs/workflows.md "Sub-workflows", docs/internals/
 * runtime.md): the child runs of call_workflow steps. Everything here runs inside the batch's
 * transaction (batch.c), holding the calling run's row lock:
 *
 *   - a call the engine asks for (MH_ACTION_CALL) starts its child run in the transaction that
 *     records the step's step_started: the version is resolved then ("latest": the latest
 *     published), the depth checked, and the child's id is the one the step recorded, so a
 *     transaction redone after a conflict or a crash finds the child started and starts none;
 *   - before a calling run is advanced, each call it still waits on is looked up: a finished
 *     child (or a call that could not start) becomes a child_finished report;
 *   - a child that finishes wakes its caller's job in the transaction that finishes it, after
 *     locking the caller's row, so a caller's worker deciding at the same time either sees the
 *     child finished or is woken again after it commits;
 *   - a caller that ends while children still run wakes their jobs in the transaction that
 *     ends it, and a child whose caller has ended is canceled at its next decision: nothing of
 *     the cancel lives in memory only, so a crash right after the caller's commit loses none.
 *     A child reads its caller's status without a lock (siblings would otherwise deadlock
 *     upgrading their shared locks when they finish) and, once its own job row is written and
 *     locked, reads it again: an end committed in between makes its job due at once, and a
 *     caller committing later waits on that row lock and wakes the job after the child's commit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef MH_DEBUG
#include <signal.h>
#include <unistd.h>
#endif

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "runtime/runtime_internal.h"

/* A report that the call could not start (kind "call"), with `msg`. */
static enum mh_err refused(const struct mh_engine_action *a, const char *child_id, const char *msg,
                           struct mh_event *out)
{
    json_t *err = json_pack("{s:s, s:s}", "kind", "call", "message", msg);
    enum mh_err rc = mh_engine_event_child_finished(a->node_id, a->attempt, child_id, 0, "failed",
                                                    NULL, err, mh_clock_now_ms(), out);
    json_decref(err);
    return rc;
}

/*
 * Makes sure the child of call `a` exists, starting it when it does not. *has_report is set
 * when the step can be told something now: the child finished (its outcome) or cannot be
 * started (kind "call"); `rep` then holds the report. *started is set when a child was started.
 */
static enum mh_err ensure_child(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                const struct mh_runtime__job *j, const struct mh_engine_action *a,
                                bool *has_report, struct mh_event *rep, bool *started,
                                struct mh_err_info *info)
{
    const char *child = json_string_value(json_object_get(a->request, "child_run_id"));
    const char *wf_id = json_string_value(json_object_get(a->request, "workflow_id"));
    json_t *version = json_object_get(a->request, "version");
    json_t *row = NULL;
    enum mh_err rc;
    *has_report = false;
    if (child == NULL || wf_id == NULL)
        return mh_err_set(info, MH_EINVAL, "invalid", -1, "a call without a child run id");
    const char *p1[] = {child};
    rc = mh_db_query_row(c,
                         "SELECT status, coalesce(version, 0) AS version, output, error FROM runs "
                         "WHERE id = $1",
                         1, p1, &row, info);
    if (rc == MH_OK) {
        const char *status = json_string_value(json_object_get(row, "status"));
        if (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
            strcmp(status, "canceled") == 0) {
            const char *msg = json_string_value(json_object_get(row, "error"));
            json_t *err = json_pack("{s:s, s:s}", "kind", status, "message",
                                    msg ? msg : "the child run did not succeed");
            rc = mh_engine_event_child_finished(
                a->node_id, a->attempt, child, json_integer_value(json_object_get(row, "version")),
                status, json_object_get(row, "output"), err, mh_clock_now_ms(), rep);
            json_decref(err);
            *has_report = rc == MH_OK;
        }
        json_decref(row);
        return rc;
    }
    if (rc != MH_ENOTFOUND)
        return rc;
    *info = (struct mh_err_info)MH_ERR_INFO_INIT;

    /* Not started yet: the caller's depth, then the version to run. */
    const char *p2[] = {j->run_id};
    rc =
        mh_db_query_row(c, "SELECT call_depth, is_test FROM runs WHERE id = $1", 1, p2, &row, info);
    if (rc != MH_OK)
        return rc;
    int depth = (int)json_integer_value(json_object_get(row, "call_depth")) + 1;
    bool is_test = json_is_true(json_object_get(row, "is_test"));
    json_decref(row);
    row = NULL;
    int max_depth = rt->opts.max_call_depth > 0 ? rt->opts.max_call_depth : 8;
    char msg[300];
    if (depth > max_depth) {
        snprintf(msg, sizeof(msg),
                 "sub-workflow depth limit reached: this run is %d call(s) deep and "
                 "subworkflow_max_depth is %d",
                 depth - 1, max_depth);
        *has_report = true;
        return refused(a, child, msg, rep);
    }
    char pinned[24] = "";
    if (json_is_integer(version))
        snprintf(pinned, sizeof(pinned), "%lld", (long long)json_integer_value(version));
    const char *p3[] = {wf_id, pinned[0] ? pinned : NULL, j->project_id};
    rc = mh_db_query_row(c,
                         "SELECT v.version_id, v.version FROM workflows w, "
                         "mh_endpoint_start_version(w.id, $2::int) v WHERE w.id = $1::uuid AND "
                         "w.project_id = $3::uuid",
                         3, p3, &row, info);
    if (rc == MH_ENOTFOUND) {
        *info = (struct mh_err_info)MH_ERR_INFO_INIT;
        if (pinned[0])
            snprintf(msg, sizeof(msg),
                     "workflow %s has no published version %s in this project (or is archived)",
                     wf_id, pinned);
        else
            snprintf(msg, sizeof(msg),
                     "workflow %s has no published version in this project (or is archived)",
                     wf_id);
        *has_report = true;
        return refused(a, child, msg, rep);
    }
    if (rc != MH_OK)
        return rc;
    json_t *trigger = json_pack(
        "{s:O, s:{}, s:{}, s:o}", "body",
        json_object_get(a->request, "input") ? json_object_get(a->request, "input") : json_null(),
        "headers", "query", "received_at", json_integer(mh_clock_now_ms()));
    json_t *extra =
        json_pack("{s:{s:s, s:s}}", "called_by", "run_id", j->run_id, "step", a->node_id);
    struct mh_run_start s = {
        .project_id = j->project_id,
        .workflow_id = wf_id,
        .version_id = json_string_value(json_object_get(row, "version_id")),
        .version = json_integer_value(json_object_get(row, "version")),
        .trigger = trigger,
        .extra = extra,
        .is_test = is_test,
        .run_id = child,
    };
    char id[37];
    rc = mh_engine_run_create(c, &s, id, info);
    json_decref(trigger);
    json_decref(extra);
    json_decref(row);
    if (rc != MH_OK)
        return rc;
    char d[16];
    snprintf(d, sizeof(d), "%d", depth);
    const char *p4[] = {child, j->run_id, a->node_id, d};
    rc = mh_db_query(c,
                     "UPDATE runs SET caller_run_id = $2, caller_step = $3, call_depth = $4::int "
                     "WHERE id = $1",
                     4, p4, NULL, NULL, info);
    if (rc == MH_OK)
        *started = true;
    return rc;
}

enum mh_err mh_runtime__calls_before(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                     const struct mh_runtime__job *j, const struct mh_wf *wf,
                                     const struct mh_event *events, size_t n,
                                     struct mh_event **reports, size_t *n_reports, bool *started,
                                     struct mh_err_info *info)
{
    struct mh_engine_result pend = {0};
    enum mh_err rc = mh_engine_pending(wf, events, n, &pend, info);
    for (size_t i = 0; i < pend.n_actions && rc == MH_OK; i++) {
        const struct mh_engine_action *a = &pend.actions[i];
        if (a->kind != MH_ACTION_CALL)
            continue;
        struct mh_event rep = {0};
        bool has = false;
        rc = ensure_child(rt, c, j, a, &has, &rep, started, info);
        if (rc == MH_OK && has) {
            *reports = mh_xrealloc(*reports, (*n_reports + 1) * sizeof(**reports));
            (*reports)[(*n_reports)++] = rep;
        } else {
            mh_engine_event_cleanup(&rep);
        }
    }
    mh_engine_result_cleanup(&pend);
    return rc;
}

enum mh_err mh_runtime__calls_after(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                    const struct mh_runtime__job *j,
                                    const struct mh_engine_result *res, bool *started, bool *again,
                                    struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    for (size_t i = 0; i < res->n_actions && rc == MH_OK; i++) {
        const struct mh_engine_action *a = &res->actions[i];
        if (a->kind != MH_ACTION_CALL)
            continue;
        struct mh_event rep = {0};
        bool has = false;
        rc = ensure_child(rt, c, j, a, &has, &rep, started, info);
        /* Refused: the run's next decision reports it (calls_before), in a moment. */
        *again = *again || has;
        mh_engine_event_cleanup(&rep);
    }
    return rc;
}

enum mh_err mh_runtime__calls_caller_ended(struct mh_db_conn *c, const char *caller_run_id,
                                           struct mh_event **reports, size_t *n_reports,
                                           struct mh_err_info *info)
{
    const char *p[] = {caller_run_id};
    json_t *row = NULL;
    /* A plain read, no lock: siblings deciding at once must not queue on their caller's row.
     * An end committed after this read is not missed: mh_runtime__calls_recheck_caller. */
    enum mh_err rc = mh_db_query_row(c,
                                     "SELECT status IN ('succeeded', 'failed', 'canceled') AS "
                                     "ended FROM runs WHERE id = $1::uuid",
                                     1, p, &row, info);
    if (rc == MH_ENOTFOUND) { /* the caller is gone (retention): this run finishes on its own */
        *info = (struct mh_err_info)MH_ERR_INFO_INIT;
        return MH_OK;
    }
    if (rc != MH_OK)
        return rc;
    bool has_ended = json_is_true(json_object_get(row, "ended"));
    json_decref(row);
    if (!has_ended)
        return MH_OK;
    struct mh_event ev = {0};
    rc = mh_engine_event_cancel("the run that called it ended", mh_clock_now_ms(), &ev);
    if (rc != MH_OK)
        return rc;
    *reports = mh_xrealloc(*reports, (*n_reports + 1) * sizeof(**reports));
    (*reports)[(*n_reports)++] = ev;
    return MH_OK;
}

enum mh_err mh_runtime__calls_recheck_caller(struct mh_db_conn *c, const char *run_id,
                                             const char *caller_run_id, struct mh_err_info *info)
{
    const char *p[] = {run_id, caller_run_id};
    return mh_db_query(c,
                       "UPDATE jobs SET run_at = now() WHERE run_id = $1::uuid AND EXISTS "
                       "(SELECT 1 FROM runs WHERE id = $2::uuid AND status IN ('succeeded', "
                       "'failed', 'canceled'))",
                       2, p, NULL, NULL, info);
}

enum mh_err mh_runtime__calls_wake_children(struct mh_db_conn *c, const char *run_id,
                                            struct mh_err_info *info)
{
    const char *p[] = {run_id};
    return mh_db_query(c,
                       "UPDATE jobs j SET run_at = now() FROM runs r WHERE r.caller_run_id = "
                       "$1::uuid AND r.status IN ('queued', 'running') AND j.run_id = r.id",
                       1, p, NULL, NULL, info);
}

enum mh_err mh_runtime__calls_finished(struct mh_db_conn *c, const char *run_id,
                                       const char *caller_run_id, bool *has_children,
                                       struct mh_err_info *info)
{
    const char *p[] = {run_id};
    const char *pc[] = {caller_run_id};
    enum mh_err rc = MH_OK;
    if (caller_run_id != NULL && caller_run_id[0])
        rc = mh_db_query(c,
                         "WITH l AS (SELECT id FROM runs WHERE id = $1::uuid FOR UPDATE) UPDATE "
                         "jobs j SET run_at = now() FROM l WHERE j.run_id = l.id",
                         1, pc, NULL, NULL, info);
    json_t *row = NULL;
    if (rc == MH_OK)
        rc = mh_db_query_row(c,
                             "SELECT EXISTS (SELECT 1 FROM runs WHERE caller_run_id = $1::uuid AND "
                             "status IN ('queued', 'running')) AS any",
                             1, p, &row, info);
    if (rc == MH_OK)
        *has_children = json_is_true(json_object_get(row, "any"));
    json_decref(row);
    return rc;
}

#ifdef MH_DEBUG
void mh_runtime__fault_after_end(const char *run_id)
{
    const char *path = getenv("MH_DEBUG_ENGINE_KILL_FILE");
    FILE *f = path ? fopen(path, "r") : NULL;
    if (f == NULL)
        return;
    char want[40] = "";
    int n = fscanf(f, "%39s", want);
    fclose(f);
    if (n != 1 || strcmp(want, run_id) != 0 || unlink(path) != 0)
        return;
    mh_log(MH_LOG_WARN, "engine", "fault injection: killed after run %s ended", run_id);
    raise(SIGKILL);
}
#endif
