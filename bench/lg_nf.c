/* lg_nf.c: top-level Netflux array scanner (see lg_nf.h). */
#include "lg_nf.h"

#include <string.h>

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* p points at an opening quote; returns the closing quote or NULL. Content
 * strings are long base64 runs, so memchr does most of the work. */
static const char *string_end(const char *p, const char *end)
{
    const char *q = p + 1;
    for (;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q)
            return NULL;
        size_t bs = 0;
        for (const char *r = q; r > p + 1 && r[-1] == '\\'; r--)
            bs++;
        if (bs % 2 == 0)
            return q;
        q++;
    }
}

/* p points at '[' or '{'; returns one past the matching bracket or NULL. */
static const char *nested_end(const char *p, const char *end)
{
    unsigned depth = 0;
    while (p < end) {
        char c = *p;
        if (c == '"') {
            p = string_end(p, end);
            if (!p)
                return NULL;
        } else if (c == '[' || c == '{') {
            depth++;
        } else if (c == ']' || c == '}') {
            if (--depth == 0)
                return p + 1;
        }
        p++;
    }
    return NULL;
}

int nf_scan(const char *p, size_t n, struct nf_frame *f)
{
    const char *end = p + n;
    f->n = f->total = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '[')
        return -1;
    p = skip_ws(p + 1, end);
    if (p < end && *p == ']')
        return 0;
    for (;;) {
        if (p >= end)
            return -1;
        struct nf_el e;
        const char *q;
        if (*p == '"') {
            q = string_end(p, end);
            if (!q)
                return -1;
            e.p = p + 1;
            e.len = (uint32_t)(q - p - 1);
            e.type = NF_STR;
            q++;
        } else if (*p == '[' || *p == '{') {
            q = nested_end(p, end);
            if (!q)
                return -1;
            e.p = p;
            e.len = (uint32_t)(q - p);
            e.type = *p == '[' ? NF_ARR : NF_OBJ;
        } else {
            q = p;
            while (q < end && *q != ',' && *q != ']' && *q != ' ' && *q != '\n' && *q != '\r' && *q != '\t')
                q++;
            if (q == p)
                return -1;
            e.p = p;
            e.len = (uint32_t)(q - p);
            e.type = (*p == '-' || (*p >= '0' && *p <= '9')) ? NF_NUM : NF_LIT;
        }
        if (f->n < NF_MAX_EL)
            f->el[f->n++] = e;
        f->total++;
        p = skip_ws(q, end);
        if (p >= end)
            return -1;
        if (*p == ']')
            return 0;
        if (*p != ',')
            return -1;
        p = skip_ws(p + 1, end);
    }
}

bool nf_streq(const struct nf_frame *f, unsigned i, const char *s)
{
    if (i >= f->n || f->el[i].type != NF_STR)
        return false;
    size_t n = strlen(s);
    return f->el[i].len == n && memcmp(f->el[i].p, s, n) == 0;
}

bool nf_strlen_is(const struct nf_frame *f, unsigned i, size_t len)
{
    return i < f->n && f->el[i].type == NF_STR && f->el[i].len == len;
}

int64_t nf_uint(const struct nf_frame *f, unsigned i)
{
    if (i >= f->n || f->el[i].type != NF_NUM)
        return -1;
    int64_t v = 0;
    for (uint32_t k = 0; k < f->el[i].len; k++) {
        char c = f->el[i].p[k];
        if (c < '0' || c > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (c - '0');
    }
    return v;
}

bool nf_strpre(const struct nf_frame *f, unsigned i, const char *prefix)
{
    if (i >= f->n || f->el[i].type != NF_STR)
        return false;
    size_t n = strlen(prefix);
    return f->el[i].len >= n && memcmp(f->el[i].p, prefix, n) == 0;
}
