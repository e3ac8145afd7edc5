/* SPDX-License-Identifier: MIT */
/*
 * Which secrets a workflow definition names, node by node, as each node's type reads them from
 * its config (struct mh_node_type's secret_refs: an http_call's `{{secrets.NAME}}` placeholders,
 * recognised by the one template grammar of template.c, and the secret that signs its request).
 * Read from the document itself, so a draft that does not validate still tells where its
 * secrets are used.
 */
#include "engine/engine.h"
#include "engine/engine_internal.h"

json_t *mh_engine_secret_refs(json_t *def)
{
    json_t *out = json_object();
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(def, "nodes"), i, node)
    {
        const char *id = json_string_value(json_object_get(node, "id"));
        const char *type = json_string_value(json_object_get(node, "type"));
        json_t *cfg = json_object_get(node, "config");
        const struct mh_node_type *t = type ? mh_engine__node_type(type) : NULL;
        if (id == NULL || t == NULL || !json_is_object(cfg))
            continue;
        json_t *names = json_array();
        t->secret_refs(cfg, names);
        if (json_array_size(names) > 0)
            json_object_set_new(out, id, names);
        else
            json_decref(names);
    }
    return out;
}
