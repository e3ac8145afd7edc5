-- Run statistics (issue 16; docs/observability.md "Statistics").
--
-- Incrementally maintained rollup tables, not materialized views: a REFRESH recomputes from
-- every run each time (its cost grows with the table, docs/BENCHMARKS.md measures it), while a
-- rollup pass costs what arrived since the last one. Nothing here runs on the hot path: no
-- trigger on runs, jobs or webhook_deliveries. A background pass (src/stats) calls
-- mh_stats_rollup(), which folds runs and deliveries past a high-water mark in small batches,
-- runs it saw unfinished once they finish, and a sample of the queue once a minute.
--
-- Rows: one per (project, grain, bucket start, workflow) for grains minute, hour and day, bucket
-- starts in UTC, and the project's total under the nil workflow id, so that a chart reads one
-- row per point whatever the number of workflows. Runs count in the bucket of their creation (the webhook's arrival): "of the
-- runs that started in this hour, how many failed and how long did they take". Test runs and
-- test deliveries are left out. Durations (finished_at - created_at) go into a histogram of
-- fixed log-scale buckets, 8 per doubling, so that rows of any grain merge by adding counts;
-- a percentile read from the merged histogram is within 2^(1/16) - 1 = 4.4 % of the true value
-- at the same rank. Minute rows are kept two days (minute grain is offered for windows up to
-- 24 hours); hour and day rows are kept.

CREATE TABLE run_stats (
    project_id           uuid NOT NULL,
    workflow_id          uuid NOT NULL,
    grain                text NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
    bucket_start         timestamptz NOT NULL,
    started              bigint NOT NULL DEFAULT 0,
    succeeded            bigint NOT NULL DEFAULT 0,
    failed               bigint NOT NULL DEFAULT 0,
    canceled             bigint NOT NULL DEFAULT 0,
    -- Element i (1-based) counts finished runs with duration d: i = 1 for d < 1 ms, else
    -- 2 + floor(8 * log2(d / 1 ms)), capped at 258 (d >= 2^32 ms, about 50 days). Trailing
    -- zeros are not stored.
    duration_hist        int[] NOT NULL DEFAULT '{}',
    deliveries_accepted  bigint NOT NULL DEFAULT 0,
    deliveries_duplicate bigint NOT NULL DEFAULT 0,
    deliveries_refused   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, grain, bucket_start, workflow_id)
);
CREATE INDEX run_stats_workflow_idx ON run_stats (workflow_id, grain, bucket_start);
CREATE INDEX run_stats_minute_idx ON run_stats (bucket_start) WHERE grain = 'minute';

-- The queue sampled once a minute: per workflow, and per project under the nil workflow id
-- (the project's total at each sample; the sum of the workflows' maxima would overstate it).
-- The maximum over the bucket's samples; no row means an empty queue.
CREATE TABLE queue_stats (
    project_id    uuid NOT NULL,
    workflow_id   uuid NOT NULL,
    grain         text NOT NULL CHECK (grain IN ('minute', 'hour', 'day')),
    bucket_start  timestamptz NOT NULL,
    due_max       int NOT NULL DEFAULT 0,
    leased_max    int NOT NULL DEFAULT 0,
    scheduled_max int NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, grain, bucket_start, workflow_id)
);
CREATE INDEX queue_stats_minute_idx ON queue_stats (bucket_start) WHERE grain = 'minute';

-- Where the passes are. Runs and deliveries are walked in (time, id) order; a row is folded
-- once when the pass's cutoff (now() - lag) has passed its time. A row committed more than the
-- lag after its time (clock skew between servers, a stalled commit) is not counted.
CREATE TABLE stats_state (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    runs_at          timestamptz NOT NULL DEFAULT '-infinity',
    runs_id          uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    deliveries_at    timestamptz NOT NULL DEFAULT '-infinity',
    deliveries_id    uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    queue_sampled_at timestamptz NOT NULL DEFAULT '-infinity',
    pruned_at        timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO stats_state DEFAULT VALUES;

-- Runs counted as started but not finished yet: each pass looks them up by primary key.
CREATE TABLE stats_pending_runs (
    run_id      uuid PRIMARY KEY,
    project_id  uuid NOT NULL,
    workflow_id uuid NOT NULL,
    created_at  timestamptz NOT NULL
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['run_stats', 'queue_stats', 'stats_state', 'stats_pending_runs'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I TO %I USING (true) WITH CHECK (true)',
                       t || '_owner', t, current_user);
    END LOOP;
END
$$;
-- Members read their projects' statistics; only the rollup (as owner) writes them.
CREATE POLICY run_stats_read ON run_stats FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY queue_stats_read ON queue_stats FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
GRANT SELECT ON run_stats, queue_stats TO meshhook_app;

-- The histogram bucket of a duration in milliseconds (see run_stats.duration_hist).
CREATE FUNCTION mh_stats_bucket(d_ms double precision) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN d_ms IS NULL OR d_ms < 1 THEN 1
                ELSE least(2 + floor(8 * ln(d_ms) / ln(2)), 258)::int END
$$;

-- The value reported for bucket i: the geometric middle of its range, so that the relative
-- error is at most 2^(1/16) - 1 either way. Bucket 1 (under 1 ms) reports 0.5 ms and the last
-- (2^32 ms and more) its lower bound.
CREATE FUNCTION mh_stats_bucket_ms(i int) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN i IS NULL THEN NULL
                WHEN i <= 1 THEN 0.5
                WHEN i >= 258 THEN 2 ^ 32
                ELSE round((2 ^ ((i - 1.5) / 8))::numeric, 2)::double precision END
$$;

-- Adds two histograms element by element. PL/pgSQL loops over the ~100 elements: a plan is
-- cached once per session, where a SQL body over generate_series is planned per call (5 times
-- slower in the rollup, docs/BENCHMARKS.md).
CREATE FUNCTION mh_stats_hist_add(a int[], b int[]) RETURNS int[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    na int := coalesce(cardinality(a), 0);
    nb int := coalesce(cardinality(b), 0);
    r int[];
BEGIN
    IF na < nb THEN
        r := b;
        FOR i IN 1 .. na LOOP
            r[i] := r[i] + a[i];
        END LOOP;
    ELSE
        r := coalesce(a, '{}');
        FOR i IN 1 .. nb LOOP
            r[i] := r[i] + b[i];
        END LOOP;
    END IF;
    RETURN r;
END
$$;

-- A dense histogram from bucket numbers and their counts.
CREATE FUNCTION mh_stats_hist_dense(idx int[], n bigint[]) RETURNS int[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    top int := 0;
    r int[];
BEGIN
    FOR k IN 1 .. coalesce(cardinality(idx), 0) LOOP
        top := greatest(top, idx[k]);
    END LOOP;
    IF top = 0 THEN
        RETURN '{}';
    END IF;
    r := array_fill(0, ARRAY[top]);
    FOR k IN 1 .. cardinality(idx) LOOP
        r[idx[k]] := r[idx[k]] + n[k];
    END LOOP;
    RETURN r;
END
$$;

-- One rollup pass: folds at most p_batch new runs, the pending runs that finished, at most
-- p_batch new deliveries, samples the queue once a minute and prunes old minute rows now and
-- then. Rows whose time is later than now() - p_lag_ms wait for a later pass. Only one pass
-- runs at a time across all servers (a transaction-scoped advisory lock; the others return at
-- once). Returns {"runs": n, "finished": n, "deliveries": n, "more": bool, "locked": bool};
-- "more" means a batch was full and the caller should pass again soon.
CREATE FUNCTION mh_stats_rollup(p_lag_ms int, p_batch int) RETURNS jsonb
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
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtext('meshhook.stats_rollup')) THEN
        RETURN jsonb_build_object('runs', 0, 'finished', 0, 'deliveries', 0, 'more', false,
                                  'locked', true);
    END IF;
    SELECT * INTO v_state FROM stats_state WHERE id;

    -- Runs: the next batch in (created_at, id) order, walking each project's
    -- runs_project_recent_idx (project_id, created_at, id).
    WITH b AS (
        SELECT r.* FROM projects p CROSS JOIN LATERAL (
            SELECT x.id, x.project_id, x.workflow_id, x.created_at, x.status, x.finished_at,
                   x.is_test
              FROM runs x
             WHERE x.project_id = p.id AND (x.created_at, x.id) > (v_state.runs_at, v_state.runs_id)
               AND x.created_at <= v_cutoff
             ORDER BY x.created_at, x.id LIMIT v_limit) r
         ORDER BY r.created_at, r.id LIMIT v_limit
    ),
    pend AS (
        INSERT INTO stats_pending_runs (run_id, project_id, workflow_id, created_at)
        SELECT id, project_id, workflow_id, created_at FROM b
         WHERE NOT is_test AND finished_at IS NULL
        ON CONFLICT DO NOTHING RETURNING 1
    ),
    done AS (
        DELETE FROM stats_pending_runs p USING runs r
         WHERE r.id = p.run_id AND r.finished_at IS NOT NULL
        RETURNING p.project_id, p.workflow_id, p.created_at, r.status, r.finished_at
    ),
    f AS (
        SELECT project_id, workflow_id, created_at, 1 AS started,
               CASE WHEN finished_at IS NOT NULL THEN status END AS outcome,
               CASE WHEN finished_at IS NOT NULL
                    THEN extract(epoch FROM finished_at - created_at) * 1000 END AS d_ms
          FROM b WHERE NOT is_test
        UNION ALL
        SELECT project_id, workflow_id, created_at, 0, status,
               extract(epoch FROM finished_at - created_at) * 1000
          FROM done
    ),
    g AS (
        SELECT f.*, gr.grain, date_trunc(gr.grain, f.created_at) AS bucket
          FROM f CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) gr(grain)
         WHERE gr.grain <> 'minute' OR f.created_at >= v_keep
    ),
    -- Each workflow's row, and the project's under the nil workflow id.
    c AS (
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id, grain, bucket,
               sum(started) AS started,
               count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE outcome = 'failed') AS failed,
               count(*) FILTER (WHERE outcome = 'canceled') AS canceled
          FROM g GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket),
                                         (project_id, grain, bucket))
    ),
    hk AS (
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid) AS workflow_id, grain, bucket,
               mh_stats_bucket(d_ms) AS i, count(*) AS n
          FROM g WHERE d_ms IS NOT NULL
         GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket, mh_stats_bucket(d_ms)),
                                 (project_id, grain, bucket, mh_stats_bucket(d_ms)))
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
    SELECT (SELECT count(*) FROM b), (SELECT count(*) FROM done),
           (SELECT created_at FROM b ORDER BY created_at DESC, id DESC LIMIT 1),
           (SELECT id FROM b ORDER BY created_at DESC, id DESC LIMIT 1)
      INTO v_runs, v_finished, v_last_at, v_last_id;
    IF v_runs >= v_limit THEN
        v_state.runs_at := v_last_at;
        v_state.runs_id := v_last_id;
    ELSIF v_cutoff > v_state.runs_at THEN
        v_state.runs_at := v_cutoff;
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
    g AS (
        SELECT b.*, gr.grain, date_trunc(gr.grain, b.received_at) AS bucket
          FROM b CROSS JOIN (VALUES ('minute'), ('hour'), ('day')) gr(grain)
         WHERE NOT b.is_test AND (gr.grain <> 'minute' OR b.received_at >= v_keep)
    ),
    up AS (
        INSERT INTO run_stats AS s (project_id, workflow_id, grain, bucket_start,
                                    deliveries_accepted, deliveries_duplicate, deliveries_refused)
        SELECT project_id, coalesce(workflow_id, '00000000-0000-0000-0000-000000000000'::uuid), grain, bucket,
               count(*) FILTER (WHERE outcome = 'accepted'),
               count(*) FILTER (WHERE outcome = 'duplicate'),
               count(*) FILTER (WHERE outcome = 'refused')
          FROM g GROUP BY GROUPING SETS ((project_id, workflow_id, grain, bucket),
                                         (project_id, grain, bucket))
        ON CONFLICT (project_id, grain, bucket_start, workflow_id) DO UPDATE
           SET deliveries_accepted = s.deliveries_accepted + EXCLUDED.deliveries_accepted,
               deliveries_duplicate = s.deliveries_duplicate + EXCLUDED.deliveries_duplicate,
               deliveries_refused = s.deliveries_refused + EXCLUDED.deliveries_refused
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM b),
           (SELECT received_at FROM b ORDER BY received_at DESC, id DESC LIMIT 1),
           (SELECT id FROM b ORDER BY received_at DESC, id DESC LIMIT 1)
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
           deliveries_at = v_state.deliveries_at, deliveries_id = v_state.deliveries_id,
           queue_sampled_at = v_state.queue_sampled_at, pruned_at = v_state.pruned_at
     WHERE id;
    RETURN jsonb_build_object('runs', v_runs, 'finished', v_finished, 'deliveries', v_dels,
                              'more', v_runs >= v_limit OR v_dels >= v_limit, 'locked', false);
END
$$;

-- How far the statistics reach: runs created up to this time are counted (no tenant data).
CREATE FUNCTION mh_stats_as_of() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT least(runs_at, deliveries_at) FROM stats_state WHERE id
$$;

-- The 50th, 95th and 99th percentiles of a histogram in milliseconds (NULLs when it is empty),
-- by nearest rank: the bucket where the cumulative count first reaches ceil(q * total), reported
-- as mh_stats_bucket_ms. One walk for the three.
CREATE FUNCTION mh_stats_percentiles(hist int[]) RETURNS double precision[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    total bigint := 0;
    ranks bigint[];
    k int := 1;
    cum bigint := 0;
    v double precision;
    res double precision[] := ARRAY[NULL, NULL, NULL]::double precision[];
    n int := coalesce(cardinality(hist), 0);
BEGIN
    FOR i IN 1 .. n LOOP
        total := total + hist[i];
    END LOOP;
    IF total = 0 THEN
        RETURN res;
    END IF;
    ranks := ARRAY[greatest(ceil(0.50 * total), 1), greatest(ceil(0.95 * total), 1),
                   greatest(ceil(0.99 * total), 1)];
    FOR i IN 1 .. n LOOP
        cum := cum + hist[i];
        CONTINUE WHEN cum < ranks[k];
        -- mh_stats_bucket_ms(i), inlined: this runs for every point of a chart.
        v := CASE WHEN i <= 1 THEN 0.5 WHEN i >= 258 THEN 2.0 ^ 32
                  ELSE round(2.0 ^ ((i - 1.5) / 8) * 100) / 100 END;
        WHILE k <= 3 AND cum >= ranks[k] LOOP
            res[k] := v;
            k := k + 1;
        END LOOP;
        EXIT WHEN k > 3;
    END LOOP;
    RETURN res;
END
$$;

-- Sums histograms (the merge that makes hour and day figures out of any rows).
CREATE AGGREGATE mh_stats_hist_sum(int[]) (SFUNC = mh_stats_hist_add, STYPE = int[],
                                            INITCOND = '{}');

-- The series behind GET /api/projects/:pid/stats: p_points buckets of p_grain ending with the
-- current one, for the project (p_workflow NULL: its total rows) or one workflow; one row per
-- point. Runs as the caller, so row-level security decides what it reads. Every bucket is
-- present (zeros when empty).
CREATE FUNCTION mh_stats_series(p_project uuid, p_workflow uuid, p_grain text, p_points int)
RETURNS jsonb LANGUAGE sql STABLE SET TimeZone = 'UTC' SET jit = off AS $$
WITH w AS (
    SELECT date_trunc(p_grain, now()) - (p_points - 1) * k.step AS t0,
           date_trunc(p_grain, now()) + k.step AS t1, k.step
      FROM (SELECT CASE p_grain WHEN 'minute' THEN interval '1 minute'
                                WHEN 'hour' THEN interval '1 hour'
                                ELSE interval '1 day' END AS step) k
),
pts AS (
    SELECT g AS n, w.t0 + g * w.step AS t FROM w, generate_series(0, p_points - 1) g
),
r AS (
    SELECT s.bucket_start AS t, s.started, s.succeeded, s.failed, s.canceled, s.duration_hist,
           mh_stats_percentiles(s.duration_hist) AS pct, s.deliveries_accepted, s.deliveries_duplicate, s.deliveries_refused
      FROM run_stats s
     WHERE s.project_id = p_project AND s.grain = p_grain
       AND s.workflow_id = coalesce(p_workflow, '00000000-0000-0000-0000-000000000000')
       AND s.bucket_start >= (SELECT t0 FROM w) AND s.bucket_start < (SELECT t1 FROM w)
),
qd AS (
    SELECT s.bucket_start AS t, s.due_max, s.leased_max, s.scheduled_max
      FROM queue_stats s
     WHERE s.project_id = p_project AND s.grain = p_grain
       AND s.workflow_id = coalesce(p_workflow, '00000000-0000-0000-0000-000000000000')
       AND s.bucket_start >= (SELECT t0 FROM w) AND s.bucket_start < (SELECT t1 FROM w)
),
tot AS (
    SELECT coalesce(sum(started), 0) AS started, coalesce(sum(succeeded), 0) AS succeeded,
           coalesce(sum(failed), 0) AS failed, coalesce(sum(canceled), 0) AS canceled,
           coalesce(sum(deliveries_accepted), 0) AS accepted,
           coalesce(sum(deliveries_duplicate), 0) AS duplicate,
           coalesce(sum(deliveries_refused), 0) AS refused,
           mh_stats_percentiles(mh_stats_hist_sum(duration_hist)) AS pct
      FROM r
)
SELECT jsonb_build_object(
    'from', (SELECT to_char(t0, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM w),
    'to', (SELECT to_char(t1, 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM w),
    'as_of', to_char(mh_stats_as_of(), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    'summary', (SELECT jsonb_build_object(
        'started', tot.started, 'succeeded', tot.succeeded, 'failed', tot.failed,
        'canceled', tot.canceled,
        'error_rate', CASE WHEN tot.succeeded + tot.failed + tot.canceled > 0
                           THEN round(tot.failed::numeric
                                      / (tot.succeeded + tot.failed + tot.canceled), 4) END,
        'p50_ms', tot.pct[1], 'p95_ms', tot.pct[2], 'p99_ms', tot.pct[3],
        'deliveries', jsonb_build_object('accepted', tot.accepted, 'duplicate', tot.duplicate,
                                         'refused', tot.refused),
        'queue_due_max', (SELECT coalesce(max(due_max), 0) FROM qd),
        'queue_scheduled_max', (SELECT coalesce(max(scheduled_max), 0) FROM qd))
        FROM tot),
    'points', (SELECT jsonb_agg(jsonb_build_object(
        't', to_char(pts.t, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        'started', coalesce(r.started, 0), 'succeeded', coalesce(r.succeeded, 0),
        'failed', coalesce(r.failed, 0), 'canceled', coalesce(r.canceled, 0),
        'error_rate', CASE WHEN r.succeeded + r.failed + r.canceled > 0
                           THEN round(r.failed::numeric / (r.succeeded + r.failed + r.canceled), 4)
                      END,
        'p50_ms', r.pct[1], 'p95_ms', r.pct[2], 'p99_ms', r.pct[3],
        'deliveries_accepted', coalesce(r.deliveries_accepted, 0),
        'deliveries_duplicate', coalesce(r.deliveries_duplicate, 0),
        'deliveries_refused', coalesce(r.deliveries_refused, 0),
        'queue_due', coalesce(qd.due_max, 0), 'queue_leased', coalesce(qd.leased_max, 0),
        'queue_scheduled', coalesce(qd.scheduled_max, 0)) ORDER BY pts.n)
        FROM pts LEFT JOIN r USING (t) LEFT JOIN qd USING (t))
)
$$;

REVOKE ALL ON FUNCTION mh_stats_rollup(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_stats_rollup(int, int), mh_stats_as_of(),
    mh_stats_series(uuid, uuid, text, int), mh_stats_bucket(double precision),
    mh_stats_bucket_ms(int), mh_stats_hist_add(int[], int[]),
    mh_stats_hist_dense(int[], bigint[]), mh_stats_percentiles(int[]),
    mh_stats_hist_sum(int[]) TO meshhook_app;
