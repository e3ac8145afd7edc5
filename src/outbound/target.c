/* SPDX-License-Identifier: MIT */
/*
 * The SSRF guard's policy: which addresses an http_call may not connect to (loopback, private,
 * link-local, cloud metadata and the other special-purpose ranges, including the IPv6 forms that
 * embed or tunnel to IPv4), and the allow-lists (server-wide and per request) that let chosen
 * hosts and networks through. Pure code over raw address bytes: outbound.c calls it with the
 * address libcurl is about to connect to, after DNS, and again with the peer of a reused
 * connection, so neither a name that resolves inward nor a connection opened for someone else
 * gets past it.
 */
#include "outbound/outbound_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "core/mem.h"

#define ENTRY_MAX 256 /* "*." + a 253-byte name, or an address with its prefix */

struct rule {
    bool is_host;
    bool is_wildcard; /* "*.suffix": subdomains of suffix, not suffix itself */
    int family;       /* AF_INET or AF_INET6 for an address rule */
    int prefix;
    uint8_t addr[16];
    char host[ENTRY_MAX];
};

struct mh_outbound__allow {
    size_t n;
    struct rule rules[];
};

static bool v4_in(const uint8_t *a, uint32_t net, int prefix);
static bool is_blocked_v4(const uint8_t *a);
static bool is_metadata(int family, const uint8_t *a);
static bool prefix_match(const uint8_t *a, const uint8_t *net, int prefix);
static const uint8_t *unmap_v4(int family, const uint8_t *a);
static bool parse_entry(const char *e, size_t len, struct rule *r, char *why, size_t why_len);
static bool parse_host(const char *e, size_t len, struct rule *r);
static bool host_matches(const struct rule *r, const char *host);
static size_t next_entry(const char *list, size_t *pos, const char **start);

/* True when the first `prefix` bits of the IPv4 address `a` equal those of `net`. */
static bool v4_in(const uint8_t *a, uint32_t net, int prefix)
{
    uint32_t v = ((uint32_t)a[0] << 24) | ((uint32_t)a[1] << 16) | ((uint32_t)a[2] << 8) | a[3];
    uint32_t mask = prefix == 0 ? 0 : 0xffffffffu << (32 - prefix);
    return (v & mask) == (net & mask);
}

#define V4(a, b, c, d) (((uint32_t)(a) << 24) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 8) | (d))

static bool is_blocked_v4(const uint8_t *a)
{
    static const struct {
        uint32_t net;
        int prefix;
    } ranges[] = {
        {V4(0, 0, 0, 0), 8},        /* "this network" */
        {V4(10, 0, 0, 0), 8},       /* RFC 1918 */
        {V4(100, 64, 0, 0), 10},    /* CGNAT (and Alibaba's metadata service) */
        {V4(127, 0, 0, 0), 8},      /* loopback */
        {V4(168, 63, 129, 16), 32}, /* Azure's platform endpoint (WireServer) */
        {V4(169, 254, 0, 0), 16},   /* link-local, cloud metadata */
        {V4(172, 16, 0, 0), 12},    /* RFC 1918 */
        {V4(192, 0, 0, 0), 24},     /* IETF protocol assignments */
        {V4(192, 0, 2, 0), 24},     /* documentation */
        {V4(192, 88, 99, 0), 24},   /* 6to4 relay anycast */
        {V4(192, 168, 0, 0), 16},   /* RFC 1918 */
        {V4(198, 18, 0, 0), 15},    /* benchmarking */
        {V4(198, 51, 100, 0), 24},  /* documentation */
        {V4(203, 0, 113, 0), 24},   /* documentation */
        {V4(224, 0, 0, 0), 4},      /* multicast */
        {V4(240, 0, 0, 0), 4},      /* reserved, broadcast */
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(ranges); i++)
        if (v4_in(a, ranges[i].net, ranges[i].prefix))
            return true;
    return false;
}

/* Cloud metadata services: an allow-list reaches them only by naming them exactly. */
static bool is_metadata(int family, const uint8_t *a)
{
    static const uint8_t ec2_v6[16] = {0xfd, 0, 0x0e, 0xc2, 0, 0, 0,    0,
                                       0,    0, 0,    0,    0, 0, 0x02, 0x54};
    if (family == AF_INET)
        return v4_in(a, V4(169, 254, 169, 254), 32) || v4_in(a, V4(169, 254, 170, 2), 32) ||
               v4_in(a, V4(100, 100, 100, 200), 32) || v4_in(a, V4(168, 63, 129, 16), 32);
    return memcmp(a, ec2_v6, 16) == 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
    int whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)whole) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[whole] & mask) == (net[whole] & mask);
}

/* The IPv4 address inside an IPv4-mapped IPv6 one (::ffff:a.b.c.d), else NULL. */
static const uint8_t *unmap_v4(int family, const uint8_t *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return family == AF_INET6 && memcmp(a, mapped, 12) == 0 ? a + 12 : NULL;
}

bool mh_outbound_is_blocked_ip(int family, const uint8_t *a)
{
    if (family == AF_INET)
        return is_blocked_v4(a);
    if (family != AF_INET6)
        return true;
    static const struct {
        uint8_t net[16];
        int prefix;
        bool is_embedding; /* the last 32 bits are an IPv4 address: judge that one */
    } ranges[] = {
        {{0}, 96, false},                                       /* ::, ::1, v4-compatible */
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 96, true}, /* v4-mapped */
        {{0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0}, 96, true}, /* v4-translated (SIIT) */
        {{0, 0x64, 0xff, 0x9b}, 96, true},                      /* NAT64 well-known */
        {{0, 0x64, 0xff, 0x9b, 0, 0x01}, 48, false},            /* NAT64 local use */
        {{0x01, 0x00}, 64, false},                              /* discard-only */
        {{0x20, 0x01}, 23, false},             /* IETF assignments: Teredo, benchmarking, ORCHID */
        {{0x20, 0x01, 0x0d, 0xb8}, 32, false}, /* documentation */
        {{0x20, 0x02}, 16, false},             /* 6to4 */
        {{0x3f, 0xff}, 20, false},             /* documentation */
        {{0xfc}, 7, false},                    /* unique local, AWS metadata */
        {{0xfe, 0x80}, 10, false},             /* link-local */
        {{0xfe, 0xc0}, 10, false},             /* site-local (deprecated) */
        {{0xff}, 8, false},                    /* multicast */
    };
    for (size_t i = 0; i < MH_ARRAY_LEN(ranges); i++)
        if (prefix_match(a, ranges[i].net, ranges[i].prefix))
            return ranges[i].is_embedding ? is_blocked_v4(a + 12) : true;
    return false;
}

/* ---- Allow-lists ---------------------------------------------------------------------------- */

/* The length of the next entry of `list` from *pos (0 at the end), with *start pointing at it. */
static size_t next_entry(const char *list, size_t *pos, const char **start)
{
    static const char sep[] = ", \t\r\n";
    const char *p = list + *pos;
    p += strspn(p, sep);
    size_t len = strcspn(p, sep);
    *start = p;
    *pos = (size_t)(p - list) + len;
    return len;
}

static bool parse_host(const char *e, size_t len, struct rule *r)
{
    r->is_host = true;
    if (len >= 2 && e[0] == '*' && e[1] == '.') {
        r->is_wildcard = true;
        e += 2;
        len -= 2;
    }
    if (len > 0 && e[len - 1] == '.')
        len--; /* the root label of a fully qualified name */
    if (len == 0 || len > 253)
        return false;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = e[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        bool is_alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (c == '.') {
            if (label == 0 || e[i - 1] == '-')
                return false;
            label = 0;
        } else if (is_alnum || (c == '-' && label > 0)) {
            if (++label > 63)
                return false;
        } else {
            return false;
        }
        r->host[i] = c;
    }
    r->host[len] = '\0';
    /* A last label of digits only is an IPv4 address gone wrong ("256.0.0.1"), not a name. */
    const char *last = strrchr(r->host, '.');
    last = last ? last + 1 : r->host;
    return label > 0 && e[len - 1] != '-' && strspn(last, "0123456789") != strlen(last);
}

static bool parse_entry(const char *e, size_t len, struct rule *r, char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (len >= ENTRY_MAX) {
        snprintf(why, why_len, "is longer than %d characters", ENTRY_MAX - 1);
        return false;
    }
    char buf[ENTRY_MAX];
    memcpy(buf, e, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash != NULL)
        *slash = '\0';
    const char *addr = buf;
    char unbracketed[ENTRY_MAX];
    if (buf[0] == '[' && buf[strlen(buf) - 1] == ']') {
        snprintf(unbracketed, sizeof(unbracketed), "%.*s", (int)strlen(buf) - 2, buf + 1);
        addr = unbracketed;
    }
    if (inet_pton(AF_INET, addr, r->addr) == 1)
        r->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, r->addr) == 1)
        r->family = AF_INET6;
    if (r->family == 0) {
        if (slash == NULL && parse_host(buf, len, r))
            return true;
        snprintf(why, why_len, "is not a host name, an IP address or a CIDR");
        return false;
    }
    int max = r->family == AF_INET ? 32 : 128;
    r->prefix = max;
    if (slash != NULL) {
        const char *p = slash + 1;
        size_t digits = strspn(p, "0123456789");
        if (digits == 0 || digits > 3 || p[digits] != '\0' || (digits > 1 && p[0] == '0')) {
            snprintf(why, why_len, "has a prefix length that is not a number");
            return false;
        }
        r->prefix = (int)strtol(p, NULL, 10);
        if (r->prefix > max) {
            snprintf(why, why_len, "has a prefix length above %d", max);
            return false;
        }
    }
    /* An IPv4-mapped entry means its IPv4 address: connections are judged unmapped. */
    const uint8_t *v4 = unmap_v4(r->family, r->addr);
    if (v4 != NULL && r->prefix >= 96) {
        memmove(r->addr, v4, 4);
        r->family = AF_INET;
        r->prefix -= 96;
    }
    int nbytes = r->family == AF_INET ? 4 : 16;
    uint8_t masked[16];
    memcpy(masked, r->addr, 16);
    for (int bit = r->prefix; bit < nbytes * 8; bit++)
        masked[bit / 8] &= (uint8_t) ~(0x80 >> (bit % 8));
    if (memcmp(masked, r->addr, (size_t)nbytes) != 0) {
        snprintf(why, why_len, "has address bits set beyond its /%d prefix", r->prefix);
        return false;
    }
    return true;
}

enum mh_err mh_outbound__allow_compile(const char *list, struct mh_outbound__allow **out,
                                       size_t *bad_index, struct mh_err_info *info)
{
    *out = NULL;
    if (bad_index != NULL)
        *bad_index = 0;
    if (list == NULL)
        return MH_OK;
    size_t n = 0, pos = 0;
    const char *e;
    while (next_entry(list, &pos, &e) > 0)
        n++;
    if (n == 0)
        return MH_OK;
    if (n > MH_OUTBOUND_ALLOWLIST_MAX) {
        if (bad_index != NULL)
            *bad_index = MH_OUTBOUND_ALLOWLIST_MAX;
        return mh_err_set(info, MH_EINVAL, "allowlist", -1,
                          "an allow-list holds at most %d entries", MH_OUTBOUND_ALLOWLIST_MAX);
    }
    struct mh_outbound__allow *a = mh_xcalloc(1, sizeof(*a) + n * sizeof(a->rules[0]));
    pos = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = next_entry(list, &pos, &e);
        char why[96];
        if (!parse_entry(e, len, &a->rules[i], why, sizeof(why))) {
            free(a);
            if (bad_index != NULL)
                *bad_index = i;
            return mh_err_set(info, MH_EINVAL, "allowlist", -1, "allow-list entry \"%.*s\" %s",
                              len > 80 ? 80 : (int)len, e, why);
        }
    }
    a->n = n;
    *out = a;
    return MH_OK;
}

void mh_outbound__allow_destroy(struct mh_outbound__allow *a)
{
    free(a);
}

enum mh_err mh_outbound_allowlist_check(const char *list, size_t *bad_index,
                                        struct mh_err_info *info)
{
    struct mh_outbound__allow *a = NULL;
    enum mh_err rc = mh_outbound__allow_compile(list, &a, bad_index, info);
    mh_outbound__allow_destroy(a);
    return rc;
}

static bool host_matches(const struct rule *r, const char *host)
{
    size_t hl = strlen(host), rl = strlen(r->host);
    if (hl > 0 && host[hl - 1] == '.')
        hl--;
    if (!r->is_wildcard)
        return hl == rl && strncasecmp(host, r->host, rl) == 0;
    return hl > rl + 1 && host[hl - rl - 1] == '.' && strncasecmp(host + hl - rl, r->host, rl) == 0;
}

bool mh_outbound__allow_permits(const struct mh_outbound__allow *a, const char *host, int family,
                                const uint8_t *addr)
{
    if (a == NULL)
        return false;
    const uint8_t *v4 = unmap_v4(family, addr);
    if (v4 != NULL) {
        family = AF_INET;
        addr = v4;
    }
    bool is_meta = is_metadata(family, addr);
    for (size_t i = 0; i < a->n; i++) {
        const struct rule *r = &a->rules[i];
        if (r->is_host) {
            if (host != NULL && host_matches(r, host))
                return true;
        } else if (r->family == family && prefix_match(addr, r->addr, r->prefix) &&
                   (!is_meta || r->prefix == (family == AF_INET ? 32 : 128))) {
            return true;
        }
    }
    return false;
}
