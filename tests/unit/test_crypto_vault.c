/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the secrets vault: seal/open round trips, the documented byte layout (decoded
 * here by hand with the raw AES-256-GCM primitive), a flip-every-byte tamper sweep, wrong
 * project/name/KEK/key id, KEK rotation by rewrap, and KEK loading from text and files.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/vault.h"
#include "harness.h"

static struct mh_crypto_kek *kek_fill(const char *id, uint8_t fill)
{
    uint8_t key[MH_CRYPTO_KEK_LEN];
    memset(key, fill, sizeof(key));
    key[0] = 0x42; /* Not a constant key. */
    struct mh_crypto_kek *k = NULL;
    MH_T_ASSERT_EQ(mh_crypto_kek_create(id, key, &k), MH_OK);
    return k;
}

static void seal(const struct mh_crypto_kek *kek, const char *project, const char *name,
                 const char *value, uint8_t **blob, size_t *len)
{
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(kek, project, name, value, strlen(value), blob, len, NULL),
                   MH_OK);
}

/* Opens and asserts MH_ECRYPTO with `kind`. */
static void expect_open_fails(const struct mh_crypto_kek *const *keks, size_t n,
                              const char *project, const char *name, const uint8_t *blob,
                              size_t len, const char *kind, int line)
{
    uint8_t *v = (uint8_t *)"sentinel";
    size_t vlen = 99;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_crypto_vault_open(keks, n, project, name, blob, len, &v, &vlen, &info);
    if (rc != MH_ECRYPTO || strcmp(info.kind, kind) != 0)
        mh_t_fail(__FILE__, line, "want %s, got rc %d kind %s (%s)", kind, (int)rc, info.kind,
                  info.message);
    if (v != NULL || vlen != 0)
        mh_t_fail(__FILE__, line, "output not cleared");
    if (strstr(info.message, "s3cret") != NULL)
        mh_t_fail(__FILE__, line, "message quotes the plaintext");
}

#define EXPECT_FAIL(keks, n, p, nm, b, l, kind)                                                    \
    expect_open_fails(keks, n, p, nm, b, l, kind, __LINE__)

MH_TEST(vault_round_trip)
{
    struct mh_crypto_kek *k1 = kek_fill("k1", 1);
    const struct mh_crypto_kek *ring[] = {k1};
    uint8_t *blob = NULL, *blob2 = NULL, *v = NULL;
    size_t len = 0, len2 = 0, vlen = 0;
    seal(k1, "proj-1", "DB_PASSWORD", "s3cret value", &blob, &len);
    MH_T_ASSERT_EQ(len, MH_CRYPTO_VAULT_BLOB_LEN(2, 12));
    MH_T_ASSERT_EQ(blob[0], MH_CRYPTO_VAULT_VERSION);
    MH_T_ASSERT(memmem(blob, len, "s3cret", 6) == NULL);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_open(ring, 1, "proj-1", "DB_PASSWORD", blob, len, &v, &vlen, NULL), MH_OK);
    MH_T_ASSERT_EQ(vlen, 12);
    MH_T_ASSERT_STR_EQ((const char *)v, "s3cret value"); /* NUL-terminated. */
    mh_crypto_free_secret(v, vlen);
    char id[MH_CRYPTO_KEK_ID_MAX + 1];
    MH_T_ASSERT_EQ(mh_crypto_vault_blob_kek_id(blob, len, id), MH_OK);
    MH_T_ASSERT_STR_EQ(id, "k1");
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k1), "k1");
    /* Sealing twice never repeats: fresh data key and nonces. */
    seal(k1, "proj-1", "DB_PASSWORD", "s3cret value", &blob2, &len2);
    MH_T_ASSERT_EQ(len, len2);
    MH_T_ASSERT(memcmp(blob, blob2, len) != 0);
    free(blob);
    free(blob2);

    /* Empty and binary values. */
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(k1, "p", "n", NULL, 0, &blob, &len, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_vault_open(ring, 1, "p", "n", blob, len, &v, &vlen, NULL), MH_OK);
    MH_T_ASSERT_EQ(vlen, 0);
    mh_crypto_free_secret(v, vlen);
    free(blob);
    const uint8_t bin[] = {0, 1, 0, 255, 0};
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(k1, "p", "n", bin, sizeof(bin), &blob, &len, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_vault_open(ring, 1, "p", "n", blob, len, &v, &vlen, NULL), MH_OK);
    MH_T_ASSERT_EQ(vlen, sizeof(bin));
    MH_T_ASSERT_MEM_EQ(v, bin, sizeof(bin));
    mh_crypto_free_secret(v, vlen);
    free(blob);
    mh_crypto_kek_destroy(k1);
    mh_crypto_kek_destroy(NULL);
}

MH_TEST(vault_size_and_argument_limits)
{
    struct mh_crypto_kek *k1 = kek_fill("k1", 1);
    const struct mh_crypto_kek *ring[] = {k1};
    uint8_t *blob = NULL, *v = NULL;
    size_t len = 0, vlen = 0;
    uint8_t *big = calloc(1, MH_CRYPTO_VAULT_MAX_VALUE + 1);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_seal(k1, "p", "n", big, MH_CRYPTO_VAULT_MAX_VALUE + 1, &blob, &len, NULL),
        MH_ETOOBIG);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_seal(k1, "p", "n", big, MH_CRYPTO_VAULT_MAX_VALUE, &blob, &len, NULL),
        MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_vault_open(ring, 1, "p", "n", blob, len, &v, &vlen, NULL), MH_OK);
    MH_T_ASSERT_EQ(vlen, MH_CRYPTO_VAULT_MAX_VALUE);
    mh_crypto_free_secret(v, vlen);
    free(blob);
    free(big);
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(k1, "", "n", "x", 1, &blob, &len, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(k1, "p", NULL, "x", 1, &blob, &len, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_vault_seal(NULL, "p", "n", "x", 1, &blob, &len, NULL), MH_EINVAL);
    MH_T_ASSERT(blob == NULL);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_open(ring, 0, "p", "n", (const uint8_t *)"x", 1, &v, &vlen, NULL),
        MH_EINVAL);
    mh_crypto_kek_destroy(k1);
}

/* Decodes a blob by hand from the layout documented in vault.h, with the raw GCM primitive. */
MH_TEST(vault_documented_layout)
{
    struct mh_crypto_kek *k = kek_fill("kek-2024.06_a", 7);
    uint8_t kek_bytes[32];
    memset(kek_bytes, 7, 32);
    kek_bytes[0] = 0x42;
    uint8_t *blob = NULL;
    size_t len = 0;
    const char *project = "0b6f4e2a", *name = "STRIPE_KEY", *value = "sk_live_s3cret";
    seal(k, project, name, value, &blob, &len);
    const size_t n = 13;
    MH_T_ASSERT_EQ(blob[0], 1);
    MH_T_ASSERT_EQ(blob[1], n);
    MH_T_ASSERT_MEM_EQ(blob + 2, "kek-2024.06_a", n);
    MH_T_ASSERT_EQ(len, n + 90 + strlen(value));

    uint8_t aad[256];
    size_t o = 0;
    memcpy(aad, "meshhook/vault/v1/dek", 22); /* Including the NUL. */
    o = 22;
    aad[o++] = (uint8_t)n;
    memcpy(aad + o, "kek-2024.06_a", n);
    o += n;
    uint8_t lp[4] = {0, 0, 0, 8}, ln[4] = {0, 0, 0, 10};
    memcpy(aad + o, lp, 4);
    o += 4;
    memcpy(aad + o, project, 8);
    o += 8;
    memcpy(aad + o, ln, 4);
    o += 4;
    memcpy(aad + o, name, 10);
    o += 10;
    uint8_t dek[32];
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_decrypt(kek_bytes, blob + 2 + n, 12, aad, o, blob + 14 + n,
                                               32, blob + 46 + n, dek),
                   MH_OK);

    o = 0;
    memcpy(aad, "meshhook/vault/v1/value", 24);
    o = 24;
    memcpy(aad + o, lp, 4);
    o += 4;
    memcpy(aad + o, project, 8);
    o += 8;
    memcpy(aad + o, ln, 4);
    o += 4;
    memcpy(aad + o, name, 10);
    o += 10;
    char pt[64] = {0};
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_decrypt(dek, blob + 62 + n, 12, aad, o, blob + 90 + n,
                                               strlen(value), blob + 74 + n, (uint8_t *)pt),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(pt, value);
    free(blob);
    mh_crypto_kek_destroy(k);
}

/* Every single-byte change anywhere in the blob is detected, with the kind of its region. */
MH_TEST(vault_flip_every_byte)
{
    struct mh_crypto_kek *k1 = kek_fill("k1", 1);
    const struct mh_crypto_kek *ring[] = {k1};
    uint8_t *blob = NULL;
    size_t len = 0;
    seal(k1, "proj-1", "API_TOKEN", "s3cret!", &blob, &len);
    const size_t n = 2;
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            blob[i] ^= (uint8_t)(1u << bit);
            const char *kind;
            if (i == 0)
                kind = "unsupported-version";
            else if (i == 1)
                kind = "malformed"; /* The id length changes the layout; the id gets invalid. */
            else if (i < 2 + n)
                kind = bit == 7 ? "malformed" : "unknown-kek";
            else if (i < 62 + n)
                kind = "unwrap-failed";
            else
                kind = "decrypt-failed";
            /* Flipping the low bit of the id length from 2 to 3 swallows a nonce byte into
             * the id: malformed if that byte is not an id character, else an unknown KEK. */
            if (i == 1 && bit == 0) {
                uint8_t c = blob[4];
                bool idc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
                kind = idc ? "unknown-kek" : "malformed";
            }
            expect_open_fails(ring, 1, "proj-1", "API_TOKEN", blob, len, kind,
                              (int)(__LINE__ * 10000 + i));
            blob[i] ^= (uint8_t)(1u << bit);
        }
    }
    /* Unchanged, it still opens. */
    uint8_t *v = NULL;
    size_t vlen = 0;
    MH_T_ASSERT_EQ(mh_crypto_vault_open(ring, 1, "proj-1", "API_TOKEN", blob, len, &v, &vlen, NULL),
                   MH_OK);
    mh_crypto_free_secret(v, vlen);
    /* Truncations and extensions. */
    EXPECT_FAIL(ring, 1, "proj-1", "API_TOKEN", blob, 1, "malformed");
    EXPECT_FAIL(ring, 1, "proj-1", "API_TOKEN", blob, 0, "malformed");
    EXPECT_FAIL(ring, 1, "proj-1", "API_TOKEN", blob, 2 + n + 60, "malformed");
    EXPECT_FAIL(ring, 1, "proj-1", "API_TOKEN", blob, len - 1, "decrypt-failed");
    uint8_t *longer = malloc(len + 1);
    memcpy(longer, blob, len);
    longer[len] = 0;
    EXPECT_FAIL(ring, 1, "proj-1", "API_TOKEN", longer, len + 1, "decrypt-failed");
    free(longer);
    free(blob);
    mh_crypto_kek_destroy(k1);
}

MH_TEST(vault_wrong_aad_kek_and_key_id)
{
    struct mh_crypto_kek *k1 = kek_fill("k1", 1);
    struct mh_crypto_kek *k1_other_bytes = kek_fill("k1", 2);
    struct mh_crypto_kek *k2 = kek_fill("k2", 1);
    const struct mh_crypto_kek *ring[] = {k1};
    uint8_t *blob = NULL;
    size_t len = 0;
    seal(k1, "proj-1", "DB_PASSWORD", "s3cret", &blob, &len);
    /* Another project, another name: the row cannot be moved. */
    EXPECT_FAIL(ring, 1, "proj-2", "DB_PASSWORD", blob, len, "unwrap-failed");
    EXPECT_FAIL(ring, 1, "proj-1", "DB_PASSWORD2", blob, len, "unwrap-failed");
    /* Same lengths, one byte different, so only the label bytes (not their lengths) differ. */
    EXPECT_FAIL(ring, 1, "proj-1", "DB_PASSWORX", blob, len, "unwrap-failed");
    EXPECT_FAIL(ring, 1, "proj-2", "DB_PASSWORD", blob, len, "unwrap-failed");
    /* Length-prefixed labels: moving a byte across the boundary is a different AAD. */
    uint8_t *b2 = NULL;
    size_t l2 = 0;
    seal(k1, "ab", "c", "s3cret", &b2, &l2);
    EXPECT_FAIL(ring, 1, "a", "bc", b2, l2, "unwrap-failed");
    free(b2);
    /* Unknown key id; same id but other bytes (a wrong KEK). */
    const struct mh_crypto_kek *ring2[] = {k2};
    EXPECT_FAIL(ring2, 1, "proj-1", "DB_PASSWORD", blob, len, "unknown-kek");
    const struct mh_crypto_kek *ring3[] = {k1_other_bytes};
    EXPECT_FAIL(ring3, 1, "proj-1", "DB_PASSWORD", blob, len, "unwrap-failed");
    /* The keyring picks the right KEK by id wherever it sits. */
    const struct mh_crypto_kek *ring4[] = {k2, k1};
    uint8_t *v = NULL;
    size_t vlen = 0;
    MH_T_ASSERT_EQ(
        mh_crypto_vault_open(ring4, 2, "proj-1", "DB_PASSWORD", blob, len, &v, &vlen, NULL), MH_OK);
    mh_crypto_free_secret(v, vlen);
    free(blob);
    mh_crypto_kek_destroy(k1);
    mh_crypto_kek_destroy(k1_other_bytes);
    mh_crypto_kek_destroy(k2);
}

MH_TEST(vault_rewrap)
{
    struct mh_crypto_kek *old = kek_fill("k1", 1);
    struct mh_crypto_kek *fresh = kek_fill("k2-longer-id", 9);
    uint8_t *blob = NULL, *nb = NULL, *v = NULL;
    size_t len = 0, nlen = 0, vlen = 0;
    const char *value = "s3cret rotated value";
    seal(old, "proj-1", "TOKEN", value, &blob, &len);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_rewrap(old, fresh, "proj-1", "TOKEN", blob, len, &nb, &nlen, NULL), MH_OK);
    MH_T_ASSERT_EQ(nlen, MH_CRYPTO_VAULT_BLOB_LEN(12, strlen(value)));
    /* The value part (nonce, tag, ciphertext) is byte-identical. */
    size_t tail = 12 + 16 + strlen(value);
    MH_T_ASSERT_MEM_EQ(nb + nlen - tail, blob + len - tail, tail);
    char id[MH_CRYPTO_KEK_ID_MAX + 1];
    MH_T_ASSERT_EQ(mh_crypto_vault_blob_kek_id(nb, nlen, id), MH_OK);
    MH_T_ASSERT_STR_EQ(id, "k2-longer-id");
    /* Readable under the new KEK, not under the old one. */
    const struct mh_crypto_kek *new_ring[] = {fresh};
    MH_T_ASSERT_EQ(mh_crypto_vault_open(new_ring, 1, "proj-1", "TOKEN", nb, nlen, &v, &vlen, NULL),
                   MH_OK);
    MH_T_ASSERT_STR_EQ((const char *)v, value);
    mh_crypto_free_secret(v, vlen);
    const struct mh_crypto_kek *old_ring[] = {old};
    EXPECT_FAIL(old_ring, 1, "proj-1", "TOKEN", nb, nlen, "unknown-kek");
    /* Even the old KEK's bytes under the new id do not unwrap it. */
    struct mh_crypto_kek *impostor = kek_fill("k2-longer-id", 1);
    const struct mh_crypto_kek *imp_ring[] = {impostor};
    EXPECT_FAIL(imp_ring, 1, "proj-1", "TOKEN", nb, nlen, "unwrap-failed");
    /* Rewrap refuses: the blob is not under `old` any more, the same id, the wrong project. */
    uint8_t *nb2 = NULL;
    size_t nlen2 = 0;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(
        mh_crypto_vault_rewrap(old, fresh, "proj-1", "TOKEN", nb, nlen, &nb2, &nlen2, &info),
        MH_ECRYPTO);
    MH_T_ASSERT_STR_EQ(info.kind, "unknown-kek");
    MH_T_ASSERT_EQ(
        mh_crypto_vault_rewrap(old, old, "proj-1", "TOKEN", blob, len, &nb2, &nlen2, NULL),
        MH_EINVAL);
    MH_T_ASSERT_EQ(
        mh_crypto_vault_rewrap(old, fresh, "proj-9", "TOKEN", blob, len, &nb2, &nlen2, &info),
        MH_ECRYPTO);
    MH_T_ASSERT_STR_EQ(info.kind, "unwrap-failed");
    MH_T_ASSERT(nb2 == NULL);
    free(blob);
    free(nb);
    mh_crypto_kek_destroy(old);
    mh_crypto_kek_destroy(fresh);
    mh_crypto_kek_destroy(impostor);
}

/* 32 bytes 0x00..0x1f in the encodings the parser accepts. */
static const char kek_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
static const char kek_b64[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

static void assert_kek_is_sequence(const struct mh_crypto_kek *k)
{
    /* Prove the bytes by sealing with `k` and opening with a KEK made from raw bytes. */
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    struct mh_crypto_kek *ref = NULL;
    MH_T_ASSERT_EQ(mh_crypto_kek_create(mh_crypto_kek_id(k), raw, &ref), MH_OK);
    uint8_t *blob = NULL, *v = NULL;
    size_t len = 0, vlen = 0;
    seal(k, "p", "n", "x", &blob, &len);
    const struct mh_crypto_kek *ring[] = {ref};
    MH_T_ASSERT_EQ(mh_crypto_vault_open(ring, 1, "p", "n", blob, len, &v, &vlen, NULL), MH_OK);
    mh_crypto_free_secret(v, vlen);
    free(blob);
    mh_crypto_kek_destroy(ref);
}

MH_TEST(kek_parse_text)
{
    char text[200];
    struct mh_crypto_kek *k = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *good[] = {
        kek_hex,
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        kek_b64,
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "  AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        MH_T_ASSERT_EQ(mh_crypto_kek_parse(good[i], strlen(good[i]), "env", &k, &info), MH_OK);
        MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k), "env");
        assert_kek_is_sequence(k);
        mh_crypto_kek_destroy(k);
    }
    /* "<id>:" overrides the default; URL-safe base64 of bytes that need '-' and '_'. */
    snprintf(text, sizeof(text), "2024-06.primary:%s", kek_hex);
    MH_T_ASSERT_EQ(mh_crypto_kek_parse(text, strlen(text), "env", &k, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k), "2024-06.primary");
    assert_kek_is_sequence(k);
    mh_crypto_kek_destroy(k);
    MH_T_ASSERT_EQ(
        mh_crypto_kek_parse("k9:_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-8", 46, NULL, &k, NULL),
        MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k), "k9");
    mh_crypto_kek_destroy(k);

    const char *bad[] = {
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",  /* 63 hex */
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g", /* bad digit */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",                     /* 31 bytes */
        "bad id:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",              /* space in id */
        ":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",                    /* empty id */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        if (mh_crypto_kek_parse(bad[i], strlen(bad[i]), "env", &k, &info) != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "case %zu accepted", i);
        MH_T_ASSERT(k == NULL);
        MH_T_ASSERT_STR_EQ(info.kind, "bad-kek");
        MH_T_ASSERT(strstr(info.message, "AAEC") == NULL);
        MH_T_ASSERT(strstr(info.message, "0001") == NULL);
    }
    /* No id anywhere. */
    MH_T_ASSERT_EQ(mh_crypto_kek_parse(kek_hex, strlen(kek_hex), NULL, &k, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_kek_parse(kek_hex, strlen(kek_hex), "bad/id", &k, NULL), MH_EINVAL);
    uint8_t raw[32] = {0};
    MH_T_ASSERT_EQ(mh_crypto_kek_create("", raw, &k), MH_EINVAL);
    char long_id[80];
    memset(long_id, 'a', 65);
    long_id[65] = '\0';
    MH_T_ASSERT_EQ(mh_crypto_kek_create(long_id, raw, &k), MH_EINVAL);
    long_id[64] = '\0';
    MH_T_ASSERT_EQ(mh_crypto_kek_create(long_id, raw, &k), MH_OK);
    mh_crypto_kek_destroy(k);
}

static void write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    MH_T_ASSERT(fd >= 0);
    MH_T_ASSERT_EQ(write(fd, data, len), (ssize_t)len);
    close(fd);
    chmod(path, mode);
}

MH_TEST(kek_load_file)
{
    char dir[] = "/tmp/mh-crypto-kek.XXXXXX";
    MH_T_ASSERT(mkdtemp(dir) != NULL);
    char raw_path[128], hex_path[128], b64_path[128], bad_path[128], big_path[128];
    snprintf(raw_path, sizeof(raw_path), "%s/raw", dir);
    snprintf(hex_path, sizeof(hex_path), "%s/hex", dir);
    snprintf(b64_path, sizeof(b64_path), "%s/b64", dir);
    snprintf(bad_path, sizeof(bad_path), "%s/bad", dir);
    snprintf(big_path, sizeof(big_path), "%s/big", dir);
    uint8_t raw[33];
    for (int i = 0; i < 33; i++)
        raw[i] = (uint8_t)i;
    write_file(raw_path, raw, 32, 0600);
    char text[128];
    snprintf(text, sizeof(text), "%s\n", kek_hex);
    write_file(hex_path, text, strlen(text), 0600);
    snprintf(text, sizeof(text), "file-key:%s\r\n", kek_b64);
    write_file(b64_path, text, strlen(text), 0644); /* Too open: loads, with a warning. */
    write_file(bad_path, raw, 33, 0600);            /* 33 raw bytes are neither form. */
    char *big = calloc(1, 5000);
    memset(big, 'A', 4999);
    write_file(big_path, big, 4999, 0600);
    free(big);

    struct mh_crypto_kek *k = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(raw_path, "disk", &k, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k), "disk");
    assert_kek_is_sequence(k);
    mh_crypto_kek_destroy(k);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(hex_path, "disk", &k, &info), MH_OK);
    assert_kek_is_sequence(k);
    mh_crypto_kek_destroy(k);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(b64_path, "disk", &k, &info), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(k), "file-key");
    assert_kek_is_sequence(k);
    mh_crypto_kek_destroy(k);

    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(raw_path, NULL, &k, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(bad_path, "disk", &k, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(big_path, "disk", &k, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(dir, "disk", &k, &info), MH_EINVAL);
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    char missing[160];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    MH_T_ASSERT_EQ(mh_crypto_kek_load_file(missing, "disk", &k, &info), MH_EIO);
    MH_T_ASSERT_STR_EQ(info.kind, "io");
    MH_T_ASSERT(k == NULL);

    unlink(raw_path);
    unlink(hex_path);
    unlink(b64_path);
    unlink(bad_path);
    unlink(big_path);
    rmdir(dir);
}
