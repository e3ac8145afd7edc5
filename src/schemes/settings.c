/* SPDX-License-Identifier: MIT */
/*
 * The schemes described by their tables: an endpoint's `verification` object checked and
 * completed against its scheme's fields (the grammar is the table, so the API, the intake and
 * the web form cannot disagree), loaded into the settings verify and sign read, a new key's
 * secret, and the description GET /api/schemes serves for the web app to draw its form from.
 */
#include "schemes/schemes_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

static enum mh_err field_error(struct mh_err_info *info, const char *name, const char *fmt, ...)
    MH_PRINTF(3, 4);
static enum mh_err check_field(const struct mh_scheme_field *f, json_t *v, json_t **out,
                               struct mh_err_info *info);
static bool is_token(const char *s);
static json_t *describe_field(const struct mh_scheme_field *f);

/* Ten years at most: only for checking old published example signatures (docs/webhooks.md). */
const struct mh_scheme_field mh_scheme__tolerance_fields[] = {
    {.name = "tolerance_s",
     .type = MH_SCHEME_FIELD_INTEGER,
     .label = "Timestamp tolerance (seconds)",
     .help = "Deliveries signed further than this from the server's clock are refused as "
             "replays. 300 is the providers' own default.",
     .def_int = 300,
     .min = 1,
     .max = 315360000},
    {0},
};

void mh_scheme__load_tolerance(json_t *vf, struct mh_scheme_settings *s)
{
    s->tolerance_s = json_integer_value(json_object_get(vf, "tolerance_s"));
}

static enum mh_err field_error(struct mh_err_info *info, const char *name, const char *fmt, ...)
{
    char msg[256], path[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mh_err_set(info, MH_EINVAL, "invalid", -1, "%s", msg);
    snprintf(path, sizeof(path), "/%.80s", name);
    mh_err_set_path(info, path);
    return MH_EINVAL;
}

/* An HTTP header name (RFC 9110 token). */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!(isalnum(c) || strchr("!#$%&'*+-.^_`|~", c)))
            return false;
    }
    return true;
}

/* Checks member `v` (NULL when absent) against `f`; *out is the value to store (new). */
static enum mh_err check_field(const struct mh_scheme_field *f, json_t *v, json_t **out,
                               struct mh_err_info *info)
{
    bool is_absent = v == NULL || json_is_null(v);
    *out = NULL;
    switch (f->type) {
    case MH_SCHEME_FIELD_INTEGER:
        if (is_absent) {
            *out = json_integer(f->def_int);
            return MH_OK;
        }
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return field_error(info, f->name, "'%s' must be an integer from %lld to %lld", f->name,
                               (long long)f->min, (long long)f->max);
        *out = json_integer(json_integer_value(v));
        return MH_OK;
    case MH_SCHEME_FIELD_BOOLEAN:
        if (v != NULL && !json_is_boolean(v))
            return field_error(info, f->name, "'%s' must be a boolean", f->name);
        *out = json_boolean(v == NULL ? f->def_bool : json_is_true(v));
        return MH_OK;
    case MH_SCHEME_FIELD_STRING: break;
    }
    if (is_absent) {
        *out = f->def_str ? json_string(f->def_str) : json_null();
        return MH_OK;
    }
    if (!json_is_string(v) || json_string_length(v) > f->max_len ||
        strlen(json_string_value(v)) != json_string_length(v))
        return field_error(info, f->name, "'%s' must be a string of at most %zu bytes", f->name,
                           f->max_len);
    const char *s = json_string_value(v);
    if (f->choices != NULL) {
        bool is_allowed = false;
        char list[160] = "";
        size_t n = 0;
        while (f->choices[n])
            n++;
        for (size_t i = 0; i < n; i++) {
            is_allowed = is_allowed || strcmp(s, f->choices[i]) == 0;
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s",
                     i == 0       ? ""
                     : i + 1 == n ? " or "
                                  : ", ",
                     f->choices[i]);
        }
        if (!is_allowed)
            return field_error(info, f->name, "'%s' must be %s", f->name, list);
    }
    if (f->format == MH_SCHEME_FORMAT_HEADER_NAME && !is_token(s))
        return field_error(info, f->name, "'%s' must be a header name", f->name);
    if (f->format == MH_SCHEME_FORMAT_PRINTABLE)
        for (const char *p = s; *p; p++)
            if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
                return field_error(info, f->name, "'%s' must be printable ASCII without spaces",
                                   f->name);
    *out = json_string(s);
    return MH_OK;
}

enum mh_err mh_scheme_normalize(json_t *vf, json_t **out, struct mh_err_info *info)
{
    *out = NULL;
    if (!json_is_object(vf))
        return mh_err_set(info, MH_EINVAL, "invalid", -1, "'verification' must be an object");
    const char *name = json_string_value(json_object_get(vf, "scheme"));
    const struct mh_scheme *sc = mh_scheme_find(name, NULL);
    if (sc == NULL)
        return field_error(info, "scheme", "'scheme' must be one of %s", mh_scheme_names());
    const char *key;
    json_t *v;
    json_object_foreach(vf, key, v)
    {
        bool is_known = strcmp(key, "scheme") == 0;
        for (const struct mh_scheme_field *f = sc->fields; !is_known && f && f->name; f++)
            is_known = strcmp(f->name, key) == 0;
        if (!is_known)
            return field_error(info, key, "unknown verification setting '%.60s' for this scheme",
                               key);
    }
    json_t *n = json_pack("{s:s}", "scheme", sc->name);
    for (const struct mh_scheme_field *f = sc->fields; f && f->name; f++) {
        json_t *value = NULL;
        enum mh_err rc = check_field(f, json_object_get(vf, f->name), &value, info);
        if (rc != MH_OK) {
            json_decref(n);
            return rc;
        }
        json_object_set_new(n, f->name, value);
    }
    *out = n;
    return MH_OK;
}

void mh_scheme_load_settings(json_t *vf, const struct mh_scheme **sc, struct mh_scheme_settings *s)
{
    memset(s, 0, sizeof(*s));
    *sc = mh_scheme_find(json_string_value(json_object_get(vf, "scheme")), NULL);
    if (*sc != NULL && (*sc)->load_settings != NULL)
        (*sc)->load_settings(vf, s);
}

enum mh_err mh_scheme_generate_secret(const struct mh_scheme *sc, char **out)
{
    *out = NULL;
    if (sc->key_kind == MH_SCHEME_KEY_NONE)
        return MH_EINVAL;
    if (sc->generate_secret != NULL)
        return sc->generate_secret(out);
    return mh_crypto_token_b64url(32, out);
}

json_t *mh_scheme_key_algorithms(const struct mh_scheme *sc)
{
    json_t *a = json_array();
    if (sc->key_kind == MH_SCHEME_KEY_HMAC)
        json_array_append_new(a, json_string("hmac"));
    if (sc->key_kind == MH_SCHEME_KEY_JWT)
        for (int i = MH_CRYPTO_JWT_HS256; i <= MH_CRYPTO_JWT_EDDSA; i++)
            json_array_append_new(
                a, json_string(mh_crypto_jwt_alg_config_name((enum mh_crypto_jwt_alg)i)));
    return a;
}

static json_t *describe_field(const struct mh_scheme_field *f)
{
    static const char *const types[] = {"string", "integer", "boolean"};
    json_t *d =
        json_pack("{s:s, s:s, s:s}", "name", f->name, "type", types[f->type], "label", f->label);
    if (f->help)
        json_object_set_new(d, "help", json_string(f->help));
    if (f->placeholder)
        json_object_set_new(d, "placeholder", json_string(f->placeholder));
    switch (f->type) {
    case MH_SCHEME_FIELD_STRING:
        json_object_set_new(d, "default", f->def_str ? json_string(f->def_str) : json_null());
        json_object_set_new(d, "max_length", json_integer((json_int_t)f->max_len));
        if (f->choices) {
            json_t *c = json_array();
            for (size_t i = 0; f->choices[i]; i++)
                json_array_append_new(
                    c, json_pack("{s:s, s:s}", "value", f->choices[i], "label",
                                 f->choice_labels ? f->choice_labels[i] : f->choices[i]));
            json_object_set_new(d, "choices", c);
        }
        if (f->format == MH_SCHEME_FORMAT_HEADER_NAME)
            json_object_set_new(d, "format", json_string("header-name"));
        if (f->format == MH_SCHEME_FORMAT_PRINTABLE)
            json_object_set_new(d, "format", json_string("printable"));
        break;
    case MH_SCHEME_FIELD_INTEGER:
        json_object_set_new(d, "default", json_integer(f->def_int));
        json_object_set_new(d, "minimum", json_integer(f->min));
        json_object_set_new(d, "maximum", json_integer(f->max));
        break;
    case MH_SCHEME_FIELD_BOOLEAN:
        json_object_set_new(d, "default", json_boolean(f->def_bool));
        break;
    }
    return d;
}

json_t *mh_scheme_describe_all(void)
{
    static const char *const kinds[] = {"none", "secret", "jwt"};
    json_t *list = json_array();
    for (size_t i = 0; i < mh_scheme_count(); i++) {
        const struct mh_scheme *sc = mh_scheme_at(i);
        json_t *headers = json_array(), *idem = json_array(), *fields = json_array();
        for (size_t h = 0; sc->headers[h]; h++)
            json_array_append_new(headers, json_string(sc->headers[h]));
        for (size_t h = 0; sc->idempotency_headers && sc->idempotency_headers[h]; h++)
            json_array_append_new(idem, json_string(sc->idempotency_headers[h]));
        for (const struct mh_scheme_field *f = sc->fields; f && f->name; f++)
            json_array_append_new(fields, describe_field(f));
        json_t *keys = json_pack("{s:s, s:o, s:s*}", "kind", kinds[sc->key_kind], "algorithms",
                                 mh_scheme_key_algorithms(sc), "own_secret", sc->own_secret);
        json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "name",
                                              sc->name, "label", sc->label, "summary", sc->summary,
                                              "headers", headers, "idempotency_headers", idem,
                                              "keys", keys, "fields", fields));
    }
    return list;
}
