/* file.c: CryptPad's blob format (see include/blindpad/file.h for the layout
 * and the API contract).
 *
 *   offset 0     u16 big-endian L  (length of the metadata box)
 *   offset 2     metabox, L bytes: secretbox(JSON metadata, nonce 0)
 *   offset 2+L   data boxes of 131088 bytes, the last one 16..131088 bytes,
 *                with nonces 1, 2, ... (24-byte big-endian counter)
 *
 * Both directions keep at most one box in memory. The encryptor seals
 * straight from the caller's input when a whole chunk is available and is
 * known not to be the last; the decryptor opens straight from the caller's
 * input when a whole box lies in it, and copies otherwise. */
#include "blindpad/file.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "common/buf.h"
#include "common/jsonw.h"
#include "common/utf8.h"

_Static_assert(crypto_secretbox_KEYBYTES == BP_FILE_KEYBYTES, "key size");
_Static_assert(crypto_secretbox_MACBYTES == BP_FILE_TAGBYTES, "tag size");
#define NONCEBYTES crypto_secretbox_NONCEBYTES

/* Secrets kept apart in guarded, wiped memory. */
struct secrets {
    unsigned char key[BP_FILE_KEYBYTES];
    unsigned char nonce[NONCEBYTES];
};

/* file-crypto.js `increment`: the nonce is one big-endian integer. Returns
 * false when all 2^192 values are used (unreachable in practice). */
static bool nonce_next(unsigned char n[NONCEBYTES])
{
    for (size_t i = NONCEBYTES; i-- > 0;)
        if (++n[i] != 0)
            return true;
    return false;
}

static struct secrets *secrets_new(const unsigned char key[BP_FILE_KEYBYTES])
{
    /* sodium_malloc needs sodium_init (idempotent, thread-safe): the library
     * does not rely on its caller having called it. */
    if (sodium_init() < 0)
        return NULL;
    struct secrets *s = sodium_malloc(sizeof *s);
    if (!s)
        return NULL;
    memcpy(s->key, key, BP_FILE_KEYBYTES);
    memset(s->nonce, 0, NONCEBYTES);
    return s;
}

uint64_t bp_file_encrypted_size(uint64_t plain_len, size_t meta_len)
{
    uint64_t chunks = plain_len == 0 ? 1 : (plain_len + BP_FILE_CHUNK - 1) / BP_FILE_CHUNK;
    return 2 + (uint64_t)meta_len + BP_FILE_TAGBYTES + plain_len + chunks * BP_FILE_TAGBYTES;
}

uint64_t bp_file_estimate_size(uint64_t plain_len, size_t meta_len)
{
    uint64_t chunks = (plain_len + BP_FILE_CHUNK - 1) / BP_FILE_CHUNK; /* Math.ceil */
    return (uint64_t)meta_len + 18 + chunks * BP_FILE_TAGBYTES + plain_len;
}

static int meta_build(struct buf *b, const char *name, const char *type, const char *alt,
                      const char *thumb)
{
    buf_reset(b);
    buf_appends(b, "{\"name\":");
    jsonw_cstr(b, name);
    buf_appends(b, ",\"type\":");
    jsonw_cstr(b, type);
    if (alt) {
        buf_appends(b, ",\"alt\":");
        jsonw_cstr(b, alt);
    }
    if (thumb) {
        buf_appends(b, ",\"thumbnail\":");
        jsonw_cstr(b, thumb);
    }
    buf_appendc(b, '}');
    return 0;
}

static bool valid_str(const char *s)
{
    return !s || utf8_valid(s, strlen(s));
}

int bp_file_meta_json(char *out, size_t cap, size_t *outlen, const char *name,
                      const char *type, const char *alt, const char *thumbnail)
{
    if (!outlen || !name || !type || !valid_str(name) || !valid_str(type) || !valid_str(alt) ||
        !valid_str(thumbnail))
        return BP_EINVAL;
    struct buf b = BUF_INIT;
    meta_build(&b, name, type, alt, thumbnail);
    /* file-crypto.js: "if metadata is too large, drop the thumbnail" (the
     * limit is on the JSON, not on the box: 65520..65535 still fails later). */
    if (b.len > 65535 && thumbnail)
        meta_build(&b, name, type, alt, NULL);
    int rc = 0;
    if (b.len + 1 > cap || !out) {
        *outlen = b.len + 1;
        rc = BP_ETOOBIG;
    } else {
        memcpy(out, b.data, b.len + 1);
        *outlen = b.len;
    }
    buf_free(&b);
    return rc;
}

/* ---------------------------------------------------------------- encrypt */

enum enc_state { ENC_NEW, ENC_DATA, ENC_DONE, ENC_ERROR };

struct bp_file_enc {
    struct secrets *s;
    enum enc_state state;
    int err;               /* sticky error once state == ENC_ERROR */
    bool streaming;        /* write/final used (vs header/box) */
    uint64_t boxes;        /* data boxes sealed */
    uint64_t written;      /* blob bytes produced */
    unsigned char *meta;   /* metadata JSON (meta_len bytes) */
    size_t meta_len;
    size_t held;           /* plaintext bytes in plain[] (streaming) */
    unsigned char *plain;  /* BP_FILE_CHUNK (streaming only) */
    unsigned char *out;    /* IOBUF (streaming only) */
};

/* One buffer size fits a data box and the header. */
#define IOBUF (BP_FILE_BOX_MAX > BP_FILE_HEADER_MAX ? BP_FILE_BOX_MAX : BP_FILE_HEADER_MAX)

int bp_file_enc_new(bp_file_enc **out, const unsigned char key[BP_FILE_KEYBYTES],
                    const char *meta, size_t meta_len)
{
    if (!out || !key || (!meta && meta_len))
        return BP_EINVAL;
    *out = NULL;
    if (meta_len > BP_FILE_META_MAX)
        return BP_ETOOBIG;
    bp_file_enc *e = calloc(1, sizeof *e);
    if (!e)
        return BP_ENOMEM;
    e->s = secrets_new(key);
    e->meta = malloc(meta_len ? meta_len : 1);
    if (!e->s || !e->meta) {
        bp_file_enc_free(e);
        return BP_ENOMEM;
    }
    if (meta_len)
        memcpy(e->meta, meta, meta_len);
    e->meta_len = meta_len;
    *out = e;
    return 0;
}

void bp_file_enc_free(bp_file_enc *e)
{
    if (!e)
        return;
    sodium_free(e->s);
    if (e->meta) {
        sodium_memzero(e->meta, e->meta_len);
        free(e->meta);
    }
    if (e->plain) {
        sodium_memzero(e->plain, BP_FILE_CHUNK);
        free(e->plain);
    }
    free(e->out);
    free(e);
}

uint64_t bp_file_enc_written(const bp_file_enc *e)
{
    return e ? e->written : 0;
}

size_t bp_file_enc_header_len(const bp_file_enc *e)
{
    return e ? 2 + e->meta_len + BP_FILE_TAGBYTES : 0;
}

static int enc_fail(bp_file_enc *e, int err)
{
    e->state = ENC_ERROR;
    e->err = err;
    return err;
}

int bp_file_enc_header(bp_file_enc *e, unsigned char *out, size_t cap, size_t *outlen)
{
    if (!e || !out || !outlen)
        return BP_EINVAL;
    if (e->state == ENC_ERROR)
        return e->err;
    if (e->state != ENC_NEW)
        return BP_EINVAL;
    size_t box = e->meta_len + BP_FILE_TAGBYTES;
    if (cap < 2 + box)
        return BP_ETOOBIG;
    out[0] = (unsigned char)(box >> 8);
    out[1] = (unsigned char)box;
    crypto_secretbox_easy(out + 2, e->meta, e->meta_len, e->s->nonce, e->s->key);
    nonce_next(e->s->nonce);
    e->state = ENC_DATA;
    e->written += 2 + box;
    *outlen = 2 + box;
    return 0;
}

int bp_file_enc_box(bp_file_enc *e, const unsigned char *plain, size_t len, unsigned char *out,
                    size_t cap, size_t *outlen)
{
    if (!e || !out || !outlen || (!plain && len) || len > BP_FILE_CHUNK)
        return BP_EINVAL;
    if (e->state == ENC_ERROR)
        return e->err;
    if (e->state != ENC_DATA)
        return BP_EINVAL; /* header not written yet, or the file has ended */
    if (cap < len + BP_FILE_TAGBYTES)
        return BP_ETOOBIG;
    static const unsigned char none[1];
    crypto_secretbox_easy(out, plain ? plain : none, len, e->s->nonce, e->s->key);
    if (!nonce_next(e->s->nonce))
        return enc_fail(e, BP_ETOOBIG);
    e->boxes++;
    e->written += len + BP_FILE_TAGBYTES;
    if (len < BP_FILE_CHUNK)
        e->state = ENC_DONE;
    *outlen = len + BP_FILE_TAGBYTES;
    return 0;
}

/* Streaming: allocates the buffers and emits the header on first use. */
static int enc_start(bp_file_enc *e, bp_file_sink sink, void *ctx)
{
    if (e->state == ENC_ERROR)
        return e->err;
    if (!e->streaming && e->state != ENC_NEW)
        return BP_EINVAL; /* box-at-a-time already in use */
    if (e->state != ENC_NEW)
        return e->state == ENC_DONE ? BP_EINVAL : 0;
    e->streaming = true;
    e->plain = malloc(BP_FILE_CHUNK);
    e->out = malloc(IOBUF);
    if (!e->plain || !e->out)
        return enc_fail(e, BP_ENOMEM);
    size_t n;
    int rc = bp_file_enc_header(e, e->out, IOBUF, &n);
    if (rc == 0)
        rc = sink(ctx, e->out, n);
    return rc ? enc_fail(e, rc) : 0;
}

static int enc_emit(bp_file_enc *e, const unsigned char *plain, size_t len, bp_file_sink sink,
                    void *ctx)
{
    size_t n;
    int rc = bp_file_enc_box(e, plain, len, e->out, IOBUF, &n);
    if (rc == 0)
        rc = sink(ctx, e->out, n);
    return rc ? enc_fail(e, rc) : 0;
}

int bp_file_enc_write(bp_file_enc *e, const unsigned char *in, size_t len, bp_file_sink sink,
                      void *ctx)
{
    if (!e || !sink || (!in && len))
        return BP_EINVAL;
    int rc = enc_start(e, sink, ctx);
    if (rc)
        return rc;
    while (len > 0) {
        if (e->held == BP_FILE_CHUNK) {
            /* More input follows, so the held chunk is not the last. */
            if ((rc = enc_emit(e, e->plain, BP_FILE_CHUNK, sink, ctx)))
                return rc;
            e->held = 0;
        }
        if (e->held == 0 && len > BP_FILE_CHUNK) {
            if ((rc = enc_emit(e, in, BP_FILE_CHUNK, sink, ctx)))
                return rc;
            in += BP_FILE_CHUNK;
            len -= BP_FILE_CHUNK;
            continue;
        }
        size_t n = BP_FILE_CHUNK - e->held;
        if (n > len)
            n = len;
        memcpy(e->plain + e->held, in, n);
        e->held += n;
        in += n;
        len -= n;
    }
    return 0;
}

int bp_file_enc_final(bp_file_enc *e, bp_file_sink sink, void *ctx)
{
    if (!e || !sink)
        return BP_EINVAL;
    int rc = enc_start(e, sink, ctx);
    if (rc)
        return rc;
    /* The held bytes are the last box; an empty file still gets one box; a
     * file of k full chunks has exactly k boxes. */
    if (e->held > 0 || e->boxes == 0) {
        if ((rc = enc_emit(e, e->plain, e->held, sink, ctx)))
            return rc;
    }
    e->held = 0;
    sodium_memzero(e->plain, BP_FILE_CHUNK);
    e->state = ENC_DONE;
    return 0;
}

/* ---------------------------------------------------------------- decrypt */

enum dec_state { DEC_PREFIX, DEC_META, DEC_DATA, DEC_DONE, DEC_ERROR };

struct bp_file_dec {
    struct secrets *s;
    enum dec_state state;
    int err;
    uint64_t expected;      /* 0 = unknown */
    uint64_t received;      /* blob bytes fed */
    uint64_t plain_len;     /* plaintext emitted */
    uint64_t boxes;         /* data boxes opened */
    size_t need;            /* bytes of the current unit (prefix, metabox) */
    size_t have;            /* bytes of it in buf[] */
    unsigned char *buf;     /* IOBUF: prefix, metabox or one data box */
    unsigned char *plain;   /* BP_FILE_CHUNK */
    char *meta;             /* decrypted metadata JSON, NUL terminated */
    size_t meta_len;
};

int bp_file_dec_new(bp_file_dec **out, const unsigned char key[BP_FILE_KEYBYTES],
                    uint64_t expected_size)
{
    if (!out || !key)
        return BP_EINVAL;
    *out = NULL;
    bp_file_dec *d = calloc(1, sizeof *d);
    if (!d)
        return BP_ENOMEM;
    d->s = secrets_new(key);
    d->buf = malloc(IOBUF);
    d->plain = malloc(BP_FILE_CHUNK);
    if (!d->s || !d->buf || !d->plain) {
        bp_file_dec_free(d);
        return BP_ENOMEM;
    }
    d->expected = expected_size;
    d->state = DEC_PREFIX;
    d->need = 2;
    *out = d;
    return 0;
}

void bp_file_dec_free(bp_file_dec *d)
{
    if (!d)
        return;
    sodium_free(d->s);
    if (d->plain) {
        sodium_memzero(d->plain, BP_FILE_CHUNK);
        free(d->plain);
    }
    if (d->meta) {
        sodium_memzero(d->meta, d->meta_len);
        free(d->meta);
    }
    free(d->buf);
    free(d);
}

const char *bp_file_dec_meta(const bp_file_dec *d, size_t *len)
{
    if (!d || !d->meta)
        return NULL;
    if (len)
        *len = d->meta_len;
    return d->meta;
}

uint64_t bp_file_dec_plain_len(const bp_file_dec *d)
{
    return d ? d->plain_len : 0;
}

static int dec_fail(bp_file_dec *d, int err)
{
    d->state = DEC_ERROR;
    d->err = err;
    sodium_memzero(d->plain, BP_FILE_CHUNK);
    return err;
}

/* JS: JSON.parse(encodeUTF8(meta)) must succeed and be truthy. */
static bool meta_ok(const char *p, size_t n)
{
    if (!utf8_valid(p, n))
        return false;
    json_error_t je;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY, &je);
    if (!v)
        return false;
    bool truthy = true;
    if (json_is_null(v) || json_is_false(v))
        truthy = false;
    else if (json_is_integer(v))
        truthy = json_integer_value(v) != 0;
    else if (json_is_real(v))
        truthy = json_real_value(v) != 0.0;
    else if (json_is_string(v))
        truthy = json_string_length(v) != 0;
    json_decref(v);
    return truthy;
}

static int dec_meta(bp_file_dec *d, const unsigned char *box, size_t len)
{
    size_t n = len - BP_FILE_TAGBYTES;
    d->meta = malloc(n + 1);
    if (!d->meta)
        return dec_fail(d, BP_ENOMEM);
    if (crypto_secretbox_open_easy((unsigned char *)d->meta, box, len, d->s->nonce, d->s->key)) {
        free(d->meta);
        d->meta = NULL;
        return dec_fail(d, BP_EDECRYPT);
    }
    nonce_next(d->s->nonce);
    d->meta[n] = '\0';
    d->meta_len = n;
    if (!meta_ok(d->meta, n)) {
        sodium_memzero(d->meta, n);
        free(d->meta);
        d->meta = NULL;
        return dec_fail(d, BP_EPROTO);
    }
    return 0;
}

/* Opens one data box (16..131088 bytes) and hands its plaintext to sink. */
static int dec_box(bp_file_dec *d, const unsigned char *box, size_t len, bp_file_sink sink,
                   void *ctx)
{
    size_t n = len - BP_FILE_TAGBYTES;
    if (crypto_secretbox_open_easy(d->plain, box, len, d->s->nonce, d->s->key))
        return dec_fail(d, BP_EDECRYPT);
    if (!nonce_next(d->s->nonce))
        return dec_fail(d, BP_EPROTO);
    d->boxes++;
    d->plain_len += n;
    if (sink) {
        int rc = sink(ctx, d->plain, n);
        if (rc)
            return dec_fail(d, rc);
    }
    return 0;
}

int bp_file_dec_write(bp_file_dec *d, const unsigned char *in, size_t len, bp_file_sink sink,
                      void *ctx)
{
    if (!d || (!in && len))
        return BP_EINVAL;
    if (d->state == DEC_ERROR)
        return d->err;
    if (d->state == DEC_DONE)
        return BP_EINVAL;
    if (d->expected && (len > d->expected || d->received > d->expected - len))
        return dec_fail(d, BP_EPROTO); /* longer than announced */
    d->received += len;
    int rc;
    while (len > 0) {
        if (d->state == DEC_DATA) {
            /* Whole boxes straight from the input when nothing is held. */
            if (d->have == 0 && len >= BP_FILE_BOX_MAX) {
                if ((rc = dec_box(d, in, BP_FILE_BOX_MAX, sink, ctx)))
                    return rc;
                in += BP_FILE_BOX_MAX;
                len -= BP_FILE_BOX_MAX;
                continue;
            }
            size_t n = BP_FILE_BOX_MAX - d->have;
            if (n > len)
                n = len;
            memcpy(d->buf + d->have, in, n);
            d->have += n;
            in += n;
            len -= n;
            if (d->have == BP_FILE_BOX_MAX) {
                /* A full box opens with its nonce whether or not it is the last. */
                d->have = 0;
                if ((rc = dec_box(d, d->buf, BP_FILE_BOX_MAX, sink, ctx)))
                    return rc;
            }
            continue;
        }
        size_t n = d->need - d->have;
        if (n > len)
            n = len;
        memcpy(d->buf + d->have, in, n);
        d->have += n;
        in += n;
        len -= n;
        if (d->have < d->need)
            break;
        if (d->state == DEC_PREFIX) {
            size_t l = ((size_t)d->buf[0] << 8) | d->buf[1];
            if (l < BP_FILE_TAGBYTES) /* JS: E_METADATA_DECRYPTION */
                return dec_fail(d, BP_EPROTO);
            d->state = DEC_META;
            d->need = l;
            d->have = 0;
        } else { /* DEC_META */
            if ((rc = dec_meta(d, d->buf, d->need)))
                return rc;
            d->state = DEC_DATA;
            d->have = 0;
        }
    }
    return 0;
}

int bp_file_dec_final(bp_file_dec *d, bp_file_sink sink, void *ctx)
{
    if (!d)
        return BP_EINVAL;
    if (d->state == DEC_ERROR)
        return d->err;
    if (d->state == DEC_DONE)
        return 0;
    /* Stopped in the prefix or the metadata, or before any data box. */
    if (d->state != DEC_DATA || (d->have == 0 && d->boxes == 0))
        return dec_fail(d, BP_EPROTO);
    if (d->expected && d->received != d->expected)
        return dec_fail(d, BP_EPROTO); /* truncated (even at a box boundary) */
    if (d->have > 0) {
        if (d->have < BP_FILE_TAGBYTES)
            return dec_fail(d, BP_EPROTO);
        size_t n = d->have;
        d->have = 0;
        int rc = dec_box(d, d->buf, n, sink, ctx);
        if (rc)
            return rc;
    }
    sodium_memzero(d->plain, BP_FILE_CHUNK);
    d->state = DEC_DONE;
    return 0;
}
