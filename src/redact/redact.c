/* SPDX-License-Identifier: MIT */
/*
 * The redactor: runs every enabled rule (built-in or custom) over a string, collects the spans
 * they report, keeps the earliest (then longest) of overlapping spans, and writes the text back
 * with each kept span replaced by "[redacted:<rule>]". A custom rule that hits its regex limit
 * makes the whole string "[redacted:<rule>]": redaction fails closed, never open.
 */
#include "redact/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "redact/redact_internal.h"
#include "regex/regex.h"

/* Maximum JSON nesting mh_redact_json descends into. */
#define MAX_JSON_DEPTH 512

struct rule {
    struct mh_regex *re;
    const char *label; /* the built-in table's, or `owned` */
    char *owned;
    unsigned group;
    mh_redact__check_fn check;
    bool is_custom;
};

struct mh_redactor {
    struct rule *rules;
    size_t nrules;
    bool secret_keys; /* redact the values of members named like secrets */
};

struct span {
    size_t start;
    size_t end;
    size_t rule;
};

struct spans {
    struct span *v;
    size_t n;
    size_t cap;
};

static enum mh_err scan_rule(const struct mh_redactor *r, size_t ri, const char *s, size_t len,
                             struct spans *out);
static enum mh_err redact_text(const struct mh_redactor *r, const char *s, size_t len, char **out,
                               size_t *out_len, struct mh_redact_stats *stats);

static bool valid_rule_name(const char *name);
static void add_span(struct spans *sp, size_t start, size_t end, size_t rule);
static size_t next_boundary(const char *s, size_t len, size_t pos);
static int span_cmp(const void *a, const void *b);
static bool json_string_cb(void *p, const char *key, const char *s, size_t len, char **out,
                           size_t *out_len);

static bool valid_rule_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > MH_REDACT_MAX_NAME_LEN)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

enum mh_err mh_redact_create(const struct mh_redact_config *cfg, struct mh_redactor **out,
                             struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_redactor *r = NULL;

    *out = NULL;
    if (cfg == NULL || (cfg->ncustom > 0 && cfg->custom == NULL)) {
        rc = mh_err_set(info, MH_EINVAL, "redact", -1, "missing redaction config");
        goto out;
    }
    if (cfg->rules & ~MH_REDACT_ALL) {
        rc = mh_err_set(info, MH_EINVAL, "redact", -1, "unknown redaction rule bits 0x%x",
                        cfg->rules & ~MH_REDACT_ALL);
        goto out;
    }
    if (cfg->ncustom > MH_REDACT_MAX_CUSTOM) {
        rc = mh_err_set(info, MH_ETOOBIG, "redact", -1, "more than %u custom patterns",
                        MH_REDACT_MAX_CUSTOM);
        goto out;
    }
    r = mh_xcalloc(1, sizeof(*r));
    r->rules = mh_xcalloc(mh_redact__nbuiltins + cfg->ncustom + 1, sizeof(*r->rules));
    r->secret_keys = (cfg->rules & MH_REDACT_API_KEY) != 0;

    /* Built-ins are linear by construction: no wall-clock budget, only PCRE2's step limit. */
    struct mh_regex_limits builtin_limits = {0};
    for (size_t i = 0; i < mh_redact__nbuiltins; i++) {
        const struct mh_redact__builtin *b = &mh_redact__builtins[i];
        if (!(cfg->rules & b->bit))
            continue;
        struct rule *ru = &r->rules[r->nrules];
        rc = mh_regex_compile(b->pattern, strlen(b->pattern), 0, &builtin_limits, &ru->re, info);
        if (rc != MH_OK)
            mh_panic("built-in redaction pattern %s does not compile", b->label);
        ru->label = b->label;
        ru->group = b->group;
        ru->check = b->check;
        r->nrules++;
    }

    struct mh_regex_limits custom_limits = {
        .match_limit = cfg->custom_match_limit,
        .max_total_ms =
            cfg->custom_max_total_ms ? cfg->custom_max_total_ms : MH_REDACT_DEFAULT_BUDGET_MS,
    };
    for (size_t i = 0; i < cfg->ncustom; i++) {
        const struct mh_redact_pattern *p = &cfg->custom[i];
        char path[64];
        if (p->name == NULL || !valid_rule_name(p->name)) {
            snprintf(path, sizeof(path), "custom/%zu/name", i);
            rc = mh_err_set(info, MH_EINVAL, "redact", -1,
                            "custom rule %zu: the name must be 1-%u characters of a-z, 0-9, _ "
                            "and -",
                            i, MH_REDACT_MAX_NAME_LEN);
            mh_err_set_path(info, path);
            goto out;
        }
        if (p->pattern == NULL) {
            snprintf(path, sizeof(path), "custom/%zu/pattern", i);
            rc =
                mh_err_set(info, MH_EINVAL, "redact", -1, "custom rule %s has no pattern", p->name);
            mh_err_set_path(info, path);
            goto out;
        }
        struct rule *ru = &r->rules[r->nrules];
        struct mh_err_info ri = MH_ERR_INFO_INIT;
        rc = mh_regex_compile(p->pattern, strlen(p->pattern), 0, &custom_limits, &ru->re, &ri);
        if (rc != MH_OK) {
            snprintf(path, sizeof(path), "custom/%zu/pattern", i);
            mh_err_set(info, rc, "redact", ri.offset, "custom rule %s: %s", p->name, ri.message);
            mh_err_set_path(info, path);
            goto out;
        }
        ru->owned = mh_xstrdup(p->name);
        ru->label = ru->owned;
        int g = mh_regex_group_index(ru->re, "redact");
        ru->group = g > 0 ? (unsigned)g : 0;
        ru->is_custom = true;
        r->nrules++;
    }
    *out = r;
    r = NULL;

out:
    mh_redact_destroy(r);
    return rc;
}

void mh_redact_destroy(struct mh_redactor *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nrules; i++) {
        mh_regex_destroy(r->rules[i].re);
        free(r->rules[i].owned);
    }
    free(r->rules);
    free(r);
}

static void add_span(struct spans *sp, size_t start, size_t end, size_t rule)
{
    if (sp->n == sp->cap) {
        sp->cap = sp->cap ? sp->cap * 2 : 16;
        sp->v = mh_xrealloc(sp->v, sp->cap * sizeof(*sp->v));
    }
    sp->v[sp->n++] = (struct span){start, end, rule};
}

/* The next code point boundary after `pos`. */
static size_t next_boundary(const char *s, size_t len, size_t pos)
{
    pos++;
    while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
        pos++;
    return pos;
}

static enum mh_err scan_rule(const struct mh_redactor *r, size_t ri, const char *s, size_t len,
                             struct spans *out)
{
    enum mh_err rc = MH_OK;
    const struct rule *ru = &r->rules[ri];

    if (ru->is_custom) {
        /* One find-all, so the wall-clock budget covers the whole string. */
        struct mh_regex_span *found = NULL;
        size_t n = 0;
        rc = mh_regex_find_all(ru->re, s, len, ru->group, (size_t)-1, &found, &n);
        for (size_t i = 0; rc == MH_OK && i < n; i++)
            if (found[i].end > found[i].start)
                add_span(out, found[i].start, found[i].end, ri);
        free(found);
        return rc;
    }

    size_t pos = 0;
    while (pos < len) {
        struct mh_regex_span g[2];
        bool m = false;
        rc = mh_regex_search(ru->re, s, len, pos, g, 2, &m);
        if (rc != MH_OK || !m)
            break;
        struct mh_regex_span whole = g[0], sp = g[ru->group];
        size_t next = whole.end;
        if (sp.start != MH_REGEX_UNSET && sp.end > sp.start) {
            size_t end = ru->check ? ru->check(s, sp.start, sp.end) : sp.end;
            if (end == 0) {
                /* Rejected: look again just after where this candidate started. */
                next = next_boundary(s, len, whole.start);
            } else {
                add_span(out, sp.start, end, ri);
                if (end < sp.end)
                    next = end;
            }
        }
        pos = next > whole.start ? next : next_boundary(s, len, whole.start);
    }
    return rc;
}

static int span_cmp(const void *a, const void *b)
{
    const struct span *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    size_t lx = x->end - x->start, ly = y->end - y->start;
    if (lx != ly)
        return lx > ly ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static enum mh_err redact_text(const struct mh_redactor *r, const char *s, size_t len, char **out,
                               size_t *out_len, struct mh_redact_stats *stats)
{
    enum mh_err rc = MH_OK;
    struct spans sp = {0};
    struct mh_buf b;

    mh_buf_init(&b, (size_t)-1 / 4);
    for (size_t i = 0; i < r->nrules; i++) {
        rc = scan_rule(r, i, s, len, &sp);
        if (rc == MH_ELIMIT || (rc != MH_OK && rc != MH_ENOMEM)) {
            /* The rule's verdict is unknown: the string is withheld as a whole. */
            if (stats != NULL) {
                if (stats->limit_failures++ == 0)
                    snprintf(stats->failed_rule, sizeof(stats->failed_rule), "%s",
                             r->rules[i].label);
                stats->redactions++;
            }
            MH_ASSERT(mh_buf_printf(&b, "[redacted:%s]", r->rules[i].label) == MH_OK);
            rc = MH_OK;
            goto done;
        }
        if (rc != MH_OK)
            goto out;
    }
    if (sp.n > 1)
        qsort(sp.v, sp.n, sizeof(*sp.v), span_cmp);
    size_t copied = 0;
    for (size_t i = 0; i < sp.n; i++) {
        if (sp.v[i].start < copied)
            continue; /* overlaps a span already replaced */
        MH_ASSERT(mh_buf_append(&b, s + copied, sp.v[i].start - copied) == MH_OK);
        MH_ASSERT(mh_buf_printf(&b, "[redacted:%s]", r->rules[sp.v[i].rule].label) == MH_OK);
        copied = sp.v[i].end;
        if (stats != NULL)
            stats->redactions++;
    }
    MH_ASSERT(mh_buf_append(&b, s + copied, len - copied) == MH_OK);

done:
    *out = mh_buf_steal(&b, out_len);

out:
    free(sp.v);
    mh_buf_cleanup(&b);
    return rc;
}

enum mh_err mh_redact_string(const struct mh_redactor *r, const char *s, size_t len, char **out,
                             size_t *out_len, struct mh_redact_stats *stats)
{
    size_t n = 0;
    if (out == NULL)
        return MH_EINVAL;
    *out = NULL;
    if (r == NULL || (s == NULL && len > 0))
        return MH_EINVAL;
    enum mh_err rc = redact_text(r, s ? s : "", len, out, &n, stats);
    if (rc == MH_OK && out_len != NULL)
        *out_len = n;
    return rc;
}

struct json_ctx {
    const struct mh_redactor *r;
    struct mh_redact_stats *stats;
    enum mh_err rc;
};

static bool json_string_cb(void *p, const char *key, const char *s, size_t len, char **out,
                           size_t *out_len)
{
    struct json_ctx *c = p;
    if (c->r->secret_keys && key != NULL && mh_redact__is_secret_key(key)) {
        *out = mh_xstrdup("[redacted:secret]");
        *out_len = strlen(*out);
        if (c->stats != NULL)
            c->stats->redactions++;
        return true;
    }
    struct mh_redact_stats local = {0};
    struct mh_redact_stats *st = c->stats ? c->stats : &local;
    size_t before = st->redactions;
    enum mh_err rc = redact_text(c->r, s, len, out, out_len, st);
    if (rc != MH_OK) {
        c->rc = rc;
        return false;
    }
    if (st->redactions == before) {
        free(*out);
        *out = NULL;
        return false;
    }
    return true;
}

enum mh_err mh_redact_json(const struct mh_redactor *r, json_t *in, json_t **out,
                           struct mh_redact_stats *stats)
{
    if (out == NULL)
        return MH_EINVAL;
    *out = NULL;
    if (r == NULL || in == NULL)
        return MH_EINVAL;
    struct json_ctx c = {r, stats, MH_OK};
    json_t *res = mh_redact__json_map(in, json_string_cb, &c, MAX_JSON_DEPTH, "[redacted:depth]");
    if (c.rc != MH_OK) {
        json_decref(res);
        return c.rc;
    }
    *out = res;
    return MH_OK;
}
