-- The statistics rollup, cheaper per folded run (issue 16; docs/observability.md "Statistics",
-- docs/BENCHMARKS.md "Observability on and off").
--
-- 0023's pass spent its time in the aggregation, not in reading: each run became three rows
-- (minute, hour, day), each aggregated twice (workflow and project) for the counts and twice
-- again for the histogram. Now a pass aggregates its runs once, per workflow, minute of creation
-- and duration bucket, and builds the grains and the project's totals from those few rows.
-- Same rows in run_stats, same answers.
ALTER TABLE stats_state ADD COLUMN pending_checked_at timestamptz NOT NULL DEFAULT '-infinity';

CREATE OR REPLACE FUNCTION mh_stats_rollup(p_lag_ms int, p_batch int) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET TimeZone = 'UTC'
-- The planner's estimate for the walk over every project is far too high and would have it
-- compile the statement with JIT: 8 s instead of 0.2 (docs/BENCHMARKS.md).
SET jit = off AS $$
DECLARE
    v_cutoff   timestamptz := now() - greatest(p_lag_ms, 0) * interval '1 millisecond';
    v_keep     timestamptz := now() - interval '2 days';
    v_state    stats_state;
    v_runs     bigint := 0;
    v_finished bigint := 0;
    v_dels     bigint := 0;
    v_last_at  timestamptz;
    v_last_id  uuid;
    v_limit    int := greatest(p_batch, 1);
    v_check_pending boolean;
    v_oldest_due timestamptz;
    v_runs_cutoff timestamptz := v_cutoff;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('meshhook.stats_rollup')) THEN
        RETURN jsonb_build_object('runs', 0, 'finished', 0, 'deliveries', 0, 'more', false,
                                  'locked', true);
    END IF;
    SELECT * INTO v_state FROM stats_state WHERE id;
    -- The pending runs are looked up (one primary-key probe each) only when the previous pass
    -- had caught up with the runs, not on every pass of a backfill (0023 probed them all on
    -- every pass: a backlog of unfinished runs made a backfill quadratic); and, while more than
    -- 1,000 are pending (a burst waiting in the queue), at most every 10 seconds, so that a run
    -- waiting in a backlog is probed a few times rather than once per pass.
    v_check_pending := v_state.runs_id = 'ffffffff-ffff-ffff-ffff-ffffffffffff'
        AND (v_state.pending_checked_at <= now() - interval '10 seconds'
             OR NOT EXISTS (SELECT 1 FROM stats_pending_runs OFFSET 1000 LIMIT 1));
    IF v_check_pending THEN
        v_state.pending_checked_at := now();
    END IF;

    -- Runs still waiting in the queue are left for a later pass: folded now, each would be
    -- written to stats_pending_runs, probed and deleted (a write per run, as costly as a small
    -- step); folded once the backlog has drained, they are mostly finished. So the walk stops
    -- before the oldest job that has been due (or running) for less than 10 minutes, found at
    -- its place in jobs_due_idx. Jobs due for longer hold nothing back: their runs are folded
    -- as pending, as before.
    v_oldest_due := (SELECT j.run_at FROM jobs j
                      WHERE j.run_at <= now() AND j.run_at > now() - interval '10 minutes'
                      ORDER BY j.run_at LIMIT 1);
    IF v_oldest_due IS NOT NULL THEN
        v_runs_cutoff := least(v_cutoff, v_oldest_due - interval '1 microsecond');
    END IF;

    -- Runs: the next batch in (created_at, id) order, walking each project's
    -- runs_project_recent_idx (project_id, created_at, id).
    WITH b AS (
        SELECT r.* FROM projects p CROSS JOIN LATERAL (
            SELECT x.id, x.project_id, x.workflow_id, x.created_at, x.status, x.finished_at,
                   x.is_test
              FROM runs x
             WHERE x.project_id = p.id AND (x.created_at, x.id) > (v_state.runs_at, v_state.runs_id)
               AND x.created_at <= v_runs_cutoff
             ORDER BY x.created_at, x.id LIMIT v_limit) r
         ORDER BY r.created_at, r.id LIMIT v_limit
    ),
    pend AS (
        INSERT INTO stats_pending_runs (run_id, project_id, workflow_id, created_at)
        SELECT id, project_id, workflow_id, created_at FROM b
         WHERE NOT is_test AND finished_at IS NULL
        ON CONFLICT DO NOTHING RETURNING 1
    ),
    -- One primary-key probe of runs per pending run (the LIMIT keeps the planner from turning
    -- this into a join that reads the whole runs table: it did, on every pass, in bench/engine).
    fin AS (
        SELECT p.run_id, r.status, r.finished_at
          FROM stats_pending_runs p
         CROSS JOIN LATERAL (SELECT x.status, x.finished_at FROM runs x
                              WHERE x.id = p.run_id AND x.finished_at IS NOT NULL LIMIT 1) r
         WHERE v_check_pending
    ),
    done AS (
        DELETE FROM stats_pending_runs p USING fin
         WHERE p.run_id = fin.run_id
        RETURNING p.project_id, p.workflow_id, p.created_at, fin.status, fin.finished_at
    ),
    f AS (
        SELECT project_id, workflow_id, created_at, 1 AS started,
               CASE WHEN finished_at IS NOT NULL THEN status END AS outcome, finished_at
          FROM b WHERE NOT is_test
        UNION ALL
        SELECT project_id, workflow_id, created_at, 0, status, finished_at FROM done
    ),
    -- The one aggregation that reads every run: per workflow, minute of creation and duration
    -- bucket (NULL while unfinished). A batch's runs fall in a few minutes and buckets, so
    -- everything after this works on tens of rows, not on the batch's thousands.
    m AS (
        SELECT project_id, workflow_id, date_trunc('minute', created_at) AS minute,
               CASE WHEN finished_at IS NOT NULL
                    THEN mh_stats_bucket(date_part('epoch', finished_at - created_at) * 1000)
               END AS i,
               count(*) FILTER (WHERE started = 1) AS started,
               count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE outcome = 'failed') AS failed,
               count(*) FILTER (WHERE outcome = 'canceled') AS canceled,
               count(finished_at) AS n
          FROM f GROUP BY 1, 2, 3, 4
    ),
    g AS (
        SELECT m.*, gr.grain, date_trunc(gr.grain, m.minute) AS bucket
          FROM m CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) gr(grain)
         WHERE gr.grain <> 'minute' OR m.minute >= v_keep
    ),
    -- Each workflow's row, and the project's under the nil workflow id.
    c AS (
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id, grain, bucket,
               sum(started)::bigint AS started, sum(succeeded)::bigint AS succeeded,
               sum(failed)::bigint AS failed, sum(canceled)::bigint AS canceled
          FROM g GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket),
                                         (project_id, grain, bucket))
    ),
    hk AS (
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id, grain, bucket,
               i, sum(n)::bigint AS n
          FROM g WHERE i IS NOT NULL
         GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket, i),
                                 (project_id, grain, bucket, i))
    ),
    ha AS (
        SELECT project_id, workflow_id, grain, bucket,
               mh_stats_hist_dense(array_agg(i), array_agg(n)) AS hist
          FROM hk GROUP BY project_id, workflow_id, grain, bucket
    ),
    -- Data-modifying CTEs run to completion whether or not the query reads them.
    up AS (
        INSERT INTO run_stats AS s (project_id, workflow_id, grain, bucket_start, started,
                                    succeeded, failed, canceled, duration_hist)
        SELECT c.project_id, c.workflow_id, c.grain, c.bucket, c.started, c.succeeded, c.failed,
               c.canceled, coalesce(ha.hist, '{}')
          FROM c LEFT JOIN ha USING (project_id, workflow_id, grain, bucket)
        ON CONFLICT (project_id, grain, bucket_start, workflow_id) DO UPDATE
           SET started = s.started + EXCLUDED.started,
               succeeded = s.succeeded + EXCLUDED.succeeded,
               failed = s.failed + EXCLUDED.failed,
               canceled = s.canceled + EXCLUDED.canceled,
               duration_hist = CASE WHEN EXCLUDED.duration_hist = '{}' THEN s.duration_hist
                                    ELSE mh_stats_hist_add(s.duration_hist, EXCLUDED.duration_hist)
                               END
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM done), l.created_at, l.id
      FROM (SELECT 1) one
      LEFT JOIN (SELECT created_at, id FROM b ORDER BY created_at DESC, id DESC LIMIT 1) l ON true
      INTO v_runs, v_finished, v_last_at, v_last_id;
    IF v_runs >= v_limit THEN
        v_state.runs_at := v_last_at;
        v_state.runs_id := v_last_id;
    ELSIF v_runs_cutoff > v_state.runs_at THEN
        v_state.runs_at := v_runs_cutoff;
        v_state.runs_id := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    END IF;

    -- Deliveries: the next batch in (received_at, id) order, walking each endpoint's
    -- webhook_deliveries_endpoint_idx (endpoint_id, received_at, id).
    WITH b AS (
        SELECT d.*, e.project_id, e.workflow_id FROM webhook_endpoints e CROSS JOIN LATERAL (
            SELECT x.id, x.received_at, x.outcome, x.is_test
              FROM webhook_deliveries x
             WHERE x.endpoint_id = e.id
               AND (x.received_at, x.id) > (v_state.deliveries_at, v_state.deliveries_id)
               AND x.received_at <= v_cutoff
             ORDER BY x.received_at, x.id LIMIT v_limit) d
         ORDER BY d.received_at, d.id LIMIT v_limit
    ),
    -- Per workflow and minute first (the one aggregation over every delivery), then the grains.
    m AS (
        SELECT project_id, workflow_id, date_trunc('minute', received_at) AS minute,
               count(*) FILTER (WHERE outcome = 'accepted') AS accepted,
               count(*) FILTER (WHERE outcome = 'duplicate') AS duplicate,
               count(*) FILTER (WHERE outcome = 'refused') AS refused
          FROM b WHERE NOT is_test GROUP BY 1, 2, 3
    ),
    g AS (
        SELECT m.*, gr.grain, date_trunc(gr.grain, m.minute) AS bucket
          FROM m CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) gr(grain)
         WHERE gr.grain <> 'minute' OR m.minute >= v_keep
    ),
    up AS (
        INSERT INTO run_stats AS s (project_id, workflow_id, grain, bucket_start,
                                    deliveries_accepted, deliveries_duplicate, deliveries_refused)
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid), grain, bucket,
               sum(accepted)::bigint, sum(duplicate)::bigint, sum(refused)::bigint
          FROM g GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket),
                                         (project_id, grain, bucket))
        ON CONFLICT (project_id, grain, bucket_start, workflow_id) DO UPDATE
           SET deliveries_accepted = s.deliveries_accepted + EXCLUDED.deliveries_accepted,
               deliveries_duplicate = s.deliveries_duplicate + EXCLUDED.deliveries_duplicate,
               deliveries_refused = s.deliveries_refused + EXCLUDED.deliveries_refused
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM b), l.received_at, l.id
      FROM (SELECT 1) one
      LEFT JOIN (SELECT received_at, id FROM b ORDER BY received_at DESC, id DESC LIMIT 1) l ON true
      INTO v_dels, v_last_at, v_last_id;
    IF v_dels >= v_limit THEN
        v_state.deliveries_at := v_last_at;
        v_state.deliveries_id := v_last_id;
    ELSIF v_cutoff > v_state.deliveries_at THEN
        v_state.deliveries_at := v_cutoff;
        v_state.deliveries_id := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    END IF;

    -- The queue, once a minute: per workflow, and the project's total under the nil id.
    IF date_trunc('minute', now()) > v_state.queue_sampled_at THEN
        WITH s AS (
            SELECT j.project_id,
                   coalesce(r.workflow_id, '00000000-0000-0000-0000-000000000000') AS workflow_id,
                   count(*) FILTER (WHERE j.run_at <= now()
                                      AND (j.lease_until IS NULL OR j.lease_until < now()))
                       AS due,
                   count(*) FILTER (WHERE j.lease_until >= now()) AS leased,
                   count(*) FILTER (WHERE j.run_at > now()
                                      AND (j.lease_until IS NULL OR j.lease_until < now()))
                       AS scheduled
              FROM jobs j LEFT JOIN runs r ON r.id = j.run_id
             GROUP BY GROUPING SETS ((j.project_id, r.workflow_id), (j.project_id))
        )
        INSERT INTO queue_stats AS q (project_id, workflow_id, grain, bucket_start, due_max,
                                      leased_max, scheduled_max)
        SELECT s.project_id, s.workflow_id, gr.grain, date_trunc(gr.grain, now()), max(s.due),
               max(s.leased), max(s.scheduled)
          FROM s CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) gr(grain)
         GROUP BY s.project_id, s.workflow_id, gr.grain
        ON CONFLICT (project_id, grain, bucket_start, workflow_id) DO UPDATE
           SET due_max = greatest(q.due_max, EXCLUDED.due_max),
               leased_max = greatest(q.leased_max, EXCLUDED.leased_max),
               scheduled_max = greatest(q.scheduled_max, EXCLUDED.scheduled_max);
        v_state.queue_sampled_at := date_trunc('minute', now());
    END IF;

    -- Every ten minutes: minute rows older than two days go, and pending runs whose row is
    -- gone (deleted with their workflow or by retention) are forgotten.
    IF v_state.pruned_at <= now() - interval '10 minutes' THEN
        DELETE FROM run_stats WHERE grain = 'minute' AND bucket_start < v_keep;
        DELETE FROM queue_stats WHERE grain = 'minute' AND bucket_start < v_keep;
        DELETE FROM stats_pending_runs p WHERE NOT EXISTS (SELECT 1 FROM runs r
                                                            WHERE r.id = p.run_id);
        v_state.pruned_at := now();
    END IF;

    UPDATE stats_state SET runs_at = v_state.runs_at, runs_id = v_state.runs_id,
           pending_checked_at = v_state.pending_checked_at,
           deliveries_at = v_state.deliveries_at, deliveries_id = v_state.deliveries_id,
           queue_sampled_at = v_state.queue_sampled_at, pruned_at = v_state.pruned_at
     WHERE id;
    RETURN jsonb_build_object('runs', v_runs, 'finished', v_finished, 'deliveries', v_dels,
                              'more', v_runs >= v_limit OR v_dels >= v_limit, 'locked', false);
END
$$;

