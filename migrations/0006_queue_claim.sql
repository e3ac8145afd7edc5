-- mh_claim_jobs, again: the first version joined the jobs table to the subquery of due ids,
-- which the planner may turn into a hash join over a sequential scan of every job — one scan
-- of the whole queue per claim, so claiming slowed down as the queue grew. Matching the ids with
-- = ANY(ARRAY(...)) makes it an index lookup of exactly the claimed rows.
CREATE OR REPLACE FUNCTION mh_claim_jobs(p_worker text, p_limit int, p_lease_ms int)
RETURNS TABLE (id bigint, project_id uuid, run_id uuid, kind text, payload jsonb, attempts int,
               max_attempts int)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j
       SET lease_owner = p_worker,
           lease_until = now() + p_lease_ms * interval '1 millisecond',
           attempts = j.attempts + 1
     WHERE j.id = ANY (ARRAY(SELECT c.id FROM jobs c
                              WHERE c.run_at <= now()
                                AND (c.lease_until IS NULL OR c.lease_until < now())
                              ORDER BY c.run_at
                              LIMIT p_limit
                              FOR UPDATE SKIP LOCKED))
    RETURNING j.id, j.project_id, j.run_id, j.kind, j.payload, j.attempts, j.max_attempts
$$;
