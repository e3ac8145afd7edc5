-- Drafts carry a revision: 1 when the draft is created, one more on every save. The editor sends
-- the revision it loaded as `If-Match` when it saves or publishes, so an edit made meanwhile in
-- another tab or by another user is detected (412) instead of being silently overwritten
-- (docs/api.md, "Draft revisions"). Published and test versions keep the revision of the draft
-- they were copied from, which says which save of the draft became that version.
ALTER TABLE workflow_versions ADD COLUMN revision bigint NOT NULL DEFAULT 1 CHECK (revision > 0);
