/* SPDX-License-Identifier: MIT */
/* The route table of `meshhook serve`: one row per endpoint, hot paths first. */
#include "http/app.h"

#include "core/mem.h"

const struct mh_http_route mh_app_routes[] = {
    {"GET", "/healthz", mh_h_healthz},
    {"GET", "/readyz", mh_h_readyz},
};

const size_t mh_app_routes_count = MH_ARRAY_LEN(mh_app_routes);
