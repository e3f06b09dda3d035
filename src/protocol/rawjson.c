/* rawjson.c: element spans of a JSON array (see rawjson.h). */
#include "protocol/rawjson.h"

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/utf8.h"

#include <stdlib.h>
#include <string.h>

static size_t skip_ws(const char *s, size_t i, size_t n)
{
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
        i++;
    return i;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* SWAR byte tests on 8 bytes at once: (y - 0x01..) & ~y & 0x80.. is nonzero
 * iff some byte of y is zero, i.e. some byte of x equals the byte looked for;
 * (x - 0x20..) & ~x & 0x80.. is nonzero iff some byte is below 0x20 (bytes
 * >= 0x80 are excluded by ~x). Exact as "any" tests, which is all we use:
 * a flagged word is then walked byte by byte. */
static inline uint64_t has_byte(uint64_t x, unsigned char c)
{
    uint64_t y = x ^ (ONES * c);
    return (y - ONES) & ~y & HIGHS;
}

static inline uint64_t has_below_space(uint64_t x)
{
    return (x - ONES * 0x20) & ~x & HIGHS;
}

/* Message strings are ~1.4 KB of base64 in every MSG frame; these scans
 * skip them 8 bytes at a time (they were the server's largest own cost on
 * the message path before). */
static size_t skip_plain_quote(const char *s, size_t i, size_t n)
{
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (has_byte(x, '"') | has_byte(x, '\\'))
            break;
        i += 8;
    }
    return i;
}

/* True if s[0..n) holds no backslash and no control character. */
static bool plain_string(const char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        if (has_byte(x, '\\') | has_below_space(x))
            return false;
    }
    for (; i < n; i++)
        if (s[i] == '\\' || (unsigned char)s[i] < 0x20)
            return false;
    return true;
}

/* Returns the index just past the value starting at s[i], or n+1 on error. */
static size_t skip_value(const char *s, size_t i, size_t n)
{
    if (i >= n)
        return n + 1;
    if (s[i] == '"') {
        for (i++; i < n; i++) {
            i = skip_plain_quote(s, i, n);
            if (i >= n)
                break;
            if (s[i] == '\\')
                i++;
            else if (s[i] == '"')
                return i + 1;
        }
        return n + 1;
    }
    if (s[i] == '[' || s[i] == '{') {
        int depth = 0;
        for (; i < n; i++) {
            char c = s[i];
            if (c == '"') {
                size_t j = skip_value(s, i, n);
                if (j > n)
                    return n + 1;
                i = j - 1;
            } else if (c == '[' || c == '{') {
                depth++;
            } else if (c == ']' || c == '}') {
                if (--depth == 0)
                    return i + 1;
            }
        }
        return n + 1;
    }
    size_t start = i;
    while (i < n && s[i] != ',' && s[i] != ']' && s[i] != '}' && s[i] != ' ' && s[i] != '\t' &&
           s[i] != '\n' && s[i] != '\r')
        i++;
    return i > start ? i : n + 1;
}

int rawjson_array(const char *s, size_t n, struct rawjson_span *out, size_t max)
{
    size_t i = skip_ws(s, 0, n);
    if (i >= n || s[i] != '[')
        return BP_EPROTO;
    i = skip_ws(s, i + 1, n);
    int count = 0;
    if (i < n && s[i] == ']')
        return 0;
    for (;;) {
        size_t end = skip_value(s, i, n);
        if (end > n)
            return BP_EPROTO;
        if ((size_t)count < max) {
            out[count].off = i;
            out[count].len = end - i;
        }
        count++;
        i = skip_ws(s, end, n);
        if (i >= n)
            return BP_EPROTO;
        if (s[i] == ']')
            return count;
        if (s[i] != ',')
            return BP_EPROTO;
        i = skip_ws(s, i + 1, n);
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The 16-bit value of the \uXXXX escape at s[i] (s[i] == '\\'), or -1. */
static long escape_at(const char *s, size_t i, size_t n)
{
    if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hexval(s[i + k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

json_t *rawjson_load(const char *s, size_t n)
{
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v || !memmem(s, n, "\\u", 2))
        return v;
    /* Rewrite lone surrogate escapes (outside a valid high+low pair) and retry. */
    char *copy = malloc(n ? n : 1);
    if (!copy)
        return NULL;
    memcpy(copy, s, n);
    bool in_str = false;
    for (size_t i = 0; i < n; i++) {
        if (copy[i] == '"') {
            in_str = !in_str;
            continue;
        }
        if (!in_str || copy[i] != '\\')
            continue;
        long u = escape_at(copy, i, n);
        if (u < 0) {
            i++; /* another escape: skip the escaped character */
            continue;
        }
        if (u >= 0xD800 && u <= 0xDBFF) {
            long lo = escape_at(copy, i + 6, n);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                i += 11; /* a valid pair */
                continue;
            }
            memcpy(copy + i + 2, "fffd", 4);
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            memcpy(copy + i + 2, "fffd", 4);
        }
        i += 5;
    }
    v = json_loadb(copy, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    free(copy);
    return v;
}

#define FRAME_FAST_MIN 256 /* strings shorter than this go through jansson */

json_t *rawjson_load_frame(const char *s, size_t n)
{
    struct rawjson_span el[8];
    int count = n >= FRAME_FAST_MIN ? rawjson_array(s, n, el, 8) : -1;
    if (count <= 0 || count > 8)
        return rawjson_load(s, n);
    int big = -1;
    for (int i = 0; i < count; i++)
        if (s[el[i].off] == '"' && el[i].len >= FRAME_FAST_MIN && (big < 0 || el[i].len > el[big].len))
            big = i;
    if (big < 0)
        return rawjson_load(s, n);
    const char *str = s + el[big].off + 1;
    size_t slen = el[big].len - 2;
    /* Plain: no escape, no control character (which JSON forbids raw), and
     * valid UTF-8; then the value is the bytes between the quotes. */
    if (!plain_string(str, slen))
        return rawjson_load(s, n);
    if (!utf8_valid(str, slen))
        return NULL; /* jansson would refuse it too */
    /* The rest of the frame with an empty string in its place. */
    size_t rest = n - slen;
    char stackbuf[512];
    char *tmp = rest <= sizeof stackbuf ? stackbuf : malloc(rest);
    if (!tmp)
        return NULL;
    memcpy(tmp, s, el[big].off + 1);
    memcpy(tmp + el[big].off + 1, s + el[big].off + 1 + slen, n - el[big].off - 1 - slen);
    json_t *v = rawjson_load(tmp, rest);
    if (tmp != stackbuf)
        free(tmp);
    if (!json_is_array(v) || json_array_size(v) != (size_t)count) {
        json_decref(v);
        return rawjson_load(s, n);
    }
    json_array_set_new(v, (size_t)big, json_stringn_nocheck(str, slen));
    return v;
}
