/* SPDX-License-Identifier: MIT */
/*
 * Raw AES-256-GCM over EVP, the one AEAD MeshHook uses (the secrets vault wraps keys and seals
 * values with it). It is exposed raw so that it can be checked against NIST's CAVP vectors;
 * callers that just want to store a secret use vault.h, which picks nonces for them. Decryption
 * wipes its output when the tag does not verify, so unauthenticated plaintext never escapes.
 */
#include "crypto/crypto.h"

#include <limits.h>
#include <string.h>

#include "crypto/crypto_internal.h"

enum gcm_dir {
    GCM_DECRYPT = 0,
    GCM_ENCRYPT = 1,
};

static enum mh_err gcm_init(EVP_CIPHER_CTX **out, enum gcm_dir dir, const uint8_t *key,
                            const uint8_t *iv, size_t iv_len, const void *aad, size_t aad_len);

/* A context keyed for `dir` with the IV set and the AAD absorbed. */
static enum mh_err gcm_init(EVP_CIPHER_CTX **out, enum gcm_dir dir, const uint8_t *key,
                            const uint8_t *iv, size_t iv_len, const void *aad, size_t aad_len)
{
    enum mh_err rc = MH_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    const EVP_CIPHER *cipher = mh_crypto__aes256gcm();
    int outl = 0;

    *out = NULL;
    if (iv == NULL || iv_len == 0 || iv_len > MH_CRYPTO_GCM_IV_MAX)
        return MH_EINVAL;
    if (aad_len > INT_MAX)
        return MH_ETOOBIG;
    if (cipher == NULL || (ctx = EVP_CIPHER_CTX_new()) == NULL) {
        rc = MH_ECRYPTO;
        goto out;
    }
    if (EVP_CipherInit_ex2(ctx, cipher, NULL, NULL, (int)dir, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)iv_len, NULL) != 1 ||
        EVP_CipherInit_ex2(ctx, NULL, key, iv, (int)dir, NULL) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    if (aad_len > 0 && EVP_CipherUpdate(ctx, NULL, &outl, aad, (int)aad_len) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
out:
    if (rc != MH_OK) {
        mh_crypto__clear_errors();
        EVP_CIPHER_CTX_free(ctx);
        ctx = NULL;
    }
    *out = ctx;
    return rc;
}

enum mh_err mh_crypto_aes256gcm_encrypt(const uint8_t key[MH_CRYPTO_AES256_KEY_LEN],
                                        const uint8_t *iv, size_t iv_len, const void *aad,
                                        size_t aad_len, const void *pt, size_t pt_len, uint8_t *ct,
                                        uint8_t tag[MH_CRYPTO_GCM_TAG_LEN])
{
    enum mh_err rc = MH_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    int outl = 0, finl = 0;

    if (pt_len > INT_MAX)
        return MH_ETOOBIG;
    rc = gcm_init(&ctx, GCM_ENCRYPT, key, iv, iv_len, aad, aad_len);
    if (rc != MH_OK)
        goto out;
    if (pt_len > 0 && EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)pt_len) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    /* GCM is a stream mode: Final writes nothing, but it must run to compute the tag. */
    if (EVP_EncryptFinal_ex(ctx, ct + outl, &finl) != 1 || (size_t)(outl + finl) != pt_len ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, MH_CRYPTO_GCM_TAG_LEN, tag) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
out:
    if (rc == MH_ECRYPTO)
        mh_crypto__clear_errors();
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

enum mh_err mh_crypto_aes256gcm_decrypt(const uint8_t key[MH_CRYPTO_AES256_KEY_LEN],
                                        const uint8_t *iv, size_t iv_len, const void *aad,
                                        size_t aad_len, const void *ct, size_t ct_len,
                                        const uint8_t tag[MH_CRYPTO_GCM_TAG_LEN], uint8_t *pt)
{
    enum mh_err rc = MH_OK;
    EVP_CIPHER_CTX *ctx = NULL;
    uint8_t tag_copy[MH_CRYPTO_GCM_TAG_LEN];
    int outl = 0, finl = 0;

    if (ct_len > INT_MAX)
        return MH_ETOOBIG;
    rc = gcm_init(&ctx, GCM_DECRYPT, key, iv, iv_len, aad, aad_len);
    if (rc != MH_OK)
        goto out;
    if (ct_len > 0 && EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)ct_len) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    /* SET_TAG takes a non-const pointer; hand it a copy rather than cast away const. */
    memcpy(tag_copy, tag, sizeof(tag_copy));
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, MH_CRYPTO_GCM_TAG_LEN, tag_copy) != 1) {
        rc = MH_ECRYPTO;
        goto out;
    }
    /* OpenSSL compares the tag in constant time inside Final. */
    if (EVP_DecryptFinal_ex(ctx, pt + outl, &finl) != 1 || (size_t)(outl + finl) != ct_len) {
        rc = MH_ECRYPTO;
        goto out;
    }
out:
    if (rc != MH_OK) {
        mh_crypto__clear_errors();
        if (rc == MH_ECRYPTO && pt != NULL)
            mh_crypto_wipe(pt, ct_len);
    }
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}
