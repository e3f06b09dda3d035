/* msg.h: facts about one channel message, as the history keeper sees them
 * (NETFLUX.md §3.9, §4.1). Pure functions: no I/O, no allocation.
 *
 * A message's "hash" is not a hash: it is the first 64 characters of its
 * content string (JavaScript slice(0,64), i.e. UTF-16 code units), including
 * any "cp|id|" prefix. A checkpoint is content matching ^cp\|(([A-Za-z0-9+/=]+)\|)? */
#ifndef BP_MSG_H
#define BP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_HASH_CHARS 64
#define MSG_CP_ID_MAX 64 /* longer checkpoint ids are kept truncated for dedup */

/* Returns the number of bytes of content[0..len) that make up its hash:
 * the bytes of the first 64 UTF-16 code units (for ASCII, min(len, 64)). A
 * surrogate pair that would be split at the 64th unit is left out. */
size_t msg_hash_len(const char *content, size_t len);

/* Checkpoint prefix. Returns true if content starts with "cp|". *prefix_len
 * gets the length of the whole prefix to strip before checking a signature
 * ("cp|" or "cp|<id>|"), and id/id_len the id (id_len 0 when absent). */
bool msg_checkpoint(const char *content, size_t len, size_t *prefix_len, const char **id,
                    size_t *id_len);

/* Decodes standard base64 of exactly 32 bytes (a validateKey or an ed25519
 * public key). Padding may be absent. Returns 0 or BP_EINVAL. */
int msg_key32(const char *b64, size_t len, uint8_t out[32]);

/* Checks a message for a channel with a validateKey: content (after an
 * optional checkpoint prefix) must be base64 of signature(64) || payload, an
 * ed25519 attached signature valid under key. Returns 0 or BP_ESIG. */
int msg_verify(const uint8_t key[32], const char *content, size_t len);

/* Decodes base64 (standard alphabet, padding optional) into out (capacity
 * cap). Returns 0 and sets *out_len, or BP_EINVAL / BP_ETOOBIG. */
int msg_b64decode(const char *b64, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
