-- The indexes that page runs and webhook deliveries newest first are rebuilt in ascending order.
-- The listings still read them newest first, by scanning them backwards, and need no sort.
--
-- Every accepted webhook adds an entry to each of them, always the newest. Descending, that
-- entry lands at the left edge of its key's range. A B-tree page that fills there is split in
-- half, and the older half is never written again, so these indexes stayed about half full.
-- Ascending, the entry lands at the right edge, where PostgreSQL splits a full page to leave it
-- 90 % full (the leaf fillfactor). Measured with bench/intake/run.sh (PG_STATS=1, 1 KiB
-- webhooks): the indexes of runs went from 242 to 154 bytes per run, those of
-- webhook_deliveries from 136 to 93 bytes per delivery, and the WAL from 2,891 to 2,762 bytes
-- per accepted webhook (docs/BENCHMARKS.md).
--
-- Rebuilding locks each table against writes while its index is built: on a large installation,
-- run this migration in a quiet moment.
DROP INDEX runs_project_recent_idx;
CREATE INDEX runs_project_recent_idx ON runs (project_id, created_at, id);
DROP INDEX runs_workflow_recent_idx;
CREATE INDEX runs_workflow_recent_idx ON runs (workflow_id, created_at, id);
DROP INDEX webhook_deliveries_endpoint_idx;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, received_at, id);
