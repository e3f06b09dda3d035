/* pins.h: per-user pin logs, quotas and limits (SERVER-API.md §2.3, §2.4, §4.6,
 * §5). pins/<safeKey[0:2]>/<safeKey>.ndjson under the data root.
 * RPC: pins_rpc_cmds (rpc_internal.h). */
#ifndef BP_PINS_H
#define BP_PINS_H

#include <stdbool.h>
#include <stdint.h>

struct server;

int pins_init(struct server *srv);
void pins_free(struct server *srv);
/* Drops cached pin sets idle for a while; called by housekeeping. */
void pins_tick(struct server *srv);
/* The storage key's usage in bytes (GET_TOTAL_SIZE, §5), shared quotas included. */
int pins_usage(struct server *srv, const char *key, uint64_t *bytes);
/* Free space: limit - usage (0 if over). */
int pins_free_space(struct server *srv, const char *key, uint64_t *bytes);

#endif
