/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of webhook signature verification and signing. Expected signatures never come from
 * our own signer: they are GitHub's and Standard Webhooks' published examples, or MACs computed
 * by the `openssl` command line (run through popen) over the signed payload. Every tampering
 * case is checked for its exact status, and failure messages for the absence of the signature.
 */
#include <stdint.h>
#include <unistd.h>

#include "crypto/webhook_sig.h"
#include "harness.h"

/* ---- Helpers: a temp dir and openssl via popen -------------------------------------------- */

static char tmpdir[64];

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mh-crypto-sig.XXXXXX");
    MH_T_ASSERT(mkdtemp(tmpdir) != NULL);
}

static void tmp_write(const char *name, const void *data, size_t len, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    MH_T_ASSERT(f != NULL);
    MH_T_ASSERT_EQ(fwrite(data, 1, len, f), len);
    MH_T_ASSERT_EQ(fclose(f), 0);
}

/* Runs `cmd`, returns its first output line without the newline; fails on a non-zero exit. */
static void run(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    if (fgets(out, (int)cap, p) == NULL)
        out[0] = '\0';
    int st = pclose(p);
    if (st != 0)
        mh_t_fail(__FILE__, __LINE__, "command failed (%d): %s", st, cmd);
    out[strcspn(out, "\r\n")] = '\0';
}

/* Hex HMAC-SHA256 of the file at `path` under the printable `key`, by `openssl dgst -r`. */
static void openssl_hmac_hex(const char *key, const char *path, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -hmac '%s' -r '%s'", key, path);
    run(cmd, out, cap);
    out[strcspn(out, " ")] = '\0';
}

/* Base64 HMAC of `path` under a binary key given in hex, by openssl dgst | openssl base64. */
static void openssl_hmac_b64(const char *md, const char *hexkey, const char *path, char *out,
                             size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "openssl dgst -%s -mac HMAC -macopt hexkey:%s -binary '%s' | openssl base64 -A", md,
             hexkey, path);
    run(cmd, out, cap);
}

static void tmp_cleanup(const char *const *names, size_t n)
{
    char path[256];
    for (size_t i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

#define KEY(s) ((struct mh_crypto_sig_key){(s), sizeof(s) - 1})

/* ---- GitHub ------------------------------------------------------------------------------- */

/* From GitHub's "Validating webhook deliveries" documentation. */
static const char gh_secret[] = "It's a Secret to Everybody";
static const char gh_body[] = "Hello, World!";
static const char gh_sig[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

MH_TEST(github_published_example)
{
    struct mh_crypto_sig_key keys[] = {KEY(gh_secret)};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_github_verify(keys, 1, gh_body, strlen(gh_body), gh_sig, &res, &info), MH_OK);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_OK);
    MH_T_ASSERT_EQ(res.key_index, 0);
    /* Our signer reproduces the published header. */
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_crypto_sig_github_sign(&keys[0], gh_body, strlen(gh_body), &out), MH_OK);
    MH_T_ASSERT_STR_EQ(out, gh_sig);
    free(out);
    /* Upper-case hex and surrounding whitespace are tolerated. */
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(
                       keys, 1, gh_body, strlen(gh_body),
                       " sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17\t",
                       &res, NULL),
                   MH_OK);
}

MH_TEST(github_tampering)
{
    struct mh_crypto_sig_key good = KEY(gh_secret), bad = KEY("It's a Secret to Everybodx");
    struct mh_crypto_sig_key keys[] = {good};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;

    /* Changed body byte. */
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(keys, 1, "Hello, World?", 13, gh_sig, &res, &info),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    MH_T_ASSERT_STR_EQ(info.kind, "bad-signature");
    MH_T_ASSERT(strstr(info.message, "757107ea") == NULL);
    MH_T_ASSERT(strstr(info.message, "Secret") == NULL);
    /* Wrong key. */
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(&bad, 1, gh_body, 13, gh_sig, &res, NULL), MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* Rotation: the second active key verifies, and is named. */
    struct mh_crypto_sig_key rot[] = {bad, good};
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(rot, 2, gh_body, 13, gh_sig, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
    /* Missing and empty header. */
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(keys, 1, gh_body, 13, NULL, &res, &info), MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MISSING_HEADER);
    MH_T_ASSERT_STR_EQ(info.kind, "missing-header");
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(keys, 1, gh_body, 13, "", &res, NULL), MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MISSING_HEADER);
    /* Malformed: wrong scheme, truncated MAC, non-hex digit, extra byte. */
    static const char *malformed[] = {
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1z",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1700",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(keys, 1, gh_body, 13, malformed[i], &res, &info),
                       MH_EAUTH);
        MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MALFORMED_HEADER);
        MH_T_ASSERT_STR_EQ(info.kind, "malformed-header");
        MH_T_ASSERT(strstr(info.message, "757107") == NULL);
    }
}

MH_TEST(sig_bad_config_and_long_header)
{
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(NULL, 0, gh_body, 13, gh_sig, &res, &info),
                   MH_EINVAL);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_CONFIG);
    MH_T_ASSERT_STR_EQ(info.kind, "bad-config");
    struct mh_crypto_sig_key empty = {"", 0};
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(&empty, 1, gh_body, 13, gh_sig, &res, NULL),
                   MH_EINVAL);
    struct mh_crypto_sig_key many[MH_CRYPTO_SIG_MAX_KEYS + 1];
    for (size_t i = 0; i < MH_CRYPTO_SIG_MAX_KEYS + 1; i++)
        many[i] = KEY(gh_secret);
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(many, MH_CRYPTO_SIG_MAX_KEYS + 1, gh_body, 13,
                                               gh_sig, &res, NULL),
                   MH_EINVAL);
    MH_T_ASSERT_EQ(
        mh_crypto_sig_github_verify(many, MH_CRYPTO_SIG_MAX_KEYS, gh_body, 13, gh_sig, &res, NULL),
        MH_OK);
    char *huge = malloc(MH_CRYPTO_SIG_MAX_HEADER_LEN + 100);
    snprintf(huge, MH_CRYPTO_SIG_MAX_HEADER_LEN + 100, "%s", gh_sig);
    memset(huge + strlen(gh_sig), ' ', MH_CRYPTO_SIG_MAX_HEADER_LEN);
    huge[MH_CRYPTO_SIG_MAX_HEADER_LEN + 50] = '\0';
    MH_T_ASSERT_EQ(mh_crypto_sig_github_verify(many, 1, gh_body, 13, huge, &res, NULL), MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MALFORMED_HEADER);
    free(huge);
    MH_T_ASSERT_STR_EQ(mh_crypto_sig_status_str(MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD),
                       "timestamp-too-old");
    MH_T_ASSERT_STR_EQ(mh_crypto_sig_status_str(MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW),
                       "timestamp-too-new");
}

/* ---- Generic HMAC ------------------------------------------------------------------------- */

MH_TEST(generic_hmac_against_openssl)
{
    /* A binary key, to make sure no string handling is involved. */
    static const uint8_t key_bytes[] = {0x00, 0xff, 0x10, 0x80, 0x7f, 0x01, 0x02, 0x03};
    const char *hexkey = "00ff10807f010203";
    const char body[] = "{\"event\":\"order.created\",\"id\":42}\n";
    char path[256], b64_512[128], b64_256[64], header[200];
    struct mh_crypto_sig_key key = {key_bytes, sizeof(key_bytes)};
    struct mh_crypto_sig_result res;
    tmp_setup();
    tmp_write("body", body, strlen(body), path, sizeof(path));
    openssl_hmac_b64("sha512", hexkey, path, b64_512, sizeof(b64_512));
    openssl_hmac_b64("sha256", hexkey, path, b64_256, sizeof(b64_256));
    static const char *names[] = {"body"};
    tmp_cleanup(names, 1);

    /* SHA-512, base64, no prefix. */
    struct mh_crypto_sig_hmac_config c512 = {MH_CRYPTO_HASH_SHA512, MH_CRYPTO_SIG_BASE64, NULL};
    MH_T_ASSERT_EQ(strlen(b64_512), 88);
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&c512, &key, 1, body, strlen(body), b64_512, &res, NULL), MH_OK);
    char *signed_hdr = NULL;
    MH_T_ASSERT_EQ(mh_crypto_sig_hmac_sign(&c512, &key, body, strlen(body), &signed_hdr), MH_OK);
    MH_T_ASSERT_STR_EQ(signed_hdr, b64_512);
    free(signed_hdr);
    /* The same MAC without its padding is accepted too. */
    b64_512[86] = '\0';
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&c512, &key, 1, body, strlen(body), b64_512, &res, NULL), MH_OK);
    /* SHA-256 with a prefix, matched case-insensitively. */
    struct mh_crypto_sig_hmac_config c256 = {MH_CRYPTO_HASH_SHA256, MH_CRYPTO_SIG_BASE64,
                                             "HMAC-SHA256="};
    snprintf(header, sizeof(header), "hmac-sha256=%s", b64_256);
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&c256, &key, 1, body, strlen(body), header, &res, NULL), MH_OK);
    /* A SHA-256 MAC offered where SHA-512 is configured is malformed (wrong length). */
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&c512, &key, 1, body, strlen(body), b64_256, &res, NULL),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MALFORMED_HEADER);
    /* The body minus its trailing newline does not verify. */
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&c256, &key, 1, body, strlen(body) - 1, header, &res, NULL),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* base64url: translate openssl's output and verify under the URL-safe setting. */
    struct mh_crypto_sig_hmac_config curl = {MH_CRYPTO_HASH_SHA256, MH_CRYPTO_SIG_BASE64URL, NULL};
    for (char *c = b64_256; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_hmac_verify(&curl, &key, 1, body, strlen(body), b64_256, &res, NULL), MH_OK);
}

/* ---- Stripe ------------------------------------------------------------------------------- */

static const char stripe_secret[] = "whsec_test_0123456789abcdefghijklmnop";
static const char stripe_body[] =
    "{\n  \"id\": \"evt_1\",\n  \"type\": \"payment_intent.succeeded\"\n}";
static const int64_t stripe_t = 1700000000;

/* v1 for (stripe_t, stripe_body) under `secret`, by openssl. */
static void stripe_expected(const char *secret, int64_t t, const char *body, char *hex, size_t cap)
{
    char payload[512], path[256];
    int n = snprintf(payload, sizeof(payload), "%lld.%s", (long long)t, body);
    tmp_setup();
    tmp_write("payload", payload, (size_t)n, path, sizeof(path));
    openssl_hmac_hex(secret, path, hex, cap);
    static const char *names[] = {"payload"};
    tmp_cleanup(names, 1);
    MH_T_ASSERT_EQ(strlen(hex), 64);
}

MH_TEST(stripe_valid_and_signer_agrees)
{
    char v1[80], header[300];
    struct mh_crypto_sig_key keys[] = {KEY(stripe_secret)};
    struct mh_crypto_sig_result res;
    stripe_expected(stripe_secret, stripe_t, stripe_body, v1, sizeof(v1));
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)stripe_t, v1);
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, strlen(stripe_body), header,
                                               stripe_t + 5, 0, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(res.timestamp, stripe_t);
    MH_T_ASSERT_EQ(res.key_index, 0);
    char *mine = NULL;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stripe_sign(&keys[0], stripe_body, strlen(stripe_body), stripe_t, &mine),
        MH_OK);
    MH_T_ASSERT_STR_EQ(mine, header);
    free(mine);
    /* Spaces after commas, a v0 test-mode signature and an unknown scheme are tolerated. */
    snprintf(header, sizeof(header),
             "t=%lld, v0=0000000000000000000000000000000000000000000000000000000000000000, "
             "v2=xyz, v1=%s",
             (long long)stripe_t, v1);
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, strlen(stripe_body), header,
                                               stripe_t, 0, &res, NULL),
                   MH_OK);
}

MH_TEST(stripe_two_signatures_second_valid_and_rotation)
{
    char v1[80], header[400];
    stripe_expected(stripe_secret, stripe_t, stripe_body, v1, sizeof(v1));
    struct mh_crypto_sig_result res;
    /* Only the second v1 is valid: accepted. */
    snprintf(header, sizeof(header),
             "t=%lld,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd,v1=%s",
             (long long)stripe_t, v1);
    struct mh_crypto_sig_key one[] = {KEY(stripe_secret)};
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(one, 1, stripe_body, strlen(stripe_body), header,
                                               stripe_t, 300, &res, NULL),
                   MH_OK);
    /* A truncated first v1 counts as absent; the second still verifies. */
    snprintf(header, sizeof(header), "t=%lld,v1=%.40s,v1=%s", (long long)stripe_t, v1, v1);
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(one, 1, stripe_body, strlen(stripe_body), header,
                                               stripe_t, 300, &res, NULL),
                   MH_OK);
    /* Rotation: the second active key is the one that signed. */
    struct mh_crypto_sig_key rot[] = {KEY("whsec_old_key_that_was_rotated_out"),
                                      KEY(stripe_secret)};
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)stripe_t, v1);
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(rot, 2, stripe_body, strlen(stripe_body), header,
                                               stripe_t, 300, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
}

MH_TEST(stripe_tampering_and_timestamps)
{
    char v1[80], header[300];
    stripe_expected(stripe_secret, stripe_t, stripe_body, v1, sizeof(v1));
    snprintf(header, sizeof(header), "t=%lld,v1=%s", (long long)stripe_t, v1);
    struct mh_crypto_sig_key keys[] = {KEY(stripe_secret)};
    struct mh_crypto_sig_key wrong[] = {KEY("whsec_test_0123456789abcdefghijklmnoq")};
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    size_t blen = strlen(stripe_body);

    /* One changed body byte. */
    char body2[sizeof(stripe_body)];
    memcpy(body2, stripe_body, sizeof(stripe_body));
    body2[10] ^= 1;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stripe_verify(keys, 1, body2, blen, header, stripe_t, 0, &res, &info),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    MH_T_ASSERT(strstr(info.message, v1) == NULL);
    MH_T_ASSERT(strstr(info.message, "whsec") == NULL);
    /* Wrong key. */
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stripe_verify(wrong, 1, stripe_body, blen, header, stripe_t, 0, &res, NULL),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* The timestamp is part of the signed payload: changing it breaks the signature. */
    char moved[300];
    snprintf(moved, sizeof(moved), "t=%lld,v1=%s", (long long)stripe_t + 1, v1);
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, moved, stripe_t, 0, &res, NULL),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* Old: 301 s > default tolerance 300 s; exactly 300 s still passes. */
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, header, stripe_t + 301,
                                               0, &res, &info),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD);
    MH_T_ASSERT_STR_EQ(info.kind, "timestamp-too-old");
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, header, stripe_t + 300,
                                               0, &res, NULL),
                   MH_OK);
    /* Future. */
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, header, stripe_t - 301,
                                               0, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW);
    /* A custom tolerance. */
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, header, stripe_t + 500,
                                               600, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, header, stripe_t + 61,
                                               60, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD);
    /* A stale forgery reports the forgery, not the age. */
    MH_T_ASSERT_EQ(mh_crypto_sig_stripe_verify(wrong, 1, stripe_body, blen, header,
                                               stripe_t + 10000, 0, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* Missing. */
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stripe_verify(keys, 1, stripe_body, blen, NULL, stripe_t, 0, &res, NULL),
        MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MISSING_HEADER);
}

MH_TEST(stripe_malformed_headers)
{
    char v1[80];
    stripe_expected(stripe_secret, stripe_t, stripe_body, v1, sizeof(v1));
    struct mh_crypto_sig_key keys[] = {KEY(stripe_secret)};
    char cases[8][300];
    snprintf(cases[0], 300, "v1=%s", v1);                           /* No timestamp. */
    snprintf(cases[1], 300, "t=1700000000,t=1700000000,v1=%s", v1); /* Two timestamps. */
    snprintf(cases[2], 300, "t=17000abc00,v1=%s", v1);              /* Non-numeric timestamp. */
    snprintf(cases[3], 300, "t=-1700000000,v1=%s", v1);             /* Signed timestamp. */
    snprintf(cases[4], 300, "t=1700000000");                        /* No v1. */
    snprintf(cases[5], 300, "t=1700000000,v1=%.63s", v1);           /* Truncated signature. */
    snprintf(cases[6], 300, "t=1700000000,%s", v1);                 /* Element without '='. */
    snprintf(cases[7], 300, "garbage");
    for (size_t i = 0; i < 8; i++) {
        struct mh_crypto_sig_result res;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_crypto_sig_stripe_verify(keys, 1, stripe_body, strlen(stripe_body),
                                                     cases[i], stripe_t, 0, &res, &info);
        if (rc != MH_EAUTH || res.status != MH_CRYPTO_SIG_MALFORMED_HEADER)
            mh_t_fail(__FILE__, __LINE__, "case %zu: rc %d status %d", i, (int)rc, (int)res.status);
        MH_T_ASSERT_STR_EQ(info.kind, "malformed-header");
        MH_T_ASSERT(strstr(info.message, v1) == NULL);
    }
}

/* ---- Standard Webhooks -------------------------------------------------------------------- */

/* The test vector of the Standard Webhooks specification repository. */
static const char sw_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char sw_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char sw_ts[] = "1614265330";
static const char sw_body[] = "{\"test\": 2432232314}";
static const char sw_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static struct mh_crypto_sig_key sw_key(uint8_t *buf)
{
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(sw_secret, buf, 64, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 24);
    return (struct mh_crypto_sig_key){buf, n};
}

MH_TEST(stdwh_published_vector)
{
    uint8_t kb[64];
    struct mh_crypto_sig_key key = sw_key(kb);
    struct mh_crypto_sig_result res;
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, strlen(sw_body), sw_id, sw_ts,
                                              sw_sig, 1614265330, 0, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(res.timestamp, 1614265330);
    char *mine = NULL;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stdwh_sign(&key, 1, sw_id, 1614265330, sw_body, strlen(sw_body), &mine),
        MH_OK);
    MH_T_ASSERT_STR_EQ(mine, sw_sig);
    free(mine);
    /* The secret without its prefix decodes to the same key. */
    uint8_t kb2[64];
    size_t n = 0;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(sw_secret + 6, kb2, 64, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 24);
    MH_T_ASSERT_MEM_EQ(kb, kb2, 24);
}

MH_TEST(stdwh_against_openssl_with_32_byte_key)
{
    static const uint8_t k[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    const char *hexkey = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
    const char *body = "{\"type\":\"invoice.paid\",\"data\":{\"amount\":1999}}";
    char content[256], path[256], b64[64], header[100];
    int n = snprintf(content, sizeof(content), "msg_2abc.1700000123.%s", body);
    tmp_setup();
    tmp_write("content", content, (size_t)n, path, sizeof(path));
    openssl_hmac_b64("sha256", hexkey, path, b64, sizeof(b64));
    static const char *names[] = {"content"};
    tmp_cleanup(names, 1);
    snprintf(header, sizeof(header), "v1,%s", b64);
    struct mh_crypto_sig_key key = {k, sizeof(k)};
    struct mh_crypto_sig_result res;
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, body, strlen(body), "msg_2abc", "1700000123",
                                              header, 1700000100, 60, &res, NULL),
                   MH_OK);
    /* The same key, as a whsec_ secret built by openssl's base64. */
    char secret[80], cmd[300], key_path[256];
    tmp_setup();
    tmp_write("key", k, sizeof(k), key_path, sizeof(key_path));
    snprintf(cmd, sizeof(cmd), "openssl base64 -A -in '%s'", key_path);
    char raw_b64[64];
    run(cmd, raw_b64, sizeof(raw_b64));
    static const char *key_names[] = {"key"};
    tmp_cleanup(key_names, 1);
    snprintf(secret, sizeof(secret), "whsec_%s", raw_b64);
    uint8_t kb[64];
    size_t kn = 0;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(secret, kb, sizeof(kb), &kn), MH_OK);
    MH_T_ASSERT_EQ(kn, 32);
    MH_T_ASSERT_MEM_EQ(kb, k, 32);
}

MH_TEST(stdwh_multiple_signatures_and_rotation)
{
    uint8_t kb[64];
    struct mh_crypto_sig_key key = sw_key(kb);
    struct mh_crypto_sig_key other = KEY("another key of at least twenty-four bytes");
    struct mh_crypto_sig_result res;
    char header[300];
    /* Only the second signature is valid; a v1a (asymmetric) entry is skipped. */
    snprintf(header, sizeof(header),
             "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/rFcYXd6bhu0t9Ztw= v1a,c2lnbmF0dXJl  %s", sw_sig);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, strlen(sw_body), sw_id, sw_ts,
                                              header, 1614265330, 0, &res, NULL),
                   MH_OK);
    /* Rotation: verified by the second active key. */
    struct mh_crypto_sig_key rot[] = {other, key};
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(rot, 2, sw_body, strlen(sw_body), sw_id, sw_ts,
                                              sw_sig, 1614265330, 0, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
    /* Signing with two keys yields two signatures, each verifiable on its own. */
    char *two = NULL;
    MH_T_ASSERT_EQ(
        mh_crypto_sig_stdwh_sign(rot, 2, sw_id, 1614265330, sw_body, strlen(sw_body), &two), MH_OK);
    MH_T_ASSERT(strstr(two, sw_sig) != NULL);
    MH_T_ASSERT(strchr(two, ' ') != NULL);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&other, 1, sw_body, strlen(sw_body), sw_id, sw_ts,
                                              two, 1614265330, 0, &res, NULL),
                   MH_OK);
    free(two);
}

MH_TEST(stdwh_tampering_and_timestamps)
{
    uint8_t kb[64];
    struct mh_crypto_sig_key key = sw_key(kb);
    struct mh_crypto_sig_key wrong = KEY("another key of at least twenty-four bytes");
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    size_t blen = strlen(sw_body);
    const int64_t t = 1614265330;

    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, "{\"test\": 2432232315}", blen, sw_id, sw_ts,
                                              sw_sig, t, 0, &res, &info),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    MH_T_ASSERT(strstr(info.message, "g0hM9SsE") == NULL);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&wrong, 1, sw_body, blen, sw_id, sw_ts, sw_sig, t, 0,
                                              &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* The id and the timestamp are signed. */
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen,
                                              "msg_p5jXN8AQM9LWM0D4loKWxJeK", sw_ts, sw_sig, t, 0,
                                              &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, sw_id, "1614265331", sw_sig,
                                              t, 0, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_BAD_SIGNATURE);
    /* Timestamps: default tolerance is 5 minutes each way. */
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, sw_id, sw_ts, sw_sig, t + 301,
                                              0, &res, &info),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD);
    MH_T_ASSERT_STR_EQ(info.kind, "timestamp-too-old");
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, sw_id, sw_ts, sw_sig, t - 301,
                                              0, &res, &info),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_NEW);
    MH_T_ASSERT_STR_EQ(info.kind, "timestamp-too-new");
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, sw_id, sw_ts, sw_sig, t - 300,
                                              0, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, sw_id, sw_ts, sw_sig, t + 11,
                                              10, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_TIMESTAMP_TOO_OLD);
}

MH_TEST(stdwh_missing_and_malformed)
{
    uint8_t kb[64];
    struct mh_crypto_sig_key key = sw_key(kb);
    struct mh_crypto_sig_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    size_t blen = strlen(sw_body);
    const int64_t t = 1614265330;

    const char *ids[] = {NULL, sw_id, sw_id, ""};
    const char *tss[] = {sw_ts, NULL, sw_ts, sw_ts};
    const char *sigs[] = {sw_sig, sw_sig, NULL, sw_sig};
    const char *names[] = {"webhook-id", "webhook-timestamp", "webhook-signature", "webhook-id"};
    for (int i = 0; i < 4; i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, ids[i], tss[i], sigs[i],
                                                  t, 0, &res, &info),
                       MH_EAUTH);
        MH_T_ASSERT_EQ(res.status, MH_CRYPTO_SIG_MISSING_HEADER);
        MH_T_ASSERT(strstr(info.message, names[i]) != NULL);
    }
    static const struct {
        const char *id, *ts, *sig;
    } bad[] = {
        {"msg_1", "abc", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"msg_1", "-1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"msg_1", "1614265330.5", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"msg 1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"msg_1", "1614265330", "garbage"},
        {"msg_1", "1614265330", "v1,not*base64*at*all"},
        /* Truncated signature (and its unpadded form). */
        {"msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O=="},
        {"msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE"},
        {"msg_1", "1614265330", "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="},
        {"msg_1", "1614265330", "v1,"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        enum mh_err rc = mh_crypto_sig_stdwh_verify(&key, 1, sw_body, blen, bad[i].id, bad[i].ts,
                                                    bad[i].sig, t, 0, &res, &info);
        if (rc != MH_EAUTH || res.status != MH_CRYPTO_SIG_MALFORMED_HEADER)
            mh_t_fail(__FILE__, __LINE__, "case %zu: rc %d status %d", i, (int)rc, (int)res.status);
        MH_T_ASSERT(strstr(info.message, "g0hM9SsE") == NULL);
    }
}

MH_TEST(stdwh_secrets)
{
    uint8_t kb[64];
    size_t n = 99;
    /* Too short (16 bytes), not base64, over-long (65 bytes), NULL. */
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode("whsec_AAAAAAAAAAAAAAAAAAAAAA==", kb, 64, &n),
                   MH_EINVAL);
    MH_T_ASSERT_EQ(n, 0);
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8I*PZIo2LaLaSw", kb, 64, &n),
        MH_EINVAL);
    char long_secret[128] = "whsec_";
    memset(long_secret + 6, 'A', 88);
    memcpy(long_secret + 6 + 86, "==", 3); /* 88 characters with padding: 64 bytes... */
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(long_secret, kb, 64, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 64);
    memset(long_secret + 6, 'A', 92); /* ...and 69 bytes is too many. */
    long_secret[98] = '\0';
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(long_secret, kb, 64, &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(NULL, kb, 64, &n), MH_EINVAL);

    /* A non-canonical tail (unused low bits set), as in the Standard Webhooks libraries' own
     * tests, which those libraries accept: it decodes to what the canonical spelling does. */
    uint8_t canon[64];
    size_t cn = 0;
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBg", canon, 64, &cn),
        MH_OK);
    MH_T_ASSERT_EQ(cn, 25);
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", kb, 64, &n),
        MH_OK);
    MH_T_ASSERT_EQ(n, cn);
    MH_T_ASSERT(memcmp(kb, canon, cn) == 0);
    /* Padded (26 bytes), with set bits under the padding: "...s3=" for "...s0=". */
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBs0=", canon, 64, &cn),
        MH_OK);
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBs3=", kb, 64, &n), MH_OK);
    MH_T_ASSERT(n == cn && memcmp(kb, canon, cn) == 0);
    /* Leniency is about those bits only: a dangling single character is still refused. */
    MH_T_ASSERT_EQ(
        mh_crypto_stdwh_secret_decode("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwB", kb, 64, &n),
        MH_EINVAL);

    char *s1 = NULL, *s2 = NULL;
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_generate(&s1), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_generate(&s2), MH_OK);
    MH_T_ASSERT_EQ(strncmp(s1, "whsec_", 6), 0);
    MH_T_ASSERT(strcmp(s1, s2) != 0);
    MH_T_ASSERT_EQ(mh_crypto_stdwh_secret_decode(s1, kb, 64, &n), MH_OK);
    MH_T_ASSERT_EQ(n, 32);
    mh_crypto_free_secret_str(s1);
    mh_crypto_free_secret_str(s2);

    /* The signer refuses ids the verifier would refuse. */
    struct mh_crypto_sig_key key = {kb, n};
    char *out = NULL;
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_sign(&key, 1, "has space", 1, "x", 1, &out), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_sign(&key, 1, "", 1, "x", 1, &out), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_sig_stdwh_sign(&key, 1, "ok", -1, "x", 1, &out), MH_EINVAL);
    MH_T_ASSERT(out == NULL);
}
