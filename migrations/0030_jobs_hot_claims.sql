-- A claim (mh_claim_jobs) sets a job's lease_owner, lease_until and attempts. With
-- jobs_lease_owner_idx indexing lease_owner, and pages filled to the brim at insert, every claim
-- was a non-HOT update: a new heap tuple elsewhere plus an entry in each of the table's indexes,
-- for a row that is deleted moments later. Now no index covers a column a claim changes, and
-- jobs' pages keep half their room, so a claim is a heap-only (HOT) update on the same page:
-- no index entries at all (docs/BENCHMARKS.md, "The queue's claims made HOT").
--
-- The dropped index served only mh_release_leases, run once when a server stops; it now reads
-- the queue table, which holds only pending jobs.
DROP INDEX jobs_lease_owner_idx;
ALTER TABLE jobs SET (fillfactor = 50);
