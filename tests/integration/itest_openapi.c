/* SPDX-License-Identifier: MIT */
/*
 * The OpenAPI document (api/openapi.json) against the server: every route of the table
 * (src/http/routes.c) is documented with its method, and the document names no operation the
 * table lacks; every response schema compiles; GET /api/openapi.json serves it without
 * credentials, with a strong ETag and 304; and the response check that every other
 * integration test runs through (openapi_check.c) fails a test whose answer does not match.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http/app.h"
#include "itest.h"
#include "openapi_check.h"
#include "schema/schema.h"

static const char *const METHODS[] = {"get",     "put",  "post",  "delete",
                                      "options", "head", "patch", "trace"};

static bool is_method(const char *k)
{
    for (size_t i = 0; i < sizeof(METHODS) / sizeof(METHODS[0]); i++)
        if (strcmp(k, METHODS[i]) == 0)
            return true;
    return false;
}

static void lower(char *out, size_t cap, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < cap; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

MH_TEST(every_route_is_documented_and_every_documented_route_exists)
{
    json_t *paths = json_object_get(mh_it_openapi_doc(), "paths");
    MH_T_ASSERT(json_object_size(paths) > 0);
    int missing = 0;
    for (size_t i = 0; i < mh_app_routes_count; i++) {
        char *t = mh_it_openapi_template(mh_app_routes[i].pattern);
        char m[16];
        /* "*": the route takes any method its row allows (the webhook intake); the document
         * must at least describe POST. */
        lower(m, sizeof(m),
              strcmp(mh_app_routes[i].method, "*") == 0 ? "POST" : mh_app_routes[i].method);
        if (json_object_get(json_object_get(paths, t), m) == NULL) {
            fprintf(stderr, "    not documented: %s %s\n", mh_app_routes[i].method, t);
            missing++;
        }
        free(t);
    }
    int extra = 0;
    const char *tmpl;
    json_t *item;
    json_object_foreach(paths, tmpl, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            if (!is_method(m))
                continue;
            bool found = false;
            for (size_t i = 0; i < mh_app_routes_count && !found; i++) {
                char *t = mh_it_openapi_template(mh_app_routes[i].pattern);
                char rm[16];
                lower(rm, sizeof(rm), mh_app_routes[i].method);
                found = strcmp(t, tmpl) == 0 && (strcmp(rm, m) == 0 || strcmp(rm, "*") == 0);
                free(t);
            }
            if (!found) {
                fprintf(stderr, "    documented, but no route: %s %s\n", m, tmpl);
                extra++;
            }
            /* Every operation answers errors with the error body, and documents a success. */
            json_t *responses = json_object_get(op, "responses");
            if (json_object_get(responses, "default") == NULL) {
                fprintf(stderr, "    %s %s: no default (error) response\n", m, tmpl);
                extra++;
            }
        }
    }
    MH_T_ASSERT_EQ(missing, 0);
    MH_T_ASSERT_EQ(extra, 0);
}

/* Each operation documents a success answer and its schemas compile (every $ref resolves), and
 * operation ids are unique: a broken reference would otherwise surface only when a test reaches
 * that answer. */
static void compile_or_fail(json_t *doc, json_t *schema, const char *where)
{
    json_t *wrapper = json_pack("{s:[O], s:O}", "allOf", schema, "components",
                                json_object_get(doc, "components"));
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_schema_compile(wrapper, &s, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "%s: %s at %s", where, info.message, info.path);
    mh_schema_destroy(s);
    json_decref(wrapper);
}

MH_TEST(every_operation_documents_a_success_and_its_schemas_compile)
{
    json_t *doc = mh_it_openapi_doc();
    json_t *ids = json_object();
    const char *tmpl, *m, *status;
    json_t *item, *op, *resp;
    json_object_foreach(json_object_get(doc, "paths"), tmpl, item)
    {
        json_object_foreach(item, m, op)
        {
            if (!is_method(m))
                continue;
            const char *id = json_string_value(json_object_get(op, "operationId"));
            MH_T_ASSERT(id != NULL);
            if (json_object_get(ids, id))
                mh_t_fail(__FILE__, __LINE__, "operationId %s is used twice", id);
            json_object_set_new(ids, id, json_true());
            bool has_success = false;
            json_object_foreach(json_object_get(op, "responses"), status, resp)
            {
                has_success |= status[0] == '2';
                json_t *schema = json_object_get(
                    json_object_get(json_object_get(resp, "content"), "application/json"),
                    "schema");
                char where[512];
                snprintf(where, sizeof(where), "%s %s %s", m, tmpl, status);
                if (schema)
                    compile_or_fail(doc, schema, where);
            }
            if (!has_success)
                mh_t_fail(__FILE__, __LINE__, "%s %s documents no success answer", m, tmpl);
        }
    }
    const char *name;
    json_t *schema;
    json_object_foreach(json_object_get(json_object_get(doc, "components"), "schemas"), name,
                        schema)
    {
        compile_or_fail(doc, schema, name);
    }
    MH_T_ASSERT(json_object_size(ids) >= mh_app_routes_count);
    json_decref(ids);
}

MH_TEST(the_document_is_served_without_credentials_with_an_etag)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_it_server s;
    mh_it_server_start(&s, &db, NULL);
    char url[128];
    snprintf(url, sizeof(url), "%s/api/openapi.json", s.base);
    struct mh_it_resp r;
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    char *ct = mh_it_resp_header(&r, "Content-Type");
    MH_T_ASSERT_STR_EQ(ct, "application/json");
    free(ct);
    MH_T_ASSERT(r.json != NULL);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(r.json, "openapi")), "3.1.0");
    MH_T_ASSERT(json_equal(r.json, mh_it_openapi_doc()));
    char *etag = mh_it_resp_header(&r, "ETag");
    MH_T_ASSERT(etag != NULL && etag[0] == '"');
    mh_it_resp_cleanup(&r);
    char inm[128];
    snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
    const char *h[] = {inm, NULL};
    mh_it_http("GET", url, h, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 304);
    MH_T_ASSERT_EQ(r.body_len, 0);
    mh_it_resp_cleanup(&r);
    const char *weak_other[] = {"If-None-Match: \"0000\"", NULL};
    mh_it_http("GET", url, weak_other, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    mh_it_resp_cleanup(&r);
    free(etag);
    mh_it_server_stop(&s, SIGTERM);
}

/* One request of a check_in_child: GET /healthz unless said otherwise. */
struct exchange {
    const char *method, *path, *bearer, *body;
};

/* Runs one request in a child checked against `doc_text`; returns the child's exit status (0:
 * answered 2xx and checked) and its stderr in *out. */
static int check_in_child(const struct mh_it_server *s, const char *doc_text,
                          const struct exchange *x, char **out)
{
    char path[] = "/tmp/mh-it-openapi-XXXXXX";
    int fd = mkstemp(path);
    MH_T_ASSERT(fd >= 0);
    MH_T_ASSERT(write(fd, doc_text, strlen(doc_text)) == (ssize_t)strlen(doc_text));
    close(fd);
    char errpath[] = "/tmp/mh-it-openapi-err-XXXXXX";
    int efd = mkstemp(errpath);
    MH_T_ASSERT(efd >= 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(efd, 2);
        setenv("MH_OPENAPI_FILE", path, 1);
        setenv("MH_OPENAPI_CHECK", "1", 1);
        unsetenv("MH_OPENAPI_REQUEST_LOG");
        mh_it_openapi_reset();
        char url[256];
        snprintf(url, sizeof(url), "%s%s", s->base, x ? x->path : "/healthz");
        const char *h[] = {"Content-Type: application/json", x ? x->bearer : NULL, NULL};
        const char *body = x ? x->body : NULL;
        struct mh_it_resp r;
        mh_it_http(x ? x->method : "GET", url, h, body, body ? strlen(body) : 0, &r);
        _exit(r.status >= 200 && r.status < 300 ? 0 : 2);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    unlink(path);
    FILE *f = fdopen(efd, "r");
    fseek(f, 0, SEEK_SET);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(errpath);
    *out = strdup(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* The check itself: the real document passes /healthz; one whose /healthz schema wants another
 * value, or that forgets the route, makes the request fail its test with the reason. */
MH_TEST(a_response_that_does_not_match_its_schema_fails_the_test)
{
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_it_server s;
    mh_it_server_start(&s, &db, NULL);
    json_t *doc = json_deep_copy(mh_it_openapi_doc());
    char *text = json_dumps(doc, JSON_COMPACT);
    char *err = NULL;
    MH_T_ASSERT_EQ(check_in_child(&s, text, NULL, &err), 0);
    free(err);
    free(text);

    json_t *ok = json_object_get(json_object_get(json_object_get(doc, "paths"), "/healthz"), "get");
    json_t *schema = json_object_get(
        json_object_get(
            json_object_get(json_object_get(json_object_get(ok, "responses"), "200"), "content"),
            "application/json"),
        "schema");
    MH_T_ASSERT(schema != NULL);
    json_object_set_new(json_object_get(json_object_get(schema, "properties"), "status"), "const",
                        json_string("fine"));
    text = json_dumps(doc, JSON_COMPACT);
    MH_T_ASSERT(check_in_child(&s, text, NULL, &err) == 1);
    MH_T_ASSERT(strstr(err, "GET /healthz 200 does not match its schema") != NULL);
    MH_T_ASSERT(strstr(err, "/status") != NULL);
    free(err);
    free(text);

    json_object_del(json_object_get(doc, "paths"), "/healthz");
    text = json_dumps(doc, JSON_COMPACT);
    MH_T_ASSERT(check_in_child(&s, text, NULL, &err) == 1);
    MH_T_ASSERT(strstr(err, "GET /healthz (route /healthz) is not in api/openapi.json") != NULL);
    free(err);
    free(text);
    json_decref(doc);

    /* The request side: an accepted body that the document would refuse fails the test too. */
    char bearer[128], uid[40];
    mh_it_user_token(&db, &s, "openapi@example.com", bearer, uid);
    struct exchange check = {"POST", "/api/expressions/check", bearer, "{\"expression\": \"a.b\"}"};
    doc = json_deep_copy(mh_it_openapi_doc());
    text = json_dumps(doc, JSON_COMPACT);
    MH_T_ASSERT_EQ(check_in_child(&s, text, &check, &err), 0);
    free(err);
    free(text);
    json_t *body_schema = json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(json_object_get(doc, "paths"),
                                                                "/api/expressions/check"),
                                                "post"),
                                "requestBody"),
                "content"),
            "application/json"),
        "schema");
    MH_T_ASSERT(body_schema != NULL);
    json_object_set_new(json_object_get(json_object_get(body_schema, "properties"), "expression"),
                        "maxLength", json_integer(2));
    text = json_dumps(doc, JSON_COMPACT);
    MH_T_ASSERT(check_in_child(&s, text, &check, &err) == 1);
    MH_T_ASSERT(strstr(err, "POST /api/expressions/check accepted a request body that does not "
                            "match its schema") != NULL);
    MH_T_ASSERT(strstr(err, "/expression") != NULL);
    free(err);
    free(text);
    json_decref(doc);
    mh_it_server_stop(&s, SIGTERM);
}
