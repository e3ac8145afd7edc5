/* SPDX-License-Identifier: MIT */
/*
 * What handlers share: the configuration snapshot and the long-lived engines. main builds it and
 * passes it to the server as the `app` pointer; handlers read it, never replace its members.
 */
#ifndef MH_HTTP_APP_H
#define MH_HTTP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "core/config.h"
#include "db/db.h"
#include "http/http.h"

struct mh_alerts;
struct mh_scheduler;
struct mh_engine_runtime;
struct mh_http_hub;
struct mh_intake;
struct mh_secrets;

struct mh_app {
    const struct mh_config *cfg;
    struct mh_db_pool *pool;
    struct mh_secrets *secrets;        /* the vault; never NULL while serving */
    struct mh_engine_runtime *runtime; /* NULL with --workers 0: runs wait for other instances */
    struct mh_intake *intake;          /* webhook intake (src/intake); NULL with --workers-only */
    struct mh_scheduler *scheduler;    /* fires schedules; NULL with --workers 0 */
    struct mh_alerts *alerts;          /* alert evaluation and delivery; NULL with --workers 0 */
    struct mh_http_hub *hub;           /* live streams (hub.h); NULL until started */
    /* wait_callback tokens (src/runtime/callback.c): the key derived from the KEK and whether
     * there is one, and the public base URL callback URLs start with. */
    uint8_t callback_key[32];
    bool has_callback_key;
    char public_url[512];
};

/* The route table of `meshhook serve`. */
extern const struct mh_http_route mh_app_routes[];
extern const size_t mh_app_routes_count;
/* The routes of `meshhook serve --workers-only`: /healthz, /readyz and /metrics. */
extern const struct mh_http_route mh_app_health_routes[];
extern const size_t mh_app_health_routes_count;

#endif
