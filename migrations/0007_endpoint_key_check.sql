-- The server's start-up check of key-encryption keys (mh_secrets_kek_ids, migration 0004) now
-- covers the sealed signing keys of webhook endpoints too: they are sealed by the same keyring
-- (as "webhook_endpoint_key/<key id>"), and a server that cannot unwrap them would answer 503
-- to every delivery of those endpoints. Their KEK id is read from the blob's header
-- (docs/internals/crypto.md: version byte 0x01, id length, id).
CREATE OR REPLACE FUNCTION mh_secrets_kek_ids()
RETURNS TABLE (kek_id text, secrets bigint, sample_project uuid, sample_name text,
               sample_sealed bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH sealed AS (
        SELECT s.kek_id, s.id::text AS sort_key, s.project_id, s.name, s.sealed
          FROM secrets s
        UNION ALL
        SELECT convert_from(substring(k.sealed_key FROM 3 FOR get_byte(k.sealed_key, 1)), 'UTF8'),
               k.id::text, k.project_id, 'webhook_endpoint_key/' || k.id::text, k.sealed_key
          FROM webhook_endpoint_keys k
         WHERE k.sealed_key IS NOT NULL AND length(k.sealed_key) > 2
           AND get_byte(k.sealed_key, 0) = 1
           AND length(k.sealed_key) >= 2 + get_byte(k.sealed_key, 1))
    SELECT DISTINCT ON (x.kek_id) x.kek_id, count(*) OVER (PARTITION BY x.kek_id), x.project_id,
           x.name, x.sealed
      FROM sealed x
     ORDER BY x.kek_id, x.sort_key
$$;
