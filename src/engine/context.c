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

json_t *mh_engine__context(const struct mh_run_state *st, size_t node)
{
    const struct mh_wf *wf = st->wf;
    json_t *steps = json_object();
    for (size_t i = 0; i < wf->n_nodes; i++) {
        const struct mh_step_state *s = &st->steps[i];
        /* Only a finished step has a wrapper: {"output": ...} when it succeeded, {"error": ...}
         * when it failed (an ancestor's failure the run goes on from). */
        if (s->wrapper != NULL && mh_engine__is_ancestor(wf, node, i))
            json_object_set(steps, wf->nodes[i].id, s->wrapper);
    }
    return json_pack("{s:O,s:o,s:O}", "trigger", st->trigger ? st->trigger : json_null(), "steps",
                     steps, "run", st->run ? st->run : json_null());
}

enum mh_err mh_engine_context_build(const struct mh_run_state *st, const char *node_id,
                                    json_t **out)
{
    long i = node_id ? mh_engine__node_index(st->wf, node_id) : -1;
    *out = NULL;
    if (i < 0)
        return MH_ENOTFOUND;
    *out = mh_engine__context(st, (size_t)i);
    return MH_OK;
}
