/* SPDX-License-Identifier: MIT */
/*
 * KEK rotation: re-wraps every secret's data key under a new key-encryption key in a single
 * transaction, so that the database holds either the old wrapping of every secret or the new
 * wrapping of every secret, never a mix that one configuration could not read. Only the 32-byte
 * data keys are re-wrapped; values are never decrypted. Rows are processed in id-ordered
 * batches, each locked FOR UPDATE, so a concurrent edit of a secret waits for the rotation and
 * the memory used stays bounded however many secrets there are.
 */
#include "secrets/secrets.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "secrets/secrets_internal.h"

static enum mh_err check_ids(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                             const char *new_id, struct mh_secrets_rotation *stats,
                             struct mh_err_info *info);
static enum mh_err rotate_batch(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                                const struct mh_crypto_kek *new_kek, json_t *per_project,
                                long *done, struct mh_err_info *info);
static enum mh_err write_audit(struct mh_db_conn *c, const char *new_id, json_t *per_project,
                               const struct mh_secrets_rotation *stats, struct mh_err_info *info);

/* Counts secrets per KEK id and refuses, before writing anything, when an id is not held. */
static enum mh_err check_ids(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                             const char *new_id, struct mh_secrets_rotation *stats,
                             struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *rows = NULL;
    char missing[160] = "", have[200];
    long n_missing = 0;
    size_t i;
    json_t *r;

    rc = mh_db_query(c, "SELECT kek_id, count(*) AS n FROM secrets GROUP BY kek_id ORDER BY kek_id",
                     0, NULL, &rows, NULL, info);
    if (rc != MH_OK)
        goto out;
    json_array_foreach(rows, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "kek_id"));
        long n = (long)json_integer_value(json_object_get(r, "n"));
        size_t o;
        if (strcmp(id, new_id) == 0) {
            stats->already = n;
            continue;
        }
        if (mh_secrets_keyring_find(kr, id) == NULL) {
            o = strlen(missing);
            snprintf(missing + o, sizeof(missing) - o, "%s%s", o ? ", " : "", id);
            n_missing += n;
            continue;
        }
        o = strlen(stats->from);
        snprintf(stats->from + o, sizeof(stats->from) - o, "%s%s", o ? "," : "", id);
    }
    if (n_missing) {
        mh_secrets_keyring_describe(kr, have, sizeof(have));
        rc = mh_err_set(info, MH_ECRYPTO, "unknown-kek", -1,
                        "cannot rotate: %ld secret(s) are wrapped by key id(s) %s, which are not "
                        "configured (configured: %s); add them with old_kek_files or old_keks",
                        n_missing, missing, have);
    }
out:
    json_decref(rows);
    return rc;
}

static enum mh_err rotate_batch(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                                const struct mh_crypto_kek *new_kek, json_t *per_project,
                                long *done, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *rows = NULL, *updates = json_array();
    char *updates_s = NULL, limit[16];
    const char *new_id = mh_crypto_kek_id(new_kek);
    size_t i;
    json_t *r;

    *done = 0;
    snprintf(limit, sizeof(limit), "%d", MH_SECRETS_ROTATE_BATCH);
    const char *params[] = {new_id, limit};
    rc = mh_db_query(c,
                     "SELECT id::text AS id, project_id::text AS project_id, name, sealed FROM "
                     "secrets WHERE kek_id <> $1 ORDER BY id LIMIT $2::int FOR UPDATE",
                     2, params, &rows, NULL, info);
    if (rc != MH_OK)
        goto out;
    json_array_foreach(rows, i, r)
    {
        const char *pid = json_string_value(json_object_get(r, "project_id"));
        const char *name = json_string_value(json_object_get(r, "name"));
        uint8_t *blob = NULL, *fresh = NULL;
        size_t blob_len = 0, fresh_len = 0;
        char blob_kek[MH_CRYPTO_KEK_ID_MAX + 1];
        struct mh_err_info sub = MH_ERR_INFO_INIT;
        const struct mh_crypto_kek *old = NULL;

        rc = mh_secrets__bytea_decode(json_string_value(json_object_get(r, "sealed")), &blob,
                                      &blob_len, &sub);
        if (rc == MH_OK && (rc = mh_crypto_vault_blob_kek_id(blob, blob_len, blob_kek)) != MH_OK)
            mh_err_set(&sub, rc, "malformed", -1, "malformed sealed value");
        if (rc == MH_OK && (old = mh_secrets_keyring_find(kr, blob_kek)) == NULL)
            rc = mh_err_set(&sub, MH_ECRYPTO, "unknown-kek", -1,
                            "its key id '%s' is not configured", blob_kek);
        if (rc == MH_OK)
            rc = mh_crypto_vault_rewrap(old, new_kek, pid, name, blob, blob_len, &fresh, &fresh_len,
                                        &sub);
        if (rc != MH_OK) {
            rc = mh_err_set(info, MH_ECRYPTO, sub.kind[0] ? sub.kind : "malformed", -1,
                            "cannot rotate: secret '%s' of project %s does not unwrap (%s); "
                            "nothing was changed",
                            name, pid, sub.message);
            free(blob);
            goto out;
        }
        char *hex = mh_secrets__bytea_encode(fresh, fresh_len);
        json_array_append_new(updates, json_pack("{s:s, s:s}", "id",
                                                 json_string_value(json_object_get(r, "id")),
                                                 "sealed", hex + 2));
        free(hex);
        free(blob);
        free(fresh);
        json_t *cnt = json_object_get(per_project, pid);
        json_object_set_new(per_project, pid, json_integer(json_integer_value(cnt) + 1));
    }
    if (json_array_size(updates) == 0)
        goto out;
    updates_s = json_dumps(updates, JSON_COMPACT);
    const char *uparams[] = {new_id, updates_s};
    long affected = 0;
    rc = mh_db_query(c,
                     "UPDATE secrets s SET sealed = decode(v.sealed, 'hex'), kek_id = $1 "
                     "FROM jsonb_to_recordset($2::jsonb) AS v(id uuid, sealed text) "
                     "WHERE s.id = v.id",
                     2, uparams, NULL, &affected, info);
    if (rc != MH_OK)
        goto out;
    *done = affected;
out:
    json_decref(rows);
    json_decref(updates);
    free(updates_s);
    return rc;
}

static enum mh_err write_audit(struct mh_db_conn *c, const char *new_id, json_t *per_project,
                               const struct mh_secrets_rotation *stats, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    char *counts = json_dumps(per_project, JSON_COMPACT);
    char total[24];
    snprintf(total, sizeof(total), "%ld", stats->rewrapped);
    const char *params[] = {new_id, counts, stats->from, total};
    rc = mh_db_query(
        c,
        "INSERT INTO audit_log (project_id, actor, action, target, detail) "
        "SELECT p.key::uuid, 'cli', 'kek.rotate', $1::text, jsonb_build_object('to', $1::text, "
        "'from', $3::text, 'secrets', p.value::bigint) "
        "FROM jsonb_each_text($2::jsonb) AS p ORDER BY p.key",
        3, params, NULL, NULL, info);
    if (rc == MH_OK)
        rc = mh_db_query(
            c,
            "INSERT INTO audit_log (project_id, actor, action, target, detail) "
            "VALUES (NULL, 'cli', 'kek.rotate', $1::text, jsonb_build_object('to', $1::text, "
            "'from', $3::text, 'secrets', $4::bigint, 'projects', "
            "(SELECT count(*) FROM jsonb_object_keys($2::jsonb))))",
            4, params, NULL, NULL, info);
    free(counts);
    return rc;
}

/*
 * Other values sealed by the same keyring move with the secrets, in the same transaction, in
 * batches walked by id: the webhook endpoints' signing keys (as "webhook_endpoint_key/<key id>",
 * see src/intake/endpoint.c) and the alert webhooks' secrets (as "alert_channel:<channel id>",
 * see src/alerts/alerts.h).
 */
struct sealed_column {
    const char *table;
    const char *column;
    const char *name_prefix; /* the vault name (AAD) of row <id> is <prefix><id> */
    const char *what;        /* for messages */
};
static const struct sealed_column endpoint_keys = {"webhook_endpoint_keys", "sealed_key",
                                                   "webhook_endpoint_key/", "endpoint signing key"};
static const struct sealed_column alert_channels = {"alert_channels", "sealed_secret",
                                                    "alert_channel:", "alert webhook secret"};

static enum mh_err rotate_sealed(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                                 const struct mh_crypto_kek *new_kek, const struct sealed_column *t,
                                 long *count, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    const char *new_id = mh_crypto_kek_id(new_kek);
    char last[40] = "00000000-0000-0000-0000-000000000000";
    char select_sql[320], update_sql[320];
    snprintf(select_sql, sizeof(select_sql),
             "SELECT id::text AS id, project_id::text AS project_id, encode(%s, 'hex') AS sealed "
             "FROM %s WHERE %s IS NOT NULL AND id > $1::uuid ORDER BY id LIMIT 100 FOR UPDATE",
             t->column, t->table, t->column);
    snprintf(update_sql, sizeof(update_sql),
             "UPDATE %s k SET %s = decode(v.sealed, 'hex') FROM jsonb_to_recordset($1::jsonb) AS "
             "v(id uuid, sealed text) WHERE k.id = v.id",
             t->table, t->column);
    *count = 0;
    for (;;) {
        json_t *rows = NULL, *updates = json_array();
        const char *params[] = {last};
        rc = mh_db_query(c, select_sql, 1, params, &rows, NULL, info);
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r)
        {
            if (rc != MH_OK)
                break;
            const char *id = json_string_value(json_object_get(r, "id"));
            const char *pid = json_string_value(json_object_get(r, "project_id"));
            const char *hex = json_string_value(json_object_get(r, "sealed"));
            snprintf(last, sizeof(last), "%s", id);
            size_t cap = strlen(hex) / 2 + 1, blob_len = 0, fresh_len = 0;
            uint8_t *blob = mh_xmalloc(cap), *fresh = NULL;
            char blob_kek[MH_CRYPTO_KEK_ID_MAX + 1], name[96];
            const struct mh_crypto_kek *old = NULL;
            snprintf(name, sizeof(name), "%s%s", t->name_prefix, id);
            if (mh_crypto_hex_decode(hex, strlen(hex), blob, cap, &blob_len) != MH_OK ||
                mh_crypto_vault_blob_kek_id(blob, blob_len, blob_kek) != MH_OK)
                rc = mh_err_set(info, MH_ECRYPTO, "malformed", -1,
                                "cannot rotate: %s %s is malformed; nothing was changed", t->what,
                                id);
            else if (strcmp(blob_kek, new_id) == 0) {
                /* already under the new key */
            } else if ((old = mh_secrets_keyring_find(kr, blob_kek)) == NULL)
                rc = mh_err_set(info, MH_ECRYPTO, "unknown-kek", -1,
                                "cannot rotate: %s %s is wrapped by key id '%s', which is not "
                                "configured; nothing was changed",
                                t->what, id, blob_kek);
            else if (mh_crypto_vault_rewrap(old, new_kek, pid, name, blob, blob_len, &fresh,
                                            &fresh_len, NULL) != MH_OK)
                rc = mh_err_set(info, MH_ECRYPTO, "unwrap-failed", -1,
                                "cannot rotate: %s %s does not unwrap; nothing was changed",
                                t->what, id);
            else {
                char *fhex = mh_xmalloc(2 * fresh_len + 1);
                mh_crypto_hex_encode(fresh, fresh_len, fhex);
                json_array_append_new(updates, json_pack("{s:s, s:s}", "id", id, "sealed", fhex));
                free(fhex);
            }
            free(blob);
            free(fresh);
        }
        size_t n = json_array_size(rows);
        json_decref(rows);
        if (rc == MH_OK && json_array_size(updates) > 0) {
            char *u = json_dumps(updates, JSON_COMPACT);
            const char *up[] = {u};
            long affected = 0;
            rc = mh_db_query(c, update_sql, 1, up, NULL, &affected, info);
            *count += affected;
            free(u);
        }
        json_decref(updates);
        if (rc != MH_OK || n == 0)
            return rc;
    }
}

enum mh_err mh_secrets_rotate(struct mh_db_conn *c, const struct mh_secrets_keyring *kr,
                              const struct mh_crypto_kek *new_kek, FILE *progress,
                              struct mh_secrets_rotation *stats, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *per_project = json_object(), *lock = NULL;
    bool in_tx = false;

    memset(stats, 0, sizeof(*stats));
    if (c == NULL || new_kek == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "mh_secrets_rotate: missing argument");
        goto out;
    }
    const char *new_id = mh_crypto_kek_id(new_kek);
    const struct mh_crypto_kek *same_id = mh_secrets_keyring_find(kr, new_id);
    if (same_id && !mh_secrets_kek_same_key(same_id, new_kek)) {
        rc = mh_err_set(info, MH_EINVAL, "kek-id-taken", -1,
                        "a configured key already has the id '%s' with other key bytes: give "
                        "the new key a new id (--new-key-id)",
                        new_id);
        goto out;
    }
    if ((rc = mh_db_begin(c, NULL, NULL, info)) != MH_OK)
        goto out;
    in_tx = true;
    rc = mh_db_query_row(c,
                         "SELECT pg_try_advisory_xact_lock(hashtextextended('meshhook.kek_rotate', "
                         "0)) AS ok",
                         0, NULL, &lock, info);
    if (rc != MH_OK)
        goto out;
    if (!json_is_true(json_object_get(lock, "ok"))) {
        rc = mh_err_set(info, MH_ECONFLICT, "busy", -1, "another KEK rotation is running");
        goto out;
    }
    if ((rc = check_ids(c, kr, new_id, stats, info)) != MH_OK)
        goto out;
    for (;;) {
        long done = 0;
        if ((rc = rotate_batch(c, kr, new_kek, per_project, &done, info)) != MH_OK)
            goto out;
        if (done == 0)
            break;
        stats->rewrapped += done;
        if (progress) {
            fprintf(progress, "re-wrapped %ld secret(s) so far (not committed yet)\n",
                    stats->rewrapped);
            fflush(progress);
        }
    }
    if ((rc = rotate_sealed(c, kr, new_kek, &endpoint_keys, &stats->endpoint_keys, info)) != MH_OK)
        goto out;
    if ((rc = rotate_sealed(c, kr, new_kek, &alert_channels, &stats->alert_secrets, info)) != MH_OK)
        goto out;
    stats->projects = (long)json_object_size(per_project);
    if (stats->rewrapped > 0 && (rc = write_audit(c, new_id, per_project, stats, info)) != MH_OK)
        goto out;
    rc = mh_db_commit(c, info);
    in_tx = false;
out:
    if (in_tx)
        mh_db_rollback(c);
    json_decref(per_project);
    json_decref(lock);
    return rc;
}
