-- Resource limits per project (issue 20; docs/operations.md "Resource limits per project").
--
-- project_limits: a project's own limits. NULL is "the server's default" (limit_* settings), and
-- 0, stored or default, is "unlimited".
--   runs_in_flight       runs not finished (queued or running; a run waiting on a delay is
--                        running): a webhook beyond it is answered 429 and nothing is stored
--   http_calls_in_flight http_call requests of the project running at once on one server: the
--                        rest wait in the outbound executor's queue (no attempt spent)
--   stored_bytes         bytes of runs, events, deliveries and blobs the project holds, as last
--                        measured (project_usage): past it, webhooks are answered 429
--
-- project_run_counts: the runs in flight, kept exact by triggers on runs, so that nothing on the
-- intake counts rows. Each database connection adds to its own shard (backend pid modulo 64):
-- the intake's committers and the workers of every server change a project's count at once
-- without waiting on one row lock; a project's count is the sum of its shards.
--
-- project_usage: stored bytes per project, measured by mh_limits_measure() (the retention pass
-- calls it; a full scan of the project's rows, so not per request).

CREATE TABLE project_limits (
    project_id           uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    runs_in_flight       bigint CHECK (runs_in_flight BETWEEN 0 AND 100000000),
    http_calls_in_flight bigint CHECK (http_calls_in_flight BETWEEN 0 AND 100000),
    stored_bytes         bigint CHECK (stored_bytes BETWEEN 0 AND 1125899906842624),
    updated_by           uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY project_limits_read ON project_limits FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY project_limits_insert ON project_limits FOR INSERT TO meshhook_app
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_limits_update ON project_limits FOR UPDATE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'))
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_limits_owner ON project_limits TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE ON project_limits TO meshhook_app;

-- Written only by the triggers and functions below (SECURITY DEFINER): the server's role reads
-- it through mh_limits_usage.
CREATE TABLE project_run_counts (
    project_id uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    shard      int NOT NULL,
    n          bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, shard)
);
ALTER TABLE project_run_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_run_counts FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_run_counts_owner ON project_run_counts TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;

CREATE TABLE project_usage (
    project_id   uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    stored_bytes bigint NOT NULL DEFAULT 0,
    measured_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_usage ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_usage FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_usage_owner ON project_usage TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;

-- The triggers write their upserts inline: PL/pgSQL keeps their plans for the session, where a
-- SQL function called from them would be planned again at every call (tens of microseconds on
-- every batch of the intake). Each adds to this connection's shard (backend pid modulo 64). A
-- deletion or update of a project deleted in the same transaction is skipped: its cascade
-- removes its counts.
CREATE FUNCTION mh_limits__runs_ins() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO project_run_counts AS c (project_id, shard, n)
    SELECT project_id, pg_backend_pid() % 64, count(*) FROM new_runs
     WHERE status IN ('queued', 'running') GROUP BY project_id
    ON CONFLICT (project_id, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE FUNCTION mh_limits__runs_del() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO project_run_counts AS c (project_id, shard, n)
    SELECT o.project_id, pg_backend_pid() % 64, -count(*) FROM old_runs o
     WHERE o.status IN ('queued', 'running')
       AND EXISTS (SELECT 1 FROM projects p WHERE p.id = o.project_id)
     GROUP BY o.project_id
    ON CONFLICT (project_id, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- A run that finishes (or, never in practice, starts again): one row-level trigger whose WHEN
-- is evaluated without calling it, so the workers' other updates of runs (last_seq, last_hash,
-- claims) cost nothing.
CREATE FUNCTION mh_limits__runs_upd() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO project_run_counts AS c (project_id, shard, n)
    SELECT NEW.project_id, pg_backend_pid() % 64,
           CASE WHEN NEW.status IN ('queued', 'running') THEN 1 ELSE -1 END
     WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = NEW.project_id)
    ON CONFLICT (project_id, shard) DO UPDATE SET n = c.n + EXCLUDED.n;
    RETURN NULL;
END $$;

CREATE TRIGGER runs_limits_ins AFTER INSERT ON runs REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION mh_limits__runs_ins();
CREATE TRIGGER runs_limits_del AFTER DELETE ON runs REFERENCING OLD TABLE AS old_runs
    FOR EACH STATEMENT EXECUTE FUNCTION mh_limits__runs_del();
CREATE TRIGGER runs_limits_upd AFTER UPDATE OF status ON runs FOR EACH ROW
    WHEN ((OLD.status IN ('queued', 'running')) <> (NEW.status IN ('queued', 'running')))
    EXECUTE FUNCTION mh_limits__runs_upd();

-- The counts of the runs already there.
INSERT INTO project_run_counts (project_id, shard, n)
SELECT project_id, 0, count(*) FROM runs WHERE status IN ('queued', 'running')
 GROUP BY project_id;

-- Each project of `p_projects`: its effective limits (the project's, else the defaults given,
-- the server's settings) and its usage: runs in flight (the sum of its shards, never below 0),
-- stored bytes as last measured and when. For the intake's refresh and the API, across
-- projects: the caller passes only projects it serves or may see.
CREATE FUNCTION mh_limits_usage(p_projects uuid[], p_runs bigint, p_http bigint, p_bytes bigint)
RETURNS TABLE (project_id uuid, runs_limit bigint, http_calls_limit bigint, bytes_limit bigint,
               runs_in_flight bigint, stored_bytes bigint, measured_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT p.id, coalesce(l.runs_in_flight, p_runs), coalesce(l.http_calls_in_flight, p_http),
           coalesce(l.stored_bytes, p_bytes),
           greatest(coalesce((SELECT sum(c.n) FROM project_run_counts c
                               WHERE c.project_id = p.id), 0), 0)::bigint,
           coalesce(u.stored_bytes, 0), u.measured_at
      FROM projects p LEFT JOIN project_limits l ON l.project_id = p.id
      LEFT JOIN project_usage u ON u.project_id = p.id
     WHERE p.id = ANY (p_projects)
$$;
REVOKE ALL ON FUNCTION mh_limits_usage(uuid[], bigint, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_limits_usage(uuid[], bigint, bigint, bigint) TO meshhook_app;

-- Measures every project's stored bytes (pg_column_size of its runs, events and delivery rows
-- and its blobs' data, as stored: compressed where PostgreSQL compressed it; indexes and free
-- space are not counted) into project_usage. Reads every such row once: the retention pass
-- calls it, not a request. Returns the number of projects measured.
CREATE FUNCTION mh_limits_measure() RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET jit = off AS $$
DECLARE
    v_n int;
BEGIN
    WITH s AS (
        SELECT project_id, sum(b) AS b FROM (
            SELECT project_id, pg_column_size(r.*)::bigint AS b FROM runs r
            UNION ALL SELECT project_id, pg_column_size(e.*) FROM events e
            UNION ALL SELECT project_id, pg_column_size(d.*) FROM webhook_deliveries d
            UNION ALL SELECT project_id, pg_column_size(x.data) FROM blobs x) t
         GROUP BY project_id),
    ins AS (
        INSERT INTO project_usage AS u (project_id, stored_bytes, measured_at)
        SELECT p.id, coalesce(s.b, 0), now() FROM projects p LEFT JOIN s ON s.project_id = p.id
        ON CONFLICT (project_id) DO UPDATE SET stored_bytes = EXCLUDED.stored_bytes,
                                               measured_at = EXCLUDED.measured_at
        RETURNING 1)
    SELECT count(*) INTO v_n FROM ins;
    RETURN v_n;
END $$;
REVOKE ALL ON FUNCTION mh_limits_measure() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_limits_measure() TO meshhook_app;
