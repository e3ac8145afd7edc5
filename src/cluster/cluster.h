/* SPDX-License-Identifier: MIT */
/*
 * Instances on one database (docs/operations.md "Running several instances"): every `meshhook
 * serve` registers in the `instances` table (migration 0031) and beats once per interval from a
 * thread of its own. Each beat returns how many instances that serve webhooks are alive (a beat
 * younger than three intervals), which the intake divides its rate limits by, so that the
 * instances together admit the configured rate. Nothing here is on the path of a webhook: the
 * count is an atomic read.
 */
#ifndef MH_CLUSTER_CLUSTER_H
#define MH_CLUSTER_CLUSTER_H

#include <stdbool.h>

#include "core/err.h"
#include "db/db.h"

struct mh_cluster;

struct mh_cluster_opts {
    struct mh_db_pool *pool; /* borrowed; outlives the cluster thread */
    bool serves_intake;      /* this instance answers webhooks (not --workers-only) */
    int workers;             /* this instance's worker threads (shown in the table) */
    int heartbeat_ms;        /* beat interval (> 0); an instance is alive for 3 of them */
};

/* Registers this instance (the first beat runs before this returns, so the first webhooks see
 * the other instances; a database that cannot be reached only delays that) and starts the
 * beating thread. MH_ENOMEM when the thread cannot start. */
MH_MUSTCHECK enum mh_err mh_cluster_start(const struct mh_cluster_opts *opts,
                                          struct mh_cluster **out);
/* Instances serving webhooks alive at the last beat, at least 1. NULL-tolerant (1). */
int mh_cluster_intake_instances(const struct mh_cluster *c);
/* This instance's id (a UUID), borrowed for the cluster's lifetime. */
const char *mh_cluster_instance_id(const struct mh_cluster *c);
/* Stops beating, removes this instance from the table (the others take its share at their
 * next beat) and frees everything. NULL-tolerant. */
void mh_cluster_stop(struct mh_cluster *c);

#endif
