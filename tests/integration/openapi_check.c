/* SPDX-License-Identifier: MIT */
/* Response validation against the OpenAPI document; see openapi_check.h. */
#include "openapi_check.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "http/app.h"
#include "http/http_internal.h"
#include "schema/schema.h"

struct mh_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct mh_embedded_file mh_openapi_files[];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static json_t *doc;
/* JSON pointer of a schema in the document -> its compiled form (a pointer as a JSON integer). */
static json_t *compiled;

json_t *mh_it_openapi_doc(void)
{
    pthread_mutex_lock(&lock);
    if (doc == NULL) {
        json_error_t e;
        const char *file = getenv("MH_OPENAPI_FILE");
        if (file && file[0])
            doc = json_load_file(file, 0, &e);
        else
            doc =
                json_loadb((const char *)mh_openapi_files[0].data, mh_openapi_files[0].len, 0, &e);
        if (doc == NULL)
            mh_t_fail(__FILE__, __LINE__, "%s:%d:%d: %s",
                      file && file[0] ? file : "api/openapi.json", e.line, e.column, e.text);
        compiled = json_object();
    }
    pthread_mutex_unlock(&lock);
    return doc;
}

void mh_it_openapi_reset(void)
{
    pthread_mutex_lock(&lock);
    const char *k;
    json_t *v;
    json_object_foreach(compiled, k, v)
    {
        mh_schema_destroy((struct mh_schema *)(uintptr_t)json_integer_value(v));
    }
    json_decref(compiled);
    json_decref(doc);
    compiled = doc = NULL;
    pthread_mutex_unlock(&lock);
}

char *mh_it_openapi_template(const char *pattern)
{
    size_t n = strlen(pattern);
    char *out = malloc(2 * n + 1), *o = out;
    for (const char *p = pattern; *p;) {
        if (*p == ':' && (p == pattern || p[-1] == '/')) {
            *o++ = '{';
            p++;
            while (*p && *p != '/')
                *o++ = *p++;
            *o++ = '}';
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

/* Appends `token` to the URI fragment `frag` as a JSON pointer token, percent-encoding what a
 * fragment may not hold. */
static void pointer_add(char *frag, size_t cap, const char *token)
{
    size_t len = strlen(frag);
    if (len + 1 < cap)
        frag[len++] = '/';
    for (const char *t = token; *t && len + 4 < cap; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '~') {
            frag[len++] = '~';
            frag[len++] = '0';
        } else if (c == '/') {
            frag[len++] = '~';
            frag[len++] = '1';
        } else if (isalnum(c) || strchr("-._!$&'()*+,;=:@", c)) {
            frag[len++] = (char)c;
        } else {
            len += (size_t)snprintf(frag + len, cap - len, "%%%02X", c);
        }
    }
    frag[len] = '\0';
}

/* Follows a {"$ref": "#/components/..."} of a response object, keeping `frag` its pointer. */
static json_t *deref(json_t *obj, char *frag, size_t cap)
{
    const char *ref = json_string_value(json_object_get(obj, "$ref"));
    if (ref == NULL || strncmp(ref, "#/components/", 13) != 0)
        return obj;
    json_t *at = doc;
    snprintf(frag, cap, "#");
    char *copy = strdup(ref + 2), *save = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok && at; tok = strtok_r(NULL, "/", &save)) {
        at = json_object_get(at, tok);
        pointer_add(frag, cap, tok);
    }
    free(copy);
    return at;
}

/* The compiled form of `schema` (borrowed), found at `frag` in the document. */
static const struct mh_schema *schema_at(const char *frag, json_t *schema)
{
    json_t *have = json_object_get(compiled, frag);
    if (have)
        return (const struct mh_schema *)(uintptr_t)json_integer_value(have);
    /* The document's schemas refer to "#/components/schemas/..." from its root: compile the
     * response's schema under a root that holds the document's components (not its paths,
     * which are most of its size: the compiler copies what it is given). */
    json_t *wrapper = json_pack("{s:[O], s:O}", "allOf", schema, "components",
                                json_object_get(doc, "components"));
    struct mh_schema *s = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_schema_compile(wrapper, &s, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "api/openapi.json: the schema %s does not compile: %s at %s",
                  frag, info.message, info.path);
    json_decref(wrapper);
    json_object_set_new(compiled, frag, json_integer((json_int_t)(uintptr_t)s));
    return s;
}

static char *header_value(const struct mh_it_resp *resp, const char *name)
{
    char *v = mh_it_resp_header(resp, name);
    if (v) {
        char *semi = strchr(v, ';');
        if (semi)
            *semi = '\0';
        for (char *p = v; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    return v;
}

/* A request's Content-Type among "Name: value" lines, lowercased without parameters; malloc'd. */
static char *request_type(const char *const *headers)
{
    for (int i = 0; headers && headers[i]; i++) {
        if (strncasecmp(headers[i], "Content-Type:", 13) != 0)
            continue;
        const char *v = headers[i] + 13;
        while (*v == ' ')
            v++;
        char *t = strndup(v, strcspn(v, "; "));
        for (char *c = t; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        return t;
    }
    return NULL;
}

/* A mismatch of a request the server accepted: fails the test, or with MH_OPENAPI_REQUEST_LOG
 * set, is appended to that file. */
static void request_mismatch(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void request_mismatch(const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *log = getenv("MH_OPENAPI_REQUEST_LOG");
    FILE *f = log && log[0] ? fopen(log, "a") : NULL;
    if (f == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s", msg);
    fprintf(f, "%s\n", msg);
    fclose(f);
}

/* A JSON request body that the server accepted (a 2xx) must be one its operation documents:
 * the document would otherwise describe a body that clients cannot send, or miss one they can. */
static void check_request(json_t *op, const char *op_frag, const char *method, const char *tmpl,
                          const char *const *headers, const char *body, size_t body_len)
{
    char *type = request_type(headers);
    json_t *value = json_loadb(body, body_len, JSON_DECODE_ANY, NULL);
    if (type == NULL || strcmp(type, "application/json") != 0 || value == NULL) {
        free(type);
        json_decref(value);
        return;
    }
    free(type);
    json_t *schema = json_object_get(
        json_object_get(json_object_get(json_object_get(op, "requestBody"), "content"),
                        "application/json"),
        "schema");
    if (schema == NULL) {
        request_mismatch("openapi: %s %s accepted a JSON body it does not document: %.300s", method,
                         tmpl, body);
    } else {
        char frag[1024];
        snprintf(frag, sizeof(frag), "%s", op_frag);
        pointer_add(frag, sizeof(frag), "requestBody");
        pointer_add(frag, sizeof(frag), "content");
        pointer_add(frag, sizeof(frag), "application/json");
        pointer_add(frag, sizeof(frag), "schema");
        json_t *errors = NULL;
        if (!mh_schema_validate(schema_at(frag, schema), value, &errors)) {
            char *e = json_dumps(errors, JSON_COMPACT);
            request_mismatch("openapi: %s %s accepted a request body that does not match its "
                             "schema (%s): %s\n    body: %.600s",
                             method, tmpl, frag, e, body);
            free(e);
        }
        json_decref(errors);
    }
    json_decref(value);
}

void mh_it_openapi_check(const char *method, const char *url, const char *const *req_headers,
                         const char *req_body, size_t req_body_len, const struct mh_it_resp *resp)
{
    const char *off = getenv("MH_OPENAPI_CHECK");
    if ((off && strcmp(off, "0") == 0) || resp->status == 0 || strcmp(method, "HEAD") == 0)
        return;
    const char *p = strstr(url, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    if (p == NULL)
        return;
    char *path = strndup(p, strcspn(p, "?#"));
    struct mh_arena *arena = mh_arena_create();
    struct mh_http__match m;
    int routed = mh_http__route(mh_app_routes, mh_app_routes_count, method, path, arena, &m);
    mh_arena_destroy(arena);
    free(path);
    if (routed != 200)
        return; /* not a route: a static file, or the router's own 404 and 405 */
    mh_it_openapi_doc();
    char *tmpl = mh_it_openapi_template(m.route->pattern);
    char op_name[16];
    size_t i = 0;
    for (; method[i] && i + 1 < sizeof(op_name); i++)
        op_name[i] = (char)tolower((unsigned char)method[i]);
    op_name[i] = '\0';

    pthread_mutex_lock(&lock);
    char frag[1024] = "#";
    pointer_add(frag, sizeof(frag), "paths");
    pointer_add(frag, sizeof(frag), tmpl);
    pointer_add(frag, sizeof(frag), op_name);
    json_t *op = json_object_get(json_object_get(json_object_get(doc, "paths"), tmpl), op_name);
    if (op == NULL)
        mh_t_fail(__FILE__, __LINE__, "openapi: %s %s (route %s) is not in api/openapi.json",
                  method, tmpl, m.route->pattern);
    if (resp->status >= 200 && resp->status < 300 && req_body && req_body_len > 0)
        check_request(op, frag, method, tmpl, req_headers, req_body, req_body_len);
    pointer_add(frag, sizeof(frag), "responses");
    json_t *responses = json_object_get(op, "responses");
    char key[32];
    snprintf(key, sizeof(key), "%ld", resp->status);
    json_t *r = json_object_get(responses, key);
    if (r == NULL) {
        snprintf(key, sizeof(key), "%ldXX", resp->status / 100);
        r = json_object_get(responses, key);
    }
    if (r == NULL) {
        snprintf(key, sizeof(key), "default");
        r = json_object_get(responses, key);
    }
    if (r == NULL)
        mh_t_fail(__FILE__, __LINE__, "openapi: %s %s answered %ld, a status it does not document",
                  method, tmpl, resp->status);
    pointer_add(frag, sizeof(frag), key);
    r = deref(r, frag, sizeof(frag));
    json_t *content = json_object_get(r, "content");
    char *ct = header_value(resp, "Content-Type");
    if (content == NULL || json_object_size(content) == 0) {
        if (resp->body_len > 0)
            mh_t_fail(__FILE__, __LINE__,
                      "openapi: %s %s %ld documents no body, but one came (%s): %.300s", method,
                      tmpl, resp->status, ct ? ct : "no content type", resp->body);
    } else {
        json_t *media = ct ? json_object_get(content, ct) : NULL;
        if (media == NULL)
            mh_t_fail(__FILE__, __LINE__,
                      "openapi: %s %s %ld answered with content type %s, which it does not "
                      "document",
                      method, tmpl, resp->status, ct ? ct : "(none)");
        pointer_add(frag, sizeof(frag), "content");
        pointer_add(frag, sizeof(frag), ct);
        if (strcmp(ct, "application/json") == 0 && json_object_get(media, "schema")) {
            pointer_add(frag, sizeof(frag), "schema");
            if (resp->json == NULL)
                mh_t_fail(__FILE__, __LINE__, "openapi: %s %s %ld: the body is not JSON: %.300s",
                          method, tmpl, resp->status, resp->body);
            const struct mh_schema *s = schema_at(frag, json_object_get(media, "schema"));
            json_t *errors = NULL;
            if (!mh_schema_validate(s, resp->json, &errors)) {
                char *e = json_dumps(errors, JSON_COMPACT);
                mh_t_fail(__FILE__, __LINE__,
                          "openapi: %s %s %ld does not match its schema (%s): %s\n    body: %.600s",
                          method, tmpl, resp->status, frag, e, resp->body);
            }
            json_decref(errors);
        }
    }
    const char *seen = getenv("MH_OPENAPI_SEEN");
    if (seen && seen[0]) {
        FILE *f = fopen(seen, "a");
        if (f) {
            fprintf(f, "%s %s %ld\n", method, tmpl, resp->status);
            fclose(f);
        }
    }
    pthread_mutex_unlock(&lock);
    free(ct);
    free(tmpl);
}
