/* SPDX-License-Identifier: MIT */
/*
 * Answers of respond steps for endpoints in response mode "respond" (docs/webhooks.md). When the
 * run's pure prefix, decided in the intake's own transaction, already holds the answer, intake.c
 * sends it at once after the commit. Otherwise the delivery's connection stays parked and waits
 * here, for at most the endpoint's response_timeout_ms: a worker of this process that records
 * the run's respond step (or ends the run) tells us through the runtime's respond listener, and
 * one thread answers whatever has come or expired. Nothing blocks a server thread, and the wait
 * holds no database connection: at the deadline the sender gets 202 with the run id.
 */
#include "intake/intake_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/mem.h"
#include "runtime/store.h"

struct mh_intake__waits {
    struct mh_intake *in;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct mh_intake__wait *head; /* registered, armed or not */
    bool is_stopping;
    pthread_t thread;
};

static void *run(void *arg);
static void on_respond(void *ctx, const char *run_id, json_t *response, bool is_finished);
static void unlink_wait(struct mh_intake__waits *ws, struct mh_intake__wait *w);

enum mh_err mh_intake__waits_start(struct mh_intake *in, struct mh_intake__waits **out)
{
    struct mh_intake__waits *ws = mh_xcalloc(1, sizeof(*ws));
    ws->in = in;
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
    mh_engine_runtime_on_respond(atomic_load(&in->runtime), on_respond, ws);
    *out = ws;
    return MH_OK;
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
    pthread_join(ws->thread, NULL);
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
    pthread_mutex_unlock(&ws->mu);
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

/* On a worker thread, after its batch committed. */
static void on_respond(void *ctx, const char *run_id, json_t *response, bool is_finished)
{
    struct mh_intake__waits *ws = ctx;
    pthread_mutex_lock(&ws->mu);
    for (struct mh_intake__wait *w = ws->head; w; w = w->next) {
        if (strcmp(w->run_id, run_id) != 0)
            continue;
        /* The first answer counts; the deliverer thread gets a copy of its own. */
        if (response && w->response == NULL)
            w->response = json_deep_copy(response);
        w->is_finished = w->is_finished || is_finished;
        pthread_cond_signal(&ws->cv);
        break;
    }
    pthread_mutex_unlock(&ws->mu);
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
