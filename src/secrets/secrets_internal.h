/* SPDX-License-Identifier: MIT */
/* Private to secrets: helpers shared by the files of src/secrets. */
#ifndef MH_SECRETS_INTERNAL_H
#define MH_SECRETS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Decodes PostgreSQL bytea text ("\x<hex>") into a new buffer (*out, free()) of *len bytes.
 * MH_ECRYPTO with kind "malformed" for anything else. */
MH_MUSTCHECK enum mh_err mh_secrets__bytea_decode(const char *text, uint8_t **out, size_t *len,
                                                  struct mh_err_info *info);
/* Encodes `len` bytes as bytea text into a new string (free()). */
char *mh_secrets__bytea_encode(const uint8_t *data, size_t len);

#endif
