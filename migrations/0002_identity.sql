-- Identity (issue 4): the narrow SECURITY DEFINER functions that authenticate before any user is
-- known, login throttling, and an audit log whose rows survive the deletion of their project.
-- Each function does one lookup and returns only what authentication needs.

-- Audit entries must outlive their project and never change: a cascading SET NULL would edit
-- them and break their hash chain.
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_project_id_fkey;

-- Login lookup by e-mail: id, hash and whether the account is disabled.
CREATE FUNCTION mh_auth_user_by_email(p_email text)
RETURNS TABLE (id uuid, password_hash text, is_disabled boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id, u.password_hash, u.is_disabled FROM users u WHERE u.email = lower(p_email)
$$;

-- Resolves a session token's hash to its user when the session is neither revoked nor expired
-- (absolute expiry, or idle for longer than p_idle), and records the use (at most once a
-- minute, to keep reads cheap).
CREATE FUNCTION mh_auth_session(p_hash bytea, p_idle interval)
RETURNS TABLE (session_id uuid, user_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    s sessions%ROWTYPE;
BEGIN
    SELECT x.* INTO s FROM sessions x JOIN users u ON u.id = x.user_id
        WHERE x.token_hash = p_hash AND x.revoked_at IS NULL AND x.expires_at > now()
          AND x.last_seen_at > now() - p_idle AND NOT u.is_disabled;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF s.last_seen_at < now() - interval '1 minute' THEN
        UPDATE sessions SET last_seen_at = now() WHERE id = s.id;
    END IF;
    session_id := s.id;
    user_id := s.user_id;
    RETURN NEXT;
END
$$;

-- Resolves an API token's hash to its user when the token is neither revoked nor expired and
-- its user is not disabled, recording the use.
CREATE FUNCTION mh_auth_api_token(p_hash bytea)
RETURNS TABLE (token_id uuid, user_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t api_tokens%ROWTYPE;
BEGIN
    SELECT a.* INTO t FROM api_tokens a JOIN users u ON u.id = a.user_id
        WHERE a.token_hash = p_hash AND a.revoked_at IS NULL
          AND (a.expires_at IS NULL OR a.expires_at > now()) AND NOT u.is_disabled;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute' THEN
        UPDATE api_tokens SET last_used_at = now() WHERE id = t.id;
    END IF;
    token_id := t.id;
    user_id := t.user_id;
    RETURN NEXT;
END
$$;

-- Whether any user exists (for the first-start hint), without revealing who.
CREATE FUNCTION mh_user_count() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT count(*) FROM users
$$;

-- Finds a user by e-mail for an invitation: only the id, and only for an admin of the project.
CREATE FUNCTION mh_user_id_by_email_for(p_project uuid, p_email text) RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT u.id FROM users u
    WHERE u.email = lower(p_email) AND mh_member_rank(p_project) >= mh_role_rank('admin')
$$;

-- Login throttling, shared by every instance. Keys are 'account:<email>' and 'ip:<address>'.
-- Not tenant data; reachable only through the two functions below.
CREATE TABLE login_failures (
    key          text PRIMARY KEY,
    failures     int NOT NULL,
    window_start timestamptz NOT NULL
);
ALTER TABLE login_failures ENABLE ROW LEVEL SECURITY;
ALTER TABLE login_failures FORCE ROW LEVEL SECURITY;
DO $$ BEGIN
    EXECUTE format('CREATE POLICY login_failures_owner ON login_failures TO %I '
                   'USING (true) WITH CHECK (true)', current_user);
END $$;

-- Seconds until `p_key` may try again (0: now), given at most p_max failures per p_window.
CREATE FUNCTION mh_login_wait(p_key text, p_max int, p_window interval) RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce((SELECT CASE WHEN f.failures >= p_max AND f.window_start > now() - p_window
                            THEN greatest(1, ceil(extract(epoch FROM
                                 f.window_start + p_window - now()))::int)
                            ELSE 0 END
                     FROM login_failures f WHERE f.key = p_key), 0)
$$;

-- Records the outcome of a login attempt for `p_key`: a success clears it.
CREATE FUNCTION mh_login_record(p_key text, p_success boolean, p_window interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    IF p_success THEN
        DELETE FROM login_failures WHERE key = p_key;
        RETURN;
    END IF;
    INSERT INTO login_failures AS f (key, failures, window_start) VALUES (p_key, 1, now())
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN f.window_start > now() - p_window THEN f.failures + 1 ELSE 1 END,
        window_start = CASE WHEN f.window_start > now() - p_window THEN f.window_start
                            ELSE now() END;
END
$$;

-- Verifies the audit hash chains; returns one row per broken entry (none when intact). An edit
-- shows as a hash mismatch, a deletion inside a chain as a sequence gap and a broken link.
CREATE FUNCTION mh_audit_verify(p_project uuid)
RETURNS TABLE (project_id uuid, chain_seq bigint, problem text)
LANGUAGE sql STABLE SET search_path = public, pg_temp AS $$
    SELECT a.project_id, a.chain_seq,
           CASE WHEN a.hash IS DISTINCT FROM a.recomputed
                THEN 'hash does not match the entry (edited)'
                WHEN a.chain_seq <> a.expected_seq
                THEN 'sequence gap (an entry before it was deleted)'
                ELSE 'does not link to the previous entry' END
    FROM (SELECT l.project_id, l.chain_seq, l.hash, l.prev_hash,
                 sha256(l.prev_hash || mh_audit_canonical(l)) AS recomputed,
                 row_number() OVER w AS expected_seq,
                 coalesce(lag(l.hash) OVER w,
                          '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea)
                     AS expected_prev
          FROM audit_log l
          WHERE p_project IS NULL OR l.project_id = p_project
          WINDOW w AS (PARTITION BY l.project_id ORDER BY l.chain_seq)) a
    WHERE a.hash IS DISTINCT FROM a.recomputed
       OR a.chain_seq <> a.expected_seq
       OR a.prev_hash IS DISTINCT FROM a.expected_prev
    ORDER BY a.project_id, a.chain_seq
$$;

REVOKE ALL ON login_failures FROM PUBLIC;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO meshhook_app;
