/* SPDX-License-Identifier: MIT */
/*
 * Handler toolkit (see api.h). Authentication happens before the request's transaction, through
 * the SECURITY DEFINER lookups of migrations/0002_identity.sql, which return only a user id for
 * a token hash; the transaction then carries that id and the database applies the policies.
 * Tokens are 256-bit random values; only their SHA-256 is stored, so a database leak yields no
 * usable credential.
 */
#include "http/api.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "secrets/secrets.h"

/* 32 random bytes in unpadded base64url. */
#define TOKEN_B64_LEN 43

static void show_in(const struct mh_privacy_view *v, json_t *obj, const char *const *members);

static void decref_void(void *p)
{
    json_decref(p);
}

static bool is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* "\x<hex of sha256(token)>" for a bytea parameter. */
static void token_hash_param(const char *token, char out[2 + 64 + 1])
{
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    if (mh_crypto_sha256(token, strlen(token), h) != MH_OK)
        memset(h, 0, sizeof(h));
    out[0] = '\\';
    out[1] = 'x';
    mh_crypto_hex_encode(h, sizeof(h), out + 2);
}

void mh_api_csrf_for(const char *session_token, char out[44])
{
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    static const char label[] = "meshhook-csrf-v1";
    if (mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, session_token, strlen(session_token), label,
                       sizeof(label) - 1, mac) != MH_OK)
        memset(mac, 0, sizeof(mac));
    mh_crypto_b64_encode(MH_CRYPTO_B64_URL_NOPAD, mac, sizeof(mac), out);
}

static void unauthorized(struct mh_api *api, const char *message)
{
    mh_http_set_header(api->req, "WWW-Authenticate", "Bearer realm=\"meshhook\"");
    mh_http_respond_error(api->req, 401, "unauthenticated", message, NULL);
}

static bool is_unsafe_method(const char *m)
{
    return !(strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0 || strcmp(m, "OPTIONS") == 0);
}

static bool authenticate(struct mh_api *api)
{
    const char *authz = mh_http_req_header(api->req, "Authorization");
    const char *cookie = mh_http_req_cookie(api->req, MH_API_SESSION_COOKIE);
    char hash[67];
    json_t *rows = NULL;
    if (authz) {
        const char *tok = NULL;
        if (strncasecmp(authz, "Bearer ", 7) == 0)
            tok = authz + 7;
        size_t plen = strlen(MH_API_TOKEN_PREFIX);
        if (tok == NULL || strncmp(tok, MH_API_TOKEN_PREFIX, plen) != 0 ||
            strlen(tok) != plen + TOKEN_B64_LEN || !is_b64url(tok + plen, TOKEN_B64_LEN)) {
            unauthorized(api, "malformed Authorization header: expected 'Bearer mh_...'");
            return false;
        }
        token_hash_param(tok, hash);
        const char *params[] = {hash};
        rows = mh_api_query(api, "SELECT token_id, user_id FROM mh_auth_api_token($1::bytea)", 1,
                            params);
        if (rows == NULL)
            return false;
        if (json_array_size(rows) != 1) {
            unauthorized(api, "invalid, expired or revoked API token");
            return false;
        }
        json_t *r = json_array_get(rows, 0);
        snprintf(api->who.token_id, sizeof(api->who.token_id), "%s",
                 json_string_value(json_object_get(r, "token_id")));
        snprintf(api->who.user_id, sizeof(api->who.user_id), "%s",
                 json_string_value(json_object_get(r, "user_id")));
        return true;
    }
    if (cookie == NULL) {
        unauthorized(api, "authentication required");
        return false;
    }
    if (strlen(cookie) != TOKEN_B64_LEN || !is_b64url(cookie, TOKEN_B64_LEN)) {
        unauthorized(api, "malformed session cookie");
        return false;
    }
    token_hash_param(cookie, hash);
    char idle[32];
    snprintf(idle, sizeof(idle), "%d minutes", api->app->cfg->session_idle_minutes);
    const char *params[] = {hash, idle};
    rows = mh_api_query(
        api, "SELECT session_id, user_id FROM mh_auth_session($1::bytea, $2::interval)", 2, params);
    if (rows == NULL)
        return false;
    if (json_array_size(rows) != 1) {
        unauthorized(api, "session expired or revoked: log in again");
        return false;
    }
    json_t *r = json_array_get(rows, 0);
    snprintf(api->who.session_id, sizeof(api->who.session_id), "%s",
             json_string_value(json_object_get(r, "session_id")));
    snprintf(api->who.user_id, sizeof(api->who.user_id), "%s",
             json_string_value(json_object_get(r, "user_id")));
    api->who.is_cookie = true;
    /* Cookies ride along on cross-site requests; a custom header cannot be set cross-site
     * without CORS, which MeshHook never grants, and its value is bound to the session. */
    if (is_unsafe_method(mh_http_req_method(api->req))) {
        const char *sent = mh_http_req_header(api->req, "X-CSRF-Token");
        char want[44];
        mh_api_csrf_for(cookie, want);
        if (sent == NULL || strlen(sent) != strlen(want) ||
            !mh_crypto_ct_equal(sent, want, strlen(want))) {
            mh_http_respond_error(api->req, 403, "csrf",
                                  "missing or invalid X-CSRF-Token header for a cookie-"
                                  "authenticated write",
                                  NULL);
            return false;
        }
    }
    return true;
}

void mh_api_prepare(struct mh_api *api, struct mh_http_req *req, void *app)
{
    memset(api, 0, sizeof(*api));
    api->req = req;
    api->app = app;
    api->info = (struct mh_err_info)MH_ERR_INFO_INIT;
}

bool mh_api_connect(struct mh_api *api)
{
    MH_ASSERT(api->conn == NULL && !api->who.user_id[0]);
    api->info = (struct mh_err_info)MH_ERR_INFO_INIT;
    enum mh_err rc = mh_db_acquire(api->app->pool, &api->conn, &api->info);
    if (rc == MH_OK)
        rc = mh_db_begin(api->conn, NULL, NULL, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &api->info);
        mh_api_close(api);
        return false;
    }
    api->in_tx = true;
    return true;
}

bool mh_api_open(struct mh_api *api, struct mh_http_req *req, void *app, enum mh_api_auth auth)
{
    mh_api_prepare(api, req, app);
    enum mh_err rc = mh_db_acquire(api->app->pool, &api->conn, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api->info);
        return false;
    }
    if (auth == MH_API_AUTH && !authenticate(api)) {
        mh_api_close(api);
        return false;
    }
    rc = mh_db_begin(api->conn, api->who.user_id[0] ? api->who.user_id : NULL, NULL, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api->info);
        mh_api_close(api);
        return false;
    }
    api->in_tx = true;
    return true;
}

bool mh_api_commit(struct mh_api *api)
{
    api->in_tx = false;
    enum mh_err rc = mh_db_commit(api->conn, &api->info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &api->info);
        return false;
    }
    return true;
}

void mh_api_close(struct mh_api *api)
{
    mh_secrets_privacy_view_destroy(api->privacy);
    api->privacy = NULL;
    if (api->conn == NULL)
        return;
    if (api->in_tx)
        mh_db_rollback(api->conn);
    api->in_tx = false;
    mh_db_release(api->conn);
    api->conn = NULL;
}

json_t *mh_api_query(struct mh_api *api, const char *sql, int nparams, const char *const *params)
{
    json_t *rows = NULL;
    api->info = (struct mh_err_info)MH_ERR_INFO_INIT;
    enum mh_err rc = mh_db_query(api->conn, sql, nparams, params, &rows, NULL, &api->info);
    if (rc != MH_OK) {
        /* A database error's detail goes to the log, not to the client (mh_http_respond_err). */
        mh_http_respond_err(api->req, rc, &api->info);
        return NULL;
    }
    mh_arena_defer(mh_http_req_arena(api->req), decref_void, rows);
    return rows;
}

json_t *mh_api_query_row(struct mh_api *api, const char *what, const char *sql, int nparams,
                         const char *const *params)
{
    json_t *rows = mh_api_query(api, sql, nparams, params);
    if (rows == NULL)
        return NULL;
    if (json_array_size(rows) == 0) {
        mh_http_respond_error(api->req, 404, "not_found", what, NULL);
        return NULL;
    }
    return json_array_get(rows, 0);
}

int mh_api_role_rank(const char *role)
{
    static const char *const roles[] = {"viewer", "editor", "admin", "owner"};
    for (int i = 0; i < 4; i++)
        if (role && strcmp(role, roles[i]) == 0)
            return i + 1;
    return 0;
}

bool mh_api_is_uuid(const char *s)
{
    if (s == NULL || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

bool mh_api_require_role(struct mh_api *api, const char *project_id, const char *min_role,
                         const char **role_out)
{
    if (!mh_api_is_uuid(project_id)) {
        mh_http_respond_error(api->req, 404, "not_found", "project not found", NULL);
        return false;
    }
    const char *params[] = {project_id};
    json_t *row = mh_api_query_row(
        api, "project not found",
        "SELECT role FROM memberships WHERE project_id = $1 AND user_id = mh_uid()", 1, params);
    if (row == NULL)
        return false;
    const char *role = json_string_value(json_object_get(row, "role"));
    if (mh_api_role_rank(role) < mh_api_role_rank(min_role)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "this requires the %s role in the project; you are %s", min_role,
                 role);
        mh_http_respond_error(api->req, 403, "forbidden", msg, NULL);
        return false;
    }
    if (role_out) {
        static const char *const roles[] = {"viewer", "editor", "admin", "owner"};
        *role_out = roles[mh_api_role_rank(role) - 1];
    }
    return true;
}

json_t *mh_api_body(struct mh_api *api)
{
    return mh_http_req_json_body(api->req);
}

static void invalid_field(struct mh_api *api, const char *name, const char *message)
{
    char path[160];
    snprintf(path, sizeof(path), "/%s", name);
    mh_http_respond_error(api->req, 422, "invalid", message, path);
}

bool mh_api_string(struct mh_api *api, json_t *obj, const char *name, bool is_required,
                   size_t min_len, size_t max_len, const char **out)
{
    json_t *v = json_object_get(obj, name);
    char msg[200];
    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (!is_required)
            return true;
        snprintf(msg, sizeof(msg), "'%s' is required", name);
        invalid_field(api, name, msg);
        return false;
    }
    if (!json_is_string(v)) {
        snprintf(msg, sizeof(msg), "'%s' must be a string", name);
        invalid_field(api, name, msg);
        return false;
    }
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (strlen(s) != len) {
        snprintf(msg, sizeof(msg), "'%s' must not contain NUL characters", name);
        invalid_field(api, name, msg);
        return false;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            chars++;
    if (chars < min_len || chars > max_len) {
        snprintf(msg, sizeof(msg), "'%s' must be %zu to %zu characters long", name, min_len,
                 max_len);
        invalid_field(api, name, msg);
        return false;
    }
    *out = s;
    return true;
}

bool mh_api_email(struct mh_api *api, json_t *obj, const char *name,
                  char out[MH_TEXT_EMAIL_MAX_BYTES + 1])
{
    const char *in = NULL;
    out[0] = '\0';
    if (!mh_api_string(api, obj, name, true, 3, MH_TEXT_EMAIL_MAX_BYTES, &in))
        return false;
    /* 320 characters may be up to 1,280 bytes: the byte limit is checked, never assumed. */
    if (!mh_text_lower(in, out, MH_TEXT_EMAIL_MAX_BYTES + 1)) {
        char msg[200];
        snprintf(msg, sizeof(msg), "'%s' must be at most %d bytes long (in UTF-8)", name,
                 MH_TEXT_EMAIL_MAX_BYTES);
        invalid_field(api, name, msg);
        out[0] = '\0';
        return false;
    }
    return true;
}

bool mh_api_int(struct mh_api *api, json_t *obj, const char *name, long min, long max, long *out)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL || json_is_null(v))
        return true;
    char msg[200];
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        snprintf(msg, sizeof(msg), "'%s' must be an integer from %ld to %ld", name, min, max);
        invalid_field(api, name, msg);
        return false;
    }
    *out = (long)json_integer_value(v);
    return true;
}

bool mh_api_only_fields(struct mh_api *api, json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], key) == 0;
        if (!ok) {
            char msg[200];
            snprintf(msg, sizeof(msg), "unknown field '%.100s'", key);
            invalid_field(api, key, msg);
            return false;
        }
    }
    return true;
}

/* Consumes `n` digits of `*s` into *v; false when they are not all there. */
static bool digits(const char **s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return false;
        *v = *v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return true;
}

bool mh_api_is_time(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (s == NULL || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' ||
        !digits(&s, 2, &d) || y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    if (*s == '\0')
        return true;
    if ((*s != 'T' && *s != 't' && *s != ' ') || (s++, !digits(&s, 2, &h)) || *s++ != ':' ||
        !digits(&s, 2, &mi) || h > 23 || mi > 59)
        return false;
    if (*s == ':') {
        s++;
        if (!digits(&s, 2, &sec) || sec > 60)
            return false;
        if (*s == '.') {
            int n = 0;
            for (s++; isdigit((unsigned char)*s); s++)
                n++;
            if (n < 1 || n > 9)
                return false;
        }
    }
    if (*s == 'Z' || *s == 'z')
        return s[1] == '\0';
    if (*s == '+' || *s == '-') {
        s++;
        if (!digits(&s, 2, &h) || h > 23)
            return false;
        if (*s == ':')
            s++;
        if (*s != '\0' && (!digits(&s, 2, &mi) || mi > 59))
            return false;
    }
    return *s == '\0';
}

static const char *query_value(struct mh_api *api, const char *name)
{
    const char *v = mh_http_req_query(api->req, name);
    return v && v[0] ? v : NULL;
}

bool mh_api_query_uuid(struct mh_api *api, const char *name, const char **out)
{
    *out = query_value(api, name);
    if (*out == NULL || mh_api_is_uuid(*out))
        return true;
    char msg[96], path[64];
    snprintf(msg, sizeof(msg), "%s must be a UUID", name);
    snprintf(path, sizeof(path), "?%s", name);
    mh_http_respond_error(api->req, 422, "invalid", msg, path);
    return false;
}

bool mh_api_query_time(struct mh_api *api, const char *name, const char **out)
{
    *out = query_value(api, name);
    if (*out == NULL || mh_api_is_time(*out))
        return true;
    char msg[128], path[64];
    snprintf(msg, sizeof(msg), "%s must be a time such as 2026-01-31T12:00:00Z", name);
    snprintf(path, sizeof(path), "?%s", name);
    mh_http_respond_error(api->req, 422, "invalid", msg, path);
    return false;
}

bool mh_api_query_enum(struct mh_api *api, const char *name, const char *const *allowed,
                       const char **out)
{
    *out = query_value(api, name);
    if (*out == NULL)
        return true;
    char msg[256], path[64];
    int n = snprintf(msg, sizeof(msg), "%s must be one of", name);
    for (size_t i = 0; allowed[i]; i++) {
        if (strcmp(*out, allowed[i]) == 0)
            return true;
        if (n > 0 && (size_t)n < sizeof(msg))
            n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%s %s", i ? "," : ":", allowed[i]);
    }
    snprintf(path, sizeof(path), "?%s", name);
    mh_http_respond_error(api->req, 422, "invalid", msg, path);
    return false;
}

bool mh_api_page(struct mh_api *api, struct mh_api_page *page)
{
    page->limit = 50;
    page->after_key = NULL;
    page->after_id = NULL;
    const char *limit = mh_http_req_query(api->req, "limit");
    if (limit) {
        char *end = NULL;
        long n = strtol(limit, &end, 10);
        if (end == limit || *end != '\0' || n < 1 || n > 200) {
            mh_http_respond_error(api->req, 422, "invalid", "limit must be from 1 to 200",
                                  "?limit");
            return false;
        }
        page->limit = n;
    }
    const char *cursor = mh_http_req_query(api->req, "cursor");
    if (cursor && cursor[0]) {
        char buf[MH_API_CURSOR_MAX_RAW + 1];
        const char *key = NULL, *id = NULL;
        if (!mh_api_cursor_decode(cursor, buf, &key, &id)) {
            mh_http_respond_error(api->req, 422, "invalid", "malformed cursor", "?cursor");
            return false;
        }
        struct mh_arena *a = mh_http_req_arena(api->req);
        page->after_key = mh_arena_strdup(a, key);
        page->after_id = mh_arena_strdup(a, id);
    }
    return true;
}

char *mh_api_cursor_encode(const char *key, const char *id)
{
    char raw[MH_API_CURSOR_MAX_RAW + 1];
    if (strchr(key, '\x1f') != NULL)
        return NULL;
    int len = snprintf(raw, sizeof(raw), "%s\x1f%s", key, id);
    if (len <= 0 || (size_t)len >= sizeof(raw))
        return NULL;
    return mh_crypto_b64_encode_new(MH_CRYPTO_B64_URL_NOPAD, raw, (size_t)len);
}

bool mh_api_cursor_decode(const char *cursor, char buf[MH_API_CURSOR_MAX_RAW + 1], const char **key,
                          const char **id)
{
    size_t len = strlen(cursor), n = 0;
    if (len > MH_API_CURSOR_MAX_TEXT ||
        mh_crypto_b64_decode(MH_CRYPTO_B64_URL_NOPAD, cursor, len, (uint8_t *)buf,
                             MH_API_CURSOR_MAX_RAW, &n) != MH_OK)
        return false;
    char *sep = memchr(buf, '\x1f', n);
    /* A NUL would cut a value short; invalid UTF-8 would make PostgreSQL fail the query. */
    if (sep == NULL || memchr(buf, '\0', n) != NULL || !mh_text_is_utf8(buf, n))
        return false;
    buf[n] = '\0';
    *sep = '\0';
    *key = buf;
    *id = sep + 1;
    return true;
}

static const char *field_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return "";
}

json_t *mh_api_page_result(const struct mh_api_page *page, json_t *rows, const char *key_field,
                           const char *id_field)
{
    json_t *items = json_array();
    size_t n = json_array_size(rows);
    for (size_t i = 0; i < n && (long)i < page->limit; i++)
        json_array_append(items, json_array_get(rows, i));
    json_t *next = json_null();
    if ((long)n > page->limit && page->limit > 0) {
        json_t *last = json_array_get(rows, (size_t)page->limit - 1);
        char kb[32], ib[32];
        char *c = mh_api_cursor_encode(field_text(json_object_get(last, key_field), kb, sizeof(kb)),
                                       field_text(json_object_get(last, id_field), ib, sizeof(ib)));
        if (c != NULL) {
            next = json_string(c);
            free(c);
        }
    }
    return json_pack("{s:o, s:o}", "items", items, "next_cursor", next);
}

static void respond_list(struct mh_api *api, const struct mh_api_page *page, const char *project_id,
                         const char *const *members, const char *sql, int nparams,
                         const char *const *params, const char *key_field, const char *id_field)
{
    const char *all[16];
    MH_ASSERT(nparams >= 0 && nparams + 3 <= (int)MH_ARRAY_LEN(all));
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", page->limit + 1);
    for (int i = 0; i < nparams; i++)
        all[i] = params[i];
    all[nparams] = limit;
    all[nparams + 1] = page->after_key;
    all[nparams + 2] = page->after_id;
    json_t *rows = mh_api_query(api, sql, nparams + 3, all);
    if (rows == NULL)
        return;
    json_t *result = NULL;
    if (members) {
        if (!mh_api_show_members(api, project_id, rows, members))
            return;
        result = mh_api_page_result(page, rows, key_field, id_field);
        json_object_set_new(result, "redacted", json_boolean(mh_api_is_redacting(api)));
    } else {
        result = mh_api_page_result(page, rows, key_field, id_field);
    }
    mh_http_respond_json(api->req, 200, result);
}

void mh_api_respond_list(struct mh_api *api, const struct mh_api_page *page, const char *sql,
                         int nparams, const char *const *params, const char *key_field,
                         const char *id_field)
{
    respond_list(api, page, NULL, NULL, sql, nparams, params, key_field, id_field);
}

void mh_api_respond_list_shown(struct mh_api *api, const struct mh_api_page *page,
                               const char *project_id, const char *const *members, const char *sql,
                               int nparams, const char *const *params, const char *key_field,
                               const char *id_field)
{
    respond_list(api, page, project_id, members, sql, nparams, params, key_field, id_field);
}

const struct mh_privacy_view *mh_api_privacy(struct mh_api *api, const char *project_id)
{
    if (api->privacy)
        return api->privacy;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_secrets_privacy_view_open(api->conn, project_id, &api->privacy, &info);
    if (rc != MH_OK) {
        mh_http_respond_err(api->req, rc, &info);
        return NULL;
    }
    return api->privacy;
}

bool mh_api_is_redacting(struct mh_api *api)
{
    return api->privacy == NULL || mh_secrets_privacy_view_is_redacting(api->privacy);
}

struct mh_privacy_view *mh_api_privacy_steal(struct mh_api *api, const char *project_id)
{
    if (mh_api_privacy(api, project_id) == NULL)
        return NULL;
    struct mh_privacy_view *v = api->privacy;
    api->privacy = NULL;
    return v;
}

void mh_api_show_with(const struct mh_privacy_view *v, json_t *obj, const char *const *members)
{
    if (json_is_array(obj)) {
        size_t i;
        json_t *row;
        json_array_foreach(obj, i, row)
        {
            show_in(v, row, members);
        }
    } else {
        show_in(v, obj, members);
    }
}

static void show_in(const struct mh_privacy_view *v, json_t *obj, const char *const *members)
{
    for (size_t i = 0; members[i]; i++) {
        json_t *m = json_object_get(obj, members[i]);
        if (m == NULL)
            continue;
        /* The member is shown under its name, so that a "headers" member is masked as such. */
        json_t *in = json_pack("{s:O}", members[i], m);
        json_t *shown = mh_secrets_privacy_view_apply(v, in);
        json_t *sv = json_object_get(shown, members[i]);
        /* A view that could not redact shows nothing (fails closed). */
        json_object_set_new(obj, members[i],
                            sv ? json_incref(sv) : json_string(MH_REDACT_HEADER_MASK));
        json_decref(shown);
        json_decref(in);
    }
}

bool mh_api_show_members(struct mh_api *api, const char *project_id, json_t *obj,
                         const char *const *members)
{
    const struct mh_privacy_view *v = mh_api_privacy(api, project_id);
    if (v == NULL)
        return false;
    if (json_is_array(obj)) {
        size_t i;
        json_t *row;
        json_array_foreach(obj, i, row)
        {
            show_in(v, row, members);
        }
    } else {
        show_in(v, obj, members);
    }
    return true;
}

bool mh_api_audit(struct mh_api *api, const char *project_id, const char *action,
                  const char *target, json_t *detail)
{
    char actor[64];
    if (api->who.token_id[0])
        snprintf(actor, sizeof(actor), "api_token:%s", api->who.token_id);
    else
        snprintf(actor, sizeof(actor), "%s", api->who.user_id[0] ? "user" : "anonymous");
    char *detail_s = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    const char *params[] = {project_id,
                            api->who.user_id[0] ? api->who.user_id : NULL,
                            actor,
                            action,
                            target ? target : "",
                            detail_s ? detail_s : "{}",
                            mh_http_req_remote_ip(api->req),
                            mh_http_req_header(api->req, "User-Agent")};
    json_t *rows = mh_api_query(api,
                                "INSERT INTO audit_log (project_id, actor_user_id, actor, action, "
                                "target, detail, ip, user_agent) VALUES ($1, $2, $3, $4, $5, "
                                "$6::jsonb, $7, left($8, 512))",
                                8, params);
    free(detail_s);
    return rows != NULL;
}

static void list_in_project(struct mh_http_req *req, void *app, const char *min_role,
                            const char *sql, const char *key_field, const char *id_field,
                            const char *const *members)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *params[] = {mh_http_req_param(req, "project_id")};
    if (mh_api_require_role(&api, params[0], min_role, NULL) && mh_api_page(&api, &page))
        respond_list(&api, &page, params[0], members, sql, 1, params, key_field, id_field);
    mh_api_close(&api);
}

void mh_api_list_in_project(struct mh_http_req *req, void *app, const char *min_role,
                            const char *sql, const char *key_field, const char *id_field)
{
    list_in_project(req, app, min_role, sql, key_field, id_field, NULL);
}

void mh_api_list_in_project_shown(struct mh_http_req *req, void *app, const char *min_role,
                                  const char *sql, const char *key_field, const char *id_field,
                                  const char *const *members)
{
    list_in_project(req, app, min_role, sql, key_field, id_field, members);
}

void mh_api_respond_invalid_definition(struct mh_api *api, json_t *errors, const char *action)
{
    char msg[160];
    size_t n = json_array_size(errors);
    snprintf(msg, sizeof(msg),
             "the draft is not a valid workflow (%zu error%s); fix it and %s again", n,
             n == 1 ? "" : "s", action);
    json_t *first = json_object_get(json_array_get(errors, 0), "path");
    json_t *err = json_pack("{s:s, s:s, s:o}", "code", "invalid_definition", "message", msg,
                            "errors", errors ? json_incref(errors) : json_array());
    if (json_is_string(first))
        json_object_set(err, "path", first);
    mh_http_respond_json(
        api->req, 422,
        json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(api->req)));
}
