/* b64.c: see b64.h. */
#include "common/b64.h"

bool b64_chars_ok(const char *s, size_t n, bool url_safe)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '=' ||
                  (url_safe ? (c == '-' || c == '_') : (c == '+' || c == '/'));
        if (!ok)
            return false;
    }
    return true;
}
