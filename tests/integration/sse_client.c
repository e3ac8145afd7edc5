/* SPDX-License-Identifier: MIT */
/* A small Server-Sent Events client for tests and benchmarks (see sse_client.h). */
#include "sse_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void append(char **buf, size_t *len, const char *p, size_t n)
{
    *buf = realloc(*buf, *len + n + 1);
    memcpy(*buf + *len, p, n);
    *len += n;
    (*buf)[*len] = '\0';
}

static int connect_to(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool send_request(int fd, const char *path, const char *auth, const char *last_id)
{
    char req[4096];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
                     "%s%s%s%s%s\r\n",
                     path, auth ? auth : "", auth ? "\r\n" : "", last_id ? "Last-Event-ID: " : "",
                     last_id ? last_id : "", last_id ? "\r\n" : "");
    return n > 0 && (size_t)n < sizeof(req) && write(fd, req, (size_t)n) == n;
}

/* Reads what is there within `timeout_ms` into `wire`; false on timeout, end or error. */
static bool fill(struct mh_sse *c, int timeout_ms)
{
    if (c->is_eof)
        return false;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (poll(&p, 1, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return false;
    char buf[65536];
    size_t want = c->read_max && c->read_max < sizeof(buf) ? c->read_max : sizeof(buf);
    if (c->read_pause_ms > 0) {
        struct timespec ts = {c->read_pause_ms / 1000, (long)(c->read_pause_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    ssize_t r = read(c->fd, buf, want);
    if (r <= 0) {
        c->is_eof = true;
        return false;
    }
    append(&c->wire, &c->wire_len, buf, (size_t)r);
    return true;
}

static void consume_wire(struct mh_sse *c, size_t n)
{
    memmove(c->wire, c->wire + n, c->wire_len - n);
    c->wire_len -= n;
    c->wire[c->wire_len] = '\0';
}

/* Moves complete chunks (or, unchunked, everything) from `wire` to `raw`. */
static void decode(struct mh_sse *c)
{
    if (!c->is_chunked) {
        if (c->wire_len)
            append(&c->raw, &c->raw_len, c->wire, c->wire_len);
        if (c->wire)
            consume_wire(c, c->wire_len);
        return;
    }
    for (;;) {
        char *crlf = c->wire ? strstr(c->wire, "\r\n") : NULL;
        if (crlf == NULL)
            return;
        size_t size = strtoul(c->wire, NULL, 16);
        size_t head = (size_t)(crlf - c->wire) + 2;
        if (c->wire_len < head + size + 2)
            return;
        if (size == 0) {
            c->is_clean_end = true;
            consume_wire(c, head);
            return;
        }
        append(&c->raw, &c->raw_len, c->wire + head, size);
        consume_wire(c, head + size + 2);
    }
}

static long open_with(struct mh_sse *c, int port, const char *path, const char *auth,
                      const char *last_id, int rcvbuf)
{
    memset(c, 0, sizeof(*c));
    c->fd = connect_to(port, rcvbuf);
    if (c->fd < 0 || !send_request(c->fd, path, auth, last_id))
        return 0;
    long long end = now_ms() + 10000;
    char *eoh;
    while ((eoh = c->wire ? strstr(c->wire, "\r\n\r\n") : NULL) == NULL)
        if (!fill(c, (int)(end - now_ms())))
            return 0;
    size_t hl = (size_t)(eoh - c->wire) + 4;
    c->headers = strndup(c->wire, hl);
    consume_wire(c, hl);
    c->status = strtol(c->headers + 9, NULL, 10);
    c->is_chunked = strcasestr(c->headers, "transfer-encoding: chunked") != NULL;
    if (c->status != 200) {
        /* An error answer: its whole body (the server closes or the length is short). */
        char *cl = strcasestr(c->headers, "content-length:");
        size_t want = cl ? strtoul(cl + 15, NULL, 10) : 0;
        while (true) {
            decode(c);
            if ((cl && c->raw_len >= want) || (c->is_chunked && c->is_clean_end))
                break;
            if (!fill(c, (int)(end - now_ms())))
                break;
        }
        c->body = c->raw ? strdup(c->raw) : strdup("");
    }
    return c->status;
}

long mh_sse_open(struct mh_sse *c, int port, const char *path, const char *auth,
                 const char *last_id)
{
    return open_with(c, port, path, auth, last_id, 0);
}

long mh_sse_open_slow(struct mh_sse *c, int port, const char *path, const char *auth,
                      size_t read_max, int pause_ms)
{
    long st = open_with(c, port, path, auth, NULL, 16384);
    c->read_max = read_max;
    c->read_pause_ms = pause_ms;
    return st;
}

long mh_sse_open_stalled(struct mh_sse *c, int port, const char *path, const char *auth)
{
    memset(c, 0, sizeof(*c));
    c->fd = connect_to(port, 4096);
    if (c->fd < 0 || !send_request(c->fd, path, auth, NULL))
        return -1;
    return 0;
}

static void field(char *dst, size_t cap, const char *v, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

bool mh_sse_next(struct mh_sse *c, int timeout_ms, struct mh_sse_msg *m)
{
    long long end = now_ms() + timeout_ms;
    for (;;) {
        decode(c);
        char *sep = c->raw ? strstr(c->raw, "\n\n") : NULL;
        if (sep) {
            size_t n = (size_t)(sep - c->raw);
            memset(m, 0, sizeof(*m));
            free(c->data);
            c->data = NULL;
            char *block = strndup(c->raw, n);
            memmove(c->raw, sep + 2, c->raw_len - n - 2);
            c->raw_len -= n + 2;
            c->raw[c->raw_len] = '\0';
            bool only_comments = true;
            for (char *line = block, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                size_t len = next ? (size_t)(next - line) : strlen(line);
                if (next)
                    next++;
                if (line[0] == ':') {
                    const char *v = line + 1 + (line[1] == ' ');
                    field(m->comment, sizeof(m->comment), v, len - (size_t)(v - line));
                    continue;
                }
                only_comments = false;
                char *colon = memchr(line, ':', len);
                size_t kl = colon ? (size_t)(colon - line) : len;
                const char *v = colon ? colon + 1 + (colon[1] == ' ') : line + len;
                size_t vl = len - (size_t)(v - line);
                if (kl == 2 && strncmp(line, "id", 2) == 0)
                    field(m->id, sizeof(m->id), v, vl);
                else if (kl == 5 && strncmp(line, "event", 5) == 0)
                    field(m->event, sizeof(m->event), v, vl);
                else if (kl == 5 && strncmp(line, "retry", 5) == 0)
                    field(m->retry, sizeof(m->retry), v, vl);
                else if (kl == 4 && strncmp(line, "data", 4) == 0)
                    c->data = strndup(v, vl);
            }
            free(block);
            m->is_comment = only_comments;
            m->data = c->data ? c->data : "";
            return true;
        }
        long long left = end - now_ms();
        if (left <= 0 || !fill(c, (int)left))
            return false;
    }
}

size_t mh_sse_drain(struct mh_sse *c, int timeout_ms)
{
    long long end = now_ms() + timeout_ms;
    size_t before = c->raw_len + c->wire_len;
    size_t got = 0;
    while (!c->is_eof && now_ms() < end) {
        size_t w = c->wire_len;
        if (fill(c, (int)(end - now_ms())))
            got += c->wire_len - w;
        decode(c);
        if (c->is_clean_end)
            break;
    }
    decode(c);
    (void)before;
    return got;
}

bool mh_sse_content_type_is(const struct mh_sse *c, const char *type)
{
    const char *h = c->headers ? strcasestr(c->headers, "\r\ncontent-type:") : NULL;
    if (h == NULL)
        return false;
    h += 15;
    while (*h == ' ')
        h++;
    return strncasecmp(h, type, strlen(type)) == 0;
}

void mh_sse_close(struct mh_sse *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->headers);
    free(c->body);
    free(c->raw);
    free(c->wire);
    free(c->data);
    c->headers = c->body = c->raw = c->wire = c->data = NULL;
}
