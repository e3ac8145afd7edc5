/* SPDX-License-Identifier: MIT */
/*
 * Structured logging: one line per event on stderr, either text
 * (`ts level module [req=..] msg`) or JSON lines. The level is checked before formatting, so a
 * disabled debug line costs a comparison. Never pass secrets, signatures or bodies: log sizes and
 * hashes instead.
 */
#ifndef MH_CORE_LOG_H
#define MH_CORE_LOG_H

#include <stdbool.h>

#include "core/err.h"

enum mh_log_level {
    MH_LOG_ERROR = 0,
    MH_LOG_WARN,
    MH_LOG_INFO,
    MH_LOG_DEBUG,
    MH_LOG_TRACE,
};

/* Modules a log_level setting may name: the folders of src/, plus "main" and "mhd"
 * (libmicrohttpd's own messages). */
#define MH_LOG_MAX_MODULES 24
#define MH_LOG_MODULE_MAX  15

/* A parsed log_level setting: a default level and per-module overrides. */
struct mh_log_spec {
    enum mh_log_level level;
    size_t n;
    struct {
        char module[MH_LOG_MODULE_MAX + 1];
        enum mh_log_level level;
    } modules[MH_LOG_MAX_MODULES];
};

/*
 * Process-wide settings, set once by main before threads start. The logger is the one piece of
 * global state in MeshHook: every module logs, and threading a logger through each call would
 * buy nothing.
 */
void mh_log_configure(enum mh_log_level level, bool json);
/* The same with per-module levels (`spec` is copied). */
void mh_log_configure_spec(const struct mh_log_spec *spec, bool json);
/* Parses "error".."trace"; returns false for anything else. */
bool mh_log_level_parse(const char *s, enum mh_log_level *out);
/* Parses a log_level setting: comma-separated entries, each a LEVEL (the default, at most one;
 * info when absent) or MODULE=LEVEL, e.g. "info,intake=debug". Spaces around entries are
 * ignored. MH_EINVAL names the bad entry: an unknown level or module, a module given twice. */
MH_MUSTCHECK enum mh_err mh_log_spec_parse(const char *s, struct mh_log_spec *out,
                                           struct mh_err_info *info);
/* Whether `level` is logged for `module` (NULL: the default level applies). */
bool mh_log_enabled_for(enum mh_log_level level, const char *module);
/* Whether `level` is logged by the default level, or by some module's. */
bool mh_log_enabled(enum mh_log_level level);

void mh_log_write(enum mh_log_level level, const char *module, const char *req_id, const char *fmt,
                  ...) MH_PRINTF(4, 5);

#define mh_log(level, module, ...)                                                                 \
    do {                                                                                           \
        if (mh_log_enabled_for(level, module))                                                     \
            mh_log_write(level, module, NULL, __VA_ARGS__);                                        \
    } while (0)

#define mh_log_req(level, module, req_id, ...)                                                     \
    do {                                                                                           \
        if (mh_log_enabled_for(level, module))                                                     \
            mh_log_write(level, module, req_id, __VA_ARGS__);                                      \
    } while (0)

#endif
