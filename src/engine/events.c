/* SPDX-License-Identifier: MIT */
/*
 * Constructors for the events that enter a run from outside the engine: the run_started event the
 * webhook intake writes, the http_attempt and step_parked reports of the sender, and a
 * cancellation. Building them
 * here keeps their payloads in the one shape the fold and replay expect, whoever produces them.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static bool has_json_content_type(json_t *headers);

enum mh_err mh_engine_event_init(struct mh_event *ev, int64_t seq, const char *type,
                                 const char *node_id, int attempt, json_t *payload, int64_t at_ms,
                                 const uint8_t *hash)
{
    memset(ev, 0, sizeof(*ev));
    if (type == NULL)
        type = "";
    if (node_id == NULL)
        node_id = "";
    if (strlen(type) > MH_ENGINE_TYPE_MAX || strlen(node_id) > MH_ENGINE_STEP_ID_MAX)
        return MH_EINVAL;
    memcpy(ev->type, type, strlen(type) + 1);
    memcpy(ev->node_id, node_id, strlen(node_id) + 1);
    ev->seq = seq;
    ev->attempt = attempt;
    ev->payload = json_incref(payload);
    ev->at_ms = at_ms;
    if (hash != NULL)
        memcpy(ev->hash, hash, MH_ENGINE_HASH_LEN);
    return MH_OK;
}

void mh_engine_event_cleanup(struct mh_event *ev)
{
    if (ev == NULL)
        return;
    json_decref(ev->payload);
    memset(ev, 0, sizeof(*ev));
}

enum mh_err mh_engine_event_run_started(const char *run_id, const char *workflow_id,
                                        int64_t version, bool is_test, json_t *trigger,
                                        json_t *extra, int64_t at_ms, struct mh_event *out,
                                        char **payload_json)
{
    enum mh_err rc = MH_OK;
    json_t *p = NULL;
    memset(out, 0, sizeof(*out));
    if (payload_json)
        *payload_json = NULL;
    if (run_id == NULL || *run_id == '\0' || strlen(run_id) >= 128 || workflow_id == NULL ||
        !json_is_object(trigger) || (extra != NULL && !json_is_object(extra)))
        return MH_EINVAL;
    p = json_object();
    if (extra != NULL)
        json_object_update(p, extra);
    json_object_set_new(p, "run_id", mh_engine__jstring(run_id));
    json_object_set_new(p, "workflow_id", mh_engine__jstring(workflow_id));
    json_object_set_new(p, "version", json_integer(version));
    json_object_set_new(p, "is_test", json_boolean(is_test));
    json_object_set(p, "trigger", trigger);
    rc = mh_engine_event_init(out, 0, MH_EV_RUN_STARTED, "", 0, p, at_ms, NULL);
    if (rc != MH_OK)
        goto out;
    rc = payload_json ? mh_engine_event_seal_json(out, 1, NULL, payload_json)
                      : mh_engine_event_seal(out, 1, NULL);
    if (rc != MH_OK)
        mh_engine_event_cleanup(out);
out:
    json_decref(p);
    return rc;
}

static bool has_json_content_type(json_t *headers)
{
    const char *key;
    json_t *value;
    json_object_foreach(headers, key, value)
    {
        if (strcasecmp(key, "content-type") != 0 || !json_is_string(value))
            continue;
        const char *v = json_string_value(value);
        for (const char *p = v; *p; p++)
            if (strncasecmp(p, "json", 4) == 0)
                return true;
    }
    return false;
}

enum mh_err mh_engine_event_http_result(const char *node_id, int attempt, json_t *request,
                                        const struct mh_engine_http_outcome *outcome, int64_t at_ms,
                                        struct mh_event *out)
{
    enum mh_err rc = MH_OK;
    json_t *p = NULL;
    memset(out, 0, sizeof(*out));
    if (node_id == NULL || attempt < 1 || outcome == NULL ||
        (outcome->headers != NULL && !json_is_object(outcome->headers)))
        return MH_EINVAL;
    p = json_object();
    if (request != NULL)
        json_object_set(p, "request", request);
    if (outcome->error_kind != NULL) {
        json_t *err = json_pack("{s:o}", "kind", mh_engine__jstring(outcome->error_kind));
        if (outcome->error_message != NULL)
            json_object_set_new(err, "message", mh_engine__jstring(outcome->error_message));
        json_object_set_new(p, "error", err);
    } else {
        if (outcome->status < 100 || outcome->status > 999) {
            rc = MH_EINVAL;
            goto out;
        }
        json_t *resp = json_object();
        json_object_set_new(resp, "status", json_integer(outcome->status));
        json_object_set_new(resp, "headers",
                            outcome->headers ? json_deep_copy(outcome->headers) : json_object());
        const char *body = outcome->body ? outcome->body : "";
        size_t len = outcome->body ? outcome->body_len : 0;
        /* PostgreSQL's jsonb refuses \u0000, so a body with NUL bytes is binary too. */
        json_t *sbody = memchr(body, '\0', len) ? NULL : json_stringn(body, len);
        if (sbody != NULL) {
            json_object_set_new(resp, "body", sbody);
        } else {
            char *b64 = mh_crypto_b64_encode_new(MH_CRYPTO_B64_STD, body, len);
            json_object_set_new(resp, "body_b64", json_string(b64));
            free(b64);
        }
        if (len > 0 && has_json_content_type(outcome->headers)) {
            json_t *parsed = json_loadb(body, len, JSON_DECODE_ANY, NULL);
            if (parsed != NULL)
                json_object_set_new(resp, "json", parsed);
        }
        json_object_set_new(p, "response", resp);
    }
    json_object_set_new(p, "duration_ms", json_integer(outcome->duration_ms));
    rc = mh_engine_event_init(out, 0, MH_EV_HTTP_ATTEMPT, node_id, attempt, p, at_ms, NULL);
out:
    json_decref(p);
    return rc;
}

enum mh_err mh_engine_event_parked(const char *node_id, int attempt, const char *reason,
                                   const char *origin, int64_t until_ms, int64_t at_ms,
                                   struct mh_event *out)
{
    memset(out, 0, sizeof(*out));
    if (node_id == NULL || *node_id == '\0' || attempt < 1 || reason == NULL || until_ms <= 0)
        return MH_EINVAL;
    json_t *p = json_pack("{s:o, s:I}", "reason", mh_engine__jstring(reason), "until",
                          (json_int_t)until_ms);
    if (origin != NULL && *origin != '\0')
        json_object_set_new(p, "host", mh_engine__jstring(origin));
    enum mh_err rc =
        mh_engine_event_init(out, 0, MH_EV_STEP_PARKED, node_id, attempt, p, at_ms, NULL);
    json_decref(p);
    return rc;
}

enum mh_err mh_engine_event_cancel(const char *reason, int64_t at_ms, struct mh_event *out)
{
    json_t *p = json_object();
    if (reason != NULL)
        json_object_set_new(p, "reason", mh_engine__jstring(reason));
    enum mh_err rc = mh_engine_event_init(out, 0, MH_EV_RUN_CANCELED, "", 0, p, at_ms, NULL);
    json_decref(p);
    return rc;
}

enum mh_err mh_engine_event_callback(const char *node_id, json_t *body, int64_t received_at_ms,
                                     int64_t at_ms, struct mh_event *out)
{
    if (node_id == NULL || node_id[0] == '\0')
        return MH_EINVAL;
    char iso[40];
    mh_engine__format_rfc3339(received_at_ms, iso, sizeof(iso));
    json_t *p = json_pack("{s:O,s:s}", "body", body ? body : json_null(), "received_at", iso);
    enum mh_err rc =
        mh_engine_event_init(out, 0, MH_EV_CALLBACK_RECEIVED, node_id, 1, p, at_ms, NULL);
    json_decref(p);
    return rc;
}
