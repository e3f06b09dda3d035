/* chainpad_text.c: JavaScript strings, the ChainPad message format, patches
 * and the JSON validity test (CHAINPAD.md §2, §3, §6.4). Pure functions; see
 * chainpad_internal.h for the representation (UTF-16 code units).
 *
 * Message format (§2.1), as parsed here:
 *     [ type, [ [offset, toRemove, "toInsert"], ..., "parentContentHash" ], "parentMessageHash", ...ignored ]
 * type is the number 2 (PATCH) or 4 (CHECKPOINT); offsets and counts must be
 * non-negative integers (JS would coerce anything; honest clients never send
 * other values, §2.2); the last patch element must be a string containing a
 * run of 64 [a-f0-9]; parentMessageHash must be a string (JS throws later when
 * it is missing). Extra elements after the third are skipped. */
#include "client/chainpad_internal.h"

#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "common/xmalloc.h"

/* ---- u16 strings ---------------------------------------------------- */

void u16_free(struct u16 *s)
{
    free(s->p);
    s->p = NULL;
    s->n = s->cap = 0;
}

void u16_reserve(struct u16 *s, size_t extra)
{
    if (s->cap - s->n >= extra && s->p)
        return;
    size_t cap = s->cap ? s->cap : 16;
    while (cap - s->n < extra)
        cap *= 2;
    s->p = xrealloc(s->p, cap * sizeof *s->p);
    s->cap = cap;
}

void u16_append(struct u16 *s, const uint16_t *p, size_t n)
{
    u16_reserve(s, n);
    if (n)
        memcpy(s->p + s->n, p, n * sizeof *p);
    s->n += n;
}

void u16_append_ascii(struct u16 *s, const char *a, size_t n)
{
    u16_reserve(s, n);
    for (size_t i = 0; i < n; i++)
        s->p[s->n++] = (unsigned char)a[i];
}

void u16_set(struct u16 *dst, const uint16_t *p, size_t n)
{
    dst->n = 0;
    u16_append(dst, p, n);
}

bool u16_eq(const uint16_t *a, size_t an, const uint16_t *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an * sizeof *a) == 0);
}

static bool is_surr(uint16_t c)
{
    return c >= 0xD800 && c <= 0xDFFF;
}

int u16_from_utf8(struct u16 *dst, const char *s, size_t n, bool strict)
{
    const unsigned char *u = (const unsigned char *)s;
    dst->n = 0;
    u16_reserve(dst, n);
    size_t i = 0;
    while (i < n) {
        unsigned c = u[i];
        if (c < 0x80) {
            dst->p[dst->n++] = (uint16_t)c;
            i++;
            continue;
        }
        unsigned need, cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return BP_EINVAL;
        }
        if (n - i <= need)
            return BP_EINVAL;
        for (unsigned k = 1; k <= need; k++) {
            if ((u[i + k] & 0xC0) != 0x80)
                return BP_EINVAL;
            cp = (cp << 6) | (u[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (strict && cp >= 0xD800 && cp <= 0xDFFF))
            return BP_EINVAL;
        i += need + 1;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            dst->p[dst->n++] = (uint16_t)(0xD800 + (cp >> 10));
            dst->p[dst->n++] = (uint16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            dst->p[dst->n++] = (uint16_t)cp;
        }
    }
    return 0;
}

char *u16_to_utf8(const uint16_t *p, size_t n, size_t *outlen)
{
    if (n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *o = malloc(n * 3 + 1);
    if (!o)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = p[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < n && p[i + 1] >= 0xDC00 && p[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (p[i + 1] - 0xDC00u);
            i++;
        }
        if (c < 0x80) {
            o[k++] = (char)c;
        } else if (c < 0x800) {
            o[k++] = (char)(0xC0 | (c >> 6));
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else if (c < 0x10000) {
            o[k++] = (char)(0xE0 | (c >> 12));
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        } else {
            o[k++] = (char)(0xF0 | (c >> 18));
            o[k++] = (char)(0x80 | ((c >> 12) & 0x3F));
            o[k++] = (char)(0x80 | ((c >> 6) & 0x3F));
            o[k++] = (char)(0x80 | (c & 0x3F));
        }
    }
    o[k] = 0;
    if (outlen)
        *outlen = k;
    return o;
}

/* ---- hash ----------------------------------------------------------- */

void cp_hash(const uint16_t *p, size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char chunk[4096];
    size_t i = 0;
    while (i < n) {
        size_t k = 0;
        while (k < sizeof chunk && i < n)
            chunk[k++] = (unsigned char)(p[i++] & 0xFF);
        crypto_hash_sha256_update(&st, chunk, k);
    }
    crypto_hash_sha256_final(&st, out);
}

void cp_hex(const uint8_t h[32], char out[65])
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[h[i] >> 4];
        out[2 * i + 1] = hex[h[i] & 15];
    }
    out[64] = 0;
}

static int hexval(uint16_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

bool cp_unhex(const uint16_t *p, size_t n, uint8_t out[32])
{
    if (n != 64)
        return false;
    for (int i = 0; i < 32; i++) {
        int a = hexval(p[2 * i]), b = hexval(p[2 * i + 1]);
        if (a < 0 || b < 0)
            return false;
        out[i] = (uint8_t)(a << 4 | b);
    }
    return true;
}

/* ---- JSON.stringify of strings ----------------------------------------- */

void cp_json_str(struct u16 *out, const uint16_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    u16_reserve(out, n + 2);
    out->p[out->n++] = '"';
    for (size_t i = 0; i < n; i++) {
        uint16_t c = p[i];
        const char *esc = NULL;
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default: break;
        }
        if (esc) {
            u16_append_ascii(out, esc, 2);
            continue;
        }
        bool lone = false;
        if (c >= 0xD800 && c <= 0xDBFF) {
            if (i + 1 < n && p[i + 1] >= 0xDC00 && p[i + 1] <= 0xDFFF) {
                u16_append(out, p + i, 2);
                i++;
                continue;
            }
            lone = true;
        } else if (c >= 0xDC00 && c <= 0xDFFF) {
            lone = true; /* a low surrogate not preceded by a high one */
        }
        if (c < 0x20 || lone) {
            char u[6] = {'\\', 'u', hex[c >> 12], hex[(c >> 8) & 15], hex[(c >> 4) & 15], hex[c & 15]};
            u16_append_ascii(out, u, 6);
        } else {
            u16_reserve(out, 1);
            out->p[out->n++] = c;
        }
    }
    u16_reserve(out, 1);
    out->p[out->n++] = '"';
}

/* ---- message parsing ---------------------------------------------------- */

struct rd {
    const char *s;
    size_t n, i;
};

#define SKIP_MAX_DEPTH 512

static void ws(struct rd *r)
{
    while (r->i < r->n && (r->s[r->i] == ' ' || r->s[r->i] == '\t' || r->s[r->i] == '\n' ||
                           r->s[r->i] == '\r'))
        r->i++;
}

static bool eat(struct rd *r, char c)
{
    ws(r);
    if (r->i < r->n && r->s[r->i] == c) {
        r->i++;
        return true;
    }
    return false;
}

static bool peek(struct rd *r, char c)
{
    ws(r);
    return r->i < r->n && r->s[r->i] == c;
}

/* A JSON string into out (code units). The text was already checked as UTF-8. */
static bool rd_string(struct rd *r, struct u16 *out)
{
    ws(r);
    if (r->i >= r->n || r->s[r->i] != '"')
        return false;
    r->i++;
    out->n = 0;
    size_t start = r->i;
    for (;;) {
        if (r->i >= r->n)
            return false;
        unsigned char c = (unsigned char)r->s[r->i];
        if (c == '"' || c == '\\' || c < 0x20) {
            if (r->i > start) {
                struct u16 tmp = U16_INIT;
                if (u16_from_utf8(&tmp, r->s + start, r->i - start, true) < 0) {
                    u16_free(&tmp);
                    return false;
                }
                u16_append(out, tmp.p, tmp.n);
                u16_free(&tmp);
            }
            if (c < 0x20)
                return false;
            r->i++;
            if (c == '"')
                return true;
            if (r->i >= r->n)
                return false;
            char e = r->s[r->i++];
            uint16_t v;
            switch (e) {
            case '"': v = '"'; break;
            case '\\': v = '\\'; break;
            case '/': v = '/'; break;
            case 'b': v = '\b'; break;
            case 'f': v = '\f'; break;
            case 'n': v = '\n'; break;
            case 'r': v = '\r'; break;
            case 't': v = '\t'; break;
            case 'u': {
                if (r->n - r->i < 4)
                    return false;
                v = 0;
                for (int k = 0; k < 4; k++) {
                    char h = r->s[r->i++];
                    int d = (h >= '0' && h <= '9') ? h - '0'
                            : (h >= 'a' && h <= 'f') ? h - 'a' + 10
                            : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
                    if (d < 0)
                        return false;
                    v = (uint16_t)(v << 4 | d);
                }
                break;
            }
            default: return false;
            }
            u16_append(out, &v, 1);
            start = r->i;
        } else {
            r->i++;
        }
    }
}

/* A JSON number; *v gets its value. */
static bool rd_number(struct rd *r, double *v)
{
    ws(r);
    size_t st = r->i;
    if (r->i < r->n && r->s[r->i] == '-')
        r->i++;
    if (r->i >= r->n)
        return false;
    if (r->s[r->i] == '0') {
        r->i++;
    } else if (r->s[r->i] >= '1' && r->s[r->i] <= '9') {
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
    } else {
        return false;
    }
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d)
            return false;
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
            r->i++;
        size_t d = r->i;
        while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
            r->i++;
        if (r->i == d)
            return false;
    }
    char tmp[64];
    size_t len = r->i - st;
    if (len >= sizeof tmp) {
        /* Long numbers: only their value matters; strtod needs a NUL. */
        char *big = xstrndup(r->s + st, len);
        *v = strtod(big, NULL);
        free(big);
    } else {
        memcpy(tmp, r->s + st, len);
        tmp[len] = 0;
        *v = strtod(tmp, NULL);
    }
    return true;
}

/* Skips any JSON value (extra message elements). Nesting is bounded. */
static bool rd_skip(struct rd *r, int depth)
{
    if (depth > SKIP_MAX_DEPTH)
        return false;
    ws(r);
    if (r->i >= r->n)
        return false;
    char c = r->s[r->i];
    if (c == '"') {
        struct u16 t = U16_INIT;
        bool ok = rd_string(r, &t);
        u16_free(&t);
        return ok;
    }
    if (c == '[' || c == '{') {
        char close = c == '[' ? ']' : '}';
        r->i++;
        if (eat(r, close))
            return true;
        for (;;) {
            if (c == '{') {
                struct u16 t = U16_INIT;
                bool ok = rd_string(r, &t);
                u16_free(&t);
                if (!ok || !eat(r, ':'))
                    return false;
            }
            if (!rd_skip(r, depth + 1))
                return false;
            if (eat(r, close))
                return true;
            if (!eat(r, ','))
                return false;
        }
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (int k = 0; k < 3; k++) {
        size_t l = strlen(lits[k]);
        if (r->n - r->i >= l && memcmp(r->s + r->i, lits[k], l) == 0) {
            r->i += l;
            return true;
        }
    }
    double d;
    return rd_number(r, &d);
}

static bool has_hex_run(const struct u16 *s)
{
    size_t run = 0;
    for (size_t i = 0; i < s->n; i++) {
        run = hexval(s->p[i]) >= 0 ? run + 1 : 0;
        if (run >= 64)
            return true;
    }
    return false;
}

/* A non-negative integer small enough to be exact in a double. */
static bool rd_count(struct rd *r, uint64_t *out)
{
    double d;
    if (!rd_number(r, &d))
        return false;
    if (!(d >= 0) || d > 9007199254740992.0 || floor(d) != d)
        return false;
    *out = (uint64_t)d;
    return true;
}

void cp_ops_free(struct cp_op *ops, size_t n)
{
    if (!ops)
        return;
    for (size_t i = 0; i < n; i++)
        u16_free(&ops[i].ins);
    free(ops);
}

void cp_parsed_free(struct cp_parsed *m)
{
    cp_ops_free(m->ops, m->nops);
    m->ops = NULL;
    m->nops = 0;
    u16_free(&m->pch);
    u16_free(&m->parent);
}

int cp_parse(const char *s, size_t n, struct cp_parsed *out)
{
    memset(out, 0, sizeof *out);
    struct rd r = {s, n, 0};
    size_t cap = 0;
    double type;
    if (!eat(&r, '[') || !rd_number(&r, &type) || (type != 2 && type != 4) || !eat(&r, ',') ||
        !eat(&r, '['))
        goto bad;
    out->type = (int)type;
    /* patch: elements until the closing bracket; the last one is the hash */
    if (peek(&r, ']'))
        goto bad;
    for (;;) {
        if (peek(&r, '"')) {
            if (!rd_string(&r, &out->pch))
                goto bad;
            if (!eat(&r, ']'))
                goto bad; /* a string that is not the last element is not an op */
            break;
        }
        if (!eat(&r, '['))
            goto bad;
        if (out->nops == cap) {
            cap = cap ? cap * 2 : 4;
            out->ops = xrealloc(out->ops, cap * sizeof *out->ops);
        }
        struct cp_op *op = &out->ops[out->nops];
        memset(op, 0, sizeof *op);
        out->nops++;
        if (!rd_count(&r, &op->off) || !eat(&r, ',') || !rd_count(&r, &op->rem) || !eat(&r, ',') ||
            !rd_string(&r, &op->ins) || !eat(&r, ']'))
            goto bad;
        if (eat(&r, ']'))
            goto bad; /* the last element must be the content hash */
        if (!eat(&r, ','))
            goto bad;
    }
    if (!has_hex_run(&out->pch))
        goto bad;
    if (!eat(&r, ',') || !rd_string(&r, &out->parent))
        goto bad;
    while (eat(&r, ','))
        if (!rd_skip(&r, 1))
            goto bad;
    if (!eat(&r, ']'))
        goto bad;
    ws(&r);
    if (r.i != r.n)
        goto bad;
    /* the whole text must be UTF-8 (strings were checked; this covers the rest) */
    return 0;
bad:
    cp_parsed_free(out);
    return BP_EPROTO;
}

static void u16_uint(struct u16 *out, uint64_t v)
{
    char tmp[24];
    int k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    u16_reserve(out, (size_t)k);
    while (k)
        out->p[out->n++] = (uint16_t)tmp[--k];
}

void cp_serialize(int type, const struct cp_op *ops, size_t nops, const uint16_t *pch,
                  size_t pchn, const uint16_t *parent, size_t parentn, struct u16 *out)
{
    out->n = 0;
    u16_append_ascii(out, type == CP_CHECKPOINT ? "[4,[" : "[2,[", 4);
    for (size_t i = 0; i < nops; i++) {
        u16_append_ascii(out, "[", 1);
        u16_uint(out, ops[i].off);
        u16_append_ascii(out, ",", 1);
        u16_uint(out, ops[i].rem);
        u16_append_ascii(out, ",", 1);
        cp_json_str(out, ops[i].ins.p, ops[i].ins.n);
        u16_append_ascii(out, "],", 2);
    }
    cp_json_str(out, pch, pchn);
    u16_append_ascii(out, "],", 2);
    cp_json_str(out, parent, parentn);
    u16_append_ascii(out, "]", 1);
}

/* ---- patches ------------------------------------------------------------ */

static void clamp(const struct u16 *doc, const struct cp_op *op, size_t *lo, size_t *hi)
{
    uint64_t a = op->off, b = op->off + op->rem; /* both <= 2^54: no overflow */
    *lo = a > doc->n ? doc->n : (size_t)a;
    *hi = b > doc->n ? doc->n : (size_t)b;
}

void cp_apply_op(struct u16 *doc, const struct cp_op *op)
{
    size_t lo, hi;
    clamp(doc, op, &lo, &hi);
    size_t removed = hi - lo, ins = op->ins.n;
    if (ins > removed)
        u16_reserve(doc, ins - removed);
    if (doc->p)
        memmove(doc->p + lo + ins, doc->p + hi, (doc->n - hi) * sizeof *doc->p);
    if (ins)
        memcpy(doc->p + lo, op->ins.p, ins * sizeof *doc->p);
    doc->n = doc->n - removed + ins;
}

void cp_apply_ops(struct u16 *doc, const struct cp_op *ops, size_t n)
{
    for (size_t i = n; i-- > 0;)
        cp_apply_op(doc, &ops[i]);
}

void cp_invert_ops(const struct u16 *doc, const struct cp_op *ops, size_t n,
                   struct cp_op **inv, size_t *ninv)
{
    /* Applying op[n-1] ... op[0] in turn; the undo of op[k] (in the document
     * it produced) is [lo, len(ins), removed]. Undos run op[0]'s first, i.e.
     * they are stored so that cp_apply_ops (last to first) applies them in
     * that order: inv[n-1-k] = undo(op[k]). */
    struct u16 d = U16_INIT;
    u16_set(&d, doc->p, doc->n);
    *inv = n ? xcalloc(n, sizeof **inv) : NULL;
    *ninv = n;
    for (size_t k = n; k-- > 0;) {
        size_t lo, hi;
        clamp(&d, &ops[k], &lo, &hi);
        struct cp_op *u = &(*inv)[n - 1 - k];
        u->off = lo;
        u->rem = ops[k].ins.n;
        u16_set(&u->ins, d.p ? d.p + lo : NULL, hi - lo);
        cp_apply_op(&d, &ops[k]);
    }
    u16_free(&d);
}

/* Operation.simplify: NULL result is reported by returning false. */
static bool simplify_op(const struct u16 *d, const struct cp_op *op, struct cp_op *out)
{
    size_t lo, hi;
    clamp(d, op, &lo, &hi);
    const uint16_t *rm = d->p ? d->p + lo : NULL;
    size_t rn = hi - lo;
    const uint16_t *t = op->ins.p;
    size_t tn = op->ins.n;
    size_t min = tn < rn ? tn : rn;
    size_t i = 0;
    while (i < min && rm[i] == t[i]) {
        if (is_surr(rm[i]) || is_surr(t[i])) {
            /* JS compares t[i+1] === rm[i+1]; a missing unit is undefined */
            bool tm = i + 1 >= tn, rmm = i + 1 >= rn;
            bool eq = (tm && rmm) || (!tm && !rmm && t[i + 1] == rm[i + 1]);
            if (eq)
                i++;
            else
                break;
        }
        i++;
    }
    uint64_t off = op->off + i;
    int64_t rem = (int64_t)op->rem - (int64_t)i;
    size_t ti = i > tn ? tn : i, ri = i > rn ? rn : i;
    const uint16_t *t2 = t ? t + ti : NULL;
    size_t t2n = tn - ti;
    const uint16_t *r2 = rm ? rm + ri : NULL;
    size_t r2n = rn - ri;
    if (r2n == t2n) {
        size_t j = t2n;
        while (j > 0 && r2[j - 1] == t2[j - 1])
            j--;
        t2n = j;
        rem = (int64_t)j;
    }
    if (rem == 0 && t2n == 0)
        return false;
    out->off = off;
    out->rem = rem < 0 ? 0 : (uint64_t)rem; /* cannot be negative, see CHAINPAD.md §3.4 */
    out->ins = (struct u16)U16_INIT;
    u16_set(&out->ins, t2, t2n);
    return true;
}

void cp_simplify(const struct u16 *doc, const struct cp_op *ops, size_t n,
                 struct cp_op **out, size_t *nout)
{
    struct u16 d = U16_INIT;
    u16_set(&d, doc->p, doc->n);
    struct cp_op *res = n ? xcalloc(n, sizeof *res) : NULL;
    size_t k = 0;
    for (size_t i = n; i-- > 0;) {
        struct cp_op s;
        if (simplify_op(&d, &ops[i], &s)) {
            cp_apply_op(&d, &s);
            res[k++] = s;
        }
    }
    for (size_t a = 0, b = k ? k - 1 : 0; a < b; a++, b--) {
        struct cp_op t = res[a];
        res[a] = res[b];
        res[b] = t;
    }
    u16_free(&d);
    *out = res;
    *nout = k;
}

bool cp_ops_equal(const struct cp_op *a, size_t an, const struct cp_op *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (a[i].off != b[i].off || a[i].rem != b[i].rem ||
            !u16_eq(a[i].ins.p, a[i].ins.n, b[i].ins.p, b[i].ins.n))
            return false;
    return true;
}

/* ---- diff ----------------------------------------------------------------- */

static void push_op(struct cp_op **ops, size_t *n, size_t *cap, uint64_t off, uint64_t rem,
                    const uint16_t *ins, size_t insn)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *ops = xrealloc(*ops, *cap * sizeof **ops);
    }
    struct cp_op *o = &(*ops)[(*n)++];
    o->off = off;
    o->rem = rem;
    o->ins = (struct u16)U16_INIT;
    u16_append(&o->ins, ins, insn);
}

/* Myers' O(ND) shortest edit script on the middle part, when it is small;
 * otherwise one operation covering it. Both give valid patches; several small
 * operations merge better (§5.4). */
#define DIFF_MAX_D 128

static bool myers(const uint16_t *a, size_t an, const uint16_t *b, size_t bn, size_t base,
                  struct cp_op **ops, size_t *nops, size_t *cap)
{
    long N = (long)an, M = (long)bn, MAXD = DIFF_MAX_D;
    if (N + M > 1L << 20)
        return false;
    long off = MAXD + 1;
    long width = 2 * MAXD + 3;
    long *V = xcalloc((size_t)width, sizeof *V);
    long *trace = xmalloc((size_t)(width * (MAXD + 1)) * sizeof *trace);
    long D = -1;
    for (long d = 0; d <= MAXD && D < 0; d++) {
        for (long k = -d; k <= d; k += 2) {
            long x;
            if (k == -d || (k != d && V[off + k - 1] < V[off + k + 1]))
                x = V[off + k + 1];
            else
                x = V[off + k - 1] + 1;
            long y = x - k;
            while (x < N && y < M && a[x] == b[y])
                x++, y++;
            V[off + k] = x;
            if (x >= N && y >= M) {
                D = d;
                break;
            }
        }
        memcpy(trace + d * width, V, (size_t)width * sizeof *V);
    }
    free(V);
    if (D < 0) {
        free(trace);
        return false;
    }
    /* Backtrack into a list of (x, y) steps, then group the edits. */
    enum { EQ, DEL, INS };
    size_t slen = (size_t)(N + M);
    unsigned char *kind = xmalloc(slen + 1);
    size_t ns = 0;
    long x = N, y = M;
    for (long d = D; d > 0; d--) {
        const long *Vp = trace + (d - 1) * width;
        long k = x - y, pk;
        if (k == -d || (k != d && Vp[off + k - 1] < Vp[off + k + 1]))
            pk = k + 1;
        else
            pk = k - 1;
        long px = Vp[off + pk], py = px - pk;
        while (x > px && y > py)
            kind[ns++] = EQ, x--, y--;
        if (x == px)
            kind[ns++] = INS, y--;
        else
            kind[ns++] = DEL, x--;
    }
    while (x > 0 && y > 0)
        kind[ns++] = EQ, x--, y--;
    free(trace);
    /* kind[] is reversed; walk it forwards. */
    size_t ia = 0, ib = 0;
    size_t s = ns;
    while (s > 0) {
        if (kind[s - 1] == EQ) {
            ia++, ib++, s--;
            continue;
        }
        size_t start_a = ia, start_b = ib;
        while (s > 0 && kind[s - 1] != EQ) {
            if (kind[s - 1] == DEL)
                ia++;
            else
                ib++;
            s--;
        }
        push_op(ops, nops, cap, base + start_a, ia - start_a, b + start_b, ib - start_b);
    }
    free(kind);
    return true;
}

void cp_diff(const uint16_t *a, size_t an, const uint16_t *b, size_t bn,
             struct cp_op **ops, size_t *nops)
{
    *ops = NULL;
    *nops = 0;
    size_t p = 0, min = an < bn ? an : bn;
    while (p < min && a[p] == b[p])
        p++;
    size_t s = 0;
    while (s < min - p && a[an - 1 - s] == b[bn - 1 - s])
        s++;
    size_t ra = an - p - s, rb = bn - p - s;
    if (ra == 0 && rb == 0)
        return;
    size_t cap = 0;
    if (ra && rb && myers(a + p, ra, b + p, rb, p, ops, nops, &cap))
        return;
    push_op(ops, nops, &cap, p, ra, b + p, rb);
}

/* ---- merge ------------------------------------------------------------------- */

/* TextTransformer (CHAINPAD.md §5.4): local op A over remote op B, both
 * relative to the same document. Returns false if A vanishes. */
static bool transform_op(struct cp_op *A, const struct cp_op *B)
{
    uint64_t bo = B->off, br = B->rem, bl = B->ins.n;
    if (A->off > bo + br) {
        A->off = A->off + bl - br;
    } else if (A->off > bo) {
        uint64_t cut = bo + br - A->off;
        A->rem = A->rem > cut ? A->rem - cut : 0;
        A->off = bo + bl;
    } else if (A->off + A->rem < bo) {
        /* unchanged */
    } else {
        A->rem = bo - A->off;
    }
    return A->rem != 0 || A->ins.n != 0;
}

void cp_merge_text(const struct u16 *base, const struct u16 *theirs, const struct u16 *mine,
                   struct u16 *out)
{
    struct cp_op *T, *Mn;
    size_t tn, mn;
    cp_diff(base->p, base->n, theirs->p, theirs->n, &T, &tn);
    cp_diff(base->p, base->n, mine->p, mine->n, &Mn, &mn);
    u16_set(out, theirs->p, theirs->n);
    /* Every local op is moved over the remote ops from the last to the first
     * (all offsets are in base coordinates until moved past). Local ops are
     * then applied last to first on theirs. */
    size_t keep = 0;
    for (size_t i = 0; i < mn; i++) {
        bool alive = true;
        for (size_t j = tn; j-- > 0 && alive;)
            alive = transform_op(&Mn[i], &T[j]);
        if (alive)
            Mn[keep++] = Mn[i];
        else
            u16_free(&Mn[i].ins);
    }
    cp_apply_ops(out, Mn, keep);
    cp_ops_free(T, tn);
    cp_ops_free(Mn, keep);
}

/* ---- JSON.parse validity -------------------------------------------------- */

/* p[i] is the opening quote of a JSON string: returns the index just after
 * its closing quote, or 0 if the string is not valid JSON (raw control
 * character, bad escape, unterminated). */
static size_t json_string_end(const uint16_t *p, size_t n, size_t i)
{
    i++;
    while (i < n && p[i] != '"') {
        if (p[i] < 0x20)
            return 0;
        if (p[i] == '\\') {
            i++;
            if (i >= n)
                return 0;
            if (p[i] == 'u') {
                if (n - i < 5)
                    return 0;
                for (int k = 1; k <= 4; k++)
                    if (!((p[i + k] >= '0' && p[i + k] <= '9') || (p[i + k] >= 'a' && p[i + k] <= 'f') ||
                          (p[i + k] >= 'A' && p[i + k] <= 'F')))
                        return 0;
                i += 4;
            } else if (p[i] > 0x7f || p[i] == 0 || !strchr("\"\\/bfnrt", (char)p[i])) {
                return 0;
            }
        }
        i++;
    }
    return i < n ? i + 1 : 0;
}

bool cp_json_valid(const uint16_t *p, size_t n)
{
    /* Iterative: a stack of open containers ('[' or '{'), like V8's parser
     * which has no recursion limit. */
    size_t cap = 64, depth = 0, i = 0;
    char *stack = xmalloc(cap);
    bool ok = false;
#define WS()                                                                              \
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))        \
        i++
    for (;;) {
        /* expect a value */
        WS();
        if (i >= n)
            goto out;
        uint16_t c = p[i];
        if (c == '[' || c == '{') {
            if (depth == cap)
                stack = xrealloc(stack, cap *= 2);
            stack[depth++] = (char)c;
            i++;
            WS();
            if (i < n && p[i] == (c == '[' ? ']' : '}')) {
                i++;
                depth--;
                goto after_value;
            }
            if (c == '{')
                goto key;
            continue;
        }
        if (c == '"') {
            goto string;
        }
        if (c == 't' || c == 'f' || c == 'n') {
            const char *lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
            size_t l = strlen(lit);
            if (n - i < l)
                goto out;
            for (size_t k = 0; k < l; k++)
                if (p[i + k] != (uint16_t)lit[k])
                    goto out;
            i += l;
            goto after_value;
        }
        /* number */
        if (i < n && p[i] == '-')
            i++;
        if (i >= n)
            goto out;
        if (p[i] == '0') {
            i++;
        } else if (p[i] >= '1' && p[i] <= '9') {
            while (i < n && p[i] >= '0' && p[i] <= '9')
                i++;
        } else {
            goto out;
        }
        if (i < n && p[i] == '.') {
            i++;
            size_t d = i;
            while (i < n && p[i] >= '0' && p[i] <= '9')
                i++;
            if (i == d)
                goto out;
        }
        if (i < n && (p[i] == 'e' || p[i] == 'E')) {
            i++;
            if (i < n && (p[i] == '+' || p[i] == '-'))
                i++;
            size_t d = i;
            while (i < n && p[i] >= '0' && p[i] <= '9')
                i++;
            if (i == d)
                goto out;
        }
        goto after_value;
    key:
        WS();
        if (i >= n || p[i] != '"')
            goto out;
        /* a key string, then ':' */
        if (!(i = json_string_end(p, n, i)))
            goto out;
        WS();
        if (i >= n || p[i] != ':')
            goto out;
        i++;
        continue;
    string:
        if (!(i = json_string_end(p, n, i)))
            goto out;
    after_value:
        WS();
        if (depth == 0) {
            ok = i == n;
            goto out;
        }
        if (i >= n)
            goto out;
        if (p[i] == ',') {
            i++;
            if (stack[depth - 1] == '{')
                goto key;
            continue;
        }
        if (p[i] == (stack[depth - 1] == '[' ? ']' : '}')) {
            i++;
            depth--;
            goto after_value;
        }
        goto out;
    }
out:
#undef WS
    free(stack);
    return ok;
}

/* ---- operations on local work (CHAINPAD.md §5.4) ------------------------------ */

void cp_ops_copy(const struct cp_op *ops, size_t n, struct cp_op **out, size_t *nout)
{
    struct cp_op *r = n ? xcalloc(n, sizeof *r) : NULL;
    for (size_t i = 0; i < n; i++) {
        r[i].off = ops[i].off;
        r[i].rem = ops[i].rem;
        u16_set(&r[i].ins, ops[i].ins.p, ops[i].ins.n);
    }
    *out = r;
    *nout = n;
}

void cp_transform_ops(struct cp_op *ops, size_t *n, const struct cp_op *by, size_t nby)
{
    /* Patch.transform with TextTransformer: every local op over the remote ops
     * from the last to the first (remote offsets stay valid in the original
     * coordinates that way); a local op that vanishes is dropped. */
    size_t keep = 0;
    for (size_t i = 0; i < *n; i++) {
        bool alive = true;
        for (size_t j = nby; j-- > 0 && alive;)
            alive = transform_op(&ops[i], &by[j]);
        if (alive)
            ops[keep++] = ops[i];
        else
            u16_free(&ops[i].ins);
    }
    *n = keep;
}

/* A patch as a delta: a sequence of retain / delete / insert components over
 * its source document, used to compose two patches (Patch.merge, §3.6). */
enum { D_RET, D_DEL, D_INS };
struct dcomp {
    int kind;
    uint64_t n;            /* RET/DEL: count; INS: units */
    const uint16_t *s;     /* INS: text (borrowed) */
};
struct delta {
    struct dcomp *c;
    size_t n, cap;
};

static void d_push(struct delta *d, int kind, uint64_t n, const uint16_t *s)
{
    if (n == 0)
        return;
    if (d->n && d->c[d->n - 1].kind == kind && kind != D_INS) {
        d->c[d->n - 1].n += n;
        return;
    }
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->c = xrealloc(d->c, d->cap * sizeof *d->c);
    }
    d->c[d->n++] = (struct dcomp){kind, n, s};
}

/* ops (valid on a document of length len) -> delta; ops at the same offset
 * are applied last to first, which puts the earlier op's text first. */
static void to_delta(const struct cp_op *ops, size_t n, uint64_t len, struct delta *d)
{
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t off = ops[i].off > len ? len : ops[i].off;
        if (off < pos)
            off = pos; /* overlapping ops never come from the engine */
        uint64_t rem = ops[i].rem > len - off ? len - off : ops[i].rem;
        d_push(d, D_RET, off - pos, NULL);
        d_push(d, D_DEL, rem, NULL);
        d_push(d, D_INS, ops[i].ins.n, ops[i].ins.p);
        pos = off + rem;
    }
    d_push(d, D_RET, len - pos, NULL);
}

void cp_compose(const struct u16 *doc, const struct cp_op *a, size_t na, const struct cp_op *b,
                size_t nb, struct cp_op **out, size_t *nout)
{
    struct u16 mid = U16_INIT;
    u16_set(&mid, doc->p, doc->n);
    cp_apply_ops(&mid, a, na);
    struct delta da = {0}, db = {0}, dc = {0};
    to_delta(a, na, doc->n, &da);
    to_delta(b, nb, mid.n, &db);
    size_t ia = 0;
    uint64_t useda = 0; /* units of da.c[ia] already consumed */
    for (size_t ib = 0; ib < db.n; ib++) {
        struct dcomp cb = db.c[ib];
        if (cb.kind == D_INS) {
            d_push(&dc, D_INS, cb.n, cb.s);
            continue;
        }
        uint64_t need = cb.n;
        while (need > 0 && ia < da.n) {
            struct dcomp *ca = &da.c[ia];
            if (ca->kind == D_DEL) { /* a's deletions pass through */
                d_push(&dc, D_DEL, ca->n, NULL);
                ia++;
                continue;
            }
            uint64_t avail = ca->n - useda, k = avail < need ? avail : need;
            if (ca->kind == D_INS) {
                if (cb.kind == D_RET)
                    d_push(&dc, D_INS, k, ca->s + useda);
                /* else: inserted by a, deleted by b: gone */
            } else { /* D_RET */
                d_push(&dc, cb.kind, k, NULL);
            }
            need -= k;
            useda += k;
            if (useda == ca->n) {
                ia++;
                useda = 0;
            }
        }
    }
    for (; ia < da.n; ia++, useda = 0) { /* cannot have anything but deletions left */
        struct dcomp *ca = &da.c[ia];
        if (ca->kind == D_DEL)
            d_push(&dc, D_DEL, ca->n, NULL);
        else if (ca->kind == D_INS && ca->n > useda)
            d_push(&dc, D_INS, ca->n - useda, ca->s + useda);
    }
    /* delta -> ops over doc: consecutive deletions and insertions form one op */
    struct cp_op *ops = NULL;
    size_t nops = 0, cap = 0;
    uint64_t pos = 0;
    bool open = false;
    for (size_t i = 0; i < dc.n; i++) {
        struct dcomp *c = &dc.c[i];
        if (c->kind == D_RET) {
            pos += c->n;
            open = false;
            continue;
        }
        if (!open) {
            push_op(&ops, &nops, &cap, pos, 0, NULL, 0);
            open = true;
        }
        if (c->kind == D_DEL) {
            ops[nops - 1].rem += c->n;
            pos += c->n;
        } else {
            u16_append(&ops[nops - 1].ins, c->s, c->n);
        }
    }
    cp_simplify(doc, ops, nops, out, nout);
    cp_ops_free(ops, nops);
    free(da.c);
    free(db.c);
    free(dc.c);
    u16_free(&mid);
}
