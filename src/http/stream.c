/* SPDX-License-Identifier: MIT */
/*
 * Streamed responses (Server-Sent Events): a response of unknown length whose bytes a producer
 * thread writes into a bounded per-stream queue, and libmicrohttpd's thread sends through a
 * content-reader callback. When the queue is empty the callback suspends the connection (no
 * busy loop, no thread waiting); a write resumes it. A write that would overflow the queue (the
 * client reads too slowly, or not at all) drops what is queued and ends the connection, so a
 * stalled client costs at most the queue's bytes and never delays another one: the producer
 * never waits on a socket. A producer that can pace itself (reading from the database) looks at
 * mh_http_stream_queued and waits for the queue to drain instead. The server keeps every open stream in a list so that a drain can end
 * them all (mh_http__streams_close_all).
 */
#include "http/http_internal.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mem.h"

struct mh_http_stream {
    pthread_mutex_t mu;
    _Atomic int refs;
    struct mh_http__streams *owner;
    struct MHD_Connection *conn; /* valid while is_attached */
    char *buf;
    size_t off, len, cap, max_bytes;
    char req_id[17];
    bool is_attached;  /* the response is alive: conn may be resumed */
    bool is_suspended; /* suspended by the reader, waiting for a write */
    bool is_closing;   /* end the stream once the queue is sent */
    bool is_gone;      /* overflowed, or the connection ended: writes fail */
    struct mh_http_stream *prev, *next; /* in owner->list while attached */
};

struct mh_http__streams {
    pthread_mutex_t mu;
    struct mh_http_stream *list;
    bool is_closing;
    _Atomic int *suspended; /* the server's count of suspended connections */
};

static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max);
static void free_stream(void *cls);
static void resume_locked(struct mh_http_stream *s);

struct mh_http__streams *mh_http__streams_create(_Atomic int *suspended)
{
    struct mh_http__streams *st = mh_xcalloc(1, sizeof(*st));
    pthread_mutex_init(&st->mu, NULL);
    st->suspended = suspended;
    return st;
}

void mh_http__streams_destroy(struct mh_http__streams *st)
{
    if (st == NULL)
        return;
    MH_ASSERT(st->list == NULL);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

void mh_http__streams_close_all(struct mh_http__streams *st)
{
    pthread_mutex_lock(&st->mu);
    st->is_closing = true;
    for (struct mh_http_stream *s = st->list; s; s = s->next) {
        pthread_mutex_lock(&s->mu);
        s->is_closing = true;
        resume_locked(s);
        pthread_mutex_unlock(&s->mu);
    }
    pthread_mutex_unlock(&st->mu);
}

struct mh_http_stream *mh_http__stream_create(struct mh_http__streams *st, size_t max_bytes,
                                              const char *req_id)
{
    struct mh_http_stream *s = mh_xcalloc(1, sizeof(*s));
    snprintf(s->req_id, sizeof(s->req_id), "%s", req_id);
    pthread_mutex_init(&s->mu, NULL);
    atomic_init(&s->refs, 1);
    s->owner = st;
    s->max_bytes = max_bytes;
    return s;
}

struct MHD_Response *mh_http__stream_attach(struct mh_http_stream *s, struct MHD_Connection *conn)
{
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, s, free_stream);
    if (r == NULL)
        return NULL;
    struct mh_http__streams *st = s->owner;
    atomic_fetch_add(&s->refs, 1); /* the response's, dropped by free_stream */
    pthread_mutex_lock(&st->mu);
    pthread_mutex_lock(&s->mu);
    s->conn = conn;
    s->is_attached = true;
    if (st->is_closing)
        s->is_closing = true;
    s->next = st->list;
    if (st->list)
        st->list->prev = s;
    st->list = s;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&st->mu);
    return r;
}

struct mh_http_stream *mh_http__stream_ref(struct mh_http_stream *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void mh_http_stream_unref(struct mh_http_stream *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}

/* With s->mu held: lets libmicrohttpd call the reader again. */
static void resume_locked(struct mh_http_stream *s)
{
    if (!s->is_suspended || !s->is_attached)
        return;
    s->is_suspended = false;
    atomic_fetch_sub(s->owner->suspended, 1);
    MHD_resume_connection(s->conn);
}

bool mh_http_stream_write(struct mh_http_stream *s, const char *data, size_t len)
{
    pthread_mutex_lock(&s->mu);
    bool ok = !s->is_gone && !s->is_closing;
    /* One message larger than the whole queue still goes, alone. */
    if (ok && s->len > s->off && s->len - s->off + len > s->max_bytes) {
        /* The client is not keeping up: it is cut off (and may resume from its last id) rather
         * than buffered without bound. */
        mh_log_req(MH_LOG_INFO, "http", s->req_id,
                   "closing a live stream too slow to read: %zu bytes waiting", s->len - s->off);
        s->is_gone = true;
        free(s->buf);
        s->buf = NULL;
        s->off = s->len = s->cap = 0;
        ok = false;
    } else if (ok) {
        if (s->off > 0 && s->off == s->len)
            s->off = s->len = 0;
        if (s->len + len > s->cap) {
            if (s->off > 0) {
                memmove(s->buf, s->buf + s->off, s->len - s->off);
                s->len -= s->off;
                s->off = 0;
            }
            size_t cap = s->cap ? s->cap : 1024;
            while (cap < s->len + len)
                cap *= 2;
            if (cap != s->cap) {
                s->buf = mh_xrealloc(s->buf, cap);
                s->cap = cap;
            }
        }
        memcpy(s->buf + s->len, data, len);
        s->len += len;
    }
    resume_locked(s);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void mh_http_stream_close(struct mh_http_stream *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->is_closing = true;
    resume_locked(s);
    pthread_mutex_unlock(&s->mu);
}

size_t mh_http_stream_queued(struct mh_http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->len - s->off;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool mh_http_stream_is_open(struct mh_http_stream *s)
{
    pthread_mutex_lock(&s->mu);
    bool open = !s->is_gone && !s->is_closing;
    pthread_mutex_unlock(&s->mu);
    return open;
}

/* On libmicrohttpd's thread, when the socket can take more. */
static ssize_t read_stream(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    struct mh_http_stream *s = cls;
    pthread_mutex_lock(&s->mu);
    ssize_t n;
    if (s->len > s->off) {
        size_t k = s->len - s->off < max ? s->len - s->off : max;
        memcpy(out, s->buf + s->off, k);
        s->off += k;
        n = (ssize_t)k;
    } else if (s->is_gone) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (s->is_closing) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        /* Nothing to send: parked until the next write (allowed from a content reader). */
        s->is_suspended = true;
        atomic_fetch_add(s->owner->suspended, 1);
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* When libmicrohttpd is done with the response (the connection ended). */
static void free_stream(void *cls)
{
    struct mh_http_stream *s = cls;
    struct mh_http__streams *st = s->owner;
    pthread_mutex_lock(&st->mu);
    pthread_mutex_lock(&s->mu);
    if (s->is_suspended) {
        s->is_suspended = false;
        atomic_fetch_sub(st->suspended, 1);
    }
    s->is_attached = false;
    s->is_gone = true;
    s->conn = NULL;
    if (s->prev)
        s->prev->next = s->next;
    else
        st->list = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&st->mu);
    mh_http_stream_unref(s);
}
