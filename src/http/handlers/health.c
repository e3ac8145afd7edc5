/* SPDX-License-Identifier: MIT */
/*
 * Liveness and readiness. /healthz answers while the process runs; /readyz also proves the
 * database answers and has every migration this binary knows applied, so a load balancer only
 * sends traffic to an instance that can durably accept it.
 */
#include "http/app.h"
#include "http/handlers/handlers.h"

void mh_h_healthz(struct mh_http_req *req, void *app)
{
    (void)app;
    mh_http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void mh_h_readyz(struct mh_http_req *req, void *app)
{
    struct mh_app *a = app;
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    bool is_migrated = false;
    enum mh_err rc = mh_db_acquire(a->pool, &c, &info);
    if (rc == MH_OK)
        rc = mh_db_is_migrated(c, &is_migrated, &info);
    mh_db_release(c);
    if (rc != MH_OK) {
        mh_http_respond_error(req, 503, "unavailable", "database unreachable", NULL);
        return;
    }
    if (!is_migrated) {
        mh_http_respond_error(req, 503, "unavailable",
                              "database is not fully migrated: run meshhook migrate", NULL);
        return;
    }
    mh_http_respond_json(req, 200, json_pack("{s:s}", "status", "ready"));
}
