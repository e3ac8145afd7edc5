/* SPDX-License-Identifier: MIT */
/*
 * The retry policy every node type that waits on the outside world shares (it was http_call's
 * own until node types beyond it could fail the same way): a step gets up to max_attempts
 * attempts, and a retryable failure waits a uniform draw in [0, min(max_delay, base * 2^(n-1))]
 * (full jitter) before the next, or longer when the outside world asked for it (Retry-After).
 * The draw comes from the caller's random source and is recorded in retry_scheduled, so a fold
 * or a replay never draws again. Which failures are retryable is the type's call (a 503 is, a
 * 404 is not); a type whose failures are deterministic gets one attempt and refuses a policy at
 * save (definition.c).
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults of a type that waits on the outside world; the schema documents the same values. */
#define DEFAULT_MAX_ATTEMPTS  3
#define DEFAULT_BASE_DELAY_MS 1000
#define DEFAULT_MAX_DELAY_MS  60000

/* Retry-After values beyond a day are clamped to one. */
#define MAX_RETRY_AFTER_MS (24LL * 3600 * 1000)

struct mh_retry_policy mh_engine__retry_default(const struct mh_node_type *t)
{
    if (t != NULL && t->is_dead_letter)
        return (struct mh_retry_policy){DEFAULT_MAX_ATTEMPTS, DEFAULT_BASE_DELAY_MS,
                                        DEFAULT_MAX_DELAY_MS};
    return (struct mh_retry_policy){1, 0, 0};
}

size_t mh_engine__retry_parse(json_t *obj, const char *path, const char *node_id,
                              struct mh_retry_policy *p, json_t *errors)
{
    if (!json_is_object(obj))
        return 0;
    p->max_attempts = (int)mh_engine__int_or(obj, "max_attempts", p->max_attempts);
    p->base_delay_ms = mh_engine__int_or(obj, "base_delay_ms", p->base_delay_ms);
    p->max_delay_ms = mh_engine__int_or(obj, "max_delay_ms", p->max_delay_ms);
    if (p->max_delay_ms >= p->base_delay_ms)
        return 0;
    char *at = mh_engine__pointer_join(path, "max_delay_ms");
    mh_engine__add_error(errors, at, "invalid_config", node_id, -1,
                         "max_delay_ms must not be less than base_delay_ms");
    free(at);
    return 1;
}

enum mh_err mh_engine__retry_or_fail(struct mh_advance *a, size_t i, json_t *error, bool retryable,
                                     int64_t retry_after_ms)
{
    const struct mh_retry_policy *pol = &a->wf->nodes[i].retry;
    const struct mh_step_state *s = &a->st->steps[i];
    int attempt = s->attempts;
    if (retryable && attempt < pol->max_attempts) {
        if (a->in == NULL || a->in->random == NULL) {
            json_decref(error);
            return mh_err_set(a->info, MH_EINVAL, "input", -1,
                              "a retry needs a random source for its jitter");
        }
        /* Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
        int64_t cap = pol->base_delay_ms;
        for (int k = 1; k < attempt && cap < pol->max_delay_ms; k++)
            cap = cap > pol->max_delay_ms / 2 ? pol->max_delay_ms : cap * 2;
        if (cap > pol->max_delay_ms)
            cap = pol->max_delay_ms;
        uint64_t draw = a->in->random(a->in->random_ctx);
        int64_t jitter = (int64_t)(draw % ((uint64_t)cap + 1));
        if (retry_after_ms > MAX_RETRY_AFTER_MS)
            retry_after_ms = MAX_RETRY_AFTER_MS;
        int64_t delay = retry_after_ms > jitter ? retry_after_ms : jitter;
        int64_t fire_at = a->now + delay;
        json_t *p = json_pack("{s:I,s:I,s:I,s:I,s:o}", "delay_ms", (json_int_t)delay, "jitter_ms",
                              (json_int_t)jitter, "cap_ms", (json_int_t)cap, "fire_at",
                              (json_int_t)fire_at, "error", error);
        if (retry_after_ms >= 0)
            json_object_set_new(p, "retry_after_ms", json_integer(retry_after_ms));
        enum mh_err rc = mh_engine__emit(a, MH_EV_RETRY_SCHEDULED, (long)i, attempt + 1, p);
        if (rc == MH_OK)
            mh_engine__add_timer(a, i, attempt + 1, fire_at);
        return rc;
    }
    if (retryable) {
        const char *msg = json_string_value(json_object_get(error, "message"));
        char full[400];
        snprintf(full, sizeof(full), "%s (after %d attempt%s)", msg ? msg : "error", attempt,
                 attempt == 1 ? "" : "s");
        json_object_set_new(error, "message", mh_engine__jstring(full));
    }
    return mh_engine__fail_step(a, i, attempt, error, retryable);
}
