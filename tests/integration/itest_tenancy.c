/* SPDX-License-Identifier: MIT */
/*
 * Tenant isolation enforced by PostgreSQL itself: connected as the application role with user
 * A's id set, through every tenant table, nothing of project B can be read, inserted, updated,
 * moved into or deleted — the C code is not involved, only the policies of migrations/.
 */
#include "db/db.h"
#include "itest.h"

#define UA "00000000-0000-0000-0000-000000000001"
#define UB "00000000-0000-0000-0000-000000000002"
#define PA "00000000-0000-0000-0000-0000000000a1"
#define PB "00000000-0000-0000-0000-0000000000b1"

struct table_case {
    const char *table;
    const char *key;           /* column holding the project id */
    const char *insert_into_b; /* a well-formed row for project B */
};

static const struct table_case tables[] = {
    {"projects", "id",
     "INSERT INTO projects (id, name, created_by) VALUES ('" PB "', 'x', '" UB "')"},
    {"memberships", "project_id",
     "INSERT INTO memberships (project_id, user_id, role) VALUES ('" PB "', '" UA "', 'owner')"},
    {"workflows", "project_id", "INSERT INTO workflows (project_id, name) VALUES ('" PB "', 'x')"},
    {"workflow_versions", "project_id",
     "INSERT INTO workflow_versions (project_id, workflow_id, version, state, definition) VALUES "
     "('" PB "', '00000000-0000-0000-0000-0000000000b2', 9, 'published', '{}')"},
    {"webhook_endpoints", "project_id",
     "INSERT INTO webhook_endpoints (project_id, workflow_id, public_id) VALUES ('" PB
     "', '00000000-0000-0000-0000-0000000000b2', 'another-public-id-xxxxxxxxxx')"},
    {"webhook_endpoint_keys", "project_id",
     "INSERT INTO webhook_endpoint_keys (project_id, endpoint_id, algorithm, sealed_key) VALUES "
     "('" PB "', '00000000-0000-0000-0000-0000000000b4', 'hmac', '\\x00')"},
    {"runs", "project_id",
     "INSERT INTO runs (project_id, workflow_id, version_id) VALUES ('" PB
     "', '00000000-0000-0000-0000-0000000000b2', '00000000-0000-0000-0000-0000000000b3')"},
    {"events", "project_id",
     "INSERT INTO events (run_id, run_created_at, seq, project_id, type, hash) VALUES "
     "('00000000-0000-0000-0000-0000000000b5', '2026-01-01T00:00:00Z', 2, '" PB
     "', 'forged', sha256('\\x00'))"},
    {"blobs", "project_id",
     "INSERT INTO blobs (project_id, hash, size_bytes, data) VALUES ('" PB
     "', sha256('\\x02'), 1, '\\x02')"},
    {"jobs", "project_id", "INSERT INTO jobs (project_id, kind) VALUES ('" PB "', 'advance')"},
    {"dead_letters", "project_id",
     "INSERT INTO dead_letters (project_id, kind, payload, attempts) VALUES ('" PB
     "', 'advance', '{}', 1)"},
    {"webhook_deliveries", "project_id",
     "INSERT INTO webhook_deliveries (project_id, endpoint_id, method, status, outcome) VALUES "
     "('" PB "', '00000000-0000-0000-0000-0000000000b4', 'POST', 202, 'accepted')"},
    {"idempotency_keys", "project_id",
     "INSERT INTO idempotency_keys (project_id, endpoint_id, key, run_id, expires_at) VALUES ('" PB
     "', '00000000-0000-0000-0000-0000000000b4', 'k2', '00000000-0000-0000-0000-0000000000b5', "
     "now())"},
    {"secrets", "project_id",
     "INSERT INTO secrets (project_id, name, kek_id, sealed) VALUES ('" PB
     "', 'OTHER', 'k1', '\\x00')"},
    {"audit_log", "project_id",
     "INSERT INTO audit_log (project_id, actor, action) VALUES ('" PB "', 'x', 'forged')"},
};

struct outcome {
    enum mh_err rc;
    char sqlstate[8];
    long affected;
    json_t *rows;
};

/* Runs one statement as the application role in a transaction for `user` (may be NULL). */
static void as_user(const struct mh_it_db *db, const char *user, const char *sql, struct outcome *o)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(db->app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, user, NULL, &info), MH_OK);
    o->rows = NULL;
    o->affected = 0;
    o->rc = mh_db_query(c, sql, 0, NULL, &o->rows, &o->affected, &info);
    snprintf(o->sqlstate, sizeof(o->sqlstate), "%.5s", o->rc == MH_OK ? "00000" : info.kind);
    if (o->rc == MH_OK)
        o->rc = mh_db_commit(c, &info);
    else
        mh_db_rollback(c);
    mh_db_close(c);
}

static long count_as(const struct mh_it_db *db, const char *user, const char *sql)
{
    struct outcome o;
    as_user(db, user, sql, &o);
    if (o.rc != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", sql, o.sqlstate);
    long n = (long)json_integer_value(json_object_get(json_array_get(o.rows, 0), "n"));
    json_decref(o.rows);
    return n;
}

static void seed(struct mh_it_db *db)
{
    mh_it_db_create(db, true);
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/sql/tenancy_seed.sql", mh_t_repo_dir());
    FILE *f = fopen(path, "r");
    MH_T_ASSERT(f != NULL);
    static char sql[65536];
    size_t n = fread(sql, 1, sizeof(sql) - 1, f);
    sql[n] = '\0';
    fclose(f);
    mh_it_sql_script(db->admin_url, sql);
}

MH_TEST(app_role_is_neither_owner_nor_bypassrls)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    json_t *rows = mh_it_sql(
        db.app_url,
        "SELECT r.rolsuper, r.rolbypassrls, "
        " (SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = "
        "current_user) AS owned, "
        " (SELECT count(*) FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND "
        "c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations' AND NOT (c.relrowsecurity "
        "AND c.relforcerowsecurity) AND NOT c.relispartition) AS unforced "
        "FROM pg_roles r WHERE r.rolname = current_user",
        0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    json_t *r = json_array_get(rows, 0);
    MH_T_ASSERT(json_is_false(json_object_get(r, "rolsuper")));
    MH_T_ASSERT(json_is_false(json_object_get(r, "rolbypassrls")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "owned")), 0);
    /* Every table (but the migration ledger) has RLS enabled and forced. */
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "unforced")), 0);
    json_decref(rows);
}

MH_TEST(user_a_reads_nothing_of_project_b)
{
    struct mh_it_db db;
    seed(&db);
    char sql[512];
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        const struct table_case *t = &tables[i];
        snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s WHERE %s = '" PB "'", t->table,
                 t->key);
        long n = count_as(&db, UA, sql);
        if (n != 0)
            mh_t_fail(__FILE__, __LINE__, "user A sees %ld row(s) of project B in %s", n, t->table);
        /* The owner of B sees its own rows, so the zero above is isolation, not emptiness. */
        MH_T_ASSERT(count_as(&db, UB, sql) >= 1);
        snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s", t->table);
        MH_T_ASSERT_EQ(count_as(&db, NULL, sql), 0); /* no identity, no rows */
    }
    MH_T_ASSERT_EQ(count_as(&db, UA, "SELECT count(*) AS n FROM sessions WHERE user_id = '" UB "'"),
                   0);
    MH_T_ASSERT_EQ(
        count_as(&db, UA, "SELECT count(*) AS n FROM api_tokens WHERE user_id = '" UB "'"), 0);
    MH_T_ASSERT_EQ(count_as(&db, UA, "SELECT count(*) AS n FROM users WHERE id = '" UB "'"), 0);
    MH_T_ASSERT_EQ(count_as(&db, UA, "SELECT count(*) AS n FROM sessions"), 1);
    /* A forged user id that is nobody sees nothing. */
    MH_T_ASSERT_EQ(count_as(&db, "00000000-0000-0000-0000-00000000dead",
                            "SELECT count(*) AS n FROM workflows"),
                   0);
}

MH_TEST(user_a_cannot_write_into_project_b)
{
    struct mh_it_db db;
    seed(&db);
    char sql[1024];
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        const struct table_case *t = &tables[i];
        struct outcome o;
        as_user(&db, UA, t->insert_into_b, &o);
        json_decref(o.rows);
        if (o.rc == MH_OK || strcmp(o.sqlstate, "42501") != 0)
            mh_t_fail(__FILE__, __LINE__, "insert into %s of project B: rc %d sqlstate %s",
                      t->table, o.rc, o.sqlstate);

        /* Updating B's rows touches nothing (RLS hides them) or is refused outright. */
        snprintf(sql, sizeof(sql), "UPDATE %s SET %s = %s WHERE %s = '" PB "'", t->table, t->key,
                 t->key, t->key);
        as_user(&db, UA, sql, &o);
        json_decref(o.rows);
        if (!(o.rc == MH_OK && o.affected == 0) && strcmp(o.sqlstate, "42501") != 0)
            mh_t_fail(__FILE__, __LINE__, "update of %s in project B: rc %d affected %ld", t->table,
                      o.rc, o.affected);

        snprintf(sql, sizeof(sql), "DELETE FROM %s WHERE %s = '" PB "'", t->table, t->key);
        as_user(&db, UA, sql, &o);
        json_decref(o.rows);
        if (!(o.rc == MH_OK && o.affected == 0) && strcmp(o.sqlstate, "42501") != 0)
            mh_t_fail(__FILE__, __LINE__, "delete from %s in project B: rc %d affected %ld",
                      t->table, o.rc, o.affected);

        /* Moving one of A's own rows into B is refused by the policy's WITH CHECK. */
        if (strcmp(t->key, "project_id") == 0) {
            snprintf(sql, sizeof(sql),
                     "UPDATE %s SET project_id = '" PB "' WHERE project_id = '" PA "'", t->table);
            as_user(&db, UA, sql, &o);
            json_decref(o.rows);
            if (o.rc == MH_OK && o.affected > 0)
                mh_t_fail(__FILE__, __LINE__, "moved a row of %s into project B", t->table);
        }
    }
    /* B's rows are all still there, untouched. */
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql, sizeof(sql), "SELECT count(*) AS n FROM %s WHERE %s = '" PB "'",
                 tables[i].table, tables[i].key);
        MH_T_ASSERT(count_as(&db, UB, sql) >= 1);
    }
}

MH_TEST(audit_log_and_events_are_append_only_for_the_app)
{
    struct mh_it_db db;
    seed(&db);
    struct outcome o;
    as_user(&db, UA, "UPDATE audit_log SET action = 'edited'", &o);
    MH_T_ASSERT(o.rc != MH_OK);
    MH_T_ASSERT_STR_EQ(o.sqlstate, "42501");
    as_user(&db, UA, "DELETE FROM events", &o);
    MH_T_ASSERT(o.rc != MH_OK);
    MH_T_ASSERT_STR_EQ(o.sqlstate, "42501");
    /* And the chain links each audit entry to the previous one of its project. */
    as_user(&db, UA,
            "INSERT INTO audit_log (project_id, actor_user_id, actor, action) VALUES ('" PA
            "', '" UA "', 'user', 'second')",
            &o);
    MH_T_ASSERT_EQ(o.rc, MH_OK);
    json_decref(o.rows);
    json_t *rows =
        mh_it_sql(db.admin_url,
                  "SELECT chain_seq, prev_hash = lag(hash) OVER (ORDER BY chain_seq) "
                  "AS linked FROM audit_log WHERE project_id = '" PA "' ORDER BY chain_seq",
                  0, NULL, NULL);
    MH_T_ASSERT_EQ(json_array_size(rows), 2);
    MH_T_ASSERT(json_is_true(json_object_get(json_array_get(rows, 1), "linked")));
    json_decref(rows);
}

MH_TEST(workers_act_for_one_project_only)
{
    struct mh_it_db db;
    seed(&db);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(db.app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, NULL, PA, &info), MH_OK);
    json_t *rows = NULL;
    MH_T_ASSERT_EQ(
        mh_db_query(c, "SELECT DISTINCT project_id FROM jobs", 0, NULL, &rows, NULL, &info), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(rows), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "project_id")),
                       PA);
    json_decref(rows);
    long affected = 0;
    MH_T_ASSERT_EQ(mh_db_query(c, "UPDATE runs SET status = 'failed' WHERE project_id = '" PB "'",
                               0, NULL, NULL, &affected, &info),
                   MH_OK);
    MH_T_ASSERT_EQ(affected, 0);
    mh_db_rollback(c);

    /* The settings are quoted, whatever they hold, and last for the transaction only. */
    const char *odd = "x', true), set_config('meshhook.project_id', '" PB;
    MH_T_ASSERT_EQ(mh_db_begin(c, odd, "it's", &info), MH_OK);
    rows = NULL;
    MH_T_ASSERT_EQ(mh_db_query(c,
                               "SELECT current_setting('meshhook.user_id') AS u, "
                               "current_setting('meshhook.project_id') AS p",
                               0, NULL, &rows, NULL, &info),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "u")), odd);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "p")), "it's");
    json_decref(rows);
    MH_T_ASSERT_EQ(mh_db_commit(c, &info), MH_OK);
    rows = NULL;
    MH_T_ASSERT_EQ(mh_db_query(c,
                               "SELECT coalesce(current_setting('meshhook.project_id', true), '') "
                               "AS p",
                               0, NULL, &rows, NULL, &info),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "p")), "");
    json_decref(rows);

    /* mh_db_begin_generic sets the same, and generic plans, for the transaction only. */
    static const char *const plan_sql =
        "SELECT current_setting('plan_cache_mode') AS m, current_setting('meshhook.project_id') "
        "AS p";
    MH_T_ASSERT_EQ(mh_db_begin_generic(c, NULL, PA, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, plan_sql, 0, NULL, &rows, NULL, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "m")),
                       "force_generic_plan");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "p")), PA);
    json_decref(rows);
    MH_T_ASSERT_EQ(mh_db_commit(c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, plan_sql, 0, NULL, &rows, NULL, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "m")), "auto");
    json_decref(rows);
    mh_db_close(c);
}

MH_TEST(published_versions_are_immutable)
{
    struct mh_it_db db;
    seed(&db);
    struct outcome o;
    as_user(&db, UA, "UPDATE workflow_versions SET definition = '{}' WHERE project_id = '" PA "'",
            &o);
    MH_T_ASSERT(o.rc != MH_OK);
    MH_T_ASSERT_STR_EQ(o.sqlstate, "P0001");
}
