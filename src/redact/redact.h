/* SPDX-License-Identifier: MIT */
/*
 * PII and secret redaction for logs, streamed events and stored artifacts (docs/architecture.md
 * §8). Two tools:
 *
 *  - a redactor: built-in rules (e-mail, phone, payment card with Luhn, IBAN with mod-97, US SSN,
 *    bearer tokens, JWTs, API keys and "key=value" secrets) plus per-project custom PCRE2
 *    patterns; each match becomes "[redacted:<rule>]";
 *  - a secret replacer: replaces every occurrence of known secret values (a project's secrets,
 *    resolved for an http_call) with "[secret:<NAME>]", longest value first.
 *
 * Both are built once and are immutable afterwards: any number of threads may use one at once.
 *
 * Ownership: create functions copy everything they are given (patterns, names, values) and
 * return a new object the caller frees with the matching destroy (NULL-tolerant; the secret
 * replacer wipes its copies of the values). String functions borrow their input and return a new
 * NUL-terminated malloc'd string the caller free()s. JSON functions borrow their input and return
 * a new value (a deep copy with strings replaced; object keys are never changed) the caller
 * json_decref()s. Stats, when given, are added to, not reset.
 *
 * Custom patterns and limits: a custom pattern runs under src/regex's limits (backtracking steps
 * per start position and a wall-clock budget per string). When a custom pattern hits a limit on
 * a string, that rule's result for the string is unknown, so the string is treated
 * conservatively: it is replaced as a whole by "[redacted:<rule>]", the call still succeeds,
 * and the failure is counted in the stats (`limit_failures`, `failed_rule`). Nothing is ever
 * passed through unscanned. Built-in rules are written to match in linear time.
 */
#ifndef MH_REDACT_H
#define MH_REDACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Built-in rules; the replacement label of each is in parentheses. */
#define MH_REDACT_EMAIL (1u << 0) /* (email) local@domain.tld */
/*
 * (phone) "+" and 8-15 digits with optional separators (E.164 and international formats), or a
 * national number with separators: (555) 123-4567, 555-123-4567, 020 7946 0958, 06 12 34 56 78.
 * A bare run of digits is never a phone number (it is an id, an amount or a timestamp).
 */
#define MH_REDACT_PHONE (1u << 1)
/* (card) 13-19 digits, optionally grouped by spaces or dashes, passing the Luhn check. */
#define MH_REDACT_CARD (1u << 2)
/* (iban) two letters, two check digits, up to 30 letters/digits, passing the mod-97 check. */
#define MH_REDACT_IBAN (1u << 3)
/* (ssn) ###-##-#### with a valid area (not 000, 666 or 9xx), group (not 00), serial (not 0000). */
#define MH_REDACT_SSN (1u << 4)
/* (bearer) the token after "Bearer " (the scheme word is kept). */
#define MH_REDACT_BEARER (1u << 5)
/* (jwt) three base64url segments, the first starting with "eyJ". */
#define MH_REDACT_JWT (1u << 6)
/*
 * (api_key) known key shapes: Stripe sk_/rk_ live/test keys and whsec_ webhook secrets, GitHub
 * ghp_/gho_/ghs_/ghu_/ghr_ tokens and github_pat_, AWS AKIA/ASIA key ids, Slack xox[bpars]-,
 * Google AIza keys, sk-... keys. (secret) the value of a "name=value" or "name: value" pair whose
 * name is api_key, secret, token, password and the like; in JSON, the whole scalar value of a
 * member with such a name (and of "authorization", "cookie").
 */
#define MH_REDACT_API_KEY (1u << 7)
#define MH_REDACT_ALL     0xffu

/* Most custom patterns per redactor, and the longest rule name. */
#define MH_REDACT_MAX_CUSTOM   64u
#define MH_REDACT_MAX_NAME_LEN 32u
/* Wall-clock budget per string for custom patterns when the config leaves it 0. */
#define MH_REDACT_DEFAULT_BUDGET_MS 100u

/*
 * A per-project pattern. `name` ([a-z0-9_-], 1-32 bytes) is the label in "[redacted:<name>]".
 * `pattern` is PCRE2 syntax in UTF mode; when it has a capture group named "redact", only that
 * group is replaced (e.g. "order-pin=(?<redact>\d+)"), otherwise the whole match.
 */
struct mh_redact_pattern {
    const char *name;
    const char *pattern;
};

struct mh_redact_config {
    unsigned rules; /* MH_REDACT_* bits */
    const struct mh_redact_pattern *custom;
    size_t ncustom;
    /* Limits for custom patterns; 0 fields take src/regex's defaults, except max_total_ms
     * which takes MH_REDACT_DEFAULT_BUDGET_MS. */
    uint32_t custom_match_limit;
    uint32_t custom_max_total_ms;
};

struct mh_redact_stats {
    size_t redactions;     /* spans replaced */
    size_t limit_failures; /* strings replaced whole because a custom rule hit a limit */
    char failed_rule[MH_REDACT_MAX_NAME_LEN + 1]; /* the first such rule, "" when none */
};

struct mh_redactor;

/*
 * Builds a redactor. Errors: MH_EINVAL with `info` for unknown rule bits, a bad name (kind
 * "redact", path "custom/<i>/name") or a pattern that does not compile (path
 * "custom/<i>/pattern", offset = byte offset in the pattern); MH_ETOOBIG for more than
 * MH_REDACT_MAX_CUSTOM patterns or a pattern over src/regex's size limit.
 */
MH_MUSTCHECK enum mh_err mh_redact_create(const struct mh_redact_config *cfg,
                                          struct mh_redactor **out, struct mh_err_info *info);
void mh_redact_destroy(struct mh_redactor *r);

/*
 * Redacts `len` bytes of `s` (UTF-8; invalid bytes are copied through) into a new string in
 * `*out` (its length in `*out_len` when non-NULL). Errors: MH_EINVAL for NULL arguments; on
 * error `*out` is NULL.
 */
MH_MUSTCHECK enum mh_err mh_redact_string(const struct mh_redactor *r, const char *s, size_t len,
                                          char **out, size_t *out_len,
                                          struct mh_redact_stats *stats);

/*
 * Redacts every string inside `in`, recursively (object keys unchanged), into a new value. An
 * integer or real whose text contains a match (a card number sent as a JSON number) becomes the
 * redacted string. Nesting deeper than 512 levels is replaced by "[redacted:depth]".
 */
MH_MUSTCHECK enum mh_err mh_redact_json(const struct mh_redactor *r, json_t *in, json_t **out,
                                        struct mh_redact_stats *stats);

/* ---- credential headers (headers.c) ---- */

/* What a credential header's value is replaced with. */
#define MH_REDACT_HEADER_MASK "[redacted]"

/*
 * Whether an HTTP header named `name` (any case) carries a credential or a signature, so its
 * value must be neither recorded nor shown: a name with a word (between '-' or '_') among
 * authorization, cookie, token, signature, secret, password, passwd, apikey and hmac
 * (Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Gitlab-Token, X-Hub-Signature-256,
 * Stripe-Signature, webhook-signature, X-Shopify-Hmac-Sha256), or ending in "<qualifier>-key"
 * with qualifier api, access, secret, private, auth, client or signing (X-Api-Key). A bare
 * "-key" is not secret: Idempotency-Key identifies a delivery. Pure; any thread.
 */
bool mh_redact_header_is_secret(const char *name);

/*
 * `in` with the value of every credential header (mh_redact_header_is_secret) of every object
 * member named "headers" (any case), at any depth, replaced by MH_REDACT_HEADER_MASK. Returns a
 * new reference: `in` itself when nothing needed masking (the common case costs one walk and
 * no copy), else a masked deep copy; NULL for NULL. `*count` (optional) receives the number of
 * values masked. Dies on OOM, like the JSON walker.
 */
json_t *mh_redact_headers_json(json_t *in, size_t *count);

/* ---- exact-value secret replacement ---- */

/*
 * A secret: `value` is `value_len` bytes (may contain NUL). Values shorter than
 * MH_REDACT_SECRET_MIN_LEN bytes are ignored: replacing every "a" or "42" in a text would
 * destroy it while hiding nothing a guesser could not try.
 */
struct mh_redact_secret {
    const char *name;
    const char *value;
    size_t value_len;
};

#define MH_REDACT_SECRET_MIN_LEN 4u

struct mh_redact_secrets;

/*
 * Copies `n` secrets. Names must be 1-64 bytes of [A-Za-z0-9_.-] (MH_EINVAL with `info`
 * otherwise). When two secrets share a value, the first given names it.
 */
MH_MUSTCHECK enum mh_err mh_redact_secrets_create(const struct mh_redact_secret *secrets, size_t n,
                                                  struct mh_redact_secrets **out,
                                                  struct mh_err_info *info);
/* Wipes the copied values and frees; NULL-tolerant. */
void mh_redact_secrets_destroy(struct mh_redact_secrets *sr);

/*
 * Replaces every occurrence of every secret value in `len` bytes of `s` with "[secret:NAME]",
 * scanning left to right and trying longer values first at each position. `*out` is new.
 * `*count` (optional) is set to the number of replacements.
 */
MH_MUSTCHECK enum mh_err mh_redact_secrets_string(const struct mh_redact_secrets *sr, const char *s,
                                                  size_t len, char **out, size_t *out_len,
                                                  size_t *count);

/* As mh_redact_secrets_string over every string (and number text) inside `in`; keys unchanged. */
MH_MUSTCHECK enum mh_err mh_redact_secrets_json(const struct mh_redact_secrets *sr, json_t *in,
                                                json_t **out, size_t *count);

#endif
