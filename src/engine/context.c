/* SPDX-License-Identifier: MIT */
/*
 * Builds the JSON context a node evaluates against: {"trigger", "steps", "run"}; a step is
 * {"output": ...}, or {"error": ...} when it failed and the run went on. Only the node's
 * ancestors appear under "steps", so a node never sees a parallel branch's output, and what it
 * computes does not depend on which branch happened to finish first. Every context is a fresh
 * top-level object sharing (by reference) the trigger and the steps' outputs; a step output may
 * itself be a whole context (the expression `@`), and fresh containers keep such sharing free of
 * reference cycles.
 */
#include "engine/engine_internal.h"

#include <string.h>

static json_t *build(const struct mh_run_state *st, long node);

/* `node` < 0: every finished step. An item sees the steps its for_each sees, then its own (body
 * ids differ from the workflow's, which validation checks), and its item and index. */
static json_t *build(const struct mh_run_state *st, long node)
{
    const struct mh_wf *wf = st->wf;
    json_t *steps = NULL;
    if (st->parent != NULL) {
        json_t *outer = mh_engine__context(st->parent, st->parent_node);
        steps = json_incref(json_object_get(outer, "steps"));
        json_decref(outer);
    } else {
        steps = json_object();
    }
    for (size_t i = 0; i < wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        /* Only a finished step has a wrapper: {"output": ...} when it succeeded, {"error": ...}
         * when it failed (an ancestor's failure the run goes on from). */
        if (s->wrapper != NULL && (node < 0 || mh_engine__is_ancestor(wf, (size_t)node, i)))
            json_object_set(steps, wf->nodes[i].id, s->wrapper);
    }
    json_t *ctx = json_pack("{s:O,s:o,s:O}", "trigger", st->trigger ? st->trigger : json_null(),
                            "steps", steps, "run", st->run ? st->run : json_null());
    /* wait_callback URLs (callbacks_issued), the run's own, shown to every step. */
    const struct mh_run_state *run = st;
    while (run->parent != NULL)
        run = run->parent;
    if (run->callbacks != NULL)
        json_object_set(ctx, "callbacks", run->callbacks);
    if (st->parent != NULL) {
        json_object_set(ctx, "item", st->item ? st->item : json_null());
        json_object_set_new(ctx, "index", json_integer((json_int_t)st->index));
    }
    return ctx;
}

json_t *mh_engine__context(const struct mh_run_state *st, size_t node)
{
    return build(st, (long)node);
}

json_t *mh_engine__item_context(const struct mh_run_state *st)
{
    return build(st, -1);
}

enum mh_err mh_engine_context_build(const struct mh_run_state *st, const char *node_id,
                                    json_t **out)
{
    struct mh_run_state *where = NULL;
    /* resolve() only reads; a body step's context is its item's. */
    long i = node_id ? mh_engine__resolve((struct mh_run_state *)st, node_id, &where) : -1;
    *out = NULL;
    if (i < 0)
        return MH_ENOTFOUND;
    *out = mh_engine__context(where, (size_t)i);
    return MH_OK;
}
