/* auth.h: accounts' login blocks and the signed HTTP commands (SERVER-API.md
 * §3.4, §3.7, §4.5, §4.10, §6): GET /block/..., POST /api/auth (challenge and
 * response; WRITE_BLOCK, REMOVE_BLOCK, UPLOAD_COOKIE, MFA_CHECK, TOTP_*).
 * Files: block/<k[0:2]>/<k> (storage/block.h), data/challenges, data/mfa,
 * data/sessions, data/users, data/invitations, under the data root. */
#ifndef BP_AUTH_H
#define BP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "server/net.h"

struct server;

/* A challenge whose answer has not come after this long is refused and
 * deleted (Q12; the reference keeps them for ever). */
#define AUTH_CHALLENGE_TTL_MS (10LL * 60 * 1000)
/* Largest /api/auth body (Express.json's default limit, 100 kB). */
#define AUTH_BODY_MAX ((size_t)100 << 10)

int auth_init(struct server *srv);
void auth_free(struct server *srv);
/* Periodic cleanup (expired challenges and sessions); called by housekeeping. */
void auth_tick(struct server *srv);
/* HTTP: /block/... and /api/auth[/]. Returns true if handled (resp filled).
 * The router has already added the security headers. */
bool auth_http(struct server *srv, const struct http_req *req, struct http_resp *resp);
/* Archives a login block (admin ARCHIVE_BLOCK) / restores it. The key may be
 * in standard or URL-safe base64. reason may be NULL (no placeholder).
 * BP_ENOENT if there is nothing to move, BP_EEXIST (restore) if a live block
 * exists, BP_EBADID for a malformed key. */
int auth_block_archive(struct server *srv, const char *block_key, const char *reason);
int auth_block_restore(struct server *srv, const char *block_key);
/* Admin DISABLE_MFA (MFA.revoke): deletes the block's two-factor settings
 * (data/mfa/<xx>/<k>.json), then every session of the block. The key may be
 * in either form. BP_ENOENT if the block has no MFA file (nothing else is
 * done then), BP_EBADID for a malformed key, another bp_err if the file could
 * not be deleted. Session files that cannot be deleted are only logged. */
int auth_mfa_revoke(struct server *srv, const char *block_key);
/* Account archival (admin ARCHIVE_ACCOUNT / RESTORE_ACCOUNT): moves the MFA
 * file to data/archive/mfa/<xx>/<k>.json (replacing an older archived copy)
 * and deletes the block's sessions / moves it back. BP_ENOENT if there is
 * nothing to move, BP_EEXIST (restore) if a live MFA file exists. */
int auth_mfa_archive(struct server *srv, const char *block_key);
int auth_mfa_restore(struct server *srv, const char *block_key);

/* ---- exposed for the unit tests (pure unless said otherwise) ------------- */

/* The text a client signs at stage 2 (§3.7 C-implementation note): the raw
 * stage-1 body without its final '}' (trailing JSON whitespace ignored), then
 * ,"txid":"<txid>","date":"<date>"}. out is appended to. BP_EPROTO if body
 * does not end with '}'. */
int auth_challenge_text(const char *body, size_t len, const char *txid, const char *date, struct buf *out);
/* True for the shape of a txid or session token: exactly 32 chars of
 * [A-Za-z0-9+=-] (Q11: both become path components). */
bool auth_token_valid(const char *s, size_t len);
/* A fresh txid or session token: base64 of 24 random bytes, '/' -> '-'. */
void auth_new_token(char out[33]);
/* ms since the epoch as JavaScript's Date.prototype.toISOString():
 * "2026-11-23T02:42:00.578Z". */
void auth_iso_date(long long ms, char out[32]);
/* Deletes the challenges older than AUTH_CHALLENGE_TTL_MS at now_ms (files
 * and memory). auth_tick() calls it with the clock. */
void auth_expire(struct server *srv, long long now_ms);
/* Challenges waiting for their answer. */
size_t auth_pending(const struct server *srv);

#endif
