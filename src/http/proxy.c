/* SPDX-License-Identifier: MIT */
/*
 * Trusted reverse proxies (the trusted_proxies setting): a list of addresses and CIDR ranges.
 * Behind a proxy every connection comes from the proxy, so the sign-in throttle, the audit log
 * and the per-address connection limit would see one client; a request whose peer is trusted
 * is instead attributed to the address X-Forwarded-For names. That header is read from the
 * right, skipping the trusted hops, because each proxy appends the address it saw: the entries
 * to the left of the first untrusted one were written by the client and prove nothing. A peer
 * that is not trusted is the client, whatever it sends.
 */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

struct cidr {
    int family;
    unsigned char addr[16];
    int bits;
};

struct mh_http__proxies {
    size_t n;
    struct cidr items[];
};

static bool parse_addr(const char *s, size_t len, struct cidr *out);
static bool matches(const struct cidr *range, const struct cidr *a);

/* An address of `len` bytes at `s` (IPv4, IPv6, or either with a port: "[::1]:80",
 * "192.0.2.1:80"), as a /32 or /128. */
static bool parse_addr(const char *s, size_t len, struct cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *a = buf;
    if (a[0] == '[') {
        char *close = strchr(a, ']');
        if (close == NULL)
            return false;
        *close = '\0';
        a++;
    } else {
        char *colon = strchr(a, ':');
        if (colon && strchr(colon + 1, ':') == NULL && strchr(a, '.') != NULL)
            *colon = '\0'; /* IPv4 with a port */
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, a, out->addr) == 1) {
        out->family = AF_INET;
        out->bits = 32;
        return true;
    }
    if (inet_pton(AF_INET6, a, out->addr) == 1) {
        out->family = AF_INET6;
        out->bits = 128;
        return true;
    }
    return false;
}

static bool matches(const struct cidr *range, const struct cidr *a)
{
    if (range->family != a->family)
        return false;
    int full = range->bits / 8, rest = range->bits % 8;
    if (memcmp(range->addr, a->addr, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return (range->addr[full] & mask) == (a->addr[full] & mask);
}

enum mh_err mh_http__proxies_parse(const char *list, struct mh_http__proxies **out,
                                   struct mh_err_info *info)
{
    *out = NULL;
    if (list == NULL || list[strspn(list, " ,")] == '\0')
        return MH_OK;
    size_t cap = 1;
    for (const char *c = list; *c; c++)
        cap += *c == ',';
    struct mh_http__proxies *p = mh_xcalloc(1, sizeof(*p) + cap * sizeof(p->items[0]));
    for (const char *s = list; *s; s += *s == ',') {
        size_t len = strcspn(s, ",");
        const char *item = s;
        s += len;
        while (len && (*item == ' ' || *item == '\t'))
            item++, len--;
        while (len && (item[len - 1] == ' ' || item[len - 1] == '\t'))
            len--;
        if (len == 0)
            continue;
        const char *slash = memchr(item, '/', len);
        struct cidr c;
        bool ok = parse_addr(item, slash ? (size_t)(slash - item) : len, &c);
        if (ok && slash) {
            const char *d = slash + 1, *end = item + len;
            long bits = 0;
            ok = d < end && end - d <= 3;
            for (; ok && d < end; d++) {
                ok = *d >= '0' && *d <= '9';
                bits = bits * 10 + (*d - '0');
            }
            ok = ok && bits <= c.bits;
            c.bits = (int)bits;
        }
        if (!ok) {
            free(p);
            return mh_err_set(info, MH_EINVAL, "config", -1,
                              "trusted_proxies: '%.*s' is not an address or CIDR range",
                              (int)(len > 60 ? 60 : len), item);
        }
        p->items[p->n++] = c;
    }
    *out = p;
    return MH_OK;
}

void mh_http__proxies_destroy(struct mh_http__proxies *p)
{
    free(p);
}

bool mh_http__proxies_trust(const struct mh_http__proxies *p, const char *addr)
{
    struct cidr a;
    if (p == NULL || addr == NULL || !parse_addr(addr, strlen(addr), &a))
        return false;
    for (size_t i = 0; i < p->n; i++)
        if (matches(&p->items[i], &a))
            return true;
    return false;
}

bool mh_http__proxies_client(const struct mh_http__proxies *p, const char *xff, char *out,
                             size_t cap)
{
    if (p == NULL || xff == NULL)
        return false;
    bool found = false;
    char text[INET6_ADDRSTRLEN];
    /* From the right: the last entry was appended by the trusted peer itself. */
    for (size_t end = strlen(xff); end > 0;) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        struct cidr a;
        if (!parse_addr(xff + start, end - start, &a))
            break; /* garbage: keep the last address a trusted hop vouched for */
        if (inet_ntop(a.family, a.addr, text, sizeof(text)) == NULL)
            break;
        snprintf(out, cap, "%s", text);
        found = true;
        bool is_trusted = false;
        for (size_t i = 0; i < p->n && !is_trusted; i++)
            is_trusted = matches(&p->items[i], &a);
        if (!is_trusted || start == 0)
            break;
        end = start - 1;
    }
    return found;
}
