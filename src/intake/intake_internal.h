/* SPDX-License-Identifier: MIT */
/* Private to intake. */
#ifndef MH_INTAKE_INTERNAL_H
#define MH_INTAKE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "cluster/cluster.h"
#include "schemes/schemes.h"
#include "crypto/jwt.h"
#include "crypto/webhook_sig.h"
#include "intake/intake.h"
#include "schema/schema.h"

/* See MH_INTAKE_INLINE_BODY_MAX. */
#define MH_INTAKE__INLINE_BODY_MAX MH_INTAKE_INLINE_BODY_MAX
/* Deliveries committed in one transaction at most, unless configured (intake_max_batch). */
#define MH_INTAKE__DEFAULT_MAX_BATCH 32
/* A refusal judged on a cached entry older than this reloads the endpoint first, so a change
 * made through another instance is seen within this time even by refusals. */
#define MH_INTAKE__REFRESH_MS 1000
/* Unknown public ids are remembered this long, so a scan of random ids costs no lookups. */
#define MH_INTAKE__NEGATIVE_TTL_MS 2000
/* Headers recorded per delivery, and the longest value recorded. */
#define MH_INTAKE__MAX_HEADERS      64
#define MH_INTAKE__MAX_HEADER_VALUE 1024
#define MH_INTAKE__MAX_IDEM_KEY     255

enum mh_intake__alg {
    MH_INTAKE__ALG_HMAC = 0,
    MH_INTAKE__ALG_HS256,
    MH_INTAKE__ALG_PUBLIC, /* a JWT public key; `jwt` holds its algorithm */
};

struct mh_intake__key {
    char id[37];
    enum mh_intake__alg alg;
    uint8_t *secret; /* the bytes MACs are keyed with (whsec_ decoded for Standard Webhooks) */
    size_t secret_len;
    struct mh_crypto_jwt_key *jwt; /* jwt scheme only */
    int64_t created_ms;
    int64_t expires_ms; /* 0: never */
    /* When this server last had the key's last_used_at written (mh_intake__key_note_use). The
     * one field of a published endpoint that changes. */
    _Atomic int64_t use_noted_ms;
};

/* Notes the key was used at `now_ms` to its last_used_at at most once per
 * MH_INTAKE__KEY_USE_EVERY_MS: true when this use is the one to write (the caller's delivery
 * row then asks its group commit to). */
#define MH_INTAKE__KEY_USE_EVERY_MS 60000
bool mh_intake__key_note_use(const struct mh_intake__key *k, int64_t now_ms);

/* An endpoint as loaded: immutable once published in the cache, shared by reference. */
struct mh_intake__endpoint {
    _Atomic int refs;
    char id[37];
    char project_id[37];
    char workflow_id[37];
    char version_id[37]; /* "" when there is no published version to start */
    int64_t version;
    int64_t config_version;
    bool is_enabled;
    char methods[96];               /* "POST, PUT" */
    const struct mh_scheme *scheme; /* an entry of the one table (src/schemes/schemes.c) */
    /* The scheme's settings, read from `verification` (normalised), whose strings they borrow. */
    struct mh_scheme_settings settings;
    json_t *verification;
    long max_body_bytes;
    double rate_capacity;
    double rate_per_second;
    /* The project's delivery rate (its own, else the server's default); <= 0: no limit. */
    double project_rate_per_second;
    double project_burst;
    int retention_s;
    struct mh_schema *schema; /* NULL: none */
    struct mh_intake__key *keys;
    size_t nkeys;
    /* Why the endpoint cannot verify (a key that does not open, no KEK); NULL when it can. */
    char *broken;
    /* The started version compiled (NULL: none, or it does not compile): the intake decides a
     * new run's pure prefix with it. */
    struct mh_wf *wf;
    bool has_respond; /* wf has a respond node */
    /* response_mode "respond": answer with the run's respond step, waiting at most
     * response_timeout_ms for it. */
    bool responds;
    int response_timeout_ms;
};

struct mh_intake__endpoint *mh_intake__endpoint_ref(struct mh_intake__endpoint *ep);
void mh_intake__endpoint_unref(struct mh_intake__endpoint *ep);
/* Builds an endpoint from a row of mh_intake_endpoint(). Keys that do not open make it
 * `broken` rather than failing. MH_EINVAL for a row that makes no sense. */
MH_MUSTCHECK enum mh_err mh_intake__endpoint_from_row(struct mh_intake *in, json_t *row,
                                                      struct mh_intake__endpoint **out,
                                                      struct mh_err_info *info);

/* ---- Cache (cache.c) ---------------------------------------------------------------------- */

struct mh_intake__cache;
struct mh_intake__cache *mh_intake__cache_create(void);
void mh_intake__cache_destroy(struct mh_intake__cache *c);
/*
 * The endpoint `public_id`: a new reference in *out, or NULL when it does not exist. Loads it
 * (through `pool`) on a miss, or when `min_age_ms` >= 0 and the cached entry is at least that
 * old. MH_EUNAVAILABLE when the database cannot be reached.
 */
MH_MUSTCHECK enum mh_err mh_intake__cache_get(struct mh_intake *in, const char *public_id,
                                              int64_t reload_if_older_ms,
                                              struct mh_intake__endpoint **out,
                                              struct mh_err_info *info);
/* mh_intake__cache_get without the database: true, with the endpoint (a new reference, or NULL
 * when it does not exist) in *out, when the cache can answer as it would; false when it would
 * have to load it. */
bool mh_intake__cache_peek(struct mh_intake__cache *c, const char *public_id,
                           int64_t reload_if_older_ms, struct mh_intake__endpoint **out);
void mh_intake__cache_forget(struct mh_intake__cache *c, const char *public_id);
/* Token bucket: takes one token from `ep`'s bucket, shared by `share` instances
 * (mh_intake__bucket_take); on refusal *retry_after_s tells when one will be there. */
bool mh_intake__cache_take_token(struct mh_intake__cache *c, const struct mh_intake__endpoint *ep,
                                 const char *public_id, int share, int64_t now_ms,
                                 int *retry_after_s);
/* Gives back a token taken by mh_intake__cache_take_token (a later check refused the request
 * before it cost anything). */
void mh_intake__cache_return_token(struct mh_intake__cache *c, const struct mh_intake__endpoint *ep,
                                   const char *public_id, int share);

/* ---- Rates (rate.c) ------------------------------------------------------------------------ */

struct mh_intake__bucket {
    double tokens;
    int64_t refilled_ms;
    bool is_started; /* false: full at its first use */
};
/* Refills `b` for the time since its last use and takes one token. Shared by `share` instances
 * (>= 1): this one's bucket holds capacity/share (at least one token) and refills at
 * per_second/share. On refusal *retry_after_s (>= 1) tells when a token will be there. */
bool mh_intake__bucket_take(struct mh_intake__bucket *b, double capacity, double per_second,
                            int share, int64_t now_ms, int *retry_after_s);

/* The projects' delivery buckets, keyed by project id. Thread-safe. */
struct mh_intake__rates;
struct mh_intake__rates *mh_intake__rates_create(void);
void mh_intake__rates_destroy(struct mh_intake__rates *r);
/* Takes a token from the bucket of `ep`'s project (always true when it has no limit). */
bool mh_intake__rates_take_project(struct mh_intake__rates *r, const struct mh_intake__endpoint *ep,
                                   int share, int64_t now_ms, int *retry_after_s);

/* ---- Content (content.c) ------------------------------------------------------------------ */

enum mh_intake__kind {
    MH_INTAKE__KIND_EMPTY = 0,
    MH_INTAKE__KIND_JSON,
    MH_INTAKE__KIND_FORM,
    MH_INTAKE__KIND_XML,
    MH_INTAKE__KIND_TEXT,
};

/*
 * Parses `body` by its declared content type (NULL when absent) into *value (new): JSON as
 * parsed (what mh_intake__json_check accepts: what jansson reads, nested at most 500 deep), a
 * form as an object (repeated names become arrays), XML and text as a string; an empty body
 * without a content type is null. MH_EINVAL (400: unparseable for its type) or
 * MH_ENOTFOUND (415: a type MeshHook does not accept) with a message.
 */
MH_MUSTCHECK enum mh_err mh_intake__parse_body(const char *content_type, const char *body,
                                               size_t len, enum mh_intake__kind *kind,
                                               json_t **value, struct mh_err_info *info);
/* The same verdict as mh_intake__parse_body without building a JSON body: for JSON, *kind is
 * MH_INTAKE__KIND_JSON and *value stays NULL (the run's first event carries the raw bytes, which
 * the engine parses, see build_extra in intake.c). Other types are parsed as by parse_body. */
MH_MUSTCHECK enum mh_err mh_intake__check_body(const char *content_type, const char *body,
                                               size_t len, enum mh_intake__kind *kind,
                                               json_t **value, struct mh_err_info *info);
bool mh_intake__is_utf8(const char *s, size_t len);
/* Well-formedness of an XML 1.0 document without a DOCTYPE. */
MH_MUSTCHECK enum mh_err mh_intake__xml_check(const char *s, size_t len, struct mh_err_info *info);

/* ---- Verification (verify.c) -------------------------------------------------------------- */

struct mh_intake__verified {
    const struct mh_intake__key *key; /* NULL under "none" */
    int64_t signed_at;                /* Stripe and Standard Webhooks: the signed timestamp */
    char signature_sha256[65];        /* hex SHA-256 of the signature header as received */
};

/* Looks up a header (case-insensitive); NULL when absent. */
const char *mh_intake__header(const struct mh_intake_request *rq, const char *name);
/* Verifies `rq` under `ep`'s scheme with its usable keys at `now_s`. MH_EAUTH with the reason
 * in `info` (never a signature or key); MH_EUNAVAILABLE when the endpoint is broken. */
MH_MUSTCHECK enum mh_err mh_intake__verify(const struct mh_intake__endpoint *ep,
                                           const struct mh_intake_request *rq, int64_t now_s,
                                           struct mh_intake__verified *v, struct mh_err_info *info);
/* Adds the signature headers a sender would send for `body` to `headers` (an object), signed
 * with `ep`'s newest usable key at `now_s`. MH_EINVAL when the endpoint cannot sign. */
MH_MUSTCHECK enum mh_err mh_intake__sign(const struct mh_intake__endpoint *ep, const void *body,
                                         size_t len, int64_t now_s, json_t *headers,
                                         struct mh_err_info *info);

/* ---- Group commit (commit.c) -------------------------------------------------------------- */

enum mh_intake__outcome {
    MH_INTAKE__PENDING = 0,
    MH_INTAKE__ACCEPTED,
    MH_INTAKE__DUPLICATE,
    MH_INTAKE__STALE, /* the endpoint changed since it was loaded: reload and try again */
    MH_INTAKE__FAILED,
};

/* One delivery to record. The inputs are borrowed from the submitting thread, which waits. */
struct mh_intake__item {
    const struct mh_intake__endpoint *ep;
    const char *idem_key; /* NULL: none */
    /* The row asks for its key's last_used_at to be written: the batch uses the statement that
     * does (commit.c), and the others pay nothing for it. */
    bool notes_key_use;
    /* The delivery's row for the batch statement (commit.c): a JSON object with the run id,
     * the sealed first event and the delivery log fields. */
    const char *row_json;
    /* Called once, on a committer thread and outside its lock, when the transaction holding the
     * item has committed or failed; `outcome` is then final. It may queue the item again. */
    void (*on_done)(struct mh_intake__item *item);
    /* Results: `result` is the committer's working state, `outcome` what it concluded. `run_id`
     * is the new run's id, or the first run's for a duplicate. */
    char run_id[37];
    enum mh_intake__outcome result;
    enum mh_intake__outcome outcome;
    /* FAILED: MH_EUNAVAILABLE, nothing recorded; MH_ETIMEOUT, the COMMIT's outcome is unknown
     * (it may have been recorded); otherwise the delivery itself could not be recorded. */
    enum mh_err err;
    struct mh_intake__item *next;
};

struct mh_intake__committer;
MH_MUSTCHECK enum mh_err mh_intake__committer_start(struct mh_intake *in, int threads,
                                                    int max_batch,
                                                    struct mh_intake__committer **out);
void mh_intake__committer_stop(struct mh_intake__committer *gc);
/* Queues `item` for the next batch and returns at once; item->on_done reports the outcome. The
 * item must stay valid until then. */
void mh_intake__commit(struct mh_intake__committer *gc, struct mh_intake__item *item);

/* ---- Delivery log of refusals (dlog.c) ---------------------------------------------------- */

/* Bytes of refused bodies the delivery log's queue holds at most. */
#define MH_INTAKE__DLOG_BODY_BYTES_MAX (32L * 1024 * 1024)

struct mh_intake__dlog;
MH_MUSTCHECK enum mh_err mh_intake__dlog_start(struct mh_intake *in, struct mh_intake__dlog **out);
void mh_intake__dlog_stop(struct mh_intake__dlog *d);
/* Queues a row for mh_intake_log_refused (stolen). Dropped, and counted, when the queue is
 * full. A row's "body" (kept for replay) is dropped, and the row noted "busy", when the bodies
 * already queued weigh MH_INTAKE__DLOG_BODY_BYTES_MAX: a burst of refusals cannot hold more
 * memory than that. */
void mh_intake__dlog_add_new(struct mh_intake__dlog *d, json_t *row);
void mh_intake__dlog_flush(struct mh_intake__dlog *d, int timeout_ms);

/* ---- Resource limits per project (quota.c) ------------------------------------------------ */

enum mh_intake__quota {
    MH_INTAKE__QUOTA_OK = 0,    /* a place is reserved: settle it with mh_intake__quota_settle */
    MH_INTAKE__QUOTA_RUNS,      /* the project is at its runs-in-flight limit */
    MH_INTAKE__QUOTA_BYTES,     /* the project holds its stored-bytes limit or more */
    MH_INTAKE__QUOTA_MUST_WAIT, /* not known yet, and the caller may not wait on the database */
};

struct mh_intake__quota_info {
    long limit;
    long usage;
};

struct mh_intake__quotas;
/* Starts the refresher thread. The defaults are the server's limits (0: unlimited) for projects
 * that set none. */
MH_MUSTCHECK enum mh_err mh_intake__quotas_start(struct mh_intake *in, long default_runs,
                                                 long default_bytes,
                                                 struct mh_intake__quotas **out);
void mh_intake__quotas_stop(struct mh_intake__quotas *q);
/* Judges one more delivery of `project_id` against its limits; on MH_INTAKE__QUOTA_OK it holds
 * a place until mh_intake__quota_settle. A project not known yet is read first when `may_wait`
 * (a statement on the pool), else MUST_WAIT. `out` gets the limit and usage of a refusal. */
enum mh_intake__quota mh_intake__quota_take(struct mh_intake__quotas *q, const char *project_id,
                                            bool may_wait, struct mh_intake__quota_info *out);
/* Releases the place of a delivery that mh_intake__quota_take admitted: `is_recorded` when its
 * run was committed (it counts until the next read of the database). */
void mh_intake__quota_settle(struct mh_intake__quotas *q, const char *project_id, bool is_recorded);
/* The project's limits changed: its next delivery reads them first. */
void mh_intake__quota_forget(struct mh_intake__quotas *q, const char *project_id);

/* ---- The intake ---------------------------------------------------------------------------- */

/* ---- Answers of respond steps (respond.c) ------------------------------------------------ */

/* A delivery that waits for its run's respond step: registered before its commit (so that an
 * answer a worker records right after the commit is not missed), armed after it. */
struct mh_intake__wait {
    char run_id[37];
    char project_id[37];
    struct mh_wf *wf; /* the run's version (borrowed from the endpoint, which outlives the wait) */
    int64_t deadline_ms; /* monotonic; 0 until armed */
    json_t *response;    /* the answer, once a worker recorded it */
    bool is_finished;    /* the run ended (without an answer, if response is NULL) */
    bool is_armed;
    /* Called once, on the waiter thread or a worker's, when the answer came, the run ended or
     * the deadline passed. */
    void (*on_ready)(struct mh_intake__wait *w);
    struct mh_intake__wait *next;
};

/* How long after its endpoint's response timeout a run still counts as waited for (its
 * answer_until, migration 0042): the wait's deadline starts at the commit, not at the delivery's
 * arrival, and the instances' clocks may differ a little. */
#define MH_INTAKE__ANSWER_MARGIN_MS 10000

struct mh_intake__waits;
MH_MUSTCHECK enum mh_err mh_intake__waits_start(struct mh_intake *in,
                                                struct mh_intake__waits **out);
/* Answers every armed wait (as at its deadline) and stops the thread. */
void mh_intake__waits_stop(struct mh_intake__waits *ws);
void mh_intake__wait_register(struct mh_intake__waits *ws, struct mh_intake__wait *w);
/* Forgets a registered wait that will not be armed (its commit failed). */
void mh_intake__wait_cancel(struct mh_intake__waits *ws, struct mh_intake__wait *w);
/* After the commit: waits at most timeout_ms; on_ready may be called before this returns. */
void mh_intake__wait_arm(struct mh_intake__waits *ws, struct mh_intake__wait *w, int timeout_ms);

struct mh_intake {
    struct mh_db_pool *pool;
    /* The committers': when no other thread takes from it, nothing else that waits on the
     * database (API requests, workers, endpoint lookups) can hold up a webhook's commit. */
    struct mh_db_pool *commit_pool;
    _Atomic(struct mh_engine_runtime *) runtime;
    const struct mh_secrets *secrets;
    long max_body_bytes;
    int doubt_wait_ms;
    bool pure_prefix;
    long refused_body_quota_bytes;
    struct mh_intake__cache *cache;
    struct mh_intake__rates *rates;
    const struct mh_cluster *cluster; /* NULL: this instance alone */
    double project_rate_per_second;   /* the server's default; 0: none */
    double project_burst;
    struct mh_intake__committer *gc;
    struct mh_intake__dlog *dlog;
    struct mh_intake__quotas *quotas;
    struct mh_intake__waits *waits;
    char *listen_url; /* the waits' LISTEN connection's database; NULL: this process's workers */
};

#endif
