/* SPDX-License-Identifier: MIT */
/*
 * What a webhook's URL carries: the query string reaches the run's trigger, and the public id,
 * the only credential of an endpoint without verification, never reaches the log in full.
 */
#include "crypto/crypto.h"
#include "itest_intake_common.h"

MH_TEST(query_reaches_the_trigger_and_the_public_id_stays_out_of_the_log)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"none\"}}");
    const char *public_id = json_string_value(json_object_get(ep, "public_id"));
    MH_T_ASSERT(public_id && strlen(public_id) > 20);
    char url[512];
    snprintf(url, sizeof(url), "%s/hooks/%s?source=github&note=a%%20b", e.s.base, public_id);
    const char *h[] = {"Content-Type: application/json", NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, "{\"x\": 1}", 8, &r);
    MH_T_ASSERT_EQ(r.status, 202);
    char run_id[40];
    snprintf(run_id, sizeof(run_id), "%s", json_string_value(json_object_get(r.json, "run_id")));
    mh_it_resp_cleanup(&r);
    const char *params[] = {run_id};
    json_t *rows =
        mh_it_sql(e.db.admin_url,
                  "SELECT payload->'trigger'->'query' AS q FROM events WHERE run_id = $1 "
                  "AND seq = 1",
                  1, params, NULL);
    json_t *q = json_object_get(json_array_get(rows, 0), "q");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(q, "source")), "github");
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(q, "note")), "a b");
    json_decref(rows);
    ienv_stop(&e);
    char *log = mh_it_server_log(&e.s);
    MH_T_ASSERT(strstr(log, "/hooks/") != NULL);
    MH_T_ASSERT(strstr(log, public_id) == NULL);
    free(log);
    json_decref(ep);
}

MH_TEST(kek_rotation_rewraps_endpoint_signing_keys)
{
    struct ienv e;
    ienv_setup(&e, NULL);
    static const char secret[] = "endpoint-secret-for-rotation-01";
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"hmac\"}, \"key\": "
                                   "{\"secret\": \"endpoint-secret-for-rotation-01\"}}");
    char public_id[128];
    snprintf(public_id, sizeof(public_id), "%s",
             json_string_value(json_object_get(ep, "public_id")));
    json_decref(ep);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);

    /* A server without the key that sealed the endpoint's signing key refuses to start, and
     * says which key it lacks (there is no secret in the vault: only the endpoint key). */
    const char *wrong[] = {"serve",
                           "--port",
                           "0",
                           "--kek",
                           "it9:404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f",
                           NULL};
    char *out = NULL;
    MH_T_ASSERT(mh_it_run(&e.db, wrong, &out) != 0);
    MH_T_ASSERT(strstr(out, "'it1'") != NULL);
    free(out);

    /* Rotate to a new KEK, then serve with the new key alone: the endpoint still verifies. */
    char keyfile[128];
    snprintf(keyfile, sizeof(keyfile), "%s/new.kek", e.tmp);
    FILE *f = fopen(keyfile, "w");
    MH_T_ASSERT(f != NULL);
    fputs("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n", f);
    fclose(f);
    const char *rotate[] = {"kek", "rotate", "--new-key-file", keyfile, "--new-key-id",
                            "it2", "--kek",  IT_KEK,           NULL};
    MH_T_ASSERT_EQ(mh_it_run(&e.db, rotate, &out), 0);
    MH_T_ASSERT(strstr(out, "re-wrapped 1 webhook endpoint signing key(s)") != NULL);
    free(out);
    const char *only_new[] = {
        "--kek", "it2:202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f", NULL};
    mh_it_server_start(&e.s, &e.db, only_new);
    const char *body = "{\"event\": \"rotated\"}";
    uint8_t mac[MH_CRYPTO_SHA256_LEN];
    MH_T_ASSERT_EQ(
        mh_crypto_hmac(MH_CRYPTO_HASH_SHA256, secret, strlen(secret), body, strlen(body), mac),
        MH_OK);
    char hex[2 * MH_CRYPTO_SHA256_LEN + 1], sig[200], url[512];
    mh_crypto_hex_encode(mac, sizeof(mac), hex);
    snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
    snprintf(url, sizeof(url), "%s/hooks/%s", e.s.base, public_id);
    const char *h[] = {"Content-Type: application/json", sig, NULL};
    struct mh_it_resp r;
    mh_it_http("POST", url, h, body, strlen(body), &r);
    MH_T_ASSERT_EQ(r.status, 202);
    mh_it_resp_cleanup(&r);
    ienv_stop(&e);
}
