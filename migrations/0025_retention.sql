-- Data retention (issue 16; docs/observability.md "Retention", docs/operations.md).
--
-- Per-project settings: how many days runs (with their events, jobs, dead letters and the
-- blobs only they name), webhook deliveries and dead letters are kept. NULL is "the server's
-- default" (retention_*_days settings), so changing the default reaches every project that
-- never chose. The background job of `meshhook serve` and `meshhook retention` delete what is
-- older, in small batches, through the SECURITY DEFINER functions below: the server's role owns
-- nothing and row-level security confines it to one project at a time, while retention works
-- across projects and detaches event partitions, which needs the owner. Each function does one
-- bounded step; the caller commits between steps.
--
-- What goes and what stays:
-- * A run goes when it was created before its project's runs cutoff and has finished
--   (succeeded, failed, canceled). Queued and running runs (a run waiting on a delay is
--   running) are never touched, however old. Its events, remaining jobs and dead letters go in
--   the same transaction (the events through the cascade of migration 0011).
-- * A delivery (the intake log) goes when it was received before its project's deliveries
--   cutoff, whether its run is kept or not: the run's first event records everything the
--   delivery did (the raw bytes, headers, verifying key), so a kept run stays complete.
-- * A dead letter goes when it failed before its project's dead-letters cutoff, or with its
--   run.
-- * A blob (a large body, content-addressed and shared between deliveries with the same bytes)
--   goes when the newest delivery that used it is older than its project's runs cutoff, with a
--   slack of two hours (last_used_at is refreshed at most hourly, and a run's created_at comes
--   from the server's clock, not the database's).
-- * An event partition whose range lies wholly before now and holds no kept run (of any
--   project) is detached and dropped, instead of deleting its rows one by one; the runs it
--   held are then deleted like any other (their events are already gone).

CREATE TABLE project_retention (
    project_id         uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    runs_days          int CHECK (runs_days BETWEEN 1 AND 3650),
    deliveries_days    int CHECK (deliveries_days BETWEEN 1 AND 3650),
    dead_letters_days  int CHECK (dead_letters_days BETWEEN 1 AND 3650),
    updated_by         uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_retention ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_retention FORCE ROW LEVEL SECURITY;
CREATE POLICY project_retention_read ON project_retention FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY project_retention_insert ON project_retention FOR INSERT TO meshhook_app
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_retention_update ON project_retention FOR UPDATE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'))
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_retention_owner ON project_retention TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE ON project_retention TO meshhook_app;

-- When a blob was last written by the intake (a repeat of the same bytes refreshes it, at most
-- hourly: src/intake/commit.c).
ALTER TABLE blobs ADD COLUMN last_used_at timestamptz;
UPDATE blobs SET last_used_at = created_at;
ALTER TABLE blobs ALTER COLUMN last_used_at SET NOT NULL;
ALTER TABLE blobs ALTER COLUMN last_used_at SET DEFAULT now();
CREATE INDEX blobs_last_used_idx ON blobs (project_id, last_used_at);
-- A run's dead letters go with it.
CREATE INDEX dead_letters_run_idx ON dead_letters (run_id) WHERE run_id IS NOT NULL;

-- Every project's cutoffs at p_as_of: rows older than these are expired. The p_*_days are the
-- server's defaults, for projects that chose none.
CREATE FUNCTION mh_retention_cutoffs(p_as_of timestamptz, p_runs_days int, p_deliveries_days int,
                                     p_dead_letters_days int)
RETURNS TABLE (project_id uuid, runs_cutoff timestamptz, deliveries_cutoff timestamptz,
               dead_letters_cutoff timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id,
           p_as_of - coalesce(r.runs_days, p_runs_days) * interval '1 day',
           p_as_of - coalesce(r.deliveries_days, p_deliveries_days) * interval '1 day',
           p_as_of - coalesce(r.dead_letters_days, p_dead_letters_days) * interval '1 day'
      FROM projects p LEFT JOIN project_retention r ON r.project_id = p.id
     WHERE p_runs_days BETWEEN 1 AND 3650 AND p_deliveries_days BETWEEN 1 AND 3650
       AND p_dead_letters_days BETWEEN 1 AND 3650 AND p_as_of <= now()
$$;

-- The event partitions (events_YYYYMM) whose whole range lies before p_as_of and holds no run
-- that is kept: unfinished, or newer than its project's runs cutoff.
CREATE FUNCTION mh_retention_partitions(p_as_of timestamptz, p_runs_days int,
                                        p_deliveries_days int, p_dead_letters_days int)
RETURNS TABLE (name text, range_from timestamptz, range_to timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH parts AS (
        SELECT c.relname::text AS name,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid),
                             '^FOR VALUES FROM \(''([^'']+)''\) TO \(''([^'']+)''\)$'))
                   AS b
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'public.events'::regclass AND c.relname ~ '^events_[0-9]{6}$'),
    ranges AS (
        SELECT parts.name, b[1]::timestamptz AS range_from, b[2]::timestamptz AS range_to
          FROM parts WHERE b IS NOT NULL),
    cut AS (SELECT * FROM mh_retention_cutoffs(p_as_of, p_runs_days, p_deliveries_days,
                                               p_dead_letters_days))
    SELECT g.name, g.range_from, g.range_to FROM ranges g
     WHERE g.range_to <= p_as_of AND p_as_of <= now()
       AND p_runs_days BETWEEN 1 AND 3650 AND p_deliveries_days BETWEEN 1 AND 3650
       AND p_dead_letters_days BETWEEN 1 AND 3650
       AND NOT EXISTS (
           SELECT 1 FROM cut JOIN runs r ON r.project_id = cut.project_id
            WHERE r.created_at >= g.range_from AND r.created_at < g.range_to
              AND (r.status IN ('queued', 'running') OR r.created_at >= cut.runs_cutoff))
     ORDER BY g.range_from
$$;

-- What a retention pass at p_as_of removes, per project and kind (runs, jobs, dead_letters,
-- deliveries, blobs): the dry run. Counts exactly the rows the purge functions below delete
-- with the same arguments, when nothing else changes meanwhile.
CREATE FUNCTION mh_retention_plan(p_as_of timestamptz, p_runs_days int, p_deliveries_days int,
                                  p_dead_letters_days int)
RETURNS TABLE (project_id uuid, kind text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH cut AS (SELECT * FROM mh_retention_cutoffs(p_as_of, p_runs_days, p_deliveries_days,
                                                    p_dead_letters_days)),
    doomed AS (
        SELECT r.id, r.project_id FROM cut JOIN runs r ON r.project_id = cut.project_id
         WHERE r.created_at < cut.runs_cutoff AND r.status NOT IN ('queued', 'running')),
    counts AS (
        SELECT d.project_id, 'runs' AS kind, count(*) AS n FROM doomed d GROUP BY 1
        UNION ALL
        SELECT j.project_id, 'jobs', count(*) FROM jobs j
         WHERE j.run_id IN (SELECT id FROM doomed) GROUP BY 1
        UNION ALL
        SELECT l.project_id, 'dead_letters', count(*) FROM cut JOIN dead_letters l
            ON l.project_id = cut.project_id
         WHERE l.failed_at < cut.dead_letters_cutoff
            OR l.run_id IN (SELECT id FROM doomed WHERE doomed.project_id = cut.project_id)
         GROUP BY 1
        UNION ALL
        SELECT w.project_id, 'deliveries', count(*) FROM cut JOIN webhook_deliveries w
            ON w.project_id = cut.project_id
         WHERE w.received_at < cut.deliveries_cutoff GROUP BY 1
        UNION ALL
        SELECT b.project_id, 'blobs', count(*) FROM cut JOIN blobs b
            ON b.project_id = cut.project_id
         WHERE b.last_used_at < cut.runs_cutoff - interval '2 hours' GROUP BY 1)
    SELECT * FROM counts WHERE n > 0 ORDER BY 1, 2
$$;

-- Detaches and drops one partition that mh_retention_partitions names, checking again under
-- the lock that it holds no kept run. DETACH ... CONCURRENTLY is not possible: it cannot run
-- in a function, and PostgreSQL refuses it on a table with a default partition (events has
-- events_default). A plain DETACH takes an ACCESS EXCLUSIVE lock on events, briefly (no rows
-- move), so the wait for it is bounded by lock_timeout: a busy moment makes it fail with
-- SQLSTATE 55P03, and the next pass tries again. Returns false when the partition is not
-- (or no longer) expired.
CREATE FUNCTION mh_retention_drop_partition(p_name text, p_as_of timestamptz, p_runs_days int,
                                            p_deliveries_days int, p_dead_letters_days int)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET lock_timeout = '100ms' AS $$
BEGIN
    IF p_name !~ '^events_[0-9]{6}$' THEN
        RETURN false;
    END IF;
    LOCK TABLE events IN ACCESS EXCLUSIVE MODE;
    IF NOT EXISTS (SELECT 1 FROM mh_retention_partitions(p_as_of, p_runs_days, p_deliveries_days,
                                                         p_dead_letters_days) x
                    WHERE x.name = p_name) THEN
        RETURN false;
    END IF;
    EXECUTE format('ALTER TABLE events DETACH PARTITION %I', p_name);
    EXECUTE format('DROP TABLE %I', p_name);
    RETURN true;
END
$$;

-- A project's cutoff of one kind ('runs', 'deliveries', 'dead_letters') at p_as_of, from its
-- settings or the given defaults. The purge functions below compute their cutoffs here rather
-- than take them from the caller, so that a caller can never remove more than the projects'
-- settings allow: at worst (bad defaults) rows older than a day of projects that chose nothing.
-- Not callable by the application, and not SECURITY DEFINER itself: it runs with the rights of
-- the owner-run purge functions that call it (every SECURITY DEFINER function stays callable by
-- the application, itest_db_safety).
CREATE FUNCTION mh_retention_cutoff(p_kind text, p_project uuid, p_as_of timestamptz,
                                    p_runs_days int, p_deliveries_days int,
                                    p_dead_letters_days int)
RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    r project_retention;
    days int;
BEGIN
    IF p_as_of IS NULL OR p_as_of > now()
       OR coalesce(p_runs_days, 0) NOT BETWEEN 1 AND 3650
       OR coalesce(p_deliveries_days, 0) NOT BETWEEN 1 AND 3650
       OR coalesce(p_dead_letters_days, 0) NOT BETWEEN 1 AND 3650 THEN
        RAISE EXCEPTION 'retention: bad reference time or default days' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO r FROM project_retention WHERE project_id = p_project;
    days := CASE p_kind WHEN 'runs' THEN coalesce(r.runs_days, p_runs_days)
                        WHEN 'blobs' THEN coalesce(r.runs_days, p_runs_days)
                        WHEN 'deliveries' THEN coalesce(r.deliveries_days, p_deliveries_days)
                        WHEN 'dead_letters' THEN coalesce(r.dead_letters_days, p_dead_letters_days)
            END;
    IF days IS NULL THEN
        RAISE EXCEPTION 'unknown retention kind %', p_kind USING ERRCODE = '22023';
    END IF;
    RETURN p_as_of - days * interval '1 day';
END
$$;

-- One batch of a project's runs expired at p_as_of (at most p_limit), with their jobs and dead
-- letters; their events go through the runs cascade. Runs locked by a worker are skipped (a
-- later batch or pass takes them). Returns how many of each went.
CREATE FUNCTION mh_retention_purge_runs(p_project uuid, p_as_of timestamptz, p_runs_days int,
                                        p_deliveries_days int, p_dead_letters_days int,
                                        p_limit int)
RETURNS TABLE (runs int, jobs int, dead_letters int)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH c AS (SELECT mh_retention_cutoff('runs', p_project, p_as_of, p_runs_days,
                                          p_deliveries_days, p_dead_letters_days) AS cutoff),
    v AS (
        SELECT id FROM runs
         WHERE project_id = p_project AND created_at < (SELECT cutoff FROM c)
           AND status NOT IN ('queued', 'running')
         ORDER BY created_at LIMIT least(greatest(p_limit, 1), 10000)
           FOR UPDATE SKIP LOCKED),
    j AS (DELETE FROM jobs WHERE run_id IN (SELECT id FROM v) RETURNING 1),
    l AS (DELETE FROM dead_letters WHERE run_id IN (SELECT id FROM v) RETURNING 1),
    r AS (DELETE FROM runs WHERE id IN (SELECT id FROM v) RETURNING 1)
    SELECT (SELECT count(*) FROM r)::int, (SELECT count(*) FROM j)::int,
           (SELECT count(*) FROM l)::int
$$;

-- One batch of another kind ('deliveries', 'dead_letters', 'blobs') of a project expired at
-- p_as_of (blobs: by the runs cutoff, with the two hours of slack). Returns how many went.
CREATE FUNCTION mh_retention_purge(p_kind text, p_project uuid, p_as_of timestamptz,
                                   p_runs_days int, p_deliveries_days int,
                                   p_dead_letters_days int, p_limit int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    lim int := least(greatest(p_limit, 1), 10000);
    cut timestamptz := mh_retention_cutoff(p_kind, p_project, p_as_of, p_runs_days,
                                           p_deliveries_days, p_dead_letters_days);
    n int;
BEGIN
    IF p_kind = 'deliveries' THEN
        DELETE FROM webhook_deliveries WHERE id IN (
            SELECT id FROM webhook_deliveries
             WHERE endpoint_id = ANY (ARRAY(SELECT id FROM webhook_endpoints
                                             WHERE project_id = p_project))
               AND project_id = p_project AND received_at < cut
             LIMIT lim);
    ELSIF p_kind = 'dead_letters' THEN
        DELETE FROM dead_letters WHERE id IN (
            SELECT id FROM dead_letters WHERE project_id = p_project AND failed_at < cut
             LIMIT lim);
    ELSIF p_kind = 'blobs' THEN
        DELETE FROM blobs WHERE project_id = p_project AND hash IN (
            SELECT hash FROM blobs WHERE project_id = p_project
               AND last_used_at < cut - interval '2 hours'
             LIMIT lim);
    ELSE
        RAISE EXCEPTION 'unknown retention kind %', p_kind USING ERRCODE = '22023';
    END IF;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

REVOKE ALL ON FUNCTION mh_retention_cutoffs(timestamptz, int, int, int),
    mh_retention_partitions(timestamptz, int, int, int),
    mh_retention_plan(timestamptz, int, int, int),
    mh_retention_drop_partition(text, timestamptz, int, int, int),
    mh_retention_cutoff(text, uuid, timestamptz, int, int, int),
    mh_retention_purge_runs(uuid, timestamptz, int, int, int, int),
    mh_retention_purge(text, uuid, timestamptz, int, int, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_retention_cutoffs(timestamptz, int, int, int),
    mh_retention_partitions(timestamptz, int, int, int),
    mh_retention_plan(timestamptz, int, int, int),
    mh_retention_drop_partition(text, timestamptz, int, int, int),
    mh_retention_purge_runs(uuid, timestamptz, int, int, int, int),
    mh_retention_purge(text, uuid, timestamptz, int, int, int, int) TO meshhook_app;
-- The cutoff helper is for the functions above only (default privileges grant every new
-- function to meshhook_app, migration 0015).
REVOKE EXECUTE ON FUNCTION mh_retention_cutoff(text, uuid, timestamptz, int, int, int)
    FROM meshhook_app;
