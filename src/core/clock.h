/* SPDX-License-Identifier: MIT */
/*
 * The wall clock, in the one unit the event log, ids and timestamps use. Only what records a
 * decision may read it (docs/architecture.md §5: a run sees time through its events).
 */
#ifndef MH_CORE_CLOCK_H
#define MH_CORE_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t mh_clock_now_ms(void);
/* Milliseconds on a clock that never jumps (CLOCK_MONOTONIC): for durations and deadlines. */
int64_t mh_clock_mono_ms(void);
/* Nanoseconds on the same clock: for short durations (metrics). */
int64_t mh_clock_mono_ns(void);

#endif
