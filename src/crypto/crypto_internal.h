/* SPDX-License-Identifier: MIT */
/*
 * Private to crypto. Algorithm handles fetched once per process, and small helpers the files of
 * src/crypto share. Nothing here is part of the module's API.
 */
#ifndef MH_CRYPTO_INTERNAL_H
#define MH_CRYPTO_INTERNAL_H

#include <openssl/evp.h>
#include <stdarg.h>

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

/* What a verifier's failure is, whatever the verifier (webhook signatures, JWT): the one place
 * a failure's kind becomes an error code. */
enum mh_crypto__fail_kind {
    MH_CRYPTO__REJECTED,   /* a verdict on the request: MH_EAUTH */
    MH_CRYPTO__BAD_CONFIG, /* the configuration cannot verify anything: MH_EINVAL */
    MH_CRYPTO__INTERNAL,   /* OpenSSL failed: MH_ECRYPTO */
};

/* Records the failure in `info` with `code` (the status's string) and the formatted message
 * (truncated to 200 bytes), and returns its error code. Never includes key material: callers pass
 * only names and counts. */
enum mh_err mh_crypto__vfail(struct mh_err_info *info, enum mh_crypto__fail_kind kind,
                             const char *code, const char *fmt, va_list ap) MH_PRINTF(4, 0);

/* Parses a decimal unix timestamp: 1..12 ASCII digits, no sign, no spaces. */
bool mh_crypto__parse_unix_ts(const char *s, size_t len, int64_t *out);

#endif
