/* SPDX-License-Identifier: MIT */
/*
 * docs/getting-started.md, executed: every ```sh block of the guide (but the one marked
 * "test: skip", `make run`, which this test replaces with a server of its own) runs as written,
 * in order, in one bash with `set -eu`, in an empty directory holding only a `./meshhook` link to
 * the binary under test. The guide must end with a succeeded run whose output is the order's
 * total, its events, and a delivery log showing the 202.
 */
#include <sys/stat.h>

#include "itest_intake_common.h"

/* The guide's runnable shell blocks, concatenated. New string. */
static char *guide_script(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/docs/getting-started.md", mh_t_repo_dir());
    FILE *f = fopen(path, "r");
    MH_T_ASSERT(f != NULL);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    len = (size_t)snprintf(out, cap, "set -eu\n");
    char line[1024];
    bool in_block = false, skip_next = false, skipping = false;
    int blocks = 0;
    while (fgets(line, sizeof(line), f)) {
        if (!in_block) {
            if (strncmp(line, "<!-- test: skip", 15) == 0)
                skip_next = true;
            if (strcmp(line, "```sh\n") == 0) {
                in_block = true;
                skipping = skip_next;
                skip_next = false;
                blocks += !skipping;
            }
            continue;
        }
        if (strcmp(line, "```\n") == 0) {
            in_block = false;
            continue;
        }
        if (skipping)
            continue;
        size_t n = strlen(line);
        if (len + n + 1 > cap)
            out = realloc(out, cap *= 2);
        memcpy(out + len, line, n + 1);
        len += n;
    }
    fclose(f);
    MH_T_ASSERT(blocks >= 10);
    return out;
}

MH_TEST(getting_started_guide_runs_as_written)
{
    struct mh_it_db db;
    struct mh_it_server s;
    mh_it_db_create(&db, true);
    mh_it_server_start(&s, &db, (const char *const[]){"--kek", IT_KEK, NULL});
    char dir[] = "/tmp/mh-guide.XXXXXX";
    MH_T_ASSERT(mkdtemp(dir) != NULL);
    char link_path[256], script_path[256], bin[512];
    const char *b = getenv("MH_MESHHOOK_BIN");
    MH_T_ASSERT(b != NULL && realpath(b, bin) != NULL);
    snprintf(link_path, sizeof(link_path), "%s/meshhook", dir);
    MH_T_ASSERT(symlink(bin, link_path) == 0);
    char *script = guide_script();
    snprintf(script_path, sizeof(script_path), "%s/guide.sh", dir);
    FILE *f = fopen(script_path, "w");
    MH_T_ASSERT(f != NULL);
    fputs(script, f);
    fclose(f);
    free(script);

    setenv("MH", s.base, 1);
    setenv("MESHHOOK_DATABASE_URL", db.app_url, 1);
    setenv("MESHHOOK_ADMIN_DATABASE_URL", db.admin_url, 1);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cd '%s' && bash guide.sh 2>&1", dir);
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    size_t cap = 1 << 16, len = 0, n;
    char *out = malloc(cap);
    while ((n = fread(out + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (len + 1 >= cap)
            out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    int st = pclose(p);
    if (st != 0)
        mh_t_fail(__FILE__, __LINE__, "the guide failed (%d):\n%s", st, out);
    if (getenv("MH_GUIDE_SHOW"))
        fprintf(stderr, "%s\n", out);
    /* The published version, the run's status and output, its events, the delivery log. */
    MH_T_ASSERT(contains(out, "\"status\": \"succeeded\""));
    MH_T_ASSERT(contains(out, "\"order\": \"A-1001\""));
    MH_T_ASSERT(contains(out, "\"total\": 19.75"));
    MH_T_ASSERT(contains(out, "[1,\"run_started\",null]"));
    MH_T_ASSERT(contains(out, "run_succeeded"));
    MH_T_ASSERT(contains(out, "[202,\"accepted\","));
    /* The secret and the signature never show up in what the guide printed. */
    char secret_path[300], secret[200];
    snprintf(secret_path, sizeof(secret_path), "%s/webhook-secret.txt", dir);
    f = fopen(secret_path, "r");
    MH_T_ASSERT(f != NULL && fgets(secret, sizeof(secret), f) != NULL);
    fclose(f);
    secret[strcspn(secret, "\n")] = '\0';
    MH_T_ASSERT(strlen(secret) > 20 && !contains(out, secret));
    char *log = mh_it_server_log(&s);
    MH_T_ASSERT(!contains(log, secret));
    free(log);
    free(out);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    p = popen(cmd, "r");
    pclose(p);
    MH_T_ASSERT_EQ(mh_it_server_stop(&s, SIGTERM), 0);
}
