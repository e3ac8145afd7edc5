/* SPDX-License-Identifier: MIT */
/*
 * What a webhook's URL carries: the query string reaches the run's trigger, and the public id,
 * the only credential of an endpoint without verification, never reaches the log in full.
 */
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
