/* SPDX-License-Identifier: MIT */
/*
 * The migration runner. Migrations are the SQL files under migrations/, compiled into the binary
 * (scripts/embed-files.sh), so a deployed binary migrates its own database. Two instances
 * migrating at once serialise on a session advisory lock; each migration runs in its own
 * transaction together with its row in schema_migrations, so a failure leaves the database at the
 * previous version. A migration edited after it was applied is detected by its SHA-256 checksum
 * (computed by PostgreSQL, keeping this module free of a crypto dependency) and refused.
 */
#include "db/db.h"

#include <string.h>

#include "core/mem.h"

/* The migrations as scripts/embed-files.sh writes them: names without ".sql", NUL-terminated. */
struct mh_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};

extern const struct mh_embedded_file mh_migration_files[];
extern const size_t mh_migration_files_count;

/* An arbitrary constant: "meshhook" as ASCII. */
#define MIGRATE_LOCK_KEY "7882253939779372907"

static const char *const create_table_sql = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                            " version text PRIMARY KEY,"
                                            " checksum text NOT NULL,"
                                            " applied_at timestamptz NOT NULL DEFAULT now())";

size_t mh_db_migrations_count(void)
{
    return mh_migration_files_count;
}

static enum mh_err checksum_of(struct mh_db_conn *c, const struct mh_embedded_file *m, char *out,
                               size_t out_len, struct mh_err_info *info)
{
    const char *params[] = {(const char *)m->data};
    json_t *row = NULL;
    enum mh_err rc =
        mh_db_query_row(c, "SELECT encode(sha256(convert_to($1::text, 'UTF8')), 'hex') AS sum", 1,
                        params, &row, info);
    if (rc != MH_OK)
        return rc;
    snprintf(out, out_len, "%s", json_string_value(json_object_get(row, "sum")));
    json_decref(row);
    return MH_OK;
}

static enum mh_err applied_map(struct mh_db_conn *c, json_t **out, struct mh_err_info *info)
{
    json_t *rows = NULL;
    enum mh_err rc = mh_db_query(c, "SELECT version, checksum FROM schema_migrations", 0, NULL,
                                 &rows, NULL, info);
    if (rc != MH_OK)
        return rc;
    json_t *map = json_object();
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        json_object_set(map, json_string_value(json_object_get(row, "version")),
                        json_object_get(row, "checksum"));
    }
    json_decref(rows);
    *out = map;
    return MH_OK;
}

static enum mh_err lock_and_prepare(struct mh_db_conn *c, struct mh_err_info *info)
{
    enum mh_err rc = mh_db_exec_script(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", info);
    if (rc != MH_OK)
        return rc;
    /* CREATE TABLE IF NOT EXISTS can still race on the catalog; the lock above prevents it. */
    rc = mh_db_exec_script(c, create_table_sql, info);
    if (rc != MH_OK)
        return rc;
    return mh_db_exec_script(c,
                             "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = "
                             "'meshhook_app') THEN GRANT SELECT ON schema_migrations TO "
                             "meshhook_app; END IF; END $$",
                             info);
}

enum mh_err mh_db_migrate(const char *admin_url, FILE *out, struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    json_t *applied = NULL;
    enum mh_err rc = mh_db_connect(admin_url, &c, info);
    if (rc != MH_OK)
        goto out;
    if ((rc = lock_and_prepare(c, info)) != MH_OK)
        goto out;
    if ((rc = applied_map(c, &applied, info)) != MH_OK)
        goto out;
    int done = 0;
    for (size_t i = 0; i < mh_migration_files_count; i++) {
        const struct mh_embedded_file *m = &mh_migration_files[i];
        char sum[80];
        if ((rc = checksum_of(c, m, sum, sizeof(sum), info)) != MH_OK)
            goto out;
        json_t *have = json_object_get(applied, m->name);
        if (have) {
            if (strcmp(json_string_value(have), sum) != 0) {
                rc = mh_err_set(info, MH_ECONFLICT, "checksum", -1,
                                "migration %s was changed after it was applied (checksum %.12s "
                                "recorded, %.12s now); write a new migration instead",
                                m->name, json_string_value(have), sum);
                goto out;
            }
            continue;
        }
        if ((rc = mh_db_begin(c, NULL, NULL, info)) != MH_OK)
            goto out;
        if ((rc = mh_db_exec_script(c, (const char *)m->data, info)) != MH_OK) {
            mh_db_rollback(c);
            if (info) {
                char detail[256];
                snprintf(detail, sizeof(detail), "%s", info->message);
                mh_err_set(info, rc, info->kind, -1, "migration %s failed: %.200s", m->name,
                           detail);
            }
            goto out;
        }
        const char *params[] = {m->name, sum};
        if ((rc =
                 mh_db_query(c, "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
                             2, params, NULL, NULL, info)) != MH_OK) {
            mh_db_rollback(c);
            goto out;
        }
        if ((rc = mh_db_commit(c, info)) != MH_OK)
            goto out;
        done++;
        if (out)
            fprintf(out, "applied %s\n", m->name);
    }
    if (out)
        fprintf(out, "migrations: %d applied now, %zu total, database is up to date\n", done,
                mh_migration_files_count);
out:
    if (c)
        (void)!mh_db_exec_script(c, "SELECT pg_advisory_unlock_all()", NULL);
    json_decref(applied);
    mh_db_close(c);
    return rc;
}

enum mh_err mh_db_migrate_status(const char *admin_url, FILE *out, int *pending,
                                 struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    json_t *applied = NULL;
    int npending = 0;
    enum mh_err rc = mh_db_connect(admin_url, &c, info);
    if (rc != MH_OK)
        goto out;
    if ((rc = mh_db_exec_script(c, create_table_sql, info)) != MH_OK)
        goto out;
    if ((rc = applied_map(c, &applied, info)) != MH_OK)
        goto out;
    for (size_t i = 0; i < mh_migration_files_count; i++) {
        const struct mh_embedded_file *m = &mh_migration_files[i];
        char sum[80];
        if ((rc = checksum_of(c, m, sum, sizeof(sum), info)) != MH_OK)
            goto out;
        json_t *have = json_object_get(applied, m->name);
        const char *state = "pending";
        if (have && strcmp(json_string_value(have), sum) == 0)
            state = "applied";
        else if (have)
            state = "CHANGED";
        else
            npending++;
        if (out)
            fprintf(out, "%-8s %s\n", state, m->name);
    }
    if (pending)
        *pending = npending;
out:
    json_decref(applied);
    mh_db_close(c);
    return rc;
}

enum mh_err mh_db_is_migrated(struct mh_db_conn *c, bool *is_migrated, struct mh_err_info *info)
{
    json_t *rows = NULL;
    struct mh_err_info local = MH_ERR_INFO_INIT;
    enum mh_err rc =
        mh_db_query(c, "SELECT version FROM schema_migrations", 0, NULL, &rows, NULL, &local);
    if (rc != MH_OK && strcmp(local.kind, "42P01") == 0) {
        /* No schema_migrations table: a database nothing was applied to. */
        *is_migrated = false;
        return MH_OK;
    }
    if (rc != MH_OK) {
        if (info)
            *info = local;
        return rc;
    }
    size_t found = 0;
    for (size_t i = 0; i < mh_migration_files_count; i++) {
        size_t k;
        json_t *row;
        json_array_foreach(rows, k, row)
        {
            if (strcmp(json_string_value(json_object_get(row, "version")),
                       mh_migration_files[i].name) == 0) {
                found++;
                break;
            }
        }
    }
    json_decref(rows);
    *is_migrated = found == mh_migration_files_count;
    return MH_OK;
}
