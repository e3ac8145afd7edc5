/* SPDX-License-Identifier: MIT */
/*
 * The endpoint cache and the token buckets. Endpoints are looked up by public id in a sharded
 * hash table (16 shards, each a mutex over a chained table) holding refcounted, immutable
 * endpoints, so the hot path takes one short lock and no database round trip. Unknown ids are
 * remembered briefly, so repeating one costs no lookup either; each new id costs one, which a
 * server thread leaves to a thread that may wait (mh_intake_result.must_wait). Entries are
 * never trusted
 * blindly: the commit checks the endpoint's config_version in the same transaction (commit.c),
 * and a refusal decided on an entry older than a second reloads it first.
 *
 * Each slot also holds its endpoint's token bucket, which survives reloads of the endpoint.
 * Several instances share an endpoint's rate: each bucket holds this instance's share (rate.c).
 */
#include "intake/intake_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define SHARDS        16
#define CHAINS        512
#define SHARD_MAX     8192
#define PUBLIC_ID_MAX 64

struct slot {
    struct slot *next;
    uint64_t hash;
    char public_id[PUBLIC_ID_MAX + 1];
    struct mh_intake__endpoint *ep; /* NULL: known not to exist */
    int64_t loaded_ms;
    struct mh_intake__bucket bucket;
};

struct shard {
    pthread_mutex_t mu;
    struct slot *chains[CHAINS];
    size_t count;
};

struct mh_intake__cache {
    struct shard shards[SHARDS];
};

static uint64_t hash_id(const char *s);
static struct slot *find(struct shard *sh, uint64_t h, const char *id);
static void shard_trim(struct shard *sh);
static enum mh_err load(struct mh_intake *in, const char *public_id,
                        struct mh_intake__endpoint **out, struct mh_err_info *info);
static bool is_public_id(const char *s);
static bool is_fresh(const struct slot *s, int64_t reload_if_older_ms, int64_t now_ms);

struct mh_intake__cache *mh_intake__cache_create(void)
{
    struct mh_intake__cache *c = mh_xcalloc(1, sizeof(*c));
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].mu, NULL);
    return c;
}

void mh_intake__cache_destroy(struct mh_intake__cache *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SHARDS; i++) {
        for (int j = 0; j < CHAINS; j++) {
            struct slot *s = c->shards[i].chains[j];
            while (s) {
                struct slot *next = s->next;
                mh_intake__endpoint_unref(s->ep);
                free(s);
                s = next;
            }
        }
        pthread_mutex_destroy(&c->shards[i].mu);
    }
    free(c);
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

static struct slot *find(struct shard *sh, uint64_t h, const char *id)
{
    for (struct slot *s = sh->chains[(h >> 4) % CHAINS]; s; s = s->next)
        if (s->hash == h && strcmp(s->public_id, id) == 0)
            return s;
    return NULL;
}

/* Keeps a shard bounded: negative entries go first, then everything (it all reloads). */
static void shard_trim(struct shard *sh)
{
    for (int pass = 0; pass < 2 && sh->count >= SHARD_MAX; pass++) {
        for (int j = 0; j < CHAINS; j++) {
            struct slot **pp = &sh->chains[j];
            while (*pp) {
                struct slot *s = *pp;
                if (pass == 1 || s->ep == NULL) {
                    *pp = s->next;
                    mh_intake__endpoint_unref(s->ep);
                    free(s);
                    sh->count--;
                } else {
                    pp = &s->next;
                }
            }
        }
    }
}

/* Public ids are base64url tokens (mh_crypto_token_b64url); anything else cannot exist. */
static bool is_public_id(const char *s)
{
    size_t n = strlen(s);
    if (n < 22 || n > PUBLIC_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return false;
    }
    return true;
}

static enum mh_err load(struct mh_intake *in, const char *public_id,
                        struct mh_intake__endpoint **out, struct mh_err_info *info)
{
    struct mh_db_conn *conn = NULL;
    json_t *rows = NULL;
    *out = NULL;
    enum mh_err rc = mh_db_acquire(in->pool, &conn, info);
    if (rc != MH_OK)
        return rc;
    const char *params[] = {public_id};
    rc = mh_db_query(conn, "SELECT * FROM mh_intake_endpoint($1)", 1, params, &rows, NULL, info);
    /* The project's delivery rate, which the project's endpoints share (migration 0031). */
    json_t *prow = NULL;
    if (rc == MH_OK && json_array_size(rows) == 1) {
        const char *pparams[] = {
            json_string_value(json_object_get(json_array_get(rows, 0), "project_id"))};
        rc = mh_db_query(conn, "SELECT * FROM mh_intake_project_rate($1::uuid)", 1, pparams, &prow,
                         NULL, info);
    }
    mh_db_release(conn);
    if (rc != MH_OK) {
        json_decref(rows);
        json_decref(prow);
        return rc == MH_EUNAVAILABLE
                   ? rc
                   : mh_err_set(info, MH_EUNAVAILABLE, "lookup", -1, "endpoint lookup failed");
    }
    if (json_array_size(rows) == 1)
        rc = mh_intake__endpoint_from_row(in, json_array_get(rows, 0), out, info);
    if (rc == MH_OK && *out != NULL) {
        json_t *pr = json_array_get(prow, 0);
        json_t *rate = json_object_get(pr, "delivery_rate_per_second");
        json_t *burst = json_object_get(pr, "delivery_burst");
        struct mh_intake__endpoint *ep = *out;
        mh_intake_project_rate_resolve(json_is_number(rate), json_number_value(rate),
                                       json_is_integer(burst), (double)json_integer_value(burst),
                                       in->project_rate_per_second, in->project_burst,
                                       &ep->project_rate_per_second, &ep->project_burst);
    }
    json_decref(rows);
    json_decref(prow);
    return rc;
}

enum mh_err mh_intake__cache_get(struct mh_intake *in, const char *public_id,
                                 int64_t reload_if_older_ms, struct mh_intake__endpoint **out,
                                 struct mh_err_info *info)
{
    struct mh_intake__cache *c = in->cache;
    if (mh_intake__cache_peek(c, public_id, reload_if_older_ms, out))
        return MH_OK;
    uint64_t h = hash_id(public_id);
    struct shard *sh = &c->shards[h % SHARDS];
    int64_t now = mh_clock_now_ms();
    struct mh_intake__endpoint *ep = NULL;
    enum mh_err rc = load(in, public_id, &ep, info);
    if (rc != MH_OK)
        return rc;
    pthread_mutex_lock(&sh->mu);
    struct slot *s = find(sh, h, public_id);
    if (s == NULL) {
        shard_trim(sh);
        s = mh_xcalloc(1, sizeof(*s));
        s->hash = h;
        snprintf(s->public_id, sizeof(s->public_id), "%s", public_id);
        size_t chain = (h >> 4) % CHAINS;
        s->next = sh->chains[chain];
        sh->chains[chain] = s;
        sh->count++;
    }
    /* Another thread may have loaded a newer version meanwhile; keep the newest. */
    if (s->ep == NULL || ep == NULL || ep->config_version >= s->ep->config_version) {
        mh_intake__endpoint_unref(s->ep);
        s->ep = mh_intake__endpoint_ref(ep);
        s->loaded_ms = now;
    }
    pthread_mutex_unlock(&sh->mu);
    *out = ep;
    return MH_OK;
}

bool mh_intake__cache_peek(struct mh_intake__cache *c, const char *public_id,
                           int64_t reload_if_older_ms, struct mh_intake__endpoint **out)
{
    *out = NULL;
    if (!is_public_id(public_id))
        return true;
    uint64_t h = hash_id(public_id);
    struct shard *sh = &c->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    struct slot *s = find(sh, h, public_id);
    bool has = s && is_fresh(s, reload_if_older_ms, mh_clock_now_ms());
    if (has)
        *out = mh_intake__endpoint_ref(s->ep);
    pthread_mutex_unlock(&sh->mu);
    return has;
}

/* An endpoint is fresh unless `reload_if_older_ms` >= 0 and it is that old; an absence is fresh
 * for MH_INTAKE__NEGATIVE_TTL_MS. */
static bool is_fresh(const struct slot *s, int64_t reload_if_older_ms, int64_t now_ms)
{
    int64_t age = now_ms - s->loaded_ms;
    return s->ep ? (reload_if_older_ms < 0 || age < reload_if_older_ms)
                 : age < MH_INTAKE__NEGATIVE_TTL_MS;
}

void mh_intake__cache_forget(struct mh_intake__cache *c, const char *public_id)
{
    for (int i = 0; i < SHARDS; i++) {
        struct shard *sh = &c->shards[i];
        if (public_id && (hash_id(public_id) % SHARDS) != (uint64_t)i)
            continue;
        pthread_mutex_lock(&sh->mu);
        for (int j = 0; j < CHAINS; j++) {
            for (struct slot *s = sh->chains[j]; s; s = s->next) {
                if (public_id && strcmp(s->public_id, public_id) != 0)
                    continue;
                /* The slot stays (with its bucket); its endpoint reloads on next use. */
                mh_intake__endpoint_unref(s->ep);
                s->ep = NULL;
                s->loaded_ms = 0;
            }
        }
        pthread_mutex_unlock(&sh->mu);
    }
}

bool mh_intake__cache_take_token(struct mh_intake__cache *c, const struct mh_intake__endpoint *ep,
                                 const char *public_id, int share, int64_t now_ms,
                                 int *retry_after_s)
{
    uint64_t h = hash_id(public_id);
    struct shard *sh = &c->shards[h % SHARDS];
    *retry_after_s = 0;
    pthread_mutex_lock(&sh->mu);
    struct slot *s = find(sh, h, public_id);
    if (s == NULL) {
        /* Trimmed away since the lookup: admit, the next request starts a new bucket. */
        pthread_mutex_unlock(&sh->mu);
        return true;
    }
    bool ok = mh_intake__bucket_take(&s->bucket, ep->rate_capacity, ep->rate_per_second, share,
                                     now_ms, retry_after_s);
    pthread_mutex_unlock(&sh->mu);
    return ok;
}

void mh_intake__cache_return_token(struct mh_intake__cache *c, const struct mh_intake__endpoint *ep,
                                   const char *public_id, int share)
{
    uint64_t h = hash_id(public_id);
    struct shard *sh = &c->shards[h % SHARDS];
    double capacity = share > 1 ? ep->rate_capacity / share : ep->rate_capacity;
    if (capacity < 1.0)
        capacity = 1.0;
    pthread_mutex_lock(&sh->mu);
    struct slot *s = find(sh, h, public_id);
    if (s != NULL && s->bucket.is_started)
        s->bucket.tokens = fmin(s->bucket.tokens + 1.0, capacity);
    pthread_mutex_unlock(&sh->mu);
}
