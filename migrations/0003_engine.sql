-- The durable engine (issue 5): run bookkeeping, and the queue's system path.

-- The last event's seq and hash, kept with the run so that a truncated log (events removed
-- from the end) is detectable: the chain alone cannot show it.
ALTER TABLE runs ADD COLUMN version int;
ALTER TABLE runs ADD COLUMN last_seq int NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN last_hash bytea;
ALTER TABLE runs ADD COLUMN resumed_from_node text;

-- Claims up to p_limit due jobs of any project for worker p_worker, leasing them for
-- p_lease_ms. A job is due when its run_at has come and it is not leased, or its lease ran
-- out (its worker died). SKIP LOCKED lets concurrent workers claim disjoint batches. Each claim
-- counts an attempt; the worker resets the count when it finishes the job's work, so only jobs
-- whose processing keeps failing (or crashing their worker) reach max_attempts. Only queue
-- metadata is returned; the worker then acts for the job's one project (meshhook.project_id).
CREATE FUNCTION mh_claim_jobs(p_worker text, p_limit int, p_lease_ms int)
RETURNS TABLE (id bigint, project_id uuid, run_id uuid, kind text, payload jsonb, attempts int,
               max_attempts int)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j
       SET lease_owner = p_worker,
           lease_until = now() + p_lease_ms * interval '1 millisecond',
           attempts = j.attempts + 1
      FROM (SELECT c.id FROM jobs c
             WHERE c.run_at <= now() AND (c.lease_until IS NULL OR c.lease_until < now())
             ORDER BY c.run_at
             LIMIT p_limit
             FOR UPDATE SKIP LOCKED) due
     WHERE j.id = due.id
    RETURNING j.id, j.project_id, j.run_id, j.kind, j.payload, j.attempts, j.max_attempts
$$;

-- Releases every lease a worker holds (a draining process hands its jobs back at once rather
-- than after the lease runs out).
CREATE FUNCTION mh_release_leases(p_worker text) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH r AS (UPDATE jobs SET lease_owner = NULL, lease_until = NULL,
                               attempts = greatest(attempts - 1, 0)
                WHERE lease_owner = p_worker RETURNING 1)
    SELECT count(*)::int FROM r
$$;

-- Queue depth for /metrics and the benchmark (no tenant data).
CREATE FUNCTION mh_queue_depth() RETURNS TABLE (due bigint, scheduled bigint, leased bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FILTER (WHERE run_at <= now() AND (lease_until IS NULL OR lease_until < now())),
           count(*) FILTER (WHERE run_at > now()),
           count(*) FILTER (WHERE lease_until >= now())
      FROM jobs
$$;

CREATE INDEX jobs_lease_owner_idx ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO meshhook_app;

-- Test runs execute a snapshot of the draft: an immutable 'test' version with no number, so
-- replay of a test run sees exactly what ran even after the draft changes.
ALTER TABLE workflow_versions DROP CONSTRAINT workflow_versions_check;
ALTER TABLE workflow_versions DROP CONSTRAINT workflow_versions_state_check;
ALTER TABLE workflow_versions ADD CONSTRAINT workflow_versions_state_check
    CHECK (state IN ('draft', 'published', 'test'));
ALTER TABLE workflow_versions ADD CONSTRAINT workflow_versions_number_check
    CHECK ((state = 'published') = (version IS NOT NULL));
DROP TRIGGER workflow_versions_immutable ON workflow_versions;
CREATE OR REPLACE FUNCTION mh_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state <> 'draft' THEN
        RAISE EXCEPTION '% workflow versions are immutable', OLD.state USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER workflow_versions_immutable BEFORE UPDATE OR DELETE ON workflow_versions
    FOR EACH ROW WHEN (OLD.state <> 'draft' AND pg_trigger_depth() = 0)
    EXECUTE FUNCTION mh_versions_immutable();
