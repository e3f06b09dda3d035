/* admin.h: ADMIN commands, decrees (decree.ndjson, §4.9), the first-admin
 * install token, and eviction of inactive data (§2.10, §4.12).
 * RPC: admin_rpc_cmds (rpc_internal.h). */
#ifndef BP_ADMIN_H
#define BP_ADMIN_H

struct server;

/* Replays decree.ndjson over srv->settings; creates the install token when
 * there is no admin. Returns 0 or a bp_err. */
int admin_init(struct server *srv);
void admin_free(struct server *srv);
/* Runs scheduled work (task runner for EXPIRE tasks, daily eviction when on). */
void admin_tick(struct server *srv);

#endif
