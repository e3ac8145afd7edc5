/* SPDX-License-Identifier: MIT */
/*
 * The keyring: the key-encryption keys this process holds, read once from the configuration.
 * The current KEK seals new values; previous KEKs stay readable so that a rotation can be
 * rolled out (new key configured everywhere first, re-wrap second, old key removed last)
 * without a moment where some secret cannot be opened. Keys are looked up by the id that each
 * sealed blob names, so the order of the keyring does not matter for opening.
 */
#include "secrets/secrets.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "secrets/secrets_internal.h"

struct mh_secrets_keyring {
    struct mh_crypto_kek *keys[MH_SECRETS_KEYRING_MAX];
    size_t n;
    bool has_current; /* keys[0] is the current KEK */
};

static enum mh_err add_key(struct mh_secrets_keyring *kr, struct mh_crypto_kek *kek,
                           const char *source, struct mh_err_info *info);
static enum mh_err load_current(const struct mh_config *cfg, struct mh_secrets_keyring *kr,
                                struct mh_err_info *info);
static enum mh_err load_old_files(const char *list, struct mh_secrets_keyring *kr,
                                  struct mh_err_info *info);
static enum mh_err load_old_inline(const char *list, struct mh_secrets_keyring *kr,
                                   struct mh_err_info *info);
static bool next_item(const char **p, const char **item, size_t *len);
static bool is_id_char(char c);

static bool is_id_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

/* Yields the next non-empty, whitespace-trimmed item of a comma-separated list. */
static bool next_item(const char **p, const char **item, size_t *len)
{
    const char *s = *p;
    while (*s) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        const char *b = s, *e = end;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        s = comma ? comma + 1 : end;
        if (e > b) {
            *item = b;
            *len = (size_t)(e - b);
            *p = s;
            return true;
        }
    }
    *p = s;
    return false;
}

/* Takes ownership of `kek` whatever happens. */
static enum mh_err add_key(struct mh_secrets_keyring *kr, struct mh_crypto_kek *kek,
                           const char *source, struct mh_err_info *info)
{
    for (size_t i = 0; i < kr->n; i++) {
        if (strcmp(mh_crypto_kek_id(kr->keys[i]), mh_crypto_kek_id(kek)) == 0) {
            enum mh_err rc = mh_err_set(info, MH_EINVAL, "config", -1,
                                        "%s: two key-encryption keys have the id '%s'; each KEK "
                                        "needs its own id",
                                        source, mh_crypto_kek_id(kek));
            mh_crypto_kek_destroy(kek);
            return rc;
        }
    }
    if (kr->n == MH_SECRETS_KEYRING_MAX) {
        mh_crypto_kek_destroy(kek);
        return mh_err_set(info, MH_EINVAL, "config", -1, "%s: more than %d key-encryption keys",
                          source, MH_SECRETS_KEYRING_MAX);
    }
    kr->keys[kr->n++] = kek;
    return MH_OK;
}

static enum mh_err load_current(const struct mh_config *cfg, struct mh_secrets_keyring *kr,
                                struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_crypto_kek *kek = NULL;
    struct mh_err_info sub = MH_ERR_INFO_INIT;
    const char *want_id = cfg->kek_id && cfg->kek_id[0] ? cfg->kek_id : NULL;
    bool has_file = cfg->kek_file && cfg->kek_file[0];
    bool has_inline = cfg->kek && cfg->kek[0];

    if (has_file && has_inline)
        return mh_err_set(info, MH_EINVAL, "config", -1,
                          "set either kek_file or kek (MESHHOOK_KEK), not both");
    if (!has_file && !has_inline) {
        if (want_id)
            return mh_err_set(info, MH_EINVAL, "config", -1,
                              "kek_id is set but neither kek_file nor kek is");
        return MH_OK;
    }
    if (has_file)
        rc = mh_crypto_kek_load_file(cfg->kek_file, want_id, &kek, &sub);
    else
        rc = mh_crypto_kek_parse(cfg->kek, strlen(cfg->kek), want_id, &kek, &sub);
    if (rc != MH_OK) {
        /* The crypto messages name the file, never the key. */
        rc = mh_err_set(info, rc, "config", -1, "%s: %s%s", has_file ? "kek_file" : "kek",
                        sub.message, want_id ? "" : " (set kek_id, or write the key as ID:KEY)");
        goto out;
    }
    if (want_id && strcmp(mh_crypto_kek_id(kek), want_id) != 0) {
        rc = mh_err_set(info, MH_EINVAL, "config", -1,
                        "kek_id is '%s' but the key itself names the id '%s'", want_id,
                        mh_crypto_kek_id(kek));
        goto out;
    }
    rc = add_key(kr, kek, has_file ? "kek_file" : "kek", info);
    kek = NULL;
    if (rc == MH_OK)
        kr->has_current = true;
out:
    mh_crypto_kek_destroy(kek);
    return rc;
}

static enum mh_err load_old_files(const char *list, struct mh_secrets_keyring *kr,
                                  struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    const char *p = list ? list : "", *item;
    size_t len;
    while (next_item(&p, &item, &len)) {
        char id[MH_CRYPTO_KEK_ID_MAX + 1] = "";
        char path[4096];
        size_t id_len = 0;
        while (id_len < len && is_id_char(item[id_len]))
            id_len++;
        if (id_len > 0 && id_len < len && item[id_len] == '=' && id_len <= MH_CRYPTO_KEK_ID_MAX) {
            memcpy(id, item, id_len);
            id[id_len] = '\0';
            item += id_len + 1;
            len -= id_len + 1;
        }
        if (len == 0 || len >= sizeof(path))
            return mh_err_set(info, MH_EINVAL, "config", -1,
                              "old_kek_files: each entry is [ID=]PATH");
        memcpy(path, item, len);
        path[len] = '\0';
        struct mh_crypto_kek *kek = NULL;
        struct mh_err_info sub = MH_ERR_INFO_INIT;
        rc = mh_crypto_kek_load_file(path, id[0] ? id : NULL, &kek, &sub);
        if (rc != MH_OK)
            return mh_err_set(info, rc, "config", -1, "old_kek_files: %s%s", sub.message,
                              id[0] ? "" : " (write the entry as ID=PATH)");
        if (id[0] && strcmp(mh_crypto_kek_id(kek), id) != 0) {
            rc = mh_err_set(info, MH_EINVAL, "config", -1,
                            "old_kek_files: the entry says '%s' but the key in %s names '%s'", id,
                            path, mh_crypto_kek_id(kek));
            mh_crypto_kek_destroy(kek);
            return rc;
        }
        if ((rc = add_key(kr, kek, "old_kek_files", info)) != MH_OK)
            return rc;
    }
    return MH_OK;
}

static enum mh_err load_old_inline(const char *list, struct mh_secrets_keyring *kr,
                                   struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    const char *p = list ? list : "", *item;
    size_t len;
    int index = 0;
    while (next_item(&p, &item, &len)) {
        struct mh_crypto_kek *kek = NULL;
        struct mh_err_info sub = MH_ERR_INFO_INIT;
        index++;
        rc = mh_crypto_kek_parse(item, len, NULL, &kek, &sub);
        if (rc != MH_OK)
            return mh_err_set(info, rc, "config", -1, "old_keks: entry %d: %s (want ID:KEY)", index,
                              sub.message);
        if ((rc = add_key(kr, kek, "old_keks", info)) != MH_OK)
            return rc;
    }
    return MH_OK;
}

enum mh_err mh_secrets_keyring_load(const struct mh_config *cfg, struct mh_secrets_keyring **out,
                                    struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_secrets_keyring *kr = mh_xcalloc(1, sizeof(*kr));

    *out = NULL;
    if ((rc = load_current(cfg, kr, info)) != MH_OK ||
        (rc = load_old_files(cfg->old_kek_files, kr, info)) != MH_OK ||
        (rc = load_old_inline(cfg->old_keks, kr, info)) != MH_OK)
        goto out;
    *out = kr;
    kr = NULL;
out:
    mh_secrets_keyring_destroy(kr);
    return rc;
}

void mh_secrets_keyring_destroy(struct mh_secrets_keyring *kr)
{
    if (kr == NULL)
        return;
    for (size_t i = 0; i < kr->n; i++)
        mh_crypto_kek_destroy(kr->keys[i]);
    free(kr);
}

const struct mh_crypto_kek *mh_secrets_keyring_current(const struct mh_secrets_keyring *kr)
{
    return kr && kr->has_current ? kr->keys[0] : NULL;
}

const struct mh_crypto_kek *mh_secrets_keyring_find(const struct mh_secrets_keyring *kr,
                                                    const char *id)
{
    for (size_t i = 0; kr && id && i < kr->n; i++)
        if (strcmp(mh_crypto_kek_id(kr->keys[i]), id) == 0)
            return kr->keys[i];
    return NULL;
}

const struct mh_crypto_kek *const *mh_secrets_keyring_keys(const struct mh_secrets_keyring *kr,
                                                           size_t *n)
{
    *n = kr ? kr->n : 0;
    return kr ? (const struct mh_crypto_kek *const *)kr->keys : NULL;
}

void mh_secrets_keyring_describe(const struct mh_secrets_keyring *kr, char *out, size_t cap)
{
    size_t o = 0;
    if (cap == 0)
        return;
    out[0] = '\0';
    if (kr == NULL || kr->n == 0) {
        snprintf(out, cap, "(none)");
        return;
    }
    for (size_t i = 0; i < kr->n && o < cap; i++) {
        int w = snprintf(out + o, cap - o, "%s%s%s", i ? ", " : "", mh_crypto_kek_id(kr->keys[i]),
                         i == 0 && kr->has_current ? " (current)" : "");
        if (w < 0)
            break;
        o += (size_t)w;
    }
}

bool mh_secrets_kek_same_key(const struct mh_crypto_kek *a, const struct mh_crypto_kek *b)
{
    static const char probe[] = "meshhook key comparison probe";
    uint8_t *blob = NULL, *value = NULL;
    size_t blob_len = 0, value_len = 0;
    bool same = false;
    if (a == NULL || b == NULL || strcmp(mh_crypto_kek_id(a), mh_crypto_kek_id(b)) != 0)
        return false;
    if (mh_crypto_vault_seal(a, "meshhook", "probe", probe, sizeof(probe) - 1, &blob, &blob_len,
                             NULL) != MH_OK)
        return false;
    same = mh_crypto_vault_open(&b, 1, "meshhook", "probe", blob, blob_len, &value, &value_len,
                                NULL) == MH_OK;
    mh_crypto_free_secret(value, value_len);
    free(blob);
    return same;
}

enum mh_err mh_secrets__bytea_decode(const char *text, uint8_t **out, size_t *len,
                                     struct mh_err_info *info)
{
    *out = NULL;
    *len = 0;
    size_t n = text ? strlen(text) : 0;
    if (n < 2 || text[0] != '\\' || text[1] != 'x' || (n - 2) % 2 != 0)
        return mh_err_set(info, MH_ECRYPTO, "malformed", -1, "sealed value is not bytea hex");
    size_t cap = (n - 2) / 2;
    uint8_t *buf = mh_xmalloc(cap ? cap : 1);
    size_t got = 0;
    if (mh_crypto_hex_decode(text + 2, n - 2, buf, cap, &got) != MH_OK) {
        free(buf);
        return mh_err_set(info, MH_ECRYPTO, "malformed", -1, "sealed value is not bytea hex");
    }
    *out = buf;
    *len = got;
    return MH_OK;
}

char *mh_secrets__bytea_encode(const uint8_t *data, size_t len)
{
    char *s = mh_xmalloc(2 * len + 3);
    s[0] = '\\';
    s[1] = 'x';
    mh_crypto_hex_encode(data, len, s + 2);
    return s;
}
