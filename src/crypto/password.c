/* SPDX-License-Identifier: MIT */
/*
 * argon2id password hashes in PHC string form. Hashing uses libargon2's encoder so the strings
 * are exactly what other argon2 implementations write and read; verification parses the string
 * itself instead of calling argon2id_verify, so that it can bound the parameters a stored row
 * may ask for (a tampered row must not make a login allocate gigabytes) and compare the derived
 * hash with CRYPTO_memcmp. A dummy verification spends the same time for unknown users, and
 * refuses an over-long password as early as a real one does.
 */
#include "crypto/password.h"

#include <string.h>

#include <argon2.h>

#include "core/mem.h"
#include "crypto/crypto.h"

#define SALT_MIN 8u
#define SALT_MAX 64u
#define HASH_MIN 16u
#define HASH_MAX 64u

/* A parsed PHC string. */
struct phc {
    struct mh_crypto_argon2_params params;
    uint8_t salt[SALT_MAX];
    size_t salt_len;
    uint8_t hash[HASH_MAX];
    size_t hash_len;
};

static bool params_valid(const struct mh_crypto_argon2_params *p);
static enum mh_err from_argon2(int rc);
static bool expect_lit(const char **p, const char *end, const char *lit);
static bool parse_u32(const char **p, const char *end, uint32_t *out);
static bool parse_b64_field(const char **p, const char *end, char stop, uint8_t *out, size_t cap,
                            size_t min, size_t *out_len);
static bool phc_parse(const char *encoded, struct phc *out);

void mh_crypto_argon2_params_default(struct mh_crypto_argon2_params *p)
{
    p->t_cost = MH_CRYPTO_ARGON2_DEFAULT_T;
    p->m_cost_kib = MH_CRYPTO_ARGON2_DEFAULT_M_KIB;
    p->parallelism = MH_CRYPTO_ARGON2_DEFAULT_P;
}

static bool params_valid(const struct mh_crypto_argon2_params *p)
{
    return p->t_cost >= 1 && p->t_cost <= MH_CRYPTO_ARGON2_MAX_T && p->parallelism >= 1 &&
           p->parallelism <= MH_CRYPTO_ARGON2_MAX_P && p->m_cost_kib >= 8 * p->parallelism &&
           p->m_cost_kib <= MH_CRYPTO_ARGON2_MAX_M_KIB;
}

static enum mh_err from_argon2(int rc)
{
    if (rc == ARGON2_OK)
        return MH_OK;
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return MH_ENOMEM;
    return MH_ECRYPTO;
}

static bool expect_lit(const char **p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
        return false;
    *p += n;
    return true;
}

/* 1..10 decimal digits without a leading zero, at most UINT32_MAX. */
static bool parse_u32(const char **p, const char *end, uint32_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    size_t n = 0;
    while (s + n < end && s[n] >= '0' && s[n] <= '9' && n <= 10) {
        v = v * 10 + (uint64_t)(s[n] - '0');
        n++;
    }
    if (n == 0 || n > 10 || (n > 1 && s[0] == '0') || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    *p = s + n;
    return true;
}

/* Base64 (standard alphabet, unpadded, as argon2 writes it) up to `stop` or the end. */
static bool parse_b64_field(const char **p, const char *end, char stop, uint8_t *out, size_t cap,
                            size_t min, size_t *out_len)
{
    const char *s = *p;
    const char *e = stop ? memchr(s, stop, (size_t)(end - s)) : end;
    if (e == NULL)
        return false;
    if (mh_crypto_b64_decode(MH_CRYPTO_B64_STD_NOPAD, s, (size_t)(e - s), out, cap, out_len) !=
            MH_OK ||
        *out_len < min)
        return false;
    *p = e;
    return true;
}

static bool phc_parse(const char *encoded, struct phc *out)
{
    if (encoded == NULL)
        return false;
    size_t len = strnlen(encoded, MH_CRYPTO_ARGON2_MAX_ENCODED_LEN + 1);
    if (len > MH_CRYPTO_ARGON2_MAX_ENCODED_LEN)
        return false;
    const char *p = encoded, *end = encoded + len;
    struct mh_crypto_argon2_params *pp = &out->params;
    return expect_lit(&p, end, "$argon2id$v=19$m=") && parse_u32(&p, end, &pp->m_cost_kib) &&
           expect_lit(&p, end, ",t=") && parse_u32(&p, end, &pp->t_cost) &&
           expect_lit(&p, end, ",p=") && parse_u32(&p, end, &pp->parallelism) &&
           expect_lit(&p, end, "$") &&
           parse_b64_field(&p, end, '$', out->salt, sizeof(out->salt), SALT_MIN, &out->salt_len) &&
           expect_lit(&p, end, "$") &&
           parse_b64_field(&p, end, '\0', out->hash, sizeof(out->hash), HASH_MIN, &out->hash_len) &&
           p == end && params_valid(pp);
}

enum mh_err mh_crypto_password_hash(const char *password, size_t len,
                                    const struct mh_crypto_argon2_params *params, char **encoded)
{
    enum mh_err rc = MH_OK;
    struct mh_crypto_argon2_params defaults;
    uint8_t salt[MH_CRYPTO_ARGON2_SALT_LEN];
    char buf[MH_CRYPTO_ARGON2_MAX_ENCODED_LEN];

    *encoded = NULL;
    if (params == NULL) {
        mh_crypto_argon2_params_default(&defaults);
        params = &defaults;
    }
    if (!params_valid(params))
        return MH_EINVAL;
    if (len > MH_CRYPTO_PASSWORD_MAX_LEN)
        return MH_ETOOBIG;
    size_t need = argon2_encodedlen(params->t_cost, params->m_cost_kib, params->parallelism,
                                    sizeof(salt), MH_CRYPTO_ARGON2_HASH_LEN, Argon2_id);
    MH_ASSERT(need <= sizeof(buf));
    rc = mh_crypto_random(salt, sizeof(salt));
    if (rc != MH_OK)
        goto out;
    rc = from_argon2(argon2id_hash_encoded(params->t_cost, params->m_cost_kib, params->parallelism,
                                           password ? password : "", len, salt, sizeof(salt),
                                           MH_CRYPTO_ARGON2_HASH_LEN, buf, sizeof(buf)));
    if (rc != MH_OK)
        goto out;
    *encoded = mh_xstrdup(buf);
out:
    mh_crypto_wipe(buf, sizeof(buf));
    return rc;
}

enum mh_err mh_crypto_password_verify(const char *encoded, const char *password, size_t len)
{
    enum mh_err rc = MH_OK;
    struct phc phc;
    uint8_t derived[HASH_MAX];

    if (len > MH_CRYPTO_PASSWORD_MAX_LEN)
        return MH_ETOOBIG;
    if (!phc_parse(encoded, &phc))
        return MH_EINVAL;
    rc = from_argon2(argon2id_hash_raw(phc.params.t_cost, phc.params.m_cost_kib,
                                       phc.params.parallelism, password ? password : "", len,
                                       phc.salt, phc.salt_len, derived, phc.hash_len));
    if (rc != MH_OK)
        goto out;
    if (!mh_crypto_ct_equal(derived, phc.hash, phc.hash_len))
        rc = MH_EAUTH;
out:
    mh_crypto_wipe(derived, sizeof(derived));
    mh_crypto_wipe(&phc, sizeof(phc));
    return rc;
}

enum mh_err mh_crypto_password_dummy_verify(const char *password, size_t len,
                                            const struct mh_crypto_argon2_params *params)
{
    /* A fixed salt is fine: the result is thrown away. What matters is that the work (memory,
     * passes, lanes, output length) equals a real verification's. */
    static const uint8_t salt[MH_CRYPTO_ARGON2_SALT_LEN] = "meshhook-dummy!";
    struct mh_crypto_argon2_params defaults;
    uint8_t derived[MH_CRYPTO_ARGON2_HASH_LEN];
    if (params == NULL || !params_valid(params)) {
        mh_crypto_argon2_params_default(&defaults);
        params = &defaults;
    }
    /* Refused before hashing, as mh_crypto_password_verify does: hashing a truncated copy here
     * made an unknown account answer thirty times slower than a known one. */
    if (len > MH_CRYPTO_PASSWORD_MAX_LEN)
        return MH_ETOOBIG;
    (void)argon2id_hash_raw(params->t_cost, params->m_cost_kib, params->parallelism,
                            password ? password : "", len, salt, sizeof(salt), derived,
                            sizeof(derived));
    /* Compare as a real verification would, so the tail costs the same too. */
    (void)mh_crypto_ct_equal(derived, salt, sizeof(salt));
    mh_crypto_wipe(derived, sizeof(derived));
    return MH_EAUTH;
}

bool mh_crypto_password_needs_rehash(const char *encoded,
                                     const struct mh_crypto_argon2_params *params)
{
    struct mh_crypto_argon2_params defaults;
    struct phc phc;
    if (params == NULL) {
        mh_crypto_argon2_params_default(&defaults);
        params = &defaults;
    }
    if (!phc_parse(encoded, &phc))
        return true;
    return phc.params.t_cost != params->t_cost || phc.params.m_cost_kib != params->m_cost_kib ||
           phc.params.parallelism != params->parallelism ||
           phc.salt_len != MH_CRYPTO_ARGON2_SALT_LEN || phc.hash_len != MH_CRYPTO_ARGON2_HASH_LEN;
}
