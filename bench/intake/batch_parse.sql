-- What reading the intake's batch costs PostgreSQL, per delivery (docs/BENCHMARKS.md, "Webhook
-- intake", "What would still move the ratio"). Builds a batch of 18 rows shaped like the ones
-- src/intake/intake.c sends (the run's first event, with the 1,024-byte body of
-- bench/intake/run.sh as its raw_body, and the delivery's other fields), then times, in a loop:
-- jsonb_in of the whole batch, of one event, of one event without its raw body, and
-- jsonb_to_recordset over the parsed batch. Needs no schema; run it on any cluster:
--
--   psql -q -d postgres -f bench/intake/batch_parse.sql
CREATE TEMP TABLE bench_batch AS
WITH body AS (
    SELECT jsonb_build_object('id', 'evt_bench', 'type', 'order.created', 'data',
               jsonb_build_object('items', (SELECT jsonb_agg(jsonb_build_object(
                   'sku', 'SKU-' || lpad(i::text, 4, '0'), 'qty', i % 7 + 1) ORDER BY i)
                   FROM generate_series(0, 29) i))) AS b
), raw AS (
    SELECT (b || jsonb_build_object('pad', repeat('x', 1024 - length(
               (b || jsonb_build_object('pad', ''))::text))))::text AS raw FROM body
), rows AS (
    SELECT n, jsonb_build_object(
        'run_id', gen_random_uuid(), 'is_test', false, 'version', 1,
        'workflow_id', gen_random_uuid(),
        'trigger', jsonb_build_object('query', '{}'::jsonb, 'method', 'POST',
            'received_at', '2026-11-26T05:09:22.613691Z', 'content_type', 'application/json',
            'headers', jsonb_build_object('host', '127.0.0.1:20731', 'accept', '*/*',
                'user-agent', 'curl/7.88.1', 'x-signature', '[redacted]',
                'content-type', 'application/json', 'content-length', '1024')),
        'delivery', jsonb_build_object('id', gen_random_uuid(), 'key_id', gen_random_uuid(),
            'scheme', 'hmac', 'raw_body', raw, 'body_size', 1024,
            'body_sha256', repeat('13c35f2a', 8), 'endpoint_id', gen_random_uuid(),
            'content_type', 'application/json', 'body_from_raw', true,
            'signature_sha256', repeat('2c0405ee', 8))) AS payload
    FROM raw, generate_series(1, 18) n
)
SELECT (SELECT jsonb_agg(jsonb_build_object(
            'run_id', payload->'run_id', 'delivery_id', payload->'delivery'->'id',
            'endpoint_id', gen_random_uuid(), 'config_version', 3,
            'workflow_id', payload->'workflow_id', 'version_id', gen_random_uuid(), 'version', 1,
            'is_test', false, 'at_ms', 1764133762613, 'type', 'run_started',
            'hash', repeat('67d1e469', 8), 'received_at', '2026-11-26T05:09:22.613691Z',
            'method', 'POST', 'body_size', 1024, 'body_hash', repeat('13c35f2a', 8),
            'content_type', 'application/json', 'key_id', gen_random_uuid(),
            'payload', payload) ORDER BY n) FROM rows)::text AS batch,
       (SELECT payload::text FROM rows WHERE n = 1) AS payload,
       (SELECT (payload #- '{delivery,raw_body}')::text FROM rows WHERE n = 1) AS noraw;

DO $$
DECLARE
    b text;
    p text;
    q text;
    t0 timestamptz;
    x jsonb;
    k int;
BEGIN
    SELECT batch, payload, noraw INTO b, p, q FROM bench_batch;
    FOR rep IN 1..3 LOOP
        t0 := clock_timestamp();
        FOR i IN 1..1000 LOOP
            x := b::jsonb;
        END LOOP;
        RAISE NOTICE 'jsonb_in of the whole batch: % us per delivery',
            round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 1000 / 18, 2);
        t0 := clock_timestamp();
        FOR i IN 1..18000 LOOP
            x := p::jsonb;
        END LOOP;
        RAISE NOTICE 'jsonb_in of one first event: % us',
            round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 18000, 2);
        t0 := clock_timestamp();
        FOR i IN 1..18000 LOOP
            x := q::jsonb;
        END LOOP;
        RAISE NOTICE 'jsonb_in of one first event without raw_body: % us',
            round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 18000, 2);
        x := b::jsonb;
        t0 := clock_timestamp();
        FOR i IN 1..1000 LOOP
            SELECT count(*) INTO k FROM jsonb_to_recordset(x) AS y(run_id uuid, delivery_id uuid,
                endpoint_id uuid, config_version bigint, workflow_id uuid, version_id uuid,
                version int, is_test boolean, at_ms bigint, type text, payload jsonb, hash text,
                received_at timestamptz, method text, content_type text, body_size int,
                body_hash text, key_id uuid);
        END LOOP;
        RAISE NOTICE 'jsonb_to_recordset of the parsed batch: % us per delivery',
            round(extract(epoch FROM clock_timestamp() - t0) * 1e6 / 1000 / 18, 2);
    END LOOP;
END
$$;
