/* SPDX-License-Identifier: MIT */
/*
 * A scripted HTTP server on 127.0.0.1 for integration tests: the stand-in for the remote APIs
 * an http_call targets (outside the project, so a mock is the right tool). One thread accepts
 * connections; each request is answered by the test's callback, then the connection closes.
 */
#ifndef MH_TESTS_MOCK_HTTP_H
#define MH_TESTS_MOCK_HTTP_H

#include <stddef.h>

struct mh_mock_request {
    const char *method;
    const char *path;    /* with the query string */
    const char *headers; /* the raw header block */
    const char *body;
    size_t body_len;
    int hit; /* 1-based count of requests to this path (without query) so far */
};

struct mh_mock_reply {
    int status;
    char content_type[64];
    char headers[512]; /* extra "Name: value\r\n" lines */
    char body[8192];
    int delay_ms; /* wait before answering */
};

typedef void (*mh_mock_fn)(void *ctx, const struct mh_mock_request *req,
                           struct mh_mock_reply *reply);

struct mh_mock;

/* Starts the server on a free port with `fn` answering. */
struct mh_mock *mh_mock_start(mh_mock_fn fn, void *ctx);
/* The same on a given port (0: any). */
struct mh_mock *mh_mock_start_port(int port, mh_mock_fn fn, void *ctx);
/* The same, answering each connection on a thread of its own, so that slow replies overlap. */
struct mh_mock *mh_mock_start_concurrent(mh_mock_fn fn, void *ctx);
int mh_mock_port(const struct mh_mock *m);
/* The most requests for `path` (without query) that were being answered at once. */
int mh_mock_peak(struct mh_mock *m, const char *path);
/* Requests received so far for `path` (without query), or all paths when NULL. */
int mh_mock_hits(struct mh_mock *m, const char *path);
/* Copies the raw text of every request received so far (malloc'd). */
char *mh_mock_transcript(struct mh_mock *m);
void mh_mock_stop(struct mh_mock *m);

#endif
