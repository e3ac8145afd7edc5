/* SPDX-License-Identifier: MIT */
/*
 * The node type registry: the one table of node types (each type is one file under nodes/ that
 * defines its `struct mh_node_type`: name, config JSON Schema and every operation the engine
 * performs on its nodes), the list `GET /api/node-types` serves from it, and what the types
 * share: compile helpers and the no-op operations of types with nothing to do. Adding a type
 * is one file and one line in `node_types` (docs/internals/node-types.md).
 */
#include "engine/engine_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

static const struct mh_node_type *const node_types[] = {
    &mh_engine__node_transform, &mh_engine__node_branch,        &mh_engine__node_delay,
    &mh_engine__node_terminate, &mh_engine__node_http_call,     &mh_engine__node_for_each,
    &mh_engine__node_respond,   &mh_engine__node_wait_callback, &mh_engine__node_call_workflow,
};

static json_t *parse_schema(const struct mh_node_type *t);

size_t mh_engine__node_type_count(void)
{
    return MH_ARRAY_LEN(node_types);
}

const struct mh_node_type *mh_engine__node_type_at(size_t i)
{
    return i < MH_ARRAY_LEN(node_types) ? node_types[i] : NULL;
}

const struct mh_node_type *mh_engine__node_type(const char *name)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(node_types); i++)
        if (strcmp(node_types[i]->name, name) == 0)
            return node_types[i];
    return NULL;
}

static json_t *parse_schema(const struct mh_node_type *t)
{
    json_error_t jerr;
    json_t *s = json_loads(t->schema, 0, &jerr);
    if (s == NULL)
        mh_panic("node type %s: built-in schema does not parse: %s at %d", t->name, jerr.text,
                 jerr.position);
    return s;
}

size_t mh_engine_node_type_count(void)
{
    return MH_ARRAY_LEN(node_types);
}

const char *mh_engine_node_type_name(size_t i)
{
    return i < MH_ARRAY_LEN(node_types) ? node_types[i]->name : NULL;
}

json_t *mh_engine_node_types(void)
{
    json_t *list = json_array();
    for (size_t i = 0; i < MH_ARRAY_LEN(node_types); i++) {
        const struct mh_node_type *t = node_types[i];
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:o}", "type", t->name, "title",
                                              t->title, "description", t->description,
                                              "config_schema", parse_schema(t)));
    }
    return list;
}

json_t *mh_engine_node_type_schema(const char *type)
{
    const struct mh_node_type *t = type ? mh_engine__node_type(type) : NULL;
    return t ? parse_schema(t) : NULL;
}

bool mh_engine_wf_node_waits_for_callback(const struct mh_wf *wf, size_t i)
{
    return i < wf->n_nodes && wf->nodes[i].type != NULL && wf->nodes[i].type->waits_for_callback;
}

bool mh_engine_wf_node_is_dead_letter(const struct mh_wf *wf, const char *node_id)
{
    const struct mh_wf *where = NULL;
    long i = node_id ? mh_engine__wf_resolve(wf, node_id, &where) : -1;
    if (i < 0 || where->nodes[i].type == NULL)
        return false;
    if (where->nodes[i].type->is_dead_letter)
        return true;
    /* A for_each fails when an item fails: it belongs there when its body holds such a node. */
    const struct mh_wf *body = where->nodes[i].body;
    for (size_t k = 0; body != NULL && k < body->n_nodes; k++)
        if (mh_engine_wf_node_is_dead_letter(body, body->nodes[k].id))
            return true;
    return false;
}

void mh_engine__node_release(struct mh_wf_node *n)
{
    if (n->type != NULL)
        n->type->release(n->impl);
    free(n->id);
    free(n->type_name);
    free(n->in);
    free(n->out);
    free(n->ancestors);
    mh_engine_wf_unref(n->body);
    memset(n, 0, sizeof(*n));
}

/* ---- Compile helpers ---------------------------------------------------------------------- */

char *mh_engine__pointer_join(const char *base, const char *token)
{
    struct mh_buf b;
    mh_buf_init(&b, 1 << 20);
    enum mh_err rc = mh_buf_printf(&b, "%s/", base);
    for (const char *p = token; rc == MH_OK && *p; p++) {
        if (*p == '~')
            rc = mh_buf_append(&b, "~0", 2);
        else if (*p == '/')
            rc = mh_buf_append(&b, "~1", 2);
        else
            rc = mh_buf_append(&b, p, 1);
    }
    MH_ASSERT(rc == MH_OK);
    return mh_buf_steal(&b, NULL);
}

size_t mh_engine__compile_expr(const char *src, const char *path, const char *node_id,
                               struct mh_jp_expr **out, json_t *errors)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_jp_compile(src, strlen(src), out, &info) == MH_OK)
        return 0;
    mh_engine__add_error(errors, path, "jmespath_syntax", node_id, info.offset,
                         "invalid JMESPath: %s", info.message);
    return 1;
}

size_t mh_engine__compile_member(json_t *cfg, const char *path, const char *member,
                                 const char *node_id, struct mh_jp_expr **out, json_t *errors)
{
    char *p = mh_engine__pointer_join(path, member);
    size_t nerr = mh_engine__compile_expr(json_string_value(json_object_get(cfg, member)), p,
                                          node_id, out, errors);
    free(p);
    return nerr;
}

size_t mh_engine__compile_expr_impl(struct mh_wf_node *n, json_t *cfg, const char *path,
                                    json_t *errors)
{
    struct mh_jp_expr *e = NULL;
    size_t nerr = mh_engine__compile_member(cfg, path, n->type->expr_member, n->id, &e, errors);
    n->impl = e;
    return nerr;
}

void mh_engine__release_expr_impl(void *impl)
{
    mh_jp_expr_destroy(impl);
}

const struct mh_jp_expr *mh_engine__error_expr_impl(const struct mh_wf_node *n, const char **member)
{
    *member = n->type->expr_member;
    return n->impl;
}

size_t mh_engine__compile_tpl(const char *src, bool is_url, const char *path, const char *node_id,
                              struct mh_tpl **out, json_t *errors)
{
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_engine__tpl_compile(src, is_url, out, &info);
    if (rc == MH_OK)
        return 0;
    const char *code = rc == MH_EJMESPATH                      ? "jmespath_syntax"
                       : strcmp(info.kind, "invalid_url") == 0 ? "invalid_url"
                                                               : "template_syntax";
    mh_engine__add_error(errors, path, code, node_id, info.offset, "invalid template: %s",
                         info.message);
    return 1;
}

int64_t mh_engine__int_or(json_t *obj, const char *key, int64_t dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : dflt;
}

/* ---- Shared operations -------------------------------------------------------------------- */

enum mh_err mh_engine__node_resume_none(struct mh_advance *a, size_t i, bool *progress)
{
    (void)a, (void)i, (void)progress;
    return MH_OK;
}

void mh_engine__node_pending_none(struct mh_advance *a, size_t i)
{
    (void)a, (void)i;
}

enum mh_err mh_engine__node_eval_none(const struct mh_wf_node *n, json_t *ctx, json_t **out,
                                      struct mh_err_info *info)
{
    (void)ctx;
    *out = NULL;
    return mh_err_set(info, MH_EINVAL, "not_pure", -1, "a %s node is not evaluated in place",
                      n->type_name);
}

void mh_engine__node_replay_none(struct mh_replay *r, const struct mh_event *ev, size_t i)
{
    (void)r, (void)ev, (void)i;
}

const struct mh_jp_expr *mh_engine__node_error_expr_none(const struct mh_wf_node *n,
                                                         const char **member)
{
    (void)n;
    *member = NULL;
    return NULL;
}

enum mh_err mh_engine__node_stand_in_none(const struct mh_wf_node *n, json_t *v,
                                          struct mh_err_info *info)
{
    (void)v;
    /* The types that take one, by name: "http_call and delay". */
    char list[256] = "";
    size_t n_takers = 0, len = 0;
    for (size_t k = 0; k < MH_ARRAY_LEN(node_types); k++)
        n_takers += node_types[k]->check_stand_in != mh_engine__node_stand_in_none;
    for (size_t k = 0, seen = 0; k < MH_ARRAY_LEN(node_types) && len < sizeof(list); k++) {
        if (node_types[k]->check_stand_in == mh_engine__node_stand_in_none)
            continue;
        seen++;
        const char *sep = seen == 1 ? "" : seen == n_takers ? " and " : ", ";
        int w = snprintf(list + len, sizeof(list) - len, "%s%s", sep, node_types[k]->name);
        len += w > 0 ? (size_t)w : 0;
    }
    return mh_err_set(info, MH_EINVAL, "stand_ins", -1,
                      "node '%.64s' is a %s: only %s nodes take a stand-in", n->id, n->type_name,
                      list);
}

void mh_engine__node_secret_refs_none(json_t *cfg, json_t *names)
{
    (void)cfg, (void)names;
}

json_t *mh_engine__node_recorded_none(const struct mh_wf_node *n, const struct mh_event *events,
                                      size_t n_events)
{
    (void)n, (void)events, (void)n_events;
    return NULL;
}

const char *mh_engine__node_admit_pure(const struct mh_step_state *s, enum mh_node_event what)
{
    (void)s;
    switch (what) {
    case MH_NODE_EV_START: return "only http_call steps are started";
    case MH_NODE_EV_ATTEMPT: return "only http_call steps have attempts";
    case MH_NODE_EV_TIMER: return "a timer is set only by a pending delay step";
    case MH_NODE_EV_SUCCEED: return NULL;
    case MH_NODE_EV_CALLBACK: return "only wait_callback steps take a callback";
    }
    return "unknown event";
}

enum mh_err mh_engine_expr_check(const char *src, bool is_template, bool is_url,
                                 struct mh_err_info *info)
{
    size_t len = strlen(src);
    if (len > MH_JP_MAX_EXPR_BYTES)
        return mh_err_set(info, MH_ETOOBIG, "too_big", -1,
                          "the expression exceeds the limit of %d bytes", MH_JP_MAX_EXPR_BYTES);
    if (is_template) {
        struct mh_tpl *t = NULL;
        enum mh_err rc = mh_engine__tpl_compile(src, is_url, &t, info);
        mh_engine__tpl_destroy(t);
        if (rc != MH_OK && info)
            snprintf(info->kind, sizeof(info->kind), "%s",
                     rc == MH_EJMESPATH ? "jmespath_syntax" : "template_syntax");
        return rc;
    }
    struct mh_jp_expr *e = NULL;
    enum mh_err rc = mh_jp_compile(src, len, &e, info);
    mh_jp_expr_destroy(e);
    if (rc != MH_OK && info)
        snprintf(info->kind, sizeof(info->kind), "jmespath_syntax");
    return rc;
}
