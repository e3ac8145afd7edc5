/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of JWT verification. Every signed token is produced by the `openssl` command line:
 * RSA and EC P-256 keys come from `openssl genpkey` in a temporary directory, RS256 and ES256
 * signatures from `openssl dgst -sha256 -sign` (the ES256 DER signature is converted to JOSE
 * r||s here, independently of the verifier's own conversion), HS256 from `openssl dgst -mac
 * HMAC`. Covers algorithm pinning (alg none, algorithm confusion), kid selection, each claim
 * check, malformed input and key loading.
 */
#include <stdarg.h>
#include <stdint.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "crypto/jwt.h"
#include "harness.h"

#define NOW 1700000000LL

static char tmpdir[64];
static const char hs_secret[] = "0123456789abcdef0123456789abcdef-meshhook";

/* ---- Helpers ------------------------------------------------------------------------------ */

static void tmp_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/mh-crypto-jwt.XXXXXX");
    MH_T_ASSERT(mkdtemp(tmpdir) != NULL);
}

static void tmp_cleanup(void)
{
    static const char *names[] = {"input",           "rsa.pem",    "rsa_pub.pem",
                                  "ec.pem",          "ec_pub.pem", "rsa1024.pem",
                                  "rsa1024_pub.pem", "ec384.pem",  "ec384_pub.pem"};
    char path[256];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

/* Runs `cmd` and returns its whole stdout (binary-safe) in `out`; fails on a non-zero exit. */
static size_t run(const char *cmd, uint8_t *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    size_t n = fread(out, 1, cap, p);
    int st = pclose(p);
    if (st != 0)
        mh_t_fail(__FILE__, __LINE__, "command failed (%d): %s", st, cmd);
    return n;
}

__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
    char cmd[1024];
    uint8_t sink[16];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    run(cmd, sink, sizeof(sink));
}

static void gen_keys(void)
{
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out %s/rsa.pem 2>/dev/null",
       tmpdir);
    sh("openssl pkey -in %s/rsa.pem -pubout -out %s/rsa_pub.pem", tmpdir, tmpdir);
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out %s/ec.pem", tmpdir);
    sh("openssl pkey -in %s/ec.pem -pubout -out %s/ec_pub.pem", tmpdir, tmpdir);
}

static char *read_file(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    MH_T_ASSERT(f != NULL);
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static struct mh_crypto_jwt_key *pem_key(enum mh_crypto_jwt_alg alg, const char *kid,
                                         const char *file)
{
    size_t len = 0;
    char *pem = read_file(file, &len);
    struct mh_crypto_jwt_key *k = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_crypto_jwt_key_create_pem(alg, kid, pem, len, &k, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "key %s: %s", file, info.message);
    free(pem);
    return k;
}

static struct mh_crypto_jwt_key *hs_key(const char *kid, const char *secret)
{
    struct mh_crypto_jwt_key *k = NULL;
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_create_hmac(kid, secret, strlen(secret), &k, NULL), MH_OK);
    return k;
}

/* Converts an ECDSA DER signature (SEQUENCE of two INTEGERs) to 64-byte r||s. */
static void der_to_raw(const uint8_t *der, size_t len, uint8_t raw[64])
{
    MH_T_ASSERT(len >= 8 && der[0] == 0x30 && der[1] == len - 2 && der[2] == 0x02);
    size_t off = 2;
    memset(raw, 0, 64);
    for (int i = 0; i < 2; i++) {
        MH_T_ASSERT(der[off] == 0x02);
        size_t n = der[off + 1];
        const uint8_t *v = der + off + 2;
        off += 2 + n;
        MH_T_ASSERT(off <= len);
        while (n > 32) { /* A leading zero keeps a high-bit integer positive. */
            MH_T_ASSERT(*v == 0);
            v++;
            n--;
        }
        memcpy(raw + 32 * i + (32 - n), v, n);
    }
    MH_T_ASSERT_EQ(off, len);
}

enum signer { SIGN_HS, SIGN_RS, SIGN_ES, SIGN_ES_DER, SIGN_HMAC_WITH_RSA_PUBKEY };

/*
 * A token for the given header and payload JSON, signed by openssl. `hmac_secret` is the HS256
 * key for SIGN_HS. Returns a new string.
 */
static char *make_token(const char *header, const char *payload, enum signer how,
                        const char *hmac_secret)
{
    char *h = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, header, strlen(header));
    char *p = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, payload, strlen(payload));
    size_t in_len = strlen(h) + 1 + strlen(p);
    char *input = malloc(in_len + 1);
    snprintf(input, in_len + 1, "%s.%s", h, p);
    char path[256], cmd[70000];
    snprintf(path, sizeof(path), "%s/input", tmpdir);
    FILE *f = fopen(path, "wb");
    MH_T_ASSERT(f != NULL);
    fwrite(input, 1, in_len, f);
    fclose(f);

    uint8_t sig[1024], raw[64];
    size_t sig_len = 0;
    char hexkey[8192];
    switch (how) {
    case SIGN_HS:
        mh_crypto_hex_encode(hmac_secret, strlen(hmac_secret), hexkey);
        snprintf(cmd, sizeof(cmd),
                 "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary %s/input", hexkey,
                 tmpdir);
        break;
    case SIGN_HMAC_WITH_RSA_PUBKEY: {
        /* The classic confusion attack: the public key's PEM text as HMAC secret. */
        size_t pem_len = 0;
        char *pem = read_file("rsa_pub.pem", &pem_len);
        MH_T_ASSERT(pem_len * 2 < sizeof(hexkey));
        mh_crypto_hex_encode(pem, pem_len, hexkey);
        free(pem);
        snprintf(cmd, sizeof(cmd),
                 "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary %s/input", hexkey,
                 tmpdir);
        break;
    }
    case SIGN_RS:
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign %s/rsa.pem -binary %s/input", tmpdir,
                 tmpdir);
        break;
    case SIGN_ES:
    case SIGN_ES_DER:
        snprintf(cmd, sizeof(cmd), "openssl dgst -sha256 -sign %s/ec.pem -binary %s/input", tmpdir,
                 tmpdir);
        break;
    }
    sig_len = run(cmd, sig, sizeof(sig));
    MH_T_ASSERT(sig_len > 0);
    const uint8_t *final_sig = sig;
    if (how == SIGN_ES) {
        der_to_raw(sig, sig_len, raw);
        final_sig = raw;
        sig_len = 64;
    }
    char *s = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, final_sig, sig_len);
    size_t tok_len = in_len + 1 + strlen(s);
    char *tok = malloc(tok_len + 1);
    snprintf(tok, tok_len + 1, "%s.%s", input, s);
    free(h);
    free(p);
    free(input);
    free(s);
    return tok;
}

static const char std_payload[] =
    "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"sub\":\"svc-42\","
    "\"iat\":1699999990,\"nbf\":1699999990,\"exp\":1700000600}";

static struct mh_crypto_jwt_verify_opts std_opts(void)
{
    return (struct mh_crypto_jwt_verify_opts){
        .now = NOW, .leeway_s = 0, .issuer = "https://issuer.example", .audience = "meshhook"};
}

static enum mh_err verify(const char *tok, struct mh_crypto_jwt_key **keys, size_t n,
                          const struct mh_crypto_jwt_verify_opts *o,
                          struct mh_crypto_jwt_result *res, struct mh_err_info *info)
{
    return mh_crypto_jwt_verify(tok, strlen(tok), (const struct mh_crypto_jwt_key *const *)keys, n,
                                o, NULL, res, info);
}

/* Asserts that `tok` fails with `status` and that the message does not quote the token. */
static void expect_status(const char *tok, struct mh_crypto_jwt_key **keys, size_t n,
                          const struct mh_crypto_jwt_verify_opts *o,
                          enum mh_crypto_jwt_status status, int line)
{
    struct mh_crypto_jwt_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = verify(tok, keys, n, o, &res, &info);
    if (rc != MH_EAUTH || res.status != status)
        mh_t_fail(__FILE__, line, "want %s, got rc %d status %s (%s)",
                  mh_crypto_jwt_status_str(status), (int)rc, mh_crypto_jwt_status_str(res.status),
                  info.message);
    if (strcmp(info.kind, mh_crypto_jwt_status_str(status)) != 0)
        mh_t_fail(__FILE__, line, "kind %s", info.kind);
    const char *last_dot = strrchr(tok, '.');
    if (last_dot && strlen(last_dot + 1) >= 8) {
        char sig_start[9];
        memcpy(sig_start, last_dot + 1, 8);
        sig_start[8] = '\0';
        if (strstr(info.message, sig_start) != NULL)
            mh_t_fail(__FILE__, line, "message quotes the signature");
    }
}

#define EXPECT(tok, keys, n, o, st) expect_status(tok, keys, n, o, st, __LINE__)

/* ---- Tests -------------------------------------------------------------------------------- */

MH_TEST(jwt_hs256_signed_by_openssl)
{
    tmp_setup();
    char *tok = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", std_payload, SIGN_HS, hs_secret);
    struct mh_crypto_jwt_key *keys[] = {hs_key(NULL, hs_secret)};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    struct mh_crypto_jwt_result res;
    json_t *claims = NULL;
    MH_T_ASSERT_EQ(mh_crypto_jwt_verify(tok, strlen(tok), (const struct mh_crypto_jwt_key **)keys,
                                        1, &o, &claims, &res, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_JWT_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(claims, "sub")), "svc-42");
    json_decref(claims);
    /* Rotation: the second HS256 key verifies. */
    struct mh_crypto_jwt_key *rot[] = {hs_key(NULL, "another-secret-of-at-least-32-bytes!!"),
                                       keys[0]};
    MH_T_ASSERT_EQ(verify(tok, rot, 2, &o, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
    /* Wrong key only. */
    EXPECT(tok, rot, 1, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* A changed payload byte under the original signature. */
    char *forged = make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
                              "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\","
                              "\"sub\":\"svc-43\",\"exp\":1700000600}",
                              SIGN_HS, "some-other-secret-0123456789abcdef");
    char *dot = strrchr(forged, '.');
    const char *orig_sig = strrchr(tok, '.');
    char spliced[2048];
    snprintf(spliced, sizeof(spliced), "%.*s%s", (int)(dot - forged), forged, orig_sig);
    EXPECT(spliced, keys, 1, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* A truncated signature. */
    char trunc[2048];
    snprintf(trunc, sizeof(trunc), "%.*s", (int)strlen(tok) - 4, tok);
    EXPECT(trunc, keys, 1, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    mh_crypto_jwt_key_destroy(rot[0]);
    mh_crypto_jwt_key_destroy(keys[0]);
    free(tok);
    free(forged);
    tmp_cleanup();
}

MH_TEST(jwt_rs256_and_es256_signed_by_openssl)
{
    tmp_setup();
    gen_keys();
    struct mh_crypto_jwt_key *rsa = pem_key(MH_CRYPTO_JWT_RS256, NULL, "rsa_pub.pem");
    struct mh_crypto_jwt_key *ec = pem_key(MH_CRYPTO_JWT_ES256, NULL, "ec_pub.pem");
    struct mh_crypto_jwt_key *both[] = {rsa, ec};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    struct mh_crypto_jwt_result res;
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_alg(rsa), MH_CRYPTO_JWT_RS256);
    MH_T_ASSERT(mh_crypto_jwt_key_kid(rsa) == NULL);

    char *rs = make_token("{\"alg\":\"RS256\"}", std_payload, SIGN_RS, NULL);
    MH_T_ASSERT_EQ(verify(rs, both, 2, &o, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 0);
    char *es = make_token("{\"alg\":\"ES256\"}", std_payload, SIGN_ES, NULL);
    MH_T_ASSERT_EQ(verify(es, both, 2, &o, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);

    /* Flip one payload character: both signatures break. */
    char *rs2 = strdup(rs), *es2 = strdup(es);
    char *pay = strchr(rs2, '.') + 3;
    *pay = *pay == 'A' ? 'B' : 'A';
    pay = strchr(es2, '.') + 3;
    *pay = *pay == 'A' ? 'B' : 'A';
    EXPECT(rs2, both, 2, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    EXPECT(es2, both, 2, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* ES256 must be JOSE r||s: the DER form openssl emits is refused. */
    char *es_der = make_token("{\"alg\":\"ES256\"}", std_payload, SIGN_ES_DER, NULL);
    EXPECT(es_der, both, 2, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* A key pair the token was not signed with. */
    struct mh_crypto_jwt_key *only_ec[] = {ec};
    char *es_hdr_rs_sig = make_token("{\"alg\":\"RS256\"}", std_payload, SIGN_RS, NULL);
    EXPECT(es_hdr_rs_sig, only_ec, 1, &o, MH_CRYPTO_JWT_ALG_NOT_ALLOWED);

    free(rs);
    free(es);
    free(rs2);
    free(es2);
    free(es_der);
    free(es_hdr_rs_sig);
    mh_crypto_jwt_key_destroy(rsa);
    mh_crypto_jwt_key_destroy(ec);
    tmp_cleanup();
}

MH_TEST(jwt_algorithm_confusion_and_alg_none)
{
    tmp_setup();
    gen_keys();
    struct mh_crypto_jwt_key *rsa = pem_key(MH_CRYPTO_JWT_RS256, NULL, "rsa_pub.pem");
    struct mh_crypto_jwt_key *keys[] = {rsa};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    /* HS256 "signed" with the RSA public key's PEM as the HMAC secret: the key is pinned to
     * RS256, so the token's alg cannot turn it into an HMAC key. */
    char *confused =
        make_token("{\"alg\":\"HS256\"}", std_payload, SIGN_HMAC_WITH_RSA_PUBKEY, NULL);
    EXPECT(confused, keys, 1, &o, MH_CRYPTO_JWT_ALG_NOT_ALLOWED);
    /* The reverse: an RS256 token against an HS256 key. */
    struct mh_crypto_jwt_key *hs[] = {hs_key(NULL, hs_secret)};
    char *rs = make_token("{\"alg\":\"RS256\"}", std_payload, SIGN_RS, NULL);
    EXPECT(rs, hs, 1, &o, MH_CRYPTO_JWT_ALG_NOT_ALLOWED);

    /* alg none, in several spellings, with and without a signature part. */
    static const char *none_headers[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
                                         "{\"alg\":\"NONE\",\"typ\":\"JWT\"}"};
    char *p = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, std_payload, strlen(std_payload));
    for (size_t i = 0; i < 3; i++) {
        char *h = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, none_headers[i],
                                           strlen(none_headers[i]));
        char tok[1024];
        snprintf(tok, sizeof(tok), "%s.%s.", h, p);
        EXPECT(tok, keys, 1, &o, MH_CRYPTO_JWT_ALG_NONE);
        EXPECT(tok, hs, 1, &o, MH_CRYPTO_JWT_ALG_NONE);
        snprintf(tok, sizeof(tok), "%s.%s.c2lnbmF0dXJl", h, p);
        EXPECT(tok, hs, 1, &o, MH_CRYPTO_JWT_ALG_NONE);
        free(h);
    }
    /* An algorithm we do not implement. */
    char *hs512 = make_token("{\"alg\":\"HS512\"}", std_payload, SIGN_HS, hs_secret);
    EXPECT(hs512, hs, 1, &o, MH_CRYPTO_JWT_ALG_UNSUPPORTED);
    free(p);
    free(hs512);
    free(confused);
    free(rs);
    mh_crypto_jwt_key_destroy(rsa);
    mh_crypto_jwt_key_destroy(hs[0]);
    tmp_cleanup();
}

MH_TEST(jwt_kid_selection)
{
    tmp_setup();
    struct mh_crypto_jwt_key *keys[] = {hs_key("k1", "secret-one-secret-one-secret-one-1"),
                                        hs_key("k2", hs_secret)};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    struct mh_crypto_jwt_result res;
    char *t2 = make_token("{\"alg\":\"HS256\",\"kid\":\"k2\"}", std_payload, SIGN_HS, hs_secret);
    MH_T_ASSERT_EQ(verify(t2, keys, 2, &o, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
    MH_T_ASSERT_STR_EQ(mh_crypto_jwt_key_kid(keys[1]), "k2");
    /* The right secret under the wrong kid: k1's key is the only candidate, and fails. */
    char *t1 = make_token("{\"alg\":\"HS256\",\"kid\":\"k1\"}", std_payload, SIGN_HS, hs_secret);
    EXPECT(t1, keys, 2, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* A kid nobody has. */
    char *t3 = make_token("{\"alg\":\"HS256\",\"kid\":\"k3\"}", std_payload, SIGN_HS, hs_secret);
    EXPECT(t3, keys, 2, &o, MH_CRYPTO_JWT_UNKNOWN_KID);
    /* No kid in the token: every key is tried. */
    char *t0 = make_token("{\"alg\":\"HS256\"}", std_payload, SIGN_HS, hs_secret);
    MH_T_ASSERT_EQ(verify(t0, keys, 2, &o, &res, NULL), MH_OK);
    MH_T_ASSERT_EQ(res.key_index, 1);
    /* A kid that is not a string. */
    char *tn = make_token("{\"alg\":\"HS256\",\"kid\":7}", std_payload, SIGN_HS, hs_secret);
    EXPECT(tn, keys, 2, &o, MH_CRYPTO_JWT_MALFORMED);
    free(t0);
    free(t1);
    free(t2);
    free(t3);
    free(tn);
    mh_crypto_jwt_key_destroy(keys[0]);
    mh_crypto_jwt_key_destroy(keys[1]);
    tmp_cleanup();
}

MH_TEST(jwt_claims)
{
    tmp_setup();
    struct mh_crypto_jwt_key *keys[] = {hs_key(NULL, hs_secret)};
    const char *hdr = "{\"alg\":\"HS256\"}";
    struct mh_crypto_jwt_verify_opts o = std_opts();
    struct mh_crypto_jwt_result res;
    static const struct {
        const char *payload;
        enum mh_crypto_jwt_status status;
    } cases[] = {
        /* Expired one second ago; exactly at exp is expired too (now must be before exp). */
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":1699999999}",
         MH_CRYPTO_JWT_EXPIRED},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":1700000000}",
         MH_CRYPTO_JWT_EXPIRED},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":1700000600,"
         "\"nbf\":1700000030}",
         MH_CRYPTO_JWT_NOT_YET_VALID},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":1700000600,"
         "\"iat\":1700000030}",
         MH_CRYPTO_JWT_ISSUED_IN_FUTURE},
        {"{\"iss\":\"https://evil.example\",\"aud\":\"meshhook\",\"exp\":1700000600}",
         MH_CRYPTO_JWT_WRONG_ISSUER},
        {"{\"aud\":\"meshhook\",\"exp\":1700000600}", MH_CRYPTO_JWT_WRONG_ISSUER},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"other\",\"exp\":1700000600}",
         MH_CRYPTO_JWT_WRONG_AUDIENCE},
        {"{\"iss\":\"https://issuer.example\",\"aud\":[\"a\",\"b\"],\"exp\":1700000600}",
         MH_CRYPTO_JWT_WRONG_AUDIENCE},
        {"{\"iss\":\"https://issuer.example\",\"exp\":1700000600}", MH_CRYPTO_JWT_WRONG_AUDIENCE},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\"}", MH_CRYPTO_JWT_MISSING_EXP},
        {"{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":\"1700000600\"}",
         MH_CRYPTO_JWT_MALFORMED},
        {"[1,2,3]", MH_CRYPTO_JWT_MALFORMED},
        {"not json", MH_CRYPTO_JWT_MALFORMED},
        {"{\"exp\":1700000600,\"exp\":1}", MH_CRYPTO_JWT_MALFORMED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = make_token(hdr, cases[i].payload, SIGN_HS, hs_secret);
        expect_status(tok, keys, 1, &o, cases[i].status, (int)(__LINE__ * 1000 + i));
        free(tok);
    }
    /* What passes: aud in an array, fractional times, leeway, and an allowed missing exp. */
    char *tok = make_token(
        hdr,
        "{\"iss\":\"https://issuer.example\",\"aud\":[\"x\",\"meshhook\"],\"exp\":1700000000.5}",
        SIGN_HS, hs_secret);
    MH_T_ASSERT_EQ(verify(tok, keys, 1, &o, &res, NULL), MH_OK);
    free(tok);
    tok = make_token(hdr,
                     "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\",\"exp\":1699999995,"
                     "\"nbf\":1700000005,\"iat\":1700000005}",
                     SIGN_HS, hs_secret);
    EXPECT(tok, keys, 1, &o, MH_CRYPTO_JWT_EXPIRED);
    o.leeway_s = 10;
    MH_T_ASSERT_EQ(verify(tok, keys, 1, &o, &res, NULL), MH_OK);
    free(tok);
    o = std_opts();
    tok = make_token(hdr, "{\"iss\":\"https://issuer.example\",\"aud\":\"meshhook\"}", SIGN_HS,
                     hs_secret);
    o.allow_missing_exp = true;
    MH_T_ASSERT_EQ(verify(tok, keys, 1, &o, &res, NULL), MH_OK);
    /* Without expectations, iss and aud are not checked. */
    o.issuer = NULL;
    o.audience = NULL;
    free(tok);
    tok = make_token(hdr, "{\"exp\":1700000600}", SIGN_HS, hs_secret);
    MH_T_ASSERT_EQ(verify(tok, keys, 1, &o, &res, NULL), MH_OK);
    free(tok);
    mh_crypto_jwt_key_destroy(keys[0]);
    tmp_cleanup();
}

MH_TEST(jwt_malformed_tokens)
{
    tmp_setup();
    struct mh_crypto_jwt_key *keys[] = {hs_key(NULL, hs_secret)};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    char *good = make_token("{\"alg\":\"HS256\"}", std_payload, SIGN_HS, hs_secret);
    MH_T_ASSERT_EQ(verify(good, keys, 1, &o, NULL, NULL), MH_OK);
    char buf[4096];
    const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');

    /* Bad base64url: a '+' in the header, padding on the signature, '/' in the payload. */
    snprintf(buf, sizeof(buf), "ey+%s", good + 3);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s=", good);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s/%s", (int)(d1 - good + 1), good, d1 + 2);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_BAD_SIGNATURE); /* Checked after the signature. */
    /* Two parts, four parts, empty header, empty signature. */
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - good), good);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s.AAAA", good);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%s", d1);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    snprintf(buf, sizeof(buf), "%.*s", (int)(d2 - good + 1), good);
    EXPECT(buf, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    /* Headers that are not a JSON object with a string alg, duplicate alg, crit. */
    static const char *headers[] = {"[\"HS256\"]",
                                    "{\"alg\":256}",
                                    "{\"typ\":\"JWT\"}",
                                    "{\"alg\":\"HS256\",\"alg\":\"none\"}",
                                    "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}",
                                    "{"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char *t = make_token(headers[i], std_payload, SIGN_HS, hs_secret);
        expect_status(t, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED, (int)(__LINE__ * 1000 + i));
        free(t);
    }
    /* Too long: refused before decoding. */
    char *huge = malloc(MH_CRYPTO_JWT_MAX_LEN + 2);
    memset(huge, 'A', MH_CRYPTO_JWT_MAX_LEN + 1);
    huge[10] = '.';
    huge[20] = '.';
    huge[MH_CRYPTO_JWT_MAX_LEN + 1] = '\0';
    EXPECT(huge, keys, 1, &o, MH_CRYPTO_JWT_MALFORMED);
    free(huge);
    /* No token, and configuration errors. */
    struct mh_crypto_jwt_result res;
    MH_T_ASSERT_EQ(mh_crypto_jwt_verify(NULL, 0, (const struct mh_crypto_jwt_key **)keys, 1, &o,
                                        NULL, &res, NULL),
                   MH_EAUTH);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_JWT_MISSING_TOKEN);
    MH_T_ASSERT_EQ(verify(good, keys, 0, &o, &res, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(res.status, MH_CRYPTO_JWT_BAD_CONFIG);
    o.leeway_s = -1;
    MH_T_ASSERT_EQ(verify(good, keys, 1, &o, &res, NULL), MH_EINVAL);
    free(good);
    mh_crypto_jwt_key_destroy(keys[0]);
    tmp_cleanup();
}

MH_TEST(jwt_bearer_extraction)
{
    const char *tok = NULL;
    size_t n = 0;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("Bearer abc.def.ghi", &tok, &n, NULL), MH_OK);
    MH_T_ASSERT_EQ(n, 11);
    MH_T_ASSERT_EQ(strncmp(tok, "abc.def.ghi", n), 0);
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("  bEaReR \t abc.def.ghi \t", &tok, &n, NULL), MH_OK);
    MH_T_ASSERT_EQ(n, 11);
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer(NULL, &tok, &n, &info), MH_EAUTH);
    MH_T_ASSERT_STR_EQ(info.kind, "missing-token");
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("Basic dXNlcjpwYXNz", &tok, &n, &info), MH_EAUTH);
    MH_T_ASSERT_STR_EQ(info.kind, "missing-token");
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("Bearerabc", &tok, &n, &info), MH_EAUTH);
    MH_T_ASSERT_STR_EQ(info.kind, "missing-token");
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("Bearer ", &tok, &n, &info), MH_EAUTH);
    MH_T_ASSERT_STR_EQ(info.kind, "malformed");
    MH_T_ASSERT_EQ(mh_crypto_jwt_from_bearer("Bearer a b", &tok, &n, &info), MH_EAUTH);
    MH_T_ASSERT_STR_EQ(info.kind, "malformed");
    MH_T_ASSERT(tok == NULL);
}

MH_TEST(jwt_key_loading)
{
    tmp_setup();
    gen_keys();
    sh("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out %s/rsa1024.pem "
       "2>/dev/null",
       tmpdir);
    sh("openssl pkey -in %s/rsa1024.pem -pubout -out %s/rsa1024_pub.pem", tmpdir, tmpdir);
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s/ec384.pem", tmpdir);
    sh("openssl pkey -in %s/ec384.pem -pubout -out %s/ec384_pub.pem", tmpdir, tmpdir);
    struct {
        enum mh_crypto_jwt_alg alg;
        const char *file;
        enum mh_err want;
    } cases[] = {
        {MH_CRYPTO_JWT_RS256, "rsa_pub.pem", MH_OK},
        {MH_CRYPTO_JWT_ES256, "ec_pub.pem", MH_OK},
        {MH_CRYPTO_JWT_RS256, "ec_pub.pem", MH_EINVAL},      /* Wrong type. */
        {MH_CRYPTO_JWT_ES256, "rsa_pub.pem", MH_EINVAL},     /* Wrong type. */
        {MH_CRYPTO_JWT_RS256, "rsa1024_pub.pem", MH_EINVAL}, /* Too small. */
        {MH_CRYPTO_JWT_ES256, "ec384_pub.pem", MH_EINVAL},   /* Wrong curve. */
        {MH_CRYPTO_JWT_RS256, "rsa.pem", MH_EINVAL},         /* A private key is not accepted. */
        {MH_CRYPTO_JWT_HS256, "rsa_pub.pem", MH_EINVAL},     /* PEM for HMAC. */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        char *pem = read_file(cases[i].file, &len);
        struct mh_crypto_jwt_key *k = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_crypto_jwt_key_create_pem(cases[i].alg, "kid", pem, len, &k, &info);
        if (rc != cases[i].want)
            mh_t_fail(__FILE__, __LINE__, "case %zu: %d (%s)", i, (int)rc, info.message);
        MH_T_ASSERT((k != NULL) == (rc == MH_OK));
        mh_crypto_jwt_key_destroy(k);
        free(pem);
    }
    struct mh_crypto_jwt_key *k = NULL;
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_create_pem(MH_CRYPTO_JWT_RS256, NULL, "garbage", 7, &k, NULL),
                   MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_create_hmac(NULL, "short", 5, &k, NULL), MH_EINVAL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_create_hmac("", hs_secret, strlen(hs_secret), &k, NULL),
                   MH_EINVAL);
    MH_T_ASSERT(k == NULL);
    mh_crypto_jwt_key_destroy(NULL);
    enum mh_crypto_jwt_alg alg;
    MH_T_ASSERT(mh_crypto_jwt_alg_parse("ES256", &alg) && alg == MH_CRYPTO_JWT_ES256);
    MH_T_ASSERT(!mh_crypto_jwt_alg_parse("es256", &alg));
    MH_T_ASSERT(!mh_crypto_jwt_alg_parse("none", &alg));
    tmp_cleanup();
}

/* ---- More algorithms, JWK and JWKS -------------------------------------------------------- */

static json_t *load_vectors(void)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tests/data/crypto/jws_rfc.json", mh_t_repo_dir());
    json_error_t err;
    json_t *doc = json_load_file(path, 0, &err);
    if (doc == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", path, err.text);
    return doc;
}

/* Verifies an RFC vector's token with `key`: a JSON payload must verify (iss "joe"); a payload
 * that is not JSON is refused as malformed only after its signature verified, which a flipped
 * signature bit turns into bad-signature. */
static void check_vector(json_t *v, struct mh_crypto_jwt_key *key, int64_t now)
{
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *tok = json_string_value(json_object_get(v, "token"));
    struct mh_crypto_jwt_verify_opts o = {.now = now, .leeway_s = 0, .allow_missing_exp = true};
    struct mh_crypto_jwt_result res;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *claims = NULL;
    enum mh_err rc = mh_crypto_jwt_verify(tok, strlen(tok), (const struct mh_crypto_jwt_key **)&key,
                                          1, &o, &claims, &res, &info);
    if (json_is_true(json_object_get(v, "payload_is_json"))) {
        if (rc != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: %s", name, info.message);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(claims, "iss")), "joe");
        /* The RFC token's exp is checked like any other. */
        o.now = 1300819380;
        EXPECT(tok, &key, 1, &o, MH_CRYPTO_JWT_EXPIRED);
        o.now = now;
    } else {
        if (rc != MH_EAUTH || res.status != MH_CRYPTO_JWT_MALFORMED ||
            strstr(info.message, "payload") == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s: %s", name, info.message);
    }
    json_decref(claims);
    char *bad = strdup(tok);
    char *last = bad + strlen(bad) - 3;
    *last = *last == 'A' ? 'Q' : 'A';
    EXPECT(bad, &key, 1, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    free(bad);
}

MH_TEST(jwt_rfc7515_and_rfc8037_vectors)
{
    json_t *doc = load_vectors();
    int64_t now = json_integer_value(json_object_get(doc, "now"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(doc, "vectors"), i, v)
    {
        const char *name = json_string_value(json_object_get(v, "name"));
        enum mh_crypto_jwt_alg alg;
        MH_T_ASSERT(mh_crypto_jwt_alg_parse(json_string_value(json_object_get(v, "alg")), &alg));
        struct mh_crypto_jwt_key *key = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        /* The RFC's RSA JWK names no alg: the configuration gives it. */
        if (mh_crypto_jwt_key_create_jwk(json_object_get(v, "jwk"), &alg, &key, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "%s: %s (%s)", name, info.message, info.path);
        MH_T_ASSERT_EQ(mh_crypto_jwt_key_alg(key), alg);
        check_vector(v, key, now);
        /* Stored as PEM, read back: the same verdicts. */
        char *pem = NULL;
        MH_T_ASSERT_EQ(mh_crypto_jwt_key_public_pem(key, &pem), MH_OK);
        MH_T_ASSERT(strncmp(pem, "-----BEGIN PUBLIC KEY-----", 26) == 0);
        struct mh_crypto_jwt_key *back = NULL;
        MH_T_ASSERT_EQ(mh_crypto_jwt_key_create_pem(alg, NULL, pem, strlen(pem), &back, NULL),
                       MH_OK);
        check_vector(v, back, now);
        /* Pinned to another algorithm of the same key type, the key is not a candidate. */
        if (alg != MH_CRYPTO_JWT_EDDSA) {
            enum mh_crypto_jwt_alg other = alg == MH_CRYPTO_JWT_RS256   ? MH_CRYPTO_JWT_PS256
                                           : alg == MH_CRYPTO_JWT_ES256 ? MH_CRYPTO_JWT_ES384
                                                                        : MH_CRYPTO_JWT_ES256;
            struct mh_crypto_jwt_key *k2 = NULL;
            if (mh_crypto_jwt_key_create_pem(other, NULL, pem, strlen(pem), &k2, NULL) == MH_OK) {
                struct mh_crypto_jwt_verify_opts o = {.now = now, .allow_missing_exp = true};
                EXPECT(json_string_value(json_object_get(v, "token")), &k2, 1, &o,
                       MH_CRYPTO_JWT_ALG_NOT_ALLOWED);
            }
            mh_crypto_jwt_key_destroy(k2);
        }
        free(pem);
        mh_crypto_jwt_key_destroy(back);
        mh_crypto_jwt_key_destroy(key);
    }
    MH_T_ASSERT_EQ(i, 4);

    /* RFC 7515 A.6's two keys as a JWKS (plus an encryption key, skipped): each token verifies
     * with the whole set, by its algorithm. */
    struct mh_crypto_jwt_key *set[MH_CRYPTO_JWT_JWKS_MAX_KEYS];
    size_t n = 0;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(json_object_get(doc, "jwks_rfc7515_a6"), set,
                                            MH_CRYPTO_JWT_JWKS_MAX_KEYS, &n, &info),
                   MH_OK);
    MH_T_ASSERT_EQ(n, 2);
    MH_T_ASSERT_STR_EQ(mh_crypto_jwt_key_kid(set[0]), "2010-12-29");
    MH_T_ASSERT_EQ(mh_crypto_jwt_key_alg(set[1]), MH_CRYPTO_JWT_ES256);
    struct mh_crypto_jwt_verify_opts o = {.now = now, .allow_missing_exp = true};
    struct mh_crypto_jwt_result res;
    for (size_t k = 0; k < 2; k++) {
        json_t *v2 = json_array_get(json_object_get(doc, "vectors"), k);
        const char *tok = json_string_value(json_object_get(v2, "token"));
        MH_T_ASSERT_EQ(verify(tok, set, n, &o, &res, NULL), MH_OK);
        MH_T_ASSERT_EQ(res.key_index, k);
    }
    for (size_t k = 0; k < n; k++)
        mh_crypto_jwt_key_destroy(set[k]);
    json_decref(doc);
}

/* Signs `header`.`payload` with openssl: `dgst_args` for dgst ("-sha384", "-sha256 -sigopt
 * rsa_padding_mode:pss ..."), or NULL for Ed25519 (pkeyutl -rawin). `coord` > 0 converts the
 * ECDSA DER signature to JOSE r||s with coordinates of that size. */
static char *sign_with(const char *header, const char *payload, const char *keyfile,
                       const char *dgst_args, size_t coord)
{
    char *h = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, header, strlen(header));
    char *p = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, payload, strlen(payload));
    char input[4096], path[256], cmd[1024];
    snprintf(input, sizeof(input), "%s.%s", h, p);
    snprintf(path, sizeof(path), "%s/input", tmpdir);
    FILE *f = fopen(path, "wb");
    MH_T_ASSERT(f != NULL);
    fwrite(input, 1, strlen(input), f);
    fclose(f);
    if (dgst_args)
        snprintf(cmd, sizeof(cmd), "openssl dgst %s -sign %s/%s -binary %s/input", dgst_args,
                 tmpdir, keyfile, tmpdir);
    else
        snprintf(cmd, sizeof(cmd), "openssl pkeyutl -sign -rawin -inkey %s/%s -in %s/input", tmpdir,
                 keyfile, tmpdir);
    uint8_t sig[1024], raw[132];
    size_t n = run(cmd, sig, sizeof(sig));
    const uint8_t *out = sig;
    if (coord) {
        /* SEQUENCE { INTEGER r, INTEGER s }, long-form length for P-521. */
        size_t off = sig[1] & 0x80 ? 3 : 2;
        memset(raw, 0, sizeof(raw));
        for (int i = 0; i < 2; i++) {
            MH_T_ASSERT(sig[off] == 0x02);
            size_t len = sig[off + 1];
            const uint8_t *v = sig + off + 2;
            off += 2 + len;
            while (len > coord) {
                v++;
                len--;
            }
            memcpy(raw + coord * i + (coord - len), v, len);
        }
        out = raw;
        n = 2 * coord;
    }
    char *s = mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, out, n);
    size_t tl = strlen(input) + 1 + strlen(s) + 1;
    char *tok = malloc(tl);
    snprintf(tok, tl, "%s.%s", input, s);
    free(h);
    free(p);
    free(s);
    return tok;
}

MH_TEST(jwt_ps256_es384_es512_eddsa_signed_by_openssl)
{
    tmp_setup();
    gen_keys();
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out %s/ec384.pem", tmpdir);
    sh("openssl pkey -in %s/ec384.pem -pubout -out %s/ec384_pub.pem", tmpdir, tmpdir);
    sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-521 -out %s/ec521.pem", tmpdir);
    sh("openssl pkey -in %s/ec521.pem -pubout -out %s/ec521_pub.pem", tmpdir, tmpdir);
    sh("openssl genpkey -algorithm ED25519 -out %s/ed.pem", tmpdir);
    sh("openssl pkey -in %s/ed.pem -pubout -out %s/ed_pub.pem", tmpdir, tmpdir);
    struct mh_crypto_jwt_key *ps = pem_key(MH_CRYPTO_JWT_PS256, "ps", "rsa_pub.pem");
    struct mh_crypto_jwt_key *rs = pem_key(MH_CRYPTO_JWT_RS256, "rs", "rsa_pub.pem");
    struct mh_crypto_jwt_key *e384 = pem_key(MH_CRYPTO_JWT_ES384, NULL, "ec384_pub.pem");
    struct mh_crypto_jwt_key *e521 = pem_key(MH_CRYPTO_JWT_ES512, NULL, "ec521_pub.pem");
    struct mh_crypto_jwt_key *ed = pem_key(MH_CRYPTO_JWT_EDDSA, NULL, "ed_pub.pem");
    struct mh_crypto_jwt_key *all[] = {rs, ps, e384, e521, ed};
    struct mh_crypto_jwt_verify_opts o = std_opts();
    struct mh_crypto_jwt_result res;
    static const char pss[] = "-sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest "
                              "-sigopt rsa_mgf1_md:sha256";
    struct {
        const char *header, *keyfile, *args;
        size_t coord, want_index;
    } cases[] = {
        {"{\"alg\":\"PS256\",\"kid\":\"ps\"}", "rsa.pem", pss, 0, 1},
        {"{\"alg\":\"PS256\"}", "rsa.pem", pss, 0, 1},
        {"{\"alg\":\"ES384\"}", "ec384.pem", "-sha384", 48, 2},
        {"{\"alg\":\"ES512\"}", "ec521.pem", "-sha512", 66, 3},
        {"{\"alg\":\"EdDSA\"}", "ed.pem", NULL, 0, 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *tok = sign_with(cases[i].header, std_payload, cases[i].keyfile, cases[i].args,
                              cases[i].coord);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (verify(tok, all, 5, &o, &res, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "case %zu: %s", i, info.message);
        MH_T_ASSERT_EQ(res.key_index, cases[i].want_index);
        char *bad = strdup(tok);
        char *pay = strchr(bad, '.') + 3;
        *pay = *pay == 'A' ? 'B' : 'A';
        EXPECT(bad, all, 5, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
        free(bad);
        free(tok);
    }
    /* PKCS #1 v1.5 under a PS256 header, and PSS under an RS256 header, do not verify: the
     * padding is part of the pinned algorithm. */
    char *v15 = sign_with("{\"alg\":\"PS256\"}", std_payload, "rsa.pem", "-sha256", 0);
    EXPECT(v15, all, 5, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    char *pss_rs = sign_with("{\"alg\":\"RS256\"}", std_payload, "rsa.pem", pss, 0);
    EXPECT(pss_rs, all, 5, &o, MH_CRYPTO_JWT_BAD_SIGNATURE);
    /* The kid still selects: "rs" is an RS256 key, so a PS256 token naming it has no key. */
    char *wrong_kid =
        sign_with("{\"alg\":\"PS256\",\"kid\":\"rs\"}", std_payload, "rsa.pem", pss, 0);
    EXPECT(wrong_kid, all, 5, &o, MH_CRYPTO_JWT_ALG_NOT_ALLOWED);
    free(v15);
    free(pss_rs);
    free(wrong_kid);
    /* Key types and curves per algorithm. */
    struct {
        enum mh_crypto_jwt_alg alg;
        const char *file;
    } wrong[] = {
        {MH_CRYPTO_JWT_ES384, "ec_pub.pem"}, {MH_CRYPTO_JWT_ES512, "ec384_pub.pem"},
        {MH_CRYPTO_JWT_EDDSA, "ec_pub.pem"}, {MH_CRYPTO_JWT_PS256, "ed_pub.pem"},
        {MH_CRYPTO_JWT_ES256, "ed_pub.pem"}, {MH_CRYPTO_JWT_EDDSA, "ed.pem"},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        size_t len = 0;
        char *pem = read_file(wrong[i].file, &len);
        struct mh_crypto_jwt_key *k = NULL;
        if (mh_crypto_jwt_key_create_pem(wrong[i].alg, NULL, pem, len, &k, NULL) != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "wrong case %zu accepted", i);
        free(pem);
    }
    for (size_t i = 0; i < 5; i++)
        mh_crypto_jwt_key_destroy(all[i]);
    static const char *extra[] = {"ec521.pem", "ec521_pub.pem", "ed.pem", "ed_pub.pem"};
    char path[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, extra[i]);
        unlink(path);
    }
    tmp_cleanup();
}

/* One JWK, expected to fail at `path`. */
static void jwk_refused(const char *json, const enum mh_crypto_jwt_alg *hint, const char *path,
                        int line)
{
    json_t *j = json_loads(json, 0, NULL);
    if (j == NULL)
        mh_t_fail(__FILE__, line, "bad test JSON");
    struct mh_crypto_jwt_key *k = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_crypto_jwt_key_create_jwk(j, hint, &k, &info);
    if (rc != MH_EINVAL || k != NULL || strcmp(info.path, path) != 0 || info.message[0] == '\0')
        mh_t_fail(__FILE__, line, "rc %d path '%s' (want '%s'): %s", (int)rc, info.path, path,
                  info.message);
    json_decref(j);
}

#define P256_XY                                                                                    \
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","                                       \
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\""

MH_TEST(jwt_jwk_refusals)
{
    enum mh_crypto_jwt_alg es384 = MH_CRYPTO_JWT_ES384, rs256 = MH_CRYPTO_JWT_RS256;
    jwk_refused("[]", NULL, "", __LINE__);
    jwk_refused("{\"crv\":\"P-256\"," P256_XY "}", NULL, "/kty", __LINE__);
    jwk_refused("{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}", NULL, "/kty", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\"," P256_XY
                ",\"d\":\"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI\"}",
                NULL, "/d", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"use\":\"enc\"," P256_XY "}", NULL, "/use",
                __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"key_ops\":[\"sign\"]," P256_XY "}", NULL,
                "/key_ops", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\"," P256_XY "}", NULL, "/alg",
                __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\"," P256_XY "}", &es384, "/alg", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\"," P256_XY "}", &es384, "/alg",
                __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"HS256\"," P256_XY "}", NULL, "/alg",
                __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"secp256k1\"," P256_XY "}", NULL, "/crv", __LINE__);
    /* x one byte short; padded base64url; a point off the curve (y changed). */
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR"
                "VQ\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                NULL, "/x", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR"
                "VEU=\",\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                NULL, "/x", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvR"
                "VEU\",\"y\":\"y_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"}",
                NULL, "/x", __LINE__);
    jwk_refused("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaP"
                "cHURo\"}",
                NULL, "/crv", __LINE__);
    jwk_refused(
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaP"
        "cHURo\",\"alg\":\"ES256\"}",
        NULL, "/alg", __LINE__);
    /* RSA: an algorithm is needed, and 2048 bits. */
    jwk_refused(
        "{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
        "\",\"e\":\"AQAB\"}",
        NULL, "/alg", __LINE__);
    jwk_refused(
        "{\"kty\":\"RSA\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx"
        "HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs\",\"e\":\"AQAB\"}",
        &rs256, "/n", __LINE__);
    jwk_refused("{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":7," P256_XY "}", NULL, "/kid", __LINE__);

    /* JWKS: errors name the key; an empty or encryption-only set has no signing key. */
    struct mh_crypto_jwt_key *set[4];
    size_t n = 9;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *j = json_loads("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"," P256_XY
                           "},{\"kty\":\"EC\",\"crv\":\"P-999\"}]}",
                           0, NULL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(j, set, 4, &n, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "/keys/1/crv");
    MH_T_ASSERT_EQ(n, 0);
    json_decref(j);
    j = json_loads("{\"keys\":[{\"kty\":\"EC\",\"use\":\"enc\",\"crv\":\"P-256\"," P256_XY "}]}", 0,
                   NULL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(j, set, 4, &n, &info), MH_EINVAL);
    MH_T_ASSERT_STR_EQ(info.path, "/keys");
    json_decref(j);
    j = json_loads("{\"keys\":{}}", 0, NULL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(j, set, 4, &n, &info), MH_EINVAL);
    json_decref(j);
    /* More keys than room. */
    j = json_loads("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\"," P256_XY
                   "},{\"kty\":\"EC\",\"crv\":\"P-256\"," P256_XY "}]}",
                   0, NULL);
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(j, set, 1, &n, &info), MH_EINVAL);
    MH_T_ASSERT_EQ(n, 0);
    MH_T_ASSERT_EQ(mh_crypto_jwt_jwks_parse(j, set, 4, &n, &info), MH_OK);
    MH_T_ASSERT_EQ(n, 2);
    mh_crypto_jwt_key_destroy(set[0]);
    mh_crypto_jwt_key_destroy(set[1]);
    json_decref(j);

    /* Names. */
    enum mh_crypto_jwt_alg alg;
    MH_T_ASSERT(mh_crypto_jwt_alg_parse("EdDSA", &alg) && alg == MH_CRYPTO_JWT_EDDSA);
    MH_T_ASSERT(!mh_crypto_jwt_alg_parse("EDDSA", &alg));
    MH_T_ASSERT(mh_crypto_jwt_alg_parse_config("ps256", &alg) && alg == MH_CRYPTO_JWT_PS256);
    MH_T_ASSERT(!mh_crypto_jwt_alg_parse_config("PS256", &alg));
    MH_T_ASSERT_STR_EQ(mh_crypto_jwt_alg_config_name(MH_CRYPTO_JWT_ES512), "es512");
}
