/* SPDX-License-Identifier: MIT */
/*
 * The runtime's cache of run logs (src/runtime/logcache.c): copied out to the batches that advance
 * a run, the longer log kept when they put theirs back, bounded by entries and bytes, and brought
 * up to date only when what the run's locked row says agrees with what it holds (otherwise the
 * batch loads the whole log).
 */
#include "crypto/crypto.h"
#include "harness.h"
#include "runtime/runtime_internal.h"

/* A sealed chain of `n` events, seq 1..n, as the engine writes them. */
static struct mh_event *chain(size_t n)
{
    struct mh_event *evs = calloc(n, sizeof(*evs));
    MH_T_ASSERT(evs != NULL);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_pack("{s:I, s:s}", "i", (json_int_t)i, "pad", "xxxxxxxxxxxxxxxx");
        MH_T_ASSERT(mh_engine_event_init(&evs[i], 0, i ? "step_started" : "run_started",
                                         i ? "a" : NULL, i ? 1 : 0, p, 1000 + (int64_t)i,
                                         NULL) == MH_OK);
        json_decref(p);
        MH_T_ASSERT(mh_engine_event_seal(&evs[i], (int64_t)i + 1, i ? evs[i - 1].hash : NULL) ==
                    MH_OK);
    }
    return evs;
}

/* A copy of evs[from..to) (new payload references), as a load from the database would give. */
static struct mh_event *slice(const struct mh_event *evs, size_t from, size_t to)
{
    struct mh_event *out = calloc(to > from ? to - from : 1, sizeof(*out));
    MH_T_ASSERT(out != NULL);
    for (size_t i = from; i < to; i++)
        MH_T_ASSERT(mh_engine_event_init(&out[i - from], evs[i].seq, evs[i].type, evs[i].node_id,
                                         evs[i].attempt, evs[i].payload, evs[i].at_ms,
                                         evs[i].hash) == MH_OK);
    return out;
}

static void hex_of(const struct mh_event *ev, char out[2 * MH_ENGINE_HASH_LEN + 1])
{
    mh_crypto_hex_encode(ev->hash, MH_ENGINE_HASH_LEN, out);
}

/* A log holding evs[0..n). */
static struct mh_runtime__log *log_of(const char *run_id, const struct mh_event *evs, size_t n)
{
    struct mh_runtime__log *l = mh_runtime__log_new(run_id);
    struct mh_event *s = slice(evs, 0, n);
    mh_runtime__log_append_new(l, s, n);
    free(s);
    return l;
}

MH_TEST(log_extend_takes_what_follows_and_agrees_with_the_row)
{
    struct mh_event *evs = chain(10);
    struct mh_runtime__log *l = log_of("r1", evs, 4);
    char since[65], last[65];
    hex_of(&evs[3], since);
    hex_of(&evs[9], last);
    /* Another instance advanced the run to 10: the delta 5..10 follows. */
    struct mh_event *d = slice(evs, 4, 10);
    MH_T_ASSERT(mh_runtime__log_extend(l, since, 10, last, d, 6));
    MH_T_ASSERT_EQ(l->n, 10);
    for (size_t i = 0; i < 10; i++) {
        MH_T_ASSERT_EQ(l->events[i].seq, (long long)i + 1);
        MH_T_ASSERT(memcmp(l->events[i].hash, evs[i].hash, MH_ENGINE_HASH_LEN) == 0);
    }
    MH_T_ASSERT(d[0].payload == NULL); /* moved */
    free(d);
    /* Nothing new: the row ends where the log does. */
    MH_T_ASSERT(mh_runtime__log_extend(l, last, 10, last, NULL, 0));
    MH_T_ASSERT_EQ(l->n, 10);
    mh_runtime__log_free(l);
    mh_engine_events_free(evs, 10);
}

MH_TEST(log_extend_refuses_what_does_not_agree)
{
    struct mh_event *evs = chain(10);
    char h4[65], h10[65], h3[65];
    hex_of(&evs[3], h4);
    hex_of(&evs[9], h10);
    hex_of(&evs[2], h3);
    struct mh_runtime__log *l = log_of("r1", evs, 4);

    /* The stored event where the cached log ends has another hash (or none: the log is shorter
     * than what is held, e.g. events a batch that rolled back had decided). */
    struct mh_event *d = slice(evs, 4, 10);
    MH_T_ASSERT(!mh_runtime__log_extend(l, h3, 10, h10, d, 6));
    MH_T_ASSERT(!mh_runtime__log_extend(l, NULL, 10, h10, d, 6));
    /* A gap: 6..10 without 5. */
    MH_T_ASSERT(!mh_runtime__log_extend(l, h4, 10, h10, d + 1, 5));
    /* The row says the log ends elsewhere (later than what was loaded, or at another hash). */
    MH_T_ASSERT(!mh_runtime__log_extend(l, h4, 11, h10, d, 6));
    MH_T_ASSERT(!mh_runtime__log_extend(l, h4, 10, h4, d, 6));
    MH_T_ASSERT(!mh_runtime__log_extend(l, h4, 10, NULL, d, 6));
    /* Nothing new, but the row is ahead. */
    MH_T_ASSERT(!mh_runtime__log_extend(l, h4, 5, h4, NULL, 0));
    /* Refused: both left alone. */
    MH_T_ASSERT_EQ(l->n, 4);
    MH_T_ASSERT(d[0].payload != NULL);
    mh_engine_events_free(d, 6);
    mh_runtime__log_free(l);
    mh_engine_events_free(evs, 10);
}

MH_TEST(logs_take_copies_and_put_keeps_the_longer)
{
    struct mh_event *evs = chain(6);
    struct mh_runtime__logs c;
    mh_runtime__logs_init(&c, 8, 1u << 20);
    MH_T_ASSERT(mh_runtime__log_take(&c, "r1") == NULL);
    mh_runtime__log_put(&c, log_of("r1", evs, 3));
    /* Two workers advancing the run at once both get what is held, as copies sharing the
     * payloads. */
    struct mh_runtime__log *a = mh_runtime__log_take(&c, "r1");
    struct mh_runtime__log *b = mh_runtime__log_take(&c, "r1");
    MH_T_ASSERT(a != NULL && b != NULL && a != b && a->n == 3 && b->n == 3);
    MH_T_ASSERT(a->events != b->events && a->events[2].payload == b->events[2].payload);
    MH_T_ASSERT_EQ(c.count, 1);
    /* One commits more: its copy replaces the entry; the other's shorter one does not. */
    struct mh_event *more = slice(evs, 3, 6);
    mh_runtime__log_append_new(a, more, 3);
    free(more);
    mh_runtime__log_put(&c, a);
    mh_runtime__log_put(&c, b);
    struct mh_runtime__log *l = mh_runtime__log_take(&c, "r1");
    MH_T_ASSERT(l != NULL && l->n == 6);
    MH_T_ASSERT(memcmp(l->events[5].hash, evs[5].hash, MH_ENGINE_HASH_LEN) == 0);
    /* A copy is the caller's: freeing it leaves the entry whole. */
    mh_runtime__log_free(l);
    l = mh_runtime__log_take(&c, "r1");
    MH_T_ASSERT(l != NULL && l->n == 6 && json_is_object(l->events[0].payload));
    mh_runtime__log_free(l);
    /* A finished run is forgotten. */
    mh_runtime__log_drop(&c, "r1");
    MH_T_ASSERT(mh_runtime__log_take(&c, "r1") == NULL);
    MH_T_ASSERT_EQ(c.count, 0);
    MH_T_ASSERT_EQ(c.bytes, 0);
    /* An empty log is not kept. */
    mh_runtime__log_put(&c, mh_runtime__log_new("r2"));
    MH_T_ASSERT(mh_runtime__log_take(&c, "r2") == NULL);
    mh_runtime__logs_cleanup(&c);
    mh_engine_events_free(evs, 6);
}

MH_TEST(logs_evict_the_least_recent_past_their_bounds)
{
    struct mh_event *evs = chain(4);
    struct mh_runtime__logs c;
    mh_runtime__logs_init(&c, 3, 1u << 20);
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof(id), "r%d", i);
        mh_runtime__log_put(&c, log_of(id, evs, 4));
    }
    MH_T_ASSERT_EQ(c.count, 3);
    MH_T_ASSERT(mh_runtime__log_take(&c, "r0") == NULL);
    MH_T_ASSERT(mh_runtime__log_take(&c, "r1") == NULL);
    /* r2 put back with more: now the most recent, so r3 goes next. */
    struct mh_event *evs5 = chain(5);
    mh_runtime__log_put(&c, log_of("r2", evs5, 5));
    mh_engine_events_free(evs5, 5);
    mh_runtime__log_put(&c, log_of("r5", evs, 4));
    MH_T_ASSERT(mh_runtime__log_take(&c, "r3") == NULL);
    struct mh_runtime__log *l = mh_runtime__log_take(&c, "r4");
    MH_T_ASSERT(l != NULL);
    size_t one = l->bytes;
    MH_T_ASSERT(one > 4 * sizeof(struct mh_event));
    mh_runtime__log_free(l);
    mh_runtime__logs_cleanup(&c);

    /* By bytes: room for two logs. */
    mh_runtime__logs_init(&c, 100, 2 * one + one / 2);
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "b%d", i);
        mh_runtime__log_put(&c, log_of(id, evs, 4));
    }
    MH_T_ASSERT_EQ(c.count, 2);
    MH_T_ASSERT(c.bytes <= 2 * one + one / 2);
    MH_T_ASSERT(mh_runtime__log_take(&c, "b1") == NULL);
    l = mh_runtime__log_take(&c, "b3");
    MH_T_ASSERT(l != NULL);
    mh_runtime__log_free(l);
    mh_runtime__logs_cleanup(&c);

    /* A log above the byte bound alone is not kept. */
    mh_runtime__logs_init(&c, 100, one / 2);
    mh_runtime__log_put(&c, log_of("big", evs, 4));
    MH_T_ASSERT_EQ(c.count, 0);
    MH_T_ASSERT(mh_runtime__log_take(&c, "big") == NULL);
    mh_runtime__logs_cleanup(&c);
    mh_engine_events_free(evs, 4);
}
