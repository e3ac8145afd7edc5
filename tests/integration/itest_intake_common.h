/* SPDX-License-Identifier: MIT */
/*
 * Shared by the webhook intake's integration tests (itest_intake*.c): a server with a KEK, a
 * user, a project and a published workflow; endpoint creation through the API; raw requests to
 * /hooks/<id>; and signatures computed by the `openssl` command line, never by MeshHook's own
 * signing code. Static functions, so each test binary takes what it uses.
 */
#ifndef MH_TESTS_ITEST_INTAKE_COMMON_H
#define MH_TESTS_ITEST_INTAKE_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "itest.h"

#define IT_KEK "it1:000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

struct ienv {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
    char workflow[40];
    char tmp[64];
};

__attribute__((unused)) static json_t *iapi(struct ienv *e, const char *method, const char *path,
                                            const char *body, long *st)
{
    return mh_it_api(&e->s, e->bearer, method, path, body, st);
}

/* Creates workflow `name` of `definition` (JSON text) in e->project and publishes it; its id in
 * `id` (40 bytes). */
__attribute__((unused)) static void ienv_publish(struct ienv *e, const char *name,
                                                 const char *definition, char *id)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    json_t *body =
        json_pack("{s:s, s:o}", "name", name, "definition", json_loads(definition, 0, NULL));
    MH_T_ASSERT(body != NULL);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *w = iapi(e, "POST", path, text, &st);
    free(text);
    if (st != 201)
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld", st);
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_t *v = iapi(e, "POST", path, NULL, &st);
    if (st != 200 && st != 201)
        mh_t_fail(__FILE__, __LINE__, "publish: %ld", st);
    json_decref(v);
}

/* Creates a workflow with one transform node (output = the trigger's body) and publishes it. */
__attribute__((unused)) static void ienv_workflow(struct ienv *e, char *id)
{
    ienv_publish(e, "intake",
                 "{\"nodes\": [{\"id\": \"echo\", \"type\": \"transform\", \"config\": "
                 "{\"expression\": \"trigger.body\"}}], \"edges\": []}",
                 id);
}

/* Starts a run of workflow `wf` through the API with an empty payload; expects 202. */
__attribute__((unused)) static void ienv_start_run(struct ienv *e, const char *wf)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e->project, wf);
    json_decref(iapi(e, "POST", path, "{\"payload\": {}}", &st));
    MH_T_ASSERT_EQ(st, 202);
}

/* A fresh database and server (with a KEK and the given extra flags), a user with a token, a
 * project and a published workflow. */
__attribute__((unused)) static void ienv_setup(struct ienv *e, const char *const *extra)
{
    const char *args[24] = {"--kek", IT_KEK};
    int n = 2;
    for (int i = 0; extra && extra[i] && n < 23; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    mh_it_db_create(&e->db, true);
    mh_it_server_start(&e->s, &e->db, args);
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->bearer, e->user);
    mh_it_project(&e->s, e->bearer, "intake", e->project);
    ienv_workflow(e, e->workflow);
    snprintf(e->tmp, sizeof(e->tmp), "/tmp/mh-it-intake.XXXXXX");
    MH_T_ASSERT(mkdtemp(e->tmp) != NULL);
}

__attribute__((unused)) static void ienv_stop(struct ienv *e)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->tmp);
    FILE *p = popen(cmd, "r");
    if (p)
        pclose(p);
    MH_T_ASSERT_EQ(mh_it_server_stop(&e->s, SIGTERM), 0);
}

/* POST .../workflows/:wid/endpoints with `body` (a JSON text); expects 201; returns the
 * response (new reference) holding "id", "public_id" and, with a key, "key"."secret". */
__attribute__((unused)) static json_t *ienv_endpoint(struct ienv *e, const char *body)
{
    char path[256];
    long st;
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/endpoints", e->project,
             e->workflow);
    json_t *r = iapi(e, "POST", path, body, &st);
    if (st != 201) {
        char *dump = r ? json_dumps(r, JSON_COMPACT) : NULL;
        mh_t_fail(__FILE__, __LINE__, "create endpoint: %ld %s", st, dump ? dump : "");
    }
    return r;
}

__attribute__((unused)) static const char *jstr(json_t *o, const char *path)
{
    /* "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *tok = buf, *dot; tok && cur; tok = dot ? dot + 1 : NULL) {
        dot = strchr(tok, '.');
        if (dot)
            *dot = '\0';
        cur = json_object_get(cur, tok);
    }
    return json_string_value(cur);
}

/* Sends a raw request to /hooks/<public_id>; `headers` is a NULL-terminated list. */
__attribute__((unused)) static long hook(struct ienv *e, const char *public_id, const char *method,
                                         const char *const *headers, const char *body, size_t len,
                                         struct mh_it_resp *resp)
{
    char url[4096];
    snprintf(url, sizeof(url), "%s/hooks/%s", e->s.base, public_id);
    mh_it_http(method, url, headers, body, len, resp);
    return resp->status;
}

/* The same, discarding the response body; returns the status. */
__attribute__((unused)) static long hook_status(struct ienv *e, const char *public_id,
                                                const char *const *headers, const char *body)
{
    struct mh_it_resp r;
    long st = hook(e, public_id, "POST", headers, body, body ? strlen(body) : 0, &r);
    mh_it_resp_cleanup(&r);
    return st;
}

/* ---- openssl ------------------------------------------------------------------------------ */

/* Runs a shell command; returns its first output line, without the newline, in `out`. */
__attribute__((unused, format(printf, 3, 4))) static void sh_line(char *out, size_t cap,
                                                                  const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    if (fgets(out, (int)cap, p) == NULL)
        out[0] = '\0';
    int st = pclose(p);
    if (st != 0)
        mh_t_fail(__FILE__, __LINE__, "command failed (%d): %s", st, cmd);
    out[strcspn(out, "\r\n")] = '\0';
}

/* Writes `len` bytes to <tmp>/<name>; `path` receives the path. */
__attribute__((unused)) static void tmp_file(struct ienv *e, const char *name, const void *data,
                                             size_t len, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", e->tmp, name);
    FILE *f = fopen(path, "wb");
    MH_T_ASSERT(f != NULL);
    MH_T_ASSERT_EQ(fwrite(data, 1, len, f), len);
    MH_T_ASSERT_EQ(fclose(f), 0);
}

/* HMAC of `data` under the text key `key` by `openssl dgst`, as lowercase hex (`md` sha256 or
 * sha512) or, with `b64`, as standard base64. */
__attribute__((unused)) static void openssl_hmac(struct ienv *e, const char *md, const char *key,
                                                 const void *data, size_t len, bool b64, char *out,
                                                 size_t cap)
{
    char path[256];
    tmp_file(e, "hmac-input", data, len, path, sizeof(path));
    if (b64)
        sh_line(out, cap, "openssl dgst -%s -hmac '%s' -binary '%s' | openssl base64 -A", md, key,
                path);
    else
        sh_line(out, cap, "openssl dgst -%s -hmac '%s' -r '%s' | cut -d' ' -f1", md, key, path);
}

/* HMAC-SHA256 under a binary key given in hex, base64-encoded (Standard Webhooks). */
__attribute__((unused)) static void openssl_hmac_hexkey_b64(struct ienv *e, const char *hexkey,
                                                            const void *data, size_t len, char *out,
                                                            size_t cap)
{
    char path[256];
    tmp_file(e, "hmac-input", data, len, path, sizeof(path));
    sh_line(out, cap,
            "openssl dgst -sha256 -mac HMAC -macopt hexkey:%s -binary '%s' | openssl base64 -A",
            hexkey, path);
}

/* Counts rows of `sql` (a SELECT count(*) AS n ...) as the schema owner. */
__attribute__((unused)) static long sql_count(struct ienv *e, const char *sql, int n,
                                              const char *const *params)
{
    json_t *rows = mh_it_sql(e->db.admin_url, sql, n, params, NULL);
    MH_T_ASSERT(rows != NULL);
    long v = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return v;
}

/* ---- raw connections ---------------------------------------------------------------------- */

/* A TCP connection to the server. */
/* Polls `sql` (a count, as sql_count) every 25 ms, up to 10 s, until it reaches `want`; returns
 * the last count. */
__attribute__((unused)) static long wait_for_count(struct ienv *e, const char *sql, int n,
                                                   const char *const *params, long want)
{
    long got = 0;
    for (int i = 0; i < 400; i++) {
        got = sql_count(e, sql, n, params);
        if (got >= want)
            break;
        mh_it_sleep_ms(25);
    }
    return got;
}

/* Counts the backends waiting for a lock on the table named by the query's parameter. */
static const char *const lock_waiters_sql __attribute__((unused)) =
    "SELECT count(*) AS n FROM pg_locks WHERE relation = $1::regclass AND NOT granted";

__attribute__((unused)) static int dial(struct ienv *e)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)e->s.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    MH_T_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    return fd;
}

/* Writes all of `data` unless the peer closes; returns the bytes written. */
__attribute__((unused)) static size_t write_all(int fd, const void *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = send(fd, (const char *)data + done, len - done, MSG_NOSIGNAL);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    return done;
}

/* Reads what the server answers within `ms` (until it closes); returns the status code, 0 when
 * the connection closed without a response. */
__attribute__((unused)) static int read_status(int fd, int ms)
{
    char buf[4096];
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < sizeof(buf) - 1 && poll(&p, 1, ms) > 0) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memmem(buf, got, "\r\n\r\n", 4))
            break;
    }
    buf[got] = '\0';
    int status = 0;
    if (strncmp(buf, "HTTP/1.", 7) == 0)
        status = (int)strtol(buf + 9, NULL, 10);
    return status;
}

__attribute__((unused)) static bool contains(const char *hay, const char *needle)
{
    return hay && needle && strstr(hay, needle) != NULL;
}

/* Polls the run until it is finished; returns it (new reference). */
__attribute__((unused)) static json_t *wait_run(struct ienv *e, const char *run_id)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run_id);
    for (int i = 0; i < 300; i++) {
        long code = 0;
        json_t *r = iapi(e, "GET", path, NULL, &code);
        if (code != 200)
            mh_t_fail(__FILE__, __LINE__, "GET %s: %ld", path, code);
        const char *st = jstr(r, "status");
        if (st && (strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0))
            return r;
        json_decref(r);
        mh_it_sleep_ms(50);
    }
    mh_t_fail(__FILE__, __LINE__, "run %s did not finish", run_id);
}

/* ---- requests and transactions held open ------------------------------------------------- */

/* A connection of its own, as the schema owner, for a transaction the test holds open. */
__attribute__((unused)) static struct mh_db_conn *owner_conn(struct ienv *e)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_connect(e->db.admin_url, &c, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "connect: %s", info.message);
    return c;
}

__attribute__((unused)) static void owner_exec(struct mh_db_conn *c, const char *sql, int n,
                                               const char *const *params, json_t **rows)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_query(c, sql, n, params, rows, NULL, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "%s: %s", sql, info.message);
}

/* Starts, in a child process, a request whose status the parent collects with finish(). */
struct pending {
    pid_t pid;
    int fd;
};

__attribute__((unused)) static struct pending start_request(struct ienv *e, const char *method,
                                                            const char *url, const char *body)
{
    int p[2];
    MH_T_ASSERT(pipe(p) == 0);
    struct pending r = {.fd = p[0]};
    r.pid = fork();
    MH_T_ASSERT(r.pid >= 0);
    if (r.pid == 0) {
        close(p[0]);
        char auth[160];
        snprintf(auth, sizeof(auth), "%s", e->bearer);
        const char *h[] = {"Content-Type: application/json", auth, NULL};
        struct mh_it_resp resp;
        mh_it_http(method, url, h, body, strlen(body), &resp);
        long st = resp.status;
        mh_it_resp_cleanup(&resp);
        ssize_t w = write(p[1], &st, sizeof(st));
        _exit(w == (ssize_t)sizeof(st) ? 0 : 1);
    }
    close(p[1]);
    return r;
}

__attribute__((unused)) static long finish(struct pending *r)
{
    long st = -1;
    ssize_t got = read(r->fd, &st, sizeof(st));
    close(r->fd);
    int status;
    waitpid(r->pid, &status, 0);
    MH_T_ASSERT_EQ(got, (ssize_t)sizeof(st));
    return st;
}

#endif
