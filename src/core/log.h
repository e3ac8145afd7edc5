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

/*
 * Process-wide settings, set once by main before threads start. The logger is the one piece of
 * global state in MeshHook: every module logs, and threading a logger through each call would
 * buy nothing.
 */
void mh_log_configure(enum mh_log_level level, bool json);
/* Parses "error".."trace"; returns false for anything else. */
bool mh_log_level_parse(const char *s, enum mh_log_level *out);
bool mh_log_enabled(enum mh_log_level level);

void mh_log_write(enum mh_log_level level, const char *module, const char *req_id, const char *fmt,
                  ...) MH_PRINTF(4, 5);

#define mh_log(level, module, ...)                                                                 \
    do {                                                                                           \
        if (mh_log_enabled(level))                                                                 \
            mh_log_write(level, module, NULL, __VA_ARGS__);                                        \
    } while (0)

#define mh_log_req(level, module, req_id, ...)                                                     \
    do {                                                                                           \
        if (mh_log_enabled(level))                                                                 \
            mh_log_write(level, module, req_id, __VA_ARGS__);                                      \
    } while (0)

#endif
