-- Secrets vault and PII redaction settings (issue 6; docs/secrets.md).
--
-- Secret rows exist since 0001 (sealed blobs, see docs/internals/crypto.md). This migration
-- narrows who may read them, gives the server a cheap, cross-project view of which
-- key-encryption keys (KEKs) are in use so it can refuse to start without them, and adds the
-- per-project privacy settings: which redaction rules apply to logs, to event payloads shown to
-- users without the pii:read permission, and to stored artifacts, plus custom patterns.

-- Viewers see workflows but not the secrets table: listing secrets is for editors and up
-- (docs/secrets.md), and a viewer has no use for sealed blobs. Workers keep reading through
-- the project path of mh_can (meshhook.project_id).
DROP POLICY secrets_read ON secrets;
CREATE POLICY secrets_read ON secrets FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'editor'));

-- Rotation selects by key id.
CREATE INDEX secrets_kek_idx ON secrets (kek_id);

-- Every KEK id that wraps at least one secret, with how many it wraps and one sample row (the
-- oldest by id), so that the server can check at start that it holds each key and that the key
-- bytes unwrap the sample's data key. The application role sees no secret rows without a
-- project, hence SECURITY DEFINER; a sealed blob is useless without its KEK, which never
-- reaches the database.
CREATE FUNCTION mh_secrets_kek_ids()
RETURNS TABLE (kek_id text, secrets bigint, sample_project uuid, sample_name text,
               sample_sealed bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT k.kek_id, k.n, s.project_id, s.name, s.sealed
    FROM (SELECT x.kek_id, count(*) AS n, min(x.id::text)::uuid AS first_id
          FROM secrets x GROUP BY x.kek_id) k
    JOIN secrets s ON s.id = k.first_id
    ORDER BY k.kek_id
$$;
REVOKE ALL ON FUNCTION mh_secrets_kek_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_secrets_kek_ids() TO meshhook_app;

-- ---------------------------------------------------------------------------------------------
-- Privacy settings, one row per project (none: the defaults of docs/secrets.md).
--   settings: {"logs": [rule...], "events": [rule...], "artifacts": [rule...],
--              "custom": [{"name", "pattern"}...]} validated by the server before it is stored.
--   pii_read_role: the lowest project role holding the pii:read permission, i.e. seeing event
--   payloads unredacted.
CREATE TABLE project_privacy (
    project_id     uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    settings       jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    pii_read_role  text NOT NULL DEFAULT 'admin'
                   CHECK (pii_read_role IN ('viewer', 'editor', 'admin', 'owner')),
    updated_by     uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_privacy ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_privacy FORCE ROW LEVEL SECURITY;
-- Every member reads the settings (a viewer's event view is redacted with them); admins write.
CREATE POLICY project_privacy_read ON project_privacy FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'viewer'));
CREATE POLICY project_privacy_insert ON project_privacy FOR INSERT TO meshhook_app
    WITH CHECK (mh_can(project_id, 'admin'));
CREATE POLICY project_privacy_update ON project_privacy FOR UPDATE TO meshhook_app
    USING (mh_can(project_id, 'admin')) WITH CHECK (mh_can(project_id, 'admin'));
CREATE POLICY project_privacy_delete ON project_privacy FOR DELETE TO meshhook_app
    USING (mh_can(project_id, 'admin'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_privacy_owner ON project_privacy TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON project_privacy TO meshhook_app;

-- pii:read: true when the transaction's user is a member of project p whose role ranks at
-- least the project's pii_read_role (admin by default). The system path (workers, intake) acts
-- for no user and never "reads" PII in this sense: what it shows nobody needs no redaction.
CREATE FUNCTION mh_can_read_pii(p uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT mh_uid() IS NOT NULL AND mh_member_rank(p) > 0 AND
           mh_member_rank(p) >= mh_role_rank(coalesce(
               (SELECT x.pii_read_role FROM project_privacy x WHERE x.project_id = p), 'admin'))
$$;
GRANT EXECUTE ON FUNCTION mh_can_read_pii(uuid) TO meshhook_app;
