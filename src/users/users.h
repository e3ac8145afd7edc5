/* SPDX-License-Identifier: MIT */
/*
 * Users: the one place a user is created and a new password is judged, for both the CLI
 * (`meshhook user create`) and public sign-up (POST /api/auth/signup). Above src/db and
 * src/crypto; below src/http and src/cli.
 */
#ifndef MH_USERS_USERS_H
#define MH_USERS_USERS_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"
#include "crypto/crypto.h"
#include "crypto/password.h"

struct mh_db_conn;

/* The shortest password a user may choose, in characters (Unicode code points), whoever creates
 * the account. The longest is MH_CRYPTO_PASSWORD_MAX_LEN bytes, what the hasher takes. */
#define MH_USERS_MIN_PASSWORD_CHARS 8

/* The number of characters (code points) of the UTF-8 string `s`. */
size_t mh_users_password_chars(const char *s);

/* The argon2id cost the configuration sets, for hashing and for judging a stored hash stale. */
void mh_users_password_params(const struct mh_config *cfg, struct mh_crypto_argon2_params *p);

/* Hashes `password` with argon2id at the configured cost (password_m_kib, password_t_cost,
 * password_parallelism). Slow by design: call it before taking a database connection. */
MH_MUSTCHECK enum mh_err mh_users_hash_password(const struct mh_config *cfg, const char *password,
                                                char **out);

/*
 * Inserts a user with an argon2id `password_hash` on `c` (in its open transaction, if any). The id
 * is chosen here, since the new row is not readable by the application role until someone signs
 * in as it: written to `id`. The database lower-cases the address (its lower() knows capitals
 * outside ASCII); the stored form goes to `stored_email` (`cap` bytes). MH_ECONFLICT when the
 * address is taken; other database errors as mh_db_query reports them.
 */
MH_MUSTCHECK enum mh_err mh_users_insert(struct mh_db_conn *c, const char *email,
                                         const char *password_hash, const char *display_name,
                                         char id[MH_CRYPTO_UUID_STR_LEN], char *stored_email,
                                         size_t cap, struct mh_err_info *info);

#endif
