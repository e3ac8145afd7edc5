-- Archiving a workflow disables its webhook endpoints; restoring it (POST
-- .../workflows/{wid}/unarchive) enables again exactly the endpoints that archiving disabled,
-- never one its users had disabled on purpose before. This column remembers which.
ALTER TABLE webhook_endpoints ADD COLUMN disabled_by_archive boolean NOT NULL DEFAULT false;
