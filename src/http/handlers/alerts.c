/* SPDX-License-Identifier: MIT */
/*
 * Failure alerts over the API (docs/observability.md, "Alerts"): a project's rules, its
 * channels (signed alert webhooks and error workflows), the alert history, each channel's
 * delivery log, and "send a test alert". Viewers read; owners and admins write. Every rule and
 * channel is validated whole before anything is stored, and a bad field is a 422 naming its
 * path. A webhook channel's Standard Webhooks secret is generated here, sealed by the vault and
 * shown once, in the creation's response; the evaluation and the deliveries are src/alerts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "core/buf.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "secrets/secrets.h"

#define WINDOW_MAX_S  (30 * 24 * 3600)
#define URL_MAX       2048
#define NAME_MAX_LEN  200
#define ID_LIST_MAX   100
#define COUNT_MAX     1000000000.0
#define QUEUE_AGE_MAX (7 * 24 * 3600.0)

/* The columns the API shows, of the table named `x` in the statement. */
static const char rule_cols[] =
    "x.id, x.name, x.kind, x.window_s, x.threshold::float8 AS threshold, "
    "coalesce(to_json(x.workflow_ids), 'null') AS workflow_ids, to_json(x.channel_ids) AS "
    "channel_ids, x.host, x.enabled, x.state, x.alert_id, to_json(x.created_at) AS created_at, "
    "to_json(x.updated_at) AS updated_at";

static const char channel_cols[] =
    "x.id, x.name, x.type, x.url, x.workflow_id, to_json(x.created_at) AS created_at, "
    "(SELECT json_build_object('status', d.status, 'last_status', d.last_status, 'at', "
    "to_json(d.created_at)) FROM alert_deliveries d WHERE d.channel_id = x.id ORDER BY "
    "d.created_at DESC, d.id DESC LIMIT 1) AS last_delivery";

/* Each kind: whether it takes a threshold (else 1), its bounds, and whether workflows filter it
 * (docs/observability.md describes them). */
struct kind_def {
    const char *name;
    bool has_threshold;
    bool is_integer;
    double min, max;
    bool has_workflows;
    bool has_host; /* an optional host filter; the window is optional (it means nothing) */
};
static const struct kind_def kinds[] = {
    {"run_failed", false, true, 1, 1, true, false},
    {"failure_count", true, true, 1, COUNT_MAX, true, false},
    {"failure_rate", true, false, 0.01, 99.99, true, false},
    {"dead_letter", false, true, 1, 1, true, false},
    {"queue_age", true, false, 1, QUEUE_AGE_MAX, false, false},
    {"refusals", true, true, 1, COUNT_MAX, false, false},
    {"breaker_opened", false, true, 1, 1, false, true},
};

#define HOST_MAX_LEN             300
#define BREAKER_DEFAULT_WINDOW_S 60

static const struct kind_def *kind_get(const char *name)
{
    for (size_t i = 0; name && i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    return NULL;
}

static bool invalid(struct mh_api *api, const char *path, const char *msg)
{
    mh_http_respond_error(api->req, 422, "invalid", msg, path);
    return false;
}

/* An absolute http(s) URL with a host and no whitespace or control characters. */
static bool url_ok(const char *u)
{
    const char *rest = NULL;
    if (strncasecmp(u, "https://", 8) == 0)
        rest = u + 8;
    else if (strncasecmp(u, "http://", 7) == 0)
        rest = u + 7;
    if (rest == NULL || *rest == '\0' || *rest == '/' || *rest == '?' || *rest == '#' ||
        *rest == ':')
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/*
 * Reads an optional array of ids of `table` rows in project `pid` into a PostgreSQL array
 * literal (*out, in the request arena's lifetime: caller frees). 422 names the first bad
 * element's path.
 */
static bool id_list(struct mh_api *api, json_t *body, const char *field, const char *table,
                    const char *pid, char **out)
{
    json_t *v = json_object_get(body, field);
    char path[64], msg[160];
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return true;
    snprintf(path, sizeof(path), "/%s", field);
    if (!json_is_array(v) || json_array_size(v) > ID_LIST_MAX) {
        snprintf(msg, sizeof(msg), "'%s' must be an array of at most %d ids", field, ID_LIST_MAX);
        return invalid(api, path, msg);
    }
    struct mh_buf b;
    mh_buf_init(&b, 64 * 1024);
    (void)!mh_buf_append_str(&b, "{");
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *id = json_string_value(e);
        snprintf(path, sizeof(path), "/%s/%zu", field, i);
        bool found = false;
        if (id && mh_api_is_uuid(id)) {
            char sql[160];
            snprintf(sql, sizeof(sql), "SELECT 1 FROM %s WHERE project_id = $1 AND id = $2::uuid",
                     table);
            const char *params[] = {pid, id};
            json_t *rows = mh_api_query(api, sql, 2, params);
            if (rows == NULL) {
                mh_buf_cleanup(&b);
                return false;
            }
            found = json_array_size(rows) == 1;
        }
        if (!found) {
            mh_buf_cleanup(&b);
            snprintf(msg, sizeof(msg), "no %s with this id in the project",
                     strcmp(table, "workflows") == 0 ? "workflow" : "alert channel");
            return invalid(api, path, msg);
        }
        (void)!mh_buf_printf(&b, "%s%s", i ? "," : "", id);
    }
    (void)!mh_buf_append_str(&b, "}");
    *out = mh_buf_steal(&b, NULL);
    return true;
}

struct rule_in {
    const char *name;
    const char *kind;
    long window_s;
    double threshold;
    bool enabled;
    char *workflow_ids; /* array literal, NULL: every workflow */
    char *channel_ids;  /* array literal */
    char *host;         /* breaker_opened: lowercased filter, NULL: any host */
    json_t *merged;     /* the stored rule with the request's fields over it; owns the strings */
};

/*
 * Validates a rule: `body` holds the fields given, `base` (may be NULL) the stored rule a PATCH
 * starts from. Fills `in`; answers 422 and returns false on the first bad field.
 */
static bool read_rule(struct mh_api *api, const char *pid, json_t *body, json_t *base,
                      struct rule_in *in)
{
    json_t *merged = in->merged;
    static const char *const fields[] = {"name",      "kind",         "window_s",
                                         "threshold", "workflow_ids", "channel_ids",
                                         "enabled",   "host",         NULL};
    if (!mh_api_only_fields(api, body, fields))
        return false;
    json_object_update(merged, base);
    json_object_update(merged, body);
    if (!mh_api_string(api, merged, "name", true, 1, NAME_MAX_LEN, &in->name) ||
        !mh_api_string(api, merged, "kind", true, 1, 64, &in->kind))
        return false;
    const struct kind_def *k = kind_get(in->kind);
    if (k == NULL)
        return invalid(api, "/kind",
                       "unknown kind: one of run_failed, failure_count, failure_rate, "
                       "dead_letter, queue_age, refusals, breaker_opened");
    json_t *w = json_object_get(merged, "window_s");
    if (k->has_host && (w == NULL || json_is_null(w))) {
        json_object_set_new(merged, "window_s", json_integer(BREAKER_DEFAULT_WINDOW_S));
        w = json_object_get(merged, "window_s");
    }
    if (!json_is_integer(w) || json_integer_value(w) < 1 || json_integer_value(w) > WINDOW_MAX_S) {
        char msg[120];
        snprintf(msg, sizeof(msg), "'window_s' must be a whole number of seconds from 1 to %d",
                 WINDOW_MAX_S);
        return invalid(api, "/window_s", msg);
    }
    in->window_s = (long)json_integer_value(w);
    json_t *t = json_object_get(merged, "threshold");
    if (!k->has_threshold) {
        if (t && !json_is_null(t) && !(json_is_number(t) && json_number_value(t) == 1))
            return invalid(api, "/threshold",
                           "this kind fires on the first occurrence: omit "
                           "'threshold'");
        in->threshold = 1;
    } else {
        char msg[160];
        snprintf(msg, sizeof(msg), "'threshold' must be a%s number from %g to %g for %s",
                 k->is_integer ? " whole" : "", k->min, k->max, k->name);
        if (!json_is_number(t) || json_number_value(t) < k->min || json_number_value(t) > k->max ||
            (k->is_integer && !json_is_integer(t)))
            return invalid(api, "/threshold", msg);
        in->threshold = json_number_value(t);
    }
    json_t *en = json_object_get(merged, "enabled");
    if (en && !json_is_boolean(en))
        return invalid(api, "/enabled", "'enabled' must be true or false");
    in->enabled = en ? json_is_true(en) : true;
    json_t *wf = json_object_get(merged, "workflow_ids");
    if (!k->has_workflows && wf && !json_is_null(wf))
        return invalid(api, "/workflow_ids",
                       "this kind watches the whole project: omit "
                       "'workflow_ids'");
    json_t *host = json_object_get(merged, "host");
    if (host && !json_is_null(host)) {
        if (!k->has_host)
            return invalid(api, "/host", "only a breaker_opened rule filters by host: omit 'host'");
        const char *h = json_string_value(host);
        size_t hl = h ? strlen(h) : 0;
        bool ok = hl >= 1 && hl <= HOST_MAX_LEN;
        for (size_t i = 0; ok && i < hl; i++)
            ok = (unsigned char)h[i] > 0x20 && h[i] != 0x7f;
        if (ok && strstr(h, "://") != NULL)
            ok = url_ok(h) && strchr(strstr(h, "://") + 3, '/') == NULL;
        else if (ok)
            ok = strchr(h, '/') == NULL;
        if (!ok)
            return invalid(api, "/host",
                           "'host' must be a host name (api.example.com) or an origin "
                           "(https://api.example.com:443), without a path");
        in->host = mh_xstrdup(h);
        for (char *c = in->host; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    if (!id_list(api, merged, "workflow_ids", "workflows", pid, &in->workflow_ids))
        return false;
    if (!id_list(api, merged, "channel_ids", "alert_channels", pid, &in->channel_ids))
        return false;
    return true;
}

static void rule_in_cleanup(struct rule_in *in)
{
    free(in->workflow_ids);
    free(in->channel_ids);
    free(in->host);
    json_decref(in->merged);
}

/* What the API lists and shows of one table: alert rules or alert channels. */
struct listed {
    const char *table;     /* named `x` in the statement, as `cols` and `order` name it */
    const char *cols;      /* the columns the API shows */
    const char *order;     /* the list's order */
    const char *not_found; /* the 404's message */
};

static const struct listed rules = {"alert_rules", rule_cols, "x.created_at, x.id",
                                    "alert rule not found"};
static const struct listed channels = {"alert_channels", channel_cols, "x.created_at, x.id",
                                       "alert channel not found"};

/* Row `id` of project `pid` as the API shows it (new reference), or NULL after answering (404
 * for an id that is not a uuid or not there). */
static json_t *listed_get(struct mh_api *api, const struct listed *t, const char *pid,
                          const char *id)
{
    if (!mh_api_is_uuid(id)) {
        mh_http_respond_error(api->req, 404, "not_found", t->not_found, NULL);
        return NULL;
    }
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT %s FROM %s x WHERE x.project_id = $1 AND x.id = $2", t->cols,
             t->table);
    const char *params[] = {pid, id};
    json_t *row = mh_api_query_row(api, t->not_found, sql, 2, params);
    return row ? json_incref(row) : NULL;
}

/* GET of the list: {"items": [...]} for a viewer. */
static void listed_list(struct mh_http_req *req, void *app, const struct listed *t)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT %s FROM %s x WHERE x.project_id = $1 ORDER BY %s", t->cols,
             t->table, t->order);
    const char *params[] = {pid};
    json_t *rows = NULL;
    if (mh_api_require_role(&api, pid, "viewer", NULL) &&
        (rows = mh_api_query(&api, sql, 1, params)) != NULL)
        mh_http_respond_json(req, 200, json_pack("{s:O}", "items", rows));
    mh_api_close(&api);
}

void mh_h_alert_rules_list(struct mh_http_req *req, void *app)
{
    listed_list(req, app, &rules);
}

void mh_h_alert_rules_get(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    json_t *row = NULL;
    if (mh_api_require_role(&api, pid, "viewer", NULL) &&
        (row = listed_get(&api, &rules, pid, mh_http_req_param(req, "rule_id"))) != NULL)
        mh_http_respond_json(req, 200, row);
    mh_api_close(&api);
}

/* Creates (rid NULL) or updates a rule from `body` merged over `base`. */
static void rule_write(struct mh_api *api, const char *pid, const char *rid, json_t *body,
                       json_t *base)
{
    struct rule_in in = {.merged = json_object()};
    char window[24], threshold[48];
    if (!read_rule(api, pid, body, base, &in))
        goto out;
    snprintf(window, sizeof(window), "%ld", in.window_s);
    snprintf(threshold, sizeof(threshold), "%.17g", in.threshold);
    const char *params[] = {pid,
                            in.name,
                            in.kind,
                            window,
                            threshold,
                            in.workflow_ids,
                            in.channel_ids ? in.channel_ids : "{}",
                            in.enabled ? "true" : "false",
                            in.host,
                            rid};
    json_t *row = NULL;
    if (rid == NULL)
        row = mh_api_query_row(
            api, "project not found",
            "INSERT INTO alert_rules (project_id, name, kind, window_s, threshold, workflow_ids, "
            "channel_ids, enabled, host, created_by) VALUES ($1, $2, $3, $4::int, $5::numeric, "
            "$6::uuid[], $7::uuid[], $8::boolean, $9, mh_uid()) RETURNING id",
            9, params);
    else
        /* A rule paused or given another kind starts afresh: its open alert is closed in the
         * history (without a notification: nothing resolved it). */
        row = mh_api_query_row(
            api, "alert rule not found",
            "WITH old AS (SELECT id, kind, alert_id FROM alert_rules WHERE project_id = $1 AND id "
            "= $10::uuid FOR UPDATE), "
            "closed AS (UPDATE alerts a SET state = 'resolved', resolved_at = now() FROM old "
            "WHERE (a.id = old.alert_id OR a.rule_id = old.id) AND a.state = 'firing' AND "
            "(old.kind <> $3 OR NOT "
            "$8::boolean) RETURNING 1) "
            "UPDATE alert_rules r SET name = $2, kind = $3, window_s = $4::int, threshold = "
            "$5::numeric, workflow_ids = $6::uuid[], channel_ids = $7::uuid[], enabled = "
            "$8::boolean, host = $9, updated_at = now(), next_eval_at = now(), state = CASE WHEN "
            "old.kind = $3 AND $8::boolean THEN r.state ELSE 'ok' END, alert_id = CASE WHEN "
            "old.kind = $3 AND $8::boolean THEN r.alert_id END, breaker_cursor = CASE WHEN "
            "old.kind = $3 THEN r.breaker_cursor ELSE coalesce((SELECT max(e.id) FROM "
            "breaker_events e WHERE e.project_id = $1), 0) END FROM old WHERE r.id = old.id "
            "RETURNING r.id",
            10, params);
    if (row == NULL)
        goto out;
    const char *id = json_string_value(json_object_get(row, "id"));
    json_t *detail = json_pack("{s:s, s:s}", "name", in.name, "kind", in.kind);
    bool ok = mh_api_audit(api, pid, rid ? "alert_rule.update" : "alert_rule.create", id, detail);
    json_decref(detail);
    json_t *out = ok ? listed_get(api, &rules, pid, id) : NULL;
    if (out && mh_api_commit(api))
        mh_http_respond_json(api->req, rid ? 200 : 201, out);
    else
        json_decref(out);
out:
    rule_in_cleanup(&in);
}

void mh_h_alert_rules_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    json_t *body = NULL;
    if (mh_api_require_role(&api, pid, "admin", NULL) && (body = mh_api_body(&api)) != NULL)
        rule_write(&api, pid, NULL, body, NULL);
    mh_api_close(&api);
}

void mh_h_alert_rules_update(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *rid = mh_http_req_param(req, "rule_id");
    json_t *body = NULL, *base = NULL;
    if (mh_api_require_role(&api, pid, "admin", NULL) && (body = mh_api_body(&api)) != NULL &&
        (base = listed_get(&api, &rules, pid, rid)) != NULL) {
        /* Only the writable fields of the stored rule are the base of the merge. */
        static const char *const drop[] = {"id",         "state",      "alert_id",
                                           "created_at", "updated_at", NULL};
        for (int i = 0; drop[i]; i++)
            json_object_del(base, drop[i]);
        /* PostgreSQL's numbers come back as reals: a whole threshold is a whole number. */
        json_t *t = json_object_get(base, "threshold");
        if (json_is_real(t) && json_real_value(t) == (double)(json_int_t)json_real_value(t))
            json_object_set_new(base, "threshold", json_integer((json_int_t)json_real_value(t)));
        if (json_is_null(json_object_get(base, "workflow_ids")))
            json_object_del(base, "workflow_ids");
        if (json_is_null(json_object_get(base, "host")))
            json_object_del(base, "host");
        const char *kind = json_string_value(json_object_get(body, "kind"));
        const struct kind_def *k = kind_get(kind);
        if (k && !k->has_threshold)
            json_object_del(base, "threshold");
        if (k && !k->has_workflows)
            json_object_del(base, "workflow_ids");
        if (k && !k->has_host)
            json_object_del(base, "host");
        rule_write(&api, pid, rid, body, base);
    }
    json_decref(base);
    mh_api_close(&api);
}

void mh_h_alert_rules_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *rid = mh_http_req_param(req, "rule_id");
    const char *params[] = {pid, rid};
    /* Its open alert is closed in the history first (without a notification). */
    if (mh_api_require_role(&api, pid, "admin", NULL) &&
        (!mh_api_is_uuid(rid) ||
         mh_api_query(&api,
                      "UPDATE alerts SET state = 'resolved', resolved_at = now() WHERE "
                      "project_id = $1 AND rule_id = $2::uuid AND state = 'firing'",
                      2, params))) {
        json_t *row = mh_api_is_uuid(rid)
                          ? mh_api_query_row(&api, "alert rule not found",
                                             "DELETE FROM alert_rules WHERE project_id = $1 AND "
                                             "id = $2::uuid RETURNING id",
                                             2, params)
                          : NULL;
        if (!mh_api_is_uuid(rid))
            mh_http_respond_error(req, 404, "not_found", "alert rule not found", NULL);
        else if (row && mh_api_audit(&api, pid, "alert_rule.delete", rid, NULL) &&
                 mh_api_commit(&api))
            mh_http_respond_json(req, 204, NULL);
    }
    mh_api_close(&api);
}

/* ---- Channels ----------------------------------------------------------------------------- */

void mh_h_alert_channels_list(struct mh_http_req *req, void *app)
{
    listed_list(req, app, &channels);
}

void mh_h_alert_channels_create(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    static const char *const fields[] = {"name", "type", "url", "workflow_id", NULL};
    const char *name = NULL, *type = NULL, *url = NULL, *wid = NULL;
    char *secret = NULL, *sealed = NULL;
    json_t *body = NULL, *out = NULL;
    if (!mh_api_require_role(&api, pid, "admin", NULL) || (body = mh_api_body(&api)) == NULL ||
        !mh_api_only_fields(&api, body, fields) ||
        !mh_api_string(&api, body, "name", true, 1, NAME_MAX_LEN, &name) ||
        !mh_api_string(&api, body, "type", true, 1, 32, &type))
        goto out;
    bool is_webhook = strcmp(type, "webhook") == 0;
    if (!is_webhook && strcmp(type, "workflow") != 0) {
        invalid(&api, "/type",
                "'type' must be \"webhook\" (a signed alert webhook) or "
                "\"workflow\" (an error workflow)");
        goto out;
    }
    if (is_webhook) {
        if (json_object_get(body, "workflow_id")) {
            invalid(&api, "/workflow_id", "a webhook channel takes a 'url', not a 'workflow_id'");
            goto out;
        }
        if (!mh_api_string(&api, body, "url", true, 1, URL_MAX, &url))
            goto out;
        if (!url_ok(url)) {
            invalid(&api, "/url", "'url' must be an absolute http:// or https:// URL");
            goto out;
        }
    } else {
        if (json_object_get(body, "url")) {
            invalid(&api, "/url", "a workflow channel takes a 'workflow_id', not a 'url'");
            goto out;
        }
        if (!mh_api_string(&api, body, "workflow_id", true, 1, 64, &wid))
            goto out;
        const char *params[] = {pid, wid};
        json_t *rows = NULL;
        if (mh_api_is_uuid(wid) &&
            (rows = mh_api_query(&api,
                                 "SELECT 1 FROM workflows WHERE project_id = $1 AND id = $2::uuid",
                                 2, params)) == NULL)
            goto out;
        if (rows == NULL || json_array_size(rows) != 1) {
            invalid(&api, "/workflow_id", "no workflow with this id in the project");
            goto out;
        }
    }
    char cid[MH_CRYPTO_UUID_STR_LEN];
    if (mh_crypto_uuid4(cid) != MH_OK) {
        mh_http_respond_error(req, 500, "internal", "could not draw an id", NULL);
        goto out;
    }
    const char *kek_id = NULL;
    if (is_webhook) {
        if (!mh_secrets_can_seal(api.app->secrets)) {
            mh_http_respond_error(req, 503, "no_kek",
                                  "no key-encryption key configured: alert webhook secrets are "
                                  "stored in the vault (kek_file or kek; docs/secrets.md)",
                                  NULL);
            goto out;
        }
        char vname[MH_ALERTS_VAULT_NAME_MAX];
        mh_alerts_vault_name(cid, vname);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        enum mh_err rc = mh_crypto_stdwh_secret_generate(&secret);
        if (rc == MH_OK)
            rc = mh_secrets_seal(api.app->secrets, pid, vname, secret, strlen(secret), &sealed,
                                 &kek_id, &info);
        if (rc != MH_OK) {
            mh_http_respond_err(req, rc, &info);
            goto out;
        }
    }
    const char *params[] = {cid, pid, name, type, url, wid, kek_id, sealed};
    json_t *detail = json_pack("{s:s, s:s}", "name", name, "type", type);
    bool ok = mh_api_query(&api,
                           "INSERT INTO alert_channels (id, project_id, name, type, url, "
                           "workflow_id, kek_id, sealed_secret, created_by) VALUES ($1, $2, $3, "
                           "$4, $5, $6::uuid, $7, $8::bytea, mh_uid())",
                           8, params) &&
              mh_api_audit(&api, pid, "alert_channel.create", cid, detail);
    json_decref(detail);
    if (!ok || (out = listed_get(&api, &channels, pid, cid)) == NULL)
        goto out;
    if (secret)
        json_object_set_new(out, "secret", json_string(secret));
    if (mh_api_commit(&api)) {
        mh_http_respond_json(req, 201, out);
        out = NULL;
    }
out:
    json_decref(out);
    mh_crypto_free_secret_str(secret);
    free(sealed);
    mh_api_close(&api);
}

void mh_h_alert_channels_delete(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *cid = mh_http_req_param(req, "channel_id");
    const char *params[] = {pid, cid};
    if (mh_api_require_role(&api, pid, "admin", NULL)) {
        if (!mh_api_is_uuid(cid)) {
            mh_http_respond_error(req, 404, "not_found", "alert channel not found", NULL);
        } else if (mh_api_query_row(&api, "alert channel not found",
                                    "DELETE FROM alert_channels WHERE project_id = $1 AND id = "
                                    "$2::uuid RETURNING id",
                                    2, params) &&
                   mh_api_query(&api,
                                "UPDATE alert_rules SET channel_ids = array_remove(channel_ids, "
                                "$2::uuid) WHERE project_id = $1 AND $2::uuid = ANY (channel_ids)",
                                2, params) &&
                   mh_api_audit(&api, pid, "alert_channel.delete", cid, NULL) &&
                   mh_api_commit(&api)) {
            mh_http_respond_json(req, 204, NULL);
        }
    }
    mh_api_close(&api);
}

void mh_h_alert_channels_test(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *cid = mh_http_req_param(req, "channel_id");
    const char *params[] = {pid, cid};
    json_t *ch = NULL, *row = NULL;
    if (mh_api_require_role(&api, pid, "admin", NULL) &&
        (ch = listed_get(&api, &channels, pid, cid)) != NULL &&
        (row = mh_api_query_row(&api, "alert channel not found",
                                "SELECT mh_alert_test($1, $2::uuid) AS delivery_id", 2, params)) !=
            NULL &&
        mh_api_audit(&api, pid, "alert_channel.test", cid, NULL) && mh_api_commit(&api)) {
        mh_alerts_wake(api.app->alerts);
        mh_http_respond_json(
            req, 202, json_pack("{s:O}", "delivery_id", json_object_get(row, "delivery_id")));
    }
    json_decref(ch);
    mh_api_close(&api);
}

void mh_h_alert_channel_deliveries(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    const char *cid = mh_http_req_param(req, "channel_id");
    json_t *ch = NULL;
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page) ||
        (ch = listed_get(&api, &channels, pid, cid)) == NULL)
        goto out;
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    const char *params[] = {pid, cid, limit, page.after_key, page.after_id};
    json_t *rows = mh_api_query(
        &api,
        "SELECT d.id, d.alert_id, d.event, d.status, d.attempts, d.last_status, d.last_error, "
        "d.run_id, d.payload, to_json(d.created_at) AS created_at, to_json(d.finished_at) AS "
        "finished_at, d.created_at::text AS key, coalesce((SELECT json_agg(json_build_object("
        "'attempt', t.attempt, 'at', t.at, 'status', t.status, 'error', t.error, 'duration_ms', "
        "t.duration_ms) ORDER BY t.id) FROM alert_delivery_attempts t WHERE t.delivery_id = "
        "d.id), '[]') AS attempt_log FROM alert_deliveries d WHERE d.project_id = $1 AND "
        "d.channel_id = $2::uuid AND ($4::text IS NULL OR (d.created_at, d.id) < "
        "($4::timestamptz, $5::uuid)) ORDER BY d.created_at DESC, d.id DESC LIMIT $3::int",
        5, params);
    if (rows == NULL)
        goto out;
    json_t *res = mh_api_page_result(&page, rows, "key", "id");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "items"), i, r)
    {
        json_object_del(r, "key");
        if (json_is_null(json_object_get(r, "detail")))
            json_object_del(r, "detail");
    }
    mh_http_respond_json(req, 200, res);
out:
    json_decref(ch);
    mh_api_close(&api);
}

void mh_h_alerts_history(struct mh_http_req *req, void *app)
{
    struct mh_api api;
    struct mh_api_page page;
    if (!mh_api_open(&api, req, app, MH_API_AUTH))
        return;
    const char *pid = mh_http_req_param(req, "project_id");
    if (!mh_api_require_role(&api, pid, "viewer", NULL) || !mh_api_page(&api, &page))
        goto out;
    char limit[24];
    snprintf(limit, sizeof(limit), "%ld", page.limit + 1);
    const char *params[] = {pid, limit, page.after_key, page.after_id};
    json_t *rows = mh_api_query(
        &api,
        "SELECT a.id, a.rule_id, a.rule_name, a.kind, a.state, a.value::float8 AS value, "
        "a.threshold::float8 AS threshold, a.window_s, a.count, to_json(a.started_at) AS "
        "started_at, to_json(a.notified_at) AS notified_at, to_json(a.resolved_at) AS "
        "resolved_at, a.detail, a.started_at::text AS key, coalesce((SELECT "
        "json_agg(json_build_object("
        "'id', d.id, 'channel_id', d.channel_id, 'event', d.event, 'status', d.status, "
        "'attempts', d.attempts, 'run_id', d.run_id) ORDER BY d.created_at) FROM "
        "alert_deliveries d WHERE d.alert_id = a.id), '[]') AS deliveries FROM alerts a WHERE "
        "a.project_id = $1 AND ($3::text IS NULL OR (a.started_at, a.id) < ($3::timestamptz, "
        "$4::uuid)) ORDER BY a.started_at DESC, a.id DESC LIMIT $2::int",
        4, params);
    if (rows == NULL)
        goto out;
    json_t *res = mh_api_page_result(&page, rows, "key", "id");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "items"), i, r)
    {
        json_object_del(r, "key");
    }
    mh_http_respond_json(req, 200, res);
out:
    mh_api_close(&api);
}
