/* SPDX-License-Identifier: MIT */
/*
 * Envelope encryption of project secrets (docs/architecture.md §8). Each secret gets a fresh random
 * 256-bit data key (DEK); the value is sealed under the DEK with AES-256-GCM, and the DEK is
 * wrapped (also AES-256-GCM) under a key-encryption key (KEK) that lives outside the database, in a
 * file or the environment, and is named by a key id. The associated data binds every sealed value
 * to its (project id, secret name), so a row copied onto another row does not decrypt.
 *
 * Sealed blob, version 1 (all lengths in bytes; docs/internals/crypto.md explains each choice):
 *   off 0       1   version = 0x01
 *   off 1       1   n = length of the KEK id, 1..MH_CRYPTO_KEK_ID_MAX
 *   off 2       n   KEK id (ASCII [A-Za-z0-9._-])
 *   off 2+n     12  wrap nonce
 *   off 14+n    32  wrapped DEK (AES-256-GCM ciphertext of the DEK under the KEK)
 *   off 46+n    16  wrap tag
 *   off 62+n    12  value nonce
 *   off 74+n    16  value tag
 *   off 90+n    *   value ciphertext (as long as the plaintext)
 * AAD of the value: "meshhook/vault/v1/value\0" || be32(len P) || P || be32(len N) || N
 * AAD of the DEK:   "meshhook/vault/v1/dek\0" || n || KEK id || be32(len P) || P || be32(len N) ||
 * N where P is the project id and N the secret name. The value's AAD leaves out the KEK id so that
 * a KEK rotation re-wraps the DEK without touching the value's nonce, tag or ciphertext.
 *
 * Ownership and threading follow crypto.h. Every failure to authenticate is MH_ECRYPTO with
 * `info->kind` one of: "malformed", "unsupported-version", "unknown-kek", "unwrap-failed"
 * (wrong KEK bytes, a modified header, or the wrong project/name), "decrypt-failed" (a modified
 * value, nonce or tag). No message contains key material or plaintext.
 */
#ifndef MH_CRYPTO_VAULT_H
#define MH_CRYPTO_VAULT_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define MH_CRYPTO_KEK_LEN       32
#define MH_CRYPTO_KEK_ID_MAX    64
#define MH_CRYPTO_VAULT_VERSION 1
/* Largest secret value accepted by seal. */
#define MH_CRYPTO_VAULT_MAX_VALUE (1024 * 1024)
/* Longest project id or secret name (bytes). */
#define MH_CRYPTO_VAULT_MAX_LABEL 1024
/* Size of a blob holding a `value_len`-byte value under a KEK id of `id_len` bytes. */
#define MH_CRYPTO_VAULT_BLOB_LEN(id_len, value_len) ((size_t)(id_len) + 90 + (size_t)(value_len))

/* A key-encryption key: 32 secret bytes and a key id. Opaque; wiped on destroy. */
struct mh_crypto_kek;

/* From raw bytes. `id`: 1..64 characters of [A-Za-z0-9._-], else MH_EINVAL. */
MH_MUSTCHECK enum mh_err mh_crypto_kek_create(const char *id, const uint8_t key[MH_CRYPTO_KEK_LEN],
                                              struct mh_crypto_kek **out);
/*
 * From text, such as the value of MESHHOOK_KEK: "[<id>:]<material>", surrounding whitespace
 * ignored, where <material> is 32 bytes as 64 hex digits or as base64 (standard or URL-safe
 * alphabet, padded or not). Without "<id>:" the key gets `default_id` (NULL: MH_EINVAL).
 * Errors: MH_EINVAL with kind "bad-kek" (the message never quotes the text).
 */
MH_MUSTCHECK enum mh_err mh_crypto_kek_parse(const char *text, size_t len, const char *default_id,
                                             struct mh_crypto_kek **out, struct mh_err_info *info);
/*
 * From a file: exactly 32 bytes are taken as the raw key; anything else (at most 4 KiB) is
 * parsed as text like mh_crypto_kek_parse, with `default_id`. Logs a warning when the file is
 * readable by group or others. Errors: MH_EIO (cannot open or read; kind "io"), MH_EINVAL.
 */
MH_MUSTCHECK enum mh_err mh_crypto_kek_load_file(const char *path, const char *default_id,
                                                 struct mh_crypto_kek **out,
                                                 struct mh_err_info *info);
/* Borrowed, valid while the KEK lives. */
const char *mh_crypto_kek_id(const struct mh_crypto_kek *kek);
/* Wipes and frees; NULL-tolerant. */
void mh_crypto_kek_destroy(struct mh_crypto_kek *kek);
/*
 * A 32-byte key for another purpose, derived from the KEK: HMAC-SHA256(KEK, `label`), so that
 * the KEK itself never leaves this module and each purpose (`label`, such as "meshhook
 * callback tokens v1") gets an independent key. The caller wipes `out` when done.
 */
MH_MUSTCHECK enum mh_err mh_crypto_kek_derive(const struct mh_crypto_kek *kek, const char *label,
                                              uint8_t out[32]);

/*
 * Seals `value` (`value_len` bytes, at most MH_CRYPTO_VAULT_MAX_VALUE) for (`project_id`,
 * `name`) — non-empty strings of at most MH_CRYPTO_VAULT_MAX_LABEL bytes — under `kek`, with a
 * fresh DEK and nonces. `*blob` is new (free()), `*blob_len` its size. Errors: MH_EINVAL,
 * MH_ETOOBIG, MH_ECRYPTO (random or cipher failure).
 */
MH_MUSTCHECK enum mh_err mh_crypto_vault_seal(const struct mh_crypto_kek *kek,
                                              const char *project_id, const char *name,
                                              const void *value, size_t value_len, uint8_t **blob,
                                              size_t *blob_len, struct mh_err_info *info);
/*
 * Opens a blob sealed for (`project_id`, `name`), choosing the KEK whose id the blob names
 * among `keks` (`nkeks` borrowed keys, e.g. the current and the previous one during a
 * rotation). `*value` is new and NUL-terminated one byte past `*value_len` for convenience;
 * release it with mh_crypto_free_secret(*value, *value_len). Errors: MH_EINVAL (bad arguments),
 * MH_ECRYPTO (see the kinds above).
 */
MH_MUSTCHECK enum mh_err mh_crypto_vault_open(const struct mh_crypto_kek *const *keks, size_t nkeks,
                                              const char *project_id, const char *name,
                                              const uint8_t *blob, size_t blob_len, uint8_t **value,
                                              size_t *value_len, struct mh_err_info *info);
/*
 * KEK rotation for one blob: unwraps the DEK with `old_kek` (which must be the KEK the blob
 * names) and wraps it under `new_kek` (a different id) with a fresh nonce. The value's nonce,
 * tag and ciphertext are copied byte for byte; the value is not decrypted. `*new_blob` is new.
 * Errors: MH_EINVAL (bad arguments, same KEK id), MH_ECRYPTO (kinds above).
 */
MH_MUSTCHECK enum mh_err mh_crypto_vault_rewrap(const struct mh_crypto_kek *old_kek,
                                                const struct mh_crypto_kek *new_kek,
                                                const char *project_id, const char *name,
                                                const uint8_t *blob, size_t blob_len,
                                                uint8_t **new_blob, size_t *new_blob_len,
                                                struct mh_err_info *info);
/* Copies the KEK id a blob names into `out` (NUL-terminated). MH_ECRYPTO if malformed. */
MH_MUSTCHECK enum mh_err mh_crypto_vault_blob_kek_id(const uint8_t *blob, size_t blob_len,
                                                     char out[MH_CRYPTO_KEK_ID_MAX + 1]);

#endif
