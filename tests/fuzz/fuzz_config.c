/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target over the command-line side of the configuration (src/core/config.c): any
 * argument list must load or fail with MH_EINVAL and a message, without a crash, a leak or
 * undefined behaviour, and:
 *   - a loaded configuration respects the documented bounds (checked for a few settings);
 *   - printing it (`meshhook serve --print-config`'s output) shows every secret setting as
 *     "[redacted]" or empty, never its value;
 *   - the value given inline to a secret setting (`--kek=...`, `--database-url=...`) has no
 *     say in an error: with every such value replaced, the same error and message come back.
 *
 * Input: the arguments after the subcommand, separated by '\n' (at most 64). The environment
 * is not read from the input: MESHHOOK_* variables are unset first. tests/unit/
 * test_config_fuzz_corpus.c includes this file with MH_FUZZ_NO_ENTRY defined and replays
 * tests/fuzz/corpus/config/ through mh_fuzz_config_one(), which returns 1 when the arguments
 * loaded, else 0.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"

#define MH_FUZZ_CHECK(e)                                                                           \
    do {                                                                                           \
        if (!(e))                                                                                  \
            abort();                                                                               \
    } while (0)

#define MH_FUZZ_MAX_ARGS 64

static const char *const mh_fuzz_secret_names[] = {"database_url", "admin_database_url", "kek",
                                                   "old_keks"};

/* The inline value of `arg` when it sets a secret (--name=value, '-' or '_'), else NULL. */
static const char *mh_fuzz_secret_value(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return NULL;
    const char *eq = strchr(arg, '=');
    if (eq == NULL)
        return NULL;
    size_t n = (size_t)(eq - arg - 2);
    for (size_t i = 0; i < sizeof(mh_fuzz_secret_names) / sizeof(*mh_fuzz_secret_names); i++) {
        const char *s = mh_fuzz_secret_names[i];
        if (strlen(s) != n)
            continue;
        bool same = true;
        for (size_t k = 0; k < n && same; k++)
            same = arg[2 + k] == s[k] || (arg[2 + k] == '-' && s[k] == '_');
        if (same)
            return eq + 1;
    }
    return NULL;
}

int mh_fuzz_config_one(const uint8_t *data, size_t size);

int mh_fuzz_config_one(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < sizeof(mh_fuzz_secret_names) / sizeof(*mh_fuzz_secret_names); i++) {
        char env[64];
        snprintf(env, sizeof(env), "MESHHOOK_%s", mh_fuzz_secret_names[i]);
        for (char *c = env; *c; c++)
            if (*c >= 'a' && *c <= 'z')
                *c = (char)(*c - 'a' + 'A');
        unsetenv(env);
    }
    char *text = malloc(size + 1);
    if (size)
        memcpy(text, data, size);
    text[size] = '\0';
    char *argv[MH_FUZZ_MAX_ARGS + 1];
    int argc = 0;
    for (char *p = text; argc < MH_FUZZ_MAX_ARGS;) {
        argv[argc++] = p;
        char *nl = strchr(p, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    if (size == 0)
        argc = 0;
    argv[argc] = NULL;

    struct mh_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    struct mh_err_info info = MH_ERR_INFO_INIT;
    char *rest[MH_FUZZ_MAX_ARGS + 1];
    int nrest = 0;
    enum mh_err rc = mh_config_load(&cfg, argc, argv, rest, &nrest, &info);
    MH_FUZZ_CHECK(rc == MH_OK || rc == MH_EINVAL);
    int loaded = 0;
    if (rc == MH_OK) {
        loaded = 1;
        MH_FUZZ_CHECK(nrest >= 0 && nrest <= argc);
        MH_FUZZ_CHECK(cfg.port >= 0 && cfg.port <= 65535);
        MH_FUZZ_CHECK(cfg.pool_size >= 1 && cfg.pool_size <= 512);
        MH_FUZZ_CHECK(cfg.http_threads >= 1 && cfg.http_threads <= 1024);
        MH_FUZZ_CHECK(cfg.max_body_bytes >= 1 && cfg.max_body_bytes <= 1073741824L);
        MH_FUZZ_CHECK(cfg.intake_max_batch >= 1);
        char *out = NULL;
        size_t out_len = 0;
        FILE *f = open_memstream(&out, &out_len);
        MH_FUZZ_CHECK(f != NULL);
        mh_config_print(&cfg, f);
        fclose(f);
        for (char *line = out; line && *line;) {
            char *end = strchr(line, '\n');
            MH_FUZZ_CHECK(end != NULL);
            *end = '\0';
            for (size_t i = 0; i < sizeof(mh_fuzz_secret_names) / sizeof(*mh_fuzz_secret_names);
                 i++) {
                size_t n = strlen(mh_fuzz_secret_names[i]);
                if (strncmp(line, mh_fuzz_secret_names[i], n) == 0 &&
                    strncmp(line + n, " = ", 3) == 0)
                    MH_FUZZ_CHECK(line[n + 3] == '\0' || strcmp(line + n + 3, "[redacted]") == 0);
            }
            line = end + 1;
        }
        free(out);
    } else {
        /* The same arguments with every inline secret value replaced must fail alike, with the
         * same message: a secret's value has no say in what an error shows. */
        MH_FUZZ_CHECK(info.message[0] != '\0');
        char *argv2[MH_FUZZ_MAX_ARGS + 1];
        for (int a = 0; a <= argc; a++) {
            const char *v = a < argc ? mh_fuzz_secret_value(argv[a]) : NULL;
            argv2[a] = argv[a];
            if (v != NULL) {
                size_t keep = (size_t)(v - argv[a]);
                argv2[a] = malloc(keep + 2);
                memcpy(argv2[a], argv[a], keep);
                memcpy(argv2[a] + keep, "x", 2);
            }
        }
        struct mh_config cfg2;
        struct mh_err_info info2 = MH_ERR_INFO_INIT;
        int nrest2 = 0;
        MH_FUZZ_CHECK(mh_config_load(&cfg2, argc, argv2, rest, &nrest2, &info2) == rc);
        MH_FUZZ_CHECK(strcmp(info2.message, info.message) == 0);
        for (int a = 0; a < argc; a++)
            if (argv2[a] != argv[a])
                free(argv2[a]);
    }
    mh_config_cleanup(&cfg);
    free(text);
    return loaded;
}

#ifndef MH_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    (void)mh_fuzz_config_one(data, size);
    return 0;
}
#endif
