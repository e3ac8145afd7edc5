/* SPDX-License-Identifier: MIT */
/*
 * The secrets vault end to end: the API with owner, editor, viewer and a stranger (values are
 * write-only and appear in no response, log line or audit entry); resolution for runs through
 * the library, with its audit entries and its clean failures on swapped or edited rows; the
 * server's refusal to start without the key ids in use; a KEK rotation killed with SIGKILL in
 * the middle of its transaction (every secret still opens with the old key), then completed
 * (every secret opens with the new key alone); and the privacy settings' validation.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/config.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "db/db.h"
#include "itest.h"
#include "secrets/secrets.h"

#define PASSWORD "correct horse battery staple"

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
    char kek_path[256];
};

struct who {
    char id[40];
    char email[64];
    char bearer[128]; /* "Authorization: Bearer mh_..." */
};

/* Every value a test stores; no response body may contain any of them. */
static const char *watched[8];
static size_t nwatched;

static void watch(const char *value)
{
    MH_T_ASSERT(nwatched < sizeof(watched) / sizeof(watched[0]));
    watched[nwatched++] = value;
}

static void assert_clean(const char *text, const char *where)
{
    for (size_t i = 0; i < nwatched; i++)
        if (text && strstr(text, watched[i]) != NULL)
            mh_t_fail(__FILE__, __LINE__, "a secret value appears in %s", where);
}

/* A KEK file "ID:<64 hex>" with mode 0600 at a new temporary path, in the directory that
 * tests/run.sh removes when the run ends (MH_IT_TMP), so that a test which stops early leaves
 * no key behind. */
static void make_kek_file(char *path, size_t cap, const char *id)
{
    uint8_t key[MH_CRYPTO_KEK_LEN];
    char hex[2 * MH_CRYPTO_KEK_LEN + 1], text[160];
    MH_T_ASSERT_EQ(mh_crypto_random(key, sizeof(key)), MH_OK);
    mh_crypto_hex_encode(key, sizeof(key), hex);
    const char *dir = getenv("MH_IT_TMP");
    snprintf(path, cap, "%s/mh-it-kek-XXXXXX", dir && dir[0] ? dir : "/tmp");
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    int n = snprintf(text, sizeof(text), "%s:%s\n", id, hex);
    MH_T_ASSERT(write(fd, text, (size_t)n) == n);
    close(fd);
    MH_T_ASSERT(chmod(path, 0600) == 0);
}

/* Performs a request, checks that its body holds no watched value, returns the parsed body. */
static json_t *call(const struct world *w, const struct who *u, const char *method,
                    const char *path, const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", w->s.base, path);
    const char *h[] = {"Content-Type: application/json", u ? u->bearer : NULL, NULL};
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    assert_clean(r.body, path);
    assert_clean(r.headers, path);
    json_t *j = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return j;
}

static long status_of(const struct world *w, const struct who *u, const char *method,
                      const char *path, const char *body)
{
    long st;
    json_decref(call(w, u, method, path, body, &st));
    return st;
}

static const char *error_path(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "path"));
}

static void person(struct world *w, const char *email, struct who *u)
{
    struct mh_crypto_argon2_params p = {.t_cost = 1, .m_cost_kib = 1024, .parallelism = 1};
    char *hash = NULL;
    MH_T_ASSERT_EQ(mh_crypto_password_hash(PASSWORD, strlen(PASSWORD), &p, &hash), MH_OK);
    const char *params[] = {email, hash};
    json_t *rows = mh_it_sql(
        w->db.admin_url, "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", 2,
        params, NULL);
    MH_T_ASSERT(rows != NULL);
    snprintf(u->id, sizeof(u->id), "%s",
             json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    snprintf(u->email, sizeof(u->email), "%s", email);
    json_decref(rows);
    free(hash);
    /* An API token, inserted directly: only its SHA-256 is stored. */
    char *tok = NULL;
    MH_T_ASSERT_EQ(mh_crypto_token_b64url(32, &tok), MH_OK);
    char full[64], hex[2 * MH_CRYPTO_SHA256_LEN + 3] = "\\x";
    snprintf(full, sizeof(full), "mh_%s", tok);
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    MH_T_ASSERT_EQ(mh_crypto_sha256(full, strlen(full), h), MH_OK);
    mh_crypto_hex_encode(h, sizeof(h), hex + 2);
    const char *tp[] = {u->id, hex};
    rows = mh_it_sql(w->db.admin_url,
                     "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES ($1, 'it', "
                     "$2::bytea, 'mh_') RETURNING id",
                     2, tp, NULL);
    MH_T_ASSERT(rows != NULL);
    json_decref(rows);
    snprintf(u->bearer, sizeof(u->bearer), "Authorization: Bearer %s", full);
    free(tok);
}

static void create_project(struct world *w, const struct who *u, const char *name, char *id)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"name\": \"%s\"}", name);
    long st;
    json_t *j = call(w, u, "POST", "/api/projects", body, &st);
    MH_T_ASSERT_EQ(st, 201);
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

/* A server with a fresh database and, when `with_kek`, a KEK file with id "k1". */
static void start(struct world *w, bool with_kek)
{
    mh_it_db_create(&w->db, true);
    w->kek_path[0] = '\0';
    if (with_kek) {
        make_kek_file(w->kek_path, sizeof(w->kek_path), "k1");
        const char *args[] = {"--kek-file", w->kek_path, "--workers", "0", NULL};
        mh_it_server_start(&w->s, &w->db, args);
    } else {
        const char *args[] = {"--workers", "0", NULL};
        mh_it_server_start(&w->s, &w->db, args);
    }
}

/* ---- In-process access to the vault, as the engine uses it ------------------------------ */

struct vault {
    struct mh_config cfg;
    struct mh_db_pool *pool;
    struct mh_secrets *secrets;
};

/* Loads a configuration from flags (NULL-terminated) plus the database URL, and the vault. */
static enum mh_err vault_open(struct vault *v, const char *db_url, const char *const *flags,
                              struct mh_err_info *info)
{
    const char *argv[16] = {"--database-url", db_url};
    int n = 2;
    for (int i = 0; flags && flags[i] && n < 15; i++)
        argv[n++] = flags[i];
    memset(v, 0, sizeof(*v));
    MH_T_ASSERT_EQ(mh_config_load(&v->cfg, n, (char **)argv, NULL, NULL, info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_pool_create(db_url, 2, 5000, &v->pool), MH_OK);
    return mh_secrets_create(&v->cfg, v->pool, &v->secrets, info);
}

static void vault_close(struct vault *v)
{
    mh_secrets_destroy(v->secrets);
    mh_db_pool_destroy(v->pool);
    mh_config_cleanup(&v->cfg);
}

/* Resolves `names` in `project_id` for run `run_id` in a committed transaction. */
static enum mh_err resolve(struct vault *v, const char *project_id, const char *const *names,
                           size_t n, const char *run_id, json_t **values, struct mh_err_info *info)
{
    struct mh_db_conn *c = NULL;
    MH_T_ASSERT_EQ(mh_db_acquire(v->pool, &c, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, NULL, project_id, NULL), MH_OK);
    enum mh_err rc = mh_secrets_resolve(v->secrets, c, project_id, names, n, run_id, values, info);
    if (rc == MH_OK)
        MH_T_ASSERT_EQ(mh_db_commit(c, NULL), MH_OK);
    else
        mh_db_rollback(c);
    mh_db_release(c);
    return rc;
}

static long count_sql(const char *url, const char *sql, int n, const char *const *params)
{
    json_t *rows = mh_it_sql(url, sql, n, params, NULL);
    MH_T_ASSERT(rows != NULL);
    long v = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return v;
}

/* The whole audit log and secrets table as text, to scan for values. */
static void assert_db_clean(const struct world *w)
{
    json_t *rows = mh_it_sql(w->db.admin_url,
                             "SELECT (SELECT coalesce(jsonb_agg(to_jsonb(a)), '[]') FROM "
                             "audit_log a)::text AS audit, (SELECT coalesce(string_agg("
                             "encode(sealed, 'escape') || description || name, ' '), '') FROM "
                             "secrets) AS secrets",
                             0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    json_t *r = json_array_get(rows, 0);
    assert_clean(json_string_value(json_object_get(r, "audit")), "the audit log");
    assert_clean(json_string_value(json_object_get(r, "secrets")), "the secrets table");
    json_decref(rows);
}

/* ---- Cases ------------------------------------------------------------------------------- */

MH_TEST(api_roles_masks_and_audit)
{
    static const char v1[] = "sv1-Zq8rT3mKpW7xL2nB";
    static const char v2[] = "sv2-Hc5vJ9dFgY4sA6eU";
    static const char v3[] = "sv3-Nw2pQ7tR1kM8zX3c";
    watch(v1);
    watch(v2);
    watch(v3);
    struct world w;
    start(&w, true);
    struct who a, b, e, v;
    person(&w, "a@example.com", &a);
    person(&w, "b@example.com", &b);
    person(&w, "e@example.com", &e);
    person(&w, "v@example.com", &v);
    char pa[40], pb[40], p[256], body[256];
    create_project(&w, &a, "A", pa);
    create_project(&w, &b, "B", pb);
    add_member(&w, &a, pa, &e, "editor");
    add_member(&w, &a, pa, &v, "viewer");

    /* An editor creates a secret; the response shows the mask and never the value. */
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    snprintf(body, sizeof(body),
             "{\"name\": \"STRIPE_KEY\", \"value\": \"%s\", \"description\": \"live key\"}", v1);
    long st;
    json_t *j = call(&w, &e, "POST", p, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "name")), "STRIPE_KEY");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "mask")), MH_SECRETS_MASK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "created_by")), e.id);
    MH_T_ASSERT(json_object_get(j, "value") == NULL);
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), 409);

    /* Validation: the path names the bad field; no message echoes a value. */
    struct {
        const char *body, *path;
    } bad[] = {
        {"{\"name\": \"1BAD\", \"value\": \"long enough\"}", "/name"},
        {"{\"name\": \"has-dash\", \"value\": \"long enough\"}", "/name"},
        {"{\"name\": \"OK\", \"value\": \"abc\"}", "/value"},
        {"{\"name\": \"OK\", \"value\": 12345}", "/value"},
        {"{\"name\": \"OK\"}", "/value"},
        {"{\"name\": \"OK\", \"value\": \"long enough\", \"extra\": 1}", "/extra"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = call(&w, &e, "POST", p, bad[i].body, &st);
        if (st != 422 || error_path(j) == NULL || strcmp(error_path(j), bad[i].path) != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: %ld %s", bad[i].body, st,
                      error_path(j) ? error_path(j) : "(no path)");
        json_decref(j);
    }

    /* Reads: editors and up see names and masks; a viewer gets 403, a stranger 404. */
    j = call(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 1);
    json_t *item = json_array_get(json_object_get(j, "items"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(item, "mask")), MH_SECRETS_MASK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(item, "description")), "live key");
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/STRIPE_KEY", pa);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 200);
    MH_T_ASSERT_EQ(status_of(&w, &v, "GET", p, NULL), 403);
    MH_T_ASSERT_EQ(status_of(&w, &b, "GET", p, NULL), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    MH_T_ASSERT_EQ(status_of(&w, &v, "GET", p, NULL), 403);
    MH_T_ASSERT_EQ(status_of(&w, &b, "GET", p, NULL), 404);
    snprintf(body, sizeof(body), "{\"name\": \"MINE\", \"value\": \"%s\"}", v3);
    MH_T_ASSERT_EQ(status_of(&w, &v, "POST", p, body), 403);
    MH_T_ASSERT_EQ(status_of(&w, &b, "POST", p, body), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/STRIPE_KEY", pa);
    MH_T_ASSERT_EQ(status_of(&w, &v, "PATCH", p, "{\"description\": \"x\"}"), 403);
    MH_T_ASSERT_EQ(status_of(&w, &v, "DELETE", p, NULL), 403);
    MH_T_ASSERT_EQ(status_of(&w, &b, "DELETE", p, NULL), 404);
    MH_T_ASSERT_EQ(status_of(&w, &b, "PUT", p, body), 404);
    /* The database agrees on its own: the viewer's raw transaction sees no secret rows. */
    struct mh_db_conn *c = NULL;
    MH_T_ASSERT_EQ(mh_db_connect(w.db.app_url, &c, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, v.id, NULL, NULL), MH_OK);
    json_t *rows = NULL;
    MH_T_ASSERT_EQ(mh_db_query(c, "SELECT name FROM secrets", 0, NULL, &rows, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(json_array_size(rows), 0);
    json_decref(rows);
    mh_db_rollback(c);
    mh_db_close(c);

    /* Rotating the value (PATCH), the description alone, PUT replacing and creating. */
    snprintf(body, sizeof(body), "{\"value\": \"%s\"}", v2);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, body), 200);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{\"description\": \"rotated\"}"), 200);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{}"), 422);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/NOPE", pa);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{\"description\": \"x\"}"), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/not-a-name", pa);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/WEBHOOK_TOKEN", pa);
    snprintf(body, sizeof(body), "{\"value\": \"%s\"}", v3);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PUT", p, body), 201);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PUT", p, body), 200);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 204);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 404);

    /* The rotated value is the one that resolves; the old one is gone from the row. */
    struct vault vt;
    const char *flags[] = {"--kek-file", w.kek_path, NULL};
    MH_T_ASSERT_EQ(vault_open(&vt, w.db.app_url, flags, NULL), MH_OK);
    const char *names[] = {"STRIPE_KEY"};
    json_t *values = NULL;
    MH_T_ASSERT_EQ(resolve(&vt, pa, names, 1, NULL, &values, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(values, "STRIPE_KEY")), v2);
    mh_secrets_values_free(values);
    vault_close(&vt);

    /* Every write is in the audit log, by whom, and none carries a value. */
    const char *ap[] = {pa};
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE project_id = $1 AND "
                             "action LIKE 'secret.%'",
                             1, ap),
                   7);
    rows = mh_it_sql(w.db.admin_url,
                     "SELECT action, target, actor_user_id, detail FROM audit_log WHERE "
                     "project_id = $1 AND action LIKE 'secret.%' ORDER BY chain_seq",
                     1, ap, NULL);
    const char *want[][3] = {
        {"secret.create", "STRIPE_KEY", e.id},    {"secret.update", "STRIPE_KEY", e.id},
        {"secret.update", "STRIPE_KEY", e.id},    {"secret.create", "WEBHOOK_TOKEN", a.id},
        {"secret.update", "WEBHOOK_TOKEN", a.id}, {"secret.delete", "WEBHOOK_TOKEN", e.id},
        {"secret.decrypt", "STRIPE_KEY", NULL},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        json_t *r = json_array_get(rows, i);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "action")), want[i][0]);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "target")), want[i][1]);
        if (want[i][2])
            MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "actor_user_id")), want[i][2]);
    }
    json_decref(rows);
    assert_db_clean(&w);

    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
    char *log = mh_it_server_log(&w.s);
    assert_clean(log, "the server log");
    MH_T_ASSERT(strstr(log, "key-encryption key 'k1' seals new secrets") != NULL);
    free(log);
    unlink(w.kek_path);
}

MH_TEST(without_a_kek_writes_answer_503)
{
    struct world w;
    start(&w, false);
    struct who a;
    person(&w, "a@example.com", &a);
    char pa[40], p[256];
    create_project(&w, &a, "A", pa);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    long st;
    json_t *j = call(&w, &a, "POST", p, "{\"name\": \"X\", \"value\": \"long enough\"}", &st);
    MH_T_ASSERT_EQ(st, 503);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                       "no_kek");
    MH_T_ASSERT(strstr(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                       "no key-encryption key configured") != NULL);
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", p, NULL), 200);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/X", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PUT", p, "{\"value\": \"long enough\"}"), 503);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", p, NULL), 404);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
    char *log = mh_it_server_log(&w.s);
    MH_T_ASSERT(strstr(log, "no key-encryption key configured") != NULL);
    free(log);
}

MH_TEST(resolve_audits_each_decryption_and_refuses_tampered_rows)
{
    static const char va[] = "alpha-secret-Qm4Xr7Vb";
    static const char vb[] = "bravo-secret-Kp2Wd9Ls";
    watch(va);
    watch(vb);
    struct world w;
    start(&w, true);
    struct who a;
    person(&w, "a@example.com", &a);
    char pa[40], pq[40], p[256], body[256];
    create_project(&w, &a, "A", pa);
    create_project(&w, &a, "Q", pq);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    snprintf(body, sizeof(body), "{\"name\": \"ALPHA\", \"value\": \"%s\"}", va);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), 201);
    snprintf(body, sizeof(body), "{\"name\": \"BRAVO\", \"value\": \"%s\"}", vb);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), 201);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    struct vault vt;
    const char *flags[] = {"--kek-file", w.kek_path, NULL};
    MH_T_ASSERT_EQ(vault_open(&vt, w.db.app_url, flags, NULL), MH_OK);
    const char *run = "6f1c2b1e-0000-4000-8000-000000000001";
    const char *names[] = {"ALPHA", "BRAVO", "ALPHA"};
    json_t *values = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(resolve(&vt, pa, names, 3, run, &values, &info), MH_OK);
    MH_T_ASSERT_EQ(json_object_size(values), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(values, "ALPHA")), va);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(values, "BRAVO")), vb);
    /* The replacer built from them hides both in a response. */
    struct mh_redact_secrets *sr = NULL;
    MH_T_ASSERT_EQ(mh_secrets_redactor_create(values, &sr, NULL), MH_OK);
    char echo[160], *clean = NULL;
    snprintf(echo, sizeof(echo), "{\"auth\": \"%s\", \"other\": \"x%sx\"}", va, vb);
    MH_T_ASSERT_EQ(mh_redact_secrets_string(sr, echo, strlen(echo), &clean, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(clean, "{\"auth\": \"[secret:ALPHA]\", \"other\": \"x[secret:BRAVO]x\"}");
    free(clean);
    mh_redact_secrets_destroy(sr);
    mh_secrets_values_free(values);

    /* One audit entry per decrypted secret, naming the run. */
    const char *ap[] = {pa};
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT actor, target, detail->>'run_id' AS run FROM audit_log "
                             "WHERE project_id = $1 AND action = 'secret.decrypt' ORDER BY "
                             "chain_seq",
                             1, ap, NULL);
    MH_T_ASSERT_EQ(json_array_size(rows), 2);
    char actor[64];
    snprintf(actor, sizeof(actor), "run:%s", run);
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(rows, i);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "actor")), actor);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "run")), run);
        MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r, "target")), names[i]);
    }
    json_decref(rows);

    /* A missing secret: a clear error naming it, and nothing decrypted or audited. */
    const char *missing[] = {"ALPHA", "NOT_THERE"};
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(resolve(&vt, pa, missing, 2, run, &values, &info), MH_ENOTFOUND);
    MH_T_ASSERT(values == NULL);
    MH_T_ASSERT(strstr(info.message, "'NOT_THERE'") != NULL);
    MH_T_ASSERT_STR_EQ(info.path, "secrets.NOT_THERE");
    /* Another project's secrets are not there either. */
    MH_T_ASSERT_EQ(resolve(&vt, pq, names, 1, run, &values, &info), MH_ENOTFOUND);
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = "
                             "'secret.decrypt'",
                             0, NULL),
                   2);

    /* Swapping the sealed blobs of two rows: neither opens, and nothing leaks. */
    mh_it_sql_script(w.db.admin_url, "UPDATE secrets s SET sealed = o.sealed FROM secrets o WHERE "
                                     "s.project_id = o.project_id AND s.name <> o.name");
    for (size_t i = 0; i < 2; i++) {
        info = (struct mh_err_info)MH_ERR_INFO_INIT;
        MH_T_ASSERT_EQ(resolve(&vt, pa, names + i, 1, run, &values, &info), MH_ECRYPTO);
        MH_T_ASSERT(values == NULL);
        MH_T_ASSERT_STR_EQ(info.kind, "unwrap-failed");
        MH_T_ASSERT(strstr(info.message, names[i]) != NULL);
        assert_clean(info.message, "an error message");
    }
    /* Swap back, then move a row to another project: it does not open there. */
    mh_it_sql_script(w.db.admin_url, "UPDATE secrets s SET sealed = o.sealed FROM secrets o WHERE "
                                     "s.project_id = o.project_id AND s.name <> o.name");
    MH_T_ASSERT_EQ(resolve(&vt, pa, names, 2, run, &values, NULL), MH_OK);
    mh_secrets_values_free(values);
    const char *mv[] = {pq, pa};
    json_decref(mh_it_sql(w.db.admin_url,
                          "UPDATE secrets SET project_id = $1 WHERE project_id = $2 AND name = "
                          "'BRAVO' RETURNING id",
                          2, mv, NULL));
    const char *bravo[] = {"BRAVO"};
    MH_T_ASSERT_EQ(resolve(&vt, pq, bravo, 1, run, &values, &info), MH_ECRYPTO);
    /* A flipped ciphertext byte (the last byte of the value) fails authentication. */
    mh_it_sql_script(w.db.admin_url,
                     "UPDATE secrets SET sealed = set_byte(sealed, length(sealed) - 1, "
                     "get_byte(sealed, length(sealed) - 1) # 1) WHERE name = 'ALPHA'");
    const char *alpha[] = {"ALPHA"};
    info = (struct mh_err_info)MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(resolve(&vt, pa, alpha, 1, run, &values, &info), MH_ECRYPTO);
    MH_T_ASSERT_STR_EQ(info.kind, "decrypt-failed");
    /* No further decryption was audited. */
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = "
                             "'secret.decrypt'",
                             0, NULL),
                   4);
    vault_close(&vt);
    assert_db_clean(&w);
    unlink(w.kek_path);
}

MH_TEST(server_refuses_to_start_without_the_key_ids_in_use)
{
    struct world w;
    start(&w, true);
    struct who a;
    person(&w, "a@example.com", &a);
    char pa[40], p[256];
    create_project(&w, &a, "A", pa);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    MH_T_ASSERT_EQ(
        status_of(&w, &a, "POST", p, "{\"name\": \"ONE\", \"value\": \"first value 1\"}"), 201);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    /* Another key with another id: refused, naming the missing id. */
    char k2[256], k1_other[256], *out = NULL;
    make_kek_file(k2, sizeof(k2), "k2");
    const char *serve_k2[] = {"serve",     "--port",    "0", "--bind-address",
                              "127.0.0.1", "--workers", "0", "--kek-file",
                              k2,          NULL};
    MH_T_ASSERT_EQ(mh_it_run(&w.db, serve_k2, &out), 1);
    MH_T_ASSERT(strstr(out, "refusing to start") != NULL);
    MH_T_ASSERT(strstr(out, "id(s) k1") != NULL);
    MH_T_ASSERT(strstr(out, "k2 (current)") != NULL);
    free(out);
    /* The right id with other key bytes: refused too. */
    make_kek_file(k1_other, sizeof(k1_other), "k1");
    const char *serve_wrong[] = {"serve",     "--port", "0",          "--bind-address", "127.0.0.1",
                                 "--workers", "0",      "--kek-file", k1_other,         NULL};
    MH_T_ASSERT_EQ(mh_it_run(&w.db, serve_wrong, &out), 1);
    MH_T_ASSERT(strstr(out, "does not unwrap") != NULL);
    MH_T_ASSERT(strstr(out, "'k1'") != NULL);
    free(out);
    /* No key at all: refused as well, since secrets exist. */
    const char *serve_none[] = {"serve",     "--port",    "0", "--bind-address",
                                "127.0.0.1", "--workers", "0", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&w.db, serve_none, &out), 1);
    MH_T_ASSERT(strstr(out, "k1") != NULL);
    free(out);
    /* Bad configuration is refused before anything else. */
    const char *serve_bad[] = {"serve", "--port", "0", "--kek-file", k2, "--kek-id", "other", NULL};
    MH_T_ASSERT_EQ(mh_it_run(&w.db, serve_bad, &out), 1);
    MH_T_ASSERT(strstr(out, "kek_id is 'other' but the key itself names the id 'k2'") != NULL);
    free(out);

    /* The new key current and the old one readable: it starts, and new values use k2. */
    char old_files[300];
    snprintf(old_files, sizeof(old_files), "k1=%s", w.kek_path);
    const char *both[] = {"--kek-file", k2, "--old-kek-files", old_files, "--workers", "0", NULL};
    mh_it_server_start(&w.s, &w.db, both);
    MH_T_ASSERT_EQ(
        status_of(&w, &a, "POST", p, "{\"name\": \"TWO\", \"value\": \"second value 2\"}"), 201);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM secrets WHERE name = 'TWO' AND kek_id = "
                             "'k2'",
                             0, NULL),
                   1);
    unlink(k2);
    unlink(k1_other);
    unlink(w.kek_path);
}

/* Seals `n` secrets "S000".. with values "value-<i>-<tag>" under the vault's current key and
 * inserts them as the owner, spread over the projects in `pids`. */
static void seed_secrets(const struct mh_it_db *db, struct vault *v, char pids[][40], size_t np,
                         int n, const char *tag)
{
    json_t *rows = json_array();
    for (int i = 0; i < n; i++) {
        char name[16], value[64];
        snprintf(name, sizeof(name), "S%03d", i);
        snprintf(value, sizeof(value), "value-%d-%s", i, tag);
        const char *pid = pids[(size_t)i % np];
        char *sealed = NULL;
        const char *kek_id = NULL;
        MH_T_ASSERT_EQ(
            mh_secrets_seal(v->secrets, pid, name, value, strlen(value), &sealed, &kek_id, NULL),
            MH_OK);
        json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s}", "project_id", pid, "name",
                                              name, "kek_id", kek_id, "sealed", sealed + 2));
        free(sealed);
    }
    char *s = json_dumps(rows, JSON_COMPACT);
    const char *params[] = {s};
    json_t *r = mh_it_sql(db->admin_url,
                          "INSERT INTO secrets (project_id, name, kek_id, sealed) SELECT "
                          "v.project_id, v.name, v.kek_id, decode(v.sealed, 'hex') FROM "
                          "jsonb_to_recordset($1::jsonb) AS v(project_id uuid, name text, kek_id "
                          "text, sealed text) RETURNING id",
                          1, params, NULL);
    MH_T_ASSERT_EQ(json_array_size(r), (size_t)n);
    json_decref(r);
    free(s);
    json_decref(rows);
}

/* Every seeded secret opens through `v` with its expected value. */
static void assert_all_open(struct vault *v, char pids[][40], size_t np, int n, const char *tag)
{
    for (size_t k = 0; k < np; k++) {
        const char *names[256];
        char bufs[256][16];
        size_t cnt = 0;
        for (int i = (int)k; i < n; i += (int)np) {
            snprintf(bufs[cnt], sizeof(bufs[cnt]), "S%03d", i);
            names[cnt] = bufs[cnt];
            cnt++;
        }
        json_t *values = NULL;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        if (resolve(v, pids[k], names, cnt, NULL, &values, &info) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "resolve in project %zu: %s", k, info.message);
        MH_T_ASSERT_EQ(json_object_size(values), cnt);
        for (int i = (int)k; i < n; i += (int)np) {
            char name[16], want[64];
            snprintf(name, sizeof(name), "S%03d", i);
            snprintf(want, sizeof(want), "value-%d-%s", i, tag);
            MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(values, name)), want);
        }
        mh_secrets_values_free(values);
    }
}

/* Starts `meshhook` with `args` in the background, output to `out_path`. */
static pid_t spawn(const struct mh_it_db *db, const char *const *args, const char *out_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        setenv("MESHHOOK_DATABASE_URL", db->app_url, 1);
        setenv("MESHHOOK_ADMIN_DATABASE_URL", db->admin_url, 1);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        const char *bin = getenv("MH_MESHHOOK_BIN");
        const char *argv[16] = {bin ? bin : "build/asan/meshhook"};
        int n = 1;
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

MH_TEST(rotation_killed_midway_leaves_every_secret_readable_then_completes)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    char k1[256], k2[256], tag[24];
    make_kek_file(k1, sizeof(k1), "k1");
    make_kek_file(k2, sizeof(k2), "k2");
    snprintf(tag, sizeof(tag), "%ld", (long)getpid());
    char pids[3][40];
    for (int i = 0; i < 3; i++) {
        json_t *r = mh_it_sql(db.admin_url, "INSERT INTO projects (name) VALUES ('p') RETURNING id",
                              0, NULL, NULL);
        snprintf(pids[i], sizeof(pids[i]), "%s",
                 json_string_value(json_object_get(json_array_get(r, 0), "id")));
        json_decref(r);
    }
    const int n = 200;
    struct vault old_vault;
    const char *old_flags[] = {"--kek-file", k1, NULL};
    MH_T_ASSERT_EQ(vault_open(&old_vault, db.app_url, old_flags, NULL), MH_OK);
    seed_secrets(&db, &old_vault, pids, 3, n, tag);

    /* Hold a lock on the 150th row in the order the rotation walks: its first batch (100 rows)
     * is re-wrapped, then it blocks inside its transaction. */
    struct mh_db_conn *locker = NULL;
    MH_T_ASSERT_EQ(mh_db_connect(db.admin_url, &locker, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(locker, NULL, NULL, NULL), MH_OK);
    json_t *locked = NULL;
    MH_T_ASSERT_EQ(mh_db_query(locker,
                               "SELECT id FROM secrets WHERE id = (SELECT id FROM secrets ORDER "
                               "BY id OFFSET 149 LIMIT 1) FOR UPDATE",
                               0, NULL, &locked, NULL, NULL),
                   MH_OK);
    MH_T_ASSERT_EQ(json_array_size(locked), 1);
    json_decref(locked);

    char out_path[] = "/tmp/mh-it-rotate-XXXXXX";
    int ofd = mkstemp(out_path);
    MH_T_ASSERT(ofd >= 0);
    close(ofd);
    const char *rotate[] = {"kek", "rotate", "--new-key-file", k2, "--kek-file", k1, NULL};
    pid_t pid = spawn(&db, rotate, out_path);
    /* Wait until its backend waits on our lock, with the first batch reported done. */
    long backend = 0;
    char *out = NULL;
    for (int i = 0; i < 1500 && backend == 0; i++) {
        json_t *r = mh_it_sql(db.admin_url,
                              "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                              "AND wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%' AND pid "
                              "<> pg_backend_pid()",
                              0, NULL, NULL);
        backend = (long)json_integer_value(json_object_get(json_array_get(r, 0), "pid"));
        json_decref(r);
        if (backend == 0)
            mh_it_sleep_ms(10);
    }
    MH_T_ASSERT(backend != 0);
    for (int i = 0; i < 500; i++) {
        free(out);
        out = read_file(out_path);
        if (strstr(out, "re-wrapped 100 secret(s) so far"))
            break;
        mh_it_sleep_ms(10);
    }
    MH_T_ASSERT(strstr(out, "re-wrapped 100 secret(s) so far") != NULL);
    free(out);
    MH_T_ASSERT_EQ(kill(pid, SIGKILL), 0);
    int wst = 0;
    MH_T_ASSERT_EQ(waitpid(pid, &wst, 0), pid);
    MH_T_ASSERT(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);

    /* Killed in the middle: with its 100 re-wrapped rows still locked and uncommitted, every
     * secret opens with the old key alone. */
    assert_all_open(&old_vault, pids, 3, n, tag);
    mh_db_rollback(locker);
    mh_db_close(locker);
    /* Its orphaned backend then fails to answer the dead client and rolls back. */
    char backend_s[24];
    snprintf(backend_s, sizeof(backend_s), "%ld", backend);
    const char *bp[] = {backend_s};
    long alive = 1;
    for (int i = 0; i < 1000 && alive; i++) {
        alive = count_sql(db.admin_url,
                          "SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1::int", 1, bp);
        if (alive)
            mh_it_sleep_ms(10);
    }
    MH_T_ASSERT_EQ(alive, 0);
    MH_T_ASSERT_EQ(
        count_sql(db.admin_url, "SELECT count(*) AS n FROM secrets WHERE kek_id = 'k1'", 0, NULL),
        n);
    assert_all_open(&old_vault, pids, 3, n, tag);
    MH_T_ASSERT_EQ(count_sql(db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = 'kek.rotate'", 0,
                             NULL),
                   0);

    /* kek status names the id in use and says whether this configuration holds it. */
    const char *status_k2[] = {"kek", "status", "--kek-file", k2, NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, status_k2, &out), 1);
    MH_T_ASSERT(strstr(out, "kek_id=k1 secrets=200 projects=3 NOT CONFIGURED") != NULL);
    free(out);

    /* Completing it: every secret moves to k2 in one go. */
    if (mh_it_run(&db, rotate, &out) != 0)
        mh_t_fail(__FILE__, __LINE__, "kek rotate failed:\n%s", out);
    MH_T_ASSERT(strstr(out, "re-wrapped 200 secret(s) in 3 project(s) from k1 to key id 'k2'") !=
                NULL);
    free(out);
    struct vault new_vault;
    const char *new_flags[] = {"--kek-file", k2, NULL};
    MH_T_ASSERT_EQ(vault_open(&new_vault, db.app_url, new_flags, NULL), MH_OK);
    assert_all_open(&new_vault, pids, 3, n, tag);
    /* The old key alone opens nothing now, and a server with only it refuses to start. */
    const char *one[] = {"S000"};
    json_t *values = NULL;
    MH_T_ASSERT_EQ(resolve(&old_vault, pids[0], one, 1, NULL, &values, NULL), MH_ECRYPTO);
    struct vault stale;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(vault_open(&stale, db.app_url, old_flags, &info), MH_ECRYPTO);
    MH_T_ASSERT(strstr(info.message, "k2") != NULL);
    vault_close(&stale);
    MH_T_ASSERT_EQ(mh_it_run(&db, status_k2, &out), 0);
    MH_T_ASSERT(strstr(out, "kek_id=k2 secrets=200 projects=3 configured, current") != NULL);
    MH_T_ASSERT(strstr(out, "kek_id=k1") == NULL);
    free(out);
    /* Idempotent. */
    MH_T_ASSERT_EQ(mh_it_run(&db, rotate, &out), 0);
    MH_T_ASSERT(strstr(out, "re-wrapped 0 secret(s)") != NULL);
    MH_T_ASSERT(strstr(out, "200 were under it already") != NULL);
    free(out);
    /* Audited per project and once globally. */
    MH_T_ASSERT_EQ(count_sql(db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE action = 'kek.rotate'", 0,
                             NULL),
                   4);
    /* A rotation lacking the key the secrets are under refuses before writing anything. */
    char k3[256];
    make_kek_file(k3, sizeof(k3), "k3");
    const char *rotate_blind[] = {"kek", "rotate", "--new-key-file", k3, "--kek-file", k1, NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, rotate_blind, &out), 1);
    MH_T_ASSERT(strstr(out, "key id(s) k2, which are not configured") != NULL);
    free(out);
    /* A new key reusing a configured id with other key bytes is refused. */
    char k2b[256];
    make_kek_file(k2b, sizeof(k2b), "k2");
    const char *rotate_same_id[] = {"kek", "rotate", "--new-key-file", k2b, "--kek-file", k2, NULL};
    MH_T_ASSERT_EQ(mh_it_run(&db, rotate_same_id, &out), 1);
    MH_T_ASSERT(strstr(out, "already has the id 'k2' with other key bytes") != NULL);
    free(out);
    unlink(k2b);
    vault_close(&new_vault);
    vault_close(&old_vault);
    unlink(out_path);
    unlink(k1);
    unlink(k2);
    unlink(k3);
}

MH_TEST(privacy_settings_are_validated_and_map_pii_read)
{
    struct world w;
    start(&w, false);
    struct who a, e, v;
    person(&w, "a@example.com", &a);
    person(&w, "e@example.com", &e);
    person(&w, "v@example.com", &v);
    char pa[40], p[256];
    create_project(&w, &a, "A", pa);
    add_member(&w, &a, pa, &e, "editor");
    add_member(&w, &a, pa, &v, "viewer");
    snprintf(p, sizeof(p), "/api/projects/%s/privacy", pa);
    long st;
    json_t *j = call(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "logs")), 8);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "events")), 8);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "artifacts")), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "pii_read_role")), "admin");
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 403);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PUT", p, "{}"), 403);

    struct {
        const char *body, *path;
    } bad[] = {
        {"{\"custom\": [{\"name\": \"ok\", \"pattern\": \"a+\"}, {\"name\": \"pin\", "
         "\"pattern\": \"pin=(\\\\d+\"}]}",
         "/custom/1/pattern"},
        {"{\"custom\": [{\"name\": \"Bad Name\", \"pattern\": \"a\"}]}", "/custom/0/name"},
        {"{\"custom\": [{\"name\": \"email\", \"pattern\": \"a\"}]}", "/custom/0/name"},
        {"{\"custom\": [{\"name\": \"x\", \"pattern\": \"a\", \"flags\": \"i\"}]}", "/custom/0"},
        {"{\"custom\": {\"name\": \"x\"}}", "/custom"},
        {"{\"logs\": [\"email\", \"phone\", \"nonsense\"]}", "/logs/2"},
        {"{\"artifacts\": [\"pin\"]}", "/artifacts/0"},
        {"{\"events\": \"email\"}", "/events"},
        {"{\"pii_read_role\": \"god\"}", "/pii_read_role"},
        {"{\"colour\": \"blue\"}", "/colour"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = call(&w, &a, "PUT", p, bad[i].body, &st);
        if (st != 422 || error_path(j) == NULL || strcmp(error_path(j), bad[i].path) != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: %ld %s", bad[i].body, st,
                      error_path(j) ? error_path(j) : "(no path)");
        json_decref(j);
    }
    /* The viewer holds no pii:read by default. */
    struct mh_db_conn *c = NULL;
    bool can = true;
    MH_T_ASSERT_EQ(mh_db_connect(w.db.app_url, &c, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, v.id, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_can_read_pii(c, pa, &can, NULL), MH_OK);
    MH_T_ASSERT(!can);
    mh_db_rollback(c);
    MH_T_ASSERT_EQ(mh_db_begin(c, a.id, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_can_read_pii(c, pa, &can, NULL), MH_OK);
    MH_T_ASSERT(can);
    mh_db_rollback(c);

    /* With the defaults, an editor (below pii:read) is shown event payloads redacted. */
    json_t *payload = json_pack("{s:s, s:s}", "email", "a@b.example", "card", "4111111111111111");
    json_t *seen = NULL;
    bool red_flag = false;
    MH_T_ASSERT_EQ(mh_db_begin(c, e.id, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_privacy_view(c, pa, payload, &seen, &red_flag, NULL), MH_OK);
    MH_T_ASSERT(red_flag);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(seen, "card")), "[redacted:card]");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(seen, "email")), "[redacted:email]");
    json_decref(seen);
    mh_db_rollback(c);

    const char *good = "{\"logs\": [\"email\", \"pin\", \"email\"], \"events\": [\"card\", "
                       "\"pin\"], \"artifacts\": [\"bearer\"], \"custom\": [{\"name\": \"pin\", "
                       "\"pattern\": \"order-pin=(?<redact>\\\\d+)\"}], \"pii_read_role\": "
                       "\"viewer\"}";
    j = call(&w, &a, "PUT", p, good, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "logs")), 2);
    json_decref(j);
    j = call(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "pii_read_role")), "viewer");
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "custom"), 0), "name")),
        "pin");
    /* The stored settings build per-target redactors. */
    struct mh_redactor *r = NULL;
    char *red = NULL;
    const char *text = "mail a@b.example, order-pin=4321, card 4111 1111 1111 1111";
    MH_T_ASSERT_EQ(mh_secrets_privacy_redactor(j, MH_PRIVACY_LOGS, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_redact_string(r, text, strlen(text), &red, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(red,
                       "mail [redacted:email], order-pin=[redacted:pin], card 4111 1111 1111 1111");
    free(red);
    mh_redact_destroy(r);
    MH_T_ASSERT_EQ(mh_secrets_privacy_redactor(j, MH_PRIVACY_EVENTS, &r, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_redact_string(r, text, strlen(text), &red, NULL, NULL), MH_OK);
    MH_T_ASSERT_STR_EQ(red, "mail a@b.example, order-pin=[redacted:pin], card [redacted:card]");
    free(red);
    mh_redact_destroy(r);
    json_decref(j);
    /* pii_read_role viewer: now the viewer holds pii:read and sees event payloads whole. */
    json_t *shown = NULL;
    bool was_redacted = true;
    MH_T_ASSERT_EQ(mh_db_begin(c, v.id, NULL, NULL), MH_OK);
    MH_T_ASSERT_EQ(mh_secrets_can_read_pii(c, pa, &can, NULL), MH_OK);
    MH_T_ASSERT(can);
    MH_T_ASSERT_EQ(mh_secrets_privacy_view(c, pa, payload, &shown, &was_redacted, NULL), MH_OK);
    MH_T_ASSERT(!was_redacted);
    MH_T_ASSERT(shown == payload);
    json_decref(shown);
    mh_db_rollback(c);
    json_decref(payload);
    mh_db_close(c);
    const char *ap[] = {pa};
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url,
                             "SELECT count(*) AS n FROM audit_log WHERE project_id = $1 AND "
                             "action = 'privacy.update'",
                             1, ap),
                   1);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/* The secrets page's questions (issue 17): where each secret is used, by the draft and by the
 * latest published version of every workflow; when it was last decrypted (from the audit log,
 * which editors cannot read otherwise); the privacy tester, with the stored rules and with an
 * edited document; and the audit log's filters. */
MH_TEST(usage_last_use_privacy_tester_and_audit_filters)
{
    static const char va[] = "alpha-secret-Zr8Tq3Hn";
    static const char vb[] = "bravo-secret-Yw5Lc1Pd";
    watch(va);
    watch(vb);
    struct world w;
    start(&w, true);
    struct who a, e, v;
    person(&w, "owner@example.com", &a);
    person(&w, "editor@example.com", &e);
    person(&w, "viewer@example.com", &v);
    char pa[40], p[256], body[1024];
    create_project(&w, &a, "A", pa);
    add_member(&w, &a, pa, &e, "editor");
    add_member(&w, &a, pa, &v, "viewer");
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    snprintf(body, sizeof(body), "{\"name\": \"ALPHA\", \"value\": \"%s\"}", va);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), 201);
    snprintf(body, sizeof(body), "{\"name\": \"BRAVO\", \"value\": \"%s\"}", vb);
    MH_T_ASSERT_EQ(status_of(&w, &e, "POST", p, body), 201);

    /* A workflow whose http_call sends ALPHA in a header and is signed with BRAVO. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
    long st;
    json_t *j = call(
        &w, &e, "POST", p,
        "{\"name\": \"Orders\", \"definition\": {\"nodes\": [{\"id\": \"notify\", \"type\": "
        "\"http_call\", \"config\": {\"url\": \"https://api.example.test/hook\", \"headers\": "
        "{\"Authorization\": \"Bearer {{ secrets.ALPHA }}\"}, \"sign\": {\"secret\": \"BRAVO\"}}}, "
        "{\"id\": \"t\", \"type\": \"transform\", \"config\": {\"expression\": "
        "\"trigger.body\"}}], "
        "\"edges\": [{\"from\": \"t\", \"to\": \"notify\"}]}}",
        &st);
    MH_T_ASSERT_EQ(st, 201);
    char wid[40];
    snprintf(wid, sizeof(wid), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/secret-usage", pa);
    j = call(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *alpha = json_array_get(json_object_get(json_object_get(j, "usage"), "ALPHA"), 0);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(alpha, "workflow_id")), wid);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(alpha, "workflow_name")), "Orders");
    MH_T_ASSERT_STR_EQ(json_string_value(json_array_get(json_object_get(alpha, "draft_nodes"), 0)),
                       "notify");
    MH_T_ASSERT_EQ(json_array_size(json_object_get(alpha, "published_nodes")), 0);
    MH_T_ASSERT(json_is_null(json_object_get(alpha, "published_version")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(json_object_get(j, "usage"), "BRAVO")), 1);
    json_decref(j);
    /* Published: the version names them too. A viewer may not ask. */
    char pp[256];
    snprintf(pp, sizeof(pp), "/api/projects/%s/workflows/%s/publish", pa, wid);
    MH_T_ASSERT_EQ(status_of(&w, &e, "POST", pp, "{}"), 201);
    j = call(&w, &a, "GET", p, NULL, &st);
    alpha = json_array_get(json_object_get(json_object_get(j, "usage"), "ALPHA"), 0);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(alpha, "published_version")), 1);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_array_get(json_object_get(alpha, "published_nodes"), 0)), "notify");
    json_decref(j);
    long vs = status_of(&w, &v, "GET", p, NULL);
    MH_T_ASSERT(vs == 403 || vs == 404);

    /* Last decrypted: none yet; after a run resolves ALPHA, the editor sees when. */
    snprintf(p, sizeof(p), "/api/projects/%s/secrets/ALPHA", pa);
    j = call(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_null(json_object_get(j, "last_used_at")));
    json_decref(j);
    struct vault vt;
    const char *flags[] = {"--kek-file", w.kek_path, NULL};
    MH_T_ASSERT_EQ(vault_open(&vt, w.db.app_url, flags, NULL), MH_OK);
    const char *names[] = {"ALPHA"};
    json_t *values = NULL;
    MH_T_ASSERT_EQ(
        resolve(&vt, pa, names, 1, "6f1c2b1e-0000-4000-8000-000000000002", &values, NULL), MH_OK);
    mh_secrets_values_free(values);
    vault_close(&vt);
    snprintf(p, sizeof(p), "/api/projects/%s/secrets", pa);
    j = call(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *items = json_object_get(j, "items");
    MH_T_ASSERT_EQ(json_array_size(items), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(items, 0), "name")),
                       "ALPHA");
    MH_T_ASSERT(json_is_string(json_object_get(json_array_get(items, 0), "last_used_at")));
    MH_T_ASSERT(json_is_null(json_object_get(json_array_get(items, 1), "last_used_at")));
    json_decref(j);

    /* The privacy tester: the stored (default) rules, then an edited document. */
    snprintf(p, sizeof(p), "/api/projects/%s/privacy/test", pa);
    j = call(&w, &a, "POST", p,
             "{\"data\": {\"email\": \"jane@example.com\", \"note\": \"order-pin=4821\"}}", &st);
    MH_T_ASSERT_EQ(st, 200);
    const char *red = json_string_value(json_object_get(json_object_get(j, "redacted"), "email"));
    MH_T_ASSERT(red != NULL && strstr(red, "jane@example.com") == NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "redacted"), "note")),
                       "order-pin=4821");
    MH_T_ASSERT(json_integer_value(json_object_get(j, "redactions")) >= 1);
    json_decref(j);
    j = call(&w, &a, "POST", p,
             "{\"target\": \"events\", \"data\": {\"note\": \"order-pin=4821\"}, \"settings\": "
             "{\"events\": [\"order_pin\"], \"custom\": [{\"name\": \"order_pin\", \"pattern\": "
             "\"order-pin=(?<redact>\\\\d+)\"}]}}",
             &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "redacted"), "note")),
                       "order-pin=[redacted:order_pin]");
    json_decref(j);
    /* Nothing was stored by trying. */
    MH_T_ASSERT_EQ(count_sql(w.db.admin_url, "SELECT count(*) AS n FROM project_privacy", 0, NULL),
                   0);
    j = call(&w, &a, "POST", p,
             "{\"data\": 1, \"settings\": {\"custom\": [{\"name\": \"bad\", \"pattern\": \"(\"}]}}",
             &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/settings/custom/0/pattern");
    json_decref(j);
    j = call(&w, &a, "POST", p, "{\"data\": 1, \"target\": \"disk\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/target");
    json_decref(j);
    j = call(&w, &a, "POST", p, "{\"target\": \"logs\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/data");
    json_decref(j);
    long es = status_of(&w, &e, "POST", p, "{\"data\": 1}");
    MH_T_ASSERT(es == 403 || es == 404);

    /* The audit log's filters. */
    char q[400];
    snprintf(q, sizeof(q), "/api/projects/%s/audit?action=secret.create", pa);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 2);
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?action=secret.", pa);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 3); /* 2 creates, 1 decrypt */
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?actor_kind=run", pa);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_array_get(json_object_get(j, "items"), 0), "action")),
                       "secret.decrypt");
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?actor_user_id=%s&action=secret.create", pa,
             e.id);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(
                           json_array_get(json_object_get(j, "items"), 0), "target")),
                       "BRAVO");
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?since=2999-01-01T00:00:00Z", pa);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?since=yesterday", pa);
    j = call(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "?since");
    json_decref(j);
    snprintf(q, sizeof(q), "/api/projects/%s/audit?actor_kind=robot", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", q, NULL), 422);
    assert_db_clean(&w);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}
