/* SPDX-License-Identifier: MIT */
/*
 * `{{ expr }}` templates for the url, headers, query and body of http_call nodes. Each expr is a
 * JMESPath expression compiled once with the workflow and evaluated against the node's context.
 * `{{secrets.NAME}}` is not evaluated: it is kept verbatim so that the sender resolves it at send
 * time and secret values never enter the event log. Rendering records where in its output each
 * placeholder of the template's own text landed; the sender replaces the placeholders at those
 * positions only, so a value from the data (a webhook body, say) is always sent as the data it
 * is, however much it looks like template syntax, alone or beside another value. In a url, a
 * value is percent-encoded for the part of the url it lands in, and may never land in the scheme
 * or the host: that is decided when the template compiles, from the template's text alone.
 */
#include "engine/engine_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAX_TEMPLATE_BYTES 65536
#define MAX_PARTS          256

/* Where the url's text stands while compile scans its literal text and secrets. */
enum url_state {
    URL_SCHEME,       /* before the ':' of the scheme */
    URL_SLASHES,      /* after "scheme:", reading the "//" */
    URL_AFTER_SECRET, /* a secret opened the url: it holds the scheme, perhaps more */
    URL_SECRET_SLASH, /* one '/' after such a secret: the path, unless a second '/' follows */
    URL_AUTHORITY,    /* the host (with user info and port) */
    URL_PATH,
    URL_QUERY,
    URL_FRAGMENT,
};

struct url_scan {
    enum url_state state;
    int slashes;
};

static size_t find_close(const char *s, size_t start, size_t len);
static bool secret_name(const char *s, size_t len, size_t *name_start, size_t *name_len);
static bool raw_form(const char *s, size_t len, size_t *expr_start);
static void add_part(struct mh_tpl *t, size_t *cap, struct mh_tpl_part part);
static void url_scan_char(struct url_scan *u, char c);
static enum mh_tpl_url_pos url_scan_value(struct url_scan *u);
static enum mh_err compile_expr(const char *src, size_t inner, size_t close, bool is_url,
                                struct mh_tpl_part *part, struct mh_err_info *info);
static enum mh_err append_value(struct mh_buf *b, const struct mh_tpl_part *p, const char *v,
                                size_t len);

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

/*
 * True when the expression text (surrounding whitespace allowed) is exactly `secrets.NAME`, NAME
 * as mh_secrets_name_valid has it ([A-Za-z_][A-Za-z0-9_]*). This is the one place MeshHook
 * recognises a secret placeholder: everything downstream works from the positions rendering
 * records, never by scanning text again.
 */
static bool secret_name(const char *s, size_t len, size_t *name_start, size_t *name_len)
{
    size_t b = 0, e = len;
    while (b < e && isspace((unsigned char)s[b]))
        b++;
    while (e > b && isspace((unsigned char)s[e - 1]))
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

/* True when the expression text reads `raw EXPR` (whitespace after `raw` required); *expr_start
 * is then the offset of EXPR. The caller only asks once the whole text failed as JMESPath. */
static bool raw_form(const char *s, size_t len, size_t *expr_start)
{
    size_t b = 0;
    while (b < len && isspace((unsigned char)s[b]))
        b++;
    if (len - b < 4 || memcmp(s + b, "raw", 3) != 0 || !isspace((unsigned char)s[b + 3]))
        return false;
    b += 3;
    while (b < len && isspace((unsigned char)s[b]))
        b++;
    if (b == len)
        return false;
    *expr_start = b;
    return true;
}

static void add_part(struct mh_tpl *t, size_t *cap, struct mh_tpl_part part)
{
    if (t->n_parts == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        t->parts = mh_xrealloc(t->parts, *cap * sizeof(*t->parts));
    }
    t->parts[t->n_parts++] = part;
}

/* Moves the url scan past one character of the template's literal text. */
static void url_scan_char(struct url_scan *u, char c)
{
    switch (u->state) {
    case URL_SCHEME:
        if (c == ':') {
            u->state = URL_SLASHES;
            u->slashes = 0;
        }
        return;
    case URL_SLASHES:
        if (c == '/') {
            if (++u->slashes == 2)
                u->state = URL_AUTHORITY;
            return;
        }
        u->state = URL_AUTHORITY;
        break;
    case URL_AFTER_SECRET:
        if (c == ':') {
            u->state = URL_SLASHES;
            u->slashes = 0;
        } else if (c == '/') {
            u->state = URL_SECRET_SLASH;
        } else if (c == '?') {
            u->state = URL_QUERY;
        } else if (c == '#') {
            u->state = URL_FRAGMENT;
        } else {
            u->state = URL_AUTHORITY;
        }
        return;
    case URL_SECRET_SLASH:
        if (c == '/') {
            u->state = URL_AUTHORITY;
            return;
        }
        u->state = URL_PATH;
        break;
    default: break;
    }
    if (c == '#')
        u->state = URL_FRAGMENT;
    else if (c == '?' && u->state != URL_FRAGMENT)
        u->state = URL_QUERY;
    else if (c == '/' && u->state == URL_AUTHORITY)
        u->state = URL_PATH;
}

/* Where a value inserted now lands; MH_URL_NONE when that would be the scheme or the host. */
static enum mh_tpl_url_pos url_scan_value(struct url_scan *u)
{
    switch (u->state) {
    case URL_SECRET_SLASH: /* "{{secrets.BASE_URL}}/{{ id }}" */
        u->state = URL_PATH;
        return MH_URL_PATH;
    case URL_PATH: return MH_URL_PATH;
    case URL_QUERY: return MH_URL_QUERY;
    case URL_FRAGMENT: return MH_URL_FRAGMENT;
    default: return MH_URL_NONE;
    }
}

/* Compiles the expression between `inner` and `close` into `part`, trying `raw EXPR` when the
 * text is not JMESPath as a whole (so `{{raw}}` and `{{raw | x}}` keep their JMESPath sense). */
static enum mh_err compile_expr(const char *src, size_t inner, size_t close, bool is_url,
                                struct mh_tpl_part *part, struct mh_err_info *info)
{
    struct mh_err_info jinfo = MH_ERR_INFO_INIT;
    size_t b = inner;
    while (b < close && isspace((unsigned char)src[b]))
        b++;
    if (b == close)
        return mh_err_set(info, MH_EINVAL, "syntax", (long)inner,
                          "empty expression in '{{ }}' at offset %zu", inner - 2);
    enum mh_err rc = mh_jp_compile(src + inner, close - inner, &part->expr, &jinfo);
    size_t rs = 0, base = inner;
    if (rc != MH_OK && raw_form(src + inner, close - inner, &rs)) {
        base = inner + rs;
        jinfo = (struct mh_err_info)MH_ERR_INFO_INIT;
        rc = mh_jp_compile(src + base, close - base, &part->expr, &jinfo);
        if (rc == MH_OK && !is_url) {
            mh_jp_expr_destroy(part->expr);
            part->expr = NULL;
            return mh_err_set(info, MH_EINVAL, "syntax", (long)inner,
                              "{{raw ...}} only applies to the url: header, query and body "
                              "values are never escaped");
        }
        part->is_raw = true;
    }
    if (rc != MH_OK) {
        long off = jinfo.offset >= 0 ? (long)base + jinfo.offset : (long)base;
        return mh_err_set(info, rc, jinfo.kind[0] ? jinfo.kind : "syntax", off, "%s",
                          jinfo.message);
    }
    return MH_OK;
}

enum mh_err mh_engine__tpl_compile(const char *src, bool is_url, struct mh_tpl **out,
                                   struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    size_t len = strlen(src), cap = 0, lit = 0;
    struct mh_tpl *t = mh_xcalloc(1, sizeof(*t));
    struct url_scan u = {URL_SCHEME, 0};
    t->is_url = is_url;
    *out = NULL;
    if (len > MAX_TEMPLATE_BYTES) {
        rc = mh_err_set(info, MH_ETOOBIG, "limit", -1, "template longer than %d bytes",
                        MAX_TEMPLATE_BYTES);
        goto out;
    }
    size_t i = 0;
    while (i <= len) {
        bool at_end = i == len;
        if (!at_end && !(src[i] == '{' && i + 1 < len && src[i + 1] == '{')) {
            i++;
            continue;
        }
        size_t open = i, inner = i + 2, close = len;
        if (!at_end) {
            close = find_close(src, inner, len);
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
        }
        if (i > lit) {
            add_part(t, &cap,
                     (struct mh_tpl_part){.text = mh_xstrndup(src + lit, i - lit), .len = i - lit});
            for (size_t k = lit; is_url && k < i; k++)
                url_scan_char(&u, src[k]);
        }
        if (at_end)
            break;
        size_t ns, nl;
        if (secret_name(src + inner, close - inner, &ns, &nl)) {
            add_part(t, &cap,
                     (struct mh_tpl_part){.text = mh_xstrndup(src + open, close + 2 - open),
                                          .len = close + 2 - open,
                                          .is_secret = true,
                                          .secret_name = mh_xstrndup(src + inner + ns, nl)});
            if (u.state == URL_SCHEME)
                u.state = URL_AFTER_SECRET;
            else if (u.state == URL_SLASHES || u.state == URL_SECRET_SLASH)
                u.state = URL_AUTHORITY;
        } else {
            struct mh_tpl_part part = {0};
            rc = compile_expr(src, inner, close, is_url, &part, info);
            if (rc != MH_OK)
                goto out;
            if (is_url && (part.url_pos = url_scan_value(&u)) == MH_URL_NONE) {
                mh_jp_expr_destroy(part.expr);
                rc = mh_err_set(info, MH_EINVAL, "invalid_url", (long)open,
                                "the value at offset %zu would be part of the url's scheme or "
                                "host, which only the url's own text (or a secret) may name: "
                                "end the host with '/', '?' or '#' before the first {{ }}",
                                open);
                goto out;
            }
            add_part(t, &cap, part);
        }
        i = lit = close + 2;
    }
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

enum mh_err mh_engine__url_encode(struct mh_buf *b, const char *s, size_t len,
                                  enum mh_url_encoding how)
{
    static const char hex[] = "0123456789ABCDEF";
    /* A path value made of dots alone could form a "." or ".." segment, which clients and
     * servers resolve away: its dots are encoded too. */
    bool dots_only = how == MH_URL_ENCODE_SEGMENT && len > 0;
    for (size_t i = 0; dots_only && i < len; i++)
        dots_only = s[i] == '.';
    enum mh_err rc = mh_buf_reserve(b, len);
    for (size_t i = 0; rc == MH_OK && i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '~' || (c == '.' && !dots_only);
        if (!keep && how == MH_URL_ENCODE_RAW && c > 0x20 && c < 0x7f)
            keep = strchr(":/?#[]@!$&'()*+,;=%", c) != NULL;
        if (keep) {
            rc = mh_buf_append(b, s + i, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = mh_buf_append(b, e, 3);
        }
    }
    return rc;
}

/* Appends one inserted value, encoded for where it lands. */
static enum mh_err append_value(struct mh_buf *b, const struct mh_tpl_part *p, const char *v,
                                size_t len)
{
    switch (p->url_pos) {
    case MH_URL_NONE: return mh_buf_append(b, v, len);
    case MH_URL_PATH:
        return mh_engine__url_encode(b, v, len,
                                     p->is_raw ? MH_URL_ENCODE_RAW : MH_URL_ENCODE_SEGMENT);
    case MH_URL_QUERY:
    case MH_URL_FRAGMENT: break;
    }
    return mh_engine__url_encode(b, v, len, p->is_raw ? MH_URL_ENCODE_RAW : MH_URL_ENCODE_VALUE);
}

enum mh_err mh_engine__tpl_render(const struct mh_tpl *t, json_t *ctx, bool as_text,
                                  json_t *secrets, json_t *spans, char **out, size_t *out_len,
                                  struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_buf b, v;
    mh_buf_init(&b, MH_ENGINE_MAX_OUTPUT_BYTES);
    mh_buf_init(&v, MH_ENGINE_MAX_OUTPUT_BYTES);
    json_t *val = NULL;
    *out = NULL;
    if (out_len != NULL)
        *out_len = 0;
    MH_ASSERT(t != NULL);
    for (size_t i = 0; i < t->n_parts; i++) {
        const struct mh_tpl_part *p = &t->parts[i];
        if (p->expr == NULL) {
            size_t start = mh_buf_len(&b);
            rc = mh_buf_append(&b, p->text, p->len);
            if (rc != MH_OK)
                goto too_big;
            if (!p->is_secret)
                continue;
            if (spans != NULL)
                json_array_append_new(spans, json_pack("[I,I,s]", (json_int_t)start,
                                                       (json_int_t)mh_buf_len(&b), p->secret_name));
            if (secrets != NULL) {
                bool seen = false;
                for (size_t k = 0; k < json_array_size(secrets) && !seen; k++)
                    seen =
                        strcmp(json_string_value(json_array_get(secrets, k)), p->secret_name) == 0;
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
        if (rc == MH_OK && as_text)
            rc = mh_buf_append(&b, mh_buf_str(&v), mh_buf_len(&v));
        else if (rc == MH_OK)
            rc = append_value(&b, p, mh_buf_str(&v), mh_buf_len(&v));
        if (rc != MH_OK)
            goto too_big;
    }
    *out = mh_buf_steal(&b, out_len);
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

static enum mh_err render_one(const char *tpl, bool is_url, json_t *ctx, char **out,
                              struct mh_err_info *info)
{
    struct mh_tpl *t = NULL;
    *out = NULL;
    enum mh_err rc = mh_engine__tpl_compile(tpl, is_url, &t, info);
    if (rc != MH_OK)
        goto out;
    rc = mh_engine__tpl_render(t, ctx, false, NULL, NULL, out, NULL, info);
out:
    mh_engine__tpl_destroy(t);
    return rc;
}

enum mh_err mh_engine_template_render(const char *tpl, json_t *ctx, char **out,
                                      struct mh_err_info *info)
{
    return render_one(tpl, false, ctx, out, info);
}

enum mh_err mh_engine_url_template_render(const char *tpl, json_t *ctx, char **out,
                                          struct mh_err_info *info)
{
    return render_one(tpl, true, ctx, out, info);
}
