/* SPDX-License-Identifier: MIT */
/*
 * Which secrets a workflow definition names, node by node: the `{{secrets.NAME}}` placeholders
 * of each http_call's url, header and query values and body template, recognised by the one
 * template grammar (template.c), and the secret that signs its request. Read from the document
 * itself, so a draft that does not validate still tells where its secrets are used.
 */
#include <string.h>

#include "engine/engine.h"
#include "engine/engine_internal.h"

/* Appends `name` to `names` unless it is there already. */
static void add_name(json_t *names, const char *name)
{
    for (size_t k = 0; k < json_array_size(names); k++)
        if (strcmp(json_string_value(json_array_get(names, k)), name) == 0)
            return;
    json_array_append_new(names, json_string(name));
}

/* Appends the secret names of template `src` to `names` (a JSON array, without duplicates). A
 * template that does not compile names nothing: its text is not a placeholder then. */
static void add_template(json_t *names, const char *src, bool is_url)
{
    struct mh_tpl *t = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (src == NULL || mh_engine__tpl_compile(src, is_url, &t, &info) != MH_OK)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        if (t->parts[i].is_secret && t->parts[i].secret_name != NULL)
            add_name(names, t->parts[i].secret_name);
    }
    mh_engine__tpl_destroy(t);
}

static void add_values(json_t *names, json_t *obj)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        add_template(names, json_string_value(v), false);
    }
}

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
        if (id == NULL || type == NULL || strcmp(type, "http_call") != 0 || !json_is_object(cfg))
            continue;
        json_t *names = json_array();
        add_template(names, json_string_value(json_object_get(cfg, "url")), true);
        add_values(names, json_object_get(cfg, "headers"));
        add_values(names, json_object_get(cfg, "query"));
        add_template(names, json_string_value(json_object_get(cfg, "body")), false);
        const char *sign =
            json_string_value(json_object_get(json_object_get(cfg, "sign"), "secret"));
        if (sign != NULL)
            add_name(names, sign);
        if (json_array_size(names) > 0)
            json_object_set_new(out, id, names);
        else
            json_decref(names);
    }
    return out;
}
