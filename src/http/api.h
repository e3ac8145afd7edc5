/* SPDX-License-Identifier: MIT */
/*
 * The toolkit every JSON API handler uses: authenticate the caller (session cookie with CSRF
 * check on writes, or an API token), borrow a database connection and open a transaction that
 * carries the caller's user id, so row-level security judges every statement; check a project
 * role for a clear 403; read and validate JSON fields with the path of the offending one; page
 * through lists with opaque cursors; append to the audit log.
 *
 * Pattern:
 *     struct mh_api api;
 *     if (!mh_api_open(&api, req, app, MH_API_AUTH))
 *         return;                 // it has answered (401, 403, 503...)
 *     ... mh_api_query(&api, ...) ... respond ...
 *     mh_api_close(&api);         // rolls back unless mh_api_commit succeeded
 *
 * Every mh_api_* function that can fail answers the request itself on failure and returns false
 * (or NULL), so handlers just return.
 */
#ifndef MH_HTTP_API_H
#define MH_HTTP_API_H

#include <jansson.h>
#include <stdbool.h>

#include "core/text.h"
#include "http/app.h"

#define MH_API_SESSION_COOKIE "mh_session"
#define MH_API_TOKEN_PREFIX   "mh_"

enum mh_api_auth {
    MH_API_PUBLIC = 0, /* no authentication; the transaction has no user */
    MH_API_AUTH,       /* a valid session or API token is required */
};

struct mh_api_principal {
    char user_id[37];
    char session_id[37]; /* "" unless authenticated by cookie */
    char token_id[37];   /* "" unless authenticated by API token */
    bool is_cookie;
};

struct mh_privacy_view;

struct mh_api {
    struct mh_http_req *req;
    struct mh_app *app;
    struct mh_db_conn *conn;
    struct mh_api_principal who;
    struct mh_err_info info;
    bool in_tx;
    struct mh_privacy_view *privacy; /* private: see mh_api_privacy */
};

bool mh_api_open(struct mh_api *api, struct mh_http_req *req, void *app, enum mh_api_auth auth);
/*
 * For a public handler that must not hold a database connection all along (sign-in, whose
 * password hashing takes tens of milliseconds): mh_api_prepare readies `api` without a
 * connection (the field readers work; queries do not), mh_api_connect borrows one and opens a
 * transaction without a user (answering 503 and returning false when none is free), and
 * mh_api_close gives it back; the pair may be repeated.
 */
void mh_api_prepare(struct mh_api *api, struct mh_http_req *req, void *app);
bool mh_api_connect(struct mh_api *api);
/* Commits; on failure answers (409 for conflicts, 503, 500) and returns false. */
bool mh_api_commit(struct mh_api *api);
/* Rolls back an open transaction and returns the connection. Always call it. */
void mh_api_close(struct mh_api *api);

/* Runs a statement in the request's transaction. On failure answers with the mapped error and
 * returns NULL; on success returns the rows (borrowed, owned by the request arena). */
json_t *mh_api_query(struct mh_api *api, const char *sql, int nparams, const char *const *params);
/* Like mh_api_query but expects exactly one row; 404 with `what` ("project not found") when
 * there is none. */
json_t *mh_api_query_row(struct mh_api *api, const char *what, const char *sql, int nparams,
                         const char *const *params);

/* The caller's role in `project_id` must rank at least `min_role`: answers 404 when the project
 * is not visible (never revealing that another tenant's project exists) and 403 when the role
 * is too low. `role_out` (may be NULL) receives the caller's role (static string). */
bool mh_api_require_role(struct mh_api *api, const char *project_id, const char *min_role,
                         const char **role_out);
int mh_api_role_rank(const char *role);

/* The request body as a JSON object (borrowed), or NULL after answering 400/415/422. */
json_t *mh_api_body(struct mh_api *api);

/* Reads string field `name` of `obj`: answers 422 with path "/name" when it is missing (and
 * `is_required`), not a string, or outside [min_len, max_len] characters; *out is NULL when
 * absent and optional. */
bool mh_api_string(struct mh_api *api, json_t *obj, const char *name, bool is_required,
                   size_t min_len, size_t max_len, const char **out);
/* Reads the required e-mail field `name` of `obj` (3 to 320 characters and at most
 * MH_TEXT_EMAIL_MAX_BYTES bytes), lower-cased into `out`: answers 422 with path "/name" and
 * returns false otherwise (then `out` holds ""). Does not judge the address's form
 * (mh_text_is_email does). */
bool mh_api_email(struct mh_api *api, json_t *obj, const char *name,
                  char out[MH_TEXT_EMAIL_MAX_BYTES + 1]);
/* Reads an optional integer field within [min, max]; *out keeps its value when absent. */
bool mh_api_int(struct mh_api *api, json_t *obj, const char *name, long min, long max, long *out);
/* Refuses any member of `obj` not named in the NULL-terminated `allowed` list (422). */
bool mh_api_only_fields(struct mh_api *api, json_t *obj, const char *const *allowed);

/* True when `s` is a canonical UUID. */
bool mh_api_is_uuid(const char *s);

/* Paging: reads ?limit= (1..200, default 50) and ?cursor=; the cursor is opaque to clients and
 * holds the sort key of the last row seen (two text values). Answers 422 on a bad value. */
struct mh_api_page {
    long limit;
    const char *after_key; /* NULL on the first page */
    const char *after_id;
};
bool mh_api_page(struct mh_api *api, struct mh_api_page *page);

/* The most bytes a cursor's two values take together, and the longest cursor text accepted:
 * the unpadded base64url length of that many bytes, so every cursor the server writes reads
 * back. */
#define MH_API_CURSOR_MAX_RAW  511
#define MH_API_CURSOR_MAX_TEXT 682

/*
 * The paging cursor's codec, pure so that it can be fuzzed (tests/fuzz/fuzz_cursor.c). A cursor
 * is unpadded base64url of "<key>\x1f<id>". mh_api_cursor_encode returns a new malloc'd cursor,
 * or NULL when the two values together exceed MH_API_CURSOR_MAX_RAW bytes or the key holds the
 * separator (neither happens with the timestamps, numbers and UUIDs the lists sort by).
 * mh_api_cursor_decode decodes `cursor` into `buf` and points `*key` and `*id` into it (split at
 * the first 0x1f); it returns false for text over MH_API_CURSOR_MAX_TEXT bytes, anything but
 * canonical base64url, no separator, a NUL byte or invalid UTF-8 (the values go to PostgreSQL as
 * text parameters).
 */
char *mh_api_cursor_encode(const char *key, const char *id);
bool mh_api_cursor_decode(const char *cursor, char buf[MH_API_CURSOR_MAX_RAW + 1], const char **key,
                          const char **id);
/* Builds {"items": rows[0..limit), "next_cursor": ... or null} from rows fetched with
 * LIMIT limit+1, taking the cursor from the last returned row's `key_field` and `id_field`.
 * Steals nothing; returns a new object. */
json_t *mh_api_page_result(const struct mh_api_page *page, json_t *rows, const char *key_field,
                           const char *id_field);

/*
 * Answers with one page of a list: runs `sql` with the caller's `params` as $1..$n, then the
 * page size + 1 as $n+1 (for LIMIT) and the cursor's key and id as $n+2 and $n+3 (NULL on the
 * first page), and responds 200 with mh_api_page_result over `key_field` and `id_field`.
 */
void mh_api_respond_list(struct mh_api *api, const struct mh_api_page *page, const char *sql,
                         int nparams, const char *const *params, const char *key_field,
                         const char *id_field);

/*
 * A whole handler for a project's list without filters: opens the request, requires
 * `min_role` on the path's project_id, reads the page and answers mh_api_respond_list with the
 * project as $1 (so the page size is $2 and the cursor $3, $4).
 */
void mh_api_list_in_project(struct mh_http_req *req, void *app, const char *min_role,
                            const char *sql, const char *key_field, const char *id_field);

/*
 * Privacy on read paths. Recorded data (run outputs, errors and step states, event payloads,
 * replay reports, dead letters, the delivery log) is shown only through the caller's privacy
 * view (mh_secrets_privacy_view_open): credential headers masked for everyone, PII redacted
 * for members without pii:read. mh_api_privacy opens the view on first use in the request's
 * transaction and keeps it until mh_api_close; NULL after answering 500.
 */
const struct mh_privacy_view *mh_api_privacy(struct mh_api *api, const char *project_id);
/* Whether the caller's view in `project_id` redacts PII; call after mh_api_privacy succeeded. */
bool mh_api_is_redacting(struct mh_api *api);
/*
 * Replaces each member of `obj` named in the NULL-terminated `members` with what the caller's
 * view shows of it; `obj` may be an array, whose object elements are each treated so. Absent
 * members stay absent. Answers and returns false when the view cannot be opened.
 */
bool mh_api_show_members(struct mh_api *api, const char *project_id, json_t *obj,
                         const char *const *members);
/* The caller's view in `project_id` for keeping beyond the request (a live stream's subscriber):
 * new, the caller destroys it (mh_secrets_privacy_view_destroy); NULL after answering 500. */
struct mh_privacy_view *mh_api_privacy_steal(struct mh_api *api, const char *project_id);
/* mh_api_show_members through an opened view `v`: needs no connection, any thread. */
void mh_api_show_with(const struct mh_privacy_view *v, json_t *obj, const char *const *members);
/* As mh_api_respond_list, showing `members` of each row through the caller's view in
 * `project_id` ($1 is not implied: pass it in `params`); the page carries "redacted". */
void mh_api_respond_list_shown(struct mh_api *api, const struct mh_api_page *page,
                               const char *project_id, const char *const *members, const char *sql,
                               int nparams, const char *const *params, const char *key_field,
                               const char *id_field);
/* As mh_api_list_in_project, showing `members` of each row through the caller's view. */
void mh_api_list_in_project_shown(struct mh_http_req *req, void *app, const char *min_role,
                                  const char *sql, const char *key_field, const char *id_field,
                                  const char *const *members);

/* 422 with every validation error of a workflow definition: {"error": {"code":
 * "invalid_definition", "message", "path" (the first error's), "errors": [...]}, "request_id"}.
 * `action` ("publish", "test") ends the message; `errors` is borrowed (NULL: none). */
void mh_api_respond_invalid_definition(struct mh_api *api, json_t *errors, const char *action);

/* Appends to the audit log inside the request's transaction: actor is the caller, with IP and
 * user agent. `project_id` may be NULL for account-level actions; `detail` is borrowed (may be
 * NULL). Answers and returns false on failure. */
bool mh_api_audit(struct mh_api *api, const char *project_id, const char *action,
                  const char *target, json_t *detail);

/* The CSRF token bound to a session token (what X-CSRF-Token must carry). `out` holds 44 bytes. */
void mh_api_csrf_for(const char *session_token, char out[44]);

#endif
