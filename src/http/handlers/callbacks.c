/* SPDX-License-Identifier: MIT */
/*
 * POST /callbacks/:token: the one-time URL of a wait_callback step (docs/workflows.md "Waiting
 * for a callback"). The token is the capability, so no session or API token is asked for; its
 * MAC is checked before the database is touched (an unknown and a forged token get the same 404
 * in the same time). The body (JSON, within max_body_bytes; an empty body is null) is recorded
 * and the run's job made due in one transaction, and 200 is answered only after that commit. A
 * second callback, or one after the step timed out or the run ended, is 410 Gone. Neither the
 * token nor the body is logged.
 */
#include <string.h>
#include <strings.h>

#include "http/app.h"
#include "http/handlers/handlers.h"
#include "metrics/metrics.h"
#include "runtime/store.h"

#define NOT_FOUND_MSG "no callback waits at this URL"

static bool is_json_type(const char *ct)
{
    if (ct == NULL)
        return false;
    /* application/json, or any type ending in +json, with parameters after ';'. */
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

void mh_h_callback(struct mh_http_req *req, void *app)
{
    struct mh_app *a = app;
    const char *token = mh_http_req_param(req, "token");
    char run_id[37], node_id[MH_ENGINE_ID_MAX + 1];
    size_t len = 0;
    const char *raw = mh_http_req_body(req, &len);
    json_t *body = NULL;
    enum mh_engine_callback_outcome outcome = MH_CALLBACK_NOT_FOUND;
    struct mh_err_info info = MH_ERR_INFO_INIT;

    if (!a->has_callback_key || token == NULL || strlen(token) > 256 ||
        mh_engine_callback_verify(a->callback_key, token, run_id, node_id) != MH_OK) {
        mh_metrics_callback(MH_MC_NOT_FOUND);
        mh_http_respond_error(req, 404, "not_found", NOT_FOUND_MSG, NULL);
        return;
    }
    if (len == 0) {
        body = json_null();
    } else if (!is_json_type(mh_http_req_header(req, "Content-Type"))) {
        mh_http_respond_error(req, 415, "unsupported_media_type",
                              "a callback's body is JSON: send it with Content-Type: "
                              "application/json (or send no body)",
                              NULL);
        return;
    } else {
        json_error_t jerr;
        body = json_loadb(raw, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (body == NULL) {
            char msg[256];
            snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (at byte %d)", jerr.text,
                     jerr.position);
            mh_http_respond_error(req, 400, "invalid_json", msg, NULL);
            return;
        }
    }
    enum mh_err rc =
        mh_engine_callback_accept(a->pool, run_id, node_id, token, body, &outcome, &info);
    json_decref(body);
    if (rc != MH_OK) {
        /* Not recorded (or, in doubt, perhaps): the caller should send it again. */
        mh_http_respond_err(req, rc, &info);
        return;
    }
    switch (outcome) {
    case MH_CALLBACK_ACCEPTED:
        mh_metrics_callback(MH_MC_ACCEPTED);
        mh_engine_runtime_wake(a->runtime);
        mh_http_respond_json(req, 200, json_pack("{s:s}", "status", "accepted"));
        break;
    case MH_CALLBACK_GONE:
        mh_metrics_callback(MH_MC_GONE);
        mh_http_respond_error(req, 410, "gone",
                              "this callback URL takes no more requests: its step already "
                              "received a callback, timed out or was skipped, or its run ended",
                              NULL);
        break;
    case MH_CALLBACK_NOT_FOUND:
        mh_metrics_callback(MH_MC_NOT_FOUND);
        mh_http_respond_error(req, 404, "not_found", NOT_FOUND_MSG, NULL);
        break;
    }
}
