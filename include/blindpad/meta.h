/* blindpad/meta.h: a document's or a file's owners and access list
 * (SERVER-API.md §2.2 GET_METADATA, §2.6 SET_METADATA, §1.7 sessions).
 *
 * The server keeps, per channel (32 hex) or blob (48 hex), a metadata
 * object: owners, pending_owners (offered ownership not yet accepted),
 * restricted + allowed (the access list), expire, ... Owners change it with
 * the signed RPC SET_METADATA {channel, command, value}; anyone reads it
 * with GET_METADATA. On a restricted channel, a connection that has not
 * authenticated with an allowed key (any signed RPC authenticates the
 * connection for that key, §1.7) gets a stand-in:
 *   {"restricted":true,"allowed":[...owners, ...allowed],"rejected":true}.
 * bp_meta_get() therefore authenticates first when given a key.
 *
 * Keys are edPublic strings: standard base64 of 32 bytes, 44 characters
 * (what the server calls a "valid key").
 *
 * Ownership: a struct bp_meta is allocated by this module (malloc) and
 * freed with bp_meta_free(); every string in it belongs to it. It holds no
 * secret. Functions return 0 or a negative bp_err. After a BP_ESERVER or
 * BP_EFORBIDDEN from a call taking a client, bp_client_error(cl) has the
 * server's error text (e.g. "INSUFFICIENT_PERMISSIONS", "E_NO_OWNERS",
 * "Error: INVALID_STATE"). No global state. */
#ifndef BLINDPAD_META_H
#define BLINDPAD_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <blindpad/client.h>
#include <blindpad/err.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BP_META_KEY_LEN 44     /* an edPublic in standard base64 */
#define BP_META_MAX_KEYS 4096  /* longest list accepted from the server */
#define BP_META_MAX_JSON (1u << 20)

struct bp_meta {
    char **owners;          /* edPublic keys, in the server's order */
    size_t n_owners;
    char **pending_owners;  /* offered, not accepted yet */
    size_t n_pending;
    char **allowed;         /* the access list (owners are always allowed too) */
    size_t n_allowed;
    bool restricted;        /* only owners and allowed keys may open it */
    bool rejected;          /* the server hid the metadata from this connection
                             * (restricted, not allowed): owners/pending are
                             * empty and allowed = owners + allowed */
    bool empty;             /* the server had no metadata ({}) */
    int64_t expire;         /* absolute ms, 0 = none */
    int64_t created;        /* ms, 0 = unknown */
    char *json;             /* the metadata object as the server sent it */
};

/* Parses a metadata object (JSON text, len bytes). Pure. Members of the
 * wrong type are ignored (as the JS client does), list items that are not
 * strings are skipped. BP_EPROTO (not a JSON object), BP_ETOOBIG (over
 * BP_META_MAX_JSON, or a list over BP_META_MAX_KEYS), BP_ENOMEM. */
int bp_meta_parse(const char *json, size_t len, struct bp_meta **out);
void bp_meta_free(struct bp_meta *m);

/* True if key is in m's owners / pending owners / owners or allowed. */
bool bp_meta_is_owner(const struct bp_meta *m, const char *key);
bool bp_meta_is_pending(const struct bp_meta *m, const char *key);
bool bp_meta_may_open(const struct bp_meta *m, const char *key);

/* True if s is a 44-character standard base64 string that decodes to 32
 * bytes (an edPublic). */
bool bp_meta_key_valid(const char *s);
/* The edPublic (standard base64, 44 chars + NUL) of a 32-byte public key. */
void bp_meta_key_of(const uint8_t pk[32], char out[BP_META_KEY_LEN + 1]);

/* GET_METADATA for channel (32 or 48 lowercase hex). auth may be NULL; when
 * given, a signed COOKIE is sent first so that the connection is
 * authenticated with that key (needed to see a restricted channel's real
 * metadata). When the server has no metadata the channel's existence is
 * checked (IS_NEW_CHANNEL for documents, GET_FILE_SIZE for files):
 * BP_ENOENT if there is nothing, else *out with empty = true.
 * BP_EDELETED: the document was deleted (the server's reason is in
 * bp_client_error). BP_EINVAL (bad channel id), BP_ENET, BP_ETIMEOUT,
 * BP_ESERVER, BP_EPROTO. */
int bp_meta_get(struct bp_client *cl, const struct bp_sign_key *auth, const char *channel,
                struct bp_meta **out);

enum bp_meta_cmd {
    BP_META_ADD_OWNERS = 1,
    BP_META_RM_OWNERS,
    BP_META_RESET_OWNERS,
    BP_META_ADD_PENDING_OWNERS,
    BP_META_RM_PENDING_OWNERS,
    BP_META_ADD_ALLOWED,
    BP_META_RM_ALLOWED,
    BP_META_RESTRICT_ACCESS,
};

/* One change. Key commands use keys/n_keys (each must pass
 * bp_meta_key_valid: the server silently drops other strings);
 * BP_META_RESTRICT_ACCESS uses flag. */
struct bp_meta_change {
    enum bp_meta_cmd cmd;
    const char *const *keys;
    size_t n_keys;
    bool flag;
};

/* The command's wire name ("ADD_OWNERS", ...), NULL for an unknown value. */
const char *bp_meta_cmd_name(enum bp_meta_cmd cmd);

/* The SET_METADATA argument {"channel":..,"command":..,"value":..} as
 * compact JSON (malloc'd, caller frees). Pure. BP_EINVAL: bad channel id,
 * unknown command, an invalid key, or no key. */
int bp_meta_change_json(const char *channel, const struct bp_meta_change *ch, char **out);

/* SET_METADATA signed with key (which the server requires to be an owner;
 * a pending owner may only ADD_OWNERS or RM_PENDING_OWNERS its own key).
 * On success *out (if out is not NULL) is the metadata the server now has.
 * BP_EFORBIDDEN: INSUFFICIENT_PERMISSIONS (key is not an owner) or
 * E_NO_OWNERS (the channel has no owners, or does not exist); BP_EINVAL:
 * the arguments, or the server refused the value ("Error: ..."); else as
 * bp_meta_get. */
int bp_meta_set(struct bp_client *cl, const struct bp_sign_key *key, const char *channel,
                const struct bp_meta_change *ch, struct bp_meta **out);

#ifdef __cplusplus
}
#endif

#endif
