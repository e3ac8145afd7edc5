/* SPDX-License-Identifier: MIT */
/*
 * High availability with pg_auto_failover (`make test-ha`; skipped unless MH_HA=1): a monitor and
 * two nodes on loopback with synchronous replication, MeshHook on a multi-host URL with
 * target_session_attrs=read-write, signed webhooks sent without pause, and the primary killed
 * (SIGKILL to its keeper and its postmaster). After the failover every webhook answered 202 must
 * be a run on the new primary (acknowledged but lost: 0), intake may only have answered 202 or
 * 503 meanwhile, MeshHook must accept again and finish every run without being restarted. The
 * failover time, the 503 window and the counts are printed (docs/BENCHMARKS.md records them).
 * Needs Debian's postgresql-15-auto-failover and pg-auto-failover-cli (make test-ha installs
 * them).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/clock.h"
#include "runtime/store.h"
#include "itest_cluster.h"
#include "itest_intake_common.h"

static const char secret[] = "ha-test-github-secret-0123456789";

struct ha {
    char root[32];
    char env[1024]; /* the shell prefix that pg_autoctl runs with */
    int monitor_port, port[2];
    char monitor_url[256];
};

/* Runs pg_autoctl (as the clusters' owner) with `args`; in the background, its output going to
 * <root>/<log>.log, when `log` is set. */
__attribute__((format(printf, 3, 4))) static void autoctl(struct ha *h, const char *log,
                                                          const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (log)
        shell(true, "%s nohup pg_autoctl %s > %s/%s.log 2>&1 < /dev/null &", h->env, args, h->root,
              log);
    else
        shell(true, "%s pg_autoctl %s", h->env, args);
}

/* The nodes' states as the monitor sees them: "node1:primary/primary node2:secondary/..."
 * (reported/goal), or "" when the monitor does not answer. */
static void states(struct ha *h, char *out, size_t cap)
{
    out[0] = '\0';
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_connect(h->monitor_url, &c, &info) != MH_OK)
        return;
    json_t *row = NULL;
    if (mh_db_query_row(c,
                        "SELECT coalesce(string_agg(nodename || ':' || reportedstate || '/' || "
                        "goalstate, ' ' ORDER BY nodeid), '') AS s FROM pgautofailover.node",
                        0, NULL, &row, &info) == MH_OK)
        snprintf(out, cap, "%s", json_string_value(json_object_get(row, "s")));
    json_decref(row);
    mh_db_close(c);
}

/* Waits up to `seconds` until the states hold both `a` and `b`. */
static void wait_states(struct ha *h, const char *a, const char *b, int seconds)
{
    char s[256] = "";
    for (int i = 0; i < seconds * 4; i++) {
        states(h, s, sizeof(s));
        if (strstr(s, a) && (!b || strstr(s, b)))
            return;
        mh_it_sleep_ms(250);
    }
    mh_t_fail(__FILE__, __LINE__, "nodes did not reach %s %s: %s", a, b ? b : "", s);
}

/* Waits up to `seconds` until `url` accepts a connection. */
static void wait_connect(const char *url, int seconds)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    for (int i = 0; i < seconds * 4; i++) {
        struct mh_db_conn *c = NULL;
        if (mh_db_connect(url, &c, &info) == MH_OK) {
            mh_db_close(c);
            return;
        }
        mh_it_sleep_ms(250);
    }
    mh_t_fail(__FILE__, __LINE__, "no connection: %s", info.message);
}

static void node_create(struct ha *h, int i)
{
    autoctl(h, NULL,
            "create postgres --pgdata %s/node%d --pgport %d --listen 127.0.0.1 --hostname "
            "127.0.0.1 --name node%d --monitor '%s' --auth trust --no-ssl",
            h->root, i + 1, h->port[i], i + 1, h->monitor_url);
    /* A keeper cut off from the monitor and its standby demotes itself after this; the monitor
     * waits longer than that (primary_demote_timeout) before it promotes the standby. */
    autoctl(h, NULL, "config set --pgdata %s/node%d timeout.network_partition_timeout 3", h->root,
            i + 1);
    char log[16];
    snprintf(log, sizeof(log), "node%d", i + 1);
    autoctl(h, log, "run --pgdata %s/node%d", h->root, i + 1);
}

/* The pid on the first line of `path`. */
static pid_t pid_in(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        mh_t_fail(__FILE__, __LINE__, "cannot read %s", path);
    char line[32] = "";
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    long pid = strtol(line, NULL, 10);
    MH_T_ASSERT(pid > 1);
    return (pid_t)pid;
}

/* SIGKILL to node1's keeper (its supervisor first, so nothing restarts PostgreSQL), then to
 * its postmaster, whose backends exit at once when it dies. */
static void kill_primary(struct ha *h)
{
    static const char *const keeper[] = {"pg_autoctl", "pg_autoctl_node-active",
                                         "pg_autoctl_postgres"};
    char path[256];
    for (size_t i = 0; i < sizeof(keeper) / sizeof(keeper[0]); i++) {
        snprintf(path, sizeof(path), "%s/xdg/run/pg_autoctl%s/node1/%s.pid", h->root, h->root,
                 keeper[i]);
        MH_T_ASSERT_EQ(kill(pid_in(path), SIGKILL), 0);
    }
    snprintf(path, sizeof(path), "%s/node1/postmaster.pid", h->root);
    MH_T_ASSERT_EQ(kill(pid_in(path), SIGKILL), 0);
}

static long count_ids(const char *url, json_t *ids)
{
    char *list = json_dumps(ids, JSON_COMPACT);
    const char *p[] = {list};
    json_t *rows = mh_it_sql(url,
                             "SELECT count(*) AS n FROM runs WHERE id::text IN (SELECT "
                             "json_array_elements_text($1::json))",
                             1, p, NULL);
    free(list);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

/* The GitHub signature header of `body`, by OpenSSL directly (not MeshHook's signing code):
 * fast enough to keep the intake busy while the primary dies. */
static void github_sig(const char *body, char *out, size_t cap)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    MH_T_ASSERT(HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
                     strlen(body), mac, &len) != NULL);
    int n = snprintf(out, cap, "X-Hub-Signature-256: sha256=");
    for (unsigned int i = 0; i < len && (size_t)n + 2 < cap; i++)
        n += snprintf(out + n, cap - (size_t)n, "%02x", mac[i]);
}

static bool has_autoctl(void)
{
    FILE *p = popen("command -v pg_autoctl", "r");
    char line[256];
    bool found = p && fgets(line, sizeof(line), p) != NULL;
    if (p)
        pclose(p);
    return found;
}

/* Sends signed webhooks back to back; 3 s in, kills the primary (node1) or, with `switchover`,
 * has the monitor hand the primary role from node2 to node1; goes on until 500 webhooks were
 * accepted after the change. Then checks that intake answered only 202 or 503, that every 202
 * is a run on the new primary and succeeds there, that the LISTEN connections are open there
 * and /readyz is 200; prints the figures. */
static void load_through(struct ha *h, struct ienv *e, const char *pub, bool switchover)
{
    const char *what = switchover ? "switchover" : "failover";
    int np = switchover ? 0 : 1; /* the new primary */
    char want_a[32], want_b[32], url[512];
    snprintf(want_a, sizeof(want_a), "node%d:primary", np + 1);
    snprintf(want_b, sizeof(want_b), "node%d:wait_primary", np + 1);
    json_t *acked = json_array();
    long accepted = 0, unavailable = 0, other = 0, after_back = 0;
    int64_t t0 = mh_clock_mono_ms(), killed_at = 0, first_503 = -1, last_503 = -1, promoted_at = -1,
            back_at = -1, last_poll = 0;
    long last_other_status = 0;
    for (int n = 0;; n++) {
        int64_t now = mh_clock_mono_ms();
        if (!killed_at && now - t0 >= 3000) {
            if (switchover)
                autoctl(h, "switchover", "perform switchover --pgdata %s/node2", h->root);
            else
                kill_primary(h);
            killed_at = mh_clock_mono_ms();
        }
        if (killed_at && promoted_at < 0 && now - last_poll >= 250) {
            last_poll = now;
            char s[256];
            states(h, s, sizeof(s));
            if (strstr(s, want_a) || strstr(s, want_b))
                promoted_at = mh_clock_mono_ms();
        }
        if (after_back >= 500 || (killed_at && now - killed_at > 120000))
            break;
        char body[128], sig[160];
        snprintf(body, sizeof(body), "{\"n\": %d}", n);
        github_sig(body, sig, sizeof(sig));
        const char *hd[] = {"Content-Type: application/json", sig, NULL};
        struct mh_it_resp r;
        long st = hook(e, pub, "POST", hd, body, strlen(body), &r);
        int64_t at = mh_clock_mono_ms() - (killed_at ? killed_at : t0);
        const char *id = json_string_value(json_object_get(r.json, "run_id"));
        if (st == 202 && id) {
            json_array_append_new(acked, json_string(id));
            accepted++;
            if (killed_at && first_503 >= 0 && back_at < 0)
                back_at = at;
            /* Counted from the first 202 after the 503s, or, when there were none, after the
             * new primary was seen. */
            if (back_at >= 0 || (first_503 < 0 && promoted_at > 0))
                after_back++;
        } else if (st == 503) {
            unavailable++;
            if (killed_at) {
                if (first_503 < 0)
                    first_503 = at;
                last_503 = at;
            }
        } else {
            other++;
            last_other_status = st;
        }
        mh_it_resp_cleanup(&r);
    }
    printf("HA %s: %ld accepted (202), %ld answered 503, %ld other (last %ld); first 503 "
           "at +%lld ms, last 503 at +%lld ms, 202 again at +%lld ms after it; the monitor "
           "showed node%d promoted at +%lld ms\n",
           what, accepted, unavailable, other, last_other_status, (long long)first_503,
           (long long)last_503, (long long)back_at, np + 1, (long long)(promoted_at - killed_at));
    MH_T_ASSERT(killed_at > 0);
    MH_T_ASSERT(promoted_at > 0);
    /* Accepted again after the change, without a restart. */
    MH_T_ASSERT(back_at > 0 || (first_503 < 0 && after_back > 0));
    MH_T_ASSERT_EQ(other, 0);

    /* Every 202 is a run on the new primary, and every run finishes there. */
    snprintf(url, sizeof(url), "postgresql://meshhook@127.0.0.1:%d/meshhook", h->port[np]);
    long found = count_ids(url, acked);
    printf("HA %s, acknowledged but lost: %ld of %ld\n", what, accepted - found, accepted);
    MH_T_ASSERT_EQ(found, accepted);
    json_t *ro = mh_it_sql(url, "SELECT pg_is_in_recovery() AS r", 0, NULL, NULL);
    MH_T_ASSERT(ro != NULL);
    MH_T_ASSERT(json_is_false(json_object_get(json_array_get(ro, 0), "r")));
    json_decref(ro);
    char *ids_text = json_dumps(acked, JSON_COMPACT);
    const char *list[] = {ids_text};
    long done = 0;
    int64_t t_done = mh_clock_mono_ms();
    for (int i = 0; i < 1200 && done < accepted; i++) {
        json_t *rows = mh_it_sql(url,
                                 "SELECT count(*) AS n FROM runs WHERE status = 'succeeded' AND "
                                 "id::text IN (SELECT json_array_elements_text($1::json))",
                                 1, list, NULL);
        MH_T_ASSERT(rows != NULL);
        done = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
        json_decref(rows);
        if (done < accepted)
            mh_it_sleep_ms(100);
    }
    printf("HA %s, runs succeeded: %ld of %ld (%lld ms after the load stopped)\n", what, done,
           accepted, (long long)(mh_clock_mono_ms() - t_done));
    free(ids_text);
    MH_T_ASSERT_EQ(done, accepted);
    /* Both LISTEN connections (the workers' wake-ups, the live streams' changes) are open on
     * the new primary again. */
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/meshhook", h->port[np]);
    json_t *listeners = mh_it_sql(url,
                                  "SELECT count(*) FILTER (WHERE query IN ('LISTEN meshhook_jobs', "
                                  "'NOTIFY meshhook_jobs')) AS jobs, count(*) FILTER (WHERE query "
                                  "= 'LISTEN " MH_ENGINE_STREAMS_CHANNEL "') AS streams FROM "
                                  "pg_stat_activity WHERE usename = 'meshhook_app'",
                                  0, NULL, NULL);
    MH_T_ASSERT(listeners != NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(listeners, 0), "jobs")), 1);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(listeners, 0), "streams")), 1);
    json_decref(listeners);
    char ready[128];
    snprintf(ready, sizeof(ready), "%s/readyz", e->s.base);
    struct mh_it_resp rz;
    mh_it_http("GET", ready, NULL, NULL, 0, &rz);
    MH_T_ASSERT_EQ(rz.status, 200);
    mh_it_resp_cleanup(&rz);
    json_decref(acked);
}

MH_TEST(failover_loses_no_acknowledged_webhook)
{
    if (!getenv("MH_HA"))
        MH_T_SKIP("high availability test: run with make test-ha (MH_HA=1)");
    if (!has_autoctl())
        MH_T_SKIP("pg_autoctl not installed (make test-ha installs it)");
    struct ha h;
    snprintf(h.root, sizeof(h.root), "/tmp/mh-it-ha.XXXXXX");
    MH_T_ASSERT(mkdtemp(h.root) != NULL);
    MH_T_ASSERT_EQ(chmod(h.root, 0755), 0);
    char cleanup[1024];
    snprintf(cleanup, sizeof(cleanup),
             "for f in $(find %s/xdg/run -name '*.pid'); do kill -9 $(head -n 1 $f); done; "
             "for d in %s/monitor %s/node1 %s/node2; do [ -f $d/postmaster.pid ] && kill -9 "
             "$(head -n 1 $d/postmaster.pid); done; sleep 1; rm -rf %s",
             h.root, h.root, h.root, h.root, h.root);
    cluster_guard(cleanup);
    shell(false,
          "mkdir -p %s/xdg/config %s/xdg/data %s/xdg/run && chmod 700 %s/xdg/run && "
          "(chown -R postgres %s 2>/dev/null || true)",
          h.root, h.root, h.root, h.root, h.root);
    snprintf(h.env, sizeof(h.env),
             "export XDG_CONFIG_HOME=%s/xdg/config XDG_DATA_HOME=%s/xdg/data "
             "XDG_RUNTIME_DIR=%s/xdg/run PG_CONFIG=%s/pg_config PATH=%s:$PATH;",
             h.root, h.root, h.root, pg_bindir(), pg_bindir());
    h.monitor_port = mh_it_free_port();
    h.port[0] = mh_it_free_port();
    do
        h.port[1] = mh_it_free_port();
    while (h.port[1] == h.port[0] || h.port[1] == h.monitor_port);
    snprintf(h.monitor_url, sizeof(h.monitor_url),
             "postgresql://autoctl_node@127.0.0.1:%d/pg_auto_failover?sslmode=disable",
             h.monitor_port);

    /* The monitor, with health checks every second and a node unhealthy after 3 s without one
     * (defaults: 5 s and 20 s), and the primary's demotion awaited for 6 s (default 30 s). */
    int64_t t_setup = mh_clock_mono_ms();
    autoctl(&h, NULL,
            "create monitor --pgdata %s/monitor --pgport %d --hostname 127.0.0.1 --auth trust "
            "--no-ssl",
            h.root, h.monitor_port);
    shell(true,
          "printf '%%s\\n' 'pgautofailover.health_check_period = 1000' "
          "'pgautofailover.health_check_timeout = 1000' "
          "'pgautofailover.health_check_max_retries = 1' "
          "'pgautofailover.health_check_retry_delay = 500' "
          "'pgautofailover.node_considered_unhealthy_timeout = 3000' "
          "'pgautofailover.primary_demote_timeout = 6000' >> %s/monitor/postgresql.conf",
          h.root);
    autoctl(&h, "monitor", "run --pgdata %s/monitor", h.root);
    wait_connect(h.monitor_url, 60);

    /* The first node, then MeshHook's roles and database on it, then the second node. */
    node_create(&h, 0);
    wait_states(&h, "node1:single/single", NULL, 60);
    char url[512];
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres", h.port[0]);
    wait_connect(url, 60);
    mh_it_sql_script(url, "CREATE ROLE meshhook LOGIN CREATEDB CREATEROLE; CREATE ROLE "
                          "meshhook_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE");
    mh_it_sql_script(url, "CREATE DATABASE meshhook OWNER meshhook");
    /* The standby's base backup waits for a checkpoint: an immediate one, not one spread over
     * minutes. */
    mh_it_sql_script(url, "ALTER SYSTEM SET checkpoint_completion_target = 0");
    mh_it_sql_script(url, "SELECT pg_reload_conf()");
    node_create(&h, 1);
    wait_states(&h, "node1:primary/primary", "node2:secondary/secondary", 180);
    snprintf(url, sizeof(url), "postgresql://postgres@127.0.0.1:%d/postgres", h.port[0]);
    json_t *sync =
        mh_it_sql(url, "SELECT current_setting('synchronous_standby_names') AS s", 0, NULL, NULL);
    MH_T_ASSERT(sync != NULL);
    const char *sync_names = jstr(json_array_get(sync, 0), "s");
    MH_T_ASSERT(sync_names && sync_names[0] != '\0');
    printf("HA setup %lld ms, synchronous_standby_names = %s\n",
           (long long)(mh_clock_mono_ms() - t_setup), sync_names);
    json_decref(sync);

    /* MeshHook on both nodes' addresses: libpq connects to whichever accepts writes. */
    struct ienv e;
    memset(&e, 0, sizeof(e));
    snprintf(e.db.name, sizeof(e.db.name), "meshhook");
    snprintf(e.db.app_url, sizeof(e.db.app_url),
             "postgresql://meshhook_app@127.0.0.1:%d,127.0.0.1:%d/"
             "meshhook?target_session_attrs=read-write",
             h.port[0], h.port[1]);
    snprintf(e.db.admin_url, sizeof(e.db.admin_url),
             "postgresql://meshhook@127.0.0.1:%d,127.0.0.1:%d/"
             "meshhook?target_session_attrs=read-write",
             h.port[0], h.port[1]);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_migrate(e.db.admin_url, NULL, &info) != MH_OK)
        mh_t_fail(__FILE__, __LINE__, "migrate: %s", info.message);
    const char *args[] = {"--kek", IT_KEK, "--pool-wait-ms", "1000", NULL};
    mh_it_server_start(&e.s, &e.db, args);
    mh_it_user_token(&e.db, &e.s, "ha@example.com", e.bearer, e.user);
    mh_it_project(&e.s, e.bearer, "ha", e.project);
    ienv_workflow(&e, e.workflow);
    /* The default rate limit (50/s) would answer 429 to this sender. */
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}, \"key\": "
                                   "{\"secret\": \"ha-test-github-secret-0123456789\"}, "
                                   "\"rate_capacity\": 100000, \"rate_per_second\": 100000}");
    const char *pub = jstr(ep, "public_id");

    /* The primary dies; node2 takes over. */
    load_through(&h, &e, pub, false);
    /* The dead node comes back (its keeper rewinds it and follows node2), then a planned
     * switchover hands the primary role back to it while webhooks keep arriving. */
    autoctl(&h, "node1-again", "run --pgdata %s/node1", h.root);
    wait_states(&h, "node1:secondary/secondary", "node2:primary/primary", 240);
    load_through(&h, &e, pub, true);

    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGTERM), 0);
    autoctl(&h, NULL, "stop --pgdata %s/node2 --fast", h.root);
    autoctl(&h, NULL, "stop --pgdata %s/monitor --fast", h.root);
    json_decref(ep);
}
