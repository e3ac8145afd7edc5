-- Refused deliveries that a configuration change can turn into runs keep their body, so they
-- can be replayed once the endpoint is fixed (issue 17; docs/webhooks.md "Refused deliveries
-- and replay"). Only refusals decided after the signature was verified keep it: a JSON Schema
-- refusal (422) and "no published version" (503 not_published). Nobody who merely knows an
-- endpoint's URL can make the database keep anything.
--
-- refused_body: the body exactly as received (the intake keeps only bodies it read as UTF-8
-- text without NUL, which every body that passed the content check is). NULL for accepted
-- deliveries (their run's first event holds the bytes) and for refusals that keep none.
-- refused_body_note: why a refusal of a replayable kind keeps no body: 'quota' (the project
-- held its share of refused bodies, the server's refused_body_quota_bytes) or 'busy' (the
-- delivery log's writer had too many bodies waiting). NULL otherwise, and for rows written
-- before this migration.
--
-- The columns are NULL on every accepted delivery, which costs nothing there (the row already
-- has a null bitmap). Retention deletes a refused body with its delivery.
ALTER TABLE webhook_deliveries ADD COLUMN refused_body text;
ALTER TABLE webhook_deliveries ADD COLUMN refused_body_note text;
-- What a project's refused bodies weigh, read once per batch of the writer below.
CREATE INDEX webhook_deliveries_refused_body_idx ON webhook_deliveries (project_id)
    INCLUDE (body_size) WHERE refused_body IS NOT NULL;

-- A delivery's page lists its replays (the replayed refusal has no run of its own). Only
-- replays are in this index: the intake's inserts never touch it.
CREATE INDEX webhook_deliveries_replay_of_idx ON webhook_deliveries (replay_of)
    WHERE replay_of IS NOT NULL;

-- The refused-delivery log, now with bodies: a row may carry "body" (text) or "body_note". A
-- body is kept while the project's kept refused bodies, this batch's included, weigh at most
-- p_body_quota bytes; past it the row is logged without it, noted 'quota'. Two servers writing
-- batches at once may each see the other's bodies missing, so the quota is exceeded by at most
-- one batch per server. Only refusals with a status that keeps a body (422, 503) keep one.
DROP FUNCTION mh_intake_log_refused(jsonb);
CREATE FUNCTION mh_intake_log_refused(p_rows jsonb, p_body_quota bigint) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH input AS (
        SELECT x.r, x.ord, (x.r->>'project_id')::uuid AS project_id,
               (x.r->>'outcome' = 'refused' AND (x.r->>'status')::int IN (422, 503)
                AND jsonb_typeof(x.r->'body') = 'string') AS has_body
          FROM jsonb_array_elements(p_rows) WITH ORDINALITY AS x(r, ord)),
    used AS (
        SELECT d.project_id, sum(d.body_size)::bigint AS bytes FROM webhook_deliveries d
         WHERE d.refused_body IS NOT NULL
           AND d.project_id = ANY (ARRAY(SELECT DISTINCT project_id FROM input WHERE has_body))
         GROUP BY d.project_id),
    judged AS (
        SELECT i.r, i.project_id, i.has_body AND coalesce(u.bytes, 0) + sum(
                   CASE WHEN i.has_body THEN octet_length(i.r->>'body') ELSE 0 END)
                   OVER (PARTITION BY i.project_id ORDER BY i.ord) <= p_body_quota AS keeps
          FROM input i LEFT JOIN used u ON u.project_id = i.project_id),
    ins AS (
        INSERT INTO webhook_deliveries (project_id, endpoint_id, received_at, method, status,
                                        outcome, reason, headers, content_type, body_size,
                                        body_hash, key_id, run_id, is_test, refused_body,
                                        refused_body_note)
        SELECT j.project_id, (r->>'endpoint_id')::uuid,
               (r->>'received_at')::timestamptz, left(r->>'method', 16),
               (r->>'status')::int, r->>'outcome', left(r->>'reason', 500),
               coalesce(r->'headers', '{}'::jsonb), left(r->>'content_type', 200),
               coalesce((r->>'body_size')::int, 0), decode(r->>'body_hash', 'hex'),
               (r->>'key_id')::uuid, (r->>'run_id')::uuid,
               coalesce((r->>'is_test')::boolean, false),
               CASE WHEN j.keeps THEN r->>'body' END,
               CASE WHEN r->>'outcome' <> 'refused' THEN NULL
                    WHEN jsonb_typeof(r->'body') = 'string' AND NOT j.keeps THEN 'quota'
                    WHEN r->>'body_note' IN ('busy', 'quota') THEN r->>'body_note' END
          FROM judged j
          JOIN webhook_endpoints e ON e.id = (r->>'endpoint_id')::uuid
                                  AND e.project_id = j.project_id
         WHERE r->>'outcome' IN ('refused', 'duplicate')
           FOR KEY SHARE OF e
        RETURNING project_id),
    n AS (
        SELECT pg_notify('meshhook_streams',
                         p::text || ' x' || pg_current_xact_id()::text)
          FROM (SELECT DISTINCT project_id AS p FROM ins) d)
    SELECT (SELECT count(*)::int FROM ins) + 0 * (SELECT count(*)::int FROM n)
$$;
REVOKE ALL ON FUNCTION mh_intake_log_refused(jsonb, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_intake_log_refused(jsonb, bigint) TO meshhook_app;
