/* SPDX-License-Identifier: MIT */
/*
 * Per-project PII redaction settings: which of the built-in rules and the project's own PCRE2
 * patterns apply to log lines, to event payloads shown to users without pii:read, and to stored
 * artifacts. The settings are one JSON document, validated here (every pattern is compiled, and
 * each error carries the JSON pointer of its member) before the API stores it, and turned into
 * a src/redact redactor per target by whoever shows or stores the data.
 */
#include "secrets/secrets.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAX_PATTERN_LEN 2000

struct builtin {
    const char *name;
    unsigned bit;
};

static const struct builtin builtins[] = {
    {"email", MH_REDACT_EMAIL}, {"phone", MH_REDACT_PHONE},     {"card", MH_REDACT_CARD},
    {"iban", MH_REDACT_IBAN},   {"ssn", MH_REDACT_SSN},         {"bearer", MH_REDACT_BEARER},
    {"jwt", MH_REDACT_JWT},     {"api_key", MH_REDACT_API_KEY},
};
#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))

static const char *const targets[] = {"logs", "events", "artifacts"};

static unsigned builtin_bit(const char *name);
static enum mh_err validate_custom(json_t *custom, json_t **out, struct mh_err_info *info);
static enum mh_err validate_rules(json_t *doc, const char *target, json_t *custom, json_t **out,
                                  struct mh_err_info *info);
static bool custom_has(json_t *custom, const char *name);

static unsigned builtin_bit(const char *name)
{
    for (size_t i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].bit;
    return 0;
}

static bool custom_has(json_t *custom, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(custom, i, p)
    {
        if (strcmp(json_string_value(json_object_get(p, "name")), name) == 0)
            return true;
    }
    return false;
}

json_t *mh_secrets_privacy_defaults(void)
{
    json_t *all = json_array();
    for (size_t i = 0; i < NBUILTINS; i++)
        json_array_append_new(all, json_string(builtins[i].name));
    return json_pack("{s:o, s:o, s:[], s:[], s:s}", "logs", json_copy(all), "events", all,
                     "artifacts", "custom", "pii_read_role", "admin");
}

/* Checks the custom patterns' shape, names and compilation; `*out` is a new normalised copy. */
static enum mh_err validate_custom(json_t *custom, json_t **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    struct mh_redact_pattern *pats = NULL;
    struct mh_redactor *r = NULL;
    json_t *norm = json_array();
    char path[64];
    size_t i, n;
    json_t *p;

    *out = NULL;
    if (custom == NULL || json_is_null(custom))
        goto done;
    if (!json_is_array(custom)) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "'custom' must be an array");
        mh_err_set_path(info, "/custom");
        goto out;
    }
    n = json_array_size(custom);
    if (n > MH_REDACT_MAX_CUSTOM) {
        rc = mh_err_set(info, MH_ETOOBIG, "too-many", -1, "at most %u custom patterns",
                        MH_REDACT_MAX_CUSTOM);
        mh_err_set_path(info, "/custom");
        goto out;
    }
    pats = mh_xcalloc(n ? n : 1, sizeof(*pats));
    json_array_foreach(custom, i, p)
    {
        json_t *name = json_object_get(p, "name"), *pattern = json_object_get(p, "pattern");
        const char *key;
        json_t *v;
        if (!json_is_object(p)) {
            snprintf(path, sizeof(path), "/custom/%zu", i);
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                            "a custom pattern is an object {\"name\", \"pattern\"}");
            mh_err_set_path(info, path);
            goto out;
        }
        json_object_foreach(p, key, v)
        {
            if (strcmp(key, "name") != 0 && strcmp(key, "pattern") != 0) {
                snprintf(path, sizeof(path), "/custom/%zu", i);
                rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                                "unknown field '%.40s' in a custom pattern", key);
                mh_err_set_path(info, path);
                goto out;
            }
        }
        if (!json_is_string(name) || builtin_bit(json_string_value(name)) != 0 ||
            custom_has(norm, json_string_value(name))) {
            snprintf(path, sizeof(path), "/custom/%zu/name", i);
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                            "each custom pattern needs a unique 'name' (a-z, 0-9, _ and -, at "
                            "most %u) other than a built-in rule's",
                            MH_REDACT_MAX_NAME_LEN);
            mh_err_set_path(info, path);
            goto out;
        }
        if (!json_is_string(pattern) || json_string_length(pattern) == 0 ||
            json_string_length(pattern) > MAX_PATTERN_LEN ||
            strlen(json_string_value(pattern)) != json_string_length(pattern)) {
            snprintf(path, sizeof(path), "/custom/%zu/pattern", i);
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                            "'pattern' must be a PCRE2 pattern of 1 to %d bytes", MAX_PATTERN_LEN);
            mh_err_set_path(info, path);
            goto out;
        }
        pats[i].name = json_string_value(name);
        pats[i].pattern = json_string_value(pattern);
        json_array_append_new(norm, json_pack("{s:O, s:O}", "name", name, "pattern", pattern));
    }
    struct mh_redact_config cfg = {.rules = 0, .custom = pats, .ncustom = n};
    rc = mh_redact_create(&cfg, &r, info);
    if (rc != MH_OK) {
        /* redact names "custom/<i>/<member>"; the API speaks JSON pointers. */
        if (info && info->path[0] && info->path[0] != '/') {
            snprintf(path, sizeof(path), "/%.60s", info->path);
            mh_err_set_path(info, path);
        }
        goto out;
    }
done:
    *out = norm;
    norm = NULL;
out:
    mh_redact_destroy(r);
    free(pats);
    json_decref(norm);
    return rc;
}

/* Reads the rule list of `target` (defaults when absent); `*out` is new, duplicates removed. */
static enum mh_err validate_rules(json_t *doc, const char *target, json_t *custom, json_t **out,
                                  struct mh_err_info *info)
{
    json_t *list = json_object_get(doc, target), *norm = json_array();
    char path[64];
    size_t i;
    json_t *v;

    *out = NULL;
    if (list == NULL || json_is_null(list)) {
        json_t *defs = mh_secrets_privacy_defaults();
        json_array_extend(norm, json_object_get(defs, target));
        json_decref(defs);
        *out = norm;
        return MH_OK;
    }
    if (!json_is_array(list)) {
        snprintf(path, sizeof(path), "/%s", target);
        json_decref(norm);
        mh_err_set(info, MH_EINVAL, "invalid", -1, "'%s' must be an array of rule names", target);
        mh_err_set_path(info, path);
        return MH_EINVAL;
    }
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);
        if (name == NULL || (builtin_bit(name) == 0 && !custom_has(custom, name))) {
            snprintf(path, sizeof(path), "/%s/%zu", target, i);
            json_decref(norm);
            mh_err_set(info, MH_EINVAL, "invalid", -1,
                       "unknown rule: use email, phone, card, iban, ssn, bearer, jwt, api_key "
                       "or the name of a custom pattern");
            mh_err_set_path(info, path);
            return MH_EINVAL;
        }
        bool seen = false;
        for (size_t k = 0; k < json_array_size(norm) && !seen; k++)
            seen = strcmp(json_string_value(json_array_get(norm, k)), name) == 0;
        if (!seen)
            json_array_append_new(norm, json_string(name));
    }
    *out = norm;
    return MH_OK;
}

enum mh_err mh_secrets_privacy_validate(json_t *doc, json_t **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *norm = json_object(), *custom = NULL;
    const char *key;
    json_t *v;

    *out = NULL;
    if (!json_is_object(doc)) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "the privacy settings are an object");
        goto out;
    }
    json_object_foreach(doc, key, v)
    {
        bool known = strcmp(key, "custom") == 0 || strcmp(key, "pii_read_role") == 0;
        for (size_t i = 0; i < 3 && !known; i++)
            known = strcmp(key, targets[i]) == 0;
        if (!known) {
            char path[80];
            snprintf(path, sizeof(path), "/%.60s", key);
            rc = mh_err_set(info, MH_EINVAL, "invalid", -1, "unknown field '%.60s'", key);
            mh_err_set_path(info, path);
            goto out;
        }
    }
    if ((rc = validate_custom(json_object_get(doc, "custom"), &custom, info)) != MH_OK)
        goto out;
    for (size_t i = 0; i < 3; i++) {
        json_t *rules = NULL;
        if ((rc = validate_rules(doc, targets[i], custom, &rules, info)) != MH_OK)
            goto out;
        json_object_set_new(norm, targets[i], rules);
    }
    json_object_set(norm, "custom", custom);
    json_t *role = json_object_get(doc, "pii_read_role");
    const char *r = role ? json_string_value(role) : "admin";
    if (r == NULL ||
        (strcmp(r, "viewer") && strcmp(r, "editor") && strcmp(r, "admin") && strcmp(r, "owner"))) {
        rc = mh_err_set(info, MH_EINVAL, "invalid", -1,
                        "'pii_read_role' must be one of viewer, editor, admin, owner");
        mh_err_set_path(info, "/pii_read_role");
        goto out;
    }
    json_object_set_new(norm, "pii_read_role", json_string(r));
    *out = norm;
    norm = NULL;
out:
    json_decref(norm);
    json_decref(custom);
    return rc;
}

enum mh_err mh_secrets_privacy_load(struct mh_db_conn *c, const char *project_id, json_t **out,
                                    struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *rows = NULL, *doc = NULL;
    const char *params[] = {project_id};

    *out = NULL;
    rc = mh_db_query(c,
                     "SELECT settings, pii_read_role FROM project_privacy WHERE project_id = "
                     "$1::uuid",
                     1, params, &rows, NULL, info);
    if (rc != MH_OK)
        goto out;
    json_t *row = json_array_get(rows, 0);
    if (row == NULL) {
        *out = mh_secrets_privacy_defaults();
        goto out;
    }
    doc = json_deep_copy(json_object_get(row, "settings"));
    if (!json_is_object(doc)) {
        json_decref(doc);
        doc = json_object();
    }
    json_object_set(doc, "pii_read_role", json_object_get(row, "pii_read_role"));
    rc = mh_secrets_privacy_validate(doc, out, info);
out:
    json_decref(rows);
    json_decref(doc);
    return rc;
}

enum mh_err mh_secrets_privacy_redactor(json_t *settings, enum mh_privacy_target target,
                                        struct mh_redactor **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *list = json_object_get(settings, targets[target]);
    json_t *custom = json_object_get(settings, "custom");
    size_t nc = json_array_size(custom), used = 0, i;
    struct mh_redact_pattern *pats = mh_xcalloc(nc ? nc : 1, sizeof(*pats));
    unsigned bits = 0;
    json_t *v;

    *out = NULL;
    json_array_foreach(list, i, v)
    {
        const char *name = json_string_value(v);
        unsigned bit = name ? builtin_bit(name) : 0;
        if (bit) {
            bits |= bit;
            continue;
        }
        size_t k;
        json_t *p;
        json_array_foreach(custom, k, p)
        {
            if (name && used < nc &&
                strcmp(json_string_value(json_object_get(p, "name")), name) == 0) {
                pats[used].name = name;
                pats[used].pattern = json_string_value(json_object_get(p, "pattern"));
                used++;
                break;
            }
        }
    }
    struct mh_redact_config cfg = {.rules = bits, .custom = pats, .ncustom = used};
    rc = mh_redact_create(&cfg, out, info);
    free(pats);
    return rc;
}

enum mh_err mh_secrets_can_read_pii(struct mh_db_conn *c, const char *project_id, bool *out,
                                    struct mh_err_info *info)
{
    json_t *row = NULL;
    const char *params[] = {project_id};
    *out = false;
    enum mh_err rc =
        mh_db_query_row(c, "SELECT mh_can_read_pii($1::uuid) AS ok", 1, params, &row, info);
    if (rc == MH_OK)
        *out = json_is_true(json_object_get(row, "ok"));
    json_decref(row);
    return rc;
}

struct mh_privacy_view {
    struct mh_redactor *pii; /* NULL when the user holds pii:read */
};

enum mh_err mh_secrets_privacy_view_open(struct mh_db_conn *c, const char *project_id,
                                         struct mh_privacy_view **out, struct mh_err_info *info)
{
    enum mh_err rc = MH_OK;
    json_t *settings = NULL;
    struct mh_privacy_view *v = mh_xcalloc(1, sizeof(*v));
    bool can = false;

    *out = NULL;
    if ((rc = mh_secrets_can_read_pii(c, project_id, &can, info)) != MH_OK)
        goto out;
    if (!can &&
        ((rc = mh_secrets_privacy_load(c, project_id, &settings, info)) != MH_OK ||
         (rc = mh_secrets_privacy_redactor(settings, MH_PRIVACY_EVENTS, &v->pii, info)) != MH_OK))
        goto out;
    *out = v;
    v = NULL;
out:
    mh_secrets_privacy_view_destroy(v);
    json_decref(settings);
    return rc;
}

void mh_secrets_privacy_view_destroy(struct mh_privacy_view *v)
{
    if (v == NULL)
        return;
    mh_redact_destroy(v->pii);
    free(v);
}

bool mh_secrets_privacy_view_is_redacting(const struct mh_privacy_view *v)
{
    return v->pii != NULL;
}

json_t *mh_secrets_privacy_view_apply(const struct mh_privacy_view *v, json_t *in)
{
    json_t *masked = mh_redact_headers_json(in ? in : json_null(), NULL);
    json_t *shown = NULL;
    if (v->pii == NULL)
        return masked;
    /* Fails closed: what could not be redacted is not shown at all. */
    if (mh_redact_json(v->pii, masked, &shown, NULL) != MH_OK)
        shown = json_string(MH_REDACT_HEADER_MASK);
    json_decref(masked);
    return shown;
}

enum mh_err mh_secrets_privacy_view(struct mh_db_conn *c, const char *project_id, json_t *in,
                                    json_t **out, bool *redacted, struct mh_err_info *info)
{
    struct mh_privacy_view *v = NULL;
    *out = NULL;
    if (redacted)
        *redacted = false;
    enum mh_err rc = mh_secrets_privacy_view_open(c, project_id, &v, info);
    if (rc != MH_OK)
        return rc;
    *out = mh_secrets_privacy_view_apply(v, in);
    if (redacted)
        *redacted = mh_secrets_privacy_view_is_redacting(v);
    mh_secrets_privacy_view_destroy(v);
    return MH_OK;
}
