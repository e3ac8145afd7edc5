/* SPDX-License-Identifier: MIT */
/* The scripted HTTP server of the integration tests; see mock_http.h. */
#include "mock_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS 64

struct mh_mock {
    int fd;
    int port;
    pthread_t thread;
    volatile bool stop;
    mh_mock_fn fn;
    void *ctx;
    pthread_mutex_t mu;
    char paths[MAX_PATHS][128];
    int counts[MAX_PATHS];
    int total;
    int active[MAX_PATHS]; /* requests of the path being answered now */
    int peak[MAX_PATHS];   /* the most at once */
    bool is_concurrent;    /* each connection on a thread of its own */
    int live;              /* such threads running (under mu) */
    char *transcript;
    size_t transcript_len;
};

static int bump(struct mh_mock *m, const char *path)
{
    char p[128];
    snprintf(p, sizeof(p), "%.127s", path);
    char *q = strchr(p, '?');
    if (q)
        *q = '\0';
    for (int i = 0; i < MAX_PATHS; i++) {
        if (m->paths[i][0] == '\0')
            snprintf(m->paths[i], sizeof(m->paths[i]), "%s", p);
        if (strcmp(m->paths[i], p) == 0)
            return ++m->counts[i];
    }
    return 0;
}

/* The slot of `path` (without query) among those seen, or -1. Under mu. */
static int path_slot(struct mh_mock *m, const char *path)
{
    char p[128];
    snprintf(p, sizeof(p), "%.127s", path);
    char *q = strchr(p, '?');
    if (q)
        *q = '\0';
    for (int i = 0; i < MAX_PATHS; i++)
        if (strcmp(m->paths[i], p) == 0)
            return i;
    return -1;
}

static void serve_one(struct mh_mock *m, int c)
{
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap + 1);
    char *hdr_end = NULL;
    long clen = 0;
    struct pollfd pfd = {.fd = c, .events = POLLIN};
    while (len < cap) {
        if (poll(&pfd, 1, 5000) <= 0)
            break;
        ssize_t n = read(c, buf + len, cap - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        if (!hdr_end && (hdr_end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (cl && cl < hdr_end)
                clen = strtol(cl + 17, NULL, 10);
        }
        if (hdr_end && (long)(len - (size_t)(hdr_end + 4 - buf)) >= clen)
            break;
    }
    if (!hdr_end) {
        free(buf);
        return;
    }
    *hdr_end = '\0';
    char method[16] = "", path[1024] = "";
    sscanf(buf, "%15s %1023s", method, path);
    pthread_mutex_lock(&m->mu);
    int hit = bump(m, path);
    m->total++;
    size_t add = (size_t)(hdr_end - buf) + 4 + (size_t)clen + 2;
    m->transcript = realloc(m->transcript, m->transcript_len + add + 1);
    memcpy(m->transcript + m->transcript_len, buf, (size_t)(hdr_end - buf));
    m->transcript_len += (size_t)(hdr_end - buf);
    memcpy(m->transcript + m->transcript_len, "\r\n\r\n", 4);
    m->transcript_len += 4;
    memcpy(m->transcript + m->transcript_len, hdr_end + 4, (size_t)clen);
    m->transcript_len += (size_t)clen;
    memcpy(m->transcript + m->transcript_len, "\n\n", 2);
    m->transcript_len += 2;
    m->transcript[m->transcript_len] = '\0';
    int slot = path_slot(m, path);
    if (slot >= 0 && ++m->active[slot] > m->peak[slot])
        m->peak[slot] = m->active[slot];
    pthread_mutex_unlock(&m->mu);
    struct mh_mock_request req = {method, path, buf, hdr_end + 4, (size_t)clen, hit};
    struct mh_mock_reply *rep = calloc(1, sizeof(*rep));
    rep->status = 200;
    snprintf(rep->content_type, sizeof(rep->content_type), "application/json");
    snprintf(rep->body, sizeof(rep->body), "{}");
    m->fn(m->ctx, &req, rep);
    if (rep->delay_ms > 0) {
        struct timespec ts = {rep->delay_ms / 1000, (long)(rep->delay_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    /* The request stops counting as in flight before its reply is sent: the client may start
     * its next request as soon as this reply arrives, and that one must not meet this one still
     * counted (a peak one too high on a slow machine). */
    if (slot >= 0) {
        pthread_mutex_lock(&m->mu);
        m->active[slot]--;
        pthread_mutex_unlock(&m->mu);
    }
    char head[1024];
    int hl = snprintf(head, sizeof(head),
                      "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                      "Connection: close\r\n\r\n",
                      rep->status, rep->content_type, strlen(rep->body), rep->headers);
    (void)!send(c, head, (size_t)hl, MSG_NOSIGNAL);
    (void)!send(c, rep->body, strlen(rep->body), MSG_NOSIGNAL);
    free(rep);
    free(buf);
}

struct conn {
    struct mh_mock *m;
    int fd;
};

static void *conn_main(void *arg)
{
    struct conn *cn = arg;
    struct mh_mock *m = cn->m;
    serve_one(m, cn->fd);
    close(cn->fd);
    free(cn);
    pthread_mutex_lock(&m->mu);
    m->live--;
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

static void *accept_loop(void *arg)
{
    struct mh_mock *m = arg;
    while (!m->stop) {
        struct pollfd pfd = {.fd = m->fd, .events = POLLIN};
        if (poll(&pfd, 1, 50) <= 0)
            continue;
        int c = accept(m->fd, NULL, NULL);
        if (c < 0)
            continue;
        pthread_mutex_lock(&m->mu);
        bool is_concurrent = m->is_concurrent;
        pthread_mutex_unlock(&m->mu);
        if (is_concurrent) {
            struct conn *cn = malloc(sizeof(*cn));
            *cn = (struct conn){m, c};
            pthread_t t;
            pthread_mutex_lock(&m->mu);
            m->live++;
            pthread_mutex_unlock(&m->mu);
            if (pthread_create(&t, NULL, conn_main, cn) == 0) {
                pthread_detach(t);
                continue;
            }
            pthread_mutex_lock(&m->mu);
            m->live--;
            pthread_mutex_unlock(&m->mu);
            free(cn);
        }
        serve_one(m, c);
        close(c);
    }
    return NULL;
}

struct mh_mock *mh_mock_start_concurrent(mh_mock_fn fn, void *ctx)
{
    struct mh_mock *m = mh_mock_start_port(0, fn, ctx);
    pthread_mutex_lock(&m->mu);
    m->is_concurrent = true;
    pthread_mutex_unlock(&m->mu);
    return m;
}

int mh_mock_peak(struct mh_mock *m, const char *path)
{
    pthread_mutex_lock(&m->mu);
    int slot = path_slot(m, path), n = slot >= 0 ? m->peak[slot] : 0;
    pthread_mutex_unlock(&m->mu);
    return n;
}

struct mh_mock *mh_mock_start(mh_mock_fn fn, void *ctx)
{
    return mh_mock_start_port(0, fn, ctx);
}

struct mh_mock *mh_mock_start_port(int port, mh_mock_fn fn, void *ctx)
{
    struct mh_mock *m = calloc(1, sizeof(*m));
    m->fn = fn;
    m->ctx = ctx;
    pthread_mutex_init(&m->mu, NULL);
    m->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    if (bind(m->fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(m->fd, 512) != 0)
        abort();
    socklen_t len = sizeof(a);
    getsockname(m->fd, (struct sockaddr *)&a, &len);
    m->port = ntohs(a.sin_port);
    pthread_create(&m->thread, NULL, accept_loop, m);
    return m;
}

int mh_mock_port(const struct mh_mock *m)
{
    return m->port;
}

int mh_mock_hits(struct mh_mock *m, const char *path)
{
    pthread_mutex_lock(&m->mu);
    int n = 0;
    if (path == NULL) {
        n = m->total;
    } else {
        for (int i = 0; i < MAX_PATHS; i++)
            if (strcmp(m->paths[i], path) == 0)
                n = m->counts[i];
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

char *mh_mock_transcript(struct mh_mock *m)
{
    pthread_mutex_lock(&m->mu);
    char *s = strdup(m->transcript ? m->transcript : "");
    pthread_mutex_unlock(&m->mu);
    return s;
}

void mh_mock_stop(struct mh_mock *m)
{
    if (m == NULL)
        return;
    m->stop = true;
    pthread_join(m->thread, NULL);
    for (;;) {
        pthread_mutex_lock(&m->mu);
        int live = m->live;
        pthread_mutex_unlock(&m->mu);
        if (live == 0)
            break;
        struct timespec ts = {0, 10000000L};
        nanosleep(&ts, NULL);
    }
    close(m->fd);
    free(m->transcript);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
