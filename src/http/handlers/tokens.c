/* SPDX-License-Identifier: MIT */
/*
 * Personal API tokens for the CLI and CI: `mh_` followed by 256 random bits, shown once at
 * creation; only the SHA-256 is stored, with a display prefix, optional expiry, the last use,
 * and revocation. A token acts with its user's rights.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "http/api.h"
#include "http/handlers/handlers.h"

void mh_h_tokens_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_page(&api, &page))
        goto out;
    mh_api_respond_list(
        &api, &page,
        "SELECT id, name, prefix, to_json(created_at) AS created_at, to_json(expires_at) AS "
        "expires_at, to_json(last_used_at) AS last_used_at, to_json(revoked_at) AS revoked_at "
        "FROM api_tokens t WHERE t.user_id = mh_uid() AND ($2::timestamptz IS NULL OR "
        "(t.created_at, t.id) < ($2::timestamptz, $3::uuid)) "
        "ORDER BY t.created_at DESC, t.id DESC LIMIT $1::int",
        0, NULL, "created_at", "id");
out:
    mh_api_close(&api);
}

void mh_h_tokens_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    char *raw = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *body = mh_api_body(&api);
    const char *name = NULL;
    long days = 0;
    static const char *const fields[] = {"name", "expires_in_days", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "name", true, 1, 200, &name) ||
        !mh_api_int(&api, body, "expires_in_days", 1, 3650, &days))
        goto out;
    if (mh_crypto_token_b64url(32, &raw) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    char token[64];
    snprintf(token, sizeof(token), "%s%s", MH_API_TOKEN_PREFIX, raw);
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    char hash_param[2 + 64 + 1] = "\\x";
    if (mh_crypto_sha256(token, strlen(token), h) != MH_OK)
        goto out;
    mh_crypto_hex_encode(h, sizeof(h), hash_param + 2);
    char prefix[12], days_s[16];
    snprintf(prefix, sizeof(prefix), "%.10s", token);
    snprintf(days_s, sizeof(days_s), "%ld", days);
    const char *params[] = {name, hash_param, prefix, days ? days_s : NULL};
    json_t *row = mh_api_query_row(
        &api, "token not created",
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at) VALUES (mh_uid(), "
        "$1, $2::bytea, $3, now() + make_interval(days => $4::int)) RETURNING id, name, prefix, "
        "to_json(created_at) AS created_at, to_json(expires_at) AS expires_at",
        4, params);
    if (row == NULL ||
        !mh_api_audit(&api, NULL, "token.create", json_string_value(json_object_get(row, "id")),
                      NULL) ||
        !mh_api_commit(&api))
        goto out;
    json_t *outv = json_deep_copy(row);
    json_object_set_new(outv, "token", json_string(token));
    mh_crypto_wipe(token, sizeof(token));
    mh_http_respond_json(req, 201, outv);
out:
    mh_crypto_free_secret_str(raw);
    mh_api_close(&api);
}

void mh_h_tokens_revoke(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *id = mh_http_req_param(req, "token_id");
    if (!mh_api_is_uuid(id)) {
        mh_http_respond_error(req, 404, "not_found", "token not found", NULL);
        goto out;
    }
    const char *params[] = {id};
    if (!mh_api_query_row(&api, "token not found",
                          "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) "
                          "WHERE id = $1 AND user_id = mh_uid() RETURNING id",
                          1, params) ||
        !mh_api_audit(&api, NULL, "token.revoke", id, NULL) || !mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}
