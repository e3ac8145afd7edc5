/* SPDX-License-Identifier: MIT */
/*
 * Sign-in, sign-out, the current user, and optional public sign-up. A login always issues a
 * fresh random session token (so a token planted before login is worthless: no fixation), stores
 * only its SHA-256, and sets it in an HttpOnly, SameSite=Lax cookie. A wrong password, an
 * unknown account and a disabled account are indistinguishable — in message and, thanks to a
 * dummy argon2 verification, in time; a password too long to hash is refused before anything
 * looks at the account. The argon2 work runs without a database connection held, so a flood of
 * sign-ins cannot take the connections that API calls and workers need. Failed logins slow
 * further attempts (migrations/0013_login_delay.sql) rather than locking the account.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "users/users.h"

/* Throttling keys: "pair:<email>|<address>", "account:<email>", "ip:<address>". */
#define ADDR_MAX 64
#define KEY_MAX  (8 + MH_TEXT_EMAIL_MAX_BYTES + 1 + ADDR_MAX + 1)

/* Reads the password field: `min_chars` to 4,096 characters and at most
 * MH_CRYPTO_PASSWORD_MAX_LEN bytes, what the hasher takes. The byte limit is judged on the
 * input alone, the same for every account, before any lookup. */
static bool password_field(struct mh_api *api, json_t *body, size_t min_chars, const char **out)
{
    if (!mh_api_string(api, body, "password", true, min_chars, MH_CRYPTO_PASSWORD_MAX_LEN, out))
        return false;
    if (strlen(*out) > MH_CRYPTO_PASSWORD_MAX_LEN) {
        char msg[120];
        snprintf(msg, sizeof(msg), "'password' must be at most %u bytes long (in UTF-8)",
                 MH_CRYPTO_PASSWORD_MAX_LEN);
        mh_http_respond_error(api->req, 422, "invalid", msg, "/password");
        *out = NULL;
        return false;
    }
    return true;
}

static void set_session_cookie(struct mh_api *api, const char *token, long max_age_s)
{
    /* Secure when configured, or when a TLS-terminating proxy says the browser used https
     * (a client forging the header only makes its own cookie stricter). */
    const char *proto = mh_http_req_header(api->req, "X-Forwarded-Proto");
    bool is_secure = api->app->cfg->secure_cookies || (proto && strcasecmp(proto, "https") == 0);
    char cookie[256];
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%ld%s",
             MH_API_SESSION_COOKIE, token, max_age_s, is_secure ? "; Secure" : "");
    mh_http_set_header(api->req, "Set-Cookie", cookie);
}

struct login_keys {
    char pair[KEY_MAX];
    char account[KEY_MAX];
    char ip[KEY_MAX];
};

/* The throttle's wait and the account, read on a connection given back before hashing. */
struct login_lookup {
    long wait_s;
    const char *user_id; /* NULL: no such account */
    const char *hash;
    bool is_disabled;
};

static bool look_up(struct mh_api *api, const char *email, const struct login_keys *k,
                    struct login_lookup *out)
{
    const struct mh_config *cfg = api->app->cfg;
    char free_pair[16], free_wide[16], window[32];
    snprintf(free_pair, sizeof(free_pair), "%d", cfg->login_max_failures);
    snprintf(free_wide, sizeof(free_wide), "%d", cfg->login_max_failures * 10);
    snprintf(window, sizeof(window), "%d seconds", cfg->login_window_s);
    const char *ip = mh_http_req_remote_ip(api->req);
    const char *p[] = {k->pair, k->account, k->ip, free_pair, free_wide, window, email, ip};
    if (!mh_api_connect(api))
        return false;
    json_t *row =
        mh_api_query_row(api, "throttle",
                         "SELECT greatest(mh_login_delay($1, $4::int, $6::interval), "
                         "CASE WHEN mh_login_known_address($7, $8, interval '30 days') THEN 0 "
                         "ELSE mh_login_delay($2, $5::int, $6::interval) END, "
                         "mh_login_delay($3, $5::int, $6::interval)) AS wait, "
                         "u.id, u.password_hash, u.is_disabled "
                         "FROM (SELECT 1) one LEFT JOIN mh_auth_user_by_email($7) u ON true",
                         8, p);
    mh_api_close(api);
    if (row == NULL)
        return false;
    out->wait_s = (long)json_integer_value(json_object_get(row, "wait"));
    out->user_id = json_string_value(json_object_get(row, "id"));
    out->hash = json_string_value(json_object_get(row, "password_hash"));
    out->is_disabled = json_is_true(json_object_get(row, "is_disabled"));
    return true;
}

/* On the second connection: a failure counts under every key; a success clears the account's
 * keys (not the address's). */
static bool record_attempt(struct mh_api *api, const struct login_keys *k, bool is_success)
{
    char window[32];
    snprintf(window, sizeof(window), "%d seconds", api->app->cfg->login_window_s);
    const char *p[] = {k->pair, k->account, k->ip, window};
    if (is_success)
        return mh_api_query(api, "SELECT mh_login_succeeded(ARRAY[$1, $2])", 2, p) != NULL;
    return mh_api_query(api, "SELECT mh_login_failed(ARRAY[$1, $2, $3], $4::interval)", 4, p) !=
           NULL;
}

void mh_h_login(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    char *token = NULL;
    char *rehash = NULL;
    mh_api_prepare(&api, req, app);
    const struct mh_config *cfg = api.app->cfg;
    json_t *body = mh_api_body(&api);
    const char *password = NULL;
    char email[MH_TEXT_EMAIL_MAX_BYTES + 1];
    static const char *const fields[] = {"email", "password", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_email(&api, body, "email", email) || !password_field(&api, body, 1, &password))
        goto out;
    const char *ip = mh_http_req_remote_ip(req);
    struct login_keys keys;
    snprintf(keys.pair, sizeof(keys.pair), "pair:%s|%.*s", email, ADDR_MAX, ip);
    snprintf(keys.account, sizeof(keys.account), "account:%s", email);
    snprintf(keys.ip, sizeof(keys.ip), "ip:%.*s", ADDR_MAX, ip);

    struct login_lookup u = {0};
    if (!look_up(&api, email, &keys, &u))
        goto out;
    if (u.wait_s > 0) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", u.wait_s);
        mh_http_set_header(req, "Retry-After", ra);
        mh_http_respond_error(req, 429, "rate_limited",
                              "too many failed logins: try again after Retry-After seconds", NULL);
        goto out;
    }
    /* The argon2 work, with no connection held. */
    struct mh_crypto_argon2_params params;
    mh_users_password_params(cfg, &params);
    bool ok = false;
    if (u.user_id == NULL) {
        (void)mh_crypto_password_dummy_verify(password, strlen(password), &params);
    } else {
        ok = mh_crypto_password_verify(u.hash, password, strlen(password)) == MH_OK &&
             !u.is_disabled;
        if (ok && mh_crypto_password_needs_rehash(u.hash, &params) &&
            mh_crypto_password_hash(password, strlen(password), &params, &rehash) != MH_OK)
            rehash = NULL;
    }

    if (!mh_api_connect(&api))
        goto out;
    if (ok) {
        /* The account may have changed while the password was hashed: it must still be the
         * one verified (same hash, still enabled). */
        const char *ep[] = {email};
        json_t *now = mh_api_query(
            &api, "SELECT id, password_hash, is_disabled FROM mh_auth_user_by_email($1)", 1, ep);
        if (now == NULL)
            goto out;
        json_t *r = json_array_get(now, 0);
        const char *h = json_string_value(json_object_get(r, "password_hash"));
        ok = h && strcmp(h, u.hash) == 0 && !json_is_true(json_object_get(r, "is_disabled"));
    }
    if (!record_attempt(&api, &keys, ok))
        goto out;
    if (!ok) {
        if (mh_api_commit(&api))
            mh_http_respond_error(req, 401, "unauthenticated", "invalid e-mail or password", NULL);
        goto out;
    }
    const char *user_id = u.user_id;
    snprintf(api.who.user_id, sizeof(api.who.user_id), "%s", user_id);
    const char *sp[] = {user_id};
    if (!mh_api_query(&api, "SELECT set_config('meshhook.user_id', $1, true)", 1, sp))
        goto out;
    if (mh_crypto_token_b64url(32, &token) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    char hash_param[2 + 64 + 1] = "\\x";
    if (mh_crypto_sha256(token, strlen(token), h) != MH_OK)
        goto out;
    mh_crypto_hex_encode(h, sizeof(h), hash_param + 2);
    char max_age[32];
    snprintf(max_age, sizeof(max_age), "%d hours", cfg->session_max_hours);
    const char *ua = mh_http_req_header(req, "User-Agent");
    const char *ip_params[] = {user_id, hash_param, max_age, ip, ua};
    if (!mh_api_query(&api,
                      "INSERT INTO sessions (user_id, token_hash, expires_at, ip, user_agent) "
                      "VALUES ($1, $2::bytea, now() + $3::interval, $4, left($5, 512))",
                      5, ip_params))
        goto out;
    if (rehash) {
        const char *rp[] = {rehash};
        if (!mh_api_query(&api, "UPDATE users SET password_hash = $1 WHERE id = mh_uid()", 1, rp))
            goto out;
    }
    if (!mh_api_audit(&api, NULL, "auth.login", user_id, NULL))
        goto out;
    json_t *me =
        mh_api_query_row(&api, "user not found",
                         "SELECT id, email, display_name FROM users WHERE id = mh_uid()", 0, NULL);
    if (me == NULL || !mh_api_commit(&api))
        goto out;
    char csrf[44];
    mh_api_csrf_for(token, csrf);
    set_session_cookie(&api, token, (long)cfg->session_max_hours * 3600);
    mh_http_respond_json(req, 200, json_pack("{s:O, s:s}", "user", me, "csrf_token", csrf));
out:
    mh_crypto_free_secret_str(token);
    free(rehash);
    mh_api_close(&api);
}

void mh_h_logout(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!api.who.is_cookie) {
        mh_http_respond_error(req, 400, "bad_request",
                              "logout ends a browser session; revoke an API token with "
                              "DELETE /api/tokens/{id}",
                              NULL);
        goto out;
    }
    const char *params[] = {api.who.session_id};
    if (!mh_api_query(&api, "UPDATE sessions SET revoked_at = now() WHERE id = $1", 1, params) ||
        !mh_api_audit(&api, NULL, "auth.logout", api.who.user_id, NULL) || !mh_api_commit(&api))
        goto out;
    set_session_cookie(&api, "", 0);
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}

void mh_h_me(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *me = mh_api_query_row(
        &api, "user not found",
        "SELECT id, email, display_name, to_json(created_at) AS created_at FROM users "
        "WHERE id = mh_uid()",
        0, NULL);
    if (me == NULL)
        goto out;
    json_t *projects = mh_api_query(&api,
                                    "SELECT p.id, p.name, m.role FROM projects p JOIN memberships "
                                    "m ON m.project_id = p.id AND m.user_id = mh_uid() "
                                    "ORDER BY p.created_at, p.id",
                                    0, NULL);
    if (projects == NULL)
        goto out;
    json_t *out = json_pack("{s:O, s:O, s:s}", "user", me, "projects", projects, "auth",
                            api.who.is_cookie ? "session" : "api_token");
    if (api.who.is_cookie) {
        char csrf[44];
        mh_api_csrf_for(mh_http_req_cookie(req, MH_API_SESSION_COOKIE), csrf);
        json_object_set_new(out, "csrf_token", json_string(csrf));
    }
    mh_http_respond_json(req, 200, out);
out:
    mh_api_close(&api);
}

void mh_h_signup(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    char *hash = NULL;
    /* As for sign-in, the password is hashed before a connection is taken. */
    mh_api_prepare(&api, req, app);
    if (!api.app->cfg->allow_signup) {
        mh_http_respond_error(req, 403, "signup_disabled",
                              "public sign-up is disabled on this server; ask an administrator",
                              NULL);
        goto out;
    }
    json_t *body = mh_api_body(&api);
    const char *password = NULL, *name = NULL;
    char email[MH_TEXT_EMAIL_MAX_BYTES + 1];
    static const char *const fields[] = {"email", "password", "display_name", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_email(&api, body, "email", email) ||
        !password_field(&api, body, MH_USERS_MIN_PASSWORD_CHARS, &password) ||
        !mh_api_string(&api, body, "display_name", false, 0, 200, &name))
        goto out;
    if (!mh_text_is_email(email)) {
        mh_http_respond_error(req, 422, "invalid", "'email' is not an e-mail address", "/email");
        goto out;
    }
    if (mh_users_hash_password(api.app->cfg, password, &hash) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    char id[MH_CRYPTO_UUID_STR_LEN];
    char stored[MH_TEXT_EMAIL_MAX_BYTES * 3 + 1]; /* lower() may lengthen non-ASCII letters */
    if (!mh_api_connect(&api))
        goto out;
    api.info = (struct mh_err_info)MH_ERR_INFO_INIT;
    enum mh_err rc =
        mh_users_insert(api.conn, email, hash, name, id, stored, sizeof(stored), &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    if (!mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 201,
                         json_pack("{s:{s:s, s:s, s:s}}", "user", "id", id, "email", stored,
                                   "display_name", name ? name : ""));
out:
    free(hash);
    mh_api_close(&api);
}

/* Answers from the configuration alone, so it runs on the server's thread. */
void mh_h_auth_options(struct mh_http_req *req, void *app)
{
    const struct mh_app *a = app;
    mh_http_respond_json(req, 200, json_pack("{s:b}", "allow_signup", a->cfg->allow_signup));
}
