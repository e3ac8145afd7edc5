-- Webhook intake (issue 7; DESIGN.md §7, docs/webhooks.md). The intake acts for no user: it
-- finds an endpoint by its public id through the one SECURITY DEFINER function below, then
-- writes the run, its first event, its job, the delivery row and the idempotency key in a
-- transaction whose meshhook.project_id is the endpoint's project, so row-level security
-- still judges every write.
--
-- Cache coherence: each server caches endpoints by public id. Every change that alters how an
-- endpoint must treat a delivery (its own columns, its keys, a newly published version of its
-- workflow, archiving the workflow) bumps webhook_endpoints.config_version, and the intake's
-- delivery insert only succeeds when the version it verified against is still current. A
-- stale cache can therefore never accept a delivery; it reloads and tries again.

ALTER TABLE webhook_endpoints ADD COLUMN config_version bigint NOT NULL DEFAULT 1;
ALTER TABLE webhook_endpoints ADD COLUMN idempotency_retention_s int NOT NULL DEFAULT 86400
    CHECK (idempotency_retention_s BETWEEN 60 AND 31536000);

-- The JWT "kid" a sender names a key by (NULL: the key matches any kid), and a free label.
ALTER TABLE webhook_endpoint_keys ADD COLUMN kid text CHECK (length(kid) BETWEEN 1 AND 256);
ALTER TABLE webhook_endpoint_keys ADD COLUMN label text NOT NULL DEFAULT ''
    CHECK (length(label) <= 200);
ALTER TABLE webhook_endpoint_keys ADD CONSTRAINT webhook_endpoint_keys_algorithm_check
    CHECK (algorithm IN ('hmac', 'hs256', 'rs256', 'es256'));

-- A delivery re-sent by a user ("replay delivery") names the delivery it copies; test webhooks
-- are marked.
ALTER TABLE webhook_deliveries ADD COLUMN replay_of uuid;
ALTER TABLE webhook_deliveries ADD COLUMN is_test boolean NOT NULL DEFAULT false;
-- Paging walks (received_at, id) downwards per endpoint.
DROP INDEX webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx
    ON webhook_deliveries (endpoint_id, received_at DESC, id DESC);

-- ---------------------------------------------------------------------------------------------
-- config_version bumps.

CREATE FUNCTION mh_intake_endpoint_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.config_version := OLD.config_version + 1;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER webhook_endpoints_bump BEFORE UPDATE ON webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION mh_intake_endpoint_bump();

-- Key changes, publishes and archiving touch endpoint rows the caller may not be able to see
-- (a publish by the workflows API, a system path), hence SECURITY DEFINER; each function only
-- ever bumps the versions of the endpoints concerned.
CREATE FUNCTION mh_intake_keys_bump() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE webhook_endpoints SET config_version = config_version
     WHERE id = CASE WHEN TG_OP = 'DELETE' THEN OLD.endpoint_id ELSE NEW.endpoint_id END;
    RETURN NULL;
END
$$;
CREATE TRIGGER webhook_endpoint_keys_bump AFTER INSERT OR UPDATE OR DELETE
    ON webhook_endpoint_keys FOR EACH ROW EXECUTE FUNCTION mh_intake_keys_bump();

CREATE FUNCTION mh_intake_versions_bump() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE webhook_endpoints SET config_version = config_version
     WHERE workflow_id = NEW.workflow_id
       AND (pinned_version IS NULL OR pinned_version = NEW.version);
    RETURN NULL;
END
$$;
CREATE TRIGGER workflow_versions_intake_bump AFTER INSERT OR UPDATE OF state
    ON workflow_versions FOR EACH ROW WHEN (NEW.state = 'published')
    EXECUTE FUNCTION mh_intake_versions_bump();

CREATE FUNCTION mh_intake_workflows_bump() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
BEGIN
    UPDATE webhook_endpoints SET config_version = config_version WHERE workflow_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER workflows_intake_bump AFTER UPDATE OF archived_at ON workflows
    FOR EACH ROW WHEN (OLD.archived_at IS DISTINCT FROM NEW.archived_at)
    EXECUTE FUNCTION mh_intake_workflows_bump();

-- ---------------------------------------------------------------------------------------------
-- The lookup. Everything the intake needs to judge a delivery to `p_public_id`, or no row:
-- the endpoint's settings, the published version a run would start (NULL when there is none:
-- the workflow was never published, the pinned version does not exist, or the workflow is
-- archived) and its usable keys (neither revoked nor expired). Secret keys come back sealed;
-- they open only with the key-encryption key, which never reaches the database.
CREATE FUNCTION mh_intake_endpoint(p_public_id text)
RETURNS TABLE (id uuid, project_id uuid, workflow_id uuid, is_enabled boolean, methods jsonb,
               pinned_version int, verification jsonb, max_body_bytes int, rate_capacity int,
               rate_per_second double precision, json_schema jsonb, config_version bigint,
               idempotency_retention_s int, version_id uuid, version int, keys jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT e.id, e.project_id, e.workflow_id, e.is_enabled, to_jsonb(e.methods),
           e.pinned_version, e.verification, e.max_body_bytes, e.rate_capacity,
           e.rate_per_second, e.json_schema, e.config_version, e.idempotency_retention_s,
           v.id, v.version,
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
      JOIN workflows w ON w.id = e.workflow_id
      LEFT JOIN LATERAL (
          SELECT x.id, x.version FROM workflow_versions x
           WHERE x.workflow_id = e.workflow_id AND x.state = 'published'
             AND (e.pinned_version IS NULL OR x.version = e.pinned_version)
             AND w.archived_at IS NULL
           ORDER BY x.version DESC LIMIT 1) v ON true
     WHERE e.public_id = p_public_id
$$;

-- Deliveries the intake refused (bad signature, rate limited, too big...) are logged in
-- batches by a background writer, several projects at a time: one statement per batch keeps a
-- flood of refusals from costing a transaction each. Each row's endpoint must belong to its
-- project (the composite foreign key checks it); nothing else can be written through here.
CREATE FUNCTION mh_intake_log_refused(p_rows jsonb) RETURNS int
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
        RETURNING 1)
    SELECT count(*)::int FROM ins
$$;

-- Forgets idempotency keys past their retention (the intake also reuses an expired key in
-- place, so this only bounds the table's size). Returns how many went.
CREATE FUNCTION mh_intake_purge_idempotency(p_limit int) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM idempotency_keys
         WHERE ctid IN (SELECT ctid FROM idempotency_keys WHERE expires_at <= now()
                         LIMIT greatest(p_limit, 1))
        RETURNING 1)
    SELECT count(*)::int FROM gone
$$;

REVOKE ALL ON FUNCTION mh_intake_endpoint(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION mh_intake_log_refused(jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION mh_intake_purge_idempotency(int) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_intake_endpoint(text), mh_intake_log_refused(jsonb),
    mh_intake_purge_idempotency(int), mh_intake_endpoint_bump(), mh_intake_keys_bump(),
    mh_intake_versions_bump(), mh_intake_workflows_bump() TO meshhook_app;
