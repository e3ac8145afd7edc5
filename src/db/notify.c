/* SPDX-License-Identifier: MIT */
/*
 * LISTEN/NOTIFY for waking workers. A listener holds a connection of its own (outside the pool)
 * and waits on its socket with poll(2), so waking costs no polling of the jobs table; the
 * workers still poll at poll_interval_ms as a fallback for a lost notification.
 */
#include "db/db.h"

#include <libpq-fe.h>
#include <poll.h>
#include <string.h>

#include "db/db_internal.h"

enum mh_err mh_db_listen(struct mh_db_conn *c, const char *channel, struct mh_err_info *info)
{
    char sql[128];
    /* Channel names are ours (constants), never user input. */
    snprintf(sql, sizeof(sql), "LISTEN %s", channel);
    return mh_db_exec_script(c, sql, info);
}

enum mh_err mh_db_wait_notify(struct mh_db_conn *c, int timeout_ms, bool *got,
                              struct mh_err_info *info)
{
    PGconn *pg = mh_db__pg(c);
    *got = false;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK)
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "listener connection lost");
    PGnotify *n;
    for (int round = 0; round < 2; round++) {
        while ((n = PQnotifies(pg)) != NULL) {
            *got = true;
            PQfreemem(n);
        }
        if (*got || round == 1)
            break;
        struct pollfd pfd = {.fd = PQsocket(pg), .events = POLLIN};
        int r = poll(&pfd, 1, timeout_ms);
        if (r < 0)
            return MH_OK;
        if (r == 0)
            return MH_OK;
        if (!PQconsumeInput(pg))
            return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "listener connection lost");
    }
    return MH_OK;
}

enum mh_err mh_db_wait_notify_each(struct mh_db_conn *c, int wake_fd, int timeout_ms,
                                   mh_db_notify_fn fn, void *ctx, bool *woken,
                                   struct mh_err_info *info)
{
    PGconn *pg = mh_db__pg(c);
    *woken = false;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK)
        return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "listener connection lost");
    PGnotify *n;
    bool got = false;
    for (int round = 0; round < 2; round++) {
        while ((n = PQnotifies(pg)) != NULL) {
            got = true;
            fn(ctx, n->extra ? n->extra : "");
            PQfreemem(n);
        }
        if (got || round == 1)
            break;
        struct pollfd pfd[2] = {{.fd = PQsocket(pg), .events = POLLIN},
                                {.fd = wake_fd, .events = POLLIN}};
        int r = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout_ms);
        if (r <= 0)
            return MH_OK;
        if (wake_fd >= 0 && (pfd[1].revents & POLLIN))
            *woken = true;
        if (!(pfd[0].revents & (POLLIN | POLLERR | POLLHUP)))
            return MH_OK;
        if (!PQconsumeInput(pg))
            return mh_err_set(info, MH_EUNAVAILABLE, "connection", -1, "listener connection lost");
    }
    return MH_OK;
}
