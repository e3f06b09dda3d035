/* blindpad/drive.h: an account's CryptDrive, interoperable with CryptPad's
 * web client (www: src/common/user-object*.js, src/worker/async-store.js).
 *
 * The drive is the account's chainpad-listmap document (the userHash of the
 * login block). Its "drive" member holds:
 *   root:        a folder tree; a folder is an object, a document/file is a
 *                number (its id) under a random key (Hash.createChannelId);
 *   filesData:   { "<id>": {href, roHref, title, atime, ctime, channel,
 *                owners, fileType, ...} } (hrefs relative: "/code/#/2/...");
 *   trash:       { "<key>": [ {element: <id or folder>, path: ["root",...]} ] };
 *   sharedFolders: {} (not read here).
 * bp_drive_open creates the members that are missing (as the web client's
 * fixFiles does on first load).
 *
 * Pins (SERVER-API §2.3): the account pins the drive channel and the channel
 * of every filesData entry (including those in the trash, as the web client
 * does until the trash is emptied). bp_drive_sync_pins computes
 * base64(SHA-512(JSON.stringify(sorted unique channels))) and, when the
 * server's GET_HASH differs, sends RESET with that list (untagged).
 *
 * Ownership: a bp_drive is freed with bp_drive_free (closes its connection,
 * wipes the copied secret key). JSON outputs (json_t **) are new references
 * the caller json_decref's. No global state; blocking calls.
 *
 * Errors: BP_EINVAL, BP_ENOENT (no such path or item), BP_ECORRUPT (the
 * document is not a drive), BP_ENET/BP_ETIMEOUT/BP_ESERVER (errmsg or
 * bp_drive_error() has the server's text), BP_ENOMEM. */
#ifndef BLINDPAD_DRIVE_H
#define BLINDPAD_DRIVE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct bp_drive;
struct bp_client; /* blindpad/client.h */

/* Opens the drive at user_hash ("/2/drive/edit/..." or a v1 hash) on server
 * (origin), with the account's key pair (ed_pk 32 bytes, ed_sk 64 bytes,
 * copied into sodium_malloc'd memory) for the pin RPCs. */
int bp_drive_open(const char *server, const char *user_hash, const unsigned char ed_pk[32],
                  const unsigned char ed_sk[64], unsigned timeout_ms, struct bp_drive **out,
                  char *errmsg, size_t errmsg_len);
void bp_drive_free(struct bp_drive *d);
const char *bp_drive_error(const struct bp_drive *d);
/* The drive channel (32 hex). */
const char *bp_drive_channel(const struct bp_drive *d);
/* The whole listmap object (borrowed; the account's keys are in it, as in
 * the web client's proxy). A caller may change it and then write it with
 * bp_drive_save; other members than "drive" are the caller's business (the
 * mailbox module keeps "mailboxes" there, as the web client does). */
json_t *bp_drive_doc(struct bp_drive *d);
/* Writes bp_drive_doc() as a change of the drive document. */
int bp_drive_save(struct bp_drive *d);
/* The drive's connection (borrowed; for other channels and anonymous RPCs). */
struct bp_client *bp_drive_client(struct bp_drive *d);
/* PINs one more channel (32 or 48 hex) and syncs the pin list (the channel
 * must be one bp_drive_channels lists, or the sync unpins it again). */
int bp_drive_pin(struct bp_drive *d, const char *chan);

/* Lists a folder: path "" or "/" is root, "A/B" a sub-folder (folder keys).
 * *out: array of {"name","kind":"folder"|"pad"|"file","title","type",
 * "href","roHref","channel","id","atime","ctime"} (folder: name and kind),
 * folders first. With trash: the trash's entries instead (path ignored). */
int bp_drive_list(struct bp_drive *d, const char *path, bool trash, json_t **out);

/* Adds a document or file: link is a full URL or a relative href; title may
 * be NULL (then "" ). The entry goes to root (as the web client's addPad),
 * is written to the drive, the channel is PINned and the pin list synced.
 * An entry with the same channel is not added twice (0 returned). */
int bp_drive_add(struct bp_drive *d, const char *link, const char *title, const char *owner);

/* Removes an item named by what (a title, a root key, a "Folder/title"
 * path, a link, or a channel id). to_trash: moved to the trash as the web
 * client does (still pinned); else removed from the drive (filesData too)
 * and UNPINned. channel_out (>= 49 bytes, may be NULL) gets its channel.
 * BP_ENOENT if nothing matches, BP_EINVAL if several do. */
int bp_drive_remove(struct bp_drive *d, const char *what, bool to_trash, char *channel_out,
                    size_t channel_cap);

/* The pinned set the drive implies (sorted, unique channel ids): the drive,
 * filesData, the profile and its avatar, the todo, the contacts' channels,
 * the mailboxes and the calendars (async-store.js getUserChannelList). */
int bp_drive_channels(struct bp_drive *d, json_t **out);
/* The hash of that set, as GET_HASH gives it (89 bytes with the NUL). */
int bp_drive_pin_hash(struct bp_drive *d, char out[96]);
/* GET_HASH; RESET when it differs. *reset (may be NULL): 1 if sent. */
int bp_drive_sync_pins(struct bp_drive *d, int *reset);
/* A signed RPC with the account key (REMOVE_OWNED_CHANNEL, GET_TOTAL_SIZE...).
 * *reply (malloc'd, may be NULL to ignore) gets the values array. */
int bp_drive_rpc(struct bp_drive *d, const char *cmd, const char *arg_json, char **reply);

/* Changes an account's password as the web client does (cryptpad-common.js
 * changeUserPassword): logs in with old_pw; checks that no block exists for
 * new_pw (BP_EEXIST); copies the drive to a new drive owned by the account;
 * writes the new login block with the registrationProof of the old block key;
 * PINs the new drive and UNPINs the old; removes the old block with reason
 * PASSWORD_CHANGE (a login with old_pw then gives BP_EDELETED,
 * "PASSWORD_CHANGE"); deletes the old drive (REMOVE_OWNED_CHANNEL, best
 * effort). new_user_hash (may be NULL) gets the new drive hash (a secret).
 * Legacy accounts (no block): BP_EINVAL. loginSalt "" (as account.h). */
int bp_drive_change_password(const char *server, const char *username, const char *old_pw,
                             const char *new_pw, unsigned timeout_ms, char *new_user_hash,
                             size_t hash_cap, char *errmsg, size_t errmsg_len);

#ifdef __cplusplus
}
#endif

#endif
