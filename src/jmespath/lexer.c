/* SPDX-License-Identifier: MIT */
/*
 * The JMESPath lexer: turns an expression into an array of tokens in one pass, so the parser can
 * look ahead freely. Quoted identifiers and JSON literals are decoded here with jansson (which
 * also validates UTF-8 and the JSON escapes), raw strings keep every backslash except the one of
 * an escaped quote, as the specification's raw-string rule says. Every error carries the byte
 * offset of the token that caused it.
 */
#include "jmespath/jmespath_internal.h"

#include <limits.h>
#include <string.h>

#include "core/mem.h"

struct lexer {
    struct mh_arena *arena;
    const char *src;
    size_t len;
    size_t pos;
    struct mh_err_info *info;
};

static enum mh_err lex_error(struct lexer *lx, size_t at, const char *msg);
static enum mh_err lex_quoted(struct lexer *lx, struct mh_jp__token *t);
static size_t scan_delimited(struct lexer *lx, char delim, char **text, size_t *text_len);
static enum mh_err lex_raw(struct lexer *lx, struct mh_jp__token *t);
static enum mh_err lex_literal(struct lexer *lx, struct mh_jp__token *t);
static enum mh_err lex_number(struct lexer *lx, struct mh_jp__token *t);
static void decref_cb(void *p);

static const char *const tok_names[MH_JP_T__COUNT] = {
    [MH_JP_T_EOF] = "end of expression",
    [MH_JP_T_IDENT] = "identifier",
    [MH_JP_T_QIDENT] = "quoted identifier",
    [MH_JP_T_NUMBER] = "number",
    [MH_JP_T_LITERAL] = "literal",
    [MH_JP_T_DOT] = "'.'",
    [MH_JP_T_STAR] = "'*'",
    [MH_JP_T_LBRACKET] = "'['",
    [MH_JP_T_RBRACKET] = "']'",
    [MH_JP_T_FILTER] = "'[?'",
    [MH_JP_T_FLATTEN] = "'[]'",
    [MH_JP_T_LBRACE] = "'{'",
    [MH_JP_T_RBRACE] = "'}'",
    [MH_JP_T_LPAREN] = "'('",
    [MH_JP_T_RPAREN] = "')'",
    [MH_JP_T_COMMA] = "','",
    [MH_JP_T_COLON] = "':'",
    [MH_JP_T_PIPE] = "'|'",
    [MH_JP_T_OR] = "'||'",
    [MH_JP_T_AND] = "'&&'",
    [MH_JP_T_NOT] = "'!'",
    [MH_JP_T_EQ] = "'=='",
    [MH_JP_T_NE] = "'!='",
    [MH_JP_T_LT] = "'<'",
    [MH_JP_T_LE] = "'<='",
    [MH_JP_T_GT] = "'>'",
    [MH_JP_T_GE] = "'>='",
    [MH_JP_T_AT] = "'@'",
    [MH_JP_T_EXPREF] = "'&'",
};

const char *mh_jp__tok_name(enum mh_jp__tok t)
{
    if ((unsigned)t < MH_JP_T__COUNT && tok_names[t])
        return tok_names[t];
    return "token";
}

static void decref_cb(void *p)
{
    json_decref(p);
}

static enum mh_err lex_error(struct lexer *lx, size_t at, const char *msg)
{
    return mh_err_set(lx->info, MH_EJMESPATH, "syntax", (long)at, "%s", msg);
}

static bool is_ident_start(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_ident_char(unsigned char ch)
{
    return is_ident_start(ch) || (ch >= '0' && ch <= '9');
}

/* A "quoted identifier" is a JSON string: jansson decodes the escapes and validates UTF-8. */
static enum mh_err lex_quoted(struct lexer *lx, struct mh_jp__token *t)
{
    size_t start = lx->pos;
    size_t i = start + 1;
    while (i < lx->len && lx->src[i] != '"') {
        if (lx->src[i] == '\\' && i + 1 < lx->len)
            i++;
        i++;
    }
    if (i >= lx->len)
        return lex_error(lx, start, "unterminated quoted identifier");
    json_error_t jerr;
    json_t *s = json_loadb(lx->src + start, i + 1 - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (s == NULL || !json_is_string(s)) {
        json_decref(s);
        return lex_error(lx, start, "invalid quoted identifier");
    }
    size_t n = json_string_length(s);
    char *copy = mh_arena_alloc(lx->arena, n + 1);
    memcpy(copy, json_string_value(s), n + 1);
    json_decref(s);
    t->type = MH_JP_T_QIDENT;
    t->u.id.s = copy;
    t->u.id.len = n;
    lx->pos = i + 1;
    return MH_OK;
}

/*
 * Scans a token delimited by `delim` starting at lx->pos, where a backslash always takes the
 * next byte with it (so an escaped delimiter does not end the token), and copies the contents
 * into the arena with only "\<delim>" unescaped. Returns the end offset (the closing delimiter)
 * or 0 when unterminated.
 */
static size_t scan_delimited(struct lexer *lx, char delim, char **text, size_t *text_len)
{
    size_t start = lx->pos;
    size_t i = start + 1;
    while (i < lx->len && lx->src[i] != delim) {
        if (lx->src[i] == '\\')
            i++;
        i++;
    }
    if (i >= lx->len)
        return 0;
    char *buf = mh_arena_alloc(lx->arena, i - start);
    size_t o = 0;
    for (size_t j = start + 1; j < i; j++) {
        if (lx->src[j] == '\\' && lx->src[j + 1] == delim)
            j++;
        else if (lx->src[j] == '\\')
            buf[o++] = lx->src[j++];
        buf[o++] = lx->src[j];
    }
    buf[o] = '\0';
    *text = buf;
    *text_len = o;
    return i;
}

/* 'raw string': only \' is an escape; every other backslash is kept as it is. */
static enum mh_err lex_raw(struct lexer *lx, struct mh_jp__token *t)
{
    char *text;
    size_t n;
    size_t end = scan_delimited(lx, '\'', &text, &n);
    if (end == 0)
        return lex_error(lx, lx->pos, "unterminated raw string literal");
    json_t *s = json_stringn(text, n);
    if (s == NULL)
        return lex_error(lx, lx->pos, "raw string literal is not valid UTF-8");
    mh_arena_defer(lx->arena, decref_cb, s);
    t->type = MH_JP_T_LITERAL;
    t->u.lit = s;
    lx->pos = end + 1;
    return MH_OK;
}

/* `json`: the text between the backticks, with \` unescaped, must be one JSON value. */
static enum mh_err lex_literal(struct lexer *lx, struct mh_jp__token *t)
{
    char *text;
    size_t n;
    size_t end = scan_delimited(lx, '`', &text, &n);
    if (end == 0)
        return lex_error(lx, lx->pos, "unterminated JSON literal");
    json_error_t jerr;
    json_t *v = json_loadb(text, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        return mh_err_set(lx->info, MH_EJMESPATH, "syntax", (long)lx->pos,
                          "invalid JSON literal: %s", jerr.text);
    }
    mh_arena_defer(lx->arena, decref_cb, v);
    t->type = MH_JP_T_LITERAL;
    t->u.lit = v;
    lx->pos = end + 1;
    return MH_OK;
}

/* -?[0-9]+, clamped to +-2^62 so later arithmetic on indexes cannot overflow. */
static enum mh_err lex_number(struct lexer *lx, struct mh_jp__token *t)
{
    const long long clamp = (long long)1 << 62;
    size_t start = lx->pos;
    size_t i = start;
    bool neg = false;
    if (lx->src[i] == '-') {
        neg = true;
        i++;
    }
    if (i >= lx->len || lx->src[i] < '0' || lx->src[i] > '9')
        return lex_error(lx, start, "'-' must be followed by digits");
    long long v = 0;
    while (i < lx->len && lx->src[i] >= '0' && lx->src[i] <= '9') {
        v = v <= (clamp - 9) / 10 ? v * 10 + (lx->src[i] - '0') : clamp;
        i++;
    }
    t->type = MH_JP_T_NUMBER;
    t->u.num = neg ? -v : v;
    lx->pos = i;
    return MH_OK;
}

enum mh_err mh_jp__lex(struct mh_arena *arena, const char *src, size_t len,
                       struct mh_jp__token **out, size_t *count, struct mh_err_info *info)
{
    struct lexer lx = {.arena = arena, .src = src, .len = len, .pos = 0, .info = info};
    /* Every token but EOF consumes at least one byte, so len + 1 slots always suffice. */
    size_t cap = len + 1;
    struct mh_jp__token *toks = mh_arena_alloc(arena, cap * sizeof(*toks));
    size_t n = 0;
    enum mh_err rc = MH_OK;

    for (;;) {
        while (lx.pos < len && (src[lx.pos] == ' ' || src[lx.pos] == '\t' || src[lx.pos] == '\n' ||
                                src[lx.pos] == '\r'))
            lx.pos++;
        struct mh_jp__token *t = &toks[n];
        memset(t, 0, sizeof(*t));
        t->start = (uint32_t)lx.pos;
        if (lx.pos >= len) {
            t->type = MH_JP_T_EOF;
            n++;
            break;
        }
        unsigned char ch = (unsigned char)src[lx.pos];
        unsigned char nx = lx.pos + 1 < len ? (unsigned char)src[lx.pos + 1] : 0;
        if (is_ident_start(ch)) {
            size_t s = lx.pos;
            while (lx.pos < len && is_ident_char((unsigned char)src[lx.pos]))
                lx.pos++;
            t->type = MH_JP_T_IDENT;
            t->u.id.s = src + s;
            t->u.id.len = lx.pos - s;
        } else if ((ch >= '0' && ch <= '9') || ch == '-') {
            rc = lex_number(&lx, t);
        } else if (ch == '"') {
            rc = lex_quoted(&lx, t);
        } else if (ch == '\'') {
            rc = lex_raw(&lx, t);
        } else if (ch == '`') {
            rc = lex_literal(&lx, t);
        } else {
            enum mh_jp__tok type = MH_JP_T_EOF;
            size_t w = 1;
            switch (ch) {
            case '.': type = MH_JP_T_DOT; break;
            case '*': type = MH_JP_T_STAR; break;
            case ']': type = MH_JP_T_RBRACKET; break;
            case '{': type = MH_JP_T_LBRACE; break;
            case '}': type = MH_JP_T_RBRACE; break;
            case '(': type = MH_JP_T_LPAREN; break;
            case ')': type = MH_JP_T_RPAREN; break;
            case ',': type = MH_JP_T_COMMA; break;
            case ':': type = MH_JP_T_COLON; break;
            case '@': type = MH_JP_T_AT; break;
            case '[':
                if (nx == '?') {
                    type = MH_JP_T_FILTER;
                    w = 2;
                } else if (nx == ']') {
                    type = MH_JP_T_FLATTEN;
                    w = 2;
                } else {
                    type = MH_JP_T_LBRACKET;
                }
                break;
            case '|':
                type = nx == '|' ? MH_JP_T_OR : MH_JP_T_PIPE;
                w = nx == '|' ? 2 : 1;
                break;
            case '&':
                type = nx == '&' ? MH_JP_T_AND : MH_JP_T_EXPREF;
                w = nx == '&' ? 2 : 1;
                break;
            case '!':
                type = nx == '=' ? MH_JP_T_NE : MH_JP_T_NOT;
                w = nx == '=' ? 2 : 1;
                break;
            case '<':
                type = nx == '=' ? MH_JP_T_LE : MH_JP_T_LT;
                w = nx == '=' ? 2 : 1;
                break;
            case '>':
                type = nx == '=' ? MH_JP_T_GE : MH_JP_T_GT;
                w = nx == '=' ? 2 : 1;
                break;
            case '=':
                if (nx != '=') {
                    rc = lex_error(&lx, lx.pos, "unexpected '=' (did you mean '=='?)");
                    goto out;
                }
                type = MH_JP_T_EQ;
                w = 2;
                break;
            default:
                if (ch >= 0x20 && ch < 0x7f)
                    rc = mh_err_set(info, MH_EJMESPATH, "syntax", (long)lx.pos,
                                    "unexpected character '%c'", ch);
                else
                    rc = mh_err_set(info, MH_EJMESPATH, "syntax", (long)lx.pos,
                                    "unexpected byte 0x%02x", ch);
                goto out;
            }
            t->type = type;
            lx.pos += w;
        }
        if (rc != MH_OK)
            goto out;
        n++;
        MH_ASSERT(n < cap);
    }
    *out = toks;
    *count = n;
out:
    return rc;
}
