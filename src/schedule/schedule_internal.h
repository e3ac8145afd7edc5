/* SPDX-License-Identifier: MIT */
/* Private to schedule: the compiled expression and the loaded zone, and the civil-time
 * arithmetic they share. */
#ifndef MH_SCHEDULE_INTERNAL_H
#define MH_SCHEDULE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* One bit per allowed value: seconds/minutes 0-59, hours 0-23, days 1-31, months 1-12,
 * weekdays 0-6 (Sunday 0). */
struct mh_cron {
    uint64_t seconds, minutes, hours, days, months, weekdays;
    bool has_seconds;
    /* Vixie cron's day rule: when either day field starts with `*` a day must match both,
     * otherwise either. */
    bool is_dom_star, is_dow_star;
    bool is_hour_star;
};

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1-12), and back. */
int64_t mh_schedule__days_from_civil(int64_t y, int m, int d);
void mh_schedule__civil_from_days(int64_t z, int64_t *y, int *m, int *d);

#endif
