/* SPDX-License-Identifier: MIT */
/*
 * Tests of src/outbound against a real HTTP/1.1 server on 127.0.0.1 that lives in this file: an
 * accept thread and one thread per connection, with responses scripted per path. The server
 * records what it received and counts requests and connections, so the tests can check that
 * what was sent is exactly what was asked for, and that refused requests never reach it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "core/mem.h"
#include "outbound/outbound.h"
#include "outbound/outbound_internal.h"

/* ---- The scripted server -------------------------------------------------------------------- */

#define BIG_BODY_BYTES (1024 * 1024)
#define REQ_MAX        (256 * 1024)

struct conn {
    struct conn *next;
    struct srv *s;
    pthread_t thread;
    int fd;
};

struct srv {
    int listen_fd;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    pthread_t acceptor;
    atomic_bool stop;
    pthread_mutex_t lock;
    struct conn *conns;
    /* Under lock. */
    int hits;
    int accepts;
    int held; /* /hold requests currently waiting */
    char last_head[8192];
    char *last_body;
    size_t last_body_len;
};

static bool send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_response(int fd, bool head, int status, const char *extra_headers,
                          const char *body, size_t body_len)
{
    char buf[1024];
    int n = snprintf(buf, sizeof(buf), "HTTP/1.1 %d Scripted\r\nContent-Length: %zu\r\n%s\r\n",
                     status, body_len, extra_headers ? extra_headers : "");
    /* A HEAD response announces the body's length but carries none. */
    return send_all(fd, buf, (size_t)n) && (head || send_all(fd, body, body_len));
}

/* Waits up to `ms` for the client to go away (or the server to stop); true if it went away. */
static bool wait_for_close(struct srv *s, int fd, int ms)
{
    int waited = 0;
    while (ms < 0 || waited < ms) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int step = ms < 0 || ms - waited > 20 ? 20 : ms - waited;
        int r = poll(&pfd, 1, step);
        if (r > 0) {
            char c;
            if (recv(fd, &c, 1, MSG_PEEK) <= 0)
                return true;
        }
        if (atomic_load(&s->stop))
            return true;
        waited += step;
    }
    return false;
}

/* Answers one parsed request; false to close the connection. */
static bool serve(struct srv *s, int fd, const char *method, const char *path, const char *body,
                  size_t body_len)
{
    bool head = strcmp(method, "HEAD") == 0;
    if (strcmp(path, "/json") == 0) {
        const char *b = "{\"ok\":true,\"n\":1}";
        return send_response(fd, head, 200,
                             "Content-Type: application/json\r\nX-Multi: a\r\nX-Multi: b\r\n"
                             "X-Mixed-Case:   Yes  \r\n",
                             b, strlen(b));
    }
    if (strcmp(path, "/echo") == 0) {
        char h[64];
        snprintf(h, sizeof(h), "X-Method: %s\r\n", method);
        return send_response(fd, head, 200, h, body, body_len);
    }
    if (strcmp(path, "/500") == 0)
        return send_response(fd, head, 500, NULL, "boom", 4);
    if (strcmp(path, "/404") == 0)
        return send_response(fd, head, 404, NULL, "", 0);
    if (strcmp(path, "/429") == 0)
        return send_response(fd, head, 429, "Retry-After: 7\r\n", "", 0);
    if (strcmp(path, "/latin1") == 0)
        return send_response(fd, head, 200, "X-Latin: caf\xe9\r\n", "", 0);
    if (strncmp(path, "/slow/", 6) == 0) {
        int ms = (int)strtol(path + 6, NULL, 10);
        if (wait_for_close(s, fd, ms))
            return false;
        return send_response(fd, head, 200, NULL, "slow", 4);
    }
    if (strcmp(path, "/hold") == 0) {
        pthread_mutex_lock(&s->lock);
        s->held++;
        pthread_mutex_unlock(&s->lock);
        wait_for_close(s, fd, -1);
        pthread_mutex_lock(&s->lock);
        s->held--;
        pthread_mutex_unlock(&s->lock);
        return false;
    }
    if (strcmp(path, "/big") == 0 || strcmp(path, "/big-stream") == 0) {
        char *b = malloc(BIG_BODY_BYTES);
        memset(b, 'x', BIG_BODY_BYTES);
        bool ok;
        if (strcmp(path, "/big") == 0) {
            ok = send_response(fd, head, 200, NULL, b, BIG_BODY_BYTES);
        } else {
            /* No Content-Length: the body ends when the connection does, so only counting the
             * bytes as they arrive can catch it. */
            const char *status_line = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
            if (send_all(fd, status_line, strlen(status_line)))
                send_all(fd, b, BIG_BODY_BYTES);
            ok = false; /* closing ends the body */
        }
        free(b);
        return ok;
    }
    if (strcmp(path, "/redirect") == 0)
        return send_response(fd, head, 302, "Location: /json\r\n", "", 0);
    if (strcmp(path, "/garbage") == 0) {
        send_all(fd, "garbage\r\n\r\n", 11);
        return false;
    }
    if (strcmp(path, "/close") == 0)
        return false;
    return send_response(fd, head, 200, NULL, "ok", 2);
}

static void *conn_main(void *arg)
{
    struct conn *c = arg;
    struct srv *s = c->s;
    char *buf = malloc(REQ_MAX + 1);
    size_t len = 0;
    for (;;) {
        char *end = NULL;
        while ((end = len ? strstr(buf, "\r\n\r\n") : NULL) == NULL) {
            if (len >= REQ_MAX)
                goto done;
            ssize_t r = recv(c->fd, buf + len, REQ_MAX - len, 0);
            if (r <= 0)
                goto done;
            len += (size_t)r;
            buf[len] = '\0';
        }
        size_t head_len = (size_t)(end - buf) + 4;
        char method[16] = "", path[512] = "";
        if (sscanf(buf, "%15s %511s", method, path) != 2)
            goto done;
        size_t clen = 0;
        for (const char *p = strstr(buf, "\r\n"); p && p < end; p = strstr(p + 2, "\r\n"))
            if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
                clen = (size_t)strtoul(p + 17, NULL, 10);
        if (clen > REQ_MAX - head_len)
            goto done;
        while (len < head_len + clen) {
            ssize_t r = recv(c->fd, buf + len, REQ_MAX - len, 0);
            if (r <= 0)
                goto done;
            len += (size_t)r;
        }
        pthread_mutex_lock(&s->lock);
        s->hits++;
        snprintf(s->last_head, sizeof(s->last_head), "%.*s", (int)head_len, buf);
        free(s->last_body);
        s->last_body = malloc(clen + 1);
        memcpy(s->last_body, buf + head_len, clen);
        s->last_body[clen] = '\0';
        s->last_body_len = clen;
        pthread_mutex_unlock(&s->lock);

        char *q = strchr(path, '?');
        if (q)
            *q = '\0';
        bool keep = serve(s, c->fd, method, path, buf + head_len, clen);
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;
        buf[len] = '\0';
        if (!keep)
            break;
    }
done:
    free(buf);
    pthread_mutex_lock(&s->lock);
    close(c->fd);
    c->fd = -1;
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

static void *acceptor_main(void *arg)
{
    struct srv *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd pfd = {.fd = s->listen_fd, .events = POLLIN};
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int fd = accept(s->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        struct conn *c = calloc(1, sizeof(*c));
        c->s = s;
        c->fd = fd;
        pthread_mutex_lock(&s->lock);
        c->next = s->conns;
        s->conns = c;
        s->accepts++;
        pthread_mutex_unlock(&s->lock);
        if (pthread_create(&c->thread, NULL, conn_main, c) != 0)
            abort();
    }
    return NULL;
}

static void srv_start(struct srv *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    atomic_init(&s->stop, false);
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    MH_T_ASSERT(s->listen_fd >= 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    MH_T_ASSERT(bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    MH_T_ASSERT(listen(s->listen_fd, 512) == 0);
    socklen_t al = sizeof(a);
    MH_T_ASSERT(getsockname(s->listen_fd, (struct sockaddr *)&a, &al) == 0);
    s->port = ntohs(a.sin_port);
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    MH_T_ASSERT(pthread_create(&s->acceptor, NULL, acceptor_main, s) == 0);
}

static void srv_stop(struct srv *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->acceptor, NULL);
    close(s->listen_fd);
    pthread_mutex_lock(&s->lock);
    for (struct conn *c = s->conns; c; c = c->next)
        if (c->fd >= 0)
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    while (s->conns) {
        struct conn *c = s->conns;
        s->conns = c->next;
        pthread_join(c->thread, NULL);
        free(c);
    }
    free(s->last_body);
    pthread_mutex_destroy(&s->lock);
}

static int srv_hits(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->hits;
    pthread_mutex_unlock(&s->lock);
    return n;
}

static int srv_held(struct srv *s)
{
    pthread_mutex_lock(&s->lock);
    int n = s->held;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* True when the last request's head has exactly this header line. */
static bool srv_saw_line(struct srv *s, const char *line)
{
    char needle[512];
    snprintf(needle, sizeof(needle), "\r\n%s\r\n", line);
    pthread_mutex_lock(&s->lock);
    bool found = strstr(s->last_head, needle) != NULL;
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* True when the last request's head has a header of this name (case-insensitive). */
static bool srv_saw_header(struct srv *s, const char *name)
{
    size_t n = strlen(name);
    bool found = false;
    pthread_mutex_lock(&s->lock);
    for (const char *p = strstr(s->last_head, "\r\n"); p; p = strstr(p + 2, "\r\n"))
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':')
            found = true;
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then released). */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    MH_T_ASSERT(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    socklen_t al = sizeof(a);
    MH_T_ASSERT(getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* ---- Collecting outcomes -------------------------------------------------------------------- */

struct result {
    int calls;
    int status;
    char kind[32]; /* "" when error_kind was NULL */
    char message[256];
    char *body;
    size_t body_len;
    json_t *headers;
    int64_t duration_ms;
    int64_t retry_at_ms;
    char origin[128];
};

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;
static int done_count;

static void on_done(void *ctx, const struct mh_outbound_response *resp)
{
    struct result *r = ctx;
    pthread_mutex_lock(&done_lock);
    r->calls++;
    if (r->calls == 1) {
        r->status = resp->status;
        snprintf(r->kind, sizeof(r->kind), "%s", resp->error_kind ? resp->error_kind : "");
        snprintf(r->message, sizeof(r->message), "%s", resp->error_message);
        r->body = malloc(resp->body_len + 1);
        memcpy(r->body, resp->body, resp->body_len + 1);
        r->body_len = resp->body_len;
        r->headers = json_deep_copy(resp->headers);
        r->duration_ms = resp->duration_ms;
        r->retry_at_ms = resp->retry_at_ms;
        snprintf(r->origin, sizeof(r->origin), "%s", resp->origin ? resp->origin : "(null)");
    }
    done_count++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

static void result_cleanup(struct result *r)
{
    free(r->body);
    json_decref(r->headers);
    memset(r, 0, sizeof(*r));
}

/* Waits (at most 10 s) until `n` callbacks have run in total. */
static bool wait_done(int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    bool ok = true;
    pthread_mutex_lock(&done_lock);
    while (done_count < n && ok)
        ok = pthread_cond_timedwait(&done_cond, &done_lock, &until) == 0 || done_count >= n;
    pthread_mutex_unlock(&done_lock);
    return ok;
}

static int done_so_far(void)
{
    pthread_mutex_lock(&done_lock);
    int n = done_count;
    pthread_mutex_unlock(&done_lock);
    return n;
}

static int64_t now_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

/* Polls `cond` every 5 ms for up to 5 s. */
#define WAIT_UNTIL(cond)                                                                           \
    do {                                                                                           \
        int mh_t_w_ = 0;                                                                           \
        while (!(cond) && mh_t_w_ < 1000) {                                                        \
            sleep_ms(5);                                                                           \
            mh_t_w_++;                                                                             \
        }                                                                                          \
        MH_T_ASSERT(cond);                                                                         \
    } while (0)

/* The scripted server is on loopback, which the SSRF guard refuses by default: the engines of
 * these tests allow it, except where a test is about the guard. */
static struct mh_outbound *make_outbound(void (*tweak)(struct mh_outbound_opts *))
{
    struct mh_outbound_opts opts;
    mh_outbound_opts_init(&opts);
    opts.allowlist = "127.0.0.1/32";
    if (tweak)
        tweak(&opts);
    struct mh_outbound *o = NULL;
    MH_T_ASSERT_EQ(mh_outbound_create(&opts, &o), MH_OK);
    MH_T_ASSERT(o != NULL);
    return o;
}

/* Submits one request and waits for its callback. */
static void call(struct mh_outbound *o, const char *method, const char *url,
                 const char *const *headers, const char *body, size_t body_len, long timeout_ms,
                 struct result *r)
{
    struct mh_outbound_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body_len,
        .timeout_ms = timeout_ms,
    };
    int before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
    MH_T_ASSERT_EQ(r->calls, 1);
}

static void submit_async(struct mh_outbound *o, const char *method, const char *url,
                         struct result *r)
{
    struct mh_outbound_request req = {.method = method, .url = url};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, r), MH_OK);
}

static const char *hdr(const struct result *r, const char *name)
{
    return json_string_value(json_object_get(r->headers, name));
}

static char *url_of(const struct srv *s, const char *path)
{
    static char bufs[8][128];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s%s", s->base, path);
    return b;
}

/* ---- Requests and responses ----------------------------------------------------------------- */

MH_TEST(get_reports_status_headers_and_body)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    const char *headers[] = {"X-Test: one", "Authorization: Bearer abc.def", NULL};
    struct result r = {0};
    call(o, "GET", url_of(&s, "/json?q=1"), headers, NULL, 0, 5000, &r);

    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_STR_EQ(r.body, "{\"ok\":true,\"n\":1}");
    MH_T_ASSERT_EQ(r.body_len, strlen("{\"ok\":true,\"n\":1}"));
    MH_T_ASSERT_STR_EQ(hdr(&r, "content-type"), "application/json");
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-multi"), "a, b");
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-mixed-case"), "Yes");
    MH_T_ASSERT(json_object_get(r.headers, "X-Mixed-Case") == NULL);
    MH_T_ASSERT_EQ(r.retry_at_ms, 0);
    MH_T_ASSERT(r.duration_ms >= 0 && r.duration_ms < 5000);

    pthread_mutex_lock(&s.lock);
    MH_T_ASSERT(strncmp(s.last_head, "GET /json?q=1 HTTP/1.1\r\n", 24) == 0);
    pthread_mutex_unlock(&s.lock);
    MH_T_ASSERT(srv_saw_line(&s, "X-Test: one"));
    MH_T_ASSERT(srv_saw_line(&s, "Authorization: Bearer abc.def"));
    MH_T_ASSERT(srv_saw_line(&s, "User-Agent: MeshHook"));
    MH_T_ASSERT(!srv_saw_header(&s, "Content-Type"));
    MH_T_ASSERT(!srv_saw_header(&s, "Content-Length"));
    MH_T_ASSERT_EQ(s.last_body_len, 0);
    MH_T_ASSERT_EQ(mh_outbound_in_flight(o), 0);

    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(post_sends_exact_body_and_headers)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    static const char body[] = "{\"a\":1}\0tail\xff";
    size_t blen = sizeof(body) - 1;
    const char *headers[] = {"Content-Type: application/json", "X-Empty:", "User-Agent: custom/1",
                             "Content-Length: 3", NULL};
    struct result r = {0};
    call(o, "POST", url_of(&s, "/echo"), headers, body, blen, 5000, &r);

    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-method"), "POST");
    MH_T_ASSERT_EQ(r.body_len, blen);
    MH_T_ASSERT_MEM_EQ(r.body, body, blen);

    MH_T_ASSERT_EQ(s.last_body_len, blen);
    MH_T_ASSERT_MEM_EQ(s.last_body, body, blen);
    MH_T_ASSERT(srv_saw_line(&s, "Content-Type: application/json"));
    MH_T_ASSERT(srv_saw_line(&s, "X-Empty:"));
    MH_T_ASSERT(srv_saw_line(&s, "User-Agent: custom/1"));
    MH_T_ASSERT(!srv_saw_line(&s, "User-Agent: MeshHook"));
    /* The caller's bogus Content-Length is dropped; libcurl frames the body. */
    MH_T_ASSERT(srv_saw_line(&s, "Content-Length: 13"));
    MH_T_ASSERT(!srv_saw_line(&s, "Content-Length: 3"));
    MH_T_ASSERT(!srv_saw_header(&s, "Expect"));
    result_cleanup(&r);

    /* Without a Content-Type of the caller's, none is sent (not curl's form-urlencoded). */
    call(o, "POST", url_of(&s, "/echo"), NULL, "x=1", 3, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT(!srv_saw_header(&s, "Content-Type"));
    MH_T_ASSERT_EQ(s.last_body_len, 3);
    result_cleanup(&r);

    /* Other methods: PUT with a body, DELETE without, an empty POST. */
    call(o, "PUT", url_of(&s, "/echo"), NULL, "abc", 3, 5000, &r);
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-method"), "PUT");
    MH_T_ASSERT_STR_EQ(r.body, "abc");
    result_cleanup(&r);
    call(o, "DELETE", url_of(&s, "/echo"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-method"), "DELETE");
    MH_T_ASSERT_EQ(s.last_body_len, 0);
    result_cleanup(&r);
    call(o, "POST", url_of(&s, "/echo"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-method"), "POST");
    MH_T_ASSERT(srv_saw_line(&s, "Content-Length: 0"));
    result_cleanup(&r);

    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(error_statuses_are_responses)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 500);
    MH_T_ASSERT_STR_EQ(r.body, "boom");
    result_cleanup(&r);

    int64_t before = now_real_ms();
    call(o, "GET", url_of(&s, "/429"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 429);
    MH_T_ASSERT_STR_EQ(hdr(&r, "retry-after"), "7");
    MH_T_ASSERT(r.retry_at_ms >= before + 7000 && r.retry_at_ms <= now_real_ms() + 7000);
    result_cleanup(&r);

    /* Header bytes that are not UTF-8 are replaced, never dropped or passed on raw. */
    call(o, "GET", url_of(&s, "/latin1"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(hdr(&r, "x-latin"), "caf\xef\xbf\xbd");
    result_cleanup(&r);

    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(timeout_is_reported)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    call(o, "GET", url_of(&s, "/slow/5000"), NULL, NULL, 0, 200, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "timeout");
    MH_T_ASSERT_EQ(r.status, 0);
    MH_T_ASSERT_EQ(r.body_len, 0);
    MH_T_ASSERT_EQ(json_object_size(r.headers), 0);
    MH_T_ASSERT(r.message[0] != '\0');
    MH_T_ASSERT(r.duration_ms >= 100 && r.duration_ms < 4000);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(connection_failures_are_reported)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", dead_port());
    struct result r = {0};
    call(o, "GET", url, NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "connection");
    MH_T_ASSERT_EQ(r.status, 0);
    result_cleanup(&r);

    /* A server that reads the request and hangs up without answering. */
    call(o, "GET", url_of(&s, "/close"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "connection");
    MH_T_ASSERT(srv_hits(&s) >= 1);
    result_cleanup(&r);

    /* A reply that is not HTTP at all. */
    call(o, "GET", url_of(&s, "/garbage"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "other");
    MH_T_ASSERT_EQ(r.status, 0);
    result_cleanup(&r);

    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(unresolvable_host_is_dns)
{
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    /* RFC 6761 reserves .invalid: no resolver may answer it. */
    call(o, "GET", "http://meshhook-test.invalid/", NULL, NULL, 0, 5000, &r);
    if (strcmp(r.kind, "timeout") == 0) {
        result_cleanup(&r);
        mh_outbound_destroy(o);
        MH_T_SKIP("the resolver did not answer in time");
    }
    MH_T_ASSERT_STR_EQ(r.kind, "dns");
    result_cleanup(&r);
    mh_outbound_destroy(o);
}

static void small_limits(struct mh_outbound_opts *opts)
{
    opts->max_response_bytes = 1000;
}

static void tiny_headers(struct mh_outbound_opts *opts)
{
    opts->max_header_bytes = 64;
}

MH_TEST(oversized_responses_fail_with_too_big)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(small_limits);
    struct result r = {0};
    /* Refused on the Content-Length, and counted when there is none. */
    call(o, "GET", url_of(&s, "/big"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "too_big");
    MH_T_ASSERT_EQ(r.status, 0);
    MH_T_ASSERT_EQ(r.body_len, 0);
    result_cleanup(&r);
    call(o, "GET", url_of(&s, "/big-stream"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "too_big");
    MH_T_ASSERT_EQ(r.body_len, 0);
    result_cleanup(&r);
    /* A HEAD of the same resource reads no body, so its Content-Length is no reason to fail. */
    call(o, "HEAD", url_of(&s, "/big"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 200);
    MH_T_ASSERT_EQ(r.body_len, 0);
    result_cleanup(&r);
    /* Under the limit is fine, and too_big did not count against the host. */
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    mh_outbound_destroy(o);

    o = make_outbound(tiny_headers);
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "too_big");
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(invalid_requests_are_not_sent)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
    const char *nocolon[] = {"Bad Header", NULL};
    const char *badname[] = {"Bad Name: v", NULL};
    struct {
        const char *method;
        const char *url;
        const char *const *headers;
    } cases[] = {
        {"GET", "ftp://127.0.0.1/x", NULL},
        {"GET", "file:///etc/passwd", NULL},
        {"GET", "not a url", NULL},
        {"GET", "/relative", NULL},
        {"GE T", url_of(&s, "/json"), NULL},
        {"CONNECT", url_of(&s, "/json"), NULL},
        {"", url_of(&s, "/json"), NULL},
        {"GET", url_of(&s, "/json"), crlf},
        {"GET", url_of(&s, "/json"), nocolon},
        {"GET", url_of(&s, "/json"), badname},
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(cases); i++) {
        call(o, cases[i].method, cases[i].url, cases[i].headers, NULL, 0, 5000, &r);
        if (strcmp(r.kind, "invalid_request") != 0)
            mh_t_fail(__FILE__, __LINE__, "case %zu: kind \"%s\"", i, r.kind);
        MH_T_ASSERT_EQ(r.status, 0);
        result_cleanup(&r);
    }
    MH_T_ASSERT_EQ(srv_hits(&s), 0);

    /* Programmer errors are refused synchronously and never call back. */
    struct mh_outbound_request req = {.method = "GET", .url = NULL};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_EINVAL);
    req.url = url_of(&s, "/json");
    req.body_len = 4;
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_EINVAL);
    req.body_len = 0;
    req.timeout_ms = -1;
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_EINVAL);
    req.timeout_ms = 0;
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, NULL, &r), MH_EINVAL);
    sleep_ms(50);
    MH_T_ASSERT_EQ(r.calls, 0);
    MH_T_ASSERT(mh_outbound_breaker_state(o, NULL, "no scheme") == NULL);

    struct mh_outbound_opts bad;
    mh_outbound_opts_init(&bad);
    bad.max_in_flight = -1;
    struct mh_outbound *o2 = (struct mh_outbound *)&bad;
    MH_T_ASSERT_EQ(mh_outbound_create(&bad, &o2), MH_EINVAL);
    MH_T_ASSERT(o2 == NULL);

    mh_outbound_destroy(o);
    srv_stop(&s);
}

static void no_allowlist(struct mh_outbound_opts *opts)
{
    opts->allowlist = NULL;
}

/* Each URL must fail with invalid_request before anything is sent. */
static void expect_refused(struct mh_outbound *o, const char *url, const char *addr)
{
    struct result r = {0};
    call(o, "GET", url, NULL, NULL, 0, 3000, &r);
    if (strcmp(r.kind, "invalid_request") != 0)
        mh_t_fail(__FILE__, __LINE__, "%s: kind \"%s\" (%s)", url, r.kind, r.message);
    if (addr != NULL && strstr(r.message, addr) == NULL)
        mh_t_fail(__FILE__, __LINE__, "%s: message \"%s\" lacks %s", url, r.message, addr);
    MH_T_ASSERT(strstr(r.message, "private targets are not allowed") != NULL);
    MH_T_ASSERT_EQ(r.status, 0);
    result_cleanup(&r);
}

MH_TEST(private_targets_are_refused_by_default)
{
    struct srv s;
    srv_start(&s);
    /* The defaults, as a server gets them: no option turns the guard on. */
    struct mh_outbound *o = NULL;
    MH_T_ASSERT_EQ(mh_outbound_create(NULL, &o), MH_OK);
    expect_refused(o, url_of(&s, "/json"), "127.0.0.1");
    char url[128];
    /* A name that resolves to loopback is judged by the address it resolves to. */
    snprintf(url, sizeof(url), "http://localhost:%d/json", s.port);
    expect_refused(o, url, NULL);
    expect_refused(o, "http://10.255.255.1:81/", "10.255.255.1");
    expect_refused(o, "http://169.254.169.254/latest/meta-data/", "169.254.169.254");
    expect_refused(o, "http://0.1.2.3:81/", "0.1.2.3");
    expect_refused(o, "http://[::1]:1/", "::1");
    expect_refused(o, "http://[::ffff:10.0.0.1]:81/", "10.0.0.1");
    expect_refused(o, "http://[64:ff9b::a9fe:a9fe]:81/", "64:ff9b::a9fe:a9fe");
    expect_refused(o, "http://[fd00:ec2::254]/", "fd00:ec2::254");
    mh_outbound_destroy(o);

    /* mh_outbound_opts_init gives the same defaults. */
    o = make_outbound(no_allowlist);
    expect_refused(o, url_of(&s, "/json"), "127.0.0.1");
    mh_outbound_destroy(o);
    MH_T_ASSERT_EQ(srv_hits(&s), 0);
    pthread_mutex_lock(&s.lock);
    MH_T_ASSERT_EQ(s.accepts, 0);
    pthread_mutex_unlock(&s.lock);
    srv_stop(&s);
}

static bool blocked(const char *text)
{
    uint8_t a[16];
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    MH_T_ASSERT_EQ(inet_pton(family, text, a), 1);
    return mh_outbound_is_blocked_ip(family, a);
}

MH_TEST(blocked_address_ranges)
{
    const char *in[] = {
        "0.0.0.0",
        "0.255.255.255",
        "10.0.0.1",
        "100.64.0.1",
        "100.100.100.200",
        "127.0.0.1",
        "127.255.255.254",
        "168.63.129.16",
        "169.254.169.254",
        "169.254.170.2",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.192",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "::10.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:0:10.1.1.1",
        "64:ff9b::10.0.0.1",
        "64:ff9b::7f00:1",
        "64:ff9b:1::1",
        "64:ff9b:1:ffff::8.8.8.8",
        "100::1",
        "2001::1",
        "2001:0:4136:e378::1",
        "2001:2::1",
        "2001:10::1",
        "2001:db8::1",
        "2002::1",
        "2002:7f00:1::1",
        "2002:808:808::1",
        "3fff::1",
        "fc00::1",
        "fd00:ec2::254",
        "fdff::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "feff::1",
        "ff02::1",
    };
    const char *out[] = {
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.0",
        "126.255.255.255",
        "128.0.0.1",
        "168.63.129.17",
        "169.253.255.255",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.1.1",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "9.255.255.255",
        "11.0.0.0",
        "2606:4700::1111",
        "2a00:1450::1",
        "::ffff:8.8.8.8",
        "64:ff9b::8.8.8.8",
        "2001:200::1",
        "2001:4860:4860::8888",
        "2003::1",
        "fbff::1",
        "::2:1:1",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(in); i++)
        if (!blocked(in[i]))
            mh_t_fail(__FILE__, __LINE__, "%s is not blocked", in[i]);
    for (size_t i = 0; i < MH_ARRAY_LEN(out); i++)
        if (blocked(out[i]))
            mh_t_fail(__FILE__, __LINE__, "%s is blocked", out[i]);
    uint8_t any[16] = {0};
    MH_T_ASSERT(mh_outbound_is_blocked_ip(AF_UNIX, any));
}

MH_TEST(allowlists_parse_and_match)
{
    const char *good[] = {
        "",
        " , ",
        "10.0.0.0/8",
        "10.1.2.3",
        "127.0.0.1/32, ::1/128",
        "fd00::/8\n192.168.0.0/16\t172.16.0.0/12",
        "vault.internal",
        "*.corp.example",
        "Billing-API.corp.example.",
        "[::1]",
        "0.0.0.0/0",
        "::ffff:10.0.0.0/104",
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(good); i++)
        if (mh_outbound_allowlist_check(good[i], NULL, NULL) != MH_OK)
            mh_t_fail(__FILE__, __LINE__, "\"%s\" refused", good[i]);
    struct {
        const char *list;
        size_t index;
    } bad[] = {
        {"10.0.0.0/33", 0},
        {"10.0.0.1/8", 0},
        {"::1/129", 0},
        {"10.0.0.0/", 0},
        {"10.0.0.0/08", 0},
        {"10.0.0.0/x", 0},
        {"ok.example, bad_host", 1},
        {"*", 0},
        {"*.", 0},
        {"-a.example", 0},
        {"a-.example", 0},
        {"a..example", 0},
        {"http://x.example", 0},
        {"x.example:80", 0},
        {"vault.internal/8", 0},
        {"fd00::1/8", 0},
        {"10.0.0.0/8,256.0.0.1", 1},
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(bad); i++) {
        struct mh_err_info info = MH_ERR_INFO_INIT;
        size_t at = 99;
        if (mh_outbound_allowlist_check(bad[i].list, &at, &info) != MH_EINVAL)
            mh_t_fail(__FILE__, __LINE__, "\"%s\" accepted", bad[i].list);
        MH_T_ASSERT_EQ(at, bad[i].index);
        MH_T_ASSERT(strstr(info.message, "allow-list entry") != NULL);
    }
    char many[4096] = "";
    for (int i = 0; i <= MH_OUTBOUND_ALLOWLIST_MAX; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "h%d,", i);
    MH_T_ASSERT_EQ(mh_outbound_allowlist_check(many, NULL, NULL), MH_EINVAL);

    struct mh_outbound__allow *a = NULL;
    MH_T_ASSERT_EQ(mh_outbound__allow_compile("10.0.0.0/8, *.corp.example, vault.internal, "
                                              "169.254.0.0/16, 100.100.100.200, fd00::/8",
                                              &a, NULL, NULL),
                   MH_OK);
    uint8_t v4[4], v6[16];
    inet_pton(AF_INET, "10.9.8.7", v4);
    MH_T_ASSERT(mh_outbound__allow_permits(a, "anything", AF_INET, v4));
    inet_pton(AF_INET6, "::ffff:10.9.8.7", v6);
    MH_T_ASSERT(mh_outbound__allow_permits(a, NULL, AF_INET6, v6));
    inet_pton(AF_INET, "192.168.1.1", v4);
    MH_T_ASSERT(!mh_outbound__allow_permits(a, "other.example", AF_INET, v4));
    MH_T_ASSERT(mh_outbound__allow_permits(a, "api.corp.example", AF_INET, v4));
    MH_T_ASSERT(mh_outbound__allow_permits(a, "A.B.Corp.Example.", AF_INET, v4));
    MH_T_ASSERT(!mh_outbound__allow_permits(a, "corp.example", AF_INET, v4));
    MH_T_ASSERT(!mh_outbound__allow_permits(a, "evilcorp.example", AF_INET, v4));
    MH_T_ASSERT(mh_outbound__allow_permits(a, "vault.internal", AF_INET, v4));
    MH_T_ASSERT(!mh_outbound__allow_permits(a, "x.vault.internal", AF_INET, v4));
    /* Link-local is allowed, but its metadata address only when named exactly. */
    inet_pton(AF_INET, "169.254.1.1", v4);
    MH_T_ASSERT(mh_outbound__allow_permits(a, NULL, AF_INET, v4));
    inet_pton(AF_INET, "169.254.169.254", v4);
    MH_T_ASSERT(!mh_outbound__allow_permits(a, NULL, AF_INET, v4));
    inet_pton(AF_INET, "100.100.100.200", v4);
    MH_T_ASSERT(mh_outbound__allow_permits(a, NULL, AF_INET, v4));
    inet_pton(AF_INET6, "fd00:ec2::254", v6);
    MH_T_ASSERT(!mh_outbound__allow_permits(a, NULL, AF_INET6, v6));
    inet_pton(AF_INET6, "fd12::1", v6);
    MH_T_ASSERT(mh_outbound__allow_permits(a, NULL, AF_INET6, v6));
    MH_T_ASSERT(!mh_outbound__allow_permits(NULL, "vault.internal", AF_INET6, v6));
    mh_outbound__allow_destroy(a);
}

MH_TEST(allowlists_let_chosen_targets_through)
{
    struct srv s;
    srv_start(&s);
    struct result r = {0};
    char url[128];
    snprintf(url, sizeof(url), "http://localhost:%d/json", s.port);

    /* Server-wide, by address: 127.0.0.1 is reachable under any name, ::1 is not. */
    struct mh_outbound *o = make_outbound(NULL);
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    expect_refused(o, "http://[::1]:1/", "::1");
    mh_outbound_destroy(o);

    /* Per request: only the request that carries the allow-list gets through, and a connection
     * it left in the cache is not reused by one that does not. */
    o = make_outbound(no_allowlist);
    MH_T_ASSERT_EQ(srv_hits(&s), 1);
    struct mh_outbound_request req = {
        .method = "GET", .url = url_of(&s, "/json"), .tenant = "a", .allowlist = "127.0.0.0/8"};
    int before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    MH_T_ASSERT_EQ(srv_hits(&s), 2);
    expect_refused(o, url_of(&s, "/json"), "127.0.0.1");
    MH_T_ASSERT_EQ(srv_hits(&s), 2);
    pthread_mutex_lock(&s.lock);
    MH_T_ASSERT_EQ(s.accepts, 2); /* one per engine: the refused request reused nothing */
    pthread_mutex_unlock(&s.lock);

    /* By host name: the name must be the URL's. */
    req.allowlist = "localhost";
    req.url = url;
    r = (struct result){0};
    before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    req.url = url_of(&s, "/json");
    before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
    MH_T_ASSERT_STR_EQ(r.kind, "invalid_request");
    result_cleanup(&r);

    /* A bad entry fails the request, naming it. */
    req.allowlist = "10.0.0.0/99";
    before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
    MH_T_ASSERT_STR_EQ(r.kind, "invalid_request");
    MH_T_ASSERT(strstr(r.message, "10.0.0.0/99") != NULL);
    result_cleanup(&r);
    MH_T_ASSERT_EQ(srv_hits(&s), 3);
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, "a", s.base), "closed");
    mh_outbound_destroy(o);

    /* A server-wide allow-list that does not parse is refused at create. */
    struct mh_outbound_opts bad;
    mh_outbound_opts_init(&bad);
    bad.allowlist = "not a/cidr";
    MH_T_ASSERT_EQ(mh_outbound_create(&bad, &o), MH_EINVAL);
    srv_stop(&s);
}

static void allow_everything(struct mh_outbound_opts *opts)
{
    opts->allowlist = NULL;
    opts->allow_private_targets = true;
}

MH_TEST(private_targets_can_be_allowed_wholesale)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(allow_everything);
    struct result r = {0};
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(connections_are_reused)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    for (int i = 0; i < 3; i++) {
        call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
        MH_T_ASSERT_EQ(r.status, 200);
        result_cleanup(&r);
    }
    MH_T_ASSERT_EQ(srv_hits(&s), 3);
    pthread_mutex_lock(&s.lock);
    int accepts = s.accepts;
    pthread_mutex_unlock(&s.lock);
    MH_T_ASSERT_EQ(accepts, 1);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(redirects_are_not_followed_and_proxies_not_taken_from_env)
{
    struct srv s;
    srv_start(&s);
    /* A proxy that would refuse every connection: were it used, nothing below would succeed.
     * This runs in the case's own forked process, so the environment change stays here. */
    char proxy[64];
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", dead_port());
    setenv("http_proxy", proxy, 1);
    setenv("HTTPS_PROXY", proxy, 1);
    setenv("ALL_PROXY", proxy, 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    struct mh_outbound *o = make_outbound(NULL);
    struct result r = {0};
    call(o, "GET", url_of(&s, "/redirect"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "");
    MH_T_ASSERT_EQ(r.status, 302);
    MH_T_ASSERT_STR_EQ(hdr(&r, "location"), "/json");
    MH_T_ASSERT_EQ(srv_hits(&s), 1);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

/* ---- Concurrency, limits, shutdown ------------------------------------------------------------
 */

MH_TEST(hundred_concurrent_requests_complete_once_each)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    enum { N = 100 };
    static struct result rs[N];
    int peak = 0;
    for (int i = 0; i < N; i++)
        submit_async(o, "GET", url_of(&s, "/slow/100"), &rs[i]);
    for (int w = 0; done_so_far() < N && w < 5000; w++) {
        int f = mh_outbound_in_flight(o);
        peak = f > peak ? f : peak;
        sleep_ms(1);
    }
    MH_T_ASSERT(wait_done(N));
    sleep_ms(50); /* a duplicate callback would land now */
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_EQ(rs[i].calls, 1);
        MH_T_ASSERT_EQ(rs[i].status, 200);
        MH_T_ASSERT_STR_EQ(rs[i].body, "slow");
        result_cleanup(&rs[i]);
    }
    MH_T_ASSERT_EQ(done_so_far(), N);
    MH_T_ASSERT_EQ(srv_hits(&s), N);
    MH_T_ASSERT(peak > 1); /* they really ran side by side */
    MH_T_ASSERT_EQ(mh_outbound_in_flight(o), 0);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

static void two_slots(struct mh_outbound_opts *opts)
{
    opts->max_in_flight = 2;
    opts->max_in_flight_per_tenant = 2;
    opts->max_queued = 3;
    opts->max_queued_per_tenant = 3;
}

MH_TEST(queue_is_bounded_and_destroy_cancels_everything)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(two_slots);
    struct result rs[6] = {{0}};
    for (int i = 0; i < 5; i++)
        submit_async(o, "GET", url_of(&s, "/hold"), &rs[i]);
    struct mh_outbound_request req = {.method = "GET", .url = url_of(&s, "/hold")};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[5]), MH_ELIMIT);
    WAIT_UNTIL(srv_held(&s) == 2);
    MH_T_ASSERT_EQ(mh_outbound_in_flight(o), 2);
    sleep_ms(50);
    MH_T_ASSERT_EQ(srv_hits(&s), 2); /* the other three wait in memory */
    MH_T_ASSERT_EQ(done_so_far(), 0);

    mh_outbound_destroy(o);
    MH_T_ASSERT_EQ(done_so_far(), 5);
    for (int i = 0; i < 5; i++) {
        MH_T_ASSERT_EQ(rs[i].calls, 1);
        MH_T_ASSERT_STR_EQ(rs[i].kind, "canceled");
        MH_T_ASSERT_EQ(rs[i].status, 0);
        result_cleanup(&rs[i]);
    }
    MH_T_ASSERT_EQ(rs[5].calls, 0);
    MH_T_ASSERT_EQ(srv_hits(&s), 2);
    srv_stop(&s);
}

MH_TEST(destroy_cancels_in_flight_requests_once)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    enum { N = 10 };
    struct result rs[N] = {{0}};
    for (int i = 0; i < N; i++)
        submit_async(o, "POST", url_of(&s, "/hold"), &rs[i]);
    WAIT_UNTIL(srv_held(&s) == N);
    MH_T_ASSERT_EQ(mh_outbound_in_flight(o), N);
    mh_outbound_destroy(o);
    MH_T_ASSERT_EQ(done_so_far(), N);
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_EQ(rs[i].calls, 1);
        MH_T_ASSERT_STR_EQ(rs[i].kind, "canceled");
        result_cleanup(&rs[i]);
    }
    /* The server sees the connections go away. */
    WAIT_UNTIL(srv_held(&s) == 0);
    srv_stop(&s);
}

/* A callback may submit; the chain below runs three requests from callbacks. */
struct chain {
    struct mh_outbound *o;
    const char *url;
    int left;
    int statuses[4];
    int n;
};

static void on_chain(void *ctx, const struct mh_outbound_response *resp)
{
    struct chain *c = ctx;
    c->statuses[c->n++] = resp->status;
    if (--c->left > 0) {
        struct mh_outbound_request req = {.method = "GET", .url = c->url};
        if (mh_outbound_submit(c->o, &req, on_chain, c) != MH_OK)
            c->left = -100;
    }
    pthread_mutex_lock(&done_lock);
    done_count++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

MH_TEST(callbacks_may_submit)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(NULL);
    struct chain c = {.o = o, .url = url_of(&s, "/json"), .left = 3};
    struct mh_outbound_request req = {.method = "GET", .url = c.url};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_chain, &c), MH_OK);
    MH_T_ASSERT(wait_done(3));
    MH_T_ASSERT_EQ(c.left, 0);
    MH_T_ASSERT_EQ(c.n, 3);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(c.statuses[i], 200);
    MH_T_ASSERT_EQ(srv_hits(&s), 3);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

/* ---- Circuit breaker ---------------------------------------------------------------------- */

static void breaker_3_long(struct mh_outbound_opts *opts)
{
    opts->breaker_failures = 3;
    opts->breaker_open_ms = 60000;
}

MH_TEST(breaker_opens_after_consecutive_failures)
{
    struct srv s, other;
    srv_start(&s);
    srv_start(&other);
    struct mh_outbound *o = make_outbound(breaker_3_long);
    struct result r = {0};

    /* A success in between resets the count; 4xx (429 too) is the host working. */
    const char *paths[] = {"/500", "/500", "/json", "/500", "/500", "/404", "/429"};
    for (size_t i = 0; i < MH_ARRAY_LEN(paths); i++) {
        call(o, "GET", url_of(&s, paths[i]), NULL, NULL, 0, 5000, &r);
        MH_T_ASSERT(r.status > 0);
        result_cleanup(&r);
        MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "closed");
    }
    for (int i = 0; i < 3; i++) {
        MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "closed");
        call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
        MH_T_ASSERT_EQ(r.status, 500);
        result_cleanup(&r);
    }
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "open");
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, url_of(&s, "/any/path?x=1")), "open");

    int hits = srv_hits(&s);
    int64_t before = now_real_ms();
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    MH_T_ASSERT_EQ(r.status, 0);
    MH_T_ASSERT_EQ(r.duration_ms, 0);
    MH_T_ASSERT(r.retry_at_ms > before + 50000 && r.retry_at_ms <= now_real_ms() + 60000);
    result_cleanup(&r);
    MH_T_ASSERT_EQ(srv_hits(&s), hits);

    /* Another origin (another port on the same host) has its own breaker. */
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, other.base), "closed");
    call(o, "GET", url_of(&other, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);

    mh_outbound_destroy(o);
    srv_stop(&other);
    srv_stop(&s);
}

static void breaker_2_short(struct mh_outbound_opts *opts)
{
    opts->breaker_failures = 2;
    opts->breaker_open_ms = 200;
}

MH_TEST(breaker_half_open_lets_one_probe_through)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_2_short);
    struct result r = {0};
    for (int i = 0; i < 2; i++) {
        call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
        result_cleanup(&r);
    }
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "open");
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    result_cleanup(&r);

    WAIT_UNTIL(strcmp(mh_outbound_breaker_state(o, NULL, s.base), "half_open") == 0);
    int hits = srv_hits(&s);
    int before = done_so_far();
    enum { N = 5 };
    struct result rs[N] = {{0}};
    for (int i = 0; i < N; i++)
        submit_async(o, "GET", url_of(&s, "/slow/200"), &rs[i]);
    MH_T_ASSERT(wait_done(before + N));
    int ok = 0, refused = 0;
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_EQ(rs[i].calls, 1);
        if (rs[i].status == 200)
            ok++;
        if (strcmp(rs[i].kind, "circuit_open") == 0) {
            refused++;
            MH_T_ASSERT(rs[i].retry_at_ms > 0);
        }
        result_cleanup(&rs[i]);
    }
    MH_T_ASSERT_EQ(ok, 1);
    MH_T_ASSERT_EQ(refused, N - 1);
    MH_T_ASSERT_EQ(srv_hits(&s), hits + 1);
    /* The probe succeeded: closed, and traffic flows again. */
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "closed");
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

/* What the breaker listener heard: "open <tenant> <origin> <failures>" / "closed ..." lines. */
static struct {
    pthread_mutex_t mu;
    char log[1024];
    int n;
} heard = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_breaker(void *ctx, const char *tenant, const char *origin, bool is_open,
                       int failures)
{
    (void)ctx;
    pthread_mutex_lock(&heard.mu);
    size_t len = strlen(heard.log);
    snprintf(heard.log + len, sizeof(heard.log) - len, "%s [%s] %s %d\n",
             is_open ? "open" : "closed", tenant, origin, failures);
    heard.n++;
    pthread_mutex_unlock(&heard.mu);
}

static void breaker_2_short_heard(struct mh_outbound_opts *opts)
{
    breaker_2_short(opts);
    opts->on_breaker = on_breaker;
}

/* The listener hears each opening and each closing once: not the refusals, not the failed
 * probe that keeps the breaker open. A refusal names the origin it is about. */
MH_TEST(breaker_transitions_are_told_once)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_2_short_heard);
    struct result r = {0};
    for (int i = 0; i < 2; i++) {
        call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
        result_cleanup(&r);
    }
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    result_cleanup(&r);
    char want[512];
    snprintf(want, sizeof(want), "open [] %s 2\n", s.base);
    pthread_mutex_lock(&heard.mu);
    MH_T_ASSERT_STR_EQ(heard.log, want);
    pthread_mutex_unlock(&heard.mu);
    WAIT_UNTIL(strcmp(mh_outbound_breaker_state(o, NULL, s.base), "half_open") == 0);
    call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r); /* the probe fails */
    result_cleanup(&r);
    WAIT_UNTIL(strcmp(mh_outbound_breaker_state(o, NULL, s.base), "half_open") == 0);
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r); /* this one succeeds */
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    size_t wl = strlen(want);
    snprintf(want + wl, sizeof(want) - wl, "closed [] %s 0\n", s.base);
    pthread_mutex_lock(&heard.mu);
    MH_T_ASSERT_STR_EQ(heard.log, want);
    MH_T_ASSERT_EQ(heard.n, 2);
    pthread_mutex_unlock(&heard.mu);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

/* A request whose origin holds a secret: its origin never leaves the executor. */
static void call_secret_origin(struct mh_outbound *o, const char *url, struct result *r)
{
    struct mh_outbound_request req = {.method = "GET", .url = url, .is_origin_secret = true};
    int before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
}

MH_TEST(breaker_hides_an_origin_named_by_a_secret)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_2_short_heard);
    struct result r = {0};
    for (int i = 0; i < 2; i++) {
        call_secret_origin(o, url_of(&s, "/500"), &r);
        MH_T_ASSERT_EQ(r.status, 500);
        MH_T_ASSERT_STR_EQ(r.origin, MH_OUTBOUND_HIDDEN_ORIGIN);
        result_cleanup(&r);
    }
    call_secret_origin(o, url_of(&s, "/json"), &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    MH_T_ASSERT_STR_EQ(r.origin, MH_OUTBOUND_HIDDEN_ORIGIN);
    MH_T_ASSERT(strstr(r.message, s.base) == NULL);
    MH_T_ASSERT(strstr(r.message, MH_OUTBOUND_HIDDEN_ORIGIN) != NULL);
    result_cleanup(&r);
    pthread_mutex_lock(&heard.mu);
    MH_T_ASSERT_STR_EQ(heard.log, "open [] " MH_OUTBOUND_HIDDEN_ORIGIN " 2\n");
    pthread_mutex_unlock(&heard.mu);
    /* The same origin without the flag is shown. */
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.origin, s.base);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(breaker_failed_probe_reopens)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_2_short);
    struct result r = {0};
    for (int i = 0; i < 2; i++) {
        call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
        result_cleanup(&r);
    }
    WAIT_UNTIL(strcmp(mh_outbound_breaker_state(o, NULL, s.base), "half_open") == 0);
    int hits = srv_hits(&s);
    call(o, "GET", url_of(&s, "/500"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_EQ(r.status, 500);
    result_cleanup(&r);
    MH_T_ASSERT_EQ(srv_hits(&s), hits + 1);
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "open");
    call(o, "GET", url_of(&s, "/json"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    result_cleanup(&r);
    MH_T_ASSERT_EQ(srv_hits(&s), hits + 1);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

static void breaker_2_short_impatient(struct mh_outbound_opts *opts)
{
    breaker_2_short(opts);
    opts->breaker_min_timeout_ms = 100;
}

MH_TEST(breaker_counts_timeouts_and_connection_errors)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_2_short_impatient);
    struct result r = {0};
    call(o, "GET", url_of(&s, "/slow/3000"), NULL, NULL, 0, 100, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "timeout");
    result_cleanup(&r);
    call(o, "GET", url_of(&s, "/close"), NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "connection");
    result_cleanup(&r);
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "open");

    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", dead_port());
    for (int i = 0; i < 2; i++) {
        call(o, "GET", url, NULL, NULL, 0, 5000, &r);
        MH_T_ASSERT_STR_EQ(r.kind, "connection");
        result_cleanup(&r);
    }
    call(o, "GET", url, NULL, NULL, 0, 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

/* Submits a request of `tenant` and waits for its callback. */
static void call_as(struct mh_outbound *o, const char *tenant, const char *url, long timeout_ms,
                    struct result *r)
{
    struct mh_outbound_request req = {
        .method = "GET", .url = url, .timeout_ms = timeout_ms, .tenant = tenant};
    int before = done_so_far();
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, r), MH_OK);
    MH_T_ASSERT(wait_done(before + 1));
}

/* Issue #18: five calls of project A with timeout_ms 1 to a slow origin opened the one breaker
 * of that origin, and project B's call stayed parked. */
MH_TEST(breakers_are_per_tenant)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_3_long);
    struct result r = {0};
    for (int i = 0; i < 3; i++) {
        call_as(o, "project-a", url_of(&s, "/500"), 5000, &r);
        MH_T_ASSERT_EQ(r.status, 500);
        result_cleanup(&r);
    }
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, "project-a", s.base), "open");
    call_as(o, "project-a", url_of(&s, "/json"), 5000, &r);
    MH_T_ASSERT_STR_EQ(r.kind, "circuit_open");
    result_cleanup(&r);
    /* Another tenant, and the unnamed one, are not parked by A's failures. */
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, "project-b", s.base), "closed");
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, NULL, s.base), "closed");
    call_as(o, "project-b", url_of(&s, "/json"), 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    call_as(o, NULL, url_of(&s, "/json"), 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    char longname[MH_OUTBOUND_TENANT_MAX + 2];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    struct mh_outbound_request req = {.method = "GET", .url = s.base, .tenant = longname};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &r), MH_EINVAL);
    MH_T_ASSERT(mh_outbound_breaker_state(o, longname, s.base) == NULL);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

MH_TEST(timeouts_below_the_minimum_do_not_open_breakers)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(breaker_3_long);
    struct result r = {0};
    for (int i = 0; i < 5; i++) {
        call_as(o, "project-a", url_of(&s, "/slow/3000"), 1, &r);
        MH_T_ASSERT_STR_EQ(r.kind, "timeout");
        result_cleanup(&r);
    }
    MH_T_ASSERT_STR_EQ(mh_outbound_breaker_state(o, "project-a", s.base), "closed");
    call_as(o, "project-a", url_of(&s, "/json"), 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    mh_outbound_destroy(o);
    srv_stop(&s);
}

static void four_slots_two_each(struct mh_outbound_opts *opts)
{
    opts->max_in_flight = 4;
    opts->max_in_flight_per_tenant = 2;
}

/* One tenant's slow fan-out takes its share of the slots, not all of them. */
MH_TEST(tenants_share_the_slots)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(four_slots_two_each);
    enum { N = 6 };
    struct result held[N] = {{0}};
    for (int i = 0; i < N; i++) {
        struct mh_outbound_request req = {
            .method = "GET", .url = url_of(&s, "/hold"), .tenant = "project-a"};
        MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &held[i]), MH_OK);
    }
    WAIT_UNTIL(srv_held(&s) == 2);
    sleep_ms(50);
    MH_T_ASSERT_EQ(srv_held(&s), 2);
    MH_T_ASSERT_EQ(mh_outbound_in_flight(o), 2);
    /* B is served at once, twice over, while A's other four wait. */
    struct result r = {0};
    call_as(o, "project-b", url_of(&s, "/json"), 5000, &r);
    MH_T_ASSERT_EQ(r.status, 200);
    result_cleanup(&r);
    struct result b[2] = {{0}};
    for (int i = 0; i < 2; i++) {
        struct mh_outbound_request req = {
            .method = "GET", .url = url_of(&s, "/hold"), .tenant = "project-b"};
        MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &b[i]), MH_OK);
    }
    WAIT_UNTIL(srv_held(&s) == 4);
    MH_T_ASSERT_EQ(done_so_far(), 1);
    mh_outbound_destroy(o);
    MH_T_ASSERT_EQ(done_so_far(), 1 + N + 2);
    for (int i = 0; i < N; i++) {
        MH_T_ASSERT_STR_EQ(held[i].kind, "canceled");
        result_cleanup(&held[i]);
    }
    for (int i = 0; i < 2; i++) {
        MH_T_ASSERT_STR_EQ(b[i].kind, "canceled");
        result_cleanup(&b[i]);
    }
    srv_stop(&s);
}

static void small_queue(struct mh_outbound_opts *opts)
{
    opts->max_in_flight = 2;
    opts->max_in_flight_per_tenant = 1;
    opts->max_queued = 4;
    opts->max_queued_per_tenant = 1;
}

/* Nor does one tenant's backlog fill the queue: its share of it refuses, others' is intact. */
MH_TEST(tenants_share_the_queue)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(small_queue);
    struct result rs[5] = {{0}};
    struct mh_outbound_request req = {.method = "GET", .url = url_of(&s, "/hold"), .tenant = "a"};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[0]), MH_OK);
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[1]), MH_OK);
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[2]), MH_ELIMIT);
    req.tenant = "b";
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[2]), MH_OK);
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[3]), MH_OK);
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_done, &rs[4]), MH_ELIMIT);
    WAIT_UNTIL(srv_held(&s) == 2);
    mh_outbound_destroy(o);
    MH_T_ASSERT_EQ(done_so_far(), 4);
    for (int i = 0; i < 4; i++) {
        MH_T_ASSERT_STR_EQ(rs[i].kind, "canceled");
        result_cleanup(&rs[i]);
    }
    MH_T_ASSERT_EQ(rs[4].calls, 0);

    /* A completed request frees its tenant's place. */
    o = make_outbound(small_queue);
    struct result r = {0};
    req.url = url_of(&s, "/json");
    req.tenant = "a";
    for (int i = 0; i < 3; i++) {
        call_as(o, "a", url_of(&s, "/json"), 5000, &r);
        MH_T_ASSERT_EQ(r.status, 200);
        result_cleanup(&r);
    }
    mh_outbound_destroy(o);
    srv_stop(&s);
}

static void one_slot(struct mh_outbound_opts *opts)
{
    opts->max_in_flight = 1;
}

/* The order callbacks ran in, by tag. */
struct order {
    pthread_mutex_t lock;
    char seen[16];
    int n;
};

struct tagged {
    struct order *ord;
    char tag;
};

static void on_tagged(void *ctx, const struct mh_outbound_response *resp)
{
    struct tagged *t = ctx;
    (void)resp;
    pthread_mutex_lock(&t->ord->lock);
    t->ord->seen[t->ord->n++] = t->tag;
    pthread_mutex_unlock(&t->ord->lock);
    pthread_mutex_lock(&done_lock);
    done_count++;
    pthread_cond_broadcast(&done_cond);
    pthread_mutex_unlock(&done_lock);
}

/* Waiting tenants are served in turn, each in its own submission order. */
MH_TEST(waiting_tenants_are_served_in_turn)
{
    struct srv s;
    srv_start(&s);
    struct mh_outbound *o = make_outbound(one_slot);
    struct order ord = {.lock = PTHREAD_MUTEX_INITIALIZER};
    /* The first request holds the only slot until the others are all queued. */
    struct tagged first = {&ord, '0'};
    struct mh_outbound_request req = {
        .method = "GET", .url = url_of(&s, "/slow/300"), .tenant = "z"};
    MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_tagged, &first), MH_OK);
    WAIT_UNTIL(mh_outbound_in_flight(o) == 1);
    struct tagged as[3] = {{&ord, 'a'}, {&ord, 'b'}, {&ord, 'c'}};
    struct tagged bs[3] = {{&ord, 'A'}, {&ord, 'B'}, {&ord, 'C'}};
    req.url = url_of(&s, "/json");
    req.tenant = "tenant-a";
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_tagged, &as[i]), MH_OK);
    req.tenant = "tenant-b";
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(mh_outbound_submit(o, &req, on_tagged, &bs[i]), MH_OK);
    MH_T_ASSERT(wait_done(7));
    MH_T_ASSERT_EQ(ord.n, 7);
    ord.seen[ord.n] = '\0';
    MH_T_ASSERT_STR_EQ(ord.seen, "0aAbBcC");
    mh_outbound_destroy(o);
    srv_stop(&s);
}
