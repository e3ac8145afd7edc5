/* SPDX-License-Identifier: MIT */
/*
 * Webhook endpoints' management API (docs/api.md, "Webhook intake"): create, list, read, change
 * and delete endpoints of a workflow; add, rotate and revoke their signing keys (a secret is
 * shown once, when its key is created, and stored only sealed under the key-encryption key);
 * the delivery log with paging; replaying an accepted delivery into a new run; and the test
 * webhook, which sends a sample payload through the real intake signed with the endpoint's own
 * key. Editors write, viewers read; every change is audited and drops the endpoint from this
 * instance's intake cache once committed (other instances notice through config_version).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "engine/engine.h"
#include "runtime/store.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "intake/intake.h"
#include "schema/schema.h"
#include "schemes/schemes.h"

/* Random bytes of a public id: 192 bits, 32 base64url characters. */
#define PUBLIC_ID_BYTES   24
#define DEFAULT_BODY      1048576L
#define MAX_RATE          1000000
#define MAX_METHODS       5
#define MAX_GRACE_S       (30L * 86400L)
#define TEST_MAX_BODY     (256 * 1024)
#define LOG_FLUSH_WAIT_MS 2000

static const char *const endpoint_sql =
    "SELECT e.id, e.project_id, e.workflow_id, e.public_id, '/hooks/' || e.public_id AS path, "
    "e.name, e.is_enabled, to_jsonb(e.methods) AS methods, e.pinned_version, e.verification, "
    "e.max_body_bytes, e.rate_capacity, e.rate_per_second, e.json_schema, "
    "e.idempotency_retention_s, e.response_mode, e.response_timeout_ms, "
    "to_json(e.created_at) AS created_at, "
    "to_json(e.updated_at) AS updated_at FROM webhook_endpoints e "
    "WHERE e.project_id = $1 AND e.id = $2";

static const char *const keys_sql =
    "SELECT k.id, k.algorithm, k.kid, k.label, k.public_key_pem, "
    "to_json(k.created_at) AS created_at, to_json(k.expires_at) AS expires_at, "
    "to_json(k.revoked_at) AS revoked_at, to_json(k.last_used_at) AS last_used_at, "
    "(k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())) AS is_active "
    "FROM webhook_endpoint_keys k WHERE k.project_id = $1 AND k.endpoint_id = $2 "
    "ORDER BY k.created_at DESC, k.id";

/* What of a delivery is recorded data, shown through the caller's privacy view. */
static const char *const delivery_data[] = {"headers", "reason", NULL};
const char *const *const mh_h_delivery_data = delivery_data;

static const char *const delivery_cols =
    "d.id, to_json(d.received_at) AS received_at, d.method, d.status, d.outcome, d.reason, "
    "d.headers, d.content_type, d.body_size, encode(d.body_hash, 'hex') AS body_sha256, "
    "d.key_id, d.run_id, d.replay_of, d.is_test";
const char *const mh_h_delivery_cols = delivery_cols;

struct endpoint_input {
    const char *name;
    json_t *is_enabled;
    json_t *methods;
    json_t *pinned_version;
    json_t *verification; /* normalised, new */
    long max_body_bytes;
    long rate_capacity;
    double rate_per_second;
    json_t *json_schema;
    long retention_s;
    const char *response_mode; /* NULL: keep (or "accept") */
    long response_timeout_ms;
};

static json_t *endpoint_json(struct mh_api *api, const char *pid, const char *eid);
static json_t *find_endpoint(struct mh_api *api, const char *pid, const char *eid);
static bool read_input(struct mh_api *api, json_t *body, bool is_create, struct endpoint_input *in);
static bool read_methods(struct mh_api *api, json_t *v, char *out, size_t cap);
static char *pg_text_array(json_t *methods);
static bool add_key(struct mh_api *api, const char *pid, const char *eid, const char *scheme,
                    json_t *spec, const char *where, int64_t expires_in_s, json_t **key_out);
static bool check_version_exists(struct mh_api *api, const char *pid, const char *wid,
                                 json_t *pinned);
static void list_endpoints(struct mh_http_req *req, void *app, bool by_workflow);
static void create_key(struct mh_http_req *req, void *app, bool is_rotation);
static void invalidate(struct mh_api *api, const char *public_id);
static json_t *sender_examples(struct mh_api *api, const char *pid, const char *eid,
                               const char *secret, const char *kid);
static void decref_void(void *p);

static void decref_void(void *p)
{
    json_decref(p);
}

static void invalidate(struct mh_api *api, const char *public_id)
{
    mh_intake_invalidate(api->app->intake, public_id);
}

/* The endpoint with its keys (no secret), or NULL after answering 404. Borrowed (arena). */
static json_t *endpoint_json(struct mh_api *api, const char *pid, const char *eid)
{
    const char *params[] = {pid, eid};
    json_t *row = mh_api_query_row(api, "webhook endpoint not found", endpoint_sql, 2, params);
    if (row == NULL)
        return NULL;
    json_t *keys = mh_api_query(api, keys_sql, 2, params);
    if (keys == NULL)
        return NULL;
    json_object_set(row, "keys", keys);
    return row;
}

/* Checks the ids and that the endpoint exists in the project; answers 404 otherwise. */
static json_t *find_endpoint(struct mh_api *api, const char *pid, const char *eid)
{
    if (!mh_api_is_uuid(eid)) {
        mh_http_respond_error(api->req, 404, "not_found", "webhook endpoint not found", NULL);
        return NULL;
    }
    const char *params[] = {pid, eid};
    return mh_api_query_row(api, "webhook endpoint not found",
                            "SELECT id, public_id, workflow_id, verification->>'scheme' AS scheme "
                            "FROM webhook_endpoints WHERE project_id = $1 AND id = $2",
                            2, params);
}

static bool read_methods(struct mh_api *api, json_t *v, char *out, size_t cap)
{
    static const char *const allowed[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    size_t i;
    json_t *m;
    out[0] = '\0';
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_METHODS)
        goto bad;
    json_array_foreach(v, i, m)
    {
        const char *s = json_string_value(m);
        bool ok = false;
        for (size_t k = 0; s && k < MH_ARRAY_LEN(allowed) && !ok; k++)
            ok = strcmp(s, allowed[k]) == 0;
        for (size_t k = 0; k < i && ok; k++)
            ok = strcmp(json_string_value(json_array_get(v, k)), s) != 0;
        if (!ok)
            goto bad;
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? "," : "", s);
    }
    return true;
bad:
    mh_http_respond_error(api->req, 422, "invalid",
                          "'methods' must list 1 to 5 distinct methods of GET, POST, PUT, PATCH, "
                          "DELETE",
                          "/methods");
    return false;
}

/* "{POST,PUT}" for a text[] parameter (the methods are checked words). */
static char *pg_text_array(json_t *methods)
{
    char buf[64] = "{";
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        size_t used = strlen(buf);
        snprintf(buf + used, sizeof(buf) - used, "%s%s", i ? "," : "", json_string_value(m));
    }
    size_t used = strlen(buf);
    snprintf(buf + used, sizeof(buf) - used, "}");
    return mh_xstrdup(buf);
}

/* Reads and checks the settable fields. Absent fields are NULL / -1 (keep, or default). */
static bool read_input(struct mh_api *api, json_t *body, bool is_create, struct endpoint_input *in)
{
    static const char *const fields[] = {"name",
                                         "is_enabled",
                                         "methods",
                                         "pinned_version",
                                         "verification",
                                         "max_body_bytes",
                                         "rate_capacity",
                                         "rate_per_second",
                                         "json_schema",
                                         "idempotency_retention_s",
                                         "key",
                                         "response_mode",
                                         "response_timeout_ms",
                                         NULL};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char methods[64];
    memset(in, 0, sizeof(*in));
    in->max_body_bytes = -1;
    in->rate_capacity = -1;
    in->rate_per_second = -1;
    in->retention_s = -1;
    in->response_timeout_ms = -1;
    if (!mh_api_only_fields(api, body, fields) ||
        !mh_api_string(api, body, "name", false, 0, 200, &in->name))
        return false;
    in->is_enabled = json_object_get(body, "is_enabled");
    if (in->is_enabled && !json_is_boolean(in->is_enabled)) {
        mh_http_respond_error(api->req, 422, "invalid", "'is_enabled' must be a boolean",
                              "/is_enabled");
        return false;
    }
    in->methods = json_object_get(body, "methods");
    if (in->methods && !read_methods(api, in->methods, methods, sizeof(methods)))
        return false;
    in->pinned_version = json_object_get(body, "pinned_version");
    if (in->pinned_version && !json_is_null(in->pinned_version) &&
        (!json_is_integer(in->pinned_version) || json_integer_value(in->pinned_version) < 1 ||
         json_integer_value(in->pinned_version) > 1000000000)) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'pinned_version' must be a version number, or null for the latest",
                              "/pinned_version");
        return false;
    }
    json_t *vf = json_object_get(body, "verification");
    if (vf || is_create) {
        json_t *def = NULL;
        if (vf == NULL)
            vf = def = json_pack("{s:s}", "scheme", "none");
        enum mh_err rc = mh_intake_verification_normalize(vf, &in->verification, &info);
        json_decref(def);
        if (rc != MH_OK) {
            char path[300];
            snprintf(path, sizeof(path), "/verification%s", info.path);
            mh_http_respond_error(api->req, 422, "invalid", info.message, path);
            return false;
        }
        mh_arena_defer(mh_http_req_arena(api->req), decref_void, in->verification);
    }
    long server_max = mh_intake_max_endpoint_body(api->app->intake);
    if (!mh_api_int(api, body, "max_body_bytes", 1, server_max, &in->max_body_bytes) ||
        !mh_api_int(api, body, "rate_capacity", 1, MAX_RATE, &in->rate_capacity) ||
        !mh_api_int(api, body, "idempotency_retention_s", 60, 31536000, &in->retention_s) ||
        !mh_api_int(api, body, "response_timeout_ms", 100, 30000, &in->response_timeout_ms))
        return false;
    json_t *mode = json_object_get(body, "response_mode");
    if (mode && !json_is_null(mode)) {
        in->response_mode = json_string_value(mode);
        if (in->response_mode == NULL || (strcmp(in->response_mode, "accept") != 0 &&
                                          strcmp(in->response_mode, "respond") != 0)) {
            mh_http_respond_error(api->req, 422, "invalid",
                                  "'response_mode' must be \"accept\" (202 once recorded) or "
                                  "\"respond\" (the workflow's respond step)",
                                  "/response_mode");
            return false;
        }
    }
    json_t *rps = json_object_get(body, "rate_per_second");
    if (rps && !json_is_null(rps)) {
        double r = json_number_value(rps);
        if (!json_is_number(rps) || !(r > 0) || r > MAX_RATE || !isfinite(r)) {
            mh_http_respond_error(api->req, 422, "invalid",
                                  "'rate_per_second' must be a number above 0 and at most "
                                  "1000000",
                                  "/rate_per_second");
            return false;
        }
        in->rate_per_second = r;
    }
    in->json_schema = json_object_get(body, "json_schema");
    if (in->json_schema && !json_is_null(in->json_schema)) {
        struct mh_schema *compiled = NULL;
        if (!json_is_object(in->json_schema) && !json_is_boolean(in->json_schema)) {
            mh_http_respond_error(api->req, 422, "invalid",
                                  "'json_schema' must be a JSON Schema (an object or a boolean)",
                                  "/json_schema");
            return false;
        }
        if (mh_schema_compile(in->json_schema, &compiled, &info) != MH_OK) {
            char path[300];
            snprintf(path, sizeof(path), "/json_schema%s", info.path);
            mh_http_respond_error(api->req, 422, "invalid", info.message, path);
            return false;
        }
        mh_schema_destroy(compiled);
    }
    return true;
}

static bool check_version_exists(struct mh_api *api, const char *pid, const char *wid,
                                 json_t *pinned)
{
    if (pinned == NULL || json_is_null(pinned))
        return true;
    char v[24];
    snprintf(v, sizeof(v), "%lld", (long long)json_integer_value(pinned));
    const char *params[] = {pid, wid, v};
    json_t *rows = mh_api_query(api,
                                "SELECT 1 FROM workflow_versions WHERE project_id = $1 AND "
                                "workflow_id = $2 AND version = $3::int AND state = 'published'",
                                3, params);
    if (rows == NULL)
        return false;
    if (json_array_size(rows) == 0) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "the workflow has no published version with this number",
                              "/pinned_version");
        return false;
    }
    return true;
}

/*
 * Inserts a key from `spec` ({secret?, algorithm?, public_key_pem?, jwk?, jwks?, kid?, label?};
 * NULL: a generated secret of the scheme's kind), or, for a JWKS, one key per signing key it
 * holds. *key_out (arena) is the (first) new key's row, with "secret" when one was given or
 * generated: the only time it is ever shown. `where` is the JSON pointer of `spec` in the request
 * body ("/key" or "") for error paths.
 */
static bool add_key(struct mh_api *api, const char *pid, const char *eid, const char *scheme,
                    json_t *spec, const char *where, int64_t expires_in_s, json_t **key_out)
{
    static const char *const fields[] = {"secret", "algorithm", "public_key_pem", "jwk", "jwks",
                                         "kid",    "label",     "expires_in_s",   NULL};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *secret = NULL, *alg = NULL, *pem = NULL, *kid = NULL, *label = NULL;
    char *generated = NULL, *sealed = NULL;
    struct mh_intake_public_key pubs[MH_CRYPTO_SIG_MAX_KEYS];
    size_t npub = 0;
    bool ok = false;
    char key_id[MH_CRYPTO_UUID_STR_LEN], expires[24] = "", path[300];
    if (strcmp(scheme, "none") == 0) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "an endpoint with verification 'none' takes no keys",
                              "/verification/scheme");
        return false;
    }
    if (spec && !json_is_object(spec)) {
        mh_http_respond_error(api->req, 422, "invalid", "'key' must be an object", "/key");
        return false;
    }
    if (spec && (!mh_api_only_fields(api, spec, fields) ||
                 !mh_api_string(api, spec, "secret", false, 1, 4096, &secret) ||
                 !mh_api_string(api, spec, "algorithm", false, 1, 16, &alg) ||
                 !mh_api_string(api, spec, "public_key_pem", false, 1, 16384, &pem) ||
                 !mh_api_string(api, spec, "kid", false, 1, 256, &kid) ||
                 !mh_api_string(api, spec, "label", false, 0, 200, &label)))
        return false;
    long exp_s = expires_in_s;
    if (spec && !mh_api_int(api, spec, "expires_in_s", 60, 10L * 365 * 86400, &exp_s))
        return false;
    json_t *jwk = spec ? json_object_get(spec, "jwk") : NULL;
    json_t *jwks = spec ? json_object_get(spec, "jwks") : NULL;
    if (jwk || jwks) {
        const char *member = jwk ? "jwk" : "jwks";
        if ((jwk && jwks) || secret || pem) {
            snprintf(path, sizeof(path), "%s/%s", where, member);
            mh_http_respond_error(api->req, 422, "invalid",
                                  "give a key as one of 'secret', 'public_key_pem', 'jwk' or "
                                  "'jwks'",
                                  path);
            return false;
        }
        if (jwks && kid) {
            snprintf(path, sizeof(path), "%s/kid", where);
            mh_http_respond_error(api->req, 422, "invalid",
                                  "the keys of a JWKS are named by their own 'kid'", path);
            return false;
        }
        enum mh_err rc =
            mh_intake_keys_from_jwk(scheme, jwk, jwks, alg, pubs, MH_ARRAY_LEN(pubs), &npub, &info);
        if (rc != MH_OK) {
            snprintf(path, sizeof(path), "%s/%s%s", where, member, info.path);
            mh_http_respond_error(api->req, rc == MH_EINVAL ? 422 : 500,
                                  rc == MH_EINVAL ? "invalid" : "internal", info.message, path);
            return false;
        }
    } else {
        if (alg == NULL)
            alg = strcmp(scheme, "jwt") == 0 ? (pem ? "rs256" : "hs256") : "hmac";
        if (mh_intake_key_check(scheme, alg, secret, pem, &info) != MH_OK) {
            snprintf(path, sizeof(path), "%s/%s", where,
                     pem      ? "public_key_pem"
                     : secret ? "secret"
                              : "algorithm");
            mh_http_respond_error(api->req, 422, "invalid", info.message, path);
            return false;
        }
    }
    const char *cp[] = {pid, eid};
    json_t *count = mh_api_query_row(
        api, "webhook endpoint not found",
        "SELECT count(*) AS n FROM webhook_endpoint_keys WHERE project_id = $1 AND endpoint_id = "
        "$2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())",
        2, cp);
    if (count == NULL)
        goto out;
    size_t adding = npub ? npub : 1;
    if (json_integer_value(json_object_get(count, "n")) + (json_int_t)adding >
        MH_CRYPTO_SIG_MAX_KEYS) {
        mh_http_respond_error(api->req, 409, "too_many_keys",
                              "an endpoint has at most 16 active keys: revoke one first", NULL);
        goto out;
    }
    if (npub == 0 && pem == NULL) {
        if (secret == NULL) {
            if (mh_intake_key_generate(scheme, &generated) != MH_OK) {
                mh_http_respond_error(api->req, 500, "internal", "internal error", NULL);
                goto out;
            }
            secret = generated;
        }
    }
    if (exp_s > 0)
        snprintf(expires, sizeof(expires), "%ld", exp_s);
    for (size_t i = 0; i < adding; i++) {
        if (mh_crypto_uuid4(key_id) != MH_OK) {
            mh_http_respond_error(api->req, 500, "internal", "internal error", NULL);
            goto out;
        }
        if (npub == 0 && pem == NULL) {
            enum mh_err rc =
                mh_intake_key_seal(api->app->intake, pid, key_id, secret, &sealed, &info);
            if (rc != MH_OK) {
                mh_http_respond_err(api->req, rc, &info);
                goto out;
            }
        }
        const char *row_alg = npub ? pubs[i].algorithm : alg;
        const char *row_pem = npub ? pubs[i].pem : pem;
        /* A kid given beside a JWK names it instead of the JWK's own. */
        const char *row_kid = npub && !kid ? pubs[i].kid : kid;
        const char *params[] = {key_id,
                                pid,
                                eid,
                                row_alg,
                                sealed,
                                row_pem,
                                row_kid,
                                label ? label : "",
                                expires[0] ? expires : NULL};
        json_t *row = mh_api_query_row(
            api, "webhook endpoint not found",
            "INSERT INTO webhook_endpoint_keys (id, project_id, endpoint_id, algorithm, "
            "sealed_key, public_key_pem, kid, label, expires_at) VALUES ($1, $2, $3, $4, "
            "$5::bytea, $6, $7, $8, now() + $9::bigint * interval '1 second') RETURNING id, "
            "algorithm, kid, label, public_key_pem, to_json(created_at) AS created_at, "
            "to_json(expires_at) AS expires_at, to_json(revoked_at) AS revoked_at, "
            "to_json(last_used_at) AS last_used_at, true AS is_active",
            9, params);
        if (row == NULL)
            goto out;
        if (secret != NULL)
            json_object_set_new(row, "secret", json_string(secret));
        json_t *detail = json_pack("{s:s, s:s}", "endpoint_id", eid, "algorithm", row_alg);
        bool audited = mh_api_audit(api, pid, "webhook_key.create", key_id, detail);
        json_decref(detail);
        if (!audited)
            goto out;
        if (i == 0)
            *key_out = row;
    }
    ok = true;
out:
    mh_intake_public_keys_cleanup(pubs, npub);
    mh_crypto_free_secret_str(generated);
    free(sealed);
    return ok;
}

void mh_h_endpoints_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct endpoint_input in;
    char *public_id = NULL, *methods = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid = mh_http_req_param(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !read_input(&api, body, true, &in))
        goto out;
    const char *wp[] = {pid, wid};
    if (!mh_api_is_uuid(wid) ||
        !mh_api_query_row(&api, "workflow not found",
                          "SELECT id FROM workflows WHERE project_id = $1 AND id = $2 AND "
                          "archived_at IS NULL",
                          2, wp)) {
        if (!mh_http_req_has_responded(req))
            mh_http_respond_error(req, 404, "not_found", "workflow not found", NULL);
        goto out;
    }
    if (!check_version_exists(&api, pid, wid, in.pinned_version))
        goto out;
    char eid[MH_CRYPTO_UUID_STR_LEN], body_max[24], cap[24], rps[40], ret[24];
    if (mh_crypto_uuid4(eid) != MH_OK ||
        mh_crypto_token_b64url(PUBLIC_ID_BYTES, &public_id) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    long server_max = mh_intake_max_endpoint_body(api.app->intake);
    snprintf(body_max, sizeof(body_max), "%ld",
             in.max_body_bytes > 0 ? in.max_body_bytes
                                   : (server_max < DEFAULT_BODY ? server_max : DEFAULT_BODY));
    snprintf(cap, sizeof(cap), "%ld", in.rate_capacity > 0 ? in.rate_capacity : 100);
    snprintf(rps, sizeof(rps), "%.17g", in.rate_per_second > 0 ? in.rate_per_second : 50.0);
    snprintf(ret, sizeof(ret), "%ld", in.retention_s > 0 ? in.retention_s : 86400);
    char rto[24];
    snprintf(rto, sizeof(rto), "%ld", in.response_timeout_ms > 0 ? in.response_timeout_ms : 2500);
    methods = in.methods ? pg_text_array(in.methods) : mh_xstrdup("{POST}");
    char *vf = json_dumps(in.verification, JSON_COMPACT);
    char *schema = in.json_schema && !json_is_null(in.json_schema)
                       ? json_dumps(in.json_schema, JSON_COMPACT | JSON_ENCODE_ANY)
                       : NULL;
    char pinned[24] = "";
    if (in.pinned_version && !json_is_null(in.pinned_version))
        snprintf(pinned, sizeof(pinned), "%lld", (long long)json_integer_value(in.pinned_version));
    const char *params[] = {eid,
                            pid,
                            wid,
                            public_id,
                            in.name ? in.name : "",
                            json_is_false(in.is_enabled) ? "false" : "true",
                            methods,
                            pinned[0] ? pinned : NULL,
                            vf,
                            body_max,
                            cap,
                            rps,
                            schema,
                            ret,
                            in.response_mode ? in.response_mode : "accept",
                            rto};
    json_t *rows = mh_api_query(
        &api,
        "INSERT INTO webhook_endpoints (id, project_id, workflow_id, public_id, name, is_enabled, "
        "methods, pinned_version, verification, max_body_bytes, rate_capacity, rate_per_second, "
        "json_schema, idempotency_retention_s, response_mode, response_timeout_ms) VALUES ($1, "
        "$2, $3, $4, $5, $6::boolean, $7::text[], $8::int, $9::jsonb, $10::int, $11::int, "
        "$12::float8, $13::jsonb, $14::int, $15, $16::int)",
        16, params);
    free(vf);
    free(schema);
    if (rows == NULL)
        goto out;
    const char *scheme = json_string_value(json_object_get(in.verification, "scheme"));
    json_t *key = NULL;
    json_t *key_spec = json_object_get(body, "key");
    /* A signing scheme always gets a first key; "none" refuses one given. */
    if ((strcmp(scheme, "none") != 0 || key_spec) &&
        !add_key(&api, pid, eid, scheme, key_spec, "/key", 0, &key))
        goto out;
    json_t *detail = json_pack("{s:s, s:s}", "workflow_id", wid, "scheme", scheme);
    bool ok = mh_api_audit(&api, pid, "webhook_endpoint.create", eid, detail);
    json_decref(detail);
    json_t *ep = ok ? endpoint_json(&api, pid, eid) : NULL;
    /* The one answer that knows the secret: its examples carry it. */
    json_t *ex =
        ep ? sender_examples(&api, pid, eid,
                             key ? json_string_value(json_object_get(key, "secret")) : NULL,
                             key ? json_string_value(json_object_get(key, "kid")) : NULL)
           : NULL;
    if (ex == NULL || !mh_api_commit(&api))
        goto out;
    json_t *resp = json_deep_copy(ep);
    if (key)
        json_object_set(resp, "key", key);
    json_object_set(resp, "examples", ex);
    invalidate(&api, public_id);
    mh_http_respond_json(req, 201, resp);
out:
    free(public_id);
    free(methods);
    mh_api_close(&api);
}

static void list_endpoints(struct mh_http_req *req, void *app, bool by_workflow)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *wid =
        by_workflow ? mh_http_req_param(req, "workflow_id") : mh_http_req_query(req, "workflow_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page))
        goto out;
    if (wid && !mh_api_is_uuid(wid)) {
        mh_http_respond_error(req, 404, "not_found", "workflow not found", NULL);
        goto out;
    }
    const char *params[] = {pid, wid};
    mh_api_respond_list(
        &api, &page,
        "SELECT e.id, e.workflow_id, e.public_id, '/hooks/' || e.public_id AS path, e.name, "
        "e.is_enabled, to_jsonb(e.methods) AS methods, e.pinned_version, "
        "e.verification->>'scheme' AS scheme, to_json(e.created_at) AS created_at, "
        "(SELECT count(*) FROM webhook_endpoint_keys k WHERE k.endpoint_id = e.id AND "
        "k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))::int AS "
        "active_keys FROM webhook_endpoints e WHERE e.project_id = $1 AND "
        "($2::uuid IS NULL OR e.workflow_id = $2::uuid) AND "
        "($4::timestamptz IS NULL OR (e.created_at, e.id) < ($4::timestamptz, $5::uuid)) "
        "ORDER BY e.created_at DESC, e.id DESC LIMIT $3::int",
        2, params, "created_at", "id");
out:
    mh_api_close(&api);
}

void mh_h_endpoints_list(struct mh_http_req *req, void *app)
{
    list_endpoints(req, app, false);
}

void mh_h_endpoints_list_workflow(struct mh_http_req *req, void *app)
{
    list_endpoints(req, app, true);
}

void mh_h_endpoints_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !find_endpoint(&api, pid, eid))
        goto out;
    json_t *ep = endpoint_json(&api, pid, eid);
    if (ep)
        mh_http_respond_json(req, 200, json_incref(ep));
out:
    mh_api_close(&api);
}

void mh_h_endpoints_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct endpoint_input in;
    char *methods = NULL, *vf = NULL, *schema = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *cur = find_endpoint(&api, pid, eid);
    json_t *body = cur ? mh_api_body(&api) : NULL;
    if (body == NULL || !read_input(&api, body, false, &in))
        goto out;
    if (json_object_get(body, "key")) {
        mh_http_respond_error(req, 422, "invalid",
                              "keys are added through .../keys and .../keys/rotate", "/key");
        goto out;
    }
    const char *wid = json_string_value(json_object_get(cur, "workflow_id"));
    if (!check_version_exists(&api, pid, wid, in.pinned_version))
        goto out;
    char body_max[24] = "", cap[24] = "", rps[40] = "", ret[24] = "", pinned[24] = "";
    if (in.max_body_bytes > 0)
        snprintf(body_max, sizeof(body_max), "%ld", in.max_body_bytes);
    if (in.rate_capacity > 0)
        snprintf(cap, sizeof(cap), "%ld", in.rate_capacity);
    if (in.rate_per_second > 0)
        snprintf(rps, sizeof(rps), "%.17g", in.rate_per_second);
    if (in.retention_s > 0)
        snprintf(ret, sizeof(ret), "%ld", in.retention_s);
    char rto[24] = "";
    if (in.response_timeout_ms > 0)
        snprintf(rto, sizeof(rto), "%ld", in.response_timeout_ms);
    if (in.pinned_version && !json_is_null(in.pinned_version))
        snprintf(pinned, sizeof(pinned), "%lld", (long long)json_integer_value(in.pinned_version));
    methods = in.methods ? pg_text_array(in.methods) : NULL;
    vf = in.verification ? json_dumps(in.verification, JSON_COMPACT) : NULL;
    schema = in.json_schema && !json_is_null(in.json_schema)
                 ? json_dumps(in.json_schema, JSON_COMPACT | JSON_ENCODE_ANY)
                 : NULL;
    const char *params[] = {pid,
                            eid,
                            in.name,
                            in.is_enabled ? (json_is_true(in.is_enabled) ? "true" : "false") : NULL,
                            methods,
                            in.pinned_version ? "1" : NULL,
                            pinned[0] ? pinned : NULL,
                            vf,
                            body_max[0] ? body_max : NULL,
                            cap[0] ? cap : NULL,
                            rps[0] ? rps : NULL,
                            in.json_schema ? "1" : NULL,
                            schema,
                            ret[0] ? ret : NULL,
                            in.response_mode,
                            rto[0] ? rto : NULL};
    if (!mh_api_query(&api,
                      "UPDATE webhook_endpoints SET name = coalesce($3, name), "
                      "is_enabled = coalesce($4::boolean, is_enabled), "
                      "methods = coalesce($5::text[], methods), "
                      "pinned_version = CASE WHEN $6::text IS NULL THEN pinned_version "
                      "ELSE $7::int END, verification = coalesce($8::jsonb, verification), "
                      "max_body_bytes = coalesce($9::int, max_body_bytes), "
                      "rate_capacity = coalesce($10::int, rate_capacity), "
                      "rate_per_second = coalesce($11::float8, rate_per_second), "
                      "json_schema = CASE WHEN $12::text IS NULL THEN json_schema "
                      "ELSE $13::jsonb END, "
                      "idempotency_retention_s = coalesce($14::int, idempotency_retention_s), "
                      "response_mode = coalesce($15, response_mode), "
                      "response_timeout_ms = coalesce($16::int, response_timeout_ms) "
                      "WHERE project_id = $1 AND id = $2",
                      16, params))
        goto out;
    json_t *detail = json_deep_copy(body);
    json_object_del(detail, "json_schema");
    bool ok = mh_api_audit(&api, pid, "webhook_endpoint.update", eid, detail);
    json_decref(detail);
    json_t *ep = ok ? endpoint_json(&api, pid, eid) : NULL;
    if (ep == NULL || !mh_api_commit(&api))
        goto out;
    invalidate(&api, json_string_value(json_object_get(cur, "public_id")));
    mh_http_respond_json(req, 200, json_incref(ep));
out:
    free(methods);
    free(vf);
    free(schema);
    mh_api_close(&api);
}

void mh_h_endpoints_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *cur = find_endpoint(&api, pid, eid);
    const char *params[] = {pid, eid};
    if (cur == NULL || !mh_api_audit(&api, pid, "webhook_endpoint.delete", eid, NULL) ||
        !mh_api_query(&api, "DELETE FROM webhook_endpoints WHERE project_id = $1 AND id = $2", 2,
                      params) ||
        !mh_api_commit(&api))
        goto out;
    invalidate(&api, json_string_value(json_object_get(cur, "public_id")));
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}

/* ---- Keys --------------------------------------------------------------------------------- */

void mh_h_endpoint_keys_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !find_endpoint(&api, pid, eid))
        goto out;
    const char *params[] = {pid, eid};
    json_t *rows = mh_api_query(&api, keys_sql, 2, params);
    if (rows)
        mh_http_respond_json(req, 200, json_pack("{s:O}", "items", rows));
out:
    mh_api_close(&api);
}

static void create_key(struct mh_http_req *req, void *app, bool is_rotation)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    json_t *key = NULL;
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *cur = find_endpoint(&api, pid, eid);
    json_t *body = cur ? mh_api_body(&api) : NULL;
    if (body == NULL)
        goto out;
    long grace = 86400;
    json_t *spec = json_deep_copy(body);
    mh_arena_defer(mh_http_req_arena(req), decref_void, spec);
    if (is_rotation) {
        if (!mh_api_int(&api, body, "grace_s", 0, MAX_GRACE_S, &grace))
            goto out;
        json_object_del(spec, "grace_s");
        /* The old keys go first, so the count of active keys leaves room for the new one. */
        char g[24];
        snprintf(g, sizeof(g), "%ld", grace);
        const char *params[] = {pid, eid, g};
        if (!mh_api_query(&api,
                          "UPDATE webhook_endpoint_keys SET expires_at = least(coalesce("
                          "expires_at, 'infinity'), now() + $3::bigint * interval '1 second') "
                          "WHERE project_id = $1 AND endpoint_id = $2 AND revoked_at IS NULL "
                          "AND (expires_at IS NULL OR expires_at > now())",
                          3, params))
            goto out;
    }
    const char *scheme = json_string_value(json_object_get(cur, "scheme"));
    if (!add_key(&api, pid, eid, scheme ? scheme : "none", spec, "", 0, &key))
        goto out;
    if (is_rotation) {
        json_t *detail = json_pack("{s:s, s:I}", "endpoint_id", eid, "grace_s", (json_int_t)grace);
        bool ok = mh_api_audit(&api, pid, "webhook_key.rotate",
                               json_string_value(json_object_get(key, "id")), detail);
        json_decref(detail);
        if (!ok)
            goto out;
    }
    const char *params[] = {pid, eid};
    json_t *keys = mh_api_query(&api, keys_sql, 2, params);
    json_t *ex =
        keys ? sender_examples(&api, pid, eid, json_string_value(json_object_get(key, "secret")),
                               json_string_value(json_object_get(key, "kid")))
             : NULL;
    if (ex == NULL || !mh_api_commit(&api))
        goto out;
    invalidate(&api, json_string_value(json_object_get(cur, "public_id")));
    mh_http_respond_json(req, 201,
                         json_pack("{s:O, s:O, s:O}", "key", key, "keys", keys, "examples", ex));
out:
    mh_api_close(&api);
}

void mh_h_endpoint_keys_create(struct mh_http_req *req, void *app)
{
    create_key(req, app, false);
}

void mh_h_endpoint_keys_rotate(struct mh_http_req *req, void *app)
{
    create_key(req, app, true);
}

void mh_h_endpoint_keys_revoke(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    const char *kid = mh_http_req_param(req, "key_id");
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *cur = find_endpoint(&api, pid, eid);
    if (cur == NULL)
        goto out;
    if (!mh_api_is_uuid(kid)) {
        mh_http_respond_error(req, 404, "not_found", "key not found", NULL);
        goto out;
    }
    const char *params[] = {pid, eid, kid};
    json_t *detail = json_pack("{s:s}", "endpoint_id", eid);
    bool ok = mh_api_query_row(&api, "key not found",
                               "UPDATE webhook_endpoint_keys SET revoked_at = now() WHERE "
                               "project_id = $1 AND endpoint_id = $2 AND id = $3 AND revoked_at "
                               "IS NULL RETURNING id",
                               3, params) &&
              mh_api_audit(&api, pid, "webhook_key.revoke", kid, detail) && mh_api_commit(&api);
    json_decref(detail);
    if (!ok)
        goto out;
    invalidate(&api, json_string_value(json_object_get(cur, "public_id")));
    mh_http_respond_json(req, 204, NULL);
out:
    mh_api_close(&api);
}

/* ---- Delivery log ------------------------------------------------------------------------- */

void mh_h_deliveries_list(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    /* Refusals are logged in the background: what was queued before this request is listed. */
    mh_intake_log_flush(((struct mh_app *)app)->intake, LOG_FLUSH_WAIT_MS);
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page) ||
        !find_endpoint(&api, pid, eid))
        goto out;
    const char *outcome = mh_http_req_query(req, "outcome");
    if (outcome && strcmp(outcome, "accepted") != 0 && strcmp(outcome, "refused") != 0 &&
        strcmp(outcome, "duplicate") != 0) {
        mh_http_respond_error(req, 422, "invalid", "outcome must be accepted, refused or duplicate",
                              "?outcome");
        goto out;
    }
    char limit[24], sql[1024];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    snprintf(sql, sizeof(sql),
             "SELECT %s FROM webhook_deliveries d WHERE d.project_id = $1 AND d.endpoint_id = $2 "
             "AND ($5::text IS NULL OR d.outcome = $5) AND ($3::timestamptz IS NULL OR "
             "(d.received_at, d.id) < ($3::timestamptz, $4::uuid)) "
             "ORDER BY d.received_at DESC, d.id DESC LIMIT $6::int",
             delivery_cols);
    const char *params[] = {pid, eid, page.after_key, page.after_id, outcome, limit};
    json_t *rows = mh_api_query(&api, sql, 6, params);
    if (rows == NULL || !mh_api_show_members(&api, pid, rows, delivery_data))
        goto out;
    json_t *result = mh_api_page_result(&page, rows, "received_at", "id");
    json_object_set_new(result, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, result);
out:
    mh_api_close(&api);
}

/*
 * Every delivery of the project, newest first, through the endpoints' own index: each
 * endpoint's newest matching rows, merged (no project-wide index for the intake to maintain).
 * Filters: endpoint_id, outcome, status (a code such as 401, or a class such as 4xx), since and
 * until (timestamps; since inclusive, until exclusive).
 */
void mh_h_deliveries_list_project(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    const char *pid = mh_http_req_param(req, "project_id");
    mh_intake_log_flush(((struct mh_app *)app)->intake, LOG_FLUSH_WAIT_MS);
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page))
        goto out;
    const char *eid = mh_http_req_query(req, "endpoint_id");
    const char *outcome = mh_http_req_query(req, "outcome");
    const char *status = mh_http_req_query(req, "status");
    const char *since = mh_http_req_query(req, "since");
    const char *until = mh_http_req_query(req, "until");
    if (eid && !mh_api_is_uuid(eid)) {
        mh_http_respond_error(req, 404, "not_found", "webhook endpoint not found", NULL);
        goto out;
    }
    if (outcome && strcmp(outcome, "accepted") != 0 && strcmp(outcome, "refused") != 0 &&
        strcmp(outcome, "duplicate") != 0) {
        mh_http_respond_error(req, 422, "invalid", "outcome must be accepted, refused or duplicate",
                              "?outcome");
        goto out;
    }
    char lo[8] = "", hi[8] = "";
    if (status) {
        size_t n = strlen(status);
        bool is_class = n == 3 && status[0] >= '1' && status[0] <= '5' &&
                        (status[1] == 'x' || status[1] == 'X') &&
                        (status[2] == 'x' || status[2] == 'X');
        bool is_code = n == 3 && status[0] >= '1' && status[0] <= '5' && status[1] >= '0' &&
                       status[1] <= '9' && status[2] >= '0' && status[2] <= '9';
        if (!is_class && !is_code) {
            mh_http_respond_error(req, 422, "invalid",
                                  "status must be an HTTP status code such as 401, or a class "
                                  "such as 4xx",
                                  "?status");
            goto out;
        }
        snprintf(lo, sizeof(lo), "%c%c%c", status[0], is_class ? '0' : status[1],
                 is_class ? '0' : status[2]);
        snprintf(hi, sizeof(hi), "%c%c%c", status[0], is_class ? '9' : status[1],
                 is_class ? '9' : status[2]);
    }
    const char *times[] = {since, until};
    const char *names[] = {"?since", "?until"};
    for (size_t i = 0; i < 2; i++) {
        int64_t ms;
        if (times[i] != NULL && !mh_engine_parse_rfc3339(times[i], &ms)) {
            mh_http_respond_error(req, 422, "invalid",
                                  "since and until must be RFC 3339 timestamps such as "
                                  "2026-12-06T19:30:00Z",
                                  names[i]);
            goto out;
        }
    }
    char limit[24], sql[2048];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    snprintf(sql, sizeof(sql),
             "SELECT %s, d.endpoint_id, e.name AS endpoint_name FROM webhook_endpoints e "
             "CROSS JOIN LATERAL (SELECT x.* FROM webhook_deliveries x WHERE x.endpoint_id = e.id "
             "AND x.project_id = $1 AND ($5::text IS NULL OR x.outcome = $5) AND ($6::int IS NULL "
             "OR x.status BETWEEN $6::int AND $7::int) AND ($8::timestamptz IS NULL OR "
             "x.received_at >= $8::timestamptz) AND ($9::timestamptz IS NULL OR x.received_at < "
             "$9::timestamptz) AND ($3::timestamptz IS NULL OR (x.received_at, x.id) < "
             "($3::timestamptz, $4::uuid)) ORDER BY x.received_at DESC, x.id DESC LIMIT "
             "$10::int) d WHERE e.project_id = $1 AND ($2::uuid IS NULL OR e.id = $2::uuid) "
             "ORDER BY d.received_at DESC, d.id DESC LIMIT $10::int",
             delivery_cols);
    const char *params[] = {
        pid,   eid,   page.after_key, page.after_id, outcome, lo[0] ? lo : NULL, hi[0] ? hi : NULL,
        since, until, limit};
    json_t *rows = mh_api_query(&api, sql, 10, params);
    if (rows == NULL || !mh_api_show_members(&api, pid, rows, delivery_data))
        goto out;
    json_t *result = mh_api_page_result(&page, rows, "received_at", "id");
    json_object_set_new(result, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, result);
out:
    mh_api_close(&api);
}

/*
 * The body a delivery's run recorded, exactly as received (the intake refuses bodies that are not
 * UTF-8, so it is text): set as "body" on `row` when there is one (accepted deliveries and their
 * replays; refusals keep only size and hash).
 */
static bool add_delivery_body(struct mh_api *api, const char *pid, json_t *row)
{
    const char *run_id = json_string_value(json_object_get(row, "run_id"));
    if (run_id == NULL)
        return true;
    const char *ep[] = {pid, run_id};
    json_t *rows = mh_api_query(api,
                                "SELECT coalesce(v.payload->'delivery'->>'raw_body', (SELECT "
                                "convert_from(b.data, 'UTF8') FROM blobs b WHERE b.project_id = "
                                "$1 AND b.hash = decode(v.payload->'delivery'->>'raw_body_blob', "
                                "'hex'))) AS body FROM events v WHERE v.project_id = $1 AND "
                                "v.run_id = $2 AND v.seq = 1",
                                2, ep);
    if (rows == NULL)
        return false;
    json_t *body = json_object_get(json_array_get(rows, 0), "body");
    if (json_is_string(body))
        json_object_set(row, "body", body);
    return true;
}

/*
 * Why a delivery cannot be replayed, or NULL when it can: `d` has the delivery's outcome,
 * status, reason, run_id, and for a refusal its kept body ("body") and refused_body_note.
 */
static const char *replay_blocker(json_t *d)
{
    const char *outcome = json_string_value(json_object_get(d, "outcome"));
    const char *note = json_string_value(json_object_get(d, "refused_body_note"));
    const char *reason = json_string_value(json_object_get(d, "reason"));
    json_int_t status = json_integer_value(json_object_get(d, "status"));
    if (outcome && strcmp(outcome, "accepted") == 0)
        return json_is_string(json_object_get(d, "run_id")) ? NULL : "it started no run";
    if (outcome == NULL || strcmp(outcome, "refused") != 0)
        return "a duplicate started nothing: replay the delivery that started its run";
    if (json_is_string(json_object_get(d, "body")))
        return NULL;
    if (note && strcmp(note, "quota") == 0)
        return "its body was not kept: the project's refused bodies had reached the server's "
               "refused_body_quota_bytes";
    if (note && strcmp(note, "busy") == 0)
        return "its body was not kept: the delivery log had too many bodies waiting to be "
               "written";
    bool is_unpublished = status == 503 && reason && strncmp(reason, "not_published", 13) == 0;
    if (status == 422 || is_unpublished)
        return "its body was not kept: it was refused before refused deliveries kept their body";
    if (status == 400 || status == 415)
        return "its body was not kept: no setting of the endpoint changes this refusal, so the "
               "sender must send it again";
    return "its body is never kept: it was refused before its signature was verified";
}

/* One delivery; `eid` NULL: any endpoint of the project. */
static void get_delivery(struct mh_http_req *req, void *app, bool by_endpoint)
{
    struct mh_api api;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = by_endpoint ? mh_http_req_param(req, "endpoint_id") : NULL;
    const char *did = mh_http_req_param(req, "delivery_id");
    mh_intake_log_flush(((struct mh_app *)app)->intake, LOG_FLUSH_WAIT_MS);
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) ||
        (by_endpoint && !find_endpoint(&api, pid, eid)))
        goto out;
    if (!mh_api_is_uuid(did)) {
        mh_http_respond_error(req, 404, "not_found", "delivery not found", NULL);
        goto out;
    }
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT %s, d.endpoint_id, d.refused_body AS body, d.refused_body_note FROM "
             "webhook_deliveries d WHERE d.project_id = $1 AND ($2::uuid IS NULL OR "
             "d.endpoint_id = $2::uuid) AND d.id = $3",
             delivery_cols);
    const char *params[] = {pid, eid, did};
    json_t *row = mh_api_query_row(&api, "delivery not found", sql, 3, params);
    static const char *const shown[] = {"headers", "reason", "body", NULL};
    if (row == NULL)
        goto out;
    if (json_is_null(json_object_get(row, "body")))
        json_object_del(row, "body");
    const char *blocker = replay_blocker(row);
    json_object_set_new(row, "replayable", json_boolean(blocker == NULL));
    if (blocker)
        json_object_set_new(row, "not_replayable_reason", json_string(blocker));
    json_object_del(row, "refused_body_note");
    /* Its replays, newest first (migration 0028 indexes replay_of). */
    const char *rp[] = {pid, did};
    json_t *replays = mh_api_query(&api,
                                   "SELECT r.id, r.run_id, to_json(r.received_at) AS received_at "
                                   "FROM webhook_deliveries r WHERE r.replay_of = $2 AND "
                                   "r.project_id = $1 ORDER BY r.received_at DESC, r.id DESC "
                                   "LIMIT 20",
                                   2, rp);
    if (replays == NULL)
        goto out;
    json_object_set(row, "replays", replays);
    if (!add_delivery_body(&api, pid, row) || !mh_api_show_members(&api, pid, row, shown))
        goto out;
    json_object_set_new(row, "redacted", json_boolean(mh_api_is_redacting(&api)));
    mh_http_respond_json(req, 200, json_incref(row));
out:
    mh_api_close(&api);
}

void mh_h_deliveries_get(struct mh_http_req *req, void *app)
{
    get_delivery(req, app, true);
}

void mh_h_deliveries_get_project(struct mh_http_req *req, void *app)
{
    get_delivery(req, app, false);
}

/*
 * A refused delivery's replay input (migration 0028): its kept body judged again against the
 * endpoint as it is now (size, content type, JSON Schema), and on success the trigger and the
 * `delivery` record of the run's first event, as the intake would have written them had the
 * delivery been accepted (the query string as the refusal kept it, migration 0043). A body
 * above MH_INTAKE_INLINE_BODY_MAX goes to the blobs table, as the intake's would. False after
 * answering: 409 when no body was kept (saying why), the intake's status (422 with the schema's
 * errors and the first one's path) when the body is still refused.
 */
static bool refused_replay_input(struct mh_api *api, const char *pid, json_t *ep, json_t *d,
                                 json_t **trigger, json_t **delivery)
{
    struct mh_http_req *req = api->req;
    const char *blocker = replay_blocker(d);
    if (blocker) {
        char msg[300];
        snprintf(msg, sizeof(msg), "this delivery cannot be replayed: %s", blocker);
        mh_http_respond_error(req, 409, "not_replayable", msg, NULL);
        return false;
    }
    const char *body = json_string_value(json_object_get(d, "body"));
    size_t len = json_string_length(json_object_get(d, "body"));
    const char *ctype = json_string_value(json_object_get(d, "content_type"));
    const char *hash = json_string_value(json_object_get(d, "body_hash"));
    struct mh_intake_rejudged r;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc =
        mh_intake_rejudge(api->app->intake, json_string_value(json_object_get(ep, "public_id")),
                          ctype, body, len, &r, &info);
    if (rc != MH_OK || r.status != 0) {
        if (rc != MH_OK) {
            mh_http_respond_err(req, rc, &info);
        } else {
            json_t *err = json_pack("{s:s, s:s}", "code", r.code, "message", info.message);
            if (r.errors) {
                json_object_set(err, "errors", r.errors);
                json_t *first = json_object_get(json_array_get(r.errors, 0), "path");
                if (json_is_string(first))
                    json_object_set(err, "path", first);
            }
            mh_http_respond_json(
                req, r.status,
                json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(req)));
        }
        mh_intake_rejudged_cleanup(&r);
        return false;
    }
    json_t *query = json_object_get(d, "refused_query");
    *trigger = json_pack("{s:O, s:o, s:O, s:O, s:O, s:O}", "headers", json_object_get(d, "headers"),
                         "query", json_is_object(query) ? json_deep_copy(query) : json_object(),
                         "received_at", json_object_get(d, "received_at_utc"), "method",
                         json_object_get(d, "method"), "content_type",
                         json_object_get(d, "content_type"), "body", r.body_value);
    mh_intake_rejudged_cleanup(&r);
    *delivery =
        json_pack("{s:s, s:s, s:I, s:s?, s:O, s:O}", "endpoint_id",
                  json_string_value(json_object_get(ep, "id")), "scheme",
                  json_string_value(json_object_get(ep, "scheme")), "body_size", (json_int_t)len,
                  "body_sha256", hash, "content_type", json_object_get(d, "content_type"), "key_id",
                  json_object_get(d, "key_id"));
    mh_arena_defer(mh_http_req_arena(req), decref_void, *trigger);
    mh_arena_defer(mh_http_req_arena(req), decref_void, *delivery);
    if (len <= MH_INTAKE_INLINE_BODY_MAX) {
        json_object_set_new(*delivery, "raw_body", json_stringn(body, len));
        return true;
    }
    char size[24];
    snprintf(size, sizeof(size), "%zu", len);
    const char *bp[] = {pid, hash, size, ctype, body};
    if (hash == NULL ||
        mh_api_query(api,
                     "INSERT INTO blobs (project_id, hash, size_bytes, content_type, data) VALUES "
                     "($1, decode($2, 'hex'), $3::int, $4, convert_to($5, 'UTF8')) ON CONFLICT "
                     "(project_id, hash) DO UPDATE SET last_used_at = now() RETURNING 1",
                     5, bp) == NULL) {
        if (!mh_http_req_has_responded(req))
            mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        return false;
    }
    json_object_set_new(*delivery, "raw_body_blob", json_string(hash));
    return true;
}

/*
 * The idempotency key a refusal kept (`d`), claimed for the replay's run `run_id` in the
 * replay's transaction, for the endpoint's idempotency retention, as the intake claims an
 * accepted delivery's: a sender retrying with that key afterwards is answered as a duplicate
 * of the replay's run. A key a live run holds (the sender retried first, or the delivery was
 * replayed before) answers 409 `duplicate` naming that run, and nothing is started. True when
 * there is no key, or it was claimed; false after answering.
 */
static bool claim_refused_key(struct mh_api *api, const char *pid, const char *eid, json_t *d,
                              const char *run_id)
{
    const char *key = json_string_value(json_object_get(d, "refused_idempotency_key"));
    if (key == NULL || strcmp(json_string_value(json_object_get(d, "outcome")), "refused") != 0)
        return true;
    const char *kp[] = {pid, eid, key, run_id};
    json_t *claimed = mh_api_query(
        api,
        "INSERT INTO idempotency_keys AS i (project_id, endpoint_id, key, run_id, expires_at) "
        "SELECT e.project_id, e.id, $3, $4::uuid, now() + e.idempotency_retention_s * interval "
        "'1 second' FROM webhook_endpoints e WHERE e.project_id = $1 AND e.id = $2 ON CONFLICT "
        "(endpoint_id, key) DO UPDATE SET run_id = EXCLUDED.run_id, created_at = now(), "
        "expires_at = EXCLUDED.expires_at WHERE i.expires_at <= now() RETURNING run_id",
        4, kp);
    if (claimed == NULL)
        return false;
    if (json_array_size(claimed) == 1)
        return true;
    json_t *holder = mh_api_query(api,
                                  "SELECT run_id FROM idempotency_keys WHERE project_id = $1 AND "
                                  "endpoint_id = $2 AND key = $3",
                                  3, kp);
    if (holder == NULL)
        return false;
    const char *held_by = json_string_value(json_object_get(json_array_get(holder, 0), "run_id"));
    char msg[200];
    snprintf(msg, sizeof(msg),
             "the delivery's idempotency key already started run %s (the sender sent it again, "
             "or it was replayed before): nothing was started",
             held_by ? held_by : "(unknown)");
    json_t *err = json_pack("{s:s, s:s}", "code", "duplicate", "message", msg);
    if (held_by)
        json_object_set_new(err, "run_id", json_string(held_by));
    mh_http_respond_json(
        api->req, 409,
        json_pack("{s:o, s:s}", "error", err, "request_id", mh_http_req_id(api->req)));
    return false;
}

/*
 * Replay: a new run from a delivery, on the version the endpoint starts now. An accepted one is
 * replayed with the trigger and the raw bytes its first event recorded; a refused one that kept
 * its body (a schema refusal, or no published version) is judged again on the endpoint's current
 * settings first (refused_replay_input). It is logged as a new accepted delivery naming the one
 * it copies. No signature is checked again: the original was verified when it arrived, and a
 * replay is an editor's decision, audited as such. A refusal's idempotency key is claimed for
 * the new run in the same transaction, as the intake would have claimed it (claim_refused_key).
 */
void mh_h_deliveries_replay(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    const char *did = mh_http_req_param(req, "delivery_id");
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    json_t *ep = NULL;
    if (!mh_api_require_role(&api, pid, "editor", NULL) ||
        (ep = find_endpoint(&api, pid, eid)) == NULL)
        goto out;
    if (!mh_api_is_uuid(did)) {
        mh_http_respond_error(req, 404, "not_found", "delivery not found", NULL);
        goto out;
    }
    const char *dp[] = {pid, eid, did};
    json_t *d = mh_api_query_row(
        &api, "delivery not found",
        "SELECT d.id, d.outcome, d.status, d.reason, d.run_id, d.method, d.headers, "
        "d.content_type, d.body_size, encode(d.body_hash, 'hex') AS body_hash, d.key_id, "
        "d.refused_body AS body, d.refused_body_note, d.refused_query, "
        "d.refused_idempotency_key, to_char(d.received_at AT TIME ZONE 'UTC', "
        "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS received_at_utc FROM webhook_deliveries d "
        "WHERE d.project_id = $1 AND d.endpoint_id = $2 AND d.id = $3",
        3, dp);
    if (d == NULL)
        goto out;
    json_t *trigger = NULL, *orig = NULL;
    if (strcmp(json_string_value(json_object_get(d, "outcome")), "refused") == 0) {
        if (!refused_replay_input(&api, pid, ep, d, &trigger, &orig))
            goto out;
    } else {
        const char *orig_run = json_string_value(json_object_get(d, "run_id"));
        if (strcmp(json_string_value(json_object_get(d, "outcome")), "accepted") != 0 ||
            !orig_run) {
            mh_http_respond_error(req, 409, "not_replayable",
                                  "only deliveries that started a run, or refused deliveries "
                                  "that kept their body, can be replayed",
                                  NULL);
            goto out;
        }
        const char *rp[] = {orig_run};
        json_t *ev =
            mh_api_query_row(&api, "the delivery's run no longer exists",
                             "SELECT payload FROM events WHERE run_id = $1 AND seq = 1", 1, rp);
        if (ev == NULL)
            goto out;
        json_t *payload = json_object_get(ev, "payload");
        trigger = json_object_get(payload, "trigger");
        orig = json_object_get(payload, "delivery");
    }
    const char *vp[] = {pid, eid};
    json_t *target = mh_api_query_row(
        &api, "webhook endpoint not found",
        /* The version the intake would start (migrations/0032_start_version.sql). */
        "SELECT e.workflow_id, v.version_id, v.version FROM webhook_endpoints e "
        "LEFT JOIN LATERAL mh_endpoint_start_version(e.workflow_id, e.pinned_version) v ON true "
        "WHERE e.project_id = $1 AND e.id = $2",
        2, vp);
    if (target == NULL)
        goto out;
    if (!json_is_object(trigger) || !json_is_string(json_object_get(target, "version_id"))) {
        mh_http_respond_error(req, 409, "not_published",
                              json_is_object(trigger)
                                  ? "the endpoint's workflow has no published version to start"
                                  : "the delivery's run holds no trigger to replay",
                              NULL);
        goto out;
    }
    char new_did[MH_CRYPTO_UUID_STR_LEN], run_id[37];
    if (mh_crypto_uuid7(mh_clock_now_ms(), new_did) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "internal error", NULL);
        goto out;
    }
    json_t *delivery = json_is_object(orig) ? json_deep_copy(orig) : json_object();
    json_object_set_new(delivery, "id", json_string(new_did));
    json_object_set_new(delivery, "replay_of", json_string(did));
    json_t *extra = json_pack("{s:o}", "delivery", delivery);
    mh_arena_defer(mh_http_req_arena(req), decref_void, extra);
    struct mh_run_start s = {
        .project_id = pid,
        .workflow_id = json_string_value(json_object_get(target, "workflow_id")),
        .version_id = json_string_value(json_object_get(target, "version_id")),
        .version = json_integer_value(json_object_get(target, "version")),
        .trigger = trigger,
        .extra = extra,
        .delivery_id = new_did,
    };
    enum mh_err rc = mh_engine_run_create(api.conn, &s, run_id, &api.info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &api.info);
        goto out;
    }
    char *headers = json_dumps(json_object_get(d, "headers"), JSON_COMPACT);
    char size[24], reason[80];
    snprintf(size, sizeof(size), "%lld",
             (long long)json_integer_value(json_object_get(d, "body_size")));
    snprintf(reason, sizeof(reason), "replay of delivery %s", did);
    const char *body_hash = json_string_value(json_object_get(d, "body_hash"));
    char hash_param[80] = "";
    if (body_hash)
        snprintf(hash_param, sizeof(hash_param), "\\x%s", body_hash);
    const char *ip[] = {new_did,
                        pid,
                        eid,
                        json_string_value(json_object_get(d, "method")),
                        reason,
                        headers,
                        json_string_value(json_object_get(d, "content_type")),
                        size,
                        body_hash ? hash_param : NULL,
                        json_string_value(json_object_get(d, "key_id")),
                        run_id,
                        did};
    /* The endpoint is locked as a foreign key would lock it (migration 0011). */
    json_t *row = mh_api_query_row(
        &api, "endpoint not found",
        "INSERT INTO webhook_deliveries (id, project_id, endpoint_id, method, status, outcome, "
        "reason, headers, content_type, body_size, body_hash, key_id, run_id, replay_of) SELECT "
        "$1, $2, $3, $4, 202, 'accepted', $5, $6::jsonb, $7, $8::int, $9::bytea, $10::uuid, $11, "
        "$12 FROM webhook_endpoints WHERE id = $3 AND project_id = $2 FOR KEY SHARE RETURNING id",
        12, ip);
    free(headers);
    if (row == NULL || !claim_refused_key(&api, pid, eid, d, run_id))
        goto out;
    json_t *detail =
        json_pack("{s:s, s:s, s:s}", "endpoint_id", eid, "delivery_id", did, "run_id", run_id);
    bool ok =
        mh_api_audit(&api, pid, "webhook_delivery.replay", new_did, detail) && mh_api_commit(&api);
    json_decref(detail);
    if (!ok)
        goto out;
    mh_engine_runtime_wake(api.app->runtime);
    mh_http_respond_json(
        req, 202,
        json_pack("{s:s, s:s, s:s}", "run_id", run_id, "delivery_id", new_did, "replay_of", did));
out:
    mh_api_close(&api);
}

/* ---- Schema check ------------------------------------------------------------------------- */

/*
 * Checks a JSON Schema without saving it: {json_schema, delivery_id?} (a delivery of this
 * endpoint that started a run) or {json_schema, payload}. A schema that is not a valid schema is
 * a 422 whose path points into it (/json_schema/...); otherwise {valid, errors} for the recorded
 * payload (the trigger.body the run saw), or {valid: true, errors: []} with nothing to test.
 */
void mh_h_endpoints_schema_check(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"json_schema", "delivery_id", "payload", NULL};
    struct mh_schema *compiled = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    const char *did = NULL;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !find_endpoint(&api, pid, eid))
        goto out;
    json_t *body = mh_api_body(&api);
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "delivery_id", false, 1, 64, &did))
        goto out;
    json_t *schema = json_object_get(body, "json_schema");
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        mh_http_respond_error(req, 422, "invalid",
                              "'json_schema' must be a JSON Schema (an object or a boolean)",
                              "/json_schema");
        goto out;
    }
    if (mh_schema_compile(schema, &compiled, &info) != MH_OK) {
        char path[300];
        snprintf(path, sizeof(path), "/json_schema%s", info.path);
        mh_http_respond_error(req, 422, "invalid", info.message, path);
        goto out;
    }
    json_t *instance = json_object_get(body, "payload");
    if (did && instance) {
        mh_http_respond_error(req, 422, "invalid", "give either 'delivery_id' or 'payload'",
                              "/payload");
        goto out;
    }
    if (did) {
        if (!mh_api_is_uuid(did)) {
            mh_http_respond_error(req, 404, "not_found", "delivery not found", "/delivery_id");
            goto out;
        }
        const char *dp[] = {pid, eid, did};
        json_t *row = mh_api_query_row(
            &api, "delivery not found",
            "SELECT d.run_id, (SELECT coalesce(v.payload->'trigger'->'body', "
            "(v.payload->'delivery'->>'raw_body')::jsonb) FROM events v WHERE v.project_id = $1 "
            "AND v.run_id = d.run_id AND v.seq = 1) AS payload FROM webhook_deliveries d WHERE "
            "d.project_id = $1 AND d.endpoint_id = $2 AND d.id = $3",
            3, dp);
        if (row == NULL)
            goto out;
        instance = json_object_get(row, "payload");
        if (instance == NULL || !json_is_string(json_object_get(row, "run_id"))) {
            mh_http_respond_error(req, 409, "no_payload",
                                  "only a delivery that started a run has a recorded payload",
                                  "/delivery_id");
            goto out;
        }
    }
    json_t *errors = NULL;
    bool valid = instance == NULL || mh_schema_validate(compiled, instance, &errors);
    mh_http_respond_json(
        req, 200,
        json_pack("{s:b, s:o}", "valid", valid, "errors", errors ? errors : json_array()));
out:
    mh_schema_destroy(compiled);
    mh_api_close(&api);
}

/* ---- Sender examples -------------------------------------------------------------------- */

/* The base of the endpoint's URL: ?base_url= (what the browser sees, e.g. behind a proxy) when
 * it is a plain http(s) origin, else http://<Host>. Written into shell words: checked strictly. */
static bool example_base(struct mh_http_req *req, char *out, size_t cap)
{
    const char *base = mh_http_req_query(req, "base_url");
    const char *host = mh_http_req_header(req, "Host");
    const char *p;
    if (base) {
        size_t n = strlen(base);
        bool ok = n < cap && n <= 300 &&
                  (strncmp(base, "http://", 7) == 0 || strncmp(base, "https://", 8) == 0);
        const char *origin = ok ? strstr(base, "//") + 2 : "";
        ok = ok && *origin != '\0';
        for (p = origin; *p; p++)
            ok = ok && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || strchr(".-:[]", *p) != NULL);
        if (!ok)
            return false;
        snprintf(out, cap, "%s", base);
        return true;
    }
    bool ok = host && *host && strlen(host) <= 255;
    for (p = host; ok && *p; p++)
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             strchr(".-:[]", *p) != NULL;
    snprintf(out, cap, "http://%s", ok ? host : "localhost");
    return true;
}

/* The examples of the endpoint (arena), or NULL after answering an error. */
static json_t *sender_examples(struct mh_api *api, const char *pid, const char *eid,
                               const char *secret, const char *kid)
{
    char base[320], url[400];
    if (!example_base(api->req, base, sizeof(base))) {
        mh_http_respond_error(api->req, 422, "invalid",
                              "'base_url' must be an http(s) origin such as https://hooks.example",
                              "?base_url");
        return NULL;
    }
    const char *params[] = {pid, eid};
    json_t *row = mh_api_query_row(
        api, "webhook endpoint not found",
        "SELECT e.public_id, e.verification, to_jsonb(e.methods) AS methods, "
        "e.json_schema IS NOT NULL AS has_schema, (SELECT k.kid FROM webhook_endpoint_keys k "
        "WHERE k.endpoint_id = e.id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR "
        "k.expires_at > now()) ORDER BY k.created_at DESC, k.id LIMIT 1) AS kid "
        "FROM webhook_endpoints e WHERE e.project_id = $1 AND e.id = $2",
        2, params);
    if (row == NULL)
        return NULL;
    snprintf(url, sizeof(url), "%s/hooks/%s", base,
             json_string_value(json_object_get(row, "public_id")));
    json_t *methods = json_object_get(row, "methods");
    const char *method = json_string_value(json_array_get(methods, 0));
    size_t i;
    json_t *m;
    json_array_foreach(methods, i, m)
    {
        if (strcmp(json_string_value(m), "POST") == 0)
            method = "POST";
    }
    json_t *out = NULL;
    if (mh_scheme_examples(json_object_get(row, "verification"), url, method ? method : "POST",
                           secret, kid ? kid : json_string_value(json_object_get(row, "kid")),
                           json_is_true(json_object_get(row, "has_schema")), &out) != MH_OK) {
        mh_http_respond_error(api->req, 500, "internal", "internal error", NULL);
        return NULL;
    }
    mh_arena_defer(mh_http_req_arena(api->req), decref_void, out);
    return out;
}

void mh_h_endpoints_examples(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !find_endpoint(&api, pid, eid))
        goto out;
    json_t *ex = sender_examples(&api, pid, eid, NULL, NULL);
    if (ex)
        mh_http_respond_json(req, 200, json_incref(ex));
out:
    mh_api_close(&api);
}

/* ---- Test webhook ------------------------------------------------------------------------- */

/*
 * Sends {"payload"} (default: a small sample event) as JSON, or {"body", "content_type"} as
 * given, through the intake exactly as an external sender would — signed with the endpoint's
 * newest key — and answers with the intake's response and the run it started.
 */
void mh_h_endpoints_test(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    static const char *const fields[] = {"payload", "body", "content_type", NULL};
    const char *pid = mh_http_req_param(req, "project_id");
    const char *eid = mh_http_req_param(req, "endpoint_id");
    char *payload_text = NULL, *public_id = NULL;
    const char *body_text = NULL, *ct = NULL;
    json_t *sent = NULL, *run = NULL;
    struct mh_intake_result res = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    if (!mh_api_require_role(&api, pid, "editor", NULL))
        goto out;
    json_t *cur = find_endpoint(&api, pid, eid);
    json_t *body = cur ? mh_api_body(&api) : NULL;
    if (body == NULL || !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "body", false, 0, TEST_MAX_BODY, &body_text) ||
        !mh_api_string(&api, body, "content_type", false, 1, 200, &ct))
        goto out;
    json_t *payload = json_object_get(body, "payload");
    if (payload && body_text) {
        mh_http_respond_error(req, 422, "invalid", "give either 'payload' or 'body', not both",
                              "/body");
        goto out;
    }
    if (body_text == NULL) {
        json_t *sample = NULL;
        if (payload == NULL) {
            char now[32];
            snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
            sample = json_pack("{s:s, s:s, s:s}", "type", "meshhook.test", "message",
                               "Test webhook sent by MeshHook", "sent_at", now);
        }
        payload_text = json_dumps(payload ? payload : sample, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(sample);
        body_text = payload_text;
        if (ct == NULL)
            ct = "application/json";
    }
    if (ct == NULL)
        ct = "text/plain";
    public_id = mh_xstrdup(json_string_value(json_object_get(cur, "public_id")));
    /* The intake takes connections of its own: hand this one back while it runs. */
    mh_api_close(&api);
    enum mh_err rc =
        mh_intake_test_send(api.app->intake, public_id, ct, body_text, strlen(body_text),
                            mh_http_req_id(req), &res, &sent, &info);
    if (rc != MH_OK) {
        mh_http_respond_err(req, rc, &info);
        goto done;
    }
    if (res.run_id[0]) {
        if (!mh_api_open(&api, req, app, MH_API_AUTH))
            goto done;
        const char *rp[] = {pid, res.run_id};
        json_t *row = mh_api_query_row(&api, "run not found",
                                       "SELECT id, workflow_id, version, status, is_test, "
                                       "to_json(created_at) AS created_at, delivery_id FROM runs "
                                       "WHERE project_id = $1 AND id = $2",
                                       2, rp);
        if (row == NULL)
            goto out;
        run = json_incref(row);
        mh_api_close(&api);
    }
    mh_http_respond_json(req, 200,
                         json_pack("{s:{s:s, s:o}, s:{s:i, s:O}, s:o}", "request", "content_type",
                                   ct, "headers", sent ? json_incref(sent) : json_object(),
                                   "response", "status", res.status, "body",
                                   res.body       ? res.body
                                   : res.response ? (json_object_get(res.response, "body")
                                                         ? json_object_get(res.response, "body")
                                                         : json_null())
                                                  : json_null(),
                                   "run", run ? run : json_null()));
    run = NULL;
    goto done;
out:
    mh_api_close(&api);
done:
    json_decref(run);
    json_decref(sent);
    mh_intake_result_cleanup(&res);
    free(payload_text);
    free(public_id);
}

void mh_h_schemes(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    mh_http_respond_json(req, 200, json_pack("{s:o}", "schemes", mh_scheme_describe_all()));
    mh_api_close(&api);
}
