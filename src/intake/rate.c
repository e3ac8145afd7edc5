/* SPDX-License-Identifier: MIT */
/*
 * Token buckets (intake_internal.h "Rates"): the one refill-and-take rule, used for an
 * endpoint's bucket (kept in its cache slot, cache.c) and for a project's (kept here, keyed by
 * project id). Several instances share a rate by each taking rate/N and burst/N, N being the
 * instances serving webhooks alive at the last heartbeat (src/cluster): no database round trip
 * on the path of a webhook (docs/BENCHMARKS.md, "Rate limits across instances").
 */
#include "intake/intake_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define SHARDS    16
#define CHAINS    256
#define SHARD_MAX 4096
/* A project bucket unused this long is full again: it may be dropped when the shard is full. */
#define IDLE_MS 60000

struct pslot {
    struct pslot *next;
    char project_id[37];
    struct mh_intake__bucket b;
    int64_t used_ms;
};

struct shard {
    pthread_mutex_t mu;
    struct pslot *chains[CHAINS];
    size_t count;
};

struct mh_intake__rates {
    struct shard shards[SHARDS];
};

static uint64_t hash_id(const char *s);
static void shard_trim(struct shard *sh, int64_t now_ms);

bool mh_intake__bucket_take(struct mh_intake__bucket *b, double capacity, double per_second,
                            int share, int64_t now_ms, int *retry_after_s)
{
    if (share > 1) {
        capacity /= share;
        per_second /= share;
        /* A burst cut below one token would admit nothing. */
        if (capacity < 1.0)
            capacity = 1.0;
    }
    *retry_after_s = 0;
    if (!b->is_started) {
        b->is_started = true;
        b->tokens = capacity;
        b->refilled_ms = now_ms;
    }
    if (now_ms > b->refilled_ms) {
        b->tokens += (double)(now_ms - b->refilled_ms) * per_second / 1000.0;
        b->refilled_ms = now_ms;
    }
    if (b->tokens > capacity)
        b->tokens = capacity;
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    int wait = (int)ceil((1.0 - b->tokens) / per_second);
    *retry_after_s = wait < 1 ? 1 : wait;
    return false;
}

void mh_intake_project_rate_resolve(bool has_rate, double rate, bool has_burst, double burst,
                                    double default_rate, double default_burst, double *out_rate,
                                    double *out_burst)
{
    *out_rate = has_rate ? rate : default_rate;
    if (*out_rate < 0)
        *out_rate = 0;
    *out_burst = has_burst ? burst : has_rate ? 0 : default_burst;
    if (*out_burst < 1.0)
        *out_burst = *out_rate < 1.0 ? 1.0 : *out_rate;
}

struct mh_intake__rates *mh_intake__rates_create(void)
{
    struct mh_intake__rates *r = mh_xcalloc(1, sizeof(*r));
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&r->shards[i].mu, NULL);
    return r;
}

void mh_intake__rates_destroy(struct mh_intake__rates *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        for (int j = 0; j < CHAINS; j++) {
            struct pslot *s = r->shards[i].chains[j];
            while (s) {
                struct pslot *next = s->next;
                free(s);
                s = next;
            }
        }
        pthread_mutex_destroy(&r->shards[i].mu);
    }
    free(r);
}

bool mh_intake__rates_take_project(struct mh_intake__rates *r, const struct mh_intake__endpoint *ep,
                                   int share, int64_t now_ms, int *retry_after_s)
{
    *retry_after_s = 0;
    if (ep->project_rate_per_second <= 0)
        return true;
    uint64_t h = hash_id(ep->project_id);
    struct shard *sh = &r->shards[h % SHARDS];
    struct pslot **chain = &sh->chains[(h / SHARDS) % CHAINS];
    pthread_mutex_lock(&sh->mu);
    struct pslot *s = *chain;
    while (s && strcmp(s->project_id, ep->project_id) != 0)
        s = s->next;
    if (s == NULL) {
        if (sh->count >= SHARD_MAX)
            shard_trim(sh, now_ms);
        s = mh_xcalloc(1, sizeof(*s));
        memcpy(s->project_id, ep->project_id, sizeof(s->project_id));
        s->next = *chain;
        *chain = s;
        sh->count++;
    }
    s->used_ms = now_ms;
    bool ok = mh_intake__bucket_take(&s->b, ep->project_burst, ep->project_rate_per_second, share,
                                     now_ms, retry_after_s);
    pthread_mutex_unlock(&sh->mu);
    return ok;
}

static uint64_t hash_id(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Drops the buckets idle long enough to be full again (forgetting them changes nothing). */
static void shard_trim(struct shard *sh, int64_t now_ms)
{
    for (int j = 0; j < CHAINS; j++) {
        struct pslot **pp = &sh->chains[j];
        while (*pp) {
            struct pslot *s = *pp;
            if (now_ms - s->used_ms > IDLE_MS) {
                *pp = s->next;
                free(s);
                sh->count--;
            } else {
                pp = &s->next;
            }
        }
    }
}
