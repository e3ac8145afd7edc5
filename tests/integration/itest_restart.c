/* SPDX-License-Identifier: MIT */
/*
 * Surviving a database restart: stopping PostgreSQL turns /readyz into 503 (quickly, never a
 * hang), starting it again brings 200 back without restarting MeshHook. This test stops and
 * restarts the shared test cluster, and always starts it again before it ends.
 */
#include <signal.h>

#include "itest.h"

static void pg_ctl(const char *action)
{
    const char *dir = getenv("MH_PG_DIR");
    const char *port = getenv("MH_PG_PORT");
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "sh %s/scripts/pg.sh %s %s %s >/dev/null 2>&1", mh_t_repo_dir(),
             action, dir, port ? port : "");
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    MH_T_ASSERT_EQ(pclose(p), 0);
}

static long readyz(const struct mh_it_server *s)
{
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", s->base);
    struct mh_it_resp r;
    mh_it_http("GET", url, NULL, NULL, 0, &r);
    long st = r.status;
    mh_it_resp_cleanup(&r);
    return st;
}

MH_TEST(readyz_follows_the_database_without_a_restart)
{
    if (!getenv("MH_PG_DIR"))
        MH_T_SKIP("no test cluster directory");
    struct mh_it_db db;
    mh_it_db_create(&db, true);
    struct mh_it_server s;
    const char *args[] = {"--pool-wait-ms", "500", NULL};
    mh_it_server_start(&s, &db, args);
    MH_T_ASSERT_EQ(readyz(&s), 200);
    pg_ctl("stop");
    long down = readyz(&s);
    pg_ctl("start");
    MH_T_ASSERT_EQ(down, 503);
    long up = 0;
    for (int i = 0; i < 50 && up != 200; i++) {
        up = readyz(&s);
        if (up != 200)
            mh_it_sleep_ms(100);
    }
    MH_T_ASSERT_EQ(up, 200);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
}
