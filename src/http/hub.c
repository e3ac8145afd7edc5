/* SPDX-License-Identifier: MIT */
/*
 * The live-stream hub (see hub.h). One thread owns the LISTEN connection and every subscriber's
 * progress: it waits for notifications (or a new subscriber, or the next heartbeat), marks the
 * subscribers they concern, and serves the marked ones by reading from the database. Subscribers
 * of one run as the same user, and all feed subscribers of one project, share each read (a page
 * serves them all), so a thousand tabs on one run or one feed cost one query per change, not a
 * thousand; notifications arriving within COALESCE_MS of a read wait for the next one, so a
 * burst of commits costs one read. A subscriber whose stream has ended (the client left, was
 * too slow, or the server drains) is dropped at its next write.
 */
#include "http/hub.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "http/api.h"
#include "http/handlers/handlers.h"
#include "metrics/metrics.h"
#include "secrets/secrets.h"

/* Rows per catch-up read. */
#define PAGE_ROWS 200
/* Reads for notifications start at most this often: the ones that arrive meanwhile are served
 * together by the next read. Adds at most this much to a message's latency. */
#define COALESCE_MS 5

enum sub_kind { SUB_RUN, SUB_FEED };

/* The project feed's kinds, in the order a read shows them (a webhook's delivery before the run
 * it started, which share a transaction). */
enum feed_kind { FEED_DELIVERY, FEED_RUN, FEED_DEAD_LETTER, FEED_KINDS };
static const char *const feed_names[FEED_KINDS] = {"delivery", "run", "dead_letter"};

/* A position in a project's feed: per kind, the last row sent, as (transaction id, row id); an
 * empty id means every row of a transaction below `xid` has been sent. */
struct feed_pos {
    unsigned long long xid[FEED_KINDS];
    char id[FEED_KINDS][37];
};

struct sub {
    struct sub *next;
    enum sub_kind kind;
    char project_id[37];
    char run_id[37];
    char user_id[37];
    struct mh_privacy_view *view;
    struct mh_http_stream *stream;
    long long seq;                  /* SUB_RUN: the last seq sent */
    struct feed_pos pos;            /* SUB_FEED: what was sent */
    unsigned long long awaited_xid; /* SUB_FEED: a notified transaction not yet below the horizon */
    bool is_dirty;                  /* something may be waiting for it (under the hub's mutex) */
    bool is_closed;                 /* to be dropped (hub thread only) */
    bool is_behind; /* its queue is too full for the next message: served again once it drains */
    size_t wants;   /* is_behind: the bytes of the message it was skipped for (hub thread) */
};

struct mh_http_hub {
    struct mh_http_hub_opts opts;
    char *listen_url;
    pthread_mutex_t mu;
    struct sub *subs; /* under mu; added by handler threads, removed by the hub's thread */
    int nsubs;
    bool has_dirty;
    bool is_stopping;
    /* Hub thread only: */
    bool has_closed;        /* a subscriber was closed: sweep */
    bool has_behind;        /* a subscriber waits for its queue to drain */
    int64_t retry_reads_at; /* a read failed: everyone is read again then (0: none) */
    int wake_fd;
    pthread_t thread;
    bool has_thread;
};

static void *run(void *arg);
static void wake(struct mh_http_hub *h);

enum mh_err mh_http_hub_start(const struct mh_http_hub_opts *opts, struct mh_http_hub **out,
                              struct mh_err_info *info)
{
    struct mh_http_hub *h = mh_xcalloc(1, sizeof(*h));
    h->opts = *opts;
    h->listen_url = mh_xstrdup(opts->listen_url);
    h->opts.listen_url = NULL;
    pthread_mutex_init(&h->mu, NULL);
    h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->wake_fd < 0 || pthread_create(&h->thread, NULL, run, h) != 0) {
        mh_http_hub_stop(h);
        return mh_err_set(info, MH_EIO, "streams", -1, "could not start the stream hub");
    }
    h->has_thread = true;
    *out = h;
    return MH_OK;
}

static void sub_free(struct sub *s)
{
    mh_http_stream_close(s->stream);
    mh_http_stream_unref(s->stream);
    mh_secrets_privacy_view_destroy(s->view);
    free(s);
}

void mh_http_hub_stop(struct mh_http_hub *h)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    h->is_stopping = true;
    pthread_mutex_unlock(&h->mu);
    wake(h);
    if (h->has_thread)
        pthread_join(h->thread, NULL);
    while (h->subs) {
        struct sub *s = h->subs;
        h->subs = s->next;
        sub_free(s);
        mh_metrics_gauge_add(MH_G_STREAM_SUBSCRIBERS, -1);
    }
    if (h->wake_fd >= 0)
        close(h->wake_fd);
    pthread_mutex_destroy(&h->mu);
    free(h->listen_url);
    free(h);
}

static void wake(struct mh_http_hub *h)
{
    uint64_t one = 1;
    if (h->wake_fd >= 0)
        (void)!write(h->wake_fd, &one, sizeof(one));
}

/* Takes a subscriber slot for `user_id`, or answers 429/503 and returns false. */
static bool admit(struct mh_http_hub *h, struct mh_http_req *req, const char *user_id)
{
    int mine = 0;
    pthread_mutex_lock(&h->mu);
    for (struct sub *s = h->subs; s; s = s->next)
        mine += strcmp(s->user_id, user_id) == 0;
    int total = h->nsubs;
    bool is_stopping = h->is_stopping;
    pthread_mutex_unlock(&h->mu);
    if (is_stopping || total >= h->opts.max_subscribers) {
        mh_http_set_header(req, "Retry-After", "5");
        mh_http_respond_error(req, 503, "unavailable",
                              "this server has as many live streams as it serves; retry later",
                              NULL);
        return false;
    }
    if (mine >= h->opts.max_per_user) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "you have %d live streams open on this server, the most allowed; close one", mine);
        mh_http_set_header(req, "Retry-After", "5");
        mh_http_respond_error(req, 429, "rate_limited", msg, NULL);
        return false;
    }
    return true;
}

static void add(struct mh_http_hub *h, struct mh_http_req *req, struct sub *s)
{
    s->stream = mh_http_respond_stream(req, 200, "text/event-stream", h->opts.queue_bytes);
    /* The client's reconnection delay, first: EventSource's default (3 s) is longer. */
    static const char retry[] = "retry: 2000\n\n";
    (void)mh_http_stream_write(s->stream, retry, sizeof(retry) - 1);
    s->is_dirty = true;
    pthread_mutex_lock(&h->mu);
    s->next = h->subs;
    h->subs = s;
    h->nsubs++;
    mh_metrics_gauge_add(MH_G_STREAM_SUBSCRIBERS, 1);
    h->has_dirty = true;
    pthread_mutex_unlock(&h->mu);
    wake(h);
}

void mh_http_hub_subscribe_run(struct mh_http_hub *h, struct mh_http_req *req,
                               const char *project_id, const char *run_id, const char *user_id,
                               struct mh_privacy_view *view, long long after_seq)
{
    if (!admit(h, req, user_id)) {
        mh_secrets_privacy_view_destroy(view);
        return;
    }
    struct sub *s = mh_xcalloc(1, sizeof(*s));
    s->kind = SUB_RUN;
    snprintf(s->project_id, sizeof(s->project_id), "%s", project_id);
    snprintf(s->run_id, sizeof(s->run_id), "%s", run_id);
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
    s->view = view;
    s->seq = after_seq;
    add(h, req, s);
}

/* The cursor's text: "f1.<xid>.<id>" for each kind in enum order, joined with '.'. */
static void feed_pos_encode(const struct feed_pos *p, char *out, size_t cap)
{
    snprintf(out, cap, "f1.%llu.%s.%llu.%s.%llu.%s", p->xid[0], p->id[0], p->xid[1], p->id[1],
             p->xid[2], p->id[2]);
}

static bool feed_pos_decode(const char *text, struct feed_pos *p)
{
    memset(p, 0, sizeof(*p));
    if (strncmp(text, "f1.", 3) != 0)
        return false;
    const char *q = text + 3;
    for (int k = 0; k < FEED_KINDS; k++) {
        char *end = NULL;
        if (*q < '0' || *q > '9')
            return false;
        p->xid[k] = strtoull(q, &end, 10);
        if (*end != '.')
            return false;
        q = end + 1;
        size_t n = strcspn(q, ".");
        if (n != 0 && n != 36)
            return false;
        memcpy(p->id[k], q, n);
        p->id[k][n] = '\0';
        if (n && !mh_api_is_uuid(p->id[k]))
            return false;
        q += n;
        if (k < FEED_KINDS - 1) {
            if (*q != '.')
                return false;
            q++;
        }
    }
    return *q == '\0';
}

void mh_http_hub_subscribe_feed(struct mh_http_hub *h, struct mh_http_req *req,
                                const char *project_id, const char *user_id,
                                struct mh_privacy_view *view, const char *cursor,
                                unsigned long long now_xid)
{
    struct feed_pos pos = {0};
    if (cursor && !feed_pos_decode(cursor, &pos)) {
        mh_secrets_privacy_view_destroy(view);
        mh_http_respond_error(req, 422, "invalid",
                              "the cursor is not one this feed wrote: resume with the id of a "
                              "message, or subscribe without one",
                              cursor == mh_http_req_query(req, "after") ? "?after"
                                                                        : "Last-Event-ID");
        return;
    }
    if (cursor == NULL)
        for (int k = 0; k < FEED_KINDS; k++)
            pos.xid[k] = now_xid;
    if (!admit(h, req, user_id)) {
        mh_secrets_privacy_view_destroy(view);
        return;
    }
    struct sub *s = mh_xcalloc(1, sizeof(*s));
    s->kind = SUB_FEED;
    snprintf(s->project_id, sizeof(s->project_id), "%s", project_id);
    snprintf(s->user_id, sizeof(s->user_id), "%s", user_id);
    s->view = view;
    s->pos = pos;
    add(h, req, s);
}

/* ---- Notifications (hub thread) ------------------------------------------------------------- */

/*
 * Marks the subscribers a notification concerns (hub.h gives its form): the project's feed
 * subscribers, waiting for the notifying transaction `x<id>`, and each named run's subscribers
 * that have not had its last seq.
 */
static void on_notify(void *ctx, const char *payload)
{
    struct mh_http_hub *h = ctx;
    char project[37];
    const char *p = payload;
    size_t n = strcspn(p, " ");
    if (n != 36)
        return;
    memcpy(project, p, 36);
    project[36] = '\0';
    const char *x = strstr(p, " x");
    unsigned long long xid = x ? strtoull(x + 2, NULL, 10) : 0;
    p += n;
    pthread_mutex_lock(&h->mu);
    for (struct sub *s = h->subs; s; s = s->next) {
        if (s->kind != SUB_FEED || strcmp(s->project_id, project) != 0)
            continue;
        s->is_dirty = h->has_dirty = true;
        if (xid > s->awaited_xid)
            s->awaited_xid = xid;
    }
    while (*p == ' ') {
        p++;
        n = strcspn(p, ":");
        if (n != 36 || p[n] != ':')
            break;
        char run_id[37];
        memcpy(run_id, p, 36);
        run_id[36] = '\0';
        long long seq = strtoll(p + 37, NULL, 10);
        p += 37 + strcspn(p + 37, " ");
        for (struct sub *s = h->subs; s; s = s->next)
            if (s->kind == SUB_RUN && s->seq < seq && strcmp(s->run_id, run_id) == 0)
                s->is_dirty = h->has_dirty = true;
    }
    pthread_mutex_unlock(&h->mu);
}

/* ---- Catch-up reads (hub thread) ------------------------------------------------------------ */

static const char *const event_data[] = {"payload", NULL};

static void close_sub(struct mh_http_hub *h, struct sub *s)
{
    s->is_closed = true;
    h->has_closed = true;
}

/*
 * Whether a message of `len` bytes may go to `s` now, after `pending` bytes prepared for it and
 * not yet written: into an empty queue always (a message larger than the queue goes alone),
 * otherwise only while the queue stays at most half full. Writing more than the queue holds
 * ends the stream as too slow (stream.c), which must happen only to a client that stops
 * reading, never to one that reads steadily and is sent large events; a subscriber without room
 * is marked behind, wanting `len` bytes.
 */
static bool has_room(struct mh_http_hub *h, struct sub *s, size_t pending, size_t len)
{
    size_t queued = mh_http_stream_queued(s->stream) + pending;
    if (queued == 0 || queued + len <= h->opts.queue_bytes / 2)
        return true;
    s->is_behind = h->has_behind = true;
    s->wants = len;
    return false;
}

/*
 * Writes `text` (the event `seq`) to every subscriber of the group that has not had it. One
 * without room for it gets nothing more for now: it is behind, and is read for again from the
 * database once its client has taken what it holds. Catch-up of a long log is so paced by each
 * client, and a client that stops reading holds at most its queue (until the connection timeout
 * closes it) and slows nobody.
 */
static void send_to(struct mh_http_hub *h, struct sub **group, size_t n, long long seq,
                    const char *text, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        struct sub *s = group[i];
        if (s->is_closed || s->is_behind || s->seq >= seq)
            continue;
        if (!has_room(h, s, 0, len))
            continue;
        if (!mh_http_stream_write(s->stream, text, len))
            close_sub(h, s);
        else
            s->seq = seq;
    }
}

/*
 * Serves subscribers of one run as one user (group[0..n)): reads the events after the lowest
 * seq among them, page by page, as that user, and sends each subscriber the ones it has not
 * had. A run the user can no longer see ends their streams.
 */
static void serve_run_group(struct mh_http_hub *h, struct sub **group, size_t n)
{
    for (size_t i = 0; i < n; i++)
        group[i]->is_behind = false;
    for (;;) {
        long long from = -1;
        for (size_t i = 0; i < n; i++)
            if (!group[i]->is_closed && !group[i]->is_behind && (from < 0 || group[i]->seq < from))
                from = group[i]->seq;
        if (from < 0)
            return;
        struct mh_err_info info = MH_ERR_INFO_INIT;
        struct mh_db_conn *c = NULL;
        json_t *rows = NULL;
        char fs[24], ls[24];
        snprintf(fs, sizeof(fs), "%lld", from);
        snprintf(ls, sizeof(ls), "%d", PAGE_ROWS);
        const char *params[] = {group[0]->run_id, group[0]->project_id, fs, ls};
        enum mh_err rc = mh_db_acquire(h->opts.pool, &c, &info);
        if (rc == MH_OK)
            rc = mh_db_begin(c, group[0]->user_id, NULL, &info);
        if (rc == MH_OK) {
            mh_metrics_gauge_add(MH_G_STREAM_READS, 1);
            rc = mh_db_query(
                c,
                "SELECT coalesce((SELECT json_agg(x ORDER BY x.seq) FROM (SELECT seq, type, "
                "node_id, attempt, payload, to_json(at) AS at, encode(hash, 'hex') AS hash FROM "
                "events WHERE run_id = r.id AND seq > $3::int ORDER BY seq LIMIT $4::int) x), "
                "'[]') AS events FROM runs r WHERE r.id = $1 AND r.project_id = $2",
                4, params, &rows, NULL, &info);
        }
        if (c)
            mh_db_rollback(c);
        mh_db_release(c);
        if (rc != MH_OK) {
            /* Tried again at the next notification or heartbeat. */
            mh_log(MH_LOG_WARN, "streams", "run %s: catch-up read failed: %s (%s)",
                   group[0]->run_id, info.message, info.kind);
            h->retry_reads_at = mh_clock_mono_ms() + 1000;
            return;
        }
        if (json_array_size(rows) == 0) {
            /* Not visible to this user any more (removed from the project, or the run is
             * gone): the stream ends, and a reconnection gets the 404 or 403. */
            for (size_t i = 0; i < n; i++)
                close_sub(h, group[i]);
            json_decref(rows);
            return;
        }
        json_t *events = json_object_get(json_array_get(rows, 0), "events");
        size_t k;
        json_t *ev;
        struct mh_buf b;
        mh_buf_init(&b, 64u << 20);
        json_array_foreach(events, k, ev)
        {
            mh_api_show_with(group[0]->view, ev, event_data);
            long long seq = json_integer_value(json_object_get(ev, "seq"));
            char *data = json_dumps(ev, JSON_COMPACT);
            mh_buf_reset(&b);
            if (data &&
                mh_buf_printf(&b, "id: %lld\nevent: run_event\ndata: %s\n\n", seq, data) == MH_OK)
                send_to(h, group, n, seq, mh_buf_str(&b), mh_buf_len(&b));
            free(data);
        }
        mh_buf_cleanup(&b);
        size_t got = json_array_size(events);
        json_decref(rows);
        if (got < PAGE_ROWS)
            return;
    }
}

#define NIL_UUID "00000000-0000-0000-0000-000000000000"

/* Whether row (`xid`, `id`) of kind `k` is at or before position `p` (so was sent). */
static bool feed_pos_has(const struct feed_pos *p, int k, unsigned long long xid, const char *id)
{
    return xid < p->xid[k] || (xid == p->xid[k] && strcmp(id, p->id[k]) <= 0);
}

/* The text of feed item `it` (borrowed, left as it is) as `view` shows it: new, NULL on OOM. */
static char *feed_item_text(const struct mh_privacy_view *view, json_t *it,
                            const char *const *members)
{
    /* A shallow copy is enough: showing replaces members, it never changes them in place. */
    json_t *copy = json_copy(it);
    if (copy == NULL)
        return NULL;
    mh_api_show_with(view, copy, members);
    char *text = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return text;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Serves the feed subscribers of one project (group[0..n), sorted by user): one statement per
 * page reads each kind's rows after the earliest position among them (one snapshot, whose xmin
 * is the horizon), and each subscriber is sent, in transaction order, the rows past its own
 * position. A kind read to its end moves everyone served to the horizon. A notified
 * transaction still above the horizon (an older one has not ended) is read for again shortly.
 *
 * Why one read serves different users: what row-level security shows a user of the tables the
 * feed reads (runs, webhook_deliveries, dead_letters, and projects for `visible`) is every row of
 * the project when the user is a member in any role (their policies are mh_can(project_id,
 * 'viewer'), and every role ranks at least viewer) and nothing otherwise; the columns read do
 * not depend on the user either. So a read as any member returns what a read as each member
 * would, and what is left per user is (1) whether they are still a member, which the same
 * statement checks for every subscriber's user in the same snapshot (a member sees the
 * project's memberships), ending the streams of those who are not, and (2) what their privacy
 * view shows, applied per subscriber (views that do not redact PII show the same text, so it is
 * made once per row). Should those policies ever depend on more than membership, the grouping
 * must become (project, user) again.
 */
static void serve_feed_group(struct mh_http_hub *h, struct sub **group, size_t n)
{
    static const char *sql = NULL;
    static char sql_buf[4096];
    if (sql == NULL) {
        snprintf(sql_buf, sizeof(sql_buf),
                 "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS x) SELECT (SELECT "
                 "x::text FROM h) AS horizon, EXISTS (SELECT 1 FROM projects WHERE id = $1) AS "
                 "visible, (SELECT coalesce(json_agg(m.user_id), '[]') FROM memberships m WHERE "
                 "m.project_id = $1 AND m.user_id = ANY ($9::uuid[])) AS members, "
                 "coalesce((SELECT json_agg(t ORDER BY t.feed_xid, t.id) FROM (SELECT d.feed_xid, "
                 "d.endpoint_id, %s FROM webhook_deliveries d, h WHERE d.project_id = $1 AND "
                 "d.feed_xid IS NOT NULL AND d.feed_xid < h.x AND (d.feed_xid, d.id) > ($2::xid8, "
                 "$3::uuid) ORDER BY d.feed_xid, d.id LIMIT $8::int) t), '[]') AS k0, "
                 "coalesce((SELECT json_agg(t ORDER BY t.feed_xid, t.id) FROM (SELECT r.feed_xid, "
                 "%s FROM runs r, h WHERE r.project_id = $1 AND r.feed_xid IS NOT NULL AND "
                 "r.feed_xid < h.x AND (r.feed_xid, r.id) > ($4::xid8, $5::uuid) ORDER BY "
                 "r.feed_xid, r.id LIMIT $8::int) t), '[]') AS k1, "
                 "coalesce((SELECT json_agg(t ORDER BY t.feed_xid, t.id) FROM (SELECT d.feed_xid, "
                 "%s FROM dead_letters d, h WHERE d.project_id = $1 AND d.feed_xid IS NOT NULL "
                 "AND d.feed_xid < h.x AND (d.feed_xid, d.id) > ($6::xid8, $7::uuid) ORDER BY "
                 "d.feed_xid, d.id LIMIT $8::int) t), '[]') AS k2",
                 mh_h_delivery_cols, mh_h_run_summary_cols, mh_h_dead_letter_cols);
        sql = sql_buf;
    }
    const char *const *members[FEED_KINDS] = {mh_h_delivery_data, mh_h_run_data,
                                              mh_h_dead_letter_data};
    for (size_t i = 0; i < n; i++)
        group[i]->is_behind = false;
    struct mh_buf users;
    mh_buf_init(&users, 64u << 20);
    const char **member_ids = NULL;
    for (int round = 0; round < 1000; round++) {
        /* Who is served (neither closed nor behind), from where, and their users, once each. */
        struct sub *reader = NULL;
        struct feed_pos from = {0};
        const char *last_user = NULL;
        mh_buf_reset(&users);
        bool ok = mh_buf_append(&users, "{", 1) == MH_OK;
        for (size_t i = 0; i < n; i++) {
            struct sub *s = group[i];
            if (s->is_closed || s->is_behind)
                continue;
            if (reader == NULL) {
                reader = s;
                from = s->pos;
            }
            for (int k = 0; k < FEED_KINDS; k++)
                if (!feed_pos_has(&s->pos, k, from.xid[k], from.id[k])) {
                    from.xid[k] = s->pos.xid[k];
                    memcpy(from.id[k], s->pos.id[k], sizeof(from.id[k]));
                }
            if (last_user == NULL || strcmp(last_user, s->user_id) != 0) {
                ok = ok && mh_buf_printf(&users, "%s%s", last_user ? "," : "", s->user_id) == MH_OK;
                last_user = s->user_id;
            }
        }
        if (reader == NULL || !ok || mh_buf_append(&users, "}", 1) != MH_OK)
            break;
        char xs[FEED_KINDS][24], ls[24];
        const char *params[9];
        params[0] = reader->project_id;
        for (int k = 0; k < FEED_KINDS; k++) {
            snprintf(xs[k], sizeof(xs[k]), "%llu", from.xid[k]);
            params[1 + 2 * k] = xs[k];
            params[2 + 2 * k] = from.id[k][0] ? from.id[k] : NIL_UUID;
        }
        snprintf(ls, sizeof(ls), "%d", PAGE_ROWS);
        params[7] = ls;
        params[8] = mh_buf_str(&users);
        struct mh_err_info info = MH_ERR_INFO_INIT;
        struct mh_db_conn *c = NULL;
        json_t *row = NULL;
        enum mh_err rc = mh_db_acquire(h->opts.pool, &c, &info);
        if (rc == MH_OK)
            rc = mh_db_begin(c, reader->user_id, NULL, &info);
        if (rc == MH_OK) {
            mh_metrics_gauge_add(MH_G_STREAM_READS, 1);
            rc = mh_db_query_row(c, sql, 9, params, &row, &info);
        }
        if (c)
            mh_db_rollback(c);
        mh_db_release(c);
        if (rc != MH_OK) {
            mh_log(MH_LOG_WARN, "streams", "project %s: feed read failed: %s (%s)",
                   reader->project_id, info.message, info.kind);
            h->retry_reads_at = mh_clock_mono_ms() + 1000;
            break;
        }
        if (!json_is_true(json_object_get(row, "visible"))) {
            /* The reader is no longer a member: its stream ends, and the others are read for
             * as another of them (a reconnection gets the 404). */
            close_sub(h, reader);
            json_decref(row);
            continue;
        }
        /* Streams whose user is no longer a member end. */
        json_t *mlist = json_object_get(row, "members");
        size_t nm = json_array_size(mlist);
        member_ids = mh_xrealloc(member_ids, (nm ? nm : 1) * sizeof(*member_ids));
        for (size_t i = 0; i < nm; i++) {
            const char *id = json_string_value(json_array_get(mlist, i));
            member_ids[i] = id ? id : "";
        }
        qsort(member_ids, nm, sizeof(*member_ids), str_cmp);
        for (size_t i = 0; i < n; i++) {
            struct sub *s = group[i];
            const char *key = s->user_id;
            if (!s->is_closed && !s->is_behind &&
                bsearch(&key, member_ids, nm, sizeof(*member_ids), str_cmp) == NULL)
                close_sub(h, s);
        }
        unsigned long long horizon =
            strtoull(json_string_value(json_object_get(row, "horizon")), NULL, 10);
        json_t *lists[FEED_KINDS];
        size_t at[FEED_KINDS] = {0};
        bool is_full = false;
        for (int k = 0; k < FEED_KINDS; k++) {
            char name[4] = {'k', (char)('0' + k), 0};
            lists[k] = json_object_get(row, name);
            is_full = is_full || json_array_size(lists[k]) >= PAGE_ROWS;
        }
        /* Each subscriber's messages of this page, written at once: one wake-up of its
         * connection per read rather than one per message. */
        struct mh_buf *outs = mh_xcalloc(n, sizeof(*outs));
        for (size_t i = 0; i < n; i++)
            mh_buf_init(&outs[i], 64u << 20);
        for (;;) {
            /* The oldest transaction's next row, kinds in enum order within one. */
            int pick = -1;
            unsigned long long best = 0;
            for (int k = 0; k < FEED_KINDS; k++) {
                json_t *it = json_array_get(lists[k], at[k]);
                if (it == NULL)
                    continue;
                unsigned long long x =
                    strtoull(json_string_value(json_object_get(it, "feed_xid")), NULL, 10);
                if (pick < 0 || x < best) {
                    pick = k;
                    best = x;
                }
            }
            if (pick < 0)
                break;
            json_t *it = json_array_get(lists[pick], at[pick]++);
            char id[37];
            snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(it, "id")));
            json_object_del(it, "feed_xid");
            char *plain = NULL; /* the text every view that does not redact PII shows */
            bool has_plain = false;
            for (size_t i = 0; i < n; i++) {
                struct sub *s = group[i];
                if (s->is_closed || s->is_behind || feed_pos_has(&s->pos, pick, best, id))
                    continue;
                char *own = NULL;
                const char *data;
                if (mh_secrets_privacy_view_is_redacting(s->view)) {
                    data = own = feed_item_text(s->view, it, members[pick]);
                } else {
                    if (!has_plain) {
                        plain = feed_item_text(s->view, it, members[pick]);
                        has_plain = true;
                    }
                    data = plain;
                }
                struct feed_pos next = s->pos;
                next.xid[pick] = best;
                memcpy(next.id[pick], id, sizeof(id));
                char cursor[200];
                feed_pos_encode(&next, cursor, sizeof(cursor));
                /* This message (its fields and their framing), after the page so far. */
                size_t len =
                    strlen(cursor) + strlen(feed_names[pick]) + (data ? strlen(data) : 0) + 24;
                if (!has_room(h, s, mh_buf_len(&outs[i]), len)) {
                    /* Behind: read for again once its client has taken what it holds. */
                    free(own);
                    continue;
                }
                if (data && mh_buf_printf(&outs[i], "id: %s\nevent: %s\ndata: %s\n\n", cursor,
                                          feed_names[pick], data) != MH_OK)
                    close_sub(h, s); /* its page outgrew the buffer (freed): it resumes */
                else
                    s->pos = next; /* (a row that could not be shown is skipped) */
                free(own);
            }
            free(plain);
        }
        for (size_t i = 0; i < n; i++) {
            struct sub *s = group[i];
            if (!s->is_closed && mh_buf_len(&outs[i]) > 0 &&
                !mh_http_stream_write(s->stream, mh_buf_str(&outs[i]), mh_buf_len(&outs[i])))
                close_sub(h, s);
            mh_buf_cleanup(&outs[i]);
        }
        free(outs);
        for (int k = 0; k < FEED_KINDS; k++) {
            if (json_array_size(lists[k]) >= PAGE_ROWS)
                continue;
            /* Read to its end: everything below the horizon has been sent to those served. */
            for (size_t i = 0; i < n; i++) {
                struct sub *s = group[i];
                if (!s->is_closed && !s->is_behind && horizon > s->pos.xid[k]) {
                    s->pos.xid[k] = horizon;
                    s->pos.id[k][0] = '\0';
                }
            }
        }
        json_decref(row);
        if (!is_full) {
            for (size_t i = 0; i < n; i++) {
                struct sub *s = group[i];
                if (s->is_closed || s->is_behind)
                    continue;
                if (s->awaited_xid >= horizon) {
                    s->is_behind = h->has_behind = true; /* read again shortly */
                    s->wants = 0;
                } else
                    s->awaited_xid = 0;
            }
            break;
        }
    }
    free(member_ids);
    mh_buf_cleanup(&users);
}

static int sub_cmp(const void *a, const void *b)
{
    const struct sub *x = *(struct sub *const *)a, *y = *(struct sub *const *)b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    int c = strcmp(x->run_id, y->run_id);
    if (c == 0)
        c = strcmp(x->project_id, y->project_id);
    return c ? c : strcmp(x->user_id, y->user_id);
}

/* Whether two subscribers (sorted by sub_cmp) share reads: a run's, as the same user; a
 * project's feed, whatever their users (serve_feed_group says why). */
static bool is_same_group(const struct sub *x, const struct sub *y)
{
    if (x->kind != y->kind || strcmp(x->project_id, y->project_id) != 0)
        return false;
    return x->kind == SUB_FEED ||
           (strcmp(x->run_id, y->run_id) == 0 && strcmp(x->user_id, y->user_id) == 0);
}

/* Serves every marked subscriber, a group sharing reads at a time. */
static void serve_dirty(struct mh_http_hub *h)
{
    pthread_mutex_lock(&h->mu);
    size_t n = 0, cap = 0;
    struct sub **list = NULL;
    for (struct sub *s = h->subs; s; s = s->next) {
        if (!s->is_dirty)
            continue;
        s->is_dirty = false;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            list = mh_xrealloc(list, cap * sizeof(*list));
        }
        list[n++] = s;
    }
    h->has_dirty = false;
    pthread_mutex_unlock(&h->mu);
    if (n == 0)
        return;
    qsort(list, n, sizeof(*list), sub_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && is_same_group(list[i], list[j]))
            j++;
        if (list[i]->kind == SUB_RUN)
            serve_run_group(h, list + i, j - i);
        else
            serve_feed_group(h, list + i, j - i);
        i = j;
    }
    free(list);
}

/* Drops closed subscribers (their streams end); with `heartbeat`, first sends each a comment,
 * which also finds the ones whose client has gone. */
static void sweep(struct mh_http_hub *h, bool heartbeat)
{
    static const char hb[] = ": hb\n\n";
    struct sub *dead = NULL;
    h->has_closed = false;
    pthread_mutex_lock(&h->mu);
    for (struct sub **pp = &h->subs; *pp;) {
        struct sub *s = *pp;
        /* Only an idle stream needs one; written behind a large event still being sent, it
         * could pass the queue's size and end a stream whose client is reading. */
        if (!s->is_closed && heartbeat && mh_http_stream_queued(s->stream) == 0 &&
            !mh_http_stream_write(s->stream, hb, sizeof(hb) - 1))
            s->is_closed = true;
        if (!s->is_closed && !mh_http_stream_is_open(s->stream))
            s->is_closed = true;
        if (!s->is_closed) {
            pp = &s->next;
            continue;
        }
        *pp = s->next;
        h->nsubs--;
        mh_metrics_gauge_add(MH_G_STREAM_SUBSCRIBERS, -1);
        s->next = dead;
        dead = s;
    }
    pthread_mutex_unlock(&h->mu);
    while (dead) {
        struct sub *s = dead;
        dead = s->next;
        sub_free(s);
    }
}

/* Marks the subscribers that were behind and whose queue has drained (or whose stream ended). */
static void check_behind(struct mh_http_hub *h)
{
    h->has_behind = false;
    pthread_mutex_lock(&h->mu);
    for (struct sub *s = h->subs; s; s = s->next) {
        if (!s->is_behind)
            continue;
        if (!mh_http_stream_is_open(s->stream)) {
            s->is_behind = false;
            s->is_closed = h->has_closed = true;
        } else if (mh_http_stream_queued(s->stream) <= h->opts.queue_bytes / 4 &&
                   has_room(h, s, 0, s->wants)) {
            s->is_behind = false;
            s->is_dirty = h->has_dirty = true;
        } else {
            h->has_behind = true;
        }
    }
    pthread_mutex_unlock(&h->mu);
}

static void mark_all(struct mh_http_hub *h)
{
    pthread_mutex_lock(&h->mu);
    for (struct sub *s = h->subs; s; s = s->next)
        s->is_dirty = h->has_dirty = true;
    pthread_mutex_unlock(&h->mu);
}

static void *run(void *arg)
{
    struct mh_http_hub *h = arg;
    struct mh_db_conn *listener = NULL;
    int64_t next_hb = mh_clock_mono_ms() + h->opts.heartbeat_ms;
    int64_t retry_at = 0;
    int64_t served_at = 0; /* when serve_dirty last ran */
    for (;;) {
        pthread_mutex_lock(&h->mu);
        bool is_stopping = h->is_stopping;
        pthread_mutex_unlock(&h->mu);
        if (is_stopping)
            break;
        int64_t now = mh_clock_mono_ms();
        if (listener == NULL && now >= retry_at) {
            struct mh_err_info info = MH_ERR_INFO_INIT;
            if (mh_db_connect(h->listen_url, &listener, &info) != MH_OK ||
                mh_db_listen(listener, MH_HUB_CHANNEL, &info) != MH_OK) {
                mh_log(MH_LOG_WARN, "streams", "cannot listen for changes: %s", info.message);
                mh_db_close(listener);
                listener = NULL;
                retry_at = now + 1000;
            } else {
                /* Whatever happened while not listening is read now. */
                mark_all(h);
            }
        }
        int timeout = (int)(next_hb - now);
        if (timeout < 0)
            timeout = 0;
        if (h->has_behind && timeout > 20)
            timeout = 20;
        if (h->retry_reads_at && h->retry_reads_at - now < timeout)
            timeout = h->retry_reads_at > now ? (int)(h->retry_reads_at - now) : 0;
        if (listener == NULL && timeout > 200)
            timeout = 200;
        pthread_mutex_lock(&h->mu);
        if (h->has_dirty) {
            /* Something to read: now, or once COALESCE_MS have passed since the last read,
             * collecting the notifications that arrive meanwhile. */
            int64_t wait = served_at + COALESCE_MS - now;
            timeout = wait <= 0 ? 0 : (int)(wait < timeout ? wait : timeout);
        }
        pthread_mutex_unlock(&h->mu);
        bool woken = false;
        if (listener) {
            struct mh_err_info info = MH_ERR_INFO_INIT;
            if (mh_db_wait_notify_each(listener, h->wake_fd, timeout, on_notify, h, &woken,
                                       &info) != MH_OK) {
                mh_log(MH_LOG_WARN, "streams", "lost the listening connection: %s", info.message);
                mh_db_close(listener);
                listener = NULL;
            }
        } else if (timeout > 0) {
            struct timespec ts = {timeout / 1000, (long)(timeout % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        uint64_t v;
        while (read(h->wake_fd, &v, sizeof(v)) > 0)
            ;
        now = mh_clock_mono_ms();
        if (h->retry_reads_at && now >= h->retry_reads_at) {
            h->retry_reads_at = 0;
            mark_all(h);
        }
        if (h->has_behind)
            check_behind(h);
        if (now >= served_at + COALESCE_MS) {
            serve_dirty(h);
            served_at = now;
        }
        now = mh_clock_mono_ms();
        bool heartbeat = now >= next_hb;
        if (heartbeat)
            next_hb = now + h->opts.heartbeat_ms;
        if (heartbeat || h->has_closed)
            sweep(h, heartbeat);
    }
    mh_db_close(listener);
    return NULL;
}
