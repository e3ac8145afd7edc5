/* SPDX-License-Identifier: MIT */
/*
 * Circuit breakers per tenant and origin (the key is "tenant@scheme://host:port", so one
 * project's failures never park another project's calls): closed -> open after N consecutive
 * failures -> half-open once the open period has passed, letting exactly one probe through ->
 * closed on the probe's success or open again on its failure. Only origins with a recent failure
 * have an entry (a success deletes it), so the table stays as small as the set of failing hosts; it
 * is bounded all the same, and when full it forgets closed entries first and then stops tracking
 * new origins rather than grow. Times are CLOCK_MONOTONIC milliseconds supplied by the caller,
 * which keeps this file free of clocks and easy to reason about.
 */
#include "outbound/outbound_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics.h"
#include "core/log.h"
#include "core/mem.h"

#define INITIAL_BUCKETS 64
#define MAX_ENTRIES     65536

struct entry {
    struct entry *next;
    uint64_t hash;
    int failures;          /* consecutive, capped at the threshold */
    bool is_open;          /* open or half-open, told apart by open_until */
    bool probe_in_flight;  /* half-open and the one probe is out */
    int64_t open_until_ms; /* when half-open begins */
    char key[];
};

struct mh_outbound__breakers {
    pthread_mutex_t lock;
    int threshold;
    int64_t open_ms;
    mh_outbound_breaker_fn on_change;
    void *on_change_ctx;
    struct entry **buckets;
    size_t n_buckets;
    size_t n_entries;
};

static struct entry **find_slot(struct mh_outbound__breakers *b, const char *key, uint64_t h);
static struct entry *get_or_add(struct mh_outbound__breakers *b, const char *key, uint64_t h);
static void remove_entry(struct mh_outbound__breakers *b, struct entry **slot);
static void grow(struct mh_outbound__breakers *b);
static void sweep_closed(struct mh_outbound__breakers *b);
static void notify(struct mh_outbound__breakers *b, const char *key, bool is_open, int failures,
                   bool is_hidden);

struct mh_outbound__breakers *mh_outbound__breakers_create(int threshold, int64_t open_ms,
                                                           mh_outbound_breaker_fn on_change,
                                                           void *ctx)
{
    struct mh_outbound__breakers *b = mh_xcalloc(1, sizeof(*b));
    MH_ASSERT(threshold >= 1 && open_ms >= 0);
    pthread_mutex_init(&b->lock, NULL);
    b->threshold = threshold;
    b->open_ms = open_ms;
    b->on_change = on_change;
    b->on_change_ctx = ctx;
    b->n_buckets = INITIAL_BUCKETS;
    b->buckets = mh_xcalloc(b->n_buckets, sizeof(*b->buckets));
    return b;
}

void mh_outbound__breakers_destroy(struct mh_outbound__breakers *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n_buckets; i++) {
        struct entry *e = b->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
    }
    free(b->buckets);
    pthread_mutex_destroy(&b->lock);
    free(b);
}

/* FNV-1a: keys are short and chosen by workflow authors, not by attackers racing a table. */
uint64_t mh_outbound__hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* The link that points at the entry for `key`, or at the NULL ending its bucket. */
static struct entry **find_slot(struct mh_outbound__breakers *b, const char *key, uint64_t h)
{
    struct entry **slot = &b->buckets[h % b->n_buckets];
    while (*slot != NULL && ((*slot)->hash != h || strcmp((*slot)->key, key) != 0))
        slot = &(*slot)->next;
    return slot;
}

/* The entry for `key`, created closed with no failures; NULL when the table is full. */
static struct entry *get_or_add(struct mh_outbound__breakers *b, const char *key, uint64_t h)
{
    struct entry **slot = find_slot(b, key, h);
    if (*slot != NULL)
        return *slot;
    if (b->n_entries >= MAX_ENTRIES) {
        sweep_closed(b);
        if (b->n_entries >= MAX_ENTRIES)
            return NULL;
    }
    if (b->n_entries >= b->n_buckets * 2)
        grow(b);
    size_t len = strlen(key);
    struct entry *e = mh_xcalloc(1, sizeof(*e) + len + 1);
    memcpy(e->key, key, len + 1);
    e->hash = h;
    MH_ASSERT(b->n_buckets > 0);
    size_t i = h % b->n_buckets;
    e->next = b->buckets[i];
    b->buckets[i] = e;
    b->n_entries++;
    return e;
}

static void remove_entry(struct mh_outbound__breakers *b, struct entry **slot)
{
    struct entry *e = *slot;
    *slot = e->next;
    free(e);
    b->n_entries--;
}

static void grow(struct mh_outbound__breakers *b)
{
    size_t n = b->n_buckets * 2;
    struct entry **nb = mh_xcalloc(n, sizeof(*nb));
    for (size_t i = 0; i < b->n_buckets; i++) {
        struct entry *e = b->buckets[i];
        while (e != NULL) {
            struct entry *next = e->next;
            e->next = nb[e->hash % n];
            nb[e->hash % n] = e;
            e = next;
        }
    }
    free(b->buckets);
    b->buckets = nb;
    b->n_buckets = n;
}

/* Forgets the failure counts of closed breakers: the least harmful thing to lose. */
static void sweep_closed(struct mh_outbound__breakers *b)
{
    for (size_t i = 0; i < b->n_buckets; i++) {
        struct entry **slot = &b->buckets[i];
        while (*slot != NULL) {
            if (!(*slot)->is_open)
                remove_entry(b, slot);
            else
                slot = &(*slot)->next;
        }
    }
}

bool mh_outbound__breaker_admit(struct mh_outbound__breakers *b, const char *key, int64_t now_ms,
                                bool *is_probe, int64_t *retry_in_ms)
{
    bool admit = true;
    uint64_t h = mh_outbound__hash(key);
    *is_probe = false;
    *retry_in_ms = 0;
    pthread_mutex_lock(&b->lock);
    struct entry *e = *find_slot(b, key, h);
    if (e == NULL || !e->is_open)
        goto out;
    if (now_ms < e->open_until_ms) {
        admit = false;
        *retry_in_ms = e->open_until_ms - now_ms;
    } else if (!e->probe_in_flight) {
        e->probe_in_flight = true;
        *is_probe = true;
    } else {
        /* The probe's outcome is not known yet; when it fails, the breaker stays open for a
         * whole period from then, so a full period is the honest earliest retry. */
        admit = false;
        *retry_in_ms = b->open_ms;
    }
out:
    pthread_mutex_unlock(&b->lock);
    return admit;
}

void mh_outbound__breaker_report(struct mh_outbound__breakers *b, const char *key, bool is_probe,
                                 enum mh_outbound__verdict verdict, int64_t now_ms, bool is_hidden)
{
    /* What logs and reports may show of the key. */
    const char *shown = is_hidden ? MH_OUTBOUND_HIDDEN_ORIGIN : key;
    uint64_t h = mh_outbound__hash(key);
    int changed = 0; /* 1: opened, -1: closed */
    int failures = 0;
    pthread_mutex_lock(&b->lock);
    struct entry **slot = find_slot(b, key, h);
    struct entry *e = *slot;
    if (is_probe) {
        if (e == NULL)
            goto out;
        e->probe_in_flight = false;
        if (verdict == MH_OUTBOUND__SUCCESS) {
            mh_log(MH_LOG_INFO, "outbound", "breaker closed breaker=%s", shown);
            remove_entry(b, slot);
            changed = -1;
        } else if (verdict == MH_OUTBOUND__FAILURE) {
            e->open_until_ms = now_ms + b->open_ms;
            mh_metrics_breaker_opened();
            mh_log(MH_LOG_WARN, "outbound", "breaker reopened breaker=%s open_ms=%lld", shown,
                   (long long)b->open_ms);
        }
        goto out;
    }
    /* While open, only the probe decides: a late result of a request admitted before the
     * breaker opened says nothing newer than the failures that opened it. */
    if (e != NULL && e->is_open)
        goto out;
    if (verdict == MH_OUTBOUND__SUCCESS) {
        if (e != NULL)
            remove_entry(b, slot);
    } else if (verdict == MH_OUTBOUND__FAILURE) {
        e = get_or_add(b, key, h);
        if (e == NULL)
            goto out;
        if (e->failures < b->threshold)
            e->failures++;
        if (e->failures >= b->threshold) {
            e->is_open = true;
            e->open_until_ms = now_ms + b->open_ms;
            mh_metrics_breaker_opened();
            mh_log(MH_LOG_WARN, "outbound", "breaker opened breaker=%s failures=%d open_ms=%lld",
                   shown, e->failures, (long long)b->open_ms);
            changed = 1;
            failures = e->failures;
        }
    }
out:
    pthread_mutex_unlock(&b->lock);
    if (changed != 0 && b->on_change != NULL)
        notify(b, key, changed > 0, failures, is_hidden);
}

/* Splits "tenant@origin" (the origin holds no '@') and tells the listener. */
static void notify(struct mh_outbound__breakers *b, const char *key, bool is_open, int failures,
                   bool is_hidden)
{
    char tenant[MH_OUTBOUND__KEY_MAX];
    const char *at = strrchr(key, '@');
    if (at == NULL)
        return;
    size_t n = (size_t)(at - key);
    if (n >= sizeof(tenant))
        return;
    memcpy(tenant, key, n);
    tenant[n] = '\0';
    b->on_change(b->on_change_ctx, tenant, is_hidden ? MH_OUTBOUND_HIDDEN_ORIGIN : at + 1, is_open,
                 failures);
}

const char *mh_outbound__breaker_state(struct mh_outbound__breakers *b, const char *key,
                                       int64_t now_ms)
{
    const char *state = "closed";
    uint64_t h = mh_outbound__hash(key);
    pthread_mutex_lock(&b->lock);
    struct entry *e = *find_slot(b, key, h);
    if (e != NULL && e->is_open)
        state = now_ms < e->open_until_ms ? "open" : "half_open";
    pthread_mutex_unlock(&b->lock);
    return state;
}
