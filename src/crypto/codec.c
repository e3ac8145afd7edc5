/* SPDX-License-Identifier: MIT */
/*
 * Strict hex and base64 (RFC 4648, standard and URL-safe alphabets, with or without padding).
 * Signatures, keys and tokens pass through here, so decoding rejects every non-canonical form,
 * and characters are mapped with branch-free arithmetic instead of lookup tables: decoding a
 * KEK or a webhook secret must not leak it through which cache lines a table lookup touches.
 * Only the public structure of the input (its length and padding) drives branches.
 */
#include "crypto/crypto.h"

#include "core/mem.h"

static int mask_in_range(int c, int lo, int hi);
static int mask_ge(int v, int k);
static int hex_value(int c);
static char hex_char(int nibble);
static int b64_value(int c, bool url);
static char b64_char(int v, bool url);
static bool variant_is_url(enum mh_crypto_b64 variant);
static bool variant_is_padded(enum mh_crypto_b64 variant);
static enum mh_err b64_decode(enum mh_crypto_b64 variant, const char *in, size_t in_len,
                              bool is_lenient, uint8_t *out, size_t out_cap, size_t *out_len);

/* -1 (all ones) when lo <= c <= hi, else 0; for 0 <= c, lo, hi <= 255. */
static int mask_in_range(int c, int lo, int hi)
{
    return ((lo - 1 - c) & (c - hi - 1)) >> 8;
}

/* -1 when v >= k, else 0; for 0 <= v, k <= 255. */
static int mask_ge(int v, int k)
{
    return (k - 1 - v) >> 8;
}

/* The digit's value, or -1. */
static int hex_value(int c)
{
    int v = (mask_in_range(c, '0', '9') & (c - '0' + 1)) |
            (mask_in_range(c, 'a', 'f') & (c - 'a' + 11)) |
            (mask_in_range(c, 'A', 'F') & (c - 'A' + 11));
    return v - 1;
}

static char hex_char(int nibble)
{
    return (char)(nibble + '0' + (mask_ge(nibble, 10) & ('a' - '0' - 10)));
}

/* The 6-bit value of a base64 character, or -1 (which includes '='). */
static int b64_value(int c, bool url)
{
    int c62 = url ? '-' : '+';
    int c63 = url ? '_' : '/';
    int v = (mask_in_range(c, 'A', 'Z') & (c - 'A' + 1)) |
            (mask_in_range(c, 'a', 'z') & (c - 'a' + 27)) |
            (mask_in_range(c, '0', '9') & (c - '0' + 53)) | (mask_in_range(c, c62, c62) & 63) |
            (mask_in_range(c, c63, c63) & 64);
    return v - 1;
}

static char b64_char(int v, bool url)
{
    /* Start in 'A'..'Z' and shift into the next range at each boundary. */
    int c = v + 'A';
    c += mask_ge(v, 26) & ('a' - 'A' - 26);
    c += mask_ge(v, 52) & ('0' - 'a' - 26);
    c += mask_ge(v, 62) & ((url ? '-' : '+') - ('0' + 10));
    c += mask_ge(v, 63) & ((url ? '_' : '/') - (url ? '-' : '+') - 1);
    return (char)c;
}

static bool variant_is_url(enum mh_crypto_b64 variant)
{
    return variant == MH_CRYPTO_B64_URL || variant == MH_CRYPTO_B64_URL_NOPAD;
}

static bool variant_is_padded(enum mh_crypto_b64 variant)
{
    return variant == MH_CRYPTO_B64_STD || variant == MH_CRYPTO_B64_URL;
}

/* ---- Hex ---------------------------------------------------------------------------------- */

size_t mh_crypto_hex_encoded_len(size_t n)
{
    return 2 * n;
}

void mh_crypto_hex_encode(const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_char(p[i] >> 4);
        out[2 * i + 1] = hex_char(p[i] & 0x0f);
    }
    out[2 * n] = '\0';
}

enum mh_err mh_crypto_hex_decode(const char *in, size_t in_len, uint8_t *out, size_t out_cap,
                                 size_t *out_len)
{
    *out_len = 0;
    if (in_len % 2 != 0)
        return MH_EINVAL;
    if (in_len / 2 > out_cap)
        return MH_ETOOBIG;
    int bad = 0;
    for (size_t i = 0; i < in_len / 2; i++) {
        int hi = hex_value((unsigned char)in[2 * i]);
        int lo = hex_value((unsigned char)in[2 * i + 1]);
        bad |= hi | lo;
        out[i] = (uint8_t)(((hi & 15) << 4) | (lo & 15));
    }
    if (bad < 0) {
        mh_crypto_wipe(out, in_len / 2);
        return MH_EINVAL;
    }
    *out_len = in_len / 2;
    return MH_OK;
}

/* ---- Base64 ------------------------------------------------------------------------------- */

size_t mh_crypto_b64_encoded_len(size_t n, enum mh_crypto_b64 variant)
{
    if (variant_is_padded(variant))
        return (n + 2) / 3 * 4;
    return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t mh_crypto_b64_decoded_max(size_t in_len)
{
    return in_len / 4 * 3 + 2;
}

void mh_crypto_b64_encode(enum mh_crypto_b64 variant, const void *in, size_t n, char *out)
{
    const uint8_t *p = in;
    bool url = variant_is_url(variant);
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = b64_char((int)(w >> 18) & 63, url);
        out[o++] = b64_char((int)(w >> 12) & 63, url);
        out[o++] = b64_char((int)(w >> 6) & 63, url);
        out[o++] = b64_char((int)w & 63, url);
    }
    if (n - i == 1) {
        uint32_t w = (uint32_t)p[i] << 16;
        out[o++] = b64_char((int)(w >> 18) & 63, url);
        out[o++] = b64_char((int)(w >> 12) & 63, url);
        if (variant_is_padded(variant)) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = b64_char((int)(w >> 18) & 63, url);
        out[o++] = b64_char((int)(w >> 12) & 63, url);
        out[o++] = b64_char((int)(w >> 6) & 63, url);
        if (variant_is_padded(variant))
            out[o++] = '=';
    }
    out[o] = '\0';
}

char *mh_crypto_b64_encode_new(enum mh_crypto_b64 variant, const void *in, size_t n)
{
    char *s = mh_xmalloc(mh_crypto_b64_encoded_len(n, variant) + 1);
    mh_crypto_b64_encode(variant, in, n, s);
    return s;
}

enum mh_err mh_crypto_b64_decode(enum mh_crypto_b64 variant, const char *in, size_t in_len,
                                 uint8_t *out, size_t out_cap, size_t *out_len)
{
    return b64_decode(variant, in, in_len, false, out, out_cap, out_len);
}

enum mh_err mh_crypto_b64_decode_lenient(enum mh_crypto_b64 variant, const char *in, size_t in_len,
                                         uint8_t *out, size_t out_cap, size_t *out_len)
{
    return b64_decode(variant, in, in_len, true, out, out_cap, out_len);
}

static enum mh_err b64_decode(enum mh_crypto_b64 variant, const char *in, size_t in_len,
                              bool is_lenient, uint8_t *out, size_t out_cap, size_t *out_len)
{
    bool url = variant_is_url(variant);
    size_t len = in_len;
    *out_len = 0;

    if (variant_is_padded(variant)) {
        if (len % 4 != 0)
            return MH_EINVAL;
        /* At most two trailing '=' are padding; any other '=' fails as a bad character. */
        if (len > 0 && in[len - 1] == '=')
            len--;
        if (len > 0 && in[len - 1] == '=')
            len--;
    } else if (len % 4 == 1) {
        return MH_EINVAL;
    }

    size_t full = len / 4;
    size_t rem = len % 4;
    size_t need = full * 3 + (rem ? rem - 1 : 0);
    if (need > out_cap)
        return MH_ETOOBIG;

    int bad = 0;
    size_t o = 0;
    for (size_t g = 0; g < full; g++) {
        const unsigned char *q = (const unsigned char *)in + 4 * g;
        int a = b64_value(q[0], url), b = b64_value(q[1], url);
        int c = b64_value(q[2], url), d = b64_value(q[3], url);
        bad |= a | b | c | d;
        uint32_t w = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6 |
                     (uint32_t)(d & 63);
        out[o++] = (uint8_t)(w >> 16);
        out[o++] = (uint8_t)(w >> 8);
        out[o++] = (uint8_t)w;
    }
    if (rem >= 2) {
        const unsigned char *q = (const unsigned char *)in + 4 * full;
        int a = b64_value(q[0], url), b = b64_value(q[1], url);
        int c = rem == 3 ? b64_value(q[2], url) : 0;
        bad |= a | b | c;
        uint32_t w = (uint32_t)(a & 63) << 18 | (uint32_t)(b & 63) << 12 | (uint32_t)(c & 63) << 6;
        out[o++] = (uint8_t)(w >> 16);
        if (rem == 3)
            out[o++] = (uint8_t)(w >> 8);
        /* Canonical form: the bits below the last full byte must be zero (unless lenient). */
        uint32_t unused = rem == 3 ? (w & 0xff) : (w & 0xffff);
        bad |= -(int)(unused != 0 && !is_lenient);
    }
    if (bad < 0) {
        mh_crypto_wipe(out, o);
        return MH_EINVAL;
    }
    *out_len = o;
    return MH_OK;
}
