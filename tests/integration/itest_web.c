/* SPDX-License-Identifier: MIT */
/*
 * The web app as `meshhook serve` ships it (src/http/static.c): index.html and the SPA fallback
 * with their security headers and a Content-Security-Policy whose script hash is really that
 * of the page's inline bootstrap; hashed assets cacheable for a year; gzip when accepted; 304 on
 * If-None-Match; HEAD; and the server's own paths (/api, /hooks, /healthz, /readyz, /metrics)
 * never answered with the app. Then the API the workflows page needs: archive and restore
 * (un-archive), the archived list, search, and each workflow's newest run.
 */
#include <signal.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "itest.h"

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
};

static void start(struct world *w)
{
    mh_it_db_create(&w->db, true);
    mh_it_server_start(&w->s, &w->db, NULL);
}

static void stop(struct world *w)
{
    MH_T_ASSERT_EQ(mh_it_server_stop(&w->s, SIGTERM), 0);
}

/* GET (or another method) of `path` with extra header lines (NULL-terminated, may be NULL). */
static void fetch(const struct world *w, const char *method, const char *path,
                  const char *const *headers, struct mh_it_resp *r)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", w->s.base, path);
    mh_it_http(method, url, headers, NULL, 0, r);
}

/* Asserts header `name` equals `want`. */
static void assert_header(const struct mh_it_resp *r, const char *name, const char *want)
{
    char *v = mh_it_resp_header(r, name);
    if (v == NULL || strcmp(v, want) != 0)
        mh_t_fail(__FILE__, __LINE__, "%s: \"%s\", want \"%s\"", name, v ? v : "(none)", want);
    free(v);
}

static bool has_header(const struct mh_it_resp *r, const char *name)
{
    char *v = mh_it_resp_header(r, name);
    free(v);
    return v != NULL;
}

/* The headers every answer of the app carries. */
static void assert_app_headers(const struct mh_it_resp *r)
{
    assert_header(r, "X-Frame-Options", "DENY");
    assert_header(r, "Referrer-Policy", "same-origin");
    assert_header(r, "X-Content-Type-Options", "nosniff");
    char *csp = mh_it_resp_header(r, "Content-Security-Policy");
    MH_T_ASSERT(csp != NULL);
    MH_T_ASSERT(strncmp(csp, "default-src 'self';", 19) == 0);
    MH_T_ASSERT(strstr(csp, "frame-ancestors 'none'") != NULL);
    /* Scripts only from the app's origin and by hash: never inline at large, never eval. */
    const char *script = strstr(csp, "script-src ");
    MH_T_ASSERT(script != NULL);
    char directive[512];
    snprintf(directive, sizeof(directive), "%.*s", (int)strcspn(script, ";"), script);
    MH_T_ASSERT(strstr(directive, "'unsafe-inline'") == NULL);
    MH_T_ASSERT(strstr(directive, "'unsafe-eval'") == NULL);
    free(csp);
}

/* A JSON 404 of the server, not the app. */
static void assert_json_404(const struct world *w, const char *method, const char *path)
{
    struct mh_it_resp r;
    const char *h[] = {"Accept: text/html", NULL};
    fetch(w, method, path, h, &r);
    bool is_head = strcmp(method, "HEAD") == 0;
    if (r.status != 404 || (r.json == NULL && !is_head))
        mh_t_fail(__FILE__, __LINE__, "%s %s: status %ld, body %.80s", method, path, r.status,
                  r.body ? r.body : "");
    if (is_head)
        assert_header(&r, "Content-Type", "application/json");
    else
        MH_T_ASSERT_STR_EQ(
            json_string_value(json_object_get(json_object_get(r.json, "error"), "code")),
            "not_found");
    MH_T_ASSERT(!has_header(&r, "Content-Security-Policy"));
    mh_it_resp_cleanup(&r);
}

/* The first stylesheet under /_app/immutable/ that index.html references (malloc'd): large
 * enough to be stored gzipped. */
static char *immutable_asset(const char *html)
{
    const char *p = strstr(html, "/_app/immutable/assets/");
    MH_T_ASSERT(p != NULL);
    size_t n = strcspn(p, "\"' >");
    return strndup(p, n);
}

MH_TEST(index_and_client_routes_are_the_app_with_a_strict_csp)
{
    struct world w;
    start(&w);
    struct mh_it_resp r;
    fetch(&w, "GET", "/", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    assert_header(&r, "Content-Type", "text/html; charset=utf-8");
    assert_header(&r, "Cache-Control", "no-cache");
    assert_app_headers(&r);
    MH_T_ASSERT(strstr(r.body, "<!doctype html>") != NULL);
    /* The policy allows the inline bootstrap by its SHA-256, and that hash is the script's. */
    const char *open = strstr(r.body, "<script>");
    MH_T_ASSERT(open != NULL);
    open += strlen("<script>");
    const char *close = strstr(open, "</script>");
    MH_T_ASSERT(close != NULL);
    uint8_t h[MH_CRYPTO_SHA256_LEN];
    MH_T_ASSERT_EQ(mh_crypto_sha256(open, (size_t)(close - open), h), MH_OK);
    char b64[64], want[96];
    mh_crypto_b64_encode(MH_CRYPTO_B64_STD, h, sizeof(h), b64);
    snprintf(want, sizeof(want), "'sha256-%s'", b64);
    char *csp = mh_it_resp_header(&r, "Content-Security-Policy");
    if (strstr(csp, want) == NULL)
        mh_t_fail(__FILE__, __LINE__, "CSP %s lacks the bootstrap's hash %s", csp, want);
    free(csp);
    char *index = strdup(r.body);
    char *etag = mh_it_resp_header(&r, "ETag");
    MH_T_ASSERT(etag != NULL && etag[0] == '"');
    mh_it_resp_cleanup(&r);

    /* Client routes, however deep, get the same page (a query string changes nothing). */
    const char *routes[] = {"/login", "/p/0b0e7e1c-0000-4000-8000-000000000000/workflows",
                            "/account/tokens?tab=1", "/p/x/settings/members/"};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        fetch(&w, "GET", routes[i], NULL, &r);
        MH_T_ASSERT_EQ(r.status, 200);
        MH_T_ASSERT_STR_EQ(r.body, index);
        assert_header(&r, "Cache-Control", "no-cache");
        assert_app_headers(&r);
        mh_it_resp_cleanup(&r);
    }

    /* Revalidation: the same ETag gives 304 with no body; a different one the page. */
    char inm[160];
    snprintf(inm, sizeof(inm), "If-None-Match: \"nope\", %s", etag);
    const char *h304[] = {inm, NULL};
    fetch(&w, "GET", "/p/x/workflows", h304, &r);
    MH_T_ASSERT_EQ(r.status, 304);
    MH_T_ASSERT_EQ(r.body_len, 0);
    assert_header(&r, "ETag", etag);
    mh_it_resp_cleanup(&r);
    const char *hweak[] = {"If-None-Match: W/\"0000\"", NULL};
    fetch(&w, "GET", "/", hweak, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    mh_it_resp_cleanup(&r);

    /* HEAD: the headers of GET, no body. */
    fetch(&w, "HEAD", "/", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_EQ(r.body_len, 0);
    char len[32];
    snprintf(len, sizeof(len), "%zu", strlen(index));
    assert_header(&r, "Content-Length", len);
    assert_header(&r, "ETag", etag);
    mh_it_resp_cleanup(&r);
    free(etag);
    free(index);
    stop(&w);
}

MH_TEST(assets_are_gzipped_cached_and_never_fall_back)
{
    struct world w;
    start(&w);
    struct mh_it_resp r;
    fetch(&w, "GET", "/", NULL, &r);
    char *asset = immutable_asset(r.body);
    mh_it_resp_cleanup(&r);

    fetch(&w, "GET", asset, NULL, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    assert_header(&r, "Cache-Control", "public, max-age=31536000, immutable");
    MH_T_ASSERT(!has_header(&r, "Content-Encoding"));
    char *type = mh_it_resp_header(&r, "Content-Type");
    MH_T_ASSERT(type &&
                (strncmp(type, "text/javascript", 15) == 0 || strncmp(type, "text/css", 8) == 0));
    free(type);
    size_t plain_len = r.body_len;
    char *etag = mh_it_resp_header(&r, "ETag");
    mh_it_resp_cleanup(&r);

    /* gzip, precompressed: smaller, with its own ETag and Vary. */
    const char *gz[] = {"Accept-Encoding: br;q=1.0, gzip;q=0.8", NULL};
    fetch(&w, "GET", asset, gz, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    assert_header(&r, "Content-Encoding", "gzip");
    assert_header(&r, "Vary", "Accept-Encoding");
    MH_T_ASSERT(r.body_len > 2 && (unsigned char)r.body[0] == 0x1f &&
                (unsigned char)r.body[1] == 0x8b);
    MH_T_ASSERT(r.body_len < plain_len);
    char *gz_etag = mh_it_resp_header(&r, "ETag");
    MH_T_ASSERT(gz_etag && strcmp(gz_etag, etag) != 0);
    mh_it_resp_cleanup(&r);

    /* gzip;q=0 refuses it; so does not asking. */
    const char *refuse[] = {"Accept-Encoding: gzip;q=0, identity", NULL};
    fetch(&w, "GET", asset, refuse, &r);
    MH_T_ASSERT(!has_header(&r, "Content-Encoding"));
    MH_T_ASSERT_EQ(r.body_len, plain_len);
    mh_it_resp_cleanup(&r);

    /* 304 for the representation the client holds. */
    char inm[160];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", gz_etag);
    const char *h304[] = {"Accept-Encoding: gzip", inm, NULL};
    fetch(&w, "GET", asset, h304, &r);
    MH_T_ASSERT_EQ(r.status, 304);
    mh_it_resp_cleanup(&r);

    /* A missing file is a 404, never index.html with status 200. */
    assert_json_404(&w, "GET", "/_app/immutable/entry/missing.ABCDEF.js");
    assert_json_404(&w, "GET", "/favicon.ico.missing.png");
    free(asset);
    free(etag);
    free(gz_etag);
    stop(&w);
}

MH_TEST(server_paths_keep_their_json_404)
{
    struct world w;
    start(&w);
    assert_json_404(&w, "GET", "/api");
    assert_json_404(&w, "GET", "/api/");
    assert_json_404(&w, "GET", "/api/no/such/route");
    assert_json_404(&w, "HEAD", "/api/nothing");
    assert_json_404(&w, "GET", "/metrics/x");
    assert_json_404(&w, "GET", "/healthz/deeper");
    assert_json_404(&w, "GET", "/readyz/x");
    assert_json_404(&w, "GET", "/hooks");
    /* Only GET and HEAD reach the app. */
    assert_json_404(&w, "POST", "/login");
    assert_json_404(&w, "DELETE", "/p/x/workflows");
    /* The routes themselves are untouched. */
    struct mh_it_resp r;
    fetch(&w, "GET", "/healthz", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT(!has_header(&r, "Content-Security-Policy"));
    assert_header(&r, "Cache-Control", "no-store");
    mh_it_resp_cleanup(&r);
    fetch(&w, "GET", "/hooks/unknown-public-id", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 404);
    MH_T_ASSERT(r.json != NULL);
    mh_it_resp_cleanup(&r);
    fetch(&w, "GET", "/api/auth/me", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 401);
    MH_T_ASSERT(r.json != NULL);
    mh_it_resp_cleanup(&r);
    fetch(&w, "GET", "/api/auth/options", NULL, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT(json_is_false(json_object_get(r.json, "allow_signup")));
    mh_it_resp_cleanup(&r);
    stop(&w);
}

/* ---- the workflows list, archive and restore ---- */

struct who {
    char id[40];
    char bearer[128];
};

static json_t *as(const struct world *w, const struct who *u, const char *method, const char *path,
                  const char *body, long *status)
{
    return mh_it_api(&w->s, u->bearer, method, path, body, status);
}

static long status_of(const struct world *w, const struct who *u, const char *method,
                      const char *path, const char *body)
{
    long st;
    json_decref(as(w, u, method, path, body, &st));
    return st;
}

static const char *error_code(json_t *j)
{
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    return c ? c : "";
}

/* The ids of a list answer, joined by spaces, in `out`. */
static void ids_of(json_t *list, const char *field, char *out, size_t cap)
{
    out[0] = '\0';
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it)
    {
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? " " : "",
                 json_string_value(json_object_get(it, field)));
    }
}

static void sql(const struct world *w, const char *q, int n, const char *const *params)
{
    json_t *rows = mh_it_sql(w->db.admin_url, q, n, params, NULL);
    MH_T_ASSERT(rows != NULL);
    json_decref(rows);
}

/* Publishes version 1 (an empty definition) of workflow params[1] of project params[0]. */
static void publish_v1(const struct world *w, const char *const params[2])
{
    sql(w,
        "INSERT INTO workflow_versions (project_id, workflow_id, state, version, definition, "
        "published_at) VALUES ($1, $2, 'published', 1, '{\"nodes\": [], \"edges\": []}', now())",
        2, params);
}

/* The status of a JSON webhook POSTed to /hooks/<public_id>. */
static long hook_status(const struct world *w, const char *public_id)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/hooks/%s", w->s.base, public_id);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, "{\"a\": 1}", 8, &r);
    long st = r.status;
    mh_it_resp_cleanup(&r);
    return st;
}

static bool endpoint_enabled(const struct world *w, const char *eid)
{
    const char *p[] = {eid};
    json_t *rows = mh_it_sql(w->db.admin_url,
                             "SELECT is_enabled FROM webhook_endpoints WHERE id = $1", 1, p, NULL);
    bool on = json_is_true(json_object_get(json_array_get(rows, 0), "is_enabled"));
    json_decref(rows);
    return on;
}

MH_TEST(archive_and_restore_a_workflow)
{
    struct world w;
    start(&w);
    struct who a, v;
    mh_it_user_token(&w.db, &w.s, "owner@example.com", a.bearer, a.id);
    mh_it_user_token(&w.db, &w.s, "viewer@example.com", v.bearer, v.id);
    char pid[40];
    mh_it_project(&w.s, a.bearer, "P", pid);
    const char *mp[] = {pid, v.id};
    sql(&w, "INSERT INTO memberships (project_id, user_id, role) VALUES ($1, $2, 'viewer')", 2, mp);

    char path[256], wid[40], other[40];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", pid);
    long st;
    json_t *j = as(&w, &a, "POST", path, "{\"name\": \"Orders\"}", &st);
    MH_T_ASSERT_EQ(st, 201);
    snprintf(wid, sizeof(wid), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    j = as(&w, &a, "POST", path, "{\"name\": \"Refunds\"}", &st);
    snprintf(other, sizeof(other), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);

    /* Two endpoints: one enabled, one its users disabled on purpose. */
    char on_id[40], off_id[40];
    const char *ep[] = {pid, wid};
    json_t *rows =
        mh_it_sql(w.db.admin_url,
                  "INSERT INTO webhook_endpoints (project_id, workflow_id, public_id, "
                  "is_enabled) VALUES ($1, $2, 'pub_on_0123456789abcdefgh', true), ($1, $2, "
                  "'pub_off_0123456789abcdefg', false) RETURNING id, is_enabled",
                  2, ep, NULL);
    MH_T_ASSERT_EQ(json_array_size(rows), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *r = json_array_get(rows, i);
        snprintf(json_is_true(json_object_get(r, "is_enabled")) ? on_id : off_id, 40, "%s",
                 json_string_value(json_object_get(r, "id")));
    }
    json_decref(rows);

    char arch[320], unarch[320], one[320], list_arch[320];
    snprintf(arch, sizeof(arch), "%s/%s/archive", path, wid);
    snprintf(unarch, sizeof(unarch), "%s/%s/unarchive", path, wid);
    snprintf(one, sizeof(one), "%s/%s", path, wid);
    snprintf(list_arch, sizeof(list_arch), "%s?archived=true", path);

    /* A viewer may do neither; nothing changes. */
    MH_T_ASSERT_EQ(status_of(&w, &v, "POST", arch, NULL), 403);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", unarch, NULL), 409);

    /* Archive: gone from the list and the API, in the archived list, its endpoint disabled. */
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", arch, NULL), 204);
    j = as(&w, &a, "POST", arch, NULL, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(error_code(j), "archived");
    json_decref(j);
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", one, NULL), 404);
    MH_T_ASSERT(!endpoint_enabled(&w, on_id));
    MH_T_ASSERT(!endpoint_enabled(&w, off_id));
    char ids[256];
    j = as(&w, &a, "GET", path, NULL, &st);
    ids_of(j, "id", ids, sizeof(ids));
    MH_T_ASSERT_STR_EQ(ids, other);
    json_decref(j);
    j = as(&w, &v, "GET", list_arch, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    ids_of(j, "id", ids, sizeof(ids));
    MH_T_ASSERT_STR_EQ(ids, wid);
    MH_T_ASSERT(json_is_string(
        json_object_get(json_array_get(json_object_get(j, "items"), 0), "archived_at")));
    json_decref(j);

    /* Restore: back in the list, the endpoint archiving disabled enabled again, the other not. */
    MH_T_ASSERT_EQ(status_of(&w, &v, "POST", unarch, NULL), 403);
    MH_T_ASSERT(!endpoint_enabled(&w, on_id));
    j = as(&w, &a, "POST", unarch, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "id")), wid);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(j, "name")), "Orders");
    json_decref(j);
    MH_T_ASSERT(endpoint_enabled(&w, on_id));
    MH_T_ASSERT(!endpoint_enabled(&w, off_id));
    MH_T_ASSERT_EQ(status_of(&w, &a, "GET", one, NULL), 200);
    j = as(&w, &a, "GET", unarch, NULL, &st);
    MH_T_ASSERT_EQ(st, 405);
    json_decref(j);
    j = as(&w, &a, "POST", unarch, NULL, &st);
    MH_T_ASSERT_EQ(st, 409);
    MH_T_ASSERT_STR_EQ(error_code(j), "not_archived");
    json_decref(j);
    j = as(&w, &a, "GET", list_arch, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);

    /* Deleting a workflow with runs archives it, and restoring works the same way. */
    const char *rp[] = {pid, wid};
    publish_v1(&w, rp);
    sql(&w,
        "INSERT INTO runs (project_id, workflow_id, version_id) SELECT $1, $2, id FROM "
        "workflow_versions WHERE workflow_id = $2 AND state = 'published'",
        2, rp);
    MH_T_ASSERT_EQ(status_of(&w, &a, "DELETE", one, NULL), 204);
    MH_T_ASSERT(!endpoint_enabled(&w, on_id));
    MH_T_ASSERT_EQ(hook_status(&w, "pub_on_0123456789abcdefgh"), 403);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", unarch, NULL), 200);
    MH_T_ASSERT(endpoint_enabled(&w, on_id));
    /* The restored endpoint accepts webhooks again (a server that just refused one re-reads a
     * refusing endpoint at most once a second, hence the wait); the one its users had disabled
     * still refuses them. */
    long hook = 0;
    for (int i = 0; i < 50 && (hook = hook_status(&w, "pub_on_0123456789abcdefgh")) == 403; i++)
        mh_it_sleep_ms(100);
    MH_T_ASSERT_EQ(hook, 202);
    MH_T_ASSERT_EQ(hook_status(&w, "pub_off_0123456789abcdefg"), 403);

    /* Unknown, malformed and other tenants' ids are 404. */
    char bad[320];
    snprintf(bad, sizeof(bad), "%s/00000000-0000-4000-8000-000000000000/unarchive", path);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", bad, NULL), 404);
    snprintf(bad, sizeof(bad), "%s/not-a-uuid/archive", path);
    MH_T_ASSERT_EQ(status_of(&w, &a, "POST", bad, NULL), 404);

    /* Both are in the audit log. */
    const char *ap[] = {pid, wid};
    rows = mh_it_sql(w.db.admin_url,
                     "SELECT string_agg(action, ',' ORDER BY chain_seq) AS a FROM audit_log "
                     "WHERE project_id = $1 AND target = $2 AND action LIKE 'workflow.%'",
                     2, ap, NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_array_get(rows, 0), "a")),
                       "workflow.create,workflow.archive,workflow.unarchive,workflow.delete,"
                       "workflow.unarchive");
    json_decref(rows);
    stop(&w);
}

MH_TEST(workflow_list_searches_and_shows_the_newest_run)
{
    struct world w;
    start(&w);
    struct who a;
    mh_it_user_token(&w.db, &w.s, "owner@example.com", a.bearer, a.id);
    char pid[40], path[256], wid[40];
    mh_it_project(&w.s, a.bearer, "P", pid);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", pid);
    long st;
    json_t *j = as(&w, &a, "POST", path,
                   "{\"name\": \"GitHub pushes\", \"description\": \"to the chat\"}", &st);
    snprintf(wid, sizeof(wid), "%s", json_string_value(json_object_get(j, "id")));
    json_decref(j);
    json_decref(as(&w, &a, "POST", path, "{\"name\": \"Stripe payments\"}", &st));

    /* No run yet: last_run is null. */
    char q[320], ids[256];
    snprintf(q, sizeof(q), "%s?q=GITHUB", path);
    j = as(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    ids_of(j, "id", ids, sizeof(ids));
    MH_T_ASSERT_STR_EQ(ids, wid);
    json_t *item = json_array_get(json_object_get(j, "items"), 0);
    MH_T_ASSERT(json_is_null(json_object_get(item, "last_run")));
    MH_T_ASSERT(json_is_null(json_object_get(item, "archived_at")));
    json_decref(j);
    /* The description matches too; a pattern character is a plain character. */
    snprintf(q, sizeof(q), "%s?q=chat", path);
    j = as(&w, &a, "GET", q, NULL, &st);
    ids_of(j, "id", ids, sizeof(ids));
    MH_T_ASSERT_STR_EQ(ids, wid);
    json_decref(j);
    snprintf(q, sizeof(q), "%s?q=%%25", path);
    j = as(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(json_array_size(json_object_get(j, "items")), 0);
    json_decref(j);

    /* Two runs: the newest is listed, with its status. */
    const char *rp[] = {pid, wid};
    publish_v1(&w, rp);
    sql(&w,
        "INSERT INTO runs (project_id, workflow_id, version_id, version, status, created_at) "
        "SELECT $1, $2, id, 1, 'failed', now() - interval '1 hour' FROM workflow_versions WHERE "
        "workflow_id = $2",
        2, rp);
    sql(&w,
        "INSERT INTO runs (project_id, workflow_id, version_id, version, status, finished_at) "
        "SELECT $1, $2, id, 1, 'succeeded', now() FROM workflow_versions WHERE workflow_id = $2",
        2, rp);
    snprintf(q, sizeof(q), "%s?q=github", path);
    j = as(&w, &a, "GET", q, NULL, &st);
    item = json_array_get(json_object_get(j, "items"), 0);
    json_t *last = json_object_get(item, "last_run");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(last, "status")), "succeeded");
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(last, "version")), 1);
    MH_T_ASSERT(json_is_false(json_object_get(last, "is_test")));
    MH_T_ASSERT(json_is_string(json_object_get(last, "finished_at")));
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(item, "latest_version")), 1);
    json_decref(j);

    /* Bad filters are clear 422s naming the parameter. */
    snprintf(q, sizeof(q), "%s?archived=maybe", path);
    j = as(&w, &a, "GET", q, NULL, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "error"), "path")),
                       "?archived");
    json_decref(j);
    stop(&w);
}
