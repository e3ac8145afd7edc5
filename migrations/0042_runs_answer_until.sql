-- Answering a webhook across instances (docs/webhooks.md, "Answering with the workflow's
-- result"; docs/internals/intake.md, "Waiting for the answer"). A delivery whose endpoint is in
-- response mode 'respond', and whose answer the intake could not decide in its own transaction,
-- waits for the run's respond step. The worker that records that step (or ends the run) may be
-- another instance's: it then sends NOTIFY mh_answers with the run id, and the waiting intake
-- reads the answer from the database. answer_until says, at run creation, until when someone may
-- be waiting (the endpoint's response timeout after the delivery, plus a margin), so that a
-- worker notifies for those runs alone, never for every step of every run. NULL for every other
-- run. Adding a nullable column without a default rewrites nothing.
ALTER TABLE runs ADD COLUMN answer_until timestamptz;
