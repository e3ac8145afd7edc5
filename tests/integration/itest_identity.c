/* SPDX-License-Identifier: MIT */
/*
 * Identity and tenancy over the real API: logins, sessions, CSRF, API tokens, projects, members
 * and roles, the audit log — tried with every identity against every endpoint. Users A and B own
 * one project each; E (editor) and V (viewer) are members of A's project.
 */
#include <signal.h>

#include "crypto/password.h"
#include "db/db.h"
#include "itest.h"

#define PASSWORD "correct horse battery staple"

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
};

struct who {
    char id[40];
    char email[64];
    char cookie[128]; /* "Cookie: mh_session=..." */
    char csrf[96];    /* "X-CSRF-Token: ..." */
    char bearer[128]; /* "Authorization: Bearer mh_..." */
};

static bool dump_contains(const json_t *j, const char *needle)
{
    char *s = json_dumps(j, JSON_ENCODE_ANY);
    bool found = s && strstr(s, needle) != NULL;
    free(s);
    return found;
}

/* Performs a request; returns the parsed body (new reference, may be NULL) and the status. */
static json_t *call(const struct world *w, const char *method, const char *path,
                    const char *const *hdrs, const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", w->s.base, path);
    const char *h[8] = {"Content-Type: application/json"};
    int n = 1;
    for (int i = 0; hdrs && hdrs[i] && n < 7; i++)
        h[n++] = hdrs[i];
    h[n] = NULL;
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    json_t *j = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return j;
}

/* As an API-token user. */
static json_t *as(const struct world *w, const struct who *u, const char *method, const char *path,
                  const char *body, long *status)
{
    const char *h[] = {u ? u->bearer : NULL, NULL};
    return call(w, method, path, h, body, status);
}

static long status_of(const struct world *w, const struct who *u, const char *method,
                      const char *path, const char *body)
{
    long st;
    json_decref(as(w, u, method, path, body, &st));
    return st;
}

static void insert_user(const struct world *w, const char *email, char *id_out)
{
    /* Weak parameters keep the test fast; the first login re-hashes with the server's policy. */
    struct mh_crypto_argon2_params p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};
    char *hash = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash(PASSWORD, strlen(PASSWORD), &p, &hash), MH_OK);
    const char *params[] = {email, hash};
    json_t *rows = mh_it_sql(
        w->db.admin_url, "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", 2,
        params, NULL);
    MH_T_ASSERT(rows != NULL);
    snprintf(id_out, 40, "%s", json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
    free(hash);
}

static long login(const struct world *w, const char *email, const char *password,
                  const char *extra_cookie, struct who *u)
{
    char body[256];
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"password\": \"%s\"}", email, password);
    char url[256];
    snprintf(url, sizeof(url), "%s/api/auth/login", w->s.base);
    const char *h[] = {"Content-Type: application/json", extra_cookie, NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, body, strlen(body), &r);
    long st = r.status;
    if (st == 200 && u) {
        char *sc = mh_it_resp_header(&r, "Set-Cookie");
        MH_T_ASSERT(sc != NULL);
        MH_T_ASSERT(strstr(sc, "HttpOnly") != NULL);
        MH_T_ASSERT(strstr(sc, "SameSite=Lax") != NULL);
        MH_T_ASSERT(strstr(sc, "Secure") == NULL); /* plain http, no proxy header */
        char *semi = strchr(sc, ';');
        *semi = '\0';
        snprintf(u->cookie, sizeof(u->cookie), "Cookie: %s", sc);
        free(sc);
        snprintf(u->csrf, sizeof(u->csrf), "X-CSRF-Token: %s",
                 json_string_value(json_object_get(r.json, "csrf_token")));
        snprintf(u->email, sizeof(u->email), "%s", email);
        snprintf(u->id, sizeof(u->id), "%s",
                 json_string_value(json_object_get(json_object_get(r.json, "user"), "id")));
    }
    mh_it_resp_cleanup(&r);
    return st;
}

static void make_token(const struct world *w, struct who *u)
{
    long st;
    const char *h[] = {u->cookie, u->csrf, NULL};
    json_t *j =
        call(w, "POST", "/api/tokens", h, "{\"name\": \"ci\", \"expires_in_days\": 30}", &st);
    MH_T_ASSERT_EQ(st, 201);
    const char *tok = json_string_value(json_object_get(j, "token"));
    MH_T_ASSERT(tok && strncmp(tok, "mh_", 3) == 0);
    snprintf(u->bearer, sizeof(u->bearer), "Authorization: Bearer %s", tok);
    json_decref(j);
}

static void person(struct world *w, const char *email, struct who *u)
{
    char id[40];
    insert_user(w, email, id);
    MH_T_ASSERT_EQ(login(w, email, PASSWORD, NULL, u), 200);
    MH_T_ASSERT_STR_EQ(u->id, id);
    make_token(w, u);
}

static void create_project(struct world *w, const struct who *u, const char *name, char *id)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    long st;
    json_t *j = as(w, u, "POST", "/api/projects", body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "role")), "owner");
    snprintf(id, 40, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static void add_member(struct world *w, const struct who *by, const char *pid, const struct who *u,
                       const char *role)
{
    char path[128], body[160];
    snprintf(path, sizeof(path), "/api/projects/%s/members", pid);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"role\": \"%s\"}", u->email, role);
    MH_T_ASSERT_EQ(status_of(w, by, "POST", path, body), 201);
}

static void start(struct world *w, const char *const *extra)
{
    mh_it_db_create(&w->db, true);
    mh_it_server_start(&w->s, &w->db, extra);
}

MH_TEST(every_identity_against_every_endpoint)
{
    struct world w;
    start(&w, NULL);
    struct who a, b, e, v;
    person(&w, "a@example.com", &a);
    person(&w, "b@example.com", &b);
    person(&w, "e@example.com", &e);
    person(&w, "v@example.com", &v);
    char pa[40], pb[40];
    create_project(&w, &a, "Project A", pa);
    create_project(&w, &b, "Project B", pb);
    add_member(&w, &a, pa, &e, "editor");
    add_member(&w, &a, pa, &v, "viewer");

    char p[256];
    const struct who *members[] = {&a, &e, &v};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "/api/projects/%s", pa);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "GET", p, NULL), 200);
        snprintf(p, sizeof(p), "/api/projects/%s/members", pa);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "GET", p, NULL), 200);
    }
    /* B is a stranger to project A: everything is 404, as if it did not exist. */
    const char *paths[][3] = {
        {"GET", "", NULL},
        {"PATCH", "", "{\"name\": \"taken\"}"},
        {"DELETE", "", NULL},
        {"GET", "/members", NULL},
        {"POST", "/members", "{\"email\": \"b@example.com\", \"role\": \"owner\"}"},
        {"GET", "/audit", NULL},
        {"GET", "/audit/verify", NULL},
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        snprintf(p, sizeof(p), "/api/projects/%s%s", pa, paths[i][1]);
        long st = status_of(&w, &b, paths[i][0], p, paths[i][2]);
        if (st != 404)
            mh_t_fail(__FILE__, __LINE__, "B %s %s: %ld, want 404", paths[i][0], p, st);
        /* And the same shape for A against B's project. */
        snprintf(p, sizeof(p), "/api/projects/%s%s", pb, paths[i][1]);
        st = status_of(&w, &a, paths[i][0], p, paths[i][2]);
        if (st != 404)
            mh_t_fail(__FILE__, __LINE__, "A %s %s: %ld, want 404", paths[i][0], p, st);
    }
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, e.id);
    MH_T_ASSERT_EQ(status_of(&w, &b, "PATCH", p, "{\"role\": \"viewer\"}"), 404);
    MH_T_ASSERT_EQ(status_of(&w, &b, "DELETE", p, NULL), 404);

    /* Editor and viewer are members, but below admin: writes that need admin are 403. */
    const struct who *lower[] = {&e, &v};
    for (int i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "/api/projects/%s", pa);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "PATCH", p, "{\"name\": \"x\"}"), 403);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "DELETE", p, NULL), 403);
        snprintf(p, sizeof(p), "/api/projects/%s/members", pa);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "POST", p,
                                 "{\"email\": \"b@example.com\", \"role\": \"viewer\"}"),
                       403);
        snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, a.id);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "PATCH", p, "{\"role\": \"viewer\"}"), 403);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "DELETE", p, NULL), 403);
        snprintf(p, sizeof(p), "/api/projects/%s/audit", pa);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "GET", p, NULL), 403);
        snprintf(p, sizeof(p), "/api/projects/%s/audit/verify", pa);
        MH_T_ASSERT_EQ(status_of(&w, lower[i], "GET", p, NULL), 403);
    }
    /* Nobody sees another user's tokens or can revoke them. */
    long st;
    json_t *toks = as(&w, &a, "GET", "/api/tokens", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(toks, "items")), 1);
    const char *a_tok =
        json_string_value(json_object_get(json_array_get(json_object_get(toks, "items"), 0), "id"));
    MH_T_ASSERT(!dump_contains(toks, "token_hash"));
    snprintf(p, sizeof(p), "/api/tokens/%s", a_tok);
    MH_T_ASSERT_EQ(status_of(&w, &b, "DELETE", p, NULL), 404);
    json_decref(toks);

    /* Lists show only one's own projects. */
    json_t *list = as(&w, &v, "GET", "/api/projects", NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(list, "items")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_array_get(json_object_get(list, "items"), 0), "role")),
                       "viewer");
    json_decref(list);

    /* The admin path works for the owner. */
    snprintf(p, sizeof(p), "/api/projects/%s", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"name\": \"Renamed\"}"), 200);
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, e.id);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"role\": \"admin\"}"), 200);
    /* An admin (not owner) may not make owners. */
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, v.id);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{\"role\": \"owner\"}"), 403);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{\"role\": \"editor\"}"), 200);

    /* The database refuses on its own: the viewer's id, forged into a raw transaction as the
     * application role, cannot rename the project. */
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(w.db.app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, b.id, NULL, &info), MH_OK);
    long affected = -1;
    const char *params[] = {pa};
    MH_T_ASSERT_EQ(mh_db_query(c, "UPDATE projects SET name = 'pwned' WHERE id = $1", 1, params,
                               NULL, &affected, &info),
                   MH_OK);
    MH_T_ASSERT_EQ(affected, 0);
    mh_db_rollback(c);
    mh_db_close(c);

    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

MH_TEST(last_owner_cannot_leave_or_be_demoted)
{
    struct world w;
    start(&w, NULL);
    struct who a, e;
    person(&w, "a@example.com", &a);
    person(&w, "e@example.com", &e);
    char pa[40], p[256];
    create_project(&w, &a, "P", pa);
    add_member(&w, &a, pa, &e, "admin");
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, a.id);
    long st;
    json_t *j = as(&w, &a, "DELETE", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                       "last_owner");
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"role\": \"admin\"}"), 409);
    /* With a second owner, the first may step down. */
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, e.id);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"role\": \"owner\"}"), 200);
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, a.id);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"role\": \"admin\"}"), 200);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 204);
    snprintf(p, sizeof(p), "/api/projects/%s", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", p, NULL), 404);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

MH_TEST(bad_credentials_get_401)
{
    struct world w;
    start(&w, NULL);
    struct who a;
    person(&w, "a@example.com", &a);
    long st;
    /* Wrong password and unknown account: same status, same message. */
    MH_T_ASSERT_EQ(login(&w, "a@example.com", "wrong password", NULL, NULL), 401);
    MH_T_ASSERT_EQ(login(&w, "nobody@example.com", "wrong password", NULL, NULL), 401);
    const char *malformed[] = {
        "Authorization: Bearer",
        "Authorization: Basic YTpi",
        "Authorization: Bearer mh_short",
        "Authorization: Bearer xx_0123456789012345678901234567890123456789012",
        "Authorization: Bearer mh_012345678901234567890123456789012345678901!",
        "Authorization: Bearer mh_0123456789012345678901234567890123456789012",
        "Cookie: mh_session=short",
        "Cookie: mh_session=0123456789012345678901234567890123456789012",
        "Cookie: mh_session=%00%01",
        NULL,
    };
    for (int i = 0; i < (int)(sizeof(malformed) / sizeof(malformed[0])); i++) {
        const char *h[] = {malformed[i], NULL};
        json_t *j = call(&w, "GET", "/api/auth/me", h, NULL, &st);
        if (st != 401)
            mh_t_fail(__FILE__, __LINE__, "'%s': %ld, want 401", malformed[i], st);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                           "unauthenticated");
        json_decref(j);
    }
    /* A revoked token stops working at once. */
    json_t *toks = as(&w, &a, "GET", "/api/tokens", NULL, &st);
    char p[128];
    snprintf(p, sizeof(p), "/api/tokens/%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(toks, "items"), 0), "id")));
    json_decref(toks);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", "/api/auth/me", NULL), 200);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", p, NULL), 204);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", "/api/auth/me", NULL), 401);
    /* An expired token too. */
    make_token(&w, &a);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", "/api/auth/me", NULL), 200);
    mh_it_sql_script(w.db.admin_url, "UPDATE api_tokens SET expires_at = now() - interval '1s'");
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", "/api/auth/me", NULL), 401);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

MH_TEST(sessions_cookies_csrf_fixation_and_expiry)
{
    struct world w;
    start(&w, NULL);
    struct who a;
    char id[40];
    insert_user(&w, "a@example.com", id);
    /* Fixation: a session id planted before login is not adopted. */
    const char *planted = "Cookie: mh_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    MH_T_ASSERT_EQ(login(&w, "a@example.com", PASSWORD, planted, &a), 200);
    MH_T_ASSERT(strstr(a.cookie, "AAAAAAAAAAAAAAAA") == NULL);
    long st;
    const char *plant[] = {planted, NULL};
    json_decref(call(&w, "GET", "/api/auth/me", plant, NULL, &st));
    MH_T_ASSERT_EQ(st, 401);

    const char *ok[] = {a.cookie, NULL};
    json_t *me = call(&w, "GET", "/api/auth/me", ok, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(me, "csrf_token")), a.csrf + 14);
    json_decref(me);
    /* Cookie writes need the CSRF header; a wrong one is as bad as none. */
    json_decref(call(&w, "POST", "/api/projects", ok, "{\"name\": \"x\"}", &st));
    MH_T_ASSERT_EQ(st, 403);
    const char *bad_csrf[] = {a.cookie, "X-CSRF-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                              NULL};
    json_decref(call(&w, "POST", "/api/projects", bad_csrf, "{\"name\": \"x\"}", &st));
    MH_T_ASSERT_EQ(st, 403);
    const char *good[] = {a.cookie, a.csrf, NULL};
    json_decref(call(&w, "POST", "/api/projects", good, "{\"name\": \"x\"}", &st));
    MH_T_ASSERT_EQ(st, 201);

    /* Logout revokes the session server-side: replaying the cookie fails. */
    json_decref(call(&w, "POST", "/api/auth/logout", good, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    json_decref(call(&w, "GET", "/api/auth/me", ok, NULL, &st));
    MH_T_ASSERT_EQ(st, 401);

    /* Absolute expiry and idle expiry. */
    struct who s2;
    MH_T_ASSERT_EQ(login(&w, "a@example.com", PASSWORD, NULL, &s2), 200);
    const char *s2h[] = {s2.cookie, NULL};
    json_decref(call(&w, "GET", "/api/auth/me", s2h, NULL, &st));
    MH_T_ASSERT_EQ(st, 200);
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE sessions SET expires_at = now() - interval '1s' WHERE revoked_at "
                     "IS NULL");
    json_decref(call(&w, "GET", "/api/auth/me", s2h, NULL, &st));
    MH_T_ASSERT_EQ(st, 401);
    struct who s3;
    MH_T_ASSERT_EQ(login(&w, "a@example.com", PASSWORD, NULL, &s3), 200);
    const char *s3h[] = {s3.cookie, NULL};
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE sessions SET last_seen_at = now() - interval '13 hours' WHERE "
                     "expires_at > now()");
    json_decref(call(&w, "GET", "/api/auth/me", s3h, NULL, &st));
    MH_T_ASSERT_EQ(st, 401);

    /* Behind a TLS-terminating proxy the cookie is marked Secure. */
    char url[256];
    snprintf(url, sizeof(url), "%s/api/auth/login", w.s.base);
    const char *tls[] = {"Content-Type: application/json", "X-Forwarded-Proto: https", NULL};
    const char *lb = "{\"email\": \"a@example.com\", \"password\": \"" PASSWORD "\"}";
    struct mh_it_resp lr;
    mh_it_http("POST", url, tls, lb, strlen(lb), &lr);
    MH_T_ASSERT_EQ(lr.status, 200);
    char *sc = mh_it_resp_header(&lr, "Set-Cookie");
    MH_T_ASSERT(sc && strstr(sc, "; Secure") != NULL);
    free(sc);
    mh_it_resp_cleanup(&lr);

    /* Only hashes are stored. */
    json_t *rows = mh_it_sql(
        w.db.admin_url, "SELECT encode(token_hash, 'escape') AS h FROM sessions", 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    MH_T_ASSERT(!dump_contains(rows, a.cookie + 19));
    json_decref(rows);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

MH_TEST(login_throttling_and_signup_switch)
{
    struct world w;
    const char *args[] = {"--login-max-failures", "3", NULL};
    start(&w, args);
    char id[40];
    insert_user(&w, "a@example.com", id);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(login(&w, "a@example.com", "nope", NULL, NULL), 401);
    /* Each failure past the allowance doubles the pause (1 s after the third): five more make
     * it 32 s, long enough to observe. Even the right password waits, from this address
     * (itest_signin: the owner's own address does not). */
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE login_failures SET failures = 8, last_failure_at = now() "
                     "WHERE key LIKE 'pair:%'");
    char url[256];
    snprintf(url, sizeof(url), "%s/api/auth/login", w.s.base);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    const char *body = "{\"email\": \"A@example.com\", \"password\": \"" PASSWORD "\"}";
    mh_it_http("POST", url, h, body, strlen(body), &r);
    MH_T_ASSERT_EQ(r.status, 429);
    char *ra = mh_it_resp_header(&r, "Retry-After");
    MH_T_ASSERT(ra && strtol(ra, NULL, 10) > 0);
    free(ra);
    mh_it_resp_cleanup(&r);

    long st;
    json_t *j = call(&w, "POST", "/api/auth/signup", NULL,
                     "{\"email\": \"new@example.com\", \"password\": \"long enough pw\"}", &st);
    MH_T_ASSERT_EQ(st, 403);
    json_decref(j);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    const char *open_args[] = {"--allow-signup", NULL};
    mh_it_server_start(&w.s, &w.db, open_args);
    j = call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"New@Example.com\", \"password\": \"long enough pw\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "user"), "email")),
                       "new@example.com");
    json_decref(j);
    j = call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"new@example.com\", \"password\": \"long enough pw\"}", &st);
    MH_T_ASSERT_EQ(st, 409);
    json_decref(j);
    j = call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"x@example.com\", \"password\": \"short\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "path")),
                       "/password");
    json_decref(j);
    MH_T_ASSERT_EQ(login(&w, "new@example.com", "long enough pw", NULL, NULL), 200);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

MH_TEST(audit_log_records_every_admin_action_and_verifies)
{
    struct world w;
    start(&w, NULL);
    struct who a, e;
    person(&w, "a@example.com", &a);
    person(&w, "e@example.com", &e);
    char pa[40], p[256];
    create_project(&w, &a, "P", pa);
    add_member(&w, &a, pa, &e, "viewer");
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, e.id);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"role\": \"editor\"}"), 200);
    snprintf(p, sizeof(p), "/api/projects/%s", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"name\": \"Q\"}"), 200);
    snprintf(p, sizeof(p), "/api/projects/%s/members/%s", pa, e.id);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", p, NULL), 204);

    long st;
    snprintf(p, sizeof(p), "/api/projects/%s/audit?limit=2", pa);
    json_t *page1 = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(page1, "items")), 2);
    const char *cursor = json_string_value(json_object_get(page1, "next_cursor"));
    MH_T_ASSERT(cursor != NULL);
    snprintf(p, sizeof(p), "/api/projects/%s/audit?limit=50&cursor=%s", pa, cursor);
    json_t *page2 = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_null(json_object_get(page2, "next_cursor")));
    /* Newest first: remove, rename, role change, add, create. */
    const char *want[] = {"member.remove", "project.rename", "member.role_change", "member.add",
                          "project.create"};
    json_t *all = json_array();
    json_array_extend(all, json_object_get(page1, "items"));
    json_array_extend(all, json_object_get(page2, "items"));
    MH_T_ASSERT_EQ(json_array_size(all), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *it = json_array_get(all, i);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(it, "action")), want[i]);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(it, "actor_user_id")), a.id);
        MH_T_ASSERT(json_string_value(json_object_get(it, "ip")) != NULL);
    }
    json_decref(all);
    json_decref(page1);
    json_decref(page2);
    /* Token creation is audited on the account (no project). */
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = 'token.create'", 0,
                             NULL, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 2);
    json_decref(rows);

    snprintf(p, sizeof(p), "/api/projects/%s/audit/verify", pa);
    json_t *v = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT(json_is_true(json_object_get(v, "ok")));
    json_decref(v);
    char *out = NULL;
    const char *verify[] = {"audit", "verify", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&w.db, verify, &out), 0);
    free(out);

    /* An edit by someone with owner access to the database is detected, and so is a deletion
     * inside the chain. */
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE audit_log SET target = 'forged' WHERE action = 'project.rename'");
    v = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT(json_is_false(json_object_get(v, "ok")));
    json_decref(v);
    MH_T_ASSERT_EQ(mh_it_run(&w.db, verify, &out), 1);
    MH_T_ASSERT(strstr(out, "edited") != NULL);
    free(out);
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE audit_log SET target = target WHERE false; DELETE FROM audit_log "
                     "WHERE action = 'member.add'");
    MH_T_ASSERT_EQ(mh_it_run(&w.db, verify, &out), 1);
    MH_T_ASSERT(strstr(out, "deleted") != NULL);
    free(out);

    /* Deleting the project keeps its audit trail. */
    snprintf(p, sizeof(p), "/api/projects/%s", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", p, NULL), 204);
    rows = mh_it_sql(w.db.admin_url,
                     "SELECT count(*) AS n FROM audit_log WHERE action = 'project.delete'", 0, NULL,
                     NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 1);
    json_decref(rows);

    /* The password never reached the log. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
    char *log = mh_it_server_log(&w.s);
    MH_T_ASSERT(strstr(log, PASSWORD) == NULL);
    MH_T_ASSERT(strstr(log, "/api/auth/login 200") != NULL);
    free(log);
}

MH_TEST(cli_creates_the_first_user)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    char *out = NULL;
    const char *count[] = {"user", "count", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, count, &out), 1);
    free(out);
    const char *create[] = {"user", "create", "--email", "First@Example.com", NULL};
    MH_T_ASSERT_EQ(mh_it_run_input(&db, create, "s3cret-password\n", &out), 0);
    MH_T_ASSERT(strstr(out, "created user first@example.com") != NULL);
    MH_T_ASSERT(strstr(out, "s3cret-password") == NULL);
    free(out);
    MH_T_ASSERT_EQ(mh_it_run_input(&db, create, "s3cret-password\n", &out), 1);
    MH_T_ASSERT(strstr(out, "already exists") != NULL);
    free(out);
    const char *weak[] = {"user", "create", "--email", "second@example.com", NULL};
    MH_T_ASSERT_EQ(mh_it_run_input(&db, weak, "short\n", &out), 2);
    free(out);
    /* The minimum counts characters, as sign-up does: four two-byte letters (8 bytes) are four
     * characters, too short; eight of them are enough. */
    MH_T_ASSERT_EQ(mh_it_run_input(&db, weak, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n", &out), 2);
    MH_T_ASSERT(strstr(out, "at least 8 characters") != NULL);
    free(out);
    const char *eight[] = {"user", "create", "--email", "eight@example.com", NULL};
    MH_T_ASSERT_EQ(
        mh_it_run_input(&db, eight,
                        "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n", &out),
        0);
    free(out);
    /* A password longer than the hasher takes is refused, never cut short and accepted. */
    char *huge = malloc(5002);
    memset(huge, 'p', 5000);
    memcpy(huge + 5000, "\n", 2);
    MH_T_ASSERT_EQ(mh_it_run_input(&db, weak, huge, &out), 2);
    MH_T_ASSERT(strstr(out, "at most 4096 bytes") != NULL);
    free(out);
    free(huge);
    /* Capitals outside ASCII are lower-cased as the database does. */
    const char *wide[] = {"user", "create", "--email", "\xc3\x89lise@Example.com", NULL};
    MH_T_ASSERT_EQ(mh_it_run_input(&db, wide, "s3cret-password\n", &out), 0);
    MH_T_ASSERT(strstr(out, "created user \xc3\xa9lise@example.com") != NULL);
    free(out);
    MH_T_ASSERT_EQ(mh_it_run(&db, count, &out), 0);
    free(out);
    /* And the server says how to start on an empty database. */
    struct mh_it_db empty;
    mh_it_db_create(&empty, true);
    struct mh_it_server s;
    mh_it_server_start(&s, &empty, NULL);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
    char *log = mh_it_server_log(&s);
    MH_T_ASSERT(strstr(log, "meshhook user create --email") != NULL);
    free(log);
}
