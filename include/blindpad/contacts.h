/* blindpad/contacts.h: contacts ("friends") the way CryptPad's web client
 * keeps them, over an account's drive and its notifications mailbox
 * (blindpad/mailbox.h). Interoperable with src/worker/components/
 * messaging.js and mailbox-handlers.js of CryptPad 2026.2.
 *
 * How CryptPad does it (all letters are sealed mailbox letters, §5.1 of
 * CRYPTO.md, {type, content}; content.user is the sender's user data,
 * Messaging.createData, see bp_mailbox_account_user):
 *   - A asks B: A records friends_pending[B's curvePublic] = {time (ms),
 *     channel: B's notifications channel, curvePublic} in its drive and
 *     sends B {"type":"FRIEND_REQUEST","content":{"user": A's user data with
 *     "channel": a new random 32-hex id}}: that channel is A's proposal for
 *     the pair's chat channel;
 *   - B accepts: friends[A's curvePublic] = A's user data, the chat channel
 *     pinned, and A gets {"type":"ACCEPT_FRIEND_REQUEST","content":{"user":
 *     B's user data with the same "channel"}}; or B declines: A gets
 *     {"type":"DECLINE_FRIEND_REQUEST","content":{"user": ...}};
 *   - A, on the answer, and only while friends_pending[B] exists: deletes it
 *     and, on an accept, sets friends[B] = B's user data and pins the
 *     channel;
 *   - either removes the other: {"type":"UNFRIEND","content":{"curvePublic":
 *     mine, "user": ...}}; both delete friends[other] (and any pending
 *     entry);
 *   - crossed requests (B asks A while A's request to B is pending, or a
 *     friend asks again) are accepted at once. Each side then holds the
 *     channel the other proposed; blindpad makes them converge: an
 *     ACCEPT_FRIEND_REQUEST from a current contact replaces the contact's
 *     channel when its channel sorts first (the web client ignores such an
 *     answer and can be left with two channels).
 * friends.me (the account's own data) is not a contact and is skipped.
 *
 * Only the letter's sealer can be added: a letter whose user data names
 * another curvePublic than the key that sealed it is refused by
 * bp_mailbox_open (BP_ESIG) and never reaches these functions as status 0.
 * The user data stored in friends is a copy of the known members only
 * (channel, displayName, profile, edPublic, curvePublic, notifications,
 * avatar, badge, uid), each a string of bounded length (BP_EPROTO if a
 * required one is missing or malformed): a letter cannot make the drive
 * carry arbitrary data.
 *
 * The pair's chat channel (friends[k].channel) is encrypted and signed with
 * the keys both contacts derive from their curve keys:
 * bp_crypto_curve_derive (blindpad/crypto.h, §5.2).
 *
 * Conventions as blindpad/crypto.h: 0 or a negative bp_err; caller-owned
 * outputs; no global state; blocking calls over the drive's client. */
#ifndef BLINDPAD_CONTACTS_H
#define BLINDPAD_CONTACTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <blindpad/mailbox.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_drive;

#define BP_CONTACTS_REQUEST "FRIEND_REQUEST"
#define BP_CONTACTS_ACCEPT "ACCEPT_FRIEND_REQUEST"
#define BP_CONTACTS_DECLINE "DECLINE_FRIEND_REQUEST"
#define BP_CONTACTS_UNFRIEND "UNFRIEND"
#define BP_CONTACTS_NAME_MAX 1024 /* bytes of a displayName kept from a letter */

/* ---- pure ---- */

/* The copy of a letter's user data that goes into friends (above): a new
 * object, or NULL with *err = BP_EPROTO (why, may be NULL, gets a static
 * reason) or BP_ENOMEM. want_channel: the chat channel must be there. */
json_t *bp_contacts_user_copy(const json_t *user, bool want_channel, int *err, const char **why);

/* ---- over an account's drive (blocking) ---- */

/* The contacts: *friends gets a new object {curvePublic: user data} without
 * "me"; *pending (may be NULL) a new object, the requests sent and not yet
 * answered {curvePublic: {time, channel, curvePublic}}. */
int bp_contacts_list(struct bp_drive *d, json_t **friends, json_t **pending);

/* Asks the owner of address `to` (same server as the drive) to become a
 * contact: records friends_pending, writes the drive, sends the request.
 * BP_EEXIST: already a contact, or a request is pending; BP_EINVAL: it is
 * the account's own address; BP_ECORRUPT: the drive has no curve key. The account's mailbox is made first if it has
 * none (the answer comes there). */
int bp_contacts_request(struct bp_drive *d, const struct bp_mailbox_addr *to);

/* Answers a friend request read from the account's mailbox (m->status 0,
 * type FRIEND_REQUEST; BP_EINVAL otherwise, BP_EPROTO if its user data is
 * malformed): accept adds the sender to friends, pins the chat channel,
 * writes the drive and sends ACCEPT_FRIEND_REQUEST; decline sends
 * DECLINE_FRIEND_REQUEST. Either way the request is then dismissed (added to
 * the mailbox's viewed list, as the web client does). */
int bp_contacts_answer(struct bp_drive *d, const struct bp_mailbox_msg *m, bool accept);

/* Removes a contact (curve_public: its b64 key, as friends is keyed):
 * sends UNFRIEND to its mailbox, deletes friends[curve_public], writes the
 * drive. BP_ENOENT if it is not a contact. If the letter cannot be sent the
 * contact is still removed here and *letter_err (may be NULL) says why. */
int bp_contacts_remove(struct bp_drive *d, const char *curve_public, int *letter_err);

/* What bp_contacts_sync did. */
struct bp_contacts_sync {
    unsigned accepted;   /* our requests accepted: now contacts */
    unsigned declined;   /* our requests declined: pending entry dropped */
    unsigned removed;    /* contacts who removed us */
    unsigned crossed;    /* requests from a pending or current contact, accepted at once */
    unsigned requests;   /* friend requests waiting for an answer (bp_contacts_answer) */
};

/* Applies the answers waiting in the account's mailbox, as the web
 * client's mailbox handlers do when it is online: ACCEPT/DECLINE of our
 * pending requests, UNFRIEND from contacts, crossed requests. Each letter
 * applied is dismissed, and so is an ACCEPT/DECLINE that answers no pending
 * request (stale: it must not be taken later for the answer to a new
 * request); friend requests from strangers and other letters are left for
 * the user. The account's mailbox must exist (BP_ENOENT). out may be NULL.
 * bp_contacts_request runs it first. */
int bp_contacts_sync(struct bp_drive *d, struct bp_contacts_sync *out);

#ifdef __cplusplus
}
#endif

#endif
