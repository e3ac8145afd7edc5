/* SPDX-License-Identifier: MIT */
/*
 * Failure alerts (docs/observability.md, "Alerts"): one background thread per server that
 * evaluates the projects' alert rules every few seconds (mh_alerts_evaluate in SQL: rules are
 * claimed FOR UPDATE SKIP LOCKED, so several servers on one database share the work) and
 * delivers the notifications they queue: a Standard Webhooks-signed POST to an alert webhook,
 * with retries and backoff, or a run of an error workflow. Deliveries are jobs of kind 'alert'
 * committed with their alert, so a crash between firing and sending delays a notification and
 * never loses it.
 *
 * Ownership: every pointer in the options is borrowed and must outlive the alerts engine.
 */
#ifndef MH_ALERTS_ALERTS_H
#define MH_ALERTS_ALERTS_H

#include <stdbool.h>

#include "core/err.h"
#include "db/db.h"

struct mh_alerts;
struct mh_secrets;
struct mh_engine_runtime;

struct mh_alerts_opts {
    struct mh_db_pool *pool;
    struct mh_secrets *secrets;        /* opens channel secrets */
    struct mh_engine_runtime *runtime; /* woken after an error workflow's run starts; may be NULL */
    int eval_interval_ms;              /* how often each rule is evaluated; 0: evaluator off */
    int poll_ms;                       /* how often due deliveries are looked for */
    bool allow_private_targets;        /* as the http_call's: development only */
    const char *outbound_allowlist;    /* the server's allow-list (copied) */
};

/* The vault name (AAD) of channel `channel_id`'s secret, written into `out`. */
#define MH_ALERTS_VAULT_NAME_MAX 64
void mh_alerts_vault_name(const char *channel_id, char out[MH_ALERTS_VAULT_NAME_MAX]);

/*
 * Starts the alerts thread and its HTTP executor. *out is new (mh_alerts_stop). Errors:
 * MH_EINVAL for bad options (a bad allow-list), MH_EUNAVAILABLE when a thread cannot start.
 */
MH_MUSTCHECK enum mh_err mh_alerts_start(const struct mh_alerts_opts *opts, struct mh_alerts **out,
                                         struct mh_err_info *info);
/* Tells the thread that deliveries are due (after committing a test alert). Thread-safe;
 * NULL-tolerant. */
void mh_alerts_wake(struct mh_alerts *a);
/* Stops the thread; deliveries in flight are canceled and come back when their lease runs out
 * (at-least-once: the webhook-id lets receivers drop a repeat). NULL-tolerant. */
void mh_alerts_stop(struct mh_alerts *a);

#endif
