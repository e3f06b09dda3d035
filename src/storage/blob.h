/* blob.h: the on-disk side of encrypted uploads (SERVER-API.md §4.4, §4.7),
 * in CryptPad's layout under the CryptPad root (the same root the channel
 * store uses for datastore/), so an existing CryptPad data directory works:
 *
 *   blob/<id[0:2]>/<id>                    the encrypted file (opaque bytes)
 *   blob/<id[0:2]>/<id>.metadata.ndjson    {"owners":[...]} then [CMD,value,ms] lines
 *   blob/<id[0:2]>/<id>.activity           last GET/HEAD, decimal ms
 *   blob/<id[0:2]>/<id>.placeholder        the deletion reason (plain text)
 *   blob/placeholder.txt                   "PLACEHOLDER\n" (the checkup page fetches it)
 *   blobstage/<sk[0:2]>/<sk>               the one upload in progress for the key
 *   blobstage/<sk[0:2]>/<sk>.cookie        the current /upload-blob cookie, 32 hex chars
 *   data/archive/blob/<id[0:2]>/<id>[.metadata.ndjson|.activity]   archived blobs
 *
 * id: a blob id, 48 lowercase hex chars. sk: a "safe key", the 44-char
 * base64 edPublic with '/' replaced by '-'. Both are checked here before they
 * become path components.
 *
 * The first group of functions is pure (ids and paths); the second does the
 * I/O, with plain blocking system calls on the
 * caller's thread (small files; blob bodies are appended in <= 500 kB pieces
 * and read by net.c's file streaming, never whole). Functions return 0 or a
 * negative bp_err. */
#ifndef BP_BLOB_H
#define BP_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define BLOB_ID_LEN 48
#define BLOB_SAFE_KEY_LEN 44
#define BLOB_COOKIE_LEN 32                 /* 16 random bytes in hex */
#define BLOB_COOKIE_TTL_MS (5 * 60 * 1000) /* a cookie file older than this is refused */
#define BLOB_META_MAX ((size_t)1 << 20)    /* largest blob metadata log read */
#define BLOB_PLACEHOLDER_MAX 4096          /* longest placeholder reason read back */
#define BLOB_ACTIVITY_MIN_MS 60000         /* an activity file younger than this is not rewritten */

/* ---- pure ---------------------------------------------------------------- */

enum blob_file {
    BLOB_DATA,        /* <id> */
    BLOB_META,        /* <id>.metadata.ndjson */
    BLOB_ACTIVITY,    /* <id>.activity */
    BLOB_PLACEHOLDER, /* <id>.placeholder */
};

/* True for a 48-char lowercase hex blob id. */
bool blob_id_valid(const char *id, size_t len);
/* True for a 44-char safe key ([A-Za-z0-9+=-], no '/'). */
bool blob_safe_key_valid(const char *sk, size_t len);
/* out = key with '/' -> '-'. key must be 44 chars of standard base64;
 * BP_EBADID otherwise. */
int blob_safe_key(const char *key, size_t len, char out[BLOB_SAFE_KEY_LEN + 1]);

/* "<root>/blob/<id[0:2]>/<id><suffix of f>". BP_EBADID for a bad id,
 * BP_ETOOBIG if it does not fit. */
int blob_path(char *out, size_t cap, const char *root, const char *id, enum blob_file f);
/* The same under "<root>/data/archive/blob/" (BLOB_PLACEHOLDER is never archived). */
int blob_archive_path(char *out, size_t cap, const char *root, const char *id, enum blob_file f);
/* "<root>/blobstage/<sk[0:2]>/<sk>" or, with cookie, the ".cookie" next to it. */
int blob_stage_path(char *out, size_t cap, const char *root, const char *sk, bool cookie);

/* ---- I/O (root is the CryptPad root) -------------------------------------- */

/* Creates blob/, blobstage/, data/archive/blob/ and writes blob/placeholder.txt. */
int blob_init(const char *root);

/* Size of a live blob. BP_ENOENT if missing; if a placeholder exists then
 * BP_EDELETED and its text is appended to reason (which may be NULL). */
int blob_size(const char *root, const char *id, uint64_t *size, struct buf *reason);
bool blob_exists(const char *root, const char *id);

/* Reads the blob's metadata log (appended to out). BP_ENOENT if none. */
int blob_meta_read(const char *root, const char *id, struct buf *out);
/* Appends one line to the metadata log (a '\n' is added if line lacks one). */
int blob_meta_append(const char *root, const char *id, const char *line, size_t len, bool sync);
/* Writes the activity file: now_ms as decimal text, unless it was written
 * less than BLOB_ACTIVITY_MIN_MS before now_ms (its mtime). Only if the blob
 * exists (BP_ENOENT otherwise: a deleted blob must not get a lone activity file). */
int blob_activity_touch(const char *root, const char *id, long long now_ms);

/* Staging. The stage file's size (BP_ENOENT if there is no upload staged). */
int blob_stage_size(const char *root, const char *sk, uint64_t *size);
/* Appends bytes to the stage (creating it). A failed write leaves the old size. */
int blob_stage_append(const char *root, const char *sk, const void *data, size_t len, bool sync);
/* Deletes the stage file; BP_ENOENT if there was none. The cookie stays. */
int blob_stage_cancel(const char *root, const char *sk);
/* Moves the stage to blob/<id> without ever replacing a live blob.
 * owner (a 44-char edPublic) or NULL: when given, blob/<id>.metadata.ndjson
 * is first replaced by {"owners":[owner]} (and removed again if the move
 * fails). BP_EEXIST if the blob exists, BP_ENOENT if nothing is staged.
 * Deletes the upload cookie on success. */
int blob_commit(const char *root, const char *sk, const char *id, const char *owner, bool sync);

/* Abandoned uploads. A stage nobody completes or cancels would otherwise stay
 * for ever (the reference never removes one), so the server sweeps them:
 * blob_stage_stale() walks blobstage/ without writing anything (any thread)
 * and appends to out the name of every stage or cookie file last modified
 * before before_ms ("<sk>\n" or "<sk>.cookie\n"), at most max of them; *more
 * is set when it stopped at max. blob_stage_sweep() then removes one such
 * file (name[0..len), as listed) if it is still older than before_ms:
 * returns 1 if it did, 0 if the file is gone or newer, or a negative bp_err
 * (BP_EBADID for a name that is neither). Call it on the loop thread, where
 * every stage write happens: a chunk appended since the walk made the stage
 * new again, and it stays. */
int blob_stage_stale(const char *root, long long before_ms, size_t max, struct buf *out, bool *more);
int blob_stage_sweep(const char *root, const char *name, size_t len, long long before_ms);
/* Writes a fresh random cookie for sk (blobstage/../<sk>.cookie) into out. */
int blob_cookie_new(const char *root, const char *sk, char out[BLOB_COOKIE_LEN + 1]);
/* 0 if cookie[0..len) equals the stored cookie (constant time) and the file
 * is younger than BLOB_COOKIE_TTL_MS at now_ms; BP_EFORBIDDEN otherwise
 * (including no cookie file). */
int blob_cookie_check(const char *root, const char *sk, const char *cookie, size_t len, long long now_ms);

/* Moves blob, metadata log and activity file to the archive (replacing an
 * earlier archive of the same id) and, if reason is non-empty, writes the
 * placeholder. BP_ENOENT if there is no live blob. */
int blob_archive(const char *root, const char *id, const char *reason);
/* Moves an archived blob (and its metadata and activity) back and removes
 * the placeholder. BP_EEXIST if a live blob exists, BP_ENOENT if none is archived. */
int blob_restore(const char *root, const char *id);

#endif
