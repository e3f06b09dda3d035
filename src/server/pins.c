/* pins.c: pin logs, quotas and limits (see pins.h).
 * STUB: the pins work replaces this. */
#include "server/pins.h"

#include "common/err.h"
#include "server/rpc_internal.h"
#include "server/server.h"

const struct rpc_cmd pins_rpc_cmds[] = {{NULL, NULL, RPC_ANON}};

int pins_init(struct server *srv) { return 0; }
void pins_free(struct server *srv) {}
void pins_tick(struct server *srv) {}
int pins_usage(struct server *srv, const char *key, uint64_t *bytes)
{
    *bytes = 0;
    return 0;
}
int pins_free_space(struct server *srv, const char *key, uint64_t *bytes)
{
    *bytes = srv->settings.default_limit;
    return 0;
}
