/* SPDX-License-Identifier: MIT */
/*
 * The parts of a webhook's JSON body a workflow's pure steps can read, and a parse of the body
 * that builds only those (docs/internals/engine.md, "Pure prefix"). The intake decides a new
 * run's pure prefix on the request thread; building the whole body as a jansson document there
 * cost more than the rest of the prefix together (about 60 % of it for the benchmark's 1 KiB
 * order, whose transform reads one member). The parts come from the expressions' ASTs
 * (mh_jp_add_reads); evaluating them on the partial body gives what they give on the whole
 * one, so the events the prefix records are those a worker would record, and replay, which
 * parses the whole body, verifies them.
 */
#include "engine/engine_internal.h"

#include <string.h>

static bool add_node_reads(const struct mh_wf_node *n, json_t *trie);
static enum mh_err pick(const char *s, size_t n, json_t *reads, json_t **out);
static size_t skip_ws(const char *s, size_t n, size_t i);
static bool skip_string(const char *s, size_t n, size_t *i);
static bool skip_value(const char *s, size_t n, size_t *i);
static json_t *load(const char *s, size_t n);

json_t *mh_engine__wf_body_reads(const struct mh_wf *wf)
{
    json_t *root = json_object();
    for (size_t i = 0; i < wf->n_nodes; i++) {
        if (!add_node_reads(&wf->nodes[i], root)) {
            json_decref(root);
            return NULL;
        }
    }
    json_t *trigger = json_object_get(root, "trigger");
    json_t *body = json_is_object(trigger) ? json_object_get(trigger, "body") : NULL;
    json_t *out = NULL;
    if (json_is_object(body))
        out = json_incref(body);
    else if (trigger == NULL || (json_is_object(trigger) && body == NULL))
        out = json_object(); /* nothing reads the body */
    json_decref(root);
    return out;
}

/* What node `n` can read while the intake decides the prefix: a type that is not pure never
 * evaluates there (its events end the prefix and are not kept); a pure type says (its reads). */
static bool add_node_reads(const struct mh_wf_node *n, json_t *trie)
{
    if (n->type == NULL || n->type->eval == mh_engine__node_eval_none)
        return true;
    return n->type->reads != NULL && n->type->reads(n, trie);
}

bool mh_engine__reads_expr_impl(const struct mh_wf_node *n, json_t *trie)
{
    return n->impl != NULL && mh_jp_add_reads((const struct mh_jp_expr *)n->impl, trie);
}

bool mh_engine__node_reads_all(const struct mh_wf_node *n, json_t *trie)
{
    (void)n;
    (void)trie;
    return false;
}

bool mh_engine__tpl_add_reads(const struct mh_tpl *tpl, json_t *trie)
{
    for (size_t i = 0; tpl != NULL && i < tpl->n_parts; i++)
        if (tpl->parts[i].expr != NULL && !mh_jp_add_reads(tpl->parts[i].expr, trie))
            return false;
    return true;
}

enum mh_err mh_engine__body_pick(const char *s, size_t n, json_t *reads, json_t **out)
{
    *out = NULL;
    if (reads == NULL) {
        *out = load(s, n);
        return *out ? MH_OK : MH_EINVAL;
    }
    return pick(s, n, reads, out);
}

/* A JSON text as jansson parses it for the fold (the intake checked it the same way). */
static json_t *load(const char *s, size_t n)
{
    return json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
}

/*
 * The value in s[0..n) with, when it is an object, only the members `reads` names: each parsed
 * whole where `reads` says true (or where it is not an object), picked again where `reads`
 * names parts of it. Malformed text is MH_EINVAL (the intake's check refused it already).
 */
static enum mh_err pick(const char *s, size_t n, json_t *reads, json_t **out)
{
    size_t i = skip_ws(s, n, 0);
    if (i >= n || s[i] != '{') {
        *out = load(s, n);
        return *out ? MH_OK : MH_EINVAL;
    }
    json_t *obj = json_object();
    i = skip_ws(s, n, i + 1);
    if (i < n && s[i] == '}') {
        i++;
        goto end;
    }
    for (;;) {
        size_t k0 = i;
        if (i >= n || s[i] != '"' || !skip_string(s, n, &i))
            goto bad;
        /* The name as it reads once unescaped: its bytes, unless it has escapes. */
        json_t *escaped = NULL;
        const char *key = s + k0 + 1;
        size_t key_len = i - k0 - 2;
        if (memchr(key, '\\', key_len) != NULL) {
            escaped = load(s + k0, i - k0);
            if (!json_is_string(escaped)) {
                json_decref(escaped);
                goto bad;
            }
            key = json_string_value(escaped);
            key_len = json_string_length(escaped);
        }
        i = skip_ws(s, n, i);
        if (i >= n || s[i] != ':') {
            json_decref(escaped);
            goto bad;
        }
        size_t v0 = i = skip_ws(s, n, i + 1);
        if (!skip_value(s, n, &i)) {
            json_decref(escaped);
            goto bad;
        }
        json_t *want = json_object_getn(reads, key, key_len);
        if (want != NULL) {
            json_t *v = NULL;
            if (json_is_object(want)) {
                if (pick(s + v0, i - v0, want, &v) != MH_OK)
                    v = NULL;
            } else {
                v = load(s + v0, i - v0);
            }
            if (v == NULL) {
                json_decref(escaped);
                goto bad;
            }
            json_object_setn_new(obj, key, key_len, v);
        }
        json_decref(escaped);
        i = skip_ws(s, n, i);
        if (i < n && s[i] == ',') {
            i = skip_ws(s, n, i + 1);
            continue;
        }
        if (i < n && s[i] == '}') {
            i++;
            break;
        }
        goto bad;
    }
end:
    if (skip_ws(s, n, i) != n)
        goto bad;
    *out = obj;
    return MH_OK;
bad:
    json_decref(obj);
    return MH_EINVAL;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

/* From the opening quote at *i to just past the closing one: the first quote after it that an
 * even number of backslashes precedes. */
static bool skip_string(const char *s, size_t n, size_t *i)
{
    size_t k = *i + 1;
    for (;;) {
        const char *q = k < n ? memchr(s + k, '"', n - k) : NULL;
        if (q == NULL)
            return false;
        size_t at = (size_t)(q - s), bs = 0;
        while (at - bs - 1 > *i && s[at - bs - 1] == '\\')
            bs++;
        if (bs % 2 == 0) {
            *i = at + 1;
            return true;
        }
        k = at + 1;
    }
}

/* From the first byte of a value at *i to just past it: strings by their quotes, arrays and
 * objects by their brackets (counted, not recursed into), anything else up to a delimiter. */
static bool skip_value(const char *s, size_t n, size_t *i)
{
    size_t k = *i, depth = 0;
    do {
        if (k >= n)
            return false;
        char c = s[k];
        if (c == '"') {
            if (!skip_string(s, n, &k))
                return false;
        } else if (c == '{' || c == '[') {
            depth++;
            k++;
        } else if (c == '}' || c == ']') {
            if (depth == 0)
                return false;
            depth--;
            k++;
        } else if (depth > 0) {
            k++;
        } else {
            size_t k0 = k;
            while (k < n && s[k] != ',' && s[k] != '}' && s[k] != ']' && s[k] != ' ' &&
                   s[k] != '\t' && s[k] != '\n' && s[k] != '\r')
                k++;
            if (k == k0)
                return false;
        }
    } while (depth > 0);
    *i = k;
    return true;
}
