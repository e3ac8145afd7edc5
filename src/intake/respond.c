/* SPDX-License-Identifier: MIT */
/*
 * Answers of respond steps for endpoints in response mode "respond" (docs/webhooks.md). When the
 * run's pure prefix, decided in the intake's own transaction, already holds the answer, intake.c
 * sends it at once after the commit. Otherwise the delivery's connection stays parked and waits
 * here, for at most the endpoint's response_timeout_ms, and one thread answers whatever has come
 * or expired. Nothing blocks a server thread, and the wait holds no pooled connection: at the
 * deadline the sender gets 202 with the run id.
 *
 * The answer comes two ways (docs/internals/intake.md, "Waiting for the answer"):
 *  - from a worker of this process, through the runtime's respond listener, right after its
 *    batch committed (no database round trip);
 *  - from a worker of any instance (several instances, or an HTTP-only one beside a
 *    workers-only one): the run's answer_until (set by the intake at creation, migration 0042)
 *    tells that worker someone may wait, and after its commit it sends NOTIFY on
 *    MH_ENGINE_ANSWERS_CHANNEL with the run id. The listener thread here, on a connection of its
 *    own (opened when the first delivery waits), reads the answer of the runs this process waits
 *    for from the database. When that connection is lost it is opened again and every run still
 *    waited for is read once (a notification sent meanwhile was lost with it); a wait whose
 *    answer never comes gets the 202 at its deadline all the same.
 */
#include "intake/intake_internal.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/mem.h"
#include "db/db.h"
#include "engine/engine.h"
#include "runtime/store.h"

/* Between two attempts to open the LISTEN connection. */
#define LISTEN_RETRY_MS 1000
/* The listener connection's application_name (pg_stat_activity). */
#define MH_INTAKE__ANSWERS_APP_NAME "meshhook answers"
/* A statement of the listener never waits longer (its reads are one run's few rows). */
#define LISTEN_STATEMENT_TIMEOUT "5s"

struct mh_intake__waits {
    struct mh_intake *in;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct mh_intake__wait *head; /* registered, armed or not */
    bool is_stopping;
    pthread_t thread;
    /* The LISTEN side (in->listen_url set): */
    bool has_listener;
    pthread_t listener;
    int wake_fd;       /* eventfd: the first wait, or stopping */
    bool wants_listen; /* mu: a delivery waited once, so the listener keeps its connection */
};

/* Run ids named by notifications, gathered while reading them. */
struct notes {
    char (*ids)[37];
    size_t n, cap;
};

static void *run(void *arg);
static void *listen_run(void *arg);
static void on_respond(void *ctx, const char *run_id, json_t *response, bool is_finished,
                       bool *is_waited);
static void unlink_wait(struct mh_intake__waits *ws, struct mh_intake__wait *w);

enum mh_err mh_intake__waits_start(struct mh_intake *in, struct mh_intake__waits **out)
{
    struct mh_intake__waits *ws = mh_xcalloc(1, sizeof(*ws));
    ws->in = in;
    ws->wake_fd = -1;
    pthread_mutex_init(&ws->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&ws->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&ws->thread, NULL, run, ws) != 0) {
        pthread_cond_destroy(&ws->cv);
        pthread_mutex_destroy(&ws->mu);
        free(ws);
        return MH_ENOMEM;
    }
    if (in->listen_url) {
        ws->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        ws->has_listener =
            ws->wake_fd >= 0 && pthread_create(&ws->listener, NULL, listen_run, ws) == 0;
        if (!ws->has_listener) {
            mh_intake__waits_stop(ws);
            return MH_ENOMEM;
        }
    }
    mh_engine_runtime_on_respond(atomic_load(&in->runtime), on_respond, ws);
    *out = ws;
    return MH_OK;
}

static void wake_listener(struct mh_intake__waits *ws)
{
    uint64_t one = 1;
    if (ws->wake_fd >= 0)
        (void)!write(ws->wake_fd, &one, sizeof(one));
}

void mh_intake__waits_stop(struct mh_intake__waits *ws)
{
    if (ws == NULL)
        return;
    mh_engine_runtime_on_respond(atomic_load(&ws->in->runtime), NULL, NULL);
    pthread_mutex_lock(&ws->mu);
    ws->is_stopping = true;
    pthread_cond_signal(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
    if (ws->has_listener) {
        wake_listener(ws);
        pthread_join(ws->listener, NULL);
    }
    pthread_join(ws->thread, NULL);
    if (ws->wake_fd >= 0)
        close(ws->wake_fd);
    pthread_cond_destroy(&ws->cv);
    pthread_mutex_destroy(&ws->mu);
    free(ws);
}

void mh_intake__wait_register(struct mh_intake__waits *ws, struct mh_intake__wait *w)
{
    w->deadline_ms = 0;
    w->is_armed = false;
    w->is_finished = false;
    w->response = NULL;
    mh_engine_runtime_respond_watch(atomic_load(&ws->in->runtime), 1);
    pthread_mutex_lock(&ws->mu);
    w->next = ws->head;
    ws->head = w;
    bool first = ws->has_listener && !ws->wants_listen;
    ws->wants_listen = true;
    pthread_mutex_unlock(&ws->mu);
    if (first)
        wake_listener(ws);
}
/* With ws->mu held. */
static void unlink_wait(struct mh_intake__waits *ws, struct mh_intake__wait *w)
{
    for (struct mh_intake__wait **pp = &ws->head; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            w->next = NULL;
            mh_engine_runtime_respond_watch(atomic_load(&ws->in->runtime), -1);
            return;
        }
    }
}

void mh_intake__wait_cancel(struct mh_intake__waits *ws, struct mh_intake__wait *w)
{
    pthread_mutex_lock(&ws->mu);
    unlink_wait(ws, w);
    pthread_mutex_unlock(&ws->mu);
    json_decref(w->response);
    w->response = NULL;
}

void mh_intake__wait_arm(struct mh_intake__waits *ws, struct mh_intake__wait *w, int timeout_ms)
{
    pthread_mutex_lock(&ws->mu);
    w->deadline_ms = mh_clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 1);
    w->is_armed = true;
    /* The thread answers it at once when its answer came before the commit was confirmed. */
    pthread_cond_signal(&ws->cv);
    pthread_mutex_unlock(&ws->mu);
}

/* With ws->mu held: the registered wait for `run_id`, or NULL. */
static struct mh_intake__wait *find_wait(struct mh_intake__waits *ws, const char *run_id)
{
    for (struct mh_intake__wait *w = ws->head; w; w = w->next)
        if (strcmp(w->run_id, run_id) == 0)
            return w;
    return NULL;
}

/* With ws->mu held: hands `w` what came (the first answer counts; `response` is copied). */
static void deliver(struct mh_intake__waits *ws, struct mh_intake__wait *w, json_t *response,
                    bool is_finished)
{
    if (response && w->response == NULL)
        w->response = json_deep_copy(response);
    w->is_finished = w->is_finished || is_finished;
    pthread_cond_signal(&ws->cv);
}

/* On a worker thread, after its batch committed. */
static void on_respond(void *ctx, const char *run_id, json_t *response, bool is_finished,
                       bool *is_waited)
{
    struct mh_intake__waits *ws = ctx;
    pthread_mutex_lock(&ws->mu);
    struct mh_intake__wait *w = find_wait(ws, run_id);
    if (w)
        deliver(ws, w, response, is_finished);
    *is_waited = w != NULL;
    pthread_mutex_unlock(&ws->mu);
}

/* ---- The LISTEN side ------------------------------------------------------------------------ */

static void note_id(void *ctx, const char *payload)
{
    struct notes *nt = ctx;
    if (strlen(payload) != 36)
        return; /* not a run id: nothing of ours */
    if (nt->n == nt->cap) {
        nt->cap = nt->cap ? 2 * nt->cap : 16;
        nt->ids = mh_xrealloc(nt->ids, nt->cap * sizeof(*nt->ids));
    }
    memcpy(nt->ids[nt->n++], payload, 37);
}

/*
 * Reads the answer of run `run_id` from the database when this process still waits for it: the
 * output of its first recorded respond step, and whether the run ended. Returns an error only
 * when the connection is unusable.
 */
static enum mh_err read_answer(struct mh_intake__waits *ws, struct mh_db_conn *c,
                               const char *run_id)
{
    char project_id[37];
    struct mh_wf *wf = NULL;
    pthread_mutex_lock(&ws->mu);
    struct mh_intake__wait *w = find_wait(ws, run_id);
    if (w && w->response == NULL && !w->is_finished && w->wf) {
        memcpy(project_id, w->project_id, sizeof(project_id));
        wf = mh_engine_wf_ref(w->wf);
    }
    pthread_mutex_unlock(&ws->mu);
    if (wf == NULL)
        return MH_OK;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    json_t *row = NULL;
    const char *params[] = {run_id};
    enum mh_err rc = mh_db_begin_generic(c, NULL, project_id, &info);
    bool began = rc == MH_OK;
    if (rc == MH_OK)
        rc = mh_db_query_row(
            c,
            "SELECT r.status, (SELECT json_agg(json_build_object('node', e.node_id, 'output', "
            "e.payload->'output') ORDER BY e.seq) FROM events e WHERE e.run_id = r.id AND e.type "
            "= 'step_succeeded') AS steps FROM runs r WHERE r.id = $1::uuid",
            1, params, &row, &info);
    if (began)
        mh_db_rollback(c); /* read only */
    if (rc == MH_OK) {
        const char *status = json_string_value(json_object_get(row, "status"));
        bool is_finished =
            status && (strcmp(status, "succeeded") == 0 || strcmp(status, "failed") == 0 ||
                       strcmp(status, "canceled") == 0);
        json_t *response = NULL, *step;
        size_t i;
        json_array_foreach(json_object_get(row, "steps"), i, step)
        {
            const char *type =
                mh_engine_wf_node_type(wf, json_string_value(json_object_get(step, "node")));
            if (response == NULL && type && strcmp(type, "respond") == 0)
                response = json_object_get(step, "output");
        }
        if (response || is_finished) {
            pthread_mutex_lock(&ws->mu);
            if ((w = find_wait(ws, run_id)) != NULL)
                deliver(ws, w, response, is_finished);
            pthread_mutex_unlock(&ws->mu);
        }
    }
    json_decref(row);
    mh_engine_wf_unref(wf);
    if (rc == MH_ENOTFOUND) /* not committed yet: its notification is still to come */
        return MH_OK;
    if (rc != MH_OK)
        mh_log(MH_LOG_WARN, "intake", "reading run %s's answer: %s", run_id, info.message);
    return mh_db_is_ok(c) ? MH_OK : MH_EUNAVAILABLE;
}

/* After (re)connecting: every run still waited for is read once, as a notification sent while
 * no connection listened is lost. */
static enum mh_err catch_up(struct mh_intake__waits *ws, struct mh_db_conn *c)
{
    struct notes all = {0};
    pthread_mutex_lock(&ws->mu);
    for (struct mh_intake__wait *w = ws->head; w; w = w->next)
        note_id(&all, w->run_id);
    pthread_mutex_unlock(&ws->mu);
    enum mh_err rc = MH_OK;
    for (size_t i = 0; i < all.n && rc == MH_OK; i++)
        rc = read_answer(ws, c, all.ids[i]);
    free(all.ids);
    return rc;
}

static struct mh_db_conn *listen_open(struct mh_intake__waits *ws, bool *was_lost)
{
    struct mh_db_conn *c = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_db_connect(ws->in->listen_url, &c, &info) != MH_OK ||
        mh_db_exec_script(c,
                          "SET statement_timeout = '" LISTEN_STATEMENT_TIMEOUT "'; "
                          "SET application_name = '" MH_INTAKE__ANSWERS_APP_NAME "'",
                          &info) != MH_OK ||
        mh_db_listen(c, MH_ENGINE_ANSWERS_CHANNEL, &info) != MH_OK) {
        if (!*was_lost)
            mh_log(MH_LOG_WARN, "intake",
                   "cannot listen for other instances' answers (retrying every %d ms): %s",
                   LISTEN_RETRY_MS, info.message);
        *was_lost = true;
        mh_db_close(c);
        return NULL;
    }
    if (*was_lost)
        mh_log(MH_LOG_INFO, "intake", "listening for other instances' answers again");
    *was_lost = false;
    return c;
}

static void *listen_run(void *arg)
{
    struct mh_intake__waits *ws = arg;
    struct mh_db_conn *c = NULL;
    struct notes nt = {0};
    int64_t retry_at = 0;
    bool was_lost = false;
    for (;;) {
        pthread_mutex_lock(&ws->mu);
        bool is_stopping = ws->is_stopping, wants = ws->wants_listen;
        pthread_mutex_unlock(&ws->mu);
        if (is_stopping)
            break;
        int64_t now = mh_clock_mono_ms();
        if (wants && c == NULL && now >= retry_at) {
            c = listen_open(ws, &was_lost);
            if (c && catch_up(ws, c) != MH_OK) {
                mh_db_close(c);
                c = NULL;
            }
            if (c == NULL)
                retry_at = now + LISTEN_RETRY_MS;
        }
        bool woken = false;
        if (c) {
            struct mh_err_info info = MH_ERR_INFO_INIT;
            nt.n = 0;
            enum mh_err rc =
                mh_db_wait_notify_each(c, ws->wake_fd, 1000, note_id, &nt, &woken, &info);
            for (size_t i = 0; i < nt.n && rc == MH_OK; i++)
                rc = read_answer(ws, c, nt.ids[i]);
            if (rc != MH_OK) {
                if (!was_lost)
                    mh_log(MH_LOG_WARN, "intake",
                           "the connection listening for answers was lost; opening it again");
                was_lost = true;
                mh_db_close(c);
                c = NULL; /* opened again at once: the waits may have little time left */
            }
        } else {
            int64_t left = wants ? retry_at - now : 1000;
            struct pollfd pfd = {.fd = ws->wake_fd, .events = POLLIN};
            (void)poll(&pfd, 1, (int)(left < 10 ? 10 : left > 1000 ? 1000 : left));
            woken = true;
        }
        if (woken) {
            uint64_t v;
            while (read(ws->wake_fd, &v, sizeof(v)) > 0) {
            }
        }
    }
    free(nt.ids);
    mh_db_close(c);
    return NULL;
}

static void *run(void *arg)
{
    struct mh_intake__waits *ws = arg;
    pthread_mutex_lock(&ws->mu);
    for (;;) {
        int64_t now = mh_clock_mono_ms(), next = 0;
        struct mh_intake__wait *ready = NULL;
        for (struct mh_intake__wait **pp = &ws->head; *pp;) {
            struct mh_intake__wait *w = *pp;
            if (w->is_armed &&
                (w->response || w->is_finished || now >= w->deadline_ms || ws->is_stopping)) {
                *pp = w->next;
                mh_engine_runtime_respond_watch(atomic_load(&ws->in->runtime), -1);
                w->next = ready;
                ready = w;
                continue;
            }
            if (w->is_armed && (next == 0 || w->deadline_ms < next))
                next = w->deadline_ms;
            pp = &w->next;
        }
        if (ready) {
            pthread_mutex_unlock(&ws->mu);
            while (ready) {
                struct mh_intake__wait *w = ready;
                ready = w->next;
                w->next = NULL;
                w->on_ready(w);
            }
            pthread_mutex_lock(&ws->mu);
            continue;
        }
        if (ws->is_stopping && ws->head == NULL)
            break;
        if (next == 0) {
            pthread_cond_wait(&ws->cv, &ws->mu);
        } else {
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000L};
            pthread_cond_timedwait(&ws->cv, &ws->mu, &ts);
        }
    }
    pthread_mutex_unlock(&ws->mu);
    return NULL;
}

void mh_intake_response_render(json_t *response, const char **content_type, char **body,
                               size_t *len)
{
    json_t *b = json_object_get(response, "body");
    const char *ct = NULL, *name;
    json_t *v;
    json_object_foreach(json_object_get(response, "headers"), name, v)
    {
        if (strcasecmp(name, "content-type") == 0)
            ct = json_string_value(v);
    }
    *body = NULL;
    *len = 0;
    *content_type = ct ? ct : "application/json";
    if (b == NULL) {
        if (ct == NULL)
            *content_type = NULL;
        return;
    }
    if (ct && json_is_string(b)) {
        *len = json_string_length(b);
        *body = mh_xmalloc(*len + 1);
        memcpy(*body, json_string_value(b), *len + 1);
        return;
    }
    *body = json_dumps(b, JSON_COMPACT | JSON_ENCODE_ANY);
    *len = *body ? strlen(*body) : 0;
}
