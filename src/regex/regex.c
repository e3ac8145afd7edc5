/* SPDX-License-Identifier: MIT */
/*
 * A thin, bounded wrapper over PCRE2 (8-bit, UTF mode). Patterns compile once, JIT-compiled when
 * available, into an immutable object shared by all threads; each match call brings its own match
 * data. PCRE2's match, depth and heap limits stop catastrophic backtracking at one start
 * position; a callout planted at the start of the pattern checks a wall-clock budget at every
 * start position, which bounds a whole scan of a long subject as well.
 */
#include "regex/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/mem.h"

struct mh_regex {
    pcre2_code *code;
    pcre2_match_context *mctx; /* limits; read-only once compiled */
    uint32_t ngroups;
    uint32_t max_total_ms;
};

/* Per-call state of the wall-clock budget, reached from the callout. */
struct budget {
    struct timespec deadline;
    uint32_t calls;
    bool enabled;
    bool expired;
};

/* The callout number we plant; a pattern's own callouts reach the same function harmlessly. */
#define BUDGET_CALLOUT     "(?C255)"
#define BUDGET_CALLOUT_LEN (sizeof(BUDGET_CALLOUT) - 1)

static enum mh_err translate_ecma(const char *pattern, size_t len, struct mh_buf *out);
static size_t leading_verbs_len(const char *pattern, size_t len);
static int budget_callout(pcre2_callout_block *block, void *data);
static void budget_start(struct budget *b, uint32_t max_total_ms);
static enum mh_err run_match(const struct mh_regex *re, const char *subject, size_t len,
                             size_t start, uint32_t options, pcre2_match_data *md, struct budget *b,
                             bool *matched);
static size_t next_code_point(const char *s, size_t len, size_t pos);

/*
 * ECMA-262 long general-category names and their PCRE2 short names. PCRE2 10.42 knows script
 * names in both forms but general categories only by their short names.
 */
static const struct {
    const char *ecma;
    const char *pcre;
} gc_names[] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"LC", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Combining_Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

static bool has_prefix(const char *s, size_t len, const char *prefix);
static enum mh_err append_property(struct mh_buf *out, const char *name, size_t n);
static void copy_groups(pcre2_match_data *md, struct mh_regex_span *groups, size_t ngroups);

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/*
 * Rewrites the body of a \p{...} or \P{...} escape from ECMA-262 to PCRE2 spelling. `name` is
 * the text between the braces.
 */
static enum mh_err append_property(struct mh_buf *out, const char *name, size_t n)
{
    bool is_gc = false;
    if (has_prefix(name, n, "General_Category=")) {
        name += 17;
        n -= 17;
        is_gc = true;
    } else if (has_prefix(name, n, "gc=")) {
        name += 3;
        n -= 3;
        is_gc = true;
    } else if (has_prefix(name, n, "Script_Extensions=")) {
        name += 18;
        n -= 18;
    } else if (has_prefix(name, n, "Script=")) {
        name += 7;
        n -= 7;
    } else if (has_prefix(name, n, "scx=")) {
        name += 4;
        n -= 4;
    } else if (has_prefix(name, n, "sc=")) {
        name += 3;
        n -= 3;
    } else {
        is_gc = true; /* A lone name is a general category or a binary property. */
    }
    if (is_gc) {
        for (size_t i = 0; i < MH_ARRAY_LEN(gc_names); i++) {
            if (strlen(gc_names[i].ecma) == n && memcmp(gc_names[i].ecma, name, n) == 0)
                return mh_buf_append_str(out, gc_names[i].pcre);
        }
    }
    return mh_buf_append(out, name, n);
}

static enum mh_err translate_ecma(const char *pattern, size_t len, struct mh_buf *out)
{
    enum mh_err rc = MH_OK;
    size_t i = 0;
    while (i < len && rc == MH_OK) {
        if (pattern[i] != '\\' || i + 1 >= len) {
            rc = mh_buf_append(out, pattern + i, 1);
            i++;
            continue;
        }
        char c = pattern[i + 1];
        if ((c == 'p' || c == 'P') && i + 2 < len && pattern[i + 2] == '{') {
            const char *close = memchr(pattern + i + 3, '}', len - (i + 3));
            if (close != NULL) {
                const char *name = pattern + i + 3;
                rc = mh_buf_append(out, pattern + i, 3);
                if (rc == MH_OK)
                    rc = append_property(out, name, (size_t)(close - name));
                if (rc == MH_OK)
                    rc = mh_buf_append(out, "}", 1);
                i = (size_t)(close - pattern) + 1;
                continue;
            }
        }
        /* Any other escape is copied whole, so "\\p{x}" (an escaped backslash) stays as it is. */
        rc = mh_buf_append(out, pattern + i, 2);
        i += 2;
    }
    return rc;
}

/* Start-of-pattern items such as (*UTF) or (*LIMIT_MATCH=10) must stay first. */
static size_t leading_verbs_len(const char *pattern, size_t len)
{
    size_t i = 0;
    while (i + 1 < len && pattern[i] == '(' && pattern[i + 1] == '*') {
        const char *close = memchr(pattern + i, ')', len - i);
        if (close == NULL)
            break;
        i = (size_t)(close - pattern) + 1;
    }
    return i;
}

enum mh_err mh_regex_compile(const char *pattern, size_t len, unsigned flags,
                             const struct mh_regex_limits *limits, struct mh_regex **out,
                             struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_buf src;
    pcre2_compile_context *cctx = NULL;
    struct mh_regex *re = NULL;
    const unsigned known = MH_REGEX_CASELESS | MH_REGEX_MULTILINE | MH_REGEX_DOTALL | MH_REGEX_ECMA;

    mh_buf_init(&src, 4 * (size_t)MH_REGEX_MAX_PATTERN_BYTES);
    *out = NULL;
    if (flags & ~known) {
        rc = mh_err_set(info, MH_EINVAL, "regex", -1, "unknown regex flags 0x%x", flags & ~known);
        goto out;
    }
    if (len > MH_REGEX_MAX_PATTERN_BYTES) {
        rc = mh_err_set(info, MH_ETOOBIG, "regex", -1, "pattern longer than %u bytes",
                        MH_REGEX_MAX_PATTERN_BYTES);
        goto out;
    }

    struct mh_regex_limits lim = {0};
    if (limits != NULL)
        lim = *limits;
    else
        lim.max_total_ms = MH_REGEX_DEFAULT_MAX_TOTAL_MS;
    if (lim.match_limit == 0)
        lim.match_limit = MH_REGEX_DEFAULT_MATCH_LIMIT;
    if (lim.depth_limit == 0)
        lim.depth_limit = MH_REGEX_DEFAULT_DEPTH_LIMIT;
    if (lim.heap_limit_kib == 0)
        lim.heap_limit_kib = MH_REGEX_DEFAULT_HEAP_LIMIT_KIB;

    /* Build the source PCRE2 sees: leading verbs, the budget callout, then the pattern. */
    size_t verbs = leading_verbs_len(pattern, len);
    size_t inserted = 0;
    rc = mh_buf_append(&src, pattern, verbs);
    if (rc == MH_OK && lim.max_total_ms > 0) {
        rc = mh_buf_append(&src, BUDGET_CALLOUT, BUDGET_CALLOUT_LEN);
        inserted = BUDGET_CALLOUT_LEN;
    }
    if (rc == MH_OK) {
        if (flags & MH_REGEX_ECMA)
            rc = translate_ecma(pattern + verbs, len - verbs, &src);
        else
            rc = mh_buf_append(&src, pattern + verbs, len - verbs);
    }
    if (rc != MH_OK) {
        rc = mh_err_set(info, MH_ETOOBIG, "regex", -1, "pattern too long");
        goto out;
    }

    uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    uint32_t extra = 0;
    if (flags & MH_REGEX_CASELESS)
        options |= PCRE2_CASELESS;
    if (flags & MH_REGEX_MULTILINE)
        options |= PCRE2_MULTILINE;
    if (flags & MH_REGEX_DOTALL)
        options |= PCRE2_DOTALL;
    if (flags & MH_REGEX_ECMA) {
        options |= PCRE2_DOLLAR_ENDONLY | PCRE2_ALT_BSUX | PCRE2_MATCH_UNSET_BACKREF |
                   PCRE2_ALLOW_EMPTY_CLASS;
        extra |= PCRE2_EXTRA_ALT_BSUX;
    }
    cctx = pcre2_compile_context_create(NULL);
    if (cctx == NULL) {
        rc = MH_ENOMEM;
        goto out;
    }
    pcre2_set_compile_extra_options(cctx, extra);

    re = mh_xcalloc(1, sizeof(*re));
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    re->code = pcre2_compile((PCRE2_SPTR)mh_buf_str(&src), mh_buf_len(&src), options, &errcode,
                             &erroff, cctx);
    if (re->code == NULL) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", errcode);
        /* Report the offset in the caller's pattern, not in our rewritten one. */
        long off = (long)erroff;
        if (inserted && erroff >= verbs + inserted)
            off -= (long)inserted;
        if (off > (long)len)
            off = (long)len;
        rc = mh_err_set(info, MH_EINVAL, "regex", off, "invalid regex at offset %ld: %s", off,
                        (const char *)msg);
        goto out;
    }
    (void)pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
    /* JIT is an optimisation: when it fails (a platform without it), pcre2_match runs the
     * interpreter, so its result changes nothing. */
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);

    re->mctx = pcre2_match_context_create(NULL);
    if (re->mctx == NULL) {
        rc = MH_ENOMEM;
        goto out;
    }
    pcre2_set_match_limit(re->mctx, lim.match_limit);
    pcre2_set_depth_limit(re->mctx, lim.depth_limit);
    pcre2_set_heap_limit(re->mctx, lim.heap_limit_kib);
    re->max_total_ms = lim.max_total_ms;
    *out = re;
    re = NULL;

out:
    mh_regex_destroy(re);
    pcre2_compile_context_free(cctx);
    mh_buf_cleanup(&src);
    return rc;
}

void mh_regex_destroy(struct mh_regex *re)
{
    if (re == NULL)
        return;
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

uint32_t mh_regex_group_count(const struct mh_regex *re)
{
    return re->ngroups;
}

int mh_regex_group_index(const struct mh_regex *re, const char *name)
{
    int n = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
    return n > 0 ? n : -1;
}

static void budget_start(struct budget *b, uint32_t max_total_ms)
{
    memset(b, 0, sizeof(*b));
    if (max_total_ms == 0)
        return;
    b->enabled = true;
    clock_gettime(CLOCK_MONOTONIC, &b->deadline);
    b->deadline.tv_sec += max_total_ms / 1000;
    b->deadline.tv_nsec += (long)(max_total_ms % 1000) * 1000000L;
    if (b->deadline.tv_nsec >= 1000000000L) {
        b->deadline.tv_sec++;
        b->deadline.tv_nsec -= 1000000000L;
    }
}

static int budget_callout(pcre2_callout_block *block, void *data)
{
    (void)block;
    struct budget *b = data;
    /* Reading the clock at every start position would dominate cheap scans. */
    if ((++b->calls & 63u) != 0)
        return 0;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > b->deadline.tv_sec ||
        (now.tv_sec == b->deadline.tv_sec && now.tv_nsec >= b->deadline.tv_nsec)) {
        b->expired = true;
        return PCRE2_ERROR_CALLOUT;
    }
    return 0;
}

/*
 * One pcre2_match call with the regex's limits. A JIT stack overflow is retried once by the
 * interpreter, which works on the heap within heap_limit_kib.
 */
static enum mh_err run_match(const struct mh_regex *re, const char *subject, size_t len,
                             size_t start, uint32_t options, pcre2_match_data *md, struct budget *b,
                             bool *matched)
{
    enum mh_err rc = MH_OK;
    pcre2_match_context *mctx = re->mctx;
    pcre2_match_context *own = NULL;

    *matched = false;
    if (b->enabled) {
        own = pcre2_match_context_copy(re->mctx);
        if (own == NULL) {
            rc = MH_ENOMEM;
            goto out;
        }
        pcre2_set_callout(own, budget_callout, b);
        mctx = own;
    }
    /* PCRE2 wants a non-NULL subject even when it is empty. */
    PCRE2_SPTR subj = (PCRE2_SPTR)(subject ? subject : "");
    int r = pcre2_match(re->code, subj, len, start, options, md, mctx);
    if (r == PCRE2_ERROR_JIT_STACKLIMIT)
        r = pcre2_match(re->code, subj, len, start, options | PCRE2_NO_JIT, md, mctx);
    if (r >= 0) {
        *matched = true;
    } else if (r == PCRE2_ERROR_NOMATCH) {
        rc = MH_OK;
    } else if (r == PCRE2_ERROR_MATCHLIMIT || r == PCRE2_ERROR_DEPTHLIMIT ||
               r == PCRE2_ERROR_HEAPLIMIT || r == PCRE2_ERROR_JIT_STACKLIMIT ||
               r == PCRE2_ERROR_CALLOUT) {
        rc = MH_ELIMIT;
    } else if (r == PCRE2_ERROR_NOMEMORY) {
        rc = MH_ENOMEM;
    } else {
        rc = MH_EINVAL;
    }

out:
    pcre2_match_context_free(own);
    return rc;
}

static void copy_groups(pcre2_match_data *md, struct mh_regex_span *groups, size_t ngroups)
{
    uint32_t pairs = pcre2_get_ovector_count(md);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (size_t i = 0; i < ngroups; i++) {
        if (i < pairs && ov[2 * i] != PCRE2_UNSET) {
            groups[i].start = ov[2 * i];
            groups[i].end = ov[2 * i + 1];
        } else {
            groups[i].start = MH_REGEX_UNSET;
            groups[i].end = MH_REGEX_UNSET;
        }
    }
}

enum mh_err mh_regex_search(const struct mh_regex *re, const char *subject, size_t len,
                            size_t start, struct mh_regex_span *groups, size_t ngroups,
                            bool *matched)
{
    enum mh_err rc = MH_OK;
    pcre2_match_data *md = NULL;
    struct budget b;

    *matched = false;
    if (start > len) {
        rc = MH_EINVAL;
        goto out;
    }
    md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL) {
        rc = MH_ENOMEM;
        goto out;
    }
    budget_start(&b, re->max_total_ms);
    rc = run_match(re, subject, len, start, 0, md, &b, matched);
    if (rc == MH_OK && *matched && groups != NULL)
        copy_groups(md, groups, ngroups);

out:
    pcre2_match_data_free(md);
    return rc;
}

enum mh_err mh_regex_test(const struct mh_regex *re, const char *subject, size_t len, bool *matched)
{
    return mh_regex_search(re, subject, len, 0, NULL, 0, matched);
}

/* The offset of the code point after the one at `pos` (invalid bytes count as one each). */
static size_t next_code_point(const char *s, size_t len, size_t pos)
{
    pos++;
    while (pos < len && ((unsigned char)s[pos] & 0xC0) == 0x80)
        pos++;
    return pos;
}

enum mh_err mh_regex_find_all(const struct mh_regex *re, const char *subject, size_t len,
                              uint32_t group, size_t max_matches, struct mh_regex_span **spans,
                              size_t *count)
{
    enum mh_err rc = MH_OK;
    pcre2_match_data *md = NULL;
    struct mh_regex_span *arr = NULL;
    size_t n = 0, cap = 0;
    struct budget b;

    *spans = NULL;
    *count = 0;
    if (group > re->ngroups) {
        rc = MH_EINVAL;
        goto out;
    }
    md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (md == NULL) {
        rc = MH_ENOMEM;
        goto out;
    }
    budget_start(&b, re->max_total_ms);
    size_t pos = 0;
    uint32_t options = 0;
    while (pos <= len) {
        bool matched = false;
        rc = run_match(re, subject, len, pos, options, md, &b, &matched);
        if (rc != MH_OK)
            goto out;
        if (!matched) {
            if (options == 0)
                break;
            /* No non-empty match at the spot of an empty one: move on one code point. */
            options = 0;
            pos = next_code_point(subject, len, pos);
            continue;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t ms = ov[0], me = ov[1];
        if (me <= ms) {
            /*
             * An empty match (or \K past the end): retry here for a non-empty one, as Perl and
             * pcre2demo do, instead of skipping a character that could start a real match.
             */
            pos = me > ms ? me : ms;
            if (pos >= len)
                break;
            options = PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
            continue;
        }
        options = 0;
        if (ov[2 * group] != PCRE2_UNSET) {
            if (n == max_matches) {
                rc = MH_ETOOBIG;
                goto out;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                arr = mh_xrealloc(arr, cap * sizeof(*arr));
            }
            arr[n].start = ov[2 * group];
            arr[n].end = ov[2 * group + 1];
            n++;
        }
        pos = me;
    }
    *spans = arr;
    *count = n;
    arr = NULL;

out:
    free(arr);
    pcre2_match_data_free(md);
    return rc;
}
