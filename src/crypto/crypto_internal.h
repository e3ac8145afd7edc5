/* SPDX-License-Identifier: MIT */
/*
 * Private to crypto. Algorithm handles fetched once per process, and small helpers the files of
 * src/crypto share. Nothing here is part of the module's API.
 */
#ifndef MH_CRYPTO_INTERNAL_H
#define MH_CRYPTO_INTERNAL_H

#include <openssl/evp.h>

#include "crypto/crypto.h"

/*
 * Explicitly fetched algorithms (OpenSSL 3 "fetch once, use many"): implicit fetches by name on
 * every call cost a lock and a hash lookup on the webhook hot path. The handles live for the
 * process and are never freed. Each returns NULL only if the provider lacks the algorithm.
 */
const EVP_MD *mh_crypto__md(enum mh_crypto_hash alg);
EVP_MAC *mh_crypto__hmac_mac(void);
const EVP_CIPHER *mh_crypto__aes256gcm(void);

/* Discards OpenSSL's thread-local error queue so a later failure reports only its own cause. */
void mh_crypto__clear_errors(void);

/* Parses a decimal unix timestamp: 1..12 ASCII digits, no sign, no spaces. */
bool mh_crypto__parse_unix_ts(const char *s, size_t len, int64_t *out);

#endif
