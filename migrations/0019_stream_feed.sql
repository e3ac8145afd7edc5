-- Project feeds (live streams, docs/api.md "Live streams"): each row a feed shows carries the id
-- of the transaction that last changed what the feed shows of it (xid8, never wrapping). A
-- reader takes rows whose transaction is older than its snapshot's xmin: every transaction
-- below that horizon has ended, so no row can later appear behind a position already passed,
-- whatever order transactions committed in. The feed's cursor holds one such position per kind.
--
-- Existing rows keep NULL (they predate every cursor); the columns are added without a volatile
-- default first, so the tables are not rewritten.
ALTER TABLE runs ADD COLUMN feed_xid xid8;
ALTER TABLE runs ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX runs_feed_idx ON runs (project_id, feed_xid) WHERE feed_xid IS NOT NULL;

ALTER TABLE webhook_deliveries ADD COLUMN feed_xid xid8;
ALTER TABLE webhook_deliveries ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX webhook_deliveries_feed_idx ON webhook_deliveries (project_id, feed_xid)
    WHERE feed_xid IS NOT NULL;

ALTER TABLE dead_letters ADD COLUMN feed_xid xid8;
ALTER TABLE dead_letters ALTER COLUMN feed_xid SET DEFAULT pg_current_xact_id();
CREATE INDEX dead_letters_feed_idx ON dead_letters (project_id, feed_xid)
    WHERE feed_xid IS NOT NULL;

-- The refused-delivery log tells the streams, once per project and batch (the payload format
-- is src/http/hub.h's).
CREATE OR REPLACE FUNCTION mh_intake_log_refused(p_rows jsonb) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH ins AS (
        INSERT INTO webhook_deliveries (project_id, endpoint_id, received_at, method, status,
                                        outcome, reason, headers, content_type, body_size,
                                        body_hash, run_id, is_test)
        SELECT (r->>'project_id')::uuid, (r->>'endpoint_id')::uuid,
               (r->>'received_at')::timestamptz, left(r->>'method', 16),
               (r->>'status')::int, r->>'outcome', left(r->>'reason', 500),
               coalesce(r->'headers', '{}'::jsonb), left(r->>'content_type', 200),
               coalesce((r->>'body_size')::int, 0), decode(r->>'body_hash', 'hex'),
               (r->>'run_id')::uuid, coalesce((r->>'is_test')::boolean, false)
          FROM jsonb_array_elements(p_rows) r
          JOIN webhook_endpoints e ON e.id = (r->>'endpoint_id')::uuid
                                  AND e.project_id = (r->>'project_id')::uuid
         WHERE r->>'outcome' IN ('refused', 'duplicate')
           FOR KEY SHARE OF e
        RETURNING project_id),
    n AS (
        SELECT pg_notify('meshhook_streams',
                         p::text || ' x' || pg_current_xact_id()::text)
          FROM (SELECT DISTINCT project_id AS p FROM ins) d)
    SELECT (SELECT count(*)::int FROM ins) + 0 * (SELECT count(*)::int FROM n)
$$;
