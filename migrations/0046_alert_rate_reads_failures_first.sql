-- A failure-rate rule reads the window's failed runs first (issue 16; docs/observability.md
-- "Alerts", docs/BENCHMARKS.md "Observability on and off: counted instead of timed").
--
-- 0024 counted every finished run of the window at every evaluation round to divide the failed
-- ones by them. A run stays in a rule's window for window_s / alert_eval_interval_ms rounds (60
-- for a 5-minute window at the default 5 s, 720 for an hour), so each run was read that many
-- times: at ~0.5 us a row, ~30 us of database CPU per run over its life for a 5-minute rule,
-- more than the run's own statements cost at an hour. While no run of the window failed, the
-- rate is 0 whatever the finished runs number: the failed runs are counted first, through
-- runs_failed_alert_idx (which holds failed runs only), and the finished ones only when some
-- failed. Same values as before, so the evaluator's shared measurements (its memo) stand.
CREATE OR REPLACE FUNCTION mh_alert_rule_value(r alert_rules) RETURNS numeric
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
    since timestamptz := now() - r.window_s * interval '1 second';
    failed bigint;
    finished bigint;
BEGIN
    IF r.kind IN ('run_failed', 'failure_count', 'failure_rate') THEN
        SELECT count(*) INTO failed FROM runs x
         WHERE x.project_id = r.project_id AND x.status = 'failed' AND x.finished_at >= since
           AND NOT x.is_test AND (r.workflow_ids IS NULL OR x.workflow_id = ANY (r.workflow_ids));
        IF r.kind <> 'failure_rate' THEN
            RETURN failed;
        END IF;
        IF failed = 0 THEN
            RETURN 0;
        END IF;
        SELECT count(*) INTO finished
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
