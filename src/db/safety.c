/* SPDX-License-Identifier: MIT */
/*
 * Checks that keep the database the last line of defence. Row-level security protects one
 * tenant from another only for a role it binds: a superuser, a role with BYPASSRLS and the
 * tables' owner (whose policies are USING (true), for the SECURITY DEFINER functions) see every
 * row, so the server refuses to run as any of them, or as a member of one. And when a COMMIT's
 * answer is lost with its connection, the server process that ran it tells when its outcome
 * is final.
 */
#include "db/db.h"
#include "db/db_internal.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

/* One row: the role, and what lets it (or a role it may SET ROLE to) escape the policies. */
static const char *const role_sql =
    "SELECT current_user::text AS role, "
    "EXISTS (SELECT 1 FROM pg_roles b WHERE b.rolsuper AND pg_has_role(current_user, b.oid, "
    "'MEMBER')) AS is_super, "
    "EXISTS (SELECT 1 FROM pg_roles b WHERE b.rolbypassrls AND pg_has_role(current_user, b.oid, "
    "'MEMBER')) AS bypasses, "
    "(SELECT string_agg(DISTINCT pg_get_userbyid(c.relowner), ', ') FROM pg_class c WHERE "
    "c.relnamespace = 'public'::regnamespace AND c.relrowsecurity AND pg_has_role(current_user, "
    "c.relowner, 'MEMBER')) AS owners";

enum mh_err mh_db_check_app_role(struct mh_db_conn *c, struct mh_err_info *info)
{
    json_t *row = NULL;
    enum mh_err rc = mh_db_query_row(c, role_sql, 0, NULL, &row, info);
    if (rc != MH_OK)
        return rc;
    const char *role = json_string_value(json_object_get(row, "role"));
    const char *owners = json_string_value(json_object_get(row, "owners"));
    char why[128] = "";
    if (json_is_true(json_object_get(row, "is_super")))
        snprintf(why, sizeof(why), "is a superuser (or may become one)");
    else if (json_is_true(json_object_get(row, "bypasses")))
        snprintf(why, sizeof(why), "has BYPASSRLS (or may become a role that has it)");
    else if (owners)
        snprintf(why, sizeof(why), "owns the tables (as, or as a member of, %.60s)", owners);
    if (why[0])
        rc = mh_err_set(info, MH_EFORBIDDEN, "unsafe-role", -1,
                        "refusing to run as database role '%.40s': it %s, so row-level "
                        "security would not apply to it. Connect as a role that owns nothing "
                        "and has no BYPASSRLS, such as meshhook_app (docs/operations.md)",
                        role ? role : "?", why);
    json_decref(row);
    return rc;
}

enum mh_err mh_db_backend_is_gone(struct mh_db_conn *c, int pid, bool *is_gone,
                                  struct mh_err_info *info)
{
    char text[16];
    snprintf(text, sizeof(text), "%d", pid);
    const char *params[] = {text};
    json_t *row = NULL;
    /* Outside a transaction, each query reads pg_stat_activity afresh. */
    enum mh_err rc = mh_db_query_row(
        c, "SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1::int) AS gone", 1,
        params, &row, info);
    if (rc == MH_OK)
        *is_gone = json_is_true(json_object_get(row, "gone"));
    json_decref(row);
    return rc;
}

void mh_db_describe_url(const char *url, char *out, size_t cap)
{
    static const char *const keys[] = {"host", "hostaddr", "port", "dbname", "user"};
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    size_t len = 0;
    out[0] = '\0';
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
            if (strcmp(o->keyword, keys[k]) != 0 || o->val == NULL || o->val[0] == '\0')
                continue;
            int n = snprintf(out + len, cap - len, "%s%s=%s", len ? " " : "", o->keyword, o->val);
            if (n < 0 || (size_t)n >= cap - len) {
                out[len] = '\0';
                break;
            }
            len += (size_t)n;
        }
    }
    if (opts == NULL)
        snprintf(out, cap, "(an unparsable database URL)");
    PQconninfoFree(opts);
}
