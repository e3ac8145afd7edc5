-- Runs in flight counted where they are, not kept by triggers (issue 20; docs/operations.md
-- "Resource limits per project").
--
-- Migration 0033 kept each project's runs in flight in project_run_counts through triggers on
-- runs. Measured on bench/intake, the statement trigger on every group-commit insert and the row
-- trigger on every finished run cost the intake a fifth of its rate (0.65 of pgbench without
-- them, 0.51 with; PostgreSQL CPU per webhook 150 -> 180 us), below the 0.55 floor. The intake
-- reads the figure at most once a second per project it is receiving webhooks for, so counting
-- the project's queued and running runs then, through the partial index of active runs
-- (runs_active_idx), costs far less than maintaining the count on every insert and finish.
DROP TRIGGER runs_limits_ins ON runs;
DROP TRIGGER runs_limits_del ON runs;
DROP TRIGGER runs_limits_upd ON runs;
DROP FUNCTION mh_limits__runs_ins();
DROP FUNCTION mh_limits__runs_del();
DROP FUNCTION mh_limits__runs_upd();
DROP TABLE project_run_counts;

-- p_count_unlimited: whether to count the runs of a project without a runs limit too (the
-- Limits page shows its usage); the intake, which needs the figure only to enforce a limit,
-- passes false and spares the count for every project that has none.
DROP FUNCTION mh_limits_usage(uuid[], bigint, bigint, bigint);
CREATE FUNCTION mh_limits_usage(p_projects uuid[], p_runs bigint, p_http bigint, p_bytes bigint,
                                p_count_unlimited boolean DEFAULT true)
RETURNS TABLE (project_id uuid, runs_limit bigint, http_calls_limit bigint, bytes_limit bigint,
               runs_in_flight bigint, stored_bytes bigint, measured_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id, coalesce(l.runs_in_flight, p_runs), coalesce(l.http_calls_in_flight, p_http),
           coalesce(l.stored_bytes, p_bytes),
           CASE WHEN p_count_unlimited OR coalesce(l.runs_in_flight, p_runs) > 0 THEN
               (SELECT count(*) FROM runs r
                 WHERE r.project_id = p.id AND r.status IN ('queued', 'running'))::bigint
           ELSE 0 END,
           coalesce(u.stored_bytes, 0), u.measured_at
      FROM projects p LEFT JOIN project_limits l ON l.project_id = p.id
      LEFT JOIN project_usage u ON u.project_id = p.id
     WHERE p.id = ANY (p_projects)
$$;
REVOKE ALL ON FUNCTION mh_limits_usage(uuid[], bigint, bigint, bigint, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_limits_usage(uuid[], bigint, bigint, bigint, boolean)
    TO meshhook_app;
