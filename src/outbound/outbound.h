/* SPDX-License-Identifier: MIT */
/*
 * Outbound HTTP for the http_call node: the only user of libcurl in MeshHook. One mh_outbound
 * owns one executor thread that drives a curl multi handle, so thousands of requests can be in
 * flight at once; any thread submits requests and gets exactly one callback per request with the
 * outcome. A per-origin circuit breaker refuses requests to a failing host without sending them.
 * docs/internals/outbound.md describes the threading, the breaker and the limits.
 *
 * Ownership, for the whole module: every pointer argument is borrowed for the duration of the
 * call and copied when it must outlive it; everything handed to a callback is borrowed for the
 * duration of that callback only.
 */
#ifndef MH_OUTBOUND_OUTBOUND_H
#define MH_OUTBOUND_OUTBOUND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct mh_outbound;

/*
 * Options. A zero number means "the default" (given per field); a negative one is MH_EINVAL.
 * Start from mh_outbound_opts_init() (or pass NULL to mh_outbound_create for all defaults).
 */
/*
 * Told of a breaker's transitions: `is_open` true when it opens (its failure threshold reached;
 * a failed half-open probe keeps it open and is not a new opening), false when a probe's
 * success closes it. `tenant` ("" for the unnamed one) and `origin` ("scheme://host:port") are
 * valid during the call only. Called on the executor thread, outside the breakers' lock, at most
 * once per transition and never per request: it must not block (queue the news and return).
 */
typedef void (*mh_outbound_breaker_fn)(void *ctx, const char *tenant, const char *origin,
                                       bool is_open, int failures);

struct mh_outbound_opts {
    /* Transfers running at once (default 1024). Submissions beyond it wait in memory. */
    int max_in_flight;
    /* Transfers of one tenant (mh_outbound_request.tenant) running at once (default a quarter
     * of max_in_flight, at least 1; at most max_in_flight). A tenant's requests beyond it wait
     * while other tenants' requests are started, so one tenant's slow fan-out cannot take every
     * slot. Waiting tenants are served in turn (round robin), each in submission order. */
    int max_in_flight_per_tenant;
    /* Requests waiting for a free transfer slot (default 10000). Once max_in_flight +
     * max_queued requests are accepted and not yet completed, mh_outbound_submit fails with
     * MH_ELIMIT. */
    int max_queued;
    /* Requests of one tenant waiting (default a quarter of max_queued, at least 1; at most
     * max_queued). Once max_in_flight_per_tenant + max_queued_per_tenant requests of a tenant
     * are accepted and not yet completed, its submissions fail with MH_ELIMIT, so one tenant
     * cannot fill the queue either. */
    int max_queued_per_tenant;
    /* The response body is kept up to this many bytes (default 4 MiB). A larger body is not
     * truncated: the request fails with error_kind "too_big" and no response. */
    size_t max_response_bytes;
    /* All response header lines together, in bytes (default 64 KiB); beyond: "too_big". */
    size_t max_header_bytes;
    /* Consecutive failures (connection errors, DNS and TLS failures, timeouts, 5xx) that open
     * a breaker (default 5). Breakers are per tenant and origin. */
    int breaker_failures;
    /* How long an open breaker refuses requests before it lets one probe through (default
     * 30000). */
    int breaker_open_ms;
    /* A timeout counts as a failure of the host only when the request allowed at least this
     * many milliseconds (default 1000): a caller's own impatience says nothing about the host. */
    int breaker_min_timeout_ms;
    /* Optional: told of every breaker opening and closing (see mh_outbound_breaker_fn). */
    mh_outbound_breaker_fn on_breaker;
    void *on_breaker_ctx;
    /* When false (the default), a connection to a blocked address (loopback, private, link-local
     * and cloud metadata, CGNAT, NAT64 and 6to4/Teredo forms, multicast, reserved and
     * documentation ranges; see mh_outbound_is_blocked_ip) is refused unless an allow-list
     * permits it, and the request fails with error_kind "invalid_request". The address is checked
     * after DNS, when the connection is opened, and again before each request on a reused
     * connection. True turns the check off (development only). */
    bool allow_private_targets;
    /* Server-wide allow-list (borrowed during create, copied): hosts and CIDRs separated by
     * commas or whitespace, see mh_outbound_allowlist_check. NULL or "": none. */
    const char *allowlist;
};
/* Fills `opts` with the defaults described above (allow_private_targets = false). */
void mh_outbound_opts_init(struct mh_outbound_opts *opts);

/*
 * Starts an outbound engine and its executor thread. `opts` is borrowed (NULL: defaults).
 * *out is new; release it with mh_outbound_destroy. MH_EINVAL on a bad option, MH_EUNAVAILABLE
 * when libcurl or the thread cannot be started.
 */
MH_MUSTCHECK enum mh_err mh_outbound_create(const struct mh_outbound_opts *opts,
                                            struct mh_outbound **out);

/*
 * Stops the executor thread. Every request still queued or in flight gets its callback, with
 * error_kind "canceled", before destroy returns; a callback that submits during this gets
 * MH_EUNAVAILABLE. Every other mh_outbound_* call on `o` must have returned before destroy is
 * called (it frees `o`), and destroy must not be called from a callback (it joins the thread
 * that runs them). NULL-tolerant.
 */
void mh_outbound_destroy(struct mh_outbound *o);

/*
 * One request. `method` is an HTTP token ("GET", "POST", …; HEAD sends no body and reads none).
 * `url` is an absolute http:// or https:// URL; it is sent as given (no redirects are followed:
 * a 3xx is reported as a response). `headers` (optional) is a NULL-terminated array of
 * "Name: value" lines without CR or LF; a line with an empty value sends an empty header. The
 * body is sent when body_len > 0 or the method is POST, PUT or PATCH; libcurl's default
 * Content-Type and Expect headers are suppressed, so only what the caller names is sent besides
 * Host, Content-Length, Accept (any type, unless given) and User-Agent ("MeshHook" unless given);
 * Content-Length and Transfer-Encoding lines are dropped, since the framing is libcurl's.
 * `timeout_ms` bounds the whole transfer (0: 30000) and `connect_timeout_ms` the connection
 * (0: 10000). `tenant` (optional, at most MH_OUTBOUND_TENANT_MAX bytes, e.g. a project id) names
 * whose request this is: breakers and the in-flight share are per tenant; NULL and "" are one
 * tenant. `allowlist` (optional) adds hosts and CIDRs this request may reach although they are
 * blocked, in the format of mh_outbound_opts.allowlist; a bad entry fails the request with
 * "invalid_request".
 */
#define MH_OUTBOUND_TENANT_MAX 64
struct mh_outbound_request {
    const char *method;
    const char *url;
    const char *const *headers;
    const char *body;
    size_t body_len;
    long timeout_ms;
    long connect_timeout_ms;
    const char *tenant;
    /* The tenant's own bound on its requests running at once (e.g. a project's
     * http_calls_in_flight limit), below the executor's per-tenant share; 0: that share alone.
     * Requests beyond it wait in the tenant's queue, served in turn with other tenants'. The
     * newest request of a tenant sets it for the requests it waits with. */
    int tenant_max_in_flight;
    const char *allowlist;
    /* The URL's scheme, host or port holds a secret value: the origin is then never written to
     * a log line, an error message, the response's `origin` or a breaker transition report;
     * MH_OUTBOUND_HIDDEN_ORIGIN stands in for it. */
    bool is_origin_secret;
};

#define MH_OUTBOUND_HIDDEN_ORIGIN "[an origin named by a secret]"

/*
 * The outcome handed to a callback, valid only during the callback.
 *
 * On a response (any status, including 4xx, 5xx and 3xx) error_kind is NULL, `status` is set,
 * `headers` is an object mapping lowercased names to strings (repeated headers are joined with
 * ", " in arrival order, as RFC 9110 §5.3 combines them; that is lossy for set-cookie only),
 * `body` holds body_len bytes followed by a NUL (the body itself may contain NULs), and
 * retry_at_ms is the parsed Retry-After (epoch ms) when the response carries a valid one, else 0.
 *
 * Without a response `status` is 0, `headers` an empty object, `body` "" and error_kind one of:
 * "timeout", "connection" (refused, reset, closed without an answer), "dns", "tls", "too_big",
 * "circuit_open" (not sent; retry_at_ms is when the breaker lets a request through again, epoch
 * ms on CLOCK_REALTIME), "canceled" (mh_outbound_destroy), "invalid_request" (a bad method, URL,
 * header line or a forbidden target; not sent) or "other". error_message is human-readable and
 * never holds request headers or the body. duration_ms runs from the start of the transfer
 * (after any queueing) to its end; 0 when nothing was sent.
 */
struct mh_outbound_response {
    int status;
    json_t *headers;
    const char *body;
    size_t body_len;
    const char *error_kind;
    char error_message[256];
    int64_t duration_ms;
    int64_t retry_at_ms;
    /* The breaker's origin of the request, "scheme://host:port" ("" when the URL did not
     * parse; MH_OUTBOUND_HIDDEN_ORIGIN for is_origin_secret): the host a "circuit_open"
     * refusal is about. */
    const char *origin;
};

/* Called exactly once per accepted request, on the executor thread; it must not block long
 * (every other transfer waits) and must not call mh_outbound_destroy. It may submit. */
typedef void (*mh_outbound_done_fn)(void *ctx, const struct mh_outbound_response *resp);

/*
 * Accepts a request: `req` and everything it points to are copied, `ctx` is passed to `done`
 * untouched. Thread-safe. `done` runs exactly once on the executor thread, unless this returns
 * an error, in which case it never runs. Errors: MH_EINVAL for a NULL or malformed argument
 * (NULL method or url, a body pointer missing, negative timeouts, a tenant too long); MH_ELIMIT
 * when max_in_flight + max_queued requests are already pending, or the tenant's share of them
 * (max_in_flight_per_tenant + max_queued_per_tenant); MH_EUNAVAILABLE once destroy has begun.
 * A request whose URL, method or headers are unacceptable, or whose allow-list does not parse, is
 * accepted and completes with "invalid_request", like any other outcome.
 */
MH_MUSTCHECK enum mh_err mh_outbound_submit(struct mh_outbound *o,
                                            const struct mh_outbound_request *req,
                                            mh_outbound_done_fn done, void *ctx);

/*
 * The breaker state of `tenant` (NULL or "": the unnamed tenant) for an origin: "closed", "open"
 * or "half_open" (static strings). `origin` is a URL or just "scheme://host[:port]"; its scheme,
 * host and port (the default port when none is given) name the breaker. NULL for something that
 * does not parse. Thread-safe.
 */
const char *mh_outbound_breaker_state(struct mh_outbound *o, const char *tenant,
                                      const char *origin);

/* Transfers currently running (sent to libcurl and not yet completed). Thread-safe. */
int mh_outbound_in_flight(struct mh_outbound *o);

/*
 * Validates an allow-list: entries separated by commas or whitespace, each one of
 *   - an IP address ("10.1.2.3", "::1") or a CIDR ("10.0.0.0/8", "fd00::/8"): connections to
 *     blocked addresses inside it are allowed, whatever host name led there. A CIDR covers a
 *     cloud metadata address (169.254.169.254, 169.254.170.2, 100.100.100.200, fd00:ec2::254)
 *     only when it names exactly that address (a /32 or /128);
 *   - a host name ("vault.internal", or "*.corp.example" for its subdomains): requests whose
 *     URL names that host may connect to blocked addresses it resolves to.
 * At most MH_OUTBOUND_ALLOWLIST_MAX entries. MH_OK, or MH_EINVAL with a message naming the bad
 * entry in `info` (may be NULL) and its zero-based position in *bad_index (may be NULL). Pure.
 */
#define MH_OUTBOUND_ALLOWLIST_MAX 256
MH_MUSTCHECK enum mh_err mh_outbound_allowlist_check(const char *list, size_t *bad_index,
                                                     struct mh_err_info *info);

/*
 * True when the SSRF guard refuses `addr` (4 bytes for AF_INET, 16 for AF_INET6, network order)
 * unless an allow-list permits it; docs/workflows.md lists the ranges. Pure.
 */
bool mh_outbound_is_blocked_ip(int family, const uint8_t *addr);

#endif
