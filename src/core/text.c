/* SPDX-License-Identifier: MIT */
/* Text checks (see text.h). */
#include "core/text.h"

#include <ctype.h>
#include <string.h>

bool mh_text_is_email(const char *s)
{
    size_t len = strlen(s);
    if (len < 3 || len > 320)
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
