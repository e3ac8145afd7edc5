/* SPDX-License-Identifier: MIT */
/*
 * `{{ expr }}` templates for the url, headers, query and body of http_call nodes. Each expr is a
 * JMESPath expression compiled once with the workflow and evaluated against the node's context.
 * `{{secrets.NAME}}` is not evaluated: it is kept verbatim so that the sender resolves it at send
 * time and secret values never enter the event log. Because the sender resolves every such
 * placeholder it finds, a value coming from the data must never look like one, or a webhook
 * sender could choose which secret is sent where; rendering refuses such values.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAX_TEMPLATE_BYTES 65536
#define MAX_PARTS          256

static size_t find_close(const char *s, size_t start, size_t len);
static size_t count_placeholders(const char *s, size_t len);
static bool secret_name(const char *s, size_t len, size_t *name_start, size_t *name_len);
static void add_part(struct mh_tpl *t, size_t *cap, struct mh_tpl_part part);

/*
 * Returns the index of the "}}" that closes an expression starting at `start`, skipping quoted
 * strings, raw strings and literals, and braces of multi-select hashes; `len` when none.
 */
static size_t find_close(const char *s, size_t start, size_t len)
{
    int depth = 0;
    for (size_t i = start; i < len; i++) {
        char c = s[i];
        if (c == '"' || c == '\'' || c == '`') {
            for (i++; i < len && s[i] != c; i++)
                if (s[i] == '\\' && i + 1 < len)
                    i++;
            if (i >= len)
                return len;
            continue;
        }
        if (c == '{') {
            depth++;
        } else if (c == '}') {
            if (depth > 0)
                depth--;
            else if (i + 1 < len && s[i + 1] == '}')
                return i;
        }
    }
    return len;
}

/* True when the expression text (surrounding whitespace allowed) is exactly `secrets.NAME`. */
static bool secret_name(const char *s, size_t len, size_t *name_start, size_t *name_len)
{
    /* Spaces and tabs only, as the send-time resolver (resolve_placeholders in worker.c) and
     * mh_engine__has_secret_placeholder read them: "{{\rsecrets.X}}" is not a placeholder. */
    size_t b = 0, e = len;
    while (b < e && (s[b] == ' ' || s[b] == '\t'))
        b++;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
        e--;
    static const char prefix[] = "secrets.";
    size_t plen = sizeof(prefix) - 1;
    if (e - b <= plen || memcmp(s + b, prefix, plen) != 0)
        return false;
    size_t n = b + plen;
    if (!(isalpha((unsigned char)s[n]) || s[n] == '_'))
        return false;
    for (size_t i = n; i < e; i++)
        if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
            return false;
    *name_start = n;
    *name_len = e - n;
    return true;
}

/* How many placeholders the send-time resolver would find in `s`. */
static size_t count_placeholders(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] != '{' || s[i + 1] != '{')
            continue;
        size_t j = i + 2;
        while (j < len && (s[j] == ' ' || s[j] == '\t'))
            j++;
        if (len - j >= 8 && memcmp(s + j, "secrets.", 8) == 0)
            n++;
    }
    return n;
}

bool mh_engine__has_secret_placeholder(const char *s, size_t len)
{
    return count_placeholders(s, len) > 0;
}

static void add_part(struct mh_tpl *t, size_t *cap, struct mh_tpl_part part)
{
    if (t->n_parts == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        t->parts = mh_xrealloc(t->parts, *cap * sizeof(*t->parts));
    }
    t->parts[t->n_parts++] = part;
}

enum mh_err mh_engine__tpl_compile(const char *src, struct mh_tpl **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    size_t len = strlen(src), cap = 0, lit = 0;
    struct mh_tpl *t = mh_xcalloc(1, sizeof(*t));
    *out = NULL;
    if (len > MAX_TEMPLATE_BYTES) {
        rc = mh_err_set(info, MH_ETOOBIG, "limit", -1, "template longer than %d bytes",
                        MAX_TEMPLATE_BYTES);
        goto out;
    }
    size_t i = 0;
    while (i < len) {
        if (!(src[i] == '{' && i + 1 < len && src[i + 1] == '{')) {
            i++;
            continue;
        }
        size_t open = i, inner = i + 2;
        size_t close = find_close(src, inner, len);
        if (close >= len) {
            rc = mh_err_set(info, MH_EINVAL, "syntax", (long)open,
                            "unterminated '{{' at offset %zu", open);
            goto out;
        }
        if (t->n_parts + 2 > MAX_PARTS) {
            rc = mh_err_set(info, MH_ETOOBIG, "limit", (long)open,
                            "template has more than %d parts", MAX_PARTS);
            goto out;
        }
        if (open > lit)
            add_part(t, &cap,
                     (struct mh_tpl_part){.text = mh_xstrndup(src + lit, open - lit),
                                          .len = open - lit});
        size_t ns, nl;
        if (secret_name(src + inner, close - inner, &ns, &nl)) {
            add_part(t, &cap,
                     (struct mh_tpl_part){.text = mh_xstrndup(src + open, close + 2 - open),
                                          .len = close + 2 - open,
                                          .is_secret = true,
                                          .secret_name = mh_xstrndup(src + inner + ns, nl)});
        } else {
            size_t b = inner;
            while (b < close && isspace((unsigned char)src[b]))
                b++;
            if (b == close) {
                rc = mh_err_set(info, MH_EINVAL, "syntax", (long)inner,
                                "empty expression in '{{ }}' at offset %zu", open);
                goto out;
            }
            struct mh_err_info jinfo = MH_ERR_INFO_INIT;
            struct mh_jp_expr *e = NULL;
            rc = mh_jp_compile(src + inner, close - inner, &e, &jinfo);
            if (rc != MH_OK) {
                long off = jinfo.offset >= 0 ? (long)inner + jinfo.offset : (long)inner;
                rc = mh_err_set(info, rc, jinfo.kind[0] ? jinfo.kind : "syntax", off, "%s",
                                jinfo.message);
                goto out;
            }
            add_part(t, &cap, (struct mh_tpl_part){.expr = e});
        }
        i = lit = close + 2;
    }
    if (len > lit)
        add_part(t, &cap,
                 (struct mh_tpl_part){.text = mh_xstrndup(src + lit, len - lit), .len = len - lit});
    *out = t;
    t = NULL;
out:
    mh_engine__tpl_destroy(t);
    return rc;
}

void mh_engine__tpl_destroy(struct mh_tpl *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        free(t->parts[i].text);
        free(t->parts[i].secret_name);
        mh_jp_expr_destroy(t->parts[i].expr);
    }
    free(t->parts);
    free(t);
}

enum mh_err mh_engine__tpl_render(const struct mh_tpl *t, json_t *ctx, json_t *secrets, char **out,
                                  struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_buf b, v;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    mh_buf_init(&v, MH_ENGINE_MAX_OUTPUT_BYTES);
    json_t *val = NULL;
    size_t own = 0; /* placeholders the template itself wrote */
    *out = NULL;
    MH_ASSERT(t != NULL);
    for (size_t i = 0; i < t->n_parts; i++) {
        const struct mh_tpl_part *p = &t->parts[i];
        if (p->expr == NULL) {
            rc = mh_buf_append(&b, p->text, p->len);
            if (rc != MH_OK)
                goto too_big;
            if (p->is_secret)
                own += count_placeholders(p->text, p->len);
            if (p->is_secret && secrets != NULL) {
                bool seen = false;
                for (size_t k = 0; k < json_array_size(secrets); k++)
                    if (strcmp(json_string_value(json_array_get(secrets, k)), p->secret_name) == 0)
                        seen = true;
                if (!seen)
                    json_array_append_new(secrets, json_string(p->secret_name));
            }
            continue;
        }
        rc = mh_jp_eval(p->expr, ctx, &val, info);
        if (rc != MH_OK)
            goto out;
        mh_buf_reset(&v);
        if (json_is_string(val))
            rc = mh_buf_append(&v, json_string_value(val), json_string_length(val));
        else if (!json_is_null(val))
            rc = mh_engine__json_write(val, false, &v);
        json_decref(val);
        val = NULL;
        if (rc != MH_OK)
            goto too_big;
        if (mh_engine__has_secret_placeholder(mh_buf_str(&v), mh_buf_len(&v))) {
            rc = mh_err_set(info, MH_EINVAL, "template", -1,
                            "a value inserted by a template contains a secret placeholder "
                            "('{{secrets.'), which only the workflow itself may write");
            goto out;
        }
        rc = mh_buf_append(&b, mh_buf_str(&v), mh_buf_len(&v));
        if (rc != MH_OK)
            goto too_big;
    }
    /* Each value alone is clean, but a value joined to its neighbour can still spell one:
     * "{" then "{secrets.X}}". Only the template's own placeholders may be in the result. */
    if (count_placeholders(mh_buf_str(&b), mh_buf_len(&b)) != own) {
        rc = mh_err_set(info, MH_EINVAL, "template", -1,
                        "values inserted by a template form a secret placeholder ('{{secrets.') "
                        "with the text around them, which only the workflow itself may write");
        goto out;
    }
    *out = mh_buf_steal(&b, NULL);
    goto out;
too_big:
    rc = mh_err_set(info, MH_ETOOBIG, "limit", -1, "rendered template exceeds %u bytes",
                    MH_ENGINE_MAX_OUTPUT_BYTES);
out:
    json_decref(val);
    mh_buf_cleanup(&v);
    mh_buf_cleanup(&b);
    return rc;
}

enum mh_err mh_engine_template_render(const char *tpl, json_t *ctx, char **out,
                                      struct mh_err_info *info)
{
    struct mh_tpl *t = NULL;
    *out = NULL;
    enum mh_err rc = mh_engine__tpl_compile(tpl, &t, info);
    if (rc != MH_OK)
        goto out;
    rc = mh_engine__tpl_render(t, ctx, NULL, out, info);
out:
    mh_engine__tpl_destroy(t);
    return rc;
}
