-- /metrics reads the queue and the dead-letter list at scrape time (cached for a few seconds by
-- each server, docs/observability.md): counts only, no tenant data, so a SECURITY DEFINER
-- function serves them to the application role that row-level security otherwise confines to
-- one project.
CREATE FUNCTION mh_metrics_snapshot()
RETURNS TABLE (due bigint, scheduled bigint, leased bigint, oldest_due_age_s double precision,
               dead_letters bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT q.due, q.scheduled, q.leased,
           coalesce((SELECT extract(epoch FROM now() - min(run_at))::float8 FROM jobs
                      WHERE run_at <= now() AND (lease_until IS NULL OR lease_until < now())),
                    0),
           (SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL)
      FROM mh_queue_depth() q
$$;
REVOKE ALL ON FUNCTION mh_metrics_snapshot() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_metrics_snapshot() TO meshhook_app;

-- Dead letters waiting for a replay are few; the list of all of them may be long.
CREATE INDEX dead_letters_pending_idx ON dead_letters (failed_at) WHERE replayed_at IS NULL;
