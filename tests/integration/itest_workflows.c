/* SPDX-License-Identifier: MIT */
/*
 * The workflows and versions API over the real server: every endpoint with an owner (A), an
 * editor (E) and a viewer (V) of project A and a stranger (B, owner of project B); validation
 * errors with their JSON paths and offsets (the engine's own fixtures in tests/data/engine);
 * publishing v1, v2 under concurrent publishers; immutability of published versions down to the
 * database; export and import; size limits. Identities get their API tokens straight from SQL,
 * which keeps argon2 out of the test's time.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "itest.h"

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
};

struct who {
    char id[40];
    char bearer[128]; /* "Authorization: Bearer mh_..." */
};

/* Every server here accepts bodies up to 4 MiB, so that the definition limit (1 MiB) is what
 * refuses a big definition, not the body limit. */
static void start(struct world *w)
{
    static const char *const extra[] = {"--max-body-bytes", "4194304", NULL};
    mh_it_db_create(&w->db, true);
    mh_it_server_start(&w->s, &w->db, extra);
}

static void stop(struct world *w)
{
    MH_T_ASSERT_EQ(mh_it_server_stop(&w->s, SIGTERM), 0);
}

/* Performs a request as `u` (NULL: anonymous); returns the parsed body (new reference, may be
 * NULL) and the status. */
static json_t *as(const struct world *w, const struct who *u, const char *method, const char *path,
                  const char *body, long *status)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", w->s.base, path);
    const char *h[] = {"Content-Type: application/json", u ? u->bearer : NULL, NULL};
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    json_t *j = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return j;
}

static long status_of(const struct world *w, const struct who *u, const char *method,
                      const char *path, const char *body)
{
    long st;
    json_decref(as(w, u, method, path, body, &st));
    return st;
}

/* Copies `tpl` into `out`, replacing its "%s" (if any) with `id`. */
static void expand(char *out, size_t cap, const char *tpl, const char *id)
{
    const char *hole = strstr(tpl, "%s");
    if (hole == NULL)
        snprintf(out, cap, "%s", tpl);
    else
        snprintf(out, cap, "%.*s%s%s", (int)(hole - tpl), tpl, id, hole + 2);
}

/* The error code of an error body, or "". */
static const char *error_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c ? c : "";
}

static const char *error_path(json_t *j)
{
    const char *p = json_string_value(json_object_get(json_object_get(j, "error"), "path"));
    return p ? p : "(none)";
}

/* A user with an API token, both made directly in the database. */
static void person(const struct world *w, const char *email, struct who *u)
{
    static int serial;
    char token[64];
    snprintf(token, sizeof(token), "mh_%043d", ++serial);
    const char *params[] = {email};
    json_t *rows = mh_it_sql(w->db.admin_url,
                             "INSERT INTO users (email, password_hash) VALUES ($1, 'x') "
                             "RETURNING id",
                             1, params, NULL);
    MH_T_ASSERT(rows != NULL);
    snprintf(u->id, sizeof(u->id), "%s",
             json_string_value(json_object_get(json_array_get(rows, 0), "id")));
    json_decref(rows);
    const char *tparams[] = {u->id, token};
    rows = mh_it_sql(w->db.admin_url,
                     "INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES ($1, "
                     "'test', sha256(convert_to($2, 'UTF8')), left($2, 8))",
                     2, tparams, NULL);
    MH_T_ASSERT(rows != NULL);
    json_decref(rows);
    snprintf(u->bearer, sizeof(u->bearer), "Authorization: Bearer %s", token);
}

static void create_project(const struct world *w, const struct who *u, char *id)
{
    long st;
    json_t *j = as(w, u, "POST", "/api/projects", "{\"name\": \"P\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
}

static void add_member(const struct world *w, const char *pid, const struct who *u,
                       const char *role)
{
    const char *params[] = {pid, u->id, role};
    json_t *rows = mh_it_sql(w->db.admin_url,
                             "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, "
                             "$3)",
                             3, params, NULL);
    MH_T_ASSERT(rows != NULL);
    json_decref(rows);
}

/* A fixture of tests/data/engine (new reference). */
static json_t *fixture(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/tests/data/engine/%s", mh_t_repo_dir(), name);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (j == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", path, err.text);
    return j;
}

/* {"<member>": value} serialised (malloc'd); `extra` (may be NULL) is merged in. */
static char *body_with(const char *member, json_t *value, json_t *extra)
{
    json_t *o = extra ? json_deep_copy(extra) : json_object();
    json_object_set(o, member, value);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

/* Creates a workflow as `u` with `def` (may be NULL); returns its id in `id`. */
static void create_workflow(const struct world *w, const struct who *u, const char *pid,
                            const char *name, json_t *def, char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", pid);
    json_t *extra = json_pack("{s:s, s:s}", "name", name, "description", "about it");
    char *body = def ? body_with("definition", def, extra) : json_dumps(extra, JSON_COMPACT);
    long st;
    json_t *j = as(w, u, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(id, 40, "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    json_decref(extra);
    free(body);
}

static long put_draft(const struct world *w, const struct who *u, const char *pid, const char *wid,
                      json_t *def)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/draft", pid, wid);
    char *body = body_with("definition", def, NULL);
    long st = status_of(w, u, "PUT", path, body);
    free(body);
    return st;
}

/* Publishes; returns the status and the new version number (0 unless 201) or error code. */
static long publish(const struct world *w, const struct who *u, const char *pid, const char *wid,
                    long *version, char *code, size_t code_cap)
{
    char path[160];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", pid, wid);
    long st;
    json_t *j = as(w, u, "POST", path, NULL, &st);
    *version = st == 201 ? (long)json_integer_value(json_object_get(j, "version")) : 0;
    if (code)
        snprintf(code, code_cap, "%s", error_code(j));
    json_decref(j);
    return st;
}

/* Runs `sql` in a transaction as user `uid` over the application's role; returns the error
 * code and, in `kind`, the SQLSTATE. */
static enum mh_err sql_as(const struct world *w, const char *uid, const char *sql, int nparams,
                          const char *const *params, char kind[16])
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(w->db.app_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_begin(c, uid, NULL, &info), MH_OK);
    long affected = 0;
    enum mh_err rc = mh_db_query(c, sql, nparams, params, NULL, &affected, &info);
    snprintf(kind, 16, "%.15s", rc == MH_OK ? (affected ? "ok" : "none") : info.kind);
    mh_db_rollback(c);
    mh_db_close(c);
    return rc;
}

MH_TEST(node_types_list_every_type_with_schemas)
{
    struct world w;
    start(&w);
    struct who a;
    person(&w, "a@example.com", &a);
    long st;
    json_t *j = as(&w, NULL, "GET", "/api/node-types", NULL, &st);
    MH_T_ASSERT_EQ(st, 401);
    json_decref(j);
    j = as(&w, &a, "GET", "/api/node-types", NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_t *types = json_object_get(j, "types");
    static const char *const want[] = {"transform", "branch",        "http_call",
                                       "delay",     "terminate",     "for_each",
                                       "respond",   "wait_callback", "call_workflow"};
    size_t n_want = sizeof(want) / sizeof(want[0]);
    MH_T_ASSERT_EQ(json_array_size(types), n_want);
    for (size_t i = 0; i < n_want; i++) {
        bool found = false;
        size_t k;
        json_t *t;
        json_array_foreach(types, k, t)
        {
            if (strcmp(json_string_value(json_object_get(t, "type")), want[i]) != 0)
                continue;
            found = true;
            json_t *schema = json_object_get(t, "config_schema");
            MH_T_ASSERT(json_is_object(schema));
            MH_T_ASSERT(json_is_object(json_object_get(schema, "properties")));
        }
        MH_T_ASSERT(found);
    }
    json_decref(j);
    stop(&w);
}

MH_TEST(every_identity_against_every_endpoint)
{
    struct world w;
    start(&w);
    struct who a, b, e, v;
    person(&w, "a@example.com", &a);
    person(&w, "b@example.com", &b);
    person(&w, "e@example.com", &e);
    person(&w, "v@example.com", &v);
    char pa[40], pb[40], wf[40], wfb[40];
    create_project(&w, &a, pa);
    create_project(&w, &b, pb);
    add_member(&w, pa, &e, "editor");
    add_member(&w, pa, &v, "viewer");
    json_t *linear = fixture("linear.json");

    /* The editor creates; the answer carries the draft and its validation. */
    char p[256];
    snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
    json_t *named = json_pack("{s:s}", "name", "Orders");
    char *body = body_with("definition", linear, named);
    json_decref(named);
    long st;
    json_t *j = as(&w, &e, "POST", p, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(wf, sizeof(wf), "%s", json_string_value(json_object_get(j, "id")));
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(j, "validation"), "valid")));
    MH_T_ASSERT(json_equal(json_object_get(json_object_get(j, "draft"), "definition"), linear));
    MH_T_ASSERT(json_is_null(json_object_get(j, "latest_version")));
    MH_T_ASSERT(json_is_true(json_object_get(j, "has_draft")));
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "description")), "");
    json_decref(j);
    /* Without a definition the draft is empty, and reported as invalid, but saved. */
    j = as(&w, &a, "POST", p, "{\"name\": \"Empty\", \"description\": \"d\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(json_is_false(json_object_get(json_object_get(j, "validation"), "valid")));
    MH_T_ASSERT(json_array_size(json_object_get(json_object_get(j, "validation"), "errors")) > 0);
    json_decref(j);
    create_workflow(&w, &b, pb, "B's", linear, wfb);

    /* Bad input: 4xx with the path of the field. */
    j = as(&w, &e, "POST", p, "{\"name\": \"\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/name");
    json_decref(j);
    j = as(&w, &e, "POST", p, "{\"name\": \"x\", \"definition\": [1]}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/definition");
    json_decref(j);
    j = as(&w, &e, "POST", p, "{\"name\": \"x\", \"colour\": \"red\"}", &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "/colour");
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &e, "POST", p, "{\"name\": "), 400);

    /* Reads: every member. */
    const struct who *members[] = {&a, &e, &v};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
        j = as(&w, members[i], "GET", p, NULL, &st);
        MH_T_ASSERT_EQ(st, 200);
        MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 2);
        json_decref(j);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, wf);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "GET", p, NULL), 200);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions", pa, wf);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "GET", p, NULL), 200);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export", pa, wf);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "GET", p, NULL), 200);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
        MH_T_ASSERT_EQ(status_of(&w, members[i], "POST", p, NULL), 200);
    }

    /* Every route, as the stranger (404, as if nothing existed) and as the viewer (403 for
     * writes). */
    const char *routes[][3] = {
        {"GET", "", NULL},
        {"POST", "", "{\"name\": \"x\"}"},
        {"POST", "/import",
         "{\"meshhook_export\": 1, \"name\": \"x\", \"definition\": {\"nodes\": [], "
         "\"edges\": []}}"},
        {"GET", "/%s", NULL},
        {"PATCH", "/%s", "{\"name\": \"taken\"}"},
        {"DELETE", "/%s", NULL},
        {"PUT", "/%s/draft", "{\"definition\": {\"nodes\": [], \"edges\": []}}"},
        {"POST", "/%s/validate", NULL},
        {"POST", "/%s/publish", NULL},
        {"GET", "/%s/versions", NULL},
        {"GET", "/%s/versions/1", NULL},
        {"GET", "/%s/versions/latest", NULL},
        {"GET", "/%s/export", NULL},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        char tail[128];
        expand(tail, sizeof(tail), routes[i][1], wf);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows%s", pa, tail);
        MH_T_ASSERT_EQ(status_of(&w, &b, routes[i][0], p, routes[i][2]), 404);
        bool is_write = strcmp(routes[i][0], "GET") != 0 && strstr(p, "/validate") == NULL;
        if (is_write)
            MH_T_ASSERT_EQ(status_of(&w, &v, routes[i][0], p, routes[i][2]), 403);
        /* B's own workflow through A's project is just as invisible, to A. */
        if (strstr(routes[i][1], "%s") != NULL) {
            expand(tail, sizeof(tail), routes[i][1], wfb);
            snprintf(p, sizeof(p), "/api/projects/%s/workflows%s", pa, tail);
            MH_T_ASSERT_EQ(status_of(&w, &a, routes[i][0], p, routes[i][2]), 404);
        }
    }
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/not-a-uuid", pa);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", p, NULL), 404);
    MH_T_ASSERT_EQ(status_of(&w, NULL, "GET", p, NULL), 401);

    /* PATCH: the editor renames; an empty change is refused. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, wf);
    j = as(&w, &e, "PATCH", p, "{\"name\": \"Orders v2\", \"description\": \"new\"}", &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "name")), "Orders v2");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "description")), "new");
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{}"), 422);
    MH_T_ASSERT_EQ(status_of(&w, &e, "PATCH", p, "{\"definition\": {}}"), 422);
    j = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "name")), "Orders v2");
    json_decref(j);

    /* Paging: three workflows, two per page, nothing lost or repeated. */
    char third[40];
    create_workflow(&w, &e, pa, "Third", NULL, third);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows?limit=2", pa);
    j = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 2);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id")),
        third);
    const char *cursor = json_string_value(json_object_get(j, "next_cursor"));
    MH_T_ASSERT(cursor != NULL);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows?limit=2&cursor=%s", pa, cursor);
    json_decref(j);
    j = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 1);
    MH_T_ASSERT_STR_EQ(
        json_string_value(json_object_get(json_array_get(json_object_get(j, "items"), 0), "id")),
        wf);
    MH_T_ASSERT(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);

    /* DELETE: editors may; it is audited. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, third);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 204);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 404);
    const char *params[] = {pa};
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT string_agg(action, ',' ORDER BY chain_seq) AS a FROM "
                             "audit_log WHERE project_id = $1 AND action LIKE 'workflow.%'",
                             1, params, NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "a")),
                       "workflow.create,workflow.create,workflow.update,workflow.create,"
                       "workflow.delete");
    json_decref(rows);

    /* The database refuses the viewer's writes on its own, whatever the C code does. */
    char kind[16];
    const char *wparams[] = {pa, wf};
    MH_T_ASSERT_EQ(
        sql_as(&w, v.id, "UPDATE workflows SET name = 'pwned' WHERE id = $1", 1, wparams + 1, kind),
        MH_OK);
    MH_T_ASSERT_STR_EQ(kind, "none");
    MH_T_ASSERT_EQ(sql_as(&w, v.id,
                          "INSERT INTO workflow_versions (project_id, workflow_id, state, "
                          "definition) VALUES ($1, $2, 'draft', '{}')",
                          2, wparams, kind),
                   MH_EFORBIDDEN);
    MH_T_ASSERT_EQ(sql_as(&w, b.id, "SELECT 1 FROM workflows WHERE id = $1", 1, wparams + 1, kind),
                   MH_OK);
    MH_T_ASSERT_STR_EQ(kind, "none");

    json_decref(linear);
    stop(&w);
}

/* True when `errors` holds an entry with `want`'s path and code, and offset when it has one. */
static bool has_error(json_t *errors, json_t *want)
{
    size_t i;
    json_t *e;
    json_array_foreach(errors, i, e)
    {
        if (!json_equal(json_object_get(e, "path"), json_object_get(want, "path")) ||
            !json_equal(json_object_get(e, "code"), json_object_get(want, "code")))
            continue;
        json_t *off = json_object_get(want, "offset");
        if (off && !json_equal(json_object_get(e, "offset"), off))
            continue;
        if (!json_is_string(json_object_get(e, "message")))
            continue;
        return true;
    }
    return false;
}

MH_TEST(validation_reports_every_error_with_its_path)
{
    struct world w;
    start(&w);
    struct who a, v;
    person(&w, "a@example.com", &a);
    person(&w, "v@example.com", &v);
    char pa[40], wf[40];
    create_project(&w, &a, pa);
    add_member(&w, pa, &v, "viewer");
    create_workflow(&w, &a, pa, "Broken", NULL, wf);

    /* The engine's fixture of invalid definitions: the API reports exactly what it expects,
     * whoever asks (the viewer here). */
    json_t *cases = fixture("invalid.json");
    static const char *const required[] = {"cycle", "dangling_edge", "unknown_type", "bad_config",
                                           "jmespath_syntax"};
    size_t seen = 0;
    char p[256];
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++)
            seen += strcmp(name, required[k]) == 0;
        char *body = body_with("definition", json_object_get(c, "definition"), NULL);
        long st;
        json_t *j = as(&w, &v, "POST", p, body, &st);
        free(body);
        MH_T_ASSERT_EQ(st, 200);
        MH_T_ASSERT(json_is_false(json_object_get(j, "valid")));
        size_t k;
        json_t *want;
        json_array_foreach(json_object_get(c, "expect"), k, want)
        {
            if (!has_error(json_object_get(j, "errors"), want)) {
                char *got = json_dumps(j, JSON_COMPACT);
                char *exp = json_dumps(want, JSON_COMPACT);
                mh_t_fail(__FILE__, __LINE__, "case %s: %s not in %s", name, exp, got);
            }
        }
        json_decref(j);
    }
    MH_T_ASSERT_EQ(seen, 5);

    /* An invalid draft is saved, with the problems reported; publishing it is refused with
     * every error and its path. */
    json_t *jp = NULL;
    json_array_foreach(cases, i, c)
    {
        if (strcmp(json_string_value(json_object_get(c, "name")), "jmespath_syntax") == 0)
            jp = c;
    }
    MH_T_ASSERT(jp != NULL);
    char *body = body_with("definition", json_object_get(jp, "definition"), NULL);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/draft", pa, wf);
    long st;
    json_t *j = as(&w, &a, "PUT", p, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), json_object_get(jp, "definition")));
    MH_T_ASSERT(json_is_false(json_object_get(json_object_get(j, "validation"), "valid")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(json_object_get(j, "validation"), "errors")), 3);
    json_decref(j);
    /* Without a body, validate checks the saved draft. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
    j = as(&w, &v, "POST", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_false(json_object_get(j, "valid")));
    MH_T_ASSERT(
        has_error(json_object_get(j, "errors"), json_array_get(json_object_get(jp, "expect"), 0)));
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/publish", pa, wf);
    j = as(&w, &a, "POST", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_code(j), "invalid_definition");
    MH_T_ASSERT_STR_EQ(error_path(j), "/nodes/0/config/expression");
    json_t *errors = json_object_get(json_object_get(j, "error"), "errors");
    MH_T_ASSERT_EQ(json_array_size(errors), 3);
    json_array_foreach(json_object_get(jp, "expect"), i, c)
    {
        MH_T_ASSERT(has_error(errors, c));
    }
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions", pa, wf);
    j = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/latest", pa, wf);
    j = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(error_code(j), "not_published");
    json_decref(j);

    /* A valid definition passes. */
    json_t *diamond = fixture("diamond.json");
    body = body_with("definition", diamond, NULL);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
    j = as(&w, &v, "POST", p, body, &st);
    free(body);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_is_true(json_object_get(j, "valid")));
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "errors")), 0);
    json_decref(j);
    json_decref(diamond);
    json_decref(cases);
    stop(&w);
}

MH_TEST(publish_numbers_versions_which_stay_immutable)
{
    struct world w;
    start(&w);
    struct who a, e;
    person(&w, "a@example.com", &a);
    person(&w, "e@example.com", &e);
    char pa[40], wf[40];
    create_project(&w, &a, pa);
    add_member(&w, pa, &e, "editor");
    json_t *linear = fixture("linear.json");
    json_t *diamond = fixture("diamond.json");
    create_workflow(&w, &e, pa, "Orders", linear, wf);

    char p[256], code[32];
    long version = 0;
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/publish", pa, wf);
    long st;
    json_t *j = as(&w, &e, "POST", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(j, "version")), 1);
    MH_T_ASSERT(json_is_string(json_object_get(j, "published_at")));
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), linear));
    json_decref(j);
    /* Nothing changed since v1. */
    MH_T_ASSERT_EQ(publish(&w, &e, pa, wf, &version, code, sizeof(code)), 409);
    MH_T_ASSERT_STR_EQ(code, "unchanged");
    MH_T_ASSERT_EQ(status_of(&w, &e, "POST", p, "{\"version\": 7}"), 422);
    MH_T_ASSERT_EQ(put_draft(&w, &e, pa, wf, diamond), 200);
    MH_T_ASSERT_EQ(publish(&w, &a, pa, wf, &version, code, sizeof(code)), 201);
    MH_T_ASSERT_EQ(version, 2);

    /* The workflow shows v2 as the latest, keeps the draft, and lists both versions. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(j, "latest_version")), 2);
    MH_T_ASSERT(json_is_true(json_object_get(j, "has_draft")));
    MH_T_ASSERT(json_equal(json_object_get(json_object_get(j, "draft"), "definition"), diamond));
    json_t *vs = json_object_get(j, "versions");
    MH_T_ASSERT_EQ(json_array_size(vs), 2);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(vs, 0), "version")), 2);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(vs, 1), "created_by")),
                       e.id);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(vs, 0), "created_by")),
                       a.id);
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(
                       json_array_get(json_object_get(j, "items"), 0), "latest_version")),
                   2);
    json_decref(j);

    /* Versions, paged newest first, and each one in full. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions?limit=1", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(
                       json_object_get(json_array_get(json_object_get(j, "items"), 0), "version")),
                   2);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions?limit=1&cursor=%s", pa, wf,
             json_string_value(json_object_get(j, "next_cursor")));
    json_decref(j);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 1);
    MH_T_ASSERT_EQ(json_integer_value(
                       json_object_get(json_array_get(json_object_get(j, "items"), 0), "version")),
                   1);
    MH_T_ASSERT(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/1", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), linear));
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/latest", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(j, "version")), 2);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), diamond));
    json_decref(j);
    const char *missing[] = {"3", "0", "-1", "abc", "1x", "99999999999"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/%s", pa, wf, missing[i]);
        MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    }

    /* A published version cannot be changed through the API (no such method) ... */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/1", pa, wf);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PATCH", p, "{\"definition\": {}}"), 405);
    MH_T_ASSERT_EQ(status_of(&w, &a, "PUT", p, "{\"definition\": {}}"), 405);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", p, NULL), 405);
    /* ... nor by saving the draft, which is a separate row ... */
    MH_T_ASSERT_EQ(put_draft(&w, &e, pa, wf, linear), 200);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), linear));
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/2", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), diamond));
    json_decref(j);
    /* ... nor in the database, by the application's role or even the schema owner. */
    char kind[16];
    const char *params[] = {wf};
    MH_T_ASSERT(sql_as(&w, a.id,
                       "UPDATE workflow_versions SET definition = '{}' WHERE workflow_id = $1 "
                       "AND version = 1",
                       1, params, kind) != MH_OK);
    MH_T_ASSERT_STR_EQ(kind, "P0001");
    MH_T_ASSERT(sql_as(&w, a.id,
                       "DELETE FROM workflow_versions WHERE workflow_id = $1 AND "
                       "version = 2",
                       1, params, kind) != MH_OK);
    MH_T_ASSERT_STR_EQ(kind, "P0001");
    char state[6];
    MH_T_ASSERT(mh_it_sql(w.db.admin_url,
                          "UPDATE workflow_versions SET state = 'draft', version = NULL WHERE "
                          "workflow_id = $1 AND version = 1",
                          1, params, state) == NULL);
    MH_T_ASSERT_STR_EQ(state, "P0001");

    /* The draft now equals v1, not the latest (v2): publishing it makes v3. Without a draft
     * there is nothing to publish. */
    MH_T_ASSERT_EQ(publish(&w, &e, pa, wf, &version, code, sizeof(code)), 201);
    MH_T_ASSERT_EQ(version, 3);
    json_decref(mh_it_sql(w.db.admin_url,
                          "DELETE FROM workflow_versions WHERE workflow_id = $1 AND state = "
                          "'draft'",
                          1, params, NULL));
    MH_T_ASSERT_EQ(publish(&w, &e, pa, wf, &version, code, sizeof(code)), 409);
    MH_T_ASSERT_STR_EQ(code, "no_draft");
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
    MH_T_ASSERT_EQ(status_of(&w, &e, "POST", p, NULL), 409);
    /* Without a draft, export falls back to the latest published version, never to a test
     * run's snapshot of a draft. */
    const char *tparams[] = {pa, wf};
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO workflow_versions (project_id, workflow_id, state, "
                          "definition) VALUES ($1, $2, 'test', '{\"snapshot\": true}')",
                          2, tparams, NULL));
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export", pa, wf);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(j, "version")), 3);
    MH_T_ASSERT(json_equal(json_object_get(j, "definition"), linear));
    json_decref(j);
    /* PUT draft creates it again. */
    MH_T_ASSERT_EQ(put_draft(&w, &e, pa, wf, diamond), 200);
    MH_T_ASSERT_EQ(publish(&w, &e, pa, wf, &version, code, sizeof(code)), 201);
    MH_T_ASSERT_EQ(version, 4);
    json_t *audit = mh_it_sql(w.db.admin_url,
                              "SELECT count(*) AS n FROM audit_log WHERE action = "
                              "'workflow.publish' AND target = $1",
                              1, params, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(audit, 0), "n")), 4);
    json_decref(audit);

    /* Deleting a workflow with published versions and no runs removes it all. */
    char other[40];
    create_workflow(&w, &e, pa, "Short-lived", linear, other);
    MH_T_ASSERT_EQ(publish(&w, &e, pa, other, &version, code, sizeof(code)), 201);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, other);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 204);
    const char *oparams[] = {other};
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT (SELECT count(*) FROM workflows WHERE id = $1) + (SELECT "
                             "count(*) FROM workflow_versions WHERE workflow_id = $1) AS n",
                             1, oparams, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), 0);
    json_decref(rows);

    /* One with runs is archived: gone from the API, its versions and runs kept, its webhook
     * endpoints disabled. */
    const char *rparams[] = {pa, wf};
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO runs (project_id, workflow_id, version_id) SELECT $1, $2, "
                          "id FROM workflow_versions WHERE workflow_id = $2 AND version = 1",
                          2, rparams, NULL));
    json_decref(mh_it_sql(w.db.admin_url,
                          "INSERT INTO webhook_endpoints (project_id, workflow_id, public_id) "
                          "VALUES ($1, $2, 'pub_0123456789abcdefghijkl')",
                          2, rparams, NULL));
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s", pa, wf);
    MH_T_ASSERT_EQ(status_of(&w, &e, "DELETE", p, NULL), 204);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/versions/1", pa, wf);
    MH_T_ASSERT_EQ(status_of(&w, &e, "GET", p, NULL), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
    j = as(&w, &e, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);
    rows = mh_it_sql(w.db.admin_url,
                     "SELECT (SELECT archived_at IS NOT NULL FROM workflows WHERE id = $1) AS "
                     "archived, (SELECT count(*) FROM workflow_versions WHERE workflow_id = $1 "
                     "AND state = 'published') AS versions, (SELECT bool_or(is_enabled) FROM "
                     "webhook_endpoints WHERE workflow_id = $1) AS enabled",
                     1, params, NULL);
    json_t *r = json_array_get(rows, 0);
    MH_T_ASSERT(json_is_true(json_object_get(r, "archived")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(r, "versions")), 4);
    MH_T_ASSERT(json_is_false(json_object_get(r, "enabled")));
    json_decref(rows);

    json_decref(linear);
    json_decref(diamond);
    stop(&w);
}

MH_TEST(concurrent_publishes_never_collide)
{
    struct world w;
    start(&w);
    struct who a;
    person(&w, "a@example.com", &a);
    char pa[40], wf[40];
    create_project(&w, &a, pa);
    json_t *linear = fixture("linear.json");
    create_workflow(&w, &a, pa, "Busy", NULL, wf);

    /* Writers each save their own draft and publish it, several times, all at once. Each
     * reports "<draft status> <publish status> <version> <code>" through the pipe (lines below
     * PIPE_BUF are written atomically). */
    enum { WRITERS = 6, ROUNDS = 4 };
    int fds[2];
    MH_T_ASSERT_EQ(pipe(fds), 0);
    pid_t pids[WRITERS];
    for (int k = 0; k < WRITERS; k++) {
        pids[k] = fork();
        MH_T_ASSERT(pids[k] >= 0);
        if (pids[k] > 0)
            continue;
        close(fds[0]);
        for (int round = 0; round < ROUNDS; round++) {
            json_t *def = json_deep_copy(linear);
            char label[48];
            snprintf(label, sizeof(label), "writer %d round %d", k, round);
            json_object_set_new(json_array_get(json_object_get(def, "nodes"), 0), "name",
                                json_string(label));
            long ds = put_draft(&w, &a, pa, wf, def);
            json_decref(def);
            long version = 0;
            char code[32];
            long ps = publish(&w, &a, pa, wf, &version, code, sizeof(code));
            char line[128];
            int n = snprintf(line, sizeof(line), "%ld %ld %ld %s\n", ds, ps, version,
                             code[0] ? code : "-");
            if (write(fds[1], line, (size_t)n) != n)
                _exit(2);
        }
        _exit(0);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    MH_T_ASSERT(in != NULL);
    bool seen[WRITERS * ROUNDS + 1] = {false};
    int published = 0, lines = 0;
    long ds, ps, version;
    char code[32];
    while (fscanf(in, "%ld %ld %ld %31s", &ds, &ps, &version, code) == 4) {
        lines++;
        MH_T_ASSERT_EQ(ds, 200);
        if (ps == 201) {
            MH_T_ASSERT(version >= 1 && version <= WRITERS * ROUNDS);
            MH_T_ASSERT(!seen[version]);
            seen[version] = true;
            published++;
        } else {
            /* Another writer published this draft first: the lock made the loser see it. */
            MH_T_ASSERT_EQ(ps, 409);
            MH_T_ASSERT_STR_EQ(code, "unchanged");
        }
    }
    fclose(in);
    for (int k = 0; k < WRITERS; k++) {
        int status = 0;
        MH_T_ASSERT_EQ(waitpid(pids[k], &status, 0), pids[k]);
        MH_T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    MH_T_ASSERT_EQ(lines, WRITERS * ROUNDS);
    MH_T_ASSERT(published >= 1);
    /* Numbers run 1..N without a gap. */
    for (int v = 1; v <= published; v++)
        MH_T_ASSERT(seen[v]);
    const char *params[] = {wf};
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT count(*) AS n, max(version) AS top FROM workflow_versions "
                             "WHERE workflow_id = $1 AND state = 'published'",
                             1, params, NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "n")), published);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(rows, 0), "top")), published);
    json_decref(rows);
    json_decref(linear);
    stop(&w);
}

MH_TEST(export_then_import_round_trips)
{
    struct world w;
    start(&w);
    struct who a, e, v;
    person(&w, "a@example.com", &a);
    person(&w, "e@example.com", &e);
    person(&w, "v@example.com", &v);
    char pa[40], pb[40], wf[40];
    create_project(&w, &a, pa);
    create_project(&w, &a, pb);
    add_member(&w, pa, &e, "editor");
    add_member(&w, pa, &v, "viewer");
    json_t *linear = fixture("linear.json");
    json_t *diamond = fixture("diamond.json");
    create_workflow(&w, &e, pa, "Orders \"EU\"", linear, wf);
    long version = 0;
    MH_T_ASSERT_EQ(publish(&w, &e, pa, wf, &version, NULL, 0), 201);
    MH_T_ASSERT_EQ(put_draft(&w, &e, pa, wf, diamond), 200);

    /* By default the draft is exported; ?version=N exports that version. */
    char p[256];
    long st;
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export", pa, wf);
    json_t *doc = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(doc, "meshhook_export")), 1);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(doc, "name")), "Orders \"EU\"");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(doc, "description")), "about it");
    MH_T_ASSERT(json_is_null(json_object_get(doc, "version")));
    MH_T_ASSERT(json_equal(json_object_get(doc, "definition"), diamond));
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export?version=1", pa, wf);
    json_t *v1 = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(v1, "version")), 1);
    MH_T_ASSERT(json_equal(json_object_get(v1, "definition"), linear));
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export?version=9", pa, wf);
    MH_T_ASSERT_EQ(status_of(&w, &v, "GET", p, NULL), 404);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export?version=one", pa, wf);
    json_t *j = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(error_path(j), "?version");
    json_decref(j);

    /* Importing the document, here into another project, gives an equal workflow whose draft
     * is the definition; exporting that gives the same document back. */
    char *text = json_dumps(v1, JSON_COMPACT);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/import", pb);
    j = as(&w, &a, "POST", p, text, &st);
    free(text);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT(json_is_true(json_object_get(json_object_get(j, "validation"), "valid")));
    MH_T_ASSERT(json_is_null(json_object_get(j, "latest_version")));
    char imported[40];
    snprintf(imported, sizeof(imported), "%s", json_string_value(json_object_get(j, "id")));
    MH_T_ASSERT(strcmp(imported, wf) != 0);
    json_decref(j);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export", pb, imported);
    json_t *again = as(&w, &a, "GET", p, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    json_object_set_new(v1, "version", json_null());
    MH_T_ASSERT(json_equal(again, v1));
    json_decref(again);
    /* The draft document round-trips too, into the same project. */
    text = json_dumps(doc, JSON_COMPACT);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/import", pa);
    j = as(&w, &e, "POST", p, text, &st);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(status_of(&w, &v, "POST", p, text), 403);
    free(text);
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/export", pa,
             json_string_value(json_object_get(j, "id")));
    json_decref(j);
    again = as(&w, &v, "GET", p, NULL, &st);
    MH_T_ASSERT(json_equal(again, doc));
    json_decref(again);

    /* Not an export document. */
    snprintf(p, sizeof(p), "/api/projects/%s/workflows/import", pa);
    const char *bad[][2] = {
        {"{\"meshhook_export\": 2, \"name\": \"x\", \"definition\": {}}", "/meshhook_export"},
        {"{\"name\": \"x\", \"definition\": {}}", "/meshhook_export"},
        {"{\"meshhook_export\": 1, \"name\": \"x\"}", "/definition"},
        {"{\"meshhook_export\": 1, \"definition\": {}}", "/name"},
        {"{\"meshhook_export\": 1, \"name\": \"x\", \"definition\": \"{}\"}", "/definition"},
        {"{\"meshhook_export\": 1, \"name\": \"x\", \"definition\": {}, \"owner\": 1}", "/owner"},
        {"{\"meshhook_export\": 1, \"name\": \"x\", \"definition\": {}, \"version\": \"2\"}",
         "/version"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        j = as(&w, &e, "POST", p, bad[i][0], &st);
        MH_T_ASSERT_EQ(st, 422);
        MH_T_ASSERT_STR_EQ(error_path(j), bad[i][1]);
        json_decref(j);
    }
    json_decref(doc);
    json_decref(v1);
    json_decref(linear);
    json_decref(diamond);
    stop(&w);
}

/* A definition (new reference) of exactly `bytes` bytes as compact JSON. */
static json_t *big_definition(size_t bytes)
{
    json_t *def = json_pack("{s:[{s:s, s:s, s:{s:s}}], s:[]}", "nodes", "id", "a", "type",
                            "transform", "config", "expression", "''", "edges");
    char *compact = json_dumps(def, JSON_COMPACT);
    size_t base = strlen(compact);
    free(compact);
    MH_T_ASSERT(bytes > base);
    size_t n = bytes - base;
    char *lit = malloc(n + 3);
    MH_T_ASSERT(lit != NULL);
    lit[0] = '\'';
    memset(lit + 1, 'a', n);
    lit[n + 1] = '\'';
    lit[n + 2] = '\0';
    json_object_set_new(json_object_get(json_array_get(json_object_get(def, "nodes"), 0), "config"),
                        "expression", json_string(lit));
    free(lit);
    compact = json_dumps(def, JSON_COMPACT);
    MH_T_ASSERT_EQ(strlen(compact), bytes);
    free(compact);
    return def;
}

MH_TEST(oversized_definitions_are_refused)
{
    struct world w;
    start(&w);
    struct who a;
    person(&w, "a@example.com", &a);
    char pa[40], wf[40];
    create_project(&w, &a, pa);
    create_workflow(&w, &a, pa, "Big", NULL, wf);

    /* One transform whose expression is a string literal sized so that the definition is one
     * byte over the 1 MiB limit, then exactly at it; the body stays within the server's 4 MiB. */
    size_t sizes[] = {1024 * 1024 + 1, 1024 * 1024};
    for (int round = 0; round < 2; round++) {
        json_t *def = big_definition(sizes[round]);
        bool is_big = round == 0;
        char p[256];
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/draft", pa, wf);
        char *body = body_with("definition", def, NULL);
        long st;
        json_t *j = as(&w, &a, "PUT", p, body, &st);
        MH_T_ASSERT_EQ(st, is_big ? 413 : 200);
        if (is_big) {
            MH_T_ASSERT_STR_EQ(error_code(j), "too_big");
            MH_T_ASSERT_STR_EQ(error_path(j), "/definition");
        }
        json_decref(j);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows/%s/validate", pa, wf);
        MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), is_big ? 413 : 200);
        free(body);
        snprintf(p, sizeof(p), "/api/projects/%s/workflows", pa);
        json_t *extra = json_pack("{s:s}", "name", "big");
        body = body_with("definition", def, extra);
        MH_T_ASSERT_EQ(status_of(&w, &a, "POST", p, body), is_big ? 413 : 201);
        free(body);
        json_decref(extra);
        json_decref(def);
    }
    /* The big draft was never saved: the draft is the one just under the limit. */
    const char *params[] = {wf};
    json_t *rows = mh_it_sql(w.db.admin_url,
                             "SELECT length(definition::text) > 1000000 AS big FROM "
                             "workflow_versions WHERE workflow_id = $1 AND state = 'draft'",
                             1, params, NULL);
    MH_T_ASSERT(json_is_true(json_object_get(json_array_get(rows, 0), "big")));
    json_decref(rows);
    stop(&w);
}
