/* SPDX-License-Identifier: MIT */
/*
 * The vault proper: sealing values for storage, the start-up check that every key id in use is
 * held (so a misconfigured server refuses to start instead of failing runs one by one), and
 * resolution of a run's secrets at send time. Resolution decrypts only in memory, writes an
 * audit entry per secret for the run, and hands values out in a form that is wiped on release;
 * nothing here ever logs or reports a value.
 */
#include "secrets/secrets.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "secrets/secrets_internal.h"

struct mh_secrets {
    struct mh_secrets_keyring *kr;
};

static enum mh_err check_stored_keys(const struct mh_secrets_keyring *kr, struct mh_db_pool *pool,
                                     struct mh_err_info *info);
static bool unwraps(const struct mh_crypto_kek *kek, const char *project_id, const char *name,
                    const char *sealed);
static void append_id(char *list, size_t cap, const char *id);

bool mh_secrets_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > MH_SECRETS_NAME_MAX || !(isalpha((unsigned char)name[0]) || name[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)name[i]) || name[i] == '_'))
            return false;
    return true;
}

static void append_id(char *list, size_t cap, const char *id)
{
    size_t o = strlen(list);
    if (o < cap)
        snprintf(list + o, cap - o, "%s%s", o ? ", " : "", id);
}

/*
 * True when `kek` unwraps the data key of `sealed`. Re-wraps it under a throwaway key instead of
 * opening it, so the check never decrypts a value (and so needs no audit entry).
 */
static bool unwraps(const struct mh_crypto_kek *kek, const char *project_id, const char *name,
                    const char *sealed)
{
    uint8_t raw[MH_CRYPTO_KEK_LEN];
    struct mh_crypto_kek *probe = NULL;
    uint8_t *blob = NULL, *rewrapped = NULL;
    size_t blob_len = 0, rewrapped_len = 0;
    bool ok = false;
    const char *probe_id =
        strcmp(mh_crypto_kek_id(kek), "startup-probe") == 0 ? "startup-probe-2" : "startup-probe";

    if (mh_crypto_random(raw, sizeof(raw)) != MH_OK ||
        mh_crypto_kek_create(probe_id, raw, &probe) != MH_OK ||
        mh_secrets__bytea_decode(sealed, &blob, &blob_len, NULL) != MH_OK)
        goto out;
    ok = mh_crypto_vault_rewrap(kek, probe, project_id, name, blob, blob_len, &rewrapped,
                                &rewrapped_len, NULL) == MH_OK;
out:
    mh_crypto_wipe(raw, sizeof(raw));
    mh_crypto_kek_destroy(probe);
    free(blob);
    free(rewrapped);
    return ok;
}

static enum mh_err check_stored_keys(const struct mh_secrets_keyring *kr, struct mh_db_pool *pool,
                                     struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    struct mh_err_info sub = MH_ERR_INFO_INIT;
    char missing[160] = "", wrong[160] = "", have[200];
    long n_missing = 0, n_wrong = 0;

    mh_secrets_keyring_describe(kr, have, sizeof(have));
    rc = mh_db_acquire(pool, &c, &sub);
    if (rc == MH_OK)
        rc = mh_db_query(c,
                         "SELECT kek_id, secrets, sample_project::text AS sample_project, "
                         "sample_name, sample_sealed FROM mh_secrets_kek_ids()",
                         0, NULL, &rows, NULL, &sub);
    if (rc != MH_OK) {
        /* 42883: undefined function, i.e. migrations not applied yet (readyz reports that). */
        mh_log(MH_LOG_WARN, "secrets",
               "could not check the key ids of stored secrets (%s%s%s); secrets under a key "
               "this server lacks will fail to open when used",
               strcmp(sub.kind, "42883") == 0 ? "database not migrated" : mh_strerror(rc),
               sub.message[0] ? ": " : "", sub.message);
        rc = MH_OK;
        goto out;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "kek_id"));
        long count = (long)json_integer_value(json_object_get(r, "secrets"));
        const struct mh_crypto_kek *kek = mh_secrets_keyring_find(kr, id);
        if (kek == NULL) {
            mh_log(MH_LOG_ERROR, "secrets",
                   "%ld secret(s) are wrapped by key-encryption key id '%s', which is not "
                   "configured (configured: %s)",
                   count, id, have);
            append_id(missing, sizeof(missing), id);
            n_missing += count;
        } else if (!unwraps(kek, json_string_value(json_object_get(r, "sample_project")),
                            json_string_value(json_object_get(r, "sample_name")),
                            json_string_value(json_object_get(r, "sample_sealed")))) {
            mh_log(MH_LOG_ERROR, "secrets",
                   "the configured key-encryption key '%s' does not unwrap the %ld secret(s) "
                   "stored under that id: wrong key material for the id",
                   id, count);
            append_id(wrong, sizeof(wrong), id);
            n_wrong += count;
        }
    }
    if (n_missing || n_wrong) {
        rc = mh_err_set(info, MH_ECRYPTO, "unknown-kek", -1,
                        "refusing to start: %ld secret(s) need key-encryption key id(s) %s%s%s "
                        "that no configured key can unwrap (configured: %s); see docs/secrets.md",
                        n_missing + n_wrong, missing, missing[0] && wrong[0] ? ", " : "", wrong,
                        have);
        goto out;
    }
    if (json_array_size(rows) > 0)
        mh_log(MH_LOG_INFO, "secrets", "every stored secret's key-encryption key is configured");
out:
    json_decref(rows);
    mh_db_release(c);
    return rc;
}

enum mh_err mh_secrets_create(const struct mh_config *cfg, struct mh_db_pool *pool,
                              struct mh_secrets **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_secrets *s = mh_xcalloc(1, sizeof(*s));

    *out = NULL;
    if ((rc = mh_secrets_keyring_load(cfg, &s->kr, info)) != MH_OK)
        goto out;
    if (pool && (rc = check_stored_keys(s->kr, pool, info)) != MH_OK)
        goto out;
    if (mh_secrets_keyring_current(s->kr) == NULL)
        mh_log(MH_LOG_WARN, "secrets",
               "no key-encryption key configured (kek_file or kek): secrets cannot be written "
               "until one is; see docs/secrets.md");
    else
        mh_log(MH_LOG_INFO, "secrets", "key-encryption key '%s' seals new secrets",
               mh_crypto_kek_id(mh_secrets_keyring_current(s->kr)));
    *out = s;
    s = NULL;
out:
    mh_secrets_destroy(s);
    return rc;
}

void mh_secrets_destroy(struct mh_secrets *s)
{
    if (s == NULL)
        return;
    mh_secrets_keyring_destroy(s->kr);
    free(s);
}

const struct mh_secrets_keyring *mh_secrets_keyring(const struct mh_secrets *s)
{
    return s ? s->kr : NULL;
}

bool mh_secrets_can_seal(const struct mh_secrets *s)
{
    return s && mh_secrets_keyring_current(s->kr) != NULL;
}

enum mh_err mh_secrets_callback_key(const struct mh_secrets *s, uint8_t out[32])
{
    const struct mh_crypto_kek *kek = s ? mh_secrets_keyring_current(s->kr) : NULL;
    if (kek == NULL)
        return MH_EUNAVAILABLE;
    return mh_crypto_kek_derive(kek, "meshhook callback tokens v1", out);
}

enum mh_err mh_secrets_seal(const struct mh_secrets *s, const char *project_id, const char *name,
                            const char *value, size_t len, char **sealed, const char **kek_id,
                            struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    const struct mh_crypto_kek *kek = s ? mh_secrets_keyring_current(s->kr) : NULL;

    *sealed = NULL;
    *kek_id = NULL;
    if (kek == NULL)
        return mh_err_set(info, MH_EUNAVAILABLE, "no-kek", -1,
                          "no key-encryption key configured: set kek_file or kek "
                          "(see docs/secrets.md)");
    if (len > MH_SECRETS_VALUE_MAX)
        return mh_err_set(info, MH_ETOOBIG, "too-big", -1, "a secret value is at most %d bytes",
                          MH_SECRETS_VALUE_MAX);
    rc = mh_crypto_vault_seal(kek, project_id, name, value, len, &blob, &blob_len, info);
    if (rc != MH_OK)
        goto out;
    *sealed = mh_secrets__bytea_encode(blob, blob_len);
    *kek_id = mh_crypto_kek_id(kek);
out:
    free(blob);
    return rc;
}

enum mh_err mh_secrets_open(const struct mh_secrets_keyring *kr, const char *project_id,
                            const char *name, const char *sealed, char **value, size_t *len,
                            struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    uint8_t *blob = NULL, *plain = NULL;
    size_t blob_len = 0, plain_len = 0, nkeys = 0;
    const struct mh_crypto_kek *const *keys = mh_secrets_keyring_keys(kr, &nkeys);

    *value = NULL;
    *len = 0;
    if ((rc = mh_secrets__bytea_decode(sealed, &blob, &blob_len, info)) != MH_OK)
        goto out;
    rc = mh_crypto_vault_open(keys, nkeys, project_id, name, blob, blob_len, &plain, &plain_len,
                              info);
    if (rc != MH_OK)
        goto out;
    *value = (char *)plain;
    *len = plain_len;
out:
    free(blob);
    return rc;
}

enum mh_err mh_secrets_resolve(struct mh_secrets *s, struct mh_db_conn *c, const char *project_id,
                               const char *const *names, size_t n, const char *run_id,
                               json_t **values_out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *wanted = json_array(), *rows = NULL, *sealed_by_name = json_object();
    json_t *values = json_object();
    char *wanted_s = NULL;
    char actor[80];

    *values_out = NULL;
    if (s == NULL || c == NULL || project_id == NULL || (n > 0 && names == NULL)) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "mh_secrets_resolve: missing argument");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!mh_secrets_name_valid(names[i])) {
            rc = mh_err_set(info, MH_ENOTFOUND, "secret-not-found", -1,
                            "the workflow names a secret '%.64s' that cannot exist (names are "
                            "letters, digits and '_', at most %d)",
                            names[i] ? names[i] : "", MH_SECRETS_NAME_MAX);
            goto out;
        }
        bool seen = false;
        for (size_t k = 0; k < json_array_size(wanted) && !seen; k++)
            seen = strcmp(json_string_value(json_array_get(wanted, k)), names[i]) == 0;
        if (!seen)
            json_array_append_new(wanted, json_string(names[i]));
    }
    if (json_array_size(wanted) == 0)
        goto done;
    wanted_s = json_dumps(wanted, JSON_COMPACT);
    const char *params[] = {project_id, wanted_s};
    rc = mh_db_query(c,
                     "SELECT name, sealed FROM secrets WHERE project_id = $1::uuid AND name IN "
                     "(SELECT jsonb_array_elements_text($2::jsonb))",
                     2, params, &rows, NULL, info);
    if (rc != MH_OK)
        goto out;
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        json_object_set(sealed_by_name, json_string_value(json_object_get(r, "name")),
                        json_object_get(r, "sealed"));
    }
    /* Every name must exist before anything is decrypted. */
    json_array_foreach(wanted, i, r)
    {
        const char *name = json_string_value(r);
        if (json_object_get(sealed_by_name, name) == NULL) {
            rc = mh_err_set(info, MH_ENOTFOUND, "secret-not-found", -1,
                            "secret '%s' is not defined in this project", name);
            char path[96];
            snprintf(path, sizeof(path), "secrets.%s", name);
            mh_err_set_path(info, path);
            goto out;
        }
    }
    json_array_foreach(wanted, i, r)
    {
        const char *name = json_string_value(r);
        char *value = NULL;
        size_t len = 0;
        struct mh_err_info sub = MH_ERR_INFO_INIT;
        rc = mh_secrets_open(s->kr, project_id, name,
                             json_string_value(json_object_get(sealed_by_name, name)), &value, &len,
                             &sub);
        if (rc != MH_OK) {
            mh_log(MH_LOG_WARN, "secrets", "secret '%s' of project %s does not open: %s (%s)", name,
                   project_id, sub.kind, sub.message);
            rc = mh_err_set(info, MH_ECRYPTO, sub.kind[0] ? sub.kind : "decrypt-failed", -1,
                            "secret '%s' could not be decrypted (%s): it was modified, moved, or "
                            "sealed under a key this server does not hold",
                            name, sub.kind);
            goto out;
        }
        json_object_set_new(values, name, json_stringn_nocheck(value, len));
        mh_crypto_free_secret(value, len);
    }
    if (run_id)
        snprintf(actor, sizeof(actor), "run:%.40s", run_id);
    else
        snprintf(actor, sizeof(actor), "system");
    const char *aparams[] = {project_id, actor, wanted_s, run_id};
    rc = mh_db_query(c,
                     "INSERT INTO audit_log (project_id, actor_user_id, actor, action, target, "
                     "detail) SELECT $1::uuid, mh_uid(), $2, 'secret.decrypt', t.name, "
                     "CASE WHEN $4::text IS NULL THEN '{}'::jsonb ELSE "
                     "jsonb_build_object('run_id', $4::text) END "
                     "FROM jsonb_array_elements_text($3::jsonb) WITH ORDINALITY AS t(name, o) "
                     "ORDER BY t.o",
                     4, aparams, NULL, NULL, info);
    if (rc != MH_OK)
        goto out;
done:
    *values_out = values;
    values = NULL;
out:
    mh_secrets_values_free(values);
    json_decref(wanted);
    json_decref(rows);
    json_decref(sealed_by_name);
    free(wanted_s);
    return rc;
}

enum mh_err mh_secrets_resolve_cb(void *ctx, struct mh_db_conn *c, const char *project_id,
                                  const char *const *names, size_t n, const char *run_id,
                                  json_t **values_out, struct mh_err_info *info)
{
    return mh_secrets_resolve(ctx, c, project_id, names, n, run_id, values_out, info);
}

void mh_secrets_values_free(json_t *values)
{
    const char *key;
    json_t *v;
    if (values == NULL)
        return;
    if (values->refcount == 1) {
        json_object_foreach(values, key, v)
        {
            if (json_is_string(v) && v->refcount == 1)
                mh_crypto_wipe((char *)json_string_value(v), json_string_length(v));
        }
    }
    json_decref(values);
}

enum mh_err mh_secrets_redactor_create(json_t *values, struct mh_redact_secrets **out,
                                       struct mh_err_info *info)
{
    size_t n = json_object_size(values), i = 0;
    struct mh_redact_secret *list = mh_xcalloc(n ? n : 1, sizeof(*list));
    const char *key;
    json_t *v;
    json_object_foreach(values, key, v)
    {
        if (!json_is_string(v))
            continue;
        list[i].name = key;
        list[i].value = json_string_value(v);
        list[i].value_len = json_string_length(v);
        i++;
    }
    enum mh_err rc = mh_redact_secrets_create(list, i, out, info);
    free(list);
    return rc;
}
