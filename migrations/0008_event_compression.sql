-- Event payloads are compressed with LZ4 instead of PostgreSQL's default pglz. A run's first
-- event carries the webhook's raw and parsed body, so most of them exceed the 2 KB at which the
-- toaster compresses a row; pglz was the largest single cost of inserting them (about a tenth of
-- the database's CPU per accepted webhook, docs/BENCHMARKS.md), and LZ4 compresses several
-- times faster for a similar ratio. Existing rows keep their compression: each value records
-- its own method, and both stay readable.
--
-- The parent's setting is inherited by the partitions created later (mh_ensure_event_partitions);
-- ALTER TABLE does not recurse into existing partitions, hence the loop. A server built without
-- LZ4 support keeps pglz.
DO $$
DECLARE
    part regclass;
BEGIN
    ALTER TABLE events ALTER COLUMN payload SET COMPRESSION lz4;
    FOR part IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'events'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN payload SET COMPRESSION lz4', part);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'this PostgreSQL has no LZ4 support: event payloads stay compressed with pglz';
END
$$;
