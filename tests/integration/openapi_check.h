/* SPDX-License-Identifier: MIT */
/*
 * The integration suite's check of the OpenAPI document (api/openapi.json, embedded in the
 * library like in the binary): every answer that mh_it_http receives from a route of the
 * server's table is matched to its operation (method and path template) and its status, and its
 * body validated against the documented schema with src/schema (JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1). A route, status or content type the document does not list, or a
 * body that does not match, fails the test with the operation and the schema errors.
 *
 * On by default; MH_OPENAPI_CHECK=0 turns it off (to bisect a failure, never in make test).
 * MH_OPENAPI_FILE=PATH checks against that document instead of the embedded one (to try an
 * edit of api/openapi.json without relinking, and for the checker's own test).
 * A JSON request body that the server accepted must match the operation's requestBody schema
 * too (MH_OPENAPI_REQUEST_LOG=FILE lists such mismatches there instead of failing).
 * MH_OPENAPI_SEEN=FILE appends "METHOD TEMPLATE STATUS" for every answer checked, so that the
 * coverage of the document by the suite can be counted.
 */
#ifndef MH_TESTS_OPENAPI_CHECK_H
#define MH_TESTS_OPENAPI_CHECK_H

#include <jansson.h>

#include "itest.h"

/* The parsed document (borrowed; loaded once). */
json_t *mh_it_openapi_doc(void);
/* Forgets the loaded document and its compiled schemas: the next check loads it again (with
 * MH_OPENAPI_FILE as it is then). */
void mh_it_openapi_reset(void);
/* The OpenAPI path template of a route pattern: "/a/:id" gives "/a/{id}" (malloc'd). */
char *mh_it_openapi_template(const char *pattern);
/* Checks one exchange; fails the test on a mismatch. `url` is absolute; `req_headers` the
 * request's "Name: value" lines (NULL-terminated, may be NULL), `req_body` its body (may be
 * NULL). A JSON request body is checked only when the server accepted it (a 2xx). */
void mh_it_openapi_check(const char *method, const char *url, const char *const *req_headers,
                         const char *req_body, size_t req_body_len, const struct mh_it_resp *resp);

#endif
