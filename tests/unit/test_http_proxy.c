/* SPDX-License-Identifier: MIT */
/*
 * Trusted proxies (src/http/proxy.c): parsing the trusted_proxies setting, matching addresses
 * against it, and finding the client in X-Forwarded-For from the right.
 */
#include <string.h>

#include "harness.h"
#include "http/http_internal.h"

static struct mh_http__proxies *parse(const char *list)
{
    struct mh_http__proxies *p = NULL;
    struct mh_err_info info = MH_ERR_INFO_INIT;
    MH_T_ASSERT_EQ(mh_http__proxies_parse(list, &p, &info), MH_OK);
    return p;
}

MH_TEST(proxies_parse_and_match)
{
    struct mh_http__proxies *p = parse(" 127.0.0.1, 10.0.0.0/8,192.168.1.0/25 , 2001:db8::/32,");
    MH_T_ASSERT(mh_http__proxies_trust(p, "127.0.0.1"));
    MH_T_ASSERT(!mh_http__proxies_trust(p, "127.0.0.2"));
    MH_T_ASSERT(mh_http__proxies_trust(p, "10.255.0.1"));
    MH_T_ASSERT(!mh_http__proxies_trust(p, "11.0.0.1"));
    MH_T_ASSERT(mh_http__proxies_trust(p, "192.168.1.127"));
    MH_T_ASSERT(!mh_http__proxies_trust(p, "192.168.1.128"));
    MH_T_ASSERT(mh_http__proxies_trust(p, "2001:db8:ffff::1"));
    MH_T_ASSERT(!mh_http__proxies_trust(p, "2001:db9::1"));
    MH_T_ASSERT(!mh_http__proxies_trust(p, "not an address"));
    MH_T_ASSERT(!mh_http__proxies_trust(NULL, "127.0.0.1"));
    mh_http__proxies_destroy(p);

    struct mh_http__proxies *none = parse(" , ");
    MH_T_ASSERT(none == NULL);
    const char *bad[] = {"10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8x",
                         "localhost",   "::1/129",   "1.2.3.4/-1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mh_err_info info = MH_ERR_INFO_INIT;
        struct mh_http__proxies *q = NULL;
        if (mh_http__proxies_parse(bad[i], &q, &info) != MH_EINVAL || q != NULL ||
            strstr(info.message, "trusted_proxies") == NULL)
            mh_t_fail(__FILE__, __LINE__, "'%s' was not refused", bad[i]);
    }
}

static void client_is(const struct mh_http__proxies *p, const char *xff, const char *want)
{
    char out[64] = "peer";
    bool found = mh_http__proxies_client(p, xff, out, sizeof(out));
    if (want == NULL ? found : (!found || strcmp(out, want) != 0))
        mh_t_fail(__FILE__, __LINE__, "X-Forwarded-For '%s': got %s, want %s", xff,
                  found ? out : "nothing", want ? want : "nothing");
}

MH_TEST(client_is_the_rightmost_untrusted_hop)
{
    struct mh_http__proxies *p = parse("10.0.0.0/8, ::1");
    client_is(p, "203.0.113.5", "203.0.113.5");
    /* What the client wrote to the left of the address the proxy saw proves nothing. */
    client_is(p, "1.1.1.1, 203.0.113.5", "203.0.113.5");
    /* Trusted hops are skipped. */
    client_is(p, "198.51.100.7, 10.1.2.3,10.9.9.9", "198.51.100.7");
    /* Ports, brackets and IPv6 are canonicalised. */
    client_is(p, "[2001:DB8::1]:443", "2001:db8::1");
    client_is(p, "192.0.2.1:8080", "192.0.2.1");
    /* Every hop trusted: the leftmost. */
    client_is(p, "10.0.0.1, 10.0.0.2", "10.0.0.1");
    /* Garbage ends the walk at the last address a trusted hop vouched for. */
    client_is(p, "garbage, 10.0.0.3", "10.0.0.3");
    client_is(p, "garbage", NULL);
    client_is(p, "", NULL);
    client_is(p, NULL, NULL);
    mh_http__proxies_destroy(p);
}
