-- A cancel asked for through the API is durable (docs/api.md "Cancel a run").
--
-- It was a message to the answering instance's workers, in memory: a crash before a worker
-- handled it lost it, and an instance without workers answered 503. Now the API records the
-- request in the run's row and makes the run's job due in the same transaction; whichever
-- worker of whichever instance decides the run next reads it with the row it locks (no query of
-- its own) and records run_canceled with the request's time and reason. The first request
-- stands; the run's row keeps it after the run ends.
ALTER TABLE runs ADD COLUMN cancel_requested_at timestamptz;
ALTER TABLE runs ADD COLUMN cancel_reason text;
