-- Circuit breakers made durable (issues #15, #16; docs/observability.md "Breakers").
--
-- A breaker lives in the memory of the server whose http_call steps tripped it (src/outbound/
-- breaker.c): per project and origin, opened after N consecutive failures, closed by a
-- successful probe. Its transitions (never its per-request checks) are written here by a
-- background writer of that server (src/breakers/), one row per opening, closed_at set when it
-- closes. The "breaker_opened" alert rule reads these rows: it fires once per opening, with the
-- host, and resolves when the breaker closes.
--
-- Breakers are per server: two servers on one database may each open one for the same host,
-- and each writes its own row (`server` tells them apart). A server that stops while a breaker
-- is open leaves its row open; the next opening by any server for the same project and host
-- closes such a row (closed_at = that opening), so at most one row per (project, host, server)
-- is open and a stale one does not outlive the next opening. Rows are kept as long as the
-- project's runs (retention, mh_retention_purge 'breaker_events').

CREATE TABLE breaker_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id  uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    origin      text NOT NULL CHECK (length(origin) BETWEEN 1 AND 300), -- scheme://host:port
    host        text NOT NULL CHECK (length(host) BETWEEN 1 AND 260),   -- host alone
    server      text NOT NULL CHECK (length(server) BETWEEN 1 AND 100),
    failures    int NOT NULL DEFAULT 0,
    opened_at   timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz
);
CREATE INDEX breaker_events_project_idx ON breaker_events (project_id, opened_at, id);
CREATE INDEX breaker_events_open_idx ON breaker_events (project_id, origin) WHERE closed_at IS NULL;
CREATE INDEX breaker_events_id_idx ON breaker_events (project_id, id);

-- Written by the system path only (meshhook.project_id set per transaction); read by viewers.
ALTER TABLE breaker_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE breaker_events FORCE ROW LEVEL SECURITY;
CREATE POLICY breaker_events_read ON breaker_events FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY breaker_events_insert ON breaker_events FOR INSERT TO meshhook_app
    WITH CHECK (project_id = mh_pid());
CREATE POLICY breaker_events_update ON breaker_events FOR UPDATE TO meshhook_app
    USING (project_id = mh_pid()) WITH CHECK (project_id = mh_pid());
DO $$ BEGIN
    EXECUTE format('CREATE POLICY breaker_events_owner ON breaker_events TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE ON breaker_events TO meshhook_app;

-- ---------------------------------------------------------------------------------------------
-- The "breaker_opened" alert rule: optional host filter (NULL: any host; else the host alone,
-- "api.example.com", or the whole origin, "https://api.example.com:443"), and a cursor: the
-- last breaker_events id the rule has looked at, so each opening fires exactly once.
ALTER TABLE alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('run_failed', 'failure_count', 'failure_rate', 'dead_letter', 'queue_age',
                    'refusals', 'breaker_opened'));
ALTER TABLE alert_rules ADD COLUMN host text CHECK (host IS NULL OR length(host) BETWEEN 1 AND 300);
ALTER TABLE alert_rules ADD COLUMN breaker_cursor bigint NOT NULL DEFAULT 0;
-- The subject of an alert that is about one thing (a breaker opening: {"host", "origin",
-- "opened_at", "closed_at"?}), merged into the notification's data.
ALTER TABLE alerts ADD COLUMN detail jsonb;
ALTER TABLE alerts ADD COLUMN breaker_event_id bigint;
CREATE INDEX alerts_breaker_open_idx ON alerts (breaker_event_id)
    WHERE breaker_event_id IS NOT NULL AND state = 'firing';

-- A new rule starts after the openings that happened before it existed.
CREATE FUNCTION mh_alert_rule_breaker_cursor() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF NEW.kind = 'breaker_opened' AND NEW.breaker_cursor = 0 THEN
        NEW.breaker_cursor := coalesce((SELECT max(id) FROM breaker_events
                                         WHERE project_id = NEW.project_id), 0);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER alert_rules_breaker_cursor BEFORE INSERT ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION mh_alert_rule_breaker_cursor();

-- As 0024, with the alert's detail merged into data.
CREATE OR REPLACE FUNCTION mh_alert_payload(p_alert alerts, p_event text) RETURNS jsonb
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
            'started_at', p_alert.started_at, 'resolved_at', p_alert.resolved_at)
            || coalesce(p_alert.detail, '{}'))
$$;

-- One breaker_opened rule's round: an alert (firing) and an 'alert.firing' delivery per channel
-- for each opening since the rule's cursor that matches its host filter; each of the rule's
-- firing alerts whose breaker has closed since is resolved ('alert.resolved'). The rule is
-- 'firing' while any of its alerts is. Returns the deliveries queued.
CREATE FUNCTION mh_alerts_evaluate_breakers(r alert_rules) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
    b breaker_events;
    a alerts;
    queued int := 0;
    last bigint := r.breaker_cursor;
    n int := 0;
BEGIN
    FOR b IN SELECT * FROM breaker_events e
              WHERE e.project_id = r.project_id AND e.id > r.breaker_cursor
              ORDER BY e.id LIMIT 100 LOOP
        last := b.id;
        -- The filter names the host, or the origin with or without its default port.
        CONTINUE WHEN r.host IS NOT NULL
                  AND r.host NOT IN (b.host, b.origin,
                                     regexp_replace(b.origin, '^(http://.*):80$|^(https://.*):443$',
                                                    '\1\2'));
        INSERT INTO alerts (project_id, rule_id, rule_name, kind, state, value, threshold,
                            window_s, count, started_at, detail, breaker_event_id)
        VALUES (r.project_id, r.id, r.name, r.kind, 'firing', b.failures, r.threshold,
                r.window_s, 1, b.opened_at,
                jsonb_build_object('host', b.host, 'origin', b.origin, 'opened_at', b.opened_at,
                                   'failures', b.failures),
                b.id)
        RETURNING * INTO a;
        queued := queued + mh_alert_enqueue(r.project_id, a.id, r.channel_ids, 'alert.firing',
                                            mh_alert_payload(a, 'alert.firing'));
    END LOOP;
    FOR a IN SELECT x.* FROM alerts x JOIN breaker_events e ON e.id = x.breaker_event_id
              WHERE x.rule_id = r.id AND x.state = 'firing' AND e.closed_at IS NOT NULL LOOP
        UPDATE alerts SET state = 'resolved', resolved_at = e.closed_at,
                          detail = detail || jsonb_build_object('closed_at', e.closed_at)
          FROM breaker_events e
         WHERE alerts.id = a.id AND e.id = a.breaker_event_id
        RETURNING alerts.* INTO a;
        queued := queued + mh_alert_enqueue(r.project_id, a.id, r.channel_ids, 'alert.resolved',
                                            mh_alert_payload(a, 'alert.resolved'));
    END LOOP;
    SELECT count(*) INTO n FROM alerts x WHERE x.rule_id = r.id AND x.state = 'firing';
    UPDATE alert_rules
       SET breaker_cursor = last,
           state = CASE WHEN n > 0 THEN 'firing' ELSE 'ok' END,
           alert_id = (SELECT x.id FROM alerts x WHERE x.rule_id = r.id AND x.state = 'firing'
                        ORDER BY x.started_at DESC LIMIT 1)
     WHERE id = r.id;
    RETURN queued;
END
$$;

-- As 0024, with breaker_opened rules evaluated by mh_alerts_evaluate_breakers.
CREATE OR REPLACE FUNCTION mh_alerts_evaluate(p_limit int, p_every_ms int) RETURNS int
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
        IF r.kind = 'breaker_opened' THEN
            queued := queued + mh_alerts_evaluate_breakers(r);
            UPDATE alert_rules SET next_eval_at = now() + p_every_ms * interval '1 millisecond'
             WHERE id = r.id;
            CONTINUE;
        END IF;
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

-- ---------------------------------------------------------------------------------------------
-- Writing transitions (the server's breaker writer, on the system path of the project).

-- An opening: closes any row of the project and origin still open (a stale one left by a
-- stopped server, or this server's own when a close was lost) and inserts the new one.
CREATE FUNCTION mh_breaker_opened(p_project uuid, p_origin text, p_host text, p_server text,
                                  p_failures int, p_at timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE id bigint;
BEGIN
    UPDATE breaker_events SET closed_at = p_at
     WHERE project_id = p_project AND origin = p_origin AND closed_at IS NULL
       AND (server = p_server OR opened_at < p_at);
    INSERT INTO breaker_events (project_id, origin, host, server, failures, opened_at)
    VALUES (p_project, p_origin, p_host, p_server, p_failures, p_at)
    RETURNING breaker_events.id INTO id;
    RETURN id;
END
$$;

-- A closing: this server's open row for the project and origin.
CREATE FUNCTION mh_breaker_closed(p_project uuid, p_origin text, p_server text,
                                  p_at timestamptz) RETURNS int
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE n int;
BEGIN
    UPDATE breaker_events SET closed_at = greatest(p_at, opened_at)
     WHERE project_id = p_project AND origin = p_origin AND server = p_server
       AND closed_at IS NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Retention: a closed breaker_events row goes with its project's runs cutoff (an open
-- breaker's row is never removed). 0025's purge and plan are kept under new names and extended
-- with the kind 'breaker_events'; the dry run still counts exactly what the purge deletes.
ALTER FUNCTION mh_retention_purge(text, uuid, timestamptz, int, int, int, int)
    RENAME TO mh_retention_purge_0025;
ALTER FUNCTION mh_retention_plan(timestamptz, int, int, int) RENAME TO mh_retention_plan_0025;
-- Internal now: reached only through the wrappers below, which run as the owner, so they need
-- no rights of their own (and every SECURITY DEFINER function is the app's to call).
ALTER FUNCTION mh_retention_purge_0025(text, uuid, timestamptz, int, int, int, int)
    SECURITY INVOKER;
ALTER FUNCTION mh_retention_plan_0025(timestamptz, int, int, int) SECURITY INVOKER;
REVOKE EXECUTE ON FUNCTION mh_retention_purge_0025(text, uuid, timestamptz, int, int, int, int),
    mh_retention_plan_0025(timestamptz, int, int, int) FROM PUBLIC, meshhook_app;

CREATE FUNCTION mh_retention_purge(p_kind text, p_project uuid, p_as_of timestamptz,
                                   p_runs_days int, p_deliveries_days int,
                                   p_dead_letters_days int, p_limit int)
RETURNS int
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n int;
    cut timestamptz;
BEGIN
    IF p_kind <> 'breaker_events' THEN
        RETURN mh_retention_purge_0025(p_kind, p_project, p_as_of, p_runs_days,
                                       p_deliveries_days, p_dead_letters_days, p_limit);
    END IF;
    cut := mh_retention_cutoff('runs', p_project, p_as_of, p_runs_days, p_deliveries_days,
                               p_dead_letters_days);
    DELETE FROM breaker_events WHERE id IN (
        SELECT id FROM breaker_events WHERE project_id = p_project AND closed_at IS NOT NULL
           AND closed_at < cut ORDER BY id LIMIT least(greatest(p_limit, 1), 10000));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;

CREATE FUNCTION mh_retention_plan(p_as_of timestamptz, p_runs_days int, p_deliveries_days int,
                                  p_dead_letters_days int)
RETURNS TABLE (project_id uuid, kind text, n bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT * FROM (
        SELECT * FROM mh_retention_plan_0025(p_as_of, p_runs_days, p_deliveries_days,
                                             p_dead_letters_days)
        UNION ALL
        SELECT b.project_id, 'breaker_events', count(*)
          FROM mh_retention_cutoffs(p_as_of, p_runs_days, p_deliveries_days,
                                    p_dead_letters_days) cut
          JOIN breaker_events b ON b.project_id = cut.project_id
         WHERE b.closed_at IS NOT NULL AND b.closed_at < cut.runs_cutoff
         GROUP BY 1) x
     WHERE x.n > 0 ORDER BY 1, 2
$$;
REVOKE ALL ON FUNCTION mh_retention_purge(text, uuid, timestamptz, int, int, int, int),
    mh_retention_plan(timestamptz, int, int, int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_retention_purge(text, uuid, timestamptz, int, int, int, int),
    mh_retention_plan(timestamptz, int, int, int) TO meshhook_app;
