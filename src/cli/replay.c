/* SPDX-License-Identifier: MIT */
/*
 * `meshhook replay RUN_ID`: verifies a run's hash chain (and that it still ends where the run
 * says), re-folds its log and re-evaluates every pure step on the recorded inputs. Prints the
 * report as JSON and exits 0 when everything reproduces byte for byte, 1 on any divergence or
 * broken link, 2 on a usage or connection error. Runs as the schema owner, who sees every
 * project.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "db/db.h"
#include "runtime/store.h"

int mh_cli_replay(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fprintf(argc < 2 ? stderr : stdout, "usage: meshhook replay RUN_ID\n\n"
                                            "Verifies and re-evaluates a run; exits 1 on any "
                                            "divergence.\n");
        return argc < 2 ? 2 : 0;
    }
    const char *run_id = argv[1];
    struct mh_config cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_config_load(&cfg, argc - 2, argv + 2, NULL, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook replay: %s\n", info.message);
        return 2;
    }
    int status = 2;
    struct mh_db_conn *c = NULL;
    json_t *report = NULL;
    if (mh_db_connect(cfg.admin_database_url, &c, &info) != MH_OK) {
        fprintf(stderr, "meshhook replay: %s\n", info.message);
        goto out;
    }
    enum mh_err rc = mh_engine_run_replay(c, run_id, &report, &info);
    if (rc != MH_OK) {
        fprintf(stderr, "meshhook replay: %s\n", info.message[0] ? info.message : mh_strerror(rc));
        status = rc == MH_ENOTFOUND ? 1 : 2;
        goto out;
    }
    char *s = json_dumps(report, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", s);
    free(s);
    status = json_is_true(json_object_get(report, "ok")) ? 0 : 1;
out:
    json_decref(report);
    mh_db_close(c);
    mh_config_cleanup(&cfg);
    return status;
}
