/* SPDX-License-Identifier: MIT */
/*
 * Webhook intake (docs/architecture.md §7), the hot path: a delivery to /hooks/<public id> is
 * judged against its endpoint (cached), limited (body size, token bucket), verified (none, generic
 * HMAC, GitHub, Stripe, Standard Webhooks, JWT), parsed by content type, validated against the
 * endpoint's JSON Schema, deduplicated on its idempotency key, and then — in one transaction with
 * the run, its first event and its job — recorded; only after COMMIT is it answered 202. Concurrent
 * deliveries are coalesced into shared transactions (group commit); none is answered before the
 * transaction holding it has committed. Refused deliveries are logged by a background writer.
 *
 * The module knows nothing of HTTP servers: src/http/handlers/hooks.c hands it the method,
 * headers and body of a request and sends back what it decides. docs/webhooks.md is the user
 * guide, docs/internals/intake.md the design.
 *
 * Ownership: every pointer argument is borrowed for the duration of the call. Results carry new
 * references the caller releases (mh_intake_result_cleanup). Threads: every function is
 * thread-safe; mh_intake_receive blocks (on the database) for at most the pool's wait plus the
 * statements' time.
 */
#ifndef MH_INTAKE_H
#define MH_INTAKE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/cluster.h"
#include "core/err.h"
#include "db/db.h"

struct mh_intake;
struct mh_engine_runtime;
struct mh_secrets;

struct mh_intake_opts {
    struct mh_db_pool *pool;           /* borrowed; outlives the intake */
    struct mh_db_pool *commit_pool;    /* borrowed; the committers' alone (NULL: `pool`) */
    const struct mh_secrets *secrets;  /* borrowed; its keyring seals and opens signing keys */
    struct mh_engine_runtime *runtime; /* woken after each commit; may be NULL */
    long server_max_body_bytes;        /* the HTTP server's request limit */
    int committers;                    /* group-commit threads; 0: 2 */
    int max_batch;                     /* deliveries per transaction at most; 0: 32 */
    /* A COMMIT whose answer was lost: how long to try to find out whether it committed before
     * answering 503 (docs/webhooks.md); 0 answers 503 at once. */
    int doubt_wait_ms;
    /* Decide a new run's pure first steps in the delivery's transaction (intake_pure_prefix). */
    bool pure_prefix;
    /* Bytes of refused bodies kept for replay per project (docs/webhooks.md); 0: none. */
    long refused_body_quota_bytes;
    /* The server's resource limits per project, for projects that set none (0: unlimited):
     * runs not finished, and bytes stored (docs/operations.md, "Resource limits per project"). */
    long limit_runs_in_flight;
    long limit_stored_bytes;
    /* Instances sharing the rate limits (src/cluster); borrowed; NULL: this one alone. */
    const struct mh_cluster *cluster;
    /* Webhooks per second a project's endpoints admit together unless the project sets its own
     * (docs/configuration.md); 0: no project limit. Its burst; 0: one second's worth. */
    double project_delivery_rate;
    long project_delivery_burst;
    /* The database whose NOTIFY tells a delivery waiting for its run's answer (response mode
     * "respond") that a worker of any instance recorded it; NULL: only this process's workers
     * answer such deliveries. Borrowed during create. */
    const char *listen_url;
};

/* Starts the intake: its committer threads and its delivery-log writer. Without a key-encryption
 * key in the keyring the intake runs, but endpoints with secret keys answer 503 and keys cannot
 * be created. */
MH_MUSTCHECK enum mh_err mh_intake_create(const struct mh_intake_opts *opts, struct mh_intake **out,
                                          struct mh_err_info *info);
/* Waits for in-flight commits, flushes the delivery log, stops the threads and frees
 * everything. No mh_intake_* call may be running or start. NULL-tolerant. */
void mh_intake_destroy(struct mh_intake *in);

/* The project delivery rate in force (docs/api.md, "Project rate limits"): the project's own
 * rate when `has_rate`, else `default_rate` (<= 0: no limit, *out_rate 0); its own burst when
 * `has_burst`, else the default burst unless the project has its own rate, else one second's
 * worth of the rate (at least 1). */
void mh_intake_project_rate_resolve(bool has_rate, double rate, bool has_burst, double burst,
                                    double default_rate, double default_burst, double *out_rate,
                                    double *out_burst);

/* ---- Receiving ----------------------------------------------------------------------------- */

struct mh_intake_header {
    const char *name;
    const char *value;
};

struct mh_intake_request {
    const char *public_id;
    const char *method;
    const struct mh_intake_header *headers; /* as received, any case; borrowed */
    size_t nheaders;
    const void *body; /* the raw bytes as received; may be NULL when body_len is 0 */
    size_t body_len;
    json_t *query;          /* the query-string arguments, name -> value; borrowed; may be NULL */
    const char *request_id; /* for logs and error bodies */
    bool is_test;           /* a test webhook sent through the API */
    /* The caller's thread must not wait on the database (a server thread serving other
     * connections): a delivery that would have to gets mh_intake_result.must_wait instead. */
    bool is_nonblocking;
};

struct mh_intake_result {
    int status;
    json_t *body;      /* new: the response body (202 {"run_id", "delivery_id"} or an error) */
    int retry_after_s; /* > 0: send Retry-After */
    char allow[96];    /* 405: the endpoint's methods, for Allow */
    char run_id[37];   /* "" unless a run was started (202) or found (200, duplicate) */
    char delivery_id[37];
    /* With is_nonblocking: nothing was decided (status 0, no body), because deciding needs the
     * database (an endpoint not cached, or a refusal to confirm on a fresh copy). Receive the
     * delivery again, on a thread that may wait. */
    bool must_wait;
    /* New, or NULL: the answer a respond step computed, {"status", "headers": {name: value},
     * "body"?} (an endpoint in response mode "respond"); `status` is its status and `body` is
     * NULL. Send it with mh_intake_response_render. */
    json_t *response;
};

/*
 * The bytes of a respond step's answer `response`: *content_type (borrowed from `response`, or
 * a static string) and *body (new, free(); NULL when there is none, *len 0). A string body with
 * a content-type header is sent as it is; any other body as JSON (application/json unless the
 * headers name a type).
 */
void mh_intake_response_render(json_t *response, const char **content_type, char **body,
                               size_t *len);

/*
 * Judges and records one delivery; fills `res` (status 202, 200 for a duplicate, or a 4xx/5xx
 * with an error body). Never answers 202 before the run is committed; answers 503 when the
 * database cannot be reached. Nothing of the body, a signature or a key is logged.
 */
void mh_intake_receive(struct mh_intake *in, const struct mh_intake_request *rq,
                       struct mh_intake_result *res);

/*
 * mh_intake_receive without holding the calling thread while the delivery waits for its group
 * commit. Returns true when `res` is final on return. Otherwise the delivery was queued: just
 * before queuing, `waiter->suspend(ctx)` was called on the calling thread, and
 * `waiter->done(ctx)` is called exactly once, on a committer thread, when `res` is final —
 * possibly before this function has returned. `rq` (and what it points to), `res` and `waiter`
 * must stay valid until then. The wait is bounded like mh_intake_receive's.
 */
struct mh_intake_waiter {
    void (*suspend)(void *ctx); /* NULL: nothing to do before queuing */
    void (*done)(void *ctx);
    void *ctx;
};
MH_MUSTCHECK bool mh_intake_receive_async(struct mh_intake *in, const struct mh_intake_request *rq,
                                          struct mh_intake_result *res,
                                          const struct mh_intake_waiter *waiter);

void mh_intake_result_cleanup(struct mh_intake_result *res);

/*
 * The test webhook: signs `body` (with `content_type`) exactly as an external sender would,
 * with the endpoint's newest usable key, and passes it through mh_intake_receive as a test.
 * `*sent_headers` (optional) receives a new object of the headers sent, signatures redacted.
 * Fails (before sending) with MH_EINVAL when the endpoint verifies with public keys only (RS256,
 * ES256: MeshHook holds no private key) or has no usable key, MH_ENOTFOUND when it is unknown.
 */
MH_MUSTCHECK enum mh_err mh_intake_test_send(struct mh_intake *in, const char *public_id,
                                             const char *content_type, const void *body,
                                             size_t body_len, const char *request_id,
                                             struct mh_intake_result *res, json_t **sent_headers,
                                             struct mh_err_info *info);

/* Bodies above this many bytes are kept in the blobs table, referenced by SHA-256 from the
 * run's first event (raw_body_blob), instead of inline in it (raw_body). */
#define MH_INTAKE_INLINE_BODY_MAX (16 * 1024)

/* What mh_intake_rejudge concluded. */
struct mh_intake_rejudged {
    int status;         /* 0: the body passes now; else 413, 415, 400 or 422 */
    const char *code;   /* the intake's code for that refusal (static), or NULL */
    json_t *body_value; /* new (status 0): the body as the trigger sees it */
    json_t *errors;     /* new (422): the JSON Schema's errors, each {path, keyword, message} */
};

/*
 * Judges a refused delivery's recorded body again, for its replay (docs/webhooks.md): against
 * the endpoint `public_id` as it is now (reloaded, not cached), the checks that follow
 * verification — the body's size, its content type (NULL: none) and the JSON Schema. MH_OK with
 * the verdict in `out` (status 0 and body_value when it passes; otherwise the status, code and,
 * for 422, errors, with the message in `info`); MH_ENOTFOUND when the endpoint no longer
 * exists; MH_EUNAVAILABLE when the database cannot be reached. Release `out` with
 * mh_intake_rejudged_cleanup, whatever the result.
 */
MH_MUSTCHECK enum mh_err mh_intake_rejudge(struct mh_intake *in, const char *public_id,
                                           const char *content_type, const char *body, size_t len,
                                           struct mh_intake_rejudged *out,
                                           struct mh_err_info *info);
void mh_intake_rejudged_cleanup(struct mh_intake_rejudged *r);

/* Forgets the cached endpoint `public_id` (NULL: every endpoint) on this instance; the
 * management API calls it after committing a change. Other instances notice the change through
 * the endpoint's config_version, at the latest when they next accept a delivery. */
void mh_intake_invalidate(struct mh_intake *in, const char *public_id);
/* The resource limits of `project_id` changed (the management API, after committing): this
 * instance reads them before judging the project's next delivery. Other instances read them
 * within a second. NULL-tolerant. */
void mh_intake_limits_changed(struct mh_intake *in, const char *project_id);

/* Waits until the refused-delivery log queued so far is written (at most timeout_ms). */
void mh_intake_log_flush(struct mh_intake *in, int timeout_ms);

/* ---- Endpoint configuration (for the management API) --------------------------------------- */

/* The verification schemes' names: "none", "hmac", "github", "stripe", "standard_webhooks",
 * "jwt". */
bool mh_intake_scheme_is_known(const char *scheme);

/*
 * Checks a `verification` object (docs/webhooks.md) and returns a new, normalised copy (defaults
 * filled in) in *out. MH_EINVAL with `info->path` (a JSON pointer inside the object) and a
 * message otherwise.
 */
MH_MUSTCHECK enum mh_err mh_intake_verification_normalize(json_t *verification, json_t **out,
                                                          struct mh_err_info *info);

/* Which key algorithms a scheme accepts: "hmac" for the HMAC schemes, "hs256", "rs256" and
 * "es256" for jwt; none for "none". */
bool mh_intake_scheme_accepts(const char *scheme, const char *algorithm);

/*
 * Checks a secret given for a key of `algorithm` under `scheme` (Standard Webhooks secrets must
 * be whsec_ base64 of 24..64 bytes; HMAC and HS256 secrets at least 16, resp. 32, bytes), or a
 * PEM public key for the public-key algorithms (rs256, ps256, es256, es384, es512, eddsa).
 * MH_EINVAL with a message (never quoting the secret).
 */
MH_MUSTCHECK enum mh_err mh_intake_key_check(const char *scheme, const char *algorithm,
                                             const char *secret, const char *public_key_pem,
                                             struct mh_err_info *info);
/* A JWT public key given as a JWK or in a JWKS document, in the form it is stored in. */
struct mh_intake_public_key {
    char algorithm[8]; /* "rs256", "ps256", "es256", "es384", "es512" or "eddsa" */
    char *pem;         /* new: the PEM PUBLIC KEY */
    char *kid;         /* new: the JWK's "kid", NULL when it has none */
};

/*
 * Reads the public keys of a JWK (`jwk`) or of a JWKS document (`jwks`; exactly one of the two
 * is non-NULL) for the "jwt" scheme into `out` (`cap` entries) and *n. `algorithm` (NULL: each
 * JWK's own "alg", or the one its curve implies) pins every key to that algorithm. MH_EINVAL
 * with a message and `info->path`, a JSON pointer inside the given object ("/x",
 * "/keys/1/crv"). On success release `out` with mh_intake_public_keys_cleanup.
 */
MH_MUSTCHECK enum mh_err mh_intake_keys_from_jwk(const char *scheme, json_t *jwk, json_t *jwks,
                                                 const char *algorithm,
                                                 struct mh_intake_public_key *out, size_t cap,
                                                 size_t *n, struct mh_err_info *info);
void mh_intake_public_keys_cleanup(struct mh_intake_public_key *keys, size_t n);

/* A new random secret suited to `scheme` (whsec_... for Stripe and Standard Webhooks, 32 random
 * bytes in base64url otherwise). Free with mh_crypto_free_secret_str. */
MH_MUSTCHECK enum mh_err mh_intake_key_generate(const char *scheme, char **secret);

/*
 * Seals a key's secret for storage in webhook_endpoint_keys.sealed_key, bound to
 * (project_id, key_id), under the keyring's current KEK. `*sealed` is new (free()): bytea text
 * ("\x<hex>") ready to be a query parameter. MH_EUNAVAILABLE (kind "no-kek") without a KEK.
 */
MH_MUSTCHECK enum mh_err mh_intake_key_seal(struct mh_intake *in, const char *project_id,
                                            const char *key_id, const char *secret, char **sealed,
                                            struct mh_err_info *info);

/* The largest max_body_bytes an endpoint may have: the server's own request limit, which is
 * enforced before any endpoint is known. */
long mh_intake_max_endpoint_body(const struct mh_intake *in);

/* ---- Triggers ----------------------------------------------------------------------------- */

/* Header names whose values are never recorded (signatures, credentials): those of
 * mh_redact_header_is_secret, and `extra` (may be NULL, compared case-insensitively), such as an
 * HMAC endpoint's header. */
bool mh_intake_header_is_secret(const char *name, const char *extra);

#endif
