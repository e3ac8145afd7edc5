-- Per-project outbound allow-lists (issue #18, docs/workflows.md "Internal targets").
--
-- http_call refuses loopback, private, link-local, metadata and other internal addresses unless
-- an allow-list names them: the server's (outbound_allowlist) or the project's, kept here.
--   allowlist: a JSON array of strings, each a host name ("vault.internal", "*.corp.example"),
--   an IP address or a CIDR, validated by the server before it is stored.
-- Editors and up read it (they write the http_calls it governs); admins replace it, and the
-- audit log records each change. Workers read it through the project path of mh_can.
CREATE TABLE project_outbound (
    project_id  uuid PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    allowlist   jsonb NOT NULL DEFAULT '[]'
                CHECK (jsonb_typeof(allowlist) = 'array' AND jsonb_array_length(allowlist) <= 256),
    updated_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE project_outbound ENABLE ROW LEVEL SECURITY;
ALTER TABLE project_outbound FORCE ROW LEVEL SECURITY;
CREATE POLICY project_outbound_read ON project_outbound FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'editor'));
CREATE POLICY project_outbound_insert ON project_outbound FOR INSERT TO meshhook_app
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_outbound_update ON project_outbound FOR UPDATE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'))
    WITH CHECK (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY project_outbound_delete ON project_outbound FOR DELETE TO meshhook_app
    USING (mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'));
DO $$ BEGIN
    EXECUTE format('CREATE POLICY project_outbound_owner ON project_outbound TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON project_outbound TO meshhook_app;
