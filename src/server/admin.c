/* admin.c: ADMIN commands, decrees, eviction (see admin.h).
 * STUB: the admin work replaces this. */
#include "server/admin.h"

#include "server/rpc_internal.h"
#include "server/server.h"

const struct rpc_cmd admin_rpc_cmds[] = {{NULL, NULL, RPC_ANON}};

int admin_init(struct server *srv) { return 0; }
void admin_free(struct server *srv) {}
void admin_tick(struct server *srv) {}
