/* fuzz_fileformat.c: libFuzzer target for src/client/file.c (CryptPad's
 * blob format).
 *
 * Input layout: byte 0 picks the mode, byte 1 seeds the split points.
 *   mode even: bytes 2.. are a blob, fed to a decryptor with a fixed key in
 *     random pieces (with the expected size announced when bit 1 of byte 0
 *     is set). Oracles: no crash; the sink never sees a piece larger than a
 *     chunk nor anything after an error; and a blob that is accepted must be
 *     exactly what the encryptor makes of the emitted plaintext and metadata
 *     (so no plaintext can come out of bytes whose MAC did not check). The
 *     one tolerated difference is a trailing empty box after full chunks,
 *     which CryptPad's reader accepts too.
 *   mode odd: bytes 2.. are a plaintext (its first byte, mod 64, also sizes a
 *     metadata name), encrypted with random write splits and again box at a
 *     time, decrypted in random pieces: both blobs equal, the plaintext back.
 *
 *   make build/fuzz/fuzz_fileformat && build/fuzz/fuzz_fileformat fuzz/corpus/fuzz_fileformat */
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blindpad/err.h"
#include "blindpad/file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char KEY[32] = {
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42,
    0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42};

struct out {
    unsigned char *p;
    size_t len;
    bool failed; /* an error was returned: the sink must stay quiet */
};

static int sink(void *ctx, const unsigned char *p, size_t n)
{
    struct out *o = ctx;
    if (o->failed || n > BP_FILE_BOX_MAX)
        abort();
    unsigned char *q = realloc(o->p, o->len + n + 1);
    if (!q)
        abort();
    o->p = q;
    memcpy(o->p + o->len, p, n);
    o->len += n;
    return 0;
}

/* xorshift for split points: deterministic per input. */
static size_t next_piece(uint32_t *s, size_t max)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return 1 + *s % max;
}

static void encrypt(const char *meta, size_t mlen, const unsigned char *p, size_t n, uint32_t seed,
                    struct out *blob)
{
    bp_file_enc *e;
    if (bp_file_enc_new(&e, KEY, meta, mlen))
        abort();
    size_t off = 0;
    while (off < n) {
        size_t k = next_piece(&seed, seed & 1 ? 300000 : 64);
        if (k > n - off)
            k = n - off;
        if (bp_file_enc_write(e, p + off, k, sink, blob))
            abort();
        off += k;
    }
    if (bp_file_enc_final(e, sink, blob))
        abort();
    bp_file_enc_free(e);
}

static void fuzz_decrypt(const uint8_t *in, size_t n, uint32_t seed, bool sized)
{
    bp_file_dec *d;
    if (bp_file_dec_new(&d, KEY, sized ? n : 0))
        abort();
    struct out plain = {0};
    int rc = 0;
    size_t off = 0;
    while (off < n && rc == 0) {
        size_t k = next_piece(&seed, seed & 1 ? 200000 : 40);
        if (k > n - off)
            k = n - off;
        rc = bp_file_dec_write(d, in + off, k, sink, &plain);
        off += k;
    }
    if (rc == 0)
        rc = bp_file_dec_final(d, sink, &plain);
    plain.failed = rc != 0;
    if (rc) {
        if (rc != BP_EDECRYPT && rc != BP_EPROTO)
            abort();
        if (bp_file_dec_write(d, in, n, sink, &plain) != rc || bp_file_dec_final(d, sink, &plain) != rc)
            abort(); /* sticky, and silent */
    } else {
        size_t mlen;
        const char *meta = bp_file_dec_meta(d, &mlen);
        if (!meta || bp_file_dec_plain_len(d) != plain.len)
            abort();
        struct out again = {0};
        encrypt(meta, mlen, plain.p, plain.len, seed, &again);
        bool same = again.len == n && memcmp(again.p, in, n) == 0;
        bool empty_tail = plain.len && plain.len % BP_FILE_CHUNK == 0 && n == again.len + 16 &&
                          memcmp(again.p, in, again.len) == 0;
        if (!same && !empty_tail)
            abort();
        free(again.p);
    }
    free(plain.p);
    bp_file_dec_free(d);
}

static void fuzz_roundtrip(const uint8_t *in, size_t n, uint32_t seed)
{
    char meta[128];
    size_t nl = n ? in[0] % 64 : 0;
    memcpy(meta, "{\"name\":\"", 9);
    memset(meta + 9, 'a', nl);
    memcpy(meta + 9 + nl, "\",\"type\":\"t\"}", 14);
    size_t mlen = strlen(meta);
    struct out blob = {0};
    encrypt(meta, mlen, in, n, seed, &blob);
    if (blob.len != bp_file_encrypted_size(n, mlen))
        abort();
    /* box at a time gives the same bytes */
    bp_file_enc *e;
    if (bp_file_enc_new(&e, KEY, meta, mlen))
        abort();
    unsigned char *box = malloc(BP_FILE_BOX_MAX > BP_FILE_HEADER_MAX ? BP_FILE_BOX_MAX
                                                                     : BP_FILE_HEADER_MAX);
    size_t bl, at = 0, off = 0;
    if (bp_file_enc_header(e, box, BP_FILE_HEADER_MAX, &bl) || memcmp(box, blob.p, bl))
        abort();
    at = bl;
    do {
        size_t k = n - off > BP_FILE_CHUNK ? BP_FILE_CHUNK : n - off;
        if (bp_file_enc_box(e, in + off, k, box, BP_FILE_BOX_MAX, &bl) || at + bl > blob.len ||
            memcmp(box, blob.p + at, bl))
            abort();
        at += bl;
        off += k;
    } while (off < n);
    if (at != blob.len)
        abort();
    free(box);
    bp_file_enc_free(e);
    /* and back */
    bp_file_dec *d;
    if (bp_file_dec_new(&d, KEY, blob.len))
        abort();
    struct out plain = {0};
    off = 0;
    while (off < blob.len) {
        size_t k = next_piece(&seed, 70000);
        if (k > blob.len - off)
            k = blob.len - off;
        if (bp_file_dec_write(d, blob.p + off, k, sink, &plain))
            abort();
        off += k;
    }
    if (bp_file_dec_final(d, sink, &plain) || plain.len != n || (n && memcmp(plain.p, in, n)))
        abort();
    size_t ml;
    const char *m = bp_file_dec_meta(d, &ml);
    if (!m || ml != mlen || memcmp(m, meta, ml))
        abort();
    bp_file_dec_free(d);
    free(plain.p);
    free(blob.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ ((uint32_t)data[1] * 2654435761u);
    if (data[0] & 1)
        fuzz_roundtrip(data + 2, size - 2, seed);
    else
        fuzz_decrypt(data + 2, size - 2, seed, data[0] & 2);
    return 0;
}
