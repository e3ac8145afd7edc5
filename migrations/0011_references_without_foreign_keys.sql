-- The three foreign keys left on the rows every accepted webhook writes are dropped:
--
--   runs (project_id, workflow_id)               -> workflows (project_id, id)
--   events (run_id, run_created_at)              -> runs (id, created_at)
--   webhook_deliveries (project_id, endpoint_id) -> webhook_endpoints (project_id, id)
--
-- all ON DELETE CASCADE. A foreign key checks every inserted row with a query of its own and
-- locks the parent once per child: ~0.45 ms of PostgreSQL's time per batch of 16 accepted
-- webhooks, about a sixth of its CPU per webhook (docs/BENCHMARKS.md). Statement-level AFTER
-- INSERT triggers checking a whole batch at once were tried and cost as much (~0.3 ms a batch:
-- their queries over the transition table are planned at every call), so the writers keep the
-- references themselves, at the cost of one lookup per statement:
--
-- * No child without its parent, and no parent deleted from under a child being inserted. Each
--   statement that inserts runs or deliveries locks their parents FOR KEY SHARE, as a foreign
--   key does, and inserts only what it could lock: the intake's batch (src/intake/commit.c),
--   run creation and resume (src/engine/store.c), the replay of a delivery
--   (src/http/handlers/endpoints.c) and mh_intake_log_refused below. A concurrent DELETE of the
--   parent therefore waits for the inserting transaction, and then (READ COMMITTED: each
--   statement of a cascade takes a fresh snapshot) its cascade sees and deletes the new
--   children; a parent deleted first is not found, and nothing is inserted.
--   Events need no lock: every statement that inserts events either inserts their run in the
--   same statement (the intake, run creation, resume) or holds the run FOR UPDATE already (the
--   worker's advance_batch), so a deletion of the run waits for it.
-- * ON DELETE CASCADE. After each DELETE statement on a parent, its children go, in one
--   statement, through the transition table of the deleted rows. This runs for cascaded
--   deletions too (a project's workflows, a workflow's runs and endpoints).
-- * Keys do not move. Updating a key column of a parent or a child is refused; no statement of
--   MeshHook does.
-- * Checked. mh_reference_orphans() counts children without their parent; the integration
--   tests call it after every test that runs the server (tests/integration/itest.c), and an
--   operator can too.
--
-- Like foreign-key actions, the cascades run as the owner, whose policy sees every row: a
-- cascade applies whatever the caller's row-level security shows.

ALTER TABLE runs DROP CONSTRAINT runs_project_id_workflow_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_run_id_run_created_at_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_project_id_endpoint_id_fkey;
-- UNIQUE (id, created_at) existed for the events foreign key only; the primary key on id
-- already makes the pair unique.
ALTER TABLE runs DROP CONSTRAINT runs_id_created_at_key;

-- ---------------------------------------------------------------------------------------------
-- Deletes: the children of the statement's deleted rows go with them. Each looks its children
-- up by the parent's id alone (unique by itself), through the children's index on it.

CREATE FUNCTION mh_ref_workflows_cascade() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM runs WHERE workflow_id = ANY (ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END
$$;
CREATE TRIGGER workflows_ref_cascade AFTER DELETE ON workflows REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mh_ref_workflows_cascade();

CREATE FUNCTION mh_ref_runs_cascade() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM events WHERE run_id = ANY (ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_ref_cascade AFTER DELETE ON runs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mh_ref_runs_cascade();

CREATE FUNCTION mh_ref_endpoints_cascade() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    DELETE FROM webhook_deliveries WHERE endpoint_id = ANY (ARRAY(SELECT id FROM old_rows));
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_endpoints_ref_cascade AFTER DELETE ON webhook_endpoints
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION mh_ref_endpoints_cascade();

-- ---------------------------------------------------------------------------------------------
-- Keys do not move: an UPDATE that changes a referenced or referencing key is refused. These
-- fire only for statements that name one of the columns, which no statement of MeshHook does.

CREATE FUNCTION mh_ref_key_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the key columns of % (%) cannot change', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'foreign_key_violation';
END
$$;
CREATE TRIGGER workflows_key_fixed BEFORE UPDATE OF id, project_id ON workflows FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION mh_ref_key_fixed('id, project_id');
CREATE TRIGGER runs_key_fixed BEFORE UPDATE OF id, created_at, project_id, workflow_id ON runs
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.created_at IS DISTINCT FROM NEW.created_at
          OR OLD.project_id IS DISTINCT FROM NEW.project_id
          OR OLD.workflow_id IS DISTINCT FROM NEW.workflow_id)
    EXECUTE FUNCTION mh_ref_key_fixed('id, created_at, project_id, workflow_id');
CREATE TRIGGER events_key_fixed BEFORE UPDATE OF run_id, run_created_at ON events FOR EACH ROW
    WHEN (OLD.run_id IS DISTINCT FROM NEW.run_id
          OR OLD.run_created_at IS DISTINCT FROM NEW.run_created_at)
    EXECUTE FUNCTION mh_ref_key_fixed('run_id, run_created_at');
CREATE TRIGGER webhook_endpoints_key_fixed BEFORE UPDATE OF id, project_id ON webhook_endpoints
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.project_id IS DISTINCT FROM NEW.project_id)
    EXECUTE FUNCTION mh_ref_key_fixed('id, project_id');
CREATE TRIGGER webhook_deliveries_key_fixed BEFORE UPDATE OF project_id, endpoint_id
    ON webhook_deliveries FOR EACH ROW
    WHEN (OLD.project_id IS DISTINCT FROM NEW.project_id
          OR OLD.endpoint_id IS DISTINCT FROM NEW.endpoint_id)
    EXECUTE FUNCTION mh_ref_key_fixed('project_id, endpoint_id');

-- ---------------------------------------------------------------------------------------------
-- The refused-delivery log locks the endpoints it writes for, like the intake's batch.
CREATE OR REPLACE FUNCTION mh_intake_log_refused(p_rows jsonb) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ins AS (
        INSERT INTO webhook_deliveries (project_id, endpoint_id, received_at, method, status,
                                        outcome, reason, headers, content_type, body_size,
                                        body_hash, run_id, is_test)
        SELECT (r->>'project_id')::uuid, (r->>'endpoint_id')::uuid,
               (r->>'received_at')::timestamptz, left(r->>'method', 16),
               (r->>'status')::int, r->>'outcome', left(r->>'reason', 500),
               coalesce(r->'headers', '{}'::jsonb), left(r->>'content_type', 200),
               coalesce((r->>'body_size')::int, 0), decode(r->>'body_hash', 'hex'),
               (r->>'run_id')::uuid, coalesce((r->>'is_test')::boolean, false)
          FROM jsonb_array_elements(p_rows) r
          JOIN webhook_endpoints e ON e.id = (r->>'endpoint_id')::uuid
                                  AND e.project_id = (r->>'project_id')::uuid
         WHERE r->>'outcome' IN ('refused', 'duplicate')
           FOR KEY SHARE OF e
        RETURNING 1)
    SELECT count(*)::int FROM ins
$$;

-- ---------------------------------------------------------------------------------------------
-- Children whose parent is missing, per reference: all zero on a consistent database.
CREATE FUNCTION mh_reference_orphans()
RETURNS TABLE (reference text, orphans bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT 'runs -> workflows', count(*) FROM runs c
     WHERE NOT EXISTS (SELECT 1 FROM workflows p
                        WHERE p.id = c.workflow_id AND p.project_id = c.project_id)
    UNION ALL
    SELECT 'events -> runs', count(*) FROM events c
     WHERE NOT EXISTS (SELECT 1 FROM runs p
                        WHERE p.id = c.run_id AND p.created_at = c.run_created_at)
    UNION ALL
    SELECT 'webhook_deliveries -> webhook_endpoints', count(*) FROM webhook_deliveries c
     WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints p
                        WHERE p.id = c.endpoint_id AND p.project_id = c.project_id)
$$;
REVOKE ALL ON FUNCTION mh_reference_orphans() FROM PUBLIC;
