/* block.h: login blocks on disk (SERVER-API.md §4.5, §4.7, §6), in
 * CryptPad's layout under the CryptPad root (the directory the channel store
 * uses for datastore/), so an existing CryptPad data directory keeps working:
 *
 *   block/<k[0:2]>/<k>                  the block: the raw bytes the client
 *                                       uploaded (0x00, 24-byte nonce,
 *                                       secretbox), served as they are
 *   block/<k[0:2]>/<k>.placeholder      why it is gone (plain text, e.g.
 *                                       PASSWORD_CHANGE, ARCHIVE_OWNED); only
 *                                       looked at when the block is missing
 *   block/placeholder.txt               "PLACEHOLDER\n" (the checkup page)
 *   data/archive/block/<k[0:2]>/<k>     the archived block (a later archive
 *                                       of the same key replaces it)
 *
 * k is the "URL-safe" block key: the 44-char base64 ed25519 public key with
 * '/' replaced by '-'. Every function takes that form, checked by
 * block_safe_key() before it becomes a path component.
 *
 * I/O: plain blocking system calls on the caller's thread (blocks are a few
 * hundred bytes). Functions return 0 or a negative bp_err. */
#ifndef BP_BLOCK_H
#define BP_BLOCK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

#define BLOCK_KEY_LEN 44
/* Largest block accepted by WRITE_BLOCK. Real blocks are 150-300 bytes (the
 * reference has no effective limit: its Block.MAX_SIZE = 256 is unused). */
#define BLOCK_MAX_SIZE ((size_t)64 << 10)
/* Largest placeholder reason read back. */
#define BLOCK_PLACEHOLDER_MAX ((size_t)64 << 10)

enum block_file {
    BLOCK_LIVE,         /* block/<xx>/<k> */
    BLOCK_PLACEHOLDER,  /* block/<xx>/<k>.placeholder */
    BLOCK_ARCHIVED,     /* data/archive/block/<xx>/<k> */
};

/* ---- pure ---------------------------------------------------------------- */

/* Converts a block key, standard ('/') or URL-safe ('-') base64, into the
 * URL-safe form: out gets 44 chars + NUL. True only for exactly 44 chars of
 * [A-Za-z0-9+/=-] (the file-name rule; whether it decodes to 32 bytes is the
 * caller's business). */
bool block_safe_key(const char *key, size_t len, char out[BLOCK_KEY_LEN + 1]);
/* The standard-base64 form of a URL-safe key ('-' -> '/'): 44 chars + NUL. */
void block_unsafe_key(const char *safe, char out[BLOCK_KEY_LEN + 1]);
/* out = the path of one of the key's files under root. BP_EBADID if safe is
 * not a URL-safe key, BP_ETOOBIG if it does not fit in cap. */
int block_path(char *out, size_t cap, const char *root, const char *safe, enum block_file which);

/* ---- I/O ----------------------------------------------------------------- */

bool block_exists(const char *root, const char *safe);
/* Writes a block: an existing block is first copied to the archive and the
 * placeholder PASSWORD_CHANGE is written (the reference archives on every
 * overwrite), then the new bytes replace the live file atomically, so a
 * crash leaves either the old or the new block, never none. Synced. */
int block_write(const char *root, const char *safe, const void *data, size_t len);
/* Moves the block to the archive (replacing an older archived copy) and, if
 * reason is not NULL, writes it as the placeholder. BP_ENOENT if there is no
 * block. */
int block_archive(const char *root, const char *safe, const char *reason, size_t reason_len);
/* Moves an archived block back and removes the placeholder. BP_EEXIST if a
 * live block exists, BP_ENOENT if nothing is archived. */
int block_restore(const char *root, const char *safe);
/* Appends the placeholder text to out. BP_ENOENT if there is none. */
int block_read_placeholder(const char *root, const char *safe, struct buf *out);

#endif
