/* SPDX-License-Identifier: MIT */
/*
 * The secrets vault's envelope encryption: a random data key per secret sealed under a
 * key-encryption key, both with AES-256-GCM, in a versioned byte layout (see vault.h). Keeping
 * the KEK out of the value's associated data is what lets a KEK rotation re-wrap 32 bytes per
 * secret instead of re-encrypting every value. KEKs are loaded from files or environment text
 * and wiped when destroyed; data keys never leave this file.
 */
#include "crypto/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"

#define DEK_LEN   32
#define NONCE_LEN MH_CRYPTO_GCM_NONCE_LEN
#define TAG_LEN   MH_CRYPTO_GCM_TAG_LEN

/* Offsets in a version-1 blob, given the KEK id length n. */
#define OFF_WRAP_NONCE(n)  (2 + (n))
#define OFF_WRAPPED(n)     (OFF_WRAP_NONCE(n) + NONCE_LEN)
#define OFF_WRAP_TAG(n)    (OFF_WRAPPED(n) + DEK_LEN)
#define OFF_VALUE_NONCE(n) (OFF_WRAP_TAG(n) + TAG_LEN)
#define OFF_VALUE_TAG(n)   (OFF_VALUE_NONCE(n) + NONCE_LEN)
#define OFF_VALUE(n)       (OFF_VALUE_TAG(n) + TAG_LEN)

#define KEK_FILE_MAX 4096

static const char value_domain[] = "meshhook/vault/v1/value";
static const char dek_domain[] = "meshhook/vault/v1/dek";

struct mh_crypto_kek {
    char id[MH_CRYPTO_KEK_ID_MAX + 1];
    uint8_t key[MH_CRYPTO_KEK_LEN];
};

/* A parsed blob; every pointer points into the caller's buffer. */
struct blob_view {
    const char *kek_id;
    size_t kek_id_len;
    const uint8_t *wrap_nonce, *wrapped_dek, *wrap_tag, *value_nonce, *value_tag, *value;
    size_t value_len;
};

static bool kek_id_valid(const char *id, size_t len);
static bool is_space(char c);
static void put_be32(uint8_t *p, uint32_t v);
static enum mh_err check_labels(const char *project_id, const char *name, struct mh_err_info *info);
static uint8_t *build_aad(const char *domain, size_t domain_len, const char *kek_id,
                          size_t kek_id_len, const char *project_id, const char *name, size_t *len);
static enum mh_err parse_blob(const uint8_t *blob, size_t len, struct blob_view *v,
                              struct mh_err_info *info);
static enum mh_err wrap_header(uint8_t *out, const struct mh_crypto_kek *kek,
                               const uint8_t dek[DEK_LEN], const char *project_id,
                               const char *name);
static enum mh_err unwrap_dek(const struct mh_crypto_kek *kek, const struct blob_view *v,
                              const char *project_id, const char *name, uint8_t dek[DEK_LEN],
                              struct mh_err_info *info);

/* ---- KEKs --------------------------------------------------------------------------------- */

static bool kek_id_valid(const char *id, size_t len)
{
    if (id == NULL || len == 0 || len > MH_CRYPTO_KEK_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

enum mh_err mh_crypto_kek_create(const char *id, const uint8_t key[MH_CRYPTO_KEK_LEN],
                                 struct mh_crypto_kek **out)
{
    *out = NULL;
    if (id == NULL || !kek_id_valid(id, strnlen(id, MH_CRYPTO_KEK_ID_MAX + 1)))
        return MH_EINVAL;
    struct mh_crypto_kek *k = mh_xcalloc(1, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", id);
    memcpy(k->key, key, MH_CRYPTO_KEK_LEN);
    *out = k;
    return MH_OK;
}

enum mh_err mh_crypto_kek_parse(const char *text, size_t len, const char *default_id,
                                struct mh_crypto_kek **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    char id[MH_CRYPTO_KEK_ID_MAX + 1];
    uint8_t key[64];
    size_t key_len = 0;

    *out = NULL;
    if (text == NULL)
        return mh_err_set(info, MH_EINVAL, "bad-kek", -1, "no KEK given");
    while (len > 0 && is_space(text[0])) {
        text++;
        len--;
    }
    while (len > 0 && is_space(text[len - 1]))
        len--;
    const char *material = text;
    size_t mlen = len;
    const char *colon = memchr(text, ':', len);
    if (colon != NULL) {
        size_t id_len = (size_t)(colon - text);
        if (!kek_id_valid(text, id_len)) {
            rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1,
                            "KEK id must be 1..%d characters of [A-Za-z0-9._-]",
                            MH_CRYPTO_KEK_ID_MAX);
            goto out;
        }
        memcpy(id, text, id_len);
        id[id_len] = '\0';
        material = colon + 1;
        mlen = len - id_len - 1;
    } else if (default_id == NULL) {
        rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1, "KEK has no key id");
        goto out;
    } else {
        snprintf(id, sizeof(id), "%.*s", MH_CRYPTO_KEK_ID_MAX, default_id);
    }
    if (mlen == 2 * MH_CRYPTO_KEK_LEN) {
        rc = mh_crypto_hex_decode(material, mlen, key, sizeof(key), &key_len);
    } else {
        bool url = memchr(material, '-', mlen) != NULL || memchr(material, '_', mlen) != NULL;
        bool padded = memchr(material, '=', mlen) != NULL || mlen % 4 == 0;
        enum mh_crypto_b64 variant = url ? (padded ? MH_CRYPTO_B64_URL : MH_CRYPTO_B64_URL_NOPAD)
                                         : (padded ? MH_CRYPTO_B64_STD : MH_CRYPTO_B64_STD_NOPAD);
        rc = mh_crypto_b64_decode(variant, material, mlen, key, sizeof(key), &key_len);
    }
    if (rc != MH_OK || key_len != MH_CRYPTO_KEK_LEN) {
        rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1,
                        "KEK must be 32 bytes written as 64 hex digits or base64");
        goto out;
    }
    rc = mh_crypto_kek_create(id, key, out);
    if (rc != MH_OK)
        rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1,
                        "KEK id must be 1..%d characters of [A-Za-z0-9._-]", MH_CRYPTO_KEK_ID_MAX);
out:
    mh_crypto_wipe(key, sizeof(key));
    return rc;
}

enum mh_err mh_crypto_kek_load_file(const char *path, const char *default_id,
                                    struct mh_crypto_kek **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    int fd = -1;
    struct stat st;
    char buf[KEK_FILE_MAX + 1];
    size_t n = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        rc = mh_err_set(info, MH_EIO, "io", -1, "cannot open KEK file %s: %s", path,
                        strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > KEK_FILE_MAX) {
        rc =
            mh_err_set(info, MH_EINVAL, "bad-kek", -1,
                       "KEK file %s is not a regular file of at most %d bytes", path, KEK_FILE_MAX);
        goto out;
    }
    while (n < sizeof(buf)) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = mh_err_set(info, MH_EIO, "io", -1, "cannot read KEK file %s: %s", path,
                            strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > KEK_FILE_MAX) {
        rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1, "KEK file %s grew past %d bytes", path,
                        KEK_FILE_MAX);
        goto out;
    }
    if ((st.st_mode & 077) != 0)
        mh_log(MH_LOG_WARN, "crypto",
               "KEK file %s is accessible by group or others (mode %03o); chmod 600 it", path,
               (unsigned)(st.st_mode & 0777));
    if (n == MH_CRYPTO_KEK_LEN) {
        rc = mh_crypto_kek_create(default_id, (const uint8_t *)buf, out);
        if (rc != MH_OK)
            rc = mh_err_set(info, MH_EINVAL, "bad-kek", -1, "raw KEK file needs a valid key id");
    } else {
        rc = mh_crypto_kek_parse(buf, n, default_id, out, info);
    }
out:
    mh_crypto_wipe(buf, sizeof(buf));
    if (fd >= 0)
        close(fd);
    return rc;
}

enum mh_err mh_crypto_kek_derive(const struct mh_crypto_kek *kek, const char *label,
                                 uint8_t out[32])
{
    if (kek == NULL || label == NULL)
        return MH_EINVAL;
    return mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, kek->key, sizeof(kek->key), label, strlen(label),
                          out);
}

const char *mh_crypto_kek_id(const struct mh_crypto_kek *kek)
{
    return kek->id;
}

void mh_crypto_kek_destroy(struct mh_crypto_kek *kek)
{
    mh_crypto_free_secret(kek, sizeof(*kek));
}

/* ---- Blob helpers ------------------------------------------------------------------------- */

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static enum mh_err check_labels(const char *project_id, const char *name, struct mh_err_info *info)
{
    if (project_id == NULL || name == NULL || project_id[0] == '\0' || name[0] == '\0' ||
        strnlen(project_id, MH_CRYPTO_VAULT_MAX_LABEL + 1) > MH_CRYPTO_VAULT_MAX_LABEL ||
        strnlen(name, MH_CRYPTO_VAULT_MAX_LABEL + 1) > MH_CRYPTO_VAULT_MAX_LABEL)
        return mh_err_set(info, MH_EINVAL, "bad-argument", -1,
                          "project id and secret name must be 1..%d bytes",
                          MH_CRYPTO_VAULT_MAX_LABEL);
    return MH_OK;
}

/*
 * domain NUL [len(kek id) kek id] be32 len(P) P be32 len(N) N. Length prefixes keep
 * ("ab", "c") and ("a", "bc") apart. The KEK id part is present only when kek_id is non-NULL.
 */
static uint8_t *build_aad(const char *domain, size_t domain_len, const char *kek_id,
                          size_t kek_id_len, const char *project_id, const char *name, size_t *len)
{
    size_t plen = strlen(project_id), nlen = strlen(name);
    size_t total = domain_len + 1 + (kek_id ? 1 + kek_id_len : 0) + 4 + plen + 4 + nlen;
    uint8_t *a = mh_xmalloc(total);
    size_t o = 0;
    memcpy(a + o, domain, domain_len + 1);
    o += domain_len + 1;
    if (kek_id != NULL) {
        a[o++] = (uint8_t)kek_id_len;
        memcpy(a + o, kek_id, kek_id_len);
        o += kek_id_len;
    }
    put_be32(a + o, (uint32_t)plen);
    o += 4;
    memcpy(a + o, project_id, plen);
    o += plen;
    put_be32(a + o, (uint32_t)nlen);
    o += 4;
    memcpy(a + o, name, nlen);
    o += nlen;
    MH_ASSERT(o == total);
    *len = total;
    return a;
}

static enum mh_err parse_blob(const uint8_t *blob, size_t len, struct blob_view *v,
                              struct mh_err_info *info)
{
    /* Failures return MH_ECRYPTO itself rather than mh_err_set's result, so that a reader (and
     * the static analyzer) sees at once that `v` is set exactly when MH_OK is returned. */
    if (blob == NULL || len < 2) {
        mh_err_set(info, MH_ECRYPTO, "malformed", -1, "sealed value is truncated");
        return MH_ECRYPTO;
    }
    if (blob[0] != MH_CRYPTO_VAULT_VERSION) {
        mh_err_set(info, MH_ECRYPTO, "unsupported-version", -1,
                   "sealed value has format version %u, expected %u", blob[0],
                   MH_CRYPTO_VAULT_VERSION);
        return MH_ECRYPTO;
    }
    size_t n = blob[1];
    if (!kek_id_valid((const char *)blob + 2, len >= 2 + n ? n : 0) || len < OFF_VALUE(n)) {
        mh_err_set(info, MH_ECRYPTO, "malformed", -1,
                   "sealed value has a bad key id or is truncated");
        return MH_ECRYPTO;
    }
    v->kek_id = (const char *)blob + 2;
    v->kek_id_len = n;
    v->wrap_nonce = blob + OFF_WRAP_NONCE(n);
    v->wrapped_dek = blob + OFF_WRAPPED(n);
    v->wrap_tag = blob + OFF_WRAP_TAG(n);
    v->value_nonce = blob + OFF_VALUE_NONCE(n);
    v->value_tag = blob + OFF_VALUE_TAG(n);
    v->value = blob + OFF_VALUE(n);
    v->value_len = len - OFF_VALUE(n);
    return MH_OK;
}

/* Writes version, KEK id, wrap nonce, wrapped DEK and wrap tag: bytes [0, OFF_VALUE_NONCE). */
static enum mh_err wrap_header(uint8_t *out, const struct mh_crypto_kek *kek,
                               const uint8_t dek[DEK_LEN], const char *project_id, const char *name)
{
    size_t n = strlen(kek->id), aad_len = 0;
    out[0] = MH_CRYPTO_VAULT_VERSION;
    out[1] = (uint8_t)n;
    memcpy(out + 2, kek->id, n);
    enum mh_err rc = mh_crypto_random(out + OFF_WRAP_NONCE(n), NONCE_LEN);
    if (rc != MH_OK)
        return rc;
    uint8_t *aad =
        build_aad(dek_domain, sizeof(dek_domain) - 1, kek->id, n, project_id, name, &aad_len);
    rc = mh_crypto_aes256gcm_encrypt(kek->key, out + OFF_WRAP_NONCE(n), NONCE_LEN, aad, aad_len,
                                     dek, DEK_LEN, out + OFF_WRAPPED(n), out + OFF_WRAP_TAG(n));
    free(aad);
    return rc;
}

static enum mh_err unwrap_dek(const struct mh_crypto_kek *kek, const struct blob_view *v,
                              const char *project_id, const char *name, uint8_t dek[DEK_LEN],
                              struct mh_err_info *info)
{
    size_t aad_len = 0;
    uint8_t *aad = build_aad(dek_domain, sizeof(dek_domain) - 1, v->kek_id, v->kek_id_len,
                             project_id, name, &aad_len);
    enum mh_err rc = mh_crypto_aes256gcm_decrypt(kek->key, v->wrap_nonce, NONCE_LEN, aad, aad_len,
                                                 v->wrapped_dek, DEK_LEN, v->wrap_tag, dek);
    free(aad);
    if (rc != MH_OK)
        return mh_err_set(info, MH_ECRYPTO, "unwrap-failed", -1,
                          "data key does not unwrap under KEK %s for this project and name",
                          kek->id);
    return MH_OK;
}

/* ---- Seal, open, rewrap ------------------------------------------------------------------- */

enum mh_err mh_crypto_vault_seal(const struct mh_crypto_kek *kek, const char *project_id,
                                 const char *name, const void *value, size_t value_len,
                                 uint8_t **blob, size_t *blob_len, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    uint8_t dek[DEK_LEN];
    uint8_t *out = NULL, *aad = NULL;
    size_t aad_len = 0;

    *blob = NULL;
    *blob_len = 0;
    if (kek == NULL || (value == NULL && value_len > 0))
        return mh_err_set(info, MH_EINVAL, "bad-argument", -1, "no KEK or no value");
    rc = check_labels(project_id, name, info);
    if (rc != MH_OK)
        return rc;
    if (value_len > MH_CRYPTO_VAULT_MAX_VALUE)
        return mh_err_set(info, MH_ETOOBIG, "too-big", -1, "secret value over %d bytes",
                          MH_CRYPTO_VAULT_MAX_VALUE);
    size_t n = strlen(kek->id);
    size_t total = MH_CRYPTO_VAULT_BLOB_LEN(n, value_len);
    out = mh_xmalloc(total);
    if ((rc = mh_crypto_random(dek, sizeof(dek))) != MH_OK ||
        (rc = mh_crypto_random(out + OFF_VALUE_NONCE(n), NONCE_LEN)) != MH_OK ||
        (rc = wrap_header(out, kek, dek, project_id, name)) != MH_OK)
        goto out;
    aad = build_aad(value_domain, sizeof(value_domain) - 1, NULL, 0, project_id, name, &aad_len);
    rc = mh_crypto_aes256gcm_encrypt(dek, out + OFF_VALUE_NONCE(n), NONCE_LEN, aad, aad_len, value,
                                     value_len, out + OFF_VALUE(n), out + OFF_VALUE_TAG(n));
    if (rc != MH_OK)
        goto out;
    *blob = out;
    *blob_len = total;
    out = NULL;
out:
    if (rc != MH_OK)
        mh_err_set(info, rc, "internal", -1, "sealing failed: %s", mh_strerror(rc));
    mh_crypto_wipe(dek, sizeof(dek));
    free(aad);
    free(out);
    return rc;
}

enum mh_err mh_crypto_vault_open(const struct mh_crypto_kek *const *keks, size_t nkeks,
                                 const char *project_id, const char *name, const uint8_t *blob,
                                 size_t blob_len, uint8_t **value, size_t *value_len,
                                 struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct blob_view v = {0};
    const struct mh_crypto_kek *kek = NULL;
    uint8_t dek[DEK_LEN];
    uint8_t *aad = NULL, *pt = NULL;
    size_t aad_len = 0;

    *value = NULL;
    *value_len = 0;
    if (keks == NULL || nkeks == 0)
        return mh_err_set(info, MH_EINVAL, "bad-argument", -1, "no KEK configured");
    if ((rc = check_labels(project_id, name, info)) != MH_OK ||
        (rc = parse_blob(blob, blob_len, &v, info)) != MH_OK)
        return rc;
    for (size_t i = 0; i < nkeks && kek == NULL; i++)
        if (keks[i] != NULL && strlen(keks[i]->id) == v.kek_id_len &&
            memcmp(keks[i]->id, v.kek_id, v.kek_id_len) == 0)
            kek = keks[i];
    if (kek == NULL)
        return mh_err_set(info, MH_ECRYPTO, "unknown-kek", -1,
                          "sealed under KEK %.*s, which is not loaded", (int)v.kek_id_len,
                          v.kek_id);
    if ((rc = unwrap_dek(kek, &v, project_id, name, dek, info)) != MH_OK)
        goto out;
    aad = build_aad(value_domain, sizeof(value_domain) - 1, NULL, 0, project_id, name, &aad_len);
    pt = mh_xmalloc(v.value_len + 1);
    rc = mh_crypto_aes256gcm_decrypt(dek, v.value_nonce, NONCE_LEN, aad, aad_len, v.value,
                                     v.value_len, v.value_tag, pt);
    if (rc != MH_OK) {
        rc = mh_err_set(info, MH_ECRYPTO, "decrypt-failed", -1,
                        "sealed value does not authenticate");
        goto out;
    }
    pt[v.value_len] = '\0';
    *value = pt;
    *value_len = v.value_len;
    pt = NULL;
out:
    mh_crypto_wipe(dek, sizeof(dek));
    mh_crypto_free_secret(pt, v.value_len + 1);
    free(aad);
    return rc;
}

enum mh_err mh_crypto_vault_rewrap(const struct mh_crypto_kek *old_kek,
                                   const struct mh_crypto_kek *new_kek, const char *project_id,
                                   const char *name, const uint8_t *blob, size_t blob_len,
                                   uint8_t **new_blob, size_t *new_blob_len,
                                   struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct blob_view v = {0};
    uint8_t dek[DEK_LEN];
    uint8_t *out = NULL;

    *new_blob = NULL;
    *new_blob_len = 0;
    if (old_kek == NULL || new_kek == NULL)
        return mh_err_set(info, MH_EINVAL, "bad-argument", -1, "need the old and the new KEK");
    if (strcmp(old_kek->id, new_kek->id) == 0)
        return mh_err_set(info, MH_EINVAL, "bad-argument", -1,
                          "the new KEK must have a different key id");
    if ((rc = check_labels(project_id, name, info)) != MH_OK ||
        (rc = parse_blob(blob, blob_len, &v, info)) != MH_OK)
        return rc;
    if (strlen(old_kek->id) != v.kek_id_len || memcmp(old_kek->id, v.kek_id, v.kek_id_len) != 0)
        return mh_err_set(info, MH_ECRYPTO, "unknown-kek", -1,
                          "sealed under KEK %.*s, not under %s", (int)v.kek_id_len, v.kek_id,
                          old_kek->id);
    if ((rc = unwrap_dek(old_kek, &v, project_id, name, dek, info)) != MH_OK)
        goto out;
    size_t n = strlen(new_kek->id);
    size_t total = MH_CRYPTO_VAULT_BLOB_LEN(n, v.value_len);
    out = mh_xmalloc(total);
    rc = wrap_header(out, new_kek, dek, project_id, name);
    if (rc != MH_OK) {
        mh_err_set(info, rc, "internal", -1, "wrapping failed: %s", mh_strerror(rc));
        goto out;
    }
    /* Value nonce, value tag and ciphertext are contiguous in both layouts. */
    memcpy(out + OFF_VALUE_NONCE(n), v.value_nonce, NONCE_LEN + TAG_LEN + v.value_len);
    *new_blob = out;
    *new_blob_len = total;
    out = NULL;
out:
    mh_crypto_wipe(dek, sizeof(dek));
    free(out);
    return rc;
}

enum mh_err mh_crypto_vault_blob_kek_id(const uint8_t *blob, size_t blob_len,
                                        char out[MH_CRYPTO_KEK_ID_MAX + 1])
{
    struct blob_view v = {0};
    out[0] = '\0';
    enum mh_err rc = parse_blob(blob, blob_len, &v, NULL);
    if (rc != MH_OK)
        return rc;
    memcpy(out, v.kek_id, v.kek_id_len);
    out[v.kek_id_len] = '\0';
    return MH_OK;
}
