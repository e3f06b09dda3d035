/* jsonw.c: JSON.stringify-compatible serialisation (see jsonw.h). */
#include "common/jsonw.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True if one of the 8 bytes of x is '"', '\\' or below 0x20: the bytes
 * that JSON.stringify escapes. Classic SWAR tests: a byte is zero in y when
 * it equals the byte looked for; (y - 0x01..) & ~y & 0x80.. flags zero bytes,
 * and (x - 0x20..) & ~x & 0x80.. flags bytes below 0x20 (bytes >= 0x80 are
 * excluded by ~x). */
static inline bool swar_special(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
}

void jsonw_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    buf_appendc(b, '"');
    size_t run = 0; /* start of the current run of bytes copied verbatim */
    size_t i = 0;
    while (i < n) {
        /* Skip 8 plain bytes at a time: history lines are mostly base64. */
        if (i + 8 <= n) {
            uint64_t x;
            memcpy(&x, s + i, 8);
            if (!swar_special(x)) {
                i += 8;
                continue;
            }
        }
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        buf_append(b, s + run, i - run);
        run = i + 1;
        i++;
        switch (c) {
        case '"': buf_append(b, "\\\"", 2); break;
        case '\\': buf_append(b, "\\\\", 2); break;
        case '\b': buf_append(b, "\\b", 2); break;
        case '\f': buf_append(b, "\\f", 2); break;
        case '\n': buf_append(b, "\\n", 2); break;
        case '\r': buf_append(b, "\\r", 2); break;
        case '\t': buf_append(b, "\\t", 2); break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, u, 6);
        }
        }
    }
    buf_append(b, s + run, n - run);
    buf_appendc(b, '"');
}

void jsonw_cstr(struct buf *b, const char *s)
{
    jsonw_str(b, s, strlen(s));
}

void jsonw_int(struct buf *b, long long v)
{
    buf_appendf(b, "%lld", v);
}

/* ECMAScript Number::toString(10) for finite doubles. */
void jsonw_real(struct buf *b, double v)
{
    if (!isfinite(v)) {
        buf_append(b, "null", 4);
        return;
    }
    if (v == 0) {
        buf_appendc(b, '0');
        return;
    }
    if (v < 0) {
        buf_appendc(b, '-');
        v = -v;
    }
    char tmp[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    /* tmp = "d[.ddd]e[+-]XX": collect the digits and the exponent. */
    char digits[20];
    int k = 0;
    char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
    int e = atoi(p + 1);
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int n = e + 1;  /* value = 0.digits x 10^n */
    if (k <= n && n <= 21) {
        buf_append(b, digits, (size_t)k);
        for (int i = k; i < n; i++)
            buf_appendc(b, '0');
    } else if (0 < n && n <= 21) {
        buf_append(b, digits, (size_t)n);
        buf_appendc(b, '.');
        buf_append(b, digits + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        buf_append(b, "0.", 2);
        for (int i = 0; i < -n; i++)
            buf_appendc(b, '0');
        buf_append(b, digits, (size_t)k);
    } else {
        buf_appendc(b, digits[0]);
        if (k > 1) {
            buf_appendc(b, '.');
            buf_append(b, digits + 1, (size_t)(k - 1));
        }
        buf_appendf(b, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
}

void jsonw_value(struct buf *b, const json_t *v)
{
    if (!v) {
        buf_append(b, "null", 4);
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        buf_appendc(b, '{');
        /* json_object_foreach wants a non-const object; iteration does not modify it. */
        json_object_foreach((json_t *)v, key, val) {
            if (!first)
                buf_appendc(b, ',');
            first = 0;
            jsonw_str(b, key, strlen(key));
            buf_appendc(b, ':');
            jsonw_value(b, val);
        }
        buf_appendc(b, '}');
        break;
    }
    case JSON_ARRAY: {
        buf_appendc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                buf_appendc(b, ',');
            jsonw_value(b, json_array_get(v, i));
        }
        buf_appendc(b, ']');
        break;
    }
    case JSON_STRING: jsonw_str(b, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: jsonw_int(b, (long long)json_integer_value(v)); break;
    case JSON_REAL: jsonw_real(b, json_real_value(v)); break;
    case JSON_TRUE: buf_append(b, "true", 4); break;
    case JSON_FALSE: buf_append(b, "false", 5); break;
    case JSON_NULL: buf_append(b, "null", 4); break;
    }
}

char *jsonw_dump(const json_t *v, size_t *len)
{
    struct buf b = BUF_INIT;
    jsonw_value(&b, v);
    return buf_steal(&b, len);
}
