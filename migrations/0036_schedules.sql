-- Schedules: workflows started by cron expressions (issue #21, docs/workflows.md#schedules).
--
-- A workflow's schedules live in its definition ("schedules": [...]); publishing copies the
-- published version's list here (one row per position), archiving stops them (next_fire_at
-- NULL) and restoring starts them again from the time of the restore. Every server's scheduler
-- claims due rows with FOR UPDATE SKIP LOCKED (mh_claim_schedule, the system path), and in the
-- same transaction starts the tick's run, records the tick and moves next_fire_at on: a tick
-- starts one run or none, whatever crashes. schedule_ticks' key (schedule, tick) holds that even
-- if the row lock were ever bypassed.
CREATE TABLE schedules (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    workflow_id     uuid NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
    position        int NOT NULL CHECK (position BETWEEN 0 AND 99),
    -- The published version whose definition holds the schedule; its runs run this version.
    version_id      uuid NOT NULL,
    version         int NOT NULL,
    name            text,
    cron            text NOT NULL CHECK (length(cron) BETWEEN 1 AND 256),
    timezone        text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    catch_up        text NOT NULL CHECK (catch_up IN ('skip', 'run')),
    max_catch_up    int NOT NULL CHECK (max_catch_up BETWEEN 1 AND 100),
    next_fire_at    timestamptz,             -- NULL: stopped (the workflow is archived)
    last_fired_at   timestamptz,
    last_tick_at    timestamptz,
    last_run_id     uuid,
    skipped_ticks   bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, position)
);
CREATE INDEX schedules_project_idx ON schedules (project_id, workflow_id, position);
CREATE INDEX schedules_due_idx ON schedules (next_fire_at) WHERE next_fire_at IS NOT NULL;

-- The ticks that started a run (skipped ones are only counted, in schedules.skipped_ticks).
-- Rows fired more than a week ago are pruned as the schedule fires: next_fire_at only moves
-- forward, so a tick before it can never come due again.
CREATE TABLE schedule_ticks (
    schedule_id     uuid NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    tick_at         timestamptz NOT NULL,
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id          uuid NOT NULL,
    fired_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schedule_id, tick_at)
);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['schedules', 'schedule_ticks'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO meshhook_app '
                       'USING (mh_can(project_id, ''viewer''))', t || '_read', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR INSERT TO meshhook_app '
                       'WITH CHECK (mh_can(project_id, ''editor''))', t || '_insert', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE TO meshhook_app '
                       'USING (mh_can(project_id, ''editor'')) '
                       'WITH CHECK (mh_can(project_id, ''editor''))', t || '_update', t);
        EXECUTE format('CREATE POLICY %I ON %I FOR DELETE TO meshhook_app '
                       'USING (mh_can(project_id, ''editor''))', t || '_delete', t);
        EXECUTE format('CREATE POLICY %I ON %I TO %I USING (true) WITH CHECK (true)',
                       t || '_owner', t, current_user);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO meshhook_app', t);
    END LOOP;
END
$$;

-- Claims the most overdue schedule of any project (the system path), locked until the caller's
-- transaction ends; other servers skip it. Only schedules of live (not archived) workflows are
-- claimed.
CREATE FUNCTION mh_claim_schedule()
RETURNS TABLE (id uuid, project_id uuid, workflow_id uuid, version_id uuid, version int,
               name text, cron text, timezone text, catch_up text, max_catch_up int,
               next_fire_ms bigint, now_ms bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT s.id, s.project_id, s.workflow_id, s.version_id, s.version, s.name, s.cron,
           s.timezone, s.catch_up, s.max_catch_up,
           (extract(epoch FROM s.next_fire_at) * 1000)::bigint,
           (extract(epoch FROM clock_timestamp()) * 1000)::bigint
      FROM schedules s
     WHERE s.next_fire_at <= clock_timestamp()
       AND EXISTS (SELECT 1 FROM workflows w WHERE w.id = s.workflow_id AND w.archived_at IS NULL)
     ORDER BY s.next_fire_at
     LIMIT 1
       FOR UPDATE OF s SKIP LOCKED
$$;
REVOKE ALL ON FUNCTION mh_claim_schedule() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_claim_schedule() TO meshhook_app;
