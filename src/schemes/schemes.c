/* SPDX-License-Identifier: MIT */
/*
 * The one table of signature schemes. Adding a scheme: write its file beside this one (a
 * `const struct mh_scheme`: its name, headers, keys, settings, verify, sign and sender example),
 * declare it in schemes.h and add it here (docs/architecture.md §15).
 */
#include "schemes/schemes_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

/* The order is the one the API lists them in and a form offers them in: the providers first,
 * the generic ones next, "none" last. */
static const struct mh_scheme *const schemes[] = {
    &mh_scheme_stripe, &mh_scheme_github, &mh_scheme_stdwh,
    &mh_scheme_hmac,   &mh_scheme_jwt,    &mh_scheme_none,
};

static const char *const none_headers[] = {NULL};

const struct mh_scheme mh_scheme_none = {
    .name = "none",
    .label = "None",
    .summary = "No verification: anyone who knows the URL can deliver. Prefer a signature.",
    .headers = none_headers,
    .key_kind = MH_SCHEME_KEY_NONE,
};

size_t mh_scheme_count(void)
{
    return MH_ARRAY_LEN(schemes);
}

const struct mh_scheme *mh_scheme_at(size_t id)
{
    return id < MH_ARRAY_LEN(schemes) ? schemes[id] : NULL;
}

const struct mh_scheme *mh_scheme_find(const char *name, size_t *id)
{
    for (size_t i = 0; name != NULL && i < MH_ARRAY_LEN(schemes); i++) {
        if (strcmp(name, schemes[i]->name) == 0) {
            if (id)
                *id = i;
            return schemes[i];
        }
    }
    return NULL;
}

/* The table's names, built once: the schemes never change at run time. */
static char names[256];
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void build_names(void)
{
    for (size_t i = 0; i < MH_ARRAY_LEN(schemes); i++) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%s", i ? ", " : "", schemes[i]->name);
    }
}

const char *mh_scheme_names(void)
{
    pthread_once(&names_once, build_names);
    return names;
}

void mh_scheme_headers_add_new(struct mh_scheme_headers *h, const char *name, char *value)
{
    if (h->n == MH_SCHEME_MAX_HEADERS) { /* a scheme's own bug: no scheme sends more */
        mh_crypto_free_secret_str(value);
        return;
    }
    h->h[h->n].name = name;
    h->h[h->n].value = value;
    h->n++;
}

enum mh_err mh_scheme__verdict(struct mh_scheme_verdict *out, const struct mh_crypto_sig_result *r,
                               enum mh_err rc)
{
    out->key_index = r->key_index;
    out->signed_at = r->timestamp;
    return rc;
}

enum mh_err mh_scheme__signed(struct mh_scheme_headers *out, const char *name, char *value,
                              enum mh_err rc, const char *what, struct mh_err_info *info)
{
    if (rc != MH_OK) {
        mh_crypto_free_secret_str(value);
        return mh_err_set(info, rc, "sign", -1, "could not compute the %s", what);
    }
    mh_scheme_headers_add_new(out, name, value);
    return MH_OK;
}

void mh_scheme_headers_cleanup(struct mh_scheme_headers *h)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < h->n; i++)
        mh_crypto_free_secret_str(h->h[i].value);
    h->n = 0;
}

enum mh_err mh_scheme_sign_secret(const struct mh_scheme *sc, const struct mh_scheme_sign_args *a,
                                  const char *secret, const void *body, size_t len,
                                  struct mh_scheme_headers *out, struct mh_err_info *info)
{
    if (sc->sign == NULL)
        return MH_OK;
    struct mh_scheme_sign_args args = *a;
    struct mh_crypto_sig_key key = {secret, strlen(secret)};
    uint8_t decoded[MH_CRYPTO_STDWH_KEY_MAX];
    size_t dlen = 0;
    if (sc->decode_secret != NULL) {
        if (sc->decode_secret(secret, decoded, sizeof(decoded), &dlen) != MH_OK)
            return mh_err_set(info, MH_EINVAL, "bad-secret", -1,
                              "the secret is not of the form the %s scheme takes", sc->name);
        key = (struct mh_crypto_sig_key){decoded, dlen};
    }
    args.key = &key;
    enum mh_err rc = sc->sign(&args, body, len, out, info);
    mh_crypto_wipe(decoded, sizeof(decoded));
    return rc;
}
