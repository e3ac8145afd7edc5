/* SPDX-License-Identifier: MIT */
/*
 * Backups restored (docs/operations.md, "Backups"): a cluster of its own with continuous WAL
 * archiving; a base backup taken by pg_basebackup while signed webhooks arrive; more webhooks,
 * a named restore point, more webhooks after it; then the cluster is lost. The backup is
 * restored into a new cluster, recovered from the archive to the restore point, and MeshHook
 * (with the KEK, kept apart from the backup) serves it: every run acknowledged before the point
 * is there, finishes, replays without divergence, the audit chains verify, a signed webhook is
 * accepted again; no run acknowledged after the point exists.
 */
#include "runtime/store.h"
#include "itest_cluster.h"
#include "itest_intake_common.h"

#define BEFORE_BACKUP 12
#define DURING_BACKUP 12
#define AFTER_BACKUP  12
#define AFTER_POINT   8
#define KEPT          (BEFORE_BACKUP + DURING_BACKUP + AFTER_BACKUP)

static const char secret[] = "backup-test-github-secret";

/* The URLs of database `name` on the cluster in `dir` at `port`. */
static void cluster_db(struct mh_it_db *db, const char *dir, int port, const char *name)
{
    snprintf(db->name, sizeof(db->name), "%s", name);
    snprintf(db->app_url, sizeof(db->app_url),
             "postgresql:///%s?host=%s/run&port=%d&user=meshhook_app", name, dir, port);
    snprintf(db->admin_url, sizeof(db->admin_url),
             "postgresql:///%s?host=%s/run&port=%d&user=meshhook", name, dir, port);
}

static const char *super_url(char *buf, size_t cap, const char *dir, int port)
{
    snprintf(buf, cap, "postgresql:///postgres?host=%s/run&port=%d&user=postgres", dir, port);
    return buf;
}

static json_t *super_row(const char *dir, int port, const char *sql)
{
    char url[512];
    json_t *rows = mh_it_sql(super_url(url, sizeof(url), dir, port), sql, 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    json_t *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return row;
}

/* Sends one webhook signed with the endpoint's GitHub secret; expects 202 and keeps its run id. */
static void send_signed(struct ienv *e, const char *pub, int n, json_t *ids)
{
    char body[128], hex[100], sig[160];
    snprintf(body, sizeof(body), "{\"n\": %d, \"phase\": \"backup\"}", n);
    openssl_hmac(e, "sha256", secret, body, strlen(body), false, hex, sizeof(hex));
    snprintf(sig, sizeof(sig), "X-Hub-Signature-256: sha256=%s", hex);
    const char *h[] = {"Content-Type: application/json", sig, "X-GitHub-Event: push", NULL};
    struct mh_it_resp r;
    long st = hook(e, pub, "POST", h, body, strlen(body), &r);
    const char *id = json_string_value(json_object_get(r.json, "run_id"));
    if (st != 202 || !id)
        mh_t_fail(__FILE__, __LINE__, "webhook %d: %ld %s", n, st, r.body ? r.body : "");
    json_array_append_new(ids, json_string(id));
    mh_it_resp_cleanup(&r);
}

static long count_ids(const struct mh_it_db *db, json_t *ids)
{
    char *list = json_dumps(ids, JSON_COMPACT);
    const char *p[] = {list};
    json_t *rows = mh_it_sql(db->admin_url,
                             "SELECT count(*) AS n FROM runs WHERE id::text IN (SELECT "
                             "json_array_elements_text($1::json))",
                             1, p, NULL);
    free(list);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

static long count_sql(const struct mh_it_db *db, const char *sql)
{
    json_t *rows = mh_it_sql(db->admin_url, sql, 0, NULL, NULL);
    MH_T_ASSERT(rows != NULL);
    long n = (long)json_integer_value(json_object_get(json_array_get(rows, 0), "n"));
    json_decref(rows);
    return n;
}

MH_TEST(base_backup_and_wal_archive_restore_to_a_named_point)
{
    if (!getenv("MESHHOOK_SUPER_DATABASE_URL"))
        MH_T_SKIP("no test PostgreSQL cluster (run through tests/run.sh)");
    char root[] = "/tmp/mh-it-backup.XXXXXX";
    MH_T_ASSERT(mkdtemp(root) != NULL);
    MH_T_ASSERT_EQ(chmod(root, 0755), 0);
    char old_dir[128], new_dir[128], archive[128], base[128];
    snprintf(old_dir, sizeof(old_dir), "%s/old", root);
    snprintf(new_dir, sizeof(new_dir), "%s/new", root);
    snprintf(archive, sizeof(archive), "%s/archive", root);
    snprintf(base, sizeof(base), "%s/base", root);
    shell(false, "mkdir -p %s %s %s && (chown postgres %s %s %s 2>/dev/null || true)", archive,
          base, new_dir, archive, base, new_dir);
    char cleanup[1024];
    snprintf(cleanup, sizeof(cleanup),
             "for d in %s/old/data %s/new/data; do [ -f $d/postmaster.pid ] && kill -9 $(head -n 1 "
             "$d/postmaster.pid); done; sleep 1; rm -rf %s",
             root, root, root);
    cluster_guard(cleanup);
    int old_port = mh_it_free_port();
    shell(false,
          "MH_PG_FAST=1 MH_PG_SHARED_BUFFERS=32MB MH_PG_ARCHIVE=%s sh %s/scripts/pg.sh start %s %d",
          archive, mh_t_repo_dir(), old_dir, old_port);

    /* MeshHook on the archived cluster: the helpers create their database where the
     * environment points. */
    struct mh_it_db tmpl;
    cluster_db(&tmpl, old_dir, old_port, "postgres");
    char url[512];
    setenv("MESHHOOK_SUPER_DATABASE_URL", super_url(url, sizeof(url), old_dir, old_port), 1);
    setenv("MESHHOOK_DATABASE_URL", tmpl.app_url, 1);
    setenv("MESHHOOK_ADMIN_DATABASE_URL", tmpl.admin_url, 1);
    unsetenv("MH_IT_TEMPLATE_DB"); /* that cluster has no migrated template: each migrates */
    struct ienv e;
    ienv_setup(&e, NULL);
    json_t *ep = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}, \"key\": "
                                   "{\"secret\": \"backup-test-github-secret\"}}");
    const char *pub = jstr(ep, "public_id");
    json_t *kept = json_array(), *lost = json_array();
    int n = 0;
    for (int i = 0; i < BEFORE_BACKUP; i++)
        send_signed(&e, pub, n++, kept);

    /* The base backup, with webhooks arriving meanwhile; its WAL comes from the archive. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "%s sh -c '%s/pg_basebackup -h %s/run -p %d -U postgres -D %s/data -X none "
             "--checkpoint=fast' 2>&1",
             getuid() == 0 ? "runuser -u postgres --" : "", pg_bindir(), old_dir, old_port, base);
    FILE *backup = popen(cmd, "r");
    MH_T_ASSERT(backup != NULL);
    for (int i = 0; i < DURING_BACKUP; i++)
        send_signed(&e, pub, n++, kept);
    char out[2048];
    size_t got = fread(out, 1, sizeof(out) - 1, backup);
    out[got] = '\0';
    int bst = pclose(backup);
    if (bst != 0)
        mh_t_fail(__FILE__, __LINE__, "pg_basebackup failed (%d): %s", bst, out);

    for (int i = 0; i < AFTER_BACKUP; i++)
        send_signed(&e, pub, n++, kept);
    long audit_at_point = count_sql(&e.db, "SELECT count(*) AS n FROM audit_log");
    /* The point to recover to: every 202 above was answered after its COMMIT. */
    json_decref(super_row(old_dir, old_port, "SELECT pg_create_restore_point('mh_backup_test')"));
    for (int i = 0; i < AFTER_POINT; i++)
        send_signed(&e, pub, n++, lost);
    /* An endpoint created after the point must be gone too. */
    json_t *late = ienv_endpoint(&e, "{\"verification\": {\"scheme\": \"github\"}, \"key\": "
                                     "{\"secret\": \"a-later-secret-for-later-endpoint\"}}");
    MH_T_ASSERT_EQ(count_ids(&e.db, lost), AFTER_POINT);
    MH_T_ASSERT(count_sql(&e.db, "SELECT count(*) AS n FROM audit_log") > audit_at_point);

    /* Close the segment that holds the point and wait until the archive has it. */
    json_t *seg =
        super_row(old_dir, old_port, "SELECT pg_walfile_name(pg_switch_wal()) AS segment");
    const char *segment = jstr(seg, "segment");
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", archive, segment);
    struct stat sb;
    for (int i = 0; i < 200 && stat(path, &sb) != 0; i++)
        mh_it_sleep_ms(25);
    MH_T_ASSERT_EQ(stat(path, &sb), 0);
    json_decref(seg);

    /* The disaster: the server dies and the cluster is gone. */
    MH_T_ASSERT_EQ(mh_it_server_stop(&e.s, SIGKILL), 128 + SIGKILL);
    shell(false, "sh %s/scripts/pg.sh stop %s && rm -rf %s", mh_t_repo_dir(), old_dir, old_dir);

    /* The restore: the base backup into a new cluster, recovery from the archive up to the
     * named restore point, then promotion. */
    int new_port = mh_it_free_port();
    char conf[256];
    snprintf(conf, sizeof(conf), "%s/recovery.conf", root);
    FILE *f = fopen(conf, "w");
    MH_T_ASSERT(f != NULL);
    fprintf(f,
            "port = %d\nunix_socket_directories = '%s/run'\narchive_mode = off\n"
            "restore_command = 'cp %s/%%f %%p'\nrecovery_target_name = 'mh_backup_test'\n"
            "recovery_target_action = 'promote'\n",
            new_port, new_dir, archive);
    MH_T_ASSERT_EQ(fclose(f), 0);
    MH_T_ASSERT_EQ(chmod(conf, 0644), 0);
    shell(true,
          "mkdir -p %s/run && chmod 700 %s/run && cp -a %s/data %s/data && chmod 700 %s/data && "
          "touch %s/data/recovery.signal && cat %s >> %s/data/postgresql.conf",
          new_dir, new_dir, base, new_dir, new_dir, new_dir, conf, new_dir);
    shell(false, "sh %s/scripts/pg.sh start %s %d", mh_t_repo_dir(), new_dir, new_port);
    bool promoted = false;
    for (int i = 0; i < 400 && !promoted; i++) {
        json_t *r = super_row(new_dir, new_port, "SELECT NOT pg_is_in_recovery() AS up");
        promoted = json_is_true(json_object_get(r, "up"));
        json_decref(r);
        if (!promoted)
            mh_it_sleep_ms(25);
    }
    MH_T_ASSERT(promoted);

    struct ienv r = e;
    cluster_db(&r.db, new_dir, new_port, e.db.name);
    const char *args[] = {"--kek", IT_KEK, NULL};
    mh_it_server_start(&r.s, &r.db, args);

    /* Everything acknowledged before the point is there, nothing after it. */
    MH_T_ASSERT_EQ(count_ids(&r.db, kept), KEPT);
    MH_T_ASSERT_EQ(count_ids(&r.db, lost), 0);
    MH_T_ASSERT_EQ(count_sql(&r.db, "SELECT count(*) AS n FROM runs"), KEPT);
    MH_T_ASSERT_EQ(count_sql(&r.db, "SELECT count(*) AS n FROM webhook_deliveries WHERE outcome "
                                    "= 'accepted'"),
                   KEPT);
    const char *late_id[] = {jstr(late, "id")};
    json_t *gone =
        mh_it_sql(r.db.admin_url, "SELECT count(*) AS n FROM webhook_endpoints WHERE id = $1", 1,
                  late_id, NULL);
    MH_T_ASSERT(gone != NULL);
    MH_T_ASSERT_EQ(json_integer_value(json_object_get(json_array_get(gone, 0), "n")), 0);
    json_decref(gone);
    MH_T_ASSERT_EQ(count_sql(&r.db, "SELECT count(*) AS n FROM audit_log"), audit_at_point);

    /* The restored server finishes what was in flight; every run replays and the audit log's
     * chains verify. */
    const char *done_sql = "SELECT count(*) AS n FROM runs WHERE status = 'succeeded'";
    long done = 0;
    for (int i = 0; i < 600 && done < KEPT; i++) {
        done = count_sql(&r.db, done_sql);
        if (done < KEPT)
            mh_it_sleep_ms(50);
    }
    MH_T_ASSERT_EQ(done, KEPT);
    /* Every run replays (in-process, as itest_crash.c does); a few through the command an
     * operator runs after a restore. */
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_db_connect(r.db.admin_url, &c, &info), MH_OK);
    size_t i;
    json_t *id;
    json_array_foreach(kept, i, id)
    {
        json_t *report = NULL;
        MH_T_ASSERT_EQ(mh_engine_run_replay(c, json_string_value(id), &report, &info), MH_OK);
        if (!json_is_true(json_object_get(report, "ok"))) {
            char *dump = json_dumps(report, 0);
            mh_t_fail(__FILE__, __LINE__, "run %s: %s", json_string_value(id), dump);
        }
        json_decref(report);
        if (i % (KEPT / 3) != 0)
            continue;
        const char *argv[] = {"replay", json_string_value(id), NULL};
        char *out_text = NULL;
        int st = mh_it_run(&r.db, argv, &out_text);
        if (st != 0 || !contains(out_text, "\"ok\": true"))
            mh_t_fail(__FILE__, __LINE__, "meshhook replay %s: %d %s", json_string_value(id), st,
                      out_text ? out_text : "");
        free(out_text);
    }
    mh_db_close(c);
    const char *verify[] = {"audit", "verify", NULL};
    char *vout = NULL;
    int vst = mh_it_run(&r.db, verify, &vout);
    if (vst != 0)
        mh_t_fail(__FILE__, __LINE__, "audit verify: %d %s", vst, vout ? vout : "");
    free(vout);

    /* The signing key, decrypted with the KEK kept apart from the backup, still verifies. */
    json_t *again = json_array();
    send_signed(&r, pub, n++, again);
    MH_T_ASSERT_EQ(count_ids(&r.db, again), 1);
    json_decref(again);

    MH_T_ASSERT_EQ(mh_it_server_stop(&r.s, SIGTERM), 0);
    shell(false, "sh %s/scripts/pg.sh stop %s", mh_t_repo_dir(), new_dir);
    shell(false, "rm -rf %s %s", e.tmp, root);
    json_decref(late);
    json_decref(kept);
    json_decref(lost);
    json_decref(ep);
}
