/* SPDX-License-Identifier: MIT */
/*
 * Callback URLs of wait_callback steps (docs/workflows.md "Waiting for a callback"). A token is
 * "<run id>.<node id>.<MAC>", the MAC being HMAC-SHA256 over the run and node ids under a key
 * derived from the key-encryption key (mh_secrets_callback_key), base64url: it can be computed
 * before the step runs (the worker issues every URL of a run at its first advance), the server
 * keeps no token, and a forged or altered token fails the MAC before any database work, so an
 * unknown token and a wrong one cost the same. Accepting a callback records it (table callbacks,
 * migration 0041) and makes the run's job due in one transaction; the worker turns the rows
 * into callback_received reports.
 */
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "runtime/runtime_internal.h"

#define MAC_B64_LEN 43 /* 32 bytes, base64url without padding */

static enum mh_err mac_of(const uint8_t key[32], const char *run_id, const char *node_id,
                          char out[MAC_B64_LEN + 1])
{
    uint8_t mac[32];
    struct mh_buf b;
    mh_buf_init(&b, 256);
    enum mh_err rc = mh_buf_printf(&b, "%s\n%s", run_id, node_id);
    if (rc == MH_OK)
        rc = mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, key, 32, mh_buf_str(&b), mh_buf_len(&b), mac);
    mh_buf_cleanup(&b);
    if (rc == MH_OK)
        mh_crypto_b64_encode(MH_CRYPTO_B64_URL_NOPAD, mac, sizeof(mac), out);
    mh_crypto_wipe(mac, sizeof(mac));
    return rc;
}

enum mh_err mh_engine_callback_token(const uint8_t key[32], const char *run_id, const char *node_id,
                                     char *out, size_t cap)
{
    char mac[MAC_B64_LEN + 1];
    enum mh_err rc = mac_of(key, run_id, node_id, mac);
    if (rc != MH_OK)
        return rc;
    int n = snprintf(out, cap, "%s.%s.%s", run_id, node_id, mac);
    mh_crypto_wipe(mac, sizeof(mac));
    return n < 0 || (size_t)n >= cap ? MH_ETOOBIG : MH_OK;
}

enum mh_err mh_engine_callback_verify(const uint8_t key[32], const char *token, char run_id[37],
                                      char node_id[MH_ENGINE_ID_MAX + 1])
{
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    size_t run_len = dot1 ? (size_t)(dot1 - token) : 0;
    size_t node_len = dot2 ? (size_t)(dot2 - dot1 - 1) : 0;
    char mac[MAC_B64_LEN + 1];
    bool ok = dot2 != NULL && run_len == 36 && node_len >= 1 && node_len <= MH_ENGINE_ID_MAX &&
              strlen(dot2 + 1) == MAC_B64_LEN;
    /* A malformed token still pays one MAC, so its answer takes the time of a wrong one. */
    memcpy(run_id, ok ? token : "00000000-0000-0000-0000-000000000000", 36);
    run_id[36] = '\0';
    snprintf(node_id, MH_ENGINE_ID_MAX + 1, "%.*s", ok ? (int)node_len : 1, ok ? dot1 + 1 : "x");
    if (mac_of(key, run_id, node_id, mac) != MH_OK)
        return MH_ECRYPTO;
    bool same = mh_crypto_ct_equal(mac, ok ? dot2 + 1 : "", ok ? MAC_B64_LEN : 0) && ok;
    mh_crypto_wipe(mac, sizeof(mac));
    return same ? MH_OK : MH_ENOTFOUND;
}

enum mh_err mh_engine_callback_accept(struct mh_db_pool *pool, const char *run_id,
                                      const char *node_id, const char *token, json_t *body,
                                      enum mh_engine_callback_outcome *outcome,
                                      struct mh_err_info *info)
{
    uint8_t hash[32];
    char hash_hex[2 + 64 + 1] = "\\x";
    char *body_text = NULL;
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    enum mh_err rc = mh_crypto_sha256(token, strlen(token), hash);
    *outcome = MH_CALLBACK_NOT_FOUND;
    if (rc != MH_OK)
        return rc;
    mh_crypto_hex_encode(hash, sizeof(hash), hash_hex + 2);
    body_text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (body_text == NULL)
        return MH_ENOMEM;
    if ((rc = mh_db_acquire(pool, &c, info)) != MH_OK)
        goto out;
    if ((rc = mh_db_begin(c, NULL, NULL, info)) != MH_OK)
        goto out;
    const char *params[] = {run_id, node_id, hash_hex, body_text};
    rc = mh_db_query_row(c,
                         "SELECT mh_callback_accept($1::uuid, $2, $3::bytea, $4::jsonb) AS outcome",
                         4, params, &row, info);
    if (rc != MH_OK) {
        mh_db_rollback(c);
        goto out;
    }
    const char *o = json_string_value(json_object_get(row, "outcome"));
    if (o != NULL && strcmp(o, "accepted") == 0)
        *outcome = MH_CALLBACK_ACCEPTED;
    else if (o != NULL && strcmp(o, "gone") == 0)
        *outcome = MH_CALLBACK_GONE;
    /* Committed before anyone is told 200: a crash after the answer loses nothing. */
    rc = mh_db_commit(c, info);
out:
    json_decref(row);
    mh_db_release(c);
    free(body_text);
    return rc;
}

/* ---- The worker's side ------------------------------------------------------------------ */

enum mh_err mh_runtime__callback_input(struct mh_engine_runtime *rt, struct mh_db_conn *c,
                                       const struct mh_wf *wf, const char *run_id, json_t **urls,
                                       struct mh_event **reports, size_t *n,
                                       struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *rows = NULL;
    *urls = NULL, *reports = NULL, *n = 0;
    if (!mh_engine_wf_has_callbacks(wf))
        return MH_OK;
    /* The URLs: only with a key (else the steps fail clearly, naming the missing kek). */
    if (rt->opts.callback_key != NULL) {
        *urls = json_object();
        for (size_t i = 0; i < mh_engine_wf_node_count(wf) && rc == MH_OK; i++) {
            if (!mh_engine_wf_node_waits_for_callback(wf, i))
                continue;
            const char *node = mh_engine_wf_node_id(wf, i);
            char token[256], url[1024];
            rc =
                mh_engine_callback_token(rt->opts.callback_key, run_id, node, token, sizeof(token));
            if (rc == MH_OK) {
                const char *base = rt->opts.callback_base_url ? rt->opts.callback_base_url : "";
                size_t bl = strlen(base);
                while (bl > 0 && base[bl - 1] == '/')
                    bl--;
                snprintf(url, sizeof(url), "%.*s/callbacks/%s", (int)bl, base, token);
                json_object_set_new(*urls, node, json_pack("{s:s}", "url", url));
                mh_crypto_wipe(token, sizeof(token));
                mh_crypto_wipe(url, sizeof(url));
            }
        }
    }
    /* The callbacks recorded for the run (read after the run's row is locked, so one that
     * committed meanwhile is here). */
    const char *params[] = {run_id};
    if (rc == MH_OK)
        rc = mh_db_query(c,
                         "SELECT node_id, body, (extract(epoch FROM received_at) * 1000)::bigint "
                         "AS at_ms FROM callbacks WHERE run_id = $1::uuid ORDER BY received_at",
                         1, params, &rows, NULL, info);
    if (rc == MH_OK && json_array_size(rows) > 0) {
        size_t k;
        json_t *r;
        int64_t now = mh_clock_now_ms();
        *reports = mh_xcalloc(json_array_size(rows), sizeof(**reports));
        json_array_foreach(rows, k, r)
        {
            json_int_t at = json_integer_value(json_object_get(r, "at_ms"));
            if (mh_engine_event_callback(json_string_value(json_object_get(r, "node_id")),
                                         json_object_get(r, "body"), at, now,
                                         &(*reports)[*n]) == MH_OK)
                (*n)++;
        }
    }
    json_decref(rows);
    if (rc != MH_OK) {
        json_decref(*urls);
        *urls = NULL;
        mh_runtime__callback_reports_free(*reports, *n);
        *reports = NULL, *n = 0;
    }
    return rc;
}

void mh_runtime__callback_reports_free(struct mh_event *reports, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mh_engine_event_cleanup(&reports[i]);
    free(reports);
}
