/* utf8.c: UTF-8 validation (see utf8.h), following the table of well-formed
 * byte sequences in the Unicode standard (Table 3-7). */
#include "common/utf8.h"

#include <stdint.h>
#include <string.h>

bool utf8_valid(const void *p, size_t n)
{
    const uint8_t *s = p, *end = s + n;
    while (s < end) {
        /* ASCII runs (base64 content) 8 bytes at a time. */
        if (end - s >= 8) {
            uint64_t x;
            memcpy(&x, s, 8);
            if (!(x & 0x8080808080808080ull)) {
                s += 8;
                continue;
            }
        }
        uint8_t c = *s;
        if (c < 0x80) {
            s++;
            continue;
        }
        size_t need;
        uint8_t lo = 0x80, hi = 0xBF;  /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;  /* U+D800..U+DFFF are surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return false;
        if ((size_t)(end - s) <= need)
            return false;
        if (s[1] < lo || s[1] > hi)
            return false;
        for (size_t i = 2; i <= need; i++)
            if ((s[i] & 0xC0) != 0x80)
                return false;
        s += need + 1;
    }
    return true;
}
