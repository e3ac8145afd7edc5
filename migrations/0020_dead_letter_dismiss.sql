-- Dead letters: what became of each.
--
-- * Re-driven: replayed_at was already set; replayed_run_id now names the run that resumed the
--   failed step, so the list links to it. A dead letter is re-driven at most once (a re-driven
--   run that fails again is a dead letter of its own).
-- * Dismissed: someone looked at it and decided it needs no re-drive. It stays listed
--   (GET .../dead-letters?state=dismissed) and can be restored; who dismissed it and when is
--   here, and each change is in the audit log (dead_letter.dismiss, dead_letter.undismiss).
ALTER TABLE dead_letters ADD COLUMN replayed_run_id uuid;
ALTER TABLE dead_letters ADD COLUMN dismissed_at timestamptz;
ALTER TABLE dead_letters ADD COLUMN dismissed_by uuid;
