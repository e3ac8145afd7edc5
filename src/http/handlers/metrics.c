/* SPDX-License-Identifier: MIT */
/*
 * GET /metrics: the Prometheus text exposition of src/metrics, plus the queue and dead-letter
 * figures read from the database at most once per DB_FIGURES_MAX_AGE_MS however often it is
 * scraped. Access never involves a user session: with metrics_token set, the scraper sends it
 * as a bearer token; without it, only loopback clients may scrape (docs/observability.md).
 */
#include "http/app.h"
#include "http/handlers/handlers.h"

#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "metrics/metrics.h"

/* The database figures are shared by all scrapes for this long. */
#define DB_FIGURES_MAX_AGE_MS 5000
/* The exposition's size bound: about 100 KiB with every route used. */
#define MAX_EXPOSITION_BYTES (4u << 20)

static bool is_loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0;
}

/* Whether the request may scrape; answers it when not. */
static bool may_scrape(struct mh_http_req *req, const struct mh_config *cfg)
{
    const char *token = cfg->metrics_token;
    if (token[0] == '\0') {
        if (is_loopback(mh_http_req_remote_ip(req)))
            return true;
        mh_http_respond_error(req, 403, "forbidden",
                              "/metrics answers loopback clients only; set metrics_token to "
                              "scrape it from elsewhere",
                              NULL);
        return false;
    }
    const char *auth = mh_http_req_header(req, "Authorization");
    size_t want = strlen(token);
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0 && strlen(auth + 7) == want &&
        mh_crypto_ct_equal(auth + 7, token, want))
        return true;
    mh_http_set_header(req, "WWW-Authenticate", "Bearer realm=\"metrics\"");
    mh_http_respond_error(req, 401, "unauthenticated",
                          "/metrics needs the metrics_token as a bearer token", NULL);
    return false;
}

static void read_db_figures(struct mh_http_req *req, struct mh_app *a,
                            struct mh_metrics_db_figures *f)
{
    if (mh_metrics_db_figures_get(DB_FIGURES_MAX_AGE_MS, f))
        return;
    struct mh_db_conn *c = NULL;
    json_t *row = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    memset(f, 0, sizeof(*f));
    if (mh_db_acquire(a->pool, &c, &info) == MH_OK &&
        mh_db_query_row(c,
                        "SELECT due, scheduled, leased, oldest_due_age_s, dead_letters FROM "
                        "mh_metrics_snapshot()",
                        0, NULL, &row, &info) == MH_OK) {
        f->is_known = true;
        f->jobs_due = json_integer_value(json_object_get(row, "due"));
        f->jobs_scheduled = json_integer_value(json_object_get(row, "scheduled"));
        f->jobs_leased = json_integer_value(json_object_get(row, "leased"));
        f->oldest_due_age_s = json_number_value(json_object_get(row, "oldest_due_age_s"));
        f->dead_letters = json_integer_value(json_object_get(row, "dead_letters"));
    } else {
        mh_log_req(MH_LOG_WARN, "http", mh_http_req_id(req),
                   "metrics: the queue figures could not be read: %s", info.message);
    }
    json_decref(row);
    mh_db_release(c);
    /* Stored even when unknown, so a database that is down is not asked again at every
     * scrape: the series are left out until it answers. */
    mh_metrics_db_figures_store(f);
}

void mh_h_metrics(struct mh_http_req *req, void *app)
{
    struct mh_app *a = app;
    if (!mh_metrics_is_enabled()) {
        mh_http_respond_error(req, 404, "not_found", "metrics are disabled (metrics=false)", NULL);
        return;
    }
    if (!may_scrape(req, a->cfg))
        return;
    struct mh_metrics_db_figures f;
    read_db_figures(req, a, &f);
    struct mh_buf out;
    mh_buf_init(&out, MAX_EXPOSITION_BYTES);
    if (mh_metrics_render(&out, &f) != MH_OK) {
        mh_buf_cleanup(&out);
        mh_http_respond_error(req, 500, "internal", "the exposition outgrew its limit", NULL);
        return;
    }
    mh_http_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", mh_buf_str(&out),
                        mh_buf_len(&out));
    mh_buf_cleanup(&out);
}
