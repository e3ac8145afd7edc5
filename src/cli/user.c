/* SPDX-License-Identifier: MIT */
/*
 * `meshhook user create|count`: the first user of a fresh install is made here, since public
 * sign-up is off by default. The password comes from standard input (prompted without echo on a
 * terminal), never from the command line, where other users could read it in the process list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/config.h"
#include "core/text.h"
#include "crypto/crypto.h"
#include "crypto/password.h"
#include "db/db.h"
#include "users/users.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: meshhook user create --email EMAIL [--name NAME]\n"
                 "       meshhook user count\n\n"
                 "create reads the password from standard input (prompting on a terminal).\n"
                 "count prints how many users exist and exits 1 when there are none.\n"
                 "Both use --database-url URL or MESHHOOK_DATABASE_URL (see `meshhook serve "
                 "--help`).\n");
}

/* Reads one line into buf (without the newline); echo is off when stdin is a terminal. */
static bool read_password(const char *prompt, char *buf, size_t cap)
{
    bool is_tty = isatty(STDIN_FILENO);
    struct termios old, quiet;
    if (is_tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    if (is_tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!ok)
        return false;
    buf[strcspn(buf, "\r\n")] = '\0';
    return true;
}

static int create(const struct mh_config *cfg, const char *email_in, const char *name)
{
    char email[MH_TEXT_EMAIL_MAX_BYTES + 1];
    if (email_in == NULL || !mh_text_lower(email_in, email, sizeof(email)) ||
        !mh_text_is_email(email)) {
        fprintf(stderr, "meshhook user create: --email must be an e-mail address\n");
        return 2;
    }
    /* One byte more than a password may have, so a longer one is seen, never cut short. */
    char password[MH_CRYPTO_PASSWORD_MAX_LEN + 2], again[MH_CRYPTO_PASSWORD_MAX_LEN + 2];
    int status = 1;
    char *hash = NULL;
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (!read_password("Password: ", password, sizeof(password))) {
        fprintf(stderr, "meshhook user create: no password on standard input\n");
        goto out;
    }
    if (strlen(password) > MH_CRYPTO_PASSWORD_MAX_LEN) {
        fprintf(stderr, "meshhook user create: the password may have at most %u bytes\n",
                MH_CRYPTO_PASSWORD_MAX_LEN);
        status = 2;
        goto out;
    }
    if (isatty(STDIN_FILENO)) {
        if (!read_password("Again: ", again, sizeof(again)) || strcmp(again, password) != 0) {
            fprintf(stderr, "meshhook user create: the passwords differ\n");
            goto out;
        }
    }
    if (mh_users_password_chars(password) < MH_USERS_MIN_PASSWORD_CHARS) {
        fprintf(stderr, "meshhook user create: the password needs at least %d characters\n",
                MH_USERS_MIN_PASSWORD_CHARS);
        status = 2;
        goto out;
    }
    if (mh_users_hash_password(cfg, password, &hash) != MH_OK) {
        fprintf(stderr, "meshhook user create: could not hash the password\n");
        goto out;
    }
    if (mh_db_connect(cfg->database_url, &c, &info) != MH_OK) {
        fprintf(stderr, "meshhook user create: %s\n", info.message);
        goto out;
    }
    char id[MH_CRYPTO_UUID_STR_LEN];
    char stored[MH_TEXT_EMAIL_MAX_BYTES * 3 + 1]; /* lower() may lengthen non-ASCII letters */
    enum mh_err rc = mh_users_insert(c, email, hash, name, id, stored, sizeof(stored), &info);
    if (rc == MH_ECONFLICT) {
        fprintf(stderr, "meshhook user create: a user with that e-mail already exists\n");
        goto out;
    }
    if (rc != MH_OK) {
        fprintf(stderr, "meshhook user create: %s\n", info.message);
        goto out;
    }
    printf("created user %s (%s)\n", stored, id);
    printf("log in: curl -si -X POST http://127.0.0.1:%d/api/auth/login -H 'Content-Type: "
           "application/json' -d '{\"email\": \"%s\", \"password\": \"...\"}'\n",
           cfg->port, stored);
    status = 0;
out:
    mh_crypto_wipe(password, sizeof(password));
    mh_crypto_wipe(again, sizeof(again));
    free(hash);
    mh_db_close(c);
    return status;
}

static int count(const struct mh_config *cfg)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *row = NULL;
    if (mh_db_connect(cfg->database_url, &c, &info) != MH_OK ||
        mh_db_query_row(c, "SELECT mh_user_count() AS n", 0, NULL, &row, &info) != MH_OK) {
        fprintf(stderr, "meshhook user count: %s\n", info.message);
        mh_db_close(c);
        return 2;
    }
    long long n = json_integer_value(json_object_get(row, "n"));
    printf("%lld\n", n);
    json_decref(row);
    mh_db_close(c);
    return n > 0 ? 0 : 1;
}

int mh_cli_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    const char *email = NULL, *name = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--email") == 0 && i + 1 < argc)
            email = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
            name = argv[++i];
        else
            rest[nrest++] = argv[i];
    }
    struct mh_config cfg;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_config_load(&cfg, nrest, rest, NULL, NULL, &info) != MH_OK) {
        fprintf(stderr, "meshhook user: %s\n", info.message);
        free(rest);
        return 2;
    }
    free(rest);
    int status = 2;
    if (cfg.database_url[0] == '\0')
        fprintf(stderr, "meshhook user: set MESHHOOK_DATABASE_URL (or run from a checkout "
                        "where `make run` keeps its database)\n");
    else if (strcmp(sub, "create") == 0)
        status = create(&cfg, email, name);
    else if (strcmp(sub, "count") == 0)
        status = count(&cfg);
    else
        usage(stderr);
    mh_config_cleanup(&cfg);
    return status;
}
