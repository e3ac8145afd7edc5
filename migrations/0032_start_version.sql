-- Which published version a webhook endpoint starts, written once. The intake's lookup
-- (mh_intake_endpoint, run as its definer) and the API's delivery replay (run as the app role,
-- under row-level security) both read it from here, so the two cannot drift apart: the
-- endpoint's pinned version if it is published, else the latest published version; none when
-- the workflow is archived or has no such version.
--
-- SECURITY INVOKER and without a SET clause on purpose: PostgreSQL inlines such a SQL function
-- into the query that calls it, so the lateral join costs what the inline subquery did, and it
-- sees the rows its caller may see (no more).
CREATE FUNCTION mh_endpoint_start_version(p_workflow_id uuid, p_pinned_version int)
RETURNS TABLE (version_id uuid, version int) LANGUAGE sql STABLE AS $$
    SELECT x.id, x.version
      FROM workflow_versions x
      JOIN workflows w ON w.id = x.workflow_id
     WHERE x.workflow_id = p_workflow_id AND x.state = 'published'
       AND (p_pinned_version IS NULL OR x.version = p_pinned_version)
       AND w.archived_at IS NULL
     ORDER BY x.version DESC
     LIMIT 1
$$;
GRANT EXECUTE ON FUNCTION mh_endpoint_start_version(uuid, int) TO meshhook_app;

CREATE OR REPLACE FUNCTION mh_intake_endpoint(p_public_id text)
RETURNS TABLE (id uuid, project_id uuid, workflow_id uuid, is_enabled boolean, methods jsonb,
               pinned_version int, verification jsonb, max_body_bytes int, rate_capacity int,
               rate_per_second double precision, json_schema jsonb, config_version bigint,
               idempotency_retention_s int, version_id uuid, version int, keys jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.project_id, e.workflow_id, e.is_enabled, to_jsonb(e.methods),
           e.pinned_version, e.verification, e.max_body_bytes, e.rate_capacity,
           e.rate_per_second, e.json_schema, e.config_version, e.idempotency_retention_s,
           v.version_id, v.version,
           coalesce((SELECT jsonb_agg(jsonb_build_object(
                         'id', k.id, 'algorithm', k.algorithm, 'kid', k.kid,
                         'sealed_key', encode(k.sealed_key, 'hex'),
                         'public_key_pem', k.public_key_pem,
                         'created_ms', (extract(epoch FROM k.created_at) * 1000)::bigint,
                         'expires_ms', (extract(epoch FROM k.expires_at) * 1000)::bigint)
                         ORDER BY k.created_at DESC, k.id)
                     FROM webhook_endpoint_keys k
                     WHERE k.endpoint_id = e.id AND k.revoked_at IS NULL
                       AND (k.expires_at IS NULL OR k.expires_at > now())), '[]'::jsonb)
      FROM webhook_endpoints e
      LEFT JOIN LATERAL mh_endpoint_start_version(e.workflow_id, e.pinned_version) v ON true
     WHERE e.public_id = p_public_id
$$;
