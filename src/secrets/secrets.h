/* SPDX-License-Identifier: MIT */
/*
 * The secrets vault (docs/architecture.md §8, docs/secrets.md): project-scoped secrets sealed with
 * envelope encryption (src/crypto/vault.h) under key-encryption keys (KEKs) read from the
 * configuration, their resolution for runs, KEK rotation, and the per-project PII redaction
 * settings. Depends on db, crypto and redact.
 *
 * A keyring holds the current KEK (kek_file or kek, with kek_id), which seals new values, and
 * any previous KEKs (old_kek_files, old_keks) that stay readable while a rotation is pending.
 *
 * Ownership: every argument is borrowed; objects and strings returned through out-parameters
 * are new and released with the matching destroy/free function named in each contract. Secret
 * plaintext handed out is wiped when released through this module's functions.
 * Threads: a keyring and a `struct mh_secrets` are immutable once created, so any number of
 * threads may use one at once. Functions taking a connection run inside the caller's open
 * transaction and never commit it.
 * Messages: no error message, log line or audit entry ever contains a secret value or key
 * material; names and key ids may appear.
 */
#ifndef MH_SECRETS_H
#define MH_SECRETS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/config.h"
#include "core/err.h"
#include "crypto/vault.h"
#include "db/db.h"
#include "redact/redact.h"

/* Longest secret name (the redactor's limit); names match [A-Za-z_][A-Za-z0-9_]*. */
#define MH_SECRETS_NAME_MAX 64
/* Shortest value: shorter ones could not be redacted from responses (redact.h explains why). */
#define MH_SECRETS_VALUE_MIN MH_REDACT_SECRET_MIN_LEN
/* Longest value in bytes. */
#define MH_SECRETS_VALUE_MAX (64 * 1024)
/* Most KEKs in a keyring. */
#define MH_SECRETS_KEYRING_MAX 16
/* What the API shows in place of every value: fixed, so it reveals neither content nor length. */
#define MH_SECRETS_MASK "••••••••"

/* True when `name` is a valid secret name. */
bool mh_secrets_name_valid(const char *name);

/* ---- Keyring ------------------------------------------------------------------------------ */

struct mh_secrets_keyring;

/*
 * Loads the KEKs named by `cfg`: the current one from kek_file or kek (at most one of them) with
 * kek_id (which a file or value of the form "ID:KEY" may give instead; when both are given they
 * must agree), then every previous one from old_kek_files (comma-separated "[ID=]PATH") and
 * old_keks (comma-separated "ID:KEY"). Configuring no KEK at all is allowed: the keyring is
 * then empty and can open nothing. Errors: MH_EINVAL (bad or conflicting settings, two keys
 * with one id, more than MH_SECRETS_KEYRING_MAX keys), MH_EIO (an unreadable file); `info`
 * names the setting and the file, never key material.
 */
MH_MUSTCHECK enum mh_err mh_secrets_keyring_load(const struct mh_config *cfg,
                                                 struct mh_secrets_keyring **out,
                                                 struct mh_err_info *info);
void mh_secrets_keyring_destroy(struct mh_secrets_keyring *kr);
/* The current KEK (borrowed), or NULL when none is configured. */
const struct mh_crypto_kek *mh_secrets_keyring_current(const struct mh_secrets_keyring *kr);
/* The KEK with id `id` (borrowed), or NULL. */
const struct mh_crypto_kek *mh_secrets_keyring_find(const struct mh_secrets_keyring *kr,
                                                    const char *id);
/* All keys, the current one (if any) first; borrowed. */
const struct mh_crypto_kek *const *mh_secrets_keyring_keys(const struct mh_secrets_keyring *kr,
                                                           size_t *n);
/* Writes the ids, comma-separated, into `out` ("(none)" when empty); truncates to `cap`. */
void mh_secrets_keyring_describe(const struct mh_secrets_keyring *kr, char *out, size_t cap);
/*
 * True when `a` and `b` hold the same key bytes (checked by sealing a probe under `a` and
 * opening it with `b`, so no key byte leaves src/crypto).
 */
bool mh_secrets_kek_same_key(const struct mh_crypto_kek *a, const struct mh_crypto_kek *b);

/* ---- The vault ---------------------------------------------------------------------------- */

struct mh_secrets;

/*
 * Loads the keyring from `cfg` and checks the stored secrets against it, reading through the
 * SECURITY DEFINER function mh_secrets_kek_ids() one sample secret per KEK id in use: every id
 * must be in the keyring and its key must unwrap the sample's data key (the value itself is
 * not decrypted). Errors: those of mh_secrets_keyring_load; MH_ECRYPTO (kind "unknown-kek")
 * when secrets exist that no configured KEK can unwrap, with a message naming the key ids (and
 * an error line per id logged). When the database cannot be reached or is not migrated yet, the
 * check is skipped with a warning (such secrets then fail to open, cleanly, when used), because
 * the server must be able to start while its database is down.
 */
MH_MUSTCHECK enum mh_err mh_secrets_create(const struct mh_config *cfg, struct mh_db_pool *pool,
                                           struct mh_secrets **out, struct mh_err_info *info);
void mh_secrets_destroy(struct mh_secrets *s);
/* The keyring (borrowed, lives as long as `s`). */
const struct mh_secrets_keyring *mh_secrets_keyring(const struct mh_secrets *s);
/* True when a current KEK is configured, i.e. values can be written. */
bool mh_secrets_can_seal(const struct mh_secrets *s);
/* The key of wait_callback tokens (src/runtime/callback.c), derived from the current KEK
 * (mh_crypto_kek_derive): rotating the KEK invalidates the URLs issued under the old one.
 * MH_EUNAVAILABLE when no KEK is configured. The caller wipes `out`. */
MH_MUSTCHECK enum mh_err mh_secrets_callback_key(const struct mh_secrets *s, uint8_t out[32]);

/*
 * Seals `len` bytes of `value` for (`project_id`, `name`) under the current KEK. `*sealed` is a
 * new string (free()) holding the blob as PostgreSQL bytea text ("\x<hex>"), ready to be a
 * query parameter; `*kek_id` is borrowed from the keyring. Errors: MH_EUNAVAILABLE (kind
 * "no-kek") when no current KEK is configured, MH_EINVAL, MH_ETOOBIG, MH_ECRYPTO.
 */
MH_MUSTCHECK enum mh_err mh_secrets_seal(const struct mh_secrets *s, const char *project_id,
                                         const char *name, const char *value, size_t len,
                                         char **sealed, const char **kek_id,
                                         struct mh_err_info *info);
/*
 * Opens a sealed blob given as bytea text ("\x<hex>", as src/db returns it). `*value` is new,
 * NUL-terminated one byte past `*len`; release it with mh_crypto_free_secret(*value, *len).
 * Does not write the audit log: callers that decrypt for use must (mh_secrets_resolve does).
 * Errors: MH_ECRYPTO (kinds of vault.h: "malformed", "unknown-kek", "unwrap-failed",
 * "decrypt-failed"), MH_EINVAL.
 */
MH_MUSTCHECK enum mh_err mh_secrets_open(const struct mh_secrets_keyring *kr,
                                         const char *project_id, const char *name,
                                         const char *sealed, char **value, size_t *len,
                                         struct mh_err_info *info);

/*
 * The executor's interface: decrypts the secrets `names[0..n)` (duplicates allowed) of
 * `project_id` for run `run_id`, in the caller's transaction, which must be allowed to read the
 * project's secrets (meshhook.project_id set, or an editor's user id). Appends one audit entry
 * per distinct secret decrypted ("secret.decrypt", actor "run:<run_id>", or "system" when
 * `run_id` is NULL) in that same transaction: commit it before using the values, or the
 * decryption goes unrecorded.
 * `*values_out` is a new object name -> value (string); release it with mh_secrets_values_free,
 * which wipes the values.
 * Errors: MH_ENOTFOUND (kind "secret-not-found", path "secrets.NAME", message naming the first
 * missing secret; nothing is decrypted or audited then), MH_ECRYPTO (a blob that does not open:
 * tampered with, swapped with another row, or under a KEK not in the keyring; the message names
 * the secret and the failure kind), database errors. On error `*values_out` is NULL.
 */
MH_MUSTCHECK enum mh_err mh_secrets_resolve(struct mh_secrets *s, struct mh_db_conn *c,
                                            const char *project_id, const char *const *names,
                                            size_t n, const char *run_id, json_t **values_out,
                                            struct mh_err_info *info);
/* mh_secrets_resolve with `ctx` a struct mh_secrets *, for the engine runtime's
 * mh_engine_secret_fn (runtime/store.h), which keeps the engine free of this module. */
MH_MUSTCHECK enum mh_err mh_secrets_resolve_cb(void *ctx, struct mh_db_conn *c,
                                               const char *project_id, const char *const *names,
                                               size_t n, const char *run_id, json_t **values_out,
                                               struct mh_err_info *info);
/* Wipes every string in `values` (an object from mh_secrets_resolve) and drops the reference.
 * NULL-tolerant. Call it only on the last reference. */
void mh_secrets_values_free(json_t *values);
/*
 * A replacer for the values of `values` (an object name -> string from mh_secrets_resolve):
 * every occurrence becomes "[secret:NAME]" (redact.h). `*out` is new; mh_redact_secrets_destroy.
 */
MH_MUSTCHECK enum mh_err mh_secrets_redactor_create(json_t *values, struct mh_redact_secrets **out,
                                                    struct mh_err_info *info);

/* ---- KEK rotation (rotate.c) -------------------------------------------------------------- */

/* Secrets re-wrapped per batch (each batch's rows are locked, in id order). */
#define MH_SECRETS_ROTATE_BATCH 100

struct mh_secrets_rotation {
    long rewrapped;     /* secrets moved to the new KEK by this call */
    long already;       /* secrets that were under it already */
    long projects;      /* projects touched */
    long endpoint_keys; /* webhook endpoint signing keys moved to the new KEK */
    long alert_secrets; /* alert webhook secrets moved to the new KEK */
    char from[256];     /* the old KEK ids, comma-separated */
};

/*
 * Re-wraps the data key of every secret not yet under `new_kek` from the KEK its blob names
 * (looked up in `kr`) to `new_kek`, in ONE transaction on `c`, which must be a connection of the
 * schema owner (it sees every project) and not inside a transaction. Values are never
 * decrypted. Rows are locked in batches in id order, so concurrent writers wait; an interrupted
 * rotation rolls back entirely and leaves every secret as it was. Idempotent: a second call
 * finds nothing to do. Appends one audit entry "kek.rotate" per project touched and one
 * project-less entry, actor "cli". Progress lines go to `progress` (may be NULL).
 * Errors: MH_EINVAL (a key in `kr` has `new_kek`'s id but other bytes), MH_ECONFLICT (another
 * rotation holds the lock), MH_ECRYPTO (kind "unknown-kek": a KEK id in use is not in `kr`,
 * found before anything is written; or a blob that does not unwrap), database errors.
 */
MH_MUSTCHECK enum mh_err mh_secrets_rotate(struct mh_db_conn *c,
                                           const struct mh_secrets_keyring *kr,
                                           const struct mh_crypto_kek *new_kek, FILE *progress,
                                           struct mh_secrets_rotation *stats,
                                           struct mh_err_info *info);

/* ---- PII redaction settings (privacy.c) --------------------------------------------------- */

enum mh_privacy_target {
    MH_PRIVACY_LOGS = 0, /* log lines of runs */
    MH_PRIVACY_EVENTS,   /* event payloads shown to users without pii:read */
    MH_PRIVACY_ARTIFACTS /* stored artifacts: recorded HTTP bodies */
};

/*
 * The settings document (the API's body and the stored project_privacy.settings):
 *   {"logs": [RULE...], "events": [RULE...], "artifacts": [RULE...],
 *    "custom": [{"name": NAME, "pattern": PCRE2}...], "pii_read_role": ROLE}
 * where RULE is a built-in rule (email, phone, card, iban, ssn, bearer, jwt, api_key) or the
 * name of a custom pattern, and ROLE the lowest role holding pii:read. Members absent from a
 * document take the defaults (mh_secrets_privacy_defaults).
 */

/* A new object with the defaults: every built-in rule for logs and events, none for artifacts,
 * no custom pattern, pii_read_role "admin". */
json_t *mh_secrets_privacy_defaults(void);
/*
 * Validates `doc` (borrowed) and returns its normalised form in `*out` (new: defaults filled
 * in, duplicates removed). Every custom pattern is compiled. Errors: MH_EINVAL with `info->path`
 * a JSON pointer to the offending member ("/custom/1/pattern", with `offset` into the
 * pattern; "/logs/2" for an unknown rule; "/pii_read_role"), MH_ETOOBIG (too many patterns, or
 * one too large, also with its path).
 */
MH_MUSTCHECK enum mh_err mh_secrets_privacy_validate(json_t *doc, json_t **out,
                                                     struct mh_err_info *info);
/*
 * Reads `project_id`'s settings in the caller's transaction (the defaults when it has none).
 * `*out` is new (normalised form, including "pii_read_role").
 */
MH_MUSTCHECK enum mh_err mh_secrets_privacy_load(struct mh_db_conn *c, const char *project_id,
                                                 json_t **out, struct mh_err_info *info);
/*
 * Builds the redactor for `target` from a normalised document. `*out` is new
 * (mh_redact_destroy). Errors: as mh_secrets_privacy_validate.
 */
MH_MUSTCHECK enum mh_err mh_secrets_privacy_redactor(json_t *settings,
                                                     enum mh_privacy_target target,
                                                     struct mh_redactor **out,
                                                     struct mh_err_info *info);
/*
 * The privacy view: what a user may be shown of recorded data (run outputs and errors, step
 * states, event payloads, replay reports, dead letters, the delivery log; and the live streams,
 * which open one view per subscriber). Every read path shows data through it, so one function
 * decides for all of them:
 *  - for everyone, the value of every credential header (mh_redact_header_is_secret) inside any
 *    "headers" object is masked, whatever was recorded;
 *  - without pii:read in the project, every string (and number) is also redacted with the
 *    project's "events" rules.
 * Opening reads the settings and the user's pii:read in the caller's transaction, once; the
 * opened view is immutable and needs no connection, so any thread may apply it any number of
 * times. `*out` is new (mh_secrets_privacy_view_destroy). Errors: database errors, and those of
 * mh_secrets_privacy_redactor.
 */
struct mh_privacy_view;
MH_MUSTCHECK enum mh_err mh_secrets_privacy_view_open(struct mh_db_conn *c, const char *project_id,
                                                      struct mh_privacy_view **out,
                                                      struct mh_err_info *info);
/* NULL-tolerant. */
void mh_secrets_privacy_view_destroy(struct mh_privacy_view *v);
/* Whether the view redacts PII (the user lacks pii:read). */
bool mh_secrets_privacy_view_is_redacting(const struct mh_privacy_view *v);
/*
 * What the view shows of `in` (borrowed; any JSON value, NULL reads as null): a new reference,
 * `in` itself when nothing changes. Dies on OOM; never fails otherwise.
 */
json_t *mh_secrets_privacy_view_apply(const struct mh_privacy_view *v, json_t *in);
/*
 * One-shot: opens a view, applies it to `in` and destroys it. `*redacted` (may be NULL) tells
 * whether PII rules applied. `*out` is new. Errors: as mh_secrets_privacy_view_open.
 */
MH_MUSTCHECK enum mh_err mh_secrets_privacy_view(struct mh_db_conn *c, const char *project_id,
                                                 json_t *in, json_t **out, bool *redacted,
                                                 struct mh_err_info *info);
/* Whether the transaction's user holds pii:read in `project_id` (SQL mh_can_read_pii). */
MH_MUSTCHECK enum mh_err mh_secrets_can_read_pii(struct mh_db_conn *c, const char *project_id,
                                                 bool *out, struct mh_err_info *info);

#endif
