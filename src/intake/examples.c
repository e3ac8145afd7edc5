/* SPDX-License-Identifier: MIT */
/*
 * Sender examples (docs/webhooks.md, "In the web app"): a POSIX shell script that signs a sample
 * body with openssl exactly as the endpoint's scheme verifies it and sends it with curl, and, for
 * GitHub and Stripe, the provider's own setting names. The script computes the signature when it
 * runs (with the current time for the schemes that sign one), so it stays right; the secret is
 * read from $SECRET unless the caller knows it (right after a key is created) and passes it.
 */
#include "intake/intake_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/mem.h"
#include "crypto/crypto.h"

#define SCRIPT_MAX (64 * 1024)

static const char sample_body[] =
    "{\"type\":\"meshhook.example\",\"message\":\"Hello from the MeshHook sender example\"}";

/* Appends `s` as one single-quoted shell word. */
static void sh_word(struct mh_buf *b, enum mh_err *rc, const char *s)
{
    if (*rc != MH_OK)
        return;
    *rc = mh_buf_append_str(b, "'");
    for (const char *p = s; *rc == MH_OK && *p; p++)
        *rc = *p == '\'' ? mh_buf_append_str(b, "'\\''") : mh_buf_append(b, p, 1);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "'");
}

static void sh_line(struct mh_buf *b, enum mh_err *rc, const char *s)
{
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, s);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "\n");
}

/* VAR='value' */
static void sh_assign(struct mh_buf *b, enum mh_err *rc, const char *var, const char *value)
{
    if (*rc == MH_OK)
        *rc = mh_buf_printf(b, "%s=", var);
    sh_word(b, rc, value);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "\n");
}

/* The openssl pipeline turning stdin into the MAC keyed with $SECRET, encoded as `enc`. */
static const char *hmac_pipe(const char *alg, const char *enc)
{
    bool is512 = strcmp(alg, "sha512") == 0;
    if (strcmp(enc, "base64") == 0)
        return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -binary | openssl base64 -A"
                     : "openssl dgst -sha256 -hmac \"$SECRET\" -binary | openssl base64 -A";
    if (strcmp(enc, "base64url") == 0)
        return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '='"
                     : "openssl dgst -sha256 -hmac \"$SECRET\" -binary | openssl base64 -A | "
                       "tr '+/' '-_' | tr -d '='";
    return is512 ? "openssl dgst -sha512 -hmac \"$SECRET\" -r | cut -d' ' -f1"
                 : "openssl dgst -sha256 -hmac \"$SECRET\" -r | cut -d' ' -f1";
}

static json_t *setting(const char *name, const char *value, const char *note)
{
    return json_pack("{s:s, s:s, s:s?}", "name", name, "value", value, "note", note);
}

enum mh_err mh_intake_examples(json_t *verification, const char *url, const char *method,
                               const char *secret, const char *kid, bool has_schema, json_t **out)
{
    const char *scheme = json_string_value(json_object_get(verification, "scheme"));
    struct mh_buf b;
    char *text = NULL;
    size_t text_len = 0;
    enum mh_err rc = MH_OK;
    json_t *provider = NULL, *notes = json_array();
    *out = NULL;
    if (scheme == NULL)
        scheme = "none";
    mh_buf_init(&b, SCRIPT_MAX);
    bool is_jwt = strcmp(scheme, "jwt") == 0;
    bool signs = strcmp(scheme, "none") != 0;
    sh_line(&b, &rc, "#!/bin/sh");
    sh_line(&b, &rc, "set -eu");
    sh_assign(&b, &rc, "URL", url);
    sh_assign(&b, &rc, "BODY", sample_body);
    if (signs && secret != NULL) {
        sh_assign(&b, &rc, "SECRET", secret);
    } else if (signs) {
        sh_line(&b, &rc,
                is_jwt ? "# SECRET: the endpoint key's HS256 secret, shown once when it was "
                         "created."
                       : "# SECRET: the endpoint key's signing secret, shown once when it was "
                         "created.");
        sh_line(&b, &rc, ": \"${SECRET:?set SECRET to the signing secret}\"");
    }
    const char *sig_header = NULL;
    if (strcmp(scheme, "hmac") == 0) {
        const char *alg = json_string_value(json_object_get(verification, "algorithm"));
        const char *enc = json_string_value(json_object_get(verification, "encoding"));
        const char *hdr = json_string_value(json_object_get(verification, "header"));
        const char *prefix = json_string_value(json_object_get(verification, "prefix"));
        if (rc == MH_OK)
            rc = mh_buf_printf(&b, "SIG=$(printf '%%s' \"$BODY\" | %s)\n",
                               hmac_pipe(alg ? alg : "sha256", enc ? enc : "hex"));
        sh_assign(&b, &rc, "PREFIX", prefix ? prefix : "");
        if (rc == MH_OK)
            rc = mh_buf_printf(&b, "HEADER=\"%s: $PREFIX$SIG\"\n", hdr ? hdr : "X-Signature");
        sig_header = "\"$HEADER\"";
    } else if (strcmp(scheme, "github") == 0) {
        sh_line(&b, &rc,
                "SIG=$(printf '%s' \"$BODY\" | openssl dgst -sha256 -hmac \"$SECRET\" "
                "-r | cut -d' ' -f1)");
        sig_header = "\"X-Hub-Signature-256: sha256=$SIG\"";
        sh_line(&b, &rc, "DELIVERY=$(openssl rand -hex 16)");
    } else if (strcmp(scheme, "stripe") == 0) {
        sh_line(&b, &rc, "T=$(date +%s)");
        sh_line(&b, &rc,
                "SIG=$(printf '%s.%s' \"$T\" \"$BODY\" | openssl dgst -sha256 -hmac "
                "\"$SECRET\" -r | cut -d' ' -f1)");
        sig_header = "\"Stripe-Signature: t=$T,v1=$SIG\"";
    } else if (strcmp(scheme, "standard_webhooks") == 0) {
        sh_line(&b, &rc, "# The key is the base64 after whsec_ (padding restored).");
        sh_line(&b, &rc, "K=${SECRET#whsec_}");
        sh_line(&b, &rc, "while [ $((${#K} % 4)) -ne 0 ]; do K=\"$K=\"; done");
        sh_line(&b, &rc,
                "KEY=$(printf '%s' \"$K\" | openssl base64 -d -A | od -An -v -tx1 | "
                "tr -d ' \\n')");
        sh_line(&b, &rc, "ID=msg_$(openssl rand -hex 12)");
        sh_line(&b, &rc, "T=$(date +%s)");
        sh_line(&b, &rc,
                "SIG=$(printf '%s.%s.%s' \"$ID\" \"$T\" \"$BODY\" | openssl dgst -sha256 "
                "-mac HMAC -macopt \"hexkey:$KEY\" -binary | openssl base64 -A)");
    } else if (is_jwt) {
        const char *iss = json_string_value(json_object_get(verification, "issuer"));
        const char *aud = json_string_value(json_object_get(verification, "audience"));
        json_t *header = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
        if (kid)
            json_object_set_new(header, "kid", json_string(kid));
        char *hj = json_dumps(header, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(header);
        sh_line(&b, &rc, "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }");
        sh_line(&b, &rc, "NOW=$(date +%s)");
        if (rc == MH_OK)
            rc = mh_buf_append_str(&b, "H=$(printf '%s' ");
        sh_word(&b, &rc, hj ? hj : "{}");
        sh_line(&b, &rc, " | b64url)");
        free(hj);
        /* The claims are a printf format: iss and aud are JSON strings with printf's % and \
         * doubled, all inside one shell word. */
        struct mh_buf f;
        mh_buf_init(&f, SCRIPT_MAX);
        enum mh_err frc = mh_buf_append_str(&f, "{");
        const char *names[] = {"iss", "aud"};
        const char *values[] = {iss, aud};
        for (size_t i = 0; i < 2; i++) {
            if (values[i] == NULL)
                continue;
            json_t *v = json_string(values[i]);
            char *js = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
            json_decref(v);
            if (frc == MH_OK)
                frc = mh_buf_printf(&f, "\"%s\":", names[i]);
            for (const char *p = js ? js : "\"\""; frc == MH_OK && *p; p++)
                frc = *p == '%'    ? mh_buf_append_str(&f, "%%")
                      : *p == '\\' ? mh_buf_append_str(&f, "\\\\")
                                   : mh_buf_append(&f, p, 1);
            free(js);
            if (frc == MH_OK)
                frc = mh_buf_append_str(&f, ",");
        }
        if (frc == MH_OK)
            frc = mh_buf_append_str(&f, "\"iat\":%s,\"exp\":%s}");
        if (rc == MH_OK)
            rc = frc;
        if (rc == MH_OK)
            rc = mh_buf_append_str(&b, "P=$(printf ");
        sh_word(&b, &rc, rc == MH_OK ? mh_buf_str(&f) : "");
        sh_line(&b, &rc, " \"$NOW\" \"$((NOW + 300))\" | b64url)");
        mh_buf_cleanup(&f);
        sh_line(&b, &rc,
                "S=$(printf '%s.%s' \"$H\" \"$P\" | openssl dgst -sha256 -hmac "
                "\"$SECRET\" -binary | b64url)");
        sig_header = "\"Authorization: Bearer $H.$P.$S\"";
    }
    if (rc == MH_OK)
        rc = mh_buf_printf(&b, "curl -sS -X %s \"$URL\" -H 'Content-Type: application/json'",
                           method);
    if (strcmp(scheme, "standard_webhooks") == 0)
        sh_line(&b, &rc,
                " \\\n  -H \"webhook-id: $ID\" -H \"webhook-timestamp: $T\" "
                "-H \"webhook-signature: v1,$SIG\" \\");
    else if (strcmp(scheme, "github") == 0)
        sh_line(&b, &rc,
                " \\\n  -H 'X-GitHub-Event: ping' -H \"X-GitHub-Delivery: $DELIVERY\" "
                "-H \"X-Hub-Signature-256: sha256=$SIG\" \\");
    else if (sig_header && rc == MH_OK)
        rc = mh_buf_printf(&b, " \\\n  -H %s \\\n", sig_header);
    else
        sh_line(&b, &rc, " \\");
    sh_line(&b, &rc, "  --data-binary \"$BODY\"");
    if (rc != MH_OK)
        goto out;

    if (strcmp(scheme, "github") == 0) {
        provider = json_pack("{s:s, s:s, s:[o, o, o, o]}", "name", "GitHub", "where",
                             "Repository or organisation Settings → Webhooks → Add webhook",
                             "settings", setting("Payload URL", url, NULL),
                             setting("Content type", "application/json", NULL),
                             setting("Secret", secret ? secret : "the endpoint key's secret",
                                     "the secret shown once when the key was created"),
                             setting("SSL verification", "Enable SSL verification", NULL));
    } else if (strcmp(scheme, "stripe") == 0) {
        provider = json_pack(
            "{s:s, s:s, s:[o, o]}", "name", "Stripe", "where",
            "Dashboard → Developers → Webhooks → Add endpoint", "settings",
            setting("Endpoint URL", url, NULL),
            setting("Signing secret", "whsec_… (Stripe shows it after the endpoint is added)",
                    "Stripe chooses its own signing secret: add it to this endpoint as a key "
                    "(Keys → Add key, paste the secret), then revoke the key MeshHook generated"));
    }
    if (signs && secret == NULL)
        json_array_append_new(notes, json_string("Set SECRET to the key's signing secret before "
                                                 "running the script: MeshHook shows a secret "
                                                 "once, when its key is created."));
    if (is_jwt)
        json_array_append_new(notes, json_string("The script signs an HS256 token. A key that is "
                                                 "a public key (RS256, ES256, EdDSA...) verifies "
                                                 "tokens signed with its private key instead."));
    if (has_schema)
        json_array_append_new(notes, json_string("The endpoint has a JSON Schema: replace BODY "
                                                 "with a payload it accepts (the signature is "
                                                 "computed over BODY)."));
    if (strcmp(method, "POST") != 0)
        json_array_append_new(notes, json_string("The endpoint does not accept POST: the "
                                                 "example uses its first method."));
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o, s:o}", "scheme", scheme, "url", url,
                     "method", method, "content_type", "application/json", "body", sample_body,
                     "secret_included", signs && secret != NULL, "script", mh_buf_str(&b),
                     "provider", provider ? provider : json_null(), "notes", notes);
    provider = notes = NULL;
    if (*out == NULL)
        rc = MH_ENOMEM;
out:
    /* The script may hold the secret. */
    text = mh_buf_steal(&b, &text_len);
    if (text)
        mh_crypto_wipe(text, text_len);
    free(text);
    mh_buf_cleanup(&b);
    json_decref(provider);
    json_decref(notes);
    return rc;
}
