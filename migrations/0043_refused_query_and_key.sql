-- A refused delivery's replay starts the run the delivery would have started (issue 21;
-- docs/webhooks.md "Refused deliveries and replay"): besides its body, a refusal that keeps one
-- keeps its query string (the trigger's `query`) and its idempotency key (the scheme's header,
-- else Idempotency-Key), which the replay claims for its run as the intake would have, so a
-- sender that also retries after the fix is answered as a duplicate instead of starting a second
-- run. Both are NULL wherever refused_body is (accepted deliveries record them in their run).
ALTER TABLE webhook_deliveries
    ADD COLUMN refused_query jsonb,
    ADD COLUMN refused_idempotency_key text
        CHECK (refused_idempotency_key IS NULL OR length(refused_idempotency_key) BETWEEN 1 AND 255);

-- The refused-delivery log of migration 0028, writing the two columns from the row's "query"
-- (an object) and "idempotency_key" when the row keeps its body.
CREATE OR REPLACE FUNCTION mh_intake_log_refused(p_rows jsonb, p_body_quota bigint) RETURNS int
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
                                        refused_body_note, refused_query,
                                        refused_idempotency_key)
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
                    WHEN r->>'body_note' IN ('busy', 'quota') THEN r->>'body_note' END,
               CASE WHEN j.keeps AND jsonb_typeof(r->'query') = 'object' THEN r->'query' END,
               CASE WHEN j.keeps AND length(r->>'idempotency_key') BETWEEN 1 AND 255
                    THEN r->>'idempotency_key' END
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
