/* SPDX-License-Identifier: MIT */
#include "users/users.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"

size_t mh_users_password_chars(const char *s)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80)
            chars++;
    return chars;
}

void mh_users_password_params(const struct mh_config *cfg, struct mh_crypto_argon2_params *p)
{
    p->m_cost_kib = (uint32_t)cfg->password_m_kib;
    p->t_cost = (uint32_t)cfg->password_t_cost;
    p->parallelism = (uint32_t)cfg->password_parallelism;
}

enum mh_err mh_users_hash_password(const struct mh_config *cfg, const char *password, char **out)
{
    struct mh_crypto_argon2_params p;
    mh_users_password_params(cfg, &p);
    return mh_crypto_password_hash(password, strlen(password), &p, out);
}

enum mh_err mh_users_insert(struct mh_db_conn *c, const char *email, const char *password_hash,
                            const char *display_name, char id[MH_CRYPTO_UUID_STR_LEN],
                            char *stored_email, size_t cap, struct mh_err_info *info)
{
    enum mh_err rc = mh_crypto_uuid4(id);
    if (rc != MH_OK)
        return mh_err_set(info, rc, "internal", -1, "could not draw a user id");
    const char *params[] = {id, email, password_hash, display_name ? display_name : ""};
    rc = mh_db_query(c,
                     "INSERT INTO users (id, email, password_hash, display_name) "
                     "VALUES ($1, lower($2), $3, $4)",
                     4, params, NULL, NULL, info);
    if (rc != MH_OK)
        return rc;
    json_t *row = NULL;
    rc = mh_db_query_row(c, "SELECT lower($1) AS email", 1, params + 1, &row, info);
    if (rc == MH_OK) {
        const char *stored = json_string_value(json_object_get(row, "email"));
        snprintf(stored_email, cap, "%s", stored ? stored : email);
    }
    json_decref(row);
    return rc;
}
