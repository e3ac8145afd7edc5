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
/* The most verbose level of any module: a line above it is dropped without looking further, so
 * per-module levels cost a disabled line nothing more unless some module logs at its level. */
static _Atomic int g_max_level = MH_LOG_INFO;
static _Atomic bool g_json = false;
/* Per-module overrides: written by mh_log_configure_spec before threads start, read after. */
static struct mh_log_spec g_spec;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const module_names[] = {
    "cli",  "core", "crypto",  "db",       "engine", "http",  "intake", "jmespath",
    "main", "mhd",  "metrics", "outbound", "redact", "regex", "schema", "secrets"};

void mh_log_configure(enum mh_log_level level, bool json)
{
    struct mh_log_spec spec = {.level = level, .n = 0};
    mh_log_configure_spec(&spec, json);
}

void mh_log_configure_spec(const struct mh_log_spec *spec, bool json)
{
    int max = (int)spec->level;
    g_spec = *spec;
    for (size_t i = 0; i < spec->n; i++)
        if ((int)spec->modules[i].level > max)
            max = (int)spec->modules[i].level;
    atomic_store(&g_level, (int)spec->level);
    atomic_store(&g_max_level, max);
    atomic_store(&g_json, json);
}

static bool is_module(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(module_names) / sizeof(module_names[0]); i++)
        if (strlen(module_names[i]) == n && strncmp(module_names[i], s, n) == 0)
            return true;
    return false;
}

static bool level_of(const char *s, size_t n, enum mh_log_level *out)
{
    char buf[8];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return mh_log_level_parse(buf, out);
}

enum mh_err mh_log_spec_parse(const char *s, struct mh_log_spec *out, struct mh_err_info *info)
{
    struct mh_log_spec spec = {.level = MH_LOG_INFO, .n = 0};
    bool has_default = false;
    const char *p = s;
    for (;;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, ",");
        size_t trimmed = len;
        while (trimmed > 0 && p[trimmed - 1] == ' ')
            trimmed--;
        const char *eq = memchr(p, '=', trimmed);
        enum mh_log_level lv;
        if (eq == NULL) {
            if (has_default || !level_of(p, trimmed, &lv))
                return mh_err_set(info, MH_EINVAL, "config", -1, "log_level: '%.*s' is not %s",
                                  (int)(trimmed > 40 ? 40 : trimmed), p,
                                  has_default ? "a MODULE=LEVEL entry (the default level is given "
                                                "once)"
                                              : "one of error, warn, info, debug, trace, or "
                                                "MODULE=LEVEL");
            spec.level = lv;
            has_default = true;
        } else {
            size_t mlen = (size_t)(eq - p);
            while (mlen > 0 && p[mlen - 1] == ' ')
                mlen--;
            const char *lvs = eq + 1;
            while (*lvs == ' ')
                lvs++;
            if (!is_module(p, mlen))
                return mh_err_set(info, MH_EINVAL, "config", -1,
                                  "log_level: '%.*s' is not a module (cli, core, crypto, db, "
                                  "engine, http, intake, jmespath, main, mhd, metrics, outbound, "
                                  "redact, regex, schema, secrets)",
                                  (int)(mlen > 40 ? 40 : mlen), p);
            if (!level_of(lvs, (size_t)(p + trimmed - lvs), &lv))
                return mh_err_set(info, MH_EINVAL, "config", -1,
                                  "log_level: the level of module '%.*s' must be one of error, "
                                  "warn, info, debug, trace",
                                  (int)mlen, p);
            for (size_t i = 0; i < spec.n; i++)
                if (strlen(spec.modules[i].module) == mlen &&
                    strncmp(spec.modules[i].module, p, mlen) == 0)
                    return mh_err_set(info, MH_EINVAL, "config", -1,
                                      "log_level: module '%.*s' is given twice", (int)mlen, p);
            snprintf(spec.modules[spec.n].module, sizeof(spec.modules[spec.n].module), "%.*s",
                     (int)mlen, p);
            spec.modules[spec.n++].level = lv;
        }
        if (p[len] == '\0')
            break;
        p += len + 1;
    }
    *out = spec;
    return MH_OK;
}

bool mh_log_enabled_for(enum mh_log_level level, const char *module)
{
    int lv = (int)level;
    if (lv > atomic_load_explicit(&g_max_level, memory_order_relaxed))
        return false;
    if (module != NULL)
        for (size_t i = 0; i < g_spec.n; i++)
            if (strcmp(g_spec.modules[i].module, module) == 0)
                return lv <= (int)g_spec.modules[i].level;
    return lv <= atomic_load_explicit(&g_level, memory_order_relaxed);
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
    return (int)level <= atomic_load_explicit(&g_max_level, memory_order_relaxed);
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
