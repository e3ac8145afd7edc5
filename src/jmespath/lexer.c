/* SPDX-License-Identifier: MIT */
/*
 * The JMESPath lexer: one pass over the expression into an array of tokens, so the parser can
 * look ahead freely. Quoted identifiers with escapes
 * and JSON literals are decoded with jansson (which validates UTF-8 and the JSON escapes);
 * plain ASCII quoted identifiers take a fast path. Raw strings keep every backslash except the
 * one of an escaped quote, as the specification's raw-string rule says. Every error carries
 * the byte offset of the token that caused it.
 */
#include "jmespath/jmespath_internal.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "core/mem.h"

struct lexer {
    struct mh_jp_expr *expr;
    const char *src;
    size_t len;
    size_t pos;
    struct mh_err_info *info;
};

/* The rare token kinds live out of line, so the common path (identifiers and punctuation) has
 * a small stack frame. */
static enum mh_err lex_error(struct lexer *lx, size_t at, const char *msg);
static enum mh_err lex_quoted(struct lexer *lx, struct mh_jp__token *t);
static size_t scan_delimited(struct lexer *lx, char delim, char **text, size_t *text_len);
static enum mh_err lex_raw(struct lexer *lx, struct mh_jp__token *t);
static enum mh_err lex_literal(struct lexer *lx, struct mh_jp__token *t);
static enum mh_err lex_number(struct lexer *lx, struct mh_jp__token *t);

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

__attribute__((noinline)) static enum mh_err lex_error(struct lexer *lx, size_t at, const char *msg)
{
    return mh_err_set(lx->info, MH_EJMESPATH, "syntax", (long)at, "%s", msg);
}

static bool is_ident_char(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (ch >= '0' && ch <= '9');
}

/*
 * A "quoted identifier" is a JSON string. Printable ASCII without escapes is copied as it is;
 * anything else is decoded by jansson, which also validates UTF-8 and rejects control bytes.
 */
__attribute__((noinline)) static enum mh_err lex_quoted(struct lexer *lx, struct mh_jp__token *t)
{
    size_t start = lx->pos;
    size_t i = start + 1;
    bool plain = true;
    while (i < lx->len && lx->src[i] != '"') {
        unsigned char ch = (unsigned char)lx->src[i];
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f)
            plain = false;
        if (ch == '\\' && i + 1 < lx->len)
            i++;
        i++;
    }
    if (i >= lx->len)
        return lex_error(lx, start, "unterminated quoted identifier");
    char *copy;
    size_t n;
    if (plain) {
        n = i - start - 1;
        copy = mh_jp__alloc(lx->expr, n + 1);
        memcpy(copy, lx->src + start + 1, n);
        copy[n] = '\0';
    } else {
        json_error_t jerr;
        json_t *s =
            json_loadb(lx->src + start, i + 1 - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (s == NULL || !json_is_string(s)) {
            json_decref(s);
            return lex_error(lx, start, "invalid quoted identifier");
        }
        n = json_string_length(s);
        copy = mh_jp__alloc(lx->expr, n + 1);
        memcpy(copy, json_string_value(s), n + 1);
        json_decref(s);
    }
    t->type = MH_JP_T_QIDENT;
    t->u.id.s = copy;
    t->u.id.len = n;
    lx->pos = i + 1;
    return MH_OK;
}

/*
 * Scans a token delimited by `delim` starting at lx->pos, where a backslash always takes the
 * next byte with it (so an escaped delimiter does not end the token), and copies the contents
 * into the expression with only "\<delim>" unescaped. Returns the end offset (the closing
 * delimiter) or 0 when unterminated.
 */
static size_t scan_delimited(struct lexer *lx, char delim, char **text, size_t *text_len)
{
    const char *src = lx->src;
    size_t len = lx->len;
    size_t start = lx->pos;
    size_t i = start + 1;
    bool escapes = false;
    /* memchr for the delimiter, then for a backslash before it: long literals scan fast. */
    for (;;) {
        const char *q = i < len ? memchr(src + i, delim, len - i) : NULL;
        if (q == NULL)
            return 0;
        size_t qi = (size_t)(q - src);
        const char *bs = memchr(src + i, '\\', qi - i);
        if (bs == NULL) {
            i = qi;
            break;
        }
        escapes = true;
        i = (size_t)(bs - src) + 2; /* the backslash takes the next byte with it */
        if (i > len)
            return 0;
    }
    size_t n = i - start - 1;
    char *buf = mh_jp__alloc(lx->expr, n + 1);
    size_t o = 0;
    if (!escapes) {
        memcpy(buf, src + start + 1, n);
        o = n;
    } else {
        for (size_t j = start + 1; j < i; j++) {
            if (src[j] == '\\' && src[j + 1] == delim)
                j++;
            else if (src[j] == '\\')
                buf[o++] = src[j++];
            buf[o++] = src[j];
        }
    }
    buf[o] = '\0';
    *text = buf;
    *text_len = o;
    return i;
}

/* True when no byte of `s` has the high bit set, checked a word at a time. */
static bool ascii_only(const char *s, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= (unsigned char)s[i];
    return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* 'raw string': only \' is an escape; every other backslash is kept as it is. */
__attribute__((noinline)) static enum mh_err lex_raw(struct lexer *lx, struct mh_jp__token *t)
{
    char *text;
    size_t n;
    size_t end = scan_delimited(lx, '\'', &text, &n);
    if (end == 0)
        return lex_error(lx, lx->pos, "unterminated raw string literal");
    /* jansson validates UTF-8 byte by byte; pure ASCII (the common case) needs no check. */
    json_t *s = ascii_only(text, n) ? json_stringn_nocheck(text, n) : json_stringn(text, n);
    if (s == NULL)
        return lex_error(lx, lx->pos, "raw string literal is not valid UTF-8");
    mh_jp__keep_literal(lx->expr, s);
    t->type = MH_JP_T_LITERAL;
    t->u.lit = s;
    lx->pos = end + 1;
    return MH_OK;
}

/* `json`: the text between the backticks, with \` unescaped, must be one JSON value. */
__attribute__((noinline)) static enum mh_err lex_literal(struct lexer *lx, struct mh_jp__token *t)
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
    mh_jp__keep_literal(lx->expr, v);
    t->type = MH_JP_T_LITERAL;
    t->u.lit = v;
    lx->pos = end + 1;
    return MH_OK;
}

/* -?[0-9]+, clamped to +-2^62 so later arithmetic on indexes cannot overflow. */
__attribute__((noinline)) static enum mh_err lex_number(struct lexer *lx, struct mh_jp__token *t)
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

/*
 * What each byte starts: a one-byte token (its type), or one of the classes below that need a
 * closer look. Zero means the byte cannot start a token.
 */
enum {
    C_NONE = 0,
    C_SPACE = MH_JP_T__COUNT,
    C_IDENT,
    C_NUMBER,
    C_QUOTE,
    C_RAW,
    C_LITERAL,
    C_LBRACKET,
    C_PIPE,
    C_AMP,
    C_BANG,
    C_LT,
    C_GT,
    C_EQ,
};

static const uint8_t start_class[256] = {
    [' '] = C_SPACE,
    ['\t'] = C_SPACE,
    ['\n'] = C_SPACE,
    ['\r'] = C_SPACE,
    ['.'] = MH_JP_T_DOT,
    ['*'] = MH_JP_T_STAR,
    [']'] = MH_JP_T_RBRACKET,
    ['{'] = MH_JP_T_LBRACE,
    ['}'] = MH_JP_T_RBRACE,
    ['('] = MH_JP_T_LPAREN,
    [')'] = MH_JP_T_RPAREN,
    [','] = MH_JP_T_COMMA,
    [':'] = MH_JP_T_COLON,
    ['@'] = MH_JP_T_AT,
    ['"'] = C_QUOTE,
    ['\''] = C_RAW,
    ['`'] = C_LITERAL,
    ['['] = C_LBRACKET,
    ['|'] = C_PIPE,
    ['&'] = C_AMP,
    ['!'] = C_BANG,
    ['<'] = C_LT,
    ['>'] = C_GT,
    ['='] = C_EQ,
    ['-'] = C_NUMBER,
    ['0'] = C_NUMBER,
    ['1'] = C_NUMBER,
    ['2'] = C_NUMBER,
    ['3'] = C_NUMBER,
    ['4'] = C_NUMBER,
    ['5'] = C_NUMBER,
    ['6'] = C_NUMBER,
    ['7'] = C_NUMBER,
    ['8'] = C_NUMBER,
    ['9'] = C_NUMBER,
    ['_'] = C_IDENT,
    ['a' ... 'z'] = C_IDENT,
    ['A' ... 'Z'] = C_IDENT,
};

static __attribute__((noinline)) enum mh_err lex_bad_byte(struct lexer *lx, unsigned char ch)
{
    if (ch >= 0x20 && ch < 0x7f)
        return mh_err_set(lx->info, MH_EJMESPATH, "syntax", (long)lx->pos,
                          "unexpected character '%c'", ch);
    return mh_err_set(lx->info, MH_EJMESPATH, "syntax", (long)lx->pos, "unexpected byte 0x%02x",
                      ch);
}

enum mh_err mh_jp__lex(struct mh_jp_expr *e, const char *src, size_t len, struct mh_jp__token *buf,
                       size_t cap, struct mh_jp__token **out, size_t *count,
                       struct mh_err_info *info)
{
    struct lexer lx = {.expr = e, .src = src, .len = len, .pos = 0, .info = info};
    struct mh_jp__token *toks = buf;
    size_t n = 0;
    size_t pos = 0;
    enum mh_err rc = MH_OK;
    for (;;) {
        if (n == cap) {
            /* Every token but EOF takes at least one byte: len + 1 slots always suffice. */
            size_t ncap = len + 1;
            struct mh_jp__token *big = mh_xmalloc(ncap * sizeof(*big));
            memcpy(big, toks, n * sizeof(*big));
            toks = big;
            cap = ncap;
        }
        struct mh_jp__token *t = &toks[n++];
        unsigned cls;
        while (pos < len && (cls = start_class[(unsigned char)src[pos]]) == C_SPACE)
            pos++;
        t->start = (uint32_t)pos;
        t->u.num = 0;
        if (pos >= len) {
            t->type = MH_JP_T_EOF;
            break;
        }
        /* `src` is NUL-terminated, so looking one byte ahead is always safe. */
        unsigned char nx = (unsigned char)src[pos + 1];
        if (cls < MH_JP_T__COUNT && cls != C_NONE) {
            t->type = (enum mh_jp__tok)cls;
            pos++;
            continue;
        }
        switch (cls) {
        case C_IDENT: {
            size_t s0 = pos;
            while (++pos < len && is_ident_char((unsigned char)src[pos]))
                ;
            t->type = MH_JP_T_IDENT;
            t->u.id.s = src + s0;
            t->u.id.len = pos - s0;
            continue;
        }
        case C_LBRACKET:
            t->type = nx == '?' ? MH_JP_T_FILTER : nx == ']' ? MH_JP_T_FLATTEN : MH_JP_T_LBRACKET;
            pos += t->type == MH_JP_T_LBRACKET ? 1 : 2;
            continue;
        case C_PIPE:
            t->type = nx == '|' ? MH_JP_T_OR : MH_JP_T_PIPE;
            pos += nx == '|' ? 2 : 1;
            continue;
        case C_AMP:
            t->type = nx == '&' ? MH_JP_T_AND : MH_JP_T_EXPREF;
            pos += nx == '&' ? 2 : 1;
            continue;
        case C_BANG:
            t->type = nx == '=' ? MH_JP_T_NE : MH_JP_T_NOT;
            pos += nx == '=' ? 2 : 1;
            continue;
        case C_LT:
            t->type = nx == '=' ? MH_JP_T_LE : MH_JP_T_LT;
            pos += nx == '=' ? 2 : 1;
            continue;
        case C_GT:
            t->type = nx == '=' ? MH_JP_T_GE : MH_JP_T_GT;
            pos += nx == '=' ? 2 : 1;
            continue;
        default: break;
        }
        /* The rare kinds, out of line. */
        lx.pos = pos;
        switch (cls) {
        case C_EQ:
            if (nx != '=') {
                rc = lex_error(&lx, pos, "unexpected '=' (did you mean '=='?)");
            } else {
                t->type = MH_JP_T_EQ;
                lx.pos += 2;
            }
            break;
        case C_NUMBER: rc = lex_number(&lx, t); break;
        case C_QUOTE: rc = lex_quoted(&lx, t); break;
        case C_RAW: rc = lex_raw(&lx, t); break;
        case C_LITERAL: rc = lex_literal(&lx, t); break;
        default: rc = lex_bad_byte(&lx, (unsigned char)src[pos]); break;
        }
        if (rc != MH_OK)
            break;
        pos = lx.pos;
    }
    *out = toks;
    *count = n;
    return rc;
}
