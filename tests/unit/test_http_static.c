/* SPDX-License-Identifier: MIT */
/*
 * The pure parts of serving the web app (src/http/static.c): reading Accept-Encoding and
 * If-None-Match as RFC 9110 writes them, telling the server's own paths from client routes, and
 * finding embedded files (the table generated from the web build).
 */
#include "http/http_internal.h"
#include "http/web_assets.h"

#include "harness.h"

MH_TEST(accept_encoding_gzip_unless_refused)
{
    MH_T_ASSERT(mh_http__accepts_gzip("gzip"));
    MH_T_ASSERT(mh_http__accepts_gzip("gzip, deflate, br"));
    MH_T_ASSERT(mh_http__accepts_gzip("br;q=1.0, GZip;q=0.5"));
    MH_T_ASSERT(mh_http__accepts_gzip("deflate,x-gzip"));
    MH_T_ASSERT(mh_http__accepts_gzip("gzip;q=0.001"));
    MH_T_ASSERT(mh_http__accepts_gzip("gzip ; q=1"));
    MH_T_ASSERT(!mh_http__accepts_gzip(NULL));
    MH_T_ASSERT(!mh_http__accepts_gzip(""));
    MH_T_ASSERT(!mh_http__accepts_gzip("identity"));
    MH_T_ASSERT(!mh_http__accepts_gzip("br, deflate"));
    MH_T_ASSERT(!mh_http__accepts_gzip("gzipped"));
    MH_T_ASSERT(!mh_http__accepts_gzip("xgzip"));
    MH_T_ASSERT(!mh_http__accepts_gzip("gzip;q=0"));
    MH_T_ASSERT(!mh_http__accepts_gzip("gzip;q=0.000, br"));
    MH_T_ASSERT(!mh_http__accepts_gzip("br;q=1, gzip; q=0.0 ;x=y"));
    /* Garbage never loops or reads past the end. */
    MH_T_ASSERT(!mh_http__accepts_gzip(";;;,,,;q=;"));
    /* A malformed parameter is ignored, not taken as a refusal. */
    MH_T_ASSERT(mh_http__accepts_gzip("gzip;q"));
}

MH_TEST(if_none_match_compares_weakly)
{
    MH_T_ASSERT(mh_http__etag_matches("\"abc\"", "\"abc\""));
    MH_T_ASSERT(mh_http__etag_matches("W/\"abc\"", "\"abc\""));
    MH_T_ASSERT(mh_http__etag_matches("\"x\", \"abc\"", "\"abc\""));
    MH_T_ASSERT(mh_http__etag_matches("\"x\",W/\"abc\" ", "\"abc\""));
    MH_T_ASSERT(mh_http__etag_matches("*", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches(NULL, "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("\"abcd\"", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("\"ab\"", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("abc", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("\"abc\"-gz", "\"abc\""));
    MH_T_ASSERT(!mh_http__etag_matches("\"unterminated", "\"unterminated\""));
}

MH_TEST(server_paths_are_never_client_routes)
{
    const char *server[] = {"/api",     "/api/",      "/api/x/y", "/hooks",   "/hooks/abc",
                            "/healthz", "/healthz/x", "/readyz",  "/metrics", "/metrics/"};
    for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); i++)
        if (!mh_http__is_server_path(server[i]))
            mh_t_fail(__FILE__, __LINE__, "%s is a server path", server[i]);
    const char *app[] = {"/",      "/apix",          "/api-docs", "/hooksy",
                         "/login", "/p/x/workflows", "/metricsx"};
    for (size_t i = 0; i < sizeof(app) / sizeof(app[0]); i++)
        if (mh_http__is_server_path(app[i]))
            mh_t_fail(__FILE__, __LINE__, "%s is not a server path", app[i]);
}

MH_TEST(embedded_files_are_sorted_and_found)
{
    MH_T_ASSERT(mh_http__assets_count > 0);
    for (size_t i = 1; i < mh_http__assets_count; i++)
        if (strcmp(mh_http__assets[i - 1].path, mh_http__assets[i].path) >= 0)
            mh_t_fail(__FILE__, __LINE__, "%s before %s", mh_http__assets[i - 1].path,
                      mh_http__assets[i].path);
    for (size_t i = 0; i < mh_http__assets_count; i++) {
        const struct mh_http__asset *a = &mh_http__assets[i];
        MH_T_ASSERT(mh_http__static_find(a->path) == a);
        MH_T_ASSERT(a->etag[0] == '"' && a->etag[strlen(a->etag) - 1] == '"');
        MH_T_ASSERT(strcmp(a->etag, a->gz_etag) != 0);
        MH_T_ASSERT(a->gz == NULL || a->gz_len < a->len);
        MH_T_ASSERT_EQ(a->is_immutable, strncmp(a->path, "/_app/immutable/", 16) == 0);
    }
    const struct mh_http__asset *index = mh_http__static_find("/");
    MH_T_ASSERT(index != NULL);
    MH_T_ASSERT_STR_EQ(index->path, "/index.html");
    MH_T_ASSERT_STR_EQ(index->content_type, "text/html; charset=utf-8");
    MH_T_ASSERT(mh_http__static_find("/nope") == NULL);
    MH_T_ASSERT(mh_http__static_find("") == NULL);
    MH_T_ASSERT(strncmp(mh_http__app_csp, "default-src 'self'; script-src 'self' 'sha256-", 46) ==
                0);
}
