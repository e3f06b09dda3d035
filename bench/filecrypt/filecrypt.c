/* filecrypt: throughput of libblindpad's streaming blob encryptor and
 * decryptor (src/client/file.c) next to raw crypto_secretbox_easy /
 * _open_easy on the same 128 KiB chunks, in the same process.
 *
 * Issue 5's target: the upload/download path at no less than half of
 * secretbox's speed. Each figure is the median of RUNS runs over TOTAL bytes
 * fed in 1 MiB pieces (as a file read would be); memory stays bounded (one
 * 1 MiB input piece, a 64 MiB pre-encrypted blob for the decrypt runs).
 *
 * Not built by the Makefile (its bench wildcard is the load generator); build with
 *   cc -O2 -Iinclude -Isrc -o build/filecrypt bench/filecrypt/filecrypt.c \
 *      build/libblindpad.a $(pkg-config --libs libsodium jansson)
 * and run build/filecrypt [MiB per run, default 512]. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blindpad/file.h"

#define RUNS 5
#define PIECE (1u << 20)
#define DECBLOB (64u << 20)

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, RUNS, sizeof *v, cmp);
    return v[RUNS / 2];
}

static volatile unsigned char sinkhole;
static int null_sink(void *ctx, const unsigned char *p, size_t n)
{
    (void)ctx;
    sinkhole ^= p[n ? n - 1 : 0];
    return 0;
}

struct blob { unsigned char *p; size_t len; };
static int keep_sink(void *ctx, const unsigned char *p, size_t n)
{
    struct blob *b = ctx;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* The pipeline a download of an upload would be: encryptor -> decryptor. */
static int pipe_sink(void *ctx, const unsigned char *p, size_t n)
{
    return bp_file_dec_write(ctx, p, n, null_sink, NULL);
}

int main(int argc, char **argv)
{
    if (sodium_init() < 0)
        return 1;
    size_t total = (size_t)(argc > 1 ? atoi(argv[1]) : 512) << 20;
    unsigned char key[32], nonce[24] = {0};
    randombytes_buf(key, sizeof key);
    unsigned char *piece = malloc(PIECE), *box = malloc(BP_FILE_BOX_MAX);
    randombytes_buf(piece, PIECE);
    const char *meta = "{\"name\":\"bench.bin\",\"type\":\"application/octet-stream\"}";
    double seal[RUNS], open_[RUNS], enc[RUNS], dec[RUNS], pipe[RUNS];

    for (int r = 0; r < RUNS; r++) {
        /* raw secretbox, 128 KiB chunks */
        double t = now();
        for (size_t done = 0; done < total; done += BP_FILE_CHUNK) {
            crypto_secretbox_easy(box, piece + done % PIECE, BP_FILE_CHUNK, nonce, key);
            sodium_increment(nonce, sizeof nonce);
        }
        seal[r] = total / (now() - t) / 1e6;
        unsigned char *plain = malloc(BP_FILE_CHUNK);
        crypto_secretbox_easy(box, piece, BP_FILE_CHUNK, nonce, key);
        t = now();
        for (size_t done = 0; done < total; done += BP_FILE_CHUNK)
            if (crypto_secretbox_open_easy(plain, box, BP_FILE_BOX_MAX, nonce, key))
                return 2;
        open_[r] = total / (now() - t) / 1e6;
        free(plain);

        /* streaming encryptor, 1 MiB writes */
        bp_file_enc *e;
        bp_file_enc_new(&e, key, meta, strlen(meta));
        t = now();
        for (size_t done = 0; done < total; done += PIECE)
            if (bp_file_enc_write(e, piece, PIECE, null_sink, NULL))
                return 3;
        bp_file_enc_final(e, null_sink, NULL);
        enc[r] = total / (now() - t) / 1e6;
        bp_file_enc_free(e);

        /* streaming decryptor over a 64 MiB blob, 1 MiB (unaligned) reads */
        struct blob b = {malloc(bp_file_encrypted_size(DECBLOB, strlen(meta))), 0};
        bp_file_enc_new(&e, key, meta, strlen(meta));
        for (size_t done = 0; done < DECBLOB; done += PIECE)
            bp_file_enc_write(e, piece, PIECE, keep_sink, &b);
        bp_file_enc_final(e, keep_sink, &b);
        bp_file_enc_free(e);
        t = now();
        size_t passes = total / DECBLOB ? total / DECBLOB : 1;
        for (size_t k = 0; k < passes; k++) {
            bp_file_dec *d;
            bp_file_dec_new(&d, key, b.len);
            for (size_t off = 0; off < b.len; off += PIECE)
                if (bp_file_dec_write(d, b.p + off, b.len - off < PIECE ? b.len - off : PIECE,
                                      null_sink, NULL))
                    return 4;
            if (bp_file_dec_final(d, null_sink, NULL))
                return 5;
            bp_file_dec_free(d);
        }
        dec[r] = (double)passes * DECBLOB / (now() - t) / 1e6;
        free(b.p);

        /* encrypt and decrypt in one pipeline vs seal + open */
        bp_file_dec *d;
        bp_file_dec_new(&d, key, bp_file_encrypted_size(total, strlen(meta)));
        bp_file_enc_new(&e, key, meta, strlen(meta));
        t = now();
        for (size_t done = 0; done < total; done += PIECE)
            if (bp_file_enc_write(e, piece, PIECE, pipe_sink, d))
                return 6;
        if (bp_file_enc_final(e, pipe_sink, d) || bp_file_dec_final(d, null_sink, NULL))
            return 7;
        pipe[r] = total / (now() - t) / 1e6;
        bp_file_enc_free(e);
        bp_file_dec_free(d);
    }
    double s = median(seal), o = median(open_), en = median(enc), de = median(dec),
           pp = median(pipe);
    double both = 1.0 / (1.0 / s + 1.0 / o); /* raw seal then open, MB/s of file */
    printf("MiB per run %zu, median of %d runs (MB/s = 10^6 bytes of plaintext per second)\n",
           total >> 20, RUNS);
    printf("raw crypto_secretbox_easy      %8.0f MB/s\n", s);
    printf("raw crypto_secretbox_open_easy %8.0f MB/s\n", o);
    printf("bp_file_enc (streaming)        %8.0f MB/s  %.2f x seal\n", en, en / s);
    printf("bp_file_dec (streaming)        %8.0f MB/s  %.2f x open\n", de, de / o);
    printf("enc->dec pipeline              %8.0f MB/s  %.2f x raw seal+open (%.0f MB/s)\n", pp,
           pp / both, both);
    free(piece);
    free(box);
    return 0;
}
