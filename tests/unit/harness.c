/* SPDX-License-Identifier: MIT */
/*
 * Runner for the unit harness: forks one child per case with a timeout (MH_T_TIMEOUT seconds,
 * default 60) and reports per case. Arguments name cases to run (all when none).
 */
#include "harness.h"

#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CASES 1024
#define EXIT_SKIP 77

struct tcase {
    const char *name;
    mh_t_fn fn;
};

static struct tcase cases[MAX_CASES];
static int ncases;

void mh_t_register(const char *name, mh_t_fn fn)
{
    if (ncases < MAX_CASES)
        cases[ncases++] = (struct tcase){name, fn};
}

void mh_t_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

void mh_t_skip(const char *why)
{
    fprintf(stderr, "    skipped: %s\n", why);
    fflush(stderr);
    exit(EXIT_SKIP);
}

static char repo_dir[PATH_MAX];
static char shared_dir[PATH_MAX + 16];

const char *mh_t_repo_dir(void)
{
    if (repo_dir[0])
        return repo_dir;
    const char *env = getenv("MH_REPO_DIR");
    if (env)
        snprintf(repo_dir, sizeof(repo_dir), "%s", env);
    else if (getcwd(repo_dir, sizeof(repo_dir)) == NULL)
        snprintf(repo_dir, sizeof(repo_dir), ".");
    return repo_dir;
}

size_t mh_t_each_corpus_file(const char *target,
                             void (*fn)(const char *name, const uint8_t *data, size_t len,
                                        void *ctx),
                             void *ctx)
{
    char dir[PATH_MAX], path[PATH_MAX * 2];
    snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", mh_t_repo_dir(), target);
    DIR *d = opendir(dir);
    if (d == NULL)
        mh_t_fail(__FILE__, __LINE__, "no corpus at %s", dir);
    size_t count = 0;
    uint8_t *buf = malloc(64 * 1024);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            mh_t_fail(__FILE__, __LINE__, "cannot open %s", path);
        size_t len = fread(buf, 1, 64 * 1024, f);
        fclose(f);
        fn(e->d_name, buf, len, ctx);
        count++;
    }
    free(buf);
    closedir(d);
    return count;
}

const char *mh_t_shared_dir(void)
{
    const char *env = getenv("MH_SHARED_DIR");
    if (env)
        snprintf(shared_dir, sizeof(shared_dir), "%s", env);
    else
        snprintf(shared_dir, sizeof(shared_dir), "%s/../shared", mh_t_repo_dir());
    struct stat st;
    if (stat(shared_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return shared_dir;
}

static bool selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return true;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    int timeout = 60;
    const char *t = getenv("MH_T_TIMEOUT");
    if (t)
        timeout = (int)strtol(t, NULL, 10);
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ncases; i++) {
        if (!selected(cases[i].name, argc, argv))
            continue;
        fflush(stdout);
        fflush(stderr);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        pid_t pid = fork();
        if (pid == 0) {
            alarm((unsigned)timeout);
            cases[i].fn();
            fflush(stdout);
            exit(0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            printf("ok   %s (%.2f s)\n", cases[i].name, secs);
            passed++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
            printf("skip %s\n", cases[i].name);
            skipped++;
        } else {
            if (WIFSIGNALED(status))
                printf("FAIL %s (signal %d%s)\n", cases[i].name, WTERMSIG(status),
                       WTERMSIG(status) == SIGALRM ? ": timed out" : "");
            else
                printf("FAIL %s (exit %d)\n", cases[i].name, WEXITSTATUS(status));
            failed++;
        }
    }
    printf("%s: %d passed, %d failed, %d skipped\n", prog, passed, failed, skipped);
    return failed ? 1 : 0;
}
