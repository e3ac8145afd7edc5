/* SPDX-License-Identifier: MIT */
/*
 * Sign-in, sign-out, the current user, and optional public sign-up. A login always issues a
 * fresh random session token (so a token planted before login is worthless: no fixation), stores
 * only its SHA-256, and sets it in an HttpOnly, SameSite=Lax cookie. Failed logins are counted
 * per account and per IP address in the database, shared by every instance, and a wrong
 * password, an unknown account and a disabled account are indistinguishable — in message and,
 * thanks to a dummy argon2 verification, in time.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/text.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "http/api.h"
#include "http/handlers/handlers.h"

static void password_params(const struct mh_config *cfg, struct mh_crypto_argon2_params *p)
{
    p->m_cost_kib = (uint32_t)cfg->password_m_kib;
    p->t_cost = (uint32_t)cfg->password_t_cost;
    p->parallelism = (uint32_t)cfg->password_parallelism;
}

enum mh_err mh_h_hash_password(const struct mh_config *cfg, const char *password, char **out)
{
    struct mh_crypto_argon2_params p;
    password_params(cfg, &p);
    return mh_crypto_password_hash(password, strlen(password), &p, out);
}

static void record_attempt(struct mh_api *api, const char *account_key, const char *ip_key,
                           bool is_success)
{
    char window[32];
    snprintf(window, sizeof(window), "%d seconds", api->app->cfg->login_window_s);
    const char *params[] = {account_key, ip_key, is_success ? "true" : "false", window};
    /* A success clears the account's count but not the address's. */
    (void)mh_api_query(api,
                       "SELECT mh_login_record($1, $3::boolean, $4::interval), "
                       "CASE WHEN $3::boolean THEN NULL "
                       "ELSE mh_login_record($2, false, $4::interval) END",
                       4, params);
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

void mh_h_login(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    char *token = NULL;
    char *rehash = NULL;
    if (!mh_api_open(&api, req, app, MH_API_PUBLIC))
        return;
    const struct mh_config *cfg = api.app->cfg;
    json_t *body = mh_api_body(&api);
    const char *email_in = NULL, *password = NULL;
    static const char *const fields[] = {"email", "password", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "email", true, 3, 320, &email_in) ||
        !mh_api_string(&api, body, "password", true, 1, 4096, &password))
        goto out;
    char email[328];
    (void)mh_text_lower(email_in, email, sizeof(email));
    char account_key[340], ip_key[80];
    snprintf(account_key, sizeof(account_key), "account:%s", email);
    snprintf(ip_key, sizeof(ip_key), "ip:%s", mh_http_req_remote_ip(req));
    char max_acc[16], max_ip[16], window[32];
    snprintf(max_acc, sizeof(max_acc), "%d", cfg->login_max_failures);
    snprintf(max_ip, sizeof(max_ip), "%d", cfg->login_max_failures * 10);
    snprintf(window, sizeof(window), "%d seconds", cfg->login_window_s);
    const char *wp[] = {account_key, ip_key, max_acc, max_ip, window};
    json_t *w = mh_api_query_row(&api, "throttle",
                                 "SELECT greatest(mh_login_wait($1, $3::int, $5::interval), "
                                 "mh_login_wait($2, $4::int, $5::interval)) AS wait",
                                 5, wp);
    if (w == NULL)
        goto out;
    long wait = (long)json_integer_value(json_object_get(w, "wait"));
    if (wait > 0) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld", wait);
        mh_http_set_header(req, "Retry-After", ra);
        mh_http_respond_error(req, 429, "rate_limited", "too many failed logins: try again later",
                              NULL);
        goto out;
    }
    const char *ep[] = {email};
    json_t *users = mh_api_query(
        &api, "SELECT id, password_hash, is_disabled FROM mh_auth_user_by_email($1)", 1, ep);
    if (users == NULL)
        goto out;
    json_t *u = json_array_get(users, 0);
    struct mh_crypto_argon2_params params;
    password_params(cfg, &params);
    bool ok = false;
    if (u == NULL) {
        mh_crypto_password_dummy_verify(password, strlen(password), &params);
    } else {
        const char *hash = json_string_value(json_object_get(u, "password_hash"));
        ok = mh_crypto_password_verify(hash, password, strlen(password)) == MH_OK &&
             !json_is_true(json_object_get(u, "is_disabled"));
        if (ok && mh_crypto_password_needs_rehash(hash, &params) &&
            mh_crypto_password_hash(password, strlen(password), &params, &rehash) != MH_OK)
            rehash = NULL;
    }
    record_attempt(&api, account_key, ip_key, ok);
    if (mh_http_req_has_responded(req))
        goto out;
    if (!ok) {
        if (mh_api_commit(&api))
            mh_http_respond_error(req, 401, "unauthenticated", "invalid e-mail or password", NULL);
        goto out;
    }
    const char *user_id = json_string_value(json_object_get(u, "id"));
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
    const char *ip = mh_http_req_remote_ip(req);
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
    if (!mh_api_open(&api, req, app, MH_API_PUBLIC))
        return;
    if (!api.app->cfg->allow_signup) {
        mh_http_respond_error(req, 403, "signup_disabled",
                              "public sign-up is disabled on this server; ask an administrator",
                              NULL);
        goto out;
    }
    json_t *body = mh_api_body(&api);
    const char *email_in = NULL, *password = NULL, *name = NULL;
    static const char *const fields[] = {"email", "password", "display_name", NULL};
    if (!body || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "email", true, 3, 320, &email_in) ||
        !mh_api_string(&api, body, "password", true, MH_H_MIN_PASSWORD, 4096, &password) ||
        !mh_api_string(&api, body, "display_name", false, 0, 200, &name))
        goto out;
    char email[328];
    (void)mh_text_lower(email_in, email, sizeof(email));
    if (!mh_text_is_email(email)) {
        mh_http_respond_error(req, 422, "invalid", "'email' is not an e-mail address", "/email");
        goto out;
    }
    if (mh_h_hash_password(api.app->cfg, password, &hash) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    /* The id is chosen here: nobody may read the new row back until they sign in as it. */
    char id[MH_CRYPTO_UUID_STR_LEN];
    if (mh_crypto_uuid4(id) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    const char *params[] = {id, email, hash, name ? name : ""};
    if (!mh_api_query(&api,
                      "INSERT INTO users (id, email, password_hash, display_name) "
                      "VALUES ($1, $2, $3, $4)",
                      4, params))
        goto out;
    if (!mh_api_commit(&api))
        goto out;
    mh_http_respond_json(req, 201,
                         json_pack("{s:{s:s, s:s, s:s}}", "user", "id", id, "email", email,
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
