-- Answering a webhook with the workflow's result (docs/webhooks.md, "Answering with the
-- workflow's result"). An endpoint's response_mode is 'accept' (202 after the durable commit,
-- as before) or 'respond' (wait up to response_timeout_ms for the run's respond step and answer
-- with it, else 202). The intake's lookup also returns the definition of the version the
-- endpoint starts, so that the intake can decide a new run's pure first steps in the
-- transaction that records the delivery (docs/internals/intake.md, "Pure prefix"). Changing
-- either column bumps config_version through the existing BEFORE UPDATE trigger.
ALTER TABLE webhook_endpoints ADD COLUMN response_mode text NOT NULL DEFAULT 'accept'
    CHECK (response_mode IN ('accept', 'respond'));
ALTER TABLE webhook_endpoints ADD COLUMN response_timeout_ms int NOT NULL DEFAULT 2500
    CHECK (response_timeout_ms BETWEEN 100 AND 30000);

-- The return type changes, so the function is dropped and created again (same body plus three
-- columns), with its grants.
DROP FUNCTION mh_intake_endpoint(text);
CREATE FUNCTION mh_intake_endpoint(p_public_id text)
RETURNS TABLE (id uuid, project_id uuid, workflow_id uuid, is_enabled boolean, methods jsonb,
               pinned_version int, verification jsonb, max_body_bytes int, rate_capacity int,
               rate_per_second double precision, json_schema jsonb, config_version bigint,
               idempotency_retention_s int, version_id uuid, version int, keys jsonb,
               response_mode text, response_timeout_ms int, definition jsonb)
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
                       AND (k.expires_at IS NULL OR k.expires_at > now())), '[]'::jsonb),
           e.response_mode, e.response_timeout_ms,
           (SELECT wv.definition FROM workflow_versions wv WHERE wv.id = v.version_id)
      FROM webhook_endpoints e
      LEFT JOIN LATERAL mh_endpoint_start_version(e.workflow_id, e.pinned_version) v ON true
     WHERE e.public_id = p_public_id
$$;
REVOKE ALL ON FUNCTION mh_intake_endpoint(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_intake_endpoint(text) TO meshhook_app;
