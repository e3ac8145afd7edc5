/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the parsers of stored key material in src/crypto: the vault's sealed
 * blobs, KEK text (MESHHOOK_KEK) and argon2id PHC strings from the users table. Anything read
 * back from the database or the environment must be accepted or refused with the documented
 * error, without a crash, a leak or undefined behaviour, and:
 *   - blob: opening fails with MH_ECRYPTO and one of the documented kinds unless the blob is
 *     authentic; mh_crypto_vault_blob_kek_id succeeds exactly when the header parses; a value
 *     sealed from the input opens to itself, also after a rewrap under another KEK, and not
 *     under another secret name;
 *   - KEK text: a parsed KEK has a valid id; a refusal has kind "bad-kek" and never quotes the
 *     text;
 *   - PHC string: a string that mh_crypto_password_verify refuses as malformed always needs a
 *     rehash; a password hashed with cheap parameters verifies, and a different one does not.
 *
 * Input: byte 0 picks the parser (0 blob, 1 KEK text, 2 PHC string then a NUL byte then the
 * password), the rest is its input. Argon2 runs only when the PHC string asks for at most
 * 256 KiB and 3 passes, so that an input stays fast. tests/unit/test_crypto_vault_fuzz_corpus.c
 * includes this file with MH_FUZZ_NO_ENTRY defined and replays tests/fuzz/corpus/vault/ through
 * mh_fuzz_vault_one(), which returns 1 when the input was accepted (opened, parsed, verified),
 * else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/password.h"
#include "crypto/vault.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

static const char mh_fuzz_project[] = "00000000-0000-4000-8000-000000000001";

static bool mh_fuzz_kind_is(const struct mh_err_info *info, const char *const *kinds)
{
    for (; *kinds; kinds++)
        if (strcmp(info->kind, *kinds) == 0)
            return true;
    return false;
}

static int mh_fuzz_blob(const uint8_t *p, size_t len)
{
    /* Keys are made once and live for the process (still reachable, so not a leak). */
    static struct mh_crypto_kek *keks[2];
    if (keks[0] == NULL) {
        uint8_t k0[MH_CRYPTO_KEK_LEN], k1[MH_CRYPTO_KEK_LEN];
        memset(k0, 0x11, sizeof(k0));
        memset(k1, 0x22, sizeof(k1));
        MH_FUZZ_CHECK(mh_crypto_kek_create("k1", k0, &keks[0]) == MH_OK);
        MH_FUZZ_CHECK(mh_crypto_kek_create("k2", k1, &keks[1]) == MH_OK);
    }
    static const char *const kinds[] = {"malformed",     "unsupported-version", "unknown-kek",
                                        "unwrap-failed", "decrypt-failed",      NULL};
    const struct mh_crypto_kek *const *ks = (const struct mh_crypto_kek *const *)keks;
    uint8_t *value = NULL, *blob = NULL, *moved = NULL;
    size_t value_len = 0, blob_len = 0, moved_len = 0;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char id[MH_CRYPTO_KEK_ID_MAX + 1];
    bool header_ok = mh_crypto_vault_blob_kek_id(p, len, id) == MH_OK;
    enum mh_err rc =
        mh_crypto_vault_open(ks, 2, mh_fuzz_project, "NAME", p, len, &value, &value_len, &info);
    int opened = rc == MH_OK;
    if (rc == MH_OK) {
        MH_FUZZ_CHECK(header_ok && value != NULL);
        mh_crypto_free_secret(value, value_len);
    } else {
        MH_FUZZ_CHECK(rc == MH_ECRYPTO && value == NULL && mh_fuzz_kind_is(&info, kinds));
        if (!header_ok)
            MH_FUZZ_CHECK(strcmp(info.kind, "malformed") == 0 ||
                          strcmp(info.kind, "unsupported-version") == 0);
    }
    if (header_ok)
        MH_FUZZ_CHECK(strlen(id) >= 1 && strlen(id) <= MH_CRYPTO_KEK_ID_MAX);

    /* The input as a value: seal, open, rewrap, open again, and not under another name. */
    MH_FUZZ_CHECK(mh_crypto_vault_seal(keks[0], mh_fuzz_project, "NAME", p, len, &blob, &blob_len,
                                       NULL) == MH_OK);
    MH_FUZZ_CHECK(blob_len == MH_CRYPTO_VAULT_BLOB_LEN(2, len));
    MH_FUZZ_CHECK(mh_crypto_vault_rewrap(keks[0], keks[1], mh_fuzz_project, "NAME", blob, blob_len,
                                         &moved, &moved_len, NULL) == MH_OK);
    const uint8_t *both[] = {blob, moved};
    const size_t both_len[] = {blob_len, moved_len};
    for (int i = 0; i < 2; i++) {
        MH_FUZZ_CHECK(mh_crypto_vault_open(ks, 2, mh_fuzz_project, "NAME", both[i], both_len[i],
                                           &value, &value_len, NULL) == MH_OK);
        MH_FUZZ_CHECK(value_len == len && (len == 0 || memcmp(value, p, len) == 0));
        mh_crypto_free_secret(value, value_len);
        value = NULL;
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        MH_FUZZ_CHECK(mh_crypto_vault_open(ks, 2, mh_fuzz_project, "OTHER", both[i], both_len[i],
                                           &value, &value_len, &info) == MH_ECRYPTO);
        MH_FUZZ_CHECK(strcmp(info.kind, "unwrap-failed") == 0 && value == NULL);
    }
    free(moved);
    free(blob);
    return opened;
}

static int mh_fuzz_kek_text(const uint8_t *p, size_t len)
{
    struct mh_crypto_kek *kek = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_crypto_kek_parse((const char *)p, len, "default", &kek, &info);
    if (rc == MH_OK) {
        const char *id = mh_crypto_kek_id(kek);
        MH_FUZZ_CHECK(id != NULL && strlen(id) >= 1 && strlen(id) <= MH_CRYPTO_KEK_ID_MAX);
        mh_crypto_kek_destroy(kek);
        return 1;
    }
    MH_FUZZ_CHECK(rc == MH_EINVAL && kek == NULL && strcmp(info.kind, "bad-kek") == 0);
    /* Key material is at least 32 bytes of text: no 16-byte run of it may show in a message. */
    for (size_t i = 0; len >= 16 && i + 16 <= len; i++)
        MH_FUZZ_CHECK(memmem(info.message, strlen(info.message), p + i, 16) == NULL);
    return 0;
}

/* m= and t= of a PHC string, or 0 when it does not start like one. */
static void mh_fuzz_phc_costs(const char *s, unsigned long *m, unsigned long *t)
{
    static const char head[] = "$argon2id$v=19$m=";
    *m = *t = 0;
    if (strncmp(s, head, sizeof(head) - 1) != 0)
        return;
    char *end = NULL;
    *m = strtoul(s + sizeof(head) - 1, &end, 10);
    if (strncmp(end, ",t=", 3) == 0)
        *t = strtoul(end + 3, NULL, 10);
}

static int mh_fuzz_phc(const uint8_t *p, size_t len)
{
    char *s = malloc(len + 1);
    MH_FUZZ_CHECK(s != NULL);
    memcpy(s, p, len);
    s[len] = '\0';
    size_t slen = strlen(s);
    const char *pw = slen < len ? s + slen + 1 : "";
    size_t pw_len = slen < len ? len - slen - 1 : 0;
    int verified = 0;
    unsigned long m, t;
    mh_fuzz_phc_costs(s, &m, &t);
    if (m <= 256 && t <= 3) {
        enum mh_err rc = mh_crypto_password_verify(s, pw, pw_len);
        MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EAUTH || rc == MH_EINVAL || rc == MH_ETOOBIG);
        if (rc == MH_EINVAL)
            MH_FUZZ_CHECK(mh_crypto_password_needs_rehash(s, NULL));
        verified = rc == MH_OK;
    } else {
        (void)mh_crypto_password_needs_rehash(s, NULL);
    }
    /* The password round trip, with parameters cheap enough for a fuzzer. */
    if (pw_len <= 64) {
        struct mh_crypto_argon2_params cheap = {.t_cost = 1, .m_cost_kib = 8, .parallelism = 1};
        char *encoded = NULL;
        MH_FUZZ_CHECK(mh_crypto_password_hash(pw, pw_len, &cheap, &encoded) == MH_OK);
        MH_FUZZ_CHECK(mh_crypto_password_verify(encoded, pw, pw_len) == MH_OK);
        MH_FUZZ_CHECK(!mh_crypto_password_needs_rehash(encoded, &cheap));
        MH_FUZZ_CHECK(mh_crypto_password_needs_rehash(encoded, NULL));
        char other[66];
        memcpy(other, pw, pw_len);
        other[pw_len] = 'x';
        MH_FUZZ_CHECK(mh_crypto_password_verify(encoded, other, pw_len + 1) == MH_EAUTH);
        free(encoded);
    }
    free(s);
    return verified;
}

int mh_fuzz_vault_one(const uint8_t *data, size_t size);

int mh_fuzz_vault_one(const uint8_t *data, size_t size)
{
    if (size == 0 || size > 16 * 1024)
        return 0;
    switch (data[0] % 3) {
    case 0: return mh_fuzz_blob(data + 1, size - 1);
    case 1: return mh_fuzz_kek_text(data + 1, size - 1);
    default: return mh_fuzz_phc(data + 1, size - 1);
    }
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_vault_one(data, size);
    return 0;
}
#endif
