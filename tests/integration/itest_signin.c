/* SPDX-License-Identifier: MIT */
/*
 * Sign-in hardening (issue #18) against the real server: e-mail addresses longer in bytes than
 * in characters, over-long passwords, the growing delay after failed logins (per account and
 * address, the address taken from X-Forwarded-For only behind a trusted proxy), hashing without
 * a database connection held, the bounded handler queue, per-address connection limits and
 * minimum transfer rates, and `--help` on every subcommand. Each case failed on the code before
 * its fix.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/password.h"
#include "db/db.h"
#include "itest.h"

#define PASSWORD "integration-test-password" /* mh_it_user_token's */

struct world {
    struct mh_it_db db;
    struct mh_it_server s;
};

/* POSTs or otherwise sends `body` with extra header lines (NULL-terminated, may be NULL);
 * returns the parsed body (new reference, may be NULL) and the status. */
static json_t *call(const struct world *w, const char *method, const char *path,
                    const char *const *hdrs, const char *body, long *status, char **retry_after)
{
    char url[512];
    snprintf(url, sizeof(url), "%s%s", w->s.base, path);
    const char *h[8] = {"Content-Type: application/json"};
    int n = 1;
    for (int i = 0; hdrs && hdrs[i] && n < 7; i++)
        h[n++] = hdrs[i];
    h[n] = NULL;
    struct mh_it_resp r;
    mh_it_http(method, url, h, body, body ? strlen(body) : 0, &r);
    *status = r.status;
    if (retry_after)
        *retry_after = mh_it_resp_header(&r, "Retry-After");
    json_t *j = json_incref(r.json);
    mh_it_resp_cleanup(&r);
    return j;
}

static const char *err_field(json_t *j, const char *field)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), field));
}

/* A login body; `email` and `password` are inserted as they are (no escaping needed here). */
static char *login_body(const char *email, const char *password)
{
    size_t cap = strlen(email) + strlen(password) + 64;
    char *b = malloc(cap);
    snprintf(b, cap, "{\"email\": \"%s\", \"password\": \"%s\"}", email, password);
    return b;
}

static long login_status(const struct world *w, const char *email, const char *password,
                         const char *const *hdrs, json_t **out, char **retry_after)
{
    char *b = login_body(email, password);
    long st;
    json_t *j = call(w, "POST", "/api/auth/login", hdrs, b, &st, retry_after);
    free(b);
    if (out)
        *out = j;
    else
        json_decref(j);
    return st;
}

/* `n` copies of the two-byte "é" then `tail`: more bytes than characters. */
static char *wide(int n, const char *tail)
{
    size_t cap = (size_t)n * 2 + strlen(tail) + 1;
    char *s = malloc(cap);
    for (int i = 0; i < n; i++)
        memcpy(s + 2 * i, "\xc3\xa9", 2);
    snprintf(s + 2 * n, cap - 2 * (size_t)n, "%s", tail);
    return s;
}

static long count_rows(const struct world *w, const char *sql)
{
    json_t *rows = mh_it_sql(w->db.admin_url, sql, 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

/*
 * Defect 1: an address of at most 320 characters but more than 320 bytes did not fit the buffer
 * it was lower-cased into, the failure was ignored, and the buffer kept the previous request's
 * address. With one handler thread that buffer is the same memory every time: a login naming
 * such an address with the previous user's password signed in as that user, and adding it as a
 * member added the previous request's user.
 */
MH_TEST(emails_longer_in_bytes_than_characters_are_refused)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--pool-size", "1", "--allow-signup", NULL};
    mh_it_server_start(&w.s, &w.db, args);
    char bearer[128], uid[40], project[40];
    mh_it_user_token(&w.db, &w.s, "a@example.com", bearer, uid);
    mh_it_project(&w.s, bearer, "P", project);
    char *long_email = wide(170, "@x.io"); /* 175 characters, 345 bytes */

    json_t *j = NULL;
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, NULL, NULL, NULL), 200);
    MH_T_ASSERT_EQ(login_status(&w, long_email, PASSWORD, NULL, &j, NULL), 422);
    MH_T_ASSERT_STR_EQ(err_field(j, "path"), "/email");
    json_decref(j);

    /* Members: add b, remove b, then add the long address: b must not come back. */
    char bb[128], bid[40], path[256], body[600];
    mh_it_user_token(&w.db, &w.s, "b@example.com", bb, bid);
    snprintf(path, sizeof(path), "/api/projects/%s/members", project);
    long st;
    json_decref(mh_it_api(&w.s, bearer, "POST", path,
                          "{\"email\": \"b@example.com\", \"role\": \"viewer\"}", &st));
    MH_T_ASSERT_EQ(st, 201);
    char one[256];
    snprintf(one, sizeof(one), "/api/projects/%s/members/%s", project, bid);
    json_decref(mh_it_api(&w.s, bearer, "DELETE", one, NULL, &st));
    MH_T_ASSERT_EQ(st, 204);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"role\": \"viewer\"}", long_email);
    j = mh_it_api(&w.s, bearer, "POST", path, body, &st);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_field(j, "path"), "/email");
    json_decref(j);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM memberships"), 1);

    /* Sign-up: the previous sign-up's address must not be reused. */
    j = call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"c@example.com\", \"password\": \"long enough pw\"}", &st, NULL);
    MH_T_ASSERT_EQ(st, 201);
    json_decref(j);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"password\": \"long enough pw\"}",
             long_email);
    j = call(&w, "POST", "/api/auth/signup", NULL, body, &st, NULL);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_field(j, "path"), "/email");
    json_decref(j);

    /* The limit is 320 bytes: exactly that is accepted, one more is not. */
    char *at_limit = wide(157, "a@x.io"); /* 314 + 6 bytes */
    MH_T_ASSERT_EQ(strlen(at_limit), 320);
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"password\": \"long enough pw\"}", at_limit);
    j = call(&w, "POST", "/api/auth/signup", NULL, body, &st, NULL);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "user"), "email")),
                       at_limit);
    json_decref(j);
    MH_T_ASSERT_EQ(login_status(&w, at_limit, "long enough pw", NULL, NULL, NULL), 200);
    char *past_limit = wide(157, "ab@x.io");
    snprintf(body, sizeof(body), "{\"email\": \"%s\", \"password\": \"long enough pw\"}",
             past_limit);
    j = call(&w, "POST", "/api/auth/signup", NULL, body, &st, NULL);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_field(j, "path"), "/email");
    MH_T_ASSERT(strstr(err_field(j, "message"), "320 bytes") != NULL);
    json_decref(j);
    free(at_limit);
    free(past_limit);
    free(long_email);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/*
 * Capitals outside ASCII: the server lower-cased only ASCII while the database's check
 * (`email = lower(email)`) lower-cases every letter, so "Élise@…" could not sign up. The
 * database's lower() is now the one rule: sign-up stores and answers the address as it lower-cases
 * it, and signing in or adding a member with other capitals finds the same account.
 */
MH_TEST(capitals_outside_ascii_are_lower_cased_as_the_database_does)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--allow-signup", NULL};
    mh_it_server_start(&w.s, &w.db, args);
    long st;
    json_t *j =
        call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"\u00c9lise.\u00dcber@Example.IO\", \"password\": \"long enough pw\"}",
             &st, NULL);
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_STR_EQ(json_string_value(json_object_get(json_object_get(j, "user"), "email")),
                       "\xc3\xa9lise.\xc3\xbc"
                       "ber@example.io");
    json_decref(j);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM users WHERE email = "
                                  "'\xc3\xa9lise.\xc3\xbc"
                                  "ber@example.io'"),
                   1);
    MH_T_ASSERT_EQ(login_status(&w,
                                "\xc3\x89LISE.\xc3\x9c"
                                "BER@EXAMPLE.io",
                                "long enough pw", NULL, NULL, NULL),
                   200);
    /* The same address with other capitals is the same account. */
    j = call(&w, "POST", "/api/auth/signup", NULL,
             "{\"email\": \"\u00e9LISE.\u00fcber@example.io\", \"password\": \"long enough pw\"}",
             &st, NULL);
    MH_T_ASSERT_EQ(st, 409);
    json_decref(j);

    char bearer[128], uid[40], project[40], path[256];
    mh_it_user_token(&w.db, &w.s, "owner@example.com", bearer, uid);
    mh_it_project(&w.s, bearer, "P", project);
    snprintf(path, sizeof(path), "/api/projects/%s/members", project);
    json_decref(mh_it_api(&w.s, bearer, "POST", path,
                          "{\"email\": \"\u00c9LISE.\u00dc"
                          "BER@example.io\", \"role\": \"viewer\"}",
                          &st));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM memberships"), 2);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/*
 * Defect 2: a password longer than the hasher takes (4,096 bytes) but within 4,096 characters
 * was refused at once for an existing account and hashed (truncated) for an unknown one, so the
 * time told which accounts exist. It is now refused before anything looks at the account: the
 * same answer for both, and no throttling row written (nothing was looked up).
 */
MH_TEST(over_long_passwords_are_refused_before_the_account_lookup)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--allow-signup", NULL};
    mh_it_server_start(&w.s, &w.db, args);
    char bearer[128], uid[40];
    mh_it_user_token(&w.db, &w.s, "a@example.com", bearer, uid);
    mh_it_sql_script(w.db.admin_url, "DELETE FROM login_failures");
    char *pw = wide(2100, ""); /* 2,100 characters, 4,200 bytes */
    json_t *known = NULL, *unknown = NULL;
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", pw, NULL, &known, NULL), 422);
    MH_T_ASSERT_EQ(login_status(&w, "nobody@example.com", pw, NULL, &unknown, NULL), 422);
    MH_T_ASSERT_STR_EQ(err_field(known, "path"), "/password");
    MH_T_ASSERT_STR_EQ(err_field(known, "code"), err_field(unknown, "code"));
    MH_T_ASSERT_STR_EQ(err_field(known, "message"), err_field(unknown, "message"));
    MH_T_ASSERT_STR_EQ(err_field(known, "path"), err_field(unknown, "path"));
    json_decref(known);
    json_decref(unknown);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM login_failures"), 0);
    /* Sign-up refuses it the same way rather than failing to hash it (a 500 before). */
    size_t cap = strlen(pw) + 64;
    char *body = malloc(cap);
    snprintf(body, cap, "{\"email\": \"n@example.com\", \"password\": \"%s\"}", pw);
    long st;
    json_t *j = call(&w, "POST", "/api/auth/signup", NULL, body, &st, NULL);
    MH_T_ASSERT_EQ(st, 422);
    MH_T_ASSERT_STR_EQ(err_field(j, "path"), "/password");
    json_decref(j);
    free(body);
    /* 4,096 bytes is still a password. */
    char *max = malloc(MH_CRYPTO_PASSWORD_MAX_LEN + 1);
    memset(max, 'p', MH_CRYPTO_PASSWORD_MAX_LEN);
    max[MH_CRYPTO_PASSWORD_MAX_LEN] = '\0';
    cap = strlen(max) + 64;
    body = malloc(cap);
    snprintf(body, cap, "{\"email\": \"m@example.com\", \"password\": \"%s\"}", max);
    json_decref(call(&w, "POST", "/api/auth/signup", NULL, body, &st, NULL));
    MH_T_ASSERT_EQ(st, 201);
    MH_T_ASSERT_EQ(login_status(&w, "m@example.com", max, NULL, NULL, NULL), 200);
    free(body);
    free(max);
    free(pw);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/* Issue #18, 13: `meshhook user create --help` was an error ("unknown option '--help'"). */
MH_TEST(every_subcommand_answers_help)
{
    const char *const cmds[][4] = {
        {"serve", "--help"},
        {"migrate", "--help"},
        {"jp", "--help"},
        {"user", "--help"},
        {"user", "create", "--help"},
        {"user", "count", "-h"},
        {"replay", "--help"},
        {"replay", "RUN", "--help"},
        {"audit", "--help"},
        {"audit", "verify", "--help"},
        {"kek", "--help"},
        {"kek", "rotate", "--help"},
        {"kek", "status", "--help"},
        {"sign", "--help"},
        {"help"},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *out = NULL;
        int rc = mh_it_run(NULL, cmds[i], &out);
        if (rc != 0 || out == NULL || strstr(out, "usage: meshhook") == NULL)
            mh_t_fail(__FILE__, __LINE__, "meshhook %s %s %s: exit %d, output: %s", cmds[i][0],
                      cmds[i][1] ? cmds[i][1] : "", cmds[i][1] && cmds[i][2] ? cmds[i][2] : "", rc,
                      out ? out : "(none)");
        free(out);
    }
}

static long header_long(const char *v)
{
    return v ? strtol(v, NULL, 10) : -1;
}

/* Sets the failure count of every throttling key matching `like`, as if that many failures had
 * just happened. */
static void set_failures(const struct world *w, const char *like, int n)
{
    char sql[300];
    snprintf(sql, sizeof(sql),
             "UPDATE login_failures SET failures = %d, last_failure_at = now() WHERE key LIKE '%s'",
             n, like);
    mh_it_sql_script(w->db.admin_url, sql);
}

/*
 * Defect 11: five wrong passwords locked the account for everyone, the right password
 * included, and behind a reverse proxy every client shared the proxy's address. Now failures
 * slow the address they come from (each one past the allowance doubling the pause, capped at
 * half the window), the account from anywhere only after ten times as many, and never an
 * address the account signed in from before; X-Forwarded-For names the client only when the
 * peer is a trusted proxy; and old failure rows are purged.
 */
MH_TEST(failed_logins_slow_the_attacker_not_the_owner)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--trusted-proxies", "127.0.0.1, 10.0.0.0/8", "--login-max-failures", "3",
                          NULL};
    mh_it_server_start(&w.s, &w.db, args);
    char bearer[128], uid[40];
    mh_it_user_token(&w.db, &w.s, "a@example.com", bearer, uid);
    const char *attacker[] = {"X-Forwarded-For: 192.0.2.1, 203.0.113.5", NULL};
    const char *owner[] = {"X-Forwarded-For: 198.51.100.7, 10.1.2.3", NULL};
    const char *stranger[] = {"X-Forwarded-For: 192.0.2.44", NULL};

    /* The owner has signed in from their address before. */
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, owner, NULL, NULL), 200);
    for (int i = 0; i < 3; i++)
        MH_T_ASSERT_EQ(login_status(&w, "a@example.com", "wrong", attacker, NULL, NULL), 401);
    /* The attacker's address, not the one it claimed to be, is what counts (the rightmost
     * untrusted entry), and the trusted hop is skipped for the owner. */
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM login_failures WHERE key = "
                                  "'pair:a@example.com|203.0.113.5' AND failures = 3"),
                   1);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM login_failures WHERE key LIKE "
                                  "'%192.0.2.1%'"),
                   0);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM sessions WHERE ip = '198.51.100.7'"),
                   1);

    /* Past the allowance the attacker waits, and the wait doubles with each failure. */
    char *ra = NULL;
    set_failures(&w, "pair:%203.0.113.5", 8); /* 2^5 s */
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, attacker, NULL, &ra), 429);
    long ra8 = header_long(ra);
    free(ra);
    set_failures(&w, "pair:%203.0.113.5", 10); /* 2^7 s */
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, attacker, NULL, &ra), 429);
    long ra10 = header_long(ra);
    free(ra);
    if (!(ra8 > 16 && ra8 <= 32 && ra10 > 64 && ra10 <= 128))
        mh_t_fail(__FILE__, __LINE__, "Retry-After %ld after 8 failures, %ld after 10", ra8, ra10);
    set_failures(&w, "pair:%203.0.113.5", 100); /* capped at half of the 900 s window */
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, attacker, NULL, &ra), 429);
    long ra_cap = header_long(ra);
    free(ra);
    if (!(ra_cap > 400 && ra_cap <= 450))
        mh_t_fail(__FILE__, __LINE__, "Retry-After %ld past the cap", ra_cap);

    /* Meanwhile the owner signs in (before: 429, the account was locked). */
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, owner, NULL, NULL), 200);

    /* Failures from many addresses slow the account from new addresses, not the owner's. */
    mh_it_sql_script(w.db.admin_url,
                     "INSERT INTO login_failures (key, failures, window_start, last_failure_at) "
                     "VALUES ('account:a@example.com', 37, now(), now())");
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, stranger, NULL, &ra), 429);
    if (!(header_long(ra) > 64 && header_long(ra) <= 128))
        mh_t_fail(__FILE__, __LINE__, "account-wide Retry-After %s", ra ? ra : "(none)");
    free(ra);
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", PASSWORD, owner, NULL, NULL), 200);

    /* Rows quiet for a whole window go as new failures arrive. */
    mh_it_sql_script(w.db.admin_url,
                     "INSERT INTO login_failures (key, failures, window_start, last_failure_at) "
                     "SELECT 'ip:old-' || i, 9, now() - interval '1 day', now() - interval '1 day' "
                     "FROM generate_series(1, 50) i");
    MH_T_ASSERT_EQ(login_status(&w, "nobody@example.com", "wrong", stranger, NULL, NULL), 401);
    MH_T_ASSERT_EQ(
        count_rows(&w, "SELECT count(*) AS n FROM login_failures WHERE key LIKE 'ip:old-%'"), 0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    /* Without a trusted proxy, X-Forwarded-For is the client's word: ignored. */
    mh_it_server_start(&w.s, &w.db, (const char *const[]){"--login-max-failures", "3", NULL});
    const char *spoof[] = {"X-Forwarded-For: 198.51.100.99", NULL};
    MH_T_ASSERT_EQ(login_status(&w, "a@example.com", "wrong", spoof, NULL, NULL), 401);
    MH_T_ASSERT_EQ(count_rows(&w, "SELECT count(*) AS n FROM login_failures WHERE key = "
                                  "'pair:a@example.com|127.0.0.1'"),
                   1);
    MH_T_ASSERT_EQ(
        count_rows(&w, "SELECT count(*) AS n FROM login_failures WHERE key LIKE '%198.51.100.99%'"),
        0);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    /* A bad setting stops the server from starting, naming it. */
    char *out = NULL;
    const char *bad[] = {"serve", "--port", "0", "--trusted-proxies", "10.0.0.0/33", NULL};
    MH_T_ASSERT(mh_it_run(&w.db, bad, &out) != 0);
    MH_T_ASSERT(out && strstr(out, "trusted_proxies") != NULL);
    free(out);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Sends `body` to `path` in a child while sampling pg_stat_activity: returns how many samples
 * saw a transaction of the test database idle for over 150 ms, the status in *status and the
 * request's duration in *took_ms. */
static int idle_transactions_during(const struct world *w, const char *path, const char *body,
                                    long *status, double *took_ms)
{
    const char *super = getenv("MESHHOOK_SUPER_DATABASE_URL");
    int p[2];
    MH_T_ASSERT(pipe(p) == 0);
    double t0 = now_ms();
    pid_t pid = fork();
    MH_T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        long st;
        json_decref(call(w, "POST", path, NULL, body, &st, NULL));
        _exit(write(p[1], &st, sizeof(st)) == (ssize_t)sizeof(st) ? 0 : 1);
    }
    close(p[1]);
    const char *params[] = {w->db.name};
    int idle = 0, ws = 0;
    while (waitpid(pid, &ws, WNOHANG) == 0) {
        json_t *rows = mh_it_sql(super,
                                 "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 "
                                 "AND state = 'idle in transaction' AND "
                                 "clock_timestamp() - state_change > interval '150 milliseconds'",
                                 1, params, NULL);
        MH_T_ASSERT(rows != NULL);
        idle += (int)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
        json_decref(rows);
        mh_it_sleep_ms(20);
    }
    *took_ms = now_ms() - t0;
    MH_T_ASSERT_EQ(read(p[0], status, sizeof(*status)), (ssize_t)sizeof(*status));
    close(p[0]);
    return idle;
}

/*
 * Defect 10: sign-in held a pooled database connection (shared with the workers) in an open
 * transaction while argon2 ran, so a flood of sign-ins could hold every connection; sign-up
 * did the same. With a slow hash, no transaction of the test database may sit idle for long
 * while either hashes.
 */
MH_TEST(sign_in_hashes_without_holding_a_connection)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--password-t-cost", "48", "--allow-signup", NULL};
    mh_it_server_start(&w.s, &w.db, args);
    const char *paths[] = {"/api/auth/login", "/api/auth/signup"};
    const char *bodies[] = {"{\"email\": \"nobody@example.com\", \"password\": \"wrong\"}",
                            "{\"email\": \"new@example.com\", \"password\": \"long enough\"}"};
    const long want[] = {401, 201};
    for (int i = 0; i < 2; i++) {
        long st = 0;
        double took = 0;
        int idle = idle_transactions_during(&w, paths[i], bodies[i], &st, &took);
        MH_T_ASSERT_EQ(st, want[i]);
        /* The hash took long enough for a held transaction to show (else raise the t-cost). */
        if (took < 400)
            mh_t_fail(__FILE__, __LINE__, "%s took %.0f ms: too fast to observe", paths[i], took);
        if (idle != 0)
            mh_t_fail(__FILE__, __LINE__, "%s: %d samples saw a transaction idle while hashing",
                      paths[i], idle);
    }
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

static int dial(const struct world *w)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w->s.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    MH_T_ASSERT(connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    return fd;
}

/* Sends `head`, then one byte every 250 ms; returns how many ms passed until the server closed
 * the connection, or -1 when it was still open after `limit_ms`. */
static double trickle_until_closed(int fd, const char *head, int limit_ms)
{
    double t0 = now_ms();
    (void)send(fd, head, strlen(head), MSG_NOSIGNAL);
    while (now_ms() - t0 < limit_ms) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 250) > 0) {
            char buf[512];
            ssize_t n = recv(fd, buf, sizeof(buf), 0);
            if (n <= 0)
                return now_ms() - t0;
        }
        if (send(fd, "a", 1, MSG_NOSIGNAL) < 0)
            return now_ms() - t0;
    }
    return -1;
}

/* The status of GET /healthz on a new connection, or 0 when the server closes it unanswered. */
static int healthz_on_new_connection(const struct world *w)
{
    int fd = dial(w);
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)send(fd, req, strlen(req), MSG_NOSIGNAL);
    char buf[64] = {0};
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got < 12 && poll(&p, 1, 5000) > 0) {
        ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    return got >= 12 && strncmp(buf, "HTTP/1.1 ", 9) == 0 ? (int)strtol(buf + 9, NULL, 10) : 0;
}

/*
 * Defect 10: connections had only an idle timeout and no per-address limit, so a client could
 * open any number and keep each alive by trickling a byte now and then. Now one address holds at
 * most max_connections_per_ip (a trusted proxy is exempt), a request's headers must be complete
 * within connection_timeout_s, and its body must keep arriving at min_receive_bytes_per_s.
 */
MH_TEST(connections_are_limited_per_address_and_must_keep_pace)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--max-connections-per-ip",
                          "4",
                          "--connection-timeout-s",
                          "2",
                          "--min-receive-bytes-per-s",
                          "1000",
                          NULL};
    mh_it_server_start(&w.s, &w.db, args);
    mh_it_sleep_ms(300); /* the start-up probe's connection has gone */
    int held[4];
    for (int i = 0; i < 4; i++)
        held[i] = dial(&w);
    mh_it_sleep_ms(300); /* accepted by now */
    MH_T_ASSERT_EQ(healthz_on_new_connection(&w), 0);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    int st = 0;
    for (int i = 0; i < 40 && st != 200; i++) {
        mh_it_sleep_ms(50);
        st = healthz_on_new_connection(&w);
    }
    MH_T_ASSERT_EQ(st, 200);

    /* Headers trickled a byte at a time: cut at the deadline although never idle. */
    int fd = dial(&w);
    double took = trickle_until_closed(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", 8000);
    close(fd);
    if (took < 1500 || took > 6000)
        mh_t_fail(__FILE__, __LINE__, "trickled headers: closed after %.0f ms", took);
    /* A body trickled a byte at a time: cut once past the grace period. */
    fd = dial(&w);
    took = trickle_until_closed(fd,
                                "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: "
                                "application/json\r\nContent-Length: 100000\r\n\r\n{",
                                8000);
    close(fd);
    if (took < 1500 || took > 6000)
        mh_t_fail(__FILE__, __LINE__, "trickled body: closed after %.0f ms", took);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);

    /* A trusted proxy carries many clients: not limited. */
    const char *proxied[] = {"--max-connections-per-ip", "2", "--trusted-proxies", "127.0.0.1",
                             NULL};
    mh_it_server_start(&w.s, &w.db, proxied);
    for (int i = 0; i < 4; i++)
        held[i] = dial(&w);
    mh_it_sleep_ms(300);
    MH_T_ASSERT_EQ(healthz_on_new_connection(&w), 200);
    for (int i = 0; i < 4; i++)
        close(held[i]);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/*
 * Defect 10: the handler queue was unbounded. With its one thread stuck and its lane's queue
 * (of one) full, an API request is refused at once with 503 and Retry-After, while a request
 * without credentials still queues in its own lane.
 */
MH_TEST(a_full_handler_queue_answers_503)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    const char *args[] = {"--pool-size", "1", "--handler-queue-max", "1", "--workers", "0", NULL};
    mh_it_server_start(&w.s, &w.db, args);
    char bearer[128], uid[40];
    mh_it_user_token(&w.db, &w.s, "a@example.com", bearer, uid);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(w.db.admin_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, "BEGIN", 0, NULL, NULL, NULL, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, "LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE", 0, NULL, NULL,
                               NULL, &info),
                   MH_OK);
    /* One API request stuck on the lock (the thread), one queued (the lane's one place). */
    pid_t kids[3];
    const char *paths[] = {"/api/projects", "/api/projects", "/readyz"};
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        MH_T_ASSERT(kids[i] >= 0);
        if (kids[i] == 0) {
            long s2;
            json_decref(mh_it_api(&w.s, i < 2 ? bearer : NULL, "GET", paths[i], NULL, &s2));
            _exit(s2 == 200 ? 0 : 1);
        }
        if (i == 0) {
            const char *lp[] = {"api_tokens"};
            long waiting = 0;
            for (int k = 0; k < 400 && waiting < 1; k++) {
                json_t *rows = mh_it_sql(w.db.admin_url,
                                         "SELECT count(*) AS n FROM pg_locks WHERE relation = "
                                         "$1::regclass AND NOT granted",
                                         1, lp, NULL);
                waiting = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
                json_decref(rows);
                mh_it_sleep_ms(25);
            }
            MH_T_ASSERT_EQ(waiting, 1);
        } else {
            mh_it_sleep_ms(500); /* queued by now */
        }
    }
    char url[256];
    snprintf(url, sizeof(url), "%s/api/projects", w.s.base);
    const char *h[] = {bearer, NULL};
    struct mh_it_resp r;
    mh_it_http("GET", url, h, NULL, 0, &r);
    MH_T_ASSERT_EQ(r.status, 503);
    char *ra = mh_it_resp_header(&r, "Retry-After");
    MH_T_ASSERT(ra != NULL);
    free(ra);
    MH_T_ASSERT_STR_EQ(err_field(r.json, "code"), "busy");
    mh_it_resp_cleanup(&r);
    MH_T_ASSERT_EQ(mh_db_query(c, "COMMIT", 0, NULL, NULL, NULL, &info), MH_OK);
    mh_db_close(c);
    for (int i = 0; i < 3; i++) {
        int status = 0;
        MH_T_ASSERT_EQ(waitpid(kids[i], &status, 0), kids[i]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            mh_t_fail(__FILE__, __LINE__, "request %d (%s) did not get 200", i, paths[i]);
    }
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}

/* Runs `method` `path` in a child; returns its pid, the status to be read from *fd. */
static pid_t request_in_child(const struct world *w, const char *method, const char *path, int *fd)
{
    int p[2];
    MH_T_ASSERT(pipe(p) == 0);
    pid_t pid = fork();
    MH_T_ASSERT(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        long st;
        json_decref(call(w, method, path, NULL, "{}", &st, NULL));
        _exit(write(p[1], &st, sizeof(st)) == (ssize_t)sizeof(st) ? 0 : 1);
    }
    close(p[1]);
    *fd = p[0];
    return pid;
}

static long lock_waiters(const struct world *w)
{
    const char *lp[] = {"webhook_endpoint_keys"};
    json_t *rows = mh_it_sql(w->db.admin_url,
                             "SELECT count(*) AS n FROM pg_locks WHERE relation = $1::regclass "
                             "AND NOT granted",
                             1, lp, NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

/*
 * Defect 10 (its last part): a made-up webhook id costs one endpoint lookup, then is remembered
 * as absent for a moment, so repeating it costs none. With the lookup's table locked, the
 * repeated id is answered at once while a new one waits for the lock.
 */
MH_TEST(unknown_webhook_ids_are_remembered_briefly)
{
    struct world w;
    mh_it_db_create(&w.db, true);
    mh_it_server_start(&w.s, &w.db, (const char *const[]){"--workers", "0", NULL});
    long st;
    json_decref(call(&w, "POST", "/hooks/madeUpPublicIdNumberOne000", NULL, "{}", &st, NULL));
    MH_T_ASSERT_EQ(st, 404);
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(w.db.admin_url, &c, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, "BEGIN", 0, NULL, NULL, NULL, &info), MH_OK);
    MH_T_ASSERT_EQ(mh_db_query(c, "LOCK TABLE webhook_endpoint_keys IN ACCESS EXCLUSIVE MODE", 0,
                               NULL, NULL, NULL, &info),
                   MH_OK);
    /* A new made-up id needs a lookup: it waits for the lock. */
    int fresh_fd;
    pid_t fresh = request_in_child(&w, "POST", "/hooks/madeUpPublicIdNumberTwo000", &fresh_fd);
    long waiting = 0;
    for (int i = 0; i < 200 && waiting < 1; i++) {
        mh_it_sleep_ms(10);
        waiting = lock_waiters(&w);
    }
    MH_T_ASSERT_EQ(waiting, 1);
    /* The first one is answered from memory, without a lookup, while the lock is held. */
    json_decref(call(&w, "POST", "/hooks/madeUpPublicIdNumberOne000", NULL, "{}", &st, NULL));
    MH_T_ASSERT_EQ(st, 404);
    MH_T_ASSERT_EQ(lock_waiters(&w), 1);
    MH_T_ASSERT_EQ(mh_db_query(c, "COMMIT", 0, NULL, NULL, NULL, &info), MH_OK);
    mh_db_close(c);
    MH_T_ASSERT_EQ(read(fresh_fd, &st, sizeof(st)), (ssize_t)sizeof(st));
    close(fresh_fd);
    waitpid(fresh, NULL, 0);
    MH_T_ASSERT_EQ(st, 404);
    MH_T_ASSERT_EQ(mh_it_server_stop(&w.s, SIGTERM), 0);
}
