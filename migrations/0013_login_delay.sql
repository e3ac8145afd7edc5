-- Sign-in throttling without lockouts (issue #18, defect 11). Before, five wrong passwords from
-- anywhere locked the account for the whole window, the right password included, so anyone
-- could lock anyone out. Now failures are counted under three keys:
--   'pair:<email>|<address>'  the account tried from one address: pauses after login_max_failures;
--   'account:<email>'         the account from anywhere: pauses after ten times that, except for
--                             an address the account has signed in from before (a session from
--                             it in the last 30 days), so that a distributed attack slows itself
--                             without keeping the owner out;
--   'ip:<address>'            the address against any account: pauses after ten times that.
-- Past its allowance each failure doubles the pause before the key is heard again (1 s, 2 s,
-- 4 s...), counted from the last failure and capped at half the window; a key's failures are
-- forgotten once it has gone a whole window without one. Old rows are purged as new failures
-- arrive, so a spray of made-up addresses cannot grow the table without bound.
-- The functions of 0002 stay for servers of the previous version during a rolling upgrade.

ALTER TABLE login_failures ADD COLUMN last_failure_at timestamptz;
UPDATE login_failures SET last_failure_at = window_start;
ALTER TABLE login_failures ALTER COLUMN last_failure_at SET NOT NULL,
                           ALTER COLUMN last_failure_at SET DEFAULT now();
CREATE INDEX login_failures_last_failure_idx ON login_failures (last_failure_at);

-- Seconds until `p_key` may be tried again (0: now), given p_free failures allowed before the
-- pause starts; `p_window` forgets failures and its half caps the pause.
CREATE FUNCTION mh_login_delay(p_key text, p_free int, p_window interval) RETURNS int
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT coalesce((
        SELECT greatest(0, ceil(extract(epoch FROM
                   f.last_failure_at
                   + make_interval(secs => least(extract(epoch FROM p_window) / 2,
                                                 power(2, least(f.failures - p_free, 30))))
                   - now())))::int
        FROM login_failures f
        WHERE f.key = p_key AND f.failures >= p_free
          AND f.last_failure_at > now() - p_window), 0)
$$;

-- Whether the account `p_email` has had a session opened from address `p_ip` since `p_since`
-- ago: such an address is not held back by failures coming from elsewhere.
CREATE FUNCTION mh_login_known_address(p_email text, p_ip text, p_since interval)
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id
                   WHERE u.email = lower(p_email) AND s.ip = p_ip
                     AND s.created_at > now() - p_since)
$$;

-- Records a failed attempt under each of `p_keys`, then purges up to 100 rows that have gone a
-- whole window without a failure.
CREATE FUNCTION mh_login_failed(p_keys text[], p_window interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    INSERT INTO login_failures AS f (key, failures, window_start, last_failure_at)
    SELECT k, 1, now(), now() FROM unnest(p_keys) AS k
    ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN f.last_failure_at > now() - p_window THEN f.failures + 1 ELSE 1 END,
        window_start = CASE WHEN f.last_failure_at > now() - p_window THEN f.window_start
                            ELSE now() END,
        last_failure_at = now();
    DELETE FROM login_failures WHERE key IN (
        SELECT key FROM login_failures WHERE last_failure_at < now() - p_window
        ORDER BY last_failure_at LIMIT 100);
END
$$;

-- A successful sign-in clears `p_keys` (the account's own counts, never the address's).
CREATE FUNCTION mh_login_succeeded(p_keys text[]) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DELETE FROM login_failures WHERE key = ANY (p_keys)
$$;

GRANT EXECUTE ON FUNCTION mh_login_delay(text, int, interval),
                          mh_login_known_address(text, text, interval),
                          mh_login_failed(text[], interval),
                          mh_login_succeeded(text[]) TO meshhook_app;
