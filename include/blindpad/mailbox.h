/* blindpad/mailbox.h: CryptPad's mailboxes ("sealed secret letters",
 * CRYPTO.md §5.1; SERVER-API.md §2.9): sending a message to a user, reading
 * and dismissing the messages of one's own notifications mailbox, and a
 * shareable contact address. Interoperable with CryptPad's web client
 * (src/worker/modules/mailbox.js, components/mailbox-handlers.js).
 *
 * How CryptPad does it:
 *   - every account has a notifications mailbox: a random 32-hex channel,
 *     owned by the account's edPublic and pinned, named in the drive at
 *     mailboxes.notifications = {channel, lastKnownHash, viewed: [hashes]};
 *   - a user is reachable with their "user data" (Messaging.createData:
 *     {displayName, profile, edPublic, curvePublic, notifications, ...}):
 *     the mailbox channel plus the curve public key;
 *   - a message is JSON.stringify({type, content}) (content.user = the
 *     sender's user data), sealed with the sender's curve key pair for the
 *     recipient's curvePublic (bp_crypto_mailbox_encrypt), and written with
 *     the anonymous RPC WRITE_PRIVATE_MESSAGE [channel, ciphertext]: the
 *     server stores it without the sender's netflux id;
 *   - the owner reads the channel's history (the bare ciphertexts; a
 *     message's id is the first 64 characters of its ciphertext); it
 *     "dismisses" messages by moving mailboxes.notifications.lastKnownHash
 *     forward (or adding the hash to viewed); nothing is deleted on the
 *     server by the web client.
 *
 * What a letter proves (§5.1): the inner box is made with the sender's curve
 * secret key for the recipient's key, so the recipient learns which curve
 * key sealed it (author) and that nobody changed it; the server and other
 * users cannot read or forge it. The display name inside is only claimed by
 * that key. The proof is not transferable (the recipient could forge a letter
 * "from" anyone to itself), and messages are not signed (CryptPad sends them
 * unsigned). As mailbox-handlers.js does, a letter whose content names a
 * curvePublic (content.user.curvePublic or content.curvePublic) other than
 * the key that sealed it is refused (BP_ESIG), unless we sealed it ourselves.
 *
 * The contact address (blindpad's format; CryptPad has no pasteable one,
 * its equivalent is the user data inside a friend request or a profile):
 *     <origin>/#/mailbox/<channel 32 hex>/<curvePublic, url-safe base64>
 * e.g. http://127.0.0.1:3000/#/mailbox/0123…cdef/9Uad2zFq…-WDk
 * bp_mailbox_addr_parse also takes a JSON object with CryptPad's field names
 * {"notifications": channel, "curvePublic": b64, ...} (a friend's entry in
 * the drive's friends, or the user data of a friend request; origin "").
 *
 * Message type: blindpad sends {"type":"BLINDPAD_MESSAGE","content":{"text",
 * "user"}}. The web client has no handler for it: its worker keeps it and
 * its notification menu shows it as "BLINDPAD_MESSAGE - {json of content}"
 * (hyperscript text, no HTML), with the sender's avatar when user.profile is
 * set, dismissible like any notification. Any other type is read and opened
 * too (FRIEND_REQUEST, SHARE_PAD, ...): bp_mailbox_msg has the JSON.
 *
 * Conventions as blindpad/crypto.h: 0 or a negative bp_err; caller-owned
 * outputs; no global state; blocking calls over a struct bp_client. */
#ifndef BLINDPAD_MAILBOX_H
#define BLINDPAD_MAILBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_client;
struct bp_drive;

#define BP_MAILBOX_TYPE_TEXT "BLINDPAD_MESSAGE"
#define BP_MAILBOX_MAX_TEXT (256u << 10)    /* bytes of text bp_mailbox_make_text accepts */
#define BP_MAILBOX_MAX_MSG (4u << 20)       /* longest ciphertext opened (longer: BP_ETOOBIG) */
#define BP_MAILBOX_ADDR_MAX 700             /* an address fits (with its NUL) */

struct bp_mailbox_addr {
    char origin[512];                 /* "http://host:port", or "" (not named) */
    char channel[33];                 /* 32 lower-case hex */
    unsigned char curve_public[32];
};

/* Parses an address (above). why (may be NULL) gets a static reason on
 * BP_EINVAL. Pure. */
int bp_mailbox_addr_parse(const char *s, struct bp_mailbox_addr *out, const char **why);
/* Writes an address; origin must be non-empty. See crypto.h for (out, cap,
 * out_len); BP_MAILBOX_ADDR_MAX always suffices. */
int bp_mailbox_addr_format(const struct bp_mailbox_addr *a, char *out, size_t cap, size_t *out_len);

/* ---- letters (pure) ---- */

/* The plaintext JSON.stringify({type, content}) of a text message:
 * {"type":"BLINDPAD_MESSAGE","content":{"text":text,"user":user}} (user may
 * be NULL: no "user"). text: UTF-8, at most BP_MAILBOX_MAX_TEXT bytes
 * (BP_ETOOBIG), NUL bytes refused (BP_EINVAL). *out is malloc'd (free it). */
int bp_mailbox_make_text(const char *text, size_t n, const json_t *user, char **out, size_t *out_len);

/* Seals plain (any bytes, normally the JSON above) from my key pair to
 * their_public: bp_crypto_mailbox_encrypt without signature. *out malloc'd,
 * NUL-terminated. */
int bp_mailbox_seal(const unsigned char my_sk[32], const unsigned char their_public[32], const char *plain,
                    size_t n, char **out, size_t *out_len);

/* One message of a mailbox, opened. status says what happened:
 *   0            opened; author sealed it; json is the {type, content} object;
 *   BP_EDECRYPT  not sealed for this key, or changed after sealing (tampered);
 *   BP_EPROTO    not a letter at all (bad base64, too short), or its
 *                plaintext is not a JSON object with a string "type";
 *   BP_ESIG      opened, but content names another curvePublic than the
 *                key that sealed it (a forged sender): author and json are set;
 *   BP_ETOOBIG   longer than BP_MAILBOX_MAX_MSG (not opened). */
struct bp_mailbox_msg {
    char hash[65];            /* the first 64 characters of the ciphertext (its id) */
    int64_t time;             /* server time in ms, 0 if unknown */
    int status;
    bool dismissed;           /* at or before lastKnownHash, or in viewed (account reads) */
    char author[48];          /* b64 curvePublic of the sealer ("" if not opened) */
    char type[64];            /* the message's type ("" if not opened) */
    const char *text;         /* content.text (BLINDPAD_MESSAGE), borrowed from json, or NULL */
    const char *display_name; /* content.user.displayName (claimed), or NULL */
    json_t *json;             /* {type, content} (owned by the struct), or NULL */
};

/* Opens ciphertext ct[0..n) with my curve secret key. Returns 0 when the
 * message was examined (the outcome is out->status) or BP_ENOMEM/BP_EINVAL.
 * Free out with bp_mailbox_msg_clear. Pure. */
int bp_mailbox_open(const unsigned char my_sk[32], const char *ct, size_t n, int64_t time,
                    struct bp_mailbox_msg *out);
void bp_mailbox_msg_clear(struct bp_mailbox_msg *m);

/* ---- network (blocking, over a connected client) ---- */

/* Writes a sealed message to a mailbox channel (anonymous
 * WRITE_PRIVATE_MESSAGE). hash_out (may be NULL) gets its id. */
int bp_mailbox_send(struct bp_client *cl, const char *channel, const char *ciphertext, char hash_out[65]);

/* Called per message, oldest first; m is borrowed (valid during the call).
 * Return nonzero to stop (the read then returns BP_ECANCELED). */
typedef int (*bp_mailbox_cb)(const struct bp_mailbox_msg *m, void *ud);

/* Reads every stored message of channel and opens it with my_sk (JOIN,
 * GET_HISTORY, LEAVE). owner_ed_public (b64, may be NULL): when the channel
 * does not exist yet it is created owned by that key, as the web client's
 * mailbox does. */
int bp_mailbox_read(struct bp_client *cl, const char *channel, const unsigned char my_sk[32],
                    const char *owner_ed_public, bp_mailbox_cb cb, void *ud);

/* ---- the account's notifications mailbox (over its drive) ---- */

/* The account's curve key pair (the drive's curvePrivate/curvePublic);
 * BP_ECORRUPT if missing or not a pair. Wipe curve_sk after use. */
int bp_mailbox_account_keys(struct bp_drive *d, unsigned char curve_sk[32], unsigned char curve_pk[32]);

/* The notifications mailbox's channel. When the drive has none, does what
 * the web client's initializeMailboxes does: a random channel, created owned
 * by the account (edPublic), mailboxes.notifications = {channel,
 * lastKnownHash: "", viewed: []} written to the drive, the channel PINned.
 * created (may be NULL) tells whether it was made now. */
int bp_mailbox_account_init(struct bp_drive *d, char channel[33], bool *created);

/* The account's user data as Messaging.createData(proxy, false) makes it:
 * {displayName, profile, edPublic, curvePublic, notifications, avatar,
 * badge, uid}, absent members left out. *out: a new reference. */
int bp_mailbox_account_user(struct bp_drive *d, json_t **out);

/* The account's contact address at origin (calls bp_mailbox_account_init). */
int bp_mailbox_account_address(struct bp_drive *d, const char *origin, char *out, size_t cap,
                               size_t *out_len);

/* Reads the account's mailbox (it must exist: BP_ENOENT otherwise; call
 * bp_mailbox_account_init first). all: also the dismissed messages (with
 * m->dismissed set); otherwise only the ones the web client would show. */
int bp_mailbox_account_read(struct bp_drive *d, bool all, bp_mailbox_cb cb, void *ud);

/* Dismisses every message up to and including upto_hash, as the web
 * client's dismiss does (lastKnownHash = upto_hash, those hashes leave
 * viewed), and writes the drive. BP_ENOENT if upto_hash is not in the
 * mailbox. trim: then also deletes them from the server with TRIM_HISTORY
 * (the account owns the mailbox): every message before upto_hash is removed;
 * upto_hash itself stays, because it is the lastKnownHash the web client
 * resumes from. *trim_err (may be NULL) gets 0 or why the trim failed (the
 * dismissal still happened); bp_drive_error() has the server's text. */
int bp_mailbox_account_dismiss(struct bp_drive *d, const char *upto_hash, bool trim, int *trim_err);

/* Dismisses one message: its hash (64 characters, BP_EINVAL otherwise)
 * joins mailboxes.notifications.viewed unless already there, as the web
 * client does for a message that is not the oldest, and the drive is
 * written. BP_ENOENT if the account has no mailbox. */
int bp_mailbox_account_dismiss_one(struct bp_drive *d, const char *hash);

#ifdef __cplusplus
}
#endif

#endif
