/* buf.h: a growable byte buffer, and a reference-counted immutable one.
 *
 * struct buf owns its memory; buf_free() releases it. The data is always
 * NUL-terminated (not counted in len) so it can be handed to C string APIs.
 * Callers check wire lengths against their limits before appending: buf
 * itself only aborts on OOM (see xmalloc.h).
 *
 * struct sbuf is an immutable payload shared by several owners, e.g. one
 * serialised broadcast frame queued on many connections. sbuf_new() returns it
 * with one reference; each owner takes one with sbuf_ref() and drops it with
 * sbuf_unref(); the last unref frees it. Not thread-safe: main loop only. */
#ifndef BP_BUF_H
#define BP_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;  /* from xmalloc, or NULL while cap == 0 */
    size_t len;  /* bytes used */
    size_t cap;  /* bytes allocated (len + 1 <= cap once allocated) */
};

#define BUF_INIT {NULL, 0, 0}

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_appendc(struct buf *b, char c);
void buf_appends(struct buf *b, const char *s);
void buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_reset(struct buf *b);
void buf_free(struct buf *b);
/* Hands the data over to the caller (who frees it) and resets b. */
char *buf_steal(struct buf *b, size_t *len);

struct sbuf {
    unsigned refs;  /* owners; freed when it drops to 0 */
    size_t len;     /* bytes in data */
    char data[];    /* the payload, NUL-terminated */
};

struct sbuf *sbuf_new(const void *p, size_t n);
/* Moves b's bytes into a new sbuf (one reference) and resets b. */
struct sbuf *sbuf_from_buf(struct buf *b);
struct sbuf *sbuf_ref(struct sbuf *s);
void sbuf_unref(struct sbuf *s);

#endif
