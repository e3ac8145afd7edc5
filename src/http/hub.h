/* SPDX-License-Identifier: MIT */
/*
 * The live-stream hub (hub.c): Server-Sent Events subscribers of a run's events and of a
 * project's feed, fed by one LISTEN connection per server. A notification names what changed
 * (a run and its last seq, a project), never a payload; the hub then reads what each subscriber
 * has not seen yet from the database, in pages, as the subscriber's user (so row-level security
 * judges every read), shows it through the subscriber's privacy view and queues it on the
 * subscriber's stream. No subscriber holds a database connection: a pool connection is borrowed
 * only for each read. Because a subscriber is registered before its first read and reads always
 * start after the last id it was sent, catch-up hands over to live delivery without a gap or a
 * duplicate.
 */
#ifndef MH_HTTP_HUB_H
#define MH_HTTP_HUB_H

#include <stddef.h>

#include "core/err.h"
#include "db/db.h"
#include "runtime/store.h"
#include "http/http.h"

/* The channel the hub listens on, and what its notifications carry (text, space-separated):
 *   "<project_id> <run_id>:<last_seq> ..."  runs of a project whose logs grew (and the project's
 *                                           feed changed);
 *   "<project_id>"                          the project's feed changed (deliveries, dead
 *                                           letters, runs created).
 * Writers send at most one per transaction (pg_notify), never one per row. */
#define MH_HUB_CHANNEL MH_ENGINE_STREAMS_CHANNEL

struct mh_http_hub;
struct mh_privacy_view;

struct mh_http_hub_opts {
    struct mh_db_pool *pool; /* borrowed: catch-up reads */
    const char *listen_url;  /* borrowed during create: the LISTEN connection's database */
    int heartbeat_ms;        /* a comment line this often on every stream */
    int max_subscribers;     /* on this server */
    int max_per_user;        /* streams one user may hold on this server */
    size_t queue_bytes;      /* per subscriber; past it the subscriber is disconnected */
};

MH_MUSTCHECK enum mh_err mh_http_hub_start(const struct mh_http_hub_opts *opts,
                                           struct mh_http_hub **out, struct mh_err_info *info);
/* Stops the thread and drops every subscriber (their streams end). NULL-tolerant. */
void mh_http_hub_stop(struct mh_http_hub *h);

/*
 * Subscribes `req` (whose caller `user_id` passed the role check) to run `run_id` of
 * `project_id` after `after_seq`, answering 200 text/event-stream; `view` is stolen. On a full
 * hub answers 429 (per user) or 503 (per server) itself. Either way the request is answered.
 */
void mh_http_hub_subscribe_run(struct mh_http_hub *h, struct mh_http_req *req,
                               const char *project_id, const char *run_id, const char *user_id,
                               struct mh_privacy_view *view, long long after_seq);

/* Subscribes to the project's feed from `cursor` (an id the feed wrote; NULL: from `now_xid`, the
 * caller's snapshot's xmin, so no backlog); `view` is stolen. Answers 422 for a cursor the feed
 * did not write, and as mh_http_hub_subscribe_run otherwise. */
void mh_http_hub_subscribe_feed(struct mh_http_hub *h, struct mh_http_req *req,
                                const char *project_id, const char *user_id,
                                struct mh_privacy_view *view, const char *cursor,
                                unsigned long long now_xid);

#endif
