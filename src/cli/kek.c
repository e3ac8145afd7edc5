/* SPDX-License-Identifier: MIT */
/*
 * `meshhook kek rotate --new-key-file F [--new-key-id ID]` re-wraps every secret's data key under
 * a new key-encryption key in one transaction, as the schema owner (admin_database_url), reading
 * the old keys from the usual configuration (kek_file/kek and old_kek_files/old_keks).
 * `meshhook kek status` lists the key ids in use and whether this configuration holds each.
 * The procedure around them (configure the new key everywhere first) is in docs/secrets.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "crypto/vault.h"
#include "db/db.h"
#include "secrets/secrets.h"

static int usage(FILE *out, int status);
static int kek_rotate(const struct mh_config *cfg, const char *new_file, const char *new_id);
static int kek_status(const struct mh_config *cfg);

static int usage(FILE *out, int status)
{
    fprintf(out,
            "usage: meshhook kek rotate --new-key-file FILE [--new-key-id ID] [options]\n"
            "       meshhook kek status [options]\n\n"
            "rotate  re-wraps every secret's data key under the key in FILE (32 raw bytes, or\n"
            "        [ID:]KEY as hex or base64), in one transaction. The keys that wrap them now\n"
            "        come from kek_file/kek and old_kek_files/old_keks. Safe to re-run.\n"
            "status  lists the key ids in use and whether this configuration holds them;\n"
            "        exits 1 when one is missing.\n\n"
            "Both connect with admin_database_url. See docs/secrets.md for the procedure.\n");
    return status;
}

static int kek_rotate(const struct mh_config *cfg, const char *new_file, const char *new_id)
{
    int status = 1;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    struct mh_secrets_keyring *kr = NULL;
    struct mh_crypto_kek *new_kek = NULL;
    struct mh_db_conn *c = NULL;
    struct mh_secrets_rotation stats;

    if (mh_secrets_keyring_load(cfg, &kr, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek rotate: %s\n", info.message);
        status = 2;
        goto out;
    }
    if (mh_crypto_kek_load_file(new_file, new_id, &new_kek, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek rotate: %s%s\n", info.message,
                new_id ? "" : " (give --new-key-id, or write the key as ID:KEY)");
        status = 2;
        goto out;
    }
    if (new_id && strcmp(mh_crypto_kek_id(new_kek), new_id) != 0) {
        fprintf(stderr, "meshhook kek rotate: --new-key-id is '%s' but %s names '%s'\n", new_id,
                new_file, mh_crypto_kek_id(new_kek));
        status = 2;
        goto out;
    }
    if (mh_db_connect(cfg->admin_database_url, &c, &info) != MH_OK ||
        mh_secrets_rotate(c, kr, new_kek, stdout, &stats, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek rotate: %s\n", info.message);
        goto out;
    }
    printf("re-wrapped %ld secret(s) in %ld project(s) from %s to key id '%s'; %ld were under it "
           "already\n",
           stats.rewrapped, stats.projects, stats.from[0] ? stats.from : "(none)",
           mh_crypto_kek_id(new_kek), stats.already);
    printf("re-wrapped %ld webhook endpoint signing key(s)\n", stats.endpoint_keys);
    printf("re-wrapped %ld alert webhook secret(s)\n", stats.alert_secrets);
    printf("next: make '%s' the current key (kek_file/kek, kek_id) on every server, then drop the "
           "old keys from old_kek_files/old_keks once 'meshhook kek status' lists only '%s'\n",
           mh_crypto_kek_id(new_kek), mh_crypto_kek_id(new_kek));
    status = 0;
out:
    mh_db_close(c);
    mh_crypto_kek_destroy(new_kek);
    mh_secrets_keyring_destroy(kr);
    return status;
}

static int kek_status(const struct mh_config *cfg)
{
    int status = 1;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    struct mh_secrets_keyring *kr = NULL;
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL;
    char have[256];
    size_t i;
    json_t *r;

    if (mh_secrets_keyring_load(cfg, &kr, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek status: %s\n", info.message);
        status = 2;
        goto out;
    }
    if (mh_db_connect(cfg->admin_database_url, &c, &info) != MH_OK ||
        mh_db_query(c,
                    "SELECT kek_id, count(*) AS n, count(DISTINCT project_id) AS projects FROM "
                    "secrets GROUP BY kek_id ORDER BY kek_id",
                    0, NULL, &rows, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek status: %s\n", info.message);
        goto out;
    }
    mh_secrets_keyring_describe(kr, have, sizeof(have));
    printf("configured keys: %s\n", have);
    bool missing = false;
    const struct mh_crypto_kek *cur = mh_secrets_keyring_current(kr);
    json_array_foreach(rows, i, r)
    {
        const char *id = json_string_value(json_object_get(r, "kek_id"));
        const char *state = "configured";
        if (mh_secrets_keyring_find(kr, id) == NULL) {
            state = "NOT CONFIGURED";
            missing = true;
        } else if (cur && strcmp(mh_crypto_kek_id(cur), id) == 0) {
            state = "configured, current";
        }
        printf("kek_id=%s secrets=%lld projects=%lld %s\n", id,
               (long long)json_integer_value(json_object_get(r, "n")),
               (long long)json_integer_value(json_object_get(r, "projects")), state);
    }
    if (json_array_size(rows) == 0)
        printf("no secrets stored\n");
    status = missing ? 1 : 0;
out:
    json_decref(rows);
    mh_db_close(c);
    mh_secrets_keyring_destroy(kr);
    return status;
}

int mh_cli_kek(int argc, char **argv)
{
    const char *sub = argc >= 2 ? argv[1] : NULL;
    const char *new_file = NULL, *new_id = NULL;
    struct mh_config cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int status = 2;

    if (sub == NULL)
        return usage(stderr, 2);
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0)
        return usage(stdout, 0);
    if (strcmp(sub, "rotate") != 0 && strcmp(sub, "status") != 0)
        return usage(stderr, 2);
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            free(rest);
            return usage(stdout, 0);
        }
        if (strcmp(sub, "rotate") == 0 && strcmp(argv[i], "--new-key-file") == 0 && i + 1 < argc)
            new_file = argv[++i];
        else if (strcmp(sub, "rotate") == 0 && strcmp(argv[i], "--new-key-id") == 0 && i + 1 < argc)
            new_id = argv[++i];
        else
            rest[nrest++] = argv[i];
    }
    if (mh_config_load(&cfg, nrest, rest, NULL, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook kek %s: %s\n", sub, info.message);
        free(rest);
        return 2;
    }
    free(rest);
    if (cfg.admin_database_url[0] == '\0') {
        fprintf(stderr,
                "meshhook kek %s: set MESHHOOK_ADMIN_DATABASE_URL or "
                "MESHHOOK_DATABASE_URL\n",
                sub);
        goto out;
    }
    if (strcmp(sub, "rotate") == 0) {
        if (new_file == NULL) {
            fprintf(stderr, "meshhook kek rotate: --new-key-file is required\n");
            goto out;
        }
        status = kek_rotate(&cfg, new_file, new_id);
    } else {
        status = kek_status(&cfg);
    }
out:
    mh_config_cleanup(&cfg);
    return status;
}
