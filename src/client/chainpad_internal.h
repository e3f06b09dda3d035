/* chainpad_internal.h: the pieces of the ChainPad engine that work on
 * JavaScript strings (CHAINPAD.md §2-3, §6.4), shared by chainpad.c,
 * chainpad_text.c and the unit tests. Not installed; not a public API.
 *
 * A JavaScript string is a sequence of UTF-16 code units, and ChainPad counts
 * offsets, lengths and hashed bytes in code units (CHAINPAD.md §2.4, §8.1), so
 * every document and every string of a message is kept here as a u16 array.
 * Lone surrogates are legal in JS strings (a patch may split a pair); they
 * travel as \udxxx escapes in messages and are shown to C callers as WTF-8
 * (the 3-byte encoding of the surrogate code point).
 *
 * Memory: the u16 buffers grow with xrealloc (abort on OOM, see
 * common/xmalloc.h); u16_free releases one. */
#ifndef BP_CLIENT_CHAINPAD_INTERNAL_H
#define BP_CLIENT_CHAINPAD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u16 {
    uint16_t *p; /* xmalloc'd, or NULL while cap == 0 */
    size_t n;    /* code units used */
    size_t cap;  /* code units allocated */
};

#define U16_INIT {NULL, 0, 0}

void u16_free(struct u16 *s);
void u16_reserve(struct u16 *s, size_t extra);
void u16_append(struct u16 *s, const uint16_t *p, size_t n);
void u16_append_ascii(struct u16 *s, const char *a, size_t n);
void u16_set(struct u16 *dst, const uint16_t *p, size_t n);
bool u16_eq(const uint16_t *a, size_t an, const uint16_t *b, size_t bn);

/* UTF-8 -> UTF-16. strict: refuse encoded surrogates (what JS's UTF-8 decoder
 * does with received messages); otherwise accept them (WTF-8 round trip of our
 * own output). Returns 0 or BP_EINVAL on malformed input (dst then undefined). */
int u16_from_utf8(struct u16 *dst, const char *s, size_t n, bool strict);
/* UTF-16 -> UTF-8 (lone surrogates as WTF-8). Returns a malloc'd,
 * NUL-terminated string (caller frees) or NULL on OOM. */
char *u16_to_utf8(const uint16_t *p, size_t n, size_t *outlen);

/* H(s) of CHAINPAD.md §2.4: SHA-256 over the low byte of every code unit. */
void cp_hash(const uint16_t *p, size_t n, uint8_t out[32]);
void cp_hex(const uint8_t h[32], char out[65]);
/* Parses exactly 64 lowercase hex characters. */
bool cp_unhex(const uint16_t *p, size_t n, uint8_t out[32]);

/* Appends s as a JSON.stringify string literal (CHAINPAD.md §2.3). */
void cp_json_str(struct u16 *out, const uint16_t *p, size_t n);

/* One operation: at off delete rem code units, then insert ins. */
struct cp_op {
    uint64_t off;
    uint64_t rem;
    struct u16 ins;
};

void cp_ops_free(struct cp_op *ops, size_t n);

/* A parsed message (CHAINPAD.md §2.1). */
struct cp_parsed {
    int type;               /* 2 or 4 */
    struct cp_op *ops;
    size_t nops;
    struct u16 pch;         /* parentContentHash as sent */
    struct u16 parent;      /* parentMessageHash as sent */
};

#define CP_PATCH 2
#define CP_CHECKPOINT 4

/* Parses a message (UTF-8 text) like Message.fromString plus the stricter
 * operation checks of §2.2. Returns 0 or BP_EPROTO; on success the caller owns
 * out and frees it with cp_parsed_free. */
int cp_parse(const char *s, size_t n, struct cp_parsed *out);
void cp_parsed_free(struct cp_parsed *m);
/* JSON.stringify([type, [ops..., pch], parent]) as code units. */
void cp_serialize(int type, const struct cp_op *ops, size_t nops, const uint16_t *pch,
                  size_t pchn, const uint16_t *parent, size_t parentn, struct u16 *out);

/* doc := apply(op, doc), with JS substring clamping (§3.1). */
void cp_apply_op(struct u16 *doc, const struct cp_op *op);
/* Applies ops from the last to the first (§3.2). */
void cp_apply_ops(struct u16 *doc, const struct cp_op *ops, size_t n);
/* The inverse of ops applied to doc (before): inv, applied with cp_apply_ops
 * to the result, gives doc back. *inv is xmalloc'd (cp_ops_free). */
void cp_invert_ops(const struct u16 *doc, const struct cp_op *ops, size_t n,
                   struct cp_op **inv, size_t *ninv);
/* Patch.simplify (§3.4): *out (xmalloc'd) gets the simplified ops. */
void cp_simplify(const struct u16 *doc, const struct cp_op *ops, size_t n,
                 struct cp_op **out, size_t *nout);
bool cp_ops_equal(const struct cp_op *a, size_t an, const struct cp_op *b, size_t bn);

/* Operations turning a into b (ascending, non-overlapping, in simplest form). */
void cp_diff(const uint16_t *a, size_t an, const uint16_t *b, size_t bn,
             struct cp_op **ops, size_t *nops);
/* Three-way text merge (§5.4 TextTransformer applied to diffs from base):
 * *out := theirs with mine's changes transformed over theirs'. */
void cp_merge_text(const struct u16 *base, const struct u16 *theirs, const struct u16 *mine,
                   struct u16 *out);

/* Local work kept as operations (CHAINPAD.md §5.4), so a rebase moves the
 * user's inserts as wholes instead of re-diffing texts (a re-diff can align an
 * insert that starts like its neighbour one unit off, and a later transform
 * then cuts it: "w1-00\n" before "w0-00\n" became "1-00\nw").
 * cp_ops_copy: *out (xmalloc'd) := a deep copy of ops.
 * cp_transform_ops: Patch.transform with TextTransformer, in place: ops (local,
 *   on document d) become ops valid on apply(d, by); vanished ops are freed.
 * cp_compose: Patch.merge: a on doc, then b on apply(doc, a), as one patch on
 *   doc in simplest form (*out xmalloc'd, cp_ops_free). */
void cp_ops_copy(const struct cp_op *ops, size_t n, struct cp_op **out, size_t *nout);
void cp_transform_ops(struct cp_op *ops, size_t *n, const struct cp_op *by, size_t nby);
void cp_compose(const struct u16 *doc, const struct cp_op *a, size_t na, const struct cp_op *b,
                size_t nb, struct cp_op **out, size_t *nout);

/* True if JSON.parse would accept the text (strict JSON, lone surrogates ok). */
bool cp_json_valid(const uint16_t *p, size_t n);

#endif
