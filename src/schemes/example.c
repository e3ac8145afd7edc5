/* SPDX-License-Identifier: MIT */
/*
 * Sender examples (docs/webhooks.md, "In the web app"): a POSIX shell script that signs a sample
 * body with openssl exactly as the endpoint's scheme verifies it and sends it with curl, and, for
 * providers with their own webhook form, that form's setting names. This file writes the frame
 * (URL, BODY, SECRET, the curl command, the notes); each scheme's `example` operation writes the
 * lines that compute its signature and the headers that carry it. The script computes the
 * signature when it runs (with the current time for the schemes that sign one), so it stays
 * right; the secret is read from $SECRET unless the caller knows it (right after a key is
 * created) and passes it.
 */
#include "schemes/schemes_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "crypto/crypto.h"

#define SCRIPT_MAX (64 * 1024)

static const char sample_body[] =
    "{\"type\":\"meshhook.example\",\"message\":\"Hello from the MeshHook sender example\"}";

void mh_scheme__sh_word(struct mh_buf *b, enum mh_err *rc, const char *s)
{
    if (*rc != MH_OK)
        return;
    *rc = mh_buf_append_str(b, "'");
    for (const char *p = s; *rc == MH_OK && *p; p++)
        *rc = *p == '\'' ? mh_buf_append_str(b, "'\\''") : mh_buf_append(b, p, 1);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "'");
}

void mh_scheme__sh_line(struct mh_buf *b, enum mh_err *rc, const char *s)
{
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, s);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "\n");
}

void mh_scheme__sh_assign(struct mh_buf *b, enum mh_err *rc, const char *var, const char *value)
{
    if (*rc == MH_OK)
        *rc = mh_buf_printf(b, "%s=", var);
    mh_scheme__sh_word(b, rc, value);
    if (*rc == MH_OK)
        *rc = mh_buf_append_str(b, "\n");
}

json_t *mh_scheme__setting(const char *name, const char *value, const char *note)
{
    return json_pack("{s:s, s:s, s:s?}", "name", name, "value", value, "note", note);
}

const char *mh_scheme__str(json_t *vf, const char *name, const char *def)
{
    const char *v = json_string_value(json_object_get(vf, name));
    return v ? v : def;
}

enum mh_err mh_scheme_examples(json_t *verification, const char *url, const char *method,
                               const char *secret, const char *kid, bool has_schema, json_t **out)
{
    const char *name = mh_scheme__str(verification, "scheme", "none");
    const struct mh_scheme *sc = mh_scheme_find(name, NULL);
    struct mh_buf b, curl;
    char *text = NULL;
    size_t text_len = 0;
    enum mh_err rc = MH_OK;
    json_t *notes = json_array();
    struct mh_scheme_example ex = {
        .verification = verification, .kid = kid, .url = url, .secret = secret};
    *out = NULL;
    if (sc == NULL)
        sc = &mh_scheme_none;
    mh_buf_init(&b, SCRIPT_MAX);
    mh_buf_init(&curl, SCRIPT_MAX);
    bool signs = sc->example != NULL;
    mh_scheme__sh_line(&b, &rc, "#!/bin/sh");
    mh_scheme__sh_line(&b, &rc, "set -eu");
    mh_scheme__sh_assign(&b, &rc, "URL", url);
    mh_scheme__sh_assign(&b, &rc, "BODY", sample_body);
    if (signs && secret != NULL) {
        mh_scheme__sh_assign(&b, &rc, "SECRET", secret);
    } else if (signs) {
        if (rc == MH_OK)
            rc = mh_buf_printf(
                &b, "# SECRET: the endpoint key's %s, shown once when it was created.\n",
                sc->key_kind == MH_SCHEME_KEY_JWT ? "HS256 secret" : "signing secret");
        mh_scheme__sh_line(&b, &rc, ": \"${SECRET:?set SECRET to the signing secret}\"");
    }
    ex.script = &b;
    ex.curl = &curl;
    if (rc == MH_OK && signs)
        rc = sc->example(&ex);
    if (rc == MH_OK)
        rc = mh_buf_printf(&b, "curl -sS -X %s \"$URL\" -H 'Content-Type: application/json'",
                           method);
    if (rc == MH_OK)
        rc = mh_buf_len(&curl) > 0 ? mh_buf_printf(&b, " \\\n  %s \\\n", mh_buf_str(&curl))
                                   : mh_buf_append_str(&b, " \\\n");
    mh_scheme__sh_line(&b, &rc, "  --data-binary \"$BODY\"");
    if (rc != MH_OK)
        goto out;

    if (signs && secret == NULL)
        json_array_append_new(notes, json_string("Set SECRET to the key's signing secret before "
                                                 "running the script: MeshHook shows a secret "
                                                 "once, when its key is created."));
    if (ex.note != NULL)
        json_array_append_new(notes, json_string(ex.note));
    if (has_schema)
        json_array_append_new(notes, json_string("The endpoint has a JSON Schema: replace BODY "
                                                 "with a payload it accepts (the signature is "
                                                 "computed over BODY)."));
    if (strcmp(method, "POST") != 0)
        json_array_append_new(notes, json_string("The endpoint does not accept POST: the "
                                                 "example uses its first method."));
    *out = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:o, s:o}", "scheme", sc->name, "url",
                     url, "method", method, "content_type", "application/json", "body", sample_body,
                     "secret_included", signs && secret != NULL, "script", mh_buf_str(&b),
                     "provider", ex.provider ? ex.provider : json_null(), "notes", notes);
    ex.provider = notes = NULL;
    if (*out == NULL)
        rc = MH_ENOMEM;
out:
    /* The script may hold the secret. */
    text = mh_buf_steal(&b, &text_len);
    if (text)
        mh_crypto_wipe(text, text_len);
    free(text);
    mh_buf_cleanup(&b);
    mh_buf_cleanup(&curl);
    json_decref(ex.provider);
    json_decref(notes);
    return rc;
}
