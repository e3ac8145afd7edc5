-- MeshHook schema v1 (DESIGN.md §3). Runs as the owning role; the server connects as
-- meshhook_app, which owns nothing and has no BYPASSRLS, so the policies below always apply to it.
--
-- Tenancy: every tenant-owned row carries project_id. Policies call mh_can(project, min_role),
-- which is true when the transaction-local setting meshhook.user_id names a member with at least
-- that role, or when meshhook.project_id names that project (the narrow path of workers and
-- webhook intake, which act for no user). The owning role gets a policy of its own on each table
-- so that the few SECURITY DEFINER functions (claiming jobs across projects, finding an endpoint
-- by its public id, resolving a session token) can do their one job; nothing else runs as owner.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'meshhook_app') THEN
        CREATE ROLE meshhook_app NOLOGIN NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA public TO meshhook_app;

-- Identity of the current transaction.
CREATE FUNCTION mh_uid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('meshhook.user_id', true), '')::uuid $$;

CREATE FUNCTION mh_pid() RETURNS uuid LANGUAGE sql STABLE AS
$$ SELECT nullif(current_setting('meshhook.project_id', true), '')::uuid $$;

CREATE FUNCTION mh_role_rank(role text) RETURNS int LANGUAGE sql IMMUTABLE AS
$$ SELECT CASE role WHEN 'viewer' THEN 1 WHEN 'editor' THEN 2 WHEN 'admin' THEN 3
                    WHEN 'owner' THEN 4 ELSE 0 END $$;

-- ---------------------------------------------------------------------------------------------
-- Identity
CREATE TABLE users (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 320),
    password_hash text NOT NULL,
    display_name  text NOT NULL DEFAULT '',
    is_disabled   boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE sessions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    csrf_hash     bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    ip            text,
    user_agent    text
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    prefix        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

CREATE TABLE projects (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE memberships (
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Membership checks read memberships as the owner, so policies on memberships itself do not
-- recurse into themselves.
CREATE FUNCTION mh_member_rank(p uuid) RETURNS int LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS
$$ SELECT coalesce((SELECT mh_role_rank(m.role) FROM memberships m
                    WHERE m.project_id = p AND m.user_id = mh_uid()), 0) $$;

CREATE FUNCTION mh_can(p uuid, min_role text) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT p IS NOT NULL AND (p = mh_pid() OR mh_member_rank(p) >= mh_role_rank(min_role)) $$;

-- True when the current user shares a project with user u (to show member names).
CREATE FUNCTION mh_shares_project(u uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM memberships a JOIN memberships b USING (project_id)
                  WHERE a.user_id = mh_uid() AND b.user_id = u) $$;

-- A project with no members yet may receive its first owner from its creator.
CREATE FUNCTION mh_project_claimable(p uuid) RETURNS boolean LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = public, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM projects WHERE id = p AND created_by = mh_uid())
          AND NOT EXISTS (SELECT 1 FROM memberships WHERE project_id = p) $$;

-- ---------------------------------------------------------------------------------------------
-- Workflows
CREATE TABLE workflows (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description   text NOT NULL DEFAULT '',
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    archived_at   timestamptz,
    UNIQUE (project_id, id)
);
CREATE INDEX workflows_project_idx ON workflows (project_id, created_at DESC);

CREATE TABLE workflow_versions (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id    uuid NOT NULL,
    workflow_id   uuid NOT NULL,
    version       int CHECK (version > 0),
    state         text NOT NULL CHECK (state IN ('draft', 'published')),
    definition    jsonb NOT NULL,
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz,
    FOREIGN KEY (project_id, workflow_id) REFERENCES workflows (project_id, id) ON DELETE CASCADE,
    CHECK ((state = 'draft') = (version IS NULL)),
    UNIQUE (workflow_id, version)
);
CREATE UNIQUE INDEX workflow_versions_one_draft ON workflow_versions (workflow_id)
    WHERE state = 'draft';

-- Published versions are immutable: runs replay against them.
CREATE FUNCTION mh_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.state = 'published' THEN
        RAISE EXCEPTION 'published workflow versions are immutable' USING ERRCODE = 'P0001';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER workflow_versions_immutable BEFORE UPDATE OR DELETE ON workflow_versions
    FOR EACH ROW WHEN (OLD.state = 'published' AND pg_trigger_depth() = 0)
    EXECUTE FUNCTION mh_versions_immutable();

-- ---------------------------------------------------------------------------------------------
-- Webhook intake
CREATE TABLE webhook_endpoints (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL,
    workflow_id     uuid NOT NULL,
    public_id       text NOT NULL UNIQUE CHECK (length(public_id) >= 22),
    name            text NOT NULL DEFAULT '',
    is_enabled      boolean NOT NULL DEFAULT true,
    methods         text[] NOT NULL DEFAULT '{POST}',
    pinned_version  int CHECK (pinned_version > 0),
    verification    jsonb NOT NULL DEFAULT '{"scheme": "none"}',
    max_body_bytes  int NOT NULL DEFAULT 1048576 CHECK (max_body_bytes > 0),
    rate_capacity   int NOT NULL DEFAULT 100 CHECK (rate_capacity > 0),
    rate_per_second double precision NOT NULL DEFAULT 50 CHECK (rate_per_second > 0),
    json_schema     jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (project_id, workflow_id) REFERENCES workflows (project_id, id) ON DELETE CASCADE,
    UNIQUE (project_id, id)
);
CREATE INDEX webhook_endpoints_workflow_idx ON webhook_endpoints (workflow_id);

-- Signing keys of an endpoint; several may be active at once for rotation. Secret material is
-- stored only as an envelope-encrypted blob (see docs/internals/crypto.md).
CREATE TABLE webhook_endpoint_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    algorithm       text NOT NULL,
    sealed_key      bytea,
    public_key_pem  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    revoked_at      timestamptz,
    FOREIGN KEY (project_id, endpoint_id) REFERENCES webhook_endpoints (project_id, id)
        ON DELETE CASCADE,
    CHECK (sealed_key IS NOT NULL OR public_key_pem IS NOT NULL)
);
CREATE INDEX webhook_endpoint_keys_endpoint_idx ON webhook_endpoint_keys (endpoint_id);

-- ---------------------------------------------------------------------------------------------
-- Runs, events and the queue
CREATE TABLE runs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL,
    workflow_id     uuid NOT NULL,
    version_id      uuid NOT NULL REFERENCES workflow_versions (id),
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    is_test         boolean NOT NULL DEFAULT false,
    parent_run_id   uuid REFERENCES runs (id) ON DELETE SET NULL,
    resumed_from_seq int,
    delivery_id     uuid,
    output          jsonb,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    deadline_at     timestamptz,
    FOREIGN KEY (project_id, workflow_id) REFERENCES workflows (project_id, id) ON DELETE CASCADE,
    UNIQUE (id, created_at),
    UNIQUE (project_id, id)
);
CREATE INDEX runs_project_recent_idx ON runs (project_id, created_at DESC, id DESC);
CREATE INDEX runs_workflow_recent_idx ON runs (workflow_id, created_at DESC, id DESC);
CREATE INDEX runs_active_idx ON runs (status) WHERE status IN ('queued', 'running');

-- The event log, partitioned by the creation time of its run (not of the event) so that all of
-- a run's events share one partition and UNIQUE (run_id, seq, run_created_at) is exactly
-- "seq N is appended once per run" — the composite foreign key pins run_created_at to the run.
CREATE TABLE events (
    run_id          uuid NOT NULL,
    run_created_at  timestamptz NOT NULL,
    seq             int NOT NULL CHECK (seq > 0),
    project_id      uuid NOT NULL,
    type            text NOT NULL,
    node_id         text,
    attempt         int,
    payload         jsonb NOT NULL DEFAULT '{}',
    at              timestamptz NOT NULL DEFAULT now(),
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (run_id, seq, run_created_at),
    FOREIGN KEY (run_id, run_created_at) REFERENCES runs (id, created_at) ON DELETE CASCADE
) PARTITION BY RANGE (run_created_at);
CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Large bodies (recorded HTTP responses, big trigger payloads), content-addressed.
CREATE TABLE blobs (
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    hash            bytea NOT NULL CHECK (length(hash) = 32),
    size_bytes      int NOT NULL,
    content_type    text,
    data            bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, hash)
);

CREATE TABLE jobs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      uuid NOT NULL,
    run_id          uuid,
    kind            text NOT NULL,
    payload         jsonb NOT NULL DEFAULT '{}',
    run_at          timestamptz NOT NULL DEFAULT now(),
    attempts        int NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    int NOT NULL DEFAULT 5 CHECK (max_attempts > 0),
    lease_owner     text,
    lease_until     timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (project_id) REFERENCES projects (id) ON DELETE CASCADE
);
-- Claiming scans due jobs in run_at order; leased jobs come back when their lease runs out.
CREATE INDEX jobs_due_idx ON jobs (run_at);
CREATE INDEX jobs_run_idx ON jobs (run_id);

CREATE TABLE dead_letters (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    run_id          uuid,
    kind            text NOT NULL,
    payload         jsonb NOT NULL,
    attempts        int NOT NULL,
    last_error      text,
    failed_at       timestamptz NOT NULL DEFAULT now(),
    replayed_at     timestamptz
);
CREATE INDEX dead_letters_project_idx ON dead_letters (project_id, failed_at DESC);

CREATE TABLE webhook_deliveries (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    method          text NOT NULL,
    status          int NOT NULL,
    outcome         text NOT NULL CHECK (outcome IN ('accepted', 'duplicate', 'refused')),
    reason          text,
    headers         jsonb NOT NULL DEFAULT '{}',
    content_type    text,
    body_size       int NOT NULL DEFAULT 0,
    body_hash       bytea,
    key_id          uuid,
    run_id          uuid,
    FOREIGN KEY (project_id, endpoint_id) REFERENCES webhook_endpoints (project_id, id)
        ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, received_at DESC);

CREATE TABLE idempotency_keys (
    project_id      uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    key             text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    run_id          uuid NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (endpoint_id, key),
    FOREIGN KEY (project_id, endpoint_id) REFERENCES webhook_endpoints (project_id, id)
        ON DELETE CASCADE
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

-- ---------------------------------------------------------------------------------------------
-- Secrets and audit
CREATE TABLE secrets (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id      uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$'),
    description     text NOT NULL DEFAULT '',
    kek_id          text NOT NULL,
    sealed          bytea NOT NULL,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (project_id, name)
);

-- Append-only and hash-chained per project (and one chain for project-less entries):
-- hash = SHA-256(previous hash || canonical text of this row), computed by a trigger under a
-- per-chain advisory lock so concurrent appends cannot fork the chain.
CREATE TABLE audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id      uuid REFERENCES projects (id) ON DELETE SET NULL,
    chain_seq       bigint NOT NULL DEFAULT 0,
    actor_user_id   uuid,
    actor           text NOT NULL,
    action          text NOT NULL,
    target          text NOT NULL DEFAULT '',
    detail          jsonb NOT NULL DEFAULT '{}',
    ip              text,
    user_agent      text,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    prev_hash       bytea,
    hash            bytea
);
CREATE INDEX audit_log_project_idx ON audit_log (project_id, id DESC);

CREATE FUNCTION mh_audit_canonical(a audit_log) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
    SELECT convert_to(concat_ws(E'\n', a.chain_seq::text, coalesce(a.project_id::text, ''),
        coalesce(a.actor_user_id::text, ''), a.actor, a.action, a.target, a.detail::text,
        coalesce(a.ip, ''), coalesce(a.user_agent, ''),
        to_char(a.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')), 'UTF8')
$$;

CREATE FUNCTION mh_audit_chain() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER
SET search_path = public, pg_temp AS $$
DECLARE
    prev record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(coalesce(NEW.project_id::text, 'system'), 7));
    SELECT chain_seq, hash INTO prev FROM audit_log
        WHERE project_id IS NOT DISTINCT FROM NEW.project_id
        ORDER BY chain_seq DESC LIMIT 1;
    NEW.at := clock_timestamp();
    NEW.chain_seq := coalesce(prev.chain_seq, 0) + 1;
    NEW.prev_hash := coalesce(prev.hash, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || mh_audit_canonical(NEW));
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION mh_audit_chain();
CREATE UNIQUE INDEX audit_log_chain_idx ON audit_log (project_id, chain_seq);

-- ---------------------------------------------------------------------------------------------
-- Event partitions: one per month, created ahead by the server (and here). Creating a partition
-- needs the owner, hence SECURITY DEFINER; the function only ever creates events_YYYYMM.
CREATE FUNCTION mh_ensure_event_partitions(months_ahead int) RETURNS int LANGUAGE plpgsql
SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    m date := date_trunc('month', now())::date;
    made int := 0;
    name text;
BEGIN
    FOR i IN 0..greatest(0, least(months_ahead, 24)) LOOP
        name := format('events_%s', to_char(m, 'YYYYMM'));
        IF to_regclass(name) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                           name, m::timestamptz, (m + interval '1 month')::timestamptz);
            made := made + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END
$$;
SELECT mh_ensure_event_partitions(3);

-- ---------------------------------------------------------------------------------------------
-- Row-level security, enabled and forced on every tenant table.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT * FROM (VALUES
        -- table, role needed to write (NULL: append-only for the app), has_delete
        ('workflows', 'editor', true),
        ('workflow_versions', 'editor', true),
        ('webhook_endpoints', 'editor', true),
        ('webhook_endpoint_keys', 'editor', true),
        ('runs', 'editor', true),
        ('events', NULL, false),
        ('blobs', 'editor', true),
        ('jobs', 'editor', true),
        ('dead_letters', 'editor', true),
        ('webhook_deliveries', NULL, false),
        ('idempotency_keys', 'editor', true),
        ('secrets', 'editor', true)
    ) AS v(name, write_role, has_delete) LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT TO meshhook_app '
                       'USING (mh_can(project_id, ''viewer''))', t.name || '_read', t.name);
        EXECUTE format('CREATE POLICY %I ON %I FOR INSERT TO meshhook_app '
                       'WITH CHECK (mh_can(project_id, %L))', t.name || '_insert', t.name,
                       coalesce(t.write_role, 'editor'));
        IF t.write_role IS NOT NULL THEN
            EXECUTE format('CREATE POLICY %I ON %I FOR UPDATE TO meshhook_app '
                           'USING (mh_can(project_id, %L)) WITH CHECK (mh_can(project_id, %L))',
                           t.name || '_update', t.name, t.write_role, t.write_role);
        END IF;
        IF t.has_delete THEN
            EXECUTE format('CREATE POLICY %I ON %I FOR DELETE TO meshhook_app '
                           'USING (mh_can(project_id, %L))', t.name || '_delete', t.name,
                           t.write_role);
        END IF;
        EXECUTE format('CREATE POLICY %I ON %I TO %I USING (true) WITH CHECK (true)',
                       t.name || '_owner', t.name, current_user);
    END LOOP;

    FOR t IN SELECT unnest(ARRAY['users', 'sessions', 'api_tokens', 'projects', 'memberships',
                                 'audit_log']) AS name LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t.name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t.name);
        EXECUTE format('CREATE POLICY %I ON %I TO %I USING (true) WITH CHECK (true)',
                       t.name || '_owner', t.name, current_user);
    END LOOP;
END
$$;

-- Users: see yourself and the people you share a project with; change only yourself.
CREATE POLICY users_read ON users FOR SELECT TO meshhook_app
    USING (id = mh_uid() OR mh_shares_project(id));
CREATE POLICY users_insert ON users FOR INSERT TO meshhook_app WITH CHECK (true);
CREATE POLICY users_update ON users FOR UPDATE TO meshhook_app
    USING (id = mh_uid()) WITH CHECK (id = mh_uid());

-- Sessions and tokens belong to their user alone.
CREATE POLICY sessions_self ON sessions FOR ALL TO meshhook_app
    USING (user_id = mh_uid()) WITH CHECK (user_id = mh_uid());
CREATE POLICY api_tokens_self ON api_tokens FOR ALL TO meshhook_app
    USING (user_id = mh_uid()) WITH CHECK (user_id = mh_uid());

-- Projects: members read, admins rename, owners delete; anyone signed in creates one as its
-- creator (and then claims it, see memberships_insert).
CREATE POLICY projects_read ON projects FOR SELECT TO meshhook_app
    USING (mh_can(id, 'viewer'));
CREATE POLICY projects_insert ON projects FOR INSERT TO meshhook_app
    WITH CHECK (mh_uid() IS NOT NULL AND created_by = mh_uid());
CREATE POLICY projects_update ON projects FOR UPDATE TO meshhook_app
    USING (mh_can(id, 'admin')) WITH CHECK (mh_can(id, 'admin'));
CREATE POLICY projects_delete ON projects FOR DELETE TO meshhook_app
    USING (mh_member_rank(id) >= mh_role_rank('owner'));

-- Memberships: members see the member list; admins manage it; a new project's creator may add
-- themself as its first owner.
CREATE POLICY memberships_read ON memberships FOR SELECT TO meshhook_app
    USING (user_id = mh_uid() OR mh_can(project_id, 'viewer'));
CREATE POLICY memberships_insert ON memberships FOR INSERT TO meshhook_app
    WITH CHECK ((mh_uid() IS NOT NULL AND mh_member_rank(project_id) >= mh_role_rank('admin'))
                OR (user_id = mh_uid() AND role = 'owner' AND mh_project_claimable(project_id)));
CREATE POLICY memberships_update ON memberships FOR UPDATE TO meshhook_app
    USING (mh_member_rank(project_id) >= mh_role_rank('admin'))
    WITH CHECK (mh_member_rank(project_id) >= mh_role_rank('admin'));
CREATE POLICY memberships_delete ON memberships FOR DELETE TO meshhook_app
    USING (user_id = mh_uid() OR mh_member_rank(project_id) >= mh_role_rank('admin'));

-- Audit log: append by any member or the system path, read by admins and owners; never
-- updated or deleted by the application.
CREATE POLICY audit_log_insert ON audit_log FOR INSERT TO meshhook_app
    WITH CHECK ((project_id IS NULL AND actor_user_id IS NOT DISTINCT FROM mh_uid())
                OR mh_can(project_id, 'viewer'));
CREATE POLICY audit_log_read ON audit_log FOR SELECT TO meshhook_app
    USING (mh_can(project_id, 'admin') OR (project_id IS NULL AND actor_user_id = mh_uid()));

GRANT SELECT, INSERT, UPDATE, DELETE ON users, sessions, api_tokens, projects, memberships,
    workflows, workflow_versions, webhook_endpoints, webhook_endpoint_keys, runs, blobs, jobs,
    dead_letters, idempotency_keys, secrets TO meshhook_app;
GRANT SELECT, INSERT ON events, webhook_deliveries, audit_log TO meshhook_app;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO meshhook_app;
