-- Two foreign keys checked for every accepted webhook (and every run the API starts) that
-- guard nothing the others do not, dropped. A foreign-key check is a query per inserted row;
-- the five on the intake's rows were about a fifth of PostgreSQL's CPU per webhook
-- (docs/BENCHMARKS.md), and these two about two fifths of that.
--
-- * runs.version_id -> workflow_versions (no action): versions are never deleted on their own —
--   published ones are immutable (mh_versions_immutable), and none is deleted by any statement
--   of MeshHook — only with their workflow, whose deletion cascades to its runs through the
--   kept runs -> workflows key. A run's version therefore exists as long as the run does.
-- * jobs.project_id -> projects (cascade): deleting a project now leaves its queued jobs, as
--   deleting a workflow's runs always did (jobs.run_id has no foreign key): a worker that claims
--   a job whose run is gone deletes it (itest_intake_limits: project_deletion_leaves_no_work).
ALTER TABLE runs DROP CONSTRAINT IF EXISTS runs_version_id_fkey;
ALTER TABLE jobs DROP CONSTRAINT IF EXISTS jobs_project_id_fkey;
