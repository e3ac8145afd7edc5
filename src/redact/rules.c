/* SPDX-License-Identifier: MIT */
/*
 * The built-in redaction rules: one PCRE2 pattern each, plus a C check where a regular expression
 * cannot decide (the Luhn digit of a card, the mod-97 checksum of an IBAN, separator consistency
 * of a phone number). The patterns avoid nested ambiguous repetition (possessive quantifiers,
 * fixed-width groups, look-behinds that stop a search from restarting inside a run), so each
 * runs in time linear in its input; they are ours, so they run without the wall-clock budget
 * custom patterns get.
 */
#include "redact/redact_internal.h"

#include <ctype.h>
#include <string.h>

static size_t check_phone(const char *s, size_t start, size_t end);
static size_t check_card(const char *s, size_t start, size_t end);
static size_t check_iban(const char *s, size_t start, size_t end);
static size_t check_bearer(const char *s, size_t start, size_t end);

/* clang-format off */
const struct mh_redact__builtin mh_redact__builtins[] = {
    {MH_REDACT_BEARER, "bearer",
     "\\b(?i:bearer)\\s++([A-Za-z0-9._~+/-]{8,}+=*+)", 1, check_bearer},
    {MH_REDACT_JWT, "jwt",
     "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}+\\.[A-Za-z0-9_-]{4,}+\\.[A-Za-z0-9_-]*+", 0, NULL},
    {MH_REDACT_API_KEY, "api_key",
     "\\b(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}+|whsec_[A-Za-z0-9+/=]{16,}+"
     "|gh[posur]_[A-Za-z0-9]{30,}+|github_pat_[A-Za-z0-9_]{22,}+|(?:AKIA|ASIA)[0-9A-Z]{16}"
     "|xox[bpars]-[A-Za-z0-9-]{10,}+|AIza[0-9A-Za-z_-]{35}|sk-[A-Za-z0-9_-]{20,}+)"
     "(?![A-Za-z0-9_-])", 0, NULL},
    {MH_REDACT_API_KEY, "secret",
     "(?i)\\b(?:proxy-)?authorization\\b[\"']?\\s*+[:=]\\s*+[\"']?"
     "(?:basic|digest|token|apikey)\\s++([^\\s\"'&,;]{4,}+)", 1, NULL},
    {MH_REDACT_API_KEY, "secret",
     "(?i)\\b(?:api[_-]?key|api[_-]?secret|client[_-]?secret|secret[_-]?key|secret"
     "|access[_-]?token|refresh[_-]?token|auth[_-]?token|token|password|passwd|pwd"
     "|private[_-]?key)\\b[\"']?\\s*+[:=]\\s*+[\"']?([^\\s\"'&,;]{4,}+)", 1, NULL},
    {MH_REDACT_EMAIL, "email",
     "(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}+@"
     "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)++[A-Za-z]{2,63}(?![A-Za-z0-9-])",
     0, NULL},
    {MH_REDACT_CARD, "card",
     "(?<![\\w.-])\\d(?:[ -]?\\d){12,18}(?![\\w-]|\\.\\d)", 0, check_card},
    {MH_REDACT_IBAN, "iban",
     "\\b[A-Z]{2}\\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\\b", 0, check_iban},
    {MH_REDACT_SSN, "ssn",
     "(?<![\\w-])(?!000|666|9\\d\\d)\\d{3}-(?!00)\\d{2}-(?!0000)\\d{4}(?![\\w-])", 0, NULL},
    {MH_REDACT_PHONE, "phone",
     /* International: "+", a country code, then groups, optionally separated. */
     "(?<![\\w+])\\+[1-9]\\d{0,3}(?:[ .-]?\\(\\d{1,5}+\\))?(?:[ .-]?\\d{1,5}+){1,6}(?!\\w)"
     /* North American national: (555) 123-4567, 555-123-4567, 555.123.4567. */
     "|(?<![\\w+.-])(?:\\(\\d{3}\\)[ .-]?|\\d{3}[ .-])\\d{3}[ .-]\\d{4}(?![\\w-]|\\.\\d)"
     /* National with a trunk 0: 020 7946 0958, 06 12 34 56 78, 0171 1234567. */
     "|(?<![\\w+.-])(?!000)0\\d{1,4}(?:[ .-]\\d{2,8}+){1,4}(?![\\w-]|\\.\\d)", 0, check_phone},
};
/* clang-format on */

const size_t mh_redact__nbuiltins = sizeof(mh_redact__builtins) / sizeof(mh_redact__builtins[0]);

static bool is_digit(char c);
static bool luhn_ok(const char *s, size_t start, size_t end);
static bool card_ok(const char *s, size_t start, size_t end);
static bool iban_length_ok(const char *c, size_t n);
static bool iban_ok(const char *s, size_t start, size_t end);

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/*
 * Phone candidates: "+" and "00" forms need 8-15 digits (E.164 allows 15). National forms need 9-12
 * digits and one separator used throughout (a date "01.02.2024 12" mixes them), and four short
 * dot-separated groups are an IPv4 address, not a number.
 */
static size_t check_phone(const char *s, size_t start, size_t end)
{
    size_t digits = 0, groups = 0, longest = 0, run = 0;
    char sep = 0;
    bool mixed = false;
    for (size_t i = start; i < end; i++) {
        char c = s[i];
        if (is_digit(c)) {
            digits++;
            if (run++ == 0)
                groups++;
            if (run > longest)
                longest = run;
            continue;
        }
        run = 0;
        if (c == ' ' || c == '.' || c == '-') {
            if (sep != 0 && sep != c)
                mixed = true;
            sep = c;
        }
    }
    if (s[start] == '+')
        return digits >= 8 && digits <= 15 ? end : 0;
    if (end - start > 2 && s[start] == '0' && s[start + 1] == '0')
        /* "00" is the international call prefix: 0049 30 1234567 is +49 30 1234567. */
        return digits - 2 >= 8 && digits - 2 <= 15 && !mixed ? end : 0;
    if (digits < 9 || digits > 12)
        return 0;
    if (s[start] == '(')
        return end;
    if (mixed)
        return 0;
    if (sep == '.' && groups == 4 && longest <= 3)
        return 0;
    return end;
}

static bool luhn_ok(const char *s, size_t start, size_t end)
{
    int sum = 0;
    bool twice = false;
    for (size_t i = end; i > start; i--) {
        char c = s[i - 1];
        if (!is_digit(c))
            continue;
        int d = c - '0';
        if (twice) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

/* One card candidate: 13-19 digits, one kind of separator at most, and the Luhn check. */
static bool card_ok(const char *s, size_t start, size_t end)
{
    size_t digits = 0;
    char sep = 0;
    for (size_t i = start; i < end; i++) {
        if (is_digit(s[i])) {
            digits++;
        } else {
            if (sep != 0 && sep != s[i])
                return false;
            sep = s[i];
        }
    }
    /* No issuer number starts with 0 (major industry identifier 0 is not issued to cards). */
    return digits >= 13 && digits <= 19 && s[start] != '0' && luhn_ok(s, start, end);
}

/* The longest prefix of the candidate that ends at a group boundary and is a valid card. */
static size_t check_card(const char *s, size_t start, size_t end)
{
    for (size_t e = end; e > start; e--) {
        if (!is_digit(s[e - 1]) || (e != end && is_digit(s[e])))
            continue;
        if (card_ok(s, start, e))
            return e;
    }
    return 0;
}

/* IBAN length per country (the ISO 13616 registry). */
static const struct {
    char cc[3];
    unsigned char len;
} iban_lengths[] = {
    {"AD", 24}, {"AE", 23}, {"AL", 28}, {"AT", 20}, {"AZ", 28}, {"BA", 20}, {"BE", 16}, {"BG", 22},
    {"BH", 22}, {"BR", 29}, {"BY", 28}, {"CH", 21}, {"CR", 22}, {"CY", 28}, {"CZ", 24}, {"DE", 22},
    {"DK", 18}, {"DO", 28}, {"EE", 20}, {"EG", 29}, {"ES", 24}, {"FI", 18}, {"FO", 18}, {"FR", 27},
    {"GB", 22}, {"GE", 22}, {"GI", 23}, {"GL", 18}, {"GR", 27}, {"GT", 28}, {"HR", 21}, {"HU", 28},
    {"IE", 22}, {"IL", 23}, {"IQ", 23}, {"IS", 26}, {"IT", 27}, {"JO", 30}, {"KW", 30}, {"KZ", 20},
    {"LB", 28}, {"LC", 32}, {"LI", 21}, {"LT", 20}, {"LU", 20}, {"LV", 21}, {"LY", 25}, {"MC", 27},
    {"MD", 24}, {"ME", 22}, {"MK", 19}, {"MR", 27}, {"MT", 31}, {"MU", 30}, {"NL", 18}, {"NO", 15},
    {"PK", 24}, {"PL", 28}, {"PS", 29}, {"PT", 25}, {"QA", 29}, {"RO", 24}, {"RS", 22}, {"SA", 24},
    {"SC", 31}, {"SD", 18}, {"SE", 24}, {"SI", 19}, {"SK", 24}, {"SM", 27}, {"ST", 25}, {"SV", 28},
    {"TL", 23}, {"TN", 24}, {"TR", 26}, {"UA", 29}, {"VA", 22}, {"VG", 24}, {"XK", 20},
};

static bool iban_length_ok(const char *c, size_t n)
{
    for (size_t i = 0; i < sizeof(iban_lengths) / sizeof(iban_lengths[0]); i++)
        if (iban_lengths[i].cc[0] == c[0] && iban_lengths[i].cc[1] == c[1])
            return iban_lengths[i].len == n;
    return false;
}

/*
 * ISO 13616: a known country with its length, then: move the first four characters to the end,
 * letters to 10..35, and the number mod 97 must be 1.
 */
static bool iban_ok(const char *s, size_t start, size_t end)
{
    char c[40];
    size_t n = 0;
    for (size_t i = start; i < end; i++) {
        if (s[i] == ' ')
            continue;
        if (n == sizeof(c))
            return false;
        c[n++] = s[i];
    }
    if (n < 15 || n > 34 || !iban_length_ok(c, n))
        return false;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];
        if (is_digit(ch)) {
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        } else if (ch >= 'A' && ch <= 'Z') {
            unsigned v = (unsigned)(ch - 'A') + 10;
            rem = (rem * 100 + v) % 97;
        } else {
            return false;
        }
    }
    return rem == 1;
}

static size_t check_iban(const char *s, size_t start, size_t end)
{
    for (size_t e = end; e > start; e--) {
        if (s[e - 1] == ' ' || (e != end && s[e] != ' '))
            continue;
        if (iban_ok(s, start, e))
            return e;
    }
    return 0;
}

/* "Bearer of bad news" is prose: a token has a digit or symbol, or is long. */
static size_t check_bearer(const char *s, size_t start, size_t end)
{
    if (end - start >= 20)
        return end;
    for (size_t i = start; i < end; i++)
        if (!isalpha((unsigned char)s[i]))
            return end;
    return 0;
}

bool mh_redact__is_secret_key(const char *key)
{
    static const char *const names[] = {
        "apikey",        "apisecret",          "clientsecret",
        "secret",        "secretkey",          "accesstoken",
        "refreshtoken",  "authtoken",          "idtoken",
        "token",         "password",           "passwd",
        "pwd",           "privatekey",         "authorization",
        "cookie",        "proxyauthorization", "setcookie",
        "xapikey",       "sessiontoken",       "passphrase",
        "webhooksecret", "signingsecret",      "clientassertion",
    };
    /* Compare case-insensitively with '-' and '_' dropped: "API-Key", "api_key", "apiKey". */
    char norm[40];
    size_t n = 0;
    for (const char *p = key; *p; p++) {
        if (*p == '-' || *p == '_')
            continue;
        if (n + 1 >= sizeof(norm))
            return false;
        norm[n++] = (char)tolower((unsigned char)*p);
    }
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(norm, names[i]) == 0)
            return true;
    return false;
}
