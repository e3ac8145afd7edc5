/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/secrets that need no database: loading the keyring from every form of
 * configuration and refusing the conflicting ones, key comparison, seal/open through the vault
 * (including rows swapped between names), secret names, the replacer built from resolved
 * values, and the privacy settings' validation and per-target redactors. The database side
 * (resolve, rotation, start-up check) is in tests/integration/itest_secrets.c.
 */
#include "secrets/secrets.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "harness.h"

#define HEX_A "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define HEX_B "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

/* Writes `len` bytes to a new 0600 temporary file; `path` holds 32 bytes. */
static void temp_file(char *path, const void *data, size_t len)
{
    snprintf(path, 32, "/tmp/mh-ut-kek-XXXXXX");
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    MH_T_ASSERT(write(fd, data, len) == (ssize_t)len);
    close(fd);
    MH_T_ASSERT(chmod(path, 0600) == 0);
}

/* Loads a configuration from flags only (the environment may not name KEKs here). */
static enum mh_err load(const char *const *flags, struct mh_secrets_keyring **kr,
                        struct mh_err_info *info)
{
    struct mh_config cfg;
    int n = 0;
    while (flags[n])
        n++;
    unsetenv("MESHHOOK_KEK");
    unsetenv("MESHHOOK_KEK_FILE");
    unsetenv("MESHHOOK_KEK_ID");
    unsetenv("MESHHOOK_OLD_KEK_FILES");
    unsetenv("MESHHOOK_OLD_KEKS");
    MH_T_ASSERT_EQ(mh_config_load(&cfg, n, (char **)flags, NULL, NULL, NULL), MH_OK);
    enum mh_err rc = mh_secrets_keyring_load(&cfg, kr, info);
    mh_config_cleanup(&cfg);
    return rc;
}

MH_TEST(keyring_from_every_source)
{
    char raw_path[32], text_path[32], old_path[32];
    uint8_t raw[32];
    for (int i = 0; i < 32; i++)
        raw[i] = (uint8_t)i;
    temp_file(raw_path, raw, sizeof(raw));
    temp_file(text_path, "cur:" HEX_A "\n", strlen("cur:" HEX_A "\n"));
    temp_file(old_path, HEX_B, strlen(HEX_B));
    char old_entry[64];
    snprintf(old_entry, sizeof(old_entry), " prev-1=%s , ", old_path);

    struct mh_secrets_keyring *kr = NULL;
    char desc[256];
    /* A raw file with kek_id, an old file with ID=, and an inline old key. */
    const char *f1[] = {"--kek-file", raw_path,     "--kek-id",   "raw", "--old-kek-files",
                        old_entry,    "--old-keks", "inl:" HEX_B, NULL};
    MH_T_ASSERT_EQ(load(f1, &kr, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(mh_secrets_keyring_current(kr)), "raw");
    MH_T_ASSERT(mh_secrets_keyring_find(kr, "prev-1") != NULL);
    MH_T_ASSERT(mh_secrets_keyring_find(kr, "inl") != NULL);
    MH_T_ASSERT(mh_secrets_keyring_find(kr, "nope") == NULL);
    mh_secrets_keyring_describe(kr, desc, sizeof(desc));
    MH_T_ASSERT_STR_EQ(desc, "raw (current), prev-1, inl");
    /* prev-1 and inl hold the same bytes under different ids: not "the same key". */
    MH_T_ASSERT(!mh_secrets_kek_same_key(mh_secrets_keyring_find(kr, "prev-1"),
                                         mh_secrets_keyring_find(kr, "inl")));
    mh_secrets_keyring_destroy(kr);

    /* The id inside a text file; an inline current key; no key at all. */
    const char *f2[] = {"--kek-file", text_path, NULL};
    MH_T_ASSERT_EQ(load(f2, &kr, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(mh_secrets_keyring_current(kr)), "cur");
    mh_secrets_keyring_destroy(kr);
    const char *f3[] = {"--kek", "k:" HEX_A, NULL};
    MH_T_ASSERT_EQ(load(f3, &kr, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(mh_crypto_kek_id(mh_secrets_keyring_current(kr)), "k");
    mh_secrets_keyring_destroy(kr);
    const char *f4[] = {NULL};
    MH_T_ASSERT_EQ(load(f4, &kr, NULL), MH_OK);
    MH_T_ASSERT(mh_secrets_keyring_current(kr) == NULL);
    mh_secrets_keyring_describe(kr, desc, sizeof(desc));
    MH_T_ASSERT_STR_EQ(desc, "(none)");
    mh_secrets_keyring_destroy(kr);
    unlink(raw_path);
    unlink(text_path);
    unlink(old_path);
}

MH_TEST(keyring_refuses_conflicts_without_quoting_keys)
{
    char raw_path[32], text_path[32];
    uint8_t raw[32] = {1};
    temp_file(raw_path, raw, sizeof(raw));
    temp_file(text_path, "cur:" HEX_A, strlen("cur:" HEX_A));
    char old_same[64], old_noid[64];
    snprintf(old_same, sizeof(old_same), "cur=%s", text_path);
    snprintf(old_noid, sizeof(old_noid), "%s", raw_path);
    struct {
        const char *flags[8];
        const char *want;
    } cases[] = {
        {{"--kek-file", text_path, "--kek", HEX_A, NULL}, "not both"},
        {{"--kek-id", "x", NULL}, "neither kek_file nor kek"},
        {{"--kek-file", raw_path, NULL}, "set kek_id"},
        {{"--kek", HEX_A, NULL}, "set kek_id"},
        {{"--kek-file", text_path, "--kek-id", "other", NULL}, "names the id 'cur'"},
        {{"--kek-file", text_path, "--old-kek-files", old_same, NULL}, "two key-encryption keys"},
        {{"--kek-file", text_path, "--old-kek-files", old_noid, NULL}, "ID=PATH"},
        {{"--kek-file", text_path, "--old-keks", HEX_B, NULL}, "old_keks: entry 1"},
        {{"--kek-file", "/nonexistent/kek", NULL}, "cannot open KEK file /nonexistent/kek"},
        {{"--kek", "k:tooshort", NULL}, "32 bytes"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mh_secrets_keyring *kr = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = load(cases[i].flags, &kr, &info);
        if (rc == MH_OK || strstr(info.message, cases[i].want) == NULL)
            mh_t_fail(__FILE__, __LINE__, "case %zu: rc %d, message '%s'", i, rc, info.message);
        MH_T_ASSERT(kr == NULL);
        MH_T_ASSERT(strstr(info.message, HEX_A) == NULL && strstr(info.message, HEX_B) == NULL);
    }
    unlink(raw_path);
    unlink(text_path);
}

MH_TEST(seal_open_and_swapped_rows)
{
    struct mh_config cfg;
    const char *flags[] = {"--kek", "k1:" HEX_A, "--old-keks", "k0:" HEX_B};
    unsetenv("MESHHOOK_KEK_FILE");
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 4, (char **)flags, NULL, NULL, NULL), MH_OK);
    struct mh_secrets *s = NULL;
    MH_T_ASSERT_EQ(mh_secrets_create(&cfg, NULL, &s, NULL), MH_OK);
    MH_T_ASSERT(mh_secrets_can_seal(s));
    char *a = NULL, *b = NULL, *value = NULL;
    const char *kek_id = NULL;
    size_t len = 0;
    MH_T_ASSERT_EQ(mh_secrets_seal(s, "p1", "A", "value-a", 7, &a, &kek_id, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(kek_id, "k1");
    MH_T_ASSERT(strncmp(a, "\\x01", 4) == 0);
    MH_T_ASSERT_EQ(mh_secrets_seal(s, "p1", "B", "value-b", 7, &b, &kek_id, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_open(mh_secrets_keyring(s), "p1", "A", a, &value, &len, NULL), MH_OK);
    MH_T_ASSERT_EQ(len, 7);
    MH_T_ASSERT_STR_EQ(value, "value-a");
    mh_crypto_free_secret(value, len);
    /* B's blob under A's name, or A's under another project: refused, nothing returned. */
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_secrets_open(mh_secrets_keyring(s), "p1", "A", b, &value, &len, &info),
                   MH_ECRYPTO);
    MH_T_ASSERT(value == NULL);
    MH_T_ASSERT_STR_EQ(info.kind, "unwrap-failed");
    MH_T_ASSERT_EQ(mh_secrets_open(mh_secrets_keyring(s), "p2", "A", a, &value, &len, &info),
                   MH_ECRYPTO);
    MH_T_ASSERT_EQ(
        mh_secrets_open(mh_secrets_keyring(s), "p1", "A", "not bytea", &value, &len, &info),
        MH_ECRYPTO);
    MH_T_ASSERT_STR_EQ(info.kind, "malformed");
    /* Too large a value. */
    char *big = calloc(1, MH_SECRETS_VALUE_MAX + 2);
    memset(big, 'x', MH_SECRETS_VALUE_MAX + 1);
    char *sealed = NULL;
    MH_T_ASSERT_EQ(
        mh_secrets_seal(s, "p1", "C", big, MH_SECRETS_VALUE_MAX + 1, &sealed, &kek_id, NULL),
        MH_ETOOBIG);
    free(big);
    free(a);
    free(b);
    mh_secrets_destroy(s);
    mh_config_cleanup(&cfg);

    /* Without a current key, sealing answers "no-kek". */
    const char *none[] = {"--old-keks", "k0:" HEX_B};
    MH_T_ASSERT_EQ(mh_config_load(&cfg, 2, (char **)none, NULL, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_create(&cfg, NULL, &s, NULL), MH_OK);
    MH_T_ASSERT(!mh_secrets_can_seal(s));
    MH_T_ASSERT_EQ(mh_secrets_seal(s, "p1", "A", "value-a", 7, &sealed, &kek_id, &info),
                   MH_EUNAVAILABLE);
    MH_T_ASSERT_STR_EQ(info.kind, "no-kek");
    mh_secrets_destroy(s);
    mh_config_cleanup(&cfg);
}

MH_TEST(names_and_replacer)
{
    MH_T_ASSERT(mh_secrets_name_valid("STRIPE_KEY"));
    MH_T_ASSERT(mh_secrets_name_valid("_x1"));
    MH_T_ASSERT(!mh_secrets_name_valid("1x"));
    MH_T_ASSERT(!mh_secrets_name_valid("a-b"));
    MH_T_ASSERT(!mh_secrets_name_valid(""));
    MH_T_ASSERT(!mh_secrets_name_valid(NULL));
    char long_name[80];
    memset(long_name, 'a', 65);
    long_name[65] = '\0';
    MH_T_ASSERT(!mh_secrets_name_valid(long_name));
    long_name[64] = '\0';
    MH_T_ASSERT(mh_secrets_name_valid(long_name));

    json_t *values = json_pack("{s:s, s:s}", "TOKEN", "tok-123456", "PW", "hunter22");
    struct mh_redact_secrets *sr = NULL;
    MH_T_ASSERT_EQ(mh_secrets_redactor_create(values, &sr, NULL), MH_OK);
    const char *in = "auth tok-123456 and pw=hunter22";
    char *out = NULL;
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_redact_secrets_string(sr, in, strlen(in), &out, NULL, &n), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "auth [secret:TOKEN] and pw=[secret:PW]");
    MH_T_ASSERT_EQ(n, 2);
    free(out);
    mh_redact_secrets_destroy(sr);
    mh_secrets_values_free(values);
    mh_secrets_values_free(NULL);
}

MH_TEST(privacy_validation_and_redactors)
{
    json_t *defs = mh_secrets_privacy_defaults(), *norm = NULL;
    MH_T_ASSERT_EQ(mh_secrets_privacy_validate(defs, &norm, NULL), MH_OK);
    MH_T_ASSERT(json_equal(defs, norm));
    json_decref(norm);
    json_t *empty = json_object();
    MH_T_ASSERT_EQ(mh_secrets_privacy_validate(empty, &norm, NULL), MH_OK);
    MH_T_ASSERT(json_equal(defs, norm));
    json_decref(norm);
    json_decref(empty);
    json_decref(defs);

    json_t *doc = json_loads("{\"logs\": [], \"artifacts\": [\"jwt\", \"acct\", \"jwt\"], "
                             "\"custom\": [{\"name\": \"acct\", \"pattern\": \"ACCT-\\\\d{6}\"}]}",
                             0, NULL);
    MH_T_ASSERT(doc != NULL);
    MH_T_ASSERT_EQ(mh_secrets_privacy_validate(doc, &norm, NULL), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(norm, "artifacts")), 2);
    struct mh_redactor *r = NULL;
    char *out = NULL;
    const char *text = "a@b.example ACCT-123456";
    MH_T_ASSERT_EQ(mh_secrets_privacy_redactor(norm, MH_PRIVACY_LOGS, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_redact_string(r, text, strlen(text), &out, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(out, text);
    free(out);
    mh_redact_destroy(r);
    MH_T_ASSERT_EQ(mh_secrets_privacy_redactor(norm, MH_PRIVACY_ARTIFACTS, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_redact_string(r, text, strlen(text), &out, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(out, "a@b.example [redacted:acct]");
    free(out);
    mh_redact_destroy(r);
    json_decref(norm);
    json_decref(doc);

    /* A pattern error carries its path and offset. */
    doc = json_loads("{\"custom\": [{\"name\": \"x\", \"pattern\": \"ab[\"}]}", 0, NULL);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_secrets_privacy_validate(doc, &norm, &info), MH_EINVAL);
    MH_T_ASSERT(norm == NULL);
    MH_T_ASSERT_STR_EQ(info.path, "/custom/0/pattern");
    MH_T_ASSERT(info.offset >= 0);
    json_decref(doc);
    /* Too many patterns. */
    doc = json_pack("{s:[]}", "custom");
    for (unsigned i = 0; i <= MH_REDACT_MAX_CUSTOM; i++) {
        char name[16];
        snprintf(name, sizeof(name), "p%u", i);
        json_array_append_new(json_object_get(doc, "custom"),
                              json_pack("{s:s, s:s}", "name", name, "pattern", "x"));
    }
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_secrets_privacy_validate(doc, &norm, &info), MH_ETOOBIG);
    MH_T_ASSERT_STR_EQ(info.path, "/custom");
    json_decref(doc);
}
