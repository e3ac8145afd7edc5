/* SPDX-License-Identifier: MIT */
/*
 * A validate-only JSON checker for webhook bodies. Building a jansson document costs about
 * 20 µs per KiB, and the intake only needs to know that the run will be able to parse the body
 * later; so this walks the text once, with an explicit stack instead of recursion, and accepts
 * what json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES) of jansson 2.14 accepts
 * (tests/fuzz/fuzz_json_check.c checks that against the library), with two exceptions, where
 * it is stricter: nesting deeper than MH_INTAKE__JSON_MAX_DEPTH (jansson allows 2048), and any
 * NUL byte. An accepted body is stored as text in the run's first event, in a PostgreSQL jsonb
 * column, which cannot hold a NUL character; jansson refuses most NUL bytes but loses one that
 * directly follows a number or a literal (its lexer "ungets" the byte into a buffer where NUL
 * means "empty"), so "1\0" and "[true\0]" parse there and are refused here.
 *
 * What jansson asks beyond RFC 8259: integers must fit in a signed 64-bit integer; a number
 * with a fraction or an exponent must not overflow a double (underflow to 0 is fine); strings
 * must be valid UTF-8 and must not hold \u0000 or an unpaired surrogate escape; member names
 * must be unique once unescaped. An object's names are compared with the earlier ones as they
 * come while it has at most SMALL_OBJECT_KEYS of them; a bigger object is checked when it
 * closes, by sorting its names and comparing neighbours, so no input can make it quadratic.
 */
#include "intake/json_check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "core/text.h"

/* Objects with more names than this are checked for duplicates by sorting, when they close. */
#define SMALL_OBJECT_KEYS 16
/* Frames and names held without allocating. */
#define INLINE_FRAMES 32
#define INLINE_KEYS   64

#define STR_(x) #x
#define STR(x)  STR_(x)

/* A member name: where its text is (after the opening quote) and how long it is unescaped. */
struct key {
    size_t start;
    size_t raw_len; /* bytes up to the closing quote */
    size_t len;     /* bytes once unescaped */
    bool has_escape;
};

/* An open array or object. */
struct frame {
    bool is_object;
    size_t key_base; /* objects: their first name in the name stack */
};

struct checker {
    const unsigned char *s;
    size_t n;
    struct mh_err_info *info;
    struct frame *frames; /* frame_buf until it overflows */
    size_t depth, frame_cap;
    struct key *keys; /* the names of all open objects, innermost last; key_buf at first */
    size_t nkeys, key_cap;
    struct frame frame_buf[INLINE_FRAMES];
    struct key key_buf[INLINE_KEYS];
};

static enum mh_err fail(const struct checker *c, size_t at, const char *why);
static enum mh_err parse(struct checker *c);
static enum mh_err push(struct checker *c, bool is_object, size_t at);
static void *grow(void *items, const void *inline_buf, size_t *cap, size_t size);
static void pop(struct checker *c);
static size_t skip_space(const unsigned char *s, size_t n, size_t i);
static size_t skip_plain(const unsigned char *s, size_t n, size_t i);
static int hex4(const unsigned char *s, size_t n, size_t i);
static enum mh_err scan_string(struct checker *c, size_t *pos, struct key *k);
static enum mh_err scan_number(const struct checker *c, size_t *pos);
static bool real_overflows(const unsigned char *s, size_t int_start, size_t int_end,
                           size_t frac_start, size_t frac_end, int64_t exp);
static struct key *next_key(struct checker *c);
static enum mh_err add_key(struct checker *c, size_t at);
static enum mh_err check_sorted_keys(struct checker *c);
static int key_order(const void *a, const void *b, void *c);
static int key_compare(const unsigned char *s, const struct key *a, const struct key *b);
static size_t unescape(const unsigned char *p, unsigned char out[4], size_t *advance);

/* Bytes a string may hold as they are: printable ASCII other than '"' and '\'. */
static const bool is_plain[256] = {
    /* 0x00-0x1f: control characters */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20-0x3f: '"' is 0x22 */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x40-0x5f: '\' is 0x5c */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
    /* 0x60-0x7f: DEL is allowed, as in jansson */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x80-0xff: UTF-8 sequences, checked one by one */
};

/* 2^1024 - 2^970, the least value strtod() rounds to infinity (with ERANGE, which jansson
 * reports as "real number overflow"): DBL_MAX plus half a unit in its last place, a tie that
 * rounds to even, which is up. 309 digits. */
static const char real_limit[] =
    "1797693134862315807937289714053034150799341327100378269361737789804449682927647509466490179"
    "7758720709633028641669288791094655554785194040263065748867150582068190890200070838367627385"
    "4845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342"
    "711559699508093042880177904174497792";

enum mh_err mh_intake__json_check(const char *s, size_t n, struct mh_err_info *info)
{
    MH_ASSERT(s != NULL || n == 0);
    struct checker c;
    c.s = (const unsigned char *)(s ? s : "");
    c.n = n;
    c.info = info;
    c.frames = c.frame_buf;
    c.depth = 0;
    c.frame_cap = INLINE_FRAMES;
    c.keys = c.key_buf;
    c.nkeys = 0;
    c.key_cap = INLINE_KEYS;
    enum mh_err rc = parse(&c);
    if (c.frames != c.frame_buf)
        free(c.frames);
    if (c.keys != c.key_buf)
        free(c.keys);
    return rc;
}

static enum mh_err fail(const struct checker *c, size_t at, const char *why)
{
    return mh_err_set(c->info, MH_EINVAL, "json", (long)at,
                      "the body is not valid JSON (byte %zu): %s", at, why);
}

/*
 * The grammar as a state machine over three states: `value` expects a value, `after` has just
 * finished one (and looks at the innermost open container for what may follow), `name` expects
 * a member name. The stack of open containers replaces recursion. A NUL byte is looked for
 * first, so that it is reported as such wherever it is.
 */
static enum mh_err parse(struct checker *c)
{
    const unsigned char *s = c->s;
    size_t n = c->n, i = 0;
    enum mh_err rc;

    const unsigned char *nul = memchr(s, '\0', n);
    if (nul != NULL)
        return fail(c, (size_t)(nul - s), "NUL byte");
value:
    i = skip_space(s, n, i);
    if (i == n)
        return fail(c, i, "unexpected end of input");
    switch (s[i]) {
    case '{':
        if ((rc = push(c, true, i)) != MH_OK)
            return rc;
        i = skip_space(s, n, i + 1);
        if (i < n && s[i] == '}') {
            pop(c);
            i++;
            goto after;
        }
        goto name;
    case '[':
        if ((rc = push(c, false, i)) != MH_OK)
            return rc;
        i = skip_space(s, n, i + 1);
        if (i < n && s[i] == ']') {
            pop(c);
            i++;
            goto after;
        }
        goto value;
    case '"':
        if ((rc = scan_string(c, &i, NULL)) != MH_OK)
            return rc;
        goto after;
    case 't':
    case 'f':
    case 'n': {
        const char *lit = s[i] == 't' ? "true" : s[i] == 'f' ? "false" : "null";
        size_t len = strlen(lit);
        if (n - i < len || memcmp(s + i, lit, len) != 0)
            return fail(c, i, "invalid literal");
        i += len;
        goto after;
    }
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        if ((rc = scan_number(c, &i)) != MH_OK)
            return rc;
        goto after;
    case ']':
    case '}':
    case ',':
    case ':': return fail(c, i, "unexpected token");
    default: return fail(c, i, "invalid token");
    }

after:
    i = skip_space(s, n, i);
    if (c->depth == 0) {
        if (i != n)
            return fail(c, i, "end of input expected");
        return MH_OK;
    }
    if (i == n)
        return fail(c, i, "unexpected end of input");
    if (s[i] == ',') {
        i = skip_space(s, n, i + 1);
        if (c->frames[c->depth - 1].is_object)
            goto name;
        goto value;
    }
    if (c->frames[c->depth - 1].is_object) {
        if (s[i] != '}')
            return fail(c, i, "',' or '}' expected");
        if ((rc = check_sorted_keys(c)) != MH_OK)
            return rc;
    } else if (s[i] != ']') {
        return fail(c, i, "',' or ']' expected");
    }
    pop(c);
    i++;
    goto after;

name:
    /* At a non-space byte or the end. */
    if (i == n)
        return fail(c, i, "unexpected end of input");
    if (s[i] != '"')
        return fail(c, i, "string expected as an object member name");
    {
        size_t at = i;
        if ((rc = scan_string(c, &i, next_key(c))) != MH_OK)
            return rc;
        if ((rc = add_key(c, at)) != MH_OK)
            return rc;
    }
    i = skip_space(s, n, i);
    if (i == n)
        return fail(c, i, "unexpected end of input");
    if (s[i] != ':')
        return fail(c, i, "':' expected");
    i++;
    goto value;
}

static enum mh_err push(struct checker *c, bool is_object, size_t at)
{
    if (c->depth == MH_INTAKE__JSON_MAX_DEPTH)
        return fail(c, at,
                    "nested deeper than " STR(MH_INTAKE__JSON_MAX_DEPTH) " arrays and objects");
    if (c->depth == c->frame_cap)
        c->frames = grow(c->frames, c->frame_buf, &c->frame_cap, sizeof(*c->frames));
    struct frame *f = &c->frames[c->depth++];
    f->is_object = is_object;
    f->key_base = c->nkeys;
    return MH_OK;
}

/* Doubles a stack of `*cap` items held in `inline_buf` (moving it to the heap) or already on
 * the heap, and returns where it now is. Kept out of push() and next_key() so that those stay
 * small enough to inline. */
__attribute__((noinline)) static void *grow(void *items, const void *inline_buf, size_t *cap,
                                            size_t size)
{
    void *out;
    if (items == inline_buf) {
        out = mh_xmalloc(2 * *cap * size);
        memcpy(out, inline_buf, *cap * size);
    } else {
        out = mh_xrealloc(items, 2 * *cap * size);
    }
    *cap *= 2;
    return out;
}

static void pop(struct checker *c)
{
    const struct frame *f = &c->frames[--c->depth];
    if (f->is_object)
        c->nkeys = f->key_base;
}

static size_t skip_space(const unsigned char *s, size_t n, size_t i)
{
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
        i++;
    return i;
}

/* The first byte at or after `i` that is not plain string text (n when none). */
static size_t skip_plain(const unsigned char *s, size_t n, size_t i)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Eight bytes at a time: a byte is flagged when it is below 0x20, '"', '\' or above 0x7f.
     * Borrows can flag bytes above a flagged one, never below, so the lowest flag is exact. */
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    while (n - i >= 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
        uint64_t flags =
            (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b) | w) & highs;
        if (flags != 0)
            return i + ((size_t)__builtin_ctzll(flags) >> 3);
        i += 8;
    }
#endif
    while (i < n && is_plain[s[i]])
        i++;
    return i;
}

/* The value of the four hex digits at s[i], or -1. */
static int hex4(const unsigned char *s, size_t n, size_t i)
{
    if (n - i < 4)
        return -1;
    int v = 0;
    for (size_t k = i; k < i + 4; k++) {
        unsigned char h = s[k];
        int d;
        if (h >= '0' && h <= '9')
            d = h - '0';
        else if (h >= 'a' && h <= 'f')
            d = h - 'a' + 10;
        else if (h >= 'A' && h <= 'F')
            d = h - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Checks the string whose opening quote is at *pos and leaves *pos after its closing quote.
 * With `k`, describes it as a member name. */
static enum mh_err scan_string(struct checker *c, size_t *pos, struct key *k)
{
    const unsigned char *s = c->s;
    size_t n = c->n, start = *pos + 1, i = start;
    size_t saved = 0; /* bytes that unescaping removes */
    for (;;) {
        i = skip_plain(s, n, i);
        if (i == n)
            return fail(c, i, "unterminated string");
        unsigned char b = s[i];
        if (b == '"')
            break;
        if (b >= 0x80) {
            size_t len = mh_text_utf8_len(s + i, n - i); /* what jansson refuses too */
            if (len == 0)
                return fail(c, i, "invalid UTF-8");
            i += len;
            continue;
        }
        if (b < 0x20)
            return fail(c, i, "control character in a string");
        /* A backslash. */
        size_t at = i++;
        if (i == n)
            return fail(c, i, "unterminated string");
        switch (s[i]) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            i++;
            saved += 1;
            continue;
        case 'u': break;
        default: return fail(c, at, "invalid escape");
        }
        int cp = hex4(s, n, i + 1);
        if (cp < 0)
            return fail(c, at, "invalid \\u escape");
        i += 5;
        if (cp == 0)
            return fail(c, at, "\\u0000 is not allowed");
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(c, at, "unpaired surrogate escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (n - i < 2 || s[i] != '\\' || s[i + 1] != 'u')
                return fail(c, at, "unpaired surrogate escape");
            int lo = hex4(s, n, i + 2);
            if (lo < 0)
                return fail(c, i, "invalid \\u escape");
            if (lo < 0xDC00 || lo > 0xDFFF)
                return fail(c, at, "unpaired surrogate escape");
            i += 6;
            saved += 12 - 4;
        } else {
            saved += 6 - (cp < 0x80 ? 1 : cp < 0x800 ? 2 : 3);
        }
    }
    if (k != NULL) {
        k->start = start;
        k->raw_len = i - start;
        k->len = k->raw_len - saved;
        k->has_escape = saved > 0; /* every escape is longer than what it stands for */
    }
    *pos = i + 1;
    return MH_OK;
}

/* Checks the number at *pos and leaves *pos after it. jansson's grammar is RFC 8259's; an
 * integer (no fraction, no exponent) must fit in a long long, a real must not overflow. */
static enum mh_err scan_number(const struct checker *c, size_t *pos)
{
    const unsigned char *s = c->s;
    size_t n = c->n, start = *pos, i = start;
    bool is_negative = s[i] == '-';
    if (is_negative)
        i++;
    size_t int_start = i;
    if (i == n || s[i] < '0' || s[i] > '9')
        return fail(c, start, "invalid number");
    if (s[i] == '0') {
        i++;
        if (i < n && s[i] >= '0' && s[i] <= '9')
            return fail(c, start, "invalid number: leading zero");
    } else {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    size_t int_end = i;
    if (i == n || (s[i] != '.' && s[i] != 'e' && s[i] != 'E')) {
        size_t digits = int_end - int_start;
        if (digits > 19 ||
            (digits == 19 &&
             memcmp(s + int_start, is_negative ? "9223372036854775808" : "9223372036854775807",
                    19) > 0))
            return fail(c, start, is_negative ? "too big negative integer" : "too big integer");
        *pos = i;
        return MH_OK;
    }
    size_t frac_start = i, frac_end = i;
    if (s[i] == '.') {
        i++;
        if (i == n || s[i] < '0' || s[i] > '9')
            return fail(c, start, "invalid number");
        frac_start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        frac_end = i;
    }
    /* Saturated far beyond any digit count a body can have, so the sign of what
     * real_overflows() computes from it stays right. */
    int64_t exp = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        bool is_exp_negative = false;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            is_exp_negative = s[i++] == '-';
        if (i == n || s[i] < '0' || s[i] > '9')
            return fail(c, start, "invalid number");
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (exp < INT64_C(100000000000000000))
                exp = exp * 10 + (s[i] - '0');
            i++;
        }
        if (is_exp_negative)
            exp = -exp;
    }
    if (real_overflows(s, int_start, int_end, frac_start, frac_end, exp))
        return fail(c, start, "real number overflow");
    *pos = i;
    return MH_OK;
}

/*
 * Whether strtod() overflows on the digits s[int_start..int_end) '.' s[frac_start..frac_end)
 * times 10^exp. Written as 0.DDD × 10^k with D the significant digits, the value is below
 * 10^308 < DBL_MAX when k ≤ 308 and at least 10^309 when k ≥ 310; only k = 309 needs the
 * digits compared with real_limit. No strtod(), so no copy and no dependence on the locale.
 */
static bool real_overflows(const unsigned char *s, size_t int_start, size_t int_end,
                           size_t frac_start, size_t frac_end, int64_t exp)
{
    size_t first; /* the first significant digit */
    int64_t k;
    if (s[int_start] != '0') {
        first = int_start;
        k = (int64_t)(int_end - int_start) + exp;
    } else {
        first = frac_start;
        while (first < frac_end && s[first] == '0')
            first++;
        if (first == frac_end)
            return false; /* zero */
        k = exp - (int64_t)(first - frac_start);
    }
    if (k != 309)
        return k > 309;
    size_t d = 0; /* digits compared with real_limit */
    for (size_t i = first; i < frac_end; i++) {
        if (i == int_end && i < frac_start) {
            i = frac_start; /* skip the '.' */
            if (i == frac_end)
                break;
        }
        unsigned char digit = s[i];
        if (d < sizeof(real_limit) - 1) {
            if (digit != (unsigned char)real_limit[d])
                return digit > (unsigned char)real_limit[d];
            d++;
        } else if (digit != '0') {
            return true;
        }
    }
    /* All digits matched: equal to the limit when it is used up (and the tie overflows), below
     * it otherwise (its last digit is not 0). */
    return d == sizeof(real_limit) - 1;
}

/* The free slot on top of the name stack, for scan_string() to describe a name in. Written in
 * place rather than copied: a copy right after the field-by-field writes stalls on store
 * forwarding, which cost a quarter of the time of a typical body. */
static struct key *next_key(struct checker *c)
{
    if (c->nkeys == c->key_cap)
        c->keys = grow(c->keys, c->key_buf, &c->key_cap, sizeof(*c->keys));
    return &c->keys[c->nkeys];
}

/* Pushes the name next_key() holds (its opening quote at `at`) onto the innermost object. While
 * the object is small, refuses the name when an earlier one is the same once unescaped; past
 * that, check_sorted_keys() does it when the object closes. */
static enum mh_err add_key(struct checker *c, size_t at)
{
    const struct key *k = &c->keys[c->nkeys];
    size_t base = c->frames[c->depth - 1].key_base;
    if (c->nkeys - base < SMALL_OBJECT_KEYS)
        for (size_t j = base; j < c->nkeys; j++)
            if (c->keys[j].len == k->len && key_compare(c->s, &c->keys[j], k) == 0)
                return fail(c, at, "duplicate object key");
    c->nkeys++;
    return MH_OK;
}

/*
 * Refuses the innermost object, about to close, when it has more than SMALL_OBJECT_KEYS names
 * and two of them are the same once unescaped. Its names are sorted in place (they are dropped
 * next), so equal ones become neighbours in the order they came, and the error is at the
 * earliest second occurrence, as add_key() would have found it. glibc's qsort_r() is a merge
 * sort, n log n at worst; it falls back to a quicksort only when its buffer (as big as the
 * names) would take more than a quarter of the machine's memory or cannot be allocated.
 */
static enum mh_err check_sorted_keys(struct checker *c)
{
    size_t base = c->frames[c->depth - 1].key_base, count = c->nkeys - base;
    struct key *k = &c->keys[base];
    if (count <= SMALL_OBJECT_KEYS)
        return MH_OK;
    qsort_r(k, count, sizeof(*k), key_order, c);
    size_t dup = SIZE_MAX;
    for (size_t j = 1; j < count; j++)
        if (k[j].start < dup && k[j].len == k[j - 1].len &&
            key_compare(c->s, &k[j - 1], &k[j]) == 0)
            dup = k[j].start;
    return dup == SIZE_MAX ? MH_OK : fail(c, dup - 1, "duplicate object key");
}

/* qsort_r() order of names: unescaped bytes, then position. */
static int key_order(const void *a, const void *b, void *c)
{
    const struct key *ka = a, *kb = b;
    int d = key_compare(((const struct checker *)c)->s, ka, kb);
    return d != 0 ? d : (ka->start > kb->start) - (ka->start < kb->start);
}

/* Decodes the escape at p (valid, as scan_string checked) into its UTF-8 bytes; returns their
 * count and sets *advance to the escape's length. */
static size_t unescape(const unsigned char *p, unsigned char out[4], size_t *advance)
{
    static const unsigned char simple[][2] = {{'"', '"'},  {'\\', '\\'}, {'/', '/'},  {'b', '\b'},
                                              {'f', '\f'}, {'n', '\n'},  {'r', '\r'}, {'t', '\t'}};
    if (p[1] != 'u') {
        *advance = 2;
        for (size_t j = 0; j < MH_ARRAY_LEN(simple); j++)
            if (simple[j][0] == p[1])
                out[0] = simple[j][1];
        return 1;
    }
    uint32_t cp = (uint32_t)hex4(p, 6, 2);
    *advance = 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(p, 12, 8) - 0xDC00);
        *advance = 12;
    }
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xC0 | (cp >> 6));
        out[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xE0 | (cp >> 12));
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (unsigned char)(0xF0 | (cp >> 18));
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

/* The unescaped bytes of a name, one at a time. */
struct unescaper {
    const unsigned char *p, *end;
    unsigned char buf[4];
    size_t nbuf, ibuf;
};

static int unescaper_next(struct unescaper *u)
{
    if (u->ibuf < u->nbuf)
        return u->buf[u->ibuf++];
    if (u->p == u->end)
        return -1;
    if (*u->p != '\\')
        return *u->p++;
    size_t advance;
    u->nbuf = unescape(u->p, u->buf, &advance);
    u->p += advance;
    u->ibuf = 1;
    return u->buf[0];
}

/* Compares two names by their unescaped bytes, as memcmp() would with a shorter name first. */
static int key_compare(const unsigned char *s, const struct key *a, const struct key *b)
{
    if (!a->has_escape && !b->has_escape) {
        int d = memcmp(s + a->start, s + b->start, a->len < b->len ? a->len : b->len);
        return d != 0 ? d : (a->len > b->len) - (a->len < b->len);
    }
    struct unescaper ua = {s + a->start, s + a->start + a->raw_len, {0}, 0, 0};
    struct unescaper ub = {s + b->start, s + b->start + b->raw_len, {0}, 0, 0};
    for (;;) {
        int x = unescaper_next(&ua), y = unescaper_next(&ub);
        if (x != y || x < 0)
            return x - y;
    }
}
