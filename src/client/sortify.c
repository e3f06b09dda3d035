/* sortify.c: json.sortify (see blindpad/sortify.h, CHAINPAD.md §6.2). */
#include "blindpad/sortify.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "common/buf.h"
#include "common/jsonw.h"

#define SORTIFY_MAX_DEPTH 10000

static bool numeric_key(const char *k)
{
    if (k[0] == '0')
        return k[1] == 0;
    if (k[0] < '1' || k[0] > '9')
        return false;
    for (const char *p = k + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* Next code point of a UTF-8 string (jansson strings are valid UTF-8). */
static uint32_t next_cp(const unsigned char **s)
{
    const unsigned char *p = *s;
    uint32_t c = *p++;
    if (c >= 0xF0) {
        c = (c & 7) << 18 | (uint32_t)(p[0] & 0x3F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
        p += 3;
    } else if (c >= 0xE0) {
        c = (c & 15) << 12 | (uint32_t)(p[0] & 0x3F) << 6 | (p[1] & 0x3F);
        p += 2;
    } else if (c >= 0xC0) {
        c = (c & 31) << 6 | (p[0] & 0x3F);
        p += 1;
    }
    *s = p;
    return c;
}

int bp_sortify_keycmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x && *y) {
        uint32_t cx = next_cp(&x), cy = next_cp(&y);
        if (cx == cy)
            continue;
        /* compare the UTF-16 units: a supplementary character starts with a
         * high surrogate (D800-DBFF), below U+E000..U+FFFF */
        uint32_t ux = cx >= 0x10000 ? 0xD800 + ((cx - 0x10000) >> 10) : cx;
        uint32_t uy = cy >= 0x10000 ? 0xD800 + ((cy - 0x10000) >> 10) : cy;
        if (ux != uy)
            return ux < uy ? -1 : 1;
        uint32_t lx = 0xDC00 + ((cx - 0x10000) & 0x3FF), ly = 0xDC00 + ((cy - 0x10000) & 0x3FF);
        return lx < ly ? -1 : 1;
    }
    return *x ? 1 : *y ? -1 : 0;
}

static int key_order(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    bool na = numeric_key(a), nb = numeric_key(b);
    if (na != nb)
        return na ? -1 : 1;
    if (na) {
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb)
            return la < lb ? -1 : 1;
        return strcmp(a, b);
    }
    return bp_sortify_keycmp(a, b);
}

static int emit(struct buf *b, const json_t *v, int depth)
{
    if (depth > SORTIFY_MAX_DEPTH)
        return BP_EINVAL;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(v), k = 0;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (!keys)
            return BP_ENOMEM;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) keys[k++] = key;
        qsort(keys, n, sizeof *keys, key_order);
        buf_appendc(b, '{');
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                buf_appendc(b, ',');
            jsonw_cstr(b, keys[i]);
            buf_appendc(b, ':');
            rc = emit(b, json_object_get(v, keys[i]), depth + 1);
        }
        free(keys);
        buf_appendc(b, '}');
        return rc;
    }
    case JSON_ARRAY:
        buf_appendc(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                buf_appendc(b, ',');
            int rc = emit(b, json_array_get(v, i), depth + 1);
            if (rc)
                return rc;
        }
        buf_appendc(b, ']');
        return 0;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        /* JS numbers are doubles: beyond 2^53 print what JS would hold */
        if (i > 9007199254740992LL || i < -9007199254740992LL)
            jsonw_real(b, (double)i);
        else
            jsonw_int(b, (long long)i);
        return 0;
    }
    default:
        jsonw_value(b, v);
        return 0;
    }
}

int bp_sortify(const json_t *v, char **out, size_t *outlen)
{
    if (!v || !out)
        return BP_EINVAL;
    struct buf b = BUF_INIT;
    int rc = emit(&b, v, 0);
    if (rc) {
        buf_free(&b);
        return rc;
    }
    size_t len;
    char *s = buf_steal(&b, &len);
    if (!s) /* empty buffer never happens: every value emits something */
        return BP_ENOMEM;
    *out = s;
    if (outlen)
        *outlen = len;
    return 0;
}

int bp_sortify_text(const char *json, size_t len, char **out, size_t *outlen)
{
    json_error_t err;
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v)
        v = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!v)
        return BP_EINVAL;
    int rc = bp_sortify(v, out, outlen);
    json_decref(v);
    return rc;
}
