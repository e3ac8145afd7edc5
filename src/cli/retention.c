/* SPDX-License-Identifier: MIT */
/*
 * `meshhook retention [--dry-run]`: one retention pass now, with the server's retention_*
 * settings as the defaults of projects that chose none, printing what it removed per project
 * and kind and the event partitions it dropped. --dry-run removes nothing and prints what the
 * pass would remove, in the same form. Exits 1 when the pass fails or another one is running.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/mem.h"
#include "db/db.h"
#include "retention/retention.h"

int mh_cli_retention(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: meshhook retention [--dry-run] [options]\n\n"
               "Removes, once, the runs, deliveries, dead letters and blobs past their project's\n"
               "retention (or the retention_*_days defaults) and drops wholly expired event\n"
               "partitions, in batches of retention_batch_rows. --dry-run prints what would go\n"
               "and removes nothing. Unfinished runs are never removed.\n");
        return 0;
    }
    bool is_dry_run = false;
    char **rest = mh_xcalloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0)
            is_dry_run = true;
        else
            rest[nrest++] = argv[i];
    }
    struct mh_config cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_config_load(&cfg, nrest, rest, NULL, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook retention: %s\n", info.message);
        free(rest);
        return 2;
    }
    free(rest);
    const char *url = cfg.database_url[0] ? cfg.database_url : cfg.admin_database_url;
    if (url[0] == '\0') {
        fprintf(stderr, "meshhook retention: set MESHHOOK_DATABASE_URL or --database-url\n");
        mh_config_cleanup(&cfg);
        return 2;
    }
    struct mh_retention_opts opts;
    mh_retention_opts_from_config(&cfg, &opts);
    struct mh_db_conn *c = NULL;
    json_t *report = NULL;
    enum mh_err rc = mh_db_connect(url, &c, &info);
    if (rc == MH_OK)
        rc = mh_retention_pass(c, &opts, is_dry_run, NULL, &report, &info);
    if (report)
        mh_retention_print(report, stdout);
    if (rc != MH_OK)
        fprintf(stderr, "meshhook retention: %s\n",
                info.message[0] ? info.message : mh_strerror(rc));
    json_decref(report);
    mh_db_close(c);
    mh_config_cleanup(&cfg);
    return rc == MH_OK ? 0 : 1;
}
