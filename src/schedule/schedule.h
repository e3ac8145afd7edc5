/* SPDX-License-Identifier: MIT */
/*
 * Schedules: cron expressions (cron.c), IANA time zones read from the system's tzdata (tz.c)
 * and the next fire time of an expression in a zone (next.c). Pure: core + jansson, no threads,
 * no database; the only I/O is reading one TZif file per mh_tz_load. The runtime's scheduler
 * (src/runtime/scheduler.c) and the API build on it; docs/workflows.md#schedules is the user's
 * view and docs/internals/schedule.md the reasons.
 *
 * Ownership: objects returned through an out-parameter are new and freed by their _destroy
 * (NULL-tolerant); string arguments are borrowed for the call. Thread-safe: compiled
 * expressions and loaded zones are immutable and may be shared.
 */
#ifndef MH_SCHEDULE_SCHEDULE_H
#define MH_SCHEDULE_SCHEDULE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"

/* An expression is at most this many bytes. */
#define MH_CRON_MAX_BYTES 256
/* A definition holds at most this many schedules. */
#define MH_SCHEDULE_MAX 10
/* catch_up "run" starts at most this many missed ticks (max_catch_up's upper bound). */
#define MH_SCHEDULE_MAX_CATCH_UP 100
/* A tick fired less than this long after its time is on time, not missed. */
#define MH_SCHEDULE_GRACE_MS 60000

struct mh_cron;
struct mh_tz;

/*
 * Compiles a cron expression: five fields "minute hour day-of-month month day-of-week" (each a
 * list of `*`, `N`, `N-M`, with an optional `/STEP`; months and weekdays also by English
 * three-letter names; weekday 7 is Sunday too), or one of @yearly @annually @monthly @weekly
 * @daily @midnight @hourly. With `allow_seconds` a six-field form whose first field is the
 * second is accepted too (a setting meant for tests). Errors: MH_EINVAL with a message naming
 * the field and the position (info->offset, 0-based byte offset into `expr`).
 */
MH_MUSTCHECK enum mh_err mh_cron_parse(const char *expr, bool allow_seconds, struct mh_cron **out,
                                       struct mh_err_info *info);
void mh_cron_destroy(struct mh_cron *c);
/* True when the expression restricts the hour (its hour field is not `*`): its ticks name wall
 * clock times, which fire once on a day whose clock goes back (docs/workflows.md#schedules). */
bool mh_cron_has_fixed_hour(const struct mh_cron *c);

/*
 * Loads an IANA time zone ("Europe/Berlin", "UTC") from the tzdata directory (the TZDIR
 * environment variable when set at start, else /usr/share/zoneinfo). Names are checked before
 * any file is opened: letters, digits, `_ + - /`, no `..`, at most 64 bytes. Errors: MH_EINVAL
 * ("unknown time zone") for a bad name, a missing or malformed file.
 */
MH_MUSTCHECK enum mh_err mh_tz_load(const char *name, struct mh_tz **out, struct mh_err_info *info);
void mh_tz_destroy(struct mh_tz *tz);
/* The zone's offset from UTC, in seconds east, at `utc_s` (seconds since the epoch). */
int32_t mh_tz_offset_at(const struct mh_tz *tz, int64_t utc_s);

/*
 * The first fire time strictly after `after_s` (UTC seconds since the epoch) of `c` in `tz`.
 * Wall-clock rules (docs/workflows.md#schedules): a tick whose local time does not exist (the
 * hour skipped when clocks go forward) fires once, at the instant the clocks jump; a local time
 * that occurs twice (clocks go back) fires at its first occurrence only, unless the hour field
 * is `*`, whose ticks fire in both. MH_ENOTFOUND when nothing matches within ten years.
 */
MH_MUSTCHECK enum mh_err mh_cron_next(const struct mh_cron *c, const struct mh_tz *tz,
                                      int64_t after_s, int64_t *next_s);

/*
 * The next `n` fire times of `expr` in `zone` after `after_s`: *times is a new array of
 * {"at_s": UTC seconds, "offset_s": the zone's offset then}, shorter when the expression stops
 * matching within ten years. Errors: MH_EINVAL with info->path "/cron" or "/timezone".
 */
MH_MUSTCHECK enum mh_err mh_schedule_preview(const char *expr, const char *zone, bool allow_seconds,
                                             int64_t after_s, int n, json_t **times,
                                             struct mh_err_info *info);

/*
 * Checks the `schedules` member of a workflow definition (absent is fine: no schedule), adding
 * each problem to `errors` (an array) as {"path", "code", "message"[, "offset"]} like the
 * engine's validation (paths such as "/schedules/0/cron").
 */
void mh_schedule_validate(json_t *def, bool allow_seconds, json_t *errors);

#endif
