-- The database as the last line of defence (issue #18, defect 8).
--
-- 1. SECURITY DEFINER functions run as the schema owner, whose policies are USING (true):
--    mh_auth_user_by_email returns password hashes, mh_claim_jobs leases any project's jobs.
--    PostgreSQL lets PUBLIC execute every new function, so any role of the cluster that may
--    connect to this database could call them. They are for meshhook_app alone.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace AND p.prosecdef
                AND p.proname LIKE 'mh\_%' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO meshhook_app', f);
    END LOOP;
END
$$;

-- Functions that later migrations create: not PUBLIC's either (policies and triggers call them
-- as meshhook_app or as the owner, which keep their grants).
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO meshhook_app;

-- 2. Memberships, as docs/permissions.md has them: an owner manages every membership; an admin
--    those of non-owners, and never makes an owner (adding one, or promoting anyone, themself
--    included); the last owner neither leaves nor steps down. The C code checks the same, for
--    clear messages; these policies hold when it does not.

-- True when project p has an owner other than user u. As the owner, like mh_member_rank, so
-- that a policy on memberships does not recurse into itself.
CREATE FUNCTION mh_has_other_owner(p uuid, u uuid) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS
$$ SELECT EXISTS (SELECT 1 FROM memberships m
                  WHERE m.project_id = p AND m.user_id <> u AND m.role = 'owner') $$;
REVOKE ALL ON FUNCTION mh_has_other_owner(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_has_other_owner(uuid, uuid) TO meshhook_app;

-- May the current user manage a membership row with this role (old row, or new row)?
CREATE FUNCTION mh_may_manage_member(p uuid, member_role text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = public, pg_temp AS
$$ SELECT mh_uid() IS NOT NULL
          AND (mh_member_rank(p) >= mh_role_rank('owner')
               OR (mh_member_rank(p) >= mh_role_rank('admin') AND member_role <> 'owner')) $$;
GRANT EXECUTE ON FUNCTION mh_may_manage_member(uuid, text) TO meshhook_app;

DROP POLICY memberships_insert ON memberships;
CREATE POLICY memberships_insert ON memberships FOR INSERT TO meshhook_app
    WITH CHECK (mh_may_manage_member(project_id, role)
                OR (user_id = mh_uid() AND role = 'owner' AND mh_project_claimable(project_id)));

-- The last-owner rule is in WITH CHECK, not USING: SELECT ... FOR UPDATE (how the API locks a
-- project's owners before it counts them) sees only rows that pass USING.
DROP POLICY memberships_update ON memberships;
CREATE POLICY memberships_update ON memberships FOR UPDATE TO meshhook_app
    USING (mh_may_manage_member(project_id, role))
    WITH CHECK (mh_may_manage_member(project_id, role)
                AND (role = 'owner' OR mh_has_other_owner(project_id, user_id)));

DROP POLICY memberships_delete ON memberships;
CREATE POLICY memberships_delete ON memberships FOR DELETE TO meshhook_app
    USING ((user_id = mh_uid() OR mh_may_manage_member(project_id, role))
           AND (role <> 'owner' OR mh_has_other_owner(project_id, user_id)));

-- 3. A worker whose claimed jobs could not record their outcome (the database went away in the
--    middle) hands exactly those jobs back as soon as the database answers again, instead of
--    letting them wait out their lease (issue #18, defect 9). A job is handed back only if it is
--    still leased by this worker from the same claim (its attempt count unchanged): a job that
--    was finished after all, or claimed again since, is left alone. The failed claim does not
--    count as an attempt, as in mh_release_leases.
CREATE FUNCTION mh_release_jobs(p_worker text, p_ids bigint[], p_attempts int[]) RETURNS int
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH r AS (UPDATE jobs j SET lease_owner = NULL, lease_until = NULL,
                                 attempts = greatest(j.attempts - 1, 0)
                 FROM unnest(p_ids, p_attempts) AS x(id, attempts)
                WHERE j.id = x.id AND j.attempts = x.attempts AND j.lease_owner = p_worker
                RETURNING 1)
    SELECT count(*)::int FROM r
$$;
REVOKE ALL ON FUNCTION mh_release_jobs(text, bigint[], int[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mh_release_jobs(text, bigint[], int[]) TO meshhook_app;
