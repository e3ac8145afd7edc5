/* SPDX-License-Identifier: MIT */
/*
 * The `format` assertions: hand-written recognisers for RFC 3339 date-time, date and time (with
 * the leap-second rule), RFC 5321 mailboxes, RFC 1123 host names, IPv4 and IPv6 addresses,
 * RFC 3986 URIs and URI references, UUIDs and JSON pointers. Hand-written rather than regular
 * expressions because the rules need arithmetic (days per month, leap seconds, address groups)
 * and must stay linear in the input whatever it holds.
 */
#include "schema/schema_internal.h"

#include <string.h>

static bool is_digit(char c);
static bool is_alpha(char c);
static bool is_hex(char c);
static bool digits(const char *s, size_t len, size_t *i, int n, int *out);
static bool expect(const char *s, size_t len, size_t *i, char c);
static int days_in_month(int year, int month);
static bool parse_date(const char *s, size_t len, size_t *i);
static bool parse_time(const char *s, size_t len, size_t *i);
static bool check_date_time(const char *s, size_t len);
static bool check_date(const char *s, size_t len);
static bool check_time(const char *s, size_t len);
static bool check_ipv4(const char *s, size_t len);
static bool check_ipv6(const char *s, size_t len);
static bool check_hostname(const char *s, size_t len);
static bool is_atext(char c);
static bool check_email(const char *s, size_t len);
static bool is_unreserved(char c);
static bool is_sub_delim(char c);
static bool uri_chars(const char *s, size_t from, size_t to, const char *extra);
static bool uri_authority(const char *s, size_t from, size_t to);
static bool check_uri(const char *s, size_t len, bool require_scheme);
static bool check_uuid(const char *s, size_t len);
static bool check_json_pointer(const char *s, size_t len);

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Reads exactly `n` ASCII digits at s[*i] into *out. */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    int v = 0;
    if (*i + (size_t)n > len)
        return false;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (!is_digit(c))
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))
        return 29;
    return days[month - 1];
}

/* RFC 3339 full-date at s[*i]. */
static bool parse_date(const char *s, size_t len, size_t *i)
{
    int y, m, d;
    if (!digits(s, len, i, 4, &y) || !expect(s, len, i, '-') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, '-') || !digits(s, len, i, 2, &d))
        return false;
    return m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/*
 * RFC 3339 full-time at s[*i]: a time with a required offset. Second 60 is allowed only when the
 * time, moved to UTC, is 23:59:60.
 */
static bool parse_time(const char *s, size_t len, size_t *i)
{
    int h, m, sec;
    if (!digits(s, len, i, 2, &h) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &m) ||
        !expect(s, len, i, ':') || !digits(s, len, i, 2, &sec))
        return false;
    if (h > 23 || m > 59 || sec > 60)
        return false;
    if (*i < len && s[*i] == '.') {
        (*i)++;
        size_t start = *i;
        while (*i < len && is_digit(s[*i]))
            (*i)++;
        if (*i == start)
            return false;
    }
    int offset_min = 0;
    if (*i < len && (s[*i] == 'Z' || s[*i] == 'z')) {
        (*i)++;
    } else if (*i < len && (s[*i] == '+' || s[*i] == '-')) {
        int sign = s[*i] == '-' ? -1 : 1;
        int oh, om;
        (*i)++;
        if (!digits(s, len, i, 2, &oh) || !expect(s, len, i, ':') || !digits(s, len, i, 2, &om))
            return false;
        if (oh > 23 || om > 59)
            return false;
        offset_min = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (sec == 60) {
        int utc = ((h * 60 + m - offset_min) % 1440 + 1440) % 1440;
        if (utc != 23 * 60 + 59)
            return false;
    }
    return true;
}

static bool check_date_time(const char *s, size_t len)
{
    size_t i = 0;
    if (!parse_date(s, len, &i))
        return false;
    if (i >= len || (s[i] != 'T' && s[i] != 't'))
        return false;
    i++;
    return parse_time(s, len, &i) && i == len;
}

static bool check_date(const char *s, size_t len)
{
    size_t i = 0;
    return parse_date(s, len, &i) && i == len;
}

static bool check_time(const char *s, size_t len)
{
    size_t i = 0;
    return parse_time(s, len, &i) && i == len;
}

/* dec-octet "." dec-octet "." dec-octet "." dec-octet, without leading zeros. */
static bool check_ipv4(const char *s, size_t len)
{
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0 && !expect(s, len, &i, '.'))
            return false;
        size_t start = i;
        int v = 0;
        while (i < len && is_digit(s[i]) && i - start < 3)
            v = v * 10 + (s[i++] - '0');
        size_t n = i - start;
        if (n == 0 || v > 255 || (n > 1 && s[start] == '0'))
            return false;
    }
    return i == len;
}

/* RFC 4291 text form: eight groups, one "::" for a run of zeros, an optional IPv4 tail. */
static bool check_ipv6(const char *s, size_t len)
{
    size_t i = 0;
    int groups = 0;
    bool elided = false;
    if (len >= 2 && s[0] == ':' && s[1] == ':') {
        elided = true;
        i = 2;
        if (i == len)
            return true;
    } else if (len > 0 && s[0] == ':') {
        return false;
    }
    for (;;) {
        size_t end = i;
        bool dotted = false;
        while (end < len && s[end] != ':') {
            if (s[end] == '.')
                dotted = true;
            end++;
        }
        if (dotted) {
            /* An IPv4 tail is last and stands for two groups. */
            if (end != len || !check_ipv4(s + i, end - i))
                return false;
            groups += 2;
            break;
        }
        if (end == i || end - i > 4)
            return false;
        for (size_t k = i; k < end; k++)
            if (!is_hex(s[k]))
                return false;
        groups++;
        i = end;
        if (i == len)
            break;
        if (i + 1 < len && s[i + 1] == ':') {
            if (elided)
                return false;
            elided = true;
            i += 2;
            if (i == len)
                break;
            continue;
        }
        i++;
        if (i == len)
            return false;
    }
    return elided ? groups <= 7 : groups == 8;
}

/* RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens. */
static bool check_hostname(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
            continue;
        }
        char c = s[i];
        if (!is_alpha(c) && !is_digit(c) && c != '-')
            return false;
        if (label == 0 && c == '-')
            return false;
        label++;
    }
    return true;
}

static bool is_atext(char c)
{
    return is_alpha(c) || is_digit(c) || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* RFC 5321 Mailbox: Local-part "@" ( Domain / address-literal ). */
static bool check_email(const char *s, size_t len)
{
    size_t i = 0;
    if (len > 0 && s[0] == '"') {
        /* Quoted-string: qtextSMTP and quoted-pairSMTP. */
        i = 1;
        for (;;) {
            if (i >= len)
                return false;
            char c = s[i];
            if (c == '"')
                break;
            if (c == '\\') {
                if (i + 1 >= len || s[i + 1] < 32 || s[i + 1] > 126)
                    return false;
                i += 2;
                continue;
            }
            if (c < 32 || c > 126)
                return false;
            i++;
        }
        i++;
    } else {
        /* Dot-string: atoms separated by single dots. */
        size_t atom = 0;
        while (i < len && s[i] != '@') {
            if (s[i] == '.') {
                if (atom == 0)
                    return false;
                atom = 0;
            } else if (is_atext(s[i])) {
                atom++;
            } else {
                return false;
            }
            i++;
        }
        if (atom == 0)
            return false;
    }
    if (!expect(s, len, &i, '@'))
        return false;
    const char *d = s + i;
    size_t dn = len - i;
    if (dn >= 2 && d[0] == '[' && d[dn - 1] == ']') {
        if (dn > 7 && memcmp(d + 1, "IPv6:", 5) == 0)
            return check_ipv6(d + 6, dn - 7);
        return check_ipv4(d + 1, dn - 2);
    }
    return check_hostname(d, dn);
}

static bool is_unreserved(char c)
{
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool is_sub_delim(char c)
{
    return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

/*
 * Checks s[from, to) consists of unreserved, sub-delims, percent-encodings and the characters in
 * `extra`.
 */
static bool uri_chars(const char *s, size_t from, size_t to, const char *extra)
{
    for (size_t i = from; i < to; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= to || !is_hex(s[i + 1]) || !is_hex(s[i + 2]))
                return false;
            i += 2;
            continue;
        }
        if (is_unreserved(c) || is_sub_delim(c) || (c != '\0' && strchr(extra, c) != NULL))
            continue;
        return false;
    }
    return true;
}

/* authority = [ userinfo "@" ] host [ ":" port ], over s[from, to). */
static bool uri_authority(const char *s, size_t from, size_t to)
{
    const char *at = memchr(s + from, '@', to - from);
    if (at != NULL) {
        size_t ui_end = (size_t)(at - s);
        if (!uri_chars(s, from, ui_end, ":"))
            return false;
        from = ui_end + 1;
    }
    size_t host_end;
    if (from < to && s[from] == '[') {
        const char *close = memchr(s + from, ']', to - from);
        if (close == NULL)
            return false;
        host_end = (size_t)(close - s) + 1;
        const char *lit = s + from + 1;
        size_t litn = host_end - from - 2;
        if (litn > 0 && (lit[0] == 'v' || lit[0] == 'V')) {
            /* IPvFuture: "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ). */
            size_t k = 1;
            while (k < litn && is_hex(lit[k]))
                k++;
            if (k == 1 || k >= litn || lit[k] != '.' || k + 1 == litn)
                return false;
            if (!uri_chars(lit, k + 1, litn, ":"))
                return false;
            for (size_t q = k + 1; q < litn; q++)
                if (lit[q] == '%')
                    return false;
        } else if (!check_ipv6(lit, litn)) {
            return false;
        }
    } else {
        const char *colon = memchr(s + from, ':', to - from);
        host_end = colon ? (size_t)(colon - s) : to;
        /* reg-name; IPv4 addresses are reg-names syntactically. */
        if (!uri_chars(s, from, host_end, ""))
            return false;
    }
    if (host_end < to) {
        if (s[host_end] != ':')
            return false;
        for (size_t i = host_end + 1; i < to; i++)
            if (!is_digit(s[i]))
                return false;
    }
    return true;
}

/*
 * RFC 3986 URI (`require_scheme`) or URI-reference. The scheme, authority, path, query and
 * fragment are split as in Appendix B and each is checked against its grammar.
 */
static bool check_uri(const char *s, size_t len, bool require_scheme)
{
    size_t i = 0;
    /* Scheme: up to the first ':' when that comes before any '/', '?' or '#'. */
    size_t k = 0;
    while (k < len && s[k] != ':' && s[k] != '/' && s[k] != '?' && s[k] != '#')
        k++;
    bool has_scheme = k < len && s[k] == ':';
    if (has_scheme) {
        if (k == 0 || !is_alpha(s[0]))
            return false;
        for (size_t q = 1; q < k; q++)
            if (!is_alpha(s[q]) && !is_digit(s[q]) && s[q] != '+' && s[q] != '-' && s[q] != '.')
                return false;
        i = k + 1;
    } else if (require_scheme) {
        return false;
    }
    if (i + 1 < len && s[i] == '/' && s[i + 1] == '/') {
        size_t a = i + 2, e = a;
        while (e < len && s[e] != '/' && s[e] != '?' && s[e] != '#')
            e++;
        if (!uri_authority(s, a, e))
            return false;
        i = e;
    }
    size_t path_start = i;
    while (i < len && s[i] != '?' && s[i] != '#')
        i++;
    if (!uri_chars(s, path_start, i, ":@/"))
        return false;
    if (!has_scheme) {
        /* path-noscheme: the first segment of a relative path has no ':'. */
        const char *slash = memchr(s + path_start, '/', i - path_start);
        size_t seg_end = slash ? (size_t)(slash - s) : i;
        if (memchr(s + path_start, ':', seg_end - path_start) != NULL)
            return false;
    }
    if (i < len && s[i] == '?') {
        size_t q = ++i;
        while (i < len && s[i] != '#')
            i++;
        if (!uri_chars(s, q, i, ":@/?"))
            return false;
    }
    if (i < len && s[i] == '#') {
        i++;
        if (!uri_chars(s, i, len, ":@/?"))
            return false;
    }
    return true;
}

static bool check_uuid(const char *s, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !is_hex(s[i]))
            return false;
    }
    return true;
}

/* RFC 6901: "" or "/"-prefixed tokens where '~' is followed by '0' or '1'. */
static bool check_json_pointer(const char *s, size_t len)
{
    if (len > 0 && s[0] != '/')
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] == '~' && (i + 1 >= len || (s[i + 1] != '0' && s[i + 1] != '1')))
            return false;
    return true;
}

bool mh_schema__format_check(enum mh_schema__format f, const char *s, size_t len)
{
    switch (f) {
    case MH_SCHEMA__F_NONE: return true;
    case MH_SCHEMA__F_DATE_TIME: return check_date_time(s, len);
    case MH_SCHEMA__F_DATE: return check_date(s, len);
    case MH_SCHEMA__F_TIME: return check_time(s, len);
    case MH_SCHEMA__F_EMAIL: return check_email(s, len);
    case MH_SCHEMA__F_HOSTNAME: return check_hostname(s, len);
    case MH_SCHEMA__F_IPV4: return check_ipv4(s, len);
    case MH_SCHEMA__F_IPV6: return check_ipv6(s, len);
    case MH_SCHEMA__F_URI: return check_uri(s, len, true);
    case MH_SCHEMA__F_URI_REFERENCE: return check_uri(s, len, false);
    case MH_SCHEMA__F_UUID: return check_uuid(s, len);
    case MH_SCHEMA__F_JSON_POINTER: return check_json_pointer(s, len);
    }
    return true;
}

enum mh_schema__format mh_schema__format_lookup(const char *name)
{
    static const struct {
        const char *name;
        enum mh_schema__format f;
    } table[] = {
        {"date-time", MH_SCHEMA__F_DATE_TIME},
        {"date", MH_SCHEMA__F_DATE},
        {"time", MH_SCHEMA__F_TIME},
        {"email", MH_SCHEMA__F_EMAIL},
        {"hostname", MH_SCHEMA__F_HOSTNAME},
        {"ipv4", MH_SCHEMA__F_IPV4},
        {"ipv6", MH_SCHEMA__F_IPV6},
        {"uri", MH_SCHEMA__F_URI},
        {"uri-reference", MH_SCHEMA__F_URI_REFERENCE},
        {"uuid", MH_SCHEMA__F_UUID},
        {"json-pointer", MH_SCHEMA__F_JSON_POINTER},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        if (strcmp(table[i].name, name) == 0)
            return table[i].f;
    return MH_SCHEMA__F_NONE;
}
