-- The alert evaluator sets its rules' next round in one statement (issue 16; docs/BENCHMARKS.md
-- "Observability on and off: where the 'on' side's database time goes").
--
-- 0029's round updated each evaluated rule's next_eval_at in a statement of its own: with 60
-- rules, 60 UPDATEs of 0.16 ms, a fifth of the round's database time. The rules are locked by the
-- round's SELECT ... FOR UPDATE from the start, so setting them all after the loop is the same
-- thing in one statement. Everything else is 0029's function as it was.
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
    v_done uuid[] := '{}';  -- the rules evaluated: their next round is set in one statement
BEGIN
    FOR r IN SELECT * FROM alert_rules x
              WHERE x.enabled AND x.next_eval_at <= now()
              ORDER BY x.next_eval_at LIMIT p_limit FOR UPDATE SKIP LOCKED LOOP
        IF r.kind = 'breaker_opened' THEN
            queued := queued + mh_alerts_evaluate_breakers(r);
            v_done := v_done || r.id;
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
        v_done := v_done || r.id;
    END LOOP;
    UPDATE alert_rules SET next_eval_at = now() + p_every_ms * interval '1 millisecond'
     WHERE id = ANY (v_done);
    RETURN queued;
END
$$;

