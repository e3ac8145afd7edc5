-- When each secret was last decrypted (issue 17, the secrets page): read from the audit log,
-- which records every decryption ("secret.decrypt", target = the secret's name). Editors manage
-- secrets but may not read the audit log, so a narrow SECURITY DEFINER function answers this
-- one question for members of at least editor rank; the partial index keeps it one index probe
-- per secret however long the log grows.
CREATE INDEX audit_log_secret_decrypt_idx ON audit_log (project_id, target, at DESC)
    WHERE action = 'secret.decrypt';

CREATE FUNCTION mh_secret_last_used(p_project uuid, p_names text[])
RETURNS TABLE (name text, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT n.name,
           (SELECT max(l.at) FROM audit_log l
             WHERE l.project_id = p_project AND l.action = 'secret.decrypt' AND l.target = n.name)
      FROM unnest(p_names) AS n(name)
     WHERE mh_member_rank(p_project) >= mh_role_rank('editor')
$$;

