/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of src/crypto's base layer: SHA-256 (FIPS 180-2 examples), HMAC (RFC 4231), the
 * strict hex and base64 codecs (RFC 4648 §10 plus every rejection rule), random tokens, UUIDv4,
 * and the raw AES-256-GCM primitive against NIST CAVP vectors in tests/data/crypto/.
 */
#include <jansson.h>

#include "crypto/crypto.h"
#include "harness.h"

static void unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    MH_T_ASSERT_EQ(mh_crypto_hex_decode(hex, strlen(hex), out, cap, len), MH_OK);
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char got[2 * 128 + 1];
    MH_T_ASSERT(n <= 128);
    mh_crypto_hex_encode(p, n, got);
    MH_T_ASSERT_STR_EQ(got, want);
}

MH_TEST(sha256_fips_examples)
{
    uint8_t d[MH_CRYPTO_SHA256_LEN];
    MH_T_ASSERT_EQ(mh_crypto_sha256("abc", 3, d), MH_OK);
    assert_hex(d, sizeof(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    MH_T_ASSERT_EQ(mh_crypto_sha256(NULL, 0, d), MH_OK);
    assert_hex(d, sizeof(d), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

MH_TEST(sha256_incremental_matches_one_shot)
{
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    struct mh_crypto_sha256_ctx *ctx = NULL;
    uint8_t d[MH_CRYPTO_SHA256_LEN];
    MH_T_ASSERT_EQ(mh_crypto_sha256_create(&ctx), MH_OK);
    /* Uneven pieces, including an empty one. */
    MH_T_ASSERT_EQ(mh_crypto_sha256_update(ctx, msg, 1), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sha256_update(ctx, msg + 1, 0), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sha256_update(ctx, msg + 1, 30), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sha256_update(ctx, msg + 31, strlen(msg) - 31), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_sha256_final(ctx, d), MH_OK);
    mh_crypto_sha256_destroy(ctx);
    mh_crypto_sha256_destroy(NULL);
    assert_hex(d, sizeof(d), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

MH_TEST(hmac_rfc4231)
{
    uint8_t mac[MH_CRYPTO_SHA512_LEN];
    const char *data = "what do ya want for nothing?";
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, "Jefe", 4, data, strlen(data), mac),
                   MH_OK);
    assert_hex(mac, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA512, "Jefe", 4, data, strlen(data), mac),
                   MH_OK);
    assert_hex(mac, 64,
               "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d0"
               "34f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");
    uint8_t key[20];
    memset(key, 0x0b, sizeof(key));
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, key, sizeof(key), "Hi There", 8, mac),
                   MH_OK);
    assert_hex(mac, 32, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    MH_T_ASSERT_EQ(mh_crypto_hash_len(MH_CRYPTO_HASH_SHA256), 32);
    MH_T_ASSERT_EQ(mh_crypto_hash_len(MH_CRYPTO_HASH_SHA512), 64);
}

MH_TEST(hmac_parts_equal_concatenation)
{
    uint8_t a[32], b[32];
    struct mh_crypto_span parts[] = {{"what do ", 8}, {"", 0}, {"ya want for nothing?", 20}};
    MH_T_ASSERT_EQ(mh_crypto_hmac_parts(MH_CRYPTO_HASH_SHA256, "Jefe", 4, parts, 3, a), MH_OK);
    assert_hex(a, 32, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* A zero-length key is legal HMAC and must not be confused with "no key". */
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, "", 0, "x", 1, a), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, "k", 1, "x", 1, b), MH_OK);
    MH_T_ASSERT(!mh_crypto_ct_equal(a, b, 32));
}

MH_TEST(ct_equal)
{
    MH_T_ASSERT(mh_crypto_ct_equal("abcd", "abcd", 4));
    MH_T_ASSERT(!mh_crypto_ct_equal("abcd", "abce", 4));
    MH_T_ASSERT(!mh_crypto_ct_equal("Xbcd", "abcd", 4));
    MH_T_ASSERT(mh_crypto_ct_equal("a", "b", 0));
}

MH_TEST(hex_codec)
{
    uint8_t buf[8];
    size_t n = 99;
    char s[17];
    mh_crypto_hex_encode("\x00\x01\xab\xff", 4, s);
    MH_T_ASSERT_STR_EQ(s, "0001abff");
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("0001ABff", 8, buf, sizeof(buf), &n), MH_OK);
    MH_T_ASSERT_EQ(n, 4);
    MH_T_ASSERT_MEM_EQ(buf, "\x00\x01\xab\xff", 4);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("", 0, buf, sizeof(buf), &n), MH_OK);
    MH_T_ASSERT_EQ(n, 0);
    /* Odd length, a non-hex digit, whitespace, a sign, and an output that does not fit. */
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("abc", 3, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("0g", 2, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("0 ", 2, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("+1", 2, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("0:", 2, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("G0", 2, buf, sizeof(buf), &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_hex_decode("000102030405060708", 18, buf, sizeof(buf), &n),
                   MH_ETOOBIG);
    MH_T_ASSERT_EQ(n, 0);
}

MH_TEST(base64_rfc4648_vectors)
{
    static const struct {
        const char *in, *std, *nopad;
    } v[] = {
        {"", "", ""},
        {"f", "Zg==", "Zg"},
        {"fo", "Zm8=", "Zm8"},
        {"foo", "Zm9v", "Zm9v"},
        {"foob", "Zm9vYg==", "Zm9vYg"},
        {"fooba", "Zm9vYmE=", "Zm9vYmE"},
        {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char enc[16];
        uint8_t dec[16];
        size_t n = 0, len = strlen(v[i].in);
        mh_crypto_b64_encode(MH_CRYPTO_B64_STD, v[i].in, len, enc);
        MH_T_ASSERT_STR_EQ(enc, v[i].std);
        MH_T_ASSERT_EQ(mh_crypto_b64_encoded_len(len, MH_CRYPTO_B64_STD), strlen(v[i].std));
        mh_crypto_b64_encode(MH_CRYPTO_B64_URL_NOPAD, v[i].in, len, enc);
        MH_T_ASSERT_STR_EQ(enc, v[i].nopad);
        MH_T_ASSERT_EQ(mh_crypto_b64_encoded_len(len, MH_CRYPTO_B64_URL_NOPAD), strlen(v[i].nopad));
        MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_STD, v[i].std, strlen(v[i].std), dec,
                                            sizeof(dec), &n),
                       MH_OK);
        MH_T_ASSERT_EQ(n, len);
        MH_T_ASSERT_MEM_EQ(dec, v[i].in, len);
        MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_STD_NOPAD, v[i].nopad, strlen(v[i].nopad),
                                            dec, sizeof(dec), &n),
                       MH_OK);
        MH_T_ASSERT_EQ(n, len);
        MH_T_ASSERT_MEM_EQ(dec, v[i].in, len);
    }
}

MH_TEST(base64_alphabets)
{
    /* 0xfb 0xff 0xbf exercise both of the alphabet-specific characters (62 and 63). */
    const uint8_t raw[] = {0xfb, 0xff, 0xbf, 0xfb, 0xf0};
    char enc[16];
    uint8_t dec[16];
    size_t n = 0;
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, raw, sizeof(raw), enc);
    MH_T_ASSERT_STR_EQ(enc, "+/+/+/A=");
    mh_crypto_b64_encode(MH_CRYPTO_B64_URL, raw, sizeof(raw), enc);
    MH_T_ASSERT_STR_EQ(enc, "-_-_-_A=");
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD_NOPAD, raw, sizeof(raw), enc);
    MH_T_ASSERT_STR_EQ(enc, "+/+/+/A");
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_URL, "-_-_-_A=", 8, dec, 16, &n), MH_OK);
    MH_T_ASSERT_EQ(n, sizeof(raw));
    MH_T_ASSERT_MEM_EQ(dec, raw, sizeof(raw));
    /* Each alphabet rejects the other's two characters. */
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_URL, "+/+/+/A=", 8, dec, 16, &n), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_STD, "-_-_-_A=", 8, dec, 16, &n), MH_EINVAL);
}

MH_TEST(base64_strict_rejections)
{
    uint8_t dec[32];
    size_t n = 0;
    static const struct {
        enum mh_crypto_b64 v;
        const char *s;
    } bad[] = {
        {MH_CRYPTO_B64_STD, "Zg="},           /* Padded input of the wrong length. */
        {MH_CRYPTO_B64_STD, "Zg"},            /* Padding required. */
        {MH_CRYPTO_B64_STD, "Zh=="},          /* Non-zero trailing bits (non-canonical "f"). */
        {MH_CRYPTO_B64_STD, "Zm9="},          /* Non-zero trailing bits (non-canonical "fo"). */
        {MH_CRYPTO_B64_STD, "Zm=v"},          /* '=' inside the data. */
        {MH_CRYPTO_B64_STD, "Z==="},          /* Three pad characters. */
        {MH_CRYPTO_B64_STD, "===="},          /* Nothing but padding. */
        {MH_CRYPTO_B64_STD, "Zm9v\n"},        /* Whitespace. */
        {MH_CRYPTO_B64_STD, "Zm 9v"},         /* Whitespace. */
        {MH_CRYPTO_B64_STD, "Zm9vYg==Zg=="},  /* Padding in the middle. */
        {MH_CRYPTO_B64_STD_NOPAD, "Zg=="},    /* Padding where none is allowed. */
        {MH_CRYPTO_B64_URL_NOPAD, "Z"},       /* A single leftover character is impossible. */
        {MH_CRYPTO_B64_URL_NOPAD, "Zm9vY"},   /* Same, after a full group. */
        {MH_CRYPTO_B64_URL_NOPAD, "Zh"},      /* Non-canonical. */
        {MH_CRYPTO_B64_URL_NOPAD, "Zm\x80v"}, /* A byte outside ASCII. */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        enum mh_err rc =
            mh_crypto_b64_decode(bad[i].v, bad[i].s, strlen(bad[i].s), dec, sizeof(dec), &n);
        if (rc != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "case %zu (%s) returned %d", i, bad[i].s, (int)rc);
        MH_T_ASSERT_EQ(n, 0);
    }
    /* The output capacity is checked before anything is written. */
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_STD, "Zm9vYmFy", 8, dec, 5, &n), MH_ETOOBIG);
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_STD, "Zm9vYmFy", 8, dec, 6, &n), MH_OK);
}

MH_TEST(codecs_round_trip_all_lengths_and_bytes)
{
    uint8_t raw[300], dec[300];
    char enc[520];
    for (size_t i = 0; i < sizeof(raw); i++)
        raw[i] = (uint8_t)(i * 7 + 3);
    static const enum mh_crypto_b64 variants[] = {MH_CRYPTO_B64_STD, MH_CRYPTO_B64_STD_NOPAD,
                                                  MH_CRYPTO_B64_URL, MH_CRYPTO_B64_URL_NOPAD};
    for (size_t len = 0; len <= 256; len++) {
        for (size_t v = 0; v < 4; v++) {
            size_t n = 0;
            mh_crypto_b64_encode(variants[v], raw, len, enc);
            MH_T_ASSERT_EQ(strlen(enc), mh_crypto_b64_encoded_len(len, variants[v]));
            MH_T_ASSERT(mh_crypto_b64_decoded_max(strlen(enc)) >= len);
            MH_T_ASSERT_EQ(
                mh_crypto_b64_decode(variants[v], enc, strlen(enc), dec, sizeof(dec), &n), MH_OK);
            MH_T_ASSERT_EQ(n, len);
            MH_T_ASSERT_MEM_EQ(dec, raw, len);
        }
        size_t n = 0;
        mh_crypto_hex_encode(raw, len, enc);
        MH_T_ASSERT_EQ(mh_crypto_hex_decode(enc, strlen(enc), dec, sizeof(dec), &n), MH_OK);
        MH_T_ASSERT_EQ(n, len);
        MH_T_ASSERT_MEM_EQ(dec, raw, len);
    }
    /* Every byte value survives hex and base64 (all 64 sextets appear). */
    uint8_t all[256];
    size_t n = 0;
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char *s = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, all, sizeof(all));
    MH_T_ASSERT_EQ(mh_crypto_b64_decode(MH_CRYPTO_B64_URL_NOPAD, s, strlen(s), dec, 300, &n),
                   MH_OK);
    MH_T_ASSERT_EQ(n, 256);
    MH_T_ASSERT_MEM_EQ(dec, all, 256);
    free(s);
}

MH_TEST(random_tokens_and_uuid)
{
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    MH_T_ASSERT_EQ(mh_crypto_random(a, sizeof(a)), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_random(b, sizeof(b)), MH_OK);
    MH_T_ASSERT(memcmp(a, b, 32) != 0);
    MH_T_ASSERT(memcmp(a, zero, 32) != 0);
    MH_T_ASSERT_EQ(mh_crypto_random(NULL, 0), MH_OK);

    char *t1 = NULL, *t2 = NULL, *h = NULL;
    MH_T_ASSERT_EQ(mh_crypto_token_b64url(32, &t1), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_token_b64url(32, &t2), MH_OK);
    MH_T_ASSERT_EQ(strlen(t1), 43);
    MH_T_ASSERT(strcmp(t1, t2) != 0);
    MH_T_ASSERT_EQ(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                   43);
    MH_T_ASSERT_EQ(mh_crypto_token_hex(16, &h), MH_OK);
    MH_T_ASSERT_EQ(strlen(h), 32);
    MH_T_ASSERT_EQ(strspn(h, "0123456789abcdef"), 32);
    char *none = (char *)"sentinel";
    MH_T_ASSERT_EQ(mh_crypto_token_hex(0, &none), MH_EINVAL);
    MH_T_ASSERT(none == NULL);
    MH_T_ASSERT_EQ(mh_crypto_token_b64url(1025, &none), MH_EINVAL);
    free(t1);
    free(t2);
    free(h);

    char u1[MH_CRYPTO_UUID_STR_LEN], u2[MH_CRYPTO_UUID_STR_LEN];
    MH_T_ASSERT_EQ(mh_crypto_uuid4(u1), MH_OK);
    MH_T_ASSERT_EQ(mh_crypto_uuid4(u2), MH_OK);
    MH_T_ASSERT_EQ(strlen(u1), 36);
    MH_T_ASSERT(strcmp(u1, u2) != 0);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            MH_T_ASSERT_EQ(u1[i], '-');
        else
            MH_T_ASSERT(strchr("0123456789abcdef", u1[i]) != NULL);
    }
    MH_T_ASSERT_EQ(u1[14], '4');
    MH_T_ASSERT(strchr("89ab", u1[19]) != NULL);
}

MH_TEST(uuid7_carries_its_time_and_sorts_by_it)
{
    /* RFC 9562 Appendix A.6: 2022-02-22T19:22:22Z is 0x017F22E279B0 ms; the text starts with
     * that time, then the version. */
    char u[MH_CRYPTO_UUID_STR_LEN], later[MH_CRYPTO_UUID_STR_LEN], again[MH_CRYPTO_UUID_STR_LEN];
    MH_T_ASSERT_EQ(mh_crypto_uuid7(0x017F22E279B0, u), MH_OK);
    MH_T_ASSERT_EQ(strlen(u), 36);
    MH_T_ASSERT(strncmp(u, "017f22e2-79b0-7", 15) == 0);
    MH_T_ASSERT(strchr("89ab", u[19]) != NULL);
    MH_T_ASSERT_EQ(mh_crypto_uuid7(0x017F22E279B0, again), MH_OK);
    MH_T_ASSERT(strcmp(u, again) != 0); /* 74 random bits */
    MH_T_ASSERT_EQ(mh_crypto_uuid7(0x017F22E279B1, later), MH_OK);
    MH_T_ASSERT(strcmp(u, later) < 0);
    MH_T_ASSERT(strcmp(again, later) < 0);
    MH_T_ASSERT_EQ(mh_crypto_uuid7(0, u), MH_OK);
    MH_T_ASSERT(strncmp(u, "00000000-0000-7", 15) == 0);
    MH_T_ASSERT_EQ(mh_crypto_uuid7(-1, u), MH_EINVAL);
    MH_T_ASSERT_EQ(u[0], '\0');
    MH_T_ASSERT_EQ(mh_crypto_uuid7((int64_t)1 << 48, u), MH_EINVAL);
}

MH_TEST(wipe_and_free_secret)
{
    char buf[8];
    memcpy(buf, "secret!", 8);
    mh_crypto_wipe(buf, sizeof(buf));
    MH_T_ASSERT_MEM_EQ(buf, "\0\0\0\0\0\0\0\0", 8);
    mh_crypto_wipe(NULL, 4);
    char *s = malloc(8);
    memcpy(s, "secret!", 8);
    mh_crypto_free_secret_str(s);
    mh_crypto_free_secret_str(NULL);
    mh_crypto_free_secret(NULL, 3);
}

/* NIST CAVP gcmEncryptExtIV256 cases from tests/data/crypto/gcm_nist.json, both directions. */
MH_TEST(aes256gcm_nist_vectors)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/crypto/gcm_nist.json", mh_t_repo_dir());
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (doc == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot load %s: %s", path, jerr.text);
    json_t *vectors = json_object_get(doc, "vectors");
    MH_T_ASSERT(json_array_size(vectors) >= 8);
    size_t with_aad_and_pt = 0;
    for (size_t i = 0; i < json_array_size(vectors); i++) {
        json_t *v = json_array_get(vectors, i);
        uint8_t key[32], iv[16], pt[128], aad[128], ct[128], tag[16], out[128], otag[16];
        size_t key_len, iv_len, pt_len, aad_len, ct_len, tag_len;
        unhex(json_string_value(json_object_get(v, "key")), key, sizeof(key), &key_len);
        unhex(json_string_value(json_object_get(v, "iv")), iv, sizeof(iv), &iv_len);
        unhex(json_string_value(json_object_get(v, "pt")), pt, sizeof(pt), &pt_len);
        unhex(json_string_value(json_object_get(v, "aad")), aad, sizeof(aad), &aad_len);
        unhex(json_string_value(json_object_get(v, "ct")), ct, sizeof(ct), &ct_len);
        unhex(json_string_value(json_object_get(v, "tag")), tag, sizeof(tag), &tag_len);
        MH_T_ASSERT_EQ(key_len, 32);
        MH_T_ASSERT_EQ(tag_len, 16);
        MH_T_ASSERT_EQ(ct_len, pt_len);
        if (aad_len > 0 && pt_len > 0)
            with_aad_and_pt++;

        MH_T_ASSERT_EQ(
            mh_crypto_aes256gcm_encrypt(key, iv, iv_len, aad, aad_len, pt, pt_len, out, otag),
            MH_OK);
        MH_T_ASSERT_MEM_EQ(out, ct, ct_len);
        MH_T_ASSERT_MEM_EQ(otag, tag, 16);

        memset(out, 0xee, sizeof(out));
        MH_T_ASSERT_EQ(
            mh_crypto_aes256gcm_decrypt(key, iv, iv_len, aad, aad_len, ct, ct_len, tag, out),
            MH_OK);
        MH_T_ASSERT_MEM_EQ(out, pt, pt_len);

        /* A flipped tag bit fails authentication and leaves no plaintext behind. */
        tag[15] ^= 0x01;
        memset(out, 0xee, sizeof(out));
        MH_T_ASSERT_EQ(
            mh_crypto_aes256gcm_decrypt(key, iv, iv_len, aad, aad_len, ct, ct_len, tag, out),
            MH_ECRYPTO);
        for (size_t j = 0; j < ct_len; j++)
            MH_T_ASSERT_EQ(out[j], 0);
        tag[15] ^= 0x01;
        if (aad_len > 0) {
            aad[0] ^= 0x80;
            MH_T_ASSERT_EQ(
                mh_crypto_aes256gcm_decrypt(key, iv, iv_len, aad, aad_len, ct, ct_len, tag, out),
                MH_ECRYPTO);
        }
    }
    MH_T_ASSERT(with_aad_and_pt >= 2);
    json_decref(doc);
}

MH_TEST(aes256gcm_in_place_and_bad_iv)
{
    uint8_t key[32] = {1}, iv[12] = {2}, tag[16];
    uint8_t buf[64];
    memcpy(buf, "in-place encryption of a buffer that is longer than one block", 62);
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_encrypt(key, iv, 12, "ad", 2, buf, 62, buf, tag), MH_OK);
    MH_T_ASSERT(memcmp(buf, "in-place", 8) != 0);
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_decrypt(key, iv, 12, "ad", 2, buf, 62, tag, buf), MH_OK);
    MH_T_ASSERT_MEM_EQ(buf, "in-place encryption", 19);
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_encrypt(key, iv, 0, NULL, 0, buf, 1, buf, tag), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_aes256gcm_encrypt(key, NULL, 12, NULL, 0, buf, 1, buf, tag),
                   MH_EINVAL);
}
