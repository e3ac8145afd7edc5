/* SPDX-License-Identifier: MIT */
/*
 * The logger formats the whole line into a stack buffer and emits it with one write(2), so lines
 * from concurrent threads never interleave. JSON mode escapes the message per RFC 8259.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int g_level = MH_LOG_INFO;
static _Atomic bool g_json = false;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void mh_log_configure(enum mh_log_level level, bool json)
{
    atomic_store(&g_level, (int)level);
    atomic_store(&g_json, json);
}

bool mh_log_level_parse(const char *s, enum mh_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum mh_log_level)i;
            return true;
        }
    }
    return false;
}

bool mh_log_enabled(enum mh_log_level level)
{
    return (int)level <= atomic_load_explicit(&g_level, memory_order_relaxed);
}

static size_t json_escape(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p && o + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c == '\n') {
            dst[o++] = '\\';
            dst[o++] = 'n';
        } else if (c < 0x20) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
    return o;
}

void mh_log_write(enum mh_log_level level, const char *module, const char *req_id, const char *fmt,
                  ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[40];
    size_t tl = strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tbuf + tl, sizeof(tbuf) - tl, ".%03ldZ", ts.tv_nsec / 1000000);

    const char *lvl = level_names[level <= MH_LOG_TRACE ? level : MH_LOG_TRACE];
    char line[2600];
    int n;
    if (atomic_load(&g_json)) {
        char esc[2400];
        json_escape(esc, sizeof(esc), msg);
        if (req_id)
            n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"req\":\"%s\","
                         "\"msg\":\"%s\"}\n",
                         tbuf, lvl, module, req_id, esc);
        else
            n = snprintf(line, sizeof(line),
                         "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"msg\":\"%s\"}\n",
                         tbuf, lvl, module, esc);
    } else if (req_id) {
        n = snprintf(line, sizeof(line), "%s %-5s %s req=%s %s\n", tbuf, lvl, module, req_id, msg);
    } else {
        n = snprintf(line, sizeof(line), "%s %-5s %s %s\n", tbuf, lvl, module, msg);
    }
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (line[len - 1] != '\n')
        line[len - 1] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}
