/* SPDX-License-Identifier: MIT */
/*
 * How long the disk takes to make 8 KiB durable, while something else loads it: every 2 ms, for
 * the given number of seconds, overwrite 8 KiB of a 16 MiB file and fdatasync it, as a WAL
 * commit does. Prints the latencies' p50, p99, p99.9 and maximum, and each second in which one
 * took 50 ms or more. bench/intake/run.sh runs it beside the intake (FSYNC_PROBE=1), so that a
 * stall of the intake's commits can be told apart from a stall of the disk under them.
 *
 *   fsync_probe SECONDS FILE
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { BLOCK = 8192, SPAN = 16 << 20, PAUSE_US = 2000, SLOW_MS = 50, MAX_SAMPLES = 1 << 20 };

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fsync_probe SECONDS FILE\n");
        return 2;
    }
    double seconds = strtod(argv[1], NULL);
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, SPAN) != 0 || fsync(fd) != 0) {
        perror(argv[2]);
        return 1;
    }
    static char block[BLOCK];
    memset(block, 'x', sizeof(block));
    double *ms = malloc(sizeof(*ms) * MAX_SAMPLES);
    if (ms == NULL)
        return 1;
    size_t n = 0;
    off_t off = 0;
    time_t last_slow = 0;
    double start = now_s();
    while (now_s() - start < seconds && n < MAX_SAMPLES) {
        double t0 = now_s();
        if (pwrite(fd, block, sizeof(block), off) != (ssize_t)sizeof(block) || fdatasync(fd) != 0) {
            perror("write");
            break;
        }
        double took = (now_s() - t0) * 1e3;
        ms[n++] = took;
        off = (off + BLOCK) % SPAN;
        time_t wall = time(NULL);
        if (took >= SLOW_MS && wall != last_slow) {
            char when[16];
            strftime(when, sizeof(when), "%H:%M:%S", localtime(&wall));
            printf("  fsync probe: %.0f ms at %s\n", took, when);
            last_slow = wall;
        }
        usleep(PAUSE_US);
    }
    close(fd);
    unlink(argv[2]);
    if (n == 0) {
        free(ms);
        return 1;
    }
    qsort(ms, n, sizeof(*ms), by_value);
    printf("  %-44s p50 %.2f ms  p99 %.2f ms  p99.9 %.2f ms  max %.1f ms (%zu writes)\n",
           "fsync probe, 8 KiB + fdatasync every 2 ms", ms[n / 2], ms[n * 99 / 100],
           ms[n * 999 / 1000], ms[n - 1], n);
    free(ms);
    return 0;
}
