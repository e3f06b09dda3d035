/* blindpad/chainpad.h: the ChainPad document engine (CryptPad's realtime
 * document layer; spec: CHAINPAD.md). Pure and transport-free: the caller
 * decrypts the channel's messages and feeds the plaintext strings here, in
 * history order, then live ones; the engine keeps the authoritative content
 * (the head of the winning chain, CHAINPAD.md §4) and makes the messages to
 * send for local changes (§5).
 *
 * Strings: documents are JavaScript strings (UTF-16 code units); at this API
 * they are UTF-8. A document holding a lone surrogate (JS allows it; ChainPad
 * patches may split a pair) comes out as WTF-8 (the 3-byte encoding of the
 * surrogate) and is accepted back in that form. Messages are UTF-8 (what
 * chainpad-crypto decrypts to).
 *
 * Ownership: a bp_chainpad is created by bp_chainpad_new and freed by
 * bp_chainpad_free. Functions that return text (char **out) hand over a
 * malloc'd, NUL-terminated string the caller frees with free(). Hashes are
 * written as 64 lowercase hex characters plus a NUL into char[65] buffers.
 * An engine is not thread-safe; there is no global state.
 *
 * Errors: functions return 0 (or a status >= 0) or a negative bp_err:
 * BP_ENOMEM, BP_EINVAL (bad argument, text not UTF-8, content not JSON in a
 * JSON engine), BP_ETOOBIG (message or content over the limits below),
 * BP_EAGAIN (a message is already in flight: wait for its ACK), BP_ENOENT
 * (no such message). Internal work buffers abort on OOM (common/xmalloc.h). */
#ifndef BLINDPAD_CHAINPAD_H
#define BLINDPAD_CHAINPAD_H

#include <jansson.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Engine flags. */
#define BP_CHAINPAD_TEXT 0u
/* Content validation = JSON.parse succeeds (every CryptPad app, §6.1/§6.4). */
#define BP_CHAINPAD_JSON 1u
/* chainpad-listmap documents (drive, shared folders, teams, ...): the engine
 * starts with the "{}" initial-state message (§2.6, §5.1); implies JSON. */
#define BP_CHAINPAD_LISTMAP 2u

/* Limits (a message or document over them is refused with BP_ETOOBIG). */
#define BP_CHAINPAD_MAX_MESSAGE (64u * 1024 * 1024)
#define BP_CHAINPAD_CHECKPOINT_INTERVAL 50

/* What the engine did with a received message (the "status" of the vectors). */
enum bp_chainpad_status {
    BP_CHAINPAD_CHAIN = 0,      /* on the winning chain */
    BP_CHAINPAD_FORK = 1,       /* stored and connected, not on the winning chain */
    BP_CHAINPAD_ORPHAN = 2,     /* stored, its parent is unknown */
    BP_CHAINPAD_REJECTED = 3,   /* invalid (content hash, simplest form, JSON checkpoint): dropped */
    BP_CHAINPAD_PRUNED = 4,     /* was applied, then forgotten behind a checkpoint */
    BP_CHAINPAD_DUPLICATE = 5,  /* already known */
    BP_CHAINPAD_UNPARSABLE = 6, /* not a ChainPad message */
};

/* Returns a static name ("chain", "fork", ...) as used by the vectors. */
const char *bp_chainpad_status_name(int status);

typedef struct bp_chainpad bp_chainpad;

/* Creates an empty engine (root message only; with BP_CHAINPAD_LISTMAP also
 * the "{}" initial-state message). */
int bp_chainpad_new(bp_chainpad **out, unsigned flags);
void bp_chainpad_free(bp_chainpad *cp);

/* ---- reading ---------------------------------------------------------- */

/* Feeds one decrypted message (§4.2). Returns its status (>= 0) or a
 * negative bp_err (BP_ETOOBIG: over BP_CHAINPAD_MAX_MESSAGE). A bad message
 * never changes the document. */
int bp_chainpad_receive(bp_chainpad *cp, const char *msg, size_t len);

/* The authoritative content (content at the head), malloc'd UTF-8. */
int bp_chainpad_content(const bp_chainpad *cp, char **out, size_t *outlen);
/* H(content) (§2.4). */
void bp_chainpad_content_hash(const bp_chainpad *cp, char out[65]);
/* The hash of the head message (the last accepted message, "best"). */
void bp_chainpad_head(const bp_chainpad *cp, char out[65]);
/* The head's depth from the engine's root (root = 0). */
unsigned long long bp_chainpad_depth(const bp_chainpad *cp);
/* The winning chain from the engine's root to the head: *out is a malloc'd
 * array of *count entries of 65 bytes (hex + NUL). */
int bp_chainpad_chain(const bp_chainpad *cp, char **out, size_t *count);
/* The current status of a message by hash (chain, fork, orphan, pruned), or
 * BP_ENOENT if the engine does not hold it. */
int bp_chainpad_status_of(const bp_chainpad *cp, const char *hash_hex);

/* The hash of a message as ChainPad computes it (hash of its canonical
 * re-serialization, §2.5). Returns 0 or BP_EPROTO (not a message). */
int bp_chainpad_message_hash(const char *msg, size_t len, char out[65]);
/* H(s) for UTF-8 (or WTF-8) text s. Returns 0 or BP_EINVAL. */
int bp_chainpad_hash(const char *s, size_t len, char out[65]);
/* The "cp|<id>|" id of a checkpoint message (§7.2): standard base64 (with
 * padding, 12 characters + NUL) of the first 8 bytes of SHA-512(msg). */
void bp_chainpad_checkpoint_id(const char *msg, size_t len, char out[13]);

/* ---- writing -------------------------------------------------------------
 *
 * The engine keeps the user's desired content next to the authoritative one.
 * set_content replaces it; make_message returns what to send now (a patch on
 * the head in simplest form, or the checkpoint that is due, §5.5, or for a
 * new listmap document its "{}" initial message); after the server's ACK call
 * bp_chainpad_ack (the message is then applied like a received one), after an
 * error answer bp_chainpad_nack (nothing is applied; the work stays and is
 * re-sent by the next make_message). When other messages win (§4.3) the
 * local work is rebased onto them (§5.4): user content = their change + my
 * remaining change, so the next make_message sends the rebased patch. */

/* Sets the desired content (UTF-8). BP_EINVAL: not UTF-8/WTF-8, or (JSON
 * engine) not valid JSON. */
int bp_chainpad_set_content(bp_chainpad *cp, const char *text, size_t len);
/* The desired content (authoritative content + unsent local work). */
int bp_chainpad_user_content(const bp_chainpad *cp, char **out, size_t *outlen);
/* *msg gets the message to send (malloc'd UTF-8) or NULL when there is
 * nothing to send; *is_checkpoint (may be NULL) says whether to add the
 * "cp|" prefix. BP_EAGAIN while a message is in flight. */
int bp_chainpad_make_message(bp_chainpad *cp, char **msg, size_t *len, int *is_checkpoint);
/* The message in flight was stored by the server: apply it. Returns its
 * status (chain, or fork when another message won; the work is then rebased)
 * or BP_ENOENT if nothing is in flight. */
int bp_chainpad_ack(bp_chainpad *cp);
/* The message in flight was refused: forget it (the work is kept). */
void bp_chainpad_nack(bp_chainpad *cp);

/* ---- JSON documents (§6) ---------------------------------------------- */

/* Parses the authoritative content into *out (new reference, json_decref).
 * BP_EINVAL if it is not JSON (or holds a lone surrogate jansson refuses). */
int bp_chainpad_get_json(const bp_chainpad *cp, json_t **out);
/* Sets the desired content to sortify(value) (§6.2). */
int bp_chainpad_set_json(bp_chainpad *cp, const json_t *value);

#ifdef __cplusplus
}
#endif

#endif
