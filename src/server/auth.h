/* auth.h: accounts' login blocks and the signed HTTP commands (SERVER-API.md
 * §3.4, §3.7, §4.5, §4.10, §6): GET /block/..., POST /api/auth (challenge and
 * response; WRITE_BLOCK, REMOVE_BLOCK, UPLOAD_COOKIE, MFA_CHECK, TOTP_*).
 * Files: block/<k[0:2]>/<k>, data/challenges, data/mfa, data/sessions, under
 * the data root. */
#ifndef BP_AUTH_H
#define BP_AUTH_H

#include <stdbool.h>

#include "server/net.h"

struct server;

int auth_init(struct server *srv);
void auth_free(struct server *srv);
/* Periodic cleanup (expired challenges and sessions); called by housekeeping. */
void auth_tick(struct server *srv);
/* HTTP: /block/... and /api/auth[/]. Returns true if handled (resp filled).
 * The router has already added the security headers. */
bool auth_http(struct server *srv, const struct http_req *req, struct http_resp *resp);
/* Archives a login block (admin ARCHIVE_BLOCK) / restores it. */
int auth_block_archive(struct server *srv, const char *block_key, const char *reason);
int auth_block_restore(struct server *srv, const char *block_key);

#endif
