/* SPDX-License-Identifier: MIT */
/* Text checks (see text.h). */
#include "core/text.h"

#include <ctype.h>
#include <string.h>

size_t mh_text_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char b = s[0];
    /* The second byte's range excludes the overlong forms, the surrogates and U+110000 up. */
    if (b < 0x80)
        return 1;
    if (b >= 0xC2 && b <= 0xDF)
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {
        unsigned char lo = b == 0xE0 ? 0xA0 : 0x80, hi = b == 0xED ? 0x9F : 0xBF;
        return n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 ? 3 : 0;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        unsigned char lo = b == 0xF0 ? 0x90 : 0x80, hi = b == 0xF4 ? 0x8F : 0xBF;
        return n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xC0) == 0x80 && (s[3] & 0xC0) == 0x80
                   ? 4
                   : 0;
    }
    return 0;
}

bool mh_text_is_utf8(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < len;) {
        size_t k = s[i] == 0 ? 0 : mh_text_utf8_len(s + i, len - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

bool mh_text_is_email(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > MH_TEXT_EMAIL_MAX_BYTES)
        return false;
    const char *at = strchr(s, '@');
    if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    const char *dot = strrchr(at + 1, '.');
    if (dot == NULL || dot == at + 1 || dot[1] == '\0')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f)
            return false;
    return true;
}

bool mh_text_lower(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s);
    if (len + 1 > cap)
        return false;
    for (size_t i = 0; i <= len; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    return true;
}
