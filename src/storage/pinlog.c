/* pinlog.c: the pin-log reducer and GET_HASH (see pinlog.h for the format
 * and the rules). */
#include "storage/pinlog.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/jsonw.h"
#include "common/xmalloc.h"

void pinlog_init(struct pinlog *p)
{
    memset(p, 0, sizeof *p);
}

static void clear_set(struct pinlog *p)
{
    struct pinlog_id *e, *tmp;
    HASH_ITER(hh, p->set, e, tmp) {
        HASH_DEL(p->set, e);
        free(e);
    }
}

void pinlog_free(struct pinlog *p)
{
    clear_set(p);
    free(p->block);
    free(p->drive);
    memset(p, 0, sizeof *p);
}

size_t pinlog_count(const struct pinlog *p)
{
    return HASH_COUNT(p->set);
}

bool pinlog_has(const struct pinlog *p, const char *id, size_t len)
{
    struct pinlog_id *e;
    HASH_FIND(hh, p->set, id, len, e);
    return e != NULL;
}

void pinlog_add(struct pinlog *p, const char *id, size_t len)
{
    if (len == 0 || pinlog_has(p, id, len))
        return;
    struct pinlog_id *e = xmalloc(sizeof *e + len + 1);
    e->len = len;
    memcpy(e->id, id, len);
    e->id[len] = '\0';
    HASH_ADD_KEYPTR(hh, p->set, e->id, e->len, e);
}

static void remove_raw(struct pinlog *p, const char *id, size_t len)
{
    struct pinlog_id *e;
    HASH_FIND(hh, p->set, id, len, e);
    if (e) {
        HASH_DEL(p->set, e);
        free(e);
    }
}

size_t pinlog_clean(const char *id, size_t len, bool pin, const char **tag)
{
    const char *hash = memchr(id, '#', len);
    *tag = NULL;
    if (!hash)
        return len;
    *tag = hash + 1;
    size_t base = (size_t)(hash - id);
    if (pin && len - base - 1 == 5 && memcmp(hash + 1, "block", 5) == 0)
        return 0;
    return base;
}

static void remember(char **slot, const char *id, size_t len)
{
    free(*slot);
    *slot = xstrndup(id, len);
}

static void pin_one(struct pinlog *p, const json_t *v)
{
    if (!json_is_string(v))
        return;
    const char *id = json_string_value(v), *tag;
    size_t len = json_string_length(v);
    size_t base = pinlog_clean(id, len, true, &tag);
    if (tag) {
        size_t tlen = len - (size_t)(tag - id);
        if (tlen == 5 && memcmp(tag, "block", 5) == 0) {
            size_t blen = (size_t)(tag - 1 - id);
            if (blen > 0)
                remember(&p->block, id, blen);
            return;
        }
        if (tlen == 5 && memcmp(tag, "drive", 5) == 0 && base > 0)
            remember(&p->drive, id, base);
    }
    pinlog_add(p, id, base);
}

void pinlog_apply(struct pinlog *p, enum pinlog_cmd cmd, const json_t *ids)
{
    if (!json_is_array(ids))
        return;
    size_t i;
    const json_t *v;
    switch (cmd) {
    case PINLOG_RESET:
        clear_set(p);
        /* The reference then handles the line as a PIN too: a no-op. */
        /* fall through */
    case PINLOG_PIN:
        json_array_foreach(ids, i, v) pin_one(p, v);
        break;
    case PINLOG_UNPIN:
        json_array_foreach(ids, i, v) {
            if (!json_is_string(v))
                continue;
            const char *tag;
            size_t base = pinlog_clean(json_string_value(v), json_string_length(v), false, &tag);
            remove_raw(p, json_string_value(v), base);
        }
        break;
    }
}

int pinlog_feed(struct pinlog *p, const char *line, size_t len)
{
    p->lines++;
    if (len == 0)
        return 0;
    json_t *l = json_loadb(line, len, 0, NULL);
    int rc = BP_EPROTO;
    if (!json_is_array(l))
        goto out;
    const json_t *t = json_array_get(l, 2);
    if (json_is_number(t)) {
        long long ms = (long long)json_number_value(t);
        if (!p->first)
            p->first = ms;
        p->latest = ms;
    }
    const char *cmd = json_string_value(json_array_get(l, 0));
    const json_t *ids = json_array_get(l, 1);
    if (!cmd || !json_is_array(ids))
        goto out;
    if (strcmp(cmd, "PIN") == 0)
        pinlog_apply(p, PINLOG_PIN, ids);
    else if (strcmp(cmd, "UNPIN") == 0)
        pinlog_apply(p, PINLOG_UNPIN, ids);
    else if (strcmp(cmd, "RESET") == 0)
        pinlog_apply(p, PINLOG_RESET, ids);
    else
        goto out;
    rc = 0;
out:
    if (rc < 0)
        p->bad++;
    json_decref(l);
    return rc;
}

/* ---- UTF-16 order ------------------------------------------------------ */

struct u16it {
    const unsigned char *p, *end;
    unsigned pending; /* a low surrogate still to return, or 0 */
};

/* The next UTF-16 code unit, or -1 at the end. */
static long u16_next(struct u16it *it)
{
    if (it->pending) {
        unsigned u = it->pending;
        it->pending = 0;
        return (long)u;
    }
    if (it->p >= it->end)
        return -1;
    unsigned c = *it->p;
    size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (size_t)(it->end - it->p) < n) {
        it->p++;
        return (long)c;
    }
    unsigned long cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t i = 1; i < n; i++) {
        unsigned cc = it->p[i];
        if ((cc & 0xC0) != 0x80) {
            it->p++;
            return (long)c;
        }
        cp = (cp << 6) | (cc & 0x3F);
    }
    it->p += n;
    if (cp >= 0x10000) {
        cp -= 0x10000;
        it->pending = 0xDC00 | (unsigned)(cp & 0x3FF);
        return (long)(0xD800 | (cp >> 10));
    }
    return (long)cp;
}

int pinlog_utf16_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    struct u16it x = {(const unsigned char *)a, (const unsigned char *)a + alen, 0};
    struct u16it y = {(const unsigned char *)b, (const unsigned char *)b + blen, 0};
    for (;;) {
        long ua = u16_next(&x), ub = u16_next(&y);
        if (ua != ub)
            return ua < ub ? -1 : 1;
        if (ua < 0)
            return 0;
    }
}

static int cmp_ids(const void *pa, const void *pb)
{
    const struct pinlog_id *a = *(const struct pinlog_id *const *)pa;
    const struct pinlog_id *b = *(const struct pinlog_id *const *)pb;
    return pinlog_utf16_cmp(a->id, a->len, b->id, b->len);
}

size_t pinlog_sorted(const struct pinlog *p, const struct pinlog_id ***out)
{
    size_t n = HASH_COUNT(p->set), i = 0;
    const struct pinlog_id **arr = xmalloc((n ? n : 1) * sizeof *arr);
    for (const struct pinlog_id *e = p->set; e; e = e->hh.next)
        arr[i++] = e;
    qsort(arr, n, sizeof *arr, cmp_ids);
    *out = arr;
    return n;
}

void pinlog_hash(const struct pinlog *p, char out[PINLOG_HASH_LEN + 1])
{
    const struct pinlog_id **ids;
    size_t n = pinlog_sorted(p, &ids);
    struct buf b = BUF_INIT;
    buf_appendc(&b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_appendc(&b, ',');
        jsonw_str(&b, ids[i]->id, ids[i]->len);
    }
    buf_appendc(&b, ']');
    free(ids);
    unsigned char h[crypto_hash_sha512_BYTES];
    crypto_hash_sha512(h, (const unsigned char *)b.data, b.len);
    sodium_bin2base64(out, PINLOG_HASH_LEN + 1, h, sizeof h, sodium_base64_VARIANT_ORIGINAL);
    buf_free(&b);
}

void pinlog_hash_list(const char *const *ids, size_t n, char out[PINLOG_HASH_LEN + 1])
{
    struct pinlog p;
    pinlog_init(&p);
    for (size_t i = 0; i < n; i++)
        pinlog_add(&p, ids[i], strlen(ids[i]));
    pinlog_hash(&p, out);
    pinlog_free(&p);
}
