/* SPDX-License-Identifier: MIT */
/*
 * `meshhook audit verify [--project ID]`: recomputes every audit hash chain (or one project's)
 * as the schema owner, who sees all entries, and lists each edited entry, gap or broken link.
 * Exits 1 when anything is wrong. Detects edits and deletions inside a chain; removing the
 * newest entries of a chain leaves a shorter valid chain, which only an external copy of the
 * latest hash can reveal (the API exposes it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/config.h"
#include "db/db.h"

int mh_cli_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        fprintf(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
                "usage: meshhook audit verify [--project PROJECT_ID]\n");
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    const char *project = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--project") == 0 && i + 1 < argc)
            project = argv[++i];
        else
            rest[nrest++] = argv[i];
    }
    struct mh_config cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    int status = 2;
    if (mh_config_load(&cfg, nrest, rest, NULL, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook audit: %s\n", info.message);
        free(rest);
        return 2;
    }
    free(rest);
    struct mh_db_conn *c = NULL;
    json_t *rows = NULL, *count = NULL;
    const char *params[] = {project};
    if (mh_db_connect(cfg.admin_database_url, &c, &info) != MH_OK ||
        mh_db_query(c, "SELECT project_id, chain_seq, problem FROM mh_audit_verify($1::uuid)", 1,
                    params, &rows, NULL, &info) != MH_OK ||
        mh_db_query_row(c,
                        "SELECT count(*) AS n FROM audit_log WHERE $1::uuid IS NULL OR "
                        "project_id = $1::uuid",
                        1, params, &count, &info) != MH_OK) {
        fprintf(stderr, "meshhook audit verify: %s\n", info.message);
        goto out;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *p = json_string_value(json_object_get(r, "project_id"));
        printf("BROKEN project=%s seq=%lld: %s\n", p ? p : "(none)",
               (long long)json_integer_value(json_object_get(r, "chain_seq")),
               json_string_value(json_object_get(r, "problem")));
    }
    printf("%lld entries checked, %zu problem(s)\n",
           (long long)json_integer_value(json_object_get(count, "n")), json_array_size(rows));
    status = json_array_size(rows) ? 1 : 0;
out:
    json_decref(rows);
    json_decref(count);
    mh_db_close(c);
    mh_config_cleanup(&cfg);
    return status;
}
