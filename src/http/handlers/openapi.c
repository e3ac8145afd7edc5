/* SPDX-License-Identifier: MIT */
/*
 * GET /api/openapi.json: the OpenAPI 3.1 description of this API (api/openapi.json, embedded at
 * build time by scripts/embed-files.sh). Public, like the web app's own files: it describes the
 * API, not anyone's data. Served with a strong ETag (a SHA-256 of the document) and revalidated
 * on every use, so a viewer that polls it gets 304 until the binary changes.
 */
#include "http/app.h"
#include "http/handlers/handlers.h"
#include "http/http_internal.h"

#include <pthread.h>
#include <stdio.h>

#include "crypto/crypto.h"

struct mh_embedded_file {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct mh_embedded_file mh_openapi_files[];

/* '"' + 32 hex digits (the first 16 bytes of the digest) + '"' */
static char etag[35];
static pthread_once_t etag_once = PTHREAD_ONCE_INIT;

static void etag_init(void)
{
    uint8_t digest[MH_CRYPTO_SHA256_LEN];
    char hex[2 * 16 + 1];
    if (mh_crypto_sha256(mh_openapi_files[0].data, mh_openapi_files[0].len, digest) != MH_OK)
        return; /* no ETag: every request gets the whole document */
    mh_crypto_hex_encode(digest, 16, hex);
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
}

void mh_h_openapi(struct mh_http_req *req, void *app)
{
    (void)app;
    pthread_once(&etag_once, etag_init);
    mh_http_set_header(req, "Cache-Control", "no-cache");
    if (etag[0])
        mh_http_set_header(req, "ETag", etag);
    if (etag[0] && mh_http__etag_matches(mh_http_req_header(req, "If-None-Match"), etag)) {
        mh_http__respond_static(req, 304, NULL, NULL, 0);
        return;
    }
    /* Runs inline (never deferred), so the embedded bytes are sent without a copy. */
    mh_http__respond_static(req, 200, "application/json", mh_openapi_files[0].data,
                            mh_openapi_files[0].len);
}
