/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over JWK and JWKS import (src/crypto/jwt.c), which reads keys an API user
 * pastes in: any JSON must load or be refused with MH_EINVAL, a message and a JSON pointer to
 * the member at fault, without a crash, a leak or undefined behaviour. Beyond that:
 *   - a loaded key is pinned to a public-key algorithm (never HS256), and the algorithm given
 *     as a hint is the one it gets;
 *   - its PEM, as it is stored, loads again for the same algorithm and gives the same PEM;
 *   - a JWKS error points inside "/keys", and a refused JWKS returns no key.
 *
 * Input: byte 0 picks the algorithm hint (value % 8: none, or one of the seven algorithms,
 * HS256 included, which a JWK must refuse) and whether the rest is read as one JWK (bit 3
 * clear) or as a JWKS document; the rest is JSON. tests/unit/test_crypto_jwk_fuzz_corpus.c
 * includes this file with MH_FUZZ_NO_ENTRY defined and replays tests/fuzz/corpus/jwk/ through
 * mh_fuzz_jwk_one(), which returns 1 when at least one key loaded, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/jwt.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

/* The stored form of a loaded key reads back as the same key. */
static void mh_fuzz_check_key(const struct mh_crypto_jwt_key *k)
{
    enum mh_crypto_jwt_alg alg = mh_crypto_jwt_key_alg(k);
    MH_FUZZ_CHECK(alg != MH_CRYPTO_JWT_HS256);
    char *pem = NULL, *again = NULL;
    MH_FUZZ_CHECK(mh_crypto_jwt_key_public_pem(k, &pem) == MH_OK);
    struct mh_crypto_jwt_key *back = NULL;
    MH_FUZZ_CHECK(mh_crypto_jwt_key_create_pem(alg, mh_crypto_jwt_key_kid(k), pem, strlen(pem),
                                               &back, NULL) == MH_OK);
    MH_FUZZ_CHECK(mh_crypto_jwt_key_public_pem(back, &again) == MH_OK);
    MH_FUZZ_CHECK(strcmp(pem, again) == 0);
    mh_crypto_jwt_key_destroy(back);
    free(again);
    free(pem);
}

int mh_fuzz_jwk_one(const uint8_t *data, size_t size);

int mh_fuzz_jwk_one(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 32 * 1024)
        return 0;
    json_t *doc = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
    if (doc == NULL)
        return 0;
    unsigned pick = data[0] % 8;
    enum mh_crypto_jwt_alg hint = pick ? (enum mh_crypto_jwt_alg)(pick - 1) : MH_CRYPTO_JWT_HS256;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int loaded = 0;
    if ((data[0] & 8) == 0) {
        struct mh_crypto_jwt_key *k = NULL;
        enum mh_err rc = mh_crypto_jwt_key_create_jwk(doc, pick ? &hint : NULL, &k, &info);
        MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL);
        MH_FUZZ_CHECK((rc == MH_OK) == (k != NULL));
        if (rc == MH_OK) {
            MH_FUZZ_CHECK(pick == 0 || mh_crypto_jwt_key_alg(k) == hint);
            mh_fuzz_check_key(k);
            loaded = 1;
        } else {
            MH_FUZZ_CHECK(info.message[0] != '\0');
            MH_FUZZ_CHECK(info.path[0] == '\0' || info.path[0] == '/');
        }
        mh_crypto_jwt_key_destroy(k);
    } else {
        struct mh_crypto_jwt_key *keys[MH_CRYPTO_JWT_JWKS_MAX_KEYS];
        size_t n = 99;
        enum mh_err rc =
            mh_crypto_jwt_jwks_parse(doc, keys, MH_CRYPTO_JWT_JWKS_MAX_KEYS, &n, &info);
        MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL);
        if (rc == MH_OK) {
            MH_FUZZ_CHECK(n >= 1 && n <= MH_CRYPTO_JWT_JWKS_MAX_KEYS);
            for (size_t i = 0; i < n; i++) {
                mh_fuzz_check_key(keys[i]);
                mh_crypto_jwt_key_destroy(keys[i]);
            }
            loaded = 1;
        } else {
            MH_FUZZ_CHECK(n == 0 && info.message[0] != '\0');
            MH_FUZZ_CHECK(strncmp(info.path, "/keys", 5) == 0);
        }
    }
    json_decref(doc);
    return loaded;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_jwk_one(data, size);
    return 0;
}
#endif
