/* SPDX-License-Identifier: MIT */
/*
 * Connection guard: per-address connection counts and a deadline for each request's headers.
 * libmicrohttpd closes a connection only after connection_timeout_s of silence, so a client
 * trickling one header byte at a time could hold a connection forever, and nothing stopped one
 * address from opening thousands. Here every connection is counted under its peer address
 * (trusted proxies are exempt: they carry many clients) and refused past the limit, and a
 * reaper thread shuts down any connection whose request headers have not all arrived within
 * connection_timeout_s of the connection opening or of its previous response. Shutting the
 * socket down (not closing it) makes libmicrohttpd see the end of the stream and close the
 * connection on its own thread; the descriptor stays valid meanwhile, because a connection is
 * removed from the list here, under the same mutex, before libmicrohttpd closes it.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"

#define BUCKETS 1024

struct addr_count {
    struct addr_count *next;
    unsigned char key[17]; /* family byte, then 4 or 16 address bytes */
    int count;
};

struct mh_http__conn {
    struct mh_http__conn *prev, *next;
    struct mh_http__conns *owner;
    int fd;
    unsigned char key[17];
    bool is_counted;
    bool is_reaped;
    _Atomic bool is_busy;          /* headers complete, the request is being handled */
    _Atomic int64_t idle_since_ms; /* when it started waiting for a request's headers */
};

struct mh_http__conns {
    pthread_mutex_t mu;
    struct addr_count *buckets[BUCKETS];
    struct mh_http__conn *list;
    int per_ip_max;
    int64_t header_timeout_ms;
    const struct mh_http__proxies *exempt;
    pthread_t reaper;
    bool has_reaper;
    pthread_cond_t cv;
    bool is_stopping;
};

static bool addr_key(const struct sockaddr *sa, unsigned char key[17], char *text, size_t cap);
static struct addr_count **find(struct mh_http__conns *c, const unsigned char key[17]);
static void *reap(void *arg);

static bool addr_key(const struct sockaddr *sa, unsigned char key[17], char *text, size_t cap)
{
    memset(key, 0, 17);
    if (sa == NULL)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        key[0] = 4;
        memcpy(key + 1, &in->sin_addr, 4);
        return inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)cap) != NULL;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        key[0] = 6;
        memcpy(key + 1, &in6->sin6_addr, 16);
        return inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)cap) != NULL;
    }
    return false;
}

static struct addr_count **find(struct mh_http__conns *c, const unsigned char key[17])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 17; i++)
        h = (h ^ key[i]) * 16777619u;
    struct addr_count **pp = &c->buckets[h % BUCKETS];
    while (*pp && memcmp((*pp)->key, key, 17) != 0)
        pp = &(*pp)->next;
    return pp;
}

struct mh_http__conns *mh_http__conns_create(int per_ip_max, int header_timeout_s,
                                             const struct mh_http__proxies *exempt)
{
    struct mh_http__conns *c = mh_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->per_ip_max = per_ip_max;
    c->header_timeout_ms = (int64_t)header_timeout_s * 1000;
    c->exempt = exempt;
    if (c->header_timeout_ms > 0)
        c->has_reaper = pthread_create(&c->reaper, NULL, reap, c) == 0;
    if (c->header_timeout_ms > 0 && !c->has_reaper)
        mh_log(MH_LOG_WARN, "http", "could not start the header deadline thread");
    return c;
}

void mh_http__conns_stop(struct mh_http__conns *c)
{
    if (c == NULL || !c->has_reaper)
        return;
    pthread_mutex_lock(&c->mu);
    c->is_stopping = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->reaper, NULL);
    c->has_reaper = false;
}

void mh_http__conns_destroy(struct mh_http__conns *c)
{
    if (c == NULL)
        return;
    mh_http__conns_stop(c);
    for (int i = 0; i < BUCKETS; i++) {
        while (c->buckets[i]) {
            struct addr_count *a = c->buckets[i];
            c->buckets[i] = a->next;
            free(a);
        }
    }
    while (c->list) {
        struct mh_http__conn *k = c->list;
        c->list = k->next;
        free(k);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

bool mh_http__conns_admit(struct mh_http__conns *c, const struct sockaddr *sa)
{
    unsigned char key[17];
    char text[INET6_ADDRSTRLEN];
    if (c->per_ip_max <= 0 || !addr_key(sa, key, text, sizeof(text)))
        return true;
    if (mh_http__proxies_trust(c->exempt, text))
        return true;
    pthread_mutex_lock(&c->mu);
    struct addr_count *a = *find(c, key);
    bool ok = a == NULL || a->count < c->per_ip_max;
    pthread_mutex_unlock(&c->mu);
    if (!ok)
        mh_log(MH_LOG_DEBUG, "http", "refused a connection from %s: %d already open", text,
               c->per_ip_max);
    return ok;
}

struct mh_http__conn *mh_http__conns_open(struct mh_http__conns *c, const struct sockaddr *sa,
                                          int fd)
{
    struct mh_http__conn *k = mh_xcalloc(1, sizeof(*k));
    char text[INET6_ADDRSTRLEN];
    k->owner = c;
    k->fd = fd;
    atomic_store(&k->idle_since_ms, mh_clock_mono_ms());
    bool is_limited = c->per_ip_max > 0 && addr_key(sa, k->key, text, sizeof(text)) &&
                      !mh_http__proxies_trust(c->exempt, text);
    pthread_mutex_lock(&c->mu);
    if (is_limited) {
        struct addr_count **pp = find(c, k->key);
        if (*pp == NULL) {
            *pp = mh_xcalloc(1, sizeof(**pp));
            memcpy((*pp)->key, k->key, 17);
        }
        (*pp)->count++;
        k->is_counted = true;
    }
    k->next = c->list;
    if (c->list)
        c->list->prev = k;
    c->list = k;
    pthread_mutex_unlock(&c->mu);
    return k;
}

void mh_http__conns_close(struct mh_http__conn *k)
{
    if (k == NULL)
        return;
    struct mh_http__conns *c = k->owner;
    pthread_mutex_lock(&c->mu);
    if (k->is_counted) {
        struct addr_count **pp = find(c, k->key);
        struct addr_count *a = *pp;
        if (a && --a->count == 0) {
            *pp = a->next;
            free(a);
        }
    }
    if (k->prev)
        k->prev->next = k->next;
    else
        c->list = k->next;
    if (k->next)
        k->next->prev = k->prev;
    pthread_mutex_unlock(&c->mu);
    free(k);
}

void mh_http__conn_set_busy(struct mh_http__conn *k, bool is_busy)
{
    if (k == NULL)
        return;
    if (!is_busy)
        atomic_store(&k->idle_since_ms, mh_clock_mono_ms());
    atomic_store(&k->is_busy, is_busy);
}

/* Twice a second: shuts down connections whose request headers are overdue. */
static void *reap(void *arg)
{
    struct mh_http__conns *c = arg;
    pthread_mutex_lock(&c->mu);
    while (!c->is_stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        int64_t now = mh_clock_mono_ms();
        for (struct mh_http__conn *k = c->list; k && !c->is_stopping; k = k->next) {
            if (k->is_reaped || atomic_load(&k->is_busy) ||
                now - atomic_load(&k->idle_since_ms) < c->header_timeout_ms)
                continue;
            k->is_reaped = true;
            shutdown(k->fd, SHUT_RDWR);
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}
