-- Several instances on one database (issue #20): rates that hold across instances.
--
-- Each `meshhook serve` registers here and beats every second (mh_instance_beat). The intake
-- of an instance that serves webhooks divides every endpoint's and project's rate and burst by
-- the number of such instances alive (heartbeat younger than the TTL it passes), so that N
-- instances admit the configured rate together instead of N times it (docs/operations.md,
-- "Running several instances"). Not a tenant table: the app role reaches it only through the
-- SECURITY DEFINER functions below; nothing on the webhook hot path touches it.
CREATE TABLE instances (
    id             uuid PRIMARY KEY,
    host           text NOT NULL DEFAULT '' CHECK (length(host) <= 255),
    pid            int NOT NULL DEFAULT 0,
    serves_intake  boolean NOT NULL,
    workers        int NOT NULL DEFAULT 0,
    started_at     timestamptz NOT NULL DEFAULT now(),
    heartbeat_at   timestamptz NOT NULL DEFAULT now()
);
-- No index on heartbeat_at: the table holds a row per running server, scanned whole, and a
-- beat then stays a heap-only update.
REVOKE ALL ON instances FROM PUBLIC;
-- Like every table: row-level security forced, the owner's policy the only one (the functions
-- below run as the owner).
ALTER TABLE instances ENABLE ROW LEVEL SECURITY;
ALTER TABLE instances FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY instances_owner ON instances TO %I USING (true) WITH CHECK (true)',
                   current_user);
END $$;

-- Records that instance `p_id` is alive now, forgets instances silent for an hour, and returns
-- how many instances serving webhooks are alive (this one included when it serves them): those
-- whose last beat is younger than p_ttl_ms. The database's clock alone decides, so the hosts'
-- clocks need not agree.
CREATE FUNCTION mh_instance_beat(p_id uuid, p_host text, p_pid int, p_serves_intake boolean,
                                 p_workers int, p_ttl_ms int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
BEGIN
    INSERT INTO instances AS i (id, host, pid, serves_intake, workers)
    VALUES (p_id, left(p_host, 255), p_pid, p_serves_intake, p_workers)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = now();
    DELETE FROM instances WHERE heartbeat_at < now() - interval '1 hour';
    SELECT count(*) INTO n FROM instances
     WHERE serves_intake AND heartbeat_at > now() - make_interval(secs => p_ttl_ms / 1000.0);
    RETURN n;
END $$;

-- An instance stopping cleanly leaves at once, so the others take its share without waiting
-- for the TTL.
CREATE FUNCTION mh_instance_leave(p_id uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM instances WHERE id = p_id
$$;

GRANT EXECUTE ON FUNCTION mh_instance_beat(uuid, text, int, boolean, int, int) TO meshhook_app;
GRANT EXECUTE ON FUNCTION mh_instance_leave(uuid) TO meshhook_app;

-- A project's delivery rate: webhooks per second admitted for all of the project's endpoints
-- together (429 beyond), and its burst. NULL: the server's default (project_delivery_rate,
-- project_delivery_burst; 0 there: no project limit). Members read it; admins set it.
-- Kept apart from other project settings on purpose (one table per concern).
CREATE TABLE project_rate_limits (
    project_id              uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    delivery_rate_per_second double precision
                            CHECK (delivery_rate_per_second > 0 AND delivery_rate_per_second <= 1000000),
    delivery_burst          int CHECK (delivery_burst BETWEEN 1 AND 10000000),
    updated_by              uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at              timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_rate_limits ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_rate_limits FORCE ROW LEVEL SECURITY;
CREATE POLICY project_rate_limits_read ON project_rate_limits FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY project_rate_limits_insert ON project_rate_limits FOR INSERT TO meshhook_app
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_rate_limits_update ON project_rate_limits FOR UPDATE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'))
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_rate_limits_delete ON project_rate_limits FOR DELETE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_rate_limits_owner ON project_rate_limits TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON project_rate_limits TO meshhook_app;

-- The intake's view of a project's delivery rate, read with its endpoint (the intake has no
-- user): NULLs when the project has none of its own.
CREATE FUNCTION mh_intake_project_rate(p_project_id uuid)
RETURNS TABLE (delivery_rate_per_second double precision, delivery_burst int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT r.delivery_rate_per_second, r.delivery_burst
      FROM project_rate_limits r WHERE r.project_id = p_project_id
$$;
GRANT EXECUTE ON FUNCTION mh_intake_project_rate(uuid) TO meshhook_app;

-- A change of a project's rate bumps its endpoints' config_version, so every instance's intake
-- reloads them (with the new rate) at their next commit, as for any endpoint change (0005).
CREATE FUNCTION mh_intake_project_rate_bump() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE webhook_endpoints SET config_version = config_version
     WHERE project_id = CASE WHEN TG_OP = 'DELETE' THEN OLD.project_id ELSE NEW.project_id END;
    RETURN NULL;
END
$$;
CREATE TRIGGER project_rate_limits_intake_bump AFTER INSERT OR UPDATE OR DELETE
    ON project_rate_limits FOR EACH ROW EXECUTE FUNCTION mh_intake_project_rate_bump();
