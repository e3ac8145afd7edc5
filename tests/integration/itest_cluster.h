/* SPDX-License-Identifier: MIT */
/*
 * For the tests that run PostgreSQL clusters of their own (itest_backup.c, itest_ha.c): shell
 * commands run as the clusters' owner (Debian's `postgres` user when the tests run as root,
 * since initdb and postgres refuse root), and the server binaries' directory.
 */
#ifndef MH_TESTS_ITEST_CLUSTER_H
#define MH_TESTS_ITEST_CLUSTER_H

#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "itest.h"

/* Runs a shell command, as the clusters' owner when `as_pg`; fails the test with its output when
 * it exits non-zero. */
__attribute__((unused, format(printf, 2, 3))) static void shell(bool as_pg, const char *fmt, ...)
{
    char inner[3072], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(inner, sizeof(inner), fmt, ap);
    va_end(ap);
    if (as_pg && getuid() == 0)
        snprintf(cmd, sizeof(cmd), "runuser -u postgres -- sh -c \"%s\" 2>&1", inner);
    else
        snprintf(cmd, sizeof(cmd), "sh -c \"%s\" 2>&1", inner);
    FILE *p = popen(cmd, "r");
    MH_T_ASSERT(p != NULL);
    /* All of the output is read (a command writing into a closed pipe would die of SIGPIPE);
     * the last 2 KiB are kept for the failure message. */
    char out[2048], chunk[1024];
    size_t n = 0, got;
    while ((got = fread(chunk, 1, sizeof(chunk), p)) > 0) {
        if (n + got > sizeof(out) - 1) {
            size_t drop = n + got - (sizeof(out) - 1);
            drop = drop > n ? n : drop;
            memmove(out, out + drop, n - drop);
            n -= drop;
        }
        memcpy(out + n, chunk, got);
        n += got;
    }
    out[n] = '\0';
    int st = pclose(p);
    if (st != 0)
        mh_t_fail(__FILE__, __LINE__, "command failed (%d): %s\n%s", st, cmd, out);
}

/* The newest PostgreSQL server binaries' directory (as scripts/pg.sh finds it). */
__attribute__((unused)) static const char *pg_bindir(void)
{
    static char dir[256];
    if (!dir[0]) {
        FILE *p = popen("ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1", "r");
        MH_T_ASSERT(p != NULL);
        if (fgets(dir, sizeof(dir), p) == NULL)
            dir[0] = '\0';
        pclose(p);
        dir[strcspn(dir, "\n")] = '\0';
        MH_T_ASSERT(dir[0] != '\0');
    }
    return dir;
}

/* Starts a process that waits for this one to exit, however it exits (a failed assertion ends a
 * test with _exit), then runs `cleanup` (a shell script): the clusters a test started never
 * outlive it. */
__attribute__((unused)) static void cluster_guard(const char *cleanup)
{
    char script[4096];
    snprintf(script, sizeof(script), "while kill -0 %d 2>/dev/null; do sleep 0.5; done; %s",
             (int)getpid(), cleanup);
    pid_t pid = fork();
    MH_T_ASSERT(pid >= 0);
    if (pid == 0) {
        setsid();
        int fd = open("/dev/null", O_RDWR);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/bin/sh", "sh", "-c", script, (char *)NULL);
        _exit(127);
    }
}

#endif
