/* SPDX-License-Identifier: MIT */
/*
 * The logs of the runs this process advanced recently, as they were committed: a run that keeps
 * advancing (every call of a for_each reports on its own) has its log read from PostgreSQL once,
 * and afterwards only the events past the last one held. Without it each advance would read and
 * parse the run's whole log, and a loop of n calls would cost O(n^2).
 *
 * A batch that advances a run takes a copy of its entry (the events' payloads are shared, never
 * modified) and puts its copy back, replacing the entry when it holds more: after COMMIT with
 * what it committed, after a failure as it loaded it (committed events only). What is held is never
 * trusted on its own: the batch checks it against the run's locked row and loads the whole log
 * again on any doubt (batch.c, mh_runtime__log_extend). Bounded by entries and by bytes; the least
 * recently put back goes first.
 */
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"
#include "runtime/runtime_internal.h"

#define NBUCKETS 1024u /* a power of two, above the entry bound's default */

/* FNV-1a of the run id. */
static size_t bucket_of(const char *run_id)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)run_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h & (NBUCKETS - 1);
}

/* What a JSON value holds in memory, roughly: jansson's nodes plus their strings. Counted once
 * per event, when it enters a log. */
static size_t json_weight(json_t *v, int depth)
{
    size_t w = 48;
    if (depth > 64) /* deeper values are rare and bounded by the event size limit */
        return w;
    if (json_is_string(v)) {
        w += json_string_length(v);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) w += 32 + strlen(k) + json_weight(x, depth + 1);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) w += 8 + json_weight(x, depth + 1);
    }
    return w;
}

void mh_runtime__logs_init(struct mh_runtime__logs *c, size_t max_entries, size_t max_bytes)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    c->buckets = mh_xcalloc(NBUCKETS, sizeof(*c->buckets));
    c->max_entries = max_entries;
    c->max_bytes = max_bytes;
}

void mh_runtime__logs_cleanup(struct mh_runtime__logs *c)
{
    if (c->buckets == NULL)
        return;
    struct mh_runtime__log *l = c->head;
    while (l) {
        struct mh_runtime__log *next = l->next;
        mh_runtime__log_free(l);
        l = next;
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->mu);
    memset(c, 0, sizeof(*c));
}

struct mh_runtime__log *mh_runtime__log_new(const char *run_id)
{
    struct mh_runtime__log *l = mh_xcalloc(1, sizeof(*l));
    snprintf(l->run_id, sizeof(l->run_id), "%s", run_id);
    return l;
}

void mh_runtime__log_free(struct mh_runtime__log *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        mh_engine_event_cleanup(&l->events[i]);
    free(l->events);
    free(l);
}

void mh_runtime__log_append_new(struct mh_runtime__log *l, struct mh_event *events, size_t n)
{
    if (n == 0)
        return;
    if (l->n + n > l->cap) {
        l->cap = (l->n + n) * 2;
        l->events = mh_xrealloc(l->events, l->cap * sizeof(*l->events));
    }
    memcpy(l->events + l->n, events, n * sizeof(*events));
    l->n += n; /* weighed when put in the cache: a run that ends here never is */
    memset(events, 0, n * sizeof(*events));
}

/* Unlinks `l` from its bucket and the recency list (c->mu held). */
static void unlink_entry(struct mh_runtime__logs *c, struct mh_runtime__log *l)
{
    struct mh_runtime__log **pp = &c->buckets[bucket_of(l->run_id)];
    while (*pp != l)
        pp = &(*pp)->chain;
    *pp = l->chain;
    if (l->prev)
        l->prev->next = l->next;
    else
        c->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        c->tail = l->prev;
    l->prev = l->next = l->chain = NULL;
    c->count--;
    c->bytes -= l->bytes;
}

static struct mh_runtime__log *find(struct mh_runtime__logs *c, const char *run_id)
{
    struct mh_runtime__log *l = c->buckets[bucket_of(run_id)];
    while (l && strcmp(l->run_id, run_id) != 0)
        l = l->chain;
    return l;
}

struct mh_runtime__log *mh_runtime__log_take(struct mh_runtime__logs *c, const char *run_id)
{
    if (c->buckets == NULL)
        return NULL;
    pthread_mutex_lock(&c->mu);
    struct mh_runtime__log *l = find(c, run_id), *copy = NULL;
    if (l) {
        /* A copy: the events' fields, and references to their payloads, which nobody modifies
         * (jansson's reference counts are atomic). Two workers advancing the same run at once
         * (its reports taken by both) then both start from what is held. */
        copy = mh_runtime__log_new(run_id);
        copy->cap = l->n + 16;
        copy->events = mh_xmalloc(copy->cap * sizeof(*copy->events));
        memcpy(copy->events, l->events, l->n * sizeof(*l->events));
        for (size_t i = 0; i < l->n; i++)
            json_incref(copy->events[i].payload);
        copy->n = copy->weighed = l->n;
        copy->bytes = l->bytes;
    }
    c->hits += l != NULL;
    c->misses += l == NULL;
    pthread_mutex_unlock(&c->mu);
    return copy;
}

void mh_runtime__log_drop(struct mh_runtime__logs *c, const char *run_id)
{
    if (c->buckets == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    struct mh_runtime__log *l = find(c, run_id);
    if (l)
        unlink_entry(c, l);
    pthread_mutex_unlock(&c->mu);
    mh_runtime__log_free(l);
}

void mh_runtime__log_put(struct mh_runtime__logs *c, struct mh_runtime__log *l)
{
    if (l == NULL)
        return;
    for (; l->weighed < l->n; l->weighed++)
        l->bytes += sizeof(*l->events) + json_weight(l->events[l->weighed].payload, 0);
    if (c->buckets == NULL || l->n == 0 || l->bytes > c->max_bytes || c->max_entries == 0) {
        mh_runtime__log_free(l);
        return;
    }
    struct mh_runtime__log *drop = NULL;
    pthread_mutex_lock(&c->mu);
    /* Both are committed prefixes of one log (another worker advanced the run meanwhile, or this
     * batch failed): the longer one stays. */
    struct mh_runtime__log *old = find(c, l->run_id);
    if (old && old->n >= l->n) {
        drop = l;
        l = NULL;
    } else if (old) {
        unlink_entry(c, old);
        drop = old;
    }
    if (l) {
        size_t b = bucket_of(l->run_id);
        l->chain = c->buckets[b];
        c->buckets[b] = l;
        l->prev = NULL;
        l->next = c->head;
        if (c->head)
            c->head->prev = l;
        else
            c->tail = l;
        c->head = l;
        c->count++;
        c->bytes += l->bytes;
    }
    /* The least recently used go first, until both bounds hold. They are freed outside the
     * lock, one list of them. */
    struct mh_runtime__log *evicted = NULL;
    while (c->tail && (c->count > c->max_entries || c->bytes > c->max_bytes)) {
        struct mh_runtime__log *t = c->tail;
        unlink_entry(c, t);
        t->next = evicted;
        evicted = t;
        c->evictions++;
    }
    pthread_mutex_unlock(&c->mu);
    mh_runtime__log_free(drop);
    while (evicted) {
        struct mh_runtime__log *next = evicted->next;
        mh_runtime__log_free(evicted);
        evicted = next;
    }
}

bool mh_runtime__log_extend(struct mh_runtime__log *l, const char *since_hash, int64_t last_seq,
                            const char *last_hash, struct mh_event *delta, size_t n)
{
    if (l->n == 0 || l->events[l->n - 1].seq != (int64_t)l->n || since_hash == NULL ||
        last_hash == NULL)
        return false;
    char hex[2 * MH_ENGINE_HASH_LEN + 1];
    mh_crypto_hex_encode(l->events[l->n - 1].hash, MH_ENGINE_HASH_LEN, hex);
    if (strcmp(hex, since_hash) != 0)
        return false; /* the log it holds is not the stored one */
    for (size_t i = 0; i < n; i++) {
        if (delta[i].seq != (int64_t)(l->n + 1 + i))
            return false; /* a gap or an event it did not expect */
    }
    if ((int64_t)(l->n + n) != last_seq)
        return false; /* the row says the log ends elsewhere */
    const uint8_t *end = n ? delta[n - 1].hash : l->events[l->n - 1].hash;
    mh_crypto_hex_encode(end, MH_ENGINE_HASH_LEN, hex);
    if (strcmp(hex, last_hash) != 0)
        return false;
    mh_runtime__log_append_new(l, delta, n);
    return true;
}
