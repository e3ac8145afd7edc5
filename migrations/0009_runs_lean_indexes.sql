-- Two indexes of `runs` that no query uses, dropped: every accepted webhook inserted an entry
-- into each, and every status change of a run inserted new entries into all of the table's
-- indexes, because an indexed column changed.
--
-- * runs_active_idx (status, partial on queued/running): no statement filters runs by status
--   alone. The run list's ?status= filter is per project, and walks runs_project_recent_idx.
--   Without it, no column a run's progress updates (status, started_at, finished_at, last_seq,
--   last_hash, output, error) is indexed, so those updates can be HOT: a new row version on
--   the same page, and no new index entries.
-- * UNIQUE (project_id, id): no foreign key references it, and the primary key on id already
--   makes (project_id, id) unique.
DROP INDEX IF EXISTS runs_active_idx;
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_project_id_id_key;
