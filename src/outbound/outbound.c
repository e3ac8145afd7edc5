/* SPDX-License-Identifier: MIT */
/*
 * The outbound executor: one thread per mh_outbound drives a curl multi handle, so any number of
 * HTTP calls share one thread and libcurl's connection cache. Submitting threads only copy the
 * request onto a mutex-protected list and poke the executor with curl_multi_wakeup; everything
 * that touches libcurl handles happens on the executor, which is also where callbacks run.
 * Requests wait in one queue per tenant, and the tenants with work and a free share of the slots
 * are served in turn, so one tenant's fan-out cannot hold every slot. Each request passes its
 * tenant's breaker for the origin (breaker.c) and the SSRF guard (target.c) before it is sent,
 * and its response is collected into bounded buffers, because the far end is not trusted to be
 * small.
 */
#include "outbound/outbound.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "metrics/metrics.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/httpdate.h"
#include "core/log.h"
#include "core/mem.h"
#include "outbound/outbound_internal.h"

#define DEFAULT_MAX_IN_FLIGHT          1024
#define DEFAULT_MAX_QUEUED             10000
#define DEFAULT_MAX_RESPONSE_BYTES     (4u * 1024 * 1024)
#define DEFAULT_MAX_HEADER_BYTES       (64u * 1024)
#define DEFAULT_BREAKER_FAILURES       5
#define DEFAULT_BREAKER_OPEN_MS        30000
#define DEFAULT_BREAKER_MIN_TIMEOUT_MS 1000
#define DEFAULT_TIMEOUT_MS             30000L
#define DEFAULT_CONNECT_TIMEOUT_MS     10000L
#define MAX_METHOD_LEN                 32
/* Buckets of the per-tenant accepted counts (chained, fixed: short chains for thousands of
 * active tenants, and no rehash under the submission lock). */
#define QUOTA_BUCKETS 256
/* The executor wakes at least this often even when nothing happens, as a safety net. */
#define POLL_MS 1000

/* One accepted request, from mh_outbound_submit until its callback has run. */
struct xfer {
    struct xfer *next;     /* the incoming list, then its tenant's waiting list */
    struct xfer *run_prev; /* running list, executor only */
    struct xfer *run_next;
    struct mh_outbound *o;
    mh_outbound_done_fn done;
    void *ctx;

    /* The caller's request, copied. */
    char *method;
    char *url;
    char **headers;
    size_t n_headers;
    char *body;
    size_t body_len;
    long timeout_ms;
    long connect_timeout_ms;
    char tenant[MH_OUTBOUND_TENANT_MAX + 1];
    int tenant_max_in_flight; /* 0: the executor's per-tenant share */
    char *allowlist;          /* NULL: none */

    struct quota *quota; /* its tenant's accepted count; under the engine's lock */

    /* Transfer state; executor only. */
    struct tenant *t;
    CURL *easy;
    CURLU *curlu;
    struct curl_slist *header_list;
    struct mh_outbound__allow *allow; /* the request's own allow-list, compiled */
    char *host;                       /* the URL's host, for host entries of allow-lists */
    char origin[MH_OUTBOUND__ORIGIN_MAX];
    char key[MH_OUTBOUND__KEY_MAX]; /* the breaker's */
    bool is_probe;
    bool is_origin_secret; /* never show `origin` */
    bool is_too_big;
    bool is_blocked;
    char blocked_addr[INET6_ADDRSTRLEN];
    size_t header_bytes;
    struct mh_buf body_buf;
    json_t *resp_headers;
    int64_t started_ms;
    char errbuf[CURL_ERROR_SIZE];
};

/* A tenant with requests waiting or running; executor only. Freed once it has neither. */
struct tenant {
    struct tenant *hnext;      /* hash chain */
    struct tenant *ready_next; /* the ready ring */
    uint64_t hash;
    int running;
    int cap;       /* the newest request's tenant_max_in_flight; 0: none */
    bool is_ready; /* in the ready ring: has waiting requests and a free share */
    struct xfer *wait_head;
    struct xfer *wait_tail;
    char name[];
};

/* How many requests of a tenant are accepted and not completed; under the engine's lock. */
struct quota {
    struct quota *next;
    uint64_t hash;
    int accepted;
    char name[];
};

struct mh_outbound {
    struct mh_outbound_opts opts;
    CURLM *multi;
    struct mh_outbound__breakers *breakers;
    struct mh_outbound__allow *allow; /* server-wide allow-list */
    pthread_t thread;
    bool is_thread_started;
    bool is_curl_initialized;
    atomic_int n_running;

    pthread_mutex_t lock;
    /* Under lock. */
    struct xfer *in_head; /* submitted, not yet taken by the executor */
    struct xfer *in_tail;
    int n_accepted; /* submitted and callback not yet run */
    struct quota *quotas[QUOTA_BUCKETS];
    bool is_stopping;

    /* Executor only. */
    struct tenant **tenants; /* hash table of the active tenants */
    size_t n_buckets;
    size_t n_tenants;
    struct tenant *ready_head; /* tenants to start a request of, served in turn */
    struct tenant *ready_tail;
    struct xfer *running;
};

static enum mh_err check_opts(const struct mh_outbound_opts *in, struct mh_outbound_opts *out);
static struct xfer *xfer_copy(const struct mh_outbound_request *req);
static void xfer_free(struct xfer *x);
static void *executor_main(void *arg);
static void take_incoming(struct mh_outbound *o, bool *is_stopping);
static struct tenant *tenant_get(struct mh_outbound *o, const char *name);
static void tenant_settle(struct mh_outbound *o, struct tenant *t);
static struct tenant *ready_pop(struct mh_outbound *o);
static void start_waiting(struct mh_outbound *o);
static void start_xfer(struct mh_outbound *o, struct xfer *x);
static bool build_headers(struct xfer *x, bool sends_body, char *why, size_t why_len);
static bool build_easy(struct mh_outbound *o, struct xfer *x);
static void reap(struct mh_outbound *o);
static void complete(struct mh_outbound *o, struct xfer *x, CURLcode res);
static void cancel_all(struct mh_outbound *o);
static void fail_now(struct mh_outbound *o, struct xfer *x, const char *kind, int64_t retry_at_ms,
                     const char *fmt, ...) MH_PRINTF(5, 6);
static void deliver(struct mh_outbound *o, struct xfer *x, struct mh_outbound_response *r);
static void running_add(struct mh_outbound *o, struct xfer *x);
static void running_remove(struct mh_outbound *o, struct xfer *x);
static const char *classify(CURLcode res, const struct xfer *x);
static enum mh_outbound__verdict verdict_of(const struct mh_outbound *o, const struct xfer *x,
                                            const char *kind, int status);
static bool is_token(const char *s, size_t n);
static size_t on_body(char *p, size_t size, size_t n, void *ud);
static size_t on_header(char *p, size_t size, size_t n, void *ud);
static char *utf8_sanitize(const char *p, size_t n);
static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr);
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port);
static bool is_refused(struct xfer *x, int family, const uint8_t *addr);
static const char *shown_origin(const struct xfer *x);

/* The origin as logs and reports may show it. */
static const char *shown_origin(const struct xfer *x)
{
    return x->is_origin_secret ? MH_OUTBOUND_HIDDEN_ORIGIN : x->origin;
}

void mh_outbound_opts_init(struct mh_outbound_opts *opts)
{
    *opts = (struct mh_outbound_opts){
        .max_in_flight = DEFAULT_MAX_IN_FLIGHT,
        .max_queued = DEFAULT_MAX_QUEUED,
        .max_response_bytes = DEFAULT_MAX_RESPONSE_BYTES,
        .max_header_bytes = DEFAULT_MAX_HEADER_BYTES,
        .breaker_failures = DEFAULT_BREAKER_FAILURES,
        .breaker_open_ms = DEFAULT_BREAKER_OPEN_MS,
        .breaker_min_timeout_ms = DEFAULT_BREAKER_MIN_TIMEOUT_MS,
    };
}

static enum mh_err check_opts(const struct mh_outbound_opts *in, struct mh_outbound_opts *out)
{
    mh_outbound_opts_init(out);
    if (in == NULL)
        return MH_OK;
    if (in->max_in_flight < 0 || in->max_in_flight_per_tenant < 0 || in->max_queued < 0 ||
        in->max_queued_per_tenant < 0 || in->breaker_failures < 0 || in->breaker_open_ms < 0 ||
        in->breaker_min_timeout_ms < 0)
        return MH_EINVAL;
    if (in->max_in_flight > 0)
        out->max_in_flight = in->max_in_flight;
    out->max_in_flight_per_tenant = in->max_in_flight_per_tenant;
    if (in->max_queued > 0)
        out->max_queued = in->max_queued;
    out->max_queued_per_tenant = in->max_queued_per_tenant;
    if (in->max_response_bytes > 0)
        out->max_response_bytes = in->max_response_bytes;
    if (in->max_header_bytes > 0)
        out->max_header_bytes = in->max_header_bytes;
    if (in->breaker_failures > 0)
        out->breaker_failures = in->breaker_failures;
    if (in->breaker_open_ms > 0)
        out->breaker_open_ms = in->breaker_open_ms;
    if (in->breaker_min_timeout_ms > 0)
        out->breaker_min_timeout_ms = in->breaker_min_timeout_ms;
    out->allow_private_targets = in->allow_private_targets;
    out->allowlist = in->allowlist;
    out->on_breaker = in->on_breaker;
    out->on_breaker_ctx = in->on_breaker_ctx;
    /* The sum bounds the accepted count, an int. */
    if (out->max_in_flight > 1000000 || out->max_queued > 100000000)
        return MH_EINVAL;
    return MH_OK;
}

enum mh_err mh_outbound_create(const struct mh_outbound_opts *opts, struct mh_outbound **out)
{
    enum mh_err rc = MH_OK;
    struct mh_outbound *o = NULL;
    struct mh_outbound_opts checked;

    *out = NULL;
    rc = check_opts(opts, &checked);
    if (rc != MH_OK)
        goto out;
    struct mh_outbound__allow *allow = NULL;
    if (mh_outbound__allow_compile(checked.allowlist, &allow, NULL, NULL) != MH_OK) {
        rc = MH_EINVAL;
        goto out;
    }
    if (checked.max_in_flight_per_tenant == 0)
        checked.max_in_flight_per_tenant = (checked.max_in_flight + 3) / 4;
    if (checked.max_in_flight_per_tenant > checked.max_in_flight)
        checked.max_in_flight_per_tenant = checked.max_in_flight;
    if (checked.max_queued_per_tenant == 0)
        checked.max_queued_per_tenant = (checked.max_queued + 3) / 4;
    if (checked.max_queued_per_tenant > checked.max_queued)
        checked.max_queued_per_tenant = checked.max_queued;
    checked.allowlist = NULL; /* borrowed by create only; the compiled copy stays */
    o = mh_xcalloc(1, sizeof(*o));
    o->opts = checked;
    o->allow = allow;
    o->n_buckets = 64;
    o->tenants = mh_xcalloc(o->n_buckets, sizeof(*o->tenants));
    atomic_init(&o->n_running, 0);
    pthread_mutex_init(&o->lock, NULL);
    o->breakers = mh_outbound__breakers_create(checked.breaker_failures, checked.breaker_open_ms,
                                               checked.on_breaker, checked.on_breaker_ctx);
    /* Reference-counted and thread-safe in the libcurl we build against (7.84+ with OpenSSL). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = MH_EUNAVAILABLE;
        goto out;
    }
    o->is_curl_initialized = true;
    o->multi = curl_multi_init();
    if (o->multi == NULL) {
        rc = MH_EUNAVAILABLE;
        goto out;
    }
    if (pthread_create(&o->thread, NULL, executor_main, o) != 0) {
        rc = MH_EUNAVAILABLE;
        goto out;
    }
    o->is_thread_started = true;
    *out = o;
    o = NULL;
out:
    mh_outbound_destroy(o);
    return rc;
}

void mh_outbound_destroy(struct mh_outbound *o)
{
    if (o == NULL)
        return;
    if (o->is_thread_started) {
        pthread_mutex_lock(&o->lock);
        o->is_stopping = true;
        pthread_mutex_unlock(&o->lock);
        curl_multi_wakeup(o->multi);
        pthread_join(o->thread, NULL);
    }
    MH_ASSERT(o->in_head == NULL && o->n_tenants == 0 && o->running == NULL);
    if (o->multi != NULL)
        curl_multi_cleanup(o->multi);
    if (o->is_curl_initialized)
        curl_global_cleanup();
    mh_outbound__breakers_destroy(o->breakers);
    mh_outbound__allow_destroy(o->allow);
    free(o->tenants);
    pthread_mutex_destroy(&o->lock);
    free(o);
}

static struct xfer *xfer_copy(const struct mh_outbound_request *req)
{
    struct xfer *x = mh_xcalloc(1, sizeof(*x));
    x->tenant_max_in_flight = req->tenant_max_in_flight > 0 ? req->tenant_max_in_flight : 0;
    x->method = mh_xstrdup(req->method);
    x->url = mh_xstrdup(req->url);
    if (req->headers != NULL) {
        while (req->headers[x->n_headers] != NULL)
            x->n_headers++;
        x->headers = mh_xcalloc(x->n_headers + 1, sizeof(*x->headers));
        for (size_t i = 0; i < x->n_headers; i++)
            x->headers[i] = mh_xstrdup(req->headers[i]);
    }
    /* One spare byte keeps the copy non-NULL and NUL-terminated even when empty. */
    x->body = mh_xmalloc(req->body_len + 1);
    if (req->body_len > 0)
        memcpy(x->body, req->body, req->body_len);
    x->body[req->body_len] = '\0';
    x->body_len = req->body_len;
    x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    x->connect_timeout_ms =
        req->connect_timeout_ms > 0 ? req->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    snprintf(x->tenant, sizeof(x->tenant), "%s", req->tenant ? req->tenant : "");
    if (req->allowlist != NULL && req->allowlist[0] != '\0')
        x->allowlist = mh_xstrdup(req->allowlist);
    return x;
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_url_cleanup(x->curlu);
    curl_slist_free_all(x->header_list);
    mh_outbound__allow_destroy(x->allow);
    curl_free(x->host);
    free(x->allowlist);
    mh_buf_cleanup(&x->body_buf);
    json_decref(x->resp_headers);
    for (size_t i = 0; i < x->n_headers; i++)
        free(x->headers[i]);
    free(x->headers);
    free(x->method);
    free(x->url);
    free(x->body);
    free(x);
}

enum mh_err mh_outbound_submit(struct mh_outbound *o, const struct mh_outbound_request *req,
                               mh_outbound_done_fn done, void *ctx)
{
    enum mh_err rc = MH_OK;
    struct xfer *x = NULL;

    if (o == NULL || req == NULL || done == NULL || req->method == NULL || req->url == NULL ||
        (req->body == NULL && req->body_len > 0) || req->timeout_ms < 0 ||
        req->connect_timeout_ms < 0 ||
        (req->tenant != NULL && strlen(req->tenant) > MH_OUTBOUND_TENANT_MAX))
        return MH_EINVAL;
    x = xfer_copy(req);
    x->is_origin_secret = req->is_origin_secret;
    x->o = o;
    x->done = done;
    x->ctx = ctx;

    uint64_t h = mh_outbound__hash(x->tenant);
    pthread_mutex_lock(&o->lock);
    struct quota **slot = &o->quotas[h % QUOTA_BUCKETS];
    while (*slot != NULL && ((*slot)->hash != h || strcmp((*slot)->name, x->tenant) != 0))
        slot = &(*slot)->next;
    if (o->is_stopping) {
        rc = MH_EUNAVAILABLE;
    } else if (o->n_accepted >= o->opts.max_in_flight + o->opts.max_queued ||
               (*slot != NULL && (*slot)->accepted >= o->opts.max_in_flight_per_tenant +
                                                          o->opts.max_queued_per_tenant)) {
        rc = MH_ELIMIT;
    } else {
        if (*slot == NULL) {
            size_t len = strlen(x->tenant);
            *slot = mh_xcalloc(1, sizeof(**slot) + len + 1);
            (*slot)->hash = h;
            memcpy((*slot)->name, x->tenant, len + 1);
        }
        (*slot)->accepted++;
        x->quota = *slot;
        if (o->in_tail != NULL)
            o->in_tail->next = x;
        else
            o->in_head = x;
        o->in_tail = x;
        o->n_accepted++;
        x = NULL;
    }
    pthread_mutex_unlock(&o->lock);
    if (rc == MH_OK)
        curl_multi_wakeup(o->multi);
    xfer_free(x);
    return rc;
}

const char *mh_outbound_breaker_state(struct mh_outbound *o, const char *tenant, const char *origin)
{
    char org[MH_OUTBOUND__ORIGIN_MAX], key[MH_OUTBOUND__KEY_MAX];
    if (o == NULL || origin == NULL || mh_outbound__origin(origin, org) != MH_OK ||
        (tenant != NULL && strlen(tenant) > MH_OUTBOUND_TENANT_MAX))
        return NULL;
    snprintf(key, sizeof(key), "%s@%s", tenant ? tenant : "", org);
    return mh_outbound__breaker_state(o->breakers, key, mh_clock_mono_ms());
}

int mh_outbound_in_flight(struct mh_outbound *o)
{
    return o == NULL ? 0 : atomic_load(&o->n_running);
}

enum mh_err mh_outbound__origin(const char *url, char *out)
{
    enum mh_err rc = MH_EINVAL;
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;

    out[0] = '\0';
    if (u == NULL) {
        rc = MH_ENOMEM;
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
        goto out;
    if ((strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) || host[0] == '\0')
        goto out;
    int n = snprintf(out, MH_OUTBOUND__ORIGIN_MAX, "%s://%s:%s", scheme, host, port);
    if (n < 0 || n >= MH_OUTBOUND__ORIGIN_MAX) {
        out[0] = '\0';
        goto out;
    }
    for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    rc = MH_OK;
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* ---- Executor ------------------------------------------------------------------------------ */

static void *executor_main(void *arg)
{
    struct mh_outbound *o = arg;
    bool is_stopping = false;
    for (;;) {
        take_incoming(o, &is_stopping);
        if (is_stopping)
            break;
        start_waiting(o);
        int still_running = 0;
        CURLMcode mc = curl_multi_perform(o->multi, &still_running);
        if (mc != CURLM_OK)
            mh_log(MH_LOG_ERROR, "outbound", "curl_multi_perform: %s", curl_multi_strerror(mc));
        reap(o);
        /* Slots freed by reap are filled before sleeping; new handles make libcurl's timeout
         * zero, so the poll below returns at once to drive them. */
        start_waiting(o);
        mc = curl_multi_poll(o->multi, NULL, 0, POLL_MS, NULL);
        if (mc != CURLM_OK)
            mh_log(MH_LOG_ERROR, "outbound", "curl_multi_poll: %s", curl_multi_strerror(mc));
    }
    cancel_all(o);
    return NULL;
}

/* Moves submitted requests onto their tenants' waiting lists, in submission order. */
static void take_incoming(struct mh_outbound *o, bool *is_stopping)
{
    pthread_mutex_lock(&o->lock);
    struct xfer *x = o->in_head;
    o->in_head = o->in_tail = NULL;
    *is_stopping = o->is_stopping;
    pthread_mutex_unlock(&o->lock);
    while (x != NULL) {
        struct xfer *next = x->next;
        struct tenant *t = tenant_get(o, x->tenant);
        x->next = NULL;
        x->t = t;
        /* The tenant's own bound follows its newest request (a changed setting applies to the
         * next request taken). */
        t->cap = x->tenant_max_in_flight;
        if (t->wait_tail != NULL)
            t->wait_tail->next = x;
        else
            t->wait_head = x;
        t->wait_tail = x;
        tenant_settle(o, t);
        x = next;
    }
}

/* The active tenant named `name`, created when there is none. */
static struct tenant *tenant_get(struct mh_outbound *o, const char *name)
{
    uint64_t h = mh_outbound__hash(name);
    struct tenant *t = o->tenants[h % o->n_buckets];
    while (t != NULL && (t->hash != h || strcmp(t->name, name) != 0))
        t = t->hnext;
    if (t != NULL)
        return t;
    if (o->n_tenants >= o->n_buckets * 2) {
        size_t n = o->n_buckets * 2;
        struct tenant **nb = mh_xcalloc(n, sizeof(*nb));
        for (size_t i = 0; i < o->n_buckets; i++) {
            for (struct tenant *e = o->tenants[i], *next; e != NULL; e = next) {
                next = e->hnext;
                e->hnext = nb[e->hash % n];
                nb[e->hash % n] = e;
            }
        }
        free(o->tenants);
        o->tenants = nb;
        o->n_buckets = n;
    }
    size_t len = strlen(name);
    t = mh_xcalloc(1, sizeof(*t) + len + 1);
    memcpy(t->name, name, len + 1);
    t->hash = h;
    t->hnext = o->tenants[h % o->n_buckets];
    o->tenants[h % o->n_buckets] = t;
    o->n_tenants++;
    return t;
}

/*
 * Puts `t` where its counts say it belongs: at the end of the ready ring when it has a request
 * waiting and a free share, freed when it has nothing waiting or running. Call it after every
 * change to a tenant's counts, outside the ring (ready_pop takes it out).
 */
static void tenant_settle(struct mh_outbound *o, struct tenant *t)
{
    if (t->is_ready)
        return;
    int share = o->opts.max_in_flight_per_tenant;
    if (t->cap > 0 && t->cap < share)
        share = t->cap;
    if (t->wait_head != NULL && t->running < share) {
        t->is_ready = true;
        t->ready_next = NULL;
        if (o->ready_tail != NULL)
            o->ready_tail->ready_next = t;
        else
            o->ready_head = t;
        o->ready_tail = t;
    } else if (t->wait_head == NULL && t->running == 0) {
        struct tenant **slot = &o->tenants[t->hash % o->n_buckets];
        while (*slot != t)
            slot = &(*slot)->hnext;
        *slot = t->hnext;
        o->n_tenants--;
        free(t);
    }
}

static struct tenant *ready_pop(struct mh_outbound *o)
{
    struct tenant *t = o->ready_head;
    if (t != NULL) {
        o->ready_head = t->ready_next;
        if (o->ready_head == NULL)
            o->ready_tail = NULL;
        t->ready_next = NULL;
        t->is_ready = false;
    }
    return t;
}

/* Fills free slots, one request of each ready tenant in turn. */
static void start_waiting(struct mh_outbound *o)
{
    while (o->ready_head != NULL && atomic_load(&o->n_running) < o->opts.max_in_flight) {
        struct tenant *t = ready_pop(o);
        struct xfer *x = t->wait_head;
        t->wait_head = x->next;
        if (t->wait_head == NULL)
            t->wait_tail = NULL;
        x->next = NULL;
        start_xfer(o, x); /* running_add counts it, or it has completed already */
        tenant_settle(o, t);
    }
}

static bool is_token(const char *s, size_t n)
{
    static const char extra[] = "!#$%&'*+-.^_`|~";
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c != '\0' && strchr(extra, c) != NULL);
        if (!ok)
            return false;
    }
    return true;
}

/* Validates the request, asks the breaker, and hands the transfer to libcurl; or completes it. */
static void start_xfer(struct mh_outbound *o, struct xfer *x)
{
    char why[160];
    size_t mlen = strlen(x->method);
    if (mlen > MAX_METHOD_LEN || !is_token(x->method, mlen) ||
        strcasecmp(x->method, "CONNECT") == 0) {
        fail_now(o, x, "invalid_request", 0, "method is not an acceptable HTTP token");
        return;
    }
    if (mh_outbound__origin(x->url, x->origin) != MH_OK) {
        fail_now(o, x, "invalid_request", 0, "URL is not an absolute http or https URL");
        return;
    }
    x->curlu = curl_url();
    if (x->curlu == NULL || curl_url_set(x->curlu, CURLUPART_URL, x->url, 0) != CURLUE_OK ||
        curl_url_get(x->curlu, CURLUPART_HOST, &x->host, 0) != CURLUE_OK) {
        fail_now(o, x, "invalid_request", 0, "URL is not an absolute http or https URL");
        return;
    }
    snprintf(x->key, sizeof(x->key), "%s@%s", x->tenant, x->origin);
    struct mh_err_info info = MH_ERR_INFO_INIT;
    if (mh_outbound__allow_compile(x->allowlist, &x->allow, NULL, &info) != MH_OK) {
        fail_now(o, x, "invalid_request", 0, "%s", info.message);
        return;
    }
    bool is_head = strcmp(x->method, "HEAD") == 0;
    bool sends_body =
        !is_head && (x->body_len > 0 || strcmp(x->method, "POST") == 0 ||
                     strcmp(x->method, "PUT") == 0 || strcmp(x->method, "PATCH") == 0);
    if (!build_headers(x, sends_body, why, sizeof(why))) {
        fail_now(o, x, "invalid_request", 0, "%s", why);
        return;
    }

    int64_t retry_in_ms = 0;
    if (!mh_outbound__breaker_admit(o->breakers, x->key, mh_clock_mono_ms(), &x->is_probe,
                                    &retry_in_ms)) {
        fail_now(o, x, "circuit_open", mh_clock_now_ms() + retry_in_ms,
                 "circuit breaker open for %s; not sent", shown_origin(x));
        return;
    }
    if (x->is_probe)
        mh_log(MH_LOG_INFO, "outbound", "breaker half-open, probing origin=%s", shown_origin(x));

    mh_buf_init(&x->body_buf, o->opts.max_response_bytes);
    x->resp_headers = json_object();
    if (x->resp_headers == NULL || !build_easy(o, x)) {
        mh_outbound__breaker_report(o->breakers, x->key, x->is_probe, MH_OUTBOUND__NEUTRAL,
                                    mh_clock_mono_ms(), x->is_origin_secret);
        fail_now(o, x, "other", 0, "could not set up the transfer");
        return;
    }
    if (sends_body) {
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
        if (strcmp(x->method, "POST") != 0)
            curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, x->method);
    } else if (is_head) {
        /* Not with a size limit: a HEAD response's Content-Length describes a body never sent. */
        curl_easy_setopt(x->easy, CURLOPT_NOBODY, 1L);
    } else if (strcmp(x->method, "GET") != 0) {
        curl_easy_setopt(x->easy, CURLOPT_CUSTOMREQUEST, x->method);
    }
    if (!is_head) {
        /* Refuses early, on a Content-Length over the limit; on_body catches the rest. */
        curl_easy_setopt(x->easy, CURLOPT_MAXFILESIZE_LARGE,
                         (curl_off_t)o->opts.max_response_bytes);
    }
    x->started_ms = mh_clock_mono_ms();
    CURLMcode mc = curl_multi_add_handle(o->multi, x->easy);
    if (mc != CURLM_OK) {
        mh_outbound__breaker_report(o->breakers, x->key, x->is_probe, MH_OUTBOUND__NEUTRAL,
                                    mh_clock_mono_ms(), x->is_origin_secret);
        fail_now(o, x, "other", 0, "could not start the transfer: %s", curl_multi_strerror(mc));
        return;
    }
    running_add(o, x);
}

/*
 * Turns the caller's header lines into libcurl's list. An empty value becomes curl's "Name;"
 * form (curl would drop "Name:"), Content-Length and Transfer-Encoding are dropped, and curl's
 * own Content-Type (form-urlencoded) and Expect: 100-continue are suppressed unless given.
 */
static bool build_headers(struct xfer *x, bool sends_body, char *why, size_t why_len)
{
    bool has_content_type = false, has_expect = false;
    for (size_t i = 0; i < x->n_headers; i++) {
        const char *line = x->headers[i];
        const char *colon = strchr(line, ':');
        if (colon == NULL || !is_token(line, (size_t)(colon - line)) || strpbrk(line, "\r\n")) {
            snprintf(why, why_len, "header line %zu is not \"Name: value\" on one line", i + 1);
            return false;
        }
        size_t nlen = (size_t)(colon - line);
        if ((nlen == 14 && strncasecmp(line, "content-length", nlen) == 0) ||
            (nlen == 17 && strncasecmp(line, "transfer-encoding", nlen) == 0))
            continue;
        if (nlen == 12 && strncasecmp(line, "content-type", nlen) == 0)
            has_content_type = true;
        if (nlen == 6 && strncasecmp(line, "expect", nlen) == 0)
            has_expect = true;
        const char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        struct curl_slist *l;
        if (*v == '\0') {
            char *semi = mh_xstrndup(line, nlen + 1);
            semi[nlen] = ';';
            l = curl_slist_append(x->header_list, semi);
            free(semi);
        } else {
            l = curl_slist_append(x->header_list, line);
        }
        if (l == NULL) {
            snprintf(why, why_len, "out of memory building headers");
            return false;
        }
        x->header_list = l;
    }
    if (sends_body && !has_content_type) {
        struct curl_slist *l = curl_slist_append(x->header_list, "Content-Type:");
        if (l == NULL)
            goto oom;
        x->header_list = l;
    }
    if (sends_body && !has_expect) {
        struct curl_slist *l = curl_slist_append(x->header_list, "Expect:");
        if (l == NULL)
            goto oom;
        x->header_list = l;
    }
    return true;
oom:
    snprintf(why, why_len, "out of memory building headers");
    return false;
}

/* The options every transfer gets; see outbound.h and docs/internals/outbound.md for why. */
static bool build_easy(struct mh_outbound *o, struct xfer *x)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return false;
    x->easy = e;
    x->errbuf[0] = '\0';
    CURLcode c = CURLE_OK;
#define SET(opt, val)                                                                              \
    do {                                                                                           \
        if (c == CURLE_OK)                                                                         \
            c = curl_easy_setopt(e, opt, val);                                                     \
    } while (0)
    SET(CURLOPT_CURLU, x->curlu);
    SET(CURLOPT_PRIVATE, x);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    /* An empty proxy disables proxies, including http_proxy and friends from the environment:
     * where requests go must not depend on how the process happened to be started. */
    SET(CURLOPT_PROXY, "");
    SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_KEEPIDLE, 60L);
    SET(CURLOPT_TCP_KEEPINTVL, 30L);
    SET(CURLOPT_TIMEOUT_MS, x->timeout_ms);
    SET(CURLOPT_CONNECTTIMEOUT_MS, x->connect_timeout_ms);
    SET(CURLOPT_USERAGENT, "MeshHook");
    SET(CURLOPT_HTTPHEADER, x->header_list);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    if (!o->opts.allow_private_targets) {
        /* Before a new connection is opened, after DNS; and before each request is sent,
         * since a cached connection may have been opened for a request that was allowed to
         * reach the address (another tenant's allow-list) and reuse calls no opensocket. */
        SET(CURLOPT_OPENSOCKETFUNCTION, on_opensocket);
        SET(CURLOPT_OPENSOCKETDATA, x);
        SET(CURLOPT_PREREQFUNCTION, on_prereq);
        SET(CURLOPT_PREREQDATA, x);
    }
#undef SET
    return c == CURLE_OK;
}

static void running_add(struct mh_outbound *o, struct xfer *x)
{
    x->run_prev = NULL;
    x->run_next = o->running;
    if (o->running != NULL)
        o->running->run_prev = x;
    o->running = x;
    x->t->running++;
    atomic_fetch_add(&o->n_running, 1);
}

static void running_remove(struct mh_outbound *o, struct xfer *x)
{
    if (x->run_prev != NULL)
        x->run_prev->run_next = x->run_next;
    else
        o->running = x->run_next;
    if (x->run_next != NULL)
        x->run_next->run_prev = x->run_prev;
    x->run_prev = x->run_next = NULL;
    x->t->running--;
    atomic_fetch_sub(&o->n_running, 1);
}

static void reap(struct mh_outbound *o)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(o->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result; /* `msg` dies with the handle's removal */
        char *priv = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
        struct xfer *x = (struct xfer *)priv;
        struct tenant *t = x->t;
        curl_multi_remove_handle(o->multi, e);
        running_remove(o, x);
        complete(o, x, res);
        tenant_settle(o, t);
    }
}

static const char *classify(CURLcode res, const struct xfer *x)
{
    switch (res) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY: return "dns";
    case CURLE_COULDNT_CONNECT: return x->is_blocked ? "invalid_request" : "connection";
    case CURLE_ABORTED_BY_CALLBACK: return x->is_blocked ? "invalid_request" : "other";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_QUIC_CONNECT_ERROR: return "connection";
    case CURLE_WRITE_ERROR: return x->is_too_big ? "too_big" : "other";
    case CURLE_FILESIZE_EXCEEDED: return "too_big";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED: return "tls";
    /* Only the URL can be malformed: the scheme was checked before sending, so an unsupported
     * protocol now means a reply that is not HTTP, which falls under "other". */
    case CURLE_URL_MALFORMAT: return "invalid_request";
    default: return "other";
    }
}

/* Failures of the host (not of the request or of MeshHook) are what open a breaker. A
 * too-big body still proves the host answered; a timeout shorter than breaker_min_timeout_ms
 * proves nothing either way. */
static enum mh_outbound__verdict verdict_of(const struct mh_outbound *o, const struct xfer *x,
                                            const char *kind, int status)
{
    if (kind == NULL)
        return status >= 500 ? MH_OUTBOUND__FAILURE : MH_OUTBOUND__SUCCESS;
    if (strcmp(kind, "timeout") == 0 && (x->timeout_ms < o->opts.breaker_min_timeout_ms ||
                                         x->connect_timeout_ms < o->opts.breaker_min_timeout_ms))
        return MH_OUTBOUND__NEUTRAL;
    if (strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0 ||
        strcmp(kind, "dns") == 0 || strcmp(kind, "tls") == 0)
        return MH_OUTBOUND__FAILURE;
    if (strcmp(kind, "too_big") == 0)
        return MH_OUTBOUND__SUCCESS;
    return MH_OUTBOUND__NEUTRAL;
}

static void complete(struct mh_outbound *o, struct xfer *x, CURLcode res)
{
    struct mh_outbound_response r;
    memset(&r, 0, sizeof(r));
    r.duration_ms = mh_clock_mono_ms() - x->started_ms;
    r.headers = x->resp_headers;
    r.body = "";
    if (res == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
        r.status = (int)status;
        r.body = mh_buf_str(&x->body_buf);
        r.body_len = mh_buf_len(&x->body_buf);
        const char *ra = json_string_value(json_object_get(x->resp_headers, "retry-after"));
        if (ra != NULL) {
            int64_t at = mh_http_retry_after(ra, mh_clock_now_ms());
            r.retry_at_ms = at > 0 ? at : 0;
        }
    } else {
        json_object_clear(x->resp_headers);
        r.error_kind = classify(res, x);
        if (x->is_blocked && (res == CURLE_COULDNT_CONNECT || res == CURLE_ABORTED_BY_CALLBACK))
            snprintf(r.error_message, sizeof(r.error_message),
                     "connection to %s refused: private targets are not allowed (the address is "
                     "internal or reserved and no outbound allow-list names it)",
                     x->blocked_addr);
        else if (strcmp(r.error_kind, "too_big") == 0)
            snprintf(r.error_message, sizeof(r.error_message),
                     "response exceeds the limit (%zu body bytes, %zu header bytes)",
                     o->opts.max_response_bytes, o->opts.max_header_bytes);
        else
            snprintf(r.error_message, sizeof(r.error_message), "%s",
                     x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
    }
    mh_outbound__breaker_report(o->breakers, x->key, x->is_probe,
                                verdict_of(o, x, r.error_kind, r.status), mh_clock_mono_ms(),
                                x->is_origin_secret);
    curl_off_t total_us = 0;
    if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us) != CURLE_OK)
        total_us = (curl_off_t)r.duration_ms * 1000;
    mh_metrics_http_call(res == CURLE_OK ? r.status : 0, (int64_t)total_us * 1000);
    if (r.error_kind != NULL)
        mh_log(MH_LOG_DEBUG, "outbound", "request failed origin=%s kind=%s ms=%lld",
               shown_origin(x), r.error_kind, (long long)r.duration_ms);
    deliver(o, x, &r);
}

/* Completes a request that was never handed to libcurl (or is being canceled). */
static void fail_now(struct mh_outbound *o, struct xfer *x, const char *kind, int64_t retry_at_ms,
                     const char *fmt, ...)
{
    struct mh_outbound_response r;
    memset(&r, 0, sizeof(r));
    json_t *empty = json_object();
    if (empty == NULL)
        mh_panic("out of memory");
    r.headers = empty;
    r.body = "";
    r.error_kind = kind;
    r.retry_at_ms = retry_at_ms;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r.error_message, sizeof(r.error_message), fmt, ap);
    va_end(ap);
    deliver(o, x, &r);
    json_decref(empty);
}

/* Runs the callback, frees the request, and only then releases its slot in the accepted count,
 * so a callback that resubmits cannot exceed the bound. */
static void deliver(struct mh_outbound *o, struct xfer *x, struct mh_outbound_response *r)
{
    struct quota *q = x->quota;
    r->origin = shown_origin(x);
    x->done(x->ctx, r);
    xfer_free(x);
    pthread_mutex_lock(&o->lock);
    o->n_accepted--;
    if (--q->accepted == 0) {
        struct quota **slot = &o->quotas[q->hash % QUOTA_BUCKETS];
        while (*slot != q)
            slot = &(*slot)->next;
        *slot = q->next;
        free(q);
    }
    pthread_mutex_unlock(&o->lock);
}

/* After is_stopping: nothing more can be submitted, so the lists only shrink from here. */
static void cancel_all(struct mh_outbound *o)
{
    bool is_stopping;
    take_incoming(o, &is_stopping);
    while (o->running != NULL) {
        struct xfer *x = o->running;
        struct tenant *t = x->t;
        curl_multi_remove_handle(o->multi, x->easy);
        running_remove(o, x);
        mh_outbound__breaker_report(o->breakers, x->key, x->is_probe, MH_OUTBOUND__NEUTRAL,
                                    mh_clock_mono_ms(), x->is_origin_secret);
        int64_t ms = mh_clock_mono_ms() - x->started_ms;
        fail_now(o, x, "canceled", 0, "canceled after %lld ms: the outbound engine stopped",
                 (long long)ms);
        tenant_settle(o, t);
    }
    while (ready_pop(o) != NULL) {
    }
    for (size_t i = 0; i < o->n_buckets; i++) {
        while (o->tenants[i] != NULL) {
            struct tenant *t = o->tenants[i];
            while (t->wait_head != NULL) {
                struct xfer *x = t->wait_head;
                t->wait_head = x->next;
                fail_now(o, x, "canceled", 0,
                         "canceled before sending: the outbound engine stopped");
            }
            t->wait_tail = NULL;
            tenant_settle(o, t); /* frees it: nothing waits or runs */
        }
    }
}

/* ---- libcurl callbacks (executor thread) ---------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (mh_buf_append(&x->body_buf, p, len) != MH_OK) {
        x->is_too_big = true;
        return 0; /* anything but len aborts the transfer with CURLE_WRITE_ERROR */
    }
    return len;
}

/*
 * Collects one header line into x->resp_headers. A status line starts a new header block, so
 * only the final response's headers remain (after 100 Continue and other interim responses).
 */
static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    size_t max = x->o->opts.max_header_bytes;
    if (len > max || x->header_bytes > max - len) {
        x->is_too_big = true;
        return 0;
    }
    x->header_bytes += len;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        json_object_clear(x->resp_headers);
        return len;
    }
    size_t end = len;
    while (end > 0 && (p[end - 1] == '\r' || p[end - 1] == '\n'))
        end--;
    const char *colon = memchr(p, ':', end);
    if (colon == NULL || colon == p)
        return len; /* the blank line ending the block, or an obsolete folded line */
    size_t nlen = (size_t)(colon - p);
    const char *v = colon + 1;
    const char *vend = p + end;
    while (v < vend && (*v == ' ' || *v == '\t'))
        v++;
    while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
        vend--;

    char *name = utf8_sanitize(p, nlen);
    for (char *q = name; *q; q++)
        if (*q >= 'A' && *q <= 'Z')
            *q = (char)(*q - 'A' + 'a');
    char *value = utf8_sanitize(v, (size_t)(vend - v));
    const char *prev = json_string_value(json_object_get(x->resp_headers, name));
    json_t *js;
    if (prev != NULL) {
        size_t a = strlen(prev), b = strlen(value);
        char *joined = mh_xmalloc(a + 2 + b + 1);
        memcpy(joined, prev, a);
        memcpy(joined + a, ", ", 2);
        memcpy(joined + a + 2, value, b + 1);
        js = json_string(joined);
        free(joined);
    } else {
        js = json_string(value);
    }
    if (js == NULL || json_object_set_new(x->resp_headers, name, js) != 0)
        mh_panic("out of memory");
    free(name);
    free(value);
    return len;
}

/* A new NUL-terminated copy of `p` in which every byte that is not part of valid UTF-8, and
 * every NUL, becomes U+FFFD: header bytes come from the network, jansson wants UTF-8. */
static char *utf8_sanitize(const char *p, size_t n)
{
    const unsigned char *s = (const unsigned char *)p;
    char *out = mh_xmalloc(n * 3 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len = 0;
        uint32_t cp = 0;
        if (c >= 0x01 && c < 0x80) {
            len = 1;
            cp = c;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        }
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                ok = false;
            else
                cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (ok && ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
                   (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))))
            ok = false;
        if (ok) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 1;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- SSRF guard (the policy is target.c's) ------------------------------------------------- */

/* True when `addr` is blocked and neither allow-list permits it; records it for the message. */
static bool is_refused(struct xfer *x, int family, const uint8_t *addr)
{
    if (!mh_outbound_is_blocked_ip(family, addr) ||
        mh_outbound__allow_permits(x->o->allow, x->host, family, addr) ||
        mh_outbound__allow_permits(x->allow, x->host, family, addr))
        return false;
    x->is_blocked = true;
    if (inet_ntop(family, addr, x->blocked_addr, sizeof(x->blocked_addr)) == NULL)
        snprintf(x->blocked_addr, sizeof(x->blocked_addr), "an address");
    return true;
}

/* Checks the address libcurl is about to connect to, after DNS, so a name that resolves to an
 * internal address (or rebinds to one) is caught before a packet is sent to it. */
static curl_socket_t on_opensocket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct xfer *x = ud;
    if (purpose == CURLSOCKTYPE_IPCXN) {
        const uint8_t *raw = NULL;
        if (addr->family == AF_INET6)
            raw = ((const struct sockaddr_in6 *)&addr->addr)->sin6_addr.s6_addr;
        else if (addr->family == AF_INET)
            raw = (const uint8_t *)&((const struct sockaddr_in *)&addr->addr)->sin_addr.s_addr;
        if (raw == NULL) {
            x->is_blocked = true;
            snprintf(x->blocked_addr, sizeof(x->blocked_addr), "a non-IP address");
            return CURL_SOCKET_BAD;
        }
        if (is_refused(x, addr->family, raw))
            return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* Checks the peer of the connection a request is about to be sent on, new or reused. */
static int on_prereq(void *ud, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    struct xfer *x = ud;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    uint8_t raw[16];
    int family = strchr(primary_ip, ':') != NULL ? AF_INET6 : AF_INET;
    if (inet_pton(family, primary_ip, raw) != 1) {
        x->is_blocked = true;
        snprintf(x->blocked_addr, sizeof(x->blocked_addr), "an unparsable address");
        return CURL_PREREQFUNC_ABORT;
    }
    return is_refused(x, family, raw) ? CURL_PREREQFUNC_ABORT : CURL_PREREQFUNC_OK;
}
