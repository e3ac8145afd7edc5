/* SPDX-License-Identifier: MIT */
/*
 * The one table of signature schemes. Adding a scheme: write its file beside this one (a
 * `const struct mh_scheme`), declare it in schemes.h and append it here.
 */
#include "schemes/schemes.h"

#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

/* The order is the ids' order: the intake's enum mh_intake__scheme follows it. */
static const struct mh_scheme *const schemes[] = {
    &mh_scheme_none,   &mh_scheme_hmac,  &mh_scheme_github,
    &mh_scheme_stripe, &mh_scheme_stdwh, &mh_scheme_jwt,
};

static const char *const none_headers[] = {NULL};

const struct mh_scheme mh_scheme_none = {
    .name = "none",
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

const char *mh_scheme_names(void)
{
    return "none, hmac, github, stripe, standard_webhooks, jwt";
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
