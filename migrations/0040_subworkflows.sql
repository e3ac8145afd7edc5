-- Sub-workflows (docs/workflows.md, "Sub-workflows"): a run started by a call_workflow step
-- records the run and the step that called it, and how deep the chain of calls is. The run id
-- of a child is derived from its caller's run id and step id, and (caller_run_id, caller_step)
-- is unique, so a step starts its child once however often a worker retries the transaction.
-- parent_run_id keeps its own meaning (the run a rerun or resume was made from).
--
-- No foreign key, as for the other references between runs (migration 0011): retention
-- deletes old runs one by one, and a child whose caller is gone keeps its log; the link then
-- points at nothing, which the API shows as no parent.
ALTER TABLE runs
    ADD COLUMN caller_run_id uuid,
    ADD COLUMN caller_step text CHECK (caller_step IS NULL OR length(caller_step) <= 160),
    ADD COLUMN call_depth int NOT NULL DEFAULT 0 CHECK (call_depth >= 0),
    ADD CONSTRAINT runs_caller_both CHECK ((caller_run_id IS NULL) = (caller_step IS NULL));

CREATE UNIQUE INDEX runs_caller_step_key ON runs (caller_run_id, caller_step)
    WHERE caller_run_id IS NOT NULL;
