/* SPDX-License-Identifier: MIT */
/*
 * Content types of webhook bodies. A body is accepted only when it parses as what its
 * Content-Type declares: JSON (application/json and any +json type) is parsed, an HTML form
 * (application/x-www-form-urlencoded) becomes an object, XML (application/xml, text/xml, +xml)
 * is checked for well-formedness and kept as a string, any text type must be UTF-8 and is kept as a
 * string. Everything must be valid UTF-8 without NUL characters, because the body ends up in
 * PostgreSQL jsonb, which holds neither. XML with a DOCTYPE is refused: without entity
 * expansion there is nothing a webhook needs from it, and with it there are billion-laughs and
 * external-entity attacks.
 */
#include "intake/intake_internal.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "core/text.h"
#include "intake/json_check.h"

/* Deepest XML element nesting accepted (JSON's is MH_INTAKE__JSON_MAX_DEPTH). */
#define XML_MAX_DEPTH 256
/* Attributes checked for uniqueness per element. */
#define XML_MAX_ATTRS 256

struct media_type {
    char type[128]; /* "application/json", lowercased, without parameters */
    char charset[32];
};

struct xml {
    const char *s;
    size_t len;
    size_t pos;
    size_t doc_start; /* after a byte order mark */
    struct mh_err_info *info;
};

static enum mh_err judge_body(const char *content_type, const char *body, size_t len,
                              bool build_json, enum mh_intake__kind *kind, json_t **value,
                              struct mh_err_info *info);
static bool parse_media_type(const char *ct, struct media_type *mt);
static bool is_json_type(const char *t);
static bool is_xml_type(const char *t);
static json_t *form_component(const char *s, size_t len, bool *is_bad);
static bool is_name_start(unsigned char c);
static bool is_name_char(unsigned char c);
static enum mh_err parse_form(const char *body, size_t len, json_t **out, struct mh_err_info *info);
static enum mh_err xml_fail(struct xml *x, const char *what);
static bool xml_at(const struct xml *x, const char *lit);
static void xml_skip_space(struct xml *x);
static bool xml_name(struct xml *x, const char **name, size_t *name_len);
static enum mh_err xml_reference(struct xml *x);
static enum mh_err xml_misc(struct xml *x, bool *progressed);
static enum mh_err xml_element_open(struct xml *x, const char **name, size_t *name_len,
                                    bool *is_empty);

bool mh_intake__is_utf8(const char *str, size_t len)
{
    return mh_text_is_utf8(str, len);
}

static bool parse_media_type(const char *ct, struct media_type *mt)
{
    memset(mt, 0, sizeof(*mt));
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= sizeof(mt->type) || memchr(ct, '/', n) == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)ct[i];
        if (c <= ' ' || c >= 0x7f)
            return false;
        mt->type[i] = (char)tolower(c);
    }
    const char *p = ct + strcspn(ct, ";");
    while (*p == ';') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t plen = strcspn(p, ";");
        if (plen > 8 && strncasecmp(p, "charset=", 8) == 0) {
            const char *v = p + 8;
            size_t vlen = plen - 8;
            while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
            if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
                v++;
                vlen -= 2;
            }
            if (vlen >= sizeof(mt->charset))
                vlen = sizeof(mt->charset) - 1;
            for (size_t i = 0; i < vlen; i++)
                mt->charset[i] = (char)tolower((unsigned char)v[i]);
        }
        p += plen;
    }
    return true;
}

static bool is_json_type(const char *t)
{
    size_t n = strlen(t);
    return strcmp(t, "application/json") == 0 || (n > 5 && strcmp(t + n - 5, "+json") == 0);
}

static bool is_xml_type(const char *t)
{
    size_t n = strlen(t);
    return strcmp(t, "application/xml") == 0 || strcmp(t, "text/xml") == 0 ||
           (n > 4 && strcmp(t + n - 4, "+xml") == 0);
}

enum mh_err mh_intake__parse_body(const char *content_type, const char *body, size_t len,
                                  enum mh_intake__kind *kind, json_t **value,
                                  struct mh_err_info *info)
{
    return judge_body(content_type, body, len, true, kind, value, info);
}

enum mh_err mh_intake__check_body(const char *content_type, const char *body, size_t len,
                                  enum mh_intake__kind *kind, json_t **value,
                                  struct mh_err_info *info)
{
    return judge_body(content_type, body, len, false, kind, value, info);
}

static enum mh_err judge_body(const char *content_type, const char *body, size_t len,
                              bool build_json, enum mh_intake__kind *kind, json_t **value,
                              struct mh_err_info *info)
{
    struct media_type mt;
    *value = NULL;
    *kind = MH_INTAKE__KIND_EMPTY;
    if (content_type == NULL || content_type[0] == '\0') {
        if (len == 0) {
            *value = json_null();
            return MH_OK;
        }
        return mh_err_set(info, MH_ENOTFOUND, "content-type", -1,
                          "a body needs a Content-Type: application/json, "
                          "application/x-www-form-urlencoded, application/xml or text/plain");
    }
    if (!parse_media_type(content_type, &mt))
        return mh_err_set(info, MH_EINVAL, "content-type", -1, "malformed Content-Type header");
    if (mt.charset[0] && strcmp(mt.charset, "utf-8") != 0 && strcmp(mt.charset, "utf8") != 0 &&
        strcmp(mt.charset, "us-ascii") != 0)
        return mh_err_set(info, MH_ENOTFOUND, "content-type", -1,
                          "only the UTF-8 charset is accepted");
    if (is_json_type(mt.type)) {
        /* The checker decides, whether or not the value is built: a body is accepted or not
         * the same way on every path, nested at most MH_INTAKE__JSON_MAX_DEPTH deep. */
        json_error_t jerr;
        *kind = MH_INTAKE__KIND_JSON;
        enum mh_err rc = mh_intake__json_check(body ? body : "", len, info);
        if (rc != MH_OK || !build_json)
            return rc;
        /* Duplicate member names are refused: two parsers reading one body differently is how
         * signature checks get bypassed. */
        json_t *v =
            json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
        if (v == NULL)
            return mh_err_set(info, MH_EINVAL, "json", jerr.position,
                              "the body is not valid JSON (byte %d): %s", jerr.position, jerr.text);
        *value = v;
        return MH_OK;
    }
    if (!mh_intake__is_utf8(body ? body : "", len))
        return mh_err_set(info, MH_EINVAL, "encoding", -1,
                          "the body is not valid UTF-8 text without NUL characters");
    if (strcmp(mt.type, "application/x-www-form-urlencoded") == 0) {
        *kind = MH_INTAKE__KIND_FORM;
        return parse_form(body, len, value, info);
    }
    if (is_xml_type(mt.type)) {
        enum mh_err rc = mh_intake__xml_check(body ? body : "", len, info);
        if (rc != MH_OK)
            return rc;
        *kind = MH_INTAKE__KIND_XML;
        *value = json_stringn(body ? body : "", len);
        return *value ? MH_OK : mh_err_set(info, MH_EINVAL, "encoding", -1, "invalid text");
    }
    if (strncmp(mt.type, "text/", 5) == 0) {
        *kind = MH_INTAKE__KIND_TEXT;
        *value = json_stringn(body ? body : "", len);
        return *value ? MH_OK : mh_err_set(info, MH_EINVAL, "encoding", -1, "invalid text");
    }
    return mh_err_set(info, MH_ENOTFOUND, "content-type", -1,
                      "unsupported Content-Type '%.100s': use application/json, "
                      "application/x-www-form-urlencoded, application/xml or text/plain",
                      mt.type);
}

/* Decodes one form component (`+` is a space, %XX a byte) into a new JSON string. */
static json_t *form_component(const char *s, size_t len, bool *is_bad)
{
    char *out = mh_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '+') {
            out[o++] = ' ';
        } else if (c == '%') {
            if (len - i < 3) {
                *is_bad = true;
                break;
            }
            int hi = isxdigit((unsigned char)s[i + 1]) ? s[i + 1] : -1;
            int lo = isxdigit((unsigned char)s[i + 2]) ? s[i + 2] : -1;
            if (hi < 0 || lo < 0) {
                *is_bad = true;
                break;
            }
            hi = isdigit(hi) ? hi - '0' : (tolower(hi) - 'a' + 10);
            lo = isdigit(lo) ? lo - '0' : (tolower(lo) - 'a' + 10);
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = c;
        }
    }
    json_t *v = NULL;
    if (!*is_bad && mh_intake__is_utf8(out, o))
        v = json_stringn(out, o);
    else
        *is_bad = true;
    free(out);
    return v;
}

static enum mh_err parse_form(const char *body, size_t len, json_t **out, struct mh_err_info *info)
{
    if (body == NULL)
        len = 0;
    json_t *obj = json_object();
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(body + i, '=', end - i);
            size_t klen = eq ? (size_t)(eq - (body + i)) : end - i;
            bool is_bad = false;
            json_t *k = form_component(body + i, klen, &is_bad);
            json_t *v = eq ? form_component(eq + 1, end - i - klen - 1, &is_bad) : json_string("");
            if (is_bad || k == NULL || v == NULL) {
                json_decref(k);
                json_decref(v);
                json_decref(obj);
                return mh_err_set(info, MH_EINVAL, "form", (long)i,
                                  "the form body is malformed at byte %zu (bad percent-encoding "
                                  "or not UTF-8)",
                                  i);
            }
            const char *key = json_string_value(k);
            if (strlen(key) != json_string_length(k)) {
                json_decref(k);
                json_decref(v);
                json_decref(obj);
                return mh_err_set(info, MH_EINVAL, "form", (long)i,
                                  "a form field name contains a NUL character");
            }
            json_t *prev = json_object_get(obj, key);
            if (prev == NULL) {
                json_object_set_new(obj, key, v);
            } else if (json_is_array(prev)) {
                json_array_append_new(prev, v);
            } else {
                json_object_set_new(obj, key, json_pack("[O, o]", prev, v));
            }
            json_decref(k);
        }
        i = end + 1;
    }
    *out = obj;
    return MH_OK;
}

/* ---- XML well-formedness ---------------------------------------------------------------- */

static enum mh_err xml_fail(struct xml *x, const char *what)
{
    return mh_err_set(x->info, MH_EINVAL, "xml", (long)x->pos,
                      "the body is not well-formed XML (byte %zu): %s", x->pos, what);
}

static bool xml_at(const struct xml *x, const char *lit)
{
    size_t n = strlen(lit);
    return x->len - x->pos >= n && memcmp(x->s + x->pos, lit, n) == 0;
}

static void xml_skip_space(struct xml *x)
{
    while (x->pos < x->len && (x->s[x->pos] == ' ' || x->s[x->pos] == '\t' ||
                               x->s[x->pos] == '\n' || x->s[x->pos] == '\r'))
        x->pos++;
}

static bool is_name_start(unsigned char c)
{
    return isalpha(c) || c == '_' || c == ':' || c >= 0x80;
}

static bool is_name_char(unsigned char c)
{
    return is_name_start(c) || isdigit(c) || c == '-' || c == '.';
}

static bool xml_name(struct xml *x, const char **name, size_t *name_len)
{
    size_t start = x->pos;
    if (x->pos >= x->len || !is_name_start((unsigned char)x->s[x->pos]))
        return false;
    while (x->pos < x->len && is_name_char((unsigned char)x->s[x->pos]))
        x->pos++;
    *name = x->s + start;
    *name_len = x->pos - start;
    return true;
}

/* At '&': a predefined entity or a character reference to an XML Char. */
static enum mh_err xml_reference(struct xml *x)
{
    static const char *const predefined[] = {"&lt;", "&gt;", "&amp;", "&apos;", "&quot;"};
    for (size_t i = 0; i < MH_ARRAY_LEN(predefined); i++) {
        if (xml_at(x, predefined[i])) {
            x->pos += strlen(predefined[i]);
            return MH_OK;
        }
    }
    if (!xml_at(x, "&#"))
        return xml_fail(x, "unknown entity (only the five predefined ones and character "
                           "references are allowed)");
    x->pos += 2;
    int base = 10;
    if (x->pos < x->len && x->s[x->pos] == 'x') {
        base = 16;
        x->pos++;
    }
    unsigned long cp = 0;
    size_t digits = 0;
    while (x->pos < x->len && x->s[x->pos] != ';') {
        char c = x->s[x->pos];
        int d = isdigit((unsigned char)c)                    ? c - '0'
                : (base == 16 && isxdigit((unsigned char)c)) ? tolower((unsigned char)c) - 'a' + 10
                                                             : -1;
        if (d < 0 || ++digits > 8)
            return xml_fail(x, "bad character reference");
        cp = cp * (unsigned long)base + (unsigned long)d;
        x->pos++;
    }
    if (x->pos >= x->len || digits == 0)
        return xml_fail(x, "unterminated character reference");
    x->pos++;
    bool ok = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
              (cp >= 0xE000 && cp <= 0xFFFD) || (cp >= 0x10000 && cp <= 0x10FFFF);
    return ok ? MH_OK : xml_fail(x, "character reference to a character XML does not allow");
}

/* A comment, a processing instruction or white space (the "Misc" of the grammar). */
static enum mh_err xml_misc(struct xml *x, bool *progressed)
{
    *progressed = false;
    size_t before = x->pos;
    xml_skip_space(x);
    if (xml_at(x, "<!--")) {
        x->pos += 4;
        for (;;) {
            if (x->pos + 1 >= x->len)
                return xml_fail(x, "unterminated comment");
            if (x->s[x->pos] == '-' && x->s[x->pos + 1] == '-') {
                if (x->pos + 2 < x->len && x->s[x->pos + 2] == '>') {
                    x->pos += 3;
                    break;
                }
                return xml_fail(x, "'--' inside a comment");
            }
            x->pos++;
        }
    } else if (xml_at(x, "<?")) {
        size_t at = x->pos;
        x->pos += 2;
        const char *name;
        size_t nlen;
        if (!xml_name(x, &name, &nlen))
            return xml_fail(x, "processing instruction without a target");
        bool is_decl = nlen == 3 && strncasecmp(name, "xml", 3) == 0;
        if (is_decl && at != x->doc_start)
            return xml_fail(x, "XML declaration not at the start of the document");
        const char *end = memmem(x->s + x->pos, x->len - x->pos, "?>", 2);
        if (end == NULL)
            return xml_fail(x, "unterminated processing instruction");
        x->pos = (size_t)(end - x->s) + 2;
    } else if (xml_at(x, "<!DOCTYPE")) {
        return xml_fail(x, "DOCTYPE declarations are not accepted");
    }
    *progressed = x->pos != before;
    return MH_OK;
}

/* At '<' of a start tag: reads the name and attributes up to '>' or '/>'. */
static enum mh_err xml_element_open(struct xml *x, const char **name, size_t *name_len,
                                    bool *is_empty)
{
    const char *anames[XML_MAX_ATTRS];
    size_t alens[XML_MAX_ATTRS];
    size_t nattrs = 0;
    x->pos++;
    if (!xml_name(x, name, name_len))
        return xml_fail(x, "expected an element name");
    for (;;) {
        size_t before = x->pos;
        xml_skip_space(x);
        if (xml_at(x, "/>")) {
            x->pos += 2;
            *is_empty = true;
            return MH_OK;
        }
        if (xml_at(x, ">")) {
            x->pos++;
            *is_empty = false;
            return MH_OK;
        }
        if (before == x->pos)
            return xml_fail(x, "expected white space, '>' or '/>'");
        const char *an;
        size_t alen;
        if (!xml_name(x, &an, &alen))
            return xml_fail(x, "expected an attribute name");
        for (size_t i = 0; i < nattrs; i++)
            if (alens[i] == alen && memcmp(anames[i], an, alen) == 0)
                return xml_fail(x, "duplicate attribute");
        if (nattrs == XML_MAX_ATTRS)
            return xml_fail(x, "too many attributes");
        anames[nattrs] = an;
        alens[nattrs++] = alen;
        xml_skip_space(x);
        if (!xml_at(x, "="))
            return xml_fail(x, "expected '=' after an attribute name");
        x->pos++;
        xml_skip_space(x);
        if (x->pos >= x->len || (x->s[x->pos] != '"' && x->s[x->pos] != '\''))
            return xml_fail(x, "expected a quoted attribute value");
        char quote = x->s[x->pos++];
        while (x->pos < x->len && x->s[x->pos] != quote) {
            if (x->s[x->pos] == '<')
                return xml_fail(x, "'<' in an attribute value");
            if (x->s[x->pos] == '&') {
                enum mh_err rc = xml_reference(x);
                if (rc != MH_OK)
                    return rc;
                continue;
            }
            x->pos++;
        }
        if (x->pos >= x->len)
            return xml_fail(x, "unterminated attribute value");
        x->pos++;
    }
}

enum mh_err mh_intake__xml_check(const char *s, size_t len, struct mh_err_info *info)
{
    struct xml x = {s, len, 0, 0, info};
    const char *stack[XML_MAX_DEPTH];
    size_t stack_len[XML_MAX_DEPTH];
    size_t depth = 0;
    bool progressed = false;
    enum mh_err rc;
    /* XML 1.0 Char: no control characters but tab, newline and carriage return. */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            x.pos = i;
            return xml_fail(&x, "control character");
        }
    }
    if (xml_at(&x, "\xEF\xBB\xBF"))
        x.pos = x.doc_start = 3;
    do {
        if ((rc = xml_misc(&x, &progressed)) != MH_OK)
            return rc;
    } while (progressed);
    if (!xml_at(&x, "<") || xml_at(&x, "</") || xml_at(&x, "<!"))
        return xml_fail(&x, "expected the root element");
    for (;;) {
        /* At '<' of a start tag. */
        const char *name = NULL;
        size_t nlen = 0;
        bool is_empty = false;
        if ((rc = xml_element_open(&x, &name, &nlen, &is_empty)) != MH_OK)
            return rc;
        if (!is_empty) {
            if (depth == XML_MAX_DEPTH)
                return xml_fail(&x, "elements nested too deeply");
            stack[depth] = name;
            stack_len[depth++] = nlen;
        }
        /* Content until the next start tag, or until the root closes. */
        while (depth > 0) {
            if (x.pos >= x.len)
                return xml_fail(&x, "unexpected end of the document inside an element");
            char c = x.s[x.pos];
            if (c == '&') {
                if ((rc = xml_reference(&x)) != MH_OK)
                    return rc;
            } else if (c != '<') {
                if (xml_at(&x, "]]>"))
                    return xml_fail(&x, "']]>' in character data");
                x.pos++;
            } else if (xml_at(&x, "</")) {
                x.pos += 2;
                size_t name_at = x.pos;
                const char *cn;
                size_t clen;
                if (!xml_name(&x, &cn, &clen) || clen != stack_len[depth - 1] ||
                    (clen > 0 && memcmp(cn, stack[depth - 1], clen) != 0)) {
                    x.pos = name_at;
                    return xml_fail(&x, "end tag does not match the open element");
                }
                xml_skip_space(&x);
                if (!xml_at(&x, ">"))
                    return xml_fail(&x, "expected '>'");
                x.pos++;
                depth--;
            } else if (xml_at(&x, "<![CDATA[")) {
                const char *end = memmem(x.s + x.pos, x.len - x.pos, "]]>", 3);
                if (end == NULL)
                    return xml_fail(&x, "unterminated CDATA section");
                x.pos = (size_t)(end - x.s) + 3;
            } else if (xml_at(&x, "<!--") || xml_at(&x, "<?")) {
                if (xml_at(&x, "<?xml") || xml_at(&x, "<?XML")) {
                    size_t p = x.pos + 5;
                    if (p < x.len && !is_name_char((unsigned char)x.s[p]))
                        return xml_fail(&x, "XML declaration inside an element");
                }
                if ((rc = xml_misc(&x, &progressed)) != MH_OK)
                    return rc;
            } else if (xml_at(&x, "<!")) {
                return xml_fail(&x, "markup declaration inside an element");
            } else {
                break; /* a child element */
            }
        }
        if (depth == 0)
            break;
    }
    do {
        if ((rc = xml_misc(&x, &progressed)) != MH_OK)
            return rc;
    } while (progressed);
    if (x.pos != x.len)
        return xml_fail(&x, "content after the root element");
    return MH_OK;
}
