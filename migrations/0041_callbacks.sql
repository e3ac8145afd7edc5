-- wait_callback (issue #21; docs/workflows.md "Waiting for a callback").
--
-- A wait_callback step waits for a POST to its one-time URL, /callbacks/<token>, where the token
-- is "<run id>.<node id>.<MAC>" and the MAC an HMAC the server derives from its key-encryption
-- key (src/runtime/callback.c): the token is the capability, nothing else authenticates the
-- caller. The server verifies the MAC before it touches the database, then records the callback
-- here with mh_callback_accept, in one transaction that also wakes the run's job; it answers
-- 200 only after that commit, so a crash after the answer loses nothing. The worker that
-- advances the run reads the run's rows and hands them to the engine as callback_received
-- reports (held until the step starts when the callback came first).
--
-- Only a SHA-256 of the token is kept (token_hash, unique): one callback per step, and a
-- second one (or one after the step timed out or the run ended) is refused as gone.

CREATE TABLE callbacks (
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- A foreign key (callbacks are rare, not the intake's hot path: migration 0011's reasons
    -- for dropping the runs' ones do not apply).
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    node_id     text NOT NULL CHECK (length(node_id) BETWEEN 1 AND 64),
    token_hash  bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    body        jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, node_id)
);

-- Read and written by the system path (meshhook.project_id set per transaction: the worker);
-- readable by the project's members like the run's events, which record the same body.
ALTER TABLE callbacks ENABLE ROW LEVEL SECURITY;
ALTER TABLE callbacks FORCE ROW LEVEL SECURITY;
CREATE POLICY callbacks_read ON callbacks FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY callbacks_owner ON callbacks TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT ON callbacks TO meshhook_app;

-- Records a callback whose token's MAC the server verified. Returns 'accepted' (recorded, the
-- run's job due now), 'gone' (the step already has its callback, finished, timed out or was
-- skipped, or the run ended) or 'not_found' (no such run). The run's row is locked first, as a
-- worker's batch locks it, so a callback and the step's timeout are decided one after the
-- other: a callback the step can no longer take is never answered 200.
CREATE FUNCTION mh_callback_accept(p_run_id uuid, p_node_id text, p_token_hash bytea,
                                   p_body jsonb)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    v_project uuid;
    v_status text;
    v_fire_at bigint;
BEGIN
    SELECT project_id, status INTO v_project, v_status FROM runs WHERE id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'not_found';
    END IF;
    IF v_status IN ('succeeded', 'failed', 'canceled') THEN
        RETURN 'gone';
    END IF;
    IF EXISTS (SELECT 1 FROM events WHERE run_id = p_run_id AND node_id = p_node_id
                  AND type IN ('step_succeeded', 'step_failed', 'step_skipped')) THEN
        RETURN 'gone';
    END IF;
    SELECT (payload->>'fire_at')::bigint INTO v_fire_at FROM events
     WHERE run_id = p_run_id AND node_id = p_node_id AND type = 'timer_set'
     ORDER BY seq DESC LIMIT 1;
    IF v_fire_at IS NOT NULL AND v_fire_at <= (extract(epoch FROM clock_timestamp()) * 1000) THEN
        RETURN 'gone';
    END IF;
    INSERT INTO callbacks (project_id, run_id, node_id, token_hash, body)
    VALUES (v_project, p_run_id, p_node_id, p_token_hash, p_body)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'gone';
    END IF;
    UPDATE jobs SET run_at = now() WHERE run_id = p_run_id AND run_at > now();
    RETURN 'accepted';
END
$$;
REVOKE ALL ON FUNCTION mh_callback_accept(uuid, text, bytea, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_callback_accept(uuid, text, bytea, jsonb) TO meshhook_app;
