-- Failure alerts (issue #16, docs/observability.md "Alerts").
--
-- A project's rules watch its runs, dead letters, queue and intake; a rule that fires opens an
-- alert (one per rule while its condition holds, with a count), and each of the rule's channels
-- gets a delivery: a signed webhook, or a run of an error workflow. Deliveries go through the
-- queue (jobs of kind 'alert', committed with the alert they announce), so a crash between
-- firing and sending loses nothing. Viewers read all of it; owners and admins write rules and
-- channels. The evaluator and the deliverer run on the system path (SECURITY DEFINER functions
-- below, then meshhook.project_id per project).

CREATE TABLE alert_channels (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    type            text NOT NULL CHECK (type IN ('webhook', 'workflow')),
    url             text CHECK (url ~ '^https?://'),
    workflow_id     uuid,
    -- The Standard Webhooks secret ("whsec_..."), sealed by the vault (AAD: project and
    -- "alert_channel:<id>"); shown once, at creation.
    kek_id          text,
    sealed_secret   bytea,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, id),
    CHECK ((type = 'webhook') = (url IS NOT NULL AND sealed_secret IS NOT NULL)),
    CHECK ((type = 'workflow') = (workflow_id IS NOT NULL))
);

CREATE TABLE alert_rules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('run_failed', 'failure_count', 'failure_rate',
                                                  'dead_letter', 'queue_age', 'refusals')),
    window_s        int NOT NULL CHECK (window_s > 0),
    threshold       numeric NOT NULL CHECK (threshold > 0),
    workflow_ids    uuid[],                      -- NULL: every workflow of the project
    channel_ids     uuid[] NOT NULL DEFAULT '{}',
    enabled         boolean NOT NULL DEFAULT true,
    -- Evaluation state, written by mh_alerts_evaluate only.
    state           text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing')),
    alert_id        uuid,
    next_eval_at    timestamptz NOT NULL DEFAULT now(),
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_project_idx ON alert_rules (project_id, created_at);
CREATE INDEX alert_rules_due_idx ON alert_rules (next_eval_at) WHERE enabled;

-- The alert history: one row per firing (state firing, then resolved), and one per test alert.
CREATE TABLE alerts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    rule_id         uuid REFERENCES alert_rules (id) ON DELETE SET NULL,
    rule_name       text NOT NULL,
    kind            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('firing', 'resolved', 'test')),
    value           numeric NOT NULL DEFAULT 0,   -- the measured value when last evaluated
    threshold       numeric NOT NULL DEFAULT 0,
    window_s        int NOT NULL DEFAULT 0,
    count           bigint NOT NULL DEFAULT 0,    -- notifications sent while firing
    started_at      timestamptz NOT NULL DEFAULT now(),
    notified_at     timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX alerts_project_idx ON alerts (project_id, started_at, id);

-- One row per (notification, channel): the delivery log.
CREATE TABLE alert_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    alert_id        uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    channel_id      uuid NOT NULL REFERENCES alert_channels (id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('alert.firing', 'alert.resolved',
                                                   'alert.test')),
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        int NOT NULL DEFAULT 0,
    last_status     int,
    last_error      text,
    run_id          uuid,                         -- the error workflow's run
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX alert_deliveries_channel_idx ON alert_deliveries (channel_id, created_at, id);
CREATE INDEX alert_deliveries_alert_idx ON alert_deliveries (alert_id);

CREATE TABLE alert_delivery_attempts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    delivery_id     uuid NOT NULL REFERENCES alert_deliveries (id) ON DELETE CASCADE,
    attempt         int NOT NULL,
    at              timestamptz NOT NULL DEFAULT now(),
    status          int,
    error           text,
    duration_ms     bigint NOT NULL DEFAULT 0
);
CREATE INDEX alert_delivery_attempts_delivery_idx ON alert_delivery_attempts (delivery_id, id);

DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES ('alert_channels'), ('alert_rules'), ('alerts'),
                                   ('alert_deliveries'), ('alert_delivery_attempts')) AS v(name)
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO meshhook_app '
                       'USING (mh_can(project_id, ''viewer''))', t.name || '_read', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR INSERT TO meshhook_app '
                       'WITH CHECK (mh_can(project_id, ''admin''))', t.name || '_insert', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE TO meshhook_app '
                       'USING (mh_can(project_id, ''admin'')) '
                       'WITH CHECK (mh_can(project_id, ''admin''))', t.name || '_update', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR DELETE TO meshhook_app '
                       'USING (mh_can(project_id, ''admin''))', t.name || '_delete', t.name);
        EXECUTE format('CREATE POLICY %I ON %I TO %I USING (true) WITH CHECK (true)',
                       t.name || '_owner', t.name, current_user);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO meshhook_app', t.name);
    END LOOP;
END
$$;

-- What the rules read, indexed so that one evaluation stays cheap with millions of rows. Both
-- are partial: the hot paths (a run queued, a delivery accepted) write no entry in them. The
-- finished runs' index covers what the rules filter on, so counting a window is an index-only
-- scan of the window's entries.
CREATE INDEX runs_finished_alert_idx ON runs (project_id, finished_at)
    INCLUDE (status, workflow_id, is_test) WHERE status IN ('failed', 'succeeded', 'canceled');
-- Counting failures alone (run_failed, failure_count) reads only the failed runs' entries.
CREATE INDEX runs_failed_alert_idx ON runs (project_id, finished_at)
    INCLUDE (workflow_id, is_test) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_refused_idx ON webhook_deliveries (project_id, received_at)
    WHERE outcome = 'refused';
CREATE INDEX jobs_alert_due_idx ON jobs (run_at) WHERE kind = 'alert';

-- The engine claims run jobs only: alert deliveries (run_id NULL) are the deliverer's, which
-- claims them with mh_claim_alert_jobs. Otherwise as 0006.
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
                                AND c.kind <> 'alert'
                              ORDER BY c.run_at
                              LIMIT p_limit
                              FOR UPDATE SKIP LOCKED))
    RETURNING j.id, j.project_id, j.run_id, j.kind, j.payload, j.attempts, j.max_attempts
$$;

-- Claims due alert deliveries of any project, leasing them for p_lease_ms (a crashed
-- deliverer's jobs come due again when the lease runs out).
CREATE FUNCTION mh_claim_alert_jobs(p_worker text, p_limit int, p_lease_ms int)
RETURNS TABLE (id bigint, project_id uuid, delivery_id uuid, attempts int, max_attempts int)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    UPDATE jobs j
       SET lease_owner = p_worker,
           lease_until = now() + p_lease_ms * interval '1 millisecond',
           attempts = j.attempts + 1
     WHERE j.id = ANY (ARRAY(SELECT c.id FROM jobs c
                              WHERE c.kind = 'alert' AND c.run_at <= now()
                                AND (c.lease_until IS NULL OR c.lease_until < now())
                              ORDER BY c.run_at
                              LIMIT p_limit
                              FOR UPDATE SKIP LOCKED))
    RETURNING j.id, j.project_id, (j.payload->>'delivery_id')::uuid, j.attempts, j.max_attempts
$$;

-- The measured value of a rule now (see docs/observability.md for each kind).
CREATE FUNCTION mh_alert_rule_value(r alert_rules) RETURNS numeric
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    since timestamptz := now() - r.window_s * interval '1 second';
    failed bigint;
    finished bigint;
BEGIN
    IF r.kind IN ('run_failed', 'failure_count') THEN
        SELECT count(*) INTO failed FROM runs x
         WHERE x.project_id = r.project_id AND x.status = 'failed' AND x.finished_at >= since
           AND NOT x.is_test AND (r.workflow_ids IS NULL OR x.workflow_id = ANY (r.workflow_ids));
        RETURN failed;
    ELSIF r.kind = 'failure_rate' THEN
        SELECT count(*) FILTER (WHERE x.status = 'failed'), count(*) INTO failed, finished
          FROM runs x
         WHERE x.project_id = r.project_id AND x.status IN ('failed', 'succeeded', 'canceled')
           AND x.finished_at >= since AND NOT x.is_test
           AND (r.workflow_ids IS NULL OR x.workflow_id = ANY (r.workflow_ids));
        IF finished = 0 THEN
            RETURN 0;
        END IF;
        RETURN round(100.0 * failed / finished, 2);
    ELSIF r.kind = 'dead_letter' THEN
        SELECT count(*) INTO failed FROM dead_letters d
         WHERE d.project_id = r.project_id AND d.failed_at >= since
           AND (r.workflow_ids IS NULL OR EXISTS (SELECT 1 FROM runs x WHERE x.id = d.run_id
                                                  AND x.workflow_id = ANY (r.workflow_ids)));
        RETURN failed;
    ELSIF r.kind = 'queue_age' THEN
        RETURN coalesce((SELECT extract(epoch FROM now() - min(j.run_at))::numeric(20, 3)
                           FROM jobs j
                          WHERE j.project_id = r.project_id AND j.kind <> 'alert'
                            AND j.run_at <= now()), 0);
    ELSIF r.kind = 'refusals' THEN
        SELECT count(*) INTO failed FROM webhook_deliveries w
         WHERE w.project_id = r.project_id AND w.outcome = 'refused'
           AND w.received_at >= since AND w.status IN (401, 422, 429) AND NOT w.is_test;
        RETURN failed;
    END IF;
    RETURN 0;
END
$$;

-- Queues one delivery per channel (those still existing) for alert p_alert.
CREATE FUNCTION mh_alert_enqueue(p_project uuid, p_alert uuid, p_channels uuid[], p_event text,
                                 p_payload jsonb) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE n int;
BEGIN
    WITH d AS (INSERT INTO alert_deliveries (project_id, alert_id, channel_id, event, payload)
               SELECT p_project, p_alert, c.id, p_event, p_payload FROM alert_channels c
                WHERE c.project_id = p_project AND c.id = ANY (p_channels)
               RETURNING id),
         j AS (INSERT INTO jobs (project_id, kind, payload, max_attempts)
               SELECT p_project, 'alert', jsonb_build_object('delivery_id', d.id), 12 FROM d
               RETURNING 1)
    SELECT count(*) INTO n FROM j;
    RETURN n;
END
$$;

-- The payload every channel receives (the webhook's body, the error workflow's trigger body).
CREATE FUNCTION mh_alert_payload(p_alert alerts, p_event text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'type', p_event,
        'timestamp', to_jsonb(now()),
        'data', jsonb_build_object(
            'alert_id', p_alert.id, 'project_id', p_alert.project_id,
            'project', (SELECT name FROM projects WHERE id = p_alert.project_id),
            'rule_id', p_alert.rule_id, 'rule', p_alert.rule_name, 'kind', p_alert.kind,
            'state', CASE p_event WHEN 'alert.resolved' THEN 'resolved'
                                  WHEN 'alert.test' THEN 'test' ELSE 'firing' END,
            'value', p_alert.value, 'threshold', p_alert.threshold,
            'window_s', p_alert.window_s, 'count', p_alert.count,
            'started_at', p_alert.started_at, 'resolved_at', p_alert.resolved_at))
$$;

-- One evaluation round: claims up to p_limit enabled rules that are due (SKIP LOCKED, so
-- several servers share the work and never evaluate one rule twice at once), measures each and
-- moves its state:
--   ok      + condition  -> a new alert (firing, count 1) and an 'alert.firing' delivery per channel
--   firing  + condition  -> the alert's value is updated; once a whole window has passed since
--                           the last notification, one more 'alert.firing' (count + 1): at most
--                           one notification per rule per window, however many failures
--   firing  + clear      -> the alert is resolved and 'alert.resolved' goes to every channel
-- Returns how many deliveries were queued.
CREATE FUNCTION mh_alerts_evaluate(p_limit int, p_every_ms int) RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    r alert_rules;
    a alerts;
    v numeric;
    hit boolean;
    queued int := 0;
    memo jsonb := '{}';   -- rules measuring the same thing share one measurement per round
    key text;
BEGIN
    FOR r IN SELECT * FROM alert_rules x
              WHERE x.enabled AND x.next_eval_at <= now()
              ORDER BY x.next_eval_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        key := concat_ws('/', r.project_id,
                         CASE WHEN r.kind IN ('run_failed', 'failure_count') THEN 'failed'
                              ELSE r.kind END,
                         r.window_s, r.workflow_ids::text);
        IF memo ? key THEN
            v := (memo->>key)::numeric;
        ELSE
            v := mh_alert_rule_value(r);
            memo := memo || jsonb_build_object(key, v);
        END IF;
        hit := CASE WHEN r.kind = 'failure_rate' THEN v > r.threshold ELSE v >= r.threshold END;
        IF hit AND r.state = 'ok' THEN
            INSERT INTO alerts (project_id, rule_id, rule_name, kind, state, value, threshold,
                                window_s, count)
            VALUES (r.project_id, r.id, r.name, r.kind, 'firing', v, r.threshold, r.window_s, 1)
            RETURNING * INTO a;
            queued := queued + mh_alert_enqueue(r.project_id, a.id, r.channel_ids,
                                                'alert.firing', mh_alert_payload(a, 'alert.firing'));
            UPDATE alert_rules SET state = 'firing', alert_id = a.id WHERE id = r.id;
        ELSIF hit THEN
            UPDATE alerts SET value = v WHERE id = r.alert_id RETURNING * INTO a;
            IF a.id IS NULL THEN               -- the alert was removed: start afresh
                UPDATE alert_rules SET state = 'ok', alert_id = NULL WHERE id = r.id;
            ELSIF a.notified_at <= now() - r.window_s * interval '1 second' THEN
                UPDATE alerts SET count = count + 1, notified_at = now() WHERE id = a.id
                RETURNING * INTO a;
                queued := queued + mh_alert_enqueue(r.project_id, a.id, r.channel_ids,
                                                    'alert.firing',
                                                    mh_alert_payload(a, 'alert.firing'));
            END IF;
        ELSIF r.state = 'firing' THEN
            UPDATE alerts SET state = 'resolved', value = v, resolved_at = now()
             WHERE id = r.alert_id RETURNING * INTO a;
            IF a.id IS NOT NULL THEN
                queued := queued + mh_alert_enqueue(r.project_id, a.id, r.channel_ids,
                                                    'alert.resolved',
                                                    mh_alert_payload(a, 'alert.resolved'));
            END IF;
            UPDATE alert_rules SET state = 'ok', alert_id = NULL WHERE id = r.id;
        END IF;
        UPDATE alert_rules SET next_eval_at = now() + p_every_ms * interval '1 millisecond'
         WHERE id = r.id;
    END LOOP;
    RETURN queued;
END
$$;

-- A test alert for one channel, queued like a real one (the API calls it as the admin).
CREATE FUNCTION mh_alert_test(p_project uuid, p_channel uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY INVOKER SET search_path = public, pg_temp AS $$
DECLARE a alerts; d uuid;
BEGIN
    INSERT INTO alerts (project_id, rule_name, kind, state)
    VALUES (p_project, 'Test alert', 'test', 'test') RETURNING * INTO a;
    INSERT INTO alert_deliveries (project_id, alert_id, channel_id, event, payload)
    VALUES (p_project, a.id, p_channel, 'alert.test', mh_alert_payload(a, 'alert.test'))
    RETURNING id INTO d;
    INSERT INTO jobs (project_id, kind, payload, max_attempts)
    VALUES (p_project, 'alert', jsonb_build_object('delivery_id', d), 12);
    RETURN d;
END
$$;

REVOKE ALL ON FUNCTION mh_claim_alert_jobs(text, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION mh_alerts_evaluate(int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_claim_alert_jobs(text, int, int) TO meshhook_app;
GRANT EXECUTE ON FUNCTION mh_alerts_evaluate(int, int) TO meshhook_app;
GRANT EXECUTE ON FUNCTION mh_alert_payload(alerts, text) TO meshhook_app;
GRANT EXECUTE ON FUNCTION mh_alert_test(uuid, uuid) TO meshhook_app;
