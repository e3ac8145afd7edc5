/* SPDX-License-Identifier: MIT */
/*
 * Password hashing with argon2id (libargon2), stored as PHC strings:
 *   $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt, base64 no pad>$<hash, base64 no pad>
 * The parameters travel inside the string, so a policy change only needs new hashes to be
 * written (see mh_crypto_password_needs_rehash) while old ones keep verifying.
 *
 * Ownership and threading follow crypto.h. Every call runs argon2 and is deliberately slow
 * (tens of milliseconds and m_cost_kib of memory at the defaults): never call it on an event
 * loop thread.
 */
#ifndef MH_CRYPTO_PASSWORD_H
#define MH_CRYPTO_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* OWASP's minimum argon2id configuration (Password Storage Cheat Sheet): 19 MiB, 2 passes. */
#define MH_CRYPTO_ARGON2_DEFAULT_M_KIB 19456
#define MH_CRYPTO_ARGON2_DEFAULT_T     2
#define MH_CRYPTO_ARGON2_DEFAULT_P     1

/*
 * Limits applied both to the caller's parameters and to parameters read back from a stored
 * string, so that a tampered row cannot make one login allocate gigabytes or spin for minutes.
 */
#define MH_CRYPTO_ARGON2_MAX_M_KIB       (1024u * 1024u) /* 1 GiB */
#define MH_CRYPTO_ARGON2_MAX_T           64u
#define MH_CRYPTO_ARGON2_MAX_P           64u
#define MH_CRYPTO_PASSWORD_MAX_LEN       4096u
#define MH_CRYPTO_ARGON2_SALT_LEN        16u
#define MH_CRYPTO_ARGON2_HASH_LEN        32u
#define MH_CRYPTO_ARGON2_MAX_ENCODED_LEN 256u

struct mh_crypto_argon2_params {
    uint32_t t_cost;      /* Passes over memory, 1..MH_CRYPTO_ARGON2_MAX_T. */
    uint32_t m_cost_kib;  /* Memory in KiB, 8*parallelism..MH_CRYPTO_ARGON2_MAX_M_KIB. */
    uint32_t parallelism; /* Lanes, 1..MH_CRYPTO_ARGON2_MAX_P. */
};

/* Fills `p` with the defaults above. */
void mh_crypto_argon2_params_default(struct mh_crypto_argon2_params *p);

/*
 * Hashes `password` (`len` bytes, any content, up to MH_CRYPTO_PASSWORD_MAX_LEN) with a fresh
 * 16-byte random salt and `params` (NULL: the defaults) into a new PHC string in `*encoded`.
 * Errors: MH_EINVAL (parameters out of range), MH_ETOOBIG (password too long), MH_ENOMEM
 * (argon2 could not allocate m_cost_kib), MH_ECRYPTO.
 */
MH_MUSTCHECK enum mh_err mh_crypto_password_hash(const char *password, size_t len,
                                                 const struct mh_crypto_argon2_params *params,
                                                 char **encoded);

/*
 * Checks `password` against a stored PHC string, using the parameters and salt it carries and a
 * constant-time comparison of the derived hash. Returns MH_OK on a match, MH_EAUTH on a
 * mismatch, MH_EINVAL when `encoded` is not an argon2id v=19 string within the limits,
 * MH_ETOOBIG for an over-long password, MH_ENOMEM or MH_ECRYPTO.
 */
MH_MUSTCHECK enum mh_err mh_crypto_password_verify(const char *encoded, const char *password,
                                                   size_t len);

/*
 * Spends the time of one verification without a stored hash: call it when the user does not
 * exist, so that the response time does not reveal which accounts exist. `params` (NULL: the
 * defaults) should be the current policy, i.e. what real hashes are being written with. Does
 * exactly the work mh_crypto_password_verify would, and returns what it would for a wrong
 * password: MH_ETOOBIG at once, without hashing, for a password over
 * MH_CRYPTO_PASSWORD_MAX_LEN (as verify refuses it), MH_EAUTH otherwise.
 */
enum mh_err mh_crypto_password_dummy_verify(const char *password, size_t len,
                                            const struct mh_crypto_argon2_params *params);

/*
 * True when `encoded` should be replaced by a fresh hash at the next successful login: it is
 * unparsable, not argon2id v=19, or its m/t/p, salt or hash length differ from `params` (NULL:
 * the defaults) and the standard lengths.
 */
bool mh_crypto_password_needs_rehash(const char *encoded,
                                     const struct mh_crypto_argon2_params *params);

#endif
