-- When each webhook signing key last verified a delivery (docs/webhooks.md, "Keys and
-- rotation"), so a user can see that a sender has switched to the new key before revoking the
-- old one. The intake writes it in its group commit, at most once a minute per key and server:
-- the value is accurate to about a minute, and costs the intake nothing measurable.
ALTER TABLE webhook_endpoint_keys ADD COLUMN last_used_at timestamptz;

-- Noting a use changes nothing about how the endpoint verifies, so it must not bump the
-- endpoint's config_version (which would make every server's cached copy stale and send the
-- next delivery through a reload). Other updates still bump it.
DROP TRIGGER webhook_endpoint_keys_bump ON webhook_endpoint_keys;
CREATE TRIGGER webhook_endpoint_keys_bump AFTER INSERT OR DELETE
    ON webhook_endpoint_keys FOR EACH ROW EXECUTE FUNCTION mh_intake_keys_bump();
CREATE TRIGGER webhook_endpoint_keys_bump_update AFTER UPDATE
    ON webhook_endpoint_keys FOR EACH ROW
    WHEN ((OLD.project_id, OLD.endpoint_id, OLD.algorithm, OLD.sealed_key, OLD.public_key_pem,
           OLD.created_at, OLD.expires_at, OLD.revoked_at, OLD.kid, OLD.label)
          IS DISTINCT FROM
          (NEW.project_id, NEW.endpoint_id, NEW.algorithm, NEW.sealed_key, NEW.public_key_pem,
           NEW.created_at, NEW.expires_at, NEW.revoked_at, NEW.kid, NEW.label))
    EXECUTE FUNCTION mh_intake_keys_bump();
