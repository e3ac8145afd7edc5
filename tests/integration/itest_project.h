/* SPDX-License-Identifier: MIT */
/*
 * A server with one signed-in owner and one project, and the calls the engine's integration
 * suites make through its API: publish a workflow, start a run, read it. Header-only (static
 * inline), so a suite that includes it links nothing more.
 */
#ifndef MH_ITEST_PROJECT_H
#define MH_ITEST_PROJECT_H

#include <stdio.h>

#include "itest.h"

struct mh_it_project_env {
    struct mh_it_db db;
    struct mh_it_server s;
    char bearer[128];
    char user[40];
    char project[40];
};

/* A fresh database, the server started with `args`, its owner's token and project `name`. */
static inline void mh_it_project_setup(struct mh_it_project_env *e, const char *const *args,
                                       const char *name)
{
    mh_it_db_create(&e->db, true);
    mh_it_server_start(&e->s, &e->db, args);
    mh_it_user_token(&e->db, &e->s, "owner@example.com", e->bearer, e->user);
    mh_it_project(&e->s, e->bearer, name, e->project);
}

static inline json_t *mh_it_project_api(struct mh_it_project_env *e, const char *method,
                                        const char *path, const char *body, long *st)
{
    return mh_it_api(&e->s, e->bearer, method, path, body, st);
}

/* Creates workflow `name` with definition `def` (JSON text; the creation must succeed) and
 * publishes it: the publish answer's status, its body in *answer when asked for. */
static inline long mh_it_project_create_and_publish(struct mh_it_project_env *e, const char *name,
                                                    const char *def, char *id, json_t **answer)
{
    char body[8192], path[256];
    snprintf(body, sizeof(body), "{\"name\": \"%s\", \"definition\": %s}", name, def);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows", e->project);
    long st;
    json_t *w = mh_it_project_api(e, "POST", path, body, &st);
    if (st != 201)
        mh_t_fail(__FILE__, __LINE__, "create workflow: %ld %s", st, json_dumps(w, 0));
    snprintf(id, 40, "%s", json_string_value(json_object_get(w, "id")));
    json_decref(w);
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/publish", e->project, id);
    json_t *v = mh_it_project_api(e, "POST", path, NULL, &st);
    if (answer)
        *answer = v;
    else
        json_decref(v);
    return st;
}

/* As mh_it_project_create_and_publish, failing the test unless it was published. */
static inline void mh_it_project_publish(struct mh_it_project_env *e, const char *name,
                                         const char *def, char *id)
{
    json_t *v = NULL;
    long st = mh_it_project_create_and_publish(e, name, def, id, &v);
    if (st != 201)
        mh_t_fail(__FILE__, __LINE__, "publish %s: %ld %s", name, st, json_dumps(v, 0));
    json_decref(v);
}

/* Starts a run of workflow `wf` with `payload` (JSON text): 202 and its id in run_id[40]. */
static inline void mh_it_project_start_run(struct mh_it_project_env *e, const char *wf,
                                           const char *payload, char *run_id)
{
    char path[256], body[1024];
    snprintf(path, sizeof(path), "/api/projects/%s/workflows/%s/runs", e->project, wf);
    snprintf(body, sizeof(body), "{\"payload\": %s}", payload);
    long st;
    json_t *r = mh_it_project_api(e, "POST", path, body, &st);
    if (st != 202)
        mh_t_fail(__FILE__, __LINE__, "start run: %ld %s", st, json_dumps(r, 0));
    snprintf(run_id, 40, "%s", json_string_value(json_object_get(r, "run_id")));
    json_decref(r);
}

/* GET of run `run` (200), the caller's to json_decref. */
static inline json_t *mh_it_project_get_run(struct mh_it_project_env *e, const char *run)
{
    char path[256];
    snprintf(path, sizeof(path), "/api/projects/%s/runs/%s", e->project, run);
    long st;
    json_t *r = mh_it_project_api(e, "GET", path, NULL, &st);
    MH_T_ASSERT_EQ(st, 200);
    return r;
}

#endif
