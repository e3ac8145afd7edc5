/* SPDX-License-Identifier: MIT */
/*
 * Live-stream benchmark (docs/BENCHMARKS.md, "Live streams"): starts `meshhook serve` on a fresh
 * database and measures, on one server,
 *   - memory per subscriber: VmRSS before and after SUBS run-stream subscribers attach (all on
 *     one long-running run, each having received its catch-up), divided by SUBS;
 *   - latency: with those SUBS attached, webhooks at RATE/s for SECONDS (each run appends 4
 *     events, so RATE 250 is 1,000 events/s) while FEEDS project-feed subscribers read; for each
 *     run's "succeeded" message, arrival time minus the run's finished_at (set in the
 *     transaction that commits it): p50 / p99 / max;
 *   - intake rate: 16 clients POSTing webhooks as fast as answered for SECONDS, without
 *     subscribers and with SUBS + FEEDS attached, alternately (A B A B): the ratio B/A.
 *
 *   bench_streams BIN ADMIN_URL APP_URL SUBS FEEDS RATE SECONDS
 */
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "sse_client.h"

#define TOKEN "mh_benchbenchbenchbenchbenchbenchbenchbench123"

static int port;
static char pub[64];
static char project[40];
static char auth[128];

static double now_s(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const struct mh_err_info *info)
{
    fprintf(stderr, "bench_streams: %s: %s\n", what, info ? info->message : "");
    exit(1);
}

static json_t *q(struct mh_db_conn *c, const char *sql, int n, const char *const *p)
{
    json_t *rows = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_query(c, sql, n, p, &rows, NULL, &info) != MH_OK)
        die(sql, &info);
    return rows;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static long run_load(int threads, double rate_total, double secs);

/* The server's CPU time so far (user + system), in clock ticks. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    /* Fields 14 and 15, counted after the command's closing parenthesis. */
    const char *p = strrchr(buf, ')');
    long v[2] = {0, 0};
    for (int field = 2, k = 0; p && *p && k < 2; p++)
        if (*p == ' ' && ++field >= 14 && field <= 15)
            v[k++] = strtol(p + 1, NULL, 10);
    return v[0] + v[1];
}

/* Runs the intake load and adds the server's CPU ticks it took to `*ticks`. */
static long timed_load(pid_t pid, long *ticks, double secs)
{
    long t0 = cpu_ticks(pid);
    long n = run_load(16, 0, secs);
    *ticks += cpu_ticks(pid) - t0;
    return n;
}

static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* POSTs one webhook on `h` (kept alive); returns the status. */
static long post(CURL *h)
{
    long st = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

static CURL *hook_handle(struct curl_slist **hdrs)
{
    CURL *h = curl_easy_init();
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/hooks/%s", port, pub);
    *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{\"order\": 1, \"amount\": 150}");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    return h;
}

struct load {
    double rate; /* per thread; 0: as fast as answered */
    double until;
    long ok;
};

static void *load_thread(void *arg)
{
    struct load *l = arg;
    struct curl_slist *hdrs = NULL;
    CURL *h = hook_handle(&hdrs);
    double next = now_s(CLOCK_MONOTONIC);
    while (now_s(CLOCK_MONOTONIC) < l->until) {
        if (l->rate > 0) {
            double wait = next - now_s(CLOCK_MONOTONIC);
            if (wait > 0)
                usleep((useconds_t)(wait * 1e6));
            next += 1.0 / l->rate;
        }
        l->ok += post(h) == 202;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hdrs);
    return NULL;
}

static long run_load(int threads, double rate_total, double secs)
{
    pthread_t t[64];
    struct load l[64];
    double until = now_s(CLOCK_MONOTONIC) + secs;
    for (int i = 0; i < threads; i++) {
        l[i] = (struct load){.rate = rate_total / threads, .until = until};
        pthread_create(&t[i], NULL, load_thread, &l[i]);
    }
    long ok = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(t[i], NULL);
        ok += l[i].ok;
    }
    return ok;
}

/* Feed readers: every "run" message with status succeeded gives a latency sample. */
struct feeds {
    struct mh_sse *c;
    int n;
    _Atomic bool stop;
    double *lat;
    size_t nlat, cap;
    long messages;
};

static double parse_ts(const char *s)
{
    struct tm tm = {0};
    double frac = 0;
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
        return 0;
    const char *p = s + 19;
    if (*p == '.')
        frac = strtod(p, NULL);
    return (double)timegm(&tm) + frac; /* the server writes UTC (+00:00) */
}

static void *feed_thread(void *arg)
{
    struct feeds *f = arg;
    struct pollfd pf[256];
    while (!atomic_load(&f->stop)) {
        for (int i = 0; i < f->n; i++)
            pf[i] = (struct pollfd){.fd = f->c[i].fd, .events = POLLIN};
        if (poll(pf, (nfds_t)f->n, 100) <= 0)
            continue;
        for (int i = 0; i < f->n; i++) {
            if (!(pf[i].revents & POLLIN))
                continue;
            struct mh_sse_msg m;
            /* What is already there, without waiting. */
            bool first = true;
            while (mh_sse_next(&f->c[i], first ? 50 : 0, &m)) {
                first = false;
                if (strcmp(m.event, "run") != 0)
                    continue;
                f->messages++;
                json_t *d = json_loads(m.data, 0, NULL);
                const char *st = json_string_value(json_object_get(d, "status"));
                if (st && strcmp(st, "succeeded") == 0) {
                    double at = parse_ts(json_string_value(json_object_get(d, "finished_at")));
                    if (f->nlat == f->cap) {
                        f->cap = f->cap ? 2 * f->cap : 1024;
                        f->lat = realloc(f->lat, f->cap * sizeof(double));
                    }
                    f->lat[f->nlat++] = now_s(CLOCK_REALTIME) - at;
                }
                json_decref(d);
            }
        }
    }
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: bench_streams BIN ADMIN_URL APP_URL SUBS FEEDS RATE SECONDS\n");
        return 2;
    }
    const char *bin = argv[1], *admin = argv[2], *app = argv[3];
    int subs = (int)strtol(argv[4], NULL, 10), nfeeds = (int)strtol(argv[5], NULL, 10);
    double rate = strtod(argv[6], NULL), secs = strtod(argv[7], NULL);
    if (nfeeds > 256)
        nfeeds = 256;
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_ALL);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_connect(admin, &c, &info) != MH_OK)
        die("connect", &info);
    const char *def = "{\"nodes\": [{\"id\": \"prep\", \"type\": \"transform\", \"config\": "
                      "{\"expression\": \"{order: trigger.body.order}\"}}], \"edges\": []}";
    const char *slow = "{\"nodes\": [{\"id\": \"wait\", \"type\": \"delay\", \"config\": "
                       "{\"duration_ms\": 3600000}}], \"edges\": []}";
    const char *p[] = {def, TOKEN, slow};
    json_t *ids =
        q(c,
          "WITH u AS (INSERT INTO users (email, password_hash) VALUES ('bench-' || "
          "gen_random_uuid() || '@example.com', 'x') RETURNING id), "
          "p AS (INSERT INTO projects (name, created_by) SELECT 'bench', id FROM u RETURNING id), "
          "m AS (INSERT INTO memberships (project_id, user_id, role) SELECT p.id, u.id, 'owner' "
          "FROM p, u ON CONFLICT DO NOTHING RETURNING 1), "
          "t AS (INSERT INTO api_tokens (user_id, name, token_hash, prefix) SELECT id, 'bench', "
          "sha256($2::bytea), 'mh_bench' FROM u RETURNING 1), "
          "w AS (INSERT INTO workflows (project_id, name) SELECT id, 'bench' FROM p RETURNING id, "
          "project_id), "
          "w2 AS (INSERT INTO workflows (project_id, name) SELECT id, 'slow' FROM p RETURNING id, "
          "project_id), "
          "v AS (INSERT INTO workflow_versions (project_id, workflow_id, version, state, "
          "definition) SELECT project_id, id, 1, 'published', $1::jsonb FROM w RETURNING "
          "workflow_id, project_id), "
          "v2 AS (INSERT INTO workflow_versions (project_id, workflow_id, version, state, "
          "definition) SELECT project_id, id, 1, 'published', $3::jsonb FROM w2 RETURNING "
          "workflow_id), "
          "e AS (INSERT INTO webhook_endpoints (project_id, workflow_id, public_id, rate_capacity, "
          "rate_per_second) SELECT project_id, workflow_id, 'bench' || md5(random()::text), "
          "1000000, 1000000 FROM v RETURNING public_id, project_id) "
          "SELECT e.public_id, e.project_id, (SELECT workflow_id FROM v2) AS slow, (SELECT "
          "count(*) FROM m) + (SELECT count(*) FROM t) AS n FROM e",
          3, p);
    json_t *row = json_array_get(ids, 0);
    snprintf(pub, sizeof(pub), "%s", json_string_value(json_object_get(row, "public_id")));
    snprintf(project, sizeof(project), "%s", json_string_value(json_object_get(row, "project_id")));
    char slow_wf[40];
    snprintf(slow_wf, sizeof(slow_wf), "%s", json_string_value(json_object_get(row, "slow")));
    json_decref(ids);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", TOKEN);

    port = free_port();
    pid_t pid = fork();
    if (pid == 0) {
        char ps[16];
        snprintf(ps, sizeof(ps), "%d", port);
        setenv("MESHHOOK_DATABASE_URL", app, 1);
        setenv("MESHHOOK_ADMIN_DATABASE_URL", admin, 1);
        setenv("MESHHOOK_LOG_LEVEL", "warn", 1);
        execl(bin, bin, "serve", "--port", ps, "--bind-address", "127.0.0.1", "--workers", "2",
              "--max-connections-per-ip", "0", "--stream-max-per-user", "1000000",
              "--stream-max-subscribers", "1000000", (char *)NULL);
        _exit(127);
    }
    /* Ready, and a long-running run to subscribe to (through the API, as a client would). */
    char url[512], run[40] = "";
    for (int i = 0; i < 200 && !run[0]; i++) {
        usleep(100 * 1000);
        CURL *h = curl_easy_init();
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/projects/%s/workflows/%s/runs", port,
                 project, slow_wf);
        struct curl_slist *hd = curl_slist_append(NULL, auth);
        hd = curl_slist_append(hd, "Content-Type: application/json");
        char *body = NULL;
        size_t blen = 0;
        FILE *out = open_memstream(&body, &blen);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "{}");
        curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
        long st = 0;
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &st);
        fclose(out);
        json_t *r = st == 202 ? json_loads(body, 0, NULL) : NULL;
        if (r)
            snprintf(run, sizeof(run), "%s", json_string_value(json_object_get(r, "run_id")));
        json_decref(r);
        free(body);
        curl_slist_free_all(hd);
        curl_easy_cleanup(h);
    }
    if (!run[0])
        die("the server did not start a run", NULL);
    usleep(500 * 1000);

    /* Phase A first (nothing attached), then subscribers. */
    long ta = 0, tb = 0;
    long a1 = timed_load(pid, &ta, secs);
    long rss0 = rss_kib(pid);
    struct mh_sse *sc = calloc((size_t)subs, sizeof(*sc));
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/stream", project, run);
    for (int i = 0; i < subs; i++) {
        if (mh_sse_open(&sc[i], port, path, auth, NULL) != 200)
            die("subscribe", NULL);
        struct mh_sse_msg m;
        do
            if (!mh_sse_next(&sc[i], 10000, &m))
                die("catch-up", NULL);
        while (strcmp(m.event, "run_event") != 0);
    }
    usleep(500 * 1000);
    long rss1 = rss_kib(pid);
    printf("subscribers=%d rss_before_kib=%ld rss_after_kib=%ld per_subscriber_kib=%.1f\n", subs,
           rss0, rss1, (double)(rss1 - rss0) / subs);

    struct feeds f = {.c = calloc((size_t)nfeeds, sizeof(struct mh_sse)), .n = nfeeds};
    snprintf(path, sizeof(path), "/api/projects/%s/stream", project);
    for (int i = 0; i < nfeeds; i++)
        if (mh_sse_open(&f.c[i], port, path, auth, NULL) != 200)
            die("feed", NULL);
    pthread_t ft;
    pthread_create(&ft, NULL, feed_thread, &f);

    long sent = run_load(4, rate, secs);
    usleep(2000 * 1000);
    size_t nlat = f.nlat;
    qsort(f.lat, nlat, sizeof(double), cmp_d);
    printf("paced webhooks=%ld (%.0f/s, about %.0f events/s) feeds=%d samples=%zu "
           "latency_ms p50=%.1f p99=%.1f max=%.1f\n",
           sent, sent / secs, 4 * sent / secs, nfeeds, nlat, nlat ? 1000 * f.lat[nlat / 2] : 0.0,
           nlat ? 1000 * f.lat[nlat * 99 / 100] : 0.0, nlat ? 1000 * f.lat[nlat - 1] : 0.0);

    long b1 = timed_load(pid, &tb, secs);
    atomic_store(&f.stop, true);
    pthread_join(ft, NULL);
    for (int i = 0; i < nfeeds; i++)
        mh_sse_close(&f.c[i]);
    for (int i = 0; i < subs; i++)
        mh_sse_close(&sc[i]);
    usleep(1000 * 1000);
    long a2 = timed_load(pid, &ta, secs);
    /* B again: subscribers back, the feeds too (read by their thread, as in the first B). */
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s/stream", project, run);
    for (int i = 0; i < subs; i++)
        if (mh_sse_open(&sc[i], port, path, auth, NULL) != 200)
            die("subscribe", NULL);
    snprintf(path, sizeof(path), "/api/projects/%s/stream", project);
    for (int i = 0; i < nfeeds; i++)
        if (mh_sse_open(&f.c[i], port, path, auth, NULL) != 200)
            die("feed", NULL);
    atomic_store(&f.stop, false);
    pthread_create(&ft, NULL, feed_thread, &f);
    usleep(1000 * 1000);
    long b2 = timed_load(pid, &tb, secs);
    atomic_store(&f.stop, true);
    pthread_join(ft, NULL);
    for (int i = 0; i < nfeeds; i++)
        mh_sse_close(&f.c[i]);
    for (int i = 0; i < subs; i++)
        mh_sse_close(&sc[i]);
    printf("intake 202/s: alone %.0f, %.0f; with %d + %d subscribers %.0f, %.0f; ratio %.2f\n",
           a1 / secs, a2 / secs, subs, nfeeds, b1 / secs, b2 / secs,
           (double)(b1 + b2) / (double)(a1 + a2));
    double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
    printf("server CPU per webhook: alone %.0f us, with subscribers %.0f us\n",
           a1 + a2 ? (double)ta * tick_us / (double)(a1 + a2) : 0.0,
           b1 + b2 ? (double)tb * tick_us / (double)(b1 + b2) : 0.0);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(f.lat);
    free(f.c);
    free(sc);
    mh_db_close(c);
    curl_global_cleanup();
    return 0;
}
