/* auth.c: login blocks and /api/auth (see auth.h).
 * STUB: the accounts work replaces this. */
#include "server/auth.h"

#include "common/err.h"
#include "server/server.h"

int auth_init(struct server *srv) { return 0; }
void auth_free(struct server *srv) {}
void auth_tick(struct server *srv) {}
bool auth_http(struct server *srv, const struct http_req *req, struct http_resp *resp) { return false; }
int auth_block_archive(struct server *srv, const char *block_key, const char *reason) { return BP_ENOENT; }
int auth_block_restore(struct server *srv, const char *block_key) { return BP_ENOENT; }
