/* SPDX-License-Identifier: MIT */
/*
 * A small Server-Sent Events client for the integration tests and benchmarks, over a plain
 * socket: HTTP/1.1 with the chunked body decoded by hand, so a test sees whether a stream was
 * ended cleanly (the last chunk) or cut, and can also open a subscription it never reads.
 */
#ifndef MH_TESTS_SSE_CLIENT_H
#define MH_TESTS_SSE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct mh_sse {
    int fd;
    long status;
    char *headers; /* the response head */
    char *body;    /* a non-200 answer's body */
    char *raw;     /* decoded body bytes received and not yet parsed into messages */
    size_t raw_len;
    char *wire; /* undecoded bytes (chunk framing) */
    size_t wire_len;
    char *data; /* the last message's data */
    bool is_chunked;
    bool is_eof;
    bool is_clean_end; /* the terminating chunk arrived */
    size_t read_max;   /* a slow reader: at most this many bytes per read (0: as many as there) */
    int read_pause_ms; /* ... and this long a pause before each read */
};

struct mh_sse_msg {
    char id[256];
    char event[64];
    char retry[16];
    char comment[64];
    bool is_comment;
    char *data; /* valid until the next call */
};

/* Connects to 127.0.0.1:`port` and sends GET `path` with `auth` ("Authorization: ..." line
 * without CRLF, or NULL) and Last-Event-ID `last_id` (or NULL); returns the status (0 on a
 * transport failure). On 200 the stream is ready for mh_sse_next; otherwise `body` holds the
 * answer. */
long mh_sse_open(struct mh_sse *c, int port, const char *path, const char *auth,
                 const char *last_id);
/* As mh_sse_open with a tiny receive buffer, reading nothing at all (not even the status):
 * returns 0 once the request is sent. */
long mh_sse_open_stalled(struct mh_sse *c, int port, const char *path, const char *auth);
/* As mh_sse_open with a small receive buffer, for a client that reads steadily but slowly:
 * every later read takes at most `read_max` bytes, after a pause of `pause_ms`. */
long mh_sse_open_slow(struct mh_sse *c, int port, const char *path, const char *auth,
                      size_t read_max, int pause_ms);
/* The next message (or comment) within `timeout_ms`; false on timeout or end of stream. */
bool mh_sse_next(struct mh_sse *c, int timeout_ms, struct mh_sse_msg *m);
/* Reads until the end of the stream or `timeout_ms`; returns the body bytes read. */
size_t mh_sse_drain(struct mh_sse *c, int timeout_ms);
/* Whether the response's Content-Type starts with `type`. */
bool mh_sse_content_type_is(const struct mh_sse *c, const char *type);
void mh_sse_close(struct mh_sse *c);

#endif
