/* SPDX-License-Identifier: MIT */
/*
 * `meshhook sign`: prints the signature headers a webhook sender would send with a body, one
 * "Name: value" line each, so that `curl -H @headers.txt` can deliver a signed webhook from the
 * shell (docs/getting-started.md, docs/webhooks.md). It signs with MeshHook's own signers
 * (src/crypto/webhook_sig.h); the secret is read from a file or the environment rather than the
 * command line, where other users could see it.
 */
#include "cli/cli.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/mem.h"
#include "crypto/crypto.h"
#include "crypto/webhook_sig.h"
#include "schemes/schemes.h"

#define SIGN_MAX_BODY   ((size_t)64 * 1024 * 1024)
#define SIGN_MAX_SECRET 4096

struct sign_opts {
    const char *scheme;
    const char *secret_file;
    const char *algorithm;
    const char *encoding;
    const char *header;
    const char *prefix;
    const char *id;
    long long timestamp;
    const char *file;
};

static void usage(FILE *f);
static bool read_file(const char *path, size_t max, struct mh_buf *out);
static bool read_secret(const struct sign_opts *o, char **secret);
static int sign_body(const struct sign_opts *o, const char *secret, const char *body, size_t len);

static void usage(FILE *f)
{
    fputs("usage: meshhook sign --scheme SCHEME --secret-file FILE [options] [BODY_FILE]\n"
          "\n"
          "Prints the signature headers a webhook sender would send with the body in BODY_FILE\n"
          "(standard input when absent), one 'Name: value' line each, for `curl -H @file`.\n"
          "The secret comes from --secret-file, or else the MESHHOOK_SIGN_SECRET variable.\n"
          "\n"
          "  --scheme      hmac, github, stripe or standard_webhooks\n"
          "  --algorithm   hmac: sha256 (default) or sha512\n"
          "  --encoding    hmac: hex (default), base64 or base64url\n"
          "  --header      hmac: the header name (default X-Signature)\n"
          "  --prefix      hmac: text before the MAC (default none)\n"
          "  --timestamp   stripe, standard_webhooks: unix seconds (default now)\n"
          "  --id          standard_webhooks: the message id (default a random one)\n"
          "\n"
          "exit status: 0 success, 1 failure, 2 usage error\n",
          f);
}

static bool read_file(const char *path, size_t max, struct mh_buf *out)
{
    FILE *f = path && strcmp(path, "-") != 0 ? fopen(path, "rb") : stdin;
    if (f == NULL)
        return false;
    char chunk[65536];
    size_t n;
    bool ok = true;
    mh_buf_init(out, max);
    while (ok && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        ok = mh_buf_append(out, chunk, n) == MH_OK;
    if (ferror(f))
        ok = false;
    if (f != stdin)
        fclose(f);
    if (!ok)
        mh_buf_cleanup(out);
    return ok;
}

static bool read_secret(const struct sign_opts *o, char **secret)
{
    const char *env = getenv("MESHHOOK_SIGN_SECRET");
    struct mh_buf b;
    if (o->secret_file) {
        if (!read_file(o->secret_file, SIGN_MAX_SECRET, &b))
            return false;
        size_t len = 0;
        char *s = mh_buf_steal(&b, &len);
        while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
            s[--len] = '\0';
        *secret = s;
        return len > 0;
    }
    if (env && env[0]) {
        *secret = mh_xstrdup(env);
        return true;
    }
    return false;
}

static int sign_body(const struct sign_opts *o, const char *secret, const char *body, size_t len)
{
    const struct mh_scheme *sc = mh_scheme_find(o->scheme, NULL);
    if (sc == NULL || sc->sign == NULL || sc->key_kind != MH_SCHEME_KEY_HMAC) {
        fprintf(stderr, "sign: unknown scheme '%s'\n", o->scheme);
        return 2;
    }
    struct mh_scheme_settings st = {
        .hmac =
            {
                .alg = strcmp(o->algorithm, "sha512") == 0 ? MH_CRYPTO_HASH_SHA512
                                                           : MH_CRYPTO_HASH_SHA256,
                .encoding = strcmp(o->encoding, "base64") == 0      ? MH_CRYPTO_SIG_BASE64
                            : strcmp(o->encoding, "base64url") == 0 ? MH_CRYPTO_SIG_BASE64URL
                                                                    : MH_CRYPTO_SIG_HEX,
                .prefix = o->prefix,
            },
        .hmac_header = o->header,
    };
    struct mh_scheme_sign_args a = {
        .settings = &st,
        .now_s = o->timestamp >= 0 ? o->timestamp : (long long)time(NULL),
        .msg_id = o->id,
    };
    struct mh_scheme_headers out = {0};
    struct mh_err_info info = MH_ERR_INFO_INIT;
    enum mh_err rc = mh_scheme_sign_secret(sc, &a, secret, body, len, &out, &info);
    for (size_t i = 0; rc == MH_OK && i < out.n; i++)
        printf("%s: %s\n", out.h[i].name, out.h[i].value);
    mh_scheme_headers_cleanup(&out);
    if (rc == MH_EINVAL && strcmp(info.kind, "bad-secret") == 0) {
        fprintf(stderr, "sign: a Standard Webhooks secret is whsec_ and base64\n");
        return 1;
    }
    if (rc != MH_OK) {
        fprintf(stderr, "sign: could not sign: %s\n", mh_strerror(rc));
        return 1;
    }
    return 0;
}

int mh_cli_sign(int argc, char **argv)
{
    struct sign_opts o = {.algorithm = "sha256",
                          .encoding = "hex",
                          .header = "X-Signature",
                          .prefix = "",
                          .timestamp = -1};
    struct mh_buf body;
    char *secret = NULL;
    int status = 2;
    for (int i = 1; i < argc && argv[i] != NULL; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        const char **target = strcmp(a, "--scheme") == 0        ? &o.scheme
                              : strcmp(a, "--secret-file") == 0 ? &o.secret_file
                              : strcmp(a, "--algorithm") == 0   ? &o.algorithm
                              : strcmp(a, "--encoding") == 0    ? &o.encoding
                              : strcmp(a, "--header") == 0      ? &o.header
                              : strcmp(a, "--prefix") == 0      ? &o.prefix
                              : strcmp(a, "--id") == 0          ? &o.id
                                                                : NULL;
        if (target && v) {
            *target = v;
            i++;
        } else if (strcmp(a, "--timestamp") == 0 && v) {
            char *end = NULL;
            o.timestamp = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || o.timestamp < 0) {
                usage(stderr);
                return 2;
            }
            i++;
        } else if (a[0] != '-' || strcmp(a, "-") == 0) {
            o.file = a;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (o.scheme == NULL) {
        usage(stderr);
        return 2;
    }
    if (!read_secret(&o, &secret)) {
        fprintf(stderr, "sign: give the secret with --secret-file or MESHHOOK_SIGN_SECRET\n");
        mh_crypto_free_secret_str(secret);
        return 2;
    }
    if (!read_file(o.file, SIGN_MAX_BODY, &body)) {
        fprintf(stderr, "sign: cannot read the body from %s\n", o.file ? o.file : "stdin");
        status = 1;
        goto out;
    }
    status = sign_body(&o, secret, mh_buf_str(&body), mh_buf_len(&body));
    mh_buf_cleanup(&body);
out:
    mh_crypto_free_secret_str(secret);
    return status;
}
